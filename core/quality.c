/* SPDX-License-Identifier: MIT */
/* quality.c - mode statistics and nearest-neighbour distances (see quality.h). */
#include "quality.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "dataset.h"
#include "knn.h"
#include "mem.h"

/* eight_gaussians geometry (dataset.h): centre radius and mode standard deviation. */
#define CENTRE_RADIUS (MF_DATASET_EIGHT_RADIUS / MF_DATASET_EIGHT_DIV)
#define MODE_STD      (MF_DATASET_EIGHT_NOISE / MF_DATASET_EIGHT_DIV)

mf_err mf_modes_eight_gaussians(const float *x, size_t n, mf_mode_stats *ret)
{
    if (x == NULL || ret == NULL || n == 0) {
        return MF_EINVAL;
    }
    double cx[MF_EIGHT_MODES], cy[MF_EIGHT_MODES];
    for (size_t j = 0; j < MF_EIGHT_MODES; j++) {
        double a = (double) j * (3.14159265358979323846 / 4.0);
        cx[j] = CENTRE_RADIUS * cos(a);
        cy[j] = CENTRE_RADIUS * sin(a);
    }
    size_t count[MF_EIGHT_MODES] = {0}, hq = 0;
    const double hq_r2 = (3.0 * MODE_STD) * (3.0 * MODE_STD);
    for (size_t i = 0; i < n; i++) {
        double u = x[2 * i], v = x[2 * i + 1];
        if (!isfinite(u) || !isfinite(v)) {
            return MF_ERANGE;
        }
        size_t best = 0;
        double bd = INFINITY;
        for (size_t j = 0; j < MF_EIGHT_MODES; j++) {
            double d = (u - cx[j]) * (u - cx[j]) + (v - cy[j]) * (v - cy[j]);
            if (d < bd) {
                bd = d;
                best = j;
            }
        }
        count[best]++;
        hq += bd <= hq_r2;
    }
    mf_mode_stats s = {.n = n, .hq_frac = (double) hq / (double) n};
    double h = 0.0;
    for (size_t j = 0; j < MF_EIGHT_MODES; j++) {
        double p = (double) count[j] / (double) n;
        s.frac[j] = p;
        s.covered += p >= 0.01;
        h -= p > 0.0 ? p * log(p) : 0.0;
    }
    s.entropy_ratio = h / log((double) MF_EIGHT_MODES);
    *ret = s;
    return MF_OK;
}

mf_err mf_nn_mean_dist(const float *q, size_t nq, const float *ref, size_t nr, size_t D,
                       double *ret)
{
    if (ret == NULL) {
        return MF_EINVAL;
    }
    double *d = mf_alloc_doubles(nq > 0 ? nq : 1);
    if (d == NULL) {
        return MF_ENOMEM;
    }
    mf_err err = mf_knn_dist(q, nq, ref, nr, D, 1, false, d);
    if (err == MF_OK) {
        double s = 0.0;
        for (size_t i = 0; i < nq; i++) {
            s += d[i];
        }
        *ret = s / (double) nq;
    }
    mf_free_aligned(d);
    return err;
}

typedef struct scored {
    double v;
    int pos;
} scored;

static int cmp_scored(const void *a, const void *b)
{
    double u = ((const scored *) a)->v, w = ((const scored *) b)->v;
    return (u > w) - (u < w);
}

/*
 * With 1-based ranks of the pooled scores (a tie group at sorted positions
 * i..j-1 shares the rank (i + 1 + j)/2), the positives' rank sum R gives
 * AUC = (R - n_pos (n_pos + 1)/2) / (n_pos n_neg).  The sums are integers or
 * halves below 2^53: exact in double.
 */
mf_err mf_auc(const double *pos, size_t n_pos, const double *neg, size_t n_neg, double *ret)
{
    if (pos == NULL || neg == NULL || ret == NULL || n_pos == 0 || n_neg == 0) {
        return MF_EINVAL;
    }
    size_t n = n_pos + n_neg;
    if (n < n_pos || n > SIZE_MAX / sizeof(scored)) {
        return MF_ENOMEM;
    }
    scored *s = malloc(n * sizeof *s);
    if (s == NULL) {
        return MF_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        s[i] = i < n_pos ? (scored){pos[i], 1} : (scored){neg[i - n_pos], 0};
        if (!isfinite(s[i].v)) {
            free(s);
            return MF_EINVAL;
        }
    }
    qsort(s, n, sizeof *s, cmp_scored);
    double rank_sum = 0.0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1, k = 0;
        while (j < n && s[j].v == s[i].v) {
            j++;
        }
        for (size_t q = i; q < j; q++) {
            k += (size_t) s[q].pos;
        }
        rank_sum += (double) k * 0.5 * (double) (i + 1 + j);
        i = j;
    }
    free(s);
    double np = (double) n_pos;
    *ret = (rank_sum - np * (np + 1.0) / 2.0) / (np * (double) n_neg);
    return MF_OK;
}
