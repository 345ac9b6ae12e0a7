/* SPDX-License-Identifier: MIT */
/*
 * train.c - DSM training loop body (see train.h).
 *
 * Gradient of the loss w.r.t. the network output: with
 * L = (1/(n D)) sum (eps_hat - eps)^2, dL/d eps_hat = 2 (eps_hat - eps)/(n D).
 * The batch is split into shards (row ranges) of one split workspace
 * (mf_mlp_ws_new_split), whose forward and backward a caller with threads can
 * run concurrently; the parameter gradients are then one GEMM per layer over
 * all rows, split by output rows into parts, so nothing is summed across
 * shards and no gradient buffer is zeroed.  All buffers are sized at
 * construction; a step allocates nothing.
 */
#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "potential.h"
#include "rng.h"

enum {
    STREAM_T = 11,
    STREAM_EPS = 12,
    STREAM_HJB = 13
};

#define MAX_SHARDS 64 /* loss partial sums kept per shard */

struct mf_trainer {
    mf_mlp *net; /* borrowed */
    mf_mlp *ema; /* owned, NULL without EMA */
    const mf_schedule *sched;
    mf_train_opts opts;
    const float *c;                   /* condition of the current step, borrowed */
    const float *x0;                  /* clean batch of the current step, borrowed */
    mf_mlp_ws *ws;                    /* split workspace of batch rows */
    float *grad;                      /* (n_params) */
    double loss[MAX_SHARDS];          /* per-shard sum of squared errors */
    double sumsq[MF_TRAIN_MAX_PARTS]; /* per-part squared gradient norm */
    double grad_norm;                 /* of the current step, before clipping */
    float clip_scale, lr;             /* of the current step */
    mf_adam adam;
    float *xt;  /* (batch, D) noised input */
    float *eps; /* (batch, D) target noise */
    float *out; /* (batch, D) prediction, then d_out */
    float *t;   /* (batch) timesteps */
    size_t done;
    /* potential networks */
    mf_pot_ws *pws;      /* batch rows */
    mf_hjb_net *hjb;     /* NULL without the regulariser */
    size_t n_points;     /* collocation points per step */
    double *tau;         /* (n_points) */
    float *xc;           /* (n_points, D) collocation inputs */
    mf_hjb_stats hjb_st; /* of the last step */
    double hjb_lambda;
};

mf_train_opts mf_train_opts_default(void)
{
    mf_train_opts o = {
        .batch = 512,
        .n_steps = 20000,
        .lr = 1e-3f,
        .lr_min = 1e-5f,
        .warmup = 500,
        .lr_sched = MF_LR_COSINE,
        .beta1 = 0.9f,
        .beta2 = 0.999f,
        .adam_eps = 1e-8f,
        .clip_grad = 1.0,
        .ema_decay = 0.999f,
        .seed = 0,
        .n_shards = 1,
        .hjb = mf_hjb_opts_default(),
    };
    return o;
}

void mf_trainer_free(mf_trainer *tr)
{
    if (tr == NULL) {
        return;
    }
    mf_mlp_free(tr->ema);
    mf_mlp_ws_free(tr->ws);
    mf_free_aligned(tr->grad);
    mf_free_aligned(tr->adam.m);
    mf_free_aligned(tr->adam.v);
    mf_free_aligned(tr->xt);
    mf_free_aligned(tr->eps);
    mf_free_aligned(tr->out);
    mf_free_aligned(tr->t);
    mf_pot_ws_free(tr->pws);
    mf_hjb_net_free(tr->hjb);
    free(tr->tau);
    mf_free_aligned(tr->xc);
    free(tr);
}

static size_t shard_begin(const mf_trainer *tr, size_t s)
{
    return s * tr->opts.batch / tr->opts.n_shards;
}

