/*
 * Internal: the S3 backend's building blocks.
 *
 *   s3_sign.c  AWS Signature Version 4 (header auth), SHA-256/MD5 helpers and
 *              the URI encoding SigV4 prescribes.  Pure functions; OpenSSL.
 *   s3_xml.c   the few S3 XML documents we read and write, and S3's dates.
 *              Every parser takes untrusted bytes (fuzz/fuzz_s3_xml.c).
 *   s3_http.c  the request engine: curl multi, retries, error mapping.
 *   s3.c       the tess_backend_ops vtable for s3://BUCKET/PREFIX.
 *
 * All functions return 0 or a negative TESS_E* code and set tess_errmsg()
 * on failure, like the rest of the library.  Nothing here ever puts a secret
 * key into a message.
 */
#ifndef TESS_BACKEND_S3_H
#define TESS_BACKEND_S3_H

#include <stddef.h>
#include <stdint.h>

#include <pthread.h>

#include "tessera/sys/backend.h"

/* ---- s3_sign.c ------------------------------------------------------------ */

/** Lowercase hex SHA-256 of data[0..len): 64 chars + NUL. */
void s3_sha256_hex(const void *data, size_t len, char out[65]);

/** Base64 of the MD5 of data[0..len) (a Content-MD5 value): 24 chars + NUL. */
void s3_md5_base64(const void *data, size_t len, char out[25]);

/** SHA-256 hex of the empty string, the payload hash of bodiless requests. */
#define S3_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/** x-amz-content-sha256 value for an unsigned payload (used over TLS). */
#define S3_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

/**
 * Append the SigV4 URI encoding of s[0..len) to out: every byte except
 * A-Z a-z 0-9 - _ . ~ becomes %XX (uppercase hex); '/' is kept as is when
 * keep_slash is 1 (object key paths) and encoded otherwise (query values).
 * The output is not NUL-terminated unless the caller appends one.
 */
int s3_uri_encode(tess_buf *out, const char *s, size_t len, int keep_slash);

/** One request header: name in lowercase, value already trimmed. */
typedef struct s3_header {
	const char *name;
	const char *value;
} s3_header;

/** Everything SigV4 covers. */
typedef struct s3_sign_req {
	const char *method;        /**< "GET", "PUT", ... */
	const char *canonical_uri; /**< URI-encoded path: "/bucket/a%20b/c" */
	const char *canonical_query; /**< encoded, sorted "k=v&k2=v2", or "" */
	const s3_header *headers;  /**< exactly the headers to sign, any order,
	                                names lowercase; must include "host" and
	                                "x-amz-date" (and for S3
	                                "x-amz-content-sha256") */
	size_t n_headers;
	const char *payload_hash;  /**< hex SHA-256 of the body, or
	                                S3_UNSIGNED_PAYLOAD */
	const char *amz_date;      /**< "20261122T101500Z", also in headers */
	const char *region;        /**< "us-east-1" */
	const char *service;       /**< "s3" */
	const char *access_key;
	const char *secret_key;
} s3_sign_req;

/**
 * Compute the Authorization header value,
 *   "AWS4-HMAC-SHA256 Credential=AK/20261122/us-east-1/s3/aws4_request,
 *    SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=<64 hex>"
 * (one line, ", " between the three parts), NUL-terminated into out.
 * Headers are sorted by name for signing; duplicate names are an error.
 * TESS_EINVAL for a missing field, duplicate header or out too small
 * (1024 bytes always suffice for up to 16 headers).
 */
int s3_sign(const s3_sign_req *req, char *out, size_t cap);

/** "20261122T101500Z" for a Unix time (UTC) into out (17 bytes with NUL). */
void s3_amz_date(int64_t unix_seconds, char out[17]);

/* ---- s3_xml.c ------------------------------------------------------------- */

/** An S3 <Error> document: Code and Message, truncated to fit, NUL-terminated. */
typedef struct s3_error_doc {
	char code[64];
	char message[256];
} s3_error_doc;

