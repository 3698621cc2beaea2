/*
 * Reads at any resolution, points, the extent, the bounds of the data and
 * coordinate lookups.
 *
 * A read is a box of level-0 index space, [a, b) per dimension (fractional
 * for world coordinates), resampled to out_shape cells.  Output cell o
 * covers [a + o r, a + (o + 1) r) with r = (b - a) / out.  The level used
 * is the coarsest k with 2^k <= r along every aggregating dimension (its
 * cells are still at least as fine as the output's); only the chunks of
 * level k under the box are read, with the array's parallel batched read.
 *
 *   nearest: the level-k cell under the output cell's centre;
 *   average: the valid level-k cells the output cell overlaps, weighted by
 *            the overlap (in level-0 units, so a short edge cell weighs
 *            less); integers rounded to nearest.
 *
 * Output cells outside level 0, or without a valid source cell, are the
 * fill element (nodata, NaN, 0).  When the box is aligned on level k's
 * cells and r = 2^k exactly, the level-k region is the answer and is read
 * straight into the caller's buffer; with two whole level-k cells per
 * output cell, an average is the mean kernel's (read_blocks).
 */
#include "pyramid/internal.h"
#include "util/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Per dimension: for every output index, the level-k cells it takes. */
typedef struct axis_map {
	uint64_t src_lo, src_n; /* the level-k region along this axis */
	size_t *first, *count;  /* per output: entries[first .. first + count) */
	int64_t *idx;           /* relative to src_lo */
	double *w;
	size_t n, cap;
} axis_map;

static void axis_free(axis_map *m)
{
	free(m->first);
	free(m->count);
	free(m->idx);
	free(m->w);
	memset(m, 0, sizeof *m);
}

static int axis_push(axis_map *m, int64_t idx, double w)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 256;
		int64_t *i = realloc(m->idx, cap * sizeof *i);
		if (i)
			m->idx = i;
		double *ww = i ? realloc(m->w, cap * sizeof *ww) : NULL;
		if (!ww)
			return tess_err(TESS_ENOMEM, "pyramid read: out of memory");
		m->w = ww;
		m->cap = cap;
	}
	m->idx[m->n] = idx;
	m->w[m->n++] = w;
	return 0;
}

/*
 * Build the map of one axis.  agg: level-0 box [a, b) over `out` cells on
 * level k (factor f, level-0 length n0, level-k length nk).  Not agg: the
 * identity from index a.
 */
static int axis_build(axis_map *m, int agg, double a, double b, uint64_t out, double f,
                      uint64_t n0, uint64_t nk, tess_resample rs)
{
	memset(m, 0, sizeof *m);
	m->first = calloc(out, sizeof *m->first);
	m->count = calloc(out, sizeof *m->count);
	if (!m->first || !m->count)
		return tess_err(TESS_ENOMEM, "pyramid read: out of memory");
	double r = (b - a) / (double)out;
	int64_t lo = INT64_MAX, hi = -1;
	int rc = 0;
	for (uint64_t o = 0; o < out && !rc; o++) {
		m->first[o] = m->n;
		if (!agg) {
			rc = axis_push(m, (int64_t)a + (int64_t)o, 1.0);
		} else if (rs == TESS_RESAMPLE_NEAREST) {
			double x = a + ((double)o + 0.5) * r;
			if (x >= 0 && x < (double)n0)
				rc = axis_push(m, (int64_t)floor(x / f), 1.0);
		} else {
			double x0 = a + (double)o * r, x1 = a + (double)(o + 1) * r;
			x0 = x0 < 0 ? 0 : x0;
			x1 = x1 > (double)n0 ? (double)n0 : x1;
			for (int64_t i = (int64_t)floor(x0 / f); x1 > x0 && (double)i * f < x1 && !rc;
			     i++) {
				double c0 = (double)i * f, c1 = fmin((double)(i + 1) * f, (double)n0);
				double w = fmin(x1, c1) - fmax(x0, c0);
				if (w > 0 && (uint64_t)i < nk)
					rc = axis_push(m, i, w);
			}
		}
		m->count[o] = m->n - m->first[o];
		for (size_t e = m->first[o]; e < m->n; e++) {
			lo = m->idx[e] < lo ? m->idx[e] : lo;
			hi = m->idx[e] > hi ? m->idx[e] : hi;
		}
	}
	if (rc)
		return rc;
	m->src_lo = hi >= lo ? (uint64_t)lo : 0;
	m->src_n = hi >= lo ? (uint64_t)(hi - lo + 1) : 0;
	for (size_t e = 0; e < m->n; e++)
		m->idx[e] -= lo;
	return 0;
}

