/*
 * shuffle: the Zarr v2 filter numcodecs.Shuffle ({"id": "shuffle",
 * "elementsize": 4}).  Byte j of element i goes to j * count + i, so the
 * first bytes of all elements come first; element sizes of 0 and 1 copy.
 * The length must be a multiple of the element size.
 */
#include "codec/codec_internal.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

typedef struct shuffle_codec {
	tess_codec base;
	size_t elementsize;
} shuffle_codec;

static int shuffle_create(tess_codec **out, const json_t *config, const tess_codec_ctx *ctx)
{
	(void)ctx;
	static const char *const keys[] = {"id", "elementsize", NULL};
	long long es;
	int rc;
	/* numcodecs.Shuffle() defaults to 4, whatever the array's dtype */
	if ((rc = codec_check_keys(config, "shuffle", keys)) ||
	    (rc = codec_get_int(config, "shuffle", "elementsize", 4, 0, INT32_MAX, &es)))
		return rc;
	shuffle_codec *s = calloc(1, sizeof *s);
	if (!s)
		return tess_err(TESS_ENOMEM, "codec 'shuffle': out of memory");
	s->base.ops = &tess_codec_shuffle_ops;
	s->elementsize = (size_t)es;
	*out = &s->base;
	return 0;
}

/* dst[j * count + i] = src[i * es + j] */
static void shuffle_bytes(uint8_t *dst, const uint8_t *src, size_t es, size_t count)
{
	for (size_t j = 0; j < es; j++) {
		uint8_t *d = dst + j * count;
		const uint8_t *s = src + j;
		for (size_t i = 0; i < count; i++)
			d[i] = s[i * es];
	}
}

/* dst[i * es + j] = src[j * count + i] */
static void unshuffle_bytes(uint8_t *dst, const uint8_t *src, size_t es, size_t count)
{
	for (size_t j = 0; j < es; j++) {
		const uint8_t *s = src + j * count;
		uint8_t *d = dst + j;
		for (size_t i = 0; i < count; i++)
			d[i * es] = s[i];
	}
}

static int shuffle_run(const shuffle_codec *s, const void *in, size_t len, tess_buf *out,
                       int forward)
{
	int rc = tess_buf_reserve(out, len);
	if (rc || !len)
		return rc;
	uint8_t *dst = out->data + out->len;
	if (s->elementsize <= 1)
		memcpy(dst, in, len);
	else if (forward)
		shuffle_bytes(dst, in, s->elementsize, len / s->elementsize);
	else
		unshuffle_bytes(dst, in, s->elementsize, len / s->elementsize);
	out->len += len;
	return 0;
}

static int shuffle_encode(const tess_codec *c, const void *in, size_t len, tess_buf *out)
{
	const shuffle_codec *s = (const shuffle_codec *)c;
	if (s->elementsize > 1 && len % s->elementsize)
		return tess_err(TESS_EINVAL, "shuffle: %zu bytes is not a multiple of elementsize %zu",
		                len, s->elementsize);
	return shuffle_run(s, in, len, out, 1);
}

static int shuffle_decode(const tess_codec *c, const void *in, size_t len, tess_buf *out,
                          size_t max_out)
{
	const shuffle_codec *s = (const shuffle_codec *)c;
	if (len > max_out)
		return tess_err(TESS_ECORRUPT, "shuffle: %zu bytes, chunk holds %zu", len, max_out);
	if (s->elementsize > 1 && len % s->elementsize)
		return tess_err(TESS_ECORRUPT, "shuffle: %zu bytes is not a multiple of elementsize %zu",
		                len, s->elementsize);
	return shuffle_run(s, in, len, out, 0);
}

static json_t *shuffle_to_json(const tess_codec *c)
{
	const shuffle_codec *s = (const shuffle_codec *)c;
	return json_pack("{s:s, s:I}", "id", "shuffle", "elementsize", (json_int_t)s->elementsize);
}

static void shuffle_destroy(tess_codec *c)
{
	free(c);
}

const tess_codec_ops tess_codec_shuffle_ops = {
	.name = "shuffle",
	.formats = 1,
	.create = shuffle_create,
	.encode = shuffle_encode,
	.decode = shuffle_decode,
	.to_json = shuffle_to_json,
	.destroy = shuffle_destroy,
};
