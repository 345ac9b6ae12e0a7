/* SPDX-License-Identifier: MIT */
/*
 * job.c - a job in memory and the functions its type reports through (see
 * jobs/job_type.h and job_impl.h).
 *
 * Every report goes to the job store first (events are appended there and
 * streamed from there) and then to the host's callbacks: notify wakes the
 * job's streams, finished keeps the scheduler's statistics.  A report the
 * store does not take for a storage reason (the disk is full) is kept in
 * order with the job (job_impl.h: mf_job_unstored) and the host is told; the
 * scheduler gives the job no further slice until mf_job_flush has written
 * it, so nothing reported is lost or reordered, and seqs stay gap-free (the
 * store numbers an event when it takes it).  Other store failures are logged
 * and do not stop the job.  Threading: a job is touched by one thread at a
 * time (the submitter, then one worker per slice), so its fields need no
 * lock; the store and the host serialise themselves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_json.h"
#include "clock.h"
#include "job_impl.h"
#include "job_object.h"
#include "log.h"

#define PROGRESS_EVERY_S 0.5 /* at most this often a progress event */

/* ---- life ---------------------------------------------------------------------------- */

mf_err mf_job_new(const mf_job_host *host, const mf_job_type *type, const char *id, mf_job_req *req,
                  mf_job **ret, mf_diag *d)
{
    mf_job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        mf_job_req_done(req);
        return mf_diag_set(d, MF_ENOMEM, NULL, "out of memory");
    }
    j->type = type;
    j->host = host;
    snprintf(j->id, sizeof j->id, "%s", id);
    atomic_init(&j->cancel, 0);
    snprintf(j->model_id, sizeof j->model_id, "%s", req->model);
    snprintf(j->owner, sizeof j->owner, "%s", req->owner);
    j->params = req->params;
    req->params = NULL;
    mf_job_req_done(req); /* its params_json is encoded again after prepare */
    mf_err err = MF_OK;
    if (type->state_size > 0 && (j->state = calloc(1, type->state_size)) == NULL) {
        err = mf_diag_set(d, MF_ENOMEM, NULL, "out of memory");
    }
    if (err == MF_OK &&
        (type->codec->model == MF_CODEC_MODEL ||
         (type->codec->model == MF_CODEC_MODEL_OPTIONAL && j->model_id[0] != '\0'))) {
        /* The one place the rule "this type reads a model" is applied. */
        j->model = mf_registry_get(host->reg, j->model_id);
        if (j->model == NULL) {
            err = mf_diag_setc(d, MF_ENOTFOUND, "model_not_found", "/model", "no model with id %s",
                               j->model_id);
        }
    }
    if (err == MF_OK && type->prepare != NULL) {
        err = type->prepare(j, d);
    }
    if (err == MF_OK && (j->params_json = type->codec->encode(j->params)) == NULL) {
        err = mf_diag_set(d, MF_ENOMEM, NULL, "out of memory");
    }
    if (err != MF_OK) {
        mf_job_free(j);
        return err;
    }
    *ret = j;
    return MF_OK;
}

/* ---- reports the store did not take ------------------------------------------------------ */

static bool storage_trouble(mf_err err)
{
    return err == MF_ENOSPC || err == MF_EIO;
}

bool mf_job_unstored(const mf_job *j)
{
    const mf_job_backlog *u = &j->backlog;
    return u->head != NULL || u->metrics != NULL || u->progress || u->final;
}

/* Keeps event name (data taken) behind the others the store did not take. */
static void keep_event(mf_job *j, const char *name, char *data)
{
    mf_job_backlog_event *e = calloc(1, sizeof *e);
    if (e == NULL) {
        mf_log(MF_LOG_ERROR, NULL, j->id, "out of memory keeping a %s event: lost", name);
        free(data);
        return;
    }
    snprintf(e->name, sizeof e->name, "%s", name);
    e->data = data;
    if (j->backlog.tail != NULL) {
        j->backlog.tail->next = e;
    } else {
        j->backlog.head = e;
    }
    j->backlog.tail = e;
}

static void drop_backlog(mf_job *j)
{
    mf_job_backlog *u = &j->backlog;
    size_t n = 0;
    for (mf_job_backlog_event *e = u->head; e != NULL; n++) {
        mf_job_backlog_event *next = e->next;
        free(e->data);
        free(e);
        e = next;
    }
    if (n > 0 || u->final) {
        mf_log(MF_LOG_WARN, NULL, j->id, "%zu events%s never stored", n,
               u->final ? " and the final state" : "");
    }
    free(u->metrics);
    free(u->result);
    free(u->error);
    free(u->event);
    memset(u, 0, sizeof *u);
}

