#include "util/json.h"
#include "util/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The decimal next to sci ("[-]d[.ddd]e[+-]XX") with as many digits, one
 * unit in the last digit up or down in magnitude: "9.99e+00" up is
 * "1.00e+01", "1.00e+01" down is "9.99e+00". */
static void bump_last_digit(char *sci, int up)
{
	char digits[24], *o = sci;
	size_t n = 0;
	const char *p = sci;
	if (*p == '-')
		*o++ = *p++;
	for (; *p != 'e'; p++)
		if (*p != '.')
			digits[n++] = *p;
	int exp10 = atoi(p + 1);
	size_t i = n;
	while (i-- > 0) {
		if (up ? digits[i] != '9' : digits[i] != '0') {
			digits[i] = (char)(digits[i] + (up ? 1 : -1));
			break;
		}
		digits[i] = up ? '0' : '9';
	}
	if (up && i == (size_t)-1) { /* 9.99 -> 10.0: one more power of ten */
		digits[0] = '1';
		exp10++;
	} else if (!up && digits[0] == '0') { /* 1.00 -> 0.99 -> 9.99 */
		memmove(digits, digits + 1, n - 1);
		digits[n - 1] = '9';
		exp10--;
	}
	*o++ = digits[0];
	if (n > 1) {
		*o++ = '.';
		memcpy(o, digits + 1, n - 1);
		o += n - 1;
	}
	sprintf(o, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
}

int tess_json_format_double(char *dst, double v)
{
	/* Shortest %.Ne that round-trips, as Python's repr does.  The nearest
	 * decimal of N+1 digits may miss v while its neighbour on v's other
	 * side hits it: below a power of two doubles are twice as dense, so
	 * the decimals that round to v reach farther up than down (2^-24 is
	 * "5.960464477539063e-08", not "...0625e-08"). */
	char sci[40];
	for (int prec = 0; prec < 17; prec++) {
		snprintf(sci, sizeof sci, "%.*e", prec, v);
		double near = strtod(sci, NULL);
		if (near == v)
			break;
		bump_last_digit(sci, fabs(near) < fabs(v));
		if (strtod(sci, NULL) == v)
			break;
	}
	/* sci: [-]d[.ddd]e[+-]XX  -> digits and a decimal exponent */
	char digits[24];
	size_t nd = 0;
	const char *p = sci;
	int neg = 0;
	if (*p == '-') {
		neg = 1;
		p++;
	}
	for (; *p && *p != 'e'; p++)
		if (*p != '.')
			digits[nd++] = *p;
	int exp10 = atoi(p + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	char *o = dst;
	if (neg)
		*o++ = '-';
	if (exp10 < -4 || exp10 >= 16) {
		*o++ = digits[0];
		if (nd > 1) {
			*o++ = '.';
			memcpy(o, digits + 1, nd - 1);
			o += nd - 1;
		}
		o += sprintf(o, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
	} else if (exp10 < 0) {
		*o++ = '0';
		*o++ = '.';
		for (int i = -1; i > exp10; i--)
			*o++ = '0';
		memcpy(o, digits, nd);
		o += nd;
	} else {
		size_t int_len = (size_t)exp10 + 1;
		for (size_t i = 0; i < int_len; i++)
			*o++ = i < nd ? digits[i] : '0';
		*o++ = '.';
		if (nd > int_len) {
			memcpy(o, digits + int_len, nd - int_len);
			o += nd - int_len;
		} else {
			*o++ = '0';
		}
	}
	*o = '\0';
	return (int)(o - dst);
}

/* ---- integers above INT64_MAX ------------------------------------------------ */

static const char u64_tag[] = "\0u64:";
#define U64_TAG_LEN 5

json_t *tess_json_u64(uint64_t v)
{
	if (v <= INT64_MAX)
		return json_integer((json_int_t)v);
	char tag[32];
	memcpy(tag, u64_tag, U64_TAG_LEN);
	int nd = snprintf(tag + U64_TAG_LEN, sizeof tag - U64_TAG_LEN, "%llu", (unsigned long long)v);
	return json_stringn(tag, U64_TAG_LEN + (size_t)nd);
}

int tess_json_u64_value(const json_t *v, uint64_t *out)
{
	if (!json_is_string(v) || json_string_length(v) <= U64_TAG_LEN ||
	    memcmp(json_string_value(v), u64_tag, U64_TAG_LEN) != 0)
		return 0;
	char *end;
	*out = strtoull(json_string_value(v) + U64_TAG_LEN, &end, 10);
	return *end == '\0';
}

/* Copy the number token at text[i] to o (at *n), as a tagged string when
 * it is an integer above INT64_MAX and at most UINT64_MAX.  Returns the
 * index after the token. */
static size_t copy_number(const char *text, size_t len, size_t i, char *o, size_t *n)
{
	size_t start = i;
	int digits_only = text[i] != '-';
	while (i < len && text[i] != '\0' && strchr("0123456789+-.eE", text[i])) {
		digits_only &= text[i] >= '0' && text[i] <= '9';
		i++;
	}
	size_t tok = i - start;
	int big = 0;
	if (digits_only && tok >= 19 && tok <= 20 && text[start] != '0') {
		char num[24];
		memcpy(num, text + start, tok);
		num[tok] = '\0';
		big = tok == 20 ? strcmp(num, "18446744073709551615") <= 0
		                : strcmp(num, "9223372036854775807") > 0;
	}
	if (big) {
		memcpy(o + *n, "\"\\u0000u64:", 11);
		*n += 11;
	}
	memcpy(o + *n, text + start, tok);
	*n += tok;
	if (big)
		o[(*n)++] = '"';
	return i;
}

/* Rewrite integer literals above INT64_MAX (uint64 fill values that
 * zarr-python writes, like 18446744073709551615) as tagged strings, so that
 * jansson can load the document.  Strings are copied untouched. */
static int tag_big_integers(const char *text, size_t len, char **out, size_t *out_len)
{
	char *o = malloc(len * 2 + 16); /* a 19-digit token grows to 31 bytes */
	if (!o)
		return tess_err(TESS_ENOMEM, "out of memory parsing JSON");
	size_t n = 0;
	int in_string = 0;
	for (size_t i = 0; i < len;) {
		char c = text[i];
		if (!in_string && (c == '-' || (c >= '0' && c <= '9'))) {
			i = copy_number(text, len, i, o, &n);
			continue;
		}
		o[n++] = c;
		i++;
		if (in_string && c == '\\' && i < len)
			o[n++] = text[i++];
		else if (c == '"')
			in_string = !in_string;
	}
	*out = o;
	*out_len = n;
	return 0;
}

json_t *tess_json_loadb(const char *text, size_t len, json_error_t *err)
{
	const size_t flags = JSON_DECODE_ANY | JSON_ALLOW_NUL;
	json_t *v = json_loadb(text, len, flags, err);
	if (!v && json_error_code(err) == json_error_numeric_overflow) {
		char *tagged = NULL;
		size_t tagged_len = 0;
		if (tag_big_integers(text, len, &tagged, &tagged_len) == 0)
			v = json_loadb(tagged, tagged_len, flags, err);
		free(tagged);
	}
	return v;
}

static int put_str(tess_buf *out, const char *s) { return tess_buf_append(out, s, strlen(s)); }

/* Python's ensure_ascii escaping: everything outside ' '..'~' is escaped. */
static int put_string(tess_buf *out, const char *s, size_t len)
{
	int rc = put_str(out, "\"");
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	while (!rc && p < end) {
		unsigned c = *p;
		char esc[16];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			esc[2] = 0;
			p++;
		} else if (c >= 0x20 && c < 0x7F) {
			esc[0] = (char)c;
			esc[1] = 0;
			p++;
		} else if (c < 0x80) {
			const char *named = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t"
			                  : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
			if (named)
				strcpy(esc, named);
			else
				snprintf(esc, sizeof esc, "\\u%04x", c);
			p++;
		} else {
			/* jansson guarantees valid UTF-8 in strings */
			unsigned n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
			unsigned cp = c & (0x3F >> (n - 1));
			for (unsigned i = 1; i < n && p + i < end; i++)
				cp = (cp << 6) | (p[i] & 0x3F);
			p += n;
			if (cp >= 0x10000) {
				cp -= 0x10000;
				snprintf(esc, sizeof esc, "\\u%04x\\u%04x", 0xD800 + (cp >> 10),
				         0xDC00 + (cp & 0x3FF));
			} else {
				snprintf(esc, sizeof esc, "\\u%04x", cp);
			}
		}
		rc = put_str(out, esc);
	}
	return rc ? rc : put_str(out, "\"");
}

static int indent(tess_buf *out, int depth)
{
	int rc = put_str(out, "\n");
	for (int i = 0; !rc && i < depth; i++)
		rc = put_str(out, "    ");
	return rc;
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int dump(tess_buf *out, const json_t *v, int depth);

static int dump_object(tess_buf *out, const json_t *v, int depth)
{
	size_t n = json_object_size(v);
	if (n == 0)
		return put_str(out, "{}");
	const char **keys = malloc(n * sizeof *keys);
	if (!keys)
		return tess_err(TESS_ENOMEM, "out of memory writing JSON");
	size_t i = 0;
	const char *k;
	json_t *val;
	json_object_foreach((json_t *)v, k, val) keys[i++] = k;
	/* strcmp on UTF-8 orders by code point, as Python's sort does (for
	 * keys without surrogates). */
	qsort(keys, n, sizeof *keys, cmp_keys);
	int rc = put_str(out, "{");
	for (i = 0; !rc && i < n; i++) {
		rc = indent(out, depth + 1);
		if (!rc)
			rc = put_string(out, keys[i], strlen(keys[i]));
		if (!rc)
			rc = put_str(out, ": ");
		if (!rc)
			rc = dump(out, json_object_get(v, keys[i]), depth + 1);
		if (!rc && i + 1 < n)
			rc = put_str(out, ",");
	}
	free(keys);
	if (!rc)
		rc = indent(out, depth);
	return rc ? rc : put_str(out, "}");
}

static int dump_array(tess_buf *out, const json_t *v, int depth)
{
	size_t n = json_array_size(v);
	if (n == 0)
		return put_str(out, "[]");
	int rc = put_str(out, "[");
	for (size_t i = 0; !rc && i < n; i++) {
		rc = indent(out, depth + 1);
		if (!rc)
			rc = dump(out, json_array_get(v, i), depth + 1);
		if (!rc && i + 1 < n)
			rc = put_str(out, ",");
	}
	if (!rc)
		rc = indent(out, depth);
	return rc ? rc : put_str(out, "]");
}

static int dump(tess_buf *out, const json_t *v, int depth)
{
	char num[48];
	switch (json_typeof(v)) {
	case JSON_OBJECT: return dump_object(out, v, depth);
	case JSON_ARRAY: return dump_array(out, v, depth);
	case JSON_STRING: {
		uint64_t big;
		if (tess_json_u64_value(v, &big)) {
			snprintf(num, sizeof num, "%llu", (unsigned long long)big);
			return put_str(out, num);
		}
		return put_string(out, json_string_value(v), json_string_length(v));
	}
	case JSON_INTEGER:
		snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
		return put_str(out, num);
	case JSON_REAL: {
		double d = json_real_value(v);
		if (isnan(d))
			return put_str(out, "NaN");
		if (isinf(d))
			return put_str(out, d > 0 ? "Infinity" : "-Infinity");
		tess_json_format_double(num, d);
		return put_str(out, num);
	}
	case JSON_TRUE: return put_str(out, "true");
	case JSON_FALSE: return put_str(out, "false");
	case JSON_NULL: return put_str(out, "null");
	}
	return tess_err(TESS_EINVAL, "JSON value of unknown type");
}

int tess_json_dump(tess_buf *out, const json_t *v)
{
	if (!v)
		return tess_err(TESS_EINVAL, "no JSON value to write");
	return dump(out, v, 0);
}

int tess_json_dumps(char **out, const json_t *v)
{
	tess_buf buf = {0};
	int rc = tess_json_dump(&buf, v);
	if (!rc)
		rc = tess_buf_append(&buf, "", 1);
	if (rc) {
		tess_buf_free(&buf);
		*out = NULL;
		return rc;
	}
	*out = (char *)buf.data;
	return 0;
}

int tess_json_parse(json_t **out, const char *text, size_t len, const char *what)
{
	json_error_t err;
	*out = tess_json_loadb(text, len, &err);
	if (!*out)
		return tess_err(TESS_EINVAL, "%s: not valid JSON: line %d column %d: %s", what,
		                err.line, err.column, err.text);
	return 0;
}
