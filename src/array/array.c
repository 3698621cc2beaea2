/*
 * Arrays in a store: create, open, resize, delete, consolidate.
 *
 * Metadata changes of one array are serialized under the lease lock
 * "meta:<path>"; creation also relies on put-if-absent.  A consolidated
 * `.zmetadata` at the root, when present, is used by open (so opening
 * never lists) and kept up to date by create, resize and delete of v2
 * arrays (zarr-python leaves it stale; then it must be consolidated again).
 *
 * Semantics worth knowing (zarr-python 2.13 is the peer):
 *  - resize rewrites the shape and deletes the chunks wholly outside it;
 *    edge chunks keep what lies beyond the new edge, so shrinking and
 *    growing back shows the old values there again, as in zarr-python.
 *  - the caller's buffer is in C order and the dtype's byte order; v3
 *    dtypes have none, so for v3 arrays it is little endian whatever the
 *    bytes codec stores.
 *  - concurrent writers of different chunks never interfere; writers of
 *    the same chunk (or, sharded, the same shard) race: each put replaces
 *    the chunk whole, the last one wins, and a partial write may undo
 *    another writer's elements in that chunk.
 *  - the chunk cache of a handle sees its own writes, not other handles'
 *    or processes': readers that need those set the cache to 0 bytes.
 *  - one handle may be used by several threads for reads and writes;
 *    resize, set_threads and set_cache_bytes need it to themselves.
 */
#include "array/core.h"
#include "util/error.h"
#include "util/json.h"

#include "tessera/blob.h"
#include "store/node.h"
#include "pyramid/hook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* room for a node path and a metadata name */
#define KEYBUF TESS_NODE_KEYBUF
#define ZMETADATA ".zmetadata"
/* most memory a handle keeps in spare chunk buffers */
#define BUFPOOL_BYTES ((size_t)64 << 20)
#define ZMETADATA_LOCK "meta:.zmetadata"

/* ---- paths and keys ----------------------------------------------------------------- */

static const char *meta_name(int zarr_format)
{
	return zarr_format == 3 ? "zarr.json" : ".zarray";
}

/* ---- the handle ----------------------------------------------------------------------- */

static void kind_init(chunk_kind *k, const tess_array *a, const tess_pipeline *p,
                      const uint64_t *shape)
{
	k->pipe = p;
	k->ndim = a->meta.ndim;
	k->itemsize = a->itemsize;
	k->nelem = 1;
	for (int d = 0; d < k->ndim; d++) {
		k->shape[d] = shape[d];
		k->nelem *= shape[d];
	}
	k->nbytes = (size_t)(k->nelem * a->itemsize);
	const tess_dtype *dt = &a->meta.dtype;
	char caller = dt->endian, stored = p->endian;
	k->swap = a->itemsize > 1 && dt->kind != TESS_DT_BYTES && dt->kind != TESS_DT_BOOL &&
	          (caller == '<' || caller == '>') && (stored == '<' || stored == '>') &&
	          caller != stored;
	k->swap_unit = dt->kind == TESS_DT_COMPLEX ? a->itemsize / 2
	             : dt->kind == TESS_DT_UNICODE ? 4 : a->itemsize;
}

/* Elements of a chunk shape, refusing what cannot be held in memory. */
static int chunk_size_ok(const tess_array *a, const uint64_t *shape, const char *what)
{
	uint64_t bytes = a->itemsize;
	for (int d = 0; d < a->meta.ndim; d++) {
		if (shape[d] == 0 || bytes > (SIZE_MAX / 4) / shape[d])
			return tess_err(TESS_EINVAL, "array '%s': %s of %d axes is too large to hold "
			                "in memory", a->path, what, a->meta.ndim);
		bytes *= shape[d];
	}
	return 0;
}

