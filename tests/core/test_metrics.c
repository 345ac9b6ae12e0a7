/* SPDX-License-Identifier: MIT */
/*
 * test_metrics.c - the sample-quality report and the validity metrics:
 * eight_gaussians mode statistics against their exact values (hq_frac of
 * true data = P(chi2_2 <= 9) = 1 - e^-4.5 = 0.9889), nearest-neighbour
 * distances, and a report on real data whose twins must agree with it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "dataset.h"
#include "metrics.h"
#include "quality.h"
#include "rng.h"
#include "test_util.h"
#include "vendi.h"

static float *points(mf_dataset_id id, uint64_t seed, size_t n)
{
    float *p = malloc(n * mf_dataset_dim(id) * sizeof(float));
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(mf_dataset_sample(id, mf_rng_make(seed), 0, p, n), MF_OK);
    return p;
}

START_TEST(test_modes_true_data)
{
    size_t n = 20000;
    float *x = points(MF_DATASET_EIGHT_GAUSSIANS, 1, n);
    mf_mode_stats s;
    ck_assert_int_eq(mf_modes_eight_gaussians(x, n, &s), MF_OK);
    ck_assert_uint_eq(s.covered, 8);
    ck_assert_msg(fabs(s.hq_frac - (1.0 - exp(-4.5))) < 0.004, "%.4f", s.hq_frac);
    ck_assert_msg(s.entropy_ratio > 0.999, "%.5f", s.entropy_ratio);
    double sum = 0.0;
    for (size_t j = 0; j < 8; j++) {
        ck_assert_msg(fabs(s.frac[j] - 0.125) < 0.01, "mode %zu %.4f", j, s.frac[j]);
        sum += s.frac[j];
    }
    ck_assert_double_eq_tol(sum, 1.0, 1e-12);
    free(x);
}

END_TEST

START_TEST(test_modes_collapsed)
{
    /* All samples at centre 2 (angle 90 deg) but one far off: 1 covered, ratio ~0. */
    size_t n = 200;
    float *x = malloc(2 * n * sizeof(float));
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < n; i++) {
        x[2 * i] = 0.0f;
        x[2 * i + 1] = (float) (4.0 / 1.414);
    }
    x[0] = 50.0f;
    mf_mode_stats s;
    ck_assert_int_eq(mf_modes_eight_gaussians(x, n, &s), MF_OK);
    ck_assert_uint_eq(s.covered, 1);
    ck_assert_double_eq_tol(s.hq_frac, 199.0 / 200.0, 1e-12);
    ck_assert_double_eq_tol(s.frac[2], 199.0 / 200.0, 1e-12);
    ck_assert_double_eq_tol(s.frac[0], 1.0 / 200.0, 1e-12);
    ck_assert(s.entropy_ratio < 0.05);
    x[3] = NAN;
    ck_assert_int_eq(mf_modes_eight_gaussians(x, n, &s), MF_ERANGE);
    ck_assert_int_eq(mf_modes_eight_gaussians(NULL, n, &s), MF_EINVAL);
    free(x);
}

END_TEST

START_TEST(test_nn_mean_dist)
{
    float q[4] = {0, 0, 10, 0}, r[6] = {3, 4, 10, 1, 100, 100};
    double d = -1.0;
    ck_assert_int_eq(mf_nn_mean_dist(q, 2, r, 3, 2, &d), MF_OK);
    ck_assert_double_eq_tol(d, (5.0 + 1.0) / 2.0, 1e-15);
    ck_assert_int_eq(mf_nn_mean_dist(q, 2, r, 3, 2, NULL), MF_EINVAL);
}

END_TEST

/* Samples and reference from the same distribution: the twins agree, KL ~ 0, SW2 at its floor. */
/*
 * AUC by hand: pos {3, 2, 2, 0.5}, neg {2, 1, 0}.  Pairs (p, n), 12 in all:
 * p = 3 beats all 3; p = 2 (twice) beats 1 and 0 and ties 2: 2.5 each;
 * p = 0.5 beats 0 only: 1.  (3 + 2.5 + 2.5 + 1) / 12 = 0.75.
 */
