/* SPDX-License-Identifier: MIT */
/* dxmi_codec.c - the params of a "finetune.dxmi" job (see dxmi_codec.h). */
#include "dxmi_codec.h"

#include <stdio.h>
#include <string.h>

#include "job_budget.h"
#include "req_decode.h"

#define WIDTH_MAX  1024
#define N_EVAL_MIN 100
#define BATCH_MAX  65536
#define CLIP_WHAT  "a number between 0 and 1000000 (0 = no clipping)"
#define RATE_WHAT  "a number between 0 and 1"
#define EMB_WHAT   "an even integer between 2 and 256"
#define TAU_WHAT   "a number between 0 and 10"
#define BY_MODEL   (-1.0) /* a default the daemon picks by the model's dimension (prepare) */

_Static_assert(sizeof(mf_var_sched_kind) == sizeof(int), "an MF_REQ_ENUM field");

/* ---- hidden widths of the energy and value networks ---------------------------------- */

static mf_err decode_widths(const json_t *v, const char *ptr, size_t *out, size_t *n_out,
                            mf_diag *d)
{
    if (v == NULL) {
        out[0] = out[1] = 128;
        *n_out = 2;
        return MF_OK;
    }
    char what[128];
    snprintf(what, sizeof what, "an array of 1 to %d integers between 1 and %d", MF_DXMI_MAX_HIDDEN,
             WIDTH_MAX);
    size_t k = json_is_array(v) ? json_array_size(v) : 0;
    if (!json_is_array(v) || k == 0 || k > MF_DXMI_MAX_HIDDEN) {
        return mf_req_fail_must(d, json_is_array(v) ? "out_of_range" : "wrong_type", ptr, what, v);
    }
    for (size_t i = 0; i < k; i++) {
        char eptr[128];
        uint64_t h;
        mf_req_ptr_index(eptr, sizeof eptr, ptr, i);
        mf_err err = mf_req_get_uint(json_array_get(v, i), eptr, 1, WIDTH_MAX, &h, d);
        if (err != MF_OK) {
            return err;
        }
        out[i] = (size_t) h;
    }
    *n_out = k;
    return MF_OK;
}

static int encode_widths(json_t *o, const char *key, const size_t *w, size_t n)
{
    json_t *h = json_array();
    int f = h == NULL;
    for (size_t i = 0; i < n && !f; i++) {
        f |= json_array_append_new(h, json_integer((json_int_t) w[i]));
    }
    return f | json_object_set_new(o, key, h);
}

static mf_err decode_energy_hidden(const json_t *v, const char *ptr, const mf_req_limits *lim,
                                   void *params, mf_diag *d)
{
    (void) lim;
    mf_dxmi_opts *o = &((mf_dxmi_req *) params)->o;
    return decode_widths(v, ptr, o->energy_hidden, &o->n_energy_hidden, d);
}

static int encode_energy_hidden(json_t *o, const char *key, const void *params)
{
    const mf_dxmi_opts *x = &((const mf_dxmi_req *) params)->o;
    return encode_widths(o, key, x->energy_hidden, x->n_energy_hidden);
}

static mf_err decode_value_hidden(const json_t *v, const char *ptr, const mf_req_limits *lim,
                                  void *params, mf_diag *d)
{
    (void) lim;
    mf_dxmi_opts *o = &((mf_dxmi_req *) params)->o;
    return decode_widths(v, ptr, o->value_hidden, &o->n_value_hidden, d);
}

static int encode_value_hidden(json_t *o, const char *key, const void *params)
{
    const mf_dxmi_opts *x = &((const mf_dxmi_req *) params)->o;
    return encode_widths(o, key, x->value_hidden, x->n_value_hidden);
}

/* In range but odd is refused too: the embedding is sin and cos halves. */
static mf_err decode_value_emb(const json_t *v, const char *ptr, const mf_req_limits *lim,
                               void *params, mf_diag *d)
{
    (void) lim;
    mf_dxmi_opts *o = &((mf_dxmi_req *) params)->o;
    if (v == NULL) {
        o->value_emb = 16;
        return MF_OK;
    }
    uint64_t e;
    mf_err err = mf_req_get_uint(v, ptr, 2, 256, &e, d);
    if (err == MF_OK && e % 2 != 0) {
        return mf_req_fail_must(d, "out_of_range", ptr, EMB_WHAT, v);
    }
    if (err == MF_OK) {
        o->value_emb = (size_t) e;
    }
    return err;
}

