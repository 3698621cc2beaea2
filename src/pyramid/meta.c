/*
 * A pyramid's group attributes: "multiscales" (OME-NGFF 0.4) for other
 * tools and "tessera_pyramid" for Tessera; docs/pyramid.md specifies both.
 *
 * Parsing never trusts the document: every member is type-checked, the
 * dimensions must be unique and valid names, the levels must be listed as
 * "0", "1", ... in order.  Writing produces the exact structure the
 * parser accepts (the fuzzer checks the round trip).
 */
#include "pyramid/internal.h"
#include "util/error.h"
#include "util/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const agg_names[] = {
	[TESS_AGG_NONE] = "none",       [TESS_AGG_MEAN] = "mean", [TESS_AGG_MIN] = "min",
	[TESS_AGG_MAX] = "max",         [TESS_AGG_SUM] = "sum",   [TESS_AGG_COUNT] = "count",
	[TESS_AGG_MODE] = "mode",       [TESS_AGG_NEAREST] = "nearest",
	[TESS_AGG_LAST] = "last",
};
#define NAGG (sizeof agg_names / sizeof agg_names[0])

int tess_agg_parse(tess_agg *out, const char *name)
{
	for (size_t i = 0; name && i < NAGG; i++) {
		if (strcmp(name, agg_names[i]) == 0) {
			*out = (tess_agg)i;
			return 0;
		}
	}
	return tess_err(TESS_EINVAL, "aggregator '%.64s': expected one of mean, min, max, sum, "
	                "count, mode, nearest, last, none", name ? name : "(null)");
}

const char *tess_agg_name(tess_agg agg)
{
	return (unsigned)agg < NAGG ? agg_names[agg] : "unknown";
}

const char *pyr_axis_type(const char *name)
{
	static const char *const space[] = { "x", "y", "z", "lat", "lon", "latitude",
		                             "longitude", "easting", "northing", "depth",
		                             "height" };
	static const char *const time[] = { "t", "time", "date" };
	static const char *const channel[] = { "c", "band", "channel", "bands" };
	for (size_t i = 0; i < sizeof space / sizeof *space; i++)
		if (strcmp(name, space[i]) == 0)
			return "space";
	for (size_t i = 0; i < sizeof time / sizeof *time; i++)
		if (strcmp(name, time[i]) == 0)
			return "time";
	for (size_t i = 0; i < sizeof channel / sizeof *channel; i++)
		if (strcmp(name, channel[i]) == 0)
			return "channel";
	return NULL;
}

void pyr_meta_clear(pyr_meta *m)
{
	for (int d = 0; d < PYR_MAXD; d++) {
		free(m->dims[d].name);
		free(m->dims[d].coords);
	}
	free(m->crs);
	free(m->codec);
	memset(m, 0, sizeof *m);
}

static int dup_or_null(char **dst, const char *src)
{
	*dst = NULL;
	if (src && !(*dst = strdup(src)))
		return tess_err(TESS_ENOMEM, "pyramid metadata: out of memory");
	return 0;
}

int pyr_meta_copy(pyr_meta *dst, const pyr_meta *src)
{
	*dst = *src;
	int rc = 0;
	for (int d = 0; d < PYR_MAXD; d++) {
		dst->dims[d].name = dst->dims[d].coords = NULL;
		if (d < src->ndim && !rc)
			rc = dup_or_null(&dst->dims[d].name, src->dims[d].name);
		if (d < src->ndim && !rc)
			rc = dup_or_null(&dst->dims[d].coords, src->dims[d].coords);
	}
	dst->crs = dst->codec = NULL;
	if (!rc)
		rc = dup_or_null(&dst->crs, src->crs);
	if (!rc)
		rc = dup_or_null(&dst->codec, src->codec);
	if (rc)
		pyr_meta_clear(dst);
	return rc;
}

/* ---- parsing ------------------------------------------------------------------------ */

#define BAD(...) tess_err(TESS_ECORRUPT, __VA_ARGS__)

static int get_finite(double *out, const json_t *v)
{
	if (!json_is_number(v))
		return 0;
	*out = json_number_value(v);
	return isfinite(*out);
}

/* A dimension name: non-empty, a single key segment (it names coords/<name>). */
static int name_ok(const char *s)
{
	if (!s || !*s || strlen(s) > 255 || strchr(s, '/') || strcmp(s, ".") == 0 ||
	    strcmp(s, "..") == 0)
		return 0;
	char key[300];
	snprintf(key, sizeof key, "coords/%s", s);
	int rc = tess_key_check(key);
	tess_error_clear();
	return rc == 0;
}

