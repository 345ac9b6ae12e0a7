#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
API suite, API keys and the request guards: starts the real manifoldd with a
key file (harness.py) and checks

- every route against every scope (a table: route x key -> 401, 403 naming
  the scope, or admitted), 401 with WWW-Authenticate, probes without a key;
- isolation: one key's jobs, uploaded models and produced models are 404 to
  another key (get, list, weights, delete, sampling, events, cancel, result),
  an admin key sees them all, ownership survives kill -9;
- start-up: a non-loopback --listen without keys refuses to start with the
  reason unless --insecure-open; a bad key file names the line, never the
  token; keys from MANIFOLD_API_KEYS_TEXT; no token ever reaches the log;
- the guards against browsers: a foreign Host (DNS rebinding) 421, a
  cross-origin POST 403, a POST without Content-Type 415, %00 in a path.

Standard library only; every request has a timeout and every wait loop is
bounded.

usage: test_auth.py PATH/TO/manifoldd MODELS_DIR PATH/TO/manifold
"""
import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import harness
from harness import check

DAEMON, MODELS, CLIENT = sys.argv[1], sys.argv[2], sys.argv[3]
TMP = tempfile.mkdtemp(prefix="mf-auth-")
TOKENS = {
    "ops": "ops-token-000000000000000000000001",
    "alice": "alice-token-00000000000000000000002",
    "bob": "bob-token-0000000000000000000000003",
    "reader": "reader-token-000000000000000000004",
    "sampler": "sampler-token-00000000000000000005",
    "tuner": "tuner-token-0000000000000000000006",
}
SCOPES = {"ops": "admin", "alice": "read,sample,finetune", "bob": "read,sample,finetune",
          "reader": "read", "sampler": "sample", "tuner": "finetune"}
KEYFILE = os.path.join(TMP, "keys")
with open(KEYFILE, "w") as f:
    f.write("# test keys\n")
    for name, tok in TOKENS.items():
        # tuner's token is given as its hash: the file need not hold secrets
        shown = "sha256:" + hashlib.sha256(tok.encode()).hexdigest() if name == "tuner" else tok
        f.write("%s %s %s\n" % (name, SCOPES[name], shown))


def auth(name):
    return {"Authorization": "Bearer " + TOKENS[name]} if name else {}


def wait(job_id, name, limit=120):
    """The job once final, read with name's key; None after limit seconds."""
    t_end = time.time() + limit
    while time.time() < t_end:
        st, _, j = d.json("GET", "/v1/jobs/" + job_id, None, auth(name))
        if st == 200 and j["state"] in ("succeeded", "failed", "cancelled"):
            return j
        time.sleep(0.1)
    return None


def has(name, scope):
    return scope is None or name == "ops" or (name is not None and scope in SCOPES[name].split(","))


d = harness.Daemon(DAEMON, MODELS, TMP, "--api-keys", KEYFILE, "--max-running", "1")
GAUSS = open(os.path.join(MODELS, "gaussian.safetensors"), "rb").read()
CSV = b"x0,x1\n0,1\n1,0\n0.5,0.5\n1,1\n"

# ---- route x scope ---------------------------------------------------------------------
# A sample job of ops's to read, cancel and stream.
st, _, job = d.json("POST", "/v1/jobs", {"type": "sample", "model": "gaussian", "params": {"n": 4, "steps": 5}},
                    auth("ops"))
