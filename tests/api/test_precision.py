#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
API suite, the precision of sampling (issue 19): POST /v1/samples and sample jobs take
"precision": "f32" | "bf16"; the answer names what ran.  On the shipped eight_gaussians
model with the same seed, bf16 samples are close to f32's but not the same numbers (they
ran in bf16); the default is the daemon's --precision (bf16 unless set: the quality
gate holds for every shipped model, tests/core/test_bf16_net.c; f32 with --precision
f32); a bad value is 400 at /precision; on a CPU without bf16 instructions (MF_NO_BF16
makes this one act so) a bf16 request runs in f32 and the answer says bf16 was asked; a
bad --precision stops the daemon with exit 2 before it serves.  (Where bf16 cannot run, the answer says f32 with
precision_asked: tests/api/test_potential.py on a potential model.)  The quality of bf16
samples is tests/core/test_bf16_net.c's.

usage: test_precision.py PATH/TO/manifoldd MODELS_DIR
"""
import os
import shutil
import subprocess
import sys
import tempfile

import harness
from harness import check, wait_state

DAEMON, MODELS = sys.argv[1], sys.argv[2]
TMP = tempfile.mkdtemp(prefix="mf-precision-")
BF16 = "avx512_bf16" in open("/proc/cpuinfo").read()
REQ = {"model": "eight_gaussians", "n": 256, "seed": 5, "sampler": "ddim", "steps": 20,
       "metrics": False}

d = None
os.mkdir(os.path.join(TMP, "a"))
os.mkdir(os.path.join(TMP, "b"))
os.mkdir(os.path.join(TMP, "c"))
try:
    d = harness.Daemon(DAEMON, MODELS, os.path.join(TMP, "a"))
    want = "bf16" if BF16 else "f32"
    st, _, b16 = d.json("POST", "/v1/samples", REQ)
    check(st == 200 and b16.get("precision") == want,
          "the default is bf16 where it runs: %s %s" % (st, b16.get("precision")))
    st, _, f32 = d.json("POST", "/v1/samples", dict(REQ, precision="f32"))
    check(st == 200 and f32.get("precision") == "f32" and "precision_asked" not in f32,
          "f32 asked, f32 ran: %s %s" % (st, f32.get("precision")))
    if BF16:
        diffs = [abs(a - b) for ra, rb in zip(f32["samples"], b16["samples"]) for a, b in zip(ra, rb)]
        check(0 < max(diffs) < 0.2 and sum(diffs) / len(diffs) < 0.02,
              "bf16 samples near f32's, not equal: max %.4f mean %.5f" %
              (max(diffs), sum(diffs) / len(diffs)))
    else:
        check(b16.get("precision_asked") == "bf16", "no bf16 here: the answer says so")
    st, _, e = d.json("POST", "/v1/samples", dict(REQ, precision="fp8"))
    check(st == 400 and e["error"]["field"] == "/precision", "precision fp8: 400 at /precision")
    st, _, j = d.json("POST", "/v1/jobs", {"type": "sample", "model": "eight_gaussians",
                                           "params": {"n": 64, "seed": 2, "precision": "bf16",
                                                      "metrics": False}})
    done = wait_state(d, j.get("id", ""), {"succeeded", "failed"}, 60)
    check(done is not None and (done.get("result") or {}).get("precision") == want,
          "a sample job in bf16: %s" % (done or {}).get("result", {}).get("precision"))
    check(d.term() == 0, "SIGTERM, clean exit")
    d = harness.Daemon(DAEMON, MODELS, os.path.join(TMP, "b"), "--precision", "f32")
    st, _, r = d.json("POST", "/v1/samples", REQ)
    check(st == 200 and r.get("precision") == "f32" and r["samples"] == f32["samples"],
          "--precision f32 makes f32 the default, with the f32 samples: %s" % r.get("precision"))
    st, _, r = d.json("POST", "/v1/samples", dict(REQ, precision="bf16"))
    check(st == 200 and r.get("precision") == want and r["samples"] == b16["samples"],
          "a request's own bf16 wins over it, and gives the bf16 samples")
    check(d.term() == 0, "SIGTERM, clean exit")
    # a CPU without bf16 instructions (MF_NO_BF16 makes this one act so): bf16 asked, f32 ran
    os.environ["MF_NO_BF16"] = "1"
    try:
        d = harness.Daemon(DAEMON, MODELS, os.path.join(TMP, "c"))
    finally:
        del os.environ["MF_NO_BF16"]
    st, _, r = d.json("POST", "/v1/samples", dict(REQ, precision="bf16"))
    check(st == 200 and r.get("precision") == "f32" and r.get("precision_asked") == "bf16" and
          r["samples"] == f32["samples"],
          "no bf16 on the CPU: f32 ran, the answer says bf16 was asked, f32's samples: %s %s" %
          (r.get("precision"), r.get("precision_asked")))
    check(d.term() == 0, "SIGTERM, clean exit")
    d = None
    p = subprocess.run([DAEMON, "--models", MODELS, "--precision", "fp8", "--listen",
                        "127.0.0.1:0"], capture_output=True, text=True, timeout=30)
    check(p.returncode == 2 and "--precision" in p.stderr,
          "a bad --precision: exit 2 naming it (%s)" % p.returncode)
    sys.exit(harness.summary("api-precision", TMP))
finally:
    if d is not None:
        d.kill9()
    shutil.rmtree(TMP, ignore_errors=True)
