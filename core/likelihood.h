/* SPDX-License-Identifier: MIT */
/*
 * likelihood.h - log-densities by the probability-flow ODE: the log-likelihood
 * of given points, and the log-density of the ODE's own samples (whose mean,
 * negated, is the entropy of the ODE model).  reference/other-seeds.md §4.4.
 *
 * Coordinates are those of the ODE sampler (sampler.h): sigma =
 * sqrt((1 - ab)/ab), y = x / sqrt(ab), dy/dsigma = f(y) = eps(sqrt(ab) y, t).
 * Instantaneous change of variables:
 *     d/dsigma log p_sigma(y(sigma)) = -div_y f = -sqrt(ab) div_x eps,
 * so with the prior x_T ~ N(0, I) at the last timestep, i.e. y ~ N(0, I/ab_T),
 *     log p_0(y(0)) = log N(y(sigma_max); 0, I/ab_T) + int_0^sigma_max div_y f dsigma.
 * At sigma = 0, y = x: data space of the model.  The integral runs on the
 * sampler's grid of S timesteps: Heun between grid times (two evaluations per
 * step, the divergence averaged like the drift) and one Euler step between
 * sigma = 0 and the grid's timestep 0 - the exact mirror of the ODE sampler,
 * which ends with that Euler step.  2S - 1 evaluations in all.
 *
 * Divergence: exact (D vector-Jacobian products per evaluation) or Hutchinson's
 * v^T J v with one Rademacher probe v per point, fixed along the trajectory
 * (FFJORD): unbiased, one VJP per evaluation.  MF_DIV_AUTO is exact for
 * D <= MF_DIV_EXACT_MAX_DIM.
 *
 * Randomness (probes, prior draws) follows the sampler's rule: row i of a call
 * with first_index f uses counter (f + i) D + d of a stream derived from the
 * seed, so results do not depend on the batch split; the ODE samples of
 * mf_ode_sample_logp are those of mf_sample with MF_SAMPLER_ODE and the same
 * seed and steps (up to float rounding of the state, kept in double here).
 */
#ifndef MF_LIKELIHOOD_H
#define MF_LIKELIHOOD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "mlp.h"
#include "sampler.h"
#include "schedule.h"

#define MF_DIV_EXACT_MAX_DIM 8

typedef enum mf_div_kind {
    MF_DIV_AUTO = 0,
    MF_DIV_EXACT = 1,
    MF_DIV_HUTCHINSON = 2,
} mf_div_kind;

/** "auto", "exact", "hutchinson". */
const char *mf_div_name(mf_div_kind kind);

/**
 * eps (n, D) = eps(x (n, D), t) and div (n): the divergence of eps in x at each
 * row, exactly when probe is NULL, else probe_i^T J_i probe_i with the rows of
 * probe (n, D).  ctx is the callback's own state.
 */
typedef struct mf_eps_div_fn {
    void (*eval)(void *ctx, const float *x, size_t n, float t, const float *probe, float *eps,
                 double *div);
    void *ctx;
} mf_eps_div_fn;

typedef struct mf_ode_lik_opts {
    size_t steps; /* S grid steps, 1..T */
    mf_div_kind div;
    uint64_t seed;            /* probes; the prior draw of mf_ode_sample_logp */
    uint64_t first_index;     /* global index of row 0 */
    const atomic_int *cancel; /* may be NULL */
    mf_progress_fn progress;  /* may be NULL */
    void *progress_ctx;
} mf_ode_lik_opts;

/** Parses "auto", "exact", "hutchinson"; MF_ENOTFOUND otherwise, MF_EINVAL for NULL. */
MF_MUST_CHECK mf_err mf_div_lookup(const char *name, mf_div_kind *ret);

/** The divergence method a run of dimension D uses (AUTO resolved). */
mf_div_kind mf_ode_div_resolve(mf_div_kind kind, size_t D);

/** Network evaluations of one run (2S - 1), for progress and budgets. */
size_t mf_ode_lik_n_evals(const mf_ode_lik_opts *o);

/**
 * logp[i] = log p_0(x_i) in nats, model space, for the rows of x (n, D).
 * Errors: MF_EINVAL (NULL pointers, n or D 0, steps 0 or > T, bad div kind),
 * MF_ERANGE (non-finite coordinate, size overflow), MF_ENOMEM, MF_ECANCELED.
 * logp is written only on success.
 */
MF_MUST_CHECK mf_err mf_ode_loglik(const mf_schedule *s, mf_eps_div_fn f, const mf_ode_lik_opts *o,
                                   const float *x, size_t n, size_t D, double *logp);

/**
 * Draws n samples with the ODE into x (n, D) and their log-densities under the
 * ODE model into logp (n): -mean(logp) estimates the model's entropy.  Errors
 * as mf_ode_loglik.
 */
MF_MUST_CHECK mf_err mf_ode_sample_logp(const mf_schedule *s, mf_eps_div_fn f,
                                        const mf_ode_lik_opts *o, float *x, size_t n, size_t D,
                                        double *logp);

/*
 * A summary of log-densities in data space, with its settings:
 *   of points (held-out data): nll = -mean log p, an upper bound on the data's
 *     entropy (nll - H = KL(data || model)); digits dequantised (pixel k ->
 *     k + u - 1/2, u ~ U(0,1), a bin of width 1 in data space) also give
 *     bits/dim = nll / (D ln 2), an upper bound on -log2 P(k) per pixel;
 *   of the ODE's own samples: nll is the entropy of the ODE model.
 */
typedef struct mf_lik_stats {
    double nll;          /* nats, data space */
    double nll_se;       /* standard error of that mean */
    double bits_per_dim; /* dequantised integer data only; NaN otherwise */
    size_t n, dim, steps;
    mf_div_kind div; /* resolved */
    uint64_t seed;
    bool of_samples; /* true: entropy of the ODE model's samples */
    bool dequantised;
} mf_lik_stats;

/**
 * Fills the mean, standard error and settings from the data-space
 * log-densities logp (n) of D-dimensional points (core/evaluate.h maps a
 * model's log-densities to its data space).  bits/dim when dequantised.  n >= 1.
 */
void mf_lik_summarise(const double *logp, size_t n, size_t D, const mf_ode_lik_opts *o,
                      bool of_samples, bool dequantised, mf_lik_stats *ret);

/*
 * Adapter: an MLP as an mf_eps_div_fn, by one forward and D (exact) or one
 * (Hutchinson) input-VJPs per chunk of the workspace's max batch.  c (n, C) may
 * be NULL for unconditional models.  Scratch is made once by init.  A potential
 * network (potential.h) gives eps = -grad_x g and div eps = -lap_x g: exactly, D
 * Hessian-vector products, or -v^T H v with the probe.
 */
typedef struct mf_mlp_div_ctx {
    const mf_mlp *net;
    const float *c;
    mf_mlp_ws *ws;         /* with_backward; NULL for a potential */
    struct mf_pot_ws *pws; /* a potential's; NULL for an eps network */
    float *d_out;          /* (max_batch, D) */
    float *d_x;            /* (max_batch, D) */
    float *t_rows;         /* (max_batch) */
    float *lap;            /* (max_batch) */
} mf_mlp_div_ctx;

MF_MUST_CHECK mf_err mf_mlp_div_ctx_init(mf_mlp_div_ctx *ctx, const mf_mlp *net, size_t max_batch);
void mf_mlp_div_ctx_deinit(mf_mlp_div_ctx *ctx);
void mf_mlp_eps_div_eval(void *ctx, const float *x, size_t n, float t, const float *probe,
                         float *eps, double *div);

#endif /* MF_LIKELIHOOD_H */
