#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
./run as a user runs it (issue 15): with MANIFOLD_LISTEN, MANIFOLD_STORE and
MANIFOLD_MODEL_STORE set, it serves on that address and keeps its state where
the variables say (./run adds no flag that would override them), and the
hints it prints use curl --json and the address it really listens on.  Then
Ctrl-C (SIGINT) drains and stops it.  Every wait is bounded.

usage: test_run.py SOURCE_ROOT
"""
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import harness
from harness import check

ROOT = sys.argv[1]
TMP = tempfile.mkdtemp(prefix="mf-run-")
with socket.socket() as s_:
    s_.bind(("127.0.0.1", 0))
    port = s_.getsockname()[1]
env = dict(os.environ, MANIFOLD_LISTEN="127.0.0.1:%d" % port,
           MANIFOLD_STORE="sqlite:" + os.path.join(TMP, "jobs.db"),
           MANIFOLD_MODEL_STORE=os.path.join(TMP, "models"))
p = subprocess.Popen([os.path.join(ROOT, "run")], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                     stderr=subprocess.STDOUT, text=True)
hints = []
t_end = time.time() + 240  # setup and an up-to-date build
while time.time() < t_end:
    line = p.stdout.readline()
    if not line:
        break
    hints.append(line.rstrip("\n"))
    if line.startswith("  curl") and "--json" in line:
        break
text = "\n".join(hints)
url = "http://127.0.0.1:%d" % port
check("Starting manifoldd on %s" % url in text, "./run names the address it listens on:\n%s" % text)
check("curl -s %s/v1/samples --json '" % url in text and " -d '" not in text,
      "the sampling hint uses curl --json and that address")
check(os.path.join(TMP, "models") in text, "the hint names the model store MANIFOLD_MODEL_STORE gave")
up = False
for _ in range(200):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", "/healthz")
        up = c.getresponse().status == 200
        c.close()
    except OSError:
        pass
    if up:
        break
    time.sleep(0.1)
check(up, "the daemon answers on MANIFOLD_LISTEN's port")
check(os.path.exists(os.path.join(TMP, "jobs.db")) and os.path.isdir(os.path.join(TMP, "models")),
      "the job store and the model store are where MANIFOLD_STORE and MANIFOLD_MODEL_STORE say")
p.send_signal(signal.SIGINT)
try:
    rc = p.wait(60)
except subprocess.TimeoutExpired:
    p.kill()
    rc = None
check(rc == 0, "Ctrl-C drains and stops it with status 0 (%s)" % rc)
rc = harness.summary("run", TMP)
if rc == 0:
    shutil.rmtree(TMP, ignore_errors=True)
sys.exit(rc)
