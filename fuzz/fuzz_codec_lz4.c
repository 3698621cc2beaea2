/* Fuzz target: the lz4 decoder: numcodecs' framing (4-byte size, then an LZ4 block).
 * See fuzz_codec.h for the checks and the input layout. */
#include "fuzz_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static tess_codec *codec;
	if (!codec)
		codec = fuzz_codec_make(
		    "{\"id\":\"lz4\",\"acceleration\":1}", 2, 4);
	if (size < 1)
		return 0;
	fuzz_codec_decode(codec, data + 1, size - 1, fuzz_max_out(data[0]), 1);
	return 0;
}
