#!/bin/sh
# SPDX-License-Identifier: MIT
# with_pg.sh CMD [ARG...] - runs CMD against a throwaway PostgreSQL server:
# initdb into a fresh temporary folder, a server listening only on a unix
# socket in that folder (no TCP), a database "manifold"; CMD runs with
#
#   MF_TEST_PG_URI   postgres:///manifold?host=DIR&user=postgres
#   MF_TEST_PG_DIR   the folder (socket, data/, log)
#   MF_TEST_PG_CTL   "with_pg.sh --ctl": append stop, start or restart
#
# and the server is stopped and the folder removed afterwards, whatever
# happens (trap).  Exits with CMD's status (77, "skipped", when PostgreSQL's
# server binaries are not installed).  As root the server runs as the user
# "postgres" (initdb refuses root); otherwise as the calling user.
#
# with_pg.sh --ctl stop|start|restart acts on the server of MF_TEST_PG_DIR
# (the tests use it to take the database away under an open store).
set -eu

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
    echo "with_pg.sh: PostgreSQL's server is not installed (Debian: postgresql)" >&2
    exit 77
fi

# as_owner CMD...: runs CMD as the server's owner.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pg_ctl_do() { # ACTION
    as_owner "$PGBIN/pg_ctl" -D "$MF_TEST_PG_DIR/data" -l "$MF_TEST_PG_DIR/log" -w -t 30 \
        -o "-k $MF_TEST_PG_DIR -c listen_addresses= -c fsync=off -c full_page_writes=off" \
        -m fast "$1" >/dev/null
}

if [ "${1:-}" = "--ctl" ]; then
    pg_ctl_do "$2"
    exit 0
fi
[ $# -ge 1 ] || { echo "usage: with_pg.sh CMD [ARG...]" >&2; exit 2; }

MF_TEST_PG_DIR=$(mktemp -d /tmp/mf_pg_XXXXXX)
export MF_TEST_PG_DIR
cleanup() {
    as_owner "$PGBIN/pg_ctl" -D "$MF_TEST_PG_DIR/data" -m immediate -w -t 10 stop \
        >/dev/null 2>&1 || true
    rm -rf "$MF_TEST_PG_DIR"
}
trap cleanup EXIT
trap 'exit 143' INT TERM
[ "$(id -u)" -eq 0 ] && chown postgres: "$MF_TEST_PG_DIR"
chmod 700 "$MF_TEST_PG_DIR"

if ! as_owner "$PGBIN/initdb" -D "$MF_TEST_PG_DIR/data" -U postgres -A trust -E UTF8 \
    --locale=C --no-sync >"$MF_TEST_PG_DIR/initdb.log" 2>&1; then
    cat "$MF_TEST_PG_DIR/initdb.log" >&2
    exit 1
fi
if ! pg_ctl_do start; then
    cat "$MF_TEST_PG_DIR/log" >&2
    exit 1
fi
as_owner "$PGBIN/createdb" -h "$MF_TEST_PG_DIR" -U postgres manifold

export MF_TEST_PG_URI="postgres:///manifold?host=$MF_TEST_PG_DIR&user=postgres"
export MF_TEST_PG_CTL="$(cd "$(dirname "$0")" && pwd)/with_pg.sh --ctl"
set +e
"$@"
status=$?
set -e
exit $status
