/* SPDX-License-Identifier: MIT */
/*
 * train.h - denoising score matching for epsilon-prediction DDPM models
 * (Ho et al. 2020, "simple" loss):
 *     L = E_{x0, t ~ U{0..T-1}, eps ~ N(0,I)} || eps_theta(sqrt(ab_t) x0 + sqrt(1-ab_t) eps, t) -
 * eps ||^2 averaged over rows and dimensions, like torch's F.mse_loss.  Adam, global gradient-norm
 * clipping, an EMA of the weights and a warm-up + cosine learning-rate schedule.  The timesteps and
 * noise of step k are drawn from streams derived from (seed, k), so a run is reproducible bit for
 * bit with the same thread count.
 */
#ifndef MF_TRAIN_H
#define MF_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hjb_loss.h"
#include "mlp.h"
#include "optim.h"
#include "schedule.h"

typedef struct mf_train_opts {
    size_t batch;   /* rows per step, >= 1 */
    size_t n_steps; /* planned steps (the lr schedule spans them) */
    float lr;       /* peak learning rate */
    float lr_min;   /* final learning rate of the cosine schedule */
    size_t warmup;  /* warm-up steps */
    mf_lr_sched lr_sched;
    float beta1, beta2, adam_eps;
    double clip_grad; /* <= 0: no clipping */
    float ema_decay;  /* 0: no EMA */
    uint64_t seed;
    size_t n_shards; /* >= 1: row ranges whose gradients may be computed concurrently */
    mf_hjb_opts hjb; /* the HJB regulariser (hjb_loss.h): potential networks only */
} mf_train_opts;

/**
 * Sensible defaults: batch 512, lr 1e-3 -> 1e-5 cosine, warm-up 500, Adam(0.9, 0.999, 1e-8),
 * clip 1, EMA 0.999, one shard.
 */
mf_train_opts mf_train_opts_default(void);

typedef struct mf_trainer mf_trainer;

/**
 * A trainer for net (borrowed; updated in place; must outlive the trainer).
 * A potential network (potential.h) trains by the same DSM loss through
 * eps = -grad_x g (its parameter gradient by potential.c's tangent pass), plus
 * lambda times the HJB regulariser when opts.hjb.on, at ceil(frac_points batch)
 * collocation points: the first rows of the clean batch noised to tau ~ U[t_min,
 * 1 - dt] with the continuous-time schedule.  Its gradient is computed whole in
 * shard 0 (the other shards have nothing to do): one thread.
 * Errors: MF_EINVAL (batch 0, lr <= 0, hjb on for an eps network or out of range, ...),
 * MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_trainer_new(mf_mlp *net, const mf_schedule *s, const mf_train_opts *o,
                                    mf_trainer **ret);
void mf_trainer_free(mf_trainer *tr);

/**
 * One optimiser step on a batch x0 (batch, D) in model space, with condition c
 * (batch, C) or NULL.  *ret_loss (may be NULL) gets the batch loss before the
 * step, *ret_grad_norm (may be NULL) the gradient norm before clipping.
 */
void mf_trainer_step(mf_trainer *tr, const float *x0, const float *c, double *ret_loss,
                     double *ret_grad_norm);

/*
 * The same step in phases, for data-parallel training without threads in
 * core/: the caller runs mf_trainer_shard_grad for shards 0..n_shards-1
 * concurrently (each touches only its own rows of the trainer's split
 * workspace), between a begin and the end phases below.  Shard s covers rows
 * [s B / S, (s + 1) B / S).  The noise and timesteps are those of the serial
 * step, so the result differs from it only by float summation order.
 */

/**
 * Starts a step on the clean batch x0 (batch, D) and condition c (batch, C) or NULL, both
 * borrowed until the step ends.  Each shard then draws its own rows' timesteps and noise
 * (the counter-based streams give the values the serial step would).
 */
void mf_trainer_begin_step(mf_trainer *tr, const float *x0, const float *c);

/** Forward and backward (to every layer's output gradient) of shard s's rows. */
void mf_trainer_shard_grad(mf_trainer *tr, size_t s);

/** Sums the shard gradients, clips, takes the Adam step and updates the EMA. */
void mf_trainer_end_step(mf_trainer *tr, double *ret_loss, double *ret_grad_norm);

/*
 * mf_trainer_end_step split over the parameters, for threads: parts
 * 0..n_parts-1 (n_parts <= MF_TRAIN_MAX_PARTS) of each phase may run
 * concurrently; the phases run in this order, after every shard_grad:
 *   grad_part(p)    for every p   parameter gradients, part p of each layer's
 *                                 output rows (mf_mlp_param_grad_part)
 *   finish_reduce()               gradient norm, clip factor, step number
 *   update_part(p)  for every p   clip, Adam and EMA on part p's range
 *   finish_step(&loss, &norm)
 */
#define MF_TRAIN_MAX_PARTS 64
void mf_trainer_grad_part(mf_trainer *tr, size_t part, size_t n_parts);
void mf_trainer_finish_reduce(mf_trainer *tr, size_t n_parts);
void mf_trainer_update_part(mf_trainer *tr, size_t part, size_t n_parts);
void mf_trainer_finish_step(mf_trainer *tr, double *ret_loss, double *ret_grad_norm);

/**
 * Runs task(ctx, i) for i in [0, n), possibly concurrently, and returns when all are
 * done: an executor (core/ starts no threads; server/par.h's mf_par_for_exec is one).
 */
typedef void (*mf_par_for_fn)(void *exec, size_t n, void (*task)(void *ctx, size_t i), void *ctx);

/**
 * One step (as mf_trainer_step) with its phases run by an executor: the shards, then
 * n_parts (1..MF_TRAIN_MAX_PARTS, e.g. the team size) parts of the parameter
 * gradients and of the update.  fn NULL runs them on the calling thread.
 */
void mf_trainer_step_exec(mf_trainer *tr, mf_par_for_fn fn, void *exec, size_t n_parts,
                          const float *x0, const float *c, double *ret_loss, double *ret_grad_norm);

/** Number of shards (opts.n_shards). */
size_t mf_trainer_n_shards(const mf_trainer *tr);

/** Steps taken so far. */
size_t mf_trainer_n_done(const mf_trainer *tr);

/**
 * The HJB figures of the last step (zeros without the regulariser): its statistics
 * (loss before lambda, residual sums by bin) and the lambda it was weighted with;
 * the DSM part of the loss is the step's loss.
 */
void mf_trainer_hjb_last(const mf_trainer *tr, mf_hjb_stats *st, double *lambda);

/** The EMA weights (a network of the same config), or the live net when EMA is off. */
const mf_mlp *mf_trainer_ema(const mf_trainer *tr);

/**
 * The DSM loss of net on n points x0 (model space), with timesteps and noise
 * fixed by seed so repeated evaluations are comparable (held-out loss).
 * ws is any workspace of net; rows go in chunks of its max batch.
 */
double mf_dsm_loss(const mf_mlp *net, mf_mlp_ws *ws, const mf_schedule *s, const float *x0,
                   const float *c, size_t n, uint64_t seed);

#endif /* MF_TRAIN_H */
