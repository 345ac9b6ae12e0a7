/* SPDX-License-Identifier: MIT */
/*
 * smeme_codec.c - the params of a "finetune.smeme" job (see smeme_codec.h).
 * The defaults are ALGORITHMS.md's "settings that work".
 */
#include "smeme_codec.h"

#include <stdio.h>
#include <string.h>

#include "job_budget.h"
#include "req_decode.h"

#define ALPHA_DEFAULT  2.0
#define ALPHA_MAX      100.0
#define STEPS_MIN      2
#define METRIC_N_MIN   100
#define ALPHA_ONE      "a number greater than 1 and at most 100"
#define CLIP_WHAT(max) "a number between 0 and " max " (0 = no clipping)"

/* alpha: one number for every iteration, or a list of 1..MF_SMEME_REQ_MAX_K
 * numbers (whether that is K is a combination, checked after every field). */
static mf_err decode_alpha(const json_t *v, const char *ptr, const mf_req_limits *lim, void *params,
                           mf_diag *d)
{
    (void) lim;
    mf_smeme_req *r = params;
    if (v == NULL) {
        for (size_t i = 0; i < r->K; i++) {
            r->alpha[i] = ALPHA_DEFAULT;
        }
        return MF_OK;
    }
    char what[160];
    snprintf(what, sizeof what, "%s, or an array of K (%zu) such numbers", ALPHA_ONE, r->K);
    if (json_is_number(v)) {
        double a = 0.0;
        mf_err err = mf_req_get_number(v, ptr, 1.0, ALPHA_MAX, true, what, &a, d);
        for (size_t i = 0; i < r->K && err == MF_OK; i++) {
            r->alpha[i] = a;
        }
        return err;
    }
    if (!json_is_array(v)) {
        return mf_req_fail_must(d, "wrong_type", ptr, what, v);
    }
    size_t k = json_array_size(v);
    if (k == 0 || k > MF_SMEME_REQ_MAX_K) {
        /* No K allows it: wrong alone, so a 400 and not the 422 of a mismatch. */
        return mf_req_fail_must(d, "out_of_range", ptr, what, v);
    }
    for (size_t i = 0; i < k; i++) {
        char eptr[128];
        mf_req_ptr_index(eptr, sizeof eptr, ptr, i);
        mf_err err = mf_req_get_number(json_array_get(v, i), eptr, 1.0, ALPHA_MAX, true, ALPHA_ONE,
                                       &r->alpha[i], d);
        if (err != MF_OK) {
            return err;
        }
    }
    return MF_OK;
}

/* Always the list: one form to read back, whichever the client sent. */
static int encode_alpha(json_t *o, const char *key, const void *params)
{
    const mf_smeme_req *r = params;
    json_t *a = json_array();
    int f = a == NULL;
    for (size_t i = 0; i < r->K && i < MF_SMEME_REQ_MAX_K && !f; i++) {
        f |= json_array_append_new(a, json_real(r->alpha[i]));
    }
    return f | json_object_set_new(o, key, a);
}

