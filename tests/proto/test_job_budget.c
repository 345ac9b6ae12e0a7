/* SPDX-License-Identifier: MIT */
/*
 * Tests of proto/job_budget.c and each job type's budget (the cost functions of the
 * codecs in proto/jobs/): the parameter counts against core's own layout (mlp.h,
 * reward.h), the parts of an estimate and the refusal that names the largest, the
 * messages with the estimate and the budget, every job type refused naming the field
 * that makes it too big, and every job type's defaults within the default budgets on
 * the shipped models' shapes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dxmi_codec.h"
#include "http_status.h"
#include "job_budget.h"
#include "mlp.h"
#include "request_json.h"
#include "reward.h"
#include "reward_codec.h"
#include "sample_codec.h"
#include "smeme_codec.h"
#include "test_util.h"
#include "train_codec.h"

/* The shipped models' shapes: two_moons (and the other 2-D ones) and digits. */
static const mf_mlp_config moons = {
    .data_dim = 2, .emb_dim = 64, .n_hidden = 3, .hidden = {256, 256, 256}};
static const mf_mlp_config digits = {
    .data_dim = 64, .emb_dim = 64, .n_hidden = 3, .hidden = {512, 512, 512}};

/* A job request decoded with the default limits (it must decode). */
static mf_job_req decode(const char *body)
{
    mf_req_limits lim = mf_req_limits_default();
    mf_job_req j;
    mf_diag d = {0};
    mf_err err = mf_req_decode_job(body, strlen(body), &lim, &j, &d);
    ck_assert_msg(err == MF_OK, "%s: %s %s", body, d.field, d.msg);
    return j;
}

/* A refusal: 422 impossible at field, the message naming it and holding part. */
static void assert_refused(mf_err err, const mf_diag *d, const char *field, const char *part)
{
    ck_assert_int_eq(err, MF_EINVAL);
    ck_assert_uint_eq(mf_http_status(err, d, NULL), 422);
    ck_assert_str_eq(d->code, "impossible");
    ck_assert_str_eq(d->field, field);
    ck_assert_msg(strstr(d->msg, field) != NULL && strstr(d->msg, part) != NULL,
                  "\"%s\" lacks %s or \"%s\"", d->msg, field, part);
}

/* ---- sizes -------------------------------------------------------------------------- */

START_TEST(test_params_match_core)
{
    /* the estimate's count is core's layout, exactly, for every shape */
    const mf_mlp_config cfgs[] = {
        moons,
        digits,
        {.data_dim = 2,
         .emb_dim = 64,
         .n_hidden = 8,
         .hidden = {8192, 8192, 8192, 8192, 8192, 8192, 8192, 8192}},
        {.data_dim = 7, .cond_dim = 2, .emb_dim = 6, .n_hidden = 2, .hidden = {1, 300}},
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        mf_budget_net n = mf_budget_mlp_of(&cfgs[i]);
        ck_assert_uint_eq((size_t) mf_budget_params(&n), mf_mlp_config_n_params(&cfgs[i]));
    }
    mf_budget_net big = mf_budget_mlp_of(&cfgs[2]);
    ck_assert_uint_eq((size_t) mf_budget_params(&big), 470384642);
    const size_t h[] = {64, 4096, 3};
    for (size_t k = 1; k <= 3; k++) {
        mf_reward_model r;
        ck_assert_int_eq(mf_reward_layout(MF_REWARD_MLP, 18, h, k, &r), MF_OK);
        mf_budget_net n = mf_budget_scalar(18, h, k);
        ck_assert_uint_eq((size_t) mf_budget_params(&n), r.n_params);
    }
}

END_TEST

START_TEST(test_row_floats_and_description)
{
    mf_budget_net n = mf_budget_scalar(4, (const size_t[]){3, 5}, 2);
    n.out = 2;
    /* forward: 4 inputs, 3 + 5 activations, 2 outputs; backward: the sigmoids and the
     * output gradients of each layer (3 + 5 + 2) and two buffers of the widest (5) */
    ck_assert_uint_eq((size_t) mf_budget_row_floats(&n, false), 14);
    ck_assert_uint_eq((size_t) mf_budget_row_floats(&n, true), 4 + 3 * 8 + 2 * 5 + 2 * 2);
    char buf[96];
    mf_budget_describe(&n, buf, sizeof buf);
    ck_assert_str_eq(buf, "a network of 3, 5 on 4 inputs");
    mf_budget_net m = mf_budget_mlp_of(&moons);
    mf_budget_describe(&m, buf, sizeof buf);
    ck_assert_str_eq(buf, "a network of 3 x 256 on 66 inputs");
    mf_budget_describe(&m, buf, 8); /* cut, terminated */
    ck_assert_str_eq(buf, "a netwo");
}

END_TEST

/* ---- the check ---------------------------------------------------------------------- */

