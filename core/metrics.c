/* SPDX-License-Identifier: MIT */
/* metrics.c - the sample-quality report (see metrics.h). */
#include "metrics.h"

#include <math.h>
#include <stdlib.h>

#include "mem.h"
#include "sw.h"

void mf_metrics_opts_default(mf_metrics_opts *o, size_t D)
{
    *o = (mf_metrics_opts){
        .knn_k = 5,
        .hist_bins = 32,
        .hist_lo = -4.0,
        .hist_hi = 4.0,
        .vendi_kernel = D <= 8 ? MF_VENDI_RBF : MF_VENDI_COSINE,
        .vendi_length_scale = 1.0,
        .vendi_max_n = 2000,
        .vendi_q1 = false,
        .sw_dirs = MF_SW_DEFAULT_DIRS,
        .sw_seed = MF_SW_DEFAULT_SEED,
        .support_margin = 0.1,
    };
}

/*
 * Vendi of x (n, D).  The cosine kernel compares directions, so it sees the
 * points minus centre (NULL: as they are): on raw images, whose pixels are
 * all >= 0, every pair points the same way and the score stays near 1
 * whatever the spread (UCI digits: 1.8 raw, 20 centred).
 */
static mf_err vendi_of(const mf_metrics_opts *o, const float *x, size_t n, size_t D,
                       const double *centre, double *q2, double *q1)
{
    float *xc = NULL;
    if (centre != NULL) {
        xc = mf_alloc_floats(n * D);
        if (xc == NULL) {
            return MF_ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
            for (size_t d = 0; d < D; d++) {
                xc[i * D + d] = (float) ((double) x[i * D + d] - centre[d]);
            }
        }
        x = xc;
    }
    mf_err err = mf_vendi(x, n, D, o->vendi_kernel, o->vendi_length_scale, 2, q2);
    *q1 = (double) NAN;
    if (err == MF_OK && o->vendi_q1) {
        err = mf_vendi(x, n, D, o->vendi_kernel, o->vendi_length_scale, 1, q1);
    }
    mf_free_aligned(xc);
    return err;
}

/* The mean of the first n rows of x (n, D) into c (D). */
static void row_mean(const float *x, size_t n, size_t D, double *c)
{
    for (size_t d = 0; d < D; d++) {
        c[d] = 0.0;
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t d = 0; d < D; d++) {
            c[d] += (double) x[i * D + d];
        }
    }
    for (size_t d = 0; d < D; d++) {
        c[d] /= (double) n;
    }
}

static mf_err digits_nn(const float *x, size_t n, const float *ref, size_t n_ref, mf_metrics *m)
{
    size_t n_tr = mf_dataset_digits_count(false);
    float *tr = mf_alloc_floats(n_tr * MF_DATASET_DIGITS_D);
    if (tr == NULL) {
        return MF_ENOMEM;
    }
    mf_dataset_digits_rows(false, tr, NULL);
    mf_err err = mf_nn_mean_dist(x, n, tr, n_tr, MF_DATASET_DIGITS_D, &m->nn_train);
    m->nn_train_ref = (double) NAN;
    if (err == MF_OK && ref != NULL) {
        err = mf_nn_mean_dist(ref, n_ref, tr, n_tr, MF_DATASET_DIGITS_D, &m->nn_train_ref);
    }
    m->has_nn = err == MF_OK;
    mf_free_aligned(tr);
    return err;
}

mf_err mf_metrics_compute(const mf_metrics_opts *o, mf_dataset_id id, const float *x, size_t n,
                          size_t D, const float *ref, size_t n_ref, mf_metrics *ret)
{
    if (o == NULL || x == NULL || ret == NULL || D == 0 || n <= o->knn_k || o->vendi_max_n < 2 ||
        (ref != NULL && n_ref <= o->knn_k) ||
        ((int) id < MF_DATASET_COUNT && mf_dataset_dim(id) != D) || (int) id > MF_DATASET_COUNT ||
        !(o->support_margin >= 0.0)) {
        return MF_EINVAL;
    }
    mf_metrics m = {.n = n, .dim = D, .has_ref = ref != NULL};
    m.n_ref = ref == NULL ? 0 : (n_ref < n ? n_ref : n); /* twins at the samples' size */
    /* With a reference, both entropies come with the KL from shared neighbour searches. */
    mf_err err = ref != NULL ? mf_knn_entropies_kl(x, n, ref, m.n_ref, D, o->knn_k, &m.knn,
                                                   &m.knn_ref, &m.kl)
                             : mf_entropy_knn(x, n, D, o->knn_k, &m.knn);
    size_t nv = n < o->vendi_max_n ? n : o->vendi_max_n;
    m.vendi = (mf_vendi_stats){.kernel = o->vendi_kernel,
                               .length_scale = o->vendi_length_scale,
                               .n = nv,
                               .ref_q2 = (double) NAN,
                               .ref_q1 = (double) NAN,
                               .centred = o->vendi_kernel == MF_VENDI_COSINE};
    /* the cosine kernel's centre: the reference's mean (the same for both sets), else the samples' */
    double *centre = NULL;
    if (err == MF_OK && m.vendi.centred) {
        centre = malloc(D * sizeof *centre);
        if (centre == NULL) {
            err = MF_ENOMEM;
        } else if (ref != NULL) {
            row_mean(ref, m.n_ref, D, centre);
        } else {
            row_mean(x, n, D, centre);
        }
    }
    if (err == MF_OK) {
        err = vendi_of(o, x, nv, D, centre, &m.vendi.q2, &m.vendi.q1);
    }
    if (err == MF_OK && ref != NULL) {
        m.sw_dirs = o->sw_dirs;
        m.sw_seed = o->sw_seed;
        err = mf_sw2(x, n, ref, m.n_ref, D, o->sw_dirs, o->sw_seed, &m.sw2);
        if (err == MF_OK) {
            size_t nrv = m.n_ref < nv ? m.n_ref : nv;
            err = vendi_of(o, ref, nrv, D, centre, &m.vendi.ref_q2, &m.vendi.ref_q1);
        }
    }
    if (err == MF_OK && D == 2) {
        err = mf_entropy_hist2d(x, n, o->hist_lo, o->hist_hi, o->hist_bins, &m.hist);
        if (err == MF_OK && ref != NULL) {
            err =
                mf_entropy_hist2d(ref, m.n_ref, o->hist_lo, o->hist_hi, o->hist_bins, &m.hist_ref);
        }
        m.has_hist = err == MF_OK;
    }
    if (err == MF_OK && (int) id < MF_DATASET_COUNT) {
        size_t c0, c1;
        if (mf_dataset_count_in_support(id, x, n, 0.0, &c0) == MF_OK &&
            mf_dataset_count_in_support(id, x, n, o->support_margin, &c1) == MF_OK) {
            m.has_support = true;
            m.inside = (double) c0 / (double) n;
            m.inside_margin = (double) c1 / (double) n;
            m.margin = o->support_margin;
        }
        if (id == MF_DATASET_EIGHT_GAUSSIANS) {
            err = mf_modes_eight_gaussians(x, n, &m.modes);
            m.has_modes = err == MF_OK;
        } else if (id == MF_DATASET_DIGITS) {
            err = digits_nn(x, n, ref, m.n_ref, &m);
        }
    }
    free(centre);
    if (err == MF_OK) {
        *ret = m;
    }
    return err;
}
