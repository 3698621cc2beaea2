/*
 * The mem backend: objects in this process's memory.
 *
 * A store is named by the location ("mem://scratch" -> "scratch"; "" is a
 * name too).  Stores live in a process-wide registry: opening a name that is
 * open gives the same data, and the data is freed when the last handle
 * closes.  Each store is a skip list ordered by key bytes (O(log n) insert,
 * find and seek) under a read-write lock.  Values are immutable once stored:
 * a put builds the new value outside the lock and swaps a pointer, and a get
 * copies under the read lock.
 */
#include "backend/builtin.h"
#include "util/error.h"
#include "util/fs.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_HEIGHT 24 /* 4^24 keys before the skip list degrades */
#define LIST_STOP 1   /* internal: the listing page is full */

struct mem_value {
	uint8_t *data;
	size_t len;
	int64_t mtime_ns;
	uint64_t version; /* the store's put counter at this put */
};

struct mem_node {
	struct mem_value *value;
	char *key; /* NUL-terminated, stored after next[] */
	size_t key_len;
	int height;
	struct mem_node *next[]; /* next[level], 0 is the full list */
};

struct mem_store {
	char *name;
	size_t refs;          /* handles open; guarded by the registry lock */
	uint64_t generation;  /* tells stores of the same name apart in etags */
	pthread_rwlock_t lock;
	struct mem_node *head; /* sentinel of height MAX_HEIGHT */
	int height;
	uint64_t rng;  /* for node heights; guarded by the write lock */
	uint64_t puts; /* guarded by the write lock */
	struct mem_store *next_store;
};

