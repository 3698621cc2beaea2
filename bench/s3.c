/*
 * bench_s3 - Tessera's S3 backend against boto3 on the same server and the
 * same data, in one run; and Tessera's batched array reads against the same
 * reads made one request at a time.
 *
 *   small:  --small-count objects of --small-size bytes (default 1000 x
 *           64 KiB, xorshift bytes).
 *           put, one at a time:  tess_blob_put per object / boto3 put_object
 *           put, concurrent:     one tess_blob_put_many of every object (the
 *                                store's default concurrency, 16) / boto3
 *                                put_object from a ThreadPoolExecutor of 16
 *           get, one at a time:  tess_blob_get / get_object()["Body"].read()
 *           get, concurrent:     one tess_blob_get_many / the thread pool
 *           Puts go to fresh keys every run; every get reads the same
 *           objects (the first concurrent put run's).
 *   large:  one object of --large-mb MiB (default 256).
 *           put from memory:  tess_blob_put of the buffer / upload_fileobj
 *                             of an io.BytesIO (boto3's default TransferConfig:
 *                             8 MiB parts, 10 threads)
 *           get into memory:  tess_blob_get / download_fileobj into a BytesIO
 *           put from a file:  tess_blob_put_fd / upload_fileobj of the file
 *           get into a file:  tess_blob_get_fd / download_fileobj into the
 *                             file (neither side fsyncs)
 *           The file is in the work dir and hot in the page cache for both.
 *           Both sides read the same object.
 *   array:  an N x N float32 plane (default 4096, "smooth": waves plus noise
 *           of 1e-3), Zarr v2 with blosc lz4 level 5 shuffle, in chunks of
 *           256 x 256 and of 512 x 512.  Read whole through a fresh handle
 *           (so no chunk cache) by the store opened with the default URL
 *           (batched gets, 16 at a time) and by the same store opened with
 *           ?concurrency=1 (every get waits for the one before).  The same
 *           reads again through a proxy in this process that holds every
 *           request back by --rtt-ms (default 10): on loopback a request
 *           costs only the server's CPU time, which batching cannot hide, so
 *           these rows show what batching does against a server that is
 *           farther away, as S3 is.  Writes are timed directly, for
 *           information.
 *
 * boto3 runs in one Python process (bench/s3_peer.py) that this program
 * starts and feeds case by case; the data is made here and handed over in
 * files.  Tessera and boto3 alternate run by run (who goes first rotates),
 * so a busy moment of the shared machine slows both.  Everything read is
 * checked after the clock stops.  Results are medians of --runs runs
 * (default 3).  Ratio = Tessera / boto3 (or batched / one at a time):
 * higher is better.  The server: --endpoint, else $AWS_ENDPOINT_URL;
 * credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for both
 * sides.  Everything the run puts goes into a fresh bucket, removed at the
 * end.  See --help and docs/performance.md.
 */
#define BENCH_NAME "bench_s3"
#include "bench_common.h"
#include "tessera.h"

#include "array/array_internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_RUNS 9
#define MAX_ROWS 32
#define KEY_CAP 96
#define TARGET_SMALL 2.0 /* concurrent small objects: >= 2x boto3 */
#define TARGET_LARGE 1.0 /* the large object: >= boto3 */
#define TARGET_ARRAY 4.0 /* batched whole-array read: >= 4x one at a time */

/* The sections, for --only. */
#define ONLY_SMALL 1u
#define ONLY_LARGE 2u
#define ONLY_ARRAY 4u

typedef struct options {
	const char *endpoint, *region;
	size_t small_count, small_size;
	uint64_t large_bytes;
	uint64_t plane_n;
	unsigned concurrency;
	unsigned rtt_ms; /* the proxy's added round trip; 0: no proxy rows */
	int runs;
	unsigned only; /* ONLY_* bits */
	const char *parent, *python, *peer_script;
	int json;
} options;

/* One row of a table: Tessera against a baseline, every run of both. */
typedef struct row {
	char op[80];
	const char *base_name; /* "boto3", "one at a time" */
	const char *unit;      /* "ops/s" or "MB/s" */
	double target;         /* minimum tessera / base; 0: information only */
	double base[MAX_RUNS], tess[MAX_RUNS];
	int nruns;
} row;

/* The boto3 process. */
typedef struct peer {
	pid_t pid;
	FILE *to, *from;
	char *line;
	size_t cap;
	json_t *versions;
} peer;

/* What the whole run shares. */
typedef struct bench {
	const options *o;
	char bucket[64];
	char url[PATH_MAX];
	tess_store *st;
	peer py;
	uint8_t *small;         /* object i at small + i * small_size */
	uint8_t *large;
	char small_path[PATH_MAX], large_path[PATH_MAX], out_path[PATH_MAX];
	float *plane;
} bench;

static row g_rows[MAX_ROWS];
static size_t g_nrows;
static pid_t g_child;
static char g_bucket_left[64]; /* the bucket, until the run removed it */

/* ---- failure and cleanup -------------------------------------------------------- */

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		fail("out of memory for %zu bytes", n);
	return p;
}

/* The peer first (it may be reading the work dir), then the dir. */
static void cleanup(void)
{
	if (g_child > 0) {
		kill(g_child, SIGTERM);
		waitpid(g_child, NULL, 0);
		g_child = 0;
	}
	if (g_work[0])
		nftw(g_work, remove_entry, 32, FTW_DEPTH | FTW_PHYS);
	g_work[0] = '\0';
	if (g_bucket_left[0])
		fprintf(stderr, BENCH_NAME ": bucket '%s' is left on the server\n", g_bucket_left);
}

/* Every file the run makes in the work dir, full paths made beforehand:
 * a signal handler can unlink them but not walk a tree. */
static const char *const work_files[] = {"small.bin", "large.bin", "large-out.bin", "peer.json"};
#define NWORK_FILES (sizeof work_files / sizeof *work_files)
static char g_work_paths[NWORK_FILES][PATH_MAX];

/* Interrupted: stop the peer, remove the work dir's files and the dir. */
static void on_signal(int sig)
{
	static const char msg[] = "\nbench_s3: interrupted; could not remove the work dir: ";
	if (g_child > 0)
		kill(g_child, SIGTERM);
	for (size_t i = 0; i < NWORK_FILES; i++)
		unlink(g_work_paths[i]);
	if (rmdir(g_work) != 0) {
		ssize_t ignored = write(2, msg, sizeof msg - 1);
		ignored = write(2, g_work, strlen(g_work));
		ignored = write(2, "\n", 1);
		(void)ignored;
	}
	_exit(128 + sig);
}

