#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench/serve.sh - manifoldd under load: W4-sized POST /v1/samples requests
# (eight_gaussians: D=2, H=256, 16 samples, 50 DDIM steps) from wrk at 1, 8 and
# 64 concurrent connections, with per-request metrics off (W4: sampling alone)
# and on; requests/s, p50/p90/p99 latency, how many requests shared each
# batched run, and the daemon's resident memory with every shipped model
# loaded; then 64 connections with "precision": "f32" and "bf16" in the requests.
# Writes DIR/serve.jsonl, DIR/serve_precision.jsonl and DIR/serve_rss.json for
# summarize_results.py (bench/run.sh calls this and writes RESULTS.md).
#
#     sh bench/serve.sh [--duration S] [--connections "1 8 64"] [--out DIR] [--daemon PATH]
#
# wrk (Debian) runs with one thread on the same 2-core machine as the daemon;
# the daemon runs with its defaults (1 worker, a 2-thread row team, bf16 sampling).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
duration=10
conns="1 8 64"
out=$root/build-bench-results
daemon=""
while [ $# -gt 0 ]; do
    case $1 in
    --duration) duration=$2; shift 2 ;;
    --connections) conns=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --daemon) daemon=$2; shift 2 ;;
    -h|--help) sed -n '3,17p' "$0"; exit 0 ;;
    *) echo "serve.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
note() { echo "serve.sh: $*" >&2; }

"$root/tools/setup-debian.sh" wrk
[ -n "$daemon" ] || daemon=$(sh "$here/daemon.sh")
mkdir -p "$out"
tmp=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

"$daemon" --listen 127.0.0.1:0 --port-file "$tmp/port" --models "$root/models" \
    --model-store "$tmp/models" --store "sqlite:$tmp/jobs.db" --log-level warn \
    > "$tmp/daemon.log" 2>&1 &
pid=$!
i=0
while [ ! -s "$tmp/port" ]; do
    i=$((i + 1))
    if [ "$i" -gt 200 ] || ! kill -0 "$pid" 2>/dev/null; then
        note "manifoldd did not start:"; cat "$tmp/daemon.log" >&2; exit 1
    fi
    sleep 0.05
done
url=http://127.0.0.1:$(cat "$tmp/port")

kib() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$pid/status"; }
counter() { curl -s "$url/metrics" | sed -n "s/^$1 \([0-9.e+]*\)$/\1/p"; }
n_models=$(curl -s "$url/v1/models" | grep -o '"id":' | wc -l)
rss_start=$(kib VmRSS)
note "manifoldd pid $pid at $url: $n_models models, RSS $rss_start KiB"

note "warm-up (3 s, 8 connections)"
MF_METRICS=false wrk -t1 -c8 -d3s -s "$here/wrk_samples.lua" "$url" > /dev/null

: > "$out/serve.jsonl"
for metrics in false true; do
    for c in $conns; do
        note "metrics=$metrics, $c connection(s), ${duration} s"
        calls0=$(counter manifold_sample_requests_total)
        batches0=$(counter manifold_batches_total)
        load0=$(cut -d' ' -f1 /proc/loadavg)
        res=$(MF_METRICS=$metrics wrk -t1 -c"$c" -d"${duration}s" --timeout 10s --latency \
              -s "$here/wrk_samples.lua" "$url" | sed -n 's/^RESULT //p')
        calls1=$(counter manifold_sample_requests_total)
        batches1=$(counter manifold_batches_total)
        echo "$res" | "${PYTHON:-python3}" -c '
import json, sys
r = json.loads(sys.stdin.read())
calls, batches = float(sys.argv[3]) - float(sys.argv[2]), float(sys.argv[5]) - float(sys.argv[4])
r.update({"connections": int(sys.argv[1]), "metrics": sys.argv[6] == "true",
          "calls": int(calls), "batches": int(batches),
          "requests_per_batch": round(calls / batches, 2) if batches else None,
          "load_before": float(sys.argv[7]), "workload": "W4 via POST /v1/samples"})
print(json.dumps(r))' "$c" "$calls0" "$calls1" "$batches0" "$batches1" "$metrics" "$load0" \
            >> "$out/serve.jsonl"
        tail -n 1 "$out/serve.jsonl" >&2
    done
done

# bf16 against f32 (issue 19): 64 connections, metrics off, each precision named in the
# requests (the loops above take the daemon's default, bf16)
: > "$out/serve_precision.jsonl"
for precision in f32 bf16; do
    note "precision=$precision, 64 connections, ${duration} s"
    res=$(MF_PRECISION=$precision MF_METRICS=false wrk -t1 -c64 -d"${duration}s" --timeout 10s \
          --latency -s "$here/wrk_samples.lua" "$url" | sed -n 's/^RESULT //p')
    echo "$res" | "${PYTHON:-python3}" -c '
import json, sys
r = json.loads(sys.stdin.read())
r.update({"connections": 64, "metrics": False, "precision": sys.argv[1],
          "workload": "W4 via POST /v1/samples"})
print(json.dumps(r))' "$precision" >> "$out/serve_precision.jsonl"
    tail -n 1 "$out/serve_precision.jsonl" >&2
done

rss_end=$(kib VmRSS)
hwm=$(kib VmHWM)
printf '{"models": %s, "rss_start_kib": %s, "rss_end_kib": %s, "rss_peak_kib": %s, "daemon": "%s"}\n' \
    "$n_models" "$rss_start" "$rss_end" "$hwm" "$daemon" \
    > "$out/serve_rss.json"
cat "$out/serve_rss.json" >&2
