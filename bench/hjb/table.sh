#!/bin/sh
# SPDX-License-Identifier: MIT
# The table of docs/hjb.md (issue 18, other-seeds.md §3.5): eight_gaussians with a fixed
# training set of N in {256, 1024, 8192} points; an eps model and potential models with
# lambda in {0, 0.01 (the default), 1}, the default weighting and ramp; every model
# 3x128, batch 256, 10,000 steps, EMA 0.999, seed 1.  Each is then evaluated with
# manifold-train eval (SW2 with its floor over 5 repetitions of 1,000 DDPM samples,
# kNN entropy, PF-ODE held-out NLL of 1,000 points, and for potentials the residual at
# 1,000 held-out points).  Two runs at a time (one thread each).  Writes OUT/*.json and
# prints the table.  Usage: bench/hjb/table.sh BUILD_DIR OUT_DIR
set -eu
BUILD=${1:-build}
OUT=${2:-build/hjb-table}
T="$BUILD/tools/manifold-train"
mkdir -p "$OUT"
COMMON="--dataset eight_gaussians --hidden 128,128,128 --batch 256 --steps 10000 --seed 1 --threads 1 --eval-every 0"
run() { # name, extra flags
    [ -s "$OUT/$1.json" ] && return 0
    "$T" train $COMMON --out "$OUT/$1.safetensors" $2 > "$OUT/$1.train.log" 2>&1
    "$T" eval --model "$OUT/$1.safetensors" --threads 1 > "$OUT/$1.json" 2> "$OUT/$1.eval.log"
}
for N in 256 1024 8192; do
    run "eps-$N" "--n-train $N" &
    run "pot-$N-l0" "--n-train $N --architecture potential --hjb --hjb-lambda 0" &
    wait
    run "pot-$N-l0.01" "--n-train $N --architecture potential --hjb" &
    run "pot-$N-l1" "--n-train $N --architecture potential --hjb --hjb-lambda 1" &
    wait
done
python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
print("| model | N | λ | held-out NLL | SW2 (floor) | kNN entropy | residual RMS | RMS by τ bin |")
print("|---|---|---|---|---|---|---|---|")
for n in (256, 1024, 8192):
    for name, lam in (("eps-%d" % n, "–"), ("pot-%d-l0" % n, "0"), ("pot-%d-l0.01" % n, "0.01"),
                      ("pot-%d-l1" % n, "1")):
        p = os.path.join(out, name + ".json")
        if not os.path.exists(p):
            continue
        d = json.load(open(p))
        h = d.get("hjb")
        rms = "%.3g" % h["residual_rms"] if h else "–"
        bins = " / ".join("%.3g" % b for b in h["bins"]) if h else "–"
        print("| %s | %d | %s | %.3f | %.3f (%.3f) | %.3f | %s | %s |" % (
            "eps" if name.startswith("eps") else "potential", n, lam, d["likelihood"]["nll"],
            d["sw2_model"], d["sw2_floor"], d["metrics"]["entropy_knn"]["value"], rms, bins))
PY
