#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
API suite, budgets (issue 14): every job type is refused at submit when its
parameters make it too big, 422 naming the field as a JSON pointer and the
budget in the message, and no job is created; a train job's schedule is
built at submit; the 313-byte model file whose header declares eight layers
of 8192 is refused without the daemon allocating them (its peak RSS, VmHWM,
stays small); a consistent model file over --max-model-params is refused.
Standard library only; every request has a timeout; no job runs long.

usage: test_budgets.py PATH/TO/manifoldd MODELS_DIR
"""
import os
import shutil
import sys
import tempfile

import harness
from harness import check, wait_state

DAEMON, MODELS = sys.argv[1], sys.argv[2]
TMP = tempfile.mkdtemp(prefix="mf-budgets-")
MEMORY, FLOPS = 8 << 20, 1e13  # small budgets, so that modest jobs go over them
H8 = [8192] * 8


def refused(d, body, field, *parts, status=422, code="impossible"):
    """POST /v1/jobs answers status with code at field, the message naming it and holding parts."""
    st, _, e = d.json("POST", "/v1/jobs", body)
    err = (e or {}).get("error", {})
    msg = err.get("message", "")
    ok = st == status and err.get("code") == code and err.get("field") == field and field in msg
    check(ok and all(p in msg for p in parts),
          "%s refused at %s with %s (%s %s)" % (body.get("type"), field, parts, st, err))


def vm_hwm_mib(pid):
    """The peak resident set of a process (VmHWM), MiB."""
    return harness.proc_status_mib(pid, "VmHWM")


def amplifier():
    """The 313-byte-style model file: metadata declaring 8 x 8192 hidden layers, no tensors."""
    meta = {"format": "manifold.mlp-ddpm.v1", "data_dim": "2", "cond_dim": "0",
            "hidden": ",".join(str(h) for h in H8), "activation": "silu",
            "time_embedding": "sinusoidal:64", "prediction": "eps",
            "schedule": "linear:0.0001:0.02:1000", "data_offset": "0", "data_scale": "1"}
    return harness.write_safetensors(meta, {})


d = harness.Daemon(DAEMON, MODELS, TMP, "--max-running", "1", "--max-job-memory", str(MEMORY),
                   "--max-job-flops", "%g" % FLOPS)

# ---- train: the oversized job of issue 14, then memory, compute and the schedule -----
refused(d, {"type": "train", "params": {"dataset": "two_moons", "hidden": H8}}, "/params/hidden",
        "8 x 8192", "470M parameters", "the budget is 16M")
refused(d, {"type": "train", "params": {"dataset": "two_moons", "batch": 4096}}, "/params/batch",
        "memory estimate", "over the budget of 8 MiB")
refused(d, {"type": "train", "params": {"dataset": "two_moons", "steps": 200000, "batch": 256}},
        "/params/steps", "compute estimate", "over the budget of 10 TFLOP")
refused(d, {"type": "train", "params": {"dataset": "two_moons", "schedule": "linear:0.5:0.1:1000"}},
        "/params/schedule", "linear schedule needs 0 < beta_min <= beta_max < 1")
refused(d, {"type": "train", "params": {"dataset": "two_moons", "schedule": "bogus"}},
        "/params/schedule", "unknown schedule", status=400, code="bad_value")
# an upload's columns are known when the job is prepared: checked there, still at submit
st, _, _ = d.req("POST", "/v1/datasets?id=cols8", ",".join("x%d" % i for i in range(8)) + "\n" +
                 "\n".join(",".join(str(i + j) for j in range(8)) for i in range(20)) + "\n",
                 {"Content-Type": "text/csv"})
check(st == 201, "a dataset of 8 columns uploaded (%s)" % st)
refused(d, {"type": "train", "params": {"dataset": "cols8", "batch": 4096}}, "/params/batch",
        "memory estimate")

# ---- every other job type, each by the field that makes it too big -------------------
refused(d, {"type": "sample", "model": "digits", "params": {"n": 10000, "sampler": "ddim", "steps": 20}},
        "/params/n", "the samples and their metrics")
refused(d, {"type": "finetune.smeme", "model": "eight_gaussians",
            "params": {"trajectories": 1024, "steps": 1000}},
        "/params/trajectories", "the trajectories' states and adjoints")
refused(d, {"type": "finetune.smeme", "model": "eight_gaussians",
            "params": {"rounds": 100000, "K": 16, "batch": 64}},
        "/params/rounds", "compute estimate")
refused(d, {"type": "finetune.reward", "params": {"dataset": "ring", "n_unlabelled": 1000000}},
        "/params/n_unlabelled", "the training rows")
refused(d, {"type": "finetune.reward", "params": {"dataset": "ring", "train": {"schedule": "linear:0.5:0.1:1000"}}},
        "/params/train/schedule", "beta_min")
refused(d, {"type": "finetune.dxmi", "model": "eight_gaussians", "params": {"batch": 4096, "steps": 64}},
        "/params/batch", "a batch's rollout")
refused(d, {"type": "finetune.dxmi", "model": "eight_gaussians",
            "params": {"energy_hidden": [1024] * 4, "value_hidden": [1024] * 4, "value_emb": 256,
                       "batch": 64}},
        "/params/energy_hidden", "memory estimate")

# ...and a modest job is still accepted: the only job there is
st, _, ok = d.json("POST", "/v1/jobs", {"type": "train", "params": {"dataset": "two_moons", "steps": 3,
                                                                     "hidden": [16], "batch": 16}})
check(st == 202, "a modest train job is accepted (%s %s)" % (st, ok))
st, _, lst = d.json("GET", "/v1/jobs")
check(st == 200 and [j["id"] for j in lst["jobs"]] == [ok.get("id")],
      "no refused job was created (%s)" % [j["id"] for j in lst.get("jobs", [])])
check(wait_state(d, ok["id"], ["succeeded"], 60) is not None, "it runs")

# ---- the 313-byte amplifier: refused, and nothing of its 470M parameters allocated --------
amp = amplifier()
check(len(amp) < 400, "the amplifier is %d bytes" % len(amp))
st, _, e = d.json("POST", "/v1/models?id=amp", amp, {"Content-Type": "application/octet-stream"})
err = (e or {}).get("error", {})
check(400 <= st < 500 and err.get("code") == "invalid_model" and err.get("field") == "__metadata__/hidden"
      and "over the limit of 16000000" in err.get("message", ""),
      "the amplifier is refused with a 4xx naming its hidden key (%s %s)" % (st, err))
hwm = vm_hwm_mib(d.proc.pid)
check(hwm is not None and hwm < 400, "the daemon's peak RSS stays under 400 MiB (%s MiB)" % hwm)
check(d.json("GET", "/v1/models/amp")[0] == 404, "no model amp")
check(d.term() == 0, "drained")

# ---- a consistent file over --max-model-params: digits (624,192) under a 600,000 limit ----
d = harness.Daemon(DAEMON, MODELS, TMP, "--max-model-params", "600000")
check(d.json("GET", "/v1/models/digits")[0] == 404 and d.json("GET", "/v1/models/two_moons")[0] == 200,
      "a shipped model over the limit is skipped, the others load")
st, _, e = d.json("POST", "/v1/models?id=big", open(os.path.join(MODELS, "digits.safetensors"), "rb").read(),
                  {"Content-Type": "application/octet-stream"})
err = (e or {}).get("error", {})
check(st == 422 and err.get("field") == "__metadata__/hidden" and "624192" in err.get("message", "")
      and "600000" in err.get("message", ""), "digits' file refused over the limit (%s %s)" % (st, err))
refused(d, {"type": "train", "params": {"dataset": "digits", "hidden": [512, 512, 512]}}, "/params/hidden",
        "624k parameters; the budget is 600k")
check(d.term() == 0, "drained")

status = harness.summary("budgets", TMP)
shutil.rmtree(TMP, ignore_errors=True)
sys.exit(status)
