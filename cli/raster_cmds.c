/*
 * Raster commands: tess raster import | export | info.
 *
 * GeoTIFFs (anything GDAL reads) in and out of pyramids, through the GDAL
 * adapter in src/raster/.  GDAL is optional at build time: without it the
 * commands exist, show their help, and fail with "tess was built without
 * GDAL".
 */
#include "pyramid_cli.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef TESS_HAVE_GDAL
#include "raster/raster.h"
#endif

enum {
	OPT_TILE = CLI_OPT_FIRST_PRIVATE,
	OPT_AGG,
	OPT_ZARR_FORMAT,
	OPT_CODEC,
	OPT_EXTENT,
	OPT_NO_UPDATE,
	OPT_LEVEL,
	OPT_BBOX,
	OPT_SIZE,
	OPT_RESAMPLE,
	OPT_FILE,
};

#ifndef TESS_HAVE_GDAL

static int no_gdal(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS, { 0 } };
	int c, rc;
	/* --help still works; anything else is refused with the reason. */
	while ((c = cli_getopt(argc, argv, "", opts, 0)) != -1)
		if (c == CLI_OPT_HELP && (rc = cli_common_option(ctx, c, argv)) >= 0)
			return rc;
	return cli_fail_text("%s: tess was built without GDAL (install libgdal-dev and "
	                     "rebuild)", ctx->path);
}

#define run_import no_gdal
#define run_export no_gdal
#define run_info no_gdal

#else /* TESS_HAVE_GDAL */

static void json_counts(FILE *out, int n, const uint64_t *v)
{
	fputc('[', out);
	for (int d = 0; d < n; d++)
		fprintf(out, "%s%" PRIu64, d ? ", " : "", v[d]);
	fputc(']', out);
}

static void json_doubles(FILE *out, int n, const double *v)
{
	fputc('[', out);
	for (int i = 0; i < n; i++) {
		fputs(i ? ", " : "", out);
		pcli_json_double(out, v[i]);
	}
	fputc(']', out);
}

static void json_crs(FILE *out, const char *crs)
{
	if (crs)
		cli_json_string(out, crs);
	else
		fputs("null", out);
}

/* "EPSG:32633 (WGS 84 / UTM zone 33N)", "NAME (WKT)" or "none". */
static void crs_text(char *buf, size_t cap, const char *crs)
{
	char name[256];
	int epsg = 0;
	if (!crs)
		snprintf(buf, cap, "none");
	else if (tess_raster_crs_describe(crs, name, sizeof name, &epsg) != 0)
		snprintf(buf, cap, "%.60s... (cannot be parsed)", crs);
	else if (epsg)
		snprintf(buf, cap, "EPSG:%d (%s)", epsg, name);
	else
		snprintf(buf, cap, "%s (WKT)", name);
}

static const char *num(char *buf, size_t cap, double v)
{
	pcli_format_double(buf, cap, v);
	return buf;
}

/* ---- import ---------------------------------------------------------------- */

