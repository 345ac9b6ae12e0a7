/* SPDX-License-Identifier: MIT */
/*
 * dxmi_grad.c - DxMI's three losses and their gradients by hand
 * (reference/other-seeds.md §2.4, as ../shared/bench/dxmi_torch/dxmi.py
 * computes them with autograd), each as row chunks on the executor followed
 * by the parameter gradients in parts (dxmi_int.h).  The Adam steps are in
 * dxmi.c.
 *
 * EBM, x+ data and x- the rollout's x_T, B rows each:
 *     L_E = mean E(x+) - mean E(x-) + gamma (mean E(x+)^2 + mean E(x-)^2),
 *     dL/dE(x+_r) = (1 + 2 gamma E(x+_r))/B,  dL/dE(x-_r) = (-1 + 2 gamma E(x-_r))/B.
 * Value TD at step t, x' a fresh draw of x_{t+1} from the sampler at x_t:
 *     c_t = |x' - x_t|^2 / (D 2 s2_t),
 *     y = [t = T-1 ? E(x') : V(x', t+1)] + tau2 c_t - tau1 log sigma_t   (held fixed),
 *     L_V = mean (V(x_t, t) - y)^2,  dL/dV_r = 2 (V_r - y_r)/B.
 * Sampler, buffer rows (x_t, t), x' = mu_theta(x_t, t) + sigma_t z:
 *     L = mean [ Vn(x') + tau2 c_t - tau1 log sigma_t ],  Vn = E at T-1, else V(., t+1);
 *     g = dL/dx' B = grad Vn(x') + tau2 (x' - x_t)/(D s2_t);
 *     mu = xmult_t x_t + cmult_t eps_theta(x_t, tau_t), so dL/d eps = cmult_t g/B;
 *     x' depends on log sigma_t through sigma_t z: dL/dlog sigma_t
 *     = sum over the rows at t of (g . sigma_t z - tau1)/B.
 * The value's input is [x, emb(t)]: only its first D columns get a gradient.
 */
#include <math.h>
#include <string.h>

#include "dxmi_int.h"

/* Per-chunk partial sums of a phase (reduced in chunk order: deterministic). */
typedef struct phase {
    mf_dxmi *dx;
    size_t chunks, t;
    const float *x_t, *x_next;
    double a[MF_DXMI_MAX_THREADS], b[MF_DXMI_MAX_THREADS], c[MF_DXMI_MAX_THREADS];
    double ls[MF_DXMI_MAX_THREADS][MF_VAR_MAX_T];  /* sampler: sum g . sigma z by step */
    size_t cnt[MF_DXMI_MAX_THREADS][MF_VAR_MAX_T]; /* sampler: rows by step */
    double sumsq[MF_DXMI_MAX_THREADS];
} phase;

/*
 * Runs task, then part (may be NULL), over p->chunks, and sums the chunks'
 * a, b, c and sumsq into sum[0..3], in chunk order.
 */
static void run_phases(phase *p, void (*task)(void *, size_t), void (*part)(void *, size_t),
                       double sum[4])
{
    mf__dxmi_run(p->dx, p->chunks, task, p);
    if (part != NULL) {
        mf__dxmi_run(p->dx, p->chunks, part, p);
    }
    sum[0] = sum[1] = sum[2] = sum[3] = 0.0;
    for (size_t c = 0; c < p->chunks; c++) {
        sum[0] += p->a[c];
        sum[1] += p->b[c];
        sum[2] += p->c[c];
        sum[3] += p->sumsq[c];
    }
}

/*
 * Rows [r0, r1) of V's input [x, emb(t_r)] in buf (B, D + E) from x (B, D),
 * t_r = steps[r] + t (steps NULL: t).
 */
static void value_rows(const mf_dxmi *dx, float *buf, const float *x, const size_t *steps,
                       size_t t_add, size_t r0, size_t r1)
{
    size_t D = dx->D, E = dx->E, DE = dx->DE;
    for (size_t r = r0; r < r1; r++) {
        size_t t = (steps != NULL ? steps[r] : 0) + t_add;
        memcpy(buf + r * DE, x + r * D, D * sizeof(float));
        memcpy(buf + r * DE + D, dx->emb + t * E, E * sizeof(float));
    }
}

