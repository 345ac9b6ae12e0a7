/* SPDX-License-Identifier: MIT */
/*
 * scheduler.c - the scheduler (see scheduler.h).
 *
 * One mutex guards every queue and worker slot; the libuv loop thread does
 * the dispatching (on every uv_async wake-up and on a 1 s timer), HTTP threads
 * only append under the lock and wake it, workers only report back.  Store
 * writes (events, progress) happen on the worker that produces them, through
 * the job's reporting functions (job.c); the store serialises itself.
 *
 * Jobs are in one of three places: queued (not started, FIFO), on a worker
 * (a slice), or paused (started, waiting for their next slice, FIFO).  A
 * worker that frees up takes, in this order: a batch of waiting sampling
 * calls or of waiting score calls (the kind whose oldest call waited longer);
 * a queued job, when fewer than max_running_jobs are started; the
 * paused job that waited longest.  So up to max_running_jobs jobs take turns
 * slice by slice, even on one worker, and a sampling call waits for one slice
 * at most.
 */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "api_json.h"
#include "clock.h"
#include "log.h"
#include "par.h"
#include "rng.h"
#include "sampler.h"
#include "scheduler_int.h"

const double mf_sched_buckets[MF_SCHED_N_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                     0.1,   0.25,   0.5,   1.0,  5.0,   30.0};

void mf__sched_hist_add(mf_hist *h, double v)
{
    size_t b = 0;
    while (b < MF_SCHED_N_BUCKETS && v > mf_sched_buckets[b]) {
        b++;
    }
    h->counts[b]++;
    h->sum += v;
    h->count++;
}

mf_sched_cfg mf_sched_cfg_default(void)
{
    return (mf_sched_cfg){.workers = 1,
                          .team = 2,
                          .max_queue = 256,
                          .max_pending_samples = 1024,
                          .max_running_jobs = 2,
                          .max_batch_rows = 4096,
                          .slice_seconds = 0.2,
                          .max_attempts = 2,
                          .result_ttl = 24 * 3600.0,
                          .job_lease_s = 30,
                          .limits = mf_req_limits_default()};
}

const mf_req_limits *mf_sched_limits(const mf_sched *s)
{
    return &s->cfg.limits;
}

/* A moving average over about the last 8 values (the first value starts it). */
double mf__sched_moving_avg(double avg, double v)
{
    return avg <= 0.0 ? v : avg + (v - avg) / 8.0;
}

void mf__sched_list_push(job_list *l, mf_job *j)
{
    j->next = NULL;
    if (l->tail != NULL) {
        l->tail->next = j;
    } else {
        l->head = j;
    }
    l->tail = j;
    l->n++;
}

void mf__sched_list_push_front(job_list *l, mf_job *j)
{
    j->next = l->head;
    l->head = j;
    if (l->tail == NULL) {
        l->tail = j;
    }
    l->n++;
}

void mf__sched_release_slot(mf_sched *s, mf_job *j)
{
    if (j->slot) {
        j->slot = false;
        s->n_started--;
        s->take_now = true; /* room: a shared store's queue may have a job for it */
    }
}

mf_job *mf__sched_list_pop(job_list *l)
{
    mf_job *j = l->head;
    if (j != NULL) {
        l->head = j->next;
        if (l->head == NULL) {
            l->tail = NULL;
        }
        l->n--;
        j->next = NULL;
    }
    return j;
}

/* ---- sampling calls ---------------------------------------------------------- */

mf_err mf_sched_resolve(mf_sched *s, mf_sample_req *req, const mf_model *m, const char *prefix,
                        mf_diag *d)
{
    uint64_t seed = req->has_seed ? req->seed : mf__sched_random_seed(s);
    return mf_sample_resolve(req, m, &s->cfg.limits, seed, prefix, d);
}

/* Lock held: MF_OK when a call may wait (not draining, room in the queues), else why not. */
static mf_err admit_call(mf_sched *s, const char *what, mf_diag *d)
{
    if (s->draining) {
        return mf_diag_setc(d, MF_ECANCELED, "shutting_down", NULL, "the server is shutting down");
    }
    if (s->pending.n + s->pending_scores.n >= s->cfg.max_pending_samples) {
        return mf_diag_setc(d, MF_EBUSY, "queue_full", NULL,
                            "too many %s requests are waiting; retry shortly", what);
    }
    return MF_OK;
}

