/* SPDX-License-Identifier: MIT */
/*
 * test_potential.c - potential networks (core/potential.c), issue 18 oracle 2:
 * every derivative the passes compute in float against finite differences of an
 * independent double-precision evaluation of the same network (naive loops here).
 *
 * - g itself; grad_x g (the backward pass) against central differences;
 * - H v (the tangent + backward pass) against a central difference of the
 *   directional derivative, and lap g (D of them) against the second difference;
 * - the parameter gradient of J = sum_r alpha_r g_r + v_r . grad_x g_r, the form of
 *   both DSM through grad_x g and the stencil residual's seeds, against a central
 *   difference in every parameter of J in double (the directional derivative by a
 *   central difference too);
 * - eps = -grad_x g through the samplers' callback;
 * - the HJB regulariser (core/hjb_loss.c): its loss and sum of R^2 against the same
 *   formulas in double, and its parameter gradient against central differences in
 *   every parameter (exact and Hutchinson estimators, weighted or not).  Measured error
 *   2e-5 to 9e-5 of the largest entry (float stencil values / h^2); the bound is 1e-3,
 *   which the gradient without its grad_x g term (the tangent seed) exceeds 3-10x.
 * Tolerances: float rounding through a few layers of width <= 16 (~1e-6 relative),
 * against differences whose own error is ~1e-8 in double; 2e-4 relative to the
 * largest entry leaves room for the first and catches any wrong term (a missing phi''
 * term in H v is O(1) relative; checked by zeroing it).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "guidance.h"
#include "hjb_loss.h"
#include "mem.h"
#include "mlp.h"
#include "model_file.h"
#include "potential.h"
#include "rng.h"
#include "schedule.h"
#include "test_util.h"

#define N_ROWS 5
#define TOL    2e-4

static mf_mlp *net;
static mf_pot_ws *ws;
static float x[N_ROWS * 8], t[N_ROWS], c_in[N_ROWS * 2], v[N_ROWS * 8], alpha[N_ROWS];

/* g in double from the float parameters p (n_params, may be perturbed copies) */
static double ref_g(const mf_mlp *m, const double *p, const double *xr, double tr, const float *cr)
{
    size_t D = m->cfg.data_dim, E = m->cfg.emb_dim, C = m->cfg.cond_dim, k = m->cfg.n_hidden;
    double in[64], h[2][64];
    for (size_t i = 0; i < D; i++) {
        in[i] = xr[i];
    }
    for (size_t j = 0; j < E / 2; j++) {
        in[D + j] = sin(tr * (double) m->freqs[j]);
        in[D + E / 2 + j] = cos(tr * (double) m->freqs[j]);
    }
    for (size_t j = 0; j < C; j++) {
        in[D + E + j] = cr[j];
    }
    const double *prev = in;
    for (size_t l = 0; l <= k; l++) {
        double *out = h[l % 2];
        for (size_t o = 0; o < m->out_dim[l]; o++) {
            double z = p[m->b_off[l] + o];
            for (size_t i = 0; i < m->in_dim[l]; i++) {
                z += p[m->w_off[l] + o * m->in_dim[l] + i] * prev[i];
            }
            out[o] = l < k ? z / (1.0 + exp(-z)) : z;
        }
        prev = out;
    }
    return prev[0];
}

/* v . grad_x g by a central difference in double */
static double ref_dir(const mf_mlp *m, const double *p, const double *xr, double tr,
                      const float *cr, const double *vr)
{
    size_t D = m->cfg.data_dim;
    double e = 1e-4, xp[8], xm[8];
    for (size_t i = 0; i < D; i++) {
        xp[i] = xr[i] + e * vr[i];
        xm[i] = xr[i] - e * vr[i];
    }
    return (ref_g(m, p, xp, tr, cr) - ref_g(m, p, xm, tr, cr)) / (2 * e);
}

static double *params_double(const mf_mlp *m)
{
    double *p = malloc(m->n_params * sizeof *p);
    for (size_t j = 0; j < m->n_params; j++) {
        p[j] = m->params[j];
    }
    return p;
}

