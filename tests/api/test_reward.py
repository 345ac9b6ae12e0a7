#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
Reward-conditioned models over HTTP (issue 12): sampling a conditional model at
a target, with its raw condition, with reward-gradient guidance, in batches that
mix targets, and as a sample job.  Standard library only; the daemon is started
on an ephemeral loopback port with a fresh store.

The model under test is built here from the shipped gaussian model: its first
layer gains two condition inputs with zero weights (the indicator convention of
core/guidance.h: condition [c, 1]), so at every target it computes exactly the
gaussian model's noise estimate and its conditioned samples must equal the
gaussian model's samples of the same seed; it carries a ridge reward model
f(x) = x_0, so reward guidance must move the samples' x_0 towards the target.

usage: test_reward.py PATH/TO/manifoldd MODELS_DIR
"""
import json
import os
import shutil
import struct
import sys
import tempfile
import threading

import harness
from harness import check

DAEMON, MODELS = sys.argv[1], sys.argv[2]
TMP = tempfile.mkdtemp(prefix="mf-reward-")


def conditional_copy(src):
    """The model of src with two zero-weight condition inputs and a ridge reward f(x) = x_0."""
    meta, tensors = harness.read_safetensors(src)
    dtype, (out, inp), blob = tensors["layers.0.weight"]
    rows = [blob[i * 4 * inp:(i + 1) * 4 * inp] + b"\0" * 8 for i in range(out)]
    tensors["layers.0.weight"] = (dtype, [out, inp + 2], b"".join(rows))
    d = int(meta["data_dim"])
    tensors["reward.weight"] = ("F32", [d], struct.pack("<%df" % d, *([1.0] + [0.0] * (d - 1))))
    tensors["reward.bias"] = ("F32", [1], struct.pack("<f", 0.0))
    meta = dict(meta, cond_dim="2", condition="reward", cond_offset="0", cond_scale="1",
                cond_null="indicator", reward_model="ridge", guidance="cond", guidance_w="1",
                parent="gaussian", provenance="tests/api/test_reward.py")
    return harness.write_safetensors(meta, tensors)


d = harness.Daemon(DAEMON, MODELS, TMP)
body = conditional_copy(os.path.join(MODELS, "gaussian.safetensors"))
st, _, j = d.json("POST", "/v1/models?id=g-cond", body, {"Content-Type": "application/octet-stream"})
check(st == 201 and j["cond_dim"] == 2, "a reward-conditioned model uploads (%s %s)" % (st, j.get("error")))

# float: the comparisons with the parent below are exact (conditional sampling runs in f32)
base = {"n": 64, "sampler": "ddim", "steps": 20, "seed": 5, "metrics": False, "precision": "f32"}
st, _, plain = d.json("POST", "/v1/samples", dict(base, model="gaussian"))
check(st == 200, "the parent samples")


def same(a_, b_):
    """Equal to float rounding: the conditional network's first layer sums two more
    (zero) products, and its time projection is not hoisted out of the steps."""
    return len(a_) == len(b_) and max(abs(x - y) for ra, rb in zip(a_, b_) for x, y in zip(ra, rb)) < 1e-4


# at a target: the parent's samples (zero condition weights), the settings echoed
for a in (-1.0, 0.0, 2.5):
    st, _, r = d.json("POST", "/v1/samples", dict(base, model="g-cond", target=a))
    check(st == 200 and same(r["samples"], plain["samples"]), "target %g: the parent's samples" % a)
    check(r.get("target") == a and r.get("guidance") == {"mode": "cond", "w": 1.0},
          "target %g: target and guidance echoed (%s)" % (a, {k: r.get(k) for k in ("target", "guidance")}))
st, _, r = d.json("POST", "/v1/samples", dict(base, model="g-cond", condition=[0.5, 1]))
check(st == 200 and same(r["samples"], plain["samples"]) and r["condition"] == [0.5, 1.0],
      "raw condition: the parent's samples")

# what the model does not take, each a 422 naming the field
for extra, field in (({}, "/target"), ({"condition": [1]}, "/condition"),
                     ({"target": 1, "guidance": {"mode": "cfg"}}, "/guidance/mode"),
                     ({"condition": [1, 1], "guidance": {"mode": "reward"}}, "/target")):
    st, _, e = d.json("POST", "/v1/samples", dict(base, model="g-cond", **extra))
    check(st == 422 and e["error"]["field"] == field and e["error"]["code"] == "impossible",
          "%s: 422 on %s (%s %s)" % (json.dumps(extra), field, st, e.get("error", {}).get("field")))

# reward-gradient guidance moves x_0 (the reward) towards the target; w = 0 changes nothing
def mean_x0(r_):
    return sum(s[0] for s in r_["samples"]) / len(r_["samples"])


st, _, r0 = d.json("POST", "/v1/samples", dict(base, model="g-cond", target=3, guidance={"mode": "reward", "w": 0}))
check(st == 200 and same(r0["samples"], plain["samples"]), "reward guidance with w = 0: the unguided samples")
st, _, r4 = d.json("POST", "/v1/samples", dict(base, model="g-cond", target=3, guidance={"mode": "reward", "w": 4}))
m_plain, m_guided = mean_x0(plain), mean_x0(r4) if st == 200 else float("nan")
print("mean x_0: unguided %.3f, reward guidance to 3 with w = 4: %.3f" % (m_plain, m_guided))
check(st == 200 and m_guided > m_plain + 0.5, "reward guidance moves the reward towards the target")

# concurrent calls at different targets share batched runs, each equal to its call alone
_, _, before = d.req("GET", "/metrics")
answers = {}
lock = threading.Lock()


def one(i):
    st_, _, r_ = d.json("POST", "/v1/samples", dict(base, model="g-cond", target=float(i), seed=100 + i), timeout=120)
    with lock:
        answers[i] = (st_, r_)


threads = [threading.Thread(target=one, args=(i,)) for i in range(24)]
for t in threads:
    t.start()
for t in threads:
    t.join(120)
ok = [i for i, (st_, r_) in answers.items() if st_ == 200 and len(r_["samples"]) == 64]
check(len(ok) == 24, "24 concurrent calls at 24 targets answered (%d)" % len(ok))
alone = {}
for i in (0, 7, 23):
    _, _, alone[i] = d.json("POST", "/v1/samples", dict(base, model="gaussian", seed=100 + i))
diff = max(abs(x - y) for i in alone for ra, rb in zip(answers[i][1]["samples"], alone[i]["samples"])
           for x, y in zip(ra, rb))
check(diff < 1e-3, "batched at mixed targets equals alone to float rounding (max |diff| %.2g)" % diff)
_, _, after = d.req("GET", "/metrics")


runs = harness.metric(after, "manifold_batches_total") - harness.metric(before, "manifold_batches_total")
check(runs < 24, "calls at different targets batched together (%d runs for 24 calls)" % runs)

# a sample job at a target
st, _, jb = d.json("POST", "/v1/jobs", {"type": "sample", "model": "g-cond",
                                        "params": dict(base, target=1.5)})
check(st == 202 and jb["params"]["target"] == 1.5, "a sample job with a target is accepted")
jr = harness.wait_state(d, jb["id"], ["succeeded", "failed"], 60)
st, _, res = d.json("GET", "/v1/jobs/%s/result" % jb["id"])
check(jr is not None and jr["state"] == "succeeded" and same(res["samples"], plain["samples"])
      and res["guidance"]["mode"] == "cond", "the sample job's samples at the target")

check(d.term() == 0, "daemon drained")
status = harness.summary("reward", TMP)
shutil.rmtree(TMP, ignore_errors=True)
sys.exit(status)
