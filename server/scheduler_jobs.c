/* SPDX-License-Identifier: MIT */
/*
 * scheduler_jobs.c - the scheduler's jobs (see scheduler.h, scheduler_int.h):
 * submit through the job type's prepare, cancel (a queued or paused job at
 * once, a running one at its next step boundary), the recovery of the jobs a
 * previous process left, and the host callbacks a job's reports arrive
 * through (job_impl.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_json.h"
#include "clock.h"
#include "job_object.h"
#include "log.h"
#include "scheduler_int.h"

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
        mf__sched_hist_add(&s->stats.run_time, mf_mono_s() - j->queued_mono);
        s->job_s_avg = mf__sched_moving_avg(s->job_s_avg, mf_mono_s() - j->queued_mono);
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

uint64_t mf__sched_random_seed(void *ctx)
{
    mf_sched *s = ctx;
    uint32_t b[4];
    uv_mutex_lock(&s->lock);
    mf_rng_block(s->id_rng, s->id_counter++, b);
    uv_mutex_unlock(&s->lock);
    return (((uint64_t) b[0] << 32) | b[1]) & ((UINT64_C(1) << 53) - 1);
}

/*
 * Reservations of the model ids jobs will publish (a client's out_model, the
 * models a job keeps on its way), so that a second job for one id is refused
 * at submit, not after its compute.  A job holds them from prepare until it
 * is freed; the jobs holding any form a list, under the lock.
 */

/* Lock held: whether j reserved name. */
static bool holds(const mf_job *j, const char *name)
{
    for (size_t i = 0; i < j->n_reserved; i++) {
        if (strcmp(j->reserved[i], name) == 0) {
            return true;
        }
    }
    return false;
}

static bool host_reserve(void *ctx, mf_job *j, const char *name, char ret_holder[MF_ID_MAX + 1])
{
    mf_sched *s = ctx;
    uv_mutex_lock(&s->lock);
    mf_job *holder = s->reservations;
    while (holder != NULL && !holds(holder, name)) {
        holder = holder->reserved_next;
    }
    if (holder == NULL) {
        if (j->n_reserved == 0) {
            j->reserved_next = s->reservations;
            s->reservations = j;
        }
        snprintf(j->reserved[j->n_reserved++], sizeof j->reserved[0], "%s", name);
    } else if (holder != j) {
        memcpy(ret_holder, holder->id, MF_ID_MAX + 1);
    }
    uv_mutex_unlock(&s->lock);
    return holder == NULL || holder == j;
}

