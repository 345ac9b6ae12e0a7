/* SPDX-License-Identifier: MIT */
/*
 * Tests of proto/jobs/reward_codec.c, the params of a finetune.reward job:
 * every default, the defaults that depend on other fields (p_uncond by the
 * guidance mode) or on the server's limits (train steps and batch), the
 * canonical params_json and its round trip, and a table of bad params, each
 * with the exact status, code and JSON pointer it must get.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "http_status.h"
#include "job_codec.h"
#include "rcgd.h"
#include "request_json.h"
#include "reward_codec.h"
#include "test_util.h"

#define P(j) ((const mf_reward_req *) (j).params)

/* Decodes params of a finetune.reward job (model "" = none): 0 or the HTTP status. */
static unsigned decode(const char *model, const char *params, const mf_req_limits *lim,
                       mf_job_req *j, mf_diag *d)
{
    mf_req_limits def = mf_req_limits_default();
    memset(d, 0, sizeof *d);
    mf_err err =
        mf_req_decode_job_params("finetune.reward", model, params, lim != NULL ? lim : &def, j, d);
    if (err == MF_OK) {
        return 0;
    }
    ck_assert_msg(err == MF_EINVAL || err == MF_ENOMEM, "decode error %s", mf_err_name(err));
    return mf_http_status(err, d, NULL);
}

static mf_job_req ok(const char *model, const char *params, const mf_req_limits *lim)
{
    mf_job_req j;
    mf_diag d;
    unsigned st = decode(model, params, lim, &j, &d);
    ck_assert_msg(st == 0, "%s: %u %s %s %s", params, st, d.code, d.field, d.msg);
    ck_assert_ptr_eq(j.codec, &mf_reward_codec);
    return j;
}

/* params_json decodes to the same request and text. */
static void assert_round_trip(const mf_job_req *j)
{
    mf_job_req k = ok(j->model, j->params_json, NULL);
    const mf_reward_req *a = P(*j), *b = P(k);
    ck_assert_str_eq(a->dataset, b->dataset);
    ck_assert_str_eq(a->labels, b->labels);
    ck_assert_uint_eq(a->n_unlabelled, b->n_unlabelled);
    ck_assert_uint_eq(a->n_labelled, b->n_labelled);
    ck_assert(a->label_noise == b->label_noise);
    ck_assert_int_eq(a->reward_model.kind, b->reward_model.kind);
    ck_assert(a->reward_model.lambda == b->reward_model.lambda);
    ck_assert_uint_eq(a->reward_model.n_hidden, b->reward_model.n_hidden);
    for (size_t i = 0; i < a->reward_model.n_hidden; i++) {
        ck_assert_uint_eq(a->reward_model.hidden[i], b->reward_model.hidden[i]);
    }
    ck_assert_uint_eq(a->reward_model.steps, b->reward_model.steps);
    ck_assert(a->reward_model.lr == b->reward_model.lr);
    ck_assert(a->pseudo_label_noise == b->pseudo_label_noise);
    ck_assert_int_eq(a->guidance.mode, b->guidance.mode);
    ck_assert(a->guidance.w == b->guidance.w);
    ck_assert(a->guidance.p_uncond == b->guidance.p_uncond);
    ck_assert_uint_eq(a->train.steps, b->train.steps);
    ck_assert_uint_eq(a->train.batch, b->train.batch);
    ck_assert(a->train.lr == b->train.lr);
    ck_assert_uint_eq(a->train.n_hidden, b->train.n_hidden);
    ck_assert_str_eq(a->train.schedule, b->train.schedule);
    ck_assert_uint_eq(a->n_targets, b->n_targets);
    for (size_t i = 0; i < a->n_targets; i++) {
        ck_assert(a->targets[i] == b->targets[i]);
    }
    ck_assert_uint_eq(a->n_per_target, b->n_per_target);
    ck_assert_int_eq(a->sampler, b->sampler);
    ck_assert_uint_eq(a->steps, b->steps);
    ck_assert(a->eta == b->eta);
    ck_assert_uint_eq(a->seed, b->seed);
    ck_assert_str_eq(a->out_model, b->out_model);
    ck_assert_str_eq(j->params_json, k.params_json);
    mf_job_req_done(&k);
}

