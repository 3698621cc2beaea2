/*
 * Pyramids: create, open, close, grow, write, append.
 *
 * A pyramid is a Zarr group whose attributes hold "multiscales" and
 * "tessera_pyramid" (meta.c), with level arrays "0".."N" and, for
 * non-equidistant dimensions, coordinate arrays "coords/<name>".  Each
 * level array carries "_tessera_pyramid": {"level": k}, so that the array
 * module applies the pyramid's rules to every write (hook.c).  The group
 * attributes are written last when a pyramid is created, so a pyramid that
 * tess_pyramid_exists reports is complete.
 *
 * A handle is used by one thread at a time.
 */
#include "pyramid/internal.h"
#include "pyramid/hook.h"
#include "array/core.h"
#include "store/node.h"
#include "util/error.h"
#include "util/json.h"

#include "tessera/attr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* chunk length of coordinate arrays */
#define COORD_CHUNK 65536

/* ---- small helpers ----------------------------------------------------------------------- */

int pyr_dtype_ok(const tess_dtype *dt)
{
	int le = dt->endian == '<' || (dt->itemsize == 1 && dt->endian == '|');
	switch (dt->kind) {
	case TESS_DT_INT:
	case TESS_DT_UINT:
		return le && (dt->itemsize == 1 || dt->itemsize == 2 || dt->itemsize == 4 ||
		              dt->itemsize == 8);
	case TESS_DT_FLOAT:
		return le && (dt->itemsize == 4 || dt->itemsize == 8);
	default:
		return 0;
	}
}

int pyr_value_to_elem(uint8_t *out, const tess_dtype *dt, double v)
{
	if (dt->kind == TESS_DT_FLOAT) {
		pyr_elem_set(dt, out, v);
		return 0;
	}
	double lo, hi; /* hi exclusive */
	if (dt->kind == TESS_DT_INT) {
		lo = -ldexp(1.0, (int)dt->itemsize * 8 - 1);
		hi = ldexp(1.0, (int)dt->itemsize * 8 - 1);
	} else {
		lo = 0;
		hi = ldexp(1.0, (int)dt->itemsize * 8);
	}
	if (!isfinite(v) || v != floor(v) || v < lo || v >= hi)
		return TESS_EINVAL;
	pyr_elem_set(dt, out, v);
	return 0;
}

void pyr_lock_name(char *buf, const char *path)
{
	snprintf(buf, TESS_NODE_KEYBUF, "pyramid:%s", path);
}

int pyr_lock(tess_lock **out, tess_pyramid *p)
{
	char lock_name[TESS_NODE_KEYBUF];
	pyr_lock_name(lock_name, p->path);
	int rc = tess_lock_acquire(out, p->st, lock_name);
	return rc ? tess_err_prefix(rc, "pyramid '%s': ", p->path) : 0;
}

/* The node path of a pyramid; the store's root cannot be one. */
static int pyramid_path(char *path, const char *path_in)
{
	int rc = tess_node_path(path, path_in, "pyramid");
	if (!rc && !path[0])
		rc = tess_err(TESS_EINVAL, "pyramid: the store's root cannot be a pyramid");
	return rc;
}

void pyr_level_shape(const tess_pyramid *p, const uint64_t *shape0, int k, uint64_t *out)
{
	for (int d = 0; d < p->meta.ndim; d++) {
		uint64_t n = shape0[d];
		if (p->aggd[d] && k > 0)
			n = k >= 64 ? (n > 0) : (n >> k) + ((n & ((1ULL << k) - 1)) != 0);
		out[d] = n;
	}
}

int pyr_levels_needed(const tess_pyramid *p, const uint64_t *shape0)
{
	uint64_t s[PYR_MAXD];
	for (int k = 0; k < PYR_MAX_LEVELS; k++) {
		pyr_level_shape(p, shape0, k, s);
		int fits = 1;
		for (int d = 0; d < p->meta.ndim; d++)
			fits &= !p->aggd[d] || s[d] <= p->chunks[d];
		if (fits)
			return k + 1;
	}
	return PYR_MAX_LEVELS;
}

static int is_int_dtype(const tess_dtype *dt)
{
	return dt->kind == TESS_DT_INT || dt->kind == TESS_DT_UINT;
}

/* The last segment of a path (the group's name for "multiscales"). */
static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static int level_path(char *buf, const char *path, int k)
{
	int n = snprintf(buf, TESS_KEY_MAX + 1, "%s/%d", path, k);
	return n > 0 && n <= TESS_KEY_MAX ? 0 : tess_err(TESS_EINVAL, "pyramid '%s': path too long", path);
}

/* "<path>/<rel>" (a coordinate array) into buf (TESS_KEY_MAX + 1 bytes). */
static int sub_path(char *buf, const char *path, const char *rel)
{
	int n = snprintf(buf, TESS_KEY_MAX + 1, "%s/%s", path, rel);
	return n > 0 && n <= TESS_KEY_MAX ? 0 : tess_err(TESS_EINVAL, "pyramid '%s': path too long", path);
}

