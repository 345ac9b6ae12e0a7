/* SPDX-License-Identifier: MIT */
/*
 * reward_net.c - the scalar network of reward.h run forward and backward:
 * workspaces, predictions, input gradients, and the training pieces DxMI's
 * energy and value networks need (per-row upstream gradients, row ranges
 * for threads, parameter gradients by output slices).
 *
 * Forward, hidden layers i = 0..k-1 (A_{-1} = x):
 *     Z_i = A_{i-1} W_i^T + b_i,  A_i = silu(Z_i);   f = A_{k-1} w_k + b_k
 * Backward from df (n) = dL/df, keeping each layer's pre-activation gradient
 * dZ_i (dZ_k = df) in the workspace:
 *     dA_{i-1} = dZ_i W_i,  dZ_{i-1} = dA_{i-1} * silu'(Z_{i-1}),  dx = dZ_0 W_0
 * and then, over all rows at once, dW_i = dZ_i^T A_{i-1}, db_i = colsum dZ_i.
 * Rows are independent until that last sum, so threads may run the forward
 * and the backward on disjoint row ranges of one workspace, then split the
 * parameter gradients by output rows (as mlp.h's split workspace does).
 * The input gradient of every row at once is the backward with df = 1: the
 * gradient of sum_r f(x_r) with respect to row r is grad f(x_r).  Ridge is
 * the k = 0 case: f = x w + b, dx = w.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "kernels.h"
#include "mem.h"
#include "optim.h"
#include "reward.h"

struct mf_reward_ws {
    size_t max_batch;
    float *act[MF_REWARD_MAX_HIDDEN]; /* (B, H_i) activations */
    float *sig[MF_REWARD_MAX_HIDDEN]; /* (B, H_i) sigmoids, for silu' */
    float *dz[MF_REWARD_MAX_LAYERS];  /* (B, out_i) gradient at layer i's pre-activation */
    float *ones;                      /* (B) df = 1 for the input gradient */
};

void mf_reward_ws_free(mf_reward_ws *ws)
{
    if (ws == NULL) {
        return;
    }
    for (size_t i = 0; i < MF_REWARD_MAX_HIDDEN; i++) {
        mf_free_aligned(ws->act[i]);
        mf_free_aligned(ws->sig[i]);
    }
    for (size_t i = 0; i < MF_REWARD_MAX_LAYERS; i++) {
        mf_free_aligned(ws->dz[i]);
    }
    mf_free_aligned(ws->ones);
    free(ws);
}

mf_err mf_reward_ws_new(const mf_reward_model *r, size_t max_batch, mf_reward_ws **ret)
{
    size_t h_max = 1, n_h;
    for (size_t i = 0; i < r->n_hidden; i++) {
        h_max = r->hidden[i] > h_max ? r->hidden[i] : h_max;
    }
    if (max_batch == 0) {
        return MF_EINVAL;
    }
    if (mf_size_mul(max_batch, h_max, &n_h) != MF_OK) {
        return MF_ERANGE;
    }
    mf_reward_ws *ws = calloc(1, sizeof *ws);
    if (ws == NULL) {
        return MF_ENOMEM;
    }
    ws->max_batch = max_batch;
    bool ok = true;
    for (size_t i = 0; i < r->n_hidden; i++) {
        ws->act[i] = mf_alloc_floats(max_batch * r->hidden[i]);
        ws->sig[i] = mf_alloc_floats(max_batch * r->hidden[i]);
        ok = ok && ws->act[i] != NULL && ws->sig[i] != NULL;
    }
    for (size_t i = 0; i < r->n_layers; i++) { /* out_i <= h_max: fits */
        ws->dz[i] = mf_alloc_floats(max_batch * r->out_dim[i]);
        ok = ok && ws->dz[i] != NULL;
    }
    ws->ones = mf_alloc_floats(max_batch);
    if (!ok || ws->ones == NULL) {
        mf_reward_ws_free(ws);
        return MF_ENOMEM;
    }
    for (size_t j = 0; j < max_batch; j++) {
        ws->ones[j] = 1.0f;
    }
    *ret = ws;
    return MF_OK;
}

size_t mf_reward_ws_max_batch(const mf_reward_ws *ws)
{
    return ws->max_batch;
}

