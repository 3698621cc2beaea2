/*
 * bench_blob - blob put and get of Tessera's file and lmdb backends against
 * the raw filesystem doing the same work on the same disk, in one run.
 *
 *   large:  one object of --large-mb MiB (default 1 GiB).
 *           put:  raw = copy with 8 MiB read/write + fsync + rename;
 *                 Tessera = tess_blob_copy_from_local.
 *           get:  raw = the same copy out of the raw file;
 *                 Tessera = tess_blob_copy_to_local (temp file, fsync, rename).
 *           read: raw = read() loop into 8 MiB; Tessera = tess_blob_reader loop.
 *           Every large run starts cold: everything under the work dir is
 *           synced and dropped from the page cache (posix_fadvise DONTNEED,
 *           stores closed so LMDB's map goes too).  --large-runs (default 1).
 *   small:  --small-count objects of --small-size bytes (default 10,000 x 4 KiB)
 *           under keys "<series><run>/small/DD/NNNN" (100 directories).
 *           put: raw = open temp + write + fsync + close + rename per object
 *                (and, for reference, the same plus an fsync of the directory);
 *                Tessera = tess_blob_put per object, and tess_blob_put_many in
 *                batches of 1000.
 *           get: raw = open + fstat + read + close; Tessera = tess_blob_get.
 *           Median of --small-runs (default 3); gets are hot (just written).
 *
 * Raw and Tessera alternate run by run, so a busy moment of a shared disk
 * slows both.  Ratio = Tessera / raw: higher is better.  See --help and
 * docs/performance.md.
 */
#define BENCH_NAME "bench_blob"
#include "bench_common.h"
#include "tessera.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (8u << 20)  /* what Tessera streams with (BLOB_CHUNK) */
#define SMALL_DIRS 100
#define SMALL_BATCH 1000
#define MAX_RUNS 9
#define KEY_CAP 96
#define MAX_RESULTS 32

typedef struct options {
	uint64_t large_bytes;
	size_t small_count;
	size_t small_size;
	int large_runs, small_runs;
	const char *parent; /* the work dir is made inside it */
	int json;
} options;

/* One row of the table.  `base` is the raw filesystem's number except in
 * the rows that compare two Tessera backends. */
typedef struct result {
	char op[80];
	const char *unit; /* "MB/s" or "ops/s" */
	double base, tess;
	double target; /* minimum tess/base, 0 for none */
	double runs_base[MAX_RUNS], runs_tess[MAX_RUNS];
	int nruns;
} result;

typedef struct backend {
	const char *name; /* "file", "lmdb" */
	char url[PATH_MAX + 16];
	tess_store *st;
} backend;

typedef struct small_set {
	size_t count, size;
	uint8_t *data; /* object i at data + i * size */
} small_set;

static result g_results[MAX_RESULTS];
static size_t g_nresults;

/* ---- failure and cleanup -------------------------------------------------- */

static void remove_tree(const char *path)
{
	nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS);
}

static void remove_work_dir(void)
{
	if (g_work[0])
		remove_tree(g_work);
}

/* Interrupted: removing a tree is not async-signal-safe, so only say
 * what is left behind. */
static void on_signal(int sig)
{
	static const char msg[] = "\nbench_blob: interrupted; remove the work dir: ";
	ssize_t ignored = write(2, msg, sizeof msg - 1);
	ignored = write(2, g_work, strlen(g_work));
	ignored = write(2, "\n", 1);
	(void)ignored;
	_exit(128 + sig);
}

/* ---- small helpers ----------------------------------------------------------- */

/* Random-looking bytes, fast: xorshift64. */
static void fill_random(void *buf, size_t len, uint64_t *state)
{
	uint8_t *p = buf;
	uint64_t x = *state;
	while (len) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		size_t n = len < 8 ? len : 8;
		memcpy(p, &x, n);
		p += n;
		len -= n;
	}
	*state = x;
}

/* Reads until `len` bytes or the end; returns the count. */
static size_t read_full(int fd, void *data, size_t len, const char *path)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, (char *)data + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail("read %s: %s", path, strerror(errno));
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return got;
}

static void fsync_or_fail(int fd, const char *path)
{
	if (fsync(fd) != 0)
		fail("fsync %s: %s", path, strerror(errno));
}

