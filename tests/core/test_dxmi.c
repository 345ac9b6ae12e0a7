/* SPDX-License-Identifier: MIT */
/*
 * Tests of core/dxmi.c (the gradients are test_dxmi_grad.c's, the training
 * oracles test_dxmi_oracle.c's): options, the rollout as mf_sample's VAR run,
 * AVR, the warm-up, determinism and thread-count invariance, sampling,
 * restoring, and the errors.  A small random parent (2-D, 2 x 16 hidden)
 * keeps it fast.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dxmi_int.h"
#include "rng.h"
#include "sampler.h"
#include "test_util.h"

enum {
    D = 2,
    B = 24
};

static mf_schedule sched;
static mf_mlp *parent;

static void setup(void)
{
    ck_assert_int_eq(mf_schedule_init(&sched, "linear:0.0001:0.02:1000", NULL), MF_OK);
    mf_mlp_config cfg = {.data_dim = D, .emb_dim = 8, .n_hidden = 2, .hidden = {16, 16}};
    ck_assert_int_eq(mf_mlp_new(&cfg, &parent), MF_OK);
    mf_mlp_init_params(parent, 2);
}

static void teardown(void)
{
    mf_mlp_free(parent);
    mf_schedule_deinit(&sched);
}

static mf_dxmi_opts small_opts(void)
{
    mf_dxmi_opts o = mf_dxmi_opts_default();
    o.batch = B;
    o.energy_hidden[0] = o.energy_hidden[1] = 8;
    o.value_hidden[0] = o.value_hidden[1] = 8;
    o.value_emb = 4;
    o.warmup = 2;
    o.lr_sampler = 1e-3; /* moves visibly in a few steps */
    o.lr_sigma = 1e-2;
    o.seed = 5;
    return o;
}

static mf_dxmi *make(const mf_dxmi_opts *o)
{
    mf_dxmi *dx = NULL;
    mf_diag d = {0};
    ck_assert_msg(mf_dxmi_new(parent, &sched, o, &dx, &d) == MF_OK, "%s", d.msg);
    return dx;
}

/* Data rows for iteration it: a fixed 2-D cloud. */
static void data(size_t it, float *x)
{
    mf_rng_normal(mf_rng_derive(mf_rng_make(99), it), 0, x, B * D);
    for (size_t i = 0; i < B * D; i++) {
        x[i] = 1.5f * x[i] + 0.5f;
    }
}

/* An executor that runs the tasks serially, last first: any order must do. */
static void reverse_exec(void *exec, size_t n, void (*task)(void *ctx, size_t i), void *ctx)
{
    (void) exec;
    for (size_t i = n; i-- > 0;) {
        task(ctx, i);
    }
}

