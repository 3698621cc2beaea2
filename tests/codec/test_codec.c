/* Codecs: round trips, hostile input, JSON forms, SPEC strings, CRC-32C. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "codec/codec.h"
#include "codec/codec_internal.h"
#include "util/json.h"

/* Under AddressSanitizer a failed huge allocation must return NULL, as it
 * does in production, instead of aborting the test. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

#define MiB (1024 * 1024)

static tess_codec *make(int fmt, uint32_t itemsize, const char *json_text)
{
	tess_codec_ctx ctx = {.zarr_format = fmt, .itemsize = itemsize};
	json_t *j;
	assert_int_equal(tess_json_parse(&j, json_text, strlen(json_text), "test"), 0);
	tess_codec *c = NULL;
	int rc = tess_codec_from_json(&c, j, &ctx);
	if (rc)
		fail_msg("%s: %s", json_text, tess_errmsg());
	json_decref(j);
	return c;
}

/* The code from_json gives, and its message must mention `needle`. */
static int make_fails(int fmt, const char *json_text, const char *needle)
{
	tess_codec_ctx ctx = {.zarr_format = fmt, .itemsize = 4};
	json_t *j;
	assert_int_equal(tess_json_parse(&j, json_text, strlen(json_text), "test"), 0);
	tess_codec *c = NULL;
	int rc = tess_codec_from_json(&c, j, &ctx);
	json_decref(j);
	assert_null(c);
	if (!strstr(tess_errmsg(), needle))
		fail_msg("%s: message '%s' does not name '%s'", json_text, tess_errmsg(), needle);
	return rc;
}

/* Data that compresses somewhat: a smooth ramp with noise in the low bits. */
static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		p[i] = (uint8_t)((i / 64) + (x & 3));
	}
}

static void fill_random(uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 7;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		p[i] = (uint8_t)(x >> 11);
	}
}

/* Decode into a fixed buffer of exactly max_out bytes: a decoder that tries
 * to take more fails with ENOMEM there, which the tests treat as a bug. */
static int decode_fixed(const tess_codec *c, const void *in, size_t len, size_t max_out,
                        uint8_t **mem, size_t *out_len)
{
	*mem = malloc(max_out ? max_out : 1);
	tess_buf out = tess_buf_fixed(*mem, max_out);
	int rc = c->ops->decode(c, in, len, &out, max_out);
	*out_len = out.len;
	return rc;
}

static void round_trip(const tess_codec *c, const uint8_t *data, size_t len)
{
	tess_buf enc = {0}, dec = {0};
	/* append semantics: something already in the buffers stays */
	assert_int_equal(tess_buf_append(&enc, "xy", 2), 0);
	assert_int_equal(tess_buf_append(&dec, "z", 1), 0);
	int rc = c->ops->encode(c, data, len, &enc);
	if (rc)
		fail_msg("%s encode %zu: %s", c->ops->name, len, tess_errmsg());
	assert_memory_equal(enc.data, "xy", 2);
	rc = c->ops->decode(c, enc.data + 2, enc.len - 2, &dec, len);
	if (rc)
		fail_msg("%s decode %zu: %s", c->ops->name, len, tess_errmsg());
	assert_int_equal(dec.len, len + 1);
	assert_memory_equal(dec.data, "z", 1);
	if (len)
		assert_memory_equal(dec.data + 1, data, len);
	/* and into a fixed buffer of exactly the size */
	uint8_t *mem;
	size_t got;
	rc = decode_fixed(c, enc.data + 2, enc.len - 2, len, &mem, &got);
	if (rc)
		fail_msg("%s decode fixed %zu: %s", c->ops->name, len, tess_errmsg());
	assert_int_equal(got, len);
	if (len)
		assert_memory_equal(mem, data, len);
	/* one byte less room than the data: corrupt, never a write past it */
	if (len) {
		free(mem);
		rc = decode_fixed(c, enc.data + 2, enc.len - 2, len - 1, &mem, &got);
		if (rc != TESS_ECORRUPT)
			fail_msg("%s decode %zu into %zu: %d %s", c->ops->name, len, len - 1, rc,
			         tess_errmsg());
	}
	free(mem);
	tess_buf_free(&enc);
	tess_buf_free(&dec);
}

static const size_t sizes[] = {0, 1, 7, 4093, 65536 + 24, MiB};

static void round_trip_sizes(int fmt, uint32_t itemsize, const char *json_text, int big)
{
	tess_codec *c = make(fmt, itemsize, json_text);
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		size_t len = sizes[s] - sizes[s] % itemsize;
		if (len >= MiB && !big)
			continue;
		uint8_t *data = malloc(len + 1);
		fill(data, len, (uint32_t)s);
		round_trip(c, data, len);
		fill_random(data, len, (uint32_t)s);
		round_trip(c, data, len);
		free(data);
	}
	tess_codec_free(c);
}