static void mkdir_parents(const char *path)
{
	char tmp[PATH_MAX + 8];
	snprintf(tmp, sizeof tmp, "%s", path);
	for (char *s = strchr(tmp + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
			fail("mkdir %s: %s", tmp, strerror(errno));
		*s = '/';
	}
}

static uint64_t file_size(const char *path)
{
	struct stat sb;
	if (stat(path, &sb) != 0)
		fail("stat %s: %s", path, strerror(errno));
	return (uint64_t)sb.st_size;
}

/* ---- page cache ------------------------------------------------------------------ */

static int drop_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb, (void)ftw;
	if (type != FTW_F)
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail("open %s: %s", path, strerror(errno));
	int rc = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	if (rc)
		fail("posix_fadvise %s: %s", path, strerror(rc));
	close(fd);
	return 0;
}

static void store_open(backend *b)
{
	check_tess(tess_store_open(&b->st, b->url, NULL), "open store", b->url);
}

/* Everything under the work dir out of the page cache, so raw and Tessera
 * both start cold.  Stores are closed meanwhile: pages LMDB has mapped
 * cannot be dropped. */
static void drop_page_cache(backend *bes, size_t nbes)
{
	for (size_t i = 0; i < nbes; i++) {
		tess_store_close(bes[i].st);
		bes[i].st = NULL;
	}
	int fd = open(g_work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || syncfs(fd) != 0)
		fail("syncfs %s: %s", g_work, strerror(errno));
	close(fd);
	nftw(g_work, drop_entry, 32, FTW_PHYS);
	for (size_t i = 0; i < nbes; i++)
		store_open(&bes[i]);
}

/* ---- results ------------------------------------------------------------------------ */

static double median(const double *v, int n)
{
	double s[MAX_RUNS];
	memcpy(s, v, (size_t)n * sizeof *s);
	qsort(s, (size_t)n, sizeof *s, cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* A row from `n` runs of the baseline and of Tessera: their medians. */
static void add_series(const char *unit, double target, const double *base, const double *tess,
                       int n, const char *fmt, ...)
{
	if (g_nresults == MAX_RESULTS)
		fail("too many results");
	result *r = &g_results[g_nresults++];
	memset(r, 0, sizeof *r);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->op, sizeof r->op, fmt, ap);
	va_end(ap);
	r->unit = unit;
	r->target = target;
	r->nruns = n;
	memcpy(r->runs_base, base, (size_t)n * sizeof *base);
	memcpy(r->runs_tess, tess, (size_t)n * sizeof *tess);
	r->base = median(base, n);
	r->tess = median(tess, n);
}

/* ---- large: raw ---------------------------------------------------------------------- */

static void make_source(const char *path, uint64_t size, char *buf)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		fail("create %s: %s", path, strerror(errno));
	uint64_t state = 0x9E3779B97F4A7C15ull;
	for (uint64_t done = 0; done < size;) {
		size_t n = size - done < CHUNK ? (size_t)(size - done) : CHUNK;
		fill_random(buf, n, &state);
		write_all(fd, buf, n, path);
		done += n;
	}
	fsync_or_fail(fd, path);
	close(fd);
}

/* Copy `from` to `to` the way an atomic put does it: a temporary name,
 * 8 MiB reads and writes, fsync, rename.  Returns the bytes copied. */
static uint64_t raw_copy_atomic(const char *from, const char *to, char *buf)
{
	char tmp[PATH_MAX + 8];
	snprintf(tmp, sizeof tmp, "%s.tmp", to);
	int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		fail("open %s: %s", from, strerror(errno));
	int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		fail("create %s: %s", tmp, strerror(errno));
	uint64_t total = 0;
	size_t n;
	while ((n = read_full(in, buf, CHUNK, from)) > 0) {
		write_all(out, buf, n, tmp);
		total += n;
	}
	fsync_or_fail(out, tmp);
	if (close(out) != 0)
		fail("close %s: %s", tmp, strerror(errno));
	close(in);
	if (rename(tmp, to) != 0)
		fail("rename %s: %s", tmp, strerror(errno));
	return total;
}

static uint64_t raw_read_all(const char *path, char *buf)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail("open %s: %s", path, strerror(errno));
	uint64_t total = 0;
	size_t n;
	while ((n = read_full(fd, buf, CHUNK, path)) > 0)
		total += n;
	close(fd);
	return total;
}

/* ---- large: Tessera ---------------------------------------------------------------------- */