START_TEST(test_opts)
{
    mf_dxmi_opts o = mf_dxmi_opts_default();
    ck_assert_int_eq(mf_dxmi_opts_check(&o, NULL), MF_OK);
    ck_assert_uint_eq(o.T, 5);
    ck_assert_int_eq(o.schedule, MF_VAR_SCHED_CODE);
    ck_assert_double_eq(o.lr_sampler, 1e-5);

    struct {
        const char *field;
        mf_dxmi_opts o;
    } bad[24];

    size_t n = 0;
#define BAD(f, member, value)              \
    do {                                   \
        bad[n].field = f;                  \
        bad[n].o = mf_dxmi_opts_default(); \
        bad[n].o.member = value;           \
        n++;                               \
    } while (0)
    BAD("T", T, 1);
    BAD("T", T, MF_VAR_MAX_T + 1);
    BAD("schedule", schedule, (mf_var_sched_kind) 2);
    BAD("tau_entropy", tau_entropy, -0.1);
    BAD("tau_entropy", tau_entropy, NAN);
    BAD("tau_velocity", tau_velocity, 11.0);
    BAD("gamma", gamma, 101.0);
    BAD("adavelreg", adavelreg, 1.0);
    BAD("lr_sampler", lr_sampler, 2.0);
    BAD("lr_sigma", lr_sigma, -1.0);
    BAD("lr_energy", lr_energy, INFINITY);
    BAD("lr_value", lr_value, NAN);
    BAD("clip_sampler", clip_sampler, -1.0);
    BAD("clip_energy", clip_energy, 2e6);
    BAD("batch", batch, 0);
    BAD("batch", batch, 65537);
    BAD("n_generator", n_generator, 0);
    BAD("n_generator", n_generator, 6);
    BAD("energy_hidden", n_energy_hidden, 0);
    BAD("energy_hidden", energy_hidden[1], 0);
    BAD("value_hidden", n_value_hidden, MF_DXMI_MAX_HIDDEN + 1);
    BAD("value_emb", value_emb, 7);
    BAD("value_emb", value_emb, 258);
#undef BAD
    for (size_t i = 0; i < n; i++) {
        mf_diag d = {0};
        ck_assert_int_eq(mf_dxmi_opts_check(&bad[i].o, &d), MF_EINVAL);
        ck_assert_str_eq(d.field, bad[i].field);
    }
    ck_assert_int_eq(mf_dxmi_opts_check(NULL, NULL), MF_EINVAL);
}

END_TEST

START_TEST(test_new_errors)
{
    mf_dxmi_opts o = small_opts();
    mf_dxmi *dx = (mf_dxmi *) 0x1;
    mf_diag d = {0};
    ck_assert_int_eq(mf_dxmi_new(NULL, &sched, &o, &dx, &d), MF_EINVAL);
    ck_assert_int_eq(mf_dxmi_new(parent, NULL, &o, &dx, &d), MF_EINVAL);
    mf_mlp *cond = NULL;
    ck_assert_int_eq(mf_mlp_new_cond_from(parent, 2, &cond), MF_OK);
    ck_assert_int_eq(mf_dxmi_new(cond, &sched, &o, &dx, &d), MF_EINVAL);
    mf_mlp_free(cond);
    mf_schedule cs;
    ck_assert_int_eq(mf_schedule_init(&cs, "cosine:0.008:1000", NULL), MF_OK);
    o.schedule = MF_VAR_SCHED_MATCHED; /* its last beta~ rounds to 1 (test_var_sched.c) */
    ck_assert_int_eq(mf_dxmi_new(parent, &cs, &o, &dx, &d), MF_ERANGE);
    ck_assert_str_eq(d.field, "schedule");
    mf_schedule_deinit(&cs);
    o = small_opts();
    o.batch = 0;
    ck_assert_int_eq(mf_dxmi_new(parent, &sched, &o, &dx, &d), MF_EINVAL);
    ck_assert_str_eq(d.field, "batch");
    ck_assert_ptr_eq(dx, (mf_dxmi *) 0x1);
    mf_dxmi_free(NULL);
}

END_TEST

/*
 * The rollout is mf_sample's VAR run with the iteration's seed, bitwise; AVR
 * follows its formula; E and V start by the nn.Linear rule; the accessors.
 */
