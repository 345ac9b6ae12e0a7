/* SPDX-License-Identifier: MIT */
/*
 * Tests of core/train_params.c: the defaults; check() names every bad field;
 * begin() builds the architecture, normalisation and initial weights the
 * params ask for, and its trainer takes the same steps as one built by hand
 * from the documented mapping (so a wrong lr, warm-up, EMA, clip or seed
 * shows up as different weights); the shards of a step give the same weights
 * in any order; finish() writes the EMA weights and the metadata; a run on
 * a table takes its dimension, normalisation, batches and name.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "test_util.h"
#include "train_params.h"

/* A small run: quick, and still every part of the mapping matters. */
static mf_train_params small_params(mf_dataset_id id)
{
    mf_train_params p;
    mf_train_params_default(&p);
    p.dataset = id;
    p.hidden[0] = 24;
    p.hidden[1] = 16;
    p.n_hidden = 2;
    p.emb = 8;
    p.steps = 6;
    p.batch = 40;
    p.warmup = 2;
    p.lr = 3e-3;
    p.lr_min = 1e-4;
    p.ema = 0.9;
    p.clip = 0.2;
    p.seed = 11;
    return p;
}

START_TEST(test_defaults)
{
    mf_train_params p;
    memset(&p, 0xab, sizeof p);
    mf_train_params_default(&p);
    ck_assert_int_eq(p.dataset, MF_DATASET_GAUSSIAN);
    ck_assert_uint_eq(p.n_hidden, 3);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_uint_eq(p.hidden[i], 256);
    }
    ck_assert_uint_eq(p.emb, 64);
    ck_assert_str_eq(p.schedule, "linear:0.0001:0.02:1000");
    ck_assert_uint_eq(p.steps, 20000);
    ck_assert_uint_eq(p.batch, 512);
    ck_assert_uint_eq(p.warmup, 500);
    ck_assert(p.lr == 1e-3 && p.lr_min == 1e-5 && p.ema == 0.999 && p.clip == 1.0);
    ck_assert_uint_eq(p.seed, 0);
    ck_assert(!p.dequantise);
    ck_assert(isnan(p.data_offset) && isnan(p.data_scale));
    ck_assert_ptr_null(p.table);
    ck_assert_ptr_null(p.table_name);
    mf_diag d = {0};
    ck_assert_int_eq(mf_train_params_check(&p, &d), MF_OK);
}

END_TEST

/* One bad field each: the error, and the field in diag->field and in the message. */
typedef struct bad_case {
    const char *field;
    mf_err err;
    void (*spoil)(mf_train_params *p);
} bad_case;

static void no_hidden(mf_train_params *p)
{
    p->n_hidden = 0;
}

static void too_deep(mf_train_params *p)
{
    p->n_hidden = MF_MLP_MAX_HIDDEN + 1;
}

static void zero_width(mf_train_params *p)
{
    p->hidden[1] = 0;
}

static void too_wide(mf_train_params *p)
{
    p->hidden[0] = MF_MLP_MAX_WIDTH + 1;
}

static void odd_emb(mf_train_params *p)
{
    p->emb = 7;
}

static void zero_emb(mf_train_params *p)
{
    p->emb = 0;
}

static void bad_schedule(mf_train_params *p)
{
    strcpy(p->schedule, "cubic:1");
}

static void unterminated_schedule(mf_train_params *p)
{
    memset(p->schedule, 'l', sizeof p->schedule);
}

static void zero_steps(mf_train_params *p)
{
    p->steps = 0;
}

static void zero_batch(mf_train_params *p)
{
    p->batch = 0;
}

static void huge_batch(mf_train_params *p)
{
    p->batch = SIZE_MAX / 2 + 1;
} /* x D = 2 overflows */

static void zero_lr(mf_train_params *p)
{
    p->lr = 0.0;
}

static void tiny_lr(mf_train_params *p)
{
    p->lr = 1e-60;
} /* 0 as a float */

static void big_lr(mf_train_params *p)
{
    p->lr = 2.0;
}

static void nan_lr(mf_train_params *p)
{
    p->lr = (double) NAN;
}

static void neg_lr_min(mf_train_params *p)
{
    p->lr_min = -1e-6;
}

static void ema_one(mf_train_params *p)
{
    p->ema = 1.0;
}

static void neg_ema(mf_train_params *p)
{
    p->ema = -0.1;
}

