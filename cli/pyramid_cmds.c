/*
 * Pyramid commands: tess pyramid create | info | update.
 *
 * A pyramid is a Zarr group of level arrays 0..N (tessera/pyramid.h); these
 * commands create one, show its levels and metadata, and bring its coarse
 * levels up to date after level 0 changed.  Rasters go in and out with
 * `tess raster` (raster_cmds.c).
 */
#include "pyramid_cli.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef TESS_HAVE_GDAL
#include "raster/raster.h"
#endif

#define MAXD TESS_ARRAY_MAX_DIMS
#define DEFAULT_CHUNK 512

enum {
	OPT_SHAPE = CLI_OPT_FIRST_PRIVATE,
	OPT_CHUNKS,
	OPT_DTYPE,
	OPT_DIMS,
	OPT_AGG,
	OPT_ORIGIN,
	OPT_STEP,
	OPT_IRREGULAR,
	OPT_NODATA,
	OPT_CRS,
	OPT_CODEC,
	OPT_ZARR_FORMAT,
	OPT_UPDATE_ON_WRITE,
	OPT_FULL,
};

/* ---- shared with raster_cmds.c ------------------------------------------- */

int pcli_parse_doubles(const char *s, double *out, int max, int *n)
{
	*n = 0;
	for (;;) {
		size_t len = strcspn(s, ",");
		char text[64], *end;
		if (*n == max || len == 0 || len >= sizeof text)
			return -1;
		memcpy(text, s, len);
		text[len] = '\0';
		errno = 0;
		double v = strtod(text, &end);
		if (*end || errno == ERANGE || !isfinite(v))
			return -1;
		out[(*n)++] = v;
		if (!s[len])
			return 0;
		s += len + 1;
	}
}

int pcli_parse_counts(const char *s, uint64_t *out, int max, int *n)
{
	*n = 0;
	for (;;) {
		size_t len = strcspn(s, ",");
		if (*n == max || len == 0)
			return -1;
		uint64_t v = 0;
		for (size_t i = 0; i < len; i++) {
			if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - 9) / 10)
				return -1;
			v = v * 10 + (uint64_t)(s[i] - '0');
		}
		out[(*n)++] = v;
		if (!s[len])
			return 0;
		s += len + 1;
	}
}

void pcli_format_double(char *buf, size_t cap, double v)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, cap, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

void pcli_json_double(FILE *out, double v)
{
	if (isnan(v)) {
		fputs("\"NaN\"", out);
	} else if (isinf(v)) {
		fputs(v > 0 ? "\"Infinity\"" : "\"-Infinity\"", out);
	} else {
		char text[40];
		pcli_format_double(text, sizeof text, v);
		fputs(text, out);
	}
}

int pcli_open(struct cli_ctx *ctx, const char *verb, const char *path, tess_pyramid **out)
{
	tess_store *st;
	int rc = cli_store(ctx, &st);
	if (rc)
		return rc;
	if (!tess_pyramid_exists(st, path))
		return cli_fail_text("%s '%s': no pyramid there", verb, path);
	if ((rc = tess_pyramid_open(out, st, path)) != 0)
		return cli_fail(rc, "%s '%s'", verb, path);
	return 0;
}

void pcli_update_line(FILE *out, const char *path, const tess_pyramid_update_stats *s)
{
	fprintf(out, "%s: %zu dirty chunk%s, %zu coarse chunk%s recomputed in %.2f s\n", path,
	        s->dirty, s->dirty == 1 ? "" : "s", s->chunks_written,
	        s->chunks_written == 1 ? "" : "s", s->seconds);
}

void pcli_update_json(FILE *out, const tess_pyramid_update_stats *s)
{
	fprintf(out, "{\"dirty\": %zu, \"chunks_written\": %zu, \"seconds\": ", s->dirty,
	        s->chunks_written);
	pcli_json_double(out, s->seconds);
	fputc('}', out);
}

/* ---- create ---------------------------------------------------------------- */

struct create_args {
	const char *shape, *chunks, *dtype, *dims, *agg, *origin, *step, *irregular, *nodata,
	           *crs, *codec, *zarr_format;
	int update_on_write;
	tess_pyramid_opts o;
	char *names; /* --dims, cut at the commas */
};

