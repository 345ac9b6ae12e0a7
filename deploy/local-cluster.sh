#!/bin/sh
# SPDX-License-Identifier: MIT
# deploy/local-cluster.sh - the topology of deploy/compose.yaml on loopback, from Debian
# packages and this checkout's build, without containers:
#   a PostgreSQL in a folder of its own (initdb/pg_ctl; as the postgres user when run as
#   root), nginx as the load balancer (its configuration generated from deploy/nginx.conf),
#   N replicas of build/server/manifoldd (default 3), each on a free loopback port, all
#   with one --model-store folder and --store postgres://manifold@127.0.0.1:PORT/manifold.
#
#   deploy/local-cluster.sh start [N]   start; the last line of output is the load
#                                       balancer's URL, alone
#   deploy/local-cluster.sh stop        stop what start started (by the pids in its pid
#                                       files); safe to run again
#   deploy/local-cluster.sh status      what runs, and the URLs
#   deploy/local-cluster.sh restart     a rolling restart: one replica at a time is taken
#                                       out of nginx, drained (SIGTERM), started again on
#                                       its ports, and put back once /readyz says 200
#   deploy/local-cluster.sh db-restart [S]  PostgreSQL stopped, S seconds (default 0) of
#                                       outage, started again: what replicas do meanwhile
#
# Environment:
#   MANIFOLD_CLUSTER_DIR    state, logs and pid files (default /tmp/manifold-cluster-UID);
#                           kept by stop, so a second start reuses the database and stores
#   MANIFOLD_CLUSTER_STORE  postgres (default) or sqlite: a smoke-test mode in which every
#                           replica has its own SQLite job store, so jobs are NOT shared
#                           (a job is seen only through the replica that took it); models
#                           are shared either way (one --model-store folder)
#   MANIFOLD_DAEMON         the daemon (default build/server/manifoldd of this checkout)
#   MANIFOLD_PG_BIN         PostgreSQL's programs (default the newest /usr/lib/postgresql/*/bin)
#   MANIFOLD_*              every other daemon flag, as for manifoldd itself, e.g.
#                           MANIFOLD_THREADS=1 or MANIFOLD_API_KEYS=keys.txt
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
dir=${MANIFOLD_CLUSTER_DIR:-/tmp/manifold-cluster-$(id -u)}
mode=${MANIFOLD_CLUSTER_STORE:-postgres}
daemon=${MANIFOLD_DAEMON:-$root/build/server/manifoldd}

say() { echo "local-cluster: $*" >&2; }
die() { say "$*"; exit 1; }

# Whether the process of a pid file runs and is the program named (not a reused pid).
alive() {
    [ -s "$1" ] || return 1
    p=$(head -n 1 "$1")
    case "$p" in '' | *[!0-9]*) return 1 ;; esac
    [ -r "/proc/$p/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- "$2"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The HTTP status of a GET (000 when nothing answers).
http_status() {
    python3 - "$1" <<'PY'
import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=2).status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print("000")
PY
}

# Runs a PostgreSQL program, as the postgres user when we are root (initdb refuses root).
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# Sends SIGNAL to the process of a pid file if it runs; waits up to SECONDS for it to
# end, then SIGKILL.  Removes the pid file.
stop_pid() { # FILE NAME SIGNAL SECONDS
    if alive "$1" "$2"; then
        p=$(head -n 1 "$1")
        kill "-$3" "$p" 2>/dev/null || true
        t=0
        while alive "$1" "$2" && [ "$t" -lt $(($4 * 10)) ]; do
            sleep 0.1
            t=$((t + 1))
        done
        if alive "$1" "$2"; then
            say "$2 (pid $p) still runs after $4 s: SIGKILL"
            kill -KILL "$p" 2>/dev/null || true
        fi
        say "stopped $2 (pid $p)"
    fi
    rm -f "$1"
}

pg_bin() {
    if [ -n "${MANIFOLD_PG_BIN:-}" ]; then
        echo "$MANIFOLD_PG_BIN"
    else
        # shellcheck disable=SC2012
        ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
    fi
}

