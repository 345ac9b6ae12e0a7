/* SPDX-License-Identifier: MIT */
/*
 * scheduler_impl.h - what the scheduler's files share (private to server/):
 * the job and worker records, the scheduler itself, and the helpers a job
 * type uses to report (events, progress, its final state).  scheduler.c owns
 * the queues, the workers and the sample and train jobs; job_smeme.c the
 * finetune.smeme job.
 */
#ifndef MF_SCHEDULER_IMPL_H
#define MF_SCHEDULER_IMPL_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <uv.h>

#include "dataset.h"
#include "par.h"
#include "rng.h"
#include "scheduler.h"
#include "train.h"

/* ---- jobs in memory ------------------------------------------------------------ */

typedef struct job job;
struct job {
    char id[MF_ID_MAX + 1];
    mf_job_req req;
    mf_reg_model *model; /* sample jobs */
    atomic_int cancel;
    bool started;
    double created_at, queued_mono, started_at;
    uint64_t done, total;
    double last_progress;
    /* sample job */
    float *x;
    size_t next_row;
    /* train job */
    mf_model *tmodel;
    mf_trainer *tr;
    float *batch;
    size_t step;
    double loss_avg;
    float off, sc;
    mf_dataset_id ds;
    /* finetune.smeme job (job_smeme.c) */
    struct smeme_job *smeme;
    job *next;
};

typedef enum { TASK_NONE, TASK_BATCH, TASK_SLICE } task_kind;

typedef struct worker {
    mf_sched *s;
    uv_thread_t thread;
    mf_par *team;
    task_kind task;
    mf_sample_call *batch; /* linked through next */
    job *job;
    bool slice_more;       /* set by the worker: the job wants another slice */
} worker;

struct mf_sched {
    mf_sched_cfg cfg;
    mf_store *store;
    mf_registry *reg;
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t tick;
    uv_thread_t loop_thread;
    uv_mutex_t lock;
    uv_cond_t work_cv; /* workers wait for a task */
    uv_cond_t idle_cv; /* drain waits for idleness */
    worker *workers;
    size_t n_workers;
    /* guarded by lock */
    mf_sample_call *pending, *pending_tail;
    size_t n_pending;
    job *queued, *queued_tail; /* not started, FIFO */
    size_t n_queued;
    job *paused, *paused_tail; /* started, waiting for their next slice */
    size_t n_started;          /* started and not finished (paused or on a worker) */
    bool draining, stopping;
    atomic_int abort_all;      /* drain timeout: cancel what runs */
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

/* ---- for the job types ------------------------------------------------------------ */

/* Appends an event (data: a JSON value, taken) to job id's log and wakes its streams. */
void sched_append_event(mf_sched *s, const char *id, const char *name, json_t *data);
/* Stores j's progress and appends a progress event (at most every 0.5 s unless force). */
void sched_progress_event(mf_sched *s, job *j, const char *phase, bool force);
/* Moves j to a final state; its final status event carries the job object. */
void sched_finish_job(mf_sched *s, job *j, mf_job_state st, const char *result,
                      const char *error, const char *metrics);
/* Fails j with code and the message what ": " strerror(err). */
void sched_fail_job(mf_sched *s, job *j, const char *code, const char *what, mf_err err);
/* Cancels j (by request); message NULL = "cancelled by request". */
void sched_cancel_job(mf_sched *s, job *j, const char *metrics, const char *message);

/* job_smeme.c: checks a finetune.smeme job at submit (takes the parent's reference). */
MF_MUST_CHECK mf_err smeme_job_prepare(mf_sched *s, job *j, char *msg, size_t msg_len,
                                       char *field, size_t field_len);
/* One slice; true when the job wants another. */
bool smeme_job_slice(mf_sched *s, mf_par *team, job *j, double deadline);
void smeme_job_free(job *j);

#endif /* MF_SCHEDULER_IMPL_H */
