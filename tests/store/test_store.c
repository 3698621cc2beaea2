/* Store, blob and attribute API, run once per backend: test_store SCHEME. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tessera.h"
#include "tessera/array.h"
#include "testutil.h"

static const char *scheme;

typedef struct fixture {
	char *url;
	char *dir;
	tess_store *st;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	f->url = tu_store_url(scheme, &f->dir);
	if (tess_store_init(&f->st, f->url, NULL) != 0) {
		fprintf(stderr, "init %s: %s\n", f->url, tess_errmsg());
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	tess_store_close(f->st);
	tu_rmrf(f->dir);
	free(f->url);
	free(f->dir);
	free(f);
	return 0;
}

#define OK(expr) do { int rc_ = (expr); if (rc_) fail_msg("%s -> %s: %s", #expr, tess_strerror(rc_), tess_errmsg()); } while (0)
#define FAILS(code, expr) do { int rc_ = (expr); if (rc_ != (code)) fail_msg("%s -> %d (%s), wanted %s", #expr, rc_, tess_errmsg(), tess_strerror(code)); } while (0)
#define MSG_HAS(s) do { if (!strstr(tess_errmsg(), (s))) fail_msg("message '%s' lacks '%s'", tess_errmsg(), (s)); } while (0)

static void put_str(tess_store *st, const char *key, const char *s)
{
	OK(tess_blob_put(st, key, s, strlen(s), 0));
}

static char *get_str(tess_store *st, const char *key)
{
	void *p;
	size_t n;
	OK(tess_blob_get(&p, &n, st, key));
	assert_int_equal(strlen(p), n);
	return p;
}

/* ---- store ---------------------------------------------------------------------- */

static void test_init_layout(void **state)
{
	fixture *f = *state;
	char *g = get_str(f->st, ".zgroup");
	assert_string_equal(g, "{\n    \"zarr_format\": 2\n}");
	tess_free(g);
	tess_stat sb;
	assert_int_equal(tess_store_backend(f->st)->ops->stat(tess_store_backend(f->st),
	                                                      ".tessera/format", &sb), 0);
	tess_store *again;
	FAILS(TESS_EEXISTS, tess_store_init(&again, f->url, NULL));
	MSG_HAS("already a Tessera store");
	/* open-or-create */
	tess_store_opts opts = TESS_STORE_OPTS_INIT;
	opts.create = 1;
	OK(tess_store_open(&again, f->url, &opts));
	tess_store_close(again);
	OK(tess_store_open(&again, f->url, NULL));
	assert_string_equal(tess_store_url(again), f->url);
	tess_store_close(again);
	tess_store_close(NULL);
}

static void test_open_errors(void **state)
{
	tess_store *st = NULL;
	FAILS(TESS_EINVAL, tess_store_open(&st, "nosuch://x", NULL));
	MSG_HAS("unknown scheme 'nosuch'");
	FAILS(TESS_EINVAL, tess_store_open(&st, "", NULL));
	assert_null(st);
	char *dir = NULL;
	char *url = tu_store_url(scheme, &dir);
	FAILS(TESS_ENOTFOUND, tess_store_open(&st, url, NULL));
	assert_true(strstr(tess_errmsg(), "no store at") || strstr(tess_errmsg(), "not a Tessera store"));
	free(url);
	tu_rmrf(dir);
	free(dir);
}

/* A backend location that holds something, but no Tessera store. */
static void test_not_a_store_and_versions(void **state)
{
	fixture *f = *state;
	tess_backend *be = tess_store_backend(f->st);
	const char *fmt99 = "{\"format\": \"tessera\", \"version\": 99}";
	OK(be->ops->put(be, ".tessera/format", fmt99, strlen(fmt99), 0));
	tess_store *st;
	FAILS(TESS_EVERSION, tess_store_open(&st, f->url, NULL));
	MSG_HAS("format version 99");
	OK(be->ops->put(be, ".tessera/format", "garbage", 7, 0));
	FAILS(TESS_ECORRUPT, tess_store_open(&st, f->url, NULL));
	OK(be->ops->del(be, ".tessera/format"));
	FAILS(TESS_ENOTFOUND, tess_store_open(&st, f->url, NULL));
	MSG_HAS("not a Tessera store");
	MSG_HAS("tess init");
}