static void test_round_trip_v2(void **state)
{
	(void)state;
	static const uint32_t itemsizes[] = {1, 2, 4, 8, 3};
	static const char *const blosc_cnames[] = {"blosclz", "lz4", "lz4hc", "zlib", "zstd"};
	for (size_t k = 0; k < sizeof itemsizes / sizeof itemsizes[0]; k++) {
		uint32_t is = itemsizes[k];
		char j[256];
		for (size_t n = 0; n < 5; n++)
			for (int shuffle = -1; shuffle <= 2; shuffle++) {
				snprintf(j, sizeof j,
				         "{\"id\":\"blosc\",\"cname\":\"%s\",\"clevel\":%d,\"shuffle\":%d,"
				         "\"blocksize\":%d}",
				         blosc_cnames[n], shuffle == 2 ? 9 : 5, shuffle, shuffle == 0 ? 4096 : 0);
				round_trip_sizes(2, is, j, shuffle == 1 && is == 4);
			}
		round_trip_sizes(2, is, "{\"id\":\"zstd\",\"level\":1}", is == 4);
		round_trip_sizes(2, is, "{\"id\":\"zstd\",\"level\":-3}", 0);
		round_trip_sizes(2, is, "{\"id\":\"lz4\",\"acceleration\":1}", is == 4);
		round_trip_sizes(2, is, "{\"id\":\"gzip\",\"level\":1}", is == 4);
		round_trip_sizes(2, is, "{\"id\":\"gzip\",\"level\":0}", 0);
		round_trip_sizes(2, is, "{\"id\":\"zlib\",\"level\":9}", is == 4);
		snprintf(j, sizeof j, "{\"id\":\"shuffle\",\"elementsize\":%u}", is);
		round_trip_sizes(2, is, j, 1);
		if (is != 3) {
			snprintf(j, sizeof j, "{\"id\":\"delta\",\"dtype\":\"<i%u\"}", is);
			round_trip_sizes(2, is, j, is == 8);
			snprintf(j, sizeof j, "{\"id\":\"delta\",\"dtype\":\">u%u\",\"astype\":\"<u8\"}", is);
			round_trip_sizes(2, is, j, 0);
			snprintf(j, sizeof j, "{\"id\":\"delta\",\"dtype\":\">i%u\",\"astype\":\"<i8\"}", is);
			round_trip_sizes(2, is, j, 0);
		}
	}
}

static void test_round_trip_v3(void **state)
{
	(void)state;
	round_trip_sizes(3, 4,
	                 "{\"name\":\"blosc\",\"configuration\":{\"cname\":\"lz4\",\"clevel\":5,"
	                 "\"shuffle\":\"shuffle\",\"typesize\":4,\"blocksize\":0}}",
	                 1);
	round_trip_sizes(3, 2,
	                 "{\"name\":\"blosc\",\"configuration\":{\"cname\":\"zstd\",\"clevel\":3,"
	                 "\"shuffle\":\"bitshuffle\",\"typesize\":2,\"blocksize\":0}}",
	                 0);
	round_trip_sizes(3, 8,
	                 "{\"name\":\"blosc\",\"configuration\":{\"cname\":\"blosclz\",\"clevel\":1,"
	                 "\"shuffle\":\"noshuffle\",\"blocksize\":0}}",
	                 0);
	round_trip_sizes(3, 1, "{\"name\":\"gzip\",\"configuration\":{\"level\":5}}", 1);
	round_trip_sizes(3, 1, "{\"name\":\"zstd\",\"configuration\":{\"level\":0,\"checksum\":true}}",
	                 1);
	round_trip_sizes(3, 1, "{\"name\":\"zstd\",\"configuration\":{\"level\":3,\"checksum\":false}}",
	                 0);
	round_trip_sizes(3, 1, "{\"name\":\"crc32c\"}", 1);
	round_trip_sizes(3, 1, "\"crc32c\"", 0);
}

/* Float deltas: data whose differences and sums are exact round trip
 * exactly; the bit-exact NumPy behaviour otherwise is the peer test's. */
static void test_delta_floats(void **state)
{
	(void)state;
	float f4[1000];
	double f8[1000];
	for (int i = 0; i < 1000; i++) {
		f4[i] = (float)((i * 37) % 1001) - 500.0f;
		f8[i] = (double)((i * 91) % 2003) * 0.25;
	}
	tess_codec *c = make(2, 4, "{\"id\":\"delta\",\"dtype\":\"<f4\"}");
	round_trip(c, (const uint8_t *)f4, sizeof f4);
	tess_codec_free(c);
	c = make(2, 8, "{\"id\":\"delta\",\"dtype\":\"float64\",\"astype\":\">f8\"}");
	round_trip(c, (const uint8_t *)f8, sizeof f8);
	tess_codec_free(c);
	/* half: 1.0, 2.0, 3.5, -0.5 as bits */
	const uint16_t h[4] = {0x3c00, 0x4000, 0x4300, 0xb800};
	const uint16_t want[4] = {0x3c00, 0x3c00, 0x3e00, 0xc400}; /* 1, 1, 1.5, -4 */
	c = make(2, 2, "{\"id\":\"delta\",\"dtype\":\"<f2\"}");
	tess_buf enc = {0};
	assert_int_equal(c->ops->encode(c, h, sizeof h, &enc), 0);
	assert_memory_equal(enc.data, want, sizeof want);
	tess_buf_free(&enc);
	round_trip(c, (const uint8_t *)h, sizeof h);
	tess_codec_free(c);
}

