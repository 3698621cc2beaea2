/*
 * The aggregation kernels: a child region (level k) into its coarse region
 * (level k + 1).
 *
 * A coarse cell aggregates the block of up to 2 cells per aggregating
 * dimension below it, taken in C order of the block; cells that are NaN or
 * nodata are left out.  The region is walked one output line (the last
 * dimension) at a time: the child lines under it are listed once (their
 * order is the block's C order), and a line kernel specialised for the dtype
 * and the aggregator reduces each block.  Results (docs/pyramid.md):
 *
 *   mean     sum in double / n; integers rounded to nearest, ties away from 0
 *   min max  of the valid cells
 *   sum      floats: in double, then cast; integers: exact, saturated to the dtype
 *   count    the number of valid cells, saturated (levels > 1 add counts: SUM)
 *   mode     the most frequent value; ties: the smallest
 *   nearest  the first valid cell; last: the last valid cell
 *
 * A block without a valid cell gives the fill element (nodata, NaN, 0).
 */
#include "pyramid/internal.h"
#include "util/error.h"

#include <float.h>
#include <math.h>
#include <string.h>

__extension__ typedef __int128 pyr_i128;

#define INLINE static inline __attribute__((always_inline))

/* double -> float with IEEE overflow to infinity, without the undefined cast */
INLINE float to_f32(double m)
{
	if (m > FLT_MAX)
		return INFINITY;
	if (m < -FLT_MAX)
		return -INFINITY;
	return (float)m;
}

/*
 * Per dtype: how a double result (a mean) and an exact integer sum land in
 * the dtype.  Integers: round half away from zero, then saturate.  The upper
 * bound is exclusive and exact as a double (2^7, ..., 2^63, 2^64).
 */
#define INT_CONV(NAME, T, TMIN, TMAX, HI)                                                \
	INLINE T from_d_##NAME(double m)                                                 \
	{                                                                                \
		if (m != m)                                                              \
			return 0;                                                        \
		m = round(m);                                                            \
		if (m <= (double)(TMIN))                                                 \
			return TMIN;                                                     \
		if (m >= (HI))                                                           \
			return TMAX;                                                     \
		return (T)m;                                                             \
	}                                                                                \
	INLINE T from_s_##NAME(pyr_i128 s)                                               \
	{                                                                                \
		return s < (pyr_i128)(TMIN) ? (T)(TMIN) : s > (pyr_i128)(TMAX) ? (T)(TMAX) : (T)s; \
	}
INT_CONV(i8, int8_t, INT8_MIN, INT8_MAX, 128.0)
INT_CONV(u8, uint8_t, 0, UINT8_MAX, 256.0)
INT_CONV(i16, int16_t, INT16_MIN, INT16_MAX, 32768.0)
INT_CONV(u16, uint16_t, 0, UINT16_MAX, 65536.0)
INT_CONV(i32, int32_t, INT32_MIN, INT32_MAX, 2147483648.0)
INT_CONV(u32, uint32_t, 0, UINT32_MAX, 4294967296.0)
INT_CONV(i64, int64_t, INT64_MIN, INT64_MAX, 9223372036854775808.0)
INT_CONV(u64, uint64_t, 0, UINT64_MAX, 18446744073709551616.0)

INLINE float from_d_f32(double m) { return to_f32(m); }
INLINE double from_d_f64(double m) { return m; }
INLINE float from_s_f32(double s) { return to_f32(s); }
INLINE double from_s_f64(double s) { return s; }

/*
 * One kernel per dtype: NAME, element type, 1 for floats, the sum's
 * accumulator type.  The aggregator is a compile-time constant in each
 * instantiation (see RUN below), so every switch folds away.
 */
