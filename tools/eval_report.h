/* SPDX-License-Identifier: MIT */
/*
 * eval_report.h - the metrics part of `manifold-train eval`: the sample-quality
 * report of core/metrics.h for a set of samples against held-out data, and
 * probability-flow ODE likelihoods (held-out NLL; entropy of the ODE model's
 * own samples), printed as JSON members through proto/metrics_json.h.
 */
#ifndef MF_EVAL_REPORT_H
#define MF_EVAL_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "dataset.h"
#include "metrics.h"
#include "model_file.h"
#include "par.h"

typedef struct eval_report_opts {
    mf_metrics_opts metrics;
    size_t nll_n;         /* held-out points for the NLL; 0 = skip */
    size_t ode_entropy_n; /* ODE samples for the model entropy; 0 = skip */
    size_t ode_steps;     /* grid steps of both */
    mf_div_kind div;
    uint64_t seed;
} eval_report_opts;

/**
 * Writes `,"metrics":{...}` for samples x (n, D, data space) against the first
 * min(n, available) held-out points of id, then `,"likelihood":{...}` and
 * `,"ode_entropy":{...}` when asked.  Returns 0, or 1 after printing an error.
 */
int eval_report(FILE *out, mf_par *team, const mf_model *m, mf_dataset_id id, const float *x,
                size_t n, const eval_report_opts *o);

#endif /* MF_EVAL_REPORT_H */
