/*
 * Internal to src/codec: the ops of each codec, and the helpers they share
 * for reading JSON parameters and bounding decoder output.
 */
#ifndef TESS_CODEC_INTERNAL_H
#define TESS_CODEC_INTERNAL_H

#include "codec/codec.h"

extern const tess_codec_ops tess_codec_blosc_ops;
extern const tess_codec_ops tess_codec_zstd_ops;
extern const tess_codec_ops tess_codec_lz4_ops;
extern const tess_codec_ops tess_codec_gzip_ops;
extern const tess_codec_ops tess_codec_zlib_ops;
extern const tess_codec_ops tess_codec_shuffle_ops;
extern const tess_codec_ops tess_codec_delta_ops;
extern const tess_codec_ops tess_codec_crc32c_ops;

/**
 * TESS_EINVAL naming the first member of `config` (an object or NULL) that
 * is not in the NULL-terminated `allowed` list.  v2 configurations list
 * "id" among the allowed keys.
 */
int codec_check_keys(const json_t *config, const char *codec, const char *const *allowed);

/**
 * Read the integer member `key` of `config` (NULL: absent) into *out:
 * `def` when absent, TESS_EINVAL when not an integer or outside [min, max].
 */
int codec_get_int(const json_t *config, const char *codec, const char *key, long long def,
                  long long min, long long max, long long *out);

/** Read the boolean member `key` into *out: `def` when absent. */
int codec_get_bool(const json_t *config, const char *codec, const char *key, int def, int *out);

/**
 * Read the string member `key` into *out (borrowed from config): `def` when
 * absent (may be NULL), TESS_EINVAL when not a string.
 */
int codec_get_string(const json_t *config, const char *codec, const char *key,
                     const char *def, const char **out);

/**
 * The v3 form {"name": name, "configuration": config}, stealing config
 * (NULL: the form without "configuration", as zarr-python writes crc32c).
 */
json_t *codec_v3_json(const char *name, json_t *config);

/** Set key to a new integer in obj; 0 or -1 when out of memory. */
int codec_set_int(json_t *obj, const char *key, long long v);

/**
 * Make sure `out` can take more bytes from a decoder that has produced
 * `produced` of at most `max_out`: grows by doubling what was produced
 * (at least 64 KiB), never past max_out.  Returns the bytes now writable
 * at out->data + out->len, 0 when max_out is reached, or a negative code.
 */
long long codec_out_room(tess_buf *out, size_t produced, size_t max_out);

/** tess_crc32c without the CPU's crc32 instruction (tests compare both). */
uint32_t codec_crc32c_portable(uint32_t crc, const void *data, size_t len);

/** Little-endian 32-bit load and store. */
static inline uint32_t codec_load_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void codec_store_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

#endif