/* A potential network's workspaces: the batch's rows, and the regulariser's points. */
static mf_err pot_setup(mf_trainer *tr)
{
    const mf_train_opts *o = &tr->opts;
    mf_err err = mf_pot_ws_new(tr->net, o->batch, &tr->pws);
    if (err != MF_OK || !o->hjb.on) {
        return err;
    }
    size_t P = (size_t) ceil(o->hjb.frac_points * (double) o->batch);
    tr->n_points = P < 1 ? 1 : P > o->batch ? o->batch : P;
    err = mf_hjb_net_new(tr->net, &o->hjb, tr->n_points, &tr->hjb);
    if (err == MF_OK &&
        ((tr->tau = malloc(tr->n_points * sizeof *tr->tau)) == NULL ||
         (tr->xc = mf_alloc_floats(tr->n_points * tr->net->cfg.data_dim)) == NULL)) {
        err = MF_ENOMEM;
    }
    return err;
}

mf_err mf_trainer_new(mf_mlp *net, const mf_schedule *s, const mf_train_opts *o, mf_trainer **ret)
{
    if (o->batch == 0 || !(o->lr > 0.0f) || !(o->ema_decay >= 0.0f && o->ema_decay < 1.0f) ||
        !(o->beta1 >= 0.0f && o->beta1 < 1.0f) || !(o->beta2 >= 0.0f && o->beta2 < 1.0f) ||
        o->n_shards == 0 || o->n_shards > MAX_SHARDS || o->n_shards > o->batch) {
        return MF_EINVAL;
    }
    if (o->hjb.on && (!mf_pot_is_potential(net) || mf_hjb_opts_check(&o->hjb, NULL) != MF_OK)) {
        return MF_EINVAL;
    }
    size_t bd;
    if (mf_size_mul(o->batch, net->cfg.data_dim, &bd) != MF_OK) {
        return MF_ERANGE;
    }
    mf_trainer *tr = calloc(1, sizeof *tr);
    if (tr == NULL) {
        return MF_ENOMEM;
    }
    tr->net = net;
    tr->sched = s;
    tr->opts = *o;
    mf_err err =
        mf_pot_is_potential(net) ? pot_setup(tr) : mf_mlp_ws_new_split(net, o->batch, &tr->ws);
    if (err == MF_OK && (tr->grad = mf_alloc_floats(net->n_params)) == NULL) {
        err = MF_ENOMEM;
    }
    if (err == MF_OK && o->ema_decay > 0.0f) {
        err = mf_mlp_clone(net, &tr->ema);
    }
    if (err != MF_OK) {
        mf_trainer_free(tr);
        return err;
    }
    tr->adam = (mf_adam){.beta1 = o->beta1, .beta2 = o->beta2, .eps = o->adam_eps};
    tr->adam.m = mf_alloc_floats(net->n_params);
    tr->adam.v = mf_alloc_floats(net->n_params);
    tr->xt = mf_alloc_floats(bd);
    tr->eps = mf_alloc_floats(bd);
    tr->out = mf_alloc_floats(bd);
    tr->t = mf_alloc_floats(o->batch);
    if (!tr->adam.m || !tr->adam.v || !tr->xt || !tr->eps || !tr->out || !tr->t) {
        mf_trainer_free(tr);
        return MF_ENOMEM;
    }
    *ret = tr;
    return MF_OK;
}

/*
 * Noised inputs for rows [first_row, first_row + n) of draw number `draw`:
 * t_r uniform on 0..T-1, eps ~ N(0, I), x_t = sqrt(ab) x0 + sqrt(1 - ab) eps.
 */
static void make_noisy(const mf_schedule *s, mf_rng root, uint64_t draw, size_t first_row,
                       const float *x0, size_t n, size_t D, float *t, float *eps, float *xt)
{
    mf_rng rt = mf_rng_derive(mf_rng_derive(root, STREAM_T), draw);
    mf_rng re = mf_rng_derive(mf_rng_derive(root, STREAM_EPS), draw);
    mf_rng_normal(re, (uint64_t) first_row * D, eps, n * D);
    for (size_t r = 0; r < n; r++) {
        uint32_t ti = mf_rng_below(rt, first_row + r, (uint32_t) s->T);
        t[r] = (float) ti;
        float a = (float) sqrt(s->alpha_bar[ti]), b = (float) sqrt(1.0 - s->alpha_bar[ti]);
        for (size_t d = 0; d < D; d++) {
            xt[r * D + d] = a * x0[r * D + d] + b * eps[r * D + d];
        }
    }
}