static void neg_clip(mf_train_params *p)
{
    p->clip = -1.0;
}

static void inf_clip(mf_train_params *p)
{
    p->clip = (double) INFINITY;
}

static void deq_ring(mf_train_params *p)
{
    p->dequantise = true;
    p->dataset = MF_DATASET_RING;
}

static void bad_dataset(mf_train_params *p)
{
    p->dataset = (mf_dataset_id) 99;
}

static void inf_offset(mf_train_params *p)
{
    p->data_offset = (double) INFINITY;
}

static void zero_scale(mf_train_params *p)
{
    p->data_scale = 0.0;
}

static void neg_scale(mf_train_params *p)
{
    p->data_scale = -2.0;
}

/* A table for the checks (only its shape is read). */
static float tiny_x[4] = {1, 2, 3, 4};
static double tiny_stat[2] = {0, 1};
static const mf_table tiny_table = {
    .n_rows = 2, .n_dims = 2, .x = tiny_x, .mean = tiny_stat, .std = tiny_stat};

static void table_without_name(mf_train_params *p)
{
    p->table = &tiny_table;
}

static void table_empty_name(mf_train_params *p)
{
    p->table = &tiny_table;
    p->table_name = "";
}

static void table_dequantised(mf_train_params *p)
{
    p->table = &tiny_table;
    p->table_name = "mine";
    p->dataset = MF_DATASET_DIGITS;
    p->dequantise = true;
}

static const bad_case bad_cases[] = {
    {"hidden", MF_EINVAL, no_hidden},
    {"hidden", MF_EINVAL, too_deep},
    {"hidden", MF_EINVAL, zero_width},
    {"hidden", MF_EINVAL, too_wide},
    {"emb", MF_EINVAL, odd_emb},
    {"emb", MF_EINVAL, zero_emb},
    {"schedule", MF_EFORMAT, bad_schedule},
    {"schedule", MF_EINVAL, unterminated_schedule},
    {"steps", MF_EINVAL, zero_steps},
    {"batch", MF_EINVAL, zero_batch},
    {"batch", MF_EINVAL, huge_batch},
    {"lr", MF_EINVAL, zero_lr},
    {"lr", MF_EINVAL, tiny_lr},
    {"lr", MF_EINVAL, big_lr},
    {"lr", MF_EINVAL, nan_lr},
    {"lr_min", MF_EINVAL, neg_lr_min},
    {"ema", MF_EINVAL, ema_one},
    {"ema", MF_EINVAL, neg_ema},
    {"clip", MF_EINVAL, neg_clip},
    {"clip", MF_EINVAL, inf_clip},
    {"dequantise", MF_EINVAL, deq_ring},
    {"dataset", MF_EINVAL, bad_dataset},
    {"dataset", MF_EINVAL, table_without_name},
    {"dataset", MF_EINVAL, table_empty_name},
    {"dequantise", MF_EINVAL, table_dequantised},
    {"data_offset", MF_EINVAL, inf_offset},
    {"data_scale", MF_EINVAL, zero_scale},
    {"data_scale", MF_EINVAL, neg_scale},
};

START_TEST(test_check_names_the_field)
{
    const bad_case *c = &bad_cases[_i];
    mf_train_params p;
    mf_train_params_default(&p);
    c->spoil(&p);
    mf_diag d = {0};
    ck_assert_int_eq(mf_train_params_check(&p, &d), c->err);
    ck_assert_str_eq(d.field, c->field);
    ck_assert_msg(strstr(d.msg, c->field) != NULL, "'%s' does not name %s", d.msg, c->field);
    /* begin refuses the same params and leaves its outputs alone */
    mf_model *m = (mf_model *) &p;
    mf_trainer *tr = (mf_trainer *) &p;
    ck_assert_int_eq(mf_train_params_begin(&p, &m, &tr, NULL), c->err);
    ck_assert_ptr_eq(m, (mf_model *) &p);
    ck_assert_ptr_eq(tr, (mf_trainer *) &p);
}

END_TEST

START_TEST(test_check_accepts_edges)
{
    mf_train_params p = small_params(MF_DATASET_DIGITS);
    p.dequantise = true;
    p.lr = 1.0;
    p.lr_min = 0.0;
    p.ema = 0.0;
    p.clip = 0.0;
    p.data_offset = -3.0;
    p.data_scale = 0.5;
    strcpy(p.schedule, "cosine:0.008:50");
    mf_diag d = {0};
    ck_assert_msg(mf_train_params_check(&p, &d) == MF_OK, "%s", d.msg);
}

