# SPDX-License-Identifier: MIT
"""
DxMI-shaped model files for the HTTP suites (test_scores.py, test_client.py),
written here in Python: a shipped model's file plus what a finetune.dxmi
result adds (core/model_dxmi.h, docs/model-file.md): an energy network E(x)
on model space, a value network, the energy quantiles of a set of training
points, and optionally a T-step short chain (var.beta, var.tau, var.sigma
and the sampler metadata).  The energy is a bowl made of SiLU pairs,
E(x) = a/K sum_k [silu(s u_k.x) + silu(-s u_k.x)] + c with K directions u_k
(slightly perturbed by the seed), so it is low near the origin of model
space; the functions below evaluate it in double on the float32 weights the
file holds, as the daemon does in float.  Standard library only.
"""
import math
import random
import struct

from harness import read_safetensors, write_safetensors


def f32(v):
    return struct.unpack("<f", struct.pack("<f", v))[0]


def f32_blob(values):
    return struct.pack("<%df" % len(values), *values)


def silu(z):
    return z / (1.0 + math.exp(-z)) if z > -700 else 0.0


def mlp(layers, x):
    """A scalar MLP (SiLU between layers) of x, in double; layers = [(W rows, b), ...]."""
    h = list(x)
    for i, (W, b) in enumerate(layers):
        z = [sum(w * v for w, v in zip(row, h)) + bb for row, bb in zip(W, b)]
        h = z if i + 1 == len(layers) else [silu(v) for v in z]
    return h[0]


def bowl(D, rng, K=4, s=1.5, a=1.0, c=-0.5):
    """The energy's layers: D -> 2K -> 1, float32-rounded."""
    W0, b0 = [], []
    for k in range(K):
        u = [rng.gauss(0, 1) for _ in range(D)]
        if D == 2:  # evenly spread directions, perturbed
            ang = math.pi * k / K + rng.uniform(-0.1, 0.1)
            u = [math.cos(ang), math.sin(ang)]
        norm = math.sqrt(sum(v * v for v in u))
        u = [s * v / norm for v in u]
        W0 += [[f32(v) for v in u], [f32(-v) for v in u]]
        b0 += [f32(rng.uniform(-0.05, 0.05)), f32(rng.uniform(-0.05, 0.05))]
    W1 = [[f32(a / K * (1 + rng.uniform(-0.05, 0.05))) for _ in range(2 * K)]]
    return [(W0, b0), (W1, [f32(c)])]


def random_net(widths, rng):
    layers = []
    for i in range(len(widths) - 1):
        n_in, n_out = widths[i], widths[i + 1]
        bound = 1 / math.sqrt(n_in)
        layers.append(([[f32(rng.uniform(-bound, bound)) for _ in range(n_in)] for _ in range(n_out)],
                       [f32(rng.uniform(-bound, bound)) for _ in range(n_out)]))
    return layers


def net_tensors(prefix, layers):
    out = {}
    for i, (W, b) in enumerate(layers):
        out["%s.layers.%d.weight" % (prefix, i)] = ("F32", [len(W), len(W[0])],
                                                     f32_blob([v for row in W for v in row]))
        out["%s.layers.%d.bias" % (prefix, i)] = ("F32", [len(b)], f32_blob(b))
    return out


def quantiles(values):
    """The 0..100 % quantiles, numpy's linear rule (core/model_dxmi.h)."""
    s, n = sorted(values), len(values)
    q = []
    for k in range(101):
        p = k * (n - 1) / 100
        i = int(math.floor(p))
        q.append(s[i] + (p - i) * (s[i + 1] - s[i]) if i + 1 < n else s[n - 1])
    return q


def percentile(q, e):
    """core/model_dxmi.c's mf_energy_percentile."""
    below = sum(1 for v in q if v < e)
    at_most = sum(1 for v in q if v <= e)
    if at_most > below:
        k = 0.5 * (below + at_most - 1)
    elif below == 0:
        k = 0.0
    elif below == len(q):
        k = len(q) - 1.0
    else:
        lo, hi = q[below - 1], q[below]
        k = below - 1 + (e - lo) / (hi - lo)
    return 100.0 * k / (len(q) - 1)


