/*
 * bench_pyramid - reading rasters at any zoom: a GeoTIFF (plain, and with
 * `gdaladdo -r average` overviews) read by GDAL against a Tessera pyramid.
 *
 *   data:    an N x N float32 field (default 8192; --quick 2048): smooth
 *            waves plus Gaussian noise, written by GDAL as a GeoTIFF tiled
 *            512 x 512 with DEFLATE (bench/pyramid_peers.py).
 *   build:   `gdaladdo -r average` on a copy of that file, against Tessera's
 *            import of the same file (tess_raster_import: GDAL reads it,
 *            level 0 is written in 512 x 512 chunks, blosc lz4) plus the
 *            pyramid's build (tess_pyramid_update: every level, mean).
 *   windows: 256 x 256 output windows at full resolution and zoomed out 8x
 *            and 32x (a 2048^2 and an 8192^2 square of level 0 each), at
 *            seeded random corners on multiples of the zoom.  GDAL reads
 *            with ReadAsArray(buf_xsize=256, buf_ysize=256,
 *            resample_alg=average), which uses an overview when the file
 *            has one; Tessera with tess_pyramid_read(..., average), which
 *            picks the coarsest level fine enough.  Every window is read
 *            through a fresh handle (dataset / pyramid) and only the read
 *            is timed: no block or chunk cache helps either side, the page
 *            cache helps both.  The means of the windows are compared
 *            (Tessera against GDAL's, to 1e-4 relative).
 *   update:  one 512 x 512 patch of level 0 rewritten, then
 *            tess_pyramid_update, against tess_pyramid_rebuild of all
 *            levels.
 *
 * Rounds: every measurement is repeated --runs times; in each round the
 * sides take turns, the first rotating.  Results are medians.  Ratios are
 * > 1 when Tessera is faster.  See docs/performance.md ("Pyramids").
 */
#ifndef TESS_HAVE_GDAL
#include <stdio.h>

int main(void)
{
	fprintf(stderr, "bench_pyramid: skipped: tess was built without GDAL\n");
	return 0;
}

#else

#define BENCH_NAME "bench_pyramid"
/* Not every helper of the shared header is needed here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "bench_common.h"
#pragma GCC diagnostic pop

#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "raster/raster.h"
#include "tessera/pyramid.h"

#define MAX_RUNS 9
#define MAX_WINDOWS 64
#define TILE 512
#define OUT 256
#define NZOOM 3
static const int zooms[NZOOM] = { 1, 8, 32 };

/* Targets of issue 5, item 8. */
#define TARGET_VS_PLAIN 5.0  /* zoomed out: >= 5x GDAL on the full-resolution file */
#define TARGET_VS_OVR 1.0    /* zoomed out: at least as fast as GDAL with overviews */
#define TARGET_BUILD 1.0     /* import + build at least as fast as gdaladdo */
#define TARGET_UPDATE 50.0   /* one-patch update >= 50x faster than a rebuild */

typedef struct options {
	uint64_t n;
	int runs, windows;
	const char *parent, *python, *script;
} options;

static pid_t g_child;

typedef struct peers {
	FILE *to, *from;
	char *line;
	size_t cap;
} peers;

/* ---- the work dir and the peer process -------------------------------------------- */

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

static void on_signal(int sig)
{
	static const char msg[] = "\n" BENCH_NAME ": interrupted; remove the work dir: ";
	if (g_child > 0)
		kill(g_child, SIGTERM);
	ssize_t ignored = write(2, msg, sizeof msg - 1);
	ignored = write(2, g_work, strlen(g_work));
	ignored = write(2, "\n", 1);
	(void)ignored;
	_exit(128 + sig);
}

static void make_work_dir(const options *o)
{
	char tmpl[sizeof g_work];
	if ((size_t)snprintf(tmpl, sizeof tmpl, "%s/tess-bench-pyramid-XXXXXX", o->parent) >=
	    sizeof tmpl)
		fail("--dir is too long");
	if (!mkdtemp(tmpl))
		fail("mkdtemp in %s: %s", o->parent, strerror(errno));
	snprintf(g_work, sizeof g_work, "%s", tmpl);
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
}

