/* SPDX-License-Identifier: MIT */
/*
 * table.c - a data set in memory (see table.h).
 *
 * Statistics take two passes in double: the means, then the squared
 * deviations from them (no catastrophic cancellation of E[x^2] - E[x]^2 for
 * data far from 0).
 */
#include "table.h"

#include <math.h>
#include <stdlib.h>

#include "rng.h"

/* Stream tags of the batches (part of the definition of a run). */
#define TAG_DATA UINT64_C(0x64617461) /* "data", as mf_dataset_train_batch */
#define TAG_ROWS UINT64_C(0x726f7773) /* "rows" */

/* Fills mean and std (D each) and counts the labels; false when a value is bad. */
static bool compute_stats(mf_table *t)
{
    size_t n = t->n_rows, d = t->n_dims;
    for (size_t j = 0; j < d; j++) {
        t->mean[j] = 0.0;
        t->std[j] = 0.0;
    }
    for (size_t i = 0; i < n; i++) {
        const float *row = t->x + i * d;
        for (size_t j = 0; j < d; j++) {
            if (!isfinite(row[j])) {
                return false;
            }
            t->mean[j] += (double) row[j];
        }
    }
    for (size_t j = 0; j < d; j++) {
        t->mean[j] /= (double) n;
    }
    for (size_t i = 0; i < n; i++) {
        const float *row = t->x + i * d;
        for (size_t j = 0; j < d; j++) {
            double e = (double) row[j] - t->mean[j];
            t->std[j] += e * e;
        }
    }
    for (size_t j = 0; j < d; j++) {
        t->std[j] = sqrt(t->std[j] / (double) n);
    }
    t->n_labelled = 0;
    for (size_t i = 0; t->y != NULL && i < n; i++) {
        if (isinf(t->y[i])) {
            return false;
        }
        t->n_labelled += !isnan(t->y[i]);
    }
    return true;
}

mf_err mf_table_new_take(size_t n_rows, size_t n_dims, float *x, float *y, mf_table **ret)
{
    size_t nd;
    mf_err err = MF_OK;
    mf_table *t = NULL;
    if (n_rows == 0 || n_dims == 0 || x == NULL) {
        err = MF_EINVAL;
    } else if (n_rows > MF_TABLE_MAX_ROWS || mf_size_mul(n_rows, n_dims, &nd) != MF_OK) {
        err = MF_ERANGE;
    } else if ((t = calloc(1, sizeof *t)) == NULL) {
        err = MF_ENOMEM;
    }
    if (err != MF_OK) {
        free(x);
        free(y);
        return err;
    }
    *t = (mf_table){.n_rows = n_rows, .n_dims = n_dims, .x = x, .y = y};
    t->mean = malloc(n_dims * sizeof *t->mean);
    t->std = malloc(n_dims * sizeof *t->std);
    if (t->mean == NULL || t->std == NULL) {
        mf_table_free(t);
        return MF_ENOMEM;
    }
    if (!compute_stats(t)) {
        mf_table_free(t);
        return MF_EINVAL;
    }
    if (t->n_labelled == 0) {
        free(t->y);
        t->y = NULL;
    }
    *ret = t;
    return MF_OK;
}

void mf_table_free(mf_table *t)
{
    if (t != NULL) {
        free(t->x);
        free(t->y);
        free(t->mean);
        free(t->std);
        free(t);
    }
}

void mf_table_norm(const mf_table *t, float *ret_offset, float *ret_scale)
{
    double offset = 0.0;
    for (size_t j = 0; j < t->n_dims; j++) {
        offset += t->mean[j];
    }
    offset /= (double) t->n_dims;
    double scale = 0.0;
    for (size_t j = 0; j < t->n_dims; j++) {
        double shift = t->mean[j] - offset;
        double rms = sqrt(t->std[j] * t->std[j] + shift * shift);
        scale = rms > scale ? rms : scale;
    }
    float fs = (float) scale;
    *ret_offset = (float) offset;
    *ret_scale = isfinite(fs) && fs > 0.0f ? fs : 1.0f;
}

mf_err mf_table_train_batch(const mf_table *t, uint64_t seed, uint64_t step, size_t batch,
                            float offset, float scale, float *out)
{
    if (t == NULL || out == NULL || batch == 0) {
        return MF_EINVAL;
    }
    size_t d = t->n_dims, bd;
    if (step > UINT64_MAX / batch - 1 || mf_size_mul(batch, d, &bd) != MF_OK) {
        return MF_ERANGE;
    }
    mf_rng rows = mf_rng_derive(mf_rng_derive(mf_rng_make(seed), TAG_DATA), TAG_ROWS);
    uint64_t first = step * (uint64_t) batch;
    for (size_t i = 0; i < batch; i++) {
        uint32_t r = mf_rng_below(rows, first + i, (uint32_t) t->n_rows);
        const float *src = t->x + (size_t) r * d;
        for (size_t j = 0; j < d; j++) {
            out[i * d + j] = (src[j] - offset) / scale;
        }
    }
    return MF_OK;
}
