/*
 * The few S3 XML documents the backend reads and writes, and S3's dates.
 *
 * A small strict scanner instead of a general XML library: S3 documents are
 * flat, namespace-free (one default xmlns on the root), entity-only and
 * short, and every byte comes from the network.  The scanner never reads past
 * the given length (the input is not NUL-terminated), bounds the nesting
 * depth, rejects DOCTYPE (and with it every user-defined entity), and hands
 * the text of each leaf element, entities decoded and checked to be UTF-8
 * without NUL, to a per-document callback that looks at the element path.
 *
 * One deliberate liberty: line ends in text are not normalized (XML would
 * turn "\r\n" into "\n").  S3 servers write keys byte for byte, and a key
 * holding "\r" must come back as it was stored.
 */
#include "backend/s3.h"
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* S3's documents nest four levels at most; anything deeper is hostile. */
#define XML_MAX_DEPTH 16

typedef struct xml_name {
	const char *p;
	size_t n;
} xml_name;

typedef struct xml_parser xml_parser;

struct xml_parser {
	const char *start, *p, *end;
	const char *what; /* document kind for messages: "ListBucketResult" */
	int quiet;        /* 1: set no error message (s3_xml_error) */
	int depth;        /* open elements */
	int root_done;    /* the root element has closed */
	int leaf;         /* the innermost open element has no child so far */
	xml_name stack[XML_MAX_DEPTH];
	tess_buf text;    /* decoded text of the innermost open element */
	/* Called after an element is pushed (its name is stack[depth-1]). */
	int (*open)(xml_parser *x);
	/* Called before an element is popped, with its text when it is a leaf
	 * (text is NUL-terminated, valid UTF-8, without NUL bytes). */
	int (*close)(xml_parser *x, const char *text, size_t len, int leaf);
	void *ctx;
};

static int xml_fail(xml_parser *x, const char *fmt, ...) TESS_PRINTF(2, 3);

/* TESS_ECORRUPT with "S3 <what>: <message> at byte N". */
static int xml_fail(xml_parser *x, const char *fmt, ...)
{
	if (x->quiet)
		return TESS_ECORRUPT;
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return tess_err(TESS_ECORRUPT, "S3 %s response: %s at byte %zu", x->what, msg,
	                (size_t)(x->p - x->start));
}

/* 1 when the element at `depth` (1 = root) is named `name`. */
static int xml_at(const xml_parser *x, int depth, const char *name)
{
	if (depth < 1 || depth > x->depth)
		return 0;
	const xml_name *e = &x->stack[depth - 1];
	return strlen(name) == e->n && memcmp(e->p, name, e->n) == 0;
}

/* 1 when the innermost open element is `name` at `depth`. */
static int xml_is(const xml_parser *x, int depth, const char *name)
{
	return x->depth == depth && xml_at(x, depth, name);
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_name_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':';
}

static int is_name_char(char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static size_t left(const xml_parser *x)
{
	return (size_t)(x->end - x->p);
}

static int starts(const xml_parser *x, const char *lit)
{
	size_t n = strlen(lit);
	return left(x) >= n && memcmp(x->p, lit, n) == 0;
}

static void skip_ws(xml_parser *x)
{
	while (x->p < x->end && is_ws(*x->p))
		x->p++;
}

/* Advance past the next occurrence of `lit`; fail if there is none. */
static int skip_past(xml_parser *x, const char *lit, const char *construct)
{
	size_t n = strlen(lit);
	for (; left(x) >= n; x->p++)
		if (memcmp(x->p, lit, n) == 0) {
			x->p += n;
			return 0;
		}
	x->p = x->end;
	return xml_fail(x, "unterminated %s", construct);
}

/* ASCII names only: S3 uses nothing else. */
static int parse_name(xml_parser *x, xml_name *out)
{
	if (x->p >= x->end || !is_name_start(*x->p))
		return xml_fail(x, "expected a name");
	out->p = x->p;
	while (x->p < x->end && is_name_char(*x->p))
		x->p++;
	out->n = (size_t)(x->p - out->p);
	return 0;
}

static int put_utf8(tess_buf *b, uint32_t cp)
{
	unsigned char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xC0 | cp >> 6);
		u[1] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xE0 | cp >> 12);
		u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
		u[2] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xF0 | cp >> 18);
		u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
		u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
		u[3] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return tess_buf_append(b, u, n);
}

