/*
 * Array metadata: dtypes, .zarray and zarr.json parsing and writing, fill
 * value encodings, validation messages, chunk keys, creation options.
 * argv[1] is the directory of published v3 examples (data/v3).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array/meta.h"
#include "util/json.h"

static const char *data_dir = ".";

/* ---- helpers ------------------------------------------------------------------ */

static char *meta_text(const tess_meta *m)
{
	tess_buf b = {0};
	int rc = tess_meta_write(&b, m);
	if (rc)
		fail_msg("write: %s", tess_errmsg());
	tess_buf_append(&b, "", 1);
	return (char *)b.data;
}

static void parse_ok(tess_meta *m, const char *text, int fmt)
{
	int rc = tess_meta_parse(m, text, strlen(text), fmt, "TEST");
	if (rc)
		fail_msg("parse failed (%d): %s\n%s", rc, tess_errmsg(), text);
}

/* A base document with members replaced (or deleted with "__delete__"). */
static char *doc(int fmt, const char *overrides)
{
	static const char *v2 = "{\"chunks\": [5, 5], \"compressor\": null, \"dtype\": \"<f4\", "
	                        "\"fill_value\": 0.0, \"filters\": null, \"order\": \"C\", "
	                        "\"shape\": [10, 20], \"zarr_format\": 2}";
	static const char *v3 =
		"{\"zarr_format\": 3, \"node_type\": \"array\", \"shape\": [10, 20], "
		"\"data_type\": \"float32\", "
		"\"chunk_grid\": {\"name\": \"regular\", \"configuration\": {\"chunk_shape\": [5, 5]}}, "
		"\"chunk_key_encoding\": {\"name\": \"default\", \"configuration\": {\"separator\": \"/\"}}, "
		"\"codecs\": [{\"name\": \"bytes\", \"configuration\": {\"endian\": \"little\"}}], "
		"\"fill_value\": 0}";
	json_error_t e;
	json_t *base = json_loads(fmt == 2 ? v2 : v3, 0, &e);
	json_t *over = json_loads(overrides, 0, &e);
	if (!base || !over)
		fail_msg("bad test JSON: %s: %s", e.text, overrides);
	const char *k;
	json_t *v;
	json_object_foreach(over, k, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), "__delete__") == 0)
			json_object_del(base, k);
		else
			json_object_set(base, k, v);
	}
	char *s = json_dumps(base, JSON_COMPACT);
	json_decref(base);
	json_decref(over);
	return s;
}

static void expect_error_text(const char *text, int fmt, int code, const char *s1, const char *s2)
{
	tess_meta m;
	int rc = tess_meta_parse(&m, text, strlen(text), fmt, "TEST");
	if (rc == 0)
		fail_msg("accepted: %s", text);
	const char *msg = tess_errmsg();
	if (rc != code)
		fail_msg("code %d, expected %d: %s\n%s", rc, code, msg, text);
	if (strncmp(msg, "TEST", 4) != 0)
		fail_msg("message does not name the source: %s", msg);
	if (s1 && !strstr(msg, s1))
		fail_msg("message lacks '%s': %s", s1, msg);
	if (s2 && !strstr(msg, s2))
		fail_msg("message lacks '%s': %s", s2, msg);
	/* nothing is left allocated in a failed parse */
	assert_null(m.fill);
	assert_null(m.pipeline.codecs);
}

static void expect_error(int fmt, const char *overrides, int code, const char *s1, const char *s2)
{
	char *text = doc(fmt, overrides);
	expect_error_text(text, fmt, code, s1, s2);
	free(text);
}

static void assert_bytes(const uint8_t *got, const char *hex)
{
	size_t n = strlen(hex) / 2;
	for (size_t i = 0; i < n; i++) {
		unsigned b;
		sscanf(hex + 2 * i, "%2x", &b);
		if (got[i] != b)
			fail_msg("byte %zu is %02x, expected %02x (want %s)", i, got[i], b, hex);
	}
}

/* Parse a v2 doc with this dtype and fill, check the stored bytes and what
 * is written back for the fill. */
static void check_v2_fill(const char *dtype, const char *fill, const char *hex, const char *written)
{
	char over[512];
	snprintf(over, sizeof over, "{\"dtype\": \"%s\", \"fill_value\": %s}", dtype, fill);
	char *text = doc(2, over);
	tess_meta m;
	parse_ok(&m, text, 2);
	assert_bytes(m.fill, hex);
	char *out = meta_text(&m);
	char want[512];
	snprintf(want, sizeof want, "\"fill_value\": %s,", written ? written : fill);
	if (!strstr(out, want))
		fail_msg("dtype %s fill %s: written without '%s':\n%s", dtype, fill, want, out);
	free(out);
	tess_meta_clear(&m);
	free(text);
}

static void check_v3_fill(const char *dtype, const char *codecs, const char *fill, const char *hex,
                          const char *written)
{
	char over[1024];
	snprintf(over, sizeof over, "{\"data_type\": \"%s\", \"codecs\": %s, \"fill_value\": %s}",
	         dtype, codecs, fill);
	char *text = doc(3, over);
	tess_meta m;
	parse_ok(&m, text, 3);
	assert_bytes(m.fill, hex);
	char *out = meta_text(&m);
	char want[512];
	snprintf(want, sizeof want, "\"fill_value\": %s,", written ? written : fill);
	if (!strstr(out, want))
		fail_msg("data_type %s fill %s: written without '%s':\n%s", dtype, fill, want, out);
	free(out);
	tess_meta_clear(&m);
	free(text);
}

/* parse -> write -> parse -> write gives the same text */
static void assert_stable(const tess_meta *m)
{
	char *a = meta_text(m);
	tess_meta again;
	parse_ok(&again, a, m->zarr_format);
	char *b = meta_text(&again);
	assert_string_equal(a, b);
	tess_meta copy;
	assert_int_equal(tess_meta_copy(&copy, &again), 0);
	char *c = meta_text(&copy);
	assert_string_equal(a, c);
	free(a);
	free(b);
	free(c);
	tess_meta_clear(&again);
	tess_meta_clear(&copy);
}

/* ---- dtypes ------------------------------------------------------------------- */

