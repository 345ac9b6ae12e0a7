/* SPDX-License-Identifier: MIT */
/*
 * test_reward.c - core/reward.c: the ridge oracle of ALGORITHMS.md (1,000 noisy
 * labels on linear_subspace recover theta with cosine >= 0.99), exact ridge
 * solutions, an MLP that must learn a nonlinear function a linear model cannot,
 * the input gradient against finite differences, pseudo-label noise, options and
 * errors.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "reward.h"
#include "rng.h"
#include "test_util.h"

/* ---- oracle 1: ridge on linear_subspace ------------------------------------------- */

START_TEST(test_ridge_recovers_theta)
{
    enum {
        D = MF_DATASET_SUBSPACE_D,
        N = 1000
    };

    float *x = malloc(N * D * sizeof(float)), *y = malloc(N * sizeof(float)), theta[D], e[N];
    ck_assert_int_eq(mf_dataset_sample(MF_DATASET_LINEAR_SUBSPACE, mf_rng_make(3), 0, x, N), MF_OK);
    mf_dataset_linear_subspace_theta(theta);
    mf_rng_normal(mf_rng_make(4), 0, e, N);
    for (size_t i = 0; i < N; i++) {
        double dot = 0.0;
        for (size_t d = 0; d < D; d++) {
            dot += (double) theta[d] * (double) x[i * D + d];
        }
        y[i] = (float) (dot + 0.1 * (double) e[i]);
    }
    mf_reward_opts o = mf_reward_opts_default(); /* ridge, lambda 1e-3, 20 % held out */
    mf_reward_model *r = NULL;
    mf_reward_stats st;
    mf_diag d = {0};
    ck_assert_msg(mf_reward_fit(&o, x, y, N, D, &r, &st, &d) == MF_OK, "%s", d.msg);
    ck_assert_uint_eq(st.n_train, 800);
    ck_assert_uint_eq(st.n_val, 200);
    double dot = 0.0, nn = 0.0;
    for (size_t i = 0; i < D; i++) {
        dot += (double) r->params[i] * (double) theta[i];
        nn += (double) r->params[i] * (double) r->params[i];
    }
    double cosine = dot / sqrt(nn);
    /* Label noise 0.1 against a unit-variance signal: R^2 about 0.99, MSE about 0.01. */
    ck_assert_msg(cosine >= 0.99, "cosine %.5f", cosine);
    ck_assert_msg(st.val_r2 > 0.98, "val R^2 %.4f", st.val_r2);
    ck_assert_msg(st.train_mse > 0.005 && st.train_mse < 0.015, "train MSE %.4f", st.train_mse);
    ck_assert_double_eq_tol(r->params[D], 0.0, 0.02); /* no intercept in the truth */

    /* The gradient of a ridge model is theta in every row; f is theta^T x + b. */
    mf_reward_ws *ws = NULL;
    ck_assert_int_eq(mf_reward_ws_new(r, 7, &ws), MF_OK);
    float *g = malloc(20 * D * sizeof(float)), f[20], f2[20];
    mf_reward_grad(r, ws, x, 20, f, g);
    mf_reward_predict(r, ws, x, 20, f2);
    for (size_t i = 0; i < 20; i++) {
        ck_assert(f[i] == f2[i]);
        ck_assert_mem_eq(g + i * D, r->params, D * sizeof(float));
    }
    mf_reward_grad(r, ws, x, 20, NULL, g); /* f optional */
    ck_assert_mem_eq(g + 19 * D, r->params, D * sizeof(float));
    free(g);
    mf_reward_ws_free(ws);
    mf_reward_free(r);
    free(x);
    free(y);
}

END_TEST

