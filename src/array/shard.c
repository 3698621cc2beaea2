/*
 * sharding_indexed (Zarr v3): each stored object (a shard) holds a grid of
 * inner chunks, each encoded on its own, and an index of
 * n_inner x (offset u64, nbytes u64) run through the index codecs (usually
 * bytes little endian + crc32c), at the end of the shard or at its start.
 * (2^64-1, 2^64-1) marks an empty inner chunk, which reads as fill.
 *
 * Reads fetch only what they need: a shard whose inner chunks are all
 * needed is fetched whole (one get, no index round trip); otherwise the
 * shard is stat'ed (size and etag), its index fetched with a ranged get
 * (unless cached for that etag), then only the inner chunks the region
 * touches, with ranged gets, and a second stat checks that the shard did not
 * change meanwhile: if it did, the batch starts over, so a read never mixes
 * an index with another version's bytes.  Every round trip is one batched
 * call over all the shards of a batch.
 *
 * Writes read-modify-write whole shards: the inner chunks the region touches
 * are re-encoded, the others are copied as stored, the index is rebuilt.
 * A shard whose inner chunks are all empty is deleted.
 */
#include "array/core.h"
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EMPTY UINT64_MAX

typedef struct shard_slot {
	uint64_t sidx[MAXD];
	char *key;
	uint64_t rstart[MAXD], rcount[MAXD]; /* the region inside this shard */
	int whole;        /* write: the region covers the whole shard */
	int fetch_whole;  /* read: every inner chunk is needed */
	int partial;      /* read: ranged gets, between two stats */
	int need_index;   /* read: fetch the index alone */
	char etag[72];    /* read: at the first stat */
	tess_buf obj;     /* the whole shard, or (read) its index bytes */
	int status;       /* of the stat / get: TESS_ENOTFOUND means no shard */
	int fetched;      /* obj holds what was asked for */
	uint64_t size;    /* object size when known, else UINT64_MAX */
	uint64_t *index;  /* 2 * n_inner entries; NULL: no shard */
	size_t first_item, n_items;
	tess_buf out;     /* write: the new shard */
	int empty;        /* write: every inner chunk is empty */
} shard_slot;

typedef struct inner_item {
	size_t slot;
	uint64_t g[MAXD]; /* global inner chunk coordinates */
	size_t local;     /* number inside the shard, C order */
	char *ckey;       /* cache key */
	cache_entry *hit;
	tess_buf data;    /* read: the ranged get */
	int ranged;       /* data holds the inner chunk */
	int status;
	int whole;        /* the region covers the inner chunk */
	int empty;        /* write: all fill afterwards */
	tess_buf enc;     /* write */
	uint8_t *decoded; /* for the cache */
} inner_item;

typedef struct shard_job {
	tess_array *a;
	const uint64_t *start, *count;
	uint8_t *rbuf;       /* read destination */
	const uint8_t *wbuf; /* write source */
	grid_walk w;         /* shards the region touches */
	shard_slot *slots;
	size_t nslots;
	inner_item *items;
	size_t nitems;
	int use_cache;
	uint64_t epoch; /* read: the cache's, before the batch looked */
	int changed;    /* read: a shard changed while it was read in part */
} shard_job;

/* ---- setup ---------------------------------------------------------------------- */

static void put_u64(uint8_t *p, uint64_t v, int big)
{
	for (int i = 0; i < 8; i++)
		p[big ? 7 - i : i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p, int big)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[big ? 7 - i : i] << (8 * i);
	return v;
}

