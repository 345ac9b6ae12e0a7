/* SPDX-License-Identifier: MIT */
/* reward_codec.c - the params of a "finetune.reward" job (see reward_codec.h). */
#include "reward_codec.h"

#include <stdio.h>
#include <string.h>

#include "dataset.h"
#include "job_budget.h"
#include "rcgd.h"
#include "req_decode.h"
#include "train_settings.h"

#define NOISE_MAX    10.0  /* of synthetic labels */
#define NU_MAX       100.0 /* of pseudo-labels (core/rcgd.h) */
#define TARGET_MAX   1e6
#define P_UNCOND_CFG 0.1 /* label dropout when the guidance is cfg and none is given */

_Static_assert(sizeof(mf_reward_kind) == sizeof(int), "an MF_REQ_ENUM field");
_Static_assert(sizeof(mf_guide_mode) == sizeof(int), "an MF_REQ_ENUM field");
_Static_assert(sizeof(mf_sampler_kind) == sizeof(int), "an MF_REQ_ENUM field");

/* ---- reward_model ------------------------------------------------------------------- */

static mf_err decode_rm_hidden(const json_t *v, const char *ptr, const mf_req_limits *lim,
                               void *params, mf_diag *d)
{
    (void) lim;
    mf_reward_req *r = params;
    char what[128];
    snprintf(what, sizeof what, "an array of 1 to %d integers between 1 and 1024",
             MF_REWARD_MAX_HIDDEN);
    size_t k = json_is_array(v) ? json_array_size(v) : 0;
    if (!json_is_array(v) || k == 0 || k > MF_REWARD_MAX_HIDDEN) {
        return mf_req_fail_must(d, json_is_array(v) ? "out_of_range" : "wrong_type", ptr, what, v);
    }
    for (size_t i = 0; i < k; i++) {
        char eptr[128];
        uint64_t h;
        mf_req_ptr_index(eptr, sizeof eptr, ptr, i);
        mf_err err = mf_req_get_uint(json_array_get(v, i), eptr, 1, 1024, &h, d);
        if (err != MF_OK) {
            return err;
        }
        r->reward_model.hidden[i] = (size_t) h;
    }
    r->reward_model.n_hidden = k;
    return MF_OK;
}

static int encode_rm_hidden(json_t *o, const char *key, const void *params)
{
    const mf_reward_req *r = params;
    json_t *h = json_array();
    int f = h == NULL;
    for (size_t i = 0; i < r->reward_model.n_hidden && !f; i++) {
        f |= json_array_append_new(h, json_integer((json_int_t) r->reward_model.hidden[i]));
    }
    return f | json_object_set_new(o, key, h);
}

/* Decoded without defaults over core's (mf_reward_opts_default). */
#define RM(k) .key = #k, .offset = offsetof(mf_reward_req, reward_model.k)
static const mf_req_field reward_model_fields[] = {
    {RM(kind), .type = MF_REQ_ENUM, .names = mf_reward_kind_names},
    {RM(lambda), .type = MF_REQ_NUMBER, .hi = 1e6, .what = "a number between 0 and 1000000"},
    {RM(hidden), .type = MF_REQ_CUSTOM, .decode = decode_rm_hidden, .encode = encode_rm_hidden},
    {RM(steps), .type = MF_REQ_SIZE, .lo = 1, .hi = 1e6},
    {RM(lr), .type = MF_REQ_NUMBER, .hi = 1, .lo_open = true,
     .what = "a number greater than 0 and at most 1"},
    {.key = NULL},
};
#undef RM

/* ---- guidance ----------------------------------------------------------------------- */

#define G(k) .key = #k, .offset = offsetof(mf_reward_req, guidance.k)
static const mf_req_field guidance_fields[] = {
    {G(mode), .type = MF_REQ_ENUM, .names = mf_guide_mode_names, .def = MF_GUIDE_COND},
    {G(w), .type = MF_REQ_NUMBER, .hi = 1000, .def = 1, .what = "a number between 0 and 1000"},
    {G(p_uncond), .type = MF_REQ_NUMBER, .hi = 0.9, .def = -1, /* -1: by mode, below */
     .what = "a number between 0 and 0.9"},
    {.key = NULL},
};
#undef G

