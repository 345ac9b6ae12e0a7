/* SPDX-License-Identifier: MIT */
/*
 * train_pot.h - the training step of potential networks, by shards (core/train.c's
 * phases call it; nothing else should).  Internal to core/.
 *
 * Shard s of S takes rows [s B / S, (s + 1) B / S) of the batch and collocation points
 * [s P / S, (s + 1) P / S): DSM through eps = -grad_x g (potential.c's tangent pass) and
 * lambda times the regulariser (hjb_loss.c), into gradient buffers of its own; shards
 * touch nothing shared, so they run concurrently.  Then, by parameter ranges (parts):
 * the shards' buffers are summed into the DSM and the HJB gradient with their squared
 * norms and dot product; the regulariser is capped, g = g_dsm + c g_hjb with
 * c = min(1, |g_dsm| / |g_hjb|), and the clip and Adam see g.
 *
 * Why the cap: early in training R^2 is large (|grad u|^2 ~ D / sigma^2 at small tau)
 * and so is its gradient, even at lambda 0.001; the global norm clip would then scale
 * the whole step down, DSM with it, and starve the score (measured: docs/hjb.md).  With
 * the cap the regulariser never moves the weights more than the data term does.
 *
 * Randomness: the DSM rows draw what core/train.c's eps path draws (row-indexed
 * streams); the collocation points' times and noise are indexed by point, the
 * Hutchinson probes by shard, so a run depends on the shard count (fixed:
 * MF_TRAIN_SHARDS) and not on the threads.
 */
#ifndef MF_TRAIN_POT_H
#define MF_TRAIN_POT_H

#include <stddef.h>

#include "hjb_loss.h"
#include "mlp.h"
#include "rng.h"
#include "schedule.h"

typedef struct mf__pot_train mf__pot_train;

/* Noised rows as core/train.c draws them (train.c defines it). */
void mf__train_noisy(const mf_schedule *s, mf_rng root, uint64_t draw, size_t first_row,
                     const float *x0, size_t n, size_t D, float *t, float *eps, float *xt);

/** For net (a potential), batch B in S shards, the regulariser o (o->on: its points). */
MF_MUST_CHECK mf_err mf__pot_train_new(const mf_mlp *net, size_t B, size_t S, const mf_hjb_opts *o,
                                       mf__pot_train **ret);
void mf__pot_train_free(mf__pot_train *pt);

/**
 * Shard s of step `step` (draw number) on clean rows x0 (B, D), condition c or NULL,
 * with the regulariser weighted by lambda: its gradients into its own buffers.
 * Returns the shard's sum of squared DSM errors.
 */
double mf__pot_train_shard(mf__pot_train *pt, const mf_mlp *net, const mf_schedule *sch,
                           uint64_t seed, size_t step, double lambda, const float *x0,
                           const float *c, size_t s);

/** Part p of n: the shards' sums over its range into grad (the DSM part) and its own. */
void mf__pot_train_reduce(mf__pot_train *pt, size_t p, size_t n_parts, size_t i0, size_t i1,
                          float *grad);

/** After every part: the cap c and the squared norm of g = g_dsm + c g_hjb. */
double mf__pot_train_combine_norm(mf__pot_train *pt, size_t n_parts);

/** grad[i0, i1) += c g_hjb[i0, i1). */
void mf__pot_train_combine(const mf__pot_train *pt, size_t i0, size_t i1, float *grad);

/** The regulariser's statistics of the last step (summed over shards) and its cap c. */
void mf__pot_train_stats(const mf__pot_train *pt, mf_hjb_stats *st, double *cap);

#endif /* MF_TRAIN_POT_H */
