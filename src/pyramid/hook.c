/*
 * The pyramid's side of every write to a level array (see hook.h).
 *
 * Why a second marker after a write.  An update lists the markers, reads
 * level 0, writes the coarser levels and deletes the markers it listed.  A
 * write whose marker was listed while its chunks were still being written
 * may have been read half-way by that update, whose deletion of the marker
 * would then forget the rest.  So after writing, the writer looks (in this
 * order) at the pyramid's lock (held by every update) and at its own
 * marker: if an update is running, or the marker is already gone, it
 * records the region again under a new marker.  An update that finished
 * before the lock was looked at deleted the marker before it was looked
 * at; one that starts after lists the marker and reads the finished write.
 */
#include "pyramid/hook.h"
#include "pyramid/internal.h"
#include "array/core.h"
#include "store/node.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>

static _Thread_local int derive_depth;

void pyr_derive_begin(void) { derive_depth++; }
void pyr_derive_end(void) { derive_depth--; }

int tess_pyramid_hook_name_may_be_level(const char *path)
{
	const char *s = strrchr(path, '/');
	s = s ? s + 1 : path;
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* The pyramid's path: the level array's parent. */
static void pyramid_path(char *buf, const tess_array *a)
{
	const char *slash = strrchr(a->path, '/');
	size_t n = slash ? (size_t)(slash - a->path) : 0;
	memcpy(buf, a->path, n);
	buf[n] = '\0';
}

int tess_pyramid_hook_open(tess_array *a, const json_t *attrs)
{
	const json_t *v = json_is_object(attrs) ? json_object_get(attrs, "_tessera_pyramid") : NULL;
	if (!v)
		return 0;
	const json_t *lv = json_object_get(v, "level");
	if (!json_is_object(v) || !json_is_integer(lv) || json_integer_value(lv) < 0 ||
	    json_integer_value(lv) >= PYR_MAX_LEVELS || !strchr(a->path, '/'))
		return tess_err(TESS_ECORRUPT, "array '%s': attribute _tessera_pyramid: expected "
		                "{\"level\": k} with 0 <= k < %d, on an array inside its pyramid's "
		                "group", a->path, PYR_MAX_LEVELS);
	a->pyr_level = (int)json_integer_value(lv);
	return 0;
}

int tess_pyramid_hook_refuse(tess_array *a, const char *op)
{
	if (a->pyr_level <= 0 || derive_depth > 0)
		return 0;
	return tess_err(TESS_EPERM, "array '%s': %s%swrites go to level 0; level %d is derived",
	                a->path, op ? op : "", op ? ": " : "", a->pyr_level);
}

static void mark_note(pyr_write_mark *mk, int ndim, const uint64_t *lo, const uint64_t *hi)
{
	mk->marked = 1;
	mk->resize = 0;
	memcpy(mk->lo, lo, (size_t)ndim * sizeof *lo);
	memcpy(mk->hi, hi, (size_t)ndim * sizeof *hi);
}

int tess_pyramid_hook_before_write(tess_array *a, const uint64_t *start, const uint64_t *count,
                                   pyr_write_mark *mk)
{
	mk->marked = 0;
	if (a->pyr_level > 0)
		return tess_pyramid_hook_refuse(a, NULL);
	if (a->pyr_level < 0)
		return 0;
	int n = a->meta.ndim;
	uint64_t hi[PYR_MAXD];
	for (int d = 0; d < n; d++)
		hi[d] = start[d] + count[d];
	char pp[TESS_KEY_MAX + 1];
	pyramid_path(pp, a);
	int rc = pyr_mark(a->st, pp, n, 1, start, hi, mk->key);
	if (rc)
		return tess_err_prefix(rc, "array '%s': ", a->path);
	mark_note(mk, n, start, hi);
	return 0;
}

/* Mark the cells that appear or vanish between two shapes: per changed
 * dimension the slab between the two lengths, across the larger extent of
 * every other dimension.  0 with nothing to mark. */
static int mark_slabs(tess_array *a, const char *pp, const uint64_t *old_shape,
                      const uint64_t *new_shape, char *key, int *marked)
{
	int n = a->meta.ndim;
	uint64_t lo[PYR_MAXD * PYR_MAXD], hi[PYR_MAXD * PYR_MAXD], big[PYR_MAXD];
	size_t nb = 0;
	*marked = 0;
	for (int d = 0; d < n; d++)
		big[d] = old_shape[d] > new_shape[d] ? old_shape[d] : new_shape[d];
	for (int d = 0; d < n; d++) {
		if (old_shape[d] == new_shape[d])
			continue;
		int empty = 0;
		for (int e = 0; e < n; e++) {
			lo[nb * n + e] = 0;
			hi[nb * n + e] = big[e];
			empty |= big[e] == 0;
		}
		lo[nb * n + d] = old_shape[d] < new_shape[d] ? old_shape[d] : new_shape[d];
		nb += !empty;
	}
	if (nb == 0)
		return 0;
	*marked = 1;
	return pyr_mark(a->st, pp, n, nb, lo, hi, key);
}

int tess_pyramid_hook_resize(tess_array *a, const uint64_t *old_shape, const uint64_t *new_shape,
                             pyr_write_mark *mk)
{
	mk->marked = 0;
	if (a->pyr_level != 0)
		return 0;
	char pp[TESS_KEY_MAX + 1];
	pyramid_path(pp, a);
	int rc = mark_slabs(a, pp, old_shape, new_shape, mk->key, &mk->marked);
	if (!rc && mk->marked) {
		mk->resize = 1;
		memcpy(mk->lo, old_shape, (size_t)a->meta.ndim * sizeof *old_shape);
		memcpy(mk->hi, new_shape, (size_t)a->meta.ndim * sizeof *new_shape);
	}
	return rc;
}

/* The pyramid's update_on_write, read once per handle that is not the
 * pyramid's own. */
static int lookup_uow(tess_array *a, const char *pp)
{
	if (a->pyr_uow >= 0)
		return 0;
	json_t *doc, *attrs;
	int fmt;
	pyr_meta m;
	int rc = pyr_group_attrs_load(&doc, &attrs, &fmt, a->st, pp);
	if (!rc) {
		rc = pyr_meta_parse(&m, attrs, "pyramid");
		json_decref(doc);
	}
	if (rc == TESS_ENOTFOUND)
		rc = tess_err(TESS_ECORRUPT, "the group '%s' above it has no pyramid metadata", pp);
	if (rc)
		return tess_err_prefix(rc, "array '%s': ", a->path);
	a->pyr_uow = m.update_on_write;
	pyr_meta_clear(&m);
	return 0;
}

int tess_pyramid_hook_after_write(tess_array *a, pyr_write_mark *mk, int rc)
{
	if (!mk->marked)
		return rc;
	char pp[TESS_KEY_MAX + 1];
	pyramid_path(pp, a);
	tess_pyramid *owner = a->pyr_owner;
	/* (a pyramid growing itself holds the lock: no update can run) */
	int mine = owner && owner->locked;
	if (!mine && (pyr_update_running(a->st, pp) || !tess_key_exists(a->st, mk->key))) {
		int marked, rc2 = mk->resize ? mark_slabs(a, pp, mk->lo, mk->hi, NULL, &marked)
		                             : pyr_mark(a->st, pp, a->meta.ndim, 1, mk->lo, mk->hi, NULL);
		if (!rc)
			rc = rc2 ? tess_err_prefix(rc2, "array '%s': ", a->path) : 0;
	}
	if (rc)
		return rc;
	if (owner)
		return owner->busy || !owner->meta.update_on_write ? 0
		                                                  : tess_pyramid_update(owner, NULL);
	if ((rc = lookup_uow(a, pp)) || !a->pyr_uow)
		return rc;
	tess_pyramid *p;
	if ((rc = tess_pyramid_open(&p, a->st, pp)))
		return rc;
	rc = tess_pyramid_update(p, NULL);
	tess_pyramid_close(p);
	return rc;
}
