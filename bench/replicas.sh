#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench/replicas.sh - manifoldd replicas behind nginx (issue 17): serve.sh's W4-sized
# POST /v1/samples (eight_gaussians, 16 samples, 50 DDIM steps, a fresh seed each, from
# bench/wrk_samples.lua) from wrk (one thread, 64 connections, closed loop) through
# nginx against 1, 2 and 3 replicas of deploy/local-cluster.sh (PostgreSQL job store),
# and against 1 replica directly (no nginx: what the proxy costs).  Requests/s,
# p50/p90/p99, errors, and each replica's share (its manifold_sample_requests_total
# before and after).  Writes DIR/replicas.jsonl for summarize_results.py.
#
#     sh bench/replicas.sh [--duration S] [--out DIR] [--daemon PATH]
#
# Threads: 1 replica with MANIFOLD_THREADS=2 (serve.sh's daemon), 2 and 3 replicas with
# MANIFOLD_THREADS=1 each.  On a 2-core machine more replicas only split the same two
# cores: this measures what the extra processes and nginx cost, not scaling.  About
# 4 x (S + 3) s of load plus a cluster start per row (S defaults to 10).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
duration=10
out=$root/build-bench-results
daemon=""
while [ $# -gt 0 ]; do
    case $1 in
    --duration) duration=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --daemon) daemon=$2; shift 2 ;;
    -h|--help) sed -n '3,17p' "$0"; exit 0 ;;
    *) echo "replicas.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
note() { echo "replicas.sh: $*" >&2; }

"$root/tools/setup-debian.sh" wrk
[ -n "$daemon" ] || daemon=$(sh "$here/daemon.sh")
mkdir -p "$out"
out=$(cd "$out" && pwd)
# PostgreSQL runs as the postgres user when we are root: it must reach the folder.
tmp=$(mktemp -d /tmp/mf_replicas_XXXXXX)
chmod 755 "$tmp"
cluster="$root/deploy/local-cluster.sh"
export MANIFOLD_CLUSTER_DIR="$tmp/cluster" MANIFOLD_DAEMON="$daemon" MANIFOLD_CLUSTER_STORE=postgres
cleanup() {
    sh "$cluster" stop >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' INT TERM

# The manifold_sample_requests_total of each replica (in order), space-separated.
counts() { # N
    i=1
    while [ "$i" -le "$1" ]; do
        p=$(head -n 1 "$MANIFOLD_CLUSTER_DIR/replica-$i/port")
        curl -s "http://127.0.0.1:$p/metrics" |
            sed -n 's/^manifold_sample_requests_total \([0-9.e+]*\)$/\1/p' | tr '\n' ' '
        i=$((i + 1))
    done
}

: > "$out/replicas.jsonl"
# replicas, threads per replica, through nginx (proxy) or not (direct)
for row in "1 2 proxy" "2 1 proxy" "3 1 proxy" "1 2 direct"; do
    # shellcheck disable=SC2086 # split on purpose
    set -- $row
    n=$1 threads=$2 via=$3
    # A fresh cluster (database and all) per row, so no row inherits another's state.
    rm -rf "$MANIFOLD_CLUSTER_DIR"
    url=$(MANIFOLD_THREADS=$threads sh "$cluster" start "$n" 2>"$tmp/start.log" | tail -n 1) || {
        note "the cluster did not start:"; cat "$tmp/start.log" >&2; exit 1; }
    if [ "$via" = direct ]; then
        url=http://127.0.0.1:$(head -n 1 "$MANIFOLD_CLUSTER_DIR/replica-1/port")
    fi
    note "$n replica(s), MANIFOLD_THREADS=$threads, via $via ($url): warm-up 3 s, then ${duration} s"
    MF_METRICS=false wrk -t1 -c8 -d3s -s "$here/wrk_samples.lua" "$url" > /dev/null
    before=$(counts "$n")
    load0=$(cut -d' ' -f1 /proc/loadavg)
    res=$(MF_METRICS=false wrk -t1 -c64 -d"${duration}s" --timeout 10s --latency \
          -s "$here/wrk_samples.lua" "$url" | sed -n 's/^RESULT //p')
    after=$(counts "$n")
    echo "$res" | "${PYTHON:-python3}" -c '
import json, sys
r = json.loads(sys.stdin.read())
before, after = [float(x) for x in sys.argv[4].split()], [float(x) for x in sys.argv[5].split()]
calls = [int(a - b) for a, b in zip(after, before)]
total = sum(calls)
r.update({"replicas": int(sys.argv[1]), "threads": int(sys.argv[2]), "nginx": sys.argv[3] == "proxy",
          "connections": 64, "replica_calls": calls,
          "replica_share": [round(c / total, 3) if total else None for c in calls],
          "load_before": float(sys.argv[6]), "store": "postgres",
          "workload": "W4 via POST /v1/samples"})
print(json.dumps(r))' "$n" "$threads" "$via" "$before" "$after" "$load0" >> "$out/replicas.jsonl"
    tail -n 1 "$out/replicas.jsonl" >&2
    sh "$cluster" stop 2>/dev/null
done