START_TEST(test_rollout_is_the_sampler)
{
    mf_dxmi_opts o = small_opts();
    mf_dxmi *dx = make(&o);
    ck_assert_uint_eq(mf_dxmi_iters_done(dx), 0);
    ck_assert_ptr_eq(mf_dxmi_sched(dx), &dx->var);
    ck_assert_ptr_ne(mf_dxmi_eps(dx)->params, parent->params);
    ck_assert_mem_eq(mf_dxmi_eps(dx)->params, parent->params, parent->n_params * sizeof(float));
    const mf_reward_model *e = mf_dxmi_energy(dx), *v = mf_dxmi_value(dx);
    ck_assert_uint_eq(e->D, D);
    ck_assert_uint_eq(v->D, D + 4);
    ck_assert(fabsf(e->params[0]) <= 1.0f / sqrtf(2.0f) && e->params[0] != 0.0f);
    double s2_0[5];
    for (size_t t = 0; t < 5; t++) {
        s2_0[t] = mf_dxmi_s2(dx)[t];
        ck_assert(s2_0[t] == dx->var.beta[4 - t]);
        ck_assert_double_eq_tol(dx->var.sigma[t], dx->var.sigma0[t], 1e-6 * dx->var.sigma0[t]);
    }
    /* what mf_sample draws with the first iteration's seed, before the step */
    float want[B * D], got[B * D], xp[B * D];
    mf_mlp_ws *ws = NULL;
    ck_assert_int_eq(mf_mlp_ws_new(parent, B, false, &ws), MF_OK);
    mf_mlp_eps_ctx ec = {.net = parent, .ws = ws};
    mf_eps_fn fn = {.eval = mf_mlp_eps_eval, .ctx = &ec};
    mf_sampler_opts so = {
        .kind = MF_SAMPLER_VAR, .steps = 5, .var = &dx->var, .seed = mf__dxmi_rollout_seed(dx, 0)};
    ck_assert_int_eq(mf_sample(NULL, fn, &so, want, B, D), MF_OK);
    ck_assert_int_eq(mf_dxmi_sample(dx, so.seed, got, B), MF_OK);
    ck_assert_mem_eq(got, want, sizeof want);
    data(0, xp);
    mf_dxmi_stats st;
    ck_assert_int_eq(mf_dxmi_step(dx, xp, &st), MF_OK);
    ck_assert_mem_eq(dx->xs + 5 * B * D, want, sizeof want); /* x- = x_T */
    for (size_t t = 0; t < 5; t++) {
        double sq = 0.0;
        for (size_t j = 0; j < B * D; j++) {
            double u = (double) dx->xs[(t + 1) * B * D + j] - (double) dx->xs[t * B * D + j];
            sq += u * u;
        }
        double s2 = 0.99 * s2_0[t] + 0.01 * sq / (B * D);
        ck_assert_double_eq_tol(st.s2[t], s2, 1e-12 * s2);
        ck_assert_double_eq_tol(st.running_cost[t], sq / (B * D) / (2.0 * s2), 1e-9);
    }
    ck_assert_uint_eq(st.iter, 1);
    ck_assert_uint_eq(mf_dxmi_iters_done(dx), 1);
    mf_mlp_ws_free(ws);
    mf_dxmi_free(dx);
}

END_TEST

/* During the warm-up only E and V move; then the sampler and sigma do too. */
START_TEST(test_warmup)
{
    mf_dxmi_opts o = small_opts();
    mf_dxmi *dx = make(&o);
    float xp[B * D], *e0 = malloc(dx->energy->n_params * sizeof(float));
    memcpy(e0, dx->energy->params, dx->energy->n_params * sizeof(float));
    double sig0 = dx->var.sigma[0];
    mf_dxmi_stats st;
    for (size_t it = 0; it < 2; it++) {
        data(it, xp);
        ck_assert_int_eq(mf_dxmi_step(dx, xp, &st), MF_OK);
        ck_assert(!st.sampler_updated && isnan(st.sampler_loss) && isnan(st.sampler_value_term));
        ck_assert_mem_eq(dx->eps->params, parent->params, parent->n_params * sizeof(float));
        ck_assert(dx->var.sigma[0] == sig0);
    }
    ck_assert(memcmp(e0, dx->energy->params, dx->energy->n_params * sizeof(float)) != 0);
    data(2, xp);
    ck_assert_int_eq(mf_dxmi_step(dx, xp, &st), MF_OK);
    ck_assert(st.sampler_updated && isfinite(st.sampler_loss));
    ck_assert(memcmp(dx->eps->params, parent->params, parent->n_params * sizeof(float)) != 0);
    ck_assert(st.sigma[0] != sig0 && st.sigma[0] == dx->var.sigma[0]);
    ck_assert(st.sigma[4] == MF_VAR_LAST_SIGMA);
    /* the entropy term is the mean log sigma_t over the B rows of the step */
    ck_assert(st.sampler_entropy_term > log(0.001) && st.sampler_entropy_term < 0.0);
    free(e0);
    mf_dxmi_free(dx);
}