void mf_trainer_begin_step(mf_trainer *tr, const float *x0, const float *c)
{
    /* The noise is drawn per shard (counter-based streams: rows r0..r1 on their
     * own give the same values), so it runs in parallel. */
    tr->x0 = x0;
    tr->c = c;
}

/*
 * A potential network's whole gradient, into tr->grad: DSM through eps = -grad_x g
 * (L = mean (eps_hat - eps)^2, so dL/d grad_x g = -2 (eps_hat - eps) / (B D) is the
 * tangent seed), then lambda times the regulariser's at the collocation points.
 */
static void pot_grad(mf_trainer *tr)
{
    size_t D = tr->net->cfg.data_dim, B = tr->opts.batch;
    mf_rng root = mf_rng_make(tr->opts.seed);
    make_noisy(tr->sched, root, tr->done, 0, tr->x0, B, D, tr->t, tr->eps, tr->xt);
    mf_pot_forward(tr->net, tr->pws, tr->xt, tr->t, tr->c, B, NULL);
    mf_pot_grad_x(tr->net, tr->pws, B, tr->out);
    double loss = 0.0;
    float g = 2.0f / (float) (B * D);
    for (size_t j = 0; j < B * D; j++) {
        float diff = -tr->out[j] - tr->eps[j];
        loss += (double) diff * (double) diff;
        tr->out[j] = -g * diff;
    }
    tr->loss[0] = loss;
    memset(tr->grad, 0, tr->net->n_params * sizeof(float));
    mf_pot_backward(tr->net, tr->pws, B, NULL, tr->out, tr->grad, NULL);
    memset(&tr->hjb_st, 0, sizeof tr->hjb_st);
    tr->hjb_lambda = 0;
    if (tr->hjb == NULL) {
        return;
    }
    /* collocation: the batch's first rows noised to tau ~ U[t_min, 1 - dt] */
    const mf_hjb_opts *h = &tr->opts.hjb;
    mf_rng rh = mf_rng_derive(mf_rng_derive(root, STREAM_HJB), tr->done);
    size_t P = tr->n_points;
    mf_rng_normal(mf_rng_derive(rh, 1), 0, tr->xc, P * D);
    for (size_t p = 0; p < P; p++) {
        double abar;
        tr->tau[p] =
            h->t_min + (1.0 - h->dt - h->t_min) * mf_rng_uniform_f64(mf_rng_derive(rh, 2), p);
        mf_schedule_ct(tr->sched, tr->tau[p], NULL, &abar);
        float a = (float) sqrt(abar), b = (float) sqrt(1.0 - abar);
        for (size_t d = 0; d < D; d++) {
            tr->xc[p * D + d] = a * tr->x0[p * D + d] + b * tr->xc[p * D + d];
        }
    }
    tr->hjb_lambda = mf_hjb_lambda_at(h, tr->done, tr->opts.n_steps);
    mf_hjb_net_loss(tr->net, tr->sched, tr->hjb, tr->xc, tr->tau, P, mf_rng_derive(rh, 3),
                    (float) tr->hjb_lambda, tr->hjb_lambda > 0 ? tr->grad : NULL, &tr->hjb_st);
}

void mf_trainer_shard_grad(mf_trainer *tr, size_t s)
{
    if (tr->pws != NULL) { /* one thread: shard 0 does it all */
        if (s == 0) {
            pot_grad(tr);
        } else {
            tr->loss[s] = 0.0;
        }
        return;
    }
    size_t D = tr->net->cfg.data_dim, C = tr->net->cfg.cond_dim;
    size_t r0 = shard_begin(tr, s), r1 = shard_begin(tr, s + 1), n = r1 - r0;
    make_noisy(tr->sched, mf_rng_make(tr->opts.seed), tr->done, r0, tr->x0 + r0 * D, n, D,
               tr->t + r0, tr->eps + r0 * D, tr->xt + r0 * D);
    float *out = tr->out + r0 * D;
    const float *eps = tr->eps + r0 * D;
    mf_mlp_forward_rows(tr->net, tr->ws, r0, tr->xt + r0 * D, tr->t + r0,
                        tr->c != NULL ? tr->c + r0 * C : NULL, n, out);
    double loss = 0.0;
    float g = 2.0f / (float) (tr->opts.batch * D);
    for (size_t j = 0; j < n * D; j++) {
        float diff = out[j] - eps[j];
        loss += (double) diff * (double) diff;
        out[j] = g * diff;
    }
    tr->loss[s] = loss;
    mf_mlp_backward_rows(tr->net, tr->ws, r0, out, n, NULL);
}

