/*
 * Pyramids: the rules around level writes, dirty records, growth, options,
 * metadata and reads' errors.  The values of every aggregator and read are
 * checked against NumPy by pyramid_peer.py.  Runs on mem:// stores, the
 * dirty records once more on the file backend; `test_pyramid SCHEME` runs
 * the records, updates and growth on that backend only (s3: the test RGW).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array/array_internal.h"
#include "pyramid/hook.h"
#include "pyramid/internal.h"
#include "store/internal.h"
#include "tessera.h"
#include "testutil.h"

#define OK(expr) do { int rc_ = (expr); if (rc_) fail_msg("%s -> %s: %s", #expr, tess_strerror(rc_), tess_errmsg()); } while (0)
#define FAILS(code, expr) do { int rc_ = (expr); if (rc_ != (code)) fail_msg("%s -> %d (%s), wanted %s", #expr, rc_, tess_errmsg(), tess_strerror(code)); } while (0)
#define MSG_HAS(s) do { if (!strstr(tess_errmsg(), (s))) fail_msg("message '%s' lacks '%s'", tess_errmsg(), (s)); } while (0)

typedef struct fixture {
	char *url, *dir;
	tess_store *st;
} fixture;

static int setup_scheme(void **state, const char *scheme)
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

static const char *scheme_arg; /* test_pyramid SCHEME: a subset on that backend */

static int setup(void **state) { return setup_scheme(state, "mem"); }
static int setup_file(void **state) { return setup_scheme(state, "file"); }
static int setup_arg(void **state) { return setup_scheme(state, scheme_arg); }

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

/* A 2-d float32 mean pyramid of shape n0 x n1, chunks c x c. */
static tess_pyramid_opts opts2(uint64_t n0, uint64_t n1, uint64_t c)
{
	tess_pyramid_opts o = TESS_PYRAMID_OPTS_INIT;
	o.ndim = 2;
	o.shape[0] = n0;
	o.shape[1] = n1;
	o.chunks[0] = o.chunks[1] = c;
	o.dims[0] = (tess_pyramid_dim){ "y", TESS_AGG_MEAN, 1, 100.0, -1.0 };
	o.dims[1] = (tess_pyramid_dim){ "x", TESS_AGG_MEAN, 1, 0.0, 1.0 };
	o.has_nodata = 1;
	o.nodata = -9999;
	return o;
}

static float *ramp(uint64_t n, float base)
{
	float *a = malloc(n * sizeof *a);
	for (uint64_t i = 0; i < n; i++)
		a[i] = base + (float)(i % 97) * 0.5f;
	return a;
}

/* Every level's bytes of two pyramids are the same. */
static void assert_same_levels(tess_pyramid *a, tess_pyramid *b)
{
	assert_int_equal(tess_pyramid_levels(a), tess_pyramid_levels(b));
	for (int k = 0; k < tess_pyramid_levels(a); k++) {
		tess_array *x = tess_pyramid_level(a, k), *y = tess_pyramid_level(b, k);
		const uint64_t *s = tess_array_shape(x);
		assert_memory_equal(s, tess_array_shape(y), 2 * sizeof *s);
		uint64_t zero[2] = {0, 0};
		size_t n = (size_t)(s[0] * s[1]);
		float *u = malloc(n * 4 + 4), *v = malloc(n * 4 + 4);
		if (n) {
			OK(tess_array_read(x, zero, s, u));
			OK(tess_array_read(y, zero, s, v));
			if (memcmp(u, v, n * 4))
				fail_msg("level %d differs", k);
		}
		free(u);
		free(v);
	}
}

/* ---- writes to derived levels are refused ------------------------------------------------ */

