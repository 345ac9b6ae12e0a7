/* SPDX-License-Identifier: MIT */
/* rcgd_rows.c - the rows of a reward-directed conditional diffusion run (rcgd_rows.h). */
#include "rcgd_rows.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

/* Stream tags under the seed. */
enum {
    TAG_UNLABELLED = 0x756e6c62, /* "unlb" */
    TAG_LABELLED = 0x6c61626c,   /* "labl" */
    TAG_NOISE = 0x6e6f6973,      /* "nois" */
    TAG_SPLIT = 0x73706c74,      /* "splt" */
};

/* n x D floats, or NULL (also when the size overflows). */
static float *alloc_rows(size_t n, size_t D)
{
    if (n == 0 || D == 0 || n > SIZE_MAX / sizeof(float) / D) {
        return NULL;
    }
    return malloc(n * D * sizeof(float));
}

void mf_rcgd_rows_free(mf_rcgd_rows *rows)
{
    if (rows != NULL) {
        free(rows->x_unl);
        free(rows->x_lab);
        free(rows->y_lab);
        free(rows->x_held);
        memset(rows, 0, sizeof *rows);
    }
}

mf_rcgd_data mf_rcgd_rows_data(const mf_rcgd_rows *rows)
{
    return (mf_rcgd_data){.D = rows->D,
                          .x_unl = rows->x_unl,
                          .n_unl = rows->n_unl,
                          .x_lab = rows->x_lab,
                          .y_lab = rows->y_lab,
                          .n_lab = rows->n_lab,
                          .x_heldout = rows->x_held,
                          .n_heldout = rows->n_held,
                          .has_truth = rows->has_truth,
                          .truth = rows->truth};
}

/* ---- the unlabelled and held-out rows ------------------------------------------------- */

static mf_err builtin_rows(const mf_rcgd_source *s, mf_rcgd_rows *r)
{
    size_t D = mf_dataset_dim(s->id);
    if (D == 0) {
        return MF_EINVAL;
    }
    r->D = D;
    if (s->id == MF_DATASET_DIGITS) {
        r->n_unl = mf_dataset_digits_count(false);
        r->n_held = mf_dataset_digits_count(true);
        r->x_unl = alloc_rows(r->n_unl, D);
        r->x_held = alloc_rows(r->n_held, D);
        if (r->x_unl == NULL || r->x_held == NULL) {
            return MF_ENOMEM;
        }
        mf_dataset_digits_rows(false, r->x_unl, NULL);
        mf_dataset_digits_rows(true, r->x_held, NULL);
        return MF_OK;
    }
    if (s->n_unl == 0) {
        return MF_EINVAL;
    }
    r->n_unl = s->n_unl;
    r->n_held = s->n_unl < MF_RCGD_ROWS_HELDOUT ? s->n_unl : MF_RCGD_ROWS_HELDOUT;
    r->x_unl = alloc_rows(r->n_unl, D);
    r->x_held = alloc_rows(r->n_held, D);
    if (r->x_unl == NULL || r->x_held == NULL) {
        return MF_ENOMEM;
    }
    mf_rng unl = mf_rng_derive(mf_rng_make(s->seed), TAG_UNLABELLED);
    mf_err err = mf_dataset_sample(s->id, unl, 0, r->x_unl, r->n_unl);
    return err == MF_OK ? mf_dataset_heldout(s->id, r->x_held, r->n_held) : err;
}

/*
 * A table's rows: every tenth of a seeded permutation held out (a partial
 * Fisher-Yates shuffle: the first n_held slots are the held-out rows), the
 * rest unlabelled, and its own labelled rows among those when own_labels.
 */
static mf_err table_rows(const mf_rcgd_source *s, bool own_labels, mf_rcgd_rows *r)
{
    const mf_table *t = s->table;
    size_t N = t->n_rows, D = t->n_dims;
    size_t n_held = N < MF_RCGD_ROWS_MIN_SPLIT ? 0 : N / 10;
    n_held = n_held < MF_RCGD_ROWS_HELDOUT ? n_held : MF_RCGD_ROWS_HELDOUT;
    size_t *perm = malloc(N * sizeof *perm);
    if (perm == NULL) {
        return MF_ENOMEM;
    }
    for (size_t i = 0; i < N; i++) {
        perm[i] = i;
    }
    mf_rng split = mf_rng_derive(mf_rng_make(s->seed), TAG_SPLIT);
    for (size_t i = 0; i < n_held; i++) {
        size_t k = i + mf_rng_below(split, i, (uint32_t) (N - i)); /* N <= MF_TABLE_MAX_ROWS */
        size_t tmp = perm[i];
        perm[i] = perm[k];
        perm[k] = tmp;
    }
    r->D = D;
    r->n_held = n_held;
    r->n_unl = N - n_held;
    size_t n_lab = 0;
    for (size_t i = n_held; own_labels && t->y != NULL && i < N; i++) {
        n_lab += !isnan(t->y[perm[i]]);
    }
    r->x_unl = alloc_rows(r->n_unl, D);
    r->x_held = n_held > 0 ? alloc_rows(n_held, D) : NULL;
    r->x_lab = n_lab > 0 ? alloc_rows(n_lab, D) : NULL;
    r->y_lab = n_lab > 0 ? malloc(n_lab * sizeof(float)) : NULL;
    if (r->x_unl == NULL || (n_held > 0 && r->x_held == NULL) ||
        (n_lab > 0 && (r->x_lab == NULL || r->y_lab == NULL))) {
        free(perm);
        return MF_ENOMEM;
    }
    /* held-out rows in the permutation's order, the others in the table's */
    for (size_t i = 0; i < n_held; i++) {
        memcpy(r->x_held + i * D, t->x + perm[i] * D, D * sizeof(float));
    }
    bool *held = calloc(N, sizeof *held);
    if (held == NULL) {
        free(perm);
        return MF_ENOMEM;
    }
    for (size_t i = 0; i < n_held; i++) {
        held[perm[i]] = true;
    }
    free(perm);
    size_t u = 0;
    for (size_t i = 0; i < N; i++) {
        if (held[i]) {
            continue;
        }
        memcpy(r->x_unl + u * D, t->x + i * D, D * sizeof(float));
        u++;
        if (n_lab > 0 && !isnan(t->y[i])) {
            memcpy(r->x_lab + r->n_lab * D, t->x + i * D, D * sizeof(float));
            r->y_lab[r->n_lab++] = t->y[i];
        }
    }
    free(held);
    return MF_OK;
}