mf_err mf_sched_sample(mf_sched *s, mf_sample_call *c, mf_diag *d)
{
    uv_mutex_lock(&s->lock);
    mf_err err = admit_call(s, "sampling", d);
    if (err == MF_OK) {
        c->queued_at = mf_mono_s();
        mf_sample_queue_push(&s->pending, c);
    }
    uv_mutex_unlock(&s->lock);
    if (err == MF_OK) {
        uv_async_send(&s->wake);
    }
    return err;
}

mf_err mf_sched_score(mf_sched *s, mf_score_call *c, mf_diag *d)
{
    uv_mutex_lock(&s->lock);
    mf_err err = admit_call(s, "score", d);
    if (err == MF_OK) {
        c->queued_at = mf_mono_s();
        mf_score_queue_push(&s->pending_scores, c);
    }
    uv_mutex_unlock(&s->lock);
    if (err == MF_OK) {
        uv_async_send(&s->wake);
    }
    return err;
}

/* A call's result, for the statistics (mf_sample_batch_env.account). */
static void account_call(void *ctx, const mf_sample_call *c)
{
    mf_sched *s = ctx;
    uv_mutex_lock(&s->lock);
    mf__sched_hist_add(&s->stats.queue_wait, c->started_at - c->queued_at);
    mf__sched_hist_add(&s->stats.run_time, c->finished_at - c->queued_at);
    s->stats.samples_total += c->err == MF_OK ? c->req.n : 0;
    s->stats.sample_calls_total++;
    uv_mutex_unlock(&s->lock);
}

static void run_batch(worker *w, mf_sample_call *head)
{
    mf_sched *s = w->s;
    size_t n_calls = 0;
    for (mf_sample_call *c = head; c != NULL; c = c->next) {
        n_calls++;
    }
    mf_sample_batch_env env = {.team = w->team,
                               .reg = s->reg,
                               .abort_all = &s->abort_all,
                               .account = account_call,
                               .ctx = s};
    double t0 = mf_mono_s();
    mf_sample_batch_run(&env, head);
    uv_mutex_lock(&s->lock);
    s->batch_s_avg = mf__sched_moving_avg(s->batch_s_avg, mf_mono_s() - t0);
    s->stats.batches_total++;
    s->stats.batched_calls_total += n_calls;
    uv_mutex_unlock(&s->lock);
}

static void run_scores(worker *w, mf_score_call *head)
{
    mf_sched *s = w->s;
    size_t n_calls = 0, points = 0;
    uv_mutex_lock(&s->lock);
    for (mf_score_call *c = head; c != NULL; c = c->next) {
        n_calls++;
        points += c->req.n;
        mf__sched_hist_add(&s->stats.queue_wait, mf_mono_s() - c->queued_at);
    }
    uv_mutex_unlock(&s->lock);
    mf_score_batch_run(w->team, s->reg, head);
    uv_mutex_lock(&s->lock);
    s->stats.score_calls_total += n_calls;
    s->stats.points_scored_total += points;
    uv_mutex_unlock(&s->lock);
}

/* ---- job slices ------------------------------------------------------------- */

typedef enum slice_end {
    SLICE_MORE,    /* wants another slice */
    SLICE_DONE,    /* finished, or nothing to run */
    SLICE_REQUEUE, /* could not be claimed for a storage reason: to be claimed again */
} slice_end;

void mf__sched_mark_running(mf_sched *s, mf_job *j, double t)
{
    j->started = true;
    j->started_at = t;
    uv_mutex_lock(&s->lock);
    mf__sched_hist_add(&s->stats.queue_wait, mf_mono_s() - j->queued_mono);
    uv_mutex_unlock(&s->lock);
    mf_job_event(j, "status", mf_json_event_status(j->id, "running", NULL));
    mf_log(MF_LOG_INFO, NULL, j->id, "job running");
}

