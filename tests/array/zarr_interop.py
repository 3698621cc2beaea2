#!/usr/bin/python3
"""Interop of the array core with zarr-python 2.13 (and a small independent
Zarr v3 reader and writer written here from the spec, as no v3 library is
installed).

    zarr_interop.py ARRAY_TOOL

Over a matrix of dtypes x compressors x orders x separators x shapes:
  - arrays Tessera writes (a whole write, then a partial one) are read by
    zarr-python and equal NumPy's byte for byte; their .zarray text is the
    one zarr-python writes for the same parameters; the chunks stored are
    those zarr-python stores with write_empty_chunks=False (uncompressed
    chunks: byte for byte);
  - arrays zarr-python writes (with filters too) are read by Tessera exactly,
    whole and in random regions;
  - .zmetadata written by Tessera equals zarr.consolidate_metadata's, and
    Tessera opens arrays from it;
  - v3: arrays Tessera writes (transpose, both byte orders, blosc, gzip, zstd,
    crc32c, sharding with the index at either end) are decoded by the reader
    here; arrays written here are read by Tessera.
"""
import base64
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

import numcodecs
import numpy as np
import zarr
from numcodecs import GZip, LZ4, Blosc, Delta, Shuffle, Zlib, Zstd

TOOL = sys.argv[1]
FAILURES = []
rng = random.Random(1234)
nprng = np.random.default_rng(1234)


def tool(*args):
    r = subprocess.run([TOOL, *map(str, args)], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("array_tool %s: %s" % (" ".join(map(str, args)), r.stderr.strip()))
    return r.stdout


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what, flush=True)


def lst(v):
    return ",".join(str(int(x)) for x in v) if len(v) else "-"


# ---- data and parameters -----------------------------------------------------------

DTYPES = ["|b1", "|i1", "<i2", ">i4", "<i8", "|u1", ">u2", "<u4", ">u8",
          "<f2", "<f4", ">f8", "<c8", ">c16", "|S5", "<U3", ">U2"]

# (Tessera codec SPEC, numcodecs compressor)
COMPRESSORS = [
    ("none", None),
    ("blosc:lz4:5:shuffle", Blosc("lz4", 5, Blosc.SHUFFLE)),
    ("blosc:zstd:3:bitshuffle", Blosc("zstd", 3, Blosc.BITSHUFFLE)),
    ("blosc:blosclz:9:noshuffle", Blosc("blosclz", 9, Blosc.NOSHUFFLE)),
    ("blosc:lz4hc:4:shuffle", Blosc("lz4hc", 4, Blosc.SHUFFLE)),
    ("blosc:zlib:1:bitshuffle", Blosc("zlib", 1, Blosc.BITSHUFFLE)),
    ("zstd:3", Zstd(3)),
    ("lz4:1", LZ4(1)),
    ("gzip:5", GZip(5)),
    ("zlib:1", Zlib(1)),
]

SHAPES = [((17,), (5,)), ((13, 9), (4, 5)), ((5, 6, 7), (2, 3, 4)),
          ((3, 4, 2, 5), (2, 3, 2, 2)), ((3, 2), (8, 8)), ((), ())]