static int parse_dim(pyr_dim_meta *dm, const json_t *v, int d, const char *what)
{
	if (!json_is_object(v))
		return BAD("%s: \"tessera_pyramid\": \"dims\"[%d]: expected an object", what, d);
	const char *name = json_string_value(json_object_get(v, "name"));
	if (!name_ok(name))
		return BAD("%s: \"tessera_pyramid\": \"dims\"[%d]: \"name\": expected a non-empty "
		           "name without '/'", what, d);
	const char *agg = json_string_value(json_object_get(v, "aggregator"));
	if (!agg || tess_agg_parse(&dm->agg, agg))
		return BAD("%s: \"tessera_pyramid\": \"dims\"[%d] (%s): \"aggregator\": expected "
		           "one of mean, min, max, sum, count, mode, nearest, last, none", what, d,
		           name);
	const json_t *coords = json_object_get(v, "coordinates");
	if (coords) {
		const char *c = json_string_value(coords);
		int rc = c && *c ? tess_key_check(c) : TESS_EINVAL;
		tess_error_clear();
		if (rc || tess_key_is_reserved(c))
			return BAD("%s: \"tessera_pyramid\": \"dims\"[%d] (%s): \"coordinates\": "
			           "expected a relative array path", what, d, name);
		if (json_object_get(v, "origin") || json_object_get(v, "step"))
			return BAD("%s: \"tessera_pyramid\": \"dims\"[%d] (%s): both \"coordinates\" "
			           "and \"origin\"/\"step\"", what, d, name);
		dm->regular = 0;
		if (!(dm->coords = strdup(c)))
			return tess_err(TESS_ENOMEM, "%s: out of memory", what);
	} else {
		if (!get_finite(&dm->origin, json_object_get(v, "origin")))
			return BAD("%s: \"tessera_pyramid\": \"dims\"[%d] (%s): \"origin\": expected "
			           "a finite number", what, d, name);
		if (!get_finite(&dm->step, json_object_get(v, "step")) || dm->step == 0)
			return BAD("%s: \"tessera_pyramid\": \"dims\"[%d] (%s): \"step\": expected a "
			           "finite non-zero number", what, d, name);
		dm->regular = 1;
	}
	if (!(dm->name = strdup(name)))
		return tess_err(TESS_ENOMEM, "%s: out of memory", what);
	return 0;
}

static int parse_dims(pyr_meta *m, const json_t *dims, const char *what)
{
	size_t n = json_array_size(dims);
	if (!json_is_array(dims) || n < 1 || n > PYR_MAXD)
		return BAD("%s: \"tessera_pyramid\": \"dims\": expected a list of 1 to %d dimensions",
		           what, PYR_MAXD);
	m->ndim = (int)n;
	tess_agg agg = TESS_AGG_NONE;
	int nagg = 0;
	for (int d = 0; d < m->ndim; d++) {
		int rc = parse_dim(&m->dims[d], json_array_get(dims, (size_t)d), d, what);
		if (rc)
			return rc;
		for (int e = 0; e < d; e++)
			if (strcmp(m->dims[e].name, m->dims[d].name) == 0)
				return BAD("%s: \"tessera_pyramid\": \"dims\": the name '%s' appears "
				           "twice", what, m->dims[d].name);
		if (m->dims[d].agg == TESS_AGG_NONE)
			continue;
		if (nagg++ && m->dims[d].agg != agg)
			return BAD("%s: \"tessera_pyramid\": \"dims\": aggregating dimensions with "
			           "different aggregators (%s, %s)", what, tess_agg_name(agg),
			           tess_agg_name(m->dims[d].agg));
		agg = m->dims[d].agg;
	}
	if (nagg > PYR_MAX_AGG_DIMS)
		return BAD("%s: \"tessera_pyramid\": \"dims\": %d aggregating dimensions, at most %d",
		           what, nagg, PYR_MAX_AGG_DIMS);
	return 0;
}

static int parse_nodata(pyr_meta *m, const json_t *v, const char *what)
{
	m->has_nodata = v && !json_is_null(v);
	if (!m->has_nodata)
		return 0;
	uint64_t u;
	const char *s = json_string_value(v);
	if (tess_json_u64_value(v, &u))
		m->nodata = (double)u;
	else if (json_is_number(v))
		m->nodata = json_number_value(v);
	else if (s && strcmp(s, "NaN") == 0)
		m->nodata = NAN;
	else if (s && strcmp(s, "Infinity") == 0)
		m->nodata = INFINITY;
	else if (s && strcmp(s, "-Infinity") == 0)
		m->nodata = -INFINITY;
	else
		return BAD("%s: \"tessera_pyramid\": \"nodata\": expected a number, \"NaN\", "
		           "\"Infinity\", \"-Infinity\" or null", what);
	return 0;
}

