/* SPDX-License-Identifier: MIT */
/*
 * job.c - a job in memory and the functions its type reports through (see
 * jobs/job_type.h and job_impl.h).
 *
 * Every report goes to the job store first (events are appended there and
 * streamed from there) and then to the host's callbacks: notify wakes the
 * job's streams, finished keeps the scheduler's statistics.  Store failures
 * are logged and do not stop the job: a job that cannot write its progress
 * still finishes.  Threading: a job is touched by one thread at a time (the
 * submitter, then one worker per slice), so its fields need no lock; the
 * store and the host serialise themselves.
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

mf_err mf_job_new(const mf_job_host *host, const mf_job_type *type, mf_job_req *req, mf_job **ret,
                  mf_diag *d)
{
    mf_job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        mf_job_req_done(req);
        return mf_diag_set(d, MF_ENOMEM, NULL, "out of memory");
    }
    j->type = type;
    j->host = host;
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
    if (err == MF_OK && (type->codec->model == MF_CODEC_MODEL ||
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

void mf_job_free(mf_job *j)
{
    if (j == NULL) {
        return;
    }
    if (j->type->deinit != NULL) {
        j->type->deinit(j);
    }
    if (j->reserved[0] != '\0') {
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

mf_err mf_job_reserve_model(mf_job *j, const char *name, const char *field, mf_diag *d)
{
    char holder[MF_ID_MAX + 1] = "";
    if (!j->host->reserve(j->host->ctx, j, name, holder)) {
        return mf_diag_setc(d, MF_EBUSY, "model_exists", field,
                            "a job queued or running here will create model %s (%s); choose "
                            "another out_model",
                            name, holder[0] != '\0' ? holder : "a job being submitted");
    }
    mf_reg_model *m = mf_registry_get(j->host->reg, name);
    if (m != NULL) {
        mf_registry_release(j->host->reg, m);
        return mf_diag_setc(d, MF_EBUSY, "model_exists", field,
                            "a model with id %s exists already; choose another out_model, or "
                            "delete that model first",
                            name);
    }
    return MF_OK;
}

char *mf_job_stored_metrics(mf_job *j)
{
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
    mf_err err = mf_store_event_append(j->host->store, j->id, name, text, NULL);
    free(text);
    if (err != MF_OK && err != MF_EBUSY) {
        mf_log(MF_LOG_ERROR, NULL, j->id, "cannot store a %s event: %s", name, mf_strerror(err));
    }
    j->host->notify(j->host->ctx, j->id);
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
    mf_err pe = mf_store_job_progress(j->host->store, j->id, done, total);
    if (pe != MF_OK && pe != MF_EBUSY) {
        mf_log(MF_LOG_WARN, NULL, j->id, "cannot store the progress: %s", mf_strerror(pe));
    }
    mf_job_event(j, "progress", mf_json_event_progress(j->id, done, total, phase));
}

void mf_job_metrics(mf_job *j, const char *metrics)
{
    mf_err err = mf_store_job_metrics(j->host->store, j->id, metrics);
    if (err != MF_OK && err != MF_EBUSY) {
        mf_log(MF_LOG_WARN, NULL, j->id, "cannot store the metrics: %s", mf_strerror(err));
    }
}

void mf_job_count_samples(mf_job *j, uint64_t n)
{
    j->host->samples(j->host->ctx, n);
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
        (void) !mf_store_job_progress(store, j->id, j->done, j->total);
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
    json_t *jo = mf_job_object(&fin, -1, false);
    mf_job_rec_done(&rec);
    char *ev = mf_json_take_dump(mf_json_event_status(j->id, mf_job_state_name(st), jo));
    json_decref(jo);
    mf_err err = mf_store_job_finish(store, j->id, st, result, error, ev != NULL ? ev : "{}", t);
    free(ev);
    if (err != MF_OK && err != MF_EBUSY) {
        mf_log(MF_LOG_ERROR, NULL, j->id, "cannot store the final state: %s", mf_strerror(err));
    }
    j->finished = true;
    j->host->finished(j->host->ctx, j, st);
    mf_log(MF_LOG_INFO, NULL, j->id, "job %s", mf_job_state_name(st));
    j->host->notify(j->host->ctx, j->id);
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
