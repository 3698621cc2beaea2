#!/usr/bin/python3
"""The peers of bench_array: zarr-python, h5py and GDAL on the same data.

    array_peers.py CONFIG          serve: read case ids on stdin, one per line;
                                   answer each with one JSON line on stdout
    array_peers.py CONFIG --all    run every case of CONFIG, print one JSON
                                   document on stdout

bench_array writes CONFIG (JSON) and the data (.npy) into its work dir and
runs this script once, in serve mode, so that Tessera and its peers take
turns case by case on a shared machine.  The first line on stdout is
{"versions": {...}}.  Progress goes to stderr.

A case is {"id", "npy", "chunks", "window", "windows", "write_runs",
"read_runs", "peers": [...]}; a peer is one of
    {"name", "kind": "zarr", "compressor": {numcodecs config}}
    {"name", "kind": "h5py", "compression": "gzip"|"lzf", "level": N|null, "shuffle": bool}
    {"name", "kind": "gdal", "options": ["COMPRESS=DEFLATE", ...]}   (2-d only)
Every peer writes the whole array write_runs times (a fresh file or
directory each time), reads it whole read_runs times (a fresh handle each
time) and reads every window once through one handle.  Reads land in a
buffer allocated and touched beforehand (zarr get_basic_selection(out=),
h5py read_direct, GDAL ReadAsArray(buf_obj=)), as Tessera's reads land in
the caller's buffer, so no side pays page faults the other does not.  The answer for a
case is {"id", "peers": [{"name", "write": [s], "read": [s], "window": [s],
"bytes"}]} with times in seconds; a peer whose module is missing answers
{"name", "skipped": why}.  What is read is checked against the data.
Everything a peer made is removed before the next peer runs.
"""
import json
import os
import shutil
import sys
import time

import numpy as np


def log(msg):
    print("  peers: " + msg, file=sys.stderr, flush=True)


