/* Conformance suite: fixtures, locations and assertion helpers. */
#include "conformance.h"

#include <errno.h>
#include <ftw.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- locations ------------------------------------------------------------ */

enum location_kind {
	LOC_DIR,          /* a directory that open creates */
	LOC_FILE_IN_DIR,  /* a file (plus whatever siblings) inside a temp dir */
	LOC_NAME,         /* a process-unique name, nothing on disk */
};

/* How a scheme spells its locations: the one place the suite looks at a
 * scheme name.  Everything else goes by capabilities. */
static enum location_kind location_kind(const tess_backend_ops *ops)
{
	static const struct {
		const char *scheme;
		enum location_kind kind;
	} known[] = {
		{"file", LOC_DIR},
		{"lmdb", LOC_FILE_IN_DIR},
		{"mem", LOC_NAME},
	};
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strcmp(ops->scheme, known[i].scheme) == 0)
			return known[i].kind;
	return (ops->caps & TESS_CAP_LOCAL) ? LOC_DIR : LOC_NAME;
}

static char *make_temp_dir(void)
{
	const char *tmp = getenv("TMPDIR");
	if (!tmp || !*tmp)
		tmp = "/tmp";
	char *path = NULL;
	if (asprintf(&path, "%s/tess-conf-XXXXXX", tmp) < 0)
		return NULL;
	if (!mkdtemp(path)) {
		print_error("mkdtemp %s: %s\n", path, strerror(errno));
		free(path);
		return NULL;
	}
	return path;
}

char *conf_location_new(const tess_backend_ops *ops, char **root)
{
	static atomic_uint counter;
	char *location = NULL;
	*root = NULL;
	enum location_kind kind = location_kind(ops);
	if (kind == LOC_NAME) {
		if (asprintf(&location, "conf-%ld-%u", (long)getpid(),
		             atomic_fetch_add(&counter, 1)) < 0)
			return NULL;
		return location;
	}
	*root = make_temp_dir();
	if (!*root)
		return NULL;
	const char *leaf = kind == LOC_DIR ? "store" : "store.lmdb";
	if (asprintf(&location, "%s/%s", *root, leaf) < 0)
		return NULL;
	return location;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	if (remove(path) != 0)
		print_error("cleanup: remove %s: %s\n", path, strerror(errno));
	return 0;
}

