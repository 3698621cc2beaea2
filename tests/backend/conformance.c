/*
 * Backend conformance suite, entry point and the single-object cases:
 * round trips, ranges, empty objects, odd keys, stat, delete, hierarchy,
 * put-if-absent and the streaming writer.
 *
 *     conformance SCHEME      (file, mem, lmdb, ...)
 */
#include "conformance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *conf_scheme;

/* Append a range of `key` to a buffer that already holds "pre". */
static int get_range(struct conf *c, const char *key, uint64_t offset, uint64_t length,
                     tess_buf *out)
{
	tess_buf_free(out);
	conf_ok(tess_buf_append(out, "pre", 3));
	return c->ops->get(c->be, key, offset, length, out);
}

/* After get_range: the bytes appended after "pre" are `expect`. */
static void expect_range(tess_buf *out, const char *expect)
{
	size_t len = strlen(expect);
	assert_true(out->len >= 3);
	assert_memory_equal(out->data, "pre", 3);
	if (out->len - 3 != len || memcmp(out->data + 3, expect, len) != 0)
		fail_msg("range gave %zu bytes \"%.*s\", expected \"%s\"", out->len - 3,
		         (int)(out->len - 3), (const char *)out->data + 3, expect);
}

static void test_close_null(void **state)
{
	struct conf *c = *state;
	c->ops->close(NULL);
}

static void test_abi(void **state)
{
	struct conf *c = *state;
	assert_int_equal(c->ops->abi, TESS_BACKEND_ABI);
	assert_string_equal(c->ops->scheme, conf_scheme);
	assert_ptr_equal(c->be->ops, c->ops);
	assert_non_null(c->ops->get);
	assert_non_null(c->ops->put);
	assert_non_null(c->ops->writer_open);
	assert_non_null(c->ops->writer_write);
	assert_non_null(c->ops->writer_commit);
	assert_non_null(c->ops->writer_abort);
	assert_non_null(c->ops->stat);
	assert_non_null(c->ops->del);
	assert_non_null(c->ops->list);
}

static void test_open_missing_location(void **state)
{
	struct conf *c = *state;
	char *root = NULL;
	char *location = conf_location_new(c->ops, &root);
	assert_non_null(location);
	tess_backend *be = NULL;
	int rc = c->ops->open(&be, location, NULL, 0);
	if (rc == 0)
		c->ops->close(be);
	conf_err(rc, TESS_ENOTFOUND, location);
	if (root) {
		conf_remove_tree(root);
		free(root);
	}
	free(location);
}

static void test_fresh_store_is_empty(void **state)
{
	struct conf *c = *state;
	conf_expect_empty_store(c);
	conf_expect_missing(c, "anything");
}

static void test_put_get_round_trip(void **state)
{
	struct conf *c = *state;
	uint8_t binary[512];
	for (size_t i = 0; i < sizeof binary; i++)
		binary[i] = (uint8_t)(i * 7 + 3);
	binary[0] = 0;
	conf_put(c, "bin", binary, sizeof binary);
	conf_put_str(c, "x/y/z", "nested value");
	conf_put_str(c, "hello", "world");
	conf_expect_value(c, "bin", binary, sizeof binary);
	conf_expect_str(c, "x/y/z", "nested value");
	conf_expect_str(c, "hello", "world");

	/* get appends to what the buffer already holds */
	tess_buf out = {0};
	conf_ok(get_range(c, "hello", 0, UINT64_MAX, &out));
	expect_range(&out, "world");
	tess_buf_free(&out);
}

static void test_overwrite_replaces(void **state)
{
	struct conf *c = *state;
	conf_put_str(c, "k", "a rather long first value");
	conf_put_str(c, "k", "short");
	conf_expect_str(c, "k", "short");
	conf_put_str(c, "k", "and now a longer value than both before");
	conf_expect_str(c, "k", "and now a longer value than both before");
	tess_stat st;
	conf_ok(c->ops->stat(c->be, "k", &st));
	assert_int_equal(st.size, strlen("and now a longer value than both before"));
}

