/*
 * NumPy .npy headers (numpy/lib/format.py; versions 1.0, 2.0 and 3.0):
 *
 *   "\x93NUMPY" major minor  header_len (u16 LE in 1.0, u32 LE in 2.0/3.0)
 *   "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }" spaces "\n"
 *
 * The dict is a Python literal.  Reading accepts what Python would accept for
 * the three keys with plain values (any key order, any whitespace, trailing
 * commas, either quote, Python 2's 'L' suffix on integers in 1.0/2.0 files)
 * and refuses the rest, naming what it found.  Writing produces the bytes
 * numpy 1.24's numpy.save writes for a C-order array: keys sorted, then room
 * for the first axis to grow to 21 digits, then spaces and a newline so that
 * the data starts on a 64-byte boundary.
 */
#include "util/npy.h"
#include "util/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_HEADER_MAX (1u << 20)  /* numpy itself refuses 10000 by default */
#define NPY_ALIGN 64
#define NPY_GROWTH_DIGITS 21       /* numpy's GROWTH_AXIS_MAX_DIGITS */
#define NPY_DESCR_MAX (sizeof(((tess_npy_header *)0)->descr))
#define NPY_SHAPE_TEXT 1024        /* "(d0, d1, ...)": 32 dims of 19 digits fit */

/* ---- dtype strings ----------------------------------------------------------- */

static int parse_descr_size(const char *digits, uint64_t *out)
{
	uint64_t v = 0;
	if (digits[0] < '1' || digits[0] > '9')
		return -1;
	for (const char *d = digits; *d; d++) {
		if (*d < '0' || *d > '9' || v > UINT32_MAX)
			return -1;
		v = v * 10 + (uint64_t)(*d - '0');
	}
	*out = v;
	return 0;
}

/*
 * Check a typestring and put its canonical form (what numpy writes: '|' for
 * single bytes and S) in canon.  `code` is returned with the message on
 * failure; ctx starts the message.
 */
static int descr_check(const char *descr, char canon[NPY_DESCR_MAX], uint32_t *itemsize,
                       int code, const char *ctx)
{
	size_t len = strnlen(descr, NPY_DESCR_MAX);
	if (len < 2 || len >= NPY_DESCR_MAX || !strchr("<>|", descr[0]))
		return tess_err(code, "%s: dtype '%.40s' is not supported: not a plain typestring "
		                "like '<f4', '|u1' or '<U8'", ctx, descr);
	char order = descr[0], kind = descr[1];
	if (!strchr("biufcSU", kind))
		return tess_err(code, "%s: dtype '%s' is not supported: kind '%c' is not one of "
		                "b (bool), i, u, f, c, S or U", ctx, descr, kind);
	uint64_t n;
	if (parse_descr_size(descr + 2, &n) != 0)
		return tess_err(code, "%s: dtype '%s' is not supported: the size must be a "
		                "positive decimal number", ctx, descr);
	uint64_t size = n;
	int ok;
	switch (kind) {
	case 'b': ok = n == 1; break;
	case 'i': case 'u': ok = n == 1 || n == 2 || n == 4 || n == 8; break;
	case 'f': ok = n == 2 || n == 4 || n == 8; break;
	case 'c': ok = n == 8 || n == 16; break;
	case 'S': ok = n <= INT32_MAX; break;
	default: ok = n <= INT32_MAX / 4; size = 4 * n; break;  /* 'U': UCS-4 */
	}
	if (!ok)
		return tess_err(code, "%s: dtype '%s' is not supported: no such size for kind '%c'",
		                ctx, descr, kind);
	int single = size == 1 || kind == 'S';
	if (!single && order == '|')
		return tess_err(code, "%s: dtype '%s' is not supported: a %llu-byte type needs "
		                "the byte order '<' or '>'", ctx, descr, (unsigned long long)size);
	memcpy(canon, descr, len + 1);
	if (single)
		canon[0] = '|';
	*itemsize = (uint32_t)size;
	return 0;
}

/*
 * itemsize times the dimensions must fit in 63 bits, as numpy requires of
 * arrays: zero dimensions are skipped for the check (numpy does the same) so
 * strides computed from the other dimensions cannot overflow either.
 */
static int shape_bytes(uint64_t *out, uint32_t itemsize, int ndim, const uint64_t *shape)
{
	uint64_t bytes = itemsize;
	int empty = 0;
	for (int d = 0; d < ndim; d++) {
		if (shape[d] == 0) {
			empty = 1;
			continue;
		}
		if (bytes > (uint64_t)INT64_MAX / shape[d])
			return -1;
		bytes *= shape[d];
	}
	*out = empty ? 0 : bytes;
	return 0;
}

