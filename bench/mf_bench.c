/* SPDX-License-Identifier: MIT */
/*
 * mf_bench.c - the reference workloads W1..W5 of ../shared/bench/ref_torch.py
 * on the C core, measured the same way, one JSON line per workload on stdout.
 *
 *   W1 sample  D=2  H=256 batch 4096, 100 DDIM steps  -> samples/s
 *   W2 sample  D=64 H=512 batch 1024, 100 DDIM steps  -> samples/s
 *   W3 train   D=2  H=256 batch 512, 200 Adam steps   -> steps/s
 *   W4 latency D=2  H=256 batch 16, 50 DDIM steps     -> ms per request
 *   W5 train   D=64 H=512 batch 256, 200 Adam steps   -> steps/s
 *
 * Network: 3 hidden layers of H, time embedding E = 64, linear DDPM schedule
 * with T = 1000.  The FLOP count is ref_torch.py's linear_flops(): the four
 * linear layers with the full (D + 64)-wide first layer, forward per sampling
 * step, forward + weight grads + input grads of layers 2..4 per training step;
 * so GFLOP/s figures compare like for like even though the C sampler hoists
 * the time-embedding part of the first layer out of the per-row work.
 *
 * Timing follows ref_torch.py: sampling runs a 3-step run twice and one full
 * run as warm-up, then `repeats` full runs, best reported; W4 runs 5 warm-up
 * requests, then `repeats` rounds of 30 sequential requests, each request
 * timed, and reports the best round's mean; training runs 20 warm-up steps,
 * then `repeats` runs of S steps.  Everything is allocated before the timed
 * regions except what mf_sample itself allocates per call (its two (n, D)
 * scratch arrays).  The training data (ref_torch's make_data) and the row
 * indices of every step are drawn beforehand; the timed loop only copies the
 * rows into the batch buffer.  Training matches the reference optimiser:
 * Adam(0.9, 0.999, 1e-8), constant lr 1e-3, no clipping, no EMA
 * (--train-defaults switches to mf_train_opts_default()'s clip 1 + EMA).
 *
 * Threads: the default is a per-workload table (W4 = 1 thread, the others 2,
 * capped at the CPU count), from measurements on the 2-core box: a 16-row
 * request is too small to split.  --threads overrides it, and "auto" times
 * short probe runs at 1..min(ncpu, 2) threads and keeps the fastest.  Every
 * JSON line says which count ran and why.  --parallel rows (the default, what
 * Manifold's programs do) splits the batch rows over a team of that many
 * threads with single-threaded OpenBLAS (server/par.h); --parallel blas runs
 * one thread and gives OpenBLAS the threads instead, for comparison.
 *
 * --precision bf16 runs the sampling workloads (W1, W2, W4) in bf16 as the daemon does
 * (core/bf16_net.h: the network's layers made once, each call's layers made like them,
 * the row team splitting rows); f32 (the default) is mlp.c's float path.
 */
#include "bf16_net.h"
#include "cpu.h"
#include "mem.h"
#include "mlp.h"
#include "par.h"
#include "rng.h"
#include "sampler.h"
#include "schedule.h"
#include "train.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TEMB 64
#define SCHEDULE_SPEC "linear:0.0001:0.02:1000"
#define N_DATA 65536
#define MAX_REPEATS 100
#define LATENCY_REQS 30
#define LATENCY_WARMUP 5
#define TRAIN_WARMUP 20
#define MAX_THREADS_AUTO 2

typedef enum wl_kind { KIND_SAMPLE, KIND_LATENCY, KIND_TRAIN } wl_kind;

typedef struct workload {
    const char *name;
    wl_kind kind;
    size_t d, H, batch, steps;
    int default_threads;
} workload;

static const workload WORKLOADS[] = {
    {"W1", KIND_SAMPLE, 2, 256, 4096, 100, 2},
    {"W2", KIND_SAMPLE, 64, 512, 1024, 100, 2},
    {"W3", KIND_TRAIN, 2, 256, 512, 200, 2},
    {"W4", KIND_LATENCY, 2, 256, 16, 50, 1},
    {"W5", KIND_TRAIN, 64, 512, 256, 200, 2},
};
#define N_WORKLOADS (sizeof WORKLOADS / sizeof WORKLOADS[0])