check(st == 202, "admin submits a sample job (%s)" % st)
check(st == 202 and wait(job["id"], "ops")["state"] == "succeeded", "the admin's sample job succeeds")
JP = "/v1/jobs/" + job.get("id", "none")
jsn = {"Content-Type": "application/json"}
oct_ = {"Content-Type": "application/octet-stream"}
ROUTES = [  # method, path (%s: the key's name, for ids), body, headers, scope
    ("GET", "/healthz", None, {}, "probe"),
    ("GET", "/readyz", None, {}, "probe"),
    ("GET", "/metrics", None, {}, None),
    ("GET", "/openapi.yaml", None, {}, None),
    ("GET", "/v1/models", None, {}, "read"),
    ("POST", "/v1/models?id=up-%s", GAUSS, oct_, "finetune"),
    ("GET", "/v1/models/gaussian", None, {}, "read"),
    ("GET", "/v1/models/gaussian/weights", None, {}, "read"),
    ("DELETE", "/v1/models/none-%s", None, {}, "finetune"),
    ("GET", "/v1/datasets", None, {}, "read"),
    ("POST", "/v1/datasets?id=ds-%s", CSV, {"Content-Type": "text/csv"}, "finetune"),
    ("GET", "/v1/datasets/ring", None, {}, "read"),
    ("DELETE", "/v1/datasets/ring", None, {}, "finetune"),
    ("POST", "/v1/samples", json.dumps({"model": "gaussian", "n": 2, "steps": 3}), jsn, "sample"),
    ("POST", "/v1/scores", json.dumps({"model": "gaussian", "points": [[0, 0]]}), jsn, "sample"),
    ("GET", "/v1/jobs", None, {}, "read"),
    ("POST", "/v1/jobs", json.dumps({"type": "sample", "model": "gaussian", "params": {"n": 2, "steps": 3}}), jsn,
     "sample"),
    ("POST", "/v1/jobs", json.dumps({"type": "train", "params": {"dataset": "gaussian", "steps": 1}}), jsn,
     "finetune"),
    ("GET", JP, None, {}, "read"),
    ("GET", JP + "/events", None, {}, "read"),
    ("GET", JP + "/result", None, {}, "read"),
    ("GET", "/nothing", None, {}, "read"),
]
for method, path, body, hdr, scope in ROUTES:
    for name in [None, "bad", "ops", "alice", "reader", "sampler", "tuner"]:
        p = path % name if "%s" in path else path
        h = dict(hdr)
        if name == "bad":
            h["Authorization"] = "Bearer not-a-valid-token-000000000"
        else:
            h.update(auth(name))
        st, rh, raw = d.req(method, p, body, h, timeout=30)
        try:
            err = json.loads(raw).get("error", {}) if raw and raw[:1] == b"{" else {}
        except ValueError:
            err = {}
        # reading a job needs only read; only ops can see ops's job (others: 404)
        if scope in ("probe", None):
            ok = st not in (401, 403)
        elif name in (None, "bad"):
            ok = st == 401 and rh.get("www-authenticate", "").startswith("Bearer") and err.get("code") == "unauthorized"
        elif has(name, scope):
            ok = st not in (401, 403)
            if p.startswith(JP) and name != "ops":
                ok = st == 404
        else:
            ok = st == 403 and err.get("code") == "forbidden" and scope in err.get("message", "")
        check(ok, "%s %s as %s (needs %s): %s %s" % (method, p, name, scope, st, err.get("code")))
# cancel: the job's owner (or an admin) with the scope its type needs
st, _, _ = d.json("POST", JP + "/cancel", None, auth("alice"))
check(st == 404, "alice cannot cancel ops's job: 404 (%s)" % st)
st, _, _ = d.json("POST", JP + "/cancel", None, auth("ops"))
check(st == 200, "ops cancels its own (finished) job: 200 (%s)" % st)

# ---- isolation between keys ------------------------------------------------------------
st, _, _ = d.json("POST", "/v1/models?id=alice-m", GAUSS, dict(oct_, **auth("alice")))
check(st == 201, "alice uploads alice-m (%s)" % st)
st, _, j = d.json("GET", "/v1/models/alice-m", None, auth("alice"))
check(st == 200 and j["id"] == "alice-m", "alice sees alice-m")
for method, path, body in [("GET", "/v1/models/alice-m", None), ("GET", "/v1/models/alice-m/weights", None),
                           ("DELETE", "/v1/models/alice-m", None),
                           ("POST", "/v1/samples", {"model": "alice-m", "n": 2, "steps": 3}),
                           ("POST", "/v1/jobs", {"type": "sample", "model": "alice-m", "params": {"n": 2}})]:
    st, _, j = d.json(method, path, body, auth("bob"))
    check(st == 404, "bob: %s %s is 404 (%s %s)" % (method, path, st, j))
