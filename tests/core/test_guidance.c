/* SPDX-License-Identifier: MIT */
/*
 * test_guidance.c - core/guidance.c.
 *
 * Oracle 2 (ALGORITHMS.md, reference/other-seeds.md §1.5): on linear_subspace,
 * x0 = A z, z ~ N(0, I_16), with a label y = theta^T x0 + e, e ~ N(0, nu^2),
 * x0 | y = a is Gaussian:
 *     mean mu = theta a / (1 + nu^2),  covariance Sigma = A A^T - theta theta^T / (1 + nu^2)
 * (z | y = a ~ N(beta a/(1+nu^2), I - beta beta^T/(1+nu^2)), theta = A beta).  In model
 * space x = x0 / s both scale by 1/s and 1/s^2.  Then x_t | y = a ~ N(sqrt(ab) mu,
 * M), M = ab Sigma + (1 - ab) I, whose score is linear in x_t, and the exact
 * conditional noise predictor is
 *     eps*(x_t, t | a) = sqrt(1 - ab) M^-1 (x_t - sqrt(ab) mu).
 * M has three eigenspaces: off the subspace (Sigma's eigenvalue 0: M = 1 - ab), the
 * subspace orthogonal to theta (1/s^2: ab/s^2 + 1 - ab) and theta itself
 * (nu^2/((1+nu^2) s^2); without a condition 1/s^2), so M^-1 is three projections.
 * Plugged into every sampler through the guide in COND mode with per-row targets,
 * the samples must have E[theta^T x | a] = a/(1+nu^2) and lie on the subspace.
 *
 * Oracle 4: CFG and reward-gradient guidance with w = 0 are the COND (or plain)
 * samples bit for bit.  Also: the reward-gradient term against finite differences
 * of (1/2)(a - f(offset + scale x))^2 in model space (the chain rule), CFG's
 * combination, and that both guidances move the reward the right way.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "guidance.h"
#include "rng.h"
#include "test_util.h"

enum {
    D = MF_DATASET_SUBSPACE_D,
    K = MF_DATASET_SUBSPACE_K
};

#define NU         0.5
#define COND_OFF   0.1 /* the condition convention of these tests: c_0 = (a - 0.1) / 2 */
#define COND_SCALE 2.0

static mf_schedule sched;

static void setup(void)
{
    ck_assert_int_eq(mf_schedule_init(&sched, "linear:0.0001:0.02:1000", NULL), MF_OK);
}

static void teardown(void)
{
    mf_schedule_deinit(&sched);
}

/* ---- the exact conditional eps of linear_subspace data ------------------------------ */

typedef struct exact_ctx {
    double A[D * K], theta[D];
    double s; /* model space x = x_data / s */
} exact_ctx;

static void exact_init(exact_ctx *e, double s)
{
    float A[D * K], th[D];
    mf_dataset_linear_subspace_basis(A);
    mf_dataset_linear_subspace_theta(th);
    for (size_t i = 0; i < D * K; i++) {
        e->A[i] = A[i];
    }
    for (size_t i = 0; i < D; i++) {
        e->theta[i] = th[i];
    }
    e->s = s;
}

/* mf_guide_net_fn: rows with condition [c_0, 1] are conditioned on a = off + scale c_0. */
static void exact_eval(void *vctx, const float *x, const float *c, size_t n, float t, float *out)
{
    const exact_ctx *e = vctx;
    double ab = mf_schedule_alpha_bar(&sched, (long) t), s2 = e->s * e->s;
    for (size_t r = 0; r < n; r++) {
        bool cond = c != NULL && c[2 * r + 1] == 1.0f;
        double a = cond ? COND_OFF + COND_SCALE * (double) c[2 * r] : 0.0;
        double lam_theta = cond ? NU * NU / ((1.0 + NU * NU) * s2) : 1.0 / s2;
        double mu_theta = cond ? a / (1.0 + NU * NU) / e->s : 0.0; /* mu = theta mu_theta */
        double y[D], coef[K] = {0}, yt = 0.0;
        for (size_t i = 0; i < D; i++) {
            y[i] = (double) x[r * D + i] - sqrt(ab) * mu_theta * e->theta[i];
            yt += e->theta[i] * y[i];
            for (size_t j = 0; j < K; j++) {
                coef[j] += e->A[i * K + j] * y[i];
            }
        }
        double g_off = 1.0 / (1.0 - ab), g_in = 1.0 / (ab / s2 + 1.0 - ab);
        double g_th = 1.0 / (ab * lam_theta + 1.0 - ab);
        for (size_t i = 0; i < D; i++) {
            double py = 0.0;
            for (size_t j = 0; j < K; j++) {
                py += e->A[i * K + j] * coef[j];
            }
            double v =
                g_off * (y[i] - py) + g_in * (py - e->theta[i] * yt) + g_th * e->theta[i] * yt;
            out[r * D + i] = (float) (sqrt(1.0 - ab) * v);
        }
    }
}

