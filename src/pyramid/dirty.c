/*
 * Dirty records of a pyramid and the work lists of an update.
 *
 * A write to level 0 puts one empty marker object per written box before
 * any chunk is written:
 *
 *     .tessera/dirty/<pyramid path>/<token>_<lo>_<hi>
 *
 * token: 16 random hex digits (unique per marker); lo, hi: the box of
 * level-0 cells, '.'-joined per dimension, hi exclusive.  A box whose key
 * would be too long for every backend (over 500 bytes, or a name over 255)
 * is put as `<token>` with "<lo>_<hi>" as its content.  One object per
 * write makes marking one put (one fsync on the file backend); the cell
 * box lets an update recompute only the cells that changed.  An update
 * lists the markers (directly under the directory: nested pyramids' markers
 * roll up into prefixes and are left alone), recomputes, and deletes
 * exactly the markers it listed.  A marker it cannot read is taken to mean
 * "everything": recomputing too much is safe, too little is not.
 *
 * `<dir>/.keep`, put when the pyramid is created, keeps the directory: the
 * file backend removes empty directories, and would otherwise remove and
 * make it again around every update.
 */
#include "pyramid/internal.h"
#include "store/node.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define DIRTY_DIR TESS_RESERVED_DIR "/dirty/"
#define MARKER_KEY_MAX 500
#define KEEP_NAME ".keep"
#define LIST_PAGE 1000

/* ---- boxes ----------------------------------------------------------------------- */

void pyr_boxes_free(pyr_boxes *b)
{
	free(b->v);
	b->v = NULL;
	b->n = b->cap = 0;
}

int pyr_boxes_add(pyr_boxes *b, const uint64_t *chunk, const uint64_t *lo, const uint64_t *hi)
{
	size_t nd = (size_t)b->ndim, per = 3 * nd;
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 16;
		uint64_t *v = realloc(b->v, cap * per * sizeof *v);
		if (!v)
			return tess_err(TESS_ENOMEM, "pyramid: out of memory for %zu boxes", cap);
		b->v = v;
		b->cap = cap;
	}
	uint64_t *e = b->v + b->n * per;
	for (size_t d = 0; d < nd; d++) {
		e[d] = chunk ? chunk[d] : 0;
		e[nd + d] = lo[d];
		e[2 * nd + d] = hi[d];
	}
	b->n++;
	return 0;
}

static int cmp_chunk(const void *a, const void *b, void *ctx)
{
	const uint64_t *x = a, *y = b;
	int nd = *(const int *)ctx;
	for (int d = 0; d < nd; d++)
		if (x[d] != y[d])
			return x[d] < y[d] ? -1 : 1;
	return 0;
}

/* Sort by chunk and merge entries of one chunk into their bounding box. */
static void work_merge(pyr_boxes *w)
{
	int nd = w->ndim;
	size_t per = 3 * (size_t)nd;
	if (w->n < 2)
		return;
	qsort_r(w->v, w->n, per * sizeof(uint64_t), cmp_chunk, &nd);
	size_t out = 0;
	for (size_t i = 1; i < w->n; i++) {
		uint64_t *keep = w->v + out * per, *e = w->v + i * per;
		if (cmp_chunk(keep, e, &nd) == 0) {
			for (int d = 0; d < nd; d++) {
				keep[nd + d] = e[nd + d] < keep[nd + d] ? e[nd + d] : keep[nd + d];
				keep[2 * nd + d] = e[2 * nd + d] > keep[2 * nd + d] ? e[2 * nd + d]
				                                                    : keep[2 * nd + d];
			}
		} else if (++out != i) {
			memcpy(w->v + out * per, e, per * sizeof(uint64_t));
		}
	}
	w->n = out + 1;
}

/* Split one box (already clipped, non-empty) along the chunk grid. */
static int split_box(pyr_boxes *out, const uint64_t *lo, const uint64_t *hi,
                     const uint64_t *chunks)
{
	int nd = out->ndim;
	uint64_t c0[PYR_MAXD], c1[PYR_MAXD], c[PYR_MAXD], slo[PYR_MAXD], shi[PYR_MAXD];
	for (int d = 0; d < nd; d++) {
		c0[d] = c[d] = lo[d] / chunks[d];
		c1[d] = (hi[d] - 1) / chunks[d];
	}
	for (;;) {
		for (int d = 0; d < nd; d++) {
			uint64_t a = c[d] * chunks[d], b = a + chunks[d];
			slo[d] = lo[d] > a ? lo[d] : a;
			shi[d] = hi[d] < b ? hi[d] : b;
		}
		int rc = pyr_boxes_add(out, c, slo, shi);
		if (rc)
			return rc;
		int d = nd - 1;
		for (; d >= 0; d--) {
			if (c[d]++ < c1[d])
				break;
			c[d] = c0[d];
		}
		if (d < 0)
			return 0;
	}
}

