/*
 * NumPy .npy headers: parsing what numpy writes and what Python would accept,
 * refusing the rest with the right code and message, writing numpy's bytes.
 *
 * Run with "--peer", the program is instead the C side of npy_peer.py: it
 * reads commands from stdin, one a line, fields separated by tabs:
 *   parse PATH               -> ok DESCR FORTRAN SHAPE OFFSET SIZE ITEMSIZE
 *   write PATH DESCR SHAPE   -> ok HEADER_LEN   (the header, then zero data)
 * or "err CODE MESSAGE"; SHAPE is the dimensions joined by ',' ("" for 0-d).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "util/error.h"
#include "util/npy.h"

/* ---- building headers ---------------------------------------------------------- */

typedef struct bytes {
	unsigned char data[4096];
	size_t len;
} bytes;

/* Magic, version, length and dict, padded with spaces and '\n' to 64 bytes. */
static bytes wrap(int major, const char *dict)
{
	bytes b = {.len = 0};
	size_t pre = major == 1 ? 10 : 12, n = strlen(dict);
	size_t hlen = n + 1 + (64 - (pre + n + 1) % 64) % 64;
	assert_true(pre + hlen <= sizeof b.data);
	memcpy(b.data, "\x93NUMPY", 6);
	b.data[6] = (unsigned char)major;
	b.data[7] = 0;
	for (size_t k = 0; k < pre - 8; k++)
		b.data[8 + k] = (unsigned char)(hlen >> (8 * k));
	memcpy(b.data + pre, dict, n);
	memset(b.data + pre + n, ' ', hlen - n - 1);
	b.data[pre + hlen - 1] = '\n';
	b.len = pre + hlen;
	return b;
}

static tess_npy_header parse_ok(int major, const char *dict)
{
	bytes b = wrap(major, dict);
	tess_npy_header h;
	int rc = tess_npy_parse_header(&h, b.data, b.len);
	if (rc)
		fail_msg("v%d %s: %d: %s", major, dict, rc, tess_errmsg());
	assert_int_equal(h.data_offset, b.len);
	assert_int_equal(h.data_offset % 64, 0);
	return h;
}

static void expect_shape(const tess_npy_header *h, int ndim, const uint64_t *shape)
{
	assert_int_equal(h->ndim, ndim);
	for (int d = 0; d < ndim; d++)
		assert_int_equal(h->shape[d], shape[d]);
}

static void expect_refused_bytes(const void *data, size_t len, int code, const char *part)
{
	tess_npy_header h;
	tess_error_clear();
	int rc = tess_npy_parse_header(&h, data, len);
	if (rc != code || !strstr(tess_errmsg(), part))
		fail_msg("%zu bytes: returned %d \"%s\", expected %d with \"%s\"", len, rc,
		         tess_errmsg(), code, part);
}

static void expect_refused(int major, const char *dict, int code, const char *part)
{
	bytes b = wrap(major, dict);
	tess_npy_header h;
	tess_error_clear();
	int rc = tess_npy_parse_header(&h, b.data, b.len);
	if (rc != code || !strstr(tess_errmsg(), part))
		fail_msg("v%d %s: returned %d \"%s\", expected %d with \"%s\"", major, dict, rc,
		         tess_errmsg(), code, part);
}

/* ---- parsing -------------------------------------------------------------------- */

/* Headers exactly as numpy 1.24 writes them. */
static void test_numpy_headers(void **state)
{
	(void)state;
	static const char f4[] = "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, "
	                         "'shape': (3, 4), }"
	                         "                                                          \n";
	tess_npy_header h;
	assert_int_equal(sizeof f4 - 1, 128);
	assert_int_equal(tess_npy_parse_header(&h, f4, sizeof f4 - 1), 0);
	assert_string_equal(h.descr, "<f4");
	assert_int_equal(h.fortran_order, 0);
	expect_shape(&h, 2, (uint64_t[]){3, 4});
	assert_int_equal(h.itemsize, 4);
	assert_int_equal(h.data_offset, 128);
	assert_int_equal(h.data_size, 48);

	h = parse_ok(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (), }");
	assert_string_equal(h.descr, "|b1");
	assert_int_equal(h.ndim, 0);
	assert_int_equal(h.data_size, 1);

	h = parse_ok(1, "{'descr': '>i2', 'fortran_order': True, 'shape': (3, 4), }");
	assert_string_equal(h.descr, ">i2");
	assert_int_equal(h.fortran_order, 1);

	h = parse_ok(3, "{'descr': '<U3', 'fortran_order': False, 'shape': (5,), }    ");
	assert_string_equal(h.descr, "<U3");
	expect_shape(&h, 1, (uint64_t[]){5});
	assert_int_equal(h.itemsize, 12);
	assert_int_equal(h.data_size, 60);

	h = parse_ok(2, "{'descr': '<c16', 'fortran_order': False, 'shape': (2, 0, 9), }");
	assert_int_equal(h.itemsize, 16);
	assert_int_equal(h.data_size, 0);
}

