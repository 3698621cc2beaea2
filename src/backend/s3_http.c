/*
 * The S3 request engine: signed requests over curl multi, several in flight
 * on reused connections, retried with exponential backoff and full jitter.
 *
 * Latency, not bandwidth, is what S3 costs, so every batch of requests runs
 * concurrently (up to be->concurrency) and connections are kept: each idle
 * `s3_conn` is a curl multi handle whose connection cache survives between
 * batches.  A thread takes one from the backend's idle list for the length
 * of a batch, so threads never share a handle.
 */
#include "backend/s3.h"
#include "util/error.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

/* Backoff: full jitter over base * 2^attempt, capped. */
#define BACKOFF_BASE_NS (50LL * 1000000)
#define BACKOFF_CAP_NS (5LL * 1000000000)
/* Error bodies are small; never keep more of one than this. */
#define ERROR_BODY_MAX (64 * 1024)
/* Most bytes reserved up front from a Content-Length; beyond, the buffer grows. */
#define RESERVE_MAX ((uint64_t)1 << 30)
/* A transfer that moves less than 1 byte/s for this long has stalled. */
#define STALL_SECONDS 60L

struct s3_conn {
	CURLM *multi;
	CURL *easy[S3_MAX_CONCURRENCY];
	struct s3_conn *next;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static CURLcode init_result;

static void init_curl(void)
{
	init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int s3_http_init(void)
{
	pthread_once(&init_once, init_curl);
	if (init_result != CURLE_OK)
		return tess_err(TESS_EIO, "s3: curl failed to initialize: %s",
		                curl_easy_strerror(init_result));
	return 0;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void s3_req_name(const s3_backend *be, const char *key, char *out, size_t cap)
{
	if (key)
		snprintf(out, cap, "%s/%s%s", be->bucket, be->prefix, key);
	else
		snprintf(out, cap, "%s", be->bucket);
}

void s3_req_release(s3_req *req)
{
	tess_buf_free(&req->body_in);
	curl_slist_free_all(req->headers);
	req->headers = NULL;
}

/* ---- connections ---------------------------------------------------------- */

static struct s3_conn *conn_take(s3_backend *be)
{
	pthread_mutex_lock(&be->lock);
	struct s3_conn *c = be->idle;
	if (c)
		be->idle = c->next;
	pthread_mutex_unlock(&be->lock);
	if (c)
		return c;
	c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->multi = curl_multi_init();
	if (!c->multi) {
		free(c);
		return NULL;
	}
	/* keep a connection per request slot between batches */
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)S3_MAX_CONCURRENCY);
	return c;
}

static void conn_free(struct s3_conn *c)
{
	for (size_t i = 0; i < S3_MAX_CONCURRENCY; i++)
		if (c->easy[i])
			curl_easy_cleanup(c->easy[i]);
	curl_multi_cleanup(c->multi);
	free(c);
}

static void conn_give_back(s3_backend *be, struct s3_conn *c)
{
	pthread_mutex_lock(&be->lock);
	c->next = be->idle;
	be->idle = c;
	pthread_mutex_unlock(&be->lock);
}

void s3_conns_free(s3_backend *be)
{
	while (be->idle) {
		struct s3_conn *c = be->idle;
		be->idle = c->next;
		conn_free(c);
	}
}

/* ---- curl callbacks ------------------------------------------------------- */

static int is_2xx(long status)
{
	return status >= 200 && status < 300;
}

static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
	s3_req *req = arg;
	size_t len = size * n;
	if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		/* a new response (after 100 Continue, say): forget the last one */
		const char *sp = memchr(line, ' ', len);
		req->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		req->etag[0] = 0;
		req->has_length = 0;
		req->mtime_ns = 0;
		return len;
	}
	const char *colon = memchr(line, ':', len);
	if (!colon)
		return len;
	size_t name_len = (size_t)(colon - line);
	const char *v = colon + 1;
	const char *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	size_t vlen = (size_t)(end - v);
	if (name_len == 4 && strncasecmp(line, "etag", 4) == 0) {
		if (vlen < sizeof req->etag) {
			memcpy(req->etag, v, vlen);
			req->etag[vlen] = 0;
		}
	} else if (name_len == 14 && strncasecmp(line, "content-length", 14) == 0) {
		char tmp[32];
		if (vlen > 0 && vlen < sizeof tmp) {
			memcpy(tmp, v, vlen);
			tmp[vlen] = 0;
			req->content_length = strtoull(tmp, NULL, 10);
			req->has_length = 1;
		}
	} else if (name_len == 13 && strncasecmp(line, "last-modified", 13) == 0) {
		int64_t ns;
		if (s3_parse_http_date(v, vlen, &ns) == 0)
			req->mtime_ns = ns;
	}
	return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	s3_req *req = arg;
	size_t len = size * n;
	if (req->out && is_2xx(req->status)) {
		/* reserve the whole body once, so a large GET is one allocation;
		 * the server's Content-Length is trusted only up to RESERVE_MAX */
		if (req->out->len == req->out_len0 && req->has_length && !req->out->fixed &&
		    req->content_length > len && req->content_length <= RESERVE_MAX)
			tess_buf_reserve(req->out, (size_t)req->content_length);
		if (tess_buf_append(req->out, data, len) != 0) {
			req->overflow = 1;
			return 0; /* aborts the transfer */
		}
		return len;
	}
	if (!is_2xx(req->status) && req->body_in.len + len > ERROR_BODY_MAX)
		return len; /* drop the rest of a huge error page */
	if (tess_buf_append(&req->body_in, data, len) != 0) {
		req->overflow = 1;
		return 0;
	}
	return len;
}

