/*
 * gzip and zlib (deflate in two containers).
 *
 * gzip: Zarr v2 "gzip" (numcodecs.GZip, {"id": "gzip", "level": 1}) and
 * the Zarr v3 "gzip" codec ({"level": 1}).  numcodecs writes through
 * Python's gzip.GzipFile: a 10-byte header with no name, the modification
 * time, XFL 2 for level 9 / 4 for level 1 / else 0 and OS 255, then raw
 * deflate and the CRC-32 / size trailer.  We write the same header with
 * mtime 0 ("no time stamp", RFC 1952), so the bytes equal zarr-python's
 * except those four.  Reading accepts what Python's gzip module accepts:
 * any header fields, several members, zero padding after the last.
 *
 * zlib: Zarr v2 "zlib" (numcodecs.Zlib, {"id": "zlib", "level": 1}):
 * Python's zlib.compress, i.e. deflateInit(level).  Reading ignores bytes
 * after the end of the stream, as zlib.decompress does.
 */
#include "codec/codec_internal.h"
#include "util/error.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define ZLIB_CONST
#include <zlib.h>

typedef struct deflate_codec {
	tess_codec base;
	int zarr_format;
	int level;
} deflate_codec;

#define GZIP_HEADER 10
#define GZIP_TRAILER 8

static int deflate_create(tess_codec **out, const json_t *config, const tess_codec_ctx *ctx,
                          const tess_codec_ops *ops)
{
	static const char *const v2_keys[] = {"id", "level", NULL};
	static const char *const v3_keys[] = {"level", NULL};
	int v2 = ctx->zarr_format == 2;
	long long level;
	int rc;
	/* v2: what Python's zlib accepts (-1 is zlib's default, 6); v3: 0-9 */
	if ((rc = codec_check_keys(config, ops->name, v2 ? v2_keys : v3_keys)) ||
	    (rc = codec_get_int(config, ops->name, "level", v2 ? 1 : LLONG_MIN, v2 ? -1 : 0, 9,
	                        &level)))
		return rc;
	if (level == LLONG_MIN)
		return tess_err(TESS_EINVAL, "codec '%s': \"level\" is missing", ops->name);
	deflate_codec *d = calloc(1, sizeof *d);
	if (!d)
		return tess_err(TESS_ENOMEM, "codec '%s': out of memory", ops->name);
	d->base.ops = ops;
	d->zarr_format = ctx->zarr_format;
	d->level = (int)level;
	*out = &d->base;
	return 0;
}

static int gzip_create(tess_codec **out, const json_t *config, const tess_codec_ctx *ctx)
{
	return deflate_create(out, config, ctx, &tess_codec_gzip_ops);
}

static int zlib_create(tess_codec **out, const json_t *config, const tess_codec_ctx *ctx)
{
	return deflate_create(out, config, ctx, &tess_codec_zlib_ops);
}

/* ---- encoding ----------------------------------------------------------------- */

/* Deflate all of in[0..len) into dst (room for deflateBound bytes). */
static int deflate_all(z_stream *zs, const uint8_t *in, size_t len, uint8_t *dst, size_t room,
                       size_t *written, const char *name)
{
	zs->next_out = dst;
	int zr;
	do {
		/* zlib counts in uInt: feed and drain at most 1 GiB at a time */
		size_t feed = len < (1u << 30) ? len : (1u << 30);
		size_t space = room < (1u << 30) ? room : (1u << 30);
		zs->next_in = in;
		zs->avail_in = (uInt)feed;
		zs->avail_out = (uInt)space;
		zr = deflate(zs, feed == len ? Z_FINISH : Z_NO_FLUSH);
		in += feed - zs->avail_in;
		len -= feed - zs->avail_in;
		room -= space - zs->avail_out;
	} while (zr == Z_OK);
	if (zr != Z_STREAM_END)
		return tess_err(TESS_EIO, "%s: deflate failed (%d)", name, zr);
	*written = (size_t)(zs->next_out - dst);
	return 0;
}