int array_shard_setup(tess_array *a)
{
	const tess_shard_spec *sp = a->meta.pipeline.shard;
	int n = a->meta.ndim;
	if (a->meta.pipeline.permuted || a->meta.pipeline.ncodecs)
		return tess_err(TESS_ENOTSUP, "array '%s': codecs before or after sharding_indexed "
		                "are not supported (only inside it)", a->path);
	a->sharded = 1;
	a->n_inner = 1;
	for (int d = 0; d < n; d++) {
		if (sp->inner[d] == 0 || a->meta.chunks[d] % sp->inner[d])
			return tess_err(TESS_EINVAL, "array '%s': shard shape is not a multiple of the "
			                "inner chunk shape on axis %d", a->path, d);
		a->per_shard[d] = a->meta.chunks[d] / sp->inner[d];
		if (a->n_inner > SIZE_MAX / 16 / a->per_shard[d])
			return tess_err(TESS_EINVAL, "array '%s': too many inner chunks per shard",
			                a->path);
		a->n_inner *= a->per_shard[d];
	}
	/* the index codecs must give a fixed size: learn it from an empty index */
	size_t raw = a->n_inner * 16;
	uint8_t *zero = calloc(1, raw);
	tess_buf enc = {0};
	int rc = zero ? array_codecs_encode(&sp->index_pipeline, zero, raw, &enc)
	              : tess_err(TESS_ENOMEM, "array '%s': out of memory", a->path);
	a->index_len = enc.len;
	free(zero);
	tess_buf_free(&enc);
	return rc ? tess_err_prefix(rc, "array '%s': shard index: ", a->path) : 0;
}

/* ---- the index ------------------------------------------------------------------------ */

static int shard_err(const tess_array *a, const shard_slot *s, int rc, const char *fmt, ...)
	TESS_PRINTF(4, 5);

/* Message: "array 'a': chunk 'c/0/1': <what>: <current message>" */
static int shard_err(const tess_array *a, const shard_slot *s, int rc, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	tess_err_prefix(rc, "%s", what);
	return array_chunk_err(a, s->key, rc);
}

static int index_decode(const tess_array *a, shard_slot *s, const uint8_t *p, size_t len)
{
	const tess_pipeline *ip = &a->meta.pipeline.shard->index_pipeline;
	size_t raw = a->n_inner * 16;
	tess_buf out = {0};
	int rc = array_codecs_decode(ip, p, len, &out, raw);
	if (rc && rc != TESS_ENOMEM)
		rc = TESS_ECORRUPT;
	if (!rc && out.len != raw)
		rc = tess_err(TESS_ECORRUPT, "decodes to %zu bytes, expected %zu", out.len, raw);
	if (!rc && !(s->index = malloc(raw)))
		rc = tess_err(TESS_ENOMEM, "out of memory");
	int big = ip->endian == '>';
	for (size_t i = 0; i < a->n_inner && !rc; i++) {
		uint64_t off = get_u64(out.data + 16 * i, big), nb = get_u64(out.data + 16 * i + 8, big);
		s->index[2 * i] = off;
		s->index[2 * i + 1] = nb;
		if (off == EMPTY && nb == EMPTY)
			continue;
		if (off > s->size || nb > s->size - off)
			rc = tess_err(TESS_ECORRUPT, "inner chunk %zu at [%llu, +%llu) is outside the "
			              "%llu-byte shard", i, (unsigned long long)off,
			              (unsigned long long)nb, (unsigned long long)s->size);
	}
	tess_buf_free(&out);
	if (rc) {
		free(s->index);
		s->index = NULL;
		return shard_err(a, s, rc, "shard index: ");
	}
	return 0;
}

static int index_encode(const tess_array *a, const uint64_t *index, tess_buf *out)
{
	const tess_pipeline *ip = &a->meta.pipeline.shard->index_pipeline;
	size_t raw = a->n_inner * 16;
	uint8_t *p = malloc(raw);
	if (!p)
		return tess_err(TESS_ENOMEM, "out of memory for a shard index");
	for (size_t i = 0; i < 2 * a->n_inner; i++)
		put_u64(p + 8 * i, index[i], ip->endian == '>');
	size_t mark = out->len;
	int rc = array_codecs_encode(ip, p, raw, out);
	free(p);
	if (!rc && out->len - mark != a->index_len)
		rc = tess_err(TESS_ENOTSUP, "the index codecs do not give a fixed size");
	return rc;
}

/* ---- slots and items ------------------------------------------------------------------- */