/* The outcome of one store write of j: true when it is storage trouble (kept, host told). */
static bool kept_for_later(mf_job *j, mf_err err, const char *what)
{
    if (storage_trouble(err)) {
        j->host->store_failed(j->host->ctx, err);
        return true;
    }
    if (err != MF_OK && err != MF_EBUSY) {
        mf_log(MF_LOG_ERROR, NULL, j->id, "cannot store the %s: %s", what, mf_strerror(err));
    }
    return false;
}

mf_err mf_job_flush(mf_job *j)
{
    mf_job_backlog *u = &j->backlog;
    mf_store *store = j->host->store;
    bool appended = false;
    mf_err err = MF_OK;
    while (u->head != NULL) {
        mf_job_backlog_event *e = u->head;
        err = mf_store_event_append(store, j->id, e->name, e->data, NULL);
        if (kept_for_later(j, err, "event")) {
            goto out;
        }
        appended = true;
        u->head = e->next;
        u->tail = u->head != NULL ? u->tail : NULL;
        free(e->data);
        free(e);
    }
    if (u->metrics != NULL) {
        err = mf_store_job_metrics(store, j->id, u->metrics);
        if (kept_for_later(j, err, "metrics")) {
            goto out;
        }
        free(u->metrics);
        u->metrics = NULL;
    }
    if (u->progress) {
        err = mf_store_job_progress(store, j->id, j->done, j->total);
        if (kept_for_later(j, err, "progress")) {
            goto out;
        }
        u->progress = false;
    }
    if (u->final) {
        err = mf_store_job_finish(store, j->id, u->state, u->result, u->error, u->event,
                                  u->finished_at);
        if (kept_for_later(j, err, "final state")) {
            goto out;
        }
        mf_log(MF_LOG_INFO, NULL, j->id, "job %s: stored once the job store took it",
               mf_job_state_name(u->state));
        appended = true;
        free(u->result);
        free(u->error);
        free(u->event);
        u->result = u->error = u->event = NULL;
        u->final = false;
    }
    err = MF_OK;
out:
    if (appended) {
        j->host->notify(j->host->ctx, j->id);
    }
    return err;
}

void mf_job_free(mf_job *j)
{
    if (j == NULL) {
        return;
    }
    drop_backlog(j);
    if (j->type->deinit != NULL) {
        j->type->deinit(j);
    }
    if (j->n_reserved > 0) {
        j->host->release(j->host->ctx, j);
    }
    free(j->state);
    mf_registry_release(j->host->reg, j->model);
    free(j->params);
    free(j->params_json);
    free(j);
}

void mf_job_cancel_now(mf_job *j)
{
    if (j->type->cancel != NULL) {
        j->type->cancel(j);
    }
    if (!j->finished) {
        mf_job_cancel(j, NULL);
    }
}

/* ---- what a job is -------------------------------------------------------------------- */

const char *mf_job_id(const mf_job *j)
{
    return j->id;
}

double *mf_job_flops(mf_job *j)
{
    return &j->flops;
}

const char *mf_job_owner(const mf_job *j)
{
    return j->owner;
}

const char *mf_job_type_name(const mf_job *j)
{
    return j->type->codec->name;
}

const char *mf_job_model_id(const mf_job *j)
{
    return j->model_id;
}

const mf_model *mf_job_model(const mf_job *j)
{
    return j->model != NULL ? j->model->model : NULL;
}

void *mf_job_params(mf_job *j)
{
    return j->params;
}

const char *mf_job_params_json(const mf_job *j)
{
    return j->params_json;
}

void *mf_job_priv(mf_job *j)
{
    return j->state;
}

mf_par *mf_job_team(mf_job *j)
{
    return j->team;
}

mf_registry *mf_job_registry(mf_job *j)
{
    return j->host->reg;
}

const mf_req_limits *mf_job_limits(const mf_job *j)
{
    return &j->host->limits;
}

mf_precision mf_job_precision(const mf_job *j)
{
    return (mf_precision) j->host->limits.default_precision;
}

uint64_t mf_job_random_seed(mf_job *j)
{
    return j->host->random_seed(j->host->ctx);
}

bool mf_job_stop_requested(const mf_job *j)
{
    return atomic_load(&j->cancel) != 0 || atomic_load(j->host->abort_all) != 0;
}

const atomic_int *mf_job_cancel_flag(const mf_job *j)
{
    return &j->cancel;
}

int mf_job_provenance(const mf_job *j, char *buf, size_t cap)
{
    return snprintf(buf, cap, "manifoldd %s job %s", mf_job_type_name(j), j->id);
}

