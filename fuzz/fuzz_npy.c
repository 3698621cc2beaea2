/* Fuzz target: tess_npy_parse_header never crashes or reads past the input,
 * a header it accepts is consistent, and writing that dtype and C-order
 * shape gives a header that parses back to the same thing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_consistent(const tess_npy_header *h, size_t size)
{
	if (h->ndim < 0 || h->ndim > TESS_NPY_MAX_DIMS || h->data_offset > size ||
	    h->itemsize == 0 || memchr(h->descr, '\0', sizeof h->descr) == NULL ||
	    (h->fortran_order != 0 && h->fortran_order != 1))
		abort();
	/* data_size is the product, and it fits with the offset in 63 bits. */
	uint64_t bytes = h->itemsize;
	int empty = 0;
	for (int d = 0; d < h->ndim; d++) {
		if (h->shape[d] == 0)
			empty = 1;
		else if (__builtin_mul_overflow(bytes, h->shape[d], &bytes))
			abort();
	}
	if (h->data_size != (empty ? 0 : bytes) || h->data_size + h->data_offset > INT64_MAX)
		abort();
}

/* An in-memory file for the write side; created once. */
static int scratch_fd(void)
{
	static int fd = -1;
	if (fd < 0)
		fd = memfd_create("fuzz_npy", 0);
	return fd;
}

static void check_rewrite(const tess_npy_header *h)
{
	int fd = scratch_fd();
	if (fd < 0 || ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0)
		return;
	size_t len;
	if (tess_npy_write_header(fd, h->descr, h->ndim, h->shape, &len) != 0)
		abort();
	uint8_t buf[2048];
	if (len > sizeof buf || len % 64 != 0 || pread(fd, buf, len, 0) != (ssize_t)len)
		abort();
	tess_npy_header back;
	if (tess_npy_parse_header(&back, buf, len) != 0 || strcmp(back.descr, h->descr) != 0 ||
	    back.ndim != h->ndim || back.fortran_order != 0 || back.itemsize != h->itemsize ||
	    back.data_offset != len || back.data_size != h->data_size ||
	    memcmp(back.shape, h->shape, (size_t)h->ndim * sizeof h->shape[0]) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly `size` bytes, so that ASan sees any read past it. */
	uint8_t *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	if (size)
		memcpy(copy, data, size);
	tess_npy_header h;
	if (tess_npy_parse_header(&h, copy, size) == 0) {
		check_consistent(&h, size);
		check_rewrite(&h);
	}
	free(copy);
	return 0;
}