/* A character reference's digits up to ';' (at most 8, plenty for U+10FFFF). */
static int parse_charref(xml_parser *x, uint32_t *cp)
{
	int hex = x->p < x->end && *x->p == 'x';
	x->p += hex;
	uint32_t v = 0;
	int digits = 0;
	for (; x->p < x->end && *x->p != ';'; x->p++, digits++) {
		char c = *x->p;
		int d = c >= '0' && c <= '9' ? c - '0'
		        : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
		        : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0 || digits >= 8)
			return xml_fail(x, "bad character reference");
		v = v * (hex ? 16 : 10) + (uint32_t)d;
	}
	if (x->p >= x->end || digits == 0)
		return xml_fail(x, "bad character reference");
	x->p++;
	/* XML forbids NUL, surrogates and what lies past Unicode; control
	 * characters are let through because servers (Ceph RGW) write keys
	 * holding them as &#x01;. */
	if (v == 0 || (v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF || v == 0xFFFE || v == 0xFFFF)
		return xml_fail(x, "character reference to invalid code point U+%04X", (unsigned)v);
	*cp = v;
	return 0;
}

/* At '&': decode one reference into b. */
static int parse_reference(xml_parser *x, tess_buf *b)
{
	static const struct {
		const char *name;
		char c;
	} named[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
	x->p++;
	if (x->p < x->end && *x->p == '#') {
		x->p++;
		uint32_t cp = 0;
		int rc = parse_charref(x, &cp);
		return rc ? rc : put_utf8(b, cp);
	}
	for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
		if (starts(x, named[i].name)) {
			x->p += strlen(named[i].name);
			return tess_buf_append(b, &named[i].c, 1);
		}
	return xml_fail(x, "unknown entity reference");
}

/* Attributes up to '>' or "/>": checked for syntax, values decoded and
 * dropped (S3 puts only xmlns there). */
static int parse_attrs(xml_parser *x)
{
	tess_buf scratch = {0};
	int rc = 0;
	for (;;) {
		const char *before = x->p;
		skip_ws(x);
		if (x->p >= x->end) {
			rc = xml_fail(x, "unterminated start tag");
			break;
		}
		if (*x->p == '>' || *x->p == '/')
			break;
		xml_name name;
		if (x->p == before) {
			rc = xml_fail(x, "expected whitespace before an attribute");
			break;
		}
		if ((rc = parse_name(x, &name)))
			break;
		skip_ws(x);
		if (x->p >= x->end || *x->p != '=') {
			rc = xml_fail(x, "expected '=' after attribute '%.*s'", (int)name.n, name.p);
			break;
		}
		x->p++;
		skip_ws(x);
		if (x->p >= x->end || (*x->p != '"' && *x->p != '\'')) {
			rc = xml_fail(x, "expected a quoted attribute value");
			break;
		}
		char q = *x->p++;
		while (!rc && x->p < x->end && *x->p != q) {
			if (*x->p == '<')
				rc = xml_fail(x, "'<' in an attribute value");
			else if (*x->p == '&')
				rc = parse_reference(x, &scratch);
			else
				x->p++;
		}
		if (rc)
			break;
		if (x->p >= x->end) {
			rc = xml_fail(x, "unterminated attribute value");
			break;
		}
		x->p++;
		scratch.len = 0;
	}
	tess_buf_free(&scratch);
	return rc;
}

/* Strict UTF-8: no overlong forms, surrogates or code points past U+10FFFF. */
static int utf8_valid(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		size_t k;
		uint32_t cp, min;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			k = 1, cp = c & 0x1F, min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			k = 2, cp = c & 0x0F, min = 0x800;
		} else if ((c & 0xF8) == 0xF0) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return 0;
		}
		if (n - i <= k)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xC0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		i += k + 1;
	}
	return 1;
}

