/*
 * bench_array - Tessera's arrays against zarr-python, h5py and GDAL on the
 * same data, in one run.
 *
 *   plane:  N x N float32 (default 4096; --quick 1024), chunks 512 x 512,
 *           two datasets: "random" (uniform in [0, 1)) and "smooth" (a sum
 *           of sines plus noise of 1e-3).  Tessera (Zarr v2, file backend)
 *           with blosc lz4 level 5 shuffle and with zstd level 1, against
 *           zarr-python with the same compressor, h5py gzip level 4 +
 *           shuffle and lzf + shuffle, and GDAL tiled GeoTIFF deflate (same
 *           512 x 512 tiles).  Per case: write all (--runs times, a fresh
 *           array each time), read all (--runs times, a fresh handle each
 *           time), and --windows random 256 x 256 windows (one seeded list
 *           that every library reads).
 *           Rounds: each --runs round writes a fresh array, reads it whole,
 *           and runs the codec alone over its chunks, back to back.
 *   codec alone: the chunks of each plane array encoded and decoded by the
 *           codec itself (tess_codec, memory to memory), on one thread and
 *           on the pool Tessera uses: how close Tessera's whole-array write
 *           and read come to the codec's own speed.
 *   volume: n^3 uint16 (default 1024; --quick 256, --big-n), Zarr v3 with
 *           256^3 shards of 32^3 inner chunks, blosc lz4 shuffle.  Read all
 *           and --big-windows random 32^3 windows.  zarr-python 2.13 has no
 *           v3 or sharding: its side is a Zarr v2 array with 32^3 chunks.
 *
 * The peers run in one Python process (bench/array_peers.py) that this
 * program starts and feeds case by case, so that Tessera and its peers take
 * turns on a shared machine.  The data is made here and handed over as .npy
 * files.  All reads are hot: the files were just written and are in the
 * page cache for everyone.  Every library reads into a buffer allocated and
 * touched beforehand.  Tessera's chunk cache is off in every timed row
 * except the ones labelled "64 MiB cache".  How much CPU other processes
 * took while each case ran is measured and printed (the machine may be
 * shared).  Results are medians; throughput is MB/s of uncompressed data
 * (1 MB = 1e6 bytes); window latency is the mean per window.  Every ratio is > 1 when Tessera is faster: tessera /
 * peer for throughput, peer / tessera for latency.  See docs/performance.md.
 */
#define BENCH_NAME "bench_array"
#include "bench_common.h"
#include "tessera.h"

#include "array/array_internal.h"
#include "codec/codec.h"
#include "util/error.h"
#include "util/npy.h"
#include "util/pool.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNS 9
#define MAX_ROWS 64
#define PLANE_CHUNK 512
#define PLANE_WINDOW 256
#define VOLUME_INNER 32
#define VOLUME_WINDOW 32
#define TMPFS_MAGIC_NUMBER 0x01021994
#define TARGET_RATIO 2.0   /* >= 2x zarr-python's throughput, <= 0.5x its latency */
#define TARGET_DECODE 1.5  /* whole-array read within 1.5x of the raw decode time */

typedef struct options {
	uint64_t plane_n, volume_n;
	int runs, windows, volume_windows;
	uint64_t seed;
	int quick, skip_big, no_peers, json;
	const char *parent, *python, *peers_script;
} options;

/* The peers, in the table's column order. */
enum { P_ZARR, P_H5_GZIP, P_H5_LZF, P_GDAL, NPEERS };
static const char *const peer_names[NPEERS] = {"zarr-python", "h5py gzip+shuffle",
                                               "h5py lzf+shuffle", "GDAL GTiff deflate"};
static const char *const peer_heads[NPEERS] = {"zarr-python", "h5py gzip", "h5py lzf",
                                               "GDAL deflate"};

/* One row of the main table: Tessera and the peers doing one operation. */
typedef struct row {
	char scase[48];
	char op[32];
	int latency;          /* ms per window (lower is better); else MB/s */
	double tess;
	double peer[NPEERS];  /* 0: not measured */
	double target;        /* minimum ratio against zarr-python; 0: none */
} row;

/* The codec alone against Tessera's whole-array write and read. */
typedef struct decode_row {
	char scase[48];
	size_t nchunks;
	double enc_one_mbs, enc_pool_mbs, write_mbs;
	double one_mbs, pool_mbs, read_mbs;
} decode_row;

/* Per case: stored bytes per library, and how busy the machine was with
 * other processes while Tessera and while zarr-python ran it. */
typedef struct case_row {
	char scase[48];
	uint64_t raw, tess, peer[NPEERS];
	double load_tess, load_zarr; /* CPUs' worth; -1: not measured */
} case_row;

static pid_t g_child;
static row g_rows[MAX_ROWS];
static size_t g_nrows;
static decode_row g_decode[8];
static size_t g_ndecode;
static case_row g_cases[16];
static size_t g_ncases;
static json_t *g_versions;

/* ---- failure and cleanup -------------------------------------------------------- */

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		fail("out of memory for %zu bytes", n);
	return p;
}

/* The peers first (they may be writing into the work dir), then the dir. */
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
}

/* Interrupted: removing a tree is not async-signal-safe, so stop the peers
 * and say what is left behind. */
static void on_signal(int sig)
{
	static const char msg[] = "\nbench_array: interrupted; remove the work dir: ";
	if (g_child > 0)
		kill(g_child, SIGTERM);
	ssize_t ignored = write(2, msg, sizeof msg - 1);
	ignored = write(2, g_work, strlen(g_work));
	ignored = write(2, "\n", 1);
	(void)ignored;
	_exit(128 + sig);
}

/* ---- numbers -------------------------------------------------------------------------- */

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static double median(const double *v, size_t n)
{
	double *s = xmalloc(n * sizeof *s);
	memcpy(s, v, n * sizeof *s);
	qsort(s, n, sizeof *s, cmp_double);
	double m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	free(s);
	return m;
}

static double mean(const double *v, size_t n)
{
	double t = 0;
	for (size_t i = 0; i < n; i++)
		t += v[i];
	return n ? t / (double)n : 0;
}

/* ---- the machine's other load -------------------------------------------------------------- */

/*
 * The machine is shared: CPU time that neither this process nor the peers
 * used, over a phase, tells how much of the CPUs someone else took.
 */
typedef struct load_mark {
	double wall;
	unsigned long long busy, own; /* clock ticks: all CPUs, this process + the peers */
} load_mark;

static unsigned long long system_busy_ticks(void)
{
	unsigned long long v[8] = {0};
	FILE *f = fopen("/proc/stat", "r");
	if (!f || fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
	                 &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
		v[0] = 0;
	if (f)
		fclose(f);
	return v[0] + v[1] + v[2] + v[5] + v[6] + v[7]; /* all but idle and iowait */
}

/* utime + stime of a process (all its threads), or 0. */
static unsigned long long process_ticks(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
	unsigned long long ut = 0, st = 0;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
	                 &st) != 2)
		return 0;
	return ut + st;
}

static load_mark load_now(void)
{
	load_mark m = {now_s(), system_busy_ticks(), process_ticks(getpid())};
	if (g_child > 0)
		m.own += process_ticks(g_child);
	return m;
}

/* CPUs' worth of other processes' work since `a`. */
static double load_since(load_mark a)
{
	load_mark b = load_now();
	double hz = (double)sysconf(_SC_CLK_TCK), secs = b.wall - a.wall;
	if (secs <= 0 || b.busy == 0)
		return -1;
	double other = (double)(b.busy - a.busy) - (double)(b.own - a.own);
	return other > 0 ? other / hz / secs : 0;
}

