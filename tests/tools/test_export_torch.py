#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
tools/export_torch.py against the committed golden files and the real C tools:

1. the golden networks, rebuilt as tests/golden/gen_golden.py builds them,
   exported from the module (export()), from a saved nn.Sequential and from a
   saved state_dict (the command line) are the committed
   tests/golden/ref_*.model.safetensors tensor for tensor, bit for bit, with
   the same required metadata;
2. manifold-train loads every exported file, and the C network's eps on an
   exported file is PyTorch's (read back through a one-step DDIM sample);
3. networks of another architecture are refused: exit 2, one line naming the
   problem, no file written or replaced;
4. a 2-D network trained a few steps samples finite numbers, and its
   data_offset / data_scale are the ones the sampler applies;
5. the examples of docs/from-pytorch.md run as written (the Python block,
   then the shell block against a real manifoldd when one is given).

Exit 77 (meson: skipped) when PyTorch cannot be imported.
usage: test_export_torch.py MANIFOLD_TRAIN SOURCE_ROOT [MANIFOLDD MANIFOLD_CLIENT]
"""
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

MT, ROOT = sys.argv[1], sys.argv[2]
DAEMON = sys.argv[3] if len(sys.argv) > 3 else None
CLIENT = sys.argv[4] if len(sys.argv) > 4 else None
try:
    import torch
except ImportError:
    print("skip: no PyTorch here (Debian: python3-torch; tools/setup-debian.sh installs it)")
    sys.exit(77)

for sub in ("tools", "tests/api", "tests/golden"):
    sys.path.insert(0, os.path.join(ROOT, sub))
import export_torch  # noqa: E402
import gen_golden  # noqa: E402  (its CASES: the golden networks' names, sizes and seeds)
import harness  # noqa: E402  (check, summary, Daemon, read_safetensors)
from harness import check  # noqa: E402

TOOL = os.path.join(ROOT, "tools", "export_torch.py")
GOLDEN = os.path.join(ROOT, "tests", "golden")
TMP = tempfile.mkdtemp(prefix="mf-export-torch-")
REQUIRED = ("format", "data_dim", "cond_dim", "hidden", "activation", "time_embedding",
            "prediction", "schedule", "data_offset", "data_scale")
ENV = dict(os.environ, OMP_NUM_THREADS="1")
torch.set_num_threads(1)
nn = torch.nn


def tmp(name):
    return os.path.join(TMP, name)


def run(*cmd, cwd=None, env=None):
    """(exit status, stdout, stderr) of a command."""
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env or ENV, timeout=240)
    return p.returncode, p.stdout, p.stderr


def export_cli(src, out, *flags):
    return run(TOOL, src, "--out", out, "--writer", "plain", *flags)


class ScoreNet(nn.Module):
    """The reference network gen_golden.py builds (../shared/bench/ref_torch.py's build(),
    not in this repository): the same modules registered in the same order, so under the
    same seed the same initial weights; the freqs buffer is exercised by the export."""

    def __init__(self, d, H, E=64):
        super().__init__()
        self.register_buffer("freqs", export_torch._freqs(E // 2))
        self.net = nn.Sequential(nn.Linear(d + E, H), nn.SiLU(), nn.Linear(H, H), nn.SiLU(),
                                 nn.Linear(H, H), nn.SiLU(), nn.Linear(H, d))

    def forward(self, x, t):
        return self.net(torch.cat([x, export_torch.embedding(t, 2 * len(self.freqs))], dim=1))


def golden_net(name, d, H, seed):
    """gen_golden.py's network for a case: seeded, last layer times 20.  Should another
    PyTorch draw other initial weights, the committed file's are loaded instead, so that
    the comparisons below still test the export rather than the random numbers."""
    torch.manual_seed(seed)
    net = ScoreNet(d, H)
    with torch.no_grad():
        net.net[-1].weight.mul_(20.0)
    _, golden = harness.read_safetensors(os.path.join(GOLDEN, name + ".model.safetensors"))
    linears = [m for m in net.net if isinstance(m, nn.Linear)]
    mine = {}
    for i, lin in enumerate(linears):
        mine["layers.%d.weight" % i], mine["layers.%d.bias" % i] = lin.weight, lin.bias
    if any(t.detach().numpy().astype("<f4").tobytes() != golden[k][2] for k, t in mine.items()):
        print("note: this PyTorch's seeded weights differ from the fixture's; loading those")
        with torch.no_grad():
            for k, t in mine.items():
                t.copy_(torch.frombuffer(bytearray(golden[k][2]), dtype=torch.float32)
                        .reshape(t.shape))
    return net


def same_as_golden(path, name, what):
    """path holds the golden model file's tensors bit for bit and its metadata."""
    gmeta, gt = harness.read_safetensors(os.path.join(GOLDEN, name + ".model.safetensors"))
    meta, t = harness.read_safetensors(path)
    check(sorted(t) == sorted(gt), "%s: tensor names %s" % (what, sorted(t)))
    for k in gt:
        check(t.get(k) == gt[k], "%s: %s is the golden tensor bit for bit" % (what, k))
    for k in REQUIRED + ("dataset", "parent"):
        check(meta.get(k) == gmeta[k], "%s: %s %r (golden %r)" % (what, k, meta.get(k), gmeta[k]))
    check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta.get("created", "")),
          "%s: created %r is RFC 3339 UTC" % (what, meta.get("created")))
    check(meta.get("provenance", "").startswith("export_torch.py from "),
          "%s: provenance %r" % (what, meta.get("provenance")))


