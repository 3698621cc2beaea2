/*
 * Array metadata: Zarr v2 `.zarray` and v3 `zarr.json` parsed into one
 * tess_meta, written back the way zarr-python writes it, and built from the
 * public creation options.  docs/zarr.md describes what is accepted, written
 * and refused; the rules live here.
 *
 * Byte orders: a v2 dtype carries its own ('<f8', '>i4'), and chunks are
 * stored in it.  A v3 data_type has none: the dtype is little endian ('|' for
 * 1-byte types) and the bytes codec's "endian" is the stored order
 * (pipeline.endian; for sharded arrays the inner pipeline's).  The fill value
 * is kept in the stored order.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array/meta.h"
#include "util/error.h"
#include "util/json.h"

/* ==== messages ============================================================== */

/* Where a message comes from and which code a malformed value gets:
 * TESS_ECORRUPT for stored metadata, TESS_EINVAL for creation options. */
typedef struct pctx {
	const char *what;
	int code;
} pctx;

TESS_PRINTF(3, 4)
static int fail(const pctx *p, int code, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return tess_err(code, "%s: %s", p->what, msg);
}

#define BAD(p, ...) fail((p), (p)->code, __VA_ARGS__)
#define UNSUP(p, ...) fail((p), TESS_ENOTSUP, __VA_ARGS__)

static int nomem(void)
{
	return tess_err(TESS_ENOMEM, "out of memory handling array metadata");
}

/* The text of a string without NUL characters, else NULL. */
static const char *plain_str(const json_t *v)
{
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return json_string_value(v);
}

/* A short JSON rendering of a value for messages. */
static const char *brief(const json_t *v, char *buf, size_t cap)
{
	uint64_t big;
	if (!v) {
		snprintf(buf, cap, "nothing");
		return buf;
	}
	if (tess_json_u64_value(v, &big)) {
		snprintf(buf, cap, "%llu", (unsigned long long)big);
		return buf;
	}
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!s) {
		snprintf(buf, cap, "(a JSON value)");
		return buf;
	}
	if (strlen(s) >= cap && cap > 4)
		snprintf(buf, cap, "%.*s...", (int)(cap - 4), s);
	else
		snprintf(buf, cap, "%s", s);
	free(s);
	return buf;
}

#define BRIEF(v) brief((v), (char[80]){0}, 80)

/* "[10, 20]" for messages. */
static const char *dims_str(char *buf, size_t cap, const uint64_t *d, int n)
{
	size_t used = (size_t)snprintf(buf, cap, "[");
	for (int i = 0; i < n && used < cap; i++)
		used += (size_t)snprintf(buf + used, cap - used, "%s%llu", i ? ", " : "",
		                         (unsigned long long)d[i]);
	if (used < cap)
		snprintf(buf + used, cap - used, "]");
	return buf;
}

#define DIMS(d, n) dims_str((char[400]){0}, 400, (d), (n))

/* ==== loading JSON ============================================================ */

static int load_json(const pctx *p, const char *text, size_t len, json_t **out)
{
	json_error_t e;
	*out = tess_json_loadb(text, len, &e);
	if (!*out)
		return BAD(p, "not valid JSON: line %d column %d: %s", e.line, e.column, e.text);
	return 0;
}

/* ==== numbers in bytes ========================================================= */

static void store_uint(uint8_t *dst, unsigned size, char endian, uint64_t v)
{
	for (unsigned i = 0; i < size; i++, v >>= 8)
		dst[endian == '>' ? size - 1 - i : i] = (uint8_t)v;
}

static uint64_t load_uint(const uint8_t *src, unsigned size, char endian)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)src[endian == '>' ? size - 1 - i : i] << (8 * i);
	return v;
}

static uint64_t bits_of_double(double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof u);
	return u;
}

static double double_of_bits(uint64_t u)
{
	double d;
	memcpy(&d, &u, sizeof d);
	return d;
}

/* IEEE half from double, rounding to nearest even (as NumPy does). */
static uint16_t half_from_double(double d)
{
	uint64_t u = bits_of_double(d);
	uint16_t sign = (uint16_t)((u >> 48) & 0x8000);
	int exp = (int)((u >> 52) & 0x7ff);
	uint64_t mant = u & ((UINT64_C(1) << 52) - 1);
	if (exp == 0x7ff) {
		if (!mant)
			return sign | 0x7c00;
		uint16_t h = (uint16_t)(0x7c00 | (mant >> 42));
		return sign | (h == 0x7c00 ? 0x7c01 : h);
	}
	if (exp == 0)
		return sign; /* double subnormals are far below half's range */
	int e = exp - 1023 + 15; /* biased half exponent */
	if (e >= 0x1f)
		return sign | 0x7c00;
	uint64_t m = mant | (UINT64_C(1) << 52);
	unsigned shift = e >= 1 ? 42 : (unsigned)(42 + 1 - e);
	if (shift > 53)
		return sign;
	uint64_t q = m >> shift, r = m & ((UINT64_C(1) << shift) - 1), half = UINT64_C(1) << (shift - 1);
	if (r > half || (r == half && (q & 1)))
		q++;
	/* normal: the implicit bit in q adds one to (e - 1); a carry out of the
	 * mantissa moves to the next exponent (up to infinity) by itself */
	uint32_t h = e >= 1 ? ((uint32_t)(e - 1) << 10) + (uint32_t)q : (uint32_t)q;
	return (uint16_t)(sign | h);
}

static double double_from_half(uint16_t h)
{
	double sign = (h & 0x8000) ? -1.0 : 1.0;
	int e = (h >> 10) & 0x1f;
	unsigned f = h & 0x3ff;
	if (e == 0)
		return sign * ldexp(f, -24);
	if (e == 0x1f)
		return f ? NAN : sign * INFINITY;
	return sign * ldexp(f | 0x400, e - 25);
}

static uint64_t float_bits(double d, unsigned size)
{
	if (size == 2)
		return half_from_double(d);
	if (size == 4) {
		float f = (float)d;
		uint32_t u;
		memcpy(&u, &f, sizeof u);
		return u;
	}
	return bits_of_double(d);
}

static double float_value(uint64_t bits, unsigned size)
{
	if (size == 2)
		return double_from_half((uint16_t)bits);
	if (size == 4) {
		uint32_t u = (uint32_t)bits;
		float f;
		memcpy(&f, &u, sizeof f);
		return f;
	}
	return double_of_bits(bits);
}

/* Exponent field all ones, for sizes 2, 4, 8. */
static uint64_t exp_mask(unsigned size)
{
	return size == 2 ? 0x7c00 : size == 4 ? 0x7f800000 : UINT64_C(0x7ff0000000000000);
}

static uint64_t mant_mask(unsigned size)
{
	return size == 2 ? 0x3ff : size == 4 ? 0x7fffff : (UINT64_C(1) << 52) - 1;
}

static uint64_t sign_bit(unsigned size)
{
	return UINT64_C(1) << (size * 8 - 1);
}

/* The NaN "NaN" denotes in v3: sign 0, only the mantissa's top bit set. */
static uint64_t canonical_nan(unsigned size)
{
	return exp_mask(size) | ((mant_mask(size) >> 1) + 1);
}