static size_t on_read(char *dst, size_t size, size_t n, void *arg)
{
	s3_req *req = arg;
	size_t want = size * n;
	size_t left = req->body_len - req->sent;
	if (want > left)
		want = left;
	memcpy(dst, (const char *)req->body + req->sent, want);
	req->sent += want;
	return want;
}

static int on_seek(void *arg, curl_off_t offset, int origin)
{
	s3_req *req = arg;
	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > req->body_len)
		return CURL_SEEKFUNC_FAIL;
	req->sent = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* ---- building a signed request --------------------------------------------- */

static int append_str(tess_buf *b, const char *s)
{
	return tess_buf_append(b, s, strlen(s));
}

/* The encoded path of the request: canonical URI, and URL after url_base. */
static int build_path(const s3_backend *be, const s3_req *req, tess_buf *path)
{
	if (!req->key)
		return append_str(path, "/");
	int rc = append_str(path, "/");
	if (!rc)
		rc = s3_uri_encode(path, be->prefix, strlen(be->prefix), 1);
	if (!rc)
		rc = s3_uri_encode(path, req->key, strlen(req->key), 1);
	return rc;
}

static struct curl_slist *add_header(struct curl_slist *list, const char *name,
                                     const char *value, int *failed)
{
	char line[1200];
	snprintf(line, sizeof line, "%s: %s", name, value);
	struct curl_slist *next = curl_slist_append(list, line);
	if (!next)
		*failed = 1;
	return next ? next : list;
}

/* Sign the request as of now and set headers and URL on the handle. */
static int prepare(s3_backend *be, s3_req *req, CURL *easy)
{
	tess_buf path = {0}, uri = {0}, url = {0};
	int rc = build_path(be, req, &path);
	if (!rc)
		rc = append_str(&uri, be->uri_base);
	if (!rc)
		rc = tess_buf_append(&uri, path.data, path.len);
	if (!rc)
		rc = append_str(&url, be->url_base);
	if (!rc)
		rc = tess_buf_append(&url, path.data, path.len);
	if (!rc && req->query && *req->query) {
		rc = append_str(&url, "?");
		if (!rc)
			rc = append_str(&url, req->query);
	}
	if (!rc)
		rc = tess_buf_append(&uri, "", 1);
	if (!rc)
		rc = tess_buf_append(&url, "", 1);
	if (rc)
		goto out;

	char amz_date[17];
	s3_amz_date((int64_t)time(NULL), amz_date);
	char payload_hash[65];
	if (be->tls)
		snprintf(payload_hash, sizeof payload_hash, "%s", S3_UNSIGNED_PAYLOAD);
	else
		s3_sha256_hex(req->body, req->body_len, payload_hash);

	s3_header h[8];
	size_t nh = 0;
	h[nh++] = (s3_header){"host", be->host};
	h[nh++] = (s3_header){"x-amz-content-sha256", payload_hash};
	h[nh++] = (s3_header){"x-amz-date", amz_date};
	if (be->session_token)
		h[nh++] = (s3_header){"x-amz-security-token", be->session_token};
	if (req->content_md5)
		h[nh++] = (s3_header){"content-md5", req->content_md5};
	if (req->range[0])
		h[nh++] = (s3_header){"range", req->range};
	if (req->if_none_match)
		h[nh++] = (s3_header){"if-none-match", "*"};
	s3_sign_req sr = {
		.method = req->method,
		.canonical_uri = (const char *)uri.data,
		.canonical_query = req->query ? req->query : "",
		.headers = h,
		.n_headers = nh,
		.payload_hash = payload_hash,
		.amz_date = amz_date,
		.region = be->region,
		.service = "s3",
		.access_key = be->access_key,
		.secret_key = be->secret_key,
	};
	char authz[1024];
	rc = s3_sign(&sr, authz, sizeof authz);
	if (rc)
		goto out;

	int failed = 0;
	struct curl_slist *list = NULL;
	for (size_t i = 1; i < nh; i++) /* curl sends Host itself, from the URL */
		list = add_header(list, h[i].name, h[i].value, &failed);
	list = add_header(list, "authorization", authz, &failed);
	/* no 100-continue round trip; no form content type on POST */
	list = curl_slist_append(list, "Expect:");
	list = list ? curl_slist_append(list, "Content-Type:") : list;
	if (failed || !list) {
		curl_slist_free_all(list);
		rc = tess_err(TESS_ENOMEM, "s3: out of memory building headers");
		goto out;
	}
	curl_slist_free_all(req->headers);
	req->headers = list;
	curl_easy_setopt(easy, CURLOPT_URL, (const char *)url.data);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, list);