static int import_parse(struct cli_ctx *ctx, int argc, char **argv,
                        tess_raster_import_opts *o, int *verbose, int *json)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{ "tile", required_argument, NULL, OPT_TILE },
		{ "agg", required_argument, NULL, OPT_AGG },
		{ "zarr-format", required_argument, NULL, OPT_ZARR_FORMAT },
		{ "codec", required_argument, NULL, OPT_CODEC },
		{ "extent", required_argument, NULL, OPT_EXTENT },
		{ "no-update", no_argument, NULL, OPT_NO_UPDATE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ 0 },
	};
	int c, rc, n;
	uint64_t tile;
	while ((c = cli_getopt(argc, argv, "v", opts, 0)) != -1) {
		switch (c) {
		case OPT_TILE:
			if (pcli_parse_counts(optarg, &tile, 1, &n) != 0 || tile == 0)
				return cli_usage_error(ctx, "--tile '%s': expected a positive count", optarg);
			o->tile = tile;
			break;
		case OPT_AGG:
			if (tess_agg_parse(&o->agg, optarg) != 0 || o->agg == TESS_AGG_NONE)
				return cli_usage_error(ctx, "--agg '%s': expected mean, min, max, sum, count, "
				                       "mode, nearest or last", optarg);
			break;
		case OPT_ZARR_FORMAT:
			if (strcmp(optarg, "2") != 0 && strcmp(optarg, "3") != 0)
				return cli_usage_error(ctx, "--zarr-format '%s': expected 2 or 3", optarg);
			o->zarr_format = optarg[0] - '0';
			break;
		case OPT_CODEC: o->codec = optarg; break;
		case OPT_EXTENT:
			if (pcli_parse_doubles(optarg, o->extent, 4, &n) != 0 || n != 4)
				return cli_usage_error(ctx, "--extent '%s': expected MINX,MINY,MAXX,MAXY",
				                       optarg);
			o->has_extent = 1;
			break;
		case OPT_NO_UPDATE: o->no_update = 1; break;
		case 'v': *verbose = 1; break;
		case CLI_OPT_JSON: *json = 1; break;
		default:
			if ((rc = cli_common_option(ctx, c, argv)) >= 0)
				return rc;
		}
	}
	return cli_check_args(ctx, argc, argv, 2, 2);
}

static void import_report(const char *path, const char *file, const tess_raster_import_result *r,
                          int verbose, int json)
{
	if (json) {
		fputs("{\"path\": ", stdout);
		cli_json_string(stdout, path);
		fputs(", \"file\": ", stdout);
		cli_json_string(stdout, file);
		printf(", \"created\": %s, \"at\": ", r->created ? "true" : "false");
		json_counts(stdout, r->ndim, r->at);
		fputs(", \"count\": ", stdout);
		json_counts(stdout, r->ndim, r->count);
		fputs(", \"shape\": ", stdout);
		json_counts(stdout, r->ndim, r->shape);
		printf(", \"levels\": %d, \"dirty\": %zu, \"update\": ", r->levels, r->dirty);
		if (r->updated)
			pcli_update_json(stdout, &r->update);
		else
			fputs("null", stdout);
		fputs("}\n", stdout);
	}
	if (verbose) {
		const int y = r->ndim - 2, x = r->ndim - 1;
		fprintf(stderr, "raster import '%s': %s, %" PRIu64 " x %" PRIu64 " pixels at row %"
		        PRIu64 ", column %" PRIu64 " of level 0 (%s; now %" PRIu64 " x %" PRIu64
		        ", %d levels); %zu dirty chunks", path, file, r->count[x], r->count[y],
		        r->at[y], r->at[x], r->created ? "created" : "mosaicked", r->shape[x],
		        r->shape[y], r->levels, r->dirty);
		if (r->updated)
			fprintf(stderr, ", updated: %zu coarse chunks in %.2f s\n",
			        r->update.chunks_written, r->update.seconds);
		else
			fputs(", not updated (tess pyramid update)\n", stderr);
	}
}

static int run_import(struct cli_ctx *ctx, int argc, char **argv)
{
	tess_raster_import_opts o = TESS_RASTER_IMPORT_OPTS_INIT;
	int rc, verbose = 0, json = 0;
	if ((rc = import_parse(ctx, argc, argv, &o, &verbose, &json)) >= 0)
		return rc;
	char path[TESS_KEY_MAX + 1];
	cli_node_path(argv[optind], path, sizeof path);
	const char *file = argv[optind + 1];
	tess_store *st;
	if ((rc = cli_store(ctx, &st)) != 0)
		return rc;
	struct cli_progress progress;
	cli_progress_start(&progress);
	o.progress = cli_progress_cb;
	o.payload = &progress;
	tess_raster_import_result r;
	int err = tess_raster_import(st, path, file, &o, &r);
	cli_progress_end(&progress);
	if (err)
		return cli_fail(err, "raster import '%s' from %s", path, file);
	import_report(path, file, &r, verbose, json);
	return CLI_OK;
}

