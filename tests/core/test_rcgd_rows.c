/* SPDX-License-Identifier: MIT */
/*
 * test_rcgd_rows.c - core/rcgd_rows.c: the rows of a finetune.reward run from
 * a generated built-in set (sizes, the held-out stream, synthetic labels whose
 * residual from the known reward has the requested noise), from digits (no
 * known reward: labels required), from an uploaded table (the held-out tenth,
 * its own labels, a labels table), the errors, and determinism in the seed.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rcgd_rows.h"
#include "rng.h"
#include "test_util.h"

static mf_rcgd_source builtin(mf_dataset_id id, size_t n_unl, size_t n_lab, double noise)
{
    return (mf_rcgd_source){.builtin = true,
                            .id = id,
                            .n_unl = n_unl,
                            .n_lab = n_lab,
                            .label_noise = noise,
                            .seed = 42};
}

/* linear_subspace: the sizes, the held-out stream, labels theta^T x + 0.1 N(0, 1). */
START_TEST(test_linear_subspace)
{
    enum {
        N_UNL = 3000,
        N_LAB = 2000
    };

    mf_rcgd_source s = builtin(MF_DATASET_LINEAR_SUBSPACE, N_UNL, N_LAB, 0.1);
    mf_rcgd_rows r;
    mf_diag d = {0};
    ck_assert_int_eq(mf_rcgd_rows_gather(&s, &r, &d), MF_OK);
    ck_assert_uint_eq(r.D, 64);
    ck_assert_uint_eq(r.n_unl, N_UNL);
    ck_assert_uint_eq(r.n_lab, N_LAB);
    ck_assert_uint_eq(r.n_held, MF_RCGD_ROWS_HELDOUT);
    ck_assert(r.has_truth && r.truth == MF_DATASET_LINEAR_SUBSPACE);
    /* the held-out rows are the set's held-out stream */
    float *held = malloc(MF_RCGD_ROWS_HELDOUT * 64 * sizeof(float));
    ck_assert_int_eq(mf_dataset_heldout(MF_DATASET_LINEAR_SUBSPACE, held, MF_RCGD_ROWS_HELDOUT),
                     MF_OK);
    ck_assert_mem_eq(held, r.x_held, MF_RCGD_ROWS_HELDOUT * 64 * sizeof(float));
    free(held);
    /* residual y - theta^T x: mean 0 and std 0.1 (2,000 draws: se 0.0022 and 0.0016) */
    double *th = malloc(N_LAB * sizeof *th);
    ck_assert_int_eq(mf_dataset_true_reward(MF_DATASET_LINEAR_SUBSPACE, r.x_lab, N_LAB, th), MF_OK);
    double s1 = 0, s2 = 0, v = 0;
    for (size_t i = 0; i < N_LAB; i++) {
        double e = (double) r.y_lab[i] - th[i];
        s1 += e;
        s2 += e * e;
        v += th[i] * th[i];
    }
    double mean = s1 / N_LAB, sd = sqrt(s2 / N_LAB - mean * mean);
    ck_assert_msg(fabs(mean) < 0.01 && fabs(sd - 0.1) < 0.008, "residual %g +- %g", mean, sd);
    /* theta^T x ~ N(0, 1) on the data */
    ck_assert_double_eq_tol(v / N_LAB, 1.0, 0.1);
    /* labelled and unlabelled rows are different draws */
    ck_assert(memcmp(r.x_lab, r.x_unl, 64 * sizeof(float)) != 0);
    mf_rcgd_data data = mf_rcgd_rows_data(&r);
    ck_assert_ptr_eq(data.x_unl, r.x_unl);
    ck_assert_uint_eq(data.n_heldout, MF_RCGD_ROWS_HELDOUT);
    ck_assert(data.has_truth);
    free(th);

    /* a pure function of the source: the same rows again, other rows under another seed */
    mf_rcgd_rows r2, r3;
    ck_assert_int_eq(mf_rcgd_rows_gather(&s, &r2, &d), MF_OK);
    ck_assert_mem_eq(r.x_unl, r2.x_unl, N_UNL * 64 * sizeof(float));
    ck_assert_mem_eq(r.y_lab, r2.y_lab, N_LAB * sizeof(float));
    s.seed = 43;
    ck_assert_int_eq(mf_rcgd_rows_gather(&s, &r3, &d), MF_OK);
    ck_assert(memcmp(r.x_unl, r3.x_unl, 64 * sizeof(float)) != 0);
    mf_rcgd_rows_free(&r);
    mf_rcgd_rows_free(&r2);
    mf_rcgd_rows_free(&r3);
    mf_rcgd_rows_free(&r3); /* zeroed: nothing to do */
    mf_rcgd_rows_free(NULL);
}

