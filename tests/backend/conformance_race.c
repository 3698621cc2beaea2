/*
 * Conformance suite, concurrency.  Racers are processes when the backend is
 * TESS_CAP_MULTIPROCESS (each opens its own instance after fork) and threads
 * sharing the test's instance otherwise.  Racers never call cmocka: they
 * record results in shared memory that the test checks afterwards.
 *
 * - put-if-absent raced by 8 racers on each of 50 keys: one winner per key,
 *   and the stored value is the winner's;
 * - 4 racers writing 200 different keys each at once: all 800 land intact;
 * - 4 racers overwriting one key (by put and by writer) while a reader
 *   checks every read is one whole value: never a mix.
 */
#include "conformance.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_RACERS 16
#define RACER_ALARM_S 120 /* a racer process stuck this long kills itself */

/* First member of every shared-results struct. */
struct race_common {
	pthread_barrier_t barrier;
	int open_rc[MAX_RACERS];
};

typedef void (*racer_fn)(const tess_backend_ops *ops, tess_backend *be, int id,
                         void *shared);

static void *shared_new(size_t size, unsigned racers)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	memset(p, 0, size);
	struct race_common *common = p;
	pthread_barrierattr_t attr;
	pthread_barrierattr_init(&attr);
	pthread_barrierattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	assert_int_equal(pthread_barrier_init(&common->barrier, &attr, racers), 0);
	pthread_barrierattr_destroy(&attr);
	return p;
}

static void shared_free(void *p, size_t size)
{
	pthread_barrier_destroy(&((struct race_common *)p)->barrier);
	munmap(p, size);
}

struct racer_thread {
	struct conf *c;
	racer_fn fn;
	int id;
	void *shared;
};

static void *racer_thread_main(void *arg)
{
	struct racer_thread *t = arg;
	t->fn(t->c->ops, t->c->be, t->id, t->shared);
	return NULL;
}

/* A racer process: its own instance, opened after fork.  If the open fails
 * the racer still runs (with be == NULL) so the others' barriers complete. */
static void racer_process_main(struct conf *c, racer_fn fn, int id, void *shared)
{
	alarm(RACER_ALARM_S);
	struct race_common *common = shared;
	tess_backend *be = NULL;
	common->open_rc[id] = conf_open_again(c, &be);
	if (common->open_rc[id])
		be = NULL;
	fn(c->ops, be, id, shared);
	c->ops->close(be);
	_exit(0);
}

enum race_mode {
	RACE_BY_CAPS,    /* processes when TESS_CAP_MULTIPROCESS, else threads */
	RACE_IN_THREADS, /* threads sharing one instance, for every backend */
};

/* Run fn(id) for id in [0, n) all at once and wait for them. */
static void run_racers(struct conf *c, enum race_mode mode, int n, racer_fn fn, void *shared)
{
	assert_true(n <= MAX_RACERS);
	struct race_common *common = shared;
	if (mode == RACE_IN_THREADS || !(c->ops->caps & TESS_CAP_MULTIPROCESS)) {
		pthread_t threads[MAX_RACERS];
		struct racer_thread args[MAX_RACERS];
		for (int i = 0; i < n; i++) {
			args[i] = (struct racer_thread){c, fn, i, shared};
			assert_int_equal(pthread_create(&threads[i], NULL, racer_thread_main, &args[i]), 0);
		}
		for (int i = 0; i < n; i++)
			pthread_join(threads[i], NULL);
		return;
	}
	pid_t pids[MAX_RACERS];
	fflush(stdout);
	fflush(stderr);
	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0)
			racer_process_main(c, fn, i, shared);
	}
	for (int i = 0; i < n; i++) {
		int status = 0;
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("racer process %d died (%s %d)", i,
			         WIFSIGNALED(status) ? "signal" : "exit status",
			         WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	}
	for (int i = 0; i < n; i++)
		if (common->open_rc[i])
			fail_msg("racer %d could not open '%s': %d (%s)", i, c->location,
			         common->open_rc[i], tess_strerror(common->open_rc[i]));
}

/* ---- put-if-absent raced ---------------------------------------------------- */

#define PIA_RACERS 8
#define PIA_KEYS 50

struct pia_shared {
	struct race_common common;
	int rc[PIA_KEYS][PIA_RACERS];
};

static void pia_key(char *buf, size_t size, int k)
{
	snprintf(buf, size, "race/pia/%02d", k);
}

/* Different racers write different lengths too, so a mix would show. */
static void pia_value(char *buf, size_t size, int id, int k)
{
	snprintf(buf, size, "racer %d won key %d%.*s", id, k, id * 3, "=========================");
}

static void pia_racer(const tess_backend_ops *ops, tess_backend *be, int id, void *shared)
{
	struct pia_shared *sh = shared;
	char key[32], value[64];
	for (int k = 0; k < PIA_KEYS; k++) {
		pia_key(key, sizeof key, k);
		pia_value(value, sizeof value, id, k);
		/* everyone starts each key together */
		pthread_barrier_wait(&sh->common.barrier);
		sh->rc[k][id] = be ? ops->put(be, key, value, strlen(value), TESS_PUT_IF_ABSENT)
		                   : TESS_EIO;
	}
}

