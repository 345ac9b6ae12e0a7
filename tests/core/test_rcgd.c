/* SPDX-License-Identifier: MIT */
/*
 * test_rcgd.c - core/rcgd.c on small runs: options, the phases and their
 * errors, the training batch (rows, conditions, label dropout), the finished
 * model and its file, executors, a conditional run grown from a parent, and
 * the per-target statistics.  The end-to-end oracle is test_rcgd_oracle.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "rcgd.h"
#include "rng.h"
#include "test_util.h"

enum {
    N_UNL = 2000,
    N_LAB = 200,
    N_HELD = 300
};

/* The ring (2-D), whose reward x_1 and manifold |x| = 2 are known. */
typedef struct ring_data {
    float x_unl[N_UNL * 2], x_lab[N_LAB * 2], y_lab[N_LAB], x_held[N_HELD * 2];
    mf_rcgd_data d;
} ring_data;

static ring_data *make_ring(void)
{
    ring_data *r = malloc(sizeof *r);
    ck_assert_int_eq(mf_dataset_sample(MF_DATASET_RING, mf_rng_make(1), 0, r->x_unl, N_UNL), MF_OK);
    ck_assert_int_eq(mf_dataset_sample(MF_DATASET_RING, mf_rng_make(2), 0, r->x_lab, N_LAB), MF_OK);
    ck_assert_int_eq(mf_dataset_heldout(MF_DATASET_RING, r->x_held, N_HELD), MF_OK);
    float e[N_LAB];
    mf_rng_normal(mf_rng_make(3), 0, e, N_LAB);
    for (size_t i = 0; i < N_LAB; i++) {
        r->y_lab[i] = r->x_lab[2 * i] + 0.05f * e[i];
    }
    r->d = (mf_rcgd_data){.D = 2,
                          .x_unl = r->x_unl,
                          .n_unl = N_UNL,
                          .x_lab = r->x_lab,
                          .y_lab = r->y_lab,
                          .n_lab = N_LAB,
                          .x_heldout = r->x_held,
                          .n_heldout = N_HELD,
                          .has_truth = true,
                          .truth = MF_DATASET_RING};
    return r;
}

static mf_rcgd_opts small_opts(void)
{
    mf_rcgd_opts o = mf_rcgd_opts_default();
    o.train.hidden[0] = o.train.hidden[1] = 32;
    o.train.n_hidden = 2;
    o.train.emb = 8;
    o.train.steps = 40;
    o.train.batch = 64;
    o.train.warmup = 5;
    o.train.seed = 3;
    o.p_uncond = 0.25;
    o.nu = 0.2;
    o.sample_steps = 20;
    o.dataset = "ring";
    o.label_dataset = "ring-labels";
    return o;
}

static mf_rcgd *new_fitted(const mf_rcgd_opts *o, const mf_rcgd_data *d, mf_rcgd_fit_stats *fs)
{
    mf_rcgd *r = NULL;
    mf_diag dg = {0};
    ck_assert_msg(mf_rcgd_new(o, d, &r, &dg) == MF_OK, "%s", dg.msg);
    ck_assert_msg(mf_rcgd_fit(r, fs, &dg) == MF_OK, "%s", dg.msg);
    return r;
}

/* ---- options ------------------------------------------------------------------------ */

typedef struct opts_case {
    const char *name;
    void (*edit)(mf_rcgd_opts *o);
    const char *field;
} opts_case;

static void e_nu(mf_rcgd_opts *o)
{
    o->nu = -1.0;
}

static void e_nu_nan(mf_rcgd_opts *o)
{
    o->nu = NAN;
}

static void e_w(mf_rcgd_opts *o)
{
    o->w = INFINITY;
}

static void e_p(mf_rcgd_opts *o)
{
    o->p_uncond = 1.0;
}

static void e_cfg(mf_rcgd_opts *o)
{
    o->guidance = MF_GUIDE_CFG;
}

static void e_cfg_uncond(mf_rcgd_opts *o)
{
    o->guidance = MF_GUIDE_CFG;
    o->p_uncond = 0.1;
    o->conditional = false;
}