#define KERNEL(NAME, T, ISF, SUMT, TLO, THI)                                              \
	INLINE T reduce_##NAME(tess_agg agg, T *v, size_t n)                                \
	{                                                                                   \
		switch (agg) {                                                              \
		case TESS_AGG_MEAN: {                                                       \
			double s = 0;                                                       \
			for (size_t i = 0; i < n; i++)                                      \
				s += (double)v[i];                                          \
			return from_d_##NAME(s / (double)n);                                \
		}                                                                           \
		case TESS_AGG_MIN: {                                                        \
			T m = v[0];                                                         \
			for (size_t i = 1; i < n; i++)                                      \
				m = v[i] < m ? v[i] : m;                                    \
			return m;                                                           \
		}                                                                           \
		case TESS_AGG_MAX: {                                                        \
			T m = v[0];                                                         \
			for (size_t i = 1; i < n; i++)                                      \
				m = v[i] > m ? v[i] : m;                                    \
			return m;                                                           \
		}                                                                           \
		case TESS_AGG_SUM: {                                                        \
			SUMT s = 0;                                                         \
			for (size_t i = 0; i < n; i++)                                      \
				s += (SUMT)v[i];                                            \
			return from_s_##NAME(s);                                            \
		}                                                                           \
		case TESS_AGG_COUNT:                                                        \
			return from_s_##NAME((SUMT)n);                                      \
		case TESS_AGG_MODE: {                                                       \
			/* insertion sort (n <= 256, usually 4), then the longest run;  \
			 * the first longest is the smallest value */                  \
			for (size_t i = 1; i < n; i++) {                                    \
				T x = v[i];                                                 \
				size_t k = i;                                               \
				for (; k > 0 && x < v[k - 1]; k--)                          \
					v[k] = v[k - 1];                                    \
				v[k] = x;                                                   \
			}                                                                   \
			T best = v[0];                                                      \
			size_t best_n = 0;                                                  \
			for (size_t i = 0; i < n;) {                                        \
				size_t k = i + 1;                                           \
				while (k < n && v[k] == v[i])                               \
					k++;                                                \
				if (k - i > best_n) {                                       \
					best_n = k - i;                                     \
					best = v[i];                                        \
				}                                                           \
				i = k;                                                      \
			}                                                                   \
			return best;                                                        \
		}                                                                           \
		case TESS_AGG_NEAREST:                                                      \
			return v[0];                                                        \
		case TESS_AGG_LAST:                                                         \
		default:                                                                    \
			return v[n - 1];                                                    \
		}                                                                           \
	}                                                                                   \
	/* 2 x 2 blocks (the common case: two aggregating dimensions last) of    \
	 * the aggregators that need no sorting, branch-free: adding 0 for a     \
	 * missing cell leaves the in-order sum as it is (it is never -0). */   \
	INLINE size_t quad_##NAME(tess_agg agg, T *out, size_t nout, const T *l0, const T *l1, \
	                          size_t inlen, int hnd, T nd, T fill)                     \
	{                                                                                   \
		size_t nq = inlen / 2 < nout ? inlen / 2 : nout;                            \
		for (size_t j = 0; j < nq; j++) {                                           \
			T x0 = l0[2 * j], x1 = l0[2 * j + 1], x2 = l1[2 * j], x3 = l1[2 * j + 1]; \
			int k0 = (!ISF | (x0 == x0)) & !(hnd & (x0 == nd));                 \
			int k1 = (!ISF | (x1 == x1)) & !(hnd & (x1 == nd));                 \
			int k2 = (!ISF | (x2 == x2)) & !(hnd & (x2 == nd));                 \
			int k3 = (!ISF | (x3 == x3)) & !(hnd & (x3 == nd));                 \
			int n = k0 + k1 + k2 + k3;                                          \
			T r;                                                                \
			switch (agg) {                                                      \
			case TESS_AGG_MEAN: {                                               \
				double s = 0;                                               \
				s += k0 ? (double)x0 : 0.0;                                 \
				s += k1 ? (double)x1 : 0.0;                                 \
				s += k2 ? (double)x2 : 0.0;                                 \
				s += k3 ? (double)x3 : 0.0;                                 \
				r = from_d_##NAME(s / (double)(n ? n : 1));                 \
				break;                                                      \
			}                                                                   \
			case TESS_AGG_SUM: {                                                \
				SUMT s = 0;                                                 \
				s += k0 ? (SUMT)x0 : (SUMT)0;                               \
				s += k1 ? (SUMT)x1 : (SUMT)0;                               \
				s += k2 ? (SUMT)x2 : (SUMT)0;                               \
				s += k3 ? (SUMT)x3 : (SUMT)0;                               \
				r = from_s_##NAME(s);                                       \
				break;                                                      \
			}                                                                   \
			case TESS_AGG_MIN: {                                                \
				T m = THI;                                                  \
				m = k0 && x0 < m ? x0 : m;                                  \
				m = k1 && x1 < m ? x1 : m;                                  \
				m = k2 && x2 < m ? x2 : m;                                  \
				r = k3 && x3 < m ? x3 : m;                                  \
				break;                                                      \
			}                                                                   \
			case TESS_AGG_MAX: {                                                \
				T m = TLO;                                                  \
				m = k0 && x0 > m ? x0 : m;                                  \
				m = k1 && x1 > m ? x1 : m;                                  \
				m = k2 && x2 > m ? x2 : m;                                  \
				r = k3 && x3 > m ? x3 : m;                                  \
				break;                                                      \
			}                                                                   \
			default: /* TESS_AGG_COUNT */                                       \
				r = from_s_##NAME((SUMT)n);                                 \
				break;                                                      \
			}                                                                   \
			out[j] = n ? r : fill;                                              \
		}                                                                           \
		return nq;                                                                  \
	}                                                                                   \
	INLINE void line_##NAME(tess_agg agg, T *out, size_t nout,                          \
	                        const uint8_t *const *lines, size_t nlines, int pair,       \
	                        size_t inlen, int hnd, T nd, T fill)                        \
	{                                                                                   \
		T v[PYR_MAX_BLOCK];                                                         \
		size_t j = 0;                                                               \
		if (pair && nlines == 2 &&                                                  \
		    (agg == TESS_AGG_MEAN || agg == TESS_AGG_SUM || agg == TESS_AGG_MIN ||  \
		     agg == TESS_AGG_MAX || agg == TESS_AGG_COUNT))                         \
			j = quad_##NAME(agg, out, nout, (const T *)(const void *)lines[0],  \
			                (const T *)(const void *)lines[1], inlen, hnd, nd, fill); \
		for (; j < nout; j++) {                                                     \
			size_t i0 = pair ? 2 * j : j;                                       \
			int two = pair && i0 + 1 < inlen;                                   \
			size_t n = 0;                                                       \
			for (size_t l = 0; l < nlines; l++) {                               \
				const T *ln = (const T *)(const void *)lines[l];            \
				T x = ln[i0];                                               \
				if ((!ISF || x == x) && !(hnd && x == nd))                  \
					v[n++] = x;                                         \
				if (two) {                                                  \
					x = ln[i0 + 1];                                     \
					if ((!ISF || x == x) && !(hnd && x == nd))          \
						v[n++] = x;                                 \
				}                                                           \
			}                                                                   \
			out[j] = n ? reduce_##NAME(agg, v, n) : fill;                       \
		}                                                                           \
	}                                                                                   \
	static void lines_##NAME(const pyr_agg_job *j, void *out, size_t nout,              \
	                         const uint8_t *const *lines, size_t nlines, int pair,      \
	                         size_t inlen)                                              \
	{                                                                                   \
		T nd = 0, fill;                                                             \
		if (j->has_nodata)                                                          \
			memcpy(&nd, j->nodata, sizeof nd);                                  \
		memcpy(&fill, j->fill, sizeof fill);                                        \
		T *o = out;                                                                 \
		int h = j->has_nodata;                                                      \
		switch (j->agg) {                                                           \
		case TESS_AGG_MEAN:                                                         \
			line_##NAME(TESS_AGG_MEAN, o, nout, lines, nlines, pair, inlen, h,  \
			            nd, fill);                                              \
			break;                                                              \
		case TESS_AGG_MIN:                                                          \
			line_##NAME(TESS_AGG_MIN, o, nout, lines, nlines, pair, inlen, h,   \
			            nd, fill);                                              \
			break;                                                              \
		case TESS_AGG_MAX:                                                          \
			line_##NAME(TESS_AGG_MAX, o, nout, lines, nlines, pair, inlen, h,   \
			            nd, fill);                                              \
			break;                                                              \
		case TESS_AGG_SUM:                                                          \
			line_##NAME(TESS_AGG_SUM, o, nout, lines, nlines, pair, inlen, h,   \
			            nd, fill);                                              \
			break;                                                              \
		case TESS_AGG_COUNT:                                                        \
			line_##NAME(TESS_AGG_COUNT, o, nout, lines, nlines, pair, inlen, h, \
			            nd, fill);                                              \
			break;                                                              \
		case TESS_AGG_MODE:                                                         \
			line_##NAME(TESS_AGG_MODE, o, nout, lines, nlines, pair, inlen, h,  \
			            nd, fill);                                              \
			break;                                                              \
		case TESS_AGG_NEAREST:                                                      \
			line_##NAME(TESS_AGG_NEAREST, o, nout, lines, nlines, pair, inlen,  \
			            h, nd, fill);                                           \
			break;                                                              \
		default:                                                                    \
			line_##NAME(TESS_AGG_LAST, o, nout, lines, nlines, pair, inlen, h,  \
			            nd, fill);                                              \
			break;                                                              \
		}                                                                           \
	}