static size_t local_number(const tess_array *a, const uint64_t *sidx, const uint64_t *g)
{
	size_t l = 0;
	for (int d = 0; d < a->meta.ndim; d++)
		l = l * a->per_shard[d] + (size_t)(g[d] - sidx[d] * a->per_shard[d]);
	return l;
}

static void jobs_free(shard_job *j)
{
	for (size_t i = 0; i < j->nitems; i++) {
		inner_item *it = &j->items[i];
		array_cache_release(j->a->cache, it->hit);
		free(it->ckey);
		tess_buf_free(&it->data);
		array_bufs_give(j->a->bufs, &it->enc);
		free(it->decoded);
	}
	for (size_t s = 0; s < j->nslots; s++) {
		free(j->slots[s].key);
		tess_buf_free(&j->slots[s].obj);
		tess_buf_free(&j->slots[s].out);
		free(j->slots[s].index);
	}
	free(j->items);
	free(j->slots);
	j->items = NULL;
	j->slots = NULL;
	j->nitems = j->nslots = 0;
}

/* Slots for shards first..first+m-1 of the walk, and items for the inner
 * chunks of each that the region touches. */
static int jobs_make(shard_job *j, uint64_t first, size_t m)
{
	tess_array *a = j->a;
	int n = a->meta.ndim;
	char key[TESS_KEY_MAX + 1];
	uint64_t ic[MAXD], len[MAXD];
	if (!(j->slots = calloc(m, sizeof *j->slots)))
		return array_oom(a);
	j->nslots = m;
	size_t total = 0;
	for (size_t s = 0; s < m; s++) {
		shard_slot *sl = &j->slots[s];
		array_grid_coords(&j->w, first + s, sl->sidx);
		sl->whole = array_chunk_overlap(n, sl->sidx, a->chunk.shape, j->start, j->count, ic,
		                          sl->rstart, sl->rcount);
		for (int d = 0; d < n; d++)
			sl->rstart[d] += j->start[d]; /* into array coordinates */
		int rc = array_chunk_key(a, sl->sidx, key);
		if (rc)
			return rc;
		if (!(sl->key = strdup(key)))
			return array_oom(a);
		sl->size = UINT64_MAX;
		grid_walk iw;
		array_grid_init(&iw, n, sl->rstart, sl->rcount, a->inner.shape);
		sl->first_item = total;
		sl->n_items = (size_t)iw.total;
		total += sl->n_items;
	}
	if (!(j->items = calloc(total ? total : 1, sizeof *j->items)))
		return array_oom(a);
	j->nitems = total;
	char ckey[TESS_KEY_MAX + 32];
	for (size_t s = 0; s < m; s++) {
		shard_slot *sl = &j->slots[s];
		grid_walk iw;
		array_grid_init(&iw, n, sl->rstart, sl->rcount, a->inner.shape);
		for (size_t i = 0; i < sl->n_items; i++) {
			inner_item *it = &j->items[sl->first_item + i];
			uint64_t ir[MAXD];
			it->slot = s;
			array_grid_coords(&iw, i, it->g);
			it->local = local_number(a, sl->sidx, it->g);
			it->whole = array_chunk_overlap(n, it->g, a->inner.shape, j->start, j->count, ic,
			                                ir, len);
			snprintf(ckey, sizeof ckey, "%s#%zu", sl->key, it->local);
			if (!(it->ckey = strdup(ckey)))
				return array_oom(a);
		}
	}
	return 0;
}

static int inner_err(const tess_array *a, const shard_slot *s, const inner_item *it, int rc)
{
	return shard_err(a, s, rc, "inner chunk %zu: ", it->local);
}

/* Where an inner chunk's stored bytes are: 0 with *p NULL for an empty one. */
static int inner_bytes(const tess_array *a, shard_slot *s, inner_item *it, const uint8_t **p,
                       size_t *len)
{
	*p = NULL;
	*len = 0;
	if (!s->index || (s->index[2 * it->local] == EMPTY && s->index[2 * it->local + 1] == EMPTY))
		return 0;
	uint64_t off = s->index[2 * it->local], nb = s->index[2 * it->local + 1];
	if (it->ranged) {
		/* a ranged get: short only if the shard changed or lies */
		if (it->data.len != nb)
			return inner_err(a, s, it, tess_err(TESS_ECORRUPT, "the index says %llu bytes "
			                 "at %llu, the shard has %zu there (rewritten meanwhile?)",
			                 (unsigned long long)nb, (unsigned long long)off, it->data.len));
		*p = it->data.data;
	} else {
		*p = s->obj.data + off; /* checked against the size in index_decode */
	}
	*len = (size_t)nb;
	return 0;
}

