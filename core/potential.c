/* SPDX-License-Identifier: MIT */
/*
 * potential.c - forward, tangent and backward passes of potential networks
 * (potential.h has the math).  Row-major batches, one sgemm per layer and pass, as
 * mlp.c; the element-wise parts are plain loops (they are O(n H), the GEMMs O(n H^2)).
 */
#include "potential.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "mem.h"

struct mf_pot_ws {
    size_t max_rows, max_h;
    float *in;                    /* (rows, D+E+C) the network's input */
    float *z[MF_MLP_MAX_HIDDEN];  /* (rows, H_i) pre-activations */
    float *h[MF_MLP_MAX_HIDDEN];  /* phi(z) */
    float *d1[MF_MLP_MAX_HIDDEN]; /* phi'(z) */
    float *d2[MF_MLP_MAX_HIDDEN]; /* phi''(z) */
    float *zd[MF_MLP_MAX_HIDDEN]; /* tangent of z */
    float *hd[MF_MLP_MAX_HIDDEN]; /* tangent of h */
    float *p[2], *q[2];           /* (rows, max H) adjoints of hdot and h, double-buffered */
    float *ones;                  /* (rows) 1 */
    float *v, *hv;                /* (rows, D) the Laplacian's directions and products */
};

bool mf_pot_is_potential(const mf_mlp *m)
{
    return m != NULL && m->cfg.out_dim == 1;
}

mf_err mf_pot_ws_new(const mf_mlp *m, size_t max_rows, mf_pot_ws **ret)
{
    if (!mf_pot_is_potential(m) || max_rows == 0 || ret == NULL) {
        return MF_EINVAL;
    }
    size_t k = m->cfg.n_hidden, max_h = 0;
    for (size_t i = 0; i < k; i++) {
        max_h = m->out_dim[i] > max_h ? m->out_dim[i] : max_h;
    }
    max_h = max_h > m->cfg.data_dim ? max_h : m->cfg.data_dim;
    if (max_rows > SIZE_MAX / 8 / (m->in_dim[0] + max_h)) {
        return MF_ERANGE;
    }
    mf_pot_ws *ws = calloc(1, sizeof *ws);
    if (ws == NULL) {
        return MF_ENOMEM;
    }
    ws->max_rows = max_rows;
    ws->max_h = max_h;
    bool ok = (ws->in = mf_alloc_floats(max_rows * m->in_dim[0])) != NULL &&
              (ws->ones = mf_alloc_floats(max_rows)) != NULL &&
              (ws->v = mf_alloc_floats(max_rows * m->cfg.data_dim)) != NULL &&
              (ws->hv = mf_alloc_floats(max_rows * m->cfg.data_dim)) != NULL;
    for (size_t i = 0; ok && i < k; i++) {
        size_t sz = max_rows * m->out_dim[i];
        ok = (ws->z[i] = mf_alloc_floats(sz)) != NULL && (ws->h[i] = mf_alloc_floats(sz)) != NULL &&
             (ws->d1[i] = mf_alloc_floats(sz)) != NULL &&
             (ws->d2[i] = mf_alloc_floats(sz)) != NULL &&
             (ws->zd[i] = mf_alloc_floats(sz)) != NULL && (ws->hd[i] = mf_alloc_floats(sz)) != NULL;
    }
    for (size_t j = 0; ok && j < 2; j++) {
        ok = (ws->p[j] = mf_alloc_floats(max_rows * max_h)) != NULL &&
             (ws->q[j] = mf_alloc_floats(max_rows * max_h)) != NULL;
    }
    if (!ok) {
        mf_pot_ws_free(ws);
        return MF_ENOMEM;
    }
    for (size_t r = 0; r < max_rows; r++) {
        ws->ones[r] = 1.0f;
    }
    *ret = ws;
    return MF_OK;
}