/* What Python's literal syntax allows for the three keys. */
static void test_parse_variants(void **state)
{
	(void)state;
	tess_npy_header h;
	h = parse_ok(1, "{'shape': (2, 3), 'fortran_order': True, 'descr': '>u8'}");
	assert_string_equal(h.descr, ">u8");
	assert_int_equal(h.fortran_order, 1);
	expect_shape(&h, 2, (uint64_t[]){2, 3});
	assert_int_equal(h.data_size, 48);

	h = parse_ok(1, "  {\n 'descr' : \"<c8\" ,\n\t'fortran_order':False,'shape':( 7 , ) , }\n");
	assert_string_equal(h.descr, "<c8");
	expect_shape(&h, 1, (uint64_t[]){7});

	h = parse_ok(2, "{'descr':'|S5','fortran_order':False,'shape':()}");
	assert_string_equal(h.descr, "|S5");
	assert_int_equal(h.itemsize, 5);
	assert_int_equal(h.ndim, 0);

	h = parse_ok(1, "{u'descr': u'<f8', 'fortran_order': False, 'shape': (1,2,3,)}");
	assert_string_equal(h.descr, "<f8");
	expect_shape(&h, 3, (uint64_t[]){1, 2, 3});

	/* Python 2 longs, in the versions Python 2 could write. */
	h = parse_ok(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3L, 4L), }");
	expect_shape(&h, 2, (uint64_t[]){3, 4});
	h = parse_ok(2, "{'descr': '<i8', 'fortran_order': False, 'shape': (3l,), }");
	expect_shape(&h, 1, (uint64_t[]){3});

	/* Byte order means nothing for one byte: reported the way numpy writes it. */
	static const char *const single[][2] = {
		{"<u1", "|u1"}, {">i1", "|i1"}, {"<b1", "|b1"}, {">S3", "|S3"}, {"<S3", "|S3"}};
	for (size_t k = 0; k < sizeof single / sizeof single[0]; k++) {
		char dict[128];
		snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (2,)}",
		         single[k][0]);
		h = parse_ok(1, dict);
		assert_string_equal(h.descr, single[k][1]);
	}

	h = parse_ok(1, "{'descr': '>U10', 'fortran_order': False, 'shape': (2,)}");
	assert_int_equal(h.itemsize, 40);
}

static void test_big_shapes(void **state)
{
	(void)state;
	/* Huge but representable: one byte per element up to 2^62. */
	tess_npy_header h = parse_ok(1, "{'descr': '|u1', 'fortran_order': False, "
	                                "'shape': (4611686018427387904,), }");
	assert_int_equal(h.data_size, 4611686018427387904ULL);

	char dict[512];
	strcpy(dict, "{'descr': '<i4', 'fortran_order': False, 'shape': (");
	for (int d = 0; d < 32; d++)
		strcat(dict, d ? ", 1" : "1");
	strcat(dict, "), }");
	h = parse_ok(1, dict);
	assert_int_equal(h.ndim, 32);
	assert_int_equal(h.data_size, 4);

	dict[strlen(dict) - 4] = '\0';
	strcat(dict, ", 1), }");
	expect_refused(1, dict, TESS_ENOTSUP, "more than 32 dimensions");
}

