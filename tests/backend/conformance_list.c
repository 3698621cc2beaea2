/*
 * Conformance suite, listings: a ~300-key tree with names that stress byte
 * ordering ("a", "a.txt", "a-b", "a0", "a/b", ...), listed with several
 * prefixes, delimiters, page sizes and start_after values and compared with a
 * reference listing computed here from the sorted key set; and a 20,000-key
 * listing in pages of 1000.
 */
#include "conformance.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct keyset {
	char **keys;
	size_t n, cap;
};

static void keyset_add(struct keyset *set, const char *key)
{
	if (set->n == set->cap) {
		set->cap = set->cap ? set->cap * 2 : 256;
		set->keys = realloc(set->keys, set->cap * sizeof *set->keys);
		assert_non_null(set->keys);
	}
	set->keys[set->n] = strdup(key);
	assert_non_null(set->keys[set->n]);
	set->n++;
}

static void keyset_free(struct keyset *set)
{
	for (size_t i = 0; i < set->n; i++)
		free(set->keys[i]);
	free(set->keys);
	memset(set, 0, sizeof *set);
}

static int compare_keys(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t depth(const char *key)
{
	size_t d = 0;
	for (; *key; key++)
		d += *key == '/';
	return d;
}

static int compare_deepest_first(const void *a, const void *b)
{
	const char *ka = *(char *const *)a, *kb = *(char *const *)b;
	size_t da = depth(ka), db = depth(kb);
	if (da != db)
		return da > db ? -1 : 1;
	return strcmp(ka, kb);
}

/* "a" is a directory of "a/b": the two cannot both be objects in a
 * hierarchical backend. */
static int is_dir_of(const char *dir, const char *key)
{
	size_t len = strlen(dir);
	return strncmp(dir, key, len) == 0 && key[len] == '/';
}

static void keyset_sort_unique(struct keyset *set)
{
	qsort(set->keys, set->n, sizeof *set->keys, compare_keys);
	size_t out = 0;
	for (size_t i = 0; i < set->n; i++) {
		if (out && strcmp(set->keys[out - 1], set->keys[i]) == 0)
			free(set->keys[i]);
		else
			set->keys[out++] = set->keys[i];
	}
	set->n = out;
}

/* For hierarchical backends keep the deepest keys and drop any key that is
 * a directory of a kept one. */
static void keyset_drop_object_prefix_pairs(struct keyset *set)
{
	qsort(set->keys, set->n, sizeof *set->keys, compare_deepest_first);
	size_t kept = 0;
	for (size_t i = 0; i < set->n; i++) {
		int clash = 0;
		for (size_t j = 0; j < kept && !clash; j++)
			clash = is_dir_of(set->keys[i], set->keys[j]) ||
			        is_dir_of(set->keys[j], set->keys[i]);
		if (clash)
			free(set->keys[i]);
		else
			set->keys[kept++] = set->keys[i];
	}
	set->n = kept;
	qsort(set->keys, set->n, sizeof *set->keys, compare_keys);
}

static const char *const pieces[] = {"a", "a.txt", "a-b", "a0", "b", "c", "é"};
#define NPIECES (sizeof pieces / sizeof pieces[0])

static void build_tree_keys(struct keyset *set, unsigned caps)
{
	char key[256];
	static const char *const second_level[] = {"a", "a-b", "a0", "b", "é"};
	static const char *const third_level[] = {"a", "b"};
	for (size_t i = 0; i < NPIECES; i++)
		keyset_add(set, pieces[i]);
	for (size_t i = 0; i < sizeof second_level / sizeof second_level[0]; i++)
		for (size_t j = 0; j < NPIECES; j++) {
			snprintf(key, sizeof key, "%s/%s", second_level[i], pieces[j]);
			keyset_add(set, key);
		}
	for (size_t i = 0; i < sizeof third_level / sizeof third_level[0]; i++)
		for (size_t j = 0; j < NPIECES; j++)
			for (size_t k = 0; k < NPIECES; k++) {
				snprintf(key, sizeof key, "%s/%s/%s", third_level[i], pieces[j],
				         pieces[k]);
				keyset_add(set, key);
			}
	static const char *const extras[] = {"a/b/c/d", "a/b/c/d/e", "b/x", "z", "z/z",
	                                     "zy", "a/.hidden", "a/b/.zarray"};
	for (size_t i = 0; i < sizeof extras / sizeof extras[0]; i++)
		keyset_add(set, extras[i]);
	for (int i = 0; i < 150; i++) {
		snprintf(key, sizeof key, "n/%03d", i);
		keyset_add(set, key);
	}
	keyset_sort_unique(set);
	if (caps & TESS_CAP_HIERARCHICAL)
		keyset_drop_object_prefix_pairs(set);
}

static uint64_t value_size(const char *key)
{
	return strlen(key) + 2;
}

static void put_tree(struct conf *c, const struct keyset *set)
{
	char value[300];
	for (size_t i = 0; i < set->n; i++) {
		snprintf(value, sizeof value, "v:%s", set->keys[i]);
		conf_put_str(c, set->keys[i], value);
	}
}

/*
 * The contract's listing rule, computed from the sorted key set: keys under
 * `prefix`; with a delimiter, everything up to and including the first
 * delimiter after the prefix rolls up into one prefix entry; entries ordered
 * by name; only names strictly greater than start_after.
 */
static void reference_list(const struct keyset *set, const char *prefix,
                           const char *delimiter, const char *start_after,
                           struct conf_entries *out)
{
	size_t plen = strlen(prefix);
	char name[300];
	for (size_t i = 0; i < set->n; i++) {
		const char *key = set->keys[i];
		if (strncmp(key, prefix, plen) != 0)
			continue;
		const char *cut = delimiter ? strchr(key + plen, delimiter[0]) : NULL;
		int is_prefix = cut != NULL;
		size_t len = is_prefix ? (size_t)(cut - key) + 1 : strlen(key);
		memcpy(name, key, len);
		name[len] = '\0';
		if (start_after && strcmp(name, start_after) <= 0)
			continue;
		if (out->n && strcmp(out->v[out->n - 1].name, name) == 0)
			continue;
		conf_entries_add(out, name, is_prefix, is_prefix ? 0 : value_size(key));
	}
}

static void describe(char *buf, size_t size, const char *prefix, const char *delimiter,
                     const char *start_after, size_t page_size)
{
	snprintf(buf, size, "list(prefix \"%s\", delimiter %s, start_after %s%s%s, page %zu)",
	         prefix, delimiter ? "\"/\"" : "NULL", start_after ? "\"" : "",
	         start_after ? start_after : "NULL", start_after ? "\"" : "", page_size);
}

static void expect_same_listing(const struct conf_entries *got, const struct conf_entries *want,
                                const char *what)
{
	size_t n = got->n < want->n ? got->n : want->n;
	for (size_t i = 0; i < n; i++) {
		const struct conf_entry *g = &got->v[i], *w = &want->v[i];
		if (strcmp(g->name, w->name) != 0 || g->is_prefix != w->is_prefix)
			fail_msg("%s: entry %zu is '%s'%s, expected '%s'%s", what, i, g->name,
			         g->is_prefix ? " (prefix)" : "", w->name,
			         w->is_prefix ? " (prefix)" : "");
		if (g->size != w->size)
			fail_msg("%s: '%s' has size %llu, expected %llu", what, g->name,
			         (unsigned long long)g->size, (unsigned long long)w->size);
	}
	if (got->n != want->n)
		fail_msg("%s: %zu entries, expected %zu; first extra or missing: '%s'", what,
		         got->n, want->n,
		         got->n > want->n ? got->v[n].name : want->v[n].name);
}

static void check_listing(struct conf *c, const struct keyset *set, const char *prefix,
                          const char *delimiter, const char *start_after, size_t page_size)
{
	char what[512];
	describe(what, sizeof what, prefix, delimiter, start_after, page_size);
	struct conf_entries want = {0}, got = {0};
	reference_list(set, prefix, delimiter, start_after, &want);
	int rc = conf_list_all(c, prefix, delimiter, start_after, page_size, &got);
	if (rc)
		fail_msg("%s: %d (%s): %s", what, rc, tess_strerror(rc), tess_errmsg());
	expect_same_listing(&got, &want, what);
	conf_entries_free(&want);
	conf_entries_free(&got);
}

static const char *const list_prefixes[] = {"", "a", "a/", "a/b/", "zz", "n/", "é", "a/b"};
static const char *const list_delimiters[] = {NULL, "/"};
#define NLIST_PREFIXES (sizeof list_prefixes / sizeof list_prefixes[0])

static void test_list_tree(void **state)
{
	struct conf *c = *state;
	struct keyset set = {0};
	build_tree_keys(&set, c->ops->caps);
	assert_true(set.n > 250);
	put_tree(c, &set);
	static const size_t page_sizes[] = {1, 2, 7, 1000};
	for (size_t p = 0; p < NLIST_PREFIXES; p++)
		for (size_t d = 0; d < 2; d++)
			for (size_t s = 0; s < sizeof page_sizes / sizeof page_sizes[0]; s++)
				check_listing(c, &set, list_prefixes[p], list_delimiters[d], NULL,
				              page_sizes[s]);
	keyset_free(&set);
}

/* start_after values worth trying for one listing: its first, middle and last
 * names, every prefix entry, and names that are not entries at all. */
static void start_after_candidates(const struct conf_entries *full, struct keyset *out)
{
	static const char *const fixed[] = {"", "a", "a/", "a/b", "a/b/", "a/b/c", "a/b/c/d",
	                                    "a.txt", "a0", "b", "n/075", "n/07", "zz",
	                                    "\xef\xbf\xbf"};
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		keyset_add(out, fixed[i]);
	if (full->n) {
		keyset_add(out, full->v[0].name);
		keyset_add(out, full->v[full->n / 2].name);
		keyset_add(out, full->v[full->n - 1].name);
	}
	for (size_t i = 0; i < full->n; i++)
		if (full->v[i].is_prefix)
			keyset_add(out, full->v[i].name);
	keyset_sort_unique(out);
}

static void test_list_start_after(void **state)
{
	struct conf *c = *state;
	struct keyset set = {0};
	build_tree_keys(&set, c->ops->caps);
	put_tree(c, &set);
	static const size_t page_sizes[] = {7, 1000};
	for (size_t p = 0; p < NLIST_PREFIXES; p++)
		for (size_t d = 0; d < 2; d++) {
			struct conf_entries full = {0};
			reference_list(&set, list_prefixes[p], list_delimiters[d], NULL, &full);
			struct keyset afters = {0};
			start_after_candidates(&full, &afters);
			for (size_t a = 0; a < afters.n; a++)
				for (size_t s = 0; s < 2; s++)
					check_listing(c, &set, list_prefixes[p], list_delimiters[d],
					              afters.keys[a], page_sizes[s]);
			keyset_free(&afters);
			conf_entries_free(&full);
		}
	keyset_free(&set);
}

/* A page that stops exactly at the end must not claim more follow. */
static void test_list_exact_page(void **state)
{
	struct conf *c = *state;
	conf_put_str(c, "x/1", "1");
	conf_put_str(c, "x/2", "2");
	tess_list_page page = {0};
	conf_ok(c->ops->list(c->be, "x/", NULL, NULL, 2, &page));
	assert_int_equal(page.count, 2);
	assert_false(page.truncated);
	tess_list_page_clear(&page);
	conf_ok(c->ops->list(c->be, "x/", NULL, NULL, 1, &page));
	assert_int_equal(page.count, 1);
	assert_true(page.truncated);
	assert_string_equal(page.entries[0].key, "x/1");
	tess_list_page_clear(&page);
	conf_ok(c->ops->list(c->be, "x/", NULL, "x/2", 1, &page));
	assert_int_equal(page.count, 0);
	assert_false(page.truncated);
	tess_list_page_free(&page);
}

#define BIG_LIST_KEYS 20000
#define BIG_LIST_PAGE 1000
#define BIG_LIST_BATCH 500
#define BIG_LIST_LOADERS 4 /* puts are fsync-bound: load with several threads */

struct big_loader {
	struct conf *c;
	int id;
	int rc;            /* first failure */
	char failed[32];   /* its key */
};

static void *big_loader_main(void *arg)
{
	struct big_loader *l = arg;
	tess_put_req reqs[BIG_LIST_BATCH];
	char keys[BIG_LIST_BATCH][24];
	for (int first = l->id * BIG_LIST_BATCH; first < BIG_LIST_KEYS && !l->rc;
	     first += BIG_LIST_LOADERS * BIG_LIST_BATCH) {
		for (int i = 0; i < BIG_LIST_BATCH; i++) {
			snprintf(keys[i], sizeof keys[i], "big/k%05d", first + i);
			reqs[i] = (tess_put_req){keys[i], keys[i] + 5, 5, 0, 1};
		}
		int rc = conf_put_many(l->c, reqs, BIG_LIST_BATCH);
		for (int i = 0; i < BIG_LIST_BATCH && !rc; i++)
			if (reqs[i].status) {
				rc = reqs[i].status;
				snprintf(l->failed, sizeof l->failed, "%s", keys[i]);
			}
		l->rc = rc;
	}
	return NULL;
}

static void put_big_listing(struct conf *c)
{
	pthread_t threads[BIG_LIST_LOADERS];
	struct big_loader loaders[BIG_LIST_LOADERS];
	for (int i = 0; i < BIG_LIST_LOADERS; i++) {
		loaders[i] = (struct big_loader){c, i, 0, ""};
		assert_int_equal(pthread_create(&threads[i], NULL, big_loader_main, &loaders[i]), 0);
	}
	for (int i = 0; i < BIG_LIST_LOADERS; i++)
		pthread_join(threads[i], NULL);
	for (int i = 0; i < BIG_LIST_LOADERS; i++)
		if (loaders[i].rc)
			fail_msg("put_many of the large listing failed at '%s': %d (%s)",
			         loaders[i].failed, loaders[i].rc, tess_strerror(loaders[i].rc));
}

static void test_list_large(void **state)
{
	struct conf *c = *state;
	put_big_listing(c);

	/* page by page: never more than a page in hand, all keys, in order */
	tess_list_page page = {0};
	char after[32] = "";
	char expect[32];
	size_t total = 0, pages = 0;
	do {
		tess_list_page_clear(&page);
		conf_ok(c->ops->list(c->be, "big/", NULL, total ? after : NULL, BIG_LIST_PAGE,
		                     &page));
		assert_true(page.count <= BIG_LIST_PAGE);
		assert_true(page.count > 0 || !page.truncated);
		for (size_t i = 0; i < page.count; i++, total++) {
			snprintf(expect, sizeof expect, "big/k%05zu", total);
			if (strcmp(page.entries[i].key, expect) != 0)
				fail_msg("large listing: entry %zu is '%s', expected '%s'", total,
				         page.entries[i].key, expect);
			assert_int_equal(page.entries[i].size, 5);
		}
		if (page.count)
			snprintf(after, sizeof after, "%s", page.entries[page.count - 1].key);
		pages++;
		assert_true(pages <= BIG_LIST_KEYS);
	} while (page.truncated);
	tess_list_page_free(&page);
	assert_int_equal(total, BIG_LIST_KEYS);

	/* from the middle */
	struct conf_entries got = {0};
	conf_ok(conf_list_all(c, "big/", NULL, "big/k12345", BIG_LIST_PAGE, &got));
	assert_int_equal(got.n, BIG_LIST_KEYS - 12346);
	assert_string_equal(got.v[0].name, "big/k12346");
	conf_entries_free(&got);

	/* rolled up, the whole lot is one prefix */
	got = (struct conf_entries){0};
	conf_ok(conf_list_all(c, "", "/", NULL, BIG_LIST_PAGE, &got));
	assert_int_equal(got.n, 1);
	assert_string_equal(got.v[0].name, "big/");
	assert_true(got.v[0].is_prefix);
	conf_entries_free(&got);
}

int conf_run_list(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_list_exact_page, conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(test_list_tree, conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(test_list_start_after, conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(test_list_large, conf_setup, conf_teardown),
	};
	return cmocka_run_group_tests_name("list", tests, NULL, NULL);
}