static json_t *peers_read(peers *p, const char *what)
{
	if (getline(&p->line, &p->cap, p->from) <= 0)
		fail("the GDAL peer ended before answering %s", what);
	json_error_t err;
	json_t *doc = json_loads(p->line, 0, &err);
	if (!json_is_object(doc))
		fail("the GDAL peer answered %s with no JSON object: %s", what, err.text);
	return doc;
}

static json_t *peers_start(peers *p, const options *o)
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
		execl(o->python, o->python, o->script, (char *)NULL);
		fprintf(stderr, BENCH_NAME ": exec %s: %s\n", o->python, strerror(errno));
		_exit(127);
	}
	g_child = pid;
	close(in[0]);
	close(out[1]);
	if (!(p->to = fdopen(in[1], "w")) || !(p->from = fdopen(out[0], "r")))
		fail("fdopen: %s", strerror(errno));
	json_t *hello = peers_read(p, "the start");
	json_t *v = json_incref(json_object_get(hello, "versions"));
	json_decref(hello);
	return v;
}

/* Send one request (stolen) and return the answer. */
static json_t *peers_ask(peers *p, json_t *req)
{
	char *text = json_dumps(req, JSON_COMPACT);
	const char *op = json_string_value(json_object_get(req, "op"));
	if (!text || fprintf(p->to, "%s\n", text) < 0 || fflush(p->to) != 0)
		fail("sending '%s' to the GDAL peer: %s", op, strerror(errno));
	free(text);
	json_t *doc = peers_read(p, op);
	json_decref(req);
	return doc;
}

static void peers_stop(peers *p)
{
	fclose(p->to);
	fclose(p->from);
	free(p->line);
	int status;
	if (waitpid(g_child, &status, 0) == g_child && !(WIFEXITED(status) && !WEXITSTATUS(status)))
		fail("the GDAL peer exited with status %d",
		     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	g_child = 0;
}

static double num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	if (!json_is_number(v))
		fail("the GDAL peer's answer has no number '%s'", key);
	return json_number_value(v);
}

/* ---- measurements ---------------------------------------------------------------- */

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

enum { S_PLAIN, S_OVR, S_TESS, NSIDES };
static const char *const side_names[NSIDES] = { "GDAL plain", "GDAL + overviews", "Tessera" };

typedef struct results {
	/* per zoom, side, run: mean seconds per window */
	double window[NZOOM][NSIDES][MAX_RUNS];
	int has_zoom[NZOOM];
	double gdaladdo[MAX_RUNS], import[MAX_RUNS], build[MAX_RUNS];
	char overviews[128]; /* the sizes gdaladdo made */
	double update[MAX_RUNS], rebuild[MAX_RUNS];
	double load_start, load_end; /* 1-minute load averages */
	size_t update_chunks;
	int levels;
	double worst_mean_diff[NZOOM];
} results;

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Seeded corners on multiples of the zoom (x, y pairs in level-0 cells). */
static int make_corners(uint64_t n, int zoom, int count, uint64_t corners[][2])
{
	const uint64_t span = (uint64_t)zoom * OUT;
	if (span > n)
		return 0;
	uint64_t seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)zoom, slots = (n - span) / zoom + 1;
	for (int i = 0; i < count; i++) {
		corners[i][0] = xorshift(&seed) % slots * (uint64_t)zoom;
		corners[i][1] = xorshift(&seed) % slots * (uint64_t)zoom;
	}
	return span == n ? 1 : count;
}

