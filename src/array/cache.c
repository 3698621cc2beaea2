/*
 * A bounded LRU cache of decoded chunks, keyed by chunk key.
 *
 * Readers fill it, writers only empty it.  A reader's insert is refused when
 * a write touched the cache after the reader looked (the write epoch moved):
 * it may hold what the chunk was before that write.
 *
 * Entries are pinned while a reader copies out of them, so eviction and
 * replacement never free memory in use: an evicted pinned entry is unlinked
 * (marked dead) and freed by its last release.  One mutex guards everything;
 * the work done under it is pointer surgery only.
 */
#include "array/core.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

struct chunk_cache {
	pthread_mutex_t lock;
	size_t capacity;
	size_t used;
	cache_entry **buckets;
	size_t nbuckets; /* a power of two */
	size_t count;
	uint64_t write_epoch;     /* drops so far */
	cache_entry *head, *tail; /* most recently used first */
};

static uint64_t hash_key(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

int array_cache_create(chunk_cache **out, size_t capacity)
{
	chunk_cache *c = calloc(1, sizeof *c);
	if (c)
		c->buckets = calloc(64, sizeof *c->buckets);
	if (!c || !c->buckets) {
		free(c);
		return tess_err(TESS_ENOMEM, "array: out of memory for the chunk cache");
	}
	c->nbuckets = 64;
	c->capacity = capacity;
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return 0;
}

static void entry_free(cache_entry *e)
{
	free(e->key);
	free(e->data);
	free(e);
}

static void lru_unlink(chunk_cache *c, cache_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push_front(chunk_cache *c, cache_entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

/* Take an entry out of the table and the list; free it unless pinned. */
static void entry_remove(chunk_cache *c, cache_entry *e)
{
	cache_entry **pp = &c->buckets[hash_key(e->key) & (c->nbuckets - 1)];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(c, e);
	c->used -= e->len;
	c->count--;
	if (e->refs)
		e->dead = 1;
	else
		entry_free(e);
}

static void evict_to(chunk_cache *c, size_t budget)
{
	while (c->used > budget && c->tail)
		entry_remove(c, c->tail);
}

static cache_entry *lookup(chunk_cache *c, const char *key)
{
	cache_entry *e = c->buckets[hash_key(key) & (c->nbuckets - 1)];
	while (e && strcmp(e->key, key) != 0)
		e = e->hnext;
	return e;
}

/* Double the table when it gets crowded; on failure keep the old one. */
static void maybe_grow(chunk_cache *c)
{
	if (c->count < c->nbuckets)
		return;
	size_t n = c->nbuckets * 2;
	cache_entry **b = calloc(n, sizeof *b);
	if (!b)
		return;
	for (size_t i = 0; i < c->nbuckets; i++) {
		cache_entry *e = c->buckets[i];
		while (e) {
			cache_entry *next = e->hnext;
			size_t h = hash_key(e->key) & (n - 1);
			e->hnext = b[h];
			b[h] = e;
			e = next;
		}
	}
	free(c->buckets);
	c->buckets = b;
	c->nbuckets = n;
}

void array_cache_destroy(chunk_cache *c)
{
	if (!c)
		return;
	evict_to(c, 0);
	free(c->buckets);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

size_t array_cache_capacity(const chunk_cache *c)
{
	return c ? c->capacity : 0;
}

void array_cache_set_capacity(chunk_cache *c, size_t capacity)
{
	pthread_mutex_lock(&c->lock);
	c->capacity = capacity;
	evict_to(c, capacity);
	pthread_mutex_unlock(&c->lock);
}

cache_entry *array_cache_get(chunk_cache *c, const char *key)
{
	if (!c || c->capacity == 0)
		return NULL;
	pthread_mutex_lock(&c->lock);
	cache_entry *e = lookup(c, key);
	if (e) {
		e->refs++;
		lru_unlink(c, e);
		lru_push_front(c, e);
	}
	pthread_mutex_unlock(&c->lock);
	return e;
}

void array_cache_release(chunk_cache *c, cache_entry *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&c->lock);
	int free_it = --e->refs == 0 && e->dead;
	pthread_mutex_unlock(&c->lock);
	if (free_it)
		entry_free(e);
}

uint64_t array_cache_epoch(chunk_cache *c)
{
	if (!c)
		return 0;
	pthread_mutex_lock(&c->lock);
	uint64_t e = c->write_epoch;
	pthread_mutex_unlock(&c->lock);
	return e;
}

void array_cache_put(chunk_cache *c, const char *key, uint8_t *data, size_t len, uint64_t epoch)
{
	if (!c || len > c->capacity) {
		free(data);
		return;
	}
	cache_entry *e = calloc(1, sizeof *e);
	if (e)
		e->key = strdup(key);
	if (!e || !e->key) {
		free(e);
		free(data);
		return; /* a cache that cannot grow just caches less */
	}
	e->data = data;
	e->len = len;
	pthread_mutex_lock(&c->lock);
	if (c->write_epoch != epoch) {
		pthread_mutex_unlock(&c->lock);
		entry_free(e);
		return;
	}
	cache_entry *old = lookup(c, key);
	if (old)
		entry_remove(c, old);
	evict_to(c, c->capacity - len);
	maybe_grow(c);
	size_t h = hash_key(key) & (c->nbuckets - 1);
	e->hnext = c->buckets[h];
	c->buckets[h] = e;
	lru_push_front(c, e);
	c->used += len;
	c->count++;
	pthread_mutex_unlock(&c->lock);
}

void array_cache_drop(chunk_cache *c, const char *key)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->write_epoch++;
	cache_entry *e = lookup(c, key);
	if (e)
		entry_remove(c, e);
	pthread_mutex_unlock(&c->lock);
}

void array_cache_clear(chunk_cache *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->write_epoch++;
	evict_to(c, 0);
	pthread_mutex_unlock(&c->lock);
}

/* ---- reusable chunk-sized buffers --------------------------------------------- */

/*
 * Fresh chunk buffers of a MiB or more come from mmap and cost a page fault
 * per 4 KiB on first touch; a region read or write needs several per batch.
 * The handle keeps a few freed ones for the next chunk instead.
 */
#define POOL_SLOTS 16

struct buf_pool {
	pthread_mutex_t lock;
	size_t max_bytes, held;
	size_t n;
	uint8_t *data[POOL_SLOTS];
	size_t cap[POOL_SLOTS];
};

int array_bufs_create(buf_pool **out, size_t max_bytes)
{
	buf_pool *p = calloc(1, sizeof *p);
	if (!p)
		return tess_err(TESS_ENOMEM, "array: out of memory for buffers");
	pthread_mutex_init(&p->lock, NULL);
	p->max_bytes = max_bytes;
	*out = p;
	return 0;
}

void array_bufs_destroy(buf_pool *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->data[i]);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

tess_buf array_bufs_take(buf_pool *p, size_t size)
{
	tess_buf b = {0};
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->n; i++) {
		if (p->cap[i] < size)
			continue;
		b.data = p->data[i];
		b.cap = p->cap[i];
		p->held -= b.cap;
		p->n--;
		p->data[i] = p->data[p->n];
		p->cap[i] = p->cap[p->n];
		break;
	}
	pthread_mutex_unlock(&p->lock);
	if (!b.data && (b.data = malloc(size ? size : 1)))
		b.cap = size ? size : 1;
	return b;
}

void array_bufs_give(buf_pool *p, tess_buf *b)
{
	if (!b->data || b->fixed)
		return;
	pthread_mutex_lock(&p->lock);
	int keep = p->n < POOL_SLOTS && p->held + b->cap <= p->max_bytes;
	if (keep) {
		p->data[p->n] = b->data;
		p->cap[p->n++] = b->cap;
		p->held += b->cap;
	}
	pthread_mutex_unlock(&p->lock);
	if (!keep)
		free(b->data);
	memset(b, 0, sizeof *b);
}