static void test_dtype_parse(void **state)
{
	(void)state;
	static const char *cases[][2] = {
		{"<f4", "<f4"},      {">f8", ">f8"},      {"|u1", "|u1"},       {"<u1", "|u1"},
		{">i1", "|i1"},      {"|b1", "|b1"},      {"b1", "|b1"},        {"<i8", "<i8"},
		{"=i2", "<i2"},      {"f2", "<f2"},       {">c16", ">c16"},     {"<c8", "<c8"},
		{"|S5", "|S5"},      {"S1", "|S1"},       {"<S3", "|S3"},       {"<U5", "<U5"},
		{">U2", ">U2"},      {"|U3", "<U3"},      {"float32", "<f4"},   {"uint8", "|u1"},
		{"int64", "<i8"},    {"bool", "|b1"},     {"complex128", "<c16"}, {"float16", "<f2"},
		{"uint64", "<u8"},   {"int8", "|i1"},     {"complex64", "<c8"}, {"float64", "<f8"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		tess_dtype dt;
		if (tess_dtype_parse(&dt, cases[i][0]) != 0)
			fail_msg("'%s' refused: %s", cases[i][0], tess_errmsg());
		char buf[24];
		assert_string_equal(tess_dtype_str(buf, sizeof buf, &dt), cases[i][1]);
		assert_int_equal(tess_dtype_check(&dt), 0);
	}
	tess_dtype dt;
	assert_int_equal(tess_dtype_parse(&dt, "<U4"), 0);
	assert_int_equal(dt.itemsize, 16);
	assert_int_equal(dt.kind, TESS_DT_UNICODE);
	static const char *bad[] = {"", "<f3", "<i3", "|b2", "<c4", "S0", "U0", "<M8[ns]", "|O",
	                            "float", "f4x", "<<f4", "S-1", "S99999999999", "U+5", "V8",
	                            "int128", "<f"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (tess_dtype_parse(&dt, bad[i]) != TESS_EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		if (!strstr(tess_errmsg(), "not a NumPy typestring"))
			fail_msg("message: %s", tess_errmsg());
	}
	assert_int_equal(tess_dtype_parse(&dt, NULL), TESS_EINVAL);
	tess_dtype odd = {TESS_DT_FLOAT, 3, '<'};
	char buf[24];
	assert_string_equal(tess_dtype_str(buf, sizeof buf, &odd), "invalid");
	assert_int_equal(tess_dtype_check(&odd), TESS_EINVAL);
	tess_dtype wrong_order = {TESS_DT_UINT, 1, '<'};
	assert_int_equal(tess_dtype_check(&wrong_order), TESS_EINVAL);
}

static void test_dtype_v3_names(void **state)
{
	(void)state;
	static const char *names[] = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16",
	                              "uint32", "uint64", "float16", "float32", "float64",
	                              "complex64", "complex128"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		tess_dtype dt;
		assert_int_equal(tess_dtype_from_v3(&dt, names[i], '>'), 0);
		assert_string_equal(tess_dtype_v3_name(&dt), names[i]);
		assert_int_equal(dt.endian, dt.itemsize == 1 ? '|' : '>');
	}
	tess_dtype dt;
	assert_int_equal(tess_dtype_from_v3(&dt, "<f4", '<'), TESS_ENOTFOUND);
	assert_int_equal(tess_dtype_from_v3(&dt, "string", '<'), TESS_ENOTFOUND);
	tess_dtype s = {TESS_DT_BYTES, 5, '|'};
	assert_null(tess_dtype_v3_name(&s));
}

/* ---- v2 ----------------------------------------------------------------------- */

static void test_v2_minimal(void **state)
{
	(void)state;
	char *text = doc(2, "{}");
	tess_meta m;
	parse_ok(&m, text, 2);
	assert_int_equal(m.zarr_format, 2);
	assert_int_equal(m.ndim, 2);
	assert_int_equal(m.shape[0], 10);
	assert_int_equal(m.shape[1], 20);
	assert_int_equal(m.chunks[1], 5);
	assert_int_equal(m.dtype.kind, TESS_DT_FLOAT);
	assert_int_equal(m.pipeline.endian, '<');
	assert_int_equal(m.pipeline.ncodecs, 0);
	assert_int_equal(m.pipeline.permuted, 0);
	assert_null(m.pipeline.shard);
	assert_int_equal(m.key_sep, '.');
	assert_string_equal(m.key_prefix, "");
	assert_int_equal(m.order, 'C');
	assert_null(m.attributes);
	assert_null(m.extra);
	char *out = meta_text(&m);
	assert_string_equal(out, "{\n    \"chunks\": [\n        5,\n        5\n    ],\n"
	                         "    \"compressor\": null,\n    \"dtype\": \"<f4\",\n"
	                         "    \"fill_value\": 0.0,\n    \"filters\": null,\n"
	                         "    \"order\": \"C\",\n    \"shape\": [\n        10,\n"
	                         "        20\n    ],\n    \"zarr_format\": 2\n}");
	free(out);
	assert_stable(&m);
	tess_meta_clear(&m);
	tess_meta_clear(&m); /* twice is harmless */
	free(text);
}

static void test_v2_order_sep_codecs(void **state)
{
	(void)state;
	char *text = doc(2, "{\"order\": \"F\", \"dimension_separator\": \"/\", \"shape\": [4, 5, 6], "
	                    "\"chunks\": [2, 2, 2], \"dtype\": \">i2\", "
	                    "\"compressor\": {\"id\": \"zstd\", \"level\": 3}, "
	                    "\"filters\": [{\"id\": \"delta\", \"dtype\": \">i2\", \"astype\": \">i2\"}], "
	                    "\"fill_value\": -2, \"unknown_member\": {\"kept\": true}}");
	tess_meta m;
	parse_ok(&m, text, 2);
	assert_int_equal(m.pipeline.permuted, 1);
	assert_int_equal(m.pipeline.perm[0], 2);
	assert_int_equal(m.pipeline.perm[2], 0);
	assert_int_equal(m.pipeline.endian, '>');
	assert_int_equal(m.pipeline.ncodecs, 2);
	assert_int_equal(m.nfilters, 1);
	assert_string_equal(m.pipeline.codecs[0]->ops->name, "delta");
	assert_string_equal(m.pipeline.codecs[1]->ops->name, "zstd");
	assert_int_equal(m.key_sep, '/');
	assert_int_equal(m.sep_explicit, 1);
	assert_bytes(m.fill, "fffe");
	assert_non_null(json_object_get(m.extra, "unknown_member"));
	char *out = meta_text(&m);
	assert_non_null(strstr(out, "\"dimension_separator\": \"/\","));
	assert_non_null(strstr(out, "\"order\": \"F\","));
	assert_non_null(strstr(out, "\"unknown_member\": {"));
	assert_non_null(strstr(out, "\"filters\": [\n        {\n            \"astype\": \">i2\""));
	free(out);
	assert_stable(&m);
	tess_meta_clear(&m);
	free(text);

	/* 1-d F order is identity, but written back as "F" */
	text = doc(2, "{\"order\": \"F\", \"shape\": [7], \"chunks\": [3]}");
	parse_ok(&m, text, 2);
	assert_int_equal(m.pipeline.permuted, 0);
	out = meta_text(&m);
	assert_non_null(strstr(out, "\"order\": \"F\""));
	free(out);
	tess_meta_clear(&m);
	free(text);

	/* "dimension_separator": null is the default, and not written back */
	text = doc(2, "{\"dimension_separator\": null}");
	parse_ok(&m, text, 2);
	assert_int_equal(m.key_sep, '.');
	assert_int_equal(m.sep_explicit, 0);
	tess_meta_clear(&m);
	free(text);
}

static void test_v2_fill_values(void **state)
{
	(void)state;
	check_v2_fill("<f4", "\"NaN\"", "0000c07f", NULL);
	check_v2_fill(">f4", "\"NaN\"", "7fc00000", NULL);
	check_v2_fill("<f8", "\"Infinity\"", "000000000000f07f", NULL);
	check_v2_fill(">f8", "\"-Infinity\"", "fff0000000000000", NULL);
	check_v2_fill("<f8", "0.1", "9a9999999999b93f", NULL);
	check_v2_fill("<f8", "1", "000000000000f03f", "1.0");
	check_v2_fill("<f8", "-0.0", "0000000000000080", NULL);
	check_v2_fill("<f8", "1e+20", "408cb5781daf1544", NULL);
	check_v2_fill("<f4", "0.1", "cdcccc3d", "0.10000000149011612");
	check_v2_fill("<f2", "0.1", "662e", "0.0999755859375");
	check_v2_fill(">f2", "0.1", "2e66", "0.0999755859375");
	check_v2_fill("<c8", "[\"NaN\", 1.0]", "0000c07f0000803f",
	              "[\n        \"NaN\",\n        1.0\n    ]");
	check_v2_fill(">c16", "[1.0, -2]", "3ff0000000000000c000000000000000",
	              "[\n        1.0,\n        -2.0\n    ]");
	check_v2_fill("<c16", "[\"-Infinity\", 0.5]", "000000000000f0ff000000000000e03f",
	              "[\n        \"-Infinity\",\n        0.5\n    ]");
	check_v2_fill("|b1", "true", "01", NULL);
	check_v2_fill("|b1", "false", "00", NULL);
	check_v2_fill("|b1", "1", "01", "true");
	check_v2_fill(">i2", "-2", "fffe", NULL);
	check_v2_fill("<i8", "-9223372036854775808", "0000000000000080", NULL);
	check_v2_fill("<i4", "3.0", "03000000", "3");
	check_v2_fill("|u1", "255", "ff", NULL);
	check_v2_fill(">u4", "4294967295", "ffffffff", NULL);
	check_v2_fill("|S5", "\"YWI=\"", "6162000000", NULL);
	check_v2_fill("|S3", "\"YQBi\"", "610062", NULL);
	check_v2_fill("|S3", "\"\"", "000000", NULL);
	check_v2_fill("|S2", "\"YWJj\"", "6162", "\"YWI=\""); /* cut to the itemsize */
	check_v2_fill("|S5", "\"hello!\"", "68656c6c6f", "\"aGVsbG8=\""); /* not base64: the text */
	check_v2_fill("|S5", "\"YW I=\"", "6162000000", "\"YWI=\""); /* skipped non-alphabet */
	check_v2_fill("|S5", "0", "3000000000", "\"MA==\"");  /* NumPy's bytes of 0 */
	check_v2_fill("<U3", "\"h\\u00e9\"", "68000000e900000000000000", NULL);
	check_v2_fill(">U2", "\"h\\u00e9\"", "00000068000000e9", NULL);
	check_v2_fill("<U2", "\"\\ud834\\udd1e\"", "1ed1010000000000", NULL);
	check_v2_fill("<U2", "\"hello\"", "6800000065000000", "\"he\"");
	check_v2_fill("<U2", "\"\"", "0000000000000000", NULL);
	check_v2_fill("<f4", "null", "00000000", NULL);

	/* half precision rounding, as NumPy rounds */
	static const char *halves[][2] = {
		{"65504", "ff7b"},  {"65520", "007c"},  {"65519.99", "ff7b"},
		{"1e-08", "0000"},  {"3e-08", "0100"},  {"2.9802322387695312e-08", "0000"},
		{"8.940696716308594e-08", "0200"}, {"-0.0", "0080"}, {"6.103515625e-05", "0004"},
		{"6.1e-05", "ff03"}, {"0.3333333333333333", "5535"}, {"2049.0", "0068"},
		{"2051.0", "0268"}, {"1e+300", "007c"},
	};
	for (size_t i = 0; i < sizeof halves / sizeof halves[0]; i++) {
		char over[128];
		snprintf(over, sizeof over, "{\"dtype\": \"<f2\", \"fill_value\": %s}", halves[i][0]);
		char *text = doc(2, over);
		tess_meta m;
		parse_ok(&m, text, 2);
		assert_bytes(m.fill, halves[i][1]);
		tess_meta_clear(&m);
		free(text);
	}

	/* null: reads as zeros, written back as null */
	char *text = doc(2, "{\"fill_value\": null}");
	tess_meta m;
	parse_ok(&m, text, 2);
	assert_int_equal(m.fill_null, 1);
	assert_bytes(m.fill, "00000000");
	tess_meta_clear(&m);
	free(text);
}

static void test_v2_big_uint64_fill(void **state)
{
	(void)state;
	const char *text = "{\"chunks\": [5], \"compressor\": null, \"dtype\": \"<u8\", "
	                   "\"fill_value\": 18446744073709551615, \"filters\": null, "
	                   "\"order\": \"C\", \"shape\": [10], \"zarr_format\": 2}";
	tess_meta m;
	parse_ok(&m, text, 2);
	assert_bytes(m.fill, "ffffffffffffffff");
	char *out = meta_text(&m);
	assert_non_null(strstr(out, "\"fill_value\": 18446744073709551615,\n"));
	free(out);
	assert_stable(&m);
	tess_meta_clear(&m);
	/* a big number where a small one belongs is named in the message */
	expect_error_text("{\"chunks\": [5], \"compressor\": null, \"dtype\": \"<u8\", "
	                  "\"fill_value\": 0, \"filters\": null, \"order\": \"C\", "
	                  "\"shape\": [18446744073709551615], \"zarr_format\": 2}",
	                  2, TESS_ECORRUPT, "\"shape\"[0]", "18446744073709551615");
	expect_error_text("{\"chunks\": [5], \"compressor\": null, \"dtype\": \"|u1\", "
	                  "\"fill_value\": 18446744073709551615, \"filters\": null, "
	                  "\"order\": \"C\", \"shape\": [10], \"zarr_format\": 2}",
	                  2, TESS_ECORRUPT, "out of range for uint8", NULL);
	/* a number beyond uint64 is not JSON we can read */
	expect_error_text("{\"chunks\": [5], \"compressor\": null, \"dtype\": \"<u8\", "
	                  "\"fill_value\": 18446744073709551616, \"filters\": null, "
	                  "\"order\": \"C\", \"shape\": [10], \"zarr_format\": 2}",
	                  2, TESS_ECORRUPT, "not valid JSON", NULL);
}

static void test_v2_errors(void **state)
{
	(void)state;
	const int C = TESS_ECORRUPT, N = TESS_ENOTSUP;
	expect_error(2, "{\"shape\": \"__delete__\"}", C, "\"shape\" is missing", NULL);
	expect_error(2, "{\"shape\": 5}", C, "\"shape\": expected a list of integers, got 5", NULL);
	expect_error(2, "{\"shape\": [10, -1]}", C, "\"shape\"[1]: expected an integer >= 0, got -1", NULL);
	expect_error(2, "{\"shape\": [10, 2.5]}", C, "\"shape\"[1]", "got 2.5");
	expect_error(2, "{\"shape\": [10, \"3\"]}", C, "\"shape\"[1]", "got \"3\"");
	expect_error(2, "{\"shape\": [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1], "
	                "\"chunks\": [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}",
	             C, "33 dimensions, at most 32", NULL);
	expect_error(2, "{\"chunks\": [5, 0]}", C, "\"chunks\"[1]: expected an integer >= 1, got 0", NULL);
	expect_error(2, "{\"chunks\": [5, -5]}", C, "\"chunks\"[1]", "got -5");
	expect_error(2, "{\"chunks\": [5]}", C, "\"chunks\" [5] has 1 dimensions, \"shape\" [10, 20] has 2",
	             NULL);
	expect_error(2, "{\"chunks\": null}", C, "\"chunks\": expected a list", NULL);
	expect_error(2, "{\"dtype\": \"__delete__\"}", C, "\"dtype\" is missing", NULL);
	expect_error(2, "{\"dtype\": \"<M8[ns]\"}", N, "dtype \"<M8[ns]\" is not supported", NULL);
	expect_error(2, "{\"dtype\": \"|O\"}", N, "\"|O\"", "not supported");
	expect_error(2, "{\"dtype\": [[\"a\", \"<i4\"]]}", N, "structured dtypes", NULL);
	expect_error(2, "{\"dtype\": 5}", C, "\"dtype\": expected a NumPy typestring, got 5", NULL);
	expect_error(2, "{\"order\": \"X\"}", C, "\"order\": expected \"C\" or \"F\", got \"X\"", NULL);
	expect_error(2, "{\"order\": \"__delete__\"}", C, "\"order\" is missing", NULL);
	expect_error(2, "{\"order\": 1}", C, "\"order\": expected a string, got 1", NULL);
	expect_error(2, "{\"dimension_separator\": \"-\"}", C,
	             "\"dimension_separator\": expected \".\" or \"/\", got \"-\"", NULL);
	expect_error(2, "{\"compressor\": \"__delete__\"}", C, "\"compressor\" is missing", NULL);
	expect_error(2, "{\"compressor\": 5}", C, "compressor: expected a codec object", NULL);
	expect_error(2, "{\"compressor\": {\"id\": \"bz2\"}}", N, "compressor", "bz2");
	expect_error(2, "{\"compressor\": {\"id\": \"blosc\", \"cname\": \"lz4\", \"clevel\": 99, "
	                "\"shuffle\": 1, \"blocksize\": 0}}", TESS_EINVAL, "compressor", "clevel");
	expect_error(2, "{\"filters\": \"__delete__\"}", C, "\"filters\" is missing", NULL);
	expect_error(2, "{\"filters\": {\"id\": \"delta\"}}", C, "\"filters\": expected null or a list", NULL);
	expect_error(2, "{\"filters\": [{\"id\": \"nope\"}]}", N, "filters[0]", "nope");
	expect_error(2, "{\"fill_value\": \"__delete__\"}", C, "fill_value is missing", NULL);
	expect_error(2, "{\"fill_value\": \"abc\"}", C, "fill_value: expected a number", "got \"abc\"");
	expect_error(2, "{\"fill_value\": true}", C, "fill_value: expected a number", "got true");
	expect_error(2, "{\"fill_value\": \"0x7fc00000\"}", C, "fill_value: expected a number", NULL);
	expect_error(2, "{\"dtype\": \"|u1\", \"fill_value\": 300}", C, "300 is out of range for uint8", NULL);
	expect_error(2, "{\"dtype\": \"<u2\", \"fill_value\": -1}", C, "-1 is out of range for uint16", NULL);
	expect_error(2, "{\"dtype\": \"|i1\", \"fill_value\": -129}", C, "out of range for int8", NULL);
	expect_error(2, "{\"dtype\": \"<i4\", \"fill_value\": 1.5}", C, "expected an integer", "got 1.5");
	expect_error(2, "{\"dtype\": \"|b1\", \"fill_value\": \"x\"}", C, "expected true or false", NULL);
	expect_error(2, "{\"dtype\": \"|b1\", \"fill_value\": 2}", C, "expected true or false", NULL);
	expect_error(2, "{\"dtype\": \"<c8\", \"fill_value\": 1.0}", C, "expected [real, imag]", NULL);
	expect_error(2, "{\"dtype\": \"<c8\", \"fill_value\": [1.0]}", C, "expected [real, imag]", NULL);
	expect_error(2, "{\"dtype\": \"<c8\", \"fill_value\": [1.0, \"x\"]}", C, "fill_value[1]", NULL);
	expect_error(2, "{\"dtype\": \"|S3\", \"fill_value\": true}", C, "expected a base64 string", NULL);
	expect_error(2, "{\"dtype\": \"|S3\", \"fill_value\": \"\\u00e9\"}", C, "neither base64 nor ASCII",
	             NULL);
	expect_error(2, "{\"dtype\": \"<U3\", \"fill_value\": [1]}", C, "expected a string", NULL);
	expect_error(2, "{\"shape\": [4611686018427387904, 4], \"dtype\": \"<f8\"}", C,
	             "size in bytes overflows 64 bits", "[4611686018427387904, 4]");
	expect_error(2, "{\"shape\": [65536, 65536], \"chunks\": [65536, 65536], \"dtype\": \"<f8\"}", C,
	             "chunk shape [65536, 65536] of <f8 is more than 2147483648 bytes", NULL);
	expect_error(2, "{\"zarr_format\": 3}", C, "\"zarr_format\" is 3, expected 2", NULL);
	expect_error(2, "{\"zarr_format\": 4}", N, "\"zarr_format\" 4 is not supported", NULL);
	expect_error(2, "{\"zarr_format\": \"2\"}", N, "\"zarr_format\" \"2\" is not supported", NULL);
	expect_error(2, "{\"zarr_format\": \"__delete__\"}", C, "\"zarr_format\" is missing", NULL);
	expect_error_text("{", 2, C, "not valid JSON", "line 1");
	expect_error_text("", 2, C, "not valid JSON", NULL);
	expect_error_text("[1, 2]", 2, C, "expected a JSON object, got [1,2]", NULL);
	expect_error_text("{\"a\": 1} x", 2, C, "not valid JSON", NULL);
	tess_meta m;
	assert_int_equal(tess_meta_parse(&m, "{}", 2, 5, "TEST"), TESS_EINVAL);
}

/* ---- v3 ----------------------------------------------------------------------- */

static void test_v3_minimal(void **state)
{
	(void)state;
	char *text = doc(3, "{}");
	tess_meta m;
	parse_ok(&m, text, 3);
	assert_int_equal(m.zarr_format, 3);
	assert_int_equal(m.ndim, 2);
	assert_int_equal(m.dtype.kind, TESS_DT_FLOAT);
	assert_int_equal(m.dtype.endian, '<');
	assert_int_equal(m.pipeline.endian, '<');
	assert_string_equal(m.key_prefix, "c/");
	assert_int_equal(m.key_sep, '/');
	assert_int_equal(m.order, 'C');
	assert_non_null(m.attributes);
	char *out = meta_text(&m);
	assert_string_equal(
		out,
		"{\n    \"attributes\": {},\n    \"chunk_grid\": {\n        \"configuration\": {\n"
		"            \"chunk_shape\": [\n                5,\n                5\n            ]\n"
		"        },\n        \"name\": \"regular\"\n    },\n    \"chunk_key_encoding\": {\n"
		"        \"configuration\": {\n            \"separator\": \"/\"\n        },\n"
		"        \"name\": \"default\"\n    },\n    \"codecs\": [\n        {\n"
		"            \"configuration\": {\n                \"endian\": \"little\"\n"
		"            },\n            \"name\": \"bytes\"\n        }\n    ],\n"
		"    \"data_type\": \"float32\",\n    \"fill_value\": 0.0,\n"
		"    \"node_type\": \"array\",\n    \"shape\": [\n        10,\n        20\n    ],\n"
		"    \"storage_transformers\": [],\n    \"zarr_format\": 3\n}");
	free(out);
	assert_stable(&m);
	tess_meta_clear(&m);
	free(text);
}

static void test_v3_fill_values(void **state)
{
	(void)state;
	const char *le = "[{\"name\": \"bytes\", \"configuration\": {\"endian\": \"little\"}}]";
	const char *be = "[{\"name\": \"bytes\", \"configuration\": {\"endian\": \"big\"}}]";
	const char *one = "[{\"name\": \"bytes\"}]";
	check_v3_fill("float32", le, "\"NaN\"", "0000c07f", NULL);
	check_v3_fill("float32", le, "\"0x7fc00000\"", "0000c07f", "\"NaN\"");
	check_v3_fill("float32", le, "\"0x7fc00001\"", "0100c07f", NULL);
	check_v3_fill("float32", le, "\"0xFFC00000\"", "0000c0ff", "\"0xffc00000\"");
	check_v3_fill("float32", le, "\"0x3f800000\"", "0000803f", "1.0");
	check_v3_fill("float32", be, "1.0", "3f800000", NULL);
	check_v3_fill("float64", be, "\"-Infinity\"", "fff0000000000000", NULL);
	check_v3_fill("float64", le, "\"0x7ff8000000000001\"", "010000000000f87f", NULL);
	check_v3_fill("float16", le, "\"0x7e00\"", "007e", "\"NaN\"");
	check_v3_fill("float16", le, "\"0x7e01\"", "017e", NULL);
	check_v3_fill("float16", le, "0.1", "662e", "0.0999755859375");
	check_v3_fill("complex64", le, "[\"NaN\", \"0x3f800000\"]", "0000c07f0000803f",
	              "[\n        \"NaN\",\n        1.0\n    ]");
	check_v3_fill("complex128", be, "[1, 2]", "3ff00000000000004000000000000000",
	              "[\n        1.0,\n        2.0\n    ]");
	check_v3_fill("bool", one, "true", "01", NULL);
	check_v3_fill("int8", one, "-128", "80", NULL);
	check_v3_fill("uint8", one, "255", "ff", NULL);
	check_v3_fill("int16", be, "-2", "fffe", NULL);
	check_v3_fill("uint32", le, "4294967295", "ffffffff", NULL);
	check_v3_fill("int64", le, "-1", "ffffffffffffffff", NULL);
}

static void test_v3_big_endian_and_keys(void **state)
{
	(void)state;
	char *text = doc(3, "{\"data_type\": \"int32\", \"fill_value\": 1, "
	                    "\"codecs\": [{\"name\": \"bytes\", \"configuration\": {\"endian\": \"big\"}}], "
	                    "\"chunk_key_encoding\": {\"name\": \"v2\"}}");
	tess_meta m;
	parse_ok(&m, text, 3);
	/* v3 dtypes have no byte order: the caller's is little, the stored big */
	assert_int_equal(m.dtype.endian, '<');
	assert_int_equal(m.pipeline.endian, '>');
	assert_bytes(m.fill, "00000001");
	assert_string_equal(m.key_prefix, "");
	assert_int_equal(m.key_sep, '.');
	char *out = meta_text(&m);
	assert_non_null(strstr(out, "\"endian\": \"big\""));
	assert_non_null(strstr(out, "\"name\": \"v2\""));
	assert_non_null(strstr(out, "\"separator\": \".\""));
	free(out);
	assert_stable(&m);
	tess_meta_clear(&m);
	free(text);

	/* short-hand names, default separator, 1-byte type with explicit endian */
	text = doc(3, "{\"data_type\": \"uint8\", \"chunk_key_encoding\": \"default\", "
	              "\"codecs\": [{\"name\": \"bytes\", \"configuration\": {\"endian\": \"little\"}}, "
	              "\"crc32c\"], \"dimension_names\": [\"y\", null]}");
	parse_ok(&m, text, 3);
	assert_int_equal(m.dtype.endian, '|');
	assert_int_equal(m.pipeline.endian, '<');
	assert_int_equal(m.pipeline.ncodecs, 1);
	assert_string_equal(m.pipeline.codecs[0]->ops->name, "crc32c");
	assert_string_equal(m.key_prefix, "c/");
	assert_string_equal(m.dimension_names[0], "y");
	assert_null(m.dimension_names[1]);
	out = meta_text(&m);
	assert_non_null(strstr(out, "\"dimension_names\": [\n        \"y\",\n        null\n    ],"));
	free(out);
	assert_stable(&m);
	tess_meta_clear(&m);
	free(text);
}

static void test_v3_extensions(void **state)
{
	(void)state;
	char *text = doc(3, "{\"ext\": {\"must_understand\": false, \"x\": 18}, "
	                    "\"attributes\": {\"a\": [1, 2], \"b\": \"\\u00e9\"}}");
	tess_meta m;
	parse_ok(&m, text, 3);
	assert_non_null(json_object_get(m.extra, "ext"));
	char *out = meta_text(&m);
	assert_non_null(strstr(out, "\"ext\": {\n        \"must_understand\": false,\n        \"x\": 18\n"));
	assert_non_null(strstr(out, "\"b\": \"\\u00e9\""));
	free(out);
	assert_stable(&m);
	tess_meta_clear(&m);
	free(text);

	/* every member that must be understood is named */
	expect_error(3, "{\"foo\": 1, \"bar\": {\"must_understand\": true}, \"baz\": {\"x\": 1}}",
	             TESS_ENOTSUP, "'foo'", "'baz'");
	expect_error(3, "{\"foo\": 1, \"bar\": {\"must_understand\": true}}", TESS_ENOTSUP, "'bar'",
	             "must be understood");

	/* big integers in attributes survive a rewrite */
	const char *big = "{\"zarr_format\": 3, \"node_type\": \"array\", \"shape\": [4], "
	                  "\"data_type\": \"uint64\", \"chunk_grid\": {\"name\": \"regular\", "
	                  "\"configuration\": {\"chunk_shape\": [4]}}, \"chunk_key_encoding\": "
	                  "{\"name\": \"default\"}, \"codecs\": [{\"name\": \"bytes\", "
	                  "\"configuration\": {\"endian\": \"little\"}}], "
	                  "\"fill_value\": 18446744073709551615, "
	                  "\"attributes\": {\"n\": 18446744073709551614, \"s\": \"x\\\"\\u0000u64:1\"}}";
	parse_ok(&m, big, 3);
	assert_bytes(m.fill, "ffffffffffffffff");
	out = meta_text(&m);
	assert_non_null(strstr(out, "\"n\": 18446744073709551614,"));
	assert_non_null(strstr(out, "\"s\": \"x\\\"\\u0000u64:1\""));
	assert_non_null(strstr(out, "\"fill_value\": 18446744073709551615,"));
	free(out);
	assert_stable(&m);
	tess_meta_clear(&m);
}

static void test_v3_sharding(void **state)
{
	(void)state;
	char *text = doc(3, "{\"shape\": [100, 80], \"chunk_grid\": {\"name\": \"regular\", "
	                    "\"configuration\": {\"chunk_shape\": [20, 40]}}, "
	                    "\"codecs\": [{\"name\": \"sharding_indexed\", \"configuration\": {"
	                    "\"chunk_shape\": [10, 20], "
	                    "\"codecs\": [{\"name\": \"transpose\", \"configuration\": {\"order\": [1, 0]}}, "
	                    "{\"name\": \"bytes\", \"configuration\": {\"endian\": \"big\"}}, "
	                    "{\"name\": \"gzip\", \"configuration\": {\"level\": 5}}], "
	                    "\"index_codecs\": [{\"name\": \"bytes\", \"configuration\": {\"endian\": \"little\"}}, "
	                    "{\"name\": \"crc32c\"}], \"index_location\": \"start\"}}]}");
	tess_meta m;
	parse_ok(&m, text, 3);
	const tess_shard_spec *sh = m.pipeline.shard;
	assert_non_null(sh);
	assert_int_equal(m.chunks[0], 20);
	assert_int_equal(m.chunks[1], 40);
	assert_int_equal(sh->inner[0], 10);
	assert_int_equal(sh->inner[1], 20);
	assert_int_equal(sh->index_at_start, 1);
	assert_int_equal(sh->inner_pipeline.permuted, 1);
	assert_int_equal(sh->inner_pipeline.perm[0], 1);
	assert_int_equal(sh->inner_pipeline.endian, '>');
	assert_int_equal(sh->inner_pipeline.ncodecs, 1);
	assert_string_equal(sh->inner_pipeline.codecs[0]->ops->name, "gzip");
	assert_int_equal(sh->index_pipeline.endian, '<');
	assert_int_equal(sh->index_pipeline.ncodecs, 1);
	assert_string_equal(sh->index_pipeline.codecs[0]->ops->name, "crc32c");
	assert_int_equal(m.pipeline.endian, '>');
	assert_int_equal(m.pipeline.ncodecs, 0);
	assert_int_equal(m.pipeline.permuted, 0);
	assert_int_equal(m.dtype.endian, '<');
	assert_stable(&m);
	tess_meta_clear(&m);
	free(text);

	/* index_location defaults to end */
	text = doc(3, "{\"codecs\": [{\"name\": \"sharding_indexed\", \"configuration\": {"
	              "\"chunk_shape\": [5, 1], \"codecs\": [{\"name\": \"bytes\", \"configuration\": "
	              "{\"endian\": \"little\"}}], \"index_codecs\": [{\"name\": \"bytes\", "
	              "\"configuration\": {\"endian\": \"little\"}}]}}]}");
	parse_ok(&m, text, 3);
	assert_int_equal(m.pipeline.shard->index_at_start, 0);
	assert_int_equal(m.pipeline.shard->index_pipeline.ncodecs, 0);
	char *out = meta_text(&m);
	assert_non_null(strstr(out, "\"index_location\": \"end\""));
	free(out);
	tess_meta_clear(&m);
	free(text);
}

#define SHARD(inner, codecs, index, extra)                                                    \
	"{\"codecs\": [{\"name\": \"sharding_indexed\", \"configuration\": {\"chunk_shape\": " inner \
	", \"codecs\": " codecs ", \"index_codecs\": " index extra "}}]}"
#define LE "{\"name\": \"bytes\", \"configuration\": {\"endian\": \"little\"}}"
#define SHARD_INNER                                                                        \
	"{\"name\": \"sharding_indexed\", \"configuration\": {\"chunk_shape\": [5, 5], "         \
	"\"codecs\": [" LE "], \"index_codecs\": [" LE "]}}"

static void test_v3_errors(void **state)
{
	(void)state;
	const int C = TESS_ECORRUPT, N = TESS_ENOTSUP;
	expect_error(3, "{\"node_type\": \"__delete__\"}", C, "\"node_type\" is missing", NULL);
	expect_error(3, "{\"node_type\": \"group\"}", TESS_ENOTFOUND, "not an array", NULL);
	expect_error(3, "{\"node_type\": \"thing\"}", C, "expected \"array\", got \"thing\"", NULL);
	expect_error(3, "{\"zarr_format\": 2}", C, "\"zarr_format\" is 2, expected 3", NULL);
	expect_error(3, "{\"storage_transformers\": [{\"name\": \"x\"}]}", N, "storage_transformers",
	             "\"x\"");
	expect_error(3, "{\"storage_transformers\": \"x\"}", C, "\"storage_transformers\": expected a list",
	             NULL);
	expect_error(3, "{\"shape\": [10, -20]}", C, "\"shape\"[1]", "got -20");
	expect_error(3, "{\"data_type\": \"__delete__\"}", C, "\"data_type\" is missing", NULL);
	expect_error(3, "{\"data_type\": \"string\"}", N, "data_type \"string\" is not supported", NULL);
	expect_error(3, "{\"data_type\": \"<f4\"}", N, "data_type \"<f4\"", NULL);
	expect_error(3, "{\"data_type\": {\"name\": \"float32\", \"configuration\": {\"a\": 1}}}", N,
	             "data_type", "not supported");
	expect_error(3, "{\"data_type\": 5}", C, "\"data_type\": expected a name or an object", NULL);
	expect_error(3, "{\"chunk_grid\": {\"name\": \"rectilinear\", \"configuration\": {}}}", N,
	             "chunk_grid \"rectilinear\" is not supported", NULL);
	expect_error(3, "{\"chunk_grid\": {\"name\": \"regular\"}}", C, "has no configuration", NULL);
	expect_error(3, "{\"chunk_grid\": \"regular\"}", C, "has no configuration", NULL);
	expect_error(3, "{\"chunk_grid\": \"__delete__\"}", C, "\"chunk_grid\" is missing", NULL);
	expect_error(3, "{\"chunk_grid\": {\"name\": \"regular\", \"configuration\": {\"chunk_shape\": [5]}}}",
	             C, "chunk_shape [5] has 1 dimensions, shape [10, 20] has 2", NULL);
	expect_error(3, "{\"chunk_grid\": {\"name\": \"regular\", \"configuration\": {\"chunk_shape\": [0, 5]}}}",
	             C, "chunk_grid.configuration.chunk_shape\"[0]: expected an integer >= 1, got 0", NULL);
	expect_error(3, "{\"chunk_grid\": {\"name\": \"regular\", \"configuration\": "
	                "{\"chunk_shape\": [5, 5], \"extra\": 1}}}",
	             N, "member \"extra\" is not understood", NULL);
	expect_error(3, "{\"chunk_key_encoding\": {\"name\": \"weird\"}}", N,
	             "chunk_key_encoding \"weird\" is not supported", NULL);
	expect_error(3, "{\"chunk_key_encoding\": {\"name\": \"default\", \"configuration\": "
	                "{\"separator\": \"-\"}}}",
	             C, "separator: expected \".\" or \"/\", got \"-\"", NULL);
	expect_error(3, "{\"chunk_key_encoding\": \"__delete__\"}", C, "\"chunk_key_encoding\" is missing",
	             NULL);
	expect_error(3, "{\"codecs\": []}", C, "\"codecs\": expected a non-empty list", NULL);
	expect_error(3, "{\"codecs\": \"__delete__\"}", C, "\"codecs\" is missing", NULL);
	expect_error(3, "{\"codecs\": [{\"name\": \"gzip\", \"configuration\": {\"level\": 1}}, " LE "]}",
	             C, "codecs[0]: bytes-to-bytes codec 'gzip' comes before the array-to-bytes codec",
	             NULL);
	expect_error(3, "{\"codecs\": [" LE ", " LE "]}", C,
	             "codecs[1]: 'bytes' comes after the array-to-bytes codec", NULL);
	expect_error(3, "{\"codecs\": [{\"name\": \"transpose\", \"configuration\": {\"order\": [1, 0]}}]}",
	             C, "has no array-to-bytes codec", NULL);
	expect_error(3, "{\"codecs\": [{\"name\": \"bytes\"}]}", C, "codecs[0]: bytes needs \"endian\" for float32",
	             NULL);
	expect_error(3, "{\"codecs\": [{\"name\": \"bytes\", \"configuration\": {\"endian\": \"middle\"}}]}",
	             C, "expected \"little\" or \"big\", got \"middle\"", NULL);
	expect_error(3, "{\"codecs\": [{\"name\": \"zfp\"}]}", N, "codecs[0]: unknown codec 'zfp'", NULL);
	expect_error(3, "{\"codecs\": [" LE ", {\"name\": \"zfp\", \"must_understand\": false}]}", N,
	             "unknown codec 'zfp'", NULL);
	expect_error(3, "{\"codecs\": [" LE ", {\"name\": \"gzip\", \"configuration\": {\"level\": 42}}]}",
	             TESS_EINVAL, "codecs[1]", "level");
	expect_error(3, "{\"codecs\": [{\"name\": \"bytes\", \"configuration\": {\"endian\": \"little\"}, "
	                "\"foo\": 1}]}",
	             N, "codecs[0]: member \"foo\" is not understood", NULL);
	expect_error(3, "{\"codecs\": [{\"name\": \"transpose\", \"configuration\": {\"order\": [0, 0]}}, " LE "]}",
	             C, "transpose order [0,0] is not a permutation", NULL);
	expect_error(3, "{\"codecs\": [{\"name\": \"transpose\", \"configuration\": {\"order\": [0]}}, " LE "]}",
	             C, "transpose order [0] is not a permutation of 2 dimensions", NULL);
	expect_error(3, "{\"codecs\": [{\"name\": \"transpose\", \"configuration\": {\"order\": [0, 2]}}, " LE "]}",
	             C, "not a permutation of 0..1", NULL);
	expect_error(3, "{\"codecs\": [{\"name\": \"transpose\", \"configuration\": {\"order\": \"F\"}}, " LE "]}",
	             C, "transpose order \"F\"", NULL);
	expect_error(3, "{\"codecs\": [{\"name\": \"transpose\"}, " LE "]}", C,
	             "transpose has no configuration", NULL);
	expect_error(3, SHARD("[3, 5]", "[" LE "]", "[" LE "]", ""), C,
	             "inner chunk_shape [3, 5] does not divide the shard shape [5, 5]", NULL);
	expect_error(3, SHARD("[5]", "[" LE "]", "[" LE "]", ""), C, "has 1 dimensions, the array has 2",
	             NULL);
	expect_error(3, SHARD("[5, 5]", "[" SHARD_INNER "]", "[" LE "]", ""), N,
	             "nested sharding_indexed is not supported", NULL);
	expect_error(3, SHARD("[5, 5]", "[" LE "]", "[" LE ", {\"name\": \"gzip\"}]", ""), N,
	             "index_codecs[1]: codec 'gzip' is not supported in index_codecs", NULL);
	expect_error(3, SHARD("[5, 5]", "[" LE "]", "[{\"name\": \"bytes\"}]", ""), C,
	             "index_codecs[0]: bytes needs \"endian\" for uint64", NULL);
	expect_error(3, SHARD("[5, 5]", "[" LE "]", "[" LE "]", ", \"index_location\": \"middle\""), C,
	             "index_location: expected \"start\" or \"end\", got \"middle\"", NULL);
	expect_error(3, "{\"codecs\": [{\"name\": \"sharding_indexed\", \"configuration\": {\"chunk_shape\": "
	                "[5, 5], \"codecs\": [" LE "]}}]}",
	             C, "codecs[0].configuration.index_codecs\" is missing", NULL);
	expect_error(3, "{\"codecs\": [{\"name\": \"transpose\", \"configuration\": {\"order\": [1, 0]}}, "
	                "{\"name\": \"sharding_indexed\", \"configuration\": {\"chunk_shape\": [5, 5], "
	                "\"codecs\": [" LE "], \"index_codecs\": [" LE "]}}]}",
	             N, "transpose before sharding_indexed", NULL);
	expect_error(3, "{\"codecs\": [{\"name\": \"sharding_indexed\", \"configuration\": {\"chunk_shape\": "
	                "[5, 5], \"codecs\": [" LE "], \"index_codecs\": [" LE "]}}, {\"name\": \"crc32c\"}]}",
	             N, "codec 'crc32c' after sharding_indexed", NULL);
	expect_error(3, "{\"shape\": [33554432], \"chunk_grid\": {\"name\": \"regular\", \"configuration\": "
	                "{\"chunk_shape\": [33554432]}}, \"codecs\": [{\"name\": \"sharding_indexed\", "
	                "\"configuration\": {\"chunk_shape\": [1], \"codecs\": [" LE "], "
	                "\"index_codecs\": [" LE "]}}]}",
	             C, "holds more than 16777216 inner chunks", NULL);
	expect_error(3, "{\"dimension_names\": [\"a\"]}", C,
	             "\"dimension_names\": expected a list of 2 strings or nulls", NULL);
	expect_error(3, "{\"dimension_names\": [\"a\", 5]}", C, "\"dimension_names\"[1]", "got 5");
	expect_error(3, "{\"fill_value\": null}", C, "null is not a fill value of float32", NULL);
	expect_error(3, "{\"fill_value\": \"__delete__\"}", C, "fill_value is missing", NULL);
	expect_error(3, "{\"fill_value\": \"0x7fc000001\"}", C, "\"0x7fc000001\" is not a hex float of 4 bytes",
	             NULL);
	expect_error(3, "{\"fill_value\": \"0x\"}", C, "not a hex float", NULL);
	expect_error(3, "{\"fill_value\": \"nan\"}", C, "or \"0x...\" for float32, got \"nan\"", NULL);
	expect_error(3, "{\"data_type\": \"int32\", \"fill_value\": 1.0}", C, "expected an integer", NULL);
	expect_error(3, "{\"data_type\": \"uint8\", \"codecs\": [{\"name\": \"bytes\"}], \"fill_value\": 256}",
	             C, "256 is out of range for uint8", NULL);
	expect_error(3, "{\"data_type\": \"bool\", \"codecs\": [{\"name\": \"bytes\"}], \"fill_value\": 1}",
	             C, "expected true or false", NULL);
	expect_error(3, "{\"attributes\": []}", C, "\"attributes\": expected an object", NULL);
	expect_error(3, "{\"shape\": [65536, 65536], \"chunk_grid\": {\"name\": \"regular\", "
	                "\"configuration\": {\"chunk_shape\": [65536, 65536]}}}",
	             C, "chunk shape [65536, 65536] of <f4 is more than 2147483648 bytes", NULL);
}

/* ---- published examples ---------------------------------------------------------- */

static char *slurp(const char *name)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", data_dir, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	static char buf[65536];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strdup(buf);
}