/* ==== base64 (Python's base64.standard_b64encode / b64decode) ================= */

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const uint8_t *in, size_t len)
{
	char *out = malloc((len + 2) / 3 * 4 + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = b64_alphabet[(v >> 18) & 63];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? b64_alphabet[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

static int b64_value(unsigned char c)
{
	const char *p = c ? strchr(b64_alphabet, c) : NULL;
	return p ? (int)(p - b64_alphabet) : -1;
}

/* Decode the way binascii.a2b_base64 does in its default, non-strict mode:
 * characters outside the alphabet are skipped, a complete pad sequence ends
 * the input, and a final partial quad is an error (-1).  `out` has room for
 * len bytes. */
static int b64_decode(const char *in, size_t len, uint8_t *out, size_t *out_len)
{
	size_t n = 0;
	int quad = 0, pads = 0;
	unsigned left = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '=') {
			if (quad >= 2 && quad + ++pads >= 4)
				goto done;
			continue;
		}
		int v = b64_value(c);
		if (v < 0)
			continue;
		pads = 0;
		switch (quad) {
		case 0: left = (unsigned)v; quad = 1; break;
		case 1: out[n++] = (uint8_t)((left << 2) | ((unsigned)v >> 4)); left = (unsigned)v & 0xf; quad = 2; break;
		case 2: out[n++] = (uint8_t)((left << 4) | ((unsigned)v >> 2)); left = (unsigned)v & 0x3; quad = 3; break;
		default: out[n++] = (uint8_t)((left << 6) | (unsigned)v); quad = 0; break;
		}
	}
	if (quad != 0)
		return -1;
done:
	*out_len = n;
	return 0;
}

/* ==== fill values: JSON -> bytes ================================================ */

typedef struct fill_ctx {
	const pctx *p;
	const tess_dtype *dt;
	char endian; /* stored byte order */
	int v3;
} fill_ctx;

/* A float component (size 2, 4 or 8) from JSON into bits. */
static int fill_float(const fill_ctx *f, const json_t *v, unsigned size, const char *field,
                      uint64_t *bits)
{
	uint64_t big;
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if (size == 4) {
			float x = (float)i; /* one rounding, as NumPy converts ints */
			uint32_t u;
			memcpy(&u, &x, sizeof u);
			*bits = u;
		} else {
			*bits = float_bits((double)i, size);
		}
		return 0;
	}
	if (json_is_real(v)) {
		*bits = float_bits(json_real_value(v), size);
		return 0;
	}
	if (tess_json_u64_value(v, &big)) {
		*bits = float_bits((double)big, size);
		return 0;
	}
	const char *s = plain_str(v);
	if (s) {
		if (strcmp(s, "NaN") == 0) {
			*bits = canonical_nan(size);
			return 0;
		}
		if (strcmp(s, "Infinity") == 0 || strcmp(s, "-Infinity") == 0) {
			*bits = exp_mask(size) | (s[0] == '-' ? sign_bit(size) : 0);
			return 0;
		}
		if (f->v3 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
			size_t nd = strlen(s + 2);
			char *end;
			if (nd >= 1 && nd <= size * 2 && strspn(s + 2, "0123456789abcdefABCDEF") == nd) {
				*bits = strtoull(s + 2, &end, 16);
				return 0;
			}
			return BAD(f->p, "%s: \"%s\" is not a hex float of %u bytes", field, s, size);
		}
	}
	return BAD(f->p, "%s: expected a number, \"NaN\", \"Infinity\" or \"-Infinity\"%s for %s, got %s",
	           field, f->v3 ? " or \"0x...\"" : "", f->v3 ? tess_dtype_v3_name(f->dt) : "a float dtype",
	           BRIEF(v));
}

static int fill_int(const fill_ctx *f, const json_t *v, uint8_t *out)
{
	unsigned size = f->dt->itemsize;
	int is_signed = f->dt->kind == TESS_DT_INT;
	uint64_t big;
	int neg = 0;
	uint64_t mag;
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		neg = i < 0;
		mag = neg ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
	} else if (tess_json_u64_value(v, &big)) {
		mag = big;
	} else if (!f->v3 && json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
	           fabs(json_real_value(v)) < 9.2e18) {
		/* v2 readers convert with NumPy, which takes 3.0 for 3 */
		double d = json_real_value(v);
		neg = d < 0;
		mag = (uint64_t)fabs(d);
	} else {
		return BAD(f->p, "fill_value: expected an integer for an %s dtype of %u bytes, got %s",
		           is_signed ? "int" : "uint", size, BRIEF(v));
	}
	uint64_t max = size == 8 ? UINT64_MAX : (UINT64_C(1) << (size * 8)) - 1;
	if (is_signed)
		max >>= 1;
	if ((neg && (!is_signed || mag > max + 1)) || (!neg && mag > max))
		return BAD(f->p, "fill_value: %s is out of range for %s%u", BRIEF(v),
		           is_signed ? "int" : "uint", size * 8);
	store_uint(out, size, f->endian, neg ? (uint64_t)0 - mag : mag);
	return 0;
}

static int fill_bool(const fill_ctx *f, const json_t *v, uint8_t *out)
{
	if (json_is_boolean(v)) {
		out[0] = json_is_true(v);
		return 0;
	}
	if (!f->v3 && json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
		out[0] = (uint8_t)json_integer_value(v);
		return 0;
	}
	return BAD(f->p, "fill_value: expected true or false for bool, got %s", BRIEF(v));
}

/* 'S': base64 (zarr-python's encoding); like zarr-python, text that is not
 * base64 is taken as the bytes themselves, and an integer as its digits. */
