/*
 * The s3 backend: a store at s3://BUCKET/PREFIX on any S3 API server (AWS,
 * Ceph RGW, MinIO), signed with AWS Signature Version 4.
 *
 *   s3://BUCKET[/PREFIX][?option=value&...]
 *     endpoint=URL          server (else AWS_ENDPOINT_URL, else AWS for region)
 *     region=NAME           signing region (else AWS_REGION / AWS_DEFAULT_REGION,
 *                           else us-east-1)
 *     profile=NAME          credentials from NAME_AWS_ACCESS_KEY_ID, ...
 *     addressing=path|virtual   bucket in the path or in the host name
 *     concurrency=N         requests in flight per batch (default 16)
 *     part_size=BYTES       multipart part size (default 8 MiB, >= 5 MiB)
 *     multipart_threshold=BYTES  puts above this go multipart (default 8 MiB)
 *     retries=N             retries of a failed request (default 5)
 *
 * How the vtable maps onto S3:
 *   get         GET with Range; a range at or past the end needs one HEAD to
 *               tell "empty" (offset == size) from TESS_ERANGE.
 *   put         PUT, or a multipart upload whose parts go up in parallel; a
 *               failed upload is aborted so no parts are left behind.
 *   IF_ABSENT   If-None-Match: *.  Whether the server honours it is probed
 *               once per instance (a second conditional PUT of a probe key
 *               must fail); a server that ignores it gets TESS_ENOTSUP, not a
 *               silent overwrite.  Multipart completion is probed separately
 *               (Ceph 16 honours the PUT but not the completion).
 *   writer      bounded memory: up to 4 parts buffered, sent together.
 *   stat        HEAD.   del  HEAD (for TESS_ENOTFOUND) then DELETE.
 *   list        ListObjectsV2 pages; start_after maps to StartAfter and a
 *               rolled-up prefix equal to it is dropped.
 *   get_many, put_many, del_many  concurrent on one set of connections;
 *               del_many is DeleteObjects in batches of 1000.
 */
#include "backend/builtin.h"
#include "backend/s3.h"
#include "util/error.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define MIB ((size_t)1 << 20)
#define DEFAULT_PART_SIZE (8 * MIB)
#define MIN_PART_SIZE (5 * MIB)
#define MAX_PARTS 10000
#define DEFAULT_CONCURRENCY 16
#define DEFAULT_RETRIES 5
#define WRITER_PARTS 4      /* parts a writer buffers and sends at once */
#define LIST_MAX_KEYS 1000  /* S3's page limit */
#define DELETE_BATCH 1000   /* S3's DeleteObjects limit */
#define NAME_MAX_LEN (TESS_KEY_MAX + 256)

static s3_backend *as_s3(tess_backend *be)
{
	return (s3_backend *)be;
}

/* ---- options and configuration -------------------------------------------- */

struct s3_opts {
	char *endpoint;
	char *region;
	char *profile;
	int addressing; /* -1 auto, 0 path, 1 virtual */
	size_t concurrency, retries, part_size, threshold;
};

static void opts_free(struct s3_opts *o)
{
	free(o->endpoint);
	free(o->region);
	free(o->profile);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode a query value into a new string (NULL on a bad escape). */
static char *query_value(const char *v, size_t len)
{
	char *out = malloc(len + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (v[i] != '%') {
			out[o++] = v[i] == '+' ? ' ' : v[i];
			continue;
		}
		int hi = i + 2 < len ? hexval(v[i + 1]) : -1;
		int lo = i + 2 < len ? hexval(v[i + 2]) : -1;
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(out);
			return NULL;
		}
		out[o++] = (char)(hi * 16 + lo);
		i += 2;
	}
	out[o] = 0;
	return out;
}

static int parse_count(const char *s, size_t lo, size_t hi, size_t *out)
{
	char *end;
	if (!*s || !isdigit((unsigned char)*s))
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	else if (*end == 'G' || *end == 'g')
		v <<= 30, end++;
	if (*end || v < lo || v > hi)
		return -1;
	*out = (size_t)v;
	return 0;
}

static int set_option(struct s3_opts *o, const char *loc, const char *name, char *val)
{
	int bad = 0;
	if (strcmp(name, "endpoint") == 0) {
		free(o->endpoint), o->endpoint = val, val = NULL;
	} else if (strcmp(name, "region") == 0) {
		free(o->region), o->region = val, val = NULL;
	} else if (strcmp(name, "profile") == 0) {
		free(o->profile), o->profile = val, val = NULL;
	} else if (strcmp(name, "addressing") == 0) {
		o->addressing = strcmp(val, "path") == 0 ? 0 : strcmp(val, "virtual") == 0 ? 1 : -2;
		bad = o->addressing == -2;
	} else if (strcmp(name, "concurrency") == 0) {
		bad = parse_count(val, 1, S3_MAX_CONCURRENCY, &o->concurrency);
	} else if (strcmp(name, "retries") == 0) {
		bad = parse_count(val, 0, 20, &o->retries);
	} else if (strcmp(name, "part_size") == 0) {
		bad = parse_count(val, MIN_PART_SIZE, (size_t)5 << 30, &o->part_size);
	} else if (strcmp(name, "multipart_threshold") == 0) {
		bad = parse_count(val, MIN_PART_SIZE, (size_t)5 << 30, &o->threshold);
	} else {
		free(val);
		return tess_err(TESS_EINVAL,
		                "s3 '%s': unknown option '%s' (known: endpoint, region, profile, "
		                "addressing, concurrency, part_size, multipart_threshold, retries)",
		                loc, name);
	}
	int rc = bad ? tess_err(TESS_EINVAL, "s3 '%s': bad value for option '%s'%s", loc, name,
	                        strcmp(name, "part_size") == 0 ||
	                                strcmp(name, "multipart_threshold") == 0
	                            ? " (at least 5M: S3's smallest part)"
	                            : "")
	             : 0;
	free(val);
	return rc;
}