/* ---- export ---------------------------------------------------------------- */

static int export_parse(struct cli_ctx *ctx, int argc, char **argv,
                        tess_raster_export_opts *o, int *verbose, int *json)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{ "level", required_argument, NULL, OPT_LEVEL },
		{ "bbox", required_argument, NULL, OPT_BBOX },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "resample", required_argument, NULL, OPT_RESAMPLE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ 0 },
	};
	int c, rc, n;
	uint64_t v[2];
	while ((c = cli_getopt(argc, argv, "v", opts, 0)) != -1) {
		switch (c) {
		case OPT_LEVEL:
			if (pcli_parse_counts(optarg, v, 1, &n) != 0 || v[0] > 64)
				return cli_usage_error(ctx, "--level '%s': expected a level number", optarg);
			o->level = (int)v[0];
			break;
		case OPT_BBOX:
			if (pcli_parse_doubles(optarg, o->bbox, 4, &n) != 0 || n != 4)
				return cli_usage_error(ctx, "--bbox '%s': expected MINX,MINY,MAXX,MAXY",
				                       optarg);
			o->has_bbox = 1;
			break;
		case OPT_SIZE:
			if (pcli_parse_counts(optarg, v, 2, &n) != 0 || n != 2 || !v[0] || !v[1])
				return cli_usage_error(ctx, "--size '%s': expected WIDTH,HEIGHT in pixels",
				                       optarg);
			o->width = v[0];
			o->height = v[1];
			break;
		case OPT_RESAMPLE:
			if (strcmp(optarg, "nearest") == 0)
				o->resample = TESS_RESAMPLE_NEAREST;
			else if (strcmp(optarg, "average") == 0)
				o->resample = TESS_RESAMPLE_AVERAGE;
			else
				return cli_usage_error(ctx, "--resample '%s': expected nearest or average",
				                       optarg);
			break;
		case 'v': *verbose = 1; break;
		case CLI_OPT_JSON: *json = 1; break;
		default:
			if ((rc = cli_common_option(ctx, c, argv)) >= 0)
				return rc;
		}
	}
	return cli_check_args(ctx, argc, argv, 2, 2);
}

static void export_report(const char *path, const char *file, const tess_raster_export_result *r,
                          int verbose, int json)
{
	if (json) {
		fputs("{\"path\": ", stdout);
		cli_json_string(stdout, path);
		fputs(", \"file\": ", stdout);
		cli_json_string(stdout, file);
		printf(", \"width\": %" PRIu64 ", \"height\": %" PRIu64 ", \"bands\": %d, "
		       "\"level\": %d, \"exact\": %s, \"transform\": ", r->width, r->height, r->bands,
		       r->level, r->exact ? "true" : "false");
		json_doubles(stdout, 6, r->gt);
		fputs("}\n", stdout);
	}
	if (verbose)
		fprintf(stderr, "raster export '%s': %s, %" PRIu64 " x %" PRIu64 " pixels, %d "
		        "band%s, %s level %d\n", path, file, r->width, r->height, r->bands,
		        r->bands == 1 ? "" : "s", r->exact ? "the cells of" : "resampled from",
		        r->level);
}

static int run_export(struct cli_ctx *ctx, int argc, char **argv)
{
	tess_raster_export_opts o = TESS_RASTER_EXPORT_OPTS_INIT;
	int rc, verbose = 0, json = 0;
	if ((rc = export_parse(ctx, argc, argv, &o, &verbose, &json)) >= 0)
		return rc;
	char path[TESS_KEY_MAX + 1];
	cli_node_path(argv[optind], path, sizeof path);
	const char *file = argv[optind + 1];
	tess_store *st;
	if ((rc = cli_store(ctx, &st)) != 0)
		return rc;
	if (!tess_pyramid_exists(st, path))
		return cli_fail_text("raster export '%s': no pyramid there", path);
	struct cli_progress progress;
	cli_progress_start(&progress);
	o.progress = cli_progress_cb;
	o.payload = &progress;
	tess_raster_export_result r;
	int err = tess_raster_export(st, path, file, &o, &r);
	cli_progress_end(&progress);
	if (err)
		return cli_fail(err, "raster export '%s' to %s", path, file);
	export_report(path, file, &r, verbose, json);
	return CLI_OK;
}

