/*
 * array_tool: drive the array core from a script (the interop tests).
 *
 *   array_tool URL create PATH shape=4,5 chunks=2,2 dtype=<f4 [codec=SPEC]
 *                         [fill=JSON] [order=C|F] [sep=.|/] [format=2|3]
 *                         [shard=S,T] [names=x,y]
 *   array_tool URL write PATH START COUNT FILE   raw C-order bytes from FILE
 *   array_tool URL read PATH START COUNT FILE    raw C-order bytes to FILE
 *   array_tool URL info PATH                     "ndim shape chunks dtype format"
 *   array_tool URL resize PATH SHAPE
 *   array_tool URL delete PATH
 *   array_tool URL consolidate
 *   array_tool URL time PATH REPEAT              seconds to write and read the
 *                                                whole array from FILE-less
 *                                                random data (benchmarks)
 *
 * START, COUNT and SHAPE are comma lists ("-" for none: a 0-d array).  The
 * store is opened, or adopted (tess_store_init) when it is a plain Zarr
 * directory.  Exits 0 on success, 1 with the library's message otherwise.
 */
#include "array/array_internal.h"
#include "tessera/array.h"
#include "tessera/blob.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int fail(const char *what, int rc)
{
	fprintf(stderr, "array_tool: %s: %s (%s)\n", what, tess_errmsg(), tess_strerror(rc));
	return 1;
}

static int parse_list(const char *s, uint64_t *out)
{
	int n = 0;
	if (!s || strcmp(s, "-") == 0 || !*s)
		return 0;
	while (*s && n < TESS_ARRAY_MAX_DIMS) {
		char *end;
		out[n++] = strtoull(s, &end, 10);
		if (*end != ',')
			break;
		s = end + 1;
	}
	return n;
}

static size_t region_bytes(tess_array *a, const uint64_t *count)
{
	size_t n = tess_array_dtype(a)->itemsize;
	for (int d = 0; d < tess_array_ndim(a); d++)
		n *= count[d];
	return n;
}

static int cmd_create(tess_store *st, const char *path, int argc, char **argv)
{
	tess_array_opts o = TESS_ARRAY_OPTS_INIT;
	char *names[TESS_ARRAY_MAX_DIMS], *names_text = NULL;
	int nnames = 0;
	for (int i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq)
			return fprintf(stderr, "array_tool: bad option '%s'\n", argv[i]), 1;
		*eq = '\0';
		const char *k = argv[i], *v = eq + 1;
		if (!strcmp(k, "shape"))
			o.ndim = parse_list(v, o.shape);
		else if (!strcmp(k, "chunks"))
			parse_list(v, o.chunks);
		else if (!strcmp(k, "shard"))
			parse_list(v, o.shard);
		else if (!strcmp(k, "dtype")) {
			int rc = tess_dtype_parse(&o.dtype, v);
			if (rc)
				return fail("dtype", rc);
		} else if (!strcmp(k, "codec"))
			o.codec = v;
		else if (!strcmp(k, "fill"))
			o.fill = v;
		else if (!strcmp(k, "order"))
			o.order = v[0];
		else if (!strcmp(k, "sep"))
			o.dimension_separator = v[0];
		else if (!strcmp(k, "format"))
			o.zarr_format = atoi(v);
		else if (!strcmp(k, "names")) {
			free(names_text);
			names_text = strdup(v);
			char *t = strtok(names_text, ",");
			for (; t && nnames < TESS_ARRAY_MAX_DIMS; t = strtok(NULL, ","))
				names[nnames++] = t;
			o.dimension_names = (const char *const *)names;
		} else
			return fprintf(stderr, "array_tool: unknown option '%s'\n", k), 1;
	}
	tess_array *a;
	int rc = tess_array_create(&a, st, path, &o);
	free(names_text);
	if (rc)
		return fail("create", rc);
	tess_array_close(a);
	return 0;
}

static int cmd_io(tess_store *st, const char *path, int write, const char *start_s,
                  const char *count_s, const char *file)
{
	tess_array *a;
	int rc = tess_array_open(&a, st, path);
	if (rc)
		return fail("open", rc);
	uint64_t start[TESS_ARRAY_MAX_DIMS] = {0}, count[TESS_ARRAY_MAX_DIMS] = {0};
	parse_list(start_s, start);
	parse_list(count_s, count);
	size_t n = region_bytes(a, count);
	uint8_t *buf = malloc(n ? n : 1);
	FILE *f = fopen(file, write ? "rb" : "wb");
	if (!buf || !f) {
		perror(file);
		return 1;
	}
	if (write) {
		if (fread(buf, 1, n, f) != n)
			return fprintf(stderr, "array_tool: %s: short file\n", file), 1;
		rc = tess_array_write(a, start, count, buf);
	} else {
		rc = tess_array_read(a, start, count, buf);
		if (!rc && fwrite(buf, 1, n, f) != n)
			return perror(file), 1;
	}
	fclose(f);
	free(buf);
	tess_array_close(a);
	return rc ? fail(write ? "write" : "read", rc) : 0;
}

