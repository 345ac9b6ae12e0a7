/* SPDX-License-Identifier: MIT */
/*
 * vendi.h - the Vendi diversity score of a point set (reference/other-seeds.md §4.5).
 *
 * For points x_1 .. x_N and a kernel with k(x, x) = 1, K_ij = k(x_i, x_j) and
 * lambda_1 .. lambda_N are the eigenvalues of K / N (non-negative, summing to 1).
 * The score of order q is the exponential of the Renyi entropy of lambda:
 *
 *   VS_1 = exp( -sum_i lambda_i log lambda_i )        (0 log 0 = 0)
 *   VS_2 = 1 / sum_i lambda_i^2 = N^2 / sum_ij K_ij^2  (sum lambda^2 = ||K/N||_F^2)
 *
 * Both lie in [1, N] (up to round-off): 1 when all points are the same, N when
 * they are mutually orthogonal in feature space (e.g. much farther apart than
 * the RBF length scale), and VS_1 >= VS_2 (Renyi entropy does not increase with
 * the order).
 * VS_2 needs no eigendecomposition.
 *
 * Kernels:
 *
 *   MF_VENDI_RBF     k(x, y) = exp( -|x - y|^2 / (2 l^2) ), l = length_scale > 0.
 *   MF_VENDI_COSINE  k(x, y) = <x, y> / (|x| |y|).  A zero row has no direction:
 *                    it is mapped to a unit vector orthogonal to every non-zero
 *                    row, so k(0, 0) = 1 (zero rows are all the same point) and
 *                    k(0, y) = 0 for y != 0.  K stays a Gram matrix (PSD).
 *                    Depends only on directions: scaling a row by c > 0 changes
 *                    nothing; x and -x give k = -1 (K_ij^2 = 1: not diverse).
 *
 * Computation, all in double: RBF squared distances are |x|^2 + |y|^2 - 2 <x, y>
 * (one dsyrk on the points minus their mean), except for close pairs where that
 * cancels (below 1e-6 (|x|^2 + |y|^2)), recomputed as sum_d (x_d - y_d)^2: the
 * relative error of d^2 stays below ~1e-16 D 1e6, and identical rows get d = 0
 * and k = 1 exactly, whatever l.  VS_1 uses LAPACK dsyevd (eigenvalues only);
 * round-off negative eigenvalues are clamped to 0.  The cosine kernel with
 * m = D (+1 if a row is zero) < N uses the m x m matrix C = sum_i u_i u_i^T of
 * the unit rows u_i instead of K (same non-zero eigenvalues, same ||.||_F).
 *
 * Cost (one thread): the n x n matrix K is n^2 doubles (32 MB at n = 2,000,
 * 512 MB at MF_VENDI_MAX_N), n^2 D / 2 multiply-adds to build it, and for q = 1
 * the dense symmetric eigenvalue problem, about (4/3) n^3 flops.  Measured with
 * one thread (AMD EPYC), n = 2,000, D = 64, RBF: ~25 ms for q = 2, 0.5-0.7 s for
 * q = 1 (~7 s at n = 4,096); cosine via C: under 1 ms.  Scratch is allocated per
 * call.  Thread-safety: reentrant (OpenBLAS may use its own
 * threads inside dsyrk / dsyevd; OPENBLAS_NUM_THREADS decides).
 */
#ifndef MF_VENDI_H
#define MF_VENDI_H

#include <stddef.h>

#include "err.h"

/* Largest n accepted: the n x n double matrix is 512 MB at this size. */
#define MF_VENDI_MAX_N 8192

typedef enum mf_vendi_kernel {
    MF_VENDI_RBF = 0,
    MF_VENDI_COSINE = 1,
} mf_vendi_kernel;

/** "rbf" or "cosine" (static strings); NULL for an invalid value. */
const char *mf_vendi_kernel_name(mf_vendi_kernel kernel);

/**
 * The kernel of a name ("rbf", "cosine").  Errors: MF_EINVAL (name NULL),
 * MF_ENOTFOUND (unknown name).  *ret is written only on success.
 */
MF_MUST_CHECK mf_err mf_vendi_kernel_lookup(const char *name, mf_vendi_kernel *ret);

/**
 * VS_order of the points x (n, D), row-major, under kernel; order is 1 or 2;
 * length_scale is the RBF l (ignored by the cosine kernel).
 * Errors: MF_EINVAL (x NULL, n or D zero, invalid kernel, order not 1 or 2, RBF
 * length_scale not finite and positive), MF_ERANGE (a non-finite coordinate,
 * n > MF_VENDI_MAX_N, D too large for BLAS's int, n x D overflows), MF_ENOMEM,
 * MF_EINTERNAL (LAPACK reported a failure).  *ret is written only on success.
 */
MF_MUST_CHECK mf_err mf_vendi(const float *x, size_t n, size_t D, mf_vendi_kernel kernel,
                              double length_scale, int order, double *ret);

#endif /* MF_VENDI_H */