typedef struct inner_ctx {
	shard_slot *s;
	inner_item *it;
} inner_ctx;

/* The inner chunk's decoded content (or fill) into dst; unprefixed errors. */
static int inner_content(tess_array *a, void *arg, uint8_t *dst)
{
	inner_ctx *c = arg;
	if (!c->s->index || (c->s->index[2 * c->it->local] == EMPTY &&
	                     c->s->index[2 * c->it->local + 1] == EMPTY)) {
		array_fill_elems(dst, a->inner.nelem, a->fill, a->itemsize);
		return 0;
	}
	/* writes have the whole shard at hand, checked by index_decode */
	uint64_t off = c->s->index[2 * c->it->local], nb = c->s->index[2 * c->it->local + 1];
	return array_chunk_decode(&a->inner, c->s->obj.data + off, (size_t)nb, dst);
}

/* ---- round trips ----------------------------------------------------------------------- */

/* The size and etag of shards read in part. */
static int stat_task(size_t i, void *arg)
{
	shard_job *j = arg;
	shard_slot *s = &j->slots[i];
	if (!s->partial)
		return 0;
	tess_stat sb;
	s->status = j->a->st->ops->stat(j->a->st->be, s->key, &sb);
	if (s->status == 0) {
		s->size = sb.size;
		snprintf(s->etag, sizeof s->etag, "%.*s", (int)sizeof sb.etag - 1, sb.etag);
	} else if (s->status != TESS_ENOTFOUND) {
		return array_chunk_err(j->a, s->key, s->status);
	}
	return 0;
}

/* Whether a shard read in part is still the one the first stat saw. */
static int recheck_task(size_t i, void *arg)
{
	shard_job *j = arg;
	shard_slot *s = &j->slots[i];
	if (!s->partial || s->status == TESS_ENOTFOUND)
		return 0;
	tess_stat sb;
	int rc = j->a->st->ops->stat(j->a->st->be, s->key, &sb);
	if (rc && rc != TESS_ENOTFOUND)
		return array_chunk_err(j->a, s->key, rc);
	if (rc || sb.size != s->size || strncmp(sb.etag, s->etag, sizeof sb.etag) != 0)
		__atomic_store_n(&j->changed, 1, __ATOMIC_RELAXED);
	return 0;
}

/* Fetch whole shards (fetch_whole / write) or their index bytes (need_index). */
static int fetch_shards(shard_job *j, int for_write)
{
	tess_array *a = j->a;
	tess_get_req *reqs = calloc(j->nslots, sizeof *reqs);
	size_t *which = calloc(j->nslots, sizeof *which);
	if (!reqs || !which) {
		free(reqs);
		free(which);
		return array_oom(a);
	}
	size_t nreq = 0;
	int rc = 0;
	int at_start = a->meta.pipeline.shard->index_at_start;
	for (size_t i = 0; i < j->nslots && !rc; i++) {
		shard_slot *s = &j->slots[i];
		tess_get_req r = { s->key, 0, UINT64_MAX, &s->obj, 0 };
		if (for_write ? s->whole : !s->fetch_whole && !s->need_index)
			continue;
		if (!for_write && s->need_index) {
			if (s->status == TESS_ENOTFOUND)
				continue;
			if (!at_start && s->size < a->index_len) {
				rc = shard_err(a, s, tess_err(TESS_ECORRUPT, "holds %llu bytes, less than "
				               "its %zu-byte index", (unsigned long long)s->size,
				               a->index_len), "shard: ");
				break;
			}
			r.offset = at_start ? 0 : s->size - a->index_len;
			r.length = a->index_len;
		}
		reqs[nreq] = r;
		which[nreq++] = i;
	}
	if (!rc && nreq && (rc = array_batch_get(a, reqs, nreq)))
		rc = tess_err_prefix(rc, "array '%s': ", a->path);
	for (size_t r = 0; r < nreq && !rc; r++) {
		shard_slot *s = &j->slots[which[r]];
		s->status = reqs[r].status;
		if (s->status && s->status != TESS_ENOTFOUND)
			rc = array_chunk_err(a, s->key, s->status);
		s->fetched = s->status == 0;
		if (s->fetched && !s->need_index)
			s->size = s->obj.len;
	}
	free(reqs);
	free(which);
	return rc;
}

