/* SPDX-License-Identifier: MIT */
/*
 * test_likelihood.c - probability-flow ODE log-densities.
 *
 * Oracle: data N(0, Sigma), Sigma = R diag(s^2) R^T with R orthogonal, has the
 * exact noise prediction eps*(x, t) = sqrt(1 - ab) (ab Sigma + (1 - ab) I)^-1 x,
 * a linear map M_t x whose divergence is trace(M_t).  Plugged in for a network,
 * the ODE log-likelihood of a point must match log N(x; 0, Sigma) (within 1 %),
 * Hutchinson's estimate must average to the exact one, and the ODE's own
 * samples must carry the log-density of where they land.  The MLP adapter's
 * divergences are checked against central differences of the network.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "likelihood.h"
#include "mlp.h"
#include "rng.h"
#include "sampler.h"
#include "schedule.h"
#include "test_util.h"

#define LOG_2PI 1.8378770664093454836
#define MAXD    16

static mf_schedule sched;

static void setup(void)
{
    ck_assert_int_eq(mf_schedule_init(&sched, "linear:0.0001:0.02:1000", NULL), MF_OK);
}

static void teardown(void)
{
    mf_schedule_deinit(&sched);
}

/* ---- the Gaussian oracle ---------------------------------------------------------------- */

typedef struct gauss {
    size_t D;
    double R[MAXD * MAXD]; /* orthogonal, symmetric (a Householder reflection or identity) */
    double s2[MAXD];       /* eigenvalues of Sigma */
    size_t calls;
} gauss;

/* R = I - 2 u u^T / |u|^2 with u = (1, 2, ..., D): orthogonal and not diagonal. */
static void gauss_init(gauss *g, size_t D, const double *s2)
{
    memset(g, 0, sizeof *g);
    g->D = D;
    double uu = 0.0;
    for (size_t i = 0; i < D; i++) {
        uu += (double) ((i + 1) * (i + 1));
        g->s2[i] = s2[i];
    }
    for (size_t i = 0; i < D; i++) {
        for (size_t j = 0; j < D; j++) {
            g->R[i * D + j] = (i == j) - 2.0 * (double) ((i + 1) * (j + 1)) / uu;
        }
    }
}

/* The same with eigenvalues s_d^2 = first + step d. */
static void gauss_init_ramp(gauss *g, size_t D, double first, double step)
{
    double s2[MAXD];
    for (size_t d = 0; d < D; d++) {
        s2[d] = first + step * (double) d;
    }
    gauss_init(g, D, s2);
}

/* M = R diag(m) R^T with m_d = sqrt(1 - ab) / (ab s_d^2 + 1 - ab). */
static void gauss_matrix(const gauss *g, double ab, double *M)
{
    size_t D = g->D;
    for (size_t i = 0; i < D; i++) {
        for (size_t j = 0; j < D; j++) {
            double v = 0.0;
            for (size_t d = 0; d < D; d++) {
                v +=
                    g->R[i * D + d] * g->R[j * D + d] * sqrt(1.0 - ab) / (ab * g->s2[d] + 1.0 - ab);
            }
            M[i * D + j] = v;
        }
    }
}

static void gauss_eval(void *ctx, const float *x, size_t n, float t, const float *probe, float *eps,
                       double *div)
{
    gauss *g = ctx;
    size_t D = g->D;
    double M[MAXD * MAXD], tr = 0.0;
    gauss_matrix(g, sched.alpha_bar[(size_t) t], M);
    for (size_t d = 0; d < D; d++) {
        tr += M[d * D + d];
    }
    for (size_t r = 0; r < n; r++) {
        for (size_t i = 0; i < D; i++) {
            double v = 0.0;
            for (size_t j = 0; j < D; j++) {
                v += M[i * D + j] * (double) x[r * D + j];
            }
            eps[r * D + i] = (float) v;
        }
        if (probe == NULL) {
            div[r] = tr;
            continue;
        }
        double q = 0.0;
        for (size_t i = 0; i < D; i++) {
            for (size_t j = 0; j < D; j++) {
                q += (double) probe[r * D + i] * M[i * D + j] * (double) probe[r * D + j];
            }
        }
        div[r] = q;
    }
    g->calls++;
}

