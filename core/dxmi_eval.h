/* SPDX-License-Identifier: MIT */
/*
 * dxmi_eval.h - how a DxMI run is measured while it trains (reference/
 * other-seeds.md §2.9; dxmi-reference-run.md's protocol), on a run's data:
 *
 *   sw2        the mean over n_seeds seeds of SW2 (core/sw.h, 500 fixed
 *              directions) between n samples of the current sampler (seed
 *              seed + k) and the held-out rows;
 *   sw2_floor  the same with n training rows (rows k n .. (k + 1) n - 1 of
 *              the pool, cyclically) in place of the samples: what two
 *              draws of the data themselves score, measured with the same
 *              code and directions, so sw2 / sw2_floor is the figure to
 *              quote (1 = as close as the data to itself);
 *   auc        ROC AUC of separating the held-out rows (up to n_auc) from as
 *              many uniform points, by score -E: uniform on [-4, 4]^2 in
 *              data space for 2-D data (the DxMI paper's box), else on the
 *              per-dimension range of the held-out rows; 0.5 = no
 *              contrast; the true density scores 0.902 on eight_gaussians;
 *   knn        Kozachenko-Leonenko entropy (k = 5) of the first seed's
 *              samples, data space, nats;
 *   modes      eight_gaussians only: mode coverage and the high-quality
 *              fraction (core/quality.h).
 * Every draw is a pure function of (seed, k), so evaluations of one run
 * are on common random numbers.
 */
#ifndef MF_DXMI_EVAL_H
#define MF_DXMI_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "dxmi.h"
#include "err.h"
#include "quality.h"

#define MF_DXMI_EVAL_MAX_SEEDS 16
#define MF_DXMI_EVAL_KNN_K     5

/* The data a run is measured against: data space; offset/scale map it to model space. */
typedef struct mf_dxmi_data {
    size_t D;
    const float *train; /* (n_train, D) */
    size_t n_train;
    const float *held; /* (n_held, D) */
    size_t n_held;
    double offset, scale; /* x_model = (x - offset) / scale */
    bool eight_gaussians; /* mode statistics apply */
} mf_dxmi_data;

typedef struct mf_dxmi_eval_opts {
    size_t n;       /* samples per seed (1000), >= MF_DXMI_EVAL_KNN_K + 1 */
    size_t n_seeds; /* (5), 1..MF_DXMI_EVAL_MAX_SEEDS */
    size_t n_auc;   /* points per side of the AUC, at most n_held (5000) */
    uint64_t seed;  /* samples and uniform points */
} mf_dxmi_eval_opts;

typedef struct mf_dxmi_eval {
    double sw2, sw2_floor;
    double sw2_seed[MF_DXMI_EVAL_MAX_SEEDS];
    double auc;
    double knn;
    bool has_modes;
    mf_mode_stats modes;
} mf_dxmi_eval;

/** The defaults above, with seed. */
mf_dxmi_eval_opts mf_dxmi_eval_opts_default(uint64_t seed);

/**
 * Measures the run's current sampler and energy; the first seed's samples
 * (data space) go to samples (n, D) unless NULL.  Errors: MF_EINVAL (options,
 * empty data), MF_ERANGE (non-finite samples: the run diverged), MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_dxmi_evaluate(mf_dxmi *dx, const mf_dxmi_data *data,
                                      const mf_dxmi_eval_opts *o, float *samples,
                                      mf_dxmi_eval *ret);

/**
 * Iteration i's data batch: B rows drawn uniformly, with replacement, from
 * data's training rows by a stream of (seed, i), in model space, into out
 * (B, D).  A pure function of its arguments (a resumed run draws the same).
 */
void mf_dxmi_data_batch(const mf_dxmi_data *data, uint64_t seed, size_t i, size_t B, float *out);

/**
 * Energies E of n data-space points x (n, D) of data's normalisation into
 * e (n), with the energy network e_net.  Errors: MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_dxmi_energies(const mf_reward_model *e_net, const mf_dxmi_data *data,
                                      const float *x, size_t n, double *e);

#endif /* MF_DXMI_EVAL_H */
