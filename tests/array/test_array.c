/*
 * The array core on the mem backend: random regions written and read back
 * against a reference model (plain per-element index arithmetic, no shared
 * code with the core), partial writes, fill deletion, edge chunks, resize,
 * F order, 0-d to 4-d, sharding with the index at either end, corrupt data.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "array/array_internal.h"
#include "codec/codec.h"
#include "tessera/array.h"
#include "tessera/blob.h"
#include "testutil.h"

#define MAXD TESS_ARRAY_MAX_DIMS

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}
static uint64_t rnd_below(uint64_t n) { return n ? rnd() % n : 0; }

static char *store_dir; /* of the last store made on disk, to remove */

static tess_store *new_store_of(const char *scheme)
{
	char *url = tu_store_url(scheme, &store_dir);
	tess_store *st;
	tess_store_opts o = TESS_STORE_OPTS_INIT;
	o.create = 1;
	assert_int_equal(tess_store_init(&st, url, &o), 0);
	free(url);
	return st;
}

static tess_store *new_store(void)
{
	return new_store_of("mem");
}

/* ---- the reference model --------------------------------------------------------- */

typedef struct model {
	int ndim;
	uint64_t shape[MAXD];
	size_t itemsize;
	uint8_t *data; /* C order */
	uint64_t n;
} model;

static void model_init(model *m, int ndim, const uint64_t *shape, size_t itemsize,
                       const uint8_t *fill)
{
	m->ndim = ndim;
	m->itemsize = itemsize;
	m->n = 1;
	for (int d = 0; d < ndim; d++) {
		m->shape[d] = shape[d];
		m->n *= shape[d];
	}
	m->data = malloc(m->n * itemsize + 1);
	for (uint64_t i = 0; i < m->n; i++)
		memcpy(m->data + i * itemsize, fill, itemsize);
}

/* Linear index in the model of region element `k` (C order in the region). */
static uint64_t model_index(const model *m, const uint64_t *start, const uint64_t *count,
                            uint64_t k)
{
	uint64_t idx = 0, stride = 1;
	for (int d = m->ndim - 1; d >= 0; d--) {
		uint64_t c = k % count[d];
		k /= count[d];
		idx += (start[d] + c) * stride;
		stride *= m->shape[d];
	}
	return idx;
}

static uint64_t region_elems(int ndim, const uint64_t *count)
{
	uint64_t n = 1;
	for (int d = 0; d < ndim; d++)
		n *= count[d];
	return n;
}

static void model_write(model *m, const uint64_t *start, const uint64_t *count,
                        const uint8_t *buf)
{
	uint64_t n = region_elems(m->ndim, count);
	for (uint64_t k = 0; k < n; k++)
		memcpy(m->data + model_index(m, start, count, k) * m->itemsize, buf + k * m->itemsize,
		       m->itemsize);
}

static void model_read(const model *m, const uint64_t *start, const uint64_t *count,
                       uint8_t *buf)
{
	uint64_t n = region_elems(m->ndim, count);
	for (uint64_t k = 0; k < n; k++)
		memcpy(buf + k * m->itemsize, m->data + model_index(m, start, count, k) * m->itemsize,
		       m->itemsize);
}

static void random_region(const model *m, uint64_t *start, uint64_t *count)
{
	for (int d = 0; d < m->ndim; d++) {
		start[d] = rnd_below(m->shape[d]);
		count[d] = 1 + rnd_below(m->shape[d] - start[d]);
		if (rnd_below(8) == 0) { /* sometimes the whole axis */
			start[d] = 0;
			count[d] = m->shape[d];
		}
	}
}

static void check_region(tess_array *a, const model *m, const uint64_t *start,
                         const uint64_t *count)
{
	uint64_t n = region_elems(m->ndim, count);
	uint8_t *got = malloc(n * m->itemsize + 1), *want = malloc(n * m->itemsize + 1);
	int rc = tess_array_read(a, start, count, got);
	if (rc)
		fail_msg("read: %s", tess_errmsg());
	model_read(m, start, count, want);
	if (memcmp(got, want, n * m->itemsize) != 0) {
		for (uint64_t k = 0; k < n * m->itemsize; k++)
			if (got[k] != want[k])
				fail_msg("region differs at byte %llu (element %llu): got %02x want %02x",
				         (unsigned long long)k, (unsigned long long)(k / m->itemsize),
				         got[k], want[k]);
	}
	free(got);
	free(want);
}

static void check_all(tess_array *a, const model *m)
{
	uint64_t start[MAXD] = {0};
	check_region(a, m, start, m->shape);
}

/* Number of keys under prefix. */
static size_t count_keys(tess_store *st, const char *prefix)
{
	tess_list *it;
	assert_int_equal(tess_list_open(&it, st, prefix, TESS_RECURSIVE), 0);
	const tess_list_entry *e;
	size_t n = 0;
	while (tess_list_next(&e, it) == 0)
		n += !e->is_prefix;
	tess_list_close(it);
	return n;
}

/* ---- one configuration, exercised at random ---------------------------------------- */

typedef struct config {
	const char *name;
	int format;
	int ndim;
	uint64_t shape[4], chunks[4], shard[4];
	const char *dtype, *codec, *fill;
	char order, sep;
	int index_at_start; /* sharded: rewrite zarr.json for "start" */
} config;

/* A sharded v3 array with its index at the start: the option API writes
 * "end", so the test edits the metadata. */
static void index_to_start(tess_store *st, const char *path)
{
	char key[256];
	snprintf(key, sizeof key, "%s/zarr.json", path);
	void *text;
	size_t len;
	assert_int_equal(tess_blob_get(&text, &len, st, key), 0);
	char *p = strstr(text, "\"index_location\": \"end\"");
	assert_non_null(p);
	char *fixed = malloc(len + 8);
	size_t head = (size_t)(p - (char *)text);
	memcpy(fixed, text, head);
	size_t n = (size_t)sprintf(fixed + head, "\"index_location\": \"start\"");
	strcpy(fixed + head + n, p + strlen("\"index_location\": \"end\""));
	assert_int_equal(tess_blob_put(st, key, fixed, strlen(fixed), 0), 0);
	free(fixed);
	tess_free(text);
}