/* log N(x; 0, Sigma). */
static double gauss_logpdf(const gauss *g, const float *x)
{
    size_t D = g->D;
    double q = 0.0, logdet = 0.0;
    for (size_t d = 0; d < D; d++) {
        double z = 0.0; /* (R^T x)_d */
        for (size_t j = 0; j < D; j++) {
            z += g->R[j * D + d] * (double) x[j];
        }
        q += z * z / g->s2[d];
        logdet += log(g->s2[d]);
    }
    return -0.5 * ((double) D * LOG_2PI + logdet + q);
}

/* n points of N(0, Sigma). */
static float *gauss_points(const gauss *g, size_t n, uint64_t seed)
{
    size_t D = g->D;
    float *z = malloc(n * D * sizeof(float)), *x = malloc(n * D * sizeof(float));
    ck_assert(z != NULL && x != NULL);
    mf_rng_normal(mf_rng_make(seed), 0, z, n * D);
    for (size_t r = 0; r < n; r++) {
        for (size_t i = 0; i < D; i++) {
            double v = 0.0;
            for (size_t d = 0; d < D; d++) {
                v += g->R[i * D + d] * sqrt(g->s2[d]) * (double) z[r * D + d];
            }
            x[r * D + i] = (float) v;
        }
    }
    free(z);
    return x;
}

static mf_ode_lik_opts opts(size_t steps, mf_div_kind div)
{
    return (mf_ode_lik_opts){.steps = steps, .div = div, .seed = 99};
}

/* Max relative error of the ODE log-likelihood against the closed form over n points. */
static double loglik_rel_err(gauss *g, size_t n, size_t steps, mf_div_kind div, double *mean_err)
{
    float *x = gauss_points(g, n, 5);
    double *lp = malloc(n * sizeof(double));
    ck_assert_ptr_nonnull(lp);
    mf_ode_lik_opts o = opts(steps, div);
    mf_err err = mf_ode_loglik(&sched, (mf_eps_div_fn){gauss_eval, g}, &o, x, n, g->D, lp);
    ck_assert_msg(err == MF_OK, "%s", mf_err_name(err));
    double worst = 0.0, sum = 0.0, sum_true = 0.0;
    for (size_t i = 0; i < n; i++) {
        double want = gauss_logpdf(g, x + i * g->D);
        double rel = fabs(lp[i] - want) / fmax(fabs(want), 1.0);
        worst = rel > worst ? rel : worst;
        sum += lp[i];
        sum_true += want;
    }
    *mean_err = fabs(sum - sum_true) / fabs(sum_true);
    free(x);
    free(lp);
    return worst;
}

START_TEST(test_gaussian_loglik_2d)
{
    gauss g;
    gauss_init(&g, 2, (const double[]){0.25, 1.5});
    double mean_err;
    double worst = loglik_rel_err(&g, 200, 1000, MF_DIV_AUTO, &mean_err);
    ck_assert_msg(worst < 0.01 && mean_err < 0.01, "1000 steps: worst %.4g mean %.4g", worst,
                  mean_err);
    ck_assert_uint_eq(g.calls, 2 * 1000 - 1);
    /* A coarser grid is still within 1 % on average (Heun is second order). */
    worst = loglik_rel_err(&g, 200, 100, MF_DIV_EXACT, &mean_err);
    ck_assert_msg(mean_err < 0.01, "100 steps: worst %.4g mean %.4g", worst, mean_err);
}

END_TEST