static int fill_bytes(const fill_ctx *f, const json_t *v, uint8_t *out)
{
	size_t n = f->dt->itemsize, len;
	char digits[32];
	const char *s;
	if (json_is_integer(v)) {
		len = (size_t)snprintf(digits, sizeof digits, "%lld", (long long)json_integer_value(v));
		s = digits;
	} else if (json_is_string(v)) {
		s = json_string_value(v);
		len = json_string_length(v);
	} else {
		return BAD(f->p, "fill_value: expected a base64 string for |S%u, got %s",
		           f->dt->itemsize, BRIEF(v));
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return BAD(f->p, "fill_value: %s is neither base64 nor ASCII", BRIEF(v));
	uint8_t *dec = malloc(len + 1);
	if (!dec)
		return nomem();
	size_t dec_len;
	if (s != digits && b64_decode(s, len, dec, &dec_len) == 0) {
		memcpy(out, dec, dec_len < n ? dec_len : n);
	} else {
		memcpy(out, s, len < n ? len : n);
	}
	free(dec);
	return 0;
}

/* Next code point of valid UTF-8 (jansson guarantees validity). */
static uint32_t utf8_next(const unsigned char **pp)
{
	const unsigned char *p = *pp;
	uint32_t c = *p++;
	int more = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
	c &= more == 3 ? 0x07 : more == 2 ? 0x0F : more == 1 ? 0x1F : 0x7F;
	while (more-- > 0 && (*p & 0xC0) == 0x80)
		c = (c << 6) | (*p++ & 0x3F);
	*pp = p;
	return c;
}

/* 'U': the string as UCS-4 code units, cut to the dtype's length (as NumPy
 * does when it fills), zero padded. */
static int fill_unicode(const fill_ctx *f, const json_t *v, uint8_t *out)
{
	char digits[32];
	const char *s;
	size_t len;
	if (json_is_integer(v)) {
		len = (size_t)snprintf(digits, sizeof digits, "%lld", (long long)json_integer_value(v));
		s = digits;
	} else if (json_is_string(v)) {
		s = json_string_value(v);
		len = json_string_length(v);
	} else {
		return BAD(f->p, "fill_value: expected a string for a U dtype, got %s", BRIEF(v));
	}
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	for (size_t i = 0; i < f->dt->itemsize / 4 && p < end; i++)
		store_uint(out + 4 * i, 4, f->endian, utf8_next(&p));
	return 0;
}

static int fill_complex(const fill_ctx *f, const json_t *v, uint8_t *out)
{
	unsigned half = f->dt->itemsize / 2;
	if (!json_is_array(v) || json_array_size(v) != 2)
		return BAD(f->p, "fill_value: expected [real, imag] for a complex dtype, got %s", BRIEF(v));
	for (unsigned part = 0; part < 2; part++) {
		uint64_t bits;
		int rc = fill_float(f, json_array_get(v, part), half,
		                    part ? "fill_value[1]" : "fill_value[0]", &bits);
		if (rc)
			return rc;
		store_uint(out + part * half, half, f->endian, bits);
	}
	return 0;
}

/* Parse a fill value into out (itemsize bytes, zeroed by the caller). */
static int fill_parse(const fill_ctx *f, const json_t *v, uint8_t *out, int *is_null)
{
	*is_null = 0;
	if (!v)
		return BAD(f->p, "fill_value is missing");
	if (json_is_null(v)) {
		if (f->v3)
			return BAD(f->p, "fill_value: null is not a fill value of %s",
			           tess_dtype_v3_name(f->dt));
		*is_null = 1;
		return 0;
	}
	uint64_t bits;
	int rc;
	switch (f->dt->kind) {
	case TESS_DT_BOOL: return fill_bool(f, v, out);
	case TESS_DT_INT:
	case TESS_DT_UINT: return fill_int(f, v, out);
	case TESS_DT_FLOAT:
		rc = fill_float(f, v, f->dt->itemsize, "fill_value", &bits);
		if (!rc)
			store_uint(out, f->dt->itemsize, f->endian, bits);
		return rc;
	case TESS_DT_COMPLEX: return fill_complex(f, v, out);
	case TESS_DT_BYTES: return fill_bytes(f, v, out);
	case TESS_DT_UNICODE: return fill_unicode(f, v, out);
	}
	return BAD(f->p, "fill_value: unknown dtype kind");
}

/* ==== small JSON builders ======================================================== */

/* Each returns nonzero when the value could not be made or attached; callers
 * OR the results together and report ENOMEM once.  jansson takes the value
 * in every case (it releases it when attaching fails), so nothing leaks. */
static int put(json_t *obj, const char *key, json_t *v)
{
	return !v || json_object_set_new(obj, key, v) != 0;
}

static int push(json_t *arr, json_t *v)
{
	return !v || json_array_append_new(arr, v) != 0;
}

static json_t *dims_json(const uint64_t *d, int n)
{
	json_t *a = json_array();
	for (int i = 0; a && i < n; i++)
		if (push(a, json_integer((json_int_t)d[i]))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* ==== fill values: bytes -> JSON ================================================ */

static json_t *float_json(uint64_t bits, unsigned size, int v3)
{
	int negative = (bits & sign_bit(size)) != 0;
	if ((bits & exp_mask(size)) == exp_mask(size)) {
		if (!(bits & mant_mask(size)))
			return json_string(negative ? "-Infinity" : "Infinity");
		if (!v3 || bits == canonical_nan(size))
			return json_string("NaN");
		char hex[24];
		snprintf(hex, sizeof hex, "0x%0*llx", (int)size * 2, (unsigned long long)bits);
		return json_string(hex);
	}
	return json_real(float_value(bits, size));
}

static json_t *unicode_json(const uint8_t *fill, const tess_dtype *dt, char endian, int *bad_cp)
{
	size_t n = dt->itemsize / 4;
	while (n > 0 && load_uint(fill + 4 * (n - 1), 4, endian) == 0)
		n--;
	char *s = malloc(n * 4 + 1), *o = s;
	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		uint32_t c = (uint32_t)load_uint(fill + 4 * i, 4, endian);
		if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
			*bad_cp = (int)(c > 0x7fffffff ? 0x7fffffff : c);
			free(s);
			return NULL;
		}
		if (c < 0x80) {
			*o++ = (char)c;
		} else if (c < 0x800) {
			*o++ = (char)(0xC0 | (c >> 6));
			*o++ = (char)(0x80 | (c & 0x3F));
		} else if (c < 0x10000) {
			*o++ = (char)(0xE0 | (c >> 12));
			*o++ = (char)(0x80 | ((c >> 6) & 0x3F));
			*o++ = (char)(0x80 | (c & 0x3F));
		} else {
			*o++ = (char)(0xF0 | (c >> 18));
			*o++ = (char)(0x80 | ((c >> 12) & 0x3F));
			*o++ = (char)(0x80 | ((c >> 6) & 0x3F));
			*o++ = (char)(0x80 | (c & 0x3F));
		}
	}
	json_t *j = json_stringn(s, (size_t)(o - s));
	free(s);
	return j;
}

static json_t *bytes_json(const uint8_t *fill, size_t n)
{
	while (n > 0 && fill[n - 1] == 0) /* NumPy's bytes scalars drop trailing NULs */
		n--;
	char *s = b64_encode(fill, n);
	json_t *j = s ? json_string(s) : NULL;
	free(s);
	return j;
}

/* The fill value's JSON.  A uint64 above INT64_MAX cannot be a jansson
 * integer: tess_json_u64 tags it, and tess_json_dump writes its digits. */
static int fill_to_json(const tess_meta *m, char endian, json_t **out)
{
	const tess_dtype *dt = &m->dtype;
	const uint8_t *fill = m->fill;
	int v3 = m->zarr_format == 3;
	unsigned size = dt->itemsize;
	json_t *j = NULL;
	if (m->fill_null || !fill) {
		*out = json_null();
		return 0;
	}
	switch (dt->kind) {
	case TESS_DT_BOOL: j = json_boolean(fill[0] != 0); break;
	case TESS_DT_INT: {
		uint64_t u = load_uint(fill, size, endian);
		if (size < 8 && (u >> (size * 8 - 1)))
			u |= ~UINT64_C(0) << (size * 8); /* sign-extend */
		j = json_integer((json_int_t)u);
		break;
	}
	case TESS_DT_UINT: {
		uint64_t u = load_uint(fill, size, endian);
		j = tess_json_u64(u);
		break;
	}
	case TESS_DT_FLOAT: j = float_json(load_uint(fill, size, endian), size, v3); break;
	case TESS_DT_COMPLEX:
		j = json_array();
		for (unsigned part = 0; j && part < 2; part++)
			if (push(j, float_json(load_uint(fill + part * size / 2, size / 2, endian), size / 2,
			                       v3))) {
				json_decref(j);
				j = NULL;
			}
		break;
	case TESS_DT_BYTES: j = bytes_json(fill, size); break;
	case TESS_DT_UNICODE: {
		int bad_cp = -1;
		j = unicode_json(fill, dt, endian, &bad_cp);
		if (bad_cp >= 0)
			return tess_err(TESS_EINVAL,
			                "fill_value: code point 0x%x is not Unicode text and cannot be written",
			                (unsigned)bad_cp);
		break;
	}
	}
	if (!j)
		return nomem();
	*out = j;
	return 0;
}

/* ==== parsing helpers ============================================================= */

/* A list of at most TESS_ARRAY_MAX_DIMS integers in [min, INT64_MAX]. */
static int parse_dims(const pctx *p, const json_t *v, const char *field, uint64_t min,
                      uint64_t *out, int *n)
{
	if (!v)
		return BAD(p, "\"%s\" is missing", field);
	if (!json_is_array(v))
		return BAD(p, "\"%s\": expected a list of integers, got %s", field, BRIEF(v));
	if (json_array_size(v) > TESS_ARRAY_MAX_DIMS)
		return BAD(p, "\"%s\": %zu dimensions, at most %d are supported", field,
		           json_array_size(v), TESS_ARRAY_MAX_DIMS);
	for (size_t i = 0; i < json_array_size(v); i++) {
		const json_t *e = json_array_get(v, i);
		if (!json_is_integer(e) || json_integer_value(e) < (json_int_t)min)
			return BAD(p, "\"%s\"[%zu]: expected an integer >= %llu, got %s", field, i,
			           (unsigned long long)min, BRIEF(e));
		out[i] = (uint64_t)json_integer_value(e);
	}
	*n = (int)json_array_size(v);
	return 0;
}

static int str_member(const pctx *p, const json_t *obj, const char *key, const char *field,
                      const char **out)
{
	const json_t *v = json_object_get(obj, key);
	if (!v)
		return BAD(p, "\"%s\" is missing", field);
	if (!(*out = plain_str(v)))
		return BAD(p, "\"%s\": expected a string, got %s", field, BRIEF(v));
	return 0;
}

/* Members of an object other than the allowed ones: a message naming them. */
static int only_members(const pctx *p, const json_t *obj, const char *field,
                        const char *const *allowed)
{
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)obj, k, v) {
		int ok = 0;
		for (size_t i = 0; allowed[i] && !ok; i++)
			ok = strcmp(k, allowed[i]) == 0;
		if (!ok)
			return UNSUP(p, "%s: member \"%s\" is not understood", field, k);
	}
	return 0;
}

/* ==== layout checks (both formats) ================================================ */

static int mul_ok(uint64_t a, uint64_t b, uint64_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}

static int check_layout(const pctx *p, const tess_meta *m)
{
	char dtbuf[24];
	const char *dts = tess_dtype_str(dtbuf, sizeof dtbuf, &m->dtype);
	uint64_t total = m->dtype.itemsize;
	for (int i = 0; i < m->ndim; i++) {
		if (m->shape[i] > INT64_MAX || m->chunks[i] > INT64_MAX)
			return BAD(p, "shape %s / chunks %s: lengths above 2^63-1", DIMS(m->shape, m->ndim),
			           DIMS(m->chunks, m->ndim));
		if (m->chunks[i] == 0)
			return BAD(p, "chunks %s: chunk length 0 in dimension %d", DIMS(m->chunks, m->ndim), i);
		if (!mul_ok(total, m->shape[i], &total))
			return BAD(p, "shape %s of %s: size in bytes overflows 64 bits",
			           DIMS(m->shape, m->ndim), dts);
	}
	const tess_shard_spec *sh = m->pipeline.shard;
	const uint64_t *unit = sh ? sh->inner : m->chunks;
	uint64_t bytes = m->dtype.itemsize, shard_bytes = m->dtype.itemsize, per_shard = 1;
	int over = 0;
	for (int i = 0; i < m->ndim; i++) {
		over |= !mul_ok(bytes, unit[i], &bytes) || bytes > TESS_META_MAX_CHUNK_BYTES;
		if (!sh)
			continue;
		if (m->chunks[i] % sh->inner[i] != 0)
			return BAD(p, "sharding_indexed: inner chunk_shape %s does not divide the shard shape "
			              "%s (dimension %d)",
			           DIMS(sh->inner, m->ndim), DIMS(m->chunks, m->ndim), i);
		if (!mul_ok(per_shard, m->chunks[i] / sh->inner[i], &per_shard) ||
		    per_shard > TESS_META_MAX_SHARD_CHUNKS)
			return BAD(p, "sharding_indexed: shard %s / inner chunk %s holds more than %llu "
			              "inner chunks",
			           DIMS(m->chunks, m->ndim), DIMS(sh->inner, m->ndim),
			           (unsigned long long)TESS_META_MAX_SHARD_CHUNKS);
		if (!mul_ok(shard_bytes, m->chunks[i], &shard_bytes))
			return BAD(p, "shard shape %s of %s: size in bytes overflows 64 bits",
			           DIMS(m->chunks, m->ndim), dts);
	}
	if (over)
		return BAD(p, "%schunk shape %s of %s is more than %llu bytes", sh ? "inner " : "",
		           DIMS(unit, m->ndim), dts, (unsigned long long)TESS_META_MAX_CHUNK_BYTES);
	return 0;
}