static int create_option(struct create_args *a, int c)
{
	switch (c) {
	case OPT_SHAPE: a->shape = optarg; return 1;
	case OPT_CHUNKS: a->chunks = optarg; return 1;
	case OPT_DTYPE: a->dtype = optarg; return 1;
	case OPT_DIMS: a->dims = optarg; return 1;
	case OPT_AGG: a->agg = optarg; return 1;
	case OPT_ORIGIN: a->origin = optarg; return 1;
	case OPT_STEP: a->step = optarg; return 1;
	case OPT_IRREGULAR: a->irregular = optarg; return 1;
	case OPT_NODATA: a->nodata = optarg; return 1;
	case OPT_CRS: a->crs = optarg; return 1;
	case OPT_CODEC: a->codec = optarg; return 1;
	case OPT_ZARR_FORMAT: a->zarr_format = optarg; return 1;
	case OPT_UPDATE_ON_WRITE: a->update_on_write = 1; return 1;
	default: return 0;
	}
}

/* --dims, or y,x / band,y,x / d0,d1,... by rank. */
static int create_names(struct cli_ctx *ctx, struct create_args *a)
{
	static const char *const two[] = { "y", "x" }, *const three[] = { "band", "y", "x" };
	tess_pyramid_opts *o = &a->o;
	if (!a->dims) {
		for (int d = 0; d < o->ndim; d++) {
			static char generic[MAXD][8];
			snprintf(generic[d], sizeof generic[d], "d%d", d);
			o->dims[d].name = o->ndim == 2 ? two[d] : o->ndim == 3 ? three[d] : generic[d];
		}
		return -1;
	}
	if (!(a->names = strdup(a->dims)))
		return cli_fail_text("%s: out of memory", ctx->path);
	int n = 0;
	for (char *s = a->names, *save = NULL, *tok; (tok = strtok_r(s, ",", &save)); s = NULL) {
		if (n == o->ndim)
			return cli_usage_error(ctx, "--dims has more names than --shape dimensions");
		o->dims[n++].name = tok;
	}
	if (n != o->ndim)
		return cli_usage_error(ctx, "--dims has %d names for %d dimensions", n, o->ndim);
	return -1;
}

/* --agg NAME for every dimension (a dimension named "band": none), or one
 * name per dimension. */
static int create_aggs(struct cli_ctx *ctx, struct create_args *a)
{
	tess_pyramid_opts *o = &a->o;
	const char *spec = a->agg ? a->agg : "mean";
	char buf[512];
	if (strlen(spec) >= sizeof buf)
		return cli_usage_error(ctx, "--agg '%s' is too long", spec);
	snprintf(buf, sizeof buf, "%s", spec);
	tess_agg aggs[MAXD];
	int n = 0;
	for (char *s = buf, *save = NULL, *tok; (tok = strtok_r(s, ",", &save)); s = NULL) {
		if (n == MAXD || tess_agg_parse(&aggs[n], tok) != 0)
			return cli_usage_error(ctx, "--agg '%s': expected mean, min, max, sum, count, "
			                       "mode, nearest, last or none", spec);
		n++;
	}
	if (n != 1 && n != o->ndim)
		return cli_usage_error(ctx, "--agg has %d names for %d dimensions", n, o->ndim);
	for (int d = 0; d < o->ndim; d++) {
		if (n == 1)
			o->dims[d].agg = strcmp(o->dims[d].name, "band") == 0 ? TESS_AGG_NONE : aggs[0];
		else
			o->dims[d].agg = aggs[d];
	}
	return -1;
}