static tess_array *create_config(tess_store *st, const config *c, const char *path)
{
	tess_array_opts o = TESS_ARRAY_OPTS_INIT;
	o.zarr_format = c->format;
	o.ndim = c->ndim;
	for (int d = 0; d < c->ndim; d++) {
		o.shape[d] = c->shape[d];
		o.chunks[d] = c->chunks[d];
		o.shard[d] = c->shard[d];
	}
	assert_int_equal(tess_dtype_parse(&o.dtype, c->dtype), 0);
	o.codec = c->codec;
	o.fill = c->fill;
	o.order = c->order ? c->order : 'C';
	o.dimension_separator = c->sep ? c->sep : '.';
	tess_array *a;
	int rc = tess_array_create(&a, st, path, &o);
	if (rc)
		fail_msg("%s: create: %s", c->name, tess_errmsg());
	if (c->index_at_start) {
		tess_array_close(a);
		index_to_start(st, path);
		assert_int_equal(tess_array_open(&a, st, path), 0);
	}
	return a;
}

static void random_fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

static void exercise_on(const config *c, tess_store *st)
{
	tess_array *a = create_config(st, c, "g/arr");
	size_t is = tess_array_dtype(a)->itemsize;
	/* the fill element as the core reads it: an unwritten element */
	uint8_t fill[64];
	uint64_t zero[MAXD] = {0}, one[MAXD];
	for (int d = 0; d < MAXD; d++)
		one[d] = 1;
	assert_int_equal(tess_array_read(a, zero, one, fill), 0);
	model m;
	model_init(&m, c->ndim, c->shape, is, fill);
	check_all(a, &m);
	uint64_t start[MAXD], count[MAXD];
	for (int round = 0; round < 40; round++) {
		random_region(&m, start, count);
		uint64_t n = region_elems(m.ndim, count);
		uint8_t *buf = malloc(n * is + 1);
		if (round % 5 == 4) /* some writes put fill back */
			for (uint64_t k = 0; k < n; k++)
				memcpy(buf + k * is, fill, is);
		else
			random_fill(buf, n * is);
		int rc = tess_array_write(a, start, count, buf);
		if (rc)
			fail_msg("%s: write: %s", c->name, tess_errmsg());
		model_write(&m, start, count, buf);
		free(buf);
		random_region(&m, start, count);
		check_region(a, &m, start, count);
	}
	check_all(a, &m);
	/* a fresh handle (no cache), and one thread */
	tess_array *b;
	assert_int_equal(tess_array_open(&b, st, "g/arr"), 0);
	assert_int_equal(tess_array_set_threads(b, 1), 0);
	check_all(b, &m);
	tess_array_close(b);
	/* all fill again: no chunk is left */
	uint8_t *buf = malloc(m.n * is + 1);
	for (uint64_t k = 0; k < m.n; k++)
		memcpy(buf + k * is, fill, is);
	assert_int_equal(tess_array_write(a, zero, m.shape, buf), 0);
	free(buf);
	assert_int_equal(count_keys(st, "g/arr/"), 1); /* the metadata alone */
	free(m.data);
	tess_array_close(a);
}

static void exercise(const config *c)
{
	tess_store *st = new_store();
	exercise_on(c, st);
	tess_store_close(st);
}

static const config configs[] = {
	{ "1d-none", 2, 1, {37}, {8}, {0}, "<i4", "none", NULL, 'C', '.', 0 },
	{ "1d-blosc", 2, 1, {100}, {7}, {0}, "<f8", "blosc:lz4:5:shuffle", "\"NaN\"", 'C', '.', 0 },
	{ "2d-f-zstd", 2, 2, {13, 9}, {4, 5}, {0}, ">i2", "zstd:3", "7", 'F', '/', 0 },
	{ "2d-c-gzip-u1", 2, 2, {6, 17}, {6, 4}, {0}, "|u1", "gzip:5", "255", 'C', '.', 0 },
	{ "3d-lz4-c8", 2, 3, {5, 6, 7}, {2, 3, 4}, {0}, "<c8", "lz4", NULL, 'C', '.', 0 },
	{ "3d-f-blosc-bitshuffle", 2, 3, {9, 4, 5}, {4, 4, 2}, {0}, "<u4", "blosc:zstd:3:bitshuffle",
	  "1", 'F', '.', 0 },
	{ "4d-zlib", 2, 4, {4, 5, 3, 6}, {3, 2, 2, 4}, {0}, ">f4", "zlib:1", "-1.5", 'C', '/', 0 },
	{ "2d-bool", 2, 2, {11, 11}, {4, 4}, {0}, "|b1", "none", "true", 'C', '.', 0 },
	{ "2d-S5", 2, 2, {7, 5}, {3, 3}, {0}, "|S5", "none", NULL, 'C', '.', 0 },
	{ "2d-U3-be", 2, 2, {7, 5}, {3, 3}, {0}, ">U3", "zstd", NULL, 'F', '.', 0 },
	{ "2d-c16-be-F", 2, 2, {5, 4}, {2, 3}, {0}, ">c16", "none", NULL, 'F', '.', 0 },
	{ "chunk-bigger-than-shape", 2, 2, {3, 2}, {8, 8}, {0}, "<i8", "blosc", NULL, 'C', '.', 0 },
	{ "v3-2d", 3, 2, {10, 11}, {3, 4}, {0}, "<f4", "blosc:lz4:5:shuffle", "0", 'C', 0, 0 },
	{ "v3-3d-F-be", 3, 3, {6, 5, 7}, {4, 2, 3}, {0}, ">i8", "gzip", "3", 'F', 0, 0 },
	{ "v3-shard-end", 3, 2, {20, 18}, {2, 3}, {8, 9}, "<u2", "zstd", "0", 'C', 0, 0 },
	{ "v3-shard-start", 3, 2, {20, 18}, {2, 3}, {8, 9}, "<u2", "none", "5", 'C', 0, 1 },
	{ "v3-shard-3d-be", 3, 3, {9, 8, 7}, {2, 2, 2}, {4, 4, 4}, ">f8", "blosc", "\"NaN\"", 'C', 0, 0 },
	{ "v3-shard-1d-start", 3, 1, {100}, {5}, {20}, "<i4", "zstd", "-1", 'C', 0, 1 },
};

static void test_random_configs(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
		print_message("    %s\n", configs[i].name);
		exercise(&configs[i]);
	}
}