static int parse_query(struct s3_opts *o, const char *loc, const char *query)
{
	*o = (struct s3_opts){.addressing = -1, .concurrency = DEFAULT_CONCURRENCY,
	                      .retries = DEFAULT_RETRIES, .part_size = DEFAULT_PART_SIZE,
	                      .threshold = DEFAULT_PART_SIZE};
	for (const char *p = query; p && *p;) {
		size_t len = strcspn(p, "&");
		const char *eq = memchr(p, '=', len);
		if (len) {
			size_t nlen = eq ? (size_t)(eq - p) : len;
			char name[32];
			char *val = eq ? query_value(eq + 1, len - nlen - 1) : strdup("");
			if (!val || nlen >= sizeof name) {
				free(val);
				return tess_err(TESS_EINVAL, "s3 '%s': bad option '%.*s'", loc, (int)len, p);
			}
			memcpy(name, p, nlen);
			name[nlen] = 0;
			int rc = set_option(o, loc, name, val);
			if (rc)
				return rc;
		}
		p += len + (p[len] == '&');
	}
	return 0;
}

/* $PROFILE_NAME (also with the profile upper-cased) or $NAME without one. */
static const char *env_for(const char *profile, const char *name)
{
	if (!profile) {
		const char *v = getenv(name);
		return v && *v ? v : NULL;
	}
	char var[256];
	snprintf(var, sizeof var, "%s_%s", profile, name);
	const char *v = getenv(var);
	if (v && *v)
		return v;
	for (char *c = var; *c && c < var + strlen(profile); c++)
		*c = (char)toupper((unsigned char)*c);
	v = getenv(var);
	return v && *v ? v : NULL;
}

static const char *env_first(const char *profile, const char *a, const char *b)
{
	const char *v = env_for(profile, a);
	return v ? v : b ? env_for(profile, b) : NULL;
}

static int valid_bucket(const char *b, size_t len)
{
	if (len < 3 || len > 63)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)b[i]) && b[i] != '.' && b[i] != '-' && b[i] != '_')
			return 0;
	return isalnum((unsigned char)b[0]) && isalnum((unsigned char)b[len - 1]);
}

/* "bucket[/prefix]" -> be->bucket, be->prefix ("" or "prefix/"). */
static int parse_location(s3_backend *be, const char *loc)
{
	size_t blen = strcspn(loc, "/");
	if (!valid_bucket(loc, blen))
		return tess_err(TESS_EINVAL, "s3 '%s': '%.*s' is not a valid bucket name "
		                "(3-63 letters, digits, '.', '-')", loc, (int)blen, loc);
	be->bucket = strndup(loc, blen);
	const char *p = loc + blen;
	while (*p == '/')
		p++;
	size_t plen = strlen(p);
	while (plen && p[plen - 1] == '/')
		plen--;
	be->prefix = malloc(plen + 2);
	if (!be->bucket || !be->prefix)
		return tess_err(TESS_ENOMEM, "s3 '%s': out of memory", loc);
	memcpy(be->prefix, p, plen);
	be->prefix[plen] = 0;
	if (plen) {
		int rc = tess_key_check(be->prefix);
		if (rc)
			return tess_err_prefix(rc, "s3 '%s': prefix: ", loc);
		strcat(be->prefix, "/");
	}
	return 0;
}

/* Endpoint URL -> tls, host[:port]; rejects paths, queries and userinfo. */
static int parse_endpoint(s3_backend *be, const char *url, char **hostport)
{
	const char *rest;
	if (strncmp(url, "https://", 8) == 0)
		be->tls = 1, rest = url + 8;
	else if (strncmp(url, "http://", 7) == 0)
		be->tls = 0, rest = url + 7;
	else
		return tess_err(TESS_EINVAL, "s3: endpoint '%s' must start with http:// or https://",
		                url);
	size_t len = strcspn(rest, "/?#@");
	if (len == 0 || (rest[len] && !(rest[len] == '/' && rest[len + 1] == 0)))
		return tess_err(TESS_EINVAL, "s3: endpoint '%s' must be scheme://host[:port] "
		                "without a path", url);
	*hostport = strndup(rest, len);
	return *hostport ? 0 : tess_err(TESS_ENOMEM, "s3: out of memory");
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Credentials, region and addressing from the options and the environment. */
static int configure(s3_backend *be, const struct s3_opts *o, const char *loc)
{
	const char *prof = o->profile;
	const char *ak = env_for(prof, "AWS_ACCESS_KEY_ID");
	const char *sk = env_for(prof, "AWS_SECRET_ACCESS_KEY");
	if (!ak || !sk)
		return tess_err(TESS_EAUTH, "s3 '%s': no credentials: set %s%sAWS_ACCESS_KEY_ID "
		                "and %s%sAWS_SECRET_ACCESS_KEY", loc, prof ? prof : "",
		                prof ? "_" : "", prof ? prof : "", prof ? "_" : "");
	const char *region = o->region ? o->region
	                               : env_first(prof, "AWS_REGION", "AWS_DEFAULT_REGION");
	be->region = strdup(region ? region : "us-east-1");
	be->access_key = strdup(ak);
	be->secret_key = strdup(sk);
	be->session_token = dup_or_null(env_for(prof, "AWS_SESSION_TOKEN"));
	be->concurrency = (unsigned)o->concurrency;
	be->retries = (unsigned)o->retries;
	be->part_size = o->part_size;
	be->multipart_threshold = o->threshold;
	be->cond_put = be->cond_complete = -1;
	if (!be->region || !be->access_key || !be->secret_key)
		return tess_err(TESS_ENOMEM, "s3 '%s': out of memory", loc);

	const char *endpoint = o->endpoint;
	if (!endpoint)
		endpoint = env_first(prof, "AWS_ENDPOINT_URL", prof ? "AWS_ENDPOINT" : NULL);
	char aws[256];
	if (!endpoint) {
		snprintf(aws, sizeof aws, "https://s3.%s.amazonaws.com", be->region);
		endpoint = aws;
	}
	char *hostport = NULL;
	int rc = parse_endpoint(be, endpoint, &hostport);
	if (rc)
		return rc;
	/* AWS wants virtual hosts; other servers mostly path style.  Dotted
	 * buckets cannot be virtual hosts under TLS (the certificate). */
	int virt = o->addressing >= 0 ? o->addressing
	                              : endpoint == aws && !strchr(be->bucket, '.');
	const char *scheme = be->tls ? "https://" : "http://";
	int n;
	if (virt)
		n = asprintf(&be->host, "%s.%s", be->bucket, hostport);
	else
		n = asprintf(&be->host, "%s", hostport);
	if (n >= 0)
		n = asprintf(&be->url_base, "%s%s", scheme, be->host);
	if (n >= 0 && !virt)
		n = asprintf(&be->uri_base, "/%s", be->bucket);
	else if (n >= 0)
		be->uri_base = strdup("");
	if (n >= 0 && !virt) {
		char *u = NULL;
		n = asprintf(&u, "%s/%s", be->url_base, be->bucket);
		free(be->url_base);
		be->url_base = u;
	}
	free(hostport);
	if (n < 0 || !be->uri_base || !be->url_base)
		return tess_err(TESS_ENOMEM, "s3 '%s': out of memory", loc);
	return 0;
}

/* ---- requests ---------------------------------------------------------------- */

static s3_req new_req(const char *method, const char *key)
{
	return (s3_req){.method = method, .key = key};
}

static void set_range(s3_req *r, uint64_t offset, uint64_t length)
{
	if (length == UINT64_MAX || offset + length - 1 < offset)
		snprintf(r->range, sizeof r->range, "bytes=%" PRIu64 "-", offset);
	else
		snprintf(r->range, sizeof r->range, "bytes=%" PRIu64 "-%" PRIu64, offset,
		         offset + length - 1);
}

/* Run one request and release its buffers; returns its outcome. */
static int run1(s3_backend *be, s3_req *r)
{
	int rc = s3_perform1(be, r);
	s3_req_release(r);
	return rc;
}

static void strip_quotes(char *dst, size_t cap, const char *etag)
{
	size_t len = strlen(etag);
	if (len >= 2 && etag[0] == '"' && etag[len - 1] == '"')
		etag++, len -= 2;
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, etag, len);
	dst[len] = 0;
}

