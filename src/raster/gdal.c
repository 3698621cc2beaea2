/*
 * GDAL set-up, error capture, dtype and CRS mapping, and what makes a
 * pyramid a raster pyramid: the pieces import.c and export.c share.
 */
#include "raster/internal.h"

#include <cpl_conv.h>
#include <cpl_error.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static pthread_once_t gdal_once = PTHREAD_ONCE_INIT;

static void gdal_register(void)
{
	GDALAllRegister();
}

void raster_gdal_init(void)
{
	pthread_once(&gdal_once, gdal_register);
}

const char *tess_raster_gdal_version(void)
{
	static char text[64];
	raster_gdal_init();
	snprintf(text, sizeof text, "GDAL %s", GDALVersionInfo("RELEASE_NAME"));
	return text;
}

void raster_quiet_begin(void)
{
	CPLPushErrorHandler(CPLQuietErrorHandler);
	CPLErrorReset();
}

void raster_quiet_end(void)
{
	CPLPopErrorHandler();
}

int raster_gdal_err(int code, const char *fmt, ...)
{
	char what[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	const char *msg = CPLGetLastErrorMsg();
	if (msg && msg[0])
		return tess_err(code, "%s (GDAL: %s)", what, msg);
	return tess_err(code, "%s", what);
}

int raster_open(GDALDatasetH *out, const char *file, int threaded)
{
	static const char *const threads[] = { "NUM_THREADS=ALL_CPUS", NULL };
	*out = NULL;
	struct stat sb;
	/* GDAL also opens URLs and /vsi paths: only a missing local file is
	 * reported as missing. */
	if (stat(file, &sb) != 0 && errno == ENOENT && strncmp(file, "/vsi", 4) != 0 &&
	    !strstr(file, "://"))
		return tess_err(TESS_ENOTFOUND, "%s: no such file", file);
	CPLErrorReset();
	if (CPLGetConfigOption("GDAL_NUM_THREADS", NULL))
		threaded = 0;
	/* Drivers without the open option warn (quietly) and go on. */
	GDALDatasetH ds = GDALOpenEx(file, GDAL_OF_RASTER | GDAL_OF_READONLY, NULL,
	                             threaded ? threads : NULL, NULL);
	if (!ds)
		return raster_gdal_err(TESS_EINVAL, "%s: not a raster GDAL can read", file);
	if (GDALGetRasterCount(ds) < 1) {
		GDALClose(ds);
		return tess_err(TESS_EINVAL, "%s: has no raster bands (a container of subdatasets? "
		                "give one of them, as gdalinfo lists them)", file);
	}
	*out = ds;
	return 0;
}

/* ---- dtypes ------------------------------------------------------------- */

char raster_native_endian(void)
{
	const uint16_t one = 1;
	return *(const uint8_t *)&one ? '<' : '>';
}

int raster_dtype_from_gdal(tess_dtype *out, GDALDataType t, int signed_byte)
{
	tess_dtype_kind kind;
	uint32_t size;
	switch (t) {
	case GDT_Byte: kind = signed_byte ? TESS_DT_INT : TESS_DT_UINT; size = 1; break;
#if GDAL_VERSION_NUM >= 3070000
	case GDT_Int8: kind = TESS_DT_INT; size = 1; break;
#endif
	case GDT_UInt16: kind = TESS_DT_UINT; size = 2; break;
	case GDT_Int16: kind = TESS_DT_INT; size = 2; break;
	case GDT_UInt32: kind = TESS_DT_UINT; size = 4; break;
	case GDT_Int32: kind = TESS_DT_INT; size = 4; break;
	case GDT_UInt64: kind = TESS_DT_UINT; size = 8; break;
	case GDT_Int64: kind = TESS_DT_INT; size = 8; break;
	case GDT_Float32: kind = TESS_DT_FLOAT; size = 4; break;
	case GDT_Float64: kind = TESS_DT_FLOAT; size = 8; break;
	default:
		return tess_err(TESS_EINVAL, "GDAL data type %s has no pyramid dtype (complex "
		                "and unknown types are not supported)", GDALGetDataTypeName(t));
	}
	out->kind = kind;
	out->itemsize = size;
	out->endian = size == 1 ? '|' : raster_native_endian();
	return 0;
}

int raster_dtype_to_gdal(GDALDataType *out, int *signed_byte, const tess_dtype *dt)
{
	char text[40];
	*signed_byte = 0;
	int k = dt->kind, n = (int)dt->itemsize;
	if (k == TESS_DT_UINT && n == 1)
		*out = GDT_Byte;
	else if (k == TESS_DT_INT && n == 1) {
#if GDAL_VERSION_NUM >= 3070000
		*out = GDT_Int8;
#else
		*out = GDT_Byte;
		*signed_byte = 1;
#endif
	} else if (k == TESS_DT_UINT && n == 2)
		*out = GDT_UInt16;
	else if (k == TESS_DT_INT && n == 2)
		*out = GDT_Int16;
	else if (k == TESS_DT_UINT && n == 4)
		*out = GDT_UInt32;
	else if (k == TESS_DT_INT && n == 4)
		*out = GDT_Int32;
	else if (k == TESS_DT_UINT && n == 8)
		*out = GDT_UInt64;
	else if (k == TESS_DT_INT && n == 8)
		*out = GDT_Int64;
	else if (k == TESS_DT_FLOAT && n == 4)
		*out = GDT_Float32;
	else if (k == TESS_DT_FLOAT && n == 8)
		*out = GDT_Float64;
	else
		return tess_err(TESS_EINVAL, "dtype %s has no GeoTIFF type (integers, float32 "
		                "and float64 do)", tess_dtype_str(text, sizeof text, dt));
	return 0;
}

/* ---- CRS ---------------------------------------------------------------- */

/* Same CRS whatever the axis mapping each handle carries. */
static int srs_same(OGRSpatialReferenceH a, OGRSpatialReferenceH b)
{
	static const char *const opts[] = { "IGNORE_DATA_AXIS_TO_SRS_AXIS_MAPPING=YES",
		                            "CRITERION=EQUIVALENT", NULL };
	return OSRIsSameEx(a, b, opts);
}

/* "EPSG:n" when srs is exactly that EPSG definition, else 0. */
static int srs_epsg(OGRSpatialReferenceH srs)
{
	const char *auth = OSRGetAuthorityName(srs, NULL);
	const char *code = OSRGetAuthorityCode(srs, NULL);
	if (!auth || !code || strcmp(auth, "EPSG") != 0)
		return 0;
	int n = atoi(code);
	if (n <= 0)
		return 0;
	OGRSpatialReferenceH ref = OSRNewSpatialReference(NULL);
	int same = ref && OSRImportFromEPSG(ref, n) == OGRERR_NONE && srs_same(srs, ref);
	OSRDestroySpatialReference(ref);
	return same ? n : 0;
}

int raster_crs_string(char **out, GDALDatasetH ds)
{
	*out = NULL;
	OGRSpatialReferenceH srs = GDALGetSpatialRef(ds);
	if (!srs)
		return 0;
	int epsg = srs_epsg(srs);
	if (epsg) {
		char text[32];
		snprintf(text, sizeof text, "EPSG:%d", epsg);
		*out = strdup(text);
		return *out ? 0 : tess_err(TESS_ENOMEM, "out of memory");
	}
	static const char *const opts[] = { "FORMAT=WKT2_2019", NULL };
	char *wkt = NULL;
	if (OSRExportToWktEx(srs, &wkt, opts) != OGRERR_NONE || !wkt) {
		CPLFree(wkt);
		return raster_gdal_err(TESS_EINVAL, "its CRS cannot be written as WKT");
	}
	*out = strdup(wkt);
	CPLFree(wkt);
	return *out ? 0 : tess_err(TESS_ENOMEM, "out of memory");
}

int raster_srs_from_string(OGRSpatialReferenceH *out, const char *crs)
{
	*out = NULL;
	if (!crs || !crs[0])
		return 0;
	OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
	if (!srs)
		return tess_err(TESS_ENOMEM, "out of memory");
	if (OSRSetFromUserInput(srs, crs) != OGRERR_NONE) {
		OSRDestroySpatialReference(srs);
		return raster_gdal_err(TESS_EINVAL, "CRS '%.60s%s' cannot be parsed", crs,
		                       strlen(crs) > 60 ? "..." : "");
	}
	OSRSetAxisMappingStrategy(srs, OAMS_TRADITIONAL_GIS_ORDER);
	*out = srs;
	return 0;
}

int tess_raster_crs_describe(const char *crs, char *name, size_t cap, int *epsg)
{
	raster_gdal_init();
	raster_quiet_begin();
	OGRSpatialReferenceH srs;
	int rc = raster_srs_from_string(&srs, crs);
	raster_quiet_end();
	if (rc)
		return rc;
	*epsg = 0;
	if (cap)
		name[0] = '\0';
	if (!srs)
		return 0;
	const char *n = OSRGetName(srs);
	if (cap)
		snprintf(name, cap, "%s", n ? n : "unnamed");
	*epsg = srs_epsg(srs);
	OSRDestroySpatialReference(srs);
	return 0;
}

int raster_crs_same(const char *a, const char *b, int *same)
{
	*same = 0;
	if (!a || !b) {
		*same = !a && !b;
		return 0;
	}
	if (strcmp(a, b) == 0) {
		*same = 1;
		return 0;
	}
	OGRSpatialReferenceH sa = NULL, sb = NULL;
	int rc = raster_srs_from_string(&sa, a);
	if (!rc)
		rc = raster_srs_from_string(&sb, b);
	if (!rc)
		*same = srs_same(sa, sb) != 0;
	if (sa)
		OSRDestroySpatialReference(sa);
	if (sb)
		OSRDestroySpatialReference(sb);
	return rc;
}

void raster_srs_label(char *buf, size_t cap, const char *crs)
{
	char name[200];
	int epsg = 0;
	if (!crs) {
		snprintf(buf, cap, "none");
		return;
	}
	if (tess_raster_crs_describe(crs, name, sizeof name, &epsg) != 0)
		snprintf(buf, cap, "'%.40s...'", crs);
	else if (epsg)
		snprintf(buf, cap, "EPSG:%d (%s)", epsg, name);
	else
		snprintf(buf, cap, "'%s'", name);
}

/* ---- raster pyramids ---------------------------------------------------- */

int raster_dims_of(raster_dims *out, const tess_pyramid *p, const char *path)
{
	const tess_pyramid_opts *o = tess_pyramid_info(p);
	memset(out, 0, sizeof *out);
	if (o->ndim != 2 && o->ndim != 3)
		return tess_err(TESS_EINVAL, "pyramid '%s' has %d dimensions; a raster pyramid has "
		                "(y, x) or (band, y, x)", path, o->ndim);
	out->ndim = o->ndim;
	out->band = o->ndim == 3 ? 0 : -1;
	out->y = o->ndim - 2;
	out->x = o->ndim - 1;
	out->bands = o->ndim == 3 ? o->shape[0] : 1;
	if (out->band == 0 && o->dims[0].agg != TESS_AGG_NONE)
		return tess_err(TESS_EINVAL, "pyramid '%s': its first dimension '%s' aggregates; a "
		                "raster pyramid's band dimension does not", path, o->dims[0].name);
	for (int d = out->y; d <= out->x; d++) {
		const tess_pyramid_dim *dim = &o->dims[d];
		if (!dim->regular || dim->step == 0 || !isfinite(dim->step) ||
		    !isfinite(dim->origin))
			return tess_err(TESS_EINVAL, "pyramid '%s': dimension '%s' is not equidistant; "
			                "a raster pyramid's y and x are", path, dim->name);
		if (dim->agg == TESS_AGG_NONE)
			return tess_err(TESS_EINVAL, "pyramid '%s': dimension '%s' does not aggregate; "
			                "a raster pyramid's y and x do", path, dim->name);
	}
	return 0;
}

int tess_raster_transform(const tess_pyramid *p, const char *path, int level, double gt[6],
                          int *band_dim)
{
	raster_dims rd;
	int rc = raster_dims_of(&rd, p, path);
	if (rc)
		return rc;
	const tess_pyramid_opts *o = tess_pyramid_info(p);
	double f = ldexp(1.0, level);
	gt[0] = o->dims[rd.x].origin;
	gt[1] = o->dims[rd.x].step * f;
	gt[2] = 0;
	gt[3] = o->dims[rd.y].origin;
	gt[4] = 0;
	gt[5] = o->dims[rd.y].step * f;
	*band_dim = rd.band;
	return 0;
}

uint64_t raster_mul_sat(uint64_t a, uint64_t b)
{
	return b && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

double raster_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void raster_swap(uint8_t *buf, uint64_t n, size_t unit)
{
	for (uint64_t i = 0; i < n; i++, buf += unit)
		for (size_t a = 0, b = unit - 1; a < b; a++, b--) {
			uint8_t t = buf[a];
			buf[a] = buf[b];
			buf[b] = t;
		}
}

uint64_t raster_block_budget(uint64_t dflt)
{
	const char *env = getenv("TESS_RASTER_BLOCK_BYTES");
	if (env && env[0]) {
		char *end;
		unsigned long long v = strtoull(env, &end, 10);
		if (!*end && v > 0)
			return v;
	}
	return dflt;
}
