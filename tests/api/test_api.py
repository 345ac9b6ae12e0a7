#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
API integration suite: starts the real manifoldd on an ephemeral loopback port
with a fresh store and drives it over HTTP as a user would (/v1/datasets has
its own script in the suite, test_datasets.py).  Standard library only.
Every request has a timeout; every wait loop is bounded.

usage: test_api.py PATH/TO/manifoldd MODELS_DIR OPENAPI_YAML
"""
import http.client
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import time

import harness
from harness import check, read_events, wait_state

DAEMON, MODELS, OPENAPI = sys.argv[1], sys.argv[2], sys.argv[3]
TMP = tempfile.mkdtemp(prefix="mf-api-")


def Daemon(*extra):
    return harness.Daemon(DAEMON, MODELS, TMP, *extra, openapi=OPENAPI)


# ---- start -----------------------------------------------------------------------------
d = Daemon("--max-running", "1")

# ---- operations ------------------------------------------------------------------------
st, h, j = d.json("GET", "/healthz")
check(st == 200 and j["status"] == "ok", "healthz")
st, h, j = d.json("GET", "/readyz")
check(st == 200 and j["status"] == "ready", "readyz ready")
check(h.get("x-request-id", "").startswith("req-"), "X-Request-Id generated")
st, h, _ = d.req("GET", "/healthz", headers={"X-Request-Id": "abc-123"})
check(h.get("x-request-id") == "abc-123", "X-Request-Id echoed")

# CORS
st, h, _ = d.req("GET", "/v1/models", headers={"Origin": "https://app.example"})
check(h.get("access-control-allow-origin") == "https://app.example", "CORS allowed origin echoed")
st, h, _ = d.req("GET", "/v1/models", headers={"Origin": "https://evil.example"})
check("access-control-allow-origin" not in h, "CORS other origin refused")
st, h, _ = d.req("OPTIONS", "/v1/samples", headers={"Origin": "https://app.example",
                                                     "Access-Control-Request-Method": "POST"})
check(st == 204 and "POST" in h.get("access-control-allow-methods", ""), "CORS preflight")

# ---- models ----------------------------------------------------------------------------
st, _, j = d.json("GET", "/v1/models")
ids = sorted(m["id"] for m in j["models"])
shipped = sorted(f[:-12] for f in os.listdir(MODELS) if f.endswith(".safetensors"))
check(st == 200 and ids == shipped, "list = shipped models %s" % ids)
check(all(m["protected"] and m["dataset"] in m["id"] for m in j["models"]), "shipped ids name their dataset")
st, _, j = d.json("GET", "/v1/models/eight_gaussians")
check(st == 200 and j["data_dim"] == 2 and j["hidden"] == [256, 256, 256] and j["params"] == 149250,
      "describe eight_gaussians")
# times on the wire are RFC 3339 UTC with milliseconds; the file keeps its own text
check(j["created"] == "2026-11-22T09:38:58.000Z" and j["metadata"]["created"] == "2026-11-22T09:38:58Z",
      "a model's created is a date-time (%s)" % j["created"])
st, h, raw = d.req("GET", "/v1/models/eight_gaussians/weights")
check(st == 200 and raw == open(os.path.join(MODELS, "eight_gaussians.safetensors"), "rb").read(),
      "weights download is the file")
for path in ["/v1/models/nope", "/v1/models/..%2Fetc", "/v1/models/A", "/v1/nothing", "/v1/models/a/b",
             "/v1/jobs/job-none", "/v1/jobs/job-none/events"]:
    st, _, j = d.json("GET", path)
    check(st == 404 and j["error"]["code"] in ("not_found", "model_not_found"), "404 for " + path)

# upload, duplicate, bad files, delete
egw = raw
st, h, j = d.json("POST", "/v1/models?id=eg-copy", egw, {"Content-Type": "application/octet-stream"})
check(st == 201 and h.get("location") == "/v1/models/eg-copy" and not j["protected"], "upload 201")
st, _, j = d.json("POST", "/v1/models?id=eg-copy", egw, {"Content-Type": "application/octet-stream"})
check(st == 409 and j["error"]["code"] == "exists", "duplicate upload 409")
st, _, j = d.json("POST", "/v1/models?id=junk", b"\x10\x00\x00\x00\x00\x00\x00\x00{not json",
                  {"Content-Type": "application/octet-stream"})
check(st == 422 and j["error"]["code"] == "invalid_model", "garbage upload 422")
st, _, j = d.json("POST", "/v1/models?id=junk", egw[:1000], {"Content-Type": "application/octet-stream"})
check(st == 422, "truncated upload 422")
st, _, j = d.json("POST", "/v1/models?id=junk", egw, {"Content-Type": "application/json"})
check(st == 415, "upload wrong content type 415")
st, _, j = d.json("POST", "/v1/models?id=Bad/Id", egw, {"Content-Type": "application/octet-stream"})
check(st == 400 and j["error"]["field"] == "id", "upload bad id 400")


def raw_head(path, length):
    """Sends only the headers of a request with a declared body, as a client that waits for
    100 Continue (without it, a body within a few MiB of the limit is read before the 413,
    test_conns.py); returns the reply's start."""
    s_ = socket.create_connection(("127.0.0.1", d.port), timeout=5)
    s_.sendall(("POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\n"
                "Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % (path, length)).encode())
    try:
        out = s_.recv(4000)
    except OSError:
        out = b""
    s_.close()
    return out


resp = raw_head("/v1/models?id=big", 4100000)
check(resp.startswith(b"HTTP/1.1 413") and b'"too_large"' in resp, "oversize upload 413 before the body is read")


def vm_rss_mib(pid):
    return harness.proc_status_mib(pid, "VmRSS")


# Upload bodies are spooled to an unlinked file, not held in memory: 20 uploads of 3.5 MB each,
# left unfinished, would hold 70 MB of heap if buffered.
rss0 = vm_rss_mib(d.proc.pid)
slow = []
for i in range(20):
    s_ = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    s_.sendall(("POST /v1/models?id=slow%d HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\n"
                "Content-Length: 3900000\r\n\r\n" % i).encode() + b"\0" * 3500000)
    slow.append(s_)
time.sleep(0.5)
rss1 = vm_rss_mib(d.proc.pid)
store_dir = os.path.join(TMP, "models")
leftover = [f for f in os.listdir(store_dir) if f.startswith(".upload.")]
check(rss1 - rss0 < 25 and not leftover,
      "20 unfinished 3.5 MB uploads: the daemon's RSS grew %.1f MiB (< 25; 84 when they were buffered), no spool file named (%s)"
      % (rss1 - rss0, leftover))
for s_ in slow:
    s_.close()
st, _, j = d.json("POST", "/v1/samples", {"model": "eg-copy", "n": 16, "seed": 5, "sampler": "ddim", "steps": 20})
st2, _, j2 = d.json("POST", "/v1/samples", {"model": "eight_gaussians", "n": 16, "seed": 5, "sampler": "ddim", "steps": 20})
check(st == 200 and j["samples"] == j2["samples"], "uploaded copy samples like its original")
st, _, _ = d.req("DELETE", "/v1/models/eight_gaussians")
check(st == 409, "shipped model protected from delete")

# ---- sampling ----------------------------------------------------------------------------
st, _, j = d.json("POST", "/v1/samples", {"model": "eight_gaussians", "n": 500, "sampler": "ddim", "steps": 50, "seed": 7})
check(st == 200 and len(j["samples"]) == 500 and all(len(s) == 2 for s in j["samples"]), "500 samples")
check(j["seed"] == 7 and j["steps"] == 50 and j["metrics"]["n"] == 500, "settings echoed")
radii = [(x * x + y * y) ** 0.5 for x, y in j["samples"]]
check(sum(1 for r in radii if 2.0 < r < 3.7) >= 450, "eight_gaussians samples on the ring")
st, _, j1 = d.json("POST", "/v1/samples", {"model": "eight_gaussians", "n": 5, "sampler": "ddim", "steps": 20})
check(st == 200 and isinstance(j1["seed"], int) and j1["metrics"] is None and "metrics_skipped" in j1,
      "seed drawn when absent; metrics skipped for n <= k")
st, _, jd = d.json("POST", "/v1/samples", {"model": "digits", "n": 3, "sampler": "ddim", "steps": 10, "seed": 1})
check(st == 200 and len(jd["samples"][0]) == 64, "digits samples have 64 pixels")

# batching: 40 concurrent requests with their own seeds get exactly what they get alone
alone = {}
for s in range(8):
    _, _, r = d.json("POST", "/v1/samples", {"model": "two_moons", "n": 16, "sampler": "ddim", "steps": 50, "seed": 100 + s, "metrics": False})
    alone[100 + s] = r["samples"]
results = {}
lock = threading.Lock()


def one(i):
    seed = 100 + i % 8
    try:
        st_, _, r_ = d.json("POST", "/v1/samples", {"model": "two_moons", "n": 16, "sampler": "ddim", "steps": 50, "seed": seed, "metrics": False}, timeout=120)
    except Exception as e:  # noqa: BLE001 - reported as a failure below
        st_, r_ = str(e), None
    with lock:
        results[i] = (st_, seed, r_)


_, _, before = d.req("GET", "/metrics")
threads = [threading.Thread(target=one, args=(i,)) for i in range(100)]
for t in threads:
    t.start()
for t in threads:
    t.join(180)
ok_n = sum(1 for st_, _, r_ in results.values() if st_ == 200 and len(r_["samples"]) == 16)
check(ok_n == 100, "100 concurrent requests all answered with 16 samples (%d)" % ok_n)


def max_diff(a, b):
    return max(abs(x - y) for ra, rb in zip(a, b) for x, y in zip(ra, rb))


# Same noise, same network: equal up to float summation order (a batch of 16 alone runs
# the small-batch kernel, a batch of many requests runs sgemm; core/mlp.h).
diffs = [max_diff(r_["samples"], alone[seed]) for st_, seed, r_ in results.values() if st_ == 200]
print("batched vs alone: max |diff| %.2g" % max(diffs))
check(len(diffs) == 100 and max(diffs) < 1e-3, "batched samples equal the unbatched ones to float rounding")
_, _, after = d.req("GET", "/metrics")


def metric(text, name):
    m = re.search(r"^%s (\S+)$" % re.escape(name), text.decode(), re.M)
    return float(m.group(1)) if m else None


nb = metric(after, "manifold_batches_total") - metric(before, "manifold_batches_total")
check(nb < 100, "concurrent requests were batched (%d runs for 100 requests)" % nb)
check(b'manifold_queue_wait_seconds_bucket{le="+Inf"}' in after and b"# TYPE manifold_run_seconds histogram" in after,
      "Prometheus histograms")

# ---- streamed POST /v1/samples --------------------------------------------------------


def stream_samples(body, ndjson=False, accept=True, path="/v1/samples"):
    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=60)
    h = {"Content-Type": "application/json"}
    if accept:
        h["Accept"] = "application/x-ndjson" if ndjson else "text/event-stream"
    c.request("POST", path, body=json.dumps(body), headers=h)
    r = c.getresponse()
    hd = dict((k.lower(), v) for k, v in r.getheaders())
    evs = harness.parse_stream(r, 60, ndjson=ndjson) if r.status == 200 else json.loads(r.read())
    c.close()
    return r.status, hd, evs


body = {"model": "eight_gaussians", "n": 2500, "sampler": "ddim", "steps": 40, "seed": 11}
_, _, plain = d.json("POST", "/v1/samples", body)
for nd in (False, True):
    kind = "NDJSON" if nd else "SSE"
    st, hd, evs = stream_samples(body, ndjson=nd)
    check(st == 200 and hd.get("content-type", "").startswith("application/x-ndjson" if nd else "text/event-stream")
          and hd.get("x-accel-buffering") == "no", "%s samples stream: status and headers" % kind)
    check([e[0] for e in evs] == list(range(1, len(evs) + 1)), "%s: ids 1..n without gaps" % kind)
    names = [e[1] for e in evs]
    check(names[:2] == ["status", "status"] and evs[0][2]["state"] == "queued" and evs[1][2]["state"] == "running",
          "%s: opens with status queued, running" % kind)
    # progress counts rows, as a sample job's does (issue 15), and names the phase
    prog = [(e[2]["done"], e[2]["total"], e[2]["phase"]) for e in evs if e[1] == "progress"]
    dones = [p_[0] for p_ in prog]
    check(len(prog) >= 1 and dones == sorted(dones) and dones[-1] == 2500 and all(p_[1] == 2500 for p_ in prog)
          and all(p_[2] == "sampling" for p_ in prog[:-1]) and prog[-1][2] == "metrics",
          "%s: progress in rows, monotone, sampling then metrics at 2500 of 2500 (%s)" % (kind, prog[-3:]))
    chunks = [e[2] for e in evs if e[1] == "samples"]
    rows = [r_ for ch in chunks for r_ in ch["samples"]]
    check([ch["offset"] for ch in chunks] == [0, 1024, 2048] and rows == plain["samples"],
          "%s: samples in 1024-row chunks equal the JSON answer" % kind)
    mets = [e[2] for e in evs if e[1] == "metrics"]
    check(len(mets) == 1 and mets[0] == plain["metrics"], "%s: one metrics event, as in the JSON answer" % kind)
    fin = evs[-1][2]
    check(names[-1] == "status" and fin["state"] == "succeeded" and fin["result"]["seed"] == 11
          and "samples" not in fin["result"] and fin["result"]["metrics"] == plain["metrics"],
          "%s: ends with status succeeded and the settings" % kind)
    check(names.index("samples") > max(i for i, n_ in enumerate(names) if n_ == "progress"),
          "%s: samples after the last progress" % kind)
st, _, evs = stream_samples(body, accept=False, path="/v1/samples?format=sse")
check(st == 200 and evs[-1][2]["state"] == "succeeded", "?format=sse streams without an Accept header")
st, _, evs = stream_samples(dict(body, n=300, metrics=False))
prog = [(e[2]["done"], e[2]["total"], e[2]["phase"]) for e in evs if e[1] == "progress"]
check(st == 200 and prog and prog[-1] == (300, 300, "sampling") and not any(e[1] == "metrics" for e in evs),
      "a stream without metrics: progress ends at 300 of 300 rows, sampling (%s)" % prog[-2:])
st, _, j = stream_samples({"model": "eight_gaussians", "n": 0})
check(st == 400 and j["error"]["field"] == "/n", "a bad streamed request gets the JSON error, not a stream")
st, _, j = stream_samples({"model": "nope", "n": 5})
check(st == 404 and j["error"]["code"] == "model_not_found", "streamed request for an unknown model: 404")

# A client that goes away cancels its call: the run stops at the next step and
# produces no samples.  digits, 400 rows x 1000 DDPM steps alone takes several seconds (in
# f32: the timed calls of this file name it, bf16 being the default and faster).
_, _, m0 = d.req("GET", "/metrics")
c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
c.request("POST", "/v1/samples", body=json.dumps({"model": "digits", "n": 400, "sampler": "ddpm", "seed": 2, "metrics": False,
                                                   "precision": "f32"}),
          headers={"Accept": "text/event-stream", "Content-Type": "application/json"})
r = c.getresponse()
seen = []
t_end = time.time() + 30
while time.time() < t_end and "progress" not in seen:
    line = r.readline().decode()
    if line.startswith("event:"):
        seen.append(line.split(":", 1)[1].strip())
t_cut = time.time()
c.close()
calls0 = metric(m0, "manifold_sample_requests_total")
m1 = m0
while time.time() < t_cut + 30:
    _, _, m1 = d.req("GET", "/metrics")
    if metric(m1, "manifold_sample_requests_total") > calls0:
        break
    time.sleep(0.05)
t_stop = time.time() - t_cut
check("progress" in seen and metric(m1, "manifold_sample_requests_total") == calls0 + 1
      and metric(m1, "manifold_samples_total") == metric(m0, "manifold_samples_total"),
      "a dropped stream cancels its call: no samples produced")
check(t_stop < 2.0, "the cancelled run stopped within 2 s of the disconnect (%.2f s)" % t_stop)

# ---- malformed requests: each gets its 4xx and code, the daemon stays healthy ----------
table = [
    ("POST", "/v1/samples", "", 400, "bad_json", ""),
    ("POST", "/v1/samples", "{", 400, "bad_json", ""),
    ("POST", "/v1/samples", "[1,2]", 400, "bad_json", ""),
    ("POST", "/v1/samples", '{"model":"gaussian","n":1} x', 400, "bad_json", ""),
    ("POST", "/v1/samples", '{"model":"gaussian","n":"5"}', 400, "wrong_type", "/n"),
    ("POST", "/v1/samples", '{"model":"gaussian","n":5.0}', 400, "wrong_type", "/n"),
    ("POST", "/v1/samples", '{"model":"gaussian","n":0}', 400, "out_of_range", "/n"),
    ("POST", "/v1/samples", '{"model":"gaussian","n":10001}', 400, "out_of_range", "/n"),
    ("POST", "/v1/samples", '{"model":"gaussian","n":99999999999999999999999}', 400, "bad_json", ""),
    ("POST", "/v1/samples", '{"model":"gaussian","n":1,"eta":2}', 400, "out_of_range", "/eta"),
    ("POST", "/v1/samples", '{"model":"gaussian","n":1,"sampler":"euler"}', 400, "bad_value", "/sampler"),
    ("POST", "/v1/samples", '{"model":"gaussian","n":1,"seed":-1}', 400, "out_of_range", "/seed"),
    ("POST", "/v1/samples", '{"model":"gaussian","n":1,"stpes":5}', 400, "unknown_field", "/stpes"),
    ("POST", "/v1/samples", '{"model":"../etc/passwd","n":1}', 400, "bad_value", "/model"),
    ("POST", "/v1/samples", '{"n":1}', 400, "missing_field", "/model"),
    ("POST", "/v1/samples", '{"model":"nope","n":1}', 404, "model_not_found", "/model"),
    ("POST", "/v1/samples", '{"model":"gaussian","n":1,"steps":1001}', 400, "out_of_range", "/steps"),
    ("POST", "/v1/samples", '{"model":"gaussian","n":10000,"steps":1000,"sampler":"ode"}', 422, "impossible", "/n"),
    ("POST", "/v1/samples", '{"model":"gaussian","n":1,"target":1}', 422, "impossible", "/target"),
    ("POST", "/v1/samples", '{"model":"gaussian","n":1,"condition":[1]}', 422, "impossible", "/condition"),
    ("POST", "/v1/samples", '{"model":"gaussian","n":1,"target":1,"condition":[1]}', 422, "impossible", "/condition"),
    ("POST", "/v1/samples", '{"model":"gaussian","n":1,"guidance":{"mode":"cfg"}}', 422, "impossible", "/guidance"),
    ("POST", "/v1/jobs", '{"type":"sample","model":"gaussian","params":{"n":1,"target":1}}', 422, "impossible", "/params/target"),
    ("POST", "/v1/jobs", '{"type":"sample","model":"gaussian"}', 400, "missing_field", "/params"),
    ("POST", "/v1/jobs", '{"type":"sample","model":"gaussian","params":{"n":1,"model":"x"}}', 400, "unknown_field", "/params/model"),
    ("POST", "/v1/jobs", '{"type":"finetune.dxmi","model":"gaussian","params":{"steps":1}}', 400, "out_of_range", "/params/steps"),
    ("POST", "/v1/jobs", '{"type":"finetune.reward","model":"gaussian"}', 400, "missing_field", "/params"),
    ("POST", "/v1/jobs", '{"type":"dance","model":"gaussian"}', 400, "bad_value", "/type"),
    ("POST", "/v1/jobs", '{"type":"train","params":{"dataset":"two_moons","dequantise":true}}', 422, "impossible", "/params/dequantise"),
    ("POST", "/v1/jobs", '{"type":"train","params":{"dataset":"mnist"}}', 404, "dataset_not_found", "/params/dataset"),
    ("POST", "/v1/jobs", '{"type":"train","params":{"dataset":"MNIST"}}', 400, "bad_value", "/params/dataset"),
    ("POST", "/v1/jobs", '{"type":"train","params":{"dataset":"two_moons","hidden":[0]}}', 400, "out_of_range", "/params/hidden/0"),
    ("POST", "/v1/jobs", '{"type":"sample","model":"nope","params":{"n":1}}', 404, "model_not_found", "/model"),
    ("PUT", "/v1/samples", "{}", 405, "method_not_allowed", None),
    ("DELETE", "/v1/jobs", "", 405, "method_not_allowed", None),
    ("GET", "/v1/jobs?state=done", None, 400, "bad_value", "state"),
    ("GET", "/v1/jobs?limit=0", None, 400, "out_of_range", "limit"),
]
for method, path, body, want, code, field in table:
    st, h, j = d.json(method, path, body, {"Content-Type": "application/json"})
    good = st == want and isinstance(j, dict) and "error" in j and j["error"]["code"] == code
    if field is not None and good:
        good = j["error"]["field"] == (field if field != "" else None) or j["error"]["field"] == field
    check(good, "%s %s %.60s -> %s %s %s (got %s %s)" % (method, path, body, want, code, field, st,
                                                       j.get("error") if isinstance(j, dict) else j))
    check(set(j.get("error", {}).keys()) == {"code", "message", "field"} if isinstance(j, dict) else False,
          "error body shape for %s %.40s" % (method, body))
resp = raw_head("/v1/samples", 99999999999)
check(resp.startswith(b"HTTP/1.1 413"), "declared oversize JSON body refused before reading")
ok_body = {"model": "gaussian", "n": 4, "steps": 5, "sampler": "ddim"}
for ct, want in [("application/x-www-form-urlencoded", 415), ("text/plain", 415), ("multipart/form-data; boundary=x", 415),
                 ("application/jsonx", 415), ("application/json", 200), ("Application/JSON; charset=utf-8", 200), (None, 415)]:
    # a str body goes out without Content-Type (harness adds it only for dicts): refused, as a
    # cross-site page can send a body without one and no CORS preflight
    st, _, j = d.json("POST", "/v1/samples", ok_body if ct else json.dumps(ok_body), {"Content-Type": ct} if ct else {})
    check(st == want and (want == 200 or j["error"]["code"] == "unsupported_media_type"),
          "POST /v1/samples with Content-Type %s: %d (%s)" % (ct, want, st))
st, _, j = d.json("POST", "/v1/jobs", {"type": "sample", "model": "gaussian", "params": {"n": 4}}, {"Content-Type": "text/plain"})
check(st == 415, "POST /v1/jobs as text/plain: 415")
st, _, j = d.json("GET", "/healthz")
check(st == 200, "healthy after the malformed table")

# ---- echoed client bytes that are not UTF-8: the error body still encodes ---------------
def raw(request_bytes):
    """Sends raw bytes, returns (status, parsed JSON body or None)."""
    with socket.create_connection(("127.0.0.1", d.port), timeout=30) as so:
        so.sendall(request_bytes)
        data = b""
        while True:
            chunk = so.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/") else 0
    try:
        return status, json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return status, None


bad_body = b'{"model": "\xff\xfe'
for what, rq in [
        ("a path with %ff", b"GET /v1/%ff HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
        ("a path with a raw 0xff byte", b"GET /v1/models/\xff HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
        ("malformed JSON quoting bytes that are not UTF-8",
         b"POST /v1/samples HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nConnection: close\r\n"
         b"Content-Length: %d\r\n\r\n" % len(bad_body) + bad_body)]:
    st, j = raw(rq)
    err = (j or {}).get("error", {})
    check(400 <= st < 500 and err.get("code") not in (None, "internal") and err.get("message"),
          "%s: %s %s, a 4xx with a body that encodes" % (what, st, err.get("code")))
# %00 would cut an argument short as a C string: POST /v1/models?id=a%00b created "a"
for path, field in [("/v1/models?id=a%00b", "id"), ("/v1/datasets?id=a%01b", "id"),
                    ("/v1/jobs?model=gaussian%00x", "model"), ("/v1/jobs?state=queued%00", "state")]:
    method = "GET" if path.startswith("/v1/jobs") else "POST"
    ct = {"/v1/models": "application/octet-stream", "/v1/datasets": "text/csv"}.get(path.split("?")[0])
    st, _, j = d.json(method, path, b"x0,x1\n1,2\n" if method == "POST" else None,
                      {"Content-Type": ct} if ct else {})
    err = (j or {}).get("error", {})
    check(st == 400 and err.get("field") == field, "%s %s: 400 on %s (%s %s)" % (method, path, field, st, err))
st, _, _ = d.json("GET", "/v1/models/a")
check(st == 404, "no model \"a\" was made from id=a%00b")
st, _, j = d.json("GET", "/healthz")
check(st == 200, "healthy after the bytes that are not UTF-8")

# ---- jobs, streams, resume ------------------------------------------------------------
st, h, j = d.json("POST", "/v1/jobs", {"type": "sample", "model": "two_moons", "params": {"n": 3000, "sampler": "ddim", "steps": 100, "seed": 3}})
check(st == 202 and h.get("location") == "/v1/jobs/" + j["id"] and j["state"] in ("queued", "running"), "submit 202 + Location")
job = j["id"]
ev = read_events(d, job)
ids_ = [e[0] for e in ev]
check(ids_ == list(range(1, len(ids_) + 1)), "SSE ids 1..n without gaps")
check(ev and ev[-1][1] == "status" and ev[-1][2]["state"] == "succeeded", "stream ends with the final status")
names = [e[1] for e in ev]
check("progress" in names and "metrics" in names and "samples" in names, "status/progress/metrics/samples events")
rows = sum(len(e[2]["samples"]) for e in ev if e[1] == "samples")
check(rows == 3000, "samples events carry every row (%d)" % rows)
prog = [(e[2]["done"], e[2]["total"], e[2]["phase"]) for e in ev if e[1] == "progress"]
check(prog == [(1024, 3000, "sampling"), (2048, 3000, "sampling"), (3000, 3000, "sampling"), (3000, 3000, "metrics")],
      "sample job progress: rows after each chunk, then the metrics phase (%s)" % prog)
# resume from the middle: exactly the rest, nothing lost or repeated, also as NDJSON
k = len(ev) // 2
rest = read_events(d, job, after=k, ndjson=True)
check([e[0] for e in rest] == ids_[k:], "Last-Event-ID resume (NDJSON) gives exactly the rest")
st, _, res = d.json("GET", "/v1/jobs/%s/result" % job)
evrows = [r for e in ev if e[1] == "samples" for r in e[2]["samples"]]
check(st == 200 and res["samples"] == evrows and res["seed"] == 3, "result = streamed samples")
st, _, jj = d.json("GET", "/v1/jobs/" + job)
check(jj["state"] == "succeeded" and jj["progress"]["done"] == 3000 and "metrics" in jj, "job object")
check(all(harness.is_time(jj[k]) for k in ("created_at", "started_at", "finished_at"))
      and jj["created_at"] <= jj["started_at"] <= jj["finished_at"],
      "job times: RFC 3339 UTC date-times, in order (%s)" % [jj.get(k) for k in ("created_at", "started_at", "finished_at")])
check("result" not in jj, "a sample job's large result is not inlined in the job object")
# resume at (or past) the final event: nothing more, and the stream ends at once
t0 = time.time()
for after in (ids_[-1], ids_[-1] + 5):
    tail = read_events(d, job, after=after, limit=10)
    check(tail == [] and time.time() - t0 < 5, "resume after the final event (%d) ends at once" % after)

# ---- the route table: 405 with the path's methods, HEAD, 404, OPTIONS ----------------


def raw(method, path, headers=None, body=b"", keep_alive=False):
    """
    One request on its own connection, read to EOF (or, kept alive, until 1 s
    without bytes): (status, headers, the body bytes as sent).
    """
    s_ = socket.create_connection(("127.0.0.1", d.port), timeout=1 if keep_alive else 10)
    h = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
    if body:
        h += "Content-Length: %d\r\n" % len(body)
    if not keep_alive:
        h += "Connection: close\r\n"
    s_.sendall(("%s %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n" % (method, path, h)).encode() + body)
    data = b""
    t_end = time.time() + 10
    while time.time() < t_end:
        try:
            got = s_.recv(65536)
        except socket.timeout:
            break
        if not got:
            break
        data += got
    s_.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    hd = dict((k.strip().lower(), v.strip()) for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln))
    return int(lines[0].split()[1]), hd, rest


def methods(value):
    return set(m.strip() for m in (value or "").split(",") if m.strip())


model_p, job_p = "/v1/models/eight_gaussians", "/v1/jobs/" + job
for method, path, allowed in [
        ("PUT", "/v1/samples", {"POST"}),
        ("GET", "/v1/samples", {"POST"}),
        ("DELETE", "/v1/jobs", {"GET", "HEAD", "POST"}),
        ("POST", "/healthz", {"GET", "HEAD"}),
        ("DELETE", "/readyz", {"GET", "HEAD"}),
        ("POST", "/metrics", {"GET", "HEAD"}),
        ("POST", "/openapi.yaml", {"GET", "HEAD"}),
        ("PUT", "/v1/models", {"GET", "HEAD", "POST"}),
        ("PUT", "/v1/datasets", {"GET", "HEAD", "POST"}),
        ("POST", "/v1/datasets/ring", {"GET", "HEAD", "DELETE"}),
        ("POST", model_p, {"GET", "HEAD", "DELETE"}),
        ("DELETE", model_p + "/weights", {"GET", "HEAD"}),
        ("DELETE", job_p, {"GET", "HEAD"}),
        ("GET", job_p + "/cancel", {"POST"}),
        ("HEAD", job_p + "/cancel", {"POST"}),
        ("POST", job_p + "/events", {"GET", "HEAD"}),
        ("PATCH", job_p + "/result", {"GET", "HEAD"})]:
    st, h, body = raw(method, path)
    j = json.loads(body) if body else {}
    want = allowed | {"OPTIONS"}
    check(st == 405 and methods(h.get("allow")) == want
          and (method == "HEAD" or j.get("error", {}).get("code") == "method_not_allowed"),
          "%s %s: 405 with Allow: %s (got %s, Allow: %s)" % (method, path, sorted(want), st, h.get("allow")))

# HEAD on every GET route: the GET's status and headers, no body (also for errors)
_, _, running = d.json("POST", "/v1/jobs", {"type": "train", "params": {"dataset": "gaussian", "steps": 200000, "hidden": [32]}})
for path in ["/healthz", "/readyz", "/metrics", "/openapi.yaml", "/v1/models", model_p, model_p + "/weights",
             "/v1/datasets", "/v1/datasets/ring", "/v1/datasets/nope",
             "/v1/jobs", "/v1/jobs?state=bogus", job_p, job_p + "/events", job_p + "/result", "/v1/models/nope",
             "/v1/jobs/%s/result" % running["id"], "/nothing"]:
    st, h, body = raw("GET", path)
    sth, hh, bodyh = raw("HEAD", path)
    check(sth == st and hh.get("content-type") == h.get("content-type") and bodyh == b"",
          "HEAD %s: GET's status %s and Content-Type %s, no body (got %s, %s, %d bytes)"
          % (path, st, h.get("content-type"), sth, hh.get("content-type"), len(bodyh)))
    if path in ("/openapi.yaml", model_p + "/weights"):
        check(hh.get("content-length") == str(len(body)), "HEAD %s: Content-Length of the GET body" % path)
st, _, j = d.json("GET", "/v1/jobs/%s/result" % running["id"])
check(st == 409 and j["error"]["code"] == "not_finished"
      and ("watch /v1/jobs/%s/events)" % running["id"]) in j["error"]["message"],
      "result of an unfinished job: 409 not_finished, pointing at its events (%s)" % j)
d.json("POST", "/v1/jobs/%s/cancel" % running["id"])
# a HEAD of a stream leaves nothing on a kept-alive connection for the next response to trip on
for path in (job_p + "/events", "/healthz"):
    st, h, body = raw("HEAD", path, keep_alive=True)
    check(st == 200 and body == b"", "HEAD %s on a kept-alive connection: nothing after the headers (%r)"
          % (path, body[:20]))

# paths no pattern has: 404, whatever the method; an {id} that is no id: 404 saying so
for method, path in [("GET", "/nothing"), ("DELETE", "/nothing"), ("GET", "/v1"), ("GET", "/v1/"),
                     ("GET", "/healthz/"), ("GET", "/v1/models/"), ("GET", "/v1//models"),
                     ("POST", "/v1/jobs/"), ("GET", job_p + "/nope"), ("GET", model_p + "/weights/x"),
                     ("GET", "/v1/samples/x"), ("GET", "/v1/models/" + "a" * 200)]:
    st, _, j = d.json(method, path)
    check(st == 404 and j["error"]["code"] == "not_found" and path in j["error"]["message"],
          "%s %s: 404 no such resource (%s %s)" % (method, path[:60], st, j))
for method, path in [("GET", "/v1/models/" + "a" * 100), ("DELETE", "/v1/models/Bad"), ("PUT", "/v1/jobs/X"),
                     ("POST", "/v1/jobs/X/cancel")]:
    st, _, j = d.json(method, path)
    check(st == 404 and j["error"]["code"] == "not_found" and "ids match" in j["error"]["message"],
          "%s %s: 404, ids match ... (%s %s)" % (method, path[:60], st, j))

# a route without a body refuses one; cancel takes (and ignores) one
st, _, j = d.json("GET", "/v1/models", "x")
check(st == 413 and j["error"]["code"] == "too_large", "a body on GET: 413 (%s)" % st)
st, _, j = d.json("POST", job_p + "/cancel", "{}")
check(st == 200 and j["state"] == "succeeded", "cancel with a body: 200, a finished job stays finished (%s)" % st)

# OPTIONS: the CORS preflight lists the path's methods; Allow too, with or without Origin
cors = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
for path, allowed in [(job_p + "/cancel", {"POST"}), ("/v1/models", {"GET", "HEAD", "POST"}),
                      (model_p, {"GET", "HEAD", "DELETE"}), ("/metrics", {"GET", "HEAD"}), ("/nothing", set())]:
    st, h, body = raw("OPTIONS", path, cors)
    want = allowed | {"OPTIONS"}
    check(st == 204 and h.get("access-control-allow-origin") == "https://app.example"
          and methods(h.get("access-control-allow-methods")) == want and methods(h.get("allow")) == want
          and "Content-Type" in h.get("access-control-allow-headers", "") and body == b"",
          "OPTIONS %s with Origin: 204, methods %s (got %s, %s)" % (path, sorted(want), st,
                                                                   h.get("access-control-allow-methods")))
st, h, _ = raw("OPTIONS", "/v1/samples", {"Origin": "https://evil.example"})
check(st == 204 and methods(h.get("allow")) == {"POST", "OPTIONS"} and "access-control-allow-methods" not in h
      and "access-control-allow-origin" not in h, "OPTIONS from another origin: 204, Allow, no CORS headers")

# dropped connection mid-stream, then resume
st, _, j = d.json("POST", "/v1/jobs", {"type": "train", "params": {"dataset": "two_moons", "steps": 2500, "hidden": [64, 64], "out_model": "moons-small"}})
job = j["id"]
# its out_model is taken from now on: another job for it is refused at submit, as is a model's id
for body in ({"type": "train", "params": {"dataset": "gaussian", "out_model": "moons-small"}},
             {"type": "finetune.smeme", "model": "gaussian", "params": {"out_model": "moons-small"}},
             {"type": "train", "params": {"dataset": "gaussian", "out_model": "eight_gaussians"}}):
    st_, _, e_ = d.json("POST", "/v1/jobs", body)
    check(st_ == 409 and e_["error"]["code"] == "model_exists" and e_["error"]["field"] == "/params/out_model",
          "out_model taken (%s): 409 model_exists at submit (%s)" % (body["params"]["out_model"], st_))
c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
c.request("GET", "/v1/jobs/%s/events" % job)
r = c.getresponse()
got = []
while len(got) < 2:
    line = r.readline().decode()
    if line.startswith("id: "):
        got.append(int(line[4:]))
c.close()  # the client goes away
rest = read_events(d, job, after=got[-1])
check(rest and rest[0][0] == got[-1] + 1 and rest[-1][2]["state"] == "succeeded", "resume after a dropped stream")
st, _, m = d.json("GET", "/v1/models/moons-small")
check(st == 200 and m["hidden"] == [64, 64] and m["dataset"] == "two_moons", "train job made a model")
st, _, jt = d.json("GET", "/v1/jobs/" + job)
check(jt["result"]["model"] == "moons-small" and rest[-1][2]["job_object"]["result"]["model"] == "moons-small",
      "a train job's result (its model) is in the job object and its final event")
# a train job streams its loss (issue 15): 20 metrics events, steps rising to the last, the
# training loss and the held-out DSM loss (fixed noise, so comparable), which training lowers
tm = [e[2] for e in read_events(d, job) if e[1] == "metrics"]
steps_ = [m_["step"] for m_ in tm]
held_ = [m_["heldout_loss"] for m_ in tm]
check(len(tm) == 20 and steps_ == sorted(steps_) and steps_[-1] == 2500 and all(m_["steps"] == 2500 for m_ in tm)
      and all(isinstance(h_, float) and h_ > 0 for h_ in held_) and all(m_["loss"] > 0 for m_ in tm)
      and held_[-1] < 0.9 * held_[0],
      "train metrics events: 20, steps to 2500, held-out loss falls (%s)" % [(s_, round(h_, 3)) for s_, h_ in zip(steps_, held_)][::5])
check(jt["metrics"] is not None and jt["metrics"]["step"] == 2500, "the job's metrics are its last report")
check(m["metadata"].get("heldout_dsm_loss") == "%.6g" % held_[-1],
      "the trained model's own figure: heldout_dsm_loss is its last held-out loss (%s, %s)"
      % (m["metadata"].get("heldout_dsm_loss"), held_[-1]))
st, _, s1 = d.json("POST", "/v1/samples", {"model": "moons-small", "n": 64, "sampler": "ddim", "steps": 50, "seed": 1})
check(st == 200 and len(s1["samples"]) == 64, "the trained model samples")

# cancel running and queued jobs (--max-running 1)
long_train = {"type": "train", "params": {"dataset": "gaussian", "steps": 200000, "hidden": [32]}}
_, _, a = d.json("POST", "/v1/jobs", long_train)
_, _, b = d.json("POST", "/v1/jobs", long_train)
t_end = time.time() + 60
while time.time() < t_end:  # running, with some steps done
    _, _, ja = d.json("GET", "/v1/jobs/" + a["id"])
    if ja["state"] == "running" and ja["progress"]["done"] > 0:
        break
    time.sleep(0.05)
check(ja["state"] == "running" and ja["progress"]["done"] > 0, "long job running")
st, _, bq = d.json("GET", "/v1/jobs/" + b["id"])
check(bq["state"] == "queued" and bq["queue_position"] == 0, "second job queued at position 0")
check(harness.is_time(bq["created_at"]) and bq["started_at"] is None and bq["finished_at"] is None,
      "a queued job: created_at, started_at and finished_at null")
st, _, c_ = d.json("POST", "/v1/jobs/%s/cancel" % b["id"])
check(st == 200 and c_["state"] == "cancelled", "cancel queued: cancelled at once")
check(c_["started_at"] is None and harness.is_time(c_["finished_at"]), "cancelled queued: never started, finished")
st, _, c_ = d.json("POST", "/v1/jobs/%s/cancel" % a["id"])
check(st == 200 and (c_["state"] == "cancelled" or c_.get("cancel_requested") is True),
      "cancel running: answered with cancel_requested until it stops (%s)" % c_.get("state"))
ja = wait_state(d, a["id"], ["cancelled"], 30)
check(ja is not None and 0 < ja["progress"]["done"] < 200000, "cancel running: stops at a step boundary")
ev = read_events(d, a["id"])
check(ev[-1][2]["state"] == "cancelled", "cancelled stream ends with its final event")
st, _, again = d.json("POST", "/v1/jobs/%s/cancel" % a["id"])
check(st == 200 and again["state"] == "cancelled", "cancel is idempotent")
st, _, j = d.json("GET", "/v1/jobs/%s/result" % a["id"])
check(st == 409 and j["error"]["code"] == "no_result", "no result for a cancelled job")
st, _, lst = d.json("GET", "/v1/jobs?state=cancelled")
check(st == 200 and {a["id"], b["id"]} <= {x["id"] for x in lst["jobs"]}, "list by state")

# a schedule core cannot build is refused at submit, naming it (it used to fail the job when it ran)
st, _, e = d.json("POST", "/v1/jobs", {"type": "train", "params": {"dataset": "gaussian", "steps": 2,
                                                                    "schedule": "linear:0.5:0.1:1000"}})
check(st == 422 and e["error"]["code"] == "impossible" and e["error"]["field"] == "/params/schedule",
      "a train job with a bad schedule is refused at submit (%s %s)" % (st, e))


def final_event_is_get(jid, what):
    """A job's final status event carries its job object exactly as GET /v1/jobs/{id} shows it."""
    fin = read_events(d, jid)[-1][2].get("job_object")
    _, _, got = d.json("GET", "/v1/jobs/" + jid)
    check(fin == got, "final event's job object equals GET (%s)%s" % (what, "" if fin == got else
          ": " + str(sorted(k for k in set(fin or {}) | set(got) if (fin or {}).get(k) != got.get(k)))))


for jid, what in ((job, "succeeded train"), (a["id"], "cancelled running"), (b["id"], "cancelled queued")):
    final_event_is_get(jid, what)

# ---- kill -9 and restart: nothing lost ----------------------------------------------
_, _, run = d.json("POST", "/v1/jobs", long_train)
_, _, qd = d.json("POST", "/v1/jobs", {"type": "sample", "model": "gaussian", "params": {"n": 100, "sampler": "ddim", "steps": 20, "seed": 9}})
# queued, and over the memory budget the daemon restarts with (a 4096-row batch: ~70 MB)
_, _, doomed = d.json("POST", "/v1/jobs", {"type": "train", "params": {"dataset": "gaussian", "steps": 2,
                                                                        "batch": 4096, "hidden": [512, 512]}})
check(wait_state(d, run["id"], ["running"]) is not None, "job running before kill -9")
finished = job  # the train job above
d.kill9()
d = Daemon("--max-running", "1", "--max-job-memory", str(16 << 20))
jf = wait_state(d, doomed["id"], ["failed"], 30)
check(jf is not None and jf["error"]["code"] == "invalid_after_restart" and "budget" in jf["error"]["message"],
      "a queued job over the restarted daemon's budget fails, saying why (%s)" % (jf or {}).get("error"))
final_event_is_get(doomed["id"], "failed")
st, _, j = d.json("GET", "/v1/jobs/%s/result" % finished)
check(st == 200 and j["model"] == "moons-small", "finished result served after kill -9")
st, _, j = d.json("GET", "/v1/models/eg-copy")
check(st == 200, "uploaded model survives kill -9")
jr = wait_state(d, run["id"], ["running"], 30)
check(jr is not None and jr["attempts"] == 2, "interrupted job re-run after restart (attempt 2)")
d.json("POST", "/v1/jobs/%s/cancel" % run["id"])
jq = wait_state(d, qd["id"], ["succeeded"], 60)
check(jq is not None, "queued job ran after restart")
st, _, res = d.json("GET", "/v1/jobs/%s/result" % qd["id"])
check(st == 200 and len(res["samples"]) == 100, "its result")

# delete a model
st, _, _ = d.req("DELETE", "/v1/models/eg-copy")
check(st == 204, "delete 204")
st, _, _ = d.req("DELETE", "/v1/models/eg-copy")
check(st == 404, "delete again 404")

# ---- openapi covers every route ------------------------------------------------------
spec = open(OPENAPI).read()
st, _, served = d.req("GET", "/openapi.yaml")
check(st == 200 and served.decode() == spec, "/openapi.yaml served")
for route in ["/healthz", "/readyz", "/metrics", "/v1/models", "/v1/models/{id}", "/v1/models/{id}/weights",
              "/v1/samples", "/v1/jobs", "/v1/jobs/{id}", "/v1/jobs/{id}/cancel", "/v1/jobs/{id}/events",
              "/v1/jobs/{id}/result", "/v1/datasets", "/v1/datasets/{id}", "/v1/scores"]:
    check(re.search(r"^  %s:\s*$" % re.escape(route), spec, re.M) is not None, "openapi has " + route)

# ---- SIGTERM drains: a request in flight is answered, then exit 0 -------------------
box = {}


def slow():
    box["r"] = d.json("POST", "/v1/samples", {"model": "digits", "n": 200, "sampler": "ddpm", "steps": 1000, "seed": 1,
                                              "metrics": False, "precision": "f32"}, timeout=60)


# SIGTERM only once the request is being computed (a sanitizer build is slow to get
# there): its batch has started when the queue-wait histogram counts one more.
_, _, mt = d.req("GET", "/metrics")
started0 = metric(mt, "manifold_queue_wait_seconds_count")
t = threading.Thread(target=slow)
t.start()
t_end = time.time() + 30
while time.time() < t_end:
    _, _, mt = d.req("GET", "/metrics")
    if metric(mt, "manifold_queue_wait_seconds_count") > started0:
        break
    time.sleep(0.02)
rc = d.term()
t.join(60)
check(rc == 0, "SIGTERM exit status 0 (%s)" % rc)
check(box.get("r", (0,))[0] == 200 and len(box["r"][2]["samples"]) == 200,
      "request in flight answered during drain (%s)" % str(box.get("r"))[:200])

# ---- full queues: 503 queue_full with Retry-After ------------------------------------
d = Daemon("--max-running", "1", "--max-queue", "1", "--max-pending", "1")
_, _, run = d.json("POST", "/v1/jobs", long_train)
check(wait_state(d, run["id"], ["running"], 30) is not None, "long job running")
st, _, q1 = d.json("POST", "/v1/jobs", long_train)
check(st == 202 and q1["state"] == "queued" and q1["queue_position"] == 0, "second job queued at position 0")
st, h, j = d.json("POST", "/v1/jobs", long_train)
check(st == 503 and j["error"]["code"] == "queue_full" and int(h.get("retry-after", "0")) >= 1,
      "third job: 503 queue_full with Retry-After (%s, %s)" % (st, h.get("retry-after")))
# one sampling call may wait: of 12 slow concurrent ones, some are refused
slow_body = {"model": "digits", "n": 50, "sampler": "ddpm", "steps": 300, "metrics": False, "precision": "f32"}
answers = []


def slow_call(i):
    st_, h_, j_ = d.json("POST", "/v1/samples", dict(slow_body, seed=i), timeout=120)
    with lock:
        answers.append((st_, h_.get("retry-after"), (j_ or {}).get("error", {}).get("code")))


threads = [threading.Thread(target=slow_call, args=(i,)) for i in range(12)]
for t in threads:
    t.start()
for t in threads:
    t.join(120)
refused = [a for a in answers if a[0] == 503]
check(len(answers) == 12 and all(a[0] in (200, 503) for a in answers) and len(refused) >= 1
      and all(a[2] == "queue_full" and int(a[1]) >= 1 for a in refused),
      "waiting sampling calls over --max-pending: 503 queue_full with Retry-After (%s)"
      % sorted(set((a[0], a[1]) for a in answers)))
for jid in (run["id"], q1["id"]):
    d.json("POST", "/v1/jobs/%s/cancel" % jid)
check(d.term() == 0, "second daemon drained")

# ---- finetune.smeme: iterations, metrics, model, cancel, resume after kill -9 ------------
d = Daemon("--max-running", "1")
small = {"K": 2, "rounds": 5, "steps": 20, "trajectories": 16, "batch": 256, "n_metric_samples": 500,
         "seed": 3, "out_model": "g-explored"}
st, _, jx = d.json("POST", "/v1/jobs", {"type": "finetune.smeme", "model": "gaussian", "params": small})
check(st == 202 and jx["params"]["alpha"] == [2.0, 2.0] and jx["params"]["tau_r"] == 10,
      "finetune.smeme submitted with its defaults filled in (%s)" % st)
ev = read_events(d, jx["id"], limit=120)
mets = [e[2] for e in ev if e[1] == "metrics"]
check([m_["iteration"] for m_ in mets] == [0, 1, 2], "a metrics event for the parent and each iteration")
check(all(m_["metrics"]["entropy_knn"]["value"] is not None and m_["log_density_parent"]["n"] == 500
          for m_ in mets) and mets[0]["alpha"] is None and mets[1]["alpha"] == 2.0,
      "iteration metrics: entropy, log-density under the parent, alpha")
check(mets[1]["metrics"].get("sw2") is not None and "sw2" not in mets[0]["metrics"],
      "iterations are compared with the parent's samples (SW2)")
smp = [e[2] for e in ev if e[1] == "samples"]
check([x_["iteration"] for x_ in smp] == [0, 1, 2] and all(len(x_["samples"]) == 500 for x_ in smp),
      "a samples event per iteration")
prog = [e[2]["done"] for e in ev if e[1] == "progress"]
check(prog and prog[-1] == 10 and prog == sorted(prog), "progress in rounds, to K x rounds = 10")
check(ev[-1][2]["state"] == "succeeded" and ev[-1][2]["job_object"]["result"]["model"] == "g-explored",
      "succeeded with its model in the final event")
st, _, mg = d.json("GET", "/v1/models/g-explored")
check(st == 200 and mg["parent"] == "gaussian" and mg["metadata"]["smeme_iterations"] == "2"
      and json.loads(mg["metadata"]["smeme"])["rounds"] == 5, "the explored model: parent link and settings")
# a fine-tuned model does not carry its parent's figures as its own (issue 15): the
# shipped parent's and a trained parent's heldout_dsm_loss stay with the parent
_, _, gp = d.json("GET", "/v1/models/gaussian")
check("heldout_dsm_loss" in gp["metadata"] and "heldout_dsm_loss" not in mg["metadata"],
      "finetune.smeme of a shipped model: the parent's figure is not the child's")
st, _, jt2 = d.json("POST", "/v1/jobs", {"type": "finetune.smeme", "model": "moons-small",
                                         "params": dict(small, K=1, rounds=2, n_metric_samples=100,
                                                        out_model="moons-tuned")})
jt2 = wait_state(d, jt2["id"], ["succeeded", "failed"], 120)
_, _, mp_ = d.json("GET", "/v1/models/moons-small")
_, _, mc_ = d.json("GET", "/v1/models/moons-tuned")
check(jt2 is not None and jt2["state"] == "succeeded" and mc_["parent"] == "moons-small"
      and "heldout_dsm_loss" in mp_["metadata"] and "heldout_dsm_loss" not in mc_["metadata"]
      and "smeme" in mc_["metadata"],
      "train, then finetune.smeme: the child has its own record and not the parent's figure (%s)"
      % sorted(mc_.get("metadata", {})))
st, _, sx = d.json("POST", "/v1/samples", {"model": "g-explored", "n": 200, "sampler": "ddim", "steps": 20, "seed": 1})
check(st == 200 and len(sx["samples"]) == 200, "the explored model samples")
for body, code, field in [({"K": 3, "alpha": [2, 2]}, 422, "/params/alpha"),
                          ({"alpha": 1.0}, 400, "/params/alpha"),
                          ({"rounds": 0}, 400, "/params/rounds")]:
    st, _, je = d.json("POST", "/v1/jobs", {"type": "finetune.smeme", "model": "gaussian", "params": body})
    check(st == code and je["error"]["field"] == field, "finetune.smeme %s -> %d %s (%s)" % (body, code, field, st))
st, _, je = d.json("POST", "/v1/jobs", {"type": "finetune.smeme", "model": "nope"})
check(st == 404, "finetune.smeme of an unknown model: 404")

# The exploration's cancel and kill -9 resume: minutes of S-MEME under ThreadSanitizer,
# whose pass keeps the exploration above (its rounds on the team); the release and ASan
# passes run these.
LIFECYCLE = harness.SANITIZER != "thread"
if LIFECYCLE:
    # cancel after the first iteration: the finished iteration is kept as a model
    # (short rounds, many iterations: the sanitizer builds are 10x slower, yet the job must
    # still be running when the cancel lands)
    long_smeme = dict(small, K=16, rounds=60, n_metric_samples=200, out_model="g-partial")
    _, _, jc = d.json("POST", "/v1/jobs", {"type": "finetune.smeme", "model": "gaussian", "params": long_smeme})

    def wait_iteration(d_, job_, k, limit=120):
        t_end_ = time.time() + limit
        while time.time() < t_end_:
            _, _, jj_ = d_.json("GET", "/v1/jobs/" + job_)
            if (jj_.get("metrics") or {}).get("iteration", -1) >= k:
                return jj_
            time.sleep(0.1)
        return None


    check(wait_iteration(d, jc["id"], 1) is not None, "long exploration finished iteration 1")
    d.json("POST", "/v1/jobs/%s/cancel" % jc["id"])
    jcc = wait_state(d, jc["id"], ["cancelled"], 60)
    check(jcc is not None and "g-partial" in jcc["error"]["message"], "cancel keeps the finished iterations (%s)"
          % (jcc or {}).get("error"))
    st, _, mp = d.json("GET", "/v1/models/g-partial")
    check(st == 200 and int(mp["metadata"]["smeme_iterations"]) >= 1, "the partial model exists")

    # kill -9 during iteration 2: the re-run resumes from the checkpoint of iteration 1
    _, _, jk = d.json("POST", "/v1/jobs", {"type": "finetune.smeme", "model": "gaussian",
                                           "params": dict(small, K=4, rounds=60, n_metric_samples=200,
                                                          out_model="g-resumed")})
    check(wait_iteration(d, jk["id"], 1) is not None, "exploration reached iteration 1 before kill -9")
    d.kill9()
    d = Daemon("--max-running", "1")
    jr = wait_state(d, jk["id"], ["succeeded", "failed"], 180)
    check(jr is not None and jr["state"] == "succeeded" and jr["attempts"] == 2, "resumed job succeeded at attempt 2")
    ev = read_events(d, jk["id"], limit=30)
    its = [e[2]["iteration"] for e in ev if e[1] == "metrics"]
    check(its == [0, 1, 2, 3, 4], "after the resume each iteration's metrics appear once (%s)" % its)
    runs = [i for i, e in enumerate(ev) if e[1] == "status" and e[2]["state"] == "running"]
    after = [e[2]["done"] for e in ev[runs[-1]:] if e[1] == "progress"] if len(runs) == 2 else []
    check(after and after[0] > 60, "the re-run continued from the checkpoint of iteration 1 (progress %s)" % after[:1])
    check(d.term() == 0, "third daemon drained")
else:
    print("under ThreadSanitizer: the exploration's cancel and kill -9 resume are left to the "
          "release and ASan passes")
    check(d.term() == 0, "second daemon drained")

# logs a person can use (issue 15): an access line per request at the default level (method,
# path, status, bytes, duration, request id); a final job line saying what it made or why not
log = open(os.path.join(TMP, "daemon.log")).read()
check(re.search(r'level=info req=\S+ msg="GET /v1/models 200 \d+ B [\d.]+ ms"', log) is not None,
      "an access line: request id, method, path, status, bytes, duration")
check(re.search(r'msg="job succeeded: made model g-%s"' % ("resumed" if LIFECYCLE else "explored"),
                log) is not None, "job succeeded names the model it made")
check(re.search(r'msg="job (cancelled|failed): [a-z_]+: .+"', log) is not None,
      "a job that did not succeed logs its error code and reason")

status = harness.summary("api", TMP)
shutil.rmtree(TMP, ignore_errors=True)
sys.exit(status)
