/*
 * Conformance suite, batches: put_many and get_many (or the store's loop
 * fallback when the backend leaves them NULL) with 500 objects, per-request
 * statuses and IF_ABSENT conflicts reported per request.
 */
#include "conformance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MANY 500
#define UNSET_STATUS 12345 /* a value no backend returns: detects unset statuses */

/* Deterministic value of object i, generation gen; sizes vary, some are 0. */
static size_t many_value(int i, int gen, uint8_t *buf, size_t cap)
{
	size_t len = (size_t)(i * 13 + gen * 5) % 211;
	if (len > cap)
		len = cap;
	for (size_t j = 0; j < len; j++)
		buf[j] = (uint8_t)(i * 7 + gen * 101 + (int)j);
	return len;
}

struct many {
	char keys[MANY][24];
	char new_keys[MANY][24];
	uint8_t values[MANY][256];
	tess_put_req reqs[MANY + 2];
};

static void put_first_generation(struct conf *c, struct many *m)
{
	for (int i = 0; i < MANY; i++) {
		snprintf(m->keys[i], sizeof m->keys[i], "many/%03d", i);
		size_t len = many_value(i, 1, m->values[i], sizeof m->values[i]);
		m->reqs[i] = (tess_put_req){m->keys[i], m->values[i], len, 0, UNSET_STATUS};
	}
	conf_ok(conf_put_many(c, m->reqs, MANY));
	for (int i = 0; i < MANY; i++)
		if (m->reqs[i].status != 0)
			fail_msg("put_many '%s': status %d (%s)", m->keys[i], m->reqs[i].status,
			         tess_strerror(m->reqs[i].status));
	for (int i = 0; i < MANY; i++)
		conf_expect_value(c, m->keys[i], m->values[i], m->reqs[i].len);
}

static void test_put_many(void **state)
{
	struct conf *c = *state;
	struct many *m = calloc(1, sizeof *m);
	assert_non_null(m);
	conf_ok(conf_put_many(c, m->reqs, 0));
	put_first_generation(c, m);

	/* Second batch: i%3 == 0 IF_ABSENT on an existing key (conflict),
	 * i%3 == 1 plain overwrite, i%3 == 2 IF_ABSENT on a new key; plus two
	 * IF_ABSENT requests racing for one new key inside the batch. */
	uint8_t (*gen2)[256] = calloc(MANY, sizeof *gen2);
	assert_non_null(gen2);
	for (int i = 0; i < MANY; i++) {
		size_t len = many_value(i, 2, gen2[i], sizeof gen2[i]);
		const char *key = m->keys[i];
		unsigned flags = i % 3 == 1 ? 0 : TESS_PUT_IF_ABSENT;
		if (i % 3 == 2) {
			snprintf(m->new_keys[i], sizeof m->new_keys[i], "many/new/%03d", i);
			key = m->new_keys[i];
		}
		m->reqs[i] = (tess_put_req){key, gen2[i], len, flags, UNSET_STATUS};
	}
	m->reqs[MANY] = (tess_put_req){"many/dup", "dup-one", 7, TESS_PUT_IF_ABSENT, UNSET_STATUS};
	m->reqs[MANY + 1] = (tess_put_req){"many/dup", "dup-two!", 8, TESS_PUT_IF_ABSENT,
	                                   UNSET_STATUS};
	conf_ok(conf_put_many(c, m->reqs, MANY + 2));
	for (int i = 0; i < MANY; i++) {
		int want = i % 3 == 0 ? TESS_EEXISTS : 0;
		if (m->reqs[i].status != want)
			fail_msg("put_many '%s' (flags %u): status %d (%s), expected %d (%s)",
			         m->reqs[i].key, m->reqs[i].flags, m->reqs[i].status,
			         tess_strerror(m->reqs[i].status), want, tess_strerror(want));
	}
	for (int i = 0; i < MANY; i++) {
		if (i % 3 == 0)
			conf_expect_value(c, m->keys[i], m->values[i],
			                  many_value(i, 1, m->values[i], sizeof m->values[i]));
		else
			conf_expect_value(c, m->reqs[i].key, gen2[i], m->reqs[i].len);
	}
	int s1 = m->reqs[MANY].status, s2 = m->reqs[MANY + 1].status;
	if (!((s1 == 0 && s2 == TESS_EEXISTS) || (s1 == TESS_EEXISTS && s2 == 0)))
		fail_msg("two IF_ABSENT puts of 'many/dup' in one batch: statuses %d and %d, "
		         "expected one 0 and one %d", s1, s2, TESS_EEXISTS);
	conf_expect_str(c, "many/dup", s1 == 0 ? "dup-one" : "dup-two!");

	struct conf_entries got = {0};
	conf_ok(conf_list_all(c, "many/", NULL, NULL, 1000, &got));
	assert_int_equal(got.n, MANY + MANY / 3 + 1);
	conf_entries_free(&got);
	free(gen2);
	free(m);
}