void mf_pot_ws_free(mf_pot_ws *ws)
{
    if (ws == NULL) {
        return;
    }
    mf_free_aligned(ws->in);
    mf_free_aligned(ws->ones);
    mf_free_aligned(ws->v);
    mf_free_aligned(ws->hv);
    for (size_t i = 0; i < MF_MLP_MAX_HIDDEN; i++) {
        mf_free_aligned(ws->z[i]);
        mf_free_aligned(ws->h[i]);
        mf_free_aligned(ws->d1[i]);
        mf_free_aligned(ws->d2[i]);
        mf_free_aligned(ws->zd[i]);
        mf_free_aligned(ws->hd[i]);
    }
    for (size_t j = 0; j < 2; j++) {
        mf_free_aligned(ws->p[j]);
        mf_free_aligned(ws->q[j]);
    }
    free(ws);
}

size_t mf_pot_ws_max_rows(const mf_pot_ws *ws)
{
    return ws->max_rows;
}

/* C (n, o) = A (n, i) W^T, W (o, i) with row stride ldw; beta as sgemm. */
static void gemm_nt(size_t n, size_t o, size_t i, const float *a, size_t lda, const float *w,
                    size_t ldw, float beta, float *c, size_t ldc)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int) n, (int) o, (int) i, 1.0f, a,
                (int) lda, w, (int) ldw, beta, c, (int) ldc);
}

/* SiLU and its first two derivatives: with s = sigmoid(z),
 * phi = z s,  phi' = s (1 + z (1 - s)),  phi'' = s (1 - s) (2 + z (1 - 2 s)). */
static void silu2(const float *z, size_t len, float *h, float *d1, float *d2)
{
    for (size_t j = 0; j < len; j++) {
        float s = 1.0f / (1.0f + expf(-z[j]));
        h[j] = z[j] * s;
        d1[j] = s * (1.0f + z[j] * (1.0f - s));
        d2[j] = s * (1.0f - s) * (2.0f + z[j] * (1.0f - 2.0f * s));
    }
}

void mf_pot_forward(const mf_mlp *m, mf_pot_ws *ws, const float *x, const float *t, const float *c,
                    size_t n, float *g)
{
    assert(n <= ws->max_rows);
    size_t D = m->cfg.data_dim, E = m->cfg.emb_dim, C = m->cfg.cond_dim, in = m->in_dim[0];
    size_t k = m->cfg.n_hidden;
    for (size_t r = 0; r < n; r++) {
        float *row = ws->in + r * in;
        memcpy(row, x + r * D, D * sizeof(float));
        mf_mlp_embed(m, t[r], row + D);
        if (C > 0) {
            memcpy(row + D + E, c + r * C, C * sizeof(float));
        }
    }
    const float *prev = ws->in;
    size_t prev_w = in;
    for (size_t i = 0; i < k; i++) {
        size_t o = m->out_dim[i];
        const float *b = m->params + m->b_off[i];
        for (size_t r = 0; r < n; r++) {
            memcpy(ws->z[i] + r * o, b, o * sizeof(float));
        }
        gemm_nt(n, o, prev_w, prev, prev_w, m->params + m->w_off[i], prev_w, 1.0f, ws->z[i], o);
        silu2(ws->z[i], n * o, ws->h[i], ws->d1[i], ws->d2[i]);
        prev = ws->h[i];
        prev_w = o;
    }
    if (g != NULL) { /* g = h_{k-1} w_k + b_k */
        float bk = m->params[m->b_off[k]];
        for (size_t r = 0; r < n; r++) {
            g[r] = bk;
        }
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int) n, (int) prev_w, 1.0f, prev, (int) prev_w,
                    m->params + m->w_off[k], 1, 1.0f, g, 1);
    }
}

/* zdot and hdot of every hidden layer for the input direction v (n, D). */
static void tangent(const mf_mlp *m, mf_pot_ws *ws, size_t n, const float *v)
{
    size_t D = m->cfg.data_dim, k = m->cfg.n_hidden;
    const float *prev = v;
    size_t prev_w = D, ldw = m->in_dim[0]; /* layer 0: only its first D columns see v */
    for (size_t i = 0; i < k; i++) {
        size_t o = m->out_dim[i];
        gemm_nt(n, o, prev_w, prev, prev_w, m->params + m->w_off[i], ldw, 0.0f, ws->zd[i], o);
        for (size_t j = 0; j < n * o; j++) {
            ws->hd[i][j] = ws->d1[i][j] * ws->zd[i][j];
        }
        prev = ws->hd[i];
        prev_w = ldw = o;
    }
}