/* ---- blobs ---------------------------------------------------------------------- */

static void test_blob_put_get(void **state)
{
	fixture *f = *state;
	put_str(f->st, "a/b/c.txt", "hello tessera");
	char *s = get_str(f->st, "a/b/c.txt");
	assert_string_equal(s, "hello tessera");
	tess_free(s);
	char buf[16] = {0};
	size_t n;
	OK(tess_blob_read(&n, f->st, "a/b/c.txt", 6, buf, 4));
	assert_int_equal(n, 4);
	assert_memory_equal(buf, "tess", 4);
	OK(tess_blob_read(&n, f->st, "a/b/c.txt", 10, buf, sizeof buf));
	assert_int_equal(n, 3);
	OK(tess_blob_read(&n, f->st, "a/b/c.txt", 13, buf, sizeof buf));
	assert_int_equal(n, 0);
	FAILS(TESS_ERANGE, tess_blob_read(&n, f->st, "a/b/c.txt", 14, buf, sizeof buf));
	tess_stat sb;
	OK(tess_blob_stat(&sb, f->st, "a/b/c.txt"));
	assert_int_equal(sb.size, 13);
	void *p;
	FAILS(TESS_ENOTFOUND, tess_blob_get(&p, &n, f->st, "a/b/missing"));
	MSG_HAS("a/b/missing");
	FAILS(TESS_EEXISTS, tess_blob_put(f->st, "a/b/c.txt", "x", 1, TESS_PUT_IF_ABSENT));
	OK(tess_blob_put(f->st, "empty", "", 0, 0));
	OK(tess_blob_get(&p, &n, f->st, "empty"));
	assert_int_equal(n, 0);
	tess_free(p);
}

static void test_blob_bad_keys(void **state)
{
	fixture *f = *state;
	const char *bad[] = {"../x", "a/../../etc/passwd", "/abs", "a//b", "a/", "a\\b", ""};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		FAILS(TESS_EINVAL, tess_blob_put(f->st, bad[i], "x", 1, 0));
		MSG_HAS("invalid key");
	}
	FAILS(TESS_EPERM, tess_blob_put(f->st, ".tessera/format", "x", 1, 0));
	MSG_HAS("reserved");
	FAILS(TESS_EPERM, tess_blob_delete(NULL, f->st, ".tessera", TESS_RECURSIVE));
}

static void test_blob_streams(void **state)
{
	fixture *f = *state;
	/* writer: invisible until commit; abort leaves nothing */
	tess_blob_writer *w;
	OK(tess_blob_writer_open(&w, f->st, "stream/obj", TESS_SIZE_UNKNOWN, 0));
	char block[4096];
	for (size_t i = 0; i < sizeof block; i++)
		block[i] = (char)(i * 7);
	for (int i = 0; i < 300; i++)
		OK(tess_blob_writer_write(w, block, sizeof block));
	tess_stat sb;
	FAILS(TESS_ENOTFOUND, tess_blob_stat(&sb, f->st, "stream/obj"));
	OK(tess_blob_writer_commit(w));
	OK(tess_blob_stat(&sb, f->st, "stream/obj"));
	assert_int_equal(sb.size, 300 * sizeof block);
	OK(tess_blob_writer_open(&w, f->st, "stream/aborted", TESS_SIZE_UNKNOWN, 0));
	OK(tess_blob_writer_write(w, block, 10));
	tess_blob_writer_abort(w);
	FAILS(TESS_ENOTFOUND, tess_blob_stat(&sb, f->st, "stream/aborted"));
	tess_blob_writer_abort(NULL);

	/* reader: pieces add up to the object */
	tess_blob_reader *r;
	OK(tess_blob_reader_open(&r, f->st, "stream/obj"));
	assert_int_equal(tess_blob_reader_size(r), 300 * sizeof block);
	size_t total = 0, n;
	char got[1000];
	for (;;) {
		OK(tess_blob_reader_read(r, got, sizeof got, &n));
		if (n == 0)
			break;
		for (size_t i = 0; i < n; i++)
			assert_int_equal(got[i], block[(total + i) % sizeof block]);
		total += n;
	}
	assert_int_equal(total, 300 * sizeof block);
	tess_blob_reader_close(r);

	/* put_fd from a pipe, get_fd into a pipe */
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], "through a pipe", 14), 14);
	close(fds[1]);
	OK(tess_blob_put_fd(f->st, "stream/piped", fds[0], 0));
	close(fds[0]);
	assert_int_equal(pipe(fds), 0);
	OK(tess_blob_get_fd(f->st, "stream/piped", fds[1]));
	close(fds[1]);
	char pbuf[32] = {0};
	assert_int_equal(read(fds[0], pbuf, sizeof pbuf), 14);
	close(fds[0]);
	assert_string_equal(pbuf, "through a pipe");
}