start_postgres() {
    bin=$(pg_bin)
    [ -x "$bin/pg_ctl" ] || die "no PostgreSQL (apt-get install postgresql, or set MANIFOLD_PG_BIN)"
    mkdir -p "$dir/pg" "$dir/secrets"
    chmod 700 "$dir/secrets"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres "$dir/pg"
        runuser -u postgres -- test -w "$dir/pg" ||
            die "the postgres user cannot reach $dir/pg (a folder above it is private): set MANIFOLD_CLUSTER_DIR elsewhere"
    fi
    if [ ! -s "$dir/secrets/db-password" ]; then
        (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=\n' >"$dir/secrets/db-password")
    fi
    if [ ! -f "$dir/pg/data/PG_VERSION" ]; then
        # the password, readable by the postgres user for initdb only
        pw="$dir/pg/pwfile"
        (umask 077 && cp "$dir/secrets/db-password" "$pw")
        [ "$(id -u)" -eq 0 ] && chown postgres "$pw"
        as_pg "$bin/initdb" -D "$dir/pg/data" -U manifold --pwfile="$pw" \
            --auth-local=trust --auth-host=scram-sha-256 -E UTF8 >"$dir/pg/initdb.log" 2>&1 ||
            die "initdb failed: $dir/pg/initdb.log"
        rm -f "$pw"
    fi
    port=$(free_port)
    echo "$port" >"$dir/pg/port"
    # unix socket in the folder, TCP on loopback only
    as_pg "$bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/postgres.log" -w -t 30 \
        -o "-k $dir/pg -p $port -c listen_addresses=127.0.0.1" start >/dev/null ||
        die "PostgreSQL did not start: $dir/pg/postgres.log"
    head -n 1 "$dir/pg/data/postmaster.pid" >"$dir/pg/pid"
    if ! as_pg "$bin/psql" -h "$dir/pg" -p "$port" -U manifold -d postgres -tAc \
            "SELECT 1 FROM pg_database WHERE datname = 'manifold'" | grep -q 1; then
        as_pg "$bin/createdb" -h "$dir/pg" -p "$port" -U manifold manifold ||
            die "createdb failed"
    fi
    say "PostgreSQL on 127.0.0.1:$port (socket in $dir/pg), pid $(cat "$dir/pg/pid")"
}

start_replica() { # I [PORT PROBE_PORT]: ports 0 (any free) unless given
    r="$dir/replica-$1"
    mkdir -p "$r"
    rm -f "$r/port"
    if [ "$mode" = sqlite ]; then
        store="sqlite:$r/jobs.db"
    else
        store="postgres://manifold@127.0.0.1:$(cat "$dir/pg/port")/manifold"
    fi
    # The password travels in a file named by the environment, never on the command line.
    MANIFOLD_STORE_PASSWORD_FILE="$dir/secrets/db-password" \
        "$daemon" --listen "127.0.0.1:${2:-0}" --health-listen "127.0.0.1:${3:-0}" \
        --port-file "$r/port" \
        --models "$root/models" --model-store "$dir/models" --store "$store" \
        --openapi "$root/proto/openapi.yaml" --max-connections-per-ip 0 \
        </dev/null >>"$r/manifoldd.log" 2>&1 &
    echo $! >"$r/pid"
}

wait_replica() { # I
    r="$dir/replica-$1"
    w=0
    while [ "$w" -lt 600 ]; do
        if [ -s "$r/port" ] && [ "$(wc -l <"$r/port")" -ge 2 ]; then
            return 0
        fi
        # running at all (not yet alive: the fork may not have exec'd the daemon yet)
        st=$(cut -d ' ' -f 3 "/proc/$(cat "$r/pid")/stat" 2>/dev/null || true)
        if [ -z "$st" ] || [ "$st" = Z ]; then break; fi
        sleep 0.05
        w=$((w + 1))
    done
    say "replica $1 did not start; the end of $r/manifoldd.log:"
    tail -n 20 "$r/manifoldd.log" >&2
    return 1
}

start_nginx() { # N
    command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] ||
        die "no nginx (apt-get install nginx)"
    ngx=$(command -v nginx || echo /usr/sbin/nginx)
    n="$dir/nginx"
    mkdir -p "$n/tmp"
    port=$(free_port)
    servers=""
    i=1
    while [ "$i" -le "$1" ]; do
        servers="$servers$(head -n 1 "$dir/replica-$i/port") "
        i=$((i + 1))
    done
    # deploy/nginx.conf with this cluster's replicas, port and paths
    awk -v servers="$servers" -v port="$port" -v n="$n" '
        /# docker-only$/ { next }
        /^ *# servers:begin$/ { print; k = split(servers, s, " ")
                          for (j = 1; j <= k; j++)
                              printf "        server 127.0.0.1:%s max_fails=1 fail_timeout=5s;\n", s[j]
                          skip = 1; next }
        /^ *# servers:end$/ { skip = 0; print; next }
        skip { next }
        /^pid .*# paths/ { print "pid " n "/nginx.pid;"; next }
        /^error_log .*# paths/ { print "error_log " n "/error.log warn;"; next }
        /access_log \/dev\/stdout.*# paths/ { sub(/\/dev\/stdout/, n "/access.log"); print; next }
        /listen 8080;.*# listen/ { print "        listen 127.0.0.1:" port ";"; next }
        /^http {/ { print
                    print "    client_body_temp_path " n "/tmp/body;"
                    print "    proxy_temp_path " n "/tmp/proxy;"
                    print "    fastcgi_temp_path " n "/tmp/fastcgi;"
                    print "    uwsgi_temp_path " n "/tmp/uwsgi;"
                    print "    scgi_temp_path " n "/tmp/scgi;"
                    next }
        { print }
    ' "$root/deploy/nginx.conf" >"$n/nginx.conf"
    "$ngx" -t -q -p "$n" -e "$n/error.log" -c "$n/nginx.conf" ||
        die "nginx refuses $n/nginx.conf"
    "$ngx" -p "$n" -e "$n/error.log" -c "$n/nginx.conf" ||
        die "nginx did not start: $n/error.log"
    i=0
    while [ ! -s "$n/nginx.pid" ] && [ "$i" -lt 100 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    echo "http://127.0.0.1:$port" >"$dir/url"
}

cmd_start() {
    count=${1:-3}
    case "$count" in '' | *[!0-9]* | 0) die "start [N]: N is a number of replicas, at least 1" ;; esac
    case "$mode" in postgres | sqlite) ;; *) die "MANIFOLD_CLUSTER_STORE is postgres or sqlite" ;; esac
    [ -x "$daemon" ] || die "no daemon at $daemon (meson setup build && ninja -C build)"
    mkdir -p "$dir/models"
    chmod 755 "$dir"  # nginx's workers (nobody when started as root) reach $dir/nginx/tmp
    for f in "$dir"/replica-*/pid "$dir/nginx/nginx.pid" "$dir/pg/pid"; do
        if alive "$f" "manifoldd\|nginx\|postgres"; then
            die "already running ($f); deploy/local-cluster.sh stop first"
        fi
    done
    echo "$count" >"$dir/replicas"
    echo "$mode" >"$dir/store"
    trap 'say "start failed; stopping what started"; cmd_stop; exit 1' INT TERM
    if [ "$mode" = postgres ]; then
        start_postgres || { cmd_stop; exit 1; }
    else
        say "store: sqlite smoke-test mode, one job store per replica (jobs are not shared)"
    fi
    i=1
    while [ "$i" -le "$count" ]; do
        start_replica "$i"
        i=$((i + 1))
    done
    i=1
    while [ "$i" -le "$count" ]; do
        if ! wait_replica "$i"; then
            cmd_stop
            exit 1
        fi
        say "replica $i: http://127.0.0.1:$(head -n 1 "$dir/replica-$i/port")" \
            "(probes on $(sed -n 2p "$dir/replica-$i/port")), pid $(cat "$dir/replica-$i/pid")"
        i=$((i + 1))
    done
    (start_nginx "$count") || { cmd_stop; exit 1; }
    url=$(cat "$dir/url")
    i=0
    while [ "$(http_status "$url/readyz")" != 200 ]; do
        i=$((i + 1))
        if [ "$i" -ge 100 ]; then
            say "the load balancer does not answer /readyz 200; see $dir"
            cmd_stop
            exit 1
        fi
        sleep 0.1
    done
    trap - INT TERM
    say "nginx on $url, pid $(cat "$dir/nginx/nginx.pid"); state and logs in $dir"
    echo "$url"
}