/* numcodecs' docstring example: Delta(dtype='i2', astype='i1') */
static void test_delta_narrowing(void **state)
{
	(void)state;
	int16_t x[10];
	for (int i = 0; i < 10; i++)
		x[i] = (int16_t)(100 + 2 * i);
	tess_codec *c = make(2, 2, "{\"id\":\"delta\",\"dtype\":\"i2\",\"astype\":\"i1\"}");
	tess_buf enc = {0}, dec = {0};
	assert_int_equal(c->ops->encode(c, x, sizeof x, &enc), 0);
	const int8_t want[10] = {100, 2, 2, 2, 2, 2, 2, 2, 2, 2};
	assert_int_equal(enc.len, 10);
	assert_memory_equal(enc.data, want, 10);
	assert_int_equal(c->ops->decode(c, enc.data, enc.len, &dec, sizeof x), 0);
	assert_memory_equal(dec.data, x, sizeof x);
	json_t *j = tess_codec_to_json(c, 2);
	assert_string_equal(json_string_value(json_object_get(j, "dtype")), "<i2");
	assert_string_equal(json_string_value(json_object_get(j, "astype")), "|i1");
	json_decref(j);
	/* decoded size is 2x the encoded: bounded by max_out */
	assert_int_equal(c->ops->decode(c, enc.data, enc.len, &dec, sizeof x - 1), TESS_ECORRUPT);
	tess_buf_free(&enc);
	tess_buf_free(&dec);
	tess_codec_free(c);
}

/* ---- hostile input ------------------------------------------------------------- */

static void expect_corrupt(const tess_codec *c, const void *in, size_t len, size_t max_out,
                           const char *needle)
{
	uint8_t *mem;
	size_t got;
	int rc = decode_fixed(c, in, len, max_out, &mem, &got);
	free(mem);
	if (rc != TESS_ECORRUPT)
		fail_msg("%s: expected TESS_ECORRUPT, got %d (%s)", c->ops->name, rc, tess_errmsg());
	if (needle && !strstr(tess_errmsg(), needle))
		fail_msg("%s: message '%s' does not say '%s'", c->ops->name, tess_errmsg(), needle);
}

static void encode_into(const tess_codec *c, const void *in, size_t len, tess_buf *out)
{
	out->len = 0;
	if (c->ops->encode(c, in, len, out))
		fail_msg("%s encode: %s", c->ops->name, tess_errmsg());
}

static void test_blosc_hostile(void **state)
{
	(void)state;
	tess_codec *c = make(2, 4, "{\"id\":\"blosc\",\"cname\":\"lz4\",\"clevel\":5,\"shuffle\":1}");
	uint8_t data[4096];
	fill(data, sizeof data, 1);
	tess_buf enc = {0};
	encode_into(c, data, sizeof data, &enc);
	expect_corrupt(c, enc.data, 10, MiB, "header");
	expect_corrupt(c, enc.data, enc.len - 1, MiB, "bad header");                   /* truncated */
	uint8_t *bad = malloc(enc.len + 1);
	memcpy(bad, enc.data, enc.len);
	bad[enc.len] = 0;
	expect_corrupt(c, bad, enc.len + 1, MiB, "bad header"); /* trailing byte */
	/* a header claiming ~4 GiB (the most 32 bits say) for a 1 MiB chunk */
	memcpy(bad, enc.data, enc.len);
	codec_store_le32(bad + 4, 0xffffffffu);
	expect_corrupt(c, bad, enc.len, MiB, NULL);
	/* a header claiming more than the chunk holds, otherwise valid */
	expect_corrupt(c, enc.data, enc.len, sizeof data - 1, "header says 4096 bytes");
	/* garbage in the compressed blocks */
	memcpy(bad, enc.data, enc.len);
	for (size_t i = 16; i < enc.len; i++)
		bad[i] ^= 0x5a;
	uint8_t *mem;
	size_t got;
	int rc = decode_fixed(c, bad, enc.len, sizeof data, &mem, &got);
	free(mem);
	assert_true(rc == 0 || rc == TESS_ECORRUPT); /* blosc may not notice; never crash */
	/* an unknown format version */
	memcpy(bad, enc.data, enc.len);
	bad[0] = 0x7f;
	expect_corrupt(c, bad, enc.len, MiB, NULL);
	free(bad);
	tess_buf_free(&enc);
	tess_codec_free(c);
}

static void test_lz4_hostile(void **state)
{
	(void)state;
	tess_codec *c = make(2, 1, "{\"id\":\"lz4\"}");
	uint8_t data[5000];
	fill(data, sizeof data, 2);
	tess_buf enc = {0};
	encode_into(c, data, sizeof data, &enc);
	expect_corrupt(c, enc.data, 3, MiB, "shorter");
	expect_corrupt(c, enc.data, enc.len, sizeof data - 1, "header says 5000 bytes");
	uint8_t *bad = malloc(enc.len);
	memcpy(bad, enc.data, enc.len);
	codec_store_le32(bad, 0x7fffffffu); /* claims 2 GiB */
	expect_corrupt(c, bad, enc.len, MiB, "header says");
	codec_store_le32(bad, 4000); /* claims less than the block holds */
	expect_corrupt(c, bad, enc.len, MiB, NULL);
	codec_store_le32(bad, 6000); /* claims more than the block holds */
	expect_corrupt(c, bad, enc.len, MiB, "decompresses to 5000");
	expect_corrupt(c, enc.data, enc.len - 3, MiB, NULL); /* truncated */
	free(bad);
	tess_buf_free(&enc);
	tess_codec_free(c);
}

/* A zstd frame of `len` bytes, with or without the content size. */
static void zstd_frame(const void *in, size_t len, int with_size, tess_buf *out)
{
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, with_size);
	size_t bound = ZSTD_compressBound(len);
	out->len = 0;
	assert_int_equal(tess_buf_reserve(out, bound), 0);
	size_t r = ZSTD_compress2(cctx, out->data, bound, in, len);
	assert_false(ZSTD_isError(r));
	out->len = r;
	ZSTD_freeCCtx(cctx);
}