static void print_list(const uint64_t *v, int n)
{
	for (int d = 0; d < n; d++)
		printf("%s%llu", d ? "," : "", (unsigned long long)v[d]);
	if (n == 0)
		printf("-");
}

static int cmd_info(tess_store *st, const char *path)
{
	tess_array *a;
	int rc = tess_array_open(&a, st, path);
	if (rc)
		return fail("open", rc);
	char dt[32];
	printf("%d ", tess_array_ndim(a));
	print_list(tess_array_shape(a), tess_array_ndim(a));
	printf(" ");
	print_list(tess_array_chunks(a), tess_array_ndim(a));
	printf(" %s %d\n", tess_dtype_str(dt, sizeof dt, tess_array_dtype(a)),
	       tess_array_zarr_format(a));
	tess_array_close(a);
	return 0;
}

static int cmd_resize(tess_store *st, const char *path, const char *shape_s)
{
	tess_array *a;
	int rc = tess_array_open(&a, st, path);
	if (rc)
		return fail("open", rc);
	uint64_t shape[TESS_ARRAY_MAX_DIMS] = {0};
	parse_list(shape_s, shape);
	rc = tess_array_resize(a, shape);
	tess_array_close(a);
	return rc ? fail("resize", rc) : 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Whole-array write and read throughput: prints "write_s read_s" (best of
 * REPEAT) for data read from FILE. */
static int cmd_time(tess_store *st, const char *path, const char *file, int repeat)
{
	tess_array *a;
	int rc = tess_array_open(&a, st, path);
	if (rc)
		return fail("open", rc);
	tess_array_set_cache_bytes(a, 0);
	uint64_t start[TESS_ARRAY_MAX_DIMS] = {0};
	size_t n = region_bytes(a, tess_array_shape(a));
	uint8_t *buf = malloc(n), *back = malloc(n);
	FILE *f = fopen(file, "rb");
	if (!buf || !back || !f || fread(buf, 1, n, f) != n)
		return fprintf(stderr, "array_tool: %s: cannot read %zu bytes\n", file, n), 1;
	fclose(f);
	double best_w = 1e9, best_r = 1e9;
	for (int i = 0; i < repeat && !rc; i++) {
		double t0 = now_s();
		rc = tess_array_write(a, start, tess_array_shape(a), buf);
		double t1 = now_s();
		if (!rc)
			rc = tess_array_read(a, start, tess_array_shape(a), back);
		double t2 = now_s();
		best_w = t1 - t0 < best_w ? t1 - t0 : best_w;
		best_r = t2 - t1 < best_r ? t2 - t1 : best_r;
	}
	if (!rc && memcmp(buf, back, n) != 0)
		return fprintf(stderr, "array_tool: time: data read back differs\n"), 1;
	printf("%.6f %.6f\n", best_w, best_r);
	free(buf);
	free(back);
	tess_array_close(a);
	return rc ? fail("time", rc) : 0;
}

static int open_store(tess_store **st, const char *url)
{
	int rc = tess_store_open(st, url, NULL);
	if (rc == TESS_ENOTFOUND) {
		tess_store_opts o = TESS_STORE_OPTS_INIT;
		o.create = 1;
		rc = tess_store_init(st, url, &o);
	}
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: array_tool URL create|write|read|info|resize|delete|"
		                "consolidate|time ...\n");
		return 2;
	}
	tess_store *st;
	int rc = open_store(&st, argv[1]);
	if (rc)
		return fail("store", rc);
	const char *cmd = argv[2], *path = argc > 3 ? argv[3] : "";
	int ret = 2;
	if (!strcmp(cmd, "create") && argc >= 4)
		ret = cmd_create(st, path, argc - 4, argv + 4);
	else if ((!strcmp(cmd, "write") || !strcmp(cmd, "read")) && argc == 7)
		ret = cmd_io(st, path, cmd[0] == 'w', argv[4], argv[5], argv[6]);
	else if (!strcmp(cmd, "info") && argc == 4)
		ret = cmd_info(st, path);
	else if (!strcmp(cmd, "resize") && argc == 5)
		ret = cmd_resize(st, path, argv[4]);
	else if (!strcmp(cmd, "delete") && argc == 4)
		ret = (rc = tess_array_delete(st, path)) ? fail("delete", rc) : 0;
	else if (!strcmp(cmd, "consolidate"))
		ret = (rc = tess_array_consolidate(st)) ? fail("consolidate", rc) : 0;
	else if (!strcmp(cmd, "time") && argc == 6)
		ret = cmd_time(st, path, argv[4], atoi(argv[5]));
	else
		fprintf(stderr, "array_tool: bad command line\n");
	tess_store_close(st);
	return ret;
}
