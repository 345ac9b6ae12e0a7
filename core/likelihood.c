/* SPDX-License-Identifier: MIT */
/*
 * likelihood.c - probability-flow ODE log-densities (see likelihood.h).
 *
 * One step from grid time a to grid time b (sigma_a -> sigma_b, h = sigma_b -
 * sigma_a, either sign), state y in double:
 *     e1, d1 = eps, div_x eps at (sqrt(ab_a) y, t_a)
 *     y~     = y + h e1
 *     e2, d2 = eps, div_x eps at (sqrt(ab_b) y~, t_b)
 *     y'     = y + h (e1 + e2)/2
 *     I     += h (sqrt(ab_a) d1 + sqrt(ab_b) d2)/2       (I = int div_y f dsigma)
 * and one Euler leg between sigma = 0 and the last grid time t_L (0 when S > 1),
 * with eps at (sqrt(ab_L) y, t_L): going down (sampling) that is the
 * sampler's own last step; going up from a data point y(0), where nothing is
 * known at sigma > 0 yet, the same formula is the first-order approximation
 * of the same leg.
 */
#include "likelihood.h"

#include <math.h>
#include <string.h>

#include "mem.h"
#include "optim.h"
#include "potential.h"
#include "rng.h"

#define LOG_2PI 1.8378770664093454836

enum {
    STREAM_PROBE = 3
};

const char *mf_div_name(mf_div_kind kind)
{
    switch (kind) {
    case MF_DIV_AUTO:
        return "auto";
    case MF_DIV_EXACT:
        return "exact";
    case MF_DIV_HUTCHINSON:
        return "hutchinson";
    }
    return "unknown";
}

mf_err mf_div_lookup(const char *name, mf_div_kind *ret)
{
    if (name == NULL || ret == NULL) {
        return MF_EINVAL;
    }
    static const mf_div_kind kinds[] = {MF_DIV_AUTO, MF_DIV_EXACT, MF_DIV_HUTCHINSON};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(name, mf_div_name(kinds[i])) == 0) {
            *ret = kinds[i];
            return MF_OK;
        }
    }
    return MF_ENOTFOUND;
}

mf_div_kind mf_ode_div_resolve(mf_div_kind kind, size_t D)
{
    if (kind == MF_DIV_AUTO) {
        return D <= MF_DIV_EXACT_MAX_DIM ? MF_DIV_EXACT : MF_DIV_HUTCHINSON;
    }
    return kind;
}

size_t mf_ode_lik_n_evals(const mf_ode_lik_opts *o)
{
    return o->steps == 0 ? 0 : 2 * o->steps - 1;
}

/* ---- the integrator ------------------------------------------------------------------- */

typedef struct ode_run {
    const mf_schedule *s;
    mf_eps_div_fn f;
    const mf_ode_lik_opts *o;
    size_t n, D, total;
    double *y;        /* (n, D) state */
    double *integral; /* (n) int div_y f dsigma so far */
    float *xin;       /* (n, D) network input */
    float *e1, *e2;   /* (n, D) */
    double *d1, *d2;  /* (n) */
    float *probe;     /* (n, D) or NULL (exact) */
    size_t done, n_evals;
} ode_run;

static void run_free(ode_run *r)
{
    mf_free_aligned(r->y);
    mf_free_aligned(r->integral);
    mf_free_aligned(r->xin);
    mf_free_aligned(r->e1);
    mf_free_aligned(r->e2);
    mf_free_aligned(r->d1);
    mf_free_aligned(r->d2);
    mf_free_aligned(r->probe);
}