/* ---- files ------------------------------------------------------------------------------ */

static uint64_t g_tree_bytes;

static int add_size(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)path, (void)ftw;
	if (type == FTW_F)
		g_tree_bytes += (uint64_t)sb->st_size;
	return 0;
}

static uint64_t tree_bytes(const char *path)
{
	g_tree_bytes = 0;
	if (nftw(path, add_size, 32, FTW_PHYS) != 0)
		fail("walk %s: %s", path, strerror(errno));
	return g_tree_bytes;
}

static void write_npy(const char *path, const char *descr, int ndim, const uint64_t *shape,
                      const void *data, size_t bytes)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		fail("create %s: %s", path, strerror(errno));
	check_tess(tess_npy_write_header(fd, descr, ndim, shape, NULL), "npy header", path);
	write_all(fd, data, bytes, path);
	if (close(fd) != 0)
		fail("close %s: %s", path, strerror(errno));
}

/* ---- data ----------------------------------------------------------------------------------- */

static void make_random_plane(float *d, uint64_t n, uint64_t seed)
{
	uint64_t s = seed | 1;
	for (uint64_t i = 0; i < n * n; i++)
		d[i] = (float)(xorshift(&s) >> 40) * (1.0f / 16777216.0f);
}

/* A field a model or a sensor might produce: a few waves and a little noise. */
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

/* A CT-like volume: a smooth separable field of about 1000 +- 400 and 3
 * bits of noise. */
static void make_volume(uint16_t *d, uint64_t n, uint64_t seed)
{
	double *sx = xmalloc(n * sizeof *sx), *sy = xmalloc(n * sizeof *sy);
	for (uint64_t i = 0; i < n; i++) {
		sx[i] = sin((double)i / 61.0);
		sy[i] = cos((double)i / 83.0);
	}
	uint64_t s = seed | 1, bits = 0;
	int left = 0;
	for (uint64_t z = 0; z < n; z++) {
		double fz = 400 * sin((double)z / 97.0);
		for (uint64_t y = 0; y < n; y++) {
			double fzy = fz * sy[y];
			uint16_t *row_p = d + (z * n + y) * n;
			for (uint64_t x = 0; x < n; x++) {
				if (left == 0)
					bits = xorshift(&s), left = 21;
				row_p[x] = (uint16_t)(1000.5 + fzy * sx[x]) + (uint16_t)(bits & 7);
				bits >>= 3;
				left--;
			}
		}
	}
	free(sx);
	free(sy);
}

/* 256^3 shards, smaller for small volumes so that there are several. */
static uint64_t volume_shard(uint64_t n)
{
	uint64_t s = 256;
	while (s > VOLUME_INNER && s * 2 > n)
		s /= 2;
	return s;
}

/* `count` window corners, uniform over the positions where the window fits. */
static uint64_t *make_windows(int ndim, uint64_t n, uint64_t win, int count, uint64_t seed)
{
	uint64_t *c = xmalloc((size_t)count * (size_t)ndim * sizeof *c);
	uint64_t s = seed | 1;
	for (int i = 0; i < count * ndim; i++)
		c[i] = xorshift(&s) % (n - win + 1);
	return c;
}

/* ---- the peers' process ------------------------------------------------------------------- */

typedef struct peers {
	FILE *to, *from;
	char *line;
	size_t cap;
} peers;

static json_t *peers_read(peers *p, const char *what)
{
	errno = 0;
	if (getline(&p->line, &p->cap, p->from) < 0)
		fail("the peers ended without answering %s%s%s", what, errno ? ": " : "",
		     errno ? strerror(errno) : "; see their message above");
	json_error_t err;
	json_t *doc = json_loads(p->line, 0, &err);
	if (!json_is_object(doc))
		fail("the peers answered %s with something that is not a JSON object: %s", what,
		     err.text);
	return doc;
}

static void peers_start(peers *p, const options *o, const char *config)
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
		execl(o->python, o->python, o->peers_script, config, (char *)NULL);
		fprintf(stderr, "bench_array: exec %s: %s\n", o->python, strerror(errno));
		_exit(127);
	}
	g_child = pid;
	close(in[0]);
	close(out[1]);
	if (!(p->to = fdopen(in[1], "w")) || !(p->from = fdopen(out[0], "r")))
		fail("fdopen: %s", strerror(errno));
	json_t *hello = peers_read(p, "the start");
	g_versions = json_incref(json_object_get(hello, "versions"));
	json_decref(hello);
	if (!g_versions)
		fail("the peers did not report their versions");
}

static json_t *peers_ask(peers *p, const char *case_id)
{
	if (fprintf(p->to, "%s\n", case_id) < 0 || fflush(p->to) != 0)
		fail("sending case '%s' to the peers: %s", case_id, strerror(errno));
	json_t *doc = peers_read(p, case_id);
	const char *id = json_string_value(json_object_get(doc, "id"));
	if (!id || strcmp(id, case_id) != 0)
		fail("asked the peers for case '%s', they answered '%s'", case_id, id ? id : "?");
	return doc;
}

static void peers_stop(peers *p)
{
	fclose(p->to);
	while (getline(&p->line, &p->cap, p->from) > 0)
		fprintf(stderr, "bench_array: peers said after the last case: %s", p->line);
	fclose(p->from);
	free(p->line);
	int status;
	if (waitpid(g_child, &status, 0) == g_child && !(WIFEXITED(status) && !WEXITSTATUS(status)))
		fail("the peers exited with status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	g_child = 0;
}

/* The peer `name` of an answer; NULL when it did not run. */
static const json_t *answer_peer(const json_t *answer, const char *name)
{
	size_t i;
	const json_t *v;
	json_array_foreach(json_object_get(answer, "peers"), i, v) {
		const char *n = json_string_value(json_object_get(v, "name"));
		if (n && strcmp(n, name) == 0)
			return json_object_get(v, "skipped") ? NULL : v;
	}
	return NULL;
}

/* The median (or, for windows, the mean) of one timing list, in seconds. */
static double answer_secs(const json_t *peer, const char *op)
{
	const json_t *list = json_object_get(peer, op);
	size_t n = json_array_size(list);
	if (n == 0)
		fail("the peers reported no '%s' times", op);
	double *v = xmalloc(n * sizeof *v);
	for (size_t i = 0; i < n; i++)
		v[i] = json_number_value(json_array_get(list, i));
	double r = strcmp(op, "window") == 0 ? mean(v, n) : median(v, n);
	free(v);
	return r;
}

/* ---- the peers' configuration -------------------------------------------------------------- */

static json_t *int_list(const uint64_t *v, int n)
{
	json_t *a = json_array();
	for (int i = 0; i < n; i++)
		json_array_append_new(a, json_integer((json_int_t)v[i]));
	return a;
}

static json_t *windows_json(const uint64_t *corners, int count, int ndim)
{
	json_t *a = json_array();
	for (int i = 0; i < count; i++)
		json_array_append_new(a, int_list(corners + (size_t)i * (size_t)ndim, ndim));
	return a;
}

static json_t *case_json(const char *id, const char *npy, int ndim, uint64_t chunk, uint64_t win,
                         const uint64_t *corners, int count, int write_runs, int read_runs)
{
	uint64_t chunks[3] = {chunk, chunk, chunk}, window[3] = {win, win, win};
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:i, s:i, s:[]}", "id", id, "npy", npy,
	                 "chunks", int_list(chunks, ndim), "window", int_list(window, ndim),
	                 "windows", windows_json(corners, count, ndim), "write_runs", write_runs,
	                 "read_runs", read_runs, "peers");
}