def sample(model, *flags):
    """manifold-train sample's rows as lists of floats (None when it fails)."""
    # float: eps is compared with PyTorch's to 1e-5 (bf16, the default, is test_golden's)
    rc, out, err = run(MT, "sample", "--model", model, "--threads", "1", "--precision", "f32",
                       *flags)
    check(rc == 0, "manifold-train sample %s: exit %d %s" % (model, rc, err[-300:]))
    return [[float(v) for v in ln.split(",")] for ln in out.split()] if rc == 0 else None


# ---- 1. the golden networks, three ways ------------------------------------------------------

NETS = {}
for name, d, H, seed in gen_golden.CASES:
    net = NETS[name] = golden_net(name, d, H, seed)
    export_torch.export(net, tmp(name + ".api"), writer="plain", dataset="golden")
    torch.save(net.net, tmp(name + ".seq.pt"))
    torch.save(net.state_dict(), tmp(name + ".sd.pt"))
    for how in ("seq", "sd"):
        rc, out, err = export_cli(tmp("%s.%s.pt" % (name, how)), tmp(name + "." + how),
                                  "--dataset", "golden", "--data-dim", str(d))
        check(rc == 0 and out == "" and err == "",
              "%s CLI export of %s: %d %s" % (how, name, rc, err))
    for how in ("api", "seq", "sd"):
        same_as_golden(tmp(name + "." + how), name, "%s from %s" % (name, how))
        check(sample(tmp(name + "." + how), "--n", "8") is not None, "%s.%s samples" % (name, how))
    check(not [f for f in os.listdir(TMP) if f.endswith(".tmp")], "no temporary file left")

# ---- 2. the C network's eps on the exported file is PyTorch's --------------------------------
# manifold-train prints samples, not eps, but a one-step DDIM sample is, from the start
# noise z at t = T - 1 (sampler.c, ap = 1, eta = 0):
#     out = c_x z + c_e eps(z, T-1),  c_x = sqrt(1/ab), c_e = -sqrt(1/ab) sqrt(1-ab)
# (each rounded to float).  The same seed gives the same z, so a network of zero weights
# (eps = 0) reveals z = out0 / c_x and the exported network eps = (out - out0) / c_e, to
# compare with PyTorch's eps(z, T-1).  Schedules of T = 1000 and 2 probe t = 999 and 1.
# (tests/core/test_golden.c checks the golden model files, which these files equal bit for
# bit, against the fixtures' eps at other t too.)
for name, net in NETS.items():
    zero = ScoreNet(net.net[-1].out_features, net.net[0].out_features)
    with torch.no_grad():
        for p in zero.net.parameters():
            p.zero_()
    for T in (1000, 2):
        spec = "linear:0.0001:0.02:%d" % T
        ab = float(export_torch.alpha_bar(spec)[T - 1])
        c_x = float(torch.tensor(math.sqrt(1 / ab)))
        c_e = float(torch.tensor(-math.sqrt(1 / ab) * math.sqrt(1 - ab)))
        export_torch.export(net, tmp("eps.model"), writer="plain", schedule=spec)
        export_torch.export(zero, tmp("eps.zero"), writer="plain", schedule=spec)
        flags = ("--n", "16", "--sampler", "ddim", "--steps", "1", "--seed", "7")
        out, out0 = sample(tmp("eps.model"), *flags), sample(tmp("eps.zero"), *flags)
        if out is None or out0 is None:
            continue
        out, out0 = torch.tensor(out, dtype=torch.float64), torch.tensor(out0, dtype=torch.float64)
        z = (out0 / c_x).float()
        with torch.no_grad():
            want = net(z, torch.full((len(z),), float(T - 1))).double()
        got = (out - out0) / c_e
        # Bounded by the 6 digits manifold-train prints: about 1e-5 at t = 999, 1e-4 at
        # t = 1 (where c_e is -0.14); a wrong network is off by eps's own size.
        err = float((got - want).abs().max())
        check(err < 1e-3 * (1 + float(want.abs().max())),
              "%s at t = %d: C eps vs PyTorch max |diff| %.3g" % (name, T - 1, err))
        check(float(want.abs().max()) > 0.1, "%s at t = %d: eps is not trivially 0" % (name, T - 1))