static void test_get_missing(void **state)
{
	struct conf *c = *state;
	conf_expect_missing(c, "no/such/key.bin");
	/* a prefix of stored keys is not an object */
	conf_put_str(c, "dir/obj", "v");
	conf_expect_missing(c, "dir");
	conf_expect_missing(c, "dir/ob");
	conf_expect_missing(c, "dir/obj/deeper");
	tess_buf out = {0};
	conf_err(c->ops->get(c->be, "no/such/key.bin", 5, 1, &out), TESS_ENOTFOUND,
	         "no/such/key.bin");
	tess_buf_free(&out);
}

static void test_ranges(void **state)
{
	struct conf *c = *state;
	const char *key = "r/digits";
	conf_put_str(c, key, "0123456789");
	static const struct {
		uint64_t offset, length;
		const char *expect;
	} cases[] = {
		{0, 0, ""},          {0, 4, "0123"},       {3, 4, "3456"},
		{8, 100, "89"},      {9, 1, "9"},          {10, 0, ""},
		{10, 5, ""},         {10, UINT64_MAX, ""}, {0, UINT64_MAX, "0123456789"},
		{5, UINT64_MAX, "56789"}, {9, UINT64_MAX, "9"}, {0, 10, "0123456789"},
		{0, 11, "0123456789"},    {5, 0, ""},
	};
	tess_buf out = {0};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int rc = get_range(c, key, cases[i].offset, cases[i].length, &out);
		if (rc)
			fail_msg("get '%s' [%llu, +%llu): %d (%s): %s", key,
			         (unsigned long long)cases[i].offset,
			         (unsigned long long)cases[i].length, rc, tess_strerror(rc),
			         tess_errmsg());
		expect_range(&out, cases[i].expect);
	}
	static const uint64_t past_end[] = {11, 12, 1000, UINT64_MAX};
	for (size_t i = 0; i < sizeof past_end / sizeof past_end[0]; i++) {
		conf_err(get_range(c, key, past_end[i], 1, &out), TESS_ERANGE, key);
		conf_err(get_range(c, key, past_end[i], UINT64_MAX, &out), TESS_ERANGE, key);
		conf_err(get_range(c, key, past_end[i], 0, &out), TESS_ERANGE, key);
	}
	tess_buf_free(&out);
}

static void test_empty_object(void **state)
{
	struct conf *c = *state;
	conf_put(c, "e/empty", "", 0);
	conf_ok(conf_write_stream(c, "e/streamed-empty", "", 0, 0));
	static const char *const keys[] = {"e/empty", "e/streamed-empty"};
	tess_buf out = {0};
	for (size_t i = 0; i < 2; i++) {
		tess_stat st;
		conf_ok(c->ops->stat(c->be, keys[i], &st));
		assert_int_equal(st.size, 0);
		assert_true(conf_mtime_plausible(st.mtime_ns));
		conf_expect_value(c, keys[i], "", 0);
		conf_ok(get_range(c, keys[i], 0, 0, &out));
		expect_range(&out, "");
		conf_ok(get_range(c, keys[i], 0, 100, &out));
		expect_range(&out, "");
		conf_err(get_range(c, keys[i], 1, 0, &out), TESS_ERANGE, keys[i]);
		conf_err(get_range(c, keys[i], 1, UINT64_MAX, &out), TESS_ERANGE, keys[i]);
	}
	tess_buf_free(&out);
	struct conf_entries got = {0};
	conf_ok(conf_list_all(c, "e/", NULL, NULL, 1000, &got));
	assert_int_equal(got.n, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_string_equal(got.v[i].name, keys[i]);
		assert_false(got.v[i].is_prefix);
		assert_int_equal(got.v[i].size, 0);
	}
	conf_entries_free(&got);
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Put every key with "v:"+key, read each back, and list them all in byte order. */
static void round_trip_and_list(struct conf *c, const char **keys, size_t n)
{
	char value[1100];
	for (size_t i = 0; i < n; i++) {
		snprintf(value, sizeof value, "v:%s", keys[i]);
		conf_put_str(c, keys[i], value);
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(value, sizeof value, "v:%s", keys[i]);
		conf_expect_str(c, keys[i], value);
	}
	qsort(keys, n, sizeof *keys, compare_strings);
	struct conf_entries got = {0};
	conf_ok(conf_list_all(c, "", NULL, NULL, 1000, &got));
	if (got.n != n)
		fail_msg("listing has %zu keys, %zu were put", got.n, n);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(got.v[i].name, keys[i]) != 0)
			fail_msg("listing entry %zu is '%s', expected '%s'", i, got.v[i].name,
			         keys[i]);
		assert_int_equal(got.v[i].size, strlen(keys[i]) + 2);
	}
	conf_entries_free(&got);
}