/* Thread choice per workload: > 0 a count, 0 the default table, -1 auto. */
#define THREADS_DEFAULT 0
#define THREADS_AUTO (-1)

typedef struct bench_opts {
    bool run[N_WORKLOADS];
    int threads[N_WORKLOADS];
    int repeats;
    bool train_defaults;
    bool blas_parallel; /* --parallel blas */
    mf_precision precision; /* --precision: sampling's arithmetic */
} bench_opts;

/* Everything one workload needs, allocated outside the timed regions. */
typedef struct bench_ctx {
    const workload *w;
    const mf_schedule *sched;
    mf_mlp *net;
    mf_mlp_ws *ws;          /* sampling */
    mf_mlp_eps_ctx eps_ctx; /* sampling */
    float *x;               /* (batch, d) samples */
    mf_trainer *tr;         /* training */
    float *data;            /* (N_DATA, d) training set */
    uint32_t *rows;         /* (n_row_steps, batch) data row of each batch row */
    size_t n_row_steps;
    size_t row_step;        /* next step's slot in rows */
    float *xb;              /* (batch, d) batch buffer */
    uint64_t seed;          /* advanced per sampling call, as fresh torch.randn */
    double last_loss;
    mf_par *team;           /* row-parallel team (size 1 in blas mode) */
    bool blas_parallel;
    mf_precision precision; /* sampling */
    mf_bf16_net *bf16;      /* bf16 sampling: the network's layers, made once */
} bench_ctx;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

/* ref_torch.py linear_flops(): 2 * multiply-adds of the four linear layers per step. */
static double linear_flops(size_t batch, size_t d, size_t H, bool train)
{
    const double B = (double) batch;
    const double in[4] = {(double) (d + TEMB), (double) H, (double) H, (double) H};
    const double out[4] = {(double) H, (double) H, (double) H, (double) d};
    double fwd = 0.0, dx = 0.0;
    for (int i = 0; i < 4; i++) {
        fwd += 2.0 * B * in[i] * out[i];
        if (i > 0) {
            dx += 2.0 * B * in[i] * out[i];
        }
    }
    return train ? fwd + fwd + dx : fwd;
}

/*
 * ref_torch.py make_data(): for d = 2, 8 Gaussians of std 0.05 on the circle
 * of radius 2; otherwise 10 N(0, I) centres plus N(0, 0.1^2 I) noise.
 */
static int make_data(float *data, size_t n, size_t d, uint64_t seed)
{
    mf_rng root = mf_rng_make(seed);
    mf_rng r_k = mf_rng_derive(root, 1), r_noise = mf_rng_derive(root, 2);
    mf_rng_normal(r_noise, 0, data, n * d);
    if (d == 2) {
        for (size_t i = 0; i < n; i++) {
            double ang = (double) mf_rng_below(r_k, i, 8) * (2.0 * 3.141592653589793 / 8.0);
            data[2 * i] = (float) (2.0 * cos(ang)) + 0.05f * data[2 * i];
            data[2 * i + 1] = (float) (2.0 * sin(ang)) + 0.05f * data[2 * i + 1];
        }
        return 0;
    }
    float *centres = mf_alloc_floats(10 * d);
    if (centres == NULL) {
        return -1;
    }
    mf_rng_normal(mf_rng_derive(root, 3), 0, centres, 10 * d);
    for (size_t i = 0; i < n; i++) {
        const float *c = centres + (size_t) mf_rng_below(r_k, i, 10) * d;
        for (size_t j = 0; j < d; j++) {
            data[i * d + j] = c[j] + 0.1f * data[i * d + j];
        }
    }
    mf_free_aligned(centres);
    return 0;
}

