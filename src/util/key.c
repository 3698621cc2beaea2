/* Key validation: the one gate every key passes before a backend sees it. */
#include "util/error.h"
#include "tessera/sys/backend.h"

#include <string.h>

/* Length of the UTF-8 sequence at s (1..4), or 0 if it is not valid UTF-8
 * (overlong forms, surrogates and code points past U+10FFFF are invalid). */
static size_t utf8_seq_len(const unsigned char *s)
{
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	size_t n;
	unsigned min, cp;
	if ((c & 0xE0) == 0xC0) { n = 2; min = 0x80; cp = c & 0x1F; }
	else if ((c & 0xF0) == 0xE0) { n = 3; min = 0x800; cp = c & 0x0F; }
	else if ((c & 0xF8) == 0xF0) { n = 4; min = 0x10000; cp = c & 0x07; }
	else return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

static int bad_key(const char *key, const char *why)
{
	return tess_err(TESS_EINVAL, "invalid key '%.200s': %s", key, why);
}

int tess_key_check(const char *key)
{
	if (!key)
		return tess_err(TESS_EINVAL, "invalid key: NULL");
	size_t len = strlen(key);
	if (len == 0)
		return tess_err(TESS_EINVAL, "invalid key: empty");
	if (len > TESS_KEY_MAX)
		return tess_err(TESS_EINVAL, "invalid key '%.40s...': %zu bytes, longer than %d",
		                key, len, TESS_KEY_MAX);
	if (key[0] == '/')
		return bad_key(key, "absolute (starts with '/')");
	const unsigned char *p = (const unsigned char *)key;
	size_t seg = 0;
	for (size_t i = 0; i <= len;) {
		if (i == len || p[i] == '/') {
			if (seg == 0)
				return bad_key(key, i == len ? "ends with '/'" : "empty segment ('//')");
			if (seg == 1 && p[i - 1] == '.')
				return bad_key(key, "'.' segment");
			if (seg == 2 && p[i - 1] == '.' && p[i - 2] == '.')
				return bad_key(key, "'..' segment");
			if (seg > TESS_KEY_SEGMENT_MAX)
				return bad_key(key, "a segment is longer than 255 bytes");
			seg = 0;
			i++;
			continue;
		}
		if (p[i] == '\\')
			return bad_key(key, "contains a backslash");
		if (p[i] < 0x20 || p[i] == 0x7F)
			return bad_key(key, "contains a control character");
		size_t n = utf8_seq_len(p + i);
		if (n == 0)
			return bad_key(key, "not valid UTF-8");
		seg += n;
		i += n;
	}
	return 0;
}
