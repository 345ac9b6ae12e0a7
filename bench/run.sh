#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench/run.sh - build, run the PyTorch reference, the OpenBLAS GEMM ceiling and
# Manifold's C core on the workloads W1..W5 side by side, and write
# bench/RESULTS.md.  One command, from anywhere:
#
#     sh bench/run.sh [--repeats N] [--passes N] [--reuse-torch] [--skip-torch]
#                     [--serve-duration S] [--skip-serve | --serve-only]
#                     [--skip-smeme | --smeme-only] [--skip-reward | --reward-only]
#                     [--skip-dxmi | --dxmi-only] [--skip-replicas | --replicas-only]
#                     [--skip-hjb | --hjb-only] [--skip-bf16 | --bf16-only]
#                     [--compare-with OLD_DIR | --compare-only OLD_DIR] [--compare-label TEXT]
#                     [--store-events N] [--out DIR]
#
#   --repeats N     timed runs per workload for mf_bench and ref_torch.py (default 3)
#   --passes N      run the PyTorch reference and mf_bench N times, alternating,
#                   and keep each one's best (default 1; ../shared/bench/README.md
#                   used 2 passes of 3 runs)
#   --reuse-torch   reuse build-bench-results/torch.jsonl from an earlier run
#                   (the PyTorch reference takes a few minutes)
#   --skip-torch    do not run the PyTorch reference at all
#   --serve-duration S   seconds of wrk load per serve.sh level (default 10)
#   --skip-serve    do not run bench/serve.sh (manifoldd under wrk load)
#   --serve-only    run only bench/serve.sh, and rewrite RESULTS.md from the raw
#                   outputs of the last full run plus the new serve figures
#   --skip-smeme    do not run bench/smeme.sh (S-MEME in C and PyTorch, digits job)
#   --smeme-only    run only bench/smeme.sh, and rewrite RESULTS.md as --serve-only does
#   --skip-reward   do not run bench/reward.sh (the finetune.reward job and reward.py)
#   --reward-only   run only bench/reward.sh, and rewrite RESULTS.md as --serve-only does
#   --skip-dxmi     do not run bench/dxmi.sh (DxMI iterations in C and PyTorch, samples/s
#                   at equal quality on eight_gaussians and digits)
#   --dxmi-only     run only bench/dxmi.sh, and rewrite RESULTS.md as --serve-only does
#   --skip-hjb      do not run bench/hjb/bench.sh (potential models' training steps in C
#                   and PyTorch) and bench/hjb/table.sh (the HJB quality table, about 8
#                   minutes; its models are kept in OUT/hjb-table and not trained again)
#   --hjb-only      run only those two, and rewrite RESULTS.md as --serve-only does
#   --skip-bf16     do not run bench/bf16.sh (W1, W2, W4 in f32 and bf16, the bf16
#                   GEMM-only times, PyTorch's best float and its bf16 autocast; 1 minute)
#   --bf16-only     run only bench/bf16.sh, and rewrite RESULTS.md as --serve-only does
#   --skip-replicas do not run bench/replicas.sh (1-3 replicas behind nginx on PostgreSQL)
#                   and bench/store.sh (the job store's event appends and reads)
#   --replicas-only run only bench/replicas.sh and bench/store.sh (about 2 minutes with the
#                   default --serve-duration), and rewrite RESULTS.md as --serve-only does
#   --compare-with OLD_DIR  also run bench/compare.sh against the old build in OLD_DIR
#                   (W4, serve.sh and the train job, old and new in turn); its table
#                   goes into RESULTS.md, labelled --compare-label (default "the change")
#   --compare-only OLD_DIR  run only bench/compare.sh, and rewrite RESULTS.md as
#                   --serve-only does
#   --store-events N  events per writer in bench/store.sh (default 5000)
#   --out DIR       raw outputs there instead of build-bench-results/ (a --*-only run
#                   then writes RESULTS.md from DIR alone: for smoke runs)
#
# Needs meson + ninja, libopenblas-dev (./test installs them), and for the
# reference ../shared/bench (next to the repository) and Debian's
# /usr/bin/python3 with python3-torch.  Raw outputs go to build-bench-results/.
# Run it while nothing else heavy runs: 2-core timings move by tens of percent
# under load (the load average before and after is recorded in RESULTS.md).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
shared=$(cd "$root/.." && pwd)/shared/bench
py=/usr/bin/python3
repeats=3
passes=1
torch_mode=run
serve_mode=run
smeme_mode=run
reward_mode=run
dxmi_mode=run
hjb_mode=run
bf16_mode=run
replicas_mode=run
serve_duration=10
compare_old=""
compare_only=no
compare_label="the change"
store_events=5000
out=$root/build-bench-results
while [ $# -gt 0 ]; do
    case $1 in
    --repeats) repeats=$2; shift 2 ;;
    --passes) passes=$2; shift 2 ;;
    --reuse-torch) torch_mode=reuse; shift ;;
    --skip-torch) torch_mode=skip; shift ;;
    --serve-duration) serve_duration=$2; shift 2 ;;
    --skip-serve) serve_mode=skip; shift ;;
    --serve-only) serve_mode=only; shift ;;
    --skip-smeme) smeme_mode=skip; shift ;;
    --smeme-only) smeme_mode=only; shift ;;
    --skip-reward) reward_mode=skip; shift ;;
    --reward-only) reward_mode=only; shift ;;
    --skip-dxmi) dxmi_mode=skip; shift ;;
    --dxmi-only) dxmi_mode=only; shift ;;
    --skip-hjb) hjb_mode=skip; shift ;;
    --hjb-only) hjb_mode=only; shift ;;
    --skip-bf16) bf16_mode=skip; shift ;;
    --bf16-only) bf16_mode=only; shift ;;
    --skip-replicas) replicas_mode=skip; shift ;;
    --replicas-only) replicas_mode=only; shift ;;
    --compare-with) compare_old=$2; shift 2 ;;
    --compare-only) compare_old=$2; compare_only=yes; shift 2 ;;
    --compare-label) compare_label=$2; shift 2 ;;
    --store-events) store_events=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '3,52p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

