/*
 * AWS Signature Version 4 for S3 (header authentication), with the SHA-256,
 * MD5 and URI-encoding helpers it needs.
 *
 * The canonical request, string to sign and signing key follow
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html.
 * S3 differs from other services in one way that matters here: the path is
 * encoded once and never normalized, which is why the caller passes an
 * already encoded canonical_uri and this file does not touch it.
 */
#include "backend/s3.h"
#include "util/error.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S3_MAX_SIGNED_HEADERS 64

static const char hexdig[] = "0123456789abcdef";

static void hex_lower(const unsigned char *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdig[d[i] >> 4];
		out[2 * i + 1] = hexdig[d[i] & 15];
	}
	out[2 * n] = '\0';
}

/* EVP_Digest only fails on allocation failure inside OpenSSL; the void
 * signatures of the contract leave no way to report that, so abort rather
 * than hand out a wrong digest that would silently corrupt a request. */
static void digest(const EVP_MD *md, const void *data, size_t len, unsigned char *out)
{
	static const char empty = 0;
	if (!EVP_Digest(len ? data : &empty, len, out, NULL, md, NULL))
		abort();
}

void s3_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char d[32];
	digest(EVP_sha256(), data, len, d);
	hex_lower(d, sizeof d, out);
}

void s3_md5_base64(const void *data, size_t len, char out[25])
{
	unsigned char d[16];
	digest(EVP_md5(), data, len, d);
	/* 16 bytes -> 24 characters with "==" padding, then the NUL */
	EVP_EncodeBlock((unsigned char *)out, d, sizeof d);
}

int s3_uri_encode(tess_buf *out, const char *s, size_t len, int keep_slash)
{
	static const char HEX[] = "0123456789ABCDEF";
	size_t start = out->len;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		int plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		            c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && keep_slash);
		char esc[3] = {'%', HEX[c >> 4], HEX[c & 15]};
		int rc = plain ? tess_buf_append(out, &c, 1) : tess_buf_append(out, esc, 3);
		if (rc) {
			out->len = start;
			return rc;
		}
	}
	return 0;
}

/* ---- SigV4 ----------------------------------------------------------------- */

/* A credential-scope component or access key: printable ASCII without the
 * characters that would break "Credential=AK/DATE/REGION/SERVICE/aws4_request,". */
static int scope_part_ok(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if (*s <= ' ' || *s > '~' || *s == '/' || *s == ',')
			return 0;
	return 1;
}

/* "YYYYMMDDTHHMMSSZ" */
static int amz_date_ok(const char *s)
{
	if (!s || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
		return 0;
	for (int i = 0; i < 15; i++)
		if (i != 8 && (s[i] < '0' || s[i] > '9'))
			return 0;
	return 1;
}

/* Header names are lowercase tokens (RFC 9110 tchar without uppercase). */
static int header_name_ok(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= ' ' || c >= 0x7f || (c >= 'A' && c <= 'Z') || strchr("\"(),/:;<=>?@[\\]{}", c))
			return 0;
	}
	return 1;
}

/* Values may hold any byte but CR, LF and NUL (which would split the header). */
static int header_value_ok(const char *s)
{
	return s && !strpbrk(s, "\r\n");
}

static int cmp_header(const void *a, const void *b)
{
	const s3_header *x = *(const s3_header *const *)a, *y = *(const s3_header *const *)b;
	return strcmp(x->name, y->name);
}

static int is_sp(char c)
{
	return c == ' ' || c == '\t';
}

/* Append a header value the way SigV4 canonicalizes it: leading and trailing
 * blanks removed, every run of blanks inside collapsed to one space. */
static int append_trimall(tess_buf *b, const char *v)
{
	while (is_sp(*v))
		v++;
	while (*v) {
		const char *w = v;
		while (*w && !is_sp(*w))
			w++;
		int rc = tess_buf_append(b, v, (size_t)(w - v));
		if (rc)
			return rc;
		while (is_sp(*w))
			w++;
		if (*w && (rc = tess_buf_append(b, " ", 1)))
			return rc;
		v = w;
	}
	return 0;
}

static int append_str(tess_buf *b, const char *s)
{
	return tess_buf_append(b, s, strlen(s));
}

