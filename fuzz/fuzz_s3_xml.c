/* Fuzz target: the S3 XML readers and date parsers (src/backend/s3_xml.c)
 * take any bytes without crashing or reading past the end, and what they
 * accept obeys the documented rules:
 *   - a listing is sorted, its keys non-empty UTF-8 without NUL, and keys
 *     written back through s3_xml_delete_request read back unchanged;
 *   - failures leave the outputs empty;
 *   - an accepted ISO 8601 date prints back through s3_amz_date. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/s3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Delete body -> ListBucketResult with the same <Key> elements, parsed. */
static void round_trip(const s3_list_result *r)
{
	const char **keys = malloc(r->count * sizeof *keys);
	if (!keys)
		return;
	for (size_t i = 0; i < r->count; i++)
		keys[i] = r->items[i].key;
	tess_buf body = {0}, doc = {0};
	if (s3_xml_delete_request(&body, keys, r->count) != 0)
		goto out; /* a key XML 1.0 cannot carry */
	const char *head = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>true</Quiet>";
	const char *s = (const char *)body.data + strlen(head), *end = (const char *)body.data + body.len;
	int rc = tess_buf_append(&doc, "<ListBucketResult>", 18);
	while (!rc && end - s > 9) {
		const char *close = memmem(s, (size_t)(end - s), "</Object>", 9);
		if (!close)
			abort();
		rc = tess_buf_append(&doc, "<Contents>", 10);
		rc = rc ? rc : tess_buf_append(&doc, s + 8, (size_t)(close - s - 8));
		rc = rc ? rc : tess_buf_append(&doc, "<Size>1</Size></Contents>", 25);
		s = close + 9;
	}
	rc = rc ? rc : tess_buf_append(&doc, "</ListBucketResult>", 19);
	s3_list_result back;
	if (!rc) {
		if (s3_xml_list((const char *)doc.data, doc.len, &back) != 0 || back.count != r->count)
			abort();
		for (size_t i = 0; i < r->count; i++)
			if (strcmp(back.items[i].key, r->items[i].key) != 0)
				abort();
		s3_list_result_free(&back);
	}
out:
	tess_buf_free(&body);
	tess_buf_free(&doc);
	free(keys);
}

static void check_list(const char *s, size_t size)
{
	s3_list_result r;
	if (s3_xml_list(s, size, &r) != 0) {
		if (r.items || r.count || r.next_token || r.truncated)
			abort();
		return;
	}
	for (size_t i = 0; i < r.count; i++) {
		if (!r.items[i].key[0] || (r.items[i].is_prefix && (r.items[i].size || r.items[i].mtime_ns)))
			abort();
		if (i && strcmp(r.items[i - 1].key, r.items[i].key) > 0)
			abort();
	}
	if (r.next_token && !r.next_token[0])
		abort();
	round_trip(&r);
	s3_list_result_free(&r);
}

static void check_others(const char *s, size_t size)
{
	s3_error_doc e;
	int is_err = s3_xml_error(s, size, &e);
	if ((is_err != 0 && is_err != 1) || strlen(e.code) >= sizeof e.code ||
	    strlen(e.message) >= sizeof e.message || (!is_err && (e.code[0] || e.message[0])))
		abort();
	char id[64];
	if (s3_xml_upload_id(s, size, id, sizeof id) == 0 ? !id[0] : id[0] != 0)
		abort();
	s3_delete_error *de = (s3_delete_error *)&e;
	size_t n = 1;
	if (s3_xml_delete_result(s, size, &de, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			if (!de[i].key[0])
				abort();
		s3_delete_errors_free(de, n);
	} else if (de || n) {
		abort();
	}
}

static void check_dates(const char *s, size_t size)
{
	int64_t ns;
	if (s3_parse_iso8601(s, size, &ns) == 0) {
		int64_t sec = ns / 1000000000 - (ns % 1000000000 < 0);
		char d[17];
		s3_amz_date(sec, d);
		/* "YYYY-MM-DDTHH:MM:SS" vs "YYYYMMDDTHHMMSSZ" */
		static const int map[15] = {0, 1, 2, 3, 5, 6, 8, 9, 10, 11, 12, 14, 15, 17, 18};
		for (int i = 0; i < 15; i++)
			if (d[i] != s[map[i]])
				abort();
	}
	s3_parse_http_date(s, size, &ns);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy: a read past the end is an ASan report */
	char *s = malloc(size ? size : 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	check_list(s, size);
	check_others(s, size);
	check_dates(s, size);
	free(s);
	return 0;
}
