/* SPDX-License-Identifier: MIT */
/*
 * knn.h - k-th nearest-neighbour distances, the building block of the kNN
 * entropy and divergence estimators (core/entropy.h) and of the
 * nearest-neighbour distance to the training set.
 *
 * For every query point q_i the Euclidean distance to its k-th nearest point
 * of a reference set.  Two exact algorithms, chosen by dimension:
 *   D <= MF_KNN_TREE_MAX_DIM: a k-d tree over the reference points (median
 *     splits on the widest coordinate, leaves of up to 8 points), searched
 *     nearest side first with pruning on the distance to the splitting plane:
 *     about N log N for the low-dimensional sets instead of N^2;
 *   higher D: blocks of query rows against all reference rows, the dot
 *     products by one dgemm per block (|q|^2 + |r|^2 - 2 q.r), the k smallest
 *     kept per row, then those k recomputed directly so that exact duplicates
 *     come out as exactly 0 and close points lose nothing to cancellation.
 * Both are exact (ties aside) and agree with a brute-force loop (tests).
 * Coordinates and distances are in double inside; scratch is allocated per
 * call.  Thread-safety: reentrant.
 */
#ifndef MF_KNN_H
#define MF_KNN_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* Largest dimension searched with the k-d tree; above it the GEMM path. */
#define MF_KNN_TREE_MAX_DIM 8
/* Largest k accepted (estimators use 1..10). */
#define MF_KNN_MAX_K 64

/**
 * ret[i] = distance from row i of q (nq, D) to its k-th nearest row of
 * ref (nr, D).  With self, q and ref are the same set (q == ref, nq == nr) and
 * row i is not its own neighbour; other rows equal to it are, at distance 0.
 * Errors: MF_EINVAL (a NULL pointer, nq, nr, D or k zero, k > MF_KNN_MAX_K,
 * k > nr (nr - 1 with self), self with q != ref or nq != nr), MF_ERANGE (a
 * non-finite coordinate, a size product overflows), MF_ENOMEM.  ret is
 * written only on success.
 */
MF_MUST_CHECK mf_err mf_knn_dist(const float *q, size_t nq, const float *ref, size_t nr, size_t D,
                                 size_t k, bool self, double *ret);

#endif /* MF_KNN_H */
