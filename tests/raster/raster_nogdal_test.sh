#!/usr/bin/env bash
# tess built without GDAL: the raster commands show their help and fail with
# one line that says why; the pyramid commands work.
#
#   raster_nogdal_test.sh TESS
set -euo pipefail

TESS=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tess-nogdal.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
unset TESS_STORE
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=99

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

"$TESS" init "$tmp/store" >/dev/null
for cmd in import export info; do
	"$TESS" raster $cmd --help | grep -q "^Usage: tess raster $cmd" || fail "raster $cmd --help"
	got=0
	"$TESS" --store "$tmp/store" raster $cmd dem x.tif 2>"$tmp/err" || got=$?
	[[ $got == 1 ]] || fail "raster $cmd exited $got, want 1"
	[[ $(cat "$tmp/err") == "tess: tess raster $cmd: tess was built without GDAL (install libgdal-dev and rebuild)" ]] ||
		fail "raster $cmd: $(cat "$tmp/err")"
done
"$TESS" --store "$tmp/store" pyramid create p --shape 40,30 --dtype float32 --chunks 16,16 ||
	fail "pyramid create"
"$TESS" --store "$tmp/store" pyramid info p | grep -q "^levels: *3 (chunks 16x16)" ||
	fail "pyramid info: $("$TESS" --store "$tmp/store" pyramid info p)"
"$TESS" --store "$tmp/store" pyramid update --full p | grep -q "^p: 0 dirty chunks" ||
	fail "pyramid update"
echo "raster_nogdal_test: all passed"