/* ---- nested objects ----------------------------------------------------------------- */

/* A nested object: absent = its defaults; an object of table's fields at ptr. */
static mf_err decode_object(const json_t *v, const char *ptr, const mf_req_limits *lim,
                            const mf_req_field *table, bool with_defaults, void *base, mf_diag *d)
{
    if (v != NULL && !json_is_object(v)) {
        return mf_req_fail_must(d, "wrong_type", ptr, "an object", v);
    }
    return mf_req_decode_fields(table, (json_t *) v, ptr, lim, with_defaults, base, d);
}

static int encode_object(json_t *o, const char *key, const mf_req_field *table, const void *base)
{
    json_t *g = json_object();
    if (g == NULL || mf_req_encode_into(g, table, base) != 0) {
        json_decref(g);
        return -1;
    }
    return json_object_set_new(o, key, g);
}

static mf_err decode_reward_model(const json_t *v, const char *ptr, const mf_req_limits *lim,
                                  void *params, mf_diag *d)
{
    mf_reward_req *r = params;
    r->reward_model = mf_reward_opts_default();
    return decode_object(v, ptr, lim, reward_model_fields, false, params, d);
}

static int encode_reward_model(json_t *o, const char *key, const void *params)
{
    return encode_object(o, key, reward_model_fields, params);
}

static mf_err decode_guidance(const json_t *v, const char *ptr, const mf_req_limits *lim,
                              void *params, mf_diag *d)
{
    mf_reward_req *r = params;
    mf_err err = decode_object(v, ptr, lim, guidance_fields, true, params, d);
    if (err == MF_OK && r->guidance.p_uncond < 0) {
        r->guidance.p_uncond = r->guidance.mode == MF_GUIDE_CFG ? P_UNCOND_CFG : 0.0;
    }
    return err;
}

static int encode_guidance(json_t *o, const char *key, const void *params)
{
    return encode_object(o, key, guidance_fields, params);
}

/* The training settings: core's recipe (mf_rcgd_opts_default), capped at the limits. */
static mf_err decode_train(const json_t *v, const char *ptr, const mf_req_limits *lim, void *params,
                           mf_diag *d)
{
    mf_reward_req *r = params;
    r->train = mf_rcgd_opts_default().train;
    r->train.steps = r->train.steps < lim->max_train_steps ? r->train.steps : lim->max_train_steps;
    r->train.batch = r->train.batch < lim->max_batch ? r->train.batch : lim->max_batch;
    return decode_object(v, ptr, lim, mf_train_settings, false, &r->train, d);
}

static int encode_train(json_t *o, const char *key, const void *params)
{
    return encode_object(o, key, mf_train_settings, &((const mf_reward_req *) params)->train);
}

/* ---- targets ------------------------------------------------------------------------ */

static mf_err decode_targets(const json_t *v, const char *ptr, const mf_req_limits *lim,
                             void *params, mf_diag *d)
{
    (void) lim;
    mf_reward_req *r = params;
    if (v == NULL) {
        static const double def[] = {0.5, 1.0, 2.0, 4.0};
        memcpy(r->targets, def, sizeof def);
        r->n_targets = sizeof def / sizeof def[0];
        return MF_OK;
    }
    char what[128];
    snprintf(what, sizeof what, "an array of 1 to %d numbers between -1000000 and 1000000",
             MF_REWARD_REQ_MAX_TARGETS);
    size_t k = json_is_array(v) ? json_array_size(v) : 0;
    if (!json_is_array(v) || k == 0 || k > MF_REWARD_REQ_MAX_TARGETS) {
        return mf_req_fail_must(d, json_is_array(v) ? "out_of_range" : "wrong_type", ptr, what, v);
    }
    for (size_t i = 0; i < k; i++) {
        char eptr[128];
        mf_req_ptr_index(eptr, sizeof eptr, ptr, i);
        mf_err err = mf_req_get_number(json_array_get(v, i), eptr, -TARGET_MAX, TARGET_MAX, false,
                                       "a number between -1000000 and 1000000", &r->targets[i], d);
        if (err != MF_OK) {
            return err;
        }
    }
    r->n_targets = k;
    return MF_OK;
}