/* Decode the index of every fetched shard. */
static int decode_indexes(shard_job *j)
{
	tess_array *a = j->a;
	int at_start = a->meta.pipeline.shard->index_at_start;
	for (size_t i = 0; i < j->nslots; i++) {
		shard_slot *s = &j->slots[i];
		if (!s->fetched)
			continue;
		const uint8_t *p = s->obj.data;
		if (s->obj.len < a->index_len)
			return shard_err(a, s, tess_err(TESS_ECORRUPT, "holds %zu bytes, less than its "
			                 "%zu-byte index", s->obj.len, a->index_len), "shard: ");
		if (!at_start && !s->need_index)
			p += s->obj.len - a->index_len; /* the whole shard: index at its end */
		int rc = index_decode(a, s, p, a->index_len);
		if (rc)
			return rc;
		if (s->need_index)
			tess_buf_free(&s->obj);
	}
	return 0;
}

/* ---- reads ------------------------------------------------------------------------------- */

/* Which shards need what: cached inner chunks need nothing, a shard whose
 * inner chunks are all needed is fetched whole, others need their index
 * (perhaps cached). */
static void plan_reads(shard_job *j)
{
	tess_array *a = j->a;
	for (size_t s = 0; s < j->nslots; s++) {
		shard_slot *sl = &j->slots[s];
		size_t misses = 0;
		for (size_t i = 0; i < sl->n_items; i++) {
			inner_item *it = &j->items[sl->first_item + i];
			it->hit = array_cache_get(a->cache, it->ckey);
			misses += !it->hit;
		}
		if (misses == 0)
			continue;
		if (sl->n_items == a->n_inner)
			sl->fetch_whole = 1;
		else
			sl->partial = 1;
	}
}

/* A shard read in part needs its index: cached for the etag it has now, or
 * fetched.  A cache entry is the index followed by that etag. */
static void find_indexes(shard_job *j)
{
	tess_array *a = j->a;
	char ckey[TESS_KEY_MAX + 32];
	size_t raw = a->n_inner * 16;
	for (size_t s = 0; s < j->nslots; s++) {
		shard_slot *sl = &j->slots[s];
		if (!sl->partial || sl->status)
			continue;
		snprintf(ckey, sizeof ckey, "%s#index", sl->key);
		cache_entry *e = array_cache_get(a->cache, ckey);
		if (e && e->len == raw + sizeof sl->etag &&
		    strncmp((const char *)e->data + raw, sl->etag, sizeof sl->etag) == 0 &&
		    (sl->index = malloc(raw)))
			memcpy(sl->index, e->data, raw);
		else
			sl->need_index = 1;
		array_cache_release(a->cache, e);
	}
}

static void cache_indexes(shard_job *j)
{
	tess_array *a = j->a;
	char ckey[TESS_KEY_MAX + 32];
	size_t raw = a->n_inner * 16;
	for (size_t s = 0; s < j->nslots && j->use_cache; s++) {
		shard_slot *sl = &j->slots[s];
		if (!sl->index || !sl->need_index)
			continue;
		uint8_t *entry = malloc(raw + sizeof sl->etag);
		if (!entry)
			return;
		memcpy(entry, sl->index, raw);
		memcpy(entry + raw, sl->etag, sizeof sl->etag);
		snprintf(ckey, sizeof ckey, "%s#index", sl->key);
		array_cache_put(a->cache, ckey, entry, raw + sizeof sl->etag, j->epoch);
	}
}

