#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench/store.sh - the job store's event throughput (issue 17): bench/store_bench on a
# temporary SQLite file and on a throwaway PostgreSQL (tests/pg/with_pg.sh, which
# exports MF_TEST_PG_URI): appends by one writer and by two (per-append p50/p99), and
# paged reads as an SSE stream makes them.  Writes DIR/store.jsonl for
# summarize_results.py.
#
#     sh bench/store.sh [--out DIR] [--events N] [--build DIR]
#
# with_pg.sh starts PostgreSQL with fsync=off (it is the tests' server), so its
# figures bound from above what a database that flushes each commit does; the
# SQLite file runs as the daemon's (WAL, synchronous=NORMAL).  N (default 5,000)
# events per writer; about a minute.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=$root/build-bench-results
events=5000
build=$root/build-bench
while [ $# -gt 0 ]; do
    case $1 in
    --out) out=$2; shift 2 ;;
    --events) events=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h|--help) sed -n '3,15p' "$0"; exit 0 ;;
    *) echo "store.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
note() { echo "store.sh: $*" >&2; }

if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$root" --buildtype=release -Dtests=disabled >&2
fi
ninja -C "$build" bench/store_bench >&2
bench=$build/bench/store_bench
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 143' INT TERM

: > "$out/store.jsonl"
note "SQLite ($tmp/jobs.db), $events events per writer"
"$bench" --events "$events" "sqlite:$tmp/jobs.db" >> "$out/store.jsonl"
note "PostgreSQL (tests/pg/with_pg.sh), $events events per writer"
# The server's settings that bear on the figures go with them: fsync, and
# max_connections (each replica holds two connections).
# shellcheck disable=SC2012
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
sql="SELECT json_build_object('test', 'pg_settings', 'backend', 'postgres',
    'version', current_setting('server_version'), 'fsync', current_setting('fsync'),
    'synchronous_commit', current_setting('synchronous_commit'),
    'max_connections', current_setting('max_connections')::int,
    'reserved_connections', current_setting('superuser_reserved_connections')::int)"
# shellcheck disable=SC2016
sh "$root/tests/pg/with_pg.sh" sh -c \
    '"$1" --events "$2" "$MF_TEST_PG_URI" && "$3/psql" "$MF_TEST_PG_URI" -tAc "$4"' \
    sh "$bench" "$events" "$pgbin" "$sql" >> "$out/store.jsonl" || note "the PostgreSQL run failed"
cat "$out/store.jsonl" >&2