st, _, j = d.json("GET", "/v1/models", None, auth("bob"))
ids = [m["id"] for m in j["models"]]
check("alice-m" not in ids and "gaussian" in ids, "bob's model list: shipped models, not alice-m")
st, _, j = d.json("GET", "/v1/models", None, auth("ops"))
check("alice-m" in [m["id"] for m in j["models"]], "the admin lists alice-m")
# datasets: alice's upload is hers; bob's jobs cannot train on it
st, _, _ = d.json("POST", "/v1/datasets?id=alice-d", CSV + b"".join(b"%d,%d\n" % (i % 7, i % 5) for i in range(200)), dict(auth("alice"), **{"Content-Type": "text/csv"}))
check(st == 201, "alice uploads alice-d (%s)" % st)
for method, path in [("GET", "/v1/datasets/alice-d"), ("DELETE", "/v1/datasets/alice-d")]:
    st, _, _ = d.json(method, path, None, auth("bob"))
    check(st == 404, "bob: %s %s is 404 (%s)" % (method, path, st))
st, _, j = d.json("GET", "/v1/datasets", None, auth("bob"))
check(st == 200 and "alice-d" not in [x["id"] for x in j["datasets"]] and "ring" in [x["id"] for x in j["datasets"]],
      "bob's dataset list: the built-in ones, not alice-d")
st, _, j = d.json("POST", "/v1/jobs", {"type": "train", "params": {"dataset": "alice-d", "steps": 5}}, auth("bob"))
check(st == 404 and j["error"]["code"] == "dataset_not_found", "bob cannot train on alice-d: 404 (%s)" % st)
st, _, j = d.json("GET", "/v1/datasets/alice-d", None, auth("ops"))
check(st == 200, "the admin sees alice-d (%s)" % st)
st, _, j = d.json("POST", "/v1/jobs", {"type": "train", "params": {"dataset": "alice-d", "steps": 5}}, auth("alice"))
check(st == 202, "alice trains on alice-d (%s %s)" % (st, j))

# a job of alice's that produces a model
st, _, tj = d.json("POST", "/v1/jobs", {"type": "train", "params": {"dataset": "gaussian", "steps": 200, "hidden": [16]}},
                   auth("alice"))
check(st == 202, "alice submits a train job (%s %s)" % (st, tj))
TJ = "/v1/jobs/" + tj.get("id", "none")
done = wait(tj["id"], "alice") if st == 202 else None
produced = (done or {}).get("result", {}).get("model")
check(done and done["state"] == "succeeded" and produced, "alice's train job succeeds with a model (%s)" % done)
for method, path in [("GET", TJ), ("GET", TJ + "/result"), ("GET", TJ + "/events"), ("POST", TJ + "/cancel"),
                     ("GET", "/v1/models/%s" % produced)]:
    st, _, _ = d.json(method, path, None, auth("bob"))
    check(st == 404, "bob: %s %s is 404 (%s)" % (method, path, st))
    st, _, _ = d.json(method, path, None, auth("ops"))
    check(st == 200, "the admin: %s %s is 200 (%s)" % (method, path, st))
st, _, j = d.json("GET", "/v1/jobs", None, auth("bob"))
check(st == 200 and tj["id"] not in [x["id"] for x in j["jobs"]], "bob's job list leaves out alice's job")
st, _, j = d.json("GET", "/v1/jobs", None, auth("alice"))
check(st == 200 and tj["id"] in [x["id"] for x in j["jobs"]] and job["id"] not in [x["id"] for x in j["jobs"]],
      "alice's job list: her job, not ops's")
