/*
 * tess_raster_export: a level of a raster pyramid, or a box of it at a
 * size, to a tiled, deflate-compressed, georeferenced GeoTIFF.
 *
 * The file is written in strips of rows (bounded memory) under a temporary
 * name next to FILE and renamed when GDAL has closed it without error, so a
 * failed export never leaves a partial FILE.
 */
#include "raster/internal.h"

#include <cpl_error.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Bytes per strip buffer; $TESS_RASTER_BLOCK_BYTES makes strips small in
 * tests.  A resampled box of up to 4 strips' bytes is read in one call. */
#define STRIP_BYTES ((uint64_t)64 << 20)
#define TIFF_TILE 256

typedef struct export_job {
	tess_store *st;
	const char *path;
	const char *file;
	const tess_raster_export_opts *opts;
	tess_raster_export_result *res;
	tess_pyramid *p;
	const tess_pyramid_opts *po;
	raster_dims rd;
	int exact;
	tess_array *arr;       /* exact: the level's array */
	uint64_t width, height;
	double lo[3], hi[3];   /* resampled: the box, per pyramid dimension */
	tess_resample resample;
	GDALDataType gtype;
	int signed_byte;
	size_t itemsize;
	size_t swap;
	GDALDatasetH out;
	char tmp[4096];
} export_job;

/* ---- the output grid ------------------------------------------------------ */

/* Exact: the level's cells and its geotransform. */
static int plan_exact(export_job *job, double gt[6])
{
	const tess_raster_export_opts *o = job->opts;
	if (!(job->arr = tess_pyramid_level(job->p, o->level)))
		return tess_err(TESS_EINVAL, "raster export '%s': no level %d (the pyramid has %d)",
		                job->path, o->level, tess_pyramid_levels(job->p));
	const uint64_t *shape = tess_array_shape(job->arr);
	job->width = shape[job->rd.x];
	job->height = shape[job->rd.y];
	int band;
	return tess_raster_transform(job->p, job->path, o->level, gt, &band);
}

/* One axis of a resampled output: cells over [lo, hi] and where they start.
 * `step` is the pyramid's (its sign gives the direction of the indices). */
static void axis_gt(double lo, double hi, uint64_t n, double step, double *origin,
                    double *out_step)
{
	double cell = (hi - lo) / (double)n;
	*origin = step > 0 ? lo : hi;
	*out_step = step > 0 ? cell : -cell;
}

/* Cells of a level's resolution over [lo, hi]; at least 1. */
static uint64_t cells_over(double lo, double hi, double step, int level)
{
	double n = nearbyint((hi - lo) / (fabs(step) * ldexp(1.0, level)));
	return n < 1 ? 1 : (uint64_t)n;
}

static int plan_box(export_job *job, double gt[6])
{
	const tess_raster_export_opts *o = job->opts;
	const raster_dims *rd = &job->rd;
	const tess_pyramid_dim *dx = &job->po->dims[rd->x], *dy = &job->po->dims[rd->y];
	double minx, miny, maxx, maxy;
	if (o->has_bbox) {
		minx = o->bbox[0], miny = o->bbox[1], maxx = o->bbox[2], maxy = o->bbox[3];
		if (!(minx < maxx) || !(miny < maxy) || !isfinite(minx) || !isfinite(maxx) ||
		    !isfinite(miny) || !isfinite(maxy))
			return tess_err(TESS_EINVAL, "raster export '%s': bbox: expected MINX < MAXX "
			                "and MINY < MAXY", job->path);
	} else {
		/* the whole extent of level 0 */
		double x0 = dx->origin, x1 = dx->origin + dx->step * (double)job->po->shape[rd->x];
		double y0 = dy->origin, y1 = dy->origin + dy->step * (double)job->po->shape[rd->y];
		minx = fmin(x0, x1), maxx = fmax(x0, x1), miny = fmin(y0, y1), maxy = fmax(y0, y1);
	}
	if ((o->width == 0) != (o->height == 0))
		return tess_err(TESS_EINVAL, "raster export '%s': give both a width and a height",
		                job->path);
	job->width = o->width ? o->width : cells_over(minx, maxx, dx->step, o->level);
	job->height = o->height ? o->height : cells_over(miny, maxy, dy->step, o->level);
	axis_gt(minx, maxx, job->width, dx->step, &gt[0], &gt[1]);
	axis_gt(miny, maxy, job->height, dy->step, &gt[3], &gt[5]);
	gt[2] = gt[4] = 0;
	if (rd->band >= 0) {
		job->lo[rd->band] = 0;
		job->hi[rd->band] = (double)rd->bands;
	}
	job->lo[rd->x] = minx, job->hi[rd->x] = maxx;
	job->lo[rd->y] = miny, job->hi[rd->y] = maxy;
	if (o->resample >= 0)
		job->resample = (tess_resample)o->resample;
	else
		job->resample = dy->agg == TESS_AGG_MEAN ? TESS_RESAMPLE_AVERAGE : TESS_RESAMPLE_NEAREST;
	return 0;
}

