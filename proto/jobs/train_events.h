/* SPDX-License-Identifier: MIT */
/*
 * train_events.h - the parts of a "train" job's events and result that the
 * potential architecture and the HJB regulariser add (server/jobs/job_train.c;
 * the rest is api_json.h's mf_json_event_train_metrics and mf_json_train_result).
 * Non-finite numbers are null.
 *
 *   metrics event, with params.hjb, "hjb": the regulariser over the steps since the
 *     last event: {"lambda" (its weight at the last step: the ramp), "loss" (the mean
 *     weighted point loss, before lambda), "residual_rms" (sqrt of the mean R^2,
 *     unweighted), "residual_rms_bins" [5] (the same by tau bin), "bins_tau" [6] (the
 *     bins' edges), "points" (collocation points counted)}; the event's "loss" is then
 *     the DSM part.
 *   result, architecture potential on a built-in data set, "evaluation":
 *     {"n", "sampler": "ddpm", "steps", "ode_steps", "seed", "sw2", "sw2_floor",
 *      "entropy_knn": {"value", "data", "k"}, "nll", "nll_se", "divergence",
 *      "hjb": {...the residual at held-out points, as above without "lambda"}}
 */
#ifndef MF_TRAIN_EVENTS_H
#define MF_TRAIN_EVENTS_H

#include <jansson.h>

#include "eval_summary.h"
#include "hjb_loss.h"

/** The "hjb" object of st (lambda NAN: left out), bins over [t_min, 1]; NULL on no memory. */
json_t *mf_json_hjb_stats(const mf_hjb_stats *st, double lambda, double t_min);

/** The "evaluation" object; NULL when out of memory. */
json_t *mf_json_eval_summary(const mf_eval_summary *s);

#endif /* MF_TRAIN_EVENTS_H */
