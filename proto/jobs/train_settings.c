/* SPDX-License-Identifier: MIT */
/*
 * train_settings.c - the training settings of the jobs that train a network
 * (see train_settings.h): core/train_params.h's fields with the API's ranges.
 */
#include "train_settings.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mlp.h"
#include "schedule.h"

#define SCHEDULE_EXAMPLE "linear:0.0001:0.02:1000"

static mf_err decode_hidden(const json_t *v, const char *ptr, const mf_req_limits *lim,
                            void *params, mf_diag *d)
{
    (void) lim;
    mf_train_params *r = params;
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
        r->hidden[i] = (uint32_t) h;
    }
    r->n_hidden = k;
    return MF_OK;
}

static int encode_hidden(json_t *o, const char *key, const void *params)
{
    const mf_train_params *r = params;
    json_t *h = json_array();
    int f = h == NULL;
    for (size_t i = 0; i < r->n_hidden && !f; i++) {
        f |= json_array_append_new(h, json_integer((json_int_t) r->hidden[i]));
    }
    return f | json_object_set_new(o, key, h);
}

/* In range but odd is refused too: the embedding is sin and cos halves. */
static mf_err decode_emb(const json_t *v, const char *ptr, const mf_req_limits *lim, void *params,
                         mf_diag *d)
{
    (void) lim;
    mf_train_params *r = params;
    mf_err err = mf_req_get_size(v, ptr, 2, MF_MLP_MAX_WIDTH, &r->emb, d);
    if (err == MF_OK && r->emb % 2 != 0) {
        char what[96];
        snprintf(what, sizeof what, "an even integer between 2 and %d", MF_MLP_MAX_WIDTH);
        return mf_req_fail_must(d, "bad_value", ptr, what, v);
    }
    return err;
}

static int encode_emb(json_t *o, const char *key, const void *params)
{
    const mf_train_params *r = params;
    return json_object_set_new(o, key, json_integer((json_int_t) r->emb));
}

static mf_err decode_schedule(const json_t *v, const char *ptr, const mf_req_limits *lim,
                              void *params, mf_diag *d)
{
    (void) lim;
    mf_train_params *r = params;
    char what[128];
    snprintf(what, sizeof what,
             "a schedule string of 1 to %zu bytes such as \"" SCHEDULE_EXAMPLE "\"",
             sizeof r->schedule - 1);
    if (!json_is_string(v)) {
        return mf_req_fail_must(d, "wrong_type", ptr, what, v);
    }
    size_t n = json_string_length(v);
    if (n == 0 || n >= sizeof r->schedule) {
        return mf_req_fail_must(d, "bad_value", ptr, what, v);
    }
    memcpy(r->schedule, json_string_value(v), n + 1);
    /* Core's parser, at submit: a schedule it refuses would fail the job only when it
     * runs.  Its syntax is a bad value (400); a well-formed schedule out of range (betas,
     * T) is impossible (422). */
    mf_schedule s = {0};
    mf_diag sd = {0};
    mf_err err = mf_schedule_init(&s, r->schedule, &sd);
    mf_schedule_deinit(&s);
    if (err == MF_ENOMEM) {
        return mf_req_fail_nomem(d);
    }
    if (err != MF_OK) {
        return mf_req_fail(d, err == MF_ERANGE ? "impossible" : "bad_value", ptr,
                           "\"%s\" is not a schedule the server can build: %s", ptr, sd.msg);
    }
    return MF_OK;
}

static int encode_schedule(json_t *o, const char *key, const void *params)
{
    const mf_train_params *r = params;
    return json_object_set_new(o, key, json_string(r->schedule));
}

#define P(k)      .key = #k, .offset = offsetof(mf_train_params, k)
#define CUSTOM(k) P(k), .type = MF_REQ_CUSTOM, .decode = decode_##k, .encode = encode_##k
const mf_req_field mf_train_settings[] = {
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
    {P(clip), .type = MF_REQ_NUMBER, .lo = 0, .hi = 1e9,
     .what = "a number between 0 and 1000000000"},
    {.key = NULL},
};
#undef CUSTOM
#undef P

void mf_train_settings_cost(const mf_train_params *p, const mf_budget_net *net,
                            const char *net_field, const char *prefix, mf_job_cost *c)
{
    double P = mf_budget_params(net), D = (double) net->out, B = (double) p->batch;
    char field[MF_BUDGET_FIELD_CAP];
    /* A potential (core/potential.c) keeps z, phi, phi', phi'', their tangents and two
     * adjoint pairs per row: about 3x an eps network's row, and a step costs a forward,
     * a backward, a tangent and an adjoint pass: about 2x.  The regulariser adds
     * frac B points of 3 + 2 dirs rows each (hjb_loss.h), at the same cost per row. */
    double row_x = 1.0, step_x = 1.0;
    if (p->architecture == MF_TRAIN_POTENTIAL) {
        row_x = 3.0;
        step_x = 2.0;
        if (p->hjb.on) {
            double dirs =
                p->hjb.estimator == MF_HJB_EXACT || (p->hjb.estimator == MF_HJB_AUTO && D <= 8)
                    ? D
                    : (double) p->hjb.probes;
            double extra = ceil(p->hjb.frac_points * B) * (3.0 + 2.0 * dirs) / B;
            row_x *= 1.0 + extra;
            step_x *= 1.0 + extra;
        }
    }
    /* core/train.c: the network, its gradient, Adam's m and v, the EMA copy */
    mf_cost_mem(c, net_field, "the network, its gradient, Adam's moments and the EMA",
                5.0 * P * 4.0);
    /* the split workspace of a batch, and its noisy inputs, noise, output and clean rows */
    mf_req_ptr_join(field, sizeof field, prefix, "batch");
    mf_cost_mem(c, field, "a batch's activations",
                B * (row_x * mf_budget_row_floats(net, true) + 4.0 * D) * 4.0);
    mf_req_ptr_join(field, sizeof field, prefix, "steps");
    mf_cost_flops(c, field, "the training steps", (double) p->steps * B * 6.0 * P * step_x);
}

void mf_train_settings_default(mf_train_params *p, const mf_req_limits *lim)
{
    mf_train_params_default(p);
    /* A default above the operator's limit gives way to the limit: the client
     * asked for no particular value. */
    p->steps = p->steps < lim->max_train_steps ? p->steps : lim->max_train_steps;
    p->batch = p->batch < lim->max_batch ? p->batch : lim->max_batch;
}
