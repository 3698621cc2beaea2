/* The thread pool: every task runs once, failures by lowest index, messages
 * carried to the caller, concurrent batches, nesting, inline pools. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/error.h"
#include "util/pool.h"

/* ---- every task runs exactly once ------------------------------------------ */

typedef struct count_job {
	size_t n;
	atomic_uint *runs;   /* per index */
	uint64_t *results;   /* per index, written by the task */
} count_job;

static int count_task(size_t i, void *arg)
{
	count_job *job = arg;
	if (i >= job->n)
		return tess_err(TESS_ERANGE, "task index %zu out of %zu", i, job->n);
	atomic_fetch_add(&job->runs[i], 1);
	job->results[i] = (uint64_t)i * 3 + 1;
	return 0;
}

static void check_all_ran(tess_pool *pool, size_t n)
{
	count_job job = {n, calloc(n ? n : 1, sizeof(atomic_uint)),
	                 calloc(n ? n : 1, sizeof(uint64_t))};
	assert_non_null(job.runs);
	assert_non_null(job.results);
	int rc = tess_pool_run(pool, n, count_task, &job);
	if (rc)
		fail_msg("pool of %u, %zu tasks: %d: %s", tess_pool_size(pool), n, rc, tess_errmsg());
	for (size_t i = 0; i < n; i++) {
		if (atomic_load(&job.runs[i]) != 1)
			fail_msg("pool of %u, %zu tasks: task %zu ran %u times", tess_pool_size(pool), n,
			         i, atomic_load(&job.runs[i]));
		assert_int_equal(job.results[i], (uint64_t)i * 3 + 1);
	}
	free(job.runs);
	free(job.results);
}

static void test_counts(void **state)
{
	(void)state;
	static const unsigned sizes[] = {1, 2, 4, 7};
	static const size_t counts[] = {0, 1, 2, 3, 10, 1000, 100000};
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		tess_pool *pool;
		assert_int_equal(tess_pool_create(&pool, sizes[s]), 0);
		assert_int_equal(tess_pool_size(pool), sizes[s]);
		for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++)
			check_all_ran(pool, counts[c]);
		tess_pool_destroy(pool);
	}
	check_all_ran(NULL, 0);
	check_all_ran(NULL, 1000);
	assert_int_equal(tess_pool_size(NULL), 1);
	tess_pool_destroy(NULL);
}

/* Many small batches back to back: no lost wake-ups, no stale state. */
static void test_many_small_batches(void **state)
{
	(void)state;
	tess_pool *pool;
	assert_int_equal(tess_pool_create(&pool, 4), 0);
	for (size_t k = 0; k < 3000; k++)
		check_all_ran(pool, k % 9);
	tess_pool_destroy(pool);
}

/* ---- failures ---------------------------------------------------------------- */

typedef struct fail_job {
	size_t n;
	size_t fail_a, fail_b;  /* indices that fail (SIZE_MAX: none) */
	unsigned slow_ms;       /* fail_a sleeps this long before failing */
	atomic_uint ran_below;  /* tasks below fail_a that ran */
	atomic_uint ran_total;
	pthread_t caller;
	atomic_uint on_worker;  /* failures that happened off the caller's thread */
} fail_job;

static int fail_task(size_t i, void *arg)
{
	fail_job *job = arg;
	atomic_fetch_add(&job->ran_total, 1);
	if (i < job->fail_a)
		atomic_fetch_add(&job->ran_below, 1);
	if (i == job->fail_a || i == job->fail_b) {
		if (i == job->fail_a && job->slow_ms)
			usleep(job->slow_ms * 1000);
		if (!pthread_equal(pthread_self(), job->caller))
			atomic_fetch_add(&job->on_worker, 1);
		return tess_err(i == job->fail_a ? TESS_ECORRUPT : TESS_EIO, "task %zu failed", i);
	}
	return 0;
}

static void run_failing(tess_pool *pool, fail_job *job)
{
	job->caller = pthread_self();
	tess_error_clear();
	int rc = tess_pool_run(pool, job->n, fail_task, job);
	char want[64];
	snprintf(want, sizeof want, "task %zu failed", job->fail_a);
	if (rc != TESS_ECORRUPT || strcmp(tess_errmsg(), want) != 0)
		fail_msg("pool of %u: returned %d \"%s\", expected %d \"%s\"", tess_pool_size(pool),
		         rc, tess_errmsg(), TESS_ECORRUPT, want);
	if (atomic_load(&job->ran_below) != job->fail_a)
		fail_msg("only %u of the %zu tasks below the failure ran",
		         atomic_load(&job->ran_below), job->fail_a);
}

