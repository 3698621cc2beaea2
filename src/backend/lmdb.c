/*
 * The lmdb backend: every object is one record of an LMDB environment.
 *
 * Layout (shared with zarr-python 2.13's zarr.storage.LMDBStore, so either
 * can open what the other wrote): the main (unnamed) database only; record
 * key = the store key's UTF-8 bytes, record value = the object's bytes;
 * nothing else is stored.  A location that is an existing directory is an
 * environment in subdir mode (dir/data.mdb + dir/lock.mdb, what
 * LMDBStore(path) makes); anything else is a single data file plus
 * "<file>-lock" (MDB_NOSUBDIR, what LMDBStore(path, subdir=False) opens).
 *
 * URL query options (joined with '&'):
 *   map_size=BYTES    virtual size of the map (suffix k/m/g/t allowed);
 *                     default 1 TiB on 64-bit (sparse, costs nothing), grown
 *                     automatically when a write finds it full
 *   max_readers=N     reader slots when this process creates the lock file
 *   writemap=0|1      MDB_WRITEMAP (default 1, see below)
 *   readahead=0|1     0 sets MDB_NORDAHEAD (default: 0 with writemap, 1
 *                     without; see below)
 *
 * Durability: neither MDB_NOSYNC nor MDB_NOMETASYNC is ever set, so a commit
 * has reached the disk when mdb_txn_commit returns and a put is durable when
 * it returns.  Each put is one write transaction, hence atomic.
 *
 * MDB_WRITEMAP is on by default (as zarr-python does on Linux).  Without it
 * LMDB keeps every dirty page of a transaction in malloc'ed memory until the
 * commit, so committing a 1 GiB object would need 1 GiB of heap and the
 * streaming writer could not keep its memory bounded.  With it dirty pages
 * are the shared file mapping itself (page cache).  The costs: LMDB sizes the
 * data file to the map size with ftruncate (a sparse file: its apparent size
 * is the map size), and a full disk shows up as SIGBUS when LMDB touches a
 * page the filesystem cannot allocate rather than as an error.  Use
 * writemap=0 on filesystems without sparse files or where a full disk must
 * be an error; large objects then cost their size in heap at commit.
 *
 * Readahead is off (MDB_NORDAHEAD, i.e. MADV_RANDOM on the map) when the map
 * is writable.  With readahead on, faults bring the file in as large
 * page-cache folios, and a store through the map dirties a whole folio, so
 * every commit's msync wrote back far more than LMDB changed: single 4 KiB
 * puts fell from about 4000/s to 300/s over the first 10,000 objects (5 MiB
 * written per put), and after a large object was read or replaced, the puts
 * that reused its pages wrote 1-2 MiB each.  Reads lose the kernel's
 * readahead instead.  Gets and stats of PREFETCH_MIN bytes or more make up
 * for it with MADV_WILLNEED, which reads in large requests but into small
 * folios, and ranges not yet in the page cache are copied with pread from the
 * data file (see read_uncached), whose descriptor is set to
 * POSIX_FADV_RANDOM so that the preads never read ahead on their own.
 * Without writemap nothing writes through the map, and readahead stays on.
 *
 * Streaming writers.  A writer of unknown size spools to an unlinked temp
 * file and copies it into the map at commit.  A writer that knows its size
 * writes in place: writer_open begins a write transaction and reserves the
 * value (MDB_RESERVE), every write copies straight into the reserved space,
 * writer_commit commits; the bytes cross memory once instead of three times.
 * The price is that LMDB's writer lock is held from open to commit (about
 * 2 s per GiB on a plain disk): writers in other processes wait that long.
 * In this process nobody waits for it: any other write (put, put_many, del,
 * the commit of a spooled writer) first takes the transaction away, copying
 * the bytes written so far to a spool file, and the writer goes on spooling.
 * Waiting could deadlock, since the thread asking may be the one that is to
 * commit the writer.  For the same reason one writer at a time per
 * environment writes in place; a second sized writer spools.  LMDB binds a
 * write transaction to the thread that began it (its writer mutex must be
 * unlocked by the thread that locked it), while a tess_writer may move
 * between threads, so a helper thread begins, commits and aborts the held
 * transaction and the writer's callers only copy bytes.  With
 * TESS_PUT_IF_ABSENT the reservation uses MDB_NOOVERWRITE; when the key
 * exists already the writer spools and the check is made again at commit,
 * as the contract says, instead of holding the lock for a doomed stream.
 *
 * Threads and processes: MDB_NOTLS lets a read transaction move between
 * threads, so finished read transactions are reset and pooled for reuse.
 * Write transactions serialize on LMDB's writer lock, across processes too,
 * which makes TESS_PUT_IF_ABSENT (MDB_NOOVERWRITE) race-free.  LMDB forbids
 * opening one environment twice in a process (closing the second handle drops
 * the first one's POSIX locks), so instances on the same file share one
 * environment, reference-counted (the options of the first open apply).  An
 * environment must not be used across fork(): a child has to open the store
 * again (its open will not reuse the parent's environment, and closing an
 * inherited instance leaves the parent's environment untouched).
 */
#include "backend/builtin.h"
#include "util/error.h"
#include "util/fs.h"

#include <lmdb.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define DEFAULT_MAP_SIZE ((size_t)1 << (sizeof(size_t) >= 8 ? 40 : 28))
#define DEFAULT_MAX_READERS 1024u
#define READ_TXN_POOL_MAX 16      /* reset read transactions kept per environment */
#define TXN_RETRIES 4             /* map resized or full: remap and try again */
#define SPOOL_COPY_CHUNK ((size_t)8 << 20)
#define PUT_MANY_TXN_BYTES ((size_t)64 << 20) /* keeps a batch's dirty pages in bounds */
#define LMDB_VALUE_MAX 0xFFFFFFFFull    /* LMDB stores value sizes in 32 bits */
#define PREFETCH_MIN ((size_t)64 << 10) /* reads this large prefetch without readahead */
#define WILLNEED_PIECE ((uintptr_t)128 << 10)
#define PREFETCH_WINDOW ((size_t)8 << 20) /* a large read asks this far ahead */

#if defined(__SANITIZE_ADDRESS__)
#define LMDB_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LMDB_UNDER_ASAN 1
#endif
#endif

#if defined(LMDB_UNDER_ASAN) && MDB_VERSION_FULL < MDB_VERINT(0, 9, 25)
/* LMDB before 0.9.25 leaks its 1 MiB spill list once per write transaction
 * that spills, i.e. every put of a value of about 256 MiB or more (ITS#9155,
 * "free mt_spill_pgs in non-nested txn on end").  Tell LeakSanitizer, so
 * sanitizer builds stay usable; LMDB's other allocations are still checked.
 * Weak, so that a program with its own suppressions wins. */
__attribute__((weak)) const char *__lsan_default_suppressions(void);
__attribute__((weak)) const char *__lsan_default_suppressions(void)
{
	return "leak:mdb_midl_alloc\n";
}
#endif

/* One open LMDB environment, shared by every instance on the same file in
 * this process. */
struct lmdb_env {
	struct lmdb_env *next;
	pid_t pid;                 /* the process that opened it */
	dev_t dev;
	ino_t ino;
	int refs;
	MDB_env *env;
	MDB_dbi dbi;
	size_t max_key;
	char *path;                /* the location, for messages */
	char *spool_dir;           /* where streaming writers spool */
	/* Every transaction of this process holds resize_lock shared;
	 * mdb_env_set_mapsize needs it exclusive (no transaction may be live). */
	pthread_rwlock_t resize_lock;
	pthread_mutex_t pool_lock;
	MDB_txn *pool[READ_TXN_POOL_MAX];
	size_t pool_len;
	int prefetch;              /* readahead is off: large gets use MADV_WILLNEED */
	int data_fd;               /* LMDB's descriptor of the data file, or -1 */
	size_t page_size;          /* LMDB's */
	/* The writer of this process that holds the write transaction, if any.
	 * Lock order: in_place_lock, then the writer's lock. */
	pthread_mutex_t in_place_lock;
	struct lmdb_writer *in_place;
};

struct lmdb_backend {
	tess_backend base;
	struct lmdb_env *e;
};

/* What the helper thread of an in-place writer is told to do, and did. */
enum held_state { HELD_STARTING, HELD_OPEN, HELD_FAILED, HELD_COMMIT, HELD_ABORT };

/* The write transaction of an in-place writer, owned by a helper thread. */
struct held_txn {
	struct lmdb_env *e;
	const char *key;           /* the writer's */
	uint64_t size;
	unsigned put_flags;        /* MDB_RESERVE, maybe MDB_NOOVERWRITE */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum held_state state;
	uint8_t *dst;              /* the reserved space, once HELD_OPEN */
	int rc;                    /* LMDB or errno code of the failed step */
	const char *step;          /* which step failed, for messages */
};

