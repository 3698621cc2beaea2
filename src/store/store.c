/* Opening stores by URL, the format file, and the object-layer wrappers. */
#include "store/internal.h"
#include "util/error.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t tess_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

char *tess_key_join(const char *parent, const char *child)
{
	size_t lp = strlen(parent), lc = strlen(child);
	char *s = malloc(lp + lc + 2);
	if (!s)
		return NULL;
	if (lp == 0) {
		memcpy(s, child, lc + 1);
		return s;
	}
	memcpy(s, parent, lp);
	s[lp] = '/';
	memcpy(s + lp + 1, child, lc + 1);
	return s;
}

int tess_key_is_reserved(const char *key)
{
	size_t n = strlen(TESS_RESERVED_DIR);
	return strncmp(key, TESS_RESERVED_DIR, n) == 0 && (key[n] == '\0' || key[n] == '/');
}

/* ---- URL parsing ------------------------------------------------------------ */

/* "PATH" and "file://PATH" are local directories; "scheme://rest?query" names a
 * registered backend.  Plain paths never have a query: '?' is a valid file name
 * character. */
int tess_url_parse(tess_url *u, const char *url)
{
	memset(u, 0, sizeof *u);
	if (!url || !*url)
		return tess_err(TESS_EINVAL, "store URL is empty");
	const char *sep = strstr(url, "://");
	const char *rest = url;
	strcpy(u->scheme, "file");
	if (sep) {
		size_t n = (size_t)(sep - url);
		if (n == 0 || n >= sizeof u->scheme)
			return tess_err(TESS_EINVAL, "store URL '%s': bad scheme", url);
		for (size_t i = 0; i < n; i++)
			if (!((url[i] >= 'a' && url[i] <= 'z') || (url[i] >= '0' && url[i] <= '9') ||
			      url[i] == '+' || url[i] == '-' || url[i] == '.'))
				return tess_err(TESS_EINVAL, "store URL '%s': bad scheme", url);
		memcpy(u->scheme, url, n);
		u->scheme[n] = '\0';
		rest = sep + 3;
	}
	const char *q = sep ? strchr(rest, '?') : NULL;
	size_t loc_len = q ? (size_t)(q - rest) : strlen(rest);
	u->location = strndup(rest, loc_len);
	u->query = q ? strdup(q + 1) : NULL;
	if (!u->location || (q && !u->query))
		return tess_err(TESS_ENOMEM, "store URL '%s': out of memory", url);
	if (strcmp(u->scheme, "file") == 0 && loc_len == 0)
		return tess_err(TESS_EINVAL, "store URL '%s': no path", url);
	return 0;
}

void tess_url_free(tess_url *u)
{
	free(u->location);
	free(u->query);
}

/* ---- the format file ---------------------------------------------------------- */

static int format_check(tess_store *st)
{
	tess_buf buf = {0};
	int rc = tess_obj_get(st, TESS_FORMAT_KEY, 0, UINT64_MAX, &buf);
	if (rc == TESS_ENOTFOUND)
		return tess_err(TESS_ENOTFOUND,
		                "'%s' is not a Tessera store (no %s); create one with 'tess init'",
		                st->url, TESS_FORMAT_KEY);
	if (rc)
		return tess_err_prefix(rc, "store '%s': ", st->url);
	json_error_t jerr;
	json_t *doc = json_loadb((const char *)buf.data, buf.len, 0, &jerr);
	tess_buf_free(&buf);
	json_t *ver = json_object_get(doc, "version");
	const char *fmt = json_string_value(json_object_get(doc, "format"));
	if (!doc || !json_is_integer(ver) || !fmt || strcmp(fmt, "tessera") != 0) {
		json_decref(doc);
		return tess_err(TESS_ECORRUPT, "store '%s': %s is not a Tessera format file",
		                st->url, TESS_FORMAT_KEY);
	}
	json_int_t v = json_integer_value(ver);
	json_decref(doc);
	if (v > TESS_FORMAT_VERSION || v < 1)
		return tess_err(TESS_EVERSION,
		                "store '%s' has format version %lld; this Tessera (%s) reads version %d",
		                st->url, (long long)v, TESS_VERSION_STRING, TESS_FORMAT_VERSION);
	return 0;
}

static int format_write(tess_store *st)
{
	char text[128];
	int n = snprintf(text, sizeof text, "{\n    \"format\": \"tessera\",\n    \"version\": %d\n}",
	                 TESS_FORMAT_VERSION);
	int rc = tess_obj_put(st, TESS_FORMAT_KEY, text, (size_t)n, TESS_PUT_IF_ABSENT);
	if (rc == TESS_EEXISTS)
		return tess_err(TESS_EEXISTS, "'%s' is already a Tessera store", st->url);
	return rc;
}

/* ---- open / init / close ------------------------------------------------------ */

static int store_connect(tess_store **out, const char *url, unsigned flags)
{
	*out = NULL;
	tess_url u;
	int rc = tess_url_parse(&u, url);
	if (rc) {
		tess_url_free(&u);
		return rc;
	}
	const tess_backend_ops *ops = tess_backend_find(u.scheme);
	if (!ops) {
		rc = tess_err(TESS_EINVAL, "store URL '%s': unknown scheme '%s' (known: file, mem, lmdb)",
		              url, u.scheme);
		tess_url_free(&u);
		return rc;
	}
	tess_store *st = calloc(1, sizeof *st);
	if (!st || !(st->url = strdup(url))) {
		free(st);
		tess_url_free(&u);
		return tess_err(TESS_ENOMEM, "store '%s': out of memory", url);
	}
	st->ops = ops;
	rc = ops->open(&st->be, u.location, u.query, flags);
	tess_url_free(&u);
	if (rc) {
		free(st->url);
		free(st);
		return rc;
	}
	*out = st;
	return 0;
}

