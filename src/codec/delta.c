/*
 * delta: the Zarr v2 filter numcodecs.Delta ({"id": "delta", "dtype":
 * "<i4", "astype": "<i4"}).  Encoding writes the first element, then each
 * element minus the one before, computed in `dtype` and cast to `astype`;
 * decoding is the running sum computed in `dtype` (NumPy's
 * cumsum(enc, out=dec)).
 *
 * Supported, bit for bit as NumPy computes them:
 *  - integer dtype and integer astype of any sizes and byte orders (NumPy
 *    wraps around; narrowing casts keep the low bytes, widening ones
 *    extend the sign of signed types), except uint64 with a signed type,
 *    which NumPy decodes in float64;
 *  - float dtype with astype the same float type (f2, f4, f8; byte order may
 *    differ).  Half floats are computed as NumPy does: in float, rounded back
 *    to half after every operation.
 * Anything else (bool, complex, mixing ints and floats, float casts) is
 * TESS_ENOTSUP.
 */
#include "codec/codec_internal.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

typedef struct delta_type {
	char kind;  /* 'i', 'u' or 'f' */
	int size;   /* bytes */
	int big;    /* big-endian */
	char str[8]; /* NumPy's dtype.str: "<i4", "|u1" */
} delta_type;

typedef struct delta_codec {
	tess_codec base;
	delta_type dtype, astype;
} delta_codec;

/* ---- dtype strings -------------------------------------------------------------- */

static int host_big(void)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return 1;
#else
	return 0;
#endif
}

/* "int16" -> "i2" and so on; NULL when not a name. */
static const char *typestring_of_name(const char *s)
{
	static const char *const names[][2] = {
		{"int8", "i1"},    {"int16", "i2"},   {"int32", "i4"},   {"int64", "i8"},
		{"uint8", "u1"},   {"uint16", "u2"},  {"uint32", "u4"},  {"uint64", "u8"},
		{"float16", "f2"}, {"float32", "f4"}, {"float64", "f8"},
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(s, names[i][0]) == 0)
			return names[i][1];
	return NULL;
}

/* A NumPy typestring ("<i4", ">f8", "|u1", "i2", "=u4") or name ("int32"). */
static int parse_dtype(delta_type *t, const char *s, const char *key)
{
	const char *ts = typestring_of_name(s);
	const char *p = ts ? ts : s;
	int big = host_big();
	if (*p == '<' || *p == '>' || *p == '|' || *p == '=') {
		big = *p == '>' ? 1 : *p == '<' ? 0 : big;
		p++;
	}
	char kind = *p;
	char *end;
	long size = kind ? strtol(p + 1, &end, 10) : 0;
	if (!kind || !strchr("biufcmMSUV", kind) || p[1] < '0' || p[1] > '9' || *end ||
	    size <= 0 || size > 1 << 20)
		return tess_err(TESS_EINVAL, "codec 'delta': \"%s\" is \"%s\", not a NumPy dtype", key,
		                s);
	int ok = ((kind == 'i' || kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8)) ||
	         (kind == 'f' && (size == 2 || size == 4 || size == 8));
	if (!ok)
		return tess_err(TESS_ENOTSUP,
		                "codec 'delta': %s \"%s\" is not supported (integers and floats only)",
		                key, s);
	t->kind = kind;
	t->size = (int)size;
	t->big = size > 1 && big;
	/* size is 1, 2, 4 or 8 here: one digit */
	t->str[0] = size == 1 ? '|' : t->big ? '>' : '<';
	t->str[1] = kind;
	t->str[2] = (char)('0' + size);
	t->str[3] = '\0';
	return 0;
}