static uint64_t tess_read_all(tess_store *st, const char *key, char *buf)
{
	tess_blob_reader *r;
	check_tess(tess_blob_reader_open(&r, st, key), "reader open", key);
	uint64_t total = 0;
	size_t n;
	int rc;
	while (!(rc = tess_blob_reader_read(r, buf, CHUNK, &n)) && n > 0)
		total += n;
	check_tess(rc, "reader read", key);
	tess_blob_reader_close(r);
	return total;
}

/* The copy out must hold the source's bytes: compare the first and last
 * chunk (cheap, and catches offsets gone wrong). */
static void verify_copy(const char *source, const char *copy, uint64_t size, char *buf)
{
	if (file_size(copy) != size)
		fail("%s has %" PRIu64 " bytes, expected %" PRIu64, copy, file_size(copy), size);
	char *other = malloc(CHUNK);
	if (!other)
		fail("out of memory");
	int a = open(source, O_RDONLY | O_CLOEXEC), b = open(copy, O_RDONLY | O_CLOEXEC);
	if (a < 0 || b < 0)
		fail("open %s or %s: %s", source, copy, strerror(errno));
	size_t n = size < CHUNK ? (size_t)size : CHUNK;
	off_t offs[2] = {0, (off_t)(size - n)};
	for (int i = 0; i < 2; i++)
		if (pread(a, buf, n, offs[i]) != (ssize_t)n || pread(b, other, n, offs[i]) != (ssize_t)n ||
		    memcmp(buf, other, n) != 0)
			fail("%s differs from %s", copy, source);
	close(a);
	close(b);
	free(other);
}

static void expect_size(uint64_t got, uint64_t want, const char *what)
{
	if (got != want)
		fail("%s: %" PRIu64 " bytes, expected %" PRIu64, what, got, want);
}

/* ---- large: the runs ------------------------------------------------------------------------ */

enum large_op { LARGE_PUT, LARGE_GET, LARGE_READ };

static const char *const large_op_names[] = {"put", "get", "read"};

typedef struct large_ctx {
	backend *bes;
	size_t nbes;
	uint64_t size;
	char *buf;
	char source[PATH_MAX], raw_dst[PATH_MAX], out[PATH_MAX];
} large_ctx;

/* Tessera's side of one large operation on backend b. */
static uint64_t large_tess_op(large_ctx *c, enum large_op op, backend *b)
{
	switch (op) {
	case LARGE_PUT:
		check_tess(tess_blob_copy_from_local(b->st, "big", c->source, 0, NULL, NULL),
		           "copy_from_local", "big");
		return c->size;
	case LARGE_GET:
		check_tess(tess_blob_copy_to_local(c->out, b->st, "big", 0, NULL, NULL),
		           "copy_to_local", "big");
		return c->size;
	case LARGE_READ:
		return tess_read_all(b->st, "big", c->buf);
	}
	return 0;
}

/* The raw filesystem's side: the same bytes moved by hand. */
static uint64_t large_raw_op(large_ctx *c, enum large_op op)
{
	switch (op) {
	case LARGE_PUT: return raw_copy_atomic(c->source, c->raw_dst, c->buf);
	case LARGE_GET: return raw_copy_atomic(c->raw_dst, c->out, c->buf);
	case LARGE_READ: return raw_read_all(c->raw_dst, c->buf);
	}
	return 0;
}

/* One cold, timed run of `op` by the raw filesystem (b NULL) or backend b;
 * returns MB/s after checking what arrived. */
static double large_once(large_ctx *c, enum large_op op, backend *b)
{
	drop_page_cache(c->bes, c->nbes);
	double t = now_s();
	uint64_t n = b ? large_tess_op(c, op, b) : large_raw_op(c, op);
	t = now_s() - t;
	expect_size(n, c->size, large_op_names[op]);
	if (op == LARGE_PUT && b) {
		tess_stat sb;
		check_tess(tess_blob_stat(&sb, b->st, "big"), "stat", "big");
		expect_size(sb.size, c->size, "large put");
	}
	if (op == LARGE_GET) {
		verify_copy(c->source, c->out, c->size, c->buf);
		unlink(c->out);
	}
	fprintf(stderr, "  large %-4s %-5s %7.2f s %8.1f MB/s\n", large_op_names[op],
	        b ? b->name : "raw", t, mb_per_s(n, t));
	return mb_per_s(n, t);
}