int pyr_work_from_boxes(pyr_boxes *out, const pyr_boxes *in, int halve, const int *aggd,
                        const uint64_t *shape, const uint64_t *chunks)
{
	int nd = in->ndim;
	out->ndim = nd;
	out->n = 0;
	for (size_t i = 0; i < in->n; i++) {
		const uint64_t *lo = pyr_box_lo(in, i), *hi = pyr_box_hi(in, i);
		uint64_t l[PYR_MAXD], h[PYR_MAXD];
		int empty = 0;
		for (int d = 0; d < nd; d++) {
			int half = halve && aggd[d];
			l[d] = half ? lo[d] / 2 : lo[d];
			h[d] = half ? hi[d] / 2 + hi[d] % 2 : hi[d];
			if (h[d] > shape[d])
				h[d] = shape[d];
			empty |= l[d] >= h[d];
		}
		int rc = empty ? 0 : split_box(out, l, h, chunks);
		if (rc)
			return rc;
	}
	work_merge(out);
	return 0;
}

int pyr_work_all(pyr_boxes *out, int ndim, const uint64_t *shape, const uint64_t *chunks)
{
	uint64_t lo[PYR_MAXD] = {0};
	out->ndim = ndim;
	out->n = 0;
	for (int d = 0; d < ndim; d++)
		if (shape[d] == 0)
			return 0;
	return split_box(out, lo, shape, chunks);
}

/* ---- marker keys ------------------------------------------------------------------- */

static void random_hex(char *out)
{
	uint64_t t;
	if (getrandom(&t, sizeof t, 0) != (ssize_t)sizeof t)
		t = (uint64_t)tess_now_ns() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
	snprintf(out, 17, "%016llx", (unsigned long long)t);
}

/* "<lo>_<hi>" into buf; the length, or cap when it does not fit. */
static size_t box_text(char *buf, size_t cap, int nd, const uint64_t *lo, const uint64_t *hi)
{
	size_t len = 0;
	for (int part = 0; part < 2; part++) {
		const uint64_t *v = part ? hi : lo;
		for (int d = 0; d < nd && len < cap; d++) {
			int n = snprintf(buf + len, cap - len, "%s%llu", d ? "." : part ? "_" : "",
			                 (unsigned long long)v[d]);
			len = n < 0 || (size_t)n >= cap - len ? cap : len + (size_t)n;
		}
	}
	return len;
}

static int dir_key(char *buf, const char *path)
{
	int n = snprintf(buf, TESS_KEY_MAX + 1, DIRTY_DIR "%s/", path);
	if (!path[0] || n < 0 || n + 17 > TESS_KEY_MAX)
		return tess_err(TESS_EINVAL, "pyramid '%s': the path is too long for its dirty records",
		                path);
	return 0;
}

