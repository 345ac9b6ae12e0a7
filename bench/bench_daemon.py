# SPDX-License-Identifier: MIT
"""
bench/bench_daemon.py - starts manifoldd for the job benchmarks (train_job.py,
reward_job.py): loopback, any free port, a fresh store under tmp, warnings only.
"""
import http.client
import json
import os
import subprocess
import time


def start(daemon, models, tmp):
    """Returns (process, port) once the daemon listens; exits if it does not start in 20 s."""
    port_file = os.path.join(tmp, "port")
    log = open(os.path.join(tmp, "daemon.log"), "w")
    proc = subprocess.Popen([daemon, "--listen", "127.0.0.1:0", "--port-file", port_file,
                             "--models", models, "--model-store", os.path.join(tmp, "models"),
                             "--store", "sqlite:" + os.path.join(tmp, "jobs.db"),
                             "--log-level", "warn"], stdout=log, stderr=log)
    for _ in range(400):
        if os.path.exists(port_file) and open(port_file).read().strip():
            return proc, int(open(port_file).read())
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise SystemExit("manifoldd did not start; see " + log.name)


FINAL = ("succeeded", "failed", "cancelled")


def job_events(port, job_type, params, timeout):
    """Submits a job and yields (arrival time, event name, data) from its NDJSON stream,
    the final status event last."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request("POST", "/v1/jobs", json.dumps({"type": job_type, "params": params}),
              {"Content-Type": "application/json"})
    r = c.getresponse()
    job = json.loads(r.read())
    if r.status != 202:
        raise SystemExit("submit: %s %s" % (r.status, job))
    c.request("GET", "/v1/jobs/%s/events?format=ndjson" % job["id"])
    try:
        for line in c.getresponse():
            ev = json.loads(line)
            yield time.monotonic(), ev["event"], ev["data"]
            if ev["event"] == "status" and ev["data"]["state"] in FINAL:
                return
    finally:
        c.close()