/* A slice of job j (after the writes it holds, when it holds some). */
static slice_end run_slice(worker *w, mf_job *j)
{
    mf_sched *s = w->s;
    /* What the store did not take goes first, in order; the job goes on only after it. */
    if (mf_job_unstored(j) && mf_job_flush(j) != MF_OK) {
        return SLICE_MORE;
    }
    if (j->finished) {
        return SLICE_DONE; /* it ended while the store was full: its end is written now */
    }
    if (j->lease_lost) {
        /* another replica took it over (scheduler_lease.c): its run is the job's, and what
         * this one would report is refused anyway; stop computing it here */
        mf_log(MF_LOG_WARN, NULL, j->id, "job dropped here: another replica runs it now");
        return SLICE_DONE;
    }
    if (!j->started) {
        double t = mf_wall_s();
        /* claim_next (scheduler_lease.c) may have claimed it for this replica meanwhile */
        uv_mutex_lock(&s->claim_lock);
        mf_err err = j->taken ? MF_OK : mf_store_job_claim(s->store, j->id, t);
        uv_mutex_unlock(&s->claim_lock);
        if (err == MF_ENOSPC || err == MF_EIO) {
            mf__sched_store_failed(s, err); /* still queued in the store: claimed later */
            return SLICE_REQUEUE;
        }
        if (err != MF_OK) {
            /* cancelled while queued, or (shared store) claimed by another replica: not ours */
            return SLICE_DONE;
        }
        mf__sched_mark_running(s, j, t);
    }
    j->team = w->team;
    if (atomic_load(&j->cancel) == 0 && atomic_load(&s->abort_all) == 0) {
        mf_job_step step = j->type->slice(j, mf_mono_s() + s->cfg.slice_seconds);
        if (step == MF_JOB_DONE && !j->finished) {
            mf_job_fail(j, "internal", "the job ended without a result", MF_EINTERNAL);
        }
    }
    /* A cancel seen at the start of the slice or during it ends the job here,
     * with what it finished; a drain that cannot wait (abort_all) leaves it
     * running in the store, to run again at the next start. */
    if (!j->finished && atomic_load(&j->cancel) != 0) {
        mf_job_cancel_now(j);
    }
    j->team = NULL;
    return j->finished ? SLICE_DONE : SLICE_MORE;
}

/* Lock held: where job j goes after a slice that ended with end. */
static void after_slice(mf_sched *s, mf_job *j, slice_end end)
{
    if (end == SLICE_REQUEUE) {
        mf__sched_release_slot(s, j);
        mf__sched_list_push_front(&s->queued, j);
    } else if (mf_job_unstored(j)) {
        if (j->finished) {
            mf__sched_release_slot(s, j); /* its end is only to be written: room for another */
        }
        mf__sched_stall(s, j);
    } else if (end == SLICE_MORE) {
        mf__sched_list_push(&s->paused, j);
    } else {
        mf__sched_release_slot(s, j);
        uv_mutex_unlock(&s->lock);
        mf_job_free(j);
        uv_mutex_lock(&s->lock);
    }
}

/* ---- workers and dispatch ---------------------------------------------------------- */

static void worker_main(void *arg)
{
    worker *w = arg;
    mf_sched *s = w->s;
    uv_mutex_lock(&s->lock);
    for (;;) {
        while (w->task == TASK_NONE && !s->stopping) {
            uv_cond_wait(&s->work_cv, &s->lock);
        }
        if (w->task == TASK_NONE && s->stopping) {
            break;
        }
        task_kind k = w->task;
        uv_mutex_unlock(&s->lock);
        double t0 = mf_mono_s();
        slice_end end = SLICE_DONE;
        if (k == TASK_BATCH) {
            run_batch(w, w->batch);
        } else if (k == TASK_SCORE) {
            run_scores(w, w->scores);
        } else {
            end = run_slice(w, w->job);
        }
        double busy = mf_mono_s() - t0;
        uv_mutex_lock(&s->lock);
        s->stats.busy_seconds += busy;
        if (k == TASK_SLICE) {
            after_slice(s, w->job, end);
        }
        w->task = TASK_NONE;
        w->batch = NULL;
        w->scores = NULL;
        w->job = NULL;
        uv_cond_broadcast(&s->idle_cv);
        uv_async_send(&s->wake);
    }
    uv_mutex_unlock(&s->lock);
}

/*
 * Lock held: gives every idle worker a task.  Jobs run only while the store
 * writes (scheduler_store.c); then those holding writes it did not take go
 * first, as their reports are older than anything a queued or paused job
 * would write.
 */
