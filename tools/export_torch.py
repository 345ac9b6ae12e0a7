#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Exports a PyTorch MLP of Manifold's architecture as a Manifold model file.

The network (docs/model-file.md, docs/from-pytorch.md) is Linear layers with a
SiLU between each two, over the input [x (D), emb(t) (E), c (C)]:
  Linear(D+E+C, H_1) - SiLU - ... - Linear(H_k, D), predicting eps.
Its shapes are read from the weights: D is the last layer's output, E the
first layer's input less D and C (--cond-dim, default 0), the hidden widths
the outputs in between.  Anything else (another activation or layer kind,
shapes that do not chain, an odd E, a tensor that is not floating point or
not finite) is refused with one line "export_torch: ..." and exit status 2,
before any file is written.

The input is a file torch.save wrote of either a whole module (nn.Sequential,
or a module whose only parameters are its Linear layers') or of a state_dict
(the layers' NAME.weight [out, in] and NAME.bias [out], in order; a state_dict
cannot say its activations, so SiLU is assumed).  A whole module is unpickled,
which runs code from the file: export only files you trust.  From Python:

    import export_torch                      # tools/ on sys.path
    export_torch.export(net, "model.safetensors", dataset="ring")

The file holds layers.{i}.weight / layers.{i}.bias (i counting Linear layers
only) as float32 and every metadata key of docs/model-file.md.  It is written
with the safetensors library when that is installed (--writer auto), else in
the same layout by hand; either way atomically (temporary file, fsync, rename).
"""
import argparse
import itertools
import json
import math
import os
import pickle
import re
import struct
import sys
import time

try:
    import torch
except ImportError:  # reported by main(); importing this file without torch is harmless
    torch = None

FORMAT = "manifold.mlp-ddpm.v1"
DEFAULT_SCHEDULE = "linear:0.0001:0.02:1000"
MAX_WIDTH, MAX_HIDDEN, MAX_T = 8192, 8, 100000  # core/mlp.h, core/schedule.h
_SPEC_CAP = 96  # core/schedule.h: the spec string's buffer, with its NUL
_NUM = r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"


class ExportError(ValueError):
    """The network is not of Manifold's architecture, or an argument is wrong."""


# ---- the pieces of the architecture a training script needs too ----------------------------

def _freqs(half):
    """f_j = exp(-ln(10000) j / half) in float32, computed as core/mlp.c and the PyTorch
    reference (bench/ref_torch.py) compute them."""
    return torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)


