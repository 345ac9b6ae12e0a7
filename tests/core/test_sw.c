/* SPDX-License-Identifier: MIT */
/*
 * test_sw.c - sliced Wasserstein-2: exact 1-D cases (n != m included), zero on
 * equal measures, symmetry, scaling, the Gaussian shift oracle
 * SW2(N(0,I_2), N(mu,I_2)) = |mu|/sqrt(2), and the eight_gaussians anchors of
 * ALGORITHMS.md (two-sample floor, data vs N(0,I) ~1.12).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "dataset.h"
#include "rng.h"
#include "sw.h"

#define SENTINEL (-12345.0)

/* n standard-normal 2-D points of seed + mean. */
static float *normal_cloud(uint64_t seed, size_t n, double mx, double my, double s)
{
    float *p = malloc(2 * n * sizeof(float));
    ck_assert_ptr_nonnull(p);
    mf_rng_normal(mf_rng_make(seed), 0, p, 2 * n);
    for (size_t i = 0; i < n; i++) {
        p[2 * i] = (float) (s * (double) p[2 * i] + mx);
        p[2 * i + 1] = (float) (s * (double) p[2 * i + 1] + my);
    }
    return p;
}

/* Subtracts the sample mean of a 2-D cloud. */
static void center(float *p, size_t n)
{
    double mx = 0.0, my = 0.0;
    for (size_t i = 0; i < n; i++) {
        mx += (double) p[2 * i];
        my += (double) p[2 * i + 1];
    }
    mx /= (double) n;
    my /= (double) n;
    for (size_t i = 0; i < n; i++) {
        p[2 * i] = (float) ((double) p[2 * i] - mx);
        p[2 * i + 1] = (float) ((double) p[2 * i + 1] - my);
    }
}

static double sw2_ok(const float *x, size_t n, const float *y, size_t m, size_t D, size_t L)
{
    double r = SENTINEL;
    mf_err err = mf_sw2(x, n, y, m, D, L, MF_SW_DEFAULT_SEED, &r);
    ck_assert_msg(err == MF_OK, "mf_sw2: %s", mf_err_name(err));
    ck_assert(r >= 0.0);
    return r;
}

/* ---- errors ---------------------------------------------------------------------------- */

static const float pts[6] = {0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f};
static const float pts_nan[4] = {0.0f, 1.0f, NAN, 3.0f};
static const float pts_inf[4] = {0.0f, INFINITY, 2.0f, 3.0f};

static const struct error_case {
    const char *name;
    const float *x;
    size_t n;
    const float *y;
    size_t m, D, L;
    mf_err expect;
} error_cases[] = {
    {.name = "n = 0", .x = pts, .n = 0, .y = pts, .m = 3, .D = 2, .L = 10, .expect = MF_EINVAL},
    {.name = "m = 0", .x = pts, .n = 3, .y = pts, .m = 0, .D = 2, .L = 10, .expect = MF_EINVAL},
    {.name = "D = 0", .x = pts, .n = 3, .y = pts, .m = 3, .D = 0, .L = 10, .expect = MF_EINVAL},
    {.name = "L = 0", .x = pts, .n = 3, .y = pts, .m = 3, .D = 2, .L = 0, .expect = MF_EINVAL},
    {.name = "x NULL", .x = NULL, .n = 3, .y = pts, .m = 3, .D = 2, .L = 10, .expect = MF_EINVAL},
    {.name = "y NULL", .x = pts, .n = 3, .y = NULL, .m = 3, .D = 2, .L = 10, .expect = MF_EINVAL},
    {.name = "NaN in x",
     .x = pts_nan,
     .n = 2,
     .y = pts,
     .m = 3,
     .D = 2,
     .L = 10,
     .expect = MF_ERANGE},
    {.name = "inf in y",
     .x = pts,
     .n = 3,
     .y = pts_inf,
     .m = 2,
     .D = 2,
     .L = 10,
     .expect = MF_ERANGE},
    {.name = "n*D overflows",
     .x = pts,
     .n = SIZE_MAX / 2,
     .y = pts,
     .m = 1,
     .D = 4,
     .L = 10,
     .expect = MF_ERANGE},
    {.name = "ok", .x = pts, .n = 3, .y = pts, .m = 2, .D = 2, .L = 10, .expect = MF_OK},
};