static void test_zstd_hostile(void **state)
{
	(void)state;
	tess_codec *c = make(2, 1, "{\"id\":\"zstd\",\"level\":1}");
	size_t big = 64 * MiB; /* zeros: a bomb of a few KiB */
	uint8_t *zeros = calloc(1, big);
	tess_buf f = {0};
	zstd_frame(zeros, big, 1, &f);
	expect_corrupt(c, f.data, f.len, MiB, "frame says 67108864 bytes");
	zstd_frame(zeros, big, 0, &f);
	expect_corrupt(c, f.data, f.len, MiB, "more than 1048576");
	/* no content size but within the chunk: fine */
	uint8_t data[70000];
	fill(data, sizeof data, 3);
	zstd_frame(data, sizeof data, 0, &f);
	assert_int_equal(ZSTD_getFrameContentSize(f.data, f.len), ZSTD_CONTENTSIZE_UNKNOWN);
	uint8_t *mem;
	size_t got;
	assert_int_equal(decode_fixed(c, f.data, f.len, sizeof data, &mem, &got), 0);
	assert_int_equal(got, sizeof data);
	assert_memory_equal(mem, data, sizeof data);
	free(mem);
	/* two frames back to back decode as their concatenation */
	tess_buf two = {0};
	zstd_frame(data, 1000, 1, &f);
	tess_buf_append(&two, f.data, f.len);
	zstd_frame(data + 1000, 2000, 0, &f);
	tess_buf_append(&two, f.data, f.len);
	assert_int_equal(decode_fixed(c, two.data, two.len, 3000, &mem, &got), 0);
	assert_int_equal(got, 3000);
	assert_memory_equal(mem, data, 3000);
	free(mem);
	expect_corrupt(c, two.data, two.len, 2999, NULL);
	tess_buf_free(&two);
	/* truncated, garbage, empty */
	zstd_frame(data, sizeof data, 1, &f);
	expect_corrupt(c, f.data, f.len - 1, MiB, NULL);
	expect_corrupt(c, "garbage!", 8, MiB, "not a zstd frame");
	expect_corrupt(c, "", 0, MiB, NULL);
	/* a checksummed frame with a flipped byte in the data */
	tess_codec *cs = make(3, 1, "{\"name\":\"zstd\",\"configuration\":{\"level\":1,\"checksum\":true}}");
	encode_into(cs, data, sizeof data, &f);
	f.data[f.len - 1] ^= 1; /* the checksum itself */
	expect_corrupt(cs, f.data, f.len, sizeof data, NULL);
	tess_codec_free(cs);
	tess_buf_free(&f);
	free(zeros);
	tess_codec_free(c);
}

static void test_deflate_hostile(void **state)
{
	(void)state;
	tess_codec *gz = make(2, 1, "{\"id\":\"gzip\",\"level\":1}");
	tess_codec *zl = make(2, 1, "{\"id\":\"zlib\",\"level\":1}");
	size_t big = 16 * MiB;
	uint8_t *zeros = calloc(1, big);
	tess_buf enc = {0}, dec = {0};
	/* bombs */
	encode_into(gz, zeros, big, &enc);
	expect_corrupt(gz, enc.data, enc.len, MiB, "more than 1048576");
	encode_into(zl, zeros, big, &enc);
	expect_corrupt(zl, enc.data, enc.len, MiB, "more than 1048576");
	uint8_t data[10000];
	fill(data, sizeof data, 4);
	/* gzip: truncated, bad CRC, bad magic, trailing garbage */
	encode_into(gz, data, sizeof data, &enc);
	expect_corrupt(gz, enc.data, enc.len - 1, MiB, "truncated");
	expect_corrupt(gz, enc.data, 5, MiB, "truncated");
	expect_corrupt(gz, "", 0, MiB, "not a gzip stream");
	enc.data[enc.len - 6] ^= 1; /* in the CRC-32 */
	expect_corrupt(gz, enc.data, enc.len, MiB, "corrupt");
	enc.data[enc.len - 6] ^= 1;
	expect_corrupt(gz, enc.data + 1, enc.len - 1, MiB, "not a gzip stream");
	size_t one = enc.len;
	tess_buf_append(&enc, "xx", 2);
	expect_corrupt(gz, enc.data, enc.len, MiB, NULL);
	/* what Python's gzip reader accepts: members back to back, zero padding */
	enc.len = one;
	tess_buf_append(&enc, "\0\0\0", 3);
	assert_int_equal(gz->ops->decode(gz, enc.data, enc.len, &dec, sizeof data), 0);
	assert_int_equal(dec.len, sizeof data);
	dec.len = 0;
	enc.len = one;
	tess_buf more = {0};
	encode_into(gz, data, 3000, &more);
	tess_buf_append(&enc, more.data, more.len);
	assert_int_equal(gz->ops->decode(gz, enc.data, enc.len, &dec, sizeof data + 3000), 0);
	assert_int_equal(dec.len, sizeof data + 3000);
	assert_memory_equal(dec.data + sizeof data, data, 3000);
	expect_corrupt(gz, enc.data, enc.len, sizeof data + 2999, NULL);
	dec.len = 0;
	/* zlib: truncated, bad adler, trailing bytes ignored as Python does */
	encode_into(zl, data, sizeof data, &enc);
	expect_corrupt(zl, enc.data, enc.len - 1, MiB, "truncated");
	expect_corrupt(zl, "", 0, MiB, "truncated");
	tess_buf_append(&enc, "garbage", 7);
	assert_int_equal(zl->ops->decode(zl, enc.data, enc.len, &dec, sizeof data), 0);
	assert_int_equal(dec.len, sizeof data);
	enc.data[enc.len - 8] ^= 1; /* in the Adler-32 */
	expect_corrupt(zl, enc.data, enc.len, MiB, "corrupt");
	expect_corrupt(zl, "\x78\x9c\xff\xff", 4, MiB, NULL);
	tess_buf_free(&enc);
	tess_buf_free(&dec);
	tess_buf_free(&more);
	free(zeros);
	tess_codec_free(gz);
	tess_codec_free(zl);
}