/* After an element's close callback: pop it. */
static void pop_element(xml_parser *x)
{
	x->depth--;
	x->leaf = 0;
	x->text.len = 0;
	x->root_done = x->depth == 0;
}

static int open_element(xml_parser *x)
{
	x->p++; /* '<' */
	xml_name name;
	int rc = parse_name(x, &name);
	if (rc)
		return rc;
	if (x->root_done)
		return xml_fail(x, "second root element <%.*s>", (int)name.n, name.p);
	if (x->depth == XML_MAX_DEPTH)
		return xml_fail(x, "elements nested deeper than %d", XML_MAX_DEPTH);
	if ((rc = parse_attrs(x)))
		return rc;
	int empty = *x->p == '/';
	if (empty && (left(x) < 2 || x->p[1] != '>'))
		return xml_fail(x, "expected '/>'");
	x->p += empty ? 2 : 1;
	x->stack[x->depth++] = name;
	x->leaf = 1;
	x->text.len = 0;
	if (x->open && (rc = x->open(x)))
		return rc;
	if (!empty)
		return 0;
	rc = x->close ? x->close(x, "", 0, 1) : 0;
	pop_element(x);
	return rc;
}

static int close_element(xml_parser *x)
{
	x->p += 2; /* "</" */
	xml_name name;
	int rc = parse_name(x, &name);
	if (rc)
		return rc;
	skip_ws(x);
	if (x->p >= x->end || *x->p != '>')
		return xml_fail(x, "unterminated end tag");
	x->p++;
	if (x->depth == 0)
		return xml_fail(x, "end tag </%.*s> without a start", (int)name.n, name.p);
	const xml_name *top = &x->stack[x->depth - 1];
	if (top->n != name.n || memcmp(top->p, name.p, name.n) != 0)
		return xml_fail(x, "end tag </%.*s> does not match <%.*s>", (int)name.n, name.p,
		                (int)top->n, top->p);
	if (x->leaf) {
		if ((rc = tess_buf_append(&x->text, "", 1))) /* NUL-terminate for the callback */
			return rc;
		x->text.len--;
		if (!utf8_valid(x->text.data, x->text.len))
			return xml_fail(x, "invalid UTF-8 in <%.*s>", (int)name.n, name.p);
	}
	if (x->close)
		rc = x->close(x, x->leaf ? (const char *)x->text.data : "", x->leaf ? x->text.len : 0, x->leaf);
	pop_element(x);
	return rc;
}

/* At '<': one piece of markup. */
static int parse_markup(xml_parser *x)
{
	if (starts(x, "<?")) {
		xml_name target;
		x->p += 2;
		int rc = parse_name(x, &target);
		return rc ? rc : skip_past(x, "?>", "processing instruction");
	}
	if (starts(x, "<!--"))
		return skip_past(x, "-->", "comment");
	if (starts(x, "<![CDATA[")) {
		if (x->depth == 0)
			return xml_fail(x, "CDATA outside the root element");
		x->p += 9;
		const char *s = x->p;
		int rc = skip_past(x, "]]>", "CDATA section");
		if (rc)
			return rc;
		return tess_buf_append(&x->text, s, (size_t)(x->p - 3 - s));
	}
	if (starts(x, "<!"))
		return xml_fail(x, "DOCTYPE and other declarations are not accepted");
	if (starts(x, "</"))
		return close_element(x);
	return open_element(x);
}

/* Character data up to the next '<'. */
static int parse_text(xml_parser *x)
{
	if (x->depth == 0) {
		if (!is_ws(*x->p))
			return xml_fail(x, "text outside the root element");
		x->p++;
		return 0;
	}
	if (*x->p == '&')
		return parse_reference(x, &x->text);
	const char *s = x->p;
	while (x->p < x->end && *x->p != '<' && *x->p != '&')
		x->p++;
	return tess_buf_append(&x->text, s, (size_t)(x->p - s));
}

/* Run the parser over the whole input; 0 when it is one well-formed element
 * (plus declarations, comments and whitespace) and every callback agreed. */
