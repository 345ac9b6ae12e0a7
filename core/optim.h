/* SPDX-License-Identifier: MIT */
/*
 * optim.h - flat-array optimiser pieces shared by training and fine-tuning:
 * Adam, global gradient-norm clipping, EMA of weights, learning-rate schedules.
 * Every array has the parameter block's layout (see mlp.h), so each is one loop.
 */
#ifndef MF_OPTIM_H
#define MF_OPTIM_H

#include <stddef.h>
#include <stdint.h>

typedef struct mf_adam {
    float beta1, beta2, eps;
    uint64_t t; /* steps taken; bias correction uses it */
    float *m;   /* (n) first moment, owned by the caller */
    float *v;   /* (n) second moment, owned by the caller */
} mf_adam;

/**
 * One Adam step (Kingma & Ba 2015, Algorithm 1, bias-corrected):
 * m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2, p -= lr mhat / (sqrt(vhat) + eps).
 */
void mf_adam_step(mf_adam *a, float *params, const float *grad, size_t n, float lr);

/**
 * The same update on the index range [i0, i1) only, as step number t (1-based,
 * a->t is not touched): for splitting one step over threads.  mf_adam_step is
 * a->t++ followed by this over [0, n).
 */
void mf_adam_step_range(const mf_adam *a, float *params, const float *grad, size_t i0, size_t i1,
                        float lr, uint64_t t);

/** Sum of squares of x (n), accumulated in double. */
double mf_sumsq(const float *x, size_t n);

/** x *= s. */
void mf_scale(float *x, size_t n, float s);

/** Resets the moments and step count (Adam "reset" between fine-tuning iterations). */
void mf_adam_reset(mf_adam *a, size_t n);

/**
 * Global L2 norm of grad; when max_norm > 0 and the norm exceeds it, scales
 * grad by max_norm / norm (torch.nn.utils.clip_grad_norm_).  Returns the norm
 * before clipping.
 */
double mf_clip_grad_norm(float *grad, size_t n, double max_norm);

/** ema = decay ema + (1 - decay) params. */
void mf_ema_update(float *ema, const float *params, size_t n, float decay);

typedef enum mf_lr_sched {
    MF_LR_CONSTANT = 0,
    MF_LR_COSINE = 1, /* linear warm-up, then cosine decay to lr_min */
} mf_lr_sched;

/** Learning rate at step (0-based) of n_steps. */
float mf_lr_at(mf_lr_sched kind, float lr_max, float lr_min, size_t warmup, size_t step,
               size_t n_steps);

#endif /* MF_OPTIM_H */
