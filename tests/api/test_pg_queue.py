#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
API suite, the shared queue of a PostgreSQL job store (issue 17): a job is
queued in the store, and any replica with room takes it, whichever replica
received it.

- A and B (--max-running 1 each) run a long train job each, both submitted
  through A (so B took one from the store); a third submitted through A
  waits; A is killed with kill -9 before it ever claims it; the long jobs
  are cancelled through B, and B, now with room, runs the waiting job to
  success (attempts 1: never started before), without any restart.
- C joins; of B and C, the one running a long job receives a short one, and
  the idle one runs it (its log says so) while the long job still runs; a
  cancel through the idle replica ends the long one; both stop cleanly.

Run as: with_pg.sh test_pg_queue.py PATH/TO/manifoldd MODELS_DIR.  Standard
library only; every request has a timeout and every wait loop is bounded.
"""
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, check, pg_args, summary, wait_state  # noqa: E402

LEASE = "2"
FINAL = {"succeeded", "failed", "cancelled"}


def train(d, name, steps):
    st, _, j = d.json("POST", "/v1/jobs", {"type": "train", "params": {
        "dataset": "two_moons", "steps": steps, "hidden": [64, 64], "out_model": name}})
    check(st in (200, 201, 202), "train %s submitted: %s %s" % (name, st, j))
    return j.get("id")


def wait_running(d, job, limit=15):
    """The job once it runs with some progress (or ended), or None."""
    t_end = time.time() + limit
    while time.time() < t_end:
        st, _, j = d.json("GET", "/v1/jobs/" + job, timeout=10)
        if st == 200 and (j["state"] in FINAL or (
                j["state"] == "running" and (j.get("progress") or {}).get("done", 0) > 0)):
            return j
        time.sleep(0.05)
    return None


def state(d, job):
    st, _, j = d.json("GET", "/v1/jobs/" + job, timeout=10)
    return j.get("state") if st == 200 else None


def main():
    daemon, models, store = pg_args("test_pg_queue.py")
    tmp = tempfile.mkdtemp(prefix="mf_api_pg_queue_")
    a = b = c = None
    try:
        for n in ("a", "b", "c"):
            os.mkdir(os.path.join(tmp, n))
        one = ("--job-lease", LEASE, "--max-running", "1", "--workers", "1")
        dirs = {}
        a = Daemon(daemon, models, os.path.join(tmp, "a"), *one, store=store)
        b = Daemon(daemon, models, os.path.join(tmp, "b"), *one, store=store)
        dirs[id(a)], dirs[id(b)] = "a", "b"

        # 1. both replicas busy (one job each, whoever received it); a job queued through A
        # waits; A dies before it claims it; once B has room, B runs it (no restart)
        long1, long2 = train(a, "q-long1", 3000), train(a, "q-long2", 3000)
        for j in (long1, long2):
            run = wait_running(b, j)
            check(run is not None and run["state"] == "running", "long job runs: %s" % run)
        second = train(a, "q-second", 100)
        time.sleep(0.8)
        check(state(a, second) == "queued", "the second job waits (both replicas full)")
        a.kill9()
        a = None
        for j in (long1, long2):
            st, _, _ = b.json("POST", "/v1/jobs/%s/cancel" % j, {}, timeout=10)
            check(st in (200, 202), "cancel %s through B: %s" % (j, st))
        t0 = time.time()
        done = wait_state(b, second, FINAL, limit=15)
        check(done is not None and done["state"] == "succeeded",
              "B ran the job dead A had queued: %s" % done)
        check(done is not None and done.get("attempts") == 1, "attempts 1: %s" % done)
        check(time.time() - t0 < 10, "within seconds (%.1f s)" % (time.time() - t0))

        # 2. a job submitted through a busy replica runs on the idle one
        c = Daemon(daemon, models, os.path.join(tmp, "c"), *one, store=store)
        dirs[id(c)] = "c"
        long3 = train(c, "q-long3", 3000)
        run = wait_running(c, long3)
        check(run is not None and run["state"] == "running", "long job runs: %s" % run)

        def ran(d, job):
            log = open(os.path.join(tmp, dirs[id(d)], "daemon.log")).read()
            return any(job in ln and "job running" in ln for ln in log.splitlines())

        busy, idle = (b, c) if ran(b, long3) else (c, b)
        third = train(busy, "q-third", 100)
        done = wait_state(busy, third, FINAL, limit=15)
        check(done is not None and done["state"] == "succeeded",
              "the job submitted through the busy replica succeeded: %s" % done)
        check(ran(idle, third) and not ran(busy, third), "the idle replica ran it")
        check(state(busy, long3) == "running", "while the long job still runs")

        # 3. cancel through B, whichever replica runs them
        st, _, _ = idle.json("POST", "/v1/jobs/%s/cancel" % long3, {}, timeout=10)
        check(st in (200, 202), "cancel through the other replica: %s" % st)
        done = wait_state(idle, long3, FINAL, limit=10)
        check(done is not None and done["state"] == "cancelled", "cancelled: %s" % done)
        check(b.term() == 0, "B: SIGTERM, clean exit")
        b = None
        check(c.term() == 0, "C: SIGTERM, clean exit")
        c = None
        return summary("api-pg-queue", tmp)
    finally:
        for d in (a, b, c):
            if d is not None:
                d.kill9()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