static void host_store_failed(void *ctx, mf_err err)
{
    mf__sched_store_failed(ctx, err);
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

/* ---- submit, cancel, recovery ------------------------------------------------------- */

static void make_job_id(mf_sched *s, char out[MF_ID_MAX + 1])
{
    uint32_t b[4];
    uv_mutex_lock(&s->lock);
    mf_rng_block(s->id_rng, s->id_counter++, b);
    uv_mutex_unlock(&s->lock);
    snprintf(out, MF_ID_MAX + 1, "job-%08x%08x", b[0], b[1]);
}

/* The job (called id) of a decoded request (taken); its type's prepare has run. */
static mf_err job_make(mf_sched *s, const char *id, mf_job_req *req, mf_job **ret, mf_diag *d)
{
    const mf_job_type *type = req->codec != NULL ? mf_job_type_lookup(req->codec->name) : NULL;
    if (type == NULL) {
        /* a codec without a job type: the two tables disagree */
        mf_job_req_done(req);
        return mf_diag_setc(d, MF_ERANGE, "unsupported_type", "/type",
                            "this build cannot run %s jobs",
                            req->codec != NULL ? req->codec->name : "such");
    }
    return mf_job_new(&s->host, type, id, req, ret, d);
}

mf_err mf_sched_submit(mf_sched *s, mf_job_req *req, char ret_id[MF_ID_MAX + 1], long *ret_pos,
                       mf_diag *d)
{
    return mf_sched_submit_admit(s, req, NULL, NULL, ret_id, ret_pos, d);
}

mf_err mf_sched_submit_admit(mf_sched *s, mf_job_req *req, mf_sched_admit_fn admit, void *ctx,
                             char ret_id[MF_ID_MAX + 1], long *ret_pos, mf_diag *d)
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
    char id[MF_ID_MAX + 1];
    make_job_id(s, id); /* before prepare, which may name what the job publishes after it */
    mf_err err = job_make(s, id, req, &j, d);
    if (err == MF_OK && admit != NULL && (err = admit(ctx, j->flops, d)) != MF_OK) {
        mf_job_free(j);
    }
    if (err != MF_OK) {
        return err;
    }
    j->created_at = mf_wall_s();
    mf_job_rec r = {.state = MF_JOB_QUEUED, .params = j->params_json, .created_at = j->created_at};
    memcpy(r.id, j->id, sizeof r.id);
    snprintf(r.type, sizeof r.type, "%s", j->type->codec->name);
    snprintf(r.model, sizeof r.model, "%s", j->model_id);
    snprintf(r.owner, sizeof r.owner, "%s", j->owner);
    char *ev = mf_json_take_dump(mf_json_event_status(j->id, "queued", NULL));
    err = ev == NULL ? MF_ENOMEM : mf_store_job_insert(s->store, &r, ev);
    free(ev);
    if (err != MF_OK) {
        mf_job_free(j);
        mf__sched_store_failed(s, err); /* the jobs wait for the store too (storage errors only) */
        if (err == MF_ENOSPC) {
            /* 507, not 503: every replica shares this store, so another one would not do better,
             * and the client should hear that it takes freed space, not just patience */
            return mf_diag_setc(d, err, "insufficient_storage", NULL,
                                "the job store is full: the job was not stored; retry once space "
                                "is freed (the readiness probe says when)");
        }
        err = err == MF_EBUSY ? MF_EIO : err;
        return mf_diag_setc(d, err, "store", NULL, "cannot store the job: %s", mf_strerror(err));
    }
    uv_mutex_lock(&s->lock);
    long pos = (long) s->queued.n;
    j->queued_mono = mf_mono_s();
    mf__sched_list_push(&s->queued, j);
    uv_mutex_unlock(&s->lock);
    uv_async_send(&s->wake);
    memcpy(ret_id, j->id, MF_ID_MAX + 1);
    *ret_pos = pos;
    mf_log(MF_LOG_INFO, NULL, ret_id, "job queued: %s", j->type->codec->name);
    return MF_OK;
}

/* Lock held: the job of id in list l, or NULL. */
static mf_job *list_find(const job_list *l, const char *id)
{
    for (mf_job *p = l->head; p != NULL; p = p->next) {
        if (strcmp(p->id, id) == 0) {
            return p;
        }
    }
    return NULL;
}

mf_job *mf__sched_find_started(mf_sched *s, const char *id)
{
    mf_job *p = list_find(&s->paused, id);
    if (p == NULL) {
        p = list_find(&s->stalled, id);
    }
    if (p != NULL) {
        return p;
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
    mf_job *j = mf__sched_find_started(s, id);
    bool asked = j != NULL && atomic_load(&j->cancel) != 0;
    uv_mutex_unlock(&s->lock);
    return asked;
}

/* Finishes stored job r as failed (error, taken as JSON text) or cancelled, with the final
 * status event carrying its job object, as GET will show it.  Returns the store's error. */
static mf_err finish_stored(mf_sched *s, const mf_job_rec *r, mf_job_state st, const char *error)
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
    free(ev);
    if (fe != MF_OK && fe != MF_EBUSY) {
        mf_log(MF_LOG_ERROR, NULL, r->id, "cannot store the final state: %s", mf_strerror(fe));
        return fe; /* nothing changed: the store's mark has it, the next tick starts the wait */
    }
    uv_mutex_lock(&s->lock);
    s->stats.jobs_finished[st]++;
    uv_mutex_unlock(&s->lock);
    host_notify(s, r->id);
    return MF_OK;
}