/* ---- group attributes ---------------------------------------------------------------------- */

int pyr_group_attrs_load(json_t **doc, json_t **attrs, int *fmt, tess_store *st, const char *path)
{
	char k_attrs[TESS_NODE_KEYBUF], k_v3[TESS_NODE_KEYBUF], k_group[TESS_NODE_KEYBUF];
	tess_node_key(k_attrs, path, ".zattrs");
	tess_node_key(k_v3, path, "zarr.json");
	tess_node_key(k_group, path, ".zgroup");
	tess_buf bufs[3] = {{0}};
	tess_get_req reqs[3] = {
		{ k_attrs, 0, UINT64_MAX, &bufs[0], 0 },
		{ k_v3, 0, UINT64_MAX, &bufs[1], 0 },
		{ k_group, 0, 0, &bufs[2], 0 },
	};
	*doc = *attrs = NULL;
	int rc = tess_obj_get_many(st, reqs, 3);
	for (int i = 0; i < 3 && !rc; i++)
		if (reqs[i].status && reqs[i].status != TESS_ENOTFOUND)
			rc = tess_err_prefix(reqs[i].status, "'%s': ", reqs[i].key);
	int which = rc ? -1 : reqs[1].status == 0 ? 1 : reqs[2].status == 0 ? 0 : -1;
	if (!rc && which < 0)
		rc = tess_err(TESS_ENOTFOUND, "no group at '%s'", path);
	if (!rc && which == 0 && reqs[0].status == TESS_ENOTFOUND) {
		*doc = json_object(); /* a v2 group without attributes */
		rc = *doc ? 0 : tess_err(TESS_ENOMEM, "out of memory");
	} else if (!rc) {
		rc = tess_json_parse(doc, bufs[which].data ? (const char *)bufs[which].data : "",
		                     bufs[which].len, reqs[which].key);
		if (rc == TESS_EINVAL)
			rc = TESS_ECORRUPT;
	}
	for (int i = 0; i < 3; i++)
		tess_buf_free(&bufs[i]);
	if (rc)
		return rc;
	*fmt = which == 1 ? 3 : 2;
	if (*fmt == 2) {
		*attrs = *doc;
	} else {
		const char *nt = json_string_value(json_object_get(*doc, "node_type"));
		if (!nt || strcmp(nt, "group") != 0)
			rc = tess_err(TESS_ENOTFOUND, "'%s' is not a group", path);
		*attrs = json_object_get(*doc, "attributes");
		if (!rc && !*attrs) {
			*attrs = json_object();
			json_object_set_new(*doc, "attributes", *attrs);
		}
	}
	if (!rc && !json_is_object(*attrs))
		rc = tess_err(TESS_ECORRUPT, "'%s': the group's attributes are not a JSON object", path);
	if (rc) {
		json_decref(*doc);
		*doc = *attrs = NULL;
	}
	return rc;
}

static int attrs_put(tess_store *st, const char *path, int fmt, const json_t *doc)
{
	char key[TESS_NODE_KEYBUF];
	tess_node_key(key, path, fmt == 3 ? "zarr.json" : ".zattrs");
	return tess_obj_put_json(st, key, doc, 0);
}

int pyr_group_attrs_save(tess_pyramid *p)
{
	char lock_name[TESS_NODE_KEYBUF];
	snprintf(lock_name, sizeof lock_name, "meta:%s", p->path);
	tess_lock *lk;
	int rc = tess_lock_acquire(&lk, p->st, lock_name);
	if (rc)
		return tess_err_prefix(rc, "pyramid '%s': ", p->path);
	json_t *doc, *attrs;
	int fmt;
	rc = pyr_group_attrs_load(&doc, &attrs, &fmt, p->st, p->path);
	p->meta.nlevels = p->nlevels;
	if (!rc)
		rc = pyr_meta_store(attrs, &p->meta, base_name(p->path), is_int_dtype(&p->dtype));
	if (!rc)
		rc = attrs_put(p->st, p->path, fmt, doc);
	json_decref(doc);
	tess_lock_release(lk);
	return rc ? tess_err_prefix(rc, "pyramid '%s': writing the group's metadata: ", p->path) : 0;
}

/* ---- options ---------------------------------------------------------------------------------- */

#define OPT_ERR(...) tess_err(TESS_EINVAL, __VA_ARGS__)