/* "(3, 4)" / "(5,)" / "()", exactly as Python's repr of the tuple. */
static size_t shape_repr(char *buf, size_t cap, int ndim, const uint64_t *shape)
{
	size_t at = (size_t)snprintf(buf, cap, "(");
	for (int d = 0; d < ndim && at < cap; d++)
		at += (size_t)snprintf(buf + at, cap - at, d ? ", %llu" : "%llu",
		                       (unsigned long long)shape[d]);
	if (at < cap)
		at += (size_t)snprintf(buf + at, cap - at, ndim == 1 ? ",)" : ")");
	return at < cap ? at : cap - 1;
}

/* ---- the header dict ------------------------------------------------------------ */

typedef struct cursor {
	const char *text;  /* the whole file prefix, so offsets are file offsets */
	size_t pos, end;
	int python2;       /* 1.0 and 2.0 files may carry Python 2's 'L' suffix */
} cursor;

static int at_char(const cursor *c, char ch)
{
	return c->pos < c->end && c->text[c->pos] == ch;
}

static void skip_space(cursor *c)
{
	while (c->pos < c->end && strchr(" \t\f\r\n", c->text[c->pos]) && c->text[c->pos])
		c->pos++;
}

/* ECORRUPT naming what was expected, where, and what is there. */
static int syntax(const cursor *c, const char *what)
{
	char near[24];
	size_t k = 0;
	for (size_t p = c->pos; p < c->end && k < sizeof near - 1; p++, k++) {
		unsigned char ch = (unsigned char)c->text[p];
		near[k] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	near[k] = '\0';
	if (c->pos >= c->end)
		return tess_err(TESS_ECORRUPT, "npy header: %s at byte %zu: the header ends there",
		                what, c->pos);
	return tess_err(TESS_ECORRUPT, "npy header: %s at byte %zu, found \"%s\"", what, c->pos,
	                near);
}

/* A quoted string of printable ASCII without escapes; *len is its full length
 * (out holds at most cap - 1 bytes of it). */
static int parse_string(cursor *c, char *out, size_t cap, size_t *len)
{
	if (at_char(c, 'u') || at_char(c, 'U'))
		c->pos++;
	if (!at_char(c, '\'') && !at_char(c, '"'))
		return syntax(c, "expected a quoted string");
	char quote = c->text[c->pos++];
	size_t n = 0;
	for (;;) {
		if (c->pos >= c->end)
			return syntax(c, "unterminated string");
		char ch = c->text[c->pos];
		if (ch == quote)
			break;
		if (ch == '\n')
			return syntax(c, "unterminated string");
		if (ch == '\\' || (unsigned char)ch < 0x20 || (unsigned char)ch >= 0x7f)
			return syntax(c, "unsupported character in a string");
		if (n + 1 < cap)
			out[n] = ch;
		n++;
		c->pos++;
	}
	c->pos++;
	out[n < cap ? n : cap - 1] = '\0';
	*len = n;
	return 0;
}

static int ident_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_';
}

static int parse_bool(cursor *c, int *out)
{
	static const char *const words[2] = {"False", "True"};
	for (int v = 0; v < 2; v++) {
		size_t n = strlen(words[v]);
		if (c->end - c->pos >= n && memcmp(c->text + c->pos, words[v], n) == 0 &&
		    (c->pos + n == c->end || !ident_char(c->text[c->pos + n]))) {
			c->pos += n;
			*out = v;
			return 0;
		}
	}
	return syntax(c, "fortran_order must be True or False");
}

/* A Python int literal in decimal that fits numpy's intp. */
static int parse_dim(cursor *c, uint64_t *out)
{
	if (at_char(c, '-'))
		return syntax(c, "negative dimension");
	if (c->pos >= c->end || c->text[c->pos] < '0' || c->text[c->pos] > '9')
		return syntax(c, "expected a dimension");
	size_t start = c->pos;
	uint64_t v = 0;
	int too_large = 0;
	while (c->pos < c->end && c->text[c->pos] >= '0' && c->text[c->pos] <= '9') {
		unsigned digit = (unsigned)(c->text[c->pos] - '0');
		if (v > ((uint64_t)INT64_MAX - digit) / 10)
			too_large = 1;
		else
			v = v * 10 + digit;
		c->pos++;
	}
	if (c->text[start] == '0' && c->pos - start > 1) {
		c->pos = start;
		return syntax(c, "dimension with a leading zero");
	}
	if (too_large) {
		c->pos = start;
		return syntax(c, "dimension larger than 2^63 - 1");
	}
	if (c->python2 && (at_char(c, 'L') || at_char(c, 'l')))
		c->pos++;
	if (c->pos < c->end && ident_char(c->text[c->pos]))
		return syntax(c, "expected a plain decimal dimension");
	*out = v;
	return 0;
}

