/* SPDX-License-Identifier: MIT */
/* routes_jobs.c - POST /v1/samples and /v1/jobs (submit, list, get, cancel, events, result). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_json.h"
#include "auth.h"
#include "http_req.h"
#include "job_object.h"
#include "log.h"
#include "metrics_json.h"
#include "request_json.h"
#include "routes.h"
#include "stream.h"

/* ---- POST /v1/samples ---------------------------------------------------------------- */

static void call_done(mf_sample_call *c)
{
    req *r = c->ctx;
    atomic_store(&r->call_done, 1);
    MHD_resume_connection(r->conn);
}

json_t *mf_sample_call_json(const mf_sample_call *c, bool with_samples)
{
    json_t *mj = c->has_metrics ? mf_json_metrics(&c->metrics) : NULL;
    mf_sample_view v = {.req = &c->req,
                        .x = with_samples ? c->x : NULL,
                        .D = c->model->model->net->cfg.data_dim,
                        .metrics = mj,
                        .metrics_skipped =
                            c->metrics_skipped[0] != '\0' ? c->metrics_skipped : NULL};
    json_t *j = mf_json_sample_result(&v);
    json_decref(mj);
    return j;
}

static enum MHD_Result sample_response(req *r)
{
    mf_sample_call *c = r->call;
    if (c->err != MF_OK) {
        if (c->err == MF_EBUSY) {
            r->retry_after = mf_sched_retry_after(r->srv->sched, false);
        }
        return mf_http_fail(r, c->err, &c->diag);
    }
    char *body = mf_json_take_dump(mf_sample_call_json(c, true));
    return mf_http_json(r, 200, body);
}

/* The resume step of a suspended call: answers once the call is done. */
static enum MHD_Result sample_resumed(req *r)
{
    return atomic_load(&r->call_done) ? sample_response(r) : MHD_YES;
}

static void sample_cleanup(req *r)
{
    mf_sample_call_release(r->call, r->srv->reg);
}

enum MHD_Result mf_route_samples(req *r)
{
    mf_server *s = r->srv;
    if (!mf_http_content_type_is(r, "application/json")) {
        return mf_http_need_json(r);
    }
    mf_sample_req q;
    mf_diag d = {0};
    const mf_req_limits *lim = mf_sched_limits(s->sched);
    mf_err err = mf_req_decode_samples(r->body != NULL ? r->body : "", r->len, lim, &q, &d);
    if (err != MF_OK) {
        return mf_http_fail(r, err, &d);
    }
    mf_reg_model *model = mf_req_model(r, q.model);
    if (model == NULL) {
        return mf_http_error(r, "model_not_found", "/model", "no model with id %s", q.model);
    }
    if ((err = mf_sched_resolve(s->sched, &q, model->model, "", &d)) != MF_OK) {
        mf_registry_release(s->reg, model);
        return mf_http_fail(r, err, &d);
    }
    /* compute: a forward pass costs about 2 FLOPs per weight per row (multiply and add) */
    enum MHD_Result refused;
    double flops = 2.0 * (double) model->model->net->n_params * (double) q.n * (double) q.steps;
    if (!mf_http_compute(r, flops, &refused)) {
        mf_registry_release(s->reg, model);
        return refused;
    }
    mf_sample_call *c = mf_sample_call_new();
    if (c == NULL) {
        mf_registry_release(s->reg, model);
        return mf_http_error(r, "internal", NULL, "out of memory");
    }
    c->req = q;
    c->model = model;
    mf_req_client(r, c->client, sizeof c->client); /* its turn by fair queueing (sample_batch.h) */
    if ((err = mf_sample_call_rows(c)) != MF_OK) {
        mf_sample_call_release(c, s->reg);
        return mf_http_fail(r, err, &d);
    }
    if (mf_stream_wanted(r)) {
        return mf_stream_sample_call(r, c);
    }
    c->done = call_done;
    c->ctx = r;
    atomic_init(&r->call_done, 0);
    r->call = c;
    r->resume = sample_resumed;
    r->cleanup = sample_cleanup;
    /* Suspend first: the worker may finish before mf_sched_sample returns. */
    MHD_suspend_connection(r->conn);
    err = mf_sched_sample(s->sched, c, &c->diag);
    if (err != MF_OK) {
        c->err = err;
        atomic_store(&r->call_done, 1);
        MHD_resume_connection(r->conn);
    }
    return MHD_YES;
}

/* ---- /v1/jobs ------------------------------------------------------------------------- */

/* The job object of rec, with what only the scheduler knows (queue position, a cancel asked). */
static json_t *job_json(req *r, const mf_job_rec *rec)
{
    mf_sched *sched = r->srv->sched;
    long pos = rec->state == MF_JOB_QUEUED ? mf_sched_queue_position(sched, rec->id) : -1;
    bool cancel = rec->state == MF_JOB_RUNNING && mf_sched_cancel_requested(sched, rec->id);
    return mf_job_object(rec, pos, cancel);
}

/* A job's charge to its key's compute of the day (mf_sched_admit_fn). */
typedef struct charge {
    req *r;
    bool over;              /* refused: answer is the queued 429 */
    enum MHD_Result answer;
} charge;