static void test_preamble_refusals(void **state)
{
	(void)state;
	bytes b = wrap(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }");
	expect_refused_bytes(b.data, 0, TESS_ECORRUPT, "too short");
	expect_refused_bytes(b.data, 7, TESS_ECORRUPT, "too short");
	expect_refused_bytes(b.data, 9, TESS_ECORRUPT, "too short");
	expect_refused_bytes(b.data, b.len - 1, TESS_ECORRUPT, "cut short");
	expect_refused_bytes(b.data, 20, TESS_ECORRUPT, "cut short");

	bytes bad = b;
	bad.data[0] = 'x';
	expect_refused_bytes(bad.data, bad.len, TESS_ECORRUPT, "bad magic");
	bad = b;
	bad.data[6] = 4;
	expect_refused_bytes(bad.data, bad.len, TESS_ENOTSUP, "version 4.0 is not supported");
	bad = b;
	bad.data[7] = 1;
	expect_refused_bytes(bad.data, bad.len, TESS_ENOTSUP, "version 1.1 is not supported");
	bad = b;
	bad.data[6] = 0;
	expect_refused_bytes(bad.data, bad.len, TESS_ENOTSUP, "version 0.0 is not supported");

	/* A 2.0 header claiming 16 MiB. */
	bad = wrap(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }");
	bad.data[10] = 0;
	bad.data[11] = 1;
	expect_refused_bytes(bad.data, bad.len, TESS_ECORRUPT, "over the 1048576-byte limit");
	bad.data[11] = 0xff;
	expect_refused_bytes(bad.data, bad.len, TESS_ECORRUPT, "over the 1048576-byte limit");
	/* An empty dict area. */
	unsigned char empty[10] = "\x93NUMPY\x01\x00\x00\x00";
	expect_refused_bytes(empty, sizeof empty, TESS_ECORRUPT, "expected '{'");
}

