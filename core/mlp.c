/* SPDX-License-Identifier: MIT */
/*
 * mlp.c - forward and backward of the reference score network (see mlp.h).
 *
 * Forward, for hidden layers i = 0..k-1 (A_{-1} = the concatenated input X):
 *     Z_i = A_{i-1} W_i^T + b_i,   A_i = silu(Z_i) = Z_i * sigmoid(Z_i)
 * and the output layer  Y = A_{k-1} W_k^T + b_k  (no activation).
 *
 * Backward, given dY:
 *     dW_k += dY^T A_{k-1},  db_k += colsum(dY),  dA_{k-1} = dY W_k
 *     dZ_i  = dA_i * silu'(Z_i),   silu'(z) = s + a (1 - s)  (s = sigmoid, a = silu)
 *     dW_i += dZ_i^T A_{i-1},  db_i += colsum(dZ_i),  dA_{i-1} = dZ_i W_i
 * and the input gradient is the first D columns of dZ_0 W_0.  Storing s and a
 * (not z) is enough for silu', so the forward keeps exactly what backward reads.
 *
 * Shared timestep: the first layer splits as W_0 [x; e; c] = W_x x + W_e e + W_c c.
 * When every row has the same t, u = W_e e(t) + b_0 is one matrix-vector product
 * per call, and for small D the rest (D multiply-adds per output) is a fused
 * loop instead of a GEMM with a 66-wide inner dimension.
 */
#include "mlp.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "kernels.h"
#include "mem.h"
#include "optim.h"
#include "rng.h"

#define THIN_IN_MAX  8    /* input widths handled by the fused first-layer loop */
#define THIN_OUT_MAX 8    /* output widths handled by mf_k_thin_out instead of sgemm */
#define EMB_TABLE_T  1024 /* training workspaces tabulate emb(t) for integer t < this */

struct mf_mlp_ws {
    size_t max_batch;
    bool with_backward;
    float *in;                     /* (B, D+E+C) concatenated input, backward only */
    float *act[MF_MLP_MAX_HIDDEN]; /* (B, H_i) activations */
    float *sig[MF_MLP_MAX_HIDDEN]; /* (B, H_i) sigmoids, backward only */
    float *d_a;                    /* (B, H_max) scratch for backward */
    float *d_z;                    /* (B, H_max) */
    float *emb;                    /* (E) */
    float *emb_table;              /* (EMB_TABLE_T, E) emb(t), backward workspaces only */
    float *u;                      /* (H_1) shared-t constant of layer 0 */
    float *wt[MF_MLP_MAX_LAYERS];  /* frozen workspaces: W_i^T (in, out) of hidden layers */
    float *dz[MF_MLP_MAX_LAYERS];  /* split workspaces: (B, out_i) gradient at layer i's output */
};

mf_err mf_mlp_config_check(const mf_mlp_config *cfg)
{
    if (cfg == NULL || cfg->data_dim < 1 || cfg->data_dim > MF_MLP_MAX_WIDTH ||
        cfg->cond_dim > MF_MLP_MAX_WIDTH || cfg->emb_dim < 2 || cfg->emb_dim % 2 != 0 ||
        cfg->emb_dim > MF_MLP_MAX_WIDTH || cfg->n_hidden < 1 || cfg->n_hidden > MF_MLP_MAX_HIDDEN ||
        cfg->out_dim > 1) {
        return MF_EINVAL;
    }
    for (uint32_t i = 0; i < cfg->n_hidden; i++) {
        if (cfg->hidden[i] < 1 || cfg->hidden[i] > MF_MLP_MAX_WIDTH) {
            return MF_EINVAL;
        }
    }
    return MF_OK;
}

size_t mf_mlp_config_in_dim(const mf_mlp_config *cfg)
{
    return (size_t) cfg->data_dim + cfg->emb_dim + cfg->cond_dim;
}

size_t mf_mlp_config_out_dim(const mf_mlp_config *cfg)
{
    return cfg->out_dim != 0 ? cfg->out_dim : cfg->data_dim;
}

