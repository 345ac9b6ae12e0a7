/* SPDX-License-Identifier: MIT */
/*
 * digits_eval.h - what the digits oracles (test_rcgd_digits.c,
 * test_dxmi_digits.c) share: the median distance of images to their nearest
 * training image, and a seeded subset of the training images.
 */
#ifndef MF_TEST_DIGITS_EVAL_H
#define MF_TEST_DIGITS_EVAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <check.h>

#include "dataset.h"
#include "knn.h"
#include "rng.h"

/* qsort's order of doubles, increasing. */
static inline int digits_cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

/* The median distance of the rows of q (nq, 64) to their nearest row of train (the 1,500). */
static inline double digits_median_nn(const float *q, size_t nq, const float *train)
{
    double *d = malloc(nq * sizeof *d);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(
        mf_knn_dist(q, nq, train, MF_DATASET_DIGITS_N_TRAIN, MF_DATASET_DIGITS_D, 1, false, d),
        MF_OK);
    qsort(d, nq, sizeof *d, digits_cmp_double);
    double m = nq % 2 == 1 ? d[nq / 2] : 0.5 * (d[nq / 2 - 1] + d[nq / 2]);
    free(d);
    return m;
}

/*
 * idx (k <= 1,500) = the first k of a Fisher-Yates shuffle of the training rows
 * 0..1499 seeded by seed: swap i with j = i + mf_rng_below(mf_rng_make(seed), i, 1500 - i).
 */
static inline void digits_train_prefix(uint64_t seed, size_t k, size_t *idx)
{
    enum {
        N = MF_DATASET_DIGITS_N_TRAIN
    };

    size_t *perm = malloc(N * sizeof *perm);
    ck_assert_ptr_nonnull(perm);
    for (size_t i = 0; i < N; i++) {
        perm[i] = i;
    }
    mf_rng rng = mf_rng_make(seed);
    for (size_t i = 0; i < k; i++) {
        size_t j = i + mf_rng_below(rng, i, (uint32_t) (N - i));
        size_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
        idx[i] = perm[i];
    }
    free(perm);
}

#endif
