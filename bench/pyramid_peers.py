#!/usr/bin/python3
"""GDAL's side of bench_pyramid: the GeoTIFFs, gdaladdo, and window reads.

    pyramid_peers.py     serve: read one JSON request per line on stdin,
                         answer each with one JSON line on stdout

bench_pyramid starts this once, so that Tessera and GDAL take turns request
by request on a shared machine.  The first line on stdout is
{"versions": {...}}.  Requests:

  {"op": "make", "dir", "n", "tile", "seed"}
      an n x n float32 field (a sum of smooth waves plus Gaussian noise of
      0.05) written to DIR/plain.tif, tiled tile x tile, DEFLATE, EPSG:32633,
      10 m pixels -> {"file", "bytes", "seconds"}
  {"op": "overviews", "src", "dst"}
      copy src to dst (not timed), then `gdaladdo -r average dst` (timed:
      the levels GDAL picks itself, down to one tile) -> {"seconds",
      "levels", "bytes"}
  {"op": "windows", "file", "zoom", "size", "corners": [[x, y], ...]}
      for each corner: open the file, read the zoom*size square at (x, y)
      into a size x size buffer (ReadAsArray(..., buf_xsize, buf_ysize,
      resample_alg=average) for zoom > 1: GDAL uses an overview when the
      file has one, else reads full resolution), close.  Only the read is
      timed -> {"seconds": [per window], "means": [per window]}

GDAL_NUM_THREADS=ALL_CPUS: GDAL decodes and encodes tiles on every core, as
Tessera does with its chunks.  Progress goes to stderr.
"""
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
from osgeo import gdal, osr

gdal.UseExceptions()


def log(msg):
    print("  gdal: " + msg, file=sys.stderr, flush=True)


def field(n, seed):
    """Smooth waves plus noise, computed in row bands to bound memory."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, n), np.float32)
    x = np.arange(n, dtype=np.float64)
    for r0 in range(0, n, 1024):
        y = np.arange(r0, min(n, r0 + 1024), dtype=np.float64)[:, None]
        v = (100 + 30 * np.sin(x / 411.0) * np.cos(y / 293.0) + 10 * np.sin((x + y) / 97.0)
             + rng.normal(0, 0.05, (len(y), n)))
        out[r0:r0 + len(y)] = v
    return out


def make(req):
    n, tile, path = req["n"], req["tile"], os.path.join(req["dir"], "plain.tif")
    data = field(n, req.get("seed", 1))
    t0 = time.perf_counter()
    opts = ["TILED=YES", f"BLOCKXSIZE={tile}", f"BLOCKYSIZE={tile}", "COMPRESS=DEFLATE",
            "NUM_THREADS=ALL_CPUS", "BIGTIFF=IF_SAFER"]
    ds = gdal.GetDriverByName("GTiff").Create(path, n, n, 1, gdal.GDT_Float32, opts)
    ds.SetGeoTransform((500000.0, 10.0, 0, 5500000.0, 0, -10.0))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetSpatialRef(srs)
    ds.GetRasterBand(1).WriteArray(data)
    ds = None
    return {"file": path, "bytes": os.path.getsize(path), "seconds": time.perf_counter() - t0}


def overviews(req):
    src, dst = req["src"], req["dst"]
    shutil.copyfile(src, dst)
    t0 = time.perf_counter()
    subprocess.run(["gdaladdo", "-q", "-r", "average", dst], check=True)
    secs = time.perf_counter() - t0
    ds = gdal.Open(dst)
    b = ds.GetRasterBand(1)
    levels = [b.GetOverview(i).XSize for i in range(b.GetOverviewCount())]
    return {"seconds": secs, "levels": levels, "bytes": os.path.getsize(dst)}


def windows(req):
    zoom, size = req["zoom"], req["size"]
    span = zoom * size
    buf = np.zeros((size, size), np.float32)  # touched: no page faults in the timing
    alg = gdal.GRIORA_Average if zoom > 1 else gdal.GRIORA_NearestNeighbour
    secs, means = [], []
    for x, y in req["corners"]:
        ds = gdal.Open(req["file"])
        band = ds.GetRasterBand(1)
        t0 = time.perf_counter()
        band.ReadAsArray(x, y, span, span, buf_xsize=size, buf_ysize=size, buf_obj=buf,
                         resample_alg=alg)
        secs.append(time.perf_counter() - t0)
        means.append(float(buf.astype(np.float64).mean()))
        band = None
        ds = None
    return {"seconds": secs, "means": means}


def versions():
    return {"python": sys.version.split()[0], "numpy": np.__version__,
            "gdal": gdal.__version__}


def main():
    os.environ.setdefault("GDAL_NUM_THREADS", "ALL_CPUS")
    gdal.SetConfigOption("GDAL_NUM_THREADS", os.environ["GDAL_NUM_THREADS"])
    ops = {"make": make, "overviews": overviews, "windows": windows}
    print(json.dumps({"versions": versions()}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        log(req["op"] + (" zoom %d" % req["zoom"] if "zoom" in req else ""))
        print(json.dumps(ops[req["op"]](req)), flush=True)


if __name__ == "__main__":
    main()
