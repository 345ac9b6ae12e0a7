/* SPDX-License-Identifier: MIT */
/*
 * sample_codec.c - the fields of a sampling request, for POST /v1/samples and
 * the "sample" job (see sample_codec.h and request_json.h for the fields).
 */
#include "sample_codec.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_budget.h"
#include "req_decode.h"

#define VALUE_MAX 1e6 /* of a target or a condition input */

/* "condition": 1..MF_SAMPLE_MAX_COND numbers. */
static mf_err decode_condition(const json_t *v, const char *ptr, const mf_req_limits *lim,
                               void *params, mf_diag *d)
{
    (void) lim;
    mf_sample_req *r = params;
    r->n_condition = 0;
    if (v == NULL) {
        return MF_OK;
    }
    char what[128];
    snprintf(what, sizeof what, "an array of 1 to %d numbers between -1000000 and 1000000",
             MF_SAMPLE_MAX_COND);
    if (!json_is_array(v)) {
        return mf_req_fail_must(d, "wrong_type", ptr, what, v);
    }
    size_t k = json_array_size(v);
    if (k == 0 || k > MF_SAMPLE_MAX_COND) {
        return mf_req_fail_must(d, "out_of_range", ptr, what, v);
    }
    for (size_t i = 0; i < k; i++) {
        char eptr[128];
        mf_req_ptr_index(eptr, sizeof eptr, ptr, i);
        mf_err err =
            mf_req_get_number(json_array_get(v, i), eptr, -VALUE_MAX, VALUE_MAX, false,
                              "a number between -1000000 and 1000000", &r->condition[i], d);
        if (err != MF_OK) {
            return err;
        }
    }
    r->n_condition = k;
    return MF_OK;
}

static int encode_condition(json_t *o, const char *key, const void *params)
{
    const mf_sample_req *r = params;
    if (r->n_condition == 0) {
        return 0;
    }
    json_t *a = json_array();
    int f = a == NULL;
    for (size_t i = 0; i < r->n_condition && !f; i++) {
        f |= json_array_append_new(a, json_real(r->condition[i]));
    }
    return f | json_object_set_new(o, key, a);
}

_Static_assert(sizeof(mf_guide_mode) == sizeof(int), "an MF_REQ_ENUM field");
_Static_assert(sizeof(mf_sampler_kind) == sizeof(int), "an MF_REQ_ENUM field");
_Static_assert(sizeof(mf_precision) == sizeof(int), "an MF_REQ_ENUM field");

/* The "guidance" object's fields, offsets in mf_sample_req. */
static const mf_req_field guidance_fields[] = {
    {.key = "mode",
     .offset = offsetof(mf_sample_req, guidance),
     .type = MF_REQ_ENUM,
     .required = true,
     .names = mf_guide_mode_names},
    {.key = "w",
     .offset = offsetof(mf_sample_req, guidance_w),
     .type = MF_REQ_NUMBER,
     .hi = 1000,
     .def = 1,
     .what = "a number between 0 and 1000"},
    {.key = NULL},
};

static mf_err decode_guidance(const json_t *v, const char *ptr, const mf_req_limits *lim,
                              void *params, mf_diag *d)
{
    mf_sample_req *r = params;
    r->has_guidance = false;
    if (v == NULL) {
        return MF_OK;
    }
    if (!json_is_object(v)) {
        return mf_req_fail_must(d, "wrong_type", ptr, "an object {\"mode\", \"w\"}", v);
    }
    mf_err err = mf_req_decode_fields(guidance_fields, (json_t *) v, ptr, lim, true, r, d);
    r->has_guidance = err == MF_OK;
    return err;
}

static int encode_guidance(json_t *o, const char *key, const void *params)
{
    const mf_sample_req *r = params;
    if (!r->has_guidance) {
        return 0;
    }
    json_t *g = json_object();
    if (g == NULL || mf_req_encode_into(g, guidance_fields, r) != 0) {
        json_decref(g);
        return -1;
    }
    return json_object_set_new(o, key, g);
}

