/*
 * tessera.h - umbrella header of libtessera.
 *
 * Link with `pkg-config --libs tessera`.  One header per module lives in
 * include/tessera/; backend authors also include tessera/sys/backend.h.
 */
#ifndef TESSERA_H
#define TESSERA_H

#include "tessera/common.h"
#include "tessera/store.h"
#include "tessera/blob.h"
#include "tessera/attr.h"
#include "tessera/array.h"
#include "tessera/pyramid.h"

#endif
