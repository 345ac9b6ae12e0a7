/* SPDX-License-Identifier: MIT */
/*
 * dxmi_bench - the DxMI benchmark of issue 13, one JSON line per run on
 * stdout (bench/dxmi.sh puts them next to ../shared/bench/dxmi_torch/dxmi.py).
 *
 * --mode iteration: milliseconds per DxMI training iteration (core/dxmi.h,
 *   mf_dxmi_opts_default(): the authors' "code" schedule, B 512, T 5 unless
 *   --T) on a fresh batch of the data set each iteration (its draw is timed,
 *   as dxmi.py's is).  The first --skip iterations (default: the warm-up
 *   plus 10) run untimed, so the timed ones all make the sampler step
 *   (steady state; the warm-up's own rate is reported too); then --passes
 *   passes of --iters iterations, the median pass reported.
 *
 * --mode quality: samples per second at equal quality.  Trains DxMI for
 *   --train-iters iterations (default 4,000, the oracle's; data seed 1 as
 *   tests/core/test_dxmi_oracle.c, so eight_gaussians trains the oracle's
 *   run; --eval-every N also measures the SW2 every N iterations, untimed),
 *   then measures SW2 as the oracle does: mean over k = 0..4 of SW2
 *   (core/sw.h, 500 directions) of 1,000 samples (seed 50,000 + k) against
 *   evaluation set k; the floor with the same code.
 *     eight_gaussians  set k = 1,000 fresh points (seed 10,000 + k); floor =
 *                      SW2 of two fresh sets (seeds 20,000 + k, 30,000 + k);
 *     digits           every set = the 297 held-out images (raw pixels);
 *                      floor = 1,000 training-split draws (seed 20,000 + k)
 *                      against them.  Training data: the dequantised
 *                      training split, as the shipped model was trained.
 *   The parent's DDIM (eta 0) and DDPM then run at the --steps counts in
 *   order until one's SW2 is at most the DxMI sampler's (--sweep all: every
 *   count).  Finally throughput: --n-throughput samples in runs of at most
 *   --batch-rows rows (the daemon's max_batch_rows, 4096), best of --reps,
 *   of the DxMI sampler and of each parent sampler at its matching count;
 *   a parent sampler that never matches is timed at its plateau, the fewest
 *   steps within 5 % of its best SW2 (DxMI's advantage is then a lower
 *   bound: the parent is faster there than it would have to be to match).
 *
 * Every sampler runs through mf_par_sample on a --threads thread team
 * (server/par.h, single-threaded OpenBLAS), as the daemon samples; DxMI's
 * rows are split over the same team (mf_dxmi_set_executor).
 *
 * usage: dxmi_bench --model FILE --dataset eight_gaussians|digits
 *                   [--mode iteration|quality] [--threads N] [--T T] [--lr-sampler R]
 *                   [--rollout f32|bf16]  (the rollouts' arithmetic, mf_dxmi_opts.rollout)
 *                   iteration: [--iters N] [--passes P] [--skip N]
 *                   quality:   [--train-iters N] [--eval-every N] [--steps 5,6,..]
 *                              [--sweep first|all]
 *                              [--n-throughput N] [--batch-rows R] [--reps R]
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu.h"
#include "dataset.h"
#include "dxmi.h"
#include "mem.h"
#include "model_file.h"
#include "par.h"
#include "rng.h"
#include "sampler.h"
#include "sw.h"

enum {
    N_SEEDS = 5,
    N_SW = 1000,
    MAX_STEPS = 64,
    MAX_TRACE = 256,
    DATA_SEED = 1 /* the oracle's o->seed + 1 */
};

#define PLATEAU 1.05

static const char DEFAULT_STEPS[] =
    "5,6,7,8,9,10,11,12,13,14,15,16,18,20,25,30,40,50,60,80,100,150,200";

typedef struct bench {
    mf_model *m;
    mf_dataset_id id;
    size_t D;
    mf_par *team;
    size_t threads;
    mf_dxmi_opts o; /* mf_dxmi_opts_default(), or with --recipe 1 the job's
                       (mf_dxmi_opts_for_dim), with --T and --lr-sampler */
    bool recipe;
} bench;

