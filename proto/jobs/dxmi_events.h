/* SPDX-License-Identifier: MIT */
/*
 * dxmi_events.h - the events and the result of a "finetune.dxmi" job
 * (server/jobs/job_dxmi.c): the only place their JSON field names live.
 * Non-finite numbers are null; arrays indexed by generation step t = 0
 * (noise) .. T-1.
 *
 *   metrics (every eval_every iterations, and iteration 0 = the un-tuned
 *   T-step sampler):
 *     {"job", "iteration", "iterations",
 *      "ebm": {"pos_e", "neg_e", "cd_gap" (= pos_e - neg_e, -> 0 at
 *              equilibrium), "loss", "reg"} | null at iteration 0,
 *      "value": {"td_loss": [T], "mean": [T]} | null,
 *      "cost_running": [T] | null, "sigma": [T], "s2": [T] | null,
 *      "sampler": {"loss", "value_term", "entropy_term"} | null (warm-up),
 *      "eval": {"n", "seeds", "sw2", "sw2_floor", "sw2_ratio", "sw2_seeds": [..],
 *               "energy_auc", "entropy_knn": {"value", "k"},
 *               "modes": {"covered", "hq_frac", "entropy_ratio"} | null}}
 *   samples: {"job", "iteration", "offset": 0, "samples"} (data space, the
 *            first evaluation seed's), as finetune.smeme's.
 *   result:  {"model", "iterations", "steps", "sw2", "sw2_floor", "energy_auc"}
 * The job's metrics (GET /v1/jobs/{id}) are its last metrics event.
 */
#ifndef MF_DXMI_EVENTS_H
#define MF_DXMI_EVENTS_H

#include <stddef.h>

#include <jansson.h>

#include "dxmi.h"
#include "dxmi_eval.h"

/**
 * A metrics event; st NULL at iteration 0 (sigma then from sigma0 of v).
 * NULL when out of memory.
 */
json_t *mf_json_dxmi_metrics(const char *job_id, size_t iteration, size_t iterations,
                             const mf_dxmi_stats *st, const mf_var_sched *v, const mf_dxmi_eval *ev,
                             const mf_dxmi_eval_opts *eo);

/** The result (malloc'd text, NULL when out of memory). */
char *mf_json_dxmi_result(const char *model, size_t iterations, size_t steps,
                          const mf_dxmi_eval *ev);

#endif /* MF_DXMI_EVENTS_H */
