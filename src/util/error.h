/* Internal: setting the thread's error message. */
#ifndef TESS_UTIL_ERROR_H
#define TESS_UTIL_ERROR_H

#include "tessera/common.h"

#if defined(__GNUC__)
#define TESS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TESS_PRINTF(a, b)
#endif

/**
 * Set the thread's message from a printf format and return `code`, so that
 * failures read:  return tess_err(TESS_EIO, "blob '%s': %s", key, strerror(errno));
 */
int tess_err(int code, const char *fmt, ...) TESS_PRINTF(2, 3);

/**
 * Prefix the current message with more context ("array 'a': " + message)
 * and return `code` unchanged.
 */
int tess_err_prefix(int code, const char *fmt, ...) TESS_PRINTF(2, 3);

/** Map an errno value to a TESS_E* code (ENOENT -> TESS_ENOTFOUND, ...). */
int tess_errno_code(int errnum);

#endif