static int deflate_encode(const deflate_codec *d, const void *in, size_t len, tess_buf *out,
                          int gzip)
{
	const char *name = d->base.ops->name;
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	/* Python: zlib.compress -> deflateInit2(level, 8, 15, 8, 0); GzipFile ->
	 * compressobj(level, DEFLATED, -MAX_WBITS, DEF_MEM_LEVEL, 0) */
	int zr = deflateInit2(&zs, d->level, Z_DEFLATED, gzip ? -MAX_WBITS : MAX_WBITS, 8,
	                      Z_DEFAULT_STRATEGY);
	if (zr != Z_OK)
		return tess_err(zr == Z_MEM_ERROR ? TESS_ENOMEM : TESS_EIO, "%s: deflateInit failed (%d)",
		                name, zr);
	size_t bound = deflateBound(&zs, len);
	size_t frame = gzip ? GZIP_HEADER + GZIP_TRAILER : 0;
	int rc = tess_buf_reserve(out, bound + frame);
	if (rc) {
		deflateEnd(&zs);
		return rc;
	}
	uint8_t *dst = out->data + out->len;
	size_t n = 0;
	rc = deflate_all(&zs, in, len, dst + (gzip ? GZIP_HEADER : 0), bound, &n, name);
	deflateEnd(&zs);
	if (rc)
		return rc;
	if (gzip) {
		uint8_t xfl = d->level == 9 ? 2 : d->level == 1 ? 4 : 0;
		const uint8_t header[GZIP_HEADER] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255};
		memcpy(dst, header, GZIP_HEADER);
		uint32_t crc = (uint32_t)crc32_z(0, in, len);
		codec_store_le32(dst + GZIP_HEADER + n, crc);
		codec_store_le32(dst + GZIP_HEADER + n + 4, (uint32_t)len);
	}
	out->len += n + frame;
	return 0;
}

static int gzip_encode(const tess_codec *c, const void *in, size_t len, tess_buf *out)
{
	return deflate_encode((const deflate_codec *)c, in, len, out, 1);
}

static int zlib_encode(const tess_codec *c, const void *in, size_t len, tess_buf *out)
{
	return deflate_encode((const deflate_codec *)c, in, len, out, 0);
}

/* ---- decoding ----------------------------------------------------------------- */

/* Skip the zero bytes Python's gzip reader allows after a member. */
static size_t skip_zeros(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n && p[i] == 0)
		i++;
	return i;
}

typedef struct inflate_job {
	z_stream zs;
	const uint8_t *in; /* what is not consumed yet */
	size_t left;
	int gzip;
	const char *name;
} inflate_job;

/* One inflate call with the room we may use; *got gets what it wrote. */
static int inflate_step(inflate_job *j, tess_buf *out, size_t produced, size_t max_out, int *zr)
{
	long long room = codec_out_room(out, produced, max_out);
	if (room < 0)
		return (int)room;
	uint8_t probe;
	uint8_t *dst = room ? out->data + out->len : &probe;
	size_t space = room ? (size_t)room : 1;
	if (space > (1u << 30))
		space = 1u << 30;
	size_t feed = j->left < (1u << 30) ? j->left : (1u << 30);
	j->zs.next_in = j->in;
	j->zs.avail_in = (uInt)feed;
	j->zs.next_out = dst;
	j->zs.avail_out = (uInt)space;
	*zr = inflate(&j->zs, Z_NO_FLUSH);
	size_t got = space - j->zs.avail_out;
	j->in += feed - j->zs.avail_in;
	j->left -= feed - j->zs.avail_in;
	/* max_out is reached and the stream still has bytes: a bomb, or a chunk
	 * that is not the size the array says */
	if (!room && got)
		return tess_err(TESS_ECORRUPT, "%s: data decompresses to more than %zu bytes", j->name,
		                max_out);
	out->len += got;
	return 0;
}