static void add_peer(json_t *c, json_t *peer)
{
	if (!peer)
		fail("out of memory building the peers' configuration");
	json_array_append_new(json_object_get(c, "peers"), peer);
}

/* ---- Tessera's side ------------------------------------------------------------------------ */

/* One dataset as Tessera and the peers see it. */
typedef struct dataset {
	const char *name;       /* "random", "smooth", "volume" */
	int ndim;
	uint64_t n;             /* the extent of every axis */
	tess_dtype dtype;
	const char *descr;      /* "<f4", "<u2" */
	void *data;
	size_t bytes;
	uint64_t *windows;
	int nwindows;
	uint64_t win, chunk, shard;
	char npy[PATH_MAX];
} dataset;

typedef struct codec_case {
	const char *label;      /* "blosc-lz4", "zstd" */
	const char *spec;       /* Tessera's SPEC */
} codec_case;

static const codec_case g_codecs[] = {
	{"blosc-lz4", "blosc:lz4:5:shuffle"},
	{"zstd-1", "zstd:1"},
};

static json_t *numcodecs_json(const codec_case *c)
{
	if (strncmp(c->label, "blosc", 5) == 0)
		return json_pack("{s:s, s:s, s:i, s:i, s:i}", "id", "blosc", "cname", "lz4", "clevel", 5,
		                 "shuffle", 1, "blocksize", 0);
	return json_pack("{s:s, s:i}", "id", "zstd", "level", 1);
}

static tess_array_opts dataset_opts(const dataset *ds, const codec_case *c)
{
	tess_array_opts o = TESS_ARRAY_OPTS_INIT;
	o.ndim = ds->ndim;
	o.dtype = ds->dtype;
	o.codec = c->spec;
	for (int d = 0; d < ds->ndim; d++) {
		o.shape[d] = ds->n;
		o.chunks[d] = ds->chunk;
		o.shard[d] = ds->shard;
	}
	o.zarr_format = ds->shard ? 3 : 2;
	return o;
}

static void whole(const dataset *ds, uint64_t *start, uint64_t *count)
{
	for (int d = 0; d < ds->ndim; d++)
		start[d] = 0, count[d] = ds->n;
}

static double tess_write_once(tess_store *st, const char *path, const dataset *ds,
                              const codec_case *c)
{
	tess_array_opts o = dataset_opts(ds, c);
	uint64_t start[3], count[3];
	whole(ds, start, count);
	double t = now_s();
	tess_array *a;
	check_tess(tess_array_create(&a, st, path, &o), "create", path);
	check_tess(tess_array_write(a, start, count, ds->data), "write", path);
	tess_array_close(a);
	return now_s() - t;
}

static tess_array *open_uncached(tess_store *st, const char *path)
{
	tess_array *a;
	check_tess(tess_array_open(&a, st, path), "open", path);
	tess_array_set_cache_bytes(a, 0);
	return a;
}

static double tess_read_once(tess_store *st, const char *path, const dataset *ds, void *buf)
{
	uint64_t start[3], count[3];
	whole(ds, start, count);
	/* a read that wrote nothing must not pass the check with an earlier
	 * run's bytes; the peers clear their buffer the same way */
	memset(buf, 0, ds->bytes);
	double t = now_s();
	tess_array *a = open_uncached(st, path);
	check_tess(tess_array_read(a, start, count, buf), "read", path);
	tess_array_close(a);
	t = now_s() - t;
	if (memcmp(buf, ds->data, ds->bytes) != 0)
		fail("array '%s': what was read differs from what was written", path);
	return t;
}

/* Whether a window read equals the data (a strided compare). */
static void check_window(const dataset *ds, const uint64_t *corner, const uint8_t *got,
                         const char *path)
{
	size_t is = ds->dtype.itemsize, run = (size_t)ds->win * is;
	uint64_t rows = ds->ndim == 3 ? ds->win * ds->win : ds->win;
	for (uint64_t r = 0; r < rows; r++) {
		uint64_t y = ds->ndim == 3 ? r % ds->win : r, z = ds->ndim == 3 ? r / ds->win : 0;
		uint64_t off = ds->ndim == 3 ? ((corner[0] + z) * ds->n + corner[1] + y) * ds->n + corner[2]
		                             : (corner[0] + y) * ds->n + corner[1];
		if (memcmp(got + r * run, (const uint8_t *)ds->data + off * is, run) != 0)
			fail("array '%s': window at %" PRIu64 ",%" PRIu64 " differs from the data", path,
			     corner[0], corner[1]);
	}
}

/* Every window once through one handle; the mean time per window. */
static double tess_windows(tess_store *st, const char *path, const dataset *ds, int cached)
{
	tess_array *a;
	check_tess(tess_array_open(&a, st, path), "open", path);
	if (!cached)
		tess_array_set_cache_bytes(a, 0);
	size_t bytes = ds->dtype.itemsize;
	uint64_t count[3];
	for (int d = 0; d < ds->ndim; d++)
		count[d] = ds->win, bytes *= (size_t)ds->win;
	uint8_t *buf = xmalloc(bytes);
	double *t = xmalloc((size_t)ds->nwindows * sizeof *t);
	for (int i = 0; i < ds->nwindows; i++) {
		const uint64_t *corner = ds->windows + (size_t)i * (size_t)ds->ndim;
		double t0 = now_s();
		check_tess(tess_array_read(a, corner, count, buf), "read window", path);
		t[i] = now_s() - t0;
		check_window(ds, corner, buf, path);
	}
	tess_array_close(a);
	double m = mean(t, (size_t)ds->nwindows);
	free(t);
	free(buf);
	return m;
}

/* ---- the codec alone --------------------------------------------------------------------------- */

/* Every chunk of a plane array, stored and plain, for the codec to encode
 * and decode from memory into memory, as Tessera's reads and writes do
 * inside. */
typedef struct codec_bench {
	tess_codec *codec;
	size_t n, chunk_bytes;
	uint8_t **stored;  /* the chunks' bytes as the store holds them */
	size_t *stored_len;
	uint8_t *plain;    /* chunk i at i * chunk_bytes, C order inside */
	uint8_t *out;      /* decode output, the same layout */
	tess_buf *enc;     /* encode output per chunk */
} codec_bench;

static int decode_task(size_t i, void *arg)
{
	codec_bench *cb = arg;
	tess_buf out = tess_buf_fixed(cb->out + i * cb->chunk_bytes, cb->chunk_bytes);
	int rc = cb->codec->ops->decode(cb->codec, cb->stored[i], cb->stored_len[i], &out,
	                                cb->chunk_bytes);
	if (!rc && out.len != cb->chunk_bytes)
		rc = tess_err(TESS_ECORRUPT, "chunk %zu decodes to %zu bytes, not %zu", i, out.len,
		              cb->chunk_bytes);
	return rc;
}

static int encode_task(size_t i, void *arg)
{
	codec_bench *cb = arg;
	cb->enc[i].len = 0;
	return cb->codec->ops->encode(cb->codec, cb->plain + i * cb->chunk_bytes, cb->chunk_bytes,
	                              &cb->enc[i]);
}