/* ==== pipelines ==================================================================== */

static void pipeline_clear(tess_pipeline *pl)
{
	for (size_t i = 0; i < pl->ncodecs; i++)
		tess_codec_free(pl->codecs[i]);
	free(pl->codecs);
	if (pl->shard) {
		pipeline_clear(&pl->shard->inner_pipeline);
		pipeline_clear(&pl->shard->index_pipeline);
		free(pl->shard);
	}
	memset(pl, 0, sizeof *pl);
}

static int pipeline_add(tess_pipeline *pl, tess_codec *c)
{
	tess_codec **grown = realloc(pl->codecs, (pl->ncodecs + 1) * sizeof *grown);
	if (!grown) {
		tess_codec_free(c);
		return nomem();
	}
	pl->codecs = grown;
	pl->codecs[pl->ncodecs++] = c;
	return 0;
}

static void identity_perm(tess_pipeline *pl, int ndim)
{
	for (int i = 0; i < ndim; i++)
		pl->perm[i] = i;
	pl->permuted = 0;
}

static tess_codec_ctx codec_ctx(int zarr_format, const tess_dtype *dt)
{
	tess_codec_ctx ctx;
	memset(&ctx, 0, sizeof ctx);
	ctx.zarr_format = zarr_format;
	ctx.itemsize = dt->itemsize;
	tess_dtype_str(ctx.dtype, sizeof ctx.dtype, dt);
	return ctx;
}

/* The shard index holds uint64 offsets and sizes. */
static const tess_dtype index_dtype = {TESS_DT_UINT, 8, '<'};

/* Deep copy: codecs are rebuilt from their JSON (instances have no
 * reference count). */
static int pipeline_copy(tess_pipeline *dst, const tess_pipeline *src, const tess_codec_ctx *ctx)
{
	*dst = *src;
	dst->codecs = NULL;
	dst->ncodecs = 0;
	dst->shard = NULL;
	for (size_t i = 0; i < src->ncodecs; i++) {
		json_t *j = tess_codec_to_json(src->codecs[i], ctx->zarr_format);
		if (!j)
			return TESS_ENOMEM;
		tess_codec *c;
		int rc = tess_codec_from_json(&c, j, ctx);
		json_decref(j);
		if (!rc)
			rc = pipeline_add(dst, c);
		if (rc)
			return rc;
	}
	if (src->shard) {
		dst->shard = calloc(1, sizeof *dst->shard);
		if (!dst->shard)
			return nomem();
		memcpy(dst->shard->inner, src->shard->inner, sizeof dst->shard->inner);
		dst->shard->index_at_start = src->shard->index_at_start;
		tess_codec_ctx ictx = codec_ctx(3, &index_dtype);
		int rc = pipeline_copy(&dst->shard->inner_pipeline, &src->shard->inner_pipeline, ctx);
		if (!rc)
			rc = pipeline_copy(&dst->shard->index_pipeline, &src->shard->index_pipeline, &ictx);
		if (rc)
			return rc;
	}
	return 0;
}

/* ==== Zarr v2 ======================================================================== */

static const char *const v2_members[] = {
	"chunks", "compressor", "dimension_separator", "dtype", "fill_value",
	"filters", "order", "shape", "zarr_format", NULL,
};

static int is_member_of(const char *key, const char *const *list)
{
	for (size_t i = 0; list[i]; i++)
		if (strcmp(key, list[i]) == 0)
			return 1;
	return 0;
}

static int v2_codec(const pctx *p, tess_meta *m, const json_t *j, const char *field)
{
	tess_codec_ctx ctx = codec_ctx(2, &m->dtype);
	tess_codec *c;
	if (!json_is_object(j))
		return BAD(p, "%s: expected a codec object with \"id\", got %s", field, BRIEF(j));
	int rc = tess_codec_from_json(&c, j, &ctx);
	if (rc)
		return tess_err_prefix(rc, "%s: %s: ", p->what, field);
	return pipeline_add(&m->pipeline, c);
}

static int v2_dtype(const pctx *p, tess_meta *m, const json_t *j)
{
	if (!j)
		return BAD(p, "\"dtype\" is missing");
	if (json_is_array(j))
		return UNSUP(p, "dtype %s: structured dtypes are not supported", BRIEF(j));
	if (!plain_str(j))
		return BAD(p, "\"dtype\": expected a NumPy typestring, got %s", BRIEF(j));
	if (tess_dtype_parse(&m->dtype, plain_str(j)) != 0)
		return UNSUP(p, "dtype %s is not supported (bool, int, uint, float, complex, S, U)",
		             BRIEF(j));
	return 0;
}

static int v2_order_sep(const pctx *p, tess_meta *m, const json_t *root)
{
	const char *order;
	int rc = str_member(p, root, "order", "order", &order);
	if (rc)
		return rc;
	if (strcmp(order, "C") != 0 && strcmp(order, "F") != 0)
		return BAD(p, "\"order\": expected \"C\" or \"F\", got \"%s\"", order);
	m->order = order[0];
	identity_perm(&m->pipeline, m->ndim);
	if (m->order == 'F' && m->ndim > 1) {
		for (int i = 0; i < m->ndim; i++)
			m->pipeline.perm[i] = m->ndim - 1 - i;
		m->pipeline.permuted = 1;
	}
	const json_t *sep = json_object_get(root, "dimension_separator");
	m->key_sep = '.';
	if (sep && !json_is_null(sep)) {
		const char *s = plain_str(sep) ? plain_str(sep) : "";
		if (strcmp(s, ".") != 0 && strcmp(s, "/") != 0)
			return BAD(p, "\"dimension_separator\": expected \".\" or \"/\", got %s", BRIEF(sep));
		m->key_sep = s[0];
		m->sep_explicit = 1;
	}
	return 0;
}

static int v2_codecs(const pctx *p, tess_meta *m, const json_t *root)
{
	const json_t *filters = json_object_get(root, "filters");
	const json_t *comp = json_object_get(root, "compressor");
	if (!filters)
		return BAD(p, "\"filters\" is missing");
	if (!comp)
		return BAD(p, "\"compressor\" is missing");
	if (!json_is_null(filters) && !json_is_array(filters))
		return BAD(p, "\"filters\": expected null or a list of codecs, got %s", BRIEF(filters));
	for (size_t i = 0; json_is_array(filters) && i < json_array_size(filters); i++) {
		char field[32];
		snprintf(field, sizeof field, "filters[%zu]", i);
		int rc = v2_codec(p, m, json_array_get(filters, i), field);
		if (rc)
			return rc;
	}
	m->nfilters = m->pipeline.ncodecs;
	if (json_is_null(comp))
		return 0;
	return v2_codec(p, m, comp, "compressor");
}

static int keep_extra(tess_meta *m, const char *key, json_t *v)
{
	if (!m->extra && !(m->extra = json_object()))
		return nomem();
	return json_object_set(m->extra, key, v) ? nomem() : 0;
}

static int parse_v2(const pctx *p, tess_meta *m, json_t *root)
{
	int rc, nchunks;
	m->zarr_format = 2;
	if ((rc = parse_dims(p, json_object_get(root, "shape"), "shape", 0, m->shape, &m->ndim)) ||
	    (rc = parse_dims(p, json_object_get(root, "chunks"), "chunks", 1, m->chunks, &nchunks)))
		return rc;
	if (nchunks != m->ndim)
		return BAD(p, "\"chunks\" %s has %d dimensions, \"shape\" %s has %d",
		           DIMS(m->chunks, nchunks), nchunks, DIMS(m->shape, m->ndim), m->ndim);
	if ((rc = v2_dtype(p, m, json_object_get(root, "dtype"))) || (rc = v2_order_sep(p, m, root)))
		return rc;
	m->pipeline.endian = m->dtype.endian;
	if ((rc = check_layout(p, m)) || (rc = v2_codecs(p, m, root)))
		return rc;
	if (!(m->fill = calloc(1, m->dtype.itemsize)))
		return nomem();
	fill_ctx f = {p, &m->dtype, m->dtype.endian, 0};
	if ((rc = fill_parse(&f, json_object_get(root, "fill_value"), m->fill, &m->fill_null)))
		return rc;
	const char *k;
	json_t *v;
	json_object_foreach(root, k, v) {
		if (!is_member_of(k, v2_members) && (rc = keep_extra(m, k, v)))
			return rc;
	}
	return 0;
}

/* Unknown members first, so that the members we write win over them. */
static json_t *root_with_extra(const tess_meta *m)
{
	json_t *root = json_object();
	if (root && m->extra && json_object_update(root, m->extra) != 0) {
		json_decref(root);
		return NULL;
	}
	return root;
}