static void test_get_many(void **state)
{
	struct conf *c = *state;
	struct many *m = calloc(1, sizeof *m);
	assert_non_null(m);
	put_first_generation(c, m);
	conf_ok(conf_get_many(c, NULL, 0));

	/* every object whole, then: a missing key, a middle range, offset ==
	 * size, offset > size */
	enum { EXTRA = 4 };
	tess_get_req reqs[MANY + EXTRA];
	tess_buf outs[MANY + EXTRA];
	memset(outs, 0, sizeof outs);
	for (int i = 0; i < MANY; i++)
		reqs[i] = (tess_get_req){m->keys[i], 0, UINT64_MAX, &outs[i], UNSET_STATUS};
	conf_put_str(c, "many/text", "0123456789");
	reqs[MANY] = (tess_get_req){"many/missing", 0, UINT64_MAX, &outs[MANY], UNSET_STATUS};
	reqs[MANY + 1] = (tess_get_req){"many/text", 2, 3, &outs[MANY + 1], UNSET_STATUS};
	reqs[MANY + 2] = (tess_get_req){"many/text", 10, 5, &outs[MANY + 2], UNSET_STATUS};
	reqs[MANY + 3] = (tess_get_req){"many/text", 11, 5, &outs[MANY + 3], UNSET_STATUS};
	conf_ok(conf_get_many(c, reqs, MANY + EXTRA));
	for (int i = 0; i < MANY; i++) {
		if (reqs[i].status != 0)
			fail_msg("get_many '%s': status %d (%s)", reqs[i].key, reqs[i].status,
			         tess_strerror(reqs[i].status));
		size_t len = many_value(i, 1, m->values[i], sizeof m->values[i]);
		if (outs[i].len != len || (len && memcmp(outs[i].data, m->values[i], len) != 0))
			fail_msg("get_many '%s': %zu bytes, expected %zu, or wrong content",
			         reqs[i].key, outs[i].len, len);
	}
	assert_int_equal(reqs[MANY].status, TESS_ENOTFOUND);
	assert_int_equal(outs[MANY].len, 0);
	assert_int_equal(reqs[MANY + 1].status, 0);
	assert_int_equal(outs[MANY + 1].len, 3);
	assert_memory_equal(outs[MANY + 1].data, "234", 3);
	assert_int_equal(reqs[MANY + 2].status, 0);
	assert_int_equal(outs[MANY + 2].len, 0);
	assert_int_equal(reqs[MANY + 3].status, TESS_ERANGE);
	for (int i = 0; i < MANY + EXTRA; i++)
		tess_buf_free(&outs[i]);
	free(m);
}

int conf_run_batch(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_many, conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(test_get_many, conf_setup, conf_teardown),
	};
	return cmocka_run_group_tests_name("batch", tests, NULL, NULL);
}
