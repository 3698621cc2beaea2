/*
 * Internal: NumPy .npy files (format versions 1.0, 2.0 and 3.0), for the CLI's
 * array import/export and for tests.
 *
 * Reading never trusts the header: the shape's element count times the
 * itemsize must match the data that follows (TESS_ECORRUPT otherwise), the
 * header length is bounded, and only plain dtypes are accepted (no object
 * arrays, no structured dtypes: TESS_ENOTSUP naming the descr).
 */
#ifndef TESS_UTIL_NPY_H
#define TESS_UTIL_NPY_H

#include <stddef.h>
#include <stdint.h>

#define TESS_NPY_MAX_DIMS 32

typedef struct tess_npy_header {
	char descr[32];        /**< NumPy typestring: "<f4", "|u1", ">i8", "<U10", "|S5", "|b1" */
	int fortran_order;     /**< 1 if the data is in Fortran (column-major) order */
	int ndim;
	uint64_t shape[TESS_NPY_MAX_DIMS];
	uint64_t data_offset;  /**< where the data starts in the file */
	uint64_t data_size;    /**< product(shape) * itemsize */
	uint32_t itemsize;
} tess_npy_header;

/**
 * Parse the header at the start of the file open on `fd` (read from offset 0;
 * the fd's position is left unspecified).  Checks that the file holds at
 * least data_size bytes after the header.  Errors: TESS_ECORRUPT (bad magic,
 * malformed header dict, size mismatch), TESS_ENOTSUP (dtype), TESS_EIO.
 */
int tess_npy_read_header(tess_npy_header *out, int fd, const char *path_for_messages);

/** Parse a header held in memory (for fuzzing and tests); `len` bytes at `buf`. */
int tess_npy_parse_header(tess_npy_header *out, const void *buf, size_t len);

/**
 * Write a v1.0 header (v2.0 if the dict does not fit in 65535 bytes) for
 * C-order data of `descr` and `shape` to fd, padded so data starts on a
 * 64-byte boundary as NumPy does.  *out_len (may be NULL) is the header size.
 */
int tess_npy_write_header(int fd, const char *descr, int ndim, const uint64_t *shape,
                          size_t *out_len);

#endif
