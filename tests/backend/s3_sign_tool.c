/*
 * Driver for the botocore peer test (s3_sign_peer.py): reads commands on
 * stdin, one per line, fields separated by single spaces, byte strings in
 * hex ("-" for an empty one), and prints one answer line per command.
 *
 *   R METHOD PATH DATE REGION SERVICE AK SK PAYLOAD BODY   start a request;
 *        PATH is the raw (unencoded) path, PAYLOAD "body" (hash BODY) or
 *        "unsigned" (UNSIGNED-PAYLOAD)
 *   Q NAME VALUE     add a raw query parameter (encoded and sorted here)
 *   H NAME VALUE     add a header (NAME lowercase, plain text)
 *   M                add content-md5 computed from BODY
 *   E                sign: prints the Authorization value, or "ERR code"
 *   U KEEP_SLASH S   prints s3_uri_encode(S)
 *   D DATA           prints the SHA-256 hex and the Content-MD5 of DATA
 *   A UNIX_SECONDS   prints s3_amz_date
 *   I TEXT / P TEXT  prints s3_parse_iso8601 / s3_parse_http_date in ns, or "ERR code"
 *
 * The canonical URI and query are built the way the S3 backend builds them:
 * the path encoded with '/' kept, each query name and value encoded with
 * '/' encoded, pairs sorted by name then value.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/s3.h"

#define MAXF 16
#define MAXQ 32
#define MAXH 16

typedef struct bytes {
	char *p;
	size_t n;
} bytes;

static void die(const char *what)
{
	fprintf(stderr, "s3_sign_tool: %s\n", what);
	exit(2);
}

static int hexv(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decode a hex field ("-" is empty) into a malloc'ed NUL-terminated string. */
static bytes unhex(const char *h)
{
	bytes b = {malloc(strlen(h) / 2 + 1), 0};
	if (!b.p)
		die("out of memory");
	if (strcmp(h, "-") != 0) {
		for (; h[0] && h[1]; h += 2) {
			int hi = hexv(h[0]), lo = hexv(h[1]);
			if (hi < 0 || lo < 0)
				die("bad hex");
			b.p[b.n++] = (char)(hi << 4 | lo);
		}
		if (*h)
			die("odd hex");
	}
	b.p[b.n] = '\0';
	return b;
}

static int split(char *line, char **f)
{
	int n = 0;
	for (char *s = strtok(line, " \n"); s && n < MAXF; s = strtok(NULL, " \n"))
		f[n++] = s;
	return n;
}

typedef struct qparam {
	char *name, *value; /* encoded */
} qparam;

static int cmp_q(const void *a, const void *b)
{
	const qparam *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->value, y->value);
}

static char *encode(const bytes *b, int keep_slash)
{
	tess_buf out = {0};
	if (s3_uri_encode(&out, b->p, b->n, keep_slash) || tess_buf_append(&out, "", 1))
		die("encode failed");
	return (char *)out.data;
}

typedef struct req {
	char method[32], date[32], region[64], service[64];
	bytes path, ak, sk, body;
	int unsigned_payload;
	qparam q[MAXQ];
	size_t nq;
	s3_header h[MAXH];
	size_t nh;
} req;

static void req_free(req *r)
{
	free(r->path.p);
	free(r->ak.p);
	free(r->sk.p);
	free(r->body.p);
	for (size_t i = 0; i < r->nq; i++) {
		free(r->q[i].name);
		free(r->q[i].value);
	}
	for (size_t i = 0; i < r->nh; i++) {
		free((char *)r->h[i].name);
		free((char *)r->h[i].value);
	}
	memset(r, 0, sizeof *r);
}

static void add_header(req *r, const char *name, const char *value)
{
	if (r->nh == MAXH)
		die("too many headers");
	r->h[r->nh].name = strdup(name);
	r->h[r->nh].value = strdup(value);
	r->nh++;
}