int tess_store_open(tess_store **out, const char *url, const tess_store_opts *opts)
{
	if (opts && opts->create)
		return tess_store_init(out, url, opts);
	tess_store *st;
	int rc = store_connect(&st, url, 0);
	if (rc == TESS_ENOTFOUND)
		return tess_err(TESS_ENOTFOUND, "no store at '%s' (%s)", url, tess_errmsg());
	if (rc)
		return rc;
	if ((rc = format_check(st))) {
		tess_store_close(st);
		return rc;
	}
	*out = st;
	return 0;
}

int tess_store_init(tess_store **out, const char *url, const tess_store_opts *opts)
{
	tess_store *st;
	int rc = store_connect(&st, url, TESS_BACKEND_CREATE);
	if (rc)
		return rc;
	rc = tess_obj_put(st, ".zgroup", ZGROUP_V2, strlen(ZGROUP_V2), TESS_PUT_IF_ABSENT);
	if (rc == TESS_EEXISTS)
		rc = 0; /* adopt an existing Zarr hierarchy */
	if (!rc)
		rc = format_write(st);
	if (rc == TESS_EEXISTS && opts && opts->create)
		rc = format_check(st); /* open-or-create */
	if (rc) {
		tess_store_close(st);
		return rc;
	}
	*out = st;
	return 0;
}

void tess_store_close(tess_store *st)
{
	if (!st)
		return;
	if (st->ops->close)
		st->ops->close(st->be);
	free(st->url);
	free(st);
}

const char *tess_store_url(const tess_store *st) { return st->url; }

tess_backend *tess_store_backend(tess_store *st) { return st->be; }

/* ---- object-layer wrappers ---------------------------------------------------- */

int tess_obj_get(tess_store *st, const char *key, uint64_t offset, uint64_t length,
                 tess_buf *out)
{
	int rc = tess_key_check(key);
	return rc ? rc : st->ops->get(st->be, key, offset, length, out);
}

int tess_obj_put(tess_store *st, const char *key, const void *data, size_t len,
                 unsigned flags)
{
	int rc = tess_key_check(key);
	return rc ? rc : st->ops->put(st->be, key, data, len, flags);
}

int tess_obj_read(size_t *out_len, tess_store *st, const char *key, uint64_t offset,
                  void *dst, size_t length)
{
	tess_buf view = tess_buf_fixed(dst, length);
	int rc = tess_obj_get(st, key, offset, length, &view);
	*out_len = rc ? 0 : view.len;
	return rc;
}

int tess_obj_get_many(tess_store *st, tess_get_req *reqs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		reqs[i].status = tess_key_check(reqs[i].key);
		if (reqs[i].status)
			return reqs[i].status;
	}
	if (st->ops->get_many)
		return st->ops->get_many(st->be, reqs, n);
	for (size_t i = 0; i < n; i++)
		reqs[i].status = st->ops->get(st->be, reqs[i].key, reqs[i].offset,
		                              reqs[i].length, reqs[i].out);
	return 0;
}

int tess_obj_put_many(tess_store *st, tess_put_req *reqs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		reqs[i].status = tess_key_check(reqs[i].key);
		if (reqs[i].status)
			return reqs[i].status;
	}
	if (st->ops->put_many)
		return st->ops->put_many(st->be, reqs, n);
	for (size_t i = 0; i < n; i++)
		reqs[i].status = st->ops->put(st->be, reqs[i].key, reqs[i].data, reqs[i].len,
		                              reqs[i].flags);
	return 0;
}

int tess_obj_del_many(tess_store *st, tess_del_req *reqs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		reqs[i].status = tess_key_check(reqs[i].key);
		if (reqs[i].status)
			return reqs[i].status;
	}
	if (st->ops->abi >= 2 && st->ops->del_many)
		return st->ops->del_many(st->be, reqs, n);
	for (size_t i = 0; i < n; i++) {
		int rc = st->ops->del(st->be, reqs[i].key);
		reqs[i].status = rc == TESS_ENOTFOUND ? 0 : rc;
	}
	return 0;
}

int tess_del_batch_flush(tess_del_batch *b, tess_store *st)
{
	int rc = b->n ? tess_obj_del_many(st, b->reqs, b->n) : 0;
	for (size_t i = 0; i < b->n && !rc; i++) {
		if (b->reqs[i].status)
			rc = tess_err_prefix(b->reqs[i].status, "delete '%s': ", b->keys[i]);
		else
			b->deleted++;
	}
	for (size_t i = 0; i < b->n; i++)
		free(b->keys[i]);
	b->n = 0;
	return rc;
}

int tess_del_batch_add(tess_del_batch *b, tess_store *st, const char *key)
{
	if (b->n == TESS_DEL_BATCH) {
		int rc = tess_del_batch_flush(b, st);
		if (rc)
			return rc;
	}
	b->keys[b->n] = strdup(key);
	if (!b->keys[b->n])
		return tess_err(TESS_ENOMEM, "delete '%s': out of memory", key);
	b->reqs[b->n] = (tess_del_req){b->keys[b->n], 0};
	b->n++;
	return 0;
}

void tess_del_batch_free(tess_del_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->keys[i]);
	b->n = 0;
}