static mf_err run_init(ode_run *r, const mf_schedule *s, mf_eps_div_fn f, const mf_ode_lik_opts *o,
                       const float *x, size_t n, size_t D)
{
    memset(r, 0, sizeof *r);
    if (s == NULL || f.eval == NULL || o == NULL || x == NULL || n == 0 || D == 0 ||
        o->steps == 0 || o->steps > s->T ||
        (o->div != MF_DIV_AUTO && o->div != MF_DIV_EXACT && o->div != MF_DIV_HUTCHINSON)) {
        return MF_EINVAL;
    }
    size_t total;
    if (mf_size_mul(n, D, &total) != MF_OK) {
        return MF_ERANGE;
    }
    bool hutch = mf_ode_div_resolve(o->div, D) == MF_DIV_HUTCHINSON;
    *r = (ode_run){
        .s = s, .f = f, .o = o, .n = n, .D = D, .total = total, .n_evals = mf_ode_lik_n_evals(o)};
    r->y = mf_alloc_doubles(total);
    r->integral = mf_alloc_doubles(n);
    r->xin = mf_alloc_floats(total);
    r->e1 = mf_alloc_floats(total);
    r->e2 = mf_alloc_floats(total);
    r->d1 = mf_alloc_doubles(n);
    r->d2 = mf_alloc_doubles(n);
    r->probe = hutch ? mf_alloc_floats(total) : NULL;
    if (r->y == NULL || r->integral == NULL || r->xin == NULL || r->e1 == NULL || r->e2 == NULL ||
        r->d1 == NULL || r->d2 == NULL || (hutch && r->probe == NULL)) {
        run_free(r);
        return MF_ENOMEM;
    }
    memset(r->integral, 0, n * sizeof(double));
    if (hutch) { /* Rademacher: +-1 by the sign of a uniform draw */
        mf_rng stream = mf_rng_derive(mf_rng_make(o->seed), STREAM_PROBE);
        mf_rng_uniform(stream, o->first_index * D, r->probe, total);
        for (size_t j = 0; j < total; j++) {
            r->probe[j] = r->probe[j] < 0.5f ? -1.0f : 1.0f;
        }
    }
    return MF_OK;
}

static bool cancelled(const ode_run *r)
{
    return r->o->cancel != NULL && atomic_load_explicit(r->o->cancel, memory_order_relaxed) != 0;
}

static void report(ode_run *r)
{
    if (r->o->progress != NULL) {
        r->o->progress(r->o->progress_ctx, r->done, r->n_evals);
    }
}

static double sigma_of(double ab)
{
    return sqrt((1.0 - ab) / ab);
}

/* e, d = eps and div_x eps at x = sqrt(ab) (y + h e_prev) (e_prev NULL: at y). */
static void eval_at(ode_run *r, long t, const float *e_prev, double h, float *e, double *d)
{
    double a = sqrt(mf_schedule_alpha_bar(r->s, t));
    for (size_t j = 0; j < r->total; j++) {
        double yj = r->y[j] + (e_prev != NULL ? h * (double) e_prev[j] : 0.0);
        r->xin[j] = (float) (a * yj);
    }
    r->f.eval(r->f.ctx, r->xin, r->n, (float) t, r->probe, e, d);
    r->done++;
    report(r);
}

/* Heun from grid time ta to grid time tb (either direction). */
static void heun_step(ode_run *r, long ta, long tb)
{
    double aa = mf_schedule_alpha_bar(r->s, ta), ab = mf_schedule_alpha_bar(r->s, tb);
    double h = sigma_of(ab) - sigma_of(aa), sa = sqrt(aa), sb = sqrt(ab);
    eval_at(r, ta, NULL, 0.0, r->e1, r->d1);
    eval_at(r, tb, r->e1, h, r->e2, r->d2);
    for (size_t j = 0; j < r->total; j++) {
        r->y[j] += 0.5 * h * ((double) r->e1[j] + (double) r->e2[j]);
    }
    for (size_t i = 0; i < r->n; i++) {
        r->integral[i] += 0.5 * h * (sa * r->d1[i] + sb * r->d2[i]);
    }
}

/* The last grid time (0 unless S = 1). */
static long last_t(const ode_run *r)
{
    return mf_sampler_grid_t(r->s->T, r->o->steps, r->o->steps - 1);
}

/* Euler over sigma in [0, sigma(t_L)], eps at (sqrt(ab_L) y, t_L); up (+1) or down (-1). */
static void euler_leg(ode_run *r, double dir)
{
    long t = last_t(r);
    double ab = mf_schedule_alpha_bar(r->s, t), a0 = sqrt(ab), h = dir * sigma_of(ab);
    eval_at(r, t, NULL, 0.0, r->e1, r->d1);
    for (size_t j = 0; j < r->total; j++) {
        r->y[j] += h * (double) r->e1[j];
    }
    for (size_t i = 0; i < r->n; i++) {
        r->integral[i] += h * a0 * r->d1[i];
    }
}

/* log N(y; 0, I/ab_T) per row, T = the last timestep. */
static double log_prior(const ode_run *r, size_t i)
{
    double ab = mf_schedule_alpha_bar(r->s, (long) r->s->T - 1), q = 0.0;
    for (size_t d = 0; d < r->D; d++) {
        double v = r->y[i * r->D + d];
        q += v * v;
    }
    return -0.5 * (double) r->D * (LOG_2PI - log(ab)) - 0.5 * ab * q;
}