static int opt_string(char **out, const json_t *obj, const char *key, const char *what)
{
	const json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return BAD("%s: \"tessera_pyramid\": \"%s\": expected a string or null", what, key);
	if (!(*out = strdup(json_string_value(v))))
		return tess_err(TESS_ENOMEM, "%s: out of memory", what);
	return 0;
}

/* The levels: multiscales[0].datasets must list "0", "1", ... in order. */
static int parse_levels(pyr_meta *m, const json_t *ms, const char *what)
{
	const json_t *first = json_array_get(ms, 0);
	const json_t *ds = json_object_get(first, "datasets");
	size_t n = json_array_size(ds);
	if (!json_is_array(ms) || !json_is_object(first) || !json_is_array(ds) || n < 1 ||
	    n > PYR_MAX_LEVELS)
		return BAD("%s: \"multiscales\"[0].\"datasets\": expected a list of 1 to %d levels",
		           what, PYR_MAX_LEVELS);
	for (size_t k = 0; k < n; k++) {
		char want[24];
		snprintf(want, sizeof want, "%zu", k);
		const char *path = json_string_value(json_object_get(json_array_get(ds, k), "path"));
		if (!path || strcmp(path, want) != 0)
			return BAD("%s: \"multiscales\"[0].\"datasets\"[%zu]: expected \"path\": \"%s\"",
			           what, k, want);
	}
	const json_t *axes = json_object_get(first, "axes");
	if (axes && json_array_size(axes) != (size_t)m->ndim)
		return BAD("%s: \"multiscales\"[0].\"axes\": %zu axes for %d dimensions", what,
		           json_array_size(axes), m->ndim);
	m->nlevels = (int)n;
	return 0;
}

static int parse_body(pyr_meta *m, const json_t *attrs, const json_t *tp, const char *what)
{
	if (!json_is_object(tp))
		return BAD("%s: \"tessera_pyramid\": expected an object", what);
	const json_t *ver = json_object_get(tp, "version");
	if (!json_is_integer(ver) || json_integer_value(ver) < 1)
		return BAD("%s: \"tessera_pyramid\": \"version\": expected an integer >= 1", what);
	if (json_integer_value(ver) > 1)
		return tess_err(TESS_ENOTSUP, "%s: \"tessera_pyramid\": version %lld; this Tessera "
		                "reads version 1", what, (long long)json_integer_value(ver));
	int rc = parse_dims(m, json_object_get(tp, "dims"), what);
	if (!rc)
		rc = parse_nodata(m, json_object_get(tp, "nodata"), what);
	if (!rc)
		rc = opt_string(&m->crs, tp, "crs", what);
	if (!rc)
		rc = opt_string(&m->codec, tp, "codec", what);
	if (rc)
		return rc;
	const json_t *uow = json_object_get(tp, "update_on_write");
	if (uow && !json_is_boolean(uow))
		return BAD("%s: \"tessera_pyramid\": \"update_on_write\": expected true or false", what);
	m->update_on_write = json_is_true(uow);
	return parse_levels(m, json_object_get(attrs, "multiscales"), what);
}

int pyr_meta_parse(pyr_meta *out, const json_t *attrs, const char *what)
{
	memset(out, 0, sizeof *out);
	if (!json_is_object(attrs))
		return BAD("%s: the attributes are not a JSON object", what);
	const json_t *tp = json_object_get(attrs, "tessera_pyramid");
	if (!tp)
		return TESS_ENOTFOUND;
	int rc = parse_body(out, attrs, tp, what);
	if (rc)
		pyr_meta_clear(out);
	return rc;
}

int pyr_meta_parse_text(pyr_meta *out, const char *text, size_t len, const char *what)
{
	json_t *doc;
	memset(out, 0, sizeof *out);
	int rc = tess_json_parse(&doc, text, len, what);
	if (rc)
		return rc == TESS_EINVAL ? TESS_ECORRUPT : rc;
	rc = pyr_meta_parse(out, doc, what);
	json_decref(doc);
	return rc;
}

/* ---- writing ---------------------------------------------------------------------------- */

static json_t *nodata_json(double v, int dtype_int)
{
	if (isnan(v))
		return json_string("NaN");
	if (isinf(v))
		return json_string(v > 0 ? "Infinity" : "-Infinity");
	if (dtype_int && v >= 9223372036854775808.0)
		return tess_json_u64((uint64_t)v);
	if (dtype_int)
		return json_integer((json_int_t)v);
	return json_real(v);
}