/* The document we write means what the published one says: equal as JSON
 * once our normal form (storage_transformers [], explicit configurations)
 * is taken into account. */
static void assert_same_meaning(const char *published, const tess_meta *m)
{
	char *ours = meta_text(m);
	json_error_t e;
	json_t *a = json_loads(published, 0, &e), *b = json_loads(ours, 0, &e);
	assert_non_null(a);
	assert_non_null(b);
	if (!json_object_get(a, "storage_transformers"))
		json_object_set_new(a, "storage_transformers", json_array());
	if (!json_equal(a, b)) {
		char *as = json_dumps(a, JSON_SORT_KEYS | JSON_INDENT(1));
		fail_msg("published and written differ:\n%s\n---\n%s", as, ours);
	}
	json_decref(a);
	json_decref(b);
	free(ours);
}

static void test_v3_spec_core_example(void **state)
{
	(void)state;
	char *text = slurp("spec_core_example.json");
	tess_meta m;
	parse_ok(&m, text, 3);
	assert_int_equal(m.shape[0], 10000);
	assert_int_equal(m.chunks[1], 100);
	assert_int_equal(m.dtype.itemsize, 8);
	assert_bytes(m.fill, "000000000000f87f");
	assert_string_equal(m.dimension_names[1], "columns");
	assert_int_equal(json_integer_value(json_object_get(m.attributes, "foo")), 42);
	uint64_t idx[2] = {1, 23};
	char key[TESS_KEY_MAX];
	tess_meta_chunk_key(key, sizeof key, &m, idx);
	assert_string_equal(key, "c/1/23");
	assert_same_meaning(text, &m);
	assert_stable(&m);
	tess_meta_clear(&m);
	free(text);
}