static void fill_out(tess_pyramid *p, uint8_t *buf, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		memcpy(buf + i * p->itemsize, p->fill, p->itemsize);
}

/* The source region as doubles, NaN where a cell is not valid. */
static double *src_doubles(const tess_pyramid *p, const uint8_t *src, size_t n)
{
	double *d = malloc((n ? n : 1) * sizeof *d);
	if (!d)
		return NULL;
	const tess_dtype *dt = &p->dtype;
	int hnd = p->meta.has_nodata;
#define CONVERT(T, ISF)                                                                  \
	do {                                                                             \
		const T *s = (const T *)(const void *)src;                               \
		T ndt = 0;                                                               \
		if (hnd)                                                                 \
			memcpy(&ndt, p->fill, sizeof ndt);                               \
		for (size_t i = 0; i < n; i++) {                                         \
			T x = s[i];                                                      \
			d[i] = ((!ISF || x == x) && !(hnd && x == ndt)) ? (double)x : NAN; \
		}                                                                        \
	} while (0)
	switch (dt->kind) {
	case TESS_DT_INT:
		if (dt->itemsize == 1) CONVERT(int8_t, 0);
		else if (dt->itemsize == 2) CONVERT(int16_t, 0);
		else if (dt->itemsize == 4) CONVERT(int32_t, 0);
		else CONVERT(int64_t, 0);
		break;
	case TESS_DT_UINT:
		if (dt->itemsize == 1) CONVERT(uint8_t, 0);
		else if (dt->itemsize == 2) CONVERT(uint16_t, 0);
		else if (dt->itemsize == 4) CONVERT(uint32_t, 0);
		else CONVERT(uint64_t, 0);
		break;
	default:
		if (dt->itemsize == 4) CONVERT(float, 1);
		else CONVERT(double, 1);
		break;
	}
#undef CONVERT
	return d;
}

/* One output cell of an average: the weighted mean of the valid cells of
 * every combination of the axes' source cells (C order), or NaN. */
static double average_cell(const axis_map *m, const uint64_t *const *offs, const uint64_t *o,
                           int n, const double *sd)
{
	double sum = 0, wsum = 0;
	if (n == 2) {
		const axis_map *m0 = &m[0], *m1 = &m[1];
		size_t f0 = m0->first[o[0]], c0 = m0->count[o[0]];
		size_t f1 = m1->first[o[1]], c1 = m1->count[o[1]];
		for (size_t a = f0; a < f0 + c0; a++) {
			const double *row = sd + offs[0][a];
			double w0 = m0->w[a];
			for (size_t b = f1; b < f1 + c1; b++) {
				double v = row[offs[1][b]];
				if (v == v) {
					double w = w0 * m1->w[b];
					sum += w * v;
					wsum += w;
				}
			}
		}
		return wsum > 0 ? sum / wsum : NAN;
	}
	size_t e[PYR_MAXD];
	for (int d = 0; d < n; d++)
		e[d] = 0;
	for (;;) {
		uint64_t off = 0;
		double w = 1;
		for (int d = 0; d < n; d++) {
			size_t at = m[d].first[o[d]] + e[d];
			off += offs[d][at];
			w *= m[d].w[at];
		}
		double v = sd[off];
		if (v == v) {
			sum += w * v;
			wsum += w;
		}
		int d = n - 1;
		for (; d >= 0; d--) {
			if (++e[d] < m[d].count[o[d]])
				break;
			e[d] = 0;
		}
		if (d < 0)
			return wsum > 0 ? sum / wsum : NAN;
	}
}

