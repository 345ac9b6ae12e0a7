/* SPDX-License-Identifier: MIT */
/*
 * var_sched.h - the T-step "VAR" sampler of DxMI (reference/other-seeds.md
 * §2.5, the authors' var_sampler.py adapted from SFT-PG/FastDPM): a short
 * chain wrapped around any pre-trained DDPM eps-network.
 *
 * Short chain: beta~_i = b0 (1 + i x)^2, i = 0..T-1 (i = 0 next to the data),
 * b0 = the parent schedule's beta_0, x by bisection on
 * prod_i (1 - beta~_i) against the parent's alpha_bar_{N-1}:
 *   MF_VAR_SCHED_CODE     the authors' bounded search, x in (0, 0.95/sqrt(b0)/T):
 *                         it saturates at the edge for small T (prod = 0.22 at
 *                         T = 5, not 4e-5), so the first step starts from a
 *                         noisier-than-data point but never jumps (default);
 *   MF_VAR_SCHED_MATCHED  x in (0, (1/sqrt(b0) - 1)/(T - 1)), prod matches
 *                         alpha_bar_{N-1} exactly; step 0 is then an x0-jump
 *                         (86.5 x - 86.46 eps at T = 5) that amplifies changes
 *                         of eps(., 999) 86 times (dxmi-reference-run.md).
 * With G_k = prod_{j<=k} (1 - beta~_j), generation step t = 0..T-1 (t = 0 is
 * noise) goes from a_cur = G[T-1-t] to a_next = G[T-2-t] (1 at the last step)
 * and evaluates eps at the continuous DDPM index tau_t with
 * alpha_bar(tau_t) = a_cur (bisection on log alpha_bar: for a linear schedule
 * the exact product extended to real tau by lgamma, as the reference; for any
 * other, log alpha_bar interpolated linearly between integers):
 *   x_{t+1} = xmult_t x_t + cmult_t eps(x_t, tau_t) + sigma_t z,
 *   xmult_t = sqrt(a_next / a_cur),
 *   cmult_t = sqrt(1 - a_next - s0_t^2) - sqrt(1 - a_cur) xmult_t,
 *   s0_t    = sqrt((1 - a_next)/(1 - a_cur) (1 - a_cur/a_next)) (DDPM posterior std),
 * The MEAN always uses the initial s0_t (as the authors' code does); the
 * trainable sigma_t = exp(log_sigma_t) enters only the noise, so a trained
 * sigma can never make the square root negative.  The last step's sigma is
 * fixed at MF_VAR_LAST_SIGMA.
 *
 * Model files store beta~ (var.beta [T]), tau (var.tau [T]) and sigma
 * (var.sigma [T]) as F32; mf_var_sched_init rounds beta~ and tau to float
 * before deriving the rest, so a sampler rebuilt from a file computes exactly
 * what the training run computed.
 */
#ifndef MF_VAR_SCHED_H
#define MF_VAR_SCHED_H

#include <stddef.h>

#include "err.h"
#include "schedule.h"

#define MF_VAR_MAX_T      64
#define MF_VAR_LAST_SIGMA 0.001

typedef enum mf_var_sched_kind {
    MF_VAR_SCHED_CODE = 0,    /* "code" */
    MF_VAR_SCHED_MATCHED = 1, /* "matched" */
} mf_var_sched_kind;

/** "code", "matched"; "unknown" for other values. */
const char *mf_var_sched_kind_name(mf_var_sched_kind kind);
/** The same names, NULL-terminated (for tables of names). */
extern const char *const mf_var_sched_kind_names[];
/** Parses a kind name.  Errors: MF_ENOTFOUND.  *ret only on success. */
MF_MUST_CHECK mf_err mf_var_sched_kind_lookup(const char *name, mf_var_sched_kind *ret);

typedef struct mf_var_sched {
    size_t T;                   /* steps, 1..MF_VAR_MAX_T */
    double beta[MF_VAR_MAX_T];  /* beta~_i, i = 0 next to the data (float-rounded) */
    double tau[MF_VAR_MAX_T];   /* generation step t's DDPM index (float-rounded) */
    double xmult[MF_VAR_MAX_T]; /* by generation step t = 0 (noise) .. T-1 */
    double cmult[MF_VAR_MAX_T];
    double sigma0[MF_VAR_MAX_T]; /* initial sigma_t; sigma0[T-1] = MF_VAR_LAST_SIGMA */
    double sigma[MF_VAR_MAX_T];  /* current sigma_t (trained); sigma[T-1] fixed */
} mf_var_sched;

/**
 * Builds the short chain of T steps for a parent schedule s; sigma = sigma0.
 * Errors: MF_EINVAL (T 0, 1 or > MF_VAR_MAX_T, s NULL, an unknown kind),
 * MF_ERANGE (a bisection that does not bracket, e.g. a schedule whose
 * alpha_bar_{N-1} the short chain cannot reach; a beta~ that rounds to 1 in
 * float, e.g. a matched chain on cosine:0.008:1000, alpha_bar_999 = 2.4e-9).
 * *ret only on success.
 */
MF_MUST_CHECK mf_err mf_var_sched_init(const mf_schedule *s, size_t T, mf_var_sched_kind kind,
                                       mf_var_sched *ret);

/**
 * Rebuilds a short chain from stored beta~ (T), tau (T) and sigma (T), as a
 * model file holds it (beta~ in (0, 1), tau finite and >= 0, sigma finite
 * and > 0).  Errors: MF_EINVAL / MF_ERANGE with diag (may be NULL) naming
 * the tensor.  *ret only on success.
 */
MF_MUST_CHECK mf_err mf_var_sched_from(size_t T, const float *beta, const float *tau,
                                       const float *sigma, mf_var_sched *ret, mf_diag *diag);

/** prod_i (1 - beta~_i), the alpha_bar the first step starts from. */
double mf_var_sched_alpha_bar(const mf_var_sched *v);

#endif /* MF_VAR_SCHED_H */