/* --origin, --step, --irregular: the coordinates of each dimension. */
static int create_coords(struct cli_ctx *ctx, struct create_args *a)
{
	tess_pyramid_opts *o = &a->o;
	double origin[MAXD] = { 0 }, step[MAXD];
	int n;
	for (int d = 0; d < o->ndim; d++)
		step[d] = 1;
	if (a->origin && (pcli_parse_doubles(a->origin, origin, MAXD, &n) != 0 || n != o->ndim))
		return cli_usage_error(ctx, "--origin '%s': expected %d numbers", a->origin, o->ndim);
	if (a->step && (pcli_parse_doubles(a->step, step, MAXD, &n) != 0 || n != o->ndim))
		return cli_usage_error(ctx, "--step '%s': expected %d numbers", a->step, o->ndim);
	for (int d = 0; d < o->ndim; d++) {
		o->dims[d].regular = 1;
		o->dims[d].origin = origin[d];
		o->dims[d].step = step[d];
	}
	if (!a->irregular)
		return -1;
	char buf[512];
	snprintf(buf, sizeof buf, "%s", a->irregular);
	for (char *s = buf, *save = NULL, *tok; (tok = strtok_r(s, ",", &save)); s = NULL) {
		int d = 0;
		while (d < o->ndim && strcmp(o->dims[d].name, tok) != 0)
			d++;
		if (d == o->ndim)
			return cli_usage_error(ctx, "--irregular: no dimension named '%s'", tok);
		o->dims[d].regular = 0;
		o->dims[d].step = 0;
	}
	return -1;
}

static int create_build(struct cli_ctx *ctx, struct create_args *a)
{
	tess_pyramid_opts *o = &a->o;
	int n, rc;
	if (!a->shape || !a->dtype)
		return cli_usage_error(ctx, "--shape and --dtype are required");
	if (pcli_parse_counts(a->shape, o->shape, MAXD, &o->ndim) != 0)
		return cli_usage_error(ctx, "--shape '%s': expected lengths like 4096,4096", a->shape);
	if (tess_dtype_parse(&o->dtype, a->dtype) != 0)
		return cli_usage_error(ctx, "--dtype: %s", tess_errmsg());
	if ((rc = create_names(ctx, a)) >= 0 || (rc = create_aggs(ctx, a)) >= 0 ||
	    (rc = create_coords(ctx, a)) >= 0)
		return rc;
	for (int d = 0; d < o->ndim; d++)
		o->chunks[d] = o->dims[d].agg == TESS_AGG_NONE ? 1 : DEFAULT_CHUNK;
	if (a->chunks && (pcli_parse_counts(a->chunks, o->chunks, MAXD, &n) != 0 ||
	                  n != o->ndim))
		return cli_usage_error(ctx, "--chunks '%s': expected %d lengths", a->chunks, o->ndim);
	if (a->nodata) {
		if (pcli_parse_doubles(a->nodata, &o->nodata, 1, &n) != 0) {
			if (strcmp(a->nodata, "nan") != 0 && strcmp(a->nodata, "NaN") != 0)
				return cli_usage_error(ctx, "--nodata '%s': expected a number", a->nodata);
			o->nodata = NAN;
		}
		o->has_nodata = 1;
	}
	if (a->zarr_format && strcmp(a->zarr_format, "2") != 0 && strcmp(a->zarr_format, "3") != 0)
		return cli_usage_error(ctx, "--zarr-format '%s': expected 2 or 3", a->zarr_format);
	o->zarr_format = a->zarr_format ? a->zarr_format[0] - '0' : 2;
	o->crs = a->crs;
	o->codec = a->codec;
	o->update_on_write = a->update_on_write;
	return -1;
}

static int run_create(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{ "shape", required_argument, NULL, OPT_SHAPE },
		{ "chunks", required_argument, NULL, OPT_CHUNKS },
		{ "dtype", required_argument, NULL, OPT_DTYPE },
		{ "dims", required_argument, NULL, OPT_DIMS },
		{ "agg", required_argument, NULL, OPT_AGG },
		{ "origin", required_argument, NULL, OPT_ORIGIN },
		{ "step", required_argument, NULL, OPT_STEP },
		{ "irregular", required_argument, NULL, OPT_IRREGULAR },
		{ "nodata", required_argument, NULL, OPT_NODATA },
		{ "crs", required_argument, NULL, OPT_CRS },
		{ "codec", required_argument, NULL, OPT_CODEC },
		{ "zarr-format", required_argument, NULL, OPT_ZARR_FORMAT },
		{ "update-on-write", no_argument, NULL, OPT_UPDATE_ON_WRITE },
		{ 0 },
	};
	static const tess_pyramid_opts init = TESS_PYRAMID_OPTS_INIT;
	struct create_args a;
	memset(&a, 0, sizeof a);
	a.o = init;
	int c, rc;
	while ((c = cli_getopt(argc, argv, "", opts, 0)) != -1)
		if (!create_option(&a, c) && (rc = cli_common_option(ctx, c, argv)) >= 0)
			return rc;
	if ((rc = cli_check_args(ctx, argc, argv, 1, 1)) >= 0)
		return rc;
	const char *path = argv[optind];
	tess_store *st;
	if ((rc = create_build(ctx, &a)) < 0 && (rc = cli_store(ctx, &st)) == 0) {
		tess_pyramid *p = NULL;
		int err = tess_pyramid_create(&p, st, path, &a.o);
		rc = err ? cli_fail(err, "pyramid create '%s'", path) : CLI_OK;
		tess_pyramid_close(p);
	}
	free(a.names);
	return rc;
}