START_TEST(test_errors)
{
    const struct error_case *c = &error_cases[_i];
    double r = SENTINEL;
    mf_err err = mf_sw2(c->x, c->n, c->y, c->m, c->D, c->L, 7, &r);
    ck_assert_msg(err == c->expect, "%s: got %s", c->name, mf_err_name(err));
    if (err != MF_OK) {
        ck_assert_msg(r == SENTINEL, "%s: ret written on failure", c->name);
    } else {
        ck_assert(r != SENTINEL);
    }
}

END_TEST

/* ---- exact 1-D cases: any direction is +-1, so SW2 = W2 for every L ------------------- */

static const struct exact_case {
    const char *name;
    float x[6];
    size_t n;
    float y[6];
    size_t m;
    double expect;
} exact_cases[] = {
    {"same points", {1, 2, 3}, 3, {1, 2, 3}, 3, 0.0},
    {"unsorted same points", {3, 1, 2}, 3, {2, 3, 1}, 3, 0.0},
    {"diracs", {0}, 1, {1}, 1, 1.0},
    {"shift by 2", {0, 1, 5}, 3, {2, 3, 7}, 3, 2.0},
    {"2 vs 3 points", {0, 1}, 2, {0, 0.5f, 1}, 3, 0.28867513459481287}, /* sqrt(1/12) */
    {"2 vs 1 point", {0, 2}, 2, {1}, 1, 1.0},
    {"4 vs 2 points", {3, 0, 2, 1}, 4, {1, 0}, 2, 1.2247448713915890}, /* sqrt(1.5) */
    {"duplicated measure", {1, 5, 2}, 3, {1, 1, 5, 5, 2, 2}, 6, 0.0},
};

START_TEST(test_exact_1d)
{
    const struct exact_case *c = &exact_cases[_i];
    double got = sw2_ok(c->x, c->n, c->y, c->m, 1, 7);
    ck_assert_msg(fabs(got - c->expect) < 1e-12, "%s: got %.17g expect %.17g", c->name, got,
                  c->expect);
    /* Symmetric exactly. */
    double back = sw2_ok(c->y, c->m, c->x, c->n, 1, 7);
    ck_assert_double_eq(got, back);
}

END_TEST

START_TEST(test_w2sq_sorted)
{
    /* Integral weights: u = {0, 1} against v = {0, 0.5, 1}: 1/6 * 0.25 * 2 = 1/12. */
    const double u[2] = {0.0, 1.0}, v[3] = {0.0, 0.5, 1.0};
    ck_assert_double_eq_tol(mf_sw_w2sq_sorted(u, 2, v, 3), 1.0 / 12.0, 1e-15);
    ck_assert_double_eq_tol(mf_sw_w2sq_sorted(v, 3, u, 2), 1.0 / 12.0, 1e-15);
    /* Coprime sizes 3 vs 7 with constant offset c: exactly c^2. */
    const double a[3] = {0.0, 1.0, 2.0}, b[7] = {5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0};
    const double c[3] = {5.0, 5.0, 5.0};
    ck_assert_double_eq(mf_sw_w2sq_sorted(c, 3, b, 7), 0.0);
    ck_assert_double_eq_tol(mf_sw_w2sq_sorted(a, 3, b, 7), (25.0 + 16.0 + 9.0) / 3.0, 1e-12);
}

END_TEST

/* ---- properties in 2-D ----------------------------------------------------------------- */

START_TEST(test_identical_and_duplicated)
{
    enum {
        N = 300
    };

    float *x = normal_cloud(11, N, 0.3, -0.2, 1.0);
    float *xx = malloc(4 * N * sizeof(float));
    ck_assert_ptr_nonnull(xx);
    memcpy(xx, x, 2 * N * sizeof(float));
    memcpy(xx + 2 * N, x, 2 * N * sizeof(float));
    ck_assert_double_eq(sw2_ok(x, N, x, N, 2, MF_SW_DEFAULT_DIRS), 0.0);
    ck_assert_double_eq_tol(sw2_ok(x, N, xx, 2 * N, 2, MF_SW_DEFAULT_DIRS), 0.0, 1e-12);
    free(xx);
    free(x);
}