static int inflate_bounded(inflate_job *j, tess_buf *out, size_t max_out)
{
	size_t start = out->len;
	for (;;) {
		int zr = Z_OK, rc = inflate_step(j, out, out->len - start, max_out, &zr);
		if (rc)
			return rc;
		if (zr == Z_OK)
			continue;
		if (zr == Z_STREAM_END) {
			if (!j->gzip)
				return 0;
			size_t zeros = skip_zeros(j->in, j->left);
			j->in += zeros;
			j->left -= zeros;
			if (!j->left)
				return 0;
			inflateReset(&j->zs); /* another gzip member follows */
			continue;
		}
		if (zr == Z_BUF_ERROR)
			return tess_err(TESS_ECORRUPT, "%s: stream is truncated (%zu bytes out so far)",
			                j->name, out->len - start);
		if (zr == Z_MEM_ERROR)
			return tess_err(TESS_ENOMEM, "%s: out of memory inflating", j->name);
		if (zr == Z_NEED_DICT)
			return tess_err(TESS_ECORRUPT, "%s: stream needs a preset dictionary", j->name);
		return tess_err(TESS_ECORRUPT, "%s: corrupt stream: %s", j->name,
		                j->zs.msg ? j->zs.msg : "inflate failed");
	}
}

static int inflate_decode(const tess_codec *c, const uint8_t *in, size_t len, tess_buf *out,
                          size_t max_out, int gzip)
{
	const char *name = c->ops->name;
	if (gzip && (len < 2 || in[0] != 0x1f || in[1] != 0x8b))
		return tess_err(TESS_ECORRUPT, "gzip: not a gzip stream (no 1f 8b magic, %zu bytes)",
		                len);
	inflate_job j = {.in = in, .left = len, .gzip = gzip, .name = name};
	int zr = inflateInit2(&j.zs, gzip ? 16 + MAX_WBITS : MAX_WBITS);
	if (zr != Z_OK)
		return tess_err(zr == Z_MEM_ERROR ? TESS_ENOMEM : TESS_EIO, "%s: inflateInit failed (%d)",
		                name, zr);
	/* Room up front: the size a one-member gzip stream states in its trailer,
	 * else all the chunk may take (up to 64 MiB, then growing as it comes);
	 * never more than max_out. */
	size_t guess = max_out < ((size_t)64 << 20) ? max_out : (size_t)64 << 20;
	if (gzip && len >= GZIP_HEADER + GZIP_TRAILER && codec_load_le32(in + len - 4) < guess)
		guess = codec_load_le32(in + len - 4);
	int rc = tess_buf_reserve(out, guess);
	if (!rc)
		rc = inflate_bounded(&j, out, max_out);
	inflateEnd(&j.zs);
	return rc;
}

static int gzip_decode(const tess_codec *c, const void *in, size_t len, tess_buf *out,
                       size_t max_out)
{
	return inflate_decode(c, in, len, out, max_out, 1);
}

static int zlib_decode(const tess_codec *c, const void *in, size_t len, tess_buf *out,
                       size_t max_out)
{
	return inflate_decode(c, in, len, out, max_out, 0);
}

static json_t *deflate_to_json(const tess_codec *c)
{
	const deflate_codec *d = (const deflate_codec *)c;
	if (d->zarr_format == 2)
		return json_pack("{s:s, s:i}", "id", c->ops->name, "level", d->level);
	json_t *config = json_pack("{s:i}", "level", d->level);
	return config ? codec_v3_json(c->ops->name, config) : NULL;
}

static void deflate_destroy(tess_codec *c)
{
	free(c);
}

const tess_codec_ops tess_codec_gzip_ops = {
	.name = "gzip",
	.formats = 3,
	.create = gzip_create,
	.encode = gzip_encode,
	.decode = gzip_decode,
	.to_json = deflate_to_json,
	.destroy = deflate_destroy,
};

const tess_codec_ops tess_codec_zlib_ops = {
	.name = "zlib",
	.formats = 1,
	.create = zlib_create,
	.encode = zlib_encode,
	.decode = zlib_decode,
	.to_json = deflate_to_json,
	.destroy = deflate_destroy,
};
