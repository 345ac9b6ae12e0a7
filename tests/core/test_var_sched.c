/* SPDX-License-Identifier: MIT */
/*
 * Tests of core/var_sched.c against var_schedule() of
 * ../shared/bench/dxmi_torch/dxmi.py: the reference values below were printed
 * by running that function (numpy, double) for the shipped parent schedule
 * linear:0.0001:0.02:1000.  The C code rounds beta~ and tau to float before
 * deriving xmult, cmult and sigma0 (what a model file stores), so those agree
 * with the double reference to float rounding of beta~ propagated: 1e-6
 * relative, except step 0 of the matched chain, where a_cur = 1 - beta~_4 +
 * ... = 4e-5 and beta~_4 = 0.99987 has a float spacing of 6e-8, i.e. up to
 * 2e-4 relative in a_cur and 1e-4 in xmult_0 = sqrt(a_next/a_cur).
 */
#include <math.h>
#include <string.h>

#include "test_util.h"
#include "var_sched.h"

static mf_schedule lin;

static void setup(void)
{
    ck_assert_int_eq(mf_schedule_init(&lin, "linear:0.0001:0.02:1000", NULL), MF_OK);
}

static void teardown(void)
{
    mf_schedule_deinit(&lin);
}

typedef struct ref_sched {
    size_t T;
    mf_var_sched_kind kind;
    double prod;
    double beta[10], tau[10], xmult[10], cmult[10], sig0[10];
} ref_sched;

/* var_schedule(T, match=...) of dxmi.py, printed with %.17g (rounded here to 12 digits). */
static const ref_sched refs[] = {
    {.T = 5,
     .kind = MF_VAR_SCHED_CODE,
     .prod = 0.21987705751029846,
     .beta = {0.0001, 0.04, 0.1521, 0.3364, 0.5929},
     .tau = {383.972074745585, 243.005387983519, 138.267596103423, 58.7241308970888,
             1.05847546394422e-07},
     .xmult = {1.56729031107337, 1.22757154035059, 1.08599464149846, 1.02062072615966,
               1.00005000375031},
     .cmult = {-1.05208147605607, -0.608939037396312, -0.382901215948493, -0.203879636285839,
               -0.0100005000375026},
     .sig0 = {0.591205114088302, 0.368951399798909, 0.181027677962608, 0.00998802155688998, 0.001}},
    {.T = 5,
     .kind = MF_VAR_SCHED_MATCHED,
     .prod = 4.035829765384708e-05,
     .beta = {0.0001, 0.0662976397593933, 0.254991227815837, 0.566180764169332, 0.999866248819877},
     .tau = {998.999999998046, 340.952710354213, 185.335396409226, 77.6302785891386,
             1.05847546394422e-07},
     .xmult = {86.4671587691967, 1.51825806751344, 1.15856207186125, 1.03489376799343,
               1.00005000375031},
     .cmult = {-86.4573383377699, -1.02870921273556, -0.53540736087876, -0.266280400458823,
               -0.0100005000375026},
     .sig0 = {0.835579538915009, 0.496855024330673, 0.235807193003686, 0.0099929656825987, 0.001}},
    {.T = 10,
     .kind = MF_VAR_SCHED_CODE,
     .prod = 0.02080983203488142,
     .beta = {0.0001, 0.011025, 0.04, 0.087025, 0.1521, 0.235225, 0.3364, 0.455625, 0.5929,
              0.748225},
     .tau = {616.734119696388, 493.981705884129, 394.076469540277, 308.867630830745,
             234.858248135176, 170.300478921242, 114.363126860757, 66.8652723924825,
             28.2925486850425, 1.05847546394422e-07},
     .xmult = {1.9929375851865, 1.56729031107337, 1.35534829514339, 1.22757154035059,
               1.14349207391573, 1.08599464149846, 1.04657548426113, 1.02062072615966,
               1.00555850434468, 1.00005000375031},
     .cmult = {-1.50692761157552, -0.970206002495334, -0.691730287230735, -0.521499050049547,
               -0.406432626983553, -0.320801166105652, -0.249465176305284, -0.181347096520472,
               -0.105113247092356, -0.0100005000375026},
     .sig0 = {0.837239148583191, 0.717704139535575, 0.59873049936995, 0.484737689349758,
              0.377341546654158, 0.276533855411271, 0.181899340480905, 0.0937011059180276,
              0.0099554480362043, 0.001}},
    {.T = 10,
     .kind = MF_VAR_SCHED_MATCHED,
     .prod = 4.0358297653757906e-05,
     .beta = {0.0001, 0.0143738217152514, 0.052799651893204, 0.115377490533858, 0.202107337637212,
              0.312989193203268, 0.448023057232025, 0.607208929723484, 0.790546810677643,
              0.998036700094504},
     .tau = {998.999999998046, 617.71590386925, 476.495889703127, 367.197125608114,
             276.349193123705, 199.055091559812, 133.121052016389, 77.705775325943,
             32.9990632842249, 1.05847546394422e-07},
     .xmult = {22.568706940078, 2.18502550727081, 1.59558225237866, 1.34598286652525,
               1.20647469048959, 1.11950945129737, 1.06321478448985, 1.02749348185072,
               1.00726532825439, 1.00005000375031},
     .cmult = {-22.5248523368092, -1.74539760860695, -1.02020747281683, -0.696255887260562,
               -0.510411966135703, -0.387402841172934, -0.293902457762179, -0.210365016751492,
               -0.120350000177262, -0.0100005000375026},
     .sig0 = {0.988716416405715, 0.853184420446823, 0.710675338332828, 0.571749609912022,
              0.44165688449003, 0.32127939584618, 0.20987382704653, 0.107188688642296,
              0.00996588986238727, 0.001}},
};

