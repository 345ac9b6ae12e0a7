/* SPDX-License-Identifier: MIT */
/*
 * rcgd.h - reward-directed conditional diffusion (RCGDM, Yuan et al. 2023;
 * reference/other-seeds.md §1, ALGORITHMS.md `finetune.reward`) as a pipeline
 * a server steps through in time slices:
 *
 *   1. fit       a reward model f on the labelled rows (core/reward.h), the
 *                pseudo-labels y~ = f(x) + nu xi of the unlabelled rows, and
 *                the condition's normalisation c_0 = (y - mean y~) / std y~;
 *                builds the model (fresh, or grown from an unconditional
 *                parent with zero condition weights) and its trainer;
 *   2. step      one denoising score matching step on (x, c(y~)) with label
 *                dropout p_uncond (the null condition, core/guidance.h), run
 *                by a caller's executor on its threads; repeat `steps` times;
 *   3. finish    the model: EMA weights, condition metadata, the reward model's
 *                tensors, pseudo_label_noise, guidance, dataset ids;
 *   4. sample / evaluate at a target a with the configured guidance: the
 *                predicted reward, the true reward and its ratio to the ideal
 *                a / (1 + nu^2) when the data set defines one (linear_subspace,
 *                ring), the distance to the data manifold or, for other data,
 *                the mean nearest-neighbour distance to the training rows
 *                next to the held-out rows' own, and the kNN entropy.
 *
 * All data are in DATA space; the model's normalisation x_model = (x - offset)
 * / scale is chosen here (or taken from the parent) and the reward model works
 * on data space (guidance.h derives the chain rule).
 *
 * The ideal (§1.5): with data x = A z on a subspace, reward theta^T x and
 * pseudo-labels of noise nu around a perfect f, E[theta^T x | y~ = a] =
 * a / (1 + nu^2) and x stays on the subspace.
 *
 * Threading: an mf_rcgd is used by one thread at a time; the executor runs its
 * training phases on others (core/train.h).
 */
#ifndef MF_RCGD_H
#define MF_RCGD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "dataset.h"
#include "err.h"
#include "guidance.h"
#include "mlp.h"
#include "model_file.h"
#include "reward.h"
#include "sampler.h"
#include "train.h"
#include "train_params.h"

typedef struct mf_rcgd_opts {
    mf_reward_opts reward;  /* the reward model (mf_reward_opts_default: ridge) */
    double nu;              /* pseudo_label_noise, [0, 100] (0.3) */
    bool train_on_labels;   /* also train on the labelled rows with their own y
                               (false: unlabelled rows with pseudo-labels only) */
    bool conditional;       /* condition the network on the reward (true); false:
                               unconditional, for REWARD guidance or a baseline */
    mf_guide_mode guidance; /* sampling mode (cond); cfg needs conditional */
    float w;                /* guidance weight, finite (0) */
    double p_uncond;        /* label dropout, [0, 1) (0); the null condition is
                               trained only when > 0 */
    /* the network and its training: hidden, emb, schedule, data_offset, data_scale (NAN:
       the mean of all unlabelled values, and their std), steps, batch, warmup, lr,
       lr_min, ema, clip, seed (also of the pseudo-labels, batches and dropout), checked
       by mf_train_params_check; dataset and dequantise are not used.  With a parent its
       architecture, schedule and normalisation replace the train ones. */
    mf_train_params train;  /* mf_train_params_default with batch 256 */
    const mf_model *parent; /* copied by mf_rcgd_new; NULL: a fresh network */
    /* generation and evaluation */
    mf_sampler_kind sampler; /* (ddpm) */
    size_t sample_steps;     /* 1..T (200) */
    float eta;               /* ddim only, [0, 1] (0) */
    size_t knn_k;            /* entropy and distances, 1..MF_KNN_MAX_K (5) */
    /* metadata of the finished model (copied at finish; NULL: not set) */
    const char *dataset;       /* the unlabelled rows' data set id */
    const char *label_dataset; /* the labelled rows' */
    const char *parent_id;     /* the parent's id */
} mf_rcgd_opts;

/**
 * The defaults above: reward.py's recipe (3 x 256 SiLU, 20,000 steps of batch 256,
 * DDPM on 200 steps), with the project's EMA 0.999, clip 1 and warm-up 500.
 */
mf_rcgd_opts mf_rcgd_opts_default(void);

/**
 * Checks every field (the reward model's with mf_reward_opts_check, the training's with
 * mf_train_params_check).  diag->field names the field ("nu", "p_uncond",
 * "reward.lambda", "train.lr", ...).  Errors: MF_EINVAL, MF_EFORMAT / MF_ERANGE
 * (schedule), MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_rcgd_opts_check(const mf_rcgd_opts *o, mf_diag *diag);

/* The rows of a run, all in data space; borrowed by mf_rcgd_new only (copied). */
typedef struct mf_rcgd_data {
    size_t D;
    const float *x_unl; /* (n_unl, D) unlabelled rows, n_unl >= 1 */
    size_t n_unl;
    const float *x_lab; /* (n_lab, D) labelled rows and their labels y_lab (n_lab) */
    const float *y_lab;
    size_t n_lab;
    const float *x_heldout; /* (n_heldout, D) held-out rows for the kNN distance; may be NULL */
    size_t n_heldout;
    bool has_truth;      /* truth is a built-in set of dimension D whose reward and */
    mf_dataset_id truth; /* manifold are known (mf_dataset_true_reward, _off_support) */
} mf_rcgd_data;