static void test_dict_refusals(void **state)
{
	(void)state;
	static const struct {
		int major;
		const char *dict;
		int code;
		const char *part;
	} cases[] = {
		{1, "{'descr': [('a', '<f4'), ('b', '<i8')], 'fortran_order': False, 'shape': (3,), }",
		 TESS_ENOTSUP, "structured dtypes"},
		{1, "{'descr': ('<f4', (2,)), 'fortran_order': False, 'shape': (3,), }",
		 TESS_ENOTSUP, "subarray dtypes"},
		{1, "{'descr': '|O', 'fortran_order': False, 'shape': (3,), }",
		 TESS_ENOTSUP, "dtype '|O' is not supported: kind 'O'"},
		{1, "{'descr': '<M8[ns]', 'fortran_order': False, 'shape': (3,), }",
		 TESS_ENOTSUP, "dtype '<M8[ns]' is not supported: kind 'M'"},
		{1, "{'descr': '<m8', 'fortran_order': False, 'shape': (3,), }",
		 TESS_ENOTSUP, "kind 'm'"},
		{1, "{'descr': '|V8', 'fortran_order': False, 'shape': (3,), }",
		 TESS_ENOTSUP, "kind 'V'"},
		{1, "{'descr': '<f16', 'fortran_order': False, 'shape': (3,), }",
		 TESS_ENOTSUP, "dtype '<f16' is not supported: no such size for kind 'f'"},
		{1, "{'descr': '<c32', 'fortran_order': False, 'shape': (3,), }",
		 TESS_ENOTSUP, "no such size"},
		{1, "{'descr': '<i3', 'fortran_order': False, 'shape': (3,), }",
		 TESS_ENOTSUP, "no such size"},
		{1, "{'descr': '|b2', 'fortran_order': False, 'shape': (3,), }",
		 TESS_ENOTSUP, "no such size"},
		{1, "{'descr': '|f4', 'fortran_order': False, 'shape': (3,), }",
		 TESS_ENOTSUP, "a 4-byte type needs the byte order"},
		{1, "{'descr': '|U2', 'fortran_order': False, 'shape': (3,), }",
		 TESS_ENOTSUP, "a 8-byte type needs the byte order"},
		{1, "{'descr': '=f4', 'fortran_order': False, 'shape': (3,), }",
		 TESS_ENOTSUP, "not a plain typestring"},
		{1, "{'descr': 'f4', 'fortran_order': False, 'shape': (3,), }",
		 TESS_ENOTSUP, "not a plain typestring"},
		{1, "{'descr': '<S0', 'fortran_order': False, 'shape': (3,), }",
		 TESS_ENOTSUP, "positive decimal"},
		{1, "{'descr': '<f04', 'fortran_order': False, 'shape': (3,), }",
		 TESS_ENOTSUP, "positive decimal"},
		{1, "{'descr': '<U99999999999', 'fortran_order': False, 'shape': (3,), }",
		 TESS_ENOTSUP, "positive decimal"},
		{1, "{'descr': '<U536870912', 'fortran_order': False, 'shape': (3,), }",
		 TESS_ENOTSUP, "no such size"},
		{1, "{'descr': '<U1234567890123456789012345678901234567890', 'fortran_order': "
		    "False, 'shape': (3,), }", TESS_ENOTSUP, "dtype '<U12345678901234567890123456789..."},
		{1, "{'descr': '', 'fortran_order': False, 'shape': (3,), }",
		 TESS_ENOTSUP, "not a plain typestring"},
		{1, "{'descr': 4, 'fortran_order': False, 'shape': (3,), }",
		 TESS_ECORRUPT, "expected a quoted string at byte 20"},
		{1, "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (3,), }",
		 TESS_ECORRUPT, "unsupported character in a string"},
		{1, "{'descr' '<f4', 'fortran_order': False, 'shape': (3,), }",
		 TESS_ECORRUPT, "expected ':' after a key"},
		{1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'extra': 1}",
		 TESS_ECORRUPT, "unknown key 'extra'"},
		{1, "{'descr': '<f4', 'fortran_order': False, 'a_key_much_longer_than_the_buffer_is': 1}",
		 TESS_ECORRUPT, "unknown key 'a_key_much_longer_than_the_buff...'"},
		{1, "{'descr': '<f4', 'fortran_order': False, }",
		 TESS_ECORRUPT, "key 'shape' is missing"},
		{1, "{'shape': (3,), 'fortran_order': False, }",
		 TESS_ECORRUPT, "key 'descr' is missing"},
		{1, "{'shape': (3,), 'descr': '<f4'}",
		 TESS_ECORRUPT, "key 'fortran_order' is missing"},
		{1, "{}", TESS_ECORRUPT, "key 'descr' is missing"},
		{1, "{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (3,)}",
		 TESS_ECORRUPT, "key 'descr' appears twice"},
		{1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3), }",
		 TESS_ECORRUPT, "an int, not a tuple"},
		{1, "{'descr': '<f4', 'fortran_order': False, 'shape': [3], }",
		 TESS_ECORRUPT, "shape must be a tuple at byte 60, found \"[3], }"},
		{1, "{'descr': '<f4', 'fortran_order': False, 'shape': 3, }",
		 TESS_ECORRUPT, "shape must be a tuple"},
		{1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }",
		 TESS_ECORRUPT, "negative dimension"},
		{1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3.0,), }",
		 TESS_ECORRUPT, "expected ',' or ')' in the shape"},
		{1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0x3,), }",
		 TESS_ECORRUPT, "plain decimal"},
		{1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1_000,), }",
		 TESS_ECORRUPT, "plain decimal"},
		{1, "{'descr': '<f4', 'fortran_order': False, 'shape': (03,), }",
		 TESS_ECORRUPT, "leading zero"},
		{1, "{'descr': '<f4', 'fortran_order': False, 'shape': (,), }",
		 TESS_ECORRUPT, "expected a dimension"},
		{1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,,), }",
		 TESS_ECORRUPT, "expected a dimension"},
		{1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4", TESS_ECORRUPT,
		 "expected ',' or ')' in the shape"},
		{1, "{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775808,), }",
		 TESS_ECORRUPT, "dimension larger than 2^63 - 1"},
		{1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,)}",
		 TESS_ECORRUPT, "dimension larger than 2^63 - 1"},
		{1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
		 TESS_ECORRUPT, "shape (4294967296, 4294967296) of '<f8' is over 2^63 bytes"},
		{1, "{'descr': '<f2', 'fortran_order': False, 'shape': (9223372036854775807,)}",
		 TESS_ECORRUPT, "shape (9223372036854775807,) of '<f2' is over 2^63 bytes"},
		{1, "{'descr': '<f4', 'fortran_order': False, "
		    "'shape': (0, 4611686018427387904, 2), }",
		 TESS_ECORRUPT, "is over 2^63 bytes"},
		{3, "{'descr': '<f4', 'fortran_order': False, 'shape': (3L,), }",
		 TESS_ECORRUPT, "plain decimal"},
		{1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (3,), }",
		 TESS_ECORRUPT, "fortran_order must be True or False"},
		{1, "{'descr': '<f4', 'fortran_order': Truely, 'shape': (3,), }",
		 TESS_ECORRUPT, "fortran_order must be True or False"},
		{1, "{'descr': '<f4', 'fortran_order': 'False', 'shape': (3,), }",
		 TESS_ECORRUPT, "fortran_order must be True or False"},
		{1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }x",
		 TESS_ECORRUPT, "unexpected text after the header dict"},
		{1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }}",
		 TESS_ECORRUPT, "unexpected text after the header dict"},
		{1, "{'descr': '<f4' 'fortran_order': False, 'shape': (3,), }",
		 TESS_ECORRUPT, "expected ',' or '}' after a value"},
		{1, "{'descr': '<f4',, 'fortran_order': False, 'shape': (3,), }",
		 TESS_ECORRUPT, "expected a quoted string"},
		{1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), ",
		 TESS_ECORRUPT, "expected a quoted string at byte 128: the header ends there"},
		{1, "{'descr': '<f4", TESS_ECORRUPT, "unterminated string"},
		{1, "[1, 2]", TESS_ECORRUPT, "expected '{' starting the header dict"},
		{1, "", TESS_ECORRUPT, "expected '{'"},
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
		expect_refused(cases[k].major, cases[k].dict, cases[k].code, cases[k].part);

	/* Bytes that no header holds: NUL, non-ASCII, in and around the dict. */
	bytes b = wrap(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }");
	bytes bad = b;
	bad.data[12] = 0;  /* inside 'descr' */
	expect_refused_bytes(bad.data, bad.len, TESS_ECORRUPT, "unsupported character");
	bad = b;
	bad.data[bad.len - 2] = 0;  /* in the padding */
	expect_refused_bytes(bad.data, bad.len, TESS_ECORRUPT, "unexpected text after");
	bad = b;
	bad.data[21] = 0xe9;  /* inside 'fortran_order' */
	expect_refused_bytes(bad.data, bad.len, TESS_ECORRUPT, "unsupported character");
}