static int check_dims(const char *path, const tess_pyramid_opts *o)
{
	int nagg = 0;
	tess_agg agg = TESS_AGG_NONE;
	for (int d = 0; d < o->ndim; d++) {
		const tess_pyramid_dim *dm = &o->dims[d];
		const char *n = dm->name;
		if (!n || !*n || strchr(n, '/') || strlen(n) > 255 || !strcmp(n, ".") || !strcmp(n, ".."))
			return OPT_ERR("pyramid '%s': dims[%d].name: expected a non-empty name without "
			               "'/'", path, d);
		char key[300];
		snprintf(key, sizeof key, "coords/%s", n);
		if (tess_key_check(key))
			return tess_err_prefix(TESS_EINVAL, "pyramid '%s': dims[%d].name: ", path, d);
		for (int e = 0; e < d; e++)
			if (strcmp(o->dims[e].name, n) == 0)
				return OPT_ERR("pyramid '%s': dims[%d].name: '%s' is used twice", path, d, n);
		if ((unsigned)dm->agg > TESS_AGG_LAST)
			return OPT_ERR("pyramid '%s': dims[%d].agg: not a tess_agg", path, d);
		if (dm->agg != TESS_AGG_NONE) {
			if (nagg++ && dm->agg != agg)
				return OPT_ERR("pyramid '%s': dims[%d].agg: %s, but another dimension "
				               "aggregates with %s; aggregating dimensions share one "
				               "aggregator", path, d, tess_agg_name(dm->agg),
				               tess_agg_name(agg));
			agg = dm->agg;
		}
		if (dm->regular && (!isfinite(dm->origin) || !isfinite(dm->step) || dm->step == 0))
			return OPT_ERR("pyramid '%s': dims[%d] (%s): origin and step must be finite and "
			               "step non-zero", path, d, n);
		if (!dm->regular && o->shape[d] != 0)
			return OPT_ERR("pyramid '%s': dims[%d] (%s) is non-equidistant: create it with "
			               "shape 0 and add cells with tess_pyramid_append", path, d, n);
		if (o->chunks[d] == 0)
			return OPT_ERR("pyramid '%s': chunks[%d]: must be >= 1", path, d);
	}
	if (nagg > PYR_MAX_AGG_DIMS)
		return OPT_ERR("pyramid '%s': %d aggregating dimensions; at most %d", path, nagg,
		               PYR_MAX_AGG_DIMS);
	return 0;
}

static int check_opts(const char *path, const tess_pyramid_opts *o)
{
	char dts[32];
	if (!o || o->version != TESS_PYRAMID_OPTS_VERSION)
		return OPT_ERR("pyramid '%s': options missing or of another version (initialize them "
		               "with TESS_PYRAMID_OPTS_INIT)", path);
	if (o->ndim < 1 || o->ndim > PYR_MAXD)
		return OPT_ERR("pyramid '%s': ndim %d: expected 1 to %d", path, o->ndim, PYR_MAXD);
	if (!pyr_dtype_ok(&o->dtype))
		return OPT_ERR("pyramid '%s': dtype %s: pyramids hold little-endian int8..int64, "
		               "uint8..uint64, float32 and float64", path,
		               tess_dtype_str(dts, sizeof dts, &o->dtype));
	if (o->zarr_format != 2 && o->zarr_format != 3)
		return OPT_ERR("pyramid '%s': zarr_format %d: expected 2 or 3", path, o->zarr_format);
	uint8_t elem[8];
	if (o->has_nodata && pyr_value_to_elem(elem, &o->dtype, o->nodata))
		return OPT_ERR("pyramid '%s': nodata %.17g is not a value of dtype %s", path,
		               o->nodata, tess_dtype_str(dts, sizeof dts, &o->dtype));
	return check_dims(path, o);
}

static int meta_from_opts(pyr_meta *m, const tess_pyramid_opts *o)
{
	memset(m, 0, sizeof *m);
	m->ndim = o->ndim;
	m->has_nodata = o->has_nodata;
	m->nodata = o->nodata;
	m->update_on_write = o->update_on_write != 0;
	int rc = 0;
	for (int d = 0; d < o->ndim && !rc; d++) {
		pyr_dim_meta *dm = &m->dims[d];
		dm->agg = o->dims[d].agg;
		dm->regular = o->dims[d].regular != 0;
		dm->origin = dm->regular ? o->dims[d].origin : 0;
		dm->step = dm->regular ? o->dims[d].step : 0;
		if (!(dm->name = strdup(o->dims[d].name)))
			rc = TESS_ENOMEM;
		char coords[300];
		snprintf(coords, sizeof coords, "coords/%s", o->dims[d].name);
		if (!rc && !dm->regular && !(dm->coords = strdup(coords)))
			rc = TESS_ENOMEM;
	}
	if (!rc && o->crs && !(m->crs = strdup(o->crs)))
		rc = TESS_ENOMEM;
	if (!rc && o->codec && !(m->codec = strdup(o->codec)))
		rc = TESS_ENOMEM;
	if (rc) {
		pyr_meta_clear(m);
		return tess_err(TESS_ENOMEM, "pyramid: out of memory");
	}
	return 0;
}

/* The fill value as JSON text for tess_array_opts.fill. */
static void fill_text(char *buf, size_t cap, const pyr_meta *m, const tess_dtype *dt)
{
	double v = m->has_nodata ? m->nodata : dt->kind == TESS_DT_FLOAT ? NAN : 0;
	if (isnan(v))
		snprintf(buf, cap, "\"NaN\"");
	else if (isinf(v))
		snprintf(buf, cap, "\"%sInfinity\"", v < 0 ? "-" : "");
	else if (dt->kind == TESS_DT_UINT)
		snprintf(buf, cap, "%llu", (unsigned long long)v);
	else if (dt->kind == TESS_DT_INT)
		snprintf(buf, cap, "%lld", (long long)v);
	else
		tess_json_format_double(buf, v);
}