static void sign(req *r)
{
	char hash[65], auth[1024];
	if (r->unsigned_payload)
		strcpy(hash, S3_UNSIGNED_PAYLOAD);
	else
		s3_sha256_hex(r->body.p, r->body.n, hash);
	add_header(r, "x-amz-date", r->date);
	add_header(r, "x-amz-content-sha256", hash);
	char *uri = encode(&r->path, 1);
	qsort(r->q, r->nq, sizeof r->q[0], cmp_q);
	tess_buf query = {0};
	for (size_t i = 0; i < r->nq; i++) {
		if ((i && tess_buf_append(&query, "&", 1)) ||
		    tess_buf_append(&query, r->q[i].name, strlen(r->q[i].name)) ||
		    tess_buf_append(&query, "=", 1) ||
		    tess_buf_append(&query, r->q[i].value, strlen(r->q[i].value)))
			die("out of memory");
	}
	if (tess_buf_append(&query, "", 1))
		die("out of memory");
	s3_sign_req sr = {r->method, uri, (const char *)query.data, r->h, r->nh, hash, r->date,
	                  r->region, r->service, r->ak.p, r->sk.p};
	int rc = s3_sign(&sr, auth, sizeof auth);
	if (rc)
		printf("ERR %d %s\n", rc, tess_errmsg());
	else
		printf("%s\n", auth);
	free(uri);
	tess_buf_free(&query);
}

static void one_line(char *line, req *r)
{
	char *f[MAXF];
	int n = split(line, f);
	if (n == 0)
		return;
	char c = f[0][0];
	if (c == 'R' && n == 10) {
		req_free(r);
		snprintf(r->method, sizeof r->method, "%s", f[1]);
		r->path = unhex(f[2]);
		snprintf(r->date, sizeof r->date, "%s", f[3]);
		snprintf(r->region, sizeof r->region, "%s", f[4]);
		snprintf(r->service, sizeof r->service, "%s", f[5]);
		r->ak = unhex(f[6]);
		r->sk = unhex(f[7]);
		r->unsigned_payload = strcmp(f[8], "unsigned") == 0;
		r->body = unhex(f[9]);
	} else if (c == 'Q' && n == 3) {
		if (r->nq == MAXQ)
			die("too many query parameters");
		bytes k = unhex(f[1]), v = unhex(f[2]);
		r->q[r->nq++] = (qparam){encode(&k, 0), encode(&v, 0)};
		free(k.p);
		free(v.p);
	} else if (c == 'H' && n == 3) {
		bytes v = unhex(f[2]);
		add_header(r, f[1], v.p);
		free(v.p);
	} else if (c == 'M' && n == 1) {
		char md5[25];
		s3_md5_base64(r->body.p, r->body.n, md5);
		add_header(r, "content-md5", md5);
	} else if (c == 'E' && n == 1) {
		sign(r);
		req_free(r);
	} else if (c == 'U' && n == 3) {
		bytes s = unhex(f[2]);
		char *e = encode(&s, atoi(f[1]));
		printf("%s\n", e);
		free(e);
		free(s.p);
	} else if (c == 'D' && n == 2) {
		bytes d = unhex(f[1]);
		char h[65], m[25];
		s3_sha256_hex(d.p, d.n, h);
		s3_md5_base64(d.p, d.n, m);
		printf("%s %s\n", h, m);
		free(d.p);
	} else if (c == 'A' && n == 2) {
		char d[17];
		s3_amz_date(strtoll(f[1], NULL, 10), d);
		printf("%s\n", d);
	} else if ((c == 'I' || c == 'P') && n == 2) {
		bytes s = unhex(f[1]);
		int64_t ns = 0;
		int rc = c == 'I' ? s3_parse_iso8601(s.p, s.n, &ns) : s3_parse_http_date(s.p, s.n, &ns);
		if (rc)
			printf("ERR %d\n", rc);
		else
			printf("%" PRId64 "\n", ns);
		free(s.p);
	} else {
		die("bad command line");
	}
}

int main(void)
{
	static char line[1 << 20];
	req r = {0};
	while (fgets(line, sizeof line, stdin)) {
		one_line(line, &r);
		fflush(stdout);
	}
	req_free(&r);
	return 0;
}