static int s3_stat(tess_backend *b, const char *key, tess_stat *out)
{
	s3_backend *be = as_s3(b);
	s3_req r = new_req("HEAD", key);
	int rc = s3_perform1(be, &r);
	if (!rc) {
		memset(out, 0, sizeof *out);
		out->size = r.content_length;
		out->mtime_ns = r.mtime_ns;
		strip_quotes(out->etag, sizeof out->etag, r.etag);
	}
	s3_req_release(&r);
	return rc;
}

/* ---- get ---------------------------------------------------------------------- */

/* A range at or past the end: nothing when offset == size, else ERANGE. */
static int check_offset(s3_backend *be, const char *key, uint64_t offset)
{
	tess_stat st;
	int rc = s3_stat(&be->base, key, &st);
	if (rc)
		return rc;
	if (offset <= st.size)
		return 0;
	char name[NAME_MAX_LEN];
	s3_req_name(be, key, name, sizeof name);
	return tess_err(TESS_ERANGE, "s3 GET %s: offset %" PRIu64 " is past the end (%" PRIu64
	                " bytes)", name, offset, st.size);
}

/* A server that ignored Range sent the whole object: cut out the range. */
static void apply_ignored_range(s3_req *r, uint64_t offset, uint64_t length)
{
	if (r->status != 200 || !r->range[0])
		return;
	size_t got = r->out->len - r->out_len0;
	size_t skip = offset < got ? (size_t)offset : got;
	size_t keep = got - skip;
	if (length < keep)
		keep = (size_t)length;
	memmove(r->out->data + r->out_len0, r->out->data + r->out_len0 + skip, keep);
	r->out->len = r->out_len0 + keep;
}

static void get_req(s3_req *r, const char *key, uint64_t offset, uint64_t length,
                    tess_buf *out)
{
	*r = new_req("GET", key);
	r->out = out;
	if (offset > 0 || length != UINT64_MAX)
		set_range(r, offset, length);
}

static int s3_get(tess_backend *b, const char *key, uint64_t offset, uint64_t length,
                  tess_buf *out)
{
	s3_backend *be = as_s3(b);
	if (length == 0)
		return check_offset(be, key, offset);
	s3_req r;
	get_req(&r, key, offset, length, out);
	int rc = s3_perform1(be, &r);
	if (rc == TESS_ERANGE)
		rc = check_offset(be, key, offset);
	else if (!rc)
		apply_ignored_range(&r, offset, length);
	s3_req_release(&r);
	return rc;
}

static int s3_get_many(tess_backend *b, tess_get_req *reqs, size_t n)
{
	s3_backend *be = as_s3(b);
	s3_req *r = calloc(n ? n : 1, sizeof *r);
	if (!r)
		return tess_err(TESS_ENOMEM, "s3: out of memory for %zu gets", n);
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (reqs[i].length != 0)
			get_req(&r[m++], reqs[i].key, reqs[i].offset, reqs[i].length, reqs[i].out);
	int rc = s3_perform(be, r, m);
	for (size_t i = 0, j = 0; i < n && !rc; i++) {
		if (reqs[i].length == 0) {
			reqs[i].status = check_offset(be, reqs[i].key, reqs[i].offset);
			continue;
		}
		s3_req *q = &r[j++];
		reqs[i].status = q->rc;
		if (q->rc == TESS_ERANGE)
			reqs[i].status = check_offset(be, reqs[i].key, reqs[i].offset);
		else if (q->rc == 0)
			apply_ignored_range(q, reqs[i].offset, reqs[i].length);
		else
			tess_err(q->rc, "%s", q->msg);
	}
	for (size_t j = 0; j < m; j++)
		s3_req_release(&r[j]);
	free(r);
	return rc;
}

/* ---- put-if-absent: does the server honour it? ------------------------------- */

static int mp_initiate(s3_backend *be, const char *key, char *id, size_t cap);
static int mp_upload(s3_backend *be, const char *key, const char *id, size_t first_part,
                     const uint8_t *const *data, const size_t *lens, size_t n,
                     char (*etags)[72]);