KERNEL(i8, int8_t, 0, pyr_i128, INT8_MIN, INT8_MAX)
KERNEL(u8, uint8_t, 0, pyr_i128, 0, UINT8_MAX)
KERNEL(i16, int16_t, 0, pyr_i128, INT16_MIN, INT16_MAX)
KERNEL(u16, uint16_t, 0, pyr_i128, 0, UINT16_MAX)
KERNEL(i32, int32_t, 0, pyr_i128, INT32_MIN, INT32_MAX)
KERNEL(u32, uint32_t, 0, pyr_i128, 0, UINT32_MAX)
KERNEL(i64, int64_t, 0, pyr_i128, INT64_MIN, INT64_MAX)
KERNEL(u64, uint64_t, 0, pyr_i128, 0, UINT64_MAX)
KERNEL(f32, float, 1, double, -INFINITY, INFINITY)
KERNEL(f64, double, 1, double, -INFINITY, INFINITY)

typedef void (*lines_fn)(const pyr_agg_job *j, void *out, size_t nout,
                         const uint8_t *const *lines, size_t nlines, int pair, size_t inlen);

static lines_fn kernel_for(const tess_dtype *dt)
{
	switch (dt->kind) {
	case TESS_DT_INT:
		return dt->itemsize == 1 ? lines_i8 : dt->itemsize == 2 ? lines_i16
		     : dt->itemsize == 4 ? lines_i32 : dt->itemsize == 8 ? lines_i64 : NULL;
	case TESS_DT_UINT:
		return dt->itemsize == 1 ? lines_u8 : dt->itemsize == 2 ? lines_u16
		     : dt->itemsize == 4 ? lines_u32 : dt->itemsize == 8 ? lines_u64 : NULL;
	case TESS_DT_FLOAT:
		return dt->itemsize == 4 ? lines_f32 : dt->itemsize == 8 ? lines_f64 : NULL;
	default:
		return NULL;
	}
}