END_TEST

START_TEST(test_symmetry_and_scale)
{
    enum {
        N = 400,
        M = 250
    };

    float *x = normal_cloud(21, N, 0.0, 0.0, 1.0);
    float *y = normal_cloud(22, M, 0.5, 1.0, 0.7);
    double d = sw2_ok(x, N, y, M, 2, MF_SW_DEFAULT_DIRS);
    ck_assert(d > 0.1);
    ck_assert_double_eq(d, sw2_ok(y, M, x, N, 2, MF_SW_DEFAULT_DIRS));

    static const double scales[] = {2.0, 0.5, 3.0, 0.1};
    for (size_t k = 0; k < sizeof scales / sizeof scales[0]; k++) {
        double c = scales[k];
        float *cx = malloc(2 * N * sizeof(float)), *cy = malloc(2 * M * sizeof(float));
        ck_assert(cx != NULL && cy != NULL);
        for (size_t i = 0; i < 2 * N; i++) {
            cx[i] = (float) (c * (double) x[i]);
        }
        for (size_t i = 0; i < 2 * M; i++) {
            cy[i] = (float) (c * (double) y[i]);
        }
        double dc = sw2_ok(cx, N, cy, M, 2, MF_SW_DEFAULT_DIRS);
        /* Powers of two scale floats exactly; others round once (~6e-8 relative). */
        ck_assert_msg(fabs(dc - c * d) <= 1e-6 * c * d, "c=%g: %.9g vs %.9g", c, dc, c * d);
        free(cx);
        free(cy);
    }
    free(y);
    free(x);
}

END_TEST

/* SW2(N(0,I), N(mu,I)): every projection is a shift by mu.theta, so SW2^2 =
 * E[(mu.theta)^2] = |mu|^2 / 2 in 2-D (plus a small two-sample term). */
static const struct shift_case {
    double mx, my;
} shift_cases[] = {{1.0, 0.5}, {3.0, 0.0}, {-0.7, 2.0}};

START_TEST(test_gaussian_shift)
{
    enum {
        N = 20000
    };
    const struct shift_case *c = &shift_cases[_i];
    float *x = normal_cloud(31, N, 0.0, 0.0, 1.0);
    float *y = normal_cloud(32, N, 0.0, 0.0, 1.0);
    /* Centre both samples exactly, then shift y by mu: the sample means' own
     * error (std 0.007 per axis) would otherwise move the answer by ~1 %. */
    center(x, N);
    center(y, N);
    for (size_t i = 0; i < N; i++) {
        y[2 * i] += (float) c->mx;
        y[2 * i + 1] += (float) c->my;
    }
    double got = sw2_ok(x, N, y, N, 2, MF_SW_DEFAULT_DIRS);
    double expect = hypot(c->mx, c->my) / sqrt(2.0);
    /* The same 500 directions applied to delta_0 vs delta_mu: the population value
     * for these directions, free of the +-2 % direction-sampling error. */
    const float zero[2] = {0.0f, 0.0f}, mu[2] = {(float) c->mx, (float) c->my};
    double expect_dirs = sw2_ok(zero, 1, mu, 1, 2, MF_SW_DEFAULT_DIRS);
    ck_assert_msg(fabs(got - expect) < 0.05 * expect, "mu=(%g,%g): %.4f vs |mu|/sqrt2 = %.4f",
                  c->mx, c->my, got, expect);
    ck_assert_msg(fabs(got - expect_dirs) < 0.005 * expect_dirs,
                  "mu=(%g,%g): %.4f vs %.4f for these directions", c->mx, c->my, got, expect_dirs);
    free(y);
    free(x);
}

END_TEST