/* ---- writing -------------------------------------------------------------------- */

/* The header tess_npy_write_header writes, read back through a temp file. */
static bytes written(const char *descr, int ndim, const uint64_t *shape)
{
	FILE *f = tmpfile();
	assert_non_null(f);
	size_t len = 0;
	int rc = tess_npy_write_header(fileno(f), descr, ndim, shape, &len);
	if (rc)
		fail_msg("write '%s' ndim %d: %d: %s", descr, ndim, rc, tess_errmsg());
	bytes b = {.len = 0};
	assert_true(len <= sizeof b.data);
	assert_int_equal(pread(fileno(f), b.data, sizeof b.data, 0), (ssize_t)len);
	fclose(f);
	b.len = len;
	return b;
}

/* numpy.save's bytes: the dict, room for the first axis, padding, '\n'. */
static void test_write_exact(void **state)
{
	(void)state;
	bytes b = written("<f4", 2, (uint64_t[]){3, 4});
	static const char f4[] = "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, "
	                         "'shape': (3, 4), }"
	                         "                                                          \n";
	assert_int_equal(b.len, sizeof f4 - 1);
	assert_memory_equal(b.data, f4, b.len);

	/* 0-d: no growth room. */
	b = written("|b1", 0, NULL);
	static const char b1[] = "\x93NUMPY\x01\x00v\x00{'descr': '|b1', 'fortran_order': False, "
	                         "'shape': (), }"
	                         "                                                              \n";
	assert_int_equal(b.len, sizeof b1 - 1);
	assert_memory_equal(b.data, b1, b.len);

	/* A dict that ends exactly on a boundary gets a whole line of padding,
	 * as numpy's padlen = 64 - (10 + len + 1) % 64 does (192 bytes there). */
	uint64_t ones[14] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 100};
	b = written("<f8", 14, ones);
	assert_int_equal(b.len, 192);
	for (size_t k = 192 - 65; k < 191; k++)
		assert_int_equal(b.data[k], ' ');
	assert_int_equal(b.data[191], '\n');
	assert_int_equal(b.data[192 - 65 - 20 - 1], '}');

	/* One-byte types are written the way numpy names them. */
	b = written("<u1", 1, (uint64_t[]){5});
	static const char u1[] = "{'descr': '|u1', 'fortran_order': False, 'shape': (5,), }";
	assert_memory_equal(b.data + 10, u1, sizeof u1 - 1);
	b = written(">S12", 1, (uint64_t[]){5});
	assert_memory_equal(b.data + 10, "{'descr': '|S12', ", 18);
}

