/* SigV4 signing and its helpers (src/backend/s3_sign.c): AWS's published
 * examples, hash and encoding vectors, dates, and refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "backend/s3.h"

/* AWS's S3 documentation examples ("Examples: Signature Calculations in AWS
 * Signature Version 4", header-based auth) share these. */
#define S3_DOC_AK "AKIAIOSFODNN7EXAMPLE"
#define S3_DOC_SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define S3_DOC_HOST "examplebucket.s3.amazonaws.com"
#define S3_DOC_DATE "20130524T000000Z"

static int sign(const char *method, const char *uri, const char *query, const s3_header *h, size_t n,
                const char *payload, const char *date, const char *service, const char *ak,
                const char *sk, char *out, size_t cap)
{
	s3_sign_req r = {method, uri, query, h, n, payload, date, "us-east-1", service, ak, sk};
	return s3_sign(&r, out, cap);
}

/* aws-sig-v4-test-suite: get-vanilla and get-vanilla-query-order-key-case. */
static void test_suite_get_vanilla(void **state)
{
	(void)state;
	const s3_header h[] = {{"x-amz-date", "20150830T123600Z"}, {"host", "example.amazonaws.com"}};
	char out[1024];
	assert_int_equal(sign("GET", "/", "", h, 2, S3_EMPTY_SHA256, "20150830T123600Z", "service",
	                      "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", out, sizeof out),
	                 0);
	assert_string_equal(out, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
	                         "aws4_request, SignedHeaders=host;x-amz-date, Signature="
	                         "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	assert_int_equal(sign("GET", "/", "Param1=value1&Param2=value2", h, 2, S3_EMPTY_SHA256,
	                      "20150830T123600Z", "service", "AKIDEXAMPLE",
	                      "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", out, sizeof out),
	                 0);
	assert_non_null(strstr(out, "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"));
}