int pyr_aggregate(const pyr_agg_job *j)
{
	lines_fn fn = kernel_for(j->dtype);
	if (!fn || j->ndim < 1 || j->ndim > PYR_MAXD || (unsigned)j->agg > TESS_AGG_LAST)
		return tess_err(TESS_EINVAL, "pyramid: no aggregation kernel for this dtype");
	int n = j->ndim, last = n - 1;
	size_t is = j->dtype->itemsize;
	uint64_t stride[PYR_MAXD], o[PYR_MAXD] = {0}, outer = 1;
	stride[last] = 1;
	for (int d = last - 1; d >= 0; d--)
		stride[d] = stride[d + 1] * j->in_shape[d + 1];
	for (int d = 0; d < n; d++)
		if (j->out_shape[d] == 0)
			return 0;
	for (int d = 0; d < last; d++)
		outer *= j->out_shape[d];
	size_t nout = (size_t)j->out_shape[last];
	const uint8_t *in = j->in;
	uint8_t *out = j->out;
	uint64_t offs[PYR_MAX_BLOCK];
	const uint8_t *lines[PYR_MAX_BLOCK];
	for (uint64_t line = 0; line < outer; line++) {
		/* the child lines under this output line, in the block's C order */
		size_t nl = 1;
		offs[0] = 0;
		for (int d = 0; d < last; d++) {
			if (!j->aggd[d]) {
				for (size_t i = 0; i < nl; i++)
					offs[i] += o[d] * stride[d];
				continue;
			}
			uint64_t a = 2 * o[d];
			if (a + 1 < j->in_shape[d]) {
				for (size_t i = nl; i-- > 0;) {
					offs[2 * i + 1] = offs[i] + (a + 1) * stride[d];
					offs[2 * i] = offs[i] + a * stride[d];
				}
				nl *= 2;
			} else {
				for (size_t i = 0; i < nl; i++)
					offs[i] += a * stride[d];
			}
		}
		for (size_t i = 0; i < nl; i++)
			lines[i] = in + offs[i] * is;
		fn(j, out + line * nout * is, nout, lines, nl, j->aggd[last],
		   (size_t)j->in_shape[last]);
		for (int d = last - 1; d >= 0; d--) {
			if (++o[d] < j->out_shape[d])
				break;
			o[d] = 0;
		}
	}
	return 0;
}