out:
	tess_buf_free(&path);
	tess_buf_free(&uri);
	tess_buf_free(&url);
	return rc;
}

/* Configure a (reset) easy handle for one attempt of req. */
static int setup_easy(s3_backend *be, s3_req *req, CURL *easy)
{
	curl_easy_reset(easy);
	req->status = 0;
	req->sent = 0;
	req->overflow = 0;
	req->etag[0] = 0;
	req->has_length = 0;
	req->mtime_ns = 0;
	if (req->out)
		req->out->len = req->out_len0; /* a retry starts the body again */
	req->body_in.len = 0;
	int rc = prepare(be, req, easy);
	if (rc)
		return rc;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, req);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, req);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, req);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, STALL_SECONDS);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, 256L * 1024);
	curl_easy_setopt(easy, CURLOPT_UPLOAD_BUFFERSIZE, 256L * 1024);
	const char *m = req->method;
	if (strcmp(m, "GET") == 0) {
		curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(m, "HEAD") == 0) {
		curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
	} else if (strcmp(m, "PUT") == 0 || strcmp(m, "POST") == 0) {
		curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, m);
		curl_easy_setopt(easy, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(easy, CURLOPT_READDATA, req);
		curl_easy_setopt(easy, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(easy, CURLOPT_SEEKDATA, req);
		curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
	} else {
		curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, m);
	}
	return 0;
}

/* ---- outcomes ------------------------------------------------------------- */

static int retryable_curl(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
		return 1;
	default:
		return 0;
	}
}

/* TESS_E* code for a final HTTP status and S3 error code. */
static int status_code(long status, const char *code)
{
	if (status == 404)
		return TESS_ENOTFOUND;
	if (status == 403 || status == 401)
		return TESS_EAUTH;
	if (status == 412)
		return TESS_EEXISTS;
	if (status == 416)
		return TESS_ERANGE;
	if (status == 409)
		return TESS_ECONFLICT;
	if (status == 501)
		return TESS_ENOTSUP;
	if (status == 400 && strcmp(code, "InvalidAccessKeyId") == 0)
		return TESS_EAUTH;
	if (status == 400 || status == 411 || status == 413)
		return TESS_EINVAL;
	return TESS_EIO;
}

static int retryable_status(long status, const char *code)
{
	if (status >= 500 && status != 501)
		return 1;
	if (status == 429)
		return 1;
	/* S3's "your socket was idle too long" and "try the conditional write
	 * again" are 4xx but transient */
	if (status == 400 && strcmp(code, "RequestTimeout") == 0)
		return 1;
	if (status == 409 && strcmp(code, "ConditionalRequestConflict") == 0)
		return 1;
	return 0;
}

static const char *status_text(long status)
{
	switch (status) {
	case 403: return "access denied";
	case 404: return "not found";
	case 412: return "precondition failed";
	case 416: return "range not satisfiable";
	case 503: return "service unavailable";
	default: return "request failed";
	}
}