# ---- 3. refusals -----------------------------------------------------------------------------

def refused(what, src, want, *flags, out=None):
    """The CLI refuses src: exit 2, one line "export_torch: ..." containing want, and the
    output directory as it was (no new file, an old file unchanged)."""
    out = out or tmp("refused.model")
    before = {f: open(tmp(f), "rb").read() for f in os.listdir(TMP) if os.path.isfile(tmp(f))}
    rc, stdout, err = export_cli(src, out, *flags)
    after = {f: open(tmp(f), "rb").read() for f in os.listdir(TMP) if os.path.isfile(tmp(f))}
    check(rc == 2, "%s: exit %d (want 2) %s" % (what, rc, err))
    check(len(err.splitlines()) == 1 and err.startswith("export_torch: ") and want in err,
          "%s: one line naming %r: %r" % (what, want, err))
    check(before == after, "%s: the directory is unchanged" % what)


def saved(name, obj):
    torch.save(obj, tmp(name))
    return tmp(name)


def seq(*mods):
    return nn.Sequential(*mods)


def state(*shapes, dtype=torch.float32):
    """A state_dict of Linear-like layers "i.weight" [o, n], "i.bias" [o]."""
    sd = {}
    for i, (o, n) in enumerate(shapes):
        sd["%d.weight" % i] = torch.ones(o, n, dtype=dtype)
        sd["%d.bias" % i] = torch.ones(o, dtype=dtype)
    return sd


nan_sd = state((32, 18), (2, 32))
nan_sd["1.weight"][0, 3] = float("nan")
buf_sd = dict(state((32, 18), (2, 32)), alphas_cumprod=torch.ones(1000))
refused("ReLU", saved("relu.pt", seq(nn.Linear(18, 32), nn.ReLU(), nn.Linear(32, 2))), "ReLU")
refused("Conv", saved("conv.pt", seq(nn.Conv1d(18, 32, 1), nn.SiLU(), nn.Linear(32, 2))), "Conv1d")
refused("no SiLU", saved("nosilu.pt", seq(nn.Linear(18, 32), nn.Linear(32, 2))), "without a SiLU")
refused("no bias", saved("nobias.pt", seq(nn.Linear(18, 32), nn.SiLU(),
                                          nn.Linear(32, 2, bias=False))), "no bias")
refused("no chain", saved("chain.pt", state((32, 18), (2, 16))), "do not chain")
refused("odd E", saved("odd.pt", seq(nn.Linear(2 + 63, 32), nn.SiLU(), nn.Linear(32, 2))),
        "E = 63")
refused("ints", saved("int.pt", state((32, 18), (2, 32), dtype=torch.int32)), "floating-point")
refused("NaN", saved("nan.pt", nan_sd), "1.weight holds a NaN")
refused("one layer", saved("one.pt", state((2, 18))), "1 Linear layer")
refused("a buffer", saved("buf.pt", buf_sd), "alphas_cumprod")
name0 = gen_golden.CASES[0][0]
refused("freqs vs E", tmp(name0 + ".sd.pt"), "frequencies", "--cond-dim", "2")
refused("data_dim", tmp(name0 + ".sd.pt"), "last layer outputs 2", "--data-dim", "3")
refused("hidden", tmp(name0 + ".sd.pt"), "hidden", "--hidden", "32,32")
refused("offsets", tmp(name0 + ".sd.pt"), "one number", "--data-offset", "1,2")
refused("scale", tmp(name0 + ".sd.pt"), "data_scale", "--data-scale", "0")
refused("schedule", tmp(name0 + ".sd.pt"), "bad schedule", "--schedule", "linear:0.1:0.01:1000")
refused("not torch", os.path.join(GOLDEN, name0 + ".model.safetensors"), "cannot read")
refused("old file kept", tmp("relu.pt"), "ReLU", out=tmp(name0 + ".api"))

# ---- 4. a trained 2-D network and its normalisation ------------------------------------------

torch.manual_seed(5)
small = seq(nn.Linear(2 + 16, 64), nn.SiLU(), nn.Linear(64, 64), nn.SiLU(), nn.Linear(64, 2))
ab = export_torch.alpha_bar().float()
opt = torch.optim.Adam(small.parameters(), lr=2e-3)
for _ in range(50):
    x0, t, e = torch.randn(128, 2) * 0.5, torch.randint(0, 1000, (128,)), torch.randn(128, 2)
    x = ab[t, None].sqrt() * x0 + (1 - ab[t, None]).sqrt() * e
    loss = (small(torch.cat([x, export_torch.embedding(t, 16)], dim=1)) - e).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
