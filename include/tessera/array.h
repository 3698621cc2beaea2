/*
 * tessera/array.h - chunked, compressed N-d arrays stored as plain Zarr
 * (v2 `.zarray`, v3 `zarr.json` with optional sharding).
 *
 * Regions are given as a start and a count per dimension; the caller's
 * buffer holds the region's elements in C order, in the array dtype's byte
 * order.  Missing chunks read as the fill value; chunks that end up all fill
 * are not stored.  Chunks are encoded and decoded in parallel and fetched
 * with the backend's batched get.
 */
#ifndef TESSERA_ARRAY_H
#define TESSERA_ARRAY_H

#include "common.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TESS_ARRAY_MAX_DIMS 32

/** Element kinds (NumPy's). */
typedef enum tess_dtype_kind {
	TESS_DT_BOOL,    /**< "|b1" */
	TESS_DT_INT,     /**< "i1" .. "i8" */
	TESS_DT_UINT,    /**< "u1" .. "u8" */
	TESS_DT_FLOAT,   /**< "f2" (stored and read as is), "f4", "f8" */
	TESS_DT_COMPLEX, /**< "c8", "c16" */
	TESS_DT_BYTES,   /**< "S<n>": n bytes, zero padded */
	TESS_DT_UNICODE, /**< "U<n>": n UCS-4 code units (4n bytes) */
} tess_dtype_kind;

typedef struct tess_dtype {
	tess_dtype_kind kind;
	uint32_t itemsize; /**< bytes per element */
	char endian;       /**< '<' little, '>' big, '|' not applicable */
} tess_dtype;

/**
 * Parse a NumPy typestring ("<f4", "|u1", ">i8", "<U10", "|S3", "|b1") or a
 * plain name ("float32", "uint8", "int64", "bool", "complex64", ...: little
 * endian).  TESS_EINVAL naming the string otherwise.
 */
int tess_dtype_parse(tess_dtype *out, const char *s);

/** The NumPy typestring of a dtype into buf (at least 16 bytes). */
const char *tess_dtype_str(char *buf, size_t cap, const tess_dtype *dt);

#define TESS_ARRAY_OPTS_VERSION 1

/** Creation options.  Initialize with TESS_ARRAY_OPTS_INIT, then set. */
typedef struct tess_array_opts {
	unsigned version;        /**< TESS_ARRAY_OPTS_VERSION */
	int zarr_format;         /**< 2 (default) or 3 */
	int ndim;
	uint64_t shape[TESS_ARRAY_MAX_DIMS];
	uint64_t chunks[TESS_ARRAY_MAX_DIMS]; /**< 0 entries: whole extent */
	tess_dtype dtype;
	const char *codec;       /**< CLI SPEC ("blosc:lz4:5:shuffle", "zstd:3", "none"); NULL: blosc default */
	const char *fill;        /**< fill value as JSON text ("0", "\"NaN\"", "null"); NULL: 0 */
	char order;              /**< 'C' (default) or 'F' */
	char dimension_separator;/**< '.' (default for v2) or '/' */
	uint64_t shard[TESS_ARRAY_MAX_DIMS];  /**< v3: shard shape (multiple of chunks); all 0: none */
	const char *const *dimension_names;   /**< v3: ndim names or NULL */
} tess_array_opts;

#define TESS_ARRAY_OPTS_INIT { TESS_ARRAY_OPTS_VERSION, 2, 0, {0}, {0}, \
	{ TESS_DT_FLOAT, 8, '<' }, NULL, NULL, 'C', '.', {0}, NULL }

typedef struct tess_array tess_array;

/**
 * Create an array at `path` (parent groups are created as Zarr groups) and
 * open it.  Errors: TESS_EINVAL (bad options: the message names the field),
 * TESS_EEXISTS (a node exists at path), TESS_ECONFLICT (a parent is an array
 * or a blob), TESS_EIO.
 */
int tess_array_create(tess_array **out, tess_store *st, const char *path,
                      const tess_array_opts *opts);

/**
 * Open the array at `path` (v2 or v3, found by its metadata key; uses a
 * consolidated `.zmetadata` at the root when present).  Errors:
 * TESS_ENOTFOUND, TESS_ECORRUPT / TESS_EINVAL (bad metadata: message names the
 * field), TESS_ENOTSUP (unknown codec or must-understand extension).
 */
int tess_array_open(tess_array **out, tess_store *st, const char *path);

/** Close and free.  NULL is a no-op. */
void tess_array_close(tess_array *arr);

/** Rank, shape, chunk shape and dtype (borrowed; valid while arr is open). */
int tess_array_ndim(const tess_array *arr);
const uint64_t *tess_array_shape(const tess_array *arr);
const uint64_t *tess_array_chunks(const tess_array *arr);
const tess_dtype *tess_array_dtype(const tess_array *arr);
int tess_array_zarr_format(const tess_array *arr);

/**
 * Read the region [start, start+count) into `buf` (product(count) *
 * itemsize bytes, C order).  Errors: TESS_EINVAL (region outside the
 * shape), TESS_ECORRUPT (a chunk does not decode: the message names the
 * array and the chunk key), TESS_EIO.
 */
int tess_array_read(tess_array *arr, const uint64_t *start, const uint64_t *count,
                    void *buf);

/**
 * Write the region from `buf`.  Partial chunks are read, modified and
 * written back; chunks that become all fill are deleted.  Each chunk is
 * replaced atomically; a region spanning chunks is not atomic as a whole.
 */
int tess_array_write(tess_array *arr, const uint64_t *start, const uint64_t *count,
                     const void *buf);

/**
 * Change the shape; chunks wholly outside the new shape are deleted, and
 * edge chunks keep their data.  The metadata update is serialized with
 * other metadata changes of the store.
 */
int tess_array_resize(tess_array *arr, const uint64_t *shape);

/** Delete the array at path: its metadata, attributes and chunks. */
int tess_array_delete(tess_store *st, const char *path);

#ifdef __cplusplus
}
#endif
#endif