static void check_rel(const char *what, size_t t, double got, double want, double rel)
{
    ck_assert_msg(fabs(got - want) <= rel * fabs(want), "%s[%zu] = %.12g, reference %.12g", what, t,
                  got, want);
}

START_TEST(test_against_reference)
{
    for (size_t k = 0; k < sizeof refs / sizeof refs[0]; k++) {
        const ref_sched *r = &refs[k];
        mf_var_sched v;
        ck_assert_int_eq(mf_var_sched_init(&lin, r->T, r->kind, &v), MF_OK);
        ck_assert_uint_eq(v.T, r->T);
        check_rel("prod", 0, mf_var_sched_alpha_bar(&v), r->prod,
                  r->kind == MF_VAR_SCHED_MATCHED ? 3e-4 : 1e-6);
        for (size_t t = 0; t < r->T; t++) {
            /* beta~ and tau are float-rounded on purpose */
            check_rel("beta", t, v.beta[t], r->beta[t], 1e-7);
            ck_assert_msg(fabs(v.tau[t] - r->tau[t]) <= 1e-4 * fmax(1.0, r->tau[t]),
                          "tau[%zu] %.9g vs %.9g", t, v.tau[t], r->tau[t]);
            double rel = r->kind == MF_VAR_SCHED_MATCHED && t == 0 ? 3e-4 : 2e-6;
            check_rel("xmult", t, v.xmult[t], r->xmult[t], rel);
            check_rel("cmult", t, v.cmult[t], r->cmult[t], rel);
            check_rel("sigma0", t, v.sigma0[t], r->sig0[t], rel);
            ck_assert(v.sigma[t] == v.sigma0[t]);
        }
        ck_assert(v.sigma0[r->T - 1] == MF_VAR_LAST_SIGMA);
    }
}

END_TEST

/* The numbers dxmi-reference-run.md quotes (pitfall 1), to their stated digits. */
START_TEST(test_reference_run_numbers)
{
    mf_var_sched c5, m5, c10;
    ck_assert_int_eq(mf_var_sched_init(&lin, 5, MF_VAR_SCHED_CODE, &c5), MF_OK);
    ck_assert_int_eq(mf_var_sched_init(&lin, 5, MF_VAR_SCHED_MATCHED, &m5), MF_OK);
    ck_assert_int_eq(mf_var_sched_init(&lin, 10, MF_VAR_SCHED_CODE, &c10), MF_OK);
    ck_assert_double_eq_tol(mf_var_sched_alpha_bar(&c5), 0.22, 0.005);
    ck_assert_double_eq_tol(mf_var_sched_alpha_bar(&c10), 0.021, 0.0005);
    ck_assert_double_eq_tol(mf_var_sched_alpha_bar(&m5), lin.alpha_bar[999], 1e-8);
    static const double beta[] = {1e-4, 0.066, 0.255, 0.566, 0.99987};
    static const double tol[] = {1e-9, 0.0005, 0.0005, 0.0005, 0.000005};
    static const double tau[] = {999, 341, 185, 78, 0};
    for (size_t i = 0; i < 5; i++) {
        ck_assert_double_eq_tol(m5.beta[i], beta[i], tol[i]);
        ck_assert_double_eq_tol(m5.tau[i], tau[i], 0.5);
    }
    /* step 0 of the matched chain is the x0-jump 86.5 x - 86.46 eps */
    ck_assert_double_eq_tol(m5.xmult[0], 86.5, 0.05);
    ck_assert_double_eq_tol(m5.cmult[0], -86.46, 0.005);
}

