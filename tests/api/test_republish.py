#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
API suite, a job that runs again after it published its model: the process
running it published out_model and died before the job's end was stored (or,
on a shared store, its replica lost the job to another).  The re-run's model
replaces the earlier attempt's (both are this job's: the model's provenance
names it), rather than failing on "model exists".

Made here with a real run and the store set back as such a crash leaves it:
a train job succeeds; with the daemon stopped, its row goes back to running
and its final event is removed (sqlite3, as kill -9 between the two writes
would have left it); the next daemon re-runs it (attempts 2), and it
succeeds with a fresh model under the same id.  A different job naming the
same out_model is still refused: only the job's own earlier model is
replaced.

usage: test_republish.py PATH/TO/manifoldd MODELS_DIR
"""
import os
import shutil
import sqlite3
import sys
import tempfile

import harness
from harness import check, read_events, wait_state

DAEMON, MODELS = sys.argv[1], sys.argv[2]
TMP = tempfile.mkdtemp(prefix="mf-republish-")
TRAIN = {"type": "train", "params": {"dataset": "two_moons", "steps": 200, "hidden": [32, 32],
                                     "out_model": "re-pub"}}

d = harness.Daemon(DAEMON, MODELS, TMP)
st, _, j = d.json("POST", "/v1/jobs", TRAIN)
check(st == 202, "train submitted: %s %s" % (st, j))
job = j["id"]
j1 = wait_state(d, job, {"succeeded", "failed"}, 120)
check(j1 is not None and j1["state"] == "succeeded", "first run succeeded: %s" % (j1 or {}).get("state"))
MODEL_FILE = os.path.join(TMP, "models", "re-pub.safetensors")
def stamp():
    """The model file as (inode, mtime ns): a replaced file differs in one at least."""
    if not os.path.exists(MODEL_FILE):
        return None
    st_ = os.stat(MODEL_FILE)
    return st_.st_ino, st_.st_mtime_ns


ino1 = stamp()
check(d.term() == 0, "first daemon drained")

# the store as a crash between "model published" and "job succeeded stored" leaves it
db = sqlite3.connect(os.path.join(TMP, "jobs.db"))
with db:
    last = db.execute("SELECT last_seq FROM jobs WHERE id = ?", (job,)).fetchone()[0]
    db.execute("DELETE FROM events WHERE job_id = ? AND seq = ?", (job, last))
    db.execute("UPDATE jobs SET state = 1, result = NULL, finished_at = 0, last_seq = ? "
               "WHERE id = ?", (last - 1, job))
db.close()

d = harness.Daemon(DAEMON, MODELS, TMP)
j2 = wait_state(d, job, {"succeeded", "failed"}, 120)
check(j2 is not None and j2["state"] == "succeeded" and j2["attempts"] == 2,
      "the re-run succeeded at attempt 2 (not 'model exists'): %s %s"
      % ((j2 or {}).get("state"), (j2 or {}).get("error")))
st, _, m2 = d.json("GET", "/v1/models/re-pub")
ino2 = stamp()
check(st == 200 and job in m2["metadata"].get("provenance", "") and ino2 not in (None, ino1),
      "re-pub is the re-run's model, a new file (%s, file %s, before %s)"
      % (m2.get("metadata", {}).get("provenance"), ino2, ino1))
ev = read_events(d, job, limit=30)
states = [e[2].get("state") for e in ev if e[1] == "status"]
check([e[0] for e in ev] == list(range(1, len(ev) + 1)) and states[-3:] == ["queued", "running",
                                                                           "succeeded"],
      "its log: gap-free, the re-run's queued, running, succeeded: %s" % states)
log = open(os.path.join(TMP, "daemon.log")).read()
check("model re-pub of an earlier attempt replaced" in log, "the log says it replaced it")

# another job naming the same model is refused, and the model stays the first job's
st, _, j = d.json("POST", "/v1/jobs", TRAIN)
other = wait_state(d, j["id"], {"succeeded", "failed"}, 120) if st == 202 else None
_, _, m3 = d.json("GET", "/v1/models/re-pub")
check((st != 202 or (other is not None and other["state"] == "failed")) and
      job in m3["metadata"].get("provenance", ""),
      "another job with the same out_model does not replace it: %s %s" % (st, (other or {}).get("error")))
check(d.term() == 0, "second daemon drained")
rc = harness.summary("api-republish", TMP)
if rc == 0:
    shutil.rmtree(TMP, ignore_errors=True)
sys.exit(rc)