static void test_unicode_keys(void **state)
{
	const char *keys[] = {
		"données/événement-π/日本.bin",
		"données/evenement",
		"emoji/😀.bin",
		"emoji/👩‍💻/café",
		"emoji/z",
		"zh/中文/数据",
		"ascii/x",
		"Ω",
		"~tilde",
		"nfc/caf\xc3\xa9",  /* "café" composed ... */
		"nfc/cafe\xcc\x81", /* ... and decomposed: two different keys */
	};
	round_trip_and_list(*state, keys, sizeof keys / sizeof keys[0]);
}

static void test_odd_but_valid_keys(void **state)
{
	const char *keys[] = {
		".zattrs",          "g/.zgroup",      "g/.zarray",       "g/a..b",
		"g/..hidden",       "g/x.",           "g/...",           "odd/sp ace",
		"odd/per%cent",     "odd/per%2Fcent", "odd/q?uery#frag", "odd/col:on",
		"odd/star*",        "odd/quote\"'",   "odd/tmp.tmp",     "odd/-dash",
		"odd/UPPER",        "odd/upper",      "odd/0",           "odd/x~",
	};
	round_trip_and_list(*state, keys, sizeof keys / sizeof keys[0]);
}

static void test_stat(void **state)
{
	struct conf *c = *state;
	const char *key = "s/obj";
	conf_put_str(c, key, "12345678");
	tess_stat first, second, third;
	conf_ok(c->ops->stat(c->be, key, &first));
	assert_int_equal(first.size, 8);
	assert_non_null(memchr(first.etag, '\0', sizeof first.etag));
	assert_true(first.etag[0] != '\0');
	if (!conf_mtime_plausible(first.mtime_ns))
		fail_msg("stat '%s': mtime %lld is not plausible", key, (long long)first.mtime_ns);
	/* a version tag: stable while nothing is written */
	conf_ok(c->ops->stat(c->be, key, &second));
	assert_string_equal(second.etag, first.etag);
	assert_int_equal(second.mtime_ns, first.mtime_ns);

	/* same size, different bytes: the etag must still change */
	conf_put_str(c, key, "abcdefgh");
	conf_ok(c->ops->stat(c->be, key, &second));
	assert_int_equal(second.size, 8);
	if (strcmp(first.etag, second.etag) == 0)
		fail_msg("etag '%s' did not change when '%s' was overwritten", first.etag, key);
	/* Putting identical bytes again may keep the etag (as S3's does): it
	 * names the content.  Writing another key must not change it. */
	conf_put_str(c, "s-other", "unrelated");
	conf_ok(c->ops->stat(c->be, key, &third));
	assert_string_equal(third.etag, second.etag);
	conf_put_str(c, key, "abcdefgh");
	conf_ok(c->ops->stat(c->be, key, &third));
	if (third.mtime_ns && first.mtime_ns && third.mtime_ns < first.mtime_ns)
		fail_msg("mtime went backwards: %lld then %lld", (long long)first.mtime_ns,
		         (long long)third.mtime_ns);

	conf_put_str(c, key, "longer than before");
	conf_ok(c->ops->stat(c->be, key, &third));
	assert_int_equal(third.size, strlen("longer than before"));

	struct conf_entries got = {0};
	conf_ok(conf_list_all(c, "s/", NULL, NULL, 10, &got));
	assert_int_equal(got.n, 1);
	assert_int_equal(got.v[0].size, strlen("longer than before"));
	conf_entries_free(&got);
}

