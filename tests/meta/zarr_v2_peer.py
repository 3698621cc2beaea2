#!/usr/bin/python3
"""Peer test: Zarr v2 metadata, Tessera against zarr-python 2.13.

Over a matrix of dtypes, fill values, compressors, filters, orders,
separators and shapes, zarr-python creates arrays and we check that

  1. Tessera parses each .zarray and writes it back byte for byte;
  2. Tessera builds the same bytes from the equivalent creation options
     (tess_array_opts: codec SPEC, fill as JSON text, order, separator);
  3. chunk keys are the ones zarr-python uses;
  4. what zarr-python writes and Tessera does not support (datetime,
     structured and object dtypes, unknown codecs) is refused with
     TESS_ENOTSUP and a message that names it.

usage: zarr_v2_peer.py META_TOOL
"""
import json
import math
import os
import subprocess
import sys
import tempfile
import warnings

import numcodecs
import numpy as np
import zarr

warnings.simplefilter("ignore")

DTYPES = [
    "|b1", "|i1", "<i2", ">i2", "<i4", ">i4", "<i8", ">i8",
    "|u1", "<u2", ">u2", "<u4", ">u4", "<u8", ">u8",
    "<f2", ">f2", "<f4", ">f4", "<f8", ">f8",
    "<c8", ">c8", "<c16", ">c16",
    "|S1", "|S5", "<U1", "<U3", ">U3",
]

NAN, INF = float("nan"), float("inf")


def fills_for(dt):
    """Fill values zarr-python accepts for dt, in every JSON encoding it uses."""
    d = np.dtype(dt)
    k = d.kind
    if k == "b":
        return [0, None, True, False]
    if k == "i":
        info = np.iinfo(d)
        return [0, None, -1, int(info.min), int(info.max), 7]
    if k == "u":
        return [0, None, int(np.iinfo(d).max), 5]
    if k == "f":
        return [0, None, NAN, INF, -INF, -0.0, 0.1, 1e20, 1e-5, 123456.789, 65504.0,
                1.0 / 3, 5e-324, 6e-8, 3.0517578125e-05]
    if k == "c":
        return [0, None, complex(NAN, -INF), complex(1.5, -2), complex(0.1, 1e300)]
    if k == "S":
        return [0, None, b"ab", b"a\x00b", b"\xff\xfe\x00", b"hello"]
    if k == "U":
        n = d.itemsize // 4
        return [v for v in [0, None, "h\u00e9", "\U0001d11e", "abc", "\u00e9\u00e9\u00e9"]
                if v in (0, None) or len(v) <= n]
    raise AssertionError(dt)


SHUFFLES = ["noshuffle", "shuffle", "bitshuffle"]

# (compressor, SPEC or None when no SPEC says it)
COMPRESSORS = [
    ("default", None),
    (None, "none"),
    (numcodecs.Blosc("zstd", 3, numcodecs.Blosc.BITSHUFFLE), "blosc:zstd:3:bitshuffle"),
    (numcodecs.Blosc("blosclz", 9, numcodecs.Blosc.NOSHUFFLE), "blosc:blosclz:9:noshuffle"),
    (numcodecs.Blosc("lz4hc", 1, numcodecs.Blosc.SHUFFLE), "blosc:lz4hc:1:shuffle"),
    (numcodecs.Blosc("zlib", 5, numcodecs.Blosc.SHUFFLE, blocksize=256), None),
    (numcodecs.Zstd(5), "zstd:5"),
    (numcodecs.Zstd(), "zstd"),
    (numcodecs.LZ4(), "lz4"),
    (numcodecs.LZ4(3), "lz4:3"),
    (numcodecs.GZip(6), "gzip:6"),
    (numcodecs.Zlib(1), "zlib:1"),
]

SHAPES = [((), ()), ((0,), (1,)), ((7,), (3,)), ((5,), (10,)), ((10, 20), (5, 5)),
          ((10, 20), (10, 20)), ((3, 4, 5, 6), (2, 3, 4, 5))]


def create(**kw):
    store = zarr.MemoryStore()
    z = zarr.create(store=store, **kw)
    return z, store[".zarray"]


def fill_json_text(zarray_text, original, dt):
    """The fill as JSON text for tess_array_opts: the original value when it
    is a finite number (so Tessera rounds to f2/f4 itself), else what
    zarr-python wrote."""
    kind = np.dtype(dt).kind
    if kind in "iuf" and isinstance(original, (int, float)) and not isinstance(original, bool) \
            and math.isfinite(original):
        return json.dumps(original)
    return json.dumps(json.loads(zarray_text)["fill_value"])


class Cases:
    def __init__(self, tmp):
        self.tmp = tmp
        self.lines = []
        self.expect = []  # (out path, expected bytes or None, expected keys or None, what)
        self.refuse = []  # (out path, words the message must contain, what)

    def _path(self):
        return os.path.join(self.tmp, "case%05d" % len(self.lines))

    def parse(self, zarray, what, keys=None):
        base = self._path()
        with open(base + ".zarray", "wb") as f:
            f.write(zarray)
        case = {"op": "parse", "format": 2, "in": base + ".zarray", "out": base + ".out"}
        if keys:
            case["keys"] = [list(k) for k in keys[0]]
        self.lines.append(case)
        self.expect.append((base + ".out", zarray, keys[1] if keys else None, what))

    def opts(self, zarray, what, **o):
        base = self._path()
        case = dict(op="opts", format=2, out=base + ".out", **o)
        self.lines.append(case)
        self.expect.append((base + ".out", zarray, None, what))

    def refused(self, zarray, words, what):
        base = self._path()
        with open(base + ".zarray", "wb") as f:
            f.write(zarray)
        self.lines.append({"op": "parse", "format": 2, "in": base + ".zarray", "out": base + ".out"})
        self.refuse.append((base + ".out", words, what))