static void test_filters_hostile(void **state)
{
	(void)state;
	tess_codec *c = make(3, 1, "{\"name\":\"crc32c\"}");
	uint8_t data[100];
	fill(data, sizeof data, 5);
	tess_buf enc = {0};
	encode_into(c, data, sizeof data, &enc);
	assert_int_equal(enc.len, 104);
	expect_corrupt(c, enc.data, 3, MiB, "shorter");
	expect_corrupt(c, enc.data, enc.len, 99, NULL);
	enc.data[50] ^= 0x10;
	expect_corrupt(c, enc.data, enc.len, MiB, "checksum mismatch");
	tess_codec_free(c);
	c = make(2, 4, "{\"id\":\"shuffle\",\"elementsize\":4}");
	expect_corrupt(c, data, 99, MiB, "multiple");
	expect_corrupt(c, data, 100, 96, NULL);
	assert_int_equal(c->ops->encode(c, data, 99, &enc), TESS_EINVAL);
	tess_codec_free(c);
	c = make(2, 4, "{\"id\":\"delta\",\"dtype\":\"<i4\"}");
	expect_corrupt(c, data, 99, MiB, "whole number");
	expect_corrupt(c, data, 100, 96, NULL);
	tess_codec_free(c);
	tess_buf_free(&enc);
}

/* ---- JSON ----------------------------------------------------------------------- */

static void json_round_trip(int fmt, uint32_t itemsize, const char *in, const char *want)
{
	tess_codec *c = make(fmt, itemsize, in);
	json_t *j = tess_codec_to_json(c, fmt);
	assert_non_null(j);
	char *text;
	assert_int_equal(tess_json_dumps(&text, j), 0);
	json_t *w;
	assert_int_equal(tess_json_parse(&w, want, strlen(want), "want"), 0);
	if (!json_equal(j, w))
		fail_msg("%s gives %s, want %s", in, text, want);
	/* the other format's form does not exist */
	assert_null(tess_codec_to_json(c, fmt == 2 ? 3 : 2));
	free(text);
	json_decref(j);
	json_decref(w);
	tess_codec_free(c);
}

static void test_json_forms(void **state)
{
	(void)state;
	/* v2: what numcodecs' get_config() gives, defaults filled in */
	json_round_trip(2, 4, "{\"id\":\"blosc\"}",
	                "{\"id\":\"blosc\",\"cname\":\"lz4\",\"clevel\":5,\"shuffle\":1,\"blocksize\":0}");
	json_round_trip(2, 4,
	                "{\"id\":\"blosc\",\"cname\":\"zstd\",\"clevel\":9,\"shuffle\":-1,\"blocksize\":"
	                "65536}",
	                "{\"id\":\"blosc\",\"cname\":\"zstd\",\"clevel\":9,\"shuffle\":-1,\"blocksize\":"
	                "65536}");
	json_round_trip(2, 4, "{\"id\":\"zstd\"}", "{\"id\":\"zstd\",\"level\":1}");
	json_round_trip(2, 4, "{\"id\":\"zstd\",\"level\":3,\"checksum\":false}",
	                "{\"id\":\"zstd\",\"level\":3}");
	json_round_trip(2, 4, "{\"id\":\"zstd\",\"level\":3,\"checksum\":true}",
	                "{\"id\":\"zstd\",\"level\":3,\"checksum\":true}");
	json_round_trip(2, 4, "{\"id\":\"lz4\"}", "{\"id\":\"lz4\",\"acceleration\":1}");
	json_round_trip(2, 4, "{\"id\":\"gzip\"}", "{\"id\":\"gzip\",\"level\":1}");
	json_round_trip(2, 4, "{\"id\":\"zlib\",\"level\":-1}", "{\"id\":\"zlib\",\"level\":-1}");
	json_round_trip(2, 4, "{\"id\":\"shuffle\"}", "{\"id\":\"shuffle\",\"elementsize\":4}");
	json_round_trip(2, 4, "{\"id\":\"delta\",\"dtype\":\"i4\"}",
	                "{\"id\":\"delta\",\"dtype\":\"<i4\",\"astype\":\"<i4\"}");
	json_round_trip(2, 4, "{\"id\":\"delta\",\"dtype\":\"uint8\",\"astype\":\">i2\"}",
	                "{\"id\":\"delta\",\"dtype\":\"|u1\",\"astype\":\">i2\"}");
	/* v3 */
	json_round_trip(3, 4,
	                "{\"name\":\"blosc\",\"configuration\":{\"cname\":\"lz4\",\"clevel\":1,"
	                "\"shuffle\":\"shuffle\"}}",
	                "{\"name\":\"blosc\",\"configuration\":{\"cname\":\"lz4\",\"clevel\":1,"
	                "\"shuffle\":\"shuffle\",\"typesize\":4,\"blocksize\":0}}");
	json_round_trip(3, 2,
	                "{\"name\":\"blosc\",\"configuration\":{\"cname\":\"zstd\",\"clevel\":5,"
	                "\"shuffle\":\"bitshuffle\",\"typesize\":8,\"blocksize\":0}}",
	                "{\"name\":\"blosc\",\"configuration\":{\"cname\":\"zstd\",\"clevel\":5,"
	                "\"shuffle\":\"bitshuffle\",\"typesize\":8,\"blocksize\":0}}");
	json_round_trip(3, 4, "{\"name\":\"gzip\",\"configuration\":{\"level\":1}}",
	                "{\"name\":\"gzip\",\"configuration\":{\"level\":1}}");
	json_round_trip(3, 4, "{\"name\":\"zstd\",\"configuration\":{\"level\":0}}",
	                "{\"name\":\"zstd\",\"configuration\":{\"level\":0,\"checksum\":false}}");
	json_round_trip(3, 4, "{\"name\":\"crc32c\",\"configuration\":{}}", "{\"name\":\"crc32c\"}");
	json_round_trip(3, 4, "\"crc32c\"", "{\"name\":\"crc32c\"}");
}