/* Ranged gets of the inner chunks that shards fetched in part need. */
static int fetch_inner(shard_job *j)
{
	tess_array *a = j->a;
	tess_get_req *reqs = calloc(j->nitems ? j->nitems : 1, sizeof *reqs);
	size_t *which = calloc(j->nitems ? j->nitems : 1, sizeof *which);
	if (!reqs || !which) {
		free(reqs);
		free(which);
		return array_oom(a);
	}
	size_t nreq = 0;
	for (size_t i = 0; i < j->nitems; i++) {
		inner_item *it = &j->items[i];
		shard_slot *s = &j->slots[it->slot];
		if (it->hit || s->fetch_whole || !s->index)
			continue;
		uint64_t off = s->index[2 * it->local], nb = s->index[2 * it->local + 1];
		if (off == EMPTY && nb == EMPTY)
			continue;
		reqs[nreq] = (tess_get_req){ s->key, off, nb, &it->data, 0 };
		which[nreq++] = i;
	}
	int rc = nreq ? array_batch_get(a, reqs, nreq) : 0;
	if (rc)
		rc = tess_err_prefix(rc, "array '%s': ", a->path);
	for (size_t r = 0; r < nreq && !rc; r++) {
		inner_item *it = &j->items[which[r]];
		it->status = reqs[r].status;
		it->ranged = 1;
		if (it->status == TESS_ENOTFOUND || it->status == TESS_ERANGE)
			rc = inner_err(a, &j->slots[it->slot], it, tess_err(TESS_ECORRUPT,
			               "the shard changed while it was read; read again"));
		else if (it->status)
			rc = inner_err(a, &j->slots[it->slot], it, it->status);
	}
	free(reqs);
	free(which);
	return rc;
}

static int read_inner_task(size_t i, void *arg)
{
	shard_job *j = arg;
	inner_item *it = &j->items[i];
	tess_array *a = j->a;
	shard_slot *s = &j->slots[it->slot];
	int n = a->meta.ndim;
	size_t is = a->itemsize;
	chunk_place pl;
	pl.whole = array_chunk_overlap(n, it->g, a->inner.shape, j->start, j->count, pl.in_chunk,
	                         pl.in_region, pl.len);
	if (it->hit) {
		array_box_copy(j->rbuf, j->count, pl.in_region, it->hit->data, a->inner.shape, pl.in_chunk,
		         pl.len, n, is);
		return 0;
	}
	const uint8_t *p;
	size_t plen;
	int rc = inner_bytes(a, s, it, &p, &plen);
	if (rc)
		return rc;
	if (!p) {
		array_box_fill(j->rbuf, j->count, pl.in_region, pl.len, n, a->fill, is);
		return 0;
	}
	rc = array_chunk_read_into(a, &a->inner, p, plen, j->rbuf, j->count, &pl, j->use_cache,
	                     &it->decoded);
	tess_buf_free(&it->data);
	return rc ? inner_err(a, s, it, rc) : 0;
}

/* One try at a batch; j->changed when a shard read in part changed meanwhile
 * (then nothing was written to the caller's buffer). */
static int read_attempt(shard_job *j, uint64_t first, size_t m)
{
	j->changed = 0;
	j->epoch = array_cache_epoch(j->a->cache);
	int rc = jobs_make(j, first, m);
	if (!rc) {
		plan_reads(j);
		rc = tess_pool_run(j->a->pool, j->nslots, stat_task, j);
	}
	if (!rc) {
		find_indexes(j);
		rc = fetch_shards(j, 0);
	}
	if (!rc)
		rc = decode_indexes(j);
	if (!rc)
		rc = fetch_inner(j);
	/* what looks corrupt may be a shard rewritten between two gets */
	if (rc != TESS_ENOMEM && rc != TESS_EIO) {
		char msg[1024];
		snprintf(msg, sizeof msg, "%s", tess_errmsg());
		int vrc = tess_pool_run(j->a->pool, j->nslots, recheck_task, j);
		if (j->changed) {
			jobs_free(j);
			return 0;
		}
		if (rc)
			tess_err(rc, "%s", msg);
		else
			rc = vrc;
	}
	if (!rc) {
		cache_indexes(j);
		rc = tess_pool_run(j->a->pool, j->nitems, read_inner_task, j);
	}
	for (size_t i = 0; i < j->nitems && !rc; i++) {
		inner_item *it = &j->items[i];
		if (it->decoded) {
			array_cache_put(j->a->cache, it->ckey, it->decoded, j->a->inner.nbytes, j->epoch);
			it->decoded = NULL;
		}
	}
	jobs_free(j);
	return rc;
}

