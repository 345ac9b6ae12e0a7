#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
Client suite: drives the `manifold` command-line client as a script would
(subprocess, exit status, stdout, stderr) against the real manifoldd on an
ephemeral loopback port, and compares what it prints with the same requests
sent directly over HTTP.  A cutting proxy drops and stalls event streams and
downloads; a fake server sends malformed bodies.  Standard library only;
every run has a timeout and every wait loop is bounded.

usage: test_client.py PATH/TO/manifold PATH/TO/manifoldd MODELS_DIR
"""
import http.server
import json
import math
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import dxmi_model
import harness
from harness import check, read_events

CLIENT, DAEMON, MODELS = sys.argv[1], sys.argv[2], sys.argv[3]
TMP = tempfile.mkdtemp(prefix="mf-client-")
ID_RE = r"[a-z0-9][a-z0-9._-]{0,63}"
STDERRS = []  # every run's stderr, checked for sanitizer reports at the end


def run(*args, url=None, timeout=60, env=None):
    """Runs the client; returns (exit status, stdout, stderr); status None on a timeout."""
    cmd = [CLIENT] + (["--url", url] if url else []) + list(args)
    e = dict(os.environ)
    e.pop("MANIFOLD_URL", None)
    e.update(env or {})
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout, env=e)
    except subprocess.TimeoutExpired:
        return None, "", "timeout after %s s: %s" % (timeout, cmd)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    STDERRS.append(err)
    return p.returncode, out, err


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def describe(text):
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


def target_table(lines):
    """steer's target table: (its header, {target: cells}) from the header row on."""
    at = [i for i, ln in enumerate(lines) if ln.split()[:2] == ["target", "achieved"]]
    if not at:
        return [], {}
    head = lines[at[0]].split()
    rows = {}
    for ln in lines[at[0] + 1:]:
        cells = ln.split()
        if len(cells) != len(head):
            break
        rows[float(cells[0])] = cells
    return head, rows


def achieved(cell):
    """The mean of an achieved cell "mean±std", or None for "-"."""
    return None if cell == "-" else float(cell.split("\u00b1")[0])


d = harness.Daemon(DAEMON, MODELS, TMP, "--max-running", "1")


def m(*args, **kw):
    return run(*args, url=d.url, **kw)


# ---- help and usage ----------------------------------------------------------------------
rc, out, _ = run("--help")
check(rc == 0 and "commands:" in out and all("  %d  " % k in out for k in range(6)),
      "--help lists the commands and exit statuses 0..5")
rc, out, _ = run("help")
check(rc == 0 and "watch JOB" in out and "dataset upload FILE" in out and "steer MODEL_OR_DATASET" in out, "help")
rc, out, _ = run("sample", "--help")
check(rc == 0 and all(f in out for f in ["--sampler", "--format", "--seed", "--target", "--condition", "--guidance"]),
      "sample --help")
rc2, out2, _ = run("help", "--help")
check(rc2 == 0 and "watch JOB" in out2, "help --help is the top help (%s)" % rc2)
rc, out, _ = run("help", "watch")
check(rc == 0 and "--json" in out and "Last-Event-ID" in out, "help watch")
rc, out, _ = run("--version")
check(rc == 0 and out.startswith("manifold "), "--version")
for args in [[], ["--bogus"], ["frobnicate"], ["--timeout", "abc", "models"], ["--timeout", "0", "models"],
             ["--url"], ["models", "--bogus"], ["models", "extra"], ["model"], ["model", "a", "b"],
             ["model", "Bad/Id"], ["model", "../etc"], ["sample"], ["sample", "two_moons", "-n", "abc"],
             ["sample", "two_moons", "-n", "0"], ["sample", "two_moons", "--format", "xml"],
             ["sample", "two_moons", "--sampler", "euler"], ["sample", "two_moons", "--seed", "-1"],
             ["sample", "two_moons", "--steps"], ["sample", "two_moons", "--target", "x"],
             ["sample", "two_moons", "--condition", "1,,2"], ["sample", "two_moons", "--condition", "1,a"],
             ["sample", "two_moons", "--condition", ",".join(["1"] * 17)], ["sample", "two_moons", "--w", "2"],
             ["sample", "two_moons", "--guidance", "strong"], ["weights", "eight_gaussians"], ["upload", "x"],
             ["submit"], ["submit", "sample", "two_moons", "--param", "noequals"],
             ["submit", "sample", "two_moons", "--param", "=5"], ["submit", "sample", "two_moons", "--param"],
             ["submit", "sample", "two_moons", "--params", "[1]"], ["submit", "sample", "two_moons", "--params", "{bad"],
             ["watch"], ["watch", "JOB!"], ["jobs", "--limit", "0"], ["jobs", "--model", "A"], ["cancel"],
             ["result", "j", "--format", "png"], ["help", "nope"], ["delete"],
             ["steer"], ["steer", "linear_subspace"], ["steer", "linear_subspace", "--target"],
             ["steer", "linear_subspace", "--target", "x"], ["steer", "Bad/Id", "--target", "1"],
             ["steer", "ring", "--target", "1", "--reward", "svm"], ["steer", "ring", "--target", "1", "--guidance", "x"],
             ["steer", "ring", "--target", "1", "--sampler", "euler"], ["steer", "ring", "--target", "1", "-n", "0"],
             ["steer", "ring", "--target", "1", "--labels", "Bad/Id"], ["steer", "ring", "--target", "1", "--nu", "abc"],
             ["steer", "ring", "--target", "1", "--param", "train=5", "--train-steps", "10"],
             ["steer", "ring", "--target", "1", "--dataset", "ring"]]:
    rc, out, err = m(*args)
    check(rc == 2 and out == "" and err.startswith("manifold: ") and not re.search(r"^error", err, re.M),
          "usage error -> 2, said on a line starting 'manifold: ': %s (got %s %r)" % (args, rc, err[-200:]))

# ---- one error prefix: every program's error line starts with its name ----------------------
# (manifold-train's: tests/tools/test_manifold_train.sh)
MISSING = os.path.join(TMP, "no-such-file.csv")
for args, want_rc, why in [(["models", "--bogus"], 2, "unknown option '--bogus'"),
                           (["--bogus"], 2, "unknown option '--bogus'"),
                           (["sample", "two_moons", "-n", "abc"], 2, "--n needs a number"),
                           (["--timeout", "abc", "models"], 2, "--timeout needs seconds"),
                           (["score", "g-dx", MISSING], 5, "no-such-file.csv"),
                           (["dataset", "upload", MISSING], 5, "no-such-file.csv"),
                           (["upload", "x", MISSING], 5, "no-such-file.csv")]:
    rc, out, err = m(*args)
    check(rc == want_rc and err.startswith("manifold: ") and why in err.splitlines()[0],
          "manifold %s -> %s with 'manifold: ...%s' (got %s %r)" % (args, want_rc, why, rc, err[-200:]))
    check(MISSING not in args or err.count("no-such-file") == 1, "manifold %s names the file once (%r)" % (args, err))