static int mp_complete(s3_backend *be, const char *key, const char *id,
                       char (*etags)[72], size_t n, int if_absent);
static void mp_abort(s3_backend *be, const char *key, const char *id);

static int put_once(s3_backend *be, const char *key, const void *data, size_t len,
                    int if_absent)
{
	s3_req r = new_req("PUT", key);
	r.body = data;
	r.body_len = len;
	r.if_none_match = if_absent;
	return run1(be, &r);
}

/* Second conditional write to the probe key: 412 means the server checks. */
static int probe_complete(s3_backend *be, const char *key)
{
	char id[512];
	int rc = mp_initiate(be, key, id, sizeof id);
	if (rc)
		return rc;
	const uint8_t *data = (const uint8_t *)"2";
	size_t len = 1;
	char etag[1][72];
	rc = mp_upload(be, key, id, 1, &data, &len, 1, etag);
	if (!rc)
		rc = mp_complete(be, key, id, etag, 1, 1);
	if (rc)
		mp_abort(be, key, id);
	return rc;
}

/* Probe once per instance under the lock: 1 honoured, 0 not, < 0 failed. */
static int probe_conditional(s3_backend *be, int multipart)
{
	int *known = multipart ? &be->cond_complete : &be->cond_put;
	pthread_mutex_lock(&be->probe_lock);
	int result = *known;
	if (result >= 0) {
		pthread_mutex_unlock(&be->probe_lock);
		return result;
	}
	uint64_t r = 0;
	if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
		r = (uint64_t)(uintptr_t)&r;
	char key[64];
	snprintf(key, sizeof key, ".tessera/probe/%016" PRIx64, r);
	int rc = put_once(be, key, "1", 1, 1);
	if (!rc)
		rc = multipart ? probe_complete(be, key) : put_once(be, key, "2", 1, 1);
	if (rc == 0 || rc == TESS_EEXISTS) {
		result = *known = rc == TESS_EEXISTS;
		rc = 0;
	}
	s3_req d = new_req("DELETE", key);
	s3_perform(be, &d, 1);
	s3_req_release(&d);
	pthread_mutex_unlock(&be->probe_lock);
	return rc ? tess_err_prefix(rc, "s3: probing conditional writes: ") : result;
}

/* 0 when put-if-absent can be trusted for this kind of write. */
static int require_conditional(s3_backend *be, const char *key, int multipart)
{
	int ok = probe_conditional(be, multipart);
	if (ok < 0)
		return ok;
	if (ok)
		return 0;
	char name[NAME_MAX_LEN];
	s3_req_name(be, key, name, sizeof name);
	return tess_err(TESS_ENOTSUP,
	                "s3 PUT %s: put-if-absent: the server ignores If-None-Match on %s, so "
	                "an existing object would be overwritten%s",
	                name, multipart ? "multipart uploads" : "PUT",
	                multipart ? " (objects up to multipart_threshold can be put "
	                            "if absent)" : "");
}

/* ---- multipart ------------------------------------------------------------------ */

static int mp_initiate(s3_backend *be, const char *key, char *id, size_t cap)
{
	s3_req r = new_req("POST", key);
	r.query = "uploads=";
	int rc = s3_perform1(be, &r);
	if (!rc)
		rc = s3_xml_upload_id((const char *)r.body_in.data, r.body_in.len, id, cap);
	s3_req_release(&r);
	return rc;
}

/* "[partNumber=N&]uploadId=ID", NUL-terminated (part 0: no part number). */
static int upload_query(tess_buf *q, size_t part, const char *id)
{
	char head[48];
	if (part)
		snprintf(head, sizeof head, "partNumber=%zu&uploadId=", part);
	else
		snprintf(head, sizeof head, "uploadId=");
	int rc = tess_buf_append(q, head, strlen(head));
	if (!rc)
		rc = s3_uri_encode(q, id, strlen(id), 0);
	return rc ? rc : tess_buf_append(q, "", 1);
}

static int mp_upload(s3_backend *be, const char *key, const char *id, size_t first_part,
                     const uint8_t *const *data, const size_t *lens, size_t n,
                     char (*etags)[72])
{
	s3_req *r = calloc(n, sizeof *r);
	tess_buf *queries = calloc(n, sizeof *queries);
	int rc = r && queries ? 0 : tess_err(TESS_ENOMEM, "s3: out of memory for %zu parts", n);
	for (size_t i = 0; i < n && !rc; i++) {
		rc = upload_query(&queries[i], first_part + i, id);
		r[i] = new_req("PUT", key);
		r[i].query = (const char *)queries[i].data;
		r[i].body = data[i];
		r[i].body_len = lens[i];
	}
	if (!rc)
		rc = s3_perform(be, r, n);
	for (size_t i = 0; i < n && !rc; i++) {
		if (r[i].rc)
			rc = tess_err(r[i].rc, "%s", r[i].msg);
		else if (!r[i].etag[0])
			rc = tess_err(TESS_EIO, "s3 PUT part %zu of %s: no ETag in the response",
			              first_part + i, key);
		else
			memcpy(etags[i], r[i].etag, sizeof etags[i]);
	}
	for (size_t i = 0; r && queries && i < n; i++) {
		s3_req_release(&r[i]);
		tess_buf_free(&queries[i]);
	}
	free(r);
	free(queries);
	return rc;
}

static int mp_complete(s3_backend *be, const char *key, const char *id,
                       char (*etags)[72], size_t n, int if_absent)
{
	tess_buf body = {0}, q = {0};
	const char **list = malloc(n * sizeof *list);
	int rc = list ? upload_query(&q, 0, id) : tess_err(TESS_ENOMEM, "s3: out of memory");
	for (size_t i = 0; list && i < n; i++)
		list[i] = etags[i];
	if (!rc)
		rc = s3_xml_complete_request(&body, list, n);
	if (!rc) {
		s3_req r = new_req("POST", key);
		r.query = (const char *)q.data;
		r.body = body.data;
		r.body_len = body.len;
		r.if_none_match = if_absent;
		rc = s3_perform1(be, &r);
		/* S3 may answer 200 and still fail, with an <Error> body */
		s3_error_doc err;
		if (!rc && s3_xml_error((const char *)r.body_in.data, r.body_in.len, &err)) {
			char name[NAME_MAX_LEN];
			s3_req_name(be, key, name, sizeof name);
			rc = tess_err(strcmp(err.code, "PreconditionFailed") == 0 ? TESS_EEXISTS
			                                                          : TESS_EIO,
			              "s3 complete upload %s: %s: %s", name, err.code, err.message);
		}
		s3_req_release(&r);
	}
	free(list);
	tess_buf_free(&body);
	tess_buf_free(&q);
	return rc;
}