END_TEST

/* Same seed, same run (bitwise); 3 chunks in any order agree with 1 to float summation order. */
static void run3(mf_dxmi *dx, mf_dxmi_stats *st)
{
    float xp[B * D];
    for (size_t it = 0; it < 4; it++) {
        data(it, xp);
        ck_assert_int_eq(mf_dxmi_step(dx, xp, st), MF_OK);
    }
}

START_TEST(test_determinism_and_threads)
{
    mf_dxmi_opts o = small_opts();
    o.n_generator = 2;
    mf_dxmi *a = make(&o), *b = make(&o), *c = make(&o);
    ck_assert_int_eq(mf_dxmi_set_executor(c, reverse_exec, NULL, 3), MF_OK);
    mf_dxmi_stats sa, sb, sc;
    run3(a, &sa);
    run3(b, &sb);
    run3(c, &sc);
    ck_assert_mem_eq(a->eps->params, b->eps->params, a->eps->n_params * sizeof(float));
    ck_assert(sa.sampler_loss == sb.sampler_loss && sa.td_loss[0] == sb.td_loss[0]);
    double worst = 0.0;
    for (size_t i = 0; i < a->eps->n_params; i++) {
        worst = fmax(worst, fabs(a->eps->params[i] - c->eps->params[i]));
    }
    ck_assert_msg(worst < 1e-5, "eps parameters differ by %g across thread counts", worst);
    ck_assert_double_eq_tol(sc.sampler_loss, sa.sampler_loss, 1e-4 * (1 + fabs(sa.sampler_loss)));
    for (size_t t = 0; t < 5; t++) {
        ck_assert_double_eq_tol(sc.td_loss[t], sa.td_loss[t], 1e-4 * (1 + sa.td_loss[t]));
        ck_assert_double_eq_tol(sc.sigma[t], sa.sigma[t], 1e-6);
    }
    /* a different seed draws differently */
    o.seed = 6;
    mf_dxmi *d = make(&o);
    mf_dxmi_stats sd;
    run3(d, &sd);
    ck_assert(sd.ebm_loss != sa.ebm_loss);
    /* executors: capped at 16 tasks, fn NULL = serial */
    ck_assert_int_eq(mf_dxmi_set_executor(d, reverse_exec, NULL, 100), MF_OK);
    ck_assert_uint_eq(d->threads, MF_DXMI_MAX_THREADS);
    ck_assert_int_eq(mf_dxmi_set_executor(d, NULL, NULL, 4), MF_OK);
    ck_assert_uint_eq(d->threads, 1);
    /* sampling is split invariant too */
    float x1[50 * D], x3[50 * D];
    ck_assert_int_eq(mf_dxmi_sample(a, 7, x1, 50), MF_OK);
    ck_assert_int_eq(mf_dxmi_sample(c, 7, x3, 50), MF_OK);
    for (size_t i = 0; i < 50 * D; i++) {
        ck_assert_float_eq_tol(x3[i], x1[i], 1e-4f);
    }
    ck_assert_int_eq(mf_dxmi_sample(a, 7, x1, 0), MF_EINVAL);
    ck_assert_int_eq(mf_dxmi_sample(a, 7, NULL, 5), MF_EINVAL);
    mf_dxmi_free(a);
    mf_dxmi_free(b);
    mf_dxmi_free(c);
    mf_dxmi_free(d);
}

END_TEST