/* Every supported dtype and shapes up to 32 dimensions read back as written. */
static void test_write_round_trip(void **state)
{
	(void)state;
	static const char *const descrs[] = {
		"|b1", "|i1", "|u1", "<i2", ">i2", "<u2", ">u2", "<i4", ">i4", "<u4", ">u4",
		"<i8", ">i8", "<u8", ">u8", "<f2", ">f2", "<f4", ">f4", "<f8", ">f8",
		"<c8", ">c8", "<c16", ">c16", "|S1", "|S100", "<U1", ">U7", "<U1000",
	};
	uint64_t shape[TESS_NPY_MAX_DIMS];
	for (size_t k = 0; k < sizeof descrs / sizeof descrs[0]; k++) {
		for (int ndim = 0; ndim <= TESS_NPY_MAX_DIMS; ndim += ndim < 5 ? 1 : 9) {
			for (int d = 0; d < ndim; d++)
				shape[d] = (uint64_t)(d * 7 % 5 + 1);
			bytes b = written(descrs[k], ndim, shape);
			assert_int_equal(b.len % 64, 0);
			assert_int_equal(b.data[b.len - 1], '\n');
			tess_npy_header h;
			int rc = tess_npy_parse_header(&h, b.data, b.len);
			if (rc)
				fail_msg("'%s' ndim %d: %d: %s", descrs[k], ndim, rc, tess_errmsg());
			assert_string_equal(h.descr, descrs[k]);
			assert_int_equal(h.fortran_order, 0);
			expect_shape(&h, ndim, shape);
			assert_int_equal(h.data_offset, b.len);
		}
	}
	/* The largest dimensions numpy can hold. */
	uint64_t big[TESS_NPY_MAX_DIMS];
	for (int d = 0; d < TESS_NPY_MAX_DIMS; d++)
		big[d] = d == 0 ? 9223372036854775807ULL : 0;
	bytes b = written("|u1", TESS_NPY_MAX_DIMS, big);
	tess_npy_header h;
	assert_int_equal(tess_npy_parse_header(&h, b.data, b.len), 0);
	expect_shape(&h, TESS_NPY_MAX_DIMS, big);
}

static void expect_write_refused(int fd, const char *descr, int ndim, const uint64_t *shape,
                                 int code, const char *part)
{
	size_t len = 99;
	tess_error_clear();
	int rc = tess_npy_write_header(fd, descr, ndim, shape, &len);
	if (rc != code || !strstr(tess_errmsg(), part))
		fail_msg("write '%s' ndim %d: returned %d \"%s\", expected %d with \"%s\"",
		         descr ? descr : "(null)", ndim, rc, tess_errmsg(), code, part);
	assert_int_equal(len, 0);
}

static void test_write_refusals(void **state)
{
	(void)state;
	FILE *f = tmpfile();
	assert_non_null(f);
	int fd = fileno(f);
	uint64_t shape[TESS_NPY_MAX_DIMS + 1] = {3, 4};
	expect_write_refused(fd, NULL, 1, shape, TESS_EINVAL, "npy write: no dtype given");
	expect_write_refused(fd, "|O", 1, shape, TESS_EINVAL, "npy write: dtype '|O' is not supported");
	expect_write_refused(fd, "<f16", 1, shape, TESS_EINVAL, "no such size");
	expect_write_refused(fd, "|f8", 1, shape, TESS_EINVAL, "needs the byte order");
	expect_write_refused(fd, "float32", 1, shape, TESS_EINVAL, "not a plain typestring");
	expect_write_refused(fd, "<f4", -1, shape, TESS_EINVAL, "-1 dimensions");
	expect_write_refused(fd, "<f4", 33, shape, TESS_EINVAL, "33 dimensions");
	expect_write_refused(fd, "<f4", 2, NULL, TESS_EINVAL, "no shape given");
	uint64_t huge[2] = {1ULL << 31, 1ULL << 31};
	expect_write_refused(fd, "<f8", 2, huge, TESS_EINVAL,
	                     "shape (2147483648, 2147483648) of '<f8' is over 2^63 bytes");
	uint64_t too_big[1] = {1ULL << 63};
	expect_write_refused(fd, "|u1", 1, too_big, TESS_EINVAL, "over 2^63 bytes");
	assert_int_equal(lseek(fd, 0, SEEK_END), 0);
	fclose(f);

	int rdonly = open("/dev/null", O_RDONLY);
	assert_true(rdonly >= 0);
	expect_write_refused(rdonly, "<f4", 2, shape, TESS_EIO, "npy write: writing the header: ");
	close(rdonly);
	/* out_len is optional. */
	f = tmpfile();
	assert_int_equal(tess_npy_write_header(fileno(f), "<f4", 2, shape, NULL), 0);
	assert_int_equal(lseek(fileno(f), 0, SEEK_END), 128);
	fclose(f);
}

