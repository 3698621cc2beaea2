/* tess_buf and tess_list_page: the containers backends fill. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "tessera/sys/backend.h"

/* Under AddressSanitizer a failed huge allocation must return NULL, as it
 * does in production, instead of aborting the test. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

static void test_buf_append(void **state)
{
	(void)state;
	tess_buf buf = {0};
	assert_int_equal(tess_buf_append(&buf, "abc", 3), 0);
	assert_int_equal(buf.len, 3);
	assert_true(buf.cap >= 3);
	assert_memory_equal(buf.data, "abc", 3);
	assert_int_equal(tess_buf_append(&buf, NULL, 0), 0);
	assert_int_equal(tess_buf_append(&buf, "", 0), 0);
	assert_int_equal(buf.len, 3);
	assert_int_equal(tess_buf_append(&buf, "defg", 4), 0);
	assert_int_equal(buf.len, 7);
	assert_memory_equal(buf.data, "abcdefg", 7);
	tess_buf_free(&buf);
	assert_null(buf.data);
	assert_int_equal(buf.len, 0);
	assert_int_equal(buf.cap, 0);
	tess_buf_free(&buf); /* twice is fine: the struct was zeroed */
}

static void test_buf_growth_keeps_content(void **state)
{
	(void)state;
	tess_buf buf = {0};
	for (int i = 0; i < 100000; i++) {
		uint8_t byte = (uint8_t)(i * 31);
		assert_int_equal(tess_buf_append(&buf, &byte, 1), 0);
		assert_true(buf.cap >= buf.len);
	}
	assert_int_equal(buf.len, 100000);
	for (int i = 0; i < 100000; i++)
		if (buf.data[i] != (uint8_t)(i * 31))
			fail_msg("byte %d is %u after growth", i, buf.data[i]);
	/* a big append in one go */
	static uint8_t block[1 << 20];
	memset(block, 0x5a, sizeof block);
	assert_int_equal(tess_buf_append(&buf, block, sizeof block), 0);
	assert_int_equal(buf.len, 100000 + sizeof block);
	assert_int_equal(buf.data[99999], (uint8_t)(99999 * 31));
	assert_int_equal(buf.data[buf.len - 1], 0x5a);
	tess_buf_free(&buf);
}

static void test_buf_reserve(void **state)
{
	(void)state;
	tess_buf buf = {0};
	assert_int_equal(tess_buf_reserve(&buf, 0), 0);
	assert_int_equal(buf.len, 0);
	assert_int_equal(tess_buf_reserve(&buf, 1000), 0);
	assert_non_null(buf.data);
	assert_true(buf.cap >= 1000);
	assert_int_equal(buf.len, 0);

	/* room is what reserve promises: appending it does not move the data */
	assert_int_equal(tess_buf_append(&buf, "xy", 2), 0);
	assert_int_equal(tess_buf_reserve(&buf, 5000), 0);
	assert_true(buf.cap - buf.len >= 5000);
	uint8_t *before = buf.data;
	size_t cap = buf.cap;

	/* reserving less than what is free changes nothing */
	assert_int_equal(tess_buf_reserve(&buf, 1), 0);
	assert_int_equal(tess_buf_reserve(&buf, 5000), 0);
	assert_ptr_equal(buf.data, before);
	assert_int_equal(buf.cap, cap);

	static uint8_t fill[5000];
	assert_int_equal(tess_buf_append(&buf, fill, sizeof fill), 0);
	assert_ptr_equal(buf.data, before);
	assert_int_equal(buf.cap, cap);
	assert_memory_equal(buf.data, "xy", 2);
	tess_buf_free(&buf);
}

static void test_buf_reserve_too_much(void **state)
{
	(void)state;
	tess_buf buf = {0};
	assert_int_equal(tess_buf_append(&buf, "keep", 4), 0);
	uint8_t *data = buf.data;
	size_t cap = buf.cap;

	/* len + extra overflows size_t */
	tess_error_clear();
	assert_int_equal(tess_buf_reserve(&buf, SIZE_MAX), TESS_ENOMEM);
	assert_true(tess_errmsg()[0] != '\0');
	assert_ptr_equal(buf.data, data);
	assert_int_equal(buf.cap, cap);
	assert_int_equal(buf.len, 4);

	/* representable but impossible to allocate */
	tess_error_clear();
	assert_int_equal(tess_buf_reserve(&buf, SIZE_MAX / 2), TESS_ENOMEM);
	assert_true(tess_errmsg()[0] != '\0');
	assert_ptr_equal(buf.data, data);
	assert_int_equal(buf.cap, cap);
	assert_int_equal(tess_buf_append(&buf, "!", 1), 0);
	assert_memory_equal(buf.data, "keep!", 5);
	tess_buf_free(&buf);
}

static void test_list_page(void **state)
{
	(void)state;
	tess_list_page page = {0};
	assert_int_equal(tess_list_page_add(&page, "a/b", 3, 0, 42, 7), 0);
	/* the key is copied for key_len bytes and terminated */
	assert_int_equal(tess_list_page_add(&page, "c/dXXX", 2, 1, 0, 0), 0);
	assert_int_equal(page.count, 2);
	assert_string_equal(page.entries[0].key, "a/b");
	assert_false(page.entries[0].is_prefix);
	assert_int_equal(page.entries[0].size, 42);
	assert_int_equal(page.entries[0].mtime_ns, 7);
	assert_string_equal(page.entries[1].key, "c/");
	assert_true(page.entries[1].is_prefix);

	char key[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof key, "k%04d", i);
		assert_int_equal(tess_list_page_add(&page, key, strlen(key), 0, (uint64_t)i, i), 0);
	}
	assert_int_equal(page.count, 1002);
	assert_true(page.cap >= page.count);
	assert_string_equal(page.entries[1001].key, "k0999");
	assert_int_equal(page.entries[1001].size, 999);

	/* clear keeps the memory for reuse */
	page.truncated = 1;
	size_t cap = page.cap;
	tess_list_page_clear(&page);
	assert_int_equal(page.count, 0);
	assert_false(page.truncated);
	assert_int_equal(page.cap, cap);
	assert_non_null(page.entries);
	assert_int_equal(tess_list_page_add(&page, "again", 5, 0, 1, 1), 0);
	assert_string_equal(page.entries[0].key, "again");

	tess_list_page_free(&page);
	assert_null(page.entries);
	assert_int_equal(page.count, 0);
	assert_int_equal(page.cap, 0);
	tess_list_page_free(&page);
	tess_list_page_clear(&page);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_append),
		cmocka_unit_test(test_buf_growth_keeps_content),
		cmocka_unit_test(test_buf_reserve),
		cmocka_unit_test(test_buf_reserve_too_much),
		cmocka_unit_test(test_list_page),
	};
	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
