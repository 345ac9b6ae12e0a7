/* SPDX-License-Identifier: MIT */
/*
 * sw.h - sliced Wasserstein-2 distance between two point clouds.
 *
 *   SW2(P, Q) = ( (1/L) sum_{l<L} W2^2(theta_l # P, theta_l # Q) )^(1/2)
 *
 * theta_l are L fixed directions, uniform on the sphere S^{D-1}: direction l is
 * the normalised vector of normal variates lD .. lD + D-1 of
 * mf_rng_derive(mf_rng_make(seed), DIRS), so for a given (seed, D) the
 * directions do not depend on the data, on n, m, or on L (the first L of a
 * longer list): numbers measured with the same seed are comparable.
 *
 * W2^2 of two 1-D empirical measures is the exact integral over t in (0,1) of
 * (F^-1(t) - G^-1(t))^2 for their piecewise-constant quantile functions: with
 * sorted projections u (n) and v (m), u_i on (i/n, (i+1)/n] and v_j on
 * (j/m, (j+1)/m], summed over the merged breakpoints.  For n = m this is
 * (1/n) sum_i (u_(i) - v_(i))^2 (reference/other-seeds.md §4.6); for n != m it is
 * still the exact W2 between the two empirical measures, not an interpolation.
 * Projections and sums are in double.
 *
 * Cost: L (n + m) D for the projections plus L sorts (qsort) of n and m values;
 * scratch is allocated per call.  Thread-safety: reentrant.
 */
#ifndef MF_SW_H
#define MF_SW_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define MF_SW_DEFAULT_DIRS 500
#define MF_SW_DEFAULT_SEED UINT64_C(0x5357325f64697273) /* "SW2_dirs" */

/**
 * SW2 between the point sets x (n, D) and y (m, D), row-major, with n_dirs
 * directions drawn from seed (defaults: MF_SW_DEFAULT_DIRS, MF_SW_DEFAULT_SEED).
 * Errors: MF_EINVAL (n, m, D or n_dirs zero, x or y NULL), MF_ERANGE (a non-finite
 * coordinate, or a size product overflows), MF_ENOMEM.  *ret is written only on
 * success.
 */
MF_MUST_CHECK mf_err mf_sw2(const float *x, size_t n, const float *y, size_t m, size_t D,
                            size_t n_dirs, uint64_t seed, double *ret);

/**
 * W2^2 between the 1-D empirical measures of u (n) and v (m), both sorted
 * increasingly (exact quantile integral, see above).  n, m >= 1; no checks.
 */
double mf_sw_w2sq_sorted(const double *u, size_t n, const double *v, size_t m);

#endif /* MF_SW_H */
