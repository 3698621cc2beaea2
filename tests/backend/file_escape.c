/*
 * The file backend and symbolic links: a store holding links that point
 * outside its root (planted by someone else) must never let a key read,
 * write, stat, delete or list anything through them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tessera.h"
#include "testutil.h"

static char *tmp, root[4200], outside[4200];
static tess_backend *be;

static void sh(const char *fmt, const char *a, const char *b)
{
	char cmd[9000];
	snprintf(cmd, sizeof cmd, fmt, a, b);
	assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
	tmp = tu_tempdir();
	snprintf(root, sizeof root, "%s/store", tmp);
	snprintf(outside, sizeof outside, "%s/outside", tmp);
	sh("mkdir -p %s/sub %s", root, outside);
	char cmd[9000];
	snprintf(cmd, sizeof cmd, "printf secret > %s/secret.txt", outside);
	assert_int_equal(system(cmd), 0);
	sh("ln -s %s %s/dirlink", outside, root);                     /* dir link out */
	sh("ln -s %s/secret.txt %s/filelink", outside, root);         /* file link out */
	sh("ln -s ../../outside %s/sub/up", root, "");                /* relative escape */
	sh("ln -s %s/sub %s/inner", root, root);                      /* link inside */
	int rc = tess_backend_find("file")->open(&be, root, NULL, 0);
	if (rc)
		fprintf(stderr, "open %s: %s\n", root, tess_errmsg());
	return rc;
}

static int teardown(void **state)
{
	be->ops->close(be);
	tu_rmrf(tmp);
	free(tmp);
	return 0;
}

static void assert_outside_untouched(void)
{
	char cmd[9000];
	snprintf(cmd, sizeof cmd, "test \"$(ls -A %s)\" = secret.txt && test \"$(cat %s/secret.txt)\" = secret",
	         outside, outside);
	assert_int_equal(system(cmd), 0);
}

static void expect_refused(int rc, const char *what)
{
	if (rc != TESS_EPERM && rc != TESS_ENOTFOUND)
		fail_msg("%s: got %d (%s), wanted TESS_EPERM", what, rc, tess_errmsg());
	if (rc == TESS_ENOTFOUND)
		fail_msg("%s: TESS_ENOTFOUND, but a symlink should be named as the reason", what);
}

static void test_links_refused(void **state)
{
	const char *keys[] = {"dirlink/secret.txt", "filelink", "sub/up/secret.txt",
	                      "inner/x", "dirlink/new.txt", "sub/up/new.txt"};
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
		tess_buf buf = {0};
		tess_stat sb;
		expect_refused(be->ops->get(be, keys[i], 0, UINT64_MAX, &buf), keys[i]);
		if (!strstr(tess_errmsg(), "symbolic link"))
			fail_msg("%s: message does not name the link: %s", keys[i], tess_errmsg());
		tess_buf_free(&buf);
		int rc = be->ops->stat(be, keys[i], &sb);
		assert_true(rc == TESS_EPERM || rc == TESS_ENOTFOUND);
		expect_refused(be->ops->put(be, keys[i], "pwned", 5, 0), keys[i]);
		tess_writer *w = NULL;
		rc = be->ops->writer_open(be, &w, keys[i], TESS_SIZE_UNKNOWN, 0);
		if (rc == 0) {
			be->ops->writer_write(w, "pwned", 5);
			expect_refused(be->ops->writer_commit(w), keys[i]);
		} else {
			expect_refused(rc, keys[i]);
		}
		rc = be->ops->del(be, keys[i]);
		assert_true(rc == TESS_EPERM || rc == TESS_ENOTFOUND);
		assert_outside_untouched();
	}
	/* listings skip links: nothing of outside/ shows up */
	tess_list_page page = {0};
	assert_int_equal(be->ops->list(be, "", NULL, NULL, 1000, &page), 0);
	for (size_t i = 0; i < page.count; i++)
		if (strstr(page.entries[i].key, "secret"))
			fail_msg("listing shows '%s' from outside the store", page.entries[i].key);
	tess_list_page_free(&page);
	page = (tess_list_page){0};
	assert_int_equal(be->ops->list(be, "dirlink/", NULL, NULL, 1000, &page), 0);
	assert_int_equal(page.count, 0);
	tess_list_page_free(&page);
	/* a real object next to the links still works */
	assert_int_equal(be->ops->put(be, "sub/ok.txt", "fine", 4, 0), 0);
	assert_outside_untouched();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_links_refused, setup, teardown),
	};
	return cmocka_run_group_tests_name("file backend escape", tests, NULL, NULL);
}