static void test_json_refused(void **state)
{
	(void)state;
	assert_int_equal(make_fails(2, "{\"id\":\"bz2\",\"level\":1}", "bz2"), TESS_ENOTSUP);
	assert_int_equal(make_fails(3, "{\"name\":\"lz4\"}", "lz4"), TESS_ENOTSUP);
	assert_int_equal(make_fails(2, "{\"id\":\"crc32c\"}", "crc32c"), TESS_ENOTSUP);
	assert_int_equal(make_fails(3, "{\"name\":\"numcodecs.zlib\"}", "numcodecs.zlib"), TESS_ENOTSUP);
	assert_int_equal(make_fails(2, "{\"level\":1}", "id"), TESS_EINVAL);
	assert_int_equal(make_fails(2, "[1]", "id"), TESS_EINVAL);
	assert_int_equal(make_fails(3, "{\"name\":\"gzip\",\"configuration\":[]}", "configuration"),
	                 TESS_EINVAL);
	assert_int_equal(make_fails(3, "{\"name\":\"gzip\",\"extra\":1}", "extra"), TESS_EINVAL);
	assert_int_equal(make_fails(2, "{\"id\":\"blosc\",\"cname\":\"lzma\"}", "lzma"), TESS_EINVAL);
	assert_int_equal(make_fails(2, "{\"id\":\"blosc\",\"clevel\":10}", "clevel"), TESS_EINVAL);
	assert_int_equal(make_fails(2, "{\"id\":\"blosc\",\"shuffle\":3}", "shuffle"), TESS_EINVAL);
	assert_int_equal(make_fails(2, "{\"id\":\"blosc\",\"blocksize\":-1}", "blocksize"), TESS_EINVAL);
	assert_int_equal(make_fails(2, "{\"id\":\"blosc\",\"clevel\":\"5\"}", "clevel"), TESS_EINVAL);
	assert_int_equal(make_fails(2, "{\"id\":\"blosc\",\"typesize\":4}", "typesize"), TESS_EINVAL);
	assert_int_equal(make_fails(3,
	                            "{\"name\":\"blosc\",\"configuration\":{\"cname\":\"lz4\","
	                            "\"clevel\":5,\"shuffle\":\"byte\"}}",
	                            "shuffle"),
	                 TESS_EINVAL);
	assert_int_equal(make_fails(3,
	                            "{\"name\":\"blosc\",\"configuration\":{\"cname\":\"lz4\","
	                            "\"shuffle\":\"shuffle\"}}",
	                            "clevel"),
	                 TESS_EINVAL);
	assert_int_equal(make_fails(3, "{\"name\":\"zstd\",\"configuration\":{\"level\":23}}", "level"),
	                 TESS_EINVAL);
	assert_int_equal(make_fails(3,
	                            "{\"name\":\"zstd\",\"configuration\":{\"level\":1,\"checksum\":1}}",
	                            "checksum"),
	                 TESS_EINVAL);
	assert_int_equal(make_fails(3, "{\"name\":\"gzip\",\"configuration\":{\"level\":-1}}", "level"),
	                 TESS_EINVAL);
	assert_int_equal(make_fails(3, "{\"name\":\"gzip\"}", "level"), TESS_EINVAL);
	assert_int_equal(make_fails(2, "{\"id\":\"zlib\",\"level\":10}", "level"), TESS_EINVAL);
	assert_int_equal(make_fails(2, "{\"id\":\"lz4\",\"acceleration\":1.5}", "acceleration"),
	                 TESS_EINVAL);
	assert_int_equal(make_fails(2, "{\"id\":\"shuffle\",\"elementsize\":-2}", "elementsize"),
	                 TESS_EINVAL);
	assert_int_equal(make_fails(3, "{\"name\":\"crc32c\",\"configuration\":{\"x\":1}}", "x"),
	                 TESS_EINVAL);
	assert_int_equal(make_fails(2, "{\"id\":\"delta\"}", "dtype"), TESS_EINVAL);
	assert_int_equal(make_fails(2, "{\"id\":\"delta\",\"dtype\":\"<q4\"}", "<q4"), TESS_EINVAL);
	assert_int_equal(make_fails(2, "{\"id\":\"delta\",\"dtype\":\"<c8\"}", "<c8"), TESS_ENOTSUP);
	assert_int_equal(make_fails(2, "{\"id\":\"delta\",\"dtype\":\"|b1\"}", "|b1"), TESS_ENOTSUP);
	assert_int_equal(make_fails(2, "{\"id\":\"delta\",\"dtype\":\"<i4\",\"astype\":\"<f4\"}", "<f4"),
	                 TESS_ENOTSUP);
	assert_int_equal(make_fails(2, "{\"id\":\"delta\",\"dtype\":\"<f8\",\"astype\":\"<f4\"}", "<f8"),
	                 TESS_ENOTSUP);
	assert_int_equal(make_fails(2, "{\"id\":\"delta\",\"dtype\":\"<u8\",\"astype\":\"<i8\"}", "float64"),
	                 TESS_ENOTSUP);
	assert_int_equal(make_fails(2, "{\"id\":\"delta\",\"dtype\":\"<i2\",\"astype\":\">u8\"}", ">u8"),
	                 TESS_ENOTSUP);
	tess_codec_ctx bad = {.zarr_format = 4};
	json_t *j = json_pack("{s:s}", "id", "zstd");
	tess_codec *c;
	assert_int_equal(tess_codec_from_json(&c, j, &bad), TESS_EINVAL);
	json_decref(j);
}