static void test_delete(void **state)
{
	struct conf *c = *state;
	conf_put_str(c, "del/a", "1");
	conf_put_str(c, "del/b", "2");
	conf_ok(c->ops->del(c->be, "del/a"));
	conf_expect_missing(c, "del/a");
	conf_expect_str(c, "del/b", "2");
	conf_err(c->ops->del(c->be, "del/a"), TESS_ENOTFOUND, "del/a");
	conf_err(c->ops->del(c->be, "never/there"), TESS_ENOTFOUND, "never/there");
	conf_err(c->ops->del(c->be, "del"), TESS_ENOTFOUND, "del");
	conf_ok(c->ops->del(c->be, "del/b"));

	/* A deep key, deleted, leaves no empty "directories" behind: nothing is
	 * listed, and the names are free for objects again. */
	conf_put_str(c, "d/e/f", "deep");
	conf_ok(c->ops->del(c->be, "d/e/f"));
	conf_expect_empty_store(c);
	conf_put_str(c, "d/e", "now an object");
	conf_put_str(c, "d2", "x");
	conf_ok(c->ops->del(c->be, "d/e"));
	conf_put_str(c, "d", "also an object");
	conf_expect_str(c, "d", "also an object");

	/* put after delete works, and with IF_ABSENT too */
	conf_ok(c->ops->del(c->be, "d"));
	conf_ok(c->ops->put(c->be, "d", "again", 5, TESS_PUT_IF_ABSENT));
	conf_expect_str(c, "d", "again");
}

static void test_hierarchy(void **state)
{
	struct conf *c = *state;
	conf_put_str(c, "h/x", "child");
	if (c->ops->caps & TESS_CAP_HIERARCHICAL) {
		conf_err(c->ops->put(c->be, "h", "parent", 6, 0), TESS_ECONFLICT, "h");
		conf_err(c->ops->put(c->be, "h/x/y", "grandchild", 10, 0), TESS_ECONFLICT,
		         "h/x/y");
		int rc = conf_write_stream(c, "h", "parent", 6, 0);
		conf_err(rc, TESS_ECONFLICT, "h");
		conf_expect_missing(c, "h");
		conf_expect_missing(c, "h/x/y");
		conf_err(c->ops->del(c->be, "h"), TESS_ENOTFOUND, "h");
		conf_expect_str(c, "h/x", "child");
		struct conf_entries got = {0};
		conf_ok(conf_list_all(c, "", "/", NULL, 100, &got));
		assert_int_equal(got.n, 1);
		assert_string_equal(got.v[0].name, "h/");
		conf_entries_free(&got);
		return;
	}
	conf_put_str(c, "h", "parent");
	conf_put_str(c, "h/x/y", "grandchild");
	conf_expect_str(c, "h", "parent");
	conf_expect_str(c, "h/x", "child");
	conf_expect_str(c, "h/x/y", "grandchild");
	struct conf_entries got = {0};
	conf_ok(conf_list_all(c, "", "/", NULL, 100, &got));
	assert_int_equal(got.n, 2);
	assert_string_equal(got.v[0].name, "h");
	assert_false(got.v[0].is_prefix);
	assert_string_equal(got.v[1].name, "h/");
	assert_true(got.v[1].is_prefix);
	conf_entries_free(&got);
	conf_ok(c->ops->del(c->be, "h"));
	conf_expect_str(c, "h/x", "child");
}

