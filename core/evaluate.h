/* SPDX-License-Identifier: MIT */
/*
 * evaluate.h - evaluating a model's samples, the one implementation that the
 * daemon (sampling calls, the finetune.smeme job) and `manifold-train eval`
 * share:
 *
 *   - the model's built-in data set, looked up from its "dataset" metadata;
 *   - the sample-quality report (core/metrics.h) of samples in data space,
 *     with that data set's statistics, against an optional reference;
 *   - DDPM samples on common random numbers: a fixed noise grid, so that
 *     evaluations of successive fine-tuning iterations differ by the model
 *     and not by the noise;
 *   - probability-flow ODE log-densities (core/likelihood.h) in DATA space:
 *     with x_data = offset + scale x_model,
 *         log p_data(x) = log p_model((x - offset) / scale) - D log scale,
 *     and that term is applied here and nowhere else.
 *
 * Row parallelism comes in as an executor (core/ starts no threads):
 * server/par.h's mf_par_eval_exec runs the rows on a thread team; NULL, or
 * NULL functions, runs them on the calling thread.  Both draw the same
 * randomness (by global row index) and agree to float rounding: only the
 * row blocks of the network's GEMMs differ (see server/par.h).
 *
 * Threading: reentrant; the model is read only.
 */
#ifndef MF_EVALUATE_H
#define MF_EVALUATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "err.h"
#include "likelihood.h"
#include "metrics.h"
#include "mlp.h"
#include "model_file.h"
#include "sampler.h"
#include "schedule.h"

/*
 * How rows are run.  sample: mf_sample with net as the noise predictor, x (n,
 * D) in model space; ode_logp: mf_ode_loglik of the rows of x (sample false)
 * or mf_ode_sample_logp into x (sample true), logp (n).  Both must give the
 * results of one call over all rows and return its errors.  ctx is theirs.
 * A NULL function runs on the calling thread alone.
 */
typedef struct mf_eval_exec {
    mf_err (*sample)(void *ctx, const mf_mlp *net, const mf_schedule *s, const mf_sampler_opts *o,
                     float *x, size_t n);
    mf_err (*ode_logp)(void *ctx, const mf_mlp *net, const mf_schedule *s, const mf_ode_lik_opts *o,
                       bool sample, float *x, size_t n, double *logp);
    void *ctx;
    mf_precision precision; /* mf_eval_crn_sample's arithmetic (zero: f32); bf16 where
                               mf_precision_effective allows it */
} mf_eval_exec;

/*
 * The tag of the common-random-numbers seed: evaluation samples use seed ^
 * MF_EVAL_SEED_TAG ("EVA1"), so they do not share their noise with a
 * sampling request of the same seed.  (The daemon's finetune.smeme job has
 * used this derivation from the start: its numbers do not change.)
 */
#define MF_EVAL_SEED_TAG UINT64_C(0x45564131)

/**
 * The model's built-in data set: metadata "dataset" names one (mf_dataset_lookup)
 * of the model's dimension D.  Errors: MF_EINVAL (NULL arguments), MF_ENOTFOUND
 * (no "dataset", an unknown name, or a set of another dimension).  *ret is
 * written only on success.
 */
MF_MUST_CHECK mf_err mf_eval_dataset(const mf_model *m, mf_dataset_id *ret);

/**
 * The sample-quality report of samples x (n, D), data space, of model m: with
 * the statistics of m's built-in data set (mf_eval_dataset; none when it has
 * none) and the twins of the reference ref (n_ref, D), data space, NULL for
 * none.  o NULL: mf_metrics_opts_default(D).  On failure diag (may be NULL)
 * reads "metrics need more than K samples" when n <= K = o->knn_k (MF_EINVAL;
 * the daemon reports it as a skipped metric), else "metrics failed: " and the
 * error's mf_strerror.  Errors: MF_EINVAL, MF_ERANGE (non-finite coordinates),
 * MF_ENOMEM, those of mf_metrics_compute.  *ret is written only on success.
 */
MF_MUST_CHECK mf_err mf_eval_metrics(const mf_model *m, const mf_metrics_opts *o, const float *x,
                                     size_t n, const float *ref, size_t n_ref, mf_metrics *ret,
                                     mf_diag *diag);

/**
 * n DDPM samples of net, a network of m's architecture (e.g. a fine-tuned copy
 * of m's), on m's schedule with a grid of `steps` steps, mapped to data space
 * with m's normalisation, into x (n, D).  The noise is that of seed ^
 * MF_EVAL_SEED_TAG and rows 0..n-1: every call with the same (steps, seed, n)
 * draws the same noise whatever the network (common random numbers), and the
 * first rows of a larger n get the same noise.  cancel (may be NULL) is
 * polled at every step.  ex NULL: the calling thread.  Errors: MF_EINVAL (NULL
 * pointers, n 0, steps 0 or > T, net's dimensions not m's), MF_ENOMEM,
 * MF_ECANCELED (x then holds a partial state).
 */
MF_MUST_CHECK mf_err mf_eval_crn_sample(const mf_eval_exec *ex, const mf_model *m,
                                        const mf_mlp *net, size_t steps, uint64_t seed,
                                        const atomic_int *cancel, float *x, size_t n);

/**
 * Per-point log-densities in nats, DATA space, under m's probability-flow ODE
 * (o: grid steps 1..T, divergence, probe seed, cancel, progress; first_index
 * is honoured): logp[i] = log p_data(x_data row i).  x_data (n, D) is not
 * changed (a copy is mapped to model space).  ex NULL: the calling thread.
 * Errors: those of mf_ode_loglik, MF_EINVAL (NULL pointers, n 0), MF_ERANGE,
 * MF_ENOMEM; logp's contents are then unspecified.
 */
MF_MUST_CHECK mf_err mf_eval_logp(const mf_eval_exec *ex, const mf_model *m,
                                  const mf_ode_lik_opts *o, const float *x_data, size_t n,
                                  double *logp);

/**
 * The summary (mean, standard error, settings: core/likelihood.h) of data-space
 * log-densities under m's ODE: of the points x_data (n, D) when x_data is not
 * NULL (mf_eval_logp; -nll is their mean log-density), else of n samples the
 * ODE draws itself with o->seed (nll = the entropy of the ODE model).
 * dequantised: the points are integers plus U(-1/2, 1/2), so bits/dim is
 * filled.  Errors: as mf_eval_logp.  *ret is written only on success.
 */
MF_MUST_CHECK mf_err mf_eval_lik(const mf_eval_exec *ex, const mf_model *m,
                                 const mf_ode_lik_opts *o, const float *x_data, size_t n,
                                 bool dequantised, mf_lik_stats *ret);

/**
 * The held-out NLL of m: mf_eval_lik of the first n held-out points of m's
 * built-in data set (mf_eval_dataset), n at most the set's held-out size
 * (digits: 297; a larger n is clipped).  Digits are dequantised first with the
 * uniform variates of the stream derive(o->seed, 7) (pixel k -> k + u - 1/2), so
 * bits/dim bounds the discrete model's; other sets are used as they are.
 * Errors: MF_ENOTFOUND (no built-in data set), those of mf_eval_lik.
 */
MF_MUST_CHECK mf_err mf_eval_heldout_lik(const mf_eval_exec *ex, const mf_model *m,
                                         const mf_ode_lik_opts *o, size_t n, mf_lik_stats *ret);

#endif /* MF_EVALUATE_H */
