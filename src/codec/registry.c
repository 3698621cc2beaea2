/*
 * The codec registry: finding codecs by name, making them from their JSON
 * or from the CLI's SPEC strings, and the JSON helpers the codecs share.
 */
#include "codec/codec_internal.h"
#include "util/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const tess_codec_ops *const all_codecs[] = {
	&tess_codec_blosc_ops, &tess_codec_zstd_ops,    &tess_codec_lz4_ops,
	&tess_codec_gzip_ops,  &tess_codec_zlib_ops,    &tess_codec_shuffle_ops,
	&tess_codec_delta_ops, &tess_codec_crc32c_ops,
};

#define NCODECS (sizeof all_codecs / sizeof all_codecs[0])

static unsigned format_bit(int zarr_format)
{
	return zarr_format == 2 ? 1u : zarr_format == 3 ? 2u : 0u;
}

const tess_codec_ops *tess_codec_find(const char *name, int zarr_format)
{
	unsigned bit = format_bit(zarr_format);
	for (size_t i = 0; name && i < NCODECS; i++)
		if ((all_codecs[i]->formats & bit) && strcmp(all_codecs[i]->name, name) == 0)
			return all_codecs[i];
	return NULL;
}

/* TESS_ENOTSUP for a name no codec of this format has, saying whether the
 * other format knows it. */
static int unknown_codec(const char *name, int zarr_format)
{
	int other = zarr_format == 2 ? 3 : 2;
	if (tess_codec_find(name, other))
		return tess_err(TESS_ENOTSUP, "codec '%s' exists in Zarr v%d, not in Zarr v%d", name,
		                other, zarr_format);
	return tess_err(TESS_ENOTSUP, "unknown Zarr v%d codec '%s' (known: blosc, zstd, %sgzip, %s)",
	                zarr_format, name, zarr_format == 2 ? "lz4, " : "",
	                zarr_format == 2 ? "zlib, shuffle, delta" : "crc32c");
}

static int from_json_v2(tess_codec **out, const json_t *json, const tess_codec_ctx *ctx)
{
	if (!json_is_object(json))
		return tess_err(TESS_EINVAL, "Zarr v2 codec: expected an object with \"id\"");
	const json_t *id = json_object_get(json, "id");
	if (!json_is_string(id))
		return tess_err(TESS_EINVAL, "Zarr v2 codec: \"id\" is missing or not a string");
	const tess_codec_ops *ops = tess_codec_find(json_string_value(id), 2);
	if (!ops)
		return unknown_codec(json_string_value(id), 2);
	return ops->create(out, json, ctx);
}

/* v3: {"name": N, "configuration": {...}} or the short form "N". */
static int from_json_v3(tess_codec **out, const json_t *json, const tess_codec_ctx *ctx)
{
	static const char *const keys[] = {"name", "configuration", "must_understand", NULL};
	const json_t *name = json_is_object(json) ? json_object_get(json, "name") : json;
	if (!json_is_string(name))
		return tess_err(TESS_EINVAL, "Zarr v3 codec: expected an object with a \"name\" string, "
		                             "or a name");
	const tess_codec_ops *ops = tess_codec_find(json_string_value(name), 3);
	if (!ops)
		return unknown_codec(json_string_value(name), 3);
	const json_t *config = NULL;
	if (json_is_object(json)) {
		int rc = codec_check_keys(json, ops->name, keys);
		if (rc)
			return rc;
		config = json_object_get(json, "configuration");
		if (config && !json_is_object(config))
			return tess_err(TESS_EINVAL, "codec '%s': \"configuration\" is not an object",
			                ops->name);
	}
	return ops->create(out, config, ctx);
}

int tess_codec_from_json(tess_codec **out, const json_t *json, const tess_codec_ctx *ctx)
{
	*out = NULL;
	if (ctx->zarr_format == 2)
		return from_json_v2(out, json, ctx);
	if (ctx->zarr_format == 3)
		return from_json_v3(out, json, ctx);
	return tess_err(TESS_EINVAL, "codec: Zarr format %d is neither 2 nor 3", ctx->zarr_format);
}

json_t *tess_codec_to_json(const tess_codec *c, int zarr_format)
{
	json_t *j = c->ops->to_json(c);
	if (!j) {
		tess_err(TESS_ENOMEM, "codec '%s': out of memory writing its JSON", c->ops->name);
		return NULL;
	}
	/* A codec keeps the format it was made for: the v2 and v3 forms of
	 * blosc differ in more than the wrapping, so there is no conversion. */
	const char *tag = zarr_format == 2 ? "id" : "name";
	if (!json_object_get(j, tag)) {
		json_decref(j);
		tess_err(TESS_EINVAL, "codec '%s' was not made for Zarr v%d: no JSON in that form",
		         c->ops->name, zarr_format);
		return NULL;
	}
	return j;
}