static void test_put_if_absent(void **state)
{
	struct conf *c = *state;
	const char *key = "pia/k";
	conf_ok(c->ops->put(c->be, key, "first", 5, TESS_PUT_IF_ABSENT));
	conf_err(c->ops->put(c->be, key, "second", 6, TESS_PUT_IF_ABSENT), TESS_EEXISTS, key);
	conf_expect_str(c, key, "first");

	/* through a writer: decided at commit */
	conf_err(conf_write_stream(c, key, "third", 5, TESS_PUT_IF_ABSENT), TESS_EEXISTS, key);
	conf_expect_str(c, key, "first");
	conf_ok(conf_write_stream(c, "pia/new", "fresh", 5, TESS_PUT_IF_ABSENT));
	conf_expect_str(c, "pia/new", "fresh");

	/* the key appears between writer_open and commit */
	tess_writer *w = NULL;
	conf_ok(c->ops->writer_open(c->be, &w, "pia/late", TESS_SIZE_UNKNOWN, TESS_PUT_IF_ABSENT));
	conf_ok(c->ops->writer_write(w, "writer", 6));
	conf_put_str(c, "pia/late", "direct put");
	conf_err(c->ops->writer_commit(w), TESS_EEXISTS, "pia/late");
	conf_expect_str(c, "pia/late", "direct put");

	/* a plain put still overwrites */
	conf_put_str(c, key, "overwritten");
	conf_expect_str(c, key, "overwritten");

	struct conf_entries got = {0};
	conf_ok(conf_list_all(c, "", NULL, NULL, 100, &got));
	assert_int_equal(got.n, 3);
	conf_entries_free(&got);
}

static void test_writer_commit(void **state)
{
	struct conf *c = *state;
	tess_writer *w = NULL;
	conf_ok(c->ops->writer_open(c->be, &w, "w/obj", TESS_SIZE_UNKNOWN, 0));
	char expect[64 * 100 + 1] = "";
	for (int i = 0; i < 100; i++) {
		char piece[65];
		snprintf(piece, sizeof piece, "piece %03d %053d\n", i, i * 7919);
		assert_int_equal(strlen(piece), 64);
		conf_ok(c->ops->writer_write(w, piece, 64));
		strcat(expect, piece);
		if (i == 50) {
			conf_expect_missing(c, "w/obj");
			conf_expect_empty_store(c);
		}
	}
	conf_ok(c->ops->writer_write(w, "", 0));
	conf_expect_missing(c, "w/obj");
	conf_ok(c->ops->writer_commit(w));
	conf_expect_str(c, "w/obj", expect);

	/* replacing an existing object: the old one stays until commit */
	conf_ok(c->ops->writer_open(c->be, &w, "w/obj", TESS_SIZE_UNKNOWN, 0));
	conf_ok(c->ops->writer_write(w, "replacement", 11));
	conf_expect_str(c, "w/obj", expect);
	conf_ok(c->ops->writer_commit(w));
	conf_expect_str(c, "w/obj", "replacement");

	/* two writers on one key: the later commit wins, whole */
	tess_writer *w1 = NULL, *w2 = NULL;
	conf_ok(c->ops->writer_open(c->be, &w1, "w/two", TESS_SIZE_UNKNOWN, 0));
	conf_ok(c->ops->writer_open(c->be, &w2, "w/two", TESS_SIZE_UNKNOWN, 0));
	conf_ok(c->ops->writer_write(w1, "one-", 4));
	conf_ok(c->ops->writer_write(w2, "two-", 4));
	conf_ok(c->ops->writer_write(w1, "first", 5));
	conf_ok(c->ops->writer_write(w2, "second", 6));
	conf_ok(c->ops->writer_commit(w1));
	conf_expect_str(c, "w/two", "one-first");
	conf_ok(c->ops->writer_commit(w2));
	conf_expect_str(c, "w/two", "two-second");
}

