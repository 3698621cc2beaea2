/*
 * tess_raster_import: a raster file into a pyramid's level 0.
 *
 * The raster is read in windows that fall on the pyramid's chunk grid
 * (whole chunk rows when they fit in the block budget, else runs of
 * chunks), so each chunk is written once and only the chunks the raster
 * covers become dirty.  A reader thread runs GDAL on the next block while
 * the calling thread merges and writes the current one (Tessera encodes
 * chunks in parallel on its pool).
 */
#include "raster/internal.h"

#include <cpl_error.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TILE 512
/* Bytes per block buffer (three are allocated); $TESS_RASTER_BLOCK_BYTES
 * makes blocks small in tests. */
#define BLOCK_BYTES ((uint64_t)64 << 20)
/* Cells a pyramid may span along y or x from an --extent. */
#define MAX_CELLS ((uint64_t)1 << 40)
/* A raster origin this close to a pyramid cell edge (in cells) is on it. */
#define GRID_EPS 1e-6
/* Pixel sizes this close (relative) are the same. */
#define STEP_EPS 1e-9

typedef struct import_job {
	tess_store *st;
	const char *path;
	const char *file;
	const tess_raster_import_opts *opts;
	tess_raster_import_result *res;
	raster_source src;
	tess_pyramid *p;
	tess_array *level0;
	raster_dims rd;
	int created;
	uint64_t at[3];    /* the raster's first cell in level 0 */
	uint64_t count[3]; /* the raster's extent in level 0 */
	size_t itemsize;
	size_t swap;       /* bytes per swapped unit when the pyramid's byte order
	                      is not the host's, else 0 */
	/* Block (i, j) is rows ys[i]..ys[i+1], columns xs[j]..xs[j+1]. */
	uint64_t *ys, *xs;
	size_t nys, nxs;
	uint64_t block_bytes;
	double read_seconds;
} import_job;

/* ---- creating or matching the pyramid ------------------------------------ */

/*
 * Along one dimension (raster origin o, step s, n cells): how many cells a
 * grid through the raster's cells needs before the raster (*before) and in
 * total (*total) to cover the world interval [wa, wb] as well.
 */
static int extent_span(double o, double s, uint64_t n, double wa, double wb,
                       uint64_t *before, uint64_t *total, const char *name)
{
	double ia = (wa - o) / s, ib = (wb - o) / s;
	double lo = ia < ib ? ia : ib, hi = ia < ib ? ib : ia;
	double b = lo < 0 ? ceil(-lo - GRID_EPS) : 0;
	double t = ceil(hi + b - GRID_EPS);
	if (!isfinite(b) || !isfinite(t) || b + (double)n > (double)MAX_CELLS ||
	    t > (double)MAX_CELLS)
		return tess_err(TESS_EINVAL, "--extent: %s would span more than 2^40 cells", name);
	*before = (uint64_t)b;
	*total = (uint64_t)t > *before + n ? (uint64_t)t : *before + n;
	return 0;
}

static int create_pyramid(import_job *job)
{
	const tess_raster_file_info *in = &job->src.info;
	const tess_raster_import_opts *o = job->opts;
	tess_pyramid_opts po = TESS_PYRAMID_OPTS_INIT;
	const int nd = in->bands > 1 ? 3 : 2, y = nd - 2, x = nd - 1;
	const uint64_t tile = o->tile ? o->tile : DEFAULT_TILE;
	double ox = in->gt[0], oy = in->gt[3];
	uint64_t bx = 0, by = 0, nx = in->width, ny = in->height;
	int rc;
	if (o->agg == TESS_AGG_NONE)
		return tess_err(TESS_EINVAL, "raster import '%s': y and x must aggregate (not "
		                "'none')", job->path);
	if (o->has_extent) {
		const double *e = o->extent; /* minx, miny, maxx, maxy */
		if (!(e[0] < e[2]) || !(e[1] < e[3]))
			return tess_err(TESS_EINVAL, "--extent: expected MINX < MAXX and MINY < MAXY");
		if ((rc = extent_span(in->gt[0], in->gt[1], in->width, e[0], e[2], &bx, &nx, "x")) ||
		    (rc = extent_span(in->gt[3], in->gt[5], in->height, e[1], e[3], &by, &ny, "y")))
			return rc;
		ox -= (double)bx * in->gt[1];
		oy -= (double)by * in->gt[5];
	}
	po.ndim = nd;
	if (nd == 3) {
		po.shape[0] = (uint64_t)in->bands;
		po.chunks[0] = 1;
		po.dims[0] = (tess_pyramid_dim){ "band", TESS_AGG_NONE, 1, 0, 1 };
	}
	po.shape[y] = ny;
	po.shape[x] = nx;
	po.chunks[y] = po.chunks[x] = tile;
	po.dims[y] = (tess_pyramid_dim){ "y", o->agg, 1, oy, in->gt[5] };
	po.dims[x] = (tess_pyramid_dim){ "x", o->agg, 1, ox, in->gt[1] };
	po.dtype = in->dtype;
	po.codec = o->codec;
	po.zarr_format = o->zarr_format ? o->zarr_format : 2;
	po.has_nodata = in->has_nodata;
	po.nodata = in->nodata;
	po.crs = in->crs;
	if ((rc = tess_pyramid_create(&job->p, job->st, job->path, &po)) != 0)
		return rc;
	job->created = 1;
	job->at[y] = by;
	job->at[x] = bx;
	return 0;
}

