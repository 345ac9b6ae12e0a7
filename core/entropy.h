/* SPDX-License-Identifier: MIT */
/*
 * entropy.h - entropy and divergence estimates from samples (nats), each
 * returned with the settings it was computed with, so that numbers are never
 * compared across settings.  Formulas: reference/other-seeds.md §4.1-4.3.
 *
 * Kozachenko-Leonenko kNN entropy of x_1..x_N in R^D:
 *     H = psi(N) - psi(k) + log V_D + (D/N) sum_i log rho_i,
 * rho_i the distance from x_i to its k-th nearest other point, V_D =
 * pi^(D/2) / Gamma(D/2 + 1) the unit-ball volume, psi the digamma function.
 * Scaling every point by c adds exactly D log c.  Duplicated points have
 * rho_i = 0 and would give -inf: their rho is floored at
 * MF_KNN_FLOOR_REL x (the RMS standard deviation of the points, or 1 when
 * all points coincide), and their number is reported, so a collapsed
 * generator shows as a very low but finite entropy plus a duplicate count.
 * In high dimension (digits, D = 64) the estimate is strongly biased at these
 * N: compare it only with the same estimate on real data at the same (N, k).
 *
 * kNN KL divergence (Wang, Kulkarni, Verdu 2009), P = x (n points),
 * Q = y (m points):
 *     D(P || Q) = (D/n) sum_i log(nu_i / rho_i) + log(m / (n - 1)),
 * rho_i the k-th NN distance of x_i within x (itself excluded), nu_i its k-th
 * NN distance in y.  Both directions are returned: D(Q || P) is where mode
 * dropping shows.  Zero distances are floored as above (the floor taken from
 * the pooled points).
 *
 * Histogram entropy on a B x B grid over [lo, hi]^2, bin side w = (hi-lo)/B,
 * counts n_j, N_in points inside (the upper edge belongs to the last bin):
 *     H = -sum_j (n_j/N_in) log(n_j/N_in) + 2 log w,
 * Miller-Madow corrected H_MM = H + (M - 1)/(2 N_in), M non-empty bins.  Points
 * outside are counted, not binned: outside_frac = 1 - N_in/N.  Keep
 * N_in/M >= ~10: finer grids bias the estimate downward.
 */
#ifndef MF_ENTROPY_H
#define MF_ENTROPY_H

#include <stddef.h>

#include "err.h"

/* Zero kNN distances are floored at this fraction of the RMS standard deviation. */
#define MF_KNN_FLOOR_REL 1e-6

typedef struct mf_knn_entropy {
    double entropy;   /* nats */
    size_t n, dim, k; /* settings */
    size_t n_zero;    /* points whose k-th NN distance was 0 (floored) */
} mf_knn_entropy;

typedef struct mf_knn_kl {
    double kl_pq; /* D(P || Q), nats: P = the first set (generated) */
    double kl_qp; /* D(Q || P) */
    size_t n, m, dim, k;
    size_t n_zero; /* zero distances floored, both directions together */
} mf_knn_kl;

typedef struct mf_hist_entropy {
    double entropy;      /* plug-in, nats; NaN when no point is inside the grid */
    double entropy_mm;   /* Miller-Madow corrected; NaN likewise */
    double outside_frac; /* fraction of points outside [lo, hi]^2 */
    size_t n, n_in, bins, occupied;
    double lo, hi;
} mf_hist_entropy;

/** digamma(n) for an integer n >= 1: -gamma_E + sum_{j<n} 1/j. */
double mf_digamma_int(size_t n);

/** log of the volume of the unit ball in R^D. */
double mf_log_unit_ball(size_t D);

/**
 * Kozachenko-Leonenko entropy of x (n, D) with the k-th neighbour.
 * Errors: MF_EINVAL (x or ret NULL, D 0, k 0 or > MF_KNN_MAX_K, n <= k),
 * MF_ERANGE (non-finite coordinate, size overflow), MF_ENOMEM.  *ret is
 * written only on success.
 */
MF_MUST_CHECK mf_err mf_entropy_knn(const float *x, size_t n, size_t D, size_t k,
                                    mf_knn_entropy *ret);

/**
 * kNN KL divergences between P = x (n, D) and Q = y (m, D), both directions.
 * Errors as mf_entropy_knn, with n <= k or m <= k invalid.
 */
MF_MUST_CHECK mf_err mf_kl_knn(const float *x, size_t n, const float *y, size_t m, size_t D,
                               size_t k, mf_knn_kl *ret);

/**
 * The kNN entropies of x and of y (either pointer may be NULL) and the kNN KL
 * divergences between them, from the four neighbour searches they share
 * (mf_entropy_knn twice and mf_kl_knn would run six).  Each entropy equals
 * mf_entropy_knn's, bit for bit.  Errors as mf_kl_knn.
 */
MF_MUST_CHECK mf_err mf_knn_entropies_kl(const float *x, size_t n, const float *y, size_t m,
                                         size_t D, size_t k, mf_knn_entropy *hx, mf_knn_entropy *hy,
                                         mf_knn_kl *ret);

/**
 * Histogram entropy of the 2-D points x (n, 2) on a bins x bins grid over
 * [lo, hi]^2.  Errors: MF_EINVAL (x or ret NULL, n 0, bins 0 or > 4096,
 * lo >= hi or not finite), MF_ERANGE (a non-finite coordinate), MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_entropy_hist2d(const float *x, size_t n, double lo, double hi, size_t bins,
                                       mf_hist_entropy *ret);

#endif /* MF_ENTROPY_H */
