#!/usr/bin/python3
"""LMDB layout interop between Tessera's lmdb backend and zarr-python 2.13.

Usage: lmdb_zarr_interop.py HELPER
where HELPER is the built tests/backend/lmdb_zarr_interop program.

1. Tessera writes a tiny Zarr hierarchy into a single-file store
   (MDB_NOSUBDIR); zarr.LMDBStore(path, subdir=False) must read the group,
   the attributes and the array values, and the database must hold exactly
   those keys with exactly those bytes.
2. zarr writes a hierarchy into a directory store (LMDBStore's default
   subdir mode); Tessera's dump must list every key with the same size and
   bytes as the python lmdb module reads.
3. Tessera writes into that zarr-made directory store; zarr must read both
   its own array and Tessera's.

Run with /usr/bin/python3 (the Debian interpreter that has zarr and lmdb).
Exits non-zero with a message on the first mismatch.
"""
import os
import subprocess
import sys
import tempfile

import lmdb
import numpy as np
import zarr

EXPECTED_ARR = np.arange(16, dtype="<i4").reshape(4, 4) * 1000 - 7
EXPECTED_ATTRS = {"answer": 42, "name": "tessera"}
ZGROUP = b'{\n    "zarr_format": 2\n}'
TESSERA_KEYS = {".zgroup", "grp/.zgroup", "grp/.zattrs", "arr/.zarray",
                "arr/0.0", "arr/0.1", "arr/1.0", "arr/1.1"}


def fail(msg):
    sys.exit("lmdb_zarr_interop: FAIL: " + msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def run_helper(helper, mode, path):
    proc = subprocess.run([helper, mode, path], capture_output=True, text=True)
    if proc.returncode != 0:
        fail(f"'{helper} {mode} {path}' exited {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


def read_raw(path, subdir):
    """Every record of the main database, read with the python lmdb module."""
    env = lmdb.open(path, subdir=subdir, readonly=True, lock=False)
    try:
        check(env.stat()["depth"] >= 0, "unreadable environment")
        with env.begin() as txn:
            return {k.decode("utf-8"): bytes(v) for k, v in txn.cursor()}
    finally:
        env.close()


def check_tessera_hierarchy(root, where):
    check(isinstance(root, zarr.hierarchy.Group), f"{where}: root is not a group")
    grp = root["grp"]
    check(isinstance(grp, zarr.hierarchy.Group), f"{where}: 'grp' is not a group")
    check(dict(grp.attrs) == EXPECTED_ATTRS, f"{where}: grp attrs are {dict(grp.attrs)}")
    arr = root["arr"]
    check(arr.shape == (4, 4) and arr.chunks == (2, 2) and arr.dtype == np.dtype("<i4"),
          f"{where}: arr is {arr.shape} {arr.chunks} {arr.dtype}")
    values = arr[...]
    check(np.array_equal(values, EXPECTED_ARR), f"{where}: arr values\n{values}")


def tessera_writes_zarr_reads(helper, tmp):
    path = os.path.join(tmp, "tessera.lmdb")
    run_helper(helper, "write", path)
    check(os.path.isfile(path), f"{path} is not a single data file")
    check(os.path.exists(path + "-lock"), f"no lock file {path}-lock")

    store = zarr.LMDBStore(path, subdir=False)
    try:
        check(sorted(store.keys()) == sorted(TESSERA_KEYS),
              f"zarr sees keys {sorted(store.keys())}")
        check_tessera_hierarchy(zarr.open(store, mode="r"), "tessera-written store")
    finally:
        store.close()

    raw = read_raw(path, subdir=False)
    check(set(raw) == TESSERA_KEYS, f"database holds {sorted(raw)}")
    check(raw[".zgroup"] == ZGROUP, f".zgroup bytes {raw['.zgroup']!r}")
    chunk = EXPECTED_ARR[0:2, 2:4].astype("<i4").tobytes()
    check(raw["arr/0.1"] == chunk, f"arr/0.1 bytes {raw['arr/0.1'].hex()}")
    print("ok: zarr reads what Tessera wrote (single-file store)")


def zarr_writes_tessera_reads(helper, tmp):
    path = os.path.join(tmp, "zarr-dir.lmdb")
    store = zarr.LMDBStore(path)  # default: subdir mode, path is a directory
    try:
        root = zarr.group(store=store)
        root.attrs["title"] = "made by zarr"
        sub = root.create_group("x")
        sub.attrs.update({"unit": "m", "n": 3})
        data = np.linspace(-1.0, 1.0, 35).reshape(5, 7)
        arr = sub.create_dataset("y", shape=(5, 7), chunks=(2, 3), dtype="<f8")
        arr[...] = data
        ints = root.create_dataset("ints", shape=(10,), chunks=(4,), dtype="<u2",
                                   compressor=None, fill_value=7)
        ints[:6] = np.arange(6)
    finally:
        store.close()
    check(os.path.isfile(os.path.join(path, "data.mdb")), "zarr made no data.mdb")

    listed = {}
    for line in run_helper(helper, "dump", path).splitlines():
        key, size, digest = line.split("\t")
        check(key not in listed, f"dump lists '{key}' twice")
        listed[key] = (int(size), int(digest, 16))
    check(list(listed) == sorted(listed, key=lambda k: k.encode()),
          f"dump is not in byte order: {list(listed)}")

    raw = read_raw(path, subdir=True)
    check(set(listed) == set(raw),
          f"keys differ: tessera only {sorted(set(listed) - set(raw))}, "
          f"lmdb only {sorted(set(raw) - set(listed))}")
    for key, value in raw.items():
        check(listed[key] == (len(value), fnv1a64(value)),
              f"'{key}': tessera sees {listed[key]}, lmdb has {len(value)} bytes "
              f"fnv {fnv1a64(value):016x}")
    check("x/y/.zarray" in raw and "ints/0" in raw and "ints/2" not in raw,
          f"unexpected zarr keys {sorted(raw)}")
    print(f"ok: Tessera reads what zarr wrote (directory store, {len(raw)} keys)")
    return path, data


def tessera_writes_into_zarr_dir(helper, path, data):
    run_helper(helper, "write", path)
    store = zarr.LMDBStore(path)
    try:
        root = zarr.open(store, mode="r")
        check_tessera_hierarchy(root, "zarr directory store after Tessera's write")
        check(np.array_equal(root["x/y"][...], data), "zarr's own array changed")
        check(root.attrs["title"] == "made by zarr", "zarr's root attrs changed")
    finally:
        store.close()
    print("ok: zarr reads Tessera's writes into a zarr-made directory store")


def main():
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} HELPER")
    helper = os.path.abspath(sys.argv[1])
    check(os.access(helper, os.X_OK), f"helper {helper} is not executable")
    with tempfile.TemporaryDirectory(prefix="tess-lmdb-interop-") as tmp:
        tessera_writes_zarr_reads(helper, tmp)
        path, data = zarr_writes_tessera_reads(helper, tmp)
        tessera_writes_into_zarr_dir(helper, path, data)
    print("lmdb_zarr_interop: all checks passed")


if __name__ == "__main__":
    main()
