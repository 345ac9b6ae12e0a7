/* SPDX-License-Identifier: MIT */
/*
 * test_knn.c - k-th nearest-neighbour distances: the k-d tree (D <= 8) and the
 * dgemm path (D > 8) against a brute-force double loop, with and without self
 * exclusion, with duplicated points, and the argument checks.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "knn.h"
#include "rng.h"
#include "test_util.h"

/* n x D normal points; every 7th row is a copy of the row before it (duplicates). */
static float *cloud(uint64_t seed, size_t n, size_t D, bool dups)
{
    float *p = malloc(n * D * sizeof(float));
    ck_assert_ptr_nonnull(p);
    mf_rng_normal(mf_rng_make(seed), 0, p, n * D);
    if (dups) {
        for (size_t i = 7; i < n; i += 7) {
            memcpy(p + i * D, p + (i - 1) * D, D * sizeof(float));
        }
    }
    return p;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : (x > y);
}

/* Brute force: sort every distance, in double. */
static void brute(const float *q, size_t nq, const float *r, size_t nr, size_t D, size_t k,
                  bool self, double *ret)
{
    double *d = malloc(nr * sizeof(double));
    ck_assert_ptr_nonnull(d);
    for (size_t i = 0; i < nq; i++) {
        size_t c = 0;
        for (size_t j = 0; j < nr; j++) {
            if (self && i == j) {
                continue;
            }
            double s = 0.0;
            for (size_t t = 0; t < D; t++) {
                double v = (double) q[i * D + t] - (double) r[j * D + t];
                s += v * v;
            }
            d[c++] = s;
        }
        qsort(d, c, sizeof(double), cmp_double);
        ret[i] = sqrt(d[k - 1]);
    }
    free(d);
}

/* Checks the first n_check queries (all when 0) against brute force. */
static void check_some(size_t D, size_t nq, size_t nr, size_t k, bool self, bool dups,
                       size_t n_check)
{
    float *r = cloud(100 + D, nr, D, dups);
    float *q = self ? r : cloud(200 + D, nq, D, dups);
    nq = self ? nr : nq;
    double *got = malloc(nq * sizeof(double)), *want = malloc(nq * sizeof(double));
    ck_assert(got != NULL && want != NULL);
    mf_err err = mf_knn_dist(q, nq, r, nr, D, k, self, got);
    ck_assert_msg(err == MF_OK, "D %zu: %s", D, mf_err_name(err));
    size_t nc = n_check == 0 ? nq : n_check;
    brute(q, nc, r, nr, D, k, self, want);
    size_t zeros = 0;
    for (size_t i = 0; i < nc; i++) {
        ck_assert_msg(fabs(got[i] - want[i]) <= 1e-12 * (1.0 + want[i]),
                      "D %zu k %zu self %d row %zu: %.17g vs %.17g", D, k, self, i, got[i],
                      want[i]);
        zeros += want[i] == 0.0;
    }
    /* With self and duplicates, k = 1 must see the copies at distance exactly 0. */
    if (self && dups && k == 1 && nc == nq) {
        ck_assert_uint_ge(zeros, 2 * ((nr - 1) / 7));
    }
    if (!self) {
        free(q);
    }
    free(r);
    free(got);
    free(want);
}

static void check_against_brute(size_t D, size_t nq, size_t nr, size_t k, bool self, bool dups)
{
    check_some(D, nq, nr, k, self, dups, 0);
}

START_TEST(test_matches_brute_force)
{
    static const size_t dims[] = {1, 2, 3, 8, 9, 64};
    static const size_t ks[] = {1, 5};
    for (size_t a = 0; a < sizeof dims / sizeof dims[0]; a++) {
        for (size_t b = 0; b < 2; b++) {
            check_against_brute(dims[a], 0, 700, ks[b], true, true);
            check_against_brute(dims[a], 0, 700, ks[b], true, false);
            check_against_brute(dims[a], 300, 500, ks[b], false, true);
        }
    }
}

END_TEST

/* A deep tree: 20,000 2-D points, 2,000 queries checked. */
START_TEST(test_large_tree)
{
    check_some(2, 0, 20000, 3, true, true, 2000);
}

END_TEST

/* Many queries against few reference rows: several dgemm blocks, block > 1 row. */
START_TEST(test_gemm_blocks)
{
    check_against_brute(16, 1000, 40, 4, false, false);
    check_against_brute(16, 0, 2100, 1, true, true);
}