int array_derive(tess_array *a)
{
	tess_meta *m = &a->meta;
	a->itemsize = m->dtype.itemsize;
	if (a->itemsize == 0)
		return tess_err(TESS_EINVAL, "array '%s': dtype of itemsize 0", a->path);
	int rc = chunk_size_ok(a, m->chunks, m->pipeline.shard ? "shard" : "chunk");
	if (rc)
		return rc;
	kind_init(&a->chunk, a, &m->pipeline, m->chunks);
	if (m->pipeline.shard) {
		if ((rc = array_shard_setup(a)))
			return rc;
		kind_init(&a->inner, a, &m->pipeline.shard->inner_pipeline, m->pipeline.shard->inner);
	}
	/* the fill element in the caller's byte order */
	free(a->fill);
	if (!(a->fill = calloc(1, a->itemsize)))
		return tess_err(TESS_ENOMEM, "array '%s': out of memory", a->path);
	a->keep_fill_chunks = m->fill_null;
	if (m->fill && !m->fill_null) {
		memcpy(a->fill, m->fill, a->itemsize);
		const chunk_kind *k = m->pipeline.shard ? &a->inner : &a->chunk;
		if (k->swap)
			for (size_t i = 0; i < a->itemsize; i += k->swap_unit)
				for (size_t x = i, y = i + k->swap_unit - 1; x < y; x++, y--) {
					uint8_t t = a->fill[x];
					a->fill[x] = a->fill[y];
					a->fill[y] = t;
				}
	}
	a->fill_zero = 1;
	for (size_t i = 0; i < a->itemsize; i++)
		a->fill_zero &= a->fill[i] == 0;
	return 0;
}

/* A handle over parsed metadata; takes *m whatever happens. */
static int handle_make(tess_array **out, tess_store *st, const char *path, tess_meta *m)
{
	tess_array *a = calloc(1, sizeof *a);
	if (!a || !(a->path = strdup(path))) {
		free(a);
		tess_meta_clear(m);
		return tess_err(TESS_ENOMEM, "array '%s': out of memory", path);
	}
	a->st = st;
	a->meta = *m;
	memset(m, 0, sizeof *m);
	a->pool = tess_pool_default();
	a->pyr_level = -1; /* tess_array_open sets it for pyramid levels */
	a->pyr_uow = -1;
	int rc = array_derive(a);
	if (!rc)
		rc = array_cache_create(&a->cache, TESS_ARRAY_CACHE_DEFAULT);
	if (!rc)
		rc = array_bufs_create(&a->bufs, BUFPOOL_BYTES);
	if (rc) {
		tess_array_close(a);
		return rc;
	}
	*out = a;
	return 0;
}

void tess_array_close(tess_array *arr)
{
	if (!arr)
		return;
	array_cache_destroy(arr->cache);
	array_bufs_destroy(arr->bufs);
	tess_pool_destroy(arr->own_pool);
	tess_meta_clear(&arr->meta);
	free(arr->fill);
	free(arr->path);
	free(arr);
}

int tess_array_ndim(const tess_array *arr) { return arr->meta.ndim; }
const uint64_t *tess_array_shape(const tess_array *arr) { return arr->meta.shape; }
const uint64_t *tess_array_chunks(const tess_array *arr) { return arr->meta.chunks; }
const tess_dtype *tess_array_dtype(const tess_array *arr) { return &arr->meta.dtype; }
int tess_array_zarr_format(const tess_array *arr) { return arr->meta.zarr_format; }
const char *tess_array_path(const tess_array *arr) { return arr->path; }

int tess_array_set_threads(tess_array *arr, unsigned threads)
{
	tess_pool *own = NULL;
	if (threads > 1) {
		int rc = tess_pool_create(&own, threads);
		if (rc)
			return tess_err_prefix(rc, "array '%s': ", arr->path);
	}
	tess_pool_destroy(arr->own_pool);
	arr->own_pool = own;
	arr->pool = threads == 0 ? tess_pool_default() : own;
	return 0;
}

void tess_array_set_cache_bytes(tess_array *arr, size_t bytes)
{
	array_cache_set_capacity(arr->cache, bytes);
}

/* ---- consolidated metadata -------------------------------------------------------------- */

/* The array's metadata text from the root's `.zmetadata`: 0, or
 * TESS_ENOTFOUND when there is none or it does not list the array.
 * *attrs gets its `.zattrs` when `.zmetadata` lists them (else NULL). */