/* ---- info ------------------------------------------------------------------ */

static void json_counts(FILE *out, int n, const uint64_t *v)
{
	fputc('[', out);
	for (int d = 0; d < n; d++)
		fprintf(out, "%s%" PRIu64, d ? ", " : "", v[d]);
	fputc(']', out);
}

static const char *counts_text(char *buf, size_t cap, int n, const uint64_t *v, char sep)
{
	size_t len = 0;
	buf[0] = '\0';
	for (int d = 0; d < n && len < cap; d++) {
		if (d)
			buf[len++] = sep;
		if (len < cap)
			len += (size_t)snprintf(buf + len, cap - len, "%" PRIu64, v[d]);
	}
	if (len >= cap)
		buf[cap - 1] = '\0';
	return buf;
}

static uint64_t grid_cells(int n, const uint64_t *shape, const uint64_t *chunks)
{
	uint64_t cells = 1;
	for (int d = 0; d < n; d++)
		cells *= shape[d] / chunks[d] + (shape[d] % chunks[d] != 0);
	return cells;
}

/* The GDAL geotransform when the last two dimensions are equidistant y, x. */
static int geo_transform(const tess_pyramid_opts *o, double gt[6])
{
	if (o->ndim < 2)
		return 0;
	const tess_pyramid_dim *y = &o->dims[o->ndim - 2], *x = &o->dims[o->ndim - 1];
	if (!y->regular || !x->regular)
		return 0;
	gt[0] = x->origin, gt[1] = x->step, gt[2] = 0;
	gt[3] = y->origin, gt[4] = 0, gt[5] = y->step;
	return 1;
}

/* "EPSG:32633 (WGS 84 / UTM zone 33N)" with GDAL; the string itself
 * (shortened) without. */
static void crs_text(char *buf, size_t cap, const char *crs)
{
#ifdef TESS_HAVE_GDAL
	char name[256];
	int epsg = 0;
	if (tess_raster_crs_describe(crs, name, sizeof name, &epsg) == 0) {
		if (epsg)
			snprintf(buf, cap, "EPSG:%d (%s)", epsg, name);
		else
			snprintf(buf, cap, "%s (WKT)", name);
		return;
	}
#endif
	snprintf(buf, cap, "%.70s%s", crs, strlen(crs) > 70 ? "..." : "");
}

static void info_json_dims(FILE *out, tess_pyramid *p, const tess_pyramid_opts *o)
{
	fputs("[", out);
	for (int d = 0; d < o->ndim; d++) {
		const tess_pyramid_dim *dim = &o->dims[d];
		fputs(d ? ", {\"name\": " : "{\"name\": ", out);
		cli_json_string(out, dim->name);
		fputs(", \"agg\": ", out);
		cli_json_string(out, tess_agg_name(dim->agg));
		fprintf(out, ", \"regular\": %s", dim->regular ? "true" : "false");
		if (dim->regular) {
			fputs(", \"origin\": ", out);
			pcli_json_double(out, dim->origin);
			fputs(", \"step\": ", out);
			pcli_json_double(out, dim->step);
		} else {
			const double *c = tess_pyramid_coords(p, d);
			fputs(", \"coords\": [", out);
			for (uint64_t i = 0; c && i < o->shape[d]; i++) {
				fputs(i ? ", " : "", out);
				pcli_json_double(out, c[i]);
			}
			fputc(']', out);
		}
		fputc('}', out);
	}
	fputs("]", out);
}

