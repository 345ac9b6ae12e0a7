/* SPDX-License-Identifier: MIT */
/*
 * mlp.h - the reference score network of DESIGN.md.
 *
 *   input  = [x (D), emb(t) (E), c (C)]            (concatenated, in that order)
 *   layers = Linear(D+E+C, H_1) -> SiLU -> ... -> Linear(H_k, O)
 *
 * O = D for an eps network; O = 1 for a potential network (potential.h), whose
 * forward gives the scalar and whose derivatives that file computes.
 *
 * emb(t)_j = sin(t f_j), emb(t)_{E/2+j} = cos(t f_j), f_j = exp(-ln(10000) j/(E/2)),
 * t the 0-based integer timestep as a float.
 *
 * Parameters live in ONE 64-byte aligned block of n_params floats, laid out
 * layer by layer as PyTorch's state_dict orders them: layers.0.weight (H_1,
 * D+E+C) row-major, layers.0.bias (H_1), layers.1.weight, ...  Gradients and
 * Adam moments are plain float arrays of the same length and layout, so the
 * optimiser, clipping, EMA and the model file are flat loops over n_params.
 *
 * Threading: an mf_mlp is read-only during forward/backward and may be shared
 * by threads; each thread needs its own mf_mlp_ws.  Nothing here allocates
 * after mf_mlp_ws_new.
 */
#ifndef MF_MLP_H
#define MF_MLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define MF_MLP_MAX_HIDDEN 8
#define MF_MLP_MAX_LAYERS (MF_MLP_MAX_HIDDEN + 1)
#define MF_MLP_MAX_WIDTH  8192 /* any single dimension (D, E, C, H_i) */

typedef struct mf_mlp_config {
    uint32_t data_dim;                  /* D >= 1 */
    uint32_t cond_dim;                  /* C >= 0 (0: unconditional) */
    uint32_t emb_dim;                   /* E, even, >= 2 */
    uint32_t n_hidden;                  /* k >= 1 hidden layers */
    uint32_t hidden[MF_MLP_MAX_HIDDEN]; /* H_1 .. H_k */
    uint32_t out_dim;                   /* 0: output D (an eps network); 1: a scalar (a
                                           potential, potential.h); nothing else */
} mf_mlp_config;

typedef struct mf_mlp {
    mf_mlp_config cfg;
    size_t n_layers;                  /* k + 1 linear layers */
    size_t in_dim[MF_MLP_MAX_LAYERS]; /* fan-in of layer i */
    size_t out_dim[MF_MLP_MAX_LAYERS];
    size_t w_off[MF_MLP_MAX_LAYERS]; /* offset of layers.i.weight in the block */
    size_t b_off[MF_MLP_MAX_LAYERS]; /* offset of layers.i.bias */
    size_t n_params;
    float *params; /* owned, 64-byte aligned, n_params floats */
    float *freqs;  /* owned, E/2 embedding frequencies (float32, as PyTorch) */
} mf_mlp;

/** Checks a configuration: every dimension in range, E even, k in 1..MF_MLP_MAX_HIDDEN. */
MF_MUST_CHECK mf_err mf_mlp_config_check(const mf_mlp_config *cfg);

/** Number of parameters of a configuration (0 if invalid). */
size_t mf_mlp_config_n_params(const mf_mlp_config *cfg);

/** Total input width D + E + C. */
size_t mf_mlp_config_in_dim(const mf_mlp_config *cfg);

/** Output width: out_dim, or D when it is 0. */
size_t mf_mlp_config_out_dim(const mf_mlp_config *cfg);

/**
 * The layout of a configuration without its parameters: every field of ret but params
 * and freqs (NULL).  What a model file must hold for that network, known before anything
 * is allocated (the loader checks a file against it first).  Not a network to run; free
 * nothing.  Errors: MF_EINVAL (bad config, ret NULL).
 */
MF_MUST_CHECK mf_err mf_mlp_layout(const mf_mlp_config *cfg, mf_mlp *ret);

/**
 * Allocates a network with all parameters zero.  Errors: MF_EINVAL (bad
 * config), MF_ENOMEM.  *ret is written only on success; free with mf_mlp_free.
 */
MF_MUST_CHECK mf_err mf_mlp_new(const mf_mlp_config *cfg, mf_mlp **ret);

/** Frees a network; accepts NULL. */
void mf_mlp_free(mf_mlp *m);

/** A copy with its own parameter block (MF_ENOMEM). */
MF_MUST_CHECK mf_err mf_mlp_clone(const mf_mlp *m, mf_mlp **ret);

/**
 * A conditional network from an unconditional parent: the parent's configuration with
 * cond_dim C, its weights copied, and the C new input columns of layer 0 zero.  The
 * condition then adds W_c c = 0 to the first pre-activation, so for any c the new
 * network computes the parent's eps(x, t), exactly in real arithmetic and to float
 * rounding in practice (a GEMM over D + E + C inputs may block its sums otherwise
 * than over D + E; small D takes the sgemm path instead of the thin-input kernel),
 * until training moves those columns.  Errors: MF_EINVAL (parent
 * conditional, C 0 or > MF_MLP_MAX_WIDTH), MF_ENOMEM.  *ret only on success.
 */
MF_MUST_CHECK mf_err mf_mlp_new_cond_from(const mf_mlp *parent, uint32_t cond_dim, mf_mlp **ret);

/**
 * PyTorch's default nn.Linear initialisation, from a seed:
 * W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
 */
void mf_mlp_init_params(mf_mlp *m, uint64_t seed);