static int consolidated_text(char **text, json_t **attrs, tess_store *st, const char *path)
{
	*attrs = NULL;
	json_t *doc;
	int rc = tess_obj_get_json(&doc, st, ZMETADATA);
	if (rc == TESS_ENOTFOUND || rc == TESS_ECORRUPT)
		return TESS_ENOTFOUND; /* a broken .zmetadata: read the array's own */
	if (rc)
		return rc;
	char key[KEYBUF];
	tess_node_key(key, path, ".zarray");
	json_t *m = json_object_get(json_object_get(doc, "metadata"), key);
	rc = json_is_object(m) ? tess_json_dumps(text, m) : TESS_ENOTFOUND;
	tess_node_key(key, path, ".zattrs");
	json_t *za = json_object_get(json_object_get(doc, "metadata"), key);
	if (!rc && za)
		*attrs = json_incref(za);
	json_decref(doc);
	return rc;
}

typedef int (*zmeta_edit_fn)(json_t *metadata, const char *path, const json_t *value);

/* Read-modify-write of `.zmetadata` under its lock, when the store has one. */
static int zmeta_update(tess_store *st, const char *path, const json_t *value, zmeta_edit_fn edit)
{
	if (!tess_key_exists(st, ZMETADATA))
		return 0;
	tess_lock *lk;
	int rc = tess_lock_acquire(&lk, st, ZMETADATA_LOCK);
	if (rc)
		return rc;
	json_t *doc = NULL;
	rc = tess_obj_get_json(&doc, st, ZMETADATA);
	json_t *md = json_object_get(doc, "metadata");
	if (rc == 0 && json_is_object(md)) {
		rc = edit(md, path, value);
		if (!rc)
			rc = tess_obj_put_json(st, ZMETADATA, doc, 0);
	} else if (rc == TESS_ENOTFOUND || rc == TESS_ECORRUPT || rc == 0) {
		rc = 0; /* gone, or not ours to repair: consolidate rewrites it */
	}
	json_decref(doc);
	tess_lock_release(lk);
	return rc ? tess_err_prefix(rc, "updating %s: ", ZMETADATA) : 0;
}

static int zmeta_set_array(json_t *md, const char *path, const json_t *zarray)
{
	char key[KEYBUF];
	size_t len = strlen(path);
	/* parents as groups, like the store has them */
	for (size_t i = 0; i < len; i++) {
		if (path[i] != '/' && i != 0)
			continue;
		snprintf(key, sizeof key, "%.*s%s.zgroup", (int)i, path, i ? "/" : "");
		if (!json_object_get(md, key) &&
		    json_object_set_new(md, key, json_pack("{s:i}", "zarr_format", 2)))
			return tess_err(TESS_ENOMEM, "out of memory");
	}
	tess_node_key(key, path, ".zarray");
	if (json_object_set(md, key, (json_t *)zarray))
		return tess_err(TESS_ENOMEM, "out of memory");
	return 0;
}

static int zmeta_remove_array(json_t *md, const char *path, const json_t *unused)
{
	char key[KEYBUF];
	tess_node_key(key, path, ".zarray");
	json_object_del(md, key);
	tess_node_key(key, path, ".zattrs");
	json_object_del(md, key);
	return 0;
}

/* Keep `.zmetadata` in step with new metadata text of a v2 array. */
static int zmeta_note_array(tess_store *st, const char *path, const tess_buf *text)
{
	json_t *zarray;
	int rc = tess_json_parse(&zarray, (const char *)text->data, text->len, ".zarray");
	if (rc)
		return rc;
	rc = zmeta_update(st, path, zarray, zmeta_set_array);
	json_decref(zarray);
	return rc;
}

static int is_zarr_key(const char *key)
{
	size_t len = strlen(key);
	static const char *const ends[] = { ".zarray", ".zgroup", ".zattrs" };
	for (size_t i = 0; i < 3; i++)
		if (len >= 7 && strcmp(key + len - 7, ends[i]) == 0)
			return 1;
	return 0;
}

