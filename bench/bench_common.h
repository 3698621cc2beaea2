/*
 * Helpers every benchmark uses: failing loudly, the work directory, time,
 * throughput.  Header-only (each benchmark source is its own program); define
 * BENCH_NAME ("bench_blob") before including it.
 */
#ifndef TESS_BENCH_COMMON_H
#define TESS_BENCH_COMMON_H

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "tessera.h"
#include "util/fs.h"

/* The run's work directory; short enough that every path built under it
 * fits in PATH_MAX. */
static char g_work[PATH_MAX / 2];

/* Print and exit 1; the bench's atexit handler removes the work dir. */
static void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs(BENCH_NAME ": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void check_tess(int rc, const char *what, const char *name)
{
	if (rc)
		fail("%s '%s': %s: %s", what, name, tess_strerror(rc), tess_errmsg());
}

/* nftw callback that removes everything it visits (depth first). */
static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb, (void)type, (void)ftw;
	if (remove(path) != 0)
		fprintf(stderr, BENCH_NAME ": cannot remove %s: %s\n", path, strerror(errno));
	return 0;
}

static void path_in_work(char *out, size_t cap, const char *name)
{
	if ((size_t)snprintf(out, cap, "%s/%s", g_work, name) >= cap)
		fail("path too long under %s", g_work);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double mb_per_s(uint64_t bytes, double secs) { return (double)bytes / 1e6 / secs; }

static void write_all(int fd, const void *data, size_t len, const char *path)
{
	int e = tess_write_full(fd, data, len);
	if (e)
		fail("write %s: %s", path, strerror(e));
}

#endif
