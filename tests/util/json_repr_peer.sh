#!/usr/bin/env bash
# Python's repr() is the reference for how floats are written in Zarr JSON:
# every power of two and 20,000 random doubles must print identically.
set -euo pipefail
/usr/bin/python3 - <<'PY' | "$1"
import math, random, struct
random.seed(1)
vals = [2.0 ** k for k in range(-1074, 1024)]
vals += [struct.unpack('<d', struct.pack('<Q', random.getrandbits(64)))[0] for _ in range(20000)]
vals += [0.1, 1e16, 1e-5, 123456789012345678.0, 5e-324, 1.7976931348623157e308, -0.0, 0.0]
for v in vals:
    if math.isfinite(v):
        print(v.hex(), repr(v))
PY
