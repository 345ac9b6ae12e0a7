# SPDX-License-Identifier: MIT
"""
The job half of the replica suite (test_local_cluster.py runs it on a started cluster:
three replicas on one PostgreSQL behind nginx, --job-lease 2):

- kill -9: a train job and a finetune.smeme job are submitted through nginx; the
  replicas running them (their logs say "job running") are killed with kill -9; the
  others take both over and finish them (attempts 2), S-MEME from its last iteration's
  checkpoint (each iteration's metrics once; the re-run's progress starts past
  iteration 1).
- Last-Event-ID across replicas: a client reading the train job's events through nginx
  is cut off, reconnects through nginx with Last-Event-ID after the takeover, and gets
  the rest: together every event once, in order, as a full read through one replica.
- rolling restart (deploy/local-cluster.sh restart, which also starts the killed
  replicas again): sampling calls sent through nginx all the while are all answered
  200, and a train job submitted before it succeeds.
- PostgreSQL restarted (db-restart 2) while a train job runs: the replicas' /readyz
  says 503 during the outage and 200 after it, and the job succeeds.

Every wait is bounded; the standard library only.
"""
import http.client
import json
import os
import re
import subprocess
import threading
import time

from harness import check

FINAL = {"succeeded", "failed", "cancelled"}


def _conn(port, timeout=30):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)


def call(port, method, path, body=None, headers=None, timeout=30):
    """(status, parsed JSON or None)."""
    c = _conn(port, timeout)
    h = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    try:
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        raw = r.read()
        try:
            return r.status, json.loads(raw) if raw else None
        except ValueError:
            return r.status, None
    except OSError:
        return 0, None
    finally:
        c.close()


def wait_job(lb, job, pred, limit):
    """The job once pred(job) holds (polled through nginx), or the last seen after limit s."""
    t_end, j = time.time() + limit, None
    while time.time() < t_end:
        st, j = call(lb, "GET", "/v1/jobs/" + job)
        if st == 200 and pred(j):
            return j
        time.sleep(0.1)
    return j


def events(port, job, after=None, max_events=100000, limit=60):
    """[(seq, name, data)] of job's SSE stream through port, from after on, until its end or
    max_events."""
    c = _conn(port, limit)
    h = {"Accept": "text/event-stream"}
    if after is not None:
        h["Last-Event-ID"] = str(after)
    c.request("GET", "/v1/jobs/%s/events" % job, headers=h)
    r = c.getresponse()
    out, cur, t_end = [], {}, time.time() + limit
    while time.time() < t_end and len(out) < max_events:
        line = r.readline()
        if not line:
            break
        line = line.decode().rstrip("\n")
        if line == "":
            if "data" in cur and cur.get("event") != "heartbeat":
                out.append((int(cur["id"]), cur["event"], json.loads(cur["data"])))
            cur = {}
        elif not line.startswith(":") and ":" in line:
            k, v = line.split(":", 1)
            cur[k] = v.strip()
    c.close()  # before the end: the client is cut off
    return out


def runner(cdir, job, n, limit=20):
    """The replica (1..n) whose log says it runs job, or None."""
    pat = re.compile(r"job=%s .*job running" % re.escape(job))
    t_end = time.time() + limit
    while time.time() < t_end:
        for i in range(1, n + 1):
            try:
                with open(os.path.join(cdir, "replica-%d" % i, "manifoldd.log")) as f:
                    if any(pat.search(line) for line in f):
                        return i
            except OSError:
                pass
        time.sleep(0.1)
    return None


def pid_of(cdir, i):
    with open(os.path.join(cdir, "replica-%d" % i, "pid")) as f:
        return int(f.read().split()[0])


def submit(lb, body):
    st, j = call(lb, "POST", "/v1/jobs", body)
    check(st in (200, 201, 202) and j and "id" in j, "%s submitted through nginx: %s" % (body["type"], st))
    return (j or {}).get("id", "none")


