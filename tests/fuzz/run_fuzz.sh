#!/bin/sh
# SPDX-License-Identifier: MIT
# run_fuzz.sh FUZZER CORPUS SECONDS [DICT] - one short fuzz run, as meson's
# suite 'fuzz' (./test) runs it: replays every input of the seed corpus
# CORPUS, then fuzzes for SECONDS.  New inputs go to a scratch directory that
# is removed afterwards (the committed corpus is read, never written); a crash
# is kept in the build directory (artifacts/), with how to reproduce it.
# MF_FUZZ_ALLOC_CAP_MB=N: ASan refuses (returns NULL for) any allocation over
# N MiB, so a parser that sizes an allocation from a declared size gets its
# out-of-memory path instead of a libFuzzer OOM (fuzz_model_file.c says why).
set -eu
fuzzer=$1
corpus=$2
seconds=$3
dict=${4:-}
name=$(basename "$fuzzer")
if [ -n "${MF_FUZZ_ALLOC_CAP_MB:-}" ]; then
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1:max_allocation_size_mb=$MF_FUZZ_ALLOC_CAP_MB"
    export ASAN_OPTIONS
fi
artifacts=$(dirname "$fuzzer")/artifacts
mkdir -p "$artifacts"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT INT TERM

# -malloc_limit_mb: no input of a few KiB should make any parser allocate 128 MiB at once
set -- -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=128 -print_final_stats=1 \
    -artifact_prefix="$artifacts/$name-"
[ -n "$dict" ] && set -- "$@" -dict="$dict"
rc=0
"$fuzzer" "$@" "$scratch" "$corpus" || rc=$?
[ "$rc" -eq 0 ] && exit 0
echo "$name failed (status $rc); the input is in $artifacts/ (named $name-crash-*, -oom-*, -leak-* or -timeout-*)."
echo "Reproduce: $fuzzer $artifacts/$name-<kind>-<sha1>; then see docs/fuzzing.md to add it to $corpus."
exit "$rc"
