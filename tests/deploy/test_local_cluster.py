#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
deploy/local-cluster.sh with three replicas on one PostgreSQL behind nginx (the
replica suite of issue 17): start's last output line is the load balancer's URL;
30 sampling calls through nginx are all answered and spread over the three replicas
(their /metrics); a model uploaded through nginx is sampled through every replica, and
once deleted through nginx is 404 on each within 1 s (one --model-store folder and a
note through PostgreSQL); X-Request-Id passes through (the client's, else nginx's own);
a streamed sampling call's events arrive through nginx before the call ends; then the
jobs (cluster_jobs.py): kill -9 of the replicas running a train and an S-MEME job,
Last-Event-ID across replicas, a rolling restart under load, PostgreSQL restarted
under a running job; stop leaves none of the processes of the pid files, and a second
stop is harmless.

usage: test_local_cluster.py SOURCE_ROOT MANIFOLDD
"""
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import FAILED, PASSED, Daemon, check, metric  # noqa: E402
import cluster_jobs  # noqa: E402


def at(port):
    """A harness Daemon's request methods for a daemon (or nginx) that runs already."""
    d = Daemon.__new__(Daemon)
    d.port = port
    return d


def req(port, method, path, body=None, headers=None):
    return at(port).req(method, path, body, headers)


