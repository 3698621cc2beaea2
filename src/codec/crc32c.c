/*
 * CRC-32C (Castagnoli, RFC 3720) and the Zarr v3 "crc32c" codec, which
 * appends the CRC of the bytes as a 4-byte little-endian integer; decoding
 * checks and strips it.
 *
 * tess_crc32c is slicing-by-8 in software, and uses the SSE4.2 crc32
 * instruction when the CPU has it (same results: tests compare both).
 */
#include "codec/codec_internal.h"
#include "util/error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CRC32C_POLY 0x82F63B78u /* reflected Castagnoli polynomial */

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_init(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		table[0][n] = c;
	}
	for (uint32_t n = 0; n < 256; n++)
		for (int t = 1; t < 8; t++)
			table[t][n] = (table[t - 1][n] >> 8) ^ table[0][table[t - 1][n] & 0xff];
}

/* The raw (not inverted) CRC update, 8 bytes per step. */
static uint32_t crc32c_sw(uint32_t crc, const uint8_t *p, size_t len)
{
	while (len >= 8) {
		uint32_t lo = crc ^ codec_load_le32(p);
		uint32_t hi = codec_load_le32(p + 4);
		crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^
		      table[4][lo >> 24] ^ table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
		      table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
	return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define HAVE_CRC32C_HW 1

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p,
                                                           size_t len)
{
	uint64_t c = crc;
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		c = _mm_crc32_u64(c, w);
		p += 8;
		len -= 8;
	}
	uint32_t c32 = (uint32_t)c;
	while (len--)
		c32 = _mm_crc32_u8(c32, *p++);
	return c32;
}

static int use_hw(void)
{
	static int cached = -1; /* benign race: every thread computes the same */
	int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
	if (v < 0) {
		__builtin_cpu_init();
		v = __builtin_cpu_supports("sse4.2") != 0;
		__atomic_store_n(&cached, v, __ATOMIC_RELAXED);
	}
	return v;
}
#endif

uint32_t tess_crc32c(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;
	crc = ~crc;
	if (!len)
		return ~crc;
#ifdef HAVE_CRC32C_HW
	if (use_hw())
		return ~crc32c_hw(crc, p, len);
#endif
	pthread_once(&table_once, table_init);
	return ~crc32c_sw(crc, p, len);
}

uint32_t codec_crc32c_portable(uint32_t crc, const void *data, size_t len)
{
	pthread_once(&table_once, table_init);
	return ~crc32c_sw(~crc, data, len);
}

/* ---- the codec ---------------------------------------------------------------- */

static int crc32c_create(tess_codec **out, const json_t *config, const tess_codec_ctx *ctx)
{
	static const char *const keys[] = {NULL};
	(void)ctx;
	int rc = codec_check_keys(config, "crc32c", keys);
	if (rc)
		return rc;
	tess_codec *c = calloc(1, sizeof *c);
	if (!c)
		return tess_err(TESS_ENOMEM, "codec 'crc32c': out of memory");
	c->ops = &tess_codec_crc32c_ops;
	*out = c;
	return 0;
}

static int crc32c_encode(const tess_codec *c, const void *in, size_t len, tess_buf *out)
{
	(void)c;
	int rc = tess_buf_reserve(out, len + 4);
	if (rc)
		return rc;
	if (len)
		memcpy(out->data + out->len, in, len);
	codec_store_le32(out->data + out->len + len, tess_crc32c(0, in, len));
	out->len += len + 4;
	return 0;
}

static int crc32c_decode(const tess_codec *c, const void *in, size_t len, tess_buf *out,
                         size_t max_out)
{
	(void)c;
	if (len < 4)
		return tess_err(TESS_ECORRUPT, "crc32c: %zu bytes is shorter than the 4-byte checksum",
		                len);
	size_t n = len - 4;
	if (n > max_out)
		return tess_err(TESS_ECORRUPT, "crc32c: %zu bytes of data, chunk holds %zu", n, max_out);
	uint32_t stored = codec_load_le32((const uint8_t *)in + n);
	uint32_t computed = tess_crc32c(0, in, n);
	if (stored != computed)
		return tess_err(TESS_ECORRUPT,
		                "crc32c: checksum mismatch (stored 0x%08x, computed 0x%08x over %zu bytes)",
		                stored, computed, n);
	return tess_buf_append(out, in, n);
}

static json_t *crc32c_to_json(const tess_codec *c)
{
	(void)c;
	return codec_v3_json("crc32c", NULL); /* zarr-python writes no configuration */
}

static void crc32c_destroy(tess_codec *c)
{
	free(c);
}

const tess_codec_ops tess_codec_crc32c_ops = {
	.name = "crc32c",
	.formats = 2,
	.create = crc32c_create,
	.encode = crc32c_encode,
	.decode = crc32c_decode,
	.to_json = crc32c_to_json,
	.destroy = crc32c_destroy,
};
