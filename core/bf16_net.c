/* SPDX-License-Identifier: MIT */
/* bf16_net.c - an eps network's forward pass in bf16 (bf16_net.h). */
#include "bf16_net.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "mem.h"

/*
 * Up to this D, the first and last layers compute in float: they are D multiply-adds per
 * output, too narrow for the bf16 kernels, and with x and the output rounded to bf16
 * DDIM blurred imbalanced_square's sharp edges: kNN and histogram entropy +0.023 and
 * +0.026 nats over float, past the gate's 0.02 (tests/core/test_bf16_net.c); float
 * ends: <= 0.006.  The first layer's output, like every hidden one, is stored in bf16
 * (mf_bf16_thin_in_silu: float arithmetic, SiLU and the rounding in one pass, not a
 * float store and a conversion in layer 1: W1 1.38x -> 1.13x of its GEMM-only time);
 * the output layer reads the last hidden layer's float output (mlp.c's kernel).
 * Measured on one thread, sampling, before that fusion: W1 2.58x and W4 2.15x float
 * (1.61x and 1.44x with bf16 ends).
 */
#define F32_LAYER0_MAX_D MF_BF16_THIN_MAX_D

struct mf_bf16_net {
    const mf_mlp *m;
    size_t max_rows, n_layers;
    mf_bf16_linear *layer[MF_MLP_MAX_LAYERS];
    mf_bf16 *act[2]; /* (max_rows, widest hidden) ping-pong bf16 activations */
    float *z0;       /* (max_rows, H_1) layer 0's float output (thin, one hidden layer) */
    float *zk;       /* (max_rows, H_k) the last hidden layer's float output (thin nets) */
    bool thin;       /* D <= F32_LAYER0_MAX_D: first and last layers in float */
    float *emb, *u;  /* (E) the embedding; (H_1) layer 0's hoisted bias */
    float *w0t;      /* (D, H_1) layer 0's x columns, contiguous (thin nets) */
    float *u_table;  /* (n_table, H_1) u at t = 0..n_table-1 (mf_bf16_net_tabulate); owned
                        by a tabulated net, read by the nets made like it; NULL: none */
    size_t n_table;
    bool owns_table;
    mf_err err; /* the first failed pass of mf_bf16_eps_eval */
};

void mf_bf16_net_free(mf_bf16_net *b)
{
    if (b == NULL) {
        return;
    }
    for (size_t i = 0; i < b->n_layers; i++) {
        mf_bf16_linear_free(b->layer[i]);
    }
    mf_free_aligned(b->act[0]);
    mf_free_aligned(b->act[1]);
    mf_free_aligned(b->z0);
    mf_free_aligned(b->zk);
    mf_free_aligned(b->emb);
    mf_free_aligned(b->u);
    mf_free_aligned(b->w0t);
    if (b->owns_table) {
        mf_free_aligned(b->u_table);
    }
    free(b);
}

