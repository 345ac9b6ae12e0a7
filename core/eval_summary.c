/* SPDX-License-Identifier: MIT */
/* eval_summary.c - the closing figures of a training run (eval_summary.h). */
#include "eval_summary.h"

#include <string.h>

#include "entropy.h"
#include "mem.h"
#include "potential.h"
#include "sw.h"

mf_err mf_eval_summary_of(const mf_eval_exec *ex, const mf_model *m, mf_dataset_id id, size_t n,
                          size_t steps, size_t ode_steps, uint64_t seed, const atomic_int *cancel,
                          mf_eval_summary *ret)
{
    size_t D = m->net->cfg.data_dim;
    if (id == MF_DATASET_DIGITS) { /* three disjoint thirds of the 297 held-out images */
        n = n < mf_dataset_digits_count(true) / 3 ? n : mf_dataset_digits_count(true) / 3;
    }
    if (mf_dataset_dim(id) != D || n <= MF_EVAL_SUMMARY_KNN_K || steps == 0 || ode_steps == 0) {
        return MF_EINVAL;
    }
    mf_eval_summary s = {.n = n, .steps = steps, .ode_steps = ode_steps, .seed = seed};
    float *held = mf_alloc_floats(3 * n * D), *x = mf_alloc_floats(n * D);
    mf_err err = held != NULL && x != NULL ? MF_OK : MF_ENOMEM;
    if (err == MF_OK) {
        err = mf_dataset_heldout(id, held, 3 * n);
    }
    /* held: [0, n) the reference, [n, 2n) the floor's twin, [2n, 3n) the NLL's points */
    const float *ref = held, *twin = held + n * D, *pts = held + 2 * n * D;
    if (err == MF_OK) {
        err = mf_eval_crn_sample(ex, m, m->net, steps, seed, cancel, x, n);
    }
    if (err == MF_OK) {
        err = mf_sw2(x, n, ref, n, D, MF_SW_DEFAULT_DIRS, MF_SW_DEFAULT_SEED, &s.sw2);
    }
    if (err == MF_OK) {
        err = mf_sw2(twin, n, ref, n, D, MF_SW_DEFAULT_DIRS, MF_SW_DEFAULT_SEED, &s.sw2_floor);
    }
    mf_knn_entropy km, kd;
    if (err == MF_OK) {
        err = mf_entropy_knn(x, n, D, MF_EVAL_SUMMARY_KNN_K, &km);
    }
    if (err == MF_OK) {
        err = mf_entropy_knn(ref, n, D, MF_EVAL_SUMMARY_KNN_K, &kd);
    }
    if (err == MF_OK) {
        s.entropy_knn = km.entropy;
        s.entropy_knn_data = kd.entropy;
        mf_ode_lik_opts lo = {
            .steps = ode_steps, .div = MF_DIV_AUTO, .seed = seed, .cancel = cancel};
        err = mf_eval_lik(ex, m, &lo, pts, n, false, &s.lik);
    }
    if (err == MF_OK && mf_pot_is_potential(m->net)) {
        for (size_t j = 0; j < n * D; j++) { /* the residual's points, in model space */
            x[j] = (float) (((double) pts[j] - m->data_offset) / m->data_scale);
        }
        mf_hjb_opts ho = mf_hjb_opts_default();
        err = mf_hjb_residual_of(m->net, &m->sched, &ho, x, n, seed, &s.hjb);
        s.has_hjb = err == MF_OK;
    }
    mf_free_aligned(held);
    mf_free_aligned(x);
    if (err == MF_OK) {
        *ret = s;
    }
    return err;
}