START_TEST(test_cost_check)
{
    mf_req_limits lim = mf_req_limits_default();
    lim.max_model_params = 1000;
    lim.max_job_bytes = 1 << 20;
    lim.max_job_flops = 1e9;
    mf_budget_net n = mf_budget_mlp_of(&moons);
    mf_job_cost c = {0};
    mf_cost_model(&c, 1000, "/params/hidden", &n);
    mf_cost_mem(&c, "/params/a", "part a", 0.25 * (1 << 20));
    mf_cost_mem(&c, "/params/b", "part b", 0.75 * (1 << 20));
    mf_cost_flops(&c, "/params/steps", "the steps", 1e9);
    mf_diag d = {0};
    ck_assert_int_eq(mf_job_cost_check(&c, &lim, NULL, &d), MF_OK); /* every budget met exactly */
    ck_assert_double_eq_tol(mf_cost_total(c.mem, c.n_mem), 1 << 20, 1e-6);

    c.params = 1500;
    assert_refused(mf_job_cost_check(&c, &lim, NULL, &d), &d, "/params/hidden",
                   "\"/params/hidden\": a network of 3 x 256 on 66 inputs has 1.5k parameters; "
                   "the budget is 1k");
    c.params = 1000;
    mf_cost_mem(&c, "/params/c", "part c", 0.5 * (1 << 20));
    assert_refused(mf_job_cost_check(&c, &lim, NULL, &d), &d, "/params/b",
                   "memory estimate is 1.5 MiB, over the budget of 1 MiB (the largest part, "
                   "768 KiB, is part b)");
    c.n_mem = 2;
    mf_cost_flops(&c, "/params/n", "the samples", 2e9);
    assert_refused(mf_job_cost_check(&c, &lim, NULL, &d), &d, "/params/n",
                   "compute estimate is 3 GFLOP, over the budget of 1 GFLOP (the largest part, "
                   "2 GFLOP, is the samples)");
}

END_TEST

/* ---- every job type ----------------------------------------------------------------- */

START_TEST(test_train_budget)
{
    /* the oversized train job of issue 14: hidden 8 x 8192 */
    const char *body = "{\"type\":\"train\",\"params\":{\"dataset\":\"two_moons\",\"hidden\":[8192,"
                       "8192,8192,8192,8192,8192,8192,8192]}}";
    mf_req_limits lim = mf_req_limits_default();
    mf_job_req j;
    mf_diag d = {0};
    assert_refused(mf_req_decode_job(body, strlen(body), &lim, &j, &d), &d, "/params/hidden",
                   "a network of 8 x 8192 on 66 inputs has 470M parameters; the budget is 16M");
    /* within the parameters, over the memory (an upload's columns: checked at prepare) */
    j = decode("{\"type\":\"train\",\"params\":{\"dataset\":\"up\",\"hidden\":[2048,2048,2048],"
               "\"batch\":4096}}");
    ck_assert_int_eq(mf_train_check_budget(j.params, 64, &lim, NULL, &d), MF_OK);
    lim.max_job_bytes = 256 << 20;
    assert_refused(mf_train_check_budget(j.params, 64, &lim, NULL, &d), &d, "/params/batch",
                   "a batch's activations");
    mf_job_req_done(&j);
}

END_TEST

