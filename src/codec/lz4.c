/*
 * lz4: Zarr v2 "lz4" in numcodecs' framing: the uncompressed size as a
 * 4-byte little-endian integer, then one LZ4 block ({"id": "lz4",
 * "acceleration": 1}).  Not a Zarr v3 codec.
 */
#include "codec/codec_internal.h"
#include "util/error.h"

#include <limits.h>
#include <lz4.h>
#include <stdlib.h>

typedef struct lz4_codec {
	tess_codec base;
	int acceleration;
} lz4_codec;

static int lz4_create(tess_codec **out, const json_t *config, const tess_codec_ctx *ctx)
{
	(void)ctx;
	static const char *const keys[] = {"id", "acceleration", NULL};
	long long accel;
	int rc;
	/* numcodecs passes any value to LZ4, which maps <= 0 to 1 and clamps
	 * large ones: accept what it accepts */
	if ((rc = codec_check_keys(config, "lz4", keys)) ||
	    (rc = codec_get_int(config, "lz4", "acceleration", 1, INT_MIN, INT_MAX, &accel)))
		return rc;
	lz4_codec *l = calloc(1, sizeof *l);
	if (!l)
		return tess_err(TESS_ENOMEM, "codec 'lz4': out of memory");
	l->base.ops = &tess_codec_lz4_ops;
	l->acceleration = (int)accel;
	*out = &l->base;
	return 0;
}

static int lz4_encode(const tess_codec *c, const void *in, size_t len, tess_buf *out)
{
	const lz4_codec *l = (const lz4_codec *)c;
	if (len > LZ4_MAX_INPUT_SIZE)
		return tess_err(TESS_EINVAL, "lz4: %zu bytes is more than LZ4 compresses at once (%d)",
		                len, LZ4_MAX_INPUT_SIZE);
	int bound = LZ4_compressBound((int)len);
	int rc = tess_buf_reserve(out, 4 + (size_t)bound);
	if (rc)
		return rc;
	uint8_t *dst = out->data + out->len;
	codec_store_le32(dst, (uint32_t)len);
	int n = LZ4_compress_fast(in, (char *)dst + 4, (int)len, bound, l->acceleration);
	if (n <= 0)
		return tess_err(TESS_EIO, "lz4: compressing %zu bytes failed", len);
	out->len += 4 + (size_t)n;
	return 0;
}

static int lz4_decode(const tess_codec *c, const void *in, size_t len, tess_buf *out,
                      size_t max_out)
{
	(void)c;
	if (len < 4)
		return tess_err(TESS_ECORRUPT, "lz4: %zu bytes is shorter than the 4-byte size header",
		                len);
	uint32_t size = codec_load_le32(in);
	if (size > max_out)
		return tess_err(TESS_ECORRUPT, "lz4: header says %u bytes, chunk holds %zu", size,
		                max_out);
	if (size > INT_MAX || len - 4 > INT_MAX)
		return tess_err(TESS_ECORRUPT, "lz4: block of %zu bytes for %u is larger than LZ4 allows",
		                len - 4, size);
	int rc = tess_buf_reserve(out, size);
	if (rc)
		return rc;
	char none[1]; /* an empty block still has to be checked, into no room */
	char *dst = size ? (char *)out->data + out->len : none;
	int n = LZ4_decompress_safe((const char *)in + 4, dst, (int)(len - 4), (int)size);
	if (n < 0)
		return tess_err(TESS_ECORRUPT, "lz4: corrupt block (%zu bytes, header says %u out)",
		                len - 4, size);
	if ((uint32_t)n != size)
		return tess_err(TESS_ECORRUPT, "lz4: block decompresses to %d bytes, header says %u", n,
		                size);
	out->len += size;
	return 0;
}

static json_t *lz4_to_json(const tess_codec *c)
{
	const lz4_codec *l = (const lz4_codec *)c;
	return json_pack("{s:s, s:i}", "id", "lz4", "acceleration", l->acceleration);
}

static void lz4_destroy(tess_codec *c)
{
	free(c);
}

const tess_codec_ops tess_codec_lz4_ops = {
	.name = "lz4",
	.formats = 1,
	.create = lz4_create,
	.encode = lz4_encode,
	.decode = lz4_decode,
	.to_json = lz4_to_json,
	.destroy = lz4_destroy,
};