/* ---- SPEC strings ----------------------------------------------------------- */

/* Split spec at ':' into at most `max` fields (empty fields stay empty). */
static int split_spec(const char *spec, char *copy, size_t copy_size, char **fields, int max)
{
	size_t len = strlen(spec);
	if (len >= copy_size)
		return tess_err(TESS_EINVAL, "codec spec '%.40s...' is too long", spec);
	memcpy(copy, spec, len + 1);
	int n = 0;
	char *p = copy;
	for (;;) {
		if (n == max)
			return tess_err(TESS_EINVAL, "codec spec '%s': too many ':' fields (at most %d)",
			                spec, max);
		fields[n++] = p;
		char *colon = strchr(p, ':');
		if (!colon)
			break;
		*colon = '\0';
		p = colon + 1;
	}
	for (int i = n; i < max; i++)
		fields[i] = "";
	return n;
}

/* An integer field of a spec; `def` when empty. */
static int spec_int(const char *spec, const char *what, const char *field, long long def,
                    long long *out)
{
	if (!*field) {
		*out = def;
		return 0;
	}
	char *end;
	errno = 0;
	long long v = strtoll(field, &end, 10);
	if (errno || *end || end == field)
		return tess_err(TESS_EINVAL, "codec spec '%s': %s '%s' is not an integer", spec, what,
		                field);
	*out = v;
	return 0;
}

static int spec_shuffle(const char *spec, const char *field, int *out)
{
	static const char *const names[] = {"noshuffle", "shuffle", "bitshuffle"};
	if (!*field) {
		*out = 1;
		return 0;
	}
	for (int i = 0; i < 3; i++)
		if (strcmp(field, names[i]) == 0) {
			*out = i;
			return 0;
		}
	return tess_err(TESS_EINVAL,
	                "codec spec '%s': shuffle '%s' is not noshuffle, shuffle or bitshuffle", spec,
	                field);
}

/* The JSON of blosc[:CNAME[:CLEVEL[:SHUFFLE]]] in the context's format. */
static int blosc_spec_json(json_t **out, const char *spec, char **f, const tess_codec_ctx *ctx)
{
	static const char *const shuffle_names[] = {"noshuffle", "shuffle", "bitshuffle"};
	const char *cname = *f[1] ? f[1] : "lz4";
	long long clevel;
	int shuffle = 1, rc;
	if ((rc = spec_int(spec, "clevel", f[2], 5, &clevel)) || (rc = spec_shuffle(spec, f[3], &shuffle)))
		return rc;
	if (ctx->zarr_format == 2) {
		*out = json_pack("{s:s, s:s, s:I, s:i, s:i}", "id", "blosc", "cname", cname, "clevel",
		                 (json_int_t)clevel, "shuffle", shuffle, "blocksize", 0);
	} else {
		unsigned typesize = ctx->itemsize ? ctx->itemsize : 1;
		json_t *config = json_pack("{s:s, s:I, s:s, s:i, s:i}", "cname", cname, "clevel",
		                           (json_int_t)clevel, "shuffle", shuffle_names[shuffle],
		                           "typesize", (int)typesize, "blocksize", 0);
		*out = config ? codec_v3_json("blosc", config) : NULL;
	}
	return 0;
}

/* The JSON of NAME[:LEVEL] for zstd, lz4, gzip and zlib. */
static int level_spec_json(json_t **out, const char *spec, const char *name, const char *level,
                           const tess_codec_ctx *ctx)
{
	/* numcodecs' defaults: Zstd(level=1), LZ4(acceleration=1), GZip(1), Zlib(1). */
	const char *key = strcmp(name, "lz4") == 0 ? "acceleration" : "level";
	long long v;
	int rc = spec_int(spec, key, level, 1, &v);
	if (rc)
		return rc;
	if (ctx->zarr_format == 2) {
		*out = json_pack("{s:s, s:I}", "id", name, key, (json_int_t)v);
	} else if (strcmp(name, "zstd") == 0) {
		json_t *config = json_pack("{s:I, s:b}", "level", (json_int_t)v, "checksum", 0);
		*out = config ? codec_v3_json(name, config) : NULL;
	} else {
		json_t *config = json_pack("{s:I}", key, (json_int_t)v);
		*out = config ? codec_v3_json(name, config) : NULL;
	}
	return 0;
}