/* Check every field and sort the headers into `sorted`. */
static int check_request(const s3_sign_req *r, const s3_header **sorted)
{
	if (!r->method || !*r->method || !r->canonical_uri || r->canonical_uri[0] != '/' ||
	    !r->canonical_query || !r->payload_hash || !*r->payload_hash || strpbrk(r->payload_hash, "\r\n"))
		return tess_err(TESS_EINVAL, "s3 sign: method, canonical URI, query or payload hash missing");
	for (const char *m = r->method; *m; m++)
		if (*m < 'A' || *m > 'Z')
			return tess_err(TESS_EINVAL, "s3 sign: method '%s' is not an uppercase token", r->method);
	if (!amz_date_ok(r->amz_date))
		return tess_err(TESS_EINVAL, "s3 sign: x-amz-date '%s' is not YYYYMMDDTHHMMSSZ",
		                r->amz_date ? r->amz_date : "(null)");
	if (!scope_part_ok(r->region) || !scope_part_ok(r->service) || !scope_part_ok(r->access_key))
		return tess_err(TESS_EINVAL, "s3 sign: region, service or access key missing or malformed");
	if (!r->secret_key || !*r->secret_key)
		return tess_err(TESS_EINVAL, "s3 sign: secret key missing");
	if (!r->headers || r->n_headers == 0 || r->n_headers > S3_MAX_SIGNED_HEADERS)
		return tess_err(TESS_EINVAL, "s3 sign: %zu headers to sign (1 to %d)", r->n_headers,
		                S3_MAX_SIGNED_HEADERS);
	for (size_t i = 0; i < r->n_headers; i++) {
		if (!header_name_ok(r->headers[i].name) || !header_value_ok(r->headers[i].value))
			return tess_err(TESS_EINVAL, "s3 sign: header %zu has a bad name or value "
			                "(names lowercase tokens, values without CR/LF)", i);
		sorted[i] = &r->headers[i];
	}
	qsort(sorted, r->n_headers, sizeof *sorted, cmp_header);
	int have_host = 0, have_date = 0, have_sha = 0;
	for (size_t i = 0; i < r->n_headers; i++) {
		const char *n = sorted[i]->name;
		if (i && strcmp(n, sorted[i - 1]->name) == 0)
			return tess_err(TESS_EINVAL, "s3 sign: header '%s' given twice", n);
		have_host |= strcmp(n, "host") == 0;
		have_sha |= strcmp(n, "x-amz-content-sha256") == 0;
		if (strcmp(n, "x-amz-date") == 0) {
			if (strcmp(sorted[i]->value, r->amz_date) != 0)
				return tess_err(TESS_EINVAL, "s3 sign: x-amz-date header '%s' differs from '%s'",
				                sorted[i]->value, r->amz_date);
			have_date = 1;
		}
	}
	if (!have_host || !have_date || (!have_sha && strcmp(r->service, "s3") == 0))
		return tess_err(TESS_EINVAL, "s3 sign: the signed headers must include host, x-amz-date%s",
		                strcmp(r->service, "s3") == 0 ? " and x-amz-content-sha256" : "");
	return 0;
}

/* CanonicalRequest = METHOD \n URI \n QUERY \n (name:value\n)* \n SIGNED \n HASH,
 * and the SignedHeaders list into `signed_hdrs`. */
static int canonical_request(const s3_sign_req *r, const s3_header *const *h, tess_buf *cr,
                             tess_buf *signed_hdrs)
{
	int rc = 0;
	rc = rc ? rc : append_str(cr, r->method);
	rc = rc ? rc : tess_buf_append(cr, "\n", 1);
	rc = rc ? rc : append_str(cr, r->canonical_uri);
	rc = rc ? rc : tess_buf_append(cr, "\n", 1);
	rc = rc ? rc : append_str(cr, r->canonical_query);
	rc = rc ? rc : tess_buf_append(cr, "\n", 1);
	for (size_t i = 0; i < r->n_headers && !rc; i++) {
		rc = rc ? rc : append_str(cr, h[i]->name);
		rc = rc ? rc : tess_buf_append(cr, ":", 1);
		rc = rc ? rc : append_trimall(cr, h[i]->value);
		rc = rc ? rc : tess_buf_append(cr, "\n", 1);
		rc = rc ? rc : (i ? tess_buf_append(signed_hdrs, ";", 1) : 0);
		rc = rc ? rc : append_str(signed_hdrs, h[i]->name);
	}
	rc = rc ? rc : tess_buf_append(signed_hdrs, "", 1); /* NUL-terminate */
	rc = rc ? rc : tess_buf_append(cr, "\n", 1);
	rc = rc ? rc : append_str(cr, (const char *)signed_hdrs->data);
	rc = rc ? rc : tess_buf_append(cr, "\n", 1);
	rc = rc ? rc : append_str(cr, r->payload_hash);
	return rc;
}