static void test_blob_batches(void **state)
{
	fixture *f = *state;
	enum { N = 300 };
	tess_put_req puts[N];
	char keys[N][32], vals[N][32];
	for (int i = 0; i < N; i++) {
		snprintf(keys[i], sizeof keys[i], "batch/%03d", i);
		snprintf(vals[i], sizeof vals[i], "value %d", i);
		puts[i] = (tess_put_req){keys[i], vals[i], strlen(vals[i]), 0, -99};
	}
	OK(tess_blob_put_many(f->st, puts, N));
	for (int i = 0; i < N; i++)
		assert_int_equal(puts[i].status, 0);
	puts[7].flags = TESS_PUT_IF_ABSENT;
	OK(tess_blob_put_many(f->st, puts + 7, 1));
	assert_int_equal(puts[7].status, TESS_EEXISTS);
	tess_put_req bad[2] = {{"ok/key", "x", 1, 0, 0}, {".tessera/format", "x", 1, 0, 0}};
	FAILS(TESS_EPERM, tess_blob_put_many(f->st, bad, 2));
	tess_stat sb;
	FAILS(TESS_ENOTFOUND, tess_blob_stat(&sb, f->st, "ok/key")); /* nothing written */

	tess_buf bufs[N + 1];
	tess_get_req gets[N + 1];
	memset(bufs, 0, sizeof bufs);
	for (int i = 0; i < N; i++)
		gets[i] = (tess_get_req){keys[i], 0, UINT64_MAX, &bufs[i], -99};
	gets[N] = (tess_get_req){"batch/none", 0, UINT64_MAX, &bufs[N], -99};
	OK(tess_blob_get_many(f->st, gets, N + 1));
	for (int i = 0; i < N; i++) {
		assert_int_equal(gets[i].status, 0);
		assert_int_equal(bufs[i].len, strlen(vals[i]));
		assert_memory_equal(bufs[i].data, vals[i], bufs[i].len);
		tess_buf_free(&bufs[i]);
	}
	assert_int_equal(gets[N].status, TESS_ENOTFOUND);
	tess_buf_free(&bufs[N]);
}

static size_t list_all(tess_store *st, const char *prefix, unsigned flags, char *out, size_t cap)
{
	tess_list *it;
	OK(tess_list_open(&it, st, prefix, flags));
	const tess_list_entry *e;
	size_t count = 0;
	int rc;
	out[0] = '\0';
	while ((rc = tess_list_next(&e, it)) == 0) {
		strncat(out, e->key, cap - strlen(out) - 2);
		strcat(out, " ");
		count++;
	}
	assert_int_equal(rc, TESS_ITEROVER);
	tess_list_close(it);
	return count;
}

