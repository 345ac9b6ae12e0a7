#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
API suite, potential models and the HJB regulariser (issue 18) over HTTP:

- a train job with "architecture": "potential" and "hjb": {} (the regulariser with
  its defaults) succeeds; its metrics events carry "hjb" {lambda (ramped in: 0 at the
  first report, the default 0.01 at the last), loss, residual_rms, five bins with
  their tau edges, points}; the result's "evaluation" has SW2 next to its floor, kNN
  entropy next to the data's, the held-out NLL and the residual;
- the model says prediction "potential" (its file: layers.2.weight [1, 32]), samples
  through POST /v1/samples with every sampler and its metrics, downloads and uploads
  again under another id and samples the same points;
- finetune.smeme, finetune.dxmi and finetune.reward refuse it (422 impossible on
  /model), and the params' errors are named at their pointers: hjb without the
  potential architecture (422 /params/hjb), lambda out of range (400
  /params/hjb/lambda), an unknown hjb field, a bad estimator, t_min below dt (422).
The numbers themselves are the core suites' (test_potential: every derivative against
finite differences; the oracle suite: training); here only that they are there and sane.

usage: test_potential.py PATH/TO/manifoldd MODELS_DIR
"""
import math
import os
import shutil
import sys
import tempfile

import harness
from harness import check, read_events, wait_state

DAEMON, MODELS = sys.argv[1], sys.argv[2]
TMP = tempfile.mkdtemp(prefix="mf-potential-")
TRAIN = {"type": "train", "params": {"dataset": "eight_gaussians", "steps": 1500, "batch": 128,
                                     "hidden": [32, 32], "emb": 16, "warmup": 50, "ema": 0.99,
                                     "architecture": "potential", "hjb": {},
                                     "out_model": "eg-pot"}}


def refused(d, body, status, code, pointer, what):
    st, _, e = d.json("POST", "/v1/jobs", body)
    err = (e or {}).get("error", {})
    check(st == status and err.get("code") == code and err.get("field") == pointer,
          "%s: %s %s at %s (got %s %s)" % (what, status, code, pointer, st, err))


def train_with(**changes):
    body = {"type": "train", "params": dict(TRAIN["params"])}
    body["params"].update(changes)
    return body


d = harness.Daemon(DAEMON, MODELS, TMP)
try:
    st, _, j = d.json("POST", "/v1/jobs", TRAIN)
    check(st == 202, "potential train job submitted: %s %s" % (st, j))
    done = wait_state(d, j.get("id", ""), {"succeeded", "failed", "cancelled"}, 240)
    check(done is not None and done["state"] == "succeeded", "it succeeds: %s" % done)
    ev = read_events(d, j["id"], limit=60)
    mets = [e[2] for e in ev if e[1] == "metrics"]
    check(len(mets) >= 2 and all("hjb" in m for m in mets), "every metrics event has hjb")
    h0, h1 = mets[0]["hjb"], mets[-1]["hjb"]
    check(h0["lambda"] < 0.01 and abs(h1["lambda"] - 0.01) < 1e-12,
          "lambda ramps in to the default 0.01: %s -> %s" % (h0["lambda"], h1["lambda"]))
    check(all(len(m["hjb"]["residual_rms_bins"]) == 5 and len(m["hjb"]["bins_tau"]) == 6
              for m in mets), "five bins and their six edges")
    check(abs(h1["bins_tau"][0] - 0.02) < 1e-12 and h1["bins_tau"][-1] == 1,
          "bins over [t_min, 1]: %s" % h1["bins_tau"])
    check(all(m["hjb"]["points"] > 0 and m["hjb"]["residual_rms"] > 0 and
              math.isfinite(m["hjb"]["loss"]) for m in mets), "loss, RMS and points counted")
    # points: 32 per step (a quarter of 128) over the 75 steps between reports; the loss
    # is a mean per step of w R^2, w = (sigma^2/beta)^2 <= 0.0103 on [0.02, 1] (largest near
    # tau 0.4), so at most 0.0103 RMS^2: a sum over the window's steps would be ~75x that
    check(all(m["hjb"]["points"] % 32 == 0 for m in mets) and
          0 < h1["loss"] <= 0.0105 * h1["residual_rms"] ** 2,
          "a mean loss per step: %s (RMS %s)" % (h1["loss"], h1["residual_rms"]))
    res = done.get("result") or {}
    e = res.get("evaluation") or {}
    check(res.get("model") == "eg-pot" and e.get("n") == 1000 and e.get("sampler") == "ddpm",
          "the result names the model and carries the evaluation: %s" % res)
    check(0 < e.get("sw2_floor", 0) < e.get("sw2", 0) < 5,
          "SW2 next to its floor: %s, %s" % (e.get("sw2"), e.get("sw2_floor")))
    check(abs(e.get("entropy_knn", {}).get("data", 0) - 2.83) < 0.15 and
          0 < e["entropy_knn"]["value"] < 6, "kNN entropy next to the data's: %s" % e.get("entropy_knn"))
    check(2.0 < e.get("nll", 0) < 8 and e.get("divergence") == "exact",
          "a held-out NLL (exact divergence in 2-D): %s" % e.get("nll"))
    check(e.get("hjb", {}).get("points") == 1000 and e["hjb"]["residual_rms"] > 0,
          "the residual at held-out points: %s" % e.get("hjb"))

    st, _, m = d.json("GET", "/v1/models/eg-pot")
    check(st == 200 and m.get("prediction") == "potential" and m.get("hidden") == [32, 32],
          "the model is a potential: %s" % m.get("prediction"))
    for sampler, steps in (("ddpm", 50), ("ddim", 20), ("ode", 20)):
        st, _, s = d.json("POST", "/v1/samples", {"model": "eg-pot", "n": 200, "seed": 4,
                                                  "sampler": sampler, "steps": steps})
        ok = st == 200 and len(s.get("samples", [])) == 200 and \
            all(math.isfinite(v) for row in s["samples"] for v in row)
        check(ok, "%s samples of a potential model: %s" % (sampler, st))
    check(s.get("metrics") is not None, "with metrics")
    st, _, s = d.json("POST", "/v1/samples", {"model": "eg-pot", "n": 20, "seed": 4,
                                              "precision": "bf16", "metrics": False})
    check(st == 200 and s.get("precision") == "f32" and s.get("precision_asked") == "bf16",
          "bf16 asked of a potential: it runs in f32 and says so (%s)" % s.get("precision"))

    st, _, raw = d.req("GET", "/v1/models/eg-pot/weights")
    meta, tensors = harness.read_safetensors(raw) if st == 200 else ({}, {})
    check(meta.get("prediction") == "potential" and
          tensors.get("layers.2.weight", (None, None))[1] == [1, 32],
          "its file: prediction potential, last layer [1, 32]")
    st, _, up = d.json("POST", "/v1/models?id=eg-pot-copy", raw,
                       {"Content-Type": "application/octet-stream"})
    check(st == 201 and up.get("prediction") == "potential",
          "uploaded again under another id: %s %s" % (st, up))
    a = d.json("POST", "/v1/samples", {"model": "eg-pot", "n": 50, "seed": 9, "sampler": "ddim",
                                       "steps": 10, "metrics": False})[2]
    b = d.json("POST", "/v1/samples", {"model": "eg-pot-copy", "n": 50, "seed": 9,
                                       "sampler": "ddim", "steps": 10, "metrics": False})[2]
    check(a.get("samples") == b.get("samples"), "the copy samples the same points")

    for typ, extra in (("finetune.smeme", {}), ("finetune.dxmi", {}),
                       ("finetune.reward", {"dataset": "linear_subspace"})):
        refused(d, {"type": typ, "model": "eg-pot", "params": extra}, 422, "impossible", "/model",
                "%s of a potential model" % typ)
    refused(d, train_with(architecture="eps"), 422, "impossible", "/params/hjb",
            "hjb on an eps network")
    refused(d, train_with(hjb={"lambda": -1}), 400, "out_of_range", "/params/hjb/lambda",
            "lambda below 0")
    refused(d, train_with(hjb={"lamda": 1}), 400, "unknown_field", "/params/hjb/lamda",
            "a misspelt hjb field")
    refused(d, train_with(hjb={"estimator": "bogus"}), 400, "bad_value", "/params/hjb/estimator",
            "an unknown estimator")
    refused(d, train_with(hjb={"t_min": 0.001, "dt": 0.01}), 422, "impossible",
            "/params/hjb/t_min", "t_min below dt")
    refused(d, train_with(architecture="scalar"), 400, "bad_value", "/params/architecture",
            "an unknown architecture")
    check(d.term() == 0, "SIGTERM, clean exit")
    d = None
    sys.exit(harness.summary("api-potential", TMP))
finally:
    if d is not None:
        d.kill9()
    shutil.rmtree(TMP, ignore_errors=True)
