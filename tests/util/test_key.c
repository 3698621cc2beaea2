/* tess_key_check: which keys pass, and the exact rule named for each that fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "tessera/sys/backend.h"

static void expect_valid(const char *key)
{
	int rc = tess_key_check(key);
	if (rc != 0)
		fail_msg("key '%s' (%zu bytes) was refused: %d: %s", key, strlen(key), rc,
		         tess_errmsg());
}

/* The key is refused with TESS_EINVAL and exactly this message. */
static void expect_message(const char *key, const char *message)
{
	tess_error_clear();
	int rc = tess_key_check(key);
	if (rc != TESS_EINVAL)
		fail_msg("key '%s': returned %d, expected TESS_EINVAL", key ? key : "(null)", rc);
	if (strcmp(tess_errmsg(), message) != 0)
		fail_msg("key '%s': message \"%s\", expected \"%s\"", key ? key : "(null)",
		         tess_errmsg(), message);
}

/* The key is refused for `rule`, and the message names the key. */
static void expect_invalid(const char *key, const char *rule)
{
	char message[2048];
	snprintf(message, sizeof message, "invalid key '%.200s': %s", key, rule);
	expect_message(key, message);
}

/* Fill buf with segments of the given lengths joined by '/'. */
static void make_key(char *buf, const int *segments, size_t n)
{
	size_t at = 0;
	for (size_t s = 0; s < n; s++) {
		if (s)
			buf[at++] = '/';
		memset(buf + at, (int)('a' + s % 26), (size_t)segments[s]);
		at += (size_t)segments[s];
	}
	buf[at] = '\0';
}

static void test_valid_keys(void **state)
{
	(void)state;
	static const char *const keys[] = {
		"a",
		"a/b/c",
		"données/événement-π/日本.bin",
		"emoji/😀.bin",
		"emoji/👩‍💻/café",
		"a..b",
		".zattrs",
		"g/.zarray",
		"...",
		"a/...",
		"..a",
		"a..",
		"x.",
		".a/b",
		"sp ace/tab-less",
		"~/%41?#:*\"'",
		"\xf4\x8f\xbf\xbf",  /* U+10FFFF, the last code point */
		"\xef\xbf\xbf",      /* U+FFFF */
		"\xed\x9f\xbf",      /* U+D7FF, just below the surrogates */
		"\xee\x80\x80",      /* U+E000, just above them */
		"\xc2\x80",          /* U+0080, the smallest two-byte form */
		"\x7e",
	};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		expect_valid(keys[i]);
}

static void test_valid_long_keys(void **state)
{
	(void)state;
	char key[TESS_KEY_MAX + 300];

	/* one segment of exactly TESS_KEY_SEGMENT_MAX bytes */
	static const int one[] = {TESS_KEY_SEGMENT_MAX};
	make_key(key, one, 1);
	expect_valid(key);

	/* segments are counted in bytes: 127 x "é" + "x" = 255 bytes */
	size_t at = 0;
	for (int i = 0; i < 127; i++) {
		key[at++] = (char)0xC3;
		key[at++] = (char)0xA9;
	}
	key[at++] = 'x';
	key[at] = '\0';
	expect_valid(key);

	/* exactly TESS_KEY_MAX bytes */
	static const int full[] = {255, 255, 255, 254, 1};
	make_key(key, full, 5);
	assert_int_equal(strlen(key), TESS_KEY_MAX);
	expect_valid(key);
}

static void test_structure_rules(void **state)
{
	(void)state;
	expect_message(NULL, "invalid key: NULL");
	expect_message("", "invalid key: empty");
	expect_invalid("/a", "absolute (starts with '/')");
	expect_invalid("/", "absolute (starts with '/')");
	expect_invalid("a/", "ends with '/'");
	expect_invalid("a/b/", "ends with '/'");
	expect_invalid("a//b", "empty segment ('//')");
	expect_invalid("a/b//", "empty segment ('//')");
	expect_invalid(".", "'.' segment");
	expect_invalid("./a", "'.' segment");
	expect_invalid("a/./b", "'.' segment");
	expect_invalid("a/.", "'.' segment");
	expect_invalid("..", "'..' segment");
	expect_invalid("../a", "'..' segment");
	expect_invalid("a/../b", "'..' segment");
	expect_invalid("a/..", "'..' segment");
}

