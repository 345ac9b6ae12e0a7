#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
Sampling a DxMI model over HTTP (issue 13): a model file with a short chain
(metadata sampler var:5, dxmi_model.py builds it from the shipped gaussian
model with the authors' 5-step schedule) is sampled with its few-step sampler
by default, by POST /v1/samples, by a sample job and on a stream; the
response says which sampler and steps ran; "var" elsewhere and other step
counts are 422 on the field; the grid samplers still run the model's
eps-network with the parent schedule (here the parent's network, so their
samples equal the parent's); concurrent var calls share batched runs and
each equals its call alone.  The quality of the chain is core's oracle 1
(tests/core/test_sampler.c); here the samples only have to be finite and
roughly the data's scale.

usage: test_dxmi_sample.py PATH/TO/manifoldd MODELS_DIR
"""
import http.client
import json
import math
import os
import random
import shutil
import sys
import tempfile
import threading

import dxmi_model as dx
import harness
from harness import check, metric

DAEMON, MODELS = sys.argv[1], sys.argv[2]
TMP = tempfile.mkdtemp(prefix="mf-dxmi-sample-")
OCTET = {"Content-Type": "application/octet-stream"}

rng = random.Random(5)
train = [[round(rng.gauss(0, 0.5), 4), round(rng.gauss(0, 0.5), 4)] for _ in range(200)]
body, _, _, _ = dx.dxmi_copy(os.path.join(MODELS, "gaussian.safetensors"), train, var_T=5)
d = harness.Daemon(DAEMON, MODELS, TMP)
st, _, j = d.json("POST", "/v1/models?id=g-var", body, OCTET)
check(st == 201 and j["metadata"].get("sampler") == "var:5",
      "a DxMI model with a 5-step chain uploads (%s %s)" % (st, j.get("error")))

base = {"model": "g-var", "n": 64, "seed": 3, "metrics": False}
st, _, r = d.json("POST", "/v1/samples", base)
check(st == 200 and r["sampler"] == "var" and r["steps"] == 5,
      "no sampler: the model's var sampler with its 5 steps (%s %s %s)"
      % (st, r.get("sampler"), r.get("steps")))
xs = [v for row in r.get("samples", []) for v in row]
mean = sum(xs) / max(1, len(xs))
std = math.sqrt(sum((v - mean) ** 2 for v in xs) / max(1, len(xs)))
print("var:5 samples: mean %.3f, std %.3f (data: 0, 0.5)" % (mean, std))
check(len(xs) == 128 and all(math.isfinite(v) for v in xs) and abs(mean) < 0.5 and 0.1 < std < 2,
      "64 finite samples of the data's scale")
st, _, r2 = d.json("POST", "/v1/samples", dict(base, sampler="var", steps=5))
check(st == 200 and r2["samples"] == r["samples"], "sampler var, steps 5 named: the same samples")
st, _, r3 = d.json("POST", "/v1/samples", dict(base, seed=4))
check(st == 200 and r3["samples"] != r["samples"], "another seed, other samples")

# the grid samplers: the model's eps-network on the parent schedule (the parent's here)
for sampler, steps in (("ddim", 20), ("ddpm", 50), ("ode", 10)):
    q = dict(base, sampler=sampler, steps=steps)
    st, _, a = d.json("POST", "/v1/samples", q)
    st2, _, b = d.json("POST", "/v1/samples", dict(q, model="gaussian"))
    check(st == 200 and st2 == 200 and a["sampler"] == sampler and a["steps"] == steps and
          a["samples"] == b["samples"], "%s on the DxMI model: the parent network's samples" % sampler)

# what is impossible, each a 422 on its field
for extra, model, field in (({"sampler": "var"}, "gaussian", "/sampler"),
                            ({"sampler": "var", "steps": 4}, "g-var", "/steps"),
                            ({"steps": 6}, "g-var", "/steps"),
                            ({"sampler": "var", "target": 1}, "g-var", "/target")):
    st, _, e = d.json("POST", "/v1/samples", dict(base, model=model, **extra))
    err = e.get("error", {})
    check(st == 422 and err.get("code") == "impossible" and err.get("field") == field,
          "%s on %s: 422 on %s (%s %s)" % (json.dumps(extra), model, field, st, err.get("field")))
st, _, e = d.json("POST", "/v1/samples", dict(base, sampler="euler"))
check(st == 400 and e["error"]["field"] == "/sampler", "an unknown sampler: 400 on /sampler")

# concurrent var calls: batched, each equal to its call alone
_, _, before = d.req("GET", "/metrics")
answers, lock = {}, threading.Lock()


# in f32, as the other tests that time calls against each other: bf16 (the default) runs a
# 16-row call 4x faster, so on a loaded machine the calls could finish before the next
# arrives and never share a run; and the equality below is to float rounding
conc = dict(base, precision="f32")


def one(i):
    st_, _, r_ = d.json("POST", "/v1/samples", dict(conc, n=16, seed=100 + i), timeout=120)
    with lock:
        answers[i] = (st_, r_)


threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
for t in threads:
    t.start()
for t in threads:
    t.join(120)
_, _, after = d.req("GET", "/metrics")
ok = sum(1 for st_, r_ in answers.values() if st_ == 200 and r_["sampler"] == "var")
check(ok == 16, "16 concurrent var calls answered (%d)" % ok)
same = 0
for i in (0, 9, 15):
    _, _, alone = d.json("POST", "/v1/samples", dict(conc, n=16, seed=100 + i))
    diff = max(abs(x - y) for ra, rb in zip(answers[i][1]["samples"], alone["samples"])
               for x, y in zip(ra, rb))
    same += diff < 1e-5
check(same == 3, "a batched var call equals the call alone")
runs = metric(after, "manifold_batches_total") - metric(before, "manifold_batches_total")
check(runs < 16, "var calls batched together (%d runs for 16 calls)" % runs)

# a sample job: var by default, stored resolved, the same samples as /v1/samples
st, _, jb = d.json("POST", "/v1/jobs", {"type": "sample", "model": "g-var",
                                        "params": {"n": 64, "seed": 3, "metrics": False}})
check(st == 202 and jb["params"].get("sampler") == "var" and jb["params"].get("steps") == 5,
      "a sample job resolves var with 5 steps (%s %s)" % (st, jb.get("params")))
jr = harness.wait_state(d, jb["id"], ["succeeded", "failed"], 60)
st, _, res = d.json("GET", "/v1/jobs/%s/result" % jb["id"])
check(jr is not None and jr["state"] == "succeeded" and res["sampler"] == "var" and
      res["samples"] == r["samples"], "the sample job's samples equal /v1/samples'")
st, _, e = d.json("POST", "/v1/jobs", {"type": "sample", "model": "gaussian",
                                       "params": {"n": 4, "sampler": "var"}})
check(st == 422 and e["error"]["field"] == "/params/sampler", "a var sample job on a plain model: 422")

# a streamed call: the final status names the sampler
c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=60)
c.request("POST", "/v1/samples", body=json.dumps(base),
          headers={"Content-Type": "application/json", "Accept": "application/x-ndjson"})
events = harness.parse_stream(c.getresponse(), 60, ndjson=True)
c.close()
final = [data for _, name, data in events if name == "status" and data.get("state") == "succeeded"]
check(len(final) == 1 and final[0]["result"]["sampler"] == "var" and final[0]["result"]["steps"] == 5,
      "a streamed call's result says var, 5 steps")

check(d.term() == 0, "daemon drained")
status = harness.summary("dxmi-sample", TMP)
shutil.rmtree(TMP, ignore_errors=True)
sys.exit(status)