END_TEST

/*
 * Any other parent: tau_t interpolates log alpha_bar linearly between the
 * integers.  A matched chain on the cosine parent needs prod (1 - beta~) =
 * alpha_bar_999 = 2.4e-9, so its last beta~ is 1 - 1e-8 and rounds to 1 in
 * float: MF_ERANGE; at 300 steps (alpha_bar_299 = 2.7e-8, b0 = 1.6e-4) it exists.
 */
START_TEST(test_cosine_parent)
{
    mf_schedule cs, short_cs;
    mf_var_sched v;
    ck_assert_int_eq(mf_schedule_init(&cs, "cosine:0.008:1000", NULL), MF_OK);
    ck_assert_int_eq(mf_var_sched_init(&cs, 6, MF_VAR_SCHED_MATCHED, &v), MF_ERANGE);
    ck_assert_int_eq(mf_schedule_init(&short_cs, "cosine:0.008:300", NULL), MF_OK);
    for (int kind = 0; kind <= 1; kind++) {
        ck_assert_int_eq(
            mf_var_sched_init(kind == 0 ? &cs : &short_cs, 6, (mf_var_sched_kind) kind, &v), MF_OK);
        const mf_schedule *ps = kind == 0 ? &cs : &short_cs;
        double G = 1.0;
        for (size_t i = 0; i < 6; i++) {
            G *= 1.0 - v.beta[i];
            double tau = v.tau[6 - 1 - i];
            if (tau <= 0.0 || tau >= (double) ps->T - 1.0) {
                continue; /* clamped at an end */
            }
            long k = (long) floor(tau);
            double lo = k < 0 ? 0.0 : log(ps->alpha_bar[k]), hi = log(ps->alpha_bar[k + 1]);
            double la = lo + (tau - (double) k) * (hi - lo);
            /* tau is float-rounded: its spacing (tau 2^-23) times the slope of log ab */
            double tol = 1e-9 + fabs(hi - lo) * tau * 1.2e-7;
            ck_assert_msg(fabs(la - log(G)) < tol, "kind %d step %zu: %g vs %g", kind, i, la,
                          log(G));
        }
        if (kind == MF_VAR_SCHED_MATCHED) {
            /* the product is exact but for the float rounding of each beta~ (2^-24 absolute
             * near 1), which moves 1 - beta~ by 2^-24/(1 - beta~) relative: large when beta~ is
             * within 1e-6 of 1, as here */
            double bound = 1e-9;
            for (size_t i = 0; i < 6; i++) {
                bound += 0x1p-24 / (1.0 - v.beta[i]);
            }
            double rel = mf_var_sched_alpha_bar(&v) / short_cs.alpha_bar[299] - 1.0;
            ck_assert_msg(fabs(rel) <= bound, "matched product off by %g (bound %g)", rel, bound);
        }
    }
    mf_schedule_deinit(&cs);
    mf_schedule_deinit(&short_cs);
}

END_TEST

/* A chain stored as F32 (a model file) rebuilds exactly. */
START_TEST(test_from_round_trip)
{
    for (int kind = 0; kind <= 1; kind++) {
        mf_var_sched v, w;
        ck_assert_int_eq(mf_var_sched_init(&lin, 5, (mf_var_sched_kind) kind, &v), MF_OK);
        v.sigma[1] = 0.75; /* a trained sigma */
        float beta[5], tau[5], sigma[5];
        for (size_t i = 0; i < 5; i++) {
            beta[i] = (float) v.beta[i];
            tau[i] = (float) v.tau[i];
            sigma[i] = (float) v.sigma[i];
        }
        ck_assert_int_eq(mf_var_sched_from(5, beta, tau, sigma, &w, NULL), MF_OK);
        for (size_t t = 0; t < 5; t++) {
            ck_assert(w.beta[t] == v.beta[t] && w.tau[t] == v.tau[t]);
            ck_assert(w.xmult[t] == v.xmult[t] && w.cmult[t] == v.cmult[t]);
            ck_assert(w.sigma0[t] == v.sigma0[t]);
            ck_assert(w.sigma[t] == (double) (float) v.sigma[t]);
        }
    }
}

END_TEST

