#!/usr/bin/env bash
# End-to-end test of `tess array` (create, import, export, write, info,
# consolidate) and of the array entries of `tess ls`, checked against NumPy
# and zarr-python.
#
#   array_cli_test.sh TESS [PYTHON]
set -euo pipefail

TESS=$1
PY=${2:-/usr/bin/python3}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tess-array-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
store=$tmp/store
in=$tmp/in
out=$tmp/out
mkdir "$in" "$out"
unset TESS_STORE TESS_CLI_BLOCK_BYTES
# Under the sanitizers a leak or error must not pass for an expected exit 1.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=99
export UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=99

step() { echo "--- $*"; }
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# expect CODE CMD...: run CMD with stdout in $tmp/stdout and stderr in
# $tmp/stderr and check its exit status.
expect() {
	local want=$1 got=0
	shift
	"$@" >"$tmp/stdout" 2>"$tmp/stderr" || got=$?
	[[ $got == "$want" ]] ||
		fail "'$*' exited $got, want $want; stderr: $(cat "$tmp/stderr")"
}
err_has() { grep -qF -- "$1" "$tmp/stderr" || fail "stderr lacks '$1': $(cat "$tmp/stderr")"; }
out_has() { grep -qxF -- "$1" "$tmp/stdout" || fail "stdout lacks line '$1': $(cat "$tmp/stdout")"; }
one_err_line() {
	[[ $(wc -l <"$tmp/stderr") == 1 ]] || fail "want one line on stderr, got: $(cat "$tmp/stderr")"
	grep -q '^tess: ' "$tmp/stderr" || fail "stderr does not start with 'tess: ': $(cat "$tmp/stderr")"
}
t() { "$TESS" --store "$store" "$@"; }
py() { "$PY" - "$@"; }

"$TESS" init "$store" >/dev/null

step "help"
for cmd in array "array create" "array import" "array export" "array write" "array info" \
	"array consolidate"; do
	# shellcheck disable=SC2086
	expect 0 "$TESS" $cmd --help
	grep -q "^Usage: tess $cmd" "$tmp/stdout" || fail "$cmd --help: $(cat "$tmp/stdout")"
done
for cmd in create import export write info; do
	expect 0 "$TESS" help array $cmd
	grep -q '^Examples:' "$tmp/stdout" || fail "array $cmd --help has no examples"
done
expect 0 "$TESS" --help
grep -q '^  array ' "$tmp/stdout" || fail "tess --help does not list array"

step "create, info"
expect 0 t array create grp/a --shape 50,60 --chunks 16,25 --dtype '<i4' --fill 7 --codec zstd:3
expect 0 t array info grp/a
out_has "path:          grp/a"
out_has "shape:         (50, 60)"
out_has "chunks:        (16, 25)"
out_has "dtype:         <i4"
out_has "fill value:    7"
out_has "grid:          4x3 = 12 chunks"
grep -q '^compressor: .*"id":"zstd"' "$tmp/stdout" || fail "info compressor: $(cat "$tmp/stdout")"
expect 0 t array info --json grp/a
py "$tmp/stdout" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
assert o["shape"] == [50, 60] and o["chunks"] == [16, 25], o
assert o["dtype"] == "<i4" and o["fill_value"] == 7 and o["order"] == "C", o
assert o["zarr_format"] == 2 and o["nchunks"] == 12 and o["shard"] is None, o
assert o["compressor"]["id"] == "zstd" and o["compressor"]["level"] == 3, o
assert o["filters"] is None and o["dimension_separator"] == ".", o
PY

step "write a block, export, compare with NumPy and zarr-python"
py "$in" <<'PY'
import numpy as np, sys
d = sys.argv[1]
np.save(d + "/blk.npy", np.arange(10 * 20, dtype="<i4").reshape(10, 20) - 100)
np.save(d + "/blk_f8.npy", np.zeros((10, 20), "<f8"))
np.save(d + "/blk_3d.npy", np.zeros((2, 2, 2), "<i4"))
np.save(d + "/blk_be.npy", (np.arange(6, dtype=">i4") * 1000).reshape(2, 3))
np.save(d + "/blk_f.npy", np.asfortranarray(np.arange(9 * 13, dtype="<i4").reshape(9, 13)))
PY
expect 0 t array write grp/a "$in/blk.npy" --at 5,30
expect 0 t array write grp/a "$in/blk_be.npy" --at 48,0 # byte order is not a conversion
expect 0 t array export grp/a "$out/a.npy"
# In blocks smaller than a chunk-row, off the chunk grid, and from Fortran order.
expect 0 t array create grp/b --shape 50,60 --chunks 16,25 --dtype int32 --fill 7
TESS_CLI_BLOCK_BYTES=64 expect 0 t array write grp/b "$in/blk.npy" --at 5,30
TESS_CLI_BLOCK_BYTES=200 expect 0 t array write grp/b "$in/blk_f.npy" --at 20,3
py "$out/a.npy" "$store" <<'PY'
import numpy as np, sys, zarr
want = np.full((50, 60), 7, "<i4")
want[5:15, 30:50] = np.arange(200).reshape(10, 20) - 100
want[48:50, 0:3] = np.arange(6).reshape(2, 3) * 1000
got = np.load(sys.argv[1])
assert got.dtype == np.dtype("<i4") and np.array_equal(got, want), got
z = zarr.open(sys.argv[2] + "/grp/a", mode="r")
assert np.array_equal(z[...], want)
want[48:50, 0:3] = 7
want[20:29, 3:16] = np.arange(9 * 13).reshape(9, 13)
assert np.array_equal(zarr.open(sys.argv[2] + "/grp/b", mode="r")[...], want)
PY

