/*
 * Helper of lmdb_zarr_interop.py: the Tessera side of the LMDB interop test
 * with zarr-python's LMDBStore.  Talks only to the backend vtable.
 *
 *   lmdb_zarr_interop write PATH   put a tiny Zarr v2 hierarchy into the LMDB
 *                                  store at PATH (created if missing): a root
 *                                  group, group "grp" with attributes, and a
 *                                  4x4 <i4 array "arr" in 2x2 raw chunks
 *                                  holding (row*4 + col) * 1000 - 7
 *   lmdb_zarr_interop dump PATH    print every key of the store at PATH as
 *                                  "key<TAB>size<TAB>fnv1a64-hex", in order
 *
 * The metadata bytes are exactly what zarr-python 2.13 writes (4-space
 * indent, sorted keys), so the Python side can compare them too.
 */
#include "tessera/sys/backend.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char ZGROUP[] = "{\n    \"zarr_format\": 2\n}";
static const char ZATTRS[] = "{\n    \"answer\": 42,\n    \"name\": \"tessera\"\n}";
static const char ZARRAY[] =
	"{\n    \"chunks\": [\n        2,\n        2\n    ],\n    \"compressor\": null,\n"
	"    \"dtype\": \"<i4\",\n    \"fill_value\": 0,\n    \"filters\": null,\n"
	"    \"order\": \"C\",\n    \"shape\": [\n        4,\n        4\n    ],\n"
	"    \"zarr_format\": 2\n}";

static int fail(const char *what, int rc)
{
	fprintf(stderr, "lmdb_zarr_interop: %s: %s (%s)\n", what, tess_strerror(rc), tess_errmsg());
	return 1;
}

static int put_str(tess_backend *be, const char *key, const char *text)
{
	int rc = be->ops->put(be, key, text, strlen(text), 0);
	return rc ? fail(key, rc) : 0;
}

/* Chunk (ci, cj) of the 4x4 array: 2x2 little-endian int32 in C order. */
static int put_chunk(tess_backend *be, int ci, int cj)
{
	uint8_t bytes[16];
	size_t n = 0;
	for (int i = 2 * ci; i < 2 * ci + 2; i++)
		for (int j = 2 * cj; j < 2 * cj + 2; j++) {
			uint32_t v = (uint32_t)((i * 4 + j) * 1000 - 7);
			for (int b = 0; b < 4; b++)
				bytes[n++] = (uint8_t)(v >> (8 * b));
		}
	char key[32];
	snprintf(key, sizeof key, "arr/%d.%d", ci, cj);
	int rc = be->ops->put(be, key, bytes, sizeof bytes, 0);
	return rc ? fail(key, rc) : 0;
}

static int cmd_write(tess_backend *be)
{
	if (put_str(be, ".zgroup", ZGROUP) || put_str(be, "grp/.zgroup", ZGROUP) ||
	    put_str(be, "grp/.zattrs", ZATTRS) || put_str(be, "arr/.zarray", ZARRAY))
		return 1;
	for (int ci = 0; ci < 2; ci++)
		for (int cj = 0; cj < 2; cj++)
			if (put_chunk(be, ci, cj))
				return 1;
	return 0;
}

static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static int dump_entry(tess_backend *be, const tess_list_entry *e)
{
	tess_buf value = {0};
	tess_stat st;
	int rc = be->ops->get(be, e->key, 0, UINT64_MAX, &value);
	if (!rc)
		rc = be->ops->stat(be, e->key, &st);
	if (rc) {
		tess_buf_free(&value);
		return fail(e->key, rc);
	}
	if (st.size != value.len || e->size != value.len) {
		fprintf(stderr, "lmdb_zarr_interop: %s: list says %" PRIu64 " bytes, stat %" PRIu64
		        ", get %zu\n", e->key, e->size, st.size, value.len);
		tess_buf_free(&value);
		return 1;
	}
	printf("%s\t%zu\t%016" PRIx64 "\n", e->key, value.len, fnv1a64(value.data, value.len));
	tess_buf_free(&value);
	return 0;
}

/* Every key, paged three at a time so the paging path is exercised too. */
static int cmd_dump(tess_backend *be)
{
	tess_list_page page = {0};
	char *after = NULL;
	int rc = 0;
	do {
		tess_list_page_clear(&page);
		rc = be->ops->list(be, "", NULL, after, 3, &page);
		if (rc) {
			rc = fail("list", rc);
			break;
		}
		for (size_t i = 0; i < page.count && !rc; i++)
			rc = dump_entry(be, &page.entries[i]);
		free(after);
		after = page.count ? strdup(page.entries[page.count - 1].key) : NULL;
	} while (!rc && page.truncated);
	free(after);
	tess_list_page_free(&page);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[1], "write") != 0 && strcmp(argv[1], "dump") != 0)) {
		fprintf(stderr, "usage: %s write|dump PATH\n", argv[0]);
		return 2;
	}
	const tess_backend_ops *ops = tess_backend_find("lmdb");
	if (!ops) {
		fprintf(stderr, "lmdb_zarr_interop: no lmdb backend registered\n");
		return 1;
	}
	int writing = strcmp(argv[1], "write") == 0;
	tess_backend *be;
	int rc = ops->open(&be, argv[2], NULL, writing ? TESS_BACKEND_CREATE : 0);
	if (rc)
		return fail(argv[2], rc);
	int status = writing ? cmd_write(be) : cmd_dump(be);
	ops->close(be);
	return status;
}
