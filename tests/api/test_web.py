#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
The web page's files over HTTP (issue 16): GET / and /web/... from the copy
compiled into the daemon, and from --web-dir; the points the page draws
behind samples (GET /v1/datasets/{id}/points).

Checks: GET / is 200 text/html with the Content-Security-Policy, nosniff and
an ETag; If-None-Match with that ETag (also weak, in a list, or *) is 304 with
no body, a stale one 200; HEAD gives the headers and no body; every file of
clients/web/ is served with its bytes and its type (so the build's list of
files is complete); unknown files and every path traversal attempt are 404,
never a file; with API keys on the page needs no key while the API does;
--web-dir serves a folder's files without ETag (no-store), only known types,
and a folder without index.html stops the daemon at start; the points:
held-out points of built-in sets (the same each time, digits capped at 297),
rows spread over an upload, n's range, 404s.

usage: test_web.py PATH/TO/manifoldd MODELS_DIR SOURCE_ROOT
"""
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile

import harness
from harness import check

DAEMON, MODELS, ROOT = sys.argv[1], sys.argv[2], sys.argv[3]
WEB = os.path.join(ROOT, "clients", "web")
TMP = tempfile.mkdtemp(prefix="mf-web-")
TYPES = {".html": "text/html", ".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}


def raw(d, method, path, headers=None):
    """A request with the path sent exactly as given (no client normalisation)."""
    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
    c.putrequest(method, path, skip_host="Host" in (headers or {}), skip_accept_encoding=True)
    for k, v in (headers or {}).items():
        c.putheader(k, v)
    c.endheaders()
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), body


os.makedirs(os.path.join(TMP, "a"))
d = harness.Daemon(DAEMON, MODELS, os.path.join(TMP, "a"))

# ---- GET /: the page, its headers, caching ---------------------------------------------
st, h, body = raw(d, "GET", "/")
check(st == 200, "GET / is 200 (%s)" % st)
check(h.get("content-type") == "text/html; charset=utf-8", "GET / is html (%s)" % h.get("content-type"))
check(body == open(os.path.join(WEB, "index.html"), "rb").read(), "GET / is clients/web/index.html")
csp = h.get("content-security-policy", "")
for part in ("default-src 'self'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"):
    check(part in csp, "CSP has %s (%s)" % (part, csp))
check("unsafe-inline" not in csp and "unsafe-eval" not in csp, "CSP allows no inline script or eval")
check(h.get("x-content-type-options") == "nosniff", "nosniff")
check(h.get("cache-control") == "no-cache", "no-cache: revalidated with the ETag")
etag = h.get("etag", "")
check(etag.startswith('"') and etag.endswith('"') and len(etag) == 18, "a strong ETag (%s)" % etag)
check(b"<script type=\"module\" src=\"/web/js/app.js\">" in body, "the page loads its module")
check(b"<script>" not in body and b"http://" not in body and b"https://" not in body,
      "no inline script, nothing from another origin")

for inm in (etag, "W/" + etag, '"x", ' + etag, "*"):
    st, h2, b2 = raw(d, "GET", "/", {"If-None-Match": inm})
    check(st == 304 and b2 == b"" and h2.get("etag") == etag, "If-None-Match %s: 304 (%s)" % (inm, st))
    check("content-security-policy" in h2, "a 304 keeps the CSP")
st, _, b2 = raw(d, "GET", "/", {"If-None-Match": '"0000000000000000"'})
check(st == 200 and b2 == body, "a stale ETag: 200 with the page")

st, h2, b2 = raw(d, "HEAD", "/")
check(st == 200 and b2 == b"" and h2.get("content-length") == str(len(body)),
      "HEAD /: the headers, Content-Length, no body (%s %s)" % (st, h2.get("content-length")))
st, h2, b2 = raw(d, "HEAD", "/web/js/app.js")
check(st == 200 and b2 == b"" and h2.get("content-type", "").startswith("text/javascript"), "HEAD a script")

# ---- every file of clients/web is served, with its type ----------------------------------
served = 0
for top, _, files in os.walk(WEB):
    for f in files:
        rel = os.path.relpath(os.path.join(top, f), WEB).replace(os.sep, "/")
        ext = os.path.splitext(f)[1]
        if ext not in TYPES:
            continue  # meson.build
        st, h2, b2 = raw(d, "GET", "/" if rel == "index.html" else "/web/" + rel)
        ok = st == 200 and b2 == open(os.path.join(top, f), "rb").read() and \
            h2.get("content-type", "").startswith(TYPES[ext])
        check(ok, "%s served with its bytes and type (%s %s); listed in clients/web/meson.build?"
              % (rel, st, h2.get("content-type")))
        served += ok
check(served >= 15, "the page has its files (%d)" % served)

# ---- unknown files, traversal: 404, never a file -----------------------------------------
for path in ["/web/nope.js", "/web/js/nope.js", "/web/js/views/nope.js", "/web/index.html.bak",
             "/web/../server/web.c", "/web/js/../../meson.build", "/web/js/views/../../index.html",
             "/web/..", "/web/.", "/web/.hidden", "/web/js/..%2F..%2Fmeson.build",
             "/web/%2e%2e/%2e%2e/etc/passwd", "/web/js/%2e%2e", "/web/js/views/a/b.js",
             "/web//etc/passwd", "/web/js//app.js", "/web/js/app.js/", "/web/js/views/app.js",
             "/web/js/app.js%00.css", "/web/meson.build", "/web/js/views/..%5c..%5cindex.html",
             "//etc/passwd", "/index.html", "/web/", "/web"]:
    st, h2, b2 = raw(d, "GET", path)
    check(st == 404 and b"<html" not in b2 and b"SPDX" not in b2,
          "GET %s is 404 (%s)" % (path, st))
st, h2, _ = raw(d, "POST", "/", {"Content-Length": "0"})
check(st == 405 and "GET" in h2.get("allow", ""), "POST / is 405 with Allow (%s)" % st)

# ---- the points behind samples ---------------------------------------------------------
st, _, p = d.json("GET", "/v1/datasets/eight_gaussians/points?n=5")
check(st == 200 and p["dataset"] == "eight_gaussians" and p["source"] == "heldout" and p["dims"] == 2
      and p["n"] == 5 and len(p["points"]) == 5 and all(len(r) == 2 for r in p["points"]),
      "points of a built-in set (%s %s)" % (st, p))
st, _, p2 = d.json("GET", "/v1/datasets/eight_gaussians/points?n=50")
check(st == 200 and p2["points"][:5] == p["points"], "the held-out points: the same, a prefix")
st, _, p = d.json("GET", "/v1/datasets/two_moons/points")
check(st == 200 and p["n"] == 1000, "n defaults to 1000 (%s)" % p.get("n"))
st, _, p = d.json("GET", "/v1/datasets/digits/points?n=1000")
check(st == 200 and p["n"] == 297 and p["dims"] == 64 and
      all(0 <= v <= 16 for r in p["points"] for v in r), "digits: its 297 held-out images")
csv = "x0,x1,y\n" + "".join("%d,%d,%d\n" % (i, -i, i % 2) for i in range(100))
st, _, _ = d.json("POST", "/v1/datasets?id=web-rows", csv, {"Content-Type": "text/csv"})
check(st == 201, "an upload (%s)" % st)
st, _, p = d.json("GET", "/v1/datasets/web-rows/points?n=4")
check(st == 200 and p["source"] == "rows" and p["points"] == [[0, 0], [25, -25], [50, -50], [75, -75]],
      "an upload's rows, spread evenly (%s)" % p)
st, _, p = d.json("GET", "/v1/datasets/web-rows/points?n=5000")
check(st == 200 and p["n"] == 100, "at most the upload's rows")
for q in ("n=0", "n=10001", "n=abc", "n=", "n=1.5", "n=-3"):
    st, _, e = d.json("GET", "/v1/datasets/two_moons/points?" + q)
    check(st == 400 and e["error"]["code"] == "out_of_range" and e["error"]["field"] == "n",
          "?%s: 400 out_of_range on n (%s)" % (q, st))
st, _, _ = d.json("GET", "/v1/datasets/no-such/points")
check(st == 404, "an unknown dataset: 404")
check(d.term() == 0, "daemon drained")

# ---- with API keys: the page needs none, the API does ----------------------------------
TOKEN = "web-test-token-0123456789abcdef"
os.makedirs(os.path.join(TMP, "b"))
os.environ["MANIFOLD_API_KEYS_TEXT"] = "webtest read,sample %s\n" % TOKEN
k = harness.Daemon(DAEMON, MODELS, os.path.join(TMP, "b"))
del os.environ["MANIFOLD_API_KEYS_TEXT"]
for path in ("/", "/web/style.css", "/web/js/app.js", "/web/js/views/explore.js"):
    st, _, _ = raw(k, "GET", path)
    check(st == 200, "keys on: GET %s needs no key (%s)" % (path, st))
st, h2, _ = raw(k, "GET", "/v1/models")
check(st == 401 and "bearer" in h2.get("www-authenticate", "").lower(), "keys on: the API asks (%s)" % st)
st, _, _ = raw(k, "GET", "/v1/datasets/two_moons/points", {"Authorization": "Bearer " + TOKEN})
check(st == 200, "keys on: points with a read key (%s)" % st)
st, _, _ = raw(k, "GET", "/", {"Host": "evil.example"})
check(st == 421, "the page keeps the Host check (%s)" % st)
check(k.term() == 0, "daemon drained")

# ---- --web-dir: a folder's files, for development ----------------------------------------
folder = os.path.join(TMP, "site")
os.makedirs(os.path.join(folder, "js", "views"))
open(os.path.join(folder, "index.html"), "w").write("<!doctype html><p>dev</p>\n")
open(os.path.join(folder, "js", "views", "x.js"), "w").write("export const x = 1;\n")
open(os.path.join(folder, "notes.txt"), "w").write("not served\n")
os.makedirs(os.path.join(TMP, "c"))
w = harness.Daemon(DAEMON, MODELS, os.path.join(TMP, "c"), "--web-dir", folder)
st, h2, b2 = raw(w, "GET", "/")
check(st == 200 and b2 == b"<!doctype html><p>dev</p>\n" and h2.get("cache-control") == "no-store"
      and "etag" not in h2 and "content-security-policy" in h2, "--web-dir: the folder's index.html")
st, h2, b2 = raw(w, "GET", "/web/js/views/x.js")
check(st == 200 and b2 == b"export const x = 1;\n", "--web-dir: a file in a subfolder")
for path in ("/web/notes.txt", "/web/js/app.js", "/web/js/../index.html"):
    st, _, _ = raw(w, "GET", path)
    check(st == 404, "--web-dir: GET %s is 404 (%s)" % (path, st))
check(w.term() == 0, "daemon drained")
r = subprocess.run([DAEMON, "--listen", "127.0.0.1:0", "--models", MODELS, "--web-dir",
                    os.path.join(TMP, "nowhere"), "--store", "sqlite:" + os.path.join(TMP, "x.db"),
                    "--model-store", os.path.join(TMP, "xm")], capture_output=True, text=True,
                   timeout=30)
check(r.returncode == 2 and "--web-dir" in r.stderr, "a --web-dir without index.html stops the "
      "daemon at start (%s: %s)" % (r.returncode, r.stderr.strip()))

status = harness.summary("web", TMP)
shutil.rmtree(TMP, ignore_errors=True)
sys.exit(status)