mf_err mf_sched_cancel(mf_sched *s, const char *id)
{
    uv_mutex_lock(&s->lock);
    /* Queued, or paused between slices: no worker holds it, so it ends here and
     * now (a paused one publishes what it finished), also when a drain follows
     * at once and would never give it another slice. */
    mf_job *j = list_remove(&s->queued, id);
    if (j == NULL && (j = list_remove(&s->paused, id)) != NULL) {
        mf__sched_release_slot(s, j);
    }
    if (j != NULL) {
        uv_mutex_unlock(&s->lock);
        atomic_store(&j->cancel, 1);
        if (j->started) {
            mf_job_cancel_now(j);
        } else {
            mf_job_cancel(j, NULL);
        }
        uv_mutex_lock(&s->lock);
        bool kept = mf_job_unstored(j);
        if (kept) {
            mf__sched_stall(s, j); /* cancelled; written once the store takes it */
        }
        uv_mutex_unlock(&s->lock);
        if (!kept) {
            mf_job_free(j);
        }
        uv_async_send(&s->wake); /* a place to run is free */
        return MF_OK;
    }
    /* on a worker, or waiting for the store: it stops at its next step boundary */
    j = mf__sched_find_started(s, id);
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
        err = e == NULL ? MF_ENOMEM : finish_stored(s, &r, MF_JOB_CANCELLED, e);
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

/*
 * The status event a recovery appends to a job (mf_recover_event_fn): a job
 * that failed there ends its stream like any final job, with the job object
 * and its error; a re-queued one says queued.
 */
static char *recover_event(void *ctx, const mf_job_rec *job)
{
    (void) ctx;
    json_t *jo = mf_job_state_final(job->state) ? mf_job_object(job, -1, false) : NULL;
    char *ev = mf_json_take_dump(mf_json_event_status(job->id, mf_job_state_name(job->state), jo));
    json_decref(jo);
    return ev;
}

/* The job of stored record r, made again (not queued); or NULL, r finished as failed when its
 * params no longer pass. */
static mf_job *remake(mf_sched *s, const mf_job_rec *r)
{
    mf_job_req req;
    mf_diag d = {0};
    mf_job *j = NULL;
    mf_err err = mf_req_decode_job_params(r->type, r->model, r->params != NULL ? r->params : "{}",
                                          &s->cfg.limits, &req, &d);
    bool decoded = err == MF_OK;
    if (decoded) {
        snprintf(req.owner, sizeof req.owner, "%s", r->owner);
        err = job_make(s, r->id, &req, &j, &d);
    }
    if (err == MF_OK) {
        j->created_at = r->created_at;
        j->queued_mono = mf_mono_s();
        return j;
    }
    char msg[512];
    if (decoded) {
        snprintf(msg, sizeof msg, "%s", d.msg);
    } else {
        snprintf(msg, sizeof msg, "its stored parameters no longer validate: %s", d.msg);
    }
    char *e = mf_json_job_error("invalid_after_restart", msg);
    (void) finish_stored(s, r, MF_JOB_FAILED, e); /* not stored: it fails again at the next start */
    free(e);
    mf_log(MF_LOG_WARN, NULL, r->id, "job failed after the restart: %s", msg);
    return NULL;
}

/* A queued job of the store, made again and queued here (or failed: remake). */
static void requeue(mf_sched *s, const mf_job_rec *r)
{
    mf_job *j = remake(s, r);
    if (j != NULL) {
        uv_mutex_lock(&s->lock);
        mf__sched_list_push(&s->queued, j);
        uv_mutex_unlock(&s->lock);
    }
}

/* The stored jobs of ids[0..n), queued in the store, made again and queued here. */
static void requeue_ids(mf_sched *s, char (*ids)[MF_ID_MAX + 1], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mf_job_rec r;
        memset(&r, 0, sizeof r);
        if (mf_store_job_get(s->store, ids[i], &r) == MF_OK) {
            requeue(s, &r);
        }
        mf_job_rec_done(&r);
    }
}

/* Jobs left by the previous process: running ones recovered, queued ones re-queued. */
mf_err mf__sched_recover(mf_sched *s)
{
    char *fail_err =
        mf_json_job_error("server_restart", "the server stopped while the job ran, too many times");
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
    char(*ids)[MF_ID_MAX + 1] = NULL;
    size_t n = 0;
    err = mf_store_jobs_queued(s->store, &ids, &n);
    if (err != MF_OK) {
        return err;
    }
    requeue_ids(s, ids, n);
    free(ids);
    return MF_OK;
}