static void race_put_if_absent(struct conf *c, enum race_mode mode)
{
	struct pia_shared *sh = shared_new(sizeof *sh, PIA_RACERS);
	run_racers(c, mode, PIA_RACERS, pia_racer, sh);
	char key[32], value[64];
	for (int k = 0; k < PIA_KEYS; k++) {
		int winner = -1, winners = 0;
		for (int id = 0; id < PIA_RACERS; id++) {
			int rc = sh->rc[k][id];
			if (rc == 0) {
				winner = id;
				winners++;
			} else if (rc != TESS_EEXISTS) {
				fail_msg("key %d, racer %d: put-if-absent gave %d (%s), expected 0 or "
				         "%d", k, id, rc, tess_strerror(rc), TESS_EEXISTS);
			}
		}
		if (winners != 1)
			fail_msg("key %d: %d racers won put-if-absent, expected exactly 1", k, winners);
		pia_key(key, sizeof key, k);
		pia_value(value, sizeof value, winner, k);
		conf_expect_str(c, key, value);
	}
	shared_free(sh, sizeof *sh);
}

static void test_race_put_if_absent(void **state)
{
	race_put_if_absent(*state, RACE_BY_CAPS);
}

/* Threads sharing one instance must be safe for every backend. */
static void test_race_put_if_absent_threads(void **state)
{
	race_put_if_absent(*state, RACE_IN_THREADS);
}

/* ---- many writers, different keys --------------------------------------------- */

#define PAR_RACERS 4
#define PAR_KEYS 200

struct par_shared {
	struct race_common common;
	int rc[PAR_RACERS][PAR_KEYS];
};

static size_t par_value(uint8_t *buf, int id, int i)
{
	size_t len = 1 + (size_t)((id * PAR_KEYS + i) * 37) % 3000;
	for (size_t j = 0; j < len; j++)
		buf[j] = (uint8_t)(id * 59 + i * 13 + (int)j);
	return len;
}

static void par_racer(const tess_backend_ops *ops, tess_backend *be, int id, void *shared)
{
	struct par_shared *sh = shared;
	uint8_t value[3001];
	char key[32];
	pthread_barrier_wait(&sh->common.barrier);
	for (int i = 0; i < PAR_KEYS; i++) {
		snprintf(key, sizeof key, "race/par/%d/%03d", id, i);
		size_t len = par_value(value, id, i);
		sh->rc[id][i] = be ? ops->put(be, key, value, len, 0) : TESS_EIO;
	}
}

static void test_race_many_writers(void **state)
{
	struct conf *c = *state;
	struct par_shared *sh = shared_new(sizeof *sh, PAR_RACERS);
	run_racers(c, RACE_BY_CAPS, PAR_RACERS, par_racer, sh);
	uint8_t value[3001];
	char key[32];
	for (int id = 0; id < PAR_RACERS; id++)
		for (int i = 0; i < PAR_KEYS; i++) {
			snprintf(key, sizeof key, "race/par/%d/%03d", id, i);
			if (sh->rc[id][i])
				fail_msg("racer %d: put '%s': %d (%s)", id, key, sh->rc[id][i],
				         tess_strerror(sh->rc[id][i]));
			conf_expect_value(c, key, value, par_value(value, id, i));
		}
	struct conf_entries got = {0};
	conf_ok(conf_list_all(c, "race/par/", NULL, NULL, 1000, &got));
	assert_int_equal(got.n, PAR_RACERS * PAR_KEYS);
	conf_entries_free(&got);
	shared_free(sh, sizeof *sh);
}

/* ---- overwrite race on one key -------------------------------------------------- */

#define OW_WRITERS 4
#define OW_ROUNDS 25
#define OW_KEY "race/overwrite"
#define OW_INITIAL_ID 99
#define OW_MAX_LEN (100000 + 99 * 1009 + OW_ROUNDS * 13)
#define OW_PIECE 7000 /* writer rounds stream in pieces of this size */

struct ow_shared {
	struct race_common common;
	atomic_int writers_done;
	int write_rc[OW_WRITERS][OW_ROUNDS];
	long reads, torn, read_errors;
	char first_problem[256];
};

/* A self-describing value: 8-byte header (writer, round), then a pattern
 * both determine; the length depends on both as well. */
static size_t ow_value(uint8_t *buf, uint32_t id, uint32_t round)
{
	size_t len = 100000 + id * 1009 + round * 13;
	memcpy(buf, &id, 4);
	memcpy(buf + 4, &round, 4);
	for (size_t j = 8; j < len; j++)
		buf[j] = (uint8_t)(id * 31 + round * 7 + j);
	return len;
}