static int xml_run(xml_parser *x, const char *xml, size_t len)
{
	x->start = x->p = xml ? xml : "";
	x->end = x->p + (xml ? len : 0);
	/* A UTF-8 byte order mark is allowed before the declaration. */
	if (starts(x, "\xEF\xBB\xBF"))
		x->p += 3;
	int rc = 0;
	/* XML allows NUL nowhere, and refusing it here keeps it out of
	 * everything the callbacks see */
	const char *nul = memchr(x->p, '\0', left(x));
	if (nul) {
		x->p = nul;
		rc = xml_fail(x, "NUL byte");
	}
	while (!rc && x->p < x->end)
		rc = *x->p == '<' ? parse_markup(x) : parse_text(x);
	if (!rc && x->depth)
		rc = xml_fail(x, "truncated inside <%.*s>", (int)x->stack[x->depth - 1].n,
		              x->stack[x->depth - 1].p);
	if (!rc && !x->root_done)
		rc = xml_fail(x, "no root element");
	tess_buf_free(&x->text);
	return rc;
}

/* Fail unless the root element is `name`. */
static int expect_root(xml_parser *x)
{
	if (x->depth == 1 && !xml_at(x, 1, x->what))
		return xml_fail(x, "root element is <%.*s>, not <%s>", (int)x->stack[0].n, x->stack[0].p,
		                x->what);
	return 0;
}

