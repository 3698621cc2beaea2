/*
 * pyr_tool: drive the pyramid module from a script (tests/pyramid/pyramid_peer.py).
 *
 *   pyr_tool URL create PATH shape=S chunks=C dtype=T agg=A [aggdims=1,1]
 *            [names=y,x] [nodata=V] [format=2|3] [uow=1] [irregular=0,1]
 *            [origin=O,..] [step=S,..] [codec=SPEC] [crs=TEXT]
 *   pyr_tool URL write PATH START COUNT FILE     tess_pyramid_write (raw C-order bytes)
 *   pyr_tool URL awrite PATH START COUNT FILE    tess_array_write on PATH/0, opened alone
 *   pyr_tool URL update PATH                     prints "dirty=N written=M"
 *   pyr_tool URL rebuild PATH                    prints "dirty=N written=M"
 *   pyr_tool URL dump PATH DIR                   level k as DIR/k.npy; prints the level count
 *   pyr_tool URL read PATH START COUNT OUT nearest|average FILE.npy    prints the level
 *   pyr_tool URL readw PATH LO HI OUT nearest|average FILE.npy         prints the level
 *   pyr_tool URL point PATH COORDS               prints the value
 *   pyr_tool URL extent PATH                     prints "lo hi" per dimension
 *   pyr_tool URL bounds PATH                     prints "START COUNT"
 *   pyr_tool URL dirty PATH                      prints the dirty chunk count
 *   pyr_tool URL append PATH DIM COORDS FILE
 *   pyr_tool URL coordrange PATH DIM FROM TO     prints "START COUNT"
 *   pyr_tool URL coords PATH DIM                 prints the coordinates
 *   pyr_tool URL info PATH                       prints "levels shape"
 *
 * Several commands run in one process when separated by "+" arguments
 * (pyr_tool URL create P ... + write P ... + update P).  Lists are comma
 * separated.  Exits 0 on success, 1 with the library's message (and the
 * code's name) on stderr otherwise.
 */
#include "tessera.h"
#include "util/npy.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXD TESS_ARRAY_MAX_DIMS

static int fail(const char *what, int rc)
{
	fprintf(stderr, "pyr_tool: %s: %s (%s)\n", what, tess_errmsg(), tess_strerror(rc));
	return 1;
}

static int parse_u64s(const char *s, uint64_t *out)
{
	int n = 0;
	while (s && *s && n < MAXD) {
		char *end;
		out[n++] = strtoull(s, &end, 10);
		if (*end != ',')
			break;
		s = end + 1;
	}
	return n;
}

static int parse_doubles(const char *s, double *out, int max)
{
	int n = 0;
	while (s && *s && n < max) {
		char *end;
		out[n++] = strtod(s, &end);
		if (*end != ',')
			break;
		s = end + 1;
	}
	return n;
}

static size_t elems(const uint64_t *v, int n)
{
	size_t e = 1;
	for (int d = 0; d < n; d++)
		e *= (size_t)v[d];
	return e;
}

static void *read_file(const char *file, size_t n)
{
	void *buf = malloc(n ? n : 1);
	FILE *f = fopen(file, "rb");
	if (!buf || !f || fread(buf, 1, n, f) != n) {
		fprintf(stderr, "pyr_tool: %s: cannot read %zu bytes\n", file, n);
		exit(1);
	}
	fclose(f);
	return buf;
}

static int write_npy(const char *file, const tess_dtype *dt, int ndim, const uint64_t *shape,
                     const void *data)
{
	char descr[32];
	tess_dtype_str(descr, sizeof descr, dt);
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return perror(file), 1;
	size_t n = elems(shape, ndim) * dt->itemsize;
	int rc = tess_npy_write_header(fd, descr, ndim, shape, NULL);
	if (rc || write(fd, data, n) != (ssize_t)n) {
		close(fd);
		return fprintf(stderr, "pyr_tool: %s: write failed\n", file), 1;
	}
	close(fd);
	return 0;
}