static void dispatch(mf_sched *s)
{
    bool assigned = false;
    bool jobs_run = !s->draining && !mf__sched_store_waiting(s);
    for (size_t i = 0; i < s->n_workers; i++) {
        worker *w = &s->workers[i];
        if (w->task != TASK_NONE) {
            continue;
        }
        bool scores_first = s->pending_scores.head != NULL &&
                            (s->pending.head == NULL ||
                             s->pending_scores.head->queued_at < s->pending.head->queued_at);
        if (scores_first) {
            w->scores = mf_score_queue_take(&s->pending_scores, s->cfg.max_batch_rows);
            w->task = TASK_SCORE;
            assigned = true;
        } else if (s->pending.head != NULL) {
            w->batch = mf_sample_queue_take(&s->pending, s->cfg.max_batch_rows);
            w->task = TASK_BATCH;
            assigned = true;
        } else if (s->stalled.head != NULL && jobs_run) {
            w->job = mf__sched_list_pop(&s->stalled);
            w->task = TASK_SLICE;
            assigned = true;
        } else if (s->queued.head != NULL && jobs_run && s->n_started < s->cfg.max_running_jobs) {
            /* Before a paused job: with room for it, a queued job starts now and
             * takes its turns with the others, rather than waiting for them. */
            w->job = mf__sched_list_pop(&s->queued);
            w->job->slot = true;
            s->n_started++;
            w->task = TASK_SLICE;
            assigned = true;
        } else if (s->paused.head != NULL && jobs_run) {
            w->job = mf__sched_list_pop(&s->paused);
            w->task = TASK_SLICE;
            assigned = true;
        }
    }
    if (assigned) {
        uv_cond_broadcast(&s->work_cv);
    }
}

/* Loop thread: tries the job store when due, then gives the workers their tasks. */
static void retry_and_dispatch(mf_sched *s)
{
    mf__sched_store_retry(s);
    uv_mutex_lock(&s->lock);
    if (!s->stopping) {
        dispatch(s);
    }
    uv_mutex_unlock(&s->lock);
}

static void on_wake(uv_async_t *a)
{
    mf_sched *s = a->data;
    uv_mutex_lock(&s->lock);
    bool stopping = s->stopping;
    uv_mutex_unlock(&s->lock);
    if (stopping) {
        uv_close((uv_handle_t *) &s->wake, NULL);
        uv_close((uv_handle_t *) &s->tick, NULL);
        uv_close((uv_handle_t *) &s->retry, NULL);
        mf__sched_lease_close(s);
        return;
    }
    mf__sched_take_if_due(s);
    retry_and_dispatch(s);
}

static void on_tick(uv_timer_t *t)
{
    mf_sched *s = t->data;
    /* A write the scheduler did not see fail (the store's own mark) starts the wait too. */
    mf_err we = mf_store_writable(s->store);
    uv_mutex_lock(&s->lock);
    bool waiting = mf__sched_store_waiting(s);
    uv_mutex_unlock(&s->lock);
    if (we != MF_OK && !waiting) {
        mf__sched_store_failed(s, we);
    }
    retry_and_dispatch(s);
    double now = mf_wall_s();
    if (now - s->last_expire > 60.0) {
        s->last_expire = now;
        size_t n = 0;
        if (mf_store_expire(s->store, now - s->cfg.result_ttl, &n) == MF_OK && n > 0) {
            mf_log(MF_LOG_INFO, NULL, NULL, "expired %zu finished jobs", n);
        }
    }
    uv_mutex_lock(&s->lock);
    void (*fn)(void *) = s->tick_hook;
    void *ctx = s->tick_ctx;
    uv_mutex_unlock(&s->lock);
    if (fn != NULL) {
        fn(ctx);
    }
}

static void loop_main(void *arg)
{
    mf_sched *s = arg;
    uv_run(&s->loop, UV_RUN_DEFAULT);
}

/* ---- life ------------------------------------------------------------------------- */

static uint64_t urandom_seed(void)
{
    uint64_t v = 0;
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd >= 0) {
        if (read(fd, &v, sizeof v) != (ssize_t) sizeof v) {
            v = 0;
        }
        close(fd);
    }
    return v ^ (uint64_t) time(NULL) ^ ((uint64_t) getpid() << 32);
}

