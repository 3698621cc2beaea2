/*
 * Chunk geometry, element copies between boxes, and the chunk pipeline:
 * the caller's layout (C order, the dtype's byte order) to stored bytes and
 * back.
 */
#include "array/core.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

/* ---- geometry ------------------------------------------------------------------ */

void array_grid_init(grid_walk *w, int ndim, const uint64_t *start, const uint64_t *count,
                    const uint64_t *chunk)
{
	w->ndim = ndim;
	w->total = 1;
	for (int d = 0; d < ndim; d++) {
		w->first[d] = start[d] / chunk[d];
		w->n[d] = (start[d] + count[d] - 1) / chunk[d] - w->first[d] + 1;
		w->total *= w->n[d];
	}
}

void array_grid_coords(const grid_walk *w, uint64_t k, uint64_t *idx)
{
	for (int d = w->ndim - 1; d >= 0; d--) {
		idx[d] = w->first[d] + k % w->n[d];
		k /= w->n[d];
	}
}

int array_chunk_overlap(int ndim, const uint64_t *idx, const uint64_t *chunk, const uint64_t *start,
                  const uint64_t *count, uint64_t *in_chunk, uint64_t *in_region, uint64_t *len)
{
	int whole = 1;
	for (int d = 0; d < ndim; d++) {
		uint64_t c0 = idx[d] * chunk[d], c1 = c0 + chunk[d];
		uint64_t lo = start[d] > c0 ? start[d] : c0;
		uint64_t end = start[d] + count[d];
		uint64_t hi = end < c1 ? end : c1;
		in_chunk[d] = lo - c0;
		in_region[d] = lo - start[d];
		len[d] = hi - lo;
		whole &= lo == c0 && hi == c1;
	}
	return whole;
}

/* ---- element copies --------------------------------------------------------------- */

static void c_strides(const uint64_t *shape, int ndim, uint64_t *stride)
{
	uint64_t s = 1;
	for (int d = ndim - 1; d >= 0; d--) {
		stride[d] = s;
		s *= shape[d];
	}
}

void array_fill_elems(uint8_t *dst, uint64_t n, const uint8_t *fill, size_t itemsize)
{
	size_t total = (size_t)n * itemsize;
	if (total == 0)
		return;
	int uniform = 1;
	for (size_t i = 1; i < itemsize; i++)
		uniform &= fill[i] == fill[0];
	if (uniform) {
		memset(dst, fill[0], total);
		return;
	}
	/* one element, then double what is there */
	memcpy(dst, fill, itemsize);
	size_t have = itemsize;
	while (have < total) {
		size_t step = have < total - have ? have : total - have;
		memcpy(dst + have, dst, step);
		have += step;
	}
}

/* ---- copies into large destinations ------------------------------------------------ */

/*
 * A whole-array read copies every decoded chunk into a caller's buffer far
 * larger than the caches; plain stores first read each destination line
 * (read for ownership) only to overwrite it.  Streaming stores skip that:
 * a 4096^2 float32 read in 512^2 chunks spent a third of its time in this
 * copy.  Only for destinations of STREAM_MIN_BYTES and more (which will
 * not be in cache afterwards anyway) and long runs.
 */
#define STREAM_MIN_BYTES ((uint64_t)32 << 20)
#define STREAM_MIN_RUN 1024

static void copy_run(uint8_t *dst, const uint8_t *src, size_t n)
{
	memcpy(dst, src, n);
}

#if defined(__SSE2__)
#include <emmintrin.h>

static int stream_worthy(uint64_t dst_bytes, size_t run_bytes)
{
	return dst_bytes >= STREAM_MIN_BYTES && run_bytes >= STREAM_MIN_RUN;
}

static void stream_run(uint8_t *dst, const uint8_t *src, size_t n)
{
	size_t head = (16 - ((uintptr_t)dst & 15)) & 15;
	if (head > n)
		head = n;
	memcpy(dst, src, head);
	size_t i = head;
	for (; i + 64 <= n; i += 64) {
		__m128i a = _mm_loadu_si128((const __m128i *)(src + i));
		__m128i b = _mm_loadu_si128((const __m128i *)(src + i + 16));
		__m128i c = _mm_loadu_si128((const __m128i *)(src + i + 32));
		__m128i e = _mm_loadu_si128((const __m128i *)(src + i + 48));
		_mm_stream_si128((__m128i *)(dst + i), a);
		_mm_stream_si128((__m128i *)(dst + i + 16), b);
		_mm_stream_si128((__m128i *)(dst + i + 32), c);
		_mm_stream_si128((__m128i *)(dst + i + 48), e);
	}
	memcpy(dst + i, src + i, n - i);
}

