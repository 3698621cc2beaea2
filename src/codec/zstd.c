/*
 * zstd: Zarr v2 "zstd" as numcodecs.Zstd writes it (one frame with the
 * content size, {"id": "zstd", "level": 1}), and the Zarr v3 "zstd" codec
 * ({"level": 1, "checksum": false}).
 *
 * Decoding is one-shot into a buffer of at most max_out bytes: the frame
 * content size, when the frame has one, must fit; frames without it (written
 * by streaming encoders) decode into max_out bytes of room and fail when they
 * need more.  One-shot decoding uses the output as the window, so a frame
 * declaring a huge window cannot make zstd allocate it either.
 *
 * Compression and decompression contexts are kept per thread and reused.
 */
#include "codec/codec_internal.h"
#include "util/error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

/* zstd's level range, as the v3 spec states it */
#define ZSTD_LEVEL_MIN (-131072)
#define ZSTD_LEVEL_MAX 22

typedef struct zstd_codec {
	tess_codec base;
	int zarr_format;
	int level;       /* as written in the JSON */
	int used_level;  /* as passed to zstd */
	int checksum;
} zstd_codec;

/* ---- per-thread contexts ---------------------------------------------------- */

typedef struct zstd_tls {
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
} zstd_tls;

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static int tls_ok;

static void tls_free(void *p)
{
	zstd_tls *t = p;
	ZSTD_freeCCtx(t->cctx);
	ZSTD_freeDCtx(t->dctx);
	free(t);
}

static void tls_init(void)
{
	tls_ok = pthread_key_create(&tls_key, tls_free) == 0;
}

static zstd_tls *thread_contexts(void)
{
	pthread_once(&tls_once, tls_init);
	if (!tls_ok)
		return NULL;
	zstd_tls *t = pthread_getspecific(tls_key);
	if (!t) {
		t = calloc(1, sizeof *t);
		if (!t || pthread_setspecific(tls_key, t) != 0) {
			free(t);
			return NULL;
		}
	}
	return t;
}

static ZSTD_CCtx *thread_cctx(void)
{
	zstd_tls *t = thread_contexts();
	if (t && !t->cctx)
		t->cctx = ZSTD_createCCtx();
	return t ? t->cctx : NULL;
}

static ZSTD_DCtx *thread_dctx(void)
{
	zstd_tls *t = thread_contexts();
	if (t && !t->dctx)
		t->dctx = ZSTD_createDCtx();
	return t ? t->dctx : NULL;
}

/* ---- the codec ------------------------------------------------------------- */

static int zstd_create(tess_codec **out, const json_t *config, const tess_codec_ctx *ctx)
{
	/* numcodecs 0.11 has only "level"; later versions add "checksum" */
	static const char *const v2_keys[] = {"id", "level", "checksum", NULL};
	static const char *const v3_keys[] = {"level", "checksum", NULL};
	int v2 = ctx->zarr_format == 2;
	long long level;
	int checksum, rc;
	/* numcodecs passes any level to zstd, which clamps it; v3 states the range */
	if ((rc = codec_check_keys(config, "zstd", v2 ? v2_keys : v3_keys)) ||
	    (rc = codec_get_int(config, "zstd", "level", v2 ? 1 : 0, v2 ? INT32_MIN : ZSTD_LEVEL_MIN,
	                        v2 ? INT32_MAX : ZSTD_LEVEL_MAX, &level)) ||
	    (rc = codec_get_bool(config, "zstd", "checksum", 0, &checksum)))
		return rc;
	zstd_codec *z = calloc(1, sizeof *z);
	if (!z)
		return tess_err(TESS_ENOMEM, "codec 'zstd': out of memory");
	z->base.ops = &tess_codec_zstd_ops;
	z->zarr_format = ctx->zarr_format;
	z->level = (int)level;
	z->used_level = (int)level;
	/* numcodecs 0.11 compresses levels <= 0 at 1 and above 22 at 22; v3
	 * means what zstd means (0: zstd's default, negative: faster) */
	if (v2)
		z->used_level = level <= 0 ? 1 : level > ZSTD_LEVEL_MAX ? ZSTD_LEVEL_MAX : (int)level;
	z->checksum = checksum;
	*out = &z->base;
	return 0;
}

