/* SPDX-License-Identifier: MIT */
/*
 * reward.h - reward models for reward-directed conditional diffusion
 * (reference/other-seeds.md §1.2 step 1): a scalar f(x) learnt from a few
 * labelled points (x, y), in DATA space (the space samples are returned in,
 * not the network's normalised space), then used to pseudo-label the
 * unlabelled data (§1.2 step 2) and, for reward-gradient guidance, for its
 * input gradient (core/guidance.h).
 *
 * Two kinds, one network shape:
 *   MF_REWARD_RIDGE  f(x) = theta^T x + b, fitted in closed form (double):
 *                    theta = (Xc^T Xc + lambda I)^-1 Xc^T yc on the centred
 *                    training rows, b = mean(y) - theta^T mean(x), so the
 *                    intercept is not penalised; grad f = theta.
 *   MF_REWARD_MLP    Linear(D, H_1) -> SiLU -> ... -> Linear(H_k, 1), trained
 *                    by Adam on the squared error for a fixed number of
 *                    seeded mini-batch steps; grad f by exact backward.
 * Both are stored as layers (ridge: one linear layer, no hidden ones) in one
 * float block laid out as PyTorch's state_dict orders them, weight (out, in)
 * then bias (out) per layer, as mlp.h does: so prediction, the gradient and
 * the model file have one code path.  The MLP is trained on standardised
 * inputs and targets (per-feature mean and std of the training rows), and
 * the standardisation is then folded exactly into the first and last layers
 * (W' = W diag(1/s), b' = b - W' mu; and y = s_y z + mu_y), so the stored
 * network maps raw data-space x to y like the ridge model does.
 *
 * The held-out split: the labelled rows are shuffled by a seeded Fisher-Yates
 * permutation and the first floor(val_frac n) are held out; stats report the
 * training MSE and the held-out R^2 = 1 - SSE/SST (SST about the held-out mean).
 *
 * The same scalar network serves DxMI's energy E(x) and value V(x, t)
 * (dxmi.h), which are trained by their own losses: mf_reward_forward and
 * mf_reward_backward take any per-row upstream gradient, the _rows variants
 * and mf_reward_param_grad_part split a batch over threads.
 *
 * Threading: a fitted model is read-only and may be shared; each thread needs
 * its own mf_reward_ws, or its own row range of one (the _rows functions).
 * Nothing allocates after mf_reward_ws_new.
 */
#ifndef MF_REWARD_H
#define MF_REWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define MF_REWARD_MAX_HIDDEN 4
#define MF_REWARD_MAX_LAYERS (MF_REWARD_MAX_HIDDEN + 1)
#define MF_REWARD_MAX_WIDTH  4096 /* D and every hidden width */

typedef enum mf_reward_kind {
    MF_REWARD_RIDGE = 0,
    MF_REWARD_MLP = 1,
} mf_reward_kind;

/** "ridge", "mlp"; "unknown" for other values. */
const char *mf_reward_kind_name(mf_reward_kind kind);

/** The same names by mf_reward_kind, NULL-terminated (for tables of names). */
extern const char *const mf_reward_kind_names[];

/** Parses a kind name.  Errors: MF_ENOTFOUND (anything else, NULL).  *ret only on success. */
MF_MUST_CHECK mf_err mf_reward_kind_lookup(const char *name, mf_reward_kind *ret);

/* A reward network.  Transparent like mf_mlp; params is owned. */
typedef struct mf_reward_model {
    mf_reward_kind kind;
    size_t D;                             /* input width, data space */
    size_t n_hidden;                      /* 0 (ridge) or 1..MF_REWARD_MAX_HIDDEN (mlp) */
    size_t hidden[MF_REWARD_MAX_HIDDEN];  /* H_1 .. H_k */
    size_t n_layers;                      /* n_hidden + 1 linear layers */
    size_t in_dim[MF_REWARD_MAX_LAYERS];  /* fan-in of layer i */
    size_t out_dim[MF_REWARD_MAX_LAYERS]; /* the last is 1 */
    size_t w_off[MF_REWARD_MAX_LAYERS];   /* offsets of weight (out, in) and bias (out) */
    size_t b_off[MF_REWARD_MAX_LAYERS];
    size_t n_params;
    float *params; /* owned, 64-byte aligned */
} mf_reward_model;