def embedding(t, width=64):
    """The sinusoidal embedding of the 0-based timesteps t (a tensor [B]) the C network
    computes: [sin(t f_0) .. sin(t f_{E/2-1}), cos(t f_0) .. cos(t f_{E/2-1})], [B, width]."""
    a = t.to(torch.float32)[:, None] * _freqs(width // 2)[None, :]
    return torch.cat([torch.sin(a), torch.cos(a)], dim=1)


def _parse_schedule(spec):
    """(kind, a, b, T) of a schedule spec core/schedule.c accepts, else ExportError."""
    lin = re.fullmatch(r"linear:(%s):(%s):([0-9]+)" % (_NUM, _NUM), spec or "")
    cos = re.fullmatch(r"cosine:(%s):([0-9]+)" % _NUM, spec or "")
    if lin:
        kind, a, b, T = "linear", float(lin[1]), float(lin[2]), int(lin[3])
        ok = 0 < a <= b < 1
    elif cos:
        kind, a, b, T = "cosine", float(cos[1]), 0.0, int(cos[2])
        ok = 0 <= a <= 1
    else:
        kind, ok, T = None, False, 0
    if not ok or not 2 <= T <= MAX_T or len(spec) >= _SPEC_CAP:
        raise ExportError("bad schedule %r: expected linear:BETA_MIN:BETA_MAX:T (0 < BETA_MIN <= "
                          "BETA_MAX < 1) or cosine:S:T (0 <= S <= 1), T an integer 2..%d"
                          % (spec, MAX_T))
    return kind, a, b, T


def alpha_bar(schedule=DEFAULT_SCHEDULE):
    """alpha_bar_t, t = 0..T-1, of a schedule spec as core/schedule.c tabulates it (float64)."""
    kind, a, b, T = _parse_schedule(schedule)
    t = torch.arange(T, dtype=torch.float64)
    if kind == "linear":
        beta = a + (b - a) * t / (T - 1)
    else:
        def f(u):
            return torch.cos((u / T + a) / (1 + a) * (math.pi / 2)) ** 2
        beta = torch.clamp(1 - f(t + 1) / f(t), max=0.999)
    return torch.cumprod(1 - beta, dim=0)


# ---- the layers of a module or of a state_dict ----------------------------------------------

def _layers_of_module(module):
    """([(name, weight, bias)] of the Linear layers, {name: buffer}), checked to run as
    Linear - SiLU - ... - Linear in the order the module registers them (nn.Sequential's
    order is the order they run)."""
    nn = torch.nn
    layers, prev = [], None
    for name, m in module.named_modules():
        if any(True for _ in m.children()):
            continue  # a container: its leaves are what runs
        shown = "module %r (%s)" % (name or "(the root)", type(m).__name__)
        if isinstance(m, nn.Linear):
            if prev == "linear":
                raise ExportError("%s follows another Linear without a SiLU between them" % shown)
            if m.bias is None:
                raise ExportError("%s has no bias; every layer needs one" % shown)
            layers.append((name, m.weight, m.bias))
            prev = "linear"
        elif isinstance(m, nn.SiLU):
            if prev != "linear":
                raise ExportError("%s does not follow a Linear layer" % shown)
            prev = "silu"
        else:
            raise ExportError("%s is neither Linear nor SiLU: the network must be Linear layers "
                              "with a SiLU between each two" % shown)
    if prev == "silu":
        raise ExportError("the module ends with a SiLU; its last layer must be the Linear "
                          "that outputs eps")
    own = {id(p) for _, w, b in layers for p in (w, b)}
    for name, p in module.named_parameters():
        if id(p) not in own:
            raise ExportError("parameter %r is not a Linear layer's: only Linear layers carry "
                              "parameters in this network" % name)
    return layers, dict(module.named_buffers())


def _layers_of_state_dict(sd):
    """([(prefix, weight, bias)], {name: other tensor}) of a state_dict: the NAME.weight /
    NAME.bias pairs in the dict's order, or by the number NAME ends with when the NAMEs
    differ only in that number (a dict read back from a safetensors file comes sorted as
    text, "layers.10" before "layers.2")."""
    groups, others = {}, {}
    for key, value in sd.items():
        if not isinstance(key, str) or not torch.is_tensor(value):
            raise ExportError("entry %r is a %s, not a tensor: pass the network's state_dict "
                              "(e.g. checkpoint['model'])" % (key, type(value).__name__))
        prefix, _, leaf = key.rpartition(".")
        if leaf in ("weight", "bias"):
            groups.setdefault(prefix, {})[leaf] = value
        else:
            others[key] = value
    prefixes = list(groups)
    numbered = [re.fullmatch(r"(.*?)([0-9]+)", p) for p in prefixes]
    if all(numbered) and len({m[1] for m in numbered}) == 1:  # one stem: "net.0", "net.2", ..
        prefixes.sort(key=lambda p: int(re.search("[0-9]+$", p)[0]))
    layers = []
    for p in prefixes:
        g = groups[p]
        if set(g) != {"weight", "bias"}:
            missing = "bias" if "weight" in g else "weight"
            raise ExportError("%r has no %s: every layer must be a Linear with a bias"
                              % (p + "." + next(iter(g)), missing))
        layers.append((p, g["weight"], g["bias"]))
    return layers, others


def _float32(name, t):
    """t as a contiguous float32 CPU tensor, refused unless floating point and finite."""
    if not torch.is_floating_point(t):
        raise ExportError("%s is %s, not a floating-point tensor" % (name, t.dtype))
    t = t.detach().to("cpu", torch.float32).contiguous()
    if not bool(torch.isfinite(t).all()):  # also catches float64 values beyond float32
        raise ExportError("%s holds a NaN or infinite value" % name)
    return t


def _check_layers(layers, cond_dim):
    """The checked float32 tensors [(w, b)] and the architecture (D, hidden, E)."""
    if not 2 <= len(layers) <= MAX_HIDDEN + 1:
        raise ExportError("found %d Linear layer(s); the network has 2 to %d (1 to %d hidden "
                          "layers)" % (len(layers), MAX_HIDDEN + 1, MAX_HIDDEN))
    out, prev = [], None
    for name, w, b in layers:
        name = name or "the layer"
        w, b = _float32(name + ".weight", w), _float32(name + ".bias", b)
        if w.dim() != 2:
            raise ExportError("%s.weight has shape %s: a Linear layer's weight is [out, in]"
                              % (name, list(w.shape)))
        if list(b.shape) != [w.shape[0]]:
            raise ExportError("%s.bias has shape %s but its weight %s: a Linear layer's bias "
                              "is [out]" % (name, list(b.shape), list(w.shape)))
        if prev is not None and w.shape[1] != prev[1]:
            raise ExportError("shapes do not chain: %s.weight is %s but %s gives %d values"
                              % (name, list(w.shape), prev[0], prev[1]))
        prev = (name, w.shape[0])
        out.append((w, b))
    D, hidden = out[-1][0].shape[0], [w.shape[0] for w, _ in out[:-1]]
    E = out[0][0].shape[1] - D - cond_dim
    if E % 2 or not 2 <= E <= MAX_WIDTH:
        raise ExportError("time embedding width E = %d (the first layer's %d inputs - D %d - C "
                          "%d) must be even, 2 to %d" % (E, out[0][0].shape[1], D, cond_dim,
                                                         MAX_WIDTH))
    if max([D] + hidden) > MAX_WIDTH:
        raise ExportError("D %d or a hidden width of %s is over Manifold's limit of %d"
                          % (D, hidden, MAX_WIDTH))
    return out, D, hidden, E


def _widths(hidden):
    """[int] of hidden widths given as a list or as text "256,256"."""
    if isinstance(hidden, str):
        if not re.fullmatch(r"[0-9]+(,[0-9]+)*", hidden):
            raise ExportError("hidden %r is not a list of widths like 256,256" % hidden)
        hidden = hidden.split(",")
    try:
        return [int(h) for h in hidden]
    except (TypeError, ValueError):
        raise ExportError("hidden %r is not a list of widths" % (hidden,)) from None


def _check_buffers(others, E):
    """A freqs buffer (the reference network's) must be the embedding's frequencies;
    any other tensor is not part of this network."""
    for name, t in others.items():
        if name != "freqs" and not name.endswith(".freqs"):
            raise ExportError("%r is not a Linear layer's weight or bias: pass the network "
                              "alone (e.g. model.net, or its state_dict)" % name)
        want = _freqs(E // 2)
        if (not torch.is_floating_point(t) or t.shape != want.shape or
                not torch.allclose(t.detach().cpu().to(torch.float32), want, rtol=1e-5)):
            raise ExportError("%r is not the sinusoidal embedding's frequencies exp(-ln(10000) "
                              "j/%d), j < %d, for E = %d" % (name, E // 2, E // 2, E))


# ---- metadata -------------------------------------------------------------------------------

def _number(x, key, positive=False):
    """x as the metadata's shortest round-trip text (Python's repr; "0" rather than "0.0")."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise ExportError("%s %r must be one number: the model file keeps one %s for every "
                          "dimension (x_model = (x - data_offset) / data_scale)"
                          % (key, x, key)) from None
    if not math.isfinite(v) or (positive and not v > 0):
        raise ExportError("%s %r must be a finite number%s" % (key, x, " > 0" if positive else ""))
    s = repr(v)
    return s[:-2] if s.endswith(".0") else s


def _text(value, key):
    if not isinstance(value, str):
        raise ExportError("%s must be a string, not %s" % (key, type(value).__name__))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ExportError("%s is not valid UTF-8" % key) from None
    return value


def convert(net, *, data_dim=None, cond_dim=0, hidden=None, schedule=DEFAULT_SCHEDULE,
            data_offset=0.0, data_scale=1.0, dataset=None, parent="", source=None):
    """({tensor name: float32 tensor}, metadata) of net (an nn.Module or a state_dict).
    data_dim and hidden, when given, must agree with the weights.  ExportError otherwise."""
    if isinstance(net, torch.nn.Module):
        layers, others = _layers_of_module(net)
    elif isinstance(net, dict):
        layers, others = _layers_of_state_dict(net)
    else:
        raise ExportError("a %s is neither an nn.Module nor a state_dict" % type(net).__name__)
    if not isinstance(cond_dim, int) or not 0 <= cond_dim <= MAX_WIDTH:
        raise ExportError("cond_dim %r must be an integer 0..%d" % (cond_dim, MAX_WIDTH))
    out, D, widths, E = _check_layers(layers, cond_dim)
    if data_dim is not None and data_dim != D:
        raise ExportError("data_dim %s, but the last layer outputs %d values" % (data_dim, D))
    if hidden is not None and _widths(hidden) != widths:
        raise ExportError("hidden %s, but the weights have %s" % (hidden, widths))
    _check_buffers(others, E)
    _parse_schedule(schedule)
    meta = {
        "format": FORMAT, "data_dim": str(D), "cond_dim": str(cond_dim),
        "hidden": ",".join(map(str, widths)), "activation": "silu",
        "time_embedding": "sinusoidal:%d" % E, "prediction": "eps", "schedule": schedule,
        "data_offset": _number(data_offset, "data_offset"),
        "data_scale": _number(data_scale, "data_scale", positive=True),
    }
    if dataset is not None:
        meta["dataset"] = _text(dataset, "dataset")
    meta["parent"] = _text(parent, "parent")
    meta["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    meta["provenance"] = _text("export_torch.py from %s (PyTorch %s)" % (
        source or "a " + type(net).__name__, torch.__version__), "provenance")
    tensors = {}
    for i, (w, b) in enumerate(out):
        tensors["layers.%d.weight" % i], tensors["layers.%d.bias" % i] = w, b
    return tensors, meta


# ---- writing --------------------------------------------------------------------------------

def _plain_bytes(tensors, meta):
    """The safetensors layout: u64 LE header length, the JSON header (padded with spaces to
    a multiple of 8, as the library pads it), then the raw little-endian float32 data."""
    blobs = [t.numpy().astype("<f4").tobytes() for t in tensors.values()]
    ends = itertools.accumulate(len(b) for b in blobs)
    header = {name: {"dtype": "F32", "shape": list(t.shape), "data_offsets": [end - len(blob), end]}
              for (name, t), blob, end in zip(tensors.items(), blobs, ends)}
    header["__metadata__"] = meta
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def _file_bytes(tensors, meta, writer):
    if writer not in ("auto", "plain", "safetensors"):
        raise ExportError("writer %r is not auto, plain or safetensors" % (writer,))
    if writer != "plain":
        # Not tested here: Debian 12 has no python3-safetensors, so the test forces
        # --writer plain.  The library's layout is the same (docs/model-file.md).
        try:
            import safetensors.torch
            return safetensors.torch.save(tensors, metadata=meta)
        except ImportError:
            if writer == "safetensors":
                raise ExportError("the safetensors library is not installed (use --writer "
                                  "plain)") from None
    return _plain_bytes(tensors, meta)


def write_atomic(path, data):
    """data into path so that a crash leaves the old file or the new one, never a part:
    a temporary file beside it, fsync, rename, fsync of the directory."""
    tmp = "%s.%d.tmp" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    dfd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def export(net, path, *, writer="auto", **kw):
    """Writes net (an nn.Module or a state_dict) to path as a Manifold model file; returns
    its metadata.  Keywords: data_dim, hidden (checked against the weights), cond_dim (0),
    schedule ("linear:0.0001:0.02:1000"), data_offset (0), data_scale (1): the network sees
    (x - data_offset) / data_scale, dataset, parent (""), source (for provenance).
    Raises ExportError, before anything is written, for a network Manifold cannot run."""
    tensors, meta = convert(net, **kw)
    write_atomic(path, _file_bytes(tensors, meta, writer))
    return meta


# ---- command line ---------------------------------------------------------------------------

def load(path):
    """What torch.save wrote to path: a state_dict is read without running code; a whole
    module needs the pickle (and its class importable)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        pass  # more than tensors (a whole module), or not a torch file at all
    except Exception as e:  # noqa: BLE001  (unreadable file, not a torch file)
        raise ExportError("cannot read %s: %s" % (path, e)) from None
    try:
        return torch.load(path, map_location="cpu")
    except pickle.UnpicklingError as e:
        raise ExportError("cannot read %s: not a file torch.save wrote (%s)" % (path, e)) from None
    except Exception as e:  # noqa: BLE001  (a class not importable here, ...)
        raise ExportError("cannot load %s: %s (a whole module needs its class importable; "
                          "saving its state_dict avoids that)" % (path, e)) from None


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="export_torch.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__.split("\n\n", 1)[1],
        epilog="examples:\n"
               "  tools/export_torch.py net.pt --out ring.safetensors --dataset ring\n"
               "  tools/export_torch.py state.pt --out m.safetensors --data-dim 64 "
               "--data-offset 8 --data-scale 8\n"
               "exit status: 0 written; 2 refused (one line on stderr, nothing written); "
               "1 the file could not be written\n")
    ap.add_argument("input", metavar="MODULE_OR_STATE_DICT.pt", help="a file torch.save wrote")
    ap.add_argument("--out", required=True, metavar="MODEL.safetensors", help="the model file")
    ap.add_argument("--data-dim", type=int, metavar="D",
                    help="the data's dimension (default: the last layer's outputs; checked)")
    ap.add_argument("--cond-dim", type=int, default=0, metavar="C",
                    help="the condition's width, the first layer's last C inputs (0)")
    ap.add_argument("--hidden", metavar="H1,H2,..", help="the hidden widths (checked)")
    ap.add_argument("--schedule", default=DEFAULT_SCHEDULE, metavar="SPEC",
                    help="the noise schedule it was trained with: linear:BETA_MIN:BETA_MAX:T "
                         "or cosine:S:T (%s)" % DEFAULT_SCHEDULE)
    ap.add_argument("--data-offset", default="0", metavar="A",
                    help="one number: the network sees (x - A) / S (0)")
    ap.add_argument("--data-scale", default="1", metavar="S", help="one number > 0 (1)")
    ap.add_argument("--dataset", metavar="NAME", help="the id of the data it was trained on (metadata only)")
    ap.add_argument("--parent", default="", metavar="MODEL", help="the model it was fine-tuned from (none)")
    ap.add_argument("--writer", choices=["auto", "plain", "safetensors"], default="auto",
                    help="the safetensors library, the built-in writer, or the library when "
                         "it is installed (auto)")
    a = ap.parse_args(argv)
    try:
        if torch is None:
            raise ExportError("PyTorch is not installed (Debian: apt-get install python3-torch)")
        export(load(a.input), a.out, writer=a.writer, data_dim=a.data_dim, cond_dim=a.cond_dim,
               hidden=a.hidden, schedule=a.schedule, data_offset=a.data_offset,
               data_scale=a.data_scale, dataset=a.dataset, parent=a.parent,
               source=os.path.basename(a.input))
    except ExportError as e:
        print("export_torch: " + " ".join(str(e).split()), file=sys.stderr)
        return 2
    except OSError as e:
        print("export_torch: cannot write %s: %s" % (a.out, e.strerror or e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
