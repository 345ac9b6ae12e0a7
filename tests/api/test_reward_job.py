#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
API suite, finetune.reward jobs (issue 12): a run on the built-in
linear_subspace with synthetic labels (its events in order, the reward model's
fit, the per-target metrics against the ideal a / (1 + nu^2), the conditional
model it makes and sampling it at a target), a run on an uploaded CSV with a
partly filled y column (held-out rows, kNN distances where no truth is known,
samples that follow the target), every refusal at submit with its status,
code and field, a cancel, and a run interrupted by kill -9 that finishes after
the restart without repeating an event.  Standard library only; every request
has a timeout and every wait loop is bounded.

The runs are small (a 2,000-step 2 x 128 network): the oracle of the full
recipe is tests/core/test_rcgd_oracle.c; here the numbers only need to show
the job wires the pipeline up (tolerances below say why each is safe).

usage: test_reward_job.py PATH/TO/manifoldd MODELS_DIR
"""
import math
import random
import shutil
import sys
import tempfile
import time

import harness
from harness import check, read_events, wait_state

DAEMON, MODELS = sys.argv[1], sys.argv[2]
TMP = tempfile.mkdtemp(prefix="mf-reward-job-")


def Daemon():
    return harness.Daemon(DAEMON, MODELS, TMP, "--max-running", "1")


def submit(d, params, model=None):
    body = {"type": "finetune.reward", "params": params}
    if model is not None:
        body["model"] = model
    return d.json("POST", "/v1/jobs", body)


def run(d, params, limit=300):
    """Submits, waits, returns (job object, events)."""
    st, _, j = submit(d, params)
    check(st == 202, "finetune.reward accepted (%s %s)" % (st, j.get("error") if j else None))
    if st != 202:
        return None, []
    done = wait_state(d, j["id"], ["succeeded", "failed", "cancelled"], limit)
    check(done is not None and done["state"] == "succeeded",
          "the job succeeds (%s)" % (done and (done["state"], done.get("error")),))
    return done, read_events(d, j["id"], limit=60)


def stage(events, name):
    return [e[2] for e in events if e[1] == "metrics" and e[2].get("stage") == name]


d = Daemon()

# ---- linear_subspace with synthetic labels -------------------------------------------
NU = 0.5
SMALL = {"steps": 2000, "batch": 128, "hidden": [128, 128], "warmup": 100, "ema": 0.99}
P = {"dataset": "linear_subspace", "n_unlabelled": 4000, "n_labelled": 300, "pseudo_label_noise": NU,
     "train": SMALL, "targets": [0, 1, 2], "n_per_target": 200, "seed": 3}
job, ev = run(d, P)
names = [e[1] for e in ev]
check(names[:2] == ["status", "status"] and names[-1] == "status", "status events frame the stream")
fit = stage(ev, "reward_model")
check(len(fit) == 1, "one reward-model event (%d)" % len(fit))
fit = fit[0] if fit else {}
rm = fit.get("reward_model", {})
# theta^T x ~ N(0, 1) and labels of noise 0.1: a ridge fit explains 1 / 1.01 of the variance
check(rm.get("kind") == "ridge" and rm.get("val_r2", 0) > 0.95,
      "ridge on 300 labels of noise 0.1 explains the reward (held-out R^2 %s)" % rm.get("val_r2"))
check(rm.get("n_train", 0) + rm.get("n_val", 0) == 300, "the labelled rows split into fit and held-out")
check(fit.get("rows") == {"unlabelled": 4000, "labelled": 300, "heldout": 1000, "train": 4000},
      "rows: 4,000 unlabelled, 300 labelled, 1,000 held out (%s)" % fit.get("rows"))
pl = fit.get("pseudo_labels", {})
# pseudo-labels f(x) + nu xi: std sqrt(1 + nu^2) = 1.118 (4,000 draws: se 0.013)
check(pl.get("noise") == NU and abs(pl.get("std", 0) - math.sqrt(1 + NU * NU)) < 0.06,
      "pseudo-labels have std sqrt(1 + nu^2) (%s)" % pl)
tr = stage(ev, "training")
steps = [t["step"] for t in tr]
check(len(tr) == 20 and steps == sorted(steps) and steps[-1] == 2000,
      "20 training events up to step 2000 (%s)" % steps[-3:])
check(all(t["loss"] is not None and 0 < t["loss"] < 2 for t in tr), "training losses are finite")
check(tr and tr[-1]["loss"] < tr[0]["loss"], "the loss falls (%s -> %s)" % (tr and tr[0]["loss"], tr and tr[-1]["loss"]))
tg = stage(ev, "target")
samples = [e[2] for e in ev if e[1] == "samples"]
check([t["index"] for t in tg] == [0, 1, 2] and [t["target"] for t in tg] == [0, 1, 2],
      "a metrics event per target, in order")
check(len(samples) == 3 and all(len(s["samples"]) == 200 and len(s["samples"][0]) == 64 and s["stage"] == "target"
                                for s in samples), "a samples event per target: 200 rows of 64")
check([s["index"] for s in samples] == [0, 1, 2] and [s["target"] for s in samples] == [0, 1, 2],
      "the samples events name their target")
means = []
for t in tg:
    m = t["metrics"]
    r = m["reward"]
    a = t["target"]
    check(m["n"] == 200 and abs(r["ideal"] - a / (1 + NU * NU)) < 1e-12, "ideal a / (1 + nu^2) at %s" % a)
    check(r["true_mean"] is not None and m["support"] is not None and m["knn"] is not None,
          "truth, manifold distance and kNN distances at %s" % a)
    # the reward model is near-exact (R^2 > 0.95), so it predicts the true reward of the samples
    check(abs(r["overopt"]) < 0.25, "predicted and true reward agree at %s (%s)" % (a, r["overopt"]))
    means.append(r["true_mean"])
    if a > 0:
        # ideal 0.8 and 1.6; measured 1.13 and 1.07 of it for this seed. A model that
        # ignored the condition would sit near 0, one that ignored nu at a: 1.25 of it.
        check(0.7 < r["ratio"] < 1.4, "reward at target %s near the ideal (ratio %.3f)" % (a, r["ratio"]))
check(len(means) == 3 and means[0] < means[1] < means[2] and means[2] - means[0] > 1.0,
      "the achieved reward follows the target (%s)" % means)
metrics = job["metrics"] if job else {}
check(metrics.get("reward_model", {}).get("rows") == fit.get("rows") and metrics.get("training", {}).get("step") == 2000
      and len(metrics.get("targets", [])) == 3 and metrics["targets"][2]["target"] == 2,
      "the job's metrics gather the fit, the training and the targets")
res = job["result"] if job else {}
model = res.get("model", "")
check(model.startswith("linear_subspace-reward-") and res.get("steps") == 2000, "the result names the model (%s)" % res)
st, _, m = d.json("GET", "/v1/models/" + model)
meta = m.get("metadata", {}) if st == 200 else {}
check(st == 200 and m["cond_dim"] == 2 and meta.get("condition") == "reward" and meta.get("dataset") == "linear_subspace"
      and meta.get("pseudo_label_noise") == "0.5" and meta.get("reward_model") == "ridge",
      "the model is conditional and records its reward, data and nu (%s)" % st)
check(abs(float(meta.get("cond_scale", 0)) - pl.get("std", -1)) < 1e-6,
      "its condition scale is the pseudo-labels' std")
st, _, s = d.json("POST", "/v1/samples", {"model": model, "n": 5, "target": 2, "seed": 1, "metrics": False})
check(st == 200 and len(s["samples"]) == 5 and s["target"] == 2, "the model samples at a target (%s)" % st)
st, _, s = d.json("POST", "/v1/samples", {"model": model, "n": 5})
check(st == 422 and s["error"]["field"] == "/target", "and without one is a 422 naming /target")

# ---- an uploaded CSV: x0, x1 on a ring of radius 2, y = x0 + noise on a third of the rows
rng = random.Random(5)
lines = ["x0,x1,y"]
for i in range(1200):
    th = rng.uniform(0, 2 * math.pi)
    x0, x1 = 2 * math.cos(th) + rng.gauss(0, 0.05), 2 * math.sin(th) + rng.gauss(0, 0.05)
    lines.append("%.6f,%.6f,%s" % (x0, x1, "%.6f" % (x0 + rng.gauss(0, 0.05)) if i % 3 == 0 else ""))
st, _, up = d.json("POST", "/v1/datasets?id=ring-up", ("\n".join(lines) + "\n").encode(),
                   {"Content-Type": "text/csv"})
check(st == 201 and up["labelled_rows"] == 400, "the CSV uploads with 400 labelled rows (%s)" % st)
job2, ev2 = run(d, {"dataset": "ring-up", "train": dict(SMALL, steps=1500, hidden=[64, 64]), "targets": [-1.5, 1.5],
                    "n_per_target": 200, "steps": 100, "seed": 4})
fit2 = stage(ev2, "reward_model")
rows = fit2[0]["rows"] if fit2 else {}
check(rows.get("heldout") == 120 and rows.get("unlabelled") == 1080 and 300 < rows.get("labelled", 0) < 400,
      "an upload holds out a tenth and trains on its own labelled rows (%s)" % rows)
tg2 = stage(ev2, "target")
check(len(tg2) == 2 and all(t["metrics"]["reward"]["true_mean"] is None and t["metrics"]["support"] is None
                            and t["metrics"]["knn"]["dist"] > 0 and t["metrics"]["knn"]["heldout_dist"] > 0
                            for t in tg2), "no truth for an upload: kNN distances to the data instead")
x0 = [sum(r[0] for r in e[2]["samples"]) / len(e[2]["samples"]) for e in ev2 if e[1] == "samples"]
# on the ring E[x0 | y~ = a] moves with a; both targets lie inside the data (|x0| <= 2)
check(len(x0) == 2 and x0[1] - x0[0] > 1.5, "the samples' x0 follows the target (%s)" % x0)
check(job2 is not None and job2["result"]["model"].startswith("ring-up-reward-"), "its model is named after the data")

# ---- refusals at submit --------------------------------------------------------------
st, _, _ = d.json("POST", "/v1/datasets?id=plain", b"x0,x1\n1,2\n3,4\n5,6\n", {"Content-Type": "text/csv"})
st2, _, _ = d.json("POST", "/v1/datasets?id=wide-labels", b"x0,x1,x2,y\n1,2,3,1\n4,5,6,2\n",
                   {"Content-Type": "text/csv"})
check(st == 201 and st2 == 201, "two more uploads")
BAD = [
    ({"dataset": "nope"}, None, 404, "dataset_not_found", "/params/dataset"),
    ({"dataset": "linear_subspace", "labels": "nope"}, None, 404, "dataset_not_found", "/params/labels"),
    ({"dataset": "linear_subspace", "labels": "ring"}, None, 404, "dataset_not_found", "/params/labels"),
    ({"dataset": "digits"}, None, 422, "impossible", "/params/labels"),
    ({"dataset": "two_moons"}, None, 422, "impossible", "/params/labels"),
    ({"dataset": "plain"}, None, 422, "impossible", "/params/labels"),
    ({"dataset": "ring-up", "labels": "wide-labels"}, None, 422, "impossible", "/params/labels"),
    ({"dataset": "linear_subspace"}, "gaussian", 422, "impossible", "/model"),
    ({"dataset": "linear_subspace"}, model, 422, "impossible", "/model"),
    ({"dataset": "linear_subspace"}, "missing-model", 404, "model_not_found", "/model"),
    ({"dataset": "ring", "train": {"schedule": "linear:0.0001:0.02:100"}}, None, 422, "impossible", "/params/steps"),
    ({"dataset": "ring", "train": {"schedule": "bogus"}}, None, 400, "bad_value", "/params/train/schedule"),
    ({"dataset": "ring", "guidance": {"mode": "cfg", "p_uncond": 0}}, None, 400, "bad_value", "/params/guidance/mode"),
    ({"dataset": "ring", "out_model": "gaussian"}, None, 409, None, "/params/out_model"),
    ({"dataset": "ring", "n_per_target": 5}, None, 400, "out_of_range", "/params/n_per_target"),
]
for params, parent, want, code, field in BAD:
    st, _, j = submit(d, params, parent)
    err = (j or {}).get("error", {})
    check(st == want and (code is None or err.get("code") == code) and err.get("field") == field and err.get("message"),
          "%s (model %s): %s %s %s, want %s %s %s" % (params, parent, st, err.get("code"), err.get("field"),
                                                      want, code, field))
st, _, j = submit(d, {"dataset": "ring", "targets": [1]}, "gaussian")
check(st == 202, "an unconditional parent of the data's dimension is accepted (%s %s)" % (st, j.get("error")))
if st == 202:
    d.json("POST", "/v1/jobs/%s/cancel" % j["id"])
    wait_state(d, j["id"], ["cancelled", "succeeded", "failed"], 60)

# ---- cancel during training: no model --------------------------------------------------
st, _, j = submit(d, {"dataset": "ring", "train": {"steps": 100000, "hidden": [64, 64]}, "out_model": "never"})
check(st == 202, "a long job starts")
t_end = time.time() + 60
while time.time() < t_end and st == 202:
    _, _, cur = d.json("GET", "/v1/jobs/" + j["id"])
    if cur["progress"]["done"] > 0:
        break
    time.sleep(0.05)
d.json("POST", "/v1/jobs/%s/cancel" % j["id"])
jc = wait_state(d, j["id"], ["cancelled", "succeeded", "failed"], 60)
check(jc is not None and jc["state"] == "cancelled", "cancelled while training")
st, _, _ = d.json("GET", "/v1/models/never")
check(st == 404, "a job cancelled before its model is finished makes none")

# ---- kill -9 while training: the restarted job finishes and repeats no event ----------
st, _, j = submit(d, {"dataset": "ring", "n_unlabelled": 2000, "train": {"steps": 40000, "batch": 64, "hidden": [64, 64],
                                                                          "ema": 0.99}, "targets": [0.5, 1],
                      "n_per_target": 100, "steps": 50, "seed": 8})
t_end, seen = time.time() + 120, 0
while time.time() < t_end and st == 202:
    _, _, cur = d.json("GET", "/v1/jobs/" + j["id"])
    # queued at first while the cancelled job above winds down (slow under sanitizers)
    if cur["state"] not in ("queued", "running") or cur["progress"]["done"] >= 2000:
        break
    time.sleep(0.02)
check(cur["state"] == "running", "killed while training (%s at step %s)" % (cur["state"], cur["progress"]["done"]))
d.kill9()
d = Daemon()
jr = wait_state(d, j["id"], ["succeeded", "failed"], 300)
check(jr is not None and jr["state"] == "succeeded" and jr["attempts"] == 2, "the job succeeds at attempt 2")
ev3 = read_events(d, j["id"], limit=60)
check(len(stage(ev3, "reward_model")) == 1, "its reward-model event appears once")
steps3 = [t["step"] for t in stage(ev3, "training")]
check(steps3 == list(range(2000, 40001, 2000)), "each training event once, in order (%s)" % steps3)
check([t["index"] for t in stage(ev3, "target")] == [0, 1], "each target once")
check(d.term() == 0, "the daemon drains")

status = harness.summary("api-reward-job", TMP)
if status == 0:
    shutil.rmtree(TMP, ignore_errors=True)
sys.exit(status)