def kill9_takeover(lb, cdir, n):
    # The exploration first; once it has finished iteration 1 (a checkpoint), the train job;
    # once that makes progress, both runners die at once.  Both jobs run for seconds past
    # that point (several iterations, thousands of steps), whatever the machine's speed.
    smeme = submit(lb, {"type": "finetune.smeme", "model": "gaussian", "params": {
        "K": 5, "rounds": 60, "steps": 20, "trajectories": 16, "batch": 256,
        "n_metric_samples": 200, "seed": 3, "out_model": "cl-explored"}})
    it1 = wait_job(lb, smeme, lambda j: (j.get("metrics") or {}).get("iteration", -1) >= 1, 60)
    check((it1.get("metrics") or {}).get("iteration", -1) >= 1 and it1["state"] == "running",
          "the exploration reached iteration 1: %s" % (it1 or {}).get("metrics"))
    train = submit(lb, {"type": "train", "params": {
        "dataset": "two_moons", "steps": 6000, "hidden": [64, 64], "out_model": "cl-moons"}})
    wait_job(lb, train, lambda j: (j.get("progress") or {}).get("done", 0) > 0, 30)
    # a client follows the train job through nginx, then is cut off
    first = events(lb, train, max_events=3, limit=20)
    check([e[0] for e in first] == [1, 2, 3], "first events through nginx: %s" % first[:3])
    who = {job: runner(cdir, job, n) for job in (train, smeme)}
    check(None not in who.values(), "the replica running each job is found: %s" % who)
    victims = sorted(set(v for v in who.values() if v is not None))
    for i in victims:
        os.kill(pid_of(cdir, i), 9)
    t_kill = time.time()
    print("killed replica(s) %s (train on %s, smeme on %s)" % (victims, who[train], who[smeme]))

    done = {job: wait_job(lb, job, lambda j: j["state"] in FINAL, 120) for job in (train, smeme)}
    for job, j in done.items():
        check(j and j["state"] == "succeeded" and j.get("attempts") == 2,
              "%s finished by another replica: %s, attempts %s" % (
                  j and j["type"], j and j["state"], j and j.get("attempts")))
    print("both taken over and finished %.1f s after kill -9" % (time.time() - t_kill))

    # Last-Event-ID through nginx, which now reaches another replica: the rest, once
    rest = events(lb, train, after=first[-1][0] if first else 0, limit=20)
    whole = events(lb, train, limit=20)
    seqs = [e[0] for e in first + rest]
    check(seqs == list(range(1, len(seqs) + 1)) and len(seqs) == len(whole) and
          [e[:2] for e in first + rest] == [e[:2] for e in whole],
          "cut off after 3, resumed with Last-Event-ID: every event once, in order (%d + %d of "
          "%d)" % (len(first), len(rest), len(whole)))
    states = [e[2].get("state") for e in whole if e[1] == "status"]
    check(states[-3:] == ["queued", "running", "succeeded"],
          "the train job's log: the takeover's queued, running, succeeded: %s" % states)

    ev = events(lb, smeme, limit=20)
    its = [e[2]["iteration"] for e in ev if e[1] == "metrics"]
    check(its == [0, 1, 2, 3, 4, 5], "after the takeover each iteration's metrics appear once: "
          "%s" % its)
    runs = [k for k, e in enumerate(ev) if e[1] == "status" and e[2]["state"] == "running"]
    after = [e[2]["done"] for e in ev[runs[-1]:] if e[1] == "progress"] if len(runs) == 2 else []
    check(after and after[0] > 60, "the exploration went on from its checkpoint of iteration 1 "
          "(first progress of the re-run %s of 300 rounds)" % after[:1])
    return victims


def rolling_restart(lb, script, env, cdir, n):
    job = submit(lb, {"type": "train", "params": {
        "dataset": "two_moons", "steps": 1500, "hidden": [64, 64], "out_model": "cl-rolling"}})
    stop, answers = threading.Event(), []

    def load():
        k = 0
        while not stop.is_set() and k < 5000:
            st, j = call(lb, "POST", "/v1/samples", {"model": "eight_gaussians", "n": 8,
                                                      "sampler": "ddim", "steps": 10, "seed": k})
            answers.append(st if st == 200 else (st, ((j or {}).get("error") or {}).get("code")))
            k += 1

    threads = [threading.Thread(target=load) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    before = [pid_of(cdir, i) for i in range(1, n + 1)]
    p = subprocess.run([script, "restart"], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=180)
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join(60)
    print(p.stdout.decode(), end="")
    check(p.returncode == 0, "restart exits 0")
    after = [pid_of(cdir, i) for i in range(1, n + 1)]
    check(all(a != b for a, b in zip(after, before)), "every replica is a new process: %s -> %s"
          % (before, after))
    bad = [s for s in answers if s != 200]  # (status, error code) of the others
    check(len(answers) >= 20 and not bad,
          "sampling through nginx during the rolling restart: %d answered, none lost (%s)"
          % (len(answers), sorted(set(bad))))
    j = wait_job(lb, job, lambda j: j["state"] in FINAL, 120)
    check(j and j["state"] == "succeeded", "the train job submitted before the restart "
          "succeeded: %s (attempts %s)" % (j and j["state"], j and j.get("attempts")))


def ready_all(cdir, n):
    out = []
    for i in range(1, n + 1):
        with open(os.path.join(cdir, "replica-%d" % i, "port")) as f:
            hp = int(f.read().split()[1])
        out.append(call(hp, "GET", "/readyz", timeout=3)[0])
    return out


def db_restart(lb, script, env, cdir, n):
    job = submit(lb, {"type": "train", "params": {
        "dataset": "two_moons", "steps": 6000, "hidden": [64, 64], "out_model": "cl-dbdown"}})
    wait_job(lb, job, lambda j: j["state"] == "running", 20)
    p = subprocess.Popen([script, "db-restart", "2"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    seen_down, t_end = [], time.time() + 10
    while time.time() < t_end and p.poll() is None and 503 not in seen_down:
        seen_down = ready_all(cdir, n)
        time.sleep(0.1)
    out, _ = p.communicate(timeout=60)
    print(out.decode(), end="")
    check(p.returncode == 0, "db-restart exits 0")
    check(503 in seen_down, "replicas say not ready while the database is down: %s" % seen_down)
    t_end, st = time.time() + 20, []
    while time.time() < t_end and st != [200] * n:
        st = ready_all(cdir, n)
        time.sleep(0.1)
    check(st == [200] * n, "every replica ready again once it is back: %s" % st)
    j = wait_job(lb, job, lambda j: j["state"] in FINAL, 120)
    check(j and j["state"] == "succeeded", "the job running across the outage succeeded: %s "
          "(attempts %s) %s" % (j and j["state"], j and j.get("attempts"), j and j.get("error")))
    st, lst = call(lb, "GET", "/v1/jobs?limit=100")
    names = sorted(x.get("id") for x in (lst or {}).get("jobs", []))
    check(st == 200 and len(names) == 4, "all four jobs of this suite are in the store: %d"
          % len(names))


def run(lb, script, env, cdir, n):
    kill9_takeover(lb, cdir, n)
    rolling_restart(lb, script, env, cdir, n)
    db_restart(lb, script, env, cdir, n)
