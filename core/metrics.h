/* SPDX-License-Identifier: MIT */
/*
 * metrics.h - the sample-quality report that sampling and fine-tuning jobs
 * stream and `manifold-train eval` prints: every applicable metric of
 * entropy.h, vendi.h, sw.h and quality.h for one set of samples, each next to
 * the same estimate on real data of the same size ("its twin"), and each with
 * the settings it was computed with.
 *
 * Samples are in data space.  The reference set (usually held-out data of the
 * model's data set, at least as many points as samples are used) gives the
 * twins: kNN entropy and Vendi of the reference, kNN KL in both directions, and
 * SW2.  2-D samples get the histogram entropy; toy sets with a known support
 * the inside fractions; eight_gaussians the mode statistics; digits the mean
 * nearest-neighbour distance to the training split (and the reference's).
 * Cost is dominated by Vendi (q = 2: n^2 D; q = 1: ~n^3) and kNN.
 */
#ifndef MF_METRICS_H
#define MF_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "entropy.h"
#include "err.h"
#include "quality.h"
#include "vendi.h"

typedef struct mf_metrics_opts {
    size_t knn_k;                 /* kNN entropy and KL (5) */
    size_t hist_bins;             /* 2-D histogram (32) */
    double hist_lo, hist_hi;      /* its grid [lo, hi]^2 ([-4, 4]) */
    mf_vendi_kernel vendi_kernel; /* RBF for D <= 8, cosine above */
    double vendi_length_scale;    /* RBF l (1) */
    size_t vendi_max_n;           /* Vendi of the first min(n, this) points (2000) */
    bool vendi_q1;                /* also order 1 (eigenvalues; ~0.6 s at 2000) (false) */
    size_t sw_dirs;               /* MF_SW_DEFAULT_DIRS */
    uint64_t sw_seed;             /* MF_SW_DEFAULT_SEED */
    double support_margin;        /* second support fraction with this margin (0.1) */
} mf_metrics_opts;

/** The defaults above for D-dimensional samples. */
void mf_metrics_opts_default(mf_metrics_opts *o, size_t D);

typedef struct mf_vendi_stats {
    double q2, q1;         /* q1 NaN unless computed */
    double ref_q2, ref_q1; /* the reference's, NaN without one */
    mf_vendi_kernel kernel;
    double length_scale; /* RBF only */
    bool centred;        /* cosine: both sets minus the reference's mean (else the samples') */
    size_t n;            /* points used (each set) */
} mf_vendi_stats;

typedef struct mf_metrics {
    size_t n, dim;
    mf_knn_entropy knn;
    bool has_ref;
    size_t n_ref; /* reference points used: min(n, n_ref given) */
    mf_knn_entropy knn_ref;
    mf_knn_kl kl; /* P = samples, Q = reference */
    double sw2;
    size_t sw_dirs;
    uint64_t sw_seed;
    mf_vendi_stats vendi;
    bool has_hist;
    mf_hist_entropy hist, hist_ref;
    bool has_support;
    double inside, inside_margin, margin;
    bool has_modes;
    mf_mode_stats modes;
    bool has_nn;
    double nn_train, nn_train_ref; /* mean NN distance to the training split */
} mf_metrics;

/**
 * The report for samples x (n, D) of data set id (MF_DATASET_COUNT: none
 * known) against the reference ref (n_ref, D) (NULL: no twins).
 * Errors: MF_EINVAL (x, o or ret NULL, D 0, n <= o->knn_k, a dataset whose
 * dimension is not D, n_ref in (0, knn_k], bad options), MF_ERANGE (non-finite
 * coordinates), MF_ENOMEM, and those of the estimators.
 */
MF_MUST_CHECK mf_err mf_metrics_compute(const mf_metrics_opts *o, mf_dataset_id id, const float *x,
                                        size_t n, size_t D, const float *ref, size_t n_ref,
                                        mf_metrics *ret);

#endif /* MF_METRICS_H */
