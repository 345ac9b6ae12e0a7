/* SPDX-License-Identifier: MIT */
/* train_codec.c - the params of a "train" job (see train_codec.h). */
#include "train_codec.h"

#include <stdio.h>
#include <string.h>

#include "dataset.h"
#include "mlp.h"
#include "req_decode.h"

#define SCHEDULE_EXAMPLE "linear:0.0001:0.02:1000"

/* "one of "gaussian", ..., "digits"": the data sets, for messages. */
static void dataset_what(char *buf, size_t cap)
{
    const char *names[MF_DATASET_COUNT + 1];
    for (int i = 0; i < MF_DATASET_COUNT; i++) {
        names[i] = mf_dataset_name((mf_dataset_id) i);
    }
    names[MF_DATASET_COUNT] = NULL;
    char list[160];
    mf_req_join_names(list, sizeof list, names, true);
    snprintf(buf, cap, "one of %s", list);
}

static mf_err decode_dataset(const json_t *v, const char *ptr, const mf_req_limits *lim,
                             void *params, mf_diag *d)
{
    (void) lim;
    mf_train_req *r = params;
    char what[192];
    dataset_what(what, sizeof what);
    if (v == NULL) {
        return mf_req_fail_missing(d, ptr, what);
    }
    if (!json_is_string(v)) {
        return mf_req_fail_must(d, "wrong_type", ptr, what, v);
    }
    if (mf_dataset_lookup(json_string_value(v), &r->p.dataset) != MF_OK) {
        return mf_req_fail_must(d, "bad_value", ptr, what, v);
    }
    return MF_OK;
}

static int encode_dataset(json_t *o, const char *key, const void *params)
{
    const mf_train_req *r = params;
    return json_object_set_new(o, key, json_string(mf_dataset_name(r->p.dataset)));
}

static mf_err decode_hidden(const json_t *v, const char *ptr, const mf_req_limits *lim,
                            void *params, mf_diag *d)
{
    (void) lim;
    mf_train_req *r = params;
    char what[128];
    snprintf(what, sizeof what, "an array of 1 to %d integers between 1 and %d", MF_MLP_MAX_HIDDEN,
             MF_MLP_MAX_WIDTH);
    if (!json_is_array(v)) {
        return mf_req_fail_must(d, "wrong_type", ptr, what, v);
    }
    size_t k = json_array_size(v);
    if (k == 0 || k > MF_MLP_MAX_HIDDEN) {
        return mf_req_fail_must(d, "out_of_range", ptr, what, v);
    }
    for (size_t i = 0; i < k; i++) {
        char eptr[128];
        uint64_t h;
        mf_req_ptr_index(eptr, sizeof eptr, ptr, i);
        mf_err err = mf_req_get_uint(json_array_get(v, i), eptr, 1, MF_MLP_MAX_WIDTH, &h, d);
        if (err != MF_OK) {
            return err;
        }
        r->p.hidden[i] = (uint32_t) h;
    }
    r->p.n_hidden = k;
    return MF_OK;
}

static int encode_hidden(json_t *o, const char *key, const void *params)
{
    const mf_train_req *r = params;
    json_t *h = json_array();
    int f = h == NULL;
    for (size_t i = 0; i < r->p.n_hidden && !f; i++) {
        f |= json_array_append_new(h, json_integer((json_int_t) r->p.hidden[i]));
    }
    return f | json_object_set_new(o, key, h);
}

/* In range but odd is refused too: the embedding is sin and cos halves. */
static mf_err decode_emb(const json_t *v, const char *ptr, const mf_req_limits *lim, void *params,
                         mf_diag *d)
{
    (void) lim;
    mf_train_req *r = params;
    mf_err err = mf_req_get_size(v, ptr, 2, MF_MLP_MAX_WIDTH, &r->p.emb, d);
    if (err == MF_OK && r->p.emb % 2 != 0) {
        char what[96];
        snprintf(what, sizeof what, "an even integer between 2 and %d", MF_MLP_MAX_WIDTH);
        return mf_req_fail_must(d, "bad_value", ptr, what, v);
    }
    return err;
}

static int encode_emb(json_t *o, const char *key, const void *params)
{
    const mf_train_req *r = params;
    return json_object_set_new(o, key, json_integer((json_int_t) r->p.emb));
}