START_TEST(test_defaults)
{
    mf_job_req j = ok("", "{\"dataset\":\"linear_subspace\"}", NULL);
    const mf_reward_req *q = P(j);
    mf_rcgd_opts core = mf_rcgd_opts_default();
    ck_assert_str_eq(j.model, "");
    ck_assert_str_eq(q->dataset, "linear_subspace");
    ck_assert_str_eq(q->labels, "");
    ck_assert_uint_eq(q->n_unlabelled, 16384);
    ck_assert_uint_eq(q->n_labelled, 1000);
    ck_assert(q->label_noise == 0.1);
    /* the reward model's defaults are core's */
    ck_assert_int_eq(q->reward_model.kind, core.reward.kind);
    ck_assert(q->reward_model.lambda == core.reward.lambda);
    ck_assert(q->pseudo_label_noise == 0.3);
    ck_assert_int_eq(q->guidance.mode, MF_GUIDE_COND);
    ck_assert(q->guidance.w == 1.0);
    ck_assert(q->guidance.p_uncond == 0.0);
    /* the training recipe is core's (reward.py's: 20,000 steps of batch 256, 3 x 256) */
    ck_assert_uint_eq(q->train.steps, core.train.steps);
    ck_assert_uint_eq(q->train.batch, 256);
    ck_assert_uint_eq(q->train.n_hidden, core.train.n_hidden);
    ck_assert_uint_eq(q->n_targets, 4);
    ck_assert(q->targets[0] == 0.5 && q->targets[1] == 1.0 && q->targets[2] == 2.0 &&
              q->targets[3] == 4.0);
    ck_assert_uint_eq(q->n_per_target, 1000);
    ck_assert_int_eq(q->sampler, MF_SAMPLER_DDPM);
    ck_assert_uint_eq(q->steps, 200);
    ck_assert(q->eta == 0.0);
    ck_assert_uint_eq(q->seed, 0);
    ck_assert_str_eq(q->out_model, "");
    /* every default is written out, so the stored job is explicit */
    json_t *p = json_loads(j.params_json, 0, NULL);
    ck_assert_ptr_nonnull(p);
    static const char *const keys[] = {
        "dataset",  "n_unlabelled", "n_labelled", "label_noise",       "reward_model",
        "guidance", "train",        "targets",    "n_per_target",      "sampler",
        "steps",    "eta",          "seed",       "pseudo_label_noise"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        ck_assert_msg(json_object_get(p, keys[i]) != NULL, "%s missing in %s", keys[i],
                      j.params_json);
    }
    json_decref(p);
    assert_round_trip(&j);
    mf_job_req_done(&j);
}

END_TEST

START_TEST(test_values)
{
    mf_job_req j = ok("gaussian",
                      "{\"dataset\":\"my-data\",\"labels\":\"my-labels\",\"n_unlabelled\":100,"
                      "\"reward_model\":{\"kind\":\"mlp\",\"hidden\":[32,16],\"steps\":50,"
                      "\"lr\":0.01},\"pseudo_label_noise\":0.5,"
                      "\"guidance\":{\"mode\":\"cfg\",\"w\":2},\"train\":{\"steps\":100,"
                      "\"batch\":64,\"hidden\":[64,64],\"lr\":0.002},\"targets\":[-1,0,8.5],"
                      "\"n_per_target\":10,\"sampler\":\"ddim\",\"steps\":50,\"eta\":0.5,"
                      "\"seed\":9007199254740992,\"out_model\":\"steered\"}",
                      NULL);
    const mf_reward_req *q = P(j);
    ck_assert_str_eq(j.model, "gaussian");
    ck_assert_str_eq(q->dataset, "my-data");
    ck_assert_str_eq(q->labels, "my-labels");
    ck_assert_uint_eq(q->n_unlabelled, 100);
    ck_assert_int_eq(q->reward_model.kind, MF_REWARD_MLP);
    ck_assert_uint_eq(q->reward_model.n_hidden, 2);
    ck_assert_uint_eq(q->reward_model.hidden[1], 16);
    ck_assert_uint_eq(q->reward_model.steps, 50);
    ck_assert(q->pseudo_label_noise == 0.5);
    /* cfg without a p_uncond: label dropout 0.1, else no null condition is trained */
    ck_assert_int_eq(q->guidance.mode, MF_GUIDE_CFG);
    ck_assert(q->guidance.w == 2.0);
    ck_assert(q->guidance.p_uncond == 0.1);
    ck_assert_uint_eq(q->train.steps, 100);
    ck_assert_uint_eq(q->train.batch, 64);
    ck_assert_uint_eq(q->train.n_hidden, 2);
    ck_assert_uint_eq(q->n_targets, 3);
    ck_assert(q->targets[0] == -1.0 && q->targets[2] == 8.5);
    ck_assert_int_eq(q->sampler, MF_SAMPLER_DDIM);
    ck_assert(q->eta == 0.5);
    ck_assert_uint_eq(q->seed, UINT64_C(9007199254740992));
    ck_assert_str_eq(q->out_model, "steered");
    assert_round_trip(&j);
    mf_job_req_done(&j);

    /* an explicit p_uncond stays, with any mode */
    j = ok("", "{\"dataset\":\"ring\",\"guidance\":{\"mode\":\"cfg\",\"p_uncond\":0.3}}", NULL);
    ck_assert(P(j)->guidance.p_uncond == 0.3);
    mf_job_req_done(&j);
    j = ok("", "{\"dataset\":\"ring\",\"guidance\":{\"mode\":\"reward\",\"w\":0}}", NULL);
    ck_assert(P(j)->guidance.p_uncond == 0.0 && P(j)->guidance.w == 0.0);
    assert_round_trip(&j);
    mf_job_req_done(&j);
}

