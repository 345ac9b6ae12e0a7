/* SPDX-License-Identifier: MIT */
/*
 * metrics_json.h - the wire form of the sample-quality report (core/metrics.h)
 * and of PF-ODE likelihood summaries (core/likelihood.h).  The only place
 * their JSON field names live.  Non-finite numbers are written as null;
 * 64-bit seeds as integers up to 2^53, above that as decimal strings.
 *
 * metrics: {"n", "dim",
 *   "entropy_knn": {"value", "k", "n", "duplicates", "reference"?: {same}},
 *   "kl_knn"?: {"model_to_reference", "reference_to_model", "k", "n", "m"},
 *   "sw2"?: {"value", "n", "m", "directions", "seed"},
 *   "vendi": {"q2", "q1", "kernel", "length_scale"?, "n", "reference_q2"?, "reference_q1"?},
 *   "entropy_hist"?: {"value", "miller_madow", "outside_frac", "bins", "lo", "hi", "n",
 *                     "n_inside", "occupied", "reference"?: {...}},
 *   "support"?: {"inside", "inside_margin", "margin"},
 *   "modes"?: {"covered", "of", "hq_frac", "entropy_ratio", "fractions"},
 *   "nn_train"?: {"samples", "reference"}}
 * likelihood: {"nll", "nll_se", "bits_per_dim"?, "n", "dim", "steps", "divergence",
 *              "seed", "of": "data" | "samples", "dequantised"}
 */
#ifndef MF_METRICS_JSON_H
#define MF_METRICS_JSON_H

#include <jansson.h>

#include "likelihood.h"
#include "metrics.h"

/** A new JSON object for m (NULL when out of memory). */
json_t *mf_json_metrics(const mf_metrics *m);

/** A new JSON object for a likelihood summary (NULL when out of memory). */
json_t *mf_json_lik_stats(const mf_lik_stats *s);

#endif /* MF_METRICS_JSON_H */