static void test_writer_abort(void **state)
{
	struct conf *c = *state;
	tess_writer *w = NULL;

	/* abort without writing */
	conf_ok(c->ops->writer_open(c->be, &w, "a/none", TESS_SIZE_UNKNOWN, 0));
	c->ops->writer_abort(w);
	conf_expect_missing(c, "a/none");

	/* abort after writing, deep in a tree: no trace, not even a prefix */
	conf_ok(c->ops->writer_open(c->be, &w, "nest/deep/er/k", TESS_SIZE_UNKNOWN, 0));
	conf_ok(c->ops->writer_write(w, "partial data", 12));
	c->ops->writer_abort(w);
	conf_expect_missing(c, "nest/deep/er/k");
	conf_expect_empty_store(c);

	/* abort of a replacement keeps the old object */
	conf_put_str(c, "a/keep", "old value");
	conf_ok(c->ops->writer_open(c->be, &w, "a/keep", TESS_SIZE_UNKNOWN, 0));
	conf_ok(c->ops->writer_write(w, "new value that never lands", 26));
	c->ops->writer_abort(w);
	conf_expect_str(c, "a/keep", "old value");

	/* abort with IF_ABSENT */
	conf_ok(c->ops->writer_open(c->be, &w, "a/pia", TESS_SIZE_UNKNOWN, TESS_PUT_IF_ABSENT));
	conf_ok(c->ops->writer_write(w, "x", 1));
	c->ops->writer_abort(w);
	conf_expect_missing(c, "a/pia");

	struct conf_entries got = {0};
	conf_ok(conf_list_all(c, "", NULL, NULL, 100, &got));
	assert_int_equal(got.n, 1);
	assert_string_equal(got.v[0].name, "a/keep");
	conf_entries_free(&got);
	got = (struct conf_entries){0};
	conf_ok(conf_list_all(c, "", "/", NULL, 100, &got));
	assert_int_equal(got.n, 1);
	assert_string_equal(got.v[0].name, "a/");
	conf_entries_free(&got);
}

/* Put, read, stat, list, stream and delete one key. */
static void exercise_key(struct conf *c, const char *key)
{
	char value[1100];
	snprintf(value, sizeof value, "v:%s", key);
	conf_put_str(c, key, value);
	conf_expect_str(c, key, value);
	tess_stat st;
	conf_ok(c->ops->stat(c->be, key, &st));
	assert_int_equal(st.size, strlen(value));
	struct conf_entries got = {0};
	conf_ok(conf_list_all(c, "", NULL, NULL, 10, &got));
	assert_int_equal(got.n, 1);
	assert_string_equal(got.v[0].name, key);
	conf_entries_free(&got);
	conf_ok(conf_write_stream(c, key, "streamed", 8, 0));
	conf_expect_str(c, key, "streamed");
	tess_writer *w = NULL;
	conf_ok(c->ops->writer_open(c->be, &w, key, TESS_SIZE_UNKNOWN, 0));
	conf_ok(c->ops->writer_write(w, "aborted", 7));
	c->ops->writer_abort(w);
	conf_expect_str(c, key, "streamed");
	conf_ok(c->ops->del(c->be, key));
	conf_expect_missing(c, key);
	conf_expect_empty_store(c);
}