/* Copy text into a fixed field, cut at a UTF-8 character boundary. */
static void copy_trunc(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static char *dup_text(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* ---- <Error> ----------------------------------------------------------------- */

static int error_close(xml_parser *x, const char *t, size_t n, int leaf)
{
	s3_error_doc *e = x->ctx;
	if (leaf && xml_is(x, 2, "Code"))
		copy_trunc(e->code, sizeof e->code, t, n);
	else if (leaf && xml_is(x, 2, "Message"))
		copy_trunc(e->message, sizeof e->message, t, n);
	return 0;
}

int s3_xml_error(const char *xml, size_t len, s3_error_doc *out)
{
	memset(out, 0, sizeof *out);
	xml_parser x = {.what = "Error", .quiet = 1, .open = expect_root, .close = error_close, .ctx = out};
	if (xml_run(&x, xml, len) == 0)
		return 1;
	memset(out, 0, sizeof *out);
	return 0;
}

/* ---- ListBucketResult ----------------------------------------------------------- */

typedef struct list_ctx {
	s3_list_result *r;
	size_t cap;
	int url;          /* <EncodingType>url</EncodingType> */
	int have_trunc;
	/* the entry being read */
	int entry;        /* 0 none, 1 Contents, 2 CommonPrefixes */
	char *key;
	int have_size;
	uint64_t size;
	int64_t mtime_ns;
} list_ctx;

static int parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	if (n == 0 || n > 20)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int list_open(xml_parser *x)
{
	list_ctx *c = x->ctx;
	int rc = expect_root(x);
	if (rc || x->depth != 2)
		return rc;
	int kind = xml_at(x, 2, "Contents") ? 1 : xml_at(x, 2, "CommonPrefixes") ? 2 : 0;
	if (kind) {
		c->entry = kind;
		c->key = NULL;
		c->have_size = 0;
		c->size = 0;
		c->mtime_ns = 0;
	}
	return 0;
}

/* A <Contents> or <CommonPrefixes> closed: add its item. */
static int list_add(xml_parser *x, list_ctx *c)
{
	const char *what = c->entry == 1 ? "Contents" : "CommonPrefixes";
	if (!c->key)
		return xml_fail(x, "<%s> without a %s", what, c->entry == 1 ? "<Key>" : "<Prefix>");
	if (c->entry == 1 && !c->have_size)
		return xml_fail(x, "<Contents> without <Size>");
	s3_list_result *r = c->r;
	if (r->count == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		s3_list_item *items = realloc(r->items, cap * sizeof *items);
		if (!items)
			return tess_err(TESS_ENOMEM, "out of memory reading an S3 listing");
		r->items = items;
		c->cap = cap;
	}
	r->items[r->count++] = (s3_list_item){c->key, c->entry == 2, c->size, c->mtime_ns};
	c->key = NULL;
	c->entry = 0;
	return 0;
}

/* A leaf inside <Contents>/<CommonPrefixes>. */
static int list_entry_leaf(xml_parser *x, list_ctx *c, const char *t, size_t n)
{
	int is_key = (c->entry == 1 && xml_is(x, 3, "Key")) || (c->entry == 2 && xml_is(x, 3, "Prefix"));
	if (is_key) {
		if (c->key)
			return xml_fail(x, "two keys in one entry");
		if (n == 0)
			return xml_fail(x, "empty key");
		if (!(c->key = dup_text(t, n)))
			return tess_err(TESS_ENOMEM, "out of memory reading an S3 listing");
	} else if (c->entry == 1 && xml_is(x, 3, "Size")) {
		if (c->have_size || parse_u64(t, n, &c->size))
			return xml_fail(x, "bad <Size> '%.*s'", (int)(n > 40 ? 40 : n), t);
		c->have_size = 1;
	} else if (c->entry == 1 && xml_is(x, 3, "LastModified")) {
		if (s3_parse_iso8601(t, n, &c->mtime_ns))
			return xml_fail(x, "bad <LastModified> '%.*s'", (int)(n > 40 ? 40 : n), t);
	}
	return 0;
}

static int list_close(xml_parser *x, const char *t, size_t n, int leaf)
{
	list_ctx *c = x->ctx;
	s3_list_result *r = c->r;
	if (x->depth == 2 && c->entry)
		return list_add(x, c);
	if (x->depth == 3 && c->entry) {
		int needed = xml_is(x, 3, "Key") || xml_is(x, 3, "Prefix") || xml_is(x, 3, "Size") ||
		             xml_is(x, 3, "LastModified");
		if (needed && !leaf)
			return xml_fail(x, "<%.*s> holds elements", (int)x->stack[2].n, x->stack[2].p);
		return leaf ? list_entry_leaf(x, c, t, n) : 0;
	}
	if (x->depth != 2)
		return 0;
	if (xml_is(x, 2, "IsTruncated")) {
		if (c->have_trunc || !leaf || !((n == 4 && !memcmp(t, "true", 4)) || (n == 5 && !memcmp(t, "false", 5))))
			return xml_fail(x, "bad <IsTruncated>");
		r->truncated = n == 4;
		c->have_trunc = 1;
	} else if (xml_is(x, 2, "NextContinuationToken")) {
		if (r->next_token || !leaf || n == 0)
			return xml_fail(x, "bad <NextContinuationToken>");
		if (!(r->next_token = dup_text(t, n)))
			return tess_err(TESS_ENOMEM, "out of memory reading an S3 listing");
	} else if (xml_is(x, 2, "EncodingType")) {
		if (!leaf || n != 3 || memcmp(t, "url", 3) != 0)
			return xml_fail(x, "unknown <EncodingType> '%.*s'", (int)(n > 40 ? 40 : n), t);
		c->url = 1;
	}
	return 0;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Undo S3's url encoding in place ("+" is a space, as in form encoding:
 * AWS writes spaces that way, Ceph RGW as %20; both write '+' as %2B).
 * -1 for a malformed escape or one that decodes to NUL. */
static int percent_decode(char *s)
{
	char *w = s;
	for (const char *p = s; *p; p++) {
		if (*p == '+') {
			*w++ = ' ';
		} else if (*p != '%') {
			*w++ = *p;
		} else {
			int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
			if (lo < 0 || (hi | lo) == 0)
				return -1;
			*w++ = (char)(hi << 4 | lo);
			p += 2;
		}
	}
	*w = '\0';
	return 0;
}

static int cmp_item(const void *a, const void *b)
{
	const s3_list_item *x = a, *y = b;
	/* strcmp compares as unsigned char, which is memcmp order for keys
	 * without NUL; ties (a server listing one name twice) by kind */
	int c = strcmp(x->key, y->key);
	return c ? c : x->is_prefix - y->is_prefix;
}

/* Decode (when url-encoded), check and sort the collected items.  Keys are
 * decoded only after the whole document is read: nothing obliges a server
 * to put <EncodingType> before the entries. */
static int list_finish(s3_list_result *r, int url)
{
	for (size_t i = 0; url && i < r->count; i++) {
		char *k = r->items[i].key;
		if (percent_decode(k) || !utf8_valid((const unsigned char *)k, strlen(k)))
			return tess_err(TESS_ECORRUPT, "S3 ListBucketResult response: url-encoded key %zu "
			                "has a bad escape or decodes to NUL or invalid UTF-8", i);
	}
	if (r->count > 1)
		qsort(r->items, r->count, sizeof *r->items, cmp_item);
	return 0;
}

void s3_list_result_free(s3_list_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->count; i++)
		free(r->items[i].key);
	free(r->items);
	free(r->next_token);
	memset(r, 0, sizeof *r);
}

int s3_xml_list(const char *xml, size_t len, s3_list_result *out)
{
	memset(out, 0, sizeof *out);
	list_ctx c = {.r = out};
	xml_parser x = {.what = "ListBucketResult", .open = list_open, .close = list_close, .ctx = &c};
	int rc = xml_run(&x, xml, len);
	free(c.key); /* an entry left open by a failure */
	rc = rc ? rc : list_finish(out, c.url);
	if (rc)
		s3_list_result_free(out);
	return rc;
}

/* ---- InitiateMultipartUploadResult -------------------------------------------- */

typedef struct upload_ctx {
	char *out;
	size_t cap;
	int found;
} upload_ctx;

static int upload_close(xml_parser *x, const char *t, size_t n, int leaf)
{
	upload_ctx *c = x->ctx;
	if (!xml_is(x, 2, "UploadId"))
		return 0;
	if (c->found || !leaf || n == 0)
		return xml_fail(x, "empty, repeated or structured <UploadId>");
	if (n >= c->cap)
		return xml_fail(x, "<UploadId> of %zu bytes does not fit in %zu", n, c->cap);
	memcpy(c->out, t, n + 1);
	c->found = 1;
	return 0;
}

int s3_xml_upload_id(const char *xml, size_t len, char *out, size_t cap)
{
	if (!out || cap == 0)
		return tess_err(TESS_EINVAL, "s3_xml_upload_id: no output buffer");
	out[0] = '\0';
	upload_ctx c = {out, cap, 0};
	xml_parser x = {.what = "InitiateMultipartUploadResult", .open = expect_root,
	                .close = upload_close, .ctx = &c};
	int rc = xml_run(&x, xml, len);
	if (!rc && !c.found)
		rc = tess_err(TESS_ECORRUPT, "S3 InitiateMultipartUploadResult response: no <UploadId>");
	if (rc)
		out[0] = '\0';
	return rc;
}

/* ---- DeleteResult ------------------------------------------------------------------ */

typedef struct delete_ctx {
	s3_delete_error *errs;
	size_t n, cap;
	int in_error;
	s3_delete_error cur;
} delete_ctx;

static int delete_open(xml_parser *x)
{
	delete_ctx *c = x->ctx;
	int rc = expect_root(x);
	if (!rc && xml_is(x, 2, "Error")) {
		memset(&c->cur, 0, sizeof c->cur);
		c->in_error = 1;
	}
	return rc;
}

static int delete_add(xml_parser *x, delete_ctx *c)
{
	c->in_error = 0;
	if (!c->cur.key)
		return xml_fail(x, "<Error> without a <Key>");
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		s3_delete_error *e = realloc(c->errs, cap * sizeof *e);
		if (!e)
			return tess_err(TESS_ENOMEM, "out of memory reading an S3 DeleteResult");
		c->errs = e;
		c->cap = cap;
	}
	c->errs[c->n++] = c->cur;
	c->cur.key = NULL;
	return 0;
}

