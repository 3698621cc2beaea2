#!/usr/bin/env bash
# End-to-end test of `tess raster` (import, export, info) and `tess pyramid`
# (create, info, update) on GeoTIFFs made and checked with GDAL's Python
# bindings (tests/raster/raster_peer.py).
#
#   raster_test.sh TESS [PYTHON]
set -euo pipefail

TESS=$1
PY=${2:-/usr/bin/python3}
HERE=$(cd "$(dirname "$0")" && pwd)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tess-raster.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
store=$tmp/store
in=$tmp/in
out=$tmp/out
mkdir "$in" "$out"
unset TESS_STORE TESS_RASTER_BLOCK_BYTES
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=99
export UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=99

step() { echo "--- $*"; }
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
expect() {
	local want=$1 got=0
	shift
	"$@" >"$tmp/stdout" 2>"$tmp/stderr" || got=$?
	[[ $got == "$want" ]] ||
		fail "'$*' exited $got, want $want; stderr: $(cat "$tmp/stderr")"
}
err_has() { grep -qF -- "$1" "$tmp/stderr" || fail "stderr lacks '$1': $(cat "$tmp/stderr")"; }
out_has() { grep -qF -- "$1" "$tmp/stdout" || fail "stdout lacks '$1': $(cat "$tmp/stdout")"; }
one_err_line() {
	[[ $(wc -l <"$tmp/stderr") == 1 ]] || fail "want one line on stderr, got: $(cat "$tmp/stderr")"
	grep -q '^tess: ' "$tmp/stderr" || fail "stderr does not start with 'tess: ': $(cat "$tmp/stderr")"
}
t() { "$TESS" --store "$store" "$@"; }
peer() { "$PY" "$HERE/raster_peer.py" "$@" || fail "check '$1' failed"; }
# chunks_of ROWS COLS R0 C0 TILE: chunks a block at (R0, C0) touches
chunks_of() { echo $(((($3 + $1 - 1) / $5 - $3 / $5 + 1) * (($4 + $2 - 1) / $5 - $4 / $5 + 1))); }
# dirty N: `tess pyramid info --json` (in $tmp/stdout) says N dirty chunks
dirty() {
	grep -qF "\"dirty\": $1," "$tmp/stdout" || fail "want $1 dirty chunks: $(cat "$tmp/stdout")"
}

"$TESS" init "$store" >/dev/null
peer make "$in"

step "help"
for cmd in raster "raster import" "raster export" "raster info" pyramid "pyramid create" \
	"pyramid info" "pyramid update"; do
	# shellcheck disable=SC2086
	expect 0 "$TESS" $cmd --help
	grep -q "^Usage: tess $cmd" "$tmp/stdout" || fail "$cmd --help: $(cat "$tmp/stdout")"
done
expect 0 "$TESS" --help
grep -q '^  raster ' "$tmp/stdout" || fail "tess --help does not list raster"
grep -q '^  pyramid ' "$tmp/stdout" || fail "tess --help does not list pyramid"

step "import a.tif (many small blocks), export, round trip"
# 256-cell tiles and 600 kB blocks: the import runs in runs of two chunks.
expect 0 env TESS_RASTER_BLOCK_BYTES=600000 "$TESS" --store "$store" \
	raster import dem "$in/a.tif" --tile 256 --json
"$PY" - "$tmp/stdout" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
assert o["created"] and o["at"] == [0, 0] and o["count"] == [777, 1037], o
assert o["shape"] == [777, 1037] and o["levels"] == 4, o   # 1037 -> 519 -> 260 -> 130
assert o["dirty"] == 4 * 5 and o["update"]["dirty"] == 20, o
PY
expect 0 env TESS_RASTER_BLOCK_BYTES=600000 "$TESS" --store "$store" \
	raster export dem "$out/a.tif"
peer same "$in/a.tif" "$out/a.tif"
peer tiled_deflate "$out/a.tif" 256