static void t_derived_refused(void **state)
{
	fixture *f = *state;
	tess_pyramid_opts o = opts2(64, 64, 8);
	tess_pyramid *p;
	OK(tess_pyramid_create(&p, f->st, "dem", &o));
	assert_int_equal(tess_pyramid_levels(p), 4);
	uint64_t st[2] = {0, 0}, cnt[2] = {2, 2};
	float v[4] = {1, 2, 3, 4};
	/* a handle opened alone, the pyramid's own handle, and a resize */
	tess_array *a;
	OK(tess_array_open(&a, f->st, "dem/2"));
	FAILS(TESS_EPERM, tess_array_write(a, st, cnt, v));
	MSG_HAS("writes go to level 0; level 2 is derived");
	uint64_t shape[2] = {4, 4};
	FAILS(TESS_EPERM, tess_array_resize(a, shape));
	MSG_HAS("writes go to level 0; level 2 is derived");
	tess_array_close(a);
	FAILS(TESS_EPERM, tess_array_write(tess_pyramid_level(p, 3), st, cnt, v));
	MSG_HAS("level 3 is derived");
	/* level 0 takes writes */
	OK(tess_array_write(tess_pyramid_level(p, 0), st, cnt, v));
	tess_pyramid_close(p);
}

/* ---- dirty records ----------------------------------------------------------------------------- */

/* The marker names under .tessera/dirty/<path>/, counted. */
static size_t count_markers(tess_store *st, const char *path)
{
	char prefix[256];
	snprintf(prefix, sizeof prefix, ".tessera/dirty/%s/", path);
	tess_list_page page = {0};
	OK(st->ops->list(st->be, prefix, "/", NULL, 10000, &page));
	size_t n = 0;
	for (size_t i = 0; i < page.count; i++)
		n += !page.entries[i].is_prefix && !strstr(page.entries[i].key, "/.keep");
	tess_list_page_free(&page);
	return n;
}

static void t_plain_write_marks(void **state)
{
	fixture *f = *state;
	tess_pyramid_opts o = opts2(40, 50, 8);
	tess_pyramid *p;
	OK(tess_pyramid_create(&p, f->st, "g/dem", &o));
	size_t n;
	OK(tess_pyramid_dirty_count(&n, p));
	assert_int_equal(n, 0);
	/* a plain array write through a handle that knows nothing of pyramids */
	tess_array *a;
	OK(tess_array_open(&a, f->st, "g/dem/0"));
	uint64_t st[2] = {6, 7}, cnt[2] = {3, 10}; /* rows chunk 0..1, columns chunks 0..2 */
	float *v = ramp(30, 1);
	OK(tess_array_write(a, st, cnt, v));
	tess_array_close(a);
	assert_int_equal(count_markers(f->st, "g/dem"), 1);
	OK(tess_pyramid_dirty_count(&n, p));
	assert_int_equal(n, 2 * 3);
	/* the record holds the cell box */
	char prefix[] = ".tessera/dirty/g/dem/";
	tess_list_page page = {0};
	OK(f->st->ops->list(f->st->be, prefix, "/", NULL, 10, &page));
	assert_int_equal(page.count, 2); /* the record and .keep */
	assert_non_null(strstr(page.entries[1].key, "_6.7_9.17"));
	tess_list_page_free(&page);
	tess_pyramid_update_stats s;
	OK(tess_pyramid_update(p, &s));
	assert_int_equal(s.dirty, 6);
	/* level 1: rows 3..4, columns 3..8 (chunks 0 and 1); levels 2, 3: one chunk */
	assert_int_equal(s.chunks_written, 4);
	OK(tess_pyramid_dirty_count(&n, p));
	assert_int_equal(n, 0);
	assert_int_equal(count_markers(f->st, "g/dem"), 0);
	/* level 1 holds the mean of the 2 x 2 blocks */
	float got;
	uint64_t at[2] = {3, 4}, one[2] = {1, 1};
	OK(tess_array_read(tess_pyramid_level(p, 1), at, one, &got));
	/* level-1 cell (3, 4) covers rows 6..7, columns 8..9: written cells (6..7, 8..9) */
	float want = (v[1] + v[2] + v[11] + v[12]) / 4;
	assert_true(got == want);
	free(v);
	tess_pyramid_close(p);
}