/* The data cut into chunks, and the stored chunks of the array at path. */
static void codec_bench_init(codec_bench *cb, tess_store *st, const char *path,
                             const dataset *ds, const codec_case *c)
{
	uint64_t per = ds->n / ds->chunk;
	memset(cb, 0, sizeof *cb);
	cb->n = (size_t)(per * per);
	cb->chunk_bytes = (size_t)(ds->chunk * ds->chunk) * ds->dtype.itemsize;
	cb->stored = xmalloc(cb->n * sizeof *cb->stored);
	cb->stored_len = xmalloc(cb->n * sizeof *cb->stored_len);
	cb->plain = xmalloc(cb->n * cb->chunk_bytes);
	cb->out = xmalloc(cb->n * cb->chunk_bytes);
	cb->enc = calloc(cb->n, sizeof *cb->enc);
	if (!cb->enc)
		fail("out of memory");
	size_t row_bytes = (size_t)ds->chunk * ds->dtype.itemsize;
	char key[256];
	for (size_t i = 0; i < cb->n; i++) {
		snprintf(key, sizeof key, "%s/%zu.%zu", path, i / (size_t)per, i % (size_t)per);
		void *data;
		check_tess(tess_blob_get(&data, &cb->stored_len[i], st, key), "get chunk", key);
		cb->stored[i] = data;
		uint64_t y0 = i / per * ds->chunk, x0 = i % per * ds->chunk;
		for (uint64_t y = 0; y < ds->chunk; y++)
			memcpy(cb->plain + i * cb->chunk_bytes + y * row_bytes,
			       (const uint8_t *)ds->data + ((y0 + y) * ds->n + x0) * ds->dtype.itemsize,
			       row_bytes);
	}
	/* the output buffers are touched once, so no run pays their page faults */
	memset(cb->out, 0, cb->n * cb->chunk_bytes);
	tess_codec_ctx ctx = {2, ds->dtype.itemsize, ""};
	snprintf(ctx.dtype, sizeof ctx.dtype, "%s", ds->descr);
	check_tess(tess_codec_from_spec(&cb->codec, c->spec, &ctx), "codec", c->spec);
	check_tess(tess_pool_run(NULL, cb->n, encode_task, cb), "encode", path);
}

static void codec_bench_free(codec_bench *cb)
{
	tess_codec_free(cb->codec);
	for (size_t i = 0; i < cb->n; i++) {
		tess_free(cb->stored[i]);
		tess_buf_free(&cb->enc[i]);
	}
	free(cb->stored);
	free(cb->stored_len);
	free(cb->plain);
	free(cb->out);
	free(cb->enc);
}

/* One timed pass of the codec over every chunk: encode (dir 1) or decode
 * (dir 0), on the calling thread (pool NULL) or on a pool.  Seconds. */
static double codec_pass(codec_bench *cb, int encode, tess_pool *pool, const char *path)
{
	double t = now_s();
	check_tess(tess_pool_run(pool, cb->n, encode ? encode_task : decode_task, cb),
	           encode ? "encode" : "decode", path);
	t = now_s() - t;
	if (!encode && memcmp(cb->out, cb->plain, cb->n * cb->chunk_bytes) != 0)
		fail("array '%s': the codec alone decodes to something else than the data", path);
	/* the same codec on the same chunks writes the same bytes (blosc and
	 * zstd are deterministic with one thread per chunk) */
	for (size_t i = 0; encode && i < cb->n; i++)
		if (cb->enc[i].len != cb->stored_len[i] ||
		    memcmp(cb->enc[i].data, cb->stored[i], cb->stored_len[i]) != 0)
			fail("array '%s': chunk %zu: the codec alone encodes it differently from what "
			     "the array stored", path, i);
	return t;
}

/* ---- results ------------------------------------------------------------------------------- */

static row *add_row(const char *scase, const char *op, int latency, double tess, double target)
{
	if (g_nrows == MAX_ROWS)
		fail("too many rows");
	row *r = &g_rows[g_nrows++];
	memset(r, 0, sizeof *r);
	snprintf(r->scase, sizeof r->scase, "%s", scase);
	snprintf(r->op, sizeof r->op, "%s", op);
	r->latency = latency;
	r->tess = tess;
	r->target = target;
	return r;
}

/* > 1 when Tessera is faster. */
static double ratio(const row *r, int p)
{
	if (r->peer[p] <= 0 || r->tess <= 0)
		return 0;
	return r->latency ? r->peer[p] / r->tess : r->tess / r->peer[p];
}

static const char *verdict(const row *r)
{
	if (r->target <= 0 || r->peer[P_ZARR] <= 0)
		return "info";
	return ratio(r, P_ZARR) >= r->target ? "PASS" : "MISS";
}

static const char *decode_verdict(const decode_row *d)
{
	return d->pool_mbs / d->read_mbs <= TARGET_DECODE ? "PASS" : "MISS";
}

/* Fill the peers' columns of the rows of one case from their answer. */
static void take_answer(const json_t *answer, row *write_row, row *read_row, row **win_rows,
                        int nwin, case_row *sizes, uint64_t bytes)
{
	for (int p = 0; p < NPEERS; p++) {
		const json_t *peer = answer_peer(answer, peer_names[p]);
		if (!peer)
			continue;
		write_row->peer[p] = mb_per_s(bytes, answer_secs(peer, "write"));
		read_row->peer[p] = mb_per_s(bytes, answer_secs(peer, "read"));
		for (int w = 0; w < nwin; w++)
			win_rows[w]->peer[p] = 1e3 * answer_secs(peer, "window");
		sizes->peer[p] = (uint64_t)json_integer_value(json_object_get(peer, "bytes"));
	}
}

static case_row *new_case(const char *scase, double load_tess)
{
	if (g_ncases == sizeof g_cases / sizeof *g_cases)
		fail("too many cases");
	case_row *c = &g_cases[g_ncases++];
	memset(c, 0, sizeof *c);
	snprintf(c->scase, sizeof c->scase, "%s", scase);
	c->load_tess = load_tess;
	c->load_zarr = -1;
	return c;
}

/* ---- the plane cases ----------------------------------------------------------------------- */

typedef struct bench {
	const options *o;
	tess_store *st;
	char store_dir[PATH_MAX];
	peers py;
	int have_peers;
} bench;

static double tess_read_runs(bench *b, const dataset *ds, const char *path, int runs)
{
	double t[MAX_RUNS];
	void *buf = xmalloc(ds->bytes); /* touched by every run before its clock starts */
	for (int r = 0; r < runs; r++)
		t[r] = tess_read_once(b->st, path, ds, buf);
	free(buf);
	return median(t, (size_t)runs);
}

typedef struct plane_times {
	double write[MAX_RUNS], read[MAX_RUNS];
	double enc_one[MAX_RUNS], enc_pool[MAX_RUNS], dec_one[MAX_RUNS], dec_pool[MAX_RUNS];
	size_t nchunks;
} plane_times;

/*
 * Per round: a fresh array written, read whole, and the codec alone on its
 * chunks, back to back, so that a busy moment of the shared machine hits
 * them alike.  The last array stays; its path is left in `path`.
 */
