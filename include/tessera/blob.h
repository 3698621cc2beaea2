/*
 * tessera/blob.h - files and byte objects at keys ("my-basin/sims/1/manifest").
 *
 * Keys are '/'-separated UTF-8 paths; see tess_key_check for the rules.
 * Keys under `.tessera/` are reserved: writes are refused with TESS_EPERM.
 * Every put is atomic and durable when it returns.  Large objects move with
 * bounded memory through the streaming writer and reader.
 */
#ifndef TESSERA_BLOB_H
#define TESSERA_BLOB_H

#include "common.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Flags for delete, copy and list. */
#define TESS_RECURSIVE 0x10u /**< a key also names everything under "key/" */

/* ---- put ---------------------------------------------------------------- */

/**
 * Store `len` bytes at `key`.  flags: 0 or TESS_PUT_IF_ABSENT.
 * Errors: TESS_EINVAL (bad key), TESS_EPERM (reserved key), TESS_EEXISTS
 * (TESS_PUT_IF_ABSENT and the key exists), TESS_ECONFLICT (file backend: a
 * prefix of the key is an object, or the key is a "directory"), TESS_EIO.
 */
int tess_blob_put(tess_store *st, const char *key, const void *data,
                  size_t len, unsigned flags);

/** Store everything readable from `fd` (a file, pipe or socket) at `key`. */
int tess_blob_put_fd(tess_store *st, const char *key, int fd, unsigned flags);

typedef struct tess_blob_writer tess_blob_writer;

/**
 * Start a streaming put.  Nothing is visible under `key` until
 * tess_blob_writer_commit.  `size` is the exact number of bytes that will be
 * written when known (backends such as LMDB then write in place instead of
 * spooling), else TESS_SIZE_UNKNOWN; a writer that gets a different number
 * of bytes fails (TESS_EINVAL).  Errors as for tess_blob_put.
 */
int tess_blob_writer_open(tess_blob_writer **out, tess_store *st,
                          const char *key, uint64_t size, unsigned flags);
/** Append bytes.  On failure the writer must still be aborted. */
int tess_blob_writer_write(tess_blob_writer *w, const void *data, size_t len);
/** Make the object visible atomically and free the writer (even on failure). */
int tess_blob_writer_commit(tess_blob_writer *w);
/** Discard everything written and free the writer.  NULL is a no-op. */
void tess_blob_writer_abort(tess_blob_writer *w);

/**
 * Put many objects in one call: each one atomically (not the batch as a
 * whole), with per-request results in reqs[i].status.  Backends make this
 * much cheaper than single puts: LMDB commits the batch in one transaction,
 * the file backend fsyncs each directory once.  Returns 0 when the batch
 * ran (check every status), or an error that stopped it (an invalid or
 * reserved key is reported before anything is written).
 */
int tess_blob_put_many(tess_store *st, tess_put_req *reqs, size_t n);

/* ---- get ---------------------------------------------------------------- */

/**
 * Read the whole object.  *out is malloc'd (free with tess_free) and holds
 * *out_len bytes plus a terminating NUL that is not counted.
 * Errors: TESS_EINVAL, TESS_ENOTFOUND, TESS_EIO, TESS_ENOMEM.
 */
int tess_blob_get(void **out, size_t *out_len, tess_store *st,
                  const char *key);

/**
 * Read at most `length` bytes from `offset` into the caller's buffer `dst`
 * (which holds at least `length` bytes); *out_len is the number read, short
 * only at the end of the object.  offset == size reads 0 bytes; offset > size
 * is TESS_ERANGE.
 */
int tess_blob_read(size_t *out_len, tess_store *st, const char *key,
                   uint64_t offset, void *dst, size_t length);

/**
 * Get many objects or ranges in one call; the backend may run them
 * concurrently.  Each request appends to its own reqs[i].out and reports in
 * reqs[i].status (TESS_ENOTFOUND for a missing key is normal there).
 * Returns 0 when the batch ran, or an error that stopped it.
 */
