/* SPDX-License-Identifier: MIT */
/*
 * request_json.c - the envelopes of the request bodies (see request_json.h):
 * POST /v1/samples, and POST /v1/jobs whose params each job type's codec
 * (proto/jobs/) decodes.  The field-level machinery is req_decode.c.
 */
#include "request_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "job_codec.h"
#include "req_decode.h"
#include "sample_codec.h"

static const char *const job_keys[] = {"type", "model", "params", NULL};
/* Job types of the API that this build does not run (422 unsupported_type). */
static const char *const api_types[] = {NULL};

/* "\"sample\", \"train\" or \"finetune.smeme\"" (or "and"): the job types, for messages. */
static void job_types(char *buf, size_t cap, const char *last_sep)
{
    buf[0] = '\0';
    size_t n = 0;
    while (mf_job_codecs[n] != NULL) {
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(buf);
        const char *sep = i == 0 ? "" : (i + 1 == n ? last_sep : ", ");
        snprintf(buf + len, cap - len, "%s\"%s\"", sep, mf_job_codecs[i]->name);
    }
}

mf_err mf_req_decode_samples(const char *body, size_t len, const mf_req_limits *lim,
                             mf_sample_req *ret, mf_diag *d)
{
    mf_req_limits def = mf_req_limits_default();
    json_t *root = NULL;
    mf_err err = mf_req_parse_object(body, len, "the body", "", &root, d);
    if (err != MF_OK) {
        return err;
    }
    mf_sample_req r;
    memset(&r, 0, sizeof r);
    err = mf_req_decode_sample_fields(root, "", true, lim != NULL ? lim : &def, &r, d);
    json_decref(root);
    if (err == MF_OK) {
        *ret = r;
    }
    return err;
}

void mf_job_req_done(mf_job_req *r)
{
    if (r == NULL) {
        return;
    }
    free(r->params);
    free(r->params_json);
    r->params = NULL;
    r->params_json = NULL;
}

/* The params of a job of codec c on model (already set in j) into j. */
static mf_err decode_params(json_t *params, const mf_req_limits *lim, mf_job_req *j, mf_diag *d)
{
    const mf_job_codec *c = j->codec;
    if (params != NULL && !json_is_object(params)) {
        char what[64];
        snprintf(what, sizeof what, "an object of %s job params", c->name);
        return mf_req_fail_must(d, "wrong_type", "/params", what, params);
    }
    j->params = calloc(1, c->params_size);
    if (j->params == NULL) {
        return mf_req_fail_nomem(d);
    }
    mf_err err = c->decode(params, j->model, lim, j->params, d);
    if (err != MF_OK) {
        return err;
    }
    j->params_json = c->encode(j->params);
    return j->params_json == NULL ? mf_req_fail_nomem(d) : MF_OK;
}

/* The model of a job: required (and an id) when the type takes one, else forbidden. */
static mf_err decode_model(const mf_job_codec *c, const json_t *v, mf_job_req *j, mf_diag *d)
{
    if (c->model == MF_CODEC_NO_MODEL) {
        if (v != NULL) {
            return mf_req_fail(d, "unknown_field", "/model", "unknown field \"/model\"; %s",
                               c->model_hint);
        }
        return MF_OK;
    }
    if (v == NULL) {
        return c->model == MF_CODEC_MODEL ? mf_req_fail_missing(d, "/model", MF_REQ_ID_RULE)
                                          : MF_OK;
    }
    return mf_req_get_id(v, "/model", j->model, d);
}

mf_err mf_req_decode_job(const char *body, size_t len, const mf_req_limits *lim, mf_job_req *ret,
                         mf_diag *d)
{
    mf_req_limits def = mf_req_limits_default();
    json_t *root = NULL, *v;
    mf_job_req j;
    memset(&j, 0, sizeof j);
    memset(ret, 0, sizeof *ret);
    char types[160];
    mf_err err = mf_req_parse_object(body, len, "the body", "", &root, d);
    if (err != MF_OK) {
        return err;
    }
    if ((err = mf_req_check_keys(root, "", job_keys, d)) != MF_OK) {
        goto out;
    }
    job_types(types, sizeof types, " or ");
    if ((v = json_object_get(root, "type")) == NULL) {
        err = mf_req_fail_missing(d, "/type", types);
        goto out;
    }
    const char *type = json_is_string(v) ? json_string_value(v) : NULL;
    j.codec = mf_job_codec_lookup(type);
    if (j.codec == NULL) {
        for (size_t i = 0; type != NULL && api_types[i] != NULL; i++) {
            if (strcmp(type, api_types[i]) == 0) {
                char runs[160];
                job_types(runs, sizeof runs, " and ");
                err = mf_req_fail(d, "unsupported_type", "/type",
                                  "\"/type\" \"%s\" is not available in this build, which runs %s "
                                  "jobs",
                                  type, runs);
                goto out;
            }
        }
        err = mf_req_fail_must(d, type == NULL ? "wrong_type" : "bad_value", "/type", types, v);
        goto out;
    }
    if ((err = decode_model(j.codec, json_object_get(root, "model"), &j, d)) != MF_OK) {
        goto out;
    }
    err = decode_params(json_object_get(root, "params"), lim != NULL ? lim : &def, &j, d);
out:
    json_decref(root);
    if (err != MF_OK) {
        mf_job_req_done(&j);
        return err;
    }
    *ret = j;
    return MF_OK;
}

mf_err mf_req_decode_job_params(const char *type, const char *model, const char *params_json,
                                const mf_req_limits *lim, mf_job_req *ret, mf_diag *d)
{
    mf_req_limits def = mf_req_limits_default();
    json_t *params = NULL;
    mf_job_req j;
    memset(&j, 0, sizeof j);
    memset(ret, 0, sizeof *ret);
    j.codec = mf_job_codec_lookup(type);
    if (j.codec == NULL) {
        char types[160];
        job_types(types, sizeof types, " or ");
        return mf_req_fail(d, "bad_value", "/type", "\"/type\" must be %s", types);
    }
    bool given = model != NULL && model[0] != '\0';
    if (j.codec->model == MF_CODEC_MODEL || (j.codec->model == MF_CODEC_MODEL_OPTIONAL && given)) {
        if (!mf_req_id_valid(model)) {
            return mf_req_fail(d, "bad_value", "/model", "\"/model\" must be " MF_REQ_ID_RULE);
        }
        memcpy(j.model, model, strlen(model) + 1);
    } else if (j.codec->model == MF_CODEC_NO_MODEL && given) {
        /* As in mf_req_decode_job: the type takes no model. */
        return mf_req_fail(d, "unknown_field", "/model", "unknown field \"/model\"; %s",
                           j.codec->model_hint);
    }
    mf_err err = mf_req_parse_object(params_json, params_json != NULL ? strlen(params_json) : 0,
                                     "\"/params\"", "/params", &params, d);
    if (err != MF_OK) {
        return err;
    }
    err = decode_params(params, lim != NULL ? lim : &def, &j, d);
    json_decref(params);
    if (err != MF_OK) {
        mf_job_req_done(&j);
        return err;
    }
    *ret = j;
    return MF_OK;
}