/* m's layers, converted (proto NULL) or over proto's converted weights. */
static mf_err net_make(const mf_mlp *m, const mf_bf16_net *proto, size_t max_rows,
                       mf_bf16_net **ret)
{
    if (m == NULL || max_rows == 0 || m->cfg.cond_dim != 0 || m->cfg.out_dim != 0) {
        return MF_EINVAL;
    }
    mf_bf16_net *b = calloc(1, sizeof *b);
    if (b == NULL) {
        return MF_ENOMEM;
    }
    b->m = m;
    b->max_rows = max_rows;
    b->n_layers = m->n_layers;
    size_t k = m->cfg.n_hidden, widest = 0;
    for (size_t i = 0; i < k; i++) {
        widest = m->out_dim[i] > widest ? m->out_dim[i] : widest;
    }
    mf_err err = MF_OK;
    bool thin = m->cfg.data_dim <= F32_LAYER0_MAX_D;
    b->thin = thin;
    if (thin && ((k == 1 && (b->z0 = mf_alloc_floats(max_rows * m->out_dim[0])) == NULL) ||
                 (b->zk = mf_alloc_floats(max_rows * m->in_dim[k])) == NULL)) {
        err = MF_ENOMEM;
    }
    for (size_t i = thin ? 1 : 0; err == MF_OK && i < (thin ? k : b->n_layers); i++) {
        /* layer 0 over x's D columns of its rows (ld: the full input); then bf16 to bf16;
         * the last one to float, no activation */
        mf_bf16_linear_opts o = {
            .silu = i < k, .f32_input = i == 0, .f32_output = i == k || (thin && i + 1 == k)};
        size_t in = i == 0 ? m->cfg.data_dim : m->in_dim[i];
        err = proto != NULL ? mf_bf16_linear_new_like(proto->layer[i], max_rows, &b->layer[i])
                            : mf_bf16_linear_new(m->params + m->w_off[i], m->in_dim[i],
                                                 m->params + m->b_off[i], m->out_dim[i], in,
                                                 max_rows, &o, &b->layer[i]);
    }
    if (err == MF_OK &&
        ((b->act[0] = (mf_bf16 *) mf_alloc_floats((max_rows * widest + 1) / 2)) == NULL ||
         (b->act[1] = (mf_bf16 *) mf_alloc_floats((max_rows * widest + 1) / 2)) == NULL ||
         (b->emb = mf_alloc_floats(m->cfg.emb_dim)) == NULL ||
         (b->u = mf_alloc_floats(m->out_dim[0])) == NULL)) {
        err = MF_ENOMEM;
    }
    if (err == MF_OK && thin) {
        size_t D = m->cfg.data_dim, h0 = m->out_dim[0];
        if ((b->w0t = mf_alloc_floats(D * h0)) == NULL) {
            err = MF_ENOMEM;
        }
        for (size_t j = 0; err == MF_OK && j < h0; j++) {
            for (size_t d = 0; d < D; d++) {
                b->w0t[d * h0 + j] = m->params[m->w_off[0] + j * m->in_dim[0] + d];
            }
        }
    }
    if (err == MF_OK && proto != NULL) { /* proto's table, read only */
        b->u_table = proto->u_table;
        b->n_table = proto->n_table;
    }
    if (err != MF_OK) {
        mf_bf16_net_free(b);
        return err;
    }
    *ret = b;
    return MF_OK;
}

mf_err mf_bf16_net_new(const mf_mlp *m, size_t max_rows, mf_bf16_net **ret)
{
    return net_make(m, NULL, max_rows, ret);
}

mf_err mf_bf16_net_new_like(const mf_bf16_net *proto, size_t max_rows, mf_bf16_net **ret)
{
    return proto == NULL ? MF_EINVAL : net_make(proto->m, proto, max_rows, ret);
}

mf_err mf_bf16_net_tabulate(mf_bf16_net *b, size_t n_t)
{
    if (b == NULL || n_t == 0 || b->u_table != NULL) {
        return MF_EINVAL;
    }
    size_t h0 = b->m->out_dim[0];
    float *tab = mf_alloc_floats(n_t * h0);
    if (tab == NULL) {
        return MF_ENOMEM;
    }
    for (size_t t = 0; t < n_t; t++) {
        mf_mlp_time_bias(b->m, (float) t, b->emb, tab + t * h0);
    }
    b->u_table = tab;
    b->n_table = n_t;
    b->owns_table = true;
    return MF_OK;
}