/* Noise-free labels of an affine function: lambda 0 gives it back; too few rows is singular. */
START_TEST(test_ridge_exact_and_singular)
{
    enum {
        N = 50,
        D = 3
    };

    float x[N * D], y[N];
    mf_rng_normal(mf_rng_make(5), 0, x, N * D);
    for (size_t i = 0; i < N; i++) {
        y[i] = 2.0f * x[i * D] - x[i * D + 1] + 0.25f * x[i * D + 2] + 3.0f;
    }
    mf_reward_opts o = mf_reward_opts_default();
    o.lambda = 0.0;
    mf_reward_model *r = NULL;
    mf_reward_stats st;
    ck_assert_int_eq(mf_reward_fit(&o, x, y, N, D, &r, &st, NULL), MF_OK);
    const float want[] = {2.0f, -1.0f, 0.25f, 3.0f};
    for (size_t i = 0; i < 4; i++) {
        ck_assert_float_eq_tol(r->params[i], want[i], 1e-5);
    }
    ck_assert_double_lt(st.train_mse, 1e-10);
    ck_assert_double_gt(st.val_r2, 0.999999);
    ck_assert_int_eq(r->kind, MF_REWARD_RIDGE);
    ck_assert_uint_eq(r->n_layers, 1);
    mf_reward_free(r);

    /* 3 training rows in 3-D, centred: rank 2 < 3, no solution without a penalty. */
    mf_reward_model *bad = (mf_reward_model *) 0x1;
    mf_diag d = {0};
    o.val_frac = 0.0;
    ck_assert_int_eq(mf_reward_fit(&o, x, y, 3, D, &bad, NULL, &d), MF_ERANGE);
    ck_assert_ptr_nonnull(strstr(d.msg, "raise lambda"));
    ck_assert_ptr_eq(bad, (mf_reward_model *) 0x1);
    o.lambda = 1e-3; /* the penalty makes it solvable */
    ck_assert_int_eq(mf_reward_fit(&o, x, y, 3, D, &bad, &st, NULL), MF_OK);
    ck_assert(isnan(st.val_r2) && st.n_val == 0);
    mf_reward_free(bad);
}

END_TEST

/* ---- MLP ---------------------------------------------------------------------------- */

/* y = sin(2 x_1) + x_2^2 - 1 on U[-2, 2]^2, in data space offset by 100 and scaled by 8. */
static void nonlinear_set(size_t n, float *x, float *y)
{
    mf_rng_uniform(mf_rng_make(6), 0, x, 2 * n);
    for (size_t i = 0; i < n; i++) {
        double a = 4.0 * x[2 * i] - 2.0, b = 4.0 * x[2 * i + 1] - 2.0;
        y[i] = (float) (sin(2.0 * a) + b * b - 1.0);
        x[2 * i] = (float) (100.0 + 8.0 * a);
        x[2 * i + 1] = (float) (100.0 + 8.0 * b);
    }
}

START_TEST(test_mlp_fits_nonlinear)
{
    enum {
        N = 2000
    };

    float *x = malloc(N * 2 * sizeof(float)), *y = malloc(N * sizeof(float));
    nonlinear_set(N, x, y);
    mf_reward_opts o = mf_reward_opts_default();
    mf_reward_model *lin = NULL, *mlp = NULL;
    mf_reward_stats sl, sm;
    ck_assert_int_eq(mf_reward_fit(&o, x, y, N, 2, &lin, &sl, NULL), MF_OK);
    o.kind = MF_REWARD_MLP;
    o.seed = 1;
    mf_diag d = {0};
    ck_assert_msg(mf_reward_fit(&o, x, y, N, 2, &mlp, &sm, &d) == MF_OK, "%s", d.msg);
    /* Var y = Var sin(2a) + Var b^2 = 0.49 + 1.42: a linear model explains almost none of
     * it (both parts are even or odd around the centre in the other variable); the MLP,
     * trained on raw inputs near 100 (standardisation folded in), nearly all. */
    ck_assert_msg(sl.val_r2 < 0.2, "ridge R^2 %.3f", sl.val_r2);
    /* measured 0.9992 (0.990 after 250 steps) */
    ck_assert_msg(sm.val_r2 > 0.99, "mlp R^2 %.4f (train MSE %.4f)", sm.val_r2, sm.train_mse);
    ck_assert_uint_eq(mlp->n_layers, 3);
    ck_assert_uint_eq(mlp->out_dim[2], 1);

    /* Seeded: the same options give the same weights. */
    mf_reward_model *again = NULL;
    ck_assert_int_eq(mf_reward_fit(&o, x, y, N, 2, &again, NULL, NULL), MF_OK);
    ck_assert_mem_eq(again->params, mlp->params, mlp->n_params * sizeof(float));
    mf_reward_free(again);
    mf_reward_free(lin);
    mf_reward_free(mlp);
    free(x);
    free(y);
}

