/*
 * Internal to src/array: the array handle and the pieces of the chunk I/O
 * core (cache.c, chunk.c, region.c, shard.c, array.c).
 *
 * Inside the core a chunk's elements are always held in the caller's layout:
 * C order over the chunk shape, in the byte order of the array's dtype (for
 * v3, whose dtypes have no byte order: little endian).  chunk.c converts to
 * and from the stored layout (transposed, other byte order, then the bytes
 * codecs).
 */
#ifndef TESS_ARRAY_CORE_H
#define TESS_ARRAY_CORE_H

#include <pthread.h>

#include "array/array_internal.h"
#include "array/meta.h"
#include "store/internal.h"
#include "util/pool.h"

#define MAXD TESS_ARRAY_MAX_DIMS

/* ---- the decoded chunk cache (cache.c) ---------------------------------------- */

typedef struct chunk_cache chunk_cache;

/** A cached chunk; data stays valid while the entry is pinned. */
typedef struct cache_entry cache_entry;
struct cache_entry {
	char *key;
	uint8_t *data;
	size_t len;
	/* private to cache.c */
	unsigned refs;
	int dead;
	cache_entry *hnext, *prev, *next;
};

int array_cache_create(chunk_cache **out, size_t capacity);
void array_cache_destroy(chunk_cache *c);
size_t array_cache_capacity(const chunk_cache *c);
void array_cache_set_capacity(chunk_cache *c, size_t capacity);
/** The entry for key, pinned (release it), or NULL. */
cache_entry *array_cache_get(chunk_cache *c, const char *key);
void array_cache_release(chunk_cache *c, cache_entry *e);
/** The write epoch: take it before looking up what a read will insert. */
uint64_t array_cache_epoch(chunk_cache *c);
/**
 * Insert or replace what a read decoded; takes `data` (malloc'd) in every
 * case.  Refused when a write dropped anything since `epoch`.
 */
void array_cache_put(chunk_cache *c, const char *key, uint8_t *data, size_t len, uint64_t epoch);
/** Writes: forget a key (and move the write epoch). */
void array_cache_drop(chunk_cache *c, const char *key);
void array_cache_clear(chunk_cache *c);

/* ---- reusable chunk buffers (cache.c) ------------------------------------------------ */

typedef struct buf_pool buf_pool;
int array_bufs_create(buf_pool **out, size_t max_bytes);
void array_bufs_destroy(buf_pool *p);
/** An empty buffer with room for `size` bytes (data NULL when out of memory). */
tess_buf array_bufs_take(buf_pool *p, size_t size);
/** Give a buffer back (or free it) and zero *b. */
void array_bufs_give(buf_pool *p, tess_buf *b);

/* ---- the handle ------------------------------------------------------------------- */

/** One kind of stored chunk: a regular chunk, or a shard's inner chunk. */
typedef struct chunk_kind {
	const tess_pipeline *pipe;
	int ndim;
	uint64_t shape[MAXD];
	uint64_t nelem;
	size_t nbytes;    /* decoded size */
	size_t itemsize;
	int swap;         /* stored byte order differs from the caller's */
	size_t swap_unit; /* bytes swapped as one number (complex: half the item) */
} chunk_kind;

struct tess_array {
	tess_store *st;
	char *path;           /* normalized; "" for the root */
	tess_meta meta;
	size_t itemsize;
	uint8_t *fill;        /* one element in the caller's byte order */
	int fill_zero;        /* all fill bytes are 0 */
	int keep_fill_chunks; /* v2 fill_value null: zarr-python reads missing
	                         chunks as garbage, so never drop a chunk */
	chunk_kind chunk;     /* the grid unit: a chunk, or a whole shard */
	/* sharding_indexed */
	int sharded;
	chunk_kind inner;
	uint64_t per_shard[MAXD]; /* inner chunks per shard along each axis */
	size_t n_inner;
	size_t index_len;         /* encoded index bytes */
	/* parallelism and caching */
	tess_pool *pool;
	tess_pool *own_pool;
	chunk_cache *cache;
	buf_pool *bufs;
	/* Pyramid levels (src/pyramid/hook.h): the level k of the array's
	 * "_tessera_pyramid" attribute, read at open; -1 for other arrays.
	 * Writes and resizes of level arrays go through the pyramid hooks. */
	int pyr_level;
	int pyr_uow;                    /* its pyramid's update_on_write; -1: not read yet */
	struct tess_pyramid *pyr_owner; /* the pyramid handle that opened it, or NULL */
};

/* ---- geometry and element copies (chunk.c) ------------------------------------------ */

/** The chunks of a grid that a region touches, numbered 0..total-1 in C order. */
typedef struct grid_walk {
	int ndim;
	uint64_t first[MAXD], n[MAXD];
	uint64_t total;
} grid_walk;

void array_grid_init(grid_walk *w, int ndim, const uint64_t *start, const uint64_t *count,
                    const uint64_t *chunk);
void array_grid_coords(const grid_walk *w, uint64_t k, uint64_t *idx);

/** Where chunk `idx` (of shape `chunk`) meets the region: per axis the offset in the
 * chunk, the offset in the region and the length.  1 when the whole chunk is inside. */