/** The sinusoidal embedding of one timestep: out (E). */
void mf_mlp_embed(const mf_mlp *m, float t, float *out);

/** The same embedding for any even width E without a network (the same float values). */
void mf_mlp_embed_width(uint32_t E, float t, float *out);

/**
 * Layer 0's part that depends on t alone, for passes that share one t: u (H_1) =
 * W_e emb(t) + b_0, W_e the columns D..D+E-1 of W_0; emb (E) receives emb(t).  The float
 * path's shared-t forward and bf16_net.h's both hoist it out of the per-row work.
 */
void mf_mlp_time_bias(const mf_mlp *m, float t, float *emb, float *u);

/* ---- workspace ------------------------------------------------------------------ */

typedef struct mf_mlp_ws mf_mlp_ws;

/**
 * Scratch for batches of up to max_batch rows.  with_backward keeps what the
 * backward pass needs (input, activations, sigmoids).  Errors: MF_EINVAL,
 * MF_ERANGE (sizes overflow), MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_mlp_ws_new(const mf_mlp *m, size_t max_batch, bool with_backward,
                                   mf_mlp_ws **ret);
/**
 * A forward-only workspace that snapshots the weights at creation.  For
 * batches of at most MF_MLP_SMALL_BATCH rows, on CPUs where it pays
 * (AVX-512), the hidden layers then run a register-blocked kernel over
 * transposed copies of their weights instead of sgemm (OpenBLAS's packing
 * dominates at 16 rows).  Valid only while m's parameters do not change:
 * make one per sampling call.  Errors as mf_mlp_ws_new.
 */
MF_MUST_CHECK mf_err mf_mlp_ws_new_frozen(const mf_mlp *m, size_t max_batch, mf_mlp_ws **ret);

#define MF_MLP_SMALL_BATCH 32

/**
 * A training workspace for data-parallel steps (core/train.h): with_backward,
 * plus storage for every layer's output gradient of all max_batch rows, so
 * threads can run forward and backward on disjoint row ranges of it and then
 * the parameter gradients as one GEMM per layer over all rows
 * (mf_mlp_param_grad_part).  Errors as mf_mlp_ws_new.
 */
MF_MUST_CHECK mf_err mf_mlp_ws_new_split(const mf_mlp *m, size_t max_batch, mf_mlp_ws **ret);

void mf_mlp_ws_free(mf_mlp_ws *ws);
size_t mf_mlp_ws_max_batch(const mf_mlp_ws *ws);

/* ---- forward / backward --------------------------------------------------------- */

/**
 * out = eps_theta(x, t_i, c) for n rows with per-row timesteps.
 * x: (n, D)   t: (n) timesteps as floats   c: (n, C) or NULL when C = 0
 * out: (n, D).  n <= max batch of ws.  Saves what backward needs when the
 * workspace was made with_backward.
 */
void mf_mlp_forward(const mf_mlp *m, mf_mlp_ws *ws, const float *x, const float *t, const float *c,
                    size_t n, float *out);

/**
 * mf_mlp_forward for workspace rows [r0, r0 + n): x, t, c and out are those
 * rows' own arrays.  Disjoint row ranges of one workspace may run concurrently.
 */
void mf_mlp_forward_rows(const mf_mlp *m, mf_mlp_ws *ws, size_t r0, const float *x, const float *t,
                         const float *c, size_t n, float *out);

/**
 * The same with one timestep shared by every row (sampling): the embedding
 * part of the first layer, W_emb emb(t) + b, is computed once per call instead
 * of once per row.
 */
void mf_mlp_forward_shared_t(const mf_mlp *m, mf_mlp_ws *ws, const float *x, float t,
                             const float *c, size_t n, float *out);

/**
 * Backward of the last forward on ws (which must be with_backward).
 * d_out: (n, D) = dL/d out.  Accumulates (+=) dL/d params into d_params
 * (n_params, same layout as params) unless NULL, and dL/d x into d_x (n, D)
 * unless NULL: with d_params NULL this is the vector-Jacobian product
 * d_x += J_x(eps)^T d_out that Adjoint Matching needs.
 */
void mf_mlp_backward(const mf_mlp *m, mf_mlp_ws *ws, const float *d_out, size_t n, float *d_params,
                     float *d_x);

/**
 * Backward of workspace rows [r0, r0 + n) of a split workspace after
 * mf_mlp_forward_rows, without parameter gradients: keeps each layer's output
 * gradient for mf_mlp_param_grad_part, and adds J_x^T d_out into d_x (n, D)
 * unless NULL.  d_out: (n, D).  Disjoint row ranges may run concurrently.
 */
void mf_mlp_backward_rows(const mf_mlp *m, mf_mlp_ws *ws, size_t r0, const float *d_out, size_t n,
                          float *d_x);

/**
 * Parameter gradients of rows [0, n) of a split workspace, after their
 * backward: part `part` of n_parts computes output rows
 * [part out_i / n_parts, (part + 1) out_i / n_parts) of every layer's weight
 * and bias gradient as one GEMM over all n rows, OVERWRITING those entries of
 * d_params (unlike mf_mlp_backward, which accumulates).  Parts touch disjoint
 * entries and may run concurrently; together they write all of d_params.
 * Returns the sum of squares of the entries it wrote (for gradient clipping).
 */
double mf_mlp_param_grad_part(const mf_mlp *m, const mf_mlp_ws *ws, size_t n, size_t part,
                              size_t n_parts, float *d_params);

#endif /* MF_MLP_H */
