/* SPDX-License-Identifier: MIT */
/*
 * Oracles 3 and 4 of DxMI (ALGORITHMS.md `finetune.dxmi`, calibrated by the
 * PyTorch reference ../shared/bench/dxmi_torch/dxmi.py and
 * reference/dxmi-reference-run.md), on the shipped eight_gaussians model,
 * T = 5, B = 512, fresh data batches every iteration, on a 2-thread team.
 *
 * Evaluation exactly as dxmi.py: SW2 (core/sw.h, 500 fixed directions) of
 * 1,000 samples of the sampler (seed 50,000 + k) against 1,000 fresh data
 * points (set k), averaged over k = 0..4; the floor is the same mean over two
 * fresh data sets per k; the energy AUC separates 5,000 data points from
 * 5,000 uniform points on [-4, 4]^2 by the score -E.  The gates use the
 * median of the last three evaluations (single evaluations spike).
 *
 *   oracle 3  the authors' code schedule, the default options (the
 *             reference's run F): un-tuned ~1.5x the floor; after training
 *             the median of the last three SW2 <= 1.3x the floor and the
 *             energy AUC >= 0.78; the same run with tau_entropy = 0 is
 *             reported (its AUC is lower in the reference: 0.62 vs 0.82).
 *   oracle 4  the matched schedule with lr_sampler 1e-6 (run K): from ~2.4x
 *             the floor to <= 1.5x and >= 40 % below un-tuned; AUC reported.
 *
 * Measured (this VM, 2 threads; the runs are reproducible bit for bit):
 * floor 0.1305 (the reference: 0.152 with its own draws).  Oracle 3:
 * untuned 0.199 (1.53x); SW2/floor every 250 iterations 1.17, 1.99, 2.41,
 * 1.82, 1.35, 1.36, 1.50, 1.45, 1.35, 1.23, 1.23, 1.19, 1.17, 1.16, 1.22,
 * 1.19, median of the last three 1.19x (run F: 1.15x); AUC 0.82 from
 * iteration 3000 on (0.417-0.71 before), median 0.817 (run F: 0.82).  With
 * tau_entropy = 0: median 1.47x, AUC 0.583 (run G: 1.21x, 0.62).  Oracle 4:
 * untuned 0.379 (2.90x; the reference 0.370, 2.44x of its floor); 1.56, 1.24,
 * 1.36, 1.17, 1.22, 1.23, 1.11, 1.13, median 1.13x, 61 % below untuned; AUC
 * 0.437 (run K: 0.51).  AUC 0.78 is first passed at iteration 3000, so
 * oracle 3 keeps the reference's 4,000; oracle 4 passes from 1,000 on and
 * runs 2,000.  6,000 iterations in all (10,000 with the tau_entropy = 0
 * run): about 1 min at a quiet machine's 8.4 ms per iteration, 2 min with a
 * neighbour busy.
 *
 * With bf16 rollouts (ROLLOUT, the job's default; the figures above are
 * float's): oracle 3 median 1.17x, AUC 0.810; oracle 4 median 1.14x, 61 %
 * below untuned, AUC 0.429; 7.25 ms per iteration.
 *
 * Slow: suite "oracles", release only.  MF_DXMI_ORACLE_ITERS overrides the
 * iterations of every run (for measuring); MF_DXMI_ORACLE_TAU0=1 adds the
 * tau_entropy = 0 run (reported above; ./test leaves it out for time).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu.h"
#include "dataset.h"
#include "dxmi.h"
#include "par.h"
#include "quality.h"
#include "rng.h"
#include "shipped_model.h"
#include "sw.h"
#include "test_util.h"

/* The rollouts' arithmetic the finetune.dxmi job uses by default (the daemon's
 * --precision, bf16; float on a CPU without it): the oracles hold for it. */
#define ROLLOUT MF_PRECISION_BF16