/* Streaming stores are weakly ordered: fence before another thread (the
 * caller, after tess_pool_run) may read what they wrote. */
static void stream_done(int streamed)
{
	if (streamed)
		_mm_sfence();
}
#else
static int stream_worthy(uint64_t dst_bytes, size_t run_bytes)
{
	(void)dst_bytes, (void)run_bytes;
	return 0;
}

static void stream_run(uint8_t *dst, const uint8_t *src, size_t n)
{
	memcpy(dst, src, n);
}

static void stream_done(int streamed)
{
	(void)streamed;
}
#endif

static void stream_runs(uint8_t *dst, size_t dstep, const uint8_t *src, size_t sstep,
                        uint64_t rows, size_t n)
{
	for (; rows; rows--, dst += dstep, src += sstep)
		stream_run(dst, src, n);
}

/* The first axis k such that the axes after k are covered whole by `len` in
 * both shapes: those axes and k make one contiguous run. */
static int run_axis(const uint64_t *len, const uint64_t *a, const uint64_t *b, int ndim,
                    uint64_t *run)
{
	int k = ndim - 1;
	*run = len[k];
	while (k > 0 && len[k] == a[k] && len[k] == b[k]) {
		k--;
		*run *= len[k];
	}
	return k;
}

/*
 * `rows` runs of `n` bytes, `dstep` and `sstep` bytes apart.  The common
 * short runs get a copy of constant size that the compiler inlines: a
 * 32^3 uint16 inner chunk is 1024 runs of 64 bytes, and a memcpy call per
 * run cost three times the chunk's decoding.
 */
static void copy_runs(uint8_t *dst, size_t dstep, const uint8_t *src, size_t sstep,
                      uint64_t rows, size_t n)
{
	switch (n) {
	case 16:
		for (; rows; rows--, dst += dstep, src += sstep)
			memcpy(dst, src, 16);
		return;
	case 32:
		for (; rows; rows--, dst += dstep, src += sstep)
			memcpy(dst, src, 32);
		return;
	case 64:
		for (; rows; rows--, dst += dstep, src += sstep)
			memcpy(dst, src, 64);
		return;
	case 128:
		for (; rows; rows--, dst += dstep, src += sstep)
			memcpy(dst, src, 128);
		return;
	default:
		for (; rows; rows--, dst += dstep, src += sstep)
			copy_run(dst, src, n);
	}
}

void array_box_copy(uint8_t *dst, const uint64_t *dshape, const uint64_t *dstart, const uint8_t *src,
              const uint64_t *sshape, const uint64_t *sstart, const uint64_t *len, int ndim,
              size_t itemsize)
{
	if (ndim == 0) {
		memcpy(dst, src, itemsize);
		return;
	}
	uint64_t dstr[MAXD], sstr[MAXD], ctr[MAXD] = {0}, run;
	c_strides(dshape, ndim, dstr);
	c_strides(sshape, ndim, sstr);
	uint64_t doff = 0, soff = 0, dtotal = itemsize;
	for (int d = 0; d < ndim; d++) {
		if (len[d] == 0)
			return;
		doff += dstart[d] * dstr[d];
		soff += sstart[d] * sstr[d];
		dtotal *= dshape[d];
	}
	int k = run_axis(len, dshape, sshape, ndim, &run);
	size_t run_bytes = (size_t)run * itemsize;
	/* the axis above the run goes in copy_runs' tight loop, the odometer
	 * walks the axes above that */
	int outer = k - 1;
	uint64_t rows = outer >= 0 ? len[outer] : 1;
	size_t dstep = outer >= 0 ? (size_t)dstr[outer] * itemsize : 0;
	size_t sstep = outer >= 0 ? (size_t)sstr[outer] * itemsize : 0;
	int stream = stream_worthy(dtotal, run_bytes);
	for (;;) {
		if (stream)
			stream_runs(dst + doff * itemsize, dstep, src + soff * itemsize, sstep, rows,
			            run_bytes);
		else
			copy_runs(dst + doff * itemsize, dstep, src + soff * itemsize, sstep, rows,
			          run_bytes);
		int d = outer - 1;
		for (; d >= 0; d--) {
			if (++ctr[d] < len[d]) {
				doff += dstr[d];
				soff += sstr[d];
				break;
			}
			doff -= (len[d] - 1) * dstr[d];
			soff -= (len[d] - 1) * sstr[d];
			ctr[d] = 0;
		}
		if (d < 0)
			break;
	}
	stream_done(stream);
}