/* 1 when data is exactly one value some writer wrote. */
static int ow_is_whole(const uint8_t *data, size_t len, uint8_t *scratch)
{
	if (len < 8)
		return 0;
	uint32_t id, round;
	memcpy(&id, data, 4);
	memcpy(&round, data + 4, 4);
	if (!(id < OW_WRITERS && round < OW_ROUNDS) && !(id == OW_INITIAL_ID && round == 0))
		return 0;
	size_t want = ow_value(scratch, id, round);
	return want == len && memcmp(scratch, data, len) == 0;
}

static int ow_write(const tess_backend_ops *ops, tess_backend *be, const uint8_t *value,
                    size_t len, int streamed)
{
	if (!streamed)
		return ops->put(be, OW_KEY, value, len, 0);
	tess_writer *w = NULL;
	int rc = ops->writer_open(be, &w, OW_KEY, TESS_SIZE_UNKNOWN, 0);
	for (size_t at = 0; rc == 0 && at < len; at += OW_PIECE)
		rc = ops->writer_write(w, value + at, len - at < OW_PIECE ? len - at : OW_PIECE);
	if (w && rc) {
		ops->writer_abort(w);
		return rc;
	}
	return rc ? rc : ops->writer_commit(w);
}

static void ow_writer(const tess_backend_ops *ops, tess_backend *be, int id,
                      struct ow_shared *sh)
{
	uint8_t *value = malloc(OW_MAX_LEN);
	pthread_barrier_wait(&sh->common.barrier);
	for (int round = 0; round < OW_ROUNDS; round++) {
		size_t len = ow_value(value, (uint32_t)id, (uint32_t)round);
		sh->write_rc[id][round] = !value ? TESS_ENOMEM
		                          : !be  ? TESS_EIO
		                                 : ow_write(ops, be, value, len, (id + round) % 2);
	}
	free(value);
	atomic_fetch_add(&sh->writers_done, 1);
}

static void ow_reader(const tess_backend_ops *ops, tess_backend *be, struct ow_shared *sh)
{
	uint8_t *scratch = malloc(OW_MAX_LEN);
	tess_buf out = {0};
	pthread_barrier_wait(&sh->common.barrier);
	while (be && scratch && atomic_load(&sh->writers_done) < OW_WRITERS) {
		out.len = 0;
		int rc = ops->get(be, OW_KEY, 0, UINT64_MAX, &out);
		sh->reads++;
		if (rc) {
			if (!sh->read_errors++ && !sh->first_problem[0])
				snprintf(sh->first_problem, sizeof sh->first_problem,
				         "get: %d (%s): %s", rc, tess_strerror(rc), tess_errmsg());
		} else if (!ow_is_whole(out.data, out.len, scratch)) {
			if (!sh->torn++ && !sh->first_problem[0])
				snprintf(sh->first_problem, sizeof sh->first_problem,
				         "read %zu bytes that are no single written value", out.len);
		}
	}
	tess_buf_free(&out);
	free(scratch);
}

static void ow_racer(const tess_backend_ops *ops, tess_backend *be, int id, void *shared)
{
	if (id < OW_WRITERS)
		ow_writer(ops, be, id, shared);
	else
		ow_reader(ops, be, shared);
}

static void test_race_overwrite(void **state)
{
	struct conf *c = *state;
	uint8_t *value = malloc(OW_MAX_LEN);
	assert_non_null(value);
	conf_put(c, OW_KEY, value, ow_value(value, OW_INITIAL_ID, 0));
	struct ow_shared *sh = shared_new(sizeof *sh, OW_WRITERS + 1);
	run_racers(c, RACE_BY_CAPS, OW_WRITERS + 1, ow_racer, sh);
	for (int id = 0; id < OW_WRITERS; id++)
		for (int round = 0; round < OW_ROUNDS; round++)
			if (sh->write_rc[id][round])
				fail_msg("writer %d round %d: %d (%s)", id, round, sh->write_rc[id][round],
				         tess_strerror(sh->write_rc[id][round]));
	if (sh->torn || sh->read_errors)
		fail_msg("%ld of %ld concurrent reads were torn, %ld failed; first: %s", sh->torn,
		         sh->reads, sh->read_errors, sh->first_problem);
	tess_buf out = {0};
	conf_ok(c->ops->get(c->be, OW_KEY, 0, UINT64_MAX, &out));
	if (!ow_is_whole(out.data, out.len, value))
		fail_msg("after the race '%s' holds %zu bytes that are no single written value",
		         OW_KEY, out.len);
	uint32_t id;
	memcpy(&id, out.data, 4);
	if (id == OW_INITIAL_ID)
		fail_msg("after the race '%s' still holds the initial value", OW_KEY);
	print_message("[  INFO    ] overwrite race: %ld concurrent reads, all whole\n", sh->reads);
	tess_buf_free(&out);
	free(value);
	shared_free(sh, sizeof *sh);
}

int conf_run_concurrency(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_race_put_if_absent, conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(test_race_put_if_absent_threads, conf_setup,
		                                conf_teardown),
		cmocka_unit_test_setup_teardown(test_race_many_writers, conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(test_race_overwrite, conf_setup, conf_teardown),
	};
	return cmocka_run_group_tests_name("concurrency", tests, NULL, NULL);
}