step "import / export round trips over dtypes and shapes"
# NAME DTYPE SHAPE CHUNKS: files written by numpy.save
cat >"$tmp/cases" <<'EOF'
f4 <f4 37,41 10,10
i8 <i8 1000 300
u2be >u2 7,9,11 3,4,5
bool |b1 13,17 5,5
c8 <c8 20 6
s5 |S5 11,3 4,2
u3 <U3 6,7 4,4
f8c <f8 64 64
tiny <f4 2,3 10,10
scalar <f8 _ _
empty <i2 0,5 2,2
EOF
py "$in" "$tmp/cases" <<'PY'
import numpy as np, sys
d = sys.argv[1]
rng = np.random.default_rng(7)
for line in open(sys.argv[2]):
    name, dt, shape, _ = line.split()
    shape = () if shape == "_" else tuple(int(x) for x in shape.split(","))
    dt = np.dtype(dt)
    n = int(np.prod(shape))
    if dt.kind == "b":
        a = rng.integers(0, 2, n).astype(bool)
    elif dt.kind == "S":
        a = np.array([b"ab%03d" % (i % 1000) for i in range(n)], dt)
    elif dt.kind == "U":
        a = np.array(["x%d\u00e9" % (i % 10) for i in range(n)], dt)
    elif dt.kind == "c":
        a = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(dt)
    elif dt.kind == "f":
        a = rng.standard_normal(n).astype(dt)
    else:
        a = rng.integers(0, 60000 if dt.kind == "u" else 1 << 40, n).astype(dt)
    np.save("%s/%s.npy" % (d, name), a.reshape(shape))
# Fortran order, 3-d, and a big-endian one
a = np.asfortranarray(rng.standard_normal((10, 12, 14)))
np.save(d + "/fort.npy", a)
np.save(d + "/fort_be.npy", np.asfortranarray(np.arange(5 * 6, dtype=">i4").reshape(5, 6)))
PY
while read -r name dt shape chunks; do
	args=()
	[[ $chunks != _ ]] && args=(--chunks "$chunks")
	[[ $chunks == _ ]] && args=(--chunks "")
	expect 0 t array import "imp/$name" "$in/$name.npy" "${args[@]}"
	expect 0 t array export "imp/$name" "$out/$name.npy"
	# The export of a C-order file is the same file, byte for byte.
	cmp -s "$in/$name.npy" "$out/$name.npy" || fail "export of $name ($dt $shape) differs from its import"
done <"$tmp/cases"
declare -A chunks_of=([fort]="3,5,4" [fort_be]="2,4" [f4]="4,3" [u2be]="4,3,5")
for name in fort fort_be; do
	expect 0 t array import "imp/$name" "$in/$name.npy" --chunks "${chunks_of[$name]}"
	expect 0 t array export "imp/$name" "$out/$name.npy"
done
# In small blocks: tiles of chunk-rows, of single chunks, then blocks smaller
# than a chunk on export (F order too).
for budget in 900 300 8; do
	for name in f4 u2be fort; do
		TESS_CLI_BLOCK_BYTES=$budget expect 0 t array import "small$budget/$name" "$in/$name.npy" \
			--chunks "${chunks_of[$name]}"
		TESS_CLI_BLOCK_BYTES=$budget expect 0 t array export "small$budget/$name" \
			"$out/$name.$budget.npy"
	done
