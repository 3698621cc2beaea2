#!/usr/bin/python3
"""Regenerates the seed corpora of the codec fuzz targets
(fuzz/corpus/codec_*/) with numcodecs and the zstd CLI.

Each seed is one byte (max_out and, for the filters target, the codec: see
fuzz/fuzz_codec.h) followed by encoded data; at most 4096 bytes, what the
standalone fuzz driver reads.  Run with /usr/bin/python3.
"""
import gzip
import io
import os
import struct
import subprocess
import zlib

import numpy as np
import numcodecs as n

n.blosc.use_threads = False
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fuzz", "corpus")


def put(target, name, prefix, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    seed = bytes([prefix]) + bytes(data)
    assert len(seed) <= 4096, (target, name, len(seed))
    with open(os.path.join(d, name), "wb") as f:
        f.write(seed)


def b(a):
    return a.tobytes()


x = (np.sin(np.arange(500) / 20.0) * 1000).astype('<i4')
u = np.arange(3000, dtype='u1')
r = np.random.default_rng(1).integers(0, 255, 600, dtype='u1')

# blosc
for cname in ['blosclz', 'lz4', 'lz4hc', 'zlib', 'zstd']:
    for sh in (0, 1, 2):
        put('codec_blosc', f'{cname}-{sh}', 0, n.Blosc(cname=cname, clevel=5, shuffle=sh).encode(x))
put('codec_blosc', 'memcpy', 0, n.Blosc(clevel=0).encode(x[:200]))
put('codec_blosc', 'blocks', 0, n.Blosc(cname='lz4', blocksize=256, shuffle=1).encode(x))
put('codec_blosc', 'random', 3, n.Blosc(cname='zstd').encode(r))
put('codec_blosc', 'empty', 0, n.Blosc().encode(b''))
# zstd
put('codec_zstd', 'level1', 0, n.Zstd(1).encode(x))
put('codec_zstd', 'level19', 0, n.Zstd(19).encode(u))
put('codec_zstd', 'random', 2, n.Zstd(1).encode(r))
p = subprocess.run(['zstd', '-q', '-c', '-'], input=b(x), capture_output=True)
if p.returncode == 0:
    put('codec_zstd', 'nosize', 0, p.stdout)
    put('codec_zstd', 'twoframes', 0, n.Zstd(3).encode(u[:100]) + p.stdout)
p = subprocess.run(['zstd', '-q', '-c', '--check', '-'], input=b(u), capture_output=True)
if p.returncode == 0:
    put('codec_zstd', 'checksum', 0, p.stdout)
# lz4
put('codec_lz4', 'accel1', 0, n.LZ4(1).encode(x))
put('codec_lz4', 'accel9', 0, n.LZ4(9).encode(u))
put('codec_lz4', 'random', 1, n.LZ4().encode(r))
put('codec_lz4', 'empty', 0, n.LZ4().encode(b''))
# gzip
put('codec_gzip', 'level1', 0, n.GZip(1).encode(x))
put('codec_gzip', 'level9', 0, n.GZip(9).encode(u))
put('codec_gzip', 'members', 0, n.GZip(1).encode(u[:50]) + n.GZip(5).encode(x[:100]) + b'\0\0')
bio = io.BytesIO()
with gzip.GzipFile(filename='name.bin', mode='wb', fileobj=bio, mtime=1) as f:
    f.write(b(x[:300]))
put('codec_gzip', 'fname', 0, bio.getvalue())
put('codec_gzip', 'stored', 4, n.GZip(0).encode(r[:300]))
# zlib
put('codec_zlib', 'level1', 0, n.Zlib(1).encode(x))
put('codec_zlib', 'level9', 0, n.Zlib(9).encode(u))
put('codec_zlib', 'stored', 5, n.Zlib(0).encode(r[:300]))
co = zlib.compressobj(6, zlib.DEFLATED, 15, 9, zlib.Z_FILTERED)
put('codec_zlib', 'filtered', 0, co.compress(b(x)) + co.flush())
# filters: byte0 = 12 * k picks configs[k] of fuzz_codec_filters.c

def crc32c(data):
    t = []
    for k in range(256):
        c = k
        for _ in range(8): c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    c = 0xFFFFFFFF
    for v in data: c = (c >> 8) ^ t[(c ^ v) & 0xFF]
    return c ^ 0xFFFFFFFF


raw = b(x[:400])
put('codec_filters', 'crc32c', 0, raw + struct.pack('<I', crc32c(raw)))
for k, es in ((1, 2), (2, 3), (3, 4), (4, 8)):
    put('codec_filters', f'shuffle{es}', 12 * k, n.Shuffle(es).encode(np.frombuffer(raw[:len(raw) - len(raw) % es], 'u1')))
put('codec_filters', 'delta-i4', 12 * 5, n.Delta('<i4').encode(x).tobytes())
put('codec_filters', 'delta-u1', 12 * 6, n.Delta('|u1').encode(u[:1000]).tobytes())
put('codec_filters', 'delta-i8', 12 * 7, n.Delta('>i8', '<i8').encode(x.astype('>i8')).tobytes())
put('codec_filters', 'delta-i2-i1', 12 * 8, n.Delta('<i2', '|i1').encode(x.astype('<i2')).tobytes())
put('codec_filters', 'delta-f4', 12 * 10, n.Delta('<f4').encode(x.astype('<f4') / 7).tobytes())
put('codec_filters', 'delta-f2', 12 * 11, n.Delta('<f2').encode((x / 100).astype('<f2')).tobytes())
