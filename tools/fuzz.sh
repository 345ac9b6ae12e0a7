#!/bin/sh
# SPDX-License-Identifier: MIT
# tools/fuzz.sh [TARGET|all] [SECONDS] - a long fuzzing run (docs/fuzzing.md).
#
# Builds build-fuzz (CC=clang, -Dfuzz=true) when needed, then runs each
# target (model_file samples jobs scores data_file event_id routes; default
# all, one after the other) for SECONDS (default 300) under nice, in
# libFuzzer's fork mode with MF_FUZZ_JOBS workers (default: half the cores,
# at least 1; the machine is shared).  New inputs go to
# build-fuzz/fuzz-corpus/TARGET (kept between runs, never the repository's
# corpus, which is read as seeds); crashes to build-fuzz/fuzz-artifacts/.
# Out-of-memory inputs and timeouts are counted and the run goes on; a crash
# ends the target's run.  The model target runs without ./test's allocation
# cap: an allocation over 256 MiB is reported as an OOM.
#
# tools/fuzz.sh seeds - writes the seed model files of corpus/model_file
# again (tests/fuzz/gen_model_seeds.c).
set -eu
cd "$(dirname "$0")/.."
targets_all="model_file samples jobs scores data_file event_id routes"
build=build-fuzz

if [ ! -f "$build/build.ninja" ]; then
    CC=clang nice meson setup "$build" --buildtype=debugoptimized -Dfuzz=true >/dev/null
fi
nice ninja -C "$build" fuzz >/dev/null

if [ "${1:-}" = seeds ]; then
    "$build/tests/fuzz/gen_model_seeds" tests/fuzz/corpus/model_file
    echo "wrote tests/fuzz/corpus/model_file/"
    exit 0
fi

target=${1:-all}
seconds=${2:-300}
[ "$target" = all ] && target=$targets_all
cores=$(nproc 2>/dev/null || echo 2)
jobs=${MF_FUZZ_JOBS:-$((cores / 2))}
[ "$jobs" -ge 1 ] || jobs=1

dict_of() {
    case $1 in
    model_file) echo tests/fuzz/model_file.dict ;;
    samples | jobs | scores) echo tests/fuzz/json.dict ;;
    data_file) echo tests/fuzz/data_file.dict ;;
    routes) echo tests/fuzz/routes.dict ;;
    esac
}

status=0
for t in $target; do
    exe=$build/tests/fuzz/fuzz_$t
    if [ ! -x "$exe" ]; then
        echo "fuzz.sh: no target '$t' (one of: $targets_all)" >&2
        exit 2
    fi
    corpus=$build/fuzz-corpus/$t
    artifacts=$build/fuzz-artifacts
    mkdir -p "$corpus" "$artifacts"
    dict=$(dict_of "$t")
    log=$build/fuzz-$t.log
    echo "== $t: $seconds s, $jobs worker(s); log $log"
    set -- -fork="$jobs" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -malloc_limit_mb=256 -print_final_stats=1 -artifact_prefix="$artifacts/$t-"
    [ -n "$dict" ] && set -- "$@" -dict="$dict"
    rc=0
    nice "$exe" "$@" "$corpus" "tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
    # fork mode's last progress line: runs, coverage, features, corpus, exec/s, oom/timeout/crash
    grep -E '^#[0-9]+: cov:' "$log" | tail -n 1 || true
    grep -E '^(==[0-9]+==ERROR|SUMMARY|INFO: exiting)' "$log" | head -n 3 || true
    [ "$rc" -eq 0 ] || status=$rc
done

cat <<EOF

Crashes, OOMs and leaks are in $build/fuzz-artifacts/ (TARGET-crash-SHA1 ...).
Reproduce:   $build/tests/fuzz/fuzz_TARGET FILE
Minimise:    $build/tests/fuzz/fuzz_TARGET -minimize_crash=1 -runs=100000 \\
                 -exact_artifact_path=tests/fuzz/corpus/TARGET/regress-NAME FILE
Then fix the bug; the minimised input stays in the seed corpus as a regression seed.
New coverage into the seed corpus (keeps only inputs that add some):
             $build/tests/fuzz/fuzz_TARGET -merge=1 tests/fuzz/corpus/TARGET $build/fuzz-corpus/TARGET
EOF
exit "$status"