static int hmac256(const void *key, size_t klen, const char *msg, unsigned char out[32])
{
	unsigned int olen = 32;
	if (!HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &olen))
		return tess_err(TESS_ENOMEM, "s3 sign: HMAC-SHA256 failed in OpenSSL");
	return 0;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request") */
static int signing_key(const s3_sign_req *r, const char *date, unsigned char key[32])
{
	size_t slen = strlen(r->secret_key);
	if (slen > 4096)
		return tess_err(TESS_EINVAL, "s3 sign: secret key longer than 4096 bytes");
	unsigned char k0[4 + 4096];
	memcpy(k0, "AWS4", 4);
	memcpy(k0 + 4, r->secret_key, slen);
	int rc = hmac256(k0, 4 + slen, date, key);
	rc = rc ? rc : hmac256(key, 32, r->region, key);
	rc = rc ? rc : hmac256(key, 32, r->service, key);
	rc = rc ? rc : hmac256(key, 32, "aws4_request", key);
	OPENSSL_cleanse(k0, sizeof k0);
	return rc;
}

int s3_sign(const s3_sign_req *req, char *out, size_t cap)
{
	if (!req || !out)
		return tess_err(TESS_EINVAL, "s3 sign: no request or output");
	const s3_header *sorted[S3_MAX_SIGNED_HEADERS];
	int rc = check_request(req, sorted);
	if (rc)
		return rc;
	char date[9];
	memcpy(date, req->amz_date, 8);
	date[8] = '\0';

	tess_buf cr = {0}, sh = {0};
	rc = canonical_request(req, sorted, &cr, &sh);
	char cr_hash[65], sts[256], sig[65];
	unsigned char key[32], mac[32];
	if (!rc) {
		s3_sha256_hex(cr.data, cr.len, cr_hash);
		/* scope parts are short validated tokens; 256 bytes hold them unless
		 * region/service are absurd, which snprintf's result catches */
		int n = snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s",
		                 req->amz_date, date, req->region, req->service, cr_hash);
		if (n < 0 || (size_t)n >= sizeof sts)
			rc = tess_err(TESS_EINVAL, "s3 sign: region or service name too long");
	}
	rc = rc ? rc : signing_key(req, date, key);
	rc = rc ? rc : hmac256(key, sizeof key, sts, mac);
	OPENSSL_cleanse(key, sizeof key);
	if (!rc) {
		hex_lower(mac, sizeof mac, sig);
		int n = snprintf(out, cap,
		                 "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
		                 "SignedHeaders=%s, Signature=%s",
		                 req->access_key, date, req->region, req->service, (const char *)sh.data, sig);
		if (n < 0 || (size_t)n >= cap) {
			if (cap)
				out[0] = '\0';
			rc = tess_err(TESS_EINVAL, "s3 sign: Authorization header needs %d bytes, %zu given",
			              n + 1, cap);
		}
	}
	tess_buf_free(&cr);
	tess_buf_free(&sh);
	return rc;
}

/* ---- dates ------------------------------------------------------------------- */

/* Civil date of a day count since 1970-01-01 (Howard Hinnant's
 * civil_from_days, valid for the whole proleptic Gregorian calendar). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

void s3_amz_date(int64_t t, char out[17])
{
	/* The format has four year digits: clamp to 0000-01-01 .. 9999-12-31. */
	const int64_t lo = -62167219200LL, hi = 253402300799LL;
	if (t < lo)
		t = lo;
	if (t > hi)
		t = hi;
	int64_t days = t / 86400, sec = t % 86400;
	if (sec < 0) {
		sec += 86400;
		days--;
	}
	int64_t y;
	int m, d;
	civil_from_days(days, &y, &m, &d);
	/* fixed-width digits by hand: every field is already in range */
	const int64_t f[6] = {y, m, d, sec / 3600, sec / 60 % 60, sec % 60};
	const int w[6] = {4, 2, 2, 2, 2, 2};
	char *o = out;
	for (int i = 0; i < 6; i++) {
		for (int k = w[i] - 1; k >= 0; k--) {
			int64_t v = f[i];
			for (int j = 0; j < k; j++)
				v /= 10;
			*o++ = (char)('0' + v % 10);
		}
		if (i == 2)
			*o++ = 'T';
	}
	*o++ = 'Z';
	*o = '\0';
}
