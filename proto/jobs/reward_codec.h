/* SPDX-License-Identifier: MIT */
/*
 * reward_codec.h - the params of a "finetune.reward" job (ALGORITHMS.md,
 * finetune.reward; reference/other-seeds.md §1): fit a reward model on a few
 * labelled points, pseudo-label the unlabelled data with noise ν, train a
 * reward-conditioned model, and sample it at each target.  "model" is
 * optional: an unconditional parent to start from (its condition weights
 * start at zero), else a new network.
 *   dataset             the unlabelled data: a built-in name or an uploaded id (required)
 *   n_unlabelled        a generated built-in set: points drawn, 100..1000000 (default 16384)
 *   labels              an uploaded data set's id: its labelled rows (a y column) are the
 *                       labels; absent: an uploaded data set's own labelled rows, else
 *                       synthetic labels from a built-in set's known reward
 *                       (linear_subspace, ring; core/rcgd_rows.h)
 *   n_labelled          synthetic labels: how many, 10..1000000 (default 1000)
 *   label_noise         synthetic labels: noise std, 0..10 (default 0.1)
 *   reward_model        {"kind": "ridge" | "mlp", "lambda": 0..1e6 (ridge), "hidden":
 *                       1..MF_REWARD_MAX_HIDDEN widths 1..1024 (mlp), "steps":
 *                       1..1000000 (mlp Adam steps), "lr": (0, 1] (mlp)}; defaults
 *                       core's (core/reward.h: ridge, lambda 1e-3)
 *   pseudo_label_noise  ν, 0..100 (default 0.3)
 *   guidance            {"mode": "cond" | "cfg" | "reward" (default cond), "w": 0..1000
 *                       (default 1, for cfg and reward), "p_uncond": 0..0.9 (label
 *                       dropout; default 0.1 with cfg, else 0)}
 *   train               the training settings (train_settings.h; defaults core's
 *                       recipe, core/rcgd.h: 3x256, 20000 steps of batch 256, each capped
 *                       at the server's limits)
 *   targets             1..MF_REWARD_REQ_MAX_TARGETS numbers, |a| <= 1e6 (default
 *                       [0.5, 1, 2, 4])
 *   n_per_target        samples drawn at each target, 10..max_n (default 1000)
 *   sampler, steps, eta the sampler of the per-target samples: ddpm (default) | ddim |
 *                       ode; 1..max_steps (default 200); 0..1 (default 0)
 *   seed                0..2^53 (default 0): labels, pseudo-labels, training, samples
 *   out_model           the id of the model to create (default: the server names it)
 */
#ifndef MF_REWARD_CODEC_H
#define MF_REWARD_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guidance.h"
#include "job_codec.h"
#include "reward.h"
#include "sampler.h"
#include "train_params.h"

#define MF_REWARD_REQ_MAX_TARGETS 32

typedef struct mf_reward_req {
    char dataset[MF_REQ_ID_MAX + 1];
    size_t n_unlabelled;
    char labels[MF_REQ_ID_MAX + 1]; /* "" = synthetic */
    size_t n_labelled;
    double label_noise;
    mf_reward_opts reward_model; /* core's; its seed is the job's */
    double pseudo_label_noise;

    struct {
        mf_guide_mode mode;
        double w;
        double p_uncond;
    } guidance;

    mf_train_params train; /* its dataset, seed and dequantise unused */
    double targets[MF_REWARD_REQ_MAX_TARGETS];
    size_t n_targets;
    size_t n_per_target;
    mf_sampler_kind sampler;
    size_t steps;
    double eta;
    uint64_t seed;
    char out_model[MF_REQ_ID_MAX + 1]; /* "" = default */
} mf_reward_req;

extern const mf_job_codec mf_reward_codec;

/**
 * The job's budget (job_budget.h), checked when the daemon prepares the job and knows
 * the data: D columns, n_rows rows (unlabelled and labelled together), and the parent's
 * configuration (NULL: a new network of the train settings).  The conditional network
 * and the reward model's parameters (/model or /params/train/hidden, or
 * /params/reward_model/hidden when it is the larger), the training memory and compute
 * (/params/train/...), the rows (/params/n_unlabelled, or /params/dataset for an
 * upload), the reward model's fit (/params/reward_model) and the samples at the
 * targets (/params/n_per_target).  Errors: MF_EINVAL, code impossible (422).
 */
MF_MUST_CHECK mf_err mf_reward_check_budget(const mf_reward_req *q, const mf_mlp_config *parent,
                                            size_t D, size_t n_rows, const mf_req_limits *lim, double *ret_flops,
                                            mf_diag *d);

#endif /* MF_REWARD_CODEC_H */
