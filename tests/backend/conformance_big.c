/*
 * Conformance suite, a big object with bounded memory: 1 GiB (TESS_TEST_BIG_MB
 * overrides) streamed through a writer in 1 MiB pieces of a deterministic
 * pattern, committed, and read back in 8 MiB ranged gets that check every
 * byte, while the heap in use must not grow by more than 64 MiB.  The bound
 * is checked for backends whose objects live outside the process (TESS_CAP_LOCAL
 * or TESS_CAP_MULTIPROCESS: file, lmdb, s3); an in-process store (mem)
 * necessarily holds the object in memory.
 *
 * Heap in use is mallinfo2()'s uordblks + hblkhd, or under AddressSanitizer
 * (whose allocator mallinfo2 does not see) the sanitizer's count of allocated
 * bytes.  It is sampled after every call and by a thread every few ms, so a
 * backend that buffers the whole object inside one call is caught as well.
 */
#include "conformance.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__SANITIZE_ADDRESS__) || defined(TESS_SANITIZED)
#define CONF_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CONF_ASAN 1
#endif
#endif

#ifdef CONF_ASAN
#if defined(__has_include)
#if __has_include(<sanitizer/allocator_interface.h>)
#include <sanitizer/allocator_interface.h>
#define CONF_HAVE_ALLOCATOR_INTERFACE 1
#endif
#endif
#ifndef CONF_HAVE_ALLOCATOR_INTERFACE
/* GCC ships the function in libasan but not this header. */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif
#else
#include <malloc.h>
#endif

#define MIB ((size_t)1 << 20)
#define WRITE_PIECE MIB
#define READ_CHUNK (8 * MIB)
#define HEAP_BOUND (64 * MIB)
#define DEFAULT_BIG_MB 1024

static size_t heap_in_use(void)
{
#ifdef CONF_ASAN
	return __sanitizer_get_current_allocated_bytes();
#else
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
#endif
}

/* ---- the heap watcher ------------------------------------------------------- */

struct heap_watch {
	pthread_t thread;
	atomic_int stop;
	size_t base;
	atomic_size_t peak;
};

static void heap_note(struct heap_watch *hw)
{
	size_t now = heap_in_use();
	size_t peak = atomic_load(&hw->peak);
	while (now > peak && !atomic_compare_exchange_weak(&hw->peak, &peak, now))
		;
}

static void *heap_watch_main(void *arg)
{
	struct heap_watch *hw = arg;
	const struct timespec interval = {0, 3 * 1000 * 1000};
	while (!atomic_load(&hw->stop)) {
		heap_note(hw);
		nanosleep(&interval, NULL);
	}
	return NULL;
}

static void heap_watch_start(struct heap_watch *hw)
{
	hw->base = heap_in_use();
	atomic_init(&hw->peak, hw->base);
	atomic_init(&hw->stop, 0);
	assert_int_equal(pthread_create(&hw->thread, NULL, heap_watch_main, hw), 0);
}

/* Growth of the heap above the start, at its peak. */
static size_t heap_watch_stop(struct heap_watch *hw)
{
	atomic_store(&hw->stop, 1);
	pthread_join(hw->thread, NULL);
	heap_note(hw);
	size_t peak = atomic_load(&hw->peak);
	return peak > hw->base ? peak - hw->base : 0;
}

/* ---- the pattern ------------------------------------------------------------------ */

static uint64_t pattern_word(uint64_t index)
{
	uint64_t x = (index + 1) * UINT64_C(0x9E3779B97F4A7C15);
	return x ^ (x >> 31);
}

/* Bytes [offset, offset+len) of the big object; offset and len are multiples of 8. */
static void fill_pattern(uint8_t *buf, uint64_t offset, size_t len)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t word = pattern_word((offset + i) / 8);
		memcpy(buf + i, &word, 8);
	}
}

static uint64_t big_size(void)
{
	const char *env = getenv("TESS_TEST_BIG_MB");
	uint64_t mb = env && *env ? strtoull(env, NULL, 10) : DEFAULT_BIG_MB;
	return (mb ? mb : 1) * MIB;
}

