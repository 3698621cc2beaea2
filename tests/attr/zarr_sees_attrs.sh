#!/usr/bin/env bash
# zarr-python (the peer) reads attributes Tessera wrote, and Tessera reads
# attributes zarr-python wrote, on a file store and on an LMDB store.
#   zarr_sees_attrs.sh PATH/TO/attr_tool
set -euo pipefail
tool=$1
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for kind in file lmdb; do
  if [[ $kind == file ]]; then url=$tmp/store; open="zarr.open_group('$tmp/store', mode='r')"
  else url=lmdb://$tmp/store.lmdb; open="zarr.open_group(zarr.LMDBStore('$tmp/store.lmdb', subdir=False), mode='r')"; fi
  "$tool" write "$url"
  $py - <<PY
import zarr, sys
g = $open
assert dict(g.attrs) == {"title": "Basin \u00e9", "n": 3, "f": 0.1}, dict(g.attrs)
sub = g["grp/sub"]
assert isinstance(sub, zarr.hierarchy.Group), type(sub)
assert dict(sub.attrs) == {"list": [1, 2.5, None, True]}, dict(sub.attrs)
# zarr-python writes attributes; Tessera must read them back below
PY
  if [[ $kind == file ]]; then
    $py -c "import zarr; g = zarr.open_group('$tmp/store', mode='a'); g.attrs['from_zarr'] = {'k': [1, 'two']}; g.create_group('zg').attrs['x'] = 1.5"
    "$tool" check "$url"
  fi
  rm -rf "$tmp"/*
done
echo "1 passed, 0 failed"
