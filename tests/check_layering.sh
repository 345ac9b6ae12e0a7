#!/bin/sh
# SPDX-License-Identifier: MIT
# Fails when core/ includes a header it must not know about (HTTP, JSON, threads,
# event loops, databases): core/ depends on libc, libm and OpenBLAS only.
root=${1:-.}
bad=$(grep -nE '#\s*include\s*[<"](microhttpd|jansson|uv|pthread|threads|sqlite3|curl/curl|libpq-fe)\.h[>"]' \
      "$root"/core/*.c "$root"/core/*.h 2>/dev/null)
if [ -n "$bad" ]; then
    echo "core/ must not include these headers:"
    echo "$bad"
    exit 1
fi
echo "core/ layering ok"