static void test_s3_doc_get_object(void **state)
{
	(void)state;
	const s3_header h[] = {{"host", S3_DOC_HOST},
	                       {"range", "bytes=0-9"},
	                       {"x-amz-content-sha256", S3_EMPTY_SHA256},
	                       {"x-amz-date", S3_DOC_DATE}};
	char out[1024];
	assert_int_equal(sign("GET", "/test.txt", "", h, 4, S3_EMPTY_SHA256, S3_DOC_DATE, "s3", S3_DOC_AK,
	                      S3_DOC_SK, out, sizeof out),
	                 0);
	assert_string_equal(out, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
	                         "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
	                         "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

/* The same document's PUT Object example: "$" in the key, a Date header,
 * a body hash, and headers given out of order. */
static void test_s3_doc_put_object(void **state)
{
	(void)state;
	const char *body = "Welcome to Amazon S3.";
	char hash[65];
	s3_sha256_hex(body, strlen(body), hash);
	assert_string_equal(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
	tess_buf uri = {0};
	assert_int_equal(s3_uri_encode(&uri, "/test$file.text", 15, 1), 0);
	assert_int_equal(tess_buf_append(&uri, "", 1), 0);
	assert_string_equal((char *)uri.data, "/test%24file.text");
	const s3_header h[] = {{"x-amz-storage-class", "REDUCED_REDUNDANCY"},
	                       {"x-amz-date", S3_DOC_DATE},
	                       {"date", "Fri, 24 May 2013 00:00:00 GMT"},
	                       {"x-amz-content-sha256", hash},
	                       {"host", S3_DOC_HOST}};
	char out[1024];
	assert_int_equal(sign("PUT", (char *)uri.data, "", h, 5, hash, S3_DOC_DATE, "s3", S3_DOC_AK, S3_DOC_SK,
	                      out, sizeof out),
	                 0);
	assert_string_equal(out, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
	                         "aws4_request, SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;"
	                         "x-amz-storage-class, Signature="
	                         "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
	tess_buf_free(&uri);
}

/* ... and its GET Bucket Lifecycle (empty query value) and GET Bucket
 * (list objects) examples. */
static void test_s3_doc_bucket_queries(void **state)
{
	(void)state;
	const s3_header h[] = {{"host", S3_DOC_HOST},
	                       {"x-amz-content-sha256", S3_EMPTY_SHA256},
	                       {"x-amz-date", S3_DOC_DATE}};
	char out[1024];
	assert_int_equal(sign("GET", "/", "lifecycle=", h, 3, S3_EMPTY_SHA256, S3_DOC_DATE, "s3", S3_DOC_AK,
	                      S3_DOC_SK, out, sizeof out),
	                 0);
	assert_non_null(strstr(out, "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"));
	assert_int_equal(sign("GET", "/", "max-keys=2&prefix=J", h, 3, S3_EMPTY_SHA256, S3_DOC_DATE, "s3",
	                      S3_DOC_AK, S3_DOC_SK, out, sizeof out),
	                 0);
	assert_non_null(strstr(out, "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"));
}

/* Header values are trimmed and inner runs of blanks collapsed (Trimall). */
static void test_header_trimall(void **state)
{
	(void)state;
	const s3_header a[] = {{"host", S3_DOC_HOST}, {"x-amz-content-sha256", S3_EMPTY_SHA256},
	                       {"x-amz-date", S3_DOC_DATE}, {"x-amz-meta-v", "a b c"}};
	const s3_header b[] = {{"host", S3_DOC_HOST}, {"x-amz-content-sha256", S3_EMPTY_SHA256},
	                       {"x-amz-date", S3_DOC_DATE}, {"x-amz-meta-v", " \ta  \t b   c\t "}};
	const s3_header c[] = {{"host", S3_DOC_HOST}, {"x-amz-content-sha256", S3_EMPTY_SHA256},
	                       {"x-amz-date", S3_DOC_DATE}, {"x-amz-meta-v", "a bc"}};
	char oa[1024], ob[1024], oc[1024];
	assert_int_equal(sign("GET", "/k", "", a, 4, S3_EMPTY_SHA256, S3_DOC_DATE, "s3", S3_DOC_AK, S3_DOC_SK,
	                      oa, sizeof oa), 0);
	assert_int_equal(sign("GET", "/k", "", b, 4, S3_EMPTY_SHA256, S3_DOC_DATE, "s3", S3_DOC_AK, S3_DOC_SK,
	                      ob, sizeof ob), 0);
	assert_int_equal(sign("GET", "/k", "", c, 4, S3_EMPTY_SHA256, S3_DOC_DATE, "s3", S3_DOC_AK, S3_DOC_SK,
	                      oc, sizeof oc), 0);
	assert_string_equal(oa, ob);
	assert_string_not_equal(oa, oc);
}

static void test_sign_refusals(void **state)
{
	(void)state;
	const s3_header ok[] = {{"host", "h"}, {"x-amz-content-sha256", S3_EMPTY_SHA256},
	                        {"x-amz-date", S3_DOC_DATE}};
	const s3_header dup[] = {{"host", "h"}, {"x-amz-content-sha256", S3_EMPTY_SHA256},
	                         {"x-amz-date", S3_DOC_DATE}, {"host", "h2"}};
	const s3_header upper[] = {{"Host", "h"}, {"x-amz-content-sha256", S3_EMPTY_SHA256},
	                           {"x-amz-date", S3_DOC_DATE}};
	const s3_header crlf[] = {{"host", "h\r\nx-evil: 1"}, {"x-amz-content-sha256", S3_EMPTY_SHA256},
	                          {"x-amz-date", S3_DOC_DATE}};
	const s3_header nosha[] = {{"host", "h"}, {"x-amz-date", S3_DOC_DATE}};
	const s3_header nohost[] = {{"x-amz-content-sha256", S3_EMPTY_SHA256}, {"x-amz-date", S3_DOC_DATE}};
	const s3_header otherdate[] = {{"host", "h"}, {"x-amz-content-sha256", S3_EMPTY_SHA256},
	                               {"x-amz-date", "20130524T000001Z"}};
	char out[1024];
	const char *E = S3_EMPTY_SHA256;
	assert_int_equal(sign("GET", "/", "", ok, 3, E, S3_DOC_DATE, "s3", "AK", "SK", out, sizeof out), 0);
	size_t need = strlen(out) + 1;
	/* out exactly big enough, and one byte short */
	assert_int_equal(sign("GET", "/", "", ok, 3, E, S3_DOC_DATE, "s3", "AK", "SK", out, need), 0);
	assert_int_equal(sign("GET", "/", "", ok, 3, E, S3_DOC_DATE, "s3", "AK", "SK", out, need - 1),
	                 TESS_EINVAL);
	assert_string_equal(out, "");
	assert_int_equal(sign("GET", "/", "", dup, 4, E, S3_DOC_DATE, "s3", "AK", "SK", out, sizeof out),
	                 TESS_EINVAL);
	assert_non_null(strstr(tess_errmsg(), "host"));
	assert_int_equal(sign("GET", "/", "", upper, 3, E, S3_DOC_DATE, "s3", "AK", "SK", out, sizeof out),
	                 TESS_EINVAL);
	assert_int_equal(sign("GET", "/", "", crlf, 3, E, S3_DOC_DATE, "s3", "AK", "SK", out, sizeof out),
	                 TESS_EINVAL);
	assert_int_equal(sign("GET", "/", "", nosha, 2, E, S3_DOC_DATE, "s3", "AK", "SK", out, sizeof out),
	                 TESS_EINVAL);
	assert_int_equal(sign("GET", "/", "", nosha, 2, E, S3_DOC_DATE, "service", "AK", "SK", out, sizeof out),
	                 0);
	assert_int_equal(sign("GET", "/", "", nohost, 2, E, S3_DOC_DATE, "s3", "AK", "SK", out, sizeof out),
	                 TESS_EINVAL);
	assert_int_equal(sign("GET", "/", "", otherdate, 3, E, S3_DOC_DATE, "s3", "AK", "SK", out, sizeof out),
	                 TESS_EINVAL);
	assert_int_equal(sign("GET", "/", "", ok, 0, E, S3_DOC_DATE, "s3", "AK", "SK", out, sizeof out),
	                 TESS_EINVAL);
	assert_int_equal(sign(NULL, "/", "", ok, 3, E, S3_DOC_DATE, "s3", "AK", "SK", out, sizeof out),
	                 TESS_EINVAL);
	assert_int_equal(sign("get", "/", "", ok, 3, E, S3_DOC_DATE, "s3", "AK", "SK", out, sizeof out),
	                 TESS_EINVAL);
	assert_int_equal(sign("GET", "k", "", ok, 3, E, S3_DOC_DATE, "s3", "AK", "SK", out, sizeof out),
	                 TESS_EINVAL);
	assert_int_equal(sign("GET", "/", NULL, ok, 3, E, S3_DOC_DATE, "s3", "AK", "SK", out, sizeof out),
	                 TESS_EINVAL);
	assert_int_equal(sign("GET", "/", "", ok, 3, NULL, S3_DOC_DATE, "s3", "AK", "SK", out, sizeof out),
	                 TESS_EINVAL);
	assert_int_equal(sign("GET", "/", "", ok, 3, E, "2013-05-24T00:00:00Z", "s3", "AK", "SK", out,
	                      sizeof out), TESS_EINVAL);
	assert_int_equal(sign("GET", "/", "", ok, 3, E, S3_DOC_DATE, "s3", "A/K", "SK", out, sizeof out),
	                 TESS_EINVAL);
	assert_int_equal(sign("GET", "/", "", ok, 3, E, S3_DOC_DATE, "s3", "AK", "", out, sizeof out),
	                 TESS_EINVAL);
	assert_int_equal(sign("GET", "/", "", ok, 3, E, S3_DOC_DATE, "", "AK", "SK", out, sizeof out),
	                 TESS_EINVAL);
	/* the secret never appears in a message */
	assert_int_equal(sign("GET", "/", "", dup, 4, E, S3_DOC_DATE, "s3", "AK", "SECRETVALUE", out, sizeof out),
	                 TESS_EINVAL);
	assert_null(strstr(tess_errmsg(), "SECRETVALUE"));
}

/* 16 headers with long values fit in 1024 bytes, as the header promises
 * (only the names reach the output). */
static void test_sixteen_headers_fit(void **state)
{
	(void)state;
	s3_header h[16];
	char names[16][40];
	for (int i = 0; i < 13; i++) {
		snprintf(names[i], sizeof names[i], "x-amz-meta-a-fairly-long-name-%02d", i);
		h[i] = (s3_header){names[i], "some value"};
	}
	h[13] = (s3_header){"host", "a-long-bucket-name.s3.some-region-9.amazonaws.com"};
	h[14] = (s3_header){"x-amz-date", S3_DOC_DATE};
	h[15] = (s3_header){"x-amz-content-sha256", S3_EMPTY_SHA256};
	char out[1024];
	assert_int_equal(sign("PUT", "/b/k", "", h, 16, S3_EMPTY_SHA256, S3_DOC_DATE, "s3",
	                      "AKIAIOSFODNN7EXAMPLEXXXXXXXXXXXXXXX", S3_DOC_SK, out, sizeof out),
	                 0);
}

static void test_uri_encode(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int keep;
		const char *out;
	} v[] = {
		{"", 1, ""},
		{"AZaz09-_.~", 0, "AZaz09-_.~"},
		{"a b/c", 1, "a%20b/c"},
		{"a b/c", 0, "a%20b%2Fc"},
		{"+=&?#%", 0, "%2B%3D%26%3F%23%25"},
		{"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80", 1, "%C3%A9%E4%B8%AD%F0%9F%98%80"},
		{"$'()*,;:@!", 1, "%24%27%28%29%2A%2C%3B%3A%40%21"},
		{"\x7f\xff\x01", 1, "%7F%FF%01"},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		tess_buf b = {0};
		assert_int_equal(tess_buf_append(&b, "pre:", 4), 0); /* appends after existing bytes */
		assert_int_equal(s3_uri_encode(&b, v[i].in, strlen(v[i].in), v[i].keep), 0);
		assert_int_equal(b.len, 4 + strlen(v[i].out));
		assert_memory_equal(b.data, "pre:", 4);
		assert_memory_equal(b.data + 4, v[i].out, strlen(v[i].out));
		tess_buf_free(&b);
	}
	/* embedded NUL: the length rules, not strlen */
	tess_buf b = {0};
	assert_int_equal(s3_uri_encode(&b, "a\0b", 3, 1), 0);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.data, "a%00b", 5);
	tess_buf_free(&b);
	/* a full fixed buffer: ENOMEM and nothing half-appended */
	char mem[6];
	tess_buf f = tess_buf_fixed(mem, sizeof mem);
	assert_int_equal(s3_uri_encode(&f, "ab cd", 5, 1), TESS_ENOMEM);
	assert_int_equal(f.len, 0);
}

static void test_digests(void **state)
{
	(void)state;
	char h[65], m[25];
	s3_sha256_hex("", 0, h);
	assert_string_equal(h, S3_EMPTY_SHA256);
	s3_sha256_hex(NULL, 0, h);
	assert_string_equal(h, S3_EMPTY_SHA256);
	s3_sha256_hex("abc", 3, h);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	const char *q = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	s3_sha256_hex(q, strlen(q), h);
	assert_string_equal(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* RFC 1321 vectors (d41d8cd9..., 90015098..., f96b697d...), base64 of the digest */
	s3_md5_base64("", 0, m);
	assert_string_equal(m, "1B2M2Y8AsgTpgAmY7PhCfg==");
	s3_md5_base64("abc", 3, m);
	assert_string_equal(m, "kAFQmDzST7DWlj99KOF/cg==");
	s3_md5_base64("message digest", 14, m);
	assert_string_equal(m, "+WtpfXy3k41SWi8xqvFh0A==");
	const char *fox = "The quick brown fox jumps over the lazy dog";
	s3_md5_base64(fox, strlen(fox), m);
	assert_string_equal(m, "nhB9nTcrtoJr2B01QqQZ1g==");
}

static void test_amz_date(void **state)
{
	(void)state;
	static const struct {
		int64_t t;
		const char *s;
	} v[] = {
		{0, "19700101T000000Z"},
		{1440938160, "20150830T123600Z"},
		{1369353600, "20130524T000000Z"},
		{951782400, "20000229T000000Z"},
		{1795342500, "20261122T101500Z"},
		{-1, "19691231T235959Z"},
		{-86400 * 365, "19690101T000000Z"},
		{253402300799, "99991231T235959Z"},
		{INT64_MAX, "99991231T235959Z"},
		{INT64_MIN, "00000101T000000Z"},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		char out[17];
		memset(out, 'x', sizeof out);
		s3_amz_date(v[i].t, out);
		assert_string_equal(out, v[i].s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_suite_get_vanilla),
		cmocka_unit_test(test_s3_doc_get_object),
		cmocka_unit_test(test_s3_doc_put_object),
		cmocka_unit_test(test_s3_doc_bucket_queries),
		cmocka_unit_test(test_header_trimall),
		cmocka_unit_test(test_sign_refusals),
		cmocka_unit_test(test_sixteen_headers_fit),
		cmocka_unit_test(test_uri_encode),
		cmocka_unit_test(test_digests),
		cmocka_unit_test(test_amz_date),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