/**
 * Parse an S3 error body (<Error><Code>NoSuchKey</Code><Message>...</Message>
 * ...</Error>, possibly preceded by an XML declaration).  Returns 1 when the
 * body is an <Error> document (fields filled; missing ones empty), 0 when it
 * is not (or is empty / not XML).  Never fails otherwise.
 */
int s3_xml_error(const char *xml, size_t len, s3_error_doc *out);

/** One <Contents> or <CommonPrefixes> entry of a ListObjectsV2 result. */
typedef struct s3_list_item {
	char *key;        /**< decoded key (entities and, with EncodingType url,
	                       percent-encoding undone); owned */
	int is_prefix;    /**< 1 for a <CommonPrefixes><Prefix> */
	uint64_t size;    /**< <Size> */
	int64_t mtime_ns; /**< <LastModified>, 0 if absent */
} s3_list_item;

/** A parsed ListBucketResult. */
typedef struct s3_list_result {
	s3_list_item *items; /**< Contents and CommonPrefixes merged, in
	                          ascending byte order of key */
	size_t count;
	int truncated;        /**< <IsTruncated>true</IsTruncated> */
	char *next_token;     /**< <NextContinuationToken> or NULL; owned */
} s3_list_result;

/**
 * Parse a ListObjectsV2 response body.  When the document says
 * <EncodingType>url</EncodingType>, keys, prefixes and the continuation
 * token are percent-decoded (the token is never url-encoded by S3, but
 * decoding is harmless only for keys: decode Key and Prefix only).
 * TESS_ECORRUPT naming what was malformed (not a ListBucketResult, bad
 * number, bad escape, key that decodes to invalid bytes such as NUL).
 * On failure *out is left empty.
 */
int s3_xml_list(const char *xml, size_t len, s3_list_result *out);
void s3_list_result_free(s3_list_result *r);

/**
 * <UploadId> of an InitiateMultipartUploadResult into out (NUL-terminated).
 * TESS_ECORRUPT if absent or longer than cap-1.
 */
int s3_xml_upload_id(const char *xml, size_t len, char *out, size_t cap);

/** One failed key of a DeleteObjects (<DeleteResult><Error>). */
typedef struct s3_delete_error {
	char *key; /**< owned */
	s3_error_doc err;
} s3_delete_error;

/**
 * Parse a DeleteResult body: the <Error> entries (Quiet mode lists only
 * those).  *errors is a malloc'ed array of *n entries (NULL/0 when none).
 * TESS_ECORRUPT if it is not a DeleteResult.
 */
int s3_xml_delete_result(const char *xml, size_t len, s3_delete_error **errors,
                         size_t *n);
void s3_delete_errors_free(s3_delete_error *errors, size_t n);

/**
 * Append a Quiet DeleteObjects request body for keys[0..n) to out:
 *   <?xml version="1.0" encoding="UTF-8"?><Delete><Quiet>true</Quiet>
 *   <Object><Key>k</Key></Object>...</Delete>
 * Keys are XML-escaped (& < > " ' and, as &#xN;, control characters
 * allowed by XML 1.0: \t \n \r).
 */
int s3_xml_delete_request(tess_buf *out, const char *const *keys, size_t n);

/**
 * Append a CompleteMultipartUpload body for parts 1..n with their ETags
 * (as the server returned them, quotes included) to out.
 */
int s3_xml_complete_request(tess_buf *out, const char *const *etags, size_t n);

/** "2026-11-22T10:15:00.123Z" (fraction optional) -> ns since the epoch. */
int s3_parse_iso8601(const char *s, size_t len, int64_t *out_ns);

/** "Sun, 22 Nov 2026 10:15:00 GMT" (RFC 7231 IMF-fixdate) -> ns. */
int s3_parse_http_date(const char *s, size_t len, int64_t *out_ns);


/* ---- s3_http.c: the request engine ---------------------------------------- */

/** The most requests one batch keeps in flight. */
#define S3_MAX_CONCURRENCY 64

struct s3_conn;

