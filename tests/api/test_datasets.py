#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
API suite, datasets: starts the real manifoldd (harness.py) and drives
/v1/datasets as a user would: uploads in each format, the list and the
description (means and standard deviations checked against numbers computed
here), malformed files over HTTP (each a 4xx with its code and the line or
byte in the field and the message), limits, built-in protection, delete, a
train job on an uploaded CSV whose model samples near the data, and datasets
surviving kill -9.  Standard library only; every request has a timeout and
every wait loop is bounded.

usage: test_datasets.py PATH/TO/manifoldd MODELS_DIR
"""
import json
import math
import os
import random
import shutil
import socket
import struct
import sys
import tempfile

import harness
from harness import check, wait_state

DAEMON, MODELS = sys.argv[1], sys.argv[2]
TMP = tempfile.mkdtemp(prefix="mf-datasets-")
LIMITS = ("--max-dataset-rows", "1000", "--max-dataset-cols", "8")
BUILTIN = {"gaussian": 2, "eight_gaussians": 2, "imbalanced_square": 2, "two_moons": 2, "swiss_roll": 2,
           "checkerboard": 2, "pinwheel": 2, "ring": 2, "linear_subspace": 64, "digits": 64}
CSV, NDJSON, NPY = "text/csv", "application/x-ndjson", "application/octet-stream"


def Daemon():
    return harness.Daemon(DAEMON, MODELS, TMP, "--max-running", "1", *LIMITS)


def npy(rows, descr="<f8", version=1, shape=None, fortran=False, cut=0):
    """A .npy file of rows (a list of lists) as NumPy writes it, optionally lying or cut."""
    shape = shape if shape is not None else (len(rows), len(rows[0]))
    dict_ = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (
        descr, "True" if fortran else "False", ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else ""))
    pre = 10 if version == 1 else 12
    hlen = (pre + len(dict_) + 1 + 63) // 64 * 64 - pre
    head = b"\x93NUMPY" + bytes([version, 0]) + struct.pack("<H" if version == 1 else "<I", hlen)
    head += (dict_ + " " * (hlen - len(dict_) - 1) + "\n").encode()
    fmt = {"<f8": "<d", "<f4": "<f", ">f4": ">f", "<i4": "<i"}[descr]
    data = b"".join(struct.pack(fmt, v) for r in rows for v in r)
    body = head + data
    return body[:len(body) - cut] if cut else body


def stats(rows):
    """Column means and population standard deviations."""
    n, dims = len(rows), len(rows[0])
    mean = [sum(r[j] for r in rows) / n for j in range(dims)]
    std = [math.sqrt(sum((r[j] - mean[j]) ** 2 for r in rows) / n) for j in range(dims)]
    return mean, std


def close(a, b, tol=1e-5):
    return len(a) == len(b) and all(abs(x - y) <= tol * max(1.0, abs(y)) for x, y in zip(a, b))


def upload(d, id_, body, ctype):
    h = {"Content-Type": ctype} if ctype else {}
    return d.json("POST", "/v1/datasets?id=" + id_, body.encode() if isinstance(body, str) else body, h)


def train(d, params, limit=180):
    st, _, j = d.json("POST", "/v1/jobs", {"type": "train", "params": params})
    if st != 202:
        return st, j
    return st, wait_state(d, j["id"], ["succeeded", "failed", "cancelled"], limit)


d = Daemon()

# ---- built-ins, listed read-only ---------------------------------------------------------
st, _, j = d.json("GET", "/v1/datasets")
listed = {x["id"]: x for x in j["datasets"]} if st == 200 else {}
check(st == 200 and set(listed) == set(BUILTIN), "the list holds the built-in datasets (%s)" % sorted(listed))
check(all(listed[k]["builtin"] and listed[k]["protected"] and listed[k]["dims"] == v and listed[k]["rows"] is None
          for k, v in BUILTIN.items() if k in listed), "built-ins: builtin, protected, their dims, no rows")
check([x["id"] for x in j["datasets"]] == sorted(listed), "the list is sorted by id")
st, _, j = d.json("GET", "/v1/datasets/digits")
check(st == 200 and j["dims"] == 64 and j["mean"] is None and j["builtin"], "describe a built-in")

# ---- uploads in each format ----------------------------------------------------------------
rnd = random.Random(7)
csv_rows = [[round(rnd.uniform(-3, 3), 4), round(rnd.gauss(10, 2), 4), round(rnd.uniform(0, 1), 4)] for _ in range(40)]
labels = [None if i % 3 == 0 else i % 2 for i in range(40)]
csv_text = "x0, x1 ,x2,y\r\n" + "".join("%r,%r,%r,%s\r\n" % (a, b, c, "" if y is None else y)
                                         for (a, b, c), y in zip(csv_rows, labels))
st, h, j = upload(d, "mixed.csv", csv_text, CSV)
mean, std = stats(csv_rows)
check(st == 201 and h.get("location") == "/v1/datasets/mixed.csv", "csv upload: 201 and Location (%s %s)" % (st, j))
check(j.get("id") == "mixed.csv" and not j["builtin"] and not j["protected"] and j["rows"] == 40 and j["dims"] == 3
      and j["labelled_rows"] == sum(1 for y in labels if y is not None), "csv upload: rows, dims, labelled rows")
check(close(j.get("mean", []), mean) and close(j.get("std", []), std),
      "csv upload: mean and std as computed here (%s vs %s)" % (j.get("std"), std))
check(j["bytes"] == 128 + 40 * 4 * 4 and harness.is_time(j["created"]), "csv upload: stored bytes, created (%s)" % j)
csv_object = j

nd_rows = [[1.5, -2.0], [3.25, 4.0], [0.0, 1e-3], [-7.0, 2.5]]
nd_text = "[1.5,-2]\n{\"x\":[3.25,4],\"y\":1}\n\n{\"y\":null,\"x\":[0,0.001]}\n{\"x\":[-7,2.5],\"y\":-2.5}"
st, _, j = upload(d, "rows", nd_text, NDJSON)
mean, std = stats(nd_rows)
check(st == 201 and j["rows"] == 4 and j["dims"] == 2 and j["labelled_rows"] == 2
      and close(j["mean"], mean) and close(j["std"], std), "ndjson upload (%s %s)" % (st, j))

np_rows = [[i * 0.5, -i, i * i / 10.0] for i in range(25)]
mean, std = stats(np_rows)
for id_, body in (("arr8", npy(np_rows)), ("arr4", npy(np_rows, "<f4", version=2))):
    st, _, j = upload(d, id_, body, NPY)
    check(st == 201 and j["rows"] == 25 and j["dims"] == 3 and j["labelled_rows"] == 0
          and close(j["mean"], mean) and close(j["std"], std), "npy upload %s (%s %s)" % (id_, st, j))

st, _, j = d.json("GET", "/v1/datasets")
ups = [x for x in j["datasets"] if not x["builtin"]]
check(st == 200 and [x["id"] for x in ups] == ["arr4", "arr8", "mixed.csv", "rows"]
      and all("mean" not in x for x in j["datasets"]), "the list holds the uploads, without statistics")
st, _, j = d.json("GET", "/v1/datasets/mixed.csv")
check(st == 200 and j == csv_object, "describe = the upload's answer")

# ---- conflicts, media types, ids ---------------------------------------------------------------
for id_, body, ctype, want, code, field in [
        ("rows", nd_text, NDJSON, 409, "exists", "id"),
        ("ring", "1,2\n", CSV, 409, "protected", "id"),
        ("new", "1,2\n", "application/json", 415, "unsupported_media_type", None),
        ("new", "1,2\n", "text/plain", 415, "unsupported_media_type", None),
        ("new", "1,2\n", None, 415, "unsupported_media_type", None),
        ("new", "1,2\n", "text/csvx", 415, "unsupported_media_type", None),
        ("Bad/Id", "1,2\n", CSV, 400, "bad_value", "id")]:
    st, _, j = upload(d, id_, body, ctype)
    check(st == want and j["error"]["code"] == code and j["error"]["field"] == field,
          "upload %s as %s: %d %s (%s %s)" % (id_, ctype, want, code, st, j.get("error")))
st, _, j = d.json("POST", "/v1/datasets", "1,2\n", {"Content-Type": CSV})
check(st == 400 and j["error"]["code"] == "missing_field" and j["error"]["field"] == "id", "upload without an id: 400")
st, _, j = upload(d, "semi", "1,2\n", "text/csv; charset=utf-8")
check(st == 201, "text/csv with a charset parameter is csv (%s)" % st)

# ---- malformed files: 4xx, the code, the line or byte in the field and the message ---------
good_npy = npy([[1.0, 2.0], [3.0, 4.0]])
bad = [
    (CSV, "", 422, "invalid_dataset", "line 1", "empty"),
    (CSV, "x0,x1\n", 422, "invalid_dataset", "line 2", "no data rows"),
    (CSV, "1,2\n3,4\n5\n", 422, "invalid_dataset", "line 3", "1 cells, expected 2"),
    (CSV, "1,2\n3,NaN\n", 422, "invalid_dataset", "line 2", "not finite"),
    (CSV, "1,2\n3,inf\n", 422, "invalid_dataset", "line 2", "not finite"),
    (CSV, "x0,x1\n1,2\n3,abc\n", 422, "invalid_dataset", "line 3", "\"abc\" is not a number"),
    (CSV, "1,2\n3,1e39\n", 422, "invalid_dataset", "line 2", "float32"),
    (CSV, "x0,x2\n1,2\n", 422, "invalid_dataset", "line 1", "no column name"),
    (NDJSON, "[1,2]\n[3]\n", 422, "invalid_dataset", "line 2", "1 values, expected 2"),
    (NDJSON, "[1,2]\n[3,NaN]\n", 422, "invalid_dataset", "line 2", "not a JSON array or object"),
    (NDJSON, "[1,2]\n{\"x\":[1,2],\"w\":3}\n", 422, "invalid_dataset", "line 2", "unknown member"),
    (NPY, b"", 422, "invalid_dataset", "byte 0", "empty"),
    (NPY, b"PK\x03\x04", 422, "invalid_dataset", "byte 0", "not a .npy"),
    (NPY, npy([[1, 2]], "<i4"), 422, "invalid_dataset", "byte 20", "dtype must be"),
    (NPY, npy([[1, 2]], ">f4"), 422, "invalid_dataset", "byte 20", "big-endian"),
    (NPY, npy([[1, 2]], fortran=True), 422, "invalid_dataset", "byte 44", "fortran_order True"),
    (NPY, npy([[1, 2]], shape=(2,)), 422, "invalid_dataset", "byte 10", "1 dimensions"),
    (NPY, good_npy[:-3], 422, "invalid_dataset", "byte %d" % (len(good_npy) - 3), "ends after 29 of the 32"),
    (NPY, good_npy + b"\x00" * 8, 422, "invalid_dataset", "byte %d" % len(good_npy), "8 bytes after the data"),
    (NPY, npy([[1, 2]], shape=(3, 2)), 422, "invalid_dataset", "byte %d" % len(npy([[1, 2]])), "ends after 16 of the 48"),
    (NPY, npy([[1.0, float("nan")]]), 422, "invalid_dataset", "byte %d" % (len(good_npy) - 24), "not finite"),
]
for ctype, body, want, code, field, words in bad:
    st, _, j = upload(d, "broken", body, ctype)
    e = j.get("error", {}) if isinstance(j, dict) else {}
    check(st == want and e.get("code") == code and e.get("field") == field and e.get("message", "").startswith(field + ":")
          and words in e.get("message", ""),
          "malformed %s %r: %d %s at %s (got %s %s)" % (ctype, body[:30], want, code, field, st, e))
st, _, j = d.json("GET", "/v1/datasets/broken")
check(st == 404, "nothing stored from the malformed uploads")
st, _, _ = d.json("GET", "/healthz")
check(st == 200, "healthy after the malformed uploads")

# ---- limits: rows, columns, bytes ----------------------------------------------------------
for ctype, body, field, words in [
        (CSV, "".join("%d,%d\n" % (i, i) for i in range(1001)), "line 1001", "more rows than the limit of 1000"),
        (CSV, "1,2,3,4,5,6,7,8,9\n", "line 1", "9 columns, over the limit of 8"),
        (NDJSON, "[1,2,3,4,5,6,7,8,9]\n", "line 1", "9 columns"),
        (NPY, npy([[0.0]] * 1001), "byte 10", "1001 rows, over the limit of 1000"),
        (NPY, npy([[0.0] * 9]), "byte 10", "9 columns")]:
    st, _, j = upload(d, "big", body, ctype)
    e = j.get("error", {})
    check(st == 413 and e.get("code") == "too_large" and e.get("field") == field and words in e.get("message", ""),
          "over a limit (%s): 413 too_large at %s (got %s %s)" % (ctype, field, st, e))
st, _, j = upload(d, "max", "".join("%d,%d\n" % (i, -i) for i in range(1000)), CSV)
check(st == 201 and j["rows"] == 1000, "exactly the row limit is fine")
s_ = socket.create_connection(("127.0.0.1", d.port), timeout=5)
s_.sendall(b"POST /v1/datasets?id=huge HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/csv\r\nContent-Length: 4000001\r\n"
           b"Expect: 100-continue\r\n\r\n")  # a client that waits: answered before the body
resp = s_.recv(4000)
s_.close()
check(resp.startswith(b"HTTP/1.1 413") and b'"too_large"' in resp, "a body over --max-upload: 413 before it is read")

# ---- delete, protection ---------------------------------------------------------------------
st, _, j = d.json("DELETE", "/v1/datasets/two_moons")
check(st == 409 and j["error"]["code"] == "protected", "a built-in cannot be deleted")
st, _, _ = d.req("DELETE", "/v1/datasets/semi")
st2, _, _ = d.req("GET", "/v1/datasets/semi")
st3, _, j = d.json("DELETE", "/v1/datasets/semi")
check(st == 204 and st2 == 404 and st3 == 404 and j["error"]["code"] == "not_found", "delete: 204, then 404")
check(not os.path.exists(os.path.join(TMP, "models", "datasets", "semi.npy"))
      and os.path.exists(os.path.join(TMP, "models", "datasets", "rows.npy")), "delete removes the file")

# ---- train jobs on an uploaded dataset --------------------------------------------------------
# a ring of radius 2 around (5, -3): the model must learn the offset, not just a shape at 0
ring = []
for _ in range(300):
    a = rnd.uniform(0, 2 * math.pi)
    ring.append((5 + 2 * math.cos(a) + rnd.gauss(0, 0.05), -3 + 2 * math.sin(a) + rnd.gauss(0, 0.05)))
st, _, j = upload(d, "ring-up", "x0,x1\n" + "".join("%.5f,%.5f\n" % p for p in ring), CSV)
check(st == 201 and j["rows"] == 300, "the ring uploaded")
small = {"dataset": "ring-up", "steps": 400, "hidden": [128, 128], "lr": 5e-3, "warmup": 20, "ema": 0.9, "seed": 3}
st, jt = train(d, dict(small, out_model="ring-model"))
check(jt is not None and jt["state"] == "succeeded" and jt["params"]["dataset"] == "ring-up",
      "a train job on an uploaded CSV succeeds (%s)" % (jt or {}).get("error"))
met = (jt or {}).get("metrics") or {}
check(met.get("step") == 400 and met.get("loss") is not None and met.get("heldout_loss") is None,
      "on an upload the train metrics have no held-out loss (no held-out split): %s" % met)
st, _, m = d.json("GET", "/v1/models/ring-model")
check(st == 200 and m["dataset"] == "ring-up" and m["data_dim"] == 2, "its model names the dataset (%s)" % m.get("dataset"))
st, _, s = d.json("POST", "/v1/samples", {"model": "ring-model", "n": 500, "sampler": "ddim", "steps": 50, "seed": 1})
pts = s.get("samples", [])
mx, my = sum(p[0] for p in pts) / max(1, len(pts)), sum(p[1] for p in pts) / max(1, len(pts))
radii = sorted(math.hypot(x - 5, y + 3) for x, y in pts)
near = sum(1 for r in radii if 1.0 < r < 3.0) / max(1, len(radii))
print("ring-model: mean (%.2f, %.2f), median radius %.2f, %.0f%% in 1..3" % (mx, my, radii[250], 100 * near))
check(st == 200 and len(pts) == 500 and math.hypot(mx - 5, my + 3) < 0.5 and 1.0 < radii[250] < 2.8 and near > 0.5,
      "the model's samples lie near the ring around (5, -3)")
# the same params and seed: the same model (rows drawn by counter), so the same samples
st, jt2 = train(d, dict(small, out_model="ring-model-2"))
st, _, s2 = d.json("POST", "/v1/samples", {"model": "ring-model-2", "n": 500, "sampler": "ddim", "steps": 50, "seed": 1})
check(jt2 is not None and jt2["state"] == "succeeded" and s2.get("samples") == pts, "a run on a dataset is reproducible")
# a job holds its dataset: deleting it while the job waits or runs takes the id, not the rows
st, _, j = upload(d, "short-lived", "".join("%.5f,%.5f\n" % p for p in ring), CSV)
st, _, jq = d.json("POST", "/v1/jobs", {"type": "train", "params": dict(small, dataset="short-lived", steps=300,
                                                                          out_model="orphan")})
st_del, _, _ = d.req("DELETE", "/v1/datasets/short-lived")
jo = wait_state(d, jq["id"], ["succeeded", "failed"], 180)
check(st_del == 204 and jo is not None and jo["state"] == "succeeded", "deleting a dataset a job holds: the job still succeeds")
st, _, m = d.json("GET", "/v1/models/orphan")
check(st == 200 and m["dataset"] == "short-lived", "its model names the deleted dataset")
for params, want, code in [({"dataset": "no-such-set"}, 404, "dataset_not_found"),
                           ({"dataset": "short-lived"}, 404, "dataset_not_found"),
                           ({"dataset": "Bad/Id"}, 400, "bad_value"),
                           ({"dataset": "rows", "dequantise": True}, 422, "impossible")]:
    st, _, j = d.json("POST", "/v1/jobs", {"type": "train", "params": params})
    check(st == want and j["error"]["code"] == code and j["error"]["field"] == "/params/" + (
        "dequantise" if "dequantise" in params else "dataset"), "train on %s: %d %s (%s %s)" % (params, want, code, st, j))
st, jt = train(d, {"dataset": "mixed.csv", "steps": 5, "hidden": [16], "batch": 8})
check(jt is not None and jt["state"] == "succeeded" and jt["result"]["model"].startswith("mixed.csv-job-"),
      "a default model name starts with the dataset id (%s)" % (jt or {}).get("result"))

# ---- kill -9 and restart: the uploads survive, a bad file is skipped ------------------------------
before = {x["id"]: x for x in d.json("GET", "/v1/datasets")[2]["datasets"]}
store = os.path.join(TMP, "models", "datasets")
open(os.path.join(store, "junk.npy"), "wb").write(b"\x93NUMPY\x01\x00garbage")
open(os.path.join(store, "Not An Id.npy"), "wb").write(good_npy)
open(os.path.join(store, "ring.npy"), "wb").write(npy([[1.0, 2.0, float("nan")]], "<f4"))
d.kill9()
d = Daemon()
after = {x["id"]: x for x in d.json("GET", "/v1/datasets")[2]["datasets"]}
check(after == before, "after kill -9 the list is the same (%s)" % sorted(set(before) ^ set(after)))
st, _, j = d.json("GET", "/v1/datasets/mixed.csv")
check(st == 200 and j == csv_object, "an upload's statistics survive the restart")
st, _, j = d.json("GET", "/v1/datasets/ring")
check(st == 200 and j["builtin"], "a stored file with a built-in's id does not replace it")
log = open(os.path.join(TMP, "daemon.log")).read()
check("skipping" in log and "junk.npy" in log and "Not An Id.npy" in log, "bad files are skipped with a log line")
st, jt = train(d, {"dataset": "rows", "steps": 5, "hidden": [16], "batch": 4, "out_model": "after-restart"})
check(jt is not None and jt["state"] == "succeeded", "train on an upload after the restart")
check(d.term() == 0, "drained")

status = harness.summary("datasets", TMP)
shutil.rmtree(TMP, ignore_errors=True)
sys.exit(status)
