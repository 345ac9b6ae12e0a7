/* SPDX-License-Identifier: MIT */
/*
 * Tests of server/par.c: every index runs exactly once on teams of any size,
 * parallel sampling is bitwise equal to serial sampling (the batch-split
 * invariance of core/sampler.h), and a parallel training step equals the
 * serial one up to float summation order.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bf16_linear.h"
#include "cpu.h"
#include "evaluate.h"
#include "model_file.h"
#include "par.h"
#include "rng.h"
#include "test_util.h"

typedef struct count_ctx {
    atomic_int hits[1000];
} count_ctx;

static void count(void *ctx, size_t i)
{
    count_ctx *c = ctx;
    atomic_fetch_add(&c->hits[i], 1);
}

START_TEST(test_for_covers_every_index_once)
{
    static const size_t sizes[] = {1, 2, 3, 7};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        mf_par *p;
        ck_assert_int_eq(mf_par_new(sizes[k], &p), MF_OK);
        ck_assert_uint_eq(mf_par_size(p), sizes[k]);
        for (size_t n = 0; n <= 1000; n += 111) {
            count_ctx *c = calloc(1, sizeof *c);
            for (int rep = 0; rep < 3; rep++) { /* reuse across generations */
                mf_par_for(p, n, count, c);
            }
            for (size_t i = 0; i < 1000; i++) {
                ck_assert_int_eq(atomic_load(&c->hits[i]), i < n ? 3 : 0);
            }
            free(c);
        }
        mf_par_free(p);
    }
    mf_par *p = NULL;
    ck_assert_int_eq(mf_par_new(0, &p), MF_EINVAL);
    ck_assert_ptr_null(p);
    mf_par_free(NULL);
}

END_TEST

static const mf_mlp_config cfg = {.data_dim = 2, .emb_dim = 8, .n_hidden = 2, .hidden = {32, 32}};

