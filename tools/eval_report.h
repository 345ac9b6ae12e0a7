/* SPDX-License-Identifier: MIT */
/*
 * eval_report.h - the metrics part of `manifold-train eval`: the sample-quality
 * report for a set of samples against held-out data, and probability-flow ODE
 * likelihoods (held-out NLL; entropy of the ODE model's own samples), computed
 * by core/evaluate.h as the daemon computes them and printed as JSON members
 * through proto/metrics_json.h.
 */
#ifndef MF_EVAL_REPORT_H
#define MF_EVAL_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "dataset.h"
#include "evaluate.h"
#include "metrics.h"
#include "model_file.h"

typedef struct eval_report_opts {
    mf_metrics_opts metrics;
    size_t nll_n;         /* held-out points for the NLL; 0 = skip */
    size_t ode_entropy_n; /* ODE samples for the model entropy; 0 = skip */
    size_t ode_steps;     /* grid steps of both */
    mf_div_kind div;
    uint64_t seed;
} eval_report_opts;

/**
 * Writes `,"metrics":{...}` for samples x (n, D, data space) of m, whose
 * built-in data set is id, against the first min(n, available) held-out points
 * of id, then `,"likelihood":{...}` and `,"ode_entropy":{...}` when asked, with
 * the ODE's rows run by ex.  Returns 0, or 1 after printing an error.
 */
int eval_report(FILE *out, const mf_eval_exec *ex, const mf_model *m, mf_dataset_id id,
                const float *x, size_t n, const eval_report_opts *o);

#endif /* MF_EVAL_REPORT_H */
