#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, then build and run a program
# against the installed library the way another project would: pkg-config.
#   install_test.sh BUILD_DIR
set -euo pipefail
build=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
export PKG_CONFIG_PATH=$(dirname "$(find "$tmp/prefix" -name tessera.pc)")
cat > "$tmp/prog.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <tessera.h>
int main(int argc, char **argv)
{
	tess_store *st;
	if (tess_store_init(&st, argv[1], NULL)) { fprintf(stderr, "%s\n", tess_errmsg()); return 1; }
	if (tess_blob_put(st, "hello", "world", 5, 0)) { fprintf(stderr, "%s\n", tess_errmsg()); return 1; }
	void *p; size_t n;
	if (tess_blob_get(&p, &n, st, "hello") || n != 5 || memcmp(p, "world", 5)) return 1;
	tess_free(p);
	tess_store_close(st);
	printf("linked against tessera %s\n", tess_version());
	return 0;
}
C
cc -std=c11 "$tmp/prog.c" -o "$tmp/prog" $(pkg-config --cflags --libs tessera)
LD_LIBRARY_PATH=$(dirname "$(find "$tmp/prefix" -name 'libtessera.so' | head -1)") "$tmp/prog" "$tmp/store"
test -x "$tmp/prefix/bin/tess"
test -f "$tmp/prefix/include/tessera/sys/backend.h"
echo "1 passed, 0 failed"
