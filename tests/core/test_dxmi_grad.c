/* SPDX-License-Identifier: MIT */
/*
 * Oracle 2 of DxMI (core/dxmi_grad.c): every hand gradient against central
 * finite differences of its own loss, on small float networks (a 2-D parent
 * 2+8 -> 12 -> 12 -> 2, energy 2 -> 8 -> 6 -> 1, value 2+4 -> 7 -> 5 -> 1,
 * B = 16, T = 3) with fixed inputs and noise:
 *   the EBM loss w.r.t. the energy's parameters,
 *   the TD loss at t = T-1 (target from E) and t = 0 (target from V) w.r.t.
 *     the value's parameters, the target held fixed (a semi-gradient),
 *   the sampler loss w.r.t. the eps network's parameters (through the mean)
 *     and w.r.t. each trainable log sigma_t.
 * The parameters are float: each is moved to the floats nearest p +- h and
 * the difference quotient uses the perturbation actually made, in double;
 * the losses are accumulated in double.  With h = 1e-2 the truncation error
 * is h^2 |L'''|/6 ~ 1e-5 and the rounding 1e-7 |L| / h ~ 1e-5, so the test
 * asks |fd - g| <= 1e-2 max(|fd|, |g|) + 1e-4.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dxmi_int.h"
#include "rng.h"
#include "test_util.h"

enum {
    D = 2,
    B = 16,
    T = 3
};

#define H 1e-2

static mf_schedule sched;
static mf_mlp *parent;
static mf_dxmi *dx;

static void setup(void)
{
    ck_assert_int_eq(mf_schedule_init(&sched, "linear:0.0001:0.02:1000", NULL), MF_OK);
    mf_mlp_config cfg = {.data_dim = D, .emb_dim = 8, .n_hidden = 2, .hidden = {12, 12}};
    ck_assert_int_eq(mf_mlp_new(&cfg, &parent), MF_OK);
    mf_mlp_init_params(parent, 1);
    mf_dxmi_opts o = mf_dxmi_opts_default();
    o.T = T;
    o.batch = B;
    o.energy_hidden[0] = 8;
    o.energy_hidden[1] = 6;
    o.value_hidden[0] = 7;
    o.value_hidden[1] = 5;
    o.value_emb = 4;
    o.gamma = 0.7;
    o.tau_entropy = 0.3;
    o.tau_velocity = 0.5; /* large enough that the velocity terms matter */
    o.seed = 3;
    mf_diag d = {0};
    ck_assert_msg(mf_dxmi_new(parent, &sched, &o, &dx, &d) == MF_OK, "%s", d.msg);
    /* s2 as AVR leaves it after some iterations, sigma away from its start */
    const double s2[T] = {0.6, 0.2, 0.05};
    for (size_t t = 0; t < T; t++) {
        dx->s2[t] = s2[t];
    }
    dx->log_sigma[0] += 0.2f;
    mf__dxmi_sync_sigma(dx);
}

static void teardown(void)
{
    mf_dxmi_free(dx);
    mf_mlp_free(parent);
    mf_schedule_deinit(&sched);
}

typedef double (*loss_fn)(void *ctx);

/*
 * Compares grad[i] with the central difference of loss() in params[i] for the
 * indices idx (n); returns the worst |fd - g| / (max(|fd|, |g|) + 1e-2).
 */
static double check_entries(const char *what, float *params, const float *grad, const size_t *idx,
                            size_t n, loss_fn loss, void *ctx, void (*sync)(void))
{
    double worst = 0.0;
    for (size_t k = 0; k < n; k++) {
        size_t i = idx[k];
        float keep = params[i], up = (float) ((double) keep + H), dn = (float) ((double) keep - H);
        params[i] = up;
        if (sync != NULL) {
            sync();
        }
        double lp = loss(ctx);
        params[i] = dn;
        if (sync != NULL) {
            sync();
        }
        double lm = loss(ctx);
        params[i] = keep;
        if (sync != NULL) {
            sync();
        }
        double fd = (lp - lm) / ((double) up - (double) dn), g = (double) grad[i];
        double scale = fmax(fabs(fd), fabs(g));
        ck_assert_msg(fabs(fd - g) <= 1e-2 * scale + 1e-4, "%s[%zu]: hand %.6g, fd %.6g", what, i,
                      g, fd);
        worst = fmax(worst, fabs(fd - g) / (scale + 1e-2));
    }
    return worst;
}

