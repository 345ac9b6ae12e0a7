/* SPDX-License-Identifier: MIT */
/*
 * scheduler.h - the scheduler: one libuv loop thread owns the queues, a pool of
 * compute workers runs the work.
 *
 * Work comes in two kinds.  Sampling calls (POST /v1/samples) wait in memory
 * and are batched (sample_batch.h): when a worker frees up, every waiting call
 * with the same batching key (up to max_batch_rows rows) runs as ONE
 * segmented sampler run.  Score calls (POST /v1/scores, score_call.h) wait
 * and batch the same way, by model; of the two kinds the older waiting call
 * goes first.  Jobs (POST /v1/jobs) live in the store; they run in
 * time slices of slice_seconds and go back to the loop between slices, so a
 * waiting sampling call never waits for more than one slice of a long job.
 * Sampling calls always go first.  What a job does is its type's business
 * (jobs/job_type.h): the scheduler dispatches through the type's descriptor
 * and names no job type.
 *
 * Cores: workers x team threads (server/par.h) are set once so that their
 * product never exceeds the cores, and OpenBLAS runs single-threaded.
 *
 * Threads: HTTP threads call submit/cancel (they queue a message and wake the
 * loop with uv_async_send); workers call the notify and done callbacks.
 */
#ifndef MF_SCHEDULER_H
#define MF_SCHEDULER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "metrics.h"
#include "registry.h"
#include "request_json.h"
#include "sample_batch.h"
#include "score_call.h"
#include "store.h"

typedef struct mf_sched mf_sched;

typedef struct mf_sched_cfg {
    size_t workers;             /* compute workers (>= 1) */
    size_t team;                /* threads per worker (>= 1) */
    size_t max_queue;           /* queued jobs; more: 503 queue_full */
    size_t max_pending_samples; /* waiting sampling and score calls; more: 503 */
    size_t max_running_jobs;    /* jobs started and not finished at once */
    size_t max_batch_rows;      /* rows of one batched sampler run, points of a score run */
    double slice_seconds;       /* time slice of a job */
    uint32_t max_attempts;      /* a job interrupted by a crash is re-run until this many starts */
    double result_ttl;          /* seconds finished jobs are kept */
    double job_lease_s;         /* a running job's lease (the store's, mf_store_set_lease): renewed
                                 * every third of it, expired ones reclaimed every half (shared
                                 * stores only); 0 = 30 */
    mf_req_limits limits;
} mf_sched_cfg;

mf_sched_cfg mf_sched_cfg_default(void);

/** The daemon's request limits and job budgets (its cfg's), for decoding requests. */
const mf_req_limits *mf_sched_limits(const mf_sched *s);

/* ---- sampling calls (sample_batch.h) --------------------------------------------- */

/**
 * Checks a sampling request against its model and fills the defaults
 * (mf_sample_resolve with the daemon's limits; a missing seed gets a fresh
 * random one).  Errors: MF_ERANGE with d (code "impossible", field under
 * prefix, e.g. "" or "/params").
 */
MF_MUST_CHECK mf_err mf_sched_resolve(mf_sched *s, mf_sample_req *req, const mf_model *m,
                                      const char *prefix, mf_diag *d);

/**
 * Queues a call.  Errors, with d filled: MF_EBUSY (too many waiting: code
 * queue_full), MF_ECANCELED (draining: shutting_down).
 */
MF_MUST_CHECK mf_err mf_sched_sample(mf_sched *s, mf_sample_call *c, mf_diag *d);

/**
 * Queues a score call (score_call.h).  Errors as mf_sched_sample.
 */
MF_MUST_CHECK mf_err mf_sched_score(mf_sched *s, mf_score_call *c, mf_diag *d);

/* ---- jobs ---------------------------------------------------------------------- */

/**
 * Makes a job of the decoded request req (what req holds is taken, success or
 * not) through its type's prepare, stores it queued and queues it; ret_id
 * gets its id and *ret_pos its queue position (0 = next).  Errors, with d
 * filled: MF_EBUSY (queue full: code queue_full), MF_ECANCELED (draining:
 * shutting_down), MF_ENOTFOUND (model: model_not_found), MF_ERANGE (request
 * impossible for the model: impossible), MF_ENOSPC (the job store is full:
 * insufficient_storage), MF_EIO (store), MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_sched_submit(mf_sched *s, mf_job_req *req, char ret_id[MF_ID_MAX + 1],
                                     long *ret_pos, mf_diag *d);

/**
 * Says whether a made job of compute estimate flops may be stored: MF_OK, or
 * an error with d filled (nothing is stored).  The per-key daily budget.
 */
