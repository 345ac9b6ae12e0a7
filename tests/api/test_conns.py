#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
Connections (issue 14): the per-address cap, the header deadline, the body
timeout, event streams that outlive both, the health listener with the main
pool full, and a 413 every client reads (the refused body is read first).

Two daemons with short timeouts, each on an ephemeral loopback port, and
1,100 idle connections to each.  Standard library only; every socket has a
timeout and every wait is bounded (the whole script takes about 25 s).

usage: test_conns.py PATH/TO/manifoldd MODELS_DIR
"""
import http.client
import json
import resource
import select
import socket
import sys
import tempfile
import threading
import time

import harness
from harness import check

DAEMON, MODELS = sys.argv[1], sys.argv[2]
TMP = tempfile.mkdtemp(prefix="mf-conns-")
IDLE = 1100
HEADER_S, BODY_S = 3.0, 6.0  # daemon A's timeouts
SAMPLE = {"model": "eight_gaussians", "n": 4, "sampler": "ddim", "steps": 10, "seed": 1}

# 1,100 sockets here, and as many in the daemon (it raises its own limit to the hard one)
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = 4 * IDLE if hard == resource.RLIM_INFINITY else min(hard, 4 * IDLE)
if soft != resource.RLIM_INFINITY and soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
if soft != resource.RLIM_INFINITY and soft < IDLE + 100:
    raise SystemExit("test_conns: the open files limit %d is below the %d this test needs" % (soft, IDLE + 100))


def Daemon(*extra):
    return harness.Daemon(DAEMON, MODELS, TMP, "--health-listen", "127.0.0.1:0", *extra)


def connect(port, src="127.0.0.1", timeout=10):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def open_idle(port, n):
    return [connect(port) for _ in range(n)]


def closed_by_server(socks, limit, stop_at=None):
    """The sockets the server closes (end of file or reset) within limit seconds, as
    {socket: seconds}; stops early once stop_at of them are closed."""
    p = select.poll()
    by_fd = {s.fileno(): s for s in socks}
    for fd in by_fd:
        p.register(fd, select.POLLIN)
    t0, out = time.time(), {}
    while time.time() < t0 + limit and (stop_at is None or len(out) < stop_at) and by_fd:
        for fd, _ in p.poll(100):
            s = by_fd.pop(fd)
            p.unregister(fd)
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if data == b"":
                out[s] = time.time() - t0
            else:
                print("unexpected bytes on an idle connection:", data[:80])
    return out


def close_all(socks):
    for s in socks:
        s.close()


def http_req(port, method, path, body=None, headers=None, src="127.0.0.1", timeout=10):
    """(status, headers, body) over a fresh connection from src."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(src, 0))
    h = dict(headers or {})
    if isinstance(body, dict):
        body = json.dumps(body)
        h["Content-Type"] = "application/json"
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data


def timed(fn, *args, **kw):
    t0 = time.time()
    try:
        out = fn(*args, **kw)
    except (OSError, http.client.HTTPException) as e:
        out = e
    return out, time.time() - t0


# ---- daemon A: the per-address cap and the header deadline -----------------------------
CAP = 64
d = Daemon("--header-timeout", str(HEADER_S), "--body-timeout", str(BODY_S), "--heartbeat", "30",
           "--max-running", "1", "--threads", "1", "--max-connections-per-ip", str(CAP))
check(d.health_port > 0, "the health port is on the port file's second line")
log = open(d.log.name).read()
check("open files limit" in log, "the daemon logs its open files limit")

t0 = time.time()
idle = open_idle(d.port, IDLE)
refused = closed_by_server(idle, 2.0, stop_at=IDLE - CAP)
held = [s for s in idle if s not in refused]
check(len(held) == CAP and len(refused) == IDLE - CAP,
      "%d connections from one address: %d held, the rest refused at once (%d held, %d refused in %.2f s)"
      % (IDLE, CAP, len(held), len(refused), time.time() - t0))
out, dt = timed(http_req, d.port, "GET", "/healthz")
check(isinstance(out, Exception), "one more connection from 127.0.0.1 is refused (%r)" % (out,))
out, dt = timed(http_req, d.health_port, "GET", "/healthz")
check(not isinstance(out, Exception) and out[0] == 200 and dt < 2,
      "health listener: /healthz 200 in %.3f s (%r)" % (dt, out if isinstance(out, Exception) else out[0]))