static int cmd_create(tess_store *st, const char *path, int argc, char **argv)
{
	tess_pyramid_opts o = TESS_PYRAMID_OPTS_INIT;
	char *names = NULL;
	uint64_t aggdims[MAXD], irregular[MAXD] = {0};
	double origin[MAXD] = {0}, step[MAXD];
	tess_agg agg = TESS_AGG_MEAN;
	int naggd = 0;
	for (int d = 0; d < MAXD; d++)
		step[d] = 1;
	for (int i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq)
			return fprintf(stderr, "pyr_tool: bad option '%s'\n", argv[i]), 1;
		*eq = '\0';
		const char *k = argv[i], *v = eq + 1;
		int rc = 0;
		if (!strcmp(k, "shape"))
			o.ndim = parse_u64s(v, o.shape);
		else if (!strcmp(k, "chunks"))
			parse_u64s(v, o.chunks);
		else if (!strcmp(k, "dtype"))
			rc = tess_dtype_parse(&o.dtype, v);
		else if (!strcmp(k, "agg"))
			rc = tess_agg_parse(&agg, v);
		else if (!strcmp(k, "aggdims"))
			naggd = parse_u64s(v, aggdims);
		else if (!strcmp(k, "names"))
			names = strdup(v);
		else if (!strcmp(k, "nodata")) {
			o.has_nodata = 1;
			o.nodata = strtod(v, NULL);
		} else if (!strcmp(k, "format"))
			o.zarr_format = atoi(v);
		else if (!strcmp(k, "uow"))
			o.update_on_write = atoi(v);
		else if (!strcmp(k, "irregular"))
			parse_u64s(v, irregular);
		else if (!strcmp(k, "origin"))
			parse_doubles(v, origin, MAXD);
		else if (!strcmp(k, "step"))
			parse_doubles(v, step, MAXD);
		else if (!strcmp(k, "codec"))
			o.codec = v;
		else if (!strcmp(k, "crs"))
			o.crs = v;
		else
			return fprintf(stderr, "pyr_tool: unknown option '%s'\n", k), 1;
		if (rc)
			return fail(k, rc);
	}
	char *save = NULL, *tok = names ? strtok_r(names, ",", &save) : NULL;
	static const char *const defaults[] = { "a", "b", "c", "d", "e", "f", "g", "h" };
	for (int d = 0; d < o.ndim; d++) {
		o.dims[d].name = tok ? tok : defaults[d % 8];
		tok = tok ? strtok_r(NULL, ",", &save) : NULL;
		o.dims[d].agg = naggd ? (aggdims[d] ? agg : TESS_AGG_NONE) : agg;
		o.dims[d].regular = !irregular[d];
		o.dims[d].origin = origin[d];
		o.dims[d].step = step[d];
	}
	tess_pyramid *p;
	int rc = tess_pyramid_create(&p, st, path, &o);
	free(names);
	if (rc)
		return fail("create", rc);
	printf("%d\n", tess_pyramid_levels(p));
	tess_pyramid_close(p);
	return 0;
}

static int cmd_write(tess_pyramid *p, tess_store *st, const char *path, int plain, char **argv)
{
	const tess_pyramid_opts *o = tess_pyramid_info(p);
	uint64_t start[MAXD] = {0}, count[MAXD] = {0};
	parse_u64s(argv[0], start);
	parse_u64s(argv[1], count);
	void *buf = read_file(argv[2], elems(count, o->ndim) * o->dtype.itemsize);
	int rc;
	if (plain) {
		char lp[2048];
		snprintf(lp, sizeof lp, "%s/0", path);
		tess_array *a;
		rc = tess_array_open(&a, st, lp);
		if (!rc)
			rc = tess_array_write(a, start, count, buf);
		tess_array_close(a);
	} else {
		rc = tess_pyramid_write(p, start, count, buf);
	}
	free(buf);
	return rc ? fail("write", rc) : 0;
}