END_TEST

/* The MLP's input gradient against central differences of its own forward. */
START_TEST(test_mlp_grad_finite_differences)
{
    enum {
        D = 5,
        N = 9
    };

    const size_t hidden[] = {16, 12};
    mf_reward_model *r = NULL;
    ck_assert_int_eq(mf_reward_new(MF_REWARD_MLP, D, hidden, 2, &r), MF_OK);
    mf_rng_normal(mf_rng_make(7), 0, r->params, r->n_params);
    for (size_t i = 0; i < r->n_params; i++) {
        r->params[i] *= 0.5f;
    }
    float x[N * D], g[N * D], f[N], xp[D], fp, fm;
    mf_rng_normal(mf_rng_make(8), 0, x, N * D);
    mf_reward_ws *ws = NULL;
    ck_assert_int_eq(mf_reward_ws_new(r, 4, &ws), MF_OK); /* chunks of 4 rows */
    mf_reward_grad(r, ws, x, N, f, g);
    double worst = 0.0, h = 1e-2;
    for (size_t i = 0; i < N; i++) {
        for (size_t d = 0; d < D; d++) {
            memcpy(xp, x + i * D, sizeof xp);
            xp[d] = (float) ((double) x[i * D + d] + h);
            mf_reward_predict(r, ws, xp, 1, &fp);
            xp[d] = (float) ((double) x[i * D + d] - h);
            mf_reward_predict(r, ws, xp, 1, &fm);
            double fd = ((double) fp - (double) fm) / (2.0 * h);
            double err = fabs(fd - (double) g[i * D + d]) / (1.0 + fabs(fd));
            worst = err > worst ? err : worst;
        }
        mf_reward_predict(r, ws, x + i * D, 1, &fp);
        ck_assert(fp == f[i]);
    }
    /* float forward, h = 0.01: truncation h^2 |f'''| ~ 1e-4, rounding 1e-7 / h ~ 1e-5 */
    ck_assert_msg(worst < 2e-3, "worst relative error %.2e", worst);
    mf_reward_ws_free(ws);
    mf_reward_free(r);
}

END_TEST

/* ---- training pieces: per-row upstream gradients, row ranges, initialisation --------- */

/* L = sum_r w_r f(x_r) in double (the loss whose gradient df = w gives). */
static double weighted_sum(const mf_reward_model *r, mf_reward_ws *ws, const float *x,
                           const float *w, size_t n)
{
    float f[16];
    mf_reward_forward(r, ws, x, n, f);
    double l = 0.0;
    for (size_t i = 0; i < n; i++) {
        l += (double) w[i] * (double) f[i];
    }
    return l;
}

/*
 * mf_reward_backward's parameter gradient against central differences of
 * L = sum_r w_r f(x_r), every parameter, and its input gradient restricted to
 * the first 2 of 4 columns (a value network on [x, emb] needs the x part only).
 * Float forward, h = 1e-2: truncation h^2 |d^3 L| ~ 1e-4, rounding 1e-6 / h.
 */