/* The resampling proper, from the level-k region in src (src_elems cells). */
static int resample(tess_pyramid *p, const axis_map *m, const uint64_t *out_shape,
                    const uint8_t *src, size_t src_elems, uint8_t *buf, tess_resample rs)
{
	int n = p->meta.ndim;
	size_t is = p->itemsize;
	uint64_t stride[PYR_MAXD], o[PYR_MAXD] = {0}, total = 1;
	uint64_t *offs[PYR_MAXD] = {0};
	stride[n - 1] = 1;
	for (int d = n - 2; d >= 0; d--)
		stride[d] = stride[d + 1] * m[d + 1].src_n;
	for (int d = 0; d < n; d++)
		total *= out_shape[d];
	/* per axis, each entry's offset in the source region */
	int rc = 0;
	for (int d = 0; d < n && !rc; d++) {
		if (!(offs[d] = malloc((m[d].n ? m[d].n : 1) * sizeof *offs[d])))
			rc = tess_err(TESS_ENOMEM, "pyramid '%s': read: out of memory", p->path);
		for (size_t e = 0; !rc && e < m[d].n; e++)
			offs[d][e] = (uint64_t)m[d].idx[e] * stride[d];
	}
	double *sd = NULL;
	if (!rc && rs == TESS_RESAMPLE_AVERAGE && !(sd = src_doubles(p, src, src_elems)))
		rc = tess_err(TESS_ENOMEM, "pyramid '%s': read: out of memory", p->path);
	for (uint64_t c = 0; !rc && c < total; c++, buf += is) {
		int empty = 0;
		for (int d = 0; d < n; d++)
			empty |= m[d].count[o[d]] == 0;
		if (empty) {
			memcpy(buf, p->fill, is);
		} else if (rs == TESS_RESAMPLE_NEAREST) {
			uint64_t off = 0;
			for (int d = 0; d < n; d++)
				off += offs[d][m[d].first[o[d]]];
			memcpy(buf, src + off * is, is);
		} else {
			double v = average_cell(m, (const uint64_t *const *)offs, o, n, sd);
			if (v == v)
				pyr_elem_set(&p->dtype, buf, v);
			else
				memcpy(buf, p->fill, is);
		}
		for (int d = n - 1; d >= 0; d--) {
			if (++o[d] < out_shape[d])
				break;
			o[d] = 0;
		}
	}
	free(sd);
	for (int d = 0; d < n; d++)
		free(offs[d]);
	return rc;
}

/* The level for a box: the coarsest with 2^k <= r on every aggregating axis. */
static int pick_level(const tess_pyramid *p, const double *a, const double *b,
                      const uint64_t *out_shape)
{
	int k = p->nlevels - 1;
	for (int d = 0; d < p->meta.ndim; d++) {
		if (!p->aggd[d])
			continue;
		double r = (b[d] - a[d]) / (double)out_shape[d];
		int kd = 0;
		while (kd < k && ldexp(1.0, kd + 1) <= r)
			kd++;
		k = kd < k ? kd : k;
	}
	return k;
}

/* Aligned on level k with exactly one level-k cell per output cell, inside. */
static int direct(const tess_pyramid *p, int k, const double *a, const double *b,
                  const uint64_t *out_shape, uint64_t *start)
{
	const uint64_t *n0 = tess_array_shape(p->levels[0]);
	double f = ldexp(1.0, k);
	for (int d = 0; d < p->meta.ndim; d++) {
		double g = p->aggd[d] ? f : 1.0;
		double s = a[d] / g;
		if (a[d] < 0 || b[d] > (double)n0[d] || s != floor(s) ||
		    (b[d] - a[d]) / g != (double)out_shape[d])
			return 0;
		start[d] = (uint64_t)s;
	}
	return 1;
}

/*
 * Average over 2 x 2 (x 2 ...) blocks of level k: the box aligned on level
 * k's cells, all of them whole and inside, and one or two of them per
 * output cell along each aggregating dimension (two at least once).  Every
 * cell then weighs the same power of two, so the weighted mean is exactly
 * the mean aggregator's: its kernel does the work.  *done = 0 when the box
 * is not such a box.
 */
