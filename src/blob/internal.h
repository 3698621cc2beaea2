/* Internal: streaming helpers shared by blob.c and copy.c. */
#ifndef TESS_BLOB_INTERNAL_H
#define TESS_BLOB_INTERNAL_H

#include "tessera/blob.h"

/* Streaming granularity: big enough for full disk and network throughput,
 * small enough that copies of huge objects stay in bounded memory. */
#define BLOB_CHUNK (8u << 20)

typedef struct blob_progress {
	tess_progress_cb cb; /* may be NULL */
	void *payload;
	uint64_t done;
	uint64_t total; /* 0 when unknown */
} blob_progress;

void blob_progress_add(blob_progress *p, uint64_t bytes);

/* tess_blob_put_fd and tess_blob_get_fd, reporting progress to p (NULL ok). */
int blob_put_fd(tess_store *st, const char *key, int fd, unsigned flags, blob_progress *p);
int blob_get_fd(tess_store *st, const char *key, int fd, blob_progress *p);

#endif
