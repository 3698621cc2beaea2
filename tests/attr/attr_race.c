/*
 * Several processes set different attribute names on the same node at the
 * same time; every name must survive (no lost read-modify-write).
 *   attr_race SCHEME [WORKERS] [NAMES_PER_WORKER]
 * With the mem backend (one process by nature) the workers are threads.
 * Exits 0 and prints "N passed, 0 failed" when every attribute is there.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tessera.h"
#include "testutil.h"

static const char *url;
static int per_worker = 25;

static int worker(int id)
{
	tess_store *st;
	if (tess_store_open(&st, url, NULL)) {
		fprintf(stderr, "worker %d: open: %s\n", id, tess_errmsg());
		return 1;
	}
	int bad = 0;
	for (int i = 0; i < per_worker && !bad; i++) {
		char name[64], value[64];
		snprintf(name, sizeof name, "w%d_%d", id, i);
		snprintf(value, sizeof value, "{\"worker\": %d, \"i\": %d}", id, i);
		const char *node = i % 2 ? "shared/node" : "/";
		if (tess_attr_set(st, node, name, value)) {
			fprintf(stderr, "worker %d: set %s: %s\n", id, name, tess_errmsg());
			bad = 1;
		}
	}
	tess_store_close(st);
	return bad;
}

static void *thread_main(void *arg) { return (void *)(intptr_t)worker((int)(intptr_t)arg); }

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: attr_race SCHEME [WORKERS] [NAMES]\n");
		return 2;
	}
	const char *scheme = argv[1];
	int workers = argc > 2 ? atoi(argv[2]) : 4;
	if (argc > 3)
		per_worker = atoi(argv[3]);
	char *dir;
	char *u = tu_store_url(scheme, &dir);
	url = u;
	tess_store *st;
	if (tess_store_init(&st, url, NULL)) {
		fprintf(stderr, "init %s: %s\n", url, tess_errmsg());
		return 1;
	}
	int failed = 0;
	if (strcmp(scheme, "mem") == 0) {
		pthread_t t[64];
		for (int w = 0; w < workers; w++)
			pthread_create(&t[w], NULL, thread_main, (void *)(intptr_t)w);
		for (int w = 0; w < workers; w++) {
			void *res;
			pthread_join(t[w], &res);
			failed |= res != NULL;
		}
	} else {
		tess_store_close(st); /* no backend handle may cross fork() */
		st = NULL;
		for (int w = 0; w < workers; w++)
			if (fork() == 0)
				_exit(worker(w));
		for (int w = 0; w < workers; w++) {
			int status;
			wait(&status);
			failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
		}
		if (tess_store_open(&st, url, NULL)) {
			fprintf(stderr, "reopen: %s\n", tess_errmsg());
			return 1;
		}
	}
	int passed = 0, missing = 0;
	for (int w = 0; w < workers; w++)
		for (int i = 0; i < per_worker; i++) {
			char name[64];
			int64_t got;
			snprintf(name, sizeof name, "w%d_%d", w, i);
			char *json;
			const char *node = i % 2 ? "shared/node" : "/";
			if (tess_attr_get(&json, st, node, name)) {
				fprintf(stderr, "lost attribute %s on %s: %s\n", name, node, tess_errmsg());
				missing++;
				continue;
			}
			tess_free(json);
			(void)got;
			passed++;
		}
	tess_store_close(st);
	tu_rmrf(dir);
	free(dir);
	free(u);
	printf("%d passed, %d failed\n", passed, missing + failed);
	return missing || failed;
}
