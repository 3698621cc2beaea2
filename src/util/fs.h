/* Internal: small file-system helpers shared by backends and copies. */
#ifndef TESS_UTIL_FS_H
#define TESS_UTIL_FS_H

#include <stddef.h>
#include <string.h>

/**
 * write(2) until all `len` bytes are out, retrying on EINTR and short
 * writes.  Returns 0 or the errno value of the failure (no message set).
 */
int tess_write_full(int fd, const void *data, size_t len);

/**
 * mkdir -p: create `path` and its missing parents (mode 0777 & ~umask).
 * With `durable`, the parent of every directory created is fsynced so the
 * new entries survive a crash.  TESS_E* with a message naming the
 * directory that could not be created.
 */
int tess_mkdir_p(const char *path, int durable);

/** Byte-order comparison of two counted strings (memcmp, then length). */
static inline int tess_cmp_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/** Whether the counted string s begins with the counted string prefix. */
static inline int tess_starts_with(const char *s, size_t slen, const char *prefix, size_t plen)
{
	return slen >= plen && memcmp(s, prefix, plen) == 0;
}

#endif
