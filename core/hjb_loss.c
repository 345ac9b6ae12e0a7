/* SPDX-License-Identifier: MIT */
/*
 * hjb_loss.c - the HJB regulariser of potential networks (hjb_loss.h has the math).
 *
 * Row layout of one evaluation of P points: rows [0, P) are the points themselves
 * (their g, grad_x g and the tangent); point p's other rows follow from
 * P + p (nr - 1): tau + dt, tau - dt, then the Laplacian's pairs (x + h d, x - h d)
 * for d = e_1..e_D (exact) or the probes (hutchinson).
 */
#include "hjb_loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "potential.h"

struct mf_hjb_net {
    mf_hjb_opts o;
    size_t D, nr, max_points, n_dirs; /* rows per point; Laplacian directions per point */
    mf_pot_ws *ws;
    float *x, *t, *g, *alpha, *v; /* (rows, D), (rows), (rows), (rows), (rows, D) */
    float *grad;                  /* (max_points, D) grad_x g at the points */
    float *dirs;                  /* (max_points, n_dirs, D) the Laplacian's directions */
};

const char *const mf_hjb_estimator_names[] = {"auto", "exact", "hutchinson", NULL};

mf_err mf_hjb_estimator_lookup(const char *name, mf_hjb_estimator *ret)
{
    for (int i = 0; name != NULL && i < 3; i++) {
        if (strcmp(name, mf_hjb_estimator_names[i]) == 0) {
            *ret = (mf_hjb_estimator) i;
            return MF_OK;
        }
    }
    return MF_ENOTFOUND;
}

const char *mf_hjb_estimator_name(mf_hjb_estimator e)
{
    return (unsigned) e < 3 ? mf_hjb_estimator_names[e] : "unknown";
}

mf_hjb_opts mf_hjb_opts_default(void)
{
    return (mf_hjb_opts){
        .on = false,
        .lambda = 0.01,
        .ramp = 0.3,
        .frac_points = 0.25,
        .estimator = MF_HJB_AUTO,
        .probes = 2,
        .h = 1e-2,
        .dt = 1e-3,
        .t_min = 0.02,
        .weight = true,
    };
}

mf_err mf_hjb_opts_check(const mf_hjb_opts *o, const char **field)
{
    const char *bad = NULL;
    if (!(o->lambda >= 0 && o->lambda <= 1e6)) {
        bad = "lambda";
    } else if (!(o->ramp >= 0 && o->ramp <= 1)) {
        bad = "ramp";
    } else if (!(o->frac_points > 0 && o->frac_points <= 1)) {
        bad = "frac_points";
    } else if ((unsigned) o->estimator > MF_HJB_HUTCHINSON) {
        bad = "estimator";
    } else if (o->probes < 1 || o->probes > 2) {
        bad = "probes";
    } else if (!(o->h >= 1e-4 && o->h <= 0.5)) {
        bad = "h";
    } else if (!(o->dt >= 1e-5 && o->dt <= 0.05)) {
        bad = "dt";
    } else if (!(o->t_min >= o->dt && o->t_min < 0.9)) {
        bad = "t_min";
    }
    if (field != NULL) {
        *field = bad;
    }
    return bad == NULL ? MF_OK : MF_EINVAL;
}

double mf_hjb_lambda_at(const mf_hjb_opts *o, size_t k, size_t n)
{
    double ramp_steps = o->ramp * (double) n;
    if (ramp_steps < 1 || (double) k >= ramp_steps) {
        return o->lambda;
    }
    return o->lambda * (double) k / ramp_steps;
}

void mf_hjb_stats_add(mf_hjb_stats *a, const mf_hjb_stats *b)
{
    a->loss += b->loss;
    a->sq_sum += b->sq_sum;
    a->count += b->count;
    for (int i = 0; i < MF_HJB_BINS; i++) {
        a->bin_sq_sum[i] += b->bin_sq_sum[i];
        a->bin_count[i] += b->bin_count[i];
    }
}