/* A write that an update may have read half-way is recorded again. */
static void t_second_marker(void **state)
{
	fixture *f = *state;
	tess_pyramid_opts o = opts2(32, 32, 8);
	tess_pyramid *p;
	OK(tess_pyramid_create(&p, f->st, "dem", &o));
	tess_array *a = tess_pyramid_level(p, 0);
	uint64_t st[2] = {0, 0}, cnt[2] = {2, 2};
	float v[4] = {1, 2, 3, 4};
	/* nothing running: one marker */
	OK(tess_array_write(a, st, cnt, v));
	assert_int_equal(count_markers(f->st, "dem"), 1);
	/* the key pyr_update_running looks at is the lock's own */
	tess_lock *lk;
	OK(tess_lock_acquire(&lk, f->st, "pyramid:dem"));
	char key[64];
	pyr_lock_key(key, "dem");
	tess_stat sb;
	OK(f->st->ops->stat(f->st->be, key, &sb));
	assert_int_equal(pyr_update_running(f->st, "dem"), 1);
	/* an update holds the lock: the write is recorded twice */
	OK(tess_array_write(a, st, cnt, v));
	assert_int_equal(count_markers(f->st, "dem"), 3);
	tess_lock_release(lk);
	assert_int_equal(pyr_update_running(f->st, "dem"), 0);
	/* the marker vanished (an update took it) while the write ran */
	pyr_write_mark mk;
	OK(tess_pyramid_hook_before_write(a, st, cnt, &mk));
	assert_int_equal(count_markers(f->st, "dem"), 4);
	OK(f->st->ops->del(f->st->be, mk.key));
	OK(tess_pyramid_hook_after_write(a, &mk, 0));
	assert_int_equal(count_markers(f->st, "dem"), 4);
	OK(tess_pyramid_update(p, NULL));
	assert_int_equal(count_markers(f->st, "dem"), 0);
	tess_pyramid_close(p);
}

/* Records that cannot be read mean "everything"; long boxes go in the body. */
static void t_marker_forms(void **state)
{
	fixture *f = *state;
	tess_pyramid_opts o = opts2(40, 40, 8);
	tess_pyramid *p;
	OK(tess_pyramid_create(&p, f->st, "dem", &o));
	OK(tess_obj_put(f->st, ".tessera/dirty/dem/0123456789abcdef_garbage", "", 0, 0));
	size_t n;
	OK(tess_pyramid_dirty_count(&n, p));
	assert_int_equal(n, 25);
	/* a stray object that is no record is left alone */
	OK(tess_obj_put(f->st, ".tessera/dirty/dem/notes", "", 0, 0));
	OK(tess_pyramid_update(p, NULL));
	OK(tess_pyramid_dirty_count(&n, p));
	assert_int_equal(n, 0);
	assert_int_equal(count_markers(f->st, "dem"), 1);
	/* a box too long for a key: stored as the record's content */
	uint64_t lo[2] = {3, 4}, hi[2] = {5, 6};
	char path[600];
	memset(path, 'p', sizeof path);
	path[200] = path[400] = '/';
	strcpy(path + 500, "/q");
	OK(pyr_mark(f->st, path, 2, 1, lo, hi, NULL));
	uint64_t big_lo[2] = {UINT64_MAX / 3, 1}, big_hi[2] = {UINT64_MAX / 2, 2};
	OK(pyr_mark(f->st, "dem", 2, 1, big_lo, big_hi, NULL));
	pyr_dirty d;
	OK(pyr_dirty_list(&d, f->st, path, 2));
	assert_int_equal(d.boxes.n, 1);
	assert_int_equal(pyr_box_lo(&d.boxes, 0)[1], 4);
	assert_int_equal(pyr_box_hi(&d.boxes, 0)[0], 5);
	assert_null(strchr(d.keys[0] + strlen(".tessera/dirty/") + strlen(path) + 1, '_'));
	pyr_dirty_free(&d);
	OK(pyr_dirty_list(&d, f->st, "dem", 2));
	assert_int_equal(d.boxes.n, 1);
	assert_true(pyr_box_lo(&d.boxes, 0)[0] == UINT64_MAX / 3);
	pyr_dirty_free(&d);
	tess_pyramid_close(p);
}

/* ---- incremental == rebuild, growth, resize, update_on_write -------------------------------- */

