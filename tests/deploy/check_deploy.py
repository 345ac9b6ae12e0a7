#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
deploy/ is consistent with the daemon (issue 17): the compose file and the Kubernetes
manifests parse; every --flag and MANIFOLD_<FLAG> variable used in deploy/ and the
Dockerfile is one of `manifoldd --help`; the probes ask /healthz and /readyz on the port
of --health-listen; the grace periods exceed --drain-timeout; nginx's upstream keepalive
is shorter than --header-timeout.

usage: check_deploy.py SOURCE_ROOT MANIFOLDD
"""
import glob
import os
import re
import subprocess
import sys

import yaml

root, daemon = sys.argv[1], sys.argv[2]
failed = []


def check(cond, what):
    if not cond:
        failed.append(what)
        print("FAIL", what)


helptext = subprocess.run([daemon, "--help"], stdout=subprocess.PIPE, check=True).stdout.decode()
flags = set(re.findall(r"^  --([a-z0-9-]+)", helptext, re.M))
# variables the daemon reads that are not flags
extra_vars = {"MANIFOLD_API_KEYS_TEXT", "MANIFOLD_STORE_PASSWORD_FILE", "MANIFOLD_STORE_URI",
              "MANIFOLD_PUBLIC_HOSTS", "MANIFOLD_PORT", "MANIFOLD_CLUSTER_DIR",
              "MANIFOLD_CLUSTER_STORE", "MANIFOLD_DAEMON", "MANIFOLD_PG_BIN", "MANIFOLD_URL",
              "MANIFOLD_API_KEY"}
files = sorted(glob.glob(os.path.join(root, "deploy", "**", "*"), recursive=True))
files = [f for f in files if os.path.isfile(f) and not f.endswith(".md")]
files.append(os.path.join(root, "Dockerfile"))
for f in files:
    text = open(f).read()
    name = os.path.relpath(f, root)
    code = re.sub(r"(^|\s)#.*", "", text)  # comments show other programs' options
    for fl in set(re.findall(r"(?<![\w-])--([a-z][a-z0-9-]+)", code)):
        if f.endswith(".sh") and fl not in flags:
            continue  # the scripts' own command-line options (curl, nginx, initdb, ...)
        if name == "Dockerfile" and fl in ("build-arg", "system", "uid", "gid", "home-dir",
                                           "shell", "no-install-recommends", "from",
                                           "buildtype", "interval", "timeout",
                                           "start-period", "retries"):
            continue
        if name == "Dockerfile" and fl.startswith("Dwerror"):
            continue
        check(fl in flags, "%s: --%s is not a flag of manifoldd --help" % (name, fl))
    for var in set(re.findall(r"\bMANIFOLD_[A-Z0-9_]+", text)):
        flag = var[len("MANIFOLD_"):].lower().replace("_", "-")
        check(flag in flags or var in extra_vars, "%s: %s names no flag" % (name, var))

# YAML parses
compose = yaml.safe_load(open(os.path.join(root, "deploy", "compose.yaml")))
k8s = {}
for f in glob.glob(os.path.join(root, "deploy", "k8s", "*.yaml")):
    for doc in yaml.safe_load_all(open(f)):
        k8s[doc["kind"]] = doc

# compose: replicas' flags, healthchecks, grace
for name in ("manifold-1", "manifold-2", "manifold-3"):
    svc = compose["services"][name]
    cmd = svc["command"]
    arg = dict(zip(cmd[::2], cmd[1::2]))
    check(arg.get("--store", "").startswith("postgres://manifold@db:5432/"), name + ": --store")
    check(arg.get("--max-connections-per-ip") == "0", name + ": --max-connections-per-ip 0")
    check("--allowed-hosts" in arg, name + ": --allowed-hosts")
    drain = float(arg.get("--drain-timeout", 20))
    check(int(svc["stop_grace_period"].rstrip("s")) > drain, name + ": stop_grace_period > drain")
    check(svc["healthcheck"]["test"][-2:] == ["8081", "/readyz"], name + ": healthcheck on 8081")
    check(svc["depends_on"]["db"]["condition"] == "service_healthy", name + ": waits for db")
check(all(v["condition"] == "service_healthy"
          for v in compose["services"]["nginx"]["depends_on"].values()), "nginx waits for replicas")

# Dockerfile: the health listener's port is the HEALTHCHECK's
docker = open(os.path.join(root, "Dockerfile")).read()
m = re.search(r"MANIFOLD_HEALTH_LISTEN=[\d.]+:(\d+)", docker)
check(m is not None and '"%s", "/healthz"' % m.group(1) in docker, "Dockerfile: HEALTHCHECK port")
check("STOPSIGNAL SIGTERM" in docker and "EXPOSE 8080 8081" in docker, "Dockerfile: signal, ports")

# Kubernetes: probes on --health-listen's port, grace > preStop + drain
cm = k8s["ConfigMap"]["data"]
hport = int(cm["MANIFOLD_HEALTH_LISTEN"].rsplit(":", 1)[1])
lport = int(cm["MANIFOLD_LISTEN"].rsplit(":", 1)[1])
pod = k8s["Deployment"]["spec"]["template"]["spec"]
c = pod["containers"][0]
for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"),
                    ("startupProbe", "/healthz")):
    g = c[probe]["httpGet"]
    check(g["path"] == path and g["port"] == hport, "k8s %s: %s on %d" % (probe, path, hport))
ports = {p["name"]: p["containerPort"] for p in c["ports"]}
check(ports == {"http": lport, "probes": hport}, "k8s container ports: %s" % ports)
pre = c["lifecycle"]["preStop"]["sleep"]["seconds"]
check(pod["terminationGracePeriodSeconds"] > pre + float(cm["MANIFOLD_DRAIN_TIMEOUT"]),
      "k8s terminationGracePeriodSeconds > preStop + drain")
check(c["securityContext"]["readOnlyRootFilesystem"] and pod["securityContext"]["runAsNonRoot"],
      "k8s non-root, read-only root")
check(k8s["Deployment"]["spec"]["replicas"] == 3, "k8s 3 replicas")
# the model store: one ReadWriteMany claim every replica mounts at MANIFOLD_MODEL_STORE
claim = k8s.get("PersistentVolumeClaim", {})
vols = {v["name"]: v for v in pod["volumes"]}
mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
store_vol = vols.get(mounts.get(cm.get("MANIFOLD_MODEL_STORE", "")), {})
check(claim.get("spec", {}).get("accessModes") == ["ReadWriteMany"] and
      store_vol.get("persistentVolumeClaim", {}).get("claimName") == claim["metadata"]["name"],
      "k8s: the model store is a ReadWriteMany claim mounted at MANIFOLD_MODEL_STORE")
kust = yaml.safe_load(open(os.path.join(root, "deploy", "k8s", "kustomization.yaml")))
check(sorted(kust["resources"]) == sorted(os.path.basename(f) for f in
                                          glob.glob(os.path.join(root, "deploy", "k8s", "*.yaml"))
                                          if not f.endswith("kustomization.yaml")),
      "k8s: kustomization lists every manifest")
for kind in ("Service", "PodDisruptionBudget", "Secret", "HorizontalPodAutoscaler"):
    check(kind in k8s, "k8s has a " + kind)

# systemd: TimeoutStopSec > drain
unit = open(os.path.join(root, "deploy", "manifoldd.service")).read()
stop = int(re.search(r"^TimeoutStopSec=(\d+)", unit, re.M).group(1))
drain = int(re.search(r"--drain-timeout (\d+)", unit).group(1))
check(stop > drain and "KillSignal=SIGTERM" in unit, "systemd: TimeoutStopSec > drain")

# nginx: idle upstream connections closed before --header-timeout (10 s)
ngx = open(os.path.join(root, "deploy", "nginx.conf")).read()
ka = int(re.search(r"^\s*keepalive_timeout (\d+)s;", ngx, re.M).group(1))
check(ka < 10, "nginx upstream keepalive_timeout < --header-timeout")
check("client_max_body_size 64m;" in ngx, "nginx client_max_body_size = --max-upload")

print("deploy: %d failed" % len(failed))
sys.exit(1 if failed else 0)
