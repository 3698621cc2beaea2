/*
 * Attributes: one JSON object per node, stored as the node's Zarr v2
 * `.zattrs`.  Every change is a read-modify-write under the node's lease lock,
 * so concurrent writers of different names never lose each other's updates.
 */
#include "tessera/attr.h"
#include "store/internal.h"
#include "store/node.h"
#include "util/error.h"
#include "util/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/*
 * Where a node's attributes live: `.zattrs` for Zarr v2 nodes (and nodes
 * that do not exist yet, which become v2 groups), the "attributes" member of
 * `zarr.json` for v3 nodes.
 */
typedef struct attrs_doc {
	json_t *attrs; /* the attributes object (borrowed from doc for v3) */
	json_t *doc;   /* v3: the whole zarr.json; v2: same as attrs */
	int v3;
} attrs_doc;

static void attrs_doc_free(attrs_doc *d)
{
	json_decref(d->doc);
	memset(d, 0, sizeof *d);
}

static int attrs_load(attrs_doc *d, tess_store *st, const char *node)
{
	char key[TESS_NODE_KEYBUF];
	memset(d, 0, sizeof *d);
	d->v3 = tess_node_is_v3(st, node) == 3;
	tess_node_key(key, node, d->v3 ? "zarr.json" : ".zattrs");
	int rc = tess_obj_get_json(&d->doc, st, key);
	if (rc == TESS_ENOTFOUND && !d->v3)
		d->doc = json_object();
	else if (rc)
		return rc;
	if (!d->doc)
		return tess_err(TESS_ENOMEM, "out of memory");
	if (!json_is_object(d->doc)) {
		attrs_doc_free(d);
		return tess_err(TESS_ECORRUPT, "%s: not a JSON object", key);
	}
	if (!d->v3) {
		d->attrs = d->doc;
		return 0;
	}
	d->attrs = json_object_get(d->doc, "attributes");
	if (!d->attrs) {
		d->attrs = json_object();
		json_object_set_new(d->doc, "attributes", d->attrs);
	}
	if (!json_is_object(d->attrs)) {
		attrs_doc_free(d);
		return tess_err(TESS_ECORRUPT, "%s: \"attributes\" is not a JSON object", key);
	}
	return 0;
}

static int attrs_store(tess_store *st, const char *node, const attrs_doc *d)
{
	char key[TESS_NODE_KEYBUF];
	tess_node_key(key, node, d->v3 ? "zarr.json" : ".zattrs");
	return tess_obj_put_json(st, key, d->doc, 0);
}

/* A node that does not exist yet becomes a Zarr group, and so do its missing
 * parents, so zarr-python finds the attributes. */
static int node_ensure(tess_store *st, const char *node, const attrs_doc *d)
{
	if (d->v3 || tess_node_array_format(st, node))
		return 0;
	return tess_node_ensure_groups(st, node, 2, 1);
}

typedef int (*attrs_edit_fn)(json_t *attrs, const char *name, json_t *value);

/* Read-modify-write of a node's attributes under its lock. */
static int attrs_modify(tess_store *st, const char *node_in, const char *name,
                        json_t *value, attrs_edit_fn edit)
{
	char node[TESS_KEY_MAX + 1];
	int rc = tess_node_path(node, node_in, "node");
	if (rc)
		return rc;
	/* the same lock as the node's other metadata changes (array resize) */
	char lock_name[TESS_NODE_KEYBUF];
	snprintf(lock_name, sizeof lock_name, "meta:%s", node);
	tess_lock *lk;
	if ((rc = tess_lock_acquire(&lk, st, lock_name)))
		return rc;
	attrs_doc d;
	rc = attrs_load(&d, st, node);
	if (!rc)
		rc = edit(d.attrs, name, value);
	if (!rc && node[0])
		rc = node_ensure(st, node, &d);
	if (!rc)
		rc = attrs_store(st, node, &d);
	attrs_doc_free(&d);
	tess_lock_release(lk);
	if (rc)
		return tess_err_prefix(rc, "attributes of '%s': ", node[0] ? node : "/");
	return 0;
}

static int edit_set(json_t *attrs, const char *name, json_t *value)
{
	return json_object_set(attrs, name, value) ? tess_err(TESS_ENOMEM, "out of memory") : 0;
}

static int edit_delete(json_t *attrs, const char *name, json_t *value)
{
	if (json_object_del(attrs, name) != 0)
		return tess_err(TESS_ENOTFOUND, "no attribute '%s'", name);
	return 0;
}

static int edit_update(json_t *attrs, const char *name, json_t *value)
{
	return json_object_update(attrs, value) ? tess_err(TESS_ENOMEM, "out of memory") : 0;
}

static int check_name(const char *name)
{
	if (!name || !*name)
		return tess_err(TESS_EINVAL, "attribute name is empty");
	return 0;
}