static void ctx_free(bench_ctx *c)
{
    mf_par_free(c->team);
    mf_bf16_net_free(c->bf16);
    mf_trainer_free(c->tr);
    mf_mlp_ws_free(c->ws);
    mf_mlp_free(c->net);
    mf_free_aligned(c->x);
    mf_free_aligned(c->data);
    mf_free_aligned(c->xb);
    free(c->rows);
    memset(c, 0, sizeof *c);
}

static mf_err ctx_init(bench_ctx *c, const workload *w, const mf_schedule *s, int repeats,
                       bool train_defaults, bool blas_parallel, mf_precision precision)
{
    memset(c, 0, sizeof *c);
    c->blas_parallel = blas_parallel;
    c->precision = precision;
    c->w = w;
    c->sched = s;
    c->seed = 1000;
    mf_mlp_config cfg = {.data_dim = (uint32_t) w->d, .cond_dim = 0, .emb_dim = TEMB,
                         .n_hidden = 3, .hidden = {(uint32_t) w->H, (uint32_t) w->H,
                                                   (uint32_t) w->H}};
    mf_err err = mf_mlp_new(&cfg, &c->net);
    if (err != MF_OK) {
        return err;
    }
    mf_mlp_init_params(c->net, 0);
    c->x = mf_alloc_floats(w->batch * w->d);
    if (c->x == NULL) {
        return MF_ENOMEM;
    }
    if (w->kind != KIND_TRAIN) {
        err = mf_mlp_ws_new(c->net, w->batch, false, &c->ws);
        if (err != MF_OK) {
            return err;
        }
        c->eps_ctx = (mf_mlp_eps_ctx){.net = c->net, .ws = c->ws, .c = NULL};
        /* as the daemon's registry does for a model (mf_model_make_bf16) */
        if (precision == MF_PRECISION_BF16) {
            err = mf_bf16_net_new(c->net, MF_BF16_SAMPLE_ROWS, &c->bf16);
            if (err == MF_OK) {
                err = mf_bf16_net_tabulate(c->bf16, s->T);
            }
        }
        return err;
    }
    mf_train_opts o = mf_train_opts_default();
    o.batch = w->batch;
    o.n_steps = w->steps;
    o.seed = 0;
    o.n_shards = blas_parallel ? 1 : MAX_THREADS_AUTO; /* one shard per team thread */
    if (!train_defaults) { /* torch.optim.Adam(lr=1e-3), nothing else */
        o.lr = 1e-3f;
        o.lr_sched = MF_LR_CONSTANT;
        o.warmup = 0;
        o.clip_grad = 0.0;
        o.ema_decay = 0.0f;
    }
    err = mf_trainer_new(c->net, s, &o, &c->tr);
    if (err != MF_OK) {
        return err;
    }
    c->data = mf_alloc_floats(N_DATA * w->d);
    c->xb = mf_alloc_floats(w->batch * w->d);
    /* Enough distinct steps for warm-up, probes and every timed run. */
    c->n_row_steps = TRAIN_WARMUP + 2 * 16 + (size_t) repeats * w->steps;
    c->rows = malloc(c->n_row_steps * w->batch * sizeof *c->rows);
    if (c->data == NULL || c->xb == NULL || c->rows == NULL) {
        return MF_ENOMEM;
    }
    if (make_data(c->data, N_DATA, w->d, 0) != 0) {
        return MF_ENOMEM;
    }
    mf_rng r_rows = mf_rng_derive(mf_rng_make(0), 4);
    for (size_t i = 0; i < c->n_row_steps * w->batch; i++) {
        c->rows[i] = mf_rng_below(r_rows, i, N_DATA);
    }
    return MF_OK;
}

/* One DDIM (eta 0) run of `steps` steps on a fresh batch; returns mf_sample's code. */
static mf_err ctx_sample(bench_ctx *c, size_t steps)
{
    mf_sampler_opts o = {.kind = MF_SAMPLER_DDIM, .steps = steps, .eta = 0.0f,
                         .seed = c->seed++, .precision = c->precision, .bf16 = c->bf16};
    if (!c->blas_parallel) {
        return mf_par_sample(c->team, c->net, c->sched, &o, c->x, c->w->batch);
    }
    mf_eps_fn eps = {.eval = mf_mlp_eps_eval, .ctx = &c->eps_ctx};
    return mf_sample(c->sched, eps, &o, c->x, c->w->batch, c->w->d);
}

