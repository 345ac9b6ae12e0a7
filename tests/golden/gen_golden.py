#!/usr/bin/python3
"""Golden fixtures for the C forward and backward passes, made with PyTorch.

The network is built by ../shared/bench/ref_torch.py's own build() (the
PyTorch reference of DESIGN.md's architecture: Linear(d+64,H)-SiLU-(Linear(H,H)-
SiLU)x2-Linear(H,d), sinusoidal embedding of the integer timestep), so the
fixture checks the C core against the reference itself, not a re-implementation.

For each case it writes, next to this script:
  <name>.model.safetensors    the network exported as a Manifold model file
                              (written here by hand in the safetensors layout,
                              as the `safetensors` library would: Debian has no
                              python3-safetensors), with DESIGN.md's metadata;
  <name>.fixture.safetensors  inputs x (N,d), t (N), g (N,d); outputs
                              out = eps(x, t) (N,d), out_shared = eps(x, 500)
                              (N,d); and, for L = sum(g * out), grad_x (N,d)
                              and grad.layers.{i}.weight / .bias.

Run once, commit the outputs (a few tens of kilobytes):
  /usr/bin/python3 tests/golden/gen_golden.py [--ref-dir ../shared/bench] [--out-dir DIR]
tests/golden/check_generated.sh regenerates into a temporary directory and
checks that the committed files are current.
"""
import argparse
import json
import os
import struct
import sys

CASES = [  # name, d, H, seed
    ("ref_d2_h32", 2, 32, 1234),
    ("ref_d64_h16", 64, 16, 4321),
]
N = 12


def save_safetensors(path, tensors, metadata):
    """tensors: list of (name, float32 numpy array). Layout of the safetensors spec:
    u64 LE header length, JSON header (keys: tensors and __metadata__), data."""
    header, blobs, off = {}, [], 0
    for name, arr in tensors:
        b = arr.astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--ref-dir", default=os.path.join(here, "..", "..", "..", "shared", "bench"))
    ap.add_argument("--out-dir", default=here, help="where to write (default: next to this script)")
    args = ap.parse_args()
    out_dir = args.out_dir
    sys.path.insert(0, os.path.abspath(args.ref_dir))
    import ref_torch  # noqa: E402  (the reference architecture)
    import torch

    torch.set_num_threads(1)
    for name, d, H, seed in CASES:
        torch.manual_seed(seed)
        net = ref_torch.build(torch, d, H)
        linears = [m for m in net.net if isinstance(m, torch.nn.Linear)]
        with torch.no_grad():  # outputs of order 1, so the 1e-5 tolerance is also relative
            linears[-1].weight.mul_(20.0)
        x = torch.randn(N, d)
        t = torch.randint(0, ref_torch.T, (N,)).float()
        t[0], t[1] = 0.0, float(ref_torch.T - 1)
        g = torch.randn(N, d)
        x.requires_grad_(True)
        out = net(x, t)
        (g * out).sum().backward()
        with torch.no_grad():
            out_shared = net(x, torch.full((N,), 500.0))
        model_tensors, grad_tensors = [], []
        for i, lin in enumerate(linears):
            model_tensors += [(f"layers.{i}.weight", lin.weight.detach().numpy()),
                              (f"layers.{i}.bias", lin.bias.detach().numpy())]
            grad_tensors += [(f"grad.layers.{i}.weight", lin.weight.grad.numpy()),
                             (f"grad.layers.{i}.bias", lin.bias.grad.numpy())]
        meta = {
            "format": "manifold.mlp-ddpm.v1", "data_dim": str(d), "cond_dim": "0",
            "hidden": f"{H},{H},{H}", "activation": "silu",
            "time_embedding": f"sinusoidal:{ref_torch.TEMB}", "prediction": "eps",
            "schedule": f"linear:0.0001:0.02:{ref_torch.T}", "data_offset": "0", "data_scale": "1",
            "dataset": "golden", "parent": "", "created": "fixture",
            "provenance": "tests/golden/gen_golden.py (PyTorch %s, ref_torch.build)" % torch.__version__,
        }
        save_safetensors(os.path.join(out_dir, name + ".model.safetensors"), model_tensors, meta)
        fixture = [("x", x.detach().numpy()), ("t", t.numpy()), ("g", g.numpy()),
                   ("out", out.detach().numpy()), ("out_shared", out_shared.numpy()),
                   ("grad_x", x.grad.numpy())] + grad_tensors
        save_safetensors(os.path.join(out_dir, name + ".fixture.safetensors"), fixture,
                         {"generator": "tests/golden/gen_golden.py", "torch": torch.__version__})
        print(f"{name}: |out|max {out.abs().max().item():.4f}", file=sys.stderr)


if __name__ == "__main__":
    main()