/* ---- EBM ------------------------------------------------------------------------- */

static void ebm_task(void *ctx, size_t c)
{
    phase *p = ctx;
    mf_dxmi *dx = p->dx;
    size_t B = dx->B, r0, r1;
    mf__dxmi_span(2 * B, p->chunks, c, &r0, &r1);
    float *f = dx->fe + r0, *df = dx->dfe + r0;
    mf_reward_forward_rows(dx->energy, dx->ws_e, r0, dx->xe + r0 * dx->D, r1 - r0, f);
    double pos = 0.0, neg = 0.0, sq = 0.0, g2 = 2.0 * dx->o.gamma;
    for (size_t r = r0; r < r1; r++) {
        double e = (double) dx->fe[r];
        if (r < B) {
            pos += e;
        } else {
            neg += e;
        }
        sq += e * e;
        dx->dfe[r] = (float) (((r < B ? 1.0 : -1.0) + g2 * e) / (double) B);
    }
    p->a[c] = pos;
    p->b[c] = neg;
    p->c[c] = sq;
    mf_reward_backward_rows(dx->energy, dx->ws_e, r0, df, r1 - r0, NULL, 0);
}

static void ebm_part(void *ctx, size_t c)
{
    phase *p = ctx;
    mf_dxmi *dx = p->dx;
    p->sumsq[c] =
        mf_reward_param_grad_part(dx->energy, dx->ws_e, dx->xe, 2 * dx->B, c, p->chunks, dx->g_e);
}

double mf__dxmi_ebm_grad(mf_dxmi *dx, const float *x_pos, const float *x_neg, mf__dxmi_ebm *ret)
{
    size_t B = dx->B, D = dx->D;
    memcpy(dx->xe, x_pos, B * D * sizeof(float));
    memcpy(dx->xe + B * D, x_neg, B * D * sizeof(float));
    phase p = {.dx = dx, .chunks = mf__dxmi_chunks(dx, 2 * B)};
    double sum[4];
    run_phases(&p, ebm_task, ebm_part, sum);
    ret->pos_e = sum[0] / (double) B;
    ret->neg_e = sum[1] / (double) B;
    ret->reg = dx->o.gamma * sum[2] / (double) B;
    ret->sumsq = sum[3];
    return ret->pos_e - ret->neg_e + ret->reg;
}

/* ---- value TD -------------------------------------------------------------------- */

/* The targets y of chunk c's rows into tgt (held fixed by the fit below). */
static void target_task(void *ctx, size_t c)
{
    phase *p = ctx;
    mf_dxmi *dx = p->dx;
    size_t D = dx->D, t = p->t, r0, r1;
    mf__dxmi_span(dx->B, p->chunks, c, &r0, &r1);
    size_t n = r1 - r0;
    if (t + 1 == dx->T) { /* E(x') at the last step, V(x', t+1) before it */
        mf_reward_forward_rows(dx->energy, dx->ws_e, r0, p->x_next + r0 * D, n, dx->fv + r0);
    } else {
        value_rows(dx, dx->vin, p->x_next, NULL, t + 1, r0, r1);
        mf_reward_forward_rows(dx->value, dx->ws_v, r0, dx->vin + r0 * dx->DE, n, dx->fv + r0);
    }
    double k = dx->o.tau_velocity / ((double) D * 2.0 * dx->s2[t]);
    double ent = dx->o.tau_entropy * log(dx->var.sigma[t]);
    for (size_t r = r0; r < r1; r++) {
        double sq = 0.0;
        for (size_t d = 0; d < D; d++) {
            double u = (double) p->x_next[r * D + d] - (double) p->x_t[r * D + d];
            sq += u * u;
        }
        dx->tgt[r] = (float) ((double) dx->fv[r] + k * sq - ent);
    }
}

