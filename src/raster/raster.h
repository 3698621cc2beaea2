/*
 * Internal: GDAL rasters in and out of pyramids (src/raster/, built only
 * when GDAL is found: TESS_HAVE_GDAL).
 *
 * A raster pyramid is a pyramid (tessera/pyramid.h) whose last two
 * dimensions are y and x, equidistant and aggregating, and which has at most
 * one more dimension in front: "band", non-aggregating.  A single-band
 * raster becomes (y, x), a multi-band raster (band, y, x) with one band per
 * chunk.  Level 0's x dimension has origin = the raster's left edge and
 * step = the pixel width, y has origin = the top edge and step = the
 * (negative) pixel height: GDAL's geotransform (gt[0], gt[1], gt[3], gt[5]).
 * Level k has the same origin and steps 2^k times larger.  Rotated or
 * sheared geotransforms are refused.
 *
 * Importing into an existing pyramid mosaics: the raster goes to the level-0
 * cells its geotransform names.  It needs the same CRS, the same pixel size,
 * the same dtype and band count, and an origin on the pyramid's grid; the
 * pyramid grows to the right and down as needed.  Growth to the left or up
 * would shift every stored chunk and is refused with a message: create the
 * pyramid with the union extent first (import --extent).  Cells that are
 * nodata (or NaN) in the raster do not overwrite what the pyramid holds.
 */
#ifndef TESS_RASTER_H
#define TESS_RASTER_H

#include <stddef.h>
#include <stdint.h>

#include "tessera.h"
#include "tessera/pyramid.h"

/** Import options.  Initialize with TESS_RASTER_IMPORT_OPTS_INIT. */
typedef struct tess_raster_import_opts {
	uint64_t tile;        /**< chunk edge along y and x (creation); 0: 512 */
	tess_agg agg;         /**< aggregator of y and x (creation) */
	int zarr_format;      /**< 2 or 3 (creation) */
	const char *codec;    /**< as tess_array_opts.codec (creation); NULL: default */
	int has_extent;       /**< creation: cover at least this world box ... */
	double extent[4];     /**< ... minx, miny, maxx, maxy (snapped outward to cells) */
	int no_update;        /**< 1: leave the written chunks dirty (mosaic many, update once) */
	tess_progress_cb progress; /**< bytes of level 0 written so far / in total */
	void *payload;
} tess_raster_import_opts;

#define TESS_RASTER_IMPORT_OPTS_INIT { 0, TESS_AGG_MEAN, 2, NULL, 0, {0, 0, 0, 0}, 0, NULL, NULL }

/** What an import did. */
typedef struct tess_raster_import_result {
	int created;           /**< 1: the pyramid was created by this import */
	int ndim;              /**< 2 or 3 */
	uint64_t at[3];        /**< where the raster's first pixel went (level-0 index) */
	uint64_t count[3];     /**< the raster's extent (band, y, x / y, x) */
	uint64_t shape[3];     /**< level 0 afterwards */
	int levels;            /**< afterwards */
	size_t dirty;          /**< dirty level-0 chunks after the writes */
	int updated;           /**< 1: tess_pyramid_update ran (see update) */
	tess_pyramid_update_stats update;
	double read_seconds;   /**< spent in GDAL reading the file */
	double write_seconds;  /**< spent writing level 0 */
} tess_raster_import_result;

/**
 * Import the raster FILE (anything GDAL reads) into the pyramid at `path`,
 * creating it if there is none, and update the pyramid unless no_update.
 * Errors: TESS_ENOTFOUND (no FILE), TESS_EINVAL (not a raster, an
 * unsupported dtype or geotransform, a mismatch with the existing pyramid:
 * the message names what differs), TESS_EIO, and the pyramid's own.
 * `res` may be NULL.
 */
int tess_raster_import(tess_store *st, const char *path, const char *file,
                       const tess_raster_import_opts *opts, tess_raster_import_result *res);

/** Export options.  Initialize with TESS_RASTER_EXPORT_OPTS_INIT. */
typedef struct tess_raster_export_opts {
	int level;            /**< the level to export, or to take the resolution from */
	int has_bbox;         /**< 1: only bbox (minx, miny, maxx, maxy, world) */
	double bbox[4];
	uint64_t width, height; /**< output size; 0, 0: the level's cells over the box */
	int resample;         /**< tess_resample, or -1: average for mean pyramids,
	                           else nearest */
	tess_progress_cb progress; /**< bytes written so far / in total */
	void *payload;
} tess_raster_export_opts;

#define TESS_RASTER_EXPORT_OPTS_INIT { 0, 0, {0, 0, 0, 0}, 0, 0, -1, NULL, NULL }

/** What an export wrote. */
typedef struct tess_raster_export_result {
	uint64_t width, height;
	int bands;
	int level;            /**< the level read (the coarsest fine enough) */
	int exact;            /**< 1: a level's cells copied as they are, no resampling */
	double gt[6];         /**< the GeoTIFF's geotransform */
} tess_raster_export_result;

/**
 * Write a tiled, deflate-compressed, georeferenced GeoTIFF of the pyramid at
 * `path` to FILE (under a temporary name, renamed when complete).  Without
 * bbox and size, level `level`'s cells exactly; otherwise the box (default:
 * the whole extent) at the size (default: the level's resolution over the
 * box), read with tess_pyramid_read_world.  Nodata and CRS are set when the
 * pyramid has them.  `res` may be NULL.
 */
int tess_raster_export(tess_store *st, const char *path, const char *file,
                       const tess_raster_export_opts *opts, tess_raster_export_result *res);

/** A raster file as GDAL sees it and as an import would take it. */
typedef struct tess_raster_file_info {
	char driver[32];
	uint64_t width, height;
	int bands;
	tess_dtype dtype;     /**< of every band (a file with mixed types is refused) */
	int has_gt;           /**< 0: no georeferencing (pixel coordinates) */
	double gt[6];
	int has_nodata;
	double nodata;
	char *crs;            /**< "EPSG:n" or WKT, or NULL; free with tess_free */
	int block[2];         /**< natural block of band 1 (x, y) */
	int overviews;        /**< of band 1 */
} tess_raster_file_info;

/** Describe FILE; free with tess_raster_file_info_free.  Errors as import. */
int tess_raster_file_info_get(tess_raster_file_info *out, const char *file);
void tess_raster_file_info_free(tess_raster_file_info *info);

/**
 * The name of a CRS ("WGS 84 / UTM zone 33N") and its EPSG code (0: none)
 * from a CRS string as pyramids keep it ("EPSG:n" or WKT).  TESS_EINVAL
 * when GDAL cannot parse it.
 */
int tess_raster_crs_describe(const char *crs, char *name, size_t cap, int *epsg);

/**
 * The GDAL geotransform of a raster pyramid's level `level`; TESS_EINVAL
 * (naming why, and `path` for the pyramid) when the pyramid is not a
 * raster pyramid (see above).
 * *band_dim is 0 for (band, y, x), -1 for (y, x).
 */
int tess_raster_transform(const tess_pyramid *p, const char *path, int level, double gt[6],
                          int *band_dim);

/** "GDAL 3.6.2" */
const char *tess_raster_gdal_version(void);

#endif
