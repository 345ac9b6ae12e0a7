#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
API suite, finetune.smeme with keep_iterations (issue 15): the model of every
iteration but the last is published as "<final id>-it<k>" with its own
metadata (parent chain, provenance naming the job and the iteration, the
job's owner), each iteration's metrics event names it, the final model's
parent is the last kept one; without the flag nothing more is made; a daemon
picked final id leaves room for the suffix; refusals at submit (an out_model
too long once suffixed, a kept id taken); a cancel leaves the kept models; a
job resumed after kill -9 does not publish a kept model twice.  Runs with API
keys, so ownership is checked.  Tiny runs on the shipped 2-D gaussian model:
the numbers are the S-MEME suites' (test_api.py, the oracles), not this one's.

usage: test_smeme_keep.py PATH/TO/manifoldd MODELS_DIR
"""
import json
import os
import shutil
import sys
import tempfile
import time

import harness
from harness import check, read_events

DAEMON, MODELS = sys.argv[1], sys.argv[2]
TMP = tempfile.mkdtemp(prefix="mf-smeme-keep-")
KEYFILE = os.path.join(TMP, "keys")
TOKENS = {"alice": "alice-token-00000000000000000000002", "bob": "bob-token-0000000000000000000000003"}
with open(KEYFILE, "w") as f:
    for name, tok in TOKENS.items():
        f.write("%s read,sample,finetune %s\n" % (name, tok))
ALICE = {"Authorization": "Bearer " + TOKENS["alice"]}
BOB = {"Authorization": "Bearer " + TOKENS["bob"]}
SMALL = {"rounds": 3, "steps": 10, "trajectories": 8, "batch": 128, "n_metric_samples": 100,
         "seed": 3}


def Daemon():
    return harness.Daemon(DAEMON, MODELS, TMP, "--api-keys", KEYFILE, "--max-running", "1")


def submit(d, params):
    return d.json("POST", "/v1/jobs", {"type": "finetune.smeme", "model": "gaussian", "params": params},
                  ALICE)


def model(d, mid, who=ALICE):
    st, _, m = d.json("GET", "/v1/models/" + mid, None, who)
    return m if st == 200 else None


def metrics_events(d, job):
    """The job's metrics events and all its events (read to the end of its stream)."""
    ev = read_events(d, job, limit=120, headers=ALICE)
    return [e[2] for e in ev if e[1] == "metrics"], ev


def wait_final(d, job, limit=120):
    t_end = time.time() + limit
    while time.time() < t_end:
        st, _, j = d.json("GET", "/v1/jobs/" + job, None, ALICE)
        if st == 200 and j["state"] in ("succeeded", "failed", "cancelled"):
            return j
        time.sleep(0.1)
    return None


def wait_iteration(d, job, k, limit=120):
    t_end = time.time() + limit
    while time.time() < t_end:
        _, _, j = d.json("GET", "/v1/jobs/" + job, None, ALICE)
        if ((j or {}).get("metrics") or {}).get("iteration", -1) >= k:
            return j
        time.sleep(0.05)
    return None


def check_chain(d, job_id, final, K, what):
    """The kept models final-it1 .. final-it(K-1) and final: ids, parents, metadata, owner."""
    prev = "gaussian"
    for k in range(1, K + 1):
        mid = final if k == K else "%s-it%d" % (final, k)
        m = model(d, mid)
        ok = m is not None
        if ok:
            md = m["metadata"]
            prov = "manifoldd finetune.smeme job %s" % job_id + ("" if k == K else ", iteration %d of %d" % (k, K))
            ok = (m["parent"] == prev and m["provenance"] == prov and md["smeme_iterations"] == str(k)
                  and md["owner"] == "alice" and m["dataset"] == "gaussian" and m["created"]
                  and json.loads(md["smeme"])["keep_iterations"] is True)
        check(ok, "%s: model %s, parent %s, provenance, iterations, owner (%s)"
              % (what, mid, prev, m and (m["parent"], m["provenance"], m["metadata"].get("owner"))))
        prev = mid
    check(model(d, "%s-it%d" % (final, K)) is None, "%s: no -it%d copy of the final model" % (what, K))


d = Daemon()
t0 = time.time()

# ---- K = 3, out_model given ----------------------------------------------------------------
st, _, ja = submit(d, dict(SMALL, K=3, keep_iterations=True, out_model="g-keep"))
check(st == 202 and ja["params"]["keep_iterations"] is True, "keep_iterations accepted (%s)" % st)
mets, ev = metrics_events(d, ja["id"])
check([m["iteration"] for m in mets] == [0, 1, 2, 3], "a metrics event per iteration")
check([m.get("model") for m in mets] == [None, "g-keep-it1", "g-keep-it2", None],
      "iterations 1 and 2 name their kept model; the parent and the final do not (%s)"
      % [m.get("model") for m in mets])
fin = ev[-1][2]
check(fin["state"] == "succeeded" and fin["job_object"]["result"]["model"] == "g-keep",
      "the job's result is the final model")
check_chain(d, ja["id"], "g-keep", 3, "K = 3")
check(model(d, "g-keep-it1", BOB) is None, "another key does not see a kept model")
w = [d.req("GET", "/v1/models/%s/weights" % m, None, ALICE)[2] for m in ("g-keep-it1", "g-keep-it2", "g-keep")]
check(len(set(w)) == 3, "each kept model holds its own iteration's weights")
st, _, sx = d.json("POST", "/v1/samples", {"model": "g-keep-it1", "n": 50, "steps": 10, "seed": 1}, ALICE)
check(st == 200 and len(sx["samples"]) == 50, "a kept model samples")

# ---- the daemon names the final model: the kept ones follow it -----------------------------
st, _, jb = submit(d, dict(SMALL, K=2, keep_iterations=True))
jb = wait_final(d, jb["id"])
final_b = (jb or {}).get("result", {}).get("model", "")
check(jb is not None and jb["state"] == "succeeded" and final_b.startswith("gaussian-smeme-"),
      "keep without out_model: succeeded as %s" % final_b)
check_chain(d, jb["id"], final_b, 2, "picked id")

# ---- without keep_iterations: one model ----------------------------------------------------
before = set(m["id"] for m in d.json("GET", "/v1/models", None, ALICE)[2]["models"])
st, _, jc = submit(d, dict(SMALL, K=2, out_model="g-plain"))
mets, _ = metrics_events(d, jc["id"])
after = set(m["id"] for m in d.json("GET", "/v1/models", None, ALICE)[2]["models"])
check(after - before == {"g-plain"}, "keep_iterations false makes the final model only (%s)" % (after - before))
check(all("model" not in m for m in mets), "and no metrics event names a model")
check(model(d, "g-plain")["parent"] == "gaussian", "its parent is the job's model")

# ---- refusals at submit --------------------------------------------------------------------
long61 = "a" * 61
for params, code, err, field in [
        (dict(keep_iterations=True, out_model=long61), 422, "impossible", "/params/out_model"),
        (dict(keep_iterations=True, K=11, out_model="a" * 60), 422, "impossible", "/params/out_model"),
        (dict(keep_iterations="yes"), 400, "wrong_type", "/params/keep_iterations"),
        (dict(keep_iterations=True, out_model="g-keep"), 409, "model_exists", "/params/out_model")]:
    st, _, je = submit(d, params)
    e = (je or {}).get("error", {})
    check(st == code and e.get("code") == err and e.get("field") == field,
          "%s -> %d %s %s (%s %s)" % (params, code, err, field, st, e))
st, _, je = submit(d, dict(keep_iterations=True, out_model=long61[:60]))
check(st == 202, "60 characters + -it1 fit (%s)" % st)
d.json("POST", "/v1/jobs/%s/cancel" % je["id"], None, ALICE)
st, _, je = submit(d, dict(keep_iterations=False, out_model=long61))
check(st == 202, "without keep_iterations 61 characters are fine (%s)" % st)
d.json("POST", "/v1/jobs/%s/cancel" % je["id"], None, ALICE)
# a kept id taken by a model (an upload): refused like a taken out_model, naming it
gauss = open(os.path.join(MODELS, "gaussian.safetensors"), "rb").read()
st, _, _ = d.json("POST", "/v1/models?id=taken-it1", gauss, dict(ALICE, **{"Content-Type": "application/octet-stream"}))
check(st == 201, "uploaded taken-it1 (%s)" % st)
st, _, je = submit(d, dict(keep_iterations=True, K=2, out_model="taken"))
e = (je or {}).get("error", {})
check(st == 409 and e.get("code") == "model_exists" and "taken-it1" in e.get("message", ""),
      "a kept id that exists: 409 model_exists naming it (%s %s)" % (st, e))
# ... or that a queued job will make
st, _, jq = submit(d, dict(SMALL, K=3, rounds=100000, keep_iterations=True, out_model="busy"))
st2, _, je = submit(d, dict(SMALL, out_model="busy-it2"))
check(st == 202 and st2 == 409 and je["error"]["code"] == "model_exists",
      "a kept id a queued job will make: 409 (%s)" % st2)
d.json("POST", "/v1/jobs/%s/cancel" % jq["id"], None, ALICE)
wait_final(d, jq["id"])

# ---- cancel: the kept models stay ----------------------------------------------------------
st, _, jx = submit(d, dict(SMALL, K=16, rounds=60, keep_iterations=True, out_model="g-cut"))
check(wait_iteration(d, jx["id"], 1) is not None, "the long job finished iteration 1")
d.json("POST", "/v1/jobs/%s/cancel" % jx["id"], None, ALICE)
jx = wait_final(d, jx["id"], 60)
m = model(d, "g-cut")
n = int(m["metadata"]["smeme_iterations"]) if m else 0
check(jx is not None and jx["state"] == "cancelled" and n >= 1, "cancelled; g-cut holds %d iterations" % n)
check(model(d, "g-cut-it1") is not None and (m or {}).get("parent") == ("gaussian" if n == 1 else "g-cut-it%d" % (n - 1)),
      "the kept models stay; the cancelled job's model continues the chain (%s)" % (m or {}).get("parent"))

# ---- kill -9 after iteration 1: the resumed job does not publish it again -------------------
st, _, jk = submit(d, dict(SMALL, K=3, rounds=60, keep_iterations=True, out_model="g-back"))
check(wait_iteration(d, jk["id"], 1) is not None, "iteration 1 done before kill -9")
d.kill9()
d = Daemon()
jr = wait_final(d, jk["id"], 180)
check(jr is not None and jr["state"] == "succeeded" and jr["attempts"] == 2,
      "the resumed job succeeded at attempt 2 (%s)" % (jr or {}).get("error"))
mets, _ = metrics_events(d, jk["id"])
check([m["iteration"] for m in mets] == [0, 1, 2, 3] and mets[1].get("model") == "g-back-it1"
      and mets[2].get("model") == "g-back-it2", "each iteration's event once, naming its kept model")
check_chain(d, jk["id"], "g-back", 3, "after kill -9")
check(d.term() == 0, "daemon drained")
print("test_smeme_keep: %.1f s" % (time.time() - t0))

status = harness.summary("api-smeme-keep", TMP)
shutil.rmtree(TMP, ignore_errors=True)
sys.exit(status)
