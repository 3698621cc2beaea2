/*
 * Reading and writing regions of arrays with a regular chunk grid.
 *
 * A region is cut into the chunks it touches, taken in batches of bounded
 * size.  Per batch: the chunks that are not in the cache are fetched with
 * one batched get, then decoded and copied into place in parallel on the
 * pool.  Writes encode in parallel and store with one batched put; partial
 * chunks are read first (in one batched get), and chunks that end up all
 * fill are deleted instead of stored.
 */
#include "array/core.h"
#include "pyramid/hook.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds of one batch: round trips stay large, memory stays bounded. */
#define BATCH_CHUNKS 256
#define BATCH_BYTES ((size_t)256 << 20)

size_t array_batch_chunks(size_t nbytes)
{
	size_t n = BATCH_BYTES / (nbytes ? nbytes : 1);
	return n < 1 ? 1 : n > BATCH_CHUNKS ? BATCH_CHUNKS : n;
}

/* A read or write much larger than the cache would only evict what smaller
 * reads use, without ever hitting: it bypasses the cache. */
int array_cache_worthy(const tess_array *a, uint64_t nchunks, size_t chunk_bytes)
{
	size_t cap = array_cache_capacity(a->cache);
	return cap > 0 && nchunks <= cap / 2 / (chunk_bytes ? chunk_bytes : 1);
}

int array_chunk_key(const tess_array *a, const uint64_t *idx, char *buf)
{
	char rel[TESS_KEY_MAX + 1];
	size_t rlen = tess_meta_chunk_key(rel, sizeof rel, &a->meta, idx);
	size_t plen = strlen(a->path);
	if (rlen >= sizeof rel || plen + 1 + rlen > TESS_KEY_MAX)
		return tess_err(TESS_EINVAL, "array '%s': chunk key '%s': longer than %d bytes",
		                a->path, rel, TESS_KEY_MAX);
	memcpy(buf, a->path, plen);
	if (plen)
		buf[plen++] = '/';
	memcpy(buf + plen, rel, rlen + 1);
	return 0;
}

int array_oom(const tess_array *a)
{
	return tess_err(TESS_ENOMEM, "array '%s': out of memory", a->path);
}

typedef struct get_job {
	tess_store *st;
	tess_get_req *reqs;
} get_job;

static int get_task(size_t i, void *arg)
{
	get_job *j = arg;
	tess_get_req *r = &j->reqs[i];
	r->status = tess_obj_get(j->st, r->key, r->offset, r->length, r->out);
	/* a real failure stops the batch with the backend's message (naming the
	 * key); missing keys and ranges are the caller's to judge */
	return r->status == TESS_ENOTFOUND || r->status == TESS_ERANGE ? 0 : r->status;
}

/*
 * One batched get.  A backend without get_many would have the store loop
 * over the requests one after the other; the requests then run in parallel
 * on the pool instead, so no region waits on one round trip per chunk in
 * sequence.
 */
int array_batch_get(tess_array *a, tess_get_req *reqs, size_t n)
{
	if (n == 0)
		return 0;
	if (a->st->ops->get_many || n == 1)
		return tess_obj_get_many(a->st, reqs, n);
	get_job j = { a->st, reqs };
	return tess_pool_run(a->pool, n, get_task, &j);
}

typedef struct del_job {
	tess_array *a;
	const char **keys;
} del_job;

static int del_task(size_t i, void *arg)
{
	del_job *j = arg;
	int rc = j->a->st->ops->del(j->a->st->be, j->keys[i]);
	return rc && rc != TESS_ENOTFOUND ? array_chunk_err(j->a, j->keys[i], rc) : 0;
}

/* Backends with a batched delete (S3's DeleteObjects) get one call;
 * the others get the deletes in parallel on the pool. */
static int batch_del_many(tess_array *a, const char **keys, size_t n)
{
	tess_del_req *reqs = malloc(n * sizeof *reqs);
	if (!reqs)
		return tess_err(TESS_ENOMEM, "array '%s': out of memory", a->path);
	for (size_t i = 0; i < n; i++)
		reqs[i] = (tess_del_req){keys[i], 0};
	int rc = tess_obj_del_many(a->st, reqs, n);
	for (size_t i = 0; i < n && !rc; i++)
		if (reqs[i].status)
			rc = array_chunk_err(a, keys[i], reqs[i].status);
	free(reqs);
	return rc;
}

