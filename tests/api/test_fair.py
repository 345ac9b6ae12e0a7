#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
API suite, fair sampling: one client queues four large sampling requests,
another sends a small one while the first large one runs.  First come, first
served made the small one wait for all four; start-time fair queueing
(server/sample_batch.h) runs it right after the large one running.  The
test checks the order the answers come back in, not their times (times are
printed for the record).  The small request is sent while the first large
one runs; on a loaded machine it may reach the queue only after the second
has started, so it must come back before the third (first come, first
served would put it last).

Clients are API keys here; without keys they are peer addresses.  One worker
and --max-batch-rows 1000, so each large request is its own run.

usage: test_fair.py PATH/TO/manifoldd MODELS_DIR
"""
import json
import os
import shutil
import sys
import tempfile
import threading
import time

import harness
from harness import check

DAEMON, MODELS = sys.argv[1], sys.argv[2]
TMP = tempfile.mkdtemp(prefix="mf-fair-")
TOK = {"big": "big-token-0000000000000000000001", "small": "small-token-00000000000000000002"}
with open(os.path.join(TMP, "keys"), "w") as f:
    for n, t in TOK.items():
        f.write("%s read,sample %s\n" % (n, t))
d = harness.Daemon(DAEMON, MODELS, TMP, "--api-keys", os.path.join(TMP, "keys"), "--workers", "1",
                   "--max-batch-rows", "1000")
done = {}
t0 = time.time()


def sample(name, key, body):
    st, _, _ = d.json("POST", "/v1/samples", body, {"Authorization": "Bearer " + TOK[key]}, timeout=300)
    done[name] = (time.time() - t0, st)


# digits, 1000 rows x 100 DDIM steps: about a second each on two cores
# f32: the order below needs big calls long enough to queue behind one another (bf16, the
# default, runs them 5x faster)
big = {"model": "digits", "n": 1000, "sampler": "ddim", "steps": 100, "seed": 1, "metrics": False,
       "precision": "f32"}
small = {"model": "gaussian", "n": 4, "sampler": "ddim", "steps": 5, "seed": 1, "precision": "f32"}
threads = []
for i in range(4):
    th = threading.Thread(target=sample, args=("big%d" % i, "big", dict(big, seed=i + 1)))
    th.start()
    threads.append(th)
    time.sleep(0.05)  # queued in this order
time.sleep(0.1)       # the first large one is running
th = threading.Thread(target=sample, args=("small", "small", small))
th.start()
threads.append(th)
for th in threads:
    th.join(300)
order = sorted(done, key=lambda k: done[k][0])
print("finish order and times (s):", [(k, round(done[k][0], 2)) for k in order])
check(all(v[1] == 200 for v in done.values()) and len(done) == 5, "every request answered 200 (%s)" % done)
check(order.index("small") <= 2,
      "the small request waits behind at most the large one running when it came (and one that "
      "started while it was being read), not behind all four (%s)" % order)
check([k for k in order if k != "small"] == ["big0", "big1", "big2", "big3"],
      "one client's requests keep their order (%s)" % order)
d.term()
rc = harness.summary("api-fair", TMP)
if rc == 0:
    shutil.rmtree(TMP, ignore_errors=True)
sys.exit(rc)
