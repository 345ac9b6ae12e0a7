/* SPDX-License-Identifier: MIT */
/*
 * table.h - a data set held in memory: N rows of D floats in data space, an
 * optional label per row, and the statistics of the columns.
 *
 * A table is what an uploaded data set is once parsed (data_file.h): the
 * daemon keeps it, lists its statistics, and a train job draws its batches
 * from it (train_params.h) as it draws them from a built-in set (dataset.h).
 * Tables are immutable once made; every field is plain data.
 *
 * Normalisation.  A model keeps one scalar offset and one scalar scale
 * (x_model = (x - offset) / scale, DESIGN.md), so a table's is chosen so that
 * every column lands within unit RMS of 0: offset = the grand mean (the mean
 * of the column means), scale = the largest column RMS about that offset,
 * sqrt(std_j^2 + (mean_j - offset)^2), which is the largest column std when
 * the column means agree and also covers columns that sit apart.  A scale
 * that is 0 or not a positive float (every value equal) is 1.
 *
 * Batches.  Row i of the batch of optimiser step k is table row
 * mf_rng_below(derive(derive(mf_rng_make(seed), "data"), "rows"),
 * k * batch + i, N): drawn uniformly with replacement, by counter, so a run
 * is a pure function of (table, seed) whatever the split of the steps or the
 * threads (as mf_dataset_train_batch's built-in sets are).
 *
 * Thread-safety: every function is reentrant and touches only its
 * arguments; a table may be read by many threads at once.
 */
#ifndef MF_TABLE_H
#define MF_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Rows a table may have: row draws are 32-bit (mf_rng_below). */
#define MF_TABLE_MAX_ROWS UINT32_MAX

typedef struct mf_table {
    size_t n_rows;     /* N, 1..MF_TABLE_MAX_ROWS */
    size_t n_dims;     /* D >= 1 */
    float *x;          /* (N, D) row-major, data space; every value finite */
    float *y;          /* (N) labels, NAN for an unlabelled row; NULL when no row has one */
    size_t n_labelled; /* rows with a label */
    double *mean;      /* (D) column means */
    double *std;       /* (D) column standard deviations, population form (divided by N) */
} mf_table;

/**
 * A table of x (N x D floats) and y (N labels, NAN = unlabelled, or NULL),
 * both malloc'd and taken whatever the outcome (freed on failure); computes
 * the statistics (a y without a label is freed and left NULL).
 * Errors: MF_EINVAL (N or D is 0, x NULL, a value of x not finite, a label
 * infinite), MF_ERANGE (N over MF_TABLE_MAX_ROWS, N x D overflows),
 * MF_ENOMEM.  *ret is written only on success.
 */
MF_MUST_CHECK mf_err mf_table_new_take(size_t n_rows, size_t n_dims, float *x, float *y,
                                       mf_table **ret);

/** Frees a table; accepts NULL. */
void mf_table_free(mf_table *t);

/** The model normalisation of the table (see the top of this file), as floats. */
void mf_table_norm(const mf_table *t, float *ret_offset, float *ret_scale);

/**
 * The training batch of optimiser step `step` (rows drawn as the top of this
 * file says), normalised x_model = (x - offset) / scale in float.
 * out: (batch, D).  Errors: MF_EINVAL (t or out NULL, batch 0), MF_ERANGE
 * ((step + 1) x batch overflows 64 bits, batch x D overflows).
 */
MF_MUST_CHECK mf_err mf_table_train_batch(const mf_table *t, uint64_t seed, uint64_t step,
                                          size_t batch, float offset, float scale, float *out);

#endif /* MF_TABLE_H */