/* Best effort, and the caller's error message survives it. */
static void mp_abort(s3_backend *be, const char *key, const char *id)
{
	tess_buf q = {0};
	if (upload_query(&q, 0, id) == 0) {
		s3_req r = new_req("DELETE", key);
		r.query = (const char *)q.data;
		s3_perform(be, &r, 1);
		s3_req_release(&r);
	}
	tess_buf_free(&q);
}

/* Part size for an object of `size` bytes: no more than MAX_PARTS parts. */
static size_t part_size_for(const s3_backend *be, uint64_t size)
{
	uint64_t need = (size + MAX_PARTS - 1) / MAX_PARTS;
	return need > be->part_size ? (size_t)need : be->part_size;
}

static int put_multipart(s3_backend *be, const char *key, const uint8_t *data, size_t len,
                         unsigned flags)
{
	int if_absent = (flags & TESS_PUT_IF_ABSENT) != 0;
	int rc = if_absent ? require_conditional(be, key, 1) : 0;
	if (rc)
		return rc;
	size_t part = part_size_for(be, len);
	size_t n = (len + part - 1) / part;
	const uint8_t **ptrs = malloc(n * sizeof *ptrs);
	size_t *lens = malloc(n * sizeof *lens);
	char (*etags)[72] = malloc(n * sizeof *etags);
	char id[512];
	if (!ptrs || !lens || !etags)
		rc = tess_err(TESS_ENOMEM, "s3: out of memory for %zu parts", n);
	for (size_t i = 0; !rc && i < n; i++) {
		ptrs[i] = data + i * part;
		lens[i] = i + 1 < n ? part : len - i * part;
	}
	if (!rc)
		rc = mp_initiate(be, key, id, sizeof id);
	if (!rc) {
		rc = mp_upload(be, key, id, 1, ptrs, lens, n, etags);
		if (!rc)
			rc = mp_complete(be, key, id, etags, n, if_absent);
		if (rc)
			mp_abort(be, key, id);
	}
	free(ptrs);
	free(lens);
	free(etags);
	return rc;
}

/* ---- put -------------------------------------------------------------------------- */

static int s3_put(tess_backend *b, const char *key, const void *data, size_t len,
                  unsigned flags)
{
	s3_backend *be = as_s3(b);
	if (len > be->multipart_threshold)
		return put_multipart(be, key, data, len, flags);
	int if_absent = (flags & TESS_PUT_IF_ABSENT) != 0;
	int rc = if_absent ? require_conditional(be, key, 0) : 0;
	return rc ? rc : put_once(be, key, data, len, if_absent);
}

static int s3_put_many(tess_backend *b, tess_put_req *reqs, size_t n)
{
	s3_backend *be = as_s3(b);
	s3_req *r = calloc(n ? n : 1, sizeof *r);
	size_t *idx = calloc(n ? n : 1, sizeof *idx);
	int rc = r && idx ? 0 : tess_err(TESS_ENOMEM, "s3: out of memory for %zu puts", n);
	size_t m = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		tess_put_req *p = &reqs[i];
		int if_absent = (p->flags & TESS_PUT_IF_ABSENT) != 0;
		if (p->len > be->multipart_threshold) {
			/* big ones are parallel inside */
			p->status = put_multipart(be, p->key, p->data, p->len, p->flags);
			continue;
		}
		p->status = if_absent ? require_conditional(be, p->key, 0) : 0;
		if (p->status)
			continue;
		r[m] = new_req("PUT", p->key);
		r[m].body = p->data;
		r[m].body_len = p->len;
		r[m].if_none_match = if_absent;
		idx[m++] = i;
	}
	if (!rc)
		rc = s3_perform(be, r, m);
	for (size_t j = 0; j < m && !rc; j++) {
		reqs[idx[j]].status = r[j].rc;
		if (r[j].rc)
			tess_err(r[j].rc, "%s", r[j].msg);
	}
	for (size_t j = 0; j < m; j++)
		s3_req_release(&r[j]);
	free(r);
	free(idx);
	return rc;
}

/* ---- streaming writer -------------------------------------------------------------- */

struct s3_writer {
	tess_writer base;
	char *key;
	unsigned flags;
	uint64_t size;    /* announced size or TESS_SIZE_UNKNOWN */
	uint64_t written;
	size_t part;      /* size of every part but the last */
	uint8_t *buf;     /* up to WRITER_PARTS parts */
	size_t len;       /* bytes buffered */
	size_t alloc;     /* bytes allocated */
	size_t cap;       /* most bytes buffered: WRITER_PARTS parts */
	int started;      /* a multipart upload exists */
	char id[512];
	char (*etags)[72];
	size_t parts, parts_cap;
};

static void writer_free(struct s3_writer *w)
{
	free(w->key);
	free(w->buf);
	free(w->etags);
	free(w);
}

/* Abort the multipart upload (if any), free the writer, return rc. */
static int writer_fail(struct s3_writer *w, int rc)
{
	if (w->started)
		mp_abort(as_s3(w->base.backend), w->key, w->id);
	writer_free(w);
	return rc;
}