def daemon_start_error(*args):
    """Runs manifoldd expecting it to refuse to start; returns (status, stderr)."""
    p = subprocess.run([DAEMON, "--listen", "127.0.0.1:0", "--models", MODELS, "--model-store",
                        os.path.join(TMP, "refused-models"), "--store", "sqlite:" + os.path.join(TMP, "refused.db")]
                       + list(args), capture_output=True, timeout=30, text=True)
    return p.returncode, p.stderr


for args, why in [(["--bogus"], "unknown option '--bogus'"), (["--workers", "abc"], "--workers needs a number"),
                  (["--log-level", "loud"], "bad --log-level 'loud'"), (["--listen", "nowhere"], "HOST:PORT"),
                  (["--api-keys", MISSING], "no-such-file.csv")]:
    rc, err = daemon_start_error(*args)
    check(rc == 2 and err.startswith("manifoldd: ") and why in err.splitlines()[0] and not re.search(r"^error", err, re.M),
          "manifoldd %s -> 2 with 'manifoldd: ...%s' (got %s %r)" % (args, why, rc, err[-200:]))
    check(MISSING not in args or err.count("no-such-file") == 1, "manifoldd %s names the file once (%r)" % (args, err))

# ---- health, models ----------------------------------------------------------------------
rc, out, _ = m("health")
check(rc == 0 and out.strip() == "ready", "health 0 when ready")
shipped = sorted(f[:-12] for f in os.listdir(MODELS) if f.endswith(".safetensors"))
rc, out, err = m("models")
lines = out.splitlines()
check(rc == 0 and lines and lines[0].split() == ["id", "dataset", "data_dim", "params", "parent", "protected"],
      "models table header")
check(sorted(line.split()[0] for line in lines[1:]) == shipped, "models lists every shipped model %s" % shipped)
check(all(line.split()[-1] == "true" for line in lines[1:]), "shipped models protected")
rc, out, _ = m("models", "--json")
check(rc == 0 and sorted(x["id"] for x in json.loads(out)["models"]) == shipped, "models --json")
rc, out, _ = run("models", env={"MANIFOLD_URL": d.url})
check(rc == 0 and "eight_gaussians" in out, "MANIFOLD_URL")
rc, out, _ = run("--url", d.url + "/", "models", env={"MANIFOLD_URL": "http://127.0.0.1:1"})
check(rc == 0 and "eight_gaussians" in out, "--url wins over MANIFOLD_URL (trailing / fine)")

rc, out, _ = m("model", "eight_gaussians")
kv = describe(out)
check(rc == 0 and kv.get("id") == "eight_gaussians" and kv.get("data_dim") == "2" and kv.get("params") == "149250"
      and kv.get("hidden") == "256,256,256" and kv.get("protected") == "true"
      and kv.get("metadata.format") == "manifold.mlp-ddpm.v1", "model describe: %s" % list(kv.items())[:6])
rc, out, _ = m("model", "eight_gaussians", "--json")
_, _, direct = d.json("GET", "/v1/models/eight_gaussians")
check(rc == 0 and json.loads(out) == direct, "model --json = the server's body")

# ---- sample -------------------------------------------------------------------------------
flags = ["-n", "16", "--sampler", "ddim", "--steps", "20", "--seed", "5"]
st, _, direct = d.json("POST", "/v1/samples", {"model": "eight_gaussians", "n": 16, "sampler": "ddim",
                                              "steps": 20, "seed": 5})
rc, out, err = m("sample", "eight_gaussians", *flags, "--format", "csv")
rows = out.splitlines()
check(rc == 0 and rows[0] == "x0,x1" and len(rows) == 17, "sample csv: header and 16 rows")
csv_vals = [[float(x) for x in r.split(",")] for r in rows[1:]]
check(st == 200 and csv_vals == direct["samples"], "sample csv = the same request over HTTP (9 digits)")
check(err == "", "sample csv: stderr empty (%r)" % err[:200])
rc, out, _ = m("sample", "eight_gaussians", *flags, "--format", "json")
j = json.loads(out) if rc == 0 else {}
check(j.get("samples") == direct["samples"] and j.get("seed") == 5 and j.get("metrics") == direct["metrics"],
      "sample json = the server's body")
rc, out, err = m("sample", "eight_gaussians", *flags)
lines = out.splitlines()
tab = [[float(x) for x in line.split()] for line in lines[1:]]
check(rc == 0 and lines[0].split() == ["x0", "x1"] and len(tab) == 16
      and all(abs(a - b) <= 1e-5 * max(1, abs(b)) for ra, rb in zip(tab, direct["samples"]) for a, b in zip(ra, rb)),
      "sample table (default): 16 rows equal to 6 digits")
check("metrics:" in err and "entropy_knn.value" in err and "metrics" not in out and "seed 5" in err,
      "sample table: summary and metrics on stderr only")
rc, out, _ = m("sample", "eight_gaussians", *flags, "--no-metrics", "--format", "json")
check(rc == 0 and json.loads(out)["metrics"] is None, "--no-metrics")
rc, out, _ = m("sample", "two_moons", "-n", "3", "--sampler", "ddim", "--steps", "5", "--format", "json")
check(rc == 0 and isinstance(json.loads(out)["seed"], int), "seed drawn by the server when absent")
rc, out, _ = m("sample", "digits", "-n", "2", "--sampler", "ode", "--steps", "5", "--seed", "1", "--format", "csv")
rows = out.splitlines()
check(rc == 0 and rows[0] == ",".join("x%d" % i for i in range(64)) and len(rows) == 3, "digits csv: 64 columns")

# ---- score: a DxMI model's anomaly scores of a CSV's points ------------------------------
srng = random.Random(21)
train_pts = [[round(srng.gauss(0, 0.5), 4), round(srng.gauss(0, 0.5), 4)] for _ in range(300)]
dx_body = dxmi_model.dxmi_copy(os.path.join(MODELS, "gaussian.safetensors"), train_pts, var_T=5)[0]
st, _, _ = d.json("POST", "/v1/models?id=g-dx", dx_body, {"Content-Type": "application/octet-stream"})
check(st == 201, "a DxMI model uploads for score (%s)" % st)
pts = [[0.0, 0.0], [3.5, -3.5], [0.25, -0.5], [1.0, 1.0], [-2.0, 0.125]]
csv_path = os.path.join(TMP, "points.csv")
with open(csv_path, "w") as f:
    f.write("x0,x1,y\n" + "".join("%r,%r,\n" % (p[0], p[1]) for p in pts))  # a y column: ignored
st, _, direct = d.json("POST", "/v1/scores", {"model": "g-dx", "points": pts})
rc, out, err = m("score", "g-dx", csv_path)
lines = out.splitlines()
cells = [line.split() for line in lines[1:]]
check(rc == 0 and lines[0].split() == ["row", "energy", "percentile", "outlier"] and len(cells) == 5,
      "score: a table of 5 rows (%s %r)" % (rc, out[:200]))
check(st == 200 and all(c[0] == str(i + 1) and float(c[1]) == s["energy"] and float(c[2]) == s["percentile"]
                        and c[3] == ("yes" if s["outlier"] else "no")
                        for i, (c, s) in enumerate(zip(cells, direct["scores"]))),
      "score table = POST /v1/scores (row, energy, percentile, outlier)")
