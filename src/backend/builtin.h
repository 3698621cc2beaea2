/* Internal: the backends compiled into libtessera. */
#ifndef TESS_BACKEND_BUILTIN_H
#define TESS_BACKEND_BUILTIN_H

#include "tessera/sys/backend.h"

extern const tess_backend_ops tess_backend_file_ops;
extern const tess_backend_ops tess_backend_mem_ops;
extern const tess_backend_ops tess_backend_lmdb_ops;
extern const tess_backend_ops tess_backend_s3_ops;

#endif
