/*
 * A fixed-size thread pool running batches of independent tasks.
 *
 * A batch lives on the stack of the thread that called tess_pool_run and is
 * queued on the pool until all its task indices are claimed.  Indices are
 * claimed with one atomic fetch-add each, in increasing order, by the caller
 * and by any worker that joined the batch, so a task costs no lock and no
 * allocation.  Workers join and leave a batch under the pool's lock and the
 * caller returns once it has run out of indices and no worker is left on the
 * batch: at that point every claimed task has finished, and the lock hands
 * the tasks' writes over to the caller.
 *
 * Failures: the lowest failing index wins.  Indices are claimed in order and
 * the recorded failing index only decreases, so a thread that claims an index
 * above it stops, and every task below the winner has run.
 */
#include "util/pool.h"
#include "util/error.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POOL_MSG_MAX 1024

typedef struct pool_batch {
	tess_pool_fn fn;
	void *arg;
	size_t n;
	atomic_size_t next;        /* next index to claim */
	atomic_size_t fail_index;  /* lowest failed index so far, SIZE_MAX if none */
	int fail_code;             /* these two under the pool lock */
	char fail_msg[POOL_MSG_MAX];
	unsigned workers;          /* workers on this batch, under the pool lock */
	int queued;                /* still on the pool's queue */
	pthread_cond_t left;       /* signalled when the last worker leaves */
	struct pool_batch *prev, *next_batch;
} pool_batch;

struct tess_pool {
	pthread_mutex_t lock;
	pthread_cond_t work;      /* a batch was queued, or the pool stops */
	pool_batch *head, *tail;  /* batches with indices left to claim */
	int stopping;
	unsigned size;            /* threads in total, the callers counted as one */
	unsigned started;         /* workers actually running */
	pid_t pid;                /* the process the workers live in */
	pthread_t *threads;
};

static void queue_push(tess_pool *pool, pool_batch *b)
{
	b->prev = pool->tail;
	b->next_batch = NULL;
	if (pool->tail)
		pool->tail->next_batch = b;
	else
		pool->head = b;
	pool->tail = b;
	b->queued = 1;
}

static void queue_remove(tess_pool *pool, pool_batch *b)
{
	if (!b->queued)
		return;
	if (b->prev)
		b->prev->next_batch = b->next_batch;
	else
		pool->head = b->next_batch;
	if (b->next_batch)
		b->next_batch->prev = b->prev;
	else
		pool->tail = b->prev;
	b->queued = 0;
}

static void record_failure(tess_pool *pool, pool_batch *b, size_t i, int rc)
{
	const char *msg = tess_errmsg();
	pthread_mutex_lock(&pool->lock);
	if (i < atomic_load_explicit(&b->fail_index, memory_order_relaxed)) {
		b->fail_code = rc;
		if (msg[0])
			snprintf(b->fail_msg, sizeof b->fail_msg, "%s", msg);
		else
			snprintf(b->fail_msg, sizeof b->fail_msg, "task %zu failed: %s", i,
			         tess_strerror(rc));
		atomic_store_explicit(&b->fail_index, i, memory_order_release);
	}
	pthread_mutex_unlock(&pool->lock);
}

/* Claim and run indices of b until none are left or a lower one failed. */
static void run_tasks(tess_pool *pool, pool_batch *b)
{
	for (;;) {
		size_t i = atomic_fetch_add_explicit(&b->next, 1, memory_order_relaxed);
		if (i >= b->n || i > atomic_load_explicit(&b->fail_index, memory_order_acquire))
			return;
		/* A stale message from an earlier task must not stand for this one. */
		tess_error_clear();
		int rc = b->fn(i, b->arg);
		if (rc != 0)
			record_failure(pool, b, i, rc);
	}
}