static void test_character_rules(void **state)
{
	(void)state;
	expect_invalid("a\\b", "contains a backslash");
	expect_invalid("\\", "contains a backslash");
	static const char *const controls[] = {("a\x01" "b"), "a\tb", "a\nb", "\r", "a\x1f",
	                                       "a\x7f", "x/\x1b[0m"};
	for (size_t i = 0; i < sizeof controls / sizeof controls[0]; i++)
		expect_invalid(controls[i], "contains a control character");
}

static void test_utf8_rules(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"\xc0\xaf",             /* overlong '/' in two bytes */
		"\xc1\xbf",             /* overlong U+007F */
		"\xe0\x80\xaf",         /* overlong '/' in three bytes */
		"\xe0\x9f\xbf",         /* overlong U+07FF */
		"\xf0\x80\x80\xaf",     /* overlong '/' in four bytes */
		"\xf0\x8f\xbf\xbf",     /* overlong U+FFFF */
		"a/\xed\xa0\x80",       /* surrogate U+D800 */
		"\xed\xbf\xbf",         /* surrogate U+DFFF */
		"\xed\xa0\xbd\xed\xb8\x80", /* a surrogate pair (CESU-8) */
		"\xf4\x90\x80\x80",     /* U+110000, past the last code point */
		"\xc3",                 /* truncated at the end */
		"a\xe2\x82",            /* truncated three-byte sequence */
		"\xe2\x82/b",           /* truncated before a '/' */
		"\xf0\x9f\x98",         /* truncated emoji */
		"\x80",                 /* a lone continuation byte */
		("a\xbf" "b"),
		"\xff",
		"\xfe",
		"\xf8\x88\x80\x80\x80", /* five-byte form */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_invalid(bad[i], "not valid UTF-8");
}

static void test_length_rules(void **state)
{
	(void)state;
	char key[TESS_KEY_MAX + 300];
	char message[256];

	/* TESS_KEY_MAX + 1 bytes, every segment fine */
	static const int too_long[] = {255, 255, 255, 255, 1};
	make_key(key, too_long, 5);
	assert_int_equal(strlen(key), TESS_KEY_MAX + 1);
	snprintf(message, sizeof message, "invalid key '%.40s...': %d bytes, longer than %d",
	         key, TESS_KEY_MAX + 1, TESS_KEY_MAX);
	expect_message(key, message);

	/* a segment of TESS_KEY_SEGMENT_MAX + 1 bytes, first, middle or last */
	static const int first[] = {256, 3};
	static const int middle[] = {1, 256, 1};
	static const int last[] = {3, 256};
	make_key(key, first, 2);
	expect_invalid(key, "a segment is longer than 255 bytes");
	make_key(key, middle, 3);
	expect_invalid(key, "a segment is longer than 255 bytes");
	make_key(key, last, 2);
	expect_invalid(key, "a segment is longer than 255 bytes");

	/* 128 x "é" is 256 bytes although only 128 characters */
	size_t at = 0;
	for (int i = 0; i < 128; i++) {
		key[at++] = (char)0xC3;
		key[at++] = (char)0xA9;
	}
	key[at] = '\0';
	expect_invalid(key, "a segment is longer than 255 bytes");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_keys),
		cmocka_unit_test(test_valid_long_keys),
		cmocka_unit_test(test_structure_rules),
		cmocka_unit_test(test_character_rules),
		cmocka_unit_test(test_utf8_rules),
		cmocka_unit_test(test_length_rules),
	};
	return cmocka_run_group_tests_name("key", tests, NULL, NULL);
}