static void plane_rounds(bench *b, const dataset *ds, const codec_case *c, char *path,
                         size_t cap, plane_times *t)
{
	void *buf = xmalloc(ds->bytes); /* touched by every read before its clock starts */
	for (int r = 0; r < b->o->runs; r++) {
		if (r > 0)
			check_tess(tess_array_delete(b->st, path), "delete", path);
		snprintf(path, cap, "%s-%s-%d", ds->name, c->label, r);
		t->write[r] = tess_write_once(b->st, path, ds, c);
		t->read[r] = tess_read_once(b->st, path, ds, buf);
		codec_bench cb;
		codec_bench_init(&cb, b->st, path, ds, c);
		t->enc_one[r] = codec_pass(&cb, 1, NULL, path);
		t->enc_pool[r] = codec_pass(&cb, 1, tess_pool_default(), path);
		t->dec_one[r] = codec_pass(&cb, 0, NULL, path);
		t->dec_pool[r] = codec_pass(&cb, 0, tess_pool_default(), path);
		t->nchunks = cb.n;
		codec_bench_free(&cb);
	}
	free(buf);
}

static void plane_codec(bench *b, dataset *ds, const codec_case *c)
{
	const options *o = b->o;
	char scase[48], path[128], dir[PATH_MAX + 160], id[64];
	snprintf(scase, sizeof scase, "%s %s", ds->name, c->label);
	fprintf(stderr, "plane %s: Tessera\n", scase);
	plane_times t;
	load_mark mark = load_now();
	plane_rounds(b, ds, c, path, sizeof path, &t);
	double win0 = tess_windows(b->st, path, ds, 0), win1 = tess_windows(b->st, path, ds, 1);
	case_row *sz = new_case(scase, load_since(mark));
	snprintf(dir, sizeof dir, "%s/%s", b->store_dir, path);
	sz->raw = ds->bytes;
	sz->tess = tree_bytes(dir);
	check_tess(tess_array_delete(b->st, path), "delete", path);
	size_t runs = (size_t)o->runs;
	char wop[32];
	snprintf(wop, sizeof wop, "window %" PRIu64 "^2", ds->win);
	row *rw = add_row(scase, "write", 0, mb_per_s(ds->bytes, median(t.write, runs)),
	                  TARGET_RATIO);
	row *rr = add_row(scase, "read", 0, mb_per_s(ds->bytes, median(t.read, runs)), TARGET_RATIO);
	row *rwin[2] = {add_row(scase, wop, 1, 1e3 * win0, TARGET_RATIO),
	                add_row(scase, "  64 MiB cache", 1, 1e3 * win1, 0)};
	fprintf(stderr, "  tessera                write %7.1f MB/s  read %7.1f MB/s  window %7.3f ms"
	        " (cached %.3f ms)\n", rw->tess, rr->tess, rwin[0]->tess, rwin[1]->tess);
	if (g_ndecode == sizeof g_decode / sizeof *g_decode)
		fail("too many cases");
	decode_row *d = &g_decode[g_ndecode++];
	snprintf(d->scase, sizeof d->scase, "%s", scase);
	d->nchunks = t.nchunks;
	d->enc_one_mbs = mb_per_s(ds->bytes, median(t.enc_one, runs));
	d->enc_pool_mbs = mb_per_s(ds->bytes, median(t.enc_pool, runs));
	d->one_mbs = mb_per_s(ds->bytes, median(t.dec_one, runs));
	d->pool_mbs = mb_per_s(ds->bytes, median(t.dec_pool, runs));
	d->write_mbs = rw->tess;
	d->read_mbs = rr->tess;
	fprintf(stderr, "  codec alone            encode %7.1f / %7.1f MB/s  decode %7.1f / %7.1f "
	        "MB/s (1 thread / pool)\n", d->enc_one_mbs, d->enc_pool_mbs, d->one_mbs,
	        d->pool_mbs);
	if (!b->have_peers)
		return;
	snprintf(id, sizeof id, "%s/%s", ds->name, c->label);
	mark = load_now();
	json_t *answer = peers_ask(&b->py, id);
	sz->load_zarr = load_since(mark);
	take_answer(answer, rw, rr, rwin, 2, sz, ds->bytes);
	json_decref(answer);
}

/* h5py and GDAL do not depend on Tessera's codec: they run once per
 * dataset, and every codec's rows show them. */
static void plane_others(bench *b, dataset *ds, size_t first_row, size_t first_case)
{
	char id[64];
	snprintf(id, sizeof id, "%s/others", ds->name);
	fprintf(stderr, "plane %s: h5py and GDAL\n", ds->name);
	json_t *answer = peers_ask(&b->py, id);
	/* each codec's four rows (write, read, window, cached window) */
	for (size_t r = first_row; r + 4 <= g_nrows; r += 4) {
		row *win[2] = {&g_rows[r + 2], &g_rows[r + 3]};
		case_row *sz = &g_cases[first_case + (r - first_row) / 4];
		take_answer(answer, &g_rows[r], &g_rows[r + 1], win, 2, sz, ds->bytes);
	}
	json_decref(answer);
}

static void plane_dataset(bench *b, dataset *ds)
{
	size_t first_row = g_nrows, first_case = g_ncases;
	for (size_t c = 0; c < sizeof g_codecs / sizeof *g_codecs; c++)
		plane_codec(b, ds, &g_codecs[c]);
	if (b->have_peers)
		plane_others(b, ds, first_row, first_case);
}

/* ---- the volume ------------------------------------------------------------------------------- */

static void volume_case(bench *b, dataset *ds, int read_runs)
{
	const codec_case *c = &g_codecs[0];
	char scase[48], path[64], dir[PATH_MAX + 80], label[64];
	snprintf(scase, sizeof scase, "volume u16 %s", c->label);
	snprintf(path, sizeof path, "volume");
	fprintf(stderr, "volume %" PRIu64 "^3: Tessera write\n", ds->n);
	load_mark mark = load_now();
	double tw = tess_write_once(b->st, path, ds, c);
	fprintf(stderr, "  tessera write %.1f MB/s; reading\n", mb_per_s(ds->bytes, tw));
	double tr = tess_read_runs(b, ds, path, read_runs);
	double tw0 = tess_windows(b->st, path, ds, 0), tw1 = tess_windows(b->st, path, ds, 1);
	case_row *sz = new_case(scase, load_since(mark));
	snprintf(dir, sizeof dir, "%s/%s", b->store_dir, path);
	sz->raw = ds->bytes;
	sz->tess = tree_bytes(dir);
	snprintf(label, sizeof label, "window %" PRIu64 "^3", ds->win);
	row *rw = add_row(scase, "write", 0, mb_per_s(ds->bytes, tw), 0);
	row *rr = add_row(scase, "read", 0, mb_per_s(ds->bytes, tr), TARGET_RATIO);
	row *rwin[2] = {add_row(scase, label, 1, 1e3 * tw0, TARGET_RATIO),
	                add_row(scase, "  64 MiB cache", 1, 1e3 * tw1, 0)};
	fprintf(stderr, "  tessera                write %7.1f MB/s  read %7.1f MB/s  window %7.3f ms"
	        " (cached %.3f ms)\n", rw->tess, rr->tess, rwin[0]->tess, rwin[1]->tess);
	check_tess(tess_array_delete(b->st, path), "delete", path);
	/* the peers need the memory now */
	free(ds->data);
	ds->data = NULL;
	if (!b->have_peers)
		return;
	fprintf(stderr, "volume: zarr-python (v2, %d^3 chunks)\n", VOLUME_INNER);
	mark = load_now();
	json_t *answer = peers_ask(&b->py, "volume/zarr");
	sz->load_zarr = load_since(mark);
	take_answer(answer, rw, rr, rwin, 2, sz, ds->bytes);
	json_decref(answer);
}

/* ---- output ------------------------------------------------------------------------------------- */

static void print_value(double v, int latency)
{
	if (v <= 0)
		printf(" %9s", "-");
	else if (latency)
		printf(" %6.3f ms", v);
	else
		printf(" %4.0f MB/s", v);
}