/* ---- numbers ---------------------------------------------------------------------------- */

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void fill_random(uint8_t *p, size_t len, uint64_t seed)
{
	uint64_t s = seed | 1;
	for (size_t i = 0; i < len; i += 8) {
		uint64_t x = xorshift(&s);
		memcpy(p + i, &x, len - i < 8 ? len - i : 8);
	}
}

/* A field a model or a sensor might produce: a few waves and a little noise
 * (bench_array's "smooth" plane). */
static void make_smooth_plane(float *d, uint64_t n, uint64_t seed)
{
	uint64_t s = seed | 1;
	for (uint64_t y = 0; y < n; y++)
		for (uint64_t x = 0; x < n; x++) {
			double fx = (double)x, fy = (double)y;
			double v = 100 * sin(fx / 300) * cos(fy / 200) + 20 * sin((fx + 2 * fy) / 97) +
			           5 * cos(fx / 23 - fy / 41);
			double noise = ((double)(xorshift(&s) >> 11) / 9007199254740992.0 - 0.5) * 1e-3;
			d[y * n + x] = (float)(v + noise);
		}
}

static double median(const double *v, int n)
{
	double s[MAX_RUNS];
	memcpy(s, v, (size_t)n * sizeof *s);
	qsort(s, (size_t)n, sizeof *s, cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static row *add_row(const char *base_name, const char *unit, double target, const char *fmt,
                    ...)
{
	if (g_nrows == MAX_ROWS)
		fail("too many rows");
	row *r = &g_rows[g_nrows++];
	memset(r, 0, sizeof *r);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->op, sizeof r->op, fmt, ap);
	va_end(ap);
	r->base_name = base_name;
	r->unit = unit;
	r->target = target;
	return r;
}

/* ---- the boto3 process ---------------------------------------------------------------- */

static json_t *peer_read(peer *p, const char *what)
{
	errno = 0;
	if (getline(&p->line, &p->cap, p->from) < 0)
		fail("boto3 (s3_peer.py) ended without answering %s%s%s", what, errno ? ": " : "",
		     errno ? strerror(errno) : "; see its message above");
	json_error_t err;
	json_t *doc = json_loads(p->line, 0, &err);
	if (!json_is_object(doc))
		fail("boto3 answered %s with something that is not a JSON object: %s", what,
		     err.text);
	return doc;
}

static void peer_start(peer *p, const options *o, const char *config)
{
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
		fail("pipe: %s", strerror(errno));
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
			_exit(127);
		execl(o->python, o->python, o->peer_script, config, (char *)NULL);
		fprintf(stderr, "bench_s3: exec %s: %s\n", o->python, strerror(errno));
		_exit(127);
	}
	g_child = p->pid = pid;
	close(in[0]);
	close(out[1]);
	if (!(p->to = fdopen(in[1], "w")) || !(p->from = fdopen(out[0], "r")))
		fail("fdopen: %s", strerror(errno));
	json_t *hello = peer_read(p, "the start");
	p->versions = json_incref(json_object_get(hello, "versions"));
	json_decref(hello);
	if (!p->versions)
		fail("boto3 (s3_peer.py) did not report its versions");
}

/* Send one command (stolen reference) and return the seconds it took. */
static double peer_run(peer *p, json_t *cmd)
{
	if (!cmd)
		fail("out of memory building a command for boto3");
	char *text = json_dumps(cmd, JSON_COMPACT);
	const char *op = json_string_value(json_object_get(cmd, "op"));
	if (!text || fprintf(p->to, "%s\n", text) < 0 || fflush(p->to) != 0)
		fail("sending '%s' to boto3: %s", op ? op : "?", strerror(errno));
	json_t *doc = peer_read(p, op ? op : "?");
	const char *got = json_string_value(json_object_get(doc, "op"));
	double secs = json_number_value(json_object_get(doc, "secs"));
	if (!got || !op || strcmp(got, op) != 0 || !(secs > 0))
		fail("asked boto3 for '%s', it answered: %s", op ? op : "?", p->line);
	free(text);
	json_decref(doc);
	json_decref(cmd);
	return secs;
}