build=$root/build-bench
note() { echo "run.sh: $*" >&2; }

# ---- (a) build ----------------------------------------------------------------------
mf_bench=""
sgemm_peak=""
if command -v meson >/dev/null 2>&1 && command -v ninja >/dev/null 2>&1; then
    if [ ! -f "$build/build.ninja" ]; then
        meson setup "$build" "$root" --buildtype=release -Dtests=disabled >&2 || rm -rf "$build"
    fi
    if [ -f "$build/build.ninja" ]; then
        targets="bench/mf_bench bench/bf16_bench bench/metrics_bench bench/smeme_bench bench/dxmi_bench bench/store_bench server/manifoldd clients/manifold"
        if [ -f "$shared/sgemm_peak.c" ]; then
            targets="$targets bench/sgemm_peak"
        fi
        # shellcheck disable=SC2086
        if ninja -C "$build" $targets >&2; then
            mf_bench=$build/bench/mf_bench
            [ -x "$build/bench/sgemm_peak" ] && sgemm_peak=$build/bench/sgemm_peak
        fi
    fi
fi
if [ -z "$mf_bench" ]; then
    note "the meson build failed; fix it first (./test shows why)"
    exit 1
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)

# ---- (f) manifoldd under load (wrk); alone with --serve-only ---------------------------
serve() {
    note "serve.sh: manifoldd under wrk load, ${serve_duration} s per level"
    sh "$here/serve.sh" --duration "$serve_duration" --out "$out" \
        --daemon "$build/server/manifoldd" || note "serve.sh failed"
}
smeme() {
    note "smeme.sh: S-MEME rounds and jobs in C and PyTorch, and a digits job (about 8 minutes)"
    sh "$here/smeme.sh" --out "$out" --build "$build" || note "smeme.sh failed"
}
reward() {
    note "reward.sh: the finetune.reward job and reward.py (about 5 minutes)"
    sh "$here/reward.sh" --out "$out" --build "$build" || note "reward.sh failed"
}
dxmi() {
    note "dxmi.sh: DxMI iterations in C and PyTorch, samples/s at equal quality (about 5 minutes)"
    sh "$here/dxmi.sh" --out "$out" --build "$build" || note "dxmi.sh failed"
}
hjb() {
    note "hjb: potential models' steps in C and PyTorch; the quality table (about 8 minutes)"
    sh "$here/hjb/bench.sh" "$build" > "$out/hjb_bench.md" || note "hjb/bench.sh failed"
    sh "$here/hjb/table.sh" "$build" "$out/hjb-table" > "$out/hjb_table.md" ||
        note "hjb/table.sh failed"
}
bf16() {
    note "bf16.sh: sampling in f32 and bf16, GEMM-only, PyTorch f32 and autocast (about 1 minute)"
    sh "$here/bf16.sh" --out "$out" --build "$build" --repeats "$repeats" || note "bf16.sh failed"
}
replicas() {
    note "replicas.sh: 1-3 replicas behind nginx, ${serve_duration} s per row; store.sh: the job store"
    sh "$here/replicas.sh" --duration "$serve_duration" --out "$out" \
        --daemon "$build/server/manifoldd" || note "replicas.sh failed"
    sh "$here/store.sh" --out "$out" --events "$store_events" --build "$build" || note "store.sh failed"
}
compare() {
    note "compare.sh: the old build in $compare_old against this one"
    sh "$here/compare.sh" --old "$compare_old" --label "$compare_label" --out "$out" ||
        note "compare.sh failed"
}
if [ "$serve_mode" = only ] || [ "$smeme_mode" = only ] || [ "$reward_mode" = only ] ||
        [ "$dxmi_mode" = only ] || [ "$replicas_mode" = only ] || [ "$compare_only" = yes ] ||
        [ "$hjb_mode" = only ] || [ "$bf16_mode" = only ]; then
    [ "$serve_mode" = only ] && serve
    [ "$smeme_mode" = only ] && smeme
    [ "$reward_mode" = only ] && reward
    [ "$dxmi_mode" = only ] && dxmi
    [ "$hjb_mode" = only ] && hjb
    [ "$bf16_mode" = only ] && bf16
    [ "$replicas_mode" = only ] && replicas
    [ "$compare_only" = yes ] && compare
    status=$(cat "$out/status.txt" 2>/dev/null || echo "")
    "$py" "$here/summarize_results.py" --dir "$out" --status "$status" --out "$here/RESULTS.md"
    note "wrote $here/RESULTS.md (the new figures, and the rest from $out)"
    exit 0