/* Layer shapes and offsets; the single source of truth for the parameter layout. */
static size_t layout(const mf_mlp_config *cfg, size_t *in_dim, size_t *out_dim, size_t *w_off,
                     size_t *b_off)
{
    size_t n_layers = (size_t) cfg->n_hidden + 1, off = 0;
    for (size_t i = 0; i < n_layers; i++) {
        size_t in = i == 0 ? mf_mlp_config_in_dim(cfg) : cfg->hidden[i - 1];
        size_t out = i < cfg->n_hidden ? cfg->hidden[i] : mf_mlp_config_out_dim(cfg);
        in_dim[i] = in;
        out_dim[i] = out;
        w_off[i] = off;
        off += in * out; /* < 2^13 * 2^14: no overflow with the width limits */
        b_off[i] = off;
        off += out;
    }
    return off;
}

size_t mf_mlp_config_n_params(const mf_mlp_config *cfg)
{
    size_t in[MF_MLP_MAX_LAYERS], out[MF_MLP_MAX_LAYERS], w[MF_MLP_MAX_LAYERS],
        b[MF_MLP_MAX_LAYERS];
    if (mf_mlp_config_check(cfg) != MF_OK) {
        return 0;
    }
    return layout(cfg, in, out, w, b);
}

/* Frequency j of an embedding with E/2 = half: as PyTorch computes it in
 * float32, exp((-ln 10000 * j) / (E/2)). */
static float emb_freq(uint32_t j, uint32_t half)
{
    const float neg_log_10000 = (float) -9.210340371976184;
    float v = neg_log_10000 * (float) j;
    return expf(v / (float) half);
}

mf_err mf_mlp_layout(const mf_mlp_config *cfg, mf_mlp *ret)
{
    if (mf_mlp_config_check(cfg) != MF_OK || ret == NULL) {
        return MF_EINVAL;
    }
    memset(ret, 0, sizeof *ret);
    ret->cfg = *cfg;
    ret->n_layers = (size_t) cfg->n_hidden + 1;
    ret->n_params = layout(cfg, ret->in_dim, ret->out_dim, ret->w_off, ret->b_off);
    return MF_OK;
}

mf_err mf_mlp_new(const mf_mlp_config *cfg, mf_mlp **ret)
{
    mf_mlp shape;
    if (mf_mlp_layout(cfg, &shape) != MF_OK) {
        return MF_EINVAL;
    }
    mf_mlp *m = calloc(1, sizeof *m);
    if (m == NULL) {
        return MF_ENOMEM;
    }
    *m = shape;
    m->params = mf_alloc_floats(m->n_params);
    m->freqs = mf_alloc_floats(cfg->emb_dim / 2);
    if (m->params == NULL || m->freqs == NULL) {
        mf_mlp_free(m);
        return MF_ENOMEM;
    }
    for (uint32_t j = 0; j < cfg->emb_dim / 2; j++) {
        m->freqs[j] = emb_freq(j, cfg->emb_dim / 2);
    }
    *ret = m;
    return MF_OK;
}

void mf_mlp_free(mf_mlp *m)
{
    if (m == NULL) {
        return;
    }
    mf_free_aligned(m->params);
    mf_free_aligned(m->freqs);
    free(m);
}

mf_err mf_mlp_clone(const mf_mlp *m, mf_mlp **ret)
{
    mf_mlp *c;
    mf_err err = mf_mlp_new(&m->cfg, &c);
    if (err != MF_OK) {
        return err;
    }
    memcpy(c->params, m->params, m->n_params * sizeof(float));
    *ret = c;
    return MF_OK;
}

mf_err mf_mlp_new_cond_from(const mf_mlp *parent, uint32_t cond_dim, mf_mlp **ret)
{
    if (parent == NULL || parent->cfg.cond_dim != 0 || cond_dim == 0) {
        return MF_EINVAL;
    }
    mf_mlp_config cfg = parent->cfg;
    cfg.cond_dim = cond_dim;
    mf_mlp *c;
    mf_err err = mf_mlp_new(&cfg, &c);
    if (err != MF_OK) {
        return err;
    }
    /* Layer 0's rows grow from D + E to D + E + C columns (the new ones stay zero);
     * every later parameter keeps its order, shifted by H_1 C. */
    size_t in_p = parent->in_dim[0], in_c = c->in_dim[0];
    for (size_t o = 0; o < c->out_dim[0]; o++) {
        memcpy(c->params + o * in_c, parent->params + o * in_p, in_p * sizeof(float));
    }
    memcpy(c->params + c->b_off[0], parent->params + parent->b_off[0],
           (parent->n_params - parent->b_off[0]) * sizeof(float));
    *ret = c;
    return MF_OK;
}

