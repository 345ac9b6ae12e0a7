/* SPDX-License-Identifier: MIT */
/*
 * test_table.c - tables: construction and its errors, the column statistics
 * against sums done here, the normalisation rule, and training batches
 * (determinism, split invariance, rows drawn from the table, uniform use of
 * the rows).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "table.h"
#include "test_util.h"

/* A malloc'd copy of n floats. */
static float *dup_floats(const float *v, size_t n)
{
    float *p = malloc(n * sizeof *p);
    ck_assert_ptr_nonnull(p);
    memcpy(p, v, n * sizeof *p);
    return p;
}

static mf_table *make(const float *x, size_t n, size_t d, const float *y)
{
    mf_table *t = NULL;
    ck_assert_int_eq(
        mf_table_new_take(n, d, dup_floats(x, n * d), y != NULL ? dup_floats(y, n) : NULL, &t),
        MF_OK);
    return t;
}

/* ---- construction ----------------------------------------------------------------------- */

START_TEST(test_stats)
{
    static const float x[] = {1, 10, 2, 20, 3, 30, 6, 40};
    static const float y[] = {NAN, 1, NAN, 0};
    mf_table *t = make(x, 4, 2, y);
    ck_assert_uint_eq(t->n_rows, 4);
    ck_assert_uint_eq(t->n_dims, 2);
    ck_assert_uint_eq(t->n_labelled, 2);
    ck_assert_ptr_nonnull(t->y);
    ck_assert_double_eq_tol(t->mean[0], 3.0, 1e-12);
    ck_assert_double_eq_tol(t->mean[1], 25.0, 1e-12);
    /* population std: sqrt(((-2)^2 + 1 + 0 + 9) / 4), sqrt((225 + 25 + 25 + 225) / 4) */
    ck_assert_double_eq_tol(t->std[0], sqrt(14.0 / 4.0), 1e-12);
    ck_assert_double_eq_tol(t->std[1], sqrt(500.0 / 4.0), 1e-12);
    mf_table_free(t);

    /* labels all NaN: no labels */
    static const float none[] = {NAN, NAN, NAN, NAN};
    t = make(x, 4, 2, none);
    ck_assert_ptr_null(t->y);
    ck_assert_uint_eq(t->n_labelled, 0);
    mf_table_free(t);

    /* far from 0: two passes keep the std exact */
    static const float far[] = {1e6f + 1, 1e6f - 1, 1e6f + 1, 1e6f - 1};
    t = make(far, 4, 1, NULL);
    ck_assert_double_eq_tol(t->std[0], 1.0, 1e-9);
    mf_table_free(t);
    mf_table_free(NULL);
}

END_TEST

START_TEST(test_new_errors)
{
    mf_table *t = (mf_table *) 1; /* must stay untouched */
    static const float ok[] = {1, 2};
    ck_assert_int_eq(mf_table_new_take(0, 2, dup_floats(ok, 2), NULL, &t), MF_EINVAL);
    ck_assert_int_eq(mf_table_new_take(1, 0, dup_floats(ok, 2), NULL, &t), MF_EINVAL);
    ck_assert_int_eq(mf_table_new_take(1, 2, NULL, dup_floats(ok, 1), &t), MF_EINVAL);
    static const float nan_x[] = {1, NAN};
    ck_assert_int_eq(mf_table_new_take(1, 2, dup_floats(nan_x, 2), NULL, &t), MF_EINVAL);
    static const float inf_x[] = {INFINITY, 1};
    ck_assert_int_eq(mf_table_new_take(1, 2, dup_floats(inf_x, 2), NULL, &t), MF_EINVAL);
    static const float inf_y[] = {-INFINITY};
    ck_assert_int_eq(mf_table_new_take(1, 2, dup_floats(ok, 2), dup_floats(inf_y, 1), &t),
                     MF_EINVAL);
    ck_assert_int_eq(
        mf_table_new_take((size_t) MF_TABLE_MAX_ROWS + 1, 1, dup_floats(ok, 1), NULL, &t),
        MF_ERANGE);
    ck_assert_int_eq(mf_table_new_take(SIZE_MAX / 2, 3, dup_floats(ok, 1), NULL, &t), MF_ERANGE);
    ck_assert_ptr_eq(t, (mf_table *) 1);
}

END_TEST

/* ---- normalisation ---------------------------------------------------------------------- */