double mf_hjb_stats_rms(const mf_hjb_stats *st, int bin)
{
    double sum = bin < 0 ? st->sq_sum : st->bin_sq_sum[bin];
    size_t n = bin < 0 ? st->count : st->bin_count[bin];
    return n == 0 ? (double) NAN : sqrt(fmax(sum, 0.0) / (double) n);
}

const mf_hjb_opts *mf_hjb_net_opts(const mf_hjb_net *b)
{
    return &b->o;
}

void mf_hjb_net_free(mf_hjb_net *b)
{
    if (b == NULL) {
        return;
    }
    mf_pot_ws_free(b->ws);
    mf_free_aligned(b->x);
    mf_free_aligned(b->t);
    mf_free_aligned(b->g);
    mf_free_aligned(b->alpha);
    mf_free_aligned(b->v);
    mf_free_aligned(b->grad);
    mf_free_aligned(b->dirs);
    free(b);
}

mf_err mf_hjb_net_new(const mf_mlp *m, const mf_hjb_opts *o, size_t max_points, mf_hjb_net **ret)
{
    if (!mf_pot_is_potential(m) || max_points == 0 || mf_hjb_opts_check(o, NULL) != MF_OK) {
        return MF_EINVAL;
    }
    mf_hjb_net *b = calloc(1, sizeof *b);
    if (b == NULL) {
        return MF_ENOMEM;
    }
    b->o = *o;
    b->D = m->cfg.data_dim;
    if (b->o.estimator == MF_HJB_AUTO) {
        b->o.estimator = b->D <= 8 ? MF_HJB_EXACT : MF_HJB_HUTCHINSON;
    }
    b->n_dirs = b->o.estimator == MF_HJB_EXACT ? b->D : o->probes;
    b->nr = 3 + 2 * b->n_dirs;
    b->max_points = max_points;
    size_t rows = max_points * b->nr;
    mf_err err = mf_pot_ws_new(m, rows, &b->ws);
    if (err == MF_OK &&
        ((b->x = mf_alloc_floats(rows * b->D)) == NULL || (b->t = mf_alloc_floats(rows)) == NULL ||
         (b->g = mf_alloc_floats(rows)) == NULL || (b->alpha = mf_alloc_floats(rows)) == NULL ||
         (b->v = mf_alloc_floats(rows * b->D)) == NULL ||
         (b->grad = mf_alloc_floats(max_points * b->D)) == NULL ||
         (b->dirs = mf_alloc_floats(max_points * b->n_dirs * b->D)) == NULL)) {
        err = MF_ENOMEM;
    }
    if (err != MF_OK) {
        mf_hjb_net_free(b);
        return err;
    }
    *ret = b;
    return MF_OK;
}

/* Point p's Laplacian directions: the axes, or sign vectors of stream r. */
static void directions(mf_hjb_net *b, size_t p, mf_rng r)
{
    size_t D = b->D;
    float *d = b->dirs + p * b->n_dirs * D;
    if (b->o.estimator == MF_HJB_EXACT) {
        memset(d, 0, D * D * sizeof(float));
        for (size_t i = 0; i < D; i++) {
            d[i * D + i] = 1.0f;
        }
        return;
    }
    for (size_t q = 0; q < b->n_dirs; q++) {
        for (size_t i = 0; i < D; i++) {
            uint64_t index = (p * b->n_dirs + q) * D + i;
            d[q * D + i] = mf_rng_uniform_f64(r, index) < 0.5 ? -1.0f : 1.0f;
        }
    }
}

