/*
 * tessera/sys/backend.h - the object layer: a versioned backend vtable.
 *
 * For people who write backends.  A backend stores bytes by key.  Keys given
 * to a backend have already been validated by the store (tess_key_check):
 * UTF-8, no empty segments, no "." or "..", no leading '/', no backslash, no
 * NUL, at most TESS_KEY_MAX bytes.  A backend may refuse keys it cannot hold
 * (e.g. LMDB's 511-byte key limit) with TESS_EINVAL.
 *
 * An instance is a struct whose first member is `tess_backend`:
 *
 *     struct file_backend { tess_backend base; int root_fd; ... };
 *
 * Every operation returns 0 or a negative TESS_E* code and, on failure, sets
 * the thread's message (tess_errmsg) naming the key and the reason.
 *
 * Threads: operations on one instance may be called from several threads at
 * once; a backend serializes internally where it must.  A writer is used by
 * one thread at a time.
 */
#ifndef TESSERA_SYS_BACKEND_H
#define TESSERA_SYS_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include "../common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Version of the vtable layout; bumped when a member is added. */
#define TESS_BACKEND_ABI 2
/** Oldest layout still accepted: ABI 1 had no del_many. */
#define TESS_BACKEND_ABI_MIN 1

/** Longest key in bytes; longest single segment (a file name). */
#define TESS_KEY_MAX 1024
#define TESS_KEY_SEGMENT_MAX 255

/** "Size not known in advance", for writer_open. */
#define TESS_SIZE_UNKNOWN UINT64_MAX

/** Flags for put, put_many and writer_open. */
#define TESS_PUT_IF_ABSENT 0x1u /**< fail with TESS_EEXISTS if the key exists */

/** Capability bits of a backend (tess_backend_ops.caps). */
#define TESS_CAP_MULTIPROCESS 0x1u /**< several processes may share the store */
#define TESS_CAP_HIERARCHICAL 0x2u /**< a key cannot be an object and a prefix
                                        ("a" and "a/b"): TESS_ECONFLICT */
#define TESS_CAP_LOCAL 0x4u /**< store lives on this machine's disk */

/**
 * A growable byte buffer.  Zero-initialize; free with tess_buf_free.
 * A buffer made with tess_buf_fixed wraps caller memory and never grows:
 * that is how a get lands directly in a caller's buffer, without a copy.
 */
typedef struct tess_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	int fixed; /**< 1: data is the caller's; never reallocated or freed */
} tess_buf;

/** A buffer over `cap` bytes of caller memory at `mem`, empty. */
tess_buf tess_buf_fixed(void *mem, size_t cap);

/**
 * Make room for `extra` more bytes after len.  TESS_ENOMEM on failure, or
 * when a fixed buffer is too small.  Backends call this with the exact
 * number of bytes they will append.
 */
int tess_buf_reserve(tess_buf *buf, size_t extra);
/** Append bytes. */
int tess_buf_append(tess_buf *buf, const void *data, size_t len);
/** Release the memory and zero the struct. */
void tess_buf_free(tess_buf *buf);

/** Metadata of one object. */
typedef struct tess_stat {
	uint64_t size;    /**< bytes */
	int64_t mtime_ns; /**< last modification, ns since the Unix epoch */
	char etag[72];    /**< opaque content tag, NUL-terminated: changes whenever
	                       the bytes change (a put of identical bytes may keep
	                       it, as on S3); writes of other keys never change it */
} tess_stat;

/** One entry of a listing: an object, or a common prefix (a "directory"). */
typedef struct tess_list_entry {
	char *key;        /**< full key; for a prefix it ends with the delimiter */
	int is_prefix;    /**< 1 for a common prefix (size and mtime are 0) */
	uint64_t size;
	int64_t mtime_ns;
} tess_list_entry;

/** A page of a listing.  Zero-initialize; reuse; free with tess_list_page_free. */
typedef struct tess_list_page {
	tess_list_entry *entries;
	size_t count;
	size_t cap;
	int truncated; /**< 1 when more entries follow this page */
} tess_list_page;

/** Append an entry (the key is copied).  For backends. */
int tess_list_page_add(tess_list_page *page, const char *key, size_t key_len,
                       int is_prefix, uint64_t size, int64_t mtime_ns);
/** Drop all entries but keep the memory, set truncated = 0. */
void tess_list_page_clear(tess_list_page *page);
/** Release everything and zero the struct. */
void tess_list_page_free(tess_list_page *page);

/** One request of a batched get. */
typedef struct tess_get_req {
	const char *key;  /**< in */
	uint64_t offset;  /**< in */
	uint64_t length;  /**< in: UINT64_MAX for "to the end" */
	tess_buf *out;    /**< in: the bytes are appended here */
	int status;       /**< out: 0, TESS_ENOTFOUND, ... per request */
} tess_get_req;

/** One request of a batched put. */
typedef struct tess_put_req {
	const char *key;  /**< in */
	const void *data; /**< in */
	size_t len;       /**< in */
	unsigned flags;   /**< in: TESS_PUT_IF_ABSENT */
	int status;       /**< out: 0, TESS_EEXISTS, ... per request */
} tess_put_req;

/** One request of a batched delete. */
typedef struct tess_del_req {
	const char *key;  /**< in */
	int status;       /**< out: 0 once the key is gone (also when it was
	                       never there), else a TESS_E* code */
} tess_del_req;