static const char *const large_labels[] = {"(copy_from_local)", "(copy_to_local)",
                                           "(blob_reader)"};

/* Each operation runs for raw and every backend back to back (who goes
 * first rotates from run to run), so a slow moment of a shared disk hits
 * them alike. */
static void bench_large(backend *bes, size_t nbes, uint64_t size, int runs)
{
	large_ctx c = {.bes = bes, .nbes = nbes, .size = size};
	if (!(c.buf = malloc(CHUNK)))
		fail("out of memory");
	path_in_work(c.source, sizeof c.source, "large-source");
	path_in_work(c.raw_dst, sizeof c.raw_dst, "large-raw");
	path_in_work(c.out, sizeof c.out, "large-out");
	fprintf(stderr, "large: writing a %" PRIu64 " MiB source file\n", size >> 20);
	make_source(c.source, size, c.buf);
	for (enum large_op op = LARGE_PUT; op <= LARGE_READ; op++) {
		double raw[MAX_RUNS], tess[2][MAX_RUNS];
		for (int r = 0; r < runs; r++)
			for (size_t j = 0; j <= nbes; j++) {
				size_t who = (j + (size_t)r) % (nbes + 1); /* nbes: raw */
				if (who == nbes)
					raw[r] = large_once(&c, op, NULL);
				else
					tess[who][r] = large_once(&c, op, &bes[who]);
			}
		for (size_t i = 0; i < nbes; i++)
			add_series("MB/s", 0.9, raw, tess[i], runs, "large %-4s %-5s %s",
			           large_op_names[op], bes[i].name, large_labels[op]);
	}
	unlink(c.raw_dst);
	unlink(c.source);
	free(c.buf);
}

/* ---- small: raw ---------------------------------------------------------------------------- */

static void small_key(char *out, const char *prefix, size_t i)
{
	snprintf(out, KEY_CAP, "%s/small/%02zu/%04zu", prefix, i % SMALL_DIRS, i);
}

static const uint8_t *small_obj(const small_set *s, size_t i) { return s->data + i * s->size; }

/* One atomic put on the raw filesystem: temp file, write, fsync, close,
 * rename; directories made on demand as a put into a new prefix must. */
static void raw_put_one(const char *path, const void *data, size_t len, int dir_fsync)
{
	char tmp[PATH_MAX + 8];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 && errno == ENOENT) {
		mkdir_parents(tmp);
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	}
	if (fd < 0)
		fail("create %s: %s", tmp, strerror(errno));
	write_all(fd, data, len, tmp);
	fsync_or_fail(fd, tmp);
	if (close(fd) != 0)
		fail("close %s: %s", tmp, strerror(errno));
	if (rename(tmp, path) != 0)
		fail("rename %s: %s", tmp, strerror(errno));
	if (!dir_fsync)
		return;
	*strrchr(tmp, '/') = '\0';
	int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		fail("open %s: %s", tmp, strerror(errno));
	fsync_or_fail(dfd, tmp);
	close(dfd);
}

static double raw_small_put(const small_set *s, const char *prefix, int dir_fsync)
{
	char key[KEY_CAP], path[PATH_MAX];
	double t = now_s();
	for (size_t i = 0; i < s->count; i++) {
		small_key(key, prefix, i);
		snprintf(path, sizeof path, "%s/raw/%s", g_work, key);
		raw_put_one(path, small_obj(s, i), s->size, dir_fsync);
	}
	return (double)s->count / (now_s() - t);
}

/* A get of an object whose size the reader does not know: open, fstat,
 * allocate, read, close. */
static double raw_small_get(const small_set *s, const char *prefix)
{
	char key[KEY_CAP], path[PATH_MAX];
	double t = now_s();
	for (size_t i = 0; i < s->count; i++) {
		small_key(key, prefix, i);
		snprintf(path, sizeof path, "%s/raw/%s", g_work, key);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		struct stat sb;
		if (fd < 0 || fstat(fd, &sb) != 0)
			fail("open %s: %s", path, strerror(errno));
		char *buf = malloc((size_t)sb.st_size + 1);
		if (!buf)
			fail("out of memory");
		size_t n = read_full(fd, buf, (size_t)sb.st_size, path);
		close(fd);
		if (n != s->size || memcmp(buf, small_obj(s, i), n) != 0)
			fail("%s: wrong content", path);
		free(buf);
	}
	return (double)s->count / (now_s() - t);
}

