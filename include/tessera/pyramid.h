/*
 * tessera/pyramid.h - multi-resolution gridded data, kept up to date
 * incrementally.
 *
 * A pyramid is a Zarr group with level arrays "0", "1", ..., "N".  Data goes
 * in at level 0 only; level k+1 halves every aggregating dimension of level k
 * (ceil(n/2) cells, each aggregating the up to 2 fine cells per dimension
 * that exist) and carries non-aggregating dimensions (a band, say) through.
 * N is the first level whose aggregating dimensions each fit in one chunk.
 * All levels share the chunk shape and dtype.
 *
 * Every write to level 0 - through tess_pyramid_write, through
 * tess_array_write on the level-0 array, or any CLI command - first records
 * durably which level-0 chunks it touches ("dirty").  tess_pyramid_update
 * recomputes only their ancestors and then clears exactly the records it
 * processed, so an update killed at any point is simply run again, and
 * writes racing with an update are never forgotten.  Writes to levels > 0
 * are refused: "writes go to level 0; level 2 is derived".
 *
 * The group's attributes hold OME-NGFF 0.4 style "multiscales" (dataset
 * paths with scale transforms) and Tessera's "tessera_pyramid" (aggregators,
 * nodata, CRS, coordinates); docs/pyramid.md specifies both exactly.
 */
#ifndef TESSERA_PYRAMID_H
#define TESSERA_PYRAMID_H

#include <stddef.h>
#include <stdint.h>
#include "array.h"

#ifdef __cplusplus
extern "C" {
#endif

/** How a dimension aggregates from a level to the next. */
typedef enum tess_agg {
	TESS_AGG_NONE = 0, /**< non-aggregating: carried through unchanged */
	TESS_AGG_MEAN,     /**< in double, stored in the dtype (ints rounded to nearest) */
	TESS_AGG_MIN,
	TESS_AGG_MAX,
	TESS_AGG_SUM,
	TESS_AGG_COUNT,    /**< number of valid fine cells */
	TESS_AGG_MODE,     /**< most frequent valid value; ties: the smallest */
	TESS_AGG_NEAREST,  /**< the first valid fine cell (lowest index) */
	TESS_AGG_LAST,     /**< the last valid fine cell (highest index) */
} tess_agg;

/** "mean", "min", ... "none" <-> tess_agg.  Parse: TESS_EINVAL naming it. */
int tess_agg_parse(tess_agg *out, const char *name);
const char *tess_agg_name(tess_agg agg);

/**
 * One dimension of level 0.  Aggregating dimensions share one aggregator
 * (the cells of all aggregating dimensions form one block per coarse cell):
 * give the same agg to each, or TESS_AGG_NONE.
 *
 * Coordinates: an equidistant dimension maps index i to world coordinate
 * origin + i * step (the cell's leading edge, as GDAL's geotransform does:
 * x: origin = left edge, step > 0; y: origin = top edge, step < 0).  A
 * non-equidistant dimension (regular = 0) keeps one coordinate per cell in
 * an array (strictly increasing), set with tess_pyramid_append.
 */
typedef struct tess_pyramid_dim {
	const char *name; /**< "y", "x", "band", "time"; required, unique */
	tess_agg agg;
	int regular;      /**< 1: origin + step; 0: coordinate array */
	double origin;
	double step;      /**< non-zero when regular */
} tess_pyramid_dim;

#define TESS_PYRAMID_OPTS_VERSION 1

/** Creation options.  Initialize with TESS_PYRAMID_OPTS_INIT, then set. */
typedef struct tess_pyramid_opts {
	unsigned version;
	int ndim;
	uint64_t shape[TESS_ARRAY_MAX_DIMS];  /**< level 0; may be 0 along a
	                                           dimension that grows by append */
	uint64_t chunks[TESS_ARRAY_MAX_DIMS]; /**< every level's chunk shape */
	tess_dtype dtype;
	tess_pyramid_dim dims[TESS_ARRAY_MAX_DIMS];
	const char *codec;   /**< as tess_array_opts.codec; NULL: blosc default */
	int zarr_format;     /**< 2 (default) or 3 */
	int has_nodata;      /**< 1: `nodata` marks missing cells (and is the
	                          fill value); NaN is always missing for floats */
	double nodata;
	const char *crs;     /**< WKT or "EPSG:n", or NULL */
	int update_on_write; /**< 1: every level-0 write updates its ancestors
	                          before it returns */
} tess_pyramid_opts;

#define TESS_PYRAMID_OPTS_INIT { TESS_PYRAMID_OPTS_VERSION, 0, {0}, {0}, \
	{ TESS_DT_FLOAT, 4, '<' }, {{0}}, NULL, 2, 0, 0.0, NULL, 0 }

typedef struct tess_pyramid tess_pyramid;

/**
 * Create a pyramid group at `path` with all its levels (empty: fill) and
 * open it.  Errors: TESS_EINVAL (bad options; the message names the field),
 * TESS_EEXISTS (a node exists at path), TESS_EIO.
 */
int tess_pyramid_create(tess_pyramid **out, tess_store *st, const char *path,
                        const tess_pyramid_opts *opts);

/** Open.  TESS_ENOTFOUND; TESS_ECORRUPT when the metadata is malformed. */
int tess_pyramid_open(tess_pyramid **out, tess_store *st, const char *path);