/* ---- single elements (reads, points, bounds) -------------------------------------------- */

double pyr_elem_get(const tess_dtype *dt, const void *e)
{
	union {
		int8_t i8; int16_t i16; int32_t i32; int64_t i64;
		uint8_t u8; uint16_t u16; uint32_t u32; uint64_t u64;
		float f32; double f64;
	} u;
	memcpy(&u, e, dt->itemsize);
	switch (dt->kind) {
	case TESS_DT_INT:
		return dt->itemsize == 1 ? u.i8 : dt->itemsize == 2 ? u.i16
		     : dt->itemsize == 4 ? u.i32 : (double)u.i64;
	case TESS_DT_UINT:
		return dt->itemsize == 1 ? u.u8 : dt->itemsize == 2 ? u.u16
		     : dt->itemsize == 4 ? u.u32 : (double)u.u64;
	default:
		return dt->itemsize == 4 ? u.f32 : u.f64;
	}
}

void pyr_elem_set(const tess_dtype *dt, void *e, double v)
{
	union {
		int8_t i8; int16_t i16; int32_t i32; int64_t i64;
		uint8_t u8; uint16_t u16; uint32_t u32; uint64_t u64;
		float f32; double f64;
	} u;
	switch (dt->kind) {
	case TESS_DT_INT:
		if (dt->itemsize == 1)
			u.i8 = from_d_i8(v);
		else if (dt->itemsize == 2)
			u.i16 = from_d_i16(v);
		else if (dt->itemsize == 4)
			u.i32 = from_d_i32(v);
		else
			u.i64 = from_d_i64(v);
		break;
	case TESS_DT_UINT:
		if (dt->itemsize == 1)
			u.u8 = from_d_u8(v);
		else if (dt->itemsize == 2)
			u.u16 = from_d_u16(v);
		else if (dt->itemsize == 4)
			u.u32 = from_d_u32(v);
		else
			u.u64 = from_d_u64(v);
		break;
	default:
		if (dt->itemsize == 4)
			u.f32 = to_f32(v);
		else
			u.f64 = v;
		break;
	}
	memcpy(e, &u, dt->itemsize);
}

int pyr_elem_valid(const tess_dtype *dt, const void *e, int has_nodata, const void *nodata)
{
	if (dt->kind == TESS_DT_FLOAT) {
		double v = pyr_elem_get(dt, e);
		if (v != v)
			return 0;
		return !has_nodata || v != pyr_elem_get(dt, nodata);
	}
	return !has_nodata || memcmp(e, nodata, dt->itemsize) != 0;
}
