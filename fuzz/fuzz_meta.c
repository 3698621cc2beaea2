/*
 * Fuzz target: the array metadata parsers.  The first byte picks the format
 * (even: Zarr v2 .zarray, odd: v3 zarr.json; seeds start with '2' or '3'),
 * the rest is the document.  Whatever parses must write, parse back to the
 * same metadata, and write the same text again; a deep copy writes it too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "array/meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static char *written(const tess_meta *m, size_t *len)
{
	tess_buf b = {0};
	check(tess_meta_write(&b, m) == 0);
	*len = b.len;
	return (char *)b.data;
}

static void same_pipeline(const tess_pipeline *a, const tess_pipeline *b, int ndim)
{
	check(a->permuted == b->permuted && a->endian == b->endian && a->ncodecs == b->ncodecs);
	check(memcmp(a->perm, b->perm, (size_t)ndim * sizeof a->perm[0]) == 0);
	for (size_t i = 0; i < a->ncodecs; i++)
		check(strcmp(a->codecs[i]->ops->name, b->codecs[i]->ops->name) == 0);
	check(!a->shard == !b->shard);
	if (a->shard) {
		check(memcmp(a->shard->inner, b->shard->inner, (size_t)ndim * sizeof(uint64_t)) == 0);
		check(a->shard->index_at_start == b->shard->index_at_start);
		same_pipeline(&a->shard->inner_pipeline, &b->shard->inner_pipeline, ndim);
		same_pipeline(&a->shard->index_pipeline, &b->shard->index_pipeline, 0);
	}
}

static void same_meta(const tess_meta *a, const tess_meta *b)
{
	check(a->zarr_format == b->zarr_format && a->ndim == b->ndim);
	size_t dims = (size_t)a->ndim * sizeof(uint64_t);
	check(memcmp(a->shape, b->shape, dims) == 0 && memcmp(a->chunks, b->chunks, dims) == 0);
	check(a->dtype.kind == b->dtype.kind && a->dtype.itemsize == b->dtype.itemsize &&
	      a->dtype.endian == b->dtype.endian);
	check(a->fill_null == b->fill_null && memcmp(a->fill, b->fill, a->dtype.itemsize) == 0);
	check(strcmp(a->key_prefix, b->key_prefix) == 0 && a->key_sep == b->key_sep);
	check(a->order == b->order && a->sep_explicit == b->sep_explicit && a->nfilters == b->nfilters);
	same_pipeline(&a->pipeline, &b->pipeline, a->ndim);
	check(!a->dimension_names == !b->dimension_names);
	for (int i = 0; a->dimension_names && i < a->ndim; i++) {
		const char *x = a->dimension_names[i], *y = b->dimension_names[i];
		check((!x && !y) || (x && y && strcmp(x, y) == 0));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int fmt = (data[0] & 1) ? 3 : 2;
	tess_meta m;
	if (tess_meta_parse(&m, (const char *)data + 1, size - 1, fmt, "fuzz") != 0) {
		check(tess_errmsg()[0] != '\0');
		return 0;
	}
	/* every chunk key fits the documented buffer */
	uint64_t idx[TESS_ARRAY_MAX_DIMS];
	memset(idx, 0xff, sizeof idx);
	char key[TESS_KEY_MAX];
	check(tess_meta_chunk_key(key, sizeof key, &m, idx) < sizeof key);

	size_t len1, len2, len3;
	char *text1 = written(&m, &len1);
	tess_meta again;
	check(tess_meta_parse(&again, text1, len1, fmt, "fuzz-back") == 0);
	same_meta(&m, &again);
	char *text2 = written(&again, &len2);
	check(len1 == len2 && memcmp(text1, text2, len1) == 0);

	tess_meta copy;
	check(tess_meta_copy(&copy, &m) == 0);
	tess_meta_clear(&m);
	char *text3 = written(&copy, &len3);
	check(len1 == len3 && memcmp(text1, text3, len1) == 0);

	free(text1);
	free(text2);
	free(text3);
	tess_meta_clear(&again);
	tess_meta_clear(&copy);
	return 0;
}
