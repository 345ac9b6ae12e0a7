#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
bench/reward_job.py - the daemon's finetune.reward job, timed by phase: starts
manifoldd (the binary given) on loopback, submits one job with the recipe of
../shared/bench/reward_torch/reward.py (linear_subspace, 16,384 unlabelled
rows, 1,000 labels of noise 0.1, ridge pseudo-labels of noise nu, 3 x 256 SiLU,
20,000 Adam steps of batch 256, DDPM on 200 strided steps, 2,000 samples per
target), and reads the job's event stream.  Each phase is the wall time
between the events that bound it, as the client sees them:

    fit       "running" status -> the reward_model metrics event (rows, ridge
              fit, pseudo-labels, the condition's normalisation)
    train     -> the last "training" metrics event (the optimiser steps)
    targets   -> each target's metrics event (2,000 samples of 200 DDPM
              steps, then their statistics: kNN entropy and distances)
    publish   -> the final status (the model into the registry)

One JSON line on stdout.  Python standard library only.

    python3 bench/reward_job.py DAEMON MODELS_DIR [--steps N] [--nu V] [--label TEXT]
"""
import argparse
import json
import shutil
import tempfile

from bench_daemon import FINAL, job_events, start

TARGETS = [0.5, 1.0, 2.0, 4.0]


def params(steps, nu):
    return {"dataset": "linear_subspace", "n_unlabelled": 16384, "n_labelled": 1000, "label_noise": 0.1,
            "pseudo_label_noise": nu, "seed": 7,
            "train": {"steps": steps, "batch": 256, "hidden": [256, 256, 256], "emb": 64, "lr": 1e-3},
            "targets": TARGETS, "n_per_target": 2000, "sampler": "ddpm", "steps": 200}


def timed_job(port, p, timeout):
    t = {}
    targets, fit, final = [], None, None
    for now, name, data in job_events(port, "finetune.reward", p, timeout):
        if name == "status" and data["state"] == "running":
            t["run"] = now
        elif name == "metrics" and data.get("stage") == "reward_model":
            t["fit"], fit = now, data
        elif name == "metrics" and data.get("stage") == "training":
            t["train"] = now
        elif name == "metrics" and data.get("stage") == "target":
            m = data["metrics"]
            targets.append({"a": data["target"], "at": now, "ratio": m["reward"]["ratio"],
                            "true_mean": m["reward"]["true_mean"], "off_mean": m["support"]["off_mean"],
                            "entropy_knn": m["entropy_knn"]["value"]})
        elif name == "status" and data["state"] in FINAL:
            t["end"], final = now, data
    if final is None or final["state"] != "succeeded" or len(t) < 4:
        raise SystemExit("finetune.reward job did not succeed: %s" % final)
    prev = t["train"]
    for x in targets:
        x["s"] = round(x.pop("at") - prev, 3)
        prev += x["s"]
    return {"fit_s": round(t["fit"] - t["run"], 3), "train_s": round(t["train"] - t["fit"], 3),
            "targets_s": round(prev - t["train"], 3), "publish_s": round(t["end"] - prev, 3),
            "total_s": round(t["end"] - t["run"], 3), "targets": targets,
            "val_r2": fit["reward_model"]["val_r2"], "model": final["job_object"]["result"]["model"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("daemon")
    ap.add_argument("models")
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--nu", type=float, default=0.3)
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="mf-reward-bench-")
    proc, port = start(a.daemon, a.models, tmp)
    try:
        p = params(a.steps, a.nu)
        rec = timed_job(port, p, timeout=3600)
        rec.update({"impl": "manifoldd", "label": a.label, "steps": a.steps, "nu": a.nu,
                    "steps_per_s": round(a.steps / rec["train_s"], 1), "params": p})
        print(json.dumps(rec), flush=True)
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