void mf_mlp_init_params(mf_mlp *m, uint64_t seed)
{
    mf_rng base = mf_rng_make(seed);
    for (size_t i = 0; i < m->n_layers; i++) {
        float bound = 1.0f / sqrtf((float) m->in_dim[i]);
        size_t n_w = m->in_dim[i] * m->out_dim[i];
        mf_rng rw = mf_rng_derive(base, 2 * i), rb = mf_rng_derive(base, 2 * i + 1);
        float *w = m->params + m->w_off[i], *b = m->params + m->b_off[i];
        mf_rng_uniform(rw, 0, w, n_w);
        mf_rng_uniform(rb, 0, b, m->out_dim[i]);
        for (size_t j = 0; j < n_w; j++) {
            w[j] = (2.0f * w[j] - 1.0f) * bound;
        }
        for (size_t j = 0; j < m->out_dim[i]; j++) {
            b[j] = (2.0f * b[j] - 1.0f) * bound;
        }
    }
}

void mf_mlp_embed(const mf_mlp *m, float t, float *out)
{
    size_t half = m->cfg.emb_dim / 2;
    for (size_t j = 0; j < half; j++) {
        float a = t * m->freqs[j];
        out[j] = sinf(a);
        out[half + j] = cosf(a);
    }
}

void mf_mlp_embed_width(uint32_t E, float t, float *out)
{
    uint32_t half = E / 2;
    for (uint32_t j = 0; j < half; j++) {
        float a = t * emb_freq(j, half);
        out[j] = sinf(a);
        out[half + j] = cosf(a);
    }
}

/* ---- workspace ------------------------------------------------------------------ */

void mf_mlp_ws_free(mf_mlp_ws *ws)
{
    if (ws == NULL) {
        return;
    }
    mf_free_aligned(ws->in);
    for (size_t i = 0; i < MF_MLP_MAX_HIDDEN; i++) {
        mf_free_aligned(ws->act[i]);
        mf_free_aligned(ws->sig[i]);
    }
    mf_free_aligned(ws->d_a);
    mf_free_aligned(ws->d_z);
    mf_free_aligned(ws->emb);
    mf_free_aligned(ws->emb_table);
    mf_free_aligned(ws->u);
    for (size_t i = 0; i < MF_MLP_MAX_LAYERS; i++) {
        mf_free_aligned(ws->wt[i]);
        mf_free_aligned(ws->dz[i]);
    }
    free(ws);
}

mf_err mf_mlp_ws_new(const mf_mlp *m, size_t max_batch, bool with_backward, mf_mlp_ws **ret)
{
    if (max_batch == 0) {
        return MF_EINVAL;
    }
    size_t h_max = 0, n_in, n_h;
    for (size_t i = 0; i < m->cfg.n_hidden; i++) {
        h_max = m->cfg.hidden[i] > h_max ? m->cfg.hidden[i] : h_max;
    }
    if (mf_size_mul(max_batch, m->in_dim[0], &n_in) != MF_OK ||
        mf_size_mul(max_batch, h_max, &n_h) != MF_OK) {
        return MF_ERANGE;
    }
    mf_mlp_ws *ws = calloc(1, sizeof *ws);
    if (ws == NULL) {
        return MF_ENOMEM;
    }
    ws->max_batch = max_batch;
    ws->with_backward = with_backward;
    bool ok = true;
    for (size_t i = 0; i < m->cfg.n_hidden; i++) {
        ws->act[i] = mf_alloc_floats(max_batch * m->cfg.hidden[i]);
        ok = ok && ws->act[i] != NULL;
        if (with_backward) {
            ws->sig[i] = mf_alloc_floats(max_batch * m->cfg.hidden[i]);
            ok = ok && ws->sig[i] != NULL;
        }
    }
    if (with_backward) {
        ws->d_a = mf_alloc_floats(n_h);
        ws->d_z = mf_alloc_floats(n_h);
        /* Training and fine-tuning draw a fresh timestep per row at every step;
         * a table turns E sin/cos per row into one copy (same float values). */
        ws->emb_table = mf_alloc_floats((size_t) EMB_TABLE_T * m->cfg.emb_dim);
        ok = ok && ws->d_a != NULL && ws->d_z != NULL && ws->emb_table != NULL;
        for (size_t t = 0; ok && t < EMB_TABLE_T; t++) {
            mf_mlp_embed(m, (float) t, ws->emb_table + t * m->cfg.emb_dim);
        }
    }
    ws->in = mf_alloc_floats(n_in);
    ws->emb = mf_alloc_floats(m->cfg.emb_dim);
    ws->u = mf_alloc_floats(m->cfg.hidden[0]);
    ok = ok && ws->in != NULL && ws->emb != NULL && ws->u != NULL;
    if (!ok) {
        mf_mlp_ws_free(ws);
        return MF_ENOMEM;
    }
    *ret = ws;
    return MF_OK;
}