static void info_json(const char *path, tess_pyramid *p, size_t dirty)
{
	const tess_pyramid_opts *o = tess_pyramid_info(p);
	char dt[40];
	double gt[6];
	fputs("{\"path\": ", stdout);
	cli_json_string(stdout, path);
	printf(", \"zarr_format\": %d, \"dtype\": ", o->zarr_format);
	cli_json_string(stdout, tess_dtype_str(dt, sizeof dt, &o->dtype));
	fputs(", \"shape\": ", stdout);
	json_counts(stdout, o->ndim, o->shape);
	fputs(", \"chunks\": ", stdout);
	json_counts(stdout, o->ndim, o->chunks);
	fputs(", \"dims\": ", stdout);
	info_json_dims(stdout, p, o);
	fputs(", \"nodata\": ", stdout);
	if (o->has_nodata)
		pcli_json_double(stdout, o->nodata);
	else
		fputs("null", stdout);
	fputs(", \"crs\": ", stdout);
	if (o->crs)
		cli_json_string(stdout, o->crs);
	else
		fputs("null", stdout);
	fputs(", \"transform\": ", stdout);
	if (geo_transform(o, gt)) {
		for (int i = 0; i < 6; i++) {
			fputs(i ? ", " : "[", stdout);
			pcli_json_double(stdout, gt[i]);
		}
		fputc(']', stdout);
	} else {
		fputs("null", stdout);
	}
	printf(", \"update_on_write\": %s, \"dirty\": %zu, \"levels\": [",
	       o->update_on_write ? "true" : "false", dirty);
	for (int k = 0; k < tess_pyramid_levels(p); k++) {
		tess_array *arr = tess_pyramid_level(p, k);
		const uint64_t *shape = tess_array_shape(arr), *chunks = tess_array_chunks(arr);
		printf("%s{\"level\": %d, \"path\": ", k ? ", " : "", k);
		char sub[TESS_KEY_MAX + 16];
		snprintf(sub, sizeof sub, "%s%s%d", path, path[0] ? "/" : "", k);
		cli_json_string(stdout, sub);
		fputs(", \"shape\": ", stdout);
		json_counts(stdout, o->ndim, shape);
		printf(", \"nchunks\": %" PRIu64 "}", grid_cells(o->ndim, shape, chunks));
	}
	fputs("]}\n", stdout);
}

static void info_text_dims(tess_pyramid *p, const tess_pyramid_opts *o)
{
	for (int d = 0; d < o->ndim; d++) {
		const tess_pyramid_dim *dim = &o->dims[d];
		char a[40], b[40];
		printf("%-16s %s: %s, ", d ? "" : "dimensions:", dim->name, tess_agg_name(dim->agg));
		if (dim->regular) {
			pcli_format_double(a, sizeof a, dim->origin);
			pcli_format_double(b, sizeof b, dim->step);
			printf("origin %s, step %s\n", a, b);
		} else {
			const double *c = tess_pyramid_coords(p, d);
			if (c && o->shape[d]) {
				pcli_format_double(a, sizeof a, c[0]);
				pcli_format_double(b, sizeof b, c[o->shape[d] - 1]);
				printf("%" PRIu64 " coordinates %s .. %s\n", o->shape[d], a, b);
			} else {
				printf("no coordinates yet\n");
			}
		}
	}
}

