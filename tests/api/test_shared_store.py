#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
API suite, replicas sharing one --model-store (issue 17): two manifoldd
processes, each with a SQLite job store of its own, on one model store
directory (B's is a symlink to A's, as a ReadWriteMany volume mounted in
two pods).

  1. a model uploaded through A is sampled through B at once (B loads it on
     the lookup miss) and is in B's list within a second (B's rescan);
  2. deleted through B: 404 through A, and gone from A's list within 1.5 s;
  3. a train job's model made through A is sampled through B;
  4. a dataset uploaded through A is found through B.

Standard library only; every request has a timeout and every wait loop is bounded.

usage: test_shared_store.py PATH/TO/manifoldd MODELS_DIR
"""
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, check, summary, wait_state  # noqa: E402


def ids(d):
    st, _, j = d.json("GET", "/v1/models")
    return {m["id"] for m in j["models"]} if st == 200 else set()


def within(limit, cond):
    """Seconds until cond() held (polled every 20 ms), or None after limit."""
    t0 = time.time()
    while time.time() - t0 < limit:
        if cond():
            return time.time() - t0
        time.sleep(0.02)
    return None


def main():
    daemon, models = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="mf_test_shared_")
    ta, tb = os.path.join(tmp, "a"), os.path.join(tmp, "b")
    os.makedirs(os.path.join(ta, "models"))
    os.makedirs(tb)
    os.symlink(os.path.join(ta, "models"), os.path.join(tb, "models"))
    a = b = None
    try:
        a, b = Daemon(daemon, models, ta), Daemon(daemon, models, tb)
        oct_ = {"Content-Type": "application/octet-stream"}
        _, _, weights = a.req("GET", "/v1/models/eight_gaussians/weights")
        sample = {"model": "up", "n": 8, "seed": 3, "sampler": "ddim", "steps": 10}

        # 1. upload through A, sample through B
        st, _, _ = a.json("POST", "/v1/models?id=up", weights, oct_)
        t0 = time.time()
        check(st == 201, "upload through A: 201 (%s)" % st)
        st, _, jb = b.json("POST", "/v1/samples", sample)
        dt = time.time() - t0
        _, _, ja = a.json("POST", "/v1/samples", sample)
        check(st == 200 and dt < 1.0 and jb["samples"] == ja["samples"],
              "sampled through B %.2f s after the upload through A, like A (%s)" % (dt, st))
        dt = within(1.0, lambda: "up" in ids(b))
        check(dt is not None, "in B's list within 1 s")
        st, _, _ = a.json("POST", "/v1/models?id=up2", weights, oct_)
        dt = within(1.0, lambda: "up2" in ids(b))
        check(st == 201 and dt is not None,
              "a model B was never asked for is in B's list within 1 s (%s)" % dt)

        # 2. delete through B: 404 through A, gone from A's list
        st, _, _ = b.req("DELETE", "/v1/models/up")
        t0 = time.time()
        check(st in (200, 204), "delete through B (%s)" % st)
        dt = within(1.5, lambda: a.req("GET", "/v1/models/up")[0] == 404 and "up" not in ids(a))
        check(dt is not None, "404 through A and gone from its list within 1.5 s (%s)" % dt)
        st, _, _ = a.json("POST", "/v1/samples", sample)
        check(st == 404, "sampling it through A: 404 (%s)" % st)

        # 3. a train job's model made through A, sampled through B
        st, _, j = a.json("POST", "/v1/jobs", {"type": "train", "params": {
            "dataset": "two_moons", "steps": 300, "hidden": [16], "out_model": "made"}})
        fin = wait_state(a, j["id"], {"succeeded", "failed", "cancelled"}, 120) if st in (200, 201, 202) else None
        check(fin is not None and fin["state"] == "succeeded", "train job through A succeeded (%s)" % st)
        st, _, jb = b.json("POST", "/v1/samples", dict(sample, model="made"))
        check(st == 200 and len(jb["samples"]) == 8, "its model sampled through B (%s)" % st)

        # 4. a dataset uploaded through A, found through B
        st, _, _ = a.json("POST", "/v1/datasets?id=pts", b"x0,x1\n1,2\n3,4\n5,6\n",
                          {"Content-Type": "text/csv"})
        st2, _, jd = b.json("GET", "/v1/datasets/pts")
        check(st == 201 and st2 == 200, "dataset uploaded through A found through B (%s, %s)" % (st, st2))
    finally:
        for d in (a, b):
            if d is not None and d.proc.poll() is None:
                d.term()
    rc = summary("test_shared_store", ta)
    if rc != 0:
        print("daemon B log:", open(os.path.join(tb, "daemon.log")).read()[-3000:])
    if os.environ.get("MF_KEEP_TMP") is None:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("kept", tmp)
    return rc


if __name__ == "__main__":
    sys.exit(main())