static void test_lowest_failure_wins(void **state)
{
	(void)state;
	static const unsigned sizes[] = {1, 2, 4};
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		tess_pool *pool;
		assert_int_equal(tess_pool_create(&pool, sizes[s]), 0);
		/* A single failure in the middle, at the start and at the end. */
		size_t at[] = {7, 0, 99999};
		for (size_t k = 0; k < 3; k++) {
			fail_job job = {.n = 100000, .fail_a = at[k], .fail_b = SIZE_MAX};
			run_failing(pool, &job);
		}
		/* The higher index fails first (task 10 is slow): 10 still wins, and the
		 * tasks past 90000 are mostly skipped. */
		fail_job job = {.n = 100000, .fail_a = 10, .fail_b = 90000, .slow_ms = 30};
		run_failing(pool, &job);
		if (sizes[s] == 1)
			assert_int_equal(atomic_load(&job.ran_total), 11);
		tess_pool_destroy(pool);
	}
}

/* After a failure, the tasks not yet started are skipped. */
typedef struct skip_job {
	atomic_uint ran;
} skip_job;

static int skip_task(size_t i, void *arg)
{
	skip_job *job = arg;
	atomic_fetch_add(&job->ran, 1);
	if (i == 5)
		return tess_err(TESS_ECORRUPT, "task 5 failed");
	usleep(20);  /* slow enough that the rest cannot finish while 5 fails */
	return 0;
}

static void test_skips_after_failure(void **state)
{
	(void)state;
	tess_pool *pool;
	assert_int_equal(tess_pool_create(&pool, 4), 0);
	skip_job job;
	atomic_init(&job.ran, 0);
	assert_int_equal(tess_pool_run(pool, 100000, skip_task, &job), TESS_ECORRUPT);
	assert_string_equal(tess_errmsg(), "task 5 failed");
	unsigned ran = atomic_load(&job.ran);
	if (ran > 10000)
		fail_msg("%u of 100000 tasks ran though task 5 failed", ran);
	tess_pool_destroy(pool);
}

/* A failure on a worker carries its message to the caller's thread. */
static void test_message_from_worker(void **state)
{
	(void)state;
	tess_pool *pool;
	assert_int_equal(tess_pool_create(&pool, 4), 0);
	unsigned on_worker = 0;
	for (int trial = 0; trial < 200 && on_worker < 5; trial++) {
		fail_job job = {.n = 8, .fail_a = 7, .fail_b = SIZE_MAX, .slow_ms = 1};
		run_failing(pool, &job);
		on_worker += atomic_load(&job.on_worker);
	}
	if (on_worker == 0)
		fail_msg("no failure ever ran on a worker thread");
	tess_pool_destroy(pool);
}

static int silent_fail_task(size_t i, void *arg)
{
	(void)arg;
	return i == 3 ? TESS_EBUSY : 0;
}

/* A task that fails without a message still gives the caller one. */
static void test_failure_without_message(void **state)
{
	(void)state;
	tess_pool *pool;
	assert_int_equal(tess_pool_create(&pool, 3), 0);
	tess_pool *pools[] = {pool, NULL};
	for (int k = 0; k < 2; k++) {
		tess_err(TESS_EIO, "stale message");
		assert_int_equal(tess_pool_run(pools[k], 10, silent_fail_task, NULL), TESS_EBUSY);
		assert_string_equal(tess_errmsg(), "task 3 failed: busy");
	}
	tess_pool_destroy(pool);
}

/* ---- inline pools -------------------------------------------------------------- */

typedef struct order_job {
	pthread_t caller;
	size_t next;      /* the index expected next */
	int off_thread;
	int out_of_order;
} order_job;

static int order_task(size_t i, void *arg)
{
	order_job *job = arg;
	if (!pthread_equal(pthread_self(), job->caller))
		job->off_thread = 1;
	if (i != job->next)
		job->out_of_order = 1;
	job->next = i + 1;
	return 0;
}

static void test_size_one_runs_inline(void **state)
{
	(void)state;
	tess_pool *pool;
	assert_int_equal(tess_pool_create(&pool, 1), 0);
	assert_int_equal(tess_pool_size(pool), 1);
	tess_pool *pools[] = {pool, NULL};
	for (int k = 0; k < 2; k++) {
		order_job job = {.caller = pthread_self()};
		assert_int_equal(tess_pool_run(pools[k], 5000, order_task, &job), 0);
		assert_int_equal(job.next, 5000);
		assert_false(job.off_thread);
		assert_false(job.out_of_order);
	}
	tess_pool_destroy(pool);
}

/* ---- concurrency ------------------------------------------------------------------ */

typedef struct thread_arg {
	tess_pool *pool;
	int id;
	int errors;
	char error[256];
} thread_arg;

typedef struct sum_job {
	size_t n;
	int id;
	size_t fail_at;
	atomic_uint_fast64_t sum;
} sum_job;

static int sum_task(size_t i, void *arg)
{
	sum_job *job = arg;
	if (i == job->fail_at)
		return tess_err(TESS_ECONFLICT, "thread %d task %zu failed", job->id, i);
	atomic_fetch_add(&job->sum, (uint_fast64_t)i + 1);
	return 0;
}