static void t_growth_and_rebuild(void **state)
{
	fixture *f = *state;
	tess_pyramid_opts o = opts2(16, 16, 8);
	tess_pyramid *p, *q;
	OK(tess_pyramid_create(&p, f->st, "inc", &o));
	assert_int_equal(tess_pyramid_levels(p), 2);
	float *v = ramp(40 * 8, 3);
	uint64_t st[2] = {40, 5}, cnt[2] = {8, 40};
	OK(tess_pyramid_write(p, st, cnt, v)); /* grows to 48 x 45 */
	assert_int_equal(tess_pyramid_info(p)->shape[0], 48);
	assert_int_equal(tess_pyramid_info(p)->shape[1], 45);
	assert_int_equal(tess_pyramid_levels(p), 4);
	assert_int_equal(tess_array_shape(tess_pyramid_level(p, 3))[0], 6);
	OK(tess_pyramid_update(p, NULL));
	/* another handle sees the levels */
	OK(tess_pyramid_open(&q, f->st, "inc"));
	assert_int_equal(tess_pyramid_levels(q), 4);
	/* a plain resize of level 0 (shrinking) is recorded too */
	uint64_t shape[2] = {43, 45};
	OK(tess_array_resize(tess_pyramid_level(q, 0), shape));
	OK(tess_pyramid_update(q, NULL));
	assert_int_equal(tess_array_shape(tess_pyramid_level(q, 1))[0], 22);
	/* grow never shrinks */
	FAILS(TESS_EINVAL, tess_pyramid_grow(q, (uint64_t[]){10, 45}));
	tess_pyramid_close(q);
	/* the same data written once and rebuilt */
	OK(tess_pyramid_open(&q, f->st, "inc"));
	tess_pyramid_opts o2 = opts2(43, 45, 8);
	tess_pyramid *r;
	OK(tess_pyramid_create(&r, f->st, "full", &o2));
	float *all = malloc(43 * 45 * 4);
	uint64_t z[2] = {0, 0}, s2[2] = {43, 45};
	OK(tess_array_read(tess_pyramid_level(q, 0), z, s2, all));
	OK(tess_pyramid_write(r, z, s2, all));
	OK(tess_pyramid_rebuild(r, NULL));
	assert_same_levels(q, r);
	free(all);
	free(v);
	tess_pyramid_close(p);
	tess_pyramid_close(q);
	tess_pyramid_close(r);
}

static void t_update_on_write(void **state)
{
	fixture *f = *state;
	tess_pyramid_opts o = opts2(32, 32, 8);
	o.update_on_write = 1;
	tess_pyramid *p;
	OK(tess_pyramid_create(&p, f->st, "live", &o));
	float v[4] = {1, 2, 3, 6};
	uint64_t st[2] = {4, 4}, cnt[2] = {2, 2}, at[2] = {2, 2}, one[2] = {1, 1};
	OK(tess_pyramid_write(p, st, cnt, v));
	size_t n;
	OK(tess_pyramid_dirty_count(&n, p));
	assert_int_equal(n, 0);
	float got;
	OK(tess_array_read(tess_pyramid_level(p, 1), at, one, &got));
	assert_true(got == 3.0f);
	/* a plain handle's write updates too */
	tess_array *a;
	OK(tess_array_open(&a, f->st, "live/0"));
	v[3] = 10;
	OK(tess_array_write(a, st, cnt, v));
	tess_array_close(a);
	OK(tess_pyramid_dirty_count(&n, p));
	assert_int_equal(n, 0);
	/* (p's chunk cache does not see other handles' writes: a fresh handle) */
	tess_pyramid_close(p);
	OK(tess_pyramid_open(&p, f->st, "live"));
	OK(tess_array_read(tess_pyramid_level(p, 1), at, one, &got));
	assert_true(got == 4.0f);
	tess_pyramid_close(p);
}

/* ---- Zarr v3, consolidated metadata ------------------------------------------------------------ */