/** Close and free; NULL is a no-op. */
void tess_pyramid_close(tess_pyramid *p);

/** Is there a pyramid at path?  1 yes, 0 no (any node or nothing). */
int tess_pyramid_exists(tess_store *st, const char *path);

/** The options it was created with, as now (shape = level 0's; borrowed). */
const tess_pyramid_opts *tess_pyramid_info(const tess_pyramid *p);

/** Number of levels (N + 1). */
int tess_pyramid_levels(const tess_pyramid *p);

/** Level k's array (borrowed; valid until close).  NULL past the last. */
tess_array *tess_pyramid_level(tess_pyramid *p, int level);

/**
 * Write a region of level 0 (C order, dtype of the pyramid), growing level
 * 0 (and adding levels) when the region reaches past its shape.  Marks the
 * touched chunks dirty first; with update_on_write, updates before
 * returning.
 */
int tess_pyramid_write(tess_pyramid *p, const uint64_t *start, const uint64_t *count,
                       const void *buf);

/** Grow (never shrink) level 0 to `shape`; levels are added as needed. */
int tess_pyramid_grow(tess_pyramid *p, const uint64_t *shape);

/** What an update did. */
typedef struct tess_pyramid_update_stats {
	size_t dirty;           /**< level-0 chunks that were dirty */
	size_t chunks_written;  /**< coarse chunks recomputed, all levels */
	double seconds;
} tess_pyramid_update_stats;

/**
 * Recompute the ancestors of the dirty level-0 chunks, level by level, in
 * parallel, then clear the records it processed.  `stats` may be NULL.
 * Safe to run again after a crash; concurrent updates of one pyramid are
 * serialized by a store lock (TESS_EBUSY after waiting).
 */
int tess_pyramid_update(tess_pyramid *p, tess_pyramid_update_stats *stats);

/** Recompute every level > 0 from level 0 and clear all dirty records. */
int tess_pyramid_rebuild(tess_pyramid *p, tess_pyramid_update_stats *stats);

/** Number of dirty level-0 chunks recorded now. */
int tess_pyramid_dirty_count(size_t *out, tess_pyramid *p);

/* ---- reads ------------------------------------------------------------------ */

typedef enum tess_resample {
	TESS_RESAMPLE_NEAREST = 0,
	TESS_RESAMPLE_AVERAGE, /**< mean of the valid source cells per output cell */
} tess_resample;

/**
 * Read the level-0 index region [start, start+count) resampled to
 * out_shape cells (C order, the pyramid's dtype; missing cells are nodata,
 * or NaN for floats without nodata, or 0).  The level used is the coarsest
 * whose resolution is still at least the requested one along every
 * aggregating dimension; non-aggregating dimensions must have out_shape ==
 * count.  *out_level (may be NULL) receives it.  TESS_EINVAL for a region
 * outside level 0 or a zero size.
 */
int tess_pyramid_read(tess_pyramid *p, const uint64_t *start, const uint64_t *count,
                      const uint64_t *out_shape, tess_resample resample, void *buf,
                      int *out_level);

/**
 * As tess_pyramid_read, for a box in world coordinates: lo[d]..hi[d] per
 * dimension (for non-aggregating dimensions pass index bounds [i, j)).
 * Parts of the box outside the data are nodata.  TESS_EINVAL if lo >= hi.
 */
int tess_pyramid_read_world(tess_pyramid *p, const double *lo, const double *hi,
                            const uint64_t *out_shape, tess_resample resample, void *buf,
                            int *out_level);

/**
 * The value of the level-0 cell containing world point `coord` (for
 * non-aggregating dimensions: an index) into `value` (one element).
 * TESS_ERANGE when the point is outside the extent.
 */
int tess_pyramid_point(tess_pyramid *p, const double *coord, void *value);

/**
 * World extent of level 0: lo/hi per dimension (for a non-equidistant
 * dimension the first and last coordinate; non-aggregating: 0..n).
 */
int tess_pyramid_extent(tess_pyramid *p, double *lo, double *hi);

/**
 * Bounds of the valid data in level-0 indices: [start, start+count) of the
 * smallest box holding every valid cell, computed from the coarsest level
 * (cheap) and refined; count all 0 when there is no valid cell.
 */
int tess_pyramid_data_bounds(tess_pyramid *p, uint64_t *start, uint64_t *count);

/* ---- non-equidistant dimensions ----------------------------------------------- */

/**
 * Map the coordinate range [from, to] of non-equidistant dimension `dim` to
 * the index range [*start, *start + *count) of the cells inside it.
 * TESS_EINVAL if the dimension is equidistant (use the origin and step).
 */
int tess_pyramid_coord_range(tess_pyramid *p, int dim, double from, double to,
                             uint64_t *start, uint64_t *count);

/**
 * Append `n` cells along non-equidistant dimension `dim`: their coordinates
 * (strictly increasing, after the last one) and the level-0 data for them
 * (the full extent of every other dimension, C order).  Marks dirty like a
 * write.  TESS_EINVAL for coordinates out of order.
 */
int tess_pyramid_append(tess_pyramid *p, int dim, const double *coords, size_t n,
                        const void *buf);

/** Coordinates of a non-equidistant dimension (borrowed; length = shape). */
const double *tess_pyramid_coords(tess_pyramid *p, int dim);

#ifdef __cplusplus
}
#endif
#endif
