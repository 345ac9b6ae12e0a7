/* SPDX-License-Identifier: MIT */
/*
 * Tests of core/mlp.c.
 *  - forward (per-row t and shared t, every fast path) against a naive
 *    double-precision implementation written from DESIGN.md's definition;
 *  - backward to parameters and to the input against central finite
 *    differences of that double-precision reference (float64 accumulation);
 *  - the input VJP alone (d_params NULL) equals the one from the full backward.
 */
#include "mlp.h"

#include "rng.h"
#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- a naive reference in double ------------------------------------------------ */

static double ref_silu(double z)
{
    return z / (1.0 + exp(-z));
}

/* out (D) for one row; params as double copies so finite differences are exact-ish. */
static void ref_forward_row(const mf_mlp *m, const double *p, const float *x, float t,
                            const float *c, double *out)
{
    const mf_mlp_config *cfg = &m->cfg;
    size_t D = cfg->data_dim, E = cfg->emb_dim, C = cfg->cond_dim;
    double in[1024], h[1024];
    for (size_t d = 0; d < D; d++) {
        in[d] = x[d];
    }
    for (size_t j = 0; j < E / 2; j++) {
        /* the embedding in float32, as the network defines it */
        float a = t * m->freqs[j];
        in[D + j] = sinf(a);
        in[D + E / 2 + j] = cosf(a);
    }
    for (size_t j = 0; j < C; j++) {
        in[D + E + j] = c[j];
    }
    for (size_t i = 0; i < m->n_layers; i++) {
        for (size_t o = 0; o < m->out_dim[i]; o++) {
            double s = p[m->b_off[i] + o];
            for (size_t k = 0; k < m->in_dim[i]; k++) {
                s += p[m->w_off[i] + o * m->in_dim[i] + k] * in[k];
            }
            h[o] = (i + 1 < m->n_layers) ? ref_silu(s) : s;
        }
        memcpy(in, h, m->out_dim[i] * sizeof(double));
    }
    memcpy(out, in, D * sizeof(double));
}

/* L = sum_r sum_d g[r, d] * eps(x_r)[d] in double. */
static double ref_loss(const mf_mlp *m, const double *p, const float *x, const float *t,
                       const float *c, const float *g, size_t n)
{
    size_t D = m->cfg.data_dim, C = m->cfg.cond_dim;
    double out[1024], L = 0.0;
    for (size_t r = 0; r < n; r++) {
        ref_forward_row(m, p, x + r * D, t[r], c != NULL ? c + r * C : NULL, out);
        for (size_t d = 0; d < D; d++) {
            L += (double) g[r * D + d] * out[d];
        }
    }
    return L;
}

typedef struct fixture {
    mf_mlp *m;
    float *x, *t, *c, *g;
    size_t n;
} fixture;

static fixture make_fixture(const mf_mlp_config *cfg, size_t n, uint64_t seed)
{
    fixture f = {.n = n};
    ck_assert_int_eq(mf_mlp_new(cfg, &f.m), MF_OK);
    mf_mlp_init_params(f.m, seed);
    size_t D = cfg->data_dim, C = cfg->cond_dim;
    f.x = malloc(n * D * sizeof(float));
    f.g = malloc(n * D * sizeof(float));
    f.t = malloc(n * sizeof(float));
    f.c = C > 0 ? malloc(n * C * sizeof(float)) : NULL;
    mf_rng r = mf_rng_make(seed + 1);
    mf_rng_normal(mf_rng_derive(r, 1), 0, f.x, n * D);
    mf_rng_normal(mf_rng_derive(r, 2), 0, f.g, n * D);
    for (size_t i = 0; i < n; i++) {
        f.t[i] = (float) mf_rng_below(r, i, 1000);
    }
    if (C > 0) {
        mf_rng_normal(mf_rng_derive(r, 3), 0, f.c, n * C);
    }
    return f;
}

static void free_fixture(fixture *f)
{
    mf_mlp_free(f->m);
    free(f->x);
    free(f->t);
    free(f->c);
    free(f->g);
}