mf_err mf_mlp_ws_new_frozen(const mf_mlp *m, size_t max_batch, mf_mlp_ws **ret)
{
    mf_mlp_ws *ws;
    mf_err err = mf_mlp_ws_new(m, max_batch, false, &ws);
    if (err != MF_OK) {
        return err;
    }
    bool small = max_batch <= MF_MLP_SMALL_BATCH && mf_k_small_gemm_profitable();
    for (size_t i = 1; small && i < m->cfg.n_hidden; i++) {
        size_t in = m->in_dim[i], out = m->out_dim[i];
        if (out % 64 != 0) {
            continue;
        }
        if ((ws->wt[i] = mf_alloc_floats(in * out)) == NULL) {
            mf_mlp_ws_free(ws);
            return MF_ENOMEM;
        }
        const float *w = m->params + m->w_off[i];
        for (size_t o = 0; o < out; o++) {
            for (size_t k = 0; k < in; k++) {
                ws->wt[i][k * out + o] = w[o * in + k];
            }
        }
    }
    *ret = ws;
    return MF_OK;
}

mf_err mf_mlp_ws_new_split(const mf_mlp *m, size_t max_batch, mf_mlp_ws **ret)
{
    mf_mlp_ws *ws;
    mf_err err = mf_mlp_ws_new(m, max_batch, true, &ws);
    if (err != MF_OK) {
        return err;
    }
    for (size_t i = 0; i < m->n_layers; i++) {
        /* max_batch * out_i fits: the activations of the same size were allocated */
        if ((ws->dz[i] = mf_alloc_floats(max_batch * m->out_dim[i])) == NULL) {
            mf_mlp_ws_free(ws);
            return MF_ENOMEM;
        }
    }
    *ret = ws;
    return MF_OK;
}

size_t mf_mlp_ws_max_batch(const mf_mlp_ws *ws)
{
    return ws->max_batch;
}

/* ---- forward -------------------------------------------------------------------- */

static void sgemm_nt(size_t n, size_t o, size_t k, const float *a, size_t lda, const float *w,
                     size_t ldw, float beta, float *y, size_t ldy)
{
    /* y (n, o) = a (n, k) w(o, k)^T + beta y */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int) n, (int) o, (int) k, 1.0f, a,
                (int) lda, w, (int) ldw, beta, y, (int) ldy);
}

/* Hidden layers 1..k-1 and the output layer for workspace rows [r0, r0 + n), from act[0] on. */
static void forward_rest(const mf_mlp *m, mf_mlp_ws *ws, size_t r0, size_t n, float *out)
{
    size_t k = m->cfg.n_hidden;
    for (size_t i = 1; i < k; i++) {
        size_t in = m->in_dim[i], o = m->out_dim[i];
        const float *a_prev = ws->act[i - 1] + r0 * in;
        float *a = ws->act[i] + r0 * o;
        if (ws->wt[i] != NULL) { /* frozen small-batch workspace: fused kernel, no BLAS */
            mf_k_small_silu(a, a_prev, ws->wt[i], m->params + m->b_off[i], n, in, o);
            continue;
        }
        sgemm_nt(n, o, in, a_prev, in, m->params + m->w_off[i], in, 0.0f, a, o);
        mf_k_bias_silu(a, ws->with_backward ? ws->sig[i] + r0 * o : NULL, m->params + m->b_off[i],
                       n, o);
    }
    const float *w = m->params + m->w_off[k], *b = m->params + m->b_off[k];
    size_t d = m->out_dim[k], h = m->in_dim[k];
    const float *a_last = ws->act[k - 1] + r0 * h;
    if (d <= THIN_OUT_MAX) {
        mf_k_thin_out(out, a_last, w, b, n, h, d);
    } else {
        for (size_t r = 0; r < n; r++) {
            memcpy(out + r * d, b, d * sizeof(float));
        }
        sgemm_nt(n, d, h, a_last, h, w, h, 1.0f, out, d);
    }
}