/* ---- info: a raster pyramid -------------------------------------------------- */

/* World box of level-0 index box [start, start + count) along y and x. */
static void world_box(const tess_pyramid_opts *o, const uint64_t *start, const uint64_t *count,
                      double box[4])
{
	const tess_pyramid_dim *dy = &o->dims[o->ndim - 2], *dx = &o->dims[o->ndim - 1];
	const int y = o->ndim - 2, x = o->ndim - 1;
	double x0 = dx->origin + dx->step * (double)start[x];
	double x1 = dx->origin + dx->step * (double)(start[x] + count[x]);
	double y0 = dy->origin + dy->step * (double)start[y];
	double y1 = dy->origin + dy->step * (double)(start[y] + count[y]);
	box[0] = fmin(x0, x1), box[1] = fmin(y0, y1), box[2] = fmax(x0, x1), box[3] = fmax(y0, y1);
}

struct raster_view {
	const tess_pyramid_opts *o;
	double gt[6];
	int band;
	uint64_t bands, width, height;
	double extent[4];
	int has_data;
	double data[4];
};

static int view_of(tess_pyramid *p, const char *path, struct raster_view *v)
{
	int rc = tess_raster_transform(p, path, 0, v->gt, &v->band);
	if (rc)
		return cli_fail(rc, "raster info '%s'", path);
	v->o = tess_pyramid_info(p);
	const int nd = v->o->ndim;
	v->bands = v->band >= 0 ? v->o->shape[0] : 1;
	v->width = v->o->shape[nd - 1];
	v->height = v->o->shape[nd - 2];
	uint64_t zero[3] = { 0 }, start[3], count[3];
	world_box(v->o, zero, v->o->shape, v->extent);
	if ((rc = tess_pyramid_data_bounds(p, start, count)) != 0)
		return cli_fail(rc, "raster info '%s': data bounds", path);
	v->has_data = count[nd - 1] > 0;
	if (v->has_data)
		world_box(v->o, start, count, v->data);
	return 0;
}

static void info_json(const char *path, tess_pyramid *p, const struct raster_view *v)
{
	char dt[40];
	fputs("{\"path\": ", stdout);
	cli_json_string(stdout, path);
	printf(", \"width\": %" PRIu64 ", \"height\": %" PRIu64 ", \"bands\": %" PRIu64
	       ", \"dtype\": ", v->width, v->height, v->bands);
	cli_json_string(stdout, tess_dtype_str(dt, sizeof dt, &v->o->dtype));
	fputs(", \"crs\": ", stdout);
	json_crs(stdout, v->o->crs);
	fputs(", \"transform\": ", stdout);
	json_doubles(stdout, 6, v->gt);
	fputs(", \"nodata\": ", stdout);
	if (v->o->has_nodata)
		pcli_json_double(stdout, v->o->nodata);
	else
		fputs("null", stdout);
	fputs(", \"extent\": ", stdout);
	json_doubles(stdout, 4, v->extent);
	fputs(", \"data_bounds\": ", stdout);
	if (v->has_data)
		json_doubles(stdout, 4, v->data);
	else
		fputs("null", stdout);
	fputs(", \"levels\": [", stdout);
	for (int k = 0; k < tess_pyramid_levels(p); k++) {
		const uint64_t *shape = tess_array_shape(tess_pyramid_level(p, k));
		const int nd = v->o->ndim;
		printf("%s{\"level\": %d, \"width\": %" PRIu64 ", \"height\": %" PRIu64
		       ", \"pixel_size\": ", k ? ", " : "", k, shape[nd - 1], shape[nd - 2]);
		double px[2] = { ldexp(v->gt[1], k), ldexp(v->gt[5], k) };
		json_doubles(stdout, 2, px);
		fputc('}', stdout);
	}
	fputs("]}\n", stdout);
}

