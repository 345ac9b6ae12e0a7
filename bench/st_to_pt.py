#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Converts a Manifold model file (safetensors, float32 tensors layers.i.weight /
layers.i.bias) into the state_dict .pt that ../shared/bench/smeme_torch loads,
so the PyTorch reference fine-tunes exactly the model the C bench does.

usage: st_to_pt.py IN.safetensors OUT.pt   (Debian's /usr/bin/python3 with python3-torch)
"""
import json
import struct
import sys

import numpy as np
import torch

src, dst = sys.argv[1], sys.argv[2]
blob = open(src, "rb").read()
n = struct.unpack("<Q", blob[:8])[0]
header = json.loads(blob[8:8 + n])
data = blob[8 + n:]
state = {}
for name, t in header.items():
    if name == "__metadata__":
        continue
    if t["dtype"] != "F32":
        raise SystemExit("st_to_pt: %s is %s, not F32" % (name, t["dtype"]))
    a, b = t["data_offsets"]
    state[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype="<f4").copy().reshape(t["shape"]))
torch.save(state, dst)
print("st_to_pt: %d tensors -> %s" % (len(state), dst))
