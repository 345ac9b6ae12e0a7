#!/bin/sh
# SPDX-License-Identifier: MIT
# The layering rules of DESIGN.md and issue 11, checked on the source tree:
#   1. core/ includes no header it must not know about (HTTP, threads, event
#      loops, databases); jansson only in the files that own a file format:
#      the safetensors header (safetensors.c) and ndjson data rows
#      (data_ndjson.c).
#   2. No #include cycle between the files of server/ and proto/, nor between
#      their modules (x.c, x.h and its private x_impl.h / x_int.h taken as one:
#      http.c including routes.h while routes.c includes http.h is a cycle).
#   3. proto/ includes nothing of server/ (server -> proto -> core).
#   4. A job type (server/jobs/) includes no scheduler, store or HTTP
#      internals: it sees its job through jobs/job_type.h only.
#   5. No file in server/ or proto/ is over 800 lines.
# usage: check_layering.sh [ROOT]
root=${1:-.}
status=0

jansson_ok="safetensors.c data_ndjson.c" # space-separated file names under core/
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
    status=1
else
    echo "core/ layering ok"
fi

python3 - "$root" <<'PY' || status=1
import os
import re
import sys

root = sys.argv[1]
trees = ("server", "proto")
MAX_LINES = 800
# What a job type must not include: the scheduler's, the store's and the HTTP side's headers.
JOB_FORBIDDEN = {"scheduler.h", "scheduler_int.h", "job_impl.h", "store.h", "store_impl.h",
                 "store_sqlite_int.h", "http.h", "http_req.h", "routes.h", "stream.h",
                 "uv.h", "microhttpd.h", "sqlite3.h"}
inc = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)

files = []  # paths relative to root
for t in trees:
    for d, _, fs in os.walk(os.path.join(root, t)):
        files += [os.path.relpath(os.path.join(d, f), root) for f in fs]
sources = sorted(f for f in files if f.endswith((".c", ".h")))
by_name = {}
for f in sources:
    by_name.setdefault(os.path.basename(f), []).append(f)
text = {f: open(os.path.join(root, f), errors="replace").read() for f in sources}


def resolve(f, h):
    """The file of server/ or proto/ that #include "h" in f names (meson's include
    directories are flat: next to f first), or None (core/, system, library)."""
    cands = by_name.get(os.path.basename(h), [])
    same = [c for c in cands if os.path.dirname(c) == os.path.dirname(f)]
    return (same or cands or [None])[0]


edges = {f: sorted({r for h in inc.findall(text[f]) for r in [resolve(f, h)] if r and r != f})
         for f in sources}
status = 0


def find_cycle(graph):
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in graph.get(n, ()):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                c = visit(m)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            c = visit(n)
            if c:
                return c
    return None


def module(f):
    return re.sub(r"_(impl|int)$", "", os.path.splitext(f)[0])


modules = {}
for f, hs in edges.items():
    modules.setdefault(module(f), set()).update(module(h) for h in hs if module(h) != module(f))
for what, graph in (("files", edges), ("modules", modules)):
    c = find_cycle({k: sorted(v) for k, v in graph.items()})
    if c:
        print("include cycle between %s: %s" % (what, " -> ".join(c)))
        status = 1

for f in sources:
    if f.startswith("proto/"):
        for h in edges[f]:
            if h.startswith("server/"):
                print("%s includes %s: proto/ must not know server/" % (f, h))
                status = 1
    if f.startswith("server/jobs/"):
        for h in inc.findall(text[f]):
            if os.path.basename(h) in JOB_FORBIDDEN:
                print("%s includes %s: a job type sees its job through job_type.h only" % (f, h))
                status = 1

for f in sorted(files):
    try:
        n = sum(1 for _ in open(os.path.join(root, f), errors="replace"))
    except OSError:
        continue
    if n > MAX_LINES:
        print("%s has %d lines: over %d, split it" % (f, n, MAX_LINES))
        status = 1

if status == 0:
    print("server/ and proto/: no include cycle (%d files, %d modules), job types apart, "
          "no file over %d lines" % (len(edges), len(modules), MAX_LINES))
sys.exit(status)
PY
exit $status