/* ---- handle setup --------------------------------------------------------------------------- */

static void derive_fields(tess_pyramid *p)
{
	const pyr_meta *m = &p->meta;
	p->agg = TESS_AGG_NONE;
	for (int d = 0; d < m->ndim; d++) {
		p->aggd[d] = m->dims[d].agg != TESS_AGG_NONE;
		if (p->aggd[d])
			p->agg = m->dims[d].agg;
	}
	memset(p->fill, 0, sizeof p->fill);
	double v = m->has_nodata ? m->nodata : p->dtype.kind == TESS_DT_FLOAT ? NAN : 0;
	pyr_elem_set(&p->dtype, p->fill, v);
}

/* tess_pyramid_info's view: borrowed strings, level 0's shape. */
static void info_sync(tess_pyramid *p)
{
	tess_pyramid_opts *o = &p->info;
	const pyr_meta *m = &p->meta;
	memset(o, 0, sizeof *o);
	o->version = TESS_PYRAMID_OPTS_VERSION;
	o->ndim = m->ndim;
	const uint64_t *shape = tess_array_shape(p->levels[0]);
	for (int d = 0; d < m->ndim; d++) {
		o->shape[d] = shape[d];
		o->chunks[d] = p->chunks[d];
		o->dims[d] = (tess_pyramid_dim){ m->dims[d].name, m->dims[d].agg, m->dims[d].regular,
		                                 m->dims[d].origin, m->dims[d].step };
	}
	o->dtype = p->dtype;
	o->codec = m->codec;
	o->zarr_format = p->zarr_format;
	o->has_nodata = m->has_nodata;
	o->nodata = m->nodata;
	o->crs = m->crs;
	o->update_on_write = m->update_on_write;
}

/* Open level k and check it belongs: its marker, rank, dtype and chunks. */
static int open_level(tess_pyramid *p, int k)
{
	char lp[TESS_KEY_MAX + 1];
	int rc = level_path(lp, p->path, k);
	tess_array *a = NULL;
	if (!rc)
		rc = tess_array_open(&a, p->st, lp);
	if (rc)
		return tess_err_prefix(rc, "pyramid '%s': level %d: ", p->path, k);
	const tess_dtype *dt = tess_array_dtype(a);
	int ok = a->pyr_level == k && tess_array_ndim(a) == p->meta.ndim && dt->kind == p->dtype.kind &&
	         dt->itemsize == p->dtype.itemsize;
	for (int d = 0; ok && d < p->meta.ndim; d++)
		ok = tess_array_chunks(a)[d] == p->chunks[d];
	if (!ok) {
		tess_array_close(a);
		return tess_err(TESS_ECORRUPT, "pyramid '%s': level %d: the array at '%s' is not this "
		                "pyramid's level %d (attribute _tessera_pyramid, rank, dtype or chunks "
		                "differ)", p->path, k, lp, k);
	}
	a->pyr_owner = p;
	p->levels[k] = a;
	return 0;
}

/* Coordinates of irregular dimension d, as many as level 0 has cells. */
static int load_coords(tess_pyramid *p, int d)
{
	char cp[TESS_KEY_MAX + 1];
	tess_array *a;
	int rc = sub_path(cp, p->path, p->meta.dims[d].coords);
	if (!rc)
		rc = tess_array_open(&a, p->st, cp);
	if (rc)
		return tess_err_prefix(rc, "pyramid '%s': coordinates of '%s': ", p->path,
		                       p->meta.dims[d].name);
	uint64_t n = tess_array_shape(p->levels[0])[d];
	const tess_dtype *dt = tess_array_dtype(a);
	if (tess_array_ndim(a) != 1 || dt->kind != TESS_DT_FLOAT || dt->itemsize != 8 ||
	    dt->endian != '<' || tess_array_shape(a)[0] < n) {
		tess_array_close(a);
		return tess_err(TESS_ECORRUPT, "pyramid '%s': coordinates of '%s' at '%s': expected "
		                "a 1-d <f8 array of at least %llu values", p->path,
		                p->meta.dims[d].name, cp, (unsigned long long)n);
	}
	size_t cap = n ? (size_t)n : 1;
	double *c = malloc(cap * sizeof *c);
	rc = c ? 0 : tess_err(TESS_ENOMEM, "pyramid '%s': out of memory", p->path);
	uint64_t zero = 0;
	if (!rc && n)
		rc = tess_array_read(a, &zero, &n, c);
	tess_array_close(a);
	if (rc) {
		free(c);
		return rc;
	}
	free(p->coords[d]);
	p->coords[d] = c;
	p->coords_cap[d] = cap;
	return 0;
}