static mf_err charge_job(void *ctx, double flops, mf_diag *d)
{
    charge *c = ctx;
    if (mf_http_compute(c->r, flops, &c->answer)) {
        return MF_OK;
    }
    c->over = true;
    return mf_diag_setc(d, MF_ERANGE, "rate_limited", NULL, "over the key's daily compute");
}

enum MHD_Result mf_route_jobs_submit(req *r)
{
    mf_server *s = r->srv;
    if (!mf_http_content_type_is(r, "application/json")) {
        return mf_http_need_json(r);
    }
    mf_job_req q;
    mf_diag d = {0};
    const mf_req_limits *lim = mf_sched_limits(s->sched);
    mf_err err = mf_req_decode_job(r->body != NULL ? r->body : "", r->len, lim, &q, &d);
    if (err != MF_OK) {
        return mf_http_fail(r, err, &d);
    }
    /* sampling jobs need what POST /v1/samples needs; training and fine-tuning more */
    unsigned scope = strcmp(q.codec->name, "sample") == 0 ? MF_SCOPE_SAMPLE : MF_SCOPE_FINETUNE;
    if (!mf_req_has(r, scope)) {
        mf_job_req_done(&q);
        return mf_http_need_scope(r, scope);
    }
    if (q.model[0] != '\0') {
        mf_reg_model *parent = mf_req_model(r, q.model);
        if (parent == NULL) {
            mf_job_req_done(&q);
            return mf_http_error(r, "model_not_found", "/model", "no model with id %s", q.model);
        }
        mf_registry_release(s->reg, parent);
    }
    enum MHD_Result refused;
    /* a job that makes a model may not start while its key is over its storage */
    if (!mf_http_job_slot(r, &refused) ||
        (scope == MF_SCOPE_FINETUNE && !mf_http_storage(r, 0, &refused))) {
        mf_job_req_done(&q);
        return refused;
    }
    snprintf(q.owner, sizeof q.owner, "%s", mf_req_owner(r));
    char id[MF_ID_MAX + 1];
    long pos = -1;
    charge ch = {.r = r};
    err = mf_sched_submit_admit(s->sched, &q, charge_job, &ch, id, &pos, &d);
    if (ch.over) {
        return ch.answer; /* the key's daily compute: its 429 is queued */
    }
    if (err == MF_EBUSY) {
        r->retry_after = mf_sched_retry_after(s->sched, true);
    } else if (err == MF_ENOSPC) {
        r->retry_after = mf_sched_store_retry_after(s->sched);
    }
    if (err != MF_OK) {
        return mf_http_fail(r, err, &d);
    }
    mf_job_rec rec;
    memset(&rec, 0, sizeof rec);
    if (mf_store_job_get(s->store, id, &rec) != MF_OK) {
        return mf_http_error(r, "store", NULL, "the job store failed");
    }
    snprintf(r->location, sizeof r->location, "/v1/jobs/%s", id);
    char *body = mf_json_take_dump(job_json(r, &rec));
    mf_job_rec_done(&rec);
    mf_log(MF_LOG_INFO, r->id, id, "job submitted");
    return mf_http_json(r, 202, body);
}

enum MHD_Result mf_route_jobs_list(req *r)
{
    mf_job_filter f = {.state = -1, .limit = 100};
    const char *state = mf_http_arg(r, "state"), *limit = mf_http_arg(r, "limit");
    if (state != NULL) {
        mf_job_state st;
        if (mf_job_state_lookup(state, &st) != MF_OK) {
            return mf_http_error(r, "bad_value", "state",
                                 "state must be queued, running, succeeded, failed or cancelled");
        }
        f.state = (int) st;
    }
    if (limit != NULL) {
        char *end;
        long v = strtol(limit, &end, 10);
        if (*limit == '\0' || *end != '\0' || v < 1 || v > 1000) {
            return mf_http_error(r, "out_of_range", "limit",
                                 "limit must be an integer between 1 and 1000");
        }
        f.limit = (size_t) v;
    }
    f.model = mf_http_arg(r, "model");
    f.type = mf_http_arg(r, "type");
    f.before = mf_http_arg(r, "before");
    f.owner = r->key != NULL && !mf_key_has(r->key, MF_SCOPE_ADMIN) ? r->key->name : NULL;
    bool bad_model = f.model != NULL && strcmp(f.model, MF_HTTP_ARG_BAD) == 0;
    if (bad_model || (f.type != NULL && strcmp(f.type, MF_HTTP_ARG_BAD) == 0)) {
        return mf_http_error(r, "bad_value", bad_model ? "model" : "type",
                             "%s must not hold control characters", bad_model ? "model" : "type");
    }
    if (f.before != NULL && !mf_req_id_valid(f.before)) {
        return mf_http_error(r, "bad_value", "before", "before must be a job id");
    }
    mf_job_rec *recs = NULL;
    size_t n = 0;
    if (mf_store_job_list(r->srv->store, &f, &recs, &n) != MF_OK) {
        return mf_http_error(r, "store", NULL, "the job store failed");
    }
    json_t *a = json_array();
    int fail = a == NULL;
    for (size_t i = 0; i < n; i++) {
        if (!fail) {
            fail |= json_array_append_new(a, job_json(r, &recs[i]));
        }
    }
    const char *next = n == f.limit && n > 0 ? recs[n - 1].id : NULL;
    char *body = fail ? NULL : mf_json_take_dump(mf_json_job_list(a, next));
    if (fail) {
        json_decref(a);
    }
    for (size_t i = 0; i < n; i++) {
        mf_job_rec_done(&recs[i]);
    }
    free(recs);
    return mf_http_json(r, 200, body);
}

