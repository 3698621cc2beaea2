/*
 * s3_tool: drive one backend instance (the S3 backend in practice) from a
 * test script, so that Python can check what it does against boto3.
 *
 *   s3_tool URL open [create]                    open (and create) only
 *   s3_tool URL put KEY FILE [if-absent]         one put of the whole file
 *   s3_tool URL write KEY FILE [CHUNK [if-absent] [sized]]
 *                                                streaming writer, CHUNK
 *                                                bytes per write (default
 *                                                1 MiB); "sized" announces
 *                                                the size
 *   s3_tool URL write-abort KEY FILE             write all of FILE to a
 *                                                writer, then abort it
 *   s3_tool URL get KEY FILE [OFFSET [LENGTH]]   bytes to FILE
 *   s3_tool URL get-many FILE KEY:OFF:LEN...     one batched get; the parts
 *                                                concatenated to FILE
 *   s3_tool URL put-many DIR KEY...              one batched put of DIR/KEY
 *                                                for each KEY
 *   s3_tool URL stat KEY                         {"size":..,"mtime_ns":..,
 *                                                 "etag":".."}
 *   s3_tool URL list PREFIX [DELIM [PAGE]]       every entry, one JSON object
 *                                                per line, paging PAGE at a
 *                                                time (default 1000)
 *   s3_tool URL del KEY
 *   s3_tool URL del-many KEY...
 *
 * URL is s3://LOCATION[?QUERY] (any registered scheme works).  Keys are
 * given to the backend as they are (no store layer in between).  On failure
 * the tool prints "s3_tool: OP: NAME (CODE): MESSAGE" on stderr, NAME being
 * the TESS_E* constant, and exits 1; a per-request failure of a batch is a
 * failure of the tool.  Usage errors exit 2.
 */
#include "tessera.h"
#include "tessera/sys/backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *code_name(int rc)
{
	static const struct {
		int code;
		const char *name;
	} names[] = {
		{TESS_EINVAL, "TESS_EINVAL"},       {TESS_ENOTFOUND, "TESS_ENOTFOUND"},
		{TESS_EEXISTS, "TESS_EEXISTS"},     {TESS_EIO, "TESS_EIO"},
		{TESS_ECORRUPT, "TESS_ECORRUPT"},   {TESS_ENOTSUP, "TESS_ENOTSUP"},
		{TESS_ECONFLICT, "TESS_ECONFLICT"}, {TESS_ENOMEM, "TESS_ENOMEM"},
		{TESS_EAUTH, "TESS_EAUTH"},         {TESS_EBUSY, "TESS_EBUSY"},
		{TESS_EVERSION, "TESS_EVERSION"},   {TESS_EPERM, "TESS_EPERM"},
		{TESS_ERANGE, "TESS_ERANGE"},
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (names[i].code == rc)
			return names[i].name;
	return "TESS_E?";
}

static int fail(const char *op, int rc)
{
	fprintf(stderr, "s3_tool: %s: %s (%d): %s\n", op, code_name(rc), rc, tess_errmsg());
	return 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: s3_tool URL open|put|write|write-abort|get|get-many|put-many|"
	                "stat|list|del|del-many ARGS... (see s3_tool.c)\n");
	return 2;
}

/* The whole file in memory (malloc'd; *len its size). */
static void *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return NULL;
	}
	tess_buf b = {0};
	char chunk[1 << 16];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		if (tess_buf_append(&b, chunk, n) != 0) {
			fclose(f);
			tess_buf_free(&b);
			return NULL;
		}
	fclose(f);
	*len = b.len;
	return b.data ? b.data : calloc(1, 1);
}

static int spill(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
		perror(path);
		return 1;
	}
	return 0;
}

/* JSON string of a key (keys are UTF-8 without control characters, so only
 * quote and backslash need escapes). */
static void print_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar(*s);
	}
	putchar('"');
}

static int cmd_put(tess_backend *be, int argc, char **argv)
{
	if (argc < 2)
		return usage();
	unsigned flags = argc > 2 && strcmp(argv[2], "if-absent") == 0 ? TESS_PUT_IF_ABSENT : 0;
	size_t len;
	void *data = slurp(argv[1], &len);
	if (!data)
		return 1;
	int rc = be->ops->put(be, argv[0], data, len, flags);
	free(data);
	return rc ? fail("put", rc) : 0;
}