/**
 * A model with all parameters zero: ridge needs n_hidden 0, mlp 1..MF_REWARD_MAX_HIDDEN
 * widths in hidden (n_hidden of them).  Errors: MF_EINVAL (a kind, width or count out of
 * range, D 0 or > MF_REWARD_MAX_WIDTH), MF_ENOMEM.  *ret only on success.
 */
MF_MUST_CHECK mf_err mf_reward_new(mf_reward_kind kind, size_t D, const size_t *hidden,
                                   size_t n_hidden, mf_reward_model **ret);

/**
 * The layout of such a model without its parameters: every field of ret but params
 * (NULL), for checks before anything is allocated (a model file's loader).  Not a model
 * to run; free nothing.  Errors: MF_EINVAL as mf_reward_new, ret NULL.
 */
MF_MUST_CHECK mf_err mf_reward_layout(mf_reward_kind kind, size_t D, const size_t *hidden,
                                      size_t n_hidden, mf_reward_model *ret);

/** A deep copy.  Errors: MF_EINVAL (r NULL), MF_ENOMEM. */
MF_MUST_CHECK mf_err mf_reward_clone(const mf_reward_model *r, mf_reward_model **ret);

/** Frees a model; accepts NULL. */
void mf_reward_free(mf_reward_model *r);

/*
 * Tensor names and shapes of layer i in a model file: ridge "reward.weight" [D] and
 * "reward.bias" [1]; mlp "reward.layers.{i}.weight" [out, in] and
 * "reward.layers.{i}.bias" [out].  The names fit in MF_REWARD_NAME_CAP bytes.
 */
#define MF_REWARD_NAME_CAP 48
void mf_reward_tensor_names(const mf_reward_model *r, size_t layer, char *w_name, char *b_name);

/**
 * The same names under another prefix ("energy": "energy.layers.{i}.weight", ...;
 * ridge "{prefix}.weight").  A prefix of up to MF_REWARD_PREFIX_MAX bytes fits
 * MF_REWARD_NAME_CAP; a longer one is cut.
 */
#define MF_REWARD_PREFIX_MAX 16
void mf_reward_tensor_names_prefix(const mf_reward_model *r, const char *prefix, size_t layer,
                                   char *w_name, char *b_name);

/**
 * PyTorch's default nn.Linear initialisation from a seed, layer by layer:
 * W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (what mf_reward_fit starts an mlp from).
 */
void mf_reward_init_params(mf_reward_model *r, uint64_t seed);

/** The shape of layer i's weight into shape[0..n) and returns n (1 for ridge, else 2). */
size_t mf_reward_weight_shape(const mf_reward_model *r, size_t layer, size_t shape[2]);

/* ---- fitting ---------------------------------------------------------------------- */

typedef struct mf_reward_opts {
    mf_reward_kind kind;                 /* (ridge) */
    double lambda;                       /* ridge penalty on theta, >= 0, finite (1e-3) */
    double val_frac;                     /* share of rows held out, [0, 0.5] (0.2) */
    size_t hidden[MF_REWARD_MAX_HIDDEN]; /* mlp widths, 1..MF_REWARD_MAX_WIDTH (64, 64) */
    size_t n_hidden;                     /* mlp: 1..MF_REWARD_MAX_HIDDEN (2) */
    size_t steps;                        /* mlp: Adam steps, 1..10^7 (2000) */
    size_t batch;                        /* mlp: rows per step, >= 1, capped at n_train (128) */
    double lr;                           /* mlp: peak rate, cosine decay to lr/100, (0, 1] (3e-3) */
    uint64_t seed;                       /* split, initialisation and batches (0) */
} mf_reward_opts;

/** The defaults above. */
mf_reward_opts mf_reward_opts_default(void);

/**
 * Checks every field against the ranges above (the mlp fields only for kind mlp).  On
 * failure diag (may be NULL) names the field in diag->field ("lambda", "hidden", ...).
 * Errors: MF_EINVAL.
 */
MF_MUST_CHECK mf_err mf_reward_opts_check(const mf_reward_opts *o, mf_diag *diag);

typedef struct mf_reward_stats {
    double train_mse; /* mean squared error on the training rows */
    double val_r2;    /* R^2 on the held-out rows; NAN when fewer than 2 or constant y */
    size_t n_train, n_val;
} mf_reward_stats;