static void free_jobs(job_list *l)
{
    for (mf_job *j = l->head; j != NULL;) {
        mf_job *n = j->next;
        mf_job_free(j);
        j = n;
    }
    *l = (job_list){0};
}

mf_err mf_sched_start(const mf_sched_cfg *cfg, mf_store *store, mf_registry *reg, mf_sched **ret)
{
    if (cfg->workers == 0 || cfg->workers > 64 || cfg->team == 0) {
        return MF_EINVAL;
    }
    mf_sched *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return MF_ENOMEM;
    }
    s->cfg = *cfg;
    s->store = store;
    s->reg = reg;
    s->id_rng = mf_rng_make(urandom_seed());
    s->last_expire = 0;
    atomic_init(&s->abort_all, 0);
    mf__sched_store_init(s);
    mf__sched_host_init(s);
    uv_mutex_init(&s->lock);
    uv_mutex_init(&s->claim_lock);
    uv_cond_init(&s->work_cv);
    uv_cond_init(&s->idle_cv);
    s->workers = calloc(cfg->workers, sizeof *s->workers);
    s->n_workers = cfg->workers;
    mf_err err = s->workers == NULL ? MF_ENOMEM : mf__sched_recover(s);
    for (size_t i = 0; i < s->n_workers && err == MF_OK; i++) {
        s->workers[i].s = s;
        err = mf_par_new(cfg->team, &s->workers[i].team);
    }
    if (err != MF_OK) {
        for (size_t i = 0; s->workers != NULL && i < s->n_workers; i++) {
            mf_par_free(s->workers[i].team);
        }
        free_jobs(&s->queued);
        free(s->workers);
        uv_mutex_destroy(&s->lock);
        uv_mutex_destroy(&s->claim_lock);
        uv_cond_destroy(&s->work_cv);
        uv_cond_destroy(&s->idle_cv);
        free(s);
        return err;
    }
    uv_loop_init(&s->loop);
    uv_async_init(&s->loop, &s->wake, on_wake);
    s->wake.data = s;
    uv_timer_init(&s->loop, &s->tick);
    s->tick.data = s;
    uv_timer_start(&s->tick, on_tick, 1000, 1000);
    uv_timer_init(&s->loop, &s->retry);
    s->retry.data = s;
    mf__sched_lease_start(s);
    for (size_t i = 0; i < s->n_workers; i++) {
        uv_thread_create(&s->workers[i].thread, worker_main, &s->workers[i]);
    }
    uv_thread_create(&s->loop_thread, loop_main, s);
    uv_async_send(&s->wake);
    *ret = s;
    return MF_OK;
}

static bool all_idle(mf_sched *s)
{
    for (size_t i = 0; i < s->n_workers; i++) {
        if (s->workers[i].task != TASK_NONE) {
            return false;
        }
    }
    return true;
}

bool mf_sched_drain(mf_sched *s, double timeout)
{
    double t_end = mf_mono_s() + timeout;
    bool in_time = true;
    uv_mutex_lock(&s->lock);
    s->draining = true;
    while (s->pending.head != NULL || s->pending_scores.head != NULL || !all_idle(s)) {
        double left = t_end - mf_mono_s();
        if (left <= 0) {
            in_time = false;
            atomic_store(&s->abort_all, 1);
            /* what runs stops within a step */
            while (!all_idle(s)) {
                uv_cond_timedwait(&s->idle_cv, &s->lock, 100000000);
            }
            break;
        }
        uv_async_send(&s->wake);
        uv_cond_timedwait(&s->idle_cv, &s->lock, (uint64_t) (fmin(left, 0.1) * 1e9));
    }
    s->stopping = true;
    uv_cond_broadcast(&s->work_cv);
    uv_mutex_unlock(&s->lock);
    for (size_t i = 0; i < s->n_workers; i++) {
        uv_thread_join(&s->workers[i].thread);
    }
    uv_async_send(&s->wake);
    uv_thread_join(&s->loop_thread);
    if (!in_time && mf_store_shared(s->store)) {
        mf_err err = mf__sched_hand_back(s);
        if (err != MF_OK) {
            mf_log(MF_LOG_WARN, NULL, NULL,
                   "drain: cannot hand the unfinished jobs back (%s); other replicas take them "
                   "over when their leases expire",
                   mf_strerror(err));
        }
    }
    return in_time;
}