static void *batch_thread(void *p)
{
	thread_arg *t = p;
	for (int round = 0; round < 300 && !t->errors; round++) {
		sum_job job = {.n = (size_t)(round * 37 % 2000), .id = t->id, .fail_at = SIZE_MAX};
		int failing = round % 5 == 4 && job.n > 0;
		if (failing)
			job.fail_at = (size_t)(round + t->id) % job.n;
		atomic_init(&job.sum, 0);
		int rc = tess_pool_run(t->pool, job.n, sum_task, &job);
		if (failing) {
			char want[64];
			snprintf(want, sizeof want, "thread %d task %zu failed", t->id, job.fail_at);
			if (rc != TESS_ECONFLICT || strcmp(tess_errmsg(), want) != 0) {
				snprintf(t->error, sizeof t->error, "round %d: %d \"%s\", expected \"%s\"",
				         round, rc, tess_errmsg(), want);
				t->errors++;
			}
			continue;
		}
		uint64_t want = (uint64_t)job.n * (job.n + 1) / 2;
		if (rc != 0 || atomic_load(&job.sum) != want) {
			snprintf(t->error, sizeof t->error, "round %d: rc %d, sum %llu, expected %llu",
			         round, rc, (unsigned long long)atomic_load(&job.sum),
			         (unsigned long long)want);
			t->errors++;
		}
	}
	return NULL;
}

static void run_concurrently(tess_pool *pool)
{
	enum { THREADS = 4 };
	pthread_t threads[THREADS];
	thread_arg args[THREADS];
	for (int k = 0; k < THREADS; k++) {
		args[k] = (thread_arg){.pool = pool, .id = k};
		assert_int_equal(pthread_create(&threads[k], NULL, batch_thread, &args[k]), 0);
	}
	for (int k = 0; k < THREADS; k++)
		pthread_join(threads[k], NULL);
	for (int k = 0; k < THREADS; k++)
		if (args[k].errors)
			fail_msg("thread %d: %s", k, args[k].error);
}

static void test_concurrent_batches(void **state)
{
	(void)state;
	static const unsigned sizes[] = {1, 2, 3, 8};
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		tess_pool *pool;
		assert_int_equal(tess_pool_create(&pool, sizes[s]), 0);
		run_concurrently(pool);
		tess_pool_destroy(pool);
	}
}

/* A task may run a batch of its own on the same pool. */
typedef struct nest_job {
	tess_pool *pool;
	atomic_uint inner_runs;
} nest_job;

static int inner_task(size_t i, void *arg)
{
	nest_job *job = arg;
	(void)i;
	atomic_fetch_add(&job->inner_runs, 1);
	return 0;
}

static int outer_task(size_t i, void *arg)
{
	nest_job *job = arg;
	int rc = tess_pool_run(job->pool, 100, inner_task, job);
	if (rc == 0 && i == 13)
		rc = tess_err(TESS_EIO, "outer %zu failed", i);
	return rc;
}

static void test_nested_batches(void **state)
{
	(void)state;
	tess_pool *pool;
	assert_int_equal(tess_pool_create(&pool, 4), 0);
	nest_job job = {.pool = pool};
	atomic_init(&job.inner_runs, 0);
	assert_int_equal(tess_pool_run(pool, 13, outer_task, &job), 0);
	assert_int_equal(atomic_load(&job.inner_runs), 1300);
	assert_int_equal(tess_pool_run(pool, 50, outer_task, &job), TESS_EIO);
	assert_string_equal(tess_errmsg(), "outer 13 failed");
	tess_pool_destroy(pool);
}

/* ---- the default pool ---------------------------------------------------------------- */

static void test_default_pool(void **state)
{
	(void)state;
	tess_pool *pool = tess_pool_default();
	assert_non_null(pool);
	assert_ptr_equal(pool, tess_pool_default());
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	assert_int_equal(tess_pool_size(pool), cpus < 1 ? 1 : (unsigned)cpus);
	check_all_ran(pool, 10000);
	run_concurrently(pool);

	tess_pool *sized;
	assert_int_equal(tess_pool_create(&sized, 0), 0);
	assert_int_equal(tess_pool_size(sized), tess_pool_size(pool));
	tess_pool_destroy(sized);
}

/* In a child after fork() the workers are gone: runs happen inline. */
static void test_after_fork(void **state)
{
	(void)state;
	tess_pool *pool;
	assert_int_equal(tess_pool_create(&pool, 4), 0);
	check_all_ran(pool, 1000);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		order_job job = {.caller = pthread_self()};
		int rc = tess_pool_run(pool, 1000, order_task, &job);
		_exit(rc == 0 && job.next == 1000 && !job.off_thread && !job.out_of_order ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	tess_pool_destroy(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_many_small_batches),
		cmocka_unit_test(test_lowest_failure_wins),
		cmocka_unit_test(test_skips_after_failure),
		cmocka_unit_test(test_message_from_worker),
		cmocka_unit_test(test_failure_without_message),
		cmocka_unit_test(test_size_one_runs_inline),
		cmocka_unit_test(test_concurrent_batches),
		cmocka_unit_test(test_nested_batches),
		cmocka_unit_test(test_default_pool),
		cmocka_unit_test(test_after_fork),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