START_TEST(test_gaussian_loglik_16d_exact_and_hutchinson)
{
    gauss g;
    gauss_init_ramp(&g, 16, 0.2, 0.1);
    double mean_exact, mean_h;
    double worst = loglik_rel_err(&g, 100, 200, MF_DIV_EXACT, &mean_exact);
    ck_assert_msg(worst < 0.01 && mean_exact < 0.01, "exact: worst %.4g mean %.4g", worst,
                  mean_exact);
    /* Hutchinson (AUTO at D = 16): unbiased, so the mean over 400 points lands
     * within 1 %, while single points scatter (the Jacobian is not diagonal). */
    ck_assert_int_eq(mf_ode_div_resolve(MF_DIV_AUTO, 16), MF_DIV_HUTCHINSON);
    worst = loglik_rel_err(&g, 400, 200, MF_DIV_AUTO, &mean_h);
    ck_assert_msg(mean_h < 0.01, "hutchinson: mean %.4g", mean_h);
    ck_assert_msg(worst > 1e-3, "hutchinson should scatter per point, worst %.4g", worst);
}

END_TEST

/* The oracle as a plain mf_eps_fn, for mf_sample. */
static void gauss_eps_only(void *ctx, const float *x, size_t n, float t, float *out)
{
    double *div = malloc(n * sizeof(double));
    ck_assert_ptr_nonnull(div);
    gauss_eval(ctx, x, n, t, NULL, out, div);
    free(div);
}

/* The ODE's samples: the sampler's ODE samples, each with the density of where it lands. */
START_TEST(test_sample_logp)
{
    gauss g;
    gauss_init(&g, 2, (const double[]){0.25, 1.5});
    size_t n = 300, S = 200;
    float *x = malloc(n * 2 * sizeof(float)), *xs = malloc(n * 2 * sizeof(float));
    double *lp = malloc(n * sizeof(double)), *back = malloc(n * sizeof(double));
    ck_assert(x != NULL && xs != NULL && lp != NULL && back != NULL);
    mf_ode_lik_opts o = opts(S, MF_DIV_AUTO);
    mf_eps_div_fn f = {gauss_eval, &g};
    ck_assert_int_eq(mf_ode_sample_logp(&sched, f, &o, x, n, 2, lp), MF_OK);

    /* The same points as mf_sample(ODE) with the same seed and steps (the
     * sampler keeps its state in float, this integrator in double). */
    mf_sampler_opts so = {.kind = MF_SAMPLER_ODE, .steps = S, .seed = o.seed};
    ck_assert_int_eq(mf_sample(&sched, (mf_eps_fn){gauss_eps_only, &g}, &so, xs, n, 2), MF_OK);
    for (size_t j = 0; j < 2 * n; j++) {
        ck_assert_msg(fabs(x[j] - xs[j]) < 1e-4 * (1.0 + fabs(xs[j])), "%zu: %g vs %g", j, x[j],
                      xs[j]);
    }

    double h_est = 0.0;
    for (size_t i = 0; i < n; i++) {
        double want = gauss_logpdf(&g, x + 2 * i);
        ck_assert_msg(fabs(lp[i] - want) < 0.01 * fmax(fabs(want), 1.0), "row %zu: %.5f vs %.5f", i,
                      lp[i], want);
        h_est -= lp[i];
    }
    /* Round trip: the likelihood of the samples, integrated upwards, agrees. */
    ck_assert_int_eq(mf_ode_loglik(&sched, f, &o, x, n, 2, back), MF_OK);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(fabs(back[i] - lp[i]) < 0.01 * fmax(fabs(lp[i]), 1.0), "row %zu", i);
    }
    /* Entropy of the ODE model = entropy of N(0, Sigma) = (1/2) log det(2 pi e Sigma);
     * 300 samples: the sd of the mean is about 1/sqrt(300) = 0.06. */
    double H = 0.5 * (2.0 * (LOG_2PI + 1.0) + log(0.25) + log(1.5));
    ck_assert_msg(fabs(h_est / (double) n - H) < 0.2, "%.4f vs %.4f", h_est / (double) n, H);
    free(x);
    free(xs);
    free(lp);
    free(back);
}