static void t_v3_and_consolidated(void **state)
{
	fixture *f = *state;
	tess_pyramid_opts o = opts2(20, 20, 8);
	o.zarr_format = 3;
	tess_pyramid *p;
	OK(tess_pyramid_create(&p, f->st, "v3", &o));
	assert_int_equal(tess_array_zarr_format(tess_pyramid_level(p, 0)), 3);
	tess_pyramid_close(p);
	OK(tess_pyramid_open(&p, f->st, "v3"));
	tess_array *a;
	uint64_t st[2] = {0, 0}, cnt[2] = {1, 1};
	float v = 5;
	OK(tess_array_open(&a, f->st, "v3/1"));
	FAILS(TESS_EPERM, tess_array_write(a, st, cnt, &v));
	tess_array_close(a);
	tess_pyramid_close(p);
	/* consolidated before the pyramid: .zmetadata lists the levels' .zarray
	 * (create adds them), not their attributes */
	OK(tess_array_consolidate(f->st));
	tess_pyramid_opts o2 = opts2(20, 20, 8);
	OK(tess_pyramid_create(&p, f->st, "late", &o2));
	tess_pyramid_close(p);
	OK(tess_array_open(&a, f->st, "late/1"));
	FAILS(TESS_EPERM, tess_array_write(a, st, cnt, &v));
	tess_array_close(a);
	/* and consolidated after it, with them */
	OK(tess_array_consolidate(f->st));
	OK(tess_array_open(&a, f->st, "late/1"));
	FAILS(TESS_EPERM, tess_array_write(a, st, cnt, &v));
	tess_array_close(a);
	OK(tess_array_open(&a, f->st, "late/0"));
	OK(tess_array_write(a, st, cnt, &v));
	tess_array_close(a);
	OK(tess_pyramid_open(&p, f->st, "late"));
	size_t n;
	OK(tess_pyramid_dirty_count(&n, p));
	assert_int_equal(n, 1);
	tess_pyramid_close(p);
}

/* ---- options and metadata ------------------------------------------------------------------------ */

static void t_options(void **state)
{
	fixture *f = *state;
	tess_pyramid *p = NULL;
	tess_pyramid_opts o = opts2(10, 10, 4);
	o.dtype = (tess_dtype){ TESS_DT_BOOL, 1, '|' };
	FAILS(TESS_EINVAL, tess_pyramid_create(&p, f->st, "x", &o));
	MSG_HAS("dtype");
	o = opts2(10, 10, 4);
	o.dtype = (tess_dtype){ TESS_DT_FLOAT, 4, '>' };
	FAILS(TESS_EINVAL, tess_pyramid_create(&p, f->st, "x", &o));
	o = opts2(10, 10, 4);
	o.dtype = (tess_dtype){ TESS_DT_FLOAT, 2, '<' };
	FAILS(TESS_EINVAL, tess_pyramid_create(&p, f->st, "x", &o));
	o = opts2(10, 10, 4);
	o.dims[1].agg = TESS_AGG_MAX;
	FAILS(TESS_EINVAL, tess_pyramid_create(&p, f->st, "x", &o));
	MSG_HAS("share one aggregator");
	o = opts2(10, 10, 4);
	o.dims[1].name = "y";
	FAILS(TESS_EINVAL, tess_pyramid_create(&p, f->st, "x", &o));
	o = opts2(10, 10, 4);
	o.dims[0].regular = 0;
	FAILS(TESS_EINVAL, tess_pyramid_create(&p, f->st, "x", &o));
	MSG_HAS("tess_pyramid_append");
	o = opts2(10, 10, 4);
	o.dims[0].step = 0;
	FAILS(TESS_EINVAL, tess_pyramid_create(&p, f->st, "x", &o));
	o = opts2(10, 10, 4);
	o.chunks[1] = 0;
	FAILS(TESS_EINVAL, tess_pyramid_create(&p, f->st, "x", &o));
	o = opts2(10, 10, 4);
	o.dtype = (tess_dtype){ TESS_DT_UINT, 1, '|' };
	o.nodata = 256;
	FAILS(TESS_EINVAL, tess_pyramid_create(&p, f->st, "x", &o));
	MSG_HAS("nodata");
	o.nodata = 1.5;
	FAILS(TESS_EINVAL, tess_pyramid_create(&p, f->st, "x", &o));
	o.nodata = 255;
	OK(tess_pyramid_create(&p, f->st, "u8", &o));
	tess_pyramid_close(p);
	FAILS(TESS_EEXISTS, tess_pyramid_create(&p, f->st, "u8", &o));
	o = opts2(10, 10, 4);
	o.zarr_format = 4;
	FAILS(TESS_EINVAL, tess_pyramid_create(&p, f->st, "x", &o));
	o = opts2(10, 10, 4);
	o.version = 99;
	FAILS(TESS_EINVAL, tess_pyramid_create(&p, f->st, "x", &o));
	o = opts2(10, 10, 4);
	FAILS(TESS_EINVAL, tess_pyramid_create(&p, f->st, "/", &o));
	/* not pyramids */
	FAILS(TESS_ENOTFOUND, tess_pyramid_open(&p, f->st, "nothing"));
	OK(tess_attr_set(f->st, "plain", "a", "1"));
	FAILS(TESS_ENOTFOUND, tess_pyramid_open(&p, f->st, "plain"));
	assert_int_equal(tess_pyramid_exists(f->st, "plain"), 0);
	assert_int_equal(tess_pyramid_exists(f->st, "u8"), 1);
	assert_int_equal(tess_pyramid_exists(f->st, "u8/0"), 0);
	/* aggregator names */
	for (int a = TESS_AGG_NONE; a <= TESS_AGG_LAST; a++) {
		tess_agg back;
		OK(tess_agg_parse(&back, tess_agg_name((tess_agg)a)));
		assert_int_equal(back, a);
	}
	tess_agg x;
	FAILS(TESS_EINVAL, tess_agg_parse(&x, "median"));
	MSG_HAS("median");
}