static double *params_as_double(const mf_mlp *m)
{
    double *p = malloc(m->n_params * sizeof(double));
    for (size_t i = 0; i < m->n_params; i++) {
        p[i] = m->params[i];
    }
    return p;
}

/* Configurations that reach every path: thin first layer (D <= 8, C = 0), GEMM
 * first layer (D > 8 or C > 0), thin output (D <= 8), GEMM output (D > 8),
 * odd sizes that are not multiples of the vector width. */
static const mf_mlp_config configs[] = {
    {.data_dim = 2, .cond_dim = 0, .emb_dim = 8, .n_hidden = 2, .hidden = {16, 16}},
    {.data_dim = 3, .cond_dim = 2, .emb_dim = 4, .n_hidden = 3, .hidden = {7, 5, 6}},
    {.data_dim = 9, .cond_dim = 0, .emb_dim = 6, .n_hidden = 1, .hidden = {13}},
    {.data_dim = 1, .cond_dim = 0, .emb_dim = 2, .n_hidden = 1, .hidden = {3}},
    {.data_dim = 2, .cond_dim = 0, .emb_dim = 64, .n_hidden = 3, .hidden = {33, 17, 40}},
};
#define N_CONFIGS (sizeof configs / sizeof configs[0])

START_TEST(test_forward_matches_reference)
{
    fixture f = make_fixture(&configs[_i], 11, 100 + (uint64_t) _i);
    const mf_mlp *m = f.m;
    size_t D = m->cfg.data_dim, C = m->cfg.cond_dim;
    double *p = params_as_double(m), ref[1024];
    float *out = malloc(f.n * D * sizeof(float));
    for (int with_bw = 0; with_bw < 2; with_bw++) {
        mf_mlp_ws *ws;
        ck_assert_int_eq(mf_mlp_ws_new(m, 16, with_bw, &ws), MF_OK);
        mf_mlp_forward(m, ws, f.x, f.t, f.c, f.n, out);
        for (size_t r = 0; r < f.n; r++) {
            ref_forward_row(m, p, f.x + r * D, f.t[r], f.c ? f.c + r * C : NULL, ref);
            for (size_t d = 0; d < D; d++) {
                ck_assert_msg(fabs(out[r * D + d] - ref[d]) <= 2e-5 * (1 + fabs(ref[d])),
                              "cfg %d row %zu dim %zu: %g vs %g", _i, r, d, out[r * D + d], ref[d]);
            }
        }
        /* shared timestep: every row at t = 417 */
        mf_mlp_forward_shared_t(m, ws, f.x, 417.0f, f.c, f.n, out);
        for (size_t r = 0; r < f.n; r++) {
            ref_forward_row(m, p, f.x + r * D, 417.0f, f.c ? f.c + r * C : NULL, ref);
            for (size_t d = 0; d < D; d++) {
                ck_assert_msg(fabs(out[r * D + d] - ref[d]) <= 2e-5 * (1 + fabs(ref[d])),
                              "shared cfg %d row %zu: %g vs %g", _i, r, out[r * D + d], ref[d]);
            }
        }
        mf_mlp_ws_free(ws);
    }
    free(out);
    free(p);
    free_fixture(&f);
}
END_TEST

/* Central difference of ref_loss w.r.t. parameter j, step h. */
static double fd_param(const mf_mlp *m, double *p, const fixture *f, size_t j, double h)
{
    double keep = p[j];
    p[j] = keep + h;
    double lp = ref_loss(m, p, f->x, f->t, f->c, f->g, f->n);
    p[j] = keep - h;
    double lm = ref_loss(m, p, f->x, f->t, f->c, f->g, f->n);
    p[j] = keep;
    return (lp - lm) / (2 * h);
}

