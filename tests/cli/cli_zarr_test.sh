#!/usr/bin/env bash
# zarr-python opens a store made by `tess init` and sees attributes set with
# `tess attr set` on the root and on a group created by it.
#
#   cli_zarr_test.sh TESS [PYTHON]
set -euo pipefail

TESS=$1
PY=${2:-/usr/bin/python3}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tess-cli-zarr.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
store=$tmp/store
unset TESS_STORE
# Under the sanitizers a leak or error must not pass for an expected exit 1.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=99
export UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=99

"$TESS" init "$store" >/dev/null
"$TESS" --store "$store" attr set / title '"Basin study"'
"$TESS" --store "$store" attr set / dt 0.1
"$TESS" --store "$store" attr set grp/sub n 5
"$TESS" --store "$store" attr set grp/sub tags '["a", "b"]'

"$PY" - "$store" <<'PY'
import sys
import zarr

root = zarr.open_group(sys.argv[1], mode="r")
assert dict(root.attrs) == {"title": "Basin study", "dt": 0.1}, dict(root.attrs)
sub = root["grp/sub"]
assert isinstance(sub, zarr.hierarchy.Group), type(sub)
assert dict(sub.attrs) == {"n": 5, "tags": ["a", "b"]}, dict(sub.attrs)
assert isinstance(root["grp"], zarr.hierarchy.Group)
PY

echo "PASS cli zarr"
