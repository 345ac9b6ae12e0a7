/* SPDX-License-Identifier: MIT */
/*
 * job_impl.h - a job in memory, as the scheduler holds it (private to
 * server/job.c and server/scheduler.c; job types see jobs/job_type.h only).
 *
 * A job lives from submit (or restart) to its final state.  Its reporting
 * functions (job_type.h) write to the job store and call back its host, the
 * scheduler, through mf_job_host: job.c knows nothing of the scheduler's
 * queues or workers, and the scheduler nothing of what a job type does.
 */
#ifndef MF_JOB_IMPL_H
#define MF_JOB_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "job_type.h"
#include "request_json.h"
#include "store.h"

/* What a job needs from its host; every callback may be called from any thread. */
typedef struct mf_job_host {
    mf_store *store;
    mf_registry *reg;
    mf_req_limits limits;
    const atomic_int *abort_all; /* the daemon stops and cannot wait */
    void *ctx;
    /* an event was appended to job_id's log (wakes its streams) */
    void (*notify)(void *ctx, const char *job_id);
    /* j reached final state st (statistics) */
    void (*finished)(void *ctx, mf_job *j, mf_job_state st);
    /* j generated n samples */
    void (*samples)(void *ctx, uint64_t n);
    /* a fresh random seed below 2^53 */
    uint64_t (*random_seed)(void *ctx);
    /* reserves model id name for j, appending it to j->reserved (true; j has room), or
     * copies the id of the job holding it to ret_holder */
    bool (*reserve)(void *ctx, mf_job *j, const char *name, char ret_holder[MF_ID_MAX + 1]);
    /* lets go of j's reservation */
    void (*release)(void *ctx, mf_job *j);
    /* a write of a job to the store failed for a storage reason (err: MF_ENOSPC, MF_EIO):
     * the job keeps it (mf_job_unstored) and the host retries later */
    void (*store_failed)(void *ctx, mf_err err);
} mf_job_host;

/* An event the job store did not take, kept to be appended in its turn. */
typedef struct mf_job_backlog_event {
    struct mf_job_backlog_event *next;
    char name[16];
    char *data;
} mf_job_backlog_event;

/*
 * What a job reported and the job store did not take (it was full): kept in
 * memory, in order, and written by mf_job_flush.  Once anything is kept,
 * later reports are kept behind it, so the event log keeps its order, and the
 * final state goes last.  A job holds at most one slice's reports here: the
 * scheduler gives a job with any no further slice until they are written.
 */
typedef struct mf_job_backlog {
    mf_job_backlog_event *head, *tail;
    char *metrics; /* the latest metrics, or NULL */
    bool progress; /* done and total */
    bool final;    /* the final state, with: */
    mf_job_state state;
    char *result, *error, *event; /* its payloads and final event */
    double finished_at;
} mf_job_backlog;

struct mf_job {
    char id[MF_ID_MAX + 1];
    const mf_job_type *type;
    const mf_job_host *host;
    char model_id[MF_ID_MAX + 1];
    char owner[MF_ID_MAX + 1]; /* the API key that submitted it ("" = none); owns its model */
    double flops;              /* prepare's compute estimate (mf_job_flops) */
    /* the model ids it will publish, reserved (host->reserve) */
    char reserved[MF_JOB_MAX_RESERVED][MF_ID_MAX + 1];
    size_t n_reserved;
    mf_job *reserved_next; /* the host's list of jobs holding reservations */
    mf_reg_model *model;   /* held while the job lives, when the type takes one */
    void *params;          /* the codec's struct */
    char *params_json;
    void *state; /* type->state_size bytes */
    atomic_int cancel;
    bool started;                  /* claimed: running in the store */
    bool taken;                    /* claimed by the scheduler's claim_next (under claim_lock) */
    bool finished;                 /* a final state was reported */
    bool lease_lost;               /* another replica took it over (scheduler: said once) */
    double created_at, started_at; /* Unix seconds */
    double queued_mono;            /* when it was queued (monotonic) */
    uint64_t done, total;
    double last_progress;
    mf_par *team; /* during a slice */
    mf_job_backlog backlog;
    bool slot;    /* the scheduler counts it as started (its lists, its lock) */
    mf_job *next; /* the scheduler's lists */
};

/**
 * A job called id, of the decoded request req (its params and params_json taken, so
 * req holds nothing afterwards) for host: the parent model held when the type
 * takes one, the private state allocated, then prepare run (which sees the
 * id: a job re-made at restart finds what it published before); params_json
 * is re-encoded after prepare.  Errors: MF_ENOTFOUND (model: code
 * model_not_found), prepare's, MF_ENOMEM; d filled.  *ret written on success.
 */
MF_MUST_CHECK mf_err mf_job_new(const mf_job_host *host, const mf_job_type *type, const char *id,
                                mf_job_req *req, mf_job **ret, mf_diag *d);

/** Frees a job (deinit, the model reference, params); accepts NULL and half-built jobs. */
void mf_job_free(mf_job *j);

/** Ends a job as cancelled through its type (what is finished is published). */
void mf_job_cancel_now(mf_job *j);

/** true while the job holds reports the job store did not take. */
bool mf_job_unstored(const mf_job *j);

/**
 * Writes what the job store did not take, in order (events, metrics,
 * progress, final state) and wakes the job's streams.  Stops at the first
 * storage failure (reported to the host; the rest stays kept) and returns it;
 * MF_OK when nothing is left.
 */
MF_MUST_CHECK mf_err mf_job_flush(mf_job *j);

#endif /* MF_JOB_IMPL_H */