static void peer_stop(peer *p)
{
	fclose(p->to);
	while (getline(&p->line, &p->cap, p->from) > 0)
		fprintf(stderr, "bench_s3: boto3 said after the last command: %s", p->line);
	fclose(p->from);
	free(p->line);
	int status;
	if (waitpid(p->pid, &status, 0) == p->pid && !(WIFEXITED(status) && !WEXITSTATUS(status)))
		fail("boto3 (s3_peer.py) exited with status %d",
		     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	g_child = 0;
}

/* ---- small objects -------------------------------------------------------------------- */

static const uint8_t *small_obj(const bench *b, size_t i)
{
	return b->small + i * b->o->small_size;
}

/* The store key of object i under `set` ("small/tess-seq-1/0042"). */
static void small_key(char *out, const char *set, size_t i)
{
	snprintf(out, KEY_CAP, "small/%s/%04zu", set, i);
}

static void check_small(const bench *b, size_t i, const void *data, size_t len, const char *key)
{
	if (len != b->o->small_size || memcmp(data, small_obj(b, i), len) != 0)
		fail("get '%s': %zu bytes that differ from what was put", key, len);
}

static double tess_small_put_seq(bench *b, const char *set)
{
	char key[KEY_CAP];
	double t = now_s();
	for (size_t i = 0; i < b->o->small_count; i++) {
		small_key(key, set, i);
		check_tess(tess_blob_put(b->st, key, small_obj(b, i), b->o->small_size, 0), "put",
		           key);
	}
	return now_s() - t;
}

static double tess_small_put_conc(bench *b, const char *set)
{
	size_t n = b->o->small_count;
	char(*keys)[KEY_CAP] = xmalloc(n * sizeof *keys);
	tess_put_req *reqs = xmalloc(n * sizeof *reqs);
	for (size_t i = 0; i < n; i++) {
		small_key(keys[i], set, i);
		reqs[i] = (tess_put_req){keys[i], small_obj(b, i), b->o->small_size, 0, 0};
	}
	double t = now_s();
	check_tess(tess_blob_put_many(b->st, reqs, n), "put_many", keys[0]);
	t = now_s() - t;
	for (size_t i = 0; i < n; i++)
		check_tess(reqs[i].status, "put_many", keys[i]);
	free(keys);
	free(reqs);
	return t;
}

static double tess_small_get_seq(bench *b, const char *set)
{
	size_t n = b->o->small_count;
	void **data = xmalloc(n * sizeof *data);
	size_t *lens = xmalloc(n * sizeof *lens);
	char key[KEY_CAP];
	double t = now_s();
	for (size_t i = 0; i < n; i++) {
		small_key(key, set, i);
		check_tess(tess_blob_get(&data[i], &lens[i], b->st, key), "get", key);
	}
	t = now_s() - t;
	for (size_t i = 0; i < n; i++) {
		small_key(key, set, i);
		check_small(b, i, data[i], lens[i], key);
		tess_free(data[i]);
	}
	free(data);
	free(lens);
	return t;
}

static double tess_small_get_conc(bench *b, const char *set)
{
	size_t n = b->o->small_count;
	char(*keys)[KEY_CAP] = xmalloc(n * sizeof *keys);
	tess_get_req *reqs = xmalloc(n * sizeof *reqs);
	tess_buf *bufs = calloc(n, sizeof *bufs);
	if (!bufs)
		fail("out of memory");
	for (size_t i = 0; i < n; i++) {
		small_key(keys[i], set, i);
		reqs[i] = (tess_get_req){keys[i], 0, UINT64_MAX, &bufs[i], 0};
	}
	double t = now_s();
	check_tess(tess_blob_get_many(b->st, reqs, n), "get_many", keys[0]);
	t = now_s() - t;
	for (size_t i = 0; i < n; i++) {
		check_tess(reqs[i].status, "get_many", keys[i]);
		check_small(b, i, bufs[i].data, bufs[i].len, keys[i]);
		tess_buf_free(&bufs[i]);
	}
	free(keys);
	free(reqs);
	free(bufs);
	return t;
}

enum small_case { PUT_SEQ, PUT_CONC, GET_SEQ, GET_CONC, NSMALL };

static const char *const small_labels[NSMALL] = {
	"put, one at a time", "put, concurrent", "get, one at a time", "get, concurrent"};
static const char *const small_apis[NSMALL] = {"blob_put / put_object", "put_many / %u threads",
                                               "blob_get / get_object", "get_many / %u threads"};

/* The objects every get reads: the first concurrent put run's. */
#define SMALL_GET_SET "tess-conc-1"

/* Tessera's side of case c in run r (1-based): seconds. */
static double small_tess(bench *b, enum small_case c, int r)
{
	char set[32];
	switch (c) {
	case PUT_SEQ:
		snprintf(set, sizeof set, "tess-seq-%d", r);
		return tess_small_put_seq(b, set);
	case PUT_CONC:
		snprintf(set, sizeof set, "tess-conc-%d", r);
		return tess_small_put_conc(b, set);
	case GET_SEQ: return tess_small_get_seq(b, SMALL_GET_SET);
	case GET_CONC: return tess_small_get_conc(b, SMALL_GET_SET);
	default: return 0;
	}
}

/* boto3's side: keys outside the store for its puts ("boto/seq-1/0042"),
 * the store's own objects for its gets ("store/small/tess-conc-1/0042"). */
static double small_boto(bench *b, enum small_case c, int r)
{
	char prefix[64];
	int put = c == PUT_SEQ || c == PUT_CONC;
	const char *mode = c == PUT_SEQ || c == GET_SEQ ? "seq" : "conc";
	if (put)
		snprintf(prefix, sizeof prefix, "boto/%s-%d/", mode, r);
	else
		snprintf(prefix, sizeof prefix, "store/small/%s/", SMALL_GET_SET);
	return peer_run(&b->py, json_pack("{s:s, s:s, s:s}", "op", put ? "small_put" : "small_get",
	                                  "mode", mode, "prefix", prefix));
}

/* Every case once per round, Tessera and boto3 back to back (who goes
 * first alternates), rounds of puts before rounds of gets. */
static void bench_small(bench *b)
{
	const options *o = b->o;
	double n = (double)o->small_count;
	fprintf(stderr, "small: %zu objects of %zu bytes, %d runs\n", o->small_count,
	        o->small_size, o->runs);
	row *rows[NSMALL];
	for (int c = 0; c < NSMALL; c++) {
		char api[48], size[32];
		snprintf(api, sizeof api, small_apis[c], o->concurrency);
		if (o->small_size % 1024 == 0)
			snprintf(size, sizeof size, "%zu KiB", o->small_size >> 10);
		else
			snprintf(size, sizeof size, "%zu B", o->small_size);
		rows[c] = add_row("boto3", "ops/s", c == PUT_CONC || c == GET_CONC ? TARGET_SMALL : 0,
		                  "%s %s (%s)", size, small_labels[c], api);
	}
	for (int phase = 0; phase < 2; phase++)
		for (int r = 0; r < o->runs; r++)
			for (int k = 0; k < 2; k++) {
				enum small_case c = (enum small_case)(phase * 2 + k);
				row *w = rows[c];
				for (int side = 0; side < 2; side++) {
					int tess = (side + r + k) % 2 == 0;
					double secs = tess ? small_tess(b, c, r + 1) : small_boto(b, c, r + 1);
					(tess ? w->tess : w->base)[r] = n / secs;
				}
				w->nruns = r + 1;
				fprintf(stderr, "  %-20s run %d: tessera %7.0f ops/s  boto3 %7.0f ops/s\n",
				        small_labels[c], r + 1, w->tess[r], w->base[r]);
			}
}

/* ---- the large object ------------------------------------------------------------------- */

#define LARGE_KEY "large/object"
#define LARGE_S3_KEY "store/" LARGE_KEY

enum large_case { L_PUT_MEM, L_GET_MEM, L_PUT_FILE, L_GET_FILE, NLARGE };

static const char *const large_labels[NLARGE] = {
	"put from memory", "get into memory", "put from a file", "get into a file"};
static const char *const large_apis[NLARGE] = {
	"(blob_put / upload_fileobj)", "(blob_get / download_fileobj)",
	"(blob_put_fd / upload_fileobj)", "(blob_get_fd / download_fileobj)"};

static int open_or_fail(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0644);
	if (fd < 0)
		fail("open %s: %s", path, strerror(errno));
	return fd;
}

/* The file `path` must hold the large object's bytes. */
static void check_large_file(bench *b, const char *path)
{
	int fd = open_or_fail(path, O_RDONLY);
	struct stat sb;
	if (fstat(fd, &sb) != 0 || (uint64_t)sb.st_size != b->o->large_bytes)
		fail("%s: %lld bytes, expected %" PRIu64, path, (long long)sb.st_size,
		     b->o->large_bytes);
	uint8_t *buf = xmalloc(8u << 20);
	for (uint64_t off = 0; off < b->o->large_bytes;) {
		ssize_t n = pread(fd, buf, 8u << 20, (off_t)off);
		if (n <= 0)
			fail("read %s: %s", path, n < 0 ? strerror(errno) : "short");
		if (memcmp(buf, b->large + off, (size_t)n) != 0)
			fail("%s differs from the object's data at byte %" PRIu64, path, off);
		off += (uint64_t)n;
	}
	free(buf);
	close(fd);
}