static int delete_close(xml_parser *x, const char *t, size_t n, int leaf)
{
	delete_ctx *c = x->ctx;
	if (!c->in_error)
		return 0;
	if (x->depth == 2)
		return delete_add(x, c);
	if (x->depth != 3)
		return 0;
	if (xml_is(x, 3, "Key")) {
		if (c->cur.key || !leaf || n == 0)
			return xml_fail(x, "empty, repeated or structured <Key> in <Error>");
		if (!(c->cur.key = dup_text(t, n)))
			return tess_err(TESS_ENOMEM, "out of memory reading an S3 DeleteResult");
	} else if (leaf && xml_is(x, 3, "Code")) {
		copy_trunc(c->cur.err.code, sizeof c->cur.err.code, t, n);
	} else if (leaf && xml_is(x, 3, "Message")) {
		copy_trunc(c->cur.err.message, sizeof c->cur.err.message, t, n);
	}
	return 0;
}

void s3_delete_errors_free(s3_delete_error *errors, size_t n)
{
	for (size_t i = 0; errors && i < n; i++)
		free(errors[i].key);
	free(errors);
}

int s3_xml_delete_result(const char *xml, size_t len, s3_delete_error **errors, size_t *n)
{
	*errors = NULL;
	*n = 0;
	delete_ctx c = {0};
	xml_parser x = {.what = "DeleteResult", .open = delete_open, .close = delete_close, .ctx = &c};
	int rc = xml_run(&x, xml, len);
	free(c.cur.key); /* an entry left open by a failure */
	if (rc) {
		s3_delete_errors_free(c.errs, c.n);
		return rc;
	}
	*errors = c.errs;
	*n = c.n;
	return 0;
}