static void *worker_main(void *arg)
{
	tess_pool *pool = arg;
	pthread_mutex_lock(&pool->lock);
	for (;;) {
		while (!pool->stopping && !pool->head)
			pthread_cond_wait(&pool->work, &pool->lock);
		if (pool->stopping)
			break;
		pool_batch *b = pool->head;
		b->workers++;
		pthread_mutex_unlock(&pool->lock);
		run_tasks(pool, b);
		pthread_mutex_lock(&pool->lock);
		/* No index is left to claim: nobody else should join. */
		queue_remove(pool, b);
		if (--b->workers == 0)
			pthread_cond_signal(&b->left);
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

static unsigned online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 4096 ? 4096 : (unsigned)n;
}

/* Workers block every signal: they belong to the threads the caller made. */
static int start_workers(tess_pool *pool, unsigned count)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int err = 0;
	while (pool->started < count) {
		err = pthread_create(&pool->threads[pool->started], NULL, worker_main, pool);
		if (err)
			break;
		pool->started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return tess_err(err == EAGAIN || err == ENOMEM ? TESS_ENOMEM : TESS_EIO,
		                "thread pool: starting worker %u of %u: %s", pool->started + 1,
		                count, strerror(err));
	return 0;
}

int tess_pool_create(tess_pool **out, unsigned threads)
{
	*out = NULL;
	if (threads == 0)
		threads = online_cpus();
	tess_pool *pool = calloc(1, sizeof *pool);
	if (!pool)
		return tess_err(TESS_ENOMEM, "thread pool: out of memory");
	pool->size = threads;
	pool->pid = getpid();
	if (threads > 1) {
		pool->threads = calloc(threads - 1, sizeof *pool->threads);
		if (!pool->threads) {
			free(pool);
			return tess_err(TESS_ENOMEM, "thread pool: out of memory for %u threads",
			                threads);
		}
	}
	int err = pthread_mutex_init(&pool->lock, NULL);
	if (!err && (err = pthread_cond_init(&pool->work, NULL)) != 0)
		pthread_mutex_destroy(&pool->lock);
	if (err) {
		free(pool->threads);
		free(pool);
		return tess_err(TESS_EIO, "thread pool: initialising the lock: %s", strerror(err));
	}
	int rc = start_workers(pool, threads - 1);
	if (rc) {
		tess_pool_destroy(pool);
		return rc;
	}
	*out = pool;
	return 0;
}

void tess_pool_destroy(tess_pool *pool)
{
	if (!pool)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = 1;
	pthread_cond_broadcast(&pool->work);
	pthread_mutex_unlock(&pool->lock);
	for (unsigned i = 0; i < pool->started; i++)
		pthread_join(pool->threads[i], NULL);
	pthread_cond_destroy(&pool->work);
	pthread_mutex_destroy(&pool->lock);
	free(pool->threads);
	free(pool);
}

unsigned tess_pool_size(const tess_pool *pool)
{
	return pool ? pool->size : 1;
}

/* Everything on the calling thread, in order: the first failure is the lowest. */
static int run_inline(size_t n, tess_pool_fn fn, void *arg)
{
	for (size_t i = 0; i < n; i++) {
		tess_error_clear();
		int rc = fn(i, arg);
		if (rc != 0) {
			if (!tess_errmsg()[0])
				tess_err(rc, "task %zu failed: %s", i, tess_strerror(rc));
			return rc;
		}
	}
	return 0;
}

/* Wake as many idle workers as there are tasks beyond the caller's first. */
static void wake_workers(tess_pool *pool, size_t n)
{
	if (n - 1 >= pool->started) {
		pthread_cond_broadcast(&pool->work);
		return;
	}
	for (size_t k = 1; k < n; k++)
		pthread_cond_signal(&pool->work);
}

int tess_pool_run(tess_pool *pool, size_t n, tess_pool_fn fn, void *arg)
{
	if (n > SIZE_MAX / 2)
		return tess_err(TESS_EINVAL, "thread pool: %zu tasks is too many", n);
	/* In a child after fork() the workers are gone (and the lock may be held
	 * by one of them): run there on the calling thread alone. */
	if (!pool || pool->started == 0 || n <= 1 || pool->pid != getpid())
		return run_inline(n, fn, arg);

	pool_batch b = {.fn = fn, .arg = arg, .n = n, .fail_code = 0};
	atomic_init(&b.next, 0);
	atomic_init(&b.fail_index, SIZE_MAX);
	int err = pthread_cond_init(&b.left, NULL);
	if (err)
		return tess_err(TESS_EIO, "thread pool: initialising a condition: %s", strerror(err));

	pthread_mutex_lock(&pool->lock);
	queue_push(pool, &b);
	wake_workers(pool, n);
	pthread_mutex_unlock(&pool->lock);

	run_tasks(pool, &b);

	pthread_mutex_lock(&pool->lock);
	queue_remove(pool, &b);
	while (b.workers > 0)
		pthread_cond_wait(&b.left, &pool->lock);
	pthread_mutex_unlock(&pool->lock);
	pthread_cond_destroy(&b.left);

	if (b.fail_code != 0)
		return tess_err(b.fail_code, "%s", b.fail_msg);
	return 0;
}

/*
 * The default pool is created on first use and never destroyed: tasks of
 * other threads may still be running when the process exits, and its idle
 * workers do not keep the process alive.  The static pointer keeps it
 * reachable, so leak checkers do not report it.  If it cannot be created,
 * tess_pool_default() returns NULL and tess_pool_run runs inline.
 */
static tess_pool *default_pool;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void create_default_pool(void)
{
	if (tess_pool_create(&default_pool, 0) != 0)
		default_pool = NULL;
}

tess_pool *tess_pool_default(void)
{
	pthread_once(&default_once, create_default_pool);
	return default_pool;
}