static double gdal_windows(peers *pp, const char *file, int zoom, int count,
                           uint64_t corners[][2], double *means)
{
	json_t *list = json_array();
	for (int i = 0; i < count; i++)
		json_array_append_new(list, json_pack("[I, I]", (json_int_t)corners[i][0],
		                                      (json_int_t)corners[i][1]));
	json_t *a = peers_ask(pp, json_pack("{s:s, s:s, s:i, s:i, s:o}", "op", "windows", "file",
	                                    file, "zoom", zoom, "size", OUT, "corners", list));
	const json_t *secs = json_object_get(a, "seconds"), *m = json_object_get(a, "means");
	if (json_array_size(secs) != (size_t)count || json_array_size(m) != (size_t)count)
		fail("the GDAL peer answered %zu windows, not %d", json_array_size(secs), count);
	double total = 0;
	for (int i = 0; i < count; i++) {
		total += json_number_value(json_array_get(secs, (size_t)i));
		means[i] = json_number_value(json_array_get(m, (size_t)i));
	}
	json_decref(a);
	return total / count;
}

static double tess_windows(tess_store *st, const char *path, int zoom, int count,
                           uint64_t corners[][2], double *means)
{
	static float buf[OUT * OUT];
	const uint64_t span = (uint64_t)zoom * OUT, out[2] = { OUT, OUT };
	double total = 0;
	memset(buf, 0, sizeof buf);
	for (int i = 0; i < count; i++) {
		tess_pyramid *p;
		check_tess(tess_pyramid_open(&p, st, path), "open pyramid", path);
		const uint64_t start[2] = { corners[i][1], corners[i][0] }, cnt[2] = { span, span };
		int level;
		double t0 = now_s();
		check_tess(tess_pyramid_read(p, start, cnt, out,
		                             zoom > 1 ? TESS_RESAMPLE_AVERAGE : TESS_RESAMPLE_NEAREST,
		                             buf, &level),
		           "read window of", path);
		total += now_s() - t0;
		tess_pyramid_close(p);
		double s = 0;
		for (int k = 0; k < OUT * OUT; k++)
			s += buf[k];
		means[i] = s / (OUT * OUT);
	}
	return total / count;
}

/* ---- the phases -------------------------------------------------------------------- */

static void remove_tree(const char *path)
{
	nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS);
}

static void phase_build(peers *pp, tess_store *st, const options *o, const char *plain,
                        const char *ovr, results *r)
{
	for (int run = 0; run < o->runs; run++) {
		for (int turn = 0; turn < 2; turn++) {
			if ((turn + run) % 2 == 0) {
				json_t *a = peers_ask(pp, json_pack("{s:s, s:s, s:s}", "op", "overviews",
				                                    "src", plain, "dst", ovr));
				r->gdaladdo[run] = num(a, "seconds");
				size_t i, len = 0;
				json_t *lv;
				json_array_foreach(json_object_get(a, "levels"), i, lv)
					if (len + 24 < sizeof r->overviews)
						len += (size_t)snprintf(r->overviews + len, sizeof r->overviews - len,
					                        "%s%" JSON_INTEGER_FORMAT, i ? ", " : "",
					                        json_integer_value(lv));
				json_decref(a);
				continue;
			}
			char path[32], dir[PATH_MAX];
			snprintf(path, sizeof path, "dem%d", run);
			if (run > 0) { /* the previous round's pyramid, gone before it is timed */
				char prev[32];
				snprintf(prev, sizeof prev, "store/dem%d", run - 1);
				path_in_work(dir, sizeof dir, prev);
				remove_tree(dir);
			}
			tess_raster_import_opts io = TESS_RASTER_IMPORT_OPTS_INIT;
			io.tile = TILE;
			io.no_update = 1;
			tess_raster_import_result res;
			double t0 = now_s();
			check_tess(tess_raster_import(st, path, plain, &io, &res), "import into", path);
			double t1 = now_s();
			tess_pyramid *p;
			check_tess(tess_pyramid_open(&p, st, path), "open", path);
			tess_pyramid_update_stats s;
			check_tess(tess_pyramid_update(p, &s), "update", path);
			double t2 = now_s();
			r->levels = tess_pyramid_levels(p);
			tess_pyramid_close(p);
			r->import[run] = t1 - t0;
			r->build[run] = t2 - t1;
			fprintf(stderr, "  build round %d: import %.2f s, build %.2f s\n", run, t1 - t0,
			        t2 - t1);
		}
	}
}

