# SPDX-License-Identifier: MIT
"""
Shared by the HTTP suites (test_api.py, test_client.py): start the real
manifoldd on an ephemeral loopback port with a fresh store, talk to it, count
checks.  Standard library only; every request has a timeout and every wait
loop is bounded.
"""
import http.client
import json
import os
import re
import signal
import struct
import subprocess
import sys
import time

FAILED = []
PASSED = [0]

# every time on the wire: RFC 3339, UTC, milliseconds (proto/json_util.h)
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


# Which sanitizer the daemon under test was built with ("thread", "address"), or "": set by
# ./test (MF_TEST_SANITIZER).  A test may leave out what takes minutes under one, and says so.
SANITIZER = os.environ.get("MF_TEST_SANITIZER", "")

def is_time(v):
    return isinstance(v, str) and TIME_RE.match(v) is not None


def check(cond, what):
    if cond:
        PASSED[0] += 1
    else:
        FAILED.append(what)
        print("FAIL", what, flush=True)


def summary(name, tmp):
    """Prints the counts (and the daemon log on failure); returns the exit status."""
    print("%s: %d passed, %d failed" % (name, PASSED[0], len(FAILED)))
    if FAILED:
        log = os.path.join(tmp, "daemon.log")
        if os.path.exists(log):
            print("daemon log:", open(log).read()[-3000:])
    return 1 if FAILED else 0


class Daemon:
    """manifoldd on 127.0.0.1:<any port>, its store (unless store names one) and model
    store under tmp."""

    def __init__(self, daemon, models, tmp, *extra, openapi=None, store=None):
        self.port_file = os.path.join(tmp, "port")
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        self.log = open(os.path.join(tmp, "daemon.log"), "a")
        args = [daemon, "--listen", "127.0.0.1:0", "--models", models,
                "--model-store", os.path.join(tmp, "models"),
                "--store", store or "sqlite:" + os.path.join(tmp, "jobs.db"),
                "--port-file", self.port_file, "--heartbeat", "0.5",
                "--max-body", "65536", "--max-upload", "4000000",
                "--cors", "https://app.example"] + list(extra)
        if openapi:
            args += ["--openapi", openapi]
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)
        for _ in range(200):
            if os.path.exists(self.port_file) and open(self.port_file).read().strip():
                break
            if self.proc.poll() is not None:
                raise SystemExit("manifoldd exited at start; see " + self.log.name)
            time.sleep(0.05)
        ports = open(self.port_file).read().split()
        self.port = int(ports[0])
        self.health_port = int(ports[1]) if len(ports) > 1 else 0  # with --health-listen
        self.url = "http://127.0.0.1:%d" % self.port

    def req(self, method, path, body=None, headers=None, timeout=60):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data

    def json(self, method, path, body=None, headers=None, timeout=60):
        st, h, data = self.req(method, path, body, headers, timeout)
        try:
            return st, h, json.loads(data) if data else None
        except ValueError:
            return st, h, {"_raw": data[:200]}

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def term(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)


def proc_status_mib(pid, field):
    """A size field of /proc/PID/status (VmRSS, VmHWM, ...) in MiB, or None."""
    for line in open("/proc/%d/status" % pid):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    return None


def metric(text, name):
    """The value of an unlabelled sample of /metrics text (bytes), or None."""
    for line in text.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def read_safetensors(path_or_bytes):
    """(metadata, {name: (dtype, shape, raw bytes)}) of a safetensors file or its bytes."""
    raw = path_or_bytes if isinstance(path_or_bytes, bytes) else open(path_or_bytes, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    tensors = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        tensors[name] = (t["dtype"], t["shape"], data[b:e])
    return header.get("__metadata__", {}), tensors


def write_safetensors(meta, tensors):
    """The bytes of a safetensors file of metadata and {name: (dtype, shape, raw bytes)}."""
    header, blobs, off = {"__metadata__": meta}, [], 0
    for name, (dtype, shape, blob) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(blob)]}
        blobs.append(blob)
        off += len(blob)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def pg_args(script):
    """(manifoldd, models dir, store URI) of a with_pg.sh test run as
    `with_pg.sh SCRIPT PATH/TO/manifoldd MODELS_DIR`; exits 2 with a usage line otherwise."""
    if len(sys.argv) != 3 or "MF_TEST_PG_URI" not in os.environ:
        print("usage: with_pg.sh %s PATH/TO/manifoldd MODELS_DIR" % script, file=sys.stderr)
        sys.exit(2)
    store = "postgres:///manifold?host=%s&user=postgres" % os.environ["MF_TEST_PG_DIR"]
    return sys.argv[1], sys.argv[2], store


def wait_state(d, job, states, limit=120):
    t_end = time.time() + limit
    while time.time() < t_end:
        st, _, j = d.json("GET", "/v1/jobs/" + job)
        if st == 200 and j["state"] in states:
            return j
        time.sleep(0.1)
    return None


def parse_stream(r, limit, max_events=10000, ndjson=False):
    """Reads an SSE or NDJSON response to its end (bounded); returns [(id, name, data)]."""
    out, cur = [], {}
    t_end = time.time() + limit
    while time.time() < t_end and len(out) < max_events:
        line = r.readline()
        if not line:
            break
        line = line.decode().rstrip("\n")
        if ndjson:
            if line:
                o = json.loads(line)
                if o.get("event") != "heartbeat":
                    out.append((o["id"], o["event"], o["data"]))
            continue
        if line == "":
            if "data" in cur:
                out.append((int(cur["id"]), cur["event"], json.loads(cur["data"])))
            cur = {}
        elif not line.startswith(":") and ":" in line:
            k, v = line.split(":", 1)
            cur[k] = v.strip()
    return out


def read_events(d, job, after=None, limit=60, max_events=10000, ndjson=False, headers=None):
    """Reads a job's stream to its end (bounded; headers: more, an API key's); returns
    [(id, name, data)]."""
    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=limit)
    h = dict(headers or {})
    h["Accept"] = "application/x-ndjson" if ndjson else "text/event-stream"
    if after is not None:
        h["Last-Event-ID"] = str(after)
    c.request("GET", "/v1/jobs/%s/events" % job, headers=h)
    out = parse_stream(c.getresponse(), limit, max_events, ndjson)
    c.close()
    return out