cmd_stop() {
    # the load balancer first (no new requests), then the replicas (each drains for up to
    # its --drain-timeout), then the database
    stop_pid "$dir/nginx/nginx.pid" nginx QUIT 10
    # every replica drains at once; then each is waited for
    for f in "$dir"/replica-*/pid; do
        if alive "$f" manifoldd; then
            kill -TERM "$(head -n 1 "$f")" 2>/dev/null && say "draining manifoldd (pid $(head -n 1 "$f"))"
        fi
    done
    for f in "$dir"/replica-*/pid; do
        [ -e "$f" ] || continue
        stop_pid "$f" manifoldd TERM $((${MANIFOLD_DRAIN_TIMEOUT:-20} + 5))
    done
    if alive "$dir/pg/pid" postgres; then
        bin=$(pg_bin)
        as_pg "$bin/pg_ctl" -D "$dir/pg/data" -m fast -w -t 20 stop >/dev/null 2>&1 || true
        stop_pid "$dir/pg/pid" postgres TERM 10
        say "stopped PostgreSQL"
    fi
    rm -f "$dir/pg/pid" "$dir/url"
}

# The pids of nginx's workers (the master's children), one per line; from /proc, so no
# procps is needed.
nginx_workers() {
    m=$(cat "$dir/nginx/nginx.pid")
    for f in /proc/[0-9]*/stat; do
        { read -r p _ _ pp _ <"$f"; } 2>/dev/null || continue
        if [ "$pp" = "$m" ]; then echo "$p"; fi
    done
}