static int zstd_encode(const tess_codec *c, const void *in, size_t len, tess_buf *out)
{
	const zstd_codec *z = (const zstd_codec *)c;
	ZSTD_CCtx *cctx = thread_cctx();
	if (!cctx)
		return tess_err(TESS_ENOMEM, "zstd: out of memory for a compression context");
	size_t bound = ZSTD_compressBound(len);
	if (ZSTD_isError(bound))
		return tess_err(TESS_EINVAL, "zstd: %zu bytes is too large to compress", len);
	int rc = tess_buf_reserve(out, bound);
	if (rc)
		return rc;
	size_t r;
	if (!z->checksum) {
		/* What numcodecs' ZSTD_compress(level) does, so the bytes match
		 * what zarr-python writes: content size in the frame header. */
		r = ZSTD_compressCCtx(cctx, out->data + out->len, bound, in, len, z->used_level);
	} else {
		r = ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
		if (!ZSTD_isError(r))
			r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, z->used_level);
		if (!ZSTD_isError(r))
			r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
		if (!ZSTD_isError(r))
			r = ZSTD_compress2(cctx, out->data + out->len, bound, in, len);
	}
	if (ZSTD_isError(r))
		return tess_err(TESS_EIO, "zstd: compressing %zu bytes at level %d: %s", len, z->used_level,
		                ZSTD_getErrorName(r));
	out->len += r;
	return 0;
}

static int zstd_decode(const tess_codec *c, const void *in, size_t len, tess_buf *out,
                       size_t max_out)
{
	(void)c;
	unsigned long long size = ZSTD_getFrameContentSize(in, len);
	if (size == ZSTD_CONTENTSIZE_ERROR)
		return tess_err(TESS_ECORRUPT, "zstd: not a zstd frame (%zu bytes)", len);
	if (size != ZSTD_CONTENTSIZE_UNKNOWN && size > max_out)
		return tess_err(TESS_ECORRUPT, "zstd: frame says %llu bytes, chunk holds %zu", size,
		                max_out);
	/* One frame with its size: exactly that room.  Otherwise (no size, or
	 * more frames after the first) all the room the chunk may take. */
	size_t room = max_out;
	if (size != ZSTD_CONTENTSIZE_UNKNOWN && ZSTD_findFrameCompressedSize(in, len) == len)
		room = (size_t)size;
	ZSTD_DCtx *dctx = thread_dctx();
	if (!dctx)
		return tess_err(TESS_ENOMEM, "zstd: out of memory for a decompression context");
	int rc = tess_buf_reserve(out, room);
	if (rc)
		return rc;
	uint8_t none[1]; /* an empty frame is still checked, into no room */
	uint8_t *dst = room ? out->data + out->len : none;
	size_t r = ZSTD_decompressDCtx(dctx, dst, room, in, len);
	if (ZSTD_isError(r)) {
		if (ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall)
			return tess_err(TESS_ECORRUPT, "zstd: data decompresses to more than %zu bytes",
			                max_out);
		return tess_err(TESS_ECORRUPT, "zstd: corrupt data: %s", ZSTD_getErrorName(r));
	}
	out->len += r;
	return 0;
}

static json_t *zstd_to_json(const tess_codec *c)
{
	const zstd_codec *z = (const zstd_codec *)c;
	if (z->zarr_format == 2) {
		/* numcodecs 0.11 (zarr-python 2.13) knows no "checksum": write it
		 * only when it is on */
		json_t *j = json_pack("{s:s, s:i}", "id", "zstd", "level", z->level);
		if (j && z->checksum && json_object_set_new(j, "checksum", json_true())) {
			json_decref(j);
			return NULL;
		}
		return j;
	}
	json_t *config = json_pack("{s:i, s:b}", "level", z->level, "checksum", z->checksum);
	return config ? codec_v3_json("zstd", config) : NULL;
}

static void zstd_destroy(tess_codec *c)
{
	free(c);
}

const tess_codec_ops tess_codec_zstd_ops = {
	.name = "zstd",
	.formats = 3,
	.create = zstd_create,
	.encode = zstd_encode,
	.decode = zstd_decode,
	.to_json = zstd_to_json,
	.destroy = zstd_destroy,
};
