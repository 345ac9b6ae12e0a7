#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
Fails when the #include "..." lines of server/ form a cycle, between files
(a header that ends up including itself) or between modules (x.c, x.h and
the module's private x_impl.h or x_int.h taken as one module x: http.c
including routes.h while routes.c includes http.h is such a cycle, even
though no header includes itself).

usage: check_include_cycles.py [ROOT]
"""
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "."
src = os.path.join(root, "server")
names = sorted(os.path.relpath(os.path.join(d, f), src)
               for d, _, fs in os.walk(src) for f in fs if f.endswith((".c", ".h")))
inc = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def resolve(f, h):
    """The server/ file that #include "h" in f names (next to f, then from server/), or None."""
    for cand in (os.path.normpath(os.path.join(os.path.dirname(f), h)), os.path.normpath(h)):
        if cand in names:
            return cand
    return None


edges = {}
for f in names:
    with open(os.path.join(src, f)) as fh:
        found = (resolve(f, h) for h in inc.findall(fh.read()))
        edges[f] = [h for h in found if h is not None and h != f]


def find_cycle(graph):
    """A cycle of graph (node -> [node]) as a list of nodes, or None."""
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
status = 0
for what, graph in (("files", edges), ("modules", modules)):
    c = find_cycle(graph)
    if c:
        print("server/ include cycle between %s: %s" % (what, " -> ".join(c)))
        status = 1
if status == 0:
    print("server/ includes: no cycle between %d files or %d modules" % (len(edges), len(modules)))
sys.exit(status)