mf_err mf__sched_reclaim(mf_sched *s)
{
    char *fail_err = mf_json_job_error(
        "server_restart", "the replica running the job stopped while it ran, too many times");
    char(*ids)[MF_ID_MAX + 1] = NULL;
    size_t rq = 0, fl = 0;
    mf_err err = fail_err == NULL
                     ? MF_ENOMEM
                     : mf_store_reclaim_expired(s->store, s->cfg.max_attempts, recover_event, NULL,
                                                fail_err, mf_wall_s(), &ids, &rq, &fl);
    free(fail_err);
    if (err != MF_OK) {
        return err;
    }
    if (rq + fl > 0) {
        mf_log(MF_LOG_WARN, NULL, NULL,
               "leases expired (a replica stopped): %zu jobs re-queued here, %zu failed", rq, fl);
    }
    for (size_t i = 0; i < rq; i++) {
        uv_mutex_lock(&s->lock);
        bool started = mf__sched_find_started(s, ids[i]) != NULL;
        bool queued = list_find(&s->queued, ids[i]) != NULL; /* claims it when its turn comes */
        uv_mutex_unlock(&s->lock);
        if (!started && !queued) {
            requeue_ids(s, &ids[i], 1);
        } else if (started) {
            /* Its lease expired while this replica ran it (the store was out of reach longer
             * than a lease) and this replica found it first: it goes on here, under a new
             * lease, rather than twice. */
            mf_err ce = mf_store_job_claim(s->store, ids[i], mf_wall_s());
            mf_log(MF_LOG_WARN, NULL, ids[i], "lease expired while the job ran here: %s",
                   ce == MF_OK ? "claimed again, it goes on" : mf_strerror(ce));
        }
    }
    free(ids);
    return MF_OK;
}

mf_err mf__sched_hand_back(mf_sched *s)
{
    char *fail_err = mf_json_job_error(
        "server_restart", "the replica running the job stopped while it ran, too many times");
    size_t rq = 0, fl = 0;
    mf_err err = fail_err == NULL ? MF_ENOMEM
                                  : mf_store_recover(s->store, s->cfg.max_attempts, recover_event,
                                                     NULL, fail_err, mf_wall_s(), &rq, &fl);
    free(fail_err);
    if (err == MF_OK && rq + fl > 0) {
        mf_log(MF_LOG_INFO, NULL, NULL,
               "drain: %zu unfinished jobs handed back to the queue for the other replicas, %zu "
               "failed (out of attempts)",
               rq, fl);
    }
    return err;
}

bool mf__sched_adopt_local(mf_sched *s, const char *id)
{
    uv_mutex_lock(&s->lock);
    mf_job *j = mf__sched_find_started(s, id);
    if (j != NULL) {
        j->taken = true; /* on a worker, about to claim it: it goes on as claimed */
    }
    uv_mutex_unlock(&s->lock);
    return j != NULL;
}

void mf__sched_adopt(mf_sched *s, const char *id, double t)
{
    uv_mutex_lock(&s->lock);
    mf_job *j = list_remove(&s->queued, id); /* submitted here: it was waiting for its turn */
    uv_mutex_unlock(&s->lock);
    if (j == NULL) {
        mf_job_rec r;
        memset(&r, 0, sizeof r);
        mf_err err = mf_store_job_get(s->store, id, &r);
        j = err == MF_OK ? remake(s, &r) : NULL;
        mf_job_rec_done(&r);
        if (err != MF_OK) {
            /* running here in the store: its lease expires and a replica runs it again */
            mf_log(MF_LOG_WARN, NULL, id, "cannot read the job it claimed: %s", mf_strerror(err));
        }
        if (j == NULL) {
            return;
        }
    }
    mf__sched_mark_running(s, j, t);
    uv_mutex_lock(&s->lock);
    j->slot = true;
    s->n_started++;
    if (mf_job_unstored(j)) {
        mf__sched_stall(s, j);
    } else {
        mf__sched_list_push(&s->paused, j);
    }
    uv_mutex_unlock(&s->lock);
}

void mf__sched_host_init(mf_sched *s)
{
    s->host = (mf_job_host){.store = s->store,
                            .reg = s->reg,
                            .limits = s->cfg.limits,
                            .abort_all = &s->abort_all,
                            .ctx = s,
                            .notify = host_notify,
                            .finished = host_finished,
                            .samples = host_samples,
                            .random_seed = mf__sched_random_seed,
                            .reserve = host_reserve,
                            .release = host_release,
                            .store_failed = host_store_failed};
}