void mf_sched_free(mf_sched *s)
{
    if (s == NULL) {
        return;
    }
    uv_run(&s->loop, UV_RUN_NOWAIT); /* close callbacks */
    (void) uv_loop_close(&s->loop);
    /* Started jobs left paused stay "running" in the store and are re-run at the next start;
     * so do those whose reports a full store did not take (the reports are lost). */
    if (s->stalled.n > 0) {
        mf_log(MF_LOG_WARN, NULL, NULL,
               "stopping with %zu jobs whose last reports the job store did not take: they run "
               "again at the next start",
               s->stalled.n);
    }
    free_jobs(&s->queued);
    free_jobs(&s->paused);
    free_jobs(&s->stalled);
    for (mf_sample_call *c = s->pending.head; c != NULL;) {
        mf_sample_call *n = c->next;
        c->err = MF_ECANCELED;
        (void) mf_diag_setc(&c->diag, MF_ECANCELED, "shutting_down", NULL,
                            "the server is shutting down");
        c->done(c);
        mf_sample_call_release(c, s->reg);
        c = n;
    }
    for (mf_score_call *c = s->pending_scores.head; c != NULL;) {
        mf_score_call *n = c->next;
        c->err = MF_ECANCELED;
        (void) mf_diag_setc(&c->diag, MF_ECANCELED, "shutting_down", NULL,
                            "the server is shutting down");
        c->done(c);
        mf_score_call_release(c, s->reg);
        c = n;
    }
    for (size_t i = 0; i < s->n_workers; i++) {
        mf_par_free(s->workers[i].team);
    }
    free(s->workers);
    uv_mutex_destroy(&s->lock);
    uv_mutex_destroy(&s->claim_lock);
    uv_cond_destroy(&s->work_cv);
    uv_cond_destroy(&s->idle_cv);
    free(s);
}

bool mf_sched_draining(mf_sched *s)
{
    uv_mutex_lock(&s->lock);
    bool d = s->draining;
    uv_mutex_unlock(&s->lock);
    return d;
}

void mf_sched_set_event_hook(mf_sched *s, void (*fn)(void *ctx, const char *job_id), void *ctx)
{
    uv_mutex_lock(&s->lock);
    s->event_hook = fn;
    s->event_ctx = ctx;
    uv_mutex_unlock(&s->lock);
}

void mf_sched_set_tick_hook(mf_sched *s, void (*fn)(void *ctx), void *ctx)
{
    uv_mutex_lock(&s->lock);
    s->tick_hook = fn;
    s->tick_ctx = ctx;
    uv_mutex_unlock(&s->lock);
}

unsigned mf_sched_retry_after(mf_sched *s, bool for_job)
{
    uv_mutex_lock(&s->lock);
    double t;
    if (for_job) {
        /* the jobs ahead, max_running_jobs at a time */
        t = s->job_s_avg * (double) s->queued.n / (double) s->cfg.max_running_jobs;
    } else {
        /* the batched runs the waiting calls make, spread over the workers */
        double runs = 1.0 + (double) s->pending.n / (double) MF_SAMPLER_MAX_SEGS;
        t = s->batch_s_avg * runs / (double) s->n_workers;
    }
    uv_mutex_unlock(&s->lock);
    return t < 1.0 ? 1u : (t > 60.0 ? 60u : (unsigned) ceil(t));
}

void mf_sched_get_stats(mf_sched *s, mf_sched_stats *ret)
{
    uv_mutex_lock(&s->lock);
    *ret = s->stats;
    ret->queued = s->queued.n;
    ret->running = s->n_started;
    ret->pending_samples = s->pending.n;
    ret->pending_scores = s->pending_scores.n;
    ret->unstored = s->stalled.n;
    ret->store_waiting = mf__sched_store_waiting(s);
    ret->workers = s->n_workers;
    ret->busy_workers = 0;
    for (size_t i = 0; i < s->n_workers; i++) {
        ret->busy_workers += s->workers[i].task != TASK_NONE;
    }
    uv_mutex_unlock(&s->lock);
}
