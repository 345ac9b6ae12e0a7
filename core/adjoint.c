/* SPDX-License-Identifier: MIT */
/* adjoint.c - Adjoint Matching for epsilon-prediction DDPM models (adjoint.h). */
#include "adjoint.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "optim.h"
#include "rng.h"
#include "sampler.h"

/* Stream tags under a round's generator. */
#define TAG_START 0x41304d31u /* x_0 */
#define TAG_NOISE 0x41304e00u /* + k: z_k */
#define TAG_PAIRS 0x41305000u /* + inner step: the (i, k) pairs */

struct mf_am {
    const mf_mlp *ref;
    mf_mlp *net;
    mf_am_opts o;
    size_t D, N, m, B, n_params;
    uint64_t round;
    /* the grid: A[k] for k = 0..N, tau[k] for k < N, and the step coefficients */
    double *A;
    float *tau, *c, *sqrt_ratio, *sigma;
    /* one round: x (N+1, m, D), eps_ref (N, m, D), adj (N, m, D), a_N (m, D) */
    float *x, *eps_ref, *adj, *a_end;
    /* per call: per-row timesteps, network outputs, d_x */
    float *t_rows, *out, *dx;
    /* the regression batch */
    float *xb, *tb, *target, *wb, *dout;
    float *grad, *adam_m, *adam_v;
    mf_adam adam;
    mf_mlp_ws *ws_net, *ws_ref;
};

mf_am_opts mf_am_opts_default(void)
{
    return (mf_am_opts){.steps = 100,
                        .trajectories = 64,
                        .batch = 2048,
                        .inner_steps = 2,
                        .lr = 4e-4f,
                        .clip_grad = 1.0,
                        .clip_adjoint = 0.0,
                        .seed = 0};
}

void mf_am_free(mf_am *am)
{
    if (am == NULL) {
        return;
    }
    free(am->A);
    float *bufs[] = {am->tau,    am->c,      am->sqrt_ratio, am->sigma, am->x,   am->eps_ref,
                     am->adj,    am->a_end,  am->t_rows,     am->out,   am->dx,  am->xb,
                     am->tb,     am->target, am->wb,         am->dout,  am->grad, am->adam_m,
                     am->adam_v};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        mf_free_aligned(bufs[i]);
    }
    mf_mlp_ws_free(am->ws_net);
    mf_mlp_ws_free(am->ws_ref);
    free(am);
}

static bool same_config(const mf_mlp_config *a, const mf_mlp_config *b)
{
    if (a->data_dim != b->data_dim || a->cond_dim != b->cond_dim || a->emb_dim != b->emb_dim ||
        a->n_hidden != b->n_hidden) {
        return false;
    }
    for (size_t i = 0; i < a->n_hidden; i++) {
        if (a->hidden[i] != b->hidden[i]) {
            return false;
        }
    }
    return true;
}