END_TEST

/* Row i's result does not depend on the batch split (probes by global index). */
START_TEST(test_split_invariance)
{
    gauss g;
    gauss_init_ramp(&g, 16, 0.5, 0.05);
    size_t n = 40;
    float *x = gauss_points(&g, n, 8);
    double whole[40], parts[40];
    mf_ode_lik_opts o = opts(20, MF_DIV_HUTCHINSON);
    mf_eps_div_fn f = {gauss_eval, &g};
    ck_assert_int_eq(mf_ode_loglik(&sched, f, &o, x, n, 16, whole), MF_OK);
    o.first_index = 0;
    ck_assert_int_eq(mf_ode_loglik(&sched, f, &o, x, 13, 16, parts), MF_OK);
    o.first_index = 13;
    ck_assert_int_eq(mf_ode_loglik(&sched, f, &o, x + 13 * 16, n - 13, 16, parts + 13), MF_OK);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(whole[i] == parts[i], "row %zu", i);
    }
    free(x);
}

END_TEST

/* ---- the MLP adapter -------------------------------------------------------------------- */

static mf_mlp *small_net(size_t D)
{
    mf_mlp_config cfg = {.data_dim = (uint32_t) D, .emb_dim = 8, .n_hidden = 2, .hidden = {24, 16}};
    mf_mlp *m = NULL;
    ck_assert_int_eq(mf_mlp_new(&cfg, &m), MF_OK);
    mf_mlp_init_params(m, 7);
    return m;
}

/* Jacobian of the network at one point by central differences, in float (h = 1e-2). */
static void fd_jacobian(const mf_mlp *m, const float *x, size_t D, float t, double *J)
{
    mf_mlp_ws *ws = NULL;
    ck_assert_int_eq(mf_mlp_ws_new(m, 2, false, &ws), MF_OK);
    float xp[2 * MAXD], out[2 * MAXD];
    const double h = 1e-2;
    for (size_t j = 0; j < D; j++) {
        memcpy(xp, x, D * sizeof(float));
        memcpy(xp + D, x, D * sizeof(float));
        xp[j] = (float) (x[j] + h);
        xp[D + j] = (float) (x[j] - h);
        mf_mlp_forward_shared_t(m, ws, xp, t, NULL, 2, out);
        for (size_t i = 0; i < D; i++) { /* J[i][j] = d eps_i / d x_j */
            J[i * D + j] = ((double) out[i] - (double) out[D + i]) / (2.0 * h);
        }
    }
    mf_mlp_ws_free(ws);
}

