/*
 * NumPy typestrings and plain dtype names (tessera/array.h), and the Zarr v3
 * data_type names (array/meta.h).
 *
 * Normalization follows NumPy's dtype.str: 1-byte types and 'S' are written
 * with '|' whatever order was asked for ("<u1" -> "|u1"), 'U' always has a
 * byte order ("|U5" -> "<U5"), and a missing or native ('=') order is
 * little endian (every platform Tessera builds on is).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array/meta.h"
#include "util/error.h"

/* Elements are bounded far below this by the chunk size limit; the bound
 * here only keeps "S99999999999" from wrapping the uint32 itemsize. */
#define DTYPE_MAX_ITEMSIZE (1u << 31)

typedef struct dtype_name {
	const char *name;
	tess_dtype_kind kind;
	uint32_t itemsize;
} dtype_name;

/* Plain names accepted by tess_dtype_parse; also exactly the Zarr v3 core
 * data types. */
static const dtype_name plain_names[] = {
	{"bool", TESS_DT_BOOL, 1},        {"int8", TESS_DT_INT, 1},
	{"int16", TESS_DT_INT, 2},        {"int32", TESS_DT_INT, 4},
	{"int64", TESS_DT_INT, 8},        {"uint8", TESS_DT_UINT, 1},
	{"uint16", TESS_DT_UINT, 2},      {"uint32", TESS_DT_UINT, 4},
	{"uint64", TESS_DT_UINT, 8},      {"float16", TESS_DT_FLOAT, 2},
	{"float32", TESS_DT_FLOAT, 4},    {"float64", TESS_DT_FLOAT, 8},
	{"complex64", TESS_DT_COMPLEX, 8}, {"complex128", TESS_DT_COMPLEX, 16},
};
#define NPLAIN (sizeof plain_names / sizeof plain_names[0])

static int sized_kind_ok(tess_dtype_kind kind, uint32_t size)
{
	switch (kind) {
	case TESS_DT_BOOL: return size == 1;
	case TESS_DT_INT:
	case TESS_DT_UINT: return size == 1 || size == 2 || size == 4 || size == 8;
	case TESS_DT_FLOAT: return size == 2 || size == 4 || size == 8;
	case TESS_DT_COMPLEX: return size == 8 || size == 16;
	case TESS_DT_BYTES: return size >= 1 && size <= DTYPE_MAX_ITEMSIZE;
	case TESS_DT_UNICODE: return size >= 4 && size % 4 == 0 && size <= DTYPE_MAX_ITEMSIZE;
	}
	return 0;
}

/* The byte order NumPy reports for a dtype given the one asked for. */
static char normal_endian(tess_dtype_kind kind, uint32_t itemsize, char asked)
{
	if (kind == TESS_DT_BYTES || (kind != TESS_DT_UNICODE && itemsize == 1))
		return '|';
	return asked == '>' ? '>' : '<';
}

int tess_dtype_check(const tess_dtype *dt)
{
	if (!sized_kind_ok(dt->kind, dt->itemsize))
		return tess_err(TESS_EINVAL, "dtype: kind %d with itemsize %u is not a dtype",
		                (int)dt->kind, dt->itemsize);
	if (dt->endian != normal_endian(dt->kind, dt->itemsize, dt->endian))
		return tess_err(TESS_EINVAL, "dtype: byte order '%c' does not fit itemsize %u",
		                dt->endian, dt->itemsize);
	return 0;
}

static int plain_lookup(tess_dtype *out, const char *s)
{
	for (size_t i = 0; i < NPLAIN; i++) {
		if (strcmp(s, plain_names[i].name) == 0) {
			out->kind = plain_names[i].kind;
			out->itemsize = plain_names[i].itemsize;
			out->endian = normal_endian(out->kind, out->itemsize, '<');
			return 0;
		}
	}
	return TESS_ENOTFOUND;
}

