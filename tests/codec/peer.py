#!/usr/bin/python3
"""Codec peer test: Tessera's codecs against numcodecs, byte for byte.

    peer.py PATH/TO/codec_peer_helper

1. numcodecs encodes a matrix of inputs (dtypes x sizes) with a matrix of
   codec configurations; the bytes, the inputs and the JSON go to a temp dir.
2. The C helper decodes numcodecs' bytes with Tessera and compares them with
   the inputs, compares Tessera's JSON with numcodecs' get_config(), and
   encodes every input itself (NAME.tess).
3. numcodecs decodes Tessera's bytes and compares them with the inputs; and
   where both encoders are deterministic the bytes must be identical (gzip:
   except the 4-byte mtime, which Python sets to the time and Tessera to 0).

Zarr v3 forms are checked the same way where numcodecs writes the same
bytes (blosc, gzip, zstd); crc32c against a small pure-Python CRC-32C.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import numcodecs
from numcodecs import Blosc, Delta, GZip, LZ4, Shuffle, Zlib, Zstd

RNG = np.random.default_rng(20240601)

# With threads, c-blosc 1.x places the compressed blocks in the order the
# threads finish: numcodecs' own bytes then vary from call to call.  Tessera
# compresses on one thread (chunks are what it parallelizes), so compare
# with numcodecs on one thread.
numcodecs.blosc.use_threads = False

# NumPy warns about the wrap-around that delta encodes on purpose.
warnings.filterwarnings("ignore", category=RuntimeWarning)


def crc32c(data):
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    crc = 0xFFFFFFFF
    for b in data:
        crc = (crc >> 8) ^ table[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFFFFFF


def as_bytes(x):
    if isinstance(x, np.ndarray):
        return bytes(np.ascontiguousarray(x).reshape(-1).view(np.uint8))
    return bytes(x)


def make_input(dtype, n, kind):
    dt = np.dtype(dtype)
    if kind == "smooth":
        x = np.sin(np.arange(n) / 50.0) * 1000
    else:
        x = RNG.standard_normal(n) * 1e4
    if dt.kind in "iu":
        info = np.iinfo(dt)
        if kind == "random":
            x = RNG.integers(info.min, info.max, size=n, dtype=dt.newbyteorder("="), endpoint=True)
        return np.asarray(x).astype(dt)
    if dt.itemsize == 2 and kind == "random":
        # every half bit pattern that is not NaN: subnormals, infinities too
        bits = RNG.integers(0, 1 << 16, size=n, dtype=np.uint16)
        h = bits.view(np.float16)
        return np.where(np.isnan(h), np.float16(1.5), h).astype(dt)
    return x.astype(dt)


SMALL_DTYPES = ["|u1", "<i2", "<i4", "<u4", "<f4", "<f8", ">i8", "<u8", "<f2", ">f4"]


def small_inputs():
    out = []
    for dt in SMALL_DTYPES:
        for n in (1, 1001):
            for kind in ("smooth", "random"):
                if n == 1 and kind == "random":
                    continue
                out.append((f"{dt}-{n}-{kind}", make_input(dt, n, kind)))
    return out


def big_inputs():
    # 1 MiB each
    return [("<f4-big-smooth", make_input("<f4", 1 << 18, "smooth")),
            ("|u1-big-random", make_input("|u1", 1 << 20, "random")),
            ("<i8-big-smooth", make_input("<i8", 1 << 17, "smooth"))]


def v2_configs():
    """(codec, big?) pairs"""
    cfgs = []
    for cname in numcodecs.blosc.list_compressors():
        for shuffle in (-1, 0, 1, 2):
            cfgs.append((Blosc(cname=cname, clevel=5, shuffle=shuffle), shuffle == 1))
    for cname in ("lz4", "zstd", "zlib", "blosclz"):
        for clevel in (0, 1, 9):
            cfgs.append((Blosc(cname=cname, clevel=clevel, shuffle=1), False))
    for blocksize in (256, 4096, 100000):
        cfgs.append((Blosc(cname="lz4", clevel=5, shuffle=1, blocksize=blocksize), blocksize == 4096))
        cfgs.append((Blosc(cname="blosclz", clevel=3, shuffle=2, blocksize=blocksize), False))
    for level in (-5, 1, 3, 9, 22):
        cfgs.append((Zstd(level=level), level in (1, 3)))
    for accel in (1, 5, 100, 0, -3):
        cfgs.append((LZ4(acceleration=accel), accel == 1))
    for level in (1, 5, 9, -1, 0):
        cfgs.append((GZip(level=level), level in (1, 5)))
        cfgs.append((Zlib(level=level), level in (1, 5)))
    for es in (0, 1, 2, 3, 4, 8):
        cfgs.append((Shuffle(elementsize=es), es == 4))
    return cfgs


def delta_configs(dtype):
    dt = np.dtype(dtype)
    cfgs = [Delta(dtype=dt.str)]
    if dt.kind in "iu":
        # uint64 with a signed type: NumPy decodes in float64; Tessera refuses
        u8 = dt.kind == "u" and dt.itemsize == 8
        cfgs += [Delta(dtype=dt.str, astype="<u8" if u8 else "<i8"),
                 Delta(dtype=dt.str, astype="|u1"), Delta(dtype=dt.str, astype=">u2")]
        if not u8:
            cfgs += [Delta(dtype=dt.str, astype="|i1"), Delta(dtype=dt.str, astype="<i4")]
    return cfgs


class Matrix:
    def __init__(self, root):
        self.root = root
        self.cases = []  # manifest entries
        self.peer = {}   # name -> (decode codec or None, raw, expected bytes or None, exact kind)

    def add(self, fmt, config, json_form, raw, enc, decoder, exact, itemsize, dec=None):
        """dec: what decoding gives when the codec is lossy (delta to a
        narrower type, float deltas rounding), else raw"""
        name = f"c{len(self.cases)}"
        raw = bytes(raw)
        with open(os.path.join(self.root, name + ".raw"), "wb") as f:
            f.write(raw)
        if enc is not None:
            with open(os.path.join(self.root, name + ".enc"), "wb") as f:
                f.write(bytes(enc))
        if dec is not None and dec != raw:
            with open(os.path.join(self.root, name + ".dec"), "wb") as f:
                f.write(dec)
        self.cases.append({"name": name, "zarr_format": fmt, "config": config,
                           "itemsize": itemsize, "json": json_form})
        self.peer[name] = (decoder, raw if dec is None else dec,
                           None if enc is None else bytes(enc), exact,
                           json.dumps(config, sort_keys=True))

    def add_v2(self, codec, label, arr):
        enc = as_bytes(codec.encode(arr))
        cfg = codec.get_config()
        exact = "gzip" if cfg["id"] == "gzip" else "bytes"
        dec = as_bytes(codec.decode(enc))
        self.add(2, cfg, cfg, arr.tobytes(), enc, codec, exact, arr.dtype.itemsize, dec)


def build(root):
    m = Matrix(root)
    small, big = small_inputs(), big_inputs()
    for codec, with_big in v2_configs():
        for label, arr in small + (big if with_big else []):
            if codec.codec_id == "shuffle" and codec.elementsize > 1 and arr.nbytes % codec.elementsize:
                continue
            m.add_v2(codec, label, arr)
    for label, arr in small + big[:1]:
        if arr.dtype.kind in "iuf":
            for codec in delta_configs(arr.dtype):
                m.add_v2(codec, label, arr)
    # A filter chain as zarr-python applies it: delta, then blosc on its bytes.
    # Zarr v3: same bytes as numcodecs, different JSON.
    for label, arr in small + big[:1]:
        isz = arr.dtype.itemsize
        for shuffle, num in (("noshuffle", 0), ("shuffle", 1), ("bitshuffle", 2)):
            conf = {"cname": "zstd", "clevel": 3, "shuffle": shuffle, "typesize": isz, "blocksize": 0}
            codec = Blosc(cname="zstd", clevel=3, shuffle=num)
            m.add(3, {"name": "blosc", "configuration": conf}, {"name": "blosc", "configuration": conf},
                  arr.tobytes(), codec.encode(arr), codec, "bytes", isz)
        conf = {"level": 6}
        m.add(3, {"name": "gzip", "configuration": conf}, {"name": "gzip", "configuration": conf},
              arr.tobytes(), GZip(6).encode(arr), GZip(6), "gzip", isz)
        for checksum in (False, True):
            conf = {"level": 5, "checksum": checksum}
            enc = None if checksum else Zstd(5).encode(arr)
            m.add(3, {"name": "zstd", "configuration": conf}, {"name": "zstd", "configuration": conf},
                  arr.tobytes(), enc, Zstd(5), "bytes" if not checksum else None, isz)
        if arr.nbytes <= 16384:
            raw = arr.tobytes()
            enc = raw + crc32c(raw).to_bytes(4, "little")
            m.add(3, {"name": "crc32c"}, {"name": "crc32c"}, raw, enc, None, "bytes", isz)
            m.add(3, "crc32c", {"name": "crc32c"}, raw, enc, None, "bytes", isz)
    with open(os.path.join(root, "manifest.json"), "w") as f:
        json.dump(m.cases, f)
    return m


def check_back(m):
    """numcodecs decodes what Tessera wrote; deterministic encoders match."""
    failures = 0
    exact_ok = 0
    for name, (decoder, raw, enc, exact, cfg) in m.peer.items():
        path = os.path.join(m.root, name + ".tess")
        if not os.path.exists(path):
            continue  # the helper reported it
        with open(path, "rb") as f:
            mine = f.read()
        if decoder is None:  # crc32c
            back = mine[:-4] if len(mine) >= 4 and crc32c(mine[:-4]).to_bytes(4, "little") == mine[-4:] else None
        else:
            try:
                back = as_bytes(decoder.decode(mine))
            except Exception as e:  # noqa: BLE001 - report any numcodecs failure
                back = None
                print(f"FAIL {name} {cfg}: numcodecs cannot decode Tessera's bytes: {e}")
        if back is not None and back != raw:
            print(f"FAIL {name} {cfg}: numcodecs decodes Tessera's bytes to something else")
            back = None
        if back is None:
            failures += 1
            continue
        if enc is None or exact is None:
            continue
        same = (mine[:4] == enc[:4] and mine[8:] == enc[8:]) if exact == "gzip" else mine == enc
        if not same:
            failures += 1
            print(f"FAIL {name} {cfg}: {len(mine)} bytes differ from numcodecs' {len(enc)} "
                  f"(raw {len(raw)} bytes)")
        else:
            exact_ok += 1
    return failures, exact_ok


def main():
    helper = sys.argv[1]
    root = tempfile.mkdtemp(prefix="tess-codec-peer-")
    try:
        m = build(root)
        r = subprocess.run([helper, root])
        failures, exact_ok = check_back(m)
        print(f"codec peer: {len(m.cases)} cases; Tessera's bytes identical to numcodecs' in "
              f"{exact_ok}; {failures} failures on the Python side; helper exit {r.returncode}")
        return 1 if failures or r.returncode else 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