int pyr_mark(tess_store *st, const char *path, int ndim, size_t n, const uint64_t *lo,
             const uint64_t *hi, char *first_key)
{
	char dir[TESS_KEY_MAX + 1], box[TESS_KEY_MAX + 1];
	int rc = dir_key(dir, path);
	if (rc)
		return rc;
	size_t dlen = strlen(dir);
	tess_put_req *reqs = calloc(n, sizeof *reqs);
	char *keys = calloc(n, TESS_KEY_MAX + 1);
	char *bodies = calloc(n, TESS_KEY_MAX + 1);
	if (!reqs || !keys || !bodies)
		rc = tess_err(TESS_ENOMEM, "pyramid '%s': out of memory marking writes", path);
	for (size_t i = 0; i < n && !rc; i++) {
		char *key = keys + i * (TESS_KEY_MAX + 1), tok[17];
		random_hex(tok);
		size_t blen = box_text(box, sizeof box, ndim, lo + i * (size_t)ndim,
		                       hi + i * (size_t)ndim);
		/* dir_key left room for the token: dlen + 16 <= TESS_KEY_MAX */
		memcpy(key, dir, dlen);
		memcpy(key + dlen, tok, 17);
		if (dlen + 17 + blen <= MARKER_KEY_MAX && 17 + blen <= 255) {
			key[dlen + 16] = '_';
			memcpy(key + dlen + 17, box, blen + 1);
			reqs[i] = (tess_put_req){ key, "", 0, 0, 0 };
		} else {
			char *body = bodies + i * (TESS_KEY_MAX + 1);
			blen = box_text(body, TESS_KEY_MAX + 1, ndim, lo + i * (size_t)ndim,
			                hi + i * (size_t)ndim);
			reqs[i] = (tess_put_req){ key, body, blen, 0, 0 };
		}
	}
	if (!rc)
		rc = tess_obj_put_many(st, reqs, n);
	for (size_t i = 0; i < n && !rc; i++)
		if (reqs[i].status)
			rc = tess_err_prefix(reqs[i].status, "marker '%s': ", reqs[i].key);
	if (!rc && first_key && n)
		memcpy(first_key, keys, TESS_KEY_MAX + 1);
	free(reqs);
	free(keys);
	free(bodies);
	return rc ? tess_err_prefix(rc, "pyramid '%s': marking the write dirty: ", path) : 0;
}

/* ---- listing ---------------------------------------------------------------------- */

void pyr_dirty_free(pyr_dirty *d)
{
	pyr_boxes_free(&d->boxes);
	for (size_t i = 0; i < d->nkeys; i++)
		free(d->keys[i]);
	free(d->keys);
	memset(d, 0, sizeof *d);
}

static int keep_key(pyr_dirty *d, const char *key)
{
	if (d->nkeys == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 64;
		char **k = realloc(d->keys, cap * sizeof *k);
		if (!k)
			return tess_err(TESS_ENOMEM, "pyramid: out of memory listing dirty records");
		d->keys = k;
		d->cap = cap;
	}
	if (!(d->keys[d->nkeys] = strdup(key)))
		return tess_err(TESS_ENOMEM, "pyramid: out of memory listing dirty records");
	d->nkeys++;
	return 0;
}

/* "<lo>_<hi>" (len bytes) into a box; 0 when it is not one of ndim dimensions. */
static int parse_box(const char *s, size_t len, int nd, uint64_t *lo, uint64_t *hi)
{
	const char *p = s, *end = s + len;
	for (int part = 0; part < 2; part++) {
		uint64_t *v = part ? hi : lo;
		for (int d = 0; d < nd; d++) {
			if (p >= end || *p < '0' || *p > '9')
				return 0;
			uint64_t x = 0;
			while (p < end && *p >= '0' && *p <= '9') {
				if (x > (UINT64_MAX - 9) / 10)
					return 0;
				x = x * 10 + (uint64_t)(*p++ - '0');
			}
			v[d] = x;
			char sep = d + 1 < nd ? '.' : part ? '\0' : '_';
			if (sep && (p >= end || *p++ != sep))
				return 0;
		}
	}
	return p == end;
}