/* ---- request bodies ---------------------------------------------------------------- */

/* Append s as XML character data.  XML 1.0 cannot carry other control
 * characters (nor invalid UTF-8), so those are TESS_EINVAL. */
static int xml_escape(tess_buf *b, const char *s, const char *what)
{
	size_t n = strlen(s);
	if (!utf8_valid((const unsigned char *)s, n))
		return tess_err(TESS_EINVAL, "S3 %s: not valid UTF-8", what);
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		unsigned char ch = (unsigned char)s[i];
		const char *rep = ch == '&' ? "&amp;" : ch == '<' ? "&lt;" : ch == '>' ? "&gt;"
		                  : ch == '"' ? "&quot;" : ch == '\'' ? "&apos;" : ch == '\t' ? "&#x9;"
		                  : ch == '\n' ? "&#xA;" : ch == '\r' ? "&#xD;" : NULL;
		if (rep)
			rc = tess_buf_append(b, rep, strlen(rep));
		else if (ch < 0x20)
			return tess_err(TESS_EINVAL, "S3 %s: control character 0x%02X cannot be sent in XML",
			                what, ch);
		else
			rc = tess_buf_append(b, &ch, 1);
	}
	return rc;
}

static int append_lit(tess_buf *b, const char *s)
{
	return tess_buf_append(b, s, strlen(s));
}

#define XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"

int s3_xml_delete_request(tess_buf *out, const char *const *keys, size_t n)
{
	if (n == 0 || !keys)
		return tess_err(TESS_EINVAL, "S3 DeleteObjects: no keys (S3 refuses an empty <Delete>)");
	size_t start = out->len;
	int rc = append_lit(out, XML_DECL "<Delete><Quiet>true</Quiet>");
	for (size_t i = 0; i < n && !rc; i++) {
		if (!keys[i] || !keys[i][0]) {
			rc = tess_err(TESS_EINVAL, "S3 DeleteObjects: key %zu is empty", i);
			break;
		}
		rc = append_lit(out, "<Object><Key>");
		rc = rc ? rc : xml_escape(out, keys[i], "DeleteObjects key");
		rc = rc ? rc : append_lit(out, "</Key></Object>");
	}
	rc = rc ? rc : append_lit(out, "</Delete>");
	if (rc)
		out->len = start;
	return rc;
}

