/*
 * Shared by the codec fuzz targets (fuzz_codec_*.c): decode arbitrary bytes
 * with a codec into a FIXED buffer of max_out bytes.  A decoder that tried
 * to take more room than max_out would fail with TESS_ENOMEM there, so
 * anything but success or TESS_ECORRUPT aborts: that is the "never an
 * allocation the data asked for" check.  What decodes is encoded again and
 * must decode to the same bytes.
 *
 * Input layout: byte 0 picks max_out (1 MiB >> (byte0 % 12), so the bounds
 * get exercised at many sizes) and, for targets with several codecs, the
 * codec (byte0 / 12); the rest is the encoded data.
 */
#ifndef TESS_FUZZ_CODEC_H
#define TESS_FUZZ_CODEC_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "util/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_OUT ((size_t)1 << 20)

static uint8_t fuzz_out_mem[FUZZ_MAX_OUT];

static tess_codec *fuzz_codec_make(const char *json_text, int fmt, uint32_t itemsize)
{
	tess_codec_ctx ctx = {.zarr_format = fmt, .itemsize = itemsize};
	json_t *j;
	tess_codec *c = NULL;
	if (tess_json_parse(&j, json_text, strlen(json_text), "fuzz") != 0)
		abort();
	if (tess_codec_from_json(&c, j, &ctx) != 0)
		abort();
	json_decref(j);
	return c;
}

/* exact: encode(decode(x)) decodes to decode(x) (false for lossy codecs) */
static void fuzz_codec_decode(const tess_codec *c, const uint8_t *data, size_t size,
                              size_t max_out, int exact)
{
	tess_buf out = tess_buf_fixed(fuzz_out_mem, max_out);
	int rc = c->ops->decode(c, data, size, &out, max_out);
	if (rc != 0 && rc != TESS_ECORRUPT)
		abort();
	if (out.len > max_out)
		abort();
	if (rc != 0 || !exact)
		return;
	tess_buf enc = {0}, again = {0};
	if (c->ops->encode(c, out.data, out.len, &enc) != 0)
		abort();
	if (c->ops->decode(c, enc.data, enc.len, &again, out.len) != 0)
		abort();
	if (again.len != out.len || (out.len && memcmp(again.data, out.data, out.len) != 0))
		abort();
	tess_buf_free(&enc);
	tess_buf_free(&again);
}

/* The max_out byte 0 asks for. */
static size_t fuzz_max_out(uint8_t b)
{
	return FUZZ_MAX_OUT >> (b % 12);
}

#endif