/* ---- small: Tessera ------------------------------------------------------------------------ */

static double tess_small_put(const small_set *s, tess_store *st, const char *prefix)
{
	char key[KEY_CAP];
	double t = now_s();
	for (size_t i = 0; i < s->count; i++) {
		small_key(key, prefix, i);
		check_tess(tess_blob_put(st, key, small_obj(s, i), s->size, 0), "put", key);
	}
	return (double)s->count / (now_s() - t);
}

static double tess_small_put_many(const small_set *s, tess_store *st, const char *prefix)
{
	static char keys[SMALL_BATCH][KEY_CAP];
	static tess_put_req reqs[SMALL_BATCH];
	double t = now_s();
	for (size_t first = 0; first < s->count; first += SMALL_BATCH) {
		size_t n = s->count - first < SMALL_BATCH ? s->count - first : SMALL_BATCH;
		for (size_t j = 0; j < n; j++) {
			small_key(keys[j], prefix, first + j);
			reqs[j] = (tess_put_req){keys[j], small_obj(s, first + j), s->size, 0, 0};
		}
		check_tess(tess_blob_put_many(st, reqs, n), "put_many", keys[0]);
		for (size_t j = 0; j < n; j++)
			check_tess(reqs[j].status, "put_many", keys[j]);
	}
	return (double)s->count / (now_s() - t);
}

static double tess_small_get(const small_set *s, tess_store *st, const char *prefix)
{
	char key[KEY_CAP];
	double t = now_s();
	for (size_t i = 0; i < s->count; i++) {
		small_key(key, prefix, i);
		void *data;
		size_t len;
		check_tess(tess_blob_get(&data, &len, st, key), "get", key);
		if (len != s->size || memcmp(data, small_obj(s, i), len) != 0)
			fail("get '%s': wrong content", key);
		tess_free(data);
	}
	return (double)s->count / (now_s() - t);
}

/* ---- small: the runs ------------------------------------------------------------------------ */

enum small_kind { RAW_PUT, RAW_PUT_DIRSYNC, RAW_GET, TESS_PUT, TESS_PUT_MANY, TESS_GET };

static const char *const kind_names[] = {"put", "put+dirsync", "get", "put", "put_many", "get"};

/* What one small measurement does, and its runs. */
typedef struct small_case {
	enum small_kind kind;
	backend *b; /* NULL: the raw filesystem */
	double runs[MAX_RUNS];
} small_case;

/* Puts write under a fresh prefix each run ("put2/small/..."); gets read
 * what the first put run wrote. */
static double small_once(const small_case *c, const small_set *s, int run)
{
	char prefix[32];
	static const char *const tags[] = {"put", "sync", "put", "single", "batch", "single"};
	int is_get = c->kind == RAW_GET || c->kind == TESS_GET;
	snprintf(prefix, sizeof prefix, "%s%d", tags[c->kind], is_get ? 1 : run + 1);
	switch (c->kind) {
	case RAW_PUT: return raw_small_put(s, prefix, 0);
	case RAW_PUT_DIRSYNC: return raw_small_put(s, prefix, 1);
	case RAW_GET: return raw_small_get(s, prefix);
	case TESS_PUT: return tess_small_put(s, c->b->st, prefix);
	case TESS_PUT_MANY: return tess_small_put_many(s, c->b->st, prefix);
	case TESS_GET: return tess_small_get(s, c->b->st, prefix);
	}
	return 0;
}

/* Run every case once per round, so that a busy moment of a shared disk
 * slows raw and Tessera alike rather than whichever ran then. */
static void small_rounds(small_case *cases, size_t n, const small_set *s, int runs)
{
	for (int r = 0; r < runs; r++)
		for (size_t j = 0; j < n; j++) {
			size_t i = (j + (size_t)r) % n; /* no case always goes first */
			cases[i].runs[r] = small_once(&cases[i], s, r);
		}
	for (size_t i = 0; i < n; i++) {
		fprintf(stderr, "  small %-11s %-5s", kind_names[cases[i].kind],
		        cases[i].b ? cases[i].b->name : "raw");
		for (int r = 0; r < runs; r++)
			fprintf(stderr, " %9.0f", cases[i].runs[r]);
		fprintf(stderr, " ops/s\n");
	}
}