START_TEST(test_backward_finite_differences)
{
    fixture f = make_fixture(&configs[_i], 6, 200 + (uint64_t) _i);
    mf_mlp *m = f.m;
    size_t D = m->cfg.data_dim;
    double *p = params_as_double(m);
    float *out = malloc(f.n * D * sizeof(float));
    float *dp = calloc(m->n_params, sizeof(float));
    float *dx = calloc(f.n * D, sizeof(float));
    mf_mlp_ws *ws;
    ck_assert_int_eq(mf_mlp_ws_new(m, f.n, true, &ws), MF_OK);
    for (int shared = 0; shared < 2; shared++) {
        if (shared) { /* same check after a shared-timestep forward */
            for (size_t r = 0; r < f.n; r++) {
                f.t[r] = 250.0f;
            }
            mf_mlp_forward_shared_t(m, ws, f.x, 250.0f, f.c, f.n, out);
        } else {
            mf_mlp_forward(m, ws, f.x, f.t, f.c, f.n, out);
        }
        memset(dp, 0, m->n_params * sizeof(float));
        memset(dx, 0, f.n * D * sizeof(float));
        mf_mlp_backward(m, ws, f.g, f.n, dp, dx);
        /* every parameter of small configs, a strided subset of larger ones */
        size_t stride = m->n_params > 400 ? m->n_params / 400 : 1;
        double worst = 0;
        for (size_t j = 0; j < m->n_params; j += stride) {
            double fd = fd_param(m, p, &f, j, 1e-4);
            double err = fabs(dp[j] - fd) / (1e-3 + fabs(fd));
            worst = fmax(worst, err);
            ck_assert_msg(err < 2e-3, "cfg %d shared %d param %zu: analytic %g fd %g", _i, shared,
                          j, dp[j], fd);
        }
        /* input gradient */
        for (size_t k = 0; k < f.n * D; k++) {
            float keep = f.x[k];
            double h = 1e-3;
            f.x[k] = keep + (float) h;
            double lp = ref_loss(m, p, f.x, f.t, f.c, f.g, f.n);
            f.x[k] = keep - (float) h;
            double lm = ref_loss(m, p, f.x, f.t, f.c, f.g, f.n);
            f.x[k] = keep;
            /* the actual float step is what counts */
            double step = (double) (keep + (float) h) - (double) (keep - (float) h);
            double fd = (lp - lm) / step;
            ck_assert_msg(fabs(dx[k] - fd) < 2e-3 * (1e-2 + fabs(fd)),
                          "cfg %d shared %d dx[%zu]: analytic %g fd %g", _i, shared, k, dx[k], fd);
        }
        (void) worst;
    }
    mf_mlp_ws_free(ws);
    free(out);
    free(dp);
    free(dx);
    free(p);
    free_fixture(&f);
}
END_TEST

START_TEST(test_frozen_small_batch)
{
    /* Hidden widths that are multiples of 64 take the transposed-weight kernel on
     * AVX-512 CPUs (and sgemm elsewhere); both must match the reference. */
    const mf_mlp_config c = {.data_dim = 2, .emb_dim = 8, .n_hidden = 3, .hidden = {64, 128, 64}};
    fixture f = make_fixture(&c, MF_MLP_SMALL_BATCH, 31);
    double *p = params_as_double(f.m), ref[1024];
    float out[2 * MF_MLP_SMALL_BATCH];
    mf_mlp_ws *ws;
    ck_assert_int_eq(mf_mlp_ws_new_frozen(f.m, MF_MLP_SMALL_BATCH, &ws), MF_OK);
    for (size_t n = 1; n <= MF_MLP_SMALL_BATCH; n += 5) {
        mf_mlp_forward_shared_t(f.m, ws, f.x, 123.0f, NULL, n, out);
        for (size_t r = 0; r < n; r++) {
            ref_forward_row(f.m, p, f.x + 2 * r, 123.0f, NULL, ref);
            for (size_t d = 0; d < 2; d++) {
                ck_assert_msg(fabs(out[2 * r + d] - ref[d]) <= 2e-5 * (1 + fabs(ref[d])),
                              "n %zu row %zu: %g vs %g", n, r, out[2 * r + d], ref[d]);
            }
        }
    }
    mf_mlp_ws_free(ws);
    free(p);
    free_fixture(&f);
}
END_TEST

