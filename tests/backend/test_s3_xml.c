/* The S3 XML documents and dates (src/backend/s3_xml.c): bodies shaped as
 * Ceph RGW and AWS send them (several captured from RGW), entities, url
 * encoding, hostile and truncated input, and the request bodies we write. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/s3.h"

/* Every parse goes through an exact-size heap copy, so that ASan catches a
 * read one byte past the end (the parsers get no NUL terminator). */
static char *exact(const char *s, size_t n)
{
	char *p = malloc(n ? n : 1);
	assert_non_null(p);
	memcpy(p, s, n);
	return p;
}

static int list(const char *doc, size_t n, s3_list_result *r)
{
	char *p = exact(doc, n);
	int rc = s3_xml_list(p, n, r);
	free(p);
	return rc;
}

static int list_s(const char *doc, s3_list_result *r)
{
	return list(doc, strlen(doc), r);
}

static int error_doc(const char *doc, size_t n, s3_error_doc *e)
{
	char *p = exact(doc, n);
	int rc = s3_xml_error(p, n, e);
	free(p);
	return rc;
}

static int upload_id(const char *doc, size_t n, char *out, size_t cap)
{
	char *p = exact(doc, n);
	int rc = s3_xml_upload_id(p, n, out, cap);
	free(p);
	return rc;
}

static int delete_result(const char *doc, size_t n, s3_delete_error **e, size_t *ne)
{
	char *p = exact(doc, n);
	int rc = s3_xml_delete_result(p, n, e, ne);
	free(p);
	return rc;
}

#define XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
#define NS " xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""
#define ETAG "<ETag>&quot;5d41402abc4b2a76b9719d911017c592&quot;</ETag>"
#define RGW_ENTRY(key, ms) \
	"<Contents><Key>" key "</Key><LastModified>2026-11-22T03:15:09." ms "Z</LastModified>" ETAG \
	"<Size>5</Size><StorageClass>STANDARD</StorageClass><Type>Normal</Type></Contents>"

/* Captured from Ceph RGW: ListObjectsV2 with encoding-type=url over keys
 * with spaces, '+', '%', a control character, '/', a newline, XML's
 * special characters, a tab and a non-ASCII letter. */
static const char rgw_list_url[] =
	XML_DECL "<ListBucketResult" NS "><EncodingType>url</EncodingType><Name>s3sign-probe</Name>"
	"<Prefix></Prefix><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>"
	RGW_ENTRY("a%20b", "865") RGW_ENTRY("a%2Bb", "875") RGW_ENTRY("c%25d", "892")
	RGW_ENTRY("ctl%01x", "947") RGW_ENTRY("d%2Fe%2Ff", "964") RGW_ENTRY("nl%0Ax", "955")
	RGW_ENTRY("q%26%3C%3E%22&apos;", "930") RGW_ENTRY("sp%20%2Fx", "973") RGW_ENTRY("t%09ab", "939")
	RGW_ENTRY("x%2Fy", "922") RGW_ENTRY("%C3%BC%2Fx", "912")
	"<KeyCount>11</KeyCount></ListBucketResult>";

/* The same bucket listed with delimiter '/' and no encoding: RGW puts the
 * CommonPrefixes first, and writes a control character as &#x01;. */
static const char rgw_list_delim[] =
	XML_DECL "<ListBucketResult" NS "><Name>s3sign-probe</Name><Prefix></Prefix><MaxKeys>1000</MaxKeys>"
	"<Delimiter>/</Delimiter><IsTruncated>false</IsTruncated>"
	"<CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>sp /</Prefix>"
	"</CommonPrefixes><CommonPrefixes><Prefix>x/</Prefix></CommonPrefixes><CommonPrefixes>"
	"<Prefix>\xc3\xbc/</Prefix></CommonPrefixes>"
	RGW_ENTRY("a b", "865") RGW_ENTRY("a+b", "875") RGW_ENTRY("c%d", "892") RGW_ENTRY("ctl&#x01;x", "947")
	RGW_ENTRY("nl\nx", "955") RGW_ENTRY("q&amp;&lt;&gt;&quot;&apos;", "930") RGW_ENTRY("t\tab", "939")
	"<KeyCount>11</KeyCount></ListBucketResult>";

/* AWS-shaped: pretty-printed, '+' for a space, EncodingType after the
 * entries, Owner and checksum elements, truncated with a token. */
static const char aws_list[] =
	XML_DECL "\n"
	"<ListBucketResult" NS ">\n"
	"  <Name>bucket</Name>\n"
	"  <Prefix>run%2F</Prefix>\n"
	"  <KeyCount>3</KeyCount>\n"
	"  <MaxKeys>3</MaxKeys>\n"
	"  <Delimiter>%2F</Delimiter>\n"
	"  <IsTruncated>true</IsTruncated>\n"
	"  <Contents>\n"
	"    <Key>run%2Fmy+file.txt</Key>\n"
	"    <LastModified>2009-10-12T17:50:30.000Z</LastModified>\n"
	"    <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>\n"
	"    <ChecksumAlgorithm>CRC32</ChecksumAlgorithm>\n"
	"    <Size>434234</Size>\n"
	"    <Owner>\n"
	"      <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>\n"
	"      <DisplayName>mtd@amazon.com</DisplayName>\n"
	"    </Owner>\n"
	"    <StorageClass>STANDARD</StorageClass>\n"
	"  </Contents>\n"
	"  <CommonPrefixes>\n"
	"    <Prefix>run%2Fa%2B%2B%2F</Prefix>\n"
	"  </CommonPrefixes>\n"
	"  <Contents>\n"
	"    <Key>run%2F%E4%B8%AD</Key>\n"
	"    <LastModified>2026-11-22T10:15:00Z</LastModified>\n"
	"    <Size>18446744073709551615</Size>\n"
	"  </Contents>\n"
	"  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>\n"
	"  <EncodingType>url</EncodingType>\n"
	"  <StartAfter>run%2F</StartAfter>\n"
	"</ListBucketResult>\n";

