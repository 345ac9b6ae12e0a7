/* SPDX-License-Identifier: MIT */
/*
 * model_dxmi.h - what a DxMI result adds to the model file (model_file.h):
 * the few-step sampler, the energy network and the value network
 * (core/dxmi.h), so one file samples in T steps and scores anomalies.
 *
 * Tensors (F32, validated like the network's):
 *   var.beta [T], var.tau [T], var.sigma [T]   the short chain (var_sched.h)
 *   energy.layers.{i}.weight [out, in], energy.layers.{i}.bias [out]
 *       a scalar MLP on model-space x: in_0 = D, the last out = 1
 *   value.layers.{i}.weight, value.layers.{i}.bias
 *       a scalar MLP on [x, emb(t)]: in_0 = D + value_emb, the last out = 1
 * Metadata (all written by the setters below only, so tensors and keys agree):
 *   sampler           var:T        the model's default sampler: POST
 *                                  /v1/samples without "sampler" uses it
 *   var_schedule      code | matched  (informational: how beta~ was found)
 *   energy_hidden     "128,128"    value_hidden  "128,128"   value_emb  16
 *   energy_quantiles  101 comma-separated numbers, non-decreasing: the
 *                     q = 0, 1, .., 100 percent quantiles of E over the
 *                     training data ("%.9g")
 * A file has the sampler, the energy (with value and quantiles) or both; a
 * file with none of these keys and tensors is a plain DDPM model.
 *
 * Percentile of an energy e: 100 F(e) with F the piecewise-linear
 * interpolation of the quantiles (0 below the first, 100 above the last);
 * a point is an outlier when e is above the 99 % quantile.  Where quantiles
 * tie (q_j = .. = q_l = e) F is the middle of the tie, (j + l) / 200; a NaN
 * energy has a NaN percentile and is an outlier.
 *
 * Loading (model_file.h) checks all of it: sampler is var:T with T in
 * 2..MF_VAR_MAX_T and then var_schedule is required (and not allowed without
 * sampler); var.* are [T] with beta~ in (0, 1), tau in [0, N - 1] of the
 * parent schedule and sigma > 0; any of the four energy keys requires the
 * others; widths and depths as reward.h's mlp kind; value_emb even in 2..256;
 * 101 finite non-decreasing quantiles.  Tensors under var., energy. or
 * value. that the metadata does not describe are refused.  Every problem is
 * MF_EFORMAT naming the tensor or "__metadata__/<key>".
 *
 * Threading: as model_file.h; mf_model_score only reads the model.
 */
#ifndef MF_MODEL_DXMI_H
#define MF_MODEL_DXMI_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "model_file.h"
#include "reward.h"
#include "train.h"
#include "var_sched.h"

#define MF_ENERGY_N_QUANTILES 101

/* The DxMI parts of a model, owned by mf_model (model->dxmi, NULL if none). */
typedef struct mf_model_dxmi {
    bool has_var;
    mf_var_sched var;
    mf_var_sched_kind var_kind;
    mf_reward_model *energy; /* NULL if none; then value is NULL too */
    mf_reward_model *value;
    size_t value_emb;
    double energy_q[MF_ENERGY_N_QUANTILES];
} mf_model_dxmi;

#define MF_VALUE_EMB_MAX      256
#define MF_ENERGY_OUTLIER_PCT 99 /* the quantile an outlier's energy is above */

/** The model's DxMI parts, or NULL. */
const mf_model_dxmi *mf_model_get_dxmi(const mf_model *m);

/**
 * Sets the default few-step sampler: tensors var.*, metadata sampler var:T
 * and var_schedule.  Errors: MF_EINVAL (T out of range, non-finite or
 * non-positive sigma), MF_ENOMEM; on error m is unchanged.
 */
MF_MUST_CHECK mf_err mf_model_set_var(mf_model *m, const mf_var_sched *v, mf_var_sched_kind kind,
                                      mf_diag *diag);

/**
 * Attaches copies of the energy and value networks and the training data's
 * energy quantiles (MF_ENERGY_N_QUANTILES, non-decreasing, finite).  energy
 * takes D inputs, value D + value_emb; both end in 1 output.  Errors:
 * MF_EINVAL (shapes, non-finite values), MF_ENOMEM; on error m is unchanged.
 */
MF_MUST_CHECK mf_err mf_model_set_energy(mf_model *m, const mf_reward_model *energy,
                                         const mf_reward_model *value, size_t value_emb,
                                         const double *quantiles, mf_diag *diag);

/**
 * The MF_ENERGY_N_QUANTILES quantiles of e (n values) into q (linear
 * interpolation between order statistics, numpy's default).  Errors:
 * MF_EINVAL (n 0, non-finite), MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_energy_quantiles(const double *e, size_t n, double *q);

/** The percentile in [0, 100] of energy e under quantiles q (see above). */
double mf_energy_percentile(const double *q, double e);

/* One point's anomaly score. */
typedef struct mf_energy_score {
    double energy;     /* E(x) of the point in model space (may be +-inf or NaN) */
    double percentile; /* mf_energy_percentile under the model's quantiles */
    bool outlier;      /* energy above the MF_ENERGY_OUTLIER_PCT % quantile, or NaN */
} mf_energy_score;

/**
 * Scores n points x (n, D) in DATA space (mapped to model space with m's
 * normalisation, then E) into out (n).  The rows go in `parts` contiguous
 * chunks run by fn(exec, parts, ...) (train.h's executor; fn NULL: one after
 * the other in the calling thread); the results do not depend on parts.
 * Errors: MF_EINVAL (m without an energy network, n or parts 0, NULL
 * pointers), MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_model_score(const mf_model *m, const float *x, size_t n, mf_par_for_fn fn,
                                    void *exec, size_t parts, mf_energy_score *out);

#endif /* MF_MODEL_DXMI_H */