static double large_tess(bench *b, enum large_case c)
{
	uint64_t size = b->o->large_bytes;
	double t;
	if (c == L_PUT_MEM) {
		t = now_s();
		check_tess(tess_blob_put(b->st, LARGE_KEY, b->large, size, 0), "put", LARGE_KEY);
		return now_s() - t;
	}
	if (c == L_GET_MEM) {
		void *data;
		size_t len;
		t = now_s();
		check_tess(tess_blob_get(&data, &len, b->st, LARGE_KEY), "get", LARGE_KEY);
		t = now_s() - t;
		if (len != size || memcmp(data, b->large, len) != 0)
			fail("get '%s': %zu bytes that differ from what was put", LARGE_KEY, len);
		tess_free(data);
		return t;
	}
	int put = c == L_PUT_FILE;
	int fd = put ? open_or_fail(b->large_path, O_RDONLY)
	             : open_or_fail(b->out_path, O_WRONLY | O_CREAT | O_TRUNC);
	t = now_s();
	if (put)
		check_tess(tess_blob_put_fd(b->st, LARGE_KEY, fd, 0), "put_fd", LARGE_KEY);
	else
		check_tess(tess_blob_get_fd(b->st, LARGE_KEY, fd), "get_fd", LARGE_KEY);
	t = now_s() - t;
	if (close(fd) != 0)
		fail("close: %s", strerror(errno));
	if (!put) {
		check_large_file(b, b->out_path);
		unlink(b->out_path);
	}
	return t;
}

static double large_boto(bench *b, enum large_case c)
{
	json_t *cmd;
	if (c == L_PUT_MEM || c == L_PUT_FILE)
		cmd = json_pack("{s:s, s:s, s:s}", "op", "large_put", "src",
		                c == L_PUT_MEM ? "mem" : "file", "key", "boto/large");
	else
		cmd = json_pack("{s:s, s:s, s:s, s:s}", "op", "large_get", "dst",
		                c == L_GET_MEM ? "mem" : "file", "key", LARGE_S3_KEY, "path",
		                b->out_path);
	return peer_run(&b->py, cmd);
}

/* A put then a get (memory, then file), each run by both back to back.
 * The object put stays the same size and key, so both sides' gets read
 * the one Tessera put last. */
static void bench_large(bench *b)
{
	const options *o = b->o;
	fprintf(stderr, "large: one object of %" PRIu64 " MiB, %d runs\n", o->large_bytes >> 20,
	        o->runs);
	for (int c = 0; c < NLARGE; c++) {
		row *w = add_row("boto3", "MB/s", TARGET_LARGE, "%" PRIu64 " MiB %s %s",
		                 o->large_bytes >> 20, large_labels[c], large_apis[c]);
		for (int r = 0; r < o->runs; r++) {
			for (int side = 0; side < 2; side++) {
				int tess = (side + r) % 2 == 0;
				double secs = tess ? large_tess(b, (enum large_case)c)
				                   : large_boto(b, (enum large_case)c);
				(tess ? w->tess : w->base)[r] = mb_per_s(o->large_bytes, secs);
			}
			w->nruns = r + 1;
			fprintf(stderr, "  %-16s run %d: tessera %7.1f MB/s  boto3 %7.1f MB/s\n",
			        large_labels[c], r + 1, w->tess[r], w->base[r]);
		}
	}
}

/* ---- a proxy that adds a round trip --------------------------------------------------------- */

/*
 * On loopback a request costs only the server's CPU time, so there is no
 * waiting for batching to hide.  This proxy stands in for a server farther
 * away: every byte from the client reaches the server `delay` seconds after
 * it arrived (answers pass at once), so each request costs one more round
 * trip of that length, as with a remote S3.  One thread accepts; each
 * connection has a thread that queues the client's bytes, one that hands
 * them on when due, and one for the answers.
 */
typedef struct piece {
	struct piece *next;
	double due;
	size_t len;
	uint8_t data[];
} piece;

typedef struct relay {
	int client, server;
	double delay;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	piece *head, *tail;
	int client_done; /* the client closed its side (or failed) */
	int threads;     /* still running; the last one frees the relay */
} relay;

typedef struct proxy {
	int lfd;
	int port;
	double delay;
	struct sockaddr_storage upstream;
	socklen_t upstream_len;
	pthread_t acceptor;
} proxy;

#define RELAY_BUF (64 * 1024)

static void relay_release(relay *r)
{
	pthread_mutex_lock(&r->lock);
	int last = --r->threads == 0;
	pthread_mutex_unlock(&r->lock);
	if (!last)
		return;
	close(r->client);
	close(r->server);
	for (piece *p = r->head, *n; p; p = n) {
		n = p->next;
		free(p);
	}
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r);
}

/* Client -> queue, each piece stamped with when it may go on. */
static void *relay_take(void *arg)
{
	relay *r = arg;
	for (;;) {
		piece *p = malloc(sizeof *p + RELAY_BUF);
		ssize_t n = p ? read(r->client, p->data, RELAY_BUF) : -1;
		if (n < 0 && errno == EINTR) {
			free(p);
			continue;
		}
		pthread_mutex_lock(&r->lock);
		if (n <= 0) {
			free(p);
			r->client_done = 1;
		} else {
			p->len = (size_t)n;
			p->due = now_s() + r->delay;
			p->next = NULL;
			if (r->tail)
				r->tail->next = p;
			else
				r->head = p;
			r->tail = p;
		}
		pthread_cond_signal(&r->cond);
		int done = r->client_done;
		pthread_mutex_unlock(&r->lock);
		if (done)
			break;
	}
	relay_release(r);
	return NULL;
}

/* Queue -> server, each piece when due. */
static void *relay_give(void *arg)
{
	relay *r = arg;
	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (!r->head && !r->client_done)
			pthread_cond_wait(&r->cond, &r->lock);
		piece *p = r->head;
		if (!p)
			break;
		r->head = p->next;
		if (!r->head)
			r->tail = NULL;
		pthread_mutex_unlock(&r->lock);
		double wait = p->due - now_s();
		if (wait > 0) {
			struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
			while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
				;
		}
		tess_write_full(r->server, p->data, p->len); /* a failure shows on the other side */
		free(p);
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	shutdown(r->server, SHUT_WR);
	relay_release(r);
	return NULL;
}

/* Server -> client, at once. */
static void *relay_answer(void *arg)
{
	relay *r = arg;
	uint8_t *buf = malloc(RELAY_BUF);
	for (ssize_t n; buf;) {
		n = read(r->server, buf, RELAY_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || tess_write_full(r->client, buf, (size_t)n) != 0)
			break;
	}
	free(buf);
	shutdown(r->client, SHUT_RDWR); /* also ends relay_take's read */
	relay_release(r);
	return NULL;
}

