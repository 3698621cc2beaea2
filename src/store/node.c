#include "store/node.h"
#include "util/error.h"
#include "util/json.h"

#include <stdio.h>
#include <string.h>

int tess_node_path(char *buf, const char *node, const char *what)
{
	if (!node)
		node = "";
	while (*node == '/')
		node++;
	size_t len = strlen(node);
	while (len > 0 && node[len - 1] == '/')
		len--;
	if (len > TESS_KEY_MAX - 16)
		return tess_err(TESS_EINVAL, "%s '%.100s...': path too long", what, node);
	memcpy(buf, node, len);
	buf[len] = '\0';
	if (strcmp(buf, ".") == 0)
		buf[0] = '\0';
	if (buf[0] == '\0')
		return 0;
	int rc = tess_key_check(buf);
	if (rc)
		return tess_err_prefix(rc, "%s: ", what);
	if (tess_key_is_reserved(buf))
		return tess_err(TESS_EPERM, "%s '%s': '.tessera/' is reserved", what, buf);
	return 0;
}

void tess_node_key(char *buf, const char *node, const char *name)
{
	snprintf(buf, TESS_NODE_KEYBUF, "%s%s%s", node, node[0] ? "/" : "", name);
}

int tess_key_exists(tess_store *st, const char *key)
{
	tess_stat sb;
	return st->ops->stat(st->be, key, &sb) == 0;
}

int tess_obj_get_json(json_t **out, tess_store *st, const char *key)
{
	tess_buf buf = {0};
	*out = NULL;
	int rc = tess_obj_get(st, key, 0, UINT64_MAX, &buf);
	if (!rc)
		rc = tess_json_parse(out, buf.data ? (const char *)buf.data : "", buf.len, key);
	if (rc == TESS_EINVAL)
		rc = TESS_ECORRUPT;
	tess_buf_free(&buf);
	return rc;
}

int tess_obj_put_json(tess_store *st, const char *key, const json_t *v, unsigned flags)
{
	tess_buf buf = {0};
	int rc = tess_json_dump(&buf, v);
	if (!rc)
		rc = tess_obj_put(st, key, buf.data, buf.len, flags);
	tess_buf_free(&buf);
	return rc;
}

static int v3_node_type_is(tess_store *st, const char *node, const char *type)
{
	char key[TESS_NODE_KEYBUF];
	tess_node_key(key, node, "zarr.json");
	json_t *doc;
	if (tess_obj_get_json(&doc, st, key))
		return 0;
	const char *t = json_string_value(json_object_get(doc, "node_type"));
	int is = t && (!type || strcmp(t, type) == 0);
	json_decref(doc);
	return is;
}

int tess_node_array_format(tess_store *st, const char *node)
{
	char key[TESS_NODE_KEYBUF];
	tess_node_key(key, node, ".zarray");
	if (tess_key_exists(st, key))
		return 2;
	return v3_node_type_is(st, node, "array") ? 3 : 0;
}

int tess_node_is_v3(tess_store *st, const char *node)
{
	return v3_node_type_is(st, node, NULL) ? 3 : 0;
}

static int put_group(tess_store *st, const char *node, int zarr_format)
{
	char key[TESS_NODE_KEYBUF];
	if (zarr_format == 3) {
		tess_node_key(key, node, "zarr.json");
		json_t *g = json_pack("{s:i,s:s}", "zarr_format", 3, "node_type", "group");
		int rc = g ? tess_obj_put_json(st, key, g, TESS_PUT_IF_ABSENT)
		           : tess_err(TESS_ENOMEM, "out of memory");
		json_decref(g);
		return rc;
	}
	tess_node_key(key, node, ".zgroup");
	return tess_obj_put(st, key, ZGROUP_V2, strlen(ZGROUP_V2), TESS_PUT_IF_ABSENT);
}

int tess_node_ensure_groups(tess_store *st, const char *path, int zarr_format, int include_self)
{
	char node[TESS_KEY_MAX + 1];
	size_t len = strlen(path);
	for (size_t i = 0; i <= len; i++) {
		int at_self = i == len;
		if (at_self ? !include_self : (path[i] != '/' && i != 0))
			continue;
		snprintf(node, sizeof node, "%.*s", (int)i, path);
		if (tess_node_array_format(st, node))
			return tess_err(TESS_ECONFLICT, "'%s' is an array", node[0] ? node : "/");
		if (node[0] && tess_key_exists(st, node))
			return tess_err(TESS_ECONFLICT, "'%s' is a blob", node);
		int rc = put_group(st, node, zarr_format);
		if (rc && rc != TESS_EEXISTS)
			return rc;
	}
	return 0;
}
