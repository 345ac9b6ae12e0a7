/* SPDX-License-Identifier: MIT */
/* Tests of core/optim.c against hand-computed Adam steps, clipping, EMA and lr schedules. */
#include "optim.h"

#include "test_util.h"

#include <math.h>

START_TEST(test_adam_matches_formula)
{
    /* Two steps of Adam on p = [1, -2] with gradients g1 = [0.5, -1], g2 = [0.1, 0.3],
     * reference computed in double from Kingma & Ba's Algorithm 1. */
    float p[2] = {1.0f, -2.0f}, m[2] = {0}, v[2] = {0};
    mf_adam a = {.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .m = m, .v = v};
    const float g[2][2] = {{0.5f, -1.0f}, {0.1f, 0.3f}};
    double rp[2] = {1.0, -2.0}, rm[2] = {0}, rv[2] = {0};
    for (int step = 1; step <= 2; step++) {
        mf_adam_step(&a, p, g[step - 1], 2, 0.01f);
        for (int i = 0; i < 2; i++) {
            double gi = g[step - 1][i];
            rm[i] = 0.9 * rm[i] + 0.1 * gi;
            rv[i] = 0.999 * rv[i] + 0.001 * gi * gi;
            double mh = rm[i] / (1 - pow(0.9, step)), vh = rv[i] / (1 - pow(0.999, step));
            rp[i] -= 0.01 * mh / (sqrt(vh) + 1e-8);
        }
    }
    ck_assert_double_eq_tol(p[0], rp[0], 1e-6);
    ck_assert_double_eq_tol(p[1], rp[1], 1e-6);
    /* First Adam step moves every coordinate by lr against the gradient sign. */
    ck_assert_uint_eq(a.t, 2);
    mf_adam_reset(&a, 2);
    ck_assert_uint_eq(a.t, 0);
    ck_assert(m[0] == 0.0f && v[1] == 0.0f);
}
END_TEST

START_TEST(test_clip)
{
    float g[3] = {3.0f, 4.0f, 0.0f};
    ck_assert_double_eq_tol(mf_clip_grad_norm(g, 3, 10.0), 5.0, 1e-12);
    ck_assert(g[0] == 3.0f); /* under the limit: untouched */
    ck_assert_double_eq_tol(mf_clip_grad_norm(g, 3, 1.0), 5.0, 1e-12);
    ck_assert_double_eq_tol(hypot(g[0], g[1]), 1.0, 1e-5);
    float h[2] = {30.0f, 40.0f};
    ck_assert_double_eq_tol(mf_clip_grad_norm(h, 2, 0.0), 50.0, 1e-9); /* 0 = off */
    ck_assert(h[0] == 30.0f);
}
END_TEST

START_TEST(test_ema_and_lr)
{
    float e[2] = {1.0f, 0.0f};
    const float p[2] = {0.0f, 1.0f};
    mf_ema_update(e, p, 2, 0.75f);
    ck_assert_float_eq_tol(e[0], 0.75f, 1e-7f);
    ck_assert_float_eq_tol(e[1], 0.25f, 1e-7f);

    ck_assert_float_eq(mf_lr_at(MF_LR_CONSTANT, 0.1f, 0.0f, 10, 5, 100), 0.1f);
    ck_assert_float_eq_tol(mf_lr_at(MF_LR_COSINE, 1.0f, 0.0f, 10, 0, 110), 0.1f, 1e-7f);
    ck_assert_float_eq_tol(mf_lr_at(MF_LR_COSINE, 1.0f, 0.0f, 10, 9, 110), 1.0f, 1e-7f);
    ck_assert_float_eq_tol(mf_lr_at(MF_LR_COSINE, 1.0f, 0.0f, 10, 10, 110), 1.0f, 1e-7f);
    ck_assert_float_eq_tol(mf_lr_at(MF_LR_COSINE, 1.0f, 0.0f, 10, 60, 110), 0.5f, 1e-6f);
    ck_assert_float_eq_tol(mf_lr_at(MF_LR_COSINE, 1.0f, 0.1f, 10, 110, 110), 0.1f, 1e-6f);
}
END_TEST

static Suite *optim_suite(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_add_test(tc, test_adam_matches_formula);
    tcase_add_test(tc, test_clip);
    tcase_add_test(tc, test_ema_and_lr);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(optim_suite)