static void no_delay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void relay_start(proxy *px, int client)
{
	relay *r = calloc(1, sizeof *r);
	int server = socket(px->upstream.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!r || server < 0 ||
	    connect(server, (const struct sockaddr *)&px->upstream, px->upstream_len) != 0) {
		fprintf(stderr, BENCH_NAME ": proxy: cannot reach the server: %s\n", strerror(errno));
		if (server >= 0)
			close(server);
		close(client);
		free(r);
		return;
	}
	no_delay(client);
	no_delay(server);
	r->client = client;
	r->server = server;
	r->delay = px->delay;
	r->threads = 3;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	void *(*const fns[3])(void *) = {relay_take, relay_give, relay_answer};
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (int i = 0; i < 3; i++) {
		pthread_t t;
		if (pthread_create(&t, &attr, fns[i], r) != 0)
			fail("proxy: cannot start a thread");
	}
	pthread_attr_destroy(&attr);
}

static void *proxy_accept(void *arg)
{
	proxy *px = arg;
	for (;;) {
		int c = accept4(px->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c >= 0)
			relay_start(px, c);
		else if (errno != EINTR && errno != ECONNABORTED)
			break; /* the listening socket was shut down */
	}
	return NULL;
}

/* Listen on 127.0.0.1 (any free port) and relay to http://HOST:PORT. */
static void proxy_start(proxy *px, const char *endpoint, unsigned rtt_ms)
{
	char host[256], port[16] = "80";
	const char *hp = endpoint + strlen("http://");
	if (strncmp(endpoint, "http://", 7) != 0)
		fail("--rtt-ms needs an http:// endpoint (the proxy does not speak TLS); "
		     "give --rtt-ms 0");
	size_t hlen = strcspn(hp, ":/");
	if (hlen == 0 || hlen >= sizeof host)
		fail("cannot take the host out of '%s'", endpoint);
	memcpy(host, hp, hlen);
	host[hlen] = '\0';
	if (hp[hlen] == ':')
		snprintf(port, sizeof port, "%.*s", (int)strcspn(hp + hlen + 1, "/"), hp + hlen + 1);
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
	int e = getaddrinfo(host, port, &hints, &ai);
	if (e)
		fail("proxy: %s:%s: %s", host, port, gai_strerror(e));
	memcpy(&px->upstream, ai->ai_addr, ai->ai_addrlen);
	px->upstream_len = ai->ai_addrlen;
	freeaddrinfo(ai);
	px->delay = rtt_ms / 1e3;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sa;
	px->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (px->lfd < 0 || bind(px->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    listen(px->lfd, 128) != 0 || getsockname(px->lfd, (struct sockaddr *)&sa, &len) != 0)
		fail("proxy: cannot listen on 127.0.0.1: %s", strerror(errno));
	px->port = ntohs(sa.sin_port);
	if (pthread_create(&px->acceptor, NULL, proxy_accept, px) != 0)
		fail("proxy: cannot start a thread");
}

/* No new connections; the open ones end as their clients close them. */
static void proxy_stop(proxy *px)
{
	shutdown(px->lfd, SHUT_RDWR);
	pthread_join(px->acceptor, NULL);
	close(px->lfd);
}

/* ---- arrays ------------------------------------------------------------------------------- */

#define ARRAY_CODEC "blosc:lz4:5:shuffle"

static const uint64_t array_chunks[] = {256, 512};

static double array_write(tess_store *st, const char *path, const bench *b, uint64_t chunk)
{
	tess_array_opts ao = TESS_ARRAY_OPTS_INIT;
	ao.ndim = 2;
	ao.shape[0] = ao.shape[1] = b->o->plane_n;
	ao.chunks[0] = ao.chunks[1] = chunk;
	ao.dtype = (tess_dtype){TESS_DT_FLOAT, 4, '<'};
	ao.codec = ARRAY_CODEC;
	uint64_t start[2] = {0, 0}, count[2] = {b->o->plane_n, b->o->plane_n};
	double t = now_s();
	tess_array *a;
	check_tess(tess_array_create(&a, st, path, &ao), "create array", path);
	check_tess(tess_array_write(a, start, count, b->plane), "write array", path);
	tess_array_close(a);
	return now_s() - t;
}

/* The whole array through a fresh handle with no chunk cache; checked. */
static double array_read(tess_store *st, const char *path, const bench *b, float *buf)
{
	uint64_t n = b->o->plane_n, start[2] = {0, 0}, count[2] = {n, n};
	size_t bytes = (size_t)(n * n * sizeof(float));
	memset(buf, 0, bytes); /* a read that wrote nothing must not pass the check */
	double t = now_s();
	tess_array *a;
	check_tess(tess_array_open(&a, st, path), "open array", path);
	tess_array_set_cache_bytes(a, 0);
	check_tess(tess_array_read(a, start, count, buf), "read array", path);
	tess_array_close(a);
	t = now_s() - t;
	if (memcmp(buf, b->plane, bytes) != 0)
		fail("array '%s': what was read differs from what was written", path);
	return t;
}

/* Read `path` whole `runs` times through both stores (batched first in odd
 * runs, one at a time first in even ones) into row w. */
static void array_read_rows(bench *b, row *w, tess_store *batched, tess_store *single,
                            const char *path, float *buf, const char *label)
{
	uint64_t bytes = b->o->plane_n * b->o->plane_n * sizeof(float);
	for (int r = 0; r < b->o->runs; r++) {
		for (int side = 0; side < 2; side++) {
			int bat = (side + r) % 2 == 0;
			double secs = array_read(bat ? batched : single, path, b, buf);
			(bat ? w->tess : w->base)[r] = mb_per_s(bytes, secs);
		}
		w->nruns = r + 1;
		fprintf(stderr, "  %-14s run %d: batched %7.1f MB/s  one at a time %7.1f MB/s\n", label,
		        r + 1, w->tess[r], w->base[r]);
	}
}

/* The run's store through `endpoint`, batching or one request at a time. */
static tess_store *open_via(const bench *b, const char *endpoint, int single)
{
	char url[PATH_MAX + 64];
	snprintf(url, sizeof url, "s3://%s/store?endpoint=%s&region=%s&concurrency=%u", b->bucket,
	         endpoint, b->o->region, single ? 1 : b->o->concurrency);
	tess_store *st;
	check_tess(tess_store_open(&st, url, NULL), "open store", url);
	return st;
}

/* Per chunk size: write a fresh array each run through both stores, then
 * read the first batched one whole through both, directly and through the
 * proxy that adds a round trip. */
static void bench_arrays(bench *b)
{
	const options *o = b->o;
	uint64_t n = o->plane_n;
	uint64_t bytes = n * n * sizeof(float);
	tess_store *single = open_via(b, o->endpoint, 1);
	tess_store *far = NULL, *far_single = NULL;
	proxy px;
	char rtt_label[32] = "";
	if (o->rtt_ms) {
		char via[64];
		proxy_start(&px, o->endpoint, o->rtt_ms);
		snprintf(via, sizeof via, "http://127.0.0.1:%d", px.port);
		far = open_via(b, via, 0);
		far_single = open_via(b, via, 1);
		snprintf(rtt_label, sizeof rtt_label, "read +%u ms RTT", o->rtt_ms);
	}
	float *buf = xmalloc((size_t)bytes);
	for (size_t k = 0; k < sizeof array_chunks / sizeof *array_chunks; k++) {
		uint64_t c = array_chunks[k];
		uint64_t nchunks = ((n + c - 1) / c) * ((n + c - 1) / c);
		fprintf(stderr, "array: %" PRIu64 " x %" PRIu64 " float32 in %" PRIu64 " chunks of %"
		        PRIu64 " x %" PRIu64 ", %d runs\n", n, n, nchunks, c, c, o->runs);
		row *rd = add_row("one at a time", "MB/s", TARGET_ARRAY,
		                  "read %" PRIu64 "^2, %" PRIu64 " chunks of %" PRIu64 "^2", n, nchunks, c);
		row *rd_far = o->rtt_ms ? add_row("one at a time", "MB/s", TARGET_ARRAY,
		                                  "read %" PRIu64 "^2, %" PRIu64 " chunks of %" PRIu64
		                                  "^2, +%u ms RTT", n, nchunks, c, o->rtt_ms)
		                        : NULL;
		row *wr = add_row("one at a time", "MB/s", 0,
		                  "write %" PRIu64 "^2, %" PRIu64 " chunks of %" PRIu64 "^2", n, nchunks,
		                  c);
		char path[96], first[96];
		snprintf(first, sizeof first, "arrays/c%" PRIu64 "/batched-1", c);
		for (int r = 0; r < o->runs; r++) {
			for (int side = 0; side < 2; side++) {
				int batched = (side + r) % 2 == 0;
				snprintf(path, sizeof path, "arrays/c%" PRIu64 "/%s-%d", c,
				         batched ? "batched" : "single", r + 1);
				double secs = array_write(batched ? b->st : single, path, b, c);
				(batched ? wr->tess : wr->base)[r] = mb_per_s(bytes, secs);
			}
			wr->nruns = r + 1;
			fprintf(stderr, "  %-14s run %d: batched %7.1f MB/s  one at a time %7.1f MB/s\n",
			        "write", r + 1, wr->tess[r], wr->base[r]);
		}
		array_read_rows(b, rd, b->st, single, first, buf, "read");
		if (rd_far)
			array_read_rows(b, rd_far, far, far_single, first, buf, rtt_label);
	}
	free(buf);
	tess_store_close(single);
	if (o->rtt_ms) {
		tess_store_close(far);
		tess_store_close(far_single);
		proxy_stop(&px);
	}
}

/* ---- the machine and the output ------------------------------------------------------------ */

/* The first line `cmd` prints, or "unknown". */
static void first_line_of(const char *cmd, char *out, size_t cap)
{
	snprintf(out, cap, "unknown");
	FILE *f = popen(cmd, "r");
	if (!f)
		return;
	if (fgets(out, (int)cap, f))
		out[strcspn(out, "\n")] = '\0';
	else
		snprintf(out, cap, "unknown");
	pclose(f);
}

static double ratio(const row *r) { return median(r->tess, r->nruns) / median(r->base, r->nruns); }

static const char *verdict(const row *r)
{
	if (r->target <= 0)
		return "info";
	return ratio(r) >= r->target ? "PASS" : "MISS";
}

/* lowest..highest ratio of runs made back to back: the noise. */
static void spread(const row *r, char *out, size_t cap)
{
	double lo = r->tess[0] / r->base[0], hi = lo;
	for (int k = 1; k < r->nruns; k++) {
		double x = r->tess[k] / r->base[k];
		lo = x < lo ? x : lo;
		hi = x > hi ? x : hi;
	}
	snprintf(out, cap, "%.2f..%.2f", lo, hi);
}

typedef struct env_info {
	char rgw[160], kernel[160], load_start[64], load_end[64];
} env_info;

static int have_rows(const char *which)
{
	for (size_t i = 0; i < g_nrows; i++)
		if (strcmp(g_rows[i].base_name, which) == 0)
			return 1;
	return 0;
}

static void print_rows(const char *base_head, const char *which)
{
	printf("%-58s %13s %13s %6s %11s %6s %6s\n", "operation", base_head, "tessera", "ratio",
	       "runs", "target", "result");
	for (size_t i = 0; i < g_nrows; i++) {
		const row *r = &g_rows[i];
		if (strcmp(r->base_name, which) != 0)
			continue;
		char target[16] = "-", sp[32];
		if (r->target > 0)
			snprintf(target, sizeof target, ">=%.1f", r->target);
		spread(r, sp, sizeof sp);
		int prec = strcmp(r->unit, "MB/s") == 0;
		printf("%-58s %7.*f %-5s %7.*f %-5s %6.2f %11s %6s %6s\n", r->op, prec,
		       median(r->base, r->nruns), r->unit, prec, median(r->tess, r->nruns), r->unit,
		       ratio(r), sp, target, verdict(r));
	}
}

static void print_table(const bench *b, const env_info *e)
{
	const options *o = b->o;
	json_t *v = b->py.versions;
	printf("bench_s3: Tessera %s (libcurl %s) against boto3 %s (botocore %s, s3transfer %s, "
	       "Python %s)\n",
	       tess_version(), curl_version_info(CURLVERSION_NOW)->version,
	       json_string_value(json_object_get(v, "boto3")),
	       json_string_value(json_object_get(v, "botocore")),
	       json_string_value(json_object_get(v, "s3transfer")),
	       json_string_value(json_object_get(v, "python")));
	printf("server: %s, %s\n", o->endpoint, e->rgw);
	printf("machine: %ld CPUs, %s; load average %s at the start, %s at the end\n",
	       sysconf(_SC_NPROCESSORS_ONLN), e->kernel, e->load_start, e->load_end);
	printf("medians of %d runs, the two sides alternating run by run; concurrency %u "
	       "(Tessera's URL,\nboto3's threads and connection pool)\n", o->runs, o->concurrency);
	printf("ratio = tessera / boto3, or batched / one at a time (higher is better); \"runs\" = "
	       "lowest..highest\nratio of the runs made back to back\n");
	if (have_rows("boto3")) {
		printf("\n");
		print_rows("boto3", "boto3");
	}
	if (have_rows("one at a time")) {
		printf("\narrays (%s, Zarr v2, smooth float32; whole-array reads through a fresh "
		       "handle):\n\"one at a time\" is the same store opened with ?concurrency=1",
		       ARRAY_CODEC);
		if (o->rtt_ms)
			printf("; \"+%u ms RTT\": through a proxy\nthat delays every request by %u ms "
			       "(a server farther away than loopback)", o->rtt_ms, o->rtt_ms);
		printf("\n");
		print_rows("one at a time", "one at a time");
	}
}

static void print_json_runs(const char *name, const double *v, int n)
{
	printf(", \"%s\": [", name);
	for (int i = 0; i < n; i++)
		printf("%s%.2f", i ? ", " : "", v[i]);
	printf("]");
}

static void print_json(const bench *b, const env_info *e)
{
	const options *o = b->o;
	char *versions = json_dumps(b->py.versions, JSON_COMPACT);
	printf("{\"tessera\": \"%s\", \"curl\": \"%s\", \"peer\": %s,\n \"server\": \"%s\", "
	       "\"rgw\": \"%s\", \"cpus\": %ld, \"kernel\": \"%s\",\n \"runs\": %d, "
	       "\"concurrency\": %u, \"rtt_ms\": %u, \"small_count\": %zu, \"small_size\": %zu, "
	       "\"large_bytes\": %" PRIu64 ", \"plane_n\": %" PRIu64 ",\n \"load_start\": \"%s\", "
	       "\"load_end\": \"%s\",\n \"results\": [\n",
	       tess_version(), curl_version_info(CURLVERSION_NOW)->version,
	       versions ? versions : "{}", o->endpoint, e->rgw,
	       sysconf(_SC_NPROCESSORS_ONLN), e->kernel, o->runs, o->concurrency, o->rtt_ms,
	       o->small_count, o->small_size, o->large_bytes, o->plane_n, e->load_start, e->load_end);
	free(versions);
	for (size_t i = 0; i < g_nrows; i++) {
		const row *r = &g_rows[i];
		printf("  {\"op\": \"%s\", \"base\": \"%s\", \"unit\": \"%s\", \"base_median\": %.2f, "
		       "\"tessera_median\": %.2f, \"ratio\": %.3f, \"target\": %.1f, \"result\": \"%s\"",
		       r->op, r->base_name, r->unit, median(r->base, r->nruns),
		       median(r->tess, r->nruns), ratio(r), r->target, verdict(r));
		print_json_runs("base_runs", r->base, r->nruns);
		print_json_runs("tessera_runs", r->tess, r->nruns);
		printf("}%s\n", i + 1 < g_nrows ? "," : "");
	}
	printf(" ]}\n");
}

/* ---- options ------------------------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: bench_s3 [--endpoint URL] [--region NAME] [--small-count N] [--small-size N]\n"
	        "                [--large-mb N] [--plane-n N] [--concurrency N] [--rtt-ms N]\n"
	        "                [--runs N]\n"
	        "                [--only small,large,array] [--dir DIR | DIR] [--python PATH]\n"
	        "                [--peer SCRIPT] [--json]\n"
	        "Tessera's S3 backend against boto3 on one server, and batched array reads\n"
	        "against reads one at a time.  The server is --endpoint, else $AWS_ENDPOINT_URL;\n"
	        "credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.  A fresh bucket\n"
	        "holds everything and is removed at the end.  Defaults: 1000 x 65536 B small\n"
	        "objects, a 256 MiB object, a 4096^2 plane, concurrency 16, 3 runs, array reads\n"
	        "also through a proxy that adds a 10 ms round trip (--rtt-ms 0: not); data files\n"
	        "in a fresh directory inside DIR (default $TMPDIR, else /var/tmp); boto3 runs\n"
	        "bench/s3_peer.py under PATH (default /usr/bin/python3).\n");
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

/* bench/s3_peer.py next to this source, else next to the build dir. */
static const char *default_script(void)
{
	static char path[PATH_MAX];
	snprintf(path, sizeof path, "%s", __FILE__);
	char *slash = strrchr(path, '/');
	if (slash && path[0] == '/') {
		snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "s3_peer.py");
		if (access(path, R_OK) == 0)
			return path;
	}
	ssize_t n = readlink("/proc/self/exe", path, sizeof path - 64);
	if (n > 0) {
		path[n] = '\0';
		if ((slash = strrchr(path, '/')))
			snprintf(slash, sizeof path - (size_t)(slash - path), "/../bench/s3_peer.py");
		if (access(path, R_OK) == 0)
			return path;
	}
	return "bench/s3_peer.py";
}