# Marks the server at 127.0.0.1:PORT down or up in nginx's configuration and reloads it;
# returns once new workers (with the new configuration) run.
nginx_mark() { # PORT down|up
    n="$dir/nginx"
    ngx=$(command -v nginx || echo /usr/sbin/nginx)
    if [ "$2" = down ]; then
        sed -i "s/server 127\.0\.0\.1:$1 max_fails/server 127.0.0.1:$1 down max_fails/" "$n/nginx.conf"
    else
        sed -i "s/server 127\.0\.0\.1:$1 down max_fails/server 127.0.0.1:$1 max_fails/" "$n/nginx.conf"
    fi
    "$ngx" -t -q -p "$n" -e "$n/error.log" -c "$n/nginx.conf" || die "nginx refuses $n/nginx.conf"
    old=$(nginx_workers)
    kill -HUP "$(cat "$n/nginx.pid")"
    # Done when the old workers are gone: until then one may still accept a request and
    # send it where the old configuration says.  They finish their requests first; a
    # long event stream may keep one for longer, hence the bound.
    t=0
    while [ "$t" -lt 100 ]; do
        left=$(nginx_workers | grep -xF "$old" || true)
        [ -z "$left" ] && return 0
        sleep 0.05
        t=$((t + 1))
    done
    say "old nginx workers still run after 5 s (long requests): going on"
}