static void bench_small(backend *bes, size_t count, size_t size, int runs)
{
	small_set s = {count, size, malloc(count * size)};
	if (!s.data)
		fail("out of memory for %zu small objects", count);
	uint64_t state = 0xD1B54A32D192ED03ull;
	fill_random(s.data, count * size, &state);
	fprintf(stderr, "small: %zu objects of %zu bytes, %d runs each\n", count, size, runs);
	backend *file = &bes[0], *lmdb = &bes[1];
	small_case put[] = {{RAW_PUT, NULL, {0}}, {RAW_PUT_DIRSYNC, NULL, {0}},
	                    {TESS_PUT, file, {0}}, {TESS_PUT_MANY, file, {0}},
	                    {TESS_PUT, lmdb, {0}}, {TESS_PUT_MANY, lmdb, {0}}};
	small_case get[] = {{RAW_GET, NULL, {0}}, {TESS_GET, file, {0}}, {TESS_GET, lmdb, {0}}};
	small_rounds(put, sizeof put / sizeof *put, &s, runs);
	small_rounds(get, sizeof get / sizeof *get, &s, runs);
	const double *raw = put[0].runs;
	add_series("ops/s", 0.8, raw, put[2].runs, runs, "small put  file  (blob_put)");
	add_series("ops/s", 0.8, raw, put[3].runs, runs, "small put  file  (put_many x%d)", SMALL_BATCH);
	add_series("ops/s", 0.8, get[0].runs, get[1].runs, runs, "small get  file  (blob_get)");
	add_series("ops/s", 0, raw, put[4].runs, runs, "small put  lmdb  (blob_put)");
	add_series("ops/s", 0, raw, put[5].runs, runs, "small put  lmdb  (put_many x%d)", SMALL_BATCH);
	add_series("ops/s", 0, get[0].runs, get[2].runs, runs, "small get  lmdb  (blob_get)");
	add_series("ops/s", 0, raw, put[1].runs, runs, "small put  raw + dir fsync (reference)");
	add_series("ops/s", 10, put[2].runs, put[5].runs, runs, "small put  lmdb batched / file blob_put");
	add_series("ops/s", 0, put[3].runs, put[5].runs, runs, "small put  lmdb batched / file batched");
	free(s.data);
}

/* ---- the machine and the output ----------------------------------------------------------- */

/* "/dev/vda ext4" for the file system that holds `path`, from mountinfo. */
static void describe_disk(const char *path, char *out, size_t cap)
{
	struct stat sb;
	snprintf(out, cap, "unknown");
	FILE *f = fopen("/proc/self/mountinfo", "r");
	if (stat(path, &sb) != 0 || !f) {
		if (f)
			fclose(f);
		return;
	}
	char line[4096], want[32];
	snprintf(want, sizeof want, "%u:%u", major(sb.st_dev), minor(sb.st_dev));
	while (fgets(line, sizeof line, f)) {
		char devno[32], fstype[64], source[256];
		const char *dash = strstr(line, " - ");
		if (sscanf(line, "%*s %*s %31s", devno) != 1 || strcmp(devno, want) != 0 || !dash ||
		    sscanf(dash + 3, "%63s %255s", fstype, source) != 2)
			continue;
		snprintf(out, cap, "%s %s", source, fstype);
		break;
	}
	fclose(f);
}

static const char *verdict(const result *r)
{
	if (r->target <= 0)
		return "info";
	return r->tess / r->base >= r->target ? "PASS" : "MISS";
}