mf_err mf_ode_loglik(const mf_schedule *s, mf_eps_div_fn f, const mf_ode_lik_opts *o,
                     const float *x, size_t n, size_t D, double *logp)
{
    if (logp == NULL) {
        return MF_EINVAL;
    }
    ode_run r;
    mf_err err = run_init(&r, s, f, o, x, n, D);
    if (err != MF_OK) {
        return err;
    }
    if (!mf_floats_finite(x, r.total)) {
        run_free(&r);
        return MF_ERANGE;
    }
    for (size_t j = 0; j < r.total; j++) {
        r.y[j] = x[j];
    }
    /* Up from the data: Euler to sigma(0), then Heun along the grid in reverse. */
    euler_leg(&r, 1.0);
    for (size_t k = o->steps - 1; k > 0 && err == MF_OK; k--) {
        if (cancelled(&r)) {
            err = MF_ECANCELED;
            break;
        }
        heun_step(&r, mf_sampler_grid_t(s->T, o->steps, k),
                  mf_sampler_grid_t(s->T, o->steps, k - 1));
    }
    if (err == MF_OK) {
        for (size_t i = 0; i < n; i++) {
            logp[i] = log_prior(&r, i) + r.integral[i];
        }
    }
    run_free(&r);
    return err;
}

mf_err mf_ode_sample_logp(const mf_schedule *s, mf_eps_div_fn f, const mf_ode_lik_opts *o, float *x,
                          size_t n, size_t D, double *logp)
{
    if (logp == NULL) {
        return MF_EINVAL;
    }
    ode_run r;
    mf_err err = run_init(&r, s, f, o, x, n, D);
    if (err != MF_OK) {
        return err;
    }
    /* The sampler's initial noise: x_T ~ N(0, I), y = x_T / sqrt(ab_T). */
    mf_rng_normal(mf_rng_derive(mf_rng_make(o->seed), MF_SAMPLER_STREAM_INIT), o->first_index * D,
                  r.xin, r.total);
    double inv = 1.0 / sqrt(mf_schedule_alpha_bar(s, (long) s->T - 1));
    for (size_t j = 0; j < r.total; j++) {
        r.y[j] = inv * (double) r.xin[j];
    }
    double *prior = mf_alloc_doubles(n);
    if (prior == NULL) {
        run_free(&r);
        return MF_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        prior[i] = log_prior(&r, i);
    }
    for (size_t k = 0; k + 1 < o->steps; k++) {
        if (cancelled(&r)) {
            err = MF_ECANCELED;
            break;
        }
        heun_step(&r, mf_sampler_grid_t(s->T, o->steps, k),
                  mf_sampler_grid_t(s->T, o->steps, k + 1));
    }
    if (err == MF_OK) {
        /* Down the last leg, sigma(t_L) -> 0. */
        euler_leg(&r, -1.0);
        /* log p_0(y(0)) = log p_T(y_T) + int_0^smax div = prior - (integral accumulated downwards).
         */
        for (size_t i = 0; i < n; i++) {
            logp[i] = prior[i] - r.integral[i];
        }
        for (size_t j = 0; j < r.total; j++) {
            x[j] = (float) r.y[j];
        }
    }
    mf_free_aligned(prior);
    run_free(&r);
    return err;
}

void mf_lik_summarise(const double *logp, size_t n, size_t D, const mf_ode_lik_opts *o,
                      bool of_samples, bool dequantised, mf_lik_stats *ret)
{
    double s = 0.0, s2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        double v = -logp[i];
        s += v;
        s2 += v * v;
    }
    double mean = s / (double) n, var = n > 1 ? (s2 - s * mean) / (double) (n - 1) : 0.0;
    *ret = (mf_lik_stats){
        .nll = mean,
        .nll_se = sqrt((var > 0.0 ? var : 0.0) / (double) n),
        .bits_per_dim = dequantised ? mean / ((double) D * log(2.0)) : (double) NAN,
        .n = n,
        .dim = D,
        .steps = o->steps,
        .div = mf_ode_div_resolve(o->div, D),
        .seed = o->seed,
        .of_samples = of_samples,
        .dequantised = dequantised,
    };
}

/* ---- MLP adapter ---------------------------------------------------------------------- */

