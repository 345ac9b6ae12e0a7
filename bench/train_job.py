#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
bench/train_job.py - the daemon's `train` job, timed: starts manifoldd (the
binary given) on loopback with its defaults, submits one train job per
workload, and measures optimiser steps per second from the job's event stream
(the wall time from its "running" status to its final status, seen by the
client).  One JSON line per workload on stdout.  Python standard library only.

    python3 bench/train_job.py DAEMON MODELS_DIR [--steps N] [--label TEXT]

Workloads: the shapes of W3 (two_moons, hidden 256x3, batch 512) and W5
(digits, hidden 512x3, batch 256) of bench/README.md, as train jobs.
"""
import argparse
import json
import shutil
import tempfile

from bench_daemon import FINAL, job_events, start

WORKLOADS = [
    ("W3 as a train job", {"dataset": "two_moons", "hidden": [256, 256, 256], "batch": 512}),
    ("W5 as a train job", {"dataset": "digits", "hidden": [512, 512, 512], "batch": 256}),
]


def timed_job(port, params, timeout):
    t_run = t_end = final = None
    for now, name, data in job_events(port, "train", params, timeout):
        if name == "status" and data["state"] == "running":
            t_run = now
        elif name == "status" and data["state"] in FINAL:
            t_end, final = now, data
    if final is None or final["state"] != "succeeded" or t_run is None:
        raise SystemExit("train job did not succeed: %s" % final)
    return t_end - t_run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("daemon")
    ap.add_argument("models")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="mf-train-bench-")
    proc, port = start(a.daemon, a.models, tmp)
    try:
        for name, p in WORKLOADS:
            params = dict(p, steps=a.steps, warmup=0, seed=1)
            secs = timed_job(port, params, timeout=600)
            print(json.dumps({"workload": name, "label": a.label, "daemon": a.daemon,
                              "steps": a.steps, "seconds": round(secs, 3),
                              "steps_per_s": round(a.steps / secs, 1), "params": params}),
                  flush=True)
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
