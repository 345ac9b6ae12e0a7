#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The API is documented where a user looks (issue 15): fails when a route or a job
parameter is missing from proto/openapi.yaml or docs/api.md, or when openapi.yaml says
another type, range, enum, default or requirement than the code.

The truth comes from the code itself:
  - routes: the rows of the route table, server/routes.c (method and path);
  - job params: tests/describe_jobs, which prints what the codecs of proto/jobs/ accept
    (mf_req_describe on their field tables) and the defaults they fill in.

  - flags: `manifoldd --help` (when MANIFOLDD is given), each in docs/operations.md.

  check_api_docs.py DESCRIBE_JOBS SOURCE_ROOT [MANIFOLDD]
"""
import json
import os
import re
import subprocess
import sys

import yaml

DESCRIBE, ROOT = sys.argv[1], sys.argv[2]
SPEC = yaml.safe_load(open(os.path.join(ROOT, "proto", "openapi.yaml")))
SCHEMAS = SPEC["components"]["schemas"]
API_MD = open(os.path.join(ROOT, "docs", "api.md")).read()
# the job param schema of each job type (JobRequest's discriminator)
JOB_SCHEMAS = SCHEMAS["JobRequest"]["discriminator"]["mapping"]

failures = []


def fail(msg):
    failures.append(msg)


def resolve(schema):
    """A schema with $ref followed and allOf merged (later parts override earlier ones)."""
    if "$ref" in schema:
        return resolve(SCHEMAS[schema["$ref"].rsplit("/", 1)[1]])
    if "allOf" in schema:
        out = {"properties": {}, "required": []}
        for part in schema["allOf"]:
            p = resolve(part)
            for k, v in p.get("properties", {}).items():
                out["properties"][k] = {**out["properties"].get(k, {}), **v}
            out["required"] += p.get("required", [])
        return out
    return schema


def same_number(a, b):
    return isinstance(a, (int, float)) and isinstance(b, (int, float)) and float(a) == float(b)


def same_value(a, b):
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return same_number(a, b)
    return a == b


def check_fields(where, fields, defaults, schema):
    """fields: the codec's description; defaults: its canonical params (or {})."""
    schema = resolve(schema)
    props = schema.get("properties", {})
    required = set(schema.get("required", []))
    for key in props:
        if key not in fields:
            fail("%s: openapi.yaml has %r, which the server does not take" % (where, key))
    for key, f in fields.items():
        at = "%s/%s" % (where, key)
        if key not in props:
            fail("%s: missing from openapi.yaml" % at)
            continue
        p = resolve(props[key])
        if f.get("required", False) != (key in required):
            fail("%s: required is %s in the code" % (at, f.get("required", False)))
        want = f["type"]
        if want != "custom" and p.get("type") != want:
            fail("%s: type %s in openapi.yaml, %s in the code" % (at, p.get("type"), want))
        if want == "custom" and "type" not in p and "oneOf" not in p and "properties" not in p:
            fail("%s: no type in openapi.yaml" % at)
        for bound in ("minimum", "maximum"):
            if bound in f and not same_number(p.get(bound), f[bound]):
                fail("%s: %s %s in openapi.yaml, %s in the code" % (at, bound, p.get(bound), f[bound]))
        if bool(p.get("exclusiveMinimum", False)) != bool(f.get("exclusiveMinimum", False)):
            fail("%s: exclusiveMinimum differs from the code" % at)
        if "enum" in f and p.get("enum") != f["enum"]:
            fail("%s: enum %s in openapi.yaml, %s in the code" % (at, p.get("enum"), f["enum"]))
        if not f.get("required", False) and "properties" not in f:
            if "default" not in p and "x-default" not in p:
                fail("%s: no default (or x-default in words) in openapi.yaml" % at)
            if "default" in p:
                if key not in defaults:
                    fail("%s: openapi.yaml gives default %r; the code fills in none "
                         "(say it in x-default)" % (at, p["default"]))
                elif not same_value(p["default"], defaults[key]):
                    fail("%s: default %r in openapi.yaml, %r in the code" % (at, p["default"], defaults[key]))
        if "properties" in f:
            check_fields(at, f["properties"], defaults.get(key) or {}, p)


