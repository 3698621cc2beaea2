/*
 * Internal: what the array module calls so that every write to a pyramid
 * level follows the pyramid's rules, whoever writes (tess_array_write, the
 * CLI, a pyramid handle).
 *
 * A level array carries the attribute "_tessera_pyramid": {"level": k}; the
 * array module reads it when it opens the array (tess_pyramid_hook_open)
 * and then, for level arrays only:
 *
 *   tess_array_write:   before -> chunks written -> after
 *   tess_array_resize:  refuse -> (under the metadata lock) resize_mark ->
 *                       metadata written -> after
 *
 * Level 0: `before` records the touched cells as dirty (a marker object in
 * `.tessera/dirty/`) before any chunk is written; `after` records them again
 * if an update may have read them mid-write, and runs the pyramid's update
 * when the pyramid says update_on_write.  Levels > 0: refused with
 * TESS_EPERM unless the pyramid's own updater holds the handle.
 */
#ifndef TESS_PYRAMID_HOOK_H
#define TESS_PYRAMID_HOOK_H

#include <jansson.h>

#include "tessera/array.h"

/** State carried from `before` to `after` of one write or resize. */
typedef struct pyr_write_mark {
	int marked;                      /**< a marker was put */
	int resize;                      /**< by a resize: lo, hi are the old and new shapes */
	char key[TESS_KEY_MAX + 1];      /**< the (first) marker's key */
	uint64_t lo[TESS_ARRAY_MAX_DIMS]; /**< a write's box */
	uint64_t hi[TESS_ARRAY_MAX_DIMS];
} pyr_write_mark;

/**
 * Read "_tessera_pyramid" from the array's attributes (attrs may be NULL:
 * none) into the handle.  TESS_ECORRUPT when it is there but malformed.
 */
int tess_pyramid_hook_open(tess_array *a, const json_t *attrs);

/** Before writing the region: refuse (levels > 0) or mark it dirty (level 0). */
int tess_pyramid_hook_before_write(tess_array *a, const uint64_t *start, const uint64_t *count,
                                   pyr_write_mark *mk);

/**
 * After a write or resize that returned `rc`: the second marker when an
 * update raced with it, then the update when update_on_write.  Returns rc,
 * or the failure of those.
 */
int tess_pyramid_hook_after_write(tess_array *a, pyr_write_mark *mk, int rc);

/** Before a resize: TESS_EPERM for levels > 0 not held by their pyramid. */
int tess_pyramid_hook_refuse(tess_array *a, const char *op);

/**
 * Under the resize's metadata lock, before the new shape is stored: mark
 * the cells whose content changes between `old_shape` (stored now) and
 * `new_shape` dirty (level 0 only).
 */
int tess_pyramid_hook_resize(tess_array *a, const uint64_t *old_shape, const uint64_t *new_shape,
                             pyr_write_mark *mk);

/** 1 when a store path's last segment is a decimal number (a level's name):
 * only such arrays are looked at for "_tessera_pyramid" when they open. */
int tess_pyramid_hook_name_may_be_level(const char *path);

#endif
