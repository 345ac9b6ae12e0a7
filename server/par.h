/* SPDX-License-Identifier: MIT */
/*
 * par.h - intra-request parallelism: a fixed team of threads that runs the
 * row-parallel parts of core/ (sampling, data-parallel training steps) on
 * every core, with OpenBLAS single-threaded.
 *
 * Why not OpenBLAS's own threads: on the 2-core machines Manifold targets,
 * splitting the *rows* of a batch across threads, each calling single-
 * threaded sgemm, measured 1.4-2x faster than one thread calling 2-threaded
 * sgemm (bench/RESULTS.md): the SiLU, embedding and thin-layer kernels run in
 * parallel too, each thread's activations stay in its own cache, and no
 * OpenBLAS thread spins between small GEMMs.  core/ stays free of threads:
 * sampling is batch-split invariant by construction (core/sampler.h) and the
 * trainer exposes per-shard gradient phases (core/train.h).
 *
 * Threading contract: a team is used by one caller thread at a time.  The
 * program sets OpenBLAS to one thread (mf_cpu_set_blas_threads(1)) so that
 * team size x BLAS threads never exceeds the cores.
 */
#ifndef MF_PAR_H
#define MF_PAR_H

#include <stddef.h>

#include "err.h"
#include "evaluate.h"
#include "guidance.h"
#include "likelihood.h"
#include "mlp.h"
#include "sampler.h"
#include "schedule.h"
#include "train.h"

typedef struct mf_par mf_par;

/**
 * A team of n_threads (>= 1; the calling thread counts as one, so n_threads - 1
 * threads are started).  Errors: MF_EINVAL (0 or > 256), MF_ENOMEM, MF_EINTERNAL
 * (thread creation failed).
 */
MF_MUST_CHECK mf_err mf_par_new(size_t n_threads, mf_par **ret);

/** Stops and joins the team; accepts NULL. */
void mf_par_free(mf_par *p);

/** Team size, including the caller. */
size_t mf_par_size(const mf_par *p);

/** Runs fn(ctx, i) for every i in [0, n) on the team and returns when all are done. */
void mf_par_for(mf_par *p, size_t n, void (*fn)(void *ctx, size_t i), void *ctx);

/** mf_par_for with the team as void *: core's executor type (core/adjoint.h mf_par_for_fn). */
void mf_par_for_exec(void *team, size_t n, void (*fn)(void *ctx, size_t i), void *ctx);

/**
 * mf_sample with net as the noise predictor, the n rows split into contiguous
 * chunks (at least MF_PAR_MIN_ROWS each) sampled concurrently.  The noise is
 * exactly that of one mf_sample call over all rows, and so are the samples,
 * bitwise, unless a chunk has at most MF_MLP_SMALL_BATCH rows: such a request
 * runs on a frozen small-batch workspace (core/mlp.h) whose kernel sums in
 * another order than sgemm, and agrees to float rounding.  Progress is
 * reported by the first chunk.  Errors: those of mf_sample, MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_par_sample(mf_par *p, const mf_mlp *net, const mf_schedule *s,
                                   const mf_sampler_opts *o, float *x, size_t n);

/**
 * mf_par_sample guided by g (core/guidance.h; NULL: mf_par_sample, which needs an
 * unconditional net): each chunk of rows [r0, r1) samples with its rows' slice of
 * g->cond ((n, C) per row) and g->target ((n) per row), so a batch may mix calls
 * with different targets, and the samples equal one mf_guide_sample call over all
 * rows under the same rule as mf_par_sample (bitwise unless a chunk has at most
 * MF_MLP_SMALL_BATCH rows).  Errors: MF_EINVAL (n 0, mf_guide_check, a conditional
 * net without g, bad segments), those of mf_sample, MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_par_sample_guided(mf_par *p, const mf_mlp *net, const mf_schedule *s,
                                          const mf_sampler_opts *o, const mf_guide *g, float *x,
                                          size_t n);

/*
 * Fewest rows worth a thread of their own.  A chunk samples its rows over all
 * steps with one fork/join per run, so even 8 rows (the small-batch kernel's
 * sweet spot) pay for the split: one W4 request (16 rows) over HTTP answers in
 * 1.5 ms on two threads instead of 2.9 ms on one (bench/RESULTS.md).
 */
#define MF_PAR_MIN_ROWS 8

/**
 * Probability-flow ODE log-densities (core/likelihood.h) with net, rows split
 * like mf_par_sample: sample = false gives mf_ode_loglik of the rows of x,
 * sample = true draws the ODE's samples into x with mf_ode_sample_logp.  Rows
 * are independent (probes and noise by global index), so the results equal one
 * call over all rows.  Progress by the first chunk.  Errors: theirs, MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_par_ode_logp(mf_par *p, const mf_mlp *net, const mf_schedule *s,
                                     const mf_ode_lik_opts *o, bool sample, float *x, size_t n,
                                     double *logp);

/**
 * core/evaluate.h's executor on the team: mf_par_sample and mf_par_ode_logp, its
 * sampling in `precision` where core allows it (mf_eval_exec.precision).  The team is
 * borrowed; the executor is valid while it lives.
 */
mf_eval_exec mf_par_eval_exec(mf_par *p, mf_precision precision);

/** core/guidance.h's executor on the team: mf_par_sample_guided.  The team is borrowed. */
mf_guide_exec mf_par_guide_exec(mf_par *p);

/** One training step with the trainer's shards run concurrently (see core/train.h). */
void mf_par_train_step(mf_par *p, mf_trainer *tr, const float *x0, const float *c, double *ret_loss,
                       double *ret_grad_norm);

#endif /* MF_PAR_H */
