#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""PyTorch's bf16 sampling as installed: the sampling workloads of ref_torch.py
(W1, W2: samples/s; W4: ms per request) run under torch.autocast("cpu", bfloat16),
eager mode, timed by ref_torch.py's own run_workload (the same warm-up, repeats and
rounds as its float figures).  One JSON line per workload, "impl":
"pytorch-bf16-autocast".  bench/bf16.sh runs it at 1 and 2 threads and keeps the best,
next to ref_torch.py's best float configuration and mf_bench in both precisions.

    /usr/bin/python3 bench/bf16_torch.py --ref ../shared/bench/ref_torch.py \\
        [--threads N] [--workloads W1,W2,W4] [--repeats N] [--coretype SkylakeX] [--tuned]

Autocast runs nn.Linear in bf16 (oneDNN's matmul, as Manifold's bf16 path) and
keeps the rest (SiLU, the embedding, the DDIM update) as it decides.
"""
import argparse
import importlib.util
import json
import os
import sys


def load_ref(path):
    spec = importlib.util.spec_from_file_location("ref_torch", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", required=True, help="path of ref_torch.py")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workloads", default="W1,W2,W4")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--coretype", default=None)
    ap.add_argument("--tuned", action="store_true")
    args = ap.parse_args()
    ref = load_ref(args.ref)
    # before torch (OpenBLAS, libgomp) is loaded, as ref_torch.py's single() does
    if args.coretype:
        os.environ["OPENBLAS_CORETYPE"] = args.coretype
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    if args.tuned:
        ref.tune_process()
    import torch
    torch.set_num_threads(args.threads)
    base = dict(impl="pytorch-bf16-autocast", torch=torch.__version__, threads=args.threads,
                tuned=args.tuned, mkldnn=torch.backends.mkldnn.is_available())
    for name in args.workloads.split(","):
        if ref.WORKLOADS[name]["kind"] == "train":
            print(f"bf16_torch.py: {name} is a training workload (not sampled)", file=sys.stderr)
            continue
        try:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                rec = ref.run_workload(torch, name, "eager", args.repeats)
        except Exception as e:  # report and keep going, as ref_torch.py does
            rec = dict(workload=name, mode="eager", error=f"{type(e).__name__}: {e}"[:300])
        print(json.dumps({**base, **rec}), flush=True)


if __name__ == "__main__":
    main()