static void test_blob_list_and_delete(void **state)
{
	fixture *f = *state;
	put_str(f->st, "runs/1/a", "1");
	put_str(f->st, "runs/1/b", "2");
	put_str(f->st, "runs/2/a", "3");
	put_str(f->st, "runs.txt", "4");
	char out[4096];
	list_all(f->st, "", 0, out, sizeof out);
	assert_string_equal(out, ".zgroup runs.txt runs/ ");
	list_all(f->st, "runs/", TESS_RECURSIVE, out, sizeof out);
	assert_string_equal(out, "runs/1/a runs/1/b runs/2/a ");
	list_all(f->st, "", TESS_RECURSIVE, out, sizeof out);
	assert_null(strstr(out, ".tessera"));
	list_all(f->st, "ru", 0, out, sizeof out);
	assert_string_equal(out, "runs.txt runs/ ");

	size_t count;
	FAILS(TESS_ENOTFOUND, tess_blob_delete(&count, f->st, "runs/9", 0));
	MSG_HAS("runs/9");
	OK(tess_blob_delete(&count, f->st, "runs/1", TESS_RECURSIVE));
	assert_int_equal(count, 2);
	list_all(f->st, "runs/", 0, out, sizeof out);
	assert_string_equal(out, "runs/2/ ");
	OK(tess_blob_delete(&count, f->st, "runs.txt", 0));
	assert_int_equal(count, 1);
	/* wiping the store keeps it a store */
	OK(tess_blob_delete(&count, f->st, "", TESS_RECURSIVE));
	list_all(f->st, "", TESS_RECURSIVE, out, sizeof out);
	assert_string_equal(out, ".zgroup ");
	tess_store *again;
	OK(tess_store_open(&again, f->url, NULL));
	tess_store_close(again);
}

static void test_blob_copy_between_stores(void **state)
{
	fixture *f = *state;
	const char *others[] = {"file", "mem", "lmdb"};
	put_str(f->st, "tree/x", "x-data");
	put_str(f->st, "tree/sub/y", "y-data");
	OK(tess_blob_copy(f->st, "single", f->st, "tree/x", 0, NULL, NULL));
	char *s = get_str(f->st, "single");
	assert_string_equal(s, "x-data");
	tess_free(s);
	FAILS(TESS_EINVAL, tess_blob_copy(f->st, "tree/inner", f->st, "tree", TESS_RECURSIVE, NULL, NULL));
	for (size_t i = 0; i < 3; i++) {
		char *dir;
		char *url = tu_store_url(others[i], &dir);
		tess_store *dst;
		OK(tess_store_init(&dst, url, NULL));
		OK(tess_blob_copy(dst, "copied", f->st, "tree", TESS_RECURSIVE, NULL, NULL));
		s = get_str(dst, "copied/sub/y");
		assert_string_equal(s, "y-data");
		tess_free(s);
		s = get_str(dst, "copied/x");
		assert_string_equal(s, "x-data");
		tess_free(s);
		FAILS(TESS_ENOTFOUND, tess_blob_copy(dst, "z", f->st, "nothing-here", TESS_RECURSIVE, NULL, NULL));
		tess_store_close(dst);
		tu_rmrf(dir);
		free(dir);
		free(url);
	}
}

static int progress_calls;
static void on_progress(uint64_t done, uint64_t total, void *payload)
{
	(void)payload;
	assert_true(total == 0 || done <= total);
	progress_calls++;
}