START_TEST(test_mlp_adapter_divergence)
{
    static const size_t dims[] = {2, 5};
    for (size_t a = 0; a < 2; a++) {
        size_t D = dims[a], n = 37; /* 37 rows over a 16-row workspace: three chunks */
        mf_mlp *m = small_net(D);
        mf_mlp_div_ctx c;
        ck_assert_int_eq(mf_mlp_div_ctx_init(&c, m, 16), MF_OK);
        float *x = malloc(n * D * sizeof(float)), *eps = malloc(n * D * sizeof(float));
        float *probe = malloc(n * D * sizeof(float)), *ref = malloc(n * D * sizeof(float));
        double div[37], div_h[37], J[MAXD * MAXD];
        ck_assert(x != NULL && eps != NULL && probe != NULL && ref != NULL);
        mf_rng_normal(mf_rng_make(3), 0, x, n * D);
        for (size_t j = 0; j < n * D; j++) {
            probe[j] = (j * 7 + j / 3) % 2 ? 1.0f : -1.0f;
        }
        float t = 137.0f;
        mf_mlp_eps_div_eval(&c, x, n, t, NULL, eps, div);
        mf_mlp_eps_div_eval(&c, x, n, t, probe, eps, div_h);
        /* eps itself equals the plain forward. */
        mf_mlp_ws *ws = NULL;
        ck_assert_int_eq(mf_mlp_ws_new(m, n, false, &ws), MF_OK);
        mf_mlp_forward_shared_t(m, ws, x, t, NULL, n, ref);
        mf_mlp_ws_free(ws);
        for (size_t j = 0; j < n * D; j++) {
            ck_assert(fabs(eps[j] - ref[j]) <= 1e-6 * (1.0 + fabs(ref[j])));
        }
        for (size_t r = 0; r < n; r++) {
            fd_jacobian(m, x + r * D, D, t, J);
            double tr = 0.0, q = 0.0, scale = 0.0;
            for (size_t i = 0; i < D; i++) {
                tr += J[i * D + i];
                for (size_t j = 0; j < D; j++) {
                    q += (double) probe[r * D + i] * J[i * D + j] * (double) probe[r * D + j];
                    scale += fabs(J[i * D + j]);
                }
            }
            ck_assert_msg(fabs(div[r] - tr) < 2e-3 * scale + 1e-4, "D %zu row %zu: %.6g vs %.6g", D,
                          r, div[r], tr);
            ck_assert_msg(fabs(div_h[r] - q) < 2e-3 * scale + 1e-4, "D %zu row %zu: %.6g vs %.6g",
                          D, r, div_h[r], q);
        }
        mf_mlp_div_ctx_deinit(&c);
        mf_mlp_free(m);
        free(x);
        free(eps);
        free(probe);
        free(ref);
    }
}

END_TEST

/* ---- control ---------------------------------------------------------------------------- */

static void count_progress(void *ctx, size_t done, size_t total)
{
    size_t *c = ctx;
    ck_assert_uint_le(done, total);
    c[0]++;
    c[1] = total;
}

static void cancel_after(void *ctx, size_t done, size_t total)
{
    (void) total;
    if (done >= 10) {
        atomic_store((atomic_int *) ctx, 1);
    }
}

START_TEST(test_progress_cancel_errors)
{
    gauss g;
    gauss_init(&g, 2, (const double[]){1.0, 1.0});
    float x[4] = {0.1f, 0.2f, -0.3f, 0.4f};
    double lp[2] = {-7.0, -7.0};
    mf_eps_div_fn f = {gauss_eval, &g};
    size_t count[2] = {0, 0};
    mf_ode_lik_opts o = opts(25, MF_DIV_AUTO);
    o.progress = count_progress;
    o.progress_ctx = count;
    ck_assert_int_eq(mf_ode_loglik(&sched, f, &o, x, 2, 2, lp), MF_OK);
    ck_assert_uint_eq(count[0], 49);
    ck_assert_uint_eq(count[1], mf_ode_lik_n_evals(&o));

    atomic_int stop = 0;
    o = opts(100, MF_DIV_AUTO);
    o.cancel = &stop;
    o.progress = cancel_after;
    o.progress_ctx = &stop;
    lp[0] = lp[1] = -7.0;
    ck_assert_int_eq(mf_ode_loglik(&sched, f, &o, x, 2, 2, lp), MF_ECANCELED);
    stop = 0;
    ck_assert_int_eq(mf_ode_sample_logp(&sched, f, &o, x, 2, 2, lp), MF_ECANCELED);
    ck_assert(lp[0] == -7.0 && lp[1] == -7.0);

    o = opts(10, MF_DIV_AUTO);
    ck_assert_int_eq(mf_ode_loglik(NULL, f, &o, x, 2, 2, lp), MF_EINVAL);
    ck_assert_int_eq(mf_ode_loglik(&sched, (mf_eps_div_fn){NULL, NULL}, &o, x, 2, 2, lp),
                     MF_EINVAL);
    ck_assert_int_eq(mf_ode_loglik(&sched, f, &o, NULL, 2, 2, lp), MF_EINVAL);
    ck_assert_int_eq(mf_ode_loglik(&sched, f, &o, x, 0, 2, lp), MF_EINVAL);
    ck_assert_int_eq(mf_ode_loglik(&sched, f, &o, x, 2, 0, lp), MF_EINVAL);
    ck_assert_int_eq(mf_ode_loglik(&sched, f, &o, x, 2, 2, NULL), MF_EINVAL);
    o.steps = 0;
    ck_assert_int_eq(mf_ode_loglik(&sched, f, &o, x, 2, 2, lp), MF_EINVAL);
    o.steps = 1001;
    ck_assert_int_eq(mf_ode_loglik(&sched, f, &o, x, 2, 2, lp), MF_EINVAL);
    o = opts(10, (mf_div_kind) 7);
    ck_assert_int_eq(mf_ode_loglik(&sched, f, &o, x, 2, 2, lp), MF_EINVAL);
    o = opts(10, MF_DIV_AUTO);
    x[1] = NAN;
    ck_assert_int_eq(mf_ode_loglik(&sched, f, &o, x, 2, 2, lp), MF_ERANGE);
    ck_assert(lp[0] == -7.0);
    ck_assert_str_eq(mf_div_name(MF_DIV_HUTCHINSON), "hutchinson");
}

