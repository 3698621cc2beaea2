/* Internal: the store handle and helpers that modules share. */
#ifndef TESS_STORE_INTERNAL_H
#define TESS_STORE_INTERNAL_H

#include "tessera/store.h"

struct tess_store {
	char *url;
	tess_backend *be;
	const tess_backend_ops *ops;
};

/** Reserved area of every store. */
#define TESS_RESERVED_DIR ".tessera"
#define TESS_FORMAT_KEY ".tessera/format"
/* A Zarr v2 group, byte for byte as zarr-python writes it. */
#define ZGROUP_V2 "{\n    \"zarr_format\": 2\n}"

/* Thin wrappers over the vtable: key checked, batched calls fall back to
 * loops when the backend has no batched op. */
int tess_obj_get(tess_store *st, const char *key, uint64_t offset,
                 uint64_t length, tess_buf *out);
int tess_obj_put(tess_store *st, const char *key, const void *data, size_t len,
                 unsigned flags);
int tess_obj_get_many(tess_store *st, tess_get_req *reqs, size_t n);
int tess_obj_put_many(tess_store *st, tess_put_req *reqs, size_t n);
/** Delete keys; missing ones count as deleted (see del_many). */
int tess_obj_del_many(tess_store *st, tess_del_req *reqs, size_t n);

/**
 * Deletes gathered while walking a listing and sent TESS_DEL_BATCH at a
 * time (one DeleteObjects request each on S3).  Zero-initialize; add keys
 * (copied); flush at the end; free always.  `deleted` counts the keys gone.
 * A failure names the key.
 */
#define TESS_DEL_BATCH 1000
typedef struct tess_del_batch {
	tess_del_req reqs[TESS_DEL_BATCH];
	char *keys[TESS_DEL_BATCH];
	size_t n;
	size_t deleted;
} tess_del_batch;
int tess_del_batch_add(tess_del_batch *b, tess_store *st, const char *key);
int tess_del_batch_flush(tess_del_batch *b, tess_store *st);
void tess_del_batch_free(tess_del_batch *b);

/**
 * Read a byte range into a caller's buffer without an intermediate copy.
 * *out_len is what was read (short only at the end of the object).
 */
int tess_obj_read(size_t *out_len, tess_store *st, const char *key,
                  uint64_t offset, void *dst, size_t length);

/**
 * A named advisory lock shared by every process using the store, for
 * read-modify-write of metadata.  It is a lease: an object
 * `.tessera/locks/<hash>` created with put-if-absent that expires after
 * TESS_LOCK_LEASE_NS, so a crashed holder blocks others only until then.
 * Waits up to TESS_LOCK_WAIT_NS, then TESS_EBUSY.
 */
typedef struct tess_lock tess_lock;
#define TESS_LOCK_LEASE_NS (30LL * 1000000000LL)
#define TESS_LOCK_WAIT_NS (60LL * 1000000000LL)
int tess_lock_acquire(tess_lock **out, tess_store *st, const char *name);
/** Release and free; NULL is a no-op. */
void tess_lock_release(tess_lock *lk);

/** A store URL taken apart: "scheme://location?query", or a plain path. */
typedef struct tess_url {
	char scheme[32];
	char *location; /* malloc'd */
	char *query;    /* malloc'd or NULL */
} tess_url;

/** Parse; on failure TESS_EINVAL/TESS_ENOMEM.  Free with tess_url_free always. */
int tess_url_parse(tess_url *u, const char *url);
void tess_url_free(tess_url *u);

/** Nanoseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t tess_now_ns(void);

/**
 * Join a parent key and a child name with '/' into a malloc'd string; an
 * empty parent gives the child alone.  NULL on out of memory.
 */
char *tess_key_join(const char *parent, const char *child);

#endif