void mf_mlp_forward_rows(const mf_mlp *m, mf_mlp_ws *ws, size_t r0, const float *x, const float *t,
                         const float *c, size_t n, float *out)
{
    assert(r0 + n <= ws->max_batch);
    size_t D = m->cfg.data_dim, E = m->cfg.emb_dim, C = m->cfg.cond_dim, in = m->in_dim[0];
    for (size_t r = 0; r < n; r++) {
        float *row = ws->in + (r0 + r) * in;
        memcpy(row, x + r * D, D * sizeof(float));
        float tr = t[r];
        if (ws->emb_table != NULL && tr >= 0.0f && tr < (float) EMB_TABLE_T && tr == floorf(tr)) {
            memcpy(row + D, ws->emb_table + (size_t) tr * E, E * sizeof(float));
        } else {
            mf_mlp_embed(m, tr, row + D);
        }
        if (C > 0) {
            memcpy(row + D + E, c + r * C, C * sizeof(float));
        }
    }
    size_t h = m->out_dim[0];
    float *a0 = ws->act[0] + r0 * h;
    sgemm_nt(n, h, in, ws->in + r0 * in, in, m->params + m->w_off[0], in, 0.0f, a0, h);
    mf_k_bias_silu(a0, ws->with_backward ? ws->sig[0] + r0 * h : NULL, m->params + m->b_off[0], n,
                   h);
    forward_rest(m, ws, r0, n, out);
}

void mf_mlp_forward(const mf_mlp *m, mf_mlp_ws *ws, const float *x, const float *t, const float *c,
                    size_t n, float *out)
{
    mf_mlp_forward_rows(m, ws, 0, x, t, c, n, out);
}

void mf_mlp_time_bias(const mf_mlp *m, float t, float *emb, float *u)
{
    size_t D = m->cfg.data_dim, E = m->cfg.emb_dim, in = m->in_dim[0], h = m->out_dim[0];
    mf_mlp_embed(m, t, emb);
    memcpy(u, m->params + m->b_off[0], h * sizeof(float));
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int) h, (int) E, 1.0f, m->params + m->w_off[0] + D,
                (int) in, emb, 1, 1.0f, u, 1);
}

void mf_mlp_forward_shared_t(const mf_mlp *m, mf_mlp_ws *ws, const float *x, float t,
                             const float *c, size_t n, float *out)
{
    assert(n <= ws->max_batch);
    size_t D = m->cfg.data_dim, E = m->cfg.emb_dim, C = m->cfg.cond_dim, in = m->in_dim[0];
    size_t h = m->out_dim[0];
    const float *w0 = m->params + m->w_off[0];
    mf_mlp_time_bias(m, t, ws->emb, ws->u);
    if (ws->with_backward) { /* the parameter gradient of layer 0 reads the full input */
        for (size_t r = 0; r < n; r++) {
            float *row = ws->in + r * in;
            memcpy(row, x + r * D, D * sizeof(float));
            memcpy(row + D, ws->emb, E * sizeof(float));
            if (C > 0) {
                memcpy(row + D + E, c + r * C, C * sizeof(float));
            }
        }
    }
    float *sig0 = ws->with_backward ? ws->sig[0] : NULL;
    if (D <= THIN_IN_MAX && C == 0) {
        mf_k_thin_in_silu(ws->act[0], sig0, x, D, w0, in, ws->u, n, h);
    } else {
        sgemm_nt(n, h, D, x, D, w0, in, 0.0f, ws->act[0], h);
        if (C > 0) {
            sgemm_nt(n, h, C, c, C, w0 + D + E, in, 1.0f, ws->act[0], h);
        }
        mf_k_bias_silu(ws->act[0], sig0, ws->u, n, h);
    }
    forward_rest(m, ws, 0, n, out);
}

/* ---- backward ------------------------------------------------------------------- */

static void colsum_add(float *db, const float *dz, size_t n, size_t h)
{
    for (size_t r = 0; r < n; r++) {
        const float *row = dz + r * h;
        for (size_t j = 0; j < h; j++) {
            db[j] += row[j];
        }
    }
}