START_TEST(test_sample_equals_serial)
{
    mf_schedule s;
    ck_assert_int_eq(mf_schedule_init(&s, "linear:0.0001:0.02:1000", NULL), MF_OK);
    mf_mlp *net;
    ck_assert_int_eq(mf_mlp_new(&cfg, &net), MF_OK);
    mf_mlp_init_params(net, 9);

    enum {
        N = 333
    };

    float *a = malloc(N * 2 * sizeof(float)), *b = malloc(N * 2 * sizeof(float));
    mf_mlp_ws *ws;
    ck_assert_int_eq(mf_mlp_ws_new(net, N, false, &ws), MF_OK);
    mf_mlp_eps_ctx ec = {.net = net, .ws = ws};
    mf_eps_fn fn = {.eval = mf_mlp_eps_eval, .ctx = &ec};
    for (int kind = 0; kind < 3; kind++) {
        mf_sampler_opts o = {
            .kind = (mf_sampler_kind) kind, .steps = 12, .eta = 0.5f, .seed = 4, .first_index = 17};
        ck_assert_int_eq(mf_sample(&s, fn, &o, a, N, 2), MF_OK);
        for (size_t team = 1; team <= 4; team++) {
            mf_par *p;
            ck_assert_int_eq(mf_par_new(team, &p), MF_OK);
            memset(b, 0, N * 2 * sizeof(float));
            ck_assert_int_eq(mf_par_sample(p, net, &s, &o, b, N), MF_OK);
            ck_assert_mem_eq(a, b, N * 2 * sizeof(float));
            mf_par_free(p);
        }
    }
    /* Batched requests (segments): the team's chunks cut through segments. */
    const mf_sample_seg segs[3] = {{.rows = 100, .seed = 1, .first_index = 0},
                                   {.rows = 33, .seed = 2, .first_index = 7},
                                   {.rows = 200, .seed = 3, .first_index = 0}};
    mf_sampler_opts so = {.kind = MF_SAMPLER_DDIM, .steps = 12, .segs = segs, .n_segs = 3};
    ck_assert_int_eq(mf_sample(&s, fn, &so, a, N, 2), MF_OK);
    for (size_t team = 2; team <= 3; team++) {
        mf_par *p;
        ck_assert_int_eq(mf_par_new(team, &p), MF_OK);
        ck_assert_int_eq(mf_par_sample(p, net, &s, &so, b, N), MF_OK);
        ck_assert_mem_eq(a, b, N * 2 * sizeof(float));
        ck_assert_int_eq(mf_par_sample(p, net, &s, &so, b, N - 1), MF_EINVAL);
        mf_par_free(p);
    }
    /* A request small enough for the frozen small-batch kernel: same noise, values equal
     * to float rounding (the kernel sums in another order than sgemm). */
    mf_sampler_opts small = {.kind = MF_SAMPLER_DDPM, .steps = 30, .seed = 5};
    const mf_mlp_config c64 = {.data_dim = 2, .emb_dim = 8, .n_hidden = 3, .hidden = {64, 64, 64}};
    mf_mlp *net64;
    ck_assert_int_eq(mf_mlp_new(&c64, &net64), MF_OK);
    mf_mlp_init_params(net64, 3);
    mf_mlp_ws *ws64;
    ck_assert_int_eq(mf_mlp_ws_new(net64, 20, false, &ws64), MF_OK);
    mf_mlp_eps_ctx ec64 = {.net = net64, .ws = ws64};
    mf_eps_fn fn64 = {.eval = mf_mlp_eps_eval, .ctx = &ec64};
    ck_assert_int_eq(mf_sample(&s, fn64, &small, a, 20, 2), MF_OK);
    {
        mf_par *p2;
        ck_assert_int_eq(mf_par_new(2, &p2), MF_OK);
        ck_assert_int_eq(mf_par_sample(p2, net64, &s, &small, b, 20), MF_OK);
        for (size_t i = 0; i < 40; i++) {
            ck_assert_msg(fabsf(a[i] - b[i]) <= 1e-4f * (1.0f + fabsf(a[i])), "%zu: %g vs %g", i,
                          a[i], b[i]);
        }
        mf_par_free(p2);
    }
    mf_mlp_ws_free(ws64);
    mf_mlp_free(net64);

    mf_sampler_opts bad = {.kind = MF_SAMPLER_DDIM, .steps = 0};
    mf_par *p;
    ck_assert_int_eq(mf_par_new(2, &p), MF_OK);
    ck_assert_int_eq(mf_par_sample(p, net, &s, &bad, b, N), MF_EINVAL);
    mf_par_free(p);
    mf_mlp_ws_free(ws);
    mf_mlp_free(net);
    free(a);
    free(b);
    mf_schedule_deinit(&s);
}

END_TEST

/*
 * Guided sampling on the team: every mode, a batch whose rows carry different
 * conditions and targets, equals one serial mf_guide_sample call bitwise (chunks of
 * more than MF_MLP_SMALL_BATCH rows), also through segments and the executor.
 */