static void info_text(const char *path, tess_pyramid *p, size_t dirty)
{
	const tess_pyramid_opts *o = tess_pyramid_info(p);
	char dt[40], text[400], nd[40];
	double gt[6];
	printf("%-16s %s\n", "path:", path);
	printf("%-16s %d\n", "zarr format:", o->zarr_format);
	printf("%-16s %s\n", "dtype:", tess_dtype_str(dt, sizeof dt, &o->dtype));
	info_text_dims(p, o);
	if (o->has_nodata)
		pcli_format_double(nd, sizeof nd, o->nodata);
	printf("%-16s %s\n", "nodata:", o->has_nodata ? nd : "none");
	if (o->crs)
		crs_text(text, sizeof text, o->crs);
	printf("%-16s %s\n", "crs:", o->crs ? text : "none");
	if (geo_transform(o, gt)) {
		printf("%-16s", "transform:");
		for (int i = 0; i < 6; i++) {
			pcli_format_double(nd, sizeof nd, gt[i]);
			printf("%s%s", i ? ", " : " ", nd);
		}
		fputc('\n', stdout);
	}
	printf("%-16s %s\n", "update on write:", o->update_on_write ? "yes" : "no");
	printf("%-16s %zu\n", "dirty chunks:", dirty);
	printf("%-16s %d (chunks %s)\n", "levels:", tess_pyramid_levels(p),
	       counts_text(text, sizeof text, o->ndim, o->chunks, 'x'));
	for (int k = 0; k < tess_pyramid_levels(p); k++) {
		tess_array *arr = tess_pyramid_level(p, k);
		const uint64_t *shape = tess_array_shape(arr), *chunks = tess_array_chunks(arr);
		uint64_t n = grid_cells(o->ndim, shape, chunks);
		printf("  %-3d %-24s %" PRIu64 " chunk%s\n", k,
		       counts_text(text, sizeof text, o->ndim, shape, 'x'), n, n == 1 ? "" : "s");
	}
}

static int run_info(struct cli_ctx *ctx, int argc, char **argv)
{
	int rc, json;
	if ((rc = cli_parse_json_only(ctx, argc, argv, &json, 1, 1)) >= 0)
		return rc;
	char path[TESS_KEY_MAX + 1];
	cli_node_path(argv[optind], path, sizeof path);
	tess_pyramid *p;
	if ((rc = pcli_open(ctx, "pyramid info", path, &p)) != 0)
		return rc;
	size_t dirty = 0;
	if ((rc = tess_pyramid_dirty_count(&dirty, p)) != 0) {
		rc = cli_fail(rc, "pyramid info '%s'", path);
	} else {
		if (json)
			info_json(path, p, dirty);
		else
			info_text(path, p, dirty);
	}
	tess_pyramid_close(p);
	return rc;
}

/* ---- update ------------------------------------------------------------------ */

static int run_update(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{ "full", no_argument, NULL, OPT_FULL },
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ 0 },
	};
	int c, rc, full = 0, json = 0;
	while ((c = cli_getopt(argc, argv, "", opts, 0)) != -1) {
		if (c == OPT_FULL)
			full = 1;
		else if (c == CLI_OPT_JSON)
			json = 1;
		else if ((rc = cli_common_option(ctx, c, argv)) >= 0)
			return rc;
	}
	if ((rc = cli_check_args(ctx, argc, argv, 1, 1)) >= 0)
		return rc;
	char path[TESS_KEY_MAX + 1];
	cli_node_path(argv[optind], path, sizeof path);
	tess_pyramid *p;
	if ((rc = pcli_open(ctx, "pyramid update", path, &p)) != 0)
		return rc;
	/* The library reports no progress of its own: on a terminal, say what
	 * is running until it is done. */
	int tty = isatty(STDERR_FILENO);
	if (tty)
		fprintf(stderr, "%s '%s' ...", full ? "rebuilding" : "updating", path);
	tess_pyramid_update_stats s = { 0 };
	int err = full ? tess_pyramid_rebuild(p, &s) : tess_pyramid_update(p, &s);
	if (tty)
		fputs("\r\033[K", stderr);
	if (err) {
		rc = cli_fail(err, "pyramid update '%s'", path);
	} else if (json) {
		fputs("{\"path\": ", stdout);
		cli_json_string(stdout, path);
		printf(", \"full\": %s, \"levels\": %d, \"update\": ", full ? "true" : "false",
		       tess_pyramid_levels(p));
		pcli_update_json(stdout, &s);
		fputs("}\n", stdout);
	} else {
		pcli_update_line(stdout, path, &s);
	}
	tess_pyramid_close(p);
	return rc;
}

/* ---- the tables ---------------------------------------------------------------- */