static int write_v2(tess_buf *out, const tess_meta *m)
{
	json_t *fill;
	int rc = fill_to_json(m, m->dtype.endian, &fill);
	if (rc)
		return rc;
	json_t *root = root_with_extra(m);
	json_t *filters = m->nfilters ? json_array() : json_null();
	int err = !root || !filters;
	for (size_t i = 0; !err && i < m->nfilters; i++)
		err |= push(filters, tess_codec_to_json(m->pipeline.codecs[i], 2));
	json_t *comp = m->pipeline.ncodecs > m->nfilters
	                       ? tess_codec_to_json(m->pipeline.codecs[m->nfilters], 2)
	                       : json_null();
	char dtbuf[24];
	if (!err) {
		err |= put(root, "chunks", dims_json(m->chunks, m->ndim));
		err |= put(root, "compressor", comp);
		comp = NULL;
		if (m->sep_explicit)
			err |= put(root, "dimension_separator", json_string(m->key_sep == '/' ? "/" : "."));
		err |= put(root, "dtype", json_string(tess_dtype_str(dtbuf, sizeof dtbuf, &m->dtype)));
		err |= put(root, "fill_value", fill);
		fill = NULL;
		err |= put(root, "filters", filters);
		filters = NULL;
		err |= put(root, "order", json_string(m->order == 'F' ? "F" : "C"));
		err |= put(root, "shape", dims_json(m->shape, m->ndim));
		err |= put(root, "zarr_format", json_integer(2));
	}
	json_decref(comp);
	json_decref(fill);
	json_decref(filters);
	rc = err ? nomem() : tess_json_dump(out, root);
	json_decref(root);
	return rc;
}

/* ==== Zarr v3 ======================================================================== */

static const char *const v3_members[] = {
	"attributes", "chunk_grid", "chunk_key_encoding", "codecs", "data_type",
	"dimension_names", "fill_value", "node_type", "shape", "storage_transformers",
	"zarr_format", NULL,
};

/* An extension point: "name" or {"name": ..., "configuration": {...},
 * "must_understand": ...}.  *config may be NULL. */
static int extension(const pctx *p, const json_t *v, const char *field, const char **name,
                     const json_t **config)
{
	*config = NULL;
	if (plain_str(v)) {
		*name = plain_str(v);
		return 0;
	}
	if (!json_is_object(v))
		return BAD(p, "\"%s\": expected a name or an object with \"name\", got %s", field, BRIEF(v));
	int rc = str_member(p, v, "name", field, name);
	if (rc)
		return rc;
	static const char *const allowed[] = {"name", "configuration", "must_understand", NULL};
	if ((rc = only_members(p, v, field, allowed)))
		return rc;
	*config = json_object_get(v, "configuration");
	if (*config && !json_is_object(*config))
		return BAD(p, "\"%s\".configuration: expected an object, got %s", field, BRIEF(*config));
	return 0;
}

static int v3_data_type(const pctx *p, tess_meta *m, const json_t *v)
{
	const char *name;
	const json_t *config;
	if (!v)
		return BAD(p, "\"data_type\" is missing");
	int rc = extension(p, v, "data_type", &name, &config);
	if (rc)
		return rc;
	if ((config && json_object_size(config)) || tess_dtype_from_v3(&m->dtype, name, '<') != 0)
		return UNSUP(p, "data_type %s is not supported (bool, int8..int64, uint8..uint64, "
		                "float16, float32, float64, complex64, complex128)",
		             BRIEF(v));
	return 0;
}

static int v3_chunk_grid(const pctx *p, tess_meta *m, const json_t *v)
{
	const char *name;
	const json_t *config;
	int n, rc;
	if (!v)
		return BAD(p, "\"chunk_grid\" is missing");
	if ((rc = extension(p, v, "chunk_grid", &name, &config)))
		return rc;
	if (strcmp(name, "regular") != 0)
		return UNSUP(p, "chunk_grid \"%s\" is not supported (only \"regular\")", name);
	if (!config)
		return BAD(p, "chunk_grid \"regular\" has no configuration");
	static const char *const allowed[] = {"chunk_shape", NULL};
	if ((rc = only_members(p, config, "chunk_grid.configuration", allowed)) ||
	    (rc = parse_dims(p, json_object_get(config, "chunk_shape"),
	                     "chunk_grid.configuration.chunk_shape", 1, m->chunks, &n)))
		return rc;
	if (n != m->ndim)
		return BAD(p, "chunk_shape %s has %d dimensions, shape %s has %d", DIMS(m->chunks, n), n,
		           DIMS(m->shape, m->ndim), m->ndim);
	return 0;
}

static int v3_key_encoding(const pctx *p, tess_meta *m, const json_t *v)
{
	const char *name;
	const json_t *config;
	int rc;
	if (!v)
		return BAD(p, "\"chunk_key_encoding\" is missing");
	if ((rc = extension(p, v, "chunk_key_encoding", &name, &config)))
		return rc;
	int is_default = strcmp(name, "default") == 0;
	if (!is_default && strcmp(name, "v2") != 0)
		return UNSUP(p, "chunk_key_encoding \"%s\" is not supported (\"default\" or \"v2\")", name);
	m->key_sep = is_default ? '/' : '.';
	if (config) {
		static const char *const allowed[] = {"separator", NULL};
		if ((rc = only_members(p, config, "chunk_key_encoding.configuration", allowed)))
			return rc;
		const json_t *sep = json_object_get(config, "separator");
		if (sep) {
			const char *s = plain_str(sep) ? plain_str(sep) : "";
			if (strcmp(s, ".") != 0 && strcmp(s, "/") != 0)
				return BAD(p, "chunk_key_encoding separator: expected \".\" or \"/\", got %s",
				           BRIEF(sep));
			m->key_sep = s[0];
		}
	}
	if (is_default) {
		m->key_prefix[0] = 'c';
		m->key_prefix[1] = m->key_sep;
	}
	return 0;
}

/* What a codec list is parsed for. */
typedef struct chain_opts {
	const char *field;     /* "codecs", "...configuration.codecs", "...index_codecs" */
	int ndim;              /* rank of the decoded chunk */
	const tess_dtype *dt;  /* element type */
	int inner;             /* inside sharding_indexed: no nested sharding */
	int index;             /* index_codecs: bytes and crc32c only */
} chain_opts;

static int parse_chain(const pctx *p, const json_t *list, const chain_opts *co,
                       tess_pipeline *out);

static int v3_transpose(const pctx *p, const json_t *config, const chain_opts *co, size_t i,
                        tess_pipeline *out)
{
	static const char *const allowed[] = {"order", NULL};
	int rc;
	if (!config)
		return BAD(p, "%s[%zu]: transpose has no configuration", co->field, i);
	if ((rc = only_members(p, config, "transpose.configuration", allowed)))
		return rc;
	const json_t *order = json_object_get(config, "order");
	if (!json_is_array(order) || json_array_size(order) != (size_t)co->ndim)
		return BAD(p, "%s[%zu]: transpose order %s is not a permutation of %d dimensions",
		           co->field, i, BRIEF(order), co->ndim);
	int seen[TESS_ARRAY_MAX_DIMS] = {0}, composed[TESS_ARRAY_MAX_DIMS];
	for (int d = 0; d < co->ndim; d++) {
		const json_t *e = json_array_get(order, (size_t)d);
		json_int_t k = json_is_integer(e) ? json_integer_value(e) : -1;
		if (k < 0 || k >= co->ndim || seen[k]++)
			return BAD(p, "%s[%zu]: transpose order %s is not a permutation of 0..%d", co->field,
			           i, BRIEF(order), co->ndim - 1);
		/* after an earlier transpose, axis k of its output is input axis perm[k] */
		composed[d] = out->perm[k];
	}
	out->permuted = 0;
	for (int d = 0; d < co->ndim; d++) {
		out->perm[d] = composed[d];
		out->permuted |= composed[d] != d;
	}
	return 0;
}

static int v3_bytes(const pctx *p, const json_t *config, const chain_opts *co, size_t i,
                    tess_pipeline *out)
{
	static const char *const allowed[] = {"endian", NULL};
	int rc;
	out->endian = '|';
	const json_t *endian = config ? json_object_get(config, "endian") : NULL;
	if (config && (rc = only_members(p, config, "bytes.configuration", allowed)))
		return rc;
	if (endian) {
		const char *e = plain_str(endian) ? plain_str(endian) : "";
		if (strcmp(e, "little") != 0 && strcmp(e, "big") != 0)
			return BAD(p, "%s[%zu]: bytes endian: expected \"little\" or \"big\", got %s",
			           co->field, i, BRIEF(endian));
		out->endian = e[0] == 'l' ? '<' : '>';
	} else if (co->dt->itemsize > 1) {
		return BAD(p, "%s[%zu]: bytes needs \"endian\" for %s", co->field, i,
		           tess_dtype_v3_name(co->dt));
	}
	return 0;
}