START_TEST(test_split_backward_matches)
{
    /* Row ranges forward/backward on a split workspace, then parameter gradients in
     * parts, against mf_mlp_backward (itself checked by finite differences above). */
    fixture f = make_fixture(&configs[_i], 13, 300 + (uint64_t) _i);
    mf_mlp *m = f.m;
    size_t D = m->cfg.data_dim, C = m->cfg.cond_dim, np = m->n_params;
    float *out = calloc(f.n * D, sizeof(float));
    float *gp_ref = calloc(np, sizeof(float)), *gx_ref = calloc(f.n * D, sizeof(float));
    float *gp = malloc(np * sizeof(float)), *gx = calloc(f.n * D, sizeof(float));
    for (size_t i = 0; i < np; i++) {
        gp[i] = NAN; /* every entry must be overwritten */
    }
    mf_mlp_ws *ws_ref, *ws;
    ck_assert_int_eq(mf_mlp_ws_new(m, f.n, true, &ws_ref), MF_OK);
    ck_assert_int_eq(mf_mlp_ws_new_split(m, f.n, &ws), MF_OK);
    mf_mlp_forward(m, ws_ref, f.x, f.t, f.c, f.n, out);
    mf_mlp_backward(m, ws_ref, f.g, f.n, gp_ref, gx_ref);
    const size_t cut[] = {0, 5, 13}; /* two uneven row ranges, second one first */
    for (int k = 1; k >= 0; k--) {
        size_t r0 = cut[k], n = cut[k + 1] - cut[k];
        mf_mlp_forward_rows(m, ws, r0, f.x + r0 * D, f.t + r0, f.c ? f.c + r0 * C : NULL, n,
                            out + r0 * D);
        mf_mlp_backward_rows(m, ws, r0, f.g + r0 * D, n, gx + r0 * D);
    }
    double ss = 0, ss_ref = 0;
    for (size_t part = 0; part < 3; part++) {
        ss += mf_mlp_param_grad_part(m, ws, f.n, part, 3, gp);
    }
    for (size_t i = 0; i < np; i++) {
        ck_assert_msg(fabsf(gp[i] - gp_ref[i]) <= 1e-5f * (1.0f + fabsf(gp_ref[i])),
                      "cfg %d param %zu: %g vs %g", _i, i, gp[i], gp_ref[i]);
        ss_ref += (double) gp_ref[i] * gp_ref[i];
    }
    ck_assert_double_eq_tol(ss, ss_ref, 1e-4 * ss_ref);
    for (size_t j = 0; j < f.n * D; j++) {
        ck_assert_float_eq_tol(gx[j], gx_ref[j], 1e-5f * (1.0f + fabsf(gx_ref[j])));
    }
    mf_mlp_ws_free(ws);
    mf_mlp_ws_free(ws_ref);
    free(out);
    free(gp_ref);
    free(gx_ref);
    free(gp);
    free(gx);
    free_fixture(&f);
}
END_TEST

START_TEST(test_vjp_without_params)
{
    fixture f = make_fixture(&configs[0], 9, 7);
    size_t D = f.m->cfg.data_dim;
    float out[64], dx1[64] = {0}, dx2[64] = {0};
    float *dp = calloc(f.m->n_params, sizeof(float));
    mf_mlp_ws *ws;
    ck_assert_int_eq(mf_mlp_ws_new(f.m, 9, true, &ws), MF_OK);
    mf_mlp_forward(f.m, ws, f.x, f.t, NULL, f.n, out);
    mf_mlp_backward(f.m, ws, f.g, f.n, dp, dx1);
    mf_mlp_backward(f.m, ws, f.g, f.n, NULL, dx2);
    for (size_t k = 0; k < f.n * D; k++) {
        ck_assert_float_eq_tol(dx1[k], dx2[k], 1e-6f);
    }
    /* backward accumulates: a second call doubles the gradient */
    mf_mlp_backward(f.m, ws, f.g, f.n, NULL, dx2);
    for (size_t k = 0; k < f.n * D; k++) {
        ck_assert_float_eq_tol(dx2[k], 2 * dx1[k], 1e-5f);
    }
    mf_mlp_ws_free(ws);
    free(dp);
    free_fixture(&f);
}
END_TEST

