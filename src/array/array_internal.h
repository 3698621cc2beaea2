/*
 * Internal: array operations for the CLI and tests that are not (yet) part
 * of the public API.
 */
#ifndef TESS_ARRAY_INTERNAL_H
#define TESS_ARRAY_INTERNAL_H

#include <stddef.h>

#include "tessera/array.h"

/**
 * Write the store's consolidated metadata `.zmetadata` exactly as
 * zarr.consolidate_metadata does: every key ending in `.zarray`, `.zgroup`
 * or `.zattrs`, parsed, under "metadata", with "zarr_consolidated_format": 1.
 * Lists the whole store.
 */
int tess_array_consolidate(tess_store *st);

/**
 * Threads used to encode and decode this handle's chunks: 0 the process-wide
 * pool (one thread per core, the default), 1 the calling thread only, n a
 * pool of n threads owned by the handle.  TESS_ENOMEM / TESS_EIO.
 */
int tess_array_set_threads(tess_array *arr, unsigned threads);

/**
 * Capacity in bytes of the handle's cache of decoded chunks (default
 * TESS_ARRAY_CACHE_DEFAULT; 0 turns it off).  Shrinking evicts at once.
 */
#define TESS_ARRAY_CACHE_DEFAULT ((size_t)64 << 20)
void tess_array_set_cache_bytes(tess_array *arr, size_t bytes);

/** The handle's path in its store ("" for the root); borrowed. */
const char *tess_array_path(const tess_array *arr);

#endif
