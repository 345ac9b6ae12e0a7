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
#include "train_pot.h"

enum {
    STREAM_T = 11,
    STREAM_EPS = 12, /* 13: train_pot.c's collocation draws */
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
    /* potential networks (train_pot.h) */
    mf__pot_train *pot;
    double hjb_lambda; /* of the current step */
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
    mf__pot_train_free(tr->pot);
    free(tr);
}

static size_t shard_begin(const mf_trainer *tr, size_t s)
{
    return s * tr->opts.batch / tr->opts.n_shards;
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
    mf_err err = mf_pot_is_potential(net)
                     ? mf__pot_train_new(net, o->batch, o->n_shards, &o->hjb, &tr->pot)
                     : mf_mlp_ws_new_split(net, o->batch, &tr->ws);
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
void mf__train_noisy(const mf_schedule *s, mf_rng root, uint64_t draw, size_t first_row,
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
    tr->hjb_lambda = tr->pot != NULL && tr->opts.hjb.on
                         ? mf_hjb_lambda_at(&tr->opts.hjb, tr->done, tr->opts.n_steps)
                         : 0.0;
}

void mf_trainer_shard_grad(mf_trainer *tr, size_t s)
{
    if (tr->pot != NULL) {
        tr->loss[s] = mf__pot_train_shard(tr->pot, tr->net, tr->sched, tr->opts.seed, tr->done,
                                          tr->hjb_lambda, tr->x0, tr->c, s);
        return;
    }
    size_t D = tr->net->cfg.data_dim, C = tr->net->cfg.cond_dim;
    size_t r0 = shard_begin(tr, s), r1 = shard_begin(tr, s + 1), n = r1 - r0;
    mf__train_noisy(tr->sched, mf_rng_make(tr->opts.seed), tr->done, r0, tr->x0 + r0 * D, n, D,
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
    if (tr->pot != NULL) { /* the shards' sums; the norms once every part is in */
        size_t i0, i1;
        part_range(tr->net->n_params, part, n_parts, &i0, &i1);
        mf__pot_train_reduce(tr->pot, part, n_parts, i0, i1, tr->grad);
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
    if (tr->pot != NULL) {
        ss = mf__pot_train_combine_norm(tr->pot, n_parts);
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
    if (tr->pot != NULL) {
        mf__pot_train_combine(tr->pot, i0, i1, tr->grad);
    }
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
    double cap = 0;
    if (tr->pot != NULL) {
        mf__pot_train_stats(tr->pot, st, &cap);
    } else {
        memset(st, 0, sizeof *st);
    }
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
        mf__train_noisy(s, root, 0, r0, x0 + r0 * D, m, D, t, eps, xt);
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