/** An open s3:// location and how to reach it.  Immutable after open except
 *  for the probes and the connection pool (under `lock`). */
typedef struct s3_backend {
	tess_backend base;
	char *bucket;
	char *prefix;       /**< "" or "a/b/" (store root inside the bucket) */
	char *url_base;     /**< everything before the encoded key path:
	                         "http://127.0.0.1:7480/bucket" (path style) or
	                         "https://bucket.s3.eu-west-1.amazonaws.com" */
	char *uri_base;     /**< canonical URI before the key: "/bucket" or "" */
	char *host;         /**< Host header value */
	int tls;            /**< https: payloads go unsigned, as botocore does */
	char *region;
	char *access_key;
	char *secret_key;
	char *session_token; /**< NULL when none */
	unsigned concurrency; /**< requests in flight per batch */
	unsigned retries;     /**< retries after the first attempt */
	size_t part_size;     /**< multipart part size */
	size_t multipart_threshold; /**< puts above this go multipart */
	int cond_put;       /**< If-None-Match on PutObject: -1 unknown, 0/1 */
	int cond_complete;  /**< ... on CompleteMultipartUpload */
	pthread_mutex_t lock;       /**< guards idle */
	pthread_mutex_t probe_lock; /**< one probe at a time (it makes requests) */
	struct s3_conn *idle; /**< connections (curl multi handles) not in use */
} s3_backend;

/** One HTTP request and its outcome. */
typedef struct s3_req {
	/* in */
	const char *method;   /**< "GET", "HEAD", "PUT", "POST", "DELETE" */
	const char *key;      /**< key below the store root, or NULL for the bucket */
	const char *query;    /**< canonical query ("list-type=2&prefix=a"), or NULL */
	const void *body;     /**< request body (PUT, POST) */
	size_t body_len;
	const char *content_md5; /**< Content-MD5 header, or NULL */
	char range[64];       /**< Range header value, or "" */
	int if_none_match;    /**< send If-None-Match: * */
	tess_buf *out;        /**< 2xx response body is appended here (NULL:
	                           the body is kept in `body_in`) */
	/* out */
	long status;          /**< HTTP status of the final attempt, 0 if none */
	int rc;               /**< 0 or TESS_E*: the outcome */
	char msg[2048];       /**< the failure, for tess_err (no secrets) */
	s3_error_doc err;     /**< parsed S3 error body, if any */
	char etag[72];        /**< ETag response header (quotes kept) */
	uint64_t content_length; /**< Content-Length response header */
	int has_length;
	int64_t mtime_ns;     /**< Last-Modified, 0 if absent */
	tess_buf body_in;     /**< response body when out is NULL, and error bodies */
	/* engine state */
	unsigned attempts;
	size_t out_len0;      /**< out->len before the first attempt */
	size_t sent;          /**< request body bytes sent this attempt */
	int64_t ready_ns;     /**< earliest time of the next attempt */
	int overflow;         /**< the response did not fit in a fixed `out` */
	void *headers;        /**< struct curl_slist * of this attempt */
} s3_req;

/** Global curl setup (once per process).  TESS_EIO if curl cannot start. */
int s3_http_init(void);

/**
 * Run requests, at most be->concurrency at once on one reused set of
 * connections, retrying 5xx, 429, timeouts and connection failures with
 * exponential backoff and full jitter.  Each request's outcome is in
 * req->rc / req->status / req->msg.  Returns 0 unless the batch could not
 * run at all (no memory, curl failure).
 */
int s3_perform(s3_backend *be, s3_req *reqs, size_t n);

/** Run one request; on failure set the thread's message and return req->rc. */
int s3_perform1(s3_backend *be, s3_req *req);

/** Release a request's response buffers (not `out`). */
void s3_req_release(s3_req *req);

/** Free the idle connections (at close). */
void s3_conns_free(s3_backend *be);

/** "bucket/prefix/key" as it appears in messages. */
void s3_req_name(const s3_backend *be, const char *key, char *out, size_t cap);

#endif