END_TEST

START_TEST(test_begin_builds_the_model)
{
    mf_train_params p = small_params(MF_DATASET_DIGITS);
    strcpy(p.schedule, "cosine:0.008:200");
    mf_model *m = NULL;
    mf_trainer *tr = NULL;
    ck_assert_int_eq(mf_train_params_begin(&p, &m, &tr, NULL), MF_OK);
    const mf_mlp_config *c = &m->net->cfg;
    ck_assert_uint_eq(c->data_dim, 64);
    ck_assert_uint_eq(c->cond_dim, 0);
    ck_assert_uint_eq(c->emb_dim, 8);
    ck_assert_uint_eq(c->n_hidden, 2);
    ck_assert_uint_eq(c->hidden[0], 24);
    ck_assert_uint_eq(c->hidden[1], 16);
    ck_assert_uint_eq(m->sched.T, 200);
    ck_assert_str_eq(mf_model_get_meta(m, "schedule"), m->sched.spec);
    /* digits' own normalisation: pixels 0..16 -> [-1, 1] */
    ck_assert(m->data_offset == 8.0 && m->data_scale == 8.0);
    ck_assert_uint_eq(mf_trainer_n_shards(tr), MF_TRAIN_SHARDS);
    /* the initial weights are mf_mlp_init_params(seed)'s */
    mf_mlp *ref = NULL;
    ck_assert_int_eq(mf_mlp_new(c, &ref), MF_OK);
    mf_mlp_init_params(ref, p.seed);
    ck_assert_int_eq(memcmp(ref->params, m->net->params, ref->n_params * sizeof(float)), 0);
    mf_mlp_free(ref);
    mf_trainer_free(tr);
    mf_model_free(m);

    /* given normalisation, rounded to float; fewer rows than shards: one shard per row */
    p = small_params(MF_DATASET_RING);
    p.data_offset = 0.1;
    p.data_scale = 3.0;
    p.batch = 1;
    ck_assert_int_eq(mf_train_params_begin(&p, &m, &tr, NULL), MF_OK);
    ck_assert_uint_eq(m->net->cfg.data_dim, 2);
    ck_assert(m->data_offset == (double) 0.1f && m->data_scale == 3.0);
    ck_assert_uint_eq(mf_trainer_n_shards(tr), 1);
    mf_trainer_free(tr);
    mf_model_free(m);
}

END_TEST

/* The batch of a step: mf_dataset_train_batch with the model's normalisation. */
START_TEST(test_batch)
{
    mf_train_params p = small_params(MF_DATASET_DIGITS);
    p.dequantise = true;
    mf_model *m = NULL;
    mf_trainer *tr = NULL;
    ck_assert_int_eq(mf_train_params_begin(&p, &m, &tr, NULL), MF_OK);
    size_t nd = p.batch * 64;
    float *x = mf_alloc_floats(nd), *want = mf_alloc_floats(nd);
    ck_assert(x != NULL && want != NULL);
    ck_assert_int_eq(mf_train_params_batch(&p, m, 3, x), MF_OK);
    ck_assert_int_eq(
        mf_dataset_train_batch(MF_DATASET_DIGITS, p.seed, 3, p.batch, true, 8.0f, 8.0f, want),
        MF_OK);
    ck_assert_int_eq(memcmp(x, want, nd * sizeof(float)), 0);
    /* dequantised: not on the integer grid (x * 8 + 8 would be whole numbers) */
    size_t off_grid = 0;
    for (size_t j = 0; j < nd; j++) {
        float v = x[j] * 8.0f + 8.0f;
        off_grid += fabsf(v - roundf(v)) > 1e-3f;
    }
    ck_assert_uint_gt(off_grid, nd / 2);
    mf_free_aligned(x);
    mf_free_aligned(want);
    mf_trainer_free(tr);
    mf_model_free(m);
}

END_TEST