enum {
    N_SEEDS = 5,
    N_SW = 1000,
    N_AUC = 5000,
    MAX_EVALS = 64
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

/* The fixed evaluation sets (data space), as dxmi.py draws its own. */
typedef struct evalset {
    float data[N_SEEDS][N_SW * 2];
    float auc_data[N_AUC * 2], auc_unif[N_AUC * 2];
    double floor;
} evalset;

static void eight(uint64_t seed, float *out, size_t n)
{
    ck_assert_int_eq(mf_dataset_sample(MF_DATASET_EIGHT_GAUSSIANS, mf_rng_make(seed), 0, out, n),
                     MF_OK);
}

static double sw2(const float *x, const float *y)
{
    double v;
    ck_assert_int_eq(mf_sw2(x, N_SW, y, N_SW, 2, MF_SW_DEFAULT_DIRS, MF_SW_DEFAULT_SEED, &v),
                     MF_OK);
    return v;
}

static evalset *make_evalset(void)
{
    evalset *ev = malloc(sizeof *ev);
    ck_assert_ptr_nonnull(ev);
    float *a = malloc(N_SW * 2 * sizeof(float)), *b = malloc(N_SW * 2 * sizeof(float));
    ev->floor = 0.0;
    for (size_t k = 0; k < N_SEEDS; k++) {
        eight(10000 + k, ev->data[k], N_SW);
        eight(20000 + k, a, N_SW);
        eight(30000 + k, b, N_SW);
        ev->floor += sw2(a, b) / N_SEEDS;
    }
    eight(777, ev->auc_data, N_AUC);
    mf_rng_uniform(mf_rng_make(778), 0, ev->auc_unif, N_AUC * 2);
    for (size_t i = 0; i < N_AUC * 2; i++) {
        ev->auc_unif[i] = 8.0f * ev->auc_unif[i] - 4.0f;
    }
    free(a);
    free(b);
    return ev;
}

/* Mean SW2 of the sampler's samples (seed 50000 + k) against data set k. */
static double sampler_sw2(mf_dxmi *dx, const mf_model *m, const evalset *ev)
{
    float *x = malloc(N_SW * 2 * sizeof(float));
    double s = 0.0;
    for (size_t k = 0; k < N_SEEDS; k++) {
        ck_assert_int_eq(mf_dxmi_sample(dx, 50000 + k, x, N_SW), MF_OK);
        mf_model_to_data(m, x, N_SW * 2);
        s += sw2(x, ev->data[k]) / N_SEEDS;
    }
    free(x);
    return s;
}

/* AUC of -E (model space) between the data and the uniform points. */
static double energy_auc(const mf_dxmi *dx, const mf_model *m, const evalset *ev)
{
    const mf_reward_model *e = mf_dxmi_energy(dx);
    float *x = malloc(N_AUC * 2 * sizeof(float)), *f = malloc(N_AUC * sizeof(float));
    double *pos = malloc(N_AUC * sizeof(double)), *neg = malloc(N_AUC * sizeof(double));
    mf_reward_ws *ws = NULL;
    ck_assert_int_eq(mf_reward_ws_new(e, 1000, &ws), MF_OK);
    for (int set = 0; set < 2; set++) {
        const float *src = set == 0 ? ev->auc_data : ev->auc_unif;
        for (size_t i = 0; i < N_AUC * 2; i++) {
            x[i] = (float) (((double) src[i] - m->data_offset) / m->data_scale);
        }
        mf_reward_predict(e, ws, x, N_AUC, f);
        for (size_t i = 0; i < N_AUC; i++) {
            (set == 0 ? pos : neg)[i] = -(double) f[i];
        }
    }
    double auc;
    ck_assert_int_eq(mf_auc(pos, N_AUC, neg, N_AUC, &auc), MF_OK);
    mf_reward_ws_free(ws);
    free(x);
    free(f);
    free(pos);
    free(neg);
    return auc;
}

typedef struct run_result {
    double untuned, ms_per_iter;
    size_t n_evals;
    double sw[MAX_EVALS], auc[MAX_EVALS];
} run_result;

/* The median of the last three of n values (n >= 3). */
static double median3(const double *v, size_t n)
{
    ck_assert_uint_ge(n, 3);
    double a = v[n - 3], b = v[n - 2], c = v[n - 1];
    return fmax(fmin(a, b), fmin(fmax(a, b), c));
}

/* Trains a run for iters iterations, evaluating every eval_every; prints every evaluation. */
static run_result run(const char *label, const mf_dxmi_opts *o, size_t iters, size_t eval_every,
                      mf_par *team, const evalset *ev)
{
    mf_model *m = load_shipped("eight_gaussians");
    mf_dxmi *dx = NULL;
    mf_diag d = {0};
    ck_assert_msg(mf_dxmi_new(m->net, &m->sched, o, &dx, &d) == MF_OK, "%s", d.msg);
    ck_assert_int_eq(mf_dxmi_set_executor(dx, mf_par_for_exec, team, mf_par_size(team)), MF_OK);
    run_result rr = {0};
    rr.untuned = sampler_sw2(dx, m, ev);
    printf("%s: floor %.4f, untuned %.4f (%.2fx), AUC %.3f\n", label, ev->floor, rr.untuned,
           rr.untuned / ev->floor, energy_auc(dx, m, ev));
    float *xp = malloc(o->batch * 2 * sizeof(float));
    float off = (float) m->data_offset, scale = (float) m->data_scale;
    double train_s = 0.0;
    for (size_t it = 0; it < iters; it++) {
        ck_assert_int_eq(mf_dataset_train_batch(MF_DATASET_EIGHT_GAUSSIANS, o->seed + 1, it,
                                                o->batch, false, off, scale, xp),
                         MF_OK);
        mf_dxmi_stats st;
        double t0 = now_s();
        mf_err err = mf_dxmi_step(dx, xp, &st);
        train_s += now_s() - t0;
        ck_assert_msg(err == MF_OK, "%s: iteration %zu: %s", label, it + 1, mf_strerror(err));
        if ((it + 1) % eval_every == 0 || it + 1 == iters) {
            ck_assert_uint_lt(rr.n_evals, MAX_EVALS);
            double s = sampler_sw2(dx, m, ev), a = energy_auc(dx, m, ev);
            rr.sw[rr.n_evals] = s;
            rr.auc[rr.n_evals++] = a;
            printf("%s it %5zu: SW2 %.4f (%.2fx floor) AUC %.3f  E+ %.4f E- %.4f  sigma", label,
                   it + 1, s, s / ev->floor, a, st.pos_e, st.neg_e);
            for (size_t t = 0; t < o->T; t++) {
                printf(" %.3f", st.sigma[t]);
            }
            printf("  %.2f ms/it\n", 1e3 * train_s / (double) (it + 1));
            fflush(stdout);
        }
    }
    rr.ms_per_iter = 1e3 * train_s / (double) iters;
    free(xp);
    mf_dxmi_free(dx);
    mf_model_free(m);
    return rr;
}

static size_t iters_or(size_t dflt)
{
    const char *env = getenv("MF_DXMI_ORACLE_ITERS");
    return env != NULL ? (size_t) strtoul(env, NULL, 10) : dflt;
}

START_TEST(test_code_schedule)
{
    mf_cpu_set_blas_threads(1);
    mf_par *team = NULL;
    ck_assert_int_eq(mf_par_new(2, &team), MF_OK);
    evalset *ev = make_evalset();
    mf_dxmi_opts o = mf_dxmi_opts_default();
    o.rollout = ROLLOUT;
    size_t iters = iters_or(4000);
    run_result r = run("code tau1=0.1", &o, iters, 250, team, ev);
    double med = median3(r.sw, r.n_evals), auc = median3(r.auc, r.n_evals);
    printf("oracle 3: untuned %.2fx, median of the last 3 %.2fx the floor, AUC %.3f; %.2f ms/it\n",
           r.untuned / ev->floor, med / ev->floor, auc, r.ms_per_iter);
    if (getenv("MF_DXMI_ORACLE_TAU0") != NULL) {
        /* reported, not gated (measured numbers in the header): 35 s that ./test saves */
        o.tau_entropy = 0.0;
        run_result r0 = run("code tau1=0", &o, iters, 250, team, ev);
        double med0 = median3(r0.sw, r0.n_evals), auc0 = median3(r0.auc, r0.n_evals);
        printf("oracle 3, tau1 = 0: median %.2fx the floor, AUC %.3f (tau1 = 0.1: %.3f)\n",
               med0 / ev->floor, auc0, auc);
    }
    ck_assert_msg(r.untuned / ev->floor > 1.3, "untuned already %.2fx", r.untuned / ev->floor);
    ck_assert_msg(med <= 1.3 * ev->floor, "SW2 %.4f > 1.3 x floor %.4f", med, ev->floor);
    ck_assert_msg(auc >= 0.78, "AUC %.3f", auc);
    free(ev);
    mf_par_free(team);
}

END_TEST

START_TEST(test_matched_schedule)
{
    mf_cpu_set_blas_threads(1);
    mf_par *team = NULL;
    ck_assert_int_eq(mf_par_new(2, &team), MF_OK);
    evalset *ev = make_evalset();
    mf_dxmi_opts o = mf_dxmi_opts_default();
    o.rollout = ROLLOUT;
    o.schedule = MF_VAR_SCHED_MATCHED;
    o.lr_sampler = 1e-6;
    o.lr_energy = 1e-4;
    run_result r = run("matched", &o, iters_or(2000), 250, team, ev);
    double med = median3(r.sw, r.n_evals), auc = median3(r.auc, r.n_evals);
    printf("oracle 4: untuned %.2fx, median of the last 3 %.2fx the floor (%.0f %% below "
           "untuned), AUC %.3f\n",
           r.untuned / ev->floor, med / ev->floor, 100.0 * (1.0 - med / r.untuned), auc);
    ck_assert_msg(r.untuned / ev->floor > 2.0, "untuned %.2fx", r.untuned / ev->floor);
    ck_assert_msg(med <= 1.5 * ev->floor, "SW2 %.4f > 1.5 x floor %.4f", med, ev->floor);
    ck_assert_msg(med <= 0.6 * r.untuned, "SW2 %.4f vs untuned %.4f", med, r.untuned);
    free(ev);
    mf_par_free(team);
}

END_TEST

static Suite *dxmi_oracle_suite(void)
{
    Suite *s = suite_create("dxmi_oracle");
    TCase *tc = tcase_create("eight_gaussians");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_code_schedule);
    tcase_add_test(tc, test_matched_schedule);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(dxmi_oracle_suite)