START_TEST(test_backward_finite_differences)
{
    enum {
        D = 4,
        N = 7,
        COLS = 2
    };

    const size_t hidden[] = {6, 5};
    for (int kind = 0; kind <= 1; kind++) {
        mf_reward_model *r = NULL;
        ck_assert_int_eq(mf_reward_new((mf_reward_kind) kind, D, hidden, kind == 0 ? 0 : 2, &r),
                         MF_OK);
        mf_reward_init_params(r, 3);
        float x[N * D], w[N], dx[N * COLS], xp[N * D];
        mf_rng_normal(mf_rng_make(9), 0, x, N * D);
        mf_rng_normal(mf_rng_make(10), 0, w, N);
        float *grad = calloc(r->n_params, sizeof(float));
        mf_reward_ws *ws = NULL;
        ck_assert_int_eq(mf_reward_ws_new(r, N, &ws), MF_OK);
        float f[N];
        mf_reward_forward(r, ws, x, N, f);
        for (size_t i = 0; i < N * COLS; i++) {
            dx[i] = 1.0f; /* accumulates: 1 + the gradient */
        }
        mf_reward_backward(r, ws, x, w, N, grad, dx, COLS);
        double worst = 0.0, h = 1e-2;
        for (size_t p = 0; p < r->n_params; p++) {
            float keep = r->params[p];
            r->params[p] = (float) ((double) keep + h);
            double lp = weighted_sum(r, ws, x, w, N);
            r->params[p] = (float) ((double) keep - h);
            double lm = weighted_sum(r, ws, x, w, N);
            r->params[p] = keep;
            double fd = (lp - lm) / (2.0 * h), err = fabs(fd - grad[p]) / (1.0 + fabs(fd));
            worst = err > worst ? err : worst;
        }
        for (size_t i = 0; i < N; i++) {
            for (size_t d = 0; d < COLS; d++) {
                memcpy(xp, x, sizeof xp);
                xp[i * D + d] += (float) h;
                double lp = weighted_sum(r, ws, xp, w, N);
                xp[i * D + d] -= (float) (2.0 * h);
                double lm = weighted_sum(r, ws, xp, w, N);
                double fd = (lp - lm) / (2.0 * h), g = (double) dx[i * COLS + d] - 1.0;
                double err = fabs(fd - g) / (1.0 + fabs(fd));
                worst = err > worst ? err : worst;
            }
        }
        ck_assert_msg(worst < 2e-3, "%s: worst relative error %.2e", mf_reward_kind_name(kind),
                      worst);
        /* backward accumulates: a second call doubles the parameter gradient */
        float *twice = malloc(r->n_params * sizeof(float));
        memcpy(twice, grad, r->n_params * sizeof(float));
        mf_reward_forward(r, ws, x, N, f);
        mf_reward_backward(r, ws, x, w, N, twice, NULL, 0);
        for (size_t p = 0; p < r->n_params; p++) {
            ck_assert_float_eq_tol(twice[p], 2.0f * grad[p], 1e-5f * (1.0f + fabsf(grad[p])));
        }
        free(twice);
        free(grad);
        mf_reward_ws_free(ws);
        mf_reward_free(r);
    }
}

END_TEST