out, dt = timed(http_req, d.health_port, "GET", "/readyz")
check(not isinstance(out, Exception) and out[0] == 200 and json.loads(out[2])["status"] == "ready",
      "health listener: /readyz 200 ready")
out, _ = timed(http_req, d.health_port, "GET", "/v1/models")
check(not isinstance(out, Exception) and out[0] == 404, "health listener: nothing but the probes (404)")
out, dt = timed(http_req, d.port, "POST", "/v1/samples", SAMPLE, src="127.0.0.2")
check(not isinstance(out, Exception) and out[0] == 200 and dt < 10,
      "another address samples at once: 200 in %.3f s" % dt)
# 127.0.0.1 again: refused until the deadline closes its idle connections
t1, got = time.time(), None
while time.time() < t1 + 10 and got != 200:
    out, _ = timed(http_req, d.port, "POST", "/v1/samples", SAMPLE, timeout=5)
    got = None if isinstance(out, Exception) else out[0]
    if got != 200:
        time.sleep(0.2)
t = time.time() - t0
check(got == 200 and t < BODY_S - 0.5,
      "127.0.0.1 samples again once the header deadline freed its slots (%.2f s after the flood)" % t)
gone = closed_by_server(held, HEADER_S + 3)
check(len(gone) == CAP, "the %d idle connections were closed by the header timeout (%d)" % (CAP, len(gone)))
close_all(idle)


# ---- daemon A: what each timeout closes ----------------------------------------------------
def dribble(box):
    """Headers sent one byte every 0.25 s: the deadline closes it, though it is never idle."""
    s = connect(d.port)
    s.settimeout(0.25)
    t0, line = time.time(), b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200
    for ch in line:
        try:
            s.send(bytes([ch]))
            if s.recv(100) == b"":
                break
        except socket.timeout:
            continue
        except OSError:
            break
    box["dribble"] = time.time() - t0
    s.close()


def keep_alive(box):
    """A kept-alive connection idle after its answer: the header deadline, not the body timeout."""
    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=BODY_S + 4)
    c.request("GET", "/healthz")
    c.getresponse().read()
    t0 = time.time()
    try:
        c.sock.recv(100)
    except OSError:
        pass
    box["keep_alive"] = time.time() - t0
    c.close()


def stalled_body(box):
    """Headers in, then a stalled body: the body timeout."""
    s = connect(d.port, timeout=BODY_S + 4)
    s.sendall(b"POST /v1/samples HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
              b"Content-Length: 100\r\n\r\n{")
    t0 = time.time()
    try:
        s.recv(100)
    except OSError:
        pass
    box["body"] = time.time() - t0
    s.close()


def quiet_stream(box):
    """An event stream with nothing to say for longer than both timeouts stays open."""
    _, _, long_job = d.json("POST", "/v1/jobs", {"type": "train", "params": {"dataset": "gaussian", "steps": 200000, "hidden": [32]}})
    _, _, queued = d.json("POST", "/v1/jobs", {"type": "train", "params": {"dataset": "gaussian", "steps": 10, "hidden": [8]}})
    s = connect(d.port)
    s.sendall(("GET /v1/jobs/%s/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
               % queued["id"]).encode())
    got, t_end = b"", time.time() + 10
    while b'"queued"' not in got and time.time() < t_end:
        got += s.recv(65536)
    s.settimeout(0.5)
    quiet, t0 = b"", time.time()
    while time.time() < t0 + BODY_S + 1.5:  # longer than both timeouts, shorter than a heartbeat
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        quiet += data
        if data == b"":
            break
    box["stream_quiet"] = (b'"queued"' in got, quiet, time.time() - t0)
    d.json("POST", "/v1/jobs/%s/cancel" % queued["id"])
    s.settimeout(10)
    rest, t_end = b"", time.time() + 10
    while b"0\r\n\r\n" not in rest and time.time() < t_end:
        data = s.recv(65536)
        if data == b"":
            break
        rest += data
    box["stream_end"] = rest
    s.close()
    d.json("POST", "/v1/jobs/%s/cancel" % long_job["id"])


box = {}
threads = [threading.Thread(target=f, args=(box,)) for f in (dribble, keep_alive, stalled_body, quiet_stream)]
for t in threads:
    t.start()
for t in threads:
    t.join(40)
t = box.get("dribble", 99)
check(HEADER_S - 0.5 <= t < HEADER_S + 2.5,
      "headers sent a byte at a time: closed at the %.0f s header deadline (%.2f s)" % (HEADER_S, t))