#define F(k) .key = #k, .offset = offsetof(mf_smeme_req, k)
static const mf_req_field fields[] = {
    {F(K), .type = MF_REQ_SIZE, .lo = 1, .hi = MF_SMEME_REQ_MAX_K, .def = 2},
    {F(alpha), .type = MF_REQ_CUSTOM, .decode = decode_alpha, .encode = encode_alpha},
    {F(tau_r), .type = MF_REQ_SIZE, .lo = 0, .hi = 999, .def = 10},
    {F(steps), .type = MF_REQ_SIZE, .lo = STEPS_MIN, .limit = MF_REQ_LIM_STEPS, .def = 100},
    {F(trajectories), .type = MF_REQ_SIZE, .lo = 1, .hi = 1024, .def = 64},
    {F(batch), .type = MF_REQ_SIZE, .lo = 1, .hi = 16384, .def = 2048},
    {F(lr), .type = MF_REQ_NUMBER, .lo = 0, .hi = 1, .lo_open = true, .def = 4e-4,
     .what = "a number greater than 0 and at most 1"},
    {F(rounds), .type = MF_REQ_SIZE, .lo = 1, .hi = 100000, .def = 200},
    {F(inner_steps), .type = MF_REQ_SIZE, .lo = 1, .hi = 100, .def = 2},
    {F(clip_reward), .type = MF_REQ_NUMBER, .hi = 1e6, .def = 2.5, .what = CLIP_WHAT("1000000")},
    {F(clip_grad), .type = MF_REQ_NUMBER, .hi = 1e6, .def = 1, .what = CLIP_WHAT("1000000")},
    {F(clip_loss), .type = MF_REQ_NUMBER, .hi = 1e12, .def = 0, .what = CLIP_WHAT("1000000000000")},
    {F(seed), .type = MF_REQ_U64, .hi = (double) MF_REQ_SEED_MAX},
    {F(n_metric_samples), .type = MF_REQ_SIZE, .lo = METRIC_N_MIN, .limit = MF_REQ_LIM_N,
     .def = 2000},
    {F(out_model), .type = MF_REQ_ID},
    {F(keep_iterations), .type = MF_REQ_BOOL},
    {.key = NULL},
};
static const mf_req_field *const tables[] = {fields, NULL};
#undef F

/* A server limit under the smallest value finetune.smeme accepts: no request can pass. */
static mf_err fail_limit(mf_diag *d, const char *ptr, const char *limit, size_t have, size_t need)
{
    return mf_req_fail(d, "impossible", ptr,
                       "\"%s\" cannot be met: this server allows at most %zu %s and "
                       "finetune.smeme needs at least %zu",
                       ptr, have, limit, need);
}

static mf_err decode(json_t *o, const char *model, const mf_req_limits *lim, void *out, mf_diag *d)
{
    (void) model;
    mf_smeme_req *r = out;
    mf_err err;
    if (o != NULL) {
        if (json_object_get(o, "model") != NULL) {
            return mf_req_fail(d, "unknown_field", "/params/model",
                               "unknown field \"/params/model\"; a finetune.smeme job names the "
                               "model it starts from in the top-level \"model\" and the new one "
                               "with \"params.out_model\"");
        }
        if ((err = mf_req_check_fields(fields, o, "/params", d)) != MF_OK) {
            return err;
        }
    }
    /* The server's limits before the body: when they leave no valid value, no
     * body can help. */
    if (lim->max_steps < STEPS_MIN) {
        return fail_limit(d, "/params/steps", "sampler steps", lim->max_steps, STEPS_MIN);
    }
    if (lim->max_n < METRIC_N_MIN) {
        return fail_limit(d, "/params/n_metric_samples", "samples", lim->max_n, METRIC_N_MIN);
    }
    if ((err = mf_req_decode_fields(fields, o, "/params", lim, true, r, d)) != MF_OK) {
        return err;
    }
    /* Every field is fine alone; now the combinations. */
    json_t *a = o != NULL ? json_object_get(o, "alpha") : NULL;
    size_t n_alpha = json_is_array(a) ? json_array_size(a) : r->K;
    if (n_alpha != r->K) {
        bool k_given = json_object_get(o, "K") != NULL;
        return mf_req_fail(d, "impossible", "/params/alpha",
                           "\"/params/alpha\" lists %zu numbers but \"/params/K\" is %zu%s; give "
                           "one alpha per iteration, or a single number for all of them",
                           n_alpha, r->K, k_given ? "" : " (the default)");
    }
    size_t n_out = strlen(r->out_model), room = mf_smeme_kept_room(r);
    if (n_out > 0 && n_out + room > MF_REQ_ID_MAX) {
        return mf_req_fail(d, "impossible", "/params/out_model",
                           "\"/params/out_model\" has %zu characters, too many with "
                           "\"/params/keep_iterations\": the model kept after iteration %zu is "
                           "called out_model + \"" MF_SMEME_KEPT_SUFFIX "%zu\" and an id has at "
                           "most %d characters; give an out_model of at most %zu",
                           n_out, r->K - 1, r->K - 1, MF_REQ_ID_MAX, (size_t) MF_REQ_ID_MAX - room);
    }
    return MF_OK;
}