START_TEST(test_config_and_layout)
{
    mf_mlp_config bad = configs[0];
    bad.emb_dim = 7;
    mf_mlp *m = NULL;
    ck_assert_int_eq(mf_mlp_new(&bad, &m), MF_EINVAL);
    ck_assert_ptr_null(m);
    bad = configs[0];
    bad.n_hidden = 0;
    ck_assert_int_eq(mf_mlp_config_check(&bad), MF_EINVAL);
    bad.n_hidden = MF_MLP_MAX_HIDDEN + 1;
    ck_assert_int_eq(mf_mlp_config_check(&bad), MF_EINVAL);
    bad = configs[0];
    bad.hidden[1] = MF_MLP_MAX_WIDTH + 1;
    ck_assert_int_eq(mf_mlp_config_check(&bad), MF_EINVAL);
    ck_assert_uint_eq(mf_mlp_config_n_params(&bad), 0);

    /* The reference architecture of DESIGN.md, D = 2, H = 256 x 3, E = 64. */
    mf_mlp_config ref = {.data_dim = 2, .emb_dim = 64, .n_hidden = 3, .hidden = {256, 256, 256}};
    size_t expect = (66 * 256 + 256) + 2 * (256 * 256 + 256) + (256 * 2 + 2);
    ck_assert_uint_eq(mf_mlp_config_n_params(&ref), expect);
    ck_assert_int_eq(mf_mlp_new(&ref, &m), MF_OK);
    ck_assert_uint_eq(m->w_off[0], 0);
    ck_assert_uint_eq(m->b_off[0], 66 * 256);
    ck_assert_uint_eq(m->w_off[1], 66 * 256 + 256);
    ck_assert_uint_eq(m->b_off[3], expect - 2);
    ck_assert_uint_eq((uintptr_t) m->params % 64, 0);
    /* embedding frequencies: f_0 = 1, f_31 = 10000^(-31/32) */
    ck_assert_float_eq(m->freqs[0], 1.0f);
    ck_assert_float_eq_tol(m->freqs[31], (float) pow(10000.0, -31.0 / 32.0), 1e-9f);
    /* the embedding without a network is the network's, bit for bit */
    float e1[64], e2[64];
    for (int t = 0; t < 1000; t += 37) {
        mf_mlp_embed(m, (float) t + 0.25f, e1);
        mf_mlp_embed_width(64, (float) t + 0.25f, e2);
        ck_assert_mem_eq(e1, e2, sizeof e1);
    }
    /* init bounds 1/sqrt(fan_in) */
    mf_mlp_init_params(m, 3);
    float lim = 1.0f / sqrtf(66.0f);
    for (size_t j = 0; j < 66 * 256; j++) {
        ck_assert(fabsf(m->params[j]) <= lim);
    }
    mf_mlp *c = NULL;
    ck_assert_int_eq(mf_mlp_clone(m, &c), MF_OK);
    ck_assert_mem_eq(c->params, m->params, m->n_params * sizeof(float));
    mf_mlp_free(c);
    mf_mlp_free(m);
    mf_mlp_free(NULL);
    mf_mlp_ws_free(NULL);
}
END_TEST

/*
 * A conditional child of an unconditional parent computes the parent's eps for any
 * condition (zero condition columns), per-row and shared timesteps alike, to float
 * rounding; once a condition weight moves, the condition matters.
 */
