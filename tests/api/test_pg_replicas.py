#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
API suite, two replicas on one PostgreSQL job store (issue 17: job leases):
two manifoldd processes, A and B, share the database of tests/pg/with_pg.sh
with short leases (--job-lease 2).  B (heartbeat 30 s) streams the events
of a long train job A runs, and they arrive as A makes them, not at B's next heartbeat (the store's LISTEN/NOTIFY
wakes B's stream), and cancels it.  Then A runs a train job and is killed
with kill -9; B finds A's lease expired, takes the job over
and finishes it: succeeded, attempts 2, and its event stream, read through B,
numbered 1..n without a gap, with the takeover's "queued" status between
A's run and B's.

Run as: with_pg.sh test_pg_replicas.py PATH/TO/manifoldd MODELS_DIR.  Standard
library only; every request has a timeout and every wait loop is bounded.
"""
import http.client
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, check, pg_args, read_events, summary, wait_state  # noqa: E402

LEASE = "2"


def wait_running(d, job, limit=20):
    """The job once it runs on d's replica with some progress, or None."""
    t_end = time.time() + limit
    while time.time() < t_end:
        st, _, j = d.json("GET", "/v1/jobs/" + job, timeout=10)
        if st == 200 and j["state"] == "running" and j.get("started_at") and \
                (j.get("progress") or {}).get("done", 0) > 0:
            return j
        if st == 200 and j["state"] not in ("queued", "running"):
            return j
        time.sleep(0.05)
    return None


def arrivals(d, job, window):
    """(seconds since the stream opened, seq) of each event of job's NDJSON stream through d
    during window seconds (heartbeats left out)."""
    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
    c.request("GET", "/v1/jobs/%s/events" % job, headers={"Accept": "application/x-ndjson"})
    r = c.getresponse()
    t0 = time.time()
    out = []
    while time.time() - t0 < window:
        # each read waits at most until the window ends; a timed-out socket file refuses every
        # later read ("cannot read from timed out object"), so a timeout ends the window
        c.sock.settimeout(max(0.01, window - (time.time() - t0)))
        try:
            line = r.readline()
        except OSError:
            break
        if not line:
            break
        if line.strip():
            o = json.loads(line)
            if o.get("event") != "heartbeat":
                out.append((time.time() - t0, o["id"]))
    c.close()
    return out


def train_running(a, steps, out_model, what):
    """A train job submitted through replica a, once it runs there with some progress: its id."""
    st, _, j = a.json("POST", "/v1/jobs", {"type": "train", "params": {
        "dataset": "two_moons", "steps": steps, "hidden": [64, 64], "out_model": out_model}})
    check(st in (200, 201, 202), "%s submitted through A: %s %s" % (what, st, j))
    run = wait_running(a, j.get("id", ""))
    check(run is not None and run["state"] == "running", "runs on A: %s" % run)
    return j.get("id", "")


def main():
    daemon, models, store = pg_args("test_pg_replicas.py")
    tmp = tempfile.mkdtemp(prefix="mf_api_pg_replicas_")
    a = b = None
    try:
        os.mkdir(os.path.join(tmp, "a"))
        os.mkdir(os.path.join(tmp, "b"))
        a = Daemon(daemon, models, os.path.join(tmp, "a"), "--job-lease", LEASE, store=store)

        # B streams a job A runs: a long one, cancelled once seen (its length must not matter)
        long_job = train_running(a, 200000, "moons-long", "long train")
        # B only now: an idle replica takes queued jobs from the store, whoever received them
        b = Daemon(daemon, models, os.path.join(tmp, "b"), "--job-lease", LEASE,
                   "--heartbeat", "30", store=store)
        got = arrivals(b, long_job, 2.0)  # progress comes every 0.5 s (server/job.c)
        print("events through B (s, seq):", [(round(t, 3), q) for t, q in got])
        later = [e for e in got if e[0] > got[0][0] + 0.3] if got else []
        check(len(later) >= 2 and [e[1] for e in got] == list(range(1, len(got) + 1)),
              "B streams A's events as A makes them (%d of %d arrived after the first "
              "read; seqs 1..n)" % (len(later), len(got)))
        st, _, _ = b.json("POST", "/v1/jobs/%s/cancel" % long_job)
        gone = wait_state(a, long_job, {"cancelled"}, limit=20)
        check(gone is not None, "cancelled through B, seen through A")
        check(b.term() == 0, "B stops before the next job, so that A alone can take it")
        b = None

        # A runs a job and is killed with kill -9 as soon as it makes progress
        job = train_running(a, 3000, "moons-ha", "train")
        a.kill9()
        t_kill = time.time()
        a = None
        b = Daemon(daemon, models, os.path.join(tmp, "b"), "--job-lease", LEASE, store=store)

        took = None  # until B runs it: a lease to expire, then B's next reclaim (every lease/2)
        t_end = time.time() + 30
        while took is None and time.time() < t_end:
            st, _, j = b.json("GET", "/v1/jobs/" + job, timeout=10)
            if st == 200 and j.get("attempts") == 2:
                took = time.time() - t_kill
            time.sleep(0.05)
        done = wait_state(b, job, {"succeeded", "failed", "cancelled"}, limit=120)
        check(done is not None and done["state"] == "succeeded",
              "B finished it after A died: %s" % done)
        check(done is not None and done.get("attempts") == 2, "attempts 2: %s" % done)
        ev = read_events(b, job, limit=20)
        seqs = [e[0] for e in ev]
        check(seqs == list(range(1, len(ev) + 1)), "events through B: seqs 1..n without a gap")
        states = [e[2].get("state") for e in ev if e[1] == "status"]
        check(states[:2] == ["queued", "running"] and states[-3:] == ["queued", "running",
                                                                       "succeeded"],
              "status events: A's run, the takeover, B's run: %s" % states)
        check(took is not None and took < 10, "B started it within a few leases of the kill "
              "(%s s)" % (took and round(took, 1)))
        log = open(os.path.join(tmp, "b", "daemon.log")).read()
        check("jobs re-queued here" in log, "B's log says it took jobs over")
        check(b.term() == 0, "B: SIGTERM, clean exit")
        b = None
        return summary("api-pg-replicas", tmp)
    finally:
        for d in (a, b):
            if d is not None:
                d.kill9()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