struct lmdb_writer {
	tess_writer base;
	struct lmdb_env *e;
	char *key;
	unsigned flags;
	uint64_t expect;     /* announced size, or TESS_SIZE_UNKNOWN */
	uint64_t size;       /* bytes written so far */
	int failed;          /* code of an earlier failed write, or 0 */
	int spill_errno;     /* why saving the in-place bytes to a spool failed */
	/* Taken by every writer call and by another thread that takes the
	 * transaction away (spill_in_place). */
	pthread_mutex_t lock;
	struct held_txn *held; /* writing in place, else NULL */
	int was_in_place;    /* held once: deregister at commit or abort */
	int fd;              /* spooling: unlinked spool file, else -1 */
};

/* Where a value's bytes come from: memory, or a spool file. */
struct value_src {
	const void *mem;
	int fd;
	uint64_t len;
};

struct open_opts {
	size_t map_size;     /* 0: the default */
	unsigned max_readers;
	int writemap;
	int readahead;
};

static pthread_mutex_t envs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lmdb_env *envs;    /* open environments, all processes' copies */
static struct lmdb_env *orphans; /* a parent's environments a child let go of */

static struct lmdb_env *env_of(tess_backend *be)
{
	return ((struct lmdb_backend *)be)->e;
}

/* ---- errors ---------------------------------------------------------------- */

static int mdb_code(int rc)
{
	switch (rc) {
	case MDB_NOTFOUND: return TESS_ENOTFOUND;
	case MDB_KEYEXIST: return TESS_EEXISTS;
	case MDB_READERS_FULL: return TESS_EBUSY;
	case MDB_BAD_VALSIZE: return TESS_EINVAL;
	case MDB_VERSION_MISMATCH: return TESS_EVERSION;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_INCOMPATIBLE: return TESS_ECORRUPT;
	default: return rc > 0 ? tess_errno_code(rc) : TESS_EIO;
	}
}

/* Report an LMDB failure of `op` on `key` (NULL: the environment). */
static int mdb_fail(const struct lmdb_env *e, int rc, const char *op, const char *key)
{
	if (key)
		return tess_err(mdb_code(rc), "lmdb '%s': %s '%.300s': %s", e->path, op, key,
		                mdb_strerror(rc));
	return tess_err(mdb_code(rc), "lmdb '%s': %s: %s", e->path, op, mdb_strerror(rc));
}

static int check_value_size(const struct lmdb_env *e, const char *op, const char *key,
                            uint64_t len)
{
	if (len > LMDB_VALUE_MAX)
		return tess_err(TESS_ENOTSUP,
		                "lmdb '%s': %s '%.300s': %" PRIu64 " bytes; LMDB values are limited "
		                "to %llu bytes (4 GiB - 1)",
		                e->path, op, key, len, LMDB_VALUE_MAX);
	return 0;
}

static int check_key(const struct lmdb_env *e, const char *op, const char *key, size_t len)
{
	if (len == 0)
		return tess_err(TESS_EINVAL, "lmdb '%s': %s: empty key", e->path, op);
	if (len > e->max_key)
		return tess_err(TESS_EINVAL,
		                "lmdb '%s': %s '%.80s...': key is %zu bytes, LMDB keys are "
		                "limited to %zu bytes",
		                e->path, op, key, len, e->max_key);
	return 0;
}

/* ---- transactions ------------------------------------------------------------ */

static MDB_txn *pool_pop(struct lmdb_env *e)
{
	MDB_txn *txn = NULL;
	pthread_mutex_lock(&e->pool_lock);
	if (e->pool_len)
		txn = e->pool[--e->pool_len];
	pthread_mutex_unlock(&e->pool_lock);
	return txn;
}

static int pool_push(struct lmdb_env *e, MDB_txn *txn)
{
	int kept = 0;
	pthread_mutex_lock(&e->pool_lock);
	if (e->pool_len < READ_TXN_POOL_MAX) {
		e->pool[e->pool_len++] = txn;
		kept = 1;
	}
	pthread_mutex_unlock(&e->pool_lock);
	return kept;
}

/* Free the pooled read transactions (and the reader slots they hold). */
static void pool_drain(struct lmdb_env *e)
{
	pthread_mutex_lock(&e->pool_lock);
	while (e->pool_len)
		mdb_txn_abort(e->pool[--e->pool_len]);
	pthread_mutex_unlock(&e->pool_lock);
}

/* Another process grew the map: adopt its size (needs no live transaction in
 * this process, hence the exclusive lock). */
static void adopt_map_size(struct lmdb_env *e)
{
	pthread_rwlock_wrlock(&e->resize_lock);
	pool_drain(e);
	mdb_env_set_mapsize(e->env, 0);
	pthread_rwlock_unlock(&e->resize_lock);
}

/* Grow a full map so that at least `need` more bytes fit, unless another
 * thread already grew it past `seen`. */
static int grow_map(struct lmdb_env *e, size_t seen, uint64_t need)
{
	pthread_rwlock_wrlock(&e->resize_lock);
	pool_drain(e);
	MDB_envinfo info;
	int rc = mdb_env_info(e->env, &info);
	if (rc == 0 && info.me_mapsize <= seen) {
		size_t cur = info.me_mapsize;
		uint64_t add = need > (SIZE_MAX - cur) / 2 ? SIZE_MAX - cur : 2 * need + ((size_t)64 << 20);
		if (add < cur)
			add = cur;
		size_t grown = add > SIZE_MAX - cur ? SIZE_MAX : cur + (size_t)add;
		rc = mdb_env_set_mapsize(e->env, grown);
	}
	pthread_rwlock_unlock(&e->resize_lock);
	return rc;
}

static size_t current_map_size(struct lmdb_env *e)
{
	MDB_envinfo info;
	return mdb_env_info(e->env, &info) == 0 ? info.me_mapsize : 0;
}

/* Begin a transaction (flags 0 or MDB_RDONLY) holding resize_lock shared.
 * Returns an LMDB code; handles a map grown elsewhere and a full reader
 * table (stale slots of dead processes, our own pooled transactions). */
static int txn_begin(struct lmdb_env *e, unsigned flags, MDB_txn **out)
{
	for (int attempt = 0;; attempt++) {
		pthread_rwlock_rdlock(&e->resize_lock);
		MDB_txn *txn = (flags & MDB_RDONLY) ? pool_pop(e) : NULL;
		int rc;
		if (txn) {
			rc = mdb_txn_renew(txn);
			if (rc)
				mdb_txn_abort(txn);
		} else {
			rc = mdb_txn_begin(e->env, NULL, flags, &txn);
		}
		if (rc == 0) {
			*out = txn;
			return 0;
		}
		pthread_rwlock_unlock(&e->resize_lock);
		if (attempt == TXN_RETRIES)
			return rc;
		if (rc == MDB_MAP_RESIZED) {
			adopt_map_size(e);
		} else if (rc == MDB_READERS_FULL) {
			int dead = 0;
			mdb_reader_check(e->env, &dead);
			pool_drain(e);
		} else {
			return rc;
		}
	}
}

static void read_end(struct lmdb_env *e, MDB_txn *txn)
{
	mdb_txn_reset(txn);
	if (!pool_push(e, txn))
		mdb_txn_abort(txn);
	pthread_rwlock_unlock(&e->resize_lock);
}

static void write_abort(struct lmdb_env *e, MDB_txn *txn)
{
	mdb_txn_abort(txn);
	pthread_rwlock_unlock(&e->resize_lock);
}

static int write_commit(struct lmdb_env *e, MDB_txn *txn)
{
	int rc = mdb_txn_commit(txn);
	pthread_rwlock_unlock(&e->resize_lock);
	return rc;
}

/* ---- options and locations ------------------------------------------------------ */

static int parse_size(const char *text, size_t len, size_t *out)
{
	char buf[32];
	if (len == 0 || len >= sizeof buf)
		return -1;
	memcpy(buf, text, len);
	buf[len] = '\0';
	char *end;
	errno = 0;
	unsigned long long v = strtoull(buf, &end, 10);
	if (errno || end == buf || buf[0] == '-')
		return -1;
	unsigned shift = 0;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: return -1;
	}
	if (*end || v == 0 || v > (unsigned long long)SIZE_MAX >> shift)
		return -1;
	*out = (size_t)(v << shift);
	return 0;
}

static int parse_flag(const char *text, size_t len, int *out)
{
	if (len == 1 && (text[0] == '0' || text[0] == '1')) {
		*out = text[0] == '1';
		return 0;
	}
	return -1;
}