/* ---- the GeoTIFF ----------------------------------------------------------- */

static int create_tiff(export_job *job, const double gt[6])
{
	const tess_pyramid_opts *po = job->po;
	GDALDriverH drv = GDALGetDriverByName("GTiff");
	if (!drv)
		return tess_err(TESS_ENOTSUP, "raster export: this GDAL has no GTiff driver");
	if (job->width > INT_MAX || job->height > INT_MAX)
		return tess_err(TESS_EINVAL, "raster export '%s': %llu x %llu pixels is more than "
		                "GDAL takes", job->path, (unsigned long long)job->width,
		                (unsigned long long)job->height);
	if ((size_t)snprintf(job->tmp, sizeof job->tmp, "%s.tmp%ld", job->file,
	                     (long)getpid()) >= sizeof job->tmp)
		return tess_err(TESS_EINVAL, "raster export: file name too long");
	const char *options[10];
	int n = 0;
	options[n++] = "TILED=YES";
	options[n++] = "BLOCKXSIZE=256";
	options[n++] = "BLOCKYSIZE=256";
	options[n++] = "COMPRESS=DEFLATE";
	options[n++] = "BIGTIFF=IF_SAFER";
	options[n++] = "NUM_THREADS=ALL_CPUS";
	if (job->rd.bands > 1)
		options[n++] = "INTERLEAVE=BAND";
	if (job->signed_byte)
		options[n++] = "PIXELTYPE=SIGNEDBYTE";
	options[n] = NULL;
	CPLErrorReset();
	job->out = GDALCreate(drv, job->tmp, (int)job->width, (int)job->height, (int)job->rd.bands,
	                      job->gtype, (char **)options);
	if (!job->out)
		return raster_gdal_err(TESS_EIO, "raster export: cannot create %s", job->file);
	if (GDALSetGeoTransform(job->out, (double *)gt) != CE_None)
		return raster_gdal_err(TESS_EIO, "raster export: %s: geotransform", job->file);
	if (po->crs) {
		OGRSpatialReferenceH srs;
		int rc = raster_srs_from_string(&srs, po->crs);
		if (rc)
			return tess_err_prefix(rc, "raster export '%s': ", job->path);
		CPLErr e = GDALSetSpatialRef(job->out, srs);
		OSRDestroySpatialReference(srs);
		if (e != CE_None)
			return raster_gdal_err(TESS_EIO, "raster export: %s: CRS", job->file);
	}
	for (int b = 1; po->has_nodata && b <= (int)job->rd.bands; b++)
		if (GDALSetRasterNoDataValue(GDALGetRasterBand(job->out, b), po->nodata) != CE_None)
			return raster_gdal_err(TESS_EINVAL, "raster export: %s: nodata %g", job->file,
			                       po->nodata);
	return 0;
}

/* Rows per strip: all of them for a small box, else what the budget holds
 * (on the level's chunk rows, or on the TIFF's tile rows). */
static uint64_t strip_rows(const export_job *job)
{
	const uint64_t row = raster_mul_sat(raster_mul_sat(job->rd.bands, job->width),
	                                    job->itemsize);
	const uint64_t budget = raster_block_budget(STRIP_BYTES);
	if (!job->exact && raster_mul_sat(row, job->height) <= raster_mul_sat(budget, 4))
		return job->height;
	const uint64_t grid = job->exact ? tess_array_chunks(job->arr)[job->rd.y] : TIFF_TILE;
	uint64_t rows = budget / (row ? row : 1);
	if (rows >= grid)
		rows -= rows % grid;
	rows = rows ? rows : 1;
	return rows < job->height ? rows : job->height;
}

/* Read output rows [r0, r0 + n) from the pyramid into buf. */
static int read_strip(export_job *job, uint64_t r0, uint64_t n, void *buf, int *level)
{
	const raster_dims *rd = &job->rd;
	uint64_t start[3] = { 0 }, count[3], shape[3];
	if (rd->band >= 0)
		count[rd->band] = shape[rd->band] = rd->bands;
	count[rd->x] = shape[rd->x] = job->width;
	count[rd->y] = shape[rd->y] = n;
	if (job->exact) {
		start[rd->y] = r0;
		*level = job->opts->level;
		return tess_array_read(job->arr, start, count, buf);
	}
	double lo[3], hi[3];
	memcpy(lo, job->lo, sizeof lo);
	memcpy(hi, job->hi, sizeof hi);
	if (n < job->height) {
		/* the strip's rows of the box, counted from the row-0 edge */
		const double step = job->po->dims[rd->y].step;
		const double cell = (job->hi[rd->y] - job->lo[rd->y]) / (double)job->height;
		const double a = (double)r0 * cell, b = (double)(r0 + n) * cell;
		if (step > 0) {
			lo[rd->y] = job->lo[rd->y] + a;
			hi[rd->y] = r0 + n == job->height ? job->hi[rd->y] : job->lo[rd->y] + b;
		} else {
			hi[rd->y] = job->hi[rd->y] - a;
			lo[rd->y] = r0 + n == job->height ? job->lo[rd->y] : job->hi[rd->y] - b;
		}
	}
	return tess_pyramid_read_world(job->p, lo, hi, shape, job->resample, buf, level);
}