done
py "$in" "$out" "$store" "$tmp/cases" <<'PY'
import numpy as np, sys, zarr
d_in, d_out, store = sys.argv[1:4]
names = [line.split()[0] for line in open(sys.argv[4])] + ["fort", "fort_be"]
for name in names:
    a = np.load("%s/%s.npy" % (d_in, name))
    b = np.load("%s/%s.npy" % (d_out, name))
    assert a.dtype == b.dtype and a.shape == b.shape, (name, a.dtype, b.dtype, a.shape, b.shape)
    assert np.array_equal(a, b), name
    assert b.flags.c_contiguous
    z = zarr.open("%s/imp/%s" % (store, name), mode="r")
    assert z.dtype == a.dtype and z.shape == a.shape, (name, z.dtype, z.shape)
    assert np.array_equal(z[...], a), name
for budget in (900, 300, 8):
    for name in ("f4", "u2be", "fort"):
        a = np.load("%s/%s.npy" % (d_in, name))
        b = np.load("%s/%s.%d.npy" % (d_out, name, budget))
        assert a.dtype == b.dtype and np.array_equal(a, b), (name, budget)
        z = zarr.open("%s/small%d/%s" % (store, budget, name), mode="r")
        assert np.array_equal(z[...], a), (name, budget)
PY

step "import without --chunks chunks like zarr-python"
expect 0 t array import auto/i8 "$in/i8.npy"
expect 0 t array import auto/fort "$in/fort.npy"
py "$store" <<'PY'
import sys, zarr
from zarr.util import guess_chunks
for name, shape, size in (("i8", (1000,), 8), ("fort", (10, 12, 14), 8)):
    z = zarr.open(sys.argv[1] + "/auto/" + name, mode="r")
    assert z.chunks == guess_chunks(shape, size), (name, z.chunks)
PY

step "region export"
expect 0 t array export imp/f4 "$out/r1.npy" --region 3:20,-10:
expect 0 t array export imp/f4 "$out/r2.npy" --region :5
expect 0 t array export imp/u2be "$out/r3.npy" --region 1:6,:,-3:-1
expect 0 t array export imp/f4 "$out/r4.npy" --region 7:7,:
TESS_CLI_BLOCK_BYTES=40 expect 0 t array export imp/u2be "$out/r5.npy" --region 2:7,1:8,3:
t array export imp/f4 - --region 1:2,4:9 >"$out/r6.npy"
py "$in" "$out" <<'PY'
import numpy as np, sys
d_in, d_out = sys.argv[1:3]
f4 = np.load(d_in + "/f4.npy")
u2 = np.load(d_in + "/u2be.npy")
for name, want in (("r1", f4[3:20, -10:]), ("r2", f4[:5]), ("r3", u2[1:6, :, -3:-1]),
                   ("r4", f4[7:7, :]), ("r5", u2[2:7, 1:8, 3:]), ("r6", f4[1:2, 4:9])):
    got = np.load("%s/%s.npy" % (d_out, name))
    assert got.dtype == want.dtype and got.shape == want.shape, (name, got.shape, want.shape)
    assert np.array_equal(got, want), name
PY

step "fill values"
expect 0 t array create fill/nan --shape 5,5 --chunks 2,2 --dtype float32 --fill NaN
expect 0 t array create fill/ninf --shape 5 --chunks 2 --dtype '>f8' --fill -Infinity
expect 0 t array create fill/bool --shape 3 --chunks 2 --dtype bool --fill true
expect 0 t array export fill/nan "$out/nan.npy"
expect 0 t array export fill/ninf "$out/ninf.npy"
expect 0 t array export fill/bool "$out/bool.npy"
py "$out" "$store" <<'PY'
import numpy as np, sys, zarr
d, store = sys.argv[1:3]
assert np.isnan(np.load(d + "/nan.npy")).all()
a = np.load(d + "/ninf.npy")
assert a.dtype == np.dtype(">f8") and (a == -np.inf).all(), a
assert np.load(d + "/bool.npy").all()
assert np.isnan(zarr.open(store + "/fill/nan", mode="r").fill_value)
PY
# A uint64 fill value past INT64_MAX, as zarr-python writes it: JSON that
# jansson cannot load as is.
u64store=$tmp/store-u64
"$TESS" init "$u64store" >/dev/null
py "$u64store" <<'PY'
import sys, zarr
z = zarr.open(sys.argv[1] + "/fill/u64", mode="w", shape=(3,), chunks=(2,), dtype="<u8",
              fill_value=2**64 - 1)
