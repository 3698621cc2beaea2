/*
 * Test driver for the metadata peer scripts: runs tess_meta_parse /
 * tess_meta_from_opts / tess_meta_write / tess_meta_chunk_key over a batch of
 * cases, one JSON object per line of a file:
 *
 *   {"op": "parse", "format": 2, "in": PATH, "out": PATH}
 *   {"op": "opts", "format": 2, "shape": [..], "chunks": [..], "dtype": "<f4",
 *    "codec": SPEC or null, "fill": JSON text or null, "order": "C",
 *    "sep": ".", "shard": [..] (optional), "out": PATH}
 *
 * Each case writes the metadata text to "out", or "ERROR <code>: <message>"
 * to out + ".err".  With "keys": [[i, j, ..], ..] the chunk keys follow the
 * text in out + ".keys", one a line.  Exit status 0 unless the batch itself
 * is unreadable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array/meta.h"
#include "util/json.h"

static int read_file(const char *path, char **text, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (n == cap)
			buf = realloc(buf, cap *= 2);
		size_t got = fread(buf + n, 1, cap - n, f);
		if (got == 0)
			break;
		n += got;
	}
	fclose(f);
	*text = buf;
	*len = n;
	return 0;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len) {
		perror(path);
		exit(2);
	}
	fclose(f);
}

static void write_error(const char *out, int rc)
{
	char path[4096], msg[4200];
	snprintf(path, sizeof path, "%s.err", out);
	int n = snprintf(msg, sizeof msg, "ERROR %s: %s\n", tess_strerror(rc), tess_errmsg());
	write_file(path, msg, (size_t)n);
}

static int dims_of(const json_t *v, uint64_t *out)
{
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) out[i] = (uint64_t)json_integer_value(e);
	return (int)json_array_size(v);
}

static int build_opts(tess_meta *m, const json_t *c)
{
	tess_array_opts o = TESS_ARRAY_OPTS_INIT;
	o.zarr_format = (int)json_integer_value(json_object_get(c, "format"));
	o.ndim = dims_of(json_object_get(c, "shape"), o.shape);
	dims_of(json_object_get(c, "chunks"), o.chunks);
	if (json_object_get(c, "shard"))
		dims_of(json_object_get(c, "shard"), o.shard);
	int rc = tess_dtype_parse(&o.dtype, json_string_value(json_object_get(c, "dtype")));
	if (rc)
		return rc;
	o.codec = json_string_value(json_object_get(c, "codec"));
	o.fill = json_string_value(json_object_get(c, "fill"));
	const char *order = json_string_value(json_object_get(c, "order"));
	const char *sep = json_string_value(json_object_get(c, "sep"));
	if (order)
		o.order = order[0];
	if (sep)
		o.dimension_separator = sep[0];
	return tess_meta_from_opts(m, &o);
}

static void write_keys(const tess_meta *m, const json_t *keys, const char *out)
{
	char path[4096];
	snprintf(path, sizeof path, "%s.keys", out);
	tess_buf b = {0};
	size_t i;
	json_t *k;
	json_array_foreach(keys, i, k) {
		uint64_t idx[TESS_ARRAY_MAX_DIMS];
		dims_of(k, idx);
		char key[TESS_KEY_MAX];
		size_t n = tess_meta_chunk_key(key, sizeof key, m, idx);
		tess_buf_append(&b, key, n);
		tess_buf_append(&b, "\n", 1);
	}
	write_file(path, b.data ? (void *)b.data : "", b.len);
	tess_buf_free(&b);
}

static void run_case(const json_t *c)
{
	const char *op = json_string_value(json_object_get(c, "op"));
	const char *out = json_string_value(json_object_get(c, "out"));
	tess_meta m;
	int rc;
	if (strcmp(op, "parse") == 0) {
		char *text;
		size_t len;
		const char *in = json_string_value(json_object_get(c, "in"));
		if (read_file(in, &text, &len) != 0) {
			perror(in);
			exit(2);
		}
		rc = tess_meta_parse(&m, text, len, (int)json_integer_value(json_object_get(c, "format")),
		                     in);
		free(text);
	} else {
		rc = build_opts(&m, c);
	}
	if (rc) {
		write_error(out, rc);
		return;
	}
	tess_buf b = {0};
	rc = tess_meta_write(&b, &m);
	if (rc)
		write_error(out, rc);
	else
		write_file(out, b.data, b.len);
	if (!rc && json_object_get(c, "keys"))
		write_keys(&m, json_object_get(c, "keys"), out);
	tess_buf_free(&b);
	tess_meta_clear(&m);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CASES.jsonl\n", argv[0]);
		return 2;
	}
	char *text;
	size_t len;
	if (read_file(argv[1], &text, &len) != 0) {
		perror(argv[1]);
		return 2;
	}
	char *line = text, *end = text + len;
	while (line < end) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);
		if (n) {
			json_error_t e;
			json_t *c = json_loadb(line, n, 0, &e);
			if (!c) {
				fprintf(stderr, "%s: bad case line: %s\n", argv[1], e.text);
				return 2;
			}
			run_case(c);
			json_decref(c);
		}
		line += n + 1;
	}
	free(text);
	return 0;
}
