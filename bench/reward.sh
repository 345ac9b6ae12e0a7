#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench/reward.sh - reward-directed conditional diffusion end to end: the
# daemon's finetune.reward job on linear_subspace (bench/reward_job.py: fit,
# pseudo-labels, 20,000 training steps, 2,000 samples at each of 4 targets,
# timed by phase from its events) and the PyTorch reference
# ../shared/bench/reward_torch/reward.py with the same recipe, one after the
# other in one run.  Both train 3 x 256 SiLU networks on batches of 256 for
# the same number of steps; reward.py trains two models (unconditional, then
# conditional) and prints each one's training time, so the comparison is the
# conditional model's training against the job's training phase.  Writes
# DIR/reward.jsonl for summarize_results.py (bench/run.sh calls this).
#
#     sh bench/reward.sh [--out DIR] [--build DIR] [--steps N] [--nu V] [--skip-torch]
#
# PyTorch runs on 2 threads with the tuning of ../shared/bench/README.md
# (OPENBLAS_CORETYPE=SkylakeX, OMP_WAIT_POLICY=PASSIVE, glibc keeping freed
# large blocks: ref_torch.py's tune_process() as environment variables), C in
# the daemon with its 2-thread team.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
shared=$(cd "$root/.." && pwd)/shared/bench
out=$root/build-bench-results
build=$root/build-bench
steps=20000
nu=0.3
torch=run
while [ $# -gt 0 ]; do
    case $1 in
    --out) out=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --nu) nu=$2; shift 2 ;;
    --skip-torch) torch=skip; shift ;;
    -h|--help) sed -n '3,20p' "$0"; exit 0 ;;
    *) echo "reward.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
note() { echo "reward.sh: $*" >&2; }
mkdir -p "$out"
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$root" --buildtype=release -Dtests=disabled >&2
fi
ninja -C "$build" server/manifoldd >&2
: > "$out/reward.jsonl"

note "C: the finetune.reward job, $steps steps (about a minute)"
/usr/bin/python3 "$here/reward_job.py" "$build/server/manifoldd" "$root/models" --steps "$steps" \
    --nu "$nu" | tee -a "$out/reward.jsonl" | cut -c1-300 >&2

if [ "$torch" = run ] && [ -f "$shared/reward_torch/reward.py" ] &&
        /usr/bin/python3 -c "import torch" 2>/dev/null; then
    note "PyTorch: reward.py $steps $nu (two models; about 4 minutes)"
    log=$out/reward_torch.log
    t0=$(date +%s.%N)
    (cd "$shared/reward_torch" && OPENBLAS_CORETYPE=SkylakeX OMP_WAIT_POLICY=PASSIVE \
        MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=1073741824 \
        /usr/bin/python3 reward.py "$steps" "$nu") > "$log"
    t1=$(date +%s.%N)
    /usr/bin/python3 - "$log" "$t0" "$t1" "$steps" "$nu" >> "$out/reward.jsonl" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
trained = dict(re.findall(r"^trained (cond|uncond) (\d+)s", text, re.M))
targets = [{"a": float(a), "true_mean": float(r), "ratio": None if q == "nan" else float(q), "off_mean": float(o)}
           for a, r, q, o in re.findall(r"^a=([\d.]+): reward (\S+) ideal \S+ ratio (\S+) off (\S+)", text, re.M)]
unc = re.search(r"^uncond: off (\S+)", text, re.M)
print(json.dumps({"impl": "pytorch", "steps": int(sys.argv[4]), "nu": float(sys.argv[5]),
                  "train_cond_s": float(trained["cond"]), "train_uncond_s": float(trained["uncond"]),
                  "wall_s": round(float(sys.argv[3]) - float(sys.argv[2]), 1),
                  "uncond_off_mean": float(unc.group(1)) if unc else None, "targets": targets}))
PY
    tail -n 1 "$out/reward.jsonl" | cut -c1-300 >&2
else
    note "PyTorch reference skipped"
fi