static int v3_sharding(const pctx *p, const json_t *config, const chain_opts *co, size_t i,
                       tess_pipeline *out)
{
	char field[160];
	int rc, n;
	if (co->inner || co->index)
		return UNSUP(p, "%s[%zu]: nested sharding_indexed is not supported", co->field, i);
	if (out->permuted)
		return UNSUP(p, "%s[%zu]: transpose before sharding_indexed is not supported", co->field, i);
	if (!config)
		return BAD(p, "%s[%zu]: sharding_indexed has no configuration", co->field, i);
	static const char *const allowed[] = {"chunk_shape", "codecs", "index_codecs",
	                                      "index_location", NULL};
	snprintf(field, sizeof field, "%s[%zu].configuration", co->field, i);
	if ((rc = only_members(p, config, field, allowed)))
		return rc;
	tess_shard_spec *sh = out->shard = calloc(1, sizeof *sh);
	if (!sh)
		return nomem();
	snprintf(field, sizeof field, "%s[%zu].configuration.chunk_shape", co->field, i);
	if ((rc = parse_dims(p, json_object_get(config, "chunk_shape"), field, 1, sh->inner, &n)))
		return rc;
	if (n != co->ndim)
		return BAD(p, "%s %s has %d dimensions, the array has %d", field, DIMS(sh->inner, n), n,
		           co->ndim);
	const json_t *loc = json_object_get(config, "index_location");
	if (loc) {
		const char *s = plain_str(loc) ? plain_str(loc) : "";
		if (strcmp(s, "start") != 0 && strcmp(s, "end") != 0)
			return BAD(p, "%s[%zu]: index_location: expected \"start\" or \"end\", got %s",
			           co->field, i, BRIEF(loc));
		sh->index_at_start = s[0] == 's';
	}
	snprintf(field, sizeof field, "%s[%zu].configuration.codecs", co->field, i);
	chain_opts inner = {field, co->ndim, co->dt, 1, 0};
	if ((rc = parse_chain(p, json_object_get(config, "codecs"), &inner, &sh->inner_pipeline)))
		return rc;
	char ifield[160];
	snprintf(ifield, sizeof ifield, "%s[%zu].configuration.index_codecs", co->field, i);
	chain_opts index = {ifield, co->ndim + 1, &index_dtype, 1, 1};
	if ((rc = parse_chain(p, json_object_get(config, "index_codecs"), &index,
	                      &sh->index_pipeline)))
		return rc;
	/* the shard's elements are stored the way its inner chunks are */
	out->endian = sh->inner_pipeline.endian;
	return 0;
}

/* A bytes-to-bytes codec after the array-to-bytes one. */
static int v3_bytes_codec(const pctx *p, const json_t *entry, const char *name,
                          const chain_opts *co, size_t i, tess_pipeline *out)
{
	if (out->shard)
		return UNSUP(p, "%s[%zu]: codec '%s' after sharding_indexed is not supported", co->field,
		             i, name);
	if (co->index && strcmp(name, "crc32c") != 0)
		return UNSUP(p, "%s[%zu]: codec '%s' is not supported in index_codecs (bytes, crc32c)",
		             co->field, i, name);
	tess_codec_ctx ctx = codec_ctx(3, co->dt);
	tess_codec *c;
	int rc = tess_codec_from_json(&c, entry, &ctx);
	if (rc)
		return tess_err_prefix(rc, "%s: %s[%zu]: ", p->what, co->field, i);
	return pipeline_add(out, c);
}

static int parse_chain(const pctx *p, const json_t *list, const chain_opts *co,
                       tess_pipeline *out)
{
	if (!list)
		return BAD(p, "\"%s\" is missing", co->field);
	if (!json_is_array(list) || json_array_size(list) == 0)
		return BAD(p, "\"%s\": expected a non-empty list of codecs, got %s", co->field,
		           BRIEF(list));
	if (!co->index)
		identity_perm(out, co->ndim);
	int have_array_to_bytes = 0, rc;
	for (size_t i = 0; i < json_array_size(list); i++) {
		const json_t *entry = json_array_get(list, i), *config;
		const char *name;
		char field[200];
		snprintf(field, sizeof field, "%s[%zu]", co->field, i);
		if ((rc = extension(p, entry, field, &name, &config)))
			return rc;
		int is_transpose = strcmp(name, "transpose") == 0;
		int is_bytes = strcmp(name, "bytes") == 0;
		int is_shard = strcmp(name, "sharding_indexed") == 0;
		if ((is_transpose || is_bytes || is_shard) && have_array_to_bytes)
			return BAD(p, "%s: '%s' comes after the array-to-bytes codec", field, name);
		if (is_transpose && co->index)
			return UNSUP(p, "%s: transpose in index_codecs is not supported", field);
		if (is_transpose)
			rc = v3_transpose(p, config, co, i, out);
		else if (is_bytes)
			rc = v3_bytes(p, config, co, i, out);
		else if (is_shard)
			rc = v3_sharding(p, config, co, i, out);
		else if (!tess_codec_find(name, 3))
			rc = UNSUP(p, "%s: unknown codec '%s'", field, name);
		else if (!have_array_to_bytes)
			rc = BAD(p, "%s: bytes-to-bytes codec '%s' comes before the array-to-bytes codec",
			         field, name);
		else
			rc = v3_bytes_codec(p, entry, name, co, i, out);
		if (rc)
			return rc;
		have_array_to_bytes |= is_bytes || is_shard;
	}
	if (!have_array_to_bytes)
		return BAD(p, "\"%s\" has no array-to-bytes codec (\"bytes\" or \"sharding_indexed\")",
		           co->field);
	return 0;
}

static int v3_dimension_names(const pctx *p, tess_meta *m, const json_t *v)
{
	if (!v)
		return 0;
	if (!json_is_array(v) || json_array_size(v) != (size_t)m->ndim)
		return BAD(p, "\"dimension_names\": expected a list of %d strings or nulls, got %s",
		           m->ndim, BRIEF(v));
	if (!(m->dimension_names = calloc((size_t)m->ndim + 1, sizeof *m->dimension_names)))
		return nomem();
	for (int i = 0; i < m->ndim; i++) {
		const json_t *e = json_array_get(v, (size_t)i);
		if (json_is_null(e))
			continue;
		if (!plain_str(e))
			return BAD(p, "\"dimension_names\"[%d]: expected a string or null, got %s", i,
			           BRIEF(e));
		if (!(m->dimension_names[i] = strdup(plain_str(e))))
			return nomem();
	}
	return 0;
}

/* Unknown members: kept when they say "must_understand": false, refused
 * otherwise, all of them named. */
static int v3_unknown_members(const pctx *p, tess_meta *m, json_t *root)
{
	char names[512] = "";
	size_t used = 0;
	int refused = 0, rc;
	const char *k;
	json_t *v;
	json_object_foreach(root, k, v) {
		if (is_member_of(k, v3_members))
			continue;
		const json_t *mu = json_is_object(v) ? json_object_get(v, "must_understand") : NULL;
		if (json_is_false(mu)) {
			if ((rc = keep_extra(m, k, v)))
				return rc;
			continue;
		}
		refused++;
		if (used < sizeof names)
			used += (size_t)snprintf(names + used, sizeof names - used, "%s'%s'",
			                         refused > 1 ? ", " : "", k);
	}
	if (refused)
		return UNSUP(p, "extension%s %s must be understood and %s not supported",
		             refused > 1 ? "s" : "", names, refused > 1 ? "are" : "is");
	return 0;
}

static int v3_storage_transformers(const pctx *p, const json_t *v)
{
	if (!v || (json_is_array(v) && json_array_size(v) == 0))
		return 0;
	if (!json_is_array(v))
		return BAD(p, "\"storage_transformers\": expected a list, got %s", BRIEF(v));
	return UNSUP(p, "storage_transformers %s are not supported", BRIEF(v));
}

static int parse_v3(const pctx *p, tess_meta *m, json_t *root)
{
	const char *node_type;
	int rc;
	m->zarr_format = 3;
	m->order = 'C';
	if ((rc = str_member(p, root, "node_type", "node_type", &node_type)))
		return rc;
	if (strcmp(node_type, "group") == 0)
		return fail(p, TESS_ENOTFOUND, "node_type is \"group\": not an array");
	if (strcmp(node_type, "array") != 0)
		return BAD(p, "\"node_type\": expected \"array\", got \"%s\"", node_type);
	if ((rc = v3_unknown_members(p, m, root)) ||
	    (rc = v3_storage_transformers(p, json_object_get(root, "storage_transformers"))) ||
	    (rc = parse_dims(p, json_object_get(root, "shape"), "shape", 0, m->shape, &m->ndim)) ||
	    (rc = v3_data_type(p, m, json_object_get(root, "data_type"))) ||
	    (rc = v3_chunk_grid(p, m, json_object_get(root, "chunk_grid"))) ||
	    (rc = v3_key_encoding(p, m, json_object_get(root, "chunk_key_encoding"))))
		return rc;
	chain_opts co = {"codecs", m->ndim, &m->dtype, 0, 0};
	if ((rc = parse_chain(p, json_object_get(root, "codecs"), &co, &m->pipeline)) ||
	    (rc = check_layout(p, m)) ||
	    (rc = v3_dimension_names(p, m, json_object_get(root, "dimension_names"))))
		return rc;
	const json_t *attrs = json_object_get(root, "attributes");
	if (attrs && !json_is_object(attrs))
		return BAD(p, "\"attributes\": expected an object, got %s", BRIEF(attrs));
	m->attributes = attrs ? json_incref((json_t *)attrs) : json_object();
	if (!m->attributes || !(m->fill = calloc(1, m->dtype.itemsize)))
		return nomem();
	fill_ctx f = {p, &m->dtype, m->pipeline.endian, 1};
	return fill_parse(&f, json_object_get(root, "fill_value"), m->fill, &m->fill_null);
}

