/* SPDX-License-Identifier: MIT */
/* train_codec.c - the params of a "train" job (see train_codec.h). */
#include "train_codec.h"

#include <stdio.h>
#include <string.h>

#include "dataset.h"
#include "hjb_loss.h"
#include "mlp.h"
#include "req_decode.h"
#include "train_settings.h"

/* "one of "gaussian", ..., "digits", or the id of an uploaded dataset": for messages. */
static void dataset_what(char *buf, size_t cap)
{
    const char *names[MF_DATASET_COUNT + 1];
    for (int i = 0; i < MF_DATASET_COUNT; i++) {
        names[i] = mf_dataset_name((mf_dataset_id) i);
    }
    names[MF_DATASET_COUNT] = NULL;
    char list[160];
    mf_req_join_names(list, sizeof list, names, true);
    snprintf(buf, cap, "one of %s, or the id of an uploaded dataset", list);
}

/*
 * The name is kept as given: a built-in set's also sets p.dataset; any other
 * valid id names an uploaded dataset, which the daemon looks up when it
 * prepares the job (404 dataset_not_found there).
 */
static mf_err decode_dataset(const json_t *v, const char *ptr, const mf_req_limits *lim,
                             void *params, mf_diag *d)
{
    (void) lim;
    mf_train_req *r = params;
    char what[224];
    dataset_what(what, sizeof what);
    if (v == NULL) {
        return mf_req_fail_missing(d, ptr, what);
    }
    if (!json_is_string(v)) {
        return mf_req_fail_must(d, "wrong_type", ptr, what, v);
    }
    const char *name = json_string_value(v);
    if (json_string_length(v) != strlen(name) || !mf_req_id_valid(name)) {
        return mf_req_fail_must(d, "bad_value", ptr, what, v);
    }
    memcpy(r->dataset, name, strlen(name) + 1);
    r->builtin = mf_dataset_lookup(name, &r->p.dataset) == MF_OK;
    return MF_OK;
}

static int encode_dataset(json_t *o, const char *key, const void *params)
{
    const mf_train_req *r = params;
    return json_object_set_new(o, key, json_string(r->dataset));
}

_Static_assert(sizeof(mf_train_arch) == sizeof(int), "an MF_REQ_ENUM field");
_Static_assert(sizeof(mf_hjb_estimator) == sizeof(int), "an MF_REQ_ENUM field");

/* The HJB regulariser's settings, decoded over core's defaults (mf_hjb_opts_default). */
#define H(k) .key = #k, .offset = offsetof(mf_train_req, p.hjb.k)
static const mf_req_field hjb_fields[] = {
    {H(lambda), .type = MF_REQ_NUMBER, .hi = 1e6, .what = "a number between 0 and 1000000"},
    {H(ramp), .type = MF_REQ_NUMBER, .hi = 1, .what = "a number between 0 and 1"},
    {H(frac_points), .type = MF_REQ_NUMBER, .hi = 1, .lo_open = true,
     .what = "a number greater than 0 and at most 1"},
    {H(estimator), .type = MF_REQ_ENUM, .names = mf_hjb_estimator_names},
    {H(probes), .type = MF_REQ_SIZE, .lo = 1, .hi = 2},
    {H(h), .type = MF_REQ_NUMBER, .lo = 1e-4, .hi = 0.5, .what = "a number between 0.0001 and 0.5"},
    {H(dt), .type = MF_REQ_NUMBER, .lo = 1e-5, .hi = 0.05,
     .what = "a number between 0.00001 and 0.05"},
    {H(t_min), .type = MF_REQ_NUMBER, .lo = 1e-5, .hi = 0.9, .lo_open = false,
     .what = "a number between 0.00001 and 0.9, at least dt"},
    {H(weight), .type = MF_REQ_BOOL},
    {.key = NULL},
};
#undef H

/* Absent: no regulariser.  An object (even {}): on, its fields over core's defaults. */
static mf_err decode_hjb(const json_t *v, const char *ptr, const mf_req_limits *lim, void *params,
                         mf_diag *d)
{
    mf_train_req *r = params;
    if (v == NULL) {
        return MF_OK;
    }
    if (!json_is_object(v)) {
        return mf_req_fail_must(d, "wrong_type", ptr, "an object of the regulariser's settings", v);
    }
    r->p.hjb = mf_hjb_opts_default();
    r->p.hjb.on = true;
    return mf_req_decode_fields(hjb_fields, (json_t *) v, ptr, lim, false, params, d);
}

static int encode_hjb(json_t *o, const char *key, const void *params)
{
    const mf_train_req *r = params;
    if (!r->p.hjb.on) {
        return 0; /* absent: off */
    }
    json_t *h = json_object();
    if (h == NULL || mf_req_encode_into(h, hjb_fields, params) != 0) {
        json_decref(h);
        return -1;
    }
    return json_object_set_new(o, key, h);
}