void mf__dxmi_td_target(mf_dxmi *dx, size_t t, const float *x_t, const float *x_next)
{
    phase p = {
        .dx = dx, .chunks = mf__dxmi_chunks(dx, dx->B), .t = t, .x_t = x_t, .x_next = x_next};
    double sum[4];
    run_phases(&p, target_task, NULL, sum);
}

/* V(x_t, t) of chunk c's rows, the loss against tgt and its backward. */
static void fit_task(void *ctx, size_t c)
{
    phase *p = ctx;
    mf_dxmi *dx = p->dx;
    size_t B = dx->B, r0, r1;
    mf__dxmi_span(B, p->chunks, c, &r0, &r1);
    size_t n = r1 - r0;
    value_rows(dx, dx->vin2, p->x_t, NULL, p->t, r0, r1);
    mf_reward_forward_rows(dx->value, dx->ws_v, r0, dx->vin2 + r0 * dx->DE, n, dx->fv + r0);
    double loss = 0.0, vsum = 0.0;
    for (size_t r = r0; r < r1; r++) {
        double u = (double) dx->fv[r] - (double) dx->tgt[r];
        loss += u * u;
        vsum += (double) dx->fv[r];
        dx->dfv[r] = (float) (2.0 * u / (double) B);
    }
    p->a[c] = loss;
    p->b[c] = vsum;
    mf_reward_backward_rows(dx->value, dx->ws_v, r0, dx->dfv + r0, n, NULL, 0);
}

static void fit_part(void *ctx, size_t c)
{
    phase *p = ctx;
    mf_dxmi *dx = p->dx;
    p->sumsq[c] =
        mf_reward_param_grad_part(dx->value, dx->ws_v, dx->vin2, dx->B, c, p->chunks, dx->g_v);
}

/* Both for one chunk: its targets depend on its own rows only. */
static void target_fit_task(void *ctx, size_t c)
{
    target_task(ctx, c);
    fit_task(ctx, c);
}

/* The fit after the targets, or (x_next not NULL) both in one pass over the rows. */
static double td(mf_dxmi *dx, size_t t, const float *x_t, const float *x_next, double *ret_vmean)
{
    phase p = {
        .dx = dx, .chunks = mf__dxmi_chunks(dx, dx->B), .t = t, .x_t = x_t, .x_next = x_next};
    double sum[4];
    run_phases(&p, x_next != NULL ? target_fit_task : fit_task, fit_part, sum);
    if (ret_vmean != NULL) {
        *ret_vmean = sum[1] / (double) dx->B;
    }
    return sum[0] / (double) dx->B;
}

double mf__dxmi_td_grad(mf_dxmi *dx, size_t t, const float *x_t, double *ret_vmean)
{
    return td(dx, t, x_t, NULL, ret_vmean);
}

double mf__dxmi_td_step_grad(mf_dxmi *dx, size_t t, const float *x_t, const float *x_next,
                             double *ret_vmean)
{
    return td(dx, t, x_t, x_next, ret_vmean);
}

/* ---- sampler --------------------------------------------------------------------- */

/* grad Vn(x') into g for rows [r0, r1) (zeroed first): V(., t+1) on the V rows, E on the rest. */
static void next_value_grad(mf_dxmi *dx, size_t r0, size_t r1)
{
    size_t D = dx->D, nv = dx->nv;
    memset(dx->g + r0 * D, 0, (r1 - r0) * D * sizeof(float));
    size_t v1 = r1 < nv ? r1 : nv, e0 = r0 > nv ? r0 : nv;
    if (v1 > r0) { /* V rows: the input [x', emb(t+1)] */
        size_t n = v1 - r0;
        value_rows(dx, dx->vin, dx->xn, dx->sb, 1, r0, v1);
        mf_reward_forward_rows(dx->value, dx->ws_v, r0, dx->vin + r0 * dx->DE, n, dx->fv + r0);
        mf_reward_backward_rows(dx->value, dx->ws_v, r0, dx->ones, n, dx->g + r0 * D, D);
    }
    if (r1 > e0) {
        size_t n = r1 - e0;
        mf_reward_forward_rows(dx->energy, dx->ws_e, e0, dx->xn + e0 * D, n, dx->fv + e0);
        mf_reward_backward_rows(dx->energy, dx->ws_e, e0, dx->ones, n, dx->g + e0 * D, D);
    }
}

