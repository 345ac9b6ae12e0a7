/* SPDX-License-Identifier: MIT */
/*
 * guidance.h - guided noise prediction for reward-conditioned models
 * (reference/other-seeds.md §1.2 step 4), usable by every sampler: the guided
 * predictor is an mf_eps_fn.
 *
 * The condition (core/model_file.h, mf_model_cond).  A target reward a becomes
 * c_0 = (a - cond_offset) / cond_scale, the offset and scale being the mean and
 * standard deviation of the pseudo-labels the model was trained on (so c_0 is
 * of order 1 like the network's other inputs).  Two conventions:
 *   indicator  C = 2, condition [c_0, 1], null condition [0, 0];
 *   none       C = 1, condition [c_0], no null condition (no CFG).
 * Why the indicator column: with C = 1 a null condition of 0 is also the
 * condition of the target a = cond_offset, the average reward, so the network
 * could not tell "no condition" from "average reward".  With the indicator the
 * null is a point no real condition takes.  Training with label dropout
 * (Ho & Salimans 2022) replaces a row's condition by the null with probability
 * p_uncond; the null condition is the zero vector in both conventions.
 *
 * Modes, per row i with condition c_i and target a_i (model space x, data
 * space x_d = data_offset + data_scale x):
 *   COND    eps~ = eps(x, t, c_i)
 *   CFG     eps~ = (1 + w) eps(x, t, c_i) - w eps(x, t, null)
 *   REWARD  eps~ = eps(x, t, c_i) + sqrt(1 - ab_t) w grad_x (1/2) (a_i - f(x_d))^2
 *           (RCGDM's reward-gradient guidance; f is the reward model, on data
 *           space; on an unconditional network c_i is absent).
 * REWARD's derivation.  Guidance adds grad log p(y = a | x_t) to the score, with
 * log p(y = a | x) = -w (1/2) (a - f(x_d))^2 + const, so
 *     s~ = s - w grad_x g,  g(x) = (1/2) (a - f(x_d))^2,
 * and with s = -eps / sqrt(1 - ab):  eps~ = eps + sqrt(1 - ab) w grad_x g.  The
 * chain rule through x_d = offset + scale x gives
 *     grad_x g = -(a - f(x_d)) scale grad f(x_d) = (f(x_d) - a) scale grad f(x_d),
 * so eps~ = eps + sqrt(1 - ab) w scale (f(x_d) - a) grad f(x_d).  Where f < a the
 * noise estimate moves against grad f, so the denoised estimate
 * x0 = (x - sqrt(1 - ab) eps~) / sqrt(ab) moves along it: towards higher reward.
 * As in RCGDM's released code, f is read at the noisy x_t itself.
 *
 * w = 0 skips the extra work (CFG's null pass, the reward gradient), so it gives
 * exactly the COND samples.
 *
 * Threading: an mf_guide is plain data, read only; an mf_guide_eps_ctx is one
 * thread's (its scratch and workspaces).
 */
#ifndef MF_GUIDANCE_H
#define MF_GUIDANCE_H

#include <stddef.h>

#include "err.h"
#include "mlp.h"
#include "model_file.h"
#include "reward.h"
#include "sampler.h"
#include "schedule.h"

typedef enum mf_guide_mode {
    MF_GUIDE_COND = 0,   /* plain conditioning: eps(x, t, c) */
    MF_GUIDE_CFG = 1,    /* classifier-free: (1 + w) eps(x, t, c) - w eps(x, t, null) */
    MF_GUIDE_REWARD = 2, /* reward-gradient guidance with a reward model */
} mf_guide_mode;

/** "cond", "cfg", "reward"; "unknown" for other values. */
const char *mf_guide_mode_name(mf_guide_mode mode);

/** The same names by mf_guide_mode, NULL-terminated (for tables of names). */
extern const char *const mf_guide_mode_names[];

/** Parses a mode name.  Errors: MF_ENOTFOUND (anything else, NULL).  *ret only on success. */
MF_MUST_CHECK mf_err mf_guide_mode_lookup(const char *name, mf_guide_mode *ret);

/* What to guide with, for the n rows of one sampling call.  Borrowed pointers. */
typedef struct mf_guide {
    mf_guide_mode mode;
    float w;                       /* guidance weight (CFG, REWARD), finite */
    size_t C;                      /* the network's condition width (0: unconditional) */
    const float *cond;             /* (n, C) condition of each row; NULL when C = 0 */
    const float *target;           /* (n) data-space target of each row (REWARD) */
    const mf_reward_model *reward; /* f on data space (REWARD) */
    double data_offset;            /* the model's normalisation: x_d = offset + scale x */
    double data_scale;             /* > 0 */
} mf_guide;