wait_ready() { # I: until the replica's probe port says /readyz 200 (up to 30 s)
    hp=$(sed -n 2p "$dir/replica-$1/port")
    t=0
    while [ "$(http_status "http://127.0.0.1:$hp/readyz")" != 200 ]; do
        t=$((t + 1))
        [ "$t" -lt 300 ] || { say "replica $1 not ready after 30 s"; return 1; }
        sleep 0.1
    done
}

restart_one() { # I
    r="$dir/replica-$1"
    port=$(head -n 1 "$r/port")
    hport=$(sed -n 2p "$r/port")
    # out of nginx first: no new request reaches it, what it runs finishes (drain)
    nginx_mark "$port" down
    stop_pid "$r/pid" manifoldd TERM $((${MANIFOLD_DRAIN_TIMEOUT:-20} + 5))
    start_replica "$1" "$port" "$hport"
    wait_replica "$1" || exit 1
    wait_ready "$1" || exit 1
    nginx_mark "$port" up
    say "replica $1 restarted: http://127.0.0.1:$port, pid $(cat "$r/pid")"
}

cmd_restart() {
    alive "$dir/nginx/nginx.pid" nginx || die "not running (deploy/local-cluster.sh start first)"
    count=$(cat "$dir/replicas")
    # the replicas that died first (they take no traffic anyway), then the live ones, one at
    # a time, so that the others always carry the load
    for pass in dead live; do
        i=1
        while [ "$i" -le "$count" ]; do
            if alive "$dir/replica-$i/pid" manifoldd; then state=live; else state=dead; fi
            [ "$state" = "$pass" ] && restart_one "$i"
            i=$((i + 1))
        done
    done
}

cmd_db_restart() { # [SECONDS]
    secs=${1:-0}
    case "$secs" in '' | *[!0-9]*) die "db-restart [SECONDS]: a whole number of seconds" ;; esac
    [ "$(cat "$dir/store" 2>/dev/null)" = postgres ] || die "no PostgreSQL in this cluster"
    alive "$dir/pg/pid" postgres || die "PostgreSQL does not run"
    bin=$(pg_bin)
    as_pg "$bin/pg_ctl" -D "$dir/pg/data" -m fast -w -t 30 stop >/dev/null || die "pg_ctl stop failed"
    say "PostgreSQL stopped; ${secs} s without it"
    sleep "$secs"
    port=$(cat "$dir/pg/port")
    as_pg "$bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/postgres.log" -w -t 30 \
        -o "-k $dir/pg -p $port -c listen_addresses=127.0.0.1" start >/dev/null ||
        die "PostgreSQL did not start again: $dir/pg/postgres.log"
    head -n 1 "$dir/pg/data/postmaster.pid" >"$dir/pg/pid"
    say "PostgreSQL started again, pid $(cat "$dir/pg/pid")"
}

cmd_status() {
    running=0
    if alive "$dir/pg/pid" postgres; then
        say "PostgreSQL: pid $(cat "$dir/pg/pid"), 127.0.0.1:$(cat "$dir/pg/port")"
        running=1
    fi
    for f in "$dir"/replica-*/pid; do
        [ -e "$f" ] || continue
        if alive "$f" manifoldd; then
            d=$(dirname "$f")
            say "$(basename "$d"): pid $(cat "$f"), http://127.0.0.1:$(head -n 1 "$d/port")," \
                "/readyz $(http_status "http://127.0.0.1:$(sed -n 2p "$d/port")/readyz")"
            running=1
        else
            say "$(basename "$(dirname "$f")"): not running"
        fi
    done
    if alive "$dir/nginx/nginx.pid" nginx; then
        say "nginx: pid $(cat "$dir/nginx/nginx.pid"), $(cat "$dir/url")"
        running=1
    fi
    [ "$running" -eq 1 ] || { say "nothing runs (state in $dir)"; return 3; }
    cat "$dir/url" 2>/dev/null || true
}

case "${1:-}" in
    start) shift; cmd_start "$@" ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    restart) cmd_restart ;;
    db-restart) shift; cmd_db_restart "$@" ;;
    *) echo "usage: deploy/local-cluster.sh start [N] | stop | status | restart | db-restart [S]" >&2; exit 2 ;;
esac