static void test_v3_published_examples(void **state)
{
	(void)state;
	tess_meta m;
	char *text = slurp("zarrs_sharded_uint16.json");
	parse_ok(&m, text, 3);
	assert_non_null(m.pipeline.shard);
	assert_int_equal(m.chunks[0], 4);
	assert_int_equal(m.chunks[1], 8);
	assert_int_equal(m.pipeline.shard->inner[1], 4);
	assert_string_equal(m.pipeline.shard->inner_pipeline.codecs[0]->ops->name, "gzip");
	assert_string_equal(m.pipeline.shard->index_pipeline.codecs[0]->ops->name, "crc32c");
	assert_int_equal(m.pipeline.shard->index_at_start, 0);
	assert_same_meaning(text, &m);
	assert_stable(&m);
	tess_meta_clear(&m);
	free(text);

	text = slurp("zarrs_blosc_transpose_v2keys.json");
	parse_ok(&m, text, 3);
	assert_int_equal(m.pipeline.permuted, 1);
	assert_int_equal(m.pipeline.perm[0], 1);
	assert_string_equal(m.key_prefix, "");
	uint64_t idx[2] = {1, 0};
	char key[TESS_KEY_MAX];
	tess_meta_chunk_key(key, sizeof key, &m, idx);
	assert_string_equal(key, "1.0");
	assert_same_meaning(text, &m);
	assert_stable(&m);
	tess_meta_clear(&m);
	free(text);

	static const char *plain[] = {"zarrs_gzip_v2keys.json", "zarr_python_blosc.json",
	                              "zarr_python_zstd.json"};
	for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
		text = slurp(plain[i]);
		parse_ok(&m, text, 3);
		assert_int_equal(m.pipeline.ncodecs, 1);
		assert_same_meaning(text, &m);
		assert_stable(&m);
		tess_meta_clear(&m);
		free(text);
	}
}

