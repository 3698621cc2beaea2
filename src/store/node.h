/*
 * Internal: nodes of the Zarr hierarchy a store is — paths, metadata keys,
 * JSON objects in the store, and the groups above a node.  Shared by
 * attributes and arrays (and later pyramids).
 */
#ifndef TESS_STORE_NODE_H
#define TESS_STORE_NODE_H

#include <jansson.h>

#include "store/internal.h"

/** Room for a node path plus a metadata name ("/zarr.json"). */
#define TESS_NODE_KEYBUF (TESS_KEY_MAX + 64)

/**
 * Normalize a node path into buf (TESS_KEY_MAX + 1 bytes): "/", "." and ""
 * are the root (""), surrounding '/' are dropped; anything else must be a
 * valid, unreserved key.  `what` starts messages ("array", "node").
 */
int tess_node_path(char *buf, const char *node, const char *what);

/** "<node>/<name>", or "<name>" at the root, into buf (TESS_NODE_KEYBUF). */
void tess_node_key(char *buf, const char *node, const char *name);

/** Whether `key` exists (a stat that succeeds). */
int tess_key_exists(tess_store *st, const char *key);

/** Get and parse a JSON object; TESS_ECORRUPT if it does not parse. */
int tess_obj_get_json(json_t **out, tess_store *st, const char *key);

/** Write JSON the way zarr-python does (util/json.h) and put it. */
int tess_obj_put_json(tess_store *st, const char *key, const json_t *v, unsigned flags);

/** 2 if the node is a v2 array (.zarray), 3 if a v3 array, else 0. */
int tess_node_array_format(tess_store *st, const char *node);

/** 3 if the node has a v3 zarr.json (array or group), else 0. */
int tess_node_is_v3(tess_store *st, const char *node);

/**
 * Make every missing group above `path` (and `path` itself with
 * include_self) a Zarr group of `zarr_format` (v2 `.zgroup`, v3
 * `zarr.json`).  TESS_ECONFLICT if one of them is an array or a blob.
 */
int tess_node_ensure_groups(tess_store *st, const char *path, int zarr_format,
                            int include_self);

#endif
