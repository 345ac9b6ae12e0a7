/* SPDX-License-Identifier: MIT */
/*
 * quality.h - validity of generated samples, so that entropy can never rise
 * by leaving the data unnoticed (reference/other-seeds.md §4.3, ALGORITHMS.md):
 *   eight_gaussians mode statistics: each sample is assigned to its nearest
 *     centre (radius 4/1.414, angles 45 deg j); hq_frac = fraction within
 *     3 mode standard deviations (3 x 0.5/1.414) of its centre; covered =
 *     centres holding >= 1 % of the samples; entropy_ratio = entropy of the
 *     mode histogram / log 8 (1 = perfectly balanced);
 *   mean nearest-neighbour distance from samples to a training set (digits:
 *     compare with the held-out set's own distance to the training set);
 *   the ROC AUC of a score separating two sets (DxMI's energy: data against
 *     uniform noise, score -E).
 * Support fractions of the toy sets are mf_dataset_count_in_support.
 */
#ifndef MF_QUALITY_H
#define MF_QUALITY_H

#include <stddef.h>

#include "err.h"

#define MF_EIGHT_MODES 8

typedef struct mf_mode_stats {
    size_t n;
    size_t covered; /* of MF_EIGHT_MODES */
    double hq_frac;
    double entropy_ratio;
    double frac[MF_EIGHT_MODES]; /* share of samples per centre, angle 45 deg j */
} mf_mode_stats;

/**
 * Mode statistics of 2-D points x (n, 2) in eight_gaussians data space.
 * Errors: MF_EINVAL (x or ret NULL, n 0), MF_ERANGE (non-finite coordinate).
 */
MF_MUST_CHECK mf_err mf_modes_eight_gaussians(const float *x, size_t n, mf_mode_stats *ret);

/**
 * Mean Euclidean distance from each row of q (nq, D) to its nearest row of
 * ref (nr, D) (mf_knn_dist with k = 1).  Errors as mf_knn_dist.
 */
MF_MUST_CHECK mf_err mf_nn_mean_dist(const float *q, size_t nq, const float *ref, size_t nr,
                                     size_t D, double *ret);

/**
 * ROC AUC of scores pos (n_pos) against neg (n_neg), higher = positive: the
 * Mann-Whitney statistic P(s+ > s-) + P(s+ = s-)/2, by average ranks of the
 * pooled sorted scores, so tied pairs count one half.  Errors: MF_EINVAL
 * (an empty set, NULL, a non-finite score), MF_ENOMEM.  *ret only on success.
 */
MF_MUST_CHECK mf_err mf_auc(const double *pos, size_t n_pos, const double *neg, size_t n_neg,
                            double *ret);

#endif /* MF_QUALITY_H */
