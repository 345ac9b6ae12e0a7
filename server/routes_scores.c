/* SPDX-License-Identifier: MIT */
/*
 * routes_scores.c - POST /v1/scores: anomaly scores of points under a DxMI
 * model's energy network.
 *
 * The body is decoded by proto/score_json.c (400 on the first bad element),
 * checked against the model here (404 model_not_found, 422 impossible: no
 * energy network, points of another dimension), then the call waits for a
 * worker like a sampling call (score_call.h) while the connection is
 * suspended; the worker's done callback resumes it and the answer is encoded
 * by proto/.  Nothing is computed on the HTTP thread.
 */
#include <stdlib.h>

#include "api_json.h"
#include "http_req.h"
#include "routes.h"
#include "score_json.h"

static void score_done(mf_score_call *c)
{
    req *r = c->ctx;
    atomic_store(&r->call_done, 1);
    MHD_resume_connection(r->conn);
}

static enum MHD_Result score_response(req *r)
{
    mf_score_call *c = r->score;
    if (c->err != MF_OK) {
        if (c->err == MF_EBUSY) {
            r->retry_after = mf_sched_retry_after(r->srv->sched, false);
        }
        return mf_http_fail(r, c->err, &c->diag);
    }
    mf_score_view v = {.model = c->req.model,
                       .n = c->req.n,
                       .scores = c->scores,
                       .threshold = mf_score_threshold(c->model->model)};
    return mf_http_json(r, 200, mf_json_take_dump(mf_json_scores(&v)));
}

/* The resume step of a suspended call: answers once the call is done. */
static enum MHD_Result score_resumed(req *r)
{
    return atomic_load(&r->call_done) ? score_response(r) : MHD_YES;
}

static void score_cleanup(req *r)
{
    mf_score_call_release(r->score, r->srv->reg);
}

enum MHD_Result mf_route_scores(req *r)
{
    mf_server *s = r->srv;
    if (!mf_http_content_type_is(r, "application/json")) {
        return mf_http_need_json(r);
    }
    mf_score_req q;
    mf_diag d = {0};
    const mf_req_limits *lim = mf_sched_limits(s->sched);
    mf_err err = mf_req_decode_scores(r->body != NULL ? r->body : "", r->len, lim, &q, &d);
    if (err != MF_OK) {
        return mf_http_fail(r, err, &d);
    }
    mf_reg_model *model = mf_req_model(r, q.model);
    if (model == NULL) {
        enum MHD_Result res =
            mf_http_error(r, "model_not_found", "/model", "no model with id %s", q.model);
        mf_score_req_done(&q);
        return res;
    }
    mf_score_call *c = NULL;
    if ((err = mf_score_check(&q, model->model, &d)) != MF_OK ||
        (c = mf_score_call_new()) == NULL) {
        mf_registry_release(s->reg, model);
        mf_score_req_done(&q);
        return err != MF_OK ? mf_http_fail(r, err, &d)
                            : mf_http_error(r, "internal", NULL, "out of memory");
    }
    c->req = q; /* the call owns the points from here */
    c->model = model;
    c->done = score_done;
    c->ctx = r;
    atomic_init(&r->call_done, 0);
    r->score = c;
    r->resume = score_resumed;
    r->cleanup = score_cleanup;
    /* Suspend first: the worker may finish before mf_sched_score returns. */
    MHD_suspend_connection(r->conn);
    err = mf_sched_score(s->sched, c, &c->diag);
    if (err != MF_OK) {
        c->err = err;
        atomic_store(&r->call_done, 1);
        MHD_resume_connection(r->conn);
    }
    return MHD_YES;
}