END_TEST

START_TEST(test_all_equal)
{
    for (size_t D = 2; D <= 16; D += 14) {
        size_t n = 100;
        float *p = malloc(n * D * sizeof(float));
        ck_assert_ptr_nonnull(p);
        for (size_t i = 0; i < n * D; i++) {
            p[i] = 0.25f * (float) (i % D);
        }
        double d[100];
        ck_assert_int_eq(mf_knn_dist(p, n, p, n, D, 10, true, d), MF_OK);
        for (size_t i = 0; i < n; i++) {
            ck_assert(d[i] == 0.0);
        }
        free(p);
    }
}

END_TEST

/* k = nr - 1 with self: the farthest other point; k = nr without self. */
START_TEST(test_k_limits)
{
    float p[8] = {0, 0, 3, 0, 0, 4, 1, 1};
    double d[4];
    ck_assert_int_eq(mf_knn_dist(p, 4, p, 4, 2, 3, true, d), MF_OK);
    ck_assert_double_eq_tol(d[0], 4.0, 1e-15);
    ck_assert_double_eq_tol(d[1], 5.0, 1e-15);
    ck_assert_double_eq_tol(d[2], 5.0, 1e-15);
    ck_assert_double_eq_tol(d[3], sqrt(10.0), 1e-15);
    ck_assert_int_eq(mf_knn_dist(p, 4, p, 4, 2, 4, false, d), MF_OK);
    ck_assert_double_eq_tol(d[0], 4.0, 1e-15); /* the 4th of {0, 3, 4, sqrt 2} */
    ck_assert_int_eq(mf_knn_dist(p, 4, p, 4, 2, 4, true, d), MF_EINVAL);
}

END_TEST

START_TEST(test_errors)
{
    float p[8] = {0, 0, 1, 0, 0, 1, 1, 1}, other[8] = {0};
    double d[4] = {-1, -1, -1, -1};
    ck_assert_int_eq(mf_knn_dist(NULL, 4, p, 4, 2, 1, false, d), MF_EINVAL);
    ck_assert_int_eq(mf_knn_dist(p, 4, NULL, 4, 2, 1, false, d), MF_EINVAL);
    ck_assert_int_eq(mf_knn_dist(p, 4, p, 4, 2, 1, false, NULL), MF_EINVAL);
    ck_assert_int_eq(mf_knn_dist(p, 0, p, 4, 2, 1, false, d), MF_EINVAL);
    ck_assert_int_eq(mf_knn_dist(p, 4, p, 0, 2, 1, false, d), MF_EINVAL);
    ck_assert_int_eq(mf_knn_dist(p, 4, p, 4, 0, 1, false, d), MF_EINVAL);
    ck_assert_int_eq(mf_knn_dist(p, 4, p, 4, 2, 0, false, d), MF_EINVAL);
    ck_assert_int_eq(mf_knn_dist(p, 4, p, 4, 2, MF_KNN_MAX_K + 1, false, d), MF_EINVAL);
    ck_assert_int_eq(mf_knn_dist(p, 4, p, 4, 2, 5, false, d), MF_EINVAL);
    ck_assert_int_eq(mf_knn_dist(p, 4, other, 4, 2, 1, true, d), MF_EINVAL);
    ck_assert_int_eq(mf_knn_dist(p, 3, p, 4, 2, 1, true, d), MF_EINVAL);
    p[3] = NAN;
    ck_assert_int_eq(mf_knn_dist(p, 4, p, 4, 2, 1, true, d), MF_ERANGE);
    p[3] = INFINITY;
    ck_assert_int_eq(mf_knn_dist(other, 4, p, 4, 2, 1, false, d), MF_ERANGE);
    ck_assert_int_eq(mf_knn_dist(p, SIZE_MAX / 2, p, 4, 2, 1, false, d), MF_ERANGE);
    for (size_t i = 0; i < 4; i++) {
        ck_assert(d[i] == -1.0); /* untouched on failure */
    }
}

END_TEST

static Suite *knn_suite(void)
{
    Suite *s = suite_create("knn");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_matches_brute_force);
    tcase_add_test(tc, test_large_tree);
    tcase_add_test(tc, test_gemm_blocks);
    tcase_add_test(tc, test_all_equal);
    tcase_add_test(tc, test_k_limits);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(knn_suite)
