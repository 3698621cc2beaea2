"""GDAL's side of tests/raster/raster_test.sh: makes the input rasters and
checks what `tess raster` and `tess pyramid` wrote, with osgeo.gdal, NumPy and
zarr-python as the references.

    raster_peer.py make DIR              the input GeoTIFFs (see RASTERS)
    raster_peer.py same A.tif B.tif      values, geotransform, CRS, nodata equal
    raster_peer.py CHECK ARGS...         the named check below
"""
import sys

import numpy as np
from osgeo import gdal, osr

gdal.UseExceptions()

ORIGIN = (300000.0, 5000000.0)  # UTM 33N, top left of a.tif
PIXEL = 10.0
A_SHAPE = (777, 1037)  # rows, columns: odd on purpose
B_SHAPE = (777, 515)
ND = -9999.0


def field(rows, cols, seed):
    """A smooth field plus noise, with nodata and NaN holes (float32)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float64)
    v = 100 + 20 * np.sin(x / 37.0) * np.cos(y / 23.0) + rng.normal(0, 0.5, (rows, cols))
    v = v.astype(np.float32)
    v[rng.random((rows, cols)) < 0.01] = ND
    v[5:9, 700:703] = ND
    v[rng.random((rows, cols)) < 0.002] = np.nan
    return v


def write(path, data, gt, epsg, nodata=None, dtype=gdal.GDT_Float32, options=()):
    """A GeoTIFF of (rows, cols) or (bands, rows, cols) data."""
    bands = 1 if data.ndim == 2 else data.shape[0]
    rows, cols = data.shape[-2:]
    ds = gdal.GetDriverByName("GTiff").Create(path, cols, rows, bands, dtype, list(options))
    ds.SetGeoTransform(gt)
    if epsg:
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(epsg)
        ds.SetSpatialRef(srs)
    for b in range(bands):
        band = ds.GetRasterBand(b + 1)
        if nodata is not None:
            band.SetNoDataValue(nodata)
        band.WriteArray(data if data.ndim == 2 else data[b])
    ds = None


def make(d):
    ox, oy = ORIGIN
    a = field(*A_SHAPE, 1)
    write(f"{d}/a.tif", a, (ox, PIXEL, 0, oy, 0, -PIXEL), 32633, ND,
          options=["TILED=YES", "COMPRESS=DEFLATE"])
    # b: right of a, same rows (the pyramid grows to the right)
    b = field(*B_SHAPE, 2)
    write(f"{d}/b.tif", b, (ox + A_SHAPE[1] * PIXEL, PIXEL, 0, oy, 0, -PIXEL), 32633, ND)
    # c: over a's cells 100..300 x 200..500, mostly nodata: where c is nodata
    # the pyramid keeps a's values
    c = np.full((200, 300), ND, np.float32)
    c[50:150, 100:200] = 7.5
    c[60:70, 110:120] = np.nan
    write(f"{d}/c.tif", c, (ox + 200 * PIXEL, PIXEL, 0, oy - 100 * PIXEL, 0, -PIXEL), 32633, ND)
    # wrong inputs
    write(f"{d}/wgs84.tif", a[:50, :50], (15.0, 0.001, 0, 45.0, 0, -0.001), 4326, ND)
    write(f"{d}/half.tif", a[:50, :50], (ox + 5.0, PIXEL, 0, oy, 0, -PIXEL), 32633, ND)
    write(f"{d}/left.tif", a[:50, :50], (ox - 50 * PIXEL, PIXEL, 0, oy, 0, -PIXEL), 32633, ND)
    write(f"{d}/coarse.tif", a[:50, :50], (ox, 2 * PIXEL, 0, oy, 0, -2 * PIXEL), 32633, ND)
    write(f"{d}/f64.tif", a[:50, :50].astype(np.float64), (ox, PIXEL, 0, oy, 0, -PIXEL), 32633,
          ND, gdal.GDT_Float64)
    # multi-band uint16, odd size, nodata 0, geographic CRS
    rng = np.random.default_rng(3)
    m = rng.integers(1, 60000, (3, 451, 603), dtype=np.uint16)
    m[:, 10:20, 30:40] = 0
    write(f"{d}/m.tif", m, (10.0, 0.0005, 0, 50.0, 0, -0.0005), 4326, 0, gdal.GDT_UInt16,
          ["TILED=YES", "BLOCKXSIZE=128", "BLOCKYSIZE=128", "INTERLEAVE=PIXEL"])
    with open(f"{d}/not_a_raster.tif", "w") as f:
        f.write("this is text, not a raster\n")
    np.save(f"{d}/patch.npy", np.full((10, 10), 42.0, np.float32))


def read_all(path):
    ds = gdal.Open(path)
    return ds, ds.ReadAsArray()


def same_srs(a, b):
    sa, sb = a.GetSpatialRef(), b.GetSpatialRef()
    if sa is None or sb is None:
        return sa is None and sb is None
    return sa.IsSame(sb) == 1


def same(pa, pb):
    da, va = read_all(pa)
    db, vb = read_all(pb)
    assert va.dtype == vb.dtype, (va.dtype, vb.dtype)
    assert va.shape == vb.shape, (va.shape, vb.shape)
    assert np.array_equal(va, vb, equal_nan=va.dtype.kind == "f"), "values differ"
    assert da.GetGeoTransform() == db.GetGeoTransform(), (da.GetGeoTransform(),
                                                         db.GetGeoTransform())
    assert same_srs(da, db), (da.GetProjection(), db.GetProjection())
    for i in range(1, da.RasterCount + 1):
        na, nb = da.GetRasterBand(i).GetNoDataValue(), db.GetRasterBand(i).GetNoDataValue()
        assert na == nb, (i, na, nb)


def tiled_deflate(path, block):
    """The export is a tiled, deflate GeoTIFF with the given block size."""
    ds = gdal.Open(path)
    md = ds.GetMetadata("IMAGE_STRUCTURE")
    assert md.get("COMPRESSION") == "DEFLATE", md
    assert ds.GetRasterBand(1).GetBlockSize() == [block, block], ds.GetRasterBand(1).GetBlockSize()
    assert ds.GetSpatialRef().GetAuthorityCode(None) in ("32633", "4326")


def levels(store, path):
    """Every level of a pyramid, read by zarr-python."""
    import zarr  # slow to import: only the checks that need it
    g = zarr.open_group(f"{store}/{path}", mode="r")
    ms = g.attrs["multiscales"][0]["datasets"]
    return [np.asarray(g[d["path"]][...]) for d in ms]


def snapshot(store, path, out):
    np.savez(out, *levels(store, path))


def same_levels(store, path, npz):
    """The levels now (after a full rebuild) equal the saved ones (after an
    incremental update)."""
    now = levels(store, path)
    saved = np.load(npz)
    assert len(now) == len(saved.files), (len(now), len(saved.files))
    for k, v in enumerate(now):
        s = saved[f"arr_{k}"]
        assert v.shape == s.shape, (k, v.shape, s.shape)
        assert np.array_equal(v, s, equal_nan=True), f"level {k} differs"


def mosaic(store, path, d):
    """Level 0 holds a, b (to its right) and c's valid cells over a."""
    l0 = levels(store, path)[0]
    a = gdal.Open(f"{d}/a.tif").ReadAsArray()
    b = gdal.Open(f"{d}/b.tif").ReadAsArray()
    c = gdal.Open(f"{d}/c.tif").ReadAsArray()
    assert l0.shape == (777, 1037 + 515), l0.shape
    # b was mosaicked in (not created from): its missing cells, NaN ones too,
    # keep what the pyramid held there - nodata
    b = np.where(np.isnan(b), np.float32(ND), b)
    want = np.concatenate([a, b], axis=1)
    win = want[100:300, 200:500]
    valid = ~np.isnan(c) & (c != ND)
    win[valid] = c[valid]
    assert np.array_equal(l0, want, equal_nan=True), "level 0 is not a | b with c over a"


