#!/usr/bin/python3
"""Quick write/read throughput of the array core against zarr-python 2.13.

    bench_vs_zarr.py ARRAY_TOOL [DIR]

4096 x 4096 float32, 512 x 512 chunks, blosc lz4 level 5 shuffle, on the
file backend in DIR (default: a temporary directory); random values and a
smooth field; whole-array write and read, best of 3.  Not run by ctest (the
full benchmark is bench/array).  Tessera fsyncs every chunk it writes,
zarr-python's DirectoryStore does not.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import zarr
from numcodecs import Blosc


def main():
    tool = sys.argv[1]
    base = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="tess-bench-")
    os.makedirs(base, exist_ok=True)
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:4096, 0:4096].astype("f4")
    datas = {"random": rng.random((4096, 4096), dtype="f4"),
             "smooth": (np.sin(x / 300) * np.cos(y / 200) * 100).astype("f4")}
    mib = 4096 * 4096 * 4 / 2**20
    try:
        for name, d in datas.items():
            st = os.path.join(base, name)
            subprocess.run([tool, st, "create", "a", "shape=4096,4096", "chunks=512,512",
                            "dtype=<f4", "codec=blosc:lz4:5:shuffle"], check=True)
            raw = os.path.join(base, name + ".bin")
            d.tofile(raw)
            out = subprocess.run([tool, st, "time", "a", raw, "3"], check=True,
                                 capture_output=True, text=True).stdout.split()
            tw, tr = map(float, out)
            z = zarr.open(os.path.join(st, "z"), mode="w", shape=d.shape, chunks=(512, 512),
                          dtype="<f4", compressor=Blosc("lz4", 5, Blosc.SHUFFLE))
            zw = zr = 1e9
            for _ in range(3):
                t0 = time.perf_counter()
                z[...] = d
                t1 = time.perf_counter()
                back = z[...]
                t2 = time.perf_counter()
                zw, zr = min(zw, t1 - t0), min(zr, t2 - t1)
            assert (back == d).all()
            print("%s: tessera write %.0f MiB/s, read %.0f MiB/s | zarr-python write %.0f MiB/s, "
                  "read %.0f MiB/s | ratio write %.2fx, read %.2fx"
                  % (name, mib / tw, mib / tr, mib / zw, mib / zr, zw / tw, zr / tr))
    finally:
        if len(sys.argv) <= 2:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