/* What common S3 error codes mean, for servers (Ceph) that send no Message. */
static const char *code_text(const char *code)
{
	static const char *const known[][2] = {
		{"SignatureDoesNotMatch", "the signature does not match: check the secret key"},
		{"InvalidAccessKeyId", "the server does not know this access key"},
		{"AccessDenied", "access denied"},
		{"NoSuchBucket", "the bucket does not exist"},
		{"NoSuchKey", "no such key"},
		{"RequestTimeTooSkewed", "this machine's clock is too far from the server's"},
		{"SlowDown", "the server asks to slow down"},
		{"PreconditionFailed", "the object already exists"},
		{"InvalidRange", "the range starts past the end"},
	};
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strcmp(code, known[i][0]) == 0)
			return known[i][1];
	return "";
}

/* Decide what a finished attempt means; returns 1 if it should be retried. */
static int conclude(s3_backend *be, s3_req *req, CURLcode cc)
{
	char name[TESS_KEY_MAX + 256];
	s3_req_name(be, req->key, name, sizeof name);
	req->err.code[0] = req->err.message[0] = 0;
	if (req->overflow) {
		req->rc = TESS_ENOMEM;
		snprintf(req->msg, sizeof req->msg, "s3 %s %s: the response does not fit "
		         "the buffer (or out of memory)", req->method, name);
		return 0;
	}
	if (cc != CURLE_OK) {
		req->rc = TESS_EIO;
		snprintf(req->msg, sizeof req->msg, "s3 %s %s: %s", req->method, name,
		         curl_easy_strerror(cc));
		return retryable_curl(cc);
	}
	if (is_2xx(req->status)) {
		req->rc = 0;
		req->msg[0] = 0;
		return 0;
	}
	s3_xml_error((const char *)req->body_in.data, req->body_in.len, &req->err);
	req->rc = status_code(req->status, req->err.code);
	const char *text = req->err.message[0] ? req->err.message : code_text(req->err.code);
	if (req->err.code[0])
		snprintf(req->msg, sizeof req->msg, "s3 %s %s: HTTP %ld %s%s%s", req->method,
		         name, req->status, req->err.code, text[0] ? ": " : "", text);
	else
		snprintf(req->msg, sizeof req->msg, "s3 %s %s: HTTP %ld (%s)", req->method,
		         name, req->status, status_text(req->status));
	return retryable_status(req->status, req->err.code);
}

static int64_t backoff_ns(unsigned attempt)
{
	int64_t ceiling = BACKOFF_BASE_NS << (attempt < 20 ? attempt : 20);
	if (ceiling > BACKOFF_CAP_NS || ceiling <= 0)
		ceiling = BACKOFF_CAP_NS;
	uint64_t r = 0;
	if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
		r = (uint64_t)now_ns();
	/* at least a millisecond, so a flood of 503s still spaces out */
	return 1000000 + (int64_t)(r % (uint64_t)ceiling);
}

/* ---- the batch loop -------------------------------------------------------- */

struct batch {
	s3_backend *be;
	struct s3_conn *conn;
	s3_req *reqs;
	size_t n;
	size_t next;       /* next request never started */
	size_t *retry;     /* requests waiting for another attempt */
	size_t n_retry;
	size_t in_flight;
	unsigned slots;
	int busy[S3_MAX_CONCURRENCY];
};

/* Start req on a free slot; a request that cannot even be prepared ends. */
static int start(struct batch *b, size_t idx)
{
	unsigned slot = 0;
	while (slot < b->slots && b->busy[slot])
		slot++;
	CURL **easy = &b->conn->easy[slot];
	if (!*easy && !(*easy = curl_easy_init()))
		return tess_err(TESS_ENOMEM, "s3: cannot create a curl handle");
	s3_req *req = &b->reqs[idx];
	req->attempts++;
	int rc = setup_easy(b->be, req, *easy);
	if (rc) {
		req->rc = rc;
		snprintf(req->msg, sizeof req->msg, "%s", tess_errmsg());
		return 0;
	}
	if (curl_multi_add_handle(b->conn->multi, *easy) != CURLM_OK)
		return tess_err(TESS_EIO, "s3: curl_multi_add_handle failed");
	b->busy[slot] = 1;
	b->in_flight++;
	return 0;
}