int tess_array_consolidate(tess_store *st)
{
	json_t *md = json_object();
	json_t *doc = json_pack("{s:o,s:i}", "metadata", md, "zarr_consolidated_format", 1);
	if (!md || !doc) {
		json_decref(doc);
		return tess_err(TESS_ENOMEM, "consolidate: out of memory");
	}
	tess_lock *lk = NULL;
	tess_list *it = NULL;
	int rc = tess_lock_acquire(&lk, st, ZMETADATA_LOCK);
	if (!rc)
		rc = tess_list_open(&it, st, "", TESS_RECURSIVE);
	const tess_list_entry *e;
	while (!rc && (rc = tess_list_next(&e, it)) == 0) {
		if (e->is_prefix || !is_zarr_key(e->key))
			continue;
		json_t *v;
		if ((rc = tess_obj_get_json(&v, st, e->key)))
			break;
		if (json_object_set_new(md, e->key, v))
			rc = tess_err(TESS_ENOMEM, "consolidate: out of memory");
	}
	tess_list_close(it);
	if (rc == TESS_ITEROVER)
		rc = tess_obj_put_json(st, ZMETADATA, doc, 0);
	tess_lock_release(lk);
	json_decref(doc);
	return rc ? tess_err_prefix(rc, "consolidate: ") : 0;
}

/* ---- create -------------------------------------------------------------------------------- */

static int node_absent(tess_store *st, const char *path)
{
	static const char *const names[] = { ".zarray", ".zgroup", "zarr.json" };
	char key[KEYBUF];
	for (size_t i = 0; i < 3; i++) {
		tess_node_key(key, path, names[i]);
		if (tess_key_exists(st, key))
			return tess_err(TESS_EEXISTS, "a node exists there (%s)", names[i]);
	}
	if (path[0] && tess_key_exists(st, path))
		return tess_err(TESS_ECONFLICT, "a blob exists there");
	return 0;
}

static int create_locked(tess_store *st, const char *path, const tess_meta *m, tess_buf *text)
{
	char key[KEYBUF];
	int rc = node_absent(st, path);
	if (!rc)
		rc = tess_node_ensure_groups(st, path, m->zarr_format, 0);
	if (!rc)
		rc = tess_meta_write(text, m);
	tess_node_key(key, path, meta_name(m->zarr_format));
	if (!rc)
		rc = tess_obj_put(st, key, text->data, text->len, TESS_PUT_IF_ABSENT);
	return rc;
}

int tess_array_create(tess_array **out, tess_store *st, const char *path_in,
                      const tess_array_opts *opts)
{
	*out = NULL;
	char path[TESS_KEY_MAX + 1];
	int rc = tess_node_path(path, path_in, "array");
	if (rc)
		return rc;
	if (!opts || opts->version != TESS_ARRAY_OPTS_VERSION)
		return tess_err(TESS_EINVAL, "array '%s': options missing or of another version "
		                "(initialize them with TESS_ARRAY_OPTS_INIT)", path);
	tess_meta m;
	memset(&m, 0, sizeof m);
	if ((rc = tess_meta_from_opts(&m, opts)))
		return tess_err_prefix(rc, "array '%s': ", path);
	char lock_name[KEYBUF];
	snprintf(lock_name, sizeof lock_name, "meta:%s", path);
	tess_lock *lk;
	tess_buf text = {0};
	if (!(rc = tess_lock_acquire(&lk, st, lock_name))) {
		rc = create_locked(st, path, &m, &text);
		tess_lock_release(lk);
	}
	if (!rc && m.zarr_format == 2)
		rc = zmeta_note_array(st, path, &text);
	tess_buf_free(&text);
	if (rc) {
		tess_meta_clear(&m);
		return tess_err_prefix(rc, "array '%s': create: ", path);
	}
	return handle_make(out, st, path, &m);
}

/* ---- open --------------------------------------------------------------------------------- */

/* Pyramid levels: the v2 `.zattrs` of an array, parsed; NULL when there is
 * none.  TESS_ECORRUPT when it is not JSON. */
static int attrs_parse(json_t **attrs, const tess_buf *b, const char *key)
{
	int rc = tess_json_parse(attrs, b->data ? (const char *)b->data : "", b->len, key);
	return rc == TESS_EINVAL ? TESS_ECORRUPT : rc;
}

static int fetch_attrs(json_t **attrs, tess_store *st, const char *path)
{
	char key[KEYBUF];
	tess_node_key(key, path, ".zattrs");
	*attrs = NULL;
	int rc = tess_obj_get_json(attrs, st, key);
	return rc == TESS_ENOTFOUND ? 0 : rc;
}