static mf_err decode_schedule(const json_t *v, const char *ptr, const mf_req_limits *lim,
                              void *params, mf_diag *d)
{
    (void) lim;
    mf_train_req *r = params;
    char what[128];
    snprintf(what, sizeof what,
             "a schedule string of 1 to %zu bytes such as \"" SCHEDULE_EXAMPLE "\"",
             sizeof r->p.schedule - 1);
    if (!json_is_string(v)) {
        return mf_req_fail_must(d, "wrong_type", ptr, what, v);
    }
    size_t n = json_string_length(v);
    if (n == 0 || n >= sizeof r->p.schedule) {
        return mf_req_fail_must(d, "bad_value", ptr, what, v);
    }
    memcpy(r->p.schedule, json_string_value(v), n + 1);
    return MF_OK;
}

static int encode_schedule(json_t *o, const char *key, const void *params)
{
    const mf_train_req *r = params;
    return json_object_set_new(o, key, json_string(r->p.schedule));
}

/* Core's fields (P), the codec's own (F).  No defaults here: decode starts
 * from core's (mf_train_params_default), so they live in one place. */
#define P(k)      .key = #k, .offset = offsetof(mf_train_req, p.k)
#define F(k)      .key = #k, .offset = offsetof(mf_train_req, k)
#define CUSTOM(k) P(k), .type = MF_REQ_CUSTOM, .decode = decode_##k, .encode = encode_##k
static const mf_req_field fields[] = {
    {CUSTOM(dataset), .required = true},
    {CUSTOM(hidden)},
    {CUSTOM(emb)},
    {CUSTOM(schedule)},
    {P(steps), .type = MF_REQ_SIZE, .lo = 1, .limit = MF_REQ_LIM_TRAIN_STEPS},
    {P(batch), .type = MF_REQ_SIZE, .lo = 1, .limit = MF_REQ_LIM_BATCH},
    {P(lr), .type = MF_REQ_NUMBER, .lo = 0, .hi = 1, .lo_open = true,
     .what = "a number greater than 0 and at most 1"},
    {P(lr_min), .type = MF_REQ_NUMBER, .lo = 0, .hi = 1, .what = "a number between 0 and 1"},
    {P(warmup), .type = MF_REQ_SIZE, .lo = 0, .hi = 1e9},
    {P(ema), .type = MF_REQ_NUMBER, .lo = 0, .hi = 0.999999,
     .what = "a number between 0 and 0.999999"},
    {P(clip), .type = MF_REQ_NUMBER, .lo = 0, .hi = 1e9, .what = "a number between 0 and 1000000000"},
    {P(seed), .type = MF_REQ_U64, .hi = (double) MF_REQ_SEED_MAX},
    {P(dequantise), .type = MF_REQ_BOOL},
    {F(out_model), .type = MF_REQ_ID},
    {.key = NULL},
};
#undef CUSTOM
#undef F
#undef P

static mf_err decode(json_t *params, const char *model, const mf_req_limits *lim, void *out,
                     mf_diag *d)
{
    (void) model;
    mf_train_req *r = out;
    mf_train_params_default(&r->p);
    /* A default above the operator's limit gives way to the limit: the client
     * asked for no particular value. */
    r->p.steps = r->p.steps < lim->max_train_steps ? r->p.steps : lim->max_train_steps;
    r->p.batch = r->p.batch < lim->max_batch ? r->p.batch : lim->max_batch;
    r->out_model[0] = '\0';
    mf_err err = mf_req_decode_fields(fields, params, "/params", lim, false, r, d);
    if (err != MF_OK) {
        return err;
    }
    /* Every field is fine alone; now the combinations. */
    if (r->p.dequantise && r->p.dataset != MF_DATASET_DIGITS) {
        return mf_req_fail(d, "impossible", "/params/dequantise",
                           "\"/params/dequantise\" can be true only for the integer-valued data "
                           "set \"%s\", not \"%s\"",
                           mf_dataset_name(MF_DATASET_DIGITS), mf_dataset_name(r->p.dataset));
    }
    return MF_OK;
}

static char *encode(const void *params)
{
    return mf_req_encode_fields(fields, params);
}

const mf_job_codec mf_train_codec = {
    .name = "train",
    .model = MF_CODEC_NO_MODEL,
    .model_hint = "train jobs create a model and name it with \"params.out_model\"",
    .params_size = sizeof(mf_train_req),
    .decode = decode,
    .encode = encode,
};