static int cmd_dump(tess_pyramid *p, const char *dir)
{
	for (int k = 0; k < tess_pyramid_levels(p); k++) {
		tess_array *a = tess_pyramid_level(p, k);
		int n = tess_array_ndim(a);
		const uint64_t *shape = tess_array_shape(a);
		uint64_t zero[MAXD] = {0};
		size_t bytes = elems(shape, n) * tess_array_dtype(a)->itemsize;
		void *buf = malloc(bytes ? bytes : 1);
		int rc = bytes ? tess_array_read(a, zero, shape, buf) : 0;
		if (rc)
			return fail("read level", rc);
		char file[4096];
		snprintf(file, sizeof file, "%s/%d.npy", dir, k);
		if (write_npy(file, tess_array_dtype(a), n, shape, buf))
			return 1;
		free(buf);
	}
	printf("%d\n", tess_pyramid_levels(p));
	return 0;
}

static int parse_rs(const char *s, tess_resample *rs)
{
	*rs = !strcmp(s, "average") ? TESS_RESAMPLE_AVERAGE : TESS_RESAMPLE_NEAREST;
	return 0;
}

static int cmd_read(tess_pyramid *p, int world, char **argv)
{
	const tess_pyramid_opts *o = tess_pyramid_info(p);
	uint64_t start[MAXD] = {0}, count[MAXD] = {0}, out[MAXD] = {0};
	double lo[MAXD] = {0}, hi[MAXD] = {0};
	if (world) {
		parse_doubles(argv[0], lo, MAXD);
		parse_doubles(argv[1], hi, MAXD);
	} else {
		parse_u64s(argv[0], start);
		parse_u64s(argv[1], count);
	}
	parse_u64s(argv[2], out);
	tess_resample rs;
	parse_rs(argv[3], &rs);
	void *buf = malloc(elems(out, o->ndim) * o->dtype.itemsize);
	int level = -1;
	int rc = world ? tess_pyramid_read_world(p, lo, hi, out, rs, buf, &level)
	               : tess_pyramid_read(p, start, count, out, rs, buf, &level);
	if (rc)
		return fail("read", rc);
	if (write_npy(argv[4], &o->dtype, o->ndim, out, buf))
		return 1;
	free(buf);
	printf("%d\n", level);
	return 0;
}

static void print_value(const tess_dtype *dt, const void *v)
{
	if (dt->kind == TESS_DT_FLOAT)
		printf("%.17g\n", dt->itemsize == 4 ? (double)*(const float *)v : *(const double *)v);
	else if (dt->kind == TESS_DT_INT) {
		long long x = dt->itemsize == 1 ? *(const int8_t *)v : dt->itemsize == 2 ? *(const int16_t *)v
		            : dt->itemsize == 4 ? *(const int32_t *)v : *(const int64_t *)v;
		printf("%lld\n", x);
	} else {
		unsigned long long x = dt->itemsize == 1 ? *(const uint8_t *)v
		                     : dt->itemsize == 2 ? *(const uint16_t *)v
		                     : dt->itemsize == 4 ? *(const uint32_t *)v : *(const uint64_t *)v;
		printf("%llu\n", x);
	}
}