/* A tuple of dimensions: "()", "(5,)", "(3, 4)", "(3, 4,)".  "(5)" is an int. */
static int parse_shape(cursor *c, tess_npy_header *h)
{
	if (!at_char(c, '('))
		return syntax(c, "shape must be a tuple");
	c->pos++;
	skip_space(c);
	h->ndim = 0;
	int comma = 0;
	while (!at_char(c, ')')) {
		if (h->ndim == TESS_NPY_MAX_DIMS)
			return tess_err(TESS_ENOTSUP, "npy header: shape has more than %d dimensions",
			                TESS_NPY_MAX_DIMS);
		int rc = parse_dim(c, &h->shape[h->ndim]);
		if (rc)
			return rc;
		h->ndim++;
		skip_space(c);
		if (at_char(c, ',')) {
			comma = 1;
			c->pos++;
			skip_space(c);
		} else if (!at_char(c, ')')) {
			return syntax(c, "expected ',' or ')' in the shape");
		}
	}
	if (h->ndim == 1 && !comma)
		return syntax(c, "shape (n) is an int, not a tuple: a 1-d shape is written (n,)");
	c->pos++;
	return 0;
}

static int parse_descr(cursor *c, tess_npy_header *h)
{
	if (at_char(c, '['))
		return tess_err(TESS_ENOTSUP, "npy header: structured dtypes (descr is a list of "
		                "fields) are not supported");
	if (at_char(c, '('))
		return tess_err(TESS_ENOTSUP, "npy header: subarray dtypes (descr is a tuple) are "
		                "not supported");
	char text[NPY_DESCR_MAX];
	size_t len;
	int rc = parse_string(c, text, sizeof text, &len);
	if (rc)
		return rc;
	if (len >= sizeof text)
		return tess_err(TESS_ENOTSUP, "npy header: dtype '%s...' is not supported", text);
	return descr_check(text, h->descr, &h->itemsize, TESS_ENOTSUP, "npy header");
}

enum { KEY_DESCR = 1, KEY_FORTRAN = 2, KEY_SHAPE = 4 };

static int parse_entry(cursor *c, tess_npy_header *h, unsigned *seen)
{
	char key[32];
	size_t len;
	int rc = parse_string(c, key, sizeof key, &len);
	if (rc)
		return rc;
	unsigned which = strcmp(key, "descr") == 0           ? KEY_DESCR
	                 : strcmp(key, "fortran_order") == 0 ? KEY_FORTRAN
	                 : strcmp(key, "shape") == 0         ? KEY_SHAPE
	                                                     : 0;
	if (!which || len >= sizeof key)
		return tess_err(TESS_ECORRUPT, "npy header: unknown key '%s%s' (expected descr, "
		                "fortran_order and shape)", key, len >= sizeof key ? "..." : "");
	if (*seen & which)
		return tess_err(TESS_ECORRUPT, "npy header: key '%s' appears twice", key);
	*seen |= which;
	skip_space(c);
	if (!at_char(c, ':'))
		return syntax(c, "expected ':' after a key");
	c->pos++;
	skip_space(c);
	switch (which) {
	case KEY_DESCR: return parse_descr(c, h);
	case KEY_FORTRAN: return parse_bool(c, &h->fortran_order);
	default: return parse_shape(c, h);
	}
}

static int parse_dict(cursor *c, tess_npy_header *h)
{
	unsigned seen = 0;
	skip_space(c);
	if (!at_char(c, '{'))
		return syntax(c, "expected '{' starting the header dict");
	c->pos++;
	for (;;) {
		skip_space(c);
		if (at_char(c, '}'))
			break;
		int rc = parse_entry(c, h, &seen);
		if (rc)
			return rc;
		skip_space(c);
		if (at_char(c, '}'))
			break;
		if (!at_char(c, ','))
			return syntax(c, "expected ',' or '}' after a value");
		c->pos++;
	}
	c->pos++;
	skip_space(c);
	if (c->pos != c->end)
		return syntax(c, "unexpected text after the header dict");
	static const struct { unsigned bit; const char *name; } keys[] = {
		{KEY_DESCR, "descr"}, {KEY_FORTRAN, "fortran_order"}, {KEY_SHAPE, "shape"}};
	for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
		if (!(seen & keys[k].bit))
			return tess_err(TESS_ECORRUPT, "npy header: key '%s' is missing", keys[k].name);
	return 0;
}

