/* SPDX-License-Identifier: MIT */
/*
 * Tests of core/train.c.
 * Oracle: for Gaussian data N(0, s^2 I) the best possible DSM loss is known in
 * closed form.  With eps* the exact conditional mean E[eps | x_t], the residual
 * per dimension at timestep t is 1 - (1 - ab)/(ab s^2 + 1 - ab) = ab s^2/(ab s^2 + 1 - ab),
 * so L* = mean_t ab_t s^2 / (ab_t s^2 + 1 - ab_t).  A short training run must
 * bring the held-out loss from its initial value down to near L*, and never
 * meaningfully below it.
 */
#include "train.h"

#include "rng.h"
#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S 0.5f

static const mf_mlp_config cfg = {.data_dim = 2, .emb_dim = 16, .n_hidden = 2, .hidden = {64, 64}};

static void gaussian_batch(uint64_t draw, float *x, size_t n)
{
    mf_rng_normal(mf_rng_derive(mf_rng_make(77), draw), 0, x, n * 2);
    for (size_t j = 0; j < n * 2; j++) {
        x[j] *= S;
    }
}

START_TEST(test_heldout_loss_falls_to_optimum)
{
    mf_schedule s;
    ck_assert_int_eq(mf_schedule_init(&s, "linear:0.0001:0.02:1000", NULL), MF_OK);
    double lstar = 0;
    for (size_t t = 0; t < s.T; t++) {
        double ab = s.alpha_bar[t];
        lstar += ab * S * S / (ab * S * S + 1 - ab);
    }
    lstar /= (double) s.T;

    mf_mlp *net;
    ck_assert_int_eq(mf_mlp_new(&cfg, &net), MF_OK);
    mf_mlp_init_params(net, 1);
    mf_train_opts o = mf_train_opts_default();
    o.batch = 256;
    o.n_steps = 1500;
    o.warmup = 100;
    o.lr = 2e-3f;
    o.ema_decay = 0.99f;
    mf_trainer *tr;
    ck_assert_int_eq(mf_trainer_new(net, &s, &o, &tr), MF_OK);

    enum { NH = 8192 };
    float *held = malloc(NH * 2 * sizeof(float)), *batch = malloc(o.batch * 2 * sizeof(float));
    gaussian_batch(999999, held, NH);
    mf_mlp_ws *ws;
    ck_assert_int_eq(mf_mlp_ws_new(net, 1024, false, &ws), MF_OK);
    double l0 = mf_dsm_loss(net, ws, &s, held, NULL, NH, 5);
    double first_batch_loss = 0;
    for (size_t k = 0; k < o.n_steps; k++) {
        gaussian_batch(k, batch, o.batch);
        double loss, gn;
        mf_trainer_step(tr, batch, NULL, &loss, &gn);
        ck_assert(isfinite(loss) && isfinite(gn));
        if (k == 0) {
            first_batch_loss = loss;
        }
    }
    ck_assert_uint_eq(mf_trainer_n_done(tr), o.n_steps);
    double l1 = mf_dsm_loss(mf_trainer_ema(tr), ws, &s, held, NULL, NH, 5);
    /* held-out loss s.e. with 16384 terms is about 0.004 */
    ck_assert_msg(l1 < l0 - 0.2, "held-out loss %g -> %g did not fall", l0, l1);
    ck_assert_msg(l1 > lstar - 0.015 && l1 < lstar + 0.04, "held-out %g vs optimum %g", l1, lstar);
    ck_assert(fabs(first_batch_loss - l0) < 0.3); /* same quantity, different draws */
    /* deterministic evaluation */
    ck_assert_double_eq(mf_dsm_loss(mf_trainer_ema(tr), ws, &s, held, NULL, NH, 5), l1);

    mf_mlp_ws_free(ws);
    mf_trainer_free(tr);
    mf_mlp_free(net);
    free(held);
    free(batch);
    mf_schedule_deinit(&s);
}
END_TEST

START_TEST(test_deterministic_by_seed)
{
    mf_schedule s;
    ck_assert_int_eq(mf_schedule_init(&s, "linear:0.0001:0.02:1000", NULL), MF_OK);
    float *params[3];
    for (int run = 0; run < 3; run++) {
        mf_mlp *net;
        ck_assert_int_eq(mf_mlp_new(&cfg, &net), MF_OK);
        mf_mlp_init_params(net, 4);
        mf_train_opts o = mf_train_opts_default();
        o.batch = 64;
        o.n_steps = 30;
        o.seed = run == 2 ? 8 : 7;
        mf_trainer *tr;
        ck_assert_int_eq(mf_trainer_new(net, &s, &o, &tr), MF_OK);
        float batch[128];
        for (size_t k = 0; k < o.n_steps; k++) {
            gaussian_batch(k, batch, 64);
            mf_trainer_step(tr, batch, NULL, NULL, NULL);
        }
        params[run] = malloc(net->n_params * sizeof(float));
        memcpy(params[run], net->params, net->n_params * sizeof(float));
        size_t n = net->n_params;
        mf_trainer_free(tr);
        mf_mlp_free(net);
        if (run == 2) {
            ck_assert_mem_eq(params[0], params[1], n * sizeof(float));
            ck_assert(memcmp(params[0], params[2], n * sizeof(float)) != 0);
        }
    }
    for (int run = 0; run < 3; run++) {
        free(params[run]);
    }
    mf_schedule_deinit(&s);
}
END_TEST