END_TEST

/* A default above the server's limits gives way to them; an explicit value is refused. */
START_TEST(test_limits)
{
    mf_req_limits lim = mf_req_limits_default();
    lim.max_train_steps = 500;
    lim.max_batch = 32;
    lim.max_n = 200;
    mf_job_req j = ok("", "{\"dataset\":\"linear_subspace\",\"n_per_target\":200}", &lim);
    ck_assert_uint_eq(P(j)->train.steps, 500);
    ck_assert_uint_eq(P(j)->train.batch, 32);
    mf_job_req_done(&j);
    mf_diag d;
    ck_assert_uint_eq(decode("", "{\"dataset\":\"x\",\"train\":{\"steps\":501}}", &lim, &j, &d),
                      400);
    ck_assert_str_eq(d.field, "/params/train/steps");
    ck_assert_uint_eq(decode("", "{\"dataset\":\"x\",\"n_per_target\":201}", &lim, &j, &d), 400);
    ck_assert_str_eq(d.field, "/params/n_per_target");
    /* a server that allows fewer than 10 samples cannot run the job at all */
    lim.max_n = 9;
    ck_assert_uint_eq(decode("", "{\"dataset\":\"x\"}", &lim, &j, &d), 422);
    ck_assert_str_eq(d.code, "impossible");
    ck_assert_str_eq(d.field, "/params/n_per_target");
}

END_TEST

typedef struct bad_case {
    const char *params;
    unsigned status;
    const char *code, *field;
} bad_case;