static void info_text(const char *path, tess_pyramid *p, const struct raster_view *v)
{
	char dt[40], crs[400], a[40], b[40], c[40], d[40];
	printf("%-14s %s\n", "path:", path);
	printf("%-14s %" PRIu64 " x %" PRIu64 " pixels, %" PRIu64 " band%s, %s\n", "size:",
	       v->width, v->height, v->bands, v->bands == 1 ? "" : "s",
	       tess_dtype_str(dt, sizeof dt, &v->o->dtype));
	crs_text(crs, sizeof crs, v->o->crs);
	printf("%-14s %s\n", "crs:", crs);
	printf("%-14s %s, %s\n", "origin:", num(a, sizeof a, v->gt[0]), num(b, sizeof b, v->gt[3]));
	printf("%-14s %s, %s\n", "pixel size:", num(a, sizeof a, v->gt[1]),
	       num(b, sizeof b, v->gt[5]));
	printf("%-14s %s\n", "nodata:", v->o->has_nodata ? num(a, sizeof a, v->o->nodata) : "none");
	printf("%-14s %s, %s .. %s, %s\n", "extent:", num(a, sizeof a, v->extent[0]),
	       num(b, sizeof b, v->extent[1]), num(c, sizeof c, v->extent[2]),
	       num(d, sizeof d, v->extent[3]));
	if (v->has_data)
		printf("%-14s %s, %s .. %s, %s\n", "data bounds:", num(a, sizeof a, v->data[0]),
		       num(b, sizeof b, v->data[1]), num(c, sizeof c, v->data[2]),
		       num(d, sizeof d, v->data[3]));
	else
		printf("%-14s %s\n", "data bounds:", "no valid cell");
	printf("%-14s %d\n", "levels:", tess_pyramid_levels(p));
	for (int k = 0; k < tess_pyramid_levels(p); k++) {
		const uint64_t *shape = tess_array_shape(tess_pyramid_level(p, k));
		const int nd = v->o->ndim;
		printf("  %-3d %" PRIu64 " x %" PRIu64 " at %s x %s\n", k, shape[nd - 1],
		       shape[nd - 2], num(a, sizeof a, ldexp(v->gt[1], k)),
		       num(b, sizeof b, ldexp(v->gt[5], k)));
	}
}

static int info_pyramid(struct cli_ctx *ctx, const char *arg, int json)
{
	char path[TESS_KEY_MAX + 1];
	cli_node_path(arg, path, sizeof path);
	tess_pyramid *p;
	int rc = pcli_open(ctx, "raster info", path, &p);
	if (rc)
		return rc;
	struct raster_view v;
	if ((rc = view_of(p, path, &v)) == 0) {
		if (json)
			info_json(path, p, &v);
		else
			info_text(path, p, &v);
	}
	tess_pyramid_close(p);
	return rc;
}

/* ---- info --file: a raster file ------------------------------------------------ */

static void file_json(const char *file, const tess_raster_file_info *in)
{
	char dt[40];
	fputs("{\"file\": ", stdout);
	cli_json_string(stdout, file);
	fputs(", \"driver\": ", stdout);
	cli_json_string(stdout, in->driver);
	printf(", \"width\": %" PRIu64 ", \"height\": %" PRIu64 ", \"bands\": %d, \"dtype\": ",
	       in->width, in->height, in->bands);
	cli_json_string(stdout, tess_dtype_str(dt, sizeof dt, &in->dtype));
	fputs(", \"crs\": ", stdout);
	json_crs(stdout, in->crs);
	fputs(", \"transform\": ", stdout);
	if (in->has_gt)
		json_doubles(stdout, 6, in->gt);
	else
		fputs("null", stdout);
	fputs(", \"nodata\": ", stdout);
	if (in->has_nodata)
		pcli_json_double(stdout, in->nodata);
	else
		fputs("null", stdout);
	printf(", \"block\": [%d, %d], \"overviews\": %d}\n", in->block[0], in->block[1],
	       in->overviews);
}

