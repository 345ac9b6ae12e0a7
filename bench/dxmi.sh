#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench/dxmi.sh - DxMI (issue 13) in C (bench/dxmi_bench) and in PyTorch
# (../shared/bench/dxmi_torch/dxmi.py) in one run:
#   1. milliseconds per training iteration on eight_gaussians, T = 5, B = 512,
#      the authors' "code" schedule, lr_s 1e-5, lr_e 1e-4 (mf_dxmi_opts_default,
#      dxmi.py --code_schedule --lr_s 1e-5 --lr_e 1e-4), both sides timing
#      iterations that make the sampler step (C: after its 200 warm-up
#      iterations; dxmi.py: --v_warm 0, its evaluations off by a large
#      --eval_every, time = its loop's wall time / iterations);
#   2. samples/s at equal quality on eight_gaussians (T = 5, 4,000 iterations,
#      the oracle's run: --eight-iters) and digits (T = 10, --digits-iters iterations, once
#      for each entry of --digits-lr: a sampler learning rate on core's defaults
#      (1e-5 diverges there) or "recipe", the finetune.dxmi job's settings for
#      64-D data, oracle 6's): the DxMI sampler's SW2, the parent's
#      DDIM and DDPM at increasing step counts until they match it, and the
#      throughput of each at that count.
# Writes DIR/dxmi.jsonl for summarize_results.py (bench/run.sh calls this;
# run.sh --dxmi-only runs just this and rewrites RESULTS.md).
#
#     sh bench/dxmi.sh [--out DIR] [--build DIR] [--torch-iters N]
#                      [--eight-iters N] [--digits-iters N] [--digits-lr "R .."]
#                      [--skip-torch] [--skip-digits]
#
# PyTorch runs on 2 threads with ../shared/bench/README.md's tuning
# (OPENBLAS_CORETYPE=SkylakeX, OMP_WAIT_POLICY=PASSIVE, glibc keeping freed
# large blocks), C on its 2-thread row team, as the daemon.  About 5 minutes.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
shared=$(cd "$root/.." && pwd)/shared/bench
out=$root/build-bench-results
build=$root/build-bench
torch_iters=400
eight_iters=4000
digits_iters=1200
digits_lrs="1e-5 recipe"
torch=run
digits=run
while [ $# -gt 0 ]; do
    case $1 in
    --out) out=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --torch-iters) torch_iters=$2; shift 2 ;;
    --eight-iters) eight_iters=$2; shift 2 ;;
    --digits-iters) digits_iters=$2; shift 2 ;;
    --digits-lr) digits_lrs=$2; shift 2 ;;
    --skip-torch) torch=skip; shift ;;
    --skip-digits) digits=skip; shift ;;
    -h|--help) sed -n '3,27p' "$0"; exit 0 ;;
    *) echo "dxmi.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
note() { echo "dxmi.sh: $*" >&2; }
mkdir -p "$out"
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$root" --buildtype=release -Dtests=disabled >&2
fi
ninja -C "$build" bench/dxmi_bench >&2
bench=$build/bench/dxmi_bench
eight=$root/models/eight_gaussians.safetensors
py=/usr/bin/python3
: > "$out/dxmi.jsonl"
load() { echo "{\"kind\": \"load\", \"when\": \"$1\", \"loadavg\": \"$(cat /proc/loadavg)\"}"; }
load before >> "$out/dxmi.jsonl"

note "C: DxMI iterations on eight_gaussians (T 5, B 512, 2-thread team)"
"$bench" --mode iteration --model "$eight" --dataset eight_gaussians --threads 2 \
    | tee -a "$out/dxmi.jsonl" >&2

if [ "$torch" = skip ]; then
    note "PyTorch reference skipped (--skip-torch)"
    echo '{"impl": "pytorch", "kind": "iteration", "skipped": "--skip-torch"}' >> "$out/dxmi.jsonl"
elif [ ! -f "$shared/dxmi_torch/dxmi.py" ]; then
    note "PyTorch reference not run: $shared/dxmi_torch/dxmi.py is absent"
    echo '{"impl": "pytorch", "kind": "iteration", "skipped": "dxmi.py absent"}' >> "$out/dxmi.jsonl"
elif ! "$py" -c "import torch" >/dev/null 2>&1; then
    note "PyTorch reference not run: $py cannot import torch (apt-get install python3-torch)"
    echo '{"impl": "pytorch", "kind": "iteration", "skipped": "python3-torch missing"}' \
        >> "$out/dxmi.jsonl"
else
    note "PyTorch: dxmi.py, $torch_iters iterations (2 threads, tuned)"
    log=$out/dxmi_torch.log
    (cd "$root" && PARENT=$eight LOGS=$out/dxmi-logs OPENBLAS_CORETYPE=SkylakeX \
        OMP_WAIT_POLICY=PASSIVE MALLOC_MMAP_THRESHOLD_=1073741824 \
        MALLOC_TRIM_THRESHOLD_=1073741824 "$py" "$shared/dxmi_torch/dxmi.py" --name bench \
        --code_schedule --lr_s 1e-5 --lr_e 1e-4 --iters "$torch_iters" --v_warm 0 \
        --eval_every 1000000000 --max_seconds 600) > "$log"
    "$py" - "$log" "$torch_iters" >> "$out/dxmi.jsonl" <<'PY'
import json, sys
text = open(sys.argv[1]).read().splitlines()
iters = int(sys.argv[2])
recs = [json.loads(l) for l in text if l.startswith("{")]
summ = json.loads(next(l for l in text if l.startswith("SUMMARY "))[8:])
last = recs[-1]
import torch
print(json.dumps({"impl": "pytorch", "kind": "iteration", "dataset": "eight_gaussians", "T": 5,
                  "B": 512, "threads": 2, "iters": last["it"], "v_warm": 0,
                  "loop_s": last["t"], "ms_per_iter": 1e3 * last["t"] / last["it"],
                  "wall_s": summ["wall_s"], "sw2_final": last["sw2"], "floor": last["floor"],
                  "torch": torch.__version__, "complete": last["it"] == iters}))
PY
    tail -n 1 "$out/dxmi.jsonl" >&2
fi

note "C: equal quality on eight_gaussians (T 5, $eight_iters iterations, then DDIM/DDPM steps)"
"$bench" --mode quality --model "$eight" --dataset eight_gaussians --threads 2 --T 5 \
    --train-iters "$eight_iters" --eval-every 500 | tee -a "$out/dxmi.jsonl" >&2

if [ "$digits" = run ]; then
    for lr in $digits_lrs; do
        note "C: equal quality on digits (T 10, $digits_iters iterations, lr_sampler $lr)"
        if [ "$lr" = recipe ]; then
            how="--recipe 1" # the finetune.dxmi job's settings for 64-D data
        else
            how="--T 10 --lr-sampler $lr"
        fi
        # shellcheck disable=SC2086 # $how is two options
        "$bench" --mode quality --model "$root/models/digits.safetensors" --dataset digits \
            --threads 2 $how --train-iters "$digits_iters" --eval-every 300 \
            --steps 10,15,20,30,40,50,60,80,100 --n-throughput 10000 | tee -a "$out/dxmi.jsonl" >&2
    done
fi
load after >> "$out/dxmi.jsonl"