START_TEST(test_sample_guided_equals_serial)
{
    mf_schedule s;
    ck_assert_int_eq(mf_schedule_init(&s, "linear:0.0001:0.02:1000", NULL), MF_OK);
    const mf_mlp_config cc = {
        .data_dim = 3, .cond_dim = 2, .emb_dim = 8, .n_hidden = 2, .hidden = {32, 32}};
    mf_mlp *net;
    ck_assert_int_eq(mf_mlp_new(&cc, &net), MF_OK);
    mf_mlp_init_params(net, 12);
    size_t h = 4;
    mf_reward_model *r = NULL;
    ck_assert_int_eq(mf_reward_new(MF_REWARD_MLP, 3, &h, 1, &r), MF_OK);
    mf_rng_normal(mf_rng_make(2), 0, r->params, r->n_params);

    enum {
        N = 301
    };

    float *a = malloc(N * 3 * sizeof(float)), *b = malloc(N * 3 * sizeof(float));
    float *cond = malloc(N * 2 * sizeof(float)), target[N];
    for (size_t i = 0; i < N; i++) { /* three requests of different targets in one batch */
        target[i] = i < 100 ? -1.0f : (i < 200 ? 0.5f : 2.0f);
        cond[2 * i] = target[i] / 1.5f;
        cond[2 * i + 1] = 1.0f;
    }
    for (int mode = 0; mode < 3; mode++) {
        mf_guide g = {.mode = (mf_guide_mode) mode,
                      .w = 0.8f,
                      .C = 2,
                      .cond = cond,
                      .target = target,
                      .reward = r,
                      .data_offset = 0.5,
                      .data_scale = 1.5};
        mf_sampler_opts o = {.kind = (mf_sampler_kind) mode, .steps = 10, .eta = 0.3f, .seed = 6};
        ck_assert_int_eq(mf_guide_sample(net, &s, &o, &g, a, N), MF_OK);
        for (size_t team = 1; team <= 4; team++) {
            mf_par *p;
            ck_assert_int_eq(mf_par_new(team, &p), MF_OK);
            memset(b, 0, N * 3 * sizeof(float));
            ck_assert_int_eq(mf_par_sample_guided(p, net, &s, &o, &g, b, N), MF_OK);
            ck_assert_msg(memcmp(a, b, N * 3 * sizeof(float)) == 0, "mode %d team %zu", mode, team);
            mf_guide_exec ex = mf_par_guide_exec(p);
            memset(b, 0, N * 3 * sizeof(float));
            ck_assert_int_eq(mf_guide_exec_sample(&ex, net, &s, &o, &g, b, N), MF_OK);
            ck_assert_mem_eq(a, b, N * 3 * sizeof(float));
            mf_par_free(p);
        }
    }
    /* Segments: each request's rows keep their own noise. */
    const mf_sample_seg segs[2] = {{.rows = 150, .seed = 1}, {.rows = 151, .seed = 2}};
    mf_guide g = {.mode = MF_GUIDE_REWARD,
                  .w = 0.5f,
                  .C = 2,
                  .cond = cond,
                  .target = target,
                  .reward = r,
                  .data_scale = 1.0};
    mf_sampler_opts so = {.kind = MF_SAMPLER_DDPM, .steps = 10, .segs = segs, .n_segs = 2};
    ck_assert_int_eq(mf_guide_sample(net, &s, &so, &g, a, N), MF_OK);
    mf_par *p;
    ck_assert_int_eq(mf_par_new(3, &p), MF_OK);
    ck_assert_int_eq(mf_par_sample_guided(p, net, &s, &so, &g, b, N), MF_OK);
    ck_assert_mem_eq(a, b, N * 3 * sizeof(float));
    /* Errors: a conditional net needs a guide; a guide must fit the net. */
    ck_assert_int_eq(mf_par_sample(p, net, &s, &so, b, N), MF_EINVAL);
    g.C = 1;
    ck_assert_int_eq(mf_par_sample_guided(p, net, &s, &so, &g, b, N), MF_EINVAL);
    mf_par_free(p);
    mf_reward_free(r);
    mf_mlp_free(net);
    free(a);
    free(b);
    free(cond);
    mf_schedule_deinit(&s);
}

END_TEST