def var_chain(T, b0=1e-4, b1=0.02, N=1000):
    """The authors' short chain of var_sched.h for a linear schedule: beta~, tau, sigma0."""
    betas = [b0 + (b1 - b0) * i / (N - 1) for i in range(N)]
    log_ab, acc = [], 0.0
    for b in betas:
        acc += math.log(1 - b)
        log_ab.append(acc)
    x = 0.95 / math.sqrt(b0) / T * (1 - 1e-9)  # the bounded search saturates at its edge
    beta = [f32(b0 * (1 + i * x) ** 2) for i in range(T)]
    G, g = [], 1.0
    for b in beta:
        g *= 1 - b
        G.append(g)
    tau, sigma = [], []
    for t in range(T):
        a_cur, a_next = G[T - 1 - t], (G[T - 2 - t] if t + 1 < T else 1.0)
        target = math.log(a_cur)
        lo, hi = 0.0, float(N - 1)
        for _ in range(60):  # log alpha_bar interpolated linearly between integers
            mid = (lo + hi) / 2
            i = min(int(mid), N - 2)
            v = log_ab[i] + (mid - i) * (log_ab[i + 1] - log_ab[i])
            lo, hi = (mid, hi) if v > target else (lo, mid)
        tau.append(f32(max(0.0, lo)))
        sigma.append(f32(math.sqrt((1 - a_next) / (1 - a_cur) * (1 - a_cur / a_next)))
                     if t + 1 < T else f32(0.001))
    return beta, tau, sigma


def dxmi_copy(src, train_points, offset=None, scale=None, var_T=None, seed=1, emb=4):
    """(the file's bytes, the energy's layers, the model's offset and scale) of src made a
    DxMI result whose quantiles are those of train_points (data space)."""
    meta, tensors = read_safetensors(src)
    D = int(meta["data_dim"])
    if offset is not None:
        meta["data_offset"] = "%.17g" % offset
    if scale is not None:
        meta["data_scale"] = "%.17g" % scale
    off, sc = float(meta["data_offset"]), float(meta["data_scale"])
    rng = random.Random(seed)
    energy = bowl(D, rng)
    value = random_net([D + emb, 6, 1], rng)
    tensors.update(net_tensors("energy", energy))
    tensors.update(net_tensors("value", value))
    e = [mlp(energy, [(v - off) / sc for v in p]) for p in train_points]
    meta.update({"energy_hidden": str(len(energy[0][1])), "value_hidden": "6",
                 "value_emb": str(emb),
                 "energy_quantiles": ",".join("%.9g" % v for v in quantiles(e))})
    if var_T is not None:
        beta, tau, sigma = var_chain(var_T)
        tensors["var.beta"] = ("F32", [var_T], f32_blob(beta))
        tensors["var.tau"] = ("F32", [var_T], f32_blob(tau))
        tensors["var.sigma"] = ("F32", [var_T], f32_blob(sigma))
        meta.update({"sampler": "var:%d" % var_T, "var_schedule": "code"})
    meta.update({"parent": meta.get("dataset", ""), "provenance": "tests/api/dxmi_model.py"})
    return write_safetensors(meta, tensors), energy, off, sc


def energy_of(energy, off, sc, p):
    return mlp(energy, [(v - off) / sc for v in p])


def auc(pos, neg):
    """Mann-Whitney AUC of scores pos (label 1) against neg, ties counted half."""
    pooled = sorted([(v, 1) for v in pos] + [(v, 0) for v in neg])
    rank_sum, i = 0.0, 0
    while i < len(pooled):
        j = i
        while j < len(pooled) and pooled[j][0] == pooled[i][0]:
            j += 1
        r = (i + 1 + j) / 2  # average rank of the tie
        rank_sum += r * sum(1 for k in range(i, j) if pooled[k][1] == 1)
        i = j
    n1, n0 = len(pos), len(neg)
    return (rank_sum - n1 * (n1 + 1) / 2) / (n1 * n0)