static char *encode(const void *params)
{
    return mf_req_encode_fields(fields, params);
}

size_t mf_smeme_kept_room(const mf_smeme_req *q)
{
    if (!q->keep_iterations || q->K < 2) {
        return 0;
    }
    char buf[32];
    int n = snprintf(buf, sizeof buf, MF_SMEME_KEPT_SUFFIX "%zu", q->K - 1);
    return n > 0 ? (size_t) n : 0;
}

bool mf_smeme_kept_id(const char *final_id, size_t k, char out[MF_REQ_ID_MAX + 1])
{
    int n = snprintf(out, MF_REQ_ID_MAX + 1, "%s" MF_SMEME_KEPT_SUFFIX "%zu", final_id, k);
    if (n < 0 || n > MF_REQ_ID_MAX) {
        out[0] = '\0';
        return false;
    }
    return true;
}

const mf_job_codec mf_smeme_codec = {
    .name = "finetune.smeme",
    .model = MF_CODEC_MODEL,
    .params_size = sizeof(mf_smeme_req),
    .decode = decode,
    .encode = encode,
    .tables = tables,
};

mf_err mf_smeme_check_budget(const mf_smeme_req *q, const mf_mlp_config *parent,
                             const mf_req_limits *lim, double *ret_flops, mf_diag *d)
{
    mf_budget_net net = mf_budget_mlp_of(parent);
    double P = mf_budget_params(&net), D = (double) parent->data_dim, N = (double) q->steps;
    double m = (double) q->trajectories, B = (double) q->batch;
    double rows = m > B ? m : B, n_eval = (double) q->n_metric_samples;
    mf_job_cost c = {0};
    mf_cost_model(&c, P, "/model", &net);
    /* core/smeme.c and adjoint.c: the fine-tuned network and the frozen parent, the
     * gradient and Adam's moments; each round's states x_0..x_N, the parent's eps and the
     * adjoints of every trajectory, with the parent's workspaces for the trajectories; the
     * network's workspace for a batch or the trajectories, whichever has more rows, and
     * the batch's buffers; the evaluations' samples (and the parent's, their reference) */
    mf_cost_mem(&c, "/model", "the networks, the gradient and Adam's moments", 5.0 * P * 4.0);
    mf_cost_mem(&c, "/params/trajectories", "the trajectories' states and adjoints",
                ((3.0 * N + 1.0) * D + mf_budget_row_floats(&net, true) +
                 mf_budget_row_floats(&net, false)) *
                    m * 4.0);
    mf_cost_mem(&c, B >= m ? "/params/batch" : "/params/trajectories", "a batch's activations",
                (rows * mf_budget_row_floats(&net, true) + 6.0 * B * D) * 4.0);
    mf_cost_mem(&c, "/params/n_metric_samples", "the evaluations' samples", 4.0 * n_eval * D * 4.0);
    /* a round: m trajectories of N steps (a forward pass of the network and a VJP of the
     * parent, 2 + 6), then inner_steps Adam steps on B pairs; an evaluation samples n_eval
     * rows on the same N-step grid, before the first iteration and after each */
    double round = m * N * 8.0 * P + (double) q->inner_steps * B * 6.0 * P;
    mf_cost_flops(&c, "/params/rounds", "the Adjoint Matching rounds",
                  (double) q->K * (double) q->rounds * round);
    mf_cost_flops(&c, "/params/n_metric_samples", "the evaluations",
                  ((double) q->K + 1.0) * n_eval * N * 2.0 * P);
    return mf_job_cost_check(&c, lim, ret_flops, d);
}