static int encode_value_emb(json_t *o, const char *key, const void *params)
{
    const mf_dxmi_req *r = params;
    return json_object_set_new(o, key, json_integer((json_int_t) r->o.value_emb));
}

/* ---- the table ---------------------------------------------------------------------- */

#define O(k) .key = #k, .offset = offsetof(mf_dxmi_req, o.k)
#define F(k) .key = #k, .offset = offsetof(mf_dxmi_req, k)
static const mf_req_field fields[] = {
    {.key = "steps",
     .offset = offsetof(mf_dxmi_req, o.T),
     .type = MF_REQ_SIZE,
     .lo = 2,
     .hi = MF_VAR_MAX_T,
     .omit_zero = true},
    {O(schedule), .type = MF_REQ_ENUM, .names = mf_var_sched_kind_names, .def = MF_VAR_SCHED_CODE},
    {O(tau_entropy), .type = MF_REQ_NUMBER, .hi = 10, .def = BY_MODEL, .what = TAU_WHAT},
    {O(tau_velocity), .type = MF_REQ_NUMBER, .hi = 10, .def = 0.01, .what = TAU_WHAT},
    {O(gamma), .type = MF_REQ_NUMBER, .hi = 100, .def = 1, .what = "a number between 0 and 100"},
    {O(adavelreg), .type = MF_REQ_NUMBER, .hi = 0.9999, .def = 0.99,
     .what = "a number between 0 and 0.9999"},
    {O(lr_sampler), .type = MF_REQ_NUMBER, .hi = 1, .def = BY_MODEL, .what = RATE_WHAT},
    {O(lr_sigma), .type = MF_REQ_NUMBER, .hi = 1, .def = 1e-4, .what = RATE_WHAT},
    {O(lr_energy), .type = MF_REQ_NUMBER, .hi = 1, .def = BY_MODEL, .what = RATE_WHAT},
    {O(lr_value), .type = MF_REQ_NUMBER, .hi = 1, .def = 1e-3, .what = RATE_WHAT},
    {O(clip_sampler), .type = MF_REQ_NUMBER, .hi = 1e6, .def = 0.1, .what = CLIP_WHAT},
    {O(clip_energy), .type = MF_REQ_NUMBER, .hi = 1e6, .def = 0, .what = CLIP_WHAT},
    {O(batch), .type = MF_REQ_SIZE, .lo = 1, .hi = BATCH_MAX, .limit = MF_REQ_LIM_BATCH,
     .omit_zero = true},
    {F(iters), .type = MF_REQ_SIZE, .lo = 1, .limit = MF_REQ_LIM_TRAIN_STEPS, .omit_zero = true},
    {O(warmup), .type = MF_REQ_SIZE, .lo = 0, .hi = 1e6, .def = 200},
    {O(n_generator), .type = MF_REQ_SIZE, .lo = 1, .hi = MF_VAR_MAX_T, .def = 1},
    {.key = "energy_hidden",
     .type = MF_REQ_CUSTOM,
     .decode = decode_energy_hidden,
     .encode = encode_energy_hidden},
    {.key = "value_hidden",
     .type = MF_REQ_CUSTOM,
     .decode = decode_value_hidden,
     .encode = encode_value_hidden},
    {.key = "value_emb",
     .type = MF_REQ_CUSTOM,
     .decode = decode_value_emb,
     .encode = encode_value_emb},
    {F(eval_every), .type = MF_REQ_SIZE, .lo = 1, .hi = 1e6, .def = 500},
    {F(n_eval), .type = MF_REQ_SIZE, .lo = N_EVAL_MIN, .limit = MF_REQ_LIM_N, .def = 1000},
    {F(dataset), .type = MF_REQ_ID},
    {O(seed), .type = MF_REQ_U64, .hi = (double) MF_REQ_SEED_MAX},
    {F(out_model), .type = MF_REQ_ID},
    {.key = NULL},
};
static const mf_req_field *const tables[] = {fields, NULL};
#undef O
#undef F

