/* Shared test helpers: temp locations and store URLs per backend scheme. */
#ifndef TESS_TESTUTIL_H
#define TESS_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A fresh temp directory (malloc'd path). */
static inline char *tu_tempdir(void)
{
	const char *base = getenv("TMPDIR");
	char tmpl[4096];
	snprintf(tmpl, sizeof tmpl, "%s/tess-test-XXXXXX", base && *base ? base : "/tmp");
	char *dir = mkdtemp(tmpl);
	if (!dir) {
		perror("mkdtemp");
		abort();
	}
	return strdup(dir);
}

/* A store URL of the given scheme at a fresh location; *dir gets the temp dir
 * to remove afterwards (NULL for mem and s3).  s3 URLs name a fresh bucket
 * on the server of AWS_ENDPOINT_URL (the tests' RGW). */
static inline char *tu_store_url(const char *scheme, char **dir)
{
	static int counter;
	char url[4200];
	*dir = NULL;
	if (strcmp(scheme, "mem") == 0) {
		snprintf(url, sizeof url, "mem://test-%d-%d", (int)getpid(), ++counter);
	} else if (strcmp(scheme, "s3") == 0) {
		/* pids wrap quickly on small systems: the time keeps a later
		 * process of the same test run off an earlier one's bucket */
		snprintf(url, sizeof url, "s3://tess-test-%d-%lx-%d", (int)getpid(),
		         (unsigned long)time(NULL) & 0xffffff, ++counter);
	} else {
		*dir = tu_tempdir();
		if (strcmp(scheme, "lmdb") == 0)
			snprintf(url, sizeof url, "lmdb://%s/store.lmdb", *dir);
		else
			snprintf(url, sizeof url, "%s/store", *dir);
	}
	return strdup(url);
}

static inline void tu_rmrf(const char *dir)
{
	if (!dir)
		return;
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "warning: could not remove %s\n", dir);
}

#endif