/* ---- chunk keys ----------------------------------------------------------------- */

static void check_key(const char *text, int fmt, const uint64_t *idx, const char *want)
{
	tess_meta m;
	parse_ok(&m, text, fmt);
	char key[TESS_KEY_MAX];
	size_t n = tess_meta_chunk_key(key, sizeof key, &m, idx);
	assert_string_equal(key, want);
	assert_int_equal(n, strlen(want));
	char small[4];
	assert_int_equal(tess_meta_chunk_key(small, sizeof small, &m, idx), strlen(want));
	assert_int_equal(strlen(small), strlen(want) < 3 ? strlen(want) : 3);
	tess_meta_clear(&m);
}

static void test_chunk_keys(void **state)
{
	(void)state;
	uint64_t idx[3] = {1, 23, 45};
	char *t = doc(2, "{}");
	check_key(t, 2, idx, "1.23");
	free(t);
	t = doc(2, "{\"dimension_separator\": \"/\"}");
	check_key(t, 2, idx, "1/23");
	free(t);
	t = doc(2, "{\"shape\": [], \"chunks\": []}");
	check_key(t, 2, idx, "0");
	free(t);
	t = doc(3, "{}");
	check_key(t, 3, idx, "c/1/23");
	free(t);
	t = doc(3, "{\"chunk_key_encoding\": {\"name\": \"default\", \"configuration\": {\"separator\": \".\"}}}");
	check_key(t, 3, idx, "c.1.23");
	free(t);
	t = doc(3, "{\"chunk_key_encoding\": {\"name\": \"v2\", \"configuration\": {\"separator\": \"/\"}}}");
	check_key(t, 3, idx, "1/23");
	free(t);
	t = doc(3, "{\"shape\": [], \"chunk_grid\": {\"name\": \"regular\", \"configuration\": "
	           "{\"chunk_shape\": []}}}");
	check_key(t, 3, idx, "c");
	free(t);
	t = doc(3, "{\"shape\": [], \"chunk_grid\": {\"name\": \"regular\", \"configuration\": "
	           "{\"chunk_shape\": []}}, \"chunk_key_encoding\": {\"name\": \"v2\"}}");
	check_key(t, 3, idx, "0");
	free(t);
	uint64_t big[3] = {UINT64_MAX, 0, 7};
	t = doc(3, "{\"shape\": [1, 1, 1], \"chunk_grid\": {\"name\": \"regular\", \"configuration\": "
	           "{\"chunk_shape\": [1, 1, 1]}}}");
	check_key(t, 3, big, "c/18446744073709551615/0/7");
	free(t);
}