mf_err mf_bf16_net_forward_shared_t(mf_bf16_net *b, const float *x, float t, size_t n, float *out)
{
    const mf_mlp *m = b->m;
    size_t D = m->cfg.data_dim, h0 = m->out_dim[0], in0 = m->in_dim[0];
    /* u = W_e emb(t) + b_0 once per call: the table's row for an integer t it holds */
    if (b->u_table != NULL && t >= 0.0f && t < (float) b->n_table && t == floorf(t)) {
        memcpy(b->u, b->u_table + (size_t) t * h0, h0 * sizeof(float));
    } else {
        mf_mlp_time_bias(m, t, b->emb, b->u);
    }
    if (b->layer[0] != NULL) {
        mf_bf16_linear_set_bias(b->layer[0], b->u);
    }
    for (size_t r0 = 0; r0 < n; r0 += b->max_rows) {
        size_t rows = n - r0 < b->max_rows ? n - r0 : b->max_rows;
        const void *src = x + r0 * D;
        size_t first = 0;
        size_t last = b->n_layers;
        if (b->thin && b->z0 != NULL) { /* one hidden layer: layer 0 in float, mlp.c's */
            mf_k_thin_in_silu(b->z0, NULL, x + r0 * D, D, m->params + m->w_off[0], in0, b->u, rows,
                              h0);
            first = last = 1;
        } else if (b->thin) { /* layer 0's float arithmetic, its output bf16 for layer 1 */
            mf_bf16_thin_in_silu(b->act[0], x + r0 * D, D, b->w0t, b->u, rows, h0);
            src = b->act[0];
            first = 1;
            last = b->n_layers - 1;
        }
        for (size_t i = first; i < last; i++) {
            void *dst = i + 1 == b->n_layers              ? (void *) (out + r0 * D)
                        : b->thin && i + 2 == b->n_layers ? (void *) b->zk
                                                          : (void *) b->act[i % 2];
            mf_err err = mf_bf16_linear_run(b->layer[i], src, rows, dst);
            if (err != MF_OK) {
                return err;
            }
            src = dst;
        }
        if (b->thin) { /* the output layer in float: out = h W_k^T + b_k, h the last hidden
                        * layer's output (layer 0's with one hidden layer) */
            size_t k = b->n_layers - 1;
            const float *h = b->z0 != NULL ? b->z0 : b->zk;
            mf_k_thin_out(out + r0 * D, h, m->params + m->w_off[k], m->params + m->b_off[k], rows,
                          m->in_dim[k], D);
        }
    }
    return MF_OK;
}

void mf_bf16_eps_eval(void *ctx, const float *x, size_t n, float t, float *out)
{
    mf_bf16_net *b = ctx;
    mf_err err = mf_bf16_net_forward_shared_t(b, x, t, n, out);
    if (err != MF_OK) {
        if (b->err == MF_OK) {
            b->err = err;
        }
        memset(out, 0, n * b->m->cfg.data_dim * sizeof(float)); /* the call fails below */
    }
}

mf_precision mf_precision_effective(const mf_mlp *m, mf_precision want, bool guided,
                                    const char **why)
{
    const char *w = "";
    if (want == MF_PRECISION_BF16) {
        if (!mf_bf16_supported()) {
            w = "this CPU has no bf16 instructions (AVX-512 BF16; or MF_NO_BF16 is set): ran in "
                "f32";
        } else if (m->cfg.out_dim != 0) {
            w = "potential models sample in f32";
        } else if (m->cfg.cond_dim != 0 || guided) {
            w = "conditional and guided sampling run in f32";
        }
    }
    if (why != NULL) {
        *why = w;
    }
    return want == MF_PRECISION_BF16 && w[0] == '\0' ? MF_PRECISION_BF16 : MF_PRECISION_F32;
}

mf_err mf_bf16_sample(const mf_mlp *m, const mf_schedule *s, const mf_sampler_opts *o, float *x,
                      size_t n)
{
    mf_bf16_net *b = NULL;
    size_t rows = n < MF_BF16_SAMPLE_ROWS ? n : MF_BF16_SAMPLE_ROWS;
    /* m's layers made once (a registered model's), else converted for this call; also
     * when oneDNN wants another weight layout for this row count than the made ones' */
    mf_err err =
        o->bf16 != NULL && o->bf16->m == m ? mf_bf16_net_new_like(o->bf16, rows, &b) : MF_EINVAL;
    if (err != MF_OK) {
        err = mf_bf16_net_new(m, rows, &b);
    }
    if (err == MF_OK) {
        err =
            mf_sample(s, (mf_eps_fn){.eval = mf_bf16_eps_eval, .ctx = b}, o, x, n, m->cfg.data_dim);
    }
    if (err == MF_OK && b->err != MF_OK) {
        err = MF_EINTERNAL;
    }
    mf_bf16_net_free(b);
    return err;
}
