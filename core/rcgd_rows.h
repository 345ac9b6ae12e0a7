/* SPDX-License-Identifier: MIT */
/*
 * rcgd_rows.h - the rows of a reward-directed conditional diffusion run
 * (rcgd.h) gathered from where a user's data live: a built-in set, an
 * uploaded table (table.h), and the labels beside them.
 *
 *   unlabelled  a generated built-in set: n_unl points of its training stream
 *               under the run's seed; digits: its training split; a table:
 *               its rows less the held-out ones;
 *   held-out    a generated set: the first min(n_unl, MF_RCGD_ROWS_HELDOUT)
 *               points of its held-out stream (dataset.h); digits: its
 *               held-out split; a table: every tenth row of a seeded
 *               permutation (at most MF_RCGD_ROWS_HELDOUT, none below
 *               MF_RCGD_ROWS_MIN_SPLIT rows).  They never train anything:
 *               the reference of the kNN distance (rcgd.h);
 *   labelled    a labels table: its labelled rows; none given and the data a
 *               table: the table's own labelled rows that are not held out;
 *               else synthetic, for a set with a known reward
 *               (mf_dataset_true_reward): n_lab points of another stream,
 *               y = r(x) + label_noise * N(0, 1) (reference/other-seeds.md
 *               §1.5: linear_subspace's theta^T x plus noise).
 *
 * A built-in set with a known reward is the run's truth (rcgd.h: the true
 * reward and the manifold distance of the samples), whatever its labels.
 * Streams: derive(mf_rng_make(seed), tag) with the tags of rcgd_rows.c, so
 * the rows are a pure function of the arguments.
 */
#ifndef MF_RCGD_ROWS_H
#define MF_RCGD_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "err.h"
#include "rcgd.h"
#include "table.h"

#define MF_RCGD_ROWS_HELDOUT   1000 /* held-out rows at most */
#define MF_RCGD_ROWS_MIN_SPLIT 20   /* a table of fewer rows keeps them all for training */

typedef struct mf_rcgd_rows {
    size_t D;
    float *x_unl, *x_lab, *y_lab, *x_held; /* malloc'd, data space */
    size_t n_unl, n_lab, n_held;
    bool has_truth;
    mf_dataset_id truth;
} mf_rcgd_rows;

/* Where the rows come from: exactly one of builtin / table names the data. */
typedef struct mf_rcgd_source {
    bool builtin;
    mf_dataset_id id;       /* builtin */
    const mf_table *table;  /* !builtin */
    size_t n_unl;           /* generated built-in sets: points drawn (>= 1) */
    const mf_table *labels; /* a labels table (its labelled rows), or NULL */
    size_t n_lab;           /* synthetic labels: how many (>= 2) */
    double label_noise;     /* synthetic labels: noise std (>= 0, finite) */
    uint64_t seed;
    bool no_labels; /* the data rows only (unlabelled and held-out): labels are not needed */
} mf_rcgd_source;

/**
 * Gathers the rows.  diag->field names the culprit: "labels" (a labels table of another
 * dimension or without labelled rows; no labels at all: no labels table, no labelled row
 * in the data and no known reward), "dataset" (no row left to train on).  Errors:
 * MF_EINVAL (those; bad arguments), MF_ENOTFOUND (no labels at all), MF_ERANGE (sizes
 * overflow), MF_ENOMEM.  *ret only on success; free it with mf_rcgd_rows_free.
 */
MF_MUST_CHECK mf_err mf_rcgd_rows_gather(const mf_rcgd_source *src, mf_rcgd_rows *ret,
                                         mf_diag *diag);

/** The rows as the pipeline's input (borrowed from rows). */
mf_rcgd_data mf_rcgd_rows_data(const mf_rcgd_rows *rows);

/** Frees the rows (not rows itself); accepts NULL and zeroed rows. */
void mf_rcgd_rows_free(mf_rcgd_rows *rows);

#endif /* MF_RCGD_ROWS_H */