/* Row ranges and parameter-gradient parts give what one backward gives. */
START_TEST(test_rows_and_parts)
{
    enum {
        D = 3,
        N = 11
    };

    const size_t hidden[] = {9, 7};
    mf_reward_model *r = NULL;
    ck_assert_int_eq(mf_reward_new(MF_REWARD_MLP, D, hidden, 2, &r), MF_OK);
    mf_reward_init_params(r, 4);
    float x[N * D], df[N], f1[N], f2[N], dx1[N * D] = {0}, dx2[N * D] = {0};
    mf_rng_normal(mf_rng_make(11), 0, x, N * D);
    mf_rng_normal(mf_rng_make(12), 0, df, N);
    float *g1 = calloc(r->n_params, sizeof(float)), *g2 = malloc(r->n_params * sizeof(float));
    mf_reward_ws *ws = NULL;
    ck_assert_int_eq(mf_reward_ws_new(r, N, &ws), MF_OK);
    ck_assert_uint_eq(mf_reward_ws_max_batch(ws), N);
    mf_reward_forward(r, ws, x, N, f1);
    mf_reward_backward(r, ws, x, df, N, g1, dx1, D);
    /* rows [4, 11) then [0, 4), then three parts (junk first: they overwrite) */
    for (size_t p = 0; p < r->n_params; p++) {
        g2[p] = 99.0f;
    }
    mf_reward_forward_rows(r, ws, 4, x + 4 * D, N - 4, f2 + 4);
    mf_reward_forward_rows(r, ws, 0, x, 4, f2);
    mf_reward_backward_rows(r, ws, 4, df + 4, N - 4, dx2 + 4 * D, D);
    mf_reward_backward_rows(r, ws, 0, df, 4, dx2, D);
    double ss = 0.0;
    for (size_t part = 0; part < 3; part++) {
        ss += mf_reward_param_grad_part(r, ws, x, N, part, 3, g2);
    }
    for (size_t i = 0; i < N; i++) {
        ck_assert_float_eq_tol(f2[i], f1[i], 1e-6f * (1.0f + fabsf(f1[i])));
    }
    double ref = 0.0;
    for (size_t p = 0; p < r->n_params; p++) {
        ck_assert_float_eq_tol(g2[p], g1[p], 1e-5f * (1.0f + fabsf(g1[p])));
        ref += (double) g1[p] * (double) g1[p];
    }
    ck_assert_double_eq_tol(ss, ref, 1e-4 * ref);
    for (size_t i = 0; i < N * D; i++) {
        ck_assert_float_eq_tol(dx2[i], dx1[i], 1e-5f * (1.0f + fabsf(dx1[i])));
    }
    free(g1);
    free(g2);
    mf_reward_ws_free(ws);
    mf_reward_free(r);
}

END_TEST

START_TEST(test_init_and_names)
{
    const size_t hidden[] = {128, 64};
    mf_reward_model *a = NULL, *b = NULL;
    ck_assert_int_eq(mf_reward_new(MF_REWARD_MLP, 18, hidden, 2, &a), MF_OK);
    ck_assert_int_eq(mf_reward_new(MF_REWARD_MLP, 18, hidden, 2, &b), MF_OK);
    mf_reward_init_params(a, 5);
    mf_reward_init_params(b, 5);
    ck_assert_mem_eq(a->params, b->params, a->n_params * sizeof(float));
    for (size_t i = 0; i < a->n_layers; i++) {
        /* U(-k, k), k = 1/sqrt(fan_in): within the bound, variance k^2/3 */
        size_t n = a->in_dim[i] * a->out_dim[i] + a->out_dim[i];
        double k = 1.0 / sqrt((double) a->in_dim[i]), m2 = 0.0;
        for (size_t j = 0; j < n; j++) {
            float v = a->params[a->w_off[i] + j];
            ck_assert(fabs(v) <= k);
            m2 += (double) v * v;
        }
        if (n > 1000) {
            ck_assert_double_eq_tol(m2 / (double) n, k * k / 3.0, 0.1 * k * k / 3.0);
        }
    }
    mf_reward_init_params(b, 6);
    ck_assert(memcmp(a->params, b->params, a->n_params * sizeof(float)) != 0);

    char w[MF_REWARD_NAME_CAP], bn[MF_REWARD_NAME_CAP];
    mf_reward_tensor_names_prefix(a, "energy", 2, w, bn);
    ck_assert_str_eq(w, "energy.layers.2.weight");
    ck_assert_str_eq(bn, "energy.layers.2.bias");
    mf_reward_tensor_names_prefix(a, "sixteen_bytes_ab", 2, w, bn);
    ck_assert_str_eq(w, "sixteen_bytes_ab.layers.2.weight"); /* MF_REWARD_PREFIX_MAX fits */
    mf_reward_tensor_names(a, 0, w, bn);
    ck_assert_str_eq(w, "reward.layers.0.weight");
    mf_reward_free(a);
    mf_reward_free(b);
    ck_assert_int_eq(mf_reward_new(MF_REWARD_RIDGE, 2, NULL, 0, &a), MF_OK);
    mf_reward_tensor_names_prefix(a, "value", 0, w, bn);
    ck_assert_str_eq(w, "value.weight");
    ck_assert_str_eq(bn, "value.bias");
    mf_reward_free(a);
}