static int encode_targets(json_t *o, const char *key, const void *params)
{
    const mf_reward_req *r = params;
    json_t *a = json_array();
    int f = a == NULL;
    for (size_t i = 0; i < r->n_targets && !f; i++) {
        f |= json_array_append_new(a, json_real(r->targets[i]));
    }
    return f | json_object_set_new(o, key, a);
}

/* ---- the params --------------------------------------------------------------------- */

/* The samplers that walk the parent's grid (mf_sampler_kind order); var needs a DxMI
 * model's short chain, which a new conditional model does not have. */
static const char *const grid_samplers[] = {"ddpm", "ddim", "ode", NULL};
_Static_assert(MF_SAMPLER_DDPM == 0 && MF_SAMPLER_DDIM == 1 && MF_SAMPLER_ODE == 2,
               "grid_samplers by mf_sampler_kind");

#define F(k)      .key = #k, .offset = offsetof(mf_reward_req, k)
#define CUSTOM(k) F(k), .type = MF_REQ_CUSTOM, .decode = decode_##k, .encode = encode_##k
static const mf_req_field fields[] = {
    {F(dataset), .type = MF_REQ_ID, .required = true, .what = MF_REQ_ID_RULE},
    {F(n_unlabelled), .type = MF_REQ_SIZE, .lo = 100, .hi = 1e6, .def = 16384},
    {F(labels), .type = MF_REQ_ID},
    {F(n_labelled), .type = MF_REQ_SIZE, .lo = 10, .hi = 1e6, .def = 1000},
    {F(label_noise), .type = MF_REQ_NUMBER, .hi = NOISE_MAX, .def = 0.1,
     .what = "a number between 0 and 10"},
    {CUSTOM(reward_model), .sub = reward_model_fields},
    {F(pseudo_label_noise), .type = MF_REQ_NUMBER, .hi = NU_MAX, .def = 0.3,
     .what = "a number between 0 and 100"},
    {CUSTOM(guidance), .sub = guidance_fields},
    {CUSTOM(train), .sub = mf_train_settings},
    {CUSTOM(targets)},
    {F(n_per_target), .type = MF_REQ_SIZE, .lo = 10, .limit = MF_REQ_LIM_N, .def = 1000},
    {F(sampler), .type = MF_REQ_ENUM, .names = grid_samplers, .def = MF_SAMPLER_DDPM},
    {F(steps), .type = MF_REQ_SIZE, .lo = 1, .limit = MF_REQ_LIM_STEPS, .def = 200},
    {F(eta), .type = MF_REQ_NUMBER, .hi = 1, .what = "a number between 0 and 1"},
    {F(seed), .type = MF_REQ_U64, .hi = (double) MF_REQ_SEED_MAX},
    {F(out_model), .type = MF_REQ_ID},
    {.key = NULL},
};
static const mf_req_field *const tables[] = {fields, NULL};
#undef CUSTOM
#undef F

static mf_err decode(json_t *params, const char *model, const mf_req_limits *lim, void *out,
                     mf_diag *d)
{
    (void) model;
    mf_reward_req *r = out;
    if (params == NULL) {
        return mf_req_fail_missing(d, "/params", "an object with at least \"dataset\"");
    }
    if (lim->max_n < 10) {
        return mf_req_fail(d, "impossible", "/params/n_per_target",
                           "\"/params/n_per_target\" cannot be met: this server allows at most %zu "
                           "samples and finetune.reward needs at least 10",
                           lim->max_n);
    }
    return mf_req_decode_fields(fields, params, "/params", lim, true, r, d);
}