/* "small,large,array" -> ONLY_* bits. */
static unsigned parse_only(const char *list)
{
	unsigned bits = 0;
	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ",");
		if (len == 5 && strncmp(p, "small", 5) == 0)
			bits |= ONLY_SMALL;
		else if (len == 5 && strncmp(p, "large", 5) == 0)
			bits |= ONLY_LARGE;
		else if (len == 5 && strncmp(p, "array", 5) == 0)
			bits |= ONLY_ARRAY;
		else
			fail("--only: '%.*s' is not one of small, large, array", (int)len, p);
		p += len + (p[len] == ',');
	}
	return bits;
}

static void parse_options(options *o, int argc, char **argv)
{
	*o = (options){.small_count = 1000, .small_size = 64 * 1024, .large_bytes = 256ull << 20,
	               .plane_n = 4096, .concurrency = 16, .rtt_ms = 10, .runs = 3,
	               .only = ONLY_SMALL | ONLY_LARGE | ONLY_ARRAY, .python = "/usr/bin/python3"};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--endpoint") == 0 && v)
			o->endpoint = v, i++;
		else if (strcmp(a, "--region") == 0 && v)
			o->region = v, i++;
		else if (strcmp(a, "--small-count") == 0)
			o->small_count = parse_count(a, v), i++;
		else if (strcmp(a, "--small-size") == 0)
			o->small_size = parse_count(a, v), i++;
		else if (strcmp(a, "--large-mb") == 0)
			o->large_bytes = parse_count(a, v) << 20, i++;
		else if (strcmp(a, "--plane-n") == 0)
			o->plane_n = parse_count(a, v), i++;
		else if (strcmp(a, "--concurrency") == 0)
			o->concurrency = (unsigned)parse_count(a, v), i++;
		else if (strcmp(a, "--rtt-ms") == 0 && v)
			o->rtt_ms = strcmp(v, "0") == 0 ? 0 : (unsigned)parse_count(a, v), i++;
		else if (strcmp(a, "--runs") == 0)
			o->runs = (int)parse_count(a, v), i++;
		else if (strcmp(a, "--dir") == 0 && v)
			o->parent = v, i++;
		else if (strcmp(a, "--python") == 0 && v)
			o->python = v, i++;
		else if (strcmp(a, "--peer") == 0 && v)
			o->peer_script = v, i++;
		else if (strcmp(a, "--only") == 0 && v)
			o->only = parse_only(v), i++;
		else if (strcmp(a, "--json") == 0)
			o->json = 1;
		else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			usage(stdout), exit(0);
		else if (a[0] != '-' && !o->parent)
			o->parent = a;
		else
			usage(stderr), exit(2);
	}
	if (o->runs > MAX_RUNS)
		fail("--runs: at most %d", MAX_RUNS);
	if (o->small_count > 9999)
		fail("--small-count: at most 9999");
	if (o->concurrency > 64)
		fail("--concurrency: at most 64");
	if (o->plane_n > 32768)
		fail("--plane-n: at most 32768");
	if (o->small_count > SIZE_MAX / o->small_size || o->large_bytes > SIZE_MAX / 2)
		fail("the objects do not fit in memory");
	if (!o->endpoint)
		o->endpoint = getenv("AWS_ENDPOINT_URL");
	if (!o->endpoint || !*o->endpoint)
		fail("no server: give --endpoint URL or set AWS_ENDPOINT_URL");
	if (!o->region)
		o->region = getenv("AWS_REGION") && *getenv("AWS_REGION") ? getenv("AWS_REGION")
		                                                           : "us-east-1";
	if (!getenv("AWS_ACCESS_KEY_ID") || !getenv("AWS_SECRET_ACCESS_KEY"))
		fail("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (both sides use them)");
	if (!o->parent)
		o->parent = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
	if (!o->peer_script)
		o->peer_script = default_script();
	if (access(o->peer_script, R_OK) != 0)
		fail("cannot read %s (give --peer SCRIPT)", o->peer_script);
}