static mf_err decode(json_t *o, const char *model, const mf_req_limits *lim, void *out, mf_diag *d)
{
    (void) model;
    mf_dxmi_req *r = out;
    mf_err err;
    if (o != NULL && json_object_get(o, "model") != NULL) {
        return mf_req_fail(d, "unknown_field", "/params/model",
                           "unknown field \"/params/model\"; a finetune.dxmi job names the model "
                           "it distils in the top-level \"model\" and the new one with "
                           "\"params.out_model\"");
    }
    if (lim->max_n < N_EVAL_MIN) {
        return mf_req_fail(d, "impossible", "/params/n_eval",
                           "\"/params/n_eval\" cannot be met: this server allows at most %zu "
                           "samples and finetune.dxmi needs at least %d",
                           lim->max_n, N_EVAL_MIN);
    }
    /* the fields core has and the API does not set keep core's defaults */
    r->o = mf_dxmi_opts_default();
    r->o.T = 0;
    if ((err = mf_req_decode_fields(fields, o, "/params", lim, true, r, d)) != MF_OK) {
        return err;
    }
    if (r->o.T != 0 && r->o.n_generator > r->o.T) {
        return mf_req_fail(d, "impossible", "/params/n_generator",
                           "\"/params/n_generator\" is %zu but there are only %zu sampler steps "
                           "(\"/params/steps\") to draw states from",
                           r->o.n_generator, r->o.T);
    }
    return MF_OK;
}

static char *encode(const void *params)
{
    return mf_req_encode_fields(fields, params);
}

const mf_job_codec mf_dxmi_codec = {
    .name = "finetune.dxmi",
    .model = MF_CODEC_MODEL,
    .params_size = sizeof(mf_dxmi_req),
    .decode = decode,
    .encode = encode,
    .tables = tables,
};

#define EVAL_SEEDS 5 /* core/dxmi_eval.h: mf_dxmi_eval_opts_default's n_seeds */

mf_err mf_dxmi_check_budget(const mf_dxmi_req *q, const mf_mlp_config *parent, size_t n_rows,
                            const mf_req_limits *lim, double *ret_flops, mf_diag *d)
{
    const mf_dxmi_opts *o = &q->o;
    size_t D = parent->data_dim;
    mf_budget_net eps = mf_budget_mlp_of(parent);
    mf_budget_net energy = mf_budget_scalar(D, o->energy_hidden, o->n_energy_hidden);
    mf_budget_net value = mf_budget_scalar(D + o->value_emb, o->value_hidden, o->n_value_hidden);
    double P = mf_budget_params(&eps), Pe = mf_budget_params(&energy);
    double Pv = mf_budget_params(&value), B = (double) o->batch, T = (double) o->T;
    double dd = (double) D, n_eval = (double) q->n_eval;
    mf_job_cost c = {0};
    /* the model it makes: the eps-network with the energy and value networks */
    const char *big = P >= Pe && P >= Pv ? "/model"
                      : Pe >= Pv         ? "/params/energy_hidden"
                                         : "/params/value_hidden";
    const mf_budget_net *shown = P >= Pe && P >= Pv ? &eps : (Pe >= Pv ? &energy : &value);
    mf_cost_model(&c, P + Pe + Pv, big, shown);
    /* core/dxmi.c: each network with its gradient and Adam's moments; a rollout's states
     * and means of every step, the batch buffers, the workspaces (the eps-network's split
     * and forward ones, the energy's for data and samples, the value's); the training
     * pool; the evaluations' samples */
    mf_cost_mem(&c, "/model", "the sampler network, its gradient and Adam's moments",
                4.0 * P * 4.0);
    mf_cost_mem(&c, "/params/energy_hidden", "the energy and value networks with Adam",
                4.0 * (Pe + Pv) * 4.0);
    double per_row = (2.0 * T + 8.0) * dd + 2.0 * (dd + (double) o->value_emb) +
                     mf_budget_row_floats(&eps, true) + mf_budget_row_floats(&eps, false) +
                     2.0 * mf_budget_row_floats(&energy, true) + mf_budget_row_floats(&value, true);
    mf_cost_mem(&c, "/params/batch", "a batch's rollout and activations", B * per_row * 4.0);
    mf_cost_mem(&c, "/params/dataset", "the training rows", 2.0 * (double) n_rows * dd * 4.0);
    mf_cost_mem(&c, "/params/n_eval", "the evaluations' samples", 3.0 * n_eval * dd * 4.0);
    /* an iteration: the T-step rollout (a forward pass a step), the sampler's update on
     * n_generator steps, the energy on data and samples, the value on every step */
    double iteration =
        B * (T * 2.0 * P + (double) o->n_generator * 6.0 * P + 2.0 * 6.0 * Pe + T * 6.0 * Pv);
    mf_cost_flops(&c, "/params/iters", "the iterations", (double) q->iters * iteration);
    double evals = (double) q->iters / (double) q->eval_every + 2.0;
    mf_cost_flops(&c, "/params/n_eval", "the evaluations",
                  evals * EVAL_SEEDS * n_eval * T * 2.0 * P);
    return mf_job_cost_check(&c, lim, ret_flops, d);
}