static int delta_create(tess_codec **out, const json_t *config, const tess_codec_ctx *ctx)
{
	(void)ctx;
	static const char *const keys[] = {"id", "dtype", "astype", NULL};
	const char *dtype, *astype;
	delta_codec d = {.base.ops = &tess_codec_delta_ops};
	int rc;
	if ((rc = codec_check_keys(config, "delta", keys)) ||
	    (rc = codec_get_string(config, "delta", "dtype", NULL, &dtype)))
		return rc;
	if (!dtype)
		return tess_err(TESS_EINVAL, "codec 'delta': \"dtype\" is missing");
	if ((rc = codec_get_string(config, "delta", "astype", dtype, &astype)) ||
	    (rc = parse_dtype(&d.dtype, dtype, "dtype")) ||
	    (rc = parse_dtype(&d.astype, astype, "astype")))
		return rc;
	int ints = d.dtype.kind != 'f' && d.astype.kind != 'f';
	int same_float = d.dtype.kind == 'f' && d.astype.kind == 'f' && d.dtype.size == d.astype.size;
	if (!ints && !same_float)
		return tess_err(TESS_ENOTSUP,
		                "codec 'delta': dtype \"%s\" with astype \"%s\" is not supported "
		                "(integers to integers, or a float to the same float type)",
		                d.dtype.str, d.astype.str);
	/* NumPy promotes uint64 with a signed type to float64, and then runs the
	 * cumsum in doubles: not an integer delta any more */
	if (ints && d.dtype.kind != d.astype.kind &&
	    ((d.dtype.kind == 'u' && d.dtype.size == 8) || (d.astype.kind == 'u' && d.astype.size == 8)))
		return tess_err(TESS_ENOTSUP,
		                "codec 'delta': dtype \"%s\" with astype \"%s\" is not supported "
		                "(NumPy decodes it in float64, losing precision)",
		                d.dtype.str, d.astype.str);
	delta_codec *c = malloc(sizeof *c);
	if (!c)
		return tess_err(TESS_ENOMEM, "codec 'delta': out of memory");
	*c = d;
	*out = &c->base;
	return 0;
}

/* ---- element access ------------------------------------------------------------- */

static uint64_t load_bits(const uint8_t *p, const delta_type *t)
{
	uint64_t v = 0;
	for (int i = 0; i < t->size; i++)
		v |= (uint64_t)p[t->big ? i : t->size - 1 - i] << (8 * (t->size - 1 - i));
	return v;
}

static void store_bits(uint8_t *p, const delta_type *t, uint64_t v)
{
	for (int i = 0; i < t->size; i++)
		p[t->big ? t->size - 1 - i : i] = (uint8_t)(v >> (8 * i));
}

/* An integer of t's width as 64 bits: the sign extended for signed types. */
static uint64_t widen(uint64_t v, const delta_type *t)
{
	if (t->size == 8)
		return v;
	unsigned bits = 8u * (unsigned)t->size;
	v &= (UINT64_C(1) << bits) - 1;
	if (t->kind == 'i' && (v >> (bits - 1)))
		v |= ~UINT64_C(0) << bits;
	return v;
}

/* Half floats as NumPy 1.x converts them (npy_half_to_float / npy_float_to_half). */
static float half_to_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, sig = h & 0x3ffu;
	uint32_t f;
	if (exp == 0x1f) {
		f = sign | 0x7f800000u | sig << 13;
	} else if (exp == 0) {
		if (!sig) {
			f = sign;
		} else { /* subnormal: normalize */
			int e = -1;
			do {
				e++;
				sig <<= 1;
			} while (!(sig & 0x400u));
			f = sign | (uint32_t)(112 - e) << 23 | (sig & 0x3ffu) << 13;
		}
	} else {
		f = sign | (exp + 112) << 23 | sig << 13;
	}
	float x;
	memcpy(&x, &f, sizeof x);
	return x;
}

static uint16_t float_to_half(float x)
{
	uint32_t f;
	memcpy(&f, &x, sizeof f);
	uint16_t sign = (uint16_t)((f >> 16) & 0x8000u);
	uint32_t exp = f & 0x7f800000u, sig = f & 0x7fffffu;
	if (exp == 0x7f800000u && sig) { /* NaN: keep the top payload bits, stay NaN */
		uint16_t h = (uint16_t)(0x7c00u + (sig >> 13));
		return (uint16_t)(sign + (h == 0x7c00u ? h + 1 : h));
	}
	if (exp >= 0x47800000u) /* inf, or too large: inf */
		return (uint16_t)(sign + 0x7c00u);
	if (exp <= 0x38000000u) { /* half subnormal or zero */
		if (exp < 0x33000000u)
			return sign;
		uint32_t e = exp >> 23;
		uint32_t s = (0x800000u + sig) >> (113 - e);
		/* round half to even, counting the bits the shift dropped */
		if ((s & 0x3fffu) != 0x1000u || (f & 0x7ffu))
			s += 0x1000u;
		return (uint16_t)(sign + (s >> 13));
	}
	uint32_t h_exp = (exp - 0x38000000u) >> 13;
	if ((sig & 0x3fffu) != 0x1000u)
		sig += 0x1000u;
	return (uint16_t)(sign + h_exp + (sig >> 13)); /* a carry into exp is right */
}

