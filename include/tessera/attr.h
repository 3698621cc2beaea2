/*
 * tessera/attr.h - typed JSON attributes on any node (root, group, array).
 *
 * A node is a '/'-separated path; "" (or "/") is the store's root.  The
 * attributes of a node are one JSON object stored as the Zarr v2 `.zattrs`
 * of that node, so zarr-python sees them as `group.attrs` / `array.attrs`.
 * Setting an attribute on a node that does not exist yet creates it (and its
 * missing parents) as Zarr groups.
 *
 * Changes are read-modify-write under a per-node lock, so two processes that
 * set different names on the same node at the same time both keep theirs.
 */
#ifndef TESSERA_ATTR_H
#define TESSERA_ATTR_H

#include "common.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The JSON text of attribute `name` of `node` (malloc'd; tess_free).
 * Errors: TESS_EINVAL (bad node path), TESS_ENOTFOUND (no such attribute),
 * TESS_ECORRUPT (the stored .zattrs is not a JSON object), TESS_EIO.
 */
int tess_attr_get(char **out_json, tess_store *st, const char *node,
                  const char *name);

/**
 * All attributes of `node` as one JSON object text (malloc'd; tess_free),
 * "{}" when the node has none.
 */
int tess_attr_get_all(char **out_json, tess_store *st, const char *node);

/**
 * Set attribute `name` of `node` to the JSON value `json` (any JSON: number,
 * string, bool, null, array, object).  Errors: TESS_EINVAL (bad node, empty
 * name, `json` is not valid JSON; the message quotes the parser), TESS_EBUSY
 * (the node's lock could not be taken), TESS_ECONFLICT (a node path prefix is
 * a blob), TESS_EIO.
 */
int tess_attr_set(tess_store *st, const char *node, const char *name,
                  const char *json);

/**
 * Merge every member of the JSON object `json_object` into the attributes of
 * `node` in one atomic update.
 */
int tess_attr_update(tess_store *st, const char *node, const char *json_object);

/** Delete attribute `name`.  TESS_ENOTFOUND if it is not set. */
int tess_attr_delete(tess_store *st, const char *node, const char *name);

/* Typed conveniences over tess_attr_get / tess_attr_set. */

/** TESS_EINVAL if the attribute is not an integer. */
int tess_attr_get_int(int64_t *out, tess_store *st, const char *node,
                      const char *name);
/** TESS_EINVAL if the attribute is not a number. */
int tess_attr_get_double(double *out, tess_store *st, const char *node,
                         const char *name);
/** TESS_EINVAL if not a string; *out is malloc'd (tess_free). */
int tess_attr_get_string(char **out, tess_store *st, const char *node,
                         const char *name);
int tess_attr_set_int(tess_store *st, const char *node, const char *name,
                      int64_t value);
/** Non-finite values are refused with TESS_EINVAL (JSON has none). */
int tess_attr_set_double(tess_store *st, const char *node, const char *name,
                         double value);
int tess_attr_set_string(tess_store *st, const char *node, const char *name,
                         const char *value);

#ifdef __cplusplus
}
#endif
#endif