int tess_codec_from_spec(tess_codec **out, const char *spec, const tess_codec_ctx *ctx)
{
	*out = NULL;
	char copy[256], *f[4];
	int n = split_spec(spec, copy, sizeof copy, f, 4);
	if (n < 0)
		return n;
	json_t *json = NULL;
	int rc;
	if (strcmp(f[0], "blosc") == 0) {
		rc = blosc_spec_json(&json, spec, f, ctx);
	} else if (strcmp(f[0], "zstd") == 0 || strcmp(f[0], "lz4") == 0 ||
	           strcmp(f[0], "gzip") == 0 || strcmp(f[0], "zlib") == 0) {
		if (n > 2)
			return tess_err(TESS_EINVAL, "codec spec '%s': %s takes one parameter", spec, f[0]);
		rc = level_spec_json(&json, spec, f[0], f[1], ctx);
	} else {
		return tess_err(TESS_EINVAL,
		                "codec spec '%s': unknown codec '%s' (blosc, zstd, lz4, gzip, zlib or none)",
		                spec, f[0]);
	}
	if (rc)
		return rc;
	if (!json)
		return tess_err(TESS_ENOMEM, "codec spec '%s': out of memory", spec);
	rc = tess_codec_from_json(out, json, ctx);
	json_decref(json);
	if (rc)
		return tess_err_prefix(rc, "codec spec '%s': ", spec);
	return 0;
}

/* ---- JSON helpers shared by the codecs -------------------------------------- */

int codec_check_keys(const json_t *config, const char *codec, const char *const *allowed)
{
	const char *key;
	json_t *value;
	if (!config)
		return 0;
	json_object_foreach((json_t *)config, key, value) {
		int known = 0;
		for (size_t i = 0; allowed[i] && !known; i++)
			known = strcmp(allowed[i], key) == 0;
		if (!known)
			return tess_err(TESS_EINVAL, "codec '%s': unknown parameter \"%s\"", codec, key);
	}
	return 0;
}

int codec_get_int(const json_t *config, const char *codec, const char *key, long long def,
                  long long min, long long max, long long *out)
{
	const json_t *v = config ? json_object_get(config, key) : NULL;
	if (!v) {
		*out = def;
		return 0;
	}
	if (!json_is_integer(v))
		return tess_err(TESS_EINVAL, "codec '%s': \"%s\" is not an integer", codec, key);
	long long x = json_integer_value(v);
	if (x < min || x > max)
		return tess_err(TESS_EINVAL, "codec '%s': \"%s\" is %lld, outside [%lld, %lld]", codec,
		                key, x, min, max);
	*out = x;
	return 0;
}

int codec_get_bool(const json_t *config, const char *codec, const char *key, int def, int *out)
{
	const json_t *v = config ? json_object_get(config, key) : NULL;
	if (!v) {
		*out = def;
		return 0;
	}
	if (!json_is_boolean(v))
		return tess_err(TESS_EINVAL, "codec '%s': \"%s\" is not true or false", codec, key);
	*out = json_is_true(v);
	return 0;
}

int codec_get_string(const json_t *config, const char *codec, const char *key,
                     const char *def, const char **out)
{
	const json_t *v = config ? json_object_get(config, key) : NULL;
	if (!v) {
		*out = def;
		return 0;
	}
	if (!json_is_string(v))
		return tess_err(TESS_EINVAL, "codec '%s': \"%s\" is not a string", codec, key);
	*out = json_string_value(v);
	return 0;
}

json_t *codec_v3_json(const char *name, json_t *config)
{
	json_t *j = json_object();
	if (!j || json_object_set_new(j, "name", json_string(name))) {
		json_decref(config);
		json_decref(j);
		return NULL;
	}
	/* set_new takes config even when it fails */
	if (config && json_object_set_new(j, "configuration", config)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

int codec_set_int(json_t *obj, const char *key, long long v)
{
	return json_object_set_new(obj, key, json_integer((json_int_t)v));
}

long long codec_out_room(tess_buf *out, size_t produced, size_t max_out)
{
	size_t limit = max_out - produced;
	size_t room = out->cap - out->len;
	if (room >= limit)
		return (long long)limit;
	if (room > 0)
		return (long long)room;
	size_t grow = produced > 65536 ? produced : 65536;
	if (grow > limit)
		grow = limit;
	if (grow == 0)
		return 0;
	int rc = tess_buf_reserve(out, grow);
	if (rc)
		return rc;
	room = out->cap - out->len;
	return (long long)(room < limit ? room : limit);
}