static void t_meta(void **state)
{
	(void)state;
	pyr_meta m;
	const char *bad[] = {
		"[]",
		"{\"tessera_pyramid\": 1}",
		"{\"tessera_pyramid\": {\"version\": 1}}",
		"{\"tessera_pyramid\": {\"version\": 1, \"dims\": []}}",
		"{\"tessera_pyramid\": {\"version\": 1, \"dims\": [{\"name\": \"x\", \"aggregator\": "
		"\"mean\", \"origin\": 0, \"step\": 0}]}}",
		"{\"tessera_pyramid\": {\"version\": 1, \"dims\": [{\"name\": \"a/b\", \"aggregator\": "
		"\"mean\", \"origin\": 0, \"step\": 1}]}}",
		"{\"tessera_pyramid\": {\"version\": 1, \"dims\": [{\"name\": \"x\", \"aggregator\": "
		"\"median\", \"origin\": 0, \"step\": 1}]}}",
		"{\"tessera_pyramid\": {\"version\": 1, \"dims\": [{\"name\": \"x\", \"aggregator\": "
		"\"mean\", \"origin\": 0, \"step\": 1}]}}", /* no multiscales */
		"{\"multiscales\": [{\"datasets\": [{\"path\": \"1\"}]}], \"tessera_pyramid\": "
		"{\"version\": 1, \"dims\": [{\"name\": \"x\", \"aggregator\": \"mean\", \"origin\": 0, "
		"\"step\": 1}]}}",
		"{\"multiscales\": [{\"datasets\": [{\"path\": \"0\"}]}], \"tessera_pyramid\": "
		"{\"version\": 1, \"nodata\": \"x\", \"dims\": [{\"name\": \"x\", \"aggregator\": \"mean\","
		" \"origin\": 0, \"step\": 1}]}}",
		"{\"multiscales\": [{\"datasets\": [{\"path\": \"0\"}]}], \"tessera_pyramid\": "
		"{\"version\": 1, \"dims\": [{\"name\": \"x\", \"aggregator\": \"mean\", \"origin\": 0, "
		"\"step\": 1}, {\"name\": \"y\", \"aggregator\": \"max\", \"origin\": 0, \"step\": 1}]}}",
		"{\"multiscales\": [{\"datasets\": [{\"path\": \"0\"}]}], \"tessera_pyramid\": "
		"{\"version\": 1, \"dims\": [{\"name\": \"x\", \"aggregator\": \"mean\", "
		"\"coordinates\": \"../up\"}]}}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		int rc = pyr_meta_parse_text(&m, bad[i], strlen(bad[i]), "test");
		if (rc != TESS_ECORRUPT)
			fail_msg("document %zu: %d (%s), wanted corrupt", i, rc, tess_errmsg());
	}
	const char *newer = "{\"tessera_pyramid\": {\"version\": 2}}";
	FAILS(TESS_ENOTSUP, pyr_meta_parse_text(&m, newer, strlen(newer), "test"));
	FAILS(TESS_ENOTFOUND, pyr_meta_parse_text(&m, "{}", 2, "test"));
	/* what is written parses back the same */
	const char *good = "{\"multiscales\": [{\"datasets\": [{\"path\": \"0\"}, {\"path\": \"1\"}]}],"
	                   " \"tessera_pyramid\": {\"version\": 1, \"nodata\": \"NaN\", \"crs\": "
	                   "\"EPSG:4326\", \"update_on_write\": true, \"dims\": [{\"name\": \"t\", "
	                   "\"aggregator\": \"none\", \"coordinates\": \"coords/t\"}, {\"name\": \"x\","
	                   " \"aggregator\": \"max\", \"origin\": -1.5, \"step\": 0.25}]}}";
	OK(pyr_meta_parse_text(&m, good, strlen(good), "test"));
	assert_int_equal(m.nlevels, 2);
	assert_true(isnan(m.nodata) && m.has_nodata && m.update_on_write);
	json_t *doc = json_object();
	OK(pyr_meta_store(doc, &m, "name", 0));
	char *text = json_dumps(doc, 0);
	pyr_meta back;
	OK(pyr_meta_parse_text(&back, text, strlen(text), "test"));
	assert_int_equal(back.ndim, 2);
	assert_string_equal(back.dims[0].coords, "coords/t");
	assert_true(back.dims[1].origin == -1.5 && back.dims[1].step == 0.25);
	assert_int_equal(back.dims[1].agg, TESS_AGG_MAX);
	assert_string_equal(back.crs, "EPSG:4326");
	free(text);
	json_decref(doc);
	pyr_meta_clear(&back);
	pyr_meta_clear(&m);
}