/* PF-ODE log-densities on the team equal one serial call (rows are independent). */
START_TEST(test_ode_logp_equals_serial)
{
    mf_schedule s;
    ck_assert_int_eq(mf_schedule_init(&s, "linear:0.0001:0.02:1000", NULL), MF_OK);
    mf_mlp *net;
    ck_assert_int_eq(mf_mlp_new(&cfg, &net), MF_OK);
    mf_mlp_init_params(net, 5);

    enum {
        N = 200
    };

    float *x = malloc(N * 2 * sizeof(float)), *y = malloc(N * 2 * sizeof(float));
    double lp[N], lq[N];
    ck_assert(x != NULL && y != NULL);
    mf_mlp_div_ctx dc;
    ck_assert_int_eq(mf_mlp_div_ctx_init(&dc, net, N), MF_OK);
    mf_eps_div_fn fn = {.eval = mf_mlp_eps_div_eval, .ctx = &dc};
    for (int sample = 0; sample < 2; sample++) {
        mf_ode_lik_opts o = {.steps = 8,
                             .div = sample ? MF_DIV_HUTCHINSON : MF_DIV_EXACT,
                             .seed = 3,
                             .first_index = 5};
        mf_rng_normal(mf_rng_make(1), 0, x, N * 2);
        memcpy(y, x, N * 2 * sizeof(float));
        ck_assert_int_eq(sample ? mf_ode_sample_logp(&s, fn, &o, x, N, 2, lp)
                                : mf_ode_loglik(&s, fn, &o, x, N, 2, lp),
                         MF_OK);
        for (size_t team = 1; team <= 3; team++) {
            mf_par *p;
            ck_assert_int_eq(mf_par_new(team, &p), MF_OK);
            float *z = malloc(N * 2 * sizeof(float));
            ck_assert_ptr_nonnull(z);
            memcpy(z, y, N * 2 * sizeof(float));
            ck_assert_int_eq(mf_par_ode_logp(p, net, &s, &o, sample != 0, z, N, lq), MF_OK);
            for (size_t i = 0; i < N; i++) {
                /* Chunks have fewer rows than the serial call: sgemm may sum in another
                 * order, so equality to float rounding, not bitwise. */
                ck_assert_msg(fabs(lq[i] - lp[i]) <= 1e-4 * (1.0 + fabs(lp[i])),
                              "team %zu row %zu: %.9g vs %.9g", team, i, lq[i], lp[i]);
            }
            if (sample) {
                for (size_t j = 0; j < N * 2; j++) {
                    ck_assert(fabs(z[j] - x[j]) <= 1e-4 * (1.0 + fabs(x[j])));
                }
            }
            free(z);
            mf_par_free(p);
        }
    }
    mf_mlp_div_ctx_deinit(&dc);
    mf_mlp_free(net);
    mf_schedule_deinit(&s);
    free(x);
    free(y);
}

END_TEST

/* core/evaluate.h through the team (mf_par_eval_exec) and on the calling thread: the same
 * samples and log-densities, to float rounding. */