/*
 * The array's own metadata text and format, fetched.  Pyramid levels carry
 * an attribute the array must know about (pyramid/hook.h); only arrays
 * named like a level (a number) can be one, and for those the v2 `.zattrs`
 * comes in the same batched get as `.zarray` (*attrs; NULL when missing),
 * so no other array's open costs a round trip more.
 */
static int fetch_meta(tess_store *st, const char *path, tess_buf *text, int *zarr_format,
                      json_t **attrs)
{
	char key[KEYBUF], akey[KEYBUF];
	tess_node_key(key, path, ".zarray");
	*zarr_format = 2;
	*attrs = NULL;
	int rc;
	if (tess_pyramid_hook_name_may_be_level(path)) {
		tess_buf ab = {0};
		tess_node_key(akey, path, ".zattrs");
		tess_get_req reqs[2] = { { key, 0, UINT64_MAX, text, 0 },
		                         { akey, 0, UINT64_MAX, &ab, 0 } };
		rc = tess_obj_get_many(st, reqs, 2);
		if (!rc)
			rc = reqs[0].status;
		if (!rc && reqs[1].status != TESS_ENOTFOUND)
			rc = reqs[1].status ? reqs[1].status : attrs_parse(attrs, &ab, akey);
		tess_buf_free(&ab);
		if (rc == TESS_ENOTFOUND)
			tess_buf_free(text);
	} else {
		rc = tess_obj_get(st, key, 0, UINT64_MAX, text);
	}
	if (rc != TESS_ENOTFOUND)
		return rc;
	tess_node_key(key, path, "zarr.json");
	*zarr_format = 3;
	rc = tess_obj_get(st, key, 0, UINT64_MAX, text);
	if (rc != TESS_ENOTFOUND)
		return rc;
	tess_node_key(key, path, ".zgroup");
	if (tess_key_exists(st, key))
		return tess_err(TESS_ENOTFOUND, "it is a group, not an array");
	return tess_err(TESS_ENOTFOUND, "no .zarray or zarr.json there");
}

/* Parse metadata text; a v3 group is "not an array". */
static int parse_meta(tess_meta *m, const char *path, const char *text, size_t len, int fmt)
{
	if (fmt == 3) {
		json_t *doc = json_loadb(text, len, 0, NULL);
		json_t *nt = json_object_get(doc, "node_type");
		int group = json_is_string(nt) && strcmp(json_string_value(nt), "group") == 0;
		json_decref(doc);
		if (group)
			return tess_err(TESS_ENOTFOUND, "it is a group, not an array");
	}
	char what[TESS_KEY_MAX + 32];
	snprintf(what, sizeof what, "array '%s': %s", path, meta_name(fmt));
	memset(m, 0, sizeof *m);
	return tess_meta_parse(m, text, len, fmt, what);
}

int tess_array_open(tess_array **out, tess_store *st, const char *path_in)
{
	*out = NULL;
	char path[TESS_KEY_MAX + 1];
	int rc = tess_node_path(path, path_in, "array");
	if (rc)
		return rc;
	tess_meta m;
	char *ctext = NULL;
	json_t *attrs = NULL; /* v2 .zattrs, for pyramid levels (see fetch_meta) */
	rc = consolidated_text(&ctext, &attrs, st, path);
	if (!rc) {
		rc = parse_meta(&m, path, ctext, strlen(ctext), 2);
		free(ctext);
		/* a consolidation that did not list the attributes */
		if (!rc && !attrs && tess_pyramid_hook_name_may_be_level(path) &&
		    (rc = fetch_attrs(&attrs, st, path))) {
			tess_meta_clear(&m);
			rc = tess_err_prefix(rc, "array '%s': ", path);
		}
	} else if (rc == TESS_ENOTFOUND) {
		tess_buf text = {0};
		int fmt;
		rc = fetch_meta(st, path, &text, &fmt, &attrs);
		if (!rc)
			rc = parse_meta(&m, path, text.data ? (const char *)text.data : "", text.len, fmt);
		else
			rc = tess_err_prefix(rc, "array '%s': ", path);
		tess_buf_free(&text);
	}
	if (!rc)
		rc = handle_make(out, st, path, &m);
	/* pyramid levels: v3 keeps the attributes in zarr.json */
	if (!rc && (rc = tess_pyramid_hook_open(*out, attrs ? attrs : (*out)->meta.attributes))) {
		tess_array_close(*out);
		*out = NULL;
	}
	json_decref(attrs);
	return rc;
}