int array_batch_del(tess_array *a, const char **keys, size_t n)
{
	if (n == 0)
		return 0;
	if (a->st->ops->abi >= 2 && a->st->ops->del_many)
		return batch_del_many(a, keys, n);
	del_job j = { a, keys };
	return tess_pool_run(a->pool, n, del_task, &j);
}

int array_chunk_err(const tess_array *a, const char *key, int rc)
{
	size_t plen = strlen(a->path);
	const char *rel = plen && strncmp(key, a->path, plen) == 0 ? key + plen + 1 : key;
	return tess_err_prefix(rc, "array '%s': chunk '%s': ", a->path, rel);
}

/* ---- one chunk ------------------------------------------------------------------- */

int array_chunk_read_into(tess_array *a, const chunk_kind *k, const uint8_t *in, size_t len,
                    uint8_t *buf, const uint64_t *count, const chunk_place *pl, int keep,
                    uint8_t **kept)
{
	int n = a->meta.ndim;
	size_t is = a->itemsize;
	/* a chunk that lands as one run of the caller's buffer is decoded in place */
	int64_t off = pl->whole && !keep ? array_box_contiguous(count, pl->in_region, pl->len, n) : -1;
	tess_buf scratch = {0};
	uint8_t *dst = off >= 0 ? buf + (size_t)off * is
	                        : (scratch = array_bufs_take(a->bufs, k->nbytes)).data;
	if (!dst)
		return array_oom(a);
	int rc = array_chunk_decode(k, in, len, dst);
	if (!rc && off < 0)
		array_box_copy(buf, count, pl->in_region, dst, k->shape, pl->in_chunk, pl->len, n, is);
	if (!rc && off < 0 && keep)
		*kept = scratch.data;
	else
		array_bufs_give(a->bufs, &scratch);
	return rc;
}

int array_chunk_write_from(tess_array *a, const chunk_kind *k, const uint8_t *buf,
                     const uint64_t *count, const chunk_place *pl, chunk_old_fn old, void *ctx,
                     tess_buf *enc, int *empty)
{
	int n = a->meta.ndim;
	/* a whole chunk that is one run of the caller's buffer is encoded from there */
	int64_t off = pl->whole ? array_box_contiguous(count, pl->in_region, pl->len, n) : -1;
	const uint8_t *src;
	tess_buf scratch = {0};
	int rc = 0;
	if (off >= 0) {
		src = buf + (size_t)off * a->itemsize;
	} else {
		if (!(scratch = array_bufs_take(a->bufs, k->nbytes)).data)
			return array_oom(a);
		if (!pl->whole)
			rc = old(a, ctx, scratch.data);
		if (!rc)
			array_box_copy(scratch.data, k->shape, pl->in_chunk, buf, count, pl->in_region,
			               pl->len, n, a->itemsize);
		src = scratch.data;
	}
	if (!rc)
		*empty = array_is_all_fill(a, src, k->nbytes);
	if (!rc && !*empty) {
		*enc = array_bufs_take(a->bufs, k->nbytes + 4096);
		rc = array_chunk_encode(k, src, enc);
	}
	array_bufs_give(a->bufs, &scratch);
	return rc;
}

/* ---- reads ----------------------------------------------------------------------- */

typedef struct read_item {
	uint64_t k;   /* the chunk's number in the walk */
	char *key;
	cache_entry *hit;
	tess_buf data;
	int status;
	int fetched;      /* data and status are the get's */
	uint8_t *decoded; /* for the cache */
} read_item;

typedef struct read_job {
	tess_array *a;
	const uint64_t *start, *count;
	uint8_t *buf;
	const grid_walk *w;
	read_item *items;
	int use_cache;
	int fetch_in_task; /* each task gets its own chunk (no batched get) */
	uint64_t epoch;    /* the cache's, before the batch looked */
} read_job;

/*
 * A backend without get_many would serve a batch one request after the
 * other: then every task fetches its own chunk, so reads overlap decoding
 * and only a few chunk buffers are alive at once.
 */
static int fetch_one(tess_array *a, read_item *it)
{
	it->data = array_bufs_take(a->bufs, a->chunk.nbytes + 4096);
	it->status = tess_obj_get(a->st, it->key, 0, UINT64_MAX, &it->data);
	it->fetched = 1;
	return it->status == TESS_ENOTFOUND ? 0 : it->status;
}