END_TEST

/*
 * One grid step: a single Euler leg from sigma_T to 0 evaluated at t = T-1.
 * For unit-variance data eps = sqrt(1 - ab) x, so in y = x / sqrt(ab):
 * y0 = y_T - sigma_T sqrt(1 - ab) sqrt(ab) y_T = ab y_T, and the log-density
 * bookkeeping is log N(y_T; 0, I/ab) - h sqrt(ab) div = prior + D (1 - ab).
 * This pins the prior, the noise stream and the signs.
 */
START_TEST(test_one_step_bookkeeping)
{
    gauss g;
    gauss_init(&g, 2, (const double[]){1.0, 1.0});
    float x[4], xT[4];
    double lp[2];
    mf_ode_lik_opts o = opts(1, MF_DIV_AUTO);
    mf_eps_div_fn f = {gauss_eval, &g};
    ck_assert_int_eq(mf_ode_sample_logp(&sched, f, &o, x, 2, 2, lp), MF_OK);
    ck_assert_uint_eq(g.calls, 1);
    mf_rng_normal(mf_rng_derive(mf_rng_make(o.seed), MF_SAMPLER_STREAM_INIT), 0, xT, 4);
    double ab = sched.alpha_bar[999];
    for (size_t i = 0; i < 2; i++) {
        double q = 0.0;
        for (size_t d = 0; d < 2; d++) {
            double y = xT[2 * i + d] / sqrt(ab);
            /* y - sigma eps cancels to ab y: eps is a float, so |y| 1e-7 is the precision. */
            ck_assert_msg(fabs(x[2 * i + d] - ab * y) < 1e-6 * fabs(y), "%g vs %g", x[2 * i + d],
                          ab * y);
            q += y * y;
        }
        double prior = -(LOG_2PI - log(ab)) - 0.5 * ab * q;
        ck_assert_msg(fabs(lp[i] - (prior + 2.0 * (1.0 - ab))) < 1e-5, "%.8f vs %.8f", lp[i],
                      prior + 2.0 * (1.0 - ab));
    }
}

END_TEST

static Suite *likelihood_suite(void)
{
    Suite *s = suite_create("likelihood");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_gaussian_loglik_2d);
    tcase_add_test(tc, test_gaussian_loglik_16d_exact_and_hutchinson);
    tcase_add_test(tc, test_sample_logp);
    tcase_add_test(tc, test_split_invariance);
    tcase_add_test(tc, test_mlp_adapter_divergence);
    tcase_add_test(tc, test_progress_cancel_errors);
    tcase_add_test(tc, test_one_step_bookkeeping);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(likelihood_suite)