/* Indices: every parameter from last_off on (the last layer), then every stride-th before. */
static size_t pick(size_t n_params, size_t last_off, size_t stride, size_t *idx, size_t cap)
{
    size_t n = 0;
    for (size_t i = last_off; i < n_params && n < cap; i++) {
        idx[n++] = i;
    }
    for (size_t i = 1; i < last_off && n < cap; i += stride) {
        idx[n++] = i;
    }
    return n;
}

static void normals(uint64_t seed, float *x, size_t n, float scale)
{
    mf_rng_normal(mf_rng_make(seed), 0, x, n);
    for (size_t i = 0; i < n; i++) {
        x[i] *= scale;
    }
}

/* ---- EBM ------------------------------------------------------------------------- */

typedef struct ebm_ctx {
    float pos[B * D], neg[B * D];
} ebm_ctx;

static double ebm_loss(void *ctx)
{
    ebm_ctx *e = ctx;
    mf__dxmi_ebm st;
    return mf__dxmi_ebm_grad(dx, e->pos, e->neg, &st);
}

START_TEST(test_ebm_gradient)
{
    ebm_ctx e;
    normals(10, e.pos, B * D, 2.0f);
    normals(11, e.neg, B * D, 1.0f);
    mf__dxmi_ebm st;
    double l = mf__dxmi_ebm_grad(dx, e.pos, e.neg, &st);
    /* the loss itself, from the energies */
    float f[2 * B];
    mf_reward_ws *ws = NULL;
    ck_assert_int_eq(mf_reward_ws_new(dx->energy, 2 * B, &ws), MF_OK);
    mf_reward_predict(dx->energy, ws, e.pos, B, f);
    mf_reward_predict(dx->energy, ws, e.neg, B, f + B);
    double mp = 0, mn = 0, sp = 0, sn = 0;
    for (size_t r = 0; r < B; r++) {
        mp += f[r] / (double) B;
        mn += f[B + r] / (double) B;
        sp += (double) f[r] * f[r] / B;
        sn += (double) f[B + r] * f[B + r] / B;
    }
    mf_reward_ws_free(ws);
    ck_assert_double_eq_tol(l, mp - mn + 0.7 * (sp + sn), 1e-6);
    ck_assert_double_eq_tol(st.pos_e, mp, 1e-6);
    ck_assert_double_eq_tol(st.reg, 0.7 * (sp + sn), 1e-6);

    size_t n = dx->energy->n_params, idx[96];
    float *g = malloc(n * sizeof(float));
    memcpy(g, dx->g_e, n * sizeof(float));
    ck_assert_double_eq_tol(st.sumsq, mf_sumsq(g, n), 1e-6 * st.sumsq);
    size_t k = pick(n, 0, 1, idx, 96); /* all 85 */
    double worst = check_entries("energy", dx->energy->params, g, idx, k, ebm_loss, &e, NULL);
    printf("EBM: %zu of %zu parameters, worst relative error %.2e\n", k, n, worst);
    free(g);
}

END_TEST

/* ---- TD -------------------------------------------------------------------------- */

typedef struct td_ctx {
    size_t t;
    float x[B * D];
} td_ctx;

static double td_loss(void *ctx)
{
    td_ctx *c = ctx;
    return mf__dxmi_td_grad(dx, c->t, c->x, NULL);
}