step "pyramid info, raster info"
expect 0 t pyramid info dem
out_has "levels:          4 (chunks 256x256)"
out_has "nodata:          -9999"
out_has "crs:             EPSG:32633 (WGS 84 / UTM zone 33N)"
out_has "transform:       300000, 10, 0, 5000000, 0, -10"
out_has "dirty chunks:    0"
expect 0 t pyramid info --json dem
"$PY" - "$tmp/stdout" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
assert o["crs"] == "EPSG:32633" and o["nodata"] == -9999 and o["dirty"] == 0, o
assert o["transform"] == [300000, 10, 0, 5000000, 0, -10], o
assert [d["name"] for d in o["dims"]] == ["y", "x"], o
assert [d["agg"] for d in o["dims"]] == ["mean", "mean"], o
assert [l["shape"] for l in o["levels"]] == [[777, 1037], [389, 519], [195, 260], [98, 130]], o
assert o["chunks"] == [256, 256] and o["levels"][0]["nchunks"] == 20, o
PY
expect 0 t raster info dem
out_has "size:          1037 x 777 pixels, 1 band, <f4"
out_has "pixel size:    10, -10"
out_has "extent:        300000, 4992230 .. 310370, 5000000"
expect 0 t raster info --json dem
"$PY" - "$tmp/stdout" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
assert o["width"] == 1037 and o["height"] == 777 and o["bands"] == 1, o
assert o["extent"] == [300000, 4992230, 310370, 5000000], o
assert o["data_bounds"] == o["extent"], o
assert o["levels"][3]["pixel_size"] == [80, -80], o
PY
expect 0 t raster info --file "$in/m.tif" --json
"$PY" - "$tmp/stdout" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
assert o["driver"] == "GTiff" and o["bands"] == 3 and o["dtype"] == "<u2", o
assert o["crs"] == "EPSG:4326" and o["nodata"] == 0 and o["block"] == [128, 128], o
PY

step "mosaic c.tif over a: only its chunks dirty; nodata keeps what is there"
expect 0 t raster import dem "$in/c.tif" --no-update --json
"$PY" - "$tmp/stdout" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
assert not o["created"] and o["at"] == [100, 200] and o["update"] is None, o
PY
want=$(chunks_of 200 300 100 200 256)
expect 0 t pyramid info --json dem
dirty "$want"

step "mosaic b.tif to the right: the pyramid grows, only b's chunks dirty"
expect 0 t raster import dem "$in/b.tif" --no-update -v
err_has "raster import 'dem': $in/b.tif, 515 x 777 pixels at row 0, column 1037 of level 0 (mosaicked; now 1552 x 777, 4 levels)"
# b's chunks, plus c's still waiting (they do not overlap)
want=$(($(chunks_of 777 515 0 1037 256) + want))
expect 0 t pyramid info --json dem
dirty "$want"
peer mosaic "$store" dem "$in"

step "update, then a full rebuild gives the same levels"
expect 0 t pyramid update dem
grep -q "^dem: $want dirty chunks, [0-9]* coarse chunks recomputed in" "$tmp/stdout" ||
	fail "update output: $(cat "$tmp/stdout")"
expect 0 t pyramid info --json dem
dirty 0
peer snapshot "$store" dem "$tmp/incremental.npz"
expect 0 t pyramid update --full --json dem
out_has '"full": true'
peer same_levels "$store" dem "$tmp/incremental.npz"

step "export --bbox --size: average from the level that matches, nearest at level 0"
# 512 x 512 level-0 cells from row 256, column 512, at 128 x 128: level 2
expect 0 t raster export dem "$out/avg.tif" --bbox 305120,4992320,310240,4997440 \
	--size 128,128 --resample average --json
out_has '"level": 2'
peer bbox_average "$store" dem "$out/avg.tif" 512 256 512 4
# the same in strips of 19 rows (small blocks): the same pixels
expect 0 env TESS_RASTER_BLOCK_BYTES=10000 "$TESS" --store "$store" raster export dem \
	"$out/avg_strips.tif" --bbox 305120,4992320,310240,4997440 --size 128,128 --resample average
peer same "$out/avg.tif" "$out/avg_strips.tif"
# a box reaching 100 cells left of the data: nodata there, level 0 after
expect 0 t raster export dem "$out/outside.tif" --bbox 299000,4997000,301100,4997500 \
	--resample nearest
peer outside "$store" dem "$out/outside.tif" 100 250 110 50
# 100 x 50 cells at level 0's resolution (no --size): level 0 exactly
expect 0 t raster export dem "$out/near.tif" --bbox 300100,4997000,301100,4997500 \
	--resample nearest
peer bbox_nearest "$store" dem "$out/near.tif" 10 250 100 50
expect 0 t raster export dem "$out/l2.tif" --level 2 --json
out_has '"exact": true'
out_has '"transform": [300000, 40, 0, 5000000, 0, -40]'

