/* SPDX-License-Identifier: MIT */
/* dxmi_eval.c - measuring a DxMI run (see dxmi_eval.h). */
#include "dxmi_eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "entropy.h"
#include "mem.h"
#include "rng.h"
#include "sw.h"

#define BOX_2D    4.0 /* the paper's uniform box [-4, 4]^2 */
#define E_CHUNK   1024
#define TAG_UNIF  UINT64_C(0x646d2d756e6966)   /* "dm-unif" */
#define TAG_BATCH UINT64_C(0x64782d6261746368) /* "dx-batch" */

mf_dxmi_eval_opts mf_dxmi_eval_opts_default(uint64_t seed)
{
    return (mf_dxmi_eval_opts){.n = 1000, .n_seeds = 5, .n_auc = 5000, .seed = seed};
}

void mf_dxmi_data_batch(const mf_dxmi_data *data, uint64_t seed, size_t i, size_t B, float *out)
{
    size_t D = data->D;
    mf_rng r = mf_rng_derive(mf_rng_derive(mf_rng_make(seed), TAG_BATCH), i);
    for (size_t b = 0; b < B; b++) {
        size_t row = mf_rng_below(r, b, (uint32_t) data->n_train);
        const float *src = data->train + row * D;
        for (size_t c = 0; c < D; c++) {
            out[b * D + c] = (float) (((double) src[c] - data->offset) / data->scale);
        }
    }
}

mf_err mf_dxmi_energies(const mf_reward_model *e_net, const mf_dxmi_data *data, const float *x,
                        size_t n, double *e)
{
    size_t D = data->D;
    mf_reward_ws *ws = NULL;
    float *xm = mf_alloc_floats(E_CHUNK * D), *f = mf_alloc_floats(E_CHUNK);
    mf_err err = xm != NULL && f != NULL ? mf_reward_ws_new(e_net, E_CHUNK, &ws) : MF_ENOMEM;
    for (size_t r0 = 0; err == MF_OK && r0 < n; r0 += E_CHUNK) {
        size_t m = n - r0 < E_CHUNK ? n - r0 : E_CHUNK;
        for (size_t i = 0; i < m * D; i++) {
            xm[i] = (float) (((double) x[r0 * D + i] - data->offset) / data->scale);
        }
        mf_reward_predict(e_net, ws, xm, m, f);
        for (size_t i = 0; i < m; i++) {
            e[r0 + i] = f[i];
        }
    }
    mf_reward_ws_free(ws);
    mf_free_aligned(xm);
    mf_free_aligned(f);
    return err;
}

/* n uniform points (n, D) in the AUC's box into u. */
static void uniform_box(const mf_dxmi_data *data, uint64_t seed, float *u, size_t n)
{
    size_t D = data->D;
    mf_rng_uniform(mf_rng_derive(mf_rng_make(seed), TAG_UNIF), 0, u, n * D);
    for (size_t d = 0; d < D; d++) {
        double lo = -BOX_2D, hi = BOX_2D;
        if (D != 2) {
            lo = INFINITY;
            hi = -INFINITY;
            for (size_t i = 0; i < data->n_held; i++) {
                double v = data->held[i * D + d];
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
        }
        for (size_t i = 0; i < n; i++) {
            u[i * D + d] = (float) (lo + (hi - lo) * (double) u[i * D + d]);
        }
    }
}

/* The energy AUC: held-out rows against uniform points, score -E. */
static mf_err energy_auc(const mf_reward_model *e_net, const mf_dxmi_data *data, size_t n,
                         uint64_t seed, double *ret)
{
    float *u = mf_alloc_floats(n * data->D);
    double *ep = malloc(n * sizeof *ep), *en = malloc(n * sizeof *en);
    mf_err err = u != NULL && ep != NULL && en != NULL ? MF_OK : MF_ENOMEM;
    if (err == MF_OK) {
        uniform_box(data, seed, u, n);
        err = mf_dxmi_energies(e_net, data, data->held, n, ep);
    }
    if (err == MF_OK) {
        err = mf_dxmi_energies(e_net, data, u, n, en);
    }
    for (size_t i = 0; err == MF_OK && i < n; i++) {
        ep[i] = -ep[i];
        en[i] = -en[i];
    }
    if (err == MF_OK) {
        err = mf_auc(ep, n, en, n, ret);
    }
    mf_free_aligned(u);
    free(ep);
    free(en);
    return err;
}

/* n training rows starting at row r0 of the pool, cyclically, into out. */
static void train_rows(const mf_dxmi_data *data, size_t r0, size_t n, float *out)
{
    size_t D = data->D;
    for (size_t i = 0; i < n; i++) {
        memcpy(out + i * D, data->train + ((r0 + i) % data->n_train) * D, D * sizeof(float));
    }
}

mf_err mf_dxmi_evaluate(mf_dxmi *dx, const mf_dxmi_data *data, const mf_dxmi_eval_opts *o,
                        float *samples, mf_dxmi_eval *ret)
{
    size_t D = data->D, n = o->n;
    if (o->n_seeds == 0 || o->n_seeds > MF_DXMI_EVAL_MAX_SEEDS || n <= MF_DXMI_EVAL_KNN_K ||
        data->n_train == 0 || data->n_held == 0 || o->n_auc == 0 || !(data->scale > 0)) {
        return MF_EINVAL;
    }
    mf_dxmi_eval ev = {0};
    float *x = mf_alloc_floats(n * D), *first = mf_alloc_floats(n * D);
    mf_err err = x != NULL && first != NULL ? MF_OK : MF_ENOMEM;
    for (size_t k = 0; err == MF_OK && k < o->n_seeds; k++) {
        double s, f;
        err = mf_dxmi_sample(dx, o->seed + k, x, n);
        for (size_t i = 0; err == MF_OK && i < n * D; i++) {
            x[i] = (float) ((double) x[i] * data->scale + data->offset);
            err = isfinite(x[i]) ? MF_OK : MF_ERANGE;
        }
        if (err == MF_OK) {
            err = mf_sw2(x, n, data->held, data->n_held, D, MF_SW_DEFAULT_DIRS, MF_SW_DEFAULT_SEED,
                         &s);
        }
        if (err == MF_OK && k == 0) {
            memcpy(first, x, n * D * sizeof(float));
        }
        if (err == MF_OK) {
            train_rows(data, k * n, n, x);
            err = mf_sw2(x, n, data->held, data->n_held, D, MF_SW_DEFAULT_DIRS, MF_SW_DEFAULT_SEED,
                         &f);
        }
        if (err == MF_OK) {
            ev.sw2_seed[k] = s;
            ev.sw2 += s / (double) o->n_seeds;
            ev.sw2_floor += f / (double) o->n_seeds;
        }
    }
    if (err == MF_OK) {
        size_t na = o->n_auc < data->n_held ? o->n_auc : data->n_held;
        err = energy_auc(mf_dxmi_energy(dx), data, na, o->seed, &ev.auc);
    }
    mf_knn_entropy kn;
    if (err == MF_OK && (err = mf_entropy_knn(first, n, D, MF_DXMI_EVAL_KNN_K, &kn)) == MF_OK) {
        ev.knn = kn.entropy;
    }
    if (err == MF_OK && data->eight_gaussians && D == 2) {
        ev.has_modes = true;
        err = mf_modes_eight_gaussians(first, n, &ev.modes);
    }
    if (err == MF_OK && samples != NULL) {
        memcpy(samples, first, n * D * sizeof(float));
    }
    mf_free_aligned(x);
    mf_free_aligned(first);
    if (err == MF_OK) {
        *ret = ev;
    }
    return err;
}
