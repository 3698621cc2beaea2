#!/usr/bin/python3
"""Peer test of Tessera's .npy headers against numpy (src/util/npy.c).

Usage: npy_peer.py HELPER
where HELPER is the built util_npy test program; with --peer it reads
commands on stdin (see tests/util/test_npy.c).

1. numpy writes a matrix of dtypes x shapes (0-d to 32-d, empty, huge first
   axes with an empty one) x orders (C, Fortran) x format versions (numpy.save's
   choice, 1.0, 2.0, 3.0); Tessera parses each file and must report numpy's
   descr, fortran flag, shape, data offset, data size and itemsize.
2. Files numpy writes that Tessera must refuse: structured, subarray, object,
   datetime, void, long double dtypes (TESS_ENOTSUP), and truncated data or
   hostile header lengths (TESS_ECORRUPT).
3. Tessera writes a header (and zero data) for each dtype x C-order shape;
   numpy.load must read it as an equal array, and the file must be byte for
   byte what numpy.save writes for numpy.zeros of that shape and dtype.

Run with /usr/bin/python3 (the Debian interpreter that has numpy).  Exits
non-zero listing the mismatches.
"""
import io
import os
import subprocess
import sys
import tempfile

import numpy as np
from numpy.lib import format as npf

TESS_ECORRUPT = -5
TESS_ENOTSUP = -6

DTYPES = ["|b1", "|i1", "|u1", "<i2", ">i2", "<u2", ">u2", "<i4", ">i4", "<u4", ">u4",
          "<i8", ">i8", "<u8", ">u8", "<f2", ">f2", "<f4", ">f4", "<f8", ">f8",
          "<c8", ">c8", "<c16", ">c16", "|S1", "|S7", "<U1", "<U5", ">U3"]
SHAPES = [(), (0,), (1,), (7,), (3, 4), (2, 0, 3), (2, 3, 4, 5), (1,) * 31 + (2,),
          (10**15, 0), (0, 123456789012), (3, 10**12, 0)]