/* Samples of n rows with targets a (n) in COND/CFG/REWARD mode on the exact eps. */
static void exact_sample(const exact_ctx *e, const mf_sampler_opts *o, mf_guide_mode mode, float w,
                         const double *a, const mf_reward_model *reward, float *x, size_t n)
{
    float *cond = malloc(n * 2 * sizeof(float)), *target = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        cond[2 * i] = (float) ((a[i] - COND_OFF) / COND_SCALE);
        cond[2 * i + 1] = reward != NULL ? 0.0f : 1.0f; /* REWARD runs unconditionally */
        target[i] = (float) a[i];
    }
    mf_guide g = {.mode = mode,
                  .w = w,
                  .C = 2,
                  .cond = cond,
                  .target = target,
                  .reward = reward,
                  .data_offset = 0.0,
                  .data_scale = e->s};
    mf_guide_eps_ctx gc;
    mf_guide_net_fn nf = {.eval = exact_eval, .ctx = (void *) e};
    ck_assert_int_eq(mf_guide_eps_init(&gc, nf, &g, &sched, D, n), MF_OK);
    ck_assert_int_eq(
        mf_sample(&sched, (mf_eps_fn){.eval = mf_guide_eps_eval, .ctx = &gc}, o, x, n, D), MF_OK);
    mf_guide_eps_deinit(&gc);
    for (size_t j = 0; j < n * D; j++) {
        x[j] = (float) ((double) x[j] * e->s); /* to data space */
    }
    free(cond);
    free(target);
}

/* Mean of theta^T x and of the off-subspace deviation over rows [r0, r0 + n). */
static void reward_stats(const float *x, size_t r0, size_t n, double *ret_mean, double *ret_off)
{
    double *r = malloc(n * sizeof(double)), *off = malloc(n * sizeof(double));
    ck_assert_int_eq(mf_dataset_true_reward(MF_DATASET_LINEAR_SUBSPACE, x + r0 * D, n, r), MF_OK);
    mf_dataset_linear_subspace_off(x + r0 * D, n, off);
    double m = 0.0, o = 0.0;
    for (size_t i = 0; i < n; i++) {
        m += r[i];
        o += off[i];
    }
    *ret_mean = m / (double) n;
    *ret_off = o / (double) n;
    free(r);
    free(off);
}

/*
 * Oracle 2.  4,000 rows, half with a = 1 and half with a = 2 in one batch (per-row
 * targets), data scale 0.5 as the trained models use.  The conditional std of theta^T x
 * is nu/sqrt(1+nu^2) = 0.447, so the mean of 2,000 rows has s.e. 0.010 against a
 * tolerance of 3 % of 0.8 = 0.024 (a = 1) and of 1.6 = 0.048 (a = 2).  Measured ratios to
 * a/(1+nu^2): ddpm 0.987 / 0.999, ddim 0.992 / 0.996, ode 0.992 / 0.996.  The
 * off-subspace deviation is not a discretisation error here: every sampler's last step
 * is x0 = (x - sqrt(1 - ab) eps) / sqrt(ab), which with the exact eps removes the
 * off-subspace part exactly; what remains is float rounding, measured 1.4-1.5e-7 (rows
 * of norm ~4), asserted below 1e-5 (an eps off by 1e-3 relative in those directions would
 * leave ~1e-3).
 */