/* Column sums of a (n, o) added into out (o): a bias gradient. */
static void add_col_sums(const float *a, size_t n, size_t o, const float *ones, float *out)
{
    cblas_sgemv(CblasRowMajor, CblasTrans, (int) n, (int) o, 1.0f, a, (int) o, ones, 1, 1.0f, out,
                1);
}

void mf_pot_backward(const mf_mlp *m, mf_pot_ws *ws, size_t n, const float *alpha, const float *v,
                     float *d_params, float *d_x)
{
    assert(n <= ws->max_rows);
    size_t D = m->cfg.data_dim, k = m->cfg.n_hidden, in = m->in_dim[0];
    bool tan = v != NULL;
    if (tan) {
        tangent(m, ws, n, v);
    }
    /* the output layer: Q = alpha w_k, P = w_k (rows with no tangent have hdot = 0) */
    const float *wk = m->params + m->w_off[k];
    size_t hk = m->in_dim[k];
    size_t cur = 0; /* which of the double buffers holds this layer's P and Q */
    float *p = ws->p[cur], *q = ws->q[cur];
    for (size_t r = 0; r < n; r++) {
        float a = alpha != NULL ? alpha[r] : 0.0f;
        for (size_t j = 0; j < hk; j++) {
            q[r * hk + j] = a * wk[j];
            p[r * hk + j] = wk[j];
        }
    }
    if (d_params != NULL) {
        float *dwk = d_params + m->w_off[k];
        if (alpha != NULL) {
            cblas_sgemv(CblasRowMajor, CblasTrans, (int) n, (int) hk, 1.0f, ws->h[k - 1], (int) hk,
                        alpha, 1, 1.0f, dwk, 1);
            for (size_t r = 0; r < n; r++) {
                d_params[m->b_off[k]] += alpha[r];
            }
        }
        if (tan) {
            add_col_sums(ws->hd[k - 1], n, hk, ws->ones, dwk);
        }
    }
    for (size_t i = k; i-- > 0;) {
        size_t o = m->out_dim[i], iw = m->in_dim[i];
        const float *z_d1 = ws->d1[i], *z_d2 = ws->d2[i], *zd = ws->zd[i];
        /* b = Q phi' + P phi'' zdot (into q), then a = P phi' (into p) */
        for (size_t j = 0; j < n * o; j++) {
            float bj = q[j] * z_d1[j];
            if (tan) {
                bj += p[j] * z_d2[j] * zd[j];
                p[j] *= z_d1[j];
            }
            q[j] = bj;
        }
        const float *w = m->params + m->w_off[i];
        if (d_params != NULL) {
            float *dw = d_params + m->w_off[i];
            const float *hprev = i > 0 ? ws->h[i - 1] : ws->in;
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int) o, (int) iw, (int) n, 1.0f,
                        q, (int) o, hprev, (int) iw, 1.0f, dw, (int) iw);
            add_col_sums(q, n, o, ws->ones, d_params + m->b_off[i]);
            if (tan) { /* layer 0's tangent input is v in its first D columns */
                const float *hdprev = i > 0 ? ws->hd[i - 1] : v;
                size_t wd = i > 0 ? iw : D;
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int) o, (int) wd, (int) n,
                            1.0f, p, (int) o, hdprev, (int) wd, 1.0f, dw, (int) iw);
            }
        }
        if (i > 0) { /* Q_{i-1} = b W_i, P_{i-1} = a W_i */
            cur = 1 - cur;
            float *q2 = ws->q[cur], *p2 = ws->p[cur];
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int) n, (int) iw, (int) o, 1.0f,
                        q, (int) o, w, (int) iw, 0.0f, q2, (int) iw);
            if (tan) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int) n, (int) iw, (int) o,
                            1.0f, p, (int) o, w, (int) iw, 0.0f, p2, (int) iw);
            }
            q = q2;
            p = p2;
        } else if (d_x != NULL) { /* d x += b_0 W_0[:, :D] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int) n, (int) D, (int) o, 1.0f,
                        q, (int) o, w, (int) in, 1.0f, d_x, (int) D);
        }
    }
}

void mf_pot_grad_x(const mf_mlp *m, mf_pot_ws *ws, size_t n, float *grad)
{
    memset(grad, 0, n * m->cfg.data_dim * sizeof(float));
    mf_pot_backward(m, ws, n, ws->ones, NULL, NULL, grad);
}

void mf_pot_laplacian(const mf_mlp *m, mf_pot_ws *ws, size_t n, float *lap)
{
    size_t D = m->cfg.data_dim;
    float *v = ws->v, *hv = ws->hv;
    memset(lap, 0, n * sizeof(float));
    for (size_t i = 0; i < D; i++) {
        memset(v, 0, n * D * sizeof(float));
        memset(hv, 0, n * D * sizeof(float));
        for (size_t r = 0; r < n; r++) {
            v[r * D + i] = 1.0f;
        }
        mf_pot_backward(m, ws, n, NULL, v, NULL, hv);
        for (size_t r = 0; r < n; r++) {
            lap[r] += hv[r * D + i];
        }
    }
}

void mf_pot_eps_rows(const mf_mlp *m, mf_pot_ws *ws, const float *x, float t, const float *c,
                     size_t rows, float *t_rows, float *out)
{
    for (size_t r = 0; r < rows; r++) {
        t_rows[r] = t;
    }
    mf_pot_forward(m, ws, x, t_rows, c, rows, NULL);
    mf_pot_grad_x(m, ws, rows, out);
    for (size_t j = 0; j < rows * m->cfg.data_dim; j++) {
        out[j] = -out[j];
    }
}

void mf_pot_eps_eval(void *ctx, const float *x, size_t n, float t, float *out)
{
    mf_pot_eps_ctx *e = ctx;
    size_t D = e->net->cfg.data_dim, C = e->net->cfg.cond_dim, mb = e->ws->max_rows;
    for (size_t r0 = 0; r0 < n; r0 += mb) { /* in chunks of the workspace's rows */
        size_t rows = n - r0 < mb ? n - r0 : mb;
        mf_pot_eps_rows(e->net, e->ws, x + r0 * D, t, e->c != NULL ? e->c + r0 * C : NULL, rows,
                        e->t_rows, out + r0 * D);
    }
}

#define SAMPLE_ROWS 256 /* rows per pass: what the eps networks' sampling uses */

mf_err mf_pot_sample(const mf_mlp *net, const mf_schedule *s, const mf_sampler_opts *o, float *x,
                     size_t n)
{
    if (!mf_pot_is_potential(net) || net->cfg.cond_dim > 0 || n == 0) {
        return MF_EINVAL;
    }
    size_t rows = n < SAMPLE_ROWS ? n : SAMPLE_ROWS;
    mf_pot_eps_ctx e = {.net = net, .c = NULL, .t_rows = mf_alloc_floats(rows)};
    mf_err err = e.t_rows != NULL ? mf_pot_ws_new(net, rows, &e.ws) : MF_ENOMEM;
    if (err == MF_OK) {
        err = mf_sample(s, (mf_eps_fn){.eval = mf_pot_eps_eval, .ctx = &e}, o, x, n,
                        net->cfg.data_dim);
    }
    mf_pot_ws_free(e.ws);
    mf_free_aligned(e.t_rows);
    return err;
}

double mf_pot_sigma(const mf_schedule *s, double tau)
{
    double beta, abar;
    mf_schedule_ct(s, tau, &beta, &abar);
    return sqrt(1.0 - abar);
}