static int read_blocks(tess_pyramid *p, int k, const double *a, const double *b,
                       const uint64_t *out_shape, void *buf, int *done)
{
	int n = p->meta.ndim, twos = 0;
	const uint64_t *n0 = tess_array_shape(p->levels[0]);
	double f = ldexp(1.0, k);
	uint64_t start[PYR_MAXD], count[PYR_MAXD];
	int pair[PYR_MAXD];
	size_t in_elems = 1, out_elems = 1;
	*done = 0;
	for (int d = 0; d < n; d++) {
		double g = p->aggd[d] ? f : 1.0, s = a[d] / g, c = (b[d] - a[d]) / g;
		double q = c / (double)out_shape[d];
		if (a[d] < 0 || b[d] > (double)n0[d] || s != floor(s) || c != floor(c) ||
		    (q != 1 && q != 2))
			return 0;
		start[d] = (uint64_t)s;
		count[d] = (uint64_t)c;
		pair[d] = q == 2;
		twos += pair[d];
		in_elems *= (size_t)count[d];
		out_elems *= (size_t)out_shape[d];
	}
	if (!twos)
		return 0;
	uint8_t *in = malloc(in_elems * p->itemsize), *out = buf;
	/* the kernel loads and stores whole elements: an aligned buffer */
	if ((uintptr_t)buf % p->itemsize)
		out = malloc(out_elems * p->itemsize);
	int rc = in && out ? 0 : tess_err(TESS_ENOMEM, "pyramid '%s': read: out of memory", p->path);
	if (!rc)
		rc = tess_array_read(p->levels[k], start, count, in);
	if (!rc) {
		pyr_agg_job j = {
			.ndim = n, .in_shape = count, .out_shape = out_shape, .aggd = pair,
			.in = in, .out = out, .dtype = &p->dtype, .agg = TESS_AGG_MEAN,
			.has_nodata = p->meta.has_nodata, .nodata = p->fill, .fill = p->fill,
		};
		rc = pyr_aggregate(&j);
	}
	if (!rc && out != buf)
		memcpy(buf, out, out_elems * p->itemsize);
	if (out != buf)
		free(out);
	free(in);
	*done = !rc;
	return rc;
}

/* Read the box [a, b) of level-0 index space at out_shape. */
static int read_box(tess_pyramid *p, const double *a, const double *b, const uint64_t *out_shape,
                    tess_resample rs, void *buf, int *out_level)
{
	int n = p->meta.ndim, k = pick_level(p, a, b, out_shape);
	if (out_level)
		*out_level = k;
	tess_array *lv = p->levels[k];
	uint64_t start[PYR_MAXD], total = 1;
	for (int d = 0; d < n; d++)
		total *= out_shape[d];
	if (direct(p, k, a, b, out_shape, start))
		return tess_array_read(lv, start, out_shape, buf);
	int done, rc = rs == TESS_RESAMPLE_AVERAGE ? read_blocks(p, k, a, b, out_shape, buf, &done) : 0;
	if (rc || (rs == TESS_RESAMPLE_AVERAGE && done))
		return rc;
	const uint64_t *n0 = tess_array_shape(p->levels[0]), *nk = tess_array_shape(lv);
	axis_map m[PYR_MAXD];
	memset(m, 0, sizeof m);
	double f = ldexp(1.0, k);
	int empty = 0;
	size_t src_elems = 1;
	for (int d = 0; d < n && !rc; d++) {
		rc = axis_build(&m[d], p->aggd[d], a[d], b[d], out_shape[d], f, n0[d], nk[d], rs);
		empty |= m[d].src_n == 0;
		if (!rc && !empty && src_elems > SIZE_MAX / p->itemsize / m[d].src_n)
			rc = tess_err(TESS_EINVAL, "pyramid '%s': read: the source region does not fit "
			              "in memory", p->path);
		src_elems *= m[d].src_n ? (size_t)m[d].src_n : 1;
	}
	uint8_t *src = NULL;
	if (!rc && empty)
		fill_out(p, buf, total);
	else if (!rc && !(src = malloc(src_elems * p->itemsize)))
		rc = tess_err(TESS_ENOMEM, "pyramid '%s': read: out of memory", p->path);
	if (src) {
		uint64_t lo[PYR_MAXD], cnt[PYR_MAXD];
		for (int d = 0; d < n; d++) {
			lo[d] = m[d].src_lo;
			cnt[d] = m[d].src_n;
		}
		rc = tess_array_read(lv, lo, cnt, src);
		if (!rc)
			rc = resample(p, m, out_shape, src, src_elems, buf, rs);
		free(src);
	}
	for (int d = 0; d < n; d++)
		axis_free(&m[d]);
	return rc;
}

