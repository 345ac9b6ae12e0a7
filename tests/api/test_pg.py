#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
API suite, PostgreSQL job store (issue 17): the real manifoldd with
--store postgres://... on the throwaway server of tests/pg/with_pg.sh.

  1. start: /readyz ready; the URI's password never reaches the log;
  2. a train job of a few steps runs to succeeded and its event stream reads
     seqs 1..n without a gap, ending with its final status;
  3. the daemon restarted (SIGTERM, start again on the same database): the
     job, its result and every event are still there, and a new job runs;
  4. the database stopped under the daemon: /readyz says "store unreachable"
     (503); started again: ready again without a restart of the daemon.

Run as: with_pg.sh test_pg.py PATH/TO/manifoldd MODELS_DIR.  Standard library
only; every request has a timeout and every wait loop is bounded.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, check, read_events, summary, wait_state  # noqa: E402

PASSWORD = "Sekrit4217"


def events_ok(ev, what):
    check([e[0] for e in ev] == list(range(1, len(ev) + 1)), what + ": seqs 1..n")
    check(len(ev) >= 3 and ev[-1][1] == "status" and ev[-1][2].get("state") == "succeeded",
          what + ": ends with succeeded")


def wait_ready(d, want, limit=20):
    t_end = time.time() + limit
    while time.time() < t_end:
        st, _, j = d.json("GET", "/readyz", timeout=10)
        if (st == 200) == want:
            return st, j
        time.sleep(0.2)
    return st, j


def main():
    if len(sys.argv) != 3 or "MF_TEST_PG_URI" not in os.environ:
        print("usage: with_pg.sh test_pg.py PATH/TO/manifoldd MODELS_DIR", file=sys.stderr)
        return 2
    daemon, models = sys.argv[1], sys.argv[2]
    pg_dir, pg_ctl = os.environ["MF_TEST_PG_DIR"], os.environ["MF_TEST_PG_CTL"]
    # trust authentication ignores the password: it is here to be kept out of the log
    store = "postgres://postgres:%s@/manifold?host=%s" % (PASSWORD, pg_dir)
    tmp = tempfile.mkdtemp(prefix="mf_api_pg_")
    d = None
    try:
        d = Daemon(daemon, models, tmp, store=store)
        st, j = wait_ready(d, True)
        check(st == 200, "readyz ready on postgres")

        st, _, j = d.json("POST", "/v1/jobs", {"type": "train", "params": {
            "dataset": "two_moons", "steps": 200, "hidden": [16], "out_model": "pg-moons"}})
        check(st in (200, 201, 202), "train submitted: %s %s" % (st, j))
        job = j["id"]
        done = wait_state(d, job, {"succeeded", "failed", "cancelled"}, limit=60)
        check(done is not None and done["state"] == "succeeded", "train succeeded: %s" % done)
        ev = read_events(d, job, limit=20)
        events_ok(ev, "stream")

        check(d.term() == 0, "SIGTERM: clean exit")
        d = Daemon(daemon, models, tmp, store=store)
        st, _, again = d.json("GET", "/v1/jobs/" + job)
        check(st == 200 and again["state"] == "succeeded", "job kept across restart")
        check(again.get("result") == done.get("result"), "result kept")
        ev2 = read_events(d, job, limit=20)
        check(ev2 == ev, "events kept across restart")
        st, _, j = d.json("POST", "/v1/jobs", {"type": "train", "params": {
            "dataset": "two_moons", "steps": 50, "hidden": [8]}})
        job2 = j["id"] if st in (200, 201, 202) else None
        done2 = wait_state(d, job2, {"succeeded", "failed"}, limit=60) if job2 else None
        check(done2 is not None and done2["state"] == "succeeded", "a new job after restart")
        events_ok(read_events(d, job2, limit=20), "second job's stream")

        subprocess.run(pg_ctl.split() + ["stop"], check=True, timeout=60)
        st, j = wait_ready(d, False)
        check(st == 503 and "store unreachable" in str(j), "readyz: store unreachable: %s" % j)
        subprocess.run(pg_ctl.split() + ["start"], check=True, timeout=60)
        st, j = wait_ready(d, True)
        check(st == 200, "readyz ready again: %s" % j)
        st, _, j = d.json("GET", "/v1/jobs/" + job)
        check(st == 200 and j["state"] == "succeeded", "reads again after the database came back")

        check(d.term() == 0, "SIGTERM: clean exit")
        d = None
        log = open(os.path.join(tmp, "daemon.log")).read()
        check(PASSWORD not in log, "the password is not in the log")
        check("postgres://***@" in log, "the log names the store without its password")
        return summary("api-pg", tmp)
    finally:
        if d is not None:
            d.kill9()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