/* The evaluation sets of the quality mode (data space). */
typedef struct evalset {
    float *set[N_SEEDS]; /* rows[k] points each */
    size_t rows[N_SEEDS];
    double floor;
} evalset;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "dxmi_bench: %s\n", what);
    exit(1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static mf_dxmi *new_run(const bench *b)
{
    mf_dxmi *dx = NULL;
    mf_diag d = {0};
    if (mf_dxmi_new(b->m->net, &b->m->sched, &b->o, &dx, &d) != MF_OK) {
        fprintf(stderr, "dxmi_bench: mf_dxmi_new: %s\n", d.msg);
        exit(1);
    }
    if (mf_dxmi_set_executor(dx, mf_par_for_exec, b->team, b->threads) != MF_OK) {
        die("mf_dxmi_set_executor failed");
    }
    return dx;
}

/* Iteration it on a fresh batch of the data set (model space); false when it diverged. */
static bool step(const bench *b, mf_dxmi *dx, float *xp, size_t batch, size_t it)
{
    if (mf_dataset_train_batch(b->id, DATA_SEED, it, batch, b->id == MF_DATASET_DIGITS,
                               (float) b->m->data_offset, (float) b->m->data_scale, xp) != MF_OK) {
        die("mf_dataset_train_batch failed");
    }
    if (mf_dxmi_step(dx, xp, NULL) != MF_OK) {
        fprintf(stderr, "dxmi_bench: iteration %zu diverged\n", it + 1);
        return false;
    }
    return true;
}

/* Iterations that must not fail (the timing mode). */
static void step_or_die(const bench *b, mf_dxmi *dx, float *xp, size_t batch, size_t it)
{
    if (!step(b, dx, xp, batch, it)) {
        exit(1);
    }
}

/* A JSON number, null when not finite. */
static void print_num(double v)
{
    if (isfinite(v)) {
        printf("%.5f", v);
    } else {
        printf("null");
    }
}

static void mode_iteration(const bench *b, size_t iters, size_t passes, size_t skip)
{
    mf_dxmi *dx = new_run(b);
    mf_dxmi_opts o = b->o;
    if (skip == (size_t) -1) {
        skip = o.warmup + 10;
    }
    float *xp = mf_alloc_floats(o.batch * b->D);
    double *ms = malloc(passes * sizeof *ms);
    if (xp == NULL || ms == NULL) {
        die("out of memory");
    }
    size_t it = 0, warm_n = skip < o.warmup ? skip : o.warmup;
    double t0 = now_s();
    for (; it < warm_n; it++) {
        step_or_die(b, dx, xp, o.batch, it);
    }
    double warm_ms = warm_n > 0 ? 1e3 * (now_s() - t0) / (double) warm_n : 0.0;
    for (; it < skip; it++) {
        step_or_die(b, dx, xp, o.batch, it);
    }
    for (size_t p = 0; p < passes; p++) {
        t0 = now_s();
        for (size_t i = 0; i < iters; i++, it++) {
            step_or_die(b, dx, xp, o.batch, it);
        }
        ms[p] = 1e3 * (now_s() - t0) / (double) iters;
        fprintf(stderr, "dxmi_bench: pass %zu: %.2f ms/iteration\n", p + 1, ms[p]);
    }
    printf("{\"impl\": \"manifold-c\", \"kind\": \"iteration\", \"dataset\": \"%s\", \"T\": %zu, "
           "\"B\": %zu, \"threads\": %zu, \"schedule\": \"%s\", \"rollout\": \"%s\", "
           "\"skipped\": %zu, \"warmup_ms_per_iter\": %.3f, \"iters_per_pass\": %zu, "
           "\"passes_ms\": [",
           mf_dataset_name(b->id), o.T, o.batch, b->threads, mf_var_sched_kind_name(o.schedule),
           mf_precision_names[o.rollout], skip, warm_ms, iters);
    for (size_t p = 0; p < passes; p++) {
        printf("%s%.3f", p ? ", " : "", ms[p]);
    }
    printf("], \"ms_per_iter\": %.3f, \"openblas_core\": \"%s\"}\n", median(ms, passes),
           mf_cpu_blas_corename());
    free(ms);
    mf_free_aligned(xp);
    mf_dxmi_free(dx);
}

/* ---- quality --------------------------------------------------------------------- */

/* SW2, NAN for non-finite samples (a diverged sampler). */
static double sw2(const float *x, size_t n, const float *y, size_t m, size_t D)
{
    double v;
    return mf_sw2(x, n, y, m, D, MF_SW_DEFAULT_DIRS, MF_SW_DEFAULT_SEED, &v) == MF_OK
               ? v
               : (double) NAN;
}

static void draw(mf_dataset_id id, uint64_t seed, float *out, size_t n)
{
    if (mf_dataset_sample(id, mf_rng_make(seed), 0, out, n) != MF_OK) {
        die("mf_dataset_sample failed");
    }
}

static void make_evalset(const bench *b, evalset *ev)
{
    size_t D = b->D;
    float *a = mf_alloc_floats(N_SW * D), *c = mf_alloc_floats(N_SW * D);
    if (a == NULL || c == NULL) {
        die("out of memory");
    }
    ev->floor = 0.0;
    for (size_t k = 0; k < N_SEEDS; k++) {
        if (b->id == MF_DATASET_DIGITS) {
            ev->rows[k] = MF_DATASET_DIGITS_N_HELDOUT;
            ev->set[k] = mf_alloc_floats(ev->rows[k] * D);
            if (ev->set[k] == NULL || mf_dataset_heldout(b->id, ev->set[k], ev->rows[k]) != MF_OK) {
                die("held-out digits");
            }
            draw(b->id, 20000 + k, a, N_SW);
            ev->floor += sw2(a, N_SW, ev->set[k], ev->rows[k], D) / N_SEEDS;
        } else {
            ev->rows[k] = N_SW;
            ev->set[k] = mf_alloc_floats(N_SW * D);
            if (ev->set[k] == NULL) {
                die("out of memory");
            }
            draw(b->id, 10000 + k, ev->set[k], N_SW);
            draw(b->id, 20000 + k, a, N_SW);
            draw(b->id, 30000 + k, c, N_SW);
            ev->floor += sw2(a, N_SW, c, N_SW, D) / N_SEEDS;
        }
    }
    mf_free_aligned(a);
    mf_free_aligned(c);
}

/* mf_par_sample of n rows of net with o (seed set by the caller) into x, model space. */
static void sample(const bench *b, const mf_mlp *net, const mf_sampler_opts *o, float *x, size_t n)
{
    if (mf_par_sample(b->team, net, &b->m->sched, o, x, n) != MF_OK) {
        die("mf_par_sample failed");
    }
}

/* The oracle's SW2: mean over k of 1,000 samples (seed 50,000 + k) against set k. */
static double sampler_sw2(const bench *b, const mf_mlp *net, mf_sampler_opts o, const evalset *ev,
                          float *x)
{
    double s = 0.0;
    for (size_t k = 0; k < N_SEEDS; k++) {
        o.seed = 50000 + k;
        sample(b, net, &o, x, N_SW);
        mf_model_to_data(b->m, x, N_SW * b->D);
        s += sw2(x, N_SW, ev->set[k], ev->rows[k], b->D) / N_SEEDS;
    }
    return s;
}

/* Samples per second: n samples in runs of at most batch rows, best of reps. */
static double throughput(const bench *b, const mf_mlp *net, mf_sampler_opts o, size_t n,
                         size_t batch, size_t reps, float *x)
{
    double best = INFINITY;
    o.seed = 7;
    for (size_t r = 0; r < reps; r++) {
        double t0 = now_s();
        for (size_t done = 0; done < n; done += batch) {
            size_t rows = n - done < batch ? n - done : batch;
            o.first_index = done;
            sample(b, net, &o, x, rows);
        }
        best = fmin(best, now_s() - t0);
    }
    return (double) n / best;
}

typedef struct sweep {
    const char *name;
    mf_sampler_kind kind;
    double sw[MAX_STEPS];
    size_t n_tried;
    size_t match; /* the fewest count with SW2 <= DxMI's, 0 if none */
    size_t timed; /* match, or without one the plateau count */
    double sps;
} sweep;

/*
 * Without a match: the fewest steps within PLATEAU of the best SW2 tried, where
 * more steps no longer help (a lower bound on DxMI's advantage at equal quality).
 */
static size_t plateau(const double *sw, const size_t *steps, size_t n)
{
    double best = INFINITY;
    for (size_t i = 0; i < n; i++) {
        best = fmin(best, sw[i]);
    }
    for (size_t i = 0; i < n; i++) {
        if (sw[i] <= PLATEAU * best) {
            return steps[i];
        }
    }
    return steps[0];
}

static size_t parse_steps(const char *s, size_t *out, size_t max_T)
{
    size_t n = 0;
    for (const char *p = s; *p != '\0' && n < MAX_STEPS;) {
        char *end;
        unsigned long v = strtoul(p, &end, 10);
        if (end == p || v < 1 || v > max_T) {
            die("--steps: a comma-separated list of counts 1..T");
        }
        out[n++] = v;
        p = *end == ',' ? end + 1 : end;
    }
    return n;
}

static void print_sweep(const sweep *s, const size_t *steps, const char *sep)
{
    printf("%s\"%s\": {\"sw2\": [", sep, s->name);
    for (size_t i = 0; i < s->n_tried; i++) {
        printf("%s[%zu, ", i ? ", " : "", steps[i]);
        print_num(s->sw[i]);
        printf("]");
    }
    if (s->match > 0) {
        printf("], \"match_steps\": %zu", s->match);
    } else {
        printf("], \"match_steps\": null");
    }
    printf(", \"timed_steps\": %zu, \"samples_per_s\": %.1f}", s->timed, s->sps);
}

typedef struct quality_args {
    size_t train_iters, n_tp, batch_rows, reps, eval_every;
    const char *steps;
    bool sweep_all;
} quality_args;

static void mode_quality(const bench *b, const quality_args *a)
{
    size_t steps[MAX_STEPS], n_steps = parse_steps(a->steps, steps, b->m->sched.T);
    size_t D = b->D, max_rows = a->batch_rows > N_SW ? a->batch_rows : N_SW;
    evalset ev;
    make_evalset(b, &ev);
    float *x = mf_alloc_floats(max_rows * D);
    mf_dxmi *dx = new_run(b);
    mf_dxmi_opts o = b->o;
    float *xp = mf_alloc_floats(o.batch * D);
    if (x == NULL || xp == NULL) {
        die("out of memory");
    }
    mf_sampler_opts var = {.kind = MF_SAMPLER_VAR, .steps = o.T, .var = mf_dxmi_sched(dx)};
    double untuned = sampler_sw2(b, mf_dxmi_eps(dx), var, &ev, x);
    fprintf(stderr,
            "dxmi_bench: %s: floor %.4f, untuned %zu-step sampler %.4f; training %zu "
            "iterations\n",
            mf_dataset_name(b->id), ev.floor, o.T, untuned, a->train_iters);
    double train_s = 0.0, trace[MAX_TRACE];
    size_t n_trace = 0, done = 0;
    for (size_t it = 0; it < a->train_iters; it++) {
        double t0 = now_s();
        bool ok = step(b, dx, xp, o.batch, it);
        train_s += now_s() - t0;
        if (!ok) {
            break; /* the state is unspecified: its samples are measured as they are */
        }
        done = it + 1;
        if (a->eval_every > 0 && (it + 1) % a->eval_every == 0 && n_trace < MAX_TRACE) {
            var.var = mf_dxmi_sched(dx);
            trace[n_trace] = sampler_sw2(b, mf_dxmi_eps(dx), var, &ev, x);
            fprintf(stderr, "dxmi_bench: iteration %zu: SW2 %.4f (%.2fx the floor), %.1f s\n",
                    it + 1, trace[n_trace], trace[n_trace] / ev.floor, train_s);
            n_trace++;
        }
    }
    var.var = mf_dxmi_sched(dx); /* the trained sigma */
    const mf_mlp *eps = mf_dxmi_eps(dx);
    double dx_sw = sampler_sw2(b, eps, var, &ev, x);
    fprintf(stderr, "dxmi_bench: DxMI %zu-step sampler SW2 %.4f (%.2fx the floor)\n", o.T, dx_sw,
            dx_sw / ev.floor);

    sweep sw[2] = {{.name = "ddim", .kind = MF_SAMPLER_DDIM},
                   {.name = "ddpm", .kind = MF_SAMPLER_DDPM}};
    for (size_t s = 0; s < 2; s++) {
        for (size_t i = 0; i < n_steps && (a->sweep_all || sw[s].match == 0); i++) {
            mf_sampler_opts po = {.kind = sw[s].kind, .steps = steps[i], .eta = 0.0f};
            sw[s].sw[i] = sampler_sw2(b, b->m->net, po, &ev, x);
            sw[s].n_tried = i + 1;
            fprintf(stderr, "dxmi_bench: parent %s %zu steps: SW2 %.4f\n", sw[s].name, steps[i],
                    sw[s].sw[i]);
            if (sw[s].match == 0 && sw[s].sw[i] <= dx_sw) {
                sw[s].match = steps[i];
            }
        }
    }

    double dx_sps = throughput(b, eps, var, a->n_tp, a->batch_rows, a->reps, x);
    fprintf(stderr, "dxmi_bench: DxMI sampler %.0f samples/s\n", dx_sps);
    for (size_t s = 0; s < 2; s++) {
        sw[s].timed = sw[s].match > 0 ? sw[s].match : plateau(sw[s].sw, steps, sw[s].n_tried);
        mf_sampler_opts po = {.kind = sw[s].kind, .steps = sw[s].timed, .eta = 0.0f};
        sw[s].sps = throughput(b, b->m->net, po, a->n_tp, a->batch_rows, a->reps, x);
        fprintf(stderr, "dxmi_bench: parent %s %zu steps (%s): %.0f samples/s, DxMI %.2fx\n",
                sw[s].name, sw[s].timed, sw[s].match > 0 ? "equal quality" : "its plateau",
                sw[s].sps, dx_sps / sw[s].sps);
    }

    printf("{\"impl\": \"manifold-c\", \"kind\": \"quality\", \"dataset\": \"%s\", \"T\": %zu, "
           "\"B\": %zu, \"threads\": %zu, \"train_iters\": %zu, \"iters_done\": %zu, "
           "\"train_s\": %.2f, \"lr_sampler\": %g, \"tau_entropy\": %g, \"lr_energy\": %g, "
           "\"recipe\": %s, \"floor\": %.5f, \"untuned_sw2\": %.5f, \"dxmi_sw2\": ",
           mf_dataset_name(b->id), o.T, o.batch, b->threads, a->train_iters, done, train_s,
           o.lr_sampler, o.tau_entropy, o.lr_energy, b->recipe ? "true" : "false", ev.floor,
           untuned);
    print_num(dx_sw);
    printf(", \"sigma\": [");
    for (size_t t = 0; t < o.T; t++) {
        printf("%s", t ? ", " : "");
        print_num(var.var->sigma[t]);
    }
    printf("], \"n_throughput\": %zu, \"batch_rows\": %zu, \"reps\": %zu, "
           "\"dxmi_samples_per_s\": %.1f",
           a->n_tp, a->batch_rows, a->reps, dx_sps);
    printf(", \"eval_every\": %zu, \"dxmi_sw2_trace\": [", a->eval_every);
    for (size_t i = 0; i < n_trace; i++) {
        printf("%s[%zu, ", i ? ", " : "", (i + 1) * a->eval_every);
        print_num(trace[i]);
        printf("]");
    }
    printf("]");
    print_sweep(&sw[0], steps, ", ");
    print_sweep(&sw[1], steps, ", ");
    printf(", \"openblas_core\": \"%s\"}\n", mf_cpu_blas_corename());

    for (size_t k = 0; k < N_SEEDS; k++) {
        mf_free_aligned(ev.set[k]);
    }
    mf_free_aligned(x);
    mf_free_aligned(xp);
    mf_dxmi_free(dx);
}

static size_t size_arg(const char *v)
{
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (end == v || *end != '\0') {
        die("expected a number");
    }
    return (size_t) n;
}

int main(int argc, char **argv)
{
    const char *model = NULL, *dataset = NULL, *mode = "iteration";
    size_t iters = 50, passes = 5, skip = (size_t) -1;
    quality_args qa = {
        .train_iters = 4000, .n_tp = 100000, .batch_rows = 4096, .reps = 2, .steps = DEFAULT_STEPS};
    bench b = {.threads = 2, .o = mf_dxmi_opts_default()};
    bool recipe = false;
    /* --recipe 1: the finetune.dxmi job's settings for the data set's dimension
     * (mf_dxmi_opts_for_dim), under the options that follow it */
    for (int i = 1; i + 1 < argc; i += 2) {
        mf_dataset_id id;
        if (strcmp(argv[i], "--recipe") == 0 && strcmp(argv[i + 1], "1") == 0) {
            recipe = true;
        }
        if (strcmp(argv[i], "--dataset") == 0 && mf_dataset_lookup(argv[i + 1], &id) == MF_OK) {
            b.o = mf_dxmi_opts_for_dim(mf_dataset_dim(id));
        }
    }
    if (!recipe) {
        b.o = mf_dxmi_opts_default();
    }
    b.recipe = recipe;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--recipe") == 0) {
            continue; /* read above */
        } else if (strcmp(k, "--model") == 0) {
            model = v;
        } else if (strcmp(k, "--dataset") == 0) {
            dataset = v;
        } else if (strcmp(k, "--mode") == 0) {
            mode = v;
        } else if (strcmp(k, "--threads") == 0) {
            b.threads = size_arg(v);
        } else if (strcmp(k, "--T") == 0) {
            b.o.T = size_arg(v);
        } else if (strcmp(k, "--lr-sampler") == 0) {
            b.o.lr_sampler = strtod(v, NULL);
        } else if (strcmp(k, "--rollout") == 0) { /* the rollouts' arithmetic (f32 default) */
            b.o.rollout = strcmp(v, "bf16") == 0 ? MF_PRECISION_BF16 : MF_PRECISION_F32;
        } else if (strcmp(k, "--iters") == 0) {
            iters = size_arg(v);
        } else if (strcmp(k, "--passes") == 0) {
            passes = size_arg(v);
        } else if (strcmp(k, "--skip") == 0) {
            skip = size_arg(v);
        } else if (strcmp(k, "--train-iters") == 0) {
            qa.train_iters = size_arg(v);
        } else if (strcmp(k, "--eval-every") == 0) {
            qa.eval_every = size_arg(v);
        } else if (strcmp(k, "--steps") == 0) {
            qa.steps = v;
        } else if (strcmp(k, "--sweep") == 0) {
            qa.sweep_all = strcmp(v, "all") == 0;
        } else if (strcmp(k, "--n-throughput") == 0) {
            qa.n_tp = size_arg(v);
        } else if (strcmp(k, "--batch-rows") == 0) {
            qa.batch_rows = size_arg(v);
        } else if (strcmp(k, "--reps") == 0) {
            qa.reps = size_arg(v);
        } else {
            fprintf(stderr, "dxmi_bench: unknown option %s\n", k);
            return 2;
        }
    }
    bool quality = strcmp(mode, "quality") == 0;
    if (model == NULL || dataset == NULL || mf_dataset_lookup(dataset, &b.id) != MF_OK ||
        (!quality && strcmp(mode, "iteration") != 0) || b.threads < 1 || iters < 1 || passes < 1 ||
        mf_dxmi_opts_check(&b.o, NULL) != MF_OK || qa.n_tp < 1 || qa.batch_rows < 1 ||
        qa.reps < 1) {
        fprintf(
            stderr,
            "usage: dxmi_bench --model FILE --dataset NAME [--recipe 1] [--mode iteration|quality] "
            "[--threads N] [--T T] [--lr-sampler R] [--rollout f32|bf16] [--iters N] [--passes P] "
            "[--skip N] [--train-iters N] [--eval-every N] [--steps LIST] [--sweep first|all] "
            "[--n-throughput N] [--batch-rows R] [--reps R]\n");
        return 2;
    }
    mf_cpu_ensure_blas_coretype(argv);
    mf_cpu_set_blas_threads(1); /* the team splits rows; OpenBLAS runs single-threaded */
    mf_diag d = {0};
    if (mf_model_load_file(model, 1u << 28, &b.m, &d) != MF_OK) {
        fprintf(stderr, "dxmi_bench: cannot load %s: %s\n", model, d.msg);
        return 1;
    }
    b.D = b.m->net->cfg.data_dim;
    if (b.D != mf_dataset_dim(b.id) || mf_par_new(b.threads, &b.team) != MF_OK) {
        fprintf(stderr, "dxmi_bench: %s is not a %s model, or no %zu threads\n", model, dataset,
                b.threads);
        return 1;
    }
    if (quality) {
        mode_quality(&b, &qa);
    } else {
        mode_iteration(&b, iters, passes, skip);
    }
    mf_par_free(b.team);
    mf_model_free(b.m);
    return 0;
}