START_TEST(test_errors)
{
    mf_var_sched v;
    memset(&v, 0x5a, sizeof v);
    mf_var_sched keep = v;
    ck_assert_int_eq(mf_var_sched_init(&lin, 0, MF_VAR_SCHED_CODE, &v), MF_EINVAL);
    ck_assert_int_eq(mf_var_sched_init(&lin, 1, MF_VAR_SCHED_CODE, &v), MF_EINVAL);
    ck_assert_int_eq(mf_var_sched_init(&lin, MF_VAR_MAX_T + 1, MF_VAR_SCHED_CODE, &v), MF_EINVAL);
    ck_assert_int_eq(mf_var_sched_init(NULL, 5, MF_VAR_SCHED_CODE, &v), MF_EINVAL);
    ck_assert_int_eq(mf_var_sched_init(&lin, 5, (mf_var_sched_kind) 2, &v), MF_EINVAL);
    /* alpha_bar_{N-1} = 0.81 = (1 - 0.1)^2: no short chain of 3 steps starts above it */
    mf_schedule flat;
    ck_assert_int_eq(mf_schedule_init(&flat, "linear:0.1:0.1:2", NULL), MF_OK);
    ck_assert_int_eq(mf_var_sched_init(&flat, 3, MF_VAR_SCHED_MATCHED, &v), MF_ERANGE);
    ck_assert_int_eq(mf_var_sched_init(&flat, 3, MF_VAR_SCHED_CODE, &v), MF_ERANGE);
    mf_schedule_deinit(&flat);
    ck_assert_mem_eq(&v, &keep, sizeof v);

    float beta[3] = {0.01f, 0.2f, 0.5f}, tau[3] = {500, 100, 0}, sigma[3] = {0.5f, 0.1f, 0.001f};
    mf_diag d = {0};
    ck_assert_int_eq(mf_var_sched_from(3, beta, tau, sigma, &v, &d), MF_OK);
    ck_assert_int_eq(mf_var_sched_from(1, beta, tau, sigma, &v, &d), MF_EINVAL);
    ck_assert_int_eq(mf_var_sched_from(MF_VAR_MAX_T + 1, beta, tau, sigma, &v, &d), MF_EINVAL);
    ck_assert_int_eq(mf_var_sched_from(3, NULL, tau, sigma, &v, &d), MF_EINVAL);

    static const struct {
        int which, idx;
        float val;
        const char *field;
    } rows[] = {
        {0, 0, 0.0f, "var.beta"}, {0, 2, 1.0f, "var.beta"},    {0, 1, NAN, "var.beta"},
        {1, 1, -1.0f, "var.tau"}, {1, 0, INFINITY, "var.tau"}, {2, 2, 0.0f, "var.sigma"},
        {2, 0, NAN, "var.sigma"}, {2, 1, -0.1f, "var.sigma"},
    };

    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        float b[3], t[3], s[3];
        memcpy(b, beta, sizeof b);
        memcpy(t, tau, sizeof t);
        memcpy(s, sigma, sizeof s);
        float *arr = rows[i].which == 0 ? b : (rows[i].which == 1 ? t : s);
        arr[rows[i].idx] = rows[i].val;
        memset(&d, 0, sizeof d);
        ck_assert_int_eq(mf_var_sched_from(3, b, t, s, &v, &d), MF_ERANGE);
        ck_assert_str_eq(d.field, rows[i].field);
    }
}

END_TEST

START_TEST(test_names)
{
    mf_var_sched_kind k;
    ck_assert_str_eq(mf_var_sched_kind_name(MF_VAR_SCHED_CODE), "code");
    ck_assert_str_eq(mf_var_sched_kind_name(MF_VAR_SCHED_MATCHED), "matched");
    ck_assert_str_eq(mf_var_sched_kind_name((mf_var_sched_kind) 7), "unknown");
    ck_assert_int_eq(mf_var_sched_kind_lookup("matched", &k), MF_OK);
    ck_assert_int_eq(k, MF_VAR_SCHED_MATCHED);
    ck_assert_int_eq(mf_var_sched_kind_lookup("code", &k), MF_OK);
    ck_assert_int_eq(k, MF_VAR_SCHED_CODE);
    ck_assert_int_eq(mf_var_sched_kind_lookup("Code", &k), MF_ENOTFOUND);
    ck_assert_int_eq(mf_var_sched_kind_lookup(NULL, &k), MF_ENOTFOUND);
    ck_assert_ptr_null(mf_var_sched_kind_names[2]);
}

END_TEST

static Suite *var_sched_suite(void)
{
    Suite *s = suite_create("var_sched");
    TCase *tc = tcase_create("var_sched");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_against_reference);
    tcase_add_test(tc, test_reference_run_numbers);
    tcase_add_test(tc, test_cosine_parent);
    tcase_add_test(tc, test_from_round_trip);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_names);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(var_sched_suite)