START_TEST(test_norm)
{
    /* equal means: offset the mean, scale the largest std */
    static const float a[] = {-1, -3, 1, 3};
    mf_table *t = make(a, 2, 2, NULL);
    float off, scale;
    mf_table_norm(t, &off, &scale);
    ck_assert_float_eq_tol(off, 0.0f, 1e-7f);
    ck_assert_float_eq_tol(scale, 3.0f, 1e-6f);
    mf_table_free(t);

    /* columns apart (means 0 and 100, std 1): offset 50, scale sqrt(1 + 50^2) */
    static const float b[] = {-1, 99, 1, 101};
    t = make(b, 2, 2, NULL);
    mf_table_norm(t, &off, &scale);
    ck_assert_float_eq_tol(off, 50.0f, 1e-5f);
    ck_assert_float_eq_tol(scale, sqrtf(2501.0f), 1e-3f);
    mf_table_free(t);

    /* one value everywhere: scale 1 */
    static const float c[] = {7, 7, 7, 7};
    t = make(c, 2, 2, NULL);
    mf_table_norm(t, &off, &scale);
    ck_assert(off == 7.0f && scale == 1.0f);
    mf_table_free(t);
}

END_TEST

/* ---- batches ------------------------------------------------------------------------------ */

/* A table whose row i is (i, -i): a batch row names its table row. */
static mf_table *counting_table(size_t n)
{
    float *x = malloc(2 * n * sizeof *x);
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < n; i++) {
        x[2 * i] = (float) i;
        x[2 * i + 1] = -(float) i;
    }
    mf_table *t = NULL;
    ck_assert_int_eq(mf_table_new_take(n, 2, x, NULL, &t), MF_OK);
    return t;
}

START_TEST(test_batch)
{
    enum {
        N = 37,
        B = 64,
        STEPS = 200
    };

    mf_table *t = counting_table(N);
    float a[2 * B], b[2 * B];
    size_t hits[N] = {0};
    for (size_t step = 0; step < STEPS; step++) {
        ck_assert_int_eq(mf_table_train_batch(t, 9, step, B, 0.0f, 1.0f, a), MF_OK);
        ck_assert_int_eq(mf_table_train_batch(t, 9, step, B, 0.0f, 1.0f, b), MF_OK);
        ck_assert_mem_eq(a, b, sizeof a);
        for (size_t i = 0; i < B; i++) {
            float r = a[2 * i];
            ck_assert(r >= 0 && r < N && r == floorf(r) && a[2 * i + 1] == -r);
            hits[(size_t) r]++;
        }
    }
    /* uniform with replacement: each row about B*STEPS/N = 346 times */
    for (size_t i = 0; i < N; i++) {
        ck_assert_msg(hits[i] > 250 && hits[i] < 450, "row %zu drawn %zu times", i, hits[i]);
    }
    /* another seed, another batch; the normalisation applied in float */
    ck_assert_int_eq(mf_table_train_batch(t, 10, 0, B, 0.0f, 1.0f, b), MF_OK);
    ck_assert_int_eq(mf_table_train_batch(t, 9, 0, B, 0.0f, 1.0f, a), MF_OK);
    ck_assert(memcmp(a, b, sizeof a) != 0);
    ck_assert_int_eq(mf_table_train_batch(t, 9, 0, B, 3.0f, 2.0f, b), MF_OK);
    for (size_t k = 0; k < 2 * B; k++) {
        ck_assert(b[k] == (a[k] - 3.0f) / 2.0f);
    }
    /* the rows of step k with batch 2B are those of steps 2k and 2k+1 with batch B */
    float big[4 * B];
    ck_assert_int_eq(mf_table_train_batch(t, 9, 3, 2 * B, 0.0f, 1.0f, big), MF_OK);
    ck_assert_int_eq(mf_table_train_batch(t, 9, 6, B, 0.0f, 1.0f, a), MF_OK);
    ck_assert_int_eq(mf_table_train_batch(t, 9, 7, B, 0.0f, 1.0f, b), MF_OK);
    ck_assert_mem_eq(big, a, sizeof a);
    ck_assert_mem_eq(big + 2 * B, b, sizeof b);
    /* errors */
    ck_assert_int_eq(mf_table_train_batch(NULL, 9, 0, B, 0.0f, 1.0f, a), MF_EINVAL);
    ck_assert_int_eq(mf_table_train_batch(t, 9, 0, 0, 0.0f, 1.0f, a), MF_EINVAL);
    ck_assert_int_eq(mf_table_train_batch(t, 9, 0, B, 0.0f, 1.0f, NULL), MF_EINVAL);
    ck_assert_int_eq(mf_table_train_batch(t, 9, UINT64_MAX / B, B, 0.0f, 1.0f, a), MF_ERANGE);
    mf_table_free(t);
}

END_TEST

static Suite *table_suite(void)
{
    Suite *s = suite_create("table");
    TCase *tc = tcase_create("new");
    tcase_add_test(tc, test_stats);
    tcase_add_test(tc, test_new_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("norm");
    tcase_add_test(tc, test_norm);
    suite_add_tcase(s, tc);
    tc = tcase_create("batch");
    tcase_add_test(tc, test_batch);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(table_suite)