bool mf_job_made_model(mf_job *j, const char *name)
{
    mf_reg_model *e = mf_registry_get(j->host->reg, name);
    if (e == NULL) {
        return false;
    }
    char mine[160];
    int n = mf_job_provenance(j, mine, sizeof mine);
    const char *prov = mf_model_get_meta(e->model, "provenance");
    /* the whole of it, or followed by the detail; and the job's owner's (an upload is its
     * uploader's, whatever its provenance says) */
    bool ok = prov != NULL && n > 0 && (size_t) n < sizeof mine &&
              strncmp(prov, mine, (size_t) n) == 0 && (prov[n] == '\0' || prov[n] == ',') &&
              strcmp(e->owner, mf_job_owner(j)) == 0;
    mf_registry_release(j->host->reg, e);
    return ok;
}

mf_err mf_job_reserve_model(mf_job *j, const char *name, const char *field, mf_diag *d)
{
    char holder[MF_ID_MAX + 1] = "";
    if (j->n_reserved == MF_JOB_MAX_RESERVED) {
        return mf_diag_setc(d, MF_ERANGE, "internal", NULL, "a job reserves at most %d model ids",
                            MF_JOB_MAX_RESERVED);
    }
    if (!j->host->reserve(j->host->ctx, j, name, holder)) {
        return mf_diag_setc(d, MF_EBUSY, "model_exists", field,
                            "a job queued or running here will create model %s (%s); choose "
                            "another out_model",
                            name, holder[0] != '\0' ? holder : "a job being submitted");
    }
    mf_reg_model *m = mf_registry_get(j->host->reg, name);
    if (m != NULL) {
        mf_registry_release(j->host->reg, m);
        if (mf_job_made_model(j, name)) {
            return MF_OK; /* an earlier attempt's: the run replaces it (mf_ft_publish) */
        }
        return mf_diag_setc(d, MF_EBUSY, "model_exists", field,
                            "a model with id %s exists already; choose another out_model, or "
                            "delete that model first",
                            name);
    }
    return MF_OK;
}

char *mf_job_stored_metrics(mf_job *j)
{
    if (j->backlog.metrics != NULL) {
        return strdup(j->backlog.metrics); /* reported, not yet stored */
    }
    mf_job_rec rec;
    memset(&rec, 0, sizeof rec);
    char *m = NULL;
    if (mf_store_job_get(j->host->store, j->id, &rec) == MF_OK && rec.metrics != NULL) {
        m = rec.metrics;
        rec.metrics = NULL;
    }
    mf_job_rec_done(&rec);
    return m;
}

/* ---- what a job reports ----------------------------------------------------------------- */

void mf_job_event(mf_job *j, const char *name, json_t *data)
{
    char *text = mf_json_take_dump(data);
    if (text == NULL) {
        mf_log(MF_LOG_ERROR, NULL, j->id, "out of memory for a %s event", name);
        return;
    }
    /* behind a report the store did not take, every event waits: a log keeps its order */
    if (mf_job_unstored(j)) {
        keep_event(j, name, text);
        return;
    }
    mf_err err = mf_store_event_append(j->host->store, j->id, name, text, NULL);
    if (kept_for_later(j, err, "event")) {
        keep_event(j, name, text);
        return;
    }
    free(text);
    j->host->notify(j->host->ctx, j->id);
}

/* Stores j's progress, or keeps it for mf_job_flush when the store cannot take it now. */
static void store_progress(mf_job *j)
{
    if (mf_job_unstored(j)) {
        j->backlog.progress = true; /* it would fail as well; the flush writes the latest */
        return;
    }
    mf_err err = mf_store_job_progress(j->host->store, j->id, j->done, j->total);
    j->backlog.progress = kept_for_later(j, err, "progress");
}

void mf_job_progress(mf_job *j, uint64_t done, uint64_t total, const char *phase, bool force)
{
    j->done = done;
    j->total = total;
    double t = mf_mono_s();
    if (phase == NULL || (!force && t - j->last_progress < PROGRESS_EVERY_S)) {
        return;
    }
    j->last_progress = t;
    store_progress(j);
    mf_job_event(j, "progress", mf_json_event_progress(j->id, done, total, phase));
}

/* Keeps metrics (copied) as the latest ones the store has not taken. */
static void keep_metrics(mf_job *j, const char *metrics)
{
    char *copy = strdup(metrics);
    if (copy == NULL) {
        mf_log(MF_LOG_ERROR, NULL, j->id, "out of memory keeping the metrics: lost");
        return;
    }
    free(j->backlog.metrics);
    j->backlog.metrics = copy;
}

void mf_job_metrics(mf_job *j, const char *metrics)
{
    if (mf_job_unstored(j)) {
        keep_metrics(j, metrics);
        return;
    }
    mf_err err = mf_store_job_metrics(j->host->store, j->id, metrics);
    if (kept_for_later(j, err, "metrics")) {
        keep_metrics(j, metrics);
    }
}

