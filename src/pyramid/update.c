/*
 * Keeping the levels up to date: update (only what the dirty records
 * reach) and rebuild (everything).
 *
 * Both run under the store lock "pyramid:<path>" (writers look at it: see
 * hook.c), in this order:
 *
 *   1. list the dirty records (level-0 cell boxes);
 *   2. bring the level arrays in line with level 0's shape (pyr_reconcile):
 *      resize them, create levels a grown level 0 needs;
 *   3. level by level, k = 1..N: the chunks of level k under the boxes of
 *      level k - 1 (their parents), each with the bounding box of what
 *      changed inside it, recomputed from level k - 1 in parallel on the
 *      pool (one task per chunk); the recomputed boxes are level k's boxes.
 *      New levels, and every level in a rebuild, are recomputed whole.
 *      Level k - 1's new values come from memory, only the cells around
 *      them from the store, and the results of several levels are written
 *      together in one parallel batch (see cascade);
 *   4. record the level count in the group's metadata;
 *   5. delete exactly the records listed in 1.
 *
 * Nothing is deleted before every level is written, so an update killed at
 * any point leaves its records behind and the next one redoes the work;
 * recomputing is idempotent.  One task per chunk means no two tasks write
 * the same chunk.
 */
#include "pyramid/internal.h"
#include "array/core.h"
#include "store/node.h"
#include "util/error.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Results of one level, kept in memory until written. */
typedef struct level_res {
	pyr_boxes work;   /* per entry: chunk, lo, hi (level k cells) */
	uint8_t **data;   /* per entry: the box's new values, C order; NULL once written */
	size_t bytes;
} level_res;

/* Most bytes of computed boxes held before they are written. */
#define PENDING_BYTES ((size_t)256 << 20)

static void res_free_data(level_res *r)
{
	for (size_t i = 0; r->data && i < r->work.n; i++)
		free(r->data[i]);
	free(r->data);
	r->data = NULL;
	r->bytes = 0;
}

static size_t box_elems(const uint64_t *lo, const uint64_t *hi, int n)
{
	size_t e = 1;
	for (int d = 0; d < n; d++)
		e *= (size_t)(hi[d] - lo[d]);
	return e;
}

/*
 * Copy what the in-memory results of level k - 1 hold of region [clo,
 * clo + ccount) into `in` (that region's buffer; NULL: only count them).
 * Returns the number of cells they hold.  The entries are sorted by chunk,
 * one per chunk, so the chunks under the region are looked up directly.
 */
