/*
 * tessera/store.h - opening and creating stores.
 *
 * A store is opened by URL:
 *
 *     /data/my-store  or  file:///data/my-store     local directory (default)
 *     mem://NAME                                    in this process's memory;
 *                                                   the same NAME is the same
 *                                                   store until the process ends
 *     lmdb:///data/my-store.lmdb                    one LMDB file (or an LMDB
 *                                                   directory, as zarr-python's
 *                                                   LMDBStore makes by default)
 *
 * A store is a Zarr v2 hierarchy: its root holds `.zgroup`, and `.tessera/`
 * holds Tessera's own files, starting with `.tessera/format`.
 */
#ifndef TESSERA_STORE_H
#define TESSERA_STORE_H

#include "common.h"
#include "sys/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The store format version this library writes and reads. */
#define TESS_FORMAT_VERSION 1

typedef struct tess_store tess_store;

#define TESS_STORE_OPTS_VERSION 1

/** Options for tess_store_open.  Initialize with TESS_STORE_OPTS_INIT. */
typedef struct tess_store_opts {
	unsigned version; /**< TESS_STORE_OPTS_VERSION */
	int create;       /**< 1: make the store when the URL holds none */
} tess_store_opts;

#define TESS_STORE_OPTS_INIT { TESS_STORE_OPTS_VERSION, 0 }

/**
 * Open the store at `url`.  `opts` may be NULL for defaults.
 *
 * Errors: TESS_EINVAL (malformed URL, unknown scheme), TESS_ENOTFOUND (the
 * location does not exist, or holds no Tessera store: no `.tessera/format`),
 * TESS_EVERSION (the store was written by a newer format version),
 * TESS_ECORRUPT (unreadable format file), TESS_EIO.
 * On success *out must be closed with tess_store_close.
 */
int tess_store_open(tess_store **out, const char *url,
                    const tess_store_opts *opts);

/**
 * Make a new store at `url` and open it: writes the root `.zgroup` and
 * `.tessera/format`.  An existing root `.zgroup` (a plain Zarr hierarchy) is
 * kept, so an existing zarr-python store can be adopted.
 * Errors: TESS_EEXISTS (already a Tessera store), plus those of open.
 */
int tess_store_init(tess_store **out, const char *url,
                    const tess_store_opts *opts);

/** Close the store and free it.  NULL is a no-op. */
void tess_store_close(tess_store *st);

/** The URL the store was opened with (borrowed, lives as long as st). */
const char *tess_store_url(const tess_store *st);

/** The store's object backend (borrowed, lives as long as st). */
tess_backend *tess_store_backend(tess_store *st);

/**
 * Whether `key` is inside the reserved `.tessera/` area.  Blob writes there
 * are refused with TESS_EPERM and listings of the root leave it out.
 */
int tess_key_is_reserved(const char *key);

#ifdef __cplusplus
}
#endif
#endif