void tess_pyramid_close(tess_pyramid *p)
{
	if (!p)
		return;
	for (int k = 0; k < PYR_MAX_LEVELS; k++)
		tess_array_close(p->levels[k]);
	for (int d = 0; d < PYR_MAXD; d++)
		free(p->coords[d]);
	pyr_meta_clear(&p->meta);
	free(p->path);
	free(p);
}

int tess_pyramid_open(tess_pyramid **out, tess_store *st, const char *path_in)
{
	*out = NULL;
	char path[TESS_KEY_MAX + 1];
	int rc = pyramid_path(path, path_in);
	if (rc)
		return rc;
	json_t *doc, *attrs;
	int fmt;
	char what[TESS_KEY_MAX + 32];
	snprintf(what, sizeof what, "pyramid '%s'", path);
	if ((rc = pyr_group_attrs_load(&doc, &attrs, &fmt, st, path)))
		return tess_err_prefix(rc, "%s: ", what);
	tess_pyramid *p = calloc(1, sizeof *p);
	if (!p || !(p->path = strdup(path))) {
		free(p);
		json_decref(doc);
		return tess_err(TESS_ENOMEM, "%s: out of memory", what);
	}
	p->st = st;
	p->zarr_format = fmt;
	rc = pyr_meta_parse(&p->meta, attrs, what);
	json_decref(doc);
	if (rc == TESS_ENOTFOUND)
		rc = tess_err(TESS_ENOTFOUND, "%s: a group without \"tessera_pyramid\" attributes, "
		              "not a pyramid", what);
	p->nlevels = p->meta.nlevels;
	/* level 0 first: the dtype and chunks every other level must have */
	char lp[TESS_KEY_MAX + 1];
	tess_array *l0 = NULL;
	if (!rc && !(rc = level_path(lp, path, 0)) && !(rc = tess_array_open(&l0, st, lp))) {
		p->dtype = *tess_array_dtype(l0);
		p->itemsize = p->dtype.itemsize;
		for (int d = 0; d < tess_array_ndim(l0) && d < PYR_MAXD; d++)
			p->chunks[d] = tess_array_chunks(l0)[d];
		if (!pyr_dtype_ok(&p->dtype) || l0->pyr_level != 0 ||
		    tess_array_ndim(l0) != p->meta.ndim)
			rc = tess_err(TESS_ECORRUPT, "%s: level 0 at '%s' is not this pyramid's level 0 "
			              "(attribute _tessera_pyramid, rank or dtype)", what, lp);
		l0->pyr_owner = p;
		p->levels[0] = l0;
	} else if (rc) {
		rc = tess_err_prefix(rc, "%s: level 0: ", what);
	}
	if (!rc)
		derive_fields(p);
	for (int k = 1; k < p->nlevels && !rc; k++)
		rc = open_level(p, k);
	for (int d = 0; d < p->meta.ndim && !rc; d++)
		if (!p->meta.dims[d].regular)
			rc = load_coords(p, d);
	if (rc) {
		tess_pyramid_close(p);
		return rc;
	}
	info_sync(p);
	*out = p;
	return 0;
}

int tess_pyramid_exists(tess_store *st, const char *path_in)
{
	char path[TESS_KEY_MAX + 1];
	if (tess_node_path(path, path_in, "pyramid") || !path[0]) {
		tess_error_clear();
		return 0;
	}
	json_t *doc, *attrs;
	int fmt;
	int rc = pyr_group_attrs_load(&doc, &attrs, &fmt, st, path);
	int yes = !rc && json_is_object(json_object_get(attrs, "tessera_pyramid"));
	json_decref(doc);
	tess_error_clear();
	return yes;
}

const tess_pyramid_opts *tess_pyramid_info(const tess_pyramid *p)
{
	return &p->info;
}

int tess_pyramid_levels(const tess_pyramid *p)
{
	return p->nlevels;
}

tess_array *tess_pyramid_level(tess_pyramid *p, int level)
{
	return level >= 0 && level < p->nlevels ? p->levels[level] : NULL;
}

/* ---- create ---------------------------------------------------------------------------------- */

static int node_absent(tess_store *st, const char *path)
{
	static const char *const names[] = { ".zarray", ".zgroup", "zarr.json" };
	char key[TESS_NODE_KEYBUF];
	for (size_t i = 0; i < 3; i++) {
		tess_node_key(key, path, names[i]);
		if (tess_key_exists(st, key))
			return tess_err(TESS_EEXISTS, "a node exists there (%s)", names[i]);
	}
	if (tess_key_exists(st, path))
		return tess_err(TESS_ECONFLICT, "a blob exists there");
	return 0;
}