def random_data(dt, shape):
    dt = np.dtype(dt)
    n = int(np.prod(shape)) if shape else 1
    if dt.kind == "b":
        a = nprng.integers(0, 2, n).astype(dt)
    elif dt.kind in "iu":
        info = np.iinfo(dt)
        a = nprng.integers(info.min, info.max, n, dtype=dt.newbyteorder("="), endpoint=True).astype(dt)
    elif dt.kind == "f":
        a = (nprng.standard_normal(n) * 100).astype(dt)
        if n > 3:
            a[1], a[2] = np.nan, np.inf
    elif dt.kind == "c":
        a = (nprng.standard_normal(n) + 1j * nprng.standard_normal(n)).astype(dt)
    elif dt.kind == "S":
        a = np.array([bytes(rng.choice(b"abcxyz\x00") for _ in range(rng.randint(0, dt.itemsize)))
                      for _ in range(n)], dtype=dt)
    else:
        chars = "ab\u00e9\u4e2d\U0001f600"
        a = np.array(["".join(rng.choice(chars) for _ in range(rng.randint(0, dt.itemsize // 4)))
                      for _ in range(n)], dtype=dt)
    return a.reshape(shape)


def fill_for(dt, i):
    """(JSON text for Tessera, value for zarr-python)"""
    dt = np.dtype(dt)
    k = i % 4
    if k == 3 and dt.kind not in "SU":
        return "null", None
    if dt.kind == "b":
        return ("true", True) if k == 1 else ("false", False)
    if dt.kind in "iu":
        return [("0", 0), ("7", 7), ("3", 3)][k]
    if dt.kind == "f":
        return [('"NaN"', np.nan), ('"Infinity"', np.inf), ('"-Infinity"', -np.inf)][k]
    if dt.kind == "c":
        return [("[0.0, 0.0]", 0j), ("[1.0, -2.0]", 1 - 2j), ('["NaN", 0.0]', complex(np.nan, 0))][k]
    if dt.kind == "S":
        v = [b"", b"ab", b"\x00q", b"zz"][k]
        return '"%s"' % base64.b64encode(v).decode(), v
    return ['""', '"xy"', '"\\u00e9"', '"q"'][k], ["", "xy", "\u00e9", "q"][k]


def random_region(shape):
    start = [rng.randrange(n) if n else 0 for n in shape]
    count = [rng.randint(1, n - s) if n else 0 for n, s in zip(shape, start)]
    return start, count


def sl(start, count):
    return tuple(slice(s, s + c) for s, c in zip(start, count))


def same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def chunk_files(path):
    out = {}
    for root, _, files in os.walk(path):
        for f in files:
            if not f.startswith(".z"):
                full = os.path.join(root, f)
                out[os.path.relpath(full, path)] = open(full, "rb").read()
    return out


# ---- v2 both ways -------------------------------------------------------------------

def tessera_to_zarr(store, i, shape, chunks, dt, spec, comp, order, sep):
    name = "t%d" % i
    path = os.path.join(store, name)
    ftext, fval = fill_for(dt, i)
    data = random_data(dt, shape)
    tool(store, "create", name, "shape=" + lst(shape), "chunks=" + lst(chunks), "dtype=" + dt,
         "codec=" + spec, "fill=" + ftext, "order=" + order, "sep=" + sep)
    blob = os.path.join(store, "blob.bin")
    open(blob, "wb").write(data.tobytes())
    tool(store, "write", name, lst([0] * len(shape)), lst(shape), blob)
    # a partial write: read-modify-write of the chunks it touches
    start, count = random_region(shape)
    part = random_data(dt, tuple(count))
    open(blob, "wb").write(part.tobytes())
    tool(store, "write", name, lst(start), lst(count), blob)
    data[sl(start, count)] = part
    what = "tessera->zarr %s %s %s order=%s sep=%s %s" % (name, dt, spec, order, sep, shape)
    z = zarr.open(path, mode="r")
    got = z[...]
    check(same(got, data), what + ": data differs")
    # the .zarray text and the chunks zarr-python would store
    ref = os.path.join(store, "ref", name)
    zr = zarr.create(shape=shape, chunks=chunks, dtype=dt, compressor=comp, fill_value=fval,
                     order=order, store=zarr.DirectoryStore(ref),
                     dimension_separator=sep if sep == "/" else None, write_empty_chunks=False)
    zr[...] = data
    mine, theirs = open(path + "/.zarray").read(), open(ref + "/.zarray").read()
    if shape == () and mine != theirs:
        # zarr-python drops the compressor of 0-d arrays ("no point in
        # compressing a single value"); Tessera keeps the one asked for
        m = json.loads(mine)
        m["compressor"] = None
        mine = json.dumps(m, indent=4, sort_keys=True, ensure_ascii=True, separators=(",", ": "))
    check(mine == theirs, what + ": .zarray differs:\n%s\nzarr-python:\n%s" % (mine, theirs))
    a, b = chunk_files(path), chunk_files(ref)
    if fval is not None:
        check(sorted(a) == sorted(b), what + ": chunk keys differ: %s vs %s" % (sorted(a), sorted(b)))
    else:  # null fill: Tessera stores every chunk, as zarr-python cannot read missing ones
        check(set(b) <= set(a), what + ": chunk keys missing")
    if spec == "none" and fval is not None:
        check(a == b, what + ": uncompressed chunks differ")


def zarr_to_tessera(store, i, shape, chunks, dt, spec, comp, order, sep, filters=None):
    name = "z%d" % i
    path = os.path.join(store, name)
    _, fval = fill_for(dt, i + 1)
    data = random_data(dt, shape)
    z = zarr.create(shape=shape, chunks=chunks, dtype=dt, compressor=comp, fill_value=fval,
                    order=order, filters=filters, store=zarr.DirectoryStore(path),
                    dimension_separator=sep)
    if shape and fval is not None:
        # leave some chunks unwritten: they read as fill
        start, count = random_region(shape)
        z[sl(start, count)] = data[sl(start, count)]
        full = np.full(shape, fval, dtype=dt)
        full[sl(start, count)] = data[sl(start, count)]
        data = full
    else:
        z[...] = data
    what = "zarr->tessera %s %s %s order=%s sep=%s %s filters=%s" % (
        name, dt, spec, order, sep, shape, filters)
    out = os.path.join(store, "out.bin")
    tool(store, "read", name, lst([0] * len(shape)), lst(shape), out)
    got = np.frombuffer(open(out, "rb").read(), dtype=dt).reshape(shape)
    check(same(got, data), what + ": whole array differs")
    for _ in range(2 if shape else 0):
        start, count = random_region(shape)
        tool(store, "read", name, lst(start), lst(count), out)
        got = np.frombuffer(open(out, "rb").read(), dtype=dt).reshape(count)
        check(same(got, np.ascontiguousarray(data[sl(start, count)])), what + ": region differs")


def v2_matrix(store):
    i = 0
    cases = []
    for shape, chunks in SHAPES:
        for dt in DTYPES:
            spec, comp = COMPRESSORS[(i * 7) % len(COMPRESSORS)]
            cases.append((i, shape, chunks, dt, spec, comp, "CF"[(i // 2) % 2], "./"[i % 2]))
            i += 1
    for spec, comp in COMPRESSORS:  # every compressor with a few dtypes, both orders
        for dt in ("<f4", ">i8", "|u1"):
            for order in "CF":
                cases.append((i, (13, 9), (4, 5), dt, spec, comp, order, "./"[i % 2]))
                i += 1
    for c in cases:
        try:
            tessera_to_zarr(store, *c)
        except Exception as e:  # noqa: BLE001 - report and go on
            check(False, "tessera->zarr case %s: %s" % (c[:5], e))
        try:
            zarr_to_tessera(store, *c)
        except Exception as e:  # noqa: BLE001
            check(False, "zarr->tessera case %s: %s" % (c[:5], e))
    # filters written by zarr-python
    for dt, filters in (("<i4", [Delta(dtype="<i4")]), ("<f8", [Shuffle(elementsize=8)]),
                        (">u2", [Delta(dtype=">u2"), Shuffle(elementsize=2)])):
        zarr_to_tessera(store, i, (20, 7), (6, 4), dt, "zstd", Zstd(1), "C", ".", filters)
        i += 1
    return len(cases)


def consolidated(store):
    tool(store, "consolidate")
    mine = open(os.path.join(store, ".zmetadata")).read()
    zarr.consolidate_metadata(zarr.DirectoryStore(store))
    theirs = open(os.path.join(store, ".zmetadata")).read()
    check(mine == theirs, ".zmetadata differs from zarr.consolidate_metadata's")
    g = zarr.open_consolidated(store, mode="r")
    check(g["t1"].shape == SHAPES[0][0], "open_consolidated sees Tessera's array")
    # Tessera opens through .zmetadata: the array's own .zarray is not read
    zpath = os.path.join(store, "t1", ".zarray")
    saved = open(zpath).read()
    os.remove(zpath)
    try:
        info = tool(store, "info", "t1").split()
        check(info[1] == "17", "open from .zmetadata: %s" % info)
    finally:
        open(zpath, "w").write(saved)
    # resize keeps .zmetadata current, the way zarr-python's resize would leave .zarray
    tool(store, "resize", "t1", "30")
    g = zarr.open_consolidated(store, mode="r")
    check(g["t1"].shape == (30,), "resize updates .zmetadata")
    z = zarr.open(os.path.join(store, "t1"), mode="r")
    check(z.shape == (30,), "resize updates .zarray")


def resize_matches_zarr(store):
    """Shrink and grow the same way with both: same chunks, same data."""
    data = random_data("<i4", (10, 9))
    a, b = os.path.join(store, "rs_t"), os.path.join(store, "rs_z")
    tool(store, "create", "rs_t", "shape=10,9", "chunks=4,4", "dtype=<i4", "codec=none", "fill=0")
    blob = os.path.join(store, "blob.bin")
    open(blob, "wb").write(data.tobytes())
    tool(store, "write", "rs_t", "0,0", "10,9", blob)
    z = zarr.create(shape=(10, 9), chunks=(4, 4), dtype="<i4", compressor=None, fill_value=0,
                    store=zarr.DirectoryStore(b), write_empty_chunks=False)
    z[...] = data
    tool(store, "resize", "rs_t", "5,6")
    z.resize(5, 6)
    tool(store, "resize", "rs_t", "11,11")
    z.resize(11, 11)
    check(chunk_files(a) == chunk_files(b), "resize: chunks differ from zarr-python's")
    out = os.path.join(store, "out.bin")
    tool(store, "read", "rs_t", "0,0", "11,11", out)
    got = np.frombuffer(open(out, "rb").read(), dtype="<i4").reshape(11, 11)
    check(same(got, z[...]), "resize: data after shrink and grow differs from zarr-python's")


# ---- v3: an independent reader and writer from the spec ---------------------------------

def _crc_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


CRC_TABLE = _crc_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


V3_TYPES = {"bool": "?", "int8": "i1", "int16": "i2", "int32": "i4", "int64": "i8",
            "uint8": "u1", "uint16": "u2", "uint32": "u4", "uint64": "u8", "float16": "f2",
            "float32": "f4", "float64": "f8", "complex64": "c8", "complex128": "c16"}


def v3_fill(fv, dt):
    def num(x):
        return {"NaN": np.nan, "Infinity": np.inf, "-Infinity": -np.inf}.get(x, x) \
            if isinstance(x, str) else x
    if dt.kind == "c":
        return complex(num(fv[0]), num(fv[1]))
    return num(fv)


def bytes_codec_decode(codec, data):
    name, cfg = codec["name"], codec.get("configuration", {})
    if name == "crc32c":
        body, stored = data[:-4], int.from_bytes(data[-4:], "little")
        assert crc32c(body) == stored, "crc32c mismatch"
        return body
    if name == "blosc":
        return Blosc().decode(data)
    if name == "gzip":
        return GZip().decode(data)
    if name == "zstd":
        return Zstd().decode(data)
    raise ValueError("codec " + name)


def bytes_codec_encode(codec, data):
    name, cfg = codec["name"], codec.get("configuration", {})
    if name == "crc32c":
        return data + crc32c(data).to_bytes(4, "little")
    if name == "blosc":
        sh = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}[cfg["shuffle"]]
        return Blosc(cfg["cname"], cfg["clevel"], sh, cfg.get("blocksize", 0)).encode(
            np.frombuffer(data, dtype="u%d" % cfg.get("typesize", 1)) if cfg.get("typesize", 1) in (1, 2, 4, 8)
            else data)
    if name == "gzip":
        return GZip(cfg["level"]).encode(data)
    if name == "zstd":
        return Zstd(cfg["level"]).encode(data)
    raise ValueError("codec " + name)


def decode_chunk(codecs, data, shape, dt):
    """Bytes to the chunk's array, per the v3 codec chain."""
    aa, ab, bb = [], None, []
    for c in codecs:
        if c["name"] == "transpose":
            aa.append(c)
        elif c["name"] in ("bytes", "sharding_indexed"):
            ab = c
        else:
            bb.append(c)
    for c in reversed(bb):
        data = bytes(bytes_codec_decode(c, data))
    stored_shape = list(shape)
    for c in aa:
        stored_shape = [stored_shape[o] for o in c["configuration"]["order"]]
    if ab["name"] == "sharding_indexed":
        arr = decode_shard(ab["configuration"], data, stored_shape, dt)
    else:
        endian = ab.get("configuration", {}).get("endian", "little")
        sdt = dt.newbyteorder("<" if endian == "little" else ">") if dt.itemsize > 1 else dt
        arr = np.frombuffer(data, dtype=sdt).reshape(stored_shape).astype(dt)
    for c in reversed(aa):
        arr = arr.transpose(np.argsort(c["configuration"]["order"]))
    return np.ascontiguousarray(arr)


FILL_SENTINEL = {}


def decode_shard(cfg, data, shape, dt):
    inner = cfg["chunk_shape"]
    grid = [s // c for s, c in zip(shape, inner)]
    n = int(np.prod(grid))
    index_len = 16 * n + sum(4 for c in cfg["index_codecs"] if c["name"] == "crc32c")
    raw = data[:index_len] if cfg.get("index_location", "end") == "start" else data[-index_len:]
    for c in reversed([c for c in cfg["index_codecs"] if c["name"] != "bytes"]):
        raw = bytes_codec_decode(c, raw)
    index = np.frombuffer(raw, dtype="<u8").reshape(n, 2)
    out = np.full(shape, FILL_SENTINEL["value"], dtype=dt)
    for k in range(n):
        off, nb = int(index[k, 0]), int(index[k, 1])
        if off == 2**64 - 1 and nb == 2**64 - 1:
            continue
        pos = np.unravel_index(k, grid)
        chunk = decode_chunk(cfg["codecs"], data[off:off + nb], inner, dt)
        out[tuple(slice(p * c, (p + 1) * c) for p, c in zip(pos, inner))] = chunk
    return out


def chunk_key_v3(meta, idx):
    enc = meta["chunk_key_encoding"]
    sep = enc.get("configuration", {}).get("separator", "/" if enc["name"] == "default" else ".")
    if enc["name"] == "default":
        return sep.join(["c"] + [str(i) for i in idx])
    return sep.join(str(i) for i in idx) if idx else "0"


def read_v3(path):
    meta = json.load(open(os.path.join(path, "zarr.json")))
    assert meta["zarr_format"] == 3 and meta["node_type"] == "array"
    dt = np.dtype(V3_TYPES[meta["data_type"]]).newbyteorder("<")
    shape = meta["shape"]
    chunks = meta["chunk_grid"]["configuration"]["chunk_shape"]
    fill = v3_fill(meta["fill_value"], dt)
    FILL_SENTINEL["value"] = fill
    grid = [-(-s // c) for s, c in zip(shape, chunks)]
    full = np.full([g * c for g, c in zip(grid, chunks)], fill, dtype=dt)
    for idx in np.ndindex(*grid):
        key = os.path.join(path, chunk_key_v3(meta, idx))
        if not os.path.exists(key):
            continue
        chunk = decode_chunk(meta["codecs"], open(key, "rb").read(), chunks, dt)
        full[tuple(slice(i * c, (i + 1) * c) for i, c in zip(idx, chunks))] = chunk
    return full[tuple(slice(0, s) for s in shape)]


def encode_chunk(codecs, arr):
    aa = [c for c in codecs if c["name"] == "transpose"]
    ab = [c for c in codecs if c["name"] in ("bytes", "sharding_indexed")][0]
    bb = [c for c in codecs if c not in aa and c is not ab]
    for c in aa:
        arr = arr.transpose(c["configuration"]["order"])
    if ab["name"] == "sharding_indexed":
        data = encode_shard(ab["configuration"], arr)
    else:
        endian = ab.get("configuration", {}).get("endian", "little")
        data = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder(
            "<" if endian == "little" else ">")).tobytes()
    for c in bb:
        data = bytes(bytes_codec_encode(c, data))
    return data


def encode_shard(cfg, arr):
    inner = cfg["chunk_shape"]
    grid = [s // c for s, c in zip(arr.shape, inner)]
    n = int(np.prod(grid))
    index = np.full((n, 2), 2**64 - 1, dtype="<u8")
    at_start = cfg.get("index_location", "end") == "start"
    index_len = 16 * n + 4
    body, pos = b"", index_len if at_start else 0
    for k in range(n):
        p = np.unravel_index(k, grid)
        chunk = arr[tuple(slice(i * c, (i + 1) * c) for i, c in zip(p, inner))]
        if (chunk == FILL_SENTINEL["value"]).all():
            continue  # an empty inner chunk
        enc = encode_chunk(cfg["codecs"], chunk)
        index[k] = (pos + len(body), len(enc))
        body += enc
    raw = index.tobytes()
    raw = raw + crc32c(raw).to_bytes(4, "little")
    return raw + body if at_start else body + raw


def write_v3(path, data, chunks, codecs, fill, key_encoding):
    os.makedirs(path, exist_ok=True)
    dt = data.dtype
    name = [k for k, v in V3_TYPES.items() if np.dtype(v).newbyteorder("<") == dt.newbyteorder("<")][0]
    FILL_SENTINEL["value"] = v3_fill(fill, dt)
    meta = {"zarr_format": 3, "node_type": "array", "shape": list(data.shape), "data_type": name,
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(chunks)}},
            "chunk_key_encoding": key_encoding, "fill_value": fill, "codecs": codecs,
            "attributes": {"written_by": "zarr_interop.py"}}
    json.dump(meta, open(os.path.join(path, "zarr.json"), "w"), indent=2)
    grid = [-(-s // c) for s, c in zip(data.shape, chunks)]
    for idx in np.ndindex(*grid):
        full = np.full(chunks, FILL_SENTINEL["value"], dtype=dt)
        box = tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(idx, chunks, data.shape))
        part = data[box]
        full[tuple(slice(0, b.stop - b.start) for b in box)] = part
        key = os.path.join(path, chunk_key_v3(meta, idx))
        os.makedirs(os.path.dirname(key), exist_ok=True)
        open(key, "wb").write(encode_chunk(codecs, full))


def v3_tests(store):
    crc_ok = crc32c(b"123456789") == 0xE3069283
    check(crc_ok, "crc32c check value of the spec")
    cases = [
        # (name, dtype, shape, chunks, shard, codec SPEC, order, fill text)
        ("v3a", "<f4", (13, 9), (4, 5), None, "blosc:lz4:5:shuffle", "C", '"NaN"'),
        ("v3b", ">i2", (7, 6, 5), (3, 2, 2), None, "gzip:3", "F", "-4"),
        ("v3c", "<u8", (17,), (5,), None, "zstd:2", "C", "0"),
        ("v3d", ">f8", (12, 10), (3, 5), (6, 10), "blosc:zstd:3:bitshuffle", "C", "1.5"),
        ("v3e", "<i4", (9, 9, 4), (2, 3, 2), (4, 6, 4), "none", "C", "0"),
        ("v3f", "|u1", (20,), (4,), (8,), "gzip", "C", "0"),
        ("v3g", "<c16", (5, 4), (2, 2), None, "none", "F", "[1.0, \"NaN\"]"),
        ("v3h", "|b1", (6, 7), (4, 4), (8, 8), "zstd", "C", "false"),
        ("v3i", "<f2", (), (), None, "none", "C", "0"),
    ]
    blob = os.path.join(store, "blob.bin")
    for name, dt, shape, chunks, shard, spec, order, fill in cases:
        what = "v3 tessera->reader %s %s %s shard=%s %s" % (name, dt, shape, shard, spec)
        try:
            args = ["shape=" + lst(shape), "chunks=" + lst(chunks), "dtype=" + dt, "codec=" + spec,
                    "order=" + order, "format=3", "fill=" + fill]
            if shard:
                args.append("shard=" + lst(shard))
            tool(store, "create", name, *args)
            # the caller's buffer of a v3 array is little endian
            data = random_data(np.dtype(dt).newbyteorder("<") if np.dtype(dt).itemsize > 1 else dt,
                               shape)
            if shape:
                data[tuple(slice(0, max(1, s // 3)) for s in shape)] = \
                    v3_fill(json.loads(fill), data.dtype)  # some empty (inner) chunks
            open(blob, "wb").write(data.tobytes())
            tool(store, "write", name, lst([0] * len(shape)), lst(shape), blob)
            got = read_v3(os.path.join(store, name))
            check(same(got, data), what + ": data differs")
        except Exception as e:  # noqa: BLE001
            check(False, "%s: %s" % (what, e))
    # written here, read by Tessera
    big_index = [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}]
    written = [
        ("w3a", "<f8", (11, 7), (4, 3), [{"name": "bytes", "configuration": {"endian": "big"}},
                                        {"name": "gzip", "configuration": {"level": 1}}], "NaN",
         {"name": "default", "configuration": {"separator": "/"}}),
        ("w3b", "<i2", (9, 8), (4, 4), [{"name": "transpose", "configuration": {"order": [1, 0]}},
                                       {"name": "bytes", "configuration": {"endian": "little"}},
                                       {"name": "zstd", "configuration": {"level": 1, "checksum": False}},
                                       {"name": "crc32c"}], 3,
         {"name": "v2", "configuration": {"separator": "."}}),
        ("w3c", "<u4", (16, 12), (8, 6), [{"name": "sharding_indexed", "configuration": {
            "chunk_shape": [4, 3], "index_location": "start", "index_codecs": big_index,
            "codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                       {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5, "shuffle": "shuffle",
                                                           "typesize": 4, "blocksize": 0}}]}}], 0,
         {"name": "default", "configuration": {"separator": "/"}}),
        ("w3d", "<i8", (10, 10), (10, 10), [{"name": "sharding_indexed", "configuration": {
            "chunk_shape": [5, 2], "index_location": "end", "index_codecs": big_index,
            "codecs": [{"name": "bytes", "configuration": {"endian": "big"}}]}}], -1,
         {"name": "default", "configuration": {"separator": "/"}}),
    ]
    out = os.path.join(store, "out.bin")
    for name, dt, shape, chunks, codecs, fill, kenc in written:
        what = "v3 writer->tessera %s" % name
        try:
            data = random_data(dt, shape)
            data[: shape[0] // 2, : shape[1] // 2] = v3_fill(fill, np.dtype(dt))  # empty chunks
            write_v3(os.path.join(store, name), data, chunks, codecs, fill, kenc)
            tool(store, "read", name, lst([0] * len(shape)), lst(shape), out)
            got = np.frombuffer(open(out, "rb").read(), dtype=dt).reshape(shape)
            check(same(got, data), what + ": whole array differs")
            for _ in range(3):
                start, count = random_region(shape)
                tool(store, "read", name, lst(start), lst(count), out)
                got = np.frombuffer(open(out, "rb").read(), dtype=dt).reshape(count)
                check(same(got, np.ascontiguousarray(data[sl(start, count)])), what + ": region differs")
            # and Tessera writes into it: a partial write, checked by the reader here
            start, count = random_region(shape)
            part = random_data(dt, tuple(count))
            open(blob, "wb").write(part.tobytes())
            tool(store, "write", name, lst(start), lst(count), blob)
            data[sl(start, count)] = part
            check(same(read_v3(os.path.join(store, name)), data), what + ": after a Tessera write")
        except Exception as e:  # noqa: BLE001
            check(False, "%s: %s" % (what, e))


def main():
    t0 = time.time()
    tmp = tempfile.mkdtemp(prefix="tess-array-interop-")
    try:
        store = os.path.join(tmp, "store")
        n = v2_matrix(store)
        consolidated(store)
        resize_matches_zarr(store)
        v3_tests(os.path.join(tmp, "v3store"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d v2 cases each way, v3 cases, %.1f s, %d failures" % (n, time.time() - t0, len(FAILURES)))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
