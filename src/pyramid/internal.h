/*
 * Internal to src/pyramid: the pyramid handle, its metadata, the dirty
 * records, the aggregation kernels and the level arithmetic.
 *
 * docs/pyramid.md is the specification of what is stored; this header is
 * the map of the code:
 *
 *   meta.c     group attributes <-> pyr_meta ("multiscales", "tessera_pyramid")
 *   agg.c      the aggregation kernels, one per dtype and aggregator
 *   dirty.c    dirty records (markers) and the per-chunk work lists of an update
 *   pyramid.c  create, open, close, grow, write, append
 *   update.c   update, rebuild, and the levels a changed level 0 needs
 *   read.c     reads at any resolution, points, extent, data bounds, coordinates
 *   hook.c     what the array module calls on every write to a level array
 */
#ifndef TESS_PYRAMID_INTERNAL_H
#define TESS_PYRAMID_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store/internal.h"
#include "tessera/pyramid.h"

#define PYR_MAXD TESS_ARRAY_MAX_DIMS
/** Most levels a pyramid may have (a length halves 63 times to 1). */
#define PYR_MAX_LEVELS 64
/** Most aggregating dimensions: a coarse cell aggregates up to 2^8 cells. */
#define PYR_MAX_AGG_DIMS 8
#define PYR_MAX_BLOCK (1u << PYR_MAX_AGG_DIMS)

/* ---- metadata (meta.c) ------------------------------------------------------------ */

/** One dimension as the group attributes describe it. */
typedef struct pyr_dim_meta {
	char *name;
	tess_agg agg;
	int regular;       /**< 1: origin and step; 0: a coordinate array */
	double origin, step;
	char *coords;      /**< irregular: the coordinate array, relative to the group */
} pyr_dim_meta;

/** The parsed "tessera_pyramid" (and the level count from "multiscales"). */
typedef struct pyr_meta {
	int ndim;
	pyr_dim_meta dims[PYR_MAXD];
	int has_nodata;
	double nodata;     /**< may be NaN or infinite for float dtypes */
	char *crs;         /**< NULL when absent */
	char *codec;       /**< the levels' codec SPEC, NULL for the default */
	int update_on_write;
	int nlevels;       /**< datasets "0".."nlevels-1" of "multiscales" */
} pyr_meta;

/**
 * Parse a group's attributes object.  TESS_ENOTFOUND (no message) when it
 * has no "tessera_pyramid" member; TESS_ECORRUPT naming the member when it
 * or "multiscales" is malformed; TESS_ENOTSUP for a newer "version".
 * `what` starts messages.  *out is cleared on failure.
 */
int pyr_meta_parse(pyr_meta *out, const json_t *attrs, const char *what);

/** Same from JSON text (a v2 `.zattrs`); for the fuzzer and tests. */
int pyr_meta_parse_text(pyr_meta *out, const char *text, size_t len, const char *what);

/**
 * Set "multiscales" and "tessera_pyramid" for `m` (its nlevels) in the
 * attributes object `attrs`, keeping its other members.  `name` is the
 * group's name and `dtype_int` whether the dtype is an integer type (the
 * nodata is then written as an integer).
 */
int pyr_meta_store(json_t *attrs, const pyr_meta *m, const char *name, int dtype_int);

/** Deep copy; TESS_ENOMEM. */
int pyr_meta_copy(pyr_meta *dst, const pyr_meta *src);
void pyr_meta_clear(pyr_meta *m);

/** The OME-NGFF axis type of a dimension name ("space", "time", "channel") or NULL. */
const char *pyr_axis_type(const char *name);

/* ---- the handle (pyramid.c) --------------------------------------------------------- */