static void print_table(const options *o, const char *disk, const struct utsname *u)
{
	printf("bench_blob: Tessera %s, %" PRIu64 " MiB large object, %zu x %zu B small objects\n",
	       tess_version(), o->large_bytes >> 20, o->small_count, o->small_size);
	printf("disk: %s (%s); %ld CPUs; %s %s\n", disk, g_work, sysconf(_SC_NPROCESSORS_ONLN),
	       u->sysname, u->release);
	printf("large: %d run(s), median; cold page cache before every run, raw and Tessera alike\n"
	       "       (syncfs + posix_fadvise DONTNEED on every file, stores closed)\n",
	       o->large_runs);
	printf("small: median of %d runs; gets hot (objects just written)\n", o->small_runs);
	printf("ratio = tessera / raw (higher is better); \"runs\" = lowest..highest ratio of\n"
	       "raw and Tessera runs made back to back, a measure of the noise\n\n");
	printf("%-41s %13s %13s %6s %12s %6s %6s\n", "operation", "raw", "tessera", "ratio", "runs",
	       "target", "result");
	for (size_t i = 0; i < g_nresults; i++) {
		const result *r = &g_results[i];
		char target[16] = "-", spread[32] = "-";
		if (r->target > 0)
			snprintf(target, sizeof target, ">=%.*f", r->target >= 10 ? 0 : 1, r->target);
		if (r->nruns > 1) {
			double lo = r->runs_tess[0] / r->runs_base[0], hi = lo;
			for (int k = 1; k < r->nruns; k++) {
				double x = r->runs_tess[k] / r->runs_base[k];
				lo = x < lo ? x : lo;
				hi = x > hi ? x : hi;
			}
			snprintf(spread, sizeof spread, "%.2f..%.2f", lo, hi);
		}
		printf("%-41s %7.0f %-5s %7.0f %-5s %6.2f %12s %6s %6s\n", r->op, r->base, r->unit,
		       r->tess, r->unit, r->tess / r->base, spread, target, verdict(r));
	}
	printf("\nThe last two rows compare lmdb with the file backend instead of raw.\n");
}

/* The op name without the table's padding: "large put file (...)". */
static void print_json_op(const char *op)
{
	printf("\"");
	for (const char *p = op; *p; p++)
		if (*p != ' ' || (p[1] != ' ' && p[1] != '\0'))
			putchar(*p);
	printf("\"");
}

static void print_runs(const char *name, const double *v, int n)
{
	printf(", \"%s\": [", name);
	for (int i = 0; i < n; i++)
		printf("%s%.1f", i ? ", " : "", v[i]);
	printf("]");
}

static void print_json(const options *o, const char *disk, const struct utsname *u)
{
	printf("{\"tessera\": \"%s\", \"large_bytes\": %" PRIu64 ", \"small_count\": %zu, "
	       "\"small_size\": %zu,\n \"machine\": {\"cpus\": %ld, \"kernel\": \"%s %s\", "
	       "\"disk\": \"%s\"},\n \"large_cache\": \"cold\", \"small_get_cache\": \"hot\", "
	       "\"large_runs\": %d, \"small_runs\": %d,\n \"results\": [\n",
	       tess_version(), o->large_bytes, o->small_count, o->small_size,
	       sysconf(_SC_NPROCESSORS_ONLN), u->sysname, u->release, disk, o->large_runs,
	       o->small_runs);
	for (size_t i = 0; i < g_nresults; i++) {
		const result *r = &g_results[i];
		printf("  {\"op\": ");
		print_json_op(r->op);
		printf(", \"unit\": \"%s\", \"base\": %.1f, \"tessera\": %.1f, \"ratio\": %.3f, "
		       "\"target\": %.2f, \"result\": \"%s\"",
		       r->unit, r->base, r->tess, r->tess / r->base, r->target, verdict(r));
		if (r->nruns) {
			print_runs("base_runs", r->runs_base, r->nruns);
			print_runs("tessera_runs", r->runs_tess, r->nruns);
		}
		printf("}%s\n", i + 1 < g_nresults ? "," : "");
	}
	printf(" ]}\n");
}