/* {"configuration": {key: value}, "name": name}; takes value. */
static json_t *named_config(const char *name, const char *key, json_t *value)
{
	json_t *j = json_object(), *config = json_object();
	int err = put(config, key, value);
	err |= put(j, "configuration", config);
	err |= put(j, "name", json_string(name));
	if (err) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static json_t *bytes_codec_json(char endian)
{
	if (endian != '|')
		return named_config("bytes", "endian", json_string(endian == '>' ? "big" : "little"));
	json_t *j = json_object();
	if (put(j, "name", json_string("bytes"))) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static json_t *chain_json(const tess_pipeline *pl, int ndim);

static json_t *sharding_json(const tess_shard_spec *sh, int ndim)
{
	json_t *j = json_object(), *config = json_object();
	int err = !config;
	if (!err) {
		err |= put(config, "chunk_shape", dims_json(sh->inner, ndim));
		err |= put(config, "codecs", chain_json(&sh->inner_pipeline, ndim));
		err |= put(config, "index_codecs", chain_json(&sh->index_pipeline, ndim + 1));
		err |= put(config, "index_location", json_string(sh->index_at_start ? "start" : "end"));
	}
	err |= put(j, "configuration", config);
	err |= put(j, "name", json_string("sharding_indexed"));
	if (err) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static json_t *transpose_json(const tess_pipeline *pl, int ndim)
{
	json_t *order = json_array();
	for (int i = 0; order && i < ndim; i++)
		if (push(order, json_integer(pl->perm[i]))) {
			json_decref(order);
			order = NULL;
		}
	return named_config("transpose", "order", order);
}

static json_t *chain_json(const tess_pipeline *pl, int ndim)
{
	json_t *list = json_array();
	int err = !list;
	if (!err && pl->permuted)
		err |= push(list, transpose_json(pl, ndim));
	if (!err)
		err |= push(list, pl->shard ? sharding_json(pl->shard, ndim) : bytes_codec_json(pl->endian));
	for (size_t i = 0; !err && i < pl->ncodecs; i++)
		err |= push(list, tess_codec_to_json(pl->codecs[i], 3));
	if (err) {
		json_decref(list);
		return NULL;
	}
	return list;
}

static json_t *names_json(const tess_meta *m)
{
	json_t *a = json_array();
	for (int i = 0; a && i < m->ndim; i++) {
		const char *n = m->dimension_names[i];
		if (push(a, n ? json_string(n) : json_null())) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static int write_v3(tess_buf *out, const tess_meta *m)
{
	const char *dt_name = tess_dtype_v3_name(&m->dtype);
	char dtbuf[24];
	if (!dt_name)
		return tess_err(TESS_EINVAL, "dtype %s has no Zarr v3 data_type",
		                tess_dtype_str(dtbuf, sizeof dtbuf, &m->dtype));
	json_t *fill;
	int rc = fill_to_json(m, m->pipeline.endian, &fill);
	if (rc)
		return rc;
	json_t *root = root_with_extra(m);
	int err = !root;
	if (!err) {
		char sep[2] = {m->key_sep == '.' ? '.' : '/', 0};
		err |= put(root, "attributes", m->attributes ? json_deep_copy(m->attributes) : json_object());
		err |= put(root, "chunk_grid",
		           named_config("regular", "chunk_shape", dims_json(m->chunks, m->ndim)));
		err |= put(root, "chunk_key_encoding",
		           named_config(m->key_prefix[0] ? "default" : "v2", "separator", json_string(sep)));
		err |= put(root, "codecs", chain_json(&m->pipeline, m->ndim));
		err |= put(root, "data_type", json_string(dt_name));
		if (m->dimension_names)
			err |= put(root, "dimension_names", names_json(m));
		err |= put(root, "fill_value", fill);
		fill = NULL;
		err |= put(root, "node_type", json_string("array"));
		err |= put(root, "shape", dims_json(m->shape, m->ndim));
		err |= put(root, "storage_transformers", json_array());
		err |= put(root, "zarr_format", json_integer(3));
	}
	json_decref(fill);
	rc = err ? nomem() : tess_json_dump(out, root);
	json_decref(root);
	return rc;
}

/* ==== public: parse, write, clear, copy ================================================= */

int tess_meta_parse(tess_meta *out, const char *text, size_t len, int zarr_format,
                    const char *what)
{
	pctx p = {what ? what : "array metadata", TESS_ECORRUPT};
	memset(out, 0, sizeof *out);
	if (zarr_format != 2 && zarr_format != 3)
		return tess_err(TESS_EINVAL, "%s: zarr_format %d is neither 2 nor 3", p.what, zarr_format);
	json_t *root;
	int rc = load_json(&p, text, len, &root);
	if (rc)
		return rc;
	const json_t *fmt = json_object_get(root, "zarr_format");
	if (!json_is_object(root))
		rc = BAD(&p, "expected a JSON object, got %s", BRIEF(root));
	else if (!fmt)
		rc = BAD(&p, "\"zarr_format\" is missing");
	else if (!json_is_integer(fmt) || json_integer_value(fmt) != zarr_format)
		rc = (json_is_integer(fmt) && (json_integer_value(fmt) == 2 || json_integer_value(fmt) == 3))
		             ? BAD(&p, "\"zarr_format\" is %s, expected %d", BRIEF(fmt), zarr_format)
		             : UNSUP(&p, "\"zarr_format\" %s is not supported (2 or 3)", BRIEF(fmt));
	else
		rc = zarr_format == 2 ? parse_v2(&p, out, root) : parse_v3(&p, out, root);
	json_decref(root);
	if (rc)
		tess_meta_clear(out);
	return rc;
}

int tess_meta_write(tess_buf *out, const tess_meta *m)
{
	if (m->zarr_format == 2)
		return write_v2(out, m);
	if (m->zarr_format == 3)
		return write_v3(out, m);
	return tess_err(TESS_EINVAL, "writing metadata: zarr_format %d is neither 2 nor 3",
	                m->zarr_format);
}

void tess_meta_clear(tess_meta *m)
{
	if (!m)
		return;
	pipeline_clear(&m->pipeline);
	free(m->fill);
	if (m->dimension_names) {
		for (int i = 0; i < m->ndim; i++)
			free(m->dimension_names[i]);
		free(m->dimension_names);
	}
	json_decref(m->attributes);
	json_decref(m->extra);
	memset(m, 0, sizeof *m);
}

static int copy_names(tess_meta *dst, const tess_meta *src)
{
	if (!src->dimension_names)
		return 0;
	if (!(dst->dimension_names = calloc((size_t)src->ndim + 1, sizeof *dst->dimension_names)))
		return nomem();
	for (int i = 0; i < src->ndim; i++)
		if (src->dimension_names[i] &&
		    !(dst->dimension_names[i] = strdup(src->dimension_names[i])))
			return nomem();
	return 0;
}

int tess_meta_copy(tess_meta *dst, const tess_meta *src)
{
	*dst = *src;
	dst->fill = NULL;
	dst->dimension_names = NULL;
	dst->attributes = dst->extra = NULL;
	memset(&dst->pipeline, 0, sizeof dst->pipeline);
	int rc = 0;
	if (src->fill && !(dst->fill = malloc(src->dtype.itemsize)))
		rc = nomem();
	if (!rc && src->fill)
		memcpy(dst->fill, src->fill, src->dtype.itemsize);
	if (!rc)
		rc = copy_names(dst, src);
	if (!rc && src->attributes && !(dst->attributes = json_deep_copy(src->attributes)))
		rc = nomem();
	if (!rc && src->extra && !(dst->extra = json_deep_copy(src->extra)))
		rc = nomem();
	tess_codec_ctx ctx = codec_ctx(src->zarr_format, &src->dtype);
	if (!rc)
		rc = pipeline_copy(&dst->pipeline, &src->pipeline, &ctx);
	if (rc)
		tess_meta_clear(dst);
	return rc;
}

/* ==== chunk keys ========================================================================= */

size_t tess_meta_chunk_key(char *buf, size_t cap, const tess_meta *m, const uint64_t *idx)
{
	char key[8 + TESS_ARRAY_MAX_DIMS * 21];
	size_t n = 0;
	if (m->ndim == 0) {
		key[n++] = m->key_prefix[0] ? 'c' : '0';
	} else {
		for (const char *pre = m->key_prefix; *pre; pre++)
			key[n++] = *pre;
		for (int i = 0; i < m->ndim; i++) {
			if (i)
				key[n++] = m->key_sep;
			n += (size_t)snprintf(key + n, sizeof key - n, "%llu", (unsigned long long)idx[i]);
		}
	}
	key[n] = '\0';
	if (cap)
		snprintf(buf, cap, "%s", key);
	return n;
}

/* ==== from creation options =============================================================== */

static int opts_dtype(const pctx *p, tess_meta *m, const tess_array_opts *o)
{
	tess_dtype dt = o->dtype;
	/* NumPy's normal form: '|' for 1-byte types and S, an order for U */
	if (dt.kind == TESS_DT_BYTES || (dt.kind != TESS_DT_UNICODE && dt.itemsize == 1))
		dt.endian = '|';
	else if (dt.endian != '>')
		dt.endian = '<';
	if (tess_dtype_check(&dt) != 0)
		return BAD(p, "dtype: kind %d with itemsize %u is not a dtype", (int)dt.kind, dt.itemsize);
	char buf[24];
	if (o->zarr_format == 3 && !tess_dtype_v3_name(&dt))
		return BAD(p, "dtype %s has no Zarr v3 data_type (S and U are v2 only)",
		           tess_dtype_str(buf, sizeof buf, &dt));
	m->dtype = dt;
	return 0;
}

static int opts_grid(const pctx *p, tess_meta *m, const tess_array_opts *o, uint64_t *inner,
                     int *sharded)
{
	*sharded = 0;
	for (int i = 0; i < o->ndim; i++)
		*sharded |= o->shard[i] != 0;
	if (*sharded && o->zarr_format != 3)
		return BAD(p, "shard: sharding needs zarr_format 3");
	for (int i = 0; i < o->ndim; i++) {
		uint64_t extent = o->shape[i] ? o->shape[i] : 1;
		m->shape[i] = o->shape[i];
		inner[i] = o->chunks[i] ? o->chunks[i] : extent;
		m->chunks[i] = inner[i];
		if (!*sharded)
			continue;
		uint64_t s = o->shard[i];
		if (s == 0 && !mul_ok(extent / inner[i] + (extent % inner[i] != 0), inner[i], &s))
			return BAD(p, "shard[%d]: the whole extent %llu in chunks of %llu overflows", i,
			           (unsigned long long)extent, (unsigned long long)inner[i]);
		if (s % inner[i] != 0)
			return BAD(p, "shard[%d] = %llu is not a multiple of chunks[%d] = %llu", i,
			           (unsigned long long)s, i, (unsigned long long)inner[i]);
		m->chunks[i] = s;
	}
	return 0;
}

static int opts_names(const pctx *p, tess_meta *m, const tess_array_opts *o)
{
	if (!o->dimension_names)
		return 0;
	if (o->zarr_format != 3)
		return BAD(p, "dimension_names: only Zarr v3 stores them");
	if (!(m->dimension_names = calloc((size_t)o->ndim + 1, sizeof *m->dimension_names)))
		return nomem();
	for (int i = 0; i < o->ndim; i++)
		if (o->dimension_names[i] && !(m->dimension_names[i] = strdup(o->dimension_names[i])))
			return nomem();
	return 0;
}

static int opts_fill(const pctx *p, tess_meta *m, const tess_array_opts *o)
{
	if (!(m->fill = calloc(1, m->dtype.itemsize)))
		return nomem();
	if (!o->fill)
		return 0;
	pctx fp = {"array options: fill", TESS_EINVAL};
	json_t *v;
	int rc = load_json(&fp, o->fill, strlen(o->fill), &v);
	if (rc)
		return rc;
	fill_ctx f = {p, &m->dtype, m->pipeline.endian, o->zarr_format == 3};
	rc = fill_parse(&f, v, m->fill, &m->fill_null);
	json_decref(v);
	return rc;
}

/* The compressor: SPEC, "none", or NULL for the default blosc (none for a
 * 0-d array, whose single value zarr-python never compresses). */
static int opts_codec(const pctx *p, const tess_array_opts *o, const tess_dtype *dt,
                      tess_pipeline *pl)
{
	if ((o->codec && strcmp(o->codec, "none") == 0) || (!o->codec && o->ndim == 0))
		return 0;
	tess_codec_ctx ctx = codec_ctx(o->zarr_format, dt);
	tess_codec *c;
	int rc = tess_codec_from_spec(&c, o->codec ? o->codec : "blosc", &ctx);
	if (rc)
		return tess_err_prefix(rc, "%s: codec: ", p->what);
	return pipeline_add(pl, c);
}

static int opts_shard(tess_meta *m, const uint64_t *inner)
{
	tess_shard_spec *sh = calloc(1, sizeof *sh);
	if (!sh)
		return nomem();
	/* the element pipeline built so far becomes the inner one */
	sh->inner_pipeline = m->pipeline;
	memset(&m->pipeline, 0, sizeof m->pipeline);
	m->pipeline.shard = sh;
	m->pipeline.endian = sh->inner_pipeline.endian;
	identity_perm(&m->pipeline, m->ndim);
	memcpy(sh->inner, inner, sizeof sh->inner);
	sh->index_pipeline.endian = '<';
	tess_codec_ctx ictx = codec_ctx(3, &index_dtype);
	json_t *crc = json_string("crc32c");
	if (!crc)
		return nomem();
	tess_codec *c;
	int rc = tess_codec_from_json(&c, crc, &ictx);
	json_decref(crc);
	return rc ? rc : pipeline_add(&sh->index_pipeline, c);
}

static int opts_check(const pctx *p, const tess_array_opts *o)
{
	if (o->version < 1)
		return BAD(p, "version %u: initialize with TESS_ARRAY_OPTS_INIT", o->version);
	if (o->zarr_format != 2 && o->zarr_format != 3)
		return BAD(p, "zarr_format %d: expected 2 or 3", o->zarr_format);
	if (o->ndim < 0 || o->ndim > TESS_ARRAY_MAX_DIMS)
		return BAD(p, "ndim %d: expected 0..%d", o->ndim, TESS_ARRAY_MAX_DIMS);
	if (o->order != 'C' && o->order != 'F')
		return BAD(p, "order '%c': expected 'C' or 'F'", o->order ? o->order : '?');
	if (o->dimension_separator != '.' && o->dimension_separator != '/')
		return BAD(p, "dimension_separator '%c': expected '.' or '/'",
		           o->dimension_separator ? o->dimension_separator : '?');
	return 0;
}

static int build_from_opts(const pctx *p, tess_meta *m, const tess_array_opts *o)
{
	uint64_t inner[TESS_ARRAY_MAX_DIMS] = {0};
	int sharded, rc;
	if ((rc = opts_check(p, o)))
		return rc;
	m->zarr_format = o->zarr_format;
	m->ndim = o->ndim;
	if ((rc = opts_dtype(p, m, o)) || (rc = opts_grid(p, m, o, inner, &sharded)) ||
	    (rc = opts_names(p, m, o)))
		return rc;
	/* the element pipeline: F order is the reversed axes, in v3 as a
	 * transpose codec; stored byte order is the dtype's */
	identity_perm(&m->pipeline, m->ndim);
	if (o->order == 'F' && m->ndim > 1) {
		for (int i = 0; i < m->ndim; i++)
			m->pipeline.perm[i] = m->ndim - 1 - i;
		m->pipeline.permuted = 1;
	}
	m->pipeline.endian = m->dtype.endian;
	if (o->zarr_format == 2) {
		m->order = o->order;
		m->key_sep = o->dimension_separator;
		m->sep_explicit = o->dimension_separator == '/';
	} else {
		m->order = 'C';
		m->key_prefix[0] = 'c';
		m->key_prefix[1] = m->key_sep = '/';
		if (m->dtype.itemsize > 1)
			m->dtype.endian = '<'; /* v3 dtypes have no order: the bytes codec has it */
		if (!(m->attributes = json_object()))
			return nomem();
	}
	if ((rc = opts_fill(p, m, o)) || (rc = opts_codec(p, o, &m->dtype, &m->pipeline)))
		return rc;
	if (sharded && (rc = opts_shard(m, inner)))
		return rc;
	return check_layout(p, m);
}

int tess_meta_from_opts(tess_meta *out, const tess_array_opts *opts)
{
	pctx p = {"array options", TESS_EINVAL};
	memset(out, 0, sizeof *out);
	if (!opts)
		return BAD(&p, "no options given");
	int rc = build_from_opts(&p, out, opts);
	if (rc)
		tess_meta_clear(out);
	return rc;
}