/* ---- reads' errors, points, bounds, coordinates ------------------------------------------------- */

static void t_read_errors(void **state)
{
	fixture *f = *state;
	tess_pyramid_opts o = opts2(30, 40, 8);
	tess_pyramid *p;
	OK(tess_pyramid_create(&p, f->st, "r", &o));
	float buf[64];
	uint64_t st[2] = {0, 0}, cnt[2] = {30, 41}, out[2] = {4, 4};
	FAILS(TESS_EINVAL, tess_pyramid_read(p, st, cnt, out, TESS_RESAMPLE_NEAREST, buf, NULL));
	MSG_HAS("outside");
	cnt[1] = 40;
	out[0] = 0;
	FAILS(TESS_EINVAL, tess_pyramid_read(p, st, cnt, out, TESS_RESAMPLE_NEAREST, buf, NULL));
	out[0] = 4;
	int level;
	OK(tess_pyramid_read(p, st, cnt, out, TESS_RESAMPLE_AVERAGE, buf, &level));
	assert_int_equal(level, 2); /* 30/4 and 40/4 cells per output: 2^2 <= 7.5 */
	assert_true(buf[0] == -9999.0f); /* nothing written: nodata */
	double lo[2] = {0, 0}, hi[2] = {0, 1};
	FAILS(TESS_EINVAL, tess_pyramid_read_world(p, lo, hi, out, TESS_RESAMPLE_NEAREST, buf, NULL));
	double c[2] = {100.5, 3};
	float v;
	FAILS(TESS_ERANGE, tess_pyramid_point(p, c, &v));
	c[0] = 99.5;
	OK(tess_pyramid_point(p, c, &v));
	assert_true(v == -9999.0f);
	uint64_t bs[2], bc[2];
	OK(tess_pyramid_data_bounds(p, bs, bc));
	assert_true(bc[0] == 0 && bc[1] == 0);
	uint64_t cs, cc;
	FAILS(TESS_EINVAL, tess_pyramid_coord_range(p, 0, 0, 1, &cs, &cc));
	FAILS(TESS_EINVAL, tess_pyramid_append(p, 1, (double[]){1}, 1, buf));
	assert_null(tess_pyramid_coords(p, 0));
	tess_pyramid_close(p);
}