void mf_mlp_backward(const mf_mlp *m, mf_mlp_ws *ws, const float *d_out, size_t n, float *d_params,
                     float *d_x)
{
    assert(ws->with_backward && n <= ws->max_batch);
    size_t k = m->cfg.n_hidden, D = m->cfg.data_dim;
    const float *dz = d_out; /* gradient at the pre-activation of layer i */
    for (size_t i = k + 1; i-- > 0;) {
        size_t in = m->in_dim[i], out = m->out_dim[i];
        const float *a_prev = i == 0 ? ws->in : ws->act[i - 1];
        const float *w = m->params + m->w_off[i];
        if (d_params != NULL) {
            /* dW (out, in) += dz^T (out, n) a_prev (n, in) */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int) out, (int) in, (int) n, 1.0f,
                        dz, (int) out, a_prev, (int) in, 1.0f, d_params + m->w_off[i], (int) in);
            colsum_add(d_params + m->b_off[i], dz, n, out);
        }
        if (i == 0) {
            if (d_x != NULL) { /* d_x (n, D) += dz (n, H_1) W_0[:, :D] */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int) n, (int) D, (int) out,
                            1.0f, dz, (int) out, w, (int) in, 1.0f, d_x, (int) D);
            }
            break;
        }
        /* dA_{i-1} (n, in) = dz (n, out) W_i (out, in), then through silu'. */
        float *dst = (dz == ws->d_a) ? ws->d_z : ws->d_a; /* ping-pong: never read what we write */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int) n, (int) in, (int) out, 1.0f,
                    dz, (int) out, w, (int) in, 0.0f, dst, (int) in);
        mf_k_silu_backward(dst, dst, ws->act[i - 1], ws->sig[i - 1], n, in);
        dz = dst;
    }
}

/* ---- split backward: row ranges, then parameter gradients by output rows ---------- */

void mf_mlp_backward_rows(const mf_mlp *m, mf_mlp_ws *ws, size_t r0, const float *d_out, size_t n,
                          float *d_x)
{
    assert(ws->dz[0] != NULL && r0 + n <= ws->max_batch);
    size_t k = m->cfg.n_hidden, O = m->out_dim[k], D = m->cfg.data_dim;
    float *dz = ws->dz[k] + r0 * O;
    memcpy(dz, d_out, n * O * sizeof(float));
    for (size_t i = k; i > 0; i--) {
        size_t in = m->in_dim[i], out = m->out_dim[i];
        float *dst = ws->dz[i - 1] + r0 * in;
        /* dA_{i-1} (n, in) = dz (n, out) W_i (out, in), then through silu'. */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int) n, (int) in, (int) out, 1.0f,
                    dz, (int) out, m->params + m->w_off[i], (int) in, 0.0f, dst, (int) in);
        mf_k_silu_backward(dst, dst, ws->act[i - 1] + r0 * in, ws->sig[i - 1] + r0 * in, n, in);
        dz = dst;
    }
    if (d_x != NULL) { /* d_x (n, D) += dz_0 (n, H_1) W_0[:, :D] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int) n, (int) D,
                    (int) m->out_dim[0], 1.0f, dz, (int) m->out_dim[0], m->params + m->w_off[0],
                    (int) m->in_dim[0], 1.0f, d_x, (int) D);
    }
}

double mf_mlp_param_grad_part(const mf_mlp *m, const mf_mlp_ws *ws, size_t n, size_t part,
                              size_t n_parts, float *d_params)
{
    assert(ws->dz[0] != NULL && n <= ws->max_batch && part < n_parts);
    double ss = 0.0;
    for (size_t i = 0; i < m->n_layers; i++) {
        size_t in = m->in_dim[i], out = m->out_dim[i];
        size_t o0 = part * out / n_parts, o1 = (part + 1) * out / n_parts;
        if (o1 == o0) {
            continue;
        }
        const float *dz = ws->dz[i], *a_prev = i == 0 ? ws->in : ws->act[i - 1];
        float *dw = d_params + m->w_off[i] + o0 * in, *db = d_params + m->b_off[i];
        /* dW[o0:o1, :] = dz[:, o0:o1]^T (o1-o0, n) a_prev (n, in), overwriting */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int) (o1 - o0), (int) in, (int) n,
                    1.0f, dz + o0, (int) out, a_prev, (int) in, 0.0f, dw, (int) in);
        for (size_t o = o0; o < o1; o++) {
            db[o] = 0.0f;
        }
        for (size_t r = 0; r < n; r++) {
            const float *row = dz + r * out;
            for (size_t o = o0; o < o1; o++) {
                db[o] += row[o];
            }
        }
        ss += mf_sumsq(dw, (o1 - o0) * in) + mf_sumsq(db + o0, o1 - o0);
    }
    return ss;
}