static json_t *dim_json(const pyr_dim_meta *dm)
{
	if (dm->regular)
		return json_pack("{s:s,s:s,s:f,s:f}", "name", dm->name, "aggregator",
		                 tess_agg_name(dm->agg), "origin", dm->origin, "step", dm->step);
	return json_pack("{s:s,s:s,s:s}", "name", dm->name, "aggregator", tess_agg_name(dm->agg),
	                 "coordinates", dm->coords);
}

static json_t *tessera_json(const pyr_meta *m, int dtype_int)
{
	json_t *dims = json_array();
	json_t *tp = json_pack("{s:i,s:o,s:b}", "version", 1, "dims", dims, "update_on_write",
	                       m->update_on_write);
	if (!tp)
		return NULL;
	int bad = 0;
	for (int d = 0; d < m->ndim; d++)
		bad |= json_array_append_new(dims, dim_json(&m->dims[d]));
	if (m->has_nodata)
		bad |= json_object_set_new(tp, "nodata", nodata_json(m->nodata, dtype_int));
	if (m->crs)
		bad |= json_object_set_new(tp, "crs", json_string(m->crs));
	if (m->codec)
		bad |= json_object_set_new(tp, "codec", json_string(m->codec));
	/* GDAL's geotransform of level 0 when the last two dimensions are (y, x) */
	const pyr_dim_meta *dy = m->ndim >= 2 ? &m->dims[m->ndim - 2] : NULL;
	const pyr_dim_meta *dx = &m->dims[m->ndim - 1];
	if (dy && dy->regular && dx->regular)
		bad |= json_object_set_new(tp, "transform",
		                           json_pack("[f,f,f,f,f,f]", dx->origin, dx->step, 0.0,
		                                     dy->origin, 0.0, dy->step));
	if (bad) {
		json_decref(tp);
		return NULL;
	}
	return tp;
}

/* One level's scale and translation: cell centres in world units. */
static json_t *level_json(const pyr_meta *m, int k)
{
	json_t *scale = json_array(), *trans = json_array();
	int bad = !scale || !trans;
	for (int d = 0; d < m->ndim && !bad; d++) {
		const pyr_dim_meta *dm = &m->dims[d];
		double f = dm->agg != TESS_AGG_NONE ? ldexp(1.0, k) : 1.0;
		double s = dm->regular ? dm->step * f : f;
		double t = dm->regular ? dm->origin + dm->step * f / 2 : (f - 1) / 2;
		/* JSON has no infinity: absurd origins and steps give null */
		bad |= json_array_append_new(scale, isfinite(s) ? json_real(s) : json_null());
		bad |= json_array_append_new(trans, isfinite(t) ? json_real(t) : json_null());
	}
	char path[24];
	snprintf(path, sizeof path, "%d", k);
	json_t *lv = bad ? NULL
	                 : json_pack("{s:s,s:[{s:s,s:O},{s:s,s:O}]}", "path", path,
	                             "coordinateTransformations", "type", "scale", "scale", scale,
	                             "type", "translation", "translation", trans);
	json_decref(scale);
	json_decref(trans);
	return lv;
}

static json_t *multiscales_json(const pyr_meta *m, const char *name)
{
	json_t *axes = json_array(), *ds = json_array();
	tess_agg agg = TESS_AGG_NONE;
	int bad = !axes || !ds;
	for (int d = 0; d < m->ndim && !bad; d++) {
		const char *type = pyr_axis_type(m->dims[d].name);
		json_t *ax = type ? json_pack("{s:s,s:s}", "name", m->dims[d].name, "type", type)
		                  : json_pack("{s:s}", "name", m->dims[d].name);
		bad |= json_array_append_new(axes, ax);
		if (m->dims[d].agg != TESS_AGG_NONE)
			agg = m->dims[d].agg;
	}
	for (int k = 0; k < m->nlevels && !bad; k++)
		bad |= json_array_append_new(ds, level_json(m, k));
	if (bad) {
		json_decref(axes);
		json_decref(ds);
		return NULL;
	}
	return json_pack("[{s:s,s:s,s:s,s:o,s:o}]", "version", "0.4", "name", name, "type",
	                 tess_agg_name(agg), "axes", axes, "datasets", ds);
}

int pyr_meta_store(json_t *attrs, const pyr_meta *m, const char *name, int dtype_int)
{
	json_t *ms = multiscales_json(m, name);
	json_t *tp = tessera_json(m, dtype_int);
	/* json_object_set_new takes the value whatever happens */
	int bad = !ms || !tp;
	bad |= json_object_set_new(attrs, "multiscales", ms) != 0;
	bad |= json_object_set_new(attrs, "tessera_pyramid", tp) != 0;
	return bad ? tess_err(TESS_ENOMEM, "pyramid metadata: out of memory") : 0;
}