def tree_bytes(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def remove(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.unlink(path)


def window_slices(case, corner):
    return tuple(slice(c, c + n) for c, n in zip(corner, case["window"]))


def check(name, what, got, want):
    if got.shape != want.shape or not np.array_equal(got, want):
        raise SystemExit("array_peers: %s: %s differs from the data" % (name, what))


# ---- the peers: each has make(path) -> writer, open(path) -> reader ----------------

class ZarrPeer:
    def __init__(self, spec, case, data):
        import numcodecs
        import zarr
        self.zarr = zarr
        self.compressor = numcodecs.get_codec(dict(spec["compressor"]))
        self.case, self.data = case, data

    def write(self, path):
        store = self.zarr.DirectoryStore(path)
        z = self.zarr.create(shape=self.data.shape, chunks=tuple(self.case["chunks"]),
                             dtype=self.data.dtype, compressor=self.compressor, store=store,
                             overwrite=True)
        z[...] = self.data

    def opener(self, path):
        return self.zarr.open_array(self.zarr.DirectoryStore(path), mode="r")

    @staticmethod
    def read_into(handle, slices, out):
        handle.get_basic_selection(slices, out=out)

    @staticmethod
    def close(handle):
        pass


class H5Peer:
    def __init__(self, spec, case, data):
        import h5py
        self.h5py = h5py
        self.spec, self.case, self.data = spec, case, data

    def write(self, path):
        with self.h5py.File(path, "w") as f:
            ds = f.create_dataset("a", shape=self.data.shape, dtype=self.data.dtype,
                                  chunks=tuple(self.case["chunks"]),
                                  compression=self.spec["compression"],
                                  compression_opts=self.spec.get("level"),
                                  shuffle=bool(self.spec.get("shuffle")))
            ds[...] = self.data

    def opener(self, path):
        return self.h5py.File(path, "r")

    @staticmethod
    def read_into(handle, slices, out):
        handle["a"].read_direct(out, source_sel=slices)

    @staticmethod
    def close(handle):
        handle.close()


class GdalPeer:
    TYPES = {"float32": "Float32", "float64": "Float64", "uint16": "UInt16", "int16": "Int16",
             "uint8": "Byte", "int32": "Int32", "uint32": "UInt32"}

    def __init__(self, spec, case, data):
        from osgeo import gdal
        gdal.UseExceptions()
        if data.ndim != 2:
            raise SystemExit("array_peers: GDAL takes 2-d arrays only")
        self.gdal = gdal
        self.spec, self.case, self.data = spec, case, data
        self.type = getattr(gdal, "GDT_" + self.TYPES[str(data.dtype)])

    def write(self, path):
        rows, cols = self.data.shape
        by, bx = self.case["chunks"]
        opts = ["TILED=YES", "BLOCKXSIZE=%d" % bx, "BLOCKYSIZE=%d" % by] + self.spec["options"]
        drv = self.gdal.GetDriverByName("GTiff")
        ds = drv.Create(path, cols, rows, 1, self.type, options=opts)
        ds.GetRasterBand(1).WriteArray(self.data)
        ds.FlushCache()
        ds = None  # closes: the file is complete only now

    def opener(self, path):
        return self.gdal.Open(path)

    @staticmethod
    def read_into(handle, slices, out):
        ys, xs = slices
        handle.GetRasterBand(1).ReadAsArray(xs.start, ys.start, xs.stop - xs.start,
                                            ys.stop - ys.start, buf_obj=out)

    @staticmethod
    def close(handle):
        pass


PEERS = {"zarr": ZarrPeer, "h5py": H5Peer, "gdal": GdalPeer}
SUFFIX = {"zarr": ".zarr", "h5py": ".h5", "gdal": ".tif"}


def run_peer(spec, case, data, work):
    name = spec["name"]
    try:
        peer = PEERS[spec["kind"]](spec, case, data)
    except ImportError as e:
        log("%s: skipped: %s" % (name, e))
        return {"name": name, "skipped": str(e)}
    base = os.path.join(work, "peer-" + spec["kind"])
    out = {"name": name, "write": [], "read": [], "window": []}
    path = None
    for r in range(case["write_runs"]):
        if path:
            remove(path)
        path = "%s-%d%s" % (base, r, SUFFIX[spec["kind"]])
        t = time.perf_counter()
        peer.write(path)
        out["write"].append(time.perf_counter() - t)
    out["bytes"] = tree_bytes(path)
    # reads land in buffers made (and touched) beforehand, as Tessera's do
    back = np.zeros_like(data)
    everything = tuple(slice(0, n) for n in data.shape)
    for _ in range(case["read_runs"]):
        back[...] = 0
        t = time.perf_counter()
        h = peer.opener(path)
        peer.read_into(h, everything, back)
        peer.close(h)
        out["read"].append(time.perf_counter() - t)
        check(name, "the whole array", back, data)
    del back
    win = np.zeros(case["window"], dtype=data.dtype)
    h = peer.opener(path)
    for corner in case["windows"]:
        sl = window_slices(case, corner)
        win[...] = 0
        t = time.perf_counter()
        peer.read_into(h, sl, win)
        out["window"].append(time.perf_counter() - t)
        check(name, "window %s" % (corner,), win, data[sl])
    peer.close(h)
    remove(path)
    med = lambda v: sorted(v)[len(v) // 2]
    mb = data.nbytes / 1e6
    log("%-22s write %7.1f MB/s  read %7.1f MB/s  window %7.3f ms" %
        (name, mb / med(out["write"]), mb / med(out["read"]),
         1e3 * sum(out["window"]) / max(1, len(out["window"]))))
    return out


def run_case(case, work):
    data = np.load(case["npy"])
    log("%s: %s %s, chunks %s" % (case["id"], data.dtype, data.shape, case["chunks"]))
    res = {"id": case["id"], "peers": [run_peer(p, case, data, work) for p in case["peers"]]}
    del data
    return res


def versions():
    import numcodecs
    import zarr
    v = {"python": sys.version.split()[0], "numpy": np.__version__, "zarr": zarr.__version__,
         "numcodecs": numcodecs.__version__}
    try:
        import h5py
        v["h5py"], v["hdf5"] = h5py.__version__, h5py.version.hdf5_version
    except ImportError:
        v["h5py"] = None
    try:
        from osgeo import gdal
        v["gdal"] = gdal.__version__
    except ImportError:
        v["gdal"] = None
    try:
        from numcodecs import blosc
        v["blosc_threads"] = blosc.get_nthreads()
    except (ImportError, AttributeError):
        pass
    return v


def main():
    if len(sys.argv) not in (2, 3) or (len(sys.argv) == 3 and sys.argv[2] != "--all"):
        raise SystemExit(__doc__)
    with open(sys.argv[1]) as f:
        config = json.load(f)
    # GDAL compresses and decompresses tiles on every core, as Tessera does
    os.environ.setdefault("GDAL_NUM_THREADS", "ALL_CPUS")
    cases = {c["id"]: c for c in config["cases"]}
    if len(sys.argv) == 3:
        out = {"versions": versions(),
               "cases": [run_case(c, config["work"]) for c in config["cases"]]}
        json.dump(out, sys.stdout)
        print()
        return
    print(json.dumps({"versions": versions()}), flush=True)
    for line in sys.stdin:
        cid = line.strip()
        if not cid:
            continue
        if cid not in cases:
            raise SystemExit("array_peers: no case '%s' in %s" % (cid, sys.argv[1]))
        print(json.dumps(run_case(cases[cid], config["work"])), flush=True)


if __name__ == "__main__":
    main()