START_TEST(test_oracle_exact_conditional_eps)
{
    static const struct {
        mf_sampler_kind kind;
        size_t steps;
    } rows[] = {{MF_SAMPLER_DDPM, 200}, {MF_SAMPLER_DDIM, 200}, {MF_SAMPLER_ODE, 50}};

    enum {
        N = 4000
    };

    exact_ctx *e = malloc(sizeof *e);
    exact_init(e, 0.5);
    double *a = malloc(N * sizeof(double));
    for (size_t i = 0; i < N; i++) {
        a[i] = i < N / 2 ? 1.0 : 2.0;
    }
    float *x = malloc(N * D * sizeof(float));
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
        mf_sampler_opts o = {.kind = rows[k].kind, .steps = rows[k].steps, .seed = 21};
        exact_sample(e, &o, MF_GUIDE_COND, 0.0f, a, NULL, x, N);
        for (int half = 0; half < 2; half++) {
            double mean, off, ideal = (half ? 2.0 : 1.0) / (1.0 + NU * NU);
            reward_stats(x, half * (N / 2), N / 2, &mean, &off);
            printf("oracle 2 %s: a = %d, ratio to a/(1+nu^2) %.4f, off-subspace %.2e\n",
                   mf_sampler_name(rows[k].kind), half + 1, mean / ideal, off);
            ck_assert_msg(fabs(mean / ideal - 1.0) < 0.03, "%s a=%d: mean %.4f ideal %.4f",
                          mf_sampler_name(rows[k].kind), half + 1, mean, ideal);
            ck_assert_msg(off < 1e-5, "%s: off-subspace %.3g", mf_sampler_name(rows[k].kind), off);
        }
    }
    free(x);
    free(a);
    free(e);
}

END_TEST

/*
 * The guidances move the reward the right way on the exact eps: CFG with w = 1 past
 * the COND mean at a = 1 (towards the sharper p(x|a)^2/p(x)), reward-gradient guidance
 * on the unconditional eps with the true reward (a ridge model with theta) from 0
 * towards a = 2, more with a larger w; neither leaves the subspace.
 */
START_TEST(test_guidance_directions)
{
    enum {
        N = 2000
    };

    exact_ctx *e = malloc(sizeof *e);
    exact_init(e, 0.5);
    double *a1 = malloc(N * sizeof(double)), *a2 = malloc(N * sizeof(double));
    for (size_t i = 0; i < N; i++) {
        a1[i] = 1.0;
        a2[i] = 2.0;
    }
    mf_reward_model *r = NULL;
    ck_assert_int_eq(mf_reward_new(MF_REWARD_RIDGE, D, NULL, 0, &r), MF_OK);
    for (size_t i = 0; i < D; i++) {
        r->params[i] = (float) e->theta[i];
    }
    float *x = malloc(N * D * sizeof(float));
    mf_sampler_opts o = {.kind = MF_SAMPLER_DDPM, .steps = 200, .seed = 22};
    double cond_mean, cfg_mean, r0_mean, r1_mean, r4_mean, off;
    exact_sample(e, &o, MF_GUIDE_COND, 0.0f, a1, NULL, x, N);
    reward_stats(x, 0, N, &cond_mean, &off);
    exact_sample(e, &o, MF_GUIDE_CFG, 1.0f, a1, NULL, x, N);
    reward_stats(x, 0, N, &cfg_mean, &off);
    ck_assert_msg(off < 1e-5, "cfg off %.3g", off);
    exact_sample(e, &o, MF_GUIDE_REWARD, 0.0f, a2, r, x, N);
    reward_stats(x, 0, N, &r0_mean, &off);
    exact_sample(e, &o, MF_GUIDE_REWARD, 1.0f, a2, r, x, N);
    reward_stats(x, 0, N, &r1_mean, &off);
    ck_assert_msg(off < 1e-5, "reward off %.3g", off);
    exact_sample(e, &o, MF_GUIDE_REWARD, 4.0f, a2, r, x, N);
    reward_stats(x, 0, N, &r4_mean, &off);
    /* s.e. of each mean <= 1/sqrt(2000) = 0.022 */
    ck_assert_msg(cfg_mean > cond_mean + 0.1, "cfg %.3f vs cond %.3f", cfg_mean, cond_mean);
    ck_assert_msg(fabs(r0_mean) < 0.08, "unguided %.3f", r0_mean);
    printf("guidance on the exact eps: cond %.3f cfg(w 1) %.3f at a = 1; reward guidance at "
           "a = 2: w 0 %.3f, w 1 %.3f, w 4 %.3f\n",
           cond_mean, cfg_mean, r0_mean, r1_mean, r4_mean);
    ck_assert_msg(r1_mean > 0.3 && r4_mean > r1_mean + 0.1 && r4_mean < 3.0,
                  "reward guidance %.3f (w 1), %.3f (w 4)", r1_mean, r4_mean);
    mf_reward_free(r);
    free(x);
    free(a1);
    free(a2);
    free(e);
}