static void t_time_axis(void **state)
{
	fixture *f = *state;
	tess_pyramid_opts o = TESS_PYRAMID_OPTS_INIT;
	o.ndim = 2;
	o.chunks[0] = 4;
	o.chunks[1] = 4;
	o.shape[1] = 6;
	o.dims[0] = (tess_pyramid_dim){ "time", TESS_AGG_MAX, 0, 0, 0 };
	o.dims[1] = (tess_pyramid_dim){ "x", TESS_AGG_MAX, 1, 0, 10 };
	o.dtype = (tess_dtype){ TESS_DT_INT, 2, '<' };
	tess_pyramid *p;
	OK(tess_pyramid_create(&p, f->st, "ts", &o));
	int16_t d[5 * 6];
	for (int i = 0; i < 30; i++)
		d[i] = (int16_t)i;
	double t1[3] = {1.0, 2.5, 7.0}, t2[2] = {8.0, 20.0};
	OK(tess_pyramid_append(p, 0, t1, 3, d));
	FAILS(TESS_EINVAL, tess_pyramid_append(p, 0, (double[]){6.0}, 1, d));
	OK(tess_pyramid_append(p, 0, t2, 2, d + 18));
	/* writes past the end of a non-equidistant axis go through append */
	FAILS(TESS_EINVAL, tess_pyramid_write(p, (uint64_t[]){5, 0}, (uint64_t[]){1, 6}, d));
	OK(tess_pyramid_update(p, NULL));
	tess_pyramid_close(p);
	OK(tess_pyramid_open(&p, f->st, "ts"));
	assert_int_equal(tess_pyramid_info(p)->shape[0], 5);
	const double *c = tess_pyramid_coords(p, 0);
	assert_true(c[0] == 1.0 && c[3] == 8.0 && c[4] == 20.0);
	uint64_t s, n;
	OK(tess_pyramid_coord_range(p, 0, 2.0, 8.0, &s, &n));
	assert_true(s == 1 && n == 3);
	OK(tess_pyramid_coord_range(p, 0, 21, 30, &s, &n));
	assert_true(s == 5 && n == 0);
	double lo[2], hi[2];
	OK(tess_pyramid_extent(p, lo, hi));
	assert_true(lo[0] == 1.0 && hi[0] == 20.0 && lo[1] == 0 && hi[1] == 60);
	int16_t v;
	OK(tess_pyramid_point(p, (double[]){7.5, 25}, &v)); /* time 7.0 -> row 2, x 25 -> column 2 */
	assert_int_equal(v, 2 * 6 + 2);
	FAILS(TESS_ERANGE, tess_pyramid_point(p, (double[]){20.5, 25}, &v));
	FAILS(TESS_ERANGE, tess_pyramid_point(p, (double[]){0.5, 25}, &v));
	/* level 1: max over 2 x 2 blocks of (time, x) */
	int16_t l1[3 * 3];
	OK(tess_array_read(tess_pyramid_level(p, 1), (uint64_t[]){0, 0}, (uint64_t[]){3, 3}, l1));
	assert_int_equal(l1[0], 7);
	assert_int_equal(l1[8], 29);
	tess_pyramid_close(p);
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		scheme_arg = argv[1];
		const struct CMUnitTest on[] = {
			cmocka_unit_test_setup_teardown(t_plain_write_marks, setup_arg, teardown),
			cmocka_unit_test_setup_teardown(t_second_marker, setup_arg, teardown),
			cmocka_unit_test_setup_teardown(t_growth_and_rebuild, setup_arg, teardown),
			cmocka_unit_test_setup_teardown(t_update_on_write, setup_arg, teardown),
			cmocka_unit_test_setup_teardown(t_time_axis, setup_arg, teardown),
		};
		return cmocka_run_group_tests(on, NULL, NULL);
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(t_derived_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(t_plain_write_marks, setup, teardown),
		cmocka_unit_test_setup_teardown(t_plain_write_marks, setup_file, teardown),
		cmocka_unit_test_setup_teardown(t_second_marker, setup, teardown),
		cmocka_unit_test_setup_teardown(t_marker_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(t_growth_and_rebuild, setup, teardown),
		cmocka_unit_test_setup_teardown(t_growth_and_rebuild, setup_file, teardown),
		cmocka_unit_test_setup_teardown(t_update_on_write, setup, teardown),
		cmocka_unit_test_setup_teardown(t_v3_and_consolidated, setup_file, teardown),
		cmocka_unit_test_setup_teardown(t_options, setup, teardown),
		cmocka_unit_test(t_meta),
		cmocka_unit_test_setup_teardown(t_read_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(t_time_axis, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