/* The stencil rows of every point: inputs and network times. */
static void build_rows(mf_hjb_net *b, const mf_schedule *s, const float *x, const double *tau,
                       size_t P, mf_rng r)
{
    size_t D = b->D, T = s->T;
    memcpy(b->x, x, P * D * sizeof(float));
    for (size_t p = 0; p < P; p++) {
        b->t[p] = (float) ((double) T * tau[p] - 1.0);
        directions(b, p, r);
        size_t r0 = P + p * (b->nr - 1);
        const float *xp = x + p * D;
        for (size_t j = 0; j < b->nr - 1; j++) {
            memcpy(b->x + (r0 + j) * D, xp, D * sizeof(float));
            b->t[r0 + j] = b->t[p];
        }
        b->t[r0] = (float) ((double) T * (tau[p] + b->o.dt) - 1.0);
        b->t[r0 + 1] = (float) ((double) T * (tau[p] - b->o.dt) - 1.0);
        for (size_t q = 0; q < b->n_dirs; q++) {
            const float *d = b->dirs + (p * b->n_dirs + q) * D;
            float *plus = b->x + (r0 + 2 + 2 * q) * D, *minus = plus + D;
            for (size_t i = 0; i < D; i++) {
                plus[i] += (float) b->o.h * d[i];
                minus[i] -= (float) b->o.h * d[i];
            }
        }
    }
}

void mf_hjb_net_loss(const mf_mlp *m, const mf_schedule *s, mf_hjb_net *b, const float *x,
                     const double *tau, size_t P, mf_rng r, float scale, float *d_params,
                     mf_hjb_stats *st)
{
    size_t D = b->D, nr = b->nr, rows = P * nr;
    const mf_hjb_opts *o = &b->o;
    memset(st, 0, sizeof *st);
    build_rows(b, s, x, tau, P, r);
    mf_pot_forward(m, b->ws, b->x, b->t, NULL, rows, b->g);
    mf_pot_grad_x(m, b->ws, P, b->grad); /* the points are the first P rows */
    memset(b->alpha, 0, rows * sizeof(float));
    memset(b->v, 0, rows * D * sizeof(float));
    double h2 = o->h * o->h, bin_w = (1.0 - o->t_min) / MF_HJB_BINS;
    for (size_t p = 0; p < P; p++) {
        size_t r0 = P + p * (nr - 1);
        double beta, abar, beta_unused, abar_p, abar_m;
        mf_schedule_ct(s, tau[p], &beta, &abar);
        mf_schedule_ct(s, tau[p] + o->dt, &beta_unused, &abar_p);
        mf_schedule_ct(s, tau[p] - o->dt, &beta_unused, &abar_m);
        double sig = sqrt(1.0 - abar), sig_p = sqrt(1.0 - abar_p), sig_m = sqrt(1.0 - abar_m);
        double u0 = (double) b->g[p] / sig;
        double dtau = ((double) b->g[r0] / sig_p - (double) b->g[r0 + 1] / sig_m) / (2 * o->dt);
        const float *xp = x + p * D, *gp = b->grad + p * D;
        double x_dot_grad = 0, grad_sq = 0;
        for (size_t i = 0; i < D; i++) {
            double gi = (double) gp[i] / sig;
            x_dot_grad += (double) xp[i] * gi;
            grad_sq += gi * gi;
        }
        /* R = A - (beta/2) L, with L the Laplacian estimate of each direction set */
        double A = dtau - 0.5 * beta * ((double) D + x_dot_grad + grad_sq);
        double L[2] = {0, 0};
        size_t n_est = o->estimator == MF_HJB_EXACT ? 1 : b->n_dirs;
        for (size_t q = 0; q < b->n_dirs; q++) {
            double up = (double) b->g[r0 + 2 + 2 * q] / sig,
                   um = (double) b->g[r0 + 3 + 2 * q] / sig;
            L[o->estimator == MF_HJB_EXACT ? 0 : q] += (up - 2 * u0 + um) / h2;
        }
        double R1 = A - 0.5 * beta * L[0], R2 = n_est == 2 ? A - 0.5 * beta * L[1] : R1;
        double w = o->weight ? (sig * sig / beta) * (sig * sig / beta) : 1.0;
        double sq = R1 * R2;
        st->loss += w * sq;
        st->sq_sum += sq;
        st->count++;
        int bin = (int) ((tau[p] - o->t_min) / bin_w);
        bin = bin < 0 ? 0 : bin >= MF_HJB_BINS ? MF_HJB_BINS - 1 : bin;
        st->bin_sq_sum[bin] += sq;
        st->bin_count[bin]++;
        if (d_params == NULL) {
            continue;
        }
        /* seeds of scale * w R1 R2 / P: d/dA = w (R1 + R2), d/dL_q = -(beta/2) w R_other */
        double c = (double) scale / (double) P;
        double dA = c * w * (R1 + R2);
        double dL[2] = {-0.5 * beta * c * w * R2, -0.5 * beta * c * w * R1};
        if (n_est == 1) {
            dL[0] = -0.5 * beta * c * w * 2 * R1;
        }
        b->alpha[r0] = (float) (dA / (2 * o->dt * sig_p));
        b->alpha[r0 + 1] = (float) (-dA / (2 * o->dt * sig_m));
        double centre = 0;
        for (size_t q = 0; q < b->n_dirs; q++) {
            double dl = dL[o->estimator == MF_HJB_EXACT ? 0 : q];
            b->alpha[r0 + 2 + 2 * q] = (float) (dl / (h2 * sig));
            b->alpha[r0 + 3 + 2 * q] = (float) (dl / (h2 * sig));
            centre -= 2 * dl / (h2 * sig);
        }
        b->alpha[p] = (float) centre;
        /* dA/d grad g = -(beta/2) (x + 2 grad u) / sigma */
        for (size_t i = 0; i < D; i++) {
            b->v[p * D + i] =
                (float) (dA * -0.5 * beta * ((double) xp[i] + 2.0 * (double) gp[i] / sig) / sig);
        }
    }
    st->loss /= (double) P;
    if (d_params != NULL) {
        mf_pot_backward(m, b->ws, rows, b->alpha, b->v, d_params, NULL);
    }
}

