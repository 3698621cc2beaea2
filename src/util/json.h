/* Internal: JSON text the way zarr-python writes it. */
#ifndef TESS_UTIL_JSON_H
#define TESS_UTIL_JSON_H

#include <jansson.h>
#include "tessera/sys/backend.h"

/**
 * Serialize `v` exactly as Python's json.dumps(v, indent=4, sort_keys=True,
 * ensure_ascii=True, separators=(',', ': ')) does, which is what zarr-python
 * writes for .zarray, .zgroup and .zattrs: keys sorted by code point, 4-space
 * indent, non-ASCII escaped as \uXXXX, floats in Python's shortest repr.
 * No trailing newline.  Appends to `out`.
 */
int tess_json_dump(tess_buf *out, const json_t *v);

/** Same, into a malloc'd NUL-terminated string (tess_free). */
int tess_json_dumps(char **out, const json_t *v);

/**
 * Python's repr() of a finite double ("1.0", "1e-05", "1.2345e+20") into
 * `dst` (at least 32 bytes).  Returns the length.
 */
int tess_json_format_double(char *dst, double v);

/**
 * Parse JSON text; on failure TESS_EINVAL with "what: line L column C:
 * reason".  `what` names the source for the message.  Integers above
 * INT64_MAX up to UINT64_MAX (which jansson cannot hold, but zarr-python
 * writes as uint64 fill values) come back as tagged values: see
 * tess_json_u64.
 */
int tess_json_parse(json_t **out, const char *text, size_t len, const char *what);

/** jansson's json_loadb (any value, NULs allowed) with the big-integer tagging. */
json_t *tess_json_loadb(const char *text, size_t len, json_error_t *err);

/**
 * A JSON number for any uint64: a plain integer up to INT64_MAX, above it a
 * tagged string (a NUL, "u64:" and the digits) that tess_json_dump writes
 * back as the bare number.  A document's own string of exactly that form
 * would be written as a number too: the price of using jansson.
 */
json_t *tess_json_u64(uint64_t v);

/** 1 and *out if v is a tagged big integer (see tess_json_u64), else 0. */
int tess_json_u64_value(const json_t *v, uint64_t *out);

#endif