check(direct["outliers"] >= 1 and ("5 points, %d outliers" % direct["outliers"]) in err and out.count("yes") ==
      direct["outliers"], "score: the summary on stderr counts the outliers (%r)" % err)
rc, out, _ = m("score", "g-dx", csv_path, "--json")
check(rc == 0 and json.loads(out) == direct, "score --json = the server's body")
with open(csv_path, "w") as f:
    f.write("0,0\n1,2\n")  # no header
rc, out, _ = m("score", "g-dx", csv_path)
check(rc == 0 and len(out.splitlines()) == 3, "score: a CSV without a header")
rc, _, err = m("score", "gaussian", csv_path)
check(rc == 1 and "422 impossible" in err and "[field /model]" in err, "score a model without an energy -> 1 (%r)" % err)
csv3 = os.path.join(TMP, "points3.csv")
with open(csv3, "w") as f:
    f.write("0,0,0\n")
rc, _, err = m("score", "g-dx", csv3)
check(rc == 1 and "422 impossible" in err and "[field /points/0]" in err,
      "score points of another dimension -> 1 (%r)" % err)
with open(csv_path, "w") as f:
    f.write("0,0\n1\n")
rc, out, err = m("score", "g-dx", csv_path)
check(rc == 2 and out == "" and "line 2" in err, "score a malformed CSV -> 2 naming the line (%r)" % err)
rc, _, err = m("score", "g-dx", os.path.join(TMP, "missing.csv"))
check(rc == 5 and "missing.csv" in err, "score a missing file -> 5 (%r)" % err)
rc, _, err = m("score", "G-DX", csv_path)
check(rc == 2, "score with a bad model id -> 2")
rc, _, err = m("score", "g-dx")
check(rc == 2, "score without a file -> 2")

# ---- sample a DxMI model: its var sampler by default --------------------------------------
rc, out, err = m("sample", "g-dx", "-n", "4", "--seed", "2", "--format", "json")
j = json.loads(out) if rc == 0 else {}
check(j.get("sampler") == "var" and j.get("steps") == 5, "sample a DxMI model: var, 5 steps (%s)" % err[:200])
rc, out, _ = m("sample", "g-dx", "-n", "4", "--seed", "2", "--sampler", "ddim", "--steps", "10", "--format", "json")
check(rc == 0 and json.loads(out)["sampler"] == "ddim", "sample a DxMI model with --sampler ddim")

# server errors: exit 1 and "<status> <code>: <message> [field <f>]"
rc, out, err = m("sample", "nope", "-n", "1")
check(rc == 1 and out == "" and "manifold: 404 model_not_found: " in err and "[field /model]" in err,
      "unknown model -> 1 with 404 model_not_found (%r)" % err)
rc, _, err = m("sample", "two_moons", "--steps", "5000")
check(rc == 1 and "400 out_of_range" in err and "[field /steps]" in err, "server-side range -> 1 (%r)" % err)
rc, _, err = m("sample", "two_moons", "-n", "2", "--target", "1")
check(rc == 1 and "422 impossible" in err and "[field /target]" in err,
      "sample --target of an unconditional model -> 1 with the server's 422 (%r)" % err)
rc, _, err = m("sample", "two_moons", "-n", "2", "--condition", "1,2", "--guidance", "cfg", "--w", "2")
check(rc == 1 and "422 impossible" in err, "sample --condition --guidance of an unconditional model -> 1 (%r)" % err)
rc, _, err = m("model", "nope")
check(rc == 1 and "404 not_found" in err, "model nope -> 1")
rc, _, err = m("submit", "dance", "two_moons")
check(rc == 1 and "400 bad_value" in err and "/type" in err, "bad job type -> 1")
rc, _, err = m("jobs", "--state", "done")
check(rc == 1 and "400 bad_value" in err, "bad state filter -> 1")

# ---- jobs: submit, watch, job, jobs, result -------------------------------------------------
rc, out, err = m("submit", "sample", "two_moons", "--param", "n=2100", "--param", "sampler=ddim",
                 "--param", "steps=20", "--param", "seed=3")
job = out.strip()
check(rc == 0 and out.count("\n") == 1 and re.fullmatch(ID_RE, job), "submit prints the job id alone (%r)" % out)
st, _, jj = d.json("GET", "/v1/jobs/" + job)
check(st == 200 and jj["params"]["n"] == 2100 and jj["params"]["sampler"] == "ddim" and jj["params"]["seed"] == 3,
      "--param values typed (numbers as numbers, words as strings)")
rc, out, err = m("watch", job, timeout=120)
check(rc == 0 and out.strip().splitlines()[-1] == job + " succeeded", "watch -> 0 and the final state (%r)" % out[-200:])
prog = re.findall(r"^%s: +(\d+)%% \((\d+)/(\d+)" % re.escape(job), err, re.M)
pct = [int(p[0]) for p in prog]
check(prog and pct[-1] == 100 and prog[-1][1:] == ("2100", "2100") and pct == sorted(pct)
      and len(pct) == len(set(pct)) <= 11, "progress: one line per tenth passed, ending at 100%% (%s)" % pct)
check("\r" not in err, "progress without carriage returns when stderr is not a terminal")
check("metrics:" in out and "entropy_knn.value" in out, "watch prints the metrics event")
rc, out, _ = m("watch", job, "--json", timeout=120)
evs = [json.loads(line) for line in out.splitlines()]
direct_ev = read_events(d, job)
check(rc == 0 and [e["id"] for e in evs] == list(range(1, len(evs) + 1)) and evs[-1]["event"] == "status"
      and evs[-1]["data"]["state"] == "succeeded", "watch --json: NDJSON events 1..n ending with the final status")
check([(e["id"], e["event"], e["data"]) for e in evs] == [tuple(e) for e in direct_ev], "watch --json = the SSE stream")
rc, out, _ = m("job", job)
kv = describe(out)
check(rc == 0 and kv.get("state") == "succeeded" and kv.get("progress.done") == "2100" and kv.get("id") == job, "job")
rc, out, _ = m("job", job, "--json")
check(rc == 0 and json.loads(out)["id"] == job, "job --json")
rc, out, _ = m("jobs", "--state", "succeeded")
check(rc == 0 and any(line.split()[0] == job for line in out.splitlines()[1:]), "jobs --state succeeded")
# the created column: the job's RFC 3339 created_at shown to the second
row = [line.split() for line in out.splitlines()[1:] if line.split()[0] == job]
_, _, jw = d.json("GET", "/v1/jobs/" + job)
check(row and row[0][-2:] == [jw["created_at"][:10], jw["created_at"][11:19] + "Z"],
      "jobs: created shown as date and time (%s vs %s)" % (row and row[0][-2:], jw["created_at"]))
rc, out, _ = m("jobs", "--model", "two_moons", "--json")
check(rc == 0 and job in [x["id"] for x in json.loads(out)["jobs"]], "jobs --model --json")
_, _, res = d.json("GET", "/v1/jobs/%s/result" % job)
rc, out, _ = m("result", job, "--format", "csv")
rows = out.splitlines()
check(rc == 0 and len(rows) == 2101 and [[float(x) for x in r.split(",")] for r in rows[1:]] == res["samples"],
      "result csv = GET .../result")