def doc_section(job_type):
    """The text of docs/api.md's section on a job type: from its heading to the next one."""
    m = re.search(r"^(#+) .*`%s`.*$" % re.escape(job_type), API_MD, re.M)
    if m is None:
        return None
    level = len(m.group(1))
    end = re.compile(r"^#{1,%d} " % level, re.M).search(API_MD, m.end())
    return API_MD[m.end():end.start() if end else len(API_MD)]


def check_doc_params(job_type, fields, prefix=""):
    section = doc_section(job_type)
    if section is None:
        fail("docs/api.md: no section whose heading names `%s`" % job_type)
        return
    for key, f in fields.items():
        name = prefix + key
        if "`%s`" % name not in section:
            fail("docs/api.md, `%s`: parameter `%s` not described" % (job_type, name))
        if "properties" in f:
            check_doc_params(job_type, f["properties"], name + ".")


# ---- job params ---------------------------------------------------------------------
desc = json.loads(subprocess.run([DESCRIBE], check=True, capture_output=True, text=True).stdout)
types = desc["types"]
if set(JOB_SCHEMAS) != set(types):
    fail("JobRequest's types %s, the server's %s" % (sorted(JOB_SCHEMAS), sorted(types)))
if resolve(SCHEMAS["SampleJob"])["properties"]["type"]["enum"] != ["sample"]:
    fail("SampleJob: type")
for name, t in types.items():
    if name not in JOB_SCHEMAS:
        continue
    job = resolve({"$ref": JOB_SCHEMAS[name]})
    if job["properties"]["type"].get("enum") != [name]:
        fail("%s: its schema's type enum is not [%s]" % (name, name))
    has_model = "model" in job["properties"]
    model_required = "model" in job.get("required", [])
    if (t["model"] == "forbidden") != (not has_model) or (t["model"] == "required") != model_required:
        fail("%s: the model is %s in the code" % (name, t["model"]))
    check_fields(name, t["fields"], t["defaults"], job["properties"].get("params", {}))
    check_doc_params(name, t["fields"])

# POST /v1/samples takes the sample job's params and its model
sample_req = resolve(SCHEMAS["SampleRequest"])
check_fields("SampleRequest", {**types["sample"]["fields"], "model": {"type": "string", "required": True}},
             types["sample"]["defaults"], sample_req)

# ---- routes -------------------------------------------------------------------------
routes_c = open(os.path.join(ROOT, "server", "routes.c")).read()
routes = re.findall(r'\{MF_ROUTE_(GET|POST|DELETE),\s*"(/[^"]*)"', routes_c)
if len(routes) < 20:
    fail("server/routes.c: found only %d routes; has the table's form changed?" % len(routes))
paths = SPEC["paths"]
for method, path in routes:
    if method.lower() not in paths.get(path, {}):
        fail("openapi.yaml: no %s %s" % (method, path))
    if "%s %s" % (method, path) not in API_MD:
        fail("docs/api.md: %s %s not described" % (method, path))
for path, ops in paths.items():
    for method in ops:
        if method in ("get", "post", "delete") and (method.upper(), path) not in routes:
            fail("openapi.yaml: %s %s is no route of the server" % (method.upper(), path))

# ---- flags --------------------------------------------------------------------------
if len(sys.argv) > 3:
    helptext = subprocess.run([sys.argv[3], "--help"], capture_output=True, text=True)
    flags = re.findall(r"^  (--[a-z0-9-]+)", helptext.stdout + helptext.stderr, re.M)
    if len(flags) < 30:
        fail("manifoldd --help: found only %d flags; has its form changed?" % len(flags))
    operations = open(os.path.join(ROOT, "docs", "operations.md")).read()
    for flag in flags:
        if flag != "--help" and "`%s`" % flag not in operations:
            fail("docs/operations.md: flag %s not described" % flag)

for f in failures:
    print("FAIL", f)
print("%d routes, %d job types checked; %d problems" % (len(routes), len(types), len(failures)))
sys.exit(1 if failures else 0)
