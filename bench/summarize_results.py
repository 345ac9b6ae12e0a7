#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Writes bench/RESULTS.md from the raw outputs of bench/run.sh.

Inputs (in --dir): torch.jsonl (ref_torch.py, best configurations),
sgemm.jsonl (sgemm_peak -q), mf_bench.jsonl, mf_bench_blas.jsonl, blas_auto.json, blas_mf.json,
machine.txt, load_before.txt, load_after.txt.  Any of them may be missing or
empty; the table then says what it could not compute.  Python stdlib only.

Columns:
  ratio          C speed / PyTorch speed = PyTorch best wall time / C best wall
                 time (per request for W4);
  C / GEMM-only  C time / the time OpenBLAS needs for just the workload's
                 matrix multiplies with the reference network (first layer
                 K = D + 64), best over 1 and 2 threads (sgemm_peak); the
                 hoisted-embedding floor (K = D) is shown for sampling;
  pass           ratio >= target and C / GEMM-only <= 1.25.
"""
import argparse
import datetime
import json
import os
import platform
import re

from summarize_bf16 import bf16_section, mf_bench_bf16

ORDER = ["W1", "W2", "W3", "W4", "W5"]
TARGET_RATIO = {"W1": 1.7, "W2": 1.4, "W3": 1.7, "W4": 1.5, "W5": 1.8}
TARGET_GEMM = 1.25
TEMB = 64


def read_jsonl(path):
    recs = []
    if not os.path.exists(path):
        return recs
    with open(path) as fh:
        for line in fh:
            line = line.strip()
            if line.startswith("{"):
                try:
                    recs.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    return recs


def read_text(path):
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return ""


def best_by_workload(recs):
    """{workload: the record with the lowest wall_s_best} (errors only when nothing else),
    and the number of records (passes) seen per workload."""
    best, count = {}, {}
    for r in recs:
        name = r.get("workload")
        if name is None:
            continue
        count[name] = count.get(name, 0) + 1
        cur = best.get(name)
        if cur is None or "error" in cur or ("error" not in r and r["wall_s_best"] < cur["wall_s_best"]):
            best[name] = r
    return best, count


def speed_text(rec):
    """The workload's headline figure as ref_torch.py reports it."""
    if rec is None:
        return "n/a"
    if "error" in rec:
        return "error"
    if "ms_per_request" in rec:
        return f"{rec['ms_per_request']:.2f} ms/request"
    if rec.get("kind") == "train":
        return f"{rec['steps_per_s']:.1f} steps/s ({rec['wall_s_best']:.3f} s)"
    return f"{rec['samples_per_s']:,.0f} samples/s ({rec['wall_s_best']:.3f} s)"