static void phase_windows(peers *pp, tess_store *st, const options *o, const char *plain,
                          const char *ovr, const char *path, results *r)
{
	static uint64_t corners[MAX_WINDOWS][2];
	double means[NSIDES][MAX_WINDOWS];
	for (int z = 0; z < NZOOM; z++) {
		int count = make_corners(o->n, zooms[z], o->windows, corners);
		if (!count)
			continue;
		r->has_zoom[z] = 1;
		for (int run = 0; run < o->runs; run++) {
			for (int turn = 0; turn < NSIDES; turn++) {
				int side = (turn + run) % NSIDES;
				double *w = &r->window[z][side][run];
				if (side == S_TESS)
					*w = tess_windows(st, path, zooms[z], count, corners, means[side]);
				else
					*w = gdal_windows(pp, side == S_PLAIN ? plain : ovr, zooms[z], count,
					                  corners, means[side]);
			}
			/* Tessera's windows against GDAL's: overviews for a zoom-out (the
			 * same averages of averages), the plain file at full resolution */
			const double *ref = means[zooms[z] > 1 ? S_OVR : S_PLAIN];
			for (int i = 0; i < count; i++) {
				double d = fabs(means[S_TESS][i] - ref[i]) / fabs(ref[i]);
				if (d > r->worst_mean_diff[z])
					r->worst_mean_diff[z] = d;
			}
		}
		fprintf(stderr, "  windows %dx: done\n", zooms[z]);
	}
}

static void phase_update(tess_store *st, const options *o, const char *path, results *r)
{
	static float patch[TILE * TILE];
	tess_pyramid *p;
	check_tess(tess_pyramid_open(&p, st, path), "open", path);
	uint64_t seed = 42;
	const uint64_t cells = o->n / TILE;
	for (int run = 0; run < o->runs; run++) {
		for (int i = 0; i < TILE * TILE; i++)
			patch[i] = (float)(run * 10 + i % 97);
		const uint64_t start[2] = { xorshift(&seed) % cells * TILE,
			                    xorshift(&seed) % cells * TILE };
		const uint64_t count[2] = { TILE, TILE };
		check_tess(tess_pyramid_write(p, start, count, patch), "write a patch of", path);
		tess_pyramid_update_stats s, full;
		double t0 = now_s();
		check_tess(tess_pyramid_update(p, &s), "update", path);
		r->update[run] = now_s() - t0;
		r->update_chunks = s.chunks_written;
		t0 = now_s();
		check_tess(tess_pyramid_rebuild(p, &full), "rebuild", path);
		r->rebuild[run] = now_s() - t0;
		fprintf(stderr, "  update round %d: %.1f ms (%zu dirty, %zu written), rebuild %.2f s "
		        "(%zu written)\n", run, r->update[run] * 1e3, s.dirty, s.chunks_written,
		        r->rebuild[run], full.chunks_written);
	}
	tess_pyramid_close(p);
}

/* ---- the table ----------------------------------------------------------------------- */