#define DS "\"dataset\":\"ring\","
static const bad_case bad_cases[] = {
    {"{}", 400, "missing_field", "/params/dataset"},
    {"{\"n_labelled\":10}", 400, "missing_field", "/params/dataset"},
    {"{\"dataset\":5}", 400, "wrong_type", "/params/dataset"},
    {"{\"dataset\":\"../etc\"}", 400, "bad_value", "/params/dataset"},
    {"{\"dataset\":\"\"}", 400, "bad_value", "/params/dataset"},
    {"{" DS "\"labels\":\"A\"}", 400, "bad_value", "/params/labels"},
    {"{" DS "\"n_unlabelled\":99}", 400, "out_of_range", "/params/n_unlabelled"},
    {"{" DS "\"n_unlabelled\":1000001}", 400, "out_of_range", "/params/n_unlabelled"},
    {"{" DS "\"n_labelled\":9}", 400, "out_of_range", "/params/n_labelled"},
    {"{" DS "\"n_labelled\":1.5}", 400, "wrong_type", "/params/n_labelled"},
    {"{" DS "\"label_noise\":-0.1}", 400, "out_of_range", "/params/label_noise"},
    {"{" DS "\"label_noise\":10.5}", 400, "out_of_range", "/params/label_noise"},
    {"{" DS "\"label_noise\":\"0.1\"}", 400, "wrong_type", "/params/label_noise"},
    {"{" DS "\"reward_model\":\"ridge\"}", 400, "wrong_type", "/params/reward_model"},
    {"{" DS "\"reward_model\":{\"kind\":\"svm\"}}", 400, "bad_value", "/params/reward_model/kind"},
    {"{" DS "\"reward_model\":{\"lambda\":-1}}", 400, "out_of_range",
     "/params/reward_model/lambda"},
    {"{" DS "\"reward_model\":{\"hidden\":[]}}", 400, "out_of_range",
     "/params/reward_model/hidden"},
    {"{" DS "\"reward_model\":{\"hidden\":[8,0]}}", 400, "out_of_range",
     "/params/reward_model/hidden/1"},
    {"{" DS "\"reward_model\":{\"hidden\":[1,1,1,1,1]}}", 400, "out_of_range",
     "/params/reward_model/hidden"},
    {"{" DS "\"reward_model\":{\"lr\":0}}", 400, "out_of_range", "/params/reward_model/lr"},
    {"{" DS "\"reward_model\":{\"steps\":0}}", 400, "out_of_range", "/params/reward_model/steps"},
    {"{" DS "\"reward_model\":{\"epochs\":3}}", 400, "unknown_field",
     "/params/reward_model/epochs"},
    {"{" DS "\"pseudo_label_noise\":-1}", 400, "out_of_range", "/params/pseudo_label_noise"},
    {"{" DS "\"pseudo_label_noise\":101}", 400, "out_of_range", "/params/pseudo_label_noise"},
    {"{" DS "\"guidance\":[]}", 400, "wrong_type", "/params/guidance"},
    {"{" DS "\"guidance\":{\"mode\":\"reward_grad\"}}", 400, "bad_value", "/params/guidance/mode"},
    {"{" DS "\"guidance\":{\"w\":-1}}", 400, "out_of_range", "/params/guidance/w"},
    {"{" DS "\"guidance\":{\"w\":1001}}", 400, "out_of_range", "/params/guidance/w"},
    {"{" DS "\"guidance\":{\"p_uncond\":0.95}}", 400, "out_of_range", "/params/guidance/p_uncond"},
    {"{" DS "\"guidance\":{\"x\":1}}", 400, "unknown_field", "/params/guidance/x"},
    {"{" DS "\"train\":{\"steps\":0}}", 400, "out_of_range", "/params/train/steps"},
    {"{" DS "\"train\":{\"lr\":0}}", 400, "out_of_range", "/params/train/lr"},
    {"{" DS "\"train\":{\"emb\":3}}", 400, "bad_value", "/params/train/emb"},
    {"{" DS "\"train\":{\"dataset\":\"ring\"}}", 400, "unknown_field", "/params/train/dataset"},
    {"{" DS "\"targets\":[]}", 400, "out_of_range", "/params/targets"},
    {"{" DS "\"targets\":2}", 400, "wrong_type", "/params/targets"},
    {"{" DS "\"targets\":[1,\"2\"]}", 400, "wrong_type", "/params/targets/1"},
    {"{" DS "\"targets\":[1,2e6]}", 400, "out_of_range", "/params/targets/1"},
    {"{" DS "\"targets\":[0,1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8,9,0,1,2]}", 400,
     "out_of_range", "/params/targets"},
    {"{" DS "\"n_per_target\":9}", 400, "out_of_range", "/params/n_per_target"},
    {"{" DS "\"sampler\":\"euler\"}", 400, "bad_value", "/params/sampler"},
    {"{" DS "\"steps\":0}", 400, "out_of_range", "/params/steps"},
    {"{" DS "\"eta\":1.5}", 400, "out_of_range", "/params/eta"},
    {"{" DS "\"seed\":-1}", 400, "out_of_range", "/params/seed"},
    {"{" DS "\"out_model\":\"Bad\"}", 400, "bad_value", "/params/out_model"},
    {"{" DS "\"nu\":0.5}", 400, "unknown_field", "/params/nu"},
};
#undef DS

START_TEST(test_bad)
{
    const bad_case *c = &bad_cases[_i];
    mf_job_req j;
    mf_diag d;
    unsigned st = decode("", c->params, NULL, &j, &d);
    ck_assert_msg(st == c->status && strcmp(d.code, c->code) == 0 && strcmp(d.field, c->field) == 0,
                  "%s: got %u %s %s (%s), want %u %s %s", c->params, st, d.code, d.field, d.msg,
                  c->status, c->code, c->field);
    ck_assert_msg(d.msg[0] != '\0', "%s: no message", c->params);
}

END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("reward_codec");
    TCase *tc = tcase_create("reward_codec");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_values);
    tcase_add_test(tc, test_limits);
    tcase_add_loop_test(tc, test_bad, 0, (int) (sizeof bad_cases / sizeof bad_cases[0]));
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(suite)
