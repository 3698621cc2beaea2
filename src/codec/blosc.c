/*
 * blosc (c-blosc 1.x): Zarr v2 "blosc" as numcodecs.Blosc writes it, and
 * the Zarr v3 "blosc" codec.  The bytes are the same in both; only the JSON
 * differs (v2 shuffle is a number and typesize comes from the data, v3
 * names the shuffle and records typesize).
 *
 * Encoding uses blosc_compress_ctx with one internal thread: no global
 * state, so many threads may encode at once (the array core parallelizes
 * over chunks).  Decoding validates the header against the input length and
 * max_out before anything is allocated.
 */
#include "codec/codec_internal.h"
#include "util/error.h"

#include <blosc.h>
#include <stdlib.h>
#include <string.h>

#define AUTOSHUFFLE (-1) /* v2 only: bit-shuffle for 1-byte items, else byte */

typedef struct blosc_codec {
	tess_codec base;
	int zarr_format;
	char cname[16];
	int clevel;
	int shuffle;       /* -1 (v2 only), 0, 1, 2 */
	uint32_t typesize; /* the stride blosc shuffles over */
	int blocksize;     /* 0: blosc chooses */
} blosc_codec;

static const char *const shuffle_names[] = {"noshuffle", "shuffle", "bitshuffle"};

static int parse_cname(blosc_codec *b, const json_t *config, const char *def)
{
	const char *cname;
	int rc = codec_get_string(config, "blosc", "cname", def, &cname);
	if (rc)
		return rc;
	if (!cname)
		return tess_err(TESS_EINVAL, "codec 'blosc': \"cname\" is missing");
	if (strlen(cname) >= sizeof b->cname || blosc_compname_to_compcode(cname) < 0)
		return tess_err(TESS_EINVAL,
		                "codec 'blosc': cname \"%s\" is not one this blosc library has (%s)", cname,
		                blosc_list_compressors());
	strcpy(b->cname, cname);
	return 0;
}

/* v3 shuffle: "noshuffle" | "shuffle" | "bitshuffle" (early drafts: 0-2). */
static int parse_v3_shuffle(blosc_codec *b, const json_t *config)
{
	const json_t *v = config ? json_object_get(config, "shuffle") : NULL;
	if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 2) {
		b->shuffle = (int)json_integer_value(v);
		return 0;
	}
	for (int i = 0; json_is_string(v) && i < 3; i++)
		if (strcmp(json_string_value(v), shuffle_names[i]) == 0) {
			b->shuffle = i;
			return 0;
		}
	return tess_err(TESS_EINVAL,
	                "codec 'blosc': \"shuffle\" must be \"noshuffle\", \"shuffle\" or \"bitshuffle\"");
}

static int parse_v2(blosc_codec *b, const json_t *config, const tess_codec_ctx *ctx)
{
	static const char *const keys[] = {"id", "cname", "clevel", "shuffle", "blocksize", NULL};
	long long clevel, shuffle, blocksize;
	int rc;
	/* numcodecs.Blosc() defaults: lz4, 5, SHUFFLE, automatic blocks */
	if ((rc = codec_check_keys(config, "blosc", keys)) || (rc = parse_cname(b, config, "lz4")) ||
	    (rc = codec_get_int(config, "blosc", "clevel", 5, 0, 9, &clevel)) ||
	    (rc = codec_get_int(config, "blosc", "shuffle", 1, -1, 2, &shuffle)) ||
	    (rc = codec_get_int(config, "blosc", "blocksize", 0, 0, BLOSC_MAX_BLOCKSIZE, &blocksize)))
		return rc;
	b->clevel = (int)clevel;
	b->shuffle = (int)shuffle;
	b->blocksize = (int)blocksize;
	/* numcodecs takes the typesize from the buffer's item size */
	b->typesize = ctx->itemsize ? ctx->itemsize : 1;
	return 0;
}

static int parse_v3(blosc_codec *b, const json_t *config, const tess_codec_ctx *ctx)
{
	static const char *const keys[] = {"cname", "clevel", "shuffle", "typesize", "blocksize", NULL};
	long long clevel, typesize, blocksize;
	int rc;
	if ((rc = codec_check_keys(config, "blosc", keys)) || (rc = parse_cname(b, config, NULL)) ||
	    (rc = codec_get_int(config, "blosc", "clevel", -1, 0, 9, &clevel)) ||
	    (rc = parse_v3_shuffle(b, config)) ||
	    (rc = codec_get_int(config, "blosc", "typesize", ctx->itemsize ? ctx->itemsize : 1, 1,
	                        UINT32_MAX, &typesize)) ||
	    (rc = codec_get_int(config, "blosc", "blocksize", 0, 0, BLOSC_MAX_BLOCKSIZE, &blocksize)))
		return rc;
	if (clevel < 0)
		return tess_err(TESS_EINVAL, "codec 'blosc': \"clevel\" is missing");
	b->clevel = (int)clevel;
	b->typesize = (uint32_t)typesize;
	b->blocksize = (int)blocksize;
	return 0;
}

