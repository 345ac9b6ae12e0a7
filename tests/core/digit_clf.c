/* SPDX-License-Identifier: MIT */
/*
 * digit_clf.c - the softmax digit classifier of digit_clf.h on core's MLP.
 */
#include "digit_clf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "optim.h"
#include "rng.h"

#define CHUNK 256        /* rows per forward (the workspace's batch) */
#define PIX   64         /* 8x8 pixels */
#define NORM  8.0f       /* (p - 8) / 8 maps pixels 0..16 to [-1, 1] */
#define EMB   2          /* the smallest time embedding; t = 0 makes it (0, 1) */
#define WARM  50         /* warm-up steps */
#define TAG_B 0x62617463 /* "batc": the batch stream under the seed */

struct digit_clf {
    mf_mlp *net;
    mf_mlp_ws *ws;
    float zero_x[CHUNK * DIGIT_CLF_K]; /* the network's x input, always 0 */
    float t[CHUNK];                    /* timesteps, always 0 */
    float c[CHUNK * PIX];              /* normalised images of a chunk */
};

static digit_clf *clf_new(const digit_clf_opts *o)
{
    mf_mlp_config cfg = {
        .data_dim = DIGIT_CLF_K, .cond_dim = PIX, .emb_dim = EMB, .n_hidden = o->n_hidden};
    memcpy(cfg.hidden, o->hidden, sizeof cfg.hidden);
    digit_clf *c = calloc(1, sizeof *c);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(mf_mlp_new(&cfg, &c->net), MF_OK);
    ck_assert_int_eq(mf_mlp_ws_new(c->net, CHUNK, true, &c->ws), MF_OK);
    mf_mlp_init_params(c->net, o->seed);
    return c;
}

void digit_clf_free(digit_clf *c)
{
    if (c == NULL) {
        return;
    }
    mf_mlp_ws_free(c->ws);
    mf_mlp_free(c->net);
    free(c);
}

/* Forward of n <= CHUNK images (their rows of x are given by idx, or 0..n-1 when NULL). */
static void forward(digit_clf *c, const float *x, const size_t *idx, size_t n, float *z)
{
    for (size_t r = 0; r < n; r++) {
        const float *img = x + (idx != NULL ? idx[r] : r) * PIX;
        for (size_t p = 0; p < PIX; p++) {
            c->c[r * PIX + p] = (img[p] - NORM) / NORM;
        }
    }
    mf_mlp_forward(c->net, c->ws, c->zero_x, c->t, c->c, n, z);
}

/*
 * Turns the logits z (n, K) in place into dL/dz = (softmax(z) - onehot(y)) / n and
 * returns the mean cross entropy.  The largest logit is subtracted before exp, so
 * exp never overflows: log softmax(z)_y = z_y - m - log sum_k exp(z_k - m).
 */
static double softmax_xent_grad(float *z, const uint8_t *y, const size_t *idx, size_t n)
{
    double loss = 0.0;
    for (size_t r = 0; r < n; r++) {
        float *zr = z + r * DIGIT_CLF_K;
        float m = zr[0];
        for (size_t k = 1; k < DIGIT_CLF_K; k++) {
            m = zr[k] > m ? zr[k] : m;
        }
        double s = 0.0;
        for (size_t k = 0; k < DIGIT_CLF_K; k++) {
            s += exp((double) (zr[k] - m));
        }
        size_t label = y[idx[r]];
        loss += log(s) - (double) (zr[label] - m);
        for (size_t k = 0; k < DIGIT_CLF_K; k++) {
            double p = exp((double) (zr[k] - m)) / s;
            zr[k] = (float) ((p - (k == label ? 1.0 : 0.0)) / (double) n);
        }
    }
    return loss / (double) n;
}

digit_clf *digit_clf_train(const digit_clf_opts *o, const float *x, const uint8_t *y, size_t n,
                           double *ret_loss)
{
    ck_assert(n >= 1 && o->batch >= 1 && o->steps >= 1);
    digit_clf *c = clf_new(o);
    size_t np = c->net->n_params, B = o->batch < n ? o->batch : n;
    B = B < CHUNK ? B : CHUNK;
    float *grad = malloc(np * sizeof *grad), *m1 = calloc(np, sizeof *m1);
    float *m2 = calloc(np, sizeof *m2);
    ck_assert(grad != NULL && m1 != NULL && m2 != NULL);
    mf_adam adam = {.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .m = m1, .v = m2};
    mf_rng rb = mf_rng_derive(mf_rng_make(o->seed), TAG_B);
    size_t idx[CHUNK];
    float z[CHUNK * DIGIT_CLF_K];
    double loss = 0.0;
    for (size_t k = 0; k < o->steps; k++) {
        for (size_t j = 0; j < B; j++) {
            idx[j] = mf_rng_below(rb, (uint64_t) (k * B + j), (uint32_t) n);
        }
        forward(c, x, idx, B, z);
        loss = softmax_xent_grad(z, y, idx, B);
        memset(grad, 0, np * sizeof *grad);
        mf_mlp_backward(c->net, c->ws, z, B, grad, NULL);
        for (size_t i = 0; i < np; i++) {
            grad[i] += o->wd * c->net->params[i];
        }
        float lr = mf_lr_at(MF_LR_COSINE, o->lr, o->lr / 100.0f, WARM, k, o->steps);
        mf_adam_step(&adam, c->net->params, grad, np, lr);
    }
    free(grad);
    free(m1);
    free(m2);
    if (ret_loss != NULL) {
        *ret_loss = loss;
    }
    return c;
}

void digit_clf_logits(digit_clf *c, const float *x, size_t n, float *z)
{
    for (size_t r0 = 0; r0 < n; r0 += CHUNK) {
        size_t m = n - r0 < CHUNK ? n - r0 : CHUNK;
        forward(c, x + r0 * PIX, NULL, m, z + r0 * DIGIT_CLF_K);
    }
}

void digit_clf_predict(digit_clf *c, const float *x, size_t n, uint8_t *pred)
{
    float z[CHUNK * DIGIT_CLF_K];
    for (size_t r0 = 0; r0 < n; r0 += CHUNK) {
        size_t m = n - r0 < CHUNK ? n - r0 : CHUNK;
        forward(c, x + r0 * PIX, NULL, m, z);
        for (size_t r = 0; r < m; r++) {
            uint8_t best = 0;
            for (uint8_t k = 1; k < DIGIT_CLF_K; k++) {
                best = z[r * DIGIT_CLF_K + k] > z[r * DIGIT_CLF_K + best] ? k : best;
            }
            pred[r0 + r] = best;
        }
    }
}

double digit_clf_accuracy(digit_clf *c, const float *x, const uint8_t *y, size_t n)
{
    uint8_t *pred = malloc(n);
    ck_assert_ptr_nonnull(pred);
    digit_clf_predict(c, x, n, pred);
    size_t hit = 0;
    for (size_t i = 0; i < n; i++) {
        hit += pred[i] == y[i];
    }
    free(pred);
    return (double) hit / (double) n;
}