static int check_crs(const import_job *job)
{
	const char *mine = tess_pyramid_info(job->p)->crs, *theirs = job->src.info.crs;
	int same, rc = raster_crs_same(mine, theirs, &same);
	if (rc)
		return tess_err_prefix(rc, "raster import '%s': ", job->path);
	if (same)
		return 0;
	char a[300], b[300];
	raster_srs_label(a, sizeof a, theirs);
	raster_srs_label(b, sizeof b, mine);
	return tess_err(TESS_EINVAL, "raster import '%s': the CRS of %s, %s, is not the "
	                "pyramid's, %s; reproject it first (gdalwarp -t_srs)", job->path,
	                job->file, a, b);
}

static int same_step(double a, double b)
{
	return fabs(a - b) <= STEP_EPS * fabs(b);
}

/* Where the raster's first cell falls along one dimension of level 0. */
static int grid_offset(const import_job *job, const tess_pyramid_dim *dim, double origin,
                       const char *side, uint64_t *out)
{
	double f = (origin - dim->origin) / dim->step;
	double r = nearbyint(f);
	if (fabs(f - r) > GRID_EPS)
		return tess_err(TESS_EINVAL, "raster import '%s': %s is not on the pyramid's grid: "
		                "its %s origin is %.6g cells off a cell edge (resample it onto "
		                "the pyramid's cells first: gdalwarp -tr, -te)", job->path, job->file, dim->name, f - r);
	if (r < 0)
		return tess_err(TESS_EINVAL, "raster import '%s': %s starts %.0f cells %s the "
		                "pyramid; pyramids grow only toward higher indices (right and "
		                "down): create the pyramid with an extent that covers every raster "
		                "(tess raster import --extent)", job->path, job->file, -r, side);
	if (r > (double)MAX_CELLS)
		return tess_err(TESS_EINVAL, "raster import '%s': %s lies %.0f cells past the "
		                "pyramid's origin", job->path, job->file, r);
	*out = (uint64_t)r;
	return 0;
}

