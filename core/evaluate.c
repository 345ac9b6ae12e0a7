/* SPDX-License-Identifier: MIT */
/*
 * evaluate.c - sample metrics, common-random-number samples and data-space
 * log-densities of a model (see evaluate.h).
 *
 * Without an executor the rows run here, on the calling thread, in the way
 * server/par.c runs each of its chunks: a frozen workspace (sampling) or a
 * divergence context (likelihoods) of at most WS_ROWS rows, through which
 * the rows pass in turn.  The samplers and the ODE draw their randomness by
 * global row index, so this gives the numbers of the team's split.
 */
#include "evaluate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bf16_net.h"
#include "mem.h"
#include "potential.h"
#include "rng.h"

#define WS_ROWS 256 /* rows per workspace on the calling thread (server/par.c's CHUNK_WS_MAX) */

enum {
    STREAM_DEQUANT = 7
}; /* held-out digits' dequantisation, under the ODE seed */

/* ---- the executor --------------------------------------------------------------- */

static mf_err serial_sample(const mf_mlp *net, const mf_schedule *s, const mf_sampler_opts *o,
                            float *x, size_t n)
{
    if (mf_pot_is_potential(net)) {
        return mf_pot_sample(net, s, o, x, n);
    }
    if (mf_precision_effective(net, o->precision, false, NULL) == MF_PRECISION_BF16) {
        return mf_bf16_sample(net, s, o, x, n);
    }
    mf_mlp_ws *ws = NULL;
    /* The weights cannot change during the call, so a frozen workspace is safe. */
    mf_err err = mf_mlp_ws_new_frozen(net, n < WS_ROWS ? n : WS_ROWS, &ws);
    if (err != MF_OK) {
        return err;
    }
    mf_mlp_eps_ctx ec = {.net = net, .ws = ws, .c = NULL};
    mf_eps_fn fn = {.eval = mf_mlp_eps_eval, .ctx = &ec};
    err = mf_sample(s, fn, o, x, n, net->cfg.data_dim);
    mf_mlp_ws_free(ws);
    return err;
}

static mf_err serial_ode_logp(const mf_mlp *net, const mf_schedule *s, const mf_ode_lik_opts *o,
                              bool sample, float *x, size_t n, double *logp)
{
    mf_mlp_div_ctx dc;
    mf_err err = mf_mlp_div_ctx_init(&dc, net, n < WS_ROWS ? n : WS_ROWS);
    if (err != MF_OK) {
        return err;
    }
    mf_eps_div_fn fn = {.eval = mf_mlp_eps_div_eval, .ctx = &dc};
    size_t D = net->cfg.data_dim;
    err = sample ? mf_ode_sample_logp(s, fn, o, x, n, D, logp)
                 : mf_ode_loglik(s, fn, o, x, n, D, logp);
    mf_mlp_div_ctx_deinit(&dc);
    return err;
}

static mf_err run_sample(const mf_eval_exec *ex, const mf_mlp *net, const mf_schedule *s,
                         const mf_sampler_opts *o, float *x, size_t n)
{
    if (ex != NULL && ex->sample != NULL) {
        return ex->sample(ex->ctx, net, s, o, x, n);
    }
    return serial_sample(net, s, o, x, n);
}

static mf_err run_ode_logp(const mf_eval_exec *ex, const mf_mlp *net, const mf_schedule *s,
                           const mf_ode_lik_opts *o, bool sample, float *x, size_t n, double *logp)
{
    if (ex != NULL && ex->ode_logp != NULL) {
        return ex->ode_logp(ex->ctx, net, s, o, sample, x, n, logp);
    }
    return serial_ode_logp(net, s, o, sample, x, n, logp);
}

/* ---- data set and metrics ------------------------------------------------------- */

mf_err mf_eval_dataset(const mf_model *m, mf_dataset_id *ret)
{
    if (m == NULL || ret == NULL) {
        return MF_EINVAL;
    }
    const char *name = mf_model_get_meta(m, "dataset");
    mf_dataset_id id;
    if (name == NULL || mf_dataset_lookup(name, &id) != MF_OK ||
        mf_dataset_dim(id) != m->net->cfg.data_dim) {
        return MF_ENOTFOUND;
    }
    *ret = id;
    return MF_OK;
}

mf_err mf_eval_metrics(const mf_model *m, const mf_metrics_opts *o, const float *x, size_t n,
                       const float *ref, size_t n_ref, mf_metrics *ret, mf_diag *diag)
{
    if (m == NULL || x == NULL || ret == NULL) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "metrics failed: %s", mf_strerror(MF_EINVAL));
    }
    size_t D = m->net->cfg.data_dim;
    mf_metrics_opts def;
    if (o == NULL) {
        mf_metrics_opts_default(&def, D);
        o = &def;
    }
    if (n <= o->knn_k) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "metrics need more than %zu samples", o->knn_k);
    }
    mf_dataset_id id;
    if (mf_eval_dataset(m, &id) != MF_OK) {
        id = MF_DATASET_COUNT; /* none: only the set-independent metrics */
    }
    mf_err err = mf_metrics_compute(o, id, x, n, D, ref, ref != NULL ? n_ref : 0, ret);
    if (err != MF_OK) {
        return mf_diag_set(diag, err, NULL, "metrics failed: %s", mf_strerror(err));
    }
    return MF_OK;
}

