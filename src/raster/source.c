/* Raster files as an import sees them: bands, dtype, geotransform, nodata, CRS. */
#include "raster/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int same_nodata(double a, double b)
{
	return a == b || (isnan(a) && isnan(b));
}

/* The dtype of band i (1-based). */
static int band_dtype(raster_source *src, int i, GDALDataType *gt, tess_dtype *dt)
{
	GDALRasterBandH b = GDALGetRasterBand(src->ds, i);
	*gt = GDALGetRasterDataType(b);
	const char *px = GDALGetMetadataItem(b, "PIXELTYPE", "IMAGE_STRUCTURE");
	int rc = raster_dtype_from_gdal(dt, *gt, *gt == GDT_Byte && px &&
	                                strcmp(px, "SIGNEDBYTE") == 0);
	return rc ? tess_err_prefix(rc, "%s: band %d: ", src->file, i) : 0;
}

/* Every band has band 1's dtype and nodata. */
static int check_bands(raster_source *src)
{
	tess_raster_file_info *in = &src->info;
	char a[40], b[40];
	for (int i = 1; i <= in->bands; i++) {
		GDALDataType t;
		tess_dtype dt;
		int rc = band_dtype(src, i, &t, &dt);
		if (rc)
			return rc;
		int has = 0;
		double nd = GDALGetRasterNoDataValue(GDALGetRasterBand(src->ds, i), &has);
		if (i == 1) {
			src->gtype = t;
			in->dtype = dt;
			in->has_nodata = has != 0;
			in->nodata = has ? nd : 0;
			continue;
		}
		if (t != src->gtype || dt.kind != in->dtype.kind)
			return tess_err(TESS_EINVAL, "%s: band %d is %s, band 1 %s; a pyramid has one "
			                "dtype", src->file, i, tess_dtype_str(a, sizeof a, &dt),
			                tess_dtype_str(b, sizeof b, &in->dtype));
		if ((has != 0) != in->has_nodata || (has && !same_nodata(nd, in->nodata)))
			return tess_err(TESS_EINVAL, "%s: band %d has another nodata value than band "
			                "1; a pyramid has one", src->file, i);
	}
	return 0;
}

static int check_transform(raster_source *src)
{
	tess_raster_file_info *in = &src->info;
	in->has_gt = GDALGetGeoTransform(src->ds, in->gt) == CE_None;
	CPLErrorReset();
	if (!in->has_gt) {
		/* GDAL's convention for an image without georeferencing: pixel
		 * coordinates, rows going down. */
		static const double ident[6] = { 0, 1, 0, 0, 0, 1 };
		memcpy(in->gt, ident, sizeof ident);
		return 0;
	}
	const double *g = in->gt;
	for (int i = 0; i < 6; i++)
		if (!isfinite(g[i]))
			return tess_err(TESS_EINVAL, "%s: its geotransform has a non-finite term", src->file);
	if (g[2] != 0 || g[4] != 0)
		return tess_err(TESS_EINVAL, "%s: its geotransform is rotated or sheared (terms %g "
		                "and %g); warp it north-up first (gdalwarp)", src->file, g[2], g[4]);
	if (g[1] == 0 || g[5] == 0)
		return tess_err(TESS_EINVAL, "%s: its geotransform has a pixel size of 0", src->file);
	return 0;
}

int raster_source_open(raster_source *src, const char *file, int threaded)
{
	memset(src, 0, sizeof *src);
	src->file = file;
	raster_gdal_init();
	int rc = raster_open(&src->ds, file, threaded);
	if (rc)
		return rc;
	tess_raster_file_info *in = &src->info;
	GDALDriverH drv = GDALGetDatasetDriver(src->ds);
	snprintf(in->driver, sizeof in->driver, "%s", drv ? GDALGetDriverShortName(drv) : "?");
	in->width = (uint64_t)GDALGetRasterXSize(src->ds);
	in->height = (uint64_t)GDALGetRasterYSize(src->ds);
	in->bands = GDALGetRasterCount(src->ds);
	GDALRasterBandH b1 = GDALGetRasterBand(src->ds, 1);
	GDALGetBlockSize(b1, &in->block[0], &in->block[1]);
	in->overviews = GDALGetOverviewCount(b1);
	if ((rc = check_bands(src)) || (rc = check_transform(src)))
		return rc;
	if ((rc = raster_crs_string(&in->crs, src->ds)) != 0)
		return tess_err_prefix(rc, "%s: ", file);
	return 0;
}

void raster_source_close(raster_source *src)
{
	if (src->ds)
		GDALClose(src->ds);
	src->ds = NULL;
	free(src->info.crs);
	src->info.crs = NULL;
}

int tess_raster_file_info_get(tess_raster_file_info *out, const char *file)
{
	raster_source src;
	memset(out, 0, sizeof *out);
	raster_gdal_init();
	raster_quiet_begin();
	int rc = raster_source_open(&src, file, 0);
	if (!rc) {
		*out = src.info;
		src.info.crs = NULL; /* now the caller's */
	}
	raster_source_close(&src);
	raster_quiet_end();
	return rc;
}

void tess_raster_file_info_free(tess_raster_file_info *info)
{
	if (!info)
		return;
	free(info->crs);
	info->crs = NULL;
}