END_TEST

/* ---- pseudo-labels ------------------------------------------------------------------- */

START_TEST(test_pseudo_labels)
{
    enum {
        N = 20000,
        D = 3
    };

    mf_reward_model *r = NULL;
    ck_assert_int_eq(mf_reward_new(MF_REWARD_RIDGE, D, NULL, 0, &r), MF_OK);
    r->params[0] = 1.0f;
    r->params[1] = -2.0f;
    r->params[3] = 0.5f;
    float *x = malloc(N * D * sizeof(float)), *y = malloc(N * sizeof(float));
    float *y0 = malloc(N * sizeof(float)), *yp = malloc(100 * sizeof(float));
    mf_rng_normal(mf_rng_make(9), 0, x, N * D);
    ck_assert_int_eq(mf_reward_pseudo_labels(r, x, N, 0.0, 1, y0), MF_OK);
    ck_assert_int_eq(mf_reward_pseudo_labels(r, x, N, 0.5, 1, y), MF_OK);
    double m = 0.0, v = 0.0;
    for (size_t i = 0; i < N; i++) {
        ck_assert_float_eq_tol(y0[i], x[i * D] - 2.0f * x[i * D + 1] + 0.5f, 1e-5);
        double e = (double) y[i] - (double) y0[i];
        m += e;
        v += e * e;
    }
    m /= N;
    v = v / N - m * m;
    /* nu xi with xi ~ N(0, 1): mean 0 (s.e. 0.0035), variance 0.25 (s.e. 0.0025) */
    ck_assert_double_eq_tol(m, 0.0, 0.015);
    ck_assert_double_eq_tol(v, 0.25, 0.0125);
    ck_assert_int_eq(mf_reward_pseudo_labels(r, x, 100, 0.5, 1, yp), MF_OK); /* a prefix */
    ck_assert_mem_eq(yp, y, 100 * sizeof(float));
    ck_assert_int_eq(mf_reward_pseudo_labels(r, x, 100, 0.5, 2, yp), MF_OK); /* another seed */
    ck_assert(memcmp(yp, y, 100 * sizeof(float)) != 0);
    ck_assert_int_eq(mf_reward_pseudo_labels(r, x, 100, -0.1, 1, yp), MF_EINVAL);
    ck_assert_int_eq(mf_reward_pseudo_labels(r, x, 100, NAN, 1, yp), MF_EINVAL);
    free(x);
    free(y);
    free(y0);
    free(yp);
    mf_reward_free(r);
}

END_TEST

/* ---- options, construction, errors --------------------------------------------------- */

typedef struct opts_case {
    const char *name;
    void (*edit)(mf_reward_opts *o);
    const char *field; /* NULL: valid */
} opts_case;

static void e_kind(mf_reward_opts *o)
{
    o->kind = (mf_reward_kind) 7;
}

static void e_lambda(mf_reward_opts *o)
{
    o->lambda = -1.0;
}

static void e_lambda_inf(mf_reward_opts *o)
{
    o->lambda = INFINITY;
}

static void e_val(mf_reward_opts *o)
{
    o->val_frac = 0.6;
}

static void e_val_nan(mf_reward_opts *o)
{
    o->val_frac = NAN;
}

static void e_mlp(mf_reward_opts *o)
{
    o->kind = MF_REWARD_MLP;
}

static void e_hidden0(mf_reward_opts *o)
{
    e_mlp(o);
    o->n_hidden = 0;
}

static void e_hidden5(mf_reward_opts *o)
{
    e_mlp(o);
    o->n_hidden = 5;
}

static void e_width(mf_reward_opts *o)
{
    e_mlp(o);
    o->hidden[1] = 0;
}

static void e_width_big(mf_reward_opts *o)
{
    e_mlp(o);
    o->hidden[0] = 4097;
}

static void e_steps(mf_reward_opts *o)
{
    e_mlp(o);
    o->steps = 0;
}

static void e_batch(mf_reward_opts *o)
{
    e_mlp(o);
    o->batch = 0;
}

