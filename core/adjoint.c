/* SPDX-License-Identifier: MIT */
/* adjoint.c - Adjoint Matching for epsilon-prediction DDPM models (adjoint.h). */
#include "adjoint.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bf16_net.h"
#include "mem.h"
#include "optim.h"
#include "rng.h"
#include "sampler.h"

/* Stream tags under a round's generator. */
#define TAG_START 0x41304d31u /* x_0 */
#define TAG_NOISE 0x41304e00u /* + k: z_k */
#define TAG_PAIRS 0x41305000u /* + inner step: the (i, k) pairs */
#define TAG_STEPS 0x41305300u /* the round's subset of steps */

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
    size_t *steps_sub, n_sub; /* the steps pairs are drawn from this round */
    mf_adam adam;
    mf_mlp_ws *ws_net, *ws_ref; /* split workspaces: row ranges run concurrently */
    mf_par_for_fn par_for;
    void *exec;
    size_t threads;
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
                        .clip_loss = 0.0,
                        .tail_steps = 0,
                        .random_steps = 0,
                        .seed = 0};
}

void mf_am_free(mf_am *am)
{
    if (am == NULL) {
        return;
    }
    free(am->A);
    free(am->steps_sub);
    float *bufs[] = {am->tau,     am->c,    am->sqrt_ratio, am->sigma,  am->x,
                     am->eps_ref, am->adj,  am->a_end,      am->t_rows, am->out,
                     am->dx,      am->xb,   am->tb,         am->target, am->wb,
                     am->dout,    am->grad, am->adam_m,     am->adam_v};
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
        !(o->clip_loss >= 0.0) || o->tail_steps > o->steps || o->random_steps > o->steps ||
        (o->random_steps > 0 && o->tail_steps == 0) || !same_config(&ref->cfg, &net->cfg) ||
        ref->cfg.cond_dim != 0) {
        return MF_EINVAL;
    }
    mf_am *am = calloc(1, sizeof *am);
    if (am == NULL) {
        return MF_ENOMEM;
    }
    am->ref = ref;
    am->net = net;
    am->o = *o;
    /* bf16 only where it runs (a bf16 CPU, an unconditional eps network) */
    am->o.rollout = mf_precision_effective(net, o->rollout, false, NULL);
    am->D = ref->cfg.data_dim;
    am->N = o->steps;
    am->m = o->trajectories;
    am->B = o->batch;
    am->n_params = net->n_params;
    size_t N = am->N, m = am->m, D = am->D, B = am->B, rows = m > B ? m : B;
    am->A = malloc((N + 1) * sizeof *am->A);
    am->steps_sub = malloc(N * sizeof *am->steps_sub);
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
    if (am->A == NULL || am->steps_sub == NULL || am->tau == NULL || am->c == NULL ||
        am->sqrt_ratio == NULL || am->sigma == NULL || am->x == NULL || am->eps_ref == NULL ||
        am->adj == NULL || am->a_end == NULL || am->t_rows == NULL || am->out == NULL ||
        am->dx == NULL || am->xb == NULL || am->tb == NULL || am->target == NULL ||
        am->wb == NULL || am->dout == NULL || am->grad == NULL || am->adam_m == NULL ||
        am->adam_v == NULL) {
        err = MF_ENOMEM;
    }
    if (err == MF_OK) {
        err = mf_mlp_ws_new_split(net, rows, &am->ws_net);
    }
    if (err == MF_OK) {
        err = mf_mlp_ws_new_split(ref, m, &am->ws_ref);
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
    am->threads = 1;
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

uint64_t mf_am_rounds(const mf_am *am)
{
    return am->round;
}

void mf_am_set_rounds(mf_am *am, uint64_t round)
{
    am->round = round;
}

static void fill(float *p, size_t n, float v)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = v;
    }
}

void mf_am_set_executor(mf_am *am, mf_par_for_fn fn, void *exec, size_t threads)
{
    am->par_for = fn;
    am->exec = exec;
    am->threads =
        fn == NULL || threads < 1 ? 1 : (threads > MF_AM_MAX_THREADS ? MF_AM_MAX_THREADS : threads);
}

/* task(ctx, i) for i < n on the executor, or here. */
static void run_tasks(mf_am *am, size_t n, void (*task)(void *ctx, size_t i), void *ctx)
{
    if (am->par_for != NULL && n > 1) {
        am->par_for(am->exec, n, task, ctx);
    } else {
        for (size_t i = 0; i < n; i++) {
            task(ctx, i);
        }
    }
}

/* Rows [*r0, *r1) of chunk c of n_chunks over n rows. */
static void chunk(size_t n, size_t n_chunks, size_t c, size_t *r0, size_t *r1)
{
    *r0 = c * n / n_chunks;
    *r1 = (c + 1) * n / n_chunks;
}

/* The chunks for n rows: one per thread, none empty. */
static size_t n_chunks(const mf_am *am, size_t n)
{
    return am->threads < n ? am->threads : n;
}

