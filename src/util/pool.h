/*
 * Internal: a fixed-size thread pool for parallel chunk work.
 *
 * Work is submitted as a batch of n independent tasks, fn(i, arg) for i in
 * [0, n), and tess_pool_run returns when all have finished: the caller's
 * thread takes part, so a pool of size 1 (or NULL) runs everything inline.
 * Several threads may call tess_pool_run on one pool at once.
 */
#ifndef TESS_UTIL_POOL_H
#define TESS_UTIL_POOL_H

#include <stddef.h>

typedef struct tess_pool tess_pool;

/** One task; returns 0 or a TESS_E* code (with tess_err message set). */
typedef int (*tess_pool_fn)(size_t i, void *arg);

/**
 * A pool of `threads` workers in total, counting the caller (0: the number
 * of online CPUs).  TESS_ENOMEM / TESS_EIO on failure.
 */
int tess_pool_create(tess_pool **out, unsigned threads);

/** Stop and join the workers.  NULL is a no-op. */
void tess_pool_destroy(tess_pool *pool);

/** Total threads (caller included). */
unsigned tess_pool_size(const tess_pool *pool);

/**
 * Run fn(0..n-1, arg) on the pool and wait for all.  Returns 0, or the code
 * of the first task that failed (by index); its message is copied into the
 * calling thread's tess_errmsg().  After a failure the remaining tasks that
 * have not started are skipped.  pool may be NULL: runs inline.
 */
int tess_pool_run(tess_pool *pool, size_t n, tess_pool_fn fn, void *arg);

/** A process-wide pool sized to the CPUs, created on first use. */
tess_pool *tess_pool_default(void);

#endif
