/* SPDX-License-Identifier: MIT */
/*
 * job_type.h - what a job type is, and what it may do with its job.
 *
 * A job type (h2o's handler idea: a struct of callbacks, one file each) is a
 * descriptor: its codec (proto/jobs/: name, whether it takes a model, its
 * params), the size of its private state, and four callbacks the scheduler
 * calls.  The scheduler owns the job (queues, workers, the store, the
 * time slices) and names no job type; a job type sees its job only through
 * the functions below, so it includes no scheduler internals.
 *
 * Life of a job, and which callback runs where:
 *   submit, and again at restart for a job stored queued:
 *       prepare      on the calling thread; the parent model (codec
 *                    model: required, or optional and given) is already held; checks the params
 * against it and fills what the daemon decides (a default, a drawn seed): the params are stored
 * again after it. first slice:     the scheduler marks it running in the store; every slice: slice,
 * on a worker with its team; runs until the deadline (monotonic seconds, server/clock.h) or the
 *                    end.  It returns MF_JOB_DONE after reporting the job
 *                    succeeded or failed, or MF_JOB_MORE to get another slice
 *                    (also when it saw mf_job_stop_requested: it stops at a
 *                    step boundary with its state consistent).
 *   cancel:          a started job asked to stop, between slices (on its
 *                    worker, or on the cancelling thread when the job was
 *                    paused; mf_job_team is then NULL): publishes what is
 *                    finished (a fine-tune's done iterations as a model) and
 *                    reports the job cancelled (mf_job_cancel).  NULL:
 *                    nothing to publish.
 *   deinit:          always, last; frees the private state whatever became
 *                    of the job, also a half-built one (prepare failed, or
 *                    it never ran).
 *
 * Adding a job type: a codec in proto/jobs/, a file here, and one line in
 * each table (proto/jobs/job_codecs.c, server/jobs/job_types.c).
 */
#ifndef MF_JOB_TYPE_H
#define MF_JOB_TYPE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"
#include "job_codec.h"
#include "model_file.h"
#include "par.h"
#include "registry.h"

typedef struct mf_job mf_job;

typedef enum mf_job_step {
    MF_JOB_MORE = 0, /* give it another slice */
    MF_JOB_DONE = 1, /* it reported its final state */
} mf_job_step;

typedef struct mf_job_type {
    const mf_job_codec *codec; /* name, whether it reads a model, params (proto/jobs/) */
    size_t state_size;         /* bytes of the private state (zeroed), 0 = none */
    /** Checks and completes the job at submit and restart; errors fill d (code, field). */
    MF_MUST_CHECK mf_err (*prepare)(mf_job *j, mf_diag *d);
    /** Runs until deadline; see above. */
    mf_job_step (*slice)(mf_job *j, double deadline);
    /** Publishes finished work and reports the cancel; NULL = plain cancel. */
    void (*cancel)(mf_job *j);
    /** Frees the private state (half-built too); NULL = nothing to free. */
    void (*deinit)(mf_job *j);
} mf_job_type;

/** Every job type this build runs, NULL-terminated (job_types.c). */
extern const mf_job_type *const mf_job_types[];

/** The type whose codec is named name, or NULL. */
const mf_job_type *mf_job_type_lookup(const char *name);

/* ---- what a job is ------------------------------------------------------------------ */

/** The job's id ("job-..."; set before prepare, the same at every restart). */
const char *mf_job_id(const mf_job *j);

/**
 * Where prepare writes the job's compute estimate (FLOPs, from its budget check):
 * what its key's daily budget is charged at submit.
 */
double *mf_job_flops(mf_job *j);

/** The API key that submitted it, which owns what it makes ("" = none). */
const char *mf_job_owner(const mf_job *j);

/** Its type's name ("sample", "train", ...). */
const char *mf_job_type_name(const mf_job *j);

/** The id of the model it reads ("" for a type without one). */
const char *mf_job_model_id(const mf_job *j);

/** That model, held for the job's whole life; NULL for a type without one. */
const mf_model *mf_job_model(const mf_job *j);

/** The decoded params (the codec's struct); the job may complete them in prepare. */
void *mf_job_params(mf_job *j);

