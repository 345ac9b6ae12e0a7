/* SPDX-License-Identifier: MIT */
/*
 * digit_clf.h - for the digits oracles: a softmax classifier of 8x8 digit
 * images (pixels 0..16) built from core's score network (core/mlp.h) and Adam
 * (core/optim.h), so its forward and backward are the tested ones of core.
 *
 * core's network maps [x (D), emb(t) (E), c (C)] to D outputs.  A classifier of
 * K classes is that network with D = K, E = 2, the normalised image
 * (p - 8) / 8 as the condition c (C = 64), x = 0 and t = 0: the first layer
 * then sees the image plus constants (zero x columns, emb(0) = (sin 0, cos 0) =
 * (0, 1), a second bias), and the K outputs are the logits z.
 *
 * Training: cross entropy L = -(1/n) sum_i log softmax(z_i)_{y_i}, whose
 * gradient at the logits is dL/dz_i = (softmax(z_i) - onehot(y_i)) / n, taken
 * back through mf_mlp_backward; an L2 penalty (wd/2) |theta|^2 adds wd theta;
 * Adam with a linear warm-up and a cosine decay to lr / 100 (mf_lr_at), on
 * mini-batches drawn with replacement from a seeded stream.
 *
 * Not thread-safe: a classifier owns one workspace.
 */
#ifndef MF_TEST_DIGIT_CLF_H
#define MF_TEST_DIGIT_CLF_H

#include <stddef.h>
#include <stdint.h>

#include "mlp.h"

#define DIGIT_CLF_K 10 /* classes */

typedef struct digit_clf_opts {
    uint32_t hidden[MF_MLP_MAX_HIDDEN]; /* hidden widths */
    uint32_t n_hidden;                  /* 1..MF_MLP_MAX_HIDDEN */
    size_t steps;                       /* Adam steps */
    size_t batch;                       /* rows per step (capped at n) */
    float lr;                           /* peak rate */
    float wd;                           /* L2 penalty weight */
    uint64_t seed;                      /* initialisation and batches */
} digit_clf_opts;

typedef struct digit_clf digit_clf;

/**
 * Trains a classifier on n images x (n, 64) with labels y (n) in 0..9 and returns it
 * (fails the running Check test on an allocation failure).  *ret_loss (may be NULL):
 * the training cross entropy of the last batch.
 */
digit_clf *digit_clf_train(const digit_clf_opts *o, const float *x, const uint8_t *y, size_t n,
                           double *ret_loss);

/** Frees a classifier; accepts NULL. */
void digit_clf_free(digit_clf *c);

/** The logits z (n, DIGIT_CLF_K) of n images x (n, 64); any n. */
void digit_clf_logits(digit_clf *c, const float *x, size_t n, float *z);

/** The predicted class (the largest logit) of n images into pred (n). */
void digit_clf_predict(digit_clf *c, const float *x, size_t n, uint8_t *pred);

/** The share of n images x (n, 64) whose predicted class is y (n). */
double digit_clf_accuracy(digit_clf *c, const float *x, const uint8_t *y, size_t n);

#endif /* MF_TEST_DIGIT_CLF_H */