/* A run on a table: D, normalisation and batches are the table's, the metadata names it. */
START_TEST(test_table_run)
{
    enum {
        N = 50,
        D = 3
    };

    float *x = malloc(N * D * sizeof *x);
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < N * D; i++) {
        x[i] = (float) (i % 7) + 10.0f * (float) (i % D);
    }
    mf_table *t = NULL;
    ck_assert_int_eq(mf_table_new_take(N, D, x, NULL, &t), MF_OK);
    mf_train_params p = small_params(MF_DATASET_DIGITS); /* ignored with a table */
    p.table = t;
    p.table_name = "my-points";
    mf_model *m = NULL;
    mf_trainer *tr = NULL;
    mf_diag d = {0};
    ck_assert_msg(mf_train_params_begin(&p, &m, &tr, &d) == MF_OK, "%s", d.msg);
    ck_assert_uint_eq(m->net->cfg.data_dim, D);
    float off, scale;
    mf_table_norm(t, &off, &scale);
    ck_assert(m->data_offset == (double) off && m->data_scale == (double) scale);
    ck_assert(off > 10.0f && scale > 1.0f);
    float *got = mf_alloc_floats(p.batch * D), *want = mf_alloc_floats(p.batch * D);
    ck_assert(got != NULL && want != NULL);
    for (size_t k = 0; k < p.steps; k++) {
        ck_assert_int_eq(mf_train_params_batch(&p, m, k, got), MF_OK);
        ck_assert_int_eq(mf_table_train_batch(t, p.seed, k, p.batch, off, scale, want), MF_OK);
        ck_assert_int_eq(memcmp(got, want, p.batch * D * sizeof(float)), 0);
        double loss;
        mf_trainer_step(tr, got, NULL, &loss, NULL);
        ck_assert(isfinite(loss));
    }
    ck_assert_int_eq(mf_train_params_finish(&p, m, tr, NAN, "test", 0, &d), MF_OK);
    ck_assert_str_eq(mf_model_get_meta(m, "dataset"), "my-points");
    ck_assert_str_eq(mf_model_get_meta(m, "dequantised"), "false");
    ck_assert_ptr_null(mf_model_get_meta(m, "heldout_dsm_loss")); /* no held-out loss: none */
    mf_free_aligned(got);
    mf_free_aligned(want);
    mf_trainer_free(tr);
    mf_model_free(m);
    mf_table_free(t);
}

END_TEST

/*
 * A run through begin / batch / step / finish against the same run built by
 * hand from the documented mapping.  The reference steps its shards in
 * reverse order with the optimiser step in one part; the run under test steps
 * them in order (mf_trainer_step): shards write disjoint rows and the
 * parameter gradients are one GEMM over the batch, so the weights must agree
 * bit for bit whatever the order (or the thread) in which shards run.
 */
START_TEST(test_run_matches_the_mapping)
{
    mf_train_params p = small_params(MF_DATASET_TWO_MOONS);
    mf_model *m = NULL;
    mf_trainer *tr = NULL;
    ck_assert_int_eq(mf_train_params_begin(&p, &m, &tr, NULL), MF_OK);

    mf_mlp *net = NULL;
    ck_assert_int_eq(mf_mlp_clone(m->net, &net), MF_OK);
    mf_train_opts o = mf_train_opts_default();
    o.batch = 40;
    o.n_steps = 6;
    o.lr = 3e-3f;
    o.lr_min = 1e-4f;
    o.warmup = 2;
    o.ema_decay = 0.9f;
    o.clip_grad = 0.2;
    o.seed = 11;
    o.n_shards = MF_TRAIN_SHARDS;
    mf_trainer *ref = NULL;
    ck_assert_int_eq(mf_trainer_new(net, &m->sched, &o, &ref), MF_OK);

    float x[40 * 2], xr[40 * 2];
    for (size_t k = 0; k < p.steps; k++) {
        ck_assert_int_eq(mf_train_params_batch(&p, m, k, x), MF_OK);
        ck_assert_int_eq(
            mf_dataset_train_batch(MF_DATASET_TWO_MOONS, 11, k, 40, false, 0.0f, 1.0f, xr), MF_OK);
        double l0, l1, g0, g1;
        mf_trainer_step(tr, x, NULL, &l0, &g0);
        mf_trainer_begin_step(ref, xr, NULL);
        for (size_t s = MF_TRAIN_SHARDS; s-- > 0;) {
            mf_trainer_shard_grad(ref, s);
        }
        mf_trainer_end_step(ref, &l1, &g1);
        ck_assert(l0 == l1 && g0 == g1);
        ck_assert(g0 > p.clip); /* the clip acts: a wrong clip would change the weights */
    }
    ck_assert_int_eq(memcmp(net->params, m->net->params, net->n_params * sizeof(float)), 0);

    mf_diag d = {0};
    ck_assert_int_eq(mf_train_params_finish(&p, m, tr, 0.123456789, "test run", 86400, &d), MF_OK);
    const mf_mlp *ema = mf_trainer_ema(ref);
    ck_assert_int_eq(memcmp(ema->params, m->net->params, ema->n_params * sizeof(float)), 0);
    ck_assert_int_ne(memcmp(ema->params, net->params, ema->n_params * sizeof(float)), 0);
    ck_assert_str_eq(mf_model_get_meta(m, "dataset"), "two_moons");
    ck_assert_str_eq(mf_model_get_meta(m, "parent"), "");
    ck_assert_str_eq(mf_model_get_meta(m, "dequantised"), "false");
    ck_assert_str_eq(mf_model_get_meta(m, "created"), "1970-01-02T00:00:00Z");
    ck_assert_str_eq(mf_model_get_meta(m, "provenance"), "test run");
    ck_assert_str_eq(mf_model_get_meta(m, "heldout_dsm_loss"), "0.123457");
    ck_assert_str_eq(mf_model_get_meta(m, "data_offset"), "0");
    ck_assert_str_eq(mf_model_get_meta(m, "data_scale"), "1");
    ck_assert_int_eq(mf_train_params_finish(&p, m, tr, NAN, NULL, 0, &d), MF_EINVAL);
    ck_assert_str_eq(d.field, "provenance");

    mf_trainer_free(ref);
    mf_mlp_free(net);
    mf_trainer_free(tr);
    mf_model_free(m);
}