static void test_blob_copy_local(void **state)
{
	fixture *f = *state;
	char *tmp = tu_tempdir();
	char src[4200], path[4400], cmd[20000];
	snprintf(src, sizeof src, "%s/src", tmp);
	snprintf(cmd, sizeof cmd, "mkdir -p %s/d1/d2 && printf one > %s/d1/a && printf two > %s/d1/d2/b"
	         " && : > %s/empty", src, src, src, src);
	assert_int_equal(system(cmd), 0);
	FAILS(TESS_EINVAL, tess_blob_copy_from_local(f->st, "up", src, 0, NULL, NULL));
	progress_calls = 0;
	OK(tess_blob_copy_from_local(f->st, "up", src, TESS_RECURSIVE, on_progress, NULL));
	assert_true(progress_calls > 0);
	char *s = get_str(f->st, "up/d1/d2/b");
	assert_string_equal(s, "two");
	tess_free(s);
	tess_stat sb;
	OK(tess_blob_stat(&sb, f->st, "up/empty"));
	assert_int_equal(sb.size, 0);

	snprintf(path, sizeof path, "%s/down", tmp);
	OK(tess_blob_copy_to_local(path, f->st, "up", TESS_RECURSIVE, NULL, NULL));
	snprintf(cmd, sizeof cmd, "diff -r %s %s/down", src, tmp);
	assert_int_equal(system(cmd), 0);
	/* one object into an existing directory lands under its base name */
	OK(tess_blob_copy_to_local(tmp, f->st, "up/d1/a", 0, NULL, NULL));
	snprintf(cmd, sizeof cmd, "test \"$(cat %s/a)\" = one", tmp);
	assert_int_equal(system(cmd), 0);
	FAILS(TESS_ENOTFOUND, tess_blob_copy_to_local(path, f->st, "up/nope", 0, NULL, NULL));

	/* symlinks inside a local tree are refused, nothing outside is read */
	snprintf(cmd, sizeof cmd, "ln -s /etc %s/d1/link", src);
	assert_int_equal(system(cmd), 0);
	FAILS(TESS_EPERM, tess_blob_copy_from_local(f->st, "up2", src, TESS_RECURSIVE, NULL, NULL));
	MSG_HAS("symbolic link");
	FAILS(TESS_ENOTFOUND, tess_blob_stat(&sb, f->st, "up2/d1/link/passwd"));
	tu_rmrf(tmp);
	free(tmp);
}

/* ---- attributes ----------------------------------------------------------------- */

static void test_attrs(void **state)
{
	fixture *f = *state;
	OK(tess_attr_set(f->st, "/", "title", "\"Basin model\""));
	OK(tess_attr_set(f->st, "", "count", "3"));
	OK(tess_attr_set(f->st, "sims/run1", "params", "{\"dt\": 0.5, \"names\": [\"a\", \"\xc3\xa9\"]}"));
	char *s = get_str(f->st, ".zattrs");
	assert_string_equal(s, "{\n    \"count\": 3,\n    \"title\": \"Basin model\"\n}");
	tess_free(s);
	s = get_str(f->st, "sims/run1/.zattrs");
	assert_string_equal(s, "{\n    \"params\": {\n        \"dt\": 0.5,\n        \"names\": [\n"
	                       "            \"a\",\n            \"\\u00e9\"\n        ]\n    }\n}");
	tess_free(s);
	/* the node and its parent became Zarr groups */
	s = get_str(f->st, "sims/.zgroup");
	tess_free(s);
	s = get_str(f->st, "sims/run1/.zgroup");
	tess_free(s);

	char *json;
	OK(tess_attr_get(&json, f->st, ".", "title"));
	assert_string_equal(json, "\"Basin model\"");
	tess_free(json);
	OK(tess_attr_get_all(&json, f->st, "nowhere"));
	assert_string_equal(json, "{}");
	tess_free(json);
	FAILS(TESS_ENOTFOUND, tess_attr_get(&json, f->st, "/", "nope"));
	MSG_HAS("nope");
	FAILS(TESS_EINVAL, tess_attr_set(f->st, "/", "bad", "not json"));
	MSG_HAS("not valid JSON");
	FAILS(TESS_EINVAL, tess_attr_set(f->st, "a/../b", "x", "1"));
	FAILS(TESS_EINVAL, tess_attr_set(f->st, "/", "", "1"));
	FAILS(TESS_EPERM, tess_attr_set(f->st, ".tessera", "x", "1"));

	int64_t i;
	double d;
	char *str;
	OK(tess_attr_set_int(f->st, "n", "i", -42));
	OK(tess_attr_get_int(&i, f->st, "n", "i"));
	assert_int_equal(i, -42);
	OK(tess_attr_set_double(f->st, "n", "d", 0.1));
	OK(tess_attr_get_double(&d, f->st, "n", "d"));
	assert_true(d == 0.1);
	FAILS(TESS_EINVAL, tess_attr_set_double(f->st, "n", "d", 1.0 / 0.0));
	OK(tess_attr_set_string(f->st, "n", "s", "text"));
	OK(tess_attr_get_string(&str, f->st, "n", "s"));
	assert_string_equal(str, "text");
	tess_free(str);
	FAILS(TESS_EINVAL, tess_attr_get_int(&i, f->st, "n", "s"));
	OK(tess_attr_update(f->st, "n", "{\"u1\": 1, \"u2\": [true, null]}"));
	FAILS(TESS_EINVAL, tess_attr_update(f->st, "n", "[1]"));
	OK(tess_attr_delete(f->st, "n", "u1"));
	FAILS(TESS_ENOTFOUND, tess_attr_delete(f->st, "n", "u1"));
	OK(tess_attr_get_all(&json, f->st, "n"));
	assert_string_equal(json, "{\n    \"d\": 0.1,\n    \"i\": -42,\n    \"s\": \"text\",\n"
	                          "    \"u2\": [\n        true,\n        null\n    ]\n}");
	tess_free(json);
	/* a corrupt .zattrs is reported, not overwritten */
	put_str(f->st, "broken/.zattrs", "[1, 2]");
	FAILS(TESS_ECORRUPT, tess_attr_set(f->st, "broken", "x", "1"));
	s = get_str(f->st, "broken/.zattrs");
	assert_string_equal(s, "[1, 2]");
	tess_free(s);
}

