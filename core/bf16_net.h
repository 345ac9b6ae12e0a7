/* SPDX-License-Identifier: MIT */
/*
 * bf16_net.h - an eps network's forward pass in bf16 for sampling (issue 19): every
 * layer a bf16_linear.h layer (bf16 inputs and weights, float accumulation), the
 * activations between layers stored in bf16, the output in float.
 *
 * Layer 0 takes [x, emb(t)]: with one t per call the embedding's part is hoisted,
 * u = W_e emb(t) + b_0 in float once per call and is the bias of a layer over the D
 * columns of x alone (as mlp.h's float path does); a model's made-once layers keep u
 * for every integer t (mf_bf16_net_tabulate).  Up to 8-D the first and the last layer
 * compute in float (bf16_net.c says why).  The network's weights are converted and
 * reordered once, when the object is made; objects made like it share them.
 *
 * Unconditional eps networks only (C = 0; a potential is refused).  Threading: one
 * object per thread (its layers' scratch is its own).
 */
#ifndef MF_BF16_NET_H
#define MF_BF16_NET_H

#include <stddef.h>

#include "bf16_linear.h"
#include "err.h"
#include "mlp.h"
#include "sampler.h"

typedef struct mf_bf16_net mf_bf16_net;

/* Rows per pass when sampling (the float path's chunk) and of a model's made layers. */
#define MF_BF16_SAMPLE_ROWS 256

/**
 * The bf16 layers of m for up to max_rows rows per pass.  Errors: MF_EINVAL (a
 * conditional network or a potential, max_rows 0), MF_EINTERNAL (oneDNN), MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_bf16_net_new(const mf_mlp *m, size_t max_rows, mf_bf16_net **ret);
void mf_bf16_net_free(mf_bf16_net *b);

/**
 * Layers like proto's (bf16_linear.h mf_bf16_linear_new_like) for up to max_rows rows:
 * proto's converted weights, read and not copied, nothing converted.  A registered
 * model makes its network's layers once (mf_model_make_bf16) and each sampling call
 * makes its own like them: proto is only read, by any number of threads, and outlives
 * them.  Errors: those of mf_bf16_net_new (MF_EINTERNAL also when oneDNN wants another
 * weight layout for max_rows).
 */
MF_MUST_CHECK mf_err mf_bf16_net_new_like(const mf_bf16_net *proto, size_t max_rows,
                                          mf_bf16_net **ret);

/**
 * Computes layer 0's time part u(t) = W_e emb(t) + b_0 for t = 0..n_t-1 once (n_t H_1
 * floats: 1 MB for H_1 = 256 and T = 1,000), which every pass at such a t then reads
 * instead of embedding t and multiplying: a model's made-once layers (mf_model_make_bf16),
 * shared with the nets made like them.  The same arithmetic: the same bits.  Errors:
 * MF_EINVAL (n_t 0, tabulated already), MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_bf16_net_tabulate(mf_bf16_net *b, size_t n_t);

/**
 * out (n, D) = eps(x (n, D), t) for one timestep t shared by all rows (any n: in passes
 * of max_rows).  Errors: those of mf_bf16_linear_run.
 */
MF_MUST_CHECK mf_err mf_bf16_net_forward_shared_t(mf_bf16_net *b, const float *x, float t, size_t n,
                                                  float *out);

/** The samplers' noise prediction (sampler.h mf_eps_fn) with ctx an mf_bf16_net. */
void mf_bf16_eps_eval(void *ctx, const float *x, size_t n, float t, float *out);

/**
 * The precision a run of m asked for `want` gets: bf16 only on a CPU with bf16
 * instructions, for an unconditional eps network sampled without guidance; else f32,
 * and *why (may be NULL) says why in words ("" when the ask is met).
 */
mf_precision mf_precision_effective(const mf_mlp *m, mf_precision want, bool guided,
                                    const char **why);

/**
 * mf_sample in bf16: layers like o->bf16's when it holds m's (a registered model's,
 * made once), else m's network converted for this call.  Errors: those of
 * mf_bf16_net_new and mf_sample; a failed pass (oneDNN) is MF_EINTERNAL.
 */
MF_MUST_CHECK mf_err mf_bf16_sample(const mf_mlp *m, const mf_schedule *s, const mf_sampler_opts *o,
                                    float *x, size_t n);

#endif /* MF_BF16_NET_H */