typedef mf_err (*mf_sched_admit_fn)(void *ctx, double flops, mf_diag *d);

/** mf_sched_submit, asking admit(ctx, ...) once the job is made and before it is stored. */
MF_MUST_CHECK mf_err mf_sched_submit_admit(mf_sched *s, mf_job_req *req, mf_sched_admit_fn admit,
                                           void *ctx, char ret_id[MF_ID_MAX + 1], long *ret_pos,
                                           mf_diag *d);

/**
 * Cancels a job: a queued one at once, a running one at its next step
 * boundary (its final event follows).  Already final: MF_OK, nothing changes.
 * A job of this process is cancelled even while the job store cannot write
 * (its end is written once it can).  Errors: MF_ENOTFOUND, MF_ENOSPC and
 * MF_EIO (a job only in the store, which could not take the cancel).
 */
MF_MUST_CHECK mf_err mf_sched_cancel(mf_sched *s, const char *id);

/** true when a running job of this process was asked to stop and has not yet. */
bool mf_sched_cancel_requested(mf_sched *s, const char *id);

/** Queue position of a queued job (0 = next), or -1. */
long mf_sched_queue_position(mf_sched *s, const char *id);

/**
 * Called (from any thread) after every event appended to a job's log, except
 * its first (status queued), which submit writes before anyone knows the id.
 */
void mf_sched_set_event_hook(mf_sched *s, void (*fn)(void *ctx, const char *job_id), void *ctx);

/** Called on the loop thread about once a second (heartbeats, expiry). */
void mf_sched_set_tick_hook(mf_sched *s, void (*fn)(void *ctx), void *ctx);

/* ---- life ------------------------------------------------------------------------ */

/**
 * Recovers the store (jobs left running by a crash), re-queues queued jobs,
 * starts the loop thread and the workers.  Errors: MF_ENOMEM, MF_EINTERNAL,
 * MF_EIO.
 */
MF_MUST_CHECK mf_err mf_sched_start(const mf_sched_cfg *cfg, mf_store *store, mf_registry *reg,
                                    mf_sched **ret);

/**
 * Stops taking work, lets waiting sampling calls and the current slices finish
 * (at most timeout seconds; then running work is cancelled), and stops the
 * threads.  Jobs not finished stay queued or running in the store and resume
 * at the next start.  Returns true when everything finished in time.
 */
bool mf_sched_drain(mf_sched *s, double timeout);

/** Frees a drained scheduler; accepts NULL. */
void mf_sched_free(mf_sched *s);

bool mf_sched_draining(mf_sched *s);

/* ---- statistics (for /metrics) --------------------------------------------------- */

#define MF_SCHED_N_BUCKETS 12
extern const double mf_sched_buckets[MF_SCHED_N_BUCKETS]; /* seconds: upper bounds */

typedef struct mf_hist {
    uint64_t counts[MF_SCHED_N_BUCKETS + 1]; /* last: +Inf */
    double sum;
    uint64_t count;
} mf_hist;

typedef struct mf_sched_stats {
    size_t queued, running, pending_samples, pending_scores, workers, busy_workers;
    uint64_t samples_total, sample_calls_total, batches_total, batched_calls_total;
    uint64_t points_scored_total, score_calls_total;
    uint64_t jobs_finished[5]; /* by mf_job_state (final ones) */
    mf_hist queue_wait, run_time;
    double busy_seconds;          /* worker time spent computing */
    size_t unstored;              /* jobs holding reports the job store did not take */
    bool store_waiting;           /* the job store cannot write: jobs wait */
    uint64_t store_retries_total; /* probes of a job store that could not write */
} mf_sched_stats;

void mf_sched_get_stats(mf_sched *s, mf_sched_stats *ret);

/**
 * Seconds a request refused for a full queue should wait (Retry-After): the
 * time the work ahead needs at the recent pace of batched runs (for_job false) or
 * of jobs (for_job true), between 1 and 60.
 */
unsigned mf_sched_retry_after(mf_sched *s, bool for_job);

/**
 * Seconds until the scheduler tries the job store again, while it cannot
 * write (Retry-After of a 507 insufficient_storage): 1 to 5.
 */
unsigned mf_sched_store_retry_after(mf_sched *s);

#endif /* MF_SCHEDULER_H */