END_TEST

/* ---- on a network ---------------------------------------------------------------------- */

typedef struct net_fixture {
    mf_mlp *net;
    mf_reward_model *reward;
    float *cond, *target;
} net_fixture;

/* A random conditional network D = 6, C = 2, and an mlp reward model 6 -> 8 -> 1. */
static net_fixture make_net(size_t n, uint32_t C)
{
    net_fixture f;
    mf_mlp_config cfg = {
        .data_dim = 6, .cond_dim = C, .emb_dim = 8, .n_hidden = 2, .hidden = {32, 32}};
    ck_assert_int_eq(mf_mlp_new(&cfg, &f.net), MF_OK);
    mf_mlp_init_params(f.net, 3);
    size_t h = 8;
    ck_assert_int_eq(mf_reward_new(MF_REWARD_MLP, 6, &h, 1, &f.reward), MF_OK);
    mf_rng_normal(mf_rng_make(4), 0, f.reward->params, f.reward->n_params);
    f.cond = malloc(n * 2 * sizeof(float));
    f.target = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        f.cond[2 * i] = 0.3f * (float) (i % 5) - 0.6f;
        f.cond[2 * i + 1] = 1.0f;
        f.target[i] = 0.5f * (float) (i % 3);
    }
    return f;
}

static void free_net(net_fixture *f)
{
    mf_mlp_free(f->net);
    mf_reward_free(f->reward);
    free(f->cond);
    free(f->target);
}

/* Oracle 4: w = 0 is exactly the unguided sampler, conditional and unconditional. */
START_TEST(test_oracle_w0_is_unguided)
{
    enum {
        N = 300,
        DN = 6
    };

    net_fixture f = make_net(N, 2);
    float *base = malloc(N * DN * sizeof(float)), *x = malloc(N * DN * sizeof(float));
    for (int kind = 0; kind < 3; kind++) {
        mf_sampler_opts o = {.kind = (mf_sampler_kind) kind, .steps = 15, .eta = 0.5f, .seed = 8};
        mf_guide g = {.mode = MF_GUIDE_COND,
                      .C = 2,
                      .cond = f.cond,
                      .target = f.target,
                      .reward = f.reward,
                      .data_offset = 1.0,
                      .data_scale = 2.0};
        ck_assert_int_eq(mf_guide_sample(f.net, &sched, &o, &g, base, N), MF_OK);
        g.mode = MF_GUIDE_CFG;
        ck_assert_int_eq(mf_guide_sample(f.net, &sched, &o, &g, x, N), MF_OK);
        ck_assert_mem_eq(x, base, N * DN * sizeof(float));
        g.mode = MF_GUIDE_REWARD;
        ck_assert_int_eq(mf_guide_sample(f.net, &sched, &o, &g, x, N), MF_OK);
        ck_assert_mem_eq(x, base, N * DN * sizeof(float));
        g.w = 0.5f; /* and a weight changes them */
        ck_assert_int_eq(mf_guide_sample(f.net, &sched, &o, &g, x, N), MF_OK);
        ck_assert(memcmp(x, base, N * DN * sizeof(float)) != 0);
    }
    /* Unconditional network: reward guidance at w = 0 is the plain sampler. */
    net_fixture u = make_net(N, 0);
    mf_sampler_opts o = {.kind = MF_SAMPLER_DDPM, .steps = 15, .seed = 9};
    ck_assert_int_eq(mf_guide_sample(u.net, &sched, &o, NULL, base, N), MF_OK);
    mf_guide g = {
        .mode = MF_GUIDE_REWARD, .C = 0, .target = u.target, .reward = u.reward, .data_scale = 1.0};
    ck_assert_int_eq(mf_guide_sample(u.net, &sched, &o, &g, x, N), MF_OK);
    ck_assert_mem_eq(x, base, N * DN * sizeof(float));
    free_net(&u);
    free(base);
    free(x);
    free_net(&f);
}

END_TEST

/*
 * One guided evaluation against its definition: CFG = (1 + w) e_c - w e_null from two
 * COND evaluations; REWARD - COND = sqrt(1 - ab) w grad_x g with g(x) = (1/2)(a -
 * f(offset + scale x))^2 differentiated by central differences in model space.
 */
