/* Fuzz target: the blosc decoder: any header, inner codec and shuffle.
 * See fuzz_codec.h for the checks and the input layout.  When bit 7 of
 * byte 0 is set, the header's compressed size is set to the real length and
 * its decoded size bounded by max_out, so that mutations reach blosc's block
 * decoding instead of stopping at header validation. */
#include "fuzz_codec.h"

static void patch_header(uint8_t *p, size_t len, size_t max_out)
{
	if (len < 16)
		return;
	uint32_t nbytes = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
	                  (uint32_t)p[7] << 24;
	if (nbytes > max_out)
		nbytes = (uint32_t)(nbytes % (max_out + 1));
	for (int i = 0; i < 4; i++) {
		p[4 + i] = (uint8_t)(nbytes >> (8 * i));
		p[12 + i] = (uint8_t)(len >> (8 * i));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static tess_codec *codec;
	if (!codec)
		codec = fuzz_codec_make(
		    "{\"id\":\"blosc\",\"cname\":\"lz4\",\"clevel\":5,\"shuffle\":1,\"blocksize\":0}", 2, 4);
	if (size < 1)
		return 0;
	size_t max_out = fuzz_max_out(data[0]);
	if (!(data[0] & 0x80)) {
		fuzz_codec_decode(codec, data + 1, size - 1, max_out, 1);
		return 0;
	}
	uint8_t *copy = malloc(size);
	memcpy(copy, data + 1, size - 1);
	patch_header(copy, size - 1, max_out);
	fuzz_codec_decode(codec, copy, size - 1, max_out, 1);
	free(copy);
	return 0;
}