static int is_token(const char *s)
{
	for (int i = 0; i < 16; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* A box, or everything when the record cannot be read. */
static int add_record(pyr_dirty *d, const char *text, size_t len)
{
	int nd = d->boxes.ndim;
	uint64_t lo[PYR_MAXD], hi[PYR_MAXD];
	if (!parse_box(text, len, nd, lo, hi)) {
		for (int k = 0; k < nd; k++) {
			lo[k] = 0;
			hi[k] = UINT64_MAX;
		}
	}
	return pyr_boxes_add(&d->boxes, NULL, lo, hi);
}

/* Records whose box is their content: fetch them in one batch. */
static int fetch_bodies(pyr_dirty *d, tess_store *st, size_t first)
{
	size_t n = d->nkeys - first;
	if (n == 0)
		return 0;
	tess_get_req *reqs = calloc(n, sizeof *reqs);
	tess_buf *bufs = calloc(n, sizeof *bufs);
	int rc = reqs && bufs ? 0 : tess_err(TESS_ENOMEM, "pyramid: out of memory");
	for (size_t i = 0; i < n && !rc; i++)
		reqs[i] = (tess_get_req){ d->keys[first + i], 0, TESS_KEY_MAX, &bufs[i], 0 };
	if (!rc)
		rc = tess_obj_get_many(st, reqs, n);
	for (size_t i = 0; i < n && !rc; i++) {
		if (reqs[i].status == TESS_ENOTFOUND)
			continue; /* deleted meanwhile by another update: nothing to do */
		if (reqs[i].status)
			rc = tess_err_prefix(reqs[i].status, "marker '%s': ", reqs[i].key);
		else
			rc = add_record(d, (const char *)bufs[i].data, bufs[i].len);
	}
	for (size_t i = 0; bufs && i < n; i++)
		tess_buf_free(&bufs[i]);
	free(reqs);
	free(bufs);
	return rc;
}

int pyr_dirty_list(pyr_dirty *out, tess_store *st, const char *path, int ndim)
{
	memset(out, 0, sizeof *out);
	out->boxes.ndim = ndim;
	char dir[TESS_KEY_MAX + 1];
	int rc = dir_key(dir, path);
	if (rc)
		return rc;
	size_t dlen = strlen(dir);
	tess_list_page page = {0};
	char *after = NULL;
	/* records stored with their box as content go after the others */
	pyr_dirty bodies = {0};
	bodies.boxes.ndim = ndim;
	for (int more = 1; more && !rc;) {
		tess_list_page_clear(&page);
		rc = st->ops->list(st->be, dir, "/", after, LIST_PAGE, &page);
		if (rc) {
			rc = tess_err_prefix(rc, "pyramid '%s': listing dirty records: ", path);
			break;
		}
		more = page.truncated && page.count > 0;
		for (size_t i = 0; i < page.count && !rc; i++) {
			const tess_list_entry *e = &page.entries[i];
			const char *name = e->key + dlen;
			size_t nlen = strlen(name);
			if (e->is_prefix || strncmp(e->key, dir, dlen) != 0 || nlen < 16 ||
			    !is_token(name) || (nlen > 16 && name[16] != '_'))
				continue; /* a nested pyramid's records, strays */
			if (nlen == 16) {
				rc = keep_key(&bodies, e->key);
				continue;
			}
			rc = keep_key(out, e->key);
			if (!rc)
				rc = add_record(out, name + 17, nlen - 17);
		}
		if (!rc && page.count) {
			free(after);
			if (!(after = strdup(page.entries[page.count - 1].key)))
				rc = tess_err(TESS_ENOMEM, "pyramid: out of memory");
		}
	}
	free(after);
	tess_list_page_free(&page);
	size_t first = out->nkeys;
	for (size_t i = 0; i < bodies.nkeys && !rc; i++)
		rc = keep_key(out, bodies.keys[i]);
	pyr_dirty_free(&bodies);
	if (!rc)
		rc = fetch_bodies(out, st, first);
	if (rc)
		pyr_dirty_free(out);
	return rc;
}

int pyr_dirty_delete(const pyr_dirty *d, tess_store *st)
{
	tess_del_batch b = {0};
	int rc = 0;
	for (size_t i = 0; i < d->nkeys && !rc; i++)
		rc = tess_del_batch_add(&b, st, d->keys[i]);
	if (!rc)
		rc = tess_del_batch_flush(&b, st);
	tess_del_batch_free(&b);
	return rc;
}

int pyr_dirty_keep(tess_store *st, const char *path)
{
	char key[TESS_KEY_MAX + 1];
	int rc = dir_key(key, path);
	if (!rc) {
		strcat(key, KEEP_NAME);
		rc = tess_obj_put(st, key, "", 0, 0);
	}
	return rc;
}

/* ---- "an update is running" ------------------------------------------------------------ */

/*
 * Whether the pyramid's lock is held (an update, rebuild or grow runs):
 * the lease object of tess_lock_acquire(st, "pyramid:<path>") exists.  Its
 * key is store/lock.c's: TESS_RESERVED_DIR "/locks/" and the FNV-1a 64
 * hash of the name in hex; tests/pyramid checks the two agree.
 */
void pyr_lock_key(char *buf, const char *path)
{
	char name[TESS_NODE_KEYBUF];
	pyr_lock_name(name, path);
	uint64_t h = 1469598103934665603ULL;
	for (const char *s = name; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	snprintf(buf, 64, TESS_RESERVED_DIR "/locks/%016llx", (unsigned long long)h);
}

int pyr_update_running(tess_store *st, const char *path)
{
	char key[64];
	tess_stat sb;
	pyr_lock_key(key, path);
	return st->ops->stat(st->be, key, &sb) != TESS_ENOTFOUND;
}