/* The fields in the order they are checked; a sample job's params skip the first. */
#define F(k) .key = #k, .offset = offsetof(mf_sample_req, k)
static const mf_req_field fields[] = {
    {F(model), .type = MF_REQ_ID, .required = true, .what = MF_REQ_ID_RULE},
    {F(n), .type = MF_REQ_SIZE, .lo = 1, .limit = MF_REQ_LIM_N, .required = true},
    /* not given: the model's own (var for a DxMI model), resolved by the server */
    {F(sampler), .type = MF_REQ_ENUM, .names = mf_sampler_names, .def = MF_SAMPLER_DDPM,
     .has_given = true, .given_offset = offsetof(mf_sample_req, has_sampler)},
    /* 0 = the server picks (T for ddpm, 100 otherwise): not a value to store */
    {F(steps), .type = MF_REQ_SIZE, .lo = 1, .limit = MF_REQ_LIM_STEPS, .omit_zero = true},
    {F(eta), .type = MF_REQ_NUMBER, .lo = 0, .hi = 1, .what = "a number between 0 and 1"},
    /* not given: the server draws one and reports it */
    {F(seed), .type = MF_REQ_U64, .hi = (double) MF_REQ_SEED_MAX, .has_given = true,
     .given_offset = offsetof(mf_sample_req, has_seed)},
    {F(metrics), .type = MF_REQ_BOOL, .def = 1},
    /* not given: the daemon's default (--precision), resolved by the server */
    {F(precision), .type = MF_REQ_ENUM, .names = mf_precision_names, .def = MF_PRECISION_F32,
     .has_given = true, .given_offset = offsetof(mf_sample_req, has_precision)},
    {F(target), .type = MF_REQ_NUMBER, .lo = -VALUE_MAX, .hi = VALUE_MAX, .has_given = true,
     .given_offset = offsetof(mf_sample_req, has_target),
     .what = "a number between -1000000 and 1000000"},
    {F(condition), .type = MF_REQ_CUSTOM, .decode = decode_condition, .encode = encode_condition},
    {F(guidance), .type = MF_REQ_CUSTOM, .decode = decode_guidance, .encode = encode_guidance,
     .sub = guidance_fields},
    {.key = NULL},
};
#undef F
static const mf_req_field *const param_fields = fields + 1;
static const mf_req_field *const param_tables[] = {fields + 1, NULL};

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
    mf_err err =
        mf_req_decode_fields(with_model ? fields : param_fields, o, prefix, lim, true, r, d);
    if (err != MF_OK) {
        return err;
    }
    /* Every field is fine alone; now the combinations. */
    char ptr[128];
    if (r->has_target && r->n_condition > 0) {
        mf_req_ptr_join(ptr, sizeof ptr, prefix, "condition");
        return mf_req_fail(d, "impossible", ptr,
                           "give \"target\" (the reward to steer to) or \"%s\" (the raw "
                           "condition input), not both",
                           ptr);
    }
    if (r->has_guidance && r->guidance == MF_GUIDE_REWARD && !r->has_target) {
        mf_req_ptr_join(ptr, sizeof ptr, prefix, "target");
        return mf_req_fail(d, "impossible", ptr,
                           "reward-gradient guidance steers to a reward: give \"%s\"", ptr);
    }
    return MF_OK;
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
    .tables = param_tables,
};

mf_err mf_sample_check_budget(const mf_sample_req *q, const mf_mlp_config *cfg, double evals,
                              size_t chunk_rows, const mf_req_limits *lim, double *ret_flops,
                              mf_diag *d)
{
    mf_budget_net net = mf_budget_mlp_of(cfg);
    double n = (double) q->n, row = (double) (cfg->data_dim + cfg->cond_dim + 1);
    mf_job_cost c = {0};
    /* the samples with their conditions and targets, and the metrics' copies of them */
    mf_cost_mem(&c, "/params/n", "the samples and their metrics", 3.0 * n * row * 4.0);
    mf_cost_mem(&c, "/model", "a chunk's activations",
                (double) chunk_rows * mf_budget_row_floats(&net, false) * 4.0);
    mf_cost_flops(&c, "/params/n", "the network evaluations",
                  n * evals * 2.0 * mf_budget_params(&net));
    return mf_job_cost_check(&c, lim, ret_flops, d);
}