static void file_text(const char *file, const tess_raster_file_info *in)
{
	char dt[40], crs[400], a[40], b[40];
	printf("%-14s %s (%s)\n", "file:", file, in->driver);
	printf("%-14s %" PRIu64 " x %" PRIu64 " pixels, %d band%s, %s\n", "size:", in->width,
	       in->height, in->bands, in->bands == 1 ? "" : "s",
	       tess_dtype_str(dt, sizeof dt, &in->dtype));
	crs_text(crs, sizeof crs, in->crs);
	printf("%-14s %s\n", "crs:", crs);
	if (in->has_gt) {
		printf("%-14s %s, %s\n", "origin:", num(a, sizeof a, in->gt[0]),
		       num(b, sizeof b, in->gt[3]));
		printf("%-14s %s, %s\n", "pixel size:", num(a, sizeof a, in->gt[1]),
		       num(b, sizeof b, in->gt[5]));
	} else {
		printf("%-14s %s\n", "transform:", "none (pixel coordinates)");
	}
	printf("%-14s %s\n", "nodata:", in->has_nodata ? num(a, sizeof a, in->nodata) : "none");
	printf("%-14s %d x %d\n", "block:", in->block[0], in->block[1]);
	printf("%-14s %d\n", "overviews:", in->overviews);
}

static int info_file(const char *file, int json)
{
	tess_raster_file_info in;
	int rc = tess_raster_file_info_get(&in, file);
	if (rc)
		return cli_fail(rc, "raster info %s", file);
	if (json)
		file_json(file, &in);
	else
		file_text(file, &in);
	tess_raster_file_info_free(&in);
	return CLI_OK;
}

static int run_info(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ "file", no_argument, NULL, OPT_FILE },
		{ 0 },
	};
	int c, rc, json = 0, file = 0;
	while ((c = cli_getopt(argc, argv, "", opts, 0)) != -1) {
		if (c == CLI_OPT_JSON)
			json = 1;
		else if (c == OPT_FILE)
			file = 1;
		else if ((rc = cli_common_option(ctx, c, argv)) >= 0)
			return rc;
	}
	if ((rc = cli_check_args(ctx, argc, argv, 1, 1)) >= 0)
		return rc;
	return file ? info_file(argv[optind], json) : info_pyramid(ctx, argv[optind], json);
}

#endif /* TESS_HAVE_GDAL */

/* ---- the tables ------------------------------------------------------------------- */

