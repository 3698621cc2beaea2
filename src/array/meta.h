/*
 * Internal: array metadata of Zarr v2 (.zarray) and v3 (zarr.json), parsed
 * into one form that the chunk I/O core works from.
 *
 * The core sees an array as: a shape, a regular grid of chunks (for sharded
 * v3 arrays: the shard shape, with an inner grid), a dtype, a fill value, and
 * a chunk pipeline that turns a chunk's elements (C order, native byte
 * order) into stored bytes and back:
 *
 *     elements --[permutation]--> [byte order] --> bytes codecs --> stored
 *
 * v2: permutation is identity for order "C" and reversal for "F"; byte order
 * is the dtype's; bytes codecs are filters then the compressor.
 * v3: permutation from the transpose codec; byte order from the bytes
 * codec's endian; bytes codecs are the bytes-to-bytes codecs; or the whole
 * array-to-bytes step is sharding_indexed with its own inner pipeline.
 */
#ifndef TESS_ARRAY_META_H
#define TESS_ARRAY_META_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"
#include "tessera/array.h"

typedef struct tess_pipeline tess_pipeline;

/** How a chunk's elements become stored bytes. */
struct tess_pipeline {
	int perm[TESS_ARRAY_MAX_DIMS]; /**< stored axis i is array axis perm[i] */
	int permuted;                  /**< 0 when perm is the identity */
	char endian;                   /**< stored byte order: '<', '>' or '|' (itemsize 1 or bytes) */
	tess_codec **codecs;           /**< bytes-to-bytes, applied in order on encode */
	size_t ncodecs;
	/* sharding_indexed (v3 only); NULL otherwise */
	struct tess_shard_spec *shard;
};

/** sharding_indexed: an outer chunk (shard) holds a grid of inner chunks. */
typedef struct tess_shard_spec {
	uint64_t inner[TESS_ARRAY_MAX_DIMS]; /**< inner chunk shape */
	tess_pipeline inner_pipeline;        /**< how each inner chunk is stored */
	tess_pipeline index_pipeline;        /**< how the index is stored (bytes + crc32c usually) */
	int index_at_start;                  /**< index_location "start" (1) or "end" (0) */
} tess_shard_spec;

/** Everything the core needs, parsed from .zarray or zarr.json. */
typedef struct tess_meta {
	int zarr_format;                     /**< 2 or 3 */
	int ndim;                            /**< 0..TESS_ARRAY_MAX_DIMS */
	uint64_t shape[TESS_ARRAY_MAX_DIMS];
	uint64_t chunks[TESS_ARRAY_MAX_DIMS];/**< chunk (v3 sharded: shard) shape, all > 0 */
	tess_dtype dtype;
	uint8_t *fill;                       /**< itemsize bytes in stored byte order */
	int fill_null;                       /**< v2 "fill_value": null (reads as zeros) */
	/* chunk keys: "<prefix><i><sep><j>..." relative to the array's path;
	 * v2: prefix "" and sep '.' or '/'; v3 default: prefix "c/" sep '/',
	 * v3 "v2" encoding: prefix "" and sep '.' or '/'.  A 0-d array's only
	 * chunk is "0" (v2) or "c" (v3 default). */
	char key_prefix[4];
	char key_sep;
	tess_pipeline pipeline;
	char **dimension_names;              /**< v3, ndim entries (each may be NULL) or NULL */
	json_t *attributes;                  /**< v3 "attributes" (v2: NULL; they live in .zattrs) */
	json_t *extra;                       /**< members we do not interpret but keep when rewriting */
	/* Added for exact rewriting (v2): */
	char order;                          /**< v2 "order" 'C' or 'F' (kept for 1-d arrays too); v3: 'C' */
	int sep_explicit;                    /**< v2: "dimension_separator" is written (it was present) */
	size_t nfilters;                     /**< v2: pipeline.codecs[0..nfilters) are "filters", a
	                                          codec after them is the "compressor" */
} tess_meta;

/** Largest decoded chunk (v3 sharded: inner chunk) in bytes; larger is refused. */
#define TESS_META_MAX_CHUNK_BYTES ((uint64_t)1 << 31)
/** Most inner chunks one shard may hold (its index is 16 bytes per inner chunk). */
#define TESS_META_MAX_SHARD_CHUNKS ((uint64_t)1 << 24)

/**
 * Parse metadata JSON text.  zarr_format 2: `.zarray`; 3: `zarr.json` with
 * "node_type": "array".  `what` names the source for messages
 * ("array 'a/b': .zarray").  Errors: TESS_EINVAL/TESS_ECORRUPT with a message
 * naming the field (wrong types, negative or huge shapes, chunk length 0,
 * shape x itemsize overflowing, unknown dtype), TESS_ENOTSUP (unknown codec,
 * or a v3 extension with "must_understand": true not understood — the
 * message names them).
 */
int tess_meta_parse(tess_meta *out, const char *text, size_t len, int zarr_format,
                    const char *what);

/**
 * Serialize to the exact text zarr-python writes (v2: 4-space indent, sorted
 * keys, see util/json.h; v3: the same JSON conventions).  Appends to out.
 */
int tess_meta_write(tess_buf *out, const tess_meta *m);

/** Release everything a tess_meta owns and zero it. */
void tess_meta_clear(tess_meta *m);

/** Deep copy (used for resize, which rewrites a copy). */
int tess_meta_copy(tess_meta *dst, const tess_meta *src);

/** Build metadata from the public creation options (tessera/array.h). */
int tess_meta_from_opts(tess_meta *out, const tess_array_opts *opts);

/**
 * The key of chunk `idx` (ndim coordinates) relative to the array's path,
 * into buf (at least TESS_KEY_MAX bytes).  Returns the length.
 */
size_t tess_meta_chunk_key(char *buf, size_t cap, const tess_meta *m, const uint64_t *idx);

/** TESS_EINVAL unless kind, itemsize and byte order form a dtype NumPy would report. */
int tess_dtype_check(const tess_dtype *dt);

/**
 * The dtype of a Zarr v3 core data_type name ("float32", "uint8", "bool",
 * ...) with the given byte order ('<' or '>'; 1-byte types get '|').
 * TESS_ENOTFOUND (no message) for other names.
 */
int tess_dtype_from_v3(tess_dtype *out, const char *name, char endian);

/** The Zarr v3 data_type name of a dtype, or NULL (S and U have none). */
const char *tess_dtype_v3_name(const tess_dtype *dt);

#endif
