#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
API suite, disk full (issue 14): the real manifoldd with its job store and
model store (and so the dataset store) on a tmpfs of 8 MiB, filled by a
file until ENOSPC and freed again, all without a restart.

  1. start: the temporary files that interrupted writes left in the model
     store, its checkpoints/ and the dataset store are removed (the log
     counts them), one that a live writer holds locked stays, a hidden file
     that is no temporary stays, and a real stored model loads;
  2. disk full while job A (a sample job) runs and job B waits: /readyz turns
     503 with the reason "job store: disk full"; submits answer 507
     insufficient_storage with Retry-After and a clear message; uploads of a
     model and of a dataset answer 507 with no path in the message; no job
     fails; sampling calls are still answered;
  3. the filler deleted: /readyz is 200 again within a bounded time, and A,
     B and every job a submit took meanwhile succeed, each event log with
     seqs 1..n without a gap, one status event per state, and the samples
     events covering every row exactly once; no temporary file is left.

The tmpfs is mounted in a private mount namespace (unshare: as root, or in a
user namespace of its own when not root), so it can never outlive the test;
it is unmounted in a finally block too.  When no namespace can be made the
test FAILS with the reason; it never skips.  Standard library only; every
request has a timeout and every wait loop is bounded.

usage: test_diskfull.py PATH/TO/manifoldd MODELS_DIR
"""
import errno
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time

NS_MARK = "MF_DISKFULL_NS"


def enter_private_mount_namespace():
    """Re-runs this script in a mount namespace of its own (user namespace too when not root)."""
    if os.environ.get(NS_MARK) == "1":
        return
    cmd = ["unshare", "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        cmd[1:1] = ["--user", "--map-root-user"]
    try:
        probe = subprocess.run(cmd + ["true"], capture_output=True, text=True, timeout=30)
        ok, why = probe.returncode == 0, probe.stderr.strip()
    except (OSError, subprocess.SubprocessError) as e:
        ok, why = False, str(e)
    if not ok:
        print("FAIL test_diskfull: cannot make a private mount namespace to mount a tmpfs in "
              "(%s): run it as root, or allow unprivileged user namespaces "
              "(sysctl kernel.unprivileged_userns_clone=1)" % why, flush=True)
        sys.exit(1)
    os.execvpe(cmd[0], cmd + [sys.executable] + sys.argv, dict(os.environ, **{NS_MARK: "1"}))


enter_private_mount_namespace()

import harness  # noqa: E402  (after the re-exec: nothing runs twice)
from harness import check, read_events, wait_state  # noqa: E402

DAEMON, MODELS = sys.argv[1], sys.argv[2]
TMP = tempfile.mkdtemp(prefix="mf-diskfull-")
DISK = os.path.join(TMP, "disk")
STORE = os.path.join(DISK, "models")
FILLER = os.path.join(DISK, "filler")
N_A, N_B = 6144, 300


def fill():
    """Appends to the filler until the tmpfs has no page left; returns the bytes written."""
    fd = os.open(FILLER, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    n = 0
    try:
        for chunk in (1 << 20, 4096, 1):
            for _ in range(16 << 20):  # bounded: the tmpfs is 8 MiB
                try:
                    n += os.write(fd, b"\0" * chunk)
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    return n


def wait_for(what, cond, limit):
    """Polls cond() every 50 ms for at most limit seconds; returns its last value."""
    t_end = time.time() + limit
    v = cond()
    while not v and time.time() < t_end:
        time.sleep(0.05)
        v = cond()
    check(bool(v), "%s (within %d s)" % (what, limit))
    return v


def readyz(d):
    st, _, j = d.json("GET", "/readyz", timeout=10)
    return st, (j or {}).get("reason")


def sample_job(n, steps, seed):
    return {"type": "sample", "model": "gaussian",
            "params": {"n": n, "sampler": "ddim", "steps": steps, "seed": seed, "metrics": False}}


def check_log(d, job, n_rows):
    """The job's whole event stream: seqs 1..n, one status per state, every row once."""
    ev = read_events(d, job, limit=60)
    seqs = [e[0] for e in ev]
    check(seqs == list(range(1, len(ev) + 1)), "%s: seqs 1..%d without a gap (%s)"
          % (job, len(ev), seqs[:40]))
    states = [e[2].get("state") for e in ev if e[1] == "status"]
    check(states == ["queued", "running", "succeeded"],
          "%s: one status event per state, in order (%s)" % (job, states))
    rows = [0] * n_rows
    for _, name, data in ev:
        if name == "samples":
            for i in range(data["offset"], data["offset"] + len(data["samples"])):
                rows[i] += 1
    check(rows == [1] * n_rows, "%s: samples events cover each of the %d rows exactly once "
          "(missing %d, doubled %d)" % (job, n_rows, rows.count(0), sum(r > 1 for r in rows)))
    done = [e[2]["done"] for e in ev if e[1] == "progress" and e[2]["phase"] == "sampling"]
    check(done == sorted(set(done)) and done and done[-1] == n_rows,
          "%s: progress rises to %d, each value once (%s)" % (job, n_rows, done))