static uint64_t region_bytes(const tess_array *a, const uint64_t *count)
{
	uint64_t b = a->itemsize;
	for (int d = 0; d < a->meta.ndim; d++)
		b *= count[d]; /* checked against SIZE_MAX by the caller */
	return b;
}

/* Writers that keep rewriting a shard make a reader give up after this. */
#define READ_ATTEMPTS 16

static int read_batch(shard_job *j, uint64_t first, size_t m)
{
	for (int attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
		int rc = read_attempt(j, first, m);
		if (rc || !j->changed)
			return rc;
	}
	return tess_err(TESS_EBUSY, "array '%s': a shard kept changing while it was read "
	                "(%d tries)", j->a->path, READ_ATTEMPTS);
}

int array_shard_read(tess_array *a, const uint64_t *start, const uint64_t *count, uint8_t *buf)
{
	shard_job j = { .a = a, .start = start, .count = count, .rbuf = buf };
	array_grid_init(&j.w, a->meta.ndim, start, count, a->chunk.shape);
	j.use_cache = array_cache_worthy(a, 1, region_bytes(a, count));
	size_t per = array_batch_chunks(a->chunk.nbytes);
	int rc = 0;
	for (uint64_t b = 0; b < j.w.total && !rc; b += per) {
		size_t m = j.w.total - b < per ? (size_t)(j.w.total - b) : per;
		rc = read_batch(&j, b, m);
	}
	return rc;
}

/* ---- writes ------------------------------------------------------------------------------- */

static int write_inner_task(size_t i, void *arg)
{
	shard_job *j = arg;
	inner_item *it = &j->items[i];
	tess_array *a = j->a;
	chunk_place pl;
	pl.whole = array_chunk_overlap(a->meta.ndim, it->g, a->inner.shape, j->start, j->count,
	                         pl.in_chunk, pl.in_region, pl.len);
	inner_ctx ctx = { &j->slots[it->slot], it };
	int rc = array_chunk_write_from(a, &a->inner, j->wbuf, j->count, &pl, inner_content, &ctx,
	                          &it->enc, &it->empty);
	return rc ? inner_err(a, ctx.s, it, rc) : 0;
}

/* The new shard: its touched inner chunks re-encoded, the others as stored. */
static int assemble_task(size_t si, void *arg)
{
	shard_job *j = arg;
	tess_array *a = j->a;
	shard_slot *s = &j->slots[si];
	size_t ni = a->n_inner;
	const uint8_t **src = calloc(ni, sizeof *src);
	uint64_t *index = malloc(ni * 2 * sizeof *index);
	int rc = src && index ? 0 : array_oom(a);
	int at_start = a->meta.pipeline.shard->index_at_start;
	uint64_t pos = at_start ? a->index_len : 0;
	for (size_t l = 0; l < ni && !rc; l++) {
		index[2 * l] = index[2 * l + 1] = EMPTY;
		if (s->index && !(s->index[2 * l] == EMPTY && s->index[2 * l + 1] == EMPTY)) {
			src[l] = s->obj.data + s->index[2 * l];
			index[2 * l + 1] = s->index[2 * l + 1];
		}
	}
	for (size_t i = 0; i < s->n_items && !rc; i++) {
		inner_item *it = &j->items[s->first_item + i];
		src[it->local] = it->empty ? NULL : it->enc.data;
		index[2 * it->local + 1] = it->empty ? EMPTY : it->enc.len;
	}
	s->empty = 1;
	for (size_t l = 0; l < ni && !rc; l++) {
		if (!src[l])
			continue;
		s->empty = 0;
		index[2 * l] = pos;
		pos += index[2 * l + 1];
	}
	if (!rc && !s->empty && !at_start)
		rc = tess_buf_reserve(&s->out, (size_t)pos + a->index_len);
	if (!rc && !s->empty && at_start && !(rc = tess_buf_reserve(&s->out, (size_t)pos)))
		rc = index_encode(a, index, &s->out);
	for (size_t l = 0; l < ni && !rc && !s->empty; l++)
		if (src[l])
			rc = tess_buf_append(&s->out, src[l], (size_t)index[2 * l + 1]);
	if (!rc && !s->empty && !at_start)
		rc = index_encode(a, index, &s->out);
	free(src);
	free(index);
	return rc ? shard_err(a, s, rc, "building the shard: ") : 0;
}