static void e_mode(mf_rcgd_opts *o)
{
    o->guidance = (mf_guide_mode) 5;
}

static void e_sampler(mf_rcgd_opts *o)
{
    o->sampler = (mf_sampler_kind) 5;
}

static void e_steps(mf_rcgd_opts *o)
{
    o->sample_steps = 0;
}

static void e_eta(mf_rcgd_opts *o)
{
    o->eta = 1.5f;
}

static void e_k(mf_rcgd_opts *o)
{
    o->knn_k = 0;
}

static void e_lr(mf_rcgd_opts *o)
{
    o->train.lr = 0.0;
}

static void e_hidden(mf_rcgd_opts *o)
{
    o->train.n_hidden = 0;
}

static void e_sched(mf_rcgd_opts *o)
{
    strcpy(o->train.schedule, "linear:1");
}

static void e_lambda(mf_rcgd_opts *o)
{
    o->reward.lambda = -1.0;
}

static void ok_cfg(mf_rcgd_opts *o)
{
    o->guidance = MF_GUIDE_CFG;
    o->p_uncond = 0.1;
}

static void ok_reward_uncond(mf_rcgd_opts *o)
{
    o->guidance = MF_GUIDE_REWARD;
    o->conditional = false;
}

static const opts_case opts_cases[] = {
    {"nu", e_nu, "nu"},
    {"nu nan", e_nu_nan, "nu"},
    {"w", e_w, "w"},
    {"p_uncond", e_p, "p_uncond"},
    {"cfg without dropout", e_cfg, "guidance"},
    {"cfg unconditional", e_cfg_uncond, "guidance"},
    {"mode", e_mode, "guidance"},
    {"sampler", e_sampler, "sampler"},
    {"sample_steps", e_steps, "sample_steps"},
    {"eta", e_eta, "eta"},
    {"knn_k", e_k, "knn_k"},
    {"train.lr", e_lr, "train.lr"},
    {"train.hidden", e_hidden, "train.hidden"},
    {"train.schedule", e_sched, "train.schedule"},
    {"reward.lambda", e_lambda, "reward.lambda"},
    {"cfg ok", ok_cfg, NULL},
    {"reward guidance unconditional", ok_reward_uncond, NULL},
};

START_TEST(test_opts_check)
{
    const opts_case *c = &opts_cases[_i];
    mf_rcgd_opts o = mf_rcgd_opts_default();
    c->edit(&o);
    mf_diag d = {0};
    mf_err err = mf_rcgd_opts_check(&o, &d);
    if (c->field == NULL) {
        ck_assert_msg(err == MF_OK, "%s: %s", c->name, d.msg);
        return;
    }
    ck_assert_msg(err != MF_OK, "%s accepted", c->name);
    ck_assert_msg(strcmp(d.field, c->field) == 0, "%s: field %s", c->name, d.field);
}

END_TEST

/* ---- the phases ---------------------------------------------------------------------- */