END_TEST

/* Fewer unlabelled points than MF_RCGD_ROWS_HELDOUT hold out as many. */
START_TEST(test_small_builtin)
{
    mf_rcgd_source s = builtin(MF_DATASET_RING, 100, 10, 0.0);
    mf_rcgd_rows r;
    ck_assert_int_eq(mf_rcgd_rows_gather(&s, &r, NULL), MF_OK);
    ck_assert_uint_eq(r.D, 2);
    ck_assert_uint_eq(r.n_held, 100);
    /* noise 0: the labels are the ring's reward x_1 exactly */
    for (size_t i = 0; i < 10; i++) {
        ck_assert(r.y_lab[i] == r.x_lab[2 * i]);
    }
    mf_rcgd_rows_free(&r);
}

END_TEST

/* Sets without a known reward need labels. */
START_TEST(test_no_reward)
{
    mf_rcgd_rows r;
    mf_diag d = {0};
    mf_rcgd_source s = builtin(MF_DATASET_DIGITS, 0, 100, 0.1);
    ck_assert_int_eq(mf_rcgd_rows_gather(&s, &r, &d), MF_ENOTFOUND);
    ck_assert_str_eq(d.field, "labels");
    ck_assert_ptr_nonnull(strstr(d.msg, "no known reward"));
    memset(&d, 0, sizeof d);
    s = builtin(MF_DATASET_TWO_MOONS, 500, 100, 0.1);
    ck_assert_int_eq(mf_rcgd_rows_gather(&s, &r, &d), MF_ENOTFOUND);
    ck_assert_str_eq(d.field, "labels");
    ck_assert_int_eq(mf_rcgd_rows_gather(NULL, &r, &d), MF_EINVAL);
}

END_TEST

/* A table of n rows in D = 3 whose row i is (i, 2i, 3i), labelled (y = i) where i % every == 0. */
static mf_table *make_table(size_t n, size_t every)
{
    float *x = malloc(n * 3 * sizeof(float)), *y = every > 0 ? malloc(n * sizeof(float)) : NULL;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < 3; k++) {
            x[3 * i + k] = (float) (i * (k + 1));
        }
        if (y != NULL) {
            y[i] = i % every == 0 ? (float) i : NAN;
        }
    }
    mf_table *t = NULL;
    ck_assert_int_eq(mf_table_new_take(n, 3, x, y, &t), MF_OK);
    return t;
}

/* The row index of a table row (its first value). */
static size_t row_id(const float *row)
{
    return (size_t) row[0];
}

/* An upload: the held-out tenth, the rest unlabelled, its own labelled rows among those. */
START_TEST(test_table_own_labels)
{
    enum {
        N = 500
    };

    mf_table *t = make_table(N, 4);
    mf_rcgd_source s = {.table = t, .seed = 7};
    mf_rcgd_rows r;
    mf_diag d = {0};
    ck_assert_int_eq(mf_rcgd_rows_gather(&s, &r, &d), MF_OK);
    ck_assert_uint_eq(r.D, 3);
    ck_assert_uint_eq(r.n_held, N / 10);
    ck_assert_uint_eq(r.n_unl, N - N / 10);
    ck_assert(!r.has_truth);
    /* every row exactly once, held out or unlabelled, rows intact */
    unsigned char seen[N] = {0};
    for (size_t i = 0; i < r.n_held; i++) {
        seen[row_id(r.x_held + 3 * i)]++;
    }
    for (size_t i = 0; i < r.n_unl; i++) {
        const float *x = r.x_unl + 3 * i;
        ck_assert(x[1] == 2 * x[0] && x[2] == 3 * x[0]);
        seen[row_id(x)]++;
    }
    for (size_t i = 0; i < N; i++) {
        ck_assert_uint_eq(seen[i], 1);
    }
    /* the labelled rows: those of every fourth row that are not held out, with their y */
    size_t want = 0;
    for (size_t i = 0; i < r.n_unl; i++) {
        want += row_id(r.x_unl + 3 * i) % 4 == 0;
    }
    ck_assert_uint_eq(r.n_lab, want);
    ck_assert_uint_gt(r.n_lab, 100);
    for (size_t i = 0; i < r.n_lab; i++) {
        ck_assert(r.y_lab[i] == r.x_lab[3 * i]);
    }
    /* another seed holds out other rows */
    mf_rcgd_rows r2;
    s.seed = 8;
    ck_assert_int_eq(mf_rcgd_rows_gather(&s, &r2, &d), MF_OK);
    ck_assert(memcmp(r.x_held, r2.x_held, r.n_held * 3 * sizeof(float)) != 0);
    mf_rcgd_rows_free(&r);
    mf_rcgd_rows_free(&r2);
    mf_table_free(t);
}

