#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench/bf16.sh - bf16 sampling (issue 19) next to float, in one run: the sampling
# workloads W1, W2, W4 of mf_bench in f32 and in bf16 (--precision), the bf16 GEMM-only
# time of each and its layers' GFLOP/s (bench/bf16_bench: the ceiling the bf16 figures
# are held to, and oneDNN's own two threads against the row team's), PyTorch's best
# float configuration (ref_torch.py, as run.sh runs it: eager on 2 threads for W1 and
# W2, frozen TorchScript on 1 for W4) and its bf16 autocast as installed
# (bench/bf16_torch.py, eager, 1 and 2 threads).  Writes DIR/bf16.jsonl for
# summarize_results.py (bench/run.sh calls this; run.sh --bf16-only runs just this and
# rewrites RESULTS.md).
#
#     sh bench/bf16.sh [--out DIR] [--build DIR] [--repeats N] [--skip-torch]
#
# About 3 minutes.  PyTorch with ../shared/bench/README.md's tuning
# (OPENBLAS_CORETYPE=SkylakeX, --tuned).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
shared=$(cd "$root/.." && pwd)/shared/bench
out=$root/build-bench-results
build=$root/build-bench
repeats=3
torch=run
while [ $# -gt 0 ]; do
    case $1 in
    --out) out=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    --skip-torch) torch=skip; shift ;;
    -h|--help) sed -n '3,17p' "$0"; exit 0 ;;
    *) echo "bf16.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
note() { echo "bf16.sh: $*" >&2; }
py=/usr/bin/python3

if ! grep -qw avx512_bf16 /proc/cpuinfo; then
    note "this CPU has no AVX-512 BF16: no bf16 figures"
    : > "$out/bf16.jsonl"
    exit 0
fi
ninja -C "$build" bench/mf_bench bench/bf16_bench >&2
mkdir -p "$out"
tmp=$out/bf16.jsonl.tmp
: > "$tmp"
# tag each line with where it came from, for summarize_results.py
tag() { sed "s/^{/{\"source\": \"$1\", /"; }

note "mf_bench W1, W2, W4 in f32 and bf16 ($repeats repeats each)"
"$build/bench/mf_bench" --workloads W1,W2,W4 --precision f32 --repeats "$repeats" | tag mf_bench >> "$tmp"
"$build/bench/mf_bench" --workloads W1,W2,W4 --precision bf16 --repeats "$repeats" | tag mf_bench >> "$tmp"
note "bf16_bench: layers, GEMM-only times, oneDNN's threads vs the row team"
OPENBLAS_NUM_THREADS=1 "$build/bench/bf16_bench" --reps "$repeats" | tag bf16_bench >> "$tmp"
if [ "$torch" = run ] && [ -f "$shared/ref_torch.py" ] && "$py" -c "import torch" 2>/dev/null; then
    note "PyTorch: best float configurations, then bf16 autocast at 1 and 2 threads"
    "$py" "$shared/ref_torch.py" --coretype SkylakeX --tuned --threads 2 --mode eager \
        --workloads W1,W2 --repeats "$repeats" | tag torch_f32 >> "$tmp"
    "$py" "$shared/ref_torch.py" --coretype SkylakeX --tuned --threads 1 --mode frozen \
        --workloads W4 --repeats "$repeats" | tag torch_f32 >> "$tmp"
    for t in 1 2; do
        "$py" "$here/bf16_torch.py" --ref "$shared/ref_torch.py" --coretype SkylakeX --tuned \
            --threads "$t" --repeats "$repeats" | tag torch_bf16 >> "$tmp"
    done
else
    note "PyTorch not run (--skip-torch, or no ref_torch.py / torch)"
fi
mv "$tmp" "$out/bf16.jsonl"
note "wrote $out/bf16.jsonl"