START_TEST(test_eval_exec_equals_serial)
{
    mf_model *m;
    mf_diag d = {0};
    ck_assert_int_eq(mf_model_new(&cfg, "linear:0.0001:0.02:1000", &m, &d), MF_OK);
    mf_mlp_init_params(m->net, 9);
    ck_assert_int_eq(mf_model_set_normalisation(m, 0.5, 2.0), MF_OK);

    enum {
        N = 150
    };

    float *x = malloc(N * 2 * sizeof(float)), *y = malloc(N * 2 * sizeof(float));
    double lp[N], lq[N];
    ck_assert(x != NULL && y != NULL);
    ck_assert_int_eq(mf_eval_crn_sample(NULL, m, m->net, 20, 4, NULL, x, N), MF_OK);
    mf_ode_lik_opts o = {.steps = 8, .div = MF_DIV_EXACT, .seed = 3};
    ck_assert_int_eq(mf_eval_logp(NULL, m, &o, x, N, lp), MF_OK);
    for (size_t team = 1; team <= 3; team++) {
        mf_par *p;
        ck_assert_int_eq(mf_par_new(team, &p), MF_OK);
        mf_eval_exec ex = mf_par_eval_exec(p, MF_PRECISION_F32);
        ck_assert_int_eq(mf_eval_crn_sample(&ex, m, m->net, 20, 4, NULL, y, N), MF_OK);
        for (size_t j = 0; j < N * 2; j++) {
            ck_assert_msg(fabsf(y[j] - x[j]) <= 1e-4f * (1.0f + fabsf(x[j])), "team %zu: %g vs %g",
                          team, y[j], x[j]);
        }
        ck_assert_int_eq(mf_eval_logp(&ex, m, &o, x, N, lq), MF_OK);
        for (size_t i = 0; i < N; i++) {
            ck_assert_msg(fabs(lq[i] - lp[i]) <= 1e-4 * (1.0 + fabs(lp[i])), "team %zu row %zu",
                          team, i);
        }
        mf_par_free(p);
    }
    /* bf16 evaluation samples (a job's, at the daemon's --precision): the team's are the
     * calling thread's to bf16's noise (row blocks may pick other kernels), and not the
     * float ones: bf16 ran */
    if (mf_bf16_supported()) {
        float *z = malloc(N * 2 * sizeof(float));
        ck_assert_ptr_nonnull(z);
        mf_eval_exec serial = {.precision = MF_PRECISION_BF16};
        ck_assert_int_eq(mf_eval_crn_sample(&serial, m, m->net, 20, 4, NULL, z, N), MF_OK);
        mf_par *p;
        ck_assert_int_eq(mf_par_new(2, &p), MF_OK);
        mf_eval_exec ex = mf_par_eval_exec(p, MF_PRECISION_BF16);
        ck_assert_int_eq(mf_eval_crn_sample(&ex, m, m->net, 20, 4, NULL, y, N), MF_OK);
        double moved = 0;
        for (size_t j = 0; j < N * 2; j++) {
            ck_assert_msg(fabsf(y[j] - z[j]) <= 1e-2f * (1.0f + fabsf(z[j])), "%g vs %g", y[j],
                          z[j]);
            moved = fmax(moved, fabs((double) z[j] - x[j]));
        }
        ck_assert_msg(moved > 1e-5, "bf16 samples equal the float ones: float ran");
        mf_par_free(p);
        free(z);
    }
    free(x);
    free(y);
    mf_model_free(m);
}

END_TEST

START_TEST(test_train_step_equals_serial)
{
    mf_schedule s;
    ck_assert_int_eq(mf_schedule_init(&s, "linear:0.0001:0.02:1000", NULL), MF_OK);
    mf_mlp *net[2];
    mf_trainer *tr[2];
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(mf_mlp_new(&cfg, &net[k]), MF_OK);
        mf_mlp_init_params(net[k], 2);
        mf_train_opts o = mf_train_opts_default();
        o.batch = 128;
        o.n_shards = k == 0 ? 1 : 2;
        ck_assert_int_eq(mf_trainer_new(net[k], &s, &o, &tr[k]), MF_OK);
    }
    mf_par *p;
    ck_assert_int_eq(mf_par_new(2, &p), MF_OK);
    float x[256];
    for (size_t step = 0; step < 20; step++) {
        mf_rng_normal(mf_rng_make(step), 0, x, 256);
        double l0, l1;
        mf_trainer_step(tr[0], x, NULL, &l0, NULL);
        mf_par_train_step(p, tr[1], x, NULL, &l1, NULL);
        ck_assert_double_eq_tol(l0, l1, 1e-6 * l0);
    }
    for (size_t i = 0; i < net[0]->n_params; i++) {
        ck_assert(fabsf(net[0]->params[i] - net[1]->params[i]) < 1e-4f);
    }
    mf_par_free(p);
    for (int k = 0; k < 2; k++) {
        mf_trainer_free(tr[k]);
        mf_mlp_free(net[k]);
    }
    mf_schedule_deinit(&s);
}

END_TEST

static Suite *par_suite(void)
{
    Suite *s = suite_create("par");
    TCase *tc = tcase_create("team");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_for_covers_every_index_once);
    tcase_add_test(tc, test_sample_equals_serial);
    tcase_add_test(tc, test_sample_guided_equals_serial);
    tcase_add_test(tc, test_train_step_equals_serial);
    tcase_add_test(tc, test_ode_logp_equals_serial);
    tcase_add_test(tc, test_eval_exec_equals_serial);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    mf_cpu_set_blas_threads(1);
    SRunner *sr = srunner_create(par_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
