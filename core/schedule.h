/* SPDX-License-Identifier: MIT */
/*
 * schedule.h - DDPM noise schedules.
 *
 * Spec strings (model metadata "schedule"):
 *   linear:BETA_MIN:BETA_MAX:T   beta_t linear from BETA_MIN to BETA_MAX, t = 0..T-1
 *   cosine:S:T                   f(u) = cos^2((u/T + s)/(1 + s) * pi/2),
 *                                beta_t = min(1 - f(t+1)/f(t), 0.999)
 * alpha_bar_t = prod_{s<=t} (1 - beta_s), kept in double.
 */
#ifndef MF_SCHEDULE_H
#define MF_SCHEDULE_H

#include <stddef.h>

#include "err.h"

#define MF_SCHEDULE_MAX_T 100000

typedef struct mf_schedule {
    size_t T;
    double *beta;      /* (T), owned */
    double *alpha_bar; /* (T), owned */
    char spec[96];     /* canonical spec string */
} mf_schedule;

/**
 * Parses and builds a schedule.  Errors: MF_EFORMAT (syntax, named in diag),
 * MF_ERANGE (T or betas out of range), MF_ENOMEM.  *ret is written only on success.
 */
MF_MUST_CHECK mf_err mf_schedule_init(mf_schedule *ret, const char *spec, mf_diag *diag);

/** Releases the arrays; accepts a zeroed struct. */
void mf_schedule_deinit(mf_schedule *s);

/** alpha_bar at timestep t; 1.0 for t < 0 (the "step after the last" of DDIM). */
double mf_schedule_alpha_bar(const mf_schedule *s, long t);

/*
 * The continuous-time reading of a discrete schedule, written down here once and
 * used by everything that needs time as a real number (the HJB residual of
 * potential models, core/hjb.h):
 *
 *   tau in [0, 1]; timestep t (0-based) is tau = (t + 1)/T, and a network's time
 *   input for tau is T tau - 1 (so at tau = (t+1)/T it sees t, as in training);
 *   B(tau) = -log abar(tau) is the C1 cubic Hermite interpolation through the knots
 *   (j/T, -log alpha_bar_{j-1}), j = 0..T (B(0) = 0), with central-difference
 *   slopes (one-sided at both ends);  abar(tau) = exp(-B(tau));  beta(tau) = B'(tau).
 *
 * So abar((t+1)/T) is alpha_bar_t exactly, beta is continuous (a stencil in tau
 * never straddles a jump), and beta is exactly -d log abar / d tau, which is what
 * makes the VP process's noised densities exact solutions of the residual.  For
 * linear:1e-4:0.02:1000, B is near 0.1 tau + 9.95 tau^2 (the reference run's
 * analytic convention: its abar is within 7 % of this one at large tau).  tau
 * outside [0, 1] is clamped.
 */

/** beta(tau) and abar(tau) of the reading above; either pointer may be NULL. */
void mf_schedule_ct(const mf_schedule *s, double tau, double *ret_beta, double *ret_abar);

#endif /* MF_SCHEDULE_H */
