#!/bin/sh
# SPDX-License-Identifier: MIT
# run.sh MANIFOLDD MODELS OUT_DIR - the browser test of the web page (meson suite
# 'browser'): installs playwright-core from the lock file (npm ci) when it is not
# there in its pinned version, then runs web.test.mjs with node's test runner
# against Debian's chromium.  Skips (77) without node, npm or chromium, which ./test
# installs (tools/setup-debian.sh); ./run needs none of them.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
chromium=${CHROMIUM:-/usr/bin/chromium}
for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "browser test skipped: no $tool (./test installs it)"
        exit 77
    fi
done
if [ ! -x "$chromium" ]; then
    echo "browser test skipped: no $chromium (./test installs Debian's chromium)"
    exit 77
fi
abs() { (cd "$(dirname "$1")" && printf '%s/%s' "$(pwd)" "$(basename "$1")"); }
manifoldd=$(abs "$1")
models=$(abs "$2")
out=$(abs "$3")
cd "$here"
if ! node -e "const p = require('./package.json'), m = require('./node_modules/playwright-core/package.json');
process.exit(m.version === p.dependencies['playwright-core'] ? 0 : 1)" 2>/dev/null; then
    npm ci --no-audit --no-fund --loglevel=error
fi
MANIFOLDD=$manifoldd MODELS=$models OUT_DIR=$out CHROMIUM=$chromium \
    exec node --test --test-reporter=spec --test-timeout=240000 web.test.mjs