typedef struct phase {
    mf_am *am;
    mf_rng r;
    size_t chunks;
    const float *a_end;
    double loss[MF_AM_MAX_THREADS];
    size_t clipped[MF_AM_MAX_THREADS];
    double sumsq[MF_AM_MAX_THREADS];
} phase;

/*
 * (a) Trajectories of chunk c: all N steps of its rows.  In bf16 (o.rollout) the
 * chunk's layers are made from the network as this round finds it; a step whose bf16
 * pass fails (oneDNN, memory) runs in float.
 */
static void sample_task(void *ctx, size_t c)
{
    phase *p = ctx;
    mf_am *am = p->am;
    size_t N = am->N, m = am->m, D = am->D, md = m * D, r0, r1;
    chunk(m, p->chunks, c, &r0, &r1);
    size_t n = r1 - r0;
    float *out = am->out + r0 * D, *t_rows = am->t_rows + r0;
    mf_bf16_net *b = NULL;
    if (am->o.rollout == MF_PRECISION_BF16 && mf_bf16_net_new(am->net, n, &b) != MF_OK) {
        b = NULL;
    }
    for (size_t k = 0; k < N; k++) {
        const float *xk = am->x + k * md + r0 * D;
        float *xn = am->x + (k + 1) * md + r0 * D;
        if (b == NULL || mf_bf16_net_forward_shared_t(b, xk, am->tau[k], n, out) != MF_OK) {
            fill(t_rows, n, am->tau[k]);
            mf_mlp_forward_rows(am->net, am->ws_net, r0, xk, t_rows, NULL, n, out);
        }
        float sr = am->sqrt_ratio[k], c_k = am->c[k], sg = am->sigma[k];
        if (sg > 0.0f) {
            /* the noise of rows r0.. of step k: a pure function of (round, k, row) */
            mf_rng_normal(mf_rng_derive(p->r, TAG_NOISE + k), (uint64_t) r0 * D, xn, n * D);
        }
        for (size_t j = 0; j < n * D; j++) {
            float z = sg > 0.0f ? xn[j] : 0.0f;
            xn[j] = sr * (xk[j] - c_k * out[j]) + sg * z;
        }
    }
    mf_bf16_net_free(b);
}

/*
 * (b) The lean adjoint of chunk c's trajectories with the frozen reference,
 * from a_N: a_k = sqrt(A_{k+1}/A_k) (a_{k+1} - c_k J^T a_{k+1}); caches
 * eps_ref(x_k).
 */
static void adjoint_task(void *ctx, size_t c)
{
    phase *p = ctx;
    mf_am *am = p->am;
    size_t N = am->N, m = am->m, D = am->D, md = m * D, r0, r1;
    chunk(m, p->chunks, c, &r0, &r1);
    size_t n = r1 - r0;
    float *dx = am->dx + r0 * D, *t_rows = am->t_rows + r0;
    const float *next = p->a_end + r0 * D;
    for (size_t kk = N; kk-- > 0;) {
        fill(t_rows, n, am->tau[kk]);
        mf_mlp_forward_rows(am->ref, am->ws_ref, r0, am->x + kk * md + r0 * D, t_rows, NULL, n,
                            am->eps_ref + kk * md + r0 * D);
        memset(dx, 0, n * D * sizeof(float));
        mf_mlp_backward_rows(am->ref, am->ws_ref, r0, next, n, dx); /* dx = J^T a_{k+1} */
        float *a = am->adj + kk * md + r0 * D;
        float sr = am->sqrt_ratio[kk], c_k = am->c[kk];
        for (size_t j = 0; j < n * D; j++) {
            a[j] = sr * (next[j] - c_k * dx[j]);
        }
        next = a;
    }
}

/*
 * The steps this round's pairs come from: every step, or the last tail_steps
 * plus random_steps distinct others (a partial Fisher-Yates shuffle).
 */