/* The next request to start now: a due retry first, then a new one. */
static int pick(struct batch *b, size_t *idx, int64_t now)
{
	for (size_t i = 0; i < b->n_retry; i++) {
		if (b->reqs[b->retry[i]].ready_ns <= now) {
			*idx = b->retry[i];
			b->retry[i] = b->retry[--b->n_retry];
			return 1;
		}
	}
	if (b->next < b->n) {
		*idx = b->next++;
		return 1;
	}
	return 0;
}

static void finish(struct batch *b, CURL *easy, CURLcode cc)
{
	s3_req *req = NULL;
	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&req);
	curl_multi_remove_handle(b->conn->multi, easy);
	for (unsigned s = 0; s < b->slots; s++)
		if (b->conn->easy[s] == easy)
			b->busy[s] = 0;
	b->in_flight--;
	if (conclude(b->be, req, cc) && req->attempts <= b->be->retries) {
		req->ready_ns = now_ns() + backoff_ns(req->attempts - 1);
		b->retry[b->n_retry++] = (size_t)(req - b->reqs);
	}
}

/* Milliseconds to wait for activity: until the next due retry, at most 1 s. */
static int wait_ms(const struct batch *b, int64_t now)
{
	int64_t wait = 1000;
	for (size_t i = 0; i < b->n_retry; i++) {
		int64_t ms = (b->reqs[b->retry[i]].ready_ns - now) / 1000000 + 1;
		if (ms < wait)
			wait = ms < 0 ? 0 : ms;
	}
	return (int)wait;
}

static int run_batch(struct batch *b)
{
	for (;;) {
		int64_t now = now_ns();
		size_t idx;
		while (b->in_flight < b->slots && pick(b, &idx, now)) {
			int rc = start(b, idx);
			if (rc)
				return rc;
		}
		if (b->in_flight == 0 && b->n_retry == 0 && b->next == b->n)
			return 0;
		int running = 0;
		if (curl_multi_perform(b->conn->multi, &running) != CURLM_OK)
			return tess_err(TESS_EIO, "s3: curl_multi_perform failed");
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(b->conn->multi, &left)))
			if (msg->msg == CURLMSG_DONE)
				finish(b, msg->easy_handle, msg->data.result);
		if (b->in_flight > 0 && running > 0) {
			curl_multi_poll(b->conn->multi, NULL, 0, wait_ms(b, now_ns()), NULL);
		} else if (b->in_flight == 0 && b->n_retry > 0 && b->next == b->n) {
			int ms = wait_ms(b, now_ns());
			struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
}

int s3_perform(s3_backend *be, s3_req *reqs, size_t n)
{
	if (n == 0)
		return 0;
	struct batch b = {.be = be, .reqs = reqs, .n = n};
	b.slots = be->concurrency < n ? be->concurrency : (unsigned)n;
	if (b.slots < 1)
		b.slots = 1;
	if (b.slots > S3_MAX_CONCURRENCY)
		b.slots = S3_MAX_CONCURRENCY;
	b.retry = malloc(n * sizeof *b.retry);
	b.conn = conn_take(be);
	if (!b.retry || !b.conn) {
		free(b.retry);
		if (b.conn)
			conn_give_back(be, b.conn);
		return tess_err(TESS_ENOMEM, "s3: out of memory starting %zu requests", n);
	}
	for (size_t i = 0; i < n; i++) {
		reqs[i].attempts = 0;
		reqs[i].rc = TESS_EIO;
		snprintf(reqs[i].msg, sizeof reqs[i].msg, "s3: request not run");
		reqs[i].out_len0 = reqs[i].out ? reqs[i].out->len : 0;
	}
	int rc = run_batch(&b);
	if (rc) {
		/* take whatever is still attached off the multi handle */
		for (unsigned s = 0; s < b.slots; s++)
			if (b.busy[s])
				curl_multi_remove_handle(b.conn->multi, b.conn->easy[s]);
	}
	for (size_t i = 0; i < n; i++) {
		curl_slist_free_all(reqs[i].headers);
		reqs[i].headers = NULL;
	}
	free(b.retry);
	conn_give_back(be, b.conn);
	return rc;
}

int s3_perform1(s3_backend *be, s3_req *req)
{
	int rc = s3_perform(be, req, 1);
	if (rc)
		return rc;
	if (req->rc)
		return tess_err(req->rc, "%s", req->msg);
	return 0;
}