/* ---- setting up ---------------------------------------------------------------------------- */

static void make_work_dir(const options *o)
{
	char tmpl[sizeof g_work];
	if ((size_t)snprintf(tmpl, sizeof tmpl, "%s/tess-bench-s3-XXXXXX", o->parent) >=
	    sizeof tmpl)
		fail("--dir is too long");
	if (!mkdtemp(tmpl))
		fail("mkdtemp in %s: %s", o->parent, strerror(errno));
	snprintf(g_work, sizeof g_work, "%s", tmpl);
	for (size_t i = 0; i < NWORK_FILES; i++)
		path_in_work(g_work_paths[i], sizeof g_work_paths[i], work_files[i]);
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN); /* a dead peer shows as a write error */
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open_or_fail(path, O_WRONLY | O_CREAT | O_EXCL);
	write_all(fd, data, len, path);
	if (close(fd) != 0)
		fail("close %s: %s", path, strerror(errno));
}

/* The data, in memory and in the work dir for boto3. */
static void make_data(bench *b)
{
	const options *o = b->o;
	size_t small = o->small_count * o->small_size, n = (size_t)o->plane_n;
	b->small = xmalloc(small);
	b->large = xmalloc((size_t)o->large_bytes);
	b->plane = xmalloc(n * n * sizeof(float));
	fill_random(b->small, small, 0xD1B54A32D192ED03ull);
	fill_random(b->large, (size_t)o->large_bytes, 0x9E3779B97F4A7C15ull);
	make_smooth_plane(b->plane, o->plane_n, 20240602);
	path_in_work(b->small_path, sizeof b->small_path, "small.bin");
	path_in_work(b->large_path, sizeof b->large_path, "large.bin");
	path_in_work(b->out_path, sizeof b->out_path, "large-out.bin");
	write_file(b->small_path, b->small, small);
	write_file(b->large_path, b->large, (size_t)o->large_bytes);
}