typedef struct tess_backend tess_backend;
typedef struct tess_writer tess_writer;
typedef struct tess_backend_ops tess_backend_ops;

/** Base of every backend instance. */
struct tess_backend {
	const tess_backend_ops *ops;
};

/** Base of every streaming writer. */
struct tess_writer {
	tess_backend *backend;
};

/** Flags for open. */
#define TESS_BACKEND_CREATE 0x1u /**< create the location if it is missing */

struct tess_backend_ops {
	int abi;             /**< TESS_BACKEND_ABI */
	const char *scheme;  /**< URL scheme it serves: "file", "mem", "lmdb", ... */
	unsigned caps;       /**< TESS_CAP_* */

	/**
	 * Open `location` (the URL without "scheme://" and without "?query";
	 * for file, a path).  `query` is the URL's query string without '?', or
	 * NULL.  Without TESS_BACKEND_CREATE a missing location is
	 * TESS_ENOTFOUND.
	 */
	int (*open)(tess_backend **out, const char *location, const char *query,
	            unsigned flags);
	/** Release the instance.  NULL is a no-op. */
	void (*close)(tess_backend *be);

	/**
	 * Append bytes [offset, offset+length) of `key` to `out`; the range is
	 * cut at the end of the object.  offset == size gives no bytes; offset >
	 * size is TESS_ERANGE.  TESS_ENOTFOUND if the key is missing.
	 */
	int (*get)(tess_backend *be, const char *key, uint64_t offset,
	           uint64_t length, tess_buf *out);

	/**
	 * Store `len` bytes atomically: readers see the old object or the new
	 * one, never a part; once it returns 0 the object is durable.  With
	 * TESS_PUT_IF_ABSENT exactly one of several racing puts of a missing key
	 * succeeds; the others get TESS_EEXISTS.
	 */
	int (*put)(tess_backend *be, const char *key, const void *data, size_t len,
	           unsigned flags);

	/**
	 * Streaming writer for objects of any size with bounded memory.  Nothing
	 * is visible until writer_commit; writer_commit and writer_abort both
	 * free the writer.  Flags as for put (checked at commit).  `size` is the
	 * exact final size when the caller knows it (a backend may reserve the
	 * space up front and write in place), else TESS_SIZE_UNKNOWN; writing
	 * more than a known size fails, and committing fewer bytes fails with
	 * TESS_EINVAL.
	 */
	int (*writer_open)(tess_backend *be, tess_writer **out, const char *key,
	                   uint64_t size, unsigned flags);
	int (*writer_write)(tess_writer *w, const void *data, size_t len);
	int (*writer_commit)(tess_writer *w);
	void (*writer_abort)(tess_writer *w);

	/** Size, mtime and etag of `key`.  TESS_ENOTFOUND if missing. */
	int (*stat)(tess_backend *be, const char *key, tess_stat *out);

	/** Delete `key`.  TESS_ENOTFOUND if missing. */
	int (*del)(tess_backend *be, const char *key);

	/**
	 * One page of the keys that start with `prefix` ("" for all), in
	 * ascending byte order.  With a non-NULL `delimiter` (a single byte
	 * string, "/" in practice) keys that contain the delimiter after the
	 * prefix are rolled up into one entry per common prefix (up to and
	 * including the delimiter).  Entries are ordered by their name (key or
	 * common prefix) and only names strictly greater than `start_after`
	 * (NULL for the start) are returned.  At most `max_entries` are appended
	 * to `page` (which the caller cleared); `page->truncated` is set when
	 * more follow.  Continue with start_after = the last entry's key.
	 */
	int (*list)(tess_backend *be, const char *prefix, const char *delimiter,
	            const char *start_after, size_t max_entries,
	            tess_list_page *page);

	/**
	 * Optional (NULL: the store calls get in a loop).  Run all requests,
	 * possibly concurrently; per-request results go to req->status.
	 * Returns 0 unless the batch as a whole failed.
	 */
	int (*get_many)(tess_backend *be, tess_get_req *reqs, size_t n);

	/**
	 * Optional (NULL: the store calls put in a loop).  Each object is put
	 * atomically (not the batch as a whole); results go to req->status.
	 * Returns 0 unless the batch as a whole failed.
	 */
	int (*put_many)(tess_backend *be, tess_put_req *reqs, size_t n);

	/* ---- ABI 2 ---- */

	/**
	 * Optional (NULL, or abi < 2: the store calls del in a loop).  Delete
	 * every key; a key that is already missing is not an error here (a batch
	 * delete is idempotent, as S3's DeleteObjects is).  Results go to
	 * req->status.  Returns 0 unless the batch as a whole failed.
	 */
	int (*del_many)(tess_backend *be, tess_del_req *reqs, size_t n);
};

/**
 * Register a backend for its scheme.  The ops struct must outlive the
 * process.  TESS_EEXISTS if the scheme is taken, TESS_EVERSION if abi is not
 * between TESS_BACKEND_ABI_MIN and TESS_BACKEND_ABI (members added by later
 * ABIs are never read from an older backend's struct).  Built-in backends (file, mem, lmdb, s3) are registered
 * before the first store is opened.
 */
int tess_backend_register(const tess_backend_ops *ops);

/** The registered backend for `scheme`, or NULL. */
const tess_backend_ops *tess_backend_find(const char *scheme);

/**
 * Check a key: TESS_EINVAL with a message naming the key and the rule it
 * breaks, or 0.
 */
int tess_key_check(const char *key);

#ifdef __cplusplus
}
#endif
#endif