START_TEST(test_fit_and_batches)
{
    ring_data *rd = make_ring();
    mf_rcgd_opts o = small_opts();
    mf_rcgd *r = NULL;
    ck_assert_int_eq(mf_rcgd_new(&o, &rd->d, &r, NULL), MF_OK);
    float x0[64 * 2], c[64 * 2], x1[64 * 2], c1[64 * 2];
    ck_assert_int_eq(mf_rcgd_step(r, NULL), MF_EINVAL); /* before fit */
    ck_assert_int_eq(mf_rcgd_batch(r, 0, x0, c), MF_EINVAL);
    ck_assert_ptr_null(mf_rcgd_model(r));
    ck_assert_int_eq(mf_rcgd_sample(r, NULL, 1.0, 4, 1, NULL, x0), MF_EINVAL);
    mf_rcgd_fit_stats fs;
    mf_diag d = {0};
    ck_assert_msg(mf_rcgd_fit(r, &fs, &d) == MF_OK, "%s", d.msg);
    ck_assert_int_eq(mf_rcgd_fit(r, &fs, &d), MF_EINVAL);
    /* y = x_1 + 0.05 noise: R^2 ~ 0.999; labels x_1 + 0.2 xi: std sqrt(2 + 0.04) */
    ck_assert_msg(fs.reward.val_r2 > 0.99, "R^2 %.4f", fs.reward.val_r2);
    ck_assert_uint_eq(fs.n_rows, N_UNL);
    ck_assert_double_eq_tol(fs.label_std, sqrt(2.04), 0.06);
    ck_assert_double_eq_tol(fs.label_mean, 0.0, 0.1);
    ck_assert(isfinite(fs.knn_heldout) && fs.knn_heldout > 0.0 && fs.knn_heldout < 0.2);
    const mf_model *m = mf_rcgd_model(r);
    ck_assert_uint_eq(m->net->cfg.cond_dim, 2);
    ck_assert(m->has_cond && m->cond.offset == fs.label_mean && m->cond.scale == fs.label_std);
    ck_assert(m->reward != NULL && m->reward->kind == MF_REWARD_RIDGE);
    /* data scale: the std of all ring coordinates, sqrt(2) */
    ck_assert_double_eq_tol(m->data_scale, sqrt(2.0), 0.05);

    /* Batches: a pure function of k; conditions [(y - mean)/std, 1] or the null [0, 0] with
     * frequency p_uncond (4,000 rows: s.e. 0.007). */
    size_t n_null = 0, n_rows = 0;
    for (size_t k = 0; k < 60; k++) {
        ck_assert_int_eq(mf_rcgd_batch(r, k, x0, c), MF_OK);
        for (size_t j = 0; j < 64; j++, n_rows++) {
            bool null = c[2 * j] == 0.0f && c[2 * j + 1] == 0.0f;
            ck_assert(null || c[2 * j + 1] == 1.0f);
            n_null += null;
            /* the condition of a row is its pseudo-label, close to its x_1 in data space */
            double x_1 = m->data_offset + m->data_scale * (double) x0[2 * j];
            double y = fs.label_mean + fs.label_std * (double) c[2 * j];
            ck_assert(null || fabs(y - x_1) < 1.2); /* 6 sigma of nu + ridge error */
        }
    }
    ck_assert_double_eq_tol((double) n_null / (double) n_rows, 0.25, 0.035);
    ck_assert_int_eq(mf_rcgd_batch(r, 7, x0, c), MF_OK);
    ck_assert_int_eq(mf_rcgd_batch(r, 7, x1, c1), MF_OK);
    ck_assert_mem_eq(x0, x1, sizeof x0);
    ck_assert_mem_eq(c, c1, sizeof c);
    ck_assert_int_eq(mf_rcgd_batch(r, 8, x1, c1), MF_OK);
    ck_assert(memcmp(x0, x1, sizeof x0) != 0);

    /* Steps to the end, then no more. */
    double loss = 0.0;
    while (mf_rcgd_steps_done(r) < mf_rcgd_steps_total(r)) {
        ck_assert_int_eq(mf_rcgd_step(r, &loss), MF_OK);
    }
    ck_assert(isfinite(loss) && loss > 0.0);
    ck_assert_int_eq(mf_rcgd_step(r, &loss), MF_EINVAL);
    mf_rcgd_free(r);
    free(rd);
}

END_TEST

/* A reverse-order executor: the tasks of a phase are independent, so any order gives the
 * same step bit for bit as the calling thread does. */
static size_t exec_calls;

static void reverse_exec(void *exec, size_t n, void (*task)(void *ctx, size_t i), void *ctx)
{
    (void) exec;
    exec_calls++;
    for (size_t i = n; i-- > 0;) {
        task(ctx, i);
    }
}