/* ---- common random numbers ------------------------------------------------------ */

mf_err mf_eval_crn_sample(const mf_eval_exec *ex, const mf_model *m, const mf_mlp *net,
                          size_t steps, uint64_t seed, const atomic_int *cancel, float *x, size_t n)
{
    if (m == NULL || net == NULL || x == NULL || n == 0 || steps == 0 || steps > m->sched.T ||
        net->cfg.data_dim != m->net->cfg.data_dim || net->cfg.cond_dim != 0 ||
        m->net->cfg.cond_dim != 0) {
        return MF_EINVAL;
    }
    size_t nd;
    if (mf_size_mul(n, net->cfg.data_dim, &nd) != MF_OK) {
        return MF_ERANGE;
    }
    mf_sampler_opts so = {.kind = MF_SAMPLER_DDPM,
                          .precision = ex != NULL ? ex->precision : MF_PRECISION_F32,
                          .steps = steps,
                          .seed = seed ^ MF_EVAL_SEED_TAG,
                          .cancel = cancel};
    mf_err err = run_sample(ex, net, &m->sched, &so, x, n);
    if (err == MF_OK) {
        mf_model_to_data(m, x, nd);
    }
    return err;
}

/* ---- log-densities ---------------------------------------------------------------- */

/*
 * log p_data = log p_model - D log scale, for x_data = offset + scale x_model
 * (the Jacobian of the affine map): the one place the term is applied.
 */
static void to_data_space(const mf_model *m, double *logp, size_t n)
{
    double shift = (double) m->net->cfg.data_dim * log(m->data_scale);
    for (size_t i = 0; i < n; i++) {
        logp[i] -= shift;
    }
}

/*
 * Data-space log-densities: of the points x_data (n, D) when not NULL (a copy
 * mapped to model space goes to the ODE), else of the ODE's own n samples.
 */
static mf_err data_logp(const mf_eval_exec *ex, const mf_model *m, const mf_ode_lik_opts *o,
                        const float *x_data, size_t n, double *logp)
{
    size_t nd;
    if (mf_size_mul(n, m->net->cfg.data_dim, &nd) != MF_OK) {
        return MF_ERANGE;
    }
    float *x = mf_alloc_floats(nd);
    if (x == NULL) {
        return MF_ENOMEM;
    }
    if (x_data != NULL) {
        memcpy(x, x_data, nd * sizeof(float));
        mf_model_from_data(m, x, nd);
    }
    mf_err err = run_ode_logp(ex, m->net, &m->sched, o, x_data == NULL, x, n, logp);
    if (err == MF_OK) {
        to_data_space(m, logp, n);
    }
    mf_free_aligned(x);
    return err;
}

mf_err mf_eval_logp(const mf_eval_exec *ex, const mf_model *m, const mf_ode_lik_opts *o,
                    const float *x_data, size_t n, double *logp)
{
    if (m == NULL || o == NULL || x_data == NULL || logp == NULL || n == 0) {
        return MF_EINVAL;
    }
    return data_logp(ex, m, o, x_data, n, logp);
}

mf_err mf_eval_lik(const mf_eval_exec *ex, const mf_model *m, const mf_ode_lik_opts *o,
                   const float *x_data, size_t n, bool dequantised, mf_lik_stats *ret)
{
    if (m == NULL || o == NULL || ret == NULL || n == 0) {
        return MF_EINVAL;
    }
    double *logp = mf_alloc_doubles(n);
    if (logp == NULL) {
        return MF_ENOMEM;
    }
    mf_err err = data_logp(ex, m, o, x_data, n, logp);
    if (err == MF_OK) {
        mf_lik_summarise(logp, n, m->net->cfg.data_dim, o, x_data == NULL, dequantised, ret);
    }
    mf_free_aligned(logp);
    return err;
}

mf_err mf_eval_heldout_lik(const mf_eval_exec *ex, const mf_model *m, const mf_ode_lik_opts *o,
                           size_t n, mf_lik_stats *ret)
{
    mf_dataset_id id;
    mf_err err = mf_eval_dataset(m, &id);
    if (err != MF_OK) {
        return err;
    }
    if (o == NULL || ret == NULL || n == 0) {
        return MF_EINVAL;
    }
    bool digits = id == MF_DATASET_DIGITS;
    if (digits && n > MF_DATASET_DIGITS_N_HELDOUT) {
        n = MF_DATASET_DIGITS_N_HELDOUT;
    }
    size_t D = m->net->cfg.data_dim, nd;
    if (mf_size_mul(n, D, &nd) != MF_OK) {
        return MF_ERANGE;
    }
    float *h = mf_alloc_floats(nd);
    if (h == NULL) {
        return MF_ENOMEM;
    }
    err = mf_dataset_heldout(id, h, n);
    if (err == MF_OK) {
        if (digits) {
            /* pixel k -> k + u - 1/2: a bin of width 1, so bits/dim bounds -log2 P(k) */
            mf_dataset_dequantise(mf_rng_derive(mf_rng_make(o->seed), STREAM_DEQUANT), 0, h, nd);
        }
        err = mf_eval_lik(ex, m, o, h, n, digits, ret);
    }
    mf_free_aligned(h);
    return err;
}