/* The raster must fit the pyramid: bands, dtype, CRS, pixel size, grid. */
static int match_pyramid(import_job *job)
{
	const tess_raster_file_info *in = &job->src.info;
	const tess_pyramid_opts *po = tess_pyramid_info(job->p);
	const raster_dims *rd = &job->rd;
	char a[40], b[40];
	int rc;
	if ((uint64_t)in->bands != rd->bands || (in->bands > 1) != (rd->ndim == 3))
		return tess_err(TESS_EINVAL, "raster import '%s': %s has %d band%s, the pyramid %"
		                PRIu64, job->path, job->file, in->bands, in->bands == 1 ? "" : "s",
		                rd->bands);
	if (in->dtype.kind != po->dtype.kind || in->dtype.itemsize != po->dtype.itemsize)
		return tess_err(TESS_EINVAL, "raster import '%s': %s is %s, the pyramid %s (import "
		                "does not convert)", job->path, job->file,
		                tess_dtype_str(a, sizeof a, &in->dtype),
		                tess_dtype_str(b, sizeof b, &po->dtype));
	if ((rc = check_crs(job)) != 0)
		return rc;
	const tess_pyramid_dim *dy = &po->dims[rd->y], *dx = &po->dims[rd->x];
	if (!same_step(in->gt[1], dx->step) || !same_step(in->gt[5], dy->step))
		return tess_err(TESS_EINVAL, "raster import '%s': the pixel size of %s, %.10g x "
		                "%.10g, is not the pyramid's, %.10g x %.10g; resample it first "
		                "(gdalwarp -tr %.10g %.10g)", job->path, job->file, in->gt[1],
		                in->gt[5], dx->step, dy->step, fabs(dx->step), fabs(dy->step));
	if ((rc = grid_offset(job, dx, in->gt[0], dx->step > 0 ? "left of" : "right of",
	                      &job->at[rd->x])) != 0 ||
	    (rc = grid_offset(job, dy, in->gt[3], dy->step < 0 ? "above" : "below",
	                      &job->at[rd->y])) != 0)
		return rc;
	/* Grow to the right and down when the raster reaches past the edge. */
	uint64_t shape[3];
	int grow = 0;
	memcpy(shape, po->shape, (size_t)rd->ndim * sizeof *shape);
	const uint64_t end_y = job->at[rd->y] + in->height, end_x = job->at[rd->x] + in->width;
	if (end_y > shape[rd->y]) {
		shape[rd->y] = end_y;
		grow = 1;
	}
	if (end_x > shape[rd->x]) {
		shape[rd->x] = end_x;
		grow = 1;
	}
	return grow ? tess_pyramid_grow(job->p, shape) : 0;
}

static int open_pyramid(import_job *job)
{
	int rc;
	if (tess_pyramid_exists(job->st, job->path)) {
		if ((rc = tess_pyramid_open(&job->p, job->st, job->path)) != 0 ||
		    (rc = raster_dims_of(&job->rd, job->p, job->path)) != 0 ||
		    (rc = match_pyramid(job)) != 0)
			return rc;
	} else {
		if ((rc = create_pyramid(job)) != 0 ||
		    (rc = raster_dims_of(&job->rd, job->p, job->path)) != 0)
			return rc;
	}
	const tess_raster_file_info *in = &job->src.info;
	const raster_dims *rd = &job->rd;
	if (rd->band >= 0)
		job->count[rd->band] = (uint64_t)in->bands;
	job->count[rd->y] = in->height;
	job->count[rd->x] = in->width;
	if (!(job->level0 = tess_pyramid_level(job->p, 0)))
		return tess_err(TESS_ECORRUPT, "pyramid '%s' has no level 0", job->path);
	const tess_dtype *dt = &tess_pyramid_info(job->p)->dtype;
	job->itemsize = dt->itemsize;
	if (dt->itemsize > 1 && dt->endian != '|' && dt->endian != in->dtype.endian)
		job->swap = dt->itemsize;
	return 0;
}

/* ---- the block plan ------------------------------------------------------ */

/* Boundaries from s to s + n: on multiples of g, k grid cells apart (k 0:
 * one block).  NULL when out of memory. */
static uint64_t *boundaries(uint64_t s, uint64_t n, uint64_t g, uint64_t k, size_t *count)
{
	size_t cap = (size_t)(n / g) + 3, j = 0;
	uint64_t *b = malloc(cap * sizeof *b);
	if (!b)
		return NULL;
	b[j++] = s;
	while (b[j - 1] < s + n) {
		uint64_t next = k ? (b[j - 1] / g + k) * g : s + n;
		b[j++] = next < s + n ? next : s + n;
	}
	*count = j;
	return b;
}