int array_chunk_overlap(int ndim, const uint64_t *idx, const uint64_t *chunk, const uint64_t *start,
                  const uint64_t *count, uint64_t *in_chunk, uint64_t *in_region, uint64_t *len);

/** Where one chunk meets a region (array_chunk_overlap's results). */
typedef struct chunk_place {
	uint64_t in_chunk[MAXD], in_region[MAXD], len[MAXD];
	int whole;
} chunk_place;

/** Copy a box of `len` elements between two C-order arrays. */
void array_box_copy(uint8_t *dst, const uint64_t *dshape, const uint64_t *dstart, const uint8_t *src,
              const uint64_t *sshape, const uint64_t *sstart, const uint64_t *len, int ndim,
              size_t itemsize);
/** Set a box of a C-order array to the fill element. */
void array_box_fill(uint8_t *dst, const uint64_t *dshape, const uint64_t *dstart, const uint64_t *len,
              int ndim, const uint8_t *fill, size_t itemsize);
/** The element offset of a box inside a C-order array when the box is one contiguous run,
 * else -1. */
int64_t array_box_contiguous(const uint64_t *shape, const uint64_t *start, const uint64_t *len, int ndim);
void array_fill_elems(uint8_t *dst, uint64_t n, const uint8_t *fill, size_t itemsize);
/** 1 when every element equals the fill byte for byte. */
int array_is_all_fill(const tess_array *a, const uint8_t *p, size_t nbytes);

/* ---- chunk encoding (chunk.c) -------------------------------------------------------- */

/** Run bytes through a pipeline's bytes codecs (encode), appending to out. */
int array_codecs_encode(const tess_pipeline *p, const uint8_t *in, size_t len, tess_buf *out);
/** The reverse; the result is at most max_out bytes (TESS_ECORRUPT beyond). */
int array_codecs_decode(const tess_pipeline *p, const uint8_t *in, size_t len, tess_buf *out,
                  size_t max_out);

/** A chunk in the caller's layout (k->nbytes at canon) to stored bytes, appended to out. */
int array_chunk_encode(const chunk_kind *k, const uint8_t *canon, tess_buf *out);
/**
 * Stored bytes to the caller's layout at dst (k->nbytes).  Every failure of
 * the data is TESS_ECORRUPT with the codec's message; the caller prefixes
 * the array and the key.
 */
int array_chunk_decode(const chunk_kind *k, const uint8_t *in, size_t len, uint8_t *dst);

/* ---- keys, messages, batches (region.c) ---------------------------------------------- */

/** The full store key of chunk idx into buf (TESS_KEY_MAX + 1 bytes); 0 or TESS_EINVAL. */
int array_chunk_key(const tess_array *a, const uint64_t *idx, char *buf);
/** TESS_ENOMEM naming the array. */
int array_oom(const tess_array *a);
/** One batched get (parallel on the pool when the backend has no get_many). */
int array_batch_get(tess_array *a, tess_get_req *reqs, size_t n);
/** Delete keys in parallel on the pool; missing keys are fine. */
int array_batch_del(tess_array *a, const char **keys, size_t n);
/** Prefix the thread's message with the array and the chunk key. */
int array_chunk_err(const tess_array *a, const char *key, int rc);
/** Batch size: chunks of `nbytes` decoded bytes per round trip. */
size_t array_batch_chunks(size_t nbytes);
/** Whether a read of nchunks decoded chunks should fill the cache. */
int array_cache_worthy(const tess_array *a, uint64_t nchunks, size_t chunk_bytes);

int array_regular_read(tess_array *a, const uint64_t *start, const uint64_t *count, uint8_t *buf);
int array_regular_write(tess_array *a, const uint64_t *start, const uint64_t *count,
                  const uint8_t *buf);

/**
 * Decode a stored chunk of kind k and copy its part of the region into buf
 * (the region's `count` shape).  With `keep`, *kept receives the decoded
 * chunk (malloc'd) for the cache.  Errors are the decoder's, unprefixed.
 */
int array_chunk_read_into(tess_array *a, const chunk_kind *k, const uint8_t *in, size_t len,
                    uint8_t *buf, const uint64_t *count, const chunk_place *pl, int keep,
                    uint8_t **kept);

/** A chunk's content before a write, into dst (k->nbytes); unprefixed errors. */
typedef int (*chunk_old_fn)(tess_array *a, void *ctx, uint8_t *dst);

/**
 * A chunk's content after writing the region's part of buf: old content
 * (from `old`, unless the region covers the whole chunk), then the region.
 * *empty when all fill; else the encoding in *enc.  Errors unprefixed.
 */
int array_chunk_write_from(tess_array *a, const chunk_kind *k, const uint8_t *buf,
                     const uint64_t *count, const chunk_place *pl, chunk_old_fn old, void *ctx,
                     tess_buf *enc, int *empty);

/* ---- sharding_indexed (shard.c) -------------------------------------------------------- */

int array_shard_setup(tess_array *a);
int array_shard_read(tess_array *a, const uint64_t *start, const uint64_t *count, uint8_t *buf);
int array_shard_write(tess_array *a, const uint64_t *start, const uint64_t *count,
                const uint8_t *buf);

/* ---- metadata helpers (array.c) --------------------------------------------------------- */

/** Set up the handle's derived fields (chunk kinds, fill) from a->meta. */
int array_derive(tess_array *a);

#endif