/* Send the buffered parts (all full unless `final`) as one parallel batch. */
static int writer_send(struct s3_writer *w, int final)
{
	s3_backend *be = as_s3(w->base.backend);
	int rc = 0;
	if (!w->started) {
		if (w->flags & TESS_PUT_IF_ABSENT)
			rc = require_conditional(be, w->key, 1);
		if (!rc)
			rc = mp_initiate(be, w->key, w->id, sizeof w->id);
		if (rc)
			return rc;
		w->started = 1;
	}
	size_t n = (w->len + w->part - 1) / w->part;
	if (!final)
		n = w->len / w->part;
	if (w->parts + n > MAX_PARTS)
		return tess_err(TESS_EINVAL, "s3 PUT %s: more than %d parts of %zu bytes", w->key,
		                MAX_PARTS, w->part);
	if (w->parts + n > w->parts_cap) {
		size_t cap = (w->parts + n) * 2;
		char (*e)[72] = realloc(w->etags, cap * sizeof *e);
		if (!e)
			return tess_err(TESS_ENOMEM, "s3: out of memory");
		w->etags = e;
		w->parts_cap = cap;
	}
	const uint8_t *ptrs[WRITER_PARTS + 1];
	size_t lens[WRITER_PARTS + 1];
	for (size_t i = 0; i < n; i++) {
		ptrs[i] = w->buf + i * w->part;
		lens[i] = i + 1 < n || !final ? w->part : w->len - i * w->part;
	}
	rc = mp_upload(be, w->key, w->id, w->parts + 1, ptrs, lens, n, w->etags + w->parts);
	if (rc)
		return rc;
	w->parts += n;
	size_t used = n * w->part < w->len ? n * w->part : w->len;
	memmove(w->buf, w->buf + used, w->len - used);
	w->len -= used;
	return 0;
}

/* Room for `need` buffered bytes (need <= cap), growing geometrically so a
 * small streamed object never costs a whole batch of parts. */
static int writer_grow(struct s3_writer *w, size_t need)
{
	if (need <= w->alloc)
		return 0;
	size_t alloc = w->alloc ? w->alloc * 2 : 64 * 1024;
	if (alloc < need)
		alloc = need;
	if (alloc > w->cap)
		alloc = w->cap;
	uint8_t *buf = realloc(w->buf, alloc);
	if (!buf)
		return tess_err(TESS_ENOMEM, "s3 PUT %s: out of memory buffering %zu bytes",
		                w->key, alloc);
	w->buf = buf;
	w->alloc = alloc;
	return 0;
}

/* Objects of unknown size: double the part size every 2000 parts, so the
 * 10,000-part limit is reached only past about 500 GB. */
static void writer_next_part_size(struct s3_writer *w)
{
	if (w->size == TESS_SIZE_UNKNOWN && w->len == 0 && w->parts % 2000 == 0 &&
	    w->part <= ((size_t)5 << 30) / 2) {
		w->part *= 2;
		w->cap = w->part * WRITER_PARTS;
	}
}

static int s3_writer_open(tess_backend *b, tess_writer **out, const char *key,
                          uint64_t size, unsigned flags)
{
	s3_backend *be = as_s3(b);
	struct s3_writer *w = calloc(1, sizeof *w);
	if (!w || !(w->key = strdup(key))) {
		free(w);
		return tess_err(TESS_ENOMEM, "s3 PUT %s: out of memory", key);
	}
	w->base.backend = b;
	w->flags = flags;
	w->size = size;
	w->part = part_size_for(be, size == TESS_SIZE_UNKNOWN ? 0 : size);
	w->cap = w->part * WRITER_PARTS;
	*out = &w->base;
	return 0;
}

static int s3_writer_write(tess_writer *tw, const void *data, size_t len)
{
	struct s3_writer *w = (struct s3_writer *)tw;
	if (w->size != TESS_SIZE_UNKNOWN && len > w->size - w->written)
		return tess_err(TESS_EINVAL, "s3 PUT %s: writing past the announced size of %" PRIu64
		                " bytes", w->key, w->size);
	const uint8_t *p = data;
	while (len) {
		if (w->len == w->cap) {
			int rc = writer_send(w, 0);
			if (rc)
				return rc;
			writer_next_part_size(w);
		}
		size_t take = w->cap - w->len < len ? w->cap - w->len : len;
		int rc = writer_grow(w, w->len + take);
		if (rc)
			return rc;
		memcpy(w->buf + w->len, p, take);
		w->len += take;
		w->written += take;
		p += take;
		len -= take;
	}
	return 0;
}

static int s3_writer_commit(tess_writer *tw)
{
	struct s3_writer *w = (struct s3_writer *)tw;
	s3_backend *be = as_s3(w->base.backend);
	if (w->size != TESS_SIZE_UNKNOWN && w->written != w->size)
		return writer_fail(w, tess_err(TESS_EINVAL, "s3 PUT %s: committed %" PRIu64 " of %"
		                               PRIu64 " announced bytes", w->key, w->written,
		                               w->size));
	int rc;
	if (!w->started) {
		rc = s3_put(&be->base, w->key, w->buf, w->len, w->flags);
	} else {
		rc = w->len ? writer_send(w, 1) : 0;
		if (!rc)
			rc = mp_complete(be, w->key, w->id, w->etags, w->parts,
			                 (w->flags & TESS_PUT_IF_ABSENT) != 0);
	}
	if (rc)
		return writer_fail(w, rc);
	writer_free(w);
	return 0;
}

static void s3_writer_abort(tess_writer *tw)
{
	if (tw)
		writer_fail((struct s3_writer *)tw, 0);
}

/* ---- delete ------------------------------------------------------------------------- */

static int s3_del(tess_backend *b, const char *key)
{
	s3_backend *be = as_s3(b);
	/* DELETE answers 204 whether or not the key existed */
	tess_stat st;
	int rc = s3_stat(b, key, &st);
	if (rc)
		return rc;
	s3_req r = new_req("DELETE", key);
	return run1(be, &r);
}

/* One DeleteObjects request body for reqs[0..n), with the full keys. */
static int delete_body(s3_backend *be, tess_del_req *reqs, size_t n, tess_buf *body)
{
	char **full = calloc(n, sizeof *full);
	int rc = full ? 0 : tess_err(TESS_ENOMEM, "s3: out of memory");
	for (size_t i = 0; i < n && !rc; i++)
		if (asprintf(&full[i], "%s%s", be->prefix, reqs[i].key) < 0)
			full[i] = NULL, rc = tess_err(TESS_ENOMEM, "s3: out of memory");
	if (!rc)
		rc = s3_xml_delete_request(body, (const char *const *)full, n);
	for (size_t i = 0; full && i < n; i++)
		free(full[i]);
	free(full);
	return rc;
}