void array_box_fill(uint8_t *dst, const uint64_t *dshape, const uint64_t *dstart, const uint64_t *len,
              int ndim, const uint8_t *fill, size_t itemsize)
{
	if (ndim == 0) {
		memcpy(dst, fill, itemsize);
		return;
	}
	uint64_t dstr[MAXD], ctr[MAXD] = {0}, run;
	c_strides(dshape, ndim, dstr);
	uint64_t doff = 0;
	for (int d = 0; d < ndim; d++) {
		if (len[d] == 0)
			return;
		doff += dstart[d] * dstr[d];
	}
	int k = run_axis(len, dshape, dshape, ndim, &run);
	for (;;) {
		array_fill_elems(dst + doff * itemsize, run, fill, itemsize);
		int d = k - 1;
		for (; d >= 0; d--) {
			if (++ctr[d] < len[d]) {
				doff += dstr[d];
				break;
			}
			doff -= (len[d] - 1) * dstr[d];
			ctr[d] = 0;
		}
		if (d < 0)
			return;
	}
}

int64_t array_box_contiguous(const uint64_t *shape, const uint64_t *start, const uint64_t *len, int ndim)
{
	int k = 0;
	while (k < ndim && len[k] == 1)
		k++;
	for (int d = k + 1; d < ndim; d++)
		if (len[d] != shape[d])
			return -1;
	uint64_t stride[MAXD], off = 0;
	c_strides(shape, ndim, stride);
	for (int d = 0; d < ndim; d++)
		off += start[d] * stride[d];
	return (int64_t)off;
}

int array_is_all_fill(const tess_array *a, const uint8_t *p, size_t nbytes)
{
	if (a->keep_fill_chunks || nbytes < a->itemsize)
		return 0;
	/* every element equals the first, and the first is the fill: the bytes
	 * repeat with period itemsize */
	return memcmp(p, a->fill, a->itemsize) == 0 &&
	       memcmp(p, p + a->itemsize, nbytes - a->itemsize) == 0;
}

/* ---- layout conversions ------------------------------------------------------------ */

static inline void copy_elem(uint8_t *dst, const uint8_t *src, size_t itemsize)
{
	switch (itemsize) {
	case 1: *dst = *src; break;
	case 2: memcpy(dst, src, 2); break;
	case 4: memcpy(dst, src, 4); break;
	case 8: memcpy(dst, src, 8); break;
	case 16: memcpy(dst, src, 16); break;
	default: memcpy(dst, src, itemsize); break;
	}
}

/*
 * Between the caller's layout (C order over k->shape) and the stored layout
 * (C order over the permuted shape: stored axis i is array axis perm[i]).
 * Walks the stored layout in order; `to_stored` picks the direction.
 */
static void permute(uint8_t *dst, const uint8_t *src, const chunk_kind *k, int to_stored)
{
	int n = k->ndim;
	const int *perm = k->pipe->perm;
	uint64_t cstride[MAXD], tshape[MAXD], tstride[MAXD], ctr[MAXD] = {0};
	c_strides(k->shape, n, cstride);
	for (int i = 0; i < n; i++) {
		tshape[i] = k->shape[perm[i]];
		tstride[i] = cstride[perm[i]];
	}
	size_t is = k->itemsize;
	uint64_t inner = tshape[n - 1], istride = tstride[n - 1], off = 0, pos = 0;
	for (;;) {
		for (uint64_t j = 0; j < inner; j++) {
			uint64_t c = off + j * istride;
			if (to_stored)
				copy_elem(dst + (pos + j) * is, src + c * is, is);
			else
				copy_elem(dst + c * is, src + (pos + j) * is, is);
		}
		pos += inner;
		int d = n - 2;
		for (; d >= 0; d--) {
			if (++ctr[d] < tshape[d]) {
				off += tstride[d];
				break;
			}
			off -= (tshape[d] - 1) * tstride[d];
			ctr[d] = 0;
		}
		if (d < 0)
			return;
	}
}

static void byteswap(uint8_t *p, size_t nbytes, size_t unit)
{
	size_t i = 0;
	switch (unit) {
	case 2:
		for (; i + 2 <= nbytes; i += 2) {
			uint16_t v;
			memcpy(&v, p + i, 2);
			v = __builtin_bswap16(v);
			memcpy(p + i, &v, 2);
		}
		return;
	case 4:
		for (; i + 4 <= nbytes; i += 4) {
			uint32_t v;
			memcpy(&v, p + i, 4);
			v = __builtin_bswap32(v);
			memcpy(p + i, &v, 4);
		}
		return;
	case 8:
		for (; i + 8 <= nbytes; i += 8) {
			uint64_t v;
			memcpy(&v, p + i, 8);
			v = __builtin_bswap64(v);
			memcpy(p + i, &v, 8);
		}
		return;
	default:
		for (; i + unit <= nbytes; i += unit)
			for (size_t a = 0, b = unit - 1; a < b; a++, b--) {
				uint8_t t = p[i + a];
				p[i + a] = p[i + b];
				p[i + b] = t;
			}
	}
}