static const struct cli_cmd pyramid_subcommands[] = {
	{
		.name = "create",
		.synopsis = "PATH --shape N,M,... --dtype DTYPE",
		.summary = "Create an empty pyramid (level 0 and its derived levels).",
		.help =
			"Every level is created, all fill (nodata).  Level k+1 halves each\n"
			"aggregating dimension of level k; the last level fits in one chunk.\n"
			"\n"
			"Options:\n"
			"  --shape N,M,...      level 0's shape\n"
			"  --dtype DTYPE        float32, uint16, <f8, ... (as tess array create)\n"
			"  --chunks C,D,...     every level's chunk shape (default 512 per\n"
			"                       aggregating dimension, 1 per other)\n"
			"  --dims a,b,...       dimension names (default y,x; band,y,x; d0,d1,...)\n"
			"  --agg A | A,B,...    aggregator: mean (default), min, max, sum, count,\n"
			"                       mode, nearest, last; none for a dimension carried\n"
			"                       through (a dimension named band: none by default).\n"
			"                       Aggregating dimensions share one aggregator\n"
			"  --origin O,P,...     world coordinate of cell 0's edge per dimension\n"
			"                       (default 0)\n"
			"  --step S,T,...       cell size per dimension (default 1; y of a north-up\n"
			"                       raster: negative)\n"
			"  --irregular a,...    dimensions with a coordinate array instead (time)\n"
			"  --nodata V           the value of missing cells (also the fill value);\n"
			"                       NaN is always missing for floats\n"
			"  --crs CRS            EPSG:n or WKT\n"
			"  --codec SPEC         as tess array create (default blosc:lz4:5:shuffle)\n"
			"  --zarr-format 2|3    default 2\n"
			"  --update-on-write    update the coarse levels on every write to level 0\n"
			"  -h, --help           show this help\n"
			"\n"
			"Examples:\n"
			"  tess pyramid create dem --shape 8192,8192 --dtype float32 \\\n"
			"      --origin 4500000,300000 --step -10,10 --nodata -9999 --crs EPSG:32633\n"
			"  tess pyramid create landcover --shape 4000,4000 --dtype uint8 --agg mode\n",
		.run = run_create,
	},
	{
		.name = "info",
		.synopsis = "PATH",
		.summary = "Show a pyramid's levels, chunks, aggregators, nodata, CRS, dirty chunks.",
		.help =
			"Options:\n"
			"  --json        print one JSON object: path, zarr_format, dtype, shape,\n"
			"                chunks, dims [{name, agg, regular, origin, step | coords}],\n"
			"                nodata, crs, transform (GDAL's geotransform of the last\n"
			"                two dimensions, or null), update_on_write, dirty, levels\n"
			"                [{level, path, shape, nchunks}]\n"
			"  -h, --help    show this help\n"
			"\n"
			"Examples:\n"
			"  tess pyramid info dem\n"
			"  tess pyramid info --json dem | jq .dirty\n",
		.run = run_info,
	},
	{
		.name = "update",
		.synopsis = "PATH",
		.summary = "Recompute the coarse levels above the dirty level-0 chunks.",
		.help =
			"Writes to level 0 record which chunks changed; update recomputes only\n"
			"their ancestors, level by level, in parallel, then clears the records\n"
			"it processed.  An interrupted update is simply run again.\n"
			"\n"
			"Options:\n"
			"  --full        recompute every level from level 0 (a full rebuild)\n"
			"  --json        print {\"path\", \"full\", \"levels\", \"update\": {\"dirty\",\n"
			"                \"chunks_written\", \"seconds\"}}\n"
			"  -h, --help    show this help\n"
			"\n"
			"Examples:\n"
			"  tess pyramid update dem\n"
			"  tess pyramid update --full dem\n",
		.run = run_update,
	},
	{ 0 },
};

static const struct cli_cmd *const pyramid_tables[] = { pyramid_subcommands, NULL };

const struct cli_cmd cli_pyramid_commands[] = {
	{
		.name = "pyramid",
		.synopsis = "COMMAND [ARGS...]",
		.summary = "Multi-resolution pyramids: create, inspect, update.",
		.help =
			"A pyramid is a Zarr group with level arrays 0..N: data is written to\n"
			"level 0 (tess array write PATH/0 ..., tess raster import) and every\n"
			"coarser level is derived from it.  See docs/pyramid.md.\n",
		.sub = pyramid_tables,
	},
	{ 0 },
};