/* Create (or, after an interrupted attempt, find) level array k of `shape`. */
static int create_level(tess_store *st, const char *path, int k, const pyr_meta *m,
                        const tess_dtype *dt, int fmt, const uint64_t *chunks,
                        const uint64_t *shape)
{
	char lp[TESS_KEY_MAX + 1], fill[64];
	int rc = level_path(lp, path, k);
	if (rc)
		return rc;
	tess_array_opts ao = TESS_ARRAY_OPTS_INIT;
	const char *names[PYR_MAXD];
	ao.zarr_format = fmt;
	ao.ndim = m->ndim;
	for (int d = 0; d < m->ndim; d++) {
		ao.shape[d] = shape[d];
		ao.chunks[d] = chunks[d];
		names[d] = m->dims[d].name;
	}
	ao.dtype = *dt;
	ao.codec = m->codec;
	fill_text(fill, sizeof fill, m, dt);
	ao.fill = fill;
	ao.dimension_names = fmt == 3 ? names : NULL;
	tess_array *a = NULL;
	rc = tess_array_create(&a, st, lp, &ao);
	if (rc == TESS_EEXISTS) {
		/* left by an interrupted grow: take it at the right shape */
		if (!(rc = tess_array_open(&a, st, lp))) {
			pyr_derive_begin();
			rc = tess_array_resize(a, shape);
			pyr_derive_end();
		}
	}
	tess_array_close(a);
	char attr[64];
	snprintf(attr, sizeof attr, "{\"level\": %d}", k);
	if (!rc)
		rc = tess_attr_set(st, lp, "_tessera_pyramid", attr);
	return rc ? tess_err_prefix(rc, "level %d: ", k) : 0;
}

static int coords_create(tess_store *st, const char *path, const pyr_dim_meta *dm, int fmt)
{
	char cp[TESS_KEY_MAX + 1];
	int rc = sub_path(cp, path, dm->coords);
	if (rc)
		return rc;
	tess_array_opts ao = TESS_ARRAY_OPTS_INIT;
	ao.zarr_format = fmt;
	ao.ndim = 1;
	ao.chunks[0] = COORD_CHUNK;
	ao.dtype = (tess_dtype){ TESS_DT_FLOAT, 8, '<' };
	ao.fill = "\"NaN\"";
	const char *names[1] = { dm->name };
	ao.dimension_names = fmt == 3 ? names : NULL;
	tess_array *a;
	rc = tess_array_create(&a, st, cp, &ao);
	tess_array_close(a);
	return rc ? tess_err_prefix(rc, "coordinates of '%s': ", dm->name) : 0;
}

/* The group and its levels; the group's attributes last. */
static int create_nodes(tess_store *st, const char *path, const tess_pyramid_opts *o,
                        pyr_meta *m)
{
	char lock_name[TESS_NODE_KEYBUF];
	snprintf(lock_name, sizeof lock_name, "meta:%s", path);
	tess_lock *lk;
	int rc = tess_lock_acquire(&lk, st, lock_name);
	if (rc)
		return rc;
	rc = node_absent(st, path);
	if (!rc)
		rc = tess_node_ensure_groups(st, path, o->zarr_format, 1);
	tess_lock_release(lk);
	/* the level count from a scratch handle's arithmetic */
	tess_pyramid tmp;
	memset(&tmp, 0, sizeof tmp);
	tmp.meta.ndim = o->ndim;
	for (int d = 0; d < o->ndim; d++) {
		tmp.aggd[d] = o->dims[d].agg != TESS_AGG_NONE;
		tmp.chunks[d] = o->chunks[d];
	}
	m->nlevels = pyr_levels_needed(&tmp, o->shape);
	for (int k = 0; k < m->nlevels && !rc; k++) {
		uint64_t shape[PYR_MAXD];
		pyr_level_shape(&tmp, o->shape, k, shape);
		rc = create_level(st, path, k, m, &o->dtype, o->zarr_format, o->chunks, shape);
	}
	for (int d = 0; d < o->ndim && !rc; d++)
		if (!m->dims[d].regular)
			rc = coords_create(st, path, &m->dims[d], o->zarr_format);
	if (!rc)
		rc = pyr_dirty_keep(st, path);
	json_t *doc = NULL, *attrs;
	int fmt;
	if (!rc)
		rc = pyr_group_attrs_load(&doc, &attrs, &fmt, st, path);
	if (!rc)
		rc = pyr_meta_store(attrs, m, base_name(path), is_int_dtype(&o->dtype));
	if (!rc)
		rc = attrs_put(st, path, fmt, doc);
	json_decref(doc);
	return rc;
}

int tess_pyramid_create(tess_pyramid **out, tess_store *st, const char *path_in,
                        const tess_pyramid_opts *opts)
{
	*out = NULL;
	char path[TESS_KEY_MAX + 1];
	int rc = pyramid_path(path, path_in);
	if (rc)
		return rc;
	if ((rc = check_opts(path, opts)))
		return rc;
	pyr_meta m;
	if ((rc = meta_from_opts(&m, opts)))
		return rc;
	rc = create_nodes(st, path, opts, &m);
	pyr_meta_clear(&m);
	if (rc)
		return tess_err_prefix(rc, "pyramid '%s': create: ", path);
	return tess_pyramid_open(out, st, path);
}