/* The same on the file and LMDB backends (LMDB has a batched get). */
static void test_disk_backends(void **state)
{
	(void)state;
	const char *schemes[] = { "file", "lmdb" };
	const size_t picks[] = { 2, 6, 15 }; /* F order, 4-d, shards with the index at the start */
	for (size_t s = 0; s < 2; s++) {
		tess_store *st = new_store_of(schemes[s]);
		for (size_t i = 0; i < 3; i++) {
			print_message("    %s %s\n", schemes[s], configs[picks[i]].name);
			exercise_on(&configs[picks[i]], st);
			assert_int_equal(tess_array_delete(st, "g/arr"), 0);
		}
		tess_store_close(st);
		tu_rmrf(store_dir);
		free(store_dir);
	}
}

/* ---- specific behaviours ------------------------------------------------------------- */

static tess_array *simple(tess_store *st, const char *path, int ndim, const uint64_t *shape,
                          const uint64_t *chunks, const char *dtype, const char *codec)
{
	config c = { path, 2, ndim, {0}, {0}, {0}, dtype, codec, NULL, 'C', '.', 0 };
	for (int d = 0; d < ndim; d++) {
		c.shape[d] = shape[d];
		c.chunks[d] = chunks[d];
	}
	return create_config(st, &c, path);
}

static void test_zero_d(void **state)
{
	(void)state;
	tess_store *st = new_store();
	for (int fmt = 2; fmt <= 3; fmt++) {
		tess_array_opts o = TESS_ARRAY_OPTS_INIT;
		o.zarr_format = fmt;
		o.ndim = 0;
		o.codec = "zstd";
		assert_int_equal(tess_dtype_parse(&o.dtype, "<i8"), 0);
		tess_array *a;
		const char *path = fmt == 2 ? "s2" : "s3";
		assert_int_equal(tess_array_create(&a, st, path, &o), 0);
		int64_t v = -1;
		assert_int_equal(tess_array_read(a, NULL, NULL, &v), 0);
		assert_int_equal(v, 0);
		v = 42;
		assert_int_equal(tess_array_write(a, NULL, NULL, &v), 0);
		void *data;
		size_t len;
		char key[32];
		snprintf(key, sizeof key, "%s/%s", path, fmt == 2 ? "0" : "c");
		assert_int_equal(tess_blob_get(&data, &len, st, key), 0);
		tess_free(data);
		tess_array_close(a);
		assert_int_equal(tess_array_open(&a, st, path), 0);
		v = 0;
		assert_int_equal(tess_array_read(a, NULL, NULL, &v), 0);
		assert_int_equal(v, 42);
		tess_array_close(a);
	}
	tess_store_close(st);
}

static void test_edge_chunks_full_size(void **state)
{
	(void)state;
	tess_store *st = new_store();
	uint64_t shape[2] = {5, 3}, chunks[2] = {4, 2};
	tess_array *a = simple(st, "e", 2, shape, chunks, "<i4", "none");
	int32_t data[15];
	for (int i = 0; i < 15; i++)
		data[i] = i + 1;
	uint64_t zero[2] = {0};
	assert_int_equal(tess_array_write(a, zero, shape, data), 0);
	/* the corner chunk (1,1) holds one element but is stored full size,
	 * fill beyond the shape */
	void *raw;
	size_t len;
	assert_int_equal(tess_blob_get(&raw, &len, st, "e/1.1"), 0);
	assert_int_equal(len, 4 * 2 * sizeof(int32_t));
	int32_t *c = raw;
	assert_int_equal(c[0], 15);
	for (int i = 1; i < 8; i++)
		assert_int_equal(c[i], 0);
	tess_free(raw);
	tess_array_close(a);
	tess_store_close(st);
}

static void test_fill_chunks_deleted(void **state)
{
	(void)state;
	tess_store *st = new_store();
	uint64_t shape[1] = {10}, chunks[1] = {4};
	tess_array *a = simple(st, "f", 1, shape, chunks, "<u2", "blosc");
	uint16_t v[10] = {0};
	uint64_t zero[1] = {0};
	assert_int_equal(tess_array_write(a, zero, shape, v), 0);
	assert_int_equal(count_keys(st, "f/"), 1);
	v[5] = 9;
	assert_int_equal(tess_array_write(a, zero, shape, v), 0);
	assert_int_equal(count_keys(st, "f/"), 2); /* f/1 */
	/* a partial write that puts the fill back deletes the chunk */
	uint64_t s5[1] = {5}, c1[1] = {1};
	uint16_t z = 0;
	assert_int_equal(tess_array_write(a, s5, c1, &z), 0);
	assert_int_equal(count_keys(st, "f/"), 1);
	tess_array_close(a);
	tess_store_close(st);
}

static void test_resize(void **state)
{
	(void)state;
	tess_store *st = new_store();
	uint64_t shape[2] = {6, 6}, chunks[2] = {4, 4};
	tess_array *a = simple(st, "r", 2, shape, chunks, "<i2", "zstd");
	int16_t v[36];
	for (int i = 0; i < 36; i++)
		v[i] = (int16_t)(i + 1);
	uint64_t zero[2] = {0};
	assert_int_equal(tess_array_write(a, zero, shape, v), 0);
	assert_int_equal(count_keys(st, "r/"), 5);
	/* shrink to 3x5: chunks (1,*) go, (0,1) is an edge chunk and stays */
	uint64_t small[2] = {3, 5};
	assert_int_equal(tess_array_resize(a, small), 0);
	assert_int_equal(count_keys(st, "r/"), 3);
	assert_int_equal(tess_array_shape(a)[0], 3);
	int16_t got[36];
	assert_int_equal(tess_array_read(a, zero, small, got), 0);
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 5; j++)
			assert_int_equal(got[i * 5 + j], v[i * 6 + j]);
	/* reopen: the stored shape changed */
	tess_array *b;
	assert_int_equal(tess_array_open(&b, st, "r"), 0);
	assert_int_equal(tess_array_shape(b)[1], 5);
	tess_array_close(b);
	/* grow back: as zarr-python, the edge chunk's old data shows again
	 * (column 5 of rows 0..2 and row 3 of chunk (0,*)), deleted chunks read
	 * as fill */
	uint64_t big[2] = {8, 8};
	assert_int_equal(tess_array_resize(a, big), 0);
	int16_t g2[64];
	assert_int_equal(tess_array_read(a, zero, big, g2), 0);
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 8; j++) {
			int16_t want = i < 4 && j < 6 ? v[i * 6 + j] : 0;
			assert_int_equal(g2[i * 8 + j], want);
		}
	uint64_t bad[2] = {9, 1};
	uint64_t out[2] = {0, 0};
	assert_int_equal(tess_array_read(a, bad, out, g2), TESS_EINVAL);
	tess_array_close(a);
	tess_store_close(st);
}