/* ---- SPEC strings --------------------------------------------------------------- */

static void spec_is(int fmt, uint32_t itemsize, const char *spec, const char *want)
{
	tess_codec_ctx ctx = {.zarr_format = fmt, .itemsize = itemsize};
	tess_codec *c;
	if (tess_codec_from_spec(&c, spec, &ctx))
		fail_msg("%s: %s", spec, tess_errmsg());
	json_t *j = tess_codec_to_json(c, fmt), *w;
	assert_int_equal(tess_json_parse(&w, want, strlen(want), "want"), 0);
	char *text = json_dumps(j, JSON_SORT_KEYS);
	if (!json_equal(j, w))
		fail_msg("%s gives %s, want %s", spec, text, want);
	free(text);
	json_decref(j);
	json_decref(w);
	tess_codec_free(c);
}

static void spec_fails(int fmt, const char *spec, int code, const char *needle)
{
	tess_codec_ctx ctx = {.zarr_format = fmt, .itemsize = 4};
	tess_codec *c = (tess_codec *)1;
	int rc = tess_codec_from_spec(&c, spec, &ctx);
	if (rc != code)
		fail_msg("%s: expected %d, got %d (%s)", spec, code, rc, tess_errmsg());
	assert_null(c);
	if (!strstr(tess_errmsg(), needle))
		fail_msg("%s: message '%s' does not name '%s'", spec, tess_errmsg(), needle);
}

static void test_specs(void **state)
{
	(void)state;
	spec_is(2, 4, "blosc",
	        "{\"id\":\"blosc\",\"cname\":\"lz4\",\"clevel\":5,\"shuffle\":1,\"blocksize\":0}");
	spec_is(2, 4, "blosc:zstd",
	        "{\"id\":\"blosc\",\"cname\":\"zstd\",\"clevel\":5,\"shuffle\":1,\"blocksize\":0}");
	spec_is(2, 4, "blosc:zlib:9:bitshuffle",
	        "{\"id\":\"blosc\",\"cname\":\"zlib\",\"clevel\":9,\"shuffle\":2,\"blocksize\":0}");
	spec_is(2, 4, "blosc:blosclz:0:noshuffle",
	        "{\"id\":\"blosc\",\"cname\":\"blosclz\",\"clevel\":0,\"shuffle\":0,\"blocksize\":0}");
	spec_is(2, 4, "blosc::3", "{\"id\":\"blosc\",\"cname\":\"lz4\",\"clevel\":3,\"shuffle\":1,"
	                          "\"blocksize\":0}");
	spec_is(2, 4, "zstd", "{\"id\":\"zstd\",\"level\":1}");
	spec_is(2, 4, "zstd:-5", "{\"id\":\"zstd\",\"level\":-5}");
	spec_is(2, 4, "lz4", "{\"id\":\"lz4\",\"acceleration\":1}");
	spec_is(2, 4, "lz4:8", "{\"id\":\"lz4\",\"acceleration\":8}");
	spec_is(2, 4, "gzip", "{\"id\":\"gzip\",\"level\":1}");
	spec_is(2, 4, "gzip:9", "{\"id\":\"gzip\",\"level\":9}");
	spec_is(2, 4, "zlib", "{\"id\":\"zlib\",\"level\":1}");
	spec_is(3, 8, "blosc",
	        "{\"name\":\"blosc\",\"configuration\":{\"cname\":\"lz4\",\"clevel\":5,"
	        "\"shuffle\":\"shuffle\",\"typesize\":8,\"blocksize\":0}}");
	spec_is(3, 2, "blosc:lz4hc:7:bitshuffle",
	        "{\"name\":\"blosc\",\"configuration\":{\"cname\":\"lz4hc\",\"clevel\":7,"
	        "\"shuffle\":\"bitshuffle\",\"typesize\":2,\"blocksize\":0}}");
	spec_is(3, 4, "zstd:3", "{\"name\":\"zstd\",\"configuration\":{\"level\":3,\"checksum\":false}}");
	spec_is(3, 4, "gzip", "{\"name\":\"gzip\",\"configuration\":{\"level\":1}}");
	spec_fails(2, "none", TESS_EINVAL, "none");
	spec_fails(2, "bz2:1", TESS_EINVAL, "bz2");
	spec_fails(2, "blosc:lzma", TESS_EINVAL, "lzma");
	spec_fails(2, "blosc:lz4:x", TESS_EINVAL, "'x'");
	spec_fails(2, "blosc:lz4:10", TESS_EINVAL, "clevel");
	spec_fails(2, "blosc:lz4:5:byte", TESS_EINVAL, "byte");
	spec_fails(2, "blosc:lz4:5:shuffle:1", TESS_EINVAL, "too many");
	spec_fails(2, "zstd:1:2", TESS_EINVAL, "one parameter");
	spec_fails(2, "zstd:1.5", TESS_EINVAL, "1.5");
	spec_fails(2, "gzip:10", TESS_EINVAL, "level");
	spec_fails(3, "lz4", TESS_ENOTSUP, "lz4");
	spec_fails(3, "zlib:1", TESS_ENOTSUP, "zlib");
	spec_fails(3, "zstd:99", TESS_EINVAL, "level");
}