int tess_attr_set(tess_store *st, const char *node, const char *name, const char *json)
{
	int rc = check_name(name);
	if (rc)
		return rc;
	json_t *value;
	char what[64];
	snprintf(what, sizeof what, "value of attribute '%.40s'", name);
	if (!json || (rc = tess_json_parse(&value, json, strlen(json), what)))
		return json ? rc : tess_err(TESS_EINVAL, "%s: NULL", what);
	rc = attrs_modify(st, node, name, value, edit_set);
	json_decref(value);
	return rc;
}

int tess_attr_update(tess_store *st, const char *node, const char *json_object)
{
	json_t *value;
	int rc = tess_json_parse(&value, json_object, strlen(json_object), "attribute update");
	if (rc)
		return rc;
	if (!json_is_object(value)) {
		json_decref(value);
		return tess_err(TESS_EINVAL, "attribute update: not a JSON object");
	}
	rc = attrs_modify(st, node, NULL, value, edit_update);
	json_decref(value);
	return rc;
}

int tess_attr_delete(tess_store *st, const char *node, const char *name)
{
	int rc = check_name(name);
	return rc ? rc : attrs_modify(st, node, name, NULL, edit_delete);
}

/* ---- reads ---------------------------------------------------------------------- */

static int attr_lookup(json_t **out, tess_store *st, const char *node_in, const char *name)
{
	char node[TESS_KEY_MAX + 1];
	int rc = tess_node_path(node, node_in, "node");
	if (!rc)
		rc = check_name(name);
	attrs_doc d;
	if (!rc)
		rc = attrs_load(&d, st, node);
	if (rc)
		return rc;
	json_t *v = json_object_get(d.attrs, name);
	if (!v) {
		attrs_doc_free(&d);
		return tess_err(TESS_ENOTFOUND, "node '%s' has no attribute '%s'",
		                node[0] ? node : "/", name);
	}
	*out = json_incref(v);
	attrs_doc_free(&d);
	return 0;
}

int tess_attr_get(char **out_json, tess_store *st, const char *node, const char *name)
{
	*out_json = NULL;
	json_t *v;
	int rc = attr_lookup(&v, st, node, name);
	if (rc)
		return rc;
	rc = tess_json_dumps(out_json, v);
	json_decref(v);
	return rc;
}

int tess_attr_get_all(char **out_json, tess_store *st, const char *node_in)
{
	*out_json = NULL;
	char node[TESS_KEY_MAX + 1];
	attrs_doc d;
	int rc = tess_node_path(node, node_in, "node");
	if (!rc)
		rc = attrs_load(&d, st, node);
	if (rc)
		return rc;
	rc = tess_json_dumps(out_json, d.attrs);
	attrs_doc_free(&d);
	return rc;
}

int tess_attr_get_int(int64_t *out, tess_store *st, const char *node, const char *name)
{
	json_t *v;
	int rc = attr_lookup(&v, st, node, name);
	if (rc)
		return rc;
	if (json_is_integer(v))
		*out = json_integer_value(v);
	else
		rc = tess_err(TESS_EINVAL, "attribute '%s' is not an integer", name);
	json_decref(v);
	return rc;
}

int tess_attr_get_double(double *out, tess_store *st, const char *node, const char *name)
{
	json_t *v;
	int rc = attr_lookup(&v, st, node, name);
	if (rc)
		return rc;
	if (json_is_number(v))
		*out = json_number_value(v);
	else
		rc = tess_err(TESS_EINVAL, "attribute '%s' is not a number", name);
	json_decref(v);
	return rc;
}

int tess_attr_get_string(char **out, tess_store *st, const char *node, const char *name)
{
	*out = NULL;
	json_t *v;
	int rc = attr_lookup(&v, st, node, name);
	if (rc)
		return rc;
	if (!json_is_string(v))
		rc = tess_err(TESS_EINVAL, "attribute '%s' is not a string", name);
	else if (!(*out = strdup(json_string_value(v))))
		rc = tess_err(TESS_ENOMEM, "out of memory");
	json_decref(v);
	return rc;
}

static int set_value(tess_store *st, const char *node, const char *name, json_t *value)
{
	if (!value)
		return tess_err(TESS_ENOMEM, "attribute '%s': out of memory", name);
	int rc = check_name(name);
	if (!rc)
		rc = attrs_modify(st, node, name, value, edit_set);
	json_decref(value);
	return rc;
}

int tess_attr_set_int(tess_store *st, const char *node, const char *name, int64_t value)
{
	return set_value(st, node, name, json_integer(value));
}

int tess_attr_set_double(tess_store *st, const char *node, const char *name, double value)
{
	if (!isfinite(value))
		return tess_err(TESS_EINVAL, "attribute '%s': %g is not finite; JSON has no such number",
		                name, value);
	return set_value(st, node, name, json_real(value));
}

int tess_attr_set_string(tess_store *st, const char *node, const char *name, const char *value)
{
	return set_value(st, node, name, value ? json_string(value) : NULL);
}