def cpu_model():
    for line in read_text("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def gemm_floor(sgemm, name, d):
    """(best total_s with layer1 K = d + 64, its threads; best with K = d or None)."""
    full, hoisted = None, None
    for r in sgemm:
        if r.get("type") != "workload" or r.get("workload") != name:
            continue
        key = (r["total_s"], r["threads"])
        if r["layer1_K"] == d + TEMB:
            full = key if full is None or key < full else full
        elif r["layer1_K"] == d:
            hoisted = key if hoisted is None or key < hoisted else hoisted
    return full, hoisted


def fmt(v, spec, none="n/a"):
    return none if v is None else format(v, spec)


SERVE_TARGET_SPEEDUP = 5.0  # issue 4: throughput at 64 connections >= 5x one connection
SERVE_TARGET_P99_MS = 100.0  # issue 4: p99 at 64 connections
SERVE_TARGET_RSS_MIB = 100.0  # issue 4: resident memory with every shipped model loaded


def serve_section(d, mf, precision):
    """manifoldd under wrk load (bench/serve.sh), with the compute ceiling from mf_bench's
    records mf in the daemon's default precision."""
    recs = read_jsonl(os.path.join(d, "serve.jsonl"))
    rss = (read_jsonl(os.path.join(d, "serve_rss.json")) or [None])[0]
    if not recs:
        return []
    out = ["", "## manifoldd under load (bench/serve.sh)", "",
           "W4-sized `POST /v1/samples` (eight_gaussians: D=2, H=256, 16 samples, 50 DDIM steps,",
           "a fresh seed each) from wrk (one thread, closed loop) on the same 2 cores as the daemon,",
           f"which runs with its defaults (1 worker with a 2-thread row team, {precision} sampling). `metrics` = the",
           "per-request sample metrics (kNN entropy, Vendi, histogram) computed on the worker.", "",
           "| metrics | connections | requests/s | vs 1 connection | p50 ms | p90 ms | p99 ms | max ms |"
           " requests per batched run | errors |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    single = {r["metrics"]: r["rps"] for r in recs if r["connections"] == 1}
    verdicts = []
    for r in recs:
        base = single.get(r["metrics"])
        speedup = r["rps"] / base if base else None
        errors = sum(r[k] for k in r if k.startswith("err_"))
        out.append(f"| {'on' if r['metrics'] else 'off'} | {r['connections']} | {r['rps']:,.0f} | "
                   f"{fmt(speedup, '.2f')}x | {r['p50_ms']:.1f} | {r['p90_ms']:.1f} | {r['p99_ms']:.1f} | "
                   f"{r['max_ms']:.1f} | {fmt(r['requests_per_batch'], '.1f')} | {errors} |")
        if r["connections"] == 64 and not r["metrics"]:
            verdicts.append(("throughput at 64 connections >= %gx one connection" % SERVE_TARGET_SPEEDUP,
                             fmt(speedup, ".2f") + "x", speedup is not None and speedup >= SERVE_TARGET_SPEEDUP))
            verdicts.append(("p99 at 64 connections < %g ms" % SERVE_TARGET_P99_MS,
                             f"{r['p99_ms']:.1f} ms", r["p99_ms"] < SERVE_TARGET_P99_MS))
    if rss:
        mib = rss["rss_end_kib"] / 1024
        verdicts.append(("resident memory with all %d shipped models < %g MiB" % (rss["models"], SERVE_TARGET_RSS_MIB),
                         f"{rss['rss_start_kib'] / 1024:.1f} MiB at start, {mib:.1f} MiB after the load, "
                         f"peak {rss['rss_peak_kib'] / 1024:.1f} MiB", rss["rss_peak_kib"] / 1024 < SERVE_TARGET_RSS_MIB))
    out += ["", "| target | measured | verdict |", "|---|---|---|"]
    out += [f"| {t} | {m} | {'**pass**' if ok else 'fail'} |" for t, m, ok in verdicts]
    w1, w4 = mf.get("W1"), mf.get("W4")
    if w1 and w4 and w1.get("d") == w4.get("d") and w1.get("H") == w4.get("H"):
        rows_per_req = w4["batch"] * w4["steps"]
        ceiling = w1["samples_per_s"] * w1["steps"] / rows_per_req
        one = 1.0 / w4["wall_s_best"]
        single_off = single.get(False)
        per_core = w4["gflops"] / (w1["gflops"] / w1.get("threads", 2))
        out += ["", f"Compute ceiling, from mf_bench in {precision} (the daemon's default): the same"
                f" network sampled in one large batch on both cores (W1, {w1['gflops']:.0f} GFLOP/s)"
                f" would answer at most {ceiling:,.0f} W4 requests/s, {ceiling / one:.1f}x one request"
                f" alone on one thread ({w4['wall_s_best'] * 1e3:.2f} ms, {w4['gflops']:.0f} GFLOP/s:"
                f" {per_core:.0%} of the large batch's rate per core).  Batching has little arithmetic"
                f" to save here; the second core is the main headroom, and one connection already uses"
                f" it (a 16-row request runs on both team threads)"
                + (f": {single_off:,.0f} requests/s, {single_off / ceiling:.0%} of the ceiling, so no"
                   f" scheduler can reach more than {ceiling / single_off:.2f}x that at any number of"
                   f" connections." if single_off else "."),
                "By Little's law, 64 closed-loop connections at the ceiling wait at least"
                f" {64 / ceiling * 1e3:.0f} ms on average, so a p99 under {SERVE_TARGET_P99_MS:g} ms"
                f" needs a p99 within {SERVE_TARGET_P99_MS / (64 / ceiling * 1e3):.1f}x of that mean."]
    return out


def source_constant(rel, name):
    """A numeric #define of the daemon's source (e.g. server/job.c PROGRESS_EVERY_S), so the
    prose quotes the code as it is rather than a figure typed in here; None when absent."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", rel)
    text = read_text(path)
    m = re.search(r"^#define\s+" + name + r"\s+([0-9.]+)", text, re.M)
    return float(m.group(1)) if m else None


def replicas_section(d):
    """Replicas behind nginx (bench/replicas.sh) and the job store's event rates (bench/store.sh)."""
    reps = read_jsonl(os.path.join(d, "replicas.jsonl"))
    store = read_jsonl(os.path.join(d, "store.jsonl"))
    if not reps and not store:
        return []
    out = ["", "## Replicas behind nginx, and the job store (bench/replicas.sh, bench/store.sh)", ""]
    direct = next((r for r in reps if not r["nginx"]), None)
    if reps:
        out += ["serve.sh's W4-sized `POST /v1/samples` (eight_gaussians, 16 samples, 50 DDIM steps, a",
                "fresh seed each) from wrk (one thread, 64 connections, closed loop) through nginx to",
                "replicas of `deploy/local-cluster.sh` (PostgreSQL job store), and once to one replica",
                "directly.  All of it shares this machine's cores, so more replicas only split them:",
                "the rows show what the extra processes and the proxy cost, not how a cluster of",
                "machines scales.  Share = each replica's `manifold_sample_requests_total` during the run.", "",
                "| setup | threads per replica | requests/s | vs 1 replica direct | p50 ms | p90 ms | p99 ms |"
                " max ms | errors | per-replica share |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        for r in reps:
            n = r["replicas"]
            label = (f"{n} replica{'s' if n > 1 else ''}" + (" behind nginx" if r["nginx"] else " direct (no nginx)"))
            errors = sum(r[k] for k in r if k.startswith("err_"))
            rel = r["rps"] / direct["rps"] if direct and direct["rps"] else None
            share = " / ".join(fmt(x, ".0%") for x in r["replica_share"])
            out.append(f"| {label} | {r['threads']} | {r['rps']:,.0f} | {fmt(rel, '.2f')}x | {r['p50_ms']:.1f} | "
                       f"{r['p90_ms']:.1f} | {r['p99_ms']:.1f} | {r['max_ms']:.1f} | {errors} | {share} |")
    appends = [r for r in store if r.get("test") in ("append", "read")]
    pg_set = next((r for r in store if r.get("test") == "pg_settings"), None)
    if appends:
        out += ["", "`bench/store_bench`: events of about 200 bytes of JSON appended to running jobs, each",
                "its own transaction as the daemon's jobs append them, then read back in pages of 32 (the",
                "SSE reader's page).  SQLite: the daemon's file settings, one handle shared by the",
                "writers; PostgreSQL: tests/pg/with_pg.sh's server"
                + (f" ({pg_set['version']}, fsync={pg_set['fsync']})" if pg_set else "")
                + ", a handle per writer, as replicas hold them.", "",
                "| store | measurement | events | events/s | p50 µs per call | p99 µs per call |",
                "|---|---|---|---|---|---|"]
        for r in appends:
            if r["test"] == "append":
                what = (f"append, {r['writers']} writer{'s' if r['writers'] > 1 else ''}"
                        + {"one": "", "shared": " (one shared handle)",
                           "per-thread": " (a handle each)"}.get(r["handles"], ""))
                p50, p99 = fmt(r["p50_us"], ".0f"), fmt(r["p99_us"], ".0f")
            else:
                what = f"read, pages of {r['page']} ({r['page_us']:.0f} µs a page)"
                p50 = p99 = "n/a"
            out.append(f"| {r['backend']} | {what} | {r['events']:,} | {r['events_per_s']:,.0f} | {p50} | {p99} |")

    def rec(backend, test, writers=None):
        return next((r for r in store if r.get("backend") == backend and r.get("test") == test
                     and (writers is None or r.get("writers") == writers)), None)
    pg1, pg2, pgr = rec("postgres", "append", 1), rec("postgres", "append", 2), rec("postgres", "read")
    every = source_constant("server/job.c", "PROGRESS_EVERY_S")
    text = ["", "What this means for a deployment of many machines:"]
    if direct:
        proxied = next((r for r in reps if r["nginx"] and r["replicas"] == 1), None)
        text.append("`POST /v1/samples` never touches the job store (no job row, no event), so sampling"
                    " scales with the replicas' cores and the database is no limit for it"
                    + (f"; nginx in front of one replica answered {proxied['rps'] / direct['rps']:.0%} of the"
                       f" direct requests/s ({proxied['rps']:,.0f} vs {direct['rps']:,.0f}) while sharing its"
                       " cores, a cost that moves to the load balancer's own machine in a real deployment."
                       if proxied and direct["rps"] else "."))
    if pg1 and every:
        writes = 2.0 / every  # each report: the progress row (mf_store_job_progress) and its event
        best = max(pg1["events_per_s"], pg2["events_per_s"] if pg2 else 0.0)
        text.append(
            f"Jobs are where the database sets the limit.  A running train job reports progress at most"
            f" every {every:g} s (PROGRESS_EVERY_S in server/job.c), each report one progress update and"
            f" one event appended: {writes:g} write transactions per second per job (its metrics events,"
            f" 20 a run, add next to nothing).  One PostgreSQL handle appended {pg1['events_per_s']:,.0f}"
            f" events/s (p50 {pg1['p50_us']:.0f} µs, p99 {pg1['p99_us']:.0f} µs: an append is five round"
            f" trips to the server process, BEGIN, the job row locked, the INSERT with its NOTIFY, the"
            f" row's last_seq, COMMIT, and a lone writer waits out each one's wake-up on this VM, which"
            f" is why two writers each append faster), and a replica runs every statement of its jobs on"
            f" its one operations connection, one at a time, so one replica carries about"
            f" {pg1['events_per_s'] / writes:,.0f} concurrently running jobs before their writes queue"
            + (f"; two handles together took {pg2['events_per_s']:,.0f} events/s on this 2-core machine,"
               f" where the database shares the cores with its clients, so the whole database carries at least"
               f" {best / writes:,.0f} running jobs from all replicas together" if pg2 else "")
            + ".  A replica starts at most --max-running jobs at once (default 2) on its workers' cores,"
              f" so PostgreSQL becomes the limit only once the replicas together run about"
              f" {best / writes:,.0f} jobs at once; until then more machines means more jobs.")
        if pg_set and pg_set.get("fsync") == "off":
            text.append("These PostgreSQL figures come from a server with fsync off (the tests' server):"
                        " one that flushes each commit to disk adds the disk's flush time to every append,"
                        " so on a production server the job count is bounded by its disk's commits per"
                        " second (group commit raises that with many writers); measure it there before"
                        " relying on the figure.")
    if pgr:
        text.append(f"A stream catching up reads {pgr['events_per_s']:,.0f} events/s from PostgreSQL"
                    f" ({pgr['page_us']:.0f} µs a page of {pgr['page']}); live streams read only what is new"
                    " when a NOTIFY wakes them, so readers cost far less than writers.")
    if pg_set:
        avail = pg_set["max_connections"] - pg_set.get("reserved_connections", 0)
        text.append(f"Connections: each replica holds two PostgreSQL connections (one for operations,"
                    f" one for LISTEN), so a server with max_connections = {pg_set['max_connections']}"
                    f" ({avail} for clients) takes at most {avail // 2} replicas; beyond that raise"
                    " max_connections, or pool the operations connections (the LISTEN one needs a"
                    " session of its own).")
    if len(text) > 2:
        out += [text[0], ""] + [x for t in text[1:] for x in (t, "")][:-1]
    return out


SMEME_TARGET = 2.0  # issue 5: the C round and the C job at least 2x faster than PyTorch


def smeme_section(d):
    """S-MEME in C and PyTorch (bench/smeme.sh), and the digits job's wall time."""
    recs = read_jsonl(os.path.join(d, "smeme.jsonl"))
    c = next((r for r in recs if r.get("impl") == "manifold-c"), None)
    t = next((r for r in recs if r.get("impl") == "pytorch"), None)
    dg = next((r for r in recs if r.get("impl") == "manifoldd"), None)
    if c is None and t is None and dg is None:
        return []
    out = ["", "## S-MEME: Adjoint Matching rounds and K = 2 jobs (bench/smeme.sh)", "",
           "`imbalanced_square`, the settings of smeme-reference-run.md's run C (N 100, m 64, B 2048,",
           "2 Adam steps, lr 4e-4, clip_grad 1, |a_N| <= 2.5, tau_r 10, alpha 2, 200 rounds per",
           "iteration); a job is timed as smeme.py times it: K iterations, each followed by an",
           "evaluation of 20,000 samples.  C: bench/smeme_bench, 2-thread row team (as the daemon);",
           "PyTorch: ../shared/bench/smeme_torch/smeme.py, 1 thread (its fastest), same model file.",
           "Seconds per round are the mean over the job's rounds for both (smeme.py's ms/round;",
           "for C, the iterations' time over their rounds); C's best single round in brackets.", "",
           "| | seconds per round | seconds per K = 2 job | H (20 bins) parent -> it1 -> it2 |",
           "|---|---|---|---|"]
    def hs(r):
        if r is None:
            return "n/a"
        if "H_hist20" in r:
            return " -> ".join(f"{h:.3f}" for h in r["H_hist20"])
        ev = r.get("evals") or []
        return " -> ".join(f"{e.get('H_hist20', e.get('H', float('nan'))):.3f}" for e in ev
                           if isinstance(e.get('H_hist20', e.get('H')), (int, float)))
    if c is not None:
        c_round = sum(c["iteration_s"]) / (c["K"] * c["rounds"])
        out.append(f"| Manifold C | {c_round:.4f} (best {c['round_s_best']:.4f}) | {c['job_s']:.1f} | {hs(c)} |")
    if t is not None:
        out.append(f"| PyTorch | {t['round_s_mean']:.4f} | {t['job_s']:.1f} | {hs(t)} |")
    if c is not None and t is not None:
        rr, rj = t["round_s_mean"] / c_round, t["job_s"] / c["job_s"]
        out += ["", "| target | measured | verdict |", "|---|---|---|",
                f"| round at least {SMEME_TARGET:g}x faster | {rr:.2f}x | {'**pass**' if rr >= SMEME_TARGET else 'fail'} |",
                f"| job at least {SMEME_TARGET:g}x faster | {rj:.2f}x | {'**pass**' if rj >= SMEME_TARGET else 'fail'} |"]
    if dg is not None:
        out += ["", f"Digits job through the daemon (`manifold explore digits`, default settings): "
                f"**{dg['wall_s']:.0f} s** wall time.", "", "```"] + dg.get("iterations", []) + ["```"]
    return out


REWARD_TARGET = 1.8  # issue 12: the job's training at least 1.8x faster than PyTorch's


def reward_section(d):
    """finetune.reward end to end (bench/reward.sh) next to reward.py's training."""
    recs = read_jsonl(os.path.join(d, "reward.jsonl"))
    c = next((r for r in recs if r.get("impl") == "manifoldd"), None)
    t = next((r for r in recs if r.get("impl") == "pytorch"), None)
    if c is None and t is None:
        return []
    steps = (c or t)["steps"]
    out = ["", "## Reward-directed conditional diffusion: the finetune.reward job (bench/reward.sh)", "",
           f"`linear_subspace` (D 64), reward.py's recipe: 16,384 unlabelled rows, 1,000 labels of noise",
           f"0.1, ridge pseudo-labels of noise nu = {(c or t)['nu']:g}, 3 x 256 SiLU, {steps:,} Adam steps of",
           "batch 256, DDPM on 200 strided steps, 2,000 samples per target.  Manifold: the daemon's job,",
           "each phase timed by the client between the events that bound it (bench/reward_job.py); the",
           "targets phase also computes each target's kNN entropy and distances.  PyTorch:",
           "../shared/bench/reward_torch/reward.py on 2 threads, tuned as ../shared/bench/README.md says;",
           "it trains an unconditional and then the conditional model and prints each one's training",
           "time, so the training rows compare the same steps of the same network.", "",
           "| phase | Manifold (daemon job) | PyTorch (reward.py) |", "|---|---|---|"]
    f = lambda r, k: f"{r[k]:.1f} s" if r is not None and r.get(k) is not None else "n/a"
    out.append(f"| fit: rows, ridge, pseudo-labels | {f(c, 'fit_s')} | (not timed; numpy, well under 1 s) |")
    out.append(f"| train the conditional model | {f(c, 'train_s')} | {f(t, 'train_cond_s')} |")
    out.append(f"| sample and measure {len((c or {}).get('targets', []))} targets | {f(c, 'targets_s')} | "
               f"(not timed) |")
    out.append(f"| publish the model | {f(c, 'publish_s')} | - |")
    out.append(f"| whole job | {f(c, 'total_s')} | {f(t, 'wall_s')} wall for the script (two models, "
               f"7 sample sets) |")
    if c is not None and t is not None:
        sp = t["train_cond_s"] / c["train_s"]
        out += ["", "| target | measured | verdict |", "|---|---|---|",
                f"| training at least {REWARD_TARGET:g}x faster than PyTorch | {sp:.2f}x "
                f"({steps / c['train_s']:.0f} against {steps / t['train_cond_s']:.0f} steps/s) | "
                f"{'**pass**' if sp >= REWARD_TARGET else 'fail'} |"]
    rows = []
    tt = {x["a"]: x for x in (t or {}).get("targets", [])}
    for x in (c or {}).get("targets", []):
        y = tt.get(x["a"], {})
        rows.append(f"| {x['a']:g} | {fmt(x.get('ratio'), '.3f')} | {fmt(x.get('off_mean'), '.3f')} | "
                    f"{fmt(y.get('ratio'), '.3f')} | {fmt(y.get('off_mean'), '.3f')} |")
    if rows:
        out += ["", "Achieved mean reward over the ideal a / (1 + nu^2), and the off-subspace deviation",
                f"(PyTorch's unconditional model: {fmt((t or {}).get('uncond_off_mean'), '.3f')}):", "",
                "| target a | Manifold ratio | Manifold off-subspace | PyTorch ratio | PyTorch off-subspace |",
                "|---|---|---|---|---|"] + rows
    return out


DXMI_ITER_TARGET = 2.0  # issue 13: the C training iteration at least 2x faster than dxmi.py's
DXMI_SPEED_TARGET = {"eight_gaussians": 2.4}  # issue 13: DxMI samples/s over DDIM's at equal SW2


def dxmi_section(d):
    """DxMI (bench/dxmi.sh): training iterations in C and PyTorch, samples/s at equal quality."""
    recs = read_jsonl(os.path.join(d, "dxmi.jsonl"))
    c = next((r for r in recs if r.get("impl") == "manifold-c" and r.get("kind") == "iteration"), None)
    t = next((r for r in recs if r.get("impl") == "pytorch" and r.get("kind") == "iteration"), None)
    quality = [r for r in recs if r.get("kind") == "quality"]
    loads = {r["when"]: r["loadavg"] for r in recs if r.get("kind") == "load"}
    if c is None and t is None and not quality:
        return []
    out = ["", "## DxMI: training iterations and samples/s at equal quality (bench/dxmi.sh)", "",
           "Training iteration: `eight_gaussians`, T = 5, B = 512, the authors' \"code\" schedule, lr_s 1e-5,",
           "lr_e 1e-4 (core's defaults = dxmi.py `--code_schedule --lr_s 1e-5 --lr_e 1e-4`), a fresh data",
           "batch each iteration.  Both sides time iterations that make the sampler step: C",
           "(bench/dxmi_bench, 2-thread row team) after its 200 warm-up iterations, the median of its",
           "passes; PyTorch (../shared/bench/dxmi_torch/dxmi.py, 2 threads, tuned as",
           "../shared/bench/README.md says) with `--v_warm 0` and evaluations off, its loop's wall time",
           "over its iterations.  Load average before / after:",
           f"{loads.get('before', '?')} / {loads.get('after', '?')}.", "",
           "| | ms per iteration | notes |", "|---|---|---|"]
    if c is not None:
        passes = ", ".join(f"{v:.1f}" for v in c.get("passes_ms", []))
        out.append(f"| Manifold C | {c['ms_per_iter']:.2f} | median of {len(c.get('passes_ms', []))} passes"
                   f" of {c['iters_per_pass']} ({passes}); warm-up iterations (no sampler step)"
                   f" {c['warmup_ms_per_iter']:.2f} |")
    if t is not None:
        if "skipped" in t:
            out.append(f"| PyTorch | n/a | not run: {t['skipped']} |")
        else:
            out.append(f"| PyTorch | {t['ms_per_iter']:.2f} | {t['iters']} iterations in {t['loop_s']:.1f} s"
                       f" (torch {t.get('torch', '?')}; whole script {t['wall_s']:.1f} s) |")
    if c is not None and t is not None and "skipped" not in t:
        r = t["ms_per_iter"] / c["ms_per_iter"]
        out += ["", "| target | measured | verdict |", "|---|---|---|",
                f"| training iteration at least {DXMI_ITER_TARGET:g}x faster than dxmi.py | {r:.2f}x |"
                f" {'**pass**' if r >= DXMI_ITER_TARGET else 'fail'} |"]
    for q in quality:
        ds, T, dsw = q["dataset"], q["T"], q.get("dxmi_sw2")
        lr = q.get("lr_sampler", 1e-5)
        if q.get("recipe"):
            lr_text = (f", the finetune.dxmi job's recipe for {ds} (core/dxmi.h mf_dxmi_opts_for_dim:"
                       f" batch {q['B']}, tau_entropy {q.get('tau_entropy', 0):g}, lr_sampler {lr:g},"
                       f" lr_energy {q.get('lr_energy', 0):g})")
        else:
            lr_text = "" if lr == 1e-5 else f", lr_sampler {lr:g} (core's default: 1e-5)"
        out += ["", f"**Equal quality, `{ds}`, T = {T}{lr_text}.**  DxMI trained {q['train_iters']:,} iterations"
                f" ({q['train_s']:.0f} s, {1e3 * q['train_s'] / max(q['train_iters'], 1):.1f} ms each"
                f" with the warm-up); SW2 as tests/core/test_dxmi_oracle.c measures it (1,000 samples"
                f" against {'the 297 held-out images' if ds == 'digits' else '1,000 fresh data points'},"
                f" mean of 5 seeds): floor {q['floor']:.4f}, the un-tuned {T}-step sampler"
                f" {q['untuned_sw2']:.4f} ({q['untuned_sw2'] / q['floor']:.2f}x), DxMI"
                + (f" **{dsw:.4f}** ({dsw / q['floor']:.2f}x)." if dsw is not None else " non-finite.")]
        if dsw is None or dsw > q["untuned_sw2"]:
            out.append("The trained sampler is worse than the un-tuned one it started from: training"
                       " diverged in quality, so every parent sampler below matches it at once and the"
                       " speed-ups compare against a broken sampler; they mean nothing.")
        if q.get("iters_done", q["train_iters"]) < q["train_iters"]:
            out.append(f"Training diverged (a non-finite loss) at iteration {q['iters_done'] + 1}.")
        if q.get("dxmi_sw2_trace"):
            out.append("SW2 during training: " + ", ".join(
                f"{it}: {fmt(v, '.3f')}" for it, v in q["dxmi_sw2_trace"]) + ".")
        sweeps = [(name, label, q[name]) for name, label in
                  (("ddim", "parent DDIM (eta 0)"), ("ddpm", "parent DDPM")) if q.get(name)]
        by_steps = {}
        for name, _, sw in sweeps:
            for k, v in sw["sw2"]:
                by_steps.setdefault(k, {})[name] = v
        out += ["", "| steps | " + " | ".join(f"{label} SW2" for _, label, _ in sweeps) + " |",
                "|---|" + "---|" * len(sweeps)]
        for k in sorted(by_steps):
            cells = []
            for name, _, sw in sweeps:
                v = fmt(by_steps[k][name], ".4f", "non-finite") if name in by_steps[k] else ""
                cells.append(f"**{v}**" if k == sw.get("match_steps") else v)
            out.append(f"| {k} | " + " | ".join(cells) + " |")
        out += ["", f"Throughput: {q['n_throughput']:,} samples in runs of at most {q['batch_rows']:,} rows"
                f" (the daemon's batch), best of {q['reps']}, 2-thread team.", "",
                "| sampler | steps | SW2 | samples/s | DxMI speed-up |", "|---|---|---|---|---|",
                f"| DxMI ({T}-step VAR) | {T} | {fmt(dsw, '.4f')} | {q['dxmi_samples_per_s']:,.0f} | - |"]
        verdict = []
        for name, label, s in sweeps:
            sp = q["dxmi_samples_per_s"] / s["samples_per_s"] if s.get("samples_per_s") else None
            at = dict(s["sw2"]).get(s["timed_steps"])
            if s.get("match_steps"):
                timed, sp_text = f"{s['match_steps']} (fewest with SW2 <= DxMI's)", f"{fmt(sp, '.2f')}x"
            else:
                timed = (f"{s['timed_steps']} (never matched up to {s['sw2'][-1][0]}; its plateau,"
                         f" within 5 % of its best"
                         f" {fmt(min((v for _, v in s['sw2'] if v is not None), default=None), '.4f')})")
                sp_text = f">= {fmt(sp, '.2f')}x"
            out.append(f"| {label} | {timed} | {fmt(at, '.4f')} | {fmt(s.get('samples_per_s'), ',.0f')} |"
                       f" {sp_text} |")
            if name == "ddim" and ds in DXMI_SPEED_TARGET and sp is not None:
                verdict.append((f"DxMI at least {DXMI_SPEED_TARGET[ds]:g}x DDIM's samples/s at equal SW2",
                                sp_text, sp >= DXMI_SPEED_TARGET[ds]))
        if verdict:
            out += ["", "| target | measured | verdict |", "|---|---|---|"]
            out += [f"| {a} | {m} | {'**pass**' if ok else 'fail'} |" for a, m, ok in verdict]
    return out


def hjb_section(d):
    """Potential models: training steps against PyTorch, and the quality table (bench/hjb/)."""
    paths = [os.path.join(d, f) for f in ("hjb_bench.md", "hjb_table.md")]
    if not any(os.path.exists(p) for p in paths):
        return []
    out = ["", "## HJB-regularised training: potential models (bench/hjb/bench.sh, table.sh)", ""]
    if os.path.exists(paths[0]):
        out += ["Time per training step, 3×128 SiLU, batch 256, 64 collocation points (a quarter",
                "of the batch), against `../shared/bench/hjb_torch/timing.py` (the reference's",
                "exact-autograd residual) in the same run.  `pot` is a potential's DSM step",
                "through ∇ₓg (a forward, a backward, a tangent and a second backward pass);",
                "`pot + HJB` adds the regulariser (exact Laplacian by stencil: 7 network rows per",
                "point).  PyTorch is slower on two threads than on one here; the ratio takes each",
                "side's best.", "", open(paths[0]).read().strip(), ""]
    if os.path.exists(paths[1]):
        out += ["Quality (the experiment of other-seeds.md §3.5; docs/hjb.md reads it):",
                "eight_gaussians on a fixed training set of N points, 3×128, batch 256, 10,000",
                "steps, EMA 0.999, seed 1; held-out NLL by the PF-ODE (truth 2.829 nats), SW2 over",
                "5 × 1,000 DDPM samples next to its two-sample floor, kNN entropy (k = 5; held-out",
                "data give 2.85), residual RMS at 1,000 held-out points in five τ bins over",
                "[0.02, 1].", "", open(paths[1]).read().strip(), ""]
    return out


def compare_section(d):
    """An old build against this one (bench/compare.sh): W4, serve.sh and the train job."""
    recs = read_jsonl(os.path.join(d, "compare.jsonl"))
    if not recs:
        return []

    def key(r):
        if r.get("workload") == "W4" and "ms_per_request" in r:
            return ("W4: ms per request (mf_bench, 1 thread)", "ms_per_request", False)
        if "connections" in r:
            c = r["connections"]
            return (f"serve.sh, {c} connection{'s' if c > 1 else ''}: requests/s", "rps", True)
        if "steps_per_s" in r:
            return (f"{r['workload']}: steps/s", "steps_per_s", True)
        return None

    measures, revs = {}, {}
    for r in recs:
        k = key(r)
        if k is None:
            continue
        measures.setdefault(k, {}).setdefault(r["binary"], []).append(r[k[1]])
        revs[r["binary"]] = r.get("rev", "?")
        if "connections" in r:
            kp = (f"serve.sh, {r['connections']} connection{'s' if r['connections'] > 1 else ''}: p99 ms",
                  "p99_ms", False)
            measures.setdefault(kp, {}).setdefault(r["binary"], []).append(r["p99_ms"])
    label = recs[0].get("label", "the change")
    rounds = max(r.get("round", 1) for r in recs)
    out = ["", f"## Before and after {label} (bench/compare.sh)", "",
           f"The old build ({revs.get('old', '?')}) and this one ({revs.get('new', '?')}) measured in turn",
           f"in one run, {rounds} rounds; each cell is the median over the rounds, with the",
           "range in brackets.  serve.sh runs W4-sized POST /v1/samples at 1 and 64 connections",
           "with metrics off; the train jobs are timed by bench/train_job.py from the job's",
           "running status to its final one.", "",
           "| measure | old | new | new / old |", "|---|---|---|---|"]

    def med(v):
        v = sorted(v)
        n = len(v)
        return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])

    def cell(v):
        return f"{med(v):,.4g} ({min(v):,.4g}-{max(v):,.4g})" if v else "n/a"

    for (name, _, _), by in measures.items():
        o, n = by.get("old", []), by.get("new", [])
        ratio = f"{med(n) / med(o):.2f}" if o and n and med(o) else "n/a"
        out.append(f"| {name} | {cell(o)} | {cell(n)} | {ratio} |")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", required=True, help="raw outputs of run.sh")
    ap.add_argument("--out", required=True, help="RESULTS.md to write")
    ap.add_argument("--status", default="", help="a note on what could not be run")
    args = ap.parse_args()
    d = args.dir

    torch, n_torch = best_by_workload(read_jsonl(os.path.join(d, "torch.jsonl")))
    mf, n_mf = best_by_workload(read_jsonl(os.path.join(d, "mf_bench.jsonl")))
    mf_blas, _ = best_by_workload(read_jsonl(os.path.join(d, "mf_bench_blas.jsonl")))
    sgemm = read_jsonl(os.path.join(d, "sgemm.jsonl"))
    auto = (read_jsonl(os.path.join(d, "blas_auto.json")) or [{}])[0]
    fixed = (read_jsonl(os.path.join(d, "blas_mf.json")) or [{}])[0]
    sg_info = next((r for r in sgemm if r.get("type") == "info"), {})

    rows, notes = [], []
    n_pass = n_rated = 0
    for name in ORDER:
        t, c = torch.get(name), mf.get(name)
        if t is None and c is None:
            continue
        dim = (c or t or {}).get("d", 2)
        ratio = None
        if t is not None and c is not None and "error" not in t:
            ratio = t["wall_s_best"] / c["wall_s_best"]
        full, hoisted = gemm_floor(sgemm, name, dim)
        c_over_g = c["wall_s_best"] / full[0] if (full and c) else None
        c_over_h = c["wall_s_best"] / hoisted[0] if (hoisted and c) else None
        ok_ratio = ratio is not None and ratio >= TARGET_RATIO[name]
        ok_gemm = c_over_g is not None and c_over_g <= TARGET_GEMM
        if ratio is None or c_over_g is None:
            verdict = "n/a"
        else:
            n_rated += 1
            n_pass += ok_ratio and ok_gemm
            verdict = "**pass**" if ok_ratio and ok_gemm else "fail (" + ", ".join(
                s for s, bad in (("speed", not ok_ratio), ("GEMM", not ok_gemm)) if bad) + ")"
        if full is not None:
            unit = 1e3 if name == "W4" else 1.0
            suffix = " ms" if name == "W4" else " s"
            g_text = f"{fmt(c_over_g, '.2f')} (GEMM {full[0] * unit:.3g}{suffix}, {full[1]}T"
            if hoisted is not None:
                g_text += f"; hoisted K=D: {c_over_h:.2f})"
            else:
                g_text += ")"
        else:
            g_text = "n/a"
        c_text = speed_text(c)
        if c is not None:
            c_text += f", {c['threads']}T"
        t_text = speed_text(t)
        if t is not None and "error" not in t:
            t_text += f", {t.get('mode', '?')} {t.get('threads', '?')}T"
        rows.append(f"| {name} | {t_text} | {c_text} | {fmt(ratio, '.2f')} | "
                    f"{TARGET_RATIO[name]} | {g_text} | "
                    f"{fmt(c['gflops'] if c else None, '.1f')} | {verdict} |")
        if t is not None and "error" in t:
            notes.append(f"PyTorch {name}: {t['error']}")

    load_b = read_text(os.path.join(d, "load_before.txt"))
    load_a = read_text(os.path.join(d, "load_after.txt"))
    any_c = next(iter(mf.values()), {})
    any_t = next(iter(torch.values()), {})
    lines = [
        "# Manifold C core vs the PyTorch reference (W1-W5)",
        "",
        "Written by `bench/run.sh` (`bench/summarize_results.py`); do not edit by hand.",
        "",
        f"- Date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- CPU: {cpu_model()}, {os.cpu_count()} logical CPUs",
        f"- OpenBLAS core used by mf_bench: {any_c.get('openblas_core', fixed.get('openblas_core', '?'))}"
        f" (OpenBLAS's own detection: {auto.get('openblas_core', '?')};"
        f" mf_cpu_ensure_blas_coretype picks {fixed.get('openblas_core', '?')})",
        f"- PyTorch: {any_t.get('torch', 'not run')}, OpenBLAS core {any_t.get('openblas_core', 'n/a')};"
        f" sgemm_peak core {sg_info.get('corename', 'n/a')}",
        f"- Passes (best kept): PyTorch {max(n_torch.values(), default=0)}, "
        f"mf_bench {max(n_mf.values(), default=0)}",
        f"- Load average before / after: {load_b or '?'} / {load_a or '?'}"
        " (2 cores: anything else running moves these figures)",
        "",
    ]
    if args.status:
        lines += [f"> {args.status}", ""]
    lines += [
        "| workload | PyTorch best | Manifold C | ratio (C / PyTorch speed) | target ratio |"
        " C time / GEMM-only (target <= 1.25) | C GFLOP/s | pass/fail |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"{n_pass} of {n_rated} rated workloads pass both targets.",
        "",
        "Notes: speed is samples/s (W1, W2), steps/s (W3, W5), 1 / (ms per request) (W4);",
        "each figure is the best of the timed repeats, measured the same way by both programs.",
        "GFLOP/s counts the reference network's linear layers (ref_torch.py `linear_flops`),",
        "also for the C sampler, which skips the time-embedding part of layer 1 per row.",
        "GEMM-only: sgemm_peak's time for one workload's sgemm calls, best of 1 and 2",
        "OpenBLAS threads; `hoisted K=D` is the same with the time projection taken out of",
        "layer 1 (what the C sampler does).  For Manifold, `nT` = n threads in the row team",
        "(server/par.h: batch rows split over threads, OpenBLAS single-threaded in each);",
        "for PyTorch and sgemm_peak, OpenBLAS threads.",
        "Training in mf_bench uses the reference optimiser (Adam, lr 1e-3, no clipping, no EMA).",
    ]
    for n in notes:
        lines.append(f"- {n}")
    if mf_blas:
        lines += ["", "Why Manifold splits rows instead of threading OpenBLAS (same binary, same run):", "",
                  "| workload | row team, 1-thread OpenBLAS | 1 thread, threaded OpenBLAS | speed-up |",
                  "|---|---|---|---|"]
        for name in ORDER:
            c, b = mf.get(name), mf_blas.get(name)
            if c is None or b is None:
                continue
            lines.append(f"| {name} | {speed_text(c)}, {c['threads']}T | {speed_text(b)}, "
                         f"{b['threads']}T | {b['wall_s_best'] / c['wall_s_best']:.2f}x |")

    def block(title, fname, keep=lambda r: True):
        recs = [r for r in read_jsonl(os.path.join(d, fname)) if keep(r)]
        out = [f"<details><summary>{title} ({fname})</summary>", "", "```json"]
        out += [json.dumps(r) for r in recs] or ["(none)"]
        out += ["```", "", "</details>", ""]
        return out

    metrics_md = os.path.join(d, "metrics.md")
    if os.path.exists(metrics_md):
        with open(metrics_md) as fh:
            table = fh.read().strip()
        lines += ["", "## Sample metrics (core/entropy.h, vendi.h, sw.h, likelihood.h)", "",
                  "`bench/metrics_bench`, same run, one thread.  The k-d tree (2-D) and the blocked",
                  "dgemm (64-D) kNN paths are timed next to a plain O(N^2) loop over the same points.",
                  "", table]

    # the daemon samples in bf16 by default: its ceiling is mf_bench's bf16 figures
    serve_mf = mf_bench_bf16(d, read_jsonl)
    lines += serve_section(d, serve_mf, "bf16") if serve_mf else serve_section(d, mf, "f32")
    lines += replicas_section(d)
    lines += smeme_section(d)
    lines += reward_section(d)
    lines += dxmi_section(d)
    lines += hjb_section(d)
    lines += bf16_section(d, read_jsonl)
    lines += compare_section(d)
    lines += [""]
    lines += block("Raw mf_bench output", "mf_bench.jsonl")
    lines += block("Raw bench/serve.sh output", "serve.jsonl")
    lines += block("Raw bench/smeme.sh output", "smeme.jsonl")
    for name, fname in (("replicas", "replicas.jsonl"), ("store", "store.jsonl")):
        if os.path.exists(os.path.join(d, fname)):
            lines += block(f"Raw bench/{name}.sh output", fname)
    if os.path.exists(os.path.join(d, "reward.jsonl")):
        lines += block("Raw bench/reward.sh output", "reward.jsonl")
    if os.path.exists(os.path.join(d, "dxmi.jsonl")):
        lines += block("Raw bench/dxmi.sh output", "dxmi.jsonl")
    if os.path.exists(os.path.join(d, "bf16.jsonl")):
        lines += block("Raw bench/bf16.sh output", "bf16.jsonl")
    if os.path.exists(os.path.join(d, "compare.jsonl")):
        lines += block("Raw bench/compare.sh output", "compare.jsonl")
    lines += block("Raw mf_bench --parallel blas output", "mf_bench_blas.jsonl")
    lines += block("Raw PyTorch reference output", "torch.jsonl")
    lines += block("Raw sgemm_peak output", "sgemm.jsonl")
    lines += block("BLAS set-up", "blas_auto.json") + block("BLAS set-up after re-exec", "blas_mf.json")
    with open(args.out, "w") as fh:
        fh.write("\n".join(lines).rstrip() + "\n")


if __name__ == "__main__":
    main()
