/*
 * Fuzz target: a pyramid group's attributes ("multiscales" and
 * "tessera_pyramid").  Whatever parses must write, parse back to the same
 * metadata and write the same text again.  The bytes are then put as a
 * group's .zattrs and opened as a pyramid, which must fail cleanly (there
 * are no level arrays) or work.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pyramid/internal.h"
#include "tessera.h"
#include "util/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static char *written(const pyr_meta *m)
{
	json_t *doc = json_object();
	check(doc && pyr_meta_store(doc, m, "fuzz", 0) == 0);
	char *text;
	check(tess_json_dumps(&text, doc) == 0);
	json_decref(doc);
	return text;
}

static int same_double(double a, double b)
{
	return (isnan(a) && isnan(b)) || a == b;
}

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void same_meta(const pyr_meta *a, const pyr_meta *b)
{
	check(a->ndim == b->ndim && a->nlevels == b->nlevels && a->has_nodata == b->has_nodata);
	check(a->update_on_write == b->update_on_write);
	check(!a->has_nodata || same_double(a->nodata, b->nodata));
	check(same_str(a->crs, b->crs) && same_str(a->codec, b->codec));
	for (int d = 0; d < a->ndim; d++) {
		const pyr_dim_meta *x = &a->dims[d], *y = &b->dims[d];
		check(strcmp(x->name, y->name) == 0 && x->agg == y->agg && x->regular == y->regular);
		check(same_str(x->coords, y->coords));
		check(!x->regular || (x->origin == y->origin && x->step == y->step));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pyr_meta m, back;
	if (pyr_meta_parse_text(&m, (const char *)data, size, "fuzz") == 0) {
		char *text = written(&m);
		check(pyr_meta_parse_text(&back, text, strlen(text), "fuzz") == 0);
		same_meta(&m, &back);
		char *again = written(&back);
		check(strcmp(text, again) == 0);
		free(again);
		free(text);
		pyr_meta_clear(&back);
		pyr_meta_clear(&m);
	}
	tess_store *st;
	if (tess_store_init(&st, "mem://fuzz-pyramid", NULL) != 0)
		abort();
	tess_backend *be = tess_store_backend(st);
	be->ops->put(be, "p/.zgroup", "{\"zarr_format\": 2}", 18, 0);
	be->ops->put(be, "p/.zattrs", data, size, 0);
	tess_pyramid *p = NULL;
	if (tess_pyramid_open(&p, st, "p") == 0)
		tess_pyramid_close(p);
	(void)tess_pyramid_exists(st, "p");
	tess_blob_delete(NULL, st, "", TESS_RECURSIVE);
	be->ops->del(be, ".tessera/format");
	tess_store_close(st);
	return 0;
}