/* ---- files ----------------------------------------------------------------------- */

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static int read_file_header(tess_npy_header *h, const char *path)
{
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	tess_error_clear();
	int rc = tess_npy_read_header(h, fd, path);
	close(fd);
	return rc;
}

static void expect_file_refused(const char *path, int code, const char *part)
{
	tess_npy_header h;
	int rc = read_file_header(&h, path);
	char want[4200];
	snprintf(want, sizeof want, "'%s': %s", path, part);
	if (rc != code || !strstr(tess_errmsg(), want))
		fail_msg("%s: returned %d \"%s\", expected %d with \"%s\"", path, rc, tess_errmsg(),
		         code, want);
}

static void test_read_file(void **state)
{
	(void)state;
	char *dir = tu_tempdir();
	char path[4200];
	snprintf(path, sizeof path, "%s/a.npy", dir);
	bytes b = wrap(1, "{'descr': '<i2', 'fortran_order': False, 'shape': (3, 5), }");
	unsigned char file[8192] = {0};
	memcpy(file, b.data, b.len);

	/* Exactly the data, and more data than needed (numpy reads the same). */
	tess_npy_header h;
	write_file(path, file, b.len + 30);
	assert_int_equal(read_file_header(&h, path), 0);
	assert_int_equal(h.data_offset, b.len);
	assert_int_equal(h.data_size, 30);
	write_file(path, file, b.len + 31);
	assert_int_equal(read_file_header(&h, path), 0);

	write_file(path, file, b.len + 29);
	expect_file_refused(path, TESS_ECORRUPT, "npy: shape (3, 5) of '<i2' needs 30 bytes of "
	                    "data, the file has 29 after the 128-byte header");
	write_file(path, file, b.len);
	expect_file_refused(path, TESS_ECORRUPT,
	                    "npy: shape (3, 5) of '<i2' needs 30 bytes of data, the file has 0");
	write_file(path, file, b.len - 1);
	expect_file_refused(path, TESS_ECORRUPT, "npy header: the 118-byte header is cut short");
	write_file(path, file, 9);
	expect_file_refused(path, TESS_ECORRUPT,
	                    "npy header: 9 bytes, too short for the header length");
	write_file(path, file, 0);
	expect_file_refused(path, TESS_ECORRUPT, "npy header: 0 bytes, too short");
	static const char zip[] = "PK\x03\x04 this is a zip";
	write_file(path, zip, sizeof zip - 1);
	expect_file_refused(path, TESS_ECORRUPT, "npy header: bad magic");

	/* 0-d and empty arrays. */
	b = wrap(3, "{'descr': '<c16', 'fortran_order': False, 'shape': (), }");
	memcpy(file, b.data, b.len);
	write_file(path, file, b.len + 16);
	assert_int_equal(read_file_header(&h, path), 0);
	assert_int_equal(h.data_size, 16);
	b = wrap(1, "{'descr': '<f8', 'fortran_order': True, 'shape': (0, 3), }");
	write_file(path, b.data, b.len);
	assert_int_equal(read_file_header(&h, path), 0);
	assert_int_equal(h.data_size, 0);
	assert_int_equal(h.fortran_order, 1);

	/* What tess_npy_write_header wrote, with its data, reads back. */
	int fd = open(path, O_RDWR | O_TRUNC);
	assert_true(fd >= 0);
	size_t len;
	assert_int_equal(tess_npy_write_header(fd, ">u4", 3, (uint64_t[]){2, 3, 4}, &len), 0);
	assert_int_equal(ftruncate(fd, (off_t)len + 96), 0);
	assert_int_equal(tess_npy_read_header(&h, fd, path), 0);
	assert_string_equal(h.descr, ">u4");
	assert_int_equal(h.data_offset, len);
	assert_int_equal(h.data_size, 96);
	close(fd);

	/* A pipe cannot be read from offset 0. */
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], file, 64), 64);
	tess_error_clear();
	assert_int_equal(tess_npy_read_header(&h, p[0], "pipe"), TESS_EIO);
	assert_non_null(strstr(tess_errmsg(), "'pipe': npy: reading the header: "));
	assert_int_equal(tess_npy_read_header(&h, -1, NULL), TESS_EIO);
	assert_non_null(strstr(tess_errmsg(), "'(npy)': npy: reading the header: "));
	close(p[0]);
	close(p[1]);

	unlink(path);
	tu_rmrf(dir);
	free(dir);
}

