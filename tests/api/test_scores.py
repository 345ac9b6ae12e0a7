#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
POST /v1/scores over HTTP (issue 13): anomaly scores from a DxMI model's
energy network.  The model is the shipped gaussian model made a DxMI result
here (dxmi_model.py: a bowl-shaped energy on model space, its quantiles from
2,000 training points of N(0, 0.5^2 I) in data space, a normalisation that is
not the identity so that the daemon's mapping to model space is exercised).

Checks: the energies equal the test's own evaluation of the same network;
oracle 5's API half, the AUC of -energy from the API on held-out points
against uniform points equals the AUC of the offline energies (and is far
from chance), and the percentiles of the training points are uniform (KS
distance to U[0, 100] <= 0.02; about 1 % of them outliers); the error of
every malformed or impossible request (status, code, JSON pointer);
concurrent calls batched and each answered with its own scores; a malformed
DxMI model file refused at upload, naming the key.

usage: test_scores.py PATH/TO/manifoldd MODELS_DIR
"""
import json
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
TMP = tempfile.mkdtemp(prefix="mf-scores-")
OCTET = {"Content-Type": "application/octet-stream"}
KS_TOL = 0.02  # KS distance of the training points' percentiles to uniform

rng = random.Random(13)


def points(n, draw):
    """n points of draw(), 4 decimals (2,000 of them fit the suite's 64 KiB body limit)."""
    return [[round(draw(), 4), round(draw(), 4)] for _ in range(n)]


train = points(2000, lambda: rng.gauss(0, 0.5))
heldout = points(500, lambda: rng.gauss(0, 0.5))
uniform = points(500, lambda: rng.uniform(-4, 4))

body, energy, off, sc = dx.dxmi_copy(os.path.join(MODELS, "gaussian.safetensors"), train,
                                     offset=0.25, scale=1.5)
d = harness.Daemon(DAEMON, MODELS, TMP)
st, _, j = d.json("POST", "/v1/models?id=g-dxmi", body, OCTET)
check(st == 201 and j["metadata"].get("energy_hidden") == "8",
      "a DxMI model uploads (%s %s)" % (st, j.get("error")))


def score(points, model="g-dxmi", timeout=60):
    return d.json("POST", "/v1/scores", {"model": model, "points": points}, timeout=timeout)


# ---- the numbers ----------------------------------------------------------------------
st, _, r = score(heldout + uniform)
check(st == 200 and r["model"] == "g-dxmi" and r["n"] == 1000 and len(r["scores"]) == 1000,
      "1000 points scored (%s %s)" % (st, r.get("error") if isinstance(r, dict) else r))
api_e = [s["energy"] for s in r["scores"]]
off_e = [dx.energy_of(energy, off, sc, p) for p in heldout + uniform]
worst = max(abs(a - b) / max(1.0, abs(b)) for a, b in zip(api_e, off_e))
check(worst < 1e-4, "energies equal the offline evaluation (max rel. diff %.2g)" % worst)
_, _, mj = d.json("GET", "/v1/models/g-dxmi")
q = [float(v) for v in mj["metadata"]["energy_quantiles"].split(",")]
check(r["threshold"] == q[99], "threshold is the 99 %% quantile (%s, %s)" % (r["threshold"], q[99]))
pct_ok = all(abs(s["percentile"] - dx.percentile(q, s["energy"])) < 1e-6 and
             s["outlier"] == (s["energy"] > q[99]) for s in r["scores"])
check(pct_ok, "percentile and outlier by the rule of model_dxmi.h")
check(r["outliers"] == sum(1 for s in r["scores"] if s["outlier"]), "outliers counts them")

# oracle 5, API half: AUC of -E, held-out (label 1) against uniform, both ways the same
auc_api = dx.auc([-e for e in api_e[:500]], [-e for e in api_e[500:]])
auc_off = dx.auc([-e for e in off_e[:500]], [-e for e in off_e[500:]])
print("energy AUC held-out vs uniform: API %.6f, offline %.6f" % (auc_api, auc_off))
check(abs(auc_api - auc_off) < 1e-9, "AUC from /v1/scores equals the offline AUC")
check(auc_api > 0.9, "the bowl separates data from uniform points (AUC %.3f)" % auc_api)

# the training points' percentiles are uniform on [0, 100]
st, _, r = score(train)
pcts = sorted(s["percentile"] for s in r["scores"]) if st == 200 else []
ks = max(max(abs(p / 100 - i / len(pcts)), abs(p / 100 - (i + 1) / len(pcts)))
         for i, p in enumerate(pcts)) if pcts else 1.0
frac_out = sum(1 for s in r["scores"] if s["outlier"]) / len(train) if st == 200 else 1.0
print("training points: KS distance of percentiles to U[0,100] %.4f, outliers %.2f %%"
      % (ks, 100 * frac_out))
check(ks <= KS_TOL, "training percentiles uniform (KS %.4f <= %.2f)" % (ks, KS_TOL))
check(0.005 <= frac_out <= 0.015, "about 1 %% of the training points are outliers (%.4f)" % frac_out)

# ---- errors ----------------------------------------------------------------------------
cases = [
    ({"model": "nope", "points": [[0, 0]]}, 404, "model_not_found", "/model"),
    ({"model": "gaussian", "points": [[0, 0]]}, 422, "impossible", "/model"),
    ({"model": "g-dxmi", "points": [[0, 0, 0]]}, 422, "impossible", "/points/0"),
    ({"model": "g-dxmi", "points": [[1, 2], [3, 4], [5, 6], [7, "x"]]}, 400, "wrong_type", "/points/3/1"),
    ({"model": "g-dxmi", "points": [[1, 2], [3]]}, 400, "out_of_range", "/points/1"),
    ({"model": "g-dxmi", "points": [[1, 2], [3, 1e39]]}, 400, "out_of_range", "/points/1/1"),
    ({"model": "g-dxmi", "points": []}, 400, "out_of_range", "/points"),
    ({"model": "g-dxmi", "points": [[0, 0]] * 10001}, 400, "out_of_range", "/points"),
    ({"model": "g-dxmi"}, 400, "missing_field", "/points"),
    ({"model": "g-dxmi", "points": [[0, 0]], "seed": 1}, 400, "unknown_field", "/seed"),
]
for req, status, code, field in cases:
    compact = json.dumps(req, separators=(",", ":"))  # 10,001 points within 64 KiB
    st, _, e = d.json("POST", "/v1/scores", compact, {"Content-Type": "application/json"})
    err = e.get("error", {}) if isinstance(e, dict) else {}
    check(st == status and err.get("code") == code and err.get("field") == field,
          "%s...: %d %s on %s (got %s %s %s)" % (json.dumps(req)[:60], status, code, field, st,
                                                 err.get("code"), err.get("field")))
st, _, e = d.json("POST", "/v1/scores", "{\"model\": \"g-dxmi\", \"points\": [[0, 0]]",
                  {"Content-Type": "application/json"})
check(st == 400 and e["error"]["code"] == "bad_json", "truncated JSON: 400 bad_json")
st, _, e = d.json("POST", "/v1/scores", json.dumps({"model": "g-dxmi", "points": [[0, 0]]}),
                  {"Content-Type": "text/plain"})
check(st == 415, "text/plain: 415 (%s)" % st)
big = {"model": "g-dxmi", "points": [[0.123456789, 0.123456789]] * 3000}  # over --max-body 65536
st, _, e = d.json("POST", "/v1/scores", big)
check(st == 413 and e["error"]["code"] == "too_large", "a body over --max-body: 413 (%s)" % st)
st, h, _ = d.req("GET", "/v1/scores")
check(st == 405 and "POST" in h.get("allow", ""), "GET /v1/scores: 405 with Allow POST")

# ---- concurrent calls share runs, each answered with its own points ---------------------
_, _, before = d.req("GET", "/metrics")
answers, lock = {}, threading.Lock()


def one(i):
    pts = heldout[i * 20:(i + 1) * 20]
    st_, _, r_ = score(pts, timeout=120)
    with lock:
        answers[i] = (st_, r_, pts)


threads = [threading.Thread(target=one, args=(i,)) for i in range(24)]
for t in threads:
    t.start()
for t in threads:
    t.join(120)
good = 0
for i, (st_, r_, pts) in answers.items():
    if st_ == 200 and len(r_["scores"]) == len(pts):
        want = [dx.energy_of(energy, off, sc, p) for p in pts]
        good += max(abs(s["energy"] - w) for s, w in zip(r_["scores"], want)) < 1e-4
check(good == 24, "24 concurrent calls answered with their own scores (%d)" % good)
_, _, after = d.req("GET", "/metrics")


calls = metric(after, "manifold_score_requests_total") - metric(before, "manifold_score_requests_total")
check(calls == 24, "24 score requests counted (%s)" % calls)
check(metric(after, "manifold_points_scored_total") >= 3480, "points scored counted")

# ---- a malformed DxMI file is refused at upload, naming what is wrong ------------------
meta, tensors = harness.read_safetensors(body)
bad_files = [
    (dict(meta, energy_quantiles="1,2,3"), tensors, "__metadata__/energy_quantiles"),
    (dict(meta, value_emb="5"), tensors, "__metadata__/value_emb"),
    ({k: v for k, v in meta.items() if k != "energy_hidden"}, tensors, "__metadata__/energy_hidden"),
    (meta, dict(tensors, **{"energy.layers.9.bias": ("F32", [1], dx.f32_blob([0.0]))}),
     "energy.layers.9.bias"),
    (meta, {k: v for k, v in tensors.items() if k != "value.layers.1.bias"}, "value.layers.1.bias"),
]
for i, (m_, t_, field) in enumerate(bad_files):
    st, _, e = d.json("POST", "/v1/models?id=bad-dxmi-%d" % i, harness.write_safetensors(m_, t_), OCTET)
    err = e.get("error", {}) if isinstance(e, dict) else {}
    check(st == 422 and err.get("code") == "invalid_model" and err.get("field") == field,
          "bad DxMI file %d: 422 invalid_model on %s (%s %s)" % (i, field, st, err.get("field")))

check(d.term() == 0, "daemon drained")
status = harness.summary("scores", TMP)
shutil.rmtree(TMP, ignore_errors=True)
sys.exit(status)