/** The canonical params JSON as stored (valid after prepare). */
const char *mf_job_params_json(const mf_job *j);

/** The private state (state_size zeroed bytes, NULL when 0). */
void *mf_job_priv(mf_job *j);

/** The team of the worker running this slice (slice only; NULL elsewhere). */
mf_par *mf_job_team(mf_job *j);

/** The model registry (to publish a model the job made, to find checkpoints' directory). */
mf_registry *mf_job_registry(mf_job *j);

/** The daemon's static request limits. */
const mf_req_limits *mf_job_limits(const mf_job *j);

/**
 * The arithmetic of a job's forward-only passes (evaluation samples, S-MEME's and DxMI's
 * rollouts): the daemon's --precision; core runs bf16 only where it can.
 */
mf_precision mf_job_precision(const mf_job *j);

/** A fresh random seed below 2^53 (a sample job without one). */
uint64_t mf_job_random_seed(mf_job *j);

/**
 * true when the job should stop at its next step boundary: it was cancelled
 * (the scheduler then calls the type's cancel), or the daemon is stopping and
 * cannot wait (the job then stays running in the store and runs again at the
 * next start, from its checkpoint when it has one).
 */
bool mf_job_stop_requested(const mf_job *j);

/** The cancel flag for core's loops (mf_sampler_opts.cancel and the like). */
const atomic_int *mf_job_cancel_flag(const mf_job *j);

/* The most model ids one job reserves (mf_job_reserve_model). */
#define MF_JOB_MAX_RESERVED 16

/**
 * Whether model name is this job's own: its provenance starts with "manifoldd
 * <type> job <id>" (mf_ft_publish) and the job's owner owns it.  A model of
 * the job found at its start was published by an earlier attempt that
 * stopped before the job's end was stored.
 */
bool mf_job_made_model(mf_job *j, const char *name);

/** "manifoldd <type> job <id>": what made a model, the start of its provenance; snprintf's
 *  count. */
int mf_job_provenance(const mf_job *j, char *buf, size_t cap);

/**
 * Reserves name, the id of a model the job will publish (a client's
 * out_model, at field), for this job until it ends, so that no other job of
 * this daemon is accepted for it.  Errors: MF_EBUSY with code model_exists
 * when a model has that id already (unless this job made it: mf_job_made_model)
 * or another job reserved it (d filled);
 * MF_ERANGE past MF_JOB_MAX_RESERVED names.  Call it from prepare; a name the
 * job reserved already is fine.
 */
MF_MUST_CHECK mf_err mf_job_reserve_model(mf_job *j, const char *name, const char *field,
                                          mf_diag *d);

/**
 * The job's latest stored metrics (JSON text, malloc'd; NULL when none), for a
 * job resumed after a crash to see what it had reported.
 */
char *mf_job_stored_metrics(mf_job *j);

/* ---- what a job reports ------------------------------------------------------------- */

/** Appends an event (data: a JSON value, taken; NULL = out of memory, logged) to the job's log. */
void mf_job_event(mf_job *j, const char *name, json_t *data);

/**
 * Sets the job's progress (done of total, in the type's unit: rows, steps,
 * rounds) and, at most every 0.5 s unless force, stores it and appends a
 * progress event with phase.  phase NULL: only sets it (no store, no event).
 */
void mf_job_progress(mf_job *j, uint64_t done, uint64_t total, const char *phase, bool force);

/** Replaces the job's latest metrics (JSON text, copied) in the store. */
void mf_job_metrics(mf_job *j, const char *metrics);

/** Counts n samples the job generated (for /metrics). */
void mf_job_count_samples(mf_job *j, uint64_t n);

/**
 * Ends the job as succeeded with result (JSON object text); the final status
 * event carries the job object as GET shows it (with the last metrics
 * reported through mf_job_metrics).
 */
void mf_job_succeed(mf_job *j, const char *result);

/** Ends the job as failed: error {code, message = what ": " strerror(err)}. */
void mf_job_fail(mf_job *j, const char *code, const char *what, mf_err err);

/** Ends the job as cancelled, with message (NULL: "cancelled by request"). */
void mf_job_cancel(mf_job *j, const char *message);

#endif /* MF_JOB_TYPE_H */