void mf_job_count_samples(mf_job *j, uint64_t n)
{
    j->host->samples(j->host->ctx, n);
}

/* Keeps j's final state (ev taken) for mf_job_flush. */
static void keep_final(mf_job *j, mf_job_state st, const char *result, const char *error, char *ev,
                       double t)
{
    mf_job_backlog *u = &j->backlog;
    u->result = result != NULL ? strdup(result) : NULL;
    u->error = error != NULL ? strdup(error) : NULL;
    u->event = ev != NULL ? ev : strdup("{}");
    if ((result != NULL && u->result == NULL) || (error != NULL && u->error == NULL) ||
        u->event == NULL) {
        mf_log(MF_LOG_ERROR, NULL, j->id, "out of memory keeping the final state: lost");
        free(u->result);
        free(u->error);
        free(u->event);
        u->result = u->error = u->event = NULL;
        return;
    }
    u->state = st;
    u->finished_at = t;
    u->final = true;
}

/*
 * Moves j to a final state.  The final status event carries the job object
 * as GET /v1/jobs/{id} will show it from then on: the stored record with the
 * final state, result, error, progress and time this transaction writes (a
 * sample job's large result is left out, as there: its rows went out as
 * samples events and GET .../result has them).
 */
static void finish(mf_job *j, mf_job_state st, const char *result, const char *error)
{
    double t = mf_wall_s();
    mf_store *store = j->host->store;
    if (j->started) {
        /* the last progress, so a cancelled job shows where it stopped */
        store_progress(j);
    }
    mf_job_rec rec;
    memset(&rec, 0, sizeof rec);
    if (mf_store_job_get(store, j->id, &rec) != MF_OK) {
        /* not readable (then the finish will hardly be written): what the job knows */
        mf_job_rec_done(&rec);
        memcpy(rec.id, j->id, sizeof rec.id);
        snprintf(rec.type, sizeof rec.type, "%s", j->type->codec->name);
        memcpy(rec.model, j->model_id, sizeof rec.model);
        rec.params = strdup(j->params_json != NULL ? j->params_json : "{}");
        rec.created_at = j->created_at;
        rec.started_at = j->started ? j->started_at : 0;
        rec.attempts = j->started ? 1 : 0;
        rec.done = j->done;
        rec.total = j->total;
    }
    mf_job_rec fin = rec;
    fin.state = st;
    fin.result = (char *) result;
    fin.error = (char *) error;
    fin.finished_at = t;
    if (j->started) {
        fin.done = j->done; /* what the job knows, stored or not yet */
        fin.total = j->total;
    }
    if (j->backlog.metrics != NULL) {
        fin.metrics = j->backlog.metrics;
    }
    json_t *jo = mf_job_object(&fin, -1, false);
    mf_job_rec_done(&rec);
    char *ev = mf_json_take_dump(mf_json_event_status(j->id, mf_job_state_name(st), jo));
    json_decref(jo);
    /* The final state goes last: behind what the store has not taken yet, it waits too. */
    bool keep = mf_job_unstored(j);
    if (!keep) {
        mf_err err =
            mf_store_job_finish(store, j->id, st, result, error, ev != NULL ? ev : "{}", t);
        keep = kept_for_later(j, err, "final state");
    }
    if (keep) {
        keep_final(j, st, result, error, ev, t);
    } else {
        free(ev);
    }
    j->finished = true;
    j->host->finished(j->host->ctx, j, st);
    char what[640];
    mf_json_job_summary(result, error, what, sizeof what);
    mf_log(st == MF_JOB_FAILED ? MF_LOG_WARN : MF_LOG_INFO, NULL, j->id, "job %s%s%s%s",
           mf_job_state_name(st), what[0] != '\0' ? ": " : "", what,
           keep ? " (stored once the job store takes writes)" : "");
    if (!keep) {
        j->host->notify(j->host->ctx, j->id);
    }
}

void mf_job_succeed(mf_job *j, const char *result)
{
    finish(j, MF_JOB_SUCCEEDED, result, NULL);
}

void mf_job_fail(mf_job *j, const char *code, const char *what, mf_err err)
{
    char msg[256];
    snprintf(msg, sizeof msg, "%s: %s", what, mf_strerror(err));
    char *e = mf_json_job_error(code, msg);
    finish(j, MF_JOB_FAILED, NULL, e);
    free(e);
}

void mf_job_cancel(mf_job *j, const char *message)
{
    char *e = mf_json_job_error("cancelled", message != NULL ? message : "cancelled by request");
    finish(j, MF_JOB_CANCELLED, NULL, e);
    free(e);
}
