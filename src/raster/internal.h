/* Internal to src/raster/: GDAL set-up, errors, dtypes, CRS, raster pyramids. */
#ifndef TESS_RASTER_INTERNAL_H
#define TESS_RASTER_INTERNAL_H

#include <gdal.h>
#include <ogr_srs_api.h>

#include "raster/raster.h"
#include "util/error.h"

/** Register GDAL's drivers once per process. */
void raster_gdal_init(void);

/**
 * GDAL prints its errors to stderr unless told otherwise: between
 * raster_quiet_begin and raster_quiet_end (same thread) they are only kept,
 * and raster_gdal_err reports the last one.
 */
void raster_quiet_begin(void);
void raster_quiet_end(void);

/**
 * tess_err(code, "<what>: <GDAL's last message>") (or "<what>" alone when
 * GDAL left none); returns code.
 */
int raster_gdal_err(int code, const char *fmt, ...) TESS_PRINTF(2, 3);

/**
 * Open FILE for reading: TESS_ENOTFOUND / TESS_EINVAL naming FILE.
 * `threaded`: let GDAL decode on every CPU (unless $GDAL_NUM_THREADS says
 * otherwise).
 */
int raster_open(GDALDatasetH *out, const char *file, int threaded);

/**
 * GDAL data type <-> Tessera dtype (native byte order).  `signed_byte`: a
 * Byte band marked PIXELTYPE=SIGNEDBYTE (GDAL < 3.7 has no Int8).
 * TESS_EINVAL naming the type when Tessera has no such dtype.
 */
int raster_dtype_from_gdal(tess_dtype *out, GDALDataType t, int signed_byte);
int raster_dtype_to_gdal(GDALDataType *out, int *signed_byte, const tess_dtype *dt);

/** The dataset's CRS as kept in a pyramid ("EPSG:n" when that is exactly
 * it, else WKT2), malloc'd; *out NULL when the file has none. */
int raster_crs_string(char **out, GDALDatasetH ds);

/** A spatial reference from a pyramid's CRS string (traditional GIS axis
 * order, as geotransforms use); NULL crs gives *out NULL. */
int raster_srs_from_string(OGRSpatialReferenceH *out, const char *crs);

/** *same = 1 when two CRS strings (either may be NULL: none) name the
 * same CRS.  TESS_EINVAL when one cannot be parsed. */
int raster_crs_same(const char *a, const char *b, int *same);

/** Short text of an SRS for messages: "EPSG:32633" or its name. */
void raster_srs_label(char *buf, size_t cap, const char *crs);

/* ---- raster files ------------------------------------------------------- */

/** An open raster file and what an import takes from it. */
typedef struct raster_source {
	const char *file;
	GDALDatasetH ds;
	GDALDataType gtype;
	tess_raster_file_info info;
} raster_source;

/**
 * Open FILE and check an import can take it: bands of one type that
 * Tessera has, one nodata value, a north-up geotransform.  Close with
 * raster_source_close (also after a failure).
 */
int raster_source_open(raster_source *src, const char *file, int threaded);
void raster_source_close(raster_source *src);

/* ---- raster pyramids ---------------------------------------------------- */

/** The dimension indexes of a raster pyramid. */
typedef struct raster_dims {
	int ndim;
	int band;   /**< -1 when single-band */
	int y, x;
	uint64_t bands;
} raster_dims;

/** Check p is a raster pyramid (see raster.h) and find its dimensions. */
int raster_dims_of(raster_dims *out, const tess_pyramid *p, const char *path);

/** a * b, saturating at UINT64_MAX. */
uint64_t raster_mul_sat(uint64_t a, uint64_t b);

/** Seconds on the monotonic clock. */
double raster_now(void);

/** '<' or '>': the host's byte order. */
char raster_native_endian(void);

/** Reverse the bytes of each of n units of `unit` bytes. */
void raster_swap(uint8_t *buf, uint64_t n, size_t unit);

/** Bytes per block buffer: $TESS_RASTER_BLOCK_BYTES (tests make blocks
 * small with it), else `dflt`. */
uint64_t raster_block_budget(uint64_t dflt);

#endif