typedef struct mf_rcgd mf_rcgd;

/**
 * A run.  Copies the rows.  Errors: mf_rcgd_opts_check's, MF_EINVAL (no rows, D other
 * than the parent's, a parent that is conditional, has_truth with a set of another
 * dimension), MF_ERANGE (non-finite rows), MF_ENOMEM.  *ret only on success.
 */
MF_MUST_CHECK mf_err mf_rcgd_new(const mf_rcgd_opts *o, const mf_rcgd_data *data, mf_rcgd **ret,
                                 mf_diag *diag);

/** Frees a run; accepts NULL. */
void mf_rcgd_free(mf_rcgd *r);

typedef struct mf_rcgd_fit_stats {
    mf_reward_stats reward;
    double label_mean, label_std; /* of the training labels: the condition's offset and scale */
    size_t n_rows;                /* training rows of the network */
    double knn_heldout;           /* mean NN distance, held-out rows to training rows; NAN */
} mf_rcgd_fit_stats;

/**
 * Phase 1.  Errors: MF_EINVAL (called twice), those of mf_reward_fit, MF_ERANGE
 * (pseudo-labels of zero spread: no condition scale), MF_ENOMEM.  *ret (may be
 * NULL) only on success.
 */
MF_MUST_CHECK mf_err mf_rcgd_fit(mf_rcgd *r, mf_rcgd_fit_stats *ret, mf_diag *diag);

/**
 * The executor of the following steps (fn NULL: the calling thread) and the number of
 * parameter parts of each step's optimiser phases (its team size).
 */
void mf_rcgd_set_executor(mf_rcgd *r, mf_par_for_fn fn, void *exec, size_t n_parts);

/**
 * Phase 2: one training step (a batch of rows with their conditions, dropout, one
 * Adam step).  *ret_loss (may be NULL): the batch's DSM loss.  Errors: MF_EINVAL
 * (before fit, after finish or all steps).
 */
MF_MUST_CHECK mf_err mf_rcgd_step(mf_rcgd *r, double *ret_loss);

/** Steps done and planned. */
size_t mf_rcgd_steps_done(const mf_rcgd *r);
size_t mf_rcgd_steps_total(const mf_rcgd *r);

/**
 * The training batch of step k, as mf_rcgd_step draws it, for a caller that runs the
 * trainer itself: x0 (batch, D) model space, c (batch, C) (nothing written when C = 0).
 * Errors: MF_EINVAL (before fit).
 */
MF_MUST_CHECK mf_err mf_rcgd_batch(const mf_rcgd *r, size_t k, float *x0, float *c);

/** The trainer (borrowed; NULL before fit): mf_rcgd_step is mf_rcgd_batch plus its step. */
mf_trainer *mf_rcgd_trainer(mf_rcgd *r);

/**
 * Phase 3: the model takes the EMA weights and its metadata (created, provenance
 * copied, the ids of the options).  No step may follow.  Errors: MF_EINVAL (before
 * fit, twice, provenance NULL or not UTF-8), MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_rcgd_finish(mf_rcgd *r, const char *provenance, time_t created,
                                    mf_diag *diag);

/** The model (borrowed; NULL before fit; complete after finish). */
const mf_model *mf_rcgd_model(const mf_rcgd *r);

/**
 * Phase 4: n samples at target a (data space) into x (n, D), data space, with the
 * configured sampler and guidance; the network is the finished model's, or before
 * finish the trainer's current EMA weights.  seed fixes the noise (the same seed at
 * every target: common random numbers).  ex NULL: the calling thread.  Errors:
 * MF_EINVAL (before fit, n 0, a not finite), those of mf_guide_sample, MF_ECANCELED.
 */
MF_MUST_CHECK mf_err mf_rcgd_sample(const mf_rcgd *r, const mf_guide_exec *ex, double a, size_t n,
                                    uint64_t seed, const atomic_int *cancel, float *x);

typedef struct mf_rcgd_eval {
    double a;
    size_t n;
    double target_z;            /* (a - label mean) / label std: how far beyond the data */
    double pred_mean, pred_std; /* the reward model on the samples */
    bool has_truth;
    double true_mean, true_std; /* the true reward on the samples */
    double ideal;               /* a / (1 + nu^2) */
    double ratio;               /* true_mean / ideal (NAN at a = 0) */
    double overopt;             /* pred_mean - true_mean */
    bool has_off;
    double off_mean, off_p90; /* distance to the data manifold (mf_dataset_off_support) */
    bool has_knn;
    double knn_dist;    /* mean NN distance, samples to training rows ... */
    double knn_heldout; /* ... and held-out rows to training rows */
    double entropy;     /* Kozachenko-Leonenko, nats (NAN when n <= knn_k) */
    size_t knn_k;
} mf_rcgd_eval;

/**
 * mf_rcgd_sample, then the statistics of the samples.  x (n, D) receives the samples
 * when not NULL.  Errors: those of mf_rcgd_sample, MF_ENOMEM; the kNN estimators'.
 * *ret only on success.
 */
MF_MUST_CHECK mf_err mf_rcgd_evaluate(const mf_rcgd *r, const mf_guide_exec *ex, double a, size_t n,
                                      uint64_t seed, const atomic_int *cancel, float *x,
                                      mf_rcgd_eval *ret);

#endif /* MF_RCGD_H */
