/*
 * Attributes: one JSON object per node, stored as the node's Zarr v2
 * `.zattrs`.  Every change is a read-modify-write under the node's lease lock,
 * so concurrent writers of different names never lose each other's updates.
 */
#include "tessera/attr.h"
#include "store/internal.h"
#include "util/error.h"
#include "util/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Normalize a node path ("/", ".", "" are the root; surrounding '/' dropped)
 * into buf; TESS_EINVAL for paths that are not valid keys. */
static int node_path(char *buf, size_t cap, const char *node)
{
	if (!node)
		node = "";
	while (*node == '/')
		node++;
	size_t len = strlen(node);
	while (len > 0 && node[len - 1] == '/')
		len--;
	if (len >= cap)
		return tess_err(TESS_EINVAL, "node '%.100s...': path too long", node);
	memcpy(buf, node, len);
	buf[len] = '\0';
	if (strcmp(buf, ".") == 0)
		buf[0] = '\0';
	if (buf[0] == '\0')
		return 0;
	int rc = tess_key_check(buf);
	if (rc)
		return tess_err_prefix(rc, "node: ");
	if (tess_key_is_reserved(buf))
		return tess_err(TESS_EPERM, "node '%s': '.tessera/' is reserved", buf);
	return 0;
}

static void attrs_key(char *buf, size_t cap, const char *node)
{
	snprintf(buf, cap, "%s%s.zattrs", node, node[0] ? "/" : "");
}

/* The node's attributes as a new JSON object ({} when it has none). */
static int attrs_load(json_t **out, tess_store *st, const char *node)
{
	char key[TESS_KEY_MAX + 16];
	attrs_key(key, sizeof key, node);
	tess_buf buf = {0};
	*out = NULL;
	int rc = tess_obj_get(st, key, 0, UINT64_MAX, &buf);
	if (rc == TESS_ENOTFOUND) {
		tess_buf_free(&buf);
		*out = json_object();
		return *out ? 0 : tess_err(TESS_ENOMEM, "out of memory");
	}
	if (rc)
		return rc;
	json_t *doc;
	rc = tess_json_parse(&doc, (const char *)buf.data, buf.len, key);
	tess_buf_free(&buf);
	if (rc)
		return TESS_ECORRUPT;
	if (!json_is_object(doc)) {
		json_decref(doc);
		return tess_err(TESS_ECORRUPT, "%s: not a JSON object", key);
	}
	*out = doc;
	return 0;
}

static int attrs_store(tess_store *st, const char *node, const json_t *attrs)
{
	char key[TESS_KEY_MAX + 16];
	attrs_key(key, sizeof key, node);
	tess_buf buf = {0};
	int rc = tess_json_dump(&buf, attrs);
	if (!rc)
		rc = tess_obj_put(st, key, buf.data, buf.len, 0);
	tess_buf_free(&buf);
	return rc;
}

/* A node that does not exist yet becomes a Zarr group, and so do its missing
 * parents, so zarr-python finds the attributes. */
static int node_ensure(tess_store *st, const char *node)
{
	char path[TESS_KEY_MAX + 16];
	size_t len = strlen(node);
	for (size_t i = 0; i <= len; i++) {
		if (node[i] != '/' && node[i] != '\0')
			continue;
		snprintf(path, sizeof path, "%.*s/.zarray", (int)i, node);
		tess_stat sb;
		if (st->ops->stat(st->be, path, &sb) == 0)
			continue;
		snprintf(path, sizeof path, "%.*s/.zgroup", (int)i, node);
		int rc = tess_obj_put(st, path, ZGROUP_V2, strlen(ZGROUP_V2), TESS_PUT_IF_ABSENT);
		if (rc && rc != TESS_EEXISTS)
			return rc;
	}
	return 0;
}

typedef int (*attrs_edit_fn)(json_t *attrs, const char *name, json_t *value);

/* Read-modify-write of a node's attributes under its lock. */
static int attrs_modify(tess_store *st, const char *node_in, const char *name,
                        json_t *value, attrs_edit_fn edit)
{
	char node[TESS_KEY_MAX + 1];
	int rc = node_path(node, sizeof node, node_in);
	if (rc)
		return rc;
	char lock_name[TESS_KEY_MAX + 16];
	snprintf(lock_name, sizeof lock_name, "attrs:%s", node);
	tess_lock *lk;
	if ((rc = tess_lock_acquire(&lk, st, lock_name)))
		return rc;
	json_t *attrs = NULL;
	rc = attrs_load(&attrs, st, node);
	if (!rc)
		rc = edit(attrs, name, value);
	if (!rc && node[0])
		rc = node_ensure(st, node);
	if (!rc)
		rc = attrs_store(st, node, attrs);
	json_decref(attrs);
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
	int rc = node_path(node, sizeof node, node_in);
	if (!rc)
		rc = check_name(name);
	json_t *attrs = NULL;
	if (!rc)
		rc = attrs_load(&attrs, st, node);
	if (rc)
		return rc;
	json_t *v = json_object_get(attrs, name);
	if (!v) {
		json_decref(attrs);
		return tess_err(TESS_ENOTFOUND, "node '%s' has no attribute '%s'",
		                node[0] ? node : "/", name);
	}
	*out = json_incref(v);
	json_decref(attrs);
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
	json_t *attrs;
	int rc = node_path(node, sizeof node, node_in);
	if (!rc)
		rc = attrs_load(&attrs, st, node);
	if (rc)
		return rc;
	rc = tess_json_dumps(out_json, attrs);
	json_decref(attrs);
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