struct tess_pyramid {
	tess_store *st;
	char *path;
	int zarr_format;
	pyr_meta meta;
	tess_pyramid_opts info;      /**< what tess_pyramid_info returns (strings are meta's) */
	tess_dtype dtype;
	size_t itemsize;
	uint8_t fill[8];             /**< one element: nodata, NaN, or 0 */
	tess_agg agg;                /**< of the aggregating dimensions; NONE if there are none */
	int aggd[PYR_MAXD];          /**< 1 along aggregating dimensions */
	uint64_t chunks[PYR_MAXD];
	int nlevels;
	tess_array *levels[PYR_MAX_LEVELS];
	double *coords[PYR_MAXD];    /**< irregular dimensions: shape[d] coordinates */
	size_t coords_cap[PYR_MAXD];
	int busy;                    /**< inside tess_pyramid_write: it updates at the end */
	int locked;                  /**< this handle holds the lock "pyramid:<path>" */
};

/** Level k's shape from level 0's: ceil(n / 2^k) along aggregating dimensions. */
void pyr_level_shape(const tess_pyramid *p, const uint64_t *shape0, int k, uint64_t *out);

/** The number of levels level-0 shape `shape0` needs: N + 1. */
int pyr_levels_needed(const tess_pyramid *p, const uint64_t *shape0);

/** 1 when dtype is one a pyramid holds (little-endian ints, f4, f8). */
int pyr_dtype_ok(const tess_dtype *dt);

/** The element `v` of dtype dt (little endian) into out; 0, or TESS_EINVAL when it
 * does not fit. */
int pyr_value_to_elem(uint8_t *out, const tess_dtype *dt, double v);

/** Read the group attributes object (v2 .zattrs or the v3 group's zarr.json);
 * *fmt gets 2 or 3.  TESS_ENOTFOUND when no group is there. */
int pyr_group_attrs_load(json_t **doc, json_t **attrs, int *fmt, tess_store *st,
                         const char *path);

/**
 * Rewrite the group's metadata for p->meta (with p->nlevels levels), under
 * the node's metadata lock, keeping other attributes.
 */
int pyr_group_attrs_save(tess_pyramid *p);

/**
 * Make the level arrays fit level 0 as it is now: re-read level 0's shape
 * (another handle may have resized it), resize levels 1.. to their shapes,
 * create and compute levels that are missing, record the level count.
 * Holds no lock itself: the caller holds "pyramid:<path>".
 * *first_new receives the first level that was created (nlevels if none).
 */
int pyr_reconcile(tess_pyramid *p, int *first_new);

/** Compute levels first.. fully, each from the one below (update.c). */
int pyr_compute_levels_from(tess_pyramid *p, int first, tess_pyramid_update_stats *stats);

/**
 * Writes to levels > 0 are the pyramid's own between begin and end, on
 * this thread (hook.c): the updater's tasks bracket their writes with them.
 */
void pyr_derive_begin(void);
void pyr_derive_end(void);

/** The pyramid lock name "pyramid:<path>" into buf (TESS_NODE_KEYBUF bytes). */
void pyr_lock_name(char *buf, const char *path);

/** Take the pyramid's store lock (updates and growth); the message names it. */
int pyr_lock(tess_lock **out, tess_pyramid *p);

/* ---- dirty records (dirty.c) ------------------------------------------------------------ */

/**
 * A list of boxes of cells: per entry, ndim chunk coordinates (for work
 * lists; unused for plain box lists), ndim lows and ndim highs (exclusive).
 */
typedef struct pyr_boxes {
	int ndim;
	size_t n, cap;
	uint64_t *v; /* 3 * ndim per entry: chunk, lo, hi */
} pyr_boxes;

void pyr_boxes_free(pyr_boxes *b);
int pyr_boxes_add(pyr_boxes *b, const uint64_t *chunk, const uint64_t *lo, const uint64_t *hi);
static inline uint64_t *pyr_box_chunk(const pyr_boxes *b, size_t i) { return b->v + i * 3 * (size_t)b->ndim; }
static inline uint64_t *pyr_box_lo(const pyr_boxes *b, size_t i) { return pyr_box_chunk(b, i) + b->ndim; }
static inline uint64_t *pyr_box_hi(const pyr_boxes *b, size_t i) { return pyr_box_chunk(b, i) + 2 * b->ndim; }

