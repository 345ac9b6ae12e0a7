# SPDX-License-Identifier: MIT
"""The bf16 section of bench/RESULTS.md (issue 19), from bench/bf16.sh's bf16.jsonl and
bench/serve.sh's serve_precision.jsonl; summarize_results.py calls bf16_section.

Speeds compare wall times of the same workload measured the same way in one run:
  bf16 / f32          Manifold f32 time / Manifold bf16 time (target: W1, W2 >= 1.8,
                      W4 >= 1.5);
  vs PyTorch          PyTorch's time / Manifold bf16's, against PyTorch's best float
                      configuration and its bf16 autocast (best of 1 and 2 threads);
  bf16 / GEMM-only    Manifold bf16 time / the time of the same bf16 layer calls alone
                      (bf16_bench's gemm_only, on mf_bench's threads; target <= 1.25).
"""
import os

TARGET_SPEEDUP = {"W1": 1.8, "W2": 1.8, "W4": 1.5}
TARGET_GEMM = 1.25
TARGET_SERVE = 1.6  # bf16 requests/s >= 1.6x f32's at 64 connections


def _best(recs, pred):
    """{workload: the record of the lowest wall_s_best} among recs matching pred."""
    best = {}
    for r in recs:
        if not pred(r) or "error" in r or "wall_s_best" not in r:
            continue
        cur = best.get(r["workload"])
        if cur is None or r["wall_s_best"] < cur["wall_s_best"]:
            best[r["workload"]] = r
    return best


def mf_bench_bf16(d, read_jsonl):
    """{workload: mf_bench's best bf16 record} of bf16.jsonl ({} without it)."""
    recs = read_jsonl(os.path.join(d, "bf16.jsonl"))
    return _best(recs, lambda r: r.get("source") == "mf_bench" and r.get("precision") == "bf16")


def _speed(r):
    if r is None:
        return "n/a"
    if "ms_per_request" in r:
        return f"{r['ms_per_request']:.3f} ms/request, {r['threads']}T"
    return f"{r['samples_per_s']:,.0f} samples/s ({r['wall_s_best']:.3f} s), {r['threads']}T"


def _ratio(num, den):
    if num is None or den is None:
        return None
    return num["wall_s_best"] / den["wall_s_best"]


def _f(v, spec="0.2f"):
    return "n/a" if v is None else format(v, spec)