/* ---- resize ---------------------------------------------------------------------------------- */

/* The chunk coordinates of a chunk key relative to the array, or 0 when
 * the key is not a chunk key (metadata, attributes, strays). */
static int parse_chunk_key(const tess_meta *m, const char *rel, uint64_t *idx)
{
	size_t plen = strlen(m->key_prefix);
	if (strncmp(rel, m->key_prefix, plen) != 0 || m->ndim == 0)
		return 0;
	const char *p = rel + plen;
	for (int d = 0; d < m->ndim; d++) {
		if (*p < '0' || *p > '9')
			return 0;
		uint64_t v = 0;
		while (*p >= '0' && *p <= '9') {
			if (v > (UINT64_MAX - 9) / 10)
				return 0;
			v = v * 10 + (uint64_t)(*p++ - '0');
		}
		idx[d] = v;
		if (d + 1 < m->ndim && *p++ != m->key_sep)
			return 0;
	}
	return *p == '\0';
}

/* Delete the stored chunks that lie wholly outside `shape` (listing them). */
static int drop_outside(tess_store *st, const char *path, const tess_meta *m,
                        const uint64_t *shape)
{
	char prefix[KEYBUF];
	tess_node_key(prefix, path, "");
	size_t plen = strlen(prefix);
	tess_list *it;
	int rc = tess_list_open(&it, st, prefix, TESS_RECURSIVE);
	if (rc)
		return rc;
	const tess_list_entry *e;
	uint64_t idx[MAXD];
	tess_del_batch b = {0};
	while ((rc = tess_list_next(&e, it)) == 0) {
		if (e->is_prefix || !parse_chunk_key(m, e->key + plen, idx))
			continue;
		int outside = 0;
		for (int d = 0; d < m->ndim; d++)
			outside |= idx[d] >= (shape[d] + m->chunks[d] - 1) / m->chunks[d];
		if (!outside)
			continue;
		rc = tess_del_batch_add(&b, st, e->key);
		if (rc)
			break;
	}
	tess_list_close(it);
	if (rc == TESS_ITEROVER)
		rc = tess_del_batch_flush(&b, st);
	tess_del_batch_free(&b);
	return rc;
}

static int resize_locked(tess_array *a, const uint64_t *shape, tess_meta *cur, tess_buf *text,
                         pyr_write_mark *mk)
{
	tess_buf old = {0};
	char key[KEYBUF];
	int fmt = a->meta.zarr_format;
	tess_node_key(key, a->path, meta_name(fmt));
	int rc = tess_obj_get(a->st, key, 0, UINT64_MAX, &old);
	if (!rc)
		rc = parse_meta(cur, a->path, old.data ? (const char *)old.data : "", old.len, fmt);
	tess_buf_free(&old);
	if (rc)
		return rc;
	if (cur->ndim != a->meta.ndim)
		return tess_err(TESS_ECONFLICT, "the stored array now has %d axes", cur->ndim);
	/* pyramid level 0: the cells that appear or vanish are dirty, recorded
	 * before the new shape is (a no-op for other arrays) */
	if (a->pyr_level >= 0 && (rc = tess_pyramid_hook_resize(a, cur->shape, shape, mk)))
		return rc;
	int shrinks = 0;
	for (int d = 0; d < cur->ndim; d++) {
		shrinks |= shape[d] < cur->shape[d];
		cur->shape[d] = shape[d];
	}
	if ((rc = tess_meta_write(text, cur)))
		return rc;
	if ((rc = tess_obj_put(a->st, key, text->data, text->len, 0)))
		return rc;
	/* as zarr-python: chunks wholly outside go, edge chunks keep their data */
	return shrinks ? drop_outside(a->st, a->path, cur, shape) : 0;
}

