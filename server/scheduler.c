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
 * calls; a queued job, when fewer than max_running_jobs are started; the
 * paused job that waited longest.  So up to max_running_jobs jobs take turns
 * slice by slice, even on one worker, and a sampling call waits for one slice
 * at most.
 */
#include "scheduler.h"

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
#include "job_impl.h"
#include "job_object.h"
#include "log.h"
#include "par.h"
#include "rng.h"
#include "sampler.h"

const double mf_sched_buckets[MF_SCHED_N_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                     0.1,   0.25,   0.5,   1.0,  5.0,   30.0};

typedef enum { TASK_NONE, TASK_BATCH, TASK_SLICE } task_kind;

typedef struct worker {
    mf_sched *s;
    uv_thread_t thread;
    mf_par *team;
    task_kind task;
    mf_sample_call *batch; /* linked through next */
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
    uv_thread_t loop_thread;
    uv_mutex_t lock;
    uv_cond_t work_cv; /* workers wait for a task */
    uv_cond_t idle_cv; /* drain waits for idleness */
    worker *workers;
    size_t n_workers;
    /* guarded by lock */
    mf_sample_queue pending;
    job_list queued;   /* not started */
    job_list paused;   /* started, waiting for their next slice */
    size_t n_started;  /* started and not finished (paused or on a worker) */
    bool draining, stopping;
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

static void hist_add(mf_hist *h, double v)
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
                          .limits = mf_req_limits_default()};
}

/* A moving average over about the last 8 values (the first value starts it). */
static double moving_avg(double avg, double v)
{
    return avg <= 0.0 ? v : avg + (v - avg) / 8.0;
}

static void list_push(job_list *l, mf_job *j)
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

static mf_job *list_pop(job_list *l)
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

/* ---- the host of the jobs (job_impl.h) ------------------------------------------- */

static void host_notify(void *ctx, const char *id)
{
    mf_sched *s = ctx;
    /* The hook is set once the HTTP server exists, while recovered jobs may already run. */
    uv_mutex_lock(&s->lock);
    void (*fn)(void *, const char *) = s->event_hook;
    void *hctx = s->event_ctx;
    uv_mutex_unlock(&s->lock);
    if (fn != NULL) {
        fn(hctx, id);
    }
}

static void host_finished(void *ctx, mf_job *j, mf_job_state st)
{
    mf_sched *s = ctx;
    uv_mutex_lock(&s->lock);
    s->stats.jobs_finished[st]++;
    if (j->started) {
        hist_add(&s->stats.run_time, mf_mono_s() - j->queued_mono);
        s->job_s_avg = moving_avg(s->job_s_avg, mf_mono_s() - j->queued_mono);
    }
    uv_mutex_unlock(&s->lock);
}

static void host_samples(void *ctx, uint64_t n)
{
    mf_sched *s = ctx;
    uv_mutex_lock(&s->lock);
    s->stats.samples_total += n;
    uv_mutex_unlock(&s->lock);
}

static uint64_t host_random_seed(void *ctx)
{
    mf_sched *s = ctx;
    uint32_t b[4];
    uv_mutex_lock(&s->lock);
    mf_rng_block(s->id_rng, s->id_counter++, b);
    uv_mutex_unlock(&s->lock);
    return (((uint64_t) b[0] << 32) | b[1]) & ((UINT64_C(1) << 53) - 1);
}

/*
 * Reservations of the model ids jobs will publish (a client's out_model), so
 * that a second job for one id is refused at submit, not after its compute.
 * A job holds one from prepare until it is freed; they form a list through
 * the jobs, under the lock.
 */
static bool host_reserve(void *ctx, mf_job *j, const char *name, char ret_holder[MF_ID_MAX + 1])
{
    mf_sched *s = ctx;
    uv_mutex_lock(&s->lock);
    mf_job *holder = s->reservations;
    while (holder != NULL && strcmp(holder->reserved, name) != 0) {
        holder = holder->reserved_next;
    }
    if (holder == NULL) {
        snprintf(j->reserved, sizeof j->reserved, "%s", name);
        j->reserved_next = s->reservations;
        s->reservations = j;
    } else {
        memcpy(ret_holder, holder->id, MF_ID_MAX + 1);
    }
    uv_mutex_unlock(&s->lock);
    return holder == NULL;
}