START_TEST(test_cond_from_parent)
{
    static const uint32_t dims[] = {2, 64};
    for (size_t k = 0; k < 2; k++) {
        mf_mlp_config cfg = {.data_dim = dims[k], .emb_dim = 16, .n_hidden = 2, .hidden = {48, 40}};
        mf_mlp *p = NULL, *c = NULL;
        ck_assert_int_eq(mf_mlp_new(&cfg, &p), MF_OK);
        mf_mlp_init_params(p, 5);
        ck_assert_int_eq(mf_mlp_new_cond_from(p, 3, &c), MF_OK);
        ck_assert_uint_eq(c->cfg.cond_dim, 3);
        ck_assert_uint_eq(c->n_params, p->n_params + 48 * 3);

        enum {
            N = 37
        };

        size_t D = dims[k];
        float *x = malloc(N * D * sizeof(float)), *ep = malloc(N * D * sizeof(float));
        float *ec = malloc(N * D * sizeof(float)), cond[N * 3], t[N];
        mf_rng_normal(mf_rng_make(6), 0, x, N * D);
        mf_rng_normal(mf_rng_make(7), 0, cond, N * 3);
        for (size_t i = 0; i < N; i++) {
            t[i] = (float) (i * 27 % 1000);
        }
        mf_mlp_ws *wp = NULL, *wc = NULL;
        ck_assert_int_eq(mf_mlp_ws_new(p, N, false, &wp), MF_OK);
        ck_assert_int_eq(mf_mlp_ws_new(c, N, false, &wc), MF_OK);
        for (int shared = 0; shared < 2; shared++) {
            if (shared) {
                mf_mlp_forward_shared_t(p, wp, x, 500.0f, NULL, N, ep);
                mf_mlp_forward_shared_t(c, wc, x, 500.0f, cond, N, ec);
            } else {
                mf_mlp_forward(p, wp, x, t, NULL, N, ep);
                mf_mlp_forward(c, wc, x, t, cond, N, ec);
            }
            for (size_t j = 0; j < N * D; j++) {
                ck_assert_msg(fabsf(ep[j] - ec[j]) <= 1e-5f * (1.0f + fabsf(ep[j])),
                              "D %zu shared %d: %g vs %g", D, shared, (double) ep[j],
                              (double) ec[j]);
            }
        }
        c->params[D + 16] = 0.5f; /* W_0[0, first condition column] */
        mf_mlp_forward_shared_t(c, wc, x, 500.0f, cond, N, ec);
        mf_mlp_forward_shared_t(p, wp, x, 500.0f, NULL, N, ep);
        ck_assert(memcmp(ep, ec, N * D * sizeof(float)) != 0);
        mf_mlp *bad = (mf_mlp *) 0x1;
        ck_assert_int_eq(mf_mlp_new_cond_from(c, 2, &bad), MF_EINVAL); /* already conditional */
        ck_assert_int_eq(mf_mlp_new_cond_from(p, 0, &bad), MF_EINVAL);
        ck_assert_ptr_eq(bad, (mf_mlp *) 0x1);
        mf_mlp_ws_free(wp);
        mf_mlp_ws_free(wc);
        mf_mlp_free(p);
        mf_mlp_free(c);
        free(x);
        free(ep);
        free(ec);
    }
}

END_TEST

static Suite *mlp_suite(void)
{
    Suite *s = suite_create("mlp");
    TCase *tf = tcase_create("forward");
    tcase_add_loop_test(tf, test_forward_matches_reference, 0, (int) N_CONFIGS);
    tcase_add_test(tf, test_frozen_small_batch);
    suite_add_tcase(s, tf);
    TCase *tb = tcase_create("backward");
    tcase_set_timeout(tb, 300);
    tcase_add_loop_test(tb, test_backward_finite_differences, 0, (int) N_CONFIGS);
    tcase_add_test(tb, test_vjp_without_params);
    tcase_add_loop_test(tb, test_split_backward_matches, 0, (int) N_CONFIGS);
    suite_add_tcase(s, tb);
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, test_config_and_layout);
    tcase_add_test(tc, test_cond_from_parent);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(mlp_suite)