/* ---- growth ----------------------------------------------------------------------------------- */

/* Re-read what other handles may have changed: the level count, each
 * level's shape.  Level handles stay the same objects (they are lent out). */
static int refresh(tess_pyramid *p)
{
	json_t *doc, *attrs;
	int fmt;
	pyr_meta m;
	int rc = pyr_group_attrs_load(&doc, &attrs, &fmt, p->st, p->path);
	if (!rc) {
		rc = pyr_meta_parse(&m, attrs, "pyramid");
		json_decref(doc);
	}
	if (rc)
		return tess_err_prefix(rc == TESS_ENOTFOUND ? TESS_ECORRUPT : rc, "pyramid '%s': ",
		                       p->path);
	int listed = m.nlevels;
	pyr_meta_clear(&m);
	for (int k = p->nlevels; k < listed && !rc; k++)
		rc = open_level(p, k);
	if (!rc && listed > p->nlevels)
		p->nlevels = listed;
	for (int k = 0; k < p->nlevels && !rc; k++) {
		char lp[TESS_KEY_MAX + 1];
		tess_array *fresh;
		if (!(rc = level_path(lp, p->path, k)) && !(rc = tess_array_open(&fresh, p->st, lp))) {
			tess_array *a = p->levels[k];
			if (memcmp(a->meta.shape, fresh->meta.shape,
			           (size_t)a->meta.ndim * sizeof(uint64_t)) != 0) {
				memcpy(a->meta.shape, fresh->meta.shape,
				       (size_t)a->meta.ndim * sizeof(uint64_t));
				array_cache_clear(a->cache);
			}
			tess_array_close(fresh);
		}
	}
	if (!rc)
		info_sync(p);
	return rc;
}

int pyr_reconcile(tess_pyramid *p, int *first_new)
{
	int rc = refresh(p);
	*first_new = p->nlevels;
	if (rc)
		return rc;
	const uint64_t *shape0 = tess_array_shape(p->levels[0]);
	int need = pyr_levels_needed(p, shape0);
	uint64_t s[PYR_MAXD];
	/* levels are never removed: after level 0 shrinks, the ones beyond the
	 * new N stay, each still the aggregate of the one below */
	pyr_derive_begin();
	for (int k = 1; k < p->nlevels && !rc; k++) {
		pyr_level_shape(p, shape0, k, s);
		if (memcmp(s, tess_array_shape(p->levels[k]), (size_t)p->meta.ndim * sizeof *s))
			rc = tess_array_resize(p->levels[k], s);
	}
	pyr_derive_end();
	for (int k = p->nlevels; k < need && !rc; k++) {
		pyr_level_shape(p, shape0, k, s);
		rc = create_level(p->st, p->path, k, &p->meta, &p->dtype, p->zarr_format, p->chunks, s);
		if (!rc)
			rc = open_level(p, k);
		if (!rc)
			p->nlevels = k + 1;
	}
	return rc ? tess_err_prefix(rc, "pyramid '%s': ", p->path) : 0;
}

static int grow_locked(tess_pyramid *p, const uint64_t *shape)
{
	int first_new, rc = refresh(p);
	const uint64_t *cur = tess_array_shape(p->levels[0]);
	uint64_t target[PYR_MAXD];
	int changed = 0;
	for (int d = 0; !rc && d < p->meta.ndim; d++) {
		target[d] = shape[d] > cur[d] ? shape[d] : cur[d];
		changed |= target[d] != cur[d];
	}
	if (!rc && changed)
		rc = tess_array_resize(p->levels[0], target);
	int old_levels = p->nlevels;
	if (!rc)
		rc = pyr_reconcile(p, &first_new);
	if (!rc && first_new < p->nlevels)
		rc = pyr_compute_levels_from(p, first_new, NULL);
	if (!rc && p->nlevels != old_levels)
		rc = pyr_group_attrs_save(p);
	info_sync(p);
	return rc;
}

/* Grow level 0 to at least `shape`; irregular dimensions only from append. */
static int grow(tess_pyramid *p, const uint64_t *shape, int from_append)
{
	const uint64_t *cur = tess_array_shape(p->levels[0]);
	for (int d = 0; d < p->meta.ndim; d++)
		if (!from_append && !p->meta.dims[d].regular && shape[d] > cur[d])
			return tess_err(TESS_EINVAL, "pyramid '%s': '%s' is non-equidistant: it grows "
			                "with tess_pyramid_append, which adds its coordinates", p->path,
			                p->meta.dims[d].name);
	tess_lock *lk;
	int rc = pyr_lock(&lk, p);
	if (rc)
		return rc;
	int busy = p->busy;
	p->busy = 1; /* the level-0 resize must not start an update under our lock */
	p->locked = 1;
	rc = grow_locked(p, shape);
	p->locked = 0;
	p->busy = busy;
	tess_lock_release(lk);
	return rc;
}

