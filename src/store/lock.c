/*
 * Lease locks over put-if-absent: they work on every backend, across
 * processes and machines, with no server.  A holder that crashes blocks the
 * others only until its lease runs out.
 *
 * Breaking an expired lease is a check-then-delete, so two waiters that both
 * see the same expired lease could, in a window of microseconds, both go on;
 * we re-check the etag right before deleting to keep that window tiny.
 * Leases are long (30 s) next to the metadata updates they guard (ms).
 */
#include "store/internal.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct tess_lock {
	tess_store *st;
	char key[64];
	char etag[sizeof(((tess_stat *)0)->etag)];
};

static uint64_t fnv1a64(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = {ns / 1000000000LL, ns % 1000000000LL};
	nanosleep(&ts, NULL);
}

/* Delete the lease at lk->key if it expired; 1 if it was (or vanished). */
static int break_if_expired(tess_lock *lk)
{
	tess_store *st = lk->st;
	tess_stat before, now;
	tess_buf buf = {0};
	if (st->ops->stat(st->be, lk->key, &before) == TESS_ENOTFOUND)
		return 1;
	if (st->ops->get(st->be, lk->key, 0, 64, &buf) != 0) {
		tess_buf_free(&buf);
		return 0;
	}
	long long expires = 0;
	char text[65] = {0};
	memcpy(text, buf.data, buf.len < 64 ? buf.len : 64);
	tess_buf_free(&buf);
	if (sscanf(text, "%lld", &expires) != 1 || expires > tess_now_ns())
		return 0;
	if (st->ops->stat(st->be, lk->key, &now) || strcmp(now.etag, before.etag) != 0)
		return 0;
	st->ops->del(st->be, lk->key);
	return 1;
}

int tess_lock_acquire(tess_lock **out, tess_store *st, const char *name)
{
	*out = NULL;
	tess_lock *lk = calloc(1, sizeof *lk);
	if (!lk)
		return tess_err(TESS_ENOMEM, "lock '%s': out of memory", name);
	lk->st = st;
	snprintf(lk->key, sizeof lk->key, TESS_RESERVED_DIR "/locks/%016llx",
	         (unsigned long long)fnv1a64(name));
	int64_t deadline = tess_now_ns() + TESS_LOCK_WAIT_NS;
	int64_t backoff = 200000; /* 0.2 ms, doubling to 50 ms */
	for (;;) {
		char text[96];
		int n = snprintf(text, sizeof text, "%lld %ld %s\n",
		                 (long long)(tess_now_ns() + TESS_LOCK_LEASE_NS), (long)getpid(), name);
		if ((size_t)n >= sizeof text)
			n = sizeof text - 1;
		int rc = st->ops->put(st->be, lk->key, text, (size_t)n, TESS_PUT_IF_ABSENT);
		if (rc == 0) {
			tess_stat sb;
			if (st->ops->stat(st->be, lk->key, &sb) == 0)
				memcpy(lk->etag, sb.etag, sizeof lk->etag);
			*out = lk;
			return 0;
		}
		if (rc != TESS_EEXISTS) {
			free(lk);
			return tess_err_prefix(rc, "lock '%s': ", name);
		}
		if (break_if_expired(lk))
			continue;
		if (tess_now_ns() > deadline) {
			rc = tess_err(TESS_EBUSY, "lock '%s' (%s): still held after %lld s",
			              name, lk->key, (long long)(TESS_LOCK_WAIT_NS / 1000000000LL));
			free(lk);
			return rc;
		}
		sleep_ns(backoff / 2 + rand() % (backoff / 2 + 1));
		if (backoff < 50000000)
			backoff *= 2;
	}
}

void tess_lock_release(tess_lock *lk)
{
	if (!lk)
		return;
	tess_store *st = lk->st;
	tess_stat sb;
	/* Only delete our own lease: an expired one may have been broken and
	 * taken by another process since. */
	if (st->ops->stat(st->be, lk->key, &sb) == 0 &&
	    (lk->etag[0] == '\0' || strcmp(sb.etag, lk->etag) == 0))
		st->ops->del(st->be, lk->key);
	free(lk);
}
