#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages Manifold needs to build, test and run, when
# any is missing (and the extra packages named as arguments, e.g. wrk for
# bench/serve.sh).  Called by ./run and ./test; safe to run again (it does
# nothing when everything is there).  Needs root or sudo only when installing.
set -eu

PACKAGES="build-essential meson ninja-build pkg-config libopenblas-dev libdnnl-dev check \
libmicrohttpd-dev libjansson-dev libuv1-dev libcurl4-openssl-dev libsqlite3-dev libpq-dev libssl-dev python3 \
clang libclang-rt-14-dev $*"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "setup: installing Debian packages:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "setup: need root (or sudo) to install:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "setup: done" >&2