static void test_segment_max_keys(void **state)
{
	struct conf *c = *state;
	char key[TESS_KEY_MAX + 1];

	/* one segment of exactly TESS_KEY_SEGMENT_MAX ASCII bytes */
	strcpy(key, "seg/");
	memset(key + 4, 's', TESS_KEY_SEGMENT_MAX);
	key[4 + TESS_KEY_SEGMENT_MAX] = '\0';
	exercise_key(c, key);

	/* as the first segment, and as a directory */
	memset(key, 't', TESS_KEY_SEGMENT_MAX);
	strcpy(key + TESS_KEY_SEGMENT_MAX, "/leaf");
	exercise_key(c, key);

	/* 255 bytes made of two-byte characters ("é" x 127 + "x") */
	strcpy(key, "seg/");
	size_t at = 4;
	for (int i = 0; i < TESS_KEY_SEGMENT_MAX / 2; i++) {
		key[at++] = (char)0xC3;
		key[at++] = (char)0xA9;
	}
	key[at++] = 'x';
	key[at] = '\0';
	exercise_key(c, key);

	/* A key of exactly TESS_KEY_MAX bytes: 255,255,255,254,1.  A backend may
	 * refuse a key it cannot hold, with TESS_EINVAL. */
	at = 0;
	static const int segments[] = {255, 255, 255, 254, 1};
	for (size_t s = 0; s < 5; s++) {
		if (s)
			key[at++] = '/';
		memset(key + at, (int)('k' + s), (size_t)segments[s]);
		at += (size_t)segments[s];
	}
	key[at] = '\0';
	assert_int_equal(strlen(key), TESS_KEY_MAX);
	int rc = c->ops->put(c->be, key, "v", 1, 0);
	if (rc == TESS_EINVAL) {
		conf_err(rc, TESS_EINVAL, key);
		print_message("[  NOTE    ] backend refuses a %d-byte key: %s\n", TESS_KEY_MAX,
		              tess_errmsg());
		conf_expect_empty_store(c);
		return;
	}
	conf_ok(rc);
	conf_ok(c->ops->del(c->be, key));
	exercise_key(c, key);
}

static void test_reopen(void **state)
{
	struct conf *c = *state;
	conf_put_str(c, "p/k", "persisted");
	if (c->ops->caps & TESS_CAP_MULTIPROCESS) {
		/* a second instance on the same location sees the first's writes */
		tess_backend *other = NULL;
		conf_ok(conf_open_again(c, &other));
		tess_buf out = {0};
		conf_ok(c->ops->get(other, "p/k", 0, UINT64_MAX, &out));
		assert_int_equal(out.len, 9);
		assert_memory_equal(out.data, "persisted", 9);
		conf_ok(c->ops->put(other, "p/other", "from two", 8, 0));
		c->ops->close(other);
		tess_buf_free(&out);
		conf_expect_str(c, "p/other", "from two");
	}
	if (!(c->ops->caps & (TESS_CAP_LOCAL | TESS_CAP_MULTIPROCESS))) {
		/* an in-process store (mem) lives only while it is open */
		print_message("[  NOTE    ] persistence across close not checked: backend "
		              "is neither TESS_CAP_LOCAL nor TESS_CAP_MULTIPROCESS\n");
		return;
	}
	c->ops->close(c->be);
	c->be = NULL;
	conf_ok(conf_open_again(c, &c->be));
	conf_expect_str(c, "p/k", "persisted");
}

int conf_run_basic(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_close_null, conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(test_abi, conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(test_open_missing_location, conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(test_fresh_store_is_empty, conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(test_put_get_round_trip, conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(test_overwrite_replaces, conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(test_get_missing, conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(test_ranges, conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(test_empty_object, conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(test_unicode_keys, conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(test_odd_but_valid_keys, conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(test_stat, conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(test_delete, conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(test_hierarchy, conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(test_put_if_absent, conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(test_writer_commit, conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(test_writer_abort, conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(test_segment_max_keys, conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(test_reopen, conf_setup, conf_teardown),
	};
	return cmocka_run_group_tests_name("basic", tests, NULL, NULL);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s SCHEME   (file, mem, lmdb, ...)\n", argv[0]);
		return 2;
	}
	conf_scheme = argv[1];
	if (!tess_backend_find(conf_scheme)) {
		fprintf(stderr, "%s: no backend registered for scheme '%s'\n", argv[0], conf_scheme);
		return 1;
	}
	int failed = 0;
	failed += conf_run_basic();
	failed += conf_run_list();
	failed += conf_run_batch();
	failed += conf_run_concurrency();
	failed += conf_run_big();
	return failed ? 1 : 0;
}