def bf16_section(d, read_jsonl):
    """The section's lines (none without its inputs); read_jsonl(path) -> records."""
    recs = read_jsonl(os.path.join(d, "bf16.jsonl"))
    serve = read_jsonl(os.path.join(d, "serve_precision.jsonl"))
    if not recs and not serve:
        return []
    mf32 = _best(recs, lambda r: r.get("source") == "mf_bench" and r.get("precision") == "f32")
    mf16 = mf_bench_bf16(d, read_jsonl)
    t32 = _best(recs, lambda r: r.get("source") == "torch_f32")
    t16 = _best(recs, lambda r: r.get("source") == "torch_bf16")
    gemm = {r["workload"]: r for r in recs
            if r.get("source") == "bf16_bench" and "bf16_gemm_only_s" in r}
    out = ["", "## bf16 sampling (issue 19: bench/bf16.sh, bench/serve.sh)", "",
           "The sampling workloads in one run: Manifold in f32 and in bf16 (`mf_bench --precision`,",
           "bf16 as the daemon runs it: a model's layers made once, oneDNN's matmul with bias and",
           "SiLU fused, float accumulation, the row team splitting rows), PyTorch's best float",
           "configuration (as in the first table) and its bf16 autocast as installed",
           "(`bench/bf16_torch.py`, eager, best of 1 and 2 threads).  GEMM-only: the same bf16",
           "layer calls alone (`bf16_bench`, on the same threads; up to 8-D the float first and",
           "last layers as sgemm), without the embedding, the conversions, the float first layer's",
           "SiLU or the sampler's update.", "",
           "| workload | PyTorch best f32 | PyTorch bf16 autocast | Manifold f32 | Manifold bf16 |"
           " bf16 / f32 (target) | bf16 vs PyTorch f32 / autocast | bf16 / GEMM-only (target <= 1.25) |"
           " pass/fail |",
           "|---|---|---|---|---|---|---|---|---|"]
    passed = 0
    for w in ("W1", "W2", "W4"):
        b = mf16.get(w)
        speedup = _ratio(mf32.get(w), b)
        g = gemm.get(w)
        over = b["wall_s_best"] / g["bf16_gemm_only_s"] if b and g else None
        ok = speedup is not None and speedup >= TARGET_SPEEDUP[w] and over is not None and over <= TARGET_GEMM
        passed += ok
        why = [] if ok else [x for x, bad in (("speed", speedup is None or speedup < TARGET_SPEEDUP[w]),
                                              ("GEMM", over is None or over > TARGET_GEMM)) if bad]
        gtxt = "n/a" if g is None else f"{_f(over)} (GEMM {g['bf16_gemm_only_s'] * 1e3:.3g} ms, {g['threads']}T)"
        out.append(f"| {w} | {_speed(t32.get(w))} | {_speed(t16.get(w))} | {_speed(mf32.get(w))} | "
                   f"{_speed(b)} | {_f(speedup)}x ({TARGET_SPEEDUP[w]}) | "
                   f"{_f(_ratio(t32.get(w), b))}x / {_f(_ratio(t16.get(w), b))}x | {gtxt} | "
                   f"{'**pass**' if ok else 'fail (' + ', '.join(why) + ')'} |")
    out += ["", f"{passed} of 3 sampling workloads meet both targets.", ""]

    layers = [r for r in recs if r.get("source") == "bf16_bench" and "shape" in r]
    if layers:
        out += ["The layers alone (`bf16_bench`, GFLOP/s = 2 M N K per call, best of its runs): float",
                "is OpenBLAS sgemm, bf16 oneDNN's matmul (bias and SiLU fused; it picks AMX tiles",
                "here).  On two threads, oneDNN's own OpenMP team in each call against the row team",
                "(each thread its half of the rows on its own one-thread layer, what sampling does):",
                "", "| layer (M×N×K) | f32, 1T | bf16, 1T | bf16 / f32 | bf16 2T: oneDNN's threads |"
                " bf16 2T: row team | row team / oneDNN |", "|---|---|---|---|---|---|---|"]
        one = {r["shape"]: r for r in layers if r["threads"] == 1}
        two = {r["shape"]: r for r in layers if r["threads"] == 2}
        for name, r in one.items():
            t = two.get(name, {})
            out.append(f"| {name} ({r['m']}×{r['n']}×{r['k']}) | {r['f32_gflops']:.0f} | "
                       f"{r['bf16_gflops']:.0f} | {r['ratio']:.2f}x | "
                       f"{_f(t.get('bf16_gflops_onednn_threads'), '.0f')} | "
                       f"{_f(t.get('bf16_gflops_row_team'), '.0f')} | "
                       f"{_f(t.get('row_team_vs_onednn'))}x |")
        out.append("")

    if serve:
        by = {r["precision"]: r for r in serve}
        f, b = by.get("f32"), by.get("bf16")
        out += ["`bench/serve.sh` at 64 connections (W4-sized requests, metrics off), the requests",
                "naming their precision, same daemon, same run:", "",
                "| precision | requests/s | p50 ms | p99 ms |", "|---|---|---|---|"]
        for p in ("f32", "bf16"):
            r = by.get(p)
            if r:
                out.append(f"| {p} | {r['rps']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |")
        if f and b:
            x = b["rps"] / f["rps"]
            out += ["", f"bf16 / f32 requests/s: {x:.2f}x (target >= {TARGET_SERVE}): "
                    f"{'**pass**' if x >= TARGET_SERVE else 'fail'}."]
        out.append("")
    return out