/* ---- creation options --------------------------------------------------------------- */

static int from_opts(tess_meta *m, tess_array_opts *o, const char *dtype)
{
	if (dtype && tess_dtype_parse(&o->dtype, dtype) != 0)
		fail_msg("dtype %s", dtype);
	return tess_meta_from_opts(m, o);
}

static void test_opts_v2(void **state)
{
	(void)state;
	tess_array_opts o = TESS_ARRAY_OPTS_INIT;
	o.ndim = 2;
	o.shape[0] = 100;
	o.shape[1] = 0;
	o.chunks[0] = 0;
	o.chunks[1] = 0;
	tess_meta m;
	assert_int_equal(from_opts(&m, &o, "<f4"), 0);
	assert_int_equal(m.chunks[0], 100); /* whole extent */
	assert_int_equal(m.chunks[1], 1);   /* of an empty dimension */
	assert_int_equal(m.pipeline.ncodecs, 1);
	char *out = meta_text(&m);
	assert_non_null(strstr(out, "\"compressor\": {\n        \"blocksize\": 0,\n        \"clevel\": 5,\n"
	                            "        \"cname\": \"lz4\",\n        \"id\": \"blosc\",\n"
	                            "        \"shuffle\": 1\n    },"));
	assert_non_null(strstr(out, "\"fill_value\": 0.0,"));
	assert_null(strstr(out, "dimension_separator"));
	free(out);
	assert_stable(&m);
	tess_meta_clear(&m);

	o.codec = "none";
	o.fill = "\"NaN\"";
	o.order = 'F';
	o.dimension_separator = '/';
	assert_int_equal(from_opts(&m, &o, ">f8"), 0);
	assert_int_equal(m.pipeline.ncodecs, 0);
	assert_int_equal(m.pipeline.permuted, 1);
	assert_int_equal(m.pipeline.endian, '>');
	assert_bytes(m.fill, "7ff8000000000000");
	out = meta_text(&m);
	assert_non_null(strstr(out, "\"dimension_separator\": \"/\","));
	assert_non_null(strstr(out, "\"order\": \"F\","));
	assert_non_null(strstr(out, "\"compressor\": null,"));
	free(out);
	tess_meta_clear(&m);

	o.codec = "zstd:7";
	o.fill = "null";
	assert_int_equal(from_opts(&m, &o, "|S4"), 0);
	assert_int_equal(m.fill_null, 1);
	out = meta_text(&m);
	assert_non_null(strstr(out, "\"id\": \"zstd\",\n        \"level\": 7"));
	assert_non_null(strstr(out, "\"fill_value\": null,"));
	free(out);
	tess_meta_clear(&m);

	/* 0-d */
	tess_array_opts z = TESS_ARRAY_OPTS_INIT;
	assert_int_equal(from_opts(&m, &z, "|u1"), 0);
	out = meta_text(&m);
	assert_non_null(strstr(out, "\"chunks\": [],"));
	assert_non_null(strstr(out, "\"compressor\": null,")); /* as zarr-python */
	free(out);
	tess_meta_clear(&m);

	/* a dtype given with the wrong order for its size is normalized */
	tess_array_opts n = TESS_ARRAY_OPTS_INIT;
	n.ndim = 1;
	n.shape[0] = 4;
	n.dtype.kind = TESS_DT_UINT;
	n.dtype.itemsize = 1;
	n.dtype.endian = '<';
	assert_int_equal(tess_meta_from_opts(&m, &n), 0);
	assert_int_equal(m.dtype.endian, '|');
	tess_meta_clear(&m);
}