static void test_list_rgw_url(void **state)
{
	(void)state;
	s3_list_result r;
	assert_int_equal(list_s(rgw_list_url, &r), 0);
	static const char *const want[] = {"a b", "a+b", "c%d", "ctl\x01x", "d/e/f", "nl\nx", "q&<>\"'",
	                                   "sp /x", "t\tab", "x/y", "\xc3\xbc/x"};
	assert_int_equal(r.count, 11);
	for (size_t i = 0; i < 11; i++) {
		assert_string_equal(r.items[i].key, want[i]);
		assert_int_equal(r.items[i].is_prefix, 0);
		assert_int_equal(r.items[i].size, 5);
	}
	/* 2026-11-22T03:15:09.865Z */
	assert_int_equal(r.items[0].mtime_ns, 1795317309865000000LL);
	assert_int_equal(r.truncated, 0);
	assert_null(r.next_token);
	s3_list_result_free(&r);
	assert_null(r.items);
	assert_int_equal(r.count, 0);
	s3_list_result_free(&r); /* twice is fine */
}

static void test_list_rgw_delimiter_merge(void **state)
{
	(void)state;
	s3_list_result r;
	assert_int_equal(list_s(rgw_list_delim, &r), 0);
	static const struct {
		const char *key;
		int prefix;
	} want[] = {{"a b", 0}, {"a+b", 0}, {"c%d", 0}, {"ctl\x01x", 0}, {"d/", 1}, {"nl\nx", 0},
	            {"q&<>\"'", 0}, {"sp /", 1}, {"t\tab", 0}, {"x/", 1}, {"\xc3\xbc/", 1}};
	assert_int_equal(r.count, 11);
	for (size_t i = 0; i < 11; i++) {
		assert_string_equal(r.items[i].key, want[i].key);
		assert_int_equal(r.items[i].is_prefix, want[i].prefix);
		if (want[i].prefix) {
			assert_int_equal(r.items[i].size, 0);
			assert_int_equal(r.items[i].mtime_ns, 0);
		}
	}
	s3_list_result_free(&r);
}