static void print_rows(void)
{
	printf("%-22s %-15s %9s", "case", "op", "tessera");
	for (int p = 0; p < NPEERS; p++)
		printf(" %9s %5s", p == P_ZARR ? "zarr-py" : peer_heads[p], "x");
	printf(" %6s %6s\n", "target", "result");
	const char *last = "";
	for (size_t i = 0; i < g_nrows; i++) {
		const row *r = &g_rows[i];
		printf("%-22s %-15s", strcmp(r->scase, last) ? r->scase : "", r->op);
		last = r->scase;
		print_value(r->tess, r->latency);
		for (int p = 0; p < NPEERS; p++) {
			print_value(r->peer[p], r->latency);
			if (ratio(r, p) > 0)
				printf(" %5.2f", ratio(r, p));
			else
				printf(" %5s", "-");
		}
		char target[16] = "-";
		if (r->target > 0)
			snprintf(target, sizeof target, ">=%.0fx", r->target);
		printf(" %6s %6s\n", target, verdict(r));
	}
}

/* The codec alone, from memory into memory, against Tessera's whole-array
 * write and read: what the codec leaves for the rest of the work. */
static void print_decode(void)
{
	printf("\n%-22s %25s %22s %25s %21s %6s\n", "the codec alone (MB/s)",
	       "encode: 1 thread / pool", "tessera write (x)", "decode: 1 thread / pool",
	       "tessera read (x)", "result");
	for (size_t i = 0; i < g_ndecode; i++) {
		const decode_row *d = &g_decode[i];
		printf("%-22s %12.0f / %10.0f %14.0f (%5.2f) %12.0f / %10.0f %13.0f (%5.2f) %6s\n",
		       d->scase, d->enc_one_mbs, d->enc_pool_mbs, d->write_mbs,
		       d->enc_pool_mbs / d->write_mbs, d->one_mbs, d->pool_mbs, d->read_mbs,
		       d->pool_mbs / d->read_mbs, decode_verdict(d));
	}
	printf("(x) = time of Tessera's whole-array write or read / time of the codec alone on "
	       "the pool;\n    target: read within %.1fx of the decode\n", TARGET_DECODE);
}

static void print_load(double load)
{
	if (load < 0)
		printf(" %9s", "-");
	else
		printf(" %9.2f", load);
}

/* Compression ratios, and the other processes' load during each case. */
static void print_cases(void)
{
	printf("\n%-22s %10s %10s", "compression ratio", "raw MB", "tessera");
	for (int p = 0; p < NPEERS; p++)
		printf(" %12s", peer_heads[p]);
	printf("   other load: tessera  zarr-py\n");
	for (size_t i = 0; i < g_ncases; i++) {
		const case_row *s = &g_cases[i];
		printf("%-22s %10.1f %9.2fx", s->scase, (double)s->raw / 1e6,
		       (double)s->raw / (double)s->tess);
		for (int p = 0; p < NPEERS; p++)
			if (s->peer[p])
				printf(" %11.2fx", (double)s->raw / (double)s->peer[p]);
			else
				printf(" %12s", "-");
		printf("%12s", "");
		print_load(s->load_tess);
		print_load(s->load_zarr);
		printf("\n");
	}
	printf("(other load: CPUs' worth of work by other processes while the case ran, of %ld)\n",
	       sysconf(_SC_NPROCESSORS_ONLN));
}

static void print_summary(void)
{
	int pass = 0, miss = 0;
	for (size_t i = 0; i < g_nrows; i++)
		if (g_rows[i].target > 0 && g_rows[i].peer[P_ZARR] > 0)
			strcmp(verdict(&g_rows[i]), "PASS") ? miss++ : pass++;
	for (size_t i = 0; i < g_ndecode; i++)
		strcmp(decode_verdict(&g_decode[i]), "PASS") ? miss++ : pass++;
	printf("\ntargets: %d PASS, %d MISS\n", pass, miss);
}

static void print_versions(void)
{
	if (!g_versions)
		return;
	const char *key;
	json_t *v;
	printf("peers:");
	json_object_foreach(g_versions, key, v) {
		if (json_is_string(v))
			printf(" %s %s", key, json_string_value(v));
		else if (json_is_integer(v))
			printf(" %s %" JSON_INTEGER_FORMAT, key, json_integer_value(v));
	}
	printf("\n");
}

static void print_table(const options *o, const struct utsname *u)
{
	printf("bench_array: Tessera %s; plane %" PRIu64 "^2 float32, chunks %d^2; volume %" PRIu64
	       "^3 uint16%s\n", tess_version(), o->plane_n, PLANE_CHUNK, o->volume_n,
	       o->skip_big ? " (skipped)" : "");
	printf("machine: %ld CPUs, %s %s; Tessera pool %u threads; work dir %s\n",
	       sysconf(_SC_NPROCESSORS_ONLN), u->sysname, u->release,
	       tess_pool_size(tess_pool_default()), o->parent);
	print_versions();
	printf("codecs: blosc-lz4 = blosc lz4 clevel 5 shuffle; zstd-1 = zstd level 1; h5py gzip "
	       "level 4 + shuffle;\n        h5py lzf + shuffle; GDAL deflate level 6, no predictor, "
	       "GDAL_NUM_THREADS=ALL_CPUS\n");
	printf("method: hot page cache; medians of %d runs (write, read); windows: mean of %d "
	       "(plane) / %d (volume);\n        Tessera chunk cache off except the \"64 MiB cache\" "
	       "rows; peers with their defaults\n", o->runs, o->windows, o->volume_windows);
	printf("x = ratio, > 1 when Tessera is faster: tessera/peer for MB/s, peer/tessera for ms\n");
	printf("volume: Tessera Zarr v3, %" PRIu64 "^3 shards of %d^3 inner chunks; zarr-python "
	       "2.13 has no v3/sharding: Zarr v2, %d^3 chunks\n\n", volume_shard(o->volume_n),
	       VOLUME_INNER, VOLUME_INNER);
	print_rows();
	print_decode();
	print_cases();
	print_summary();
}

static void json_rows(json_t *doc)
{
	json_t *rows = json_array();
	for (size_t i = 0; i < g_nrows; i++) {
		const row *r = &g_rows[i];
		json_t *by_peer = json_object(), *ratios = json_object();
		for (int p = 0; p < NPEERS; p++)
			if (r->peer[p] > 0) {
				json_object_set_new(by_peer, peer_names[p], json_real(r->peer[p]));
				json_object_set_new(ratios, peer_names[p], json_real(ratio(r, p)));
			}
		json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:f, s:o, s:o, s:f, s:s}",
		                      "case", r->scase, "op", r->op, "unit", r->latency ? "ms" : "MB/s",
		                      "tessera", r->tess, "peers", by_peer, "ratios", ratios,
		                      "target", r->target, "result", verdict(r)));
	}
	json_object_set_new(doc, "rows", rows);
	json_t *dec = json_array();
	for (size_t i = 0; i < g_ndecode; i++) {
		const decode_row *d = &g_decode[i];
		json_array_append_new(dec, json_pack("{s:s, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, "
		                      "s:f, s:s}", "case", d->scase, "chunks", (json_int_t)d->nchunks,
		                      "encode_1_mbs", d->enc_one_mbs, "encode_pool_mbs",
		                      d->enc_pool_mbs, "write_mbs", d->write_mbs, "write_over_encode",
		                      d->enc_pool_mbs / d->write_mbs, "decode_1_mbs", d->one_mbs,
		                      "decode_pool_mbs", d->pool_mbs, "read_mbs", d->read_mbs,
		                      "read_over_decode", d->pool_mbs / d->read_mbs, "result",
		                      decode_verdict(d)));
	}
	json_object_set_new(doc, "codec_alone", dec);
	json_t *sizes = json_array();
	for (size_t i = 0; i < g_ncases; i++) {
		const case_row *s = &g_cases[i];
		json_t *by_peer = json_object();
		for (int p = 0; p < NPEERS; p++)
			if (s->peer[p])
				json_object_set_new(by_peer, peer_names[p], json_integer((json_int_t)s->peer[p]));
		json_array_append_new(sizes, json_pack("{s:s, s:I, s:I, s:o, s:f, s:f}", "case",
		                      s->scase, "raw", (json_int_t)s->raw, "tessera",
		                      (json_int_t)s->tess, "peers", by_peer, "other_load_tessera",
		                      s->load_tess, "other_load_zarr", s->load_zarr));
	}
	json_object_set_new(doc, "cases", sizes);
}