static int run(tess_store *st, const char *cmd, const char *path, int argc, char **argv)
{
	if (!strcmp(cmd, "create"))
		return cmd_create(st, path, argc, argv);
	tess_pyramid *p;
	int rc = tess_pyramid_open(&p, st, path);
	if (rc)
		return fail("open", rc);
	const tess_pyramid_opts *o = tess_pyramid_info(p);
	int n = o->ndim, ret = 0;
	tess_pyramid_update_stats stats;
	if ((!strcmp(cmd, "write") || !strcmp(cmd, "awrite")) && argc >= 3) {
		ret = cmd_write(p, st, path, cmd[0] == 'a', argv);
	} else if (!strcmp(cmd, "update") || !strcmp(cmd, "rebuild")) {
		rc = cmd[0] == 'u' ? tess_pyramid_update(p, &stats) : tess_pyramid_rebuild(p, &stats);
		if (rc)
			ret = fail(cmd, rc);
		else
			printf("dirty=%zu written=%zu seconds=%.6f\n", stats.dirty, stats.chunks_written,
			       stats.seconds);
	} else if (!strcmp(cmd, "dump") && argc >= 1) {
		ret = cmd_dump(p, argv[0]);
	} else if ((!strcmp(cmd, "read") || !strcmp(cmd, "readw")) && argc >= 5) {
		ret = cmd_read(p, cmd[4] == 'w', argv);
	} else if (!strcmp(cmd, "point") && argc >= 1) {
		double c[MAXD] = {0};
		uint64_t v = 0;
		parse_doubles(argv[0], c, MAXD);
		rc = tess_pyramid_point(p, c, &v);
		if (rc)
			ret = fail("point", rc);
		else
			print_value(&o->dtype, &v);
	} else if (!strcmp(cmd, "extent")) {
		double lo[MAXD], hi[MAXD];
		rc = tess_pyramid_extent(p, lo, hi);
		for (int d = 0; !rc && d < n; d++)
			printf("%.17g %.17g\n", lo[d], hi[d]);
		ret = rc ? fail("extent", rc) : 0;
	} else if (!strcmp(cmd, "bounds")) {
		uint64_t s[MAXD], c[MAXD];
		rc = tess_pyramid_data_bounds(p, s, c);
		for (int d = 0; !rc && d < n; d++)
			printf("%s%llu", d ? "," : "", (unsigned long long)s[d]);
		for (int d = 0; !rc && d < n; d++)
			printf("%s%llu", d ? "," : " ", (unsigned long long)c[d]);
		if (!rc)
			printf("\n");
		ret = rc ? fail("bounds", rc) : 0;
	} else if (!strcmp(cmd, "dirty")) {
		size_t c;
		rc = tess_pyramid_dirty_count(&c, p);
		if (!rc)
			printf("%zu\n", c);
		ret = rc ? fail("dirty", rc) : 0;
	} else if (!strcmp(cmd, "append") && argc >= 3) {
		int dim = atoi(argv[0]);
		double c[4096];
		int nc = parse_doubles(argv[1], c, 4096);
		uint64_t count[MAXD];
		for (int d = 0; d < n; d++)
			count[d] = d == dim ? (uint64_t)nc : o->shape[d];
		void *buf = read_file(argv[2], elems(count, n) * o->dtype.itemsize);
		rc = tess_pyramid_append(p, dim, c, (size_t)nc, buf);
		free(buf);
		ret = rc ? fail("append", rc) : 0;
	} else if (!strcmp(cmd, "coordrange") && argc >= 3) {
		uint64_t s, c;
		rc = tess_pyramid_coord_range(p, atoi(argv[0]), strtod(argv[1], NULL),
		                              strtod(argv[2], NULL), &s, &c);
		if (!rc)
			printf("%llu %llu\n", (unsigned long long)s, (unsigned long long)c);
		ret = rc ? fail("coordrange", rc) : 0;
	} else if (!strcmp(cmd, "coords") && argc >= 1) {
		int dim = atoi(argv[0]);
		const double *c = tess_pyramid_coords(p, dim);
		for (uint64_t i = 0; c && i < o->shape[dim]; i++)
			printf("%.17g\n", c[i]);
		ret = c ? 0 : 1;
	} else if (!strcmp(cmd, "info")) {
		printf("%d ", tess_pyramid_levels(p));
		for (int d = 0; d < n; d++)
			printf("%s%llu", d ? "," : "", (unsigned long long)o->shape[d]);
		printf("\n");
	} else {
		fprintf(stderr, "pyr_tool: unknown command or missing arguments: %s\n", cmd);
		ret = 2;
	}
	tess_pyramid_close(p);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: pyr_tool URL COMMAND PATH [ARGS...]\n");
		return 2;
	}
	tess_store *st;
	int rc = tess_store_open(&st, argv[1], NULL);
	if (rc == TESS_ENOTFOUND)
		rc = tess_store_init(&st, argv[1], NULL);
	if (rc)
		return fail("store", rc);
	int ret = 0;
	for (int i = 2; i < argc && !ret;) {
		int end = i;
		while (end < argc && strcmp(argv[end], "+") != 0)
			end++;
		if (end - i < 2)
			return fprintf(stderr, "pyr_tool: a command needs a PATH\n"), 2;
		ret = run(st, argv[i], argv[i + 1], end - i - 2, argv + i + 2);
		fflush(stdout);
		i = end + 1;
	}
	tess_store_close(st);
	return ret;
}