rc, out, _ = m("result", job, "--format", "json")
check(rc == 0 and json.loads(out) == res, "result json")

rc, out, err = m("submit", "sample", "gaussian", "--params", '{"n": 50, "sampler": "ddim", "steps": 10, "seed": 1}',
                 "--watch", timeout=120)
lines = out.splitlines()
check(rc == 0 and lines and re.fullmatch(ID_RE, lines[0]) and lines[-1] == lines[0] + " succeeded",
      "submit --params --watch: the id first, the final state last")
rc, out, err = m("submit", "train", "--param", "dataset=gaussian", "--param", "steps=300", "--param", "hidden=[32]",
                 "--param", "out_model=cli-gauss", "--watch", timeout=180)
tid = out.splitlines()[0] if out else ""
check(rc == 0 and out.splitlines()[-1] == tid + " succeeded", "train job watched to success")
rc, out, _ = m("result", tid)
check(rc == 0 and describe(out).get("model") == "cli-gauss", "train result names its model")
rc, out, _ = m("result", tid, "--format", "csv")
check(rc == 0 and out.splitlines()[0].split(",")[0] == "model" and out.splitlines()[1].startswith("cli-gauss,"),
      "train result csv")

# ---- explore: finetune.smeme submitted and watched, a table row per iteration ---------------
EXPLORE = ["--param", "K=2", "--param", "rounds=3", "--param", "steps=20", "--param", "trajectories=8",
           "--param", "batch=64", "--param", "n_metric_samples=200"]
rc, out, err = m("explore", "gaussian", *EXPLORE, "--param", "out_model=cli-explored", timeout=180)
lines = out.splitlines()
check(rc == 0 and len(lines) > 2 and re.fullmatch(ID_RE, lines[0]) and lines[-2] == lines[0] + " succeeded",
      "explore: the id first, then the final state (%d, %r)" % (rc, out[-300:]))
at = [i for i, ln in enumerate(lines) if ln.split()[:1] == ["iter"]]
header = lines[at[0]] if at else ""
its = lines[at[0] + 1:at[0] + 4] if at else []
check(header.split() == ["iter", "alpha", "loss", "knn_entropy[nats]", "hist_entropy[nats]", "vendi",
                         "inside[frac]", "sw2_parent", "log_p_parent[nats]"],
      "explore: a header naming the columns, entropies in nats (%r)" % header)
cells = [ln.split() for ln in its]
check(len(its) == 3 and [c[0] for c in cells] == ["0", "1", "2"] and all(len(c) == 9 for c in cells),
      "explore: a row per iteration under the header, 0 the parent (%r)" % its)


def cell_ends(line):
    return [mt.end() for mt in re.finditer(r"\S+", line)]


# right-aligned in fixed widths: every cell ends where its column's name ends, so each column starts
# at the same place on every line
check(its and all(cell_ends(ln) == cell_ends(header) and len(ln) == len(header) for ln in its),
      "explore: columns aligned under the header (%r)" % ([header] + its))


def number(text):
    """A table cell as a finite number, else None ("-", nan)."""
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


check(len(cells) == 3 and cells[0][1] == cells[0][2] == cells[0][7] == "-" and all(
      c[1] == "2" and number(c[2]) is not None and number(c[7]) is not None for c in cells[1:]),
      "explore: the parent has no alpha, loss or distance to itself; iterations have them (%r)" % its)
check(len(cells) == 3 and all(number(c[k]) is not None for c in cells for k in (3, 5, 8)),
      "explore: the entropy, Vendi and log-density of every iteration (%r)" % its)
check("nan" not in out.lower(), "explore: no nan (%r)" % out)
made = "made model cli-explored; sample it: manifold --url %s sample cli-explored -n 1000" % d.url
check(lines and lines[-1] == made, "explore ends naming the model and the command that samples it (%r)" % lines[-1:])
cmd = lines[-1].split("sample it: ", 1)[-1].split()
rc, out, _ = run(*cmd[1:]) if cmd[:1] == ["manifold"] else (None, "", "")
check(rc == 0 and len(out.splitlines()) == 1001, "the command explore names samples its model (%s)" % rc)
rc, out, _ = m("explore", "gaussian", *EXPLORE[:2], "--param", "rounds=1", *EXPLORE[4:], "--json", timeout=180)
evs = [json.loads(ln) for ln in out.splitlines()[1:]]
check(rc == 0 and evs and evs[-1]["event"] == "status" and all(set(e) == {"id", "event", "data"} for e in evs),
      "explore --json: the id, then NDJSON events only (%r)" % out[-200:])
rc, out, _ = m("model", "cli-explored")
check(rc == 0 and describe(out).get("parent") == "gaussian", "explore made a model whose parent is gaussian")
rc, _, err = m("explore", "gaussian", "--param", "K=0")
check(rc == 1 and "out_of_range" in err and "/params/K" in err, "explore with a bad K: exit 1 with the field (%r)" % err)

# ---- distill: finetune.dxmi submitted and watched, one line per evaluation ------------------
rc, out, err = m("distill", "eight_gaussians", "--steps", "4", "--iters", "40", "--param", "batch=64",
                 "--param", "warmup=10", "--param", "eval_every=20", "--param", "n_eval=200",
                 "--param", "out_model=cli-distilled", timeout=180)
lines = out.splitlines()
its = [ln for ln in lines if ln.startswith("iteration ")]
check(rc == 0 and re.fullmatch(ID_RE, lines[0]) and lines[-1] == lines[0] + " succeeded",
      "distill: the id first, the final state last (%d, %r)" % (rc, out[-200:]))
check(len(its) == 3 and its[0].startswith("iteration 0 (un-tuned)")
      and all("sw2" in ln and "floor" in ln and "energy_auc" in ln and "modes" in ln for ln in its),
      "distill: a line per evaluation with SW2, its floor and the energy AUC (%r)" % its)
check(its[0].endswith("cd_gap -") and not its[-1].endswith("cd_gap -"), "distill: the CD gap once the energy trains (%r)" % its)
rc, out, _ = m("model", "cli-distilled")
check(rc == 0 and describe(out).get("parent") == "eight_gaussians", "distill made a model whose parent is eight_gaussians")
rc, _, err = m("distill", "eight_gaussians", "--steps", "1")
check(rc == 1 and "out_of_range" in err and "/params/steps" in err,
      "distill with 1 step: exit 1 with the field (%r)" % err)

# ---- steer: finetune.reward submitted and watched, a row per target, the model it made ------
rc, out, _ = m("steer", "--help")
check(rc == 0 and all(f in out for f in ["--target", "--nu", "--train-steps", "--guidance", "--param", "--json"]),
      "steer --help lists its options")
# nu = 0.5: the ideal reward at target a is a / (1 + nu^2), 0 and 1.6 (test_reward_job.py for the numbers)
STEER = ["--n-labelled", "300", "--nu", "0.5", "--train-steps", "1500", "--batch", "128", "--n", "200", "--seed", "3",
         "--param", 'train={"hidden":[128,128],"ema":0.99,"steps":1500,"batch":128}', "--param", "n_unlabelled=4000"]