static size_t overlay(const tess_pyramid *p, const level_res *prev, const uint64_t *clo,
                      const uint64_t *ccount, uint8_t *in)
{
	int n = p->meta.ndim;
	const pyr_boxes *w = &prev->work;
	uint64_t c0[PYR_MAXD], c1[PYR_MAXD], c[PYR_MAXD];
	size_t copied = 0, per = 3 * (size_t)n;
	for (int d = 0; d < n; d++) {
		c0[d] = c[d] = clo[d] / p->chunks[d];
		c1[d] = (clo[d] + ccount[d] - 1) / p->chunks[d];
	}
	for (;;) {
		/* binary search for chunk c */
		size_t lo = 0, hi = w->n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			const uint64_t *e = w->v + mid * per;
			int cmp = 0;
			for (int d = 0; d < n && !cmp; d++)
				cmp = e[d] < c[d] ? -1 : e[d] > c[d];
			if (cmp < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		const uint64_t *e = lo < w->n ? w->v + lo * per : NULL;
		if (e && memcmp(e, c, (size_t)n * sizeof *c) == 0 && prev->data[lo]) {
			const uint64_t *elo = e + n, *ehi = e + 2 * n;
			uint64_t len[PYR_MAXD], eshape[PYR_MAXD], dst[PYR_MAXD], src[PYR_MAXD];
			size_t cells = 1;
			for (int d = 0; d < n; d++) {
				uint64_t a = elo[d] > clo[d] ? elo[d] : clo[d];
				uint64_t b = ehi[d] < clo[d] + ccount[d] ? ehi[d] : clo[d] + ccount[d];
				len[d] = b > a ? b - a : 0;
				eshape[d] = ehi[d] - elo[d];
				dst[d] = a - clo[d];
				src[d] = a - elo[d];
				cells *= (size_t)len[d];
			}
			if (cells && in)
				array_box_copy(in, ccount, dst, prev->data[lo], eshape, src, len, n,
				               p->itemsize);
			copied += cells;
		}
		int d = n - 1;
		for (; d >= 0; d--) {
			if (c[d]++ < c1[d])
				break;
			c[d] = c0[d];
		}
		if (d < 0)
			return copied;
	}
}

typedef struct level_job {
	tess_pyramid *p;
	int k;
	level_res *out;
	const level_res *prev; /* level k - 1's results when still in memory */
} level_job;

/* Compute one box of level k (inside one chunk) from level k - 1. */
static int level_task(size_t i, void *arg)
{
	const level_job *j = arg;
	tess_pyramid *p = j->p;
	int n = p->meta.ndim;
	tess_array *child = p->levels[j->k - 1];
	const uint64_t *cshape = tess_array_shape(child);
	const uint64_t *lo = pyr_box_lo(&j->out->work, i), *hi = pyr_box_hi(&j->out->work, i);
	uint64_t clo[PYR_MAXD], ccount[PYR_MAXD], count[PYR_MAXD];
	size_t nin = 1, nout = 1;
	for (int d = 0; d < n; d++) {
		count[d] = hi[d] - lo[d];
		if (p->aggd[d]) {
			uint64_t chi = 2 * hi[d] < cshape[d] ? 2 * hi[d] : cshape[d];
			clo[d] = 2 * lo[d];
			ccount[d] = chi - clo[d];
		} else {
			clo[d] = lo[d];
			ccount[d] = count[d];
		}
		nin *= (size_t)ccount[d];
		nout *= (size_t)count[d];
	}
	uint8_t *in = malloc(nin * p->itemsize), *out = malloc(nout * p->itemsize);
	int rc = in && out ? 0 : tess_err(TESS_ENOMEM, "pyramid '%s': level %d: out of memory",
	                                  p->path, j->k);
	/* what level k - 1 computed is in memory: read the rest only */
	if (!rc && (!j->prev || overlay(p, j->prev, clo, ccount, NULL) < nin))
		rc = tess_array_read(child, clo, ccount, in);
	if (!rc && j->prev)
		overlay(p, j->prev, clo, ccount, in);
	if (!rc) {
		pyr_agg_job aj = {
			.ndim = n, .in_shape = ccount, .out_shape = count, .aggd = p->aggd,
			.in = in, .out = out, .dtype = &p->dtype,
			/* counts of counts add up: level k holds the valid level-0 cells */
			.agg = p->agg == TESS_AGG_COUNT && j->k > 1 ? TESS_AGG_SUM : p->agg,
			.has_nodata = p->meta.has_nodata, .nodata = p->fill, .fill = p->fill,
		};
		rc = pyr_aggregate(&aj);
	}
	free(in);
	if (rc) {
		free(out);
		return tess_err_prefix(rc, "pyramid '%s': level %d: ", p->path, j->k);
	}
	j->out->data[i] = out;
	return 0;
}

/*
 * Writing is waiting, mostly: for fsync on the file backend, for the
 * server on S3.  Writes of computed boxes run on a pool of their own, with
 * more threads than cores, so that those waits overlap (a one-patch update
 * writes one chunk on each of N levels at once).  Created on first use,
 * never destroyed (as tess_pool_default); NULL if it cannot be made: the
 * level's pool then.
 */
#define WRITE_THREADS 8
static tess_pool *write_pool;
static pthread_once_t write_pool_once = PTHREAD_ONCE_INIT;

static void write_pool_create(void)
{
	if (tess_pool_create(&write_pool, WRITE_THREADS) != 0)
		write_pool = NULL;
}

/* Write the computed boxes of levels [first, last] in one parallel batch. */
typedef struct flush_job {
	tess_pyramid *p;
	level_res *res;
	int first;
	size_t *at; /* at[k - first]: index of level k's first task */
	int nlev;
} flush_job;

static int flush_task(size_t t, void *arg)
{
	const flush_job *j = arg;
	int l = j->nlev - 1;
	while (l > 0 && j->at[l] > t)
		l--;
	int k = j->first + l;
	size_t i = t - j->at[l];
	level_res *r = &j->res[k];
	uint64_t count[PYR_MAXD];
	const uint64_t *lo = pyr_box_lo(&r->work, i), *hi = pyr_box_hi(&r->work, i);
	for (int d = 0; d < j->p->meta.ndim; d++)
		count[d] = hi[d] - lo[d];
	pyr_derive_begin();
	int rc = tess_array_write(j->p->levels[k], lo, count, r->data[i]);
	pyr_derive_end();
	return rc ? tess_err_prefix(rc, "pyramid '%s': level %d: ", j->p->path, k) : 0;
}

static int flush(tess_pyramid *p, level_res *res, int first, int last,
                 tess_pyramid_update_stats *stats)
{
	size_t at[PYR_MAX_LEVELS], total = 0;
	for (int k = first; k <= last; k++) {
		at[k - first] = total;
		total += res[k].data ? res[k].work.n : 0;
	}
	flush_job j = { p, res, first, at, last - first + 1 };
	pthread_once(&write_pool_once, write_pool_create);
	tess_pool *pool = write_pool ? write_pool : p->levels[last]->pool;
	int rc = total ? tess_pool_run(pool, total, flush_task, &j) : 0;
	for (int k = first; k <= last; k++)
		res_free_data(&res[k]);
	if (!rc && stats)
		stats->chunks_written += total;
	return rc;
}

/*
 * Levels 1..N from the level-0 boxes `dirty` (NULL: none); levels >=
 * full_from whole.  Each level is computed in parallel, one task per chunk,
 * from the level below: from its results still in memory, and from the
 * store for the rest.  Results are written in parallel batches, several
 * levels at once, when they would hold too much memory and at the end.
 */
static int cascade(tess_pyramid *p, const pyr_boxes *dirty, int full_from,
                   tess_pyramid_update_stats *stats)
{
	int nd = p->meta.ndim, rc = 0, first_pending = 1;
	level_res res[PYR_MAX_LEVELS];
	memset(res, 0, sizeof res);
	const pyr_boxes empty = { .ndim = nd };
	const pyr_boxes *prev_boxes = dirty ? dirty : &empty;
	size_t pending = 0;
	for (int k = 1; k < p->nlevels && !rc; k++) {
		level_res *r = &res[k];
		r->work.ndim = nd;
		const uint64_t *shape = tess_array_shape(p->levels[k]);
		if (k >= full_from)
			rc = pyr_work_all(&r->work, nd, shape, p->chunks);
		else
			rc = pyr_work_from_boxes(&r->work, prev_boxes, 1, p->aggd, shape, p->chunks);
		prev_boxes = &r->work;
		if (rc || r->work.n == 0)
			continue;
		if (!(r->data = calloc(r->work.n, sizeof *r->data))) {
			rc = tess_err(TESS_ENOMEM, "pyramid '%s': out of memory", p->path);
			break;
		}
		level_job j = { p, k, r, res[k - 1].data ? &res[k - 1] : NULL };
		rc = tess_pool_run(p->levels[k]->pool, r->work.n, level_task, &j);
		for (size_t i = 0; i < r->work.n; i++)
			r->bytes += box_elems(pyr_box_lo(&r->work, i), pyr_box_hi(&r->work, i), nd) *
			            p->itemsize;
		pending += r->bytes;
		if (!rc && (pending > PENDING_BYTES || k == p->nlevels - 1)) {
			rc = flush(p, res, first_pending, k, stats);
			first_pending = k + 1;
			pending = 0;
		}
	}
	for (int k = 0; k < PYR_MAX_LEVELS; k++) {
		res_free_data(&res[k]);
		pyr_boxes_free(&res[k].work);
	}
	return rc;
}

int pyr_compute_levels_from(tess_pyramid *p, int first, tess_pyramid_update_stats *stats)
{
	return cascade(p, NULL, first > 1 ? first : 1, stats);
}

/* Step 3, and the number of dirty level-0 chunks for the stats. */
static int compute(tess_pyramid *p, const pyr_boxes *dirty, int full_from,
                   tess_pyramid_update_stats *stats)
{
	pyr_boxes w0 = { .ndim = p->meta.ndim };
	int rc = pyr_work_from_boxes(&w0, dirty, 0, p->aggd, tess_array_shape(p->levels[0]),
	                             p->chunks);
	if (!rc && stats)
		stats->dirty = w0.n;
	pyr_boxes_free(&w0);
	return rc ? rc : cascade(p, dirty, full_from, stats);
}

static int run_locked(tess_pyramid *p, int full, tess_pyramid_update_stats *stats)
{
	pyr_dirty dirty = {0};
	int listed = p->nlevels, first_new;
	int rc = pyr_dirty_list(&dirty, p->st, p->path, p->meta.ndim);
	if (!rc)
		rc = pyr_reconcile(p, &first_new);
	/* what this handle cached may predate other processes' writes */
	for (int k = 0; k < p->nlevels && !rc; k++)
		array_cache_clear(p->levels[k]->cache);
	if (!rc)
		rc = compute(p, &dirty.boxes, full ? 1 : first_new, stats);
	if (!rc && p->nlevels != listed)
		rc = pyr_group_attrs_save(p);
	if (!rc)
		rc = pyr_dirty_delete(&dirty, p->st);
	if (rc)
		rc = tess_err_prefix(rc, "pyramid '%s': %s: ", p->path, full ? "rebuild" : "update");
	pyr_dirty_free(&dirty);
	return rc;
}

static int run(tess_pyramid *p, int full, tess_pyramid_update_stats *stats)
{
	double t0 = now_s();
	if (stats)
		memset(stats, 0, sizeof *stats);
	tess_lock *lk;
	int rc = pyr_lock(&lk, p);
	if (rc)
		return rc;
	rc = run_locked(p, full, stats);
	tess_lock_release(lk);
	if (stats)
		stats->seconds = now_s() - t0;
	return rc;
}

int tess_pyramid_update(tess_pyramid *p, tess_pyramid_update_stats *stats)
{
	return run(p, 0, stats);
}

int tess_pyramid_rebuild(tess_pyramid *p, tess_pyramid_update_stats *stats)
{
	return run(p, 1, stats);
}

int tess_pyramid_dirty_count(size_t *out, tess_pyramid *p)
{
	pyr_dirty dirty;
	*out = 0;
	int rc = pyr_dirty_list(&dirty, p->st, p->path, p->meta.ndim);
	if (rc)
		return rc;
	/* the level-0 chunks the records touch, each once */
	pyr_boxes w = { .ndim = p->meta.ndim };
	rc = pyr_work_from_boxes(&w, &dirty.boxes, 0, p->aggd, tess_array_shape(p->levels[0]),
	                         p->chunks);
	if (!rc)
		*out = w.n;
	pyr_boxes_free(&w);
	pyr_dirty_free(&dirty);
	return rc;
}