START_TEST(test_td_gradient)
{
    for (size_t t = 0; t < T; t += T - 1) { /* t = 0 (V target) and T-1 (E target) */
        td_ctx c = {.t = t};
        float xn[B * D];
        normals(20 + t, c.x, B * D, 1.5f);
        normals(30 + t, xn, B * D, 1.5f);
        mf__dxmi_td_target(dx, t, c.x, xn);
        /* the targets: E(x') or V(x', t+1), + tau2 |x' - x|^2 / (2 D s2_t) - tau1 log sigma_t */
        float f[B], in[B * (D + 4)];
        mf_reward_ws *ws = NULL;
        const mf_reward_model *net = t + 1 == T ? dx->energy : dx->value;
        ck_assert_int_eq(mf_reward_ws_new(net, B, &ws), MF_OK);
        for (size_t r = 0; r < B; r++) {
            memcpy(in + r * (D + 4), xn + r * D, D * sizeof(float));
            mf_mlp_embed_width(4, (float) (t + 1), in + r * (D + 4) + D);
        }
        mf_reward_predict(net, ws, t + 1 == T ? xn : in, B, f);
        mf_reward_ws_free(ws);
        for (size_t r = 0; r < B; r++) {
            double u0 = xn[r * D] - c.x[r * D], u1 = xn[r * D + 1] - c.x[r * D + 1];
            double y = f[r] + 0.5 * (u0 * u0 + u1 * u1) / (2.0 * D * dx->s2[t]) -
                       0.3 * log(dx->var.sigma[t]);
            ck_assert_double_eq_tol(dx->tgt[r], y, 1e-5 * (1 + fabs(y)));
        }
        double vmean, v2;
        double l = mf__dxmi_td_grad(dx, t, c.x, &vmean);
        size_t n = dx->value->n_params, idx[200];
        float *g = malloc(n * sizeof(float));
        memcpy(g, dx->g_v, n * sizeof(float));
        /* the step's one-pass form computes the same */
        ck_assert(mf__dxmi_td_step_grad(dx, t, c.x, xn, &v2) == l && v2 == vmean);
        ck_assert_mem_eq(dx->g_v, g, n * sizeof(float));
        size_t k = pick(n, 0, 1, idx, 200); /* all 95 */
        double worst = check_entries("value", dx->value->params, g, idx, k, td_loss, &c, NULL);
        printf("TD t=%zu: %zu parameters, worst relative error %.2e\n", t, k, worst);
        free(g);
    }
}

END_TEST

/* ---- sampler --------------------------------------------------------------------- */

static double sampler_loss(void *ctx)
{
    (void) ctx;
    mf__dxmi_gen st;
    return mf__dxmi_sampler_grad(dx, &st);
}

static void sync(void)
{
    mf__dxmi_sync_sigma(dx);
}

/* Buffer rows: states of every step (the V rows, t < T-1, first), fixed noise. */
static void fill_rows(void)
{
    normals(40, dx->xb, B * D, 1.2f);
    normals(41, dx->z, B * D, 1.0f);
    size_t nv = 0;
    for (size_t r = 0; r < B; r++) {
        size_t t = r < 11 ? r % (T - 1) : T - 1;
        nv += t + 1 < T;
        dx->sb[r] = t;
        dx->tb[r] = (float) dx->var.tau[t];
    }
    dx->nv = nv;
}

START_TEST(test_sampler_gradient)
{
    fill_rows();
    mf__dxmi_gen st;
    (void) mf__dxmi_sampler_grad(dx, &st);
    ck_assert(dx->g_ls[T - 1] == 0.0f);
    size_t n = dx->eps->n_params, idx[128];
    float *g = malloc(n * sizeof(float)), gls[T];
    memcpy(g, dx->g_eps, n * sizeof(float));
    memcpy(gls, dx->g_ls, sizeof gls);
    double ss = mf_sumsq(g, n) + mf_sumsq(gls, T);
    ck_assert_double_eq_tol(st.sumsq, ss, 1e-5 * ss);
    size_t k = pick(n, dx->eps->w_off[2], 3, idx, 128);
    double worst = check_entries("eps", dx->eps->params, g, idx, k, sampler_loss, NULL, NULL);
    printf("sampler: %zu of %zu eps parameters, worst relative error %.2e\n", k, n, worst);
    size_t lsi[T - 1];
    for (size_t t = 0; t + 1 < T; t++) {
        lsi[t] = t;
    }
    worst = check_entries("log_sigma", dx->log_sigma, gls, lsi, T - 1, sampler_loss, NULL, sync);
    printf("sampler: log sigma_0..%d, worst relative error %.2e (gradients %.4g %.4g)\n", T - 2,
           worst, (double) gls[0], (double) gls[1]);
    free(g);
}

END_TEST

static Suite *dxmi_grad_suite(void)
{
    Suite *s = suite_create("dxmi_grad");
    TCase *tc = tcase_create("dxmi_grad");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_ebm_gradient);
    tcase_add_test(tc, test_td_gradient);
    tcase_add_test(tc, test_sampler_gradient);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(dxmi_grad_suite)