static int write_strips(export_job *job)
{
	const uint64_t rows = strip_rows(job);
	const uint64_t per_row = job->rd.bands * job->width * job->itemsize;
	const tess_raster_export_opts *o = job->opts;
	uint8_t *buf = malloc((size_t)(rows * per_row));
	if (!buf)
		return tess_err(TESS_ENOMEM, "raster export '%s': out of memory", job->path);
	int rc = 0;
	for (uint64_t r0 = 0; r0 < job->height && !rc; r0 += rows) {
		const uint64_t n = job->height - r0 < rows ? job->height - r0 : rows;
		int level = 0;
		if ((rc = read_strip(job, r0, n, buf, &level)) != 0)
			break;
		if (r0 == 0 && job->res)
			job->res->level = level;
		if (job->swap)
			raster_swap(buf, job->rd.bands * job->width * n, job->swap);
		const int w = (int)job->width, h = (int)n;
		const GSpacing px = (GSpacing)job->itemsize, line = px * w, band = line * h;
		CPLErrorReset();
		if (GDALDatasetRasterIOEx(job->out, GF_Write, 0, (int)r0, w, h, buf, w, h, job->gtype,
		                          (int)job->rd.bands, NULL, px, line, band, NULL) != CE_None)
			rc = raster_gdal_err(TESS_EIO, "raster export: writing %s", job->file);
		if (!rc && o->progress)
			o->progress((r0 + n) * per_row, job->height * per_row, o->payload);
	}
	free(buf);
	return rc;
}

/* Close the GeoTIFF; GDAL reports failures of its last writes only here. */
static int close_tiff(export_job *job)
{
	CPLErrorReset();
	GDALFlushCache(job->out);
	int failed = CPLGetLastErrorType() >= CE_Failure;
	GDALClose(job->out);
	job->out = NULL;
	failed |= CPLGetLastErrorType() >= CE_Failure;
	if (failed)
		return raster_gdal_err(TESS_EIO, "raster export: writing %s", job->file);
	if (rename(job->tmp, job->file) != 0)
		return tess_err(tess_errno_code(errno), "raster export: rename to %s: %s", job->file,
		                strerror(errno));
	job->tmp[0] = '\0';
	return 0;
}

/* ---- the export ------------------------------------------------------------ */

static int export_run(export_job *job)
{
	const tess_raster_export_opts *o = job->opts;
	double gt[6];
	int rc;
	if ((rc = tess_pyramid_open(&job->p, job->st, job->path)) != 0 ||
	    (rc = raster_dims_of(&job->rd, job->p, job->path)) != 0)
		return rc;
	job->po = tess_pyramid_info(job->p);
	if (o->level < 0 || o->level >= tess_pyramid_levels(job->p))
		return tess_err(TESS_EINVAL, "raster export '%s': no level %d (levels 0..%d)",
		                job->path, o->level, tess_pyramid_levels(job->p) - 1);
	if ((rc = raster_dtype_to_gdal(&job->gtype, &job->signed_byte, &job->po->dtype)) != 0)
		return tess_err_prefix(rc, "raster export '%s': ", job->path);
	job->itemsize = job->po->dtype.itemsize;
	if (job->itemsize > 1 && job->po->dtype.endian != '|' &&
	    job->po->dtype.endian != raster_native_endian())
		job->swap = job->itemsize;
	job->exact = !o->has_bbox && o->width == 0 && o->height == 0;
	if ((rc = job->exact ? plan_exact(job, gt) : plan_box(job, gt)) != 0 ||
	    (rc = create_tiff(job, gt)) != 0 || (rc = write_strips(job)) != 0 ||
	    (rc = close_tiff(job)) != 0)
		return rc;
	if (job->res) {
		tess_raster_export_result *r = job->res;
		r->width = job->width;
		r->height = job->height;
		r->bands = (int)job->rd.bands;
		r->exact = job->exact;
		if (job->exact)
			r->level = o->level;
		memcpy(r->gt, gt, sizeof r->gt);
	}
	return 0;
}

int tess_raster_export(tess_store *st, const char *path, const char *file,
                       const tess_raster_export_opts *opts, tess_raster_export_result *res)
{
	static const tess_raster_export_opts defaults = TESS_RASTER_EXPORT_OPTS_INIT;
	export_job job;
	memset(&job, 0, sizeof job);
	job.st = st;
	job.path = path;
	job.file = file;
	job.opts = opts ? opts : &defaults;
	job.res = res;
	if (res)
		memset(res, 0, sizeof *res);
	raster_gdal_init();
	raster_quiet_begin();
	int rc = export_run(&job);
	if (job.out)
		GDALClose(job.out);
	if (job.tmp[0])
		unlink(job.tmp);
	raster_quiet_end();
	tess_pyramid_close(job.p);
	return rc;
}