static char *encode(const void *params)
{
    return mf_req_encode_fields(fields, params);
}

const mf_job_codec mf_reward_codec = {
    .name = "finetune.reward",
    .model = MF_CODEC_MODEL_OPTIONAL,
    .params_size = sizeof(mf_reward_req),
    .decode = decode,
    .encode = encode,
    .tables = tables,
};

#define COND_WIDTH 2 /* core/rcgd.c: the indicator convention, [c_0, 1] */

/* What the reward model costs: ridge's two D x D matrices in double and its Gram sums
 * over the rows; an mlp's copies (parameters, gradient, Adam) and batch, its steps, and
 * the pseudo-labels of every row. */
static void reward_model_cost(const mf_reward_req *q, size_t D, double rows, mf_job_cost *c)
{
    const mf_reward_opts *o = &q->reward_model;
    double d = (double) D;
    if (o->kind == MF_REWARD_RIDGE) {
        mf_cost_mem(c, "/params/reward_model", "the ridge reward model's matrices",
                    2.0 * d * d * 8.0);
        mf_cost_flops(c, "/params/reward_model", "the reward model's fit",
                      rows * d * d * 2.0 + d * d * d);
        return;
    }
    mf_budget_net r = mf_budget_scalar(D, o->hidden, o->n_hidden);
    double Pr = mf_budget_params(&r), B = (double) o->batch;
    mf_cost_mem(c, "/params/reward_model", "the reward model's fit",
                (4.0 * Pr + B * mf_budget_row_floats(&r, true)) * 4.0);
    mf_cost_flops(c, "/params/reward_model", "the reward model's fit",
                  (double) o->steps * B * 6.0 * Pr + rows * 2.0 * Pr);
}

mf_err mf_reward_check_budget(const mf_reward_req *q, const mf_mlp_config *parent, size_t D,
                              size_t n_rows, const mf_req_limits *lim, double *ret_flops, mf_diag *d)
{
    mf_budget_net net = parent != NULL
                            ? mf_budget_mlp_of(parent)
                            : mf_budget_mlp(D, q->train.emb, 0, q->train.hidden, q->train.n_hidden);
    net.in += COND_WIDTH;
    double P = mf_budget_params(&net), rows = (double) n_rows;
    const char *net_field = parent != NULL ? "/model" : "/params/train/hidden";
    mf_budget_net rm =
        mf_budget_scalar(D, q->reward_model.hidden,
                         q->reward_model.kind == MF_REWARD_MLP ? q->reward_model.n_hidden : 0);
    double Pr = mf_budget_params(&rm);
    mf_job_cost c = {0};
    mf_cost_model(&c, P + Pr, Pr > P ? "/params/reward_model/hidden" : net_field,
                  Pr > P ? &rm : &net);
    mf_train_settings_cost(&q->train, &net, net_field, "/params/train", &c);
    mf_dataset_id id;
    bool builtin = mf_dataset_lookup(q->dataset, &id) == MF_OK;
    /* core/rcgd.c: the rows gathered, then copied with their pseudo-labels */
    mf_cost_mem(&c, builtin ? "/params/n_unlabelled" : "/params/dataset", "the training rows",
                2.0 * rows * ((double) D + 1.0) * 4.0);
    reward_model_cost(q, D, rows, &c);
    /* each target's samples (and their metrics' copies); guided sampling evaluates the
     * network twice a step (cfg) or adds the reward's gradient */
    double n = (double) q->n_per_target, per_step = q->guidance.mode == MF_GUIDE_COND ? 1.0 : 2.0;
    mf_cost_mem(&c, "/params/n_per_target", "a target's samples",
                3.0 * n * ((double) D + COND_WIDTH + 1.0) * 4.0);
    mf_cost_flops(&c, "/params/n_per_target", "the samples at the targets",
                  (double) q->n_targets * n * (double) q->steps * per_step * 2.0 * P);
    return mf_job_cost_check(&c, lim, ret_flops, d);
}