VERSIONS = [None, (1, 0), (2, 0), (3, 0)]
# Empty arrays whose headers take every length over a few 64-byte lines, so
# the padding is checked where it crosses a boundary (numpy pads 1 to 64).
SWEEP_DTYPES = ["<f8", ">c16", "|S7"]
SWEEP_SHAPES = [(0,) + (1,) * (n // 3) + (10**(n % 3),) for n in range(64)]

failures = []


def fail(msg):
    failures.append(msg)


def run_helper(helper, commands):
    """One output line per command, in order."""
    text = "".join("\t".join(c) + "\n" for c in commands)
    proc = subprocess.run([helper, "--peer"], input=text, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"npy_peer: FAIL: helper exited {proc.returncode}: {proc.stderr.strip()}")
    lines = proc.stdout.split("\n")[:-1]
    if len(lines) != len(commands):
        sys.exit(f"npy_peer: FAIL: {len(commands)} commands, {len(lines)} answers")
    return [line.split("\t") for line in lines]


def sample(shape, dtype):
    """Some values that are not all zero."""
    n = int(np.prod(shape, dtype=np.int64))
    if n == 0:
        return np.zeros(shape, dtype)
    if dtype.kind == "b":
        flat = np.arange(n) % 3 == 1
    elif dtype.kind in "SU":
        flat = np.array([str(i % 1000) for i in range(n)]).astype(dtype)
    else:
        flat = (np.arange(n) % 100).astype(dtype)
    return flat.reshape(shape)


def numpy_writes(tmp):
    """Files numpy writes; yields (path, expected header fields)."""
    matrix = [(d, s) for d in DTYPES for s in SHAPES]
    matrix += [(d, s) for d in SWEEP_DTYPES for s in SWEEP_SHAPES]
    count = 0
    for d, shape in matrix:
        dtype = np.dtype(d)
        arr = sample(shape, dtype)
        orders = [arr, np.asfortranarray(arr)] if arr.ndim >= 2 else [arr]
        for a in orders:
            fortran = npf.header_data_from_array_1_0(a)["fortran_order"]
            for version in VERSIONS:
                path = os.path.join(tmp, f"numpy_{count}.npy")
                count += 1
                with open(path, "wb") as f:
                    if version is None:
                        np.save(f, a)
                    else:
                        npf.write_array(f, a, version=version)
                size = os.path.getsize(path)
                expect = [dtype.str, str(int(fortran)), ",".join(map(str, shape)),
                          str(size - a.nbytes), str(a.nbytes), str(dtype.itemsize)]
                yield path, expect


def check_numpy_written(helper, tmp):
    cases = list(numpy_writes(tmp))
    answers = run_helper(helper, [("parse", p) for p, _ in cases])
    for (path, expect), got in zip(cases, answers):
        if got[0] != "ok" or got[1:] != expect:
            fail(f"{os.path.basename(path)}: Tessera read {got}, numpy wrote {expect}")
    return len(cases)


def write_header_only(path, descr, shape, version=(1, 0)):
    with open(path, "wb") as f:
        d = {"descr": descr, "fortran_order": False, "shape": shape}
        if version == (1, 0):
            npf.write_array_header_1_0(f, d)
        else:
            npf.write_array_header_2_0(f, d)


def refusals(tmp):
    """(path, expected code, part of the message)."""
    cases = []

    def save(name, arr, **kw):
        path = os.path.join(tmp, name)
        with open(path, "wb") as f:
            npf.write_array(f, arr, **kw)
        return path

    rec = np.zeros(3, dtype=[("a", "<f4"), ("b", "<i8")])
    cases.append((save("struct.npy", rec), TESS_ENOTSUP, "structured dtypes"))
    obj = np.array([1, "a", None], dtype=object)
    cases.append((save("object.npy", obj, allow_pickle=True), TESS_ENOTSUP, "kind 'O'"))
    for d, part in [("<M8[ns]", "kind 'M'"), ("<m8[s]", "kind 'm'"), ("|V4", "kind 'V'"),
                    (np.dtype(np.longdouble).str, "no such size"),
                    (np.dtype(np.clongdouble).str, "no such size")]:
        name = "dt_" + "".join(ch for ch in d if ch.isalnum()) + ".npy"
        cases.append((save(name, np.zeros(2, d)), TESS_ENOTSUP, part))
    path = os.path.join(tmp, "subarray.npy")
    write_header_only(path, ("<f4", (2,)), (3,))
    cases.append((path, TESS_ENOTSUP, "subarray dtypes"))

    # Data shorter than the shape needs.
    path = save("truncated.npy", np.arange(12, dtype="<f8").reshape(3, 4))
    os.truncate(path, os.path.getsize(path) - 1)
    cases.append((path, TESS_ECORRUPT, "needs 96 bytes of data, the file has 95"))
    # A 2.0 header that claims 4 GiB.
    path = save("hostile.npy", np.zeros(3, "<f4"), version=(2, 0))
    with open(path, "r+b") as f:
        f.seek(8)
        f.write(b"\xff\xff\xff\xff")
    cases.append((path, TESS_ECORRUPT, "header length 4294967295 is over"))
    # Shape times itemsize beyond 2^63, written by numpy's own header writer.
    path = os.path.join(tmp, "huge.npy")
    write_header_only(path, "<f8", (2**32, 2**32))
    cases.append((path, TESS_ECORRUPT, "is over 2^63 bytes"))
    return cases


def check_refusals(helper, tmp):
    cases = refusals(tmp)
    answers = run_helper(helper, [("parse", p) for p, _, _ in cases])
    for (path, code, part), got in zip(cases, answers):
        if got[0] != "err" or int(got[1]) != code or part not in got[2]:
            fail(f"{os.path.basename(path)}: Tessera answered {got}, expected error {code} "
                 f"with '{part}'")
    return len(cases)


def check_tessera_written(helper, tmp):
    cases = []
    matrix = [(d, s) for d in DTYPES + ["<u1", ">b1", "<S3"] for s in SHAPES]
    matrix += [(d, s) for d in SWEEP_DTYPES for s in SWEEP_SHAPES]
    for d, shape in matrix:  # "<u1", ">b1", "<S3" are written as numpy names them: "|.."
        cases.append((os.path.join(tmp, f"tess_{len(cases)}.npy"), d, shape))
    answers = run_helper(helper, [("write", p, d, ",".join(map(str, s))) for p, d, s in cases])
    for (path, d, shape), got in zip(cases, answers):
        name = f"Tessera's '{d}' {shape}"
        if got[0] != "ok":
            fail(f"{name}: write failed: {got}")
            continue
        dtype = np.dtype(d)
        ref = io.BytesIO()
        np.save(ref, np.zeros(shape, dtype))
        want = ref.getvalue()
        with open(path, "rb") as f:
            have = f.read()
        if have != want:
            fail(f"{name}: {have[:int(got[1])]!r} differs from numpy's "
                 f"{want[:len(want) - int(np.prod(shape)) * dtype.itemsize]!r}")
            continue
        if int(got[1]) != len(want) - np.zeros(shape, dtype).nbytes:
            fail(f"{name}: header length {got[1]}")
        arr = np.load(path)
        if arr.dtype != dtype or arr.shape != shape or not np.array_equal(arr, np.zeros(shape, dtype)):
            fail(f"{name}: numpy.load gave {arr.dtype} {arr.shape}")
    return len(cases)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    helper = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="tess-npy-peer-") as tmp:
        counts = [check_numpy_written(helper, tmp), check_refusals(helper, tmp),
                  check_tessera_written(helper, tmp)]
    if failures:
        for msg in failures[:30]:
            print("npy_peer: FAIL:", msg)
        sys.exit(f"npy_peer: {len(failures)} mismatches")
    print(f"npy_peer: ok: {counts[0]} numpy files read, {counts[1]} refused, "
          f"{counts[2]} Tessera headers equal to numpy's")


if __name__ == "__main__":
    main()