def bbox_average(store, path, out_tif, c0, r0, n, factor):
    """An export of the box of level-0 cells [r0, r0+n) x [c0, c0+n) at n/factor
    pixels: each pixel is the mean the levels hold (level log2(factor))."""
    ds = gdal.Open(out_tif)
    got = ds.ReadAsArray()
    k = int(np.log2(factor))
    lk = levels(store, path)[k]
    want = lk[r0 // factor:(r0 + n) // factor, c0 // factor:(c0 + n) // factor]
    assert got.shape == want.shape, (got.shape, want.shape)
    assert np.allclose(got, want, rtol=1e-6, equal_nan=True), np.nanmax(np.abs(got - want))
    # and, where all of a block's level-0 cells are valid, that is their mean
    l0 = levels(store, path)[0][r0:r0 + n, c0:c0 + n].astype(np.float64)
    blocks = l0.reshape(n // factor, factor, n // factor, factor)
    ok = np.all(~np.isnan(blocks) & (blocks != ND), axis=(1, 3))
    mean = blocks.mean(axis=(1, 3))
    assert ok.sum() > 0
    assert np.allclose(got[ok], mean[ok], rtol=1e-5), "block means differ"
    ox, oy = ORIGIN
    gt = ds.GetGeoTransform()
    want_gt = (ox + c0 * PIXEL, PIXEL * factor, 0, oy - r0 * PIXEL, 0, -PIXEL * factor)
    assert np.allclose(gt, want_gt), (gt, want_gt)


def bbox_nearest(store, path, out_tif, c0, r0, w, h):
    """An export at level 0's resolution is level 0's cells."""
    got = gdal.Open(out_tif).ReadAsArray()
    want = levels(store, path)[0][r0:r0 + h, c0:c0 + w]
    assert np.array_equal(got, want, equal_nan=True), "nearest window differs"


def outside(store, path, out_tif, before, r0, w, h):
    """An export whose box starts `before` cells left of the data: nodata
    there, then level 0's first w columns of rows r0..r0+h."""
    ds = gdal.Open(out_tif)
    got = ds.ReadAsArray()
    assert got.shape == (h, before + w), got.shape
    assert ds.GetRasterBand(1).GetNoDataValue() == ND
    assert np.all(got[:, :before] == ND), "cells outside the data are not nodata"
    want = levels(store, path)[0][r0:r0 + h, :w]
    assert np.array_equal(got[:, before:], want, equal_nan=True), "cells inside differ"


def multiband(store, path, d):
    o = levels(store, path)
    m = gdal.Open(f"{d}/m.tif").ReadAsArray()
    assert o[0].shape == (3, 451, 603) and o[0].dtype == np.uint16, (o[0].shape, o[0].dtype)
    assert np.array_equal(o[0], m)
    assert o[1].shape == (3, 226, 302), o[1].shape
    # band is carried through: level 1 of band 2 is built from band 2 only
    blk = m[2, 0:2, 0:2].astype(np.float64)
    assert o[1][2, 0, 0] == np.floor(blk.mean() + 0.5), (o[1][2, 0, 0], blk)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    fn = {"make": make, "same": same, "tiled_deflate": tiled_deflate, "snapshot": snapshot,
          "same_levels": same_levels, "mosaic": mosaic, "bbox_average": bbox_average,
          "bbox_nearest": bbox_nearest, "multiband": multiband, "outside": outside}[cmd]
    conv = []
    for a in args:
        try:
            conv.append(int(a))
        except ValueError:
            conv.append(a)
    fn(*conv)


if __name__ == "__main__":
    main()