static int check_out(tess_pyramid *p, const uint64_t *out_shape, const void *buf,
                     tess_resample rs, const char *op)
{
	if (!out_shape || !buf)
		return tess_err(TESS_EINVAL, "pyramid '%s': %s: NULL output", p->path, op);
	if (rs != TESS_RESAMPLE_NEAREST && rs != TESS_RESAMPLE_AVERAGE)
		return tess_err(TESS_EINVAL, "pyramid '%s': %s: unknown resampling %d", p->path, op,
		                (int)rs);
	uint64_t total = p->itemsize;
	for (int d = 0; d < p->meta.ndim; d++) {
		if (out_shape[d] == 0)
			return tess_err(TESS_EINVAL, "pyramid '%s': %s: out_shape[%d] is 0", p->path, op,
			                d);
		if (total > SIZE_MAX / out_shape[d])
			return tess_err(TESS_EINVAL, "pyramid '%s': %s: the output does not fit in memory",
			                p->path, op);
		total *= out_shape[d];
	}
	return 0;
}

int tess_pyramid_read(tess_pyramid *p, const uint64_t *start, const uint64_t *count,
                      const uint64_t *out_shape, tess_resample resample_, void *buf,
                      int *out_level)
{
	int rc = check_out(p, out_shape, buf, resample_, "read");
	if (rc)
		return rc;
	if (!start || !count)
		return tess_err(TESS_EINVAL, "pyramid '%s': read: NULL start or count", p->path);
	const uint64_t *n0 = tess_array_shape(p->levels[0]);
	double a[PYR_MAXD], b[PYR_MAXD];
	for (int d = 0; d < p->meta.ndim; d++) {
		if (count[d] == 0 || start[d] > n0[d] || count[d] > n0[d] - start[d])
			return tess_err(TESS_EINVAL, "pyramid '%s': read: [%llu, %llu + %llu) along '%s' "
			                "is empty or outside level 0's %llu cells", p->path,
			                (unsigned long long)start[d], (unsigned long long)start[d],
			                (unsigned long long)count[d], p->meta.dims[d].name,
			                (unsigned long long)n0[d]);
		if (!p->aggd[d] && out_shape[d] != count[d])
			return tess_err(TESS_EINVAL, "pyramid '%s': read: '%s' does not aggregate: "
			                "out_shape must equal count (%llu)", p->path,
			                p->meta.dims[d].name, (unsigned long long)count[d]);
		a[d] = (double)start[d];
		b[d] = (double)(start[d] + count[d]);
	}
	return read_box(p, a, b, out_shape, resample_, buf, out_level);
}

