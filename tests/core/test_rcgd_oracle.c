/* SPDX-License-Identifier: MIT */
/*
 * Oracle 3 of reward-directed conditional diffusion (ALGORITHMS.md
 * `finetune.reward`, reference/other-seeds.md §1.5): trained end to end on
 * linear_subspace with ../shared/bench/reward_torch/reward.py's recipe
 * (16,384 unlabelled rows, 1,000 labels of noise 0.1, ridge pseudo-labels,
 * 3 x 256 SiLU, batch 256, data scale 0.5, DDPM on 200 strided steps) and
 * pseudo-label noise nu = 0.5, the achieved mean reward theta^T x at target a
 * must be the ideal a / (1 + nu^2): within 5 % at a = 1 and 2, within 0.03 at
 * a = 0.5, with an off-subspace deviation at most 1.5x that of an
 * unconditional model trained on the same rows with the same settings.  The
 * extrapolation targets a = 4 and 8 (beyond the data: theta^T x ~ N(0, 1)) are
 * reported, not asserted.  The run uses the daemon's pieces: a 2-thread team
 * (server/par.h) for the training steps and the guided sampling.
 *
 * Measured (2 threads, this VM; 20,000 steps per model, 31 s each, 66 s in all):
 * ratios 0.995 / 1.009 / 1.015 at a = 0.5 / 1 / 2 (a = 0.5: 0.398 against 0.400),
 * 1.005 at a = 4 and 0.946 at a = 8; sample std of theta^T x 0.433 against the
 * ideal nu / sqrt(1 + nu^2) = 0.447; off-subspace deviation 0.116 for both the
 * conditional and the unconditional model (1.00x).  The PyTorch reference run
 * (../shared/bench/README.md): ratios 1.035, 1.018, 1.006, 0.984, 0.910 and deviation
 * 0.111 against 0.114.  With 8,000 steps the ratios still pass (0.954 / 0.983 /
 * 1.004) but the deviation is 0.26: the recipe's 20,000 steps are kept.
 * Slow (two models): suite "oracles", release only.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu.h"
#include "par.h"
#include "rcgd.h"
#include "rng.h"
#include "test_util.h"

enum {
    D = MF_DATASET_SUBSPACE_D,
    N_UNL = 16384,
    N_LAB = 1000,
    N_EVAL = 2000
};

#define NU            0.5
#define STEPS_DEFAULT 20000 /* reward.py's; 8,000 already pass (off-subspace 0.26 then) */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

/* Trains a run to the end on the team and finishes it. */
static mf_rcgd *train(const mf_rcgd_opts *o, const mf_rcgd_data *data, mf_par *team,
                      const char *label)
{
    mf_rcgd *r = NULL;
    mf_diag d = {0};
    ck_assert_msg(mf_rcgd_new(o, data, &r, &d) == MF_OK, "%s", d.msg);
    mf_rcgd_fit_stats fs;
    ck_assert_msg(mf_rcgd_fit(r, &fs, &d) == MF_OK, "%s", d.msg);
    mf_rcgd_set_executor(r, mf_par_for_exec, team, mf_par_size(team));
    double t0 = now_s(), loss = 0.0;
    while (mf_rcgd_steps_done(r) < mf_rcgd_steps_total(r)) {
        ck_assert_int_eq(mf_rcgd_step(r, &loss), MF_OK);
    }
    printf("%s: reward val R^2 %.4f, labels mean %.3f std %.3f; %zu steps in %.1f s, last "
           "loss %.4f\n",
           label, fs.reward.val_r2, fs.label_mean, fs.label_std, mf_rcgd_steps_total(r),
           now_s() - t0, loss);
    ck_assert_msg(mf_rcgd_finish(r, "test_rcgd_oracle", 0, &d) == MF_OK, "%s", d.msg);
    return r;
}

