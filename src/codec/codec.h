/*
 * Internal: byte codecs (compressors, filters, checksums) of Zarr v2 and v3.
 *
 * A codec instance is made from its JSON configuration, exactly as it stands
 * in `.zarray` (v2: the "compressor" object or one entry of "filters", with
 * its "id") or in `zarr.json` (v3: one entry of "codecs", with "name" and
 * "configuration").  The same instance encodes and decodes; it is immutable
 * after creation, so one instance serves many threads at once.
 *
 * Decoders never trust sizes in the data: `max_out` bounds what a decode
 * may produce (the array core passes the exact decoded chunk size), and a
 * stream that claims or produces more, is truncated, or fails its checksum
 * gives TESS_ECORRUPT with a message saying what was wrong ("blosc header
 * says 9663676416 bytes, chunk holds 524288").  The array core prefixes the
 * array and chunk key.
 */
#ifndef TESS_CODEC_H
#define TESS_CODEC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "tessera/sys/backend.h"

typedef struct tess_codec tess_codec;

/** What a codec needs to know about the data it transforms. */
typedef struct tess_codec_ctx {
	int zarr_format;   /**< 2 or 3: decides the JSON form */
	uint32_t itemsize; /**< bytes per element (blosc typesize, shuffle, delta) */
	char dtype[16];    /**< v2 NumPy typestring of the array ("<f4"), for delta */
} tess_codec_ctx;

typedef struct tess_codec_ops {
	/** v2 "id" / v3 "name": "blosc", "zstd", "lz4", "gzip", "zlib",
	 *  "shuffle", "delta", "crc32c". */
	const char *name;
	/** Which Zarr versions know this codec: bit 0 = v2, bit 1 = v3. */
	unsigned formats;
	/**
	 * Parse the configuration.  v2: the whole object including "id"; v3: the
	 * "configuration" object (may be NULL when absent).  Unknown or
	 * out-of-range parameters are TESS_EINVAL naming them.
	 */
	int (*create)(tess_codec **out, const json_t *config, const tess_codec_ctx *ctx);
	/** Append the encoding of in[0..len) to out. */
	int (*encode)(const tess_codec *c, const void *in, size_t len, tess_buf *out);
	/**
	 * Append the decoding of in[0..len) to out, producing at most max_out
	 * bytes (TESS_ECORRUPT beyond).
	 */
	int (*decode)(const tess_codec *c, const void *in, size_t len, tess_buf *out,
	              size_t max_out);
	/** The configuration as JSON, in the form zarr-python writes (new ref). */
	json_t *(*to_json)(const tess_codec *c);
	void (*destroy)(tess_codec *c);
} tess_codec_ops;

/** Base of every codec instance. */
struct tess_codec {
	const tess_codec_ops *ops;
};

/** The codec ops for `name` usable in `zarr_format`, or NULL. */
const tess_codec_ops *tess_codec_find(const char *name, int zarr_format);

/**
 * Make a codec from its JSON (v2: object with "id"; v3: object with "name"
 * and optional "configuration").  TESS_ENOTSUP for unknown codecs (the
 * message names it), TESS_EINVAL for bad configurations.
 */
int tess_codec_from_json(tess_codec **out, const json_t *json, const tess_codec_ctx *ctx);

/** The JSON of a codec in its format's form (v2 with "id", v3 with "name"). */
json_t *tess_codec_to_json(const tess_codec *c, int zarr_format);

/**
 * Make a codec from the CLI's SPEC: blosc[:CNAME[:CLEVEL[:SHUFFLE]]],
 * zstd[:LEVEL], lz4[:ACCEL], gzip[:LEVEL], zlib[:LEVEL] ("none" is not a
 * codec: the caller handles it).  Defaults are zarr-python's
 * (blosc: lz4, 5, shuffle; zstd: 1; lz4: 1; gzip/zlib: 1... see codecs.md).
 */
int tess_codec_from_spec(tess_codec **out, const char *spec, const tess_codec_ctx *ctx);

static inline void tess_codec_free(tess_codec *c)
{
	if (c)
		c->ops->destroy(c);
}

/** CRC-32C (Castagnoli) of data, as the v3 crc32c codec uses. */
uint32_t tess_crc32c(uint32_t crc, const void *data, size_t len);

#endif