st, _, j = d.json("POST", "/v1/samples", {"model": produced, "n": 2, "steps": 3}, auth("alice"))
check(st == 200, "alice samples her produced model (%s)" % st)
# ownership survives kill -9
d.kill9()
d = harness.Daemon(DAEMON, MODELS, TMP, "--api-keys", KEYFILE, "--max-running", "1")
for path in [TJ, "/v1/models/alice-m", "/v1/models/%s" % produced, "/v1/datasets/alice-d"]:
    st_b, _, _ = d.json("GET", path, None, auth("bob"))
    st_a, _, _ = d.json("GET", path, None, auth("alice"))
    check(st_b == 404 and st_a == 200, "after kill -9 %s: bob 404, alice 200 (%s, %s)" % (path, st_b, st_a))
st, _, _ = d.json("DELETE", "/v1/models/alice-m", None, auth("bob"))
check(st == 404, "bob cannot delete alice-m: 404 (%s)" % st)
st, _, _ = d.json("DELETE", "/v1/models/alice-m", None, auth("alice"))
check(st == 204, "alice deletes alice-m (%s)" % st)

# an upload without a key: its body is read and dropped (never spooled), then the 401
big = GAUSS * (3000000 // len(GAUSS) + 1)
st, h, j = d.json("POST", "/v1/models?id=nokey", big[:3000000], oct_)
check(st == 401 and j["error"]["code"] == "unauthorized", "a 3 MB upload without a key: the client reads the 401 (%s)" % st)
st, h, j = d.json("POST", "/v1/models?id=nokey", big[:3000000], dict(oct_, **auth("reader")))
check(st == 403 and "finetune" in j["error"]["message"], "a 3 MB upload by a read key: 403 (%s)" % st)

# the CLI sends $MANIFOLD_API_KEY; without it, the 401 says where the key goes
for env, want_rc, want in [({"MANIFOLD_API_KEY": TOKENS["alice"]}, 0, produced),
                           ({"MANIFOLD_API_KEY": TOKENS["bob"]}, 0, None), ({}, 1, "MANIFOLD_API_KEY")]:
    e = dict(os.environ, MANIFOLD_URL=d.url, **env)
    e.pop("MANIFOLD_API_KEY", None) if not env else None
    p = subprocess.run([CLIENT, "models"], capture_output=True, text=True, timeout=30, env=e)
    if want is None:  # bob: the shipped models, not alice's
        ok = p.returncode == 0 and "gaussian" in p.stdout and produced not in p.stdout
    else:
        ok = p.returncode == want_rc and want in (p.stdout + p.stderr)
    check(ok, "manifold models with %s: rc %s (%s)" % (list(env) or "no key", p.returncode, p.stderr.strip()))

# ---- the guards ------------------------------------------------------------------------


def raw_req(method, path, headers, body=None):
    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
    c.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for k, v in headers.items():
        c.putheader(k, v)
    if body is not None:
        c.putheader("Content-Length", str(len(body)))
    c.endheaders(body)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, json.loads(data) if data[:1] == b"{" else None


st, j = raw_req("GET", "/v1/models", dict(auth("alice"), Host="evil.example:%d" % d.port))
check(st == 421 and j["error"]["code"] == "bad_host", "a foreign Host (DNS rebinding): 421 bad_host (%s)" % st)
st, j = raw_req("GET", "/healthz", {"Host": "10.1.2.3:8080"})
check(st == 200, "probes answer any Host (kubelets send the pod IP): %s" % st)
st, j = raw_req("GET", "/v1/models", dict(auth("alice"), Host="LocalHost:%d" % d.port))
check(st == 200, "Host localhost, any case: 200 (%s)" % st)
body = json.dumps({"model": "gaussian", "n": 2, "steps": 3})
for origin, want in [("https://evil.example", 403), ("https://app.example", 200),
                     ("http://127.0.0.1:%d" % d.port, 200), (None, 200)]:
    h = dict(auth("alice"), **jsn)
    if origin:
        h["Origin"] = origin
    st, _, j = d.json("POST", "/v1/samples", body, h)
    check(st == want and (want == 200 or j["error"]["code"] == "forbidden_origin"),
          "POST from Origin %s: %s (%s)" % (origin, want, st))
st, _, _ = d.json("GET", "/v1/models", None, dict(auth("alice"), Origin="https://evil.example"))
check(st == 200, "a GET from a foreign Origin is answered (the browser hides it without CORS headers)")
st, _, j = d.json("POST", "/v1/jobs", json.dumps({"type": "sample", "model": "gaussian", "params": {"n": 2}}),
                  dict(auth("alice"), **{"Content-Type": "text/plain"}))
check(st == 415, "a cross-site simple POST (text/plain) of a job: 415 (%s)" % st)
st, _, j = d.json("POST", "/v1/models?id=x1", GAUSS, auth("alice"))
check(st == 415, "an upload without Content-Type: 415 (%s)" % st)
st, _, j = d.json("GET", "/v1/models/gaussian%00x", None, auth("alice"))
check(st == 404, "GET /v1/models/gaussian%%00x is no model (was read as gaussian): %s" % st)
st, _, j = d.json("GET", "/v1/models/gaussian%0ax", None, auth("alice"))
check(st == 404, "a newline in a path: 404 (%s)" % st)
d.term()
log = open(os.path.join(TMP, "daemon.log")).read()
check(not any(t in log for t in TOKENS.values()), "no token in the daemon's log")
check("API keys: 6" in log, "the log counts the keys")

# ---- per-key limits ------------------------------------------------------------------------
QK = {n: "%s-token-00000000000000000000" % n for n in ["rate", "jobs", "flops", "bytes"]}
QFILE = os.path.join(TMP, "qkeys")
with open(QFILE, "w") as f:
    for n, t in QK.items():
        f.write("%s read,sample,finetune %s\n" % (n, t))


def qauth(n):
    return {"Authorization": "Bearer " + QK[n]}


# the gaussian model's parameter count fixes a request's cost: 2 FLOPs per weight per row-step
probe = harness.Daemon(DAEMON, MODELS, TMP)
P = probe.json("GET", "/v1/models/gaussian")[2]["params"]
probe.term()
COST = 2 * P * 100 * 10  # n 100, 10 steps
d = harness.Daemon(DAEMON, MODELS, TMP, "--api-keys", QFILE, "--max-running", "1", "--key-rate", "2",
                   "--key-burst", "3", "--key-max-jobs", "1",
                   "--key-max-bytes", str(int(len(GAUSS) * 1.5)))
# rate: a burst of 3, then 2 per second
sts = [d.req("GET", "/v1/models", None, qauth("rate"))[:2] for _ in range(4)]
check([x[0] for x in sts[:3]] == [200] * 3 and sts[3][0] == 429 and sts[3][1].get("retry-after") == "1",
      "rate 2/s, burst 3: three answered, the fourth 429 with Retry-After 1 (%s)" % [(x[0], x[1].get("retry-after")) for x in sts])
time.sleep(0.6)
check(d.req("GET", "/v1/models", None, qauth("rate"))[0] == 200, "a token back after 0.5 s")
check(d.req("GET", "/v1/models", None, qauth("jobs"))[0] == 200, "another key has its own bucket")
# concurrent jobs: one at a time
st, _, j1 = d.json("POST", "/v1/jobs", {"type": "train", "params": {"dataset": "gaussian", "steps": 200000, "hidden": [16]}},
                   qauth("jobs"))
st2, h2, j2 = d.json("POST", "/v1/jobs", {"type": "sample", "model": "gaussian", "params": {"n": 2}}, qauth("jobs"))
check(st == 202 and st2 == 429 and j2["error"]["code"] == "rate_limited" and "limit is 1" in j2["error"]["message"]
      and int(h2.get("retry-after", "0")) >= 1, "a second job over --key-max-jobs 1: 429 (%s, %s %s)" % (st, st2, j2))
time.sleep(1.0)  # the bucket refills (rate 2/s): the cancel is not refused for rate
st, _, _ = d.json("POST", "/v1/jobs/%s/cancel" % j1.get("id", "x"), None, qauth("jobs"))
check(st == 200, "the first job cancelled (%s)" % st)
time.sleep(0.6)  # the rate bucket refills
done = None
for _ in range(100):
    st, _, done = d.json("GET", "/v1/jobs/" + j1["id"], None, qauth("jobs"))
    if done and done.get("state") in ("cancelled", "succeeded", "failed"):
        break
    time.sleep(0.6)  # under the key's rate of 2 per second
time.sleep(0.6)
st, _, _ = d.json("POST", "/v1/jobs", {"type": "sample", "model": "gaussian", "params": {"n": 2}}, qauth("jobs"))
check(st == 202, "once the first job ended, a job is taken again (%s)" % st)
# stored bytes: one model fits, two do not
st1 = d.json("POST", "/v1/models?id=b1", GAUSS, dict(qauth("bytes"), **oct_))[0]
st2, _, j2 = d.json("POST", "/v1/models?id=b2", GAUSS, dict(qauth("bytes"), **oct_))
time.sleep(0.6)
st3 = d.json("DELETE", "/v1/models/b1", None, qauth("bytes"))[0]
time.sleep(0.6)
st4 = d.json("POST", "/v1/models?id=b2", GAUSS, dict(qauth("bytes"), **oct_))[0]
check(st1 == 201 and st2 == 429 and "limit" in j2["error"]["message"] and st3 == 204 and st4 == 201,
      "stored bytes: 201, then 429 over the limit, room again after a delete (%s %s %s %s)" % (st1, st2, st3, st4))
_, _, m = d.req("GET", "/metrics")
for why, n in [("rate", 1), ("jobs", 1), ("storage", 1)]:
    v = harness.metric(m, 'manifold_refusals_total{reason="%s"}' % why)
    check(v == n, "/metrics counts %d %s refusal(s) (%s)" % (n, why, v))
d.json("GET", "/v1/models", None, {"Authorization": "Bearer nope-nope-nope-nope"})
_, _, m = d.req("GET", "/metrics")
check(harness.metric(m, 'manifold_refusals_total{reason="unauthorized"}') == 1, "/metrics counts the 401")
d.term()

# compute per day, on a daemon of its own (the other limits' jobs would not fit its budget)
d = harness.Daemon(DAEMON, MODELS, TMP, "--api-keys", QFILE, "--key-daily-flops", str(int(COST * 1.5)))
# compute per day: 1.5 requests' worth
body = {"model": "gaussian", "n": 100, "steps": 10, "sampler": "ddim"}
st1 = d.json("POST", "/v1/samples", body, qauth("flops"))[0]
st2, h2, j2 = d.json("POST", "/v1/samples", body, qauth("flops"))
check(st1 == 200 and st2 == 429 and "FLOPs today" in j2["error"]["message"]
      and 1 <= int(h2.get("retry-after", "0")) <= 86400,
      "the second request over the daily compute: 429 until midnight UTC (%s, %s %s)" % (st1, st2, h2.get("retry-after")))
time.sleep(0.6)
# a job is charged its estimate: a small train job's is far over what is left; a sample job of
# 10 rows (evaluations x 2 x weights, well under half a request's worth) fits
st3, h3, j3 = d.json("POST", "/v1/jobs", {"type": "train", "params": {"dataset": "gaussian", "steps": 100, "hidden": [16]}},
                     qauth("flops"))
time.sleep(0.6)
st4, _, j4 = d.json("POST", "/v1/jobs", {"type": "sample", "model": "gaussian", "params": {"n": 10, "steps": 10, "sampler": "ddim"}},
                    qauth("flops"))
check(st3 == 429 and "FLOPs today" in j3["error"]["message"] and st4 == 202,
      "jobs are charged their compute estimate: a train job over what is left 429, a small sample job 202 (%s %s, %s %s)"
      % (st3, j3.get("error"), st4, j4))
_, _, m = d.req("GET", "/metrics")
v = harness.metric(m, 'manifold_refusals_total{reason="compute"}')
check(v == 2, "/metrics counts 2 compute refusals (%s)" % v)
d.term()

# ---- start-up ------------------------------------------------------------------------------


def start(*args, env=None):
    """Runs manifoldd expecting it to exit at start; returns (status, stderr)."""
    e = dict(os.environ, **(env or {}))
    p = subprocess.run([DAEMON, "--models", MODELS, "--model-store", os.path.join(TMP, "m2"),
                        "--store", "sqlite:" + os.path.join(TMP, "j2.db")] + list(args),
                       capture_output=True, text=True, timeout=30, env=e)
    return p.returncode, p.stderr


rc, err = start("--listen", "0.0.0.0:0")
check(rc == 2 and "not a loopback address" in err and "--insecure-open" in err,
      "non-loopback without keys refuses to start with the reason (%s: %s)" % (rc, err.strip()[-200:]))
bad = os.path.join(TMP, "badkeys")
with open(bad, "w") as f:
    f.write("ok read 0123456789abcdef-ok\nbroken reed s3cret-s3cret-s3cret\n")
rc, err = start("--listen", "127.0.0.1:0", "--api-keys", bad)
check(rc == 2 and "key line 2" in err and "s3cret" not in err,
      "a bad key file: exit 2 naming line 2, not the token (%s: %s)" % (rc, err.strip()))
rc, err = start("--listen", "127.0.0.1:0", "--api-keys", os.path.join(TMP, "missing"))
check(rc == 2 and "missing" in err, "a missing key file: exit 2 (%s)" % rc)
# an unusable --listen is reported with the reason before any model loads (issue 15)
with socket.socket() as held:
    held.bind(("127.0.0.1", 0))
    held.listen()
    taken = held.getsockname()[1]
    for listen, why in [("127.0.0.1:%d" % taken, "is taken"), ("[::1]:8080", "IPv6"),
                        ("example.com:80", "IPv4 address"), ("localhost", "HOST:PORT"),
                        ("127.0.0.1:70000", "port must be")]:
        rc, err = start("--listen", listen)
        check(rc == 2 and why in err and "models:" not in err,
              "--listen %s: exit 2 before loading, saying '%s' (%s: %s)" % (listen, why, rc, err.strip()[-160:]))
rc, err = start("--metrics-scope", "everyone")
check(rc == 2 and "metrics-scope" in err, "a bad --metrics-scope: exit 2")
# keys from the environment, and --insecure-open, both serving
for extra, env in [(["--listen", "localhost:0"], {"MANIFOLD_API_KEYS_TEXT": "envkey read " + TOKENS["reader"]}),
                   (["--listen", "0.0.0.0:0", "--insecure-open"], None)]:
    pf = os.path.join(TMP, "port2")
    if os.path.exists(pf):
        os.unlink(pf)
    p = subprocess.Popen([DAEMON, "--models", MODELS, "--model-store", os.path.join(TMP, "m3"),
                          "--store", "sqlite:" + os.path.join(TMP, "j3.db"), "--port-file", pf] + extra,
                         stdout=subprocess.DEVNULL, stderr=open(os.path.join(TMP, "start.log"), "w"),
                         env=dict(os.environ, **(env or {})))
    for _ in range(200):
        if os.path.exists(pf) and open(pf).read().strip():
            break
        time.sleep(0.05)
    port = int(open(pf).read()) if os.path.exists(pf) else 0
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/v1/models", headers={"Authorization": "Bearer " + TOKENS["reader"]} if env else {})
    st = c.getresponse().status
    c.close()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/v1/models")
    st_none = c.getresponse().status
    c.close()
    p.terminate()
    p.wait(30)
    if env:
        check(st == 200 and st_none == 401, "keys from MANIFOLD_API_KEYS_TEXT (listening on localhost:0): "
              "200 with, 401 without (%s %s)" % (st, st_none))
    else:
        slog = open(os.path.join(TMP, "start.log")).read()
        check(st == 200 and "without API keys (--insecure-open)" in slog,
              "--insecure-open serves 0.0.0.0 without keys, with a warning in the log (%s)" % st)

rc = harness.summary("api-auth", TMP)
if rc == 0:
    shutil.rmtree(TMP, ignore_errors=True)
sys.exit(rc)
