#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench/compare.sh - an old build against this one, in one run: W4 (mf_bench,
# one 16-row request of 50 DDIM steps), manifoldd under wrk load
# (bench/serve.sh at 1 and 64 connections, metrics off) and the daemon's train
# job (bench/train_job.py), each measured for the old and the new binary in
# turn, ROUNDS times, so both see the same machine.  Writes DIR/compare.jsonl
# for summarize_results.py.
#
#     sh bench/compare.sh --old OLD_DIR [--label TEXT] [--rounds N] [--out DIR]
#                         [--serve-duration S] [--train-steps N]
#
# OLD_DIR holds the old build's manifoldd and mf_bench (and REV: its commit,
# shown in RESULTS.md).  Make it with:
#     git worktree add /tmp/old REV && meson setup /tmp/old/b /tmp/old -Dtests=disabled \
#         && ninja -C /tmp/old/b server/manifoldd bench/mf_bench \
#         && mkdir OLD_DIR && cp /tmp/old/b/server/manifoldd /tmp/old/b/bench/mf_bench OLD_DIR \
#         && echo REV > OLD_DIR/REV
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
old=""
label="the change"
rounds=5
out=$root/build-bench-results
serve_duration=5
train_steps=1000
while [ $# -gt 0 ]; do
    case $1 in
    --old) old=$2; shift 2 ;;
    --label) label=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --serve-duration) serve_duration=$2; shift 2 ;;
    --train-steps) train_steps=$2; shift 2 ;;
    -h|--help) sed -n '3,20p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
note() { echo "compare.sh: $*" >&2; }
[ -x "$old/manifoldd" ] && [ -x "$old/mf_bench" ] || { note "--old DIR needs manifoldd and mf_bench"; exit 2; }

build=$root/build-bench
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$root" --buildtype=release -Dtests=disabled >&2
fi
ninja -C "$build" server/manifoldd bench/mf_bench >&2
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
old_rev=$(cut -c1-7 "$old/REV" 2>/dev/null || echo unknown)
new_rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
: > "$out/compare.jsonl"
emit() { # binary (old|new), round, JSON text of one record
    "${PYTHON:-python3}" -c '
import json, sys
r = json.loads(sys.argv[3])
r.update({"binary": sys.argv[1], "round": int(sys.argv[2]), "rev": sys.argv[4], "label": sys.argv[5]})
print(json.dumps(r))' "$1" "$2" "$3" "$4" "$label" >> "$out/compare.jsonl"
}

r=1
while [ "$r" -le "$rounds" ]; do
    for which in old new; do
        if [ "$which" = old ]; then d=$old/manifoldd; b=$old/mf_bench; rev=$old_rev
        else d=$build/server/manifoldd; b=$build/bench/mf_bench; rev=$new_rev; fi
        note "round $r, $which ($rev)"
        w4=$("$b" --workloads W4 --repeats 5 | tail -n 1)
        emit "$which" "$r" "$w4" "$rev"
        sh "$here/serve.sh" --daemon "$d" --duration "$serve_duration" --connections "1 64" \
            --out "$tmp" >/dev/null
        grep '"metrics": false' "$tmp/serve.jsonl" | while read -r line; do
            emit "$which" "$r" "$line" "$rev"
        done
        "${PYTHON:-python3}" "$here/train_job.py" "$d" "$root/models" --steps "$train_steps" \
            > "$tmp/train.jsonl"
        while read -r line; do
            emit "$which" "$r" "$line" "$rev"
        done < "$tmp/train.jsonl"
    done
    r=$((r + 1))
done
note "wrote $out/compare.jsonl"