int tess_array_resize(tess_array *arr, const uint64_t *shape)
{
	int n = arr->meta.ndim;
	if (n > 0 && !shape)
		return tess_err(TESS_EINVAL, "array '%s': resize: NULL shape", arr->path);
	uint64_t elems = arr->itemsize;
	for (int d = 0; d < n; d++) {
		if (shape[d] && elems > UINT64_MAX / shape[d])
			return tess_err(TESS_EINVAL, "array '%s': resize: the shape times the itemsize "
			                "overflows 64 bits", arr->path);
		elems *= shape[d] ? shape[d] : 1;
	}
	/* derived pyramid levels are refused (pyramid/hook.h) */
	pyr_write_mark mk;
	mk.marked = 0;
	int rc = arr->pyr_level > 0 ? tess_pyramid_hook_refuse(arr, "resize") : 0;
	if (rc)
		return rc;
	char lock_name[KEYBUF];
	snprintf(lock_name, sizeof lock_name, "meta:%s", arr->path);
	tess_lock *lk;
	tess_meta cur;
	memset(&cur, 0, sizeof cur);
	tess_buf text = {0};
	rc = tess_lock_acquire(&lk, arr->st, lock_name);
	if (!rc) {
		rc = resize_locked(arr, shape, &cur, &text, &mk);
		tess_lock_release(lk);
	}
	if (!rc && arr->meta.zarr_format == 2)
		rc = zmeta_note_array(arr->st, arr->path, &text);
	tess_buf_free(&text);
	tess_meta_clear(&cur);
	array_cache_clear(arr->cache);
	if (rc)
		rc = tess_err_prefix(rc, "array '%s': resize: ", arr->path);
	else
		for (int d = 0; d < n; d++)
			arr->meta.shape[d] = shape[d];
	/* pyramid level 0: a racing update, update_on_write */
	return arr->pyr_level == 0 ? tess_pyramid_hook_after_write(arr, &mk, rc) : rc;
}

/* ---- delete ------------------------------------------------------------------------------------ */

/* Chunks and strays first, then attributes, then the metadata: a delete cut
 * short leaves an array that reads as partly fill, never chunks without an
 * array that a later create would inherit. */
static int delete_locked(tess_store *st, const char *path)
{
	char prefix[KEYBUF], key[KEYBUF];
	tess_node_key(prefix, path, "");
	size_t plen = strlen(prefix);
	tess_list *it;
	int rc = tess_list_open(&it, st, prefix, TESS_RECURSIVE);
	if (rc)
		return rc;
	const tess_list_entry *e;
	tess_del_batch b = {0};
	while ((rc = tess_list_next(&e, it)) == 0) {
		const char *rel = e->key + plen;
		if (e->is_prefix || !strcmp(rel, ".zarray") || !strcmp(rel, "zarr.json") ||
		    !strcmp(rel, ".zattrs"))
			continue;
		rc = tess_del_batch_add(&b, st, e->key);
		if (rc)
			break;
	}
	tess_list_close(it);
	if (rc == TESS_ITEROVER)
		rc = tess_del_batch_flush(&b, st);
	tess_del_batch_free(&b);
	if (rc)
		return rc;
	static const char *const names[] = { ".zattrs", ".zarray", "zarr.json" };
	for (size_t i = 0; i < 3; i++) {
		tess_node_key(key, path, names[i]);
		rc = st->ops->del(st->be, key);
		if (rc && rc != TESS_ENOTFOUND)
			return rc;
	}
	return 0;
}

int tess_array_delete(tess_store *st, const char *path_in)
{
	char path[TESS_KEY_MAX + 1];
	int rc = tess_node_path(path, path_in, "array");
	if (rc)
		return rc;
	char lock_name[KEYBUF];
	snprintf(lock_name, sizeof lock_name, "meta:%s", path);
	tess_lock *lk;
	if ((rc = tess_lock_acquire(&lk, st, lock_name)))
		return tess_err_prefix(rc, "array '%s': delete: ", path);
	if (!tess_node_array_format(st, path))
		rc = tess_err(TESS_ENOTFOUND, "no array there");
	else
		rc = delete_locked(st, path);
	tess_lock_release(lk);
	if (!rc)
		rc = zmeta_update(st, path, NULL, zmeta_remove_array);
	return rc ? tess_err_prefix(rc, "array '%s': delete: ", path) : 0;
}