static const struct cli_cmd raster_subcommands[] = {
	{
		.name = "import",
		.synopsis = "PATH FILE.tif",
		.summary = "Import a raster (GeoTIFF, ...) into a pyramid, or mosaic it in.",
		.help =
			"Without a pyramid at PATH one is created from FILE: a single-band raster\n"
			"becomes (y, x), a multi-band raster (band, y, x) with one band per chunk;\n"
			"georeferencing, CRS and nodata are carried over.  With a pyramid there,\n"
			"FILE is mosaicked in at its georeferenced place: it needs the same CRS,\n"
			"pixel size, dtype and bands and an origin on the pyramid's grid; the\n"
			"pyramid grows right and down as needed (not left or up: use --extent\n"
			"when creating).  Nodata cells of FILE keep what the pyramid holds.  Only\n"
			"the chunks FILE covers become dirty; the pyramid is updated at the end.\n"
			"\n"
			"Options:\n"
			"  --tile N             chunk edge along y and x (default 512; creation)\n"
			"  --agg A              mean (default), min, max, sum, count, mode, nearest\n"
			"                       or last (creation)\n"
			"  --zarr-format 2|3    default 2 (creation)\n"
			"  --codec SPEC         as tess array create (creation)\n"
			"  --extent MINX,MINY,MAXX,MAXY\n"
			"                       create the pyramid covering at least this box, on\n"
			"                       FILE's grid, so that later rasters fit (creation)\n"
			"  --no-update          leave the chunks dirty (mosaic many files, then run\n"
			"                       tess pyramid update once)\n"
			"  -v, --verbose        report where FILE went and what was updated\n"
			"  --json               print {\"path\", \"file\", \"created\", \"at\", \"count\",\n"
			"                       \"shape\", \"levels\", \"dirty\", \"update\"}\n"
			"  -h, --help           show this help\n"
			"\n"
			"Examples:\n"
			"  tess raster import dem tile_0_0.tif --tile 512 --agg mean\n"
			"  tess raster import dem tile_0_1.tif --no-update\n"
			"  tess raster import landcover lc.tif --agg mode --codec zstd:3\n",
		.run = run_import,
	},
	{
		.name = "export",
		.synopsis = "PATH FILE.tif",
		.summary = "Write a level, or a box at a size, to a georeferenced GeoTIFF.",
		.help =
			"Without --bbox and --size, the cells of --level (default 0) are written\n"
			"as they are.  With them, the box is read at the size from the coarsest\n"
			"level that is still fine enough, resampled.  The GeoTIFF is tiled\n"
			"(256 x 256), deflate-compressed, with the pyramid's CRS and nodata.\n"
			"\n"
			"Options:\n"
			"  --level N            the level to write (default 0); with --bbox and\n"
			"                       no --size: the resolution to write the box at\n"
			"  --bbox MINX,MINY,MAXX,MAXY\n"
			"                       world box (default: the whole extent)\n"
			"  --size W,H           output pixels (default: the level's cells over the\n"
			"                       box)\n"
			"  --resample nearest|average\n"
			"                       default: average for mean pyramids, else nearest\n"
			"  -v, --verbose        report the size and the level read\n"
			"  --json               print {\"path\", \"file\", \"width\", \"height\",\n"
			"                       \"bands\", \"level\", \"exact\", \"transform\"}\n"
			"  -h, --help           show this help\n"
			"\n"
			"Examples:\n"
			"  tess raster export dem dem.tif\n"
			"  tess raster export dem overview.tif --level 3\n"
			"  tess raster export dem window.tif --bbox 300000,4490000,310000,4500000 \\\n"
			"      --size 256,256\n",
		.run = run_export,
	},
	{
		.name = "info",
		.synopsis = "PATH | --file FILE",
		.summary = "Show a raster pyramid's size, CRS, pixel size, extent, levels.",
		.help =
			"PATH is a pyramid in the store; with --file, FILE is a raster file and\n"
			"info shows what GDAL reports of it that an import uses.\n"
			"\n"
			"Options:\n"
			"  --file        the argument is a raster file, not a pyramid\n"
			"  --json        print one JSON object: path, width, height, bands, dtype,\n"
			"                crs, transform, nodata, extent, data_bounds ([minx, miny,\n"
			"                maxx, maxy] or null), levels [{level, width, height,\n"
			"                pixel_size}]; with --file: file, driver, width, height,\n"
			"                bands, dtype, crs, transform, nodata, block, overviews\n"
			"  -h, --help    show this help\n"
			"\n"
			"Examples:\n"
			"  tess raster info dem\n"
			"  tess raster info --file tile_0_0.tif --json\n",
		.run = run_info,
	},
	{ 0 },
};

static const struct cli_cmd *const raster_tables[] = { raster_subcommands, NULL };

const struct cli_cmd cli_raster_commands[] = {
	{
		.name = "raster",
		.synopsis = "COMMAND [ARGS...]",
		.summary = "GeoTIFFs (via GDAL) in and out of pyramids.",
		.help =
			"PATH is a pyramid in the store (tess pyramid info PATH).  Needs tess\n"
			"built with GDAL.  See docs/raster.md.\n",
		.sub = raster_tables,
	},
	{ 0 },
};