/* n_steps optimiser steps; the batch rows were drawn in ctx_init. */
static void ctx_train(bench_ctx *c, size_t n_steps)
{
    size_t B = c->w->batch, d = c->w->d;
    for (size_t k = 0; k < n_steps; k++) {
        const uint32_t *idx = c->rows + (c->row_step % c->n_row_steps) * B;
        c->row_step++;
        for (size_t r = 0; r < B; r++) {
            memcpy(c->xb + r * d, c->data + (size_t) idx[r] * d, d * sizeof(float));
        }
        mf_par_train_step(c->team, c->tr, c->xb, NULL, &c->last_loss, NULL);
    }
}

static bool all_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i])) {
            return false;
        }
    }
    return true;
}

/* Seconds of a short run, for the "auto" thread choice. */
static double probe_once(bench_ctx *c)
{
    double t0 = now_s();
    switch (c->w->kind) {
    case KIND_SAMPLE:
        (void) ctx_sample(c, 10);
        break;
    case KIND_LATENCY:
        for (int i = 0; i < 10; i++) {
            (void) ctx_sample(c, c->w->steps);
        }
        break;
    case KIND_TRAIN:
        ctx_train(c, 16);
        break;
    }
    return now_s() - t0;
}

/* Row team of t threads and single-threaded BLAS, or the reverse in blas mode. */
static int set_threads(bench_ctx *c, int t)
{
    mf_par_free(c->team);
    c->team = NULL;
    mf_cpu_set_blas_threads(c->blas_parallel ? t : 1);
    return mf_par_new(c->blas_parallel ? 1 : (size_t) t, &c->team) == MF_OK ? 0 : -1;
}