START_TEST(test_auc)
{
    const double pos[] = {3, 2, 2, 0.5}, neg[] = {2, 1, 0};
    double a = -1.0;
    ck_assert_int_eq(mf_auc(pos, 4, neg, 3, &a), MF_OK);
    ck_assert_double_eq_tol(a, 0.75, 1e-15);
    ck_assert_int_eq(mf_auc(neg, 3, pos, 4, &a), MF_OK); /* swapped: 1 - AUC */
    ck_assert_double_eq_tol(a, 0.25, 1e-15);
    const double same[] = {1, 1, 1};
    ck_assert_int_eq(mf_auc(same, 3, same, 2, &a), MF_OK); /* all ties: 1/2 */
    ck_assert_double_eq_tol(a, 0.5, 1e-15);
    const double lo[] = {-5, -4}, hi[] = {7};
    ck_assert_int_eq(mf_auc(hi, 1, lo, 2, &a), MF_OK);
    ck_assert_double_eq(a, 1.0);

    /* two normals one unit apart: AUC = Phi(1/sqrt(2)) = 0.7602 (20000 each: s.e. 0.003) */
    enum {
        N = 20000
    };

    float z[2 * N];
    mf_rng_normal(mf_rng_make(5), 0, z, 2 * N);
    double *p = malloc(N * sizeof(double)), *q = malloc(N * sizeof(double));
    for (size_t i = 0; i < N; i++) {
        p[i] = (double) z[i] + 1.0;
        q[i] = (double) z[N + i];
    }
    ck_assert_int_eq(mf_auc(p, N, q, N, &a), MF_OK);
    ck_assert_double_eq_tol(a, 0.7602, 0.012);
    free(p);
    free(q);

    a = -1.0;
    const double bad[] = {1, NAN};
    ck_assert_int_eq(mf_auc(bad, 2, neg, 3, &a), MF_EINVAL);
    ck_assert_int_eq(mf_auc(pos, 4, bad, 2, &a), MF_EINVAL);
    const double inf[] = {INFINITY};
    ck_assert_int_eq(mf_auc(pos, 4, inf, 1, &a), MF_EINVAL);
    ck_assert_int_eq(mf_auc(pos, 0, neg, 3, &a), MF_EINVAL);
    ck_assert_int_eq(mf_auc(pos, 4, neg, 0, &a), MF_EINVAL);
    ck_assert_int_eq(mf_auc(NULL, 4, neg, 3, &a), MF_EINVAL);
    ck_assert_int_eq(mf_auc(pos, 4, neg, 3, NULL), MF_EINVAL);
    ck_assert_double_eq(a, -1.0);
}

END_TEST

START_TEST(test_report_2d)
{
    size_t n = 2000;
    float *x = points(MF_DATASET_EIGHT_GAUSSIANS, 2, n);
    float *ref = malloc(n * 2 * sizeof(float));
    ck_assert_ptr_nonnull(ref);
    ck_assert_int_eq(mf_dataset_heldout(MF_DATASET_EIGHT_GAUSSIANS, ref, n), MF_OK);
    mf_metrics_opts o;
    mf_metrics_opts_default(&o, 2);
    mf_metrics m;
    ck_assert_int_eq(mf_metrics_compute(&o, MF_DATASET_EIGHT_GAUSSIANS, x, n, 2, ref, n, &m),
                     MF_OK);
    ck_assert(m.has_ref && m.has_hist && m.has_modes && !m.has_nn && !m.has_support);
    ck_assert_uint_eq(m.n_ref, n);
    ck_assert_msg(fabs(m.knn.entropy - 2.80) < 0.06, "%.4f", m.knn.entropy);
    ck_assert_msg(fabs(m.knn.entropy - m.knn_ref.entropy) < 0.08, "%.4f vs %.4f", m.knn.entropy,
                  m.knn_ref.entropy);
    ck_assert_msg(fabs(m.kl.kl_pq) < 0.08 && fabs(m.kl.kl_qp) < 0.08, "%.4f %.4f", m.kl.kl_pq,
                  m.kl.kl_qp);
    ck_assert_msg(m.sw2 < 0.25, "%.4f", m.sw2);
    ck_assert_msg(fabs(m.vendi.q2 - 10.9) < 1.0 && fabs(m.vendi.ref_q2 - 10.9) < 1.0, "%.3f %.3f",
                  m.vendi.q2, m.vendi.ref_q2);
    ck_assert(isnan(m.vendi.q1));
    /* 2,000 points on 32 x 32 bins is ~7 per occupied bin: the plug-in estimate is
     * biased low (2.72 here; the anchor 2.83 is at N = 10,000), the same for the
     * twin, and Miller-Madow recovers most of it. */
    ck_assert_msg(fabs(m.hist.entropy - m.hist_ref.entropy) < 0.05, "%.4f vs %.4f", m.hist.entropy,
                  m.hist_ref.entropy);
    ck_assert_msg(fabs(m.hist.entropy_mm - 2.83) < 0.06, "MM %.4f", m.hist.entropy_mm);
    ck_assert_uint_eq(m.modes.covered, 8);
    ck_assert_uint_eq(m.knn.k, 5);
    ck_assert_uint_eq(m.hist.bins, 32);
    ck_assert_int_eq(m.vendi.kernel, MF_VENDI_RBF);
    free(x);
    free(ref);
}

