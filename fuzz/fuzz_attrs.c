/* Fuzz target: a store whose .zattrs and .tessera/format hold arbitrary
 * bytes.  Opening, reading and updating attributes must fail cleanly or
 * work; never crash, never overwrite a corrupt .zattrs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"
#include "tessera.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tess_store *st;
	if (tess_store_init(&st, "mem://fuzz-attrs", NULL) != 0)
		abort();
	tess_backend *be = tess_store_backend(st);
	be->ops->put(be, "n/.zattrs", data, size, 0);
	char *json = NULL;
	int rc = tess_attr_get_all(&json, st, "n");
	tess_free(json);
	json = NULL;
	tess_attr_get(&json, st, "n", "k");
	tess_free(json);
	int set_rc = tess_attr_set(st, "n", "k", "1");
	if (rc == TESS_ECORRUPT && set_rc == 0)
		abort(); /* a corrupt .zattrs must not be replaced */
	be->ops->put(be, ".tessera/format", data, size, 0);
	tess_store *again = NULL;
	if (tess_store_open(&again, "mem://fuzz-attrs", NULL) == 0)
		tess_store_close(again);
	tess_blob_delete(NULL, st, "", TESS_RECURSIVE);
	be->ops->del(be, ".tessera/format");
	tess_store_close(st);
	return 0;
}