static void make(uint32_t D, uint32_t C)
{
    mf_mlp_config cfg = {.data_dim = D,
                         .cond_dim = C,
                         .emb_dim = 8,
                         .n_hidden = 2,
                         .hidden = {16, 12},
                         .out_dim = 1};
    ck_assert_int_eq(mf_mlp_new(&cfg, &net), MF_OK);
    mf_mlp_init_params(net, 7);
    /* larger weights than the default init: the SiLUs work away from their linear part */
    for (size_t j = 0; j < net->n_params; j++) {
        net->params[j] *= 2.5f;
    }
    ck_assert(mf_pot_is_potential(net));
    ck_assert_int_eq(mf_pot_ws_new(net, N_ROWS, &ws), MF_OK);
    mf_rng r = mf_rng_make(11);
    float tmp[N_ROWS * 8];
    mf_rng_normal(r, 0, tmp, N_ROWS * D);
    memcpy(x, tmp, sizeof tmp);
    mf_rng_normal(r, 1, v, N_ROWS * D);
    mf_rng_normal(r, 2, alpha, N_ROWS);
    mf_rng_normal(r, 3, c_in, N_ROWS * 2);
    for (size_t i = 0; i < N_ROWS; i++) {
        t[i] = 37.25f + 191.5f * (float) i; /* fractional time inputs, as the stencil's */
    }
}

static void drop(void)
{
    mf_pot_ws_free(ws);
    mf_mlp_free(net);
    ws = NULL;
    net = NULL;
}

static void row_double(size_t r, size_t D, double *xr, double *vr)
{
    for (size_t i = 0; i < D; i++) {
        xr[i] = x[r * D + i];
        vr[i] = v[r * D + i];
    }
}

static void check_input_derivatives(uint32_t D, uint32_t C)
{
    make(D, C);
    const float *c = C > 0 ? c_in : NULL;
    double *p = params_double(net);
    float g[N_ROWS], grad[N_ROWS * 8], hv[N_ROWS * 8], lap[N_ROWS];
    mf_pot_forward(net, ws, x, t, c, N_ROWS, g);
    mf_pot_grad_x(net, ws, N_ROWS, grad);
    memset(hv, 0, sizeof hv);
    mf_pot_backward(net, ws, N_ROWS, NULL, v, NULL, hv);
    mf_pot_laplacian(net, ws, N_ROWS, lap);
    double max_g = 0, err_g = 0, max_d = 0, err_d = 0, max_h = 0, err_h = 0, max_l = 0, err_l = 0;
    for (size_t r = 0; r < N_ROWS; r++) {
        double xr[8] = {0}, vr[8] = {0};
        row_double(r, D, xr, vr);
        const float *cr = c != NULL ? c + r * C : NULL;
        double g0 = ref_g(net, p, xr, t[r], cr);
        max_g = fmax(max_g, fabs(g0));
        err_g = fmax(err_g, fabs(g[r] - g0));
        double lap_ref = 0;
        for (size_t i = 0; i < D; i++) {
            double e = 1e-4, xp[8], xm[8];
            memcpy(xp, xr, sizeof xp);
            memcpy(xm, xr, sizeof xm);
            xp[i] += e;
            xm[i] -= e;
            double gi = (ref_g(net, p, xp, t[r], cr) - ref_g(net, p, xm, t[r], cr)) / (2 * e);
            max_d = fmax(max_d, fabs(gi));
            err_d = fmax(err_d, fabs(grad[r * D + i] - gi));
            double hs = 1e-3;
            xp[i] = xr[i] + hs;
            xm[i] = xr[i] - hs;
            lap_ref +=
                (ref_g(net, p, xp, t[r], cr) - 2 * g0 + ref_g(net, p, xm, t[r], cr)) / (hs * hs);
            /* (H v)_i = d/dx_i (v . grad g) */
            xp[i] = xr[i] + e;
            xm[i] = xr[i] - e;
            double hvi =
                (ref_dir(net, p, xp, t[r], cr, vr) - ref_dir(net, p, xm, t[r], cr, vr)) / (2 * e);
            max_h = fmax(max_h, fabs(hvi));
            err_h = fmax(err_h, fabs(hv[r * D + i] - hvi));
        }
        max_l = fmax(max_l, fabs(lap_ref));
        err_l = fmax(err_l, fabs(lap[r] - lap_ref));
    }
    ck_assert_msg(max_g > 0.1 && max_d > 0.1 && max_h > 0.1 && max_l > 0.05,
                  "a network with something to differentiate (%g %g %g %g)", max_g, max_d, max_h,
                  max_l);
    ck_assert_msg(err_g <= TOL * max_g, "g: %g of %g", err_g, max_g);
    ck_assert_msg(err_d <= TOL * max_d, "grad_x g: %g of %g", err_d, max_d);
    ck_assert_msg(err_h <= TOL * max_h, "H v: %g of %g", err_h, max_h);
    ck_assert_msg(err_l <= TOL * max_l, "lap g: %g of %g", err_l, max_l);
    free(p);
    drop();
}

