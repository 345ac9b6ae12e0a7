/* SPDX-License-Identifier: MIT */
/*
 * eval_summary.h - the figures that close a training run on a built-in data set
 * (the train job's result; issue 18's table): sample quality next to the data's own,
 * the held-out likelihood and, for a potential network, how well it obeys the
 * Fokker-Planck identity.
 *
 *   sw2, sw2_floor   SW2 of n DDPM samples (common random numbers, core/evaluate.h) to n
 *                    held-out points, and of n other held-out points to the same ones
 *                    (the two-sample floor: a perfect model scores about that)
 *   entropy_knn      Kozachenko-Leonenko (k = 5) of the samples and of n held-out points
 *   nll              PF-ODE held-out NLL in nats (data space; exact divergence up to 8-D)
 *   hjb              potential networks: the residual at n held-out points
 *                    (mf_hjb_residual_of with the default settings)
 * All from seed, so two models evaluated with the same settings compare point for point.
 */
#ifndef MF_EVAL_SUMMARY_H
#define MF_EVAL_SUMMARY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "err.h"
#include "evaluate.h"
#include "hjb_loss.h"
#include "likelihood.h"
#include "model_file.h"

#define MF_EVAL_SUMMARY_KNN_K 5

typedef struct mf_eval_summary {
    size_t n, steps, ode_steps; /* samples and points; DDPM grid; PF-ODE grid */
    uint64_t seed;
    double sw2, sw2_floor;
    double entropy_knn, entropy_knn_data;
    mf_lik_stats lik;
    bool has_hjb;
    mf_hjb_stats hjb;
} mf_eval_summary;

/**
 * The summary of m on its built-in data set id (m's dimension) with n samples and
 * points (at least MF_EVAL_SUMMARY_KNN_K + 1; digits: at most 297 held-out, so n is
 * clipped to 99), a DDPM grid of `steps` and a PF-ODE grid of ode_steps.  cancel may be
 * NULL.  ex NULL: the calling thread.  Errors: MF_EINVAL, MF_ECANCELED, MF_ENOMEM,
 * those of the samplers and metrics.  *ret is written only on success.
 */
MF_MUST_CHECK mf_err mf_eval_summary_of(const mf_eval_exec *ex, const mf_model *m, mf_dataset_id id,
                                        size_t n, size_t steps, size_t ode_steps, uint64_t seed,
                                        const atomic_int *cancel, mf_eval_summary *ret);

#endif /* MF_EVAL_SUMMARY_H */