START_TEST(test_diracs_many_directions)
{
    /* delta_a vs delta_b, L = 20000 uniform directions: SW2 -> |a - b| / sqrt(2). */
    const float a[2] = {1.0f, -2.0f}, b[2] = {-1.0f, 0.5f};
    double got = sw2_ok(a, 1, b, 1, 2, 20000);
    double expect = hypot(2.0, 2.5) / sqrt(2.0);
    ck_assert_double_eq_tol(got, expect, 0.01 * expect);
    /* In 5-D, E[(d.theta)^2] = |d|^2 / 5. */
    const float p[5] = {1, 0, 0, 0, 0}, q[5] = {0, 0, 0, 0, 3};
    got = sw2_ok(p, 1, q, 1, 5, 20000);
    ck_assert_double_eq_tol(got, sqrt(10.0 / 5.0), 0.02 * sqrt(2.0));
}

END_TEST

START_TEST(test_seed_changes_directions)
{
    const float a[2] = {0.0f, 0.0f}, b[2] = {1.0f, 0.0f};
    double r1 = SENTINEL, r2 = SENTINEL, r3 = SENTINEL;
    ck_assert(mf_sw2(a, 1, b, 1, 2, 3, 1, &r1) == MF_OK);
    ck_assert(mf_sw2(a, 1, b, 1, 2, 3, 2, &r2) == MF_OK);
    ck_assert(mf_sw2(a, 1, b, 1, 2, 3, 1, &r3) == MF_OK);
    ck_assert(r1 != r2);
    ck_assert_double_eq(r1, r3);
}

END_TEST

/* ---- anchors of ALGORITHMS.md ---------------------------------------------------------- */

START_TEST(test_eight_gaussians_anchors)
{
    enum {
        N = 1000
    };

    float *train = malloc(2 * N * sizeof(float)), *held = malloc(2 * N * sizeof(float));
    ck_assert(train != NULL && held != NULL);
    ck_assert(mf_dataset_sample(MF_DATASET_EIGHT_GAUSSIANS, mf_rng_make(1), 0, train, N) == MF_OK);
    ck_assert(mf_dataset_heldout(MF_DATASET_EIGHT_GAUSSIANS, held, N) == MF_OK);
    /* The floor varies a lot by seed (mode counts fluctuate by ~10 of 125).  An
     * independent NumPy re-measurement (40 pairs of 1,000-point sets, 500 random
     * directions) gave mean 0.141, median 0.134, 10-90 % range 0.095-0.215; this
     * code gives 0.08-0.23 over training seeds 1..8 against the held-out set
     * (0.138 for seed 1).  ALGORITHMS.md quotes ~0.19 (0.16-0.23), at the top of
     * that range. */
    double sw_floor = sw2_ok(train, N, held, N, 2, MF_SW_DEFAULT_DIRS);
    ck_assert_msg(sw_floor > 0.06 && sw_floor < 0.26, "two-sample floor %.4f", sw_floor);

    float *noise = normal_cloud(41, N, 0.0, 0.0, 1.0);
    double vs_noise = sw2_ok(held, N, noise, N, 2, MF_SW_DEFAULT_DIRS);
    ck_assert_msg(fabs(vs_noise - 1.12) < 0.08, "data vs N(0,I) %.4f (expected ~1.12)", vs_noise);
    free(noise);
    free(held);
    free(train);
}

END_TEST

static Suite *sw_suite(void)
{
    Suite *s = suite_create("sw");
    TCase *tc = tcase_create("errors");
    tcase_add_loop_test(tc, test_errors, 0, (int) (sizeof error_cases / sizeof error_cases[0]));
    suite_add_tcase(s, tc);

    tc = tcase_create("exact");
    tcase_add_loop_test(tc, test_exact_1d, 0, (int) (sizeof exact_cases / sizeof exact_cases[0]));
    tcase_add_test(tc, test_w2sq_sorted);
    suite_add_tcase(s, tc);

    tc = tcase_create("properties");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_identical_and_duplicated);
    tcase_add_test(tc, test_symmetry_and_scale);
    tcase_add_loop_test(tc, test_gaussian_shift, 0,
                        (int) (sizeof shift_cases / sizeof shift_cases[0]));
    tcase_add_test(tc, test_diracs_many_directions);
    tcase_add_test(tc, test_seed_changes_directions);
    suite_add_tcase(s, tc);

    tc = tcase_create("anchors");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_eight_gaussians_anchors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sw_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
