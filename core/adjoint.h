/* SPDX-License-Identifier: MIT */
/*
 * adjoint.h - Adjoint Matching (Domingo-Enrich et al.) for an epsilon-prediction
 * DDPM model: fine-tune a trainable copy of a frozen reference net so that its
 * memoryless sampler draws from  p_ref(x) exp(r(x))  (up to the KL anchor),
 * given the terminal adjoint a_N = -grad r(x_N) as a callback.
 * Spec: ../shared/reference/smeme-adjoint-matching.md §2.3, in its notation.
 *
 * Grid: k = 0..N on the strided DDPM grid of core/sampler.h, tau_k =
 * mf_sampler_grid_t(T, N, k) for k < N, A_k = alpha_bar(tau_k), A_N = 1.
 *
 * One round:
 *   (a) sample m trajectories with the trainable net (DDPM, eta = 1, the
 *       memoryless sampler), storing x_0..x_N:
 *         c_k = (1 - A_k/A_{k+1}) / sqrt(1 - A_k)
 *         x_{k+1} = sqrt(A_{k+1}/A_k) (x_k - c_k eps_theta(x_k)) + sigma_k z_k,
 *         sigma_k = sqrt((1-A_{k+1})/(1-A_k) (1 - A_k/A_{k+1}));
 *   (b) the lean adjoint backwards with the frozen reference (one VJP per step):
 *         a_N from the callback (norm-clipped at clip_adjoint when > 0),
 *         a_k = sqrt(A_{k+1}/A_k) (a_{k+1} - c_k J_eps_ref(x_k)^T a_{k+1}),
 *       caching eps_ref(x_k);
 *   (c) inner_steps Adam steps, each on B random (trajectory, step) pairs
 *       (optionally only from a subset of steps that always holds the data end), of
 *         L = mean w_k || (eps_theta(x_k) - eps_ref(x_k)) / sqrt(1 - A_k) - a_k ||^2,
 *         w_k = (A_{k+1} - A_k) / A_k,
 *       with pairs over clip_loss dropped and the gradient norm clipped at
 *       clip_grad (smeme-adjoint-matching.md §2.6).
 * The fixed point is eps_theta - eps_ref = sqrt(1 - A_k) E[a_k | x_k]: with
 * a_N = -lambda grad r the score moves by +lambda grad r (signs: §4.4).
 *
 * Everything is a pure function of the seed: the noise of round j, trajectory
 * i, step k and the pairs drawn come from counter-based streams.
 *
 * Threads: core has none, but a round can run its rows on the caller's
 * executor (mf_am_set_executor; server/par.h's mf_par_for): the trajectories
 * and their adjoints are split by trajectory, the regression batch by rows,
 * and the parameter gradients by output rows of each layer.  The result does
 * not depend on the number of threads beyond float summation order.
 */
#ifndef MF_ADJOINT_H
#define MF_ADJOINT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "mlp.h"
#include "sampler.h"
#include "schedule.h"
#include "train.h"

typedef struct mf_am_opts {
    size_t steps;        /* N, grid steps of the memoryless sampler (100) */
    size_t trajectories; /* m, per round (64) */
    size_t batch;        /* B, (trajectory, step) pairs per Adam step (2048) */
    size_t inner_steps;  /* Adam steps per round (2) */
    float lr;            /* Adam learning rate (4e-4) */
    double clip_grad;    /* gradient norm clip, 0 = none (1) */
    double clip_adjoint; /* per-trajectory norm clip of a_N, 0 = none (0; S-MEME uses 2.5) */
    double clip_loss;    /* a pair whose loss exceeds this adds no gradient, 0 = none (0);
                            AM uses 1.6 lambda^2 */
    size_t tail_steps;   /* timestep subsampling: the pairs of a round come from the last */
    size_t random_steps; /* tail_steps steps (the data end) plus random_steps others drawn per
                            round; both 0 = every step (0, 0) */
    uint64_t seed;
    mf_precision rollout; /* the trajectories' forward passes of (a): f32 (0), or bf16 where
                             mf_precision_effective allows (core/bf16_net.h; the layers are
                             made from the network each round); the adjoints, the
                             regression and the gradients stay float */
} mf_am_opts;

/** The defaults of smeme-reference-run.md's run C (clip_adjoint 0: the caller's reward decides). */
mf_am_opts mf_am_opts_default(void);

/**
 * The terminal adjoint a_N = -lambda grad r(x_N) of n rows x (n, D) into
 * a (n, D).  May evaluate the reference net through ctx.
 */
typedef mf_err (*mf_am_terminal_fn)(void *ctx, const float *x, size_t n, size_t D, float *a);

typedef struct mf_am mf_am;

/* The executor type mf_par_for_fn is train.h's. */

/** What one round did. */
typedef struct mf_am_round_stats {
    double loss;          /* mean of the regression loss over the inner steps (before each step) */
    double grad_norm;     /* of the last inner step, before clipping */
    double adjoint_norm;  /* mean ||a_N|| after clipping */
    double adjoint0_norm; /* mean ||a_0||: the adjoint at the noise end (growth monitor) */
    double loss_clipped;  /* fraction of pairs dropped by clip_loss */
} mf_am_round_stats;

/**
 * A solver that trains `net` (which it does not own; usually a clone of ref)
 * against the frozen `ref` on schedule s.  Both nets must have the same
 * configuration, C = 0.  Errors: MF_EINVAL (options, mismatched nets),
 * MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_am_new(const mf_mlp *ref, mf_mlp *net, const mf_schedule *s,
                               const mf_am_opts *o, mf_am **ret);

/** Frees the solver (not the nets); accepts NULL. */
void mf_am_free(mf_am *am);

/**
 * One round (a)-(c) with the terminal adjoint from fn.  Round j (counted by
 * the solver) uses its own noise.  Errors: those of fn; MF_ENOMEM never (all
 * buffers are made by mf_am_new).
 */
MF_MUST_CHECK mf_err mf_am_round(mf_am *am, mf_am_terminal_fn fn, void *ctx,
                                 mf_am_round_stats *ret_stats);

/**
 * The executor of the following rounds (NULL: the calling thread alone) and
 * how many tasks to split work into (1..MF_AM_MAX_THREADS).  May change
 * between rounds (a server runs slices on different workers).
 */
void mf_am_set_executor(mf_am *am, mf_par_for_fn fn, void *exec, size_t threads);

#define MF_AM_MAX_THREADS 16

/** Resets Adam's moments and step count (S-MEME: a fresh optimiser per iteration). */
void mf_am_reset_optimizer(mf_am *am);

/** Rounds run so far; the next round's noise is that of round number `round`. */
uint64_t mf_am_rounds(const mf_am *am);
void mf_am_set_rounds(mf_am *am, uint64_t round);

#endif /* MF_ADJOINT_H */