/* Per-key failures of one DeleteObjects answer onto the requests. */
static int delete_outcome(s3_backend *be, s3_req *r, tess_del_req *reqs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		reqs[i].status = r->rc;
	if (r->rc) {
		tess_err(r->rc, "%s", r->msg);
		return 0;
	}
	s3_delete_error *errs = NULL;
	size_t nerr = 0;
	int rc = s3_xml_delete_result((const char *)r->body_in.data, r->body_in.len, &errs,
	                              &nerr);
	for (size_t i = 0; i < n; i++)
		reqs[i].status = rc;
	size_t plen = strlen(be->prefix);
	for (size_t e = 0; e < nerr; e++) {
		const char *k = errs[e].key;
		if (strncmp(k, be->prefix, plen) != 0)
			continue;
		for (size_t i = 0; i < n; i++) {
			if (strcmp(reqs[i].key, k + plen) != 0)
				continue;
			int code = strcmp(errs[e].err.code, "AccessDenied") == 0 ? TESS_EAUTH : TESS_EIO;
			reqs[i].status = code;
			tess_err(code, "s3 DELETE %s/%s: %s: %s", be->bucket, k, errs[e].err.code,
			         errs[e].err.message);
		}
	}
	s3_delete_errors_free(errs, nerr);
	return 0;
}

static int s3_del_many(tess_backend *b, tess_del_req *reqs, size_t n)
{
	s3_backend *be = as_s3(b);
	size_t batches = (n + DELETE_BATCH - 1) / DELETE_BATCH;
	s3_req *r = calloc(batches ? batches : 1, sizeof *r);
	tess_buf *bodies = calloc(batches ? batches : 1, sizeof *bodies);
	char (*md5)[25] = calloc(batches ? batches : 1, sizeof *md5);
	int rc = r && bodies && md5 ? 0 : tess_err(TESS_ENOMEM, "s3: out of memory");
	for (size_t k = 0; k < batches && !rc; k++) {
		size_t first = k * DELETE_BATCH;
		size_t count = n - first < DELETE_BATCH ? n - first : DELETE_BATCH;
		rc = delete_body(be, reqs + first, count, &bodies[k]);
		if (rc)
			break;
		s3_md5_base64(bodies[k].data, bodies[k].len, md5[k]);
		r[k] = new_req("POST", NULL);
		r[k].query = "delete=";
		r[k].body = bodies[k].data;
		r[k].body_len = bodies[k].len;
		r[k].content_md5 = md5[k];
	}
	if (!rc)
		rc = s3_perform(be, r, batches);
	for (size_t k = 0; k < batches && !rc; k++) {
		size_t first = k * DELETE_BATCH;
		size_t count = n - first < DELETE_BATCH ? n - first : DELETE_BATCH;
		delete_outcome(be, &r[k], reqs + first, count);
	}
	for (size_t k = 0; r && bodies && k < batches; k++) {
		s3_req_release(&r[k]);
		tess_buf_free(&bodies[k]);
	}
	free(r);
	free(bodies);
	free(md5);
	return rc;
}

/* ---- list ---------------------------------------------------------------------------- */

static int query_param(tess_buf *q, const char *name, const char *value)
{
	int rc = 0;
	if (q->len)
		rc = tess_buf_append(q, "&", 1);
	if (!rc)
		rc = tess_buf_append(q, name, strlen(name));
	if (!rc)
		rc = tess_buf_append(q, "=", 1);
	if (!rc)
		rc = s3_uri_encode(q, value, strlen(value), 0);
	return rc;
}

/* The canonical (sorted) query of one ListObjectsV2 page. */
static int list_query(s3_backend *be, tess_buf *q, const char *prefix, const char *delim,
                      const char *start_after, const char *token, size_t max_keys)
{
	char num[24], *full_prefix = NULL, *full_after = NULL;
	snprintf(num, sizeof num, "%zu", max_keys);
	int rc = 0;
	if (asprintf(&full_prefix, "%s%s", be->prefix, prefix) < 0)
		full_prefix = NULL, rc = TESS_ENOMEM;
	if (!rc && start_after && asprintf(&full_after, "%s%s", be->prefix, start_after) < 0)
		full_after = NULL, rc = TESS_ENOMEM;
	if (!rc && token)
		rc = query_param(q, "continuation-token", token);
	if (!rc && delim)
		rc = query_param(q, "delimiter", delim);
	if (!rc)
		rc = query_param(q, "encoding-type", "url");
	if (!rc)
		rc = query_param(q, "list-type", "2");
	if (!rc)
		rc = query_param(q, "max-keys", num);
	if (!rc && *full_prefix)
		rc = query_param(q, "prefix", full_prefix);
	if (!rc && full_after && !token)
		rc = query_param(q, "start-after", full_after);
	if (!rc)
		rc = tess_buf_append(q, "", 1);
	free(full_prefix);
	free(full_after);
	return rc ? tess_err(TESS_ENOMEM, "s3: out of memory listing") : 0;
}

/* Objects other tools put in the bucket may have names no Tessera key can
 * have ("a//b", "../x", a trailing "/"): they cannot be addressed through
 * the store, so they are not part of it and are not listed. */
static int valid_listed_name(const char *name, int is_prefix)
{
	size_t len = strlen(name);
	if (is_prefix) {
		if (len < 2 || len > TESS_KEY_MAX)
			return 0;
		char copy[TESS_KEY_MAX + 1];
		memcpy(copy, name, len - 1); /* without the delimiter */
		copy[len - 1] = 0;
		return tess_key_check(copy) == 0;
	}
	return tess_key_check(name) == 0;
}