/* Decimal digits only, no sign, no leading '+', within limit. */
static int parse_count(const char *s, uint64_t limit, uint64_t *out)
{
	if (*s < '0' || *s > '9')
		return -1;
	uint64_t v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > limit)
			return -1;
	}
	*out = v;
	return 0;
}

static int kind_of_char(char c, tess_dtype_kind *kind)
{
	switch (c) {
	case 'b': *kind = TESS_DT_BOOL; return 0;
	case 'i': *kind = TESS_DT_INT; return 0;
	case 'u': *kind = TESS_DT_UINT; return 0;
	case 'f': *kind = TESS_DT_FLOAT; return 0;
	case 'c': *kind = TESS_DT_COMPLEX; return 0;
	case 'S': *kind = TESS_DT_BYTES; return 0;
	case 'U': *kind = TESS_DT_UNICODE; return 0;
	default: return -1;
	}
}

static int parse_typestring(tess_dtype *out, const char *s)
{
	char asked = '<';
	if (*s == '<' || *s == '>' || *s == '|' || *s == '=') {
		asked = *s == '>' ? '>' : '<';
		s++;
	}
	tess_dtype_kind kind;
	if (kind_of_char(*s, &kind) != 0)
		return -1;
	uint64_t n;
	uint64_t limit = kind == TESS_DT_UNICODE ? DTYPE_MAX_ITEMSIZE / 4 : DTYPE_MAX_ITEMSIZE;
	if (parse_count(s + 1, limit, &n) != 0)
		return -1;
	uint32_t itemsize = (uint32_t)(kind == TESS_DT_UNICODE ? n * 4 : n);
	if (!sized_kind_ok(kind, itemsize))
		return -1;
	out->kind = kind;
	out->itemsize = itemsize;
	out->endian = normal_endian(kind, itemsize, asked);
	return 0;
}

int tess_dtype_parse(tess_dtype *out, const char *s)
{
	if (!out || !s)
		return tess_err(TESS_EINVAL, "dtype: no string given");
	tess_dtype dt;
	if (plain_lookup(&dt, s) == 0 || parse_typestring(&dt, s) == 0) {
		*out = dt;
		return 0;
	}
	return tess_err(TESS_EINVAL,
	                "dtype '%.64s': not a NumPy typestring of bool, int, uint, float, complex, "
	                "S or U ('<f4', '|u1', '>i8', '|S5', '<U5') nor a plain name "
	                "('float32', 'uint8', ...)",
	                s);
}

static char kind_char(tess_dtype_kind kind)
{
	static const char chars[] = {'b', 'i', 'u', 'f', 'c', 'S', 'U'};
	return (unsigned)kind < sizeof chars ? chars[kind] : '?';
}

const char *tess_dtype_str(char *buf, size_t cap, const tess_dtype *dt)
{
	if (!buf || cap == 0)
		return buf;
	if (!dt || !sized_kind_ok(dt->kind, dt->itemsize)) {
		snprintf(buf, cap, "invalid");
		return buf;
	}
	uint32_t n = dt->kind == TESS_DT_UNICODE ? dt->itemsize / 4 : dt->itemsize;
	snprintf(buf, cap, "%c%c%u", normal_endian(dt->kind, dt->itemsize, dt->endian),
	         kind_char(dt->kind), n);
	return buf;
}

int tess_dtype_from_v3(tess_dtype *out, const char *name, char endian)
{
	tess_dtype dt;
	if (plain_lookup(&dt, name) != 0)
		return TESS_ENOTFOUND;
	dt.endian = normal_endian(dt.kind, dt.itemsize, endian);
	*out = dt;
	return 0;
}

const char *tess_dtype_v3_name(const tess_dtype *dt)
{
	for (size_t i = 0; i < NPLAIN; i++)
		if (plain_names[i].kind == dt->kind && plain_names[i].itemsize == dt->itemsize)
			return plain_names[i].name;
	return NULL;
}