/* A fresh bucket, made by tess_store_init; the store lives under "store/". */
static void make_store(bench *b)
{
	const options *o = b->o;
	uint32_t r = 0;
	if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
		r = (uint32_t)now_s();
	snprintf(b->bucket, sizeof b->bucket, "tess-bench-%ld-%08x", (long)getpid(), r);
	snprintf(b->url, sizeof b->url, "s3://%s/store?endpoint=%s&region=%s&concurrency=%u",
	         b->bucket, o->endpoint, o->region, o->concurrency);
	check_tess(tess_store_init(&b->st, b->url, NULL), "init store", b->url);
	snprintf(g_bucket_left, sizeof g_bucket_left, "%s", b->bucket);
}

static void start_peer(bench *b)
{
	const options *o = b->o;
	char config[PATH_MAX];
	path_in_work(config, sizeof config, "peer.json");
	json_t *c = json_pack("{s:s, s:s, s:s, s:I, s:{s:s, s:I, s:I}, s:{s:s, s:I}}", "endpoint",
	                      o->endpoint, "region", o->region, "bucket", b->bucket, "threads",
	                      (json_int_t)o->concurrency, "small", "path", b->small_path, "count",
	                      (json_int_t)o->small_count, "size", (json_int_t)o->small_size,
	                      "large", "path", b->large_path, "size", (json_int_t)o->large_bytes);
	if (!c || json_dump_file(c, config, 0) != 0)
		fail("cannot write %s", config);
	json_decref(c);
	peer_start(&b->py, o, config);
}

static void load_average(char *out, size_t cap)
{
	snprintf(out, cap, "?");
	FILE *f = fopen("/proc/loadavg", "r");
	double a, bb, c;
	if (f && fscanf(f, "%lf %lf %lf", &a, &bb, &c) == 3)
		snprintf(out, cap, "%.2f %.2f %.2f", a, bb, c);
	if (f)
		fclose(f);
}

int main(int argc, char **argv)
{
	options o;
	parse_options(&o, argc, argv);
	make_work_dir(&o);
	env_info e;
	struct utsname u;
	uname(&u);
	snprintf(e.kernel, sizeof e.kernel, "%s %s", u.sysname, u.release);
	first_line_of("radosgw --version 2>/dev/null", e.rgw, sizeof e.rgw);
	load_average(e.load_start, sizeof e.load_start);
	fprintf(stderr, "bench_s3: working in %s; server %s\n", g_work, o.endpoint);
	bench b = {.o = &o};
	make_data(&b);
	make_store(&b);
	start_peer(&b);
	fprintf(stderr, "bench_s3: bucket %s\n", b.bucket);
	if (o.only & ONLY_SMALL)
		bench_small(&b);
	if (o.only & ONLY_LARGE)
		bench_large(&b);
	if (o.only & ONLY_ARRAY)
		bench_arrays(&b);
	load_average(e.load_end, sizeof e.load_end);
	tess_store_close(b.st);
	peer_run(&b.py, json_pack("{s:s}", "op", "cleanup"));
	g_bucket_left[0] = '\0';
	peer_stop(&b.py);
	if (o.json)
		print_json(&b, &e);
	else
		print_table(&b, &e);
	json_decref(b.py.versions);
	free(b.small);
	free(b.large);
	free(b.plane);
	return 0;
}