void conf_remove_tree(const char *root)
{
	nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int conf_setup(void **state)
{
	struct conf *c = calloc(1, sizeof *c);
	if (!c)
		return -1;
	*state = c;
	c->ops = tess_backend_find(conf_scheme);
	if (!c->ops) {
		print_error("no backend registered for scheme '%s'\n", conf_scheme);
		return -1;
	}
	c->location = conf_location_new(c->ops, &c->root);
	if (!c->location)
		return -1;
	int rc = c->ops->open(&c->be, c->location, NULL, TESS_BACKEND_CREATE);
	if (rc) {
		print_error("open '%s' with TESS_BACKEND_CREATE: %d (%s): %s\n", c->location,
		            rc, tess_strerror(rc), tess_errmsg());
		c->be = NULL;
		return -1;
	}
	return 0;
}

int conf_teardown(void **state)
{
	struct conf *c = *state;
	if (!c)
		return 0;
	if (c->ops && c->be)
		c->ops->close(c->be);
	if (c->root) {
		conf_remove_tree(c->root);
		free(c->root);
	}
	free(c->location);
	free(c);
	*state = NULL;
	return 0;
}

int conf_open_again(const struct conf *c, tess_backend **out)
{
	return c->ops->open(out, c->location, NULL, 0);
}

/* ---- assertions ------------------------------------------------------------ */

void conf_ok_at(int rc, const char *expr, const char *file, int line)
{
	if (rc == 0)
		return;
	print_error("%s returned %d (%s): %s\n", expr, rc, tess_strerror(rc), tess_errmsg());
	_fail(file, line);
}

/* Messages may shorten very long keys; for those the start must be there. */
static int message_names_key(const char *msg, const char *key)
{
	size_t len = strlen(key);
	if (len <= 100)
		return strstr(msg, key) != NULL;
	char head[41];
	memcpy(head, key, 40);
	head[40] = '\0';
	return strstr(msg, head) != NULL;
}

void conf_err_at(int rc, int code, const char *key, const char *expr,
                 const char *file, int line)
{
	if (rc != code) {
		print_error("%s returned %d (%s), expected %d (%s); message: %s\n", expr, rc,
		            tess_strerror(rc), code, tess_strerror(code), tess_errmsg());
		_fail(file, line);
	}
	if (key && !message_names_key(tess_errmsg(), key)) {
		print_error("%s: message \"%s\" does not name the key '%s'\n", expr,
		            tess_errmsg(), key);
		_fail(file, line);
	}
}

/* ---- vtable helpers --------------------------------------------------------- */

void conf_put(struct conf *c, const char *key, const void *data, size_t len)
{
	int rc = c->ops->put(c->be, key, data, len, 0);
	if (rc)
		fail_msg("put '%s' (%zu bytes): %d (%s): %s", key, len, rc, tess_strerror(rc),
		         tess_errmsg());
}

void conf_put_str(struct conf *c, const char *key, const char *value)
{
	conf_put(c, key, value, strlen(value));
}

void conf_expect_value(struct conf *c, const char *key, const void *data, size_t len)
{
	tess_buf buf = {0};
	int rc = c->ops->get(c->be, key, 0, UINT64_MAX, &buf);
	if (rc) {
		tess_buf_free(&buf);
		fail_msg("get '%s': %d (%s): %s", key, rc, tess_strerror(rc), tess_errmsg());
	}
	size_t same = 0;
	while (same < len && same < buf.len && buf.data[same] == ((const uint8_t *)data)[same])
		same++;
	size_t got = buf.len;
	tess_buf_free(&buf);
	if (got != len || same != len)
		fail_msg("get '%s': %zu bytes, expected %zu; first difference at byte %zu", key,
		         got, len, same);
}

void conf_expect_str(struct conf *c, const char *key, const char *value)
{
	conf_expect_value(c, key, value, strlen(value));
}

void conf_expect_missing(struct conf *c, const char *key)
{
	tess_buf buf = {0};
	int rc = c->ops->get(c->be, key, 0, UINT64_MAX, &buf);
	size_t got = buf.len;
	tess_buf_free(&buf);
	conf_err(rc, TESS_ENOTFOUND, key);
	assert_int_equal(got, 0);
	tess_stat st;
	conf_err(c->ops->stat(c->be, key, &st), TESS_ENOTFOUND, key);
}

/* A streamed put with its size announced (the big-object and race tests
 * stream with TESS_SIZE_UNKNOWN, so both writer paths are covered). */
int conf_write_stream(struct conf *c, const char *key, const void *data, size_t len,
                      unsigned flags)
{
	tess_writer *w = NULL;
	int rc = c->ops->writer_open(c->be, &w, key, len, flags);
	if (rc)
		return rc;
	rc = c->ops->writer_write(w, data, len);
	if (rc) {
		c->ops->writer_abort(w);
		return rc;
	}
	return c->ops->writer_commit(w);
}

int64_t conf_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int conf_mtime_plausible(int64_t mtime_ns)
{
	/* 0 means "unknown"; otherwise it was written during this run, give or
	 * take coarse file system timestamps and clock steps. */
	const int64_t slack = (int64_t)600 * 1000000000;
	int64_t now = conf_now_ns();
	return mtime_ns == 0 || (mtime_ns > now - slack && mtime_ns < now + slack);
}

/* ---- listing ------------------------------------------------------------------ */

void conf_entries_add(struct conf_entries *list, const char *name, int is_prefix,
                      uint64_t size)
{
	if (list->n == list->cap) {
		list->cap = list->cap ? list->cap * 2 : 64;
		list->v = realloc(list->v, list->cap * sizeof *list->v);
		assert_non_null(list->v);
	}
	char *copy = strdup(name);
	assert_non_null(copy);
	list->v[list->n++] = (struct conf_entry){copy, is_prefix, size};
}

void conf_entries_free(struct conf_entries *list)
{
	for (size_t i = 0; i < list->n; i++)
		free(list->v[i].name);
	free(list->v);
	memset(list, 0, sizeof *list);
}

/* Checks of one entry that do not need the reference listing. */
static void check_entry(const tess_list_entry *e, const char *prefix, const char *delimiter,
                        const char *after)
{
	if (strncmp(e->key, prefix, strlen(prefix)) != 0)
		fail_msg("list '%s': entry '%s' does not start with the prefix", prefix, e->key);
	if (after && strcmp(e->key, after) <= 0)
		fail_msg("list '%s' after '%s': entry '%s' is not strictly greater", prefix,
		         after, e->key);
	if (e->is_prefix) {
		size_t len = strlen(e->key);
		if (!delimiter || len == 0 || e->key[len - 1] != delimiter[0])
			fail_msg("list '%s': prefix entry '%s' does not end with the delimiter",
			         prefix, e->key);
		if (e->size != 0 || e->mtime_ns != 0)
			fail_msg("list '%s': prefix entry '%s' has size %llu mtime %lld, not 0",
			         prefix, e->key, (unsigned long long)e->size,
			         (long long)e->mtime_ns);
	} else if (!conf_mtime_plausible(e->mtime_ns)) {
		fail_msg("list '%s': entry '%s' has an implausible mtime %lld", prefix, e->key,
		         (long long)e->mtime_ns);
	}
}

/* Guard against a backend that never clears `truncated`. */
#define MAX_PAGES 1000000

int conf_list_all(struct conf *c, const char *prefix, const char *delimiter,
                  const char *start_after, size_t page_size, struct conf_entries *out)
{
	tess_list_page page = {0};
	char *after = start_after ? strdup(start_after) : NULL;
	int rc = 0;
	for (size_t pages = 0;; pages++) {
		if (pages == MAX_PAGES)
			fail_msg("list '%s': more than %d pages", prefix, MAX_PAGES);
		tess_list_page_clear(&page);
		rc = c->ops->list(c->be, prefix, delimiter, after, page_size, &page);
		if (rc)
			break;
		if (page.count > page_size)
			fail_msg("list '%s': %zu entries in a page of at most %zu", prefix,
			         page.count, page_size);
		if (page.truncated && page.count == 0)
			fail_msg("list '%s' after '%s': truncated page with no entries", prefix,
			         after ? after : "(start)");
		for (size_t i = 0; i < page.count; i++) {
			const tess_list_entry *e = &page.entries[i];
			check_entry(e, prefix, delimiter, after);
			if (out->n && strcmp(out->v[out->n - 1].name, e->key) >= 0)
				fail_msg("list '%s': '%s' follows '%s': not ascending", prefix,
				         e->key, out->v[out->n - 1].name);
			conf_entries_add(out, e->key, e->is_prefix, e->size);
		}
		if (!page.truncated)
			break;
		free(after);
		after = strdup(page.entries[page.count - 1].key);
		assert_non_null(after);
	}
	free(after);
	tess_list_page_free(&page);
	return rc;
}

void conf_expect_empty_store(struct conf *c)
{
	static const char *const delimiters[] = {NULL, "/"};
	for (size_t i = 0; i < 2; i++) {
		struct conf_entries got = {0};
		conf_ok(conf_list_all(c, "", delimiters[i], NULL, 1000, &got));
		if (got.n)
			fail_msg("store should be empty but lists %zu entries, first '%s' "
			         "(delimiter %s)", got.n, got.v[0].name,
			         delimiters[i] ? "\"/\"" : "NULL");
		conf_entries_free(&got);
	}
}

/* ---- batches, with the loop the store falls back to ------------------------ */

int conf_put_many(struct conf *c, tess_put_req *reqs, size_t n)
{
	if (c->ops->put_many)
		return c->ops->put_many(c->be, reqs, n);
	for (size_t i = 0; i < n; i++)
		reqs[i].status = c->ops->put(c->be, reqs[i].key, reqs[i].data, reqs[i].len,
		                             reqs[i].flags);
	return 0;
}

int conf_get_many(struct conf *c, tess_get_req *reqs, size_t n)
{
	if (c->ops->get_many)
		return c->ops->get_many(c->be, reqs, n);
	for (size_t i = 0; i < n; i++)
		reqs[i].status = c->ops->get(c->be, reqs[i].key, reqs[i].offset,
		                             reqs[i].length, reqs[i].out);
	return 0;
}