START_TEST(test_input_derivatives)
{
    check_input_derivatives(2, 0);
    check_input_derivatives(5, 2);
}

END_TEST

/* J = sum_r alpha_r g_r + v_r . grad_x g_r in double */
static double ref_J(const mf_mlp *m, const double *p, const float *c)
{
    size_t D = m->cfg.data_dim, C = m->cfg.cond_dim;
    double J = 0;
    for (size_t r = 0; r < N_ROWS; r++) {
        double xr[8] = {0}, vr[8] = {0};
        row_double(r, D, xr, vr);
        const float *cr = c != NULL ? c + r * C : NULL;
        J += alpha[r] * ref_g(m, p, xr, t[r], cr) + ref_dir(m, p, xr, t[r], cr, vr);
    }
    return J;
}

static void check_param_gradient(uint32_t D, uint32_t C, bool with_alpha, bool with_v)
{
    make(D, C);
    const float *c = C > 0 ? c_in : NULL;
    if (!with_alpha) {
        memset(alpha, 0, sizeof alpha);
    }
    if (!with_v) {
        memset(v, 0, sizeof v);
    }
    float *dp = mf_alloc_floats(net->n_params);
    memset(dp, 0, net->n_params * sizeof(float));
    mf_pot_forward(net, ws, x, t, c, N_ROWS, NULL);
    mf_pot_backward(net, ws, N_ROWS, with_alpha ? alpha : NULL, with_v ? v : NULL, dp, NULL);
    double *p = params_double(net);
    double max_ref = 0, err = 0;
    for (size_t j = 0; j < net->n_params; j++) {
        double keep = p[j], e = 1e-4;
        p[j] = keep + e;
        double jp = ref_J(net, p, c);
        p[j] = keep - e;
        double jm = ref_J(net, p, c);
        p[j] = keep;
        double ref = (jp - jm) / (2 * e);
        max_ref = fmax(max_ref, fabs(ref));
        err = fmax(err, fabs(dp[j] - ref));
    }
    ck_assert_msg(max_ref > 0.1, "a gradient to check (%g)", max_ref);
    ck_assert_msg(err <= TOL * max_ref, "dJ/dtheta (D %u C %u alpha %d v %d): %g of %g", D, C,
                  with_alpha, with_v, err, max_ref);
    free(p);
    mf_free_aligned(dp);
    drop();
}

START_TEST(test_param_gradient)
{
    check_param_gradient(2, 0, true, true);
    check_param_gradient(2, 0, false, true); /* DSM's form: only the tangent */
    check_param_gradient(3, 0, true, false); /* the ordinary backward */
    check_param_gradient(5, 2, true, true);
}

END_TEST

START_TEST(test_eps_is_minus_grad)
{
    make(3, 0);
    float g[N_ROWS], grad[N_ROWS * 8], eps[N_ROWS * 8], t_rows[N_ROWS], same_t[N_ROWS];
    for (size_t r = 0; r < N_ROWS; r++) {
        same_t[r] = 120.0f;
    }
    mf_pot_forward(net, ws, x, same_t, NULL, N_ROWS, g);
    mf_pot_grad_x(net, ws, N_ROWS, grad);
    mf_pot_eps_ctx e = {.net = net, .ws = ws, .c = NULL, .t_rows = t_rows};
    mf_pot_eps_eval(&e, x, N_ROWS, 120.0f, eps);
    for (size_t j = 0; j < N_ROWS * 3; j++) {
        ck_assert_float_eq(eps[j], -grad[j]);
    }
    drop();
}

END_TEST

START_TEST(test_refuses_eps_networks)
{
    mf_mlp_config cfg = {.data_dim = 2, .emb_dim = 8, .n_hidden = 1, .hidden = {8}};
    mf_mlp *m = NULL;
    ck_assert_int_eq(mf_mlp_new(&cfg, &m), MF_OK);
    ck_assert(!mf_pot_is_potential(m));
    mf_pot_ws *w = NULL;
    ck_assert_int_eq(mf_pot_ws_new(m, 4, &w), MF_EINVAL);
    ck_assert_ptr_null(w);
    mf_mlp_free(m);
}

END_TEST

/* ---- the HJB regulariser (core/hjb_loss.c) -------------------------------------- */

#define N_PTS 4

static const double taus[N_PTS] = {0.05, 0.3, 0.62, 0.97};

/* The same point loss in double: grad_x g by a central difference, everything else by
 * the header's formulas with the same directions (the axes, or the same sign draws). */