static int blosc_codec_create(tess_codec **out, const json_t *config, const tess_codec_ctx *ctx)
{
	blosc_codec *b = calloc(1, sizeof *b);
	if (!b)
		return tess_err(TESS_ENOMEM, "codec 'blosc': out of memory");
	b->base.ops = &tess_codec_blosc_ops;
	b->zarr_format = ctx->zarr_format;
	int rc = ctx->zarr_format == 2 ? parse_v2(b, config, ctx) : parse_v3(b, config, ctx);
	if (rc) {
		free(b);
		return rc;
	}
	*out = &b->base;
	return 0;
}

static int blosc_codec_encode(const tess_codec *c, const void *in, size_t len, tess_buf *out)
{
	const blosc_codec *b = (const blosc_codec *)c;
	if (len > BLOSC_MAX_BUFFERSIZE)
		return tess_err(TESS_EINVAL, "blosc: %zu bytes is more than blosc compresses at once (%d)",
		                len, BLOSC_MAX_BUFFERSIZE);
	int shuffle = b->shuffle;
	if (shuffle == AUTOSHUFFLE)
		shuffle = b->typesize == 1 ? BLOSC_BITSHUFFLE : BLOSC_SHUFFLE;
	size_t cap = len + BLOSC_MAX_OVERHEAD;
	int rc = tess_buf_reserve(out, cap);
	if (rc)
		return rc;
	/* blosc itself treats a typesize above 255 as 1, as numcodecs gets it */
	int n = blosc_compress_ctx(b->clevel, shuffle, b->typesize, len, in, out->data + out->len,
	                           cap, b->cname, (size_t)b->blocksize, 1);
	if (n <= 0)
		return tess_err(TESS_EIO, "blosc: compressing %zu bytes with %s failed (%d)", len,
		                b->cname, n);
	out->len += (size_t)n;
	return 0;
}

static int blosc_codec_decode(const tess_codec *c, const void *in, size_t len, tess_buf *out,
                        size_t max_out)
{
	(void)c;
	if (len < BLOSC_MIN_HEADER_LENGTH)
		return tess_err(TESS_ECORRUPT, "blosc: %zu bytes is shorter than the %d-byte header", len,
		                BLOSC_MIN_HEADER_LENGTH);
	size_t nbytes = 0, cbytes = 0, blocksize = 0;
	blosc_cbuffer_sizes(in, &nbytes, &cbytes, &blocksize);
	if (blosc_cbuffer_validate(in, len, &nbytes) != 0) {
		const uint8_t *h = in;
		return tess_err(TESS_ECORRUPT,
		                "blosc: bad header (format version %u, says %zu bytes compressed to %zu, "
		                "the chunk has %zu)",
		                h[0], nbytes, cbytes, len);
	}
	if (nbytes > max_out)
		return tess_err(TESS_ECORRUPT, "blosc: header says %zu bytes, chunk holds %zu", nbytes,
		                max_out);
	if (nbytes == 0)
		return 0;
	int rc = tess_buf_reserve(out, nbytes);
	if (rc)
		return rc;
	int n = blosc_decompress_ctx(in, out->data + out->len, nbytes, 1);
	if (n < 0 || (size_t)n != nbytes)
		return tess_err(TESS_ECORRUPT, "blosc: corrupt data (%s, %zu bytes expected, got %d)",
		                blosc_cbuffer_complib(in) ? blosc_cbuffer_complib(in) : "unknown codec",
		                nbytes, n);
	out->len += nbytes;
	return 0;
}

static json_t *blosc_codec_to_json(const tess_codec *c)
{
	const blosc_codec *b = (const blosc_codec *)c;
	if (b->zarr_format == 2)
		return json_pack("{s:s, s:s, s:i, s:i, s:i}", "id", "blosc", "cname", b->cname, "clevel",
		                 b->clevel, "shuffle", b->shuffle, "blocksize", b->blocksize);
	json_t *config = json_pack("{s:I, s:s, s:i, s:s, s:i}", "typesize", (json_int_t)b->typesize,
	                           "cname", b->cname, "clevel", b->clevel, "shuffle",
	                           shuffle_names[b->shuffle], "blocksize", b->blocksize);
	return config ? codec_v3_json("blosc", config) : NULL;
}

static void blosc_codec_destroy(tess_codec *c)
{
	free(c);
}

const tess_codec_ops tess_codec_blosc_ops = {
	.name = "blosc",
	.formats = 3,
	.create = blosc_codec_create,
	.encode = blosc_codec_encode,
	.decode = blosc_codec_decode,
	.to_json = blosc_codec_to_json,
	.destroy = blosc_codec_destroy,
};