/**
 * The work of one level: for every chunk of a level of `shape` (chunk shape
 * `chunks`) that the boxes `in` touch after `halve` (1: the parents of the
 * cells along aggregating dimensions `aggd`; 0: the cells themselves), the
 * bounding box of what is touched inside it.  Sorted by chunk, one entry
 * per chunk.  Boxes are clipped to the shape.
 */
int pyr_work_from_boxes(pyr_boxes *out, const pyr_boxes *in, int halve, const int *aggd,
                        const uint64_t *shape, const uint64_t *chunks);

/** Every chunk of a level, whole. */
int pyr_work_all(pyr_boxes *out, int ndim, const uint64_t *shape, const uint64_t *chunks);

/** The marker names listed for one pyramid and the boxes they record. */
typedef struct pyr_dirty {
	pyr_boxes boxes;  /**< level-0 cell boxes */
	char **keys;      /**< the marker keys, to delete after an update */
	size_t nkeys, cap;
} pyr_dirty;

/** List every marker of the pyramid at `path` (ndim dimensions). */
int pyr_dirty_list(pyr_dirty *out, tess_store *st, const char *path, int ndim);
/** Put the record directory's `.keep` object (see dirty.c). */
int pyr_dirty_keep(tess_store *st, const char *path);

/** Delete exactly the listed markers (batched). */
int pyr_dirty_delete(const pyr_dirty *d, tess_store *st);
void pyr_dirty_free(pyr_dirty *d);

/**
 * Record durably that the level-0 cells of the boxes (n of them, ndim each
 * as lo[], hi[]) change: one marker per box with a fresh random token, one
 * batched put.  `first_key` (TESS_KEY_MAX + 1 bytes, may be NULL) receives
 * the first marker's key.
 */
int pyr_mark(tess_store *st, const char *path, int ndim, size_t n, const uint64_t *lo,
             const uint64_t *hi, char *first_key);

/**
 * 1 when the pyramid's store lock "pyramid:<path>" is held (an update,
 * rebuild or grow is running), or when that cannot be told.  pyr_lock_key
 * gives the lock's object key (64 bytes).
 */
int pyr_update_running(tess_store *st, const char *path);
void pyr_lock_key(char *buf, const char *path);

/* ---- kernels (agg.c) ---------------------------------------------------------------------- */

/** One aggregation of a child region into its coarse region. */
typedef struct pyr_agg_job {
	int ndim;
	const uint64_t *in_shape;  /**< child region; its start is even along aggd */
	const uint64_t *out_shape; /**< ceil(in / 2) along aggd, in_shape elsewhere */
	const int *aggd;
	const void *in;            /**< C order, little endian, aligned */
	void *out;
	const tess_dtype *dtype;
	tess_agg agg;              /**< TESS_AGG_COUNT counts; pass TESS_AGG_SUM to add counts */
	int has_nodata;
	const void *nodata;        /**< one element, when has_nodata */
	const void *fill;          /**< one element: the result of a block without valid cells */
} pyr_agg_job;

/** Run it.  TESS_EINVAL for a dtype or aggregator it has no kernel for. */
int pyr_aggregate(const pyr_agg_job *j);

/** 1 when element `e` (dtype dt) is valid: not NaN, not nodata. */
int pyr_elem_valid(const tess_dtype *dt, const void *e, int has_nodata, const void *nodata);

/** Element (any alignment) as a double / a double stored into an element,
 * rounded to nearest (ties away from zero) and saturated for integers. */
double pyr_elem_get(const tess_dtype *dt, const void *e);
void pyr_elem_set(const tess_dtype *dt, void *e, double v);

#endif