static double ref_hjb(const mf_mlp *m, const double *p, const mf_schedule *s, const mf_hjb_opts *o,
                      mf_rng r, double *R2_sum)
{
    size_t D = m->cfg.data_dim, n_dirs = o->estimator == MF_HJB_EXACT ? D : o->probes;
    double loss = 0, T = s->T;
    *R2_sum = 0;
    for (size_t k = 0; k < N_PTS; k++) {
        double xr[8] = {0}, vr[8] = {0}, beta, abar, bb, ap, am;
        row_double(k, D, xr, vr);
        mf_schedule_ct(s, taus[k], &beta, &abar);
        mf_schedule_ct(s, taus[k] + o->dt, &bb, &ap);
        mf_schedule_ct(s, taus[k] - o->dt, &bb, &am);
        double sig = sqrt(1 - abar), tin = T * taus[k] - 1;
        double u0 = ref_g(m, p, xr, tin, NULL) / sig;
        double dtau = (ref_g(m, p, xr, T * (taus[k] + o->dt) - 1, NULL) / sqrt(1 - ap) -
                       ref_g(m, p, xr, T * (taus[k] - o->dt) - 1, NULL) / sqrt(1 - am)) /
                      (2 * o->dt);
        double xg = 0, gg = 0;
        for (size_t i = 0; i < D; i++) {
            double e = 1e-5, xp[8], xm[8];
            memcpy(xp, xr, sizeof xp);
            memcpy(xm, xr, sizeof xm);
            xp[i] += e;
            xm[i] -= e;
            double gi = (ref_g(m, p, xp, tin, NULL) - ref_g(m, p, xm, tin, NULL)) / (2 * e) / sig;
            xg += xr[i] * gi;
            gg += gi * gi;
        }
        double A = dtau - 0.5 * beta * (D + xg + gg), L[2] = {0, 0};
        for (size_t q = 0; q < n_dirs; q++) {
            double xp[8], xm[8];
            for (size_t i = 0; i < D; i++) {
                double d =
                    o->estimator == MF_HJB_EXACT
                        ? (i == q ? 1.0 : 0.0)
                        : (mf_rng_uniform_f64(r, (k * n_dirs + q) * D + i) < 0.5 ? -1.0 : 1.0);
                xp[i] = xr[i] + (double) (float) o->h * d;
                xm[i] = xr[i] - (double) (float) o->h * d;
            }
            L[o->estimator == MF_HJB_EXACT ? 0 : q] +=
                (ref_g(m, p, xp, tin, NULL) / sig - 2 * u0 + ref_g(m, p, xm, tin, NULL) / sig) /
                (o->h * o->h);
        }
        double R1 = A - 0.5 * beta * L[0];
        double R2 =
            o->estimator == MF_HJB_HUTCHINSON && o->probes == 2 ? A - 0.5 * beta * L[1] : R1;
        double w = o->weight ? pow(sig * sig / beta, 2) : 1;
        loss += w * R1 * R2;
        *R2_sum += R1 * R2;
    }
    return loss / N_PTS;
}

static void check_hjb_gradient(uint32_t D, mf_hjb_estimator est, bool weight)
{
    make(D, 0);
    mf_schedule sched = {0}, *s = &sched;
    ck_assert_int_eq(mf_schedule_init(s, "linear:1e-4:0.02:1000", NULL), MF_OK);
    mf_hjb_opts o = mf_hjb_opts_default();
    o.estimator = est;
    o.weight = weight;
    mf_hjb_net *b = NULL;
    ck_assert_int_eq(mf_hjb_net_new(net, &o, N_PTS, &b), MF_OK);
    mf_rng r = mf_rng_make(5);
    float *dp = mf_alloc_floats(net->n_params);
    memset(dp, 0, net->n_params * sizeof(float));
    mf_hjb_stats st;
    float xs[N_PTS * 8];
    memcpy(xs, x, sizeof xs);
    mf_hjb_net_loss(net, s, b, xs, taus, N_PTS, r, 1.0f, dp, &st);
    double *p = params_double(net), r2;
    double loss_ref = ref_hjb(net, p, s, &o, r, &r2);
    ck_assert_msg(fabs(st.loss - loss_ref) <= 2e-3 * fabs(loss_ref) && loss_ref > 0,
                  "the loss: %g, in double %g", st.loss, loss_ref);
    ck_assert_msg(fabs(st.sq_sum - r2) <= 2e-3 * fabs(r2), "sum R^2: %g, in double %g", st.sq_sum,
                  r2);
    double max_ref = 0, err = 0;
    for (size_t j = 0; j < net->n_params; j++) {
        double keep = p[j], e = 1e-5;
        p[j] = keep + e;
        double lp = ref_hjb(net, p, s, &o, r, &r2);
        p[j] = keep - e;
        double lm = ref_hjb(net, p, s, &o, r, &r2);
        p[j] = keep;
        double ref = (lp - lm) / (2 * e);
        max_ref = fmax(max_ref, fabs(ref));
        err = fmax(err, fabs(dp[j] - ref));
    }
    ck_assert_msg(err <= 1e-3 * max_ref, "d loss/d theta (D %u, %s): %g of %g", D,
                  est == MF_HJB_EXACT ? "exact" : "hutchinson", err, max_ref);
    free(p);
    mf_free_aligned(dp);
    mf_hjb_net_free(b);
    mf_schedule_deinit(s);
    drop();
}

