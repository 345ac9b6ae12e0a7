/* SPDX-License-Identifier: MIT */
/*
 * sample_codec.c - the fields of a sampling request, for POST /v1/samples and
 * the "sample" job (see sample_codec.h and request_json.h for the fields).
 */
#include "sample_codec.h"

#include <stddef.h>
#include <stdio.h>

#include "req_decode.h"

static mf_err decode_sampler(const json_t *v, const char *ptr, const mf_req_limits *lim,
                             void *params, mf_diag *d)
{
    (void) lim;
    mf_sample_req *r = params;
    r->sampler = MF_SAMPLER_DDPM;
    if (v == NULL) {
        return MF_OK;
    }
    char what[128];
    snprintf(what, sizeof what, "one of \"%s\", \"%s\", \"%s\"", mf_sampler_name(MF_SAMPLER_DDPM),
             mf_sampler_name(MF_SAMPLER_DDIM), mf_sampler_name(MF_SAMPLER_ODE));
    if (!json_is_string(v)) {
        return mf_req_fail_must(d, "wrong_type", ptr, what, v);
    }
    if (mf_sampler_lookup(json_string_value(v), &r->sampler) != MF_OK) {
        return mf_req_fail_must(d, "bad_value", ptr, what, v);
    }
    return MF_OK;
}

static int encode_sampler(json_t *o, const char *key, const void *params)
{
    const mf_sample_req *r = params;
    return json_object_set_new(o, key, json_string(mf_sampler_name(r->sampler)));
}

/* The fields in the order they are checked; a sample job's params skip the first. */
#define F(k) .key = #k, .offset = offsetof(mf_sample_req, k)
static const mf_req_field fields[] = {
    {F(model), .type = MF_REQ_ID, .required = true, .what = MF_REQ_ID_RULE},
    {F(n), .type = MF_REQ_SIZE, .lo = 1, .limit = MF_REQ_LIM_N, .required = true},
    {F(sampler), .type = MF_REQ_CUSTOM, .decode = decode_sampler, .encode = encode_sampler},
    /* 0 = the server picks (T for ddpm, 100 otherwise): not a value to store */
    {F(steps), .type = MF_REQ_SIZE, .lo = 1, .limit = MF_REQ_LIM_STEPS, .omit_zero = true},
    {F(eta), .type = MF_REQ_NUMBER, .lo = 0, .hi = 1, .what = "a number between 0 and 1"},
    /* not given: the server draws one and reports it */
    {F(seed), .type = MF_REQ_U64, .hi = (double) MF_REQ_SEED_MAX, .has_given = true,
     .given_offset = offsetof(mf_sample_req, has_seed)},
    {F(metrics), .type = MF_REQ_BOOL, .def = 1},
    {.key = NULL},
};
#undef F
static const mf_req_field *const param_fields = fields + 1;

mf_err mf_req_decode_sample_fields(json_t *o, const char *prefix, bool with_model,
                                   const mf_req_limits *lim, mf_sample_req *r, mf_diag *d)
{
    if (!with_model && json_object_get(o, "model") != NULL) {
        char ptr[128];
        mf_req_ptr_join(ptr, sizeof ptr, prefix, "model");
        return mf_req_fail(d, "unknown_field", ptr,
                           "unknown field \"%s\"; a sample job names its model in the top-level "
                           "\"model\"",
                           ptr);
    }
    return mf_req_decode_fields(with_model ? fields : param_fields, o, prefix, lim, true, r, d);
}

char *mf_req_sample_params_json(const mf_sample_req *r)
{
    return mf_req_encode_fields(param_fields, r);
}

static mf_err decode(json_t *params, const char *model, const mf_req_limits *lim, void *out,
                     mf_diag *d)
{
    if (params == NULL) {
        return mf_req_fail_missing(d, "/params", "an object with at least \"n\"");
    }
    mf_sample_req *r = out;
    mf_err err = mf_req_decode_sample_fields(params, "/params", false, lim, r, d);
    if (err == MF_OK) {
        /* The job's request carries its model, so the server runs it like a
         * /v1/samples request. */
        snprintf(r->model, sizeof r->model, "%s", model);
    }
    return err;
}

static char *encode(const void *params)
{
    return mf_req_sample_params_json(params);
}

const mf_job_codec mf_sample_codec = {
    .name = "sample",
    .model = MF_CODEC_MODEL,
    .params_size = sizeof(mf_sample_req),
    .decode = decode,
    .encode = encode,
};