static int read_task(size_t i, void *arg)
{
	read_job *j = arg;
	read_item *it = &j->items[i];
	tess_array *a = j->a;
	int n = a->meta.ndim;
	size_t is = a->itemsize;
	uint64_t idx[MAXD];
	chunk_place pl;
	array_grid_coords(j->w, it->k, idx);
	pl.whole = array_chunk_overlap(n, idx, a->chunk.shape, j->start, j->count, pl.in_chunk,
	                         pl.in_region, pl.len);
	if (it->hit) {
		array_box_copy(j->buf, j->count, pl.in_region, it->hit->data, a->chunk.shape, pl.in_chunk,
		         pl.len, n, is);
		return 0;
	}
	int rc = j->fetch_in_task ? fetch_one(a, it) : 0;
	if (rc)
		return array_chunk_err(a, it->key, rc);
	if (it->status == TESS_ENOTFOUND) {
		array_box_fill(j->buf, j->count, pl.in_region, pl.len, n, a->fill, is);
		return 0;
	}
	rc = array_chunk_read_into(a, &a->chunk, it->data.data, it->data.len, j->buf, j->count, &pl,
	                     j->use_cache, &it->decoded);
	array_bufs_give(a->bufs, &it->data);
	return rc ? array_chunk_err(a, it->key, rc) : 0;
}

static void read_items_free(tess_array *a, read_item *items, size_t m)
{
	for (size_t i = 0; i < m; i++) {
		array_cache_release(a->cache, items[i].hit);
		array_bufs_give(a->bufs, &items[i].data);
		free(items[i].decoded);
		free(items[i].key);
	}
	memset(items, 0, m * sizeof *items);
}

/* Fetch what the cache lacks, in one batched get.  Each request's status
 * lands in its item; a failure other than "missing" stops the read. */
static int fetch_items(tess_array *a, read_item *items, size_t m)
{
	tess_get_req *reqs = calloc(m, sizeof *reqs);
	size_t *which = calloc(m, sizeof *which);
	int rc = 0;
	if (!reqs || !which)
		rc = array_oom(a);
	size_t nreq = 0;
	for (size_t i = 0; i < m && !rc; i++) {
		if (items[i].hit)
			continue;
		/* room for the stored chunk, which is rarely larger than decoded */
		items[i].data = array_bufs_take(a->bufs, a->chunk.nbytes + 4096);
		reqs[nreq] = (tess_get_req){ items[i].key, 0, UINT64_MAX, &items[i].data, 0 };
		which[nreq++] = i;
	}
	if (!rc && nreq)
		rc = array_batch_get(a, reqs, nreq);
	if (rc)
		rc = tess_err_prefix(rc, "array '%s': ", a->path);
	for (size_t r = 0; r < nreq && !rc; r++) {
		read_item *it = &items[which[r]];
		it->status = reqs[r].status;
		it->fetched = 1;
		if (it->status && it->status != TESS_ENOTFOUND)
			rc = array_chunk_err(a, it->key, it->status);
	}
	free(reqs);
	free(which);
	return rc;
}

static int read_batch(read_job *j, uint64_t first, size_t m)
{
	tess_array *a = j->a;
	uint64_t idx[MAXD];
	char key[TESS_KEY_MAX + 1];
	int rc = 0;
	j->epoch = array_cache_epoch(a->cache);
	for (size_t i = 0; i < m && !rc; i++) {
		read_item *it = &j->items[i];
		it->k = first + i;
		array_grid_coords(j->w, it->k, idx);
		rc = array_chunk_key(a, idx, key);
		if (!rc && !(it->key = strdup(key)))
			rc = array_oom(a);
		if (!rc)
			it->hit = array_cache_get(a->cache, key);
	}
	if (!rc && !j->fetch_in_task)
		rc = fetch_items(a, j->items, m);
	if (!rc)
		rc = tess_pool_run(a->pool, m, read_task, j);
	for (size_t i = 0; i < m && !rc; i++) {
		if (j->items[i].decoded) {
			array_cache_put(a->cache, j->items[i].key, j->items[i].decoded, a->chunk.nbytes,
			          j->epoch);
			j->items[i].decoded = NULL;
		}
	}
	read_items_free(a, j->items, m);
	return rc;
}

int array_regular_read(tess_array *a, const uint64_t *start, const uint64_t *count, uint8_t *buf)
{
	grid_walk w;
	array_grid_init(&w, a->meta.ndim, start, count, a->chunk.shape);
	size_t per = array_batch_chunks(a->chunk.nbytes);
	if (per > w.total)
		per = (size_t)w.total;
	read_job j = { a, start, count, buf, &w, calloc(per, sizeof(read_item)),
	               array_cache_worthy(a, w.total, a->chunk.nbytes), !a->st->ops->get_many, 0 };
	if (!j.items)
		return array_oom(a);
	int rc = 0;
	for (uint64_t b = 0; b < w.total && !rc; b += per) {
		size_t m = w.total - b < per ? (size_t)(w.total - b) : per;
		rc = read_batch(&j, b, m);
	}
	free(j.items);
	return rc;
}