END_TEST

/* A labels table; its dimension must match; a table without labels needs one. */
START_TEST(test_table_labels)
{
    mf_table *data = make_table(15, 0); /* below MF_RCGD_ROWS_MIN_SPLIT: nothing held out */
    mf_table *labels = make_table(40, 5);
    mf_rcgd_source s = {.table = data, .seed = 1};
    mf_rcgd_rows r;
    mf_diag d = {0};
    ck_assert_int_eq(mf_rcgd_rows_gather(&s, &r, &d), MF_ENOTFOUND);
    ck_assert_str_eq(d.field, "labels");
    s.labels = labels;
    ck_assert_int_eq(mf_rcgd_rows_gather(&s, &r, &d), MF_OK);
    ck_assert_uint_eq(r.n_held, 0);
    ck_assert_ptr_null(r.x_held);
    ck_assert_uint_eq(r.n_unl, 15);
    ck_assert_uint_eq(r.n_lab, 8); /* rows 0, 5, ..., 35 of the labels */
    ck_assert(r.y_lab[7] == 35.0f && r.x_lab[3 * 7 + 2] == 105.0f);
    mf_rcgd_rows_free(&r);
    /* a labels table without labels, or of another width */
    mf_table *unlabelled = make_table(30, 0);
    s.labels = unlabelled;
    memset(&d, 0, sizeof d);
    ck_assert_int_eq(mf_rcgd_rows_gather(&s, &r, &d), MF_EINVAL);
    ck_assert_str_eq(d.field, "labels");
    float *x2 = calloc(20, sizeof(float)), *y2 = malloc(10 * sizeof(float));
    for (size_t i = 0; i < 10; i++) {
        y2[i] = (float) i;
    }
    mf_table *narrow = NULL;
    ck_assert_int_eq(mf_table_new_take(10, 2, x2, y2, &narrow), MF_OK);
    s.labels = narrow;
    memset(&d, 0, sizeof d);
    ck_assert_int_eq(mf_rcgd_rows_gather(&s, &r, &d), MF_EINVAL);
    ck_assert_ptr_nonnull(strstr(d.msg, "columns"));
    /* a built-in set with a labels table keeps its truth */
    mf_rcgd_source b = builtin(MF_DATASET_RING, 200, 0, 0.0);
    mf_table *ring_labels = NULL;
    float *x3 = malloc(20 * sizeof(float)), *y3 = malloc(10 * sizeof(float));
    for (size_t i = 0; i < 10; i++) {
        x3[2 * i] = (float) i;
        x3[2 * i + 1] = 0.0f;
        y3[i] = (float) i;
    }
    ck_assert_int_eq(mf_table_new_take(10, 2, x3, y3, &ring_labels), MF_OK);
    b.labels = ring_labels;
    ck_assert_int_eq(mf_rcgd_rows_gather(&b, &r, &d), MF_OK);
    ck_assert(r.has_truth && r.truth == MF_DATASET_RING && r.n_lab == 10);
    mf_rcgd_rows_free(&r);
    mf_table_free(ring_labels);
    mf_table_free(narrow);
    mf_table_free(unlabelled);
    mf_table_free(labels);
    mf_table_free(data);
}

END_TEST

/* An upload with a single labelled row cannot fit a reward model. */
START_TEST(test_table_too_few_labels)
{
    float *x = malloc(30 * sizeof(float)), *y = malloc(10 * sizeof(float));
    for (size_t i = 0; i < 10; i++) {
        x[3 * i] = x[3 * i + 1] = x[3 * i + 2] = (float) i;
        y[i] = i == 3 ? 1.0f : NAN;
    }
    mf_table *t = NULL;
    ck_assert_int_eq(mf_table_new_take(10, 3, x, y, &t), MF_OK);
    mf_rcgd_source s = {.table = t, .seed = 1};
    mf_rcgd_rows r;
    mf_diag d = {0};
    ck_assert_int_eq(mf_rcgd_rows_gather(&s, &r, &d), MF_EINVAL);
    ck_assert_str_eq(d.field, "labels");
    ck_assert_ptr_nonnull(strstr(d.msg, "at least 2"));
    mf_table_free(t);
}

END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("rcgd_rows");
    TCase *tc = tcase_create("rcgd_rows");
    tcase_add_test(tc, test_linear_subspace);
    tcase_add_test(tc, test_small_builtin);
    tcase_add_test(tc, test_no_reward);
    tcase_add_test(tc, test_table_own_labels);
    tcase_add_test(tc, test_table_labels);
    tcase_add_test(tc, test_table_too_few_labels);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(suite)
