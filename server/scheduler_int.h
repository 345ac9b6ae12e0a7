/* SPDX-License-Identifier: MIT */
/*
 * scheduler_int.h - what the scheduler's two files share (private to them):
 * the scheduler itself, its workers and job lists.  scheduler.c runs the
 * machine (loop, workers, dispatch, sampling batches, slices, drain);
 * scheduler_jobs.c holds the jobs (submit, cancel, recovery at start, and the
 * host callbacks their reports arrive through); scheduler_store.c waits for a
 * job store that cannot write (back-off, probe, the jobs holding writes it
 * did not take); scheduler_lease.c renews the leases of the jobs it runs,
 * reclaims those of dead replicas and takes queued jobs from a shared store.
 * Job types never see this header (tests/check_layering.sh).
 */
#ifndef MF_SCHEDULER_INT_H
#define MF_SCHEDULER_INT_H

#include <stdatomic.h>
#include <stdbool.h>

#include <uv.h>

#include "backoff.h"
#include "job_impl.h"
#include "par.h"
#include "rng.h"
#include "scheduler.h"

typedef enum {
    TASK_NONE,
    TASK_BATCH,
    TASK_SCORE,
    TASK_SLICE
} task_kind;

typedef struct worker {
    mf_sched *s;
    uv_thread_t thread;
    mf_par *team;
    task_kind task;
    mf_sample_call *batch; /* linked through next */
    mf_score_call *scores; /* linked through next */
    mf_job *job;
} worker;

/* A FIFO of jobs linked through next. */
typedef struct job_list {
    mf_job *head, *tail;
    size_t n;
} job_list;

struct mf_sched {
    mf_sched_cfg cfg;
    mf_store *store;
    mf_registry *reg;
    mf_job_host host; /* what jobs report to (job_impl.h) */
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t tick;
    uv_timer_t retry;          /* wakes the loop to try the job store again (scheduler_store.c) */
    uv_timer_t renew, reclaim; /* job leases (scheduler_lease.c) */
    uv_timer_t take;           /* a shared store's queued jobs (scheduler_lease.c) */
    uv_thread_t loop_thread;
    uv_mutex_t lock;
    uv_mutex_t claim_lock; /* a claim and what it decides: by id (a worker) or the next (loop) */
    uv_cond_t work_cv;     /* workers wait for a task */
    uv_cond_t idle_cv;     /* drain waits for idleness */
    worker *workers;
    size_t n_workers;
    /* guarded by lock */
    mf_sample_queue pending;
    mf_score_queue pending_scores;
    job_list queued;       /* not started */
    job_list paused;       /* started, waiting for their next slice */
    job_list stalled;      /* holding writes the job store did not take: flushed first */
    size_t n_started;      /* jobs holding a running slot (mf_job.slot) */
    mf_backoff store_wait; /* the job store cannot write: no job runs until it takes a probe */
    double store_since;    /* when the wait began (monotonic), for the log */
    bool draining, stopping;
    bool take_now;        /* a running slot freed: look at the shared store's queue at once */
    atomic_int abort_all; /* drain timeout: stop what runs */
    mf_job *reservations; /* jobs holding the model id they will publish (host_reserve) */
    uint64_t id_counter;
    mf_rng id_rng;
    mf_sched_stats stats;
    double batch_s_avg, job_s_avg; /* moving averages of a batched run's and a job's time */
    double last_expire;
    void (*event_hook)(void *ctx, const char *job_id);
    void *event_ctx;
    void (*tick_hook)(void *ctx);
    void *tick_ctx;
};

/** Counts v (seconds) in histogram h. */
void mf__sched_hist_add(mf_hist *h, double v);

/** A moving average over about the last 8 values (the first value starts it). */
double mf__sched_moving_avg(double avg, double v);

/** Appends j to l. */
void mf__sched_list_push(job_list *l, mf_job *j);

/** Puts j first in l (a job whose start must be tried again keeps its place). */
void mf__sched_list_push_front(job_list *l, mf_job *j);

/** Takes the first job of l, or NULL. */
mf_job *mf__sched_list_pop(job_list *l);

/** Lock held: j gives back its running slot, when it holds one (and s->take_now is set). */
void mf__sched_release_slot(mf_sched *s, mf_job *j);

/** Any thread, lock not held: job j, claimed in the store at t, is started: the "running"
 *  status event, the log line, the queue wait. */
void mf__sched_mark_running(mf_sched *s, mf_job *j, double t);

/* ---- scheduler_store.c: a job store that cannot write --------------------------- */

/**
 * A write to the job store failed with err: when it is storage trouble
 * (MF_ENOSPC, MF_EIO), no job runs until the store takes a probe, tried with
 * back-off (0.1 s doubling to 5 s).  Any thread; takes the lock.
 */
void mf__sched_store_failed(mf_sched *s, mf_err err);

/** The wait's back-off (0.1 s doubling to 5 s); first thing at start. */
void mf__sched_store_init(mf_sched *s);

/** Loop thread, lock not held: probes the store when a try is due; arms s->retry for the next. */
void mf__sched_store_retry(mf_sched *s);

/** Lock held: no job may run now (the store cannot write). */
bool mf__sched_store_waiting(const mf_sched *s);

/** Lock held: j, whose writes the store did not all take, waits in s->stalled. */
void mf__sched_stall(mf_sched *s, mf_job *j);

/** A fresh random seed below 2^53 (ctx: the scheduler; the jobs' host's random_seed). */
uint64_t mf__sched_random_seed(void *ctx);

/** The callbacks of the jobs' host (s->host), once s's store and registry are set. */
void mf__sched_host_init(mf_sched *s);

/** Jobs left by the previous process: running ones recovered, queued ones re-queued. */
MF_MUST_CHECK mf_err mf__sched_recover(mf_sched *s);

/** Lock held: the job of id this replica has started (on a worker, paused, stalled), or NULL. */
mf_job *mf__sched_find_started(mf_sched *s, const char *id);

/**
 * Loop thread: job id, just claimed in the store by this replica (claim_next), becomes one
 * of its started jobs: taken from its queue when it is there, else made from its record (a
 * job another replica stored); it waits for its first slice with a running slot.
 */
void mf__sched_adopt(mf_sched *s, const char *id, double t);

/** claim_lock held: job id, just claimed by claim_next, is on a worker that has not claimed
 *  it yet (the queue gave it a moment before): marked taken, it runs there, and true. */
bool mf__sched_adopt_local(mf_sched *s, const char *id);

/** Loop thread: running jobs of dead replicas (expired leases) back to the queue, and here. */
MF_MUST_CHECK mf_err mf__sched_reclaim(mf_sched *s);
/**
 * At the end of a drain that timed out, on a shared store: the jobs this
 * replica started and did not finish go back to the store's queue now (a
 * status event "queued" each; failed when out of attempts), so another
 * replica claims them within its take period instead of a lease later, a
 * fine-tuning job from its checkpoint.  Workers stopped.
 */
MF_MUST_CHECK mf_err mf__sched_hand_back(mf_sched *s);

/* ---- scheduler_lease.c: job leases ------------------------------------------------- */

/** Loop initialised: the lease timers and the shared queue's, when the store is shared
 *  (mf_store_shared). */
void mf__sched_lease_start(mf_sched *s);

/** Loop thread, stopping: closes the lease timers. */
void mf__sched_lease_close(mf_sched *s);

/** Loop thread: when a running slot freed (s->take_now), takes queued jobs from a shared store. */
void mf__sched_take_if_due(mf_sched *s);

#endif /* MF_SCHEDULER_INT_H */