/* write and write-abort: stream FILE into a writer, CHUNK bytes a call. */
static int cmd_write(tess_backend *be, int argc, char **argv, int abort_it)
{
	if (argc < 2)
		return usage();
	size_t chunk = argc > 2 ? strtoull(argv[2], NULL, 10) : (size_t)1 << 20;
	unsigned flags = 0;
	int sized = 0;
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "if-absent") == 0)
			flags |= TESS_PUT_IF_ABSENT;
		else if (strcmp(argv[i], "sized") == 0)
			sized = 1;
		else
			return usage();
	}
	if (!chunk)
		return usage();
	size_t len;
	unsigned char *data = slurp(argv[1], &len);
	if (!data)
		return 1;
	tess_writer *w;
	int rc = be->ops->writer_open(be, &w, argv[0], sized ? len : TESS_SIZE_UNKNOWN, flags);
	if (rc) {
		free(data);
		return fail("writer_open", rc);
	}
	for (size_t off = 0; off < len && !rc; off += chunk)
		rc = be->ops->writer_write(w, data + off, len - off < chunk ? len - off : chunk);
	free(data);
	if (rc) {
		be->ops->writer_abort(w);
		return fail("writer_write", rc);
	}
	if (abort_it) {
		be->ops->writer_abort(w);
		return 0;
	}
	rc = be->ops->writer_commit(w);
	return rc ? fail("writer_commit", rc) : 0;
}

static int cmd_get(tess_backend *be, int argc, char **argv)
{
	if (argc < 2)
		return usage();
	uint64_t off = argc > 2 ? strtoull(argv[2], NULL, 10) : 0;
	uint64_t length = argc > 3 ? strtoull(argv[3], NULL, 10) : UINT64_MAX;
	tess_buf out = {0};
	int rc = be->ops->get(be, argv[0], off, length, &out);
	if (rc) {
		tess_buf_free(&out);
		return fail("get", rc);
	}
	rc = spill(argv[1], out.data, out.len);
	tess_buf_free(&out);
	return rc;
}

/* get-many FILE KEY:OFF:LEN...  (LEN "-" for "to the end"); the key is
 * everything before the last two colons. */
static int cmd_get_many(tess_backend *be, int argc, char **argv)
{
	if (argc < 2)
		return usage();
	size_t n = (size_t)argc - 1;
	tess_get_req *reqs = calloc(n, sizeof *reqs);
	tess_buf *bufs = calloc(n, sizeof *bufs);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		char *spec = argv[i + 1];
		char *len_s = strrchr(spec, ':');
		if (!len_s || len_s == spec)
			return usage();
		*len_s++ = '\0';
		char *off_s = strrchr(spec, ':');
		if (!off_s)
			return usage();
		*off_s++ = '\0';
		reqs[i].key = spec;
		reqs[i].offset = strtoull(off_s, NULL, 10);
		reqs[i].length = strcmp(len_s, "-") == 0 ? UINT64_MAX : strtoull(len_s, NULL, 10);
		reqs[i].out = &bufs[i];
	}
	if (be->ops->get_many)
		rc = be->ops->get_many(be, reqs, n);
	else
		for (size_t i = 0; i < n; i++)
			reqs[i].status = be->ops->get(be, reqs[i].key, reqs[i].offset,
			                              reqs[i].length, reqs[i].out);
	if (rc)
		rc = fail("get_many", rc);
	tess_buf all = {0};
	for (size_t i = 0; i < n && !rc; i++) {
		if (reqs[i].status)
			rc = fail(reqs[i].key, reqs[i].status);
		else if (tess_buf_append(&all, bufs[i].data, bufs[i].len))
			rc = fail("append", TESS_ENOMEM);
	}
	if (!rc)
		rc = spill(argv[0], all.data, all.len);
	tess_buf_free(&all);
	for (size_t i = 0; i < n; i++)
		tess_buf_free(&bufs[i]);
	free(bufs);
	free(reqs);
	return rc;
}

static int cmd_put_many(tess_backend *be, int argc, char **argv)
{
	if (argc < 2)
		return usage();
	size_t n = (size_t)argc - 1;
	tess_put_req *reqs = calloc(n, sizeof *reqs);
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		char path[8192];
		snprintf(path, sizeof path, "%s/%s", argv[0], argv[i + 1]);
		reqs[i].key = argv[i + 1];
		reqs[i].data = slurp(path, &reqs[i].len);
		if (!reqs[i].data)
			rc = 1;
	}
	if (!rc && be->ops->put_many) {
		int r = be->ops->put_many(be, reqs, n);
		if (r)
			rc = fail("put_many", r);
	} else if (!rc)
		for (size_t i = 0; i < n; i++)
			reqs[i].status = be->ops->put(be, reqs[i].key, reqs[i].data, reqs[i].len, 0);
	for (size_t i = 0; i < n && !rc; i++)
		if (reqs[i].status)
			rc = fail(reqs[i].key, reqs[i].status);
	for (size_t i = 0; i < n; i++)
		free((void *)reqs[i].data);
	free(reqs);
	return rc;
}