START_TEST(test_finetune_budgets)
{
    mf_req_limits lim = mf_req_limits_default();
    mf_diag d = {0};
    /* smeme: the trajectories' states of 1024 x 1000 steps of 64-D: 786 MB */
    mf_job_req j = decode("{\"type\":\"finetune.smeme\",\"model\":\"m\",\"params\":"
                          "{\"trajectories\":1024,\"steps\":1000}}");
    lim.max_job_bytes = 512 << 20;
    assert_refused(mf_smeme_check_budget(j.params, &digits, &lim, NULL, &d), &d, "/params/trajectories",
                   "the trajectories' states and adjoints");
    mf_job_req_done(&j);
    j = decode("{\"type\":\"finetune.smeme\",\"model\":\"m\",\"params\":{\"rounds\":100000,"
               "\"K\":16}}");
    assert_refused(mf_smeme_check_budget(j.params, &digits, &lim, NULL, &d), &d, "/params/rounds",
                   "over the budget of 10 PFLOP");
    mf_job_req_done(&j);

    /* reward: a million 1024-column rows (8.2 GB); a ridge model on 4096 columns */
    j = decode("{\"type\":\"finetune.reward\",\"params\":{\"dataset\":\"up\"}}");
    lim = mf_req_limits_default();
    assert_refused(mf_reward_check_budget(j.params, NULL, 1024, 1000000, &lim, NULL, &d), &d,
                   "/params/dataset", "the training rows");
    lim.max_job_bytes = 128 << 20;
    assert_refused(mf_reward_check_budget(j.params, NULL, 4096, 1000, &lim, NULL, &d), &d,
                   "/params/reward_model", "the ridge reward model's matrices");
    mf_job_req_done(&j);

    /* dxmi: a batch of 65536 rollouts of 64 steps in 64-D (2.3 GB) */
    j = decode("{\"type\":\"finetune.dxmi\",\"model\":\"m\",\"params\":{\"batch\":4096,"
               "\"steps\":64,\"iters\":10}}");
    mf_dxmi_req *x = j.params;
    x->o.batch = 65536; /* above max_batch: an operator's larger limit */
    lim = mf_req_limits_default();
    assert_refused(mf_dxmi_check_budget(x, &digits, 65536, &lim, NULL, &d), &d, "/params/batch",
                   "a batch's rollout and activations");
    /* its energy network is the larger part of the model it makes */
    mf_job_req_done(&j);
    j = decode("{\"type\":\"finetune.dxmi\",\"model\":\"m\",\"params\":{\"energy_hidden\":[1024,"
               "1024,1024,1024],\"steps\":5,\"batch\":128,\"iters\":10}}");
    lim.max_model_params = 2000000;
    assert_refused(mf_dxmi_check_budget(j.params, &moons, 65536, &lim, NULL, &d), &d,
                   "/params/energy_hidden", "a network of 4 x 1024 on 2 inputs has");
    mf_job_req_done(&j);

    /* sample: 10000 samples of 8192-D with their metrics (983 MB) */
    j = decode("{\"type\":\"sample\",\"model\":\"m\",\"params\":{\"n\":10000}}");
    mf_mlp_config wide = {.data_dim = 8192, .emb_dim = 2, .n_hidden = 1, .hidden = {8}};
    lim = mf_req_limits_default();
    lim.max_job_bytes = 512 << 20;
    assert_refused(mf_sample_check_budget(j.params, &wide, 100, 1024, &lim, NULL, &d), &d, "/params/n",
                   "the samples and their metrics");
    mf_job_req_done(&j);
}

END_TEST

/* Every job type's defaults, on the shipped shapes, with 25x the memory and 100x the
 * compute to spare: the budgets stop runaway jobs, not the ones the docs show. */
START_TEST(test_defaults_within_budgets)
{
    mf_req_limits lim = mf_req_limits_default();
    lim.max_job_bytes /= 25;
    lim.max_job_flops /= 100;
    const mf_mlp_config *shapes[] = {&moons, &digits};
    for (size_t i = 0; i < 2; i++) {
        const mf_mlp_config *cfg = shapes[i];
        mf_diag d = {0};
        mf_job_req j = decode(i == 0 ? "{\"type\":\"train\",\"params\":{\"dataset\":\"two_moons\"}}"
                                     : "{\"type\":\"train\",\"params\":{\"dataset\":\"digits\"}}");
        ck_assert_int_eq(mf_train_check_budget(j.params, cfg->data_dim, &lim, NULL, &d), MF_OK);
        mf_job_req_done(&j);
        j = decode("{\"type\":\"finetune.smeme\",\"model\":\"m\"}");
        ck_assert_int_eq(mf_smeme_check_budget(j.params, cfg, &lim, NULL, &d), MF_OK);
        mf_job_req_done(&j);
        j = decode(
            "{\"type\":\"finetune.reward\",\"model\":\"m\",\"params\":{\"dataset\":\"ring\"}}");
        ck_assert_int_eq(mf_reward_check_budget(j.params, cfg, cfg->data_dim, 17384, &lim, NULL, &d),
                         MF_OK);
        mf_job_req_done(&j);
        j = decode(i == 0 ? "{\"type\":\"finetune.dxmi\",\"model\":\"m\",\"params\":{\"steps\":5,"
                            "\"batch\":512,\"iters\":4000}}"
                          : "{\"type\":\"finetune.dxmi\",\"model\":\"m\",\"params\":{\"steps\":10,"
                            "\"batch\":128,\"iters\":1200}}");
        ck_assert_int_eq(mf_dxmi_check_budget(j.params, cfg, 65536, &lim, NULL, &d), MF_OK);
        mf_job_req_done(&j);
        j = decode("{\"type\":\"sample\",\"model\":\"m\",\"params\":{\"n\":1000}}");
        ck_assert_int_eq(mf_sample_check_budget(j.params, cfg, 1000, 1024, &lim, NULL, &d), MF_OK);
        mf_job_req_done(&j);
    }
}

END_TEST

static Suite *job_budget_suite(void)
{
    Suite *s = suite_create("job_budget");
    TCase *tc = tcase_create("sizes");
    tcase_add_test(tc, test_params_match_core);
    tcase_add_test(tc, test_row_floats_and_description);
    tcase_add_test(tc, test_cost_check);
    suite_add_tcase(s, tc);
    tc = tcase_create("job_types");
    tcase_add_test(tc, test_train_budget);
    tcase_add_test(tc, test_finetune_budgets);
    tcase_add_test(tc, test_defaults_within_budgets);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(job_budget_suite)