def leftovers():
    """Temporary files of interrupted writes, made as core/fileio.c names them."""
    os.makedirs(os.path.join(STORE, "checkpoints"))
    os.makedirs(os.path.join(STORE, "datasets"))
    dead = [os.path.join(STORE, ".lost.safetensors.AbC123"),
            os.path.join(STORE, "checkpoints", ".job-0123456789abcdef.safetensors.Zz9Yy8"),
            os.path.join(STORE, "datasets", ".mine.npy.q1W2e3")]
    for p in dead:
        with open(p, "wb") as f:
            f.write(b"partial" * 1000)
    keep = os.path.join(STORE, ".keep")
    open(keep, "w").close()
    live = os.path.join(STORE, ".busy.safetensors.Xy12Zw")
    lock = open(live, "wb")
    fcntl.flock(lock, fcntl.LOCK_EX)  # a writer of another process, still at work
    shutil.copy(os.path.join(MODELS, "gaussian.safetensors"),
                os.path.join(STORE, "mine.safetensors"))
    return dead, keep, live, lock


def phase_start(d, dead, keep, live):
    check(all(not os.path.exists(p) for p in dead),
          "start: the temporaries of interrupted writes are removed (%s)"
          % [p for p in dead if os.path.exists(p)])
    check(os.path.exists(live), "start: a temporary a live writer holds locked stays")
    check(os.path.exists(keep), "start: a hidden file that is no temporary stays")
    log = open(os.path.join(TMP, "daemon.log")).read()
    check("removed 1 temporary model file(s)" in log
          and "removed 1 temporary checkpoint file(s)" in log
          and "removed 1 temporary dataset file(s)" in log,
          "start: a log line counts them, per directory")
    st, _, j = d.json("GET", "/v1/models/mine")
    check(st == 200 and j["id"] == "mine", "start: a stored model loads (%s)" % st)
    check(readyz(d)[0] == 200, "start: ready")


def phase_full(d, a):
    """The disk fills while a runs; returns the ids of the jobs submits took meanwhile."""
    n = fill()
    check(n > 0, "the filler took the rest of the disk (%d bytes)" % n)
    st, why = wait_for("/readyz turns 503 once a write fails",
                       lambda: (lambda r: r if r[0] == 503 else None)(readyz(d)), 20) or (0, "")
    check(why == "job store: disk full", "/readyz says why: %r" % why)
    # A submit is refused 507; one may still fit in what a failed write left of the WAL
    # (SQLite keeps the pages it got), so try until the store refuses, and keep the others.
    taken, refused = [], None
    for i in range(40):
        fill()
        st, h, j = d.json("POST", "/v1/jobs", sample_job(40, 5, 100 + i))
        if st == 202:
            taken.append(j["id"])
            continue
        refused = (st, h, j)
        break
    check(refused is not None and refused[0] == 507
          and refused[2]["error"]["code"] == "insufficient_storage",
          "submit on a full job store: 507 insufficient_storage (%r)"
          % ((refused[0], refused[2]) if refused else "never refused",))
    if refused is not None and refused[0] == 507:
        msg = refused[2]["error"]["message"]
        check("full" in msg and "/" not in msg, "submit: a clear message, no path: %r" % msg)
        check(1 <= int(refused[1].get("retry-after", "0")) <= 5,
              "submit: Retry-After is the next try (%s)" % refused[1].get("retry-after"))
    fill()
    body = open(os.path.join(MODELS, "gaussian.safetensors"), "rb").read()
    st, h, j = d.json("POST", "/v1/models?id=another", body,
                      {"Content-Type": "application/octet-stream"})
    msg = (j or {}).get("error", {}).get("message", "")
    check(st == 507 and j["error"]["code"] == "insufficient_storage" and "/" not in msg
          and "another" in msg, "model upload on a full disk: 507, no path (%s %r)" % (st, msg))
    st, h, j = d.json("POST", "/v1/datasets?id=pts", "x0,x1\n" + "1,2\n" * 3000,
                      {"Content-Type": "text/csv"})
    msg = (j or {}).get("error", {}).get("message", "")
    check(st == 507 and j["error"]["code"] == "insufficient_storage" and "/" not in msg,
          "dataset upload on a full disk: 507, no path (%s %r)" % (st, msg))
    st, _, j = d.json("POST", "/v1/samples", {"model": "gaussian", "n": 8, "sampler": "ddim",
                                              "steps": 5, "seed": 1})
    check(st == 200 and len(j["samples"]) == 8, "sampling calls need no store: answered (%s)" % st)
    time.sleep(1.0)  # the jobs wait, and wait bounded
    st, _, j = d.json("GET", "/v1/jobs/" + a)
    check(st == 200 and j["state"] == "running", "job A waits running, not failed (%s)"
          % j.get("state"))
    st, _, j = d.json("GET", "/v1/jobs?state=failed")
    check(st == 200 and j["jobs"] == [], "no job failed for the full disk (%s)" % j)
    st, _, text = d.req("GET", "/metrics")
    check(harness.metric(text, "manifold_job_store_writable") == 0,
          "/metrics: the job store is not writable")
    check(readyz(d) == (503, "job store: disk full"), "/readyz stays 503 while the disk is full")
    return taken


