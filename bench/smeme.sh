#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench/smeme.sh - S-MEME in C (bench/smeme_bench) and in PyTorch
# (../shared/bench/smeme_torch/smeme.py) with the same settings on the same
# model (models/imbalanced_square.safetensors, converted for PyTorch by
# st_to_pt.py), one after the other in one run: seconds per Adjoint Matching
# round and per K = 2 job.  Also the wall time of a digits job through the
# daemon (manifold explore digits, default settings).  Writes
# DIR/smeme.jsonl for summarize_results.py (bench/run.sh calls this).
#
#     sh bench/smeme.sh [--out DIR] [--build DIR] [--skip-torch] [--skip-digits]
#
# PyTorch runs with 1 thread (its fastest for these 64x256 tensors,
# smeme-reference-run.md §4); C with its 2-thread row team, as the daemon.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
shared=$(cd "$root/.." && pwd)/shared/bench
out=$root/build-bench-results
build=$root/build-bench
torch=run
digits=run
while [ $# -gt 0 ]; do
    case $1 in
    --out) out=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --skip-torch) torch=skip; shift ;;
    --skip-digits) digits=skip; shift ;;
    -h|--help) sed -n '3,17p' "$0"; exit 0 ;;
    *) echo "smeme.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
note() { echo "smeme.sh: $*" >&2; }
mkdir -p "$out"
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$root" --buildtype=release -Dtests=disabled >&2
fi
ninja -C "$build" bench/smeme_bench server/manifoldd clients/manifold >&2
: > "$out/smeme.jsonl"

note "C: Adjoint Matching rounds and a K=2 job (imbalanced_square, run C settings)"
"$build/bench/smeme_bench" --model "$root/models/imbalanced_square.safetensors" --threads 2 \
    | tee -a "$out/smeme.jsonl" >&2

if [ "$torch" = run ] && [ -f "$shared/smeme_torch/smeme.py" ] && /usr/bin/python3 -c "import torch" 2>/dev/null; then
    note "PyTorch: the same job (1 thread; about 2.5 minutes)"
    /usr/bin/python3 "$here/st_to_pt.py" "$root/models/imbalanced_square.safetensors" "$out/square.pt" >&2
    log=$out/smeme_torch.log
    (cd "$shared/smeme_torch" && THREADS=1 OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 smeme.py \
        data=square model="$out/square.pt" K=2 rounds=200 clip_r=2.5 tau_r=10 neval=20000) > "$log"
    /usr/bin/python3 - "$log" >> "$out/smeme.jsonl" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
its = [json.loads(l[5:]) for l in text.splitlines() if l.startswith("EVAL ")]
rounds = [float(r) for r in re.findall(r"TIME it \d+: [\d.]+s, (\d+) ms/round", text)]
total = float(re.search(r"^TOTAL ([\d.]+)", text, re.M).group(1))
print(json.dumps({"impl": "pytorch", "threads": 1, "K": 2, "rounds": 200,
                  "round_s_mean": sum(rounds) / len(rounds) / 1000.0, "job_s": total,
                  "iteration_s": [i.get("iter_s") for i in its[1:]],
                  "evals": its}))
PY
    tail -n 1 "$out/smeme.jsonl" | cut -c1-300 >&2
else
    note "PyTorch reference skipped"
fi

if [ "$digits" = run ]; then
    note "digits job through the daemon (manifold explore digits, defaults)"
    tmp=$(mktemp -d)
    "$build/server/manifoldd" --listen 127.0.0.1:0 --port-file "$tmp/port" --models "$root/models" \
        --model-store "$tmp/models" --store "sqlite:$tmp/jobs.db" --log-level warn > "$tmp/log" 2>&1 &
    pid=$!
    i=0
    while [ ! -s "$tmp/port" ] && [ $i -lt 200 ]; do i=$((i + 1)); sleep 0.05; done
    t0=$(date +%s.%N)
    "$build/clients/manifold" --url "http://127.0.0.1:$(cat "$tmp/port")" explore digits \
        > "$tmp/explore.txt" 2> /dev/null || note "the digits job failed"
    t1=$(date +%s.%N)
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
    /usr/bin/python3 - "$tmp/explore.txt" "$t0" "$t1" >> "$out/smeme.jsonl" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]).read().splitlines() if l.startswith("iteration ")]
print(json.dumps({"impl": "manifoldd", "job": "explore digits (defaults)",
                  "wall_s": round(float(sys.argv[3]) - float(sys.argv[2]), 1), "iterations": lines}))
PY
    tail -n 1 "$out/smeme.jsonl" >&2
    rm -rf "$tmp"
fi