/* Index of the first coordinate >= x (n when none). */
static uint64_t lower_bound(const double *c, uint64_t n, double x)
{
	uint64_t lo = 0, hi = n;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (c[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Index of the first coordinate > x. */
static uint64_t upper_bound(const double *c, uint64_t n, double x)
{
	uint64_t lo = 0, hi = n;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (c[mid] <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* An index bound given as a double: integral and inside [0, n]. */
static int index_bound(double v, uint64_t n)
{
	return isfinite(v) && v == floor(v) && v >= 0 && v <= (double)n;
}

int tess_pyramid_read_world(tess_pyramid *p, const double *lo, const double *hi,
                            const uint64_t *out_shape, tess_resample resample_, void *buf,
                            int *out_level)
{
	int rc = check_out(p, out_shape, buf, resample_, "read_world");
	if (rc)
		return rc;
	if (!lo || !hi)
		return tess_err(TESS_EINVAL, "pyramid '%s': read_world: NULL box", p->path);
	const uint64_t *n0 = tess_array_shape(p->levels[0]);
	double a[PYR_MAXD], b[PYR_MAXD];
	int none = 0;
	for (int d = 0; d < p->meta.ndim; d++) {
		const pyr_dim_meta *dm = &p->meta.dims[d];
		if (!(lo[d] < hi[d]) || !isfinite(lo[d]) || !isfinite(hi[d]))
			return tess_err(TESS_EINVAL, "pyramid '%s': read_world: '%s' from %.17g to %.17g:"
			                " expected finite lo < hi", p->path, dm->name, lo[d], hi[d]);
		if (!p->aggd[d]) {
			if (!index_bound(lo[d], n0[d]) || !index_bound(hi[d], n0[d]) ||
			    out_shape[d] != (uint64_t)(hi[d] - lo[d]))
				return tess_err(TESS_EINVAL, "pyramid '%s': read_world: '%s' does not "
				                "aggregate: pass index bounds inside [0, %llu) and an "
				                "out_shape of hi - lo", p->path, dm->name,
				                (unsigned long long)n0[d]);
			a[d] = lo[d];
			b[d] = hi[d];
		} else if (dm->regular) {
			double fa = (lo[d] - dm->origin) / dm->step, fb = (hi[d] - dm->origin) / dm->step;
			a[d] = fmin(fa, fb);
			b[d] = fmax(fa, fb);
		} else {
			/* the cells whose coordinate lies in [lo, hi) */
			a[d] = (double)lower_bound(p->coords[d], n0[d], lo[d]);
			b[d] = (double)lower_bound(p->coords[d], n0[d], hi[d]);
			none |= a[d] == b[d];
		}
	}
	if (none) {
		uint64_t total = 1;
		for (int d = 0; d < p->meta.ndim; d++)
			total *= out_shape[d];
		fill_out(p, buf, total);
		if (out_level)
			*out_level = 0;
		return 0;
	}
	return read_box(p, a, b, out_shape, resample_, buf, out_level);
}

int tess_pyramid_point(tess_pyramid *p, const double *coord, void *value)
{
	if (!coord || !value)
		return tess_err(TESS_EINVAL, "pyramid '%s': point: NULL argument", p->path);
	const uint64_t *n0 = tess_array_shape(p->levels[0]);
	uint64_t idx[PYR_MAXD], one[PYR_MAXD];
	for (int d = 0; d < p->meta.ndim; d++) {
		const pyr_dim_meta *dm = &p->meta.dims[d];
		double c = coord[d], i;
		int inside;
		if (!p->aggd[d]) {
			i = c;
			inside = isfinite(c) && c == floor(c) && c >= 0 && c < (double)n0[d];
		} else if (dm->regular) {
			i = floor((c - dm->origin) / dm->step);
			inside = isfinite(i) && i >= 0 && i < (double)n0[d];
		} else {
			/* the cell of the last coordinate <= c, up to the last coordinate */
			uint64_t u = upper_bound(p->coords[d], n0[d], c);
			inside = u > 0 && n0[d] > 0 && c <= p->coords[d][n0[d] - 1];
			i = inside ? (double)(u - 1) : 0;
		}
		if (!inside)
			return tess_err(TESS_ERANGE, "pyramid '%s': point: %.17g along '%s' is outside "
			                "the extent", p->path, c, dm->name);
		idx[d] = (uint64_t)i;
		one[d] = 1;
	}
	return tess_array_read(p->levels[0], idx, one, value);
}

int tess_pyramid_extent(tess_pyramid *p, double *lo, double *hi)
{
	if (!lo || !hi)
		return tess_err(TESS_EINVAL, "pyramid '%s': extent: NULL argument", p->path);
	const uint64_t *n0 = tess_array_shape(p->levels[0]);
	for (int d = 0; d < p->meta.ndim; d++) {
		const pyr_dim_meta *dm = &p->meta.dims[d];
		if (!p->aggd[d]) {
			lo[d] = 0;
			hi[d] = (double)n0[d];
		} else if (dm->regular) {
			double e = dm->origin + (double)n0[d] * dm->step;
			lo[d] = fmin(dm->origin, e);
			hi[d] = fmax(dm->origin, e);
		} else {
			lo[d] = n0[d] ? p->coords[d][0] : NAN;
			hi[d] = n0[d] ? p->coords[d][n0[d] - 1] : NAN;
		}
	}
	return 0;
}

int tess_pyramid_coord_range(tess_pyramid *p, int dim, double from, double to, uint64_t *start,
                             uint64_t *count)
{
	if (dim < 0 || dim >= p->meta.ndim || p->meta.dims[dim].regular)
		return tess_err(TESS_EINVAL, "pyramid '%s': coord_range: dimension %d is equidistant "
		                "(or does not exist): use its origin and step", p->path, dim);
	if (!start || !count)
		return tess_err(TESS_EINVAL, "pyramid '%s': coord_range: NULL argument", p->path);
	uint64_t n = tess_array_shape(p->levels[0])[dim];
	uint64_t a = lower_bound(p->coords[dim], n, from), b = upper_bound(p->coords[dim], n, to);
	*start = a;
	*count = b > a ? b - a : 0;
	return 0;
}

/* ---- bounds of the data ---------------------------------------------------------------------- */

/* Is any cell of the region of level k valid? */
static int any_valid(int *any, tess_pyramid *p, int k, const uint64_t *lo, const uint64_t *cnt)
{
	size_t total = 1;
	*any = 0;
	for (int d = 0; d < p->meta.ndim; d++)
		total *= (size_t)cnt[d];
	if (total == 0)
		return 0;
	uint8_t *buf = malloc(total * p->itemsize);
	if (!buf)
		return tess_err(TESS_ENOMEM, "pyramid '%s': out of memory", p->path);
	int rc = tess_array_read(p->levels[k], lo, cnt, buf);
	for (size_t i = 0; !rc && i < total && !*any; i++)
		*any = pyr_elem_valid(&p->dtype, buf + i * p->itemsize, p->meta.has_nodata, p->fill);
	free(buf);
	return rc;
}

/* The bounding box of the valid cells of the whole top level. */
static int top_bounds(tess_pyramid *p, uint64_t *lo, uint64_t *hi, int *found)
{
	int n = p->meta.ndim, top = p->nlevels - 1;
	const uint64_t *s = tess_array_shape(p->levels[top]);
	uint64_t zero[PYR_MAXD] = {0}, total = 1;
	for (int d = 0; d < n; d++) {
		total *= s[d];
		lo[d] = UINT64_MAX;
		hi[d] = 0;
	}
	*found = 0;
	if (total == 0)
		return 0;
	uint8_t *buf = malloc((size_t)total * p->itemsize);
	if (!buf)
		return tess_err(TESS_ENOMEM, "pyramid '%s': out of memory", p->path);
	int rc = tess_array_read(p->levels[top], zero, s, buf);
	uint64_t idx[PYR_MAXD] = {0};
	for (uint64_t i = 0; !rc && i < total; i++) {
		if (pyr_elem_valid(&p->dtype, buf + i * p->itemsize, p->meta.has_nodata, p->fill)) {
			*found = 1;
			for (int d = 0; d < n; d++) {
				lo[d] = idx[d] < lo[d] ? idx[d] : lo[d];
				hi[d] = idx[d] + 1 > hi[d] ? idx[d] + 1 : hi[d];
			}
		}
		for (int d = n - 1; d >= 0; d--) {
			if (++idx[d] < s[d])
				break;
			idx[d] = 0;
		}
	}
	free(buf);
	return rc;
}

int tess_pyramid_data_bounds(tess_pyramid *p, uint64_t *start, uint64_t *count)
{
	if (!start || !count)
		return tess_err(TESS_EINVAL, "pyramid '%s': data_bounds: NULL argument", p->path);
	int n = p->meta.ndim, found;
	uint64_t lo[PYR_MAXD], hi[PYR_MAXD];
	int rc = top_bounds(p, lo, hi, &found);
	if (rc || !found) {
		for (int d = 0; d < n; d++)
			start[d] = count[d] = 0;
		return rc;
	}
	/* Down one level at a time: a coarse cell is valid when one of its fine
	 * cells is, so each bound moves to one of the two children of the
	 * coarse bound; one slab read per side decides which. */
	for (int k = p->nlevels - 1; k > 0 && !rc; k--) {
		const uint64_t *cs = tess_array_shape(p->levels[k - 1]);
		uint64_t rlo[PYR_MAXD], rhi[PYR_MAXD];
		for (int d = 0; d < n; d++) {
			rlo[d] = p->aggd[d] ? 2 * lo[d] : lo[d];
			rhi[d] = p->aggd[d] ? (2 * hi[d] < cs[d] ? 2 * hi[d] : cs[d]) : hi[d];
		}
		for (int d = 0; d < n && !rc; d++) {
			if (!p->aggd[d])
				continue;
			uint64_t slo[PYR_MAXD], scnt[PYR_MAXD];
			for (int e = 0; e < n; e++) {
				slo[e] = rlo[e];
				scnt[e] = rhi[e] - rlo[e];
			}
			scnt[d] = 1;
			int v;
			rc = any_valid(&v, p, k - 1, slo, scnt);
			if (!rc && !v && rlo[d] + 1 < rhi[d])
				rlo[d]++;
			slo[d] = rhi[d] - 1;
			if (!rc)
				rc = any_valid(&v, p, k - 1, slo, scnt);
			if (!rc && !v && rhi[d] - 1 > rlo[d])
				rhi[d]--;
		}
		memcpy(lo, rlo, sizeof lo);
		memcpy(hi, rhi, sizeof hi);
	}
	if (rc)
		return rc;
	for (int d = 0; d < n; d++) {
		start[d] = lo[d];
		count[d] = hi[d] - lo[d];
	}
	return 0;
}