/* On Zarr v3 nodes attributes live in zarr.json's "attributes"; on a v2
 * array in its .zattrs (and no group is made inside an array). */
static void test_attrs_on_arrays(void **state)
{
	fixture *f = *state;
	tess_array_opts o = TESS_ARRAY_OPTS_INIT;
	o.ndim = 1;
	o.shape[0] = 10;
	o.chunks[0] = 5;
	o.zarr_format = 3;
	tess_array *a;
	OK(tess_array_create(&a, f->st, "v3arr", &o));
	tess_array_close(a);
	OK(tess_attr_set(f->st, "v3arr", "units", "\"m\""));
	char *s = get_str(f->st, "v3arr/zarr.json");
	assert_non_null(strstr(s, "\"attributes\": {\n        \"units\": \"m\"\n    }"));
	assert_non_null(strstr(s, "\"node_type\": \"array\""));
	tess_free(s);
	tess_stat sb;
	FAILS(TESS_ENOTFOUND, tess_blob_stat(&sb, f->st, "v3arr/.zattrs"));
	char *json;
	OK(tess_attr_get(&json, f->st, "v3arr", "units"));
	assert_string_equal(json, "\"m\"");
	tess_free(json);
	OK(tess_array_open(&a, f->st, "v3arr"));
	tess_array_close(a);

	o.zarr_format = 2;
	OK(tess_array_create(&a, f->st, "v2arr", &o));
	tess_array_close(a);
	OK(tess_attr_set(f->st, "v2arr", "units", "\"s\""));
	s = get_str(f->st, "v2arr/.zattrs");
	assert_string_equal(s, "{\n    \"units\": \"s\"\n}");
	tess_free(s);
	FAILS(TESS_ENOTFOUND, tess_blob_stat(&sb, f->st, "v2arr/.zgroup"));
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s file|mem|lmdb\n", argv[0]);
		return 2;
	}
	scheme = argv[1];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_layout, setup, teardown),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test_setup_teardown(test_not_a_store_and_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blob_put_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blob_bad_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blob_streams, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blob_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blob_list_and_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blob_copy_between_stores, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blob_copy_local, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attrs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attrs_on_arrays, setup, teardown),
	};
	char name[64];
	snprintf(name, sizeof name, "store[%s]", scheme);
	return cmocka_run_group_tests_name(name, tests, NULL, NULL);
}