static int store_shards(shard_job *j)
{
	tess_array *a = j->a;
	tess_put_req *reqs = calloc(j->nslots, sizeof *reqs);
	if (!reqs)
		return array_oom(a);
	size_t nreq = 0;
	for (size_t s = 0; s < j->nslots; s++)
		if (!j->slots[s].empty)
			reqs[nreq++] = (tess_put_req){ j->slots[s].key, j->slots[s].out.data,
			                               j->slots[s].out.len, 0, 0 };
	int rc = nreq ? tess_obj_put_many(a->st, reqs, nreq) : 0;
	if (rc)
		rc = tess_err_prefix(rc, "array '%s': ", a->path);
	for (size_t r = 0; r < nreq && !rc; r++)
		if (reqs[r].status)
			rc = array_chunk_err(a, reqs[r].key, reqs[r].status);
	const char **dels = calloc(j->nslots, sizeof *dels);
	if (!dels && !rc)
		rc = array_oom(a);
	size_t ndel = 0;
	for (size_t s = 0; s < j->nslots && !rc; s++) {
		shard_slot *sl = &j->slots[s];
		if (sl->empty && (sl->whole || sl->status != TESS_ENOTFOUND))
			dels[ndel++] = sl->key;
	}
	if (!rc)
		rc = array_batch_del(a, dels, ndel);
	free(dels);
	free(reqs);
	return rc;
}

/* The cache forgets the shards' indexes and the inner chunks written. */
static void cache_after_write(shard_job *j)
{
	tess_array *a = j->a;
	char ckey[TESS_KEY_MAX + 32];
	for (size_t s = 0; s < j->nslots; s++) {
		snprintf(ckey, sizeof ckey, "%s#index", j->slots[s].key);
		array_cache_drop(a->cache, ckey);
	}
	for (size_t i = 0; i < j->nitems; i++)
		array_cache_drop(a->cache, j->items[i].ckey);
}

static int write_batch(shard_job *j, uint64_t first, size_t m)
{
	int rc = jobs_make(j, first, m);
	if (!rc)
		rc = fetch_shards(j, 1);
	if (!rc)
		rc = decode_indexes(j);
	if (!rc)
		rc = tess_pool_run(j->a->pool, j->nitems, write_inner_task, j);
	if (!rc)
		rc = tess_pool_run(j->a->pool, j->nslots, assemble_task, j);
	if (!rc)
		rc = store_shards(j);
	cache_after_write(j);
	jobs_free(j);
	return rc;
}

int array_shard_write(tess_array *a, const uint64_t *start, const uint64_t *count, const uint8_t *buf)
{
	shard_job j = { .a = a, .start = start, .count = count, .wbuf = buf };
	array_grid_init(&j.w, a->meta.ndim, start, count, a->chunk.shape);
	size_t per = array_batch_chunks(a->chunk.nbytes);
	int rc = 0;
	for (uint64_t b = 0; b < j.w.total && !rc; b += per) {
		size_t m = j.w.total - b < per ? (size_t)(j.w.total - b) : per;
		rc = write_batch(&j, b, m);
	}
	return rc;
}
