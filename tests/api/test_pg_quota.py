#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
API suite, per-key limits shared by two replicas on one PostgreSQL job store:
A and B run with the same keys, --key-rate 0.5 --key-burst 4 and a daily
compute of 1.5 sampling requests' worth.

- rate: 8 quick requests of one key, alternating between A and B: exactly 4
  answered (one bucket in the database, not one per replica, which would
  answer all 8), the other 4 are 429 with Retry-After;
- compute: one sampling request through A fits the day's budget, the same
  through B is 429 "FLOPs today" (B sees what A charged);
- the database stopped under them: a key's requests are still answered
  (counted in the replica's memory: fail open), the log says so once, and
  once the database is back the replica says it counts in the store again.

Run as: with_pg.sh test_pg_quota.py PATH/TO/manifoldd MODELS_DIR.  Standard
library only; every request has a timeout and every wait loop is bounded.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, check, pg_args, summary  # noqa: E402

KEYS = {n: "%s-token-0000000000000000000000" % n for n in ["ops", "rate", "flops", "outage"]}


def auth(n):
    return {"Authorization": "Bearer " + KEYS[n]}


def pg_ctl(action):
    subprocess.run(os.environ["MF_TEST_PG_CTL"].split() + [action], check=True, timeout=60)


def main():
    daemon, models, store = pg_args("test_pg_quota.py")
    tmp = tempfile.mkdtemp(prefix="mf_api_pg_quota_")
    a = b = probe = None
    try:
        keyfile = os.path.join(tmp, "keys")
        with open(keyfile, "w") as f:
            for n, t in KEYS.items():
                f.write("%s %s %s\n" % (n, "admin" if n == "ops" else "read,sample", t))
        # a sampling request's cost is 2 FLOPs per weight per row-step (as test_auth.py)
        os.mkdir(os.path.join(tmp, "probe"))
        probe = Daemon(daemon, models, os.path.join(tmp, "probe"))
        weights = probe.json("GET", "/v1/models/gaussian")[2]["params"]
        probe.term()
        probe = None
        cost = 2 * weights * 20 * 5  # n 20, 5 steps
        limits = ["--api-keys", keyfile, "--key-rate", "0.5", "--key-burst", "4",
                  "--key-daily-flops", str(int(cost * 1.5))]
        for name in ("a", "b"):
            os.mkdir(os.path.join(tmp, name))
        a = Daemon(daemon, models, os.path.join(tmp, "a"), *limits, store=store)
        b = Daemon(daemon, models, os.path.join(tmp, "b"), *limits, store=store)

        answers = [(a, b)[i % 2].req("GET", "/v1/models", None, auth("rate"), timeout=10)[:2]
                   for i in range(8)]
        codes = [st for st, _ in answers]
        print("8 requests alternating between A and B:", codes)
        check(codes.count(200) == 4 and codes[:4] == [200] * 4,
              "one bucket for both replicas: the first 4 answered, no more (%s)" % codes)
        check(all(st == 429 and int(h.get("retry-after", "0")) >= 1 for st, h in answers[4:]),
              "the other 4: 429 with Retry-After (%s)"
              % [(st, h.get("retry-after")) for st, h in answers[4:]])

        body = {"model": "gaussian", "n": 20, "steps": 5, "sampler": "ddim"}
        st1 = a.json("POST", "/v1/samples", body, auth("flops"), timeout=30)[0]
        st2, h2, j2 = b.json("POST", "/v1/samples", body, auth("flops"), timeout=30)
        check(st1 == 200 and st2 == 429 and "FLOPs today" in j2["error"]["message"]
              and 1 <= int(h2.get("retry-after", "0")) <= 86400,
              "compute: A's request fits, the same through B is over the day's budget "
              "(%s, %s %s)" % (st1, st2, j2))

        pg_ctl("stop")
        sts = [a.req("GET", "/v1/models", None, auth("outage"), timeout=20)[0] for _ in range(3)]
        pg_ctl("start")
        check(sts == [200] * 3, "database down: requests still answered (%s)" % sts)
        # during an outage the store is asked again a second after its last failure
        time.sleep(1.0)
        log, back = "", []
        for _ in range(5):
            back.append(a.req("GET", "/v1/models", None, auth("outage"), timeout=20)[0])
            log = open(os.path.join(tmp, "a", "daemon.log")).read()
            if "counts the per-key limits again" in log:
                break
            time.sleep(0.5)
        check(back and all(st == 200 for st in back), "database back: answered (%s)" % back)
        check(log.count("cannot count the per-key limits") == 1,
              "A logs the outage of the shared limits once")
        check("counts the per-key limits again" in log, "and that it ended")
        for name, d in (("A", a), ("B", b)):
            check(d.term() == 0, "%s: SIGTERM, clean exit" % name)
        a = b = None
        return summary("api-pg-quota", tmp)
    finally:
        for d in (a, b, probe):
            if d is not None:
                d.kill9()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