int tess_pyramid_grow(tess_pyramid *p, const uint64_t *shape)
{
	if (!shape)
		return tess_err(TESS_EINVAL, "pyramid '%s': grow: NULL shape", p->path);
	const uint64_t *cur = tess_array_shape(p->levels[0]);
	for (int d = 0; d < p->meta.ndim; d++)
		if (shape[d] < cur[d])
			return tess_err(TESS_EINVAL, "pyramid '%s': grow: %s from %llu to %llu: pyramids "
			                "never shrink", p->path, p->meta.dims[d].name,
			                (unsigned long long)cur[d], (unsigned long long)shape[d]);
	int rc = grow(p, shape, 0);
	if (!rc && p->meta.update_on_write)
		rc = tess_pyramid_update(p, NULL);
	return rc;
}

/* ---- writes ----------------------------------------------------------------------------------- */

static int write_region(tess_pyramid *p, const uint64_t *start, const uint64_t *count,
                        const void *buf, int from_append)
{
	int n = p->meta.ndim, need = 0;
	uint64_t end[PYR_MAXD];
	if (!start || !count || !buf)
		return tess_err(TESS_EINVAL, "pyramid '%s': write: start, count and buf are required",
		                p->path);
	const uint64_t *cur = tess_array_shape(p->levels[0]);
	for (int d = 0; d < n; d++) {
		if (count[d] > UINT64_MAX / 2 - start[d])
			return tess_err(TESS_EINVAL, "pyramid '%s': write: region too large", p->path);
		end[d] = start[d] + count[d];
		need |= end[d] > cur[d];
		if (end[d] < cur[d])
			end[d] = cur[d];
	}
	int rc = need ? grow(p, end, from_append) : 0;
	if (rc)
		return rc;
	p->busy = 1;
	rc = tess_array_write(p->levels[0], start, count, buf);
	p->busy = 0;
	if (!rc && p->meta.update_on_write)
		rc = tess_pyramid_update(p, NULL);
	return rc;
}

int tess_pyramid_write(tess_pyramid *p, const uint64_t *start, const uint64_t *count,
                       const void *buf)
{
	return write_region(p, start, count, buf, 0);
}

/* ---- non-equidistant dimensions ---------------------------------------------------------------- */

int tess_pyramid_append(tess_pyramid *p, int dim, const double *coords, size_t n,
                        const void *buf)
{
	if (dim < 0 || dim >= p->meta.ndim || p->meta.dims[dim].regular)
		return tess_err(TESS_EINVAL, "pyramid '%s': append: dimension %d is not "
		                "non-equidistant", p->path, dim);
	const char *name = p->meta.dims[dim].name;
	if (n == 0)
		return 0;
	if (!coords || !buf)
		return tess_err(TESS_EINVAL, "pyramid '%s': append: NULL coordinates or data", p->path);
	uint64_t old = tess_array_shape(p->levels[0])[dim];
	for (size_t i = 0; i < n; i++) {
		double prev = i ? coords[i - 1] : old ? p->coords[dim][old - 1] : -INFINITY;
		if (!isfinite(coords[i]) || !(coords[i] > prev))
			return tess_err(TESS_EINVAL, "pyramid '%s': append: coordinate %zu of '%s' (%.17g)"
			                " is not finite and greater than the one before (%.17g)", p->path,
			                i, name, coords[i], prev);
	}
	/* coordinates first: an append cut short leaves spare coordinates
	 * (ignored, and overwritten by the next append), never cells without */
	char cp[TESS_KEY_MAX + 1];
	tess_array *ca = NULL;
	int rc = sub_path(cp, p->path, p->meta.dims[dim].coords);
	if (!rc)
		rc = tess_array_open(&ca, p->st, cp);
	uint64_t len = old + n, at = old, cnt = n;
	if (!rc && tess_array_shape(ca)[0] < len)
		rc = tess_array_resize(ca, &len);
	if (!rc)
		rc = tess_array_write(ca, &at, &cnt, coords);
	tess_array_close(ca);
	if (rc)
		return tess_err_prefix(rc, "pyramid '%s': append to '%s': ", p->path, name);
	if (len > p->coords_cap[dim]) {
		size_t cap = (size_t)len * 2;
		double *c = realloc(p->coords[dim], cap * sizeof *c);
		if (!c)
			return tess_err(TESS_ENOMEM, "pyramid '%s': out of memory", p->path);
		p->coords[dim] = c;
		p->coords_cap[dim] = cap;
	}
	memcpy(p->coords[dim] + old, coords, n * sizeof *coords);
	uint64_t start[PYR_MAXD], count[PYR_MAXD];
	const uint64_t *shape = tess_array_shape(p->levels[0]);
	for (int d = 0; d < p->meta.ndim; d++) {
		start[d] = d == dim ? old : 0;
		count[d] = d == dim ? n : shape[d];
	}
	return write_region(p, start, count, buf, 1);
}

const double *tess_pyramid_coords(tess_pyramid *p, int dim)
{
	if (dim < 0 || dim >= p->meta.ndim || p->meta.dims[dim].regular)
		return NULL;
	return p->coords[dim];
}