def main():
    os.mkdir(DISK)
    mounted = False
    d = lock = None
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", DISK],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            print("FAIL test_diskfull: cannot mount a tmpfs on %s: %s" % (DISK, r.stderr.strip()),
                  flush=True)
            return 1
        mounted = True
        dead, keep, live, lock = leftovers()
        d = harness.Daemon(DAEMON, MODELS, TMP, "--model-store", STORE,
                           "--store", "sqlite:" + os.path.join(DISK, "jobs.db"),
                           "--workers", "1", "--threads", "1", "--max-running", "1")
        phase_start(d, dead, keep, live)
        lock.close()
        os.unlink(live)

        st, _, j = d.json("POST", "/v1/jobs", sample_job(N_A, 30, 7))
        check(st == 202, "job A submitted (%s)" % st)
        a = j["id"]
        st, _, j = d.json("POST", "/v1/jobs", sample_job(N_B, 5, 8))
        check(st == 202, "job B submitted, queued behind A (%s)" % st)
        b = j["id"]
        check(wait_state(d, a, ("running",), limit=60) is not None, "job A runs")
        taken = phase_full(d, a)

        os.unlink(FILLER)
        t0 = time.time()
        wait_for("/readyz is 200 again once space is freed",
                 lambda: readyz(d)[0] == 200, 20)
        print("ready again after %.1f s" % (time.time() - t0), flush=True)
        for job, n in [(a, N_A), (b, N_B)] + [(t, 40) for t in taken]:
            j = wait_state(d, job, ("succeeded", "failed", "cancelled"), limit=120)
            check(j is not None and j["state"] == "succeeded",
                  "%s succeeds without a restart (%s)" % (job, j and j.get("state")))
            check_log(d, job, n)
        st, _, j = d.json("POST", "/v1/jobs", sample_job(40, 5, 9))
        check(st == 202 and wait_state(d, j["id"], ("succeeded",), limit=60) is not None,
              "a new job is taken and runs (%s)" % st)
        body = open(os.path.join(MODELS, "gaussian.safetensors"), "rb").read()
        st, _, _ = d.json("POST", "/v1/models?id=another", body,
                          {"Content-Type": "application/octet-stream"})
        check(st == 201, "the model upload goes through once there is space (%s)" % st)
        temps = [f for f in os.listdir(STORE) + os.listdir(os.path.join(STORE, "datasets"))
                 if f.startswith(".") and f != ".keep"]
        check(temps == [], "no temporary file left by the refused uploads (%s)" % temps)
        log = open(os.path.join(TMP, "daemon.log")).read()
        check("the job store cannot write" in log and "the job store writes again" in log,
              "the log tells when jobs began and stopped waiting for the store")
        check(d.term() == 0, "SIGTERM: clean exit")
        d = None
    finally:
        if d is not None:
            d.kill9()
        if lock is not None:
            lock.close()
        if mounted:
            subprocess.run(["umount", "-l", DISK], timeout=30)
    return harness.summary("test_diskfull", TMP)


if __name__ == "__main__":
    status = main()
    if status == 0:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(status)