END_TEST

START_TEST(test_report_support_and_digits)
{
    size_t n = 500;
    float *x = points(MF_DATASET_IMBALANCED_SQUARE, 3, n);
    mf_metrics_opts o;
    mf_metrics_opts_default(&o, 2);
    mf_metrics m;
    ck_assert_int_eq(mf_metrics_compute(&o, MF_DATASET_IMBALANCED_SQUARE, x, n, 2, NULL, 0, &m),
                     MF_OK);
    ck_assert(m.has_support && !m.has_ref && !m.has_modes);
    ck_assert_double_eq(m.inside, 1.0);
    ck_assert(isnan(m.vendi.ref_q2));
    free(x);

    /* Digits: the held-out split as samples, the training split as reference:
     * the samples' NN distance to the training set is the held-out one. */
    size_t nh = mf_dataset_digits_count(true);
    float *h = malloc(nh * 64 * sizeof(float));
    ck_assert_ptr_nonnull(h);
    mf_dataset_digits_rows(true, h, NULL);
    mf_metrics_opts_default(&o, 64);
    o.vendi_q1 = true;
    ck_assert_int_eq(mf_metrics_compute(&o, MF_DATASET_DIGITS, h, nh, 64, h, nh, &m), MF_OK);
    ck_assert(m.has_nn && !m.has_hist);
    ck_assert_int_eq(m.vendi.kernel, MF_VENDI_COSINE);
    ck_assert_double_eq_tol(m.nn_train, m.nn_train_ref, 1e-12);
    ck_assert(m.nn_train > 5.0 && m.nn_train < 40.0); /* pixels 0..16: measured 16.4 */
    ck_assert(m.vendi.q1 >= m.vendi.q2);
    /* Cosine Vendi on the images minus the reference's mean: raw pixels (all >= 0) point the
     * same way and score ~1.9 whatever the spread; centred, the held-out set scores ~20. */
    ck_assert(m.vendi.centred);
    ck_assert_msg(m.vendi.q2 > 10.0 && m.vendi.q2 < 40.0, "centred cosine Vendi %.2f", m.vendi.q2);
    ck_assert_double_eq_tol(m.vendi.q2, m.vendi.ref_q2, 1e-9); /* the same set, the same centre */
    double raw;
    ck_assert_int_eq(mf_vendi(h, nh, 64, MF_VENDI_COSINE, 1.0, 2, &raw), MF_OK);
    ck_assert_msg(raw < 3.0, "raw cosine Vendi %.2f", raw);
    free(h);
}

END_TEST

START_TEST(test_report_errors)
{
    float x[40] = {0};
    mf_metrics_opts o;
    mf_metrics_opts_default(&o, 2);
    mf_metrics m;
    ck_assert_int_eq(mf_metrics_compute(NULL, MF_DATASET_COUNT, x, 20, 2, NULL, 0, &m), MF_EINVAL);
    ck_assert_int_eq(mf_metrics_compute(&o, MF_DATASET_COUNT, x, 5, 2, NULL, 0, &m), MF_EINVAL);
    ck_assert_int_eq(mf_metrics_compute(&o, MF_DATASET_DIGITS, x, 20, 2, NULL, 0, &m), MF_EINVAL);
    ck_assert_int_eq(mf_metrics_compute(&o, MF_DATASET_COUNT, x, 20, 2, x, 3, &m), MF_EINVAL);
    ck_assert_int_eq(mf_metrics_compute(&o, (mf_dataset_id) 99, x, 20, 2, NULL, 0, &m), MF_EINVAL);
    x[7] = INFINITY;
    ck_assert_int_eq(mf_metrics_compute(&o, MF_DATASET_COUNT, x, 20, 2, NULL, 0, &m), MF_ERANGE);
}

END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_modes_true_data);
    tcase_add_test(tc, test_modes_collapsed);
    tcase_add_test(tc, test_nn_mean_dist);
    tcase_add_test(tc, test_auc);
    tcase_add_test(tc, test_report_2d);
    tcase_add_test(tc, test_report_support_and_digits);
    tcase_add_test(tc, test_report_errors);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(metrics_suite)