fi

# ---- machine ------------------------------------------------------------------------
if grep -qw avx512f /proc/cpuinfo; then
    coretype=SkylakeX
elif grep -qw avx2 /proc/cpuinfo; then
    coretype=Haswell
else
    coretype=
fi
{
    lscpu 2>/dev/null || true
    echo
    dpkg-query -W libopenblas0-pthread libopenblas-dev python3-torch 2>/dev/null || true
} > "$out/machine.txt"
# What OpenBLAS picks by itself (no re-exec, no OPENBLAS_CORETYPE), then with mf_bench's fix.
env -u OPENBLAS_CORETYPE MF_NO_REEXEC=1 "$mf_bench" --info > "$out/blas_auto.json"
env -u OPENBLAS_CORETYPE "$mf_bench" --info > "$out/blas_mf.json"
cat /proc/loadavg > "$out/load_before.txt"

# ---- (b) PyTorch reference: can it run? -----------------------------------------------
status=""
run_torch=no
if [ "$torch_mode" = reuse ] && [ -s "$out/torch.jsonl" ]; then
    note "reusing $out/torch.jsonl"
    status="PyTorch figures reused from an earlier run.sh invocation."
elif [ "$torch_mode" = skip ]; then
    : > "$out/torch.jsonl"
    status="PyTorch reference skipped (--skip-torch)."
elif [ ! -f "$shared/ref_torch.py" ]; then
    : > "$out/torch.jsonl"
    status="PyTorch reference not run: $shared/ref_torch.py is absent."
    note "$status"