def running(pid):
    """Whether a process runs (a zombie, ended and not yet reaped by its parent, does not)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def main():
    root, daemon = sys.argv[1], os.path.abspath(sys.argv[2])
    script = os.path.join(root, "deploy", "local-cluster.sh")
    tmp = tempfile.mkdtemp(prefix="mf-cluster-")
    os.chmod(tmp, 0o755)  # as root, PostgreSQL runs as the postgres user, who must get in
    cdir = os.path.join(tmp, "cluster")
    env = dict(os.environ, MANIFOLD_CLUSTER_DIR=cdir, MANIFOLD_CLUSTER_STORE="postgres",
               MANIFOLD_DAEMON=daemon, MANIFOLD_THREADS="1", MANIFOLD_DRAIN_TIMEOUT="3",
               MANIFOLD_JOB_LEASE="2")
    t0 = time.time()
    try:
        p = subprocess.run([script, "start", "3"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=90)
        out = p.stdout.decode()
        print(out, end="")
        check(p.returncode == 0, "start exits 0")
        last = out.rstrip("\n").split("\n")[-1]
        m = re.fullmatch(r"http://127\.0\.0\.1:(\d+)", last)
        check(m is not None, "start's last line is the URL alone: %r" % last)
        if p.returncode != 0 or m is None:
            return
        lb = int(m.group(1))
        ports = []
        for i in (1, 2, 3):
            with open(os.path.join(cdir, "replica-%d" % i, "port")) as f:
                ports.append([int(x) for x in f.read().split()])
        check(len(set(pp[0] for pp in ports)) == 3, "three replicas on three ports")

        # sampling calls spread over the replicas
        ok = 0
        for k in range(30):
            st, _, data = req(lb, "POST", "/v1/samples",
                              {"model": "eight_gaussians", "n": 4, "sampler": "ddim",
                               "steps": 10, "seed": k})
            ok += st == 200 and len(json.loads(data)["samples"]) == 4
        check(ok == 30, "30 sampling calls through nginx answered: %d" % ok)
        counts = []
        for main_port, health_port in ports:
            st, _, text = req(main_port, "GET", "/metrics")
            counts.append(metric(text, "manifold_sample_requests_total") if st == 200 else None)
            st, _, _ = req(health_port, "GET", "/readyz")
            check(st == 200, "replica's probe port answers /readyz")
        print("sampling calls per replica:", counts)
        check(all(c is not None and c >= 5 for c in counts),
              "every replica took a share of the calls (>= 5 of 30): %s" % counts)
        check(sum(c or 0 for c in counts) == 30, "the shares add up to 30: %s" % counts)

        # one --model-store folder: a model uploaded through nginx is sampled through every
        # replica at once (a lookup miss loads it), and deleted through nginx, 404 on each
        st, _, weights = req(lb, "GET", "/v1/models/eight_gaussians/weights")
        st, _, _ = req(lb, "POST", "/v1/models?id=shared-up", weights,
                       {"Content-Type": "application/octet-stream"})
        t_up = time.time()
        check(st == 201, "model uploaded through nginx: %s" % st)
        answers = []
        for main_port, _ in ports:
            st, _, data = req(main_port, "POST", "/v1/samples",
                              {"model": "shared-up", "n": 4, "sampler": "ddim", "steps": 10,
                               "seed": 1})
            answers.append(st == 200 and len(json.loads(data)["samples"]) == 4)
        check(all(answers) and time.time() - t_up < 1.5,
              "the upload sampled through every replica (%s) within %.2f s"
              % (answers, time.time() - t_up))
        st, _, _ = req(lb, "DELETE", "/v1/models/shared-up")
        t_del = time.time()
        gone = []
        while time.time() - t_del < 1.0 and gone != [404, 404, 404]:
            time.sleep(0.05)
            gone = [req(main_port, "GET", "/v1/models/shared-up")[0] for main_port, _ in ports]
        # the replica that deleted it announces it (NOTIFY): the others rescan at once
        check(st in (200, 204) and gone == [404, 404, 404],
              "deleted through nginx: 404 on every replica within %.2f s: %s %s"
              % (time.time() - t_del, st, gone))

        # X-Request-Id: the client's passes through; without one, nginx makes one
        st, h, _ = req(lb, "GET", "/v1/models", headers={"X-Request-Id": "deploy-test.42"})
        check(st == 200 and h.get("x-request-id") == "deploy-test.42",
              "the client's X-Request-Id comes back: %s" % h.get("x-request-id"))
        st, h, _ = req(lb, "GET", "/v1/models")
        check(re.fullmatch(r"[0-9a-f]{32}", h.get("x-request-id", "")) is not None,
              "nginx's $request_id without one: %s" % h.get("x-request-id"))
        st, _, _ = req(lb, "GET", "/healthz")
        check(st == 200, "/healthz through nginx")

        # a streamed sampling call: its events come through as they are made
        c = http.client.HTTPConnection("127.0.0.1", lb, timeout=60)
        c.request("POST", "/v1/samples",
                  body=json.dumps({"model": "digits", "n": 64, "sampler": "ddpm", "steps": 1000,
                                   "precision": "f32"}),  # f32: a call that lasts
                  headers={"Content-Type": "application/json", "Accept": "text/event-stream"})
        r = c.getresponse()
        check(r.status == 200 and r.getheader("Content-Type", "").startswith("text/event-stream"),
              "streamed call answered with an event stream")
        arrivals = []
        while True:
            line = r.readline()
            if not line:
                break
            if line.startswith(b"event:"):
                arrivals.append((time.time(), line[6:].strip().decode()))
        c.close()
        names = [n for _, n in arrivals]
        print("stream: %d events over %.2f s" % (len(arrivals), arrivals[-1][0] - arrivals[0][0]
                                                if arrivals else 0))
        check(names[:1] == ["status"] and names[-1:] == ["status"] and "progress" in names,
              "the stream's events: status ... progress ... status: %s" % names[:5])
        if arrivals:
            first_progress = next((t for t, n in arrivals if n == "progress"), arrivals[-1][0])
            check(arrivals[-1][0] - first_progress >= 0.3,
                  "progress arrived at least 0.3 s before the end (unbuffered): %.2f s"
                  % (arrivals[-1][0] - first_progress))

        cluster_jobs.run(lb, script, env, cdir, 3)
    finally:
        pidfiles = [os.path.join(cdir, "nginx", "nginx.pid")] + \
            [os.path.join(cdir, "replica-%d" % i, "pid") for i in (1, 2, 3)]
        pids = []
        for f in pidfiles:
            if os.path.exists(f):
                pids.append(int(open(f).read().split()[0]))
        p = subprocess.run([script, "stop"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120)
        print(p.stdout.decode(), end="")
        check(p.returncode == 0, "stop exits 0")
        check(len(pids) == 4, "start wrote four pid files: %d" % len(pids))
        gone = [pid for pid in pids if not running(pid)]
        check(gone == pids, "no process of the pid files is left: %s" %
              sorted(set(pids) - set(gone)))
        check(not any(os.path.exists(f) for f in pidfiles), "stop removes the pid files")
        p = subprocess.run([script, "stop"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        check(p.returncode == 0, "a second stop exits 0: %s" % p.stdout.decode())
        if FAILED:
            for f in ("replica-1/manifoldd.log", "nginx/error.log"):
                path = os.path.join(cdir, f)
                if os.path.exists(path):
                    print("--", f, open(path).read()[-2000:])
        shutil.rmtree(tmp, ignore_errors=True)
    print("local-cluster: %d passed, %d failed, %.1f s" % (PASSED[0], len(FAILED),
                                                          time.time() - t0))


if __name__ == "__main__":
    main()
    sys.exit(1 if FAILED else 0)