static void part_range(size_t n, size_t p, size_t n_parts, size_t *i0, size_t *i1);

void mf_trainer_grad_part(mf_trainer *tr, size_t part, size_t n_parts)
{
    if (tr->pws != NULL) { /* the gradient is whole already: its squared norm by part */
        size_t i0, i1;
        part_range(tr->net->n_params, part, n_parts, &i0, &i1);
        tr->sumsq[part] = mf_sumsq(tr->grad + i0, i1 - i0);
        return;
    }
    tr->sumsq[part] =
        mf_mlp_param_grad_part(tr->net, tr->ws, tr->opts.batch, part, n_parts, tr->grad);
}

void mf_trainer_finish_reduce(mf_trainer *tr, size_t n_parts)
{
    const mf_train_opts *o = &tr->opts;
    double ss = 0.0;
    for (size_t p = 0; p < n_parts; p++) {
        ss += tr->sumsq[p];
    }
    tr->grad_norm = sqrt(ss);
    /* torch.nn.utils.clip_grad_norm_: scale by max / (norm + 1e-6) when over the limit. */
    tr->clip_scale = (o->clip_grad > 0.0 && tr->grad_norm > o->clip_grad)
                         ? (float) (o->clip_grad / (tr->grad_norm + 1e-6))
                         : 1.0f;
    tr->lr = mf_lr_at(o->lr_sched, o->lr, o->lr_min, o->warmup, tr->done, o->n_steps);
    tr->adam.t++;
}

/* Part p's range of the parameter block, in whole cache lines (16 floats). */
static void part_range(size_t n, size_t p, size_t n_parts, size_t *i0, size_t *i1)
{
    size_t lines = (n + 15) / 16;
    *i0 = p * lines / n_parts * 16;
    *i1 = (p + 1) * lines / n_parts * 16;
    *i0 = *i0 < n ? *i0 : n;
    *i1 = *i1 < n ? *i1 : n;
}

void mf_trainer_update_part(mf_trainer *tr, size_t part, size_t n_parts)
{
    size_t i0, i1;
    part_range(tr->net->n_params, part, n_parts, &i0, &i1);
    if (tr->clip_scale != 1.0f) {
        mf_scale(tr->grad + i0, i1 - i0, tr->clip_scale);
    }
    mf_adam_step_range(&tr->adam, tr->net->params, tr->grad, i0, i1, tr->lr, tr->adam.t);
    if (tr->ema != NULL) {
        mf_ema_update(tr->ema->params + i0, tr->net->params + i0, i1 - i0, tr->opts.ema_decay);
    }
}

void mf_trainer_finish_step(mf_trainer *tr, double *ret_loss, double *ret_grad_norm)
{
    double loss = 0.0;
    for (size_t s = 0; s < tr->opts.n_shards; s++) {
        loss += tr->loss[s];
    }
    tr->done++;
    if (ret_loss != NULL) {
        *ret_loss = loss / (double) (tr->opts.batch * tr->net->cfg.data_dim);
    }
    if (ret_grad_norm != NULL) {
        *ret_grad_norm = tr->grad_norm;
    }
}

void mf_trainer_end_step(mf_trainer *tr, double *ret_loss, double *ret_grad_norm)
{
    mf_trainer_grad_part(tr, 0, 1);
    mf_trainer_finish_reduce(tr, 1);
    mf_trainer_update_part(tr, 0, 1);
    mf_trainer_finish_step(tr, ret_loss, ret_grad_norm);
}

void mf_trainer_step(mf_trainer *tr, const float *x0, const float *c, double *ret_loss,
                     double *ret_grad_norm)
{
    mf_trainer_begin_step(tr, x0, c);
    for (size_t s = 0; s < tr->opts.n_shards; s++) {
        mf_trainer_shard_grad(tr, s);
    }
    mf_trainer_end_step(tr, ret_loss, ret_grad_norm);
}

