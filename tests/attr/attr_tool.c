/* Helper for zarr_sees_attrs.sh: `write URL` sets attributes in a new store;
 * `check URL` verifies the attributes zarr-python set. */
#include <stdio.h>
#include <string.h>

#include "tessera.h"

#define TRY(expr) do { if ((expr) != 0) { fprintf(stderr, "%s: %s\n", #expr, tess_errmsg()); return 1; } } while (0)

static int expect(tess_store *st, const char *node, const char *name, const char *want)
{
	char *json;
	TRY(tess_attr_get(&json, st, node, name));
	int ok = strcmp(json, want) == 0;
	if (!ok)
		fprintf(stderr, "%s/%s: got %s, want %s\n", node, name, json, want);
	tess_free(json);
	return !ok;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	tess_store *st;
	if (strcmp(argv[1], "write") == 0) {
		TRY(tess_store_init(&st, argv[2], NULL));
		TRY(tess_attr_set(st, "/", "title", "\"Basin \xc3\xa9\""));
		TRY(tess_attr_set_int(st, "/", "n", 3));
		TRY(tess_attr_set_double(st, "/", "f", 0.1));
		TRY(tess_attr_set(st, "grp/sub", "list", "[1, 2.5, null, true]"));
		tess_store_close(st);
		return 0;
	}
	TRY(tess_store_open(&st, argv[2], NULL));
	int bad = expect(st, "/", "from_zarr", "{\n    \"k\": [\n        1,\n        \"two\"\n    ]\n}");
	bad |= expect(st, "zg", "x", "1.5");
	bad |= expect(st, "/", "title", "\"Basin \\u00e9\"");
	tess_store_close(st);
	return bad;
}
