/* SPDX-License-Identifier: MIT */
/*
 * sampler.h - reverse-time samplers for epsilon-prediction DDPM models.
 *
 * All samplers walk a strided grid of S timesteps from T-1 down to 0,
 * t_i = round(i (T-1)/(S-1)), and end at alpha_bar = 1 (x_0 = the denoised
 * estimate of the last step):
 *   MF_SAMPLER_DDIM  DDIM (Song et al. 2021, eq. 12) with any eta in [0, 1];
 *   MF_SAMPLER_DDPM  ancestral sampling with the DDPM posterior variance on the
 *                    grid, which is DDIM with eta = 1 (the memoryless schedule);
 *                    S = T gives the original 1000-step chain;
 *   MF_SAMPLER_ODE   the probability-flow ODE in (sigma, y) = (sqrt((1-ab)/ab),
 *                    x / sqrt(ab)) coordinates, dy/dsigma = eps(x, t), by Heun's
 *                    method (Euler on the last step, where sigma reaches 0).
 * One sampler does not walk the grid:
 *   MF_SAMPLER_VAR   DxMI's short chain of T steps (var_sched.h, opts.var):
 *                    x_{t+1} = xmult_t x_t + cmult_t eps(x_t, tau_t) + sigma_t z
 *                    with the chain's current sigma_t, eps at the continuous
 *                    index tau_t; steps must be var->T.
 * Randomness: the initial noise of sample i, dimension d, is normal number
 * (first_index + i) D + d of a stream derived from the seed; the noise added at
 * grid step k uses another stream derived from (seed, k).  So the same seed
 * gives the same samples whatever the batch split.
 *
 * Segments: one run may carry several independent requests (the daemon
 * batches concurrent requests into one forward pass).  Rows are then cut into
 * consecutive segments, each with its own (seed, first_index), and every row
 * draws its noise from its own segment's streams: the samples of a segment are
 * exactly those of a run of that segment alone.
 */
#ifndef MF_SAMPLER_H
#define MF_SAMPLER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "mlp.h"
#include "schedule.h"
#include "var_sched.h"

/* Stream (under the seed) of the initial noise; the probability-flow
 * likelihood (likelihood.h) draws the same noise from it. */
#define MF_SAMPLER_STREAM_INIT 1
/* Stream of the noise added at step k: mf_rng_derive(mf_rng_derive(root,
 * MF_SAMPLER_STREAM_STEP), k), root = mf_rng_make(seed); same indices. */
#define MF_SAMPLER_STREAM_STEP 2

typedef enum mf_sampler_kind {
    MF_SAMPLER_DDPM = 0,
    MF_SAMPLER_DDIM = 1,
    MF_SAMPLER_ODE = 2,
    /* The daemon runs it only on a model that carries a short chain
     * (server/sample_batch.c: mf_sample_resolve, mf_sample_opts). */
    MF_SAMPLER_VAR = 3,
} mf_sampler_kind;

/** "ddpm", "ddim", "ode", "var"; "unknown" for other values. */
const char *mf_sampler_name(mf_sampler_kind kind);

/** The same names by mf_sampler_kind, NULL-terminated (for tables of names). */
extern const char *const mf_sampler_names[];

/** Parses a sampler name; MF_ENOTFOUND for anything else. */
MF_MUST_CHECK mf_err mf_sampler_lookup(const char *name, mf_sampler_kind *ret);

/**
 * The noise-prediction function: out (n, D) = eps(x (n, D), t) for one timestep
 * t shared by all rows.  ctx is the callback's own state.
 */
typedef struct mf_eps_fn {
    void (*eval)(void *ctx, const float *x, size_t n, float t, float *out);
    void *ctx;
} mf_eps_fn;

/** Called between steps with the number of network evaluations done and planned. */
typedef void (*mf_progress_fn)(void *ctx, size_t done, size_t total);