/* Add a page's entries past start_after until the page holds max_entries. */
static int list_take(s3_backend *be, const s3_list_result *res, const char *start_after,
                     size_t max_entries, tess_list_page *page, int *full)
{
	size_t plen = strlen(be->prefix);
	for (size_t i = 0; i < res->count; i++) {
		const s3_list_item *it = &res->items[i];
		if (strncmp(it->key, be->prefix, plen) != 0)
			continue; /* not ours (cannot happen with a prefix query) */
		const char *name = it->key + plen;
		if (start_after && strcmp(name, start_after) <= 0)
			continue; /* a rolled-up prefix equal to start_after */
		if (!valid_listed_name(name, it->is_prefix))
			continue;
		if (page->count == max_entries) {
			*full = 1;
			return 0;
		}
		int rc = tess_list_page_add(page, name, strlen(name), it->is_prefix,
		                            it->is_prefix ? 0 : it->size,
		                            it->is_prefix ? 0 : it->mtime_ns);
		if (rc)
			return rc;
	}
	return 0;
}

static int s3_list(tess_backend *b, const char *prefix, const char *delimiter,
                   const char *start_after, size_t max_entries, tess_list_page *page)
{
	s3_backend *be = as_s3(b);
	char *token = NULL;
	int rc = 0, full = 0;
	page->truncated = 0;
	for (;;) {
		size_t want = max_entries - page->count + 1; /* +1: see list_take */
		tess_buf q = {0};
		rc = list_query(be, &q, prefix ? prefix : "", delimiter, start_after, token,
		                want < LIST_MAX_KEYS ? want : LIST_MAX_KEYS);
		s3_req r = new_req("GET", NULL);
		r.query = (const char *)q.data;
		if (!rc)
			rc = s3_perform1(be, &r);
		s3_list_result res = {0};
		if (!rc)
			rc = s3_xml_list((const char *)r.body_in.data, r.body_in.len, &res);
		if (!rc)
			rc = list_take(be, &res, start_after, max_entries, page, &full);
		s3_req_release(&r);
		tess_buf_free(&q);
		free(token);
		token = NULL;
		if (!rc && res.truncated && !res.next_token)
			rc = tess_err(TESS_ECORRUPT, "s3 list %s: truncated page without a "
			              "continuation token", be->bucket);
		if (!rc && res.truncated && !full)
			token = res.next_token, res.next_token = NULL;
		s3_list_result_free(&res);
		if (rc || !token) {
			page->truncated = full;
			break;
		}
	}
	free(token);
	return rc;
}

/* ---- open and close ------------------------------------------------------------------ */

static void s3_close(tess_backend *b)
{
	s3_backend *be = as_s3(b);
	if (!be)
		return;
	s3_conns_free(be);
	pthread_mutex_destroy(&be->lock);
	pthread_mutex_destroy(&be->probe_lock);
	free(be->bucket);
	free(be->prefix);
	free(be->url_base);
	free(be->uri_base);
	free(be->host);
	free(be->region);
	free(be->access_key);
	if (be->secret_key) {
		memset(be->secret_key, 0, strlen(be->secret_key));
		free(be->secret_key);
	}
	free(be->session_token);
	free(be);
}

/* The bucket must exist (or be made, with TESS_BACKEND_CREATE).  A GET, not
 * a HEAD, so that refused credentials come back with S3's error code. */
static int check_bucket(s3_backend *be, unsigned flags)
{
	s3_req r = new_req("GET", NULL);
	r.query = "list-type=2&max-keys=0";
	int rc = run1(be, &r);
	if (rc != TESS_ENOTFOUND)
		return rc;
	if (!(flags & TESS_BACKEND_CREATE))
		return tess_err(TESS_ENOTFOUND, "s3 bucket '%s' does not exist (tess init creates it)",
		                be->bucket);
	tess_buf body = {0};
	if (strcmp(be->region, "us-east-1") != 0) {
		const char *a = "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/"
		                "2006-03-01/\"><LocationConstraint>";
		const char *z = "</LocationConstraint></CreateBucketConfiguration>";
		if (tess_buf_append(&body, a, strlen(a)) || tess_buf_append(&body, be->region,
		    strlen(be->region)) || tess_buf_append(&body, z, strlen(z))) {
			tess_buf_free(&body);
			return tess_err(TESS_ENOMEM, "s3: out of memory");
		}
	}
	s3_req c = new_req("PUT", NULL);
	c.body = body.data;
	c.body_len = body.len;
	rc = s3_perform(be, &c, 1);
	if (!rc && c.rc && strcmp(c.err.code, "BucketAlreadyOwnedByYou") != 0)
		rc = tess_err(c.rc, "%s", c.msg);
	s3_req_release(&c);
	tess_buf_free(&body);
	return rc;
}

static int s3_open(tess_backend **out, const char *location, const char *query,
                   unsigned flags)
{
	*out = NULL;
	int rc = s3_http_init();
	if (rc)
		return rc;
	s3_backend *be = calloc(1, sizeof *be);
	if (!be)
		return tess_err(TESS_ENOMEM, "s3 '%s': out of memory", location);
	be->base.ops = &tess_backend_s3_ops;
	pthread_mutex_init(&be->lock, NULL);
	pthread_mutex_init(&be->probe_lock, NULL);
	struct s3_opts o;
	rc = parse_query(&o, location, query);
	if (!rc)
		rc = parse_location(be, location);
	if (!rc)
		rc = configure(be, &o, location);
	if (!rc)
		rc = check_bucket(be, flags);
	opts_free(&o);
	if (rc) {
		s3_close(&be->base);
		return rc;
	}
	*out = &be->base;
	return 0;
}

const tess_backend_ops tess_backend_s3_ops = {
	.abi = TESS_BACKEND_ABI,
	.scheme = "s3",
	.caps = TESS_CAP_MULTIPROCESS,
	.open = s3_open,
	.close = s3_close,
	.get = s3_get,
	.put = s3_put,
	.writer_open = s3_writer_open,
	.writer_write = s3_writer_write,
	.writer_commit = s3_writer_commit,
	.writer_abort = s3_writer_abort,
	.stat = s3_stat,
	.del = s3_del,
	.list = s3_list,
	.get_many = s3_get_many,
	.put_many = s3_put_many,
	.del_many = s3_del_many,
};