/* ---- writes ------------------------------------------------------------------------- */

typedef struct write_item {
	read_item old;   /* the chunk's current content, for partial writes */
	int whole;       /* the region covers the whole chunk */
	int empty;       /* all fill after the write: delete */
	tess_buf enc;
} write_item;

typedef struct write_job {
	tess_array *a;
	const uint64_t *start, *count;
	const uint8_t *buf;
	const grid_walk *w;
	write_item *items;
	int fetch_in_task; /* partial chunks are read by their task */
} write_job;

/* The chunk's content before the write, into dst. */
static int old_content(tess_array *a, void *ctx, uint8_t *dst)
{
	read_item *old = ctx;
	if (!old->hit && !old->fetched) {
		int rc = fetch_one(a, old); /* not fetched in a batch */
		if (rc)
			return rc;
	}
	if (old->hit) {
		memcpy(dst, old->hit->data, a->chunk.nbytes);
		return 0;
	}
	if (old->status == TESS_ENOTFOUND) {
		array_fill_elems(dst, a->chunk.nelem, a->fill, a->itemsize);
		return 0;
	}
	int rc = array_chunk_decode(&a->chunk, old->data.data, old->data.len, dst);
	array_bufs_give(a->bufs, &old->data);
	return rc;
}

static int write_task(size_t i, void *arg)
{
	write_job *j = arg;
	write_item *it = &j->items[i];
	tess_array *a = j->a;
	int n = a->meta.ndim;
	uint64_t idx[MAXD];
	chunk_place pl;
	array_grid_coords(j->w, it->old.k, idx);
	pl.whole = array_chunk_overlap(n, idx, a->chunk.shape, j->start, j->count, pl.in_chunk,
	                         pl.in_region, pl.len);
	int rc = array_chunk_write_from(a, &a->chunk, j->buf, j->count, &pl, old_content, &it->old,
	                          &it->enc, &it->empty);
	return rc ? array_chunk_err(a, it->old.key, rc) : 0;
}

/* Store the encoded chunks with one batched put and delete the empty ones;
 * the cache forgets them all. */
static int store_items(write_job *j, size_t m)
{
	tess_array *a = j->a;
	tess_put_req *reqs = calloc(m, sizeof *reqs);
	if (!reqs)
		return array_oom(a);
	size_t nreq = 0;
	for (size_t i = 0; i < m; i++) {
		write_item *it = &j->items[i];
		if (!it->empty)
			reqs[nreq++] = (tess_put_req){ it->old.key, it->enc.data, it->enc.len, 0, 0 };
	}
	int rc = nreq ? tess_obj_put_many(a->st, reqs, nreq) : 0;
	if (rc)
		rc = tess_err_prefix(rc, "array '%s': ", a->path);
	for (size_t r = 0; r < nreq && !rc; r++)
		if (reqs[r].status)
			rc = array_chunk_err(a, reqs[r].key, reqs[r].status);
	/* chunks that became all fill go; a partial one known missing needs nothing */
	const char **dels = calloc(m, sizeof *dels);
	if (!dels && !rc)
		rc = array_oom(a);
	size_t ndel = 0;
	for (size_t i = 0; i < m && !rc; i++) {
		write_item *it = &j->items[i];
		if (it->empty && (it->whole || it->old.hit || it->old.status != TESS_ENOTFOUND))
			dels[ndel++] = it->old.key;
	}
	if (!rc)
		rc = array_batch_del(a, dels, ndel);
	free(dels);
	for (size_t i = 0; i < m; i++)
		array_cache_drop(a->cache, j->items[i].old.key);
	free(reqs);
	return rc;
}