int s3_xml_complete_request(tess_buf *out, const char *const *etags, size_t n)
{
	if (n == 0 || !etags)
		return tess_err(TESS_EINVAL, "S3 CompleteMultipartUpload: no parts");
	size_t start = out->len;
	int rc = append_lit(out, XML_DECL "<CompleteMultipartUpload>");
	for (size_t i = 0; i < n && !rc; i++) {
		char num[64];
		if (!etags[i] || !etags[i][0]) {
			rc = tess_err(TESS_EINVAL, "S3 CompleteMultipartUpload: part %zu has no ETag", i + 1);
			break;
		}
		snprintf(num, sizeof num, "<Part><PartNumber>%zu</PartNumber><ETag>", i + 1);
		rc = append_lit(out, num);
		rc = rc ? rc : xml_escape(out, etags[i], "CompleteMultipartUpload ETag");
		rc = rc ? rc : append_lit(out, "</ETag></Part>");
	}
	rc = rc ? rc : append_lit(out, "</CompleteMultipartUpload>");
	if (rc)
		out->len = start;
	return rc;
}

/* ---- dates ------------------------------------------------------------------------ */

/* Days from 1970-01-01 to y-m-d, proleptic Gregorian (Howard Hinnant's
 * days_from_civil): no timegm, no time zone. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int64_t y, int m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return dm[m - 1] + (m == 2 && leap);
}

/* n decimal digits at s, or -1. */
static int64_t digits(const char *s, size_t n)
{
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Validate the fields and combine them into ns since the epoch. */
static int make_ns(int64_t y, int64_t mo, int64_t d, int64_t h, int64_t mi, int64_t s, int64_t frac,
                   int64_t *out_ns)
{
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, (int)mo) || h < 0 || h > 23 ||
	    mi < 0 || mi > 59 || s < 0 || s > 59 || frac < 0)
		return -1;
	int64_t secs = days_from_civil(y, (int)mo, (int)d) * 86400 + h * 3600 + mi * 60 + s;
	/* int64 nanoseconds reach from 1677-09-21T00:12:44Z to
	 * 2262-04-11T23:47:16.854775807Z */
	if (secs > (INT64_MAX - frac) / 1000000000 || secs < INT64_MIN / 1000000000)
		return -1;
	*out_ns = secs * 1000000000 + frac;
	return 0;
}

static int date_fail(const char *kind, const char *s, size_t len)
{
	return tess_err(TESS_ECORRUPT, "bad %s date '%.*s'", kind, (int)(len > 64 ? 64 : len), s);
}

int s3_parse_iso8601(const char *s, size_t len, int64_t *out_ns)
{
	/* YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z */
	if (!s || len < 20 || len > 30 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[len - 1] != 'Z')
		return date_fail("ISO 8601", s ? s : "", s ? len : 0);
	int64_t frac = 0;
	if (len > 20) {
		size_t nf = len - 21;
		if (s[19] != '.' || nf < 1 || nf > 9 || (frac = digits(s + 20, nf)) < 0)
			return date_fail("ISO 8601", s, len);
		for (size_t i = nf; i < 9; i++)
			frac *= 10;
	}
	if (make_ns(digits(s, 4), digits(s + 5, 2), digits(s + 8, 2), digits(s + 11, 2), digits(s + 14, 2),
	            digits(s + 17, 2), frac, out_ns))
		return date_fail("ISO 8601", s, len);
	return 0;
}

int s3_parse_http_date(const char *s, size_t len, int64_t *out_ns)
{
	/* "Sun, 06 Nov 1994 08:49:37 GMT": the weekday is checked for spelling
	 * only, it adds nothing the date does not say */
	static const char *const wdays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	if (!s || len != 29 || memcmp(s + 3, ", ", 2) != 0 || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
	    s[19] != ':' || s[22] != ':' || memcmp(s + 25, " GMT", 4) != 0)
		return date_fail("HTTP", s ? s : "", s ? len : 0);
	int wd = -1, mo = -1;
	for (int i = 0; i < 7; i++)
		if (memcmp(s, wdays[i], 3) == 0)
			wd = i;
	for (int i = 0; i < 12; i++)
		if (memcmp(s + 8, months[i], 3) == 0)
			mo = i + 1;
	if (wd < 0 || mo < 0 ||
	    make_ns(digits(s + 12, 4), mo, digits(s + 5, 2), digits(s + 17, 2), digits(s + 20, 2),
	            digits(s + 23, 2), 0, out_ns))
		return date_fail("HTTP", s, len);
	return 0;
}