START_TEST(test_hjb_loss_gradient)
{
    check_hjb_gradient(2, MF_HJB_EXACT, true);
    check_hjb_gradient(2, MF_HJB_EXACT, false);
    check_hjb_gradient(3, MF_HJB_HUTCHINSON, true);
}

END_TEST

/* A potential model file: prediction potential, last layer [1, H], read back the same;
 * its samples come from eps = -grad_x g (mf_guide_sample takes the potential path). */
START_TEST(test_model_file_and_sampling)
{
    mf_mlp_config cfg = {
        .data_dim = 2, .emb_dim = 8, .n_hidden = 2, .hidden = {16, 12}, .out_dim = 1};
    mf_model *m = NULL, *back = NULL;
    ck_assert_int_eq(mf_model_new(&cfg, "linear:0.0001:0.02:1000", &m, NULL), MF_OK);
    mf_mlp_init_params(m->net, 3);
    ck_assert_str_eq(mf_model_get_meta(m, "prediction"), "potential");
    uint8_t *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(mf_model_to_buffer(m, &buf, &len), MF_OK);
    ck_assert_int_eq(mf_model_load_buffer(buf, len, &back, NULL), MF_OK);
    ck_assert(mf_pot_is_potential(back->net));
    ck_assert_uint_eq(back->net->n_params, m->net->n_params);
    ck_assert_int_eq(memcmp(back->net->params, m->net->params, m->net->n_params * sizeof(float)),
                     0);
    /* the samplers see eps = -grad_x g: 3 DDIM steps by hand against mf_guide_sample */
    mf_sampler_opts o = {.kind = MF_SAMPLER_DDIM, .steps = 3, .seed = 9};
    float xa[8 * 2], xb[8 * 2], t_rows[8];
    ck_assert_int_eq(mf_guide_sample(back->net, &back->sched, &o, NULL, xa, 8), MF_OK);
    mf_pot_ws *w = NULL;
    ck_assert_int_eq(mf_pot_ws_new(back->net, 8, &w), MF_OK);
    mf_pot_eps_ctx e = {.net = back->net, .ws = w, .t_rows = t_rows};
    ck_assert_int_eq(
        mf_sample(&back->sched, (mf_eps_fn){.eval = mf_pot_eps_eval, .ctx = &e}, &o, xb, 8, 2),
        MF_OK);
    for (size_t j = 0; j < 16; j++) {
        ck_assert(isfinite(xa[j]));
        ck_assert_float_eq(xa[j], xb[j]);
    }
    mf_pot_ws_free(w);
    free(buf);
    mf_model_free(back);
    /* a conditional potential is refused: its file does not load */
    mf_model_free(m);
    cfg.cond_dim = 1;
    ck_assert_int_eq(mf_model_new(&cfg, "linear:0.0001:0.02:1000", &m, NULL), MF_OK);
    ck_assert_int_eq(mf_model_to_buffer(m, &buf, &len), MF_OK);
    mf_diag d = {0};
    ck_assert_int_eq(mf_model_load_buffer(buf, len, &back, &d), MF_EFORMAT);
    ck_assert_str_eq(d.field, "__metadata__/prediction");
    free(buf);
    mf_model_free(m);
}

END_TEST

static Suite *potential_suite(void)
{
    Suite *s = suite_create("potential");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_input_derivatives);
    tcase_add_test(tc, test_param_gradient);
    tcase_add_test(tc, test_eps_is_minus_grad);
    tcase_add_test(tc, test_refuses_eps_networks);
    tcase_add_test(tc, test_hjb_loss_gradient);
    tcase_add_test(tc, test_model_file_and_sampling);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(potential_suite)