void mf_hjb_collocate(const mf_schedule *s, const mf_hjb_opts *o, const float *x0, size_t D,
                      size_t first, size_t n, mf_rng rn, mf_rng rt, float *x, double *tau)
{
    mf_rng_normal(rn, (uint64_t) first * D, x, n * D);
    for (size_t i = 0; i < n; i++) {
        size_t p = first + i;
        double abar;
        tau[i] = o->t_min + (1.0 - o->dt - o->t_min) * mf_rng_uniform_f64(rt, p);
        mf_schedule_ct(s, tau[i], NULL, &abar);
        float a = (float) sqrt(abar), c = (float) sqrt(1.0 - abar);
        for (size_t d = 0; d < D; d++) {
            x[i * D + d] = a * x0[p * D + d] + c * x[i * D + d];
        }
    }
}

#define EVAL_CHUNK 128 /* points per evaluation pass */

mf_err mf_hjb_residual_of(const mf_mlp *m, const mf_schedule *s, const mf_hjb_opts *o,
                          const float *x0, size_t n, uint64_t seed, mf_hjb_stats *st)
{
    memset(st, 0, sizeof *st);
    if (n == 0) {
        return MF_EINVAL;
    }
    size_t D = m->cfg.data_dim, chunk = n < EVAL_CHUNK ? n : EVAL_CHUNK;
    mf_hjb_net *b = NULL;
    mf_err err = mf_hjb_net_new(m, o, chunk, &b);
    if (err != MF_OK) {
        return err;
    }
    float *x = mf_alloc_floats(chunk * D);
    double *tau = malloc(chunk * sizeof *tau);
    if (x == NULL || tau == NULL) {
        err = MF_ENOMEM;
    }
    mf_rng root = mf_rng_make(seed), rn = mf_rng_derive(root, 1), rt = mf_rng_derive(root, 2);
    double loss_sum = 0;
    for (size_t r0 = 0; err == MF_OK && r0 < n; r0 += chunk) {
        size_t P = n - r0 < chunk ? n - r0 : chunk;
        mf_hjb_collocate(s, o, x0, D, r0, P, rn, rt, x, tau);
        mf_hjb_stats part;
        mf_hjb_net_loss(m, s, b, x, tau, P, mf_rng_derive(root, 3 + r0), 0.0f, NULL, &part);
        loss_sum += part.loss * (double) P;
        mf_hjb_stats_add(st, &part);
    }
    st->loss = loss_sum / (double) n;
    free(tau);
    mf_free_aligned(x);
    mf_hjb_net_free(b);
    return err;
}
