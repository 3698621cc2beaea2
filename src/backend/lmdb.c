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
 *   readahead=0|1     0 sets MDB_NORDAHEAD (default 1, see below)
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
 * Readahead stays on by default: values are usually whole chunks read front
 * to back, which readahead serves well; readahead=0 (MDB_NORDAHEAD) is better
 * for random access to an environment much larger than RAM.
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

#include <lmdb.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
};

struct lmdb_backend {
	tess_backend base;
	struct lmdb_env *e;
};

struct lmdb_writer {
	tess_writer base;
	struct lmdb_env *e;
	char *key;
	unsigned flags;
	int fd;              /* unlinked spool file */
	uint64_t size;
	int failed;          /* code of an earlier failed write, or 0 */
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
	*o = (struct open_opts){0, DEFAULT_MAX_READERS, 1, 1};
	for (const char *p = query; p && *p;) {
		size_t len = strcspn(p, "&");
		if (len) {
			int rc = parse_option(o, loc, p, len);
			if (rc)
				return rc;
		}
		p += len + (p[len] == '&');
	}
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
	rc = mdb_env_open(e->env, e->path, flags, 0666);
	if (rc == ENOENT)
		return tess_err(TESS_ENOTFOUND, "lmdb '%s': open: %s", e->path, mdb_strerror(rc));
	if (rc)
		return mdb_fail(e, rc, "open", NULL);
	int dead;
	mdb_reader_check(e->env, &dead); /* free slots of crashed processes */
	e->max_key = (size_t)mdb_env_get_maxkeysize(e->env);
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
	pthread_rwlock_init(&e->resize_lock, NULL);
	pthread_mutex_init(&e->pool_lock, NULL);
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
	/* The value is read in place from the map; only the range is copied. */
	return tess_buf_append(out, (const uint8_t *)v.mv_data + offset, (size_t)n);
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
		make_etag(&v, out->etag, sizeof out->etag);
	}
	read_end(e, txn);
	return rc ? mdb_fail(e, rc, "stat", key) : 0;
}

/* ---- put, writers, del --------------------------------------------------------------- */

/* Copy a spool file into the space LMDB reserved for the value. */
static int fill_from_spool(struct lmdb_env *e, const char *key, int fd, uint8_t *dst,
                           uint64_t len)
{
	for (uint64_t off = 0; off < len;) {
		size_t want = len - off < SPOOL_COPY_CHUNK ? (size_t)(len - off) : SPOOL_COPY_CHUNK;
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
		int rc = txn_begin(e, 0, &txn);
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
		int rc = txn_begin(e, 0, &txn);
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

/* An unlinked temp file next to the data file (same filesystem, and not a
 * tmpfs in RAM), else in $TMPDIR or /tmp. */
static int spool_open(const struct lmdb_env *e, const char *key, int *out)
{
	const char *tmp = getenv("TMPDIR");
	const char *dirs[] = {e->spool_dir, tmp && *tmp ? tmp : "/tmp"};
	int err = 0;
	for (size_t i = 0; i < 2; i++) {
		int fd = open(dirs[i], O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (fd < 0) {
			char *templ = NULL;
			if (asprintf(&templ, "%s/.tess-lmdb-spool-XXXXXX", dirs[i]) < 0)
				return tess_err(TESS_ENOMEM, "lmdb '%s': out of memory", e->path);
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
	return tess_err(tess_errno_code(err), "lmdb '%s': writer '%.300s': spool file in '%s': %s",
	                e->path, key, e->spool_dir, strerror(err));
}

static void writer_free(struct lmdb_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	free(w->key);
	free(w);
}

static int lmdb_writer_open(tess_backend *be, tess_writer **out, const char *key,
                            uint64_t size, unsigned flags)
{
	struct lmdb_env *e = env_of(be);
	*out = NULL;
	int rc = check_key(e, "writer", key, strlen(key));
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
	w->fd = -1;
	rc = spool_open(e, key, &w->fd);
	if (rc) {
		writer_free(w);
		return rc;
	}
	*out = &w->base;
	return 0;
}

static int lmdb_writer_write(tess_writer *tw, const void *data, size_t len)
{
	struct lmdb_writer *w = (struct lmdb_writer *)tw;
	if (w->failed)
		return tess_err(w->failed, "lmdb '%s': writer '%.300s': an earlier write failed",
		                w->e->path, w->key);
	if (len > LMDB_VALUE_MAX - w->size) {
		w->failed = check_value_size(w->e, "writer", w->key, (uint64_t)len + w->size);
		return w->failed;
	}
	for (const uint8_t *p = data; len;) {
		ssize_t n = write(w->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			w->failed = tess_errno_code(errno);
			return tess_err(w->failed, "lmdb '%s': writer '%.300s': spool write: %s",
			                w->e->path, w->key, strerror(errno));
		}
		p += n;
		len -= (size_t)n;
		w->size += (uint64_t)n;
	}
	return 0;
}

static int lmdb_writer_commit(tess_writer *tw)
{
	struct lmdb_writer *w = (struct lmdb_writer *)tw;
	int rc;
	if (w->failed) {
		rc = tess_err(w->failed, "lmdb '%s': commit '%.300s': an earlier write failed",
		              w->e->path, w->key);
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

static int lmdb_del(tess_backend *be, const char *key)
{
	struct lmdb_env *e = env_of(be);
	size_t klen = strlen(key);
	int rc = check_key(e, "del", key, klen);
	if (rc)
		return rc;
	MDB_txn *txn;
	rc = txn_begin(e, 0, &txn);
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