static int parse_option(struct open_opts *o, const char *loc, const char *item, size_t len)
{
	const char *eq = memchr(item, '=', len);
	size_t nlen = eq ? (size_t)(eq - item) : len;
	const char *val = eq ? eq + 1 : item + len;
	size_t vlen = eq ? len - nlen - 1 : 0;
	int bad = -1;
	size_t n = 0;
	if (nlen == 8 && memcmp(item, "map_size", 8) == 0) {
		bad = parse_size(val, vlen, &o->map_size);
	} else if (nlen == 11 && memcmp(item, "max_readers", 11) == 0) {
		bad = parse_size(val, vlen, &n) || n > 1u << 20;
		if (!bad)
			o->max_readers = (unsigned)n;
	} else if (nlen == 8 && memcmp(item, "writemap", 8) == 0) {
		bad = parse_flag(val, vlen, &o->writemap);
	} else if (nlen == 9 && memcmp(item, "readahead", 9) == 0) {
		bad = parse_flag(val, vlen, &o->readahead);
	} else {
		return tess_err(TESS_EINVAL,
		                "lmdb '%s': unknown option '%.*s' (known: map_size, max_readers, "
		                "writemap, readahead)",
		                loc, (int)nlen, item);
	}
	if (bad)
		return tess_err(TESS_EINVAL, "lmdb '%s': bad value in option '%.*s'", loc,
		                (int)len, item);
	return 0;
}

static int parse_query(struct open_opts *o, const char *loc, const char *query)
{
	*o = (struct open_opts){0, DEFAULT_MAX_READERS, 1, -1};
	for (const char *p = query; p && *p;) {
		size_t len = strcspn(p, "&");
		if (len) {
			int rc = parse_option(o, loc, p, len);
			if (rc)
				return rc;
		}
		p += len + (p[len] == '&');
	}
	if (o->readahead < 0)
		o->readahead = !o->writemap; /* see "Readahead" at the top */
	return 0;
}

/* mkdir -p of the directories above `path`. */
static int make_parents(const char *path)
{
	char *copy = strdup(path);
	if (!copy)
		return tess_err(TESS_ENOMEM, "lmdb '%s': out of memory", path);
	int rc = 0;
	for (char *s = strchr(copy + 1, '/'); s && !rc; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(copy, 0777) != 0 && errno != EEXIST)
			rc = tess_err(tess_errno_code(errno), "lmdb '%s': mkdir '%s': %s", path, copy,
			              strerror(errno));
		*s = '/';
	}
	free(copy);
	return rc;
}

static char *parent_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/* How a location is opened. */
struct layout {
	unsigned mdb_flags;  /* 0 or MDB_NOSUBDIR */
	char *data_path;
	char *spool_dir;
	int exists;
	struct stat st;
};

/* Decide subdir mode or not, find the data file and, when it exists, stat it.
 * Returns 0, or TESS_ENOTFOUND/... with a message. */
static int resolve_layout(const char *loc, unsigned flags, struct layout *l)
{
	struct stat st;
	memset(l, 0, sizeof *l);
	/* "lmdb:///new/dir/" asks for a directory (subdir mode) */
	size_t len = strlen(loc);
	if ((flags & TESS_BACKEND_CREATE) && len > 1 && loc[len - 1] == '/') {
		int rc = make_parents(loc);
		if (rc)
			return rc;
	}
	int found = stat(loc, &st) == 0;
	if (found && S_ISDIR(st.st_mode)) {
		if (asprintf(&l->data_path, "%s/data.mdb", loc) < 0)
			l->data_path = NULL;
		l->spool_dir = strdup(loc);
	} else if (found && !S_ISREG(st.st_mode)) {
		return tess_err(TESS_EINVAL, "lmdb '%s': neither a directory nor a regular file", loc);
	} else {
		l->mdb_flags = MDB_NOSUBDIR;
		l->data_path = strdup(loc);
		l->spool_dir = parent_dir(loc);
	}
	if (!l->data_path || !l->spool_dir)
		return tess_err(TESS_ENOMEM, "lmdb '%s': out of memory", loc);
	if (stat(l->data_path, &l->st) == 0) {
		l->exists = 1;
		return 0;
	}
	if (errno != ENOENT)
		return tess_err(tess_errno_code(errno), "lmdb '%s': stat '%s': %s", loc,
		                l->data_path, strerror(errno));
	if (!(flags & TESS_BACKEND_CREATE))
		return tess_err(TESS_ENOTFOUND, "lmdb '%s': no LMDB store there (no '%s')", loc,
		                l->data_path);
	return l->mdb_flags == MDB_NOSUBDIR ? make_parents(loc) : 0;
}

static void layout_free(struct layout *l)
{
	free(l->data_path);
	free(l->spool_dir);
}

/* ---- environments ------------------------------------------------------------------ */

static struct lmdb_env *env_find(const struct stat *st)
{
	pid_t pid = getpid();
	for (struct lmdb_env *e = envs; e; e = e->next)
		if (e->pid == pid && e->dev == st->st_dev && e->ino == st->st_ino)
			return e;
	return NULL;
}

/* Called with envs_lock held, or on an environment not yet published. */
static void env_destroy(struct lmdb_env *e)
{
	/* A forked child must not touch its parent's environment: aborting the
	 * pooled transactions or closing it would free reader slots and locks
	 * the parent still uses.  Keep it, reachable, for the process's life. */
	if (e->env && e->pid != getpid()) {
		e->next = orphans;
		orphans = e;
		return;
	}
	if (e->env) {
		pool_drain(e);
		mdb_env_close(e->env);
	}
	pthread_rwlock_destroy(&e->resize_lock);
	pthread_mutex_destroy(&e->pool_lock);
	pthread_mutex_destroy(&e->in_place_lock);
	free(e->path);
	free(e->spool_dir);
	free(e);
}

/* The map size to ask for.  With MDB_WRITEMAP LMDB ftruncates the data file
 * to the map size, so never ask for less than the file already is: that
 * would cut the file under another process's map. */
static size_t choose_map_size(const struct open_opts *o, const struct layout *l)
{
	size_t size = o->map_size ? o->map_size : DEFAULT_MAP_SIZE;
	if (o->writemap && l->exists && (uint64_t)l->st.st_size > size &&
	    (uint64_t)l->st.st_size <= SIZE_MAX)
		size = (size_t)l->st.st_size;
	return size;
}

static int env_configure(struct lmdb_env *e, const struct open_opts *o, const struct layout *l)
{
	int rc = mdb_env_set_mapsize(e->env, choose_map_size(o, l));
	if (rc == 0)
		rc = mdb_env_set_maxreaders(e->env, o->max_readers);
	if (rc)
		return mdb_fail(e, rc, "configure", NULL);
	unsigned flags = l->mdb_flags | MDB_NOTLS;
	if (o->writemap)
		flags |= MDB_WRITEMAP;
	if (!o->readahead)
		flags |= MDB_NORDAHEAD;
	e->prefetch = !o->readahead;
	rc = mdb_env_open(e->env, e->path, flags, 0666);
	if (rc == ENOENT)
		return tess_err(TESS_ENOTFOUND, "lmdb '%s': open: %s", e->path, mdb_strerror(rc));
	if (rc)
		return mdb_fail(e, rc, "open", NULL);
	int dead;
	mdb_reader_check(e->env, &dead); /* free slots of crashed processes */
	e->max_key = (size_t)mdb_env_get_maxkeysize(e->env);
	MDB_stat st;
	e->page_size = mdb_env_stat(e->env, &st) == 0 ? st.ms_psize : 4096;
	if (mdb_env_get_fd(e->env, &e->data_fd) != 0)
		e->data_fd = -1;
	/* a pread of pages that MADV_WILLNEED missed must not bring in large
	 * folios either (LMDB itself reads nothing through this descriptor) */
	if (e->prefetch && e->data_fd >= 0)
		posix_fadvise(e->data_fd, 0, 0, POSIX_FADV_RANDOM);
	return 0;
}

/* Open the main database and check it is a plain key-value one. */
static int env_open_main_db(struct lmdb_env *e)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return mdb_fail(e, rc, "begin", NULL);
	unsigned db_flags = 0;
	rc = mdb_dbi_open(txn, NULL, 0, &e->dbi);
	if (rc == 0)
		rc = mdb_dbi_flags(txn, e->dbi, &db_flags);
	if (rc) {
		mdb_txn_abort(txn);
		return mdb_fail(e, rc, "open main database", NULL);
	}
	rc = mdb_txn_commit(txn);
	if (rc)
		return mdb_fail(e, rc, "open main database", NULL);
	if (db_flags & (MDB_DUPSORT | MDB_INTEGERKEY | MDB_REVERSEKEY))
		return tess_err(TESS_ECORRUPT,
		                "lmdb '%s': main database has flags 0x%x; a Tessera/Zarr store is a "
		                "plain byte-keyed database",
		                e->path, db_flags);
	return 0;
}