/* ---- CRC-32C ------------------------------------------------------------------- */

static void test_crc32c_vectors(void **state)
{
	(void)state;
	assert_int_equal(tess_crc32c(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(codec_crc32c_portable(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(tess_crc32c(0, "", 0), 0);
	/* RFC 3720 B.4 */
	uint8_t b[32];
	memset(b, 0, 32);
	assert_int_equal(tess_crc32c(0, b, 32), 0x8A9136AAu);
	memset(b, 0xff, 32);
	assert_int_equal(tess_crc32c(0, b, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	assert_int_equal(tess_crc32c(0, b, 32), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)(31 - i);
	assert_int_equal(tess_crc32c(0, b, 32), 0x113FDB5Cu);
	/* the codec appends it little-endian */
	tess_codec *c = make(3, 1, "{\"name\":\"crc32c\"}");
	tess_buf enc = {0};
	encode_into(c, "123456789", 9, &enc);
	assert_memory_equal(enc.data + 9, "\x83\x92\x06\xe3", 4);
	tess_buf_free(&enc);
	tess_codec_free(c);
}

static void test_crc32c_paths_agree(void **state)
{
	(void)state;
	uint8_t buf[4096 + 16];
	fill_random(buf, sizeof buf, 9);
	for (size_t off = 0; off < 9; off++)
		for (size_t len = 0; len < 300; len += 1 + len / 8) {
			uint32_t a = tess_crc32c(0, buf + off, len);
			assert_int_equal(a, codec_crc32c_portable(0, buf + off, len));
			/* chaining: crc(a || b) from crc(a) */
			uint32_t part = tess_crc32c(0, buf + off, len / 3);
			assert_int_equal(tess_crc32c(part, buf + off + len / 3, len - len / 3), a);
			part = codec_crc32c_portable(0, buf + off, len / 3);
			assert_int_equal(codec_crc32c_portable(part, buf + off + len / 3, len - len / 3), a);
		}
	assert_int_equal(tess_crc32c(0, buf, 4096), codec_crc32c_portable(0, buf, 4096));
}

/* ---- threads -------------------------------------------------------------------- */

typedef struct worker {
	const tess_codec *codec;
	int seed, failed;
} worker;

static void *work(void *arg)
{
	worker *w = arg;
	size_t len = 200000;
	uint8_t *data = malloc(len);
	tess_buf enc = {0}, dec = {0};
	for (int round = 0; round < 20 && !w->failed; round++) {
		fill(data, len, (uint32_t)(w->seed * 100 + round));
		enc.len = dec.len = 0;
		if (w->codec->ops->encode(w->codec, data, len, &enc) ||
		    w->codec->ops->decode(w->codec, enc.data, enc.len, &dec, len) || dec.len != len ||
		    memcmp(dec.data, data, len))
			w->failed = 1;
	}
	tess_buf_free(&enc);
	tess_buf_free(&dec);
	free(data);
	return NULL;
}

/* One codec instance shared by threads (zstd keeps contexts per thread). */
static void test_threads_share_codecs(void **state)
{
	(void)state;
	const char *configs[] = {"{\"id\":\"zstd\",\"level\":3}", "{\"id\":\"blosc\",\"cname\":\"zstd\"}",
	                         "{\"id\":\"gzip\",\"level\":1}"};
	for (size_t k = 0; k < 3; k++) {
		tess_codec *c = make(2, 4, configs[k]);
		pthread_t t[4];
		worker w[4];
		for (int i = 0; i < 4; i++) {
			w[i] = (worker){c, i, 0};
			assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
		}
		for (int i = 0; i < 4; i++) {
			pthread_join(t[i], NULL);
			assert_false(w[i].failed);
		}
		tess_codec_free(c);
	}
}

static void test_find(void **state)
{
	(void)state;
	assert_non_null(tess_codec_find("blosc", 2));
	assert_non_null(tess_codec_find("blosc", 3));
	assert_non_null(tess_codec_find("lz4", 2));
	assert_null(tess_codec_find("lz4", 3));
	assert_null(tess_codec_find("crc32c", 2));
	assert_non_null(tess_codec_find("crc32c", 3));
	assert_null(tess_codec_find("bz2", 2));
	assert_null(tess_codec_find(NULL, 2));
	assert_null(tess_codec_find("zstd", 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_crc32c_vectors),
		cmocka_unit_test(test_crc32c_paths_agree),
		cmocka_unit_test(test_round_trip_v2),
		cmocka_unit_test(test_round_trip_v3),
		cmocka_unit_test(test_delta_floats),
		cmocka_unit_test(test_delta_narrowing),
		cmocka_unit_test(test_blosc_hostile),
		cmocka_unit_test(test_lz4_hostile),
		cmocka_unit_test(test_zstd_hostile),
		cmocka_unit_test(test_deflate_hostile),
		cmocka_unit_test(test_filters_hostile),
		cmocka_unit_test(test_json_forms),
		cmocka_unit_test(test_json_refused),
		cmocka_unit_test(test_specs),
		cmocka_unit_test(test_threads_share_codecs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
