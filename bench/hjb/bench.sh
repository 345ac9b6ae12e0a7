#!/bin/sh
# SPDX-License-Identifier: MIT
# Time per training step of potential models against the PyTorch reference
# (../shared/bench/hjb_torch/timing.py: 3x128 SiLU, batch 256, 64 collocation points,
# exact autograd residual), on 1 and 2 threads, in one run:
#   eps          an eps network's DSM step
#   pot          a potential's DSM step through grad_x g (lambda 0, no regulariser)
#   pot + HJB    with the regulariser at a quarter of the batch (64 points), exact
#                Laplacian by stencil (7 rows per point)
# Manifold: manifold-train train, 3x128, E = 8 (the reference's time features are 7
# wide), 2,000 steps on eight_gaussians, steps/s as it reports them.
# Usage: bench/hjb/bench.sh BUILD_DIR   (prints a markdown table)
set -eu
BUILD=${1:-build}
T="$BUILD/tools/manifold-train"
REF="$(dirname "$0")/../../../shared/bench/hjb_torch"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
ms() { # threads, flags -> ms per step
    "$T" train --dataset eight_gaussians --hidden 128,128,128 --emb 8 --batch 256 --steps 2000 \
        --eval-every 0 --threads "$1" $2 --out "$TMP/m.safetensors" 2>&1 |
        sed -n 's/.*(\([0-9.]*\) steps\/s).*/\1/p' | awk '{printf "%.2f", 1000 / $1}'
}
best() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == "" || b + 0 <= 0 || a + 0 <= b + 0) print a; else print b }'; }
for th in 1 2; do
    out=$(cd "$REF" && OMP_NUM_THREADS=$th /usr/bin/python3 timing.py "$th" 2>/dev/null || true)
    eval "t_pot_$th=$(echo "$out" | awk '$1 == "pot" && $2 == "0" {print $4}')"
    eval "t_hjb_$th=$(echo "$out" | awk '$1 == "pot" && $2 == "1" {print $4}')"
    eval "t_eps_$th=$(echo "$out" | awk '$1 == "eps" {print $4}')"
    eval "m_eps_$th=$(ms "$th" "")"
    eval "m_pot_$th=$(ms "$th" "--architecture potential")"
    eval "m_hjb_$th=$(ms "$th" "--architecture potential --hjb --hjb-lambda 1")"
done
echo "| step | Manifold 1 thread | Manifold 2 threads | PyTorch 1 thread | PyTorch 2 threads | PyTorch best / Manifold best |"
echo "|---|---|---|---|---|---|"
for k in eps pot hjb; do
    eval "m1=\$m_${k}_1 m2=\$m_${k}_2 t1=\$t_${k}_1 t2=\$t_${k}_2"
    mb=$(best "$m1" "$m2")
    tb=$(best "$t1" "$t2")
    ratio=$(awk -v m="$mb" -v t="$tb" 'BEGIN { if (t > 0) printf "%.2f", t / m; else print "-" }')
    name=$k
    [ "$k" = hjb ] && name="pot + HJB"
    echo "| $name | $m1 ms | $m2 ms | ${t1:--} ms | ${t2:--} ms | $ratio |"
done
