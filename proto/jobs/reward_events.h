/* SPDX-License-Identifier: MIT */
/*
 * reward_events.h - the events and the metrics of a "finetune.reward" job
 * (server/jobs/job_reward.c): the only place their JSON field names live.
 * Every one is a "metrics" event whose "stage" says which; non-finite numbers
 * are null.
 *
 *   reward model  {"job", "stage": "reward_model",
 *                  "reward_model": {"kind", "train_mse", "val_r2", "n_train", "n_val"},
 *                  "pseudo_labels": {"mean", "std", "noise"},
 *                  "rows": {"unlabelled", "labelled", "heldout", "train"},
 *                  "knn_heldout"}  (mean nearest-neighbour distance of the held-out rows
 *                  to the training rows; null without held-out rows)
 *   training      {"job", "stage": "training", "step", "steps", "loss"}
 *   a target      {"job", "stage": "target", "index", "target", "metrics": M}, with M =
 *                  {"n", "target_z",
 *                   "reward": {"pred_mean", "pred_std", "true_mean", "true_std", "ideal",
 *                              "ratio", "gap", "overopt"}  (the last six null without a
 *                              known reward),
 *                   "support": {"off_mean", "off_p90"} | null (distance to the manifold),
 *                   "knn": {"dist", "heldout_dist", "k"} | null,
 *                   "entropy_knn": {"value", "k"}}
 *   its samples   a "samples" event {"job", "stage": "target", "index", "target",
 *                  "offset": 0, "samples"}
 *
 * The job's metrics (GET /v1/jobs/{id}), as far as the job got: {"reward_model": the
 * fit event less "job" and "stage" (null before it), "training": the last training
 * event's {"step", "steps", "loss"} (null before one), "targets": [{"target", ...M}, ...]}.
 */
#ifndef MF_REWARD_EVENTS_H
#define MF_REWARD_EVENTS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "rcgd.h"

/* The numbers of the fit event. */
typedef struct mf_reward_fit_view {
    const char *kind; /* the reward model's kind */
    const mf_rcgd_fit_stats *fit;
    double nu;
    size_t n_unl, n_lab, n_held;
} mf_reward_fit_view;

/** The reward-model event (a new object, NULL when out of memory). */
json_t *mf_json_reward_fit_event(const char *job_id, const mf_reward_fit_view *v);

/** A training event. */
json_t *mf_json_reward_train_event(const char *job_id, size_t step, size_t steps, double loss);

/** A target's metrics M (above). */
json_t *mf_json_reward_target_metrics(const mf_rcgd_eval *e);

/** A target's metrics event; takes metrics. */
json_t *mf_json_reward_target_event(const char *job_id, size_t index, double target,
                                    json_t *metrics);

/** A target's samples event: x (n, D). */
json_t *mf_json_reward_samples_event(const char *job_id, size_t index, double target,
                                     const float *x, size_t n, size_t D);

/**
 * The job's metrics (above) from the events so far, all borrowed: fit_event and
 * train_event may be NULL, n_targets 0.  A new object or NULL.
 */
json_t *mf_json_reward_job_metrics(const json_t *fit_event, const json_t *train_event,
                                   json_t *const *target_events, size_t n_targets);

/**
 * What a job's stored metrics text (NULL: none) says its events covered: the fit, the
 * last training step (0: none), the targets.  Anything unreadable counts as nothing.
 */
void mf_json_reward_replay_point(const char *metrics_json, bool *ret_fit, size_t *ret_step,
                                 size_t *ret_targets);

#endif /* MF_REWARD_EVENTS_H */