static int plan_blocks(import_job *job)
{
	const raster_dims *rd = &job->rd;
	const uint64_t *ch = tess_array_chunks(job->level0);
	const uint64_t cy = ch[rd->y], cx = ch[rd->x];
	const uint64_t h = job->count[rd->y], w = job->count[rd->x];
	const uint64_t budget = raster_block_budget(BLOCK_BYTES);
	const uint64_t row = raster_mul_sat(raster_mul_sat(rd->bands, w), job->itemsize);
	uint64_t ky = 0, kx = 0, bh, bw;
	if (raster_mul_sat(row, cy) <= budget) {
		/* whole rows of chunks, as many as fit */
		ky = budget / raster_mul_sat(row, cy);
		bh = ky * cy < h ? ky * cy : h;
		bw = w;
	} else {
		ky = 1;
		uint64_t chunk = raster_mul_sat(raster_mul_sat(rd->bands, cy * cx), job->itemsize);
		kx = budget / chunk ? budget / chunk : 1;
		bh = cy < h ? cy : h;
		bw = kx * cx < w ? kx * cx : w;
	}
	/* Blocks end on grid lines k cells apart: none is larger than this. */
	job->block_bytes = raster_mul_sat(raster_mul_sat(raster_mul_sat(rd->bands, bh), bw),
	                                  job->itemsize);
	if (job->block_bytes > SIZE_MAX / 4)
		return tess_err(TESS_ENOMEM, "raster import '%s': blocks too large", job->path);
	job->ys = boundaries(job->at[rd->y], h, cy, ky, &job->nys);
	job->xs = boundaries(job->at[rd->x], w, cx, kx, &job->nxs);
	if (!job->ys || !job->xs)
		return tess_err(TESS_ENOMEM, "raster import '%s': out of memory", job->path);
	return 0;
}

static size_t block_total(const import_job *job)
{
	return (job->nys - 1) * (job->nxs - 1);
}

/* Block i's region of level 0; returns its number of elements. */
static uint64_t block_box(const import_job *job, size_t i, uint64_t *start, uint64_t *count)
{
	const raster_dims *rd = &job->rd;
	const size_t by = i / (job->nxs - 1), bx = i % (job->nxs - 1);
	if (rd->band >= 0) {
		start[rd->band] = 0;
		count[rd->band] = rd->bands;
	}
	start[rd->y] = job->ys[by];
	count[rd->y] = job->ys[by + 1] - job->ys[by];
	start[rd->x] = job->xs[bx];
	count[rd->x] = job->xs[bx + 1] - job->xs[bx];
	return rd->bands * count[rd->y] * count[rd->x];
}

/* ---- reading (on the reader thread) -------------------------------------- */

static int read_block(import_job *job, size_t i, uint8_t *buf)
{
	uint64_t start[3], count[3];
	block_box(job, i, start, count);
	const raster_dims *rd = &job->rd;
	const int xoff = (int)(start[rd->x] - job->at[rd->x]);
	const int yoff = (int)(start[rd->y] - job->at[rd->y]);
	const int w = (int)count[rd->x], h = (int)count[rd->y];
	const GSpacing px = (GSpacing)job->itemsize, line = px * w, band = line * h;
	CPLErrorReset();
	CPLErr e = GDALDatasetRasterIOEx(job->src.ds, GF_Read, xoff, yoff, w, h, buf, w, h,
	                                 job->src.gtype, (int)rd->bands, NULL, px, line, band,
	                                 NULL);
	if (e != CE_None)
		return raster_gdal_err(TESS_EIO, "%s: reading columns %d..%d, rows %d..%d failed",
		                       job->file, xoff, xoff + w, yoff, yoff + h);
	return 0;
}

/* One buffer of the pipeline between the reader thread and the writer. */
typedef struct slot {
	uint8_t *buf;
	int full;
	int rc;
	char msg[1024];
} slot;

typedef struct pipeline {
	import_job *job;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	slot slots[2];
	int stop;
} pipeline;

static void *reader_main(void *arg)
{
	pipeline *pl = arg;
	import_job *job = pl->job;
	raster_quiet_begin();
	for (size_t i = 0; i < block_total(job); i++) {
		slot *s = &pl->slots[i % 2];
		pthread_mutex_lock(&pl->mu);
		while (s->full && !pl->stop)
			pthread_cond_wait(&pl->cv, &pl->mu);
		int stop = pl->stop;
		pthread_mutex_unlock(&pl->mu);
		if (stop)
			break;
		double t0 = raster_now();
		int rc = read_block(job, i, s->buf);
		pthread_mutex_lock(&pl->mu);
		job->read_seconds += raster_now() - t0;
		s->rc = rc;
		if (rc)
			snprintf(s->msg, sizeof s->msg, "%s", tess_errmsg());
		s->full = 1;
		pthread_cond_broadcast(&pl->cv);
		pthread_mutex_unlock(&pl->mu);
		if (rc)
			break;
	}
	raster_quiet_end();
	return NULL;
}