/* Rows [start, start + rows) of a run, with their own seed and first index. */
typedef struct mf_sample_seg {
    size_t rows;
    uint64_t seed;
    uint64_t first_index;
} mf_sample_seg;

#define MF_SAMPLER_MAX_SEGS 256

/*
 * The arithmetic of the network's forward passes: float, or bf16 with float
 * accumulation (core/bf16_net.h).  bf16 applies where mf_precision_effective allows it;
 * elsewhere the run is float.
 */
typedef enum mf_precision {
    MF_PRECISION_F32 = 0,
    MF_PRECISION_BF16 = 1,
} mf_precision;

/* "f32", "bf16", NULL: by mf_precision. */
extern const char *const mf_precision_names[];

struct mf_bf16_net; /* bf16_net.h */

typedef struct mf_sampler_opts {
    mf_sampler_kind kind;
    mf_precision precision;         /* honoured by mf_guide_sample and the evaluation's sampling */
    const struct mf_bf16_net *bf16; /* bf16 runs: the network's layers made once (a
                                       registered model's, mf_model.bf16); NULL or another
                                       network's: converted per call */
    size_t steps;                   /* S, 1..T; VAR: var->T */
    float eta;                      /* DDIM only, 0..1 */
    const mf_var_sched *var;        /* VAR only (borrowed): the short chain */
    uint64_t seed;
    uint64_t first_index;      /* global index of row 0 (for batch splits) */
    const mf_sample_seg *segs; /* NULL: all rows are one segment (seed, first_index); else
                                  n_segs segments whose rows sum to n (seed, first_index unused) */
    size_t n_segs;             /* 0..MF_SAMPLER_MAX_SEGS */
    const atomic_int *cancel;  /* may be NULL; non-zero stops at the next step */
    mf_progress_fn progress;   /* may be NULL */
    void *progress_ctx;
} mf_sampler_opts;

/** Number of network evaluations a sampler run makes (for progress and budgets). */
size_t mf_sampler_n_evals(const mf_sampler_opts *o);

/**
 * Draws n samples in model space into x (n, D).  Scratch is allocated once at
 * the start, never inside the step loop.  s may be NULL for MF_SAMPLER_VAR
 * (the chain carries what it needs).  Errors: MF_EINVAL (steps 0 or > T,
 * eta outside [0, 1], n or D 0, segments that do not sum to n or more than
 * MF_SAMPLER_MAX_SEGS, an unknown kind; VAR: var NULL or steps != var->T;
 * others: s NULL), MF_ENOMEM, MF_ECANCELED (x then holds the partial state).
 */
MF_MUST_CHECK mf_err mf_sample(const mf_schedule *s, mf_eps_fn eps, const mf_sampler_opts *o,
                               float *x, size_t n, size_t D);

/**
 * The segments of rows [r0, r0 + rows) of a segmented run (for splitting a run
 * into chunks): writes at most MF_SAMPLER_MAX_SEGS into out, first indices
 * advanced to the chunk's rows, and returns their number.  segs NULL: one
 * segment (seed, first_index + r0) of o.  The rows must lie inside the run.
 */
size_t mf_sampler_segs_slice(const mf_sampler_opts *o, size_t r0, size_t rows, mf_sample_seg *out);

/** Grid timestep i (0 = first, the noisiest) of an S-step run; S <= T. */
long mf_sampler_grid_t(size_t T, size_t S, size_t i);

/*
 * Adapter: an MLP as an mf_eps_fn.  Rows are processed in chunks of the
 * workspace's max batch.  c (n, C) may be NULL for unconditional models.
 */
typedef struct mf_mlp_eps_ctx {
    const mf_mlp *net;
    mf_mlp_ws *ws;
    const float *c;
} mf_mlp_eps_ctx;

void mf_mlp_eps_eval(void *ctx, const float *x, size_t n, float t, float *out);

#endif /* MF_SAMPLER_H */