static void pick_steps(mf_am *am, mf_rng r)
{
    size_t N = am->N, tail = am->o.tail_steps;
    for (size_t k = 0; k < N; k++) {
        am->steps_sub[k] = k;
    }
    if (tail == 0 || tail >= N) {
        am->n_sub = N;
        return;
    }
    /* candidates 0 .. N-tail-1 at the front; the tail is N-tail .. N-1 */
    size_t rest = N - tail, pick = am->o.random_steps < rest ? am->o.random_steps : rest;
    for (size_t j = 0; j < pick; j++) {
        size_t o = j + mf_rng_below(r, j, (uint32_t) (rest - j));
        size_t t = am->steps_sub[j];
        am->steps_sub[j] = am->steps_sub[o];
        am->steps_sub[o] = t;
    }
    for (size_t j = 0; j < tail; j++) {
        am->steps_sub[pick + j] = rest + j;
    }
    am->n_sub = pick + tail;
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

/* (c) Forward and backward of chunk c of the regression batch (its loss and clipped count). */
static void fit_task(void *ctx, size_t c)
{
    phase *p = ctx;
    mf_am *am = p->am;
    size_t D = am->D, r0, r1;
    chunk(am->B, p->chunks, c, &r0, &r1);
    size_t n = r1 - r0;
    float *eps = am->dout + r0 * D; /* eps_theta, then overwritten by the output gradient */
    mf_mlp_forward_rows(am->net, am->ws_net, r0, am->xb + r0 * D, am->tb + r0, NULL, n, eps);
    double loss = 0.0;
    size_t clipped = 0;
    for (size_t b = 0; b < n; b++) {
        double sq = 0.0;
        float *e = eps + b * D;
        const float *tg = am->target + (r0 + b) * D;
        float wgt = am->wb[r0 + b];
        for (size_t d = 0; d < D; d++) {
            float u = e[d] - tg[d];
            sq += (double) u * (double) u;
            e[d] = 2.0f * wgt * u / (float) am->B;
        }
        double l = (double) wgt * sq;
        loss += l;
        if (am->o.clip_loss > 0.0 && l > am->o.clip_loss) {
            /* clamp(loss, max): a clipped pair adds no gradient */
            memset(e, 0, D * sizeof(float));
            clipped++;
        }
    }
    mf_mlp_backward_rows(am->net, am->ws_net, r0, eps, n, NULL);
    p->loss[c] = loss;
    p->clipped[c] = clipped;
}

/* Part c of the parameter gradients (all B rows, one slice of every layer's outputs). */
static void grad_task(void *ctx, size_t c)
{
    phase *p = ctx;
    p->sumsq[c] =
        mf_mlp_param_grad_part(p->am->net, p->am->ws_net, p->am->B, c, p->chunks, p->am->grad);
}

/*
 * (c) One Adam step on B random pairs.  With u = eps_theta - target, target =
 * eps_ref + sqrt(1-A_k) a_k and weight v_k = w_k / (1 - A_k), the loss is
 * mean_b v_k ||u||^2 and its gradient w.r.t. eps_theta is 2 v_k u / B.
 */
static double fit_step(mf_am *am, mf_rng r, double *ret_grad_norm, size_t *ret_clipped)
{
    size_t m = am->m, D = am->D, B = am->B, md = m * D;
    for (size_t b = 0; b < B; b++) {
        size_t i = mf_rng_below(r, 2 * b, (uint32_t) m);
        size_t k = am->steps_sub[mf_rng_below(r, 2 * b + 1, (uint32_t) am->n_sub)];
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
    phase p = {.am = am, .chunks = n_chunks(am, B)};
    run_tasks(am, p.chunks, fit_task, &p);
    double loss = 0.0, sumsq = 0.0;
    for (size_t c = 0; c < p.chunks; c++) {
        loss += p.loss[c];
        *ret_clipped += p.clipped[c];
    }
    run_tasks(am, p.chunks, grad_task, &p);
    for (size_t c = 0; c < p.chunks; c++) {
        sumsq += p.sumsq[c];
    }
    double norm = sqrt(sumsq);
    *ret_grad_norm = norm;
    if (am->o.clip_grad > 0.0 && norm > am->o.clip_grad) {
        mf_scale(am->grad, am->n_params, (float) (am->o.clip_grad / norm));
    }
    mf_adam_step(&am->adam, am->net->params, am->grad, am->n_params, am->o.lr);
    return loss / (double) B;
}

mf_err mf_am_round(mf_am *am, mf_am_terminal_fn fn, void *ctx, mf_am_round_stats *ret_stats)
{
    mf_rng r = mf_rng_derive(mf_rng_make(am->o.seed), am->round++);
    phase p = {.am = am, .r = r, .chunks = n_chunks(am, am->m)};
    run_tasks(am, p.chunks, sample_task, &p);
    size_t md = am->m * am->D;
    mf_err err = fn(ctx, am->x + am->N * md, am->m, am->D, am->a_end);
    if (err != MF_OK) {
        return err;
    }
    mf_am_round_stats st = {0};
    st.adjoint_norm = clip_rows(am->a_end, am->m, am->D, am->o.clip_adjoint);
    p.a_end = am->a_end;
    run_tasks(am, p.chunks, adjoint_task, &p);
    st.adjoint0_norm = clip_rows(am->adj, am->m, am->D, 0.0);
    pick_steps(am, mf_rng_derive(r, TAG_STEPS));
    size_t clipped = 0;
    for (size_t s = 0; s < am->o.inner_steps; s++) {
        st.loss += fit_step(am, mf_rng_derive(r, TAG_PAIRS + s), &st.grad_norm, &clipped);
    }
    st.loss /= (double) am->o.inner_steps;
    st.loss_clipped = (double) clipped / (double) (am->o.inner_steps * am->B);
    if (ret_stats != NULL) {
        *ret_stats = st;
    }
    return MF_OK;
}