t = box.get("keep_alive", 99)
check(HEADER_S - 0.5 <= t < HEADER_S + 2.5,
      "an idle kept-alive connection: closed by the header deadline (%.2f s)" % t)
t = box.get("body", 0)
check(BODY_S - 0.5 <= t < BODY_S + 3, "a stalled body: closed by the %.0f s body timeout (%.2f s)" % (BODY_S, t))
opened, quiet, t = box.get("stream_quiet", (False, b"?", 0))
check(opened and quiet == b"" and t >= BODY_S + 1,
      "an event stream quiet for %.1f s (more than both timeouts) stays open (%r)" % (t, quiet[:80]))
check(b'"cancelled"' in box.get("stream_end", b"") and box["stream_end"].endswith(b"0\r\n\r\n"),
      "... and still delivers the final event (%r)" % box.get("stream_end", b"")[-120:])


# ---- daemon A: 413 that the client reads ------------------------------------------------------
BIG = b"x" * (3 << 20)  # over --max-body (64 KiB), more than the socket buffers hold
for label, body in [("Content-Length", BIG), ("chunked", iter([BIG[i:i + 65536] for i in range(0, len(BIG), 65536)]))]:
    out, dt = timed(http_req, d.port, "POST", "/v1/samples", body, {"Content-Type": "application/json"})
    ok = not isinstance(out, Exception) and out[0] == 413
    check(ok and json.loads(out[2])["error"]["code"] == "too_large" and out[1].get("connection") == "close",
          "3 MiB JSON body (%s): http.client reads the 413 too_large, Connection: close (%r)"
          % (label, out if isinstance(out, Exception) else (out[0], out[2][:80])))
out, _ = timed(http_req, d.port, "POST", "/v1/models?id=big", b"\0" * 4100000,
               {"Content-Type": "application/octet-stream"})
check(not isinstance(out, Exception) and out[0] == 413, "upload over --max-upload: the 413 is read (%r)"
      % (out if isinstance(out, Exception) else out[0],))
# a client that waits for 100 Continue is answered before it sends anything
s = connect(d.port)
s.sendall(b"POST /v1/models?id=big HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
          b"Content-Length: 4100000\r\nExpect: 100-continue\r\n\r\n")
resp = s.recv(4096)
check(resp.startswith(b"HTTP/1.1 413") and b"too_large" in resp, "Expect: 100-continue: 413 at once (%r)" % resp[:40])
s.close()


# past the limit plus the few MiB we read of a refused body, the connection is closed unanswered
sent = [0]


def endless():
    for _ in range(1024):
        sent[0] += 65536
        yield b"x" * 65536


out, dt = timed(http_req, d.port, "POST", "/v1/samples", endless(), {"Content-Type": "application/json"}, timeout=20)
check(isinstance(out, Exception) and sent[0] < 32 << 20,
      "a 64 MiB chunked body: the server stops reading it, unanswered (%r after %d MiB)"
      % (out if isinstance(out, Exception) else out[0], sent[0] >> 20))
st, _, _ = d.req("GET", "/healthz")
check(st == 200, "healthy after the refused bodies")
check(d.term() == 0, "daemon A stops cleanly")

# ---- daemon B: the main pool full, the health listener answers --------------------------------
d = Daemon("--header-timeout", "2", "--max-connections-per-ip", "0", "--max-connections", "1024")
t0 = time.time()
idle = open_idle(d.port, IDLE)  # 1,024 taken, 76 wait in the listen queue
early = closed_by_server(idle, 0.5)
check(len(early) == 0, "no cap per address: none of the %d is refused (%d)" % (IDLE, len(early)))
out, dt = timed(http_req, d.health_port, "GET", "/healthz")
check(not isinstance(out, Exception) and out[0] == 200 and dt < 2,
      "pool full: the health listener's /healthz 200 in %.3f s" % dt)
out, dt = timed(http_req, d.port, "POST", "/v1/samples", SAMPLE, timeout=15)
check(not isinstance(out, Exception) and out[0] == 200 and dt < 10,
      "pool full: a sampling request on a fresh connection 200 in %.2f s (%.2f s after the flood)"
      % (dt, time.time() - t0))
check(dt > 0.5, "... once the header deadline freed slots: it waited (%.2f s), the pool was full" % dt)
close_all(idle)
check(d.term() == 0, "daemon B stops cleanly")

sys.exit(harness.summary("test_conns", TMP))