mf_err mf_mlp_div_ctx_init(mf_mlp_div_ctx *ctx, const mf_mlp *net, size_t max_batch)
{
    if (ctx == NULL || net == NULL || max_batch == 0) {
        return MF_EINVAL;
    }
    memset(ctx, 0, sizeof *ctx);
    size_t D = net->cfg.data_dim, total;
    if (mf_size_mul(max_batch, D, &total) != MF_OK) {
        return MF_ERANGE;
    }
    bool pot = mf_pot_is_potential(net);
    mf_err err = pot ? mf_pot_ws_new(net, max_batch, &ctx->pws)
                     : mf_mlp_ws_new(net, max_batch, true, &ctx->ws);
    if (err != MF_OK) {
        return err;
    }
    ctx->net = net;
    ctx->d_out = mf_alloc_floats(total);
    ctx->d_x = mf_alloc_floats(total);
    if (pot) {
        ctx->t_rows = mf_alloc_floats(max_batch);
        ctx->lap = mf_alloc_floats(max_batch);
    }
    if (ctx->d_out == NULL || ctx->d_x == NULL ||
        (pot && (ctx->t_rows == NULL || ctx->lap == NULL))) {
        mf_mlp_div_ctx_deinit(ctx);
        return MF_ENOMEM;
    }
    return MF_OK;
}

void mf_mlp_div_ctx_deinit(mf_mlp_div_ctx *ctx)
{
    if (ctx == NULL) {
        return;
    }
    mf_mlp_ws_free(ctx->ws);
    mf_pot_ws_free(ctx->pws);
    mf_free_aligned(ctx->d_out);
    mf_free_aligned(ctx->d_x);
    mf_free_aligned(ctx->t_rows);
    mf_free_aligned(ctx->lap);
    memset(ctx, 0, sizeof *ctx);
}

/* A potential's eps = -grad_x g and div eps = -lap_x g (or -v^T H v with a probe). */
static void pot_eps_div(mf_mlp_div_ctx *c, const float *x, size_t n, float t, const float *probe,
                        float *eps, double *div)
{
    size_t D = c->net->cfg.data_dim, C = c->net->cfg.cond_dim, mb = mf_pot_ws_max_rows(c->pws);
    for (size_t r0 = 0; r0 < n; r0 += mb) {
        size_t rows = n - r0 < mb ? n - r0 : mb, len = rows * D;
        mf_pot_eps_rows(c->net, c->pws, x + r0 * D, t, c->c != NULL ? c->c + r0 * C : NULL, rows,
                        c->t_rows, eps + r0 * D);
        double *dv = div + r0;
        if (probe != NULL) {
            memset(c->d_x, 0, len * sizeof(float));
            mf_pot_backward(c->net, c->pws, rows, NULL, probe + r0 * D, NULL, c->d_x);
            for (size_t i = 0; i < rows; i++) {
                dv[i] = 0.0;
                for (size_t d = 0; d < D; d++) {
                    dv[i] -= (double) c->d_x[i * D + d] * (double) probe[(r0 + i) * D + d];
                }
            }
            continue;
        }
        mf_pot_laplacian(c->net, c->pws, rows, c->lap);
        for (size_t i = 0; i < rows; i++) {
            dv[i] = -(double) c->lap[i];
        }
    }
}

void mf_mlp_eps_div_eval(void *ctx, const float *x, size_t n, float t, const float *probe,
                         float *eps, double *div)
{
    mf_mlp_div_ctx *c = ctx;
    if (c->pws != NULL) {
        pot_eps_div(c, x, n, t, probe, eps, div);
        return;
    }
    size_t D = c->net->cfg.data_dim, C = c->net->cfg.cond_dim, mb = mf_mlp_ws_max_batch(c->ws);
    for (size_t r0 = 0; r0 < n; r0 += mb) {
        size_t rows = n - r0 < mb ? n - r0 : mb, len = rows * D;
        mf_mlp_forward_shared_t(c->net, c->ws, x + r0 * D, t, c->c != NULL ? c->c + r0 * C : NULL,
                                rows, eps + r0 * D);
        double *dv = div + r0;
        for (size_t i = 0; i < rows; i++) {
            dv[i] = 0.0;
        }
        if (probe != NULL) { /* v^T J v: one VJP with v */
            memset(c->d_x, 0, len * sizeof(float));
            mf_mlp_backward(c->net, c->ws, probe + r0 * D, rows, NULL, c->d_x);
            for (size_t i = 0; i < rows; i++) {
                for (size_t d = 0; d < D; d++) {
                    dv[i] += (double) c->d_x[i * D + d] * (double) probe[(r0 + i) * D + d];
                }
            }
            continue;
        }
        for (size_t d = 0; d < D; d++) { /* e_d^T J e_d, one VJP per coordinate */
            memset(c->d_out, 0, len * sizeof(float));
            memset(c->d_x, 0, len * sizeof(float));
            for (size_t i = 0; i < rows; i++) {
                c->d_out[i * D + d] = 1.0f;
            }
            mf_mlp_backward(c->net, c->ws, c->d_out, rows, NULL, c->d_x);
            for (size_t i = 0; i < rows; i++) {
                dv[i] += (double) c->d_x[i * D + d];
            }
        }
    }
}
