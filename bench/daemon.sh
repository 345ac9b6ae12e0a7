#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench/daemon.sh - builds manifoldd for the load benchmarks (build-bench: release,
# tests disabled, as bench/run.sh builds) and prints its path, alone on stdout.  The
# serving scripts (serve.sh, replicas.sh) call it when no --daemon is given, so the
# daemon they time is built one way.
#
#     daemon=$(sh bench/daemon.sh)
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-bench
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$root" --buildtype=release -Dtests=disabled >&2
fi
ninja -C "$build" server/manifoldd >&2
echo "$build/server/manifoldd"
