#!/bin/sh
# SPDX-License-Identifier: MIT
# Fails when core/ includes a header it must not know about (HTTP, JSON, threads,
# event loops, databases): core/ depends on libc, libm and OpenBLAS, plus
# jansson in the files that own a file format (DESIGN.md, "Layout"): the
# safetensors header is read and written in safetensors.c and nowhere else.
root=${1:-.}
jansson_ok="safetensors.c" # space-separated file names under core/
bad=$(grep -nE '#\s*include\s*[<"](microhttpd|uv|pthread|threads|sqlite3|curl/curl|libpq-fe)\.h[>"]' \
      "$root"/core/*.c "$root"/core/*.h 2>/dev/null)
for f in "$root"/core/*.c "$root"/core/*.h; do
    case " $jansson_ok " in
    *" ${f##*/} "*) ;;
    *) bad="$bad
$(grep -HnE '#\s*include\s*[<"]jansson\.h[>"]' "$f" 2>/dev/null)" ;;
    esac
done
bad=$(printf '%s\n' "$bad" | sed '/^$/d')
if [ -n "$bad" ]; then
    echo "core/ must not include these headers (jansson.h only in: $jansson_ok):"
    echo "$bad"
    exit 1
fi
echo "core/ layering ok"