z[0] = 5
PY
expect 0 "$TESS" --store "$u64store" array info fill/u64
out_has "fill value:    18446744073709551615"
expect 0 "$TESS" --store "$u64store" array info --json fill/u64
py "$tmp/stdout" <<'PY'
import json, sys
assert json.load(open(sys.argv[1]))["fill_value"] == 2**64 - 1
PY
expect 0 "$TESS" --store "$u64store" ls fill
out_has "fill/u64/  [3 <u8]"
expect 0 "$TESS" --store "$u64store" array export fill/u64 "$out/u64.npy"
py "$out/u64.npy" <<'PY'
import numpy as np, sys
assert np.load(sys.argv[1]).tolist() == [5, 2**64 - 1, 2**64 - 1]
PY
expect 0 "$TESS" --store "$u64store" array create fill/ours --shape 4 --chunks 2 --dtype uint64 \
	--fill 18446744073709551615
expect 0 "$TESS" --store "$u64store" array consolidate
py "$u64store" <<'PY'
import sys, zarr
root = zarr.open_consolidated(sys.argv[1], mode="r")
assert root["fill/ours"].fill_value == 2**64 - 1, root["fill/ours"].fill_value
assert root["fill/u64"][:].tolist() == [5, 2**64 - 1, 2**64 - 1]
PY

step "zarr format 3 and sharding"
expect 0 t array import v3/f4 "$in/f4.npy" --zarr-format 3 --chunks 5,5 --shard 10,20
expect 0 t array export v3/f4 "$out/v3f4.npy"
cmp -s "$in/f4.npy" "$out/v3f4.npy" || fail "v3 sharded round trip differs"
TESS_CLI_BLOCK_BYTES=500 expect 0 t array import v3/fort "$in/fort.npy" --zarr-format 3 --chunks 2,3,4 --shard 4,6,8 --order F
TESS_CLI_BLOCK_BYTES=500 expect 0 t array export v3/fort "$out/v3fort.npy"
expect 0 t array import v3/u2be "$in/u2be.npy" --zarr-format 3 --chunks 3,4,5
expect 0 t array export v3/u2be "$out/v3u2be.npy"
expect 0 t array create v3/b --shape 40,50 --chunks 5,5 --shard 10,25 --dtype uint16 \
	--zarr-format 3 --codec zstd:3 --dimension-names y,x --fill 9
py "$in" <<'PY'
import numpy as np, sys
np.save(sys.argv[1] + "/blk_u2.npy", np.arange(12 * 30, dtype="<u2").reshape(12, 30))
PY
expect 0 t array write v3/b "$in/blk_u2.npy" --at 8,20
expect 0 t array export v3/b "$out/v3b.npy" --region 5:25,15:
expect 0 t array info v3/b
out_has "shard:         (10, 25)"
out_has "chunks:        (5, 5)"
out_has "grid:          8x10 = 80 chunks in 8 shards"
out_has 'dim names:     ["y","x"]'
expect 0 t array info --json v3/b
py "$in" "$out" "$store" "$tmp/stdout" <<'PY'
import json, numpy as np, sys
d_in, d_out, store, info = sys.argv[1:5]
a = np.load(d_in + "/fort.npy")
b = np.load(d_out + "/v3fort.npy")
assert a.dtype == b.dtype and np.array_equal(a, b)
u2 = np.load(d_in + "/u2be.npy")
b = np.load(d_out + "/v3u2be.npy")
# v3 data types have no byte order: the data reads back little endian
assert b.dtype == np.dtype("<u2") and np.array_equal(u2, b)
meta = json.load(open(store + "/v3/u2be/zarr.json"))
assert meta["data_type"] == "uint16", meta
assert meta["codecs"][0] == {"name": "bytes", "configuration": {"endian": "big"}}, meta["codecs"]
want = np.full((40, 50), 9, "<u2")
want[8:20, 20:50] = np.arange(360).reshape(12, 30)
got = np.load(d_out + "/v3b.npy")
assert got.dtype == np.dtype("<u2") and np.array_equal(got, want[5:25, 15:])
meta = json.load(open(store + "/v3/b/zarr.json"))
assert meta["node_type"] == "array" and meta["dimension_names"] == ["y", "x"], meta
assert meta["codecs"][0]["name"] == "sharding_indexed", meta
o = json.load(open(info))
assert o["zarr_format"] == 3 and o["shard"] == [10, 25] and o["chunks"] == [5, 5], o
assert o["nshards"] == 8 and o["nchunks"] == 80 and o["data_type"] == "uint16", o
assert o["dtype"] == "<u2" and o["fill_value"] == 9 and o["order"] == "C", o
PY