struct mem_backend {
	tess_backend base;
	struct mem_store *store;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mem_store *registry;
static uint64_t next_generation = 1;

/* ---- helpers --------------------------------------------------------------- */

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void value_free(struct mem_value *v)
{
	if (v) {
		free(v->data);
		free(v);
	}
}

/* A value that owns `data` (taken, not copied). */
static struct mem_value *value_wrap(uint8_t *data, size_t len)
{
	struct mem_value *v = malloc(sizeof *v);
	if (v)
		*v = (struct mem_value){data, len, 0, 0};
	return v;
}

static struct mem_value *value_copy(const void *data, size_t len)
{
	uint8_t *copy = NULL;
	if (len) {
		copy = malloc(len);
		if (!copy)
			return NULL;
		memcpy(copy, data, len);
	}
	struct mem_value *v = value_wrap(copy, len);
	if (!v)
		free(copy);
	return v;
}

/* ---- the skip list ---------------------------------------------------------- */

static struct mem_node *node_new(const char *key, size_t key_len, int height)
{
	struct mem_node *n = malloc(sizeof *n + (size_t)height * sizeof n->next[0] + key_len + 1);
	if (!n)
		return NULL;
	n->value = NULL;
	n->key = (char *)&n->next[height];
	memcpy(n->key, key, key_len);
	n->key[key_len] = '\0';
	n->key_len = key_len;
	n->height = height;
	for (int i = 0; i < height; i++)
		n->next[i] = NULL;
	return n;
}

/* Height with P(h > k) = 4^-k, from a xorshift generator. */
static int random_height(struct mem_store *s)
{
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	uint64_t r = s->rng;
	int h = 1;
	while (h < MAX_HEIGHT && (r & 3) == 0) {
		h++;
		r >>= 2;
	}
	return h;
}

/* First node with key >= `key`; fills update[] (may be NULL) with the last
 * node before it on every level. */
static struct mem_node *seek_ge(const struct mem_store *s, const char *key, size_t key_len,
                                struct mem_node **update)
{
	struct mem_node *x = s->head;
	for (int lvl = s->height - 1; lvl >= 0; lvl--) {
		while (x->next[lvl] &&
		       tess_cmp_bytes(x->next[lvl]->key, x->next[lvl]->key_len, key, key_len) < 0)
			x = x->next[lvl];
		if (update)
			update[lvl] = x;
	}
	return x->next[0];
}

static struct mem_node *find(const struct mem_store *s, const char *key, size_t key_len)
{
	struct mem_node *n = seek_ge(s, key, key_len, NULL);
	return n && n->key_len == key_len && memcmp(n->key, key, key_len) == 0 ? n : NULL;
}

/* Store `v` at key under the write lock.  *old gets the replaced value (to
 * free after unlocking).  TESS_EEXISTS with if_absent when the key exists. */
static int store_set(struct mem_store *s, const char *key, struct mem_value *v,
                     int if_absent, struct mem_value **old)
{
	size_t key_len = strlen(key);
	struct mem_node *update[MAX_HEIGHT];
	struct mem_node *n = seek_ge(s, key, key_len, update);
	*old = NULL;
	if (n && n->key_len == key_len && memcmp(n->key, key, key_len) == 0) {
		if (if_absent)
			return tess_err(TESS_EEXISTS, "mem backend: put '%s': already exists "
			                "(put-if-absent)", key);
		*old = n->value;
	} else {
		int height = random_height(s);
		n = node_new(key, key_len, height);
		if (!n)
			return tess_err(TESS_ENOMEM, "mem backend: put '%s': out of memory", key);
		for (int lvl = s->height; lvl < height; lvl++)
			update[lvl] = s->head;
		if (height > s->height)
			s->height = height;
		for (int lvl = 0; lvl < height; lvl++) {
			n->next[lvl] = update[lvl]->next[lvl];
			update[lvl]->next[lvl] = n;
		}
	}
	v->mtime_ns = now_ns();
	v->version = ++s->puts;
	n->value = v;
	return 0;
}

/* Unlink key under the write lock; the node is returned to free later. */
static struct mem_node *store_remove(struct mem_store *s, const char *key)
{
	size_t key_len = strlen(key);
	struct mem_node *update[MAX_HEIGHT];
	struct mem_node *n = seek_ge(s, key, key_len, update);
	if (!n || n->key_len != key_len || memcmp(n->key, key, key_len) != 0)
		return NULL;
	for (int lvl = 0; lvl < n->height; lvl++)
		update[lvl]->next[lvl] = n->next[lvl];
	while (s->height > 1 && !s->head->next[s->height - 1])
		s->height--;
	return n;
}

/* ---- the registry ---------------------------------------------------------- */

static void store_free(struct mem_store *s)
{
	struct mem_node *n = s->head->next[0];
	while (n) {
		struct mem_node *next = n->next[0];
		value_free(n->value);
		free(n);
		n = next;
	}
	free(s->head);
	pthread_rwlock_destroy(&s->lock);
	free(s->name);
	free(s);
}

static struct mem_store *store_new(const char *name)
{
	struct mem_store *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->name = strdup(name);
	s->head = node_new("", 0, MAX_HEIGHT);
	if (!s->name || !s->head || pthread_rwlock_init(&s->lock, NULL) != 0) {
		free(s->name);
		free(s->head);
		free(s);
		return NULL;
	}
	s->height = 1;
	s->rng = 0x9E3779B97F4A7C15ull ^ (uint64_t)now_ns();
	if (!s->rng)
		s->rng = 1;
	return s;
}

static int mem_open(tess_backend **out, const char *location, const char *query,
                    unsigned flags)
{
	(void)query; /* no options; the store owns the query */
	*out = NULL;
	const char *name = location ? location : "";
	struct mem_backend *mb = malloc(sizeof *mb);
	if (!mb)
		return tess_err(TESS_ENOMEM, "mem backend: out of memory opening '%s'", name);
	pthread_mutex_lock(&registry_lock);
	struct mem_store *s = registry;
	while (s && strcmp(s->name, name) != 0)
		s = s->next_store;
	int rc = 0;
	if (!s && !(flags & TESS_BACKEND_CREATE)) {
		rc = tess_err(TESS_ENOTFOUND, "mem backend: no store named '%s' is open", name);
	} else if (!s) {
		s = store_new(name);
		if (!s) {
			rc = tess_err(TESS_ENOMEM, "mem backend: out of memory creating '%s'", name);
		} else {
			s->generation = next_generation++;
			s->next_store = registry;
			registry = s;
		}
	}
	if (!rc)
		s->refs++;
	pthread_mutex_unlock(&registry_lock);
	if (rc) {
		free(mb);
		return rc;
	}
	mb->base.ops = &tess_backend_mem_ops;
	mb->store = s;
	*out = &mb->base;
	return 0;
}

static void mem_close(tess_backend *be)
{
	if (!be)
		return;
	struct mem_store *s = ((struct mem_backend *)be)->store;
	free(be);
	pthread_mutex_lock(&registry_lock);
	int last = --s->refs == 0;
	if (last) {
		struct mem_store **p = &registry;
		while (*p != s)
			p = &(*p)->next_store;
		*p = s->next_store;
	}
	pthread_mutex_unlock(&registry_lock);
	if (last)
		store_free(s);
}

static struct mem_store *store_of(tess_backend *be)
{
	return ((struct mem_backend *)be)->store;
}

/* ---- get / stat / put / delete ----------------------------------------------- */

static int mem_get(tess_backend *be, const char *key, uint64_t offset, uint64_t length,
                   tess_buf *out)
{
	struct mem_store *s = store_of(be);
	int rc = tess_key_check(key);
	if (rc)
		return tess_err_prefix(rc, "mem backend: get: ");
	pthread_rwlock_rdlock(&s->lock);
	struct mem_node *n = find(s, key, strlen(key));
	if (!n) {
		rc = tess_err(TESS_ENOTFOUND, "mem backend: get '%s': no such object", key);
	} else if (offset > n->value->len) {
		rc = tess_err(TESS_ERANGE, "mem backend: get '%s': offset %llu is past the end "
		              "(%zu bytes)", key, (unsigned long long)offset, n->value->len);
	} else {
		size_t avail = n->value->len - (size_t)offset;
		size_t want = length < avail ? (size_t)length : avail;
		rc = tess_buf_append(out, want ? n->value->data + offset : NULL, want);
		if (rc)
			tess_err_prefix(rc, "mem backend: get '%s': ", key);
	}
	pthread_rwlock_unlock(&s->lock);
	return rc;
}

static int mem_stat(tess_backend *be, const char *key, tess_stat *out)
{
	struct mem_store *s = store_of(be);
	int rc = tess_key_check(key);
	if (rc)
		return tess_err_prefix(rc, "mem backend: stat: ");
	pthread_rwlock_rdlock(&s->lock);
	struct mem_node *n = find(s, key, strlen(key));
	if (n) {
		out->size = n->value->len;
		out->mtime_ns = n->value->mtime_ns;
		snprintf(out->etag, sizeof out->etag, "%llx-%llx",
		         (unsigned long long)s->generation, (unsigned long long)n->value->version);
	} else {
		rc = tess_err(TESS_ENOTFOUND, "mem backend: stat '%s': no such object", key);
	}
	pthread_rwlock_unlock(&s->lock);
	return rc;
}

/* Store a value we own (freed on failure). */
static int put_value(struct mem_store *s, const char *key, struct mem_value *v, unsigned flags)
{
	struct mem_value *old;
	pthread_rwlock_wrlock(&s->lock);
	int rc = store_set(s, key, v, (flags & TESS_PUT_IF_ABSENT) != 0, &old);
	pthread_rwlock_unlock(&s->lock);
	value_free(rc ? v : old);
	return rc;
}

static int mem_put(tess_backend *be, const char *key, const void *data, size_t len,
                   unsigned flags)
{
	int rc = tess_key_check(key);
	if (rc)
		return tess_err_prefix(rc, "mem backend: put: ");
	struct mem_value *v = value_copy(data, len);
	if (!v)
		return tess_err(TESS_ENOMEM, "mem backend: put '%s': out of memory for %zu bytes",
		                key, len);
	return put_value(store_of(be), key, v, flags);
}

static int mem_put_many(tess_backend *be, tess_put_req *reqs, size_t n)
{
	struct mem_store *s = store_of(be);
	if (n == 0)
		return 0;
	if (!reqs)
		return tess_err(TESS_EINVAL, "mem backend: put_many: NULL requests");
	struct mem_value **values = calloc(n, sizeof *values);
	if (!values)
		return tess_err(TESS_ENOMEM, "mem backend: put_many: out of memory for %zu requests", n);
	/* Copy outside the lock, then store everything under one write lock. */
	for (size_t i = 0; i < n; i++) {
		reqs[i].status = tess_key_check(reqs[i].key);
		if (reqs[i].status) {
			tess_err_prefix(reqs[i].status, "mem backend: put: ");
			continue;
		}
		values[i] = value_copy(reqs[i].data, reqs[i].len);
		if (!values[i])
			reqs[i].status = tess_err(TESS_ENOMEM, "mem backend: put '%s': out of memory "
			                          "for %zu bytes", reqs[i].key, reqs[i].len);
	}
	pthread_rwlock_wrlock(&s->lock);
	for (size_t i = 0; i < n; i++) {
		if (!values[i])
			continue;
		struct mem_value *old;
		reqs[i].status = store_set(s, reqs[i].key, values[i],
		                           (reqs[i].flags & TESS_PUT_IF_ABSENT) != 0, &old);
		if (reqs[i].status)
			old = values[i];
		values[i] = old; /* what to free once unlocked */
	}
	pthread_rwlock_unlock(&s->lock);
	for (size_t i = 0; i < n; i++)
		value_free(values[i]);
	free(values);
	return 0;
}

static int mem_del(tess_backend *be, const char *key)
{
	struct mem_store *s = store_of(be);
	int rc = tess_key_check(key);
	if (rc)
		return tess_err_prefix(rc, "mem backend: delete: ");
	pthread_rwlock_wrlock(&s->lock);
	struct mem_node *n = store_remove(s, key);
	pthread_rwlock_unlock(&s->lock);
	if (!n)
		return tess_err(TESS_ENOTFOUND, "mem backend: delete '%s': no such object", key);
	value_free(n->value);
	free(n);
	return 0;
}

/* ---- streaming writer: the buffer is the object ------------------------------ */

struct mem_writer {
	tess_writer base;
	char *key;
	unsigned flags;
	tess_buf buf;
};

static int mem_writer_open(tess_backend *be, tess_writer **out, const char *key,
                           uint64_t size, unsigned flags)
{
	*out = NULL;
	int rc = tess_key_check(key);
	if (rc)
		return tess_err_prefix(rc, "mem backend: write: ");
	struct mem_writer *w = calloc(1, sizeof *w);
	if (!w || !(w->key = strdup(key))) {
		free(w);
		return tess_err(TESS_ENOMEM, "mem backend: write '%s': out of memory", key);
	}
	w->base.backend = be;
	w->flags = flags;
	*out = &w->base;
	return 0;
}

static int mem_writer_write(tess_writer *wr, const void *data, size_t len)
{
	struct mem_writer *w = (struct mem_writer *)wr;
	int rc = tess_buf_append(&w->buf, data, len);
	return rc ? tess_err_prefix(rc, "mem backend: write '%s': ", w->key) : 0;
}

static void mem_writer_abort(tess_writer *wr)
{
	if (!wr)
		return;
	struct mem_writer *w = (struct mem_writer *)wr;
	tess_buf_free(&w->buf);
	free(w->key);
	free(w);
}

static int mem_writer_commit(tess_writer *wr)
{
	struct mem_writer *w = (struct mem_writer *)wr;
	/* The buffer becomes the value: no copy, but give back the slack of
	 * its doubling growth. */
	if (w->buf.cap - w->buf.len > 4096) {
		uint8_t *fit = realloc(w->buf.data, w->buf.len ? w->buf.len : 1);
		if (fit) {
			w->buf.data = fit;
			w->buf.cap = w->buf.len;
		}
	}
	struct mem_value *v = value_wrap(w->buf.data, w->buf.len);
	int rc;
	if (!v) {
		rc = tess_err(TESS_ENOMEM, "mem backend: write '%s': out of memory", w->key);
	} else {
		w->buf = (tess_buf){0};
		rc = put_value(store_of(w->base.backend), w->key, v, w->flags);
	}
	mem_writer_abort(wr);
	return rc;
}

/* ---- list -------------------------------------------------------------------- */

struct mem_lister {
	const struct mem_store *store;
	const char *prefix;
	size_t prefix_len;
	int delim; /* -1: none */
	const char *after;
	size_t after_len;
	size_t max;
	tess_list_page *page;
	size_t first; /* entries the page held before this call */
};

static int list_emit(struct mem_lister *L, const char *name, size_t len, int is_prefix,
                     uint64_t size, int64_t mtime_ns)
{
	if (L->page->count - L->first >= L->max) {
		L->page->truncated = 1;
		return LIST_STOP;
	}
	return tess_list_page_add(L->page, name, len, is_prefix, size, mtime_ns);
}

/* The first node after every key that starts with `name` (whose last byte is
 * the delimiter): seek to name with that byte incremented. */
static struct mem_node *skip_rolled(const struct mem_lister *L, struct mem_node *n,
                                    const char *name, size_t len)
{
	unsigned char last = (unsigned char)name[len - 1];
	if (last == 0xFF) {
		while (n && tess_starts_with(n->key, n->key_len, name, len))
			n = n->next[0];
		return n;
	}
	char bound[TESS_KEY_MAX + 1];
	if (len > sizeof bound) {
		while (n && tess_starts_with(n->key, n->key_len, name, len))
			n = n->next[0];
		return n;
	}
	memcpy(bound, name, len);
	bound[len - 1] = (char)(last + 1);
	return seek_ge(L->store, bound, len, NULL);
}

static int list_locked(struct mem_lister *L)
{
	struct mem_node *n = seek_ge(L->store, L->prefix, L->prefix_len, NULL);
	if (L->after && tess_cmp_bytes(L->after, L->after_len, L->prefix, L->prefix_len) >= 0) {
		/* Jump straight past start_after. */
		n = seek_ge(L->store, L->after, L->after_len, NULL);
		if (n && n->key_len == L->after_len && memcmp(n->key, L->after, L->after_len) == 0)
			n = n->next[0];
	}
	while (n && tess_starts_with(n->key, n->key_len, L->prefix, L->prefix_len)) {
		const char *d = L->delim < 0 ? NULL :
		                memchr(n->key + L->prefix_len, L->delim, n->key_len - L->prefix_len);
		if (d) {
			/* Keys sharing a common prefix are adjacent: one entry, then jump. */
			size_t len = (size_t)(d - n->key) + 1;
			if (!L->after || tess_cmp_bytes(n->key, len, L->after, L->after_len) > 0) {
				int rc = list_emit(L, n->key, len, 1, 0, 0);
				if (rc)
					return rc;
			}
			n = skip_rolled(L, n, n->key, len);
			continue;
		}
		if (!L->after || tess_cmp_bytes(n->key, n->key_len, L->after, L->after_len) > 0) {
			int rc = list_emit(L, n->key, n->key_len, 0, n->value->len, n->value->mtime_ns);
			if (rc)
				return rc;
		}
		n = n->next[0];
	}
	return 0;
}

static int mem_list(tess_backend *be, const char *prefix, const char *delimiter,
                    const char *start_after, size_t max_entries, tess_list_page *page)
{
	if (!prefix)
		prefix = "";
	if (delimiter && strlen(delimiter) > 1)
		return tess_err(TESS_EINVAL, "mem backend: list '%s': the delimiter must be one "
		                "byte, not '%s'", prefix, delimiter);
	struct mem_lister L = {
		.store = store_of(be),
		.prefix = prefix,
		.prefix_len = strlen(prefix),
		.delim = delimiter && *delimiter ? (unsigned char)*delimiter : -1,
		.after = start_after,
		.after_len = start_after ? strlen(start_after) : 0,
		.max = max_entries,
		.page = page,
		.first = page->count,
	};
	page->truncated = 0;
	pthread_rwlock_rdlock(&store_of(be)->lock);
	int rc = list_locked(&L);
	pthread_rwlock_unlock(&store_of(be)->lock);
	return rc == LIST_STOP ? 0 : rc;
}

const tess_backend_ops tess_backend_mem_ops = {
	.abi = TESS_BACKEND_ABI,
	.scheme = "mem",
	.caps = 0,
	.open = mem_open,
	.close = mem_close,
	.get = mem_get,
	.put = mem_put,
	.writer_open = mem_writer_open,
	.writer_write = mem_writer_write,
	.writer_commit = mem_writer_commit,
	.writer_abort = mem_writer_abort,
	.stat = mem_stat,
	.del = mem_del,
	.list = mem_list,
	.get_many = NULL,
	.put_many = mem_put_many,
};
