/*
 * The backend conformance suite: one program, run unchanged against every
 * backend ("conformance file", "conformance mem", ...).  Each test gets a
 * fresh, empty store opened with TESS_BACKEND_CREATE; the tests talk only to
 * the vtable of include/tessera/sys/backend.h.  Where backends may
 * legitimately differ the tests branch on declared capabilities, never on
 * the scheme name (only conf_location_new knows how a scheme's locations
 * look).
 */
#ifndef TESS_TESTS_CONFORMANCE_H
#define TESS_TESTS_CONFORMANCE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tessera/sys/backend.h"

/** The scheme under test (argv[1]). */
extern const char *conf_scheme;

/** One test's store: a fresh location and an instance opened on it. */
struct conf {
	const tess_backend_ops *ops;
	char *root;     /**< temp directory removed at teardown, or NULL */
	char *location; /**< what open() gets */
	tess_backend *be;
};

/** cmocka setup/teardown giving every test a `struct conf *` state. */
int conf_setup(void **state);
int conf_teardown(void **state);

/**
 * A location for the scheme under test that does not exist yet.  *root
 * receives a temp directory to remove afterwards (NULL when none).
 */
char *conf_location_new(const tess_backend_ops *ops, char **root);

/** Remove a directory and everything below it. */
void conf_remove_tree(const char *root);

/** Open another instance of the test's location (without CREATE). */
int conf_open_again(const struct conf *c, tess_backend **out);

/* ---- assertions that print the backend's message on failure ------------- */

/** Assert rc == 0, showing tess_errmsg() otherwise. */
#define conf_ok(rc) conf_ok_at((rc), #rc, __FILE__, __LINE__)
void conf_ok_at(int rc, const char *expr, const char *file, int line);

/** Assert rc == code and that tess_errmsg() mentions `key` (when non-NULL). */
#define conf_err(rc, code, key) conf_err_at((rc), (code), (key), #rc, __FILE__, __LINE__)
void conf_err_at(int rc, int code, const char *key, const char *expr,
                 const char *file, int line);

/* ---- helpers over the vtable -------------------------------------------- */

void conf_put(struct conf *c, const char *key, const void *data, size_t len);
void conf_put_str(struct conf *c, const char *key, const char *value);
/** The whole object equals data[0..len). */
void conf_expect_value(struct conf *c, const char *key, const void *data, size_t len);
void conf_expect_str(struct conf *c, const char *key, const char *value);
/** get and stat both say TESS_ENOTFOUND, naming the key. */
void conf_expect_missing(struct conf *c, const char *key);
/** Write an object through a writer in one piece and commit; returns commit's rc. */
int conf_write_stream(struct conf *c, const char *key, const void *data, size_t len,
                      unsigned flags);

/** Wall clock in ns since the epoch. */
int64_t conf_now_ns(void);
/** mtime is 0 (unknown) or within minutes of now. */
int conf_mtime_plausible(int64_t mtime_ns);

/* ---- listing ----------------------------------------------------------- */

/** A listing entry as the tests keep it (owned copies). */
struct conf_entry {
	char *name;
	int is_prefix;
	uint64_t size;
};

struct conf_entries {
	struct conf_entry *v;
	size_t n, cap;
};

void conf_entries_add(struct conf_entries *list, const char *name, int is_prefix,
                      uint64_t size);
void conf_entries_free(struct conf_entries *list);

/**
 * The whole listing gathered page by page (page size `page_size`), checking
 * each page against the paging contract.  Returns 0 or the backend's code.
 */
int conf_list_all(struct conf *c, const char *prefix, const char *delimiter,
                  const char *start_after, size_t page_size, struct conf_entries *out);

/** Assert the store holds no object at all (listing "" with and without "/"). */
void conf_expect_empty_store(struct conf *c);

/* ---- put_many / get_many, with the store's loop fallback ---------------- */

int conf_put_many(struct conf *c, tess_put_req *reqs, size_t n);
int conf_get_many(struct conf *c, tess_get_req *reqs, size_t n);

/* ---- the groups, one per source file ------------------------------------ */

int conf_run_basic(void);
int conf_run_list(void);
int conf_run_batch(void);
int conf_run_concurrency(void);
int conf_run_big(void);

#endif
