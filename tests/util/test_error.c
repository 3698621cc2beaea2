/* Error codes and messages: tess_strerror, tess_err and the thread-local message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include "util/error.h"

static const int all_codes[] = {
	TESS_OK,        TESS_EINVAL,   TESS_ENOTFOUND, TESS_EEXISTS, TESS_EIO,
	TESS_ECORRUPT,  TESS_ENOTSUP,  TESS_ECONFLICT, TESS_ENOMEM,  TESS_EAUTH,
	TESS_EBUSY,     TESS_EVERSION, TESS_EPERM,     TESS_ERANGE,  TESS_ITEROVER,
};
#define NCODES (sizeof all_codes / sizeof all_codes[0])

static void test_strerror_every_code(void **state)
{
	(void)state;
	for (size_t i = 0; i < NCODES; i++) {
		const char *name = tess_strerror(all_codes[i]);
		assert_non_null(name);
		if (name[0] == '\0' || strcmp(name, "unknown error") == 0)
			fail_msg("code %d has no name of its own: \"%s\"", all_codes[i], name);
		for (size_t j = 0; j < i; j++)
			if (strcmp(name, tess_strerror(all_codes[j])) == 0)
				fail_msg("codes %d and %d share the name \"%s\"", all_codes[i],
				         all_codes[j], name);
	}
	assert_string_equal(tess_strerror(TESS_OK), "success");
	assert_string_equal(tess_strerror(TESS_ENOTFOUND), "not found");
	static const int unknown[] = {1, 42, -14, -29, -31, INT_MIN, INT_MAX};
	for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
		assert_string_equal(tess_strerror(unknown[i]), "unknown error");
}

static void test_err_sets_message(void **state)
{
	(void)state;
	tess_error_clear();
	assert_string_equal(tess_errmsg(), "");
	assert_int_equal(tess_err(TESS_EIO, "blob '%s': read: %s", "a/b", "boom"), TESS_EIO);
	assert_string_equal(tess_errmsg(), "blob 'a/b': read: boom");
	assert_int_equal(tess_err_prefix(TESS_EIO, "array '%s': ", "arr"), TESS_EIO);
	assert_string_equal(tess_errmsg(), "array 'arr': blob 'a/b': read: boom");
	tess_error_clear();
	assert_string_equal(tess_errmsg(), "");
}

static void test_err_long_message_is_cut(void **state)
{
	(void)state;
	char big[5000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(tess_err(TESS_EINVAL, "key '%s'", big), TESS_EINVAL);
	size_t len = strlen(tess_errmsg());
	assert_true(len > 100 && len < sizeof big);
	assert_int_equal(tess_err_prefix(TESS_EINVAL, "%s", big), TESS_EINVAL);
	assert_true(strlen(tess_errmsg()) < sizeof big);
}

static void *other_thread(void *arg)
{
	const char **seen = arg;
	seen[0] = tess_errmsg()[0] == '\0' ? "empty" : "not empty";
	tess_err(TESS_EBUSY, "set in the other thread");
	return NULL;
}

static void test_message_is_per_thread(void **state)
{
	(void)state;
	tess_err(TESS_EIO, "set in the main thread");
	const char *seen[1] = {NULL};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, other_thread, seen), 0);
	pthread_join(t, NULL);
	assert_string_equal(seen[0], "empty");
	assert_string_equal(tess_errmsg(), "set in the main thread");
}

static void test_errno_codes(void **state)
{
	(void)state;
	assert_int_equal(tess_errno_code(ENOENT), TESS_ENOTFOUND);
	assert_int_equal(tess_errno_code(EEXIST), TESS_EEXISTS);
	assert_int_equal(tess_errno_code(ENOMEM), TESS_ENOMEM);
	assert_int_equal(tess_errno_code(ENAMETOOLONG), TESS_EINVAL);
	assert_int_equal(tess_errno_code(ENOTDIR), TESS_ECONFLICT);
	assert_int_equal(tess_errno_code(EACCES), TESS_EPERM);
	assert_int_equal(tess_errno_code(EIO), TESS_EIO);
	for (int e = 1; e < 200; e++)
		assert_true(tess_errno_code(e) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strerror_every_code),
		cmocka_unit_test(test_err_sets_message),
		cmocka_unit_test(test_err_long_message_is_cut),
		cmocka_unit_test(test_message_is_per_thread),
		cmocka_unit_test(test_errno_codes),
	};
	return cmocka_run_group_tests_name("error", tests, NULL, NULL);
}