static void e_lr(mf_reward_opts *o)
{
    e_mlp(o);
    o->lr = 0.0;
}

static void e_lr_big(mf_reward_opts *o)
{
    e_mlp(o);
    o->lr = 2.0;
}

static void e_ridge_ignores_mlp(mf_reward_opts *o)
{
    o->steps = 0;
    o->lr = -1;
}

static const opts_case opts_cases[] = {
    {"kind", e_kind, "kind"},
    {"lambda", e_lambda, "lambda"},
    {"lambda inf", e_lambda_inf, "lambda"},
    {"val_frac", e_val, "val_frac"},
    {"val_frac nan", e_val_nan, "val_frac"},
    {"mlp default", e_mlp, NULL},
    {"hidden 0", e_hidden0, "hidden"},
    {"hidden 5", e_hidden5, "hidden"},
    {"width 0", e_width, "hidden"},
    {"width big", e_width_big, "hidden"},
    {"steps", e_steps, "steps"},
    {"batch", e_batch, "batch"},
    {"lr 0", e_lr, "lr"},
    {"lr 2", e_lr_big, "lr"},
    {"ridge ignores mlp fields", e_ridge_ignores_mlp, NULL},
};

START_TEST(test_opts_check)
{
    const opts_case *c = &opts_cases[_i];
    mf_reward_opts o = mf_reward_opts_default();
    c->edit(&o);
    mf_diag d = {0};
    mf_err err = mf_reward_opts_check(&o, &d);
    if (c->field == NULL) {
        ck_assert_msg(err == MF_OK, "%s: %s", c->name, d.msg);
    } else {
        ck_assert_msg(err == MF_EINVAL, "%s accepted", c->name);
        ck_assert_str_eq(d.field, c->field);
        ck_assert(d.msg[0] != '\0');
    }
}

END_TEST

