/* SPDX-License-Identifier: MIT */
/*
 * req_describe.c - what a field table accepts, as JSON (req_decode.h,
 * mf_req_describe).
 *
 * The tables are the decoders themselves, so a description made from them
 * cannot drift from what the server does.  The documentation tests
 * (tests/check_api_docs.py) hold proto/openapi.yaml and docs/api.md to it:
 * a job parameter added to a codec and not documented, or documented with
 * another range, fails the build's tests.
 */
#include <stdint.h>

#include "req_decode.h"

static const char *const type_names[] = {
    [MF_REQ_SIZE] = "integer",  [MF_REQ_U64] = "integer", [MF_REQ_NUMBER] = "number",
    [MF_REQ_BOOL] = "boolean",  [MF_REQ_ID] = "string",   [MF_REQ_ENUM] = "string",
    [MF_REQ_CUSTOM] = "custom",
};

static const char *const limit_names[] = {
    [MF_REQ_LIM_NONE] = NULL,         [MF_REQ_LIM_N] = "max_n",
    [MF_REQ_LIM_STEPS] = "max_steps", [MF_REQ_LIM_TRAIN_STEPS] = "max_train_steps",
    [MF_REQ_LIM_BATCH] = "max_batch",
};

/* A range bound: integers stay integers, so 10000 reads as 10000, not 10000.0. */
static json_t *bound(const mf_req_field *f, double v)
{
    return f->type == MF_REQ_NUMBER ? json_real(v) : json_integer((json_int_t) v);
}

static json_t *describe_field(const mf_req_field *f, const mf_req_limits *lim)
{
    json_t *o = json_object();
    if (o == NULL) {
        return NULL;
    }
    int fail = json_object_set_new(o, "type", json_string(type_names[f->type]));
    if (f->type == MF_REQ_SIZE || f->type == MF_REQ_U64 || f->type == MF_REQ_NUMBER) {
        fail |= json_object_set_new(o, "minimum", bound(f, f->lo));
        fail |=
            json_object_set_new(o, "maximum", bound(f, mf_req_limit_value(lim, f->limit, f->hi)));
        if (f->lo_open) {
            fail |= json_object_set_new(o, "exclusiveMinimum", json_true());
        }
        if (f->limit != MF_REQ_LIM_NONE) {
            fail |= json_object_set_new(o, "limit", json_string(limit_names[f->limit]));
        }
    }
    if (f->type == MF_REQ_ENUM) {
        json_t *names = json_array();
        fail |= names == NULL;
        for (size_t i = 0; names != NULL && f->names[i] != NULL; i++) {
            fail |= json_array_append_new(names, json_string(f->names[i]));
        }
        fail |= json_object_set_new(o, "enum", names);
    }
    if (f->required) {
        fail |= json_object_set_new(o, "required", json_true());
    }
    if (f->sub != NULL) {
        const mf_req_field *const sub[] = {f->sub, NULL};
        json_t *props = mf_req_describe(sub, lim);
        fail |= props == NULL;
        fail |= json_object_set_new(o, "properties", props);
    }
    if (fail) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *mf_req_describe(const mf_req_field *const *tables, const mf_req_limits *lim)
{
    json_t *o = json_object();
    for (size_t t = 0; o != NULL && tables[t] != NULL; t++) {
        for (const mf_req_field *f = tables[t]; f->key != NULL; f++) {
            json_t *d = describe_field(f, lim);
            if (d == NULL || json_object_set_new(o, f->key, d) != 0) {
                json_decref(o);
                return NULL;
            }
        }
    }
    return o;
}