static int env_create(struct lmdb_env **out, const char *loc, const struct open_opts *o,
                      struct layout *l)
{
	struct lmdb_env *e = calloc(1, sizeof *e);
	if (!e)
		return tess_err(TESS_ENOMEM, "lmdb '%s': out of memory", loc);
	e->pid = getpid();
	e->refs = 1;
	e->data_fd = -1;
	pthread_rwlock_init(&e->resize_lock, NULL);
	pthread_mutex_init(&e->pool_lock, NULL);
	pthread_mutex_init(&e->in_place_lock, NULL);
	e->path = strdup(loc);
	e->spool_dir = l->spool_dir;
	l->spool_dir = NULL;
	int rc = e->path ? 0 : tess_err(TESS_ENOMEM, "lmdb '%s': out of memory", loc);
	if (!rc && (rc = mdb_env_create(&e->env)) != 0) {
		e->env = NULL;
		rc = mdb_fail(e, rc, "create environment", NULL);
	}
	if (!rc)
		rc = env_configure(e, o, l);
	if (!rc)
		rc = env_open_main_db(e);
	struct stat st;
	int fd;
	if (!rc && (mdb_env_get_fd(e->env, &fd) != 0 || fstat(fd, &st) != 0))
		rc = tess_err(TESS_EIO, "lmdb '%s': stat data file: %s", loc, strerror(errno));
	if (rc) {
		env_destroy(e);
		return rc;
	}
	e->dev = st.st_dev;
	e->ino = st.st_ino;
	*out = e;
	return 0;
}

/* ---- open and close ---------------------------------------------------------------- */

static int lmdb_open(tess_backend **out, const char *location, const char *query,
                     unsigned flags)
{
	*out = NULL;
	if (!location || !*location)
		return tess_err(TESS_EINVAL, "lmdb: empty location (expected lmdb:///path/x.lmdb)");
	struct open_opts opts;
	int rc = parse_query(&opts, location, query);
	if (rc)
		return rc;
	struct lmdb_backend *lb = calloc(1, sizeof *lb);
	if (!lb)
		return tess_err(TESS_ENOMEM, "lmdb '%s': out of memory", location);
	lb->base.ops = &tess_backend_lmdb_ops;

	struct layout l;
	pthread_mutex_lock(&envs_lock);
	rc = resolve_layout(location, flags, &l);
	if (!rc && l.exists && (lb->e = env_find(&l.st)) != NULL) {
		lb->e->refs++;
	} else if (!rc) {
		rc = env_create(&lb->e, location, &opts, &l);
		if (!rc) {
			lb->e->next = envs;
			envs = lb->e;
		}
	}
	pthread_mutex_unlock(&envs_lock);
	layout_free(&l);
	if (rc) {
		free(lb);
		return rc;
	}
	*out = &lb->base;
	return 0;
}

static void lmdb_close(tess_backend *be)
{
	if (!be)
		return;
	struct lmdb_env *e = env_of(be);
	pthread_mutex_lock(&envs_lock);
	if (--e->refs == 0) {
		for (struct lmdb_env **p = &envs; *p; p = &(*p)->next)
			if (*p == e) {
				*p = e->next;
				break;
			}
		env_destroy(e);
	}
	pthread_mutex_unlock(&envs_lock);
	free(be);
}

/* ---- get and stat ---------------------------------------------------------------- */

/* Ask the kernel to read [p, p+len) of the map in the background, in large
 * requests but into small folios (see "Readahead" at the top).  One
 * MADV_WILLNEED reads at most the device's readahead or request size (8 MiB
 * here, 128 KiB on many disks) and drops the rest, hence the pieces.  Best
 * effort: a failure only costs speed. */
static void map_willneed(const void *p, size_t len)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t from = (uintptr_t)p & ~(page - 1), to = (uintptr_t)p + len;
	for (; from < to; from += WILLNEED_PIECE)
		madvise((void *)from, to - from < WILLNEED_PIECE ? to - from : WILLNEED_PIECE,
		        MADV_WILLNEED);
}

/* Whether every page of [p, p+len) of the map is in the page cache, read
 * (mincore counts pages still being read as missing). */
static int map_resident(const void *p, size_t len)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t from = (uintptr_t)p & ~(page - 1), to = (uintptr_t)p + len;
	unsigned char vec[256];
	while (from < to) {
		size_t pages = (to - from + page - 1) / page;
		if (pages > sizeof vec)
			pages = sizeof vec;
		if (mincore((void *)from, pages * page, vec) != 0)
			return 0;
		for (size_t i = 0; i < pages; i++)
			if (!(vec[i] & 1))
				return 0;
		from += pages * page;
	}
	return 1;
}

/* Fault in [p, p+len) of the map for writing with one call before a large
 * copy into it.  A fault per 4 KiB page (a zero-filled hole, then
 * page_mkwrite) is where most of the time of a large put went; the kernel
 * handles them faster in a loop of its own (a 1 GiB in-place put: 2.5 s
 * without, 2.0 s with).  Best effort: without MADV_POPULATE_WRITE (Linux
 * 5.14) the copy faults as before. */
static void map_prefault(void *p, size_t len)
{
#ifdef MADV_POPULATE_WRITE
	if (len < PREFETCH_MIN)
		return;
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t from = (uintptr_t)p & ~(page - 1);
	madvise((void *)from, (uintptr_t)p + len - from, MADV_POPULATE_WRITE);
#else
	(void)p, (void)len;
#endif
}

/* The header of an LMDB page (MDB_page up to mp_ptrs; PAGEHDRSZ bytes). */
struct page_head {
	size_t pgno;
	uint16_t pad;
	uint16_t flags;
	uint32_t pages;          /* of an overflow page: how many pages the value spans */
};
#define PAGE_OVERFLOW 0x04   /* P_OVERFLOW */
#define VERIFY_BYTES 64

/* The offset in the data file of `src`, a byte of the large value `v`, or -1.
 * LMDB has no call that tells where the map is (me_mapaddr is set only with
 * MDB_FIXEDMAP), but a value this large sits in overflow pages, and in
 * LMDB's data format (0.9, MDB_DATA_VERSION 1) the first one starts with its
 * own page number.  Everything checkable is checked. */
static off_t file_offset(struct lmdb_env *e, const MDB_val *v, const uint8_t *src)
{
	struct page_head h;
	const uint8_t *head = (const uint8_t *)v->mv_data - sizeof h;
	memcpy(&h, head, sizeof h);
	size_t psize = e->page_size, pages = current_map_size(e) / psize;
	if (h.flags != PAGE_OVERFLOW || h.pages != (sizeof h - 1 + v->mv_size) / psize + 1 ||
	    h.pgno > pages || h.pages > pages - h.pgno ||
	    ((uintptr_t)head - h.pgno * psize) % psize != 0)
		return -1;
	return (off_t)(h.pgno * psize + sizeof h) + (src - (const uint8_t *)v->mv_data);
}

static int pread_full(struct lmdb_env *e, const char *key, off_t pos, uint8_t *dst, size_t len)
{
	for (size_t done = 0; done < len;) {
		ssize_t got = pread(e->data_fd, dst + done, len - done, pos + (off_t)done);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return tess_err(TESS_EIO, "lmdb '%s': get '%.300s': read %zu bytes at %lld of the "
			                "data file: %s", e->path, key, len - done,
			                (long long)(pos + (off_t)done),
			                got < 0 ? strerror(errno) : "unexpected end of file");
		done += (size_t)got;
	}
	return 0;
}

/*
 * Append `len` bytes at `src` (in value `v`), not all in the page cache, to
 * `out`, and have the `ahead` bytes after them read too.  The range goes in
 * windows, each asked for (MADV_WILLNEED) while the one before it is copied,
 * with pread from the data file: faulting the pages in through the map, one
 * at a time without readahead, cost twice the CPU and waited for every page
 * in turn, while pread copies straight out of the page cache as it fills.
 * If the file offset cannot be found, or the first bytes read disagree with
 * the map, the bytes come from the map.
 */
static int read_uncached(struct lmdb_env *e, const char *key, const MDB_val *v,
                         const uint8_t *src, size_t len, size_t ahead, tess_buf *out)
{
	off_t pos = e->data_fd >= 0 ? file_offset(e, v, src) : -1;
	int rc = pos < 0 ? 0 : tess_buf_reserve(out, len);
	if (pos < 0 || rc) {
		if (!rc)
			map_willneed(src, len + ahead);
		return rc ? rc : tess_buf_append(out, src, len);
	}
	uint8_t *dst = out->data + out->len;
	map_willneed(src, len < PREFETCH_WINDOW ? len : PREFETCH_WINDOW);
	for (size_t done = 0; done < len;) {
		size_t window = len - done < PREFETCH_WINDOW ? len - done : PREFETCH_WINDOW;
		size_t next = done + window, wanted = len + ahead - next;
		map_willneed(src + next, wanted < PREFETCH_WINDOW ? wanted : PREFETCH_WINDOW);
		if ((rc = pread_full(e, key, pos + (off_t)done, dst + done, window)) != 0)
			return rc;
		done = next;
	}
	if (memcmp(dst, src, len < VERIFY_BYTES ? len : VERIFY_BYTES) != 0)
		memcpy(dst, src, len);
	out->len += len;
	return 0;
}

