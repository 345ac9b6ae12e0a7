/* SPDX-License-Identifier: MIT */
/*
 * smeme.h - S-MEME: maximum-entropy manifold exploration by mirror descent
 * (../shared/ALGORITHMS.md, reference/smeme-adjoint-matching.md §1.5, §2.3).
 *
 * For k = 1..K the previous model pi_{k-1}, frozen, is both the KL anchor and
 * the reward provider; a trainable copy of it is fine-tuned by Adjoint
 * Matching (adjoint.h) against r = -log p_{k-1} / alpha_k, whose terminal
 * adjoint is
 *     a_N = -grad r / ... = s_{k-1}(x_N, tau_r) / alpha_k
 *         = -eps_{k-1}(x_N, tau_r) / (alpha_k sqrt(1 - alpha_bar(tau_r))),
 * norm-clipped per sample at clip_adjoint.  The ideal result of iteration k is
 * p_k proportional to p_{k-1}^(1 - 1/alpha_k): alpha = 2 flattens by a square
 * root (a Gaussian's variance doubles).
 *
 * The reward is read at tau_r (10 on a T = 1000 schedule), not at 0: the
 * fine-tuned eps is too imprecise at the smallest timestep, where the score is
 * eps / sqrt(1 - alpha_bar) ~ 100 eps, and iteration 2 goes wrong there
 * (smeme-reference-run.md §2).
 *
 * Stepwise, so a server can run it in time slices: each mf_smeme_step is one
 * Adjoint Matching round; the iteration ends after `rounds` of them and the
 * next step starts the next iteration from the current weights.
 */
#ifndef MF_SMEME_H
#define MF_SMEME_H

#include <stdbool.h>
#include <stddef.h>

#include "adjoint.h"
#include "err.h"
#include "mlp.h"
#include "schedule.h"

#define MF_SMEME_MAX_K 16

typedef struct mf_smeme_opts {
    size_t K;                       /* iterations (2), 1..MF_SMEME_MAX_K */
    double alpha[MF_SMEME_MAX_K];   /* alpha_k > 1 (2 each) */
    long tau_r;                     /* reward timestep (10) */
    size_t rounds;                  /* Adjoint Matching rounds per iteration (200) */
    mf_am_opts am;                  /* the solver (clip_adjoint 2.5; the rest as mf_am_opts_default) */
} mf_smeme_opts;

/** The settings of smeme-reference-run.md's run C. */
mf_smeme_opts mf_smeme_opts_default(void);

typedef struct mf_smeme mf_smeme;

/**
 * A job that explores from `parent` (copied: the caller keeps it) on schedule
 * s.  Errors: MF_EINVAL (K, alpha <= 1 or not finite, tau_r outside 0..T-1,
 * rounds 0, the solver's options), MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_smeme_new(const mf_mlp *parent, const mf_schedule *s,
                                  const mf_smeme_opts *o, mf_smeme **ret);
void mf_smeme_free(mf_smeme *sm);

/** The executor of the following rounds (mf_am_set_executor). */
void mf_smeme_set_executor(mf_smeme *sm, mf_par_for_fn fn, void *exec, size_t threads);

/** One Adjoint Matching round of the current iteration.  Errors: MF_EINVAL when done. */
MF_MUST_CHECK mf_err mf_smeme_step(mf_smeme *sm, mf_am_round_stats *ret_stats);

/**
 * Continues from a checkpoint: params (n_params floats) are pi_k after k =
 * iterations_done < K finished iterations.  The rounds that follow use the
 * noise an uninterrupted run would have used, so the result is the same.
 * Errors: MF_EINVAL.
 */
MF_MUST_CHECK mf_err mf_smeme_restore(mf_smeme *sm, const float *params, size_t iterations_done);

/** Iterations finished (0..K) and rounds done in the current one. */
size_t mf_smeme_iterations_done(const mf_smeme *sm);
size_t mf_smeme_round(const mf_smeme *sm);
bool mf_smeme_done(const mf_smeme *sm);

/** The model being fine-tuned: after iteration k is done, pi_k. */
const mf_mlp *mf_smeme_model(const mf_smeme *sm);

#endif /* MF_SMEME_H */