/* Picks the fastest thread count in 1..max_t (best of 2 probes each, after one warm-up). */
static int choose_threads(bench_ctx *c, int max_t, double *probe_s)
{
    int best_t = 1;
    double best = INFINITY;
    for (int t = 1; t <= max_t; t++) {
        if (set_threads(c, t) != 0) {
            break;
        }
        (void) probe_once(c);
        double s = fmin(probe_once(c), probe_once(c));
        probe_s[t - 1] = s;
        if (s < best) {
            best = s;
            best_t = t;
        }
    }
    return best_t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

static void print_times(const double *t, int n)
{
    printf("[");
    for (int i = 0; i < n; i++) {
        printf("%s%.5f", i > 0 ? ", " : "", t[i]);
    }
    printf("]");
}

/* Runs one workload and prints its JSON line; returns 0, or 1 on failure. */
static int run_workload(const workload *w, const mf_schedule *s, const bench_opts *bo,
                        int thread_req)
{
    bench_ctx c;
    mf_err err =
        ctx_init(&c, w, s, bo->repeats, bo->train_defaults, bo->blas_parallel, bo->precision);
    if (err == MF_OK && set_threads(&c, 1) != 0) {
        err = MF_EINTERNAL;
    }
    if (err != MF_OK) {
        fprintf(stderr, "mf_bench: %s: set-up failed: %s\n", w->name, mf_strerror(err));
        ctx_free(&c);
        return 1;
    }
    int ncpu = mf_cpu_count();
    int threads;
    const char *source;
    double probe_s[MAX_THREADS_AUTO] = {0};
    int n_probe = 0;
    if (thread_req == THREADS_AUTO) {
        n_probe = ncpu < MAX_THREADS_AUTO ? ncpu : MAX_THREADS_AUTO;
        threads = choose_threads(&c, n_probe, probe_s);
        source = "auto";
    } else if (thread_req > 0) {
        threads = thread_req;
        source = "user";
    } else {
        threads = w->default_threads < ncpu ? w->default_threads : ncpu;
        source = "default";
    }
    if (set_threads(&c, threads) != 0) {
        fprintf(stderr, "mf_bench: %s: cannot start %d threads\n", w->name, threads);
        ctx_free(&c);
        return 1;
    }

    int R = bo->repeats;
    double times[MAX_REPEATS] = {0};
    double flops = linear_flops(w->batch, w->d, w->H, w->kind == KIND_TRAIN) * (double) w->steps;
    double *per_req = NULL;
    bool ok = true;
    if (w->kind == KIND_SAMPLE) {
        ok = ctx_sample(&c, 3) == MF_OK && ctx_sample(&c, 3) == MF_OK &&
             ctx_sample(&c, w->steps) == MF_OK;
        for (int r = 0; r < R && ok; r++) {
            double t0 = now_s();
            ok = ctx_sample(&c, w->steps) == MF_OK;
            times[r] = now_s() - t0;
        }
        ok = ok && all_finite(c.x, w->batch * w->d);
    } else if (w->kind == KIND_LATENCY) {
        per_req = malloc((size_t) R * LATENCY_REQS * sizeof *per_req);
        ok = per_req != NULL;
        for (int i = 0; i < LATENCY_WARMUP && ok; i++) {
            ok = ctx_sample(&c, w->steps) == MF_OK;
        }
        for (int r = 0; r < R && ok; r++) {
            double t_round = now_s();
            for (int i = 0; i < LATENCY_REQS && ok; i++) {
                double t0 = now_s();
                ok = ctx_sample(&c, w->steps) == MF_OK;
                per_req[r * LATENCY_REQS + i] = now_s() - t0;
            }
            times[r] = (now_s() - t_round) / LATENCY_REQS;
        }
        ok = ok && all_finite(c.x, w->batch * w->d);
    } else {
        ctx_train(&c, TRAIN_WARMUP);
        for (int r = 0; r < R; r++) {
            double t0 = now_s();
            ctx_train(&c, w->steps);
            times[r] = now_s() - t0;
        }
        ok = isfinite(c.last_loss);
    }
    if (!ok) {
        fprintf(stderr, "mf_bench: %s: run failed or produced non-finite values\n", w->name);
        free(per_req);
        ctx_free(&c);
        return 1;
    }
    double best = times[0];
    for (int r = 1; r < R; r++) {
        best = times[r] < best ? times[r] : best;
    }

    printf("{\"workload\": \"%s\", \"impl\": \"manifold-c\", \"kind\": \"%s\", \"d\": %zu, "
           "\"H\": %zu, \"batch\": %zu, \"steps\": %zu, ",
           w->name, w->kind == KIND_SAMPLE ? "sample" : w->kind == KIND_TRAIN ? "train" : "latency",
           w->d, w->H, w->batch, w->steps);
    if (w->kind == KIND_SAMPLE) {
        printf("\"samples_per_s\": %.3f, ", (double) w->batch / best);
    } else if (w->kind == KIND_LATENCY) {
        size_t n_req = (size_t) R * LATENCY_REQS;
        qsort(per_req, n_req, sizeof *per_req, cmp_double);
        printf("\"ms_per_request\": %.4f, \"ms_min\": %.4f, \"ms_median\": %.4f, "
               "\"requests_per_round\": %d, ",
               best * 1e3, per_req[0] * 1e3, per_req[n_req / 2] * 1e3, LATENCY_REQS);
    } else {
        printf("\"steps_per_s\": %.3f, \"samples_per_s\": %.1f, \"final_loss\": %.6f, "
               "\"train_opts\": \"%s\", ",
               (double) w->steps / best, (double) (w->steps * w->batch) / best, c.last_loss,
               bo->train_defaults ? "mf_train_opts_default" : "adam_lr1e-3_noclip_noema");
    }
    printf("\"wall_s_best\": %.6f, \"wall_s_all\": ", best);
    print_times(times, R);
    printf(", \"model_gflop\": %.6f, \"gflops\": %.3f, \"openblas_core\": \"%s\", "
           "\"threads\": %d, \"threads_source\": \"%s\", \"parallel\": \"%s\", \"cpus\": %d, "
           "\"precision\": \"%s\"",
           flops / 1e9, flops / best / 1e9, mf_cpu_blas_corename(), threads, source,
           bo->blas_parallel ? "blas" : "rows", ncpu,
           mf_precision_names[w->kind == KIND_TRAIN ? MF_PRECISION_F32 : bo->precision]);
    if (n_probe > 0) {
        printf(", \"probe_s\": ");
        print_times(probe_s, n_probe);
    }
    printf(", \"repeats\": %d}\n", R);
    fflush(stdout);
    free(per_req);
    ctx_free(&c);
    return 0;
}

static int find_workload(const char *name, size_t len)
{
    for (size_t i = 0; i < N_WORKLOADS; i++) {
        if (strlen(WORKLOADS[i].name) == len && strncmp(WORKLOADS[i].name, name, len) == 0) {
            return (int) i;
        }
    }
    return -1;
}

/* "W1,W3" -> run flags. */
static int parse_workloads(const char *s, bench_opts *bo)
{
    memset(bo->run, 0, sizeof bo->run);
    while (*s != '\0') {
        size_t len = strcspn(s, ",");
        int i = find_workload(s, len);
        if (i < 0) {
            fprintf(stderr, "mf_bench: unknown workload '%.*s'\n", (int) len, s);
            return -1;
        }
        bo->run[i] = true;
        s += len + (s[len] == ',');
    }
    return 0;
}

static int parse_count(const char *s, size_t len, int *ret)
{
    if (len == 4 && strncmp(s, "auto", 4) == 0) {
        *ret = THREADS_AUTO;
        return 0;
    }
    char buf[16];
    if (len == 0 || len >= sizeof buf) {
        return -1;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    long v = strtol(buf, &end, 10);
    if (*end != '\0' || v < 1 || v > 1024) {
        return -1;
    }
    *ret = (int) v;
    return 0;
}

/* Comma-separated items, applied in order: N or auto (every workload), Wk=N, Wk=auto. */
static int parse_threads(const char *s, bench_opts *bo)
{
    while (*s != '\0') {
        size_t len = strcspn(s, ",");
        const char *eq = memchr(s, '=', len);
        int v;
        if (eq == NULL) {
            if (parse_count(s, len, &v) != 0) {
                goto bad;
            }
            for (size_t i = 0; i < N_WORKLOADS; i++) {
                bo->threads[i] = v;
            }
        } else {
            int i = find_workload(s, (size_t) (eq - s));
            if (i < 0 || parse_count(eq + 1, len - (size_t) (eq - s) - 1, &v) != 0) {
                goto bad;
            }
            bo->threads[i] = v;
        }
        s += len + (s[len] == ',');
    }
    return 0;
bad:
    fprintf(stderr, "mf_bench: bad --threads item in '%s'\n", s);
    return -1;
}

/* One JSON line about the BLAS set-up, for run.sh (with MF_NO_REEXEC=1 and no
 * OPENBLAS_CORETYPE it shows what OpenBLAS picks on its own). */
static void print_info(void)
{
    const char *ct = getenv("OPENBLAS_CORETYPE");
    const char *pref = mf_cpu_preferred_coretype();
    printf("{\"type\": \"info\", \"openblas_core\": \"%s\", \"OPENBLAS_CORETYPE\": \"%s\", "
           "\"preferred_coretype\": \"%s\", \"blas_threads\": %d, \"cpus\": %d}\n",
           mf_cpu_blas_corename(), ct != NULL ? ct : "", pref != NULL ? pref : "",
           mf_cpu_blas_threads(), mf_cpu_count());
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--workloads W1,W2,W3,W4,W5] [--threads N|auto|Wk=N,...] [--repeats N]\n"
            "          [--parallel rows|blas] [--precision f32|bf16] [--train-defaults] [--info]\n"
            "  --threads   threads; default W4=1, others 2 (capped at the CPU count);\n"
            "              'auto' probes 1..2 threads per workload and keeps the fastest\n"
            "  --parallel  rows: split batch rows over a thread team, OpenBLAS single-threaded\n"
            "              (default, as Manifold runs); blas: one thread, threaded OpenBLAS\n"
            "  --repeats   timed runs per workload, best reported (default 3)\n"
            "  --precision sampling in f32 (default) or bf16 (W1, W2, W4 only)\n"
            "  --train-defaults  train with mf_train_opts_default() (clip 1, EMA, cosine lr)\n"
            "                    instead of the reference's plain Adam\n"
            "  --info      print the OpenBLAS set-up as one JSON line and exit\n",
            argv0);
}