typedef struct part_job {
    mf_trainer *tr;
    size_t n_parts;
} part_job;

static void shard_task(void *ctx, size_t i)
{
    mf_trainer_shard_grad(ctx, i);
}

static void grad_task(void *ctx, size_t i)
{
    const part_job *u = ctx;
    mf_trainer_grad_part(u->tr, i, u->n_parts);
}

static void update_task(void *ctx, size_t i)
{
    const part_job *u = ctx;
    mf_trainer_update_part(u->tr, i, u->n_parts);
}

/* fn(exec, n, task, ctx), or the loop on this thread without an executor. */
static void run_tasks(mf_par_for_fn fn, void *exec, size_t n, void (*task)(void *, size_t),
                      void *ctx)
{
    if (fn != NULL) {
        fn(exec, n, task, ctx);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        task(ctx, i);
    }
}

void mf_trainer_step_exec(mf_trainer *tr, mf_par_for_fn fn, void *exec, size_t n_parts,
                          const float *x0, const float *c, double *ret_loss, double *ret_grad_norm)
{
    part_job u = {.tr = tr, .n_parts = n_parts < 1 ? 1 : n_parts};
    u.n_parts = u.n_parts < MF_TRAIN_MAX_PARTS ? u.n_parts : MF_TRAIN_MAX_PARTS;
    mf_trainer_begin_step(tr, x0, c);
    run_tasks(fn, exec, tr->opts.n_shards, shard_task, tr);
    run_tasks(fn, exec, u.n_parts, grad_task, &u);
    mf_trainer_finish_reduce(tr, u.n_parts);
    run_tasks(fn, exec, u.n_parts, update_task, &u);
    mf_trainer_finish_step(tr, ret_loss, ret_grad_norm);
}

size_t mf_trainer_n_shards(const mf_trainer *tr)
{
    return tr->opts.n_shards;
}

size_t mf_trainer_n_done(const mf_trainer *tr)
{
    return tr->done;
}

void mf_trainer_hjb_last(const mf_trainer *tr, mf_hjb_stats *st, double *lambda)
{
    *st = tr->hjb_st;
    *lambda = tr->hjb_lambda;
}

const mf_mlp *mf_trainer_ema(const mf_trainer *tr)
{
    return tr->ema != NULL ? tr->ema : tr->net;
}

double mf_dsm_loss(const mf_mlp *net, mf_mlp_ws *ws, const mf_schedule *s, const float *x0,
                   const float *c, size_t n, uint64_t seed)
{
    size_t D = net->cfg.data_dim, C = net->cfg.cond_dim, chunk = mf_mlp_ws_max_batch(ws);
    size_t cd = chunk * D;
    float *buf = mf_alloc_floats(3 * cd + chunk);
    if (buf == NULL) {
        return NAN;
    }
    float *eps = buf, *xt = buf + cd, *out = buf + 2 * cd, *t = buf + 3 * cd;
    double sum = 0.0;
    mf_rng root = mf_rng_make(seed);
    mf_pot_ws *pws = NULL; /* a potential's eps is -grad_x g: its own passes */
    if (mf_pot_is_potential(net) && mf_pot_ws_new(net, chunk, &pws) != MF_OK) {
        mf_free_aligned(buf);
        return NAN;
    }
    for (size_t r0 = 0; r0 < n; r0 += chunk) {
        size_t m = n - r0 < chunk ? n - r0 : chunk;
        const float *cr = c != NULL ? c + r0 * C : NULL;
        make_noisy(s, root, 0, r0, x0 + r0 * D, m, D, t, eps, xt);
        if (pws != NULL) {
            mf_pot_forward(net, pws, xt, t, cr, m, NULL);
            mf_pot_grad_x(net, pws, m, out);
            mf_scale(out, m * D, -1.0f);
        } else {
            mf_mlp_forward(net, ws, xt, t, cr, m, out);
        }
        for (size_t j = 0; j < m * D; j++) {
            double diff = (double) out[j] - (double) eps[j];
            sum += diff * diff;
        }
    }
    mf_pot_ws_free(pws);
    mf_free_aligned(buf);
    return sum / ((double) n * (double) D);
}