/* ---- the peer helper --------------------------------------------------------------- */

static void peer_error(int rc)
{
	/* Messages hold no tabs or newlines, but make sure of it. */
	char msg[1100];
	snprintf(msg, sizeof msg, "%s", tess_errmsg());
	for (char *c = msg; *c; c++)
		if (*c == '\t' || *c == '\n')
			*c = ' ';
	printf("err\t%d\t%s\n", rc, msg);
}

static void peer_parse(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		printf("err\t%d\topen %s: %s\n", TESS_EIO, path, strerror(errno));
		return;
	}
	tess_npy_header h;
	int rc = tess_npy_read_header(&h, fd, path);
	close(fd);
	if (rc) {
		peer_error(rc);
		return;
	}
	printf("ok\t%s\t%d\t", h.descr, h.fortran_order);
	for (int d = 0; d < h.ndim; d++)
		printf(d ? ",%llu" : "%llu", (unsigned long long)h.shape[d]);
	printf("\t%llu\t%llu\t%u\n", (unsigned long long)h.data_offset,
	       (unsigned long long)h.data_size, h.itemsize);
}

static int parse_dims(char *text, uint64_t *shape)
{
	int ndim = 0;
	for (char *tok = strtok(text, ","); tok; tok = strtok(NULL, ",")) {
		if (ndim == TESS_NPY_MAX_DIMS + 1)
			return ndim;
		shape[ndim++] = strtoull(tok, NULL, 10);
	}
	return ndim;
}

/* The header, then zero bytes for the data it describes. */
static void peer_write(const char *path, const char *descr, char *dims)
{
	uint64_t shape[TESS_NPY_MAX_DIMS + 1];
	int ndim = parse_dims(dims, shape);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		printf("err\t%d\topen %s: %s\n", TESS_EIO, path, strerror(errno));
		return;
	}
	size_t len;
	int rc = tess_npy_write_header(fd, descr, ndim, shape, &len);
	unsigned char head[4096];
	tess_npy_header h;
	if (!rc && (len > sizeof head || pread(fd, head, len, 0) != (ssize_t)len))
		rc = tess_err(TESS_EIO, "reading back the header of %s", path);
	if (!rc)
		rc = tess_npy_parse_header(&h, head, len);
	if (!rc && ftruncate(fd, (off_t)(h.data_offset + h.data_size)) != 0)
		rc = tess_err(TESS_EIO, "ftruncate %s: %s", path, strerror(errno));
	close(fd);
	if (rc)
		peer_error(rc);
	else
		printf("ok\t%zu\n", len);
}

static int peer_main(void)
{
	char line[8192];
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\n")] = '\0';
		char *fields[4] = {0};
		int n = 0;
		for (char *s = line; n < 4; n++) {
			fields[n] = s;
			char *tab = strchr(s, '\t');
			if (!tab) {
				n++;
				break;
			}
			*tab = '\0';
			s = tab + 1;
		}
		if (n == 2 && strcmp(fields[0], "parse") == 0)
			peer_parse(fields[1]);
		else if (n == 4 && strcmp(fields[0], "write") == 0)
			peer_write(fields[1], fields[2], fields[3]);
		else
			printf("err\t%d\tbad command '%s'\n", TESS_EINVAL, fields[0]);
		fflush(stdout);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--peer") == 0)
		return peer_main();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numpy_headers),
		cmocka_unit_test(test_parse_variants),
		cmocka_unit_test(test_big_shapes),
		cmocka_unit_test(test_preamble_refusals),
		cmocka_unit_test(test_dict_refusals),
		cmocka_unit_test(test_write_exact),
		cmocka_unit_test(test_write_round_trip),
		cmocka_unit_test(test_write_refusals),
		cmocka_unit_test(test_read_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