int main(int argc, char **argv)
{
    /* First: re-executes with OPENBLAS_CORETYPE set when OpenBLAS would pick slow kernels. */
    mf_cpu_ensure_blas_coretype(argv);

    bench_opts bo = {.repeats = 3};
    for (size_t i = 0; i < N_WORKLOADS; i++) {
        bo.run[i] = true;
        bo.threads[i] = THREADS_DEFAULT;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if (strcmp(a, "--workloads") == 0 && has_val) {
            if (parse_workloads(argv[++i], &bo) != 0) {
                return 2;
            }
        } else if (strcmp(a, "--threads") == 0 && has_val) {
            if (parse_threads(argv[++i], &bo) != 0) {
                return 2;
            }
        } else if (strcmp(a, "--repeats") == 0 && has_val) {
            bo.repeats = atoi(argv[++i]);
            if (bo.repeats < 1 || bo.repeats > MAX_REPEATS) {
                fprintf(stderr, "mf_bench: --repeats must be in 1..%d\n", MAX_REPEATS);
                return 2;
            }
        } else if (strcmp(a, "--parallel") == 0 && has_val) {
            const char *v = argv[++i];
            if (strcmp(v, "rows") != 0 && strcmp(v, "blas") != 0) {
                fprintf(stderr, "mf_bench: --parallel is rows or blas, not '%s'\n", v);
                return 2;
            }
            bo.blas_parallel = strcmp(v, "blas") == 0;
        } else if (strcmp(a, "--precision") == 0 && has_val) {
            const char *v = argv[++i];
            if (strcmp(v, "f32") != 0 && strcmp(v, "bf16") != 0) {
                fprintf(stderr, "mf_bench: --precision is f32 or bf16, not '%s'\n", v);
                return 2;
            }
            bo.precision = strcmp(v, "bf16") == 0 ? MF_PRECISION_BF16 : MF_PRECISION_F32;
        } else if (strcmp(a, "--train-defaults") == 0) {
            bo.train_defaults = true;
        } else if (strcmp(a, "--info") == 0) {
            print_info();
            return 0;
        } else {
            usage(argv[0]);
            return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 ? 0 : 2;
        }
    }

    if (bo.precision == MF_PRECISION_BF16) {
        bool train = bo.run[2] || bo.run[4];
        if (train || bo.blas_parallel || !mf_bf16_supported()) {
            fprintf(stderr, "mf_bench: --precision bf16 %s\n",
                    train ? "is for the sampling workloads: --workloads W1,W2,W4"
                    : bo.blas_parallel ? "runs on the row team, not --parallel blas"
                                       : "needs a CPU with AVX-512 BF16");
            return 2;
        }
    }
    mf_schedule sched;
    mf_diag diag;
    if (mf_schedule_init(&sched, SCHEDULE_SPEC, &diag) != MF_OK) {
        fprintf(stderr, "mf_bench: schedule: %s\n", diag.msg);
        return 1;
    }
    const char *ct = getenv("OPENBLAS_CORETYPE");
    fprintf(stderr, "mf_bench: OpenBLAS core %s (OPENBLAS_CORETYPE=%s), %d CPUs\n",
            mf_cpu_blas_corename(), ct != NULL ? ct : "", mf_cpu_count());
    int failed = 0;
    for (size_t i = 0; i < N_WORKLOADS; i++) {
        if (bo.run[i]) {
            failed |= run_workload(&WORKLOADS[i], &sched, &bo, bo.threads[i]);
        }
    }
    mf_schedule_deinit(&sched);
    return failed;
}
