/*
 * Lease locks over put-if-absent: they work on every backend, across
 * processes and machines, with no server.  A holder that crashes blocks the
 * others only until its lease runs out.
 *
 * The lock object holds "<expiry ns> <pid> <token> <name>"; the random token
 * makes every lease unique, so a holder deletes only its own lease and a
 * waiter deletes an expired lease only if it is still the same one.  That
 * check-then-delete leaves a window of microseconds in which two waiters of
 * one expired lease could both go on; leases (30 s) are long next to the
 * metadata updates they guard (ms), so it takes a crashed holder and a race
 * inside that window.
 */
#include "store/internal.h"
#include "util/error.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define LEASE_TEXT_MAX 160

struct tess_lock {
	tess_store *st;
	char key[64];
	char text[LEASE_TEXT_MAX]; /* what we put: our lease */
};

static uint64_t fnv1a64(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static uint64_t random_token(void)
{
	uint64_t t;
	if (getrandom(&t, sizeof t, 0) != (ssize_t)sizeof t)
		t = (uint64_t)tess_now_ns() ^ ((uint64_t)getpid() << 32);
	return t;
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = {ns / 1000000000LL, ns % 1000000000LL};
	nanosleep(&ts, NULL);
}

/* The current lease text at lk->key into buf; 0, TESS_ENOTFOUND or error. */
static int lease_read(tess_lock *lk, char *buf)
{
	tess_buf view = tess_buf_fixed(buf, LEASE_TEXT_MAX - 1);
	int rc = lk->st->ops->get(lk->st->be, lk->key, 0, LEASE_TEXT_MAX - 1, &view);
	buf[rc ? 0 : view.len] = '\0';
	return rc;
}

/* Delete the lease at lk->key if it expired; 1 if it was (or vanished). */
static int break_if_expired(tess_lock *lk)
{
	char seen[LEASE_TEXT_MAX], again[LEASE_TEXT_MAX];
	int rc = lease_read(lk, seen);
	if (rc == TESS_ENOTFOUND)
		return 1;
	long long expires;
	if (rc || sscanf(seen, "%lld", &expires) != 1 || expires > tess_now_ns())
		return 0;
	if (lease_read(lk, again) != 0 || strcmp(seen, again) != 0)
		return 0;
	lk->st->ops->del(lk->st->be, lk->key);
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
	uint64_t token = random_token();
	int64_t deadline = tess_now_ns() + TESS_LOCK_WAIT_NS;
	int64_t backoff = 200000; /* 0.2 ms, doubling to 50 ms */
	for (;;) {
		int n = snprintf(lk->text, sizeof lk->text, "%lld %ld %016llx %.80s\n",
		                 (long long)(tess_now_ns() + TESS_LOCK_LEASE_NS), (long)getpid(),
		                 (unsigned long long)token, name);
		int rc = st->ops->put(st->be, lk->key, lk->text, (size_t)n, TESS_PUT_IF_ABSENT);
		if (rc == 0) {
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
		sleep_ns(backoff / 2 + (int64_t)(random_token() % (uint64_t)(backoff / 2 + 1)));
		if (backoff < 50000000)
			backoff *= 2;
	}
}

void tess_lock_release(tess_lock *lk)
{
	if (!lk)
		return;
	/* Only delete our own lease: an expired one may have been broken and
	 * taken by another process since. */
	char now[LEASE_TEXT_MAX];
	if (lease_read(lk, now) == 0 && strcmp(now, lk->text) == 0)
		lk->st->ops->del(lk->st->be, lk->key);
	free(lk);
}