/* Look `key` up in `txn` and append [offset, offset+length) of it to `out`. */
static int get_in_txn(struct lmdb_env *e, MDB_txn *txn, const char *key, uint64_t offset,
                      uint64_t length, tess_buf *out)
{
	size_t klen = strlen(key);
	int rc = check_key(e, "get", key, klen);
	if (rc)
		return rc;
	MDB_val k = {klen, (void *)key}, v;
	rc = mdb_get(txn, e->dbi, &k, &v);
	if (rc)
		return mdb_fail(e, rc, "get", key);
	if (offset > v.mv_size)
		return tess_err(TESS_ERANGE, "lmdb '%s': get '%.300s': offset %" PRIu64
		                " is past the end (%zu bytes)", e->path, key, offset, v.mv_size);
	uint64_t n = v.mv_size - offset;
	if (length < n)
		n = length;
	const uint8_t *src = (const uint8_t *)v.mv_data + offset;
	if (!e->prefetch || n < PREFETCH_MIN)
		return tess_buf_append(out, src, (size_t)n); /* straight from the map */
	/* Without readahead: have the bytes after the range read too (up to as
	 * many again: a streaming reader's next chunk), and read the range itself
	 * unless it is all in the page cache (then the map is the fastest way). */
	uint64_t ahead = v.mv_size - offset - n;
	if (ahead > n)
		ahead = n;
	if (ahead > PREFETCH_WINDOW)
		ahead = PREFETCH_WINDOW;
	if (!map_resident(src, (size_t)n))
		return read_uncached(e, key, &v, src, (size_t)n, (size_t)ahead, out);
	map_willneed(src + n, (size_t)ahead);
	return tess_buf_append(out, src, (size_t)n);
}

static int lmdb_get(tess_backend *be, const char *key, uint64_t offset, uint64_t length,
                    tess_buf *out)
{
	struct lmdb_env *e = env_of(be);
	MDB_txn *txn;
	int rc = txn_begin(e, MDB_RDONLY, &txn);
	if (rc)
		return mdb_fail(e, rc, "get", key);
	rc = get_in_txn(e, txn, key, offset, length, out);
	read_end(e, txn);
	return rc;
}

static int lmdb_get_many(tess_backend *be, tess_get_req *reqs, size_t n)
{
	struct lmdb_env *e = env_of(be);
	MDB_txn *txn;
	int rc = txn_begin(e, MDB_RDONLY, &txn);
	if (rc) {
		rc = mdb_fail(e, rc, "get_many", n ? reqs[0].key : "");
		for (size_t i = 0; i < n; i++)
			reqs[i].status = rc;
		return rc;
	}
	/* One read transaction: the batch sees one consistent snapshot. */
	for (size_t i = 0; i < n; i++)
		reqs[i].status = get_in_txn(e, txn, reqs[i].key, reqs[i].offset, reqs[i].length,
		                            reqs[i].out);
	read_end(e, txn);
	return 0;
}

/* A fast 64-bit hash (word-wise multiply-xorshift, murmur finalizer).  Not
 * cryptographic: it only has to change when the bytes change. */
static uint64_t hash_bytes(uint64_t h, const void *data, size_t len)
{
	const uint8_t *p = data;
	for (; len >= 8; p += 8, len -= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
		h ^= h >> 29;
	}
	for (; len; p++, len--)
		h = (h ^ *p) * 0x100000001B3ULL;
	return h;
}

static uint64_t hash_final(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xFF51AFD7ED558CCDULL;
	h ^= h >> 33;
	h *= 0xC4CEB9FE1A85EC53ULL;
	return h ^ (h >> 33);
}

/*
 * LMDB keeps no per-record metadata, and the layout (shared with zarr) has
 * no room for any, so mtime is unknown (0) and the etag is a hash of the
 * value: "<size>-<hash>".  Values up to ETAG_FULL_BYTES are hashed whole
 * (about 10 ms for 64 MiB), so any change of their bytes changes the etag.
 * Larger values are sampled (the first and last MiB and 64 KiB every
 * 64 MiB), so stat stays cheap; a change that keeps the size and misses
 * every sample keeps the etag.  Like S3's ETag, putting identical bytes
 * again keeps it: the etag names the content, not the write.
 */
#define ETAG_FULL_BYTES ((size_t)64 << 20)
#define ETAG_EDGE ((size_t)1 << 20)
#define ETAG_STRIDE ((size_t)64 << 20)
#define ETAG_SAMPLE ((size_t)64 << 10)

/* Without readahead, ask for the bytes make_etag hashes before it faults
 * them in one page at a time. */
static void etag_prefetch(const MDB_val *v)
{
	const uint8_t *bytes = v->mv_data;
	if (v->mv_size < PREFETCH_MIN)
		return;
	if (v->mv_size <= ETAG_FULL_BYTES) {
		map_willneed(bytes, v->mv_size);
		return;
	}
	map_willneed(bytes, ETAG_EDGE);
	for (size_t off = ETAG_STRIDE; off + ETAG_SAMPLE < v->mv_size; off += ETAG_STRIDE)
		map_willneed(bytes + off, ETAG_SAMPLE);
	map_willneed(bytes + v->mv_size - ETAG_EDGE, ETAG_EDGE);
}

static void make_etag(const MDB_val *v, char *etag, size_t cap)
{
	uint64_t size = v->mv_size;
	const uint8_t *bytes = v->mv_data;
	uint64_t h = hash_bytes(0xCBF29CE484222325ULL, &size, sizeof size);
	if (v->mv_size <= ETAG_FULL_BYTES) {
		h = hash_bytes(h, bytes, v->mv_size);
	} else {
		h = hash_bytes(h, bytes, ETAG_EDGE);
		for (size_t off = ETAG_STRIDE; off + ETAG_SAMPLE < v->mv_size; off += ETAG_STRIDE)
			h = hash_bytes(h, bytes + off, ETAG_SAMPLE);
		h = hash_bytes(h, bytes + v->mv_size - ETAG_EDGE, ETAG_EDGE);
	}
	snprintf(etag, cap, "%" PRIx64 "-%016" PRIx64, size, hash_final(h));
}

static int lmdb_stat(tess_backend *be, const char *key, tess_stat *out)
{
	struct lmdb_env *e = env_of(be);
	size_t klen = strlen(key);
	int rc = check_key(e, "stat", key, klen);
	if (rc)
		return rc;
	MDB_txn *txn;
	rc = txn_begin(e, MDB_RDONLY, &txn);
	if (rc)
		return mdb_fail(e, rc, "stat", key);
	MDB_val k = {klen, (void *)key}, v;
	rc = mdb_get(txn, e->dbi, &k, &v);
	if (rc == 0) {
		out->size = v.mv_size;
		out->mtime_ns = 0; /* LMDB records no modification time */
		if (e->prefetch)
			etag_prefetch(&v);
		make_etag(&v, out->etag, sizeof out->etag);
	}
	read_end(e, txn);
	return rc ? mdb_fail(e, rc, "stat", key) : 0;
}

/* ---- spool files ------------------------------------------------------------------ */

/* An unlinked temp file next to the data file (same filesystem, and not a
 * tmpfs in RAM), else in $TMPDIR or /tmp.  Returns 0 or an errno value. */