/**
 * Checks g for a network of data width D and condition width net_C: a known mode,
 * finite w, C = net_C with cond given when C > 0, CFG only with C > 0, REWARD with a
 * reward model of input width D and targets, a finite normalisation with scale > 0.
 * Errors: MF_EINVAL.
 */
MF_MUST_CHECK mf_err mf_guide_check(const mf_guide *g, size_t D, size_t net_C);

/**
 * The condition rows of targets a (n, data space) for model m (m->has_cond): row i of
 * cond (n, C) is [c_0] or [c_0, 1] with c_0 = (a_i - cond.offset) / cond.scale.
 * Errors: MF_EINVAL (m not reward-conditioned, or its cond_dim is not the
 * convention's width; NULL pointers with n > 0).  cond is written only on success.
 */
MF_MUST_CHECK mf_err mf_guide_fill_cond(const mf_model *m, const double *a, size_t n, float *cond);

/*
 * The network part of a guided predictor: out (n, D) = eps(x (n, D), t, c (n, C)),
 * c NULL for an unconditional network.  mf_guide_net_eval is the MLP's, with an
 * mf_mlp_eps_ctx as ctx (its c field is ignored).
 */
typedef struct mf_guide_net_fn {
    void (*eval)(void *ctx, const float *x, const float *c, size_t n, float t, float *out);
    void *ctx;
} mf_guide_net_fn;

void mf_guide_net_eval(void *ctx, const float *x, const float *c, size_t n, float t, float *out);

/* A guided predictor: its mf_eps_fn is {mf_guide_eps_eval, &ctx}. */
typedef struct mf_guide_eps_ctx {
    mf_guide_net_fn net;
    const mf_guide *g;
    const mf_schedule *s;
    size_t D, max_rows;
    mf_reward_ws *rws; /* REWARD */
    float *c_null;     /* (max_rows, C) zeros: CFG's null condition */
    float *e_null;     /* (max_rows, D) CFG's unconditional eps */
    float *xd;         /* (max_rows, D) x in data space (REWARD) */
    float *grad;       /* (max_rows, D) grad f (REWARD) */
    float *f;          /* (max_rows) f (REWARD) */
} mf_guide_eps_ctx;

/**
 * Prepares a guided predictor for calls of up to max_rows rows, with the network net
 * and guide g (both borrowed for its lifetime; g's per-row arrays are read at every
 * call, rows 0..n-1 of a call being rows 0..n-1 of them), on schedule s.  All scratch
 * is allocated here.  Errors: MF_EINVAL (mf_guide_check, max_rows 0), MF_ENOMEM; on
 * error nothing needs freeing.
 */
MF_MUST_CHECK mf_err mf_guide_eps_init(mf_guide_eps_ctx *ctx, mf_guide_net_fn net,
                                       const mf_guide *g, const mf_schedule *s, size_t D,
                                       size_t max_rows);

/** Frees the scratch of an initialised predictor. */
void mf_guide_eps_deinit(mf_guide_eps_ctx *ctx);

/** The mf_eps_fn: out (n, D) = guided eps of x (n, D) at t, n <= max_rows. */
void mf_guide_eps_eval(void *ctx, const float *x, size_t n, float t, float *out);

/**
 * mf_sample with net guided by g (NULL: the plain network, which must then be
 * unconditional), x (n, D) in model space: the network runs on a frozen workspace of
 * min(n, 256) rows, like server/par.h's mf_par_sample per chunk, so a chunk of rows
 * gives the rows of a call over all of them.  Errors: MF_EINVAL (mf_guide_check;
 * a conditional net without g), those of mf_sample, MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_guide_sample(const mf_mlp *net, const mf_schedule *s,
                                     const mf_sampler_opts *o, const mf_guide *g, float *x,
                                     size_t n);

/*
 * How guided sampling runs, like evaluate.h's mf_eval_exec: server/par.h's
 * mf_par_guide_exec splits rows over a thread team; NULL or a NULL function runs
 * mf_guide_sample on the calling thread.  Both give the same samples.
 */
typedef struct mf_guide_exec {
    mf_err (*sample)(void *ctx, const mf_mlp *net, const mf_schedule *s, const mf_sampler_opts *o,
                     const mf_guide *g, float *x, size_t n);
    void *ctx;
} mf_guide_exec;

/** Runs ex's sample, or mf_guide_sample when ex or its function is NULL. */
MF_MUST_CHECK mf_err mf_guide_exec_sample(const mf_guide_exec *ex, const mf_mlp *net,
                                          const mf_schedule *s, const mf_sampler_opts *o,
                                          const mf_guide *g, float *x, size_t n);

#endif /* MF_GUIDANCE_H */