int tess_blob_get_many(tess_store *st, tess_get_req *reqs, size_t n);

/** Write the whole object to `fd`, in bounded memory. */
int tess_blob_get_fd(tess_store *st, const char *key, int fd);

typedef struct tess_blob_reader tess_blob_reader;

/** Open a streaming reader.  Errors: TESS_EINVAL, TESS_ENOTFOUND, TESS_EIO. */
int tess_blob_reader_open(tess_blob_reader **out, tess_store *st,
                          const char *key);
/** Read up to `cap` bytes; *out_len is 0 at the end. */
int tess_blob_reader_read(tess_blob_reader *r, void *dst, size_t cap,
                          size_t *out_len);
/** Size of the object as it was when the reader opened. */
uint64_t tess_blob_reader_size(const tess_blob_reader *r);
/** Free the reader.  NULL is a no-op. */
void tess_blob_reader_close(tess_blob_reader *r);

/* ---- stat, delete, list ------------------------------------------------- */

/** Size, mtime and etag.  Errors: TESS_EINVAL, TESS_ENOTFOUND, TESS_EIO. */
int tess_blob_stat(tess_stat *out, tess_store *st, const char *key);

/**
 * Delete `key`.  With TESS_RECURSIVE also every key under "key/" (and the
 * key itself if it is an object); deleting "" recursively empties the store
 * but keeps its root `.zgroup` and `.tessera/`.  TESS_ENOTFOUND when nothing
 * matched.  *out_count (may be NULL) is the number of objects deleted.
 */
int tess_blob_delete(size_t *out_count, tess_store *st, const char *key,
                     unsigned flags);

typedef struct tess_list tess_list;

/**
 * List keys under `prefix` in ascending byte order, a page at a time (never
 * the whole listing in memory).  A prefix that does not end with '/' matches
 * key beginnings ("ru" matches "run1/x" and "rum").  Without TESS_RECURSIVE
 * keys are rolled up at the next '/' into prefix entries, like `ls`.
 */
int tess_list_open(tess_list **out, tess_store *st, const char *prefix,
                   unsigned flags);
/**
 * Next entry; *out is borrowed from the iterator and valid until the next
 * call.  TESS_ITEROVER at the end.
 */
int tess_list_next(const tess_list_entry **out, tess_list *it);
/** Free the iterator.  NULL is a no-op. */
void tess_list_close(tess_list *it);

/* ---- copy --------------------------------------------------------------- */

/**
 * Copy `src_key` of `src` to `dst_key` of `dst` (the same or another store,
 * any backends), streaming in bounded memory.  With TESS_RECURSIVE,
 * everything under "src_key/" lands under "dst_key/" as well.
 * `progress` may be NULL.  Errors: TESS_ENOTFOUND (nothing to copy), and
 * those of get and put.
 */
int tess_blob_copy(tess_store *dst, const char *dst_key, tess_store *src,
                   const char *src_key, unsigned flags,
                   tess_progress_cb progress, void *payload);

/**
 * Copy a store object (or, with TESS_RECURSIVE, a tree) to a local file (or
 * directory).  Files are written to a temporary name and renamed.
 * (The cloud-compute SDK's CopyFileToLocal.)
 */
int tess_blob_copy_to_local(const char *local_path, tess_store *src,
                            const char *src_key, unsigned flags,
                            tess_progress_cb progress, void *payload);

/**
 * Copy a local file (or, with TESS_RECURSIVE, a directory tree) into the
 * store at `dst_key`.  Symlinks in the tree are refused.  With
 * TESS_PUT_IF_ABSENT an existing key fails with TESS_EEXISTS.
 * (The cloud-compute SDK's CopyFileToRemote.)
 */
int tess_blob_copy_from_local(tess_store *dst, const char *dst_key,
                              const char *local_path, unsigned flags,
                              tess_progress_cb progress, void *payload);

#ifdef __cplusplus
}
#endif
#endif