rc, _, err = export_cli(saved("small.pt", small.state_dict()), tmp("small.norm"),
                        "--data-offset", "3", "--data-scale", "0.5", "--dataset", "blob")
check(rc == 0, "small export: %d %s" % (rc, err))
check(export_cli(tmp("small.pt"), tmp("small.plain"))[0] == 0, "small export without normalisation")
meta, _ = harness.read_safetensors(tmp("small.norm"))
check([meta.get(k) for k in ("data_offset", "data_scale", "dataset")] == ["3", "0.5", "blob"],
      "small: metadata %r" % meta)
norm, plain = sample(tmp("small.norm"), "--n", "100"), sample(tmp("small.plain"), "--n", "100")
if norm and plain:
    check(len(norm) == 100 and all(len(r) == 2 and all(map(math.isfinite, r)) for r in norm),
          "small: 100 finite 2-D samples")
    worst = max(abs(a - (0.5 * b + 3)) for ra, rb in zip(norm, plain) for a, b in zip(ra, rb))
    check(worst < 1e-4 * (1 + max(abs(v) for r in norm for v in r)),
          "small: samples are 3 + 0.5 x the unnormalised model's (max |diff| %.3g)" % worst)

# A Sequential's state_dict read back sorted as text ("12" before "2") keeps the layer order.
deep = seq(*[m for i in range(6) for m in (nn.Linear(18 if i == 0 else 8, 8), nn.SiLU())],
           nn.Linear(8, 2))
by_text = dict(sorted(deep.state_dict().items()))
check(list(by_text)[2:4] == ["10.bias", "10.weight"], "the state_dict sorts as text")
same = [a.equal(b) for a, b in zip(export_torch.convert(by_text)[0].values(),
                                   export_torch.convert(deep)[0].values())]
check(len(same) == 14 and all(same), "a state_dict sorted as text exports in layer order")

# ---- 5. the examples of docs/from-pytorch.md, as written -------------------------------------

doc = open(os.path.join(ROOT, "docs", "from-pytorch.md")).read()
py_blocks = re.findall(r"^```python\n(.*?)^```$", doc, re.S | re.M)
sh_blocks = re.findall(r"^```sh\n(.*?)^```$", doc, re.S | re.M)
check(len(py_blocks) == 1 and len(sh_blocks) == 1, "the doc has one Python and one shell example")
ex = os.path.join(TMP, "example")
os.mkdir(ex)
rc, out, err = run(sys.executable, "-c", py_blocks[0], cwd=ex,
                   env=dict(ENV, PYTHONPATH=os.path.join(ROOT, "tools")))
check(rc == 0, "the doc's Python example runs: %d %s" % (rc, err[-500:]))
rows = sample(os.path.join(ex, "ring.safetensors"), "--n", "1000") if rc == 0 else None
if rows:
    r = sorted(math.hypot(*row) for row in rows)
    # A network trained in PyTorch on a ring of radius 2 samples a ring in C (a wrong
    # embedding, schedule or layer order would not): median radius about 1.75 after 500 steps.
    check(all(map(math.isfinite, r)) and 1.4 < r[500] < 2.4,
          "the doc's network samples its ring in C: median radius %.3f" % r[500])
if DAEMON and CLIENT and rc == 0:
    d = harness.Daemon(DAEMON, os.path.join(ROOT, "models"), TMP)
    try:
        script = sh_blocks[0].replace("localhost:8080", "127.0.0.1:%d" % d.port)
        if shutil.which("curl") is None:
            print("note: no curl here; the doc's curl line is skipped")
            script = "\n".join(ln for ln in script.splitlines() if not ln.startswith("curl "))
        env = dict(ENV, MANIFOLD_URL=d.url,
                   PATH=os.path.dirname(os.path.abspath(CLIENT)) + os.pathsep + ENV["PATH"])
        rc, out, err = run("sh", "-ec", script, cwd=ex, env=env)
        check(rc == 0, "the doc's shell example runs: %d %s %s" % (rc, out[-300:], err[-300:]))
        for mid in ("ring",) + (("ring-curl",) if shutil.which("curl") else ()):
            st, _, body = d.json("GET", "/v1/models/" + mid)
            meta = (body or {}).get("metadata", {})
            check(st == 200 and meta.get("dataset") == "ring",
                  "the daemon serves the doc's model %s: %d %r" % (mid, st, body))
    finally:
        d.term()

status = harness.summary("export-torch", TMP)
if status == 0:
    shutil.rmtree(TMP)
sys.exit(status)