static void test_list_aws_shape(void **state)
{
	(void)state;
	s3_list_result r;
	assert_int_equal(list_s(aws_list, &r), 0);
	assert_int_equal(r.count, 3);
	assert_string_equal(r.items[0].key, "run/a++/");
	assert_int_equal(r.items[0].is_prefix, 1);
	assert_string_equal(r.items[1].key, "run/my file.txt");
	assert_int_equal(r.items[1].size, 434234);
	assert_int_equal(r.items[1].mtime_ns, 1255369830000000000LL);
	assert_string_equal(r.items[2].key, "run/\xe4\xb8\xad");
	assert_int_equal(r.items[2].size, UINT64_MAX);
	assert_int_equal(r.items[2].mtime_ns, 1795342500000000000LL);
	assert_int_equal(r.truncated, 1);
	/* the token is never decoded */
	assert_string_equal(r.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
	s3_list_result_free(&r);
}

static void test_list_empty_and_token(void **state)
{
	(void)state;
	s3_list_result r;
	/* captured from RGW: nothing under the prefix */
	assert_int_equal(list_s(XML_DECL "<ListBucketResult" NS "><EncodingType>url</EncodingType><Name>"
	                        "s3sign-probe</Name><Prefix>zzz</Prefix><MaxKeys>1000</MaxKeys><IsTruncated>"
	                        "false</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>",
	                        &r),
	                 0);
	assert_int_equal(r.count, 0);
	assert_int_equal(r.truncated, 0);
	s3_list_result_free(&r);
	/* RGW's continuation token is the raw last key, even under url
	 * encoding ("c%d" is no valid escape): it must come back verbatim */
	assert_int_equal(list_s("<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>true"
	                        "</IsTruncated>" RGW_ENTRY("c%25d", "100")
	                        "<NextContinuationToken>c%d</NextContinuationToken></ListBucketResult>",
	                        &r),
	                 0);
	assert_int_equal(r.count, 1);
	assert_string_equal(r.items[0].key, "c%d");
	assert_string_equal(r.next_token, "c%d");
	assert_int_equal(r.truncated, 1);
	s3_list_result_free(&r);
	/* self-closing elements, comments, CDATA, a BOM, single-quoted attributes */
	assert_int_equal(list_s("\xef\xbb\xbf<?xml version='1.0'?>\n<!-- listing -->\n"
	                        "<ListBucketResult xmlns='x' a = \"1\" ><Prefix/><Contents><Key><![CDATA[a<&>b]]>"
	                        "</Key><!-- c --><Size>0</Size><ETag/></Contents></ListBucketResult>\n<!-- end -->\n",
	                        &r),
	                 0);
	assert_int_equal(r.count, 1);
	assert_string_equal(r.items[0].key, "a<&>b");
	s3_list_result_free(&r);
}

static void test_list_entities(void **state)
{
	(void)state;
	s3_list_result r;
	assert_int_equal(list_s("<ListBucketResult><Contents><Key>&#65;&#x42;&#x4e2d;&#X1F600;&#128512;"
	                        "&amp;amp;</Key><Size>1</Size></Contents></ListBucketResult>",
	                        &r),
	                 TESS_ECORRUPT); /* "&#X" is not a reference: XML wants a lowercase x */
	assert_int_equal(list_s("<ListBucketResult><Contents><Key>&#65;&#x42;&#x4e2d;&#x1F600;&#128512;"
	                        "&amp;amp;&#9;</Key><Size>1</Size></Contents></ListBucketResult>",
	                        &r),
	                 0);
	assert_string_equal(r.items[0].key, "AB\xe4\xb8\xad\xf0\x9f\x98\x80\xf0\x9f\x98\x80&amp;\t");
	s3_list_result_free(&r);
	/* with url encoding the entities are undone first, then the escapes */
	assert_int_equal(list_s("<ListBucketResult><Contents><Key>a&amp;b%26c&#x25;41</Key><Size>1</Size>"
	                        "</Contents><EncodingType>url</EncodingType></ListBucketResult>",
	                        &r),
	                 0);
	assert_string_equal(r.items[0].key, "a&b&cA");
	s3_list_result_free(&r);
}

static void expect_corrupt(const char *doc, const char *why)
{
	s3_list_result r;
	memset(&r, 0x55, sizeof r);
	int rc = list_s(doc, &r);
	if (rc != TESS_ECORRUPT)
		fail_msg("%s: expected TESS_ECORRUPT, got %d for %s", why, rc, doc);
	assert_null(r.items);
	assert_int_equal(r.count, 0);
	assert_null(r.next_token);
	assert_true(strlen(tess_errmsg()) > 0);
}

#define LBR(body) "<ListBucketResult>" body "</ListBucketResult>"
#define ENTRY(key, size) "<Contents><Key>" key "</Key><Size>" size "</Size></Contents>"

static void test_list_refusals(void **state)
{
	(void)state;
	expect_corrupt("", "empty");
	expect_corrupt("   ", "only whitespace");
	expect_corrupt("garbage", "not XML");
	expect_corrupt(XML_DECL "<Error><Code>NoSuchBucket</Code></Error>", "an error document");
	expect_corrupt(LBR(ENTRY("a", "12a")), "bad size");
	expect_corrupt(LBR(ENTRY("a", "-1")), "negative size");
	expect_corrupt(LBR(ENTRY("a", "")), "empty size");
	expect_corrupt(LBR(ENTRY("a", " 1")), "size with a blank");
	expect_corrupt(LBR(ENTRY("a", "18446744073709551616")), "size overflow");
	expect_corrupt(LBR(ENTRY("a", "99999999999999999999999")), "size overflow");
	expect_corrupt(LBR("<Contents><Key>a</Key></Contents>"), "no size");
	expect_corrupt(LBR("<Contents><Size>1</Size></Contents>"), "no key");
	expect_corrupt(LBR("<Contents/>"), "empty contents");
	expect_corrupt(LBR("<Contents><Key>a</Key><Key>b</Key><Size>1</Size></Contents>"), "two keys");
	expect_corrupt(LBR("<Contents><Key>a</Key><Size>1</Size><Size>1</Size></Contents>"), "two sizes");
	expect_corrupt(LBR(ENTRY("", "1")), "empty key");
	expect_corrupt(LBR("<Contents><Key><b>x</b></Key><Size>1</Size></Contents>"), "key with children");
	expect_corrupt(LBR("<CommonPrefixes></CommonPrefixes>"), "prefix without Prefix");
	expect_corrupt(LBR("<Contents><Key>a</Key><Size>1</Size><LastModified>2026-13-01T00:00:00Z"
	                   "</LastModified></Contents>"), "bad date");
	expect_corrupt(LBR("<IsTruncated>TRUE</IsTruncated>"), "bad IsTruncated");
	expect_corrupt(LBR("<IsTruncated>true</IsTruncated><IsTruncated>false</IsTruncated>"), "two IsTruncated");
	expect_corrupt(LBR("<NextContinuationToken>a</NextContinuationToken><NextContinuationToken>b"
	                   "</NextContinuationToken>"), "two tokens");
	expect_corrupt(LBR("<EncodingType>base64</EncodingType>"), "unknown encoding");
	/* escapes */
	expect_corrupt(LBR("<EncodingType>url</EncodingType>" ENTRY("a%G1", "1")), "bad escape");
	expect_corrupt(LBR("<EncodingType>url</EncodingType>" ENTRY("a%2", "1")), "short escape");
	expect_corrupt(LBR(ENTRY("a%", "1") "<EncodingType>url</EncodingType>"), "escape at the end");
	expect_corrupt(LBR("<EncodingType>url</EncodingType>" ENTRY("a%00b", "1")), "NUL escape");
	expect_corrupt(LBR("<EncodingType>url</EncodingType>" ENTRY("a%C3%28", "1")), "invalid UTF-8");
	expect_corrupt(LBR("<EncodingType>url</EncodingType>" ENTRY("%ED%A0%80", "1")), "surrogate");
	expect_corrupt(LBR("<EncodingType>url</EncodingType>" ENTRY("%C0%AF", "1")), "overlong");
	/* entities and raw bytes */
	expect_corrupt(LBR(ENTRY("a&#0;b", "1")), "NUL reference");
	expect_corrupt(LBR(ENTRY("a&#x0;b", "1")), "NUL reference");
	expect_corrupt(LBR(ENTRY("&#xD800;", "1")), "surrogate reference");
	expect_corrupt(LBR(ENTRY("&#x110000;", "1")), "beyond Unicode");
	expect_corrupt(LBR(ENTRY("&#xFFFE;", "1")), "noncharacter");
	expect_corrupt(LBR(ENTRY("&#4294967362;", "1")), "reference overflow");
	expect_corrupt(LBR(ENTRY("&#x;", "1")), "empty reference");
	expect_corrupt(LBR(ENTRY("&#12", "1")), "unterminated reference");
	expect_corrupt(LBR(ENTRY("&nbsp;", "1")), "unknown entity");
	expect_corrupt(LBR(ENTRY("a & b", "1")), "bare ampersand");
	expect_corrupt(LBR(ENTRY("a\xff", "1")), "raw invalid UTF-8");
	expect_corrupt(LBR(ENTRY("a\xc3", "1")), "truncated UTF-8");
	expect_corrupt(LBR(ENTRY("a<b", "1")), "raw '<'");
	{
		static const char nul[] = LBR(ENTRY("a\0b", "1"));
		s3_list_result r;
		assert_int_equal(list(nul, sizeof nul - 1, &r), TESS_ECORRUPT);
	}
	/* structure */
	expect_corrupt("<ListBucketResult>", "unclosed root");
	expect_corrupt("<ListBucketResult></ListBucketResul>", "mismatched end tag");
	expect_corrupt("<ListBucketResult><a></b></ListBucketResult>", "mismatched inner tag");
	expect_corrupt("</ListBucketResult>", "end without start");
	expect_corrupt(LBR("") LBR(""), "two roots");
	expect_corrupt(LBR("") "trailing", "text after the root");
	expect_corrupt("text" LBR(""), "text before the root");
	expect_corrupt("<!DOCTYPE x [<!ENTITY e \"boom\">]>" LBR(""), "DOCTYPE");
	expect_corrupt("<ListBucketResult a=\"1\"b=\"2\"></ListBucketResult>", "attributes run together");
	expect_corrupt("<ListBucketResult a=1></ListBucketResult>", "unquoted attribute");
	expect_corrupt("<ListBucketResult a=\"<\"></ListBucketResult>", "'<' in an attribute");
	expect_corrupt("<ListBucketResult a=\"&bogus;\"></ListBucketResult>", "bad entity in an attribute");
	expect_corrupt("<ListBucketResult a=\"1></ListBucketResult>", "unterminated attribute");
	expect_corrupt("<ListBucketResult/ >", "bad self-closing");
	expect_corrupt("< ListBucketResult></ListBucketResult>", "space before the name");
	expect_corrupt("<1x></1x>", "bad name");
	expect_corrupt(LBR("<!-- never closed"), "unterminated comment");
	expect_corrupt(LBR("<![CDATA[ never closed"), "unterminated CDATA");
	expect_corrupt("<![CDATA[x]]>" LBR(""), "CDATA outside the root");
	expect_corrupt("<?xml version=\"1.0\"" LBR(""), "unterminated declaration");
}

/* Nesting is bounded: 16 levels are fine, 17 are refused. */
static void test_list_depth(void **state)
{
	(void)state;
	char doc[1024];
	for (int depth = 15; depth <= 40; depth++) {
		size_t n = (size_t)snprintf(doc, sizeof doc, "<ListBucketResult>");
		for (int i = 1; i < depth; i++)
			n += (size_t)snprintf(doc + n, sizeof doc - n, "<a>");
		for (int i = 1; i < depth; i++)
			n += (size_t)snprintf(doc + n, sizeof doc - n, "</a>");
		n += (size_t)snprintf(doc + n, sizeof doc - n, "</ListBucketResult>");
		s3_list_result r;
		assert_int_equal(list(doc, n, &r), depth <= 16 ? 0 : TESS_ECORRUPT);
		s3_list_result_free(&r);
	}
}

/* Every proper prefix of a valid document is refused, and so is the
 * document with any one byte replaced by a NUL, or by a '<' after the XML
 * declaration (whose pseudo-attributes the scanner skips like any processing
 * instruction's content).  No crash, no overread under ASan. */
static void test_list_truncations(void **state)
{
	(void)state;
	const char *docs[] = {rgw_list_url, rgw_list_delim, aws_list};
	for (size_t d = 0; d < 3; d++) {
		size_t len = strlen(docs[d]);
		/* aws_list ends in "\n", which may go */
		size_t full = docs[d][len - 1] == '\n' ? len - 1 : len;
		for (size_t n = 0; n < len; n++) {
			s3_list_result r;
			int rc = list(docs[d], n, &r);
			assert_int_equal(rc, n < full ? TESS_ECORRUPT : 0);
			s3_list_result_free(&r);
		}
		char *mut = exact(docs[d], len);
		for (size_t i = 0; i < len; i++) {
			char was = mut[i];
			s3_list_result r;
			mut[i] = '\0';
			assert_int_equal(s3_xml_list(mut, len, &r), TESS_ECORRUPT);
			s3_list_result_free(&r);
			mut[i] = '<';
			int in_decl = i < strlen(XML_DECL);
			if (!in_decl || i < 2)
				assert_int_equal(s3_xml_list(mut, len, &r), was == '<' ? 0 : TESS_ECORRUPT);
			s3_list_result_free(&r);
			mut[i] = was;
		}
		free(mut);
	}
}

/* ---- <Error> ------------------------------------------------------------------ */

static void test_error_doc(void **state)
{
	(void)state;
	s3_error_doc e;
	/* captured from RGW */
	const char *rgw = XML_DECL "<Error><Code>NoSuchKey</Code><Message></Message><BucketName>s3sign-probe"
	                  "</BucketName><RequestId>tx00000258b2d4e926aedff-006b025e45-100e-default</RequestId>"
	                  "<HostId>100e-default-default</HostId></Error>";
	assert_int_equal(error_doc(rgw, strlen(rgw), &e), 1);
	assert_string_equal(e.code, "NoSuchKey");
	assert_string_equal(e.message, "");
	const char *aws = XML_DECL "\n<Error>\n  <Code>SignatureDoesNotMatch</Code>\n  <Message>The request "
	                  "signature we calculated does not match the signature you provided. Check your key "
	                  "and signing method.</Message>\n  <AWSAccessKeyId>AKIA</AWSAccessKeyId>\n"
	                  "  <StringToSign>AWS4-HMAC-SHA256&#10;20261122T101500Z</StringToSign>\n"
	                  "  <RequestId>4442587FB7D0A2F9</RequestId>\n</Error>\n";
	assert_int_equal(error_doc(aws, strlen(aws), &e), 1);
	assert_string_equal(e.code, "SignatureDoesNotMatch");
	assert_string_equal(e.message, "The request signature we calculated does not match the signature you "
	                               "provided. Check your key and signing method.");
	/* missing fields are empty; entities decoded */
	const char *bare = "<Error><Message>a &lt;b&gt;</Message></Error>";
	assert_int_equal(error_doc(bare, strlen(bare), &e), 1);
	assert_string_equal(e.code, "");
	assert_string_equal(e.message, "a <b>");
	/* every proper prefix is not an error document */
	for (size_t n = 0; n < strlen(rgw); n++) {
		memset(&e, 'x', sizeof e);
		assert_int_equal(error_doc(rgw, n, &e), 0);
		assert_string_equal(e.code, "");
		assert_string_equal(e.message, "");
	}
	const char *not_errors[] = {"", "Internal Server Error", "<html><body>502 Bad Gateway</body></html>",
	                            "<ListBucketResult></ListBucketResult>", "<Error><Code>X</Code>",
	                            "<Error><Code>X</Code></Error><Error></Error>",
	                            "<Error><Code>&bad;</Code></Error>"};
	for (size_t i = 0; i < sizeof not_errors / sizeof not_errors[0]; i++)
		assert_int_equal(error_doc(not_errors[i], strlen(not_errors[i]), &e), 0);
}

/* Long fields are cut to fit, never inside a UTF-8 character. */
static void test_error_truncation(void **state)
{
	(void)state;
	char doc[2048];
	size_t n = (size_t)snprintf(doc, sizeof doc, "<Error><Code>");
	for (int i = 0; i < 100; i++)
		n += (size_t)snprintf(doc + n, sizeof doc - n, "C");
	n += (size_t)snprintf(doc + n, sizeof doc - n, "</Code><Message>");
	for (int i = 0; i < 200; i++)
		n += (size_t)snprintf(doc + n, sizeof doc - n, "\xc3\xa9"); /* 2 bytes each */
	n += (size_t)snprintf(doc + n, sizeof doc - n, "</Message></Error>");
	s3_error_doc e;
	assert_int_equal(error_doc(doc, n, &e), 1);
	assert_int_equal(strlen(e.code), 63);
	assert_int_equal(strlen(e.message), 254); /* 127 whole characters, not 255 bytes */
	assert_memory_equal(e.message + 252, "\xc3\xa9", 2);
}

/* ---- InitiateMultipartUploadResult ----------------------------------------------- */

static void test_upload_id(void **state)
{
	(void)state;
	/* captured from RGW */
	const char *rgw = XML_DECL "<InitiateMultipartUploadResult" NS "><Bucket>s3sign-probe</Bucket><Key>"
	                  "mp key</Key><UploadId>2~9UBas3M6lt6rrQQbCM3UTDD0luAjV4Y</UploadId>"
	                  "</InitiateMultipartUploadResult>";
	char id[128];
	assert_int_equal(upload_id(rgw, strlen(rgw), id, sizeof id), 0);
	assert_string_equal(id, "2~9UBas3M6lt6rrQQbCM3UTDD0luAjV4Y");
	size_t idlen = strlen(id);
	assert_int_equal(upload_id(rgw, strlen(rgw), id, idlen + 1), 0);
	assert_int_equal(upload_id(rgw, strlen(rgw), id, idlen), TESS_ECORRUPT);
	assert_string_equal(id, "");
	const char *aws = XML_DECL "\n<InitiateMultipartUploadResult" NS ">\n  <Bucket>example-bucket</Bucket>\n"
	                  "  <Key>example-object</Key>\n  <UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMn"
	                  "RzIHVwbG9hZA</UploadId>\n</InitiateMultipartUploadResult>";
	assert_int_equal(upload_id(aws, strlen(aws), id, sizeof id), 0);
	assert_string_equal(id, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA");
	const char *bad[] = {"", "<InitiateMultipartUploadResult></InitiateMultipartUploadResult>",
	                     "<InitiateMultipartUploadResult><UploadId></UploadId></InitiateMultipartUploadResult>",
	                     "<InitiateMultipartUploadResult><UploadId>a</UploadId><UploadId>b</UploadId>"
	                     "</InitiateMultipartUploadResult>",
	                     "<Error><UploadId>a</UploadId></Error>",
	                     "<InitiateMultipartUploadResult><X><UploadId>a</UploadId></X>"
	                     "</InitiateMultipartUploadResult>",
	                     "<InitiateMultipartUploadResult><UploadId>a</UploadId>"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(upload_id(bad[i], strlen(bad[i]), id, sizeof id), TESS_ECORRUPT);
	for (size_t n = 0; n < strlen(rgw); n++)
		assert_int_equal(upload_id(rgw, n, id, sizeof id), TESS_ECORRUPT);
}

/* ---- DeleteResult ----------------------------------------------------------------- */

static void test_delete_result(void **state)
{
	(void)state;
	s3_delete_error *e;
	size_t n;
	/* captured from RGW: quiet mode, all deleted */
	const char *quiet = XML_DECL "<DeleteResult" NS "></DeleteResult>";
	assert_int_equal(delete_result(quiet, strlen(quiet), &e, &n), 0);
	assert_null(e);
	assert_int_equal(n, 0);
	/* captured from RGW: verbose mode lists the deleted keys, which we skip */
	const char *verbose = XML_DECL "<DeleteResult" NS "><Deleted><Key>a b</Key></Deleted><Deleted><Key>"
	                      "zz-none</Key></Deleted></DeleteResult>";
	assert_int_equal(delete_result(verbose, strlen(verbose), &e, &n), 0);
	assert_int_equal(n, 0);
	/* AWS's documented shape, with failures */
	const char *mixed = XML_DECL "\n<DeleteResult" NS ">\n  <Deleted>\n    <Key>sample1.txt</Key>\n"
	                    "    <DeleteMarker>true</DeleteMarker>\n  </Deleted>\n  <Error>\n"
	                    "    <Key>sample2.txt</Key>\n    <Code>AccessDenied</Code>\n"
	                    "    <Message>Access Denied</Message>\n  </Error>\n  <Error>\n"
	                    "    <Key>a&amp;b &#x4e2d;</Key>\n    <VersionId>v1</VersionId>\n"
	                    "    <Code>InternalError</Code>\n"
	                    "    <Message>We encountered an internal error. Please try again.</Message>\n"
	                    "  </Error>\n  <Error><Key>no-code</Key></Error>\n</DeleteResult>\n";
	assert_int_equal(delete_result(mixed, strlen(mixed), &e, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(e[0].key, "sample2.txt");
	assert_string_equal(e[0].err.code, "AccessDenied");
	assert_string_equal(e[0].err.message, "Access Denied");
	assert_string_equal(e[1].key, "a&b \xe4\xb8\xad");
	assert_string_equal(e[1].err.code, "InternalError");
	assert_string_equal(e[2].key, "no-code");
	assert_string_equal(e[2].err.code, "");
	s3_delete_errors_free(e, n);
	s3_delete_errors_free(NULL, 0);
	const char *bad[] = {"", "<Error><Code>AccessDenied</Code></Error>",
	                     "<DeleteResult><Error><Code>X</Code></Error></DeleteResult>",
	                     "<DeleteResult><Error><Key></Key></Error></DeleteResult>",
	                     "<DeleteResult><Error><Key>a</Key><Key>b</Key></Error></DeleteResult>",
	                     "<DeleteResult><Error><Key>a&#0;</Key></Error></DeleteResult>",
	                     "<DeleteResult><Error><Key>a</Key></Error>"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(delete_result(bad[i], strlen(bad[i]), &e, &n), TESS_ECORRUPT);
		assert_null(e);
		assert_int_equal(n, 0);
	}
	for (size_t k = 0; k + 1 < strlen(mixed); k++) {
		assert_int_equal(delete_result(mixed, k, &e, &n), TESS_ECORRUPT);
		assert_null(e);
	}
}

/* ---- request bodies ---------------------------------------------------------------- */

static void test_delete_request(void **state)
{
	(void)state;
	const char *keys[] = {"a", "b&c<d>\"e'f", "tab\tnl\nr\r", "\xc3\xbc/x y"};
	tess_buf b = {0};
	assert_int_equal(s3_xml_delete_request(&b, keys, 4), 0);
	const char *want = XML_DECL "<Delete><Quiet>true</Quiet><Object><Key>a</Key></Object><Object><Key>"
	                   "b&amp;c&lt;d&gt;&quot;e&apos;f</Key></Object><Object><Key>tab&#x9;nl&#xA;r&#xD;"
	                   "</Key></Object><Object><Key>\xc3\xbc/x y</Key></Object></Delete>";
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	/* refusals leave the buffer as it was */
	size_t before = b.len;
	const char *ctl[] = {"ok", "a\x01"};
	assert_int_equal(s3_xml_delete_request(&b, ctl, 2), TESS_EINVAL);
	const char *bad_utf8[] = {"\xc3("};
	assert_int_equal(s3_xml_delete_request(&b, bad_utf8, 1), TESS_EINVAL);
	const char *empty[] = {""};
	assert_int_equal(s3_xml_delete_request(&b, empty, 1), TESS_EINVAL);
	assert_int_equal(s3_xml_delete_request(&b, keys, 0), TESS_EINVAL);
	assert_int_equal(b.len, before);
	tess_buf_free(&b);
}

static void test_complete_request(void **state)
{
	(void)state;
	const char *etags[] = {"\"7778aef83f66abc1fa1e8477f296d394\"", "\"abc-2\""};
	tess_buf b = {0};
	assert_int_equal(tess_buf_append(&b, "x", 1), 0);
	assert_int_equal(s3_xml_complete_request(&b, etags, 2), 0);
	const char *want = "x" XML_DECL "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"
	                   "&quot;7778aef83f66abc1fa1e8477f296d394&quot;</ETag></Part><Part><PartNumber>2"
	                   "</PartNumber><ETag>&quot;abc-2&quot;</ETag></Part></CompleteMultipartUpload>";
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	const char *none[] = {NULL};
	assert_int_equal(s3_xml_complete_request(&b, none, 1), TESS_EINVAL);
	assert_int_equal(s3_xml_complete_request(&b, etags, 0), TESS_EINVAL);
	assert_int_equal(b.len, strlen(want));
	tess_buf_free(&b);
}

/* Random keys through the writer and back through the list reader (the
 * Delete body rewritten into a ListBucketResult): the escaping round-trips. */
static void test_escape_round_trip(void **state)
{
	(void)state;
	static const char *const pieces[] = {"a", "Z", "0", "/", " ", "&", "<", ">", "\"", "'", "\t", "\n",
	                                     "\r", "%", "+", "]]>", "&amp;", "\xc3\xa9", "\xe4\xb8\xad",
	                                     "\xf0\x9f\x98\x80", "\x7e", ";", "#"};
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	for (int round = 0; round < 200; round++) {
		char keys[8][64];
		const char *kp[8];
		size_t nk = 1 + round % 8;
		for (size_t k = 0; k < nk; k++) {
			size_t len = 0;
			int parts = 1 + (int)(x % 10);
			for (int p = 0; p < parts; p++) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				const char *piece = pieces[x % (sizeof pieces / sizeof pieces[0])];
				memcpy(keys[k] + len, piece, strlen(piece));
				len += strlen(piece);
			}
			snprintf(keys[k] + len, sizeof keys[k] - len, "%zu", k); /* distinct */
			kp[k] = keys[k];
		}
		tess_buf body = {0}, doc = {0};
		assert_int_equal(s3_xml_delete_request(&body, kp, nk), 0);
		/* <Delete><Quiet>true</Quiet><Object><Key>k</Key></Object>...</Delete>
		 *   -> <ListBucketResult><Contents><Key>k</Key><Size>7</Size></Contents>...</ListBucketResult> */
		const char *s = (const char *)body.data, *end = s + body.len;
		const char *head = XML_DECL "<Delete><Quiet>true</Quiet>";
		assert_memory_equal(s, head, strlen(head));
		s += strlen(head);
		assert_int_equal(tess_buf_append(&doc, "<ListBucketResult>", 18), 0);
		while (end - s > 9) {
			const char *obj_end = strstr(s, "</Object>");
			assert_non_null(obj_end);
			assert_memory_equal(s, "<Object>", 8);
			assert_int_equal(tess_buf_append(&doc, "<Contents>", 10), 0);
			assert_int_equal(tess_buf_append(&doc, s + 8, (size_t)(obj_end - s - 8)), 0);
			assert_int_equal(tess_buf_append(&doc, "<Size>7</Size></Contents>", 25), 0);
			s = obj_end + 9;
		}
		assert_memory_equal(s, "</Delete>", 9);
		assert_int_equal(tess_buf_append(&doc, "</ListBucketResult>", 19), 0);
		s3_list_result r;
		assert_int_equal(list((const char *)doc.data, doc.len, &r), 0);
		assert_int_equal(r.count, nk);
		for (size_t k = 0; k < nk; k++) {
			int found = 0;
			for (size_t i = 0; i < r.count; i++)
				found |= strcmp(r.items[i].key, kp[k]) == 0;
			assert_true(found);
		}
		for (size_t i = 1; i < r.count; i++)
			assert_true(strcmp(r.items[i - 1].key, r.items[i].key) < 0);
		s3_list_result_free(&r);
		tess_buf_free(&body);
		tess_buf_free(&doc);
	}
}

/* ---- dates --------------------------------------------------------------------------- */

static int iso(const char *s, int64_t *ns)
{
	char *p = exact(s, strlen(s));
	int rc = s3_parse_iso8601(p, strlen(s), ns);
	free(p);
	return rc;
}

static int http(const char *s, int64_t *ns)
{
	char *p = exact(s, strlen(s));
	int rc = s3_parse_http_date(p, strlen(s), ns);
	free(p);
	return rc;
}

static void test_iso8601(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		int64_t ns;
	} ok[] = {
		{"1970-01-01T00:00:00Z", 0},
		{"1970-01-01T00:00:00.000Z", 0},
		{"1969-12-31T23:59:59.5Z", -500000000},
		{"2026-11-22T10:15:00.123Z", 1795342500123000000LL},
		{"2026-11-22T10:15:00Z", 1795342500000000000LL},
		{"2026-11-22T10:15:00.000000001Z", 1795342500000000001LL},
		{"2026-11-22T10:15:00.123456789Z", 1795342500123456789LL},
		{"2000-02-29T00:00:00Z", 951782400000000000LL},
		{"2024-02-29T23:59:59Z", 1709251199000000000LL},
		{"1677-09-21T00:12:44Z", -9223372036000000000LL},
		{"2262-04-11T23:47:16.854775807Z", INT64_MAX},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		int64_t ns = 42;
		if (iso(ok[i].s, &ns) != 0)
			fail_msg("refused %s: %s", ok[i].s, tess_errmsg());
		assert_int_equal(ns, ok[i].ns);
	}
	const char *bad[] = {"", "2026-11-22", "2026-11-22T10:15:00", "2026-11-22T10:15:00z",
	                     "2026-11-22T10:15:00+00:00", "2026-11-22 10:15:00Z", "2026-11-22T10:15:00.Z",
	                     "2026-11-22T10:15:00.1234567890Z", "2026-11-22T10:15:00,123Z",
	                     "2026-13-22T10:15:00Z", "2026-00-22T10:15:00Z", "2026-11-31T10:15:00Z",
	                     "2026-11-00T10:15:00Z", "2026-02-29T10:15:00Z", "1900-02-29T00:00:00Z",
	                     "2026-11-22T24:00:00Z", "2026-11-22T10:60:00Z", "2026-11-22T10:15:60Z",
	                     "+026-11-22T10:15:00Z", "2026-1a-22T10:15:00Z", "1677-09-21T00:12:43Z",
	                     "2262-04-11T23:47:16.854775808Z", "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z",
	                     "2026-11-22T10:15:00.12a4Z", "2026-11-22T10:15:00Z\n"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t ns = 42;
		if (iso(bad[i], &ns) != TESS_ECORRUPT)
			fail_msg("accepted %s", bad[i]);
	}
	int64_t ns;
	assert_int_equal(s3_parse_iso8601(NULL, 0, &ns), TESS_ECORRUPT);
}

static void test_http_date(void **state)
{
	(void)state;
	int64_t ns = 0;
	assert_int_equal(http("Sun, 06 Nov 1994 08:49:37 GMT", &ns), 0);
	assert_int_equal(ns, 784111777000000000LL);
	assert_int_equal(http("Sun, 22 Nov 2026 10:15:00 GMT", &ns), 0);
	assert_int_equal(ns, 1795342500000000000LL);
	assert_int_equal(http("Thu, 01 Jan 1970 00:00:00 GMT", &ns), 0);
	assert_int_equal(ns, 0);
	assert_int_equal(http("Tue, 29 Feb 2000 12:00:00 GMT", &ns), 0);
	assert_int_equal(ns, 951825600000000000LL);
	const char *bad[] = {"", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
	                     "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT",
	                     "Xyz, 06 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
	                     "sun, 06 nov 1994 08:49:37 GMT", "Sun, 31 Feb 1994 08:49:37 GMT",
	                     "Sun, 06 Nov 1994 25:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT ",
	                     "Sun, 06 Nov 1994 08:49:37 +0000", "Sun, 00 Nov 1994 08:49:37 GMT",
	                     "Sun, 06 Nov 19a4 08:49:37 GMT", "Sun, 06 Nov 1994 08-49-37 GMT"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (http(bad[i], &ns) != TESS_ECORRUPT)
			fail_msg("accepted %s", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_rgw_url),
		cmocka_unit_test(test_list_rgw_delimiter_merge),
		cmocka_unit_test(test_list_aws_shape),
		cmocka_unit_test(test_list_empty_and_token),
		cmocka_unit_test(test_list_entities),
		cmocka_unit_test(test_list_refusals),
		cmocka_unit_test(test_list_depth),
		cmocka_unit_test(test_list_truncations),
		cmocka_unit_test(test_error_doc),
		cmocka_unit_test(test_error_truncation),
		cmocka_unit_test(test_upload_id),
		cmocka_unit_test(test_delete_result),
		cmocka_unit_test(test_delete_request),
		cmocka_unit_test(test_complete_request),
		cmocka_unit_test(test_escape_round_trip),
		cmocka_unit_test(test_iso8601),
		cmocka_unit_test(test_http_date),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