static int cmd_stat(tess_backend *be, int argc, char **argv)
{
	if (argc != 1)
		return usage();
	tess_stat st;
	int rc = be->ops->stat(be, argv[0], &st);
	if (rc)
		return fail("stat", rc);
	printf("{\"size\": %llu, \"mtime_ns\": %lld, \"etag\": ", (unsigned long long)st.size,
	       (long long)st.mtime_ns);
	print_json_string(st.etag);
	printf("}\n");
	return 0;
}

static int cmd_list(tess_backend *be, int argc, char **argv)
{
	if (argc < 1)
		return usage();
	const char *delim = argc > 1 && *argv[1] ? argv[1] : NULL;
	size_t page_size = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000;
	tess_list_page page = {0};
	char *after = NULL;
	int rc = 0;
	do {
		tess_list_page_clear(&page);
		rc = be->ops->list(be, argv[0], delim, after, page_size, &page);
		if (rc)
			break;
		if (page.count > page_size) {
			fprintf(stderr, "s3_tool: list: %zu entries in a page of %zu\n", page.count,
			        page_size);
			rc = 1;
			break;
		}
		for (size_t i = 0; i < page.count; i++) {
			tess_list_entry *e = &page.entries[i];
			printf("{\"key\": ");
			print_json_string(e->key);
			printf(", \"prefix\": %d, \"size\": %llu, \"mtime_ns\": %lld}\n", e->is_prefix,
			       (unsigned long long)e->size, (long long)e->mtime_ns);
		}
		free(after);
		after = page.count ? strdup(page.entries[page.count - 1].key) : NULL;
		if (page.truncated && !page.count) {
			fprintf(stderr, "s3_tool: list: an empty page says more follow\n");
			rc = 1;
		}
	} while (!rc && page.truncated);
	free(after);
	tess_list_page_free(&page);
	return rc < 0 ? fail("list", rc) : rc;
}

static int cmd_del_many(tess_backend *be, int argc, char **argv)
{
	size_t n = (size_t)argc;
	tess_del_req *reqs = calloc(n ? n : 1, sizeof *reqs);
	for (size_t i = 0; i < n; i++)
		reqs[i].key = argv[i];
	int rc = 0;
	if (be->ops->abi >= 2 && be->ops->del_many)
		rc = be->ops->del_many(be, reqs, n);
	else
		for (size_t i = 0; i < n; i++) {
			int r = be->ops->del(be, reqs[i].key);
			reqs[i].status = r == TESS_ENOTFOUND ? 0 : r;
		}
	if (rc)
		rc = fail("del_many", rc);
	for (size_t i = 0; i < n && !rc; i++)
		if (reqs[i].status)
			rc = fail(reqs[i].key, reqs[i].status);
	free(reqs);
	return rc;
}

static int run(tess_backend *be, const char *op, int argc, char **argv)
{
	if (strcmp(op, "open") == 0)
		return 0;
	if (strcmp(op, "put") == 0)
		return cmd_put(be, argc, argv);
	if (strcmp(op, "write") == 0)
		return cmd_write(be, argc, argv, 0);
	if (strcmp(op, "write-abort") == 0)
		return cmd_write(be, argc, argv, 1);
	if (strcmp(op, "get") == 0)
		return cmd_get(be, argc, argv);
	if (strcmp(op, "get-many") == 0)
		return cmd_get_many(be, argc, argv);
	if (strcmp(op, "put-many") == 0)
		return cmd_put_many(be, argc, argv);
	if (strcmp(op, "stat") == 0)
		return cmd_stat(be, argc, argv);
	if (strcmp(op, "list") == 0)
		return cmd_list(be, argc, argv);
	if (strcmp(op, "del") == 0) {
		if (argc != 1)
			return usage();
		int rc = be->ops->del(be, argv[0]);
		return rc ? fail("del", rc) : 0;
	}
	if (strcmp(op, "del-many") == 0)
		return cmd_del_many(be, argc, argv);
	return usage();
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return usage();
	const char *url = argv[1], *op = argv[2];
	const char *sep = strstr(url, "://");
	if (!sep)
		return usage();
	char scheme[32];
	snprintf(scheme, sizeof scheme, "%.*s", (int)(sep - url), url);
	const tess_backend_ops *ops = tess_backend_find(scheme);
	if (!ops) {
		fprintf(stderr, "s3_tool: no backend for scheme '%s'\n", scheme);
		return 1;
	}
	char *location = strdup(sep + 3);
	char *query = strchr(location, '?');
	if (query)
		*query++ = '\0';
	unsigned flags = 0;
	if (strcmp(op, "open") == 0 && argc > 3 && strcmp(argv[3], "create") == 0)
		flags = TESS_BACKEND_CREATE;
	tess_backend *be;
	int rc = ops->open(&be, location, query, flags);
	free(location);
	if (rc)
		return fail("open", rc);
	rc = run(be, op, argc - 3, argv + 3);
	ops->close(be);
	return rc;
}