END_TEST

/*
 * The optimiser step split over the parameters, as a team of another size
 * splits it (mf_par_train_step: one part per thread): the weights agree to
 * float rounding; only the order in which the parts' squared norms are added
 * for the clip differs.
 */
START_TEST(test_parts_agree)
{
    mf_train_params p = small_params(MF_DATASET_SWISS_ROLL);
    mf_model *m[2] = {NULL, NULL};
    mf_trainer *tr[2] = {NULL, NULL};
    for (int r = 0; r < 2; r++) {
        ck_assert_int_eq(mf_train_params_begin(&p, &m[r], &tr[r], NULL), MF_OK);
    }
    float x[40 * 2];
    for (size_t k = 0; k < p.steps; k++) {
        ck_assert_int_eq(mf_train_params_batch(&p, m[0], k, x), MF_OK);
        for (int r = 0; r < 2; r++) {
            size_t parts = r == 0 ? 1 : 3;
            mf_trainer_begin_step(tr[r], x, NULL);
            for (size_t s = 0; s < mf_trainer_n_shards(tr[r]); s++) {
                mf_trainer_shard_grad(tr[r], s);
            }
            for (size_t q = 0; q < parts; q++) {
                mf_trainer_grad_part(tr[r], q, parts);
            }
            mf_trainer_finish_reduce(tr[r], parts);
            for (size_t q = 0; q < parts; q++) {
                mf_trainer_update_part(tr[r], q, parts);
            }
            mf_trainer_finish_step(tr[r], NULL, NULL);
        }
    }
    for (size_t i = 0; i < m[0]->net->n_params; i++) {
        float a = m[0]->net->params[i], b = m[1]->net->params[i];
        ck_assert_msg(fabsf(a - b) <= 1e-6f * (1.0f + fabsf(a)), "param %zu: %g vs %g", i, a, b);
    }
    for (int r = 0; r < 2; r++) {
        mf_trainer_free(tr[r]);
        mf_model_free(m[r]);
    }
}

END_TEST

static Suite *train_params_suite(void)
{
    Suite *s = suite_create("train_params");
    TCase *tc = tcase_create("params");
    tcase_add_test(tc, test_defaults);
    tcase_add_loop_test(tc, test_check_names_the_field, 0,
                        (int) (sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_test(tc, test_check_accepts_edges);
    tcase_add_test(tc, test_begin_builds_the_model);
    tcase_add_test(tc, test_batch);
    tcase_add_test(tc, test_table_run);
    tcase_add_test(tc, test_run_matches_the_mapping);
    tcase_add_test(tc, test_parts_agree);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(train_params_suite)