/* ---- the labelled rows ---------------------------------------------------------------- */

/* A labels table's labelled rows. */
static mf_err table_labels(const mf_table *t, mf_rcgd_rows *r, mf_diag *diag)
{
    if (t->n_dims != r->D) {
        return mf_diag_set(diag, MF_EINVAL, "labels",
                           "the labels have %zu columns but the data %zu", t->n_dims, r->D);
    }
    if (t->n_labelled < 2 || t->y == NULL) {
        return mf_diag_set(diag, MF_EINVAL, "labels",
                           "the labels need at least 2 labelled rows (a y column); they have %zu",
                           t->n_labelled);
    }
    r->x_lab = alloc_rows(t->n_labelled, r->D);
    r->y_lab = malloc(t->n_labelled * sizeof(float));
    if (r->x_lab == NULL || r->y_lab == NULL) {
        return MF_ENOMEM;
    }
    for (size_t i = 0; i < t->n_rows; i++) {
        if (!isnan(t->y[i])) {
            memcpy(r->x_lab + r->n_lab * r->D, t->x + i * r->D, r->D * sizeof(float));
            r->y_lab[r->n_lab++] = t->y[i];
        }
    }
    return MF_OK;
}

/* Synthetic labels y = r(x) + noise N(0, 1) on fresh points of a set with a known reward. */
static mf_err synthetic_labels(const mf_rcgd_source *s, mf_rcgd_rows *r, mf_diag *diag)
{
    if (s->n_lab < 2 || !(s->label_noise >= 0.0) || !isfinite(s->label_noise)) {
        return mf_diag_set(diag, MF_EINVAL, "n_labelled",
                           "synthetic labels need n >= 2 and a "
                           "finite noise >= 0");
    }
    size_t n = s->n_lab;
    r->x_lab = alloc_rows(n, r->D);
    r->y_lab = malloc(n * sizeof(float));
    double *truth = malloc(n * sizeof *truth);
    float *e = malloc(n * sizeof *e);
    mf_err err = MF_ENOMEM;
    if (r->x_lab != NULL && r->y_lab != NULL && truth != NULL && e != NULL) {
        mf_rng lab = mf_rng_derive(mf_rng_make(s->seed), TAG_LABELLED);
        err = mf_dataset_sample(s->id, lab, 0, r->x_lab, n);
        if (err == MF_OK) {
            err = mf_dataset_true_reward(s->id, r->x_lab, n, truth);
        }
    }
    if (err == MF_OK) {
        mf_rng_normal(mf_rng_derive(mf_rng_make(s->seed), TAG_NOISE), 0, e, n);
        for (size_t i = 0; i < n; i++) {
            r->y_lab[i] = (float) (truth[i] + s->label_noise * (double) e[i]);
        }
        r->n_lab = n;
    }
    free(truth);
    free(e);
    return err;
}

mf_err mf_rcgd_rows_gather(const mf_rcgd_source *src, mf_rcgd_rows *ret, mf_diag *diag)
{
    if (src == NULL || ret == NULL || (!src->builtin && src->table == NULL)) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "no data");
    }
    mf_rcgd_rows r = {0};
    /* a table's own labels, when no labels table is given */
    bool own = !src->no_labels && !src->builtin && src->labels == NULL && src->table->n_labelled > 0;
    mf_err err = src->builtin ? builtin_rows(src, &r) : table_rows(src, own, &r);
    double probe;
    bool known = src->builtin && mf_dataset_true_reward(src->id, NULL, 0, &probe) == MF_OK;
    if (err == MF_OK && r.n_unl == 0) {
        err = mf_diag_set(diag, MF_EINVAL, "dataset", "no rows to train on");
    } else if (src->no_labels) {
        /* the data alone */
    } else if (err == MF_OK && src->labels != NULL) {
        err = table_labels(src->labels, &r, diag);
    } else if (err == MF_OK && own && r.n_lab < 2) {
        err = mf_diag_set(diag, MF_EINVAL, "labels",
                          "the data set has %zu labelled rows outside the held-out tenth; a "
                          "reward model needs at least 2",
                          r.n_lab);
    } else if (err == MF_OK && !own && !known) {
        err = mf_diag_set(diag, MF_ENOTFOUND, "labels",
                          "the data set has no labelled rows and no known reward: give labels "
                          "(an uploaded data set with a y column)");
    } else if (err == MF_OK && !own) {
        err = synthetic_labels(src, &r, diag);
    }
    if (err == MF_OK && known) {
        r.has_truth = true;
        r.truth = src->id;
    }
    if (err != MF_OK) {
        if (diag != NULL && diag->msg[0] == '\0') {
            (void) mf_diag_set(diag, err, NULL, "cannot gather the rows: %s", mf_strerror(err));
        }
        mf_rcgd_rows_free(&r);
        return err;
    }
    *ret = r;
    return MF_OK;
}