rc, out, err = m("steer", "linear_subspace", "--target", "0", "--target", "2", *STEER, timeout=240)
lines = out.splitlines()
sid = lines[0] if lines else ""
check(rc == 0 and re.fullmatch(ID_RE, sid), "steer: exit 0, the job id alone first (%s %r %r)" % (rc, out[:300], err[-300:]))
rm = [ln for ln in lines if ln.startswith("reward model ")]
check(len(rm) == 1 and "reward model ridge" in rm[0] and "nu 0.5" in rm[0] and "labelled 300" in rm[0]
      and re.search(r"val_r2 0\.9\d*", rm[0]) and "pseudo_std " in rm[0], "steer: the reward model's line (%r)" % rm)
head, rows = target_table(lines)
check(head == ["target", "achieved", "ideal", "ratio", "predicted", "off_manifold", "entropy_knn"],
      "steer: the target table's header, the distance to the manifold of a built-in set (%s)" % head)
check(sorted(rows) == [0.0, 2.0] and rows[0.0][2] == "0" and rows[2.0][2] == "1.6",
      "steer: a row per target with the ideal a / (1 + nu^2) (%s)" % rows)
a0, a2 = (achieved(rows[t][1]) if t in rows else None for t in (0.0, 2.0))
check(a0 is not None and a2 is not None and a2 - a0 > 1.0, "steer: the achieved reward follows the target (%s %s)" % (a0, a2))
model = lines[-1][len("model: "):] if lines and lines[-1].startswith("model: ") else ""
check(len(lines) > 2 and lines[-2] == sid + " succeeded" and model.startswith("linear_subspace-reward-"),
      "steer: the final state, then the model it made (%r)" % lines[-2:])
check(re.search(r"training, loss [0-9.]+", err), "steer: training progress with its loss on stderr")
_, _, sj = d.json("GET", "/v1/jobs/" + sid)
p = sj.get("params", {})
check(sj.get("model") is None and p.get("dataset") == "linear_subspace" and p.get("targets") == [0, 2]
      and p.get("pseudo_label_noise") == 0.5 and p.get("n_labelled") == 300 and p.get("n_per_target") == 200
      and p.get("seed") == 3 and p.get("n_unlabelled") == 4000 and p.get("train", {}).get("hidden") == [128, 128]
      and p["train"].get("steps") == 1500 and p["train"].get("batch") == 128 and p["train"].get("ema") == 0.99,
      "steer: the options and --param train={...} merged into the job's params (%s)" % p)
rc, out, err = m("sample", model, "--target", "2", "-n", "5", "--seed", "1")
check(rc == 0 and len(out.splitlines()) == 6 and "target 2" in err, "sample the steered model at a target: 5 rows (%r)" % err)
rc, out, _ = m("sample", model, "--target", "2", "-n", "5", "--seed", "1", "--guidance", "cond", "--format", "json")
j = json.loads(out) if rc == 0 else {}
check(j.get("target") == 2 and j.get("guidance", {}).get("mode") == "cond" and len(j.get("samples", [])) == 5,
      "sample --target --guidance: the request's fields (%s)" % {k: j.get(k) for k in ("target", "guidance")})
rc, out, _ = m("sample", model, "--condition", "0.5,1", "-n", "3", "--no-metrics", "--format", "json")
check(rc == 0 and json.loads(out).get("condition") == [0.5, 1], "sample --condition: the raw condition input")
rc, _, err = m("sample", model, "-n", "3", "--target", "2", "--guidance", "cfg", "--w", "2")
check(rc == 1 and "422 impossible" in err and "/guidance/mode" in err, "cfg on a model without label dropout -> 1 (%r)" % err)
rc, out, _ = m("watch", sid)
check(rc == 0 and target_table(out.splitlines())[1].keys() == rows.keys() and any(
    ln.startswith("reward model ridge") for ln in out.splitlines()), "watch of a steer job prints the same lines")
rc, out, err = m("steer", model, "--target", "1")
check(rc == 2 and out == "" and "manifold sample %s --target" % model in err,
      "steer of a conditional model -> 2, saying to sample it (%r)" % err)
rc, out, err = m("steer", "nothing-here", "--target", "1")
check(rc == 1 and out == "" and "no data set or model 'nothing-here'" in err and "/v1/datasets/" in err
      and "/v1/models/" in err, "steer of an unknown id -> 1 naming both lookups (%r)" % err)
rc, out, err = m("steer", "ring", "--target", "1", "--nu", "-1")
check(rc == 1 and out == "" and "400 out_of_range" in err and "[field /params/pseudo_label_noise]" in err,
      "steer --nu -1 -> 1 with the server's 400 (%r)" % err)
rc, out, err = m("steer", "cli-gauss", "--target", "1")
check(rc == 1 and "422 impossible" in err and "/params/labels" in err,
      "steer of a model trained on unlabelled data -> 1, the server's 422 (%r)" % err)
# an unconditional model as the parent, another data set, NDJSON events
rc, out, err = m("steer", "cli-gauss", "--dataset", "ring", "--target", "1", "--target", "-1", "--train-steps", "50",
                 "-n", "10", "--steps", "10", "--param", "n_unlabelled=200", "--json", timeout=120)
lines = out.splitlines()
evs = [json.loads(ln) for ln in lines[1:]] if rc == 0 else []
check(rc == 0 and re.fullmatch(ID_RE, lines[0]) and evs and [e["id"] for e in evs] == list(range(1, len(evs) + 1))
      and evs[-1]["data"]["state"] == "succeeded", "steer --json: the id, then NDJSON events (%s %r)" % (rc, err[-300:]))
check(len([e for e in evs if e["event"] == "metrics" and e["data"].get("stage") == "target"]) == 2
      and "model: " not in out, "steer --json: the target events, no text lines")
_, _, pj = d.json("GET", "/v1/jobs/" + (lines[0] if lines else "x"))
check(pj.get("model") == "cli-gauss" and pj.get("params", {}).get("dataset") == "ring",
      "steer MODEL --dataset: the model is the parent, the data set --dataset (%s)" % pj.get("model"))
# a shipped model named like a built-in data set is a parent through --parent
rc, out, err = m("steer", "ring", "--parent", "gaussian", "--target", "1", "--train-steps", "50", "-n", "10",
                 "--steps", "10", "--param", "n_unlabelled=200", "--json", timeout=120)
_, _, pj = d.json("GET", "/v1/jobs/" + (out.splitlines() or ["x"])[0])
check(rc == 0 and pj.get("model") == "gaussian" and pj.get("params", {}).get("dataset") == "ring",
      "steer DATASET --parent MODEL: the parent and the data (%s %s %r)" % (rc, pj.get("model"), err[-200:]))
rc, out, err = m("steer", "cli-gauss", "--parent", "gaussian", "--target", "1")
check(rc == 2 and out == "" and "--parent goes with a DATASET" in err, "steer MODEL --parent -> 2 (%r)" % err)