/* ---- options and main ------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_blob [--large-mb N] [--small-count N] [--small-size N]\n"
	           "                  [--large-runs N] [--small-runs N] [--dir DIR | DIR] [--json]\n"
	           "Puts and gets blobs through Tessera's file and lmdb backends and the raw\n"
	           "filesystem on the same disk and prints the ratios.  The work happens in a\n"
	           "fresh directory inside DIR (default $TMPDIR, else /var/tmp), removed at the end.\n");
}

static uint64_t parse_count(const char *opt, const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = s ? strtoull(s, &end, 10) : 0;
	if (!s || errno || *end || v == 0 || s[0] == '-')
		fail("%s wants a positive number, not '%s'", opt, s ? s : "");
	return v;
}

static int parse_runs(const char *opt, const char *s)
{
	uint64_t n = parse_count(opt, s);
	if (n > MAX_RUNS)
		fail("%s: at most %d", opt, MAX_RUNS);
	return (int)n;
}

static void parse_options(options *o, int argc, char **argv)
{
	*o = (options){1024ull << 20, 10000, 4096, 1, 3, NULL, 0};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--large-mb") == 0)
			o->large_bytes = parse_count(a, v) << 20, i++;
		else if (strcmp(a, "--small-count") == 0)
			o->small_count = parse_count(a, v), i++;
		else if (strcmp(a, "--small-size") == 0)
			o->small_size = parse_count(a, v), i++;
		else if (strcmp(a, "--large-runs") == 0)
			o->large_runs = parse_runs(a, v), i++;
		else if (strcmp(a, "--small-runs") == 0)
			o->small_runs = parse_runs(a, v), i++;
		else if (strcmp(a, "--dir") == 0 && v)
			o->parent = v, i++;
		else if (strcmp(a, "--json") == 0)
			o->json = 1;
		else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			usage(stdout), exit(0);
		else if (a[0] != '-' && !o->parent)
			o->parent = a;
		else
			usage(stderr), exit(2);
	}
	if (!o->parent)
		o->parent = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
	if (o->small_count > SIZE_MAX / o->small_size)
		fail("--small-count x --small-size is too large");
}

static void make_work_dir(const options *o)
{
	char tmpl[sizeof g_work];
	if ((size_t)snprintf(tmpl, sizeof tmpl, "%s/tess-bench-XXXXXX", o->parent) >= sizeof tmpl)
		fail("--dir is too long");
	if (!mkdtemp(tmpl))
		fail("mkdtemp in %s: %s", o->parent, strerror(errno));
	snprintf(g_work, sizeof g_work, "%s", tmpl);
	atexit(remove_work_dir);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	/* Peak use: source, raw copy, a copy in each store, lmdb's spool file
	 * and one copy out; small objects take at least a 4 KiB block each, in
	 * 3 raw and 4 Tessera series per run. */
	struct statvfs vs;
	uint64_t small_block = o->small_size < 4096 ? 4096 : o->small_size;
	uint64_t need = o->large_bytes * 6 + (uint64_t)o->small_count * small_block *
	                (uint64_t)o->small_runs * 8;
	if (statvfs(g_work, &vs) == 0 && (uint64_t)vs.f_bavail * vs.f_frsize < need)
		fail("%s has %" PRIu64 " MiB free; this run needs about %" PRIu64 " MiB", g_work,
		     ((uint64_t)vs.f_bavail * vs.f_frsize) >> 20, need >> 20);
}

/* Fresh stores "file-<tag>" and "lmdb-<tag>" in the work dir. */
static void stores_init(backend *bes, const char *tag)
{
	bes[0].name = "file";
	bes[1].name = "lmdb";
	snprintf(bes[0].url, sizeof bes[0].url, "%s/file-%s", g_work, tag);
	snprintf(bes[1].url, sizeof bes[1].url, "lmdb://%s/lmdb-%s", g_work, tag);
	for (int i = 0; i < 2; i++)
		check_tess(tess_store_init(&bes[i].st, bes[i].url, NULL), "init store", bes[i].url);
}

/* Close the stores and delete them from the disk (lmdb's lock file too). */
static void stores_remove(backend *bes)
{
	char path[sizeof bes->url + 8];
	for (int i = 0; i < 2; i++) {
		tess_store_close(bes[i].st);
		bes[i].st = NULL;
		const char *loc = strstr(bes[i].url, "://");
		loc = loc ? loc + 3 : bes[i].url;
		remove_tree(loc);
		snprintf(path, sizeof path, "%s-lock", loc);
		unlink(path);
	}
}

int main(int argc, char **argv)
{
	options o;
	parse_options(&o, argc, argv);
	make_work_dir(&o);
	char disk[400];
	describe_disk(g_work, disk, sizeof disk);
	struct utsname u;
	uname(&u);
	fprintf(stderr, "bench_blob: working in %s (%s)\n", g_work, disk);
	backend bes[2] = {{0}};
	/* Separate stores: LMDB keeps the pages a deleted 1 GiB object freed on
	 * a freelist that every later commit rewrites, which would slow the
	 * small puts for a reason that has nothing to do with them. */
	stores_init(bes, "large");
	bench_large(bes, 2, o.large_bytes, o.large_runs);
	stores_remove(bes);
	stores_init(bes, "small");
	bench_small(bes, o.small_count, o.small_size, o.small_runs);
	stores_remove(bes);
	if (o.json)
		print_json(&o, disk, &u);
	else
		print_table(&o, disk, &u);
	return 0;
}
