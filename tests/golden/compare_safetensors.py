#!/usr/bin/python3
"""Compares two safetensors files: same tensor names, shapes and metadata keys,
values within --tol (absolute).  Standard library only.  Exit 0 when they match."""
import json
import struct
import sys


def load(path):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    meta = h.pop("__metadata__", {})
    data = b[8 + n:]
    tensors = {}
    for name, t in h.items():
        lo, hi = t["data_offsets"]
        vals = struct.unpack("<%df" % ((hi - lo) // 4), data[lo:hi])
        tensors[name] = (tuple(t["shape"]), vals)
    return meta, tensors


def main():
    a, b, tol = sys.argv[1], sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 1e-6
    ma, ta = load(a)
    mb, tb = load(b)
    if set(ma) != set(mb) or set(ta) != set(tb):
        sys.exit(f"{a} vs {b}: different metadata keys or tensor names")
    worst = 0.0
    for name, (shape, va) in ta.items():
        shape_b, vb = tb[name]
        if shape != shape_b:
            sys.exit(f"{name}: shape {shape} vs {shape_b}")
        worst = max([worst] + [abs(x - y) for x, y in zip(va, vb)])
    if worst > tol:
        sys.exit(f"{a} vs {b}: max |diff| {worst:.3g} > {tol}")
    print(f"{a}: current (max |diff| {worst:.3g})")


if __name__ == "__main__":
    main()