START_TEST(test_guided_eval_definitions)
{
    enum {
        N = 7,
        DN = 6
    };

    net_fixture f = make_net(N, 2);
    mf_mlp_ws *ws = NULL;
    ck_assert_int_eq(mf_mlp_ws_new(f.net, N, false, &ws), MF_OK);
    mf_mlp_eps_ctx ec = {.net = f.net, .ws = ws};
    mf_guide_net_fn nf = {.eval = mf_guide_net_eval, .ctx = &ec};
    float x[N * DN], e_c[N * DN], e_n[N * DN], out[N * DN], zero[N * 2] = {0};
    mf_rng_normal(mf_rng_make(10), 0, x, N * DN);
    float t = 300.0f, w = 0.7f;
    double off = 1.0, scale = 2.0, ab = mf_schedule_alpha_bar(&sched, 300);
    mf_guide g = {.mode = MF_GUIDE_COND,
                  .w = w,
                  .C = 2,
                  .cond = f.cond,
                  .target = f.target,
                  .reward = f.reward,
                  .data_offset = off,
                  .data_scale = scale};
    mf_guide_eps_ctx gc;
    ck_assert_int_eq(mf_guide_eps_init(&gc, nf, &g, &sched, DN, N), MF_OK);
    mf_guide_eps_eval(&gc, x, N, t, e_c);
    mf_guide_eps_deinit(&gc);
    g.cond = zero;
    ck_assert_int_eq(mf_guide_eps_init(&gc, nf, &g, &sched, DN, N), MF_OK);
    mf_guide_eps_eval(&gc, x, N, t, e_n);
    mf_guide_eps_deinit(&gc);
    g.cond = f.cond;
    g.mode = MF_GUIDE_CFG;
    ck_assert_int_eq(mf_guide_eps_init(&gc, nf, &g, &sched, DN, N), MF_OK);
    mf_guide_eps_eval(&gc, x, N, t, out);
    mf_guide_eps_deinit(&gc);
    for (size_t j = 0; j < N * DN; j++) {
        ck_assert_float_eq_tol(out[j], (1.0f + w) * e_c[j] - w * e_n[j], 1e-5);
    }

    g.mode = MF_GUIDE_REWARD;
    ck_assert_int_eq(mf_guide_eps_init(&gc, nf, &g, &sched, DN, N), MF_OK);
    mf_guide_eps_eval(&gc, x, N, t, out);
    mf_guide_eps_deinit(&gc);
    mf_reward_ws *rws = NULL;
    ck_assert_int_eq(mf_reward_ws_new(f.reward, 1, &rws), MF_OK);
    double worst = 0.0, h = 1e-3;
    for (size_t i = 0; i < N; i++) {
        for (size_t d = 0; d < DN; d++) {
            double gpm[2];
            for (int sgn = 0; sgn < 2; sgn++) {
                float xd[DN], fv;
                for (size_t k = 0; k < DN; k++) {
                    double xm = (double) x[i * DN + k] + (k == d ? (sgn ? -h : h) : 0.0);
                    xd[k] = (float) (off + scale * xm);
                }
                mf_reward_predict(f.reward, rws, xd, 1, &fv);
                gpm[sgn] = 0.5 * ((double) f.target[i] - fv) * ((double) f.target[i] - fv);
            }
            double want = sqrt(1.0 - ab) * w * (gpm[0] - gpm[1]) / (2.0 * h);
            double got = (double) out[i * DN + d] - (double) e_c[i * DN + d];
            worst = fmax(worst, fabs(got - want) / (0.05 + fabs(want)));
        }
    }
    ck_assert_msg(worst < 2e-2, "reward guidance vs finite differences: %.3g", worst);
    mf_reward_ws_free(rws);
    mf_mlp_ws_free(ws);
    free_net(&f);
}

END_TEST