step "multi-band uint16: (band, y, x), band carried through"
expect 0 t raster import rgb "$in/m.tif" --tile 128 --codec zstd:3
expect 0 t pyramid info --json rgb
"$PY" - "$tmp/stdout" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
assert [d["name"] for d in o["dims"]] == ["band", "y", "x"], o
assert [d["agg"] for d in o["dims"]] == ["none", "mean", "mean"], o
assert o["chunks"] == [1, 128, 128] and o["crs"] == "EPSG:4326", o
PY
peer multiband "$store" rgb "$in"
expect 0 t raster export rgb "$out/m.tif"
peer same "$in/m.tif" "$out/m.tif"

step "Zarr v3 levels: the same round trip"
expect 0 t raster import dem3 "$in/a.tif" --zarr-format 3 --tile 200
expect 0 t pyramid info --json dem3
out_has '"zarr_format": 3'
expect 0 t raster export dem3 "$out/a3.tif"
peer same "$in/a.tif" "$out/a3.tif"

step "--extent: room to the left for a later raster"
expect 0 t raster import ext "$in/a.tif" --extent 299000,4990000,311000,5000000 --no-update
expect 0 t raster import ext "$in/left.tif" --json
out_has '"at": [0, 50]'

step "tess array write to level 0 marks dirty; level 1 is refused"
expect 0 t array write dem/0 "$in/patch.npy" --at 300,300
expect 0 t pyramid info --json dem
dirty 1
expect 1 t array write dem/1 "$in/patch.npy" --at 0,0
one_err_line
err_has "writes go to level 0; level 1 is derived"
expect 0 t pyramid update dem
out_has "dem: 1 dirty chunk,"

step "wrong inputs: one line, exit 1"
expect 1 t raster import dem "$in/missing.tif"
one_err_line
err_has "no such file"
expect 1 t raster import dem "$in/not_a_raster.tif"
one_err_line
err_has "not a raster GDAL can read"
expect 1 t raster import dem "$in/wgs84.tif"
one_err_line
err_has "EPSG:4326 (WGS 84), is not the pyramid's, EPSG:32633"
expect 1 t raster import dem "$in/half.tif"
one_err_line
err_has "is not on the pyramid's grid"
expect 1 t raster import dem "$in/left.tif"
one_err_line
err_has "starts 50 cells left of the pyramid; pyramids grow only toward higher indices"
expect 1 t raster import dem "$in/coarse.tif"
one_err_line
err_has "is not the pyramid's, 10 x -10"
expect 1 t raster import dem "$in/f64.tif"
one_err_line
err_has "is <f8, the pyramid <f4"
expect 1 t raster import dem "$in/m.tif"
one_err_line
err_has "has 3 bands, the pyramid 1"
expect 1 t raster export nothing "$out/x.tif"
one_err_line
err_has "no pyramid there"
expect 1 t raster export dem "$out/x.tif" --level 9
err_has "no level 9"
expect 1 t raster export dem "$out/nodir/x.tif"
one_err_line
[[ ! -e "$out/nodir" ]] || fail "export created a directory"
expect 2 t raster export dem "$out/x.tif" --bbox 1,2,3
err_has "--bbox '1,2,3': expected MINX,MINY,MAXX,MAXY"
expect 2 t raster import dem "$in/a.tif" --agg median
expect 1 t pyramid info nothing
err_has "no pyramid there"
ls "$out" | grep -q tmp && fail "an export left a temporary file: $(ls "$out")"

step "pyramid create"
expect 0 t pyramid create grid --shape 100,60 --dtype uint8 --agg mode --chunks 32,32 \
	--origin 10,0 --step -1,1 --nodata 255 --crs EPSG:4326
expect 0 t pyramid info --json grid
"$PY" - "$tmp/stdout" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
assert o["dtype"] == "|u1" and o["nodata"] == 255 and o["crs"] == "EPSG:4326", o
assert [d["agg"] for d in o["dims"]] == ["mode", "mode"], o
assert [l["shape"] for l in o["levels"]] == [[100, 60], [50, 30], [25, 15]], o
PY
expect 1 t pyramid create grid --shape 10,10 --dtype uint8
expect 2 t pyramid create grid2 --shape 10,10
echo "raster_test: all passed"
