/*
 * tessera/common.h - error codes, error messages, memory and version.
 *
 * Every libtessera function that can fail returns an int: 0 on success or a
 * negative TESS_E* code.  On failure a detailed, human-readable message (what,
 * where, why) is kept in thread-local storage and returned by tess_errmsg().
 */
#ifndef TESSERA_COMMON_H
#define TESSERA_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TESS_VERSION_MAJOR 0
#define TESS_VERSION_MINOR 1
#define TESS_VERSION_PATCH 0
#define TESS_VERSION_STRING "0.1.0"

/** Return codes.  0 is success; every failure is negative. */
enum tess_error {
	TESS_OK = 0,
	TESS_EINVAL = -1,     /**< invalid argument: bad key, bad option, bad JSON */
	TESS_ENOTFOUND = -2,  /**< no such object, node, attribute or store */
	TESS_EEXISTS = -3,    /**< already exists (put-if-absent lost, init twice) */
	TESS_EIO = -4,        /**< the operating system or the server failed */
	TESS_ECORRUPT = -5,   /**< stored data is malformed */
	TESS_ENOTSUP = -6,    /**< the backend or format cannot do this */
	TESS_ECONFLICT = -7,  /**< the request conflicts with what is stored */
	TESS_ENOMEM = -8,     /**< out of memory */
	TESS_EAUTH = -9,      /**< credentials refused */
	TESS_EBUSY = -10,     /**< a lock could not be taken in time */
	TESS_EVERSION = -11,  /**< store written by a newer format version */
	TESS_EPERM = -12,     /**< refused: outside the store, symlink, reserved */
	TESS_ERANGE = -13,    /**< a byte range or index starts past the end */
	TESS_ITEROVER = -30,  /**< an iterator has no more items (not a failure) */
};

/**
 * Name of a return code ("not found", ...).  Never NULL; unknown codes give
 * "unknown error".  The string is static.
 */
const char *tess_strerror(int code);

/**
 * Detailed message of the last failure in this thread, for example
 * "blob 'a/b': read: Input/output error".  Empty string when none.  The
 * pointer stays valid until the next libtessera call in the same thread.
 */
const char *tess_errmsg(void);

/** Forget the last failure message of this thread. */
void tess_error_clear(void);

/** Free memory that libtessera returned through an out-parameter. NULL ok. */
void tess_free(void *ptr);

/** Library version as "MAJOR.MINOR.PATCH". */
const char *tess_version(void);

/**
 * Progress callback for long transfers: bytes done so far and the total when
 * known (0 when unknown).  Called from the thread that runs the operation.
 */
typedef void (*tess_progress_cb)(uint64_t done, uint64_t total, void *payload);

#ifdef __cplusplus
}
#endif
#endif