/* A run restored from another's state draws the same next rollout and EBM loss. */
START_TEST(test_restore)
{
    mf_dxmi_opts o = small_opts();
    mf_dxmi *a = make(&o), *b = make(&o);
    mf_dxmi_stats sa, sb;
    run3(a, &sa);
    double sigma[5], s2[5];
    memcpy(sigma, a->var.sigma, sizeof sigma);
    memcpy(s2, a->s2, sizeof s2);
    ck_assert_int_eq(
        mf_dxmi_restore(b, mf_dxmi_iters_done(a), a->eps->params, sigma, a->energy, a->value, s2),
        MF_OK);
    ck_assert_uint_eq(mf_dxmi_iters_done(b), 4);
    float xp[B * D];
    data(4, xp);
    ck_assert_int_eq(mf_dxmi_step(a, xp, &sa), MF_OK);
    ck_assert_int_eq(mf_dxmi_step(b, xp, &sb), MF_OK);
    ck_assert(sa.neg_e == sb.neg_e && sa.ebm_loss == sb.ebm_loss);
    ck_assert(sa.running_cost[2] == sb.running_cost[2]);
    /* the Adam moments restarted: the updates differ */
    ck_assert(memcmp(a->eps->params, b->eps->params, a->eps->n_params * sizeof(float)) != 0);

    /* rejected checkpoints leave the run as it was */
    float *p = malloc(a->eps->n_params * sizeof(float));
    memcpy(p, a->eps->params, a->eps->n_params * sizeof(float));
    p[3] = NAN;
    ck_assert_int_eq(mf_dxmi_restore(b, 9, p, sigma, a->energy, a->value, s2), MF_EINVAL);
    sigma[1] = 0.0;
    ck_assert_int_eq(mf_dxmi_restore(b, 9, a->eps->params, sigma, a->energy, a->value, s2),
                     MF_EINVAL);
    sigma[1] = 0.5;
    s2[0] = NAN;
    ck_assert_int_eq(mf_dxmi_restore(b, 9, a->eps->params, sigma, a->energy, a->value, s2),
                     MF_EINVAL);
    s2[0] = 1.0;
    ck_assert_int_eq(mf_dxmi_restore(b, 9, a->eps->params, sigma, a->value, a->value, s2),
                     MF_EINVAL);
    ck_assert_int_eq(mf_dxmi_restore(b, 9, a->eps->params, sigma, a->energy, NULL, s2), MF_EINVAL);
    ck_assert_uint_eq(mf_dxmi_iters_done(b), 5);
    free(p);
    mf_dxmi_free(a);
    mf_dxmi_free(b);
}

END_TEST

START_TEST(test_step_errors)
{
    mf_dxmi_opts o = small_opts();
    mf_dxmi *dx = make(&o);
    float xp[B * D];
    data(0, xp);
    ck_assert_int_eq(mf_dxmi_step(dx, NULL, NULL), MF_EINVAL);
    ck_assert_int_eq(mf_dxmi_step(NULL, xp, NULL), MF_EINVAL);
    xp[5] = NAN;
    ck_assert_int_eq(mf_dxmi_step(dx, xp, NULL), MF_EINVAL);
    ck_assert_uint_eq(mf_dxmi_iters_done(dx), 0);
    /* a diverged energy (its output bias; NaN must not reach the SiLU kernels) */
    data(0, xp);
    dx->energy->params[dx->energy->n_params - 1] = NAN;
    mf_dxmi_stats st = {.iter = 77};
    ck_assert_int_eq(mf_dxmi_step(dx, xp, &st), MF_ERANGE);
    ck_assert_uint_eq(st.iter, 77);
    mf_dxmi_free(dx);
}

END_TEST

static Suite *dxmi_suite(void)
{
    Suite *s = suite_create("dxmi");
    TCase *tc = tcase_create("dxmi");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_opts);
    tcase_add_test(tc, test_new_errors);
    tcase_add_test(tc, test_rollout_is_the_sampler);
    tcase_add_test(tc, test_warmup);
    tcase_add_test(tc, test_determinism_and_threads);
    tcase_add_test(tc, test_restore);
    tcase_add_test(tc, test_step_errors);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(dxmi_suite)