static void test_f_order_layout(void **state)
{
	(void)state;
	tess_store *st = new_store();
	config c = { "F", 2, 2, {2, 3}, {2, 3}, {0}, "<i4", "none", NULL, 'F', '.', 0 };
	tess_array *a = create_config(st, &c, "fo");
	int32_t v[6] = {1, 2, 3, 4, 5, 6}; /* [[1,2,3],[4,5,6]] */
	uint64_t zero[2] = {0};
	assert_int_equal(tess_array_write(a, zero, c.shape, v), 0);
	void *raw;
	size_t len;
	assert_int_equal(tess_blob_get(&raw, &len, st, "fo/0.0"), 0);
	int32_t want[6] = {1, 4, 2, 5, 3, 6}; /* column major */
	assert_int_equal(len, sizeof want);
	assert_memory_equal(raw, want, sizeof want);
	tess_free(raw);
	tess_array_close(a);
	tess_store_close(st);
}

static void test_byte_order_layout(void **state)
{
	(void)state;
	tess_store *st = new_store();
	config c = { "BE", 2, 1, {2}, {2}, {0}, ">u2", "none", NULL, 'C', '.', 0 };
	tess_array *a = create_config(st, &c, "be");
	uint8_t v[4] = {0x01, 0x02, 0x03, 0x04}; /* caller's buffer is big endian already */
	uint64_t zero[1] = {0};
	assert_int_equal(tess_array_write(a, zero, c.shape, v), 0);
	void *raw;
	size_t len;
	assert_int_equal(tess_blob_get(&raw, &len, st, "be/0"), 0);
	assert_memory_equal(raw, v, 4);
	tess_free(raw);
	tess_array_close(a);
	/* v3 with a big-endian bytes codec: the caller's buffer is little endian */
	config c3 = { "BE3", 3, 1, {2}, {2}, {0}, ">u2", "none", NULL, 'C', 0, 0 };
	a = create_config(st, &c3, "be3");
	uint16_t le[2] = {0x0102, 0x0304};
	assert_int_equal(tess_array_write(a, zero, c3.shape, le), 0);
	assert_int_equal(tess_blob_get(&raw, &len, st, "be3/c/0"), 0);
	assert_memory_equal(raw, v, 4);
	tess_free(raw);
	uint16_t back[2];
	tess_array_set_cache_bytes(a, 0);
	assert_int_equal(tess_array_read(a, zero, c3.shape, back), 0);
	assert_memory_equal(back, le, 4);
	tess_array_close(a);
	tess_store_close(st);
}

/* The shard layout, byte for byte: codec none, index at the end, crc32c. */
static void test_shard_layout(void **state)
{
	(void)state;
	tess_store *st = new_store();
	config c = { "SL", 3, 1, {8}, {2}, {8}, "<u1", "none", "0", 'C', 0, 0 };
	tess_array *a = create_config(st, &c, "sl");
	uint8_t v[8] = {0, 0, 3, 4, 0, 0, 7, 0}; /* inner chunks 0 and 2 empty */
	uint64_t zero[1] = {0};
	assert_int_equal(tess_array_write(a, zero, c.shape, v), 0);
	void *raw;
	size_t len;
	assert_int_equal(tess_blob_get(&raw, &len, st, "sl/c/0"), 0);
	assert_int_equal(len, 4 + 4 * 16 + 4);
	uint8_t *p = raw;
	assert_memory_equal(p, "\x03\x04\x07\x00", 4);
	uint64_t want[8] = {UINT64_MAX, UINT64_MAX, 0, 2, UINT64_MAX, UINT64_MAX, 2, 2};
	for (int i = 0; i < 8; i++) {
		uint64_t x = 0;
		for (int b = 0; b < 8; b++)
			x |= (uint64_t)p[4 + 8 * i + b] << (8 * b);
		assert_true(x == want[i]);
	}
	uint32_t crc = tess_crc32c(0, p + 4, 64);
	uint32_t stored = (uint32_t)p[68] | (uint32_t)p[69] << 8 | (uint32_t)p[70] << 16 |
	                  (uint32_t)p[71] << 24;
	assert_int_equal(crc, stored);
	tess_free(raw);
	/* all fill: the shard goes */
	memset(v, 0, sizeof v);
	assert_int_equal(tess_array_write(a, zero, c.shape, v), 0);
	assert_int_equal(tess_blob_stat(&(tess_stat){0}, st, "sl/c/0"), TESS_ENOTFOUND);
	tess_array_close(a);
	tess_store_close(st);
}

/* Partial reads of a shard fetch the index and the needed inner chunks,
 * also through a handle whose cache is off; empty inner chunks are fill. */
static void test_shard_partial(void **state)
{
	(void)state;
	tess_store *st = new_store();
	for (int at_start = 0; at_start <= 1; at_start++) {
		config c = { "SP", 3, 2, {16, 16}, {4, 4}, {8, 8}, "<i4", "zstd", "-7", 'C', 0,
		             at_start };
		const char *path = at_start ? "sps" : "spe";
		tess_array *a = create_config(st, &c, path);
		int32_t v[16];
		for (int i = 0; i < 16; i++)
			v[i] = i * 3;
		uint64_t s[2] = {4, 8}, n[2] = {4, 4};
		assert_int_equal(tess_array_write(a, s, n, v), 0);
		tess_array_close(a);
		assert_int_equal(tess_array_open(&a, st, path), 0);
		tess_array_set_cache_bytes(a, 0);
		int32_t got[4];
		uint64_t s2[2] = {6, 9}, n2[2] = {1, 4}; /* crosses into an empty inner chunk */
		assert_int_equal(tess_array_read(a, s2, n2, got), 0);
		assert_int_equal(got[0], v[2 * 4 + 1]);
		assert_int_equal(got[1], v[2 * 4 + 2]);
		assert_int_equal(got[2], v[2 * 4 + 3]);
		assert_int_equal(got[3], -7);
		tess_array_close(a);
	}
	tess_store_close(st);
}