START_TEST(test_new_and_errors)
{
    size_t h[] = {8, 4};
    mf_reward_model *r = (mf_reward_model *) 0x1;
    ck_assert_int_eq(mf_reward_new(MF_REWARD_RIDGE, 3, h, 1, &r), MF_EINVAL);
    ck_assert_int_eq(mf_reward_new(MF_REWARD_MLP, 3, h, 0, &r), MF_EINVAL);
    ck_assert_int_eq(mf_reward_new(MF_REWARD_MLP, 0, h, 2, &r), MF_EINVAL);
    ck_assert_int_eq(mf_reward_new((mf_reward_kind) 3, 3, h, 0, &r), MF_EINVAL);
    ck_assert_ptr_eq(r, (mf_reward_model *) 0x1);
    ck_assert_int_eq(mf_reward_new(MF_REWARD_MLP, 3, h, 2, &r), MF_OK);
    ck_assert_uint_eq(r->n_params, 3 * 8 + 8 + 8 * 4 + 4 + 4 + 1);
    ck_assert_uint_eq(r->w_off[2], 3 * 8 + 8 + 8 * 4 + 4);
    char w[MF_REWARD_NAME_CAP], b[MF_REWARD_NAME_CAP];
    size_t shape[2];
    mf_reward_tensor_names(r, 1, w, b);
    ck_assert_str_eq(w, "reward.layers.1.weight");
    ck_assert_str_eq(b, "reward.layers.1.bias");
    ck_assert_uint_eq(mf_reward_weight_shape(r, 1, shape), 2);
    ck_assert(shape[0] == 4 && shape[1] == 8);
    mf_reward_model *c = NULL;
    r->params[5] = 3.0f;
    ck_assert_int_eq(mf_reward_clone(r, &c), MF_OK);
    ck_assert_mem_eq(c->params, r->params, r->n_params * sizeof(float));
    ck_assert_ptr_ne(c->params, r->params);
    mf_reward_free(c);
    mf_reward_free(r);
    mf_reward_free(NULL);
    ck_assert_int_eq(mf_reward_new(MF_REWARD_RIDGE, 3, NULL, 0, &r), MF_OK);
    mf_reward_tensor_names(r, 0, w, b);
    ck_assert_str_eq(w, "reward.weight");
    ck_assert_str_eq(b, "reward.bias");
    ck_assert_uint_eq(mf_reward_weight_shape(r, 0, shape), 1);
    ck_assert_uint_eq(shape[0], 3);
    mf_reward_free(r);

    mf_reward_kind k = MF_REWARD_RIDGE;
    ck_assert_int_eq(mf_reward_kind_lookup("mlp", &k), MF_OK);
    ck_assert_int_eq(k, MF_REWARD_MLP);
    ck_assert_int_eq(mf_reward_kind_lookup("MLP", &k), MF_ENOTFOUND);
    ck_assert_int_eq(mf_reward_kind_lookup(NULL, &k), MF_ENOTFOUND);
    ck_assert_str_eq(mf_reward_kind_name(MF_REWARD_RIDGE), "ridge");

    /* Fit errors: too few rows, non-finite data, bad options; *ret untouched. */
    float x[8] = {0, 1, 2, 3, 4, 5, 6, 7}, y[4] = {1, 2, 3, 4};
    mf_reward_opts o = mf_reward_opts_default();
    mf_diag d = {0};
    r = (mf_reward_model *) 0x1;
    ck_assert_int_eq(mf_reward_fit(&o, x, y, 1, 4, &r, NULL, &d), MF_EINVAL); /* 1 train row */
    ck_assert_ptr_nonnull(strstr(d.msg, "at least 2"));
    y[2] = NAN;
    ck_assert_int_eq(mf_reward_fit(&o, x, y, 4, 2, &r, NULL, &d), MF_ERANGE);
    ck_assert_str_eq(d.field, "labels");
    y[2] = 3;
    o.lambda = -1;
    ck_assert_int_eq(mf_reward_fit(&o, x, y, 4, 2, &r, NULL, &d), MF_EINVAL);
    ck_assert_int_eq(mf_reward_fit(NULL, x, y, 4, 2, &r, NULL, &d), MF_EINVAL);
    o = mf_reward_opts_default();
    ck_assert_int_eq(mf_reward_fit(&o, NULL, y, 4, 2, &r, NULL, &d), MF_EINVAL);
    ck_assert_int_eq(mf_reward_fit(&o, x, y, 4, 0, &r, NULL, &d), MF_EINVAL);
    ck_assert_ptr_eq(r, (mf_reward_model *) 0x1);
    mf_reward_ws *ws = (mf_reward_ws *) 0x1;
    ck_assert_int_eq(mf_reward_new(MF_REWARD_RIDGE, 3, NULL, 0, &r), MF_OK);
    ck_assert_int_eq(mf_reward_ws_new(r, 0, &ws), MF_EINVAL);
    ck_assert_ptr_eq(ws, (mf_reward_ws *) 0x1);
    mf_reward_free(r);
}

END_TEST

static Suite *reward_suite(void)
{
    Suite *s = suite_create("reward");
    TCase *tc = tcase_create("ridge");
    tcase_add_test(tc, test_ridge_recovers_theta);
    tcase_add_test(tc, test_ridge_exact_and_singular);
    suite_add_tcase(s, tc);

    tc = tcase_create("mlp");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_mlp_fits_nonlinear);
    tcase_add_test(tc, test_mlp_grad_finite_differences);
    suite_add_tcase(s, tc);

    tc = tcase_create("training");
    tcase_add_test(tc, test_backward_finite_differences);
    tcase_add_test(tc, test_rows_and_parts);
    tcase_add_test(tc, test_init_and_names);
    suite_add_tcase(s, tc);

    tc = tcase_create("pseudo_labels");
    tcase_add_test(tc, test_pseudo_labels);
    suite_add_tcase(s, tc);

    tc = tcase_create("api");
    tcase_add_loop_test(tc, test_opts_check, 0, (int) (sizeof opts_cases / sizeof opts_cases[0]));
    tcase_add_test(tc, test_new_and_errors);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(reward_suite)
