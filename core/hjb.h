/* SPDX-License-Identifier: MIT */
/*
 * hjb.h - the residual of the Fokker-Planck identity that the log-density of
 * the VP noising process obeys (../shared/reference/other-seeds.md §3.2):
 *
 *   R[u](x, tau) = d_tau u - (beta(tau)/2) (D + x . grad u + lap u + |grad u|^2)
 *
 * is 0 for u = log p_tau, the density of x_tau = sqrt(abar) x_0 + sqrt(1 - abar) eps,
 * with tau, beta(tau) and abar(tau) the continuous-time reading of the schedule
 * (schedule.h: mf_schedule_ct).  It is what the HJB regulariser of potential models
 * drives to 0.  It has a trivial solution too: u = (D/2) B(tau) + c (grad u = 0),
 * which is why a low residual alone says nothing about sample quality.
 *
 * Here: R of any potential given as a function in double, by central differences
 *
 *   d_i u  = [u(x + h e_i) - u(x - h e_i)] / 2h
 *   lap u  = sum_i [u(x + h e_i) - 2 u(x) + u(x - h e_i)] / h^2
 *   d_tau u = [u(tau + dt) - u(tau - dt)] / 2 dt
 *
 * 2D + 3 evaluations.  Why stencils and not exact derivatives: the same formula then
 * serves closed-form potentials (the oracles) and networks evaluated at the stencil
 * points, whose residual gradient is a sum of ordinary backward passes seeded with
 * dR/du_k (other-seeds.md §3.4).  In double, with h = 1e-3 and dt = 1e-4, the
 * truncation error (h^2 u''''/12) and the rounding error (eps |u| / h^2) of lap u both
 * stay near 1e-7 for the potentials of the tests.  tau -/+ dt must stay in [0, 1].
 */
#ifndef MF_HJB_H
#define MF_HJB_H

#include <stddef.h>

#include "schedule.h"

/** A potential u(x, tau): x has D coordinates. */
typedef double (*mf_potential_fn)(void *ctx, const double *x, size_t D, double tau);

/* The parts of one residual, for tests and reports. */
typedef struct mf_hjb_parts {
    double u, dtau, lap, x_dot_grad, grad_sq;
    double beta;
} mf_hjb_parts;

/**
 * R[u](x, tau) by the stencil above, with beta(tau) from s; work has D doubles of
 * scratch; parts (may be NULL) gets the pieces.  tau must lie in [dt, 1 - dt].
 */
double mf_hjb_residual(const mf_schedule *s, mf_potential_fn u, void *ctx, const double *x,
                       size_t D, double tau, double h, double dt, double *work,
                       mf_hjb_parts *parts);

#endif /* MF_HJB_H */