void mf_reward_forward_rows(const mf_reward_model *r, mf_reward_ws *ws, size_t r0, const float *x,
                            size_t n, float *f)
{
    assert(r0 + n <= ws->max_batch);
    const float *a = x;
    size_t in = r->D;
    for (size_t i = 0; i < r->n_hidden; i++) {
        size_t h = r->out_dim[i];
        float *act = ws->act[i] + r0 * h;
        /* act (n, h) = a (n, in) W_i (h, in)^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int) n, (int) h, (int) in, 1.0f, a,
                    (int) in, r->params + r->w_off[i], (int) in, 0.0f, act, (int) h);
        mf_k_bias_silu(act, ws->sig[i] + r0 * h, r->params + r->b_off[i], n, h);
        a = act;
        in = h;
    }
    size_t k = r->n_hidden;
    mf_k_thin_out(f, a, r->params + r->w_off[k], r->params + r->b_off[k], n, in, 1);
}

void mf_reward_forward(const mf_reward_model *r, mf_reward_ws *ws, const float *x, size_t n,
                       float *f)
{
    mf_reward_forward_rows(r, ws, 0, x, n, f);
}

void mf_reward_backward_rows(const mf_reward_model *r, mf_reward_ws *ws, size_t r0, const float *df,
                             size_t n, float *d_x, size_t dx_cols)
{
    assert(r0 + n <= ws->max_batch && dx_cols <= r->D);
    size_t k = r->n_hidden;
    float *dz = ws->dz[k] + r0;
    memcpy(dz, df, n * sizeof(float));
    for (size_t i = k; i > 0; i--) {
        size_t in = r->in_dim[i], out = r->out_dim[i];
        float *dst = ws->dz[i - 1] + r0 * in;
        /* dA_{i-1} (n, in) = dZ_i (n, out) W_i (out, in), then through silu'. */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int) n, (int) in, (int) out, 1.0f,
                    dz, (int) out, r->params + r->w_off[i], (int) in, 0.0f, dst, (int) in);
        mf_k_silu_backward(dst, dst, ws->act[i - 1] + r0 * in, ws->sig[i - 1] + r0 * in, n, in);
        dz = dst;
    }
    if (d_x != NULL && dx_cols > 0) { /* d_x (n, cols) += dZ_0 (n, out_0) W_0[:, :cols] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int) n, (int) dx_cols,
                    (int) r->out_dim[0], 1.0f, dz, (int) r->out_dim[0], r->params + r->w_off[0],
                    (int) r->in_dim[0], 1.0f, d_x, (int) dx_cols);
    }
}

/*
 * Output rows [part out_i / n_parts, (part + 1) out_i / n_parts) of every
 * layer's weight and bias gradient over rows [0, n): d_params = beta d_params
 * + the gradient (beta 0 or 1).  Returns the sum of squares of what it wrote.
 */
static double param_grads(const mf_reward_model *r, const mf_reward_ws *ws, const float *x,
                          size_t n, size_t part, size_t n_parts, float beta, float *d_params)
{
    double ss = 0.0;
    for (size_t i = 0; i < r->n_layers; i++) {
        size_t in = r->in_dim[i], out = r->out_dim[i];
        size_t o0 = part * out / n_parts, o1 = (part + 1) * out / n_parts;
        if (o1 == o0) {
            continue;
        }
        const float *dz = ws->dz[i], *a_prev = i == 0 ? x : ws->act[i - 1];
        float *dw = d_params + r->w_off[i] + o0 * in, *db = d_params + r->b_off[i];
        /* dW[o0:o1, :] (+)= dZ_i[:, o0:o1]^T (o1-o0, n) A_{i-1} (n, in) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int) (o1 - o0), (int) in, (int) n,
                    1.0f, dz + o0, (int) out, a_prev, (int) in, beta, dw, (int) in);
        for (size_t o = o0; o < o1; o++) {
            db[o] *= beta;
        }
        for (size_t row = 0; row < n; row++) {
            for (size_t o = o0; o < o1; o++) {
                db[o] += dz[row * out + o];
            }
        }
        ss += mf_sumsq(dw, (o1 - o0) * in) + mf_sumsq(db + o0, o1 - o0);
    }
    return ss;
}

double mf_reward_param_grad_part(const mf_reward_model *r, const mf_reward_ws *ws, const float *x,
                                 size_t n, size_t part, size_t n_parts, float *d_params)
{
    assert(n <= ws->max_batch && part < n_parts);
    return param_grads(r, ws, x, n, part, n_parts, 0.0f, d_params);
}

void mf_reward_backward(const mf_reward_model *r, mf_reward_ws *ws, const float *x, const float *df,
                        size_t n, float *d_params, float *d_x, size_t dx_cols)
{
    mf_reward_backward_rows(r, ws, 0, df, n, d_x, dx_cols);
    if (d_params != NULL) {
        (void) param_grads(r, ws, x, n, 0, 1, 1.0f, d_params);
    }
}

void mf_reward_predict(const mf_reward_model *r, mf_reward_ws *ws, const float *x, size_t n,
                       float *out)
{
    for (size_t r0 = 0; r0 < n; r0 += ws->max_batch) {
        size_t m = n - r0 < ws->max_batch ? n - r0 : ws->max_batch;
        mf_reward_forward_rows(r, ws, 0, x + r0 * r->D, m, out + r0);
    }
}

void mf_reward_grad(const mf_reward_model *r, mf_reward_ws *ws, const float *x, size_t n, float *f,
                    float *grad)
{
    size_t D = r->D;
    memset(grad, 0, n * D * sizeof(float));
    for (size_t r0 = 0; r0 < n; r0 += ws->max_batch) {
        size_t m = n - r0 < ws->max_batch ? n - r0 : ws->max_batch;
        /* The backward does not read f; without a caller's buffer it goes to
         * dz[0], scratch the backward only overwrites afterwards. */
        float *fo = f != NULL ? f + r0 : ws->dz[0];
        mf_reward_forward_rows(r, ws, 0, x + r0 * D, m, fo);
        mf_reward_backward_rows(r, ws, 0, ws->ones, m, grad + r0 * D, D);
    }
}