static void print_json(const options *o, const struct utsname *u)
{
	char kernel[200];
	snprintf(kernel, sizeof kernel, "%s %s", u->sysname, u->release);
	json_t *doc = json_pack("{s:s, s:{s:i, s:s, s:i}, s:I, s:I, s:b, s:i, s:i, s:i, s:s, s:O?}",
	                        "tessera", tess_version(), "machine", "cpus",
	                        (int)sysconf(_SC_NPROCESSORS_ONLN), "kernel", kernel, "pool_threads",
	                        (int)tess_pool_size(tess_pool_default()), "plane_n",
	                        (json_int_t)o->plane_n, "volume_n", (json_int_t)o->volume_n,
	                        "volume_skipped", o->skip_big, "runs", o->runs, "windows",
	                        o->windows, "volume_windows", o->volume_windows, "cache",
	                        "hot page cache; Tessera chunk cache off except the cached rows",
	                        "versions", g_versions);
	if (!doc)
		fail("out of memory for the JSON output");
	json_rows(doc);
	json_dumpf(doc, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	printf("\n");
	json_decref(doc);
}

/* ---- options and main ----------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: bench_array [--quick] [--skip-big] [--big-n N] [--plane-n N] [--runs N]\n"
	        "                   [--windows N] [--big-windows N] [--seed N] [--dir DIR]\n"
	        "                   [--python PATH] [--peers SCRIPT | --no-peers] [--json]\n"
	        "Tessera's arrays against zarr-python, h5py and GDAL on the same data.  Defaults:\n"
	        "a 4096^2 float32 plane and a 1024^3 uint16 volume (2 GiB; --big-n scales it,\n"
	        "--skip-big leaves it out), 3 runs, 100 plane and 50 volume windows.  --quick:\n"
	        "1024^2 and 256^3.  The work happens in a fresh directory inside DIR (default\n"
	        "$TMPDIR, else /var/tmp), removed at the end.  The peers run in SCRIPT\n"
	        "(bench/array_peers.py) under PATH (default /usr/bin/python3).\n");
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

/* bench/array_peers.py next to this source, else next to the build dir. */
static const char *default_script(void)
{
	static char path[PATH_MAX];
	snprintf(path, sizeof path, "%s", __FILE__);
	char *slash = strrchr(path, '/');
	if (slash && path[0] == '/') {
		snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "array_peers.py");
		if (access(path, R_OK) == 0)
			return path;
	}
	ssize_t n = readlink("/proc/self/exe", path, sizeof path - 64);
	if (n > 0) {
		path[n] = '\0';
		if ((slash = strrchr(path, '/')))
			snprintf(slash, sizeof path - (size_t)(slash - path), "/../bench/array_peers.py");
		if (access(path, R_OK) == 0)
			return path;
	}
	return "bench/array_peers.py";
}

static void parse_options(options *o, int argc, char **argv)
{
	*o = (options){4096, 1024, 3, 100, 50, 20240601, 0, 0, 0, 0, NULL, "/usr/bin/python3", NULL};
	uint64_t plane = 0, volume = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--quick") == 0)
			o->quick = 1;
		else if (strcmp(a, "--skip-big") == 0)
			o->skip_big = 1;
		else if (strcmp(a, "--no-peers") == 0)
			o->no_peers = 1;
		else if (strcmp(a, "--json") == 0)
			o->json = 1;
		else if (strcmp(a, "--big-n") == 0)
			volume = parse_count(a, v), i++;
		else if (strcmp(a, "--plane-n") == 0)
			plane = parse_count(a, v), i++;
		else if (strcmp(a, "--runs") == 0)
			o->runs = (int)parse_count(a, v), i++;
		else if (strcmp(a, "--windows") == 0)
			o->windows = (int)parse_count(a, v), i++;
		else if (strcmp(a, "--big-windows") == 0)
			o->volume_windows = (int)parse_count(a, v), i++;
		else if (strcmp(a, "--seed") == 0)
			o->seed = parse_count(a, v), i++;
		else if (strcmp(a, "--dir") == 0 && v)
			o->parent = v, i++;
		else if (strcmp(a, "--python") == 0 && v)
			o->python = v, i++;
		else if (strcmp(a, "--peers") == 0 && v)
			o->peers_script = v, i++;
		else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			usage(stdout), exit(0);
		else
			usage(stderr), exit(2);
	}
	if (o->quick)
		o->plane_n = 1024, o->volume_n = 256;
	o->plane_n = plane ? plane : o->plane_n;
	o->volume_n = volume ? volume : o->volume_n;
	if (o->runs > MAX_RUNS || o->windows > 100000 || o->volume_windows > 100000)
		fail("at most %d runs and 100000 windows", MAX_RUNS);
	if (o->plane_n % PLANE_CHUNK || o->plane_n > 65536)
		fail("--plane-n must be a multiple of %d, at most 65536", PLANE_CHUNK);
	if (o->volume_n < 2 * VOLUME_INNER || o->volume_n > 4096)
		fail("--big-n must be in %d..4096", 2 * VOLUME_INNER);
	if (!o->parent)
		o->parent = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
	if (!o->peers_script)
		o->peers_script = default_script();
	if (!o->no_peers && access(o->peers_script, R_OK) != 0)
		fail("cannot read the peers' script %s (--peers SCRIPT, or --no-peers)",
		     o->peers_script);
}

static uint64_t mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	unsigned long long kb = 0;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return (uint64_t)kb << 10;
}

/* Room for the volume: its data and a read buffer here, the same in the
 * peers' process, and on disk the .npy, Tessera's and zarr-python's copies. */
static void check_room(const options *o)
{
	uint64_t vol = o->skip_big ? 0 : o->volume_n * o->volume_n * o->volume_n * 2;
	uint64_t plane = o->plane_n * o->plane_n * 4;
	uint64_t mem = vol * 2 + plane * 4 + (256ull << 20), disk = vol * 4 + plane * 8;
	uint64_t avail = mem_available();
	if (avail && avail < mem)
		fail("%" PRIu64 " MiB of memory available, this run needs about %" PRIu64 " MiB; "
		     "scale the volume down with --big-n or leave it out with --skip-big",
		     avail >> 20, mem >> 20);
	struct statvfs vs;
	if (statvfs(g_work, &vs) == 0 && (uint64_t)vs.f_bavail * vs.f_frsize < disk)
		fail("%s has %" PRIu64 " MiB free; this run needs about %" PRIu64 " MiB (--big-n, "
		     "--skip-big)", g_work, ((uint64_t)vs.f_bavail * vs.f_frsize) >> 20, disk >> 20);
	struct statfs fs;
	if (statfs(g_work, &fs) == 0 && (unsigned long)fs.f_type == TMPFS_MAGIC_NUMBER)
		fprintf(stderr, "bench_array: warning: %s is a tmpfs: no disk is measured (--dir)\n",
		        g_work);
}