static double seconds_since(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static void big_write(struct conf *c, const char *key, uint64_t size, uint8_t *piece,
                      struct heap_watch *hw)
{
	tess_writer *w = NULL;
	conf_ok(c->ops->writer_open(c->be, &w, key, TESS_SIZE_UNKNOWN, 0));
	for (uint64_t at = 0; at < size; at += WRITE_PIECE) {
		fill_pattern(piece, at, WRITE_PIECE);
		int rc = c->ops->writer_write(w, piece, WRITE_PIECE);
		if (rc) {
			c->ops->writer_abort(w);
			fail_msg("writer_write '%s' at %" PRIu64 ": %d (%s): %s", key, at, rc,
			         tess_strerror(rc), tess_errmsg());
		}
		heap_note(hw);
	}
	conf_ok(c->ops->writer_commit(w));
	heap_note(hw);
}

/* Check one chunk read at `offset` against the pattern, a MiB at a time. */
static void big_verify_chunk(const char *key, const tess_buf *out, uint64_t offset,
                             uint8_t *piece)
{
	for (size_t at = 0; at < out->len; at += WRITE_PIECE) {
		size_t n = out->len - at < WRITE_PIECE ? out->len - at : WRITE_PIECE;
		fill_pattern(piece, offset + at, n);
		if (memcmp(out->data + at, piece, n) == 0)
			continue;
		size_t bad = 0;
		while (out->data[at + bad] == piece[bad])
			bad++;
		fail_msg("'%s': byte %" PRIu64 " is 0x%02x, expected 0x%02x", key,
		         offset + at + bad, out->data[at + bad], piece[bad]);
	}
}

static void big_read(struct conf *c, const char *key, uint64_t size, uint8_t *piece,
                     struct heap_watch *hw)
{
	tess_buf out = {0};
	conf_ok(tess_buf_reserve(&out, READ_CHUNK));
	for (uint64_t at = 0; at < size; at += READ_CHUNK) {
		out.len = 0;
		int rc = c->ops->get(c->be, key, at, READ_CHUNK, &out);
		if (rc)
			fail_msg("get '%s' [%" PRIu64 ", +%zu): %d (%s): %s", key, at, READ_CHUNK, rc,
			         tess_strerror(rc), tess_errmsg());
		heap_note(hw);
		uint64_t want = size - at < READ_CHUNK ? size - at : READ_CHUNK;
		if (out.len != want)
			fail_msg("get '%s' [%" PRIu64 ", +%zu): %zu bytes, expected %" PRIu64, key, at,
			         READ_CHUNK, out.len, want);
		big_verify_chunk(key, &out, at, piece);
	}
	/* the tail, cut at the end, and the end itself */
	out.len = 0;
	conf_ok(c->ops->get(c->be, key, size - 100, 1000, &out));
	assert_int_equal(out.len, 100);
	out.len = 0;
	conf_ok(c->ops->get(c->be, key, size, UINT64_MAX, &out));
	assert_int_equal(out.len, 0);
	conf_err(c->ops->get(c->be, key, size + 1, 1, &out), TESS_ERANGE, key);
	tess_buf_free(&out);
}

static void test_big_object(void **state)
{
	struct conf *c = *state;
	const char *key = "big/object.bin";
	uint64_t size = big_size();
	int bounded = (c->ops->caps & (TESS_CAP_LOCAL | TESS_CAP_MULTIPROCESS)) != 0;
	if (!bounded)
		print_message("[  NOTE    ] heap bound not checked: the backend keeps "
		              "objects in this process's memory\n");
	uint8_t *piece = malloc(WRITE_PIECE);
	assert_non_null(piece);
	struct heap_watch hw;
	heap_watch_start(&hw);

	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	big_write(c, key, size, piece, &hw);
	double write_s = seconds_since(&start);
	tess_stat st;
	conf_ok(c->ops->stat(c->be, key, &st));
	assert_int_equal(st.size, size);
	clock_gettime(CLOCK_MONOTONIC, &start);
	big_read(c, key, size, piece, &hw);
	double read_s = seconds_since(&start);

	size_t growth = heap_watch_stop(&hw);
	print_message("[  INFO    ] %" PRIu64 " MiB: written in %.1f s, read in %.1f s, "
	              "heap grew by %.1f MiB at most (%s)\n", size / MIB, write_s, read_s,
	              (double)growth / (double)MIB,
#ifdef CONF_ASAN
	              "sanitizer allocator"
#else
	              "mallinfo2"
#endif
	);
	if (bounded && growth > HEAP_BOUND)
		fail_msg("heap grew by %zu bytes while streaming a %" PRIu64 "-byte object; "
		         "the bound is %zu", growth, size, HEAP_BOUND);
	conf_ok(c->ops->del(c->be, key));
	free(piece);
}

int conf_run_big(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_big_object, conf_setup, conf_teardown),
	};
	return cmocka_run_group_tests_name("big", tests, NULL, NULL);
}