START_TEST(test_executor_and_finish)
{
    ring_data *rd = make_ring();
    mf_rcgd_opts o = small_opts();
    mf_rcgd *a = new_fitted(&o, &rd->d, NULL), *b = new_fitted(&o, &rd->d, NULL);
    mf_rcgd_set_executor(a, NULL, NULL, 2);
    mf_rcgd_set_executor(b, reverse_exec, NULL, 2);
    exec_calls = 0;
    for (size_t k = 0; k < o.train.steps; k++) {
        ck_assert_int_eq(mf_rcgd_step(a, NULL), MF_OK);
        ck_assert_int_eq(mf_rcgd_step(b, NULL), MF_OK);
    }
    ck_assert_uint_eq(exec_calls, 3 * o.train.steps); /* shards, gradient parts, update parts */
    mf_diag d = {0};
    ck_assert_int_eq(mf_rcgd_finish(a, NULL, 0, &d), MF_EINVAL);
    ck_assert_int_eq(mf_rcgd_finish(a, "test_rcgd", 1795000000, &d), MF_OK);
    ck_assert_int_eq(mf_rcgd_finish(b, "test_rcgd", 1795000000, &d), MF_OK);
    ck_assert_int_eq(mf_rcgd_finish(b, "test_rcgd", 1795000000, &d), MF_EINVAL);
    ck_assert_int_eq(mf_rcgd_step(a, NULL), MF_EINVAL);
    ck_assert_ptr_null(mf_rcgd_trainer(a));
    ck_assert_uint_eq(mf_rcgd_steps_done(a), o.train.steps);
    const mf_model *ma = mf_rcgd_model(a), *mb = mf_rcgd_model(b);
    ck_assert_mem_eq(ma->net->params, mb->net->params, ma->net->n_params * sizeof(float));

    static const char *const want[][2] = {
        {"dataset", "ring"},
        {"label_dataset", "ring-labels"},
        {"parent", ""},
        {"guidance", "cond"},
        {"pseudo_label_noise", "0.2"},
        {"p_uncond", "0.25"},
        {"condition", "reward"},
        {"cond_null", "indicator"},
        {"reward_model", "ridge"},
        {"provenance", "test_rcgd"},
        {"created", "2026-11-18T11:06:40Z"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *v = mf_model_get_meta(ma, want[i][0]);
        ck_assert_msg(v != NULL && strcmp(v, want[i][1]) == 0, "%s: %s", want[i][0],
                      v != NULL ? v : "(none)");
    }
    /* The finished model's file loads back with its condition and reward model. */
    uint8_t *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(mf_model_to_buffer(ma, &buf, &len), MF_OK);
    mf_model *back = NULL;
    ck_assert_msg(mf_model_load_buffer(buf, len, &back, &d) == MF_OK, "%s", d.msg);
    ck_assert(back->has_cond && back->cond.scale == ma->cond.scale);
    ck_assert_mem_eq(back->reward->params, ma->reward->params,
                     ma->reward->n_params * sizeof(float));
    mf_model_free(back);
    free(buf);

    /* Sampling: the same seed gives the same samples, another seed others; the rows of a
     * smaller n are the first rows of a larger one. */
    float s1[50 * 2], s2[50 * 2];
    ck_assert_int_eq(mf_rcgd_sample(a, NULL, 1.0, 50, 9, NULL, s1), MF_OK);
    ck_assert_int_eq(mf_rcgd_sample(b, NULL, 1.0, 50, 9, NULL, s2), MF_OK);
    ck_assert_mem_eq(s1, s2, sizeof s1);
    ck_assert_int_eq(mf_rcgd_sample(a, NULL, 1.0, 40, 9, NULL, s2), MF_OK);
    ck_assert_mem_eq(s1, s2, 40 * 2 * sizeof(float));
    ck_assert_int_eq(mf_rcgd_sample(a, NULL, 1.0, 50, 10, NULL, s2), MF_OK);
    ck_assert(memcmp(s1, s2, sizeof s1) != 0);
    ck_assert_int_eq(mf_rcgd_sample(a, NULL, NAN, 50, 10, NULL, s2), MF_EINVAL);

    /* Statistics: every field the ring supports, in data space. */
    mf_rcgd_eval ev;
    ck_assert_int_eq(mf_rcgd_evaluate(a, NULL, 1.0, 50, 9, NULL, s2, &ev), MF_OK);
    ck_assert_mem_eq(s1, s2, sizeof s1); /* the samples it measured */
    ck_assert(ev.has_truth && ev.has_off && ev.has_knn);
    double m = 0.0;
    for (size_t i = 0; i < 50; i++) {
        m += s1[2 * i];
    }
    ck_assert_double_eq_tol(ev.true_mean, m / 50.0, 1e-6);
    ck_assert_double_eq_tol(ev.ideal, 1.0 / 1.04, 1e-12);
    ck_assert_double_eq_tol(ev.ratio, ev.true_mean / ev.ideal, 1e-12);
    ck_assert_double_eq_tol(ev.overopt, ev.pred_mean - ev.true_mean, 1e-12);
    ck_assert(ev.off_p90 >= 0.0 && ev.knn_dist > 0.0 && isfinite(ev.entropy));
    ck_assert_uint_eq(ev.knn_k, 5);
    ck_assert_int_eq(mf_rcgd_evaluate(a, NULL, 0.0, 50, 9, NULL, NULL, &ev), MF_OK);
    ck_assert(isnan(ev.ratio));
    mf_rcgd_free(a);
    mf_rcgd_free(b);
    free(rd);
}

END_TEST

/*
 * Grown from an unconditional parent: before any step the conditional network computes
 * the parent's eps for any condition; the parent's normalisation and schedule are kept.
 */
START_TEST(test_parent)
{
    ring_data *rd = make_ring();
    mf_mlp_config cfg = {.data_dim = 2, .emb_dim = 8, .n_hidden = 2, .hidden = {16, 16}};
    mf_model *parent = NULL;
    ck_assert_int_eq(mf_model_new(&cfg, "cosine:0.008:500", &parent, NULL), MF_OK);
    mf_mlp_init_params(parent->net, 4);
    ck_assert_int_eq(mf_model_set_normalisation(parent, 0.5, 1.5), MF_OK);
    mf_rcgd_opts o = small_opts();
    o.parent = parent;
    o.parent_id = "ring-base";
    mf_rcgd *r = new_fitted(&o, &rd->d, NULL);
    mf_model_free(parent); /* copied by new */
    parent = NULL;
    ck_assert_int_eq(mf_model_new(&cfg, "cosine:0.008:500", &parent, NULL), MF_OK);
    mf_mlp_init_params(parent->net, 4);
    const mf_model *m = mf_rcgd_model(r);
    ck_assert(m->data_offset == 0.5 && m->data_scale == 1.5);
    ck_assert_str_eq(m->sched.spec, "cosine:0.008:500");
    ck_assert_uint_eq(m->net->cfg.hidden[0], 16);
    float x[8] = {0.1f, -0.4f, 1.0f, 2.0f, -1.5f, 0.3f, 0.0f, 0.7f},
          c[8] = {1, 1, -2, 1, 0, 0, 5, 1};
    float t[4] = {0, 17, 250, 499}, ep[8], ec[8];
    mf_mlp_ws *wp = NULL, *wc = NULL;
    ck_assert_int_eq(mf_mlp_ws_new(parent->net, 4, false, &wp), MF_OK);
    ck_assert_int_eq(mf_mlp_ws_new(m->net, 4, false, &wc), MF_OK);
    mf_mlp_forward(parent->net, wp, x, t, NULL, 4, ep);
    mf_mlp_forward(m->net, wc, x, t, c, 4, ec);
    for (size_t j = 0; j < 8; j++) {
        ck_assert_float_eq_tol(ec[j], ep[j], 1e-5f * (1.0f + fabsf(ep[j])));
    }
    ck_assert_int_eq(mf_rcgd_step(r, NULL), MF_OK);
    ck_assert_int_eq(mf_rcgd_finish(r, "p", 0, NULL), MF_OK);
    ck_assert_str_eq(mf_model_get_meta(mf_rcgd_model(r), "parent"), "ring-base");
    mf_mlp_ws_free(wp);
    mf_mlp_ws_free(wc);
    mf_model_free(parent);
    mf_rcgd_free(r);

    /* A conditional parent, or one of another dimension, is refused. */
    cfg.data_dim = 3;
    ck_assert_int_eq(mf_model_new(&cfg, "cosine:0.008:500", &parent, NULL), MF_OK);
    o.parent = parent;
    mf_diag d = {0};
    r = (mf_rcgd *) 0x1;
    ck_assert_int_eq(mf_rcgd_new(&o, &rd->d, &r, &d), MF_EINVAL);
    ck_assert_str_eq(d.field, "parent");
    ck_assert_ptr_eq(r, (mf_rcgd *) 0x1);
    mf_model_free(parent);
    free(rd);
}

END_TEST

START_TEST(test_data_errors_and_unconditional)
{
    ring_data *rd = make_ring();
    mf_rcgd_opts o = small_opts();
    mf_rcgd *r = (mf_rcgd *) 0x1;
    mf_diag d = {0};
    mf_rcgd_data bad = rd->d;
    bad.n_lab = 0;
    ck_assert_int_eq(mf_rcgd_new(&o, &bad, &r, &d), MF_EINVAL);
    bad = rd->d;
    bad.truth = MF_DATASET_DIGITS; /* 64-D truth for 2-D rows */
    ck_assert_int_eq(mf_rcgd_new(&o, &bad, &r, &d), MF_EINVAL);
    rd->x_unl[7] = NAN;
    ck_assert_int_eq(mf_rcgd_new(&o, &rd->d, &r, &d), MF_ERANGE);
    ck_assert_ptr_eq(r, (mf_rcgd *) 0x1);
    rd->x_unl[7] = 0.5f;

    /* Constant labels and nu = 0: nothing to condition on. */
    for (size_t i = 0; i < N_LAB; i++) {
        rd->y_lab[i] = 1.0f;
    }
    o.nu = 0.0;
    o.reward.lambda = 10.0;
    ck_assert_int_eq(mf_rcgd_new(&o, &rd->d, &r, &d), MF_OK);
    ck_assert_int_eq(mf_rcgd_fit(r, NULL, &d), MF_ERANGE);
    ck_assert_ptr_nonnull(strstr(d.msg, "do not vary"));
    ck_assert_ptr_null(mf_rcgd_model(r)); /* back to before fit */
    mf_rcgd_free(r);

    /* An unconditional run (reward guidance at sampling): C = 0, the reward model kept. */
    free(rd);
    rd = make_ring();
    o = small_opts();
    o.conditional = false;
    o.guidance = MF_GUIDE_REWARD;
    o.w = 2.0f;
    r = new_fitted(&o, &rd->d, NULL);
    const mf_model *m = mf_rcgd_model(r);
    ck_assert_uint_eq(m->net->cfg.cond_dim, 0);
    ck_assert(!m->has_cond && m->reward != NULL);
    float x0[64 * 2], c[2] = {7, 7};
    ck_assert_int_eq(mf_rcgd_batch(r, 0, x0, c), MF_OK);
    ck_assert(c[0] == 7.0f); /* no condition written */
    float s[20 * 2];
    ck_assert_int_eq(mf_rcgd_sample(r, NULL, 1.5, 20, 1, NULL, s), MF_OK);
    ck_assert(mf_floats_finite(s, 40));
    mf_rcgd_free(r);
    mf_rcgd_free(NULL);
    free(rd);
}

END_TEST

static Suite *rcgd_suite(void)
{
    Suite *s = suite_create("rcgd");
    TCase *tc = tcase_create("opts");
    tcase_add_loop_test(tc, test_opts_check, 0, (int) (sizeof opts_cases / sizeof opts_cases[0]));
    suite_add_tcase(s, tc);
    tc = tcase_create("phases");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_fit_and_batches);
    tcase_add_test(tc, test_executor_and_finish);
    tcase_add_test(tc, test_parent);
    tcase_add_test(tc, test_data_errors_and_unconditional);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(rcgd_suite)