static void sampler_task(void *ctx, size_t c)
{
    phase *p = ctx;
    mf_dxmi *dx = p->dx;
    size_t B = dx->B, D = dx->D, r0, r1;
    mf__dxmi_span(B, p->chunks, c, &r0, &r1);
    const mf_var_sched *v = &dx->var;
    mf_mlp_forward_rows(dx->eps, dx->ws_eps, r0, dx->xb + r0 * D, dx->tb + r0, NULL, r1 - r0,
                        dx->eo + r0 * D);
    for (size_t r = r0; r < r1; r++) { /* x' = (xmult x + cmult eps) + sigma z, as the rollout */
        size_t t = dx->sb[r];
        float cx = (float) v->xmult[t], ce = (float) v->cmult[t], cz = (float) v->sigma[t];
        for (size_t d = 0; d < D; d++) {
            size_t j = r * D + d;
            float m = cx * dx->xb[j] + ce * dx->eo[j];
            dx->xn[j] = m + cz * dx->z[j];
        }
    }
    next_value_grad(dx, r0, r1);
    double loss = 0.0, vterm = 0.0, ent = 0.0;
    for (size_t r = r0; r < r1; r++) {
        size_t t = dx->sb[r];
        double k = 1.0 / ((double) D * dx->s2[t]), sq = 0.0, gz = 0.0;
        double ls = log(v->sigma[t]);
        for (size_t d = 0; d < D; d++) {
            size_t j = r * D + d;
            double u = (double) dx->xn[j] - (double) dx->xb[j];
            double g = (double) dx->g[j] + dx->o.tau_velocity * k * u;
            sq += u * u;
            gz += g * v->sigma[t] * (double) dx->z[j];
            dx->eo[j] = (float) (v->cmult[t] * g / (double) B); /* dL/d eps */
        }
        vterm += (double) dx->fv[r];
        ent += ls;
        loss += (double) dx->fv[r] + dx->o.tau_velocity * 0.5 * k * sq - dx->o.tau_entropy * ls;
        p->ls[c][t] += gz;
        p->cnt[c][t]++;
    }
    p->a[c] = loss;
    p->b[c] = vterm;
    p->c[c] = ent;
    mf_mlp_backward_rows(dx->eps, dx->ws_eps, r0, dx->eo + r0 * D, r1 - r0, NULL);
}

static void sampler_part(void *ctx, size_t c)
{
    phase *p = ctx;
    mf_dxmi *dx = p->dx;
    p->sumsq[c] = mf_mlp_param_grad_part(dx->eps, dx->ws_eps, dx->B, c, p->chunks, dx->g_eps);
}

double mf__dxmi_sampler_grad(mf_dxmi *dx, mf__dxmi_gen *ret)
{
    size_t B = dx->B, T = dx->T;
    phase p = {.dx = dx, .chunks = mf__dxmi_chunks(dx, B)};
    double sum[4];
    run_phases(&p, sampler_task, sampler_part, sum);
    double ss = sum[3];
    for (size_t t = 0; t < T; t++) {
        double gz = 0.0, n = 0.0;
        for (size_t c = 0; c < p.chunks; c++) {
            gz += p.ls[c][t];
            n += (double) p.cnt[c][t];
        }
        /* the last sigma is fixed: no gradient, and none in the norm */
        dx->g_ls[t] = t + 1 < T ? (float) ((gz - dx->o.tau_entropy * n) / (double) B) : 0.0f;
        ss += (double) dx->g_ls[t] * (double) dx->g_ls[t];
    }
    ret->value_term = sum[1] / (double) B;
    ret->entropy_term = sum[2] / (double) B;
    ret->sumsq = ss;
    return sum[0] / (double) B;
}
