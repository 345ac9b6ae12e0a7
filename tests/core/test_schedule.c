/* SPDX-License-Identifier: MIT */
/* Tests of core/schedule.c: known values of the linear and cosine schedules, and bad specs. */
#include "schedule.h"

#include "test_util.h"

#include <math.h>
#include <string.h>

START_TEST(test_linear_values)
{
    mf_schedule s;
    ck_assert_int_eq(mf_schedule_init(&s, "linear:0.0001:0.02:1000", NULL), MF_OK);
    ck_assert_uint_eq(s.T, 1000);
    ck_assert_double_eq_tol(s.beta[0], 1e-4, 1e-15);
    ck_assert_double_eq_tol(s.beta[999], 0.02, 1e-15);
    ck_assert_double_eq_tol(s.alpha_bar[0], 1 - 1e-4, 1e-15);
    /* prod (1 - beta_t) computed independently in long double */
    long double p = 1;
    for (int t = 0; t < 1000; t++) {
        p *= 1.0L - (1e-4L + (0.02L - 1e-4L) * t / 999.0L);
    }
    ck_assert_double_eq_tol(s.alpha_bar[999], (double) p, 1e-12);
    ck_assert_double_eq_tol(s.alpha_bar[999], 4.0358e-5, 1e-8); /* the well-known DDPM value */
    for (size_t t = 1; t < s.T; t++) {
        ck_assert(s.alpha_bar[t] < s.alpha_bar[t - 1]);
    }
    ck_assert_double_eq(mf_schedule_alpha_bar(&s, -1), 1.0);
    ck_assert_str_eq(s.spec, "linear:0.0001:0.02:1000");
    mf_schedule_deinit(&s);
    mf_schedule_deinit(&s); /* idempotent */
}
END_TEST

START_TEST(test_cosine_values)
{
    mf_schedule s;
    ck_assert_int_eq(mf_schedule_init(&s, "cosine:0.008:1000", NULL), MF_OK);
    double f0 = pow(cos(0.008 / 1.008 * 3.14159265358979323846 / 2), 2);
    for (size_t t = 0; t < s.T; t++) {
        double ft = pow(cos(((t + 1) / 1000.0 + 0.008) / 1.008 * 3.14159265358979323846 / 2), 2);
        if (s.beta[t] < 0.999) { /* unclipped: alpha_bar_t = f(t+1)/f(0) */
            ck_assert_double_eq_tol(s.alpha_bar[t], ft / f0, 1e-9);
        }
        ck_assert(s.beta[t] <= 0.999 && s.beta[t] > 0);
    }
    ck_assert_double_eq_tol(s.beta[999], 0.999, 1e-12); /* f(T) = 0: clipped */
    mf_schedule_deinit(&s);
}
END_TEST

START_TEST(test_bad_specs)
{
    static const struct {
        const char *spec;
        mf_err err;
        const char *needle;
    } rows[] = {
        {"", MF_EFORMAT, "unknown schedule"},
        {"quadratic:1:2:3", MF_EFORMAT, "unknown schedule"},
        {"linear:0.0001:0.02", MF_EFORMAT, "linear:BETA_MIN"},
        {"linear:0.0001:0.02:1000x", MF_EFORMAT, "linear:BETA_MIN"},
        {"linear:0.0001:0.02:1e3", MF_EFORMAT, "linear:BETA_MIN"},
        {"linear:0.0001:0.02:1000:5", MF_EFORMAT, "linear:BETA_MIN"},
        {"linear:abc:0.02:1000", MF_EFORMAT, "linear:BETA_MIN"},
        {"linear:0.0001:0.02:1", MF_EFORMAT, "linear:BETA_MIN"},
        {"linear:0.0001:0.02:100001", MF_EFORMAT, "linear:BETA_MIN"},
        {"linear:0:0.02:1000", MF_ERANGE, "beta_min"},
        {"linear:0.02:0.0001:1000", MF_ERANGE, "beta_min"},
        {"linear:0.0001:1.5:1000", MF_ERANGE, "beta_max"},
        {"linear:nan:0.02:1000", MF_EFORMAT, "linear:BETA_MIN"},
        {"cosine:0.008", MF_EFORMAT, "cosine:S:T"},
        {"cosine:-1:1000", MF_ERANGE, "0 <= s"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        mf_schedule s = {0};
        mf_diag d = {0};
        mf_err err = mf_schedule_init(&s, rows[i].spec, &d);
        ck_assert_msg(err == rows[i].err, "'%s': got %s", rows[i].spec, mf_err_name(err));
        ck_assert_msg(strstr(d.msg, rows[i].needle) != NULL, "'%s': msg '%s'", rows[i].spec, d.msg);
        ck_assert_str_eq(d.field, "schedule");
        ck_assert_ptr_null(s.beta);
    }
    char longspec[200];
    memset(longspec, '1', sizeof longspec - 1);
    longspec[sizeof longspec - 1] = '\0';
    mf_schedule s = {0};
    ck_assert_int_eq(mf_schedule_init(&s, longspec, NULL), MF_EFORMAT);
    ck_assert_int_eq(mf_schedule_init(&s, NULL, NULL), MF_EFORMAT);
}
END_TEST

static Suite *schedule_suite(void)
{
    Suite *s = suite_create("schedule");
    TCase *tc = tcase_create("schedules");
    tcase_add_test(tc, test_linear_values);
    tcase_add_test(tc, test_cosine_values);
    tcase_add_test(tc, test_bad_specs);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(schedule_suite)