mf_err mf_am_new(const mf_mlp *ref, mf_mlp *net, const mf_schedule *s, const mf_am_opts *o,
                 mf_am **ret)
{
    if (ref == NULL || net == NULL || s == NULL || o == NULL || ret == NULL || o->steps < 2 ||
        o->steps > s->T || o->trajectories == 0 || o->batch == 0 || o->inner_steps == 0 ||
        !(o->lr > 0.0f) || !(o->clip_grad >= 0.0) || !(o->clip_adjoint >= 0.0) ||
        !same_config(&ref->cfg, &net->cfg) || ref->cfg.cond_dim != 0) {
        return MF_EINVAL;
    }
    mf_am *am = calloc(1, sizeof *am);
    if (am == NULL) {
        return MF_ENOMEM;
    }
    am->ref = ref;
    am->net = net;
    am->o = *o;
    am->D = ref->cfg.data_dim;
    am->N = o->steps;
    am->m = o->trajectories;
    am->B = o->batch;
    am->n_params = net->n_params;
    size_t N = am->N, m = am->m, D = am->D, B = am->B, rows = m > B ? m : B;
    am->A = malloc((N + 1) * sizeof *am->A);
    am->tau = mf_alloc_floats(N);
    am->c = mf_alloc_floats(N);
    am->sqrt_ratio = mf_alloc_floats(N);
    am->sigma = mf_alloc_floats(N);
    am->x = mf_alloc_floats((N + 1) * m * D);
    am->eps_ref = mf_alloc_floats(N * m * D);
    am->adj = mf_alloc_floats(N * m * D);
    am->a_end = mf_alloc_floats(m * D);
    am->t_rows = mf_alloc_floats(rows);
    am->out = mf_alloc_floats(m * D);
    am->dx = mf_alloc_floats(m * D);
    am->xb = mf_alloc_floats(B * D);
    am->tb = mf_alloc_floats(B);
    am->target = mf_alloc_floats(B * D);
    am->wb = mf_alloc_floats(B);
    am->dout = mf_alloc_floats(B * D);
    am->grad = mf_alloc_floats(am->n_params);
    am->adam_m = mf_alloc_floats(am->n_params);
    am->adam_v = mf_alloc_floats(am->n_params);
    mf_err err = MF_OK;
    if (am->A == NULL || am->tau == NULL || am->c == NULL || am->sqrt_ratio == NULL ||
        am->sigma == NULL || am->x == NULL || am->eps_ref == NULL || am->adj == NULL ||
        am->a_end == NULL || am->t_rows == NULL || am->out == NULL || am->dx == NULL ||
        am->xb == NULL || am->tb == NULL || am->target == NULL || am->wb == NULL ||
        am->dout == NULL || am->grad == NULL || am->adam_m == NULL || am->adam_v == NULL) {
        err = MF_ENOMEM;
    }
    if (err == MF_OK) {
        err = mf_mlp_ws_new(net, rows, true, &am->ws_net);
    }
    if (err == MF_OK) {
        err = mf_mlp_ws_new(ref, m, true, &am->ws_ref);
    }
    if (err != MF_OK) {
        mf_am_free(am);
        return err;
    }
    for (size_t k = 0; k <= N; k++) {
        long t = k < N ? mf_sampler_grid_t(s->T, N, k) : -1;
        am->A[k] = mf_schedule_alpha_bar(s, t);
        if (k < N) {
            am->tau[k] = (float) t;
        }
    }
    for (size_t k = 0; k < N; k++) {
        double a = am->A[k], an = am->A[k + 1];
        am->c[k] = (float) ((1.0 - a / an) / sqrt(1.0 - a));
        am->sqrt_ratio[k] = (float) sqrt(an / a);
        am->sigma[k] = (float) sqrt(fmax((1.0 - an) / (1.0 - a) * (1.0 - a / an), 0.0));
    }
    am->adam = (mf_adam){.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
    mf_am_reset_optimizer(am);
    *ret = am;
    return MF_OK;
}

void mf_am_reset_optimizer(mf_am *am)
{
    memset(am->adam_m, 0, am->n_params * sizeof(float));
    memset(am->adam_v, 0, am->n_params * sizeof(float));
    am->adam.m = am->adam_m;
    am->adam.v = am->adam_v;
    am->adam.t = 0;
}

static void fill(float *p, size_t n, float v)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = v;
    }
}

/* (a) m trajectories of the trainable net, x_0 .. x_N. */
static void sample_trajectories(mf_am *am, mf_rng r)
{
    size_t N = am->N, m = am->m, D = am->D, md = m * D;
    mf_rng_normal(mf_rng_derive(r, TAG_START), 0, am->x, md);
    for (size_t k = 0; k < N; k++) {
        const float *xk = am->x + k * md;
        float *xn = am->x + (k + 1) * md;
        fill(am->t_rows, m, am->tau[k]);
        mf_mlp_forward(am->net, am->ws_net, xk, am->t_rows, NULL, m, am->out);
        float sr = am->sqrt_ratio[k], c = am->c[k], sg = am->sigma[k];
        if (sg > 0.0f) {
            mf_rng_normal(mf_rng_derive(r, TAG_NOISE + k), 0, xn, md);
        }
        for (size_t j = 0; j < md; j++) {
            float z = sg > 0.0f ? xn[j] : 0.0f;
            xn[j] = sr * (xk[j] - c * am->out[j]) + sg * z;
        }
    }
}

/*
 * (b) The lean adjoint with the frozen reference, from a_N = a_end:
 * a_k = sqrt(A_{k+1}/A_k) (a_{k+1} - c_k J^T a_{k+1}); caches eps_ref(x_k).
 */