static void make_work_dir(const options *o)
{
	char tmpl[sizeof g_work];
	if ((size_t)snprintf(tmpl, sizeof tmpl, "%s/tess-bench-array-XXXXXX", o->parent) >=
	    sizeof tmpl)
		fail("--dir is too long");
	if (!mkdtemp(tmpl))
		fail("mkdtemp in %s: %s", o->parent, strerror(errno));
	snprintf(g_work, sizeof g_work, "%s", tmpl);
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN); /* a dead peer process shows as a write error */
}

static void dataset_init(dataset *ds, const char *name, int ndim, uint64_t n, const options *o,
                         int nwindows, uint64_t seed)
{
	memset(ds, 0, sizeof *ds);
	ds->name = name;
	ds->ndim = ndim;
	ds->n = n;
	if (ndim == 2) {
		ds->dtype = (tess_dtype){TESS_DT_FLOAT, 4, '<'};
		ds->descr = "<f4";
		ds->chunk = PLANE_CHUNK;
		ds->win = PLANE_WINDOW;
	} else {
		ds->dtype = (tess_dtype){TESS_DT_UINT, 2, '<'};
		ds->descr = "<u2";
		ds->chunk = VOLUME_INNER;
		ds->win = VOLUME_WINDOW;
		ds->shard = volume_shard(n);
	}
	ds->bytes = (size_t)ds->dtype.itemsize;
	for (int d = 0; d < ndim; d++)
		ds->bytes *= (size_t)n;
	ds->data = xmalloc(ds->bytes);
	ds->nwindows = nwindows;
	ds->windows = make_windows(ndim, n, ds->win, nwindows, seed ^ o->seed);
	char file[64];
	snprintf(file, sizeof file, "%s.npy", name);
	path_in_work(ds->npy, sizeof ds->npy, file);
}

static void dataset_save(dataset *ds)
{
	uint64_t shape[3] = {ds->n, ds->n, ds->n};
	fprintf(stderr, "data: %s, %.1f MB -> %s\n", ds->name, (double)ds->bytes / 1e6, ds->npy);
	write_npy(ds->npy, ds->descr, ds->ndim, shape, ds->data, ds->bytes);
}

/* The peers' configuration: a zarr-python case per dataset and codec, and
 * one case per plane for h5py and GDAL. */
static json_t *peers_config(const options *o, dataset *planes, int nplanes, const dataset *vol)
{
	json_t *cases = json_array();
	for (int i = 0; i < nplanes; i++) {
		dataset *ds = &planes[i];
		char id[64];
		for (size_t c = 0; c < sizeof g_codecs / sizeof *g_codecs; c++) {
			snprintf(id, sizeof id, "%s/%s", ds->name, g_codecs[c].label);
			json_t *cj = case_json(id, ds->npy, 2, ds->chunk, ds->win, ds->windows,
			                       ds->nwindows, o->runs, o->runs);
			add_peer(cj, json_pack("{s:s, s:s, s:o}", "name", peer_names[P_ZARR], "kind",
			                       "zarr", "compressor", numcodecs_json(&g_codecs[c])));
			json_array_append_new(cases, cj);
		}
		snprintf(id, sizeof id, "%s/others", ds->name);
		json_t *cj = case_json(id, ds->npy, 2, ds->chunk, ds->win, ds->windows, ds->nwindows,
		                       o->runs, o->runs);
		add_peer(cj, json_pack("{s:s, s:s, s:s, s:i, s:b}", "name", peer_names[P_H5_GZIP],
		                       "kind", "h5py", "compression", "gzip", "level", 4, "shuffle", 1));
		add_peer(cj, json_pack("{s:s, s:s, s:s, s:n, s:b}", "name", peer_names[P_H5_LZF],
		                       "kind", "h5py", "compression", "lzf", "level", "shuffle", 1));
		add_peer(cj, json_pack("{s:s, s:s, s:[s, s]}", "name", peer_names[P_GDAL], "kind",
		                       "gdal", "options", "COMPRESS=DEFLATE", "NUM_THREADS=ALL_CPUS"));
		json_array_append_new(cases, cj);
	}
	if (vol) {
		json_t *cj = case_json("volume/zarr", vol->npy, 3, VOLUME_INNER, vol->win, vol->windows,
		                       vol->nwindows, 1, o->runs < 2 ? o->runs : 2);
		add_peer(cj, json_pack("{s:s, s:s, s:o}", "name", peer_names[P_ZARR], "kind", "zarr",
		                       "compressor", numcodecs_json(&g_codecs[0])));
		json_array_append_new(cases, cj);
	}
	return json_pack("{s:s, s:o}", "work", g_work, "cases", cases);
}

static void run(bench *b, const options *o)
{
	dataset planes[2], vol;
	dataset_init(&planes[0], "random", 2, o->plane_n, o, o->windows, 1);
	dataset_init(&planes[1], "smooth", 2, o->plane_n, o, o->windows, 1);
	make_random_plane(planes[0].data, o->plane_n, o->seed);
	make_smooth_plane(planes[1].data, o->plane_n, o->seed + 1);
	dataset_save(&planes[0]);
	dataset_save(&planes[1]);
	if (!o->skip_big) {
		dataset_init(&vol, "volume", 3, o->volume_n, o, o->volume_windows, 2);
		fprintf(stderr, "data: making the %" PRIu64 "^3 volume\n", o->volume_n);
		make_volume(vol.data, o->volume_n, o->seed + 2);
		if (!o->no_peers)
			dataset_save(&vol);
	}
	json_t *config = peers_config(o, planes, 2, o->skip_big ? NULL : &vol);
	char config_path[PATH_MAX];
	path_in_work(config_path, sizeof config_path, "peers.json");
	if (!config || json_dump_file(config, config_path, JSON_COMPACT) != 0)
		fail("cannot write %s", config_path);
	b->have_peers = !o->no_peers;
	if (b->have_peers)
		peers_start(&b->py, o, config_path);
	for (int i = 0; i < 2; i++) {
		plane_dataset(b, &planes[i]);
		free(planes[i].data);
		free(planes[i].windows);
		unlink(planes[i].npy);
	}
	if (!o->skip_big) {
		volume_case(b, &vol, o->runs < 2 ? o->runs : 2);
		free(vol.data);
		free(vol.windows);
		unlink(vol.npy);
	}
	if (b->have_peers)
		peers_stop(&b->py);
	json_decref(config);
}

int main(int argc, char **argv)
{
	options o;
	parse_options(&o, argc, argv);
	make_work_dir(&o);
	check_room(&o);
	struct utsname u;
	uname(&u);
	fprintf(stderr, "bench_array: working in %s\n", g_work);
	bench b = {.o = &o};
	path_in_work(b.store_dir, sizeof b.store_dir, "tess");
	check_tess(tess_store_init(&b.st, b.store_dir, NULL), "init store", b.store_dir);
	run(&b, &o);
	tess_store_close(b.st);
	if (o.json)
		print_json(&o, &u);
	else
		print_table(&o, &u);
	json_decref(g_versions);
	return 0;
}