static int spool_create(const struct lmdb_env *e, int *out)
{
	const char *tmp = getenv("TMPDIR");
	const char *dirs[] = {e->spool_dir, tmp && *tmp ? tmp : "/tmp"};
	int err = 0;
	for (size_t i = 0; i < 2; i++) {
		int fd = open(dirs[i], O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (fd < 0) {
			char *templ = NULL;
			if (asprintf(&templ, "%s/.tess-lmdb-spool-XXXXXX", dirs[i]) < 0)
				return ENOMEM;
			fd = mkostemp(templ, O_CLOEXEC);
			if (fd >= 0)
				unlink(templ);
			free(templ);
		}
		if (fd >= 0) {
			*out = fd;
			return 0;
		}
		err = errno;
	}
	return err;
}

static int spool_open(const struct lmdb_env *e, const char *key, int *out)
{
	int err = spool_create(e, out);
	if (err)
		return tess_err(tess_errno_code(err), "lmdb '%s': writer '%.300s': spool file in "
		                "'%s': %s", e->path, key, e->spool_dir, strerror(err));
	return 0;
}

/* ---- in-place writers: the held write transaction ------------------------------------ */

/* Report a failed step of a held transaction (an LMDB or errno code). */
static int held_fail(struct lmdb_env *e, int rc, const char *step, const char *key)
{
	if (rc == MDB_MAP_FULL)
		return tess_err(TESS_EIO, "lmdb '%s': writer '%.300s': %s: %s (map is %zu bytes; "
		                "raise it with ?map_size=)", e->path, key, step, mdb_strerror(rc),
		                current_map_size(e));
	return tess_err(mdb_code(rc), "lmdb '%s': writer '%.300s': %s: %s", e->path, key, step,
	                mdb_strerror(rc));
}

/* Grow the map unless a value of `size` bytes fits after its last used page
 * with room to spare: once the bytes are written a full map at commit could
 * not be retried (the commit also writes branch pages and the freelist). */
static int ensure_room(struct lmdb_env *e, uint64_t size)
{
	uint64_t need = size + size / 64 + ((uint64_t)8 << 20);
	MDB_envinfo info;
	MDB_stat st;
	if (mdb_env_info(e->env, &info) != 0 || mdb_env_stat(e->env, &st) != 0)
		return 0; /* the reservation will tell */
	uint64_t used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	if (used <= info.me_mapsize && info.me_mapsize - used >= need)
		return 0;
	return grow_map(e, info.me_mapsize, need);
}

/* Begin the transaction and reserve the value, growing a full map.  Runs in
 * the helper thread.  Returns an LMDB or errno code and names the step. */
static int held_reserve(struct held_txn *h, MDB_txn **out)
{
	struct lmdb_env *e = h->e;
	MDB_val k = {strlen(h->key), (void *)h->key};
	for (int attempt = 0;; attempt++) {
		h->step = "grow the map";
		int rc = ensure_room(e, h->size);
		if (rc)
			return rc;
		size_t seen = current_map_size(e);
		MDB_txn *txn;
		h->step = "begin";
		if ((rc = txn_begin(e, 0, &txn)) != 0)
			return rc;
		h->step = "reserve";
		MDB_val v = {(size_t)h->size, NULL};
		rc = mdb_put(txn, e->dbi, &k, &v, h->put_flags);
		if (rc == 0) {
			h->dst = v.mv_data;
			*out = txn;
			return 0;
		}
		write_abort(e, txn);
		if (rc != MDB_MAP_FULL || attempt == TXN_RETRIES)
			return rc;
		h->step = "grow the map";
		if ((rc = grow_map(e, seen, h->size)) != 0)
			return rc;
	}
}

/* The helper thread: reserve, report, then commit or abort when told. */
static void *held_main(void *arg)
{
	struct held_txn *h = arg;
	MDB_txn *txn = NULL;
	int rc = held_reserve(h, &txn);
	pthread_mutex_lock(&h->lock);
	h->rc = rc;
	h->state = rc ? HELD_FAILED : HELD_OPEN;
	pthread_cond_broadcast(&h->cond);
	while (h->state == HELD_OPEN)
		pthread_cond_wait(&h->cond, &h->lock);
	enum held_state order = h->state;
	pthread_mutex_unlock(&h->lock);
	if (order == HELD_COMMIT) {
		h->step = "commit";
		h->rc = write_commit(h->e, txn);
	} else if (order == HELD_ABORT) {
		write_abort(h->e, txn);
	}
	return NULL;
}

static void held_free(struct held_txn *h)
{
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

/* Start a helper thread and wait until it holds the write transaction with
 * `size` bytes reserved for `key`.  0 with *out set, or an LMDB or errno code
 * with *step naming what failed (MDB_KEYEXIST: TESS_PUT_IF_ABSENT and the
 * key exists). */
static int held_start(struct lmdb_env *e, const char *key, uint64_t size, unsigned flags,
                      struct held_txn **out, const char **step)
{
	struct held_txn *h = calloc(1, sizeof *h);
	*step = "start";
	if (!h)
		return ENOMEM;
	h->e = e;
	h->key = key;
	h->size = size;
	h->put_flags = MDB_RESERVE | ((flags & TESS_PUT_IF_ABSENT) ? MDB_NOOVERWRITE : 0);
	h->state = HELD_STARTING;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	/* Signals are for the application's threads, not for this one. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&h->thread, NULL, held_main, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		*step = "start a thread";
		held_free(h);
		return rc;
	}
	pthread_mutex_lock(&h->lock);
	while (h->state == HELD_STARTING)
		pthread_cond_wait(&h->cond, &h->lock);
	int failed = h->state == HELD_FAILED;
	pthread_mutex_unlock(&h->lock);
	if (failed) {
		pthread_join(h->thread, NULL);
		rc = h->rc;
		*step = h->step;
		held_free(h);
		return rc;
	}
	*out = h;
	return 0;
}

/* Have the helper commit (HELD_COMMIT) or abort (HELD_ABORT), wait for it
 * and free it.  Returns the commit's LMDB code. */
static int held_end(struct held_txn *h, enum held_state order)
{
	pthread_mutex_lock(&h->lock);
	h->state = order;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thread, NULL);
	int rc = h->rc;
	held_free(h);
	return rc;
}

/* Take the write transaction away from in-place writer `w`, with the
 * environment's in_place_lock and w->lock held: copy what w has received to
 * a spool file, abort the transaction, and let w go on spooling.  A failure
 * is kept for w's next call; the caller's own write goes ahead regardless. */
static void spill_in_place(struct lmdb_writer *w)
{
	int fd = -1;
	int err = spool_create(w->e, &fd);
	if (!err)
		err = tess_write_full(fd, w->held->dst, (size_t)w->size);
	held_end(w->held, HELD_ABORT);
	w->held = NULL;
	if (err) {
		if (fd >= 0)
			close(fd);
		w->failed = tess_errno_code(err);
		w->spill_errno = err;
		return;
	}
	w->fd = fd;
}

/* Before this process writes (or grows the map, which waits for every
 * transaction of the process): an in-place writer of this process holding
 * LMDB's writer lock is made to let go (see "Streaming writers" at the top),
 * since waiting for it could wait forever. */
static void take_write_lock_back(struct lmdb_env *e)
{
	pthread_mutex_lock(&e->in_place_lock);
	struct lmdb_writer *w = e->in_place;
	if (w) {
		pthread_mutex_lock(&w->lock);
		spill_in_place(w);
		pthread_mutex_unlock(&w->lock);
		e->in_place = NULL;
	}
	pthread_mutex_unlock(&e->in_place_lock);
}

/* Begin a write transaction for this process's own use. */
static int write_begin(struct lmdb_env *e, MDB_txn **out)
{
	take_write_lock_back(e);
	return txn_begin(e, 0, out);
}

/* ---- put ---------------------------------------------------------------------------- */

/* Copy a spool file into the space LMDB reserved for the value. */
static int fill_from_spool(struct lmdb_env *e, const char *key, int fd, uint8_t *dst,
                           uint64_t len)
{
	for (uint64_t off = 0; off < len;) {
		size_t want = len - off < SPOOL_COPY_CHUNK ? (size_t)(len - off) : SPOOL_COPY_CHUNK;
		map_prefault(dst + off, want);
		ssize_t got = pread(fd, dst + off, want, (off_t)off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return tess_err(TESS_EIO, "lmdb '%s': commit '%.300s': read spool file: %s",
			                e->path, key, got < 0 ? strerror(errno) : "unexpected end");
		off += (uint64_t)got;
	}
	return 0;
}

/* Put one value inside `txn`.  Returns a TESS code with a message; sets
 * *map_full when LMDB ran out of map (the caller grows it and retries). */
static int put_in_txn(struct lmdb_env *e, MDB_txn *txn, const char *op, const char *key,
                      const struct value_src *src, unsigned flags, int *map_full)
{
	size_t klen = strlen(key);
	int rc = check_key(e, op, key, klen);
	if (rc)
		return rc;
	rc = check_value_size(e, op, key, src->len);
	if (rc)
		return rc;
	MDB_val k = {klen, (void *)key}, v = {(size_t)src->len, NULL};
	unsigned put_flags = MDB_RESERVE | ((flags & TESS_PUT_IF_ABSENT) ? MDB_NOOVERWRITE : 0);
	rc = mdb_put(txn, e->dbi, &k, &v, put_flags);
	if (rc == MDB_MAP_FULL) {
		*map_full = 1;
		return tess_err(TESS_EIO, "lmdb '%s': %s '%.300s': %s (map is %zu bytes; "
		                "raise it with ?map_size=)", e->path, op, key, mdb_strerror(rc),
		                current_map_size(e));
	}
	if (rc == MDB_KEYEXIST)
		return tess_err(TESS_EEXISTS, "lmdb '%s': %s '%.300s': already exists", e->path, op,
		                key);
	if (rc)
		return mdb_fail(e, rc, op, key);
	if (src->mem) {
		map_prefault(v.mv_data, (size_t)src->len);
		if (src->len)
			memcpy(v.mv_data, src->mem, (size_t)src->len);
		return 0;
	}
	return fill_from_spool(e, key, src->fd, v.mv_data, src->len);
}

/* One object in one write transaction, growing a full map as needed. */
static int put_one(struct lmdb_env *e, const char *op, const char *key,
                   const struct value_src *src, unsigned flags)
{
	for (int attempt = 0;; attempt++) {
		MDB_txn *txn;
		int rc = write_begin(e, &txn);
		if (rc)
			return mdb_fail(e, rc, op, key);
		size_t seen = current_map_size(e);
		int map_full = 0;
		rc = put_in_txn(e, txn, op, key, src, flags, &map_full);
		if (rc) {
			write_abort(e, txn);
		} else {
			rc = write_commit(e, txn);
			map_full = rc == MDB_MAP_FULL;
			if (rc)
				rc = mdb_fail(e, rc, op, key);
		}
		if (!map_full || attempt == TXN_RETRIES)
			return rc;
		take_write_lock_back(e);
		int grow = grow_map(e, seen, src->len);
		if (grow)
			return tess_err(TESS_EIO, "lmdb '%s': %s '%.300s': map full and growing it "
			                "failed: %s", e->path, op, key, mdb_strerror(grow));
	}
}

static int lmdb_put(tess_backend *be, const char *key, const void *data, size_t len,
                    unsigned flags)
{
	struct lmdb_env *e = env_of(be);
	if (!data && len)
		return tess_err(TESS_EINVAL, "lmdb '%s': put '%.300s': NULL data of %zu bytes",
		                e->path, key, len);
	struct value_src src = {data ? data : "", -1, len};
	return put_one(e, "put", key, &src, flags);
}

/* How many requests from `from` go into one transaction: bounded by bytes so
 * the transaction's dirty pages stay far below LMDB's limit. */
static size_t batch_end(const tess_put_req *reqs, size_t from, size_t n)
{
	size_t bytes = 0, i = from;
	do {
		size_t cost = reqs[i].len + strlen(reqs[i].key) + 64;
		bytes = cost > SIZE_MAX - bytes ? SIZE_MAX : bytes + cost;
		i++;
	} while (i < n && bytes < PUT_MANY_TXN_BYTES && reqs[i].len < PUT_MANY_TXN_BYTES - bytes);
	return i;
}

/* Put reqs[0..n) in one write transaction.  Per-request failures (key too
 * long, already exists) leave the others in; a failure of the transaction
 * itself is returned (and given to every request). */
static int put_batch(struct lmdb_env *e, tess_put_req *reqs, size_t n)
{
	for (int attempt = 0;; attempt++) {
		MDB_txn *txn;
		int rc = write_begin(e, &txn);
		if (rc)
			return mdb_fail(e, rc, "put_many", reqs[0].key);
		size_t seen = current_map_size(e);
		int map_full = 0, fatal = 0;
		uint64_t bytes = 0;
		for (size_t i = 0; i < n && !fatal; i++) {
			struct value_src src = {reqs[i].data ? reqs[i].data : "", -1, reqs[i].len};
			reqs[i].status = put_in_txn(e, txn, "put", reqs[i].key, &src, reqs[i].flags,
			                            &map_full);
			bytes += reqs[i].len;
			/* Refused keys and sizes (EINVAL, ENOTSUP) and EEXISTS fail
			 * before LMDB changes anything; any other failure may leave
			 * the transaction unusable. */
			int st = reqs[i].status;
			fatal = st && st != TESS_EINVAL && st != TESS_ENOTSUP && st != TESS_EEXISTS;
			if (fatal)
				rc = reqs[i].status;
		}
		if (fatal) {
			write_abort(e, txn);
		} else {
			rc = write_commit(e, txn);
			map_full = rc == MDB_MAP_FULL;
			if (rc)
				rc = mdb_fail(e, rc, "put_many: commit", reqs[0].key);
		}
		if (map_full && attempt < TXN_RETRIES) {
			take_write_lock_back(e);
			int grow = grow_map(e, seen, bytes);
			if (grow == 0)
				continue;
			rc = tess_err(TESS_EIO, "lmdb '%s': put_many '%.300s'...: map full and "
			              "growing it failed: %s", e->path, reqs[0].key, mdb_strerror(grow));
		}
		if (rc)
			for (size_t i = 0; i < n; i++)
				if (reqs[i].status == 0 || fatal)
					reqs[i].status = rc;
		return rc;
	}
}

static int lmdb_put_many(tess_backend *be, tess_put_req *reqs, size_t n)
{
	struct lmdb_env *e = env_of(be);
	for (size_t i = 0; i < n;) {
		size_t end = batch_end(reqs, i, n);
		int rc = put_batch(e, reqs + i, end - i);
		if (rc) {
			for (size_t j = end; j < n; j++)
				reqs[j].status = rc;
			return rc;
		}
		i = end;
	}
	return 0;
}

/* ---- streaming writers ---------------------------------------------------------------- */

static int writer_failed(const struct lmdb_writer *w, const char *op)
{
	if (w->spill_errno)
		return tess_err(w->failed, "lmdb '%s': %s '%.300s': another write of this process "
		                "needed LMDB's write lock, and saving the %" PRIu64 " bytes written "
		                "so far to a spool file failed: %s", w->e->path, op, w->key, w->size,
		                strerror(w->spill_errno));
	return tess_err(w->failed, "lmdb '%s': %s '%.300s': an earlier write failed", w->e->path,
	                op, w->key);
}

/* Hold the write transaction for `w` and reserve its value (*entered = 1),
 * unless another writer of this process holds it, or (TESS_PUT_IF_ABSENT)
 * the key exists: then w must spool.  Once entered, another thread may take
 * the transaction away at any time, so w->held is not to be read without
 * w->lock. */
static int writer_enter_in_place(struct lmdb_writer *w, int *entered)
{
	struct lmdb_env *e = w->e;
	int rc = 0;
	*entered = 0;
	pthread_mutex_lock(&e->in_place_lock);
	if (!e->in_place) {
		const char *step;
		rc = held_start(e, w->key, w->expect, w->flags, &w->held, &step);
		if (rc == 0) {
			e->in_place = w;
			w->was_in_place = 1;
			*entered = 1;
		} else if (rc == MDB_KEYEXIST) {
			rc = 0; /* checked again at commit, see the top */
		} else {
			rc = held_fail(e, rc, step, w->key);
		}
	}
	pthread_mutex_unlock(&e->in_place_lock);
	return rc;
}

/* Stop being the environment's in-place writer: nobody can take the
 * transaction away any more, and w->held says whether w still has it. */
static void writer_leave_in_place(struct lmdb_writer *w)
{
	if (!w->was_in_place)
		return;
	pthread_mutex_lock(&w->e->in_place_lock);
	if (w->e->in_place == w)
		w->e->in_place = NULL;
	pthread_mutex_unlock(&w->e->in_place_lock);
	w->was_in_place = 0;
}

static void writer_free(struct lmdb_writer *w)
{
	writer_leave_in_place(w);
	if (w->held)
		held_end(w->held, HELD_ABORT);
	if (w->fd >= 0)
		close(w->fd);
	pthread_mutex_destroy(&w->lock);
	free(w->key);
	free(w);
}

static int lmdb_writer_open(tess_backend *be, tess_writer **out, const char *key,
                            uint64_t size, unsigned flags)
{
	struct lmdb_env *e = env_of(be);
	*out = NULL;
	int rc = check_key(e, "writer", key, strlen(key));
	if (!rc && size != TESS_SIZE_UNKNOWN)
		rc = check_value_size(e, "writer", key, size);
	if (rc)
		return rc;
	struct lmdb_writer *w = calloc(1, sizeof *w);
	if (!w || !(w->key = strdup(key))) {
		free(w);
		return tess_err(TESS_ENOMEM, "lmdb '%s': writer '%.300s': out of memory", e->path, key);
	}
	w->base.backend = be;
	w->e = e;
	w->flags = flags;
	w->expect = size;
	w->fd = -1;
	pthread_mutex_init(&w->lock, NULL);
	int in_place = 0;
	if (size != TESS_SIZE_UNKNOWN)
		rc = writer_enter_in_place(w, &in_place);
	if (!rc && !in_place)
		rc = spool_open(e, key, &w->fd);
	if (rc) {
		writer_free(w);
		return rc;
	}
	*out = &w->base;
	return 0;
}

/* lmdb_writer_write with w->lock held. */
static int writer_append(struct lmdb_writer *w, const void *data, size_t len)
{
	if (w->failed)
		return writer_failed(w, "writer");
	if (w->expect != TESS_SIZE_UNKNOWN && len > w->expect - w->size)
		return tess_err(TESS_EINVAL, "lmdb '%s': writer '%.300s': %zu more bytes after %"
		                PRIu64 " pass the announced size of %" PRIu64 " bytes", w->e->path,
		                w->key, len, w->size, w->expect);
	if (len > LMDB_VALUE_MAX - w->size) {
		w->failed = check_value_size(w->e, "writer", w->key, (uint64_t)len + w->size);
		return w->failed;
	}
	if (w->held) {
		map_prefault(w->held->dst + w->size, len);
		if (len)
			memcpy(w->held->dst + w->size, data, len);
	} else {
		int err = tess_write_full(w->fd, data, len);
		if (err) {
			w->failed = tess_errno_code(err);
			return tess_err(w->failed, "lmdb '%s': writer '%.300s': spool write: %s",
			                w->e->path, w->key, strerror(err));
		}
	}
	w->size += len;
	return 0;
}

static int lmdb_writer_write(tess_writer *tw, const void *data, size_t len)
{
	struct lmdb_writer *w = (struct lmdb_writer *)tw;
	pthread_mutex_lock(&w->lock);
	int rc = writer_append(w, data, len);
	pthread_mutex_unlock(&w->lock);
	return rc;
}

static int lmdb_writer_commit(tess_writer *tw)
{
	struct lmdb_writer *w = (struct lmdb_writer *)tw;
	writer_leave_in_place(w);
	int rc;
	if (w->failed) {
		rc = writer_failed(w, "commit");
	} else if (w->expect != TESS_SIZE_UNKNOWN && w->size != w->expect) {
		rc = tess_err(TESS_EINVAL, "lmdb '%s': commit '%.300s': %" PRIu64 " bytes written, %"
		              PRIu64 " announced", w->e->path, w->key, w->size, w->expect);
	} else if (w->held) {
		rc = held_end(w->held, HELD_COMMIT);
		w->held = NULL;
		if (rc)
			rc = held_fail(w->e, rc, "commit", w->key);
	} else {
		struct value_src src = {NULL, w->fd, w->size};
		rc = put_one(w->e, "commit", w->key, &src, w->flags);
	}
	writer_free(w);
	return rc;
}

static void lmdb_writer_abort(tess_writer *tw)
{
	if (tw)
		writer_free((struct lmdb_writer *)tw);
}

/* ---- del ---------------------------------------------------------------------------- */

static int lmdb_del(tess_backend *be, const char *key)
{
	struct lmdb_env *e = env_of(be);
	size_t klen = strlen(key);
	int rc = check_key(e, "del", key, klen);
	if (rc)
		return rc;
	MDB_txn *txn;
	rc = write_begin(e, &txn);
	if (rc)
		return mdb_fail(e, rc, "del", key);
	MDB_val k = {klen, (void *)key};
	rc = mdb_del(txn, e->dbi, &k, NULL);
	if (rc) {
		write_abort(e, txn);
		return mdb_fail(e, rc, "del", key);
	}
	rc = write_commit(e, txn);
	return rc ? mdb_fail(e, rc, "del", key) : 0;
}

/* ---- list ------------------------------------------------------------------------ */

struct list_scan {
	struct lmdb_env *e;
	MDB_cursor *cur;
	const char *prefix;
	size_t prefix_len;
	int delim;            /* byte, or -1 */
	const char *after;    /* NULL: from the start */
	size_t after_len;
	char *scratch;        /* e->max_key bytes, for successor keys */
};

static int bytes_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* Position at the first key >= probe.  A probe longer than any LMDB key is
 * cut: that lands at or before the target, and the name filter skips the
 * rest. */
static int scan_seek(struct list_scan *s, const void *probe, size_t len, MDB_val *k, MDB_val *v)
{
	if (len == 0)
		return mdb_cursor_get(s->cur, k, v, MDB_FIRST);
	k->mv_data = (void *)probe;
	k->mv_size = len < s->e->max_key ? len : s->e->max_key;
	return mdb_cursor_get(s->cur, k, v, MDB_SET_RANGE);
}

/* Jump past every key that starts with name[0..len): seek to the smallest
 * byte string greater than all of them (last non-0xFF byte incremented). */
static int scan_skip_subtree(struct list_scan *s, const void *name, size_t len, MDB_val *k,
                             MDB_val *v)
{
	memcpy(s->scratch, name, len);
	while (len && (uint8_t)s->scratch[len - 1] == 0xFF)
		len--;
	if (len == 0)
		return MDB_NOTFOUND;
	s->scratch[len - 1] = (char)((uint8_t)s->scratch[len - 1] + 1);
	return scan_seek(s, s->scratch, len, k, v);
}

/* The name a key lists under: itself, or its common prefix up to and
 * including the first delimiter after the listing prefix. */
static size_t scan_name_len(const struct list_scan *s, const MDB_val *k, int *is_prefix)
{
	*is_prefix = 0;
	if (s->delim < 0)
		return k->mv_size;
	const char *rest = (const char *)k->mv_data + s->prefix_len;
	const char *d = memchr(rest, s->delim, k->mv_size - s->prefix_len);
	if (!d)
		return k->mv_size;
	*is_prefix = 1;
	return (size_t)(d - (const char *)k->mv_data) + 1;
}

static int scan_start(struct list_scan *s, MDB_val *k, MDB_val *v)
{
	if (s->after && bytes_cmp(s->after, s->after_len, s->prefix, s->prefix_len) > 0)
		return scan_seek(s, s->after, s->after_len, k, v);
	return scan_seek(s, s->prefix, s->prefix_len, k, v);
}

/* Add the entries after s->after to `page` until it holds `max_entries`. */
static int scan_run(struct list_scan *s, size_t max_entries, tess_list_page *page)
{
	MDB_val k, v;
	int rc = scan_start(s, &k, &v);
	while (rc == 0) {
		if (k.mv_size < s->prefix_len || memcmp(k.mv_data, s->prefix, s->prefix_len) != 0)
			break; /* past the keys with the prefix: they are contiguous */
		int is_prefix;
		size_t name_len = scan_name_len(s, &k, &is_prefix);
		int wanted = !s->after || bytes_cmp(k.mv_data, name_len, s->after, s->after_len) > 0;
		if (wanted && page->count >= max_entries) {
			page->truncated = 1;
			break;
		}
		if (wanted) {
			int add = tess_list_page_add(page, k.mv_data, name_len, is_prefix,
			                             is_prefix ? 0 : v.mv_size, 0);
			if (add)
				return add;
		}
		if (is_prefix)
			rc = scan_skip_subtree(s, k.mv_data, name_len, &k, &v);
		else
			rc = mdb_cursor_get(s->cur, &k, &v, MDB_NEXT);
	}
	if (rc && rc != MDB_NOTFOUND)
		return mdb_fail(s->e, rc, "list", s->prefix);
	return 0;
}

static int lmdb_list(tess_backend *be, const char *prefix, const char *delimiter,
                     const char *start_after, size_t max_entries, tess_list_page *page)
{
	struct lmdb_env *e = env_of(be);
	if (!prefix)
		prefix = "";
	if (delimiter && strlen(delimiter) != 1)
		return tess_err(TESS_EINVAL, "lmdb '%s': list '%.300s': delimiter '%s' is not one byte",
		                e->path, prefix, delimiter);
	struct list_scan s = {
		.e = e,
		.prefix = prefix,
		.prefix_len = strlen(prefix),
		.delim = delimiter ? (uint8_t)delimiter[0] : -1,
		.after = start_after,
		.after_len = start_after ? strlen(start_after) : 0,
		.scratch = malloc(e->max_key + 1),
	};
	/* Entries already on the page (the caller should have cleared it) are
	 * kept; the limit counts only what this call adds. */
	size_t limit = page->count + max_entries < page->count ? SIZE_MAX
	                                                       : page->count + max_entries;
	if (!s.scratch)
		return tess_err(TESS_ENOMEM, "lmdb '%s': list '%.300s': out of memory", e->path, prefix);
	MDB_txn *txn;
	int rc = txn_begin(e, MDB_RDONLY, &txn);
	if (rc) {
		free(s.scratch);
		return mdb_fail(e, rc, "list", prefix);
	}
	rc = mdb_cursor_open(txn, e->dbi, &s.cur);
	if (rc) {
		rc = mdb_fail(e, rc, "list", prefix);
	} else {
		rc = scan_run(&s, limit, page);
		mdb_cursor_close(s.cur);
	}
	read_end(e, txn);
	free(s.scratch);
	return rc;
}

const tess_backend_ops tess_backend_lmdb_ops = {
	.abi = TESS_BACKEND_ABI,
	.scheme = "lmdb",
	.caps = TESS_CAP_MULTIPROCESS | TESS_CAP_LOCAL,
	.open = lmdb_open,
	.close = lmdb_close,
	.get = lmdb_get,
	.put = lmdb_put,
	.writer_open = lmdb_writer_open,
	.writer_write = lmdb_writer_write,
	.writer_commit = lmdb_writer_commit,
	.writer_abort = lmdb_writer_abort,
	.stat = lmdb_stat,
	.del = lmdb_del,
	.list = lmdb_list,
	.get_many = lmdb_get_many,
	.put_many = lmdb_put_many,
};