/**
 * Fits a reward model on x (n, D) with labels y (n), both data space.
 * Errors: MF_EINVAL (opts rejected, NULL pointers, D 0 or > MF_REWARD_MAX_WIDTH, fewer
 * than 2 training rows), MF_ERANGE (a non-finite x or y; a ridge system that is not
 * positive definite: lambda 0 with fewer independent rows than D; a diverged MLP),
 * MF_ENOMEM.  diag (may be NULL) says which.  *ret and *ret_stats (may be NULL) are
 * written only on success.
 */
MF_MUST_CHECK mf_err mf_reward_fit(const mf_reward_opts *o, const float *x, const float *y,
                                   size_t n, size_t D, mf_reward_model **ret,
                                   mf_reward_stats *ret_stats, mf_diag *diag);

/* ---- evaluation ------------------------------------------------------------------- */

typedef struct mf_reward_ws mf_reward_ws;

/**
 * Scratch for batches of up to max_batch rows (activations kept for the gradient).
 * Errors: MF_EINVAL (max_batch 0), MF_ERANGE, MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_reward_ws_new(const mf_reward_model *r, size_t max_batch,
                                      mf_reward_ws **ret);
void mf_reward_ws_free(mf_reward_ws *ws);
size_t mf_reward_ws_max_batch(const mf_reward_ws *ws);

/**
 * f (n) = f(x) of x (n, D), n <= the workspace's max batch, keeping the
 * activations for mf_reward_backward.
 */
void mf_reward_forward(const mf_reward_model *r, mf_reward_ws *ws, const float *x, size_t n,
                       float *f);

/**
 * Backward of the last mf_reward_forward of these n rows from the per-row
 * upstream gradient df (n) = dL/df: accumulates (+=) dL/d params into d_params
 * (n_params, the params layout) unless NULL, and the first dx_cols
 * (<= D) columns of dL/dx into d_x (n, dx_cols) unless NULL (dx_cols < D:
 * a network on [x, emb(t)] that needs only the x part).  x: the forward's input.
 */
void mf_reward_backward(const mf_reward_model *r, mf_reward_ws *ws, const float *x, const float *df,
                        size_t n, float *d_params, float *d_x, size_t dx_cols);

/*
 * The same for threads: forward and backward of workspace rows [r0, r0 + n)
 * (x, f, df, d_x are those rows' own arrays; disjoint ranges may run
 * concurrently), then the parameter gradients of rows [0, n) split by
 * output rows of each layer.
 */
void mf_reward_forward_rows(const mf_reward_model *r, mf_reward_ws *ws, size_t r0, const float *x,
                            size_t n, float *f);
/** Keeps each layer's gradient for mf_reward_param_grad_part; adds into d_x as above. */
void mf_reward_backward_rows(const mf_reward_model *r, mf_reward_ws *ws, size_t r0, const float *df,
                             size_t n, float *d_x, size_t dx_cols);
/**
 * Part `part` of n_parts of the parameter gradients of rows [0, n), x (n, D)
 * the forward's input: output rows [part out_i / n_parts, (part + 1) out_i /
 * n_parts) of every layer, OVERWRITING those entries of d_params.  Parts touch
 * disjoint entries and may run concurrently.  Returns the sum of squares of
 * the entries it wrote (for gradient clipping).
 */
double mf_reward_param_grad_part(const mf_reward_model *r, const mf_reward_ws *ws, const float *x,
                                 size_t n, size_t part, size_t n_parts, float *d_params);

/** f(x) of n rows x (n, D) into out (n); any n (rows go in chunks of the workspace). */
void mf_reward_predict(const mf_reward_model *r, mf_reward_ws *ws, const float *x, size_t n,
                       float *out);

/**
 * f(x) into f (n) (may be NULL) and the input gradient grad_x f into grad (n, D), for n
 * rows x (n, D): ridge theta in every row; mlp the exact backward of the forward.
 */
void mf_reward_grad(const mf_reward_model *r, mf_reward_ws *ws, const float *x, size_t n, float *f,
                    float *grad);

/**
 * Pseudo-labels y_i = f(x_i) + nu xi_i of x (n, D) into y (n), xi_i = normal variate i
 * of a stream of seed (so a prefix of rows gets the same labels).  Errors: MF_EINVAL
 * (nu < 0 or not finite, NULL pointers), MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_reward_pseudo_labels(const mf_reward_model *r, const float *x, size_t n,
                                             double nu, uint64_t seed, float *y);

#endif /* MF_REWARD_H */