static void test_corrupt(void **state)
{
	(void)state;
	tess_store *st = new_store();
	uint64_t shape[2] = {8, 8}, chunks[2] = {4, 4};
	tess_array *a = simple(st, "c/x", 2, shape, chunks, "<f4", "blosc");
	float v[64];
	for (int i = 0; i < 64; i++)
		v[i] = (float)i;
	uint64_t zero[2] = {0};
	assert_int_equal(tess_array_write(a, zero, shape, v), 0);
	assert_int_equal(tess_blob_put(st, "c/x/1.0", "garbage!garbage!garbage!", 24, 0), 0);
	tess_array_set_cache_bytes(a, 0);
	int rc = tess_array_read(a, zero, shape, v);
	assert_int_equal(rc, TESS_ECORRUPT);
	assert_non_null(strstr(tess_errmsg(), "array 'c/x': chunk '1.0'"));
	/* a partial write over the corrupt chunk fails the same way */
	uint64_t s[2] = {5, 1}, n[2] = {1, 1};
	assert_int_equal(tess_array_write(a, s, n, v), TESS_ECORRUPT);
	assert_non_null(strstr(tess_errmsg(), "chunk '1.0'"));
	tess_array_close(a);
	/* decompression bombs: 4 MiB of zeros where a 1 KiB chunk belongs */
	const char *bombs[] = { "gzip:1", "zstd:1", "blosc:lz4:5:shuffle", "lz4", "zlib:1" };
	for (size_t i = 0; i < sizeof bombs / sizeof bombs[0]; i++) {
		char path[32], key[48];
		snprintf(path, sizeof path, "bomb%zu", i);
		uint64_t bs[2] = {16, 16};
		a = simple(st, path, 2, bs, bs, "<i4", bombs[i]);
		tess_codec_ctx ctx = { 2, 4, "<i4" };
		tess_codec *codec;
		assert_int_equal(tess_codec_from_spec(&codec, bombs[i], &ctx), 0);
		uint8_t *zeros = calloc(1, 4 << 20);
		tess_buf enc = {0};
		assert_int_equal(codec->ops->encode(codec, zeros, 4 << 20, &enc), 0);
		snprintf(key, sizeof key, "%s/0.0", path);
		assert_int_equal(tess_blob_put(st, key, enc.data, enc.len, 0), 0);
		int32_t out[256];
		assert_int_equal(tess_array_read(a, zero, bs, out), TESS_ECORRUPT);
		assert_non_null(strstr(tess_errmsg(), "chunk '0.0'"));
		tess_buf_free(&enc);
		free(zeros);
		tess_codec_free(codec);
		tess_array_close(a);
	}
	/* a raw chunk of the wrong size */
	a = simple(st, "c/y", 2, shape, chunks, "<f4", "none");
	assert_int_equal(tess_blob_put(st, "c/y/0.1", "short", 5, 0), 0);
	assert_int_equal(tess_array_read(a, zero, shape, v), TESS_ECORRUPT);
	assert_non_null(strstr(tess_errmsg(), "chunk '0.1'"));
	tess_array_close(a);
	/* a shard with a bad index checksum, and one too short for its index */
	config c = { "SC", 3, 1, {8}, {2}, {8}, "<u1", "none", "0", 'C', 0, 0 };
	a = create_config(st, &c, "c/z");
	uint8_t b[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	uint64_t one[1] = {8}, z1[1] = {0};
	assert_int_equal(tess_array_write(a, z1, one, b), 0);
	void *raw;
	size_t len;
	assert_int_equal(tess_blob_get(&raw, &len, st, "c/z/c/0"), 0);
	((uint8_t *)raw)[len - 10] ^= 1;
	assert_int_equal(tess_blob_put(st, "c/z/c/0", raw, len, 0), 0);
	tess_free(raw);
	tess_array_set_cache_bytes(a, 0);
	assert_int_equal(tess_array_read(a, z1, one, b), TESS_ECORRUPT);
	assert_non_null(strstr(tess_errmsg(), "chunk 'c/0'"));
	uint64_t s1[1] = {3}, n1[1] = {1};
	assert_int_equal(tess_array_read(a, s1, n1, b), TESS_ECORRUPT);
	assert_int_equal(tess_blob_put(st, "c/z/c/0", "tiny", 4, 0), 0);
	assert_int_equal(tess_array_read(a, s1, n1, b), TESS_ECORRUPT);
	assert_non_null(strstr(tess_errmsg(), "chunk 'c/0'"));
	/* an index pointing past the end of the shard */
	uint8_t shard[4 * 16 + 4]; /* 4 inner chunks */
	memset(shard, 0xff, sizeof shard);
	memset(shard, 0, 16);
	shard[8] = 200; /* inner chunk 0 at offset 0, 200 bytes */
	uint32_t crc = tess_crc32c(0, shard, 64);
	for (int i = 0; i < 4; i++)
		shard[64 + i] = (uint8_t)(crc >> (8 * i));
	assert_int_equal(tess_blob_put(st, "c/z/c/0", shard, sizeof shard, 0), 0);
	assert_int_equal(tess_array_read(a, s1, n1, b), TESS_ECORRUPT);
	assert_non_null(strstr(tess_errmsg(), "outside"));
	assert_int_equal(tess_array_read(a, z1, one, b), TESS_ECORRUPT);
	tess_array_close(a);
	tess_store_close(st);
}

static void test_create_open_errors(void **state)
{
	(void)state;
	tess_store *st = new_store();
	uint64_t shape[1] = {4}, chunks[1] = {2};
	tess_array *a = simple(st, "p/q", 1, shape, chunks, "<i4", "none");
	tess_array_close(a);
	/* parent groups exist */
	tess_stat sb;
	assert_int_equal(tess_blob_stat(&sb, st, "p/.zgroup"), 0);
	tess_array_opts o = TESS_ARRAY_OPTS_INIT;
	o.ndim = 1;
	o.shape[0] = 4;
	assert_int_equal(tess_array_create(&a, st, "p/q", &o), TESS_EEXISTS);
	assert_int_equal(tess_array_create(&a, st, "p", &o), TESS_EEXISTS);
	assert_int_equal(tess_array_create(&a, st, "p/q/r", &o), TESS_ECONFLICT);
	assert_int_equal(tess_array_open(&a, st, "nothing"), TESS_ENOTFOUND);
	assert_int_equal(tess_array_open(&a, st, "p"), TESS_ENOTFOUND);
	assert_non_null(strstr(tess_errmsg(), "group"));
	o.chunks[0] = 0;
	o.shape[0] = 0;
	assert_int_equal(tess_array_create(&a, st, "empty", &o), 0);
	int32_t x;
	uint64_t z[1] = {0}, n[1] = {0};
	assert_int_equal(tess_array_read(a, z, n, &x), 0);
	tess_array_close(a);
	/* v3 parents are v3 groups */
	o.zarr_format = 3;
	o.shape[0] = 3;
	assert_int_equal(tess_array_create(&a, st, "v3/grp/arr", &o), 0);
	tess_array_close(a);
	assert_int_equal(tess_blob_stat(&sb, st, "v3/grp/zarr.json"), 0);
	assert_int_equal(tess_array_open(&a, st, "v3/grp"), TESS_ENOTFOUND);
	/* delete */
	assert_int_equal(tess_array_delete(st, "p/q"), 0);
	assert_int_equal(count_keys(st, "p/q/"), 0);
	assert_int_equal(tess_array_delete(st, "p/q"), TESS_ENOTFOUND);
	assert_int_equal(tess_array_delete(st, "v3/grp/arr"), 0);
	assert_int_equal(count_keys(st, "v3/grp/arr/"), 0);
	tess_store_close(st);
}

/* Consolidated metadata is used by open and kept current. */
static void test_consolidated(void **state)
{
	(void)state;
	tess_store *st = new_store();
	uint64_t shape[1] = {4}, chunks[1] = {2};
	tess_array *a = simple(st, "k/a", 1, shape, chunks, "<i4", "none");
	tess_array_close(a);
	assert_int_equal(tess_array_consolidate(st), 0);
	void *text;
	size_t len;
	assert_int_equal(tess_blob_get(&text, &len, st, ".zmetadata"), 0);
	assert_non_null(strstr(text, "\"k/a/.zarray\""));
	assert_non_null(strstr(text, "\"zarr_consolidated_format\": 1"));
	tess_free(text);
	/* open reads .zmetadata: the array's own .zarray is not needed */
	void *zarray;
	assert_int_equal(tess_blob_get(&zarray, &len, st, "k/a/.zarray"), 0);
	assert_int_equal(tess_blob_delete(NULL, st, "k/a/.zarray", 0), 0);
	assert_int_equal(tess_array_open(&a, st, "k/a"), 0);
	tess_array_close(a);
	assert_int_equal(tess_blob_put(st, "k/a/.zarray", zarray, len, 0), 0);
	tess_free(zarray);
	/* resize updates .zmetadata */
	assert_int_equal(tess_array_open(&a, st, "k/a"), 0);
	uint64_t bigger[1] = {40};
	assert_int_equal(tess_array_resize(a, bigger), 0);
	tess_array_close(a);
	assert_int_equal(tess_array_open(&a, st, "k/a"), 0);
	assert_int_equal(tess_array_shape(a)[0], 40);
	tess_array_close(a);
	/* new arrays join it, deleted ones leave */
	a = simple(st, "k/b/c", 1, shape, chunks, "<i4", "none");
	tess_array_close(a);
	assert_int_equal(tess_blob_get(&text, &len, st, ".zmetadata"), 0);
	assert_non_null(strstr(text, "\"k/b/c/.zarray\""));
	assert_non_null(strstr(text, "\"k/b/.zgroup\""));
	tess_free(text);
	assert_int_equal(tess_array_delete(st, "k/b/c"), 0);
	assert_int_equal(tess_blob_get(&text, &len, st, ".zmetadata"), 0);
	assert_null(strstr(text, "\"k/b/c/.zarray\""));
	tess_free(text);
	tess_store_close(st);
}

/* Threads and cache change nothing in the results. */
static void test_threads_and_cache(void **state)
{
	(void)state;
	tess_store *st = new_store();
	uint64_t shape[2] = {64, 48}, chunks[2] = {8, 8};
	tess_array *a = simple(st, "t", 2, shape, chunks, "<f8", "blosc:lz4:5:shuffle");
	model m;
	double zero_d = 0;
	model_init(&m, 2, shape, 8, (uint8_t *)&zero_d);
	unsigned threads[] = {1, 3, 0};
	for (int t = 0; t < 3; t++) {
		assert_int_equal(tess_array_set_threads(a, threads[t]), 0);
		tess_array_set_cache_bytes(a, t == 1 ? 0 : (size_t)1 << 20);
		for (int round = 0; round < 10; round++) {
			uint64_t s[2], n[2];
			random_region(&m, s, n);
			uint64_t e = region_elems(2, n);
			uint8_t *buf = malloc(e * 8);
			random_fill(buf, e * 8);
			assert_int_equal(tess_array_write(a, s, n, buf), 0);
			model_write(&m, s, n, buf);
			free(buf);
			random_region(&m, s, n);
			check_region(a, &m, s, n);
			check_region(a, &m, s, n); /* the second time from the cache */
		}
	}
	free(m.data);
	tess_array_close(a);
	tess_store_close(st);
}


/* ---- a backend that counts round trips (wraps mem) ------------------------------------- */

typedef struct counters {
	unsigned long gets, get_manys, get_reqs, stats, puts, put_manys;
	unsigned long long bytes;
} counters;
static counters cnt;

typedef struct count_backend {
	tess_backend base;
	tess_backend *inner;
	const tess_backend_ops *ops;
} count_backend;

#define INNER(be) (((count_backend *)(be))->inner)
#define IOPS(be) (((count_backend *)(be))->ops)

static const tess_backend_ops count_ops;

static int count_open(tess_backend **out, const char *location, const char *query,
                      unsigned flags)
{
	count_backend *cb = calloc(1, sizeof *cb);
	cb->base.ops = &count_ops;
	cb->ops = tess_backend_find("mem");
	int rc = cb->ops->open(&cb->inner, location, query, flags);
	if (rc) {
		free(cb);
		return rc;
	}
	*out = &cb->base;
	return 0;
}
static void count_close(tess_backend *be)
{
	if (be) {
		IOPS(be)->close(INNER(be));
		free(be);
	}
}
static int count_get(tess_backend *be, const char *key, uint64_t off, uint64_t len, tess_buf *out)
{
	__atomic_add_fetch(&cnt.gets, 1, __ATOMIC_RELAXED);
	size_t before = out->len;
	int rc = IOPS(be)->get(INNER(be), key, off, len, out);
	__atomic_add_fetch(&cnt.bytes, out->len - before, __ATOMIC_RELAXED);
	return rc;
}
/* Called once after a batched get, as a writer in another process would. */
static void (*after_get_many)(tess_backend *be);

static int count_get_many(tess_backend *be, tess_get_req *reqs, size_t n)
{
	__atomic_add_fetch(&cnt.get_manys, 1, __ATOMIC_RELAXED);
	void (*hook)(tess_backend *) = after_get_many;
	after_get_many = NULL;
	__atomic_add_fetch(&cnt.get_reqs, n, __ATOMIC_RELAXED);
	for (size_t i = 0; i < n; i++) {
		size_t before = reqs[i].out->len;
		reqs[i].status = IOPS(be)->get(INNER(be), reqs[i].key, reqs[i].offset, reqs[i].length,
		                               reqs[i].out);
		__atomic_add_fetch(&cnt.bytes, reqs[i].out->len - before, __ATOMIC_RELAXED);
	}
	if (hook)
		hook(be);
	return 0;
}
static int count_put(tess_backend *be, const char *key, const void *data, size_t len,
                     unsigned flags)
{
	__atomic_add_fetch(&cnt.puts, 1, __ATOMIC_RELAXED);
	return IOPS(be)->put(INNER(be), key, data, len, flags);
}
static int count_put_many(tess_backend *be, tess_put_req *reqs, size_t n)
{
	__atomic_add_fetch(&cnt.put_manys, 1, __ATOMIC_RELAXED);
	return IOPS(be)->put_many(INNER(be), reqs, n);
}
static int count_writer_open(tess_backend *be, tess_writer **out, const char *key, uint64_t size,
                             unsigned flags)
{
	return IOPS(be)->writer_open(INNER(be), out, key, size, flags);
}
static int count_writer_write(tess_writer *w, const void *data, size_t len)
{
	return tess_backend_find("mem")->writer_write(w, data, len);
}
static int count_writer_commit(tess_writer *w)
{
	return tess_backend_find("mem")->writer_commit(w);
}
static void count_writer_abort(tess_writer *w)
{
	tess_backend_find("mem")->writer_abort(w);
}
static int count_stat(tess_backend *be, const char *key, tess_stat *out)
{
	__atomic_add_fetch(&cnt.stats, 1, __ATOMIC_RELAXED);
	return IOPS(be)->stat(INNER(be), key, out);
}
static int count_del(tess_backend *be, const char *key)
{
	return IOPS(be)->del(INNER(be), key);
}
static int count_list(tess_backend *be, const char *prefix, const char *delim,
                      const char *start_after, size_t max, tess_list_page *page)
{
	return IOPS(be)->list(INNER(be), prefix, delim, start_after, max, page);
}

static const tess_backend_ops count_ops = {
	.abi = TESS_BACKEND_ABI,
	.scheme = "count",
	.open = count_open,
	.close = count_close,
	.get = count_get,
	.put = count_put,
	.writer_open = count_writer_open,
	.writer_write = count_writer_write,
	.writer_commit = count_writer_commit,
	.writer_abort = count_writer_abort,
	.stat = count_stat,
	.del = count_del,
	.list = count_list,
	.get_many = count_get_many,
	.put_many = count_put_many,
};

static tess_store *count_store(void)
{
	static int registered, n;
	if (!registered++)
		assert_int_equal(tess_backend_register(&count_ops), 0);
	char url[64];
	snprintf(url, sizeof url, "count://c%d-%d", (int)getpid(), n++);
	tess_store *st;
	tess_store_opts o = TESS_STORE_OPTS_INIT;
	o.create = 1;
	assert_int_equal(tess_store_init(&st, url, &o), 0);
	return st;
}

/* A region read is one batched get; a partial write fetches its partial
 * chunks in one batched get and stores with one batched put. */
static void test_round_trips(void **state)
{
	(void)state;
	tess_store *st = count_store();
	uint64_t shape[2] = {64, 64}, chunks[2] = {8, 8};
	tess_array *a = simple(st, "rt", 2, shape, chunks, "<u2", "zstd");
	uint16_t *v = malloc(64 * 64 * 2);
	for (int i = 0; i < 64 * 64; i++)
		v[i] = (uint16_t)(i + 1);
	uint64_t zero[2] = {0};
	memset(&cnt, 0, sizeof cnt);
	assert_int_equal(tess_array_write(a, zero, shape, v), 0);
	assert_int_equal(cnt.put_manys, 1);
	assert_int_equal(cnt.get_manys + cnt.gets, 0); /* whole chunks: nothing read */
	tess_array_set_cache_bytes(a, 0);
	memset(&cnt, 0, sizeof cnt);
	uint64_t s[2] = {4, 4}, n[2] = {30, 30};
	assert_int_equal(tess_array_read(a, s, n, v), 0);
	assert_int_equal(cnt.get_manys, 1);
	assert_int_equal(cnt.get_reqs, 25); /* chunks 0..4 on both axes */
	assert_int_equal(cnt.gets, 0);
	memset(&cnt, 0, sizeof cnt);
	assert_int_equal(tess_array_write(a, s, n, v), 0);
	assert_int_equal(cnt.get_manys, 1); /* the 16 partial chunks around 3x3 whole ones */
	assert_int_equal(cnt.get_reqs, 16);
	assert_int_equal(cnt.put_manys, 1);
	tess_array_close(a);
	free(v);
	tess_store_close(st);
}

/* Sharded reads fetch the index and only the inner chunks they need. */
static void test_shard_round_trips(void **state)
{
	(void)state;
	tess_store *st = count_store();
	for (int at_start = 0; at_start <= 1; at_start++) {
		config c = { "SR", 3, 2, {64, 64}, {8, 8}, {32, 32}, "<f4", "none", "0", 'C', 0,
		             at_start };
		tess_array *a = create_config(st, &c, at_start ? "srs" : "sre");
		float *v = malloc(64 * 64 * 4);
		for (int i = 0; i < 64 * 64; i++)
			v[i] = (float)i + 0.5f;
		uint64_t zero[2] = {0};
		assert_int_equal(tess_array_write(a, zero, c.shape, v), 0);
		tess_array_set_cache_bytes(a, 0);
		/* one inner chunk: stat, index, the inner chunk, stat again */
		memset(&cnt, 0, sizeof cnt);
		uint64_t s[2] = {40, 8}, n[2] = {8, 8};
		float w[64];
		assert_int_equal(tess_array_read(a, s, n, w), 0);
		assert_int_equal(w[0], v[40 * 64 + 8]);
		assert_int_equal(cnt.stats, 2);
		assert_int_equal(cnt.get_manys, 2);
		assert_int_equal(cnt.get_reqs, 2);
		size_t index_len = 16 * 16 + 4;
		assert_int_equal(cnt.bytes, index_len + 8 * 8 * 4);
		/* a whole shard: one get of the object, no index round trip */
		memset(&cnt, 0, sizeof cnt);
		uint64_t s2[2] = {32, 0}, n2[2] = {32, 32};
		float *w2 = malloc(32 * 32 * 4);
		assert_int_equal(tess_array_read(a, s2, n2, w2), 0);
		assert_int_equal(cnt.stats, 0);
		assert_int_equal(cnt.get_manys, 1);
		assert_int_equal(cnt.get_reqs, 1);
		assert_int_equal(cnt.bytes, index_len + 32 * 32 * 4);
		/* with the cache on, the index is fetched once per etag */
		tess_array_set_cache_bytes(a, 1 << 20);
		assert_int_equal(tess_array_read(a, s, n, w), 0);
		memset(&cnt, 0, sizeof cnt);
		uint64_t s3[2] = {48, 16};
		assert_int_equal(tess_array_read(a, s3, n, w), 0);
		assert_int_equal(cnt.stats, 2);
		assert_int_equal(cnt.get_reqs, 1);
		assert_int_equal(w[0], v[48 * 64 + 16]);
		free(w2);
		free(v);
		tess_array_close(a);
	}
	tess_store_close(st);
}

/* A shard rewritten between the index fetch and the inner chunk fetch: the
 * read notices (the etag moved) and starts over instead of reading the new
 * shard's bytes at the old index's offsets. */
static void *version_b;
static size_t version_b_len;

static void rewrite_shard(tess_backend *be)
{
	IOPS(be)->put(INNER(be), "race/c/0", version_b, version_b_len, 0);
}

static void test_shard_rewritten_while_read(void **state)
{
	(void)state;
	tess_store *st = count_store();
	config c = { "race", 3, 1, {8}, {2}, {8}, "|u1", "none", "0", 'C', 0, 0 };
	tess_array *a = create_config(st, &c, "race");
	tess_array_set_cache_bytes(a, 0);
	uint8_t va[8] = {0, 0, 5, 5, 0, 0, 0, 0}, vb[8] = {1, 1, 2, 2, 3, 3, 4, 4};
	uint64_t z[1] = {0}, all[1] = {8};
	assert_int_equal(tess_array_write(a, z, all, vb), 0);
	assert_int_equal(tess_blob_get(&version_b, &version_b_len, st, "race/c/0"), 0);
	assert_int_equal(tess_array_write(a, z, all, va), 0); /* inner chunk 1 at offset 0 */
	after_get_many = rewrite_shard;
	uint8_t got[2];
	uint64_t s1[1] = {2}, n1[1] = {2};
	assert_int_equal(tess_array_read(a, s1, n1, got), 0);
	assert_null(after_get_many); /* the rewrite happened */
	assert_int_equal(got[0], 2);
	assert_int_equal(got[1], 2);
	tess_free(version_b);
	tess_array_close(a);
	tess_store_close(st);
}

/* ---- threads sharing one handle ---------------------------------------------------- */

typedef struct worker {
	tess_array *a;
	int id;
	int32_t *rows; /* this worker's 16 rows, as last written */
	int rc;
} worker;

static void *writer_main(void *arg)
{
	worker *w = arg;
	uint64_t s[2] = {(uint64_t)w->id * 16, 0}, n[2] = {16, 64};
	for (int round = 0; round < 15 && !w->rc; round++) {
		for (int i = 0; i < 16 * 64; i++)
			w->rows[i] = w->id * 1000000 + round * 10000 + i;
		w->rc = tess_array_write(w->a, s, n, w->rows);
	}
	return NULL;
}

static void *reader_main(void *arg)
{
	worker *w = arg;
	int32_t buf[64 * 64];
	for (int round = 0; round < 30 && !w->rc; round++) {
		uint64_t s[2] = {(uint64_t)(round * 7) % 40, (uint64_t)(round * 5) % 30}, n[2] = {24, 34};
		w->rc = tess_array_read(w->a, s, n, buf);
	}
	return NULL;
}

static void concurrent_on(tess_store *st, const config *c)
{
	tess_array *a = create_config(st, c, c->name);
	tess_array_set_cache_bytes(a, 256 << 10); /* small: entries come and go */
	worker ws[6];
	pthread_t th[6];
	for (int t = 0; t < 6; t++) {
		ws[t] = (worker){ a, t, malloc(16 * 64 * 4), 0 };
		pthread_create(&th[t], NULL, t < 4 ? writer_main : reader_main, &ws[t]);
	}
	for (int t = 0; t < 6; t++) {
		pthread_join(th[t], NULL);
		if (ws[t].rc)
			fail_msg("%s: thread %d: %s", c->name, t, tess_strerror(ws[t].rc));
	}
	int32_t *all = malloc(64 * 64 * 4);
	uint64_t z[2] = {0}, shape[2] = {64, 64};
	tess_array *b;
	assert_int_equal(tess_array_open(&b, st, c->name), 0);
	for (int pass = 0; pass < 2; pass++) {
		assert_int_equal(tess_array_read(pass ? a : b, z, shape, all), 0);
		for (int t = 0; t < 4; t++)
			assert_memory_equal(all + t * 16 * 64, ws[t].rows, 16 * 64 * 4);
	}
	tess_array_close(b);
	for (int t = 0; t < 6; t++)
		free(ws[t].rows);
	free(all);
	tess_array_close(a);
}

static void test_concurrent_handle(void **state)
{
	(void)state;
	tess_store *st = new_store();
	config plain = { "cc", 2, 2, {64, 64}, {8, 8}, {0}, "<i4", "zstd", NULL, 'C', '.', 0 };
	config sharded = { "cs", 3, 2, {64, 64}, {8, 8}, {16, 32}, "<i4", "zstd", "0", 'C', 0, 0 };
	concurrent_on(st, &plain);
	concurrent_on(st, &sharded);
	tess_store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_configs),
		cmocka_unit_test(test_disk_backends),
		cmocka_unit_test(test_zero_d),
		cmocka_unit_test(test_edge_chunks_full_size),
		cmocka_unit_test(test_fill_chunks_deleted),
		cmocka_unit_test(test_resize),
		cmocka_unit_test(test_f_order_layout),
		cmocka_unit_test(test_byte_order_layout),
		cmocka_unit_test(test_shard_layout),
		cmocka_unit_test(test_shard_partial),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_create_open_errors),
		cmocka_unit_test(test_consolidated),
		cmocka_unit_test(test_threads_and_cache),
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_shard_round_trips),
		cmocka_unit_test(test_shard_rewritten_while_read),
		cmocka_unit_test(test_concurrent_handle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