/* ---- merging and writing (on the calling thread) ------------------------- */

/* nodata as an integer of the range [lo, hi], or 0 when it is not one
 * (then no cell of that type can be nodata). */
static int int_nodata(double nd, double lo, double hi)
{
	return nd == nearbyint(nd) && nd >= lo && nd <= hi;
}

/*
 * The cells of buf (n elements of the raster's dtype, host order) that are
 * missing - NaN, or the raster's nodata - take old's value when old is
 * given.  Returns how many were missing.
 */
static uint64_t merge_missing(uint8_t *buf, const uint8_t *old, uint64_t n,
                              const tess_raster_file_info *in)
{
	const int has = in->has_nodata;
	const double nd = in->nodata;
	const tess_dtype *dt = &in->dtype;
	uint64_t bad = 0;
#define MERGE(T, MISSING)                                           \
	do {                                                        \
		T *v = (T *)(void *)buf;                            \
		const T *o = (const T *)(const void *)old;          \
		for (uint64_t i = 0; i < n; i++)                    \
			if (MISSING) {                              \
				bad++;                              \
				if (o)                              \
					v[i] = o[i];                \
			}                                           \
	} while (0)
#define MERGE_INT(T, LO, HI)                                        \
	do {                                                        \
		if (!has || !int_nodata(nd, LO, HI))                \
			return 0;                                   \
		const T ndv = (T)nd;                                \
		MERGE(T, v[i] == ndv);                              \
	} while (0)
	if (dt->kind == TESS_DT_FLOAT && dt->itemsize == 4) {
		const float ndf = (float)nd;
		MERGE(float, isnan(v[i]) || (has && v[i] == ndf));
	} else if (dt->kind == TESS_DT_FLOAT) {
		MERGE(double, isnan(v[i]) || (has && v[i] == nd));
	} else if (dt->kind == TESS_DT_UINT) {
		switch (dt->itemsize) {
		case 1: MERGE_INT(uint8_t, 0, 255); break;
		case 2: MERGE_INT(uint16_t, 0, 65535); break;
		case 4: MERGE_INT(uint32_t, 0, 4294967295.0); break;
		default: MERGE_INT(uint64_t, 0, 18446744073709549568.0); break;
		}
	} else {
		switch (dt->itemsize) {
		case 1: MERGE_INT(int8_t, -128, 127); break;
		case 2: MERGE_INT(int16_t, -32768, 32767); break;
		case 4: MERGE_INT(int32_t, -2147483648.0, 2147483647.0); break;
		default: MERGE_INT(int64_t, -9223372036854775808.0, 9223372036854774784.0); break;
		}
	}
#undef MERGE_INT
#undef MERGE
	return bad;
}

/* Missing cells of a raster mosaicked into an existing pyramid keep what
 * the pyramid holds there; then the block goes to level 0. */
static int write_block(import_job *job, size_t i, uint8_t *buf, uint8_t *old)
{
	uint64_t start[3], count[3];
	const uint64_t n = block_box(job, i, start, count);
	int rc;
	if (!job->created && merge_missing(buf, NULL, n, &job->src.info) > 0) {
		if ((rc = tess_array_read(job->level0, start, count, old)) != 0)
			return rc;
		if (job->swap)
			raster_swap(old, n, job->swap);
		merge_missing(buf, old, n, &job->src.info);
	}
	if (job->swap)
		raster_swap(buf, n, job->swap);
	return tess_pyramid_write(job->p, start, count, buf);
}