static int write_batch(write_job *j, uint64_t first, size_t m)
{
	tess_array *a = j->a;
	uint64_t idx[MAXD], ic[MAXD], ir[MAXD], len[MAXD];
	char key[TESS_KEY_MAX + 1];
	read_item *olds = calloc(m, sizeof *olds);
	int rc = olds ? 0 : array_oom(a);
	size_t nold = 0;
	for (size_t i = 0; i < m && !rc; i++) {
		write_item *it = &j->items[i];
		it->old.k = first + i;
		array_grid_coords(j->w, it->old.k, idx);
		it->whole = array_chunk_overlap(a->meta.ndim, idx, a->chunk.shape, j->start, j->count, ic,
		                          ir, len);
		rc = array_chunk_key(a, idx, key);
		if (!rc && !(it->old.key = strdup(key)))
			rc = array_oom(a);
		if (!rc && !it->whole) {
			it->old.hit = array_cache_get(a->cache, key);
			olds[nold++] = it->old;
		}
	}
	/* the partial chunks' current content, in one batched get */
	if (!rc && !j->fetch_in_task)
		rc = fetch_items(a, olds, nold);
	for (size_t i = 0, o = 0; i < m && o < nold; i++)
		if (!j->items[i].whole)
			j->items[i].old = olds[o++];
	free(olds);
	if (!rc)
		rc = tess_pool_run(a->pool, m, write_task, j);
	if (!rc)
		rc = store_items(j, m);
	for (size_t i = 0; i < m; i++) {
		write_item *it = &j->items[i];
		read_items_free(a, &it->old, 1);
		array_bufs_give(a->bufs, &it->enc);
	}
	memset(j->items, 0, m * sizeof *j->items);
	return rc;
}

int array_regular_write(tess_array *a, const uint64_t *start, const uint64_t *count,
                  const uint8_t *buf)
{
	grid_walk w;
	array_grid_init(&w, a->meta.ndim, start, count, a->chunk.shape);
	size_t per = array_batch_chunks(a->chunk.nbytes);
	if (per > w.total)
		per = (size_t)w.total;
	write_job j = { a, start, count, buf, &w, calloc(per, sizeof(write_item)),
	                !a->st->ops->get_many };
	if (!j.items)
		return array_oom(a);
	int rc = 0;
	for (uint64_t b = 0; b < w.total && !rc; b += per) {
		size_t m = w.total - b < per ? (size_t)(w.total - b) : per;
		rc = write_batch(&j, b, m);
	}
	free(j.items);
	return rc;
}

/* ---- the public entry points ------------------------------------------------------------ */

static int region_check(const tess_array *a, const uint64_t *start, const uint64_t *count,
                        const void *buf, const char *op, int *empty)
{
	int n = a->meta.ndim;
	*empty = 0;
	if (n > 0 && (!start || !count))
		return tess_err(TESS_EINVAL, "array '%s': %s: start and count are required", a->path,
		                op);
	uint64_t elems = 1;
	for (int d = 0; d < n; d++) {
		uint64_t shape = a->meta.shape[d];
		if (start[d] > shape || count[d] > shape - start[d])
			return tess_err(TESS_EINVAL, "array '%s': %s: [%llu, %llu + %llu) is outside "
			                "axis %d of length %llu", a->path, op,
			                (unsigned long long)start[d], (unsigned long long)start[d],
			                (unsigned long long)count[d], d, (unsigned long long)shape);
		if (count[d] == 0)
			*empty = 1;
		else if (elems > SIZE_MAX / a->itemsize / count[d])
			return tess_err(TESS_EINVAL, "array '%s': %s: the region does not fit in memory",
			                a->path, op);
		else
			elems *= count[d];
	}
	if (!*empty && !buf)
		return tess_err(TESS_EINVAL, "array '%s': %s: NULL buffer", a->path, op);
	return 0;
}

int tess_array_read(tess_array *arr, const uint64_t *start, const uint64_t *count, void *buf)
{
	int empty;
	int rc = region_check(arr, start, count, buf, "read", &empty);
	if (rc || empty)
		return rc;
	if (arr->sharded)
		return array_shard_read(arr, start, count, buf);
	return array_regular_read(arr, start, count, buf);
}

int tess_array_write(tess_array *arr, const uint64_t *start, const uint64_t *count,
                     const void *buf)
{
	int empty;
	int rc = region_check(arr, start, count, buf, "write", &empty);
	if (rc || empty)
		return rc;
	/* pyramid levels (pyramid/hook.h): level 0 records the region dirty
	 * before any chunk changes; levels > 0 are refused */
	pyr_write_mark mk;
	mk.marked = 0;
	if (arr->pyr_level >= 0 && (rc = tess_pyramid_hook_before_write(arr, start, count, &mk)))
		return rc;
	if (arr->sharded)
		rc = array_shard_write(arr, start, count, buf);
	else
		rc = array_regular_write(arr, start, count, buf);
	return arr->pyr_level >= 0 ? tess_pyramid_hook_after_write(arr, &mk, rc) : rc;
}
