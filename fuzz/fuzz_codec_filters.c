/* Fuzz target: the filter and checksum decoders (crc32c, shuffle, delta);
 * byte 0 / 12 picks the codec.  See fuzz_codec.h for the checks. */
#include "fuzz_codec.h"

static const struct {
	const char *json;
	int fmt;
	int exact; /* narrowing and float deltas do not round trip */
} configs[] = {
	{"{\"name\":\"crc32c\"}", 3, 1},
	{"{\"id\":\"shuffle\",\"elementsize\":2}", 2, 1},
	{"{\"id\":\"shuffle\",\"elementsize\":3}", 2, 1},
	{"{\"id\":\"shuffle\",\"elementsize\":4}", 2, 1},
	{"{\"id\":\"shuffle\",\"elementsize\":8}", 2, 1},
	{"{\"id\":\"delta\",\"dtype\":\"<i4\"}", 2, 1},
	{"{\"id\":\"delta\",\"dtype\":\"|u1\"}", 2, 1},
	{"{\"id\":\"delta\",\"dtype\":\">i8\",\"astype\":\"<i8\"}", 2, 1},
	{"{\"id\":\"delta\",\"dtype\":\"<i2\",\"astype\":\"|i1\"}", 2, 0},
	{"{\"id\":\"delta\",\"dtype\":\"<u1\",\"astype\":\">i4\"}", 2, 0},
	{"{\"id\":\"delta\",\"dtype\":\"<f4\"}", 2, 0},
	{"{\"id\":\"delta\",\"dtype\":\"<f2\"}", 2, 0},
	{"{\"id\":\"delta\",\"dtype\":\">f8\",\"astype\":\"<f8\"}", 2, 0},
};

#define NCONFIGS (sizeof configs / sizeof configs[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static tess_codec *codecs[NCONFIGS];
	if (size < 1)
		return 0;
	size_t k = (size_t)(data[0] / 12) % NCONFIGS;
	if (!codecs[k])
		codecs[k] = fuzz_codec_make(configs[k].json, configs[k].fmt, 4);
	fuzz_codec_decode(codecs[k], data + 1, size - 1, fuzz_max_out(data[0]), configs[k].exact);
	return 0;
}