# ---- cancel: a watched job ends cancelled -> 4 ---------------------------------------------
long_train = {"dataset": "gaussian", "steps": 200000, "hidden": [32]}
rc, out, _ = m("submit", "train", "--params", json.dumps(long_train))
job = out.strip()
w = subprocess.Popen([CLIENT, "--url", d.url, "watch", job], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
t_end = time.time() + 60
while time.time() < t_end:
    _, _, jj = d.json("GET", "/v1/jobs/" + job)
    if jj["state"] == "running" and jj["progress"]["done"] > 0:
        break
    time.sleep(0.05)
rc, out, err = m("cancel", job)
check(rc == 0 and out.startswith(job + " "), "cancel -> 0, prints id and state (%r)" % out)
try:
    wout, werr = w.communicate(timeout=60)
except subprocess.TimeoutExpired:
    w.kill()
    wout, werr = w.communicate()
wout, werr = wout.decode(), werr.decode()
STDERRS.append(werr)
check(w.returncode == 4 and wout.strip().splitlines()[-1] == job + " cancelled", "watch of a cancelled job -> 4")
check("manifold: job %s cancelled: cancelled: cancelled by request" % job in werr, "its error code and message")
rc, _, err = m("result", job)
check(rc == 1 and "409 no_result" in err, "result of a cancelled job -> 1")
rc, _, err = m("watch", job)
check(rc == 4, "watching the finished cancelled job again -> 4")
rc, _, err = m("cancel", "job-none")
check(rc == 1 and "404 not_found" in err, "cancel unknown job -> 1")
rc, _, err = m("watch", "job-none")
check(rc == 1 and "404 not_found" in err, "watch unknown job -> 1")


# ---- a proxy that cuts or stalls responses -------------------------------------------------
class CutProxy:
    """Forwards to the daemon; policy(n, request, response) -> (bytes to send, hold open)."""

    def __init__(self, policy):
        self.policy, self.requests, self.lock = policy, [], threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.stop = False
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.one, args=(c,), daemon=True).start()

    def one(self, c):
        c.settimeout(30)
        req = b""
        try:
            while b"\r\n\r\n" not in req and len(req) < 65536:
                chunk = c.recv(4096)
                if not chunk:
                    break
                req += chunk
            up = socket.create_connection(("127.0.0.1", d.port), timeout=30)
            # GETs only: no body follows the headers.  Connection: close, so the
            # daemon's end of the response is the end of the connection.
            up.sendall(req.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1))
            resp = b""
            while True:
                chunk = up.recv(65536)
                if not chunk:
                    break
                resp += chunk
            up.close()
            with self.lock:
                n = len(self.requests)
                self.requests.append(req.decode(errors="replace"))
            data, hold = self.policy(n, req, resp)
            c.sendall(data)
            if hold:
                c.recv(1)  # until the client gives up (or 30 s)
        except OSError:
            pass
        c.close()

    def close(self):
        self.stop = True
        self.sock.close()