static void host_release(void *ctx, mf_job *j)
{
    mf_sched *s = ctx;
    uv_mutex_lock(&s->lock);
    for (mf_job **pp = &s->reservations; *pp != NULL; pp = &(*pp)->reserved_next) {
        if (*pp == j) {
            *pp = j->reserved_next;
            break;
        }
    }
    uv_mutex_unlock(&s->lock);
}

/* ---- sampling calls ---------------------------------------------------------- */

mf_err mf_sched_resolve(mf_sched *s, mf_sample_req *req, const mf_model *m, const char *prefix,
                        mf_diag *d)
{
    uint64_t seed = req->has_seed ? req->seed : host_random_seed(s);
    return mf_sample_resolve(req, m, &s->cfg.limits, seed, prefix, d);
}

mf_err mf_sched_sample(mf_sched *s, mf_sample_call *c)
{
    uv_mutex_lock(&s->lock);
    mf_err err = MF_OK;
    if (s->draining) {
        err = MF_ECANCELED;
    } else if (s->pending.n >= s->cfg.max_pending_samples) {
        err = MF_EBUSY;
    } else {
        c->queued_at = mf_mono_s();
        mf_sample_queue_push(&s->pending, c);
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
    hist_add(&s->stats.queue_wait, c->started_at - c->queued_at);
    hist_add(&s->stats.run_time, c->finished_at - c->queued_at);
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
    s->batch_s_avg = moving_avg(s->batch_s_avg, mf_mono_s() - t0);
    s->stats.batches_total++;
    s->stats.batched_calls_total += n_calls;
    uv_mutex_unlock(&s->lock);
}

/* ---- job slices ------------------------------------------------------------- */

/* A slice of job j; true when it wants another. */
static bool run_slice(worker *w, mf_job *j)
{
    mf_sched *s = w->s;
    if (!j->started) {
        double t = mf_wall_s();
        mf_err err = mf_store_job_claim(s->store, j->id, t);
        if (err != MF_OK) {
            /* cancelled while queued (or claimed elsewhere): nothing to run */
            return false;
        }
        j->started = true;
        j->started_at = t;
        uv_mutex_lock(&s->lock);
        hist_add(&s->stats.queue_wait, mf_mono_s() - j->queued_mono);
        uv_mutex_unlock(&s->lock);
        mf_job_event(j, "status", mf_json_event_status(j->id, "running", NULL));
        mf_log(MF_LOG_INFO, NULL, j->id, "job running");
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
    return !j->finished;
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
        bool more = false;
        if (k == TASK_BATCH) {
            run_batch(w, w->batch);
        } else {
            more = run_slice(w, w->job);
        }
        double busy = mf_mono_s() - t0;
        uv_mutex_lock(&s->lock);
        s->stats.busy_seconds += busy;
        if (k == TASK_SLICE) {
            mf_job *j = w->job;
            if (more) {
                list_push(&s->paused, j);
            } else {
                s->n_started -= j->started ? 1 : 0;
                uv_mutex_unlock(&s->lock);
                mf_job_free(j);
                uv_mutex_lock(&s->lock);
            }
        }
        w->task = TASK_NONE;
        w->batch = NULL;
        w->job = NULL;
        uv_cond_broadcast(&s->idle_cv);
        uv_async_send(&s->wake);
    }
    uv_mutex_unlock(&s->lock);
}

/* Lock held: gives every idle worker a task. */
static void dispatch(mf_sched *s)
{
    bool assigned = false;
    for (size_t i = 0; i < s->n_workers; i++) {
        worker *w = &s->workers[i];
        if (w->task != TASK_NONE) {
            continue;
        }
        if (s->pending.head != NULL) {
            w->batch = mf_sample_queue_take(&s->pending, s->cfg.max_batch_rows);
            w->task = TASK_BATCH;
            assigned = true;
        } else if (s->queued.head != NULL && !s->draining &&
                   s->n_started < s->cfg.max_running_jobs) {
            /* Before a paused job: with room for it, a queued job starts now and
             * takes its turns with the others, rather than waiting for them. */
            w->job = list_pop(&s->queued);
            s->n_started++;
            w->task = TASK_SLICE;
            assigned = true;
        } else if (s->paused.head != NULL && !s->draining) {
            w->job = list_pop(&s->paused);
            w->task = TASK_SLICE;
            assigned = true;
        }
    }
    if (assigned) {
        uv_cond_broadcast(&s->work_cv);
    }
}

static void on_wake(uv_async_t *a)
{
    mf_sched *s = a->data;
    uv_mutex_lock(&s->lock);
    if (s->stopping) {
        uv_mutex_unlock(&s->lock);
        uv_close((uv_handle_t *) &s->wake, NULL);
        uv_close((uv_handle_t *) &s->tick, NULL);
        return;
    }
    dispatch(s);
    uv_mutex_unlock(&s->lock);
}

static void on_tick(uv_timer_t *t)
{
    mf_sched *s = t->data;
    uv_mutex_lock(&s->lock);
    dispatch(s);
    uv_mutex_unlock(&s->lock);
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

/* ---- jobs: submit, cancel, recovery ------------------------------------------------ */

static void make_job_id(mf_sched *s, char out[MF_ID_MAX + 1])
{
    uint32_t b[4];
    uv_mutex_lock(&s->lock);
    mf_rng_block(s->id_rng, s->id_counter++, b);
    uv_mutex_unlock(&s->lock);
    snprintf(out, MF_ID_MAX + 1, "job-%08x%08x", b[0], b[1]);
}

/* The job of a decoded request (taken); its type's prepare has run. */
static mf_err job_make(mf_sched *s, mf_job_req *req, mf_job **ret, mf_diag *d)
{
    const mf_job_type *type = req->codec != NULL ? mf_job_type_lookup(req->codec->name) : NULL;
    if (type == NULL) {
        /* a codec without a job type: the two tables disagree */
        mf_job_req_done(req);
        return mf_diag_setc(d, MF_ERANGE, "unsupported_type", "/type",
                            "this build cannot run %s jobs",
                            req->codec != NULL ? req->codec->name : "such");
    }
    return mf_job_new(&s->host, type, req, ret, d);
}

mf_err mf_sched_submit(mf_sched *s, mf_job_req *req, char ret_id[MF_ID_MAX + 1], long *ret_pos,
                       mf_diag *d)
{
    uv_mutex_lock(&s->lock);
    bool full = s->queued.n >= s->cfg.max_queue, draining = s->draining;
    uv_mutex_unlock(&s->lock);
    if (draining || full) {
        mf_job_req_done(req);
        return draining ? mf_diag_setc(d, MF_ECANCELED, "shutting_down", NULL,
                                       "the server is shutting down")
                        : mf_diag_setc(d, MF_EBUSY, "queue_full", NULL,
                                       "the job queue is full; retry later");
    }
    mf_job *j = NULL;
    mf_err err = job_make(s, req, &j, d);
    if (err != MF_OK) {
        return err;
    }
    make_job_id(s, j->id);
    j->created_at = mf_wall_s();
    mf_job_rec r = {.state = MF_JOB_QUEUED, .params = j->params_json, .created_at = j->created_at};
    memcpy(r.id, j->id, sizeof r.id);
    snprintf(r.type, sizeof r.type, "%s", j->type->codec->name);
    snprintf(r.model, sizeof r.model, "%s", j->model_id);
    char *ev = mf_json_take_dump(mf_json_event_status(j->id, "queued", NULL));
    err = ev == NULL ? MF_ENOMEM : mf_store_job_insert(s->store, &r, ev);
    free(ev);
    if (err != MF_OK) {
        mf_job_free(j);
        err = err == MF_EBUSY ? MF_EIO : err;
        return mf_diag_setc(d, err, "store", NULL, "cannot store the job: %s", mf_strerror(err));
    }
    uv_mutex_lock(&s->lock);
    long pos = (long) s->queued.n;
    j->queued_mono = mf_mono_s();
    list_push(&s->queued, j);
    uv_mutex_unlock(&s->lock);
    uv_async_send(&s->wake);
    memcpy(ret_id, j->id, MF_ID_MAX + 1);
    *ret_pos = pos;
    mf_log(MF_LOG_INFO, NULL, ret_id, "job queued: %s", j->type->codec->name);
    return MF_OK;
}

/* Lock held: the job of id on a worker or paused, or NULL. */
static mf_job *find_started(mf_sched *s, const char *id)
{
    for (mf_job *p = s->paused.head; p != NULL; p = p->next) {
        if (strcmp(p->id, id) == 0) {
            return p;
        }
    }
    for (size_t i = 0; i < s->n_workers; i++) {
        mf_job *wj = s->workers[i].job;
        if (s->workers[i].task == TASK_SLICE && wj != NULL && strcmp(wj->id, id) == 0) {
            return wj;
        }
    }
    return NULL;
}

/* Lock held: takes the job of id out of list l, or NULL. */
static mf_job *list_remove(job_list *l, const char *id)
{
    mf_job *prev = NULL;
    for (mf_job *j = l->head; j != NULL; prev = j, j = j->next) {
        if (strcmp(j->id, id) == 0) {
            if (prev != NULL) {
                prev->next = j->next;
            } else {
                l->head = j->next;
            }
            if (l->tail == j) {
                l->tail = prev;
            }
            l->n--;
            j->next = NULL;
            return j;
        }
    }
    return NULL;
}

bool mf_sched_cancel_requested(mf_sched *s, const char *id)
{
    uv_mutex_lock(&s->lock);
    mf_job *j = find_started(s, id);
    bool asked = j != NULL && atomic_load(&j->cancel) != 0;
    uv_mutex_unlock(&s->lock);
    return asked;
}

/* Finishes stored job r as failed (error, taken as JSON text) or cancelled, with the final
 * status event carrying its job object, as GET will show it. */
static void finish_stored(mf_sched *s, const mf_job_rec *r, mf_job_state st, const char *error)
{
    mf_job_rec fin = *r;
    fin.state = st;
    fin.result = NULL;
    fin.error = (char *) error;
    fin.finished_at = mf_wall_s();
    json_t *jo = mf_job_object(&fin, -1, false);
    char *ev = mf_json_take_dump(mf_json_event_status(r->id, mf_job_state_name(st), jo));
    json_decref(jo);
    mf_err fe = mf_store_job_finish(s->store, r->id, st, NULL, error, ev != NULL ? ev : "{}",
                                    fin.finished_at);
    if (fe != MF_OK && fe != MF_EBUSY) {
        mf_log(MF_LOG_ERROR, NULL, r->id, "cannot store the final state: %s", mf_strerror(fe));
    }
    free(ev);
    uv_mutex_lock(&s->lock);
    s->stats.jobs_finished[st]++;
    uv_mutex_unlock(&s->lock);
    host_notify(s, r->id);
}

mf_err mf_sched_cancel(mf_sched *s, const char *id)
{
    uv_mutex_lock(&s->lock);
    /* Queued, or paused between slices: no worker holds it, so it ends here and
     * now (a paused one publishes what it finished), also when a drain follows
     * at once and would never give it another slice. */
    mf_job *j = list_remove(&s->queued, id);
    if (j == NULL && (j = list_remove(&s->paused, id)) != NULL) {
        s->n_started--;
    }
    if (j != NULL) {
        uv_mutex_unlock(&s->lock);
        atomic_store(&j->cancel, 1);
        if (j->started) {
            mf_job_cancel_now(j);
        } else {
            mf_job_cancel(j, NULL);
        }
        mf_job_free(j);
        uv_async_send(&s->wake); /* a place to run is free */
        return MF_OK;
    }
    /* on a worker: it stops at its next step boundary */
    j = find_started(s, id);
    if (j != NULL) {
        atomic_store(&j->cancel, 1);
    }
    uv_mutex_unlock(&s->lock);
    if (j != NULL) {
        return MF_OK;
    }
    mf_job_rec r;
    memset(&r, 0, sizeof r);
    mf_err err = mf_store_job_get(s->store, id, &r);
    if (err == MF_OK && !mf_job_state_final(r.state)) {
        /* In the store but not here: another replica owns it, or a restart is
         * re-queueing it.  Finish it as cancelled in the store. */
        char *e = mf_json_job_error("cancelled", "cancelled by request");
        finish_stored(s, &r, MF_JOB_CANCELLED, e);
        free(e);
    }
    mf_job_rec_done(&r);
    return err;
}

long mf_sched_queue_position(mf_sched *s, const char *id)
{
    uv_mutex_lock(&s->lock);
    long pos = 0, found = -1;
    for (mf_job *j = s->queued.head; j != NULL; j = j->next, pos++) {
        if (strcmp(j->id, id) == 0) {
            found = pos;
            break;
        }
    }
    uv_mutex_unlock(&s->lock);
    return found;
}

/* The status event a recovery appends to a job (mf_recover_event_fn). */
static char *recover_event(void *ctx, const char *job_id, const char *state)
{
    (void) ctx;
    return mf_json_take_dump(mf_json_event_status(job_id, state, NULL));
}

/* A queued job of the store, made again; or finished as failed when its params no longer pass. */
static void requeue(mf_sched *s, const mf_job_rec *r)
{
    mf_job_req req;
    mf_diag d = {0};
    mf_job *j = NULL;
    mf_err err = mf_req_decode_job_params(r->type, r->model, r->params != NULL ? r->params : "{}",
                                          &s->cfg.limits, &req, &d);
    bool decoded = err == MF_OK;
    if (decoded) {
        err = job_make(s, &req, &j, &d);
    }
    if (err == MF_OK) {
        memcpy(j->id, r->id, sizeof j->id);
        j->created_at = r->created_at;
        uv_mutex_lock(&s->lock);
        j->queued_mono = mf_mono_s();
        list_push(&s->queued, j);
        uv_mutex_unlock(&s->lock);
        return;
    }
    char msg[512];
    if (decoded) {
        snprintf(msg, sizeof msg, "%s", d.msg);
    } else {
        snprintf(msg, sizeof msg, "its stored parameters no longer validate: %s", d.msg);
    }
    char *e = mf_json_job_error("invalid_after_restart", msg);
    finish_stored(s, r, MF_JOB_FAILED, e);
    free(e);
    mf_log(MF_LOG_WARN, NULL, r->id, "job failed after the restart: %s", msg);
}

/* Jobs left by the previous process: running ones recovered, queued ones re-queued. */
static mf_err recover(mf_sched *s)
{
    char *fail_err = mf_json_job_error("server_restart",
                                       "the server stopped while the job ran, too many times");
    size_t rq = 0, fl = 0;
    mf_err err = fail_err == NULL ? MF_ENOMEM
                                  : mf_store_recover(s->store, s->cfg.max_attempts, recover_event,
                                                     NULL, fail_err, mf_wall_s(), &rq, &fl);
    free(fail_err);
    if (err != MF_OK) {
        return err;
    }
    if (rq + fl > 0) {
        mf_log(MF_LOG_WARN, NULL, NULL, "restart: %zu interrupted jobs re-queued, %zu failed", rq,
               fl);
    }
    char (*ids)[MF_ID_MAX + 1] = NULL;
    size_t n = 0;
    err = mf_store_jobs_queued(s->store, &ids, &n);
    if (err != MF_OK) {
        return err;
    }
    for (size_t i = 0; i < n; i++) {
        mf_job_rec r;
        memset(&r, 0, sizeof r);
        if (mf_store_job_get(s->store, ids[i], &r) == MF_OK) {
            requeue(s, &r);
        }
        mf_job_rec_done(&r);
    }
    free(ids);
    return MF_OK;
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
    s->host = (mf_job_host){.store = store,
                            .reg = reg,
                            .limits = cfg->limits,
                            .abort_all = &s->abort_all,
                            .ctx = s,
                            .notify = host_notify,
                            .finished = host_finished,
                            .samples = host_samples,
                            .random_seed = host_random_seed,
                            .reserve = host_reserve,
                            .release = host_release};
    uv_mutex_init(&s->lock);
    uv_cond_init(&s->work_cv);
    uv_cond_init(&s->idle_cv);
    s->workers = calloc(cfg->workers, sizeof *s->workers);
    s->n_workers = cfg->workers;
    mf_err err = s->workers == NULL ? MF_ENOMEM : recover(s);
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
    while (s->pending.head != NULL || !all_idle(s)) {
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
    return in_time;
}

void mf_sched_free(mf_sched *s)
{
    if (s == NULL) {
        return;
    }
    uv_run(&s->loop, UV_RUN_NOWAIT); /* close callbacks */
    (void) uv_loop_close(&s->loop);
    /* Started jobs left paused stay "running" in the store and are re-run at the next start. */
    free_jobs(&s->queued);
    free_jobs(&s->paused);
    for (mf_sample_call *c = s->pending.head; c != NULL;) {
        mf_sample_call *n = c->next;
        c->err = MF_ECANCELED;
        snprintf(c->err_msg, sizeof c->err_msg, "the server is shutting down");
        c->done(c);
        mf_sample_call_release(c, s->reg);
        c = n;
    }
    for (size_t i = 0; i < s->n_workers; i++) {
        mf_par_free(s->workers[i].team);
    }
    free(s->workers);
    uv_mutex_destroy(&s->lock);
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
    ret->workers = s->n_workers;
    ret->busy_workers = 0;
    for (size_t i = 0; i < s->n_workers; i++) {
        ret->busy_workers += s->workers[i].task != TASK_NONE;
    }
    uv_mutex_unlock(&s->lock);
}