static int run_pipeline(import_job *job)
{
	pipeline pl;
	memset(&pl, 0, sizeof pl);
	pl.job = job;
	const size_t bytes = (size_t)job->block_bytes ? (size_t)job->block_bytes : 1;
	uint8_t *old = malloc(bytes);
	pl.slots[0].buf = malloc(bytes);
	pl.slots[1].buf = malloc(bytes);
	int rc = 0;
	if (!old || !pl.slots[0].buf || !pl.slots[1].buf) {
		rc = tess_err(TESS_ENOMEM, "raster import '%s': out of memory for 3 blocks of %zu "
		              "bytes", job->path, bytes);
		goto out;
	}
	pthread_mutex_init(&pl.mu, NULL);
	pthread_cond_init(&pl.cv, NULL);
	pthread_t reader;
	if (pthread_create(&reader, NULL, reader_main, &pl) != 0) {
		rc = tess_err(TESS_EIO, "raster import '%s': cannot start a reader thread", job->path);
		goto out_sync;
	}
	const tess_raster_import_opts *o = job->opts;
	const uint64_t total = raster_mul_sat(raster_mul_sat(job->rd.bands, job->count[job->rd.y]),
	                                      raster_mul_sat(job->count[job->rd.x], job->itemsize));
	uint64_t done = 0;
	double t0 = raster_now();
	for (size_t i = 0; i < block_total(job) && !rc; i++) {
		slot *s = &pl.slots[i % 2];
		pthread_mutex_lock(&pl.mu);
		while (!s->full)
			pthread_cond_wait(&pl.cv, &pl.mu);
		pthread_mutex_unlock(&pl.mu);
		if (s->rc)
			rc = tess_err(s->rc, "%s", s->msg);
		else
			rc = write_block(job, i, s->buf, old);
		uint64_t start[3], count[3];
		done += block_box(job, i, start, count) * job->itemsize;
		pthread_mutex_lock(&pl.mu);
		s->full = 0;
		pthread_cond_broadcast(&pl.cv);
		pthread_mutex_unlock(&pl.mu);
		if (!rc && o->progress)
			o->progress(done, total, o->payload);
	}
	pthread_mutex_lock(&pl.mu);
	pl.stop = 1;
	pthread_cond_broadcast(&pl.cv);
	pthread_mutex_unlock(&pl.mu);
	pthread_join(reader, NULL);
	if (job->res)
		job->res->write_seconds = raster_now() - t0 - job->read_seconds;
out_sync:
	pthread_cond_destroy(&pl.cv);
	pthread_mutex_destroy(&pl.mu);
out:
	free(old);
	free(pl.slots[0].buf);
	free(pl.slots[1].buf);
	return rc;
}

/* ---- the import ----------------------------------------------------------- */

static void fill_result(import_job *job)
{
	tess_raster_import_result *r = job->res;
	const tess_pyramid_opts *po = tess_pyramid_info(job->p);
	r->created = job->created;
	r->ndim = job->rd.ndim;
	memcpy(r->at, job->at, sizeof r->at);
	memcpy(r->count, job->count, sizeof r->count);
	memcpy(r->shape, po->shape, (size_t)job->rd.ndim * sizeof *r->shape);
	r->levels = tess_pyramid_levels(job->p);
	r->read_seconds = job->read_seconds;
}

static int import_run(import_job *job)
{
	int rc;
	if ((rc = raster_source_open(&job->src, job->file, 1)) != 0 ||
	    (rc = open_pyramid(job)) != 0 || (rc = plan_blocks(job)) != 0 ||
	    (rc = run_pipeline(job)) != 0)
		return rc;
	tess_raster_import_result *r = job->res;
	if ((rc = tess_pyramid_dirty_count(&r->dirty, job->p)) != 0)
		return rc;
	if (!job->opts->no_update) {
		if ((rc = tess_pyramid_update(job->p, &r->update)) != 0)
			return rc;
		r->updated = 1;
	}
	fill_result(job);
	return 0;
}

int tess_raster_import(tess_store *st, const char *path, const char *file,
                       const tess_raster_import_opts *opts, tess_raster_import_result *res)
{
	static const tess_raster_import_opts defaults = TESS_RASTER_IMPORT_OPTS_INIT;
	tess_raster_import_result scratch;
	import_job job;
	memset(&job, 0, sizeof job);
	job.st = st;
	job.path = path;
	job.file = file;
	job.opts = opts ? opts : &defaults;
	job.res = res ? res : &scratch;
	memset(job.res, 0, sizeof *job.res);
	raster_gdal_init();
	raster_quiet_begin();
	int rc = import_run(&job);
	raster_quiet_end();
	tess_pyramid_close(job.p);
	raster_source_close(&job.src);
	free(job.ys);
	free(job.xs);
	return rc;
}