START_TEST(test_shards_match_serial)
{
    /* Three shards (uneven: 22/21/21 rows of 64) and a three-part optimiser step
     * against the serial step: same noise, same timesteps, so the only difference
     * is float summation order. */
    mf_schedule s;
    ck_assert_int_eq(mf_schedule_init(&s, "linear:0.0001:0.02:1000", NULL), MF_OK);
    mf_mlp *net[2];
    mf_trainer *tr[2];
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(mf_mlp_new(&cfg, &net[k]), MF_OK);
        mf_mlp_init_params(net[k], 4);
        mf_train_opts o = mf_train_opts_default();
        o.batch = 64;
        o.n_shards = k == 0 ? 1 : 3;
        ck_assert_int_eq(mf_trainer_new(net[k], &s, &o, &tr[k]), MF_OK);
        ck_assert_uint_eq(mf_trainer_n_shards(tr[k]), o.n_shards);
    }
    float batch[128];
    for (size_t step = 0; step < 25; step++) {
        gaussian_batch(step, batch, 64);
        double l0, l1, g0, g1;
        mf_trainer_step(tr[0], batch, NULL, &l0, &g0);
        mf_trainer_begin_step(tr[1], batch, NULL);
        for (size_t sh = 3; sh-- > 0;) { /* any order */
            mf_trainer_shard_grad(tr[1], sh);
        }
        /* the optimiser step in three parts (any order within a phase) */
        for (size_t part = 3; part-- > 0;) {
            mf_trainer_grad_part(tr[1], part, 3);
        }
        mf_trainer_finish_reduce(tr[1], 3);
        for (size_t part = 0; part < 3; part++) {
            mf_trainer_update_part(tr[1], part, 3);
        }
        mf_trainer_finish_step(tr[1], &l1, &g1);
        ck_assert_double_eq_tol(l0, l1, 1e-6 * l0);
        ck_assert_double_eq_tol(g0, g1, 1e-5 * g0);
    }
    for (size_t i = 0; i < net[0]->n_params; i++) {
        ck_assert_msg(fabsf(net[0]->params[i] - net[1]->params[i]) < 1e-4f, "param %zu: %g vs %g",
                      i, net[0]->params[i], net[1]->params[i]);
    }
    for (int k = 0; k < 2; k++) {
        mf_trainer_free(tr[k]);
        mf_mlp_free(net[k]);
    }
    mf_schedule_deinit(&s);
}
END_TEST

START_TEST(test_bad_options)
{
    mf_schedule s;
    ck_assert_int_eq(mf_schedule_init(&s, "linear:0.0001:0.02:1000", NULL), MF_OK);
    mf_mlp *net;
    ck_assert_int_eq(mf_mlp_new(&cfg, &net), MF_OK);
    mf_trainer *tr = NULL;
    mf_train_opts o = mf_train_opts_default();
    o.batch = 0;
    ck_assert_int_eq(mf_trainer_new(net, &s, &o, &tr), MF_EINVAL);
    o = mf_train_opts_default();
    o.lr = -1;
    ck_assert_int_eq(mf_trainer_new(net, &s, &o, &tr), MF_EINVAL);
    o = mf_train_opts_default();
    o.ema_decay = 1.0f;
    ck_assert_int_eq(mf_trainer_new(net, &s, &o, &tr), MF_EINVAL);
    o = mf_train_opts_default();
    o.batch = SIZE_MAX / 2;
    ck_assert_int_eq(mf_trainer_new(net, &s, &o, &tr), MF_ERANGE);
    o = mf_train_opts_default();
    o.n_shards = 0;
    ck_assert_int_eq(mf_trainer_new(net, &s, &o, &tr), MF_EINVAL);
    o.batch = 4;
    o.n_shards = 5; /* more shards than rows */
    ck_assert_int_eq(mf_trainer_new(net, &s, &o, &tr), MF_EINVAL);
    ck_assert_ptr_null(tr);
    mf_mlp_free(net);
    mf_schedule_deinit(&s);
}
END_TEST

static Suite *train_suite(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("dsm");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_heldout_loss_falls_to_optimum);
    tcase_add_test(tc, test_deterministic_by_seed);
    tcase_add_test(tc, test_shards_match_serial);
    tcase_add_test(tc, test_bad_options);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(train_suite)
