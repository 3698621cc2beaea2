#!/usr/bin/python3
"""Pyramids against NumPy and zarr-python.

usage: pyramid_peer.py PYR_TOOL

Every level Tessera computes is compared with levels computed here with
NumPy, exactly (bytes), for every aggregator, several dtypes, nodata, NaN,
odd shapes and a non-aggregating band; reads at any resolution, points,
extent and data bounds too.  An incremental update after small writes must
equal a full rebuild byte for byte, also when the update was killed with
SIGKILL half-way and run again.  zarr-python must open every level.
"""
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

TOOL = sys.argv[1]
TMP = tempfile.mkdtemp(prefix="tess-pyr-")
SANITIZED = os.environ.get("TESS_SANITIZED") == "1"
CHECKS = 0


def run(*args, check=True):
    """One pyr_tool process; commands may be chained with "+"."""
    r = subprocess.run([TOOL] + [str(a) for a in args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise SystemExit("pyr_tool %s failed: %s" % (" ".join(map(str, args)), r.stderr))
    return r


def lst(v):
    return ",".join(repr(float(x)) if isinstance(x, float) else str(int(x)) for x in v)


def same(got, want, what):
    global CHECKS
    CHECKS += 1
    if got.shape != want.shape or got.dtype != want.dtype or got.tobytes() != want.tobytes():
        print("MISMATCH", what, got.dtype, want.dtype, got.shape, want.shape)
        if got.shape == want.shape:
            bad = np.argwhere(~((got == want) | (np.isnan(got.astype("f8")) & np.isnan(want.astype("f8")))))
            for idx in bad[:8]:
                print("  at", tuple(idx), "got", got[tuple(idx)], "want", want[tuple(idx)])
        raise SystemExit(1)


# ---- the reference: one level from the one below -----------------------------------------

def fill_of(dt, nodata):
    if nodata is not None:
        return np.array(nodata).astype(dt)
    return np.array(np.nan if dt.kind == "f" else 0).astype(dt)


def valid_of(a, nodata):
    v = np.ones(a.shape, bool)
    if a.dtype.kind == "f":
        v &= ~np.isnan(a)
    if nodata is not None:
        v &= a != np.array(nodata).astype(a.dtype)
    return v


def saturate(x, dt):
    """Python ints or floats (object array) into dt, saturated."""
    info = np.iinfo(dt)
    return np.array([min(max(int(v), info.min), info.max) for v in x.ravel()],
                    dtype=dt).reshape(x.shape)


def round_half_away(m):
    return np.where(m >= 0, np.floor(m + 0.5), -np.floor(-m + 0.5))


def blocks(a, aggd):
    """out_shape + (B,) block values in the block's C order, and validity of
    the padding (False where the block has no cell)."""
    pad = [(0, a.shape[d] % 2 if aggd[d] else 0) for d in range(a.ndim)]
    exists = np.pad(np.ones(a.shape, bool), pad)
    a = np.pad(a, pad)
    shape, axes, k = [], [], 0
    for d in range(a.ndim):
        if aggd[d]:
            shape += [a.shape[d] // 2, 2]
            axes.append(k + 1)
            k += 2
        else:
            shape.append(a.shape[d])
            k += 1
    keep = [i for i in range(len(shape)) if i not in axes]
    order = keep + axes
    out_shape = tuple(shape[i] for i in keep)
    b = a.reshape(shape).transpose(order).reshape(out_shape + (-1,))
    e = exists.reshape(shape).transpose(order).reshape(out_shape + (-1,))
    return b, e


def agg_level(a, aggd, agg, nodata):
    dt = a.dtype
    vals, exists = blocks(a, aggd)
    valid = exists & valid_of(vals, nodata)
    n = valid.sum(axis=-1)
    fill = fill_of(dt, nodata)
    out = np.full(vals.shape[:-1], fill, dtype=dt)
    has = n > 0
    B = vals.shape[-1]
    if agg == "mean":
        s = np.zeros(vals.shape[:-1], "f8")
        for i in range(B):  # in order, as Tessera adds
            s = s + np.where(valid[..., i], vals[..., i].astype("f8"), 0.0)
        m = s / np.maximum(n, 1)
        if dt.kind == "f":
            r = m.astype(dt)
        else:
            r = saturate(round_half_away(m).astype(object), dt)
    elif agg in ("min", "max"):
        if dt.kind == "f":
            big = np.array(np.inf if agg == "min" else -np.inf).astype(dt)
        else:
            info = np.iinfo(dt)
            big = np.array(info.max if agg == "min" else info.min).astype(dt)
        v = np.where(valid, vals, big)
        r = v.min(axis=-1) if agg == "min" else v.max(axis=-1)
    elif agg == "sum":
        if dt.kind == "f":
            s = np.zeros(vals.shape[:-1], "f8")
            for i in range(B):
                s = s + np.where(valid[..., i], vals[..., i].astype("f8"), 0.0)
            with np.errstate(over="ignore"):
                r = s.astype(dt)
        else:
            s = np.where(valid, vals.astype(object), 0).sum(axis=-1)
            r = saturate(np.asarray(s, dtype=object), dt)
    elif agg == "count":
        r = n.astype(dt) if dt.kind == "f" else saturate(n.astype(object), dt)
    elif agg == "mode":
        r = np.empty(vals.shape[:-1], dt)
        for idx in np.ndindex(*vals.shape[:-1]):
            v = vals[idx][valid[idx]]
            if v.size == 0:
                r[idx] = fill
                continue
            u, c = np.unique(v, return_counts=True)
            r[idx] = u[np.argmax(c)]
    elif agg == "nearest":
        first = np.argmax(valid, axis=-1)
        r = np.take_along_axis(vals, first[..., None], axis=-1)[..., 0]
    elif agg == "last":
        lastv = B - 1 - np.argmax(valid[..., ::-1], axis=-1)
        r = np.take_along_axis(vals, lastv[..., None], axis=-1)[..., 0]
    else:
        raise ValueError(agg)
    out[has] = r[has]
    return out


def expected_levels(a0, aggd, agg, nodata, chunks):
    levels = [a0]
    def fits(a):
        return all(not aggd[d] or a.shape[d] <= chunks[d] for d in range(a.ndim))
    while not fits(levels[-1]):
        k = len(levels)
        levels.append(agg_level(levels[-1], aggd, "sum" if agg == "count" and k > 1 else agg, nodata))
    return levels


def dump(url, path):
    d = tempfile.mkdtemp(dir=TMP)
    nl = int(run(url, "dump", path, d).stdout)
    return [np.load(os.path.join(d, "%d.npy" % k)) for k in range(nl)]


def create(url, path, shape, chunks, dtype, agg, **kw):
    return int(run(url, *create_args(path, shape, chunks, dtype, agg, **kw)).stdout)


def create_args(path, shape, chunks, dtype, agg, aggdims=None, nodata=None, fmt=2, names=None,
                extra=()):
    args = ["create", path, "shape=" + lst(shape), "chunks=" + lst(chunks),
            "dtype=" + np.dtype(dtype).str, "agg=" + agg, "format=%d" % fmt]
    if aggdims is not None:
        args.append("aggdims=" + lst(aggdims))
    if nodata is not None:
        args.append("nodata=%r" % float(nodata))
    if names:
        args.append("names=" + ",".join(names))
    return args + list(extra)


def build(url, path, a, chunks, agg, **kw):
    """Create, write a, update and dump, in one process; the levels."""
    f = os.path.join(TMP, "w.bin")
    np.ascontiguousarray(a).tofile(f)
    d = tempfile.mkdtemp(dir=TMP)
    out = run(url, *create_args(path, a.shape, chunks, a.dtype, agg, **kw),
              "+", "write", path, lst([0] * a.ndim), lst(a.shape), f,
              "+", "update", path, "+", "dump", path, d).stdout.split("\n")
    nl = int(out[-2])
    return [np.load(os.path.join(d, "%d.npy" % k)) for k in range(nl)]


def write(url, path, start, arr, plain=False):
    f = os.path.join(TMP, "w.bin")
    np.ascontiguousarray(arr).tofile(f)
    run(url, "awrite" if plain else "write", path, lst(start), lst(arr.shape), f)


def new_url():
    return tempfile.mkdtemp(dir=TMP) + "/store"


# ---- data --------------------------------------------------------------------------------

def sample(rng, shape, dtype, nodata, with_nan, small=False):
    dt = np.dtype(dtype)
    if dt.kind == "f":
        a = rng.normal(0, 100, shape).astype(dt)
        if small:
            a = rng.integers(-3, 4, shape).astype(dt)
    else:
        info = np.iinfo(dt)
        lo, hi = (0, 4) if small else (max(info.min, -1000), min(info.max, 1000))
        a = rng.integers(lo, hi, shape, endpoint=True).astype(dt)
    if nodata is not None:
        a[rng.random(shape) < 0.25] = np.array(nodata).astype(dt)
        a[5:9, 6:10] = np.array(nodata).astype(dt)  # a block with no valid cell
    if with_nan:
        a[rng.random(shape) < 0.15] = np.nan
    return a


def check_aggregators():
    rng = np.random.default_rng(5)
    url = "mem://aggregators"  # each case is one process: create, write, update, dump
    aggs = ["mean", "min", "max", "sum", "count", "mode", "nearest", "last"]
    cases = []
    for agg in aggs:
        cases += [(agg, "<f4", -9999.0, True, (37, 53), (8, 8), None, 2),
                  (agg, "<i2", -1.0, False, (37, 53), (8, 8), None, 2),
                  (agg, "|u1", None, False, (37, 53), (16, 8), None, 3)]
    cases += [("mean", "<f8", None, True, (23, 41), (4, 8), None, 2),
              ("mean", "|i1", -128, False, (19, 21), (4, 4), None, 2),
              ("mean", "<u2", None, False, (19, 21), (4, 4), None, 2),
              ("sum", "|i1", None, False, (19, 21), (2, 2), None, 2),   # saturates
              ("sum", "<i4", 7, False, (19, 21), (4, 4), None, 2),
              ("sum", "<u4", None, False, (19, 21), (4, 4), None, 3),
              ("sum", "<i8", None, False, (19, 21), (4, 4), None, 2),
              ("mean", "<u8", None, False, (19, 21), (4, 4), None, 2),
              ("count", "|u1", None, False, (40, 40), (2, 2), None, 2),  # saturates at 255
              ("mode", "<f8", -1.0, True, (17, 17), (4, 4), None, 2),
              # 3-d: band carried through; and all three dims aggregating
              ("mean", "<f4", None, True, (3, 37, 53), (1, 8, 8), (0, 1, 1), 2),
              ("mode", "<i2", 0, False, (3, 21, 19), (2, 8, 8), (0, 1, 1), 2),
              ("nearest", "<f4", -9999.0, False, (3, 21, 19), (1, 8, 8), (0, 1, 1), 3),
              ("mean", "<f8", None, True, (9, 11, 13), (2, 2, 2), (1, 1, 1), 2),
              ("sum", "<i4", -5, False, (9, 11, 13), (3, 2, 4), (1, 1, 1), 2),
              ("last", "<f4", None, True, (53,), (4,), None, 2),
              ("max", "<i2", None, False, (7, 37), (7, 5), (0, 1), 2)]
    for i, (agg, dtype, nodata, nan, shape, chunks, aggd, fmt) in enumerate(cases):
        small = agg == "mode" or (agg == "sum" and dtype == "|i1") or dtype == "|u1"
        a = sample(rng, shape, dtype, nodata, nan, small)
        if dtype == "|i1" and agg == "sum":
            a = rng.integers(100, 127, shape, endpoint=True).astype("i1")
        if dtype == "<i8" and agg == "sum":
            a = rng.integers(2 ** 62, 2 ** 63 - 1, shape).astype("<i8")  # saturates
        if dtype == "<u8" and agg == "mean":
            a = rng.integers(0, 2 ** 40, shape).astype("<u8")
        aggd_l = list(aggd) if aggd is not None else [1] * len(shape)
        path = "c%d" % i
        got = build(url, path, a, chunks, agg, aggdims=aggd_l, nodata=nodata, fmt=fmt)
        want = expected_levels(a, aggd_l, agg, nodata, chunks)
        if len(got) != len(want):
            raise SystemExit("case %d (%s %s): %d levels, expected %d" % (i, agg, dtype, len(got), len(want)))
        for k in range(len(want)):
            same(got[k], want[k], "case %d %s %s %s level %d" % (i, agg, dtype, shape, k))
    print("aggregators: %d cases ok" % len(cases))


# ---- incremental updates ------------------------------------------------------------------

def check_incremental():
    rng = np.random.default_rng(7)
    url = new_url()
    shape, chunks = (64, 96), (8, 8)
    create(url, "inc", shape, chunks, "<f4", "mean", nodata=-9999.0)
    full = sample(rng, shape, "<f4", -9999.0, True)
    write(url, "inc", (0, 0), full)
    run(url, "update", "inc")
    cur = full.copy()
    # small writes, some across chunk edges, some through the plain array API,
    # in one process
    cmds = []
    for j in range(12):
        h, w = rng.integers(1, 20, 2)
        y, x = rng.integers(0, shape[0] - h), rng.integers(0, shape[1] - w)
        patch = sample(rng, (h, w), "<f4", None, j % 3 == 0)
        f = os.path.join(TMP, "p%d.bin" % j)
        patch.tofile(f)
        cmds += ["+", "awrite" if j % 2 else "write", "inc", lst((y, x)), lst((h, w)), f]
        cur[y:y + h, x:x + w] = patch
        if j % 4 == 3:
            cmds += ["+", "update", "inc"]
    out = run(url, *cmds[1:]).stdout.split("\n")
    for line in out[:-1]:
        if not line.startswith("dirty=") or line.startswith("dirty=0 "):
            raise SystemExit("update saw no dirty chunks: " + line)
    # growth: a write past the edge grows level 0 and the levels above
    patch = sample(rng, (8, 40), "<f4", None, False)
    write(url, "inc", (70, 90), patch)
    grown = np.full((78, 130), np.float32(-9999.0), "<f4")
    grown[:64, :96] = cur
    grown[70:78, 90:130] = patch
    out = run(url, "update", "inc").stdout
    inc = dump(url, "inc")
    want = expected_levels(grown, [1, 1], "mean", -9999.0, chunks)
    if int(run(url, "dirty", "inc").stdout) != 0:
        raise SystemExit("dirty records left after the update")
    run(url, "rebuild", "inc")
    reb = dump(url, "inc")
    if len(inc) != len(want) or len(reb) != len(want):
        raise SystemExit("levels: %d incremental, %d rebuilt, %d expected" % (len(inc), len(reb), len(want)))
    for k in range(len(want)):
        same(inc[k], reb[k], "incremental vs rebuild level %d" % k)
        same(inc[k], want[k], "incremental vs numpy level %d" % k)
    print("incremental == rebuild: ok (%d levels, %s)" % (len(inc), out.strip()))


def level_inodes(store, path):
    ino = {}
    for k in range(1, 8):
        d = os.path.join(store, path, str(k))
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            if not name.startswith("."):
                try:
                    ino[(k, name)] = os.stat(os.path.join(d, name)).st_ino
                except FileNotFoundError:
                    pass
    return ino


def check_kill():
    """SIGKILL an update half-way; the next update gives the right result."""
    rng = np.random.default_rng(11)
    url = new_url()
    shape, chunks = (512, 512), (32, 32)  # an update writes 85 chunks
    create(url, "k", shape, chunks, "<f4", "mean")
    a = rng.normal(0, 1, shape).astype("<f4")
    write(url, "k", (0, 0), a)
    run(url, "update", "k")
    killed = partial = 0
    for attempt, delay in enumerate((0.0, 0.01, 0.05)):
        a = rng.normal(attempt + 1, 1, shape).astype("<f4")
        write(url, "k", (0, 0), a, plain=True)
        before = level_inodes(url, "k")
        proc = subprocess.Popen([TOOL, url, "update", "k"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        changed = False
        while proc.poll() is None and time.time() < deadline:
            now = level_inodes(url, "k")
            if any(now.get(key) != ino for key, ino in before.items()):
                changed = True
                break
            time.sleep(0.001)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait()
        if proc.returncode == -signal.SIGKILL:
            after = level_inodes(url, "k")
            moved = sum(after.get(key) != ino for key, ino in before.items())
            partial += 0 < moved < len(before)
            # records go only once every level is written
            if int(run(url, "dirty", "k").stdout) == 0 and moved < len(before):
                raise SystemExit("a killed update deleted its records before writing "
                                 "every level (%d of %d chunks)" % (moved, len(before)))
        # the lease of the killed update's lock would make the next wait up to 30 s:
        # it is the store's business (docs/format.md); break it as a waiter would
        for f in os.listdir(os.path.join(url, ".tessera", "locks")) if os.path.isdir(os.path.join(url, ".tessera", "locks")) else []:
            os.unlink(os.path.join(url, ".tessera", "locks", f))
        run(url, "update", "k")
        got = dump(url, "k")
        want = expected_levels(a, [1, 1], "mean", None, chunks)
        for k in range(len(want)):
            same(got[k], want[k], "after kill %d level %d" % (attempt, k))
    if partial == 0:
        raise SystemExit("no update was killed half-way (%d killed)" % killed)
    print("kill -9 during update: ok (%d killed, %d with some levels written)" % (killed, partial))


# ---- reads -----------------------------------------------------------------------------------

def ref_read(levels, aggd, a, b, out, rs, nodata):
    """Tessera's resampling, in Python floats (same operation order)."""
    a0 = levels[0]
    dt = a0.dtype
    k = len(levels) - 1
    for d in range(a0.ndim):
        if aggd[d]:
            r = (b[d] - a[d]) / out[d]
            kd = 0
            while kd < k and 2.0 ** (kd + 1) <= r:
                kd += 1
            k = min(k, kd)
    lv = levels[k]
    f = 2.0 ** k
    fill = fill_of(dt, nodata)
    maps = []
    for d in range(a0.ndim):
        n0 = a0.shape[d]
        r = (b[d] - a[d]) / out[d]
        m = []
        for o in range(out[d]):
            if not aggd[d]:
                m.append([(int(a[d]) + o, 1.0)])
            elif rs == "nearest":
                x = a[d] + (o + 0.5) * r
                m.append([(int(math.floor(x / f)), 1.0)] if 0 <= x < n0 else [])
            else:
                x0 = max(a[d] + o * r, 0.0)
                x1 = min(a[d] + (o + 1) * r, float(n0))
                cells = []
                i = math.floor(x0 / f)
                while x1 > x0 and i * f < x1:
                    c0, c1 = i * f, min((i + 1) * f, float(n0))
                    w = min(x1, c1) - max(x0, c0)
                    if w > 0 and i < lv.shape[d]:
                        cells.append((int(i), w))
                    i += 1
                m.append(cells)
        maps.append(m)
    res = np.empty(out, dt)
    valid = valid_of(lv, nodata)
    for idx in np.ndindex(*out):
        lists = [maps[d][idx[d]] for d in range(len(out))]
        if any(not l for l in lists):
            res[idx] = fill
            continue
        if rs == "nearest":
            res[idx] = lv[tuple(l[0][0] for l in lists)]
            continue
        s = ws = 0.0
        for combo in np.ndindex(*[len(l) for l in lists]):
            w = 1.0
            src = []
            for d, e in enumerate(combo):
                src.append(lists[d][e][0])
                w *= lists[d][e][1]
            src = tuple(src)
            if valid[src]:
                s += w * float(lv[src])
                ws += w
        if ws > 0:
            m = s / ws
            if dt.kind == "f":
                res[idx] = np.array(m).astype(dt)
            else:
                res[idx] = saturate(np.array([round_half_away(np.array(m))], dtype=object), dt)[0]
        else:
            res[idx] = fill
    return res, k


def check_reads():
    rng = np.random.default_rng(3)
    url = new_url()
    shape, chunks = (150, 210), (16, 16)
    origin, step = (1000.0, 500.0), (-2.0, 0.5)  # y from the top edge downwards, x rightwards
    create(url, "r", shape, chunks, "<f4", "mean", nodata=-1.0,
           names=("y", "x"), extra=("origin=" + lst(origin), "step=" + lst(step)))
    a = rng.normal(10, 3, shape).astype("<f4")
    a[rng.random(shape) < 0.1] = -1.0
    write(url, "r", (0, 0), a)
    run(url, "update", "r")
    levels = dump(url, "r")
    cases = [((0, 0), (150, 210), (150, 210)), ((16, 32), (64, 64), (8, 8)),
             ((3, 5), (101, 77), (13, 9)), ((0, 0), (150, 210), (5, 7)),
             ((7, 11), (10, 12), (40, 30)), ((100, 150), (50, 60), (50, 3)),
             # two top-level cells per output cell: the blocks path
             ((32, 64), (64, 64), (2, 2)), ((0, 0), (128, 192), (4, 6))]
    # world boxes, partly outside the data
    boxes = [((900.0, 510.0), (990.0, 560.0), (20, 25)), ((600.0, 480.0), (1010.0, 620.0), (30, 40))]
    cmds, wants = [], []
    for n, (start, count, out) in enumerate(cases + boxes):
        for rs in ("nearest", "average"):
            f = os.path.join(TMP, "out%d%s.npy" % (n, rs))
            if n < len(cases):
                cmds += ["+", "read", "r", lst(start), lst(count), lst(out), rs, f]
                a_ = [float(v) for v in start]
                b_ = [float(v + c) for v, c in zip(start, count)]
            else:
                lo, hi = start, count
                cmds += ["+", "readw", "r", lst(lo), lst(hi), lst(out), rs, f]
                a_ = [(hi[0] - origin[0]) / step[0], (lo[1] - origin[1]) / step[1]]
                b_ = [(lo[0] - origin[0]) / step[0], (hi[1] - origin[1]) / step[1]]
            want, k = ref_read(levels, [1, 1], a_, b_, out, rs, -1.0)
            wants.append((f, want, k, "read %s %s %s %s" % (start, count, out, rs)))
    got_levels = run(url, *cmds[1:]).stdout.split()
    for (f, want, k, what), lvl in zip(wants, got_levels):
        if int(lvl) != k:
            raise SystemExit("%s: level %s, expected %d" % (what, lvl, k))
        same(np.load(f), want, what)
    # points
    pts = ((999.9, 500.1), (701.0, 604.9), (1000.0, 500.0), (700.5, 535.25))
    cmds = []
    for y, x in pts:
        cmds += ["+", "point", "r", lst((y, x))]
    vals = run(url, *cmds[1:]).stdout.split()
    for (y, x), v in zip(pts, vals):
        i, j = math.floor((y - origin[0]) / step[0]), math.floor((x - origin[1]) / step[1])
        if float(v) != float(a[i, j]):
            raise SystemExit("point %s %s: %r, expected %r" % (y, x, v, float(a[i, j])))
    # 3-d, integers, a band carried through: the general resampling path
    b3 = rng.integers(-50, 50, (3, 40, 50)).astype("<i2")
    b3[rng.random(b3.shape) < 0.2] = -1
    lv3 = build(url, "r3", b3, (1, 8, 8), "mean", aggdims=(0, 1, 1), nodata=-1)
    cmds, wants = [], []
    for n, (start, count, out) in enumerate((((1, 3, 5), (2, 33, 41), (2, 7, 9)),
                                            ((0, 0, 0), (3, 40, 50), (3, 3, 50)),
                                            ((0, 8, 0), (3, 32, 48), (3, 2, 3)))):
        for rs in ("nearest", "average"):
            f = os.path.join(TMP, "o3%d%s.npy" % (n, rs))
            cmds += ["+", "read", "r3", lst(start), lst(count), lst(out), rs, f]
            want, k = ref_read(lv3, [0, 1, 1], [float(v) for v in start],
                               [float(v + c) for v, c in zip(start, count)], out, rs, -1)
            wants.append((f, want, "3-d read %s %s %s %s" % (start, count, out, rs)))
    run(url, *cmds[1:])
    for f, want, what in wants:
        same(np.load(f), want, what)
    r = run(url, "point", "r", lst((1000.5, 500.0)), check=False)
    if r.returncode == 0 or "outside" not in r.stderr:
        raise SystemExit("a point outside must be refused: " + r.stderr)
    ext = [tuple(map(float, l.split())) for l in run(url, "extent", "r").stdout.split("\n") if l]
    if ext != [(700.0, 1000.0), (500.0, 605.0)]:
        raise SystemExit("extent %s" % ext)
    print("reads: ok")


def check_bounds():
    rng = np.random.default_rng(9)
    url = new_url()
    shape = (300, 200)
    create(url, "b", shape, (16, 16), "<i2", "max", nodata=-1)
    a = np.full(shape, -1, "<i2")
    empty = os.path.join(TMP, "empty.bin")
    np.full(shape, -1, "<i2").tofile(empty)
    for box in ((37, 81, 150, 23), (0, 0, 1, 1), (211, 5, 89, 3)):
        a = np.full(shape, -1, "<i2")
        y, x, h, w = box
        a[y:y + h, x:x + w] = rng.integers(0, 100, (h, w))
        a[y + h - 1, x + w - 1] = 5
        f = os.path.join(TMP, "b.bin")
        a.tofile(f)
        out = run(url, "write", "b", "0,0", lst(shape), empty, "+", "update", "b",
                  "+", "write", "b", "0,0", lst(shape), f, "+", "update", "b",
                  "+", "bounds", "b").stdout.split("\n")
        s, c = out[-2].split()
        if s != "%d,%d" % (y, x) or c != "%d,%d" % (h, w):
            raise SystemExit("bounds %s %s, expected %s" % (s, c, box))
    print("data bounds: ok")


# ---- non-equidistant time ----------------------------------------------------------------

def check_time():
    rng = np.random.default_rng(1)
    url = new_url()
    # (time, y, x): time irregular and carried through, y and x averaged
    create(url, "t", (0, 20, 24), (2, 8, 8), "<f4", "mean", aggdims=(0, 1, 1),
           names=("time", "y", "x"), extra=("irregular=1,0,0",))
    f = os.path.join(TMP, "t.bin")
    data = []
    coords = []
    for chunk in ([10.0, 10.5, 13.0], [20.0], [21.25, 30.0]):
        d = rng.normal(0, 1, (len(chunk), 20, 24)).astype("<f4")
        d.tofile(f)
        run(url, "append", "t", 0, lst(chunk), f)
        data.append(d)
        coords += chunk
    a = np.concatenate(data)
    got = [float(x) for x in run(url, "coords", "t", 0).stdout.split()]
    if got != coords:
        raise SystemExit("coords %s" % got)
    run(url, "update", "t")
    levels = dump(url, "t")
    want = expected_levels(a, [0, 1, 1], "mean", None, (2, 8, 8))
    for k in range(len(want)):
        same(levels[k], want[k], "time level %d" % k)
    for lo, hi in ((10.0, 13.0), (10.2, 20.0), (0.0, 5.0), (13.5, 19.9), (21.25, 1e9)):
        s, c = map(int, run(url, "coordrange", "t", 0, repr(lo), repr(hi)).stdout.split())
        c_ = np.array(coords)
        ws = int(np.searchsorted(c_, lo, "left"))
        wc = max(int(np.searchsorted(c_, hi, "right")) - ws, 0)
        if (s, c) != (ws, wc):
            raise SystemExit("coord_range %s %s: %d %d, expected %d %d" % (lo, hi, s, c, ws, wc))
    r = run(url, "append", "t", 0, lst([25.0]), f, check=False)
    if r.returncode == 0:
        raise SystemExit("an append before the last coordinate must be refused")
    # an aggregated irregular dimension: 1-d, summed
    create(url, "s", (0,), (4,), "<i4", "sum", extra=("irregular=1",))
    vals = np.arange(1, 12, dtype="<i4")
    vals.tofile(f)
    run(url, "append", "s", 0, lst([i * 1.5 for i in range(11)]), f)
    run(url, "update", "s")
    got = dump(url, "s")
    want = expected_levels(vals, [1], "sum", None, (4,))
    for k in range(len(want)):
        same(got[k], want[k], "irregular sum level %d" % k)
    print("non-equidistant time: ok")


# ---- zarr-python ---------------------------------------------------------------------------

def check_zarr():
    import zarr
    rng = np.random.default_rng(2)
    url = new_url()
    create(url, "z/dem", (45, 70), (16, 16), "<f4", "mean", nodata=-32768.0,
           extra=("crs=EPSG:32633",))
    a = rng.normal(0, 1, (45, 70)).astype("<f4")
    write(url, "z/dem", (0, 0), a)
    run(url, "update", "z/dem")
    mine = dump(url, "z/dem")
    g = zarr.open_group(url, mode="r")["z/dem"]
    ms = g.attrs["multiscales"][0]
    paths = [d["path"] for d in ms["datasets"]]
    if paths != [str(k) for k in range(len(mine))]:
        raise SystemExit("multiscales datasets %s" % paths)
    tp = g.attrs["tessera_pyramid"]
    if tp["crs"] != "EPSG:32633" or tp["nodata"] != -32768.0 or tp["version"] != 1:
        raise SystemExit("tessera_pyramid %s" % tp)
    for k, p in enumerate(paths):
        z = zarr.open(os.path.join(url, "z/dem", p), mode="r")
        same(z[...], mine[k], "zarr-python level %d" % k)
        if z.fill_value != -32768.0:
            raise SystemExit("level %d fill %r" % (k, z.fill_value))
    print("zarr-python opens every level: ok")


def main():
    t0 = time.time()
    try:
        check_aggregators()
        check_incremental()
        check_reads()
        check_bounds()
        check_time()
        check_zarr()
        check_kill()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("pyramid peer: %d comparisons, %.1f s" % (CHECKS, time.time() - t0))


if __name__ == "__main__":
    main()