static void test_opts_v3(void **state)
{
	(void)state;
	tess_array_opts o = TESS_ARRAY_OPTS_INIT;
	o.zarr_format = 3;
	o.ndim = 3;
	o.shape[0] = 1024;
	o.shape[1] = 1000;
	o.shape[2] = 7;
	o.chunks[0] = 32;
	o.chunks[1] = 32;
	o.chunks[2] = 0;
	o.shard[0] = 256;
	o.shard[1] = 0;
	o.shard[2] = 0;
	o.codec = "zstd:3";
	o.fill = "\"0x7fc00001\"";
	o.order = 'F';
	static const char *const names[] = {"z", NULL, "x"};
	o.dimension_names = names;
	tess_meta m;
	assert_int_equal(from_opts(&m, &o, ">f4"), 0);
	assert_int_equal(m.dtype.endian, '<');
	assert_int_equal(m.pipeline.endian, '>');
	assert_bytes(m.fill, "7fc00001");
	assert_int_equal(m.chunks[0], 256);
	assert_int_equal(m.chunks[1], 1024); /* whole extent, rounded up to inner chunks */
	assert_int_equal(m.chunks[2], 7);
	const tess_shard_spec *sh = m.pipeline.shard;
	assert_non_null(sh);
	assert_int_equal(sh->inner[0], 32);
	assert_int_equal(sh->inner[2], 7);
	assert_int_equal(sh->inner_pipeline.permuted, 1);
	assert_int_equal(sh->inner_pipeline.perm[0], 2);
	assert_int_equal(sh->inner_pipeline.ncodecs, 1);
	assert_int_equal(sh->index_pipeline.ncodecs, 1);
	assert_int_equal(sh->index_at_start, 0);
	char *out = meta_text(&m);
	assert_non_null(strstr(out, "\"name\": \"transpose\""));
	assert_non_null(strstr(out, "\"name\": \"sharding_indexed\""));
	assert_non_null(strstr(out, "\"name\": \"crc32c\""));
	assert_non_null(strstr(out, "\"index_location\": \"end\""));
	assert_non_null(strstr(out, "\"fill_value\": \"0x7fc00001\","));
	assert_non_null(strstr(out, "\"dimension_names\": [\n        \"z\",\n        null,\n        \"x\"\n"));
	assert_non_null(strstr(out, "\"name\": \"default\""));
	free(out);
	assert_stable(&m);
	tess_meta_clear(&m);

	/* unsharded, default codec: bytes then blosc */
	tess_array_opts p = TESS_ARRAY_OPTS_INIT;
	p.zarr_format = 3;
	p.ndim = 1;
	p.shape[0] = 10;
	assert_int_equal(from_opts(&m, &p, "uint8"), 0);
	assert_null(m.pipeline.shard);
	assert_int_equal(m.pipeline.endian, '|');
	assert_int_equal(m.pipeline.ncodecs, 1);
	assert_string_equal(m.pipeline.codecs[0]->ops->name, "blosc");
	out = meta_text(&m);
	assert_non_null(strstr(out, "\"codecs\": [\n        {\n            \"name\": \"bytes\"\n        },"));
	assert_non_null(strstr(out, "\"fill_value\": 0,"));
	free(out);
	assert_stable(&m);
	tess_meta_clear(&m);
}