def chunk_keys(z):
    """A few chunk coordinates and zarr-python's keys for them."""
    grid = z.cdata_shape
    if grid == ():
        return [()], ["0"]
    coords = [tuple(0 for _ in grid), tuple(max(g - 1, 0) for g in grid),
              tuple(max(min(1, g - 1), 0) for g in grid)]
    return coords, [z._chunk_key(c) for c in coords]


def add_dtype_fill_matrix(c):
    for dt in DTYPES:
        for fv in fills_for(dt):
            z, text = create(shape=(10, 20), chunks=(5, 5), dtype=dt, fill_value=fv)
            what = "dtype %s fill %r" % (dt, fv)
            c.parse(text, what)
            fill = None if fv == 0 else fill_json_text(text, fv, dt)
            c.opts(text, what + " (opts)", shape=[10, 20], chunks=[5, 5], dtype=dt, codec=None,
                   fill=fill, order="C", sep=".")


def add_layout_matrix(c):
    dtypes = ["<f4", ">i2", "|u1", "<c16", "|b1", "<U2"]
    n = 0
    for comp, spec in COMPRESSORS:
        for order in "CF":
            for sep in (None, ".", "/"):
                for shape, chunks in SHAPES:
                    dt = dtypes[n % len(dtypes)]
                    n += 1
                    kw = dict(shape=shape, chunks=chunks, dtype=dt, order=order,
                              dimension_separator=sep)
                    if comp != "default":
                        kw["compressor"] = comp
                    z, text = create(**kw)
                    what = "%s %s order %s sep %r shape %s" % (dt, spec or comp, order, sep, shape)
                    c.parse(text, what, keys=chunk_keys(z))
                    # Options cannot say blocksize (spec None) or an
                    # explicit "." separator; zarr-python drops any
                    # compressor of a 0-d array, Tessera only its default
                    if (spec is None and comp != "default") or sep == "." or \
                            (shape == () and comp not in ("default", None)):
                        continue
                    c.opts(text, what + " (opts)", shape=list(shape), chunks=list(chunks),
                           dtype=dt, codec=None if comp == "default" else spec, fill=None,
                           order=order, sep=sep or ".")


def add_filter_matrix(c):
    for dt in ["<i4", ">u2", "<f8", "|u1"]:
        itemsize = np.dtype(dt).itemsize
        for filters in ([numcodecs.Delta(dt)], [numcodecs.Shuffle(itemsize)],
                        [numcodecs.Delta(dt, astype=dt), numcodecs.Shuffle(itemsize)]):
            for comp in ("default", None):
                kw = dict(shape=(100,), chunks=(30,), dtype=dt, filters=filters)
                if comp != "default":
                    kw["compressor"] = comp
                _, text = create(**kw)
                c.parse(text, "%s filters %s compressor %s" % (dt, filters, comp))


def add_refusals(c):
    _, text = create(shape=(4,), dtype="<M8[ns]")
    c.refused(text, ["not supported", "<M8[ns]"], "datetime dtype")
    _, text = create(shape=(4,), dtype=[("a", "<i4"), ("b", "<f8")])
    c.refused(text, ["structured dtypes", "not supported"], "structured dtype")
    _, text = create(shape=(4,), dtype=object, object_codec=numcodecs.JSON())
    c.refused(text, ["not supported"], "object dtype")
    _, text = create(shape=(4,), dtype="<i4", compressor=numcodecs.BZ2())
    c.refused(text, ["compressor", "bz2"], "bz2 compressor")
    _, text = create(shape=(4,), dtype="<i4", filters=[numcodecs.FixedScaleOffset(0, 10, "<i4")])
    c.refused(text, ["filters[0]", "fixedscaleoffset"], "fixedscaleoffset filter")


def main():
    tool = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="tess-meta-peer-") as tmp:
        c = Cases(tmp)
        add_dtype_fill_matrix(c)
        add_layout_matrix(c)
        add_filter_matrix(c)
        add_refusals(c)
        batch = os.path.join(tmp, "cases.jsonl")
        with open(batch, "w") as f:
            for line in c.lines:
                f.write(json.dumps(line) + "\n")
        subprocess.run([tool, batch], check=True)
        failures = []
        for out, want, keys, what in c.expect:
            if os.path.exists(out + ".err"):
                failures.append("%s: %s" % (what, open(out + ".err").read().strip()))
                continue
            got = open(out, "rb").read()
            if got != want:
                failures.append("%s: bytes differ\n--- zarr-python\n%s\n--- tessera\n%s" %
                                (what, want.decode(), got.decode()))
                continue
            if keys is not None:
                got_keys = open(out + ".keys").read().split("\n")[:-1]
                if got_keys != keys:
                    failures.append("%s: chunk keys %s, zarr-python %s" % (what, got_keys, keys))
        for out, words, what in c.refuse:
            if not os.path.exists(out + ".err"):
                failures.append("%s: accepted, should be refused" % what)
                continue
            msg = open(out + ".err").read()
            if not msg.startswith("ERROR not supported:"):
                failures.append("%s: wrong error: %s" % (what, msg.strip()))
            for w in words:
                if w.lower() not in msg.lower():
                    failures.append("%s: message does not name %r: %s" % (what, w, msg.strip()))
        total = len(c.expect) + len(c.refuse)
        for f in failures[:int(os.environ.get("META_PEER_SHOW", "15"))]:
            print("FAIL", f, file=sys.stderr)
        print("%d cases, %d failures" % (total, len(failures)))
        return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