static void lean_adjoint(mf_am *am)
{
    size_t N = am->N, m = am->m, D = am->D, md = m * D;
    const float *next = am->a_end;
    for (size_t kk = N; kk-- > 0;) {
        fill(am->t_rows, m, am->tau[kk]);
        mf_mlp_forward(am->ref, am->ws_ref, am->x + kk * md, am->t_rows, NULL, m,
                       am->eps_ref + kk * md);
        memset(am->dx, 0, md * sizeof(float));
        mf_mlp_backward(am->ref, am->ws_ref, next, m, NULL, am->dx); /* dx = J^T a_{k+1} */
        float *a = am->adj + kk * md;
        float sr = am->sqrt_ratio[kk], c = am->c[kk];
        for (size_t j = 0; j < md; j++) {
            a[j] = sr * (next[j] - c * am->dx[j]);
        }
        next = a;
    }
}

/* Clips each row of a (n, D) to norm at most max (max > 0); returns the mean norm after. */
static double clip_rows(float *a, size_t n, size_t D, double max)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        float *row = a + i * D;
        double nrm = sqrt(mf_sumsq(row, D));
        if (max > 0.0 && nrm > max) {
            mf_scale(row, D, (float) (max / nrm));
            nrm = max;
        }
        sum += nrm;
    }
    return sum / (double) n;
}

/*
 * (c) One Adam step on B random pairs.  With u = eps_theta - target, target =
 * eps_ref + sqrt(1-A_k) a_k and weight v_k = w_k / (1 - A_k), the loss is
 * mean_b v_k ||u||^2 and its gradient w.r.t. eps_theta is 2 v_k u / B.
 */
static double fit_step(mf_am *am, mf_rng r, double *ret_grad_norm)
{
    size_t N = am->N, m = am->m, D = am->D, B = am->B, md = m * D;
    for (size_t b = 0; b < B; b++) {
        size_t i = mf_rng_below(r, 2 * b, (uint32_t) m);
        size_t k = mf_rng_below(r, 2 * b + 1, (uint32_t) N);
        double A = am->A[k], w = (am->A[k + 1] - A) / A;
        float s1 = (float) sqrt(1.0 - A);
        const float *xs = am->x + k * md + i * D, *er = am->eps_ref + k * md + i * D,
                    *ad = am->adj + k * md + i * D;
        memcpy(am->xb + b * D, xs, D * sizeof(float));
        for (size_t d = 0; d < D; d++) {
            am->target[b * D + d] = er[d] + s1 * ad[d];
        }
        am->tb[b] = am->tau[k];
        am->wb[b] = (float) (w / (1.0 - A));
    }
    float *eps = am->dout; /* eps_theta, then overwritten by the output gradient */
    mf_mlp_forward(am->net, am->ws_net, am->xb, am->tb, NULL, B, eps);
    double loss = 0.0;
    for (size_t b = 0; b < B; b++) {
        double sq = 0.0;
        for (size_t d = 0; d < D; d++) {
            float u = eps[b * D + d] - am->target[b * D + d];
            sq += (double) u * (double) u;
            eps[b * D + d] = 2.0f * am->wb[b] * u / (float) B;
        }
        loss += (double) am->wb[b] * sq;
    }
    memset(am->grad, 0, am->n_params * sizeof(float));
    mf_mlp_backward(am->net, am->ws_net, am->dout, B, am->grad, NULL);
    *ret_grad_norm = am->o.clip_grad > 0.0
                         ? mf_clip_grad_norm(am->grad, am->n_params, am->o.clip_grad)
                         : sqrt(mf_sumsq(am->grad, am->n_params));
    mf_adam_step(&am->adam, am->net->params, am->grad, am->n_params, am->o.lr);
    return loss / (double) B;
}

mf_err mf_am_round(mf_am *am, mf_am_terminal_fn fn, void *ctx, mf_am_round_stats *ret_stats)
{
    mf_rng r = mf_rng_derive(mf_rng_make(am->o.seed), am->round++);
    sample_trajectories(am, r);
    size_t md = am->m * am->D;
    mf_err err = fn(ctx, am->x + am->N * md, am->m, am->D, am->a_end);
    if (err != MF_OK) {
        return err;
    }
    mf_am_round_stats st = {0};
    st.adjoint_norm = clip_rows(am->a_end, am->m, am->D, am->o.clip_adjoint);
    lean_adjoint(am);
    for (size_t s = 0; s < am->o.inner_steps; s++) {
        st.loss += fit_step(am, mf_rng_derive(r, TAG_PAIRS + s), &st.grad_norm);
    }
    st.loss /= (double) am->o.inner_steps;
    if (ret_stats != NULL) {
        *ret_stats = st;
    }
    return MF_OK;
}