step "ls shows arrays"
expect 0 t ls grp
out_has "grp/a/  [50x60 <i4]"
out_has "grp/b/  [50x60 <i4]"
expect 0 t ls grp/a
out_has "grp/a/  [50x60 <i4]"
[[ $(wc -l <"$tmp/stdout") == 1 ]] || fail "ls of an array descends into it: $(cat "$tmp/stdout")"
expect 0 t ls v3
out_has "v3/b/  [40x50 <u2]"
expect 0 t ls -l imp
grep -qE '^ +-  -  +imp/scalar/  \[\(\) <f8\]$' "$tmp/stdout" || fail "ls -l: $(cat "$tmp/stdout")"
expect 0 t ls -r grp/a
out_has "grp/a/0.1"
expect 0 t ls --json v3
py "$tmp/stdout" <<'PY'
import json, sys
entries = {e["key"]: e for e in json.load(open(sys.argv[1]))}
b = entries["v3/b/"]
assert b["type"] == "prefix", b
assert b["array"] == {"shape": [40, 50], "dtype": "<u2", "chunks": [5, 5], "shard": [10, 25]}, b
f4 = entries["v3/f4/"]["array"]
assert f4["shape"] == [37, 41] and f4["dtype"] == "<f4", f4
PY
expect 0 t ls
out_has "grp/"

step "consolidate"
expect 0 t array consolidate
py "$store" <<'PY'
import numpy as np, sys, zarr
root = zarr.open_consolidated(sys.argv[1], mode="r")
assert root["grp/a"].shape == (50, 60)
assert root["imp/f4"].dtype == np.dtype("<f4")
PY

step "bad inputs"
printf 'not a numpy file\n' >"$in/text.npy"
expect 1 t array write grp/a "$in/blk_f8.npy" --at 0,0
one_err_line
err_has "array write 'grp/a'"
err_has "<f8"
expect 1 t array write grp/a "$in/blk.npy" --at 45,0
one_err_line
err_has "does not fit"
expect 1 t array write grp/a "$in/blk.npy" --at 0,41
err_has "does not fit"
expect 1 t array write grp/a "$in/blk_3d.npy"
err_has "3 dimensions"
expect 1 t array write grp/a "$in/blk.npy" --at 1,2,3
err_has "--at has 3 values"
expect 1 t array write nothere "$in/blk.npy"
one_err_line
err_has "nothere"
expect 1 t array export imp/f4 "$out/bad.npy" --region 0:999
one_err_line
err_has "outside the shape"
expect 1 t array export imp/f4 "$out/bad.npy" --region 5:2
err_has "after its stop"
expect 1 t array export imp/f4 "$out/bad.npy" --region :,:,:
err_has "3 axes"
[[ ! -e $out/bad.npy ]] || fail "a failed export left $out/bad.npy"
expect 2 t array export imp/f4 "$out/bad.npy" --region 1-2
err_has "--region"
expect 2 t array export imp/f4 "$out/bad.npy" --region 0:5:2
expect 1 t array export imp/f4 "$tmp/no/such/dir/x.npy"
one_err_line
expect 1 t array import bad/missing "$in/missing.npy"
one_err_line
err_has "missing.npy"
expect 1 t array import bad/text "$in/text.npy"
one_err_line
err_has "text.npy"
expect 1 t array import bad/dir "$in"
one_err_line
expect 1 t array import bad/dtype "$in/f4.npy" --dtype float64
one_err_line
err_has "import does not convert"
expect 1 t array info bad/dtype # refused before anything was created
expect 1 t array import grp/a "$in/f4.npy"
one_err_line
err_has "grp/a"
expect 0 t array info grp/a # a failed import leaves an array it did not create alone
expect 1 t array create grp/a --shape 5 --dtype f4
one_err_line
expect 1 t array info nothere
one_err_line
expect 1 t array info grp
err_has "group"
expect 1 t array create bad/s --shape 10 --dtype '|S3' --zarr-format 3
one_err_line
expect 2 t array create bad/x --dtype f4
err_has "--shape is required"
expect 2 t array create bad/x --shape 10 --dtype float99
err_has "float99"
expect 2 t array create bad/x --shape 10,10 --chunks 5 --dtype f4
err_has "--chunks has 1 values for 2 dimensions"
expect 2 t array create bad/x --shape 10 --dtype f4 --shard 5
err_has "--shard needs --zarr-format 3"
expect 2 t array create bad/x --shape 10 --dtype f4 --fill nope
err_has "--fill"
expect 2 t array create bad/x --shape 10 --dtype f4 --order X
expect 2 t array create bad/x --shape 1x2 --dtype f4
expect 2 t array create bad/x --shape 10 --dtype f4 --zarr-format 4
expect 2 t array export imp/f4 - --json
expect 2 t array info
expect 2 t array nosuch
for f in "$out"/.*.tess-*; do
	[[ -e $f ]] && fail "temporary file left: $f"
done

echo "PASS array cli"