elif ! "$py" -c "import torch" >/dev/null 2>&1; then
    : > "$out/torch.jsonl"
    status="PyTorch reference not run: $py cannot import torch (apt-get install python3-torch)."
    note "$status"
else
    run_torch=yes
    : > "$out/torch.jsonl"
fi

# ---- (c) GEMM-only time per workload --------------------------------------------------
if [ -n "$sgemm_peak" ]; then
    note "sgemm_peak (OPENBLAS_CORETYPE=$coretype), workload sequences, 1 and 2 threads"
    OPENBLAS_CORETYPE=$coretype "$sgemm_peak" -q > "$out/sgemm.jsonl"
else
    : > "$out/sgemm.jsonl"
    note "sgemm_peak not available ($shared/sgemm_peak.c absent): no GEMM-only column"
fi

# ---- (b) + (d) PyTorch best configurations and Manifold's C core, side by side ----------
: > "$out/mf_bench.jsonl"
: > "$out/mf_bench_blas.jsonl"
pass=1
while [ "$pass" -le "$passes" ]; do
    if [ "$run_torch" = yes ]; then
        note "pass $pass/$passes: PyTorch reference, best configurations (a few minutes)"
        # W1,W2,W3,W5: AVX-512/AVX2 OpenBLAS kernels, tuned process, 2 threads, eager;
        # W4: frozen TorchScript, 1 thread (the README's best for the small request).
        "$py" "$shared/ref_torch.py" --coretype "$coretype" --tuned --threads 2 --mode eager \
            --workloads W1,W2,W3,W5 --repeats "$repeats" >> "$out/torch.jsonl"
        "$py" "$shared/ref_torch.py" --coretype "$coretype" --tuned --threads 1 --mode frozen \
            --workloads W4 --repeats "$repeats" >> "$out/torch.jsonl"
    fi
    note "pass $pass/$passes: mf_bench (row-parallel team, as Manifold runs)"
    "$mf_bench" --repeats "$repeats" >> "$out/mf_bench.jsonl"
    note "pass $pass/$passes: mf_bench --parallel blas (threaded OpenBLAS instead, for comparison)"
    "$mf_bench" --repeats "$repeats" --parallel blas --workloads W1,W2,W3,W5 >> "$out/mf_bench_blas.jsonl"
    pass=$((pass + 1))
done
if [ -x "$build/bench/metrics_bench" ]; then
    note "metrics_bench: kNN entropy, Vendi, SW2, PF-ODE likelihood timings"
    OPENBLAS_NUM_THREADS=1 "$build/bench/metrics_bench" --repeats "$repeats" > "$out/metrics.md"
fi
cat /proc/loadavg > "$out/load_after.txt"
if [ "$serve_mode" = run ]; then
    serve
else
    rm -f "$out/serve.jsonl" "$out/serve_rss.json"
fi
if [ "$smeme_mode" = run ]; then
    smeme
else
    rm -f "$out/smeme.jsonl"
fi
if [ "$reward_mode" = run ]; then
    reward
else
    rm -f "$out/reward.jsonl"
fi
if [ "$dxmi_mode" = run ]; then
    dxmi
else
    rm -f "$out/dxmi.jsonl"
fi
if [ "$hjb_mode" = run ]; then
    hjb
else
    rm -f "$out/hjb_bench.md" "$out/hjb_table.md"
fi
if [ "$bf16_mode" = run ]; then
    bf16
else
    rm -f "$out/bf16.jsonl"
fi
if [ "$replicas_mode" = run ]; then
    replicas
else
    rm -f "$out/replicas.jsonl" "$out/store.jsonl"
fi
if [ -n "$compare_old" ]; then
    compare
else
    rm -f "$out/compare.jsonl"
fi

# ---- (e) summary ----------------------------------------------------------------------
echo "$status" > "$out/status.txt"
"$py" "$here/summarize_results.py" --dir "$out" --status "$status" --out "$here/RESULTS.md"
note "wrote $here/RESULTS.md (raw outputs in $out)"