START_TEST(test_check_fill_and_errors)
{
    net_fixture f = make_net(4, 2);
    mf_guide g = {.mode = MF_GUIDE_CFG, .w = 1, .C = 2, .cond = f.cond, .data_scale = 1};
    ck_assert_int_eq(mf_guide_check(&g, 6, 2), MF_OK);
    ck_assert_int_eq(mf_guide_check(&g, 6, 1), MF_EINVAL); /* other C */
    g.cond = NULL;
    ck_assert_int_eq(mf_guide_check(&g, 6, 2), MF_EINVAL);
    g.cond = f.cond;
    g.w = NAN;
    ck_assert_int_eq(mf_guide_check(&g, 6, 2), MF_EINVAL);
    g.w = 1;
    g.data_scale = 0;
    ck_assert_int_eq(mf_guide_check(&g, 6, 2), MF_EINVAL);
    g.data_scale = 1;
    g.mode = MF_GUIDE_REWARD; /* no reward model, no targets */
    ck_assert_int_eq(mf_guide_check(&g, 6, 2), MF_EINVAL);
    g.reward = f.reward;
    ck_assert_int_eq(mf_guide_check(&g, 6, 2), MF_EINVAL);
    g.target = f.target;
    ck_assert_int_eq(mf_guide_check(&g, 6, 2), MF_OK);
    ck_assert_int_eq(mf_guide_check(&g, 5, 2), MF_EINVAL); /* reward of another D */
    g = (mf_guide){.mode = MF_GUIDE_CFG, .C = 0, .data_scale = 1};
    ck_assert_int_eq(mf_guide_check(&g, 6, 0), MF_EINVAL); /* CFG needs a condition */
    g.mode = (mf_guide_mode) 9;
    ck_assert_int_eq(mf_guide_check(&g, 6, 0), MF_EINVAL);

    float x[6];
    mf_sampler_opts o = {.kind = MF_SAMPLER_DDPM, .steps = 5};
    ck_assert_int_eq(mf_guide_sample(f.net, &sched, &o, NULL, x, 1), MF_EINVAL); /* C > 0 */
    mf_guide_eps_ctx gc;
    g = (mf_guide){.mode = MF_GUIDE_COND, .C = 2, .cond = f.cond, .data_scale = 1};
    mf_guide_net_fn nf = {.eval = mf_guide_net_eval, .ctx = NULL};
    ck_assert_int_eq(mf_guide_eps_init(&gc, nf, &g, &sched, 6, 0), MF_EINVAL);

    mf_guide_mode mode = MF_GUIDE_COND;
    ck_assert_int_eq(mf_guide_mode_lookup("reward", &mode), MF_OK);
    ck_assert_int_eq(mode, MF_GUIDE_REWARD);
    ck_assert_int_eq(mf_guide_mode_lookup("classifier", &mode), MF_ENOTFOUND);
    ck_assert_str_eq(mf_guide_mode_name(MF_GUIDE_CFG), "cfg");

    /* fill_cond follows the model's convention. */
    mf_mlp_config cfg = f.net->cfg;
    mf_model *m = NULL;
    ck_assert_int_eq(mf_model_new(&cfg, "linear:0.0001:0.02:1000", &m, NULL), MF_OK);
    double a[2] = {1.0, -2.0};
    float cond[4] = {9, 9, 9, 9};
    ck_assert_int_eq(mf_guide_fill_cond(m, a, 2, cond), MF_EINVAL); /* no condition yet */
    ck_assert(cond[0] == 9.0f);
    mf_model_cond c = {.offset = 0.5, .scale = 0.25, .null_kind = MF_COND_NULL_INDICATOR};
    ck_assert_int_eq(mf_model_set_cond(m, &c, NULL), MF_OK);
    ck_assert_int_eq(mf_guide_fill_cond(m, a, 2, cond), MF_OK);
    ck_assert(cond[0] == 2.0f && cond[1] == 1.0f && cond[2] == -10.0f && cond[3] == 1.0f);
    mf_model_free(m);
    free_net(&f);
}

END_TEST

static Suite *guidance_suite(void)
{
    Suite *s = suite_create("guidance");
    /* "long": oracles of 4,000 samples, 9 s in release and 45 s under ASan, which
     * ./test's sanitizer pass leaves to the release pass (CK_EXCLUDE_TAGS=long); the
     * sampler paths they drive run under ASan in "eval" and test_sampler */
    TCase *tc = tcase_create("long");
    tcase_set_tags(tc, "long");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_oracle_exact_conditional_eps);
    tcase_add_test(tc, test_guidance_directions);
    suite_add_tcase(s, tc);
    tc = tcase_create("w0");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_oracle_w0_is_unguided);
    suite_add_tcase(s, tc);

    tc = tcase_create("eval");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_guided_eval_definitions);
    tcase_add_test(tc, test_check_fill_and_errors);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(guidance_suite)