def cut_before(marker, resp):
    i = resp.find(marker)
    return resp[:i] if i >= 0 else resp[: len(resp) // 2]


# a finished sample job's stream, cut twice: exactly the events, once each
rc, out, _ = m("submit", "sample", "two_moons", "--param", "n=2100", "--param", "sampler=ddim",
               "--param", "steps=20", "--param", "seed=4")
job = out.strip()
harness.wait_state(d, job, ["succeeded"], 120)
direct_ev = read_events(d, job)


def two_cuts(n, req, resp):
    if n == 0:
        return cut_before(b"id: 3\n", resp), False  # events 1 and 2 whole
    if n == 1:
        return resp[: resp.find(b"\r\n\r\n") + 3000], False  # inside event 3
    return resp, False


p = CutProxy(two_cuts)
rc, out, err = run("watch", job, "--json", url=p.url, timeout=120)
evs = [json.loads(line) for line in out.splitlines()] if rc == 0 else []
check(rc == 0 and [(e["id"], e["event"], e["data"]) for e in evs] == [tuple(e) for e in direct_ev],
      "stream dropped twice: every event exactly once (rc %s, %r)" % (rc, err[-300:]))
lei = [re.search(r"(?im)^last-event-id: *(\d+)\r?$", r) for r in p.requests]
check(len(p.requests) == 3 and lei[0] is None and lei[1] and lei[1].group(1) == "2" and lei[2]
      and lei[2].group(1) == "2", "reconnects resume with Last-Event-ID: 2 (%d requests)" % len(p.requests))
check("resuming after event 2" in err, "the reconnection is told on stderr")
p.close()

# a stalled stream (no byte for --timeout seconds) is dropped and resumed
p = CutProxy(lambda n, req, resp: (cut_before(b"id: 3\n", resp), True) if n == 0 else (resp, False))
t0 = time.time()
rc, out, err = run("--timeout", "2", "watch", job, url=p.url, timeout=120)
check(rc == 0 and out.strip().splitlines()[-1] == job + " succeeded" and len(p.requests) == 2
      and time.time() - t0 < 30, "stalled stream: dropped after --timeout, resumed (%r)" % err[-300:])
p.close()

# a stream that keeps dropping: bounded retries, then 3
p = CutProxy(lambda n, req, resp: (cut_before(b"id: 1\n", resp), False))
rc, out, err = run("watch", job, url=p.url, timeout=120)
check(rc == 3 and len(p.requests) == 6 and "after 5 retries" in err,
      "stream that never delivers: 5 retries then 3 (%s, %d requests)" % (rc, len(p.requests)))
p.close()

# ---- unreachable ----------------------------------------------------------------------------
closed = "http://127.0.0.1:%d" % free_port()
for args in [["models"], ["health"], ["sample", "two_moons"]]:
    rc, out, err = run(*args, url=closed)
    check(rc == 3 and ("connect" in err.lower()), "closed port -> 3: %s (%r)" % (args, err))
t0 = time.time()
rc, _, err = run("watch", "job-x", url=closed)
check(rc == 3 and time.time() - t0 < 10, "watch: a first connection that fails is not retried")
silent = socket.socket()
silent.bind(("127.0.0.1", 0))
silent.listen(8)  # accepts into the backlog, never answers
t0 = time.time()
rc, _, err = run("--timeout", "1", "models", url="http://127.0.0.1:%d" % silent.getsockname()[1])
check(rc == 3 and time.time() - t0 < 15 and "time" in err.lower(), "silent server: --timeout -> 3 (%r)" % err)
silent.close()

# ---- weights, upload, delete ----------------------------------------------------------------
shipped_eg = open(os.path.join(MODELS, "eight_gaussians.safetensors"), "rb").read()
dl = os.path.join(TMP, "dl")
os.makedirs(dl)
target = os.path.join(dl, "eg.safetensors")
rc, out, err = m("weights", "eight_gaussians", "-o", target)
check(rc == 0 and open(target, "rb").read() == shipped_eg, "weights = the shipped file")
check(os.listdir(dl) == ["eg.safetensors"], "no temporary file left (%s)" % os.listdir(dl))
rc, _, _ = m("weights", "two_moons", "--out", target)
check(rc == 0 and open(target, "rb").read() == open(os.path.join(MODELS, "two_moons.safetensors"), "rb").read(),
      "weights replaces an existing file")
rc, _, _ = m("weights", "eight_gaussians", "-o", target)
rc, _, err = m("weights", "nope", "-o", os.path.join(dl, "nope.safetensors"))
check(rc == 1 and "404" in err and os.listdir(dl) == ["eg.safetensors"], "weights 404 -> 1, nothing written")
afile = os.path.join(TMP, "afile")
open(afile, "w").close()
rc, _, err = m("weights", "eight_gaussians", "-o", os.path.join(afile, "x"))
check(rc == 5 and err.startswith("manifold: ") and err.count("afile") == 1,
      "weights to an unwritable path -> 5, naming it once (%r)" % err)
rc, _, err = m("weights", "eight_gaussians", "-o", dl)
check(rc == 5 and not any(".tmp-" in f for f in os.listdir(TMP)), "weights onto a directory -> 5, temp removed")
p = CutProxy(lambda n, req, resp: (resp[: len(resp) // 2], False))
rc, _, err = run("weights", "eight_gaussians", "-o", os.path.join(dl, "half"), url=p.url)
check(rc == 3 and os.listdir(dl) == ["eg.safetensors"], "download cut in half -> 3, no file, no temp (%r)" % err)
p.close()

rc, out, err = m("upload", "eg-copy", target)
check(rc == 0 and out.strip() == "eg-copy", "upload -> 0, prints the id (%r)" % err)
rc, out, _ = m("model", "eg-copy")
check(rc == 0 and describe(out).get("protected") == "false", "the upload is a model, unprotected")
rc, a_out, _ = m("sample", "eg-copy", *flags, "--format", "csv")
rc2, b_out, _ = m("sample", "eight_gaussians", *flags, "--format", "csv")
check(rc == 0 and rc2 == 0 and a_out == b_out, "the uploaded copy samples like its original")
rc, _, err = m("upload", "eg-copy", target)
check(rc == 1 and "409 exists" in err, "upload again -> 1, 409 exists")
junk = os.path.join(TMP, "junk.safetensors")
open(junk, "wb").write(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
rc, _, err = m("upload", "junk", junk)
check(rc == 1 and "422 invalid_model" in err, "upload of a bad file -> 1, 422 (%r)" % err)
rc, _, err = m("upload", "x", os.path.join(TMP, "missing.safetensors"))
check(rc == 5, "upload of a missing file -> 5")
rc, out, _ = m("delete", "eg-copy")
check(rc == 0, "delete -> 0")
rc, _, err = m("delete", "eg-copy")
check(rc == 1 and "404" in err, "delete again -> 1, 404")
rc, _, err = m("delete", "eight_gaussians")
check(rc == 1 and "409 protected" in err, "delete a shipped model -> 1, 409")

# ---- datasets: upload (format from the extension), list, show, delete ------------------------
for args in [["dataset"], ["dataset", "frob"], ["dataset", "upload"], ["dataset", "upload", "a.csv", "b.csv"],
             ["dataset", "upload", os.path.join(TMP, "x.txt")], ["dataset", "upload", "a.csv", "--format", "xml"],
             ["dataset", "upload", "Bad Name.csv"], ["dataset", "upload", "a.csv", "--id", "Bad/Id"],
             ["dataset", "show"], ["dataset", "show", "Bad/Id"], ["dataset", "delete"], ["dataset", "list", "x"],
             ["dataset", "delete", "a", "--json"]]:
    rc, out, err = m(*args)
    check(rc == 2 and out == "" and err.strip() != "", "dataset usage error -> 2: %s (got %s %r)" % (args, rc, err[-200:]))
rc, out, _ = m("dataset", "--help")
check(rc == 0 and "upload FILE" in out and "delete ID" in out, "dataset --help lists the subcommands")
rc, out, _ = m("dataset", "upload", "--help")
check(rc == 0 and "--format" in out and "--id" in out, "dataset upload --help")
dsdir = os.path.join(TMP, "ds")
os.makedirs(dsdir)
pts = os.path.join(dsdir, "pts.csv")
open(pts, "w").write("x0,x1,y\n1,2,0\n3,4,\n5,9,1\n")
rc, out, err = m("dataset", "upload", pts)
check(rc == 0 and out == "pts\n", "dataset upload: the id from the file name, printed alone (%r %r)" % (out, err))
rows = os.path.join(dsdir, "rows.jsonl")
open(rows, "w").write('[1,2]\n{"x":[3,4],"y":2}\n')
rc, out, _ = m("dataset", "upload", rows, "--id", "my-rows")
check(rc == 0 and out.strip() == "my-rows", "dataset upload .jsonl with --id")
arr = os.path.join(dsdir, "arr.npy")
head = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }"
head += " " * (118 - len(head) - 1) + "\n"
open(arr, "wb").write(b"\x93NUMPY\x01\x00\x76\x00" + head.encode() + b"".join(
    struct.pack("<f", v) for v in (0, 1, 2, 3, 4, 5)))
rc, out, err = m("dataset", "upload", arr)
check(rc == 0 and out.strip() == "arr", "dataset upload .npy (%r)" % err)
txt = os.path.join(dsdir, "plain.txt")
open(txt, "w").write("1,2\n")
rc, out, _ = m("dataset", "upload", txt, "--format", "csv")
check(rc == 0 and out.strip() == "plain", "dataset upload --format csv of a .txt")
_, _, direct = d.json("GET", "/v1/datasets")
rc, out, _ = m("dataset", "list")
lines = out.splitlines()
check(rc == 0 and lines and lines[0].split() == ["id", "builtin", "dims", "rows", "labelled_rows", "bytes", "created"],
      "dataset list: the table header")
listed = {ln.split()[0]: ln.split() for ln in lines[1:]}
check(set(listed) == {x["id"] for x in direct["datasets"]} and listed["pts"][1:5] == ["false", "2", "3", "2"]
      and listed["ring"][1:4] == ["true", "2", "-"], "dataset list: built-ins and uploads (%s)" % listed.get("pts"))
rc, out, _ = m("dataset", "list", "--json")
check(rc == 0 and json.loads(out) == direct, "dataset list --json = the server's body")
rc, out, _ = m("dataset", "show", "pts")
kv = describe(out)
check(rc == 0 and kv.get("rows") == "3" and kv.get("dims") == "2" and kv.get("labelled_rows") == "2"
      and kv.get("mean") == "3,5" and kv.get("builtin") == "false", "dataset show: %s" % kv)
rc, out, _ = m("dataset", "show", "my-rows", "--json")
_, _, direct = d.json("GET", "/v1/datasets/my-rows")
check(rc == 0 and json.loads(out) == direct and direct["labelled_rows"] == 1, "dataset show --json = GET")
rc, _, err = m("dataset", "upload", pts)
check(rc == 1 and "409 exists" in err, "dataset upload again -> 1, 409 (%r)" % err)
bad = os.path.join(dsdir, "bad.csv")
open(bad, "w").write("1,2\n3,nan\n")
rc, _, err = m("dataset", "upload", bad)
check(rc == 1 and "422 invalid_dataset: line 2:" in err and "[field line 2]" in err,
      "dataset upload of a malformed file -> 1 with the line (%r)" % err)
rc, _, err = m("dataset", "upload", os.path.join(dsdir, "missing.csv"))
check(rc == 5, "dataset upload of a missing file -> 5")
rc, _, err = m("dataset", "upload", pts, "--id", "ring")
check(rc == 1 and "409 protected" in err, "dataset upload under a built-in's id -> 1, 409 protected")
rc, _, err = m("dataset", "show", "nope")
check(rc == 1 and "404 not_found" in err, "dataset show nope -> 1")
rc, out, _ = m("dataset", "delete", "pts")
check(rc == 0 and out == "deleted pts\n", "dataset delete -> 0")
rc, _, err = m("dataset", "delete", "pts")
check(rc == 1 and "404" in err, "dataset delete again -> 1, 404")
rc, _, err = m("dataset", "delete", "digits")
check(rc == 1 and "409 protected" in err, "dataset delete of a built-in -> 1, 409")
rc, out, err = m("submit", "train", "--param", "dataset=my-rows", "--param", "steps=3", "--param", "hidden=[8]",
                 "--param", "batch=2", "--param", "out_model=from-rows", "--watch", timeout=120)
check(rc == 0 and out.splitlines()[-1].endswith(" succeeded"), "a train job on an uploaded dataset, watched")
# a CSV upload with a y column on a third of its rows, steered at two targets: no known reward
ring = os.path.join(dsdir, "ringy.csv")
rng = random.Random(5)
rows_txt = ["x0,x1,y"]
for i in range(600):
    th = rng.uniform(0, 2 * math.pi)
    x0, x1 = 2 * math.cos(th), 2 * math.sin(th)
    rows_txt.append("%.5f,%.5f,%s" % (x0, x1, "%.5f" % (x0 + rng.gauss(0, 0.05)) if i % 3 == 0 else ""))
open(ring, "w").write("\n".join(rows_txt) + "\n")
rc, out, _ = m("dataset", "upload", ring)
check(rc == 0 and out.strip() == "ringy", "a labelled CSV uploads")
rc, out, err = m("steer", "ringy", "--target", "-1.5", "--target", "1.5", "--train-steps", "300", "-n", "50",
                 "--steps", "50", "--param", 'train={"hidden":[64,64]}', timeout=120)
lines = out.splitlines()
head, rows = target_table(lines)
check(rc == 0 and head == ["target", "achieved", "ideal", "ratio", "predicted", "knn_dist", "knn_heldout", "entropy_knn"]
      and sorted(rows) == [-1.5, 1.5], "steer of an upload: kNN columns, a row per target (%s %s %r)" % (rc, head, err[-300:]))
check(all(r[1] == r[2] == r[3] == "-" and float(r[5]) > 0 and float(r[6]) > 0 for r in rows.values())
      and lines[-1].startswith("model: ringy-reward-"), "no known reward: '-' for achieved, ideal, ratio (%s)" % rows)
rc, _, err = m("submit", "train", "--param", "dataset=gone")
check(rc == 1 and "404 dataset_not_found" in err and "/params/dataset" in err, "train on an unknown dataset -> 1, 404")

# ---- a server that sends malformed bodies: exit 1, never a crash ---------------------------
SSE, JS = "text/event-stream", "application/json"
FAKE = {
    "/v1/models": (200, JS, b"<html>not json</html>"),
    "/v1/models/x": (200, JS, b"[1, 2]"),
    "/v1/models/y": (404, JS, b'{"error": {"code": 5, "message": null}}'),
    "/v1/models/z": (500, "text/html", b"<h1>oops</h1>\x1b[31mred\x1b[0m"),
    "/v1/jobs/j1": (200, JS, b'{"id": "j1", "state": "running", "progress": "half"}'),
    "/v1/jobs/j2/events": (200, SSE, b"id: 1\nevent: status\ndata: not json\n\n"),
    "/v1/jobs/j3/events": (200, SSE, b"id: one\nevent: progress\ndata: {}\n\n"),
    "/v1/jobs/j4/events": (200, SSE, b'id: 1\nevent: progress\ndata: {"done": "a", "total": 2}\n\n'),
    "/v1/jobs/j5/events": (200, SSE, b'id: 1\nevent: status\ndata: {"state": 7}\n\n'),
    "/v1/jobs/j6/result": (200, JS, b'{"samples": [[1, "a"]]}'),
    "/v1/jobs/j7/result": (200, JS, b'{"samples": [[1, 2], [3]]}'),
    "/v1/jobs": (202, JS, b'{"state": "queued"}'),
    "/v1/samples": (200, JS, b'{"samples": 3}'),
    "/v1/scores": (200, JS, b'{"n": 2, "threshold": 1, "outliers": 0, "scores": [{"energy": 1, '
                            b'"percentile": 2, "outlier": false}]}'),
    "/v1/datasets": (200, JS, b'{"datasets": {"id": 1}}'),
    "/v1/datasets/y": (200, JS, b'"a string"'),
    "/readyz": (503, JS, b'{"status": "unavailable", "reason": "draining"}'),
}


class Fake(http.server.BaseHTTPRequestHandler):
    def reply(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        path = self.path.split("?")[0]
        if self.command == "GET" and path == "/v1/jobs":
            st, ctype, body = 200, JS, b'{"jobs": 5}'
        else:
            st, ctype, body = FAKE.get(path, (404, JS, b""))
        self.send_response(st)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = reply

    def log_message(self, *a):
        pass


csv_ok = os.path.join(TMP, "two.csv")
with open(csv_ok, "w") as f:
    f.write("0,0\n1,1\n")
fake = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Fake)
threading.Thread(target=fake.serve_forever, daemon=True).start()
furl = "http://127.0.0.1:%d" % fake.server_address[1]
for args, want in [(["models"], "malformed"), (["model", "x"], "malformed"), (["model", "y"], "404"),
                   (["model", "z"], "500"), (["model", "w"], "404"), (["jobs"], "malformed"),
                   (["job", "j1"], ""), (["watch", "j2"], "malformed"), (["watch", "j3"], "malformed"),
                   (["watch", "j4"], "malformed"), (["watch", "j5"], "malformed"),
                   (["result", "j6"], "malformed"), (["result", "j7", "--format", "csv"], "malformed"),
                   (["submit", "sample", "m"], "malformed"), (["sample", "m"], "malformed"),
                   (["score", "m", csv_ok], "malformed"),
                   (["health"], "not ready: draining"), (["dataset", "list"], "malformed"),
                   (["dataset", "show", "y"], "malformed"), (["dataset", "show", "z"], "404")]:
    rc, out, err = run(*args, url=furl)
    want_rc = 0 if args == ["job", "j1"] else 1  # a describe prints whatever members there are
    check(rc == want_rc and want in err and "\x1b" not in err, "malformed body: %s -> %s (%s %r)" % (args, want_rc, rc, err))
fake.shutdown()

# ---- no sanitizer reports from any run ------------------------------------------------------
bad = [e for e in STDERRS if "Sanitizer" in e or "runtime error:" in e]
check(not bad, "no sanitizer reports (%s)" % (bad[0][:2000] if bad else ""))

d.term()
status = harness.summary("client", TMP)
shutil.rmtree(TMP, ignore_errors=True)
sys.exit(status)