/* GET /v1/jobs/{id}: the job object, or with result its result (or 409). */
static enum MHD_Result job_answer(req *r, bool result)
{
    const char *id = r->path_id;
    mf_job_rec rec;
    memset(&rec, 0, sizeof rec);
    mf_err err = mf_store_job_get(r->srv->store, id, &rec);
    if (err == MF_OK && !mf_req_may_see(r, rec.owner)) {
        mf_job_rec_done(&rec);
        err = MF_ENOTFOUND; /* another key's job: its id is not confirmed */
    }
    if (err == MF_ENOTFOUND) {
        return mf_http_error(r, "not_found", NULL, "no job with id %s", id);
    }
    if (err != MF_OK) {
        return mf_http_error(r, "store", NULL, "the job store failed");
    }
    char *body = NULL;
    unsigned status = 200;
    if (result) {
        if (rec.state == MF_JOB_SUCCEEDED && rec.result != NULL) {
            body = strdup(rec.result);
        } else if (mf_job_state_final(rec.state)) {
            mf_job_rec_done(&rec);
            return mf_http_error(r, "no_result", NULL, "job %s ended %s and has no result", id,
                                 mf_job_state_name(rec.state));
        } else {
            mf_job_rec_done(&rec);
            return mf_http_error(r, "not_finished", NULL,
                                 "job %s is %s; its result is not ready (watch /v1/jobs/%s/events)",
                                 id, mf_job_state_name(rec.state), id);
        }
    } else {
        body = mf_json_take_dump(job_json(r, &rec));
    }
    mf_job_rec_done(&rec);
    return mf_http_json(r, status, body);
}

enum MHD_Result mf_route_job_get(req *r)
{
    return job_answer(r, false);
}

/*
 * Whether r may act on job id: true, or false with the answer queued in *ret (404 for
 * a job its key may not see, 403 for one it sees but may not change).
 * need_change: cancel; else reading (events).
 */
static bool job_allowed(req *r, const char *id, bool need_change, enum MHD_Result *ret)
{
    if (r->key == NULL) {
        return true; /* no keys: every job is everyone's */
    }
    mf_job_rec rec;
    memset(&rec, 0, sizeof rec);
    mf_err err = mf_store_job_get(r->srv->store, id, &rec);
    bool see = err == MF_OK && mf_req_may_see(r, rec.owner);
    bool change = see && mf_req_may_change(r, rec.owner);
    unsigned scope = strcmp(rec.type, "sample") == 0 ? MF_SCOPE_SAMPLE : MF_SCOPE_FINETUNE;
    mf_job_rec_done(&rec);
    if (err != MF_OK && err != MF_ENOTFOUND) {
        *ret = mf_http_error(r, "store", NULL, "the job store failed");
        return false;
    }
    if (!see) {
        *ret = mf_http_error(r, "not_found", NULL, "no job with id %s", id);
        return false;
    }
    if (need_change && !change) {
        *ret = mf_http_error(r, "forbidden", NULL,
                             "job %s belongs to no API key: only an admin key cancels it", id);
        return false;
    }
    if (need_change && !mf_req_has(r, scope)) {
        *ret = mf_http_need_scope(r, scope);
        return false;
    }
    return true;
}

enum MHD_Result mf_route_job_cancel(req *r)
{
    const char *id = r->path_id;
    enum MHD_Result refused;
    if (!job_allowed(r, id, true, &refused)) {
        return refused;
    }
    mf_err err = mf_sched_cancel(r->srv->sched, id);
    if (err == MF_ENOTFOUND) {
        return mf_http_error(r, "not_found", NULL, "no job with id %s", id);
    }
    if (err == MF_ENOSPC) {
        r->retry_after = mf_sched_store_retry_after(r->srv->sched);
        return mf_http_error(r, "insufficient_storage", NULL,
                             "the job store is full: the cancel of job %s was not stored; retry "
                             "once space is freed",
                             id);
    }
    if (err != MF_OK) {
        return mf_http_error(r, "store", NULL, "the job store failed");
    }
    mf_log(MF_LOG_INFO, r->id, id, "cancel requested");
    return mf_route_job_get(r);
}

enum MHD_Result mf_route_job_events(req *r)
{
    enum MHD_Result refused;
    if (!job_allowed(r, r->path_id, false, &refused)) {
        return refused;
    }
    return mf_stream_job_events(r, r->path_id);
}

enum MHD_Result mf_route_job_result(req *r)
{
    return job_answer(r, true);
}