/* a - b (subtract) or a + b in the float type t, on raw bits */
static uint64_t float_op(uint64_t a, uint64_t b, int size, int subtract)
{
	if (size == 8) {
		double x, y;
		memcpy(&x, &a, 8);
		memcpy(&y, &b, 8);
		double r = subtract ? x - y : x + y;
		uint64_t bits;
		memcpy(&bits, &r, 8);
		return bits;
	}
	float x, y;
	if (size == 4) {
		uint32_t a32 = (uint32_t)a, b32 = (uint32_t)b;
		memcpy(&x, &a32, 4);
		memcpy(&y, &b32, 4);
	} else {
		x = half_to_float((uint16_t)a);
		y = half_to_float((uint16_t)b);
	}
	float r = subtract ? x - y : x + y;
	if (size == 2)
		return float_to_half(r);
	uint32_t bits;
	memcpy(&bits, &r, 4);
	return bits;
}

/* ---- encode and decode ------------------------------------------------------------ */

static void delta_forward(const delta_codec *d, const uint8_t *in, size_t n, uint8_t *out)
{
	uint64_t prev = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t v = load_bits(in + i * (size_t)d->dtype.size, &d->dtype);
		uint64_t diff;
		if (d->dtype.kind == 'f')
			diff = i ? float_op(v, prev, d->dtype.size, 1) : v;
		else
			diff = widen(v - prev, &d->dtype); /* wraps in dtype, then casts */
		store_bits(out + i * (size_t)d->astype.size, &d->astype, diff);
		prev = v;
	}
}

static void delta_inverse(const delta_codec *d, const uint8_t *in, size_t n, uint8_t *out)
{
	uint64_t acc = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t e = load_bits(in + i * (size_t)d->astype.size, &d->astype);
		if (d->dtype.kind == 'f')
			acc = i ? float_op(acc, e, d->dtype.size, 0) : e;
		else
			acc += widen(e, &d->astype); /* the low dtype bytes are the sum */
		store_bits(out + i * (size_t)d->dtype.size, &d->dtype, acc);
	}
}

static int delta_encode(const tess_codec *c, const void *in, size_t len, tess_buf *out)
{
	const delta_codec *d = (const delta_codec *)c;
	size_t ds = (size_t)d->dtype.size, as = (size_t)d->astype.size;
	if (len % ds)
		return tess_err(TESS_EINVAL, "delta: %zu bytes is not a whole number of %s elements", len,
		                d->dtype.str);
	size_t n = len / ds;
	if (n > SIZE_MAX / as)
		return tess_err(TESS_EINVAL, "delta: %zu elements are too many", n);
	int rc = tess_buf_reserve(out, n * as);
	if (rc || !n)
		return rc;
	delta_forward(d, in, n, out->data + out->len);
	out->len += n * as;
	return 0;
}

static int delta_decode(const tess_codec *c, const void *in, size_t len, tess_buf *out,
                        size_t max_out)
{
	const delta_codec *d = (const delta_codec *)c;
	size_t ds = (size_t)d->dtype.size, as = (size_t)d->astype.size;
	if (len % as)
		return tess_err(TESS_ECORRUPT, "delta: %zu bytes is not a whole number of %s elements",
		                len, d->astype.str);
	size_t n = len / as;
	if (n > max_out / ds)
		return tess_err(TESS_ECORRUPT, "delta: %zu elements of %s do not fit in %zu bytes", n,
		                d->dtype.str, max_out);
	int rc = tess_buf_reserve(out, n * ds);
	if (rc || !n)
		return rc;
	delta_inverse(d, in, n, out->data + out->len);
	out->len += n * ds;
	return 0;
}

static json_t *delta_to_json(const tess_codec *c)
{
	const delta_codec *d = (const delta_codec *)c;
	return json_pack("{s:s, s:s, s:s}", "id", "delta", "dtype", d->dtype.str, "astype",
	                 d->astype.str);
}

static void delta_destroy(tess_codec *c)
{
	free(c);
}

const tess_codec_ops tess_codec_delta_ops = {
	.name = "delta",
	.formats = 1,
	.create = delta_create,
	.encode = delta_encode,
	.decode = delta_decode,
	.to_json = delta_to_json,
	.destroy = delta_destroy,
};