static void expect_opts_error(tess_array_opts *o, const char *dtype, const char *s1)
{
	tess_meta m;
	int rc = from_opts(&m, o, dtype);
	if (rc != TESS_EINVAL)
		fail_msg("rc %d (%s), expected EINVAL with '%s'", rc, tess_errmsg(), s1);
	if (!strstr(tess_errmsg(), s1))
		fail_msg("message lacks '%s': %s", s1, tess_errmsg());
	if (strncmp(tess_errmsg(), "array options", 13) != 0)
		fail_msg("message does not start with 'array options': %s", tess_errmsg());
	assert_null(m.fill);
}

static void test_opts_errors(void **state)
{
	(void)state;
	tess_array_opts base = TESS_ARRAY_OPTS_INIT;
	base.ndim = 2;
	base.shape[0] = 10;
	base.shape[1] = 10;
	tess_array_opts o;

	o = base, o.zarr_format = 4;
	expect_opts_error(&o, "<f4", "zarr_format 4: expected 2 or 3");
	o = base, o.version = 0;
	expect_opts_error(&o, "<f4", "TESS_ARRAY_OPTS_INIT");
	o = base, o.ndim = 33;
	expect_opts_error(&o, "<f4", "ndim 33: expected 0..32");
	o = base, o.ndim = -1;
	expect_opts_error(&o, "<f4", "ndim -1");
	o = base, o.order = 'X';
	expect_opts_error(&o, "<f4", "order 'X'");
	o = base, o.dimension_separator = '-';
	expect_opts_error(&o, "<f4", "dimension_separator '-'");
	o = base, o.shard[0] = 5;
	expect_opts_error(&o, "<f4", "sharding needs zarr_format 3");
	o = base, o.zarr_format = 3, o.chunks[0] = 3, o.shard[0] = 10;
	expect_opts_error(&o, "<f4", "shard[0] = 10 is not a multiple of chunks[0] = 3");
	o = base, o.zarr_format = 3;
	expect_opts_error(&o, "<U4", "dtype <U4 has no Zarr v3 data_type");
	static const char *const names[] = {"a", "b"};
	o = base, o.dimension_names = names;
	expect_opts_error(&o, "<f4", "dimension_names: only Zarr v3");
	o = base, o.shape[0] = 65536, o.shape[1] = 65536;
	expect_opts_error(&o, "<f8", "more than 2147483648 bytes");
	o = base, o.shape[0] = UINT64_MAX / 2;
	expect_opts_error(&o, "<f8", "overflows 64 bits");
	o = base, o.shape[0] = UINT64_MAX;
	expect_opts_error(&o, "|u1", "lengths above 2^63-1");
	o = base, o.fill = "\"abc\"";
	expect_opts_error(&o, "<f4", "fill_value: expected a number");
	o = base, o.fill = "{";
	expect_opts_error(&o, "<f4", "fill: not valid JSON");
	o = base, o.fill = "300";
	expect_opts_error(&o, "|u1", "out of range for uint8");
	o = base, o.zarr_format = 3, o.fill = "null";
	expect_opts_error(&o, "<f4", "null is not a fill value of float32");
	o = base, o.codec = "snappy";
	expect_opts_error(&o, "<f4", "codec");
	o = base, o.dtype.kind = TESS_DT_FLOAT, o.dtype.itemsize = 3;
	expect_opts_error(&o, NULL, "itemsize 3");
	tess_meta m;
	assert_int_equal(tess_meta_from_opts(&m, NULL), TESS_EINVAL);
}

/* ---- copy ----------------------------------------------------------------------------- */

static void test_copy(void **state)
{
	(void)state;
	char *text = slurp("zarrs_sharded_uint16.json");
	tess_meta m, c;
	parse_ok(&m, text, 3);
	assert_int_equal(tess_meta_copy(&c, &m), 0);
	char *a = meta_text(&m);
	tess_meta_clear(&m);
	char *b = meta_text(&c); /* the copy owns everything it needs */
	assert_string_equal(a, b);
	assert_ptr_not_equal(c.pipeline.shard, NULL);
	tess_meta_clear(&c);
	free(a);
	free(b);
	free(text);

	text = doc(2, "{\"compressor\": {\"id\": \"zlib\", \"level\": 4}, \"filters\": "
	              "[{\"id\": \"shuffle\", \"elementsize\": 4}], \"other\": 1}");
	parse_ok(&m, text, 2);
	assert_int_equal(tess_meta_copy(&c, &m), 0);
	assert_int_equal(c.nfilters, 1);
	assert_ptr_not_equal(c.pipeline.codecs[0], m.pipeline.codecs[0]);
	a = meta_text(&m);
	b = meta_text(&c);
	assert_string_equal(a, b);
	free(a);
	free(b);
	tess_meta_clear(&m);
	tess_meta_clear(&c);
	free(text);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		data_dir = argv[1];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dtype_parse),
		cmocka_unit_test(test_dtype_v3_names),
		cmocka_unit_test(test_v2_minimal),
		cmocka_unit_test(test_v2_order_sep_codecs),
		cmocka_unit_test(test_v2_fill_values),
		cmocka_unit_test(test_v2_big_uint64_fill),
		cmocka_unit_test(test_v2_errors),
		cmocka_unit_test(test_v3_minimal),
		cmocka_unit_test(test_v3_fill_values),
		cmocka_unit_test(test_v3_big_endian_and_keys),
		cmocka_unit_test(test_v3_extensions),
		cmocka_unit_test(test_v3_sharding),
		cmocka_unit_test(test_v3_errors),
		cmocka_unit_test(test_v3_spec_core_example),
		cmocka_unit_test(test_v3_published_examples),
		cmocka_unit_test(test_chunk_keys),
		cmocka_unit_test(test_opts_v2),
		cmocka_unit_test(test_opts_v3),
		cmocka_unit_test(test_opts_errors),
		cmocka_unit_test(test_copy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