/* The 1-minute load average, or -1: the machine may be shared. */
static double load_avg(void)
{
	double v = -1;
	FILE *f = fopen("/proc/loadavg", "r");
	if (f) {
		if (fscanf(f, "%lf", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static const char *verdict(double ratio, double target)
{
	return ratio >= target ? "PASS" : "MISS";
}

static void print_table(const options *o, results *r, const json_t *versions, double make_s)
{
	const char *gdal_v = json_string_value(json_object_get(versions, "gdal"));
	if (!gdal_v)
		gdal_v = "?";
	printf("\nbench_pyramid: %" PRIu64 " x %" PRIu64 " float32 (smooth + noise); GeoTIFF "
	       "tiled %d, DEFLATE (written in %.1f s);\n"
	       "GDAL %s, GDAL_NUM_THREADS=ALL_CPUS, overviews %s;\n"
	       "Tessera: file store, chunks %d x %d, blosc lz4, %d levels; %d runs, medians;\n"
	       "load average %.1f at the start, %.1f at the end (%ld CPUs)\n\n",
	       o->n, o->n, TILE, make_s, gdal_v, r->overviews, TILE, TILE, r->levels, o->runs,
	       r->load_start, r->load_end, sysconf(_SC_NPROCESSORS_ONLN));
	printf("%-26s %12s %12s %12s %9s %9s  %-22s %s\n", "256x256 window", side_names[0],
	       side_names[1], side_names[2], "vs plain", "vs ovr", "target", "result");
	for (int z = 0; z < NZOOM; z++) {
		if (!r->has_zoom[z])
			continue;
		double ms[NSIDES];
		for (int s = 0; s < NSIDES; s++)
			ms[s] = median(r->window[z][s], o->runs) * 1e3;
		double vp = ms[S_PLAIN] / ms[S_TESS], vo = ms[S_OVR] / ms[S_TESS];
		char label[64];
		snprintf(label, sizeof label, zooms[z] == 1 ? "full resolution" : "zoom-out %dx",
		         zooms[z]);
		printf("%-26s %9.2f ms %9.2f ms %9.2f ms %8.2fx %8.2fx  ", label, ms[0], ms[1], ms[2],
		       vp, vo);
		if (zooms[z] == 1)
			printf("%-22s %s\n", "(info)", "-");
		else
			printf("%-22s %s\n", ">=5x plain, >=1x ovr",
			       vp >= TARGET_VS_PLAIN && vo >= TARGET_VS_OVR ? "PASS" : "MISS");
	}
	double add = median(r->gdaladdo, o->runs), imp = median(r->import, o->runs);
	double bld = median(r->build, o->runs);
	double both[MAX_RUNS];
	for (int i = 0; i < o->runs; i++)
		both[i] = r->import[i] + r->build[i];
	double ib = median(both, o->runs);
	printf("\n%-40s %10s %10s %9s  %-10s %s\n", "build", "GDAL", "Tessera", "ratio", "target",
	       "result");
	printf("%-40s %8.2f s %8.2f s %8.2fx  %-10s %s\n",
	       "gdaladdo -r average vs import + build", add, ib, add / ib, ">=1x",
	       verdict(add / ib, TARGET_BUILD));
	printf("%-40s %10s %8.2f s %9s  %-10s %s\n", "  of which import (level 0)", "", imp, "",
	       "", "");
	printf("%-40s %8.2f s %8.2f s %8.2fx  %-10s %s\n", "  gdaladdo vs build alone", add, bld,
	       add / bld, "(info)", "-");
	double up = median(r->update, o->runs), rb = median(r->rebuild, o->runs);
	printf("\n%-40s %10s %10s %9s  %-10s %s\n", "update", "rebuild", "update", "ratio",
	       "target", "result");
	char label[64];
	snprintf(label, sizeof label, "one %dx%d patch (%zu coarse chunks)", TILE, TILE,
	         r->update_chunks);
	printf("%-40s %8.2f s %7.1f ms %8.1fx  %-10s %s\n", label, rb, up * 1e3, rb / up, ">=50x",
	       verdict(rb / up, TARGET_UPDATE));
	printf("\nwindow means, Tessera vs GDAL (overviews for zoom-outs): worst relative "
	       "difference");
	for (int z = 0; z < NZOOM; z++)
		if (r->has_zoom[z])
			printf(" %dx %.1e", zooms[z], r->worst_mean_diff[z]);
	printf("\n");
	for (int z = 0; z < NZOOM; z++)
		if (r->has_zoom[z] && r->worst_mean_diff[z] > 1e-4)
			fail("Tessera's %dx windows differ from GDAL's (relative %.1e)", zooms[z],
			     r->worst_mean_diff[z]);
}

/* ---- options and main -------------------------------------------------------------- */

static const char *default_script(void)
{
	static char path[PATH_MAX];
	snprintf(path, sizeof path, "%s", __FILE__);
	char *slash = strrchr(path, '/');
	if (slash && path[0] == '/') {
		snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "pyramid_peers.py");
		if (access(path, R_OK) == 0)
			return path;
	}
	return "bench/pyramid_peers.py";
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: bench_pyramid [--n N] [--runs R] [--windows W] [--quick] [--dir DIR]\n"
	        "                     [--python PATH] [--peers SCRIPT]\n"
	        "GDAL (a GeoTIFF, plain and with gdaladdo overviews) against a Tessera pyramid:\n"
	        "256x256 windows at full resolution and zoomed out 8x and 32x, the pyramid build\n"
	        "against gdaladdo -r average, a one-patch update against a rebuild.  Defaults:\n"
	        "--n 8192 --runs 3 --windows 20 (--quick: 2048, 2 runs, 8 windows); DIR\n"
	        "$TMPDIR or /var/tmp; PATH /usr/bin/python3.\n");
	exit(2);
}

static unsigned long long count_arg(const char *opt, const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = s ? strtoull(s, &end, 10) : 0;
	if (!s || errno || *end || v == 0 || s[0] == '-')
		fail("%s wants a positive number, not '%s'", opt, s ? s : "");
	return v;
}

static void parse_options(options *o, int argc, char **argv)
{
	const char *tmp = getenv("TMPDIR");
	*o = (options){ 8192, 3, 20, tmp && tmp[0] ? tmp : "/var/tmp", "/usr/bin/python3", NULL };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--n") == 0)
			o->n = count_arg(a, v), i++;
		else if (strcmp(a, "--runs") == 0)
			o->runs = (int)count_arg(a, v), i++;
		else if (strcmp(a, "--windows") == 0)
			o->windows = (int)count_arg(a, v), i++;
		else if (strcmp(a, "--quick") == 0)
			o->n = 2048, o->runs = 2, o->windows = 8;
		else if (strcmp(a, "--dir") == 0 && v)
			o->parent = v, i++;
		else if (strcmp(a, "--python") == 0 && v)
			o->python = v, i++;
		else if (strcmp(a, "--peers") == 0 && v)
			o->script = v, i++;
		else
			usage();
	}
	if (o->runs > MAX_RUNS || o->windows > MAX_WINDOWS)
		fail("at most %d runs and %d windows", MAX_RUNS, MAX_WINDOWS);
	if (o->n % TILE || o->n < 2 * TILE)
		fail("--n must be a multiple of %d, at least %d", TILE, 2 * TILE);
	if (!o->script)
		o->script = default_script();
}

int main(int argc, char **argv)
{
	options o;
	parse_options(&o, argc, argv);
	if (access(o.python, X_OK) != 0)
		fail("%s: %s (the GDAL peer needs Python with osgeo.gdal)", o.python, strerror(errno));
	make_work_dir(&o);
	fprintf(stderr, BENCH_NAME ": working in %s\n", g_work);
	peers pp = { 0 };
	json_t *versions = peers_start(&pp, &o);
	json_t *made = peers_ask(&pp, json_pack("{s:s, s:s, s:I, s:i}", "op", "make", "dir",
	                                        g_work, "n", (json_int_t)o.n, "tile", TILE));
	double make_s = num(made, "seconds");
	json_decref(made);
	char plain[PATH_MAX], ovr[PATH_MAX], store_dir[PATH_MAX];
	path_in_work(plain, sizeof plain, "plain.tif");
	path_in_work(ovr, sizeof ovr, "ovr.tif");
	path_in_work(store_dir, sizeof store_dir, "store");
	tess_store *st;
	check_tess(tess_store_init(&st, store_dir, NULL), "init store", store_dir);
	static results r;
	r.load_start = load_avg();
	phase_build(&pp, st, &o, plain, ovr, &r);
	char last[32];
	snprintf(last, sizeof last, "dem%d", o.runs - 1);
	phase_windows(&pp, st, &o, plain, ovr, last, &r);
	phase_update(st, &o, last, &r);
	r.load_end = load_avg();
	peers_stop(&pp);
	tess_store_close(st);
	print_table(&o, &r, versions, make_s);
	json_decref(versions);
	return 0;
}

#endif /* TESS_HAVE_GDAL */