/* ---- the bytes codecs ------------------------------------------------------------------ */

int array_codecs_encode(const tess_pipeline *p, const uint8_t *in, size_t len, tess_buf *out)
{
	if (p->ncodecs == 0)
		return tess_buf_append(out, in, len);
	tess_buf tmp[2] = {{0}, {0}};
	int rc = 0;
	for (size_t i = 0; i < p->ncodecs && !rc; i++) {
		int last = i + 1 == p->ncodecs;
		tess_buf *dst = last ? out : &tmp[i & 1];
		if (!last)
			dst->len = 0;
		size_t mark = dst->len;
		rc = p->codecs[i]->ops->encode(p->codecs[i], in, len, dst);
		in = dst->data ? dst->data + mark : dst->data; /* no arithmetic on NULL */
		len = dst->len - mark;
	}
	tess_buf_free(&tmp[0]);
	tess_buf_free(&tmp[1]);
	return rc;
}

/*
 * What an intermediate stage of a decode may produce: the stream that the
 * next codec decodes is an encoding of at most max_out bytes, which no codec
 * grows by more than a small fraction.  Bounded by the chunk, not the data.
 */
static size_t stage_bound(size_t max_out, size_t in_len)
{
	size_t bound = max_out + max_out / 8 + 65536;
	return bound > in_len ? bound : in_len;
}

int array_codecs_decode(const tess_pipeline *p, const uint8_t *in, size_t len, tess_buf *out,
                  size_t max_out)
{
	if (p->ncodecs == 0) {
		if (len > max_out)
			return tess_err(TESS_ECORRUPT, "holds %zu bytes, at most %zu expected", len,
			                max_out);
		return tess_buf_append(out, in, len);
	}
	tess_buf tmp[2] = {{0}, {0}};
	int rc = 0;
	for (size_t i = p->ncodecs; i-- > 0 && !rc;) {
		int last = i == 0;
		tess_buf *dst = last ? out : &tmp[i & 1];
		if (!last)
			dst->len = 0;
		size_t mark = dst->len;
		const tess_codec *c = p->codecs[i];
		rc = c->ops->decode(c, in, len, dst, last ? max_out : stage_bound(max_out, len));
		if (rc) {
			if (rc != TESS_ENOMEM)
				rc = TESS_ECORRUPT; /* whatever the codec says, the data is bad */
			break;
		}
		in = dst->data ? dst->data + mark : dst->data; /* no arithmetic on NULL */
		len = dst->len - mark;
	}
	tess_buf_free(&tmp[0]);
	tess_buf_free(&tmp[1]);
	return rc;
}

/* ---- whole chunks ----------------------------------------------------------------------- */

int array_chunk_encode(const chunk_kind *k, const uint8_t *canon, tess_buf *out)
{
	if (!k->pipe->permuted && !k->swap)
		return array_codecs_encode(k->pipe, canon, k->nbytes, out);
	uint8_t *tmp = malloc(k->nbytes ? k->nbytes : 1);
	if (!tmp)
		return tess_err(TESS_ENOMEM, "out of memory for a %zu-byte chunk", k->nbytes);
	if (k->pipe->permuted)
		permute(tmp, canon, k, 1);
	else
		memcpy(tmp, canon, k->nbytes);
	if (k->swap)
		byteswap(tmp, k->nbytes, k->swap_unit);
	int rc = array_codecs_encode(k->pipe, tmp, k->nbytes, out);
	free(tmp);
	return rc;
}

int array_chunk_decode(const chunk_kind *k, const uint8_t *in, size_t len, uint8_t *dst)
{
	uint8_t *stage = dst;
	if (k->pipe->permuted) {
		stage = malloc(k->nbytes ? k->nbytes : 1);
		if (!stage)
			return tess_err(TESS_ENOMEM, "out of memory for a %zu-byte chunk", k->nbytes);
	}
	/* the decoders write straight into the destination, never past it */
	tess_buf out = tess_buf_fixed(stage, k->nbytes);
	int rc = array_codecs_decode(k->pipe, in, len, &out, k->nbytes);
	if (!rc && out.len != k->nbytes)
		rc = tess_err(TESS_ECORRUPT, "decodes to %zu bytes, the chunk holds %zu", out.len,
		              k->nbytes);
	if (!rc && k->swap)
		byteswap(stage, k->nbytes, k->swap_unit);
	if (!rc && k->pipe->permuted)
		permute(dst, stage, k, 0);
	if (stage != dst)
		free(stage);
	return rc;
}