/* ---- reading ------------------------------------------------------------------ */

/* Magic, version and header length: where the dict starts and how long it is. */
static int parse_preamble(const uint8_t *p, size_t len, size_t *dict_at, uint32_t *dict_len,
                          int *python2)
{
	if (len < NPY_MAGIC_LEN + 2)
		return tess_err(TESS_ECORRUPT, "npy header: %zu bytes, too short for the magic "
		                "and version", len);
	if (memcmp(p, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
		return tess_err(TESS_ECORRUPT, "npy header: bad magic: not a NumPy .npy file");
	unsigned major = p[6], minor = p[7];
	if (minor != 0 || major < 1 || major > 3)
		return tess_err(TESS_ENOTSUP, "npy header: format version %u.%u is not supported "
		                "(1.0, 2.0 and 3.0 are)", major, minor);
	size_t at = major == 1 ? 10 : 12;
	if (len < at)
		return tess_err(TESS_ECORRUPT, "npy header: %zu bytes, too short for the header "
		                "length", len);
	uint32_t n = (uint32_t)p[8] | (uint32_t)p[9] << 8;
	if (major > 1)
		n |= (uint32_t)p[10] << 16 | (uint32_t)p[11] << 24;
	if (n > NPY_HEADER_MAX)
		return tess_err(TESS_ECORRUPT, "npy header: header length %u is over the %u-byte "
		                "limit", n, NPY_HEADER_MAX);
	*dict_at = at;
	*dict_len = n;
	*python2 = major < 3;
	return 0;
}

int tess_npy_parse_header(tess_npy_header *out, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t at;
	uint32_t n;
	int python2;
	int rc = parse_preamble(p, len, &at, &n, &python2);
	if (rc)
		return rc;
	if (len - at < n)
		return tess_err(TESS_ECORRUPT, "npy header: the %u-byte header is cut short: "
		                "%zu bytes follow the preamble", n, len - at);
	tess_npy_header h;
	memset(&h, 0, sizeof h);
	cursor c = {(const char *)p, at, at + n, python2};
	rc = parse_dict(&c, &h);
	if (rc)
		return rc;
	h.data_offset = at + n;
	if (shape_bytes(&h.data_size, h.itemsize, h.ndim, h.shape) != 0 ||
	    h.data_size > (uint64_t)INT64_MAX - h.data_offset) {
		char text[NPY_SHAPE_TEXT];
		shape_repr(text, sizeof text, h.ndim, h.shape);
		return tess_err(TESS_ECORRUPT, "npy header: shape %s of '%s' is over 2^63 bytes",
		                text, h.descr);
	}
	*out = h;
	return 0;
}

/* Up to len bytes at offset; *got is less only at the end of the file. */
static int read_at(int fd, void *buf, size_t len, uint64_t offset, size_t *got)
{
	size_t done = 0;
	while (done < len) {
		ssize_t r = pread(fd, (char *)buf + done, len - done, (off_t)(offset + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return tess_err(TESS_EIO, "npy: reading the header: %s", strerror(errno));
		if (r == 0)
			break;
		done += (size_t)r;
	}
	*got = done;
	return 0;
}

static int file_size(int fd, uint64_t *out)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return tess_err(TESS_EIO, "npy: fstat: %s", strerror(errno));
	if (S_ISREG(st.st_mode)) {
		*out = (uint64_t)st.st_size;
		return 0;
	}
	off_t end = lseek(fd, 0, SEEK_END);
	if (end < 0)
		return tess_err(TESS_EIO, "npy: finding the size: %s", strerror(errno));
	*out = (uint64_t)end;
	return 0;
}

static int read_header(tess_npy_header *out, int fd)
{
	uint8_t pre[12];
	size_t got, at;
	uint32_t n;
	int python2;
	uint64_t size = 0;
	int rc = read_at(fd, pre, sizeof pre, 0, &got);
	if (!rc)
		rc = parse_preamble(pre, got, &at, &n, &python2);
	if (!rc)
		rc = file_size(fd, &size);
	if (rc)
		return rc;
	/* Never more than the file holds, whatever the length field says. */
	size_t want = size < at + n ? (size_t)size : at + n;
	uint8_t *buf = malloc(want ? want : 1);
	if (!buf)
		return tess_err(TESS_ENOMEM, "npy: out of memory for a %u-byte header", n);
	rc = read_at(fd, buf, want, 0, &got);
	if (!rc)
		rc = tess_npy_parse_header(out, buf, got);
	free(buf);
	if (rc)
		return rc;
	if (size < out->data_offset || size - out->data_offset < out->data_size) {
		char text[NPY_SHAPE_TEXT];
		shape_repr(text, sizeof text, out->ndim, out->shape);
		return tess_err(TESS_ECORRUPT, "npy: shape %s of '%s' needs %llu bytes of data, the "
		                "file has %llu after the %llu-byte header", text, out->descr,
		                (unsigned long long)out->data_size,
		                (unsigned long long)(size > out->data_offset ? size - out->data_offset : 0),
		                (unsigned long long)out->data_offset);
	}
	return 0;
}

int tess_npy_read_header(tess_npy_header *out, int fd, const char *path_for_messages)
{
	int rc = read_header(out, fd);
	if (rc)
		return tess_err_prefix(rc, "'%s': ", path_for_messages ? path_for_messages : "(npy)");
	return 0;
}

/* ---- writing ------------------------------------------------------------------ */

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return tess_err(TESS_EIO, "npy write: writing the header: %s", strerror(errno));
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

static int check_write_args(const char *descr, char canon[NPY_DESCR_MAX], int ndim,
                            const uint64_t *shape)
{
	uint32_t itemsize;
	if (!descr)
		return tess_err(TESS_EINVAL, "npy write: no dtype given");
	int rc = descr_check(descr, canon, &itemsize, TESS_EINVAL, "npy write");
	if (rc)
		return rc;
	if (ndim < 0 || ndim > TESS_NPY_MAX_DIMS)
		return tess_err(TESS_EINVAL, "npy write: %d dimensions (0 to %d are supported)", ndim,
		                TESS_NPY_MAX_DIMS);
	if (ndim > 0 && !shape)
		return tess_err(TESS_EINVAL, "npy write: no shape given for %d dimensions", ndim);
	uint64_t bytes;
	if (shape_bytes(&bytes, itemsize, ndim, shape) != 0) {
		char text[NPY_SHAPE_TEXT];
		shape_repr(text, sizeof text, ndim, shape);
		return tess_err(TESS_EINVAL, "npy write: shape %s of '%s' is over 2^63 bytes", text,
		                canon);
	}
	return 0;
}

int tess_npy_write_header(int fd, const char *descr, int ndim, const uint64_t *shape,
                          size_t *out_len)
{
	if (out_len)
		*out_len = 0;
	char canon[NPY_DESCR_MAX];
	int rc = check_write_args(descr, canon, ndim, shape);
	if (rc)
		return rc;
	/* Preamble (12) + dict (< 900) + growth room (21) + padding (64) + '\n'. */
	char buf[2048], text[NPY_SHAPE_TEXT];
	shape_repr(text, sizeof text, ndim, shape);
	const size_t dict_at = 12;
	size_t len = (size_t)snprintf(buf + dict_at, sizeof buf - dict_at,
	                              "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
	                              canon, text);
	if (ndim > 0) {
		int digits = snprintf(NULL, 0, "%llu", (unsigned long long)shape[0]);
		for (int k = digits; k < NPY_GROWTH_DIGITS; k++)
			buf[dict_at + len++] = ' ';
	}
	/* numpy pads with at least one space; the newline ends the header. */
	size_t pre = 10;
	size_t pad = NPY_ALIGN - (pre + len + 1) % NPY_ALIGN;
	int major = 1;
	if (len + 1 + pad > 0xffff) {  /* as numpy; 32 dimensions never get here */
		pre = 12;
		pad = NPY_ALIGN - (pre + len + 1) % NPY_ALIGN;
		major = 2;
	}
	memset(buf + dict_at + len, ' ', pad);
	buf[dict_at + len + pad] = '\n';
	uint32_t n = (uint32_t)(len + pad + 1);
	char *start = buf + dict_at - pre;
	memcpy(start, NPY_MAGIC, NPY_MAGIC_LEN);
	start[6] = (char)major;
	start[7] = 0;
	for (size_t k = 0; k < pre - 8; k++)
		start[8 + k] = (char)(n >> (8 * k));
	rc = write_all(fd, start, pre + n);
	if (rc)
		return rc;
	if (out_len)
		*out_len = pre + n;
	return 0;
}