START_TEST(test_linear_subspace_oracle)
{
    mf_cpu_set_blas_threads(1);
    float *x_unl = malloc(N_UNL * D * sizeof(float)), *x_lab = malloc(N_LAB * D * sizeof(float));
    float y_lab[N_LAB], e[N_LAB];
    double th[N_LAB];
    ck_assert_int_eq(
        mf_dataset_sample(MF_DATASET_LINEAR_SUBSPACE, mf_rng_make(11), 0, x_unl, N_UNL), MF_OK);
    ck_assert_int_eq(
        mf_dataset_sample(MF_DATASET_LINEAR_SUBSPACE, mf_rng_make(12), 0, x_lab, N_LAB), MF_OK);
    ck_assert_int_eq(mf_dataset_true_reward(MF_DATASET_LINEAR_SUBSPACE, x_lab, N_LAB, th), MF_OK);
    mf_rng_normal(mf_rng_make(13), 0, e, N_LAB);
    for (size_t i = 0; i < N_LAB; i++) {
        y_lab[i] = (float) (th[i] + 0.1 * (double) e[i]);
    }
    mf_rcgd_data data = {.D = D,
                         .x_unl = x_unl,
                         .n_unl = N_UNL,
                         .x_lab = x_lab,
                         .y_lab = y_lab,
                         .n_lab = N_LAB,
                         .has_truth = true,
                         .truth = MF_DATASET_LINEAR_SUBSPACE};
    const char *env = getenv("MF_RCGD_ORACLE_STEPS"); /* for measuring; the test uses the default */
    mf_rcgd_opts o = mf_rcgd_opts_default();
    o.nu = NU;
    o.train.steps = env != NULL ? (size_t) strtoul(env, NULL, 10) : STEPS_DEFAULT;
    o.train.data_offset = 0.0;
    o.train.data_scale = 0.5;
    o.train.seed = 7;
    mf_par *team = NULL;
    ck_assert_int_eq(mf_par_new(2, &team), MF_OK);
    mf_guide_exec ex = mf_par_guide_exec(team);

    mf_rcgd_opts ou = o;
    ou.conditional = false;
    mf_rcgd *unc = train(&ou, &data, team, "unconditional");
    mf_rcgd_eval base;
    ck_assert_int_eq(mf_rcgd_evaluate(unc, &ex, 0.0, N_EVAL, 5, NULL, NULL, &base), MF_OK);
    printf("unconditional: reward mean %.3f std %.3f, off-subspace %.4f (p90 %.4f)\n",
           base.true_mean, base.true_std, base.off_mean, base.off_p90);

    mf_rcgd *r = train(&o, &data, team, "conditional");
    static const double targets[] = {0.5, 1.0, 2.0, 4.0, 8.0};
    for (size_t k = 0; k < sizeof targets / sizeof targets[0]; k++) {
        double a = targets[k];
        mf_rcgd_eval ev;
        ck_assert_int_eq(mf_rcgd_evaluate(r, &ex, a, N_EVAL, 5, NULL, NULL, &ev), MF_OK);
        printf("a = %.1f: reward %.3f (std %.3f) ideal %.3f ratio %.3f; predicted %.3f; "
               "off-subspace %.4f (%.2fx unconditional); kNN entropy %.2f\n",
               a, ev.true_mean, ev.true_std, ev.ideal, ev.ratio, ev.pred_mean, ev.off_mean,
               ev.off_mean / base.off_mean, ev.entropy);
        ck_assert(ev.has_truth && ev.has_off);
        if (a > 2.0) {
            continue; /* extrapolation: reported only */
        }
        if (a == 0.5) {
            ck_assert_msg(fabs(ev.true_mean - ev.ideal) <= 0.03, "a = 0.5: %.4f vs %.4f",
                          ev.true_mean, ev.ideal);
        } else {
            ck_assert_msg(fabs(ev.ratio - 1.0) <= 0.05, "a = %.0f: ratio %.4f", a, ev.ratio);
        }
        ck_assert_msg(ev.off_mean <= 1.5 * base.off_mean, "a = %.1f: off %.4f vs %.4f", a,
                      ev.off_mean, base.off_mean);
    }
    mf_rcgd_free(r);
    mf_rcgd_free(unc);
    mf_par_free(team);
    free(x_unl);
    free(x_lab);
}

END_TEST

static Suite *rcgd_oracle_suite(void)
{
    Suite *s = suite_create("rcgd_oracle");
    TCase *tc = tcase_create("linear_subspace");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_linear_subspace_oracle);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(rcgd_oracle_suite)