/* Its fields: the data set, the shared training settings (train_settings.h, in
 * mf_train_req.p; their defaults are core's), then its own. */
#define P(k) .key = #k, .offset = offsetof(mf_train_req, p.k)
#define F(k) .key = #k, .offset = offsetof(mf_train_req, k)
static const mf_req_field before[] = {
    {F(dataset), .type = MF_REQ_CUSTOM, .required = true, .decode = decode_dataset,
     .encode = encode_dataset},
    {.key = NULL},
};
static const mf_req_field after[] = {
    {P(seed), .type = MF_REQ_U64, .hi = (double) MF_REQ_SEED_MAX},
    {P(dequantise), .type = MF_REQ_BOOL},
    {F(out_model), .type = MF_REQ_ID},
    {P(architecture), .type = MF_REQ_ENUM, .names = mf_train_arch_names},
    {.key = "hjb",
     .type = MF_REQ_CUSTOM,
     .decode = decode_hjb,
     .encode = encode_hjb,
     .sub = hjb_fields},
    {.key = NULL},
};
#undef F
#undef P
static const mf_req_field *const tables[] = {before, mf_train_settings, after, NULL};

static mf_err decode(json_t *params, const char *model, const mf_req_limits *lim, void *out,
                     mf_diag *d)
{
    (void) model;
    mf_train_req *r = out;
    mf_train_settings_default(&r->p, lim);
    r->out_model[0] = '\0';
    r->dataset[0] = '\0';
    r->builtin = false;
    mf_err err = params != NULL ? mf_req_check_tables(tables, 3, params, "/params", d) : MF_OK;
    if (err == MF_OK) {
        err = mf_req_decode_table(before, params, "/params", lim, false, r, d);
    }
    if (err == MF_OK) {
        err = mf_req_decode_table(mf_train_settings, params, "/params", lim, false, &r->p, d);
    }
    if (err == MF_OK) {
        err = mf_req_decode_table(after, params, "/params", lim, false, r, d);
    }
    if (err != MF_OK) {
        return err;
    }
    /* Every field is fine alone; now the combinations. */
    if (r->p.dequantise && !(r->builtin && r->p.dataset == MF_DATASET_DIGITS)) {
        return mf_req_fail(d, "impossible", "/params/dequantise",
                           "\"/params/dequantise\" can be true only for the integer-valued data "
                           "set \"%s\", not \"%s\"",
                           mf_dataset_name(MF_DATASET_DIGITS), r->dataset);
    }
    if (r->p.hjb.on && r->p.architecture != MF_TRAIN_POTENTIAL) {
        return mf_req_fail(d, "impossible", "/params/hjb",
                           "\"/params/hjb\" needs \"architecture\": \"potential\" (the "
                           "regulariser constrains a potential whose gradient is the score)");
    }
    if (r->p.hjb.on && r->p.hjb.t_min < r->p.hjb.dt) {
        return mf_req_fail(d, "impossible", "/params/hjb/t_min",
                           "\"/params/hjb/t_min\" must be at least \"/params/hjb/dt\" (%g)",
                           r->p.hjb.dt);
    }
    /* A built-in set's dimension is known here; an upload's when the job is prepared. */
    return r->builtin ? mf_train_check_budget(r, mf_dataset_dim(r->p.dataset), lim, NULL, d)
                      : MF_OK;
}

mf_err mf_train_check_budget(const mf_train_req *r, size_t D, const mf_req_limits *lim,
                             double *ret_flops, mf_diag *d)
{
    mf_budget_net net = mf_budget_mlp(D, r->p.emb, 0, r->p.hidden, r->p.n_hidden);
    mf_job_cost c = {0};
    mf_cost_model(&c, mf_budget_params(&net), "/params/hidden", &net);
    mf_train_settings_cost(&r->p, &net, "/params/hidden", "/params", &c);
    return mf_job_cost_check(&c, lim, ret_flops, d);
}

static char *encode(const void *params)
{
    const mf_train_req *r = params;
    json_t *o = json_object();
    int fail = o == NULL || mf_req_encode_into(o, before, r) ||
               mf_req_encode_into(o, mf_train_settings, &r->p) || mf_req_encode_into(o, after, r);
    return mf_req_dump_sorted(o, fail);
}

const mf_job_codec mf_train_codec = {
    .name = "train",
    .model = MF_CODEC_NO_MODEL,
    .model_hint = "train jobs create a model and name it with \"params.out_model\"",
    .params_size = sizeof(mf_train_req),
    .decode = decode,
    .encode = encode,
    .tables = tables,
};
