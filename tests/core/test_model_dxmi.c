/* SPDX-License-Identifier: MIT */
/*
 * test_model_dxmi.c - core/model_dxmi.c: the DxMI parts of a model file
 * survive save, load and clone exactly (and a second save gives the same
 * bytes); a sampler alone or an energy alone is a valid file; the setters
 * refuse what the loader would and leave the model unchanged; the managed
 * keys cannot be set as plain metadata; quantiles as numpy's linear rule
 * gives them; percentiles of evenly spaced values, ties and the ends;
 * anomaly scores equal E of the normalised points and do not depend on the
 * split into parts.  The malformed files are rows of test_model_file.c's
 * table.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "dxmi_fixture.h"
#include "model_dxmi.h"
#include "test_util.h"

#define SCHED "linear:0.0001:0.02:1000"

static mf_model *make_model(void)
{
    mf_mlp_config cfg = {.data_dim = 2, .cond_dim = 0, .emb_dim = 4, .n_hidden = 2};
    cfg.hidden[0] = 8;
    cfg.hidden[1] = 8;
    mf_model *m = NULL;
    mf_diag d = {0};
    ck_assert_msg(mf_model_new(&cfg, SCHED, &m, &d) == MF_OK, "%s", d.msg);
    for (size_t i = 0; i < m->net->n_params; i++) {
        m->net->params[i] = cosf(0.21f * (float) i);
    }
    return m;
}

/* Saves m and loads the bytes back. */
static mf_model *reload(const mf_model *m, uint8_t **ret_buf, size_t *ret_len)
{
    ck_assert_int_eq(mf_model_to_buffer(m, ret_buf, ret_len), MF_OK);
    mf_model *r = NULL;
    mf_diag d = {0};
    ck_assert_msg(mf_model_load_buffer(*ret_buf, *ret_len, &r, &d) == MF_OK, "%s: %s", d.field,
                  d.msg);
    return r;
}

static void assert_same_net(const mf_reward_model *a, const mf_reward_model *b)
{
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_ne(a, b);
    ck_assert_uint_eq(a->n_params, b->n_params);
    ck_assert_uint_eq(a->D, b->D);
    ck_assert_uint_eq(a->n_hidden, b->n_hidden);
    ck_assert_mem_eq(a->params, b->params, a->n_params * sizeof(float));
}

static void assert_same_dxmi(const mf_model_dxmi *a, const mf_model_dxmi *b)
{
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert(a->has_var == b->has_var);
    if (a->has_var) {
        ck_assert_int_eq(a->var_kind, b->var_kind);
        ck_assert_uint_eq(a->var.T, b->var.T);
        /* The setter rounds to float, so the loaded chain is the same, bit for bit. */
        ck_assert_mem_eq(&a->var, &b->var, sizeof a->var);
    }
    ck_assert((a->energy == NULL) == (b->energy == NULL));
    if (a->energy != NULL) {
        assert_same_net(a->energy, b->energy);
        assert_same_net(a->value, b->value);
        ck_assert_uint_eq(a->value_emb, b->value_emb);
        ck_assert_mem_eq(a->energy_q, b->energy_q, sizeof a->energy_q);
    }
}

/* ---- files ------------------------------------------------------------------------- */

START_TEST(test_round_trip)
{
    mf_model *m = make_model();
    ck_assert_ptr_null(mf_model_get_dxmi(m));
    ck_assert_int_eq(mf_model_set_normalisation(m, 0.5, 2.0), MF_OK);
    dxmi_fixture_attach(m);
    const mf_model_dxmi *dx = mf_model_get_dxmi(m);
    ck_assert(dx != NULL && dx->has_var && dx->energy != NULL);
    ck_assert_str_eq(mf_model_get_meta(m, "sampler"), "var:5");
    ck_assert_str_eq(mf_model_get_meta(m, "var_schedule"), "code");
    ck_assert_str_eq(mf_model_get_meta(m, "energy_hidden"), "4");
    ck_assert_str_eq(mf_model_get_meta(m, "value_hidden"), "5,3");
    ck_assert_str_eq(mf_model_get_meta(m, "value_emb"), "4");
    ck_assert_ptr_nonnull(strstr(mf_model_get_meta(m, "energy_quantiles"), "0,0.1,0.2,0.3"));

    uint8_t *buf = NULL, *buf2 = NULL;
    size_t len = 0, len2 = 0;
    mf_model *r = reload(m, &buf, &len);
    assert_same_dxmi(dx, r->dxmi);
    ck_assert_uint_eq(r->n_meta, m->n_meta);
    mf_model *r2 = reload(r, &buf2, &len2);
    ck_assert_uint_eq(len, len2);
    ck_assert_mem_eq(buf, buf2, len);

    mf_model *c = NULL;
    ck_assert_int_eq(mf_model_clone(r, &c), MF_OK);
    ck_assert_ptr_ne(c->dxmi, r->dxmi);
    assert_same_dxmi(r->dxmi, c->dxmi);
    mf_model_free(r2);
    mf_model_free(c);
    mf_model_free(r);
    mf_model_free(m);
    free(buf);
    free(buf2);
}

END_TEST

/* A sampler without an energy, and an energy without a sampler, are whole DxMI files. */
START_TEST(test_one_part)
{
    for (int part = 0; part < 2; part++) {
        mf_model *m = make_model();
        mf_diag d = {0};
        if (part == 0) {
            mf_var_sched v = dxmi_fixture_var();
            ck_assert_int_eq(mf_model_set_var(m, &v, MF_VAR_SCHED_MATCHED, &d), MF_OK);
        } else {
            mf_model *full = make_model();
            dxmi_fixture_attach(full);
            const mf_model_dxmi *f = full->dxmi;
            ck_assert_int_eq(
                mf_model_set_energy(m, f->energy, f->value, f->value_emb, f->energy_q, &d), MF_OK);
            mf_model_free(full);
        }
        uint8_t *buf = NULL;
        size_t len = 0;
        mf_model *r = reload(m, &buf, &len);
        assert_same_dxmi(m->dxmi, r->dxmi);
        ck_assert(r->dxmi->has_var == (part == 0));
        ck_assert((r->dxmi->energy != NULL) == (part == 1));
        ck_assert((mf_model_get_meta(r, "sampler") != NULL) == (part == 0));
        ck_assert((mf_model_get_meta(r, "energy_hidden") != NULL) == (part == 1));
        if (part == 0) {
            ck_assert_str_eq(mf_model_get_meta(r, "var_schedule"), "matched");
        }
        mf_model_free(r);
        mf_model_free(m);
        free(buf);
    }
}

END_TEST

/* The chains core/var_sched.c builds, both kinds, short and long, are files that load back. */
START_TEST(test_built_chains)
{
    static const size_t Ts[] = {2, 5, 10, MF_VAR_MAX_T};
    for (int kind = 0; kind < 2; kind++) {
        for (size_t i = 0; i < sizeof Ts / sizeof Ts[0]; i++) {
            mf_model *m = make_model();
            mf_var_sched v;
            mf_diag d = {0};
            ck_assert_int_eq(mf_var_sched_init(&m->sched, Ts[i], (mf_var_sched_kind) kind, &v),
                             MF_OK);
            ck_assert_msg(mf_model_set_var(m, &v, (mf_var_sched_kind) kind, &d) == MF_OK,
                          "kind %d T %zu: %s: %s", kind, Ts[i], d.field, d.msg);
            /* beta~ and tau were float already: the model's chain is the one built */
            ck_assert_mem_eq(m->dxmi->var.beta, v.beta, Ts[i] * sizeof(double));
            ck_assert_mem_eq(m->dxmi->var.tau, v.tau, Ts[i] * sizeof(double));
            uint8_t *buf = NULL;
            size_t len = 0;
            mf_model *r = reload(m, &buf, &len);
            assert_same_dxmi(m->dxmi, r->dxmi);
            mf_model_free(r);
            mf_model_free(m);
            free(buf);
        }
    }
}

END_TEST

/* The keys the setters own cannot be set, changed or added as plain metadata. */
START_TEST(test_managed_keys)
{
    static const char *const keys[] = {"sampler",      "var_schedule", "energy_hidden",
                                       "value_hidden", "value_emb",    "energy_quantiles"};
    mf_model *plain = make_model(), *m = make_model();
    dxmi_fixture_attach(m);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        mf_diag d = {0};
        ck_assert_int_eq(mf_model_set_meta(plain, keys[i], "var:5", &d), MF_EINVAL);
        ck_assert_ptr_nonnull(strstr(d.msg, "is set with the few-step sampler or the energy"));
        char field[64];
        snprintf(field, sizeof field, "__metadata__/%s", keys[i]);
        ck_assert_str_eq(d.field, field);
        ck_assert_ptr_null(mf_model_get_meta(plain, keys[i]));
        ck_assert_int_eq(mf_model_set_meta(m, keys[i], "2", NULL), MF_EINVAL);
        /* the value it already has: nothing changes, so no error */
        char *cur = strdup(mf_model_get_meta(m, keys[i]));
        ck_assert_int_eq(mf_model_set_meta(m, keys[i], cur, NULL), MF_OK);
        free(cur);
    }
    mf_model_free(plain);
    mf_model_free(m);
}

END_TEST

/* Each setter refuses what a file may not hold, and leaves the model as it was. */
START_TEST(test_setter_errors)
{
    mf_model *m = make_model();
    size_t n_meta = m->n_meta;
    mf_var_sched good = dxmi_fixture_var(), v;

    struct {
        size_t T;
        int at;
        double beta, tau, sigma; /* at index at; NAN = keep */
    } var_rows[] = {
        {1, -1, NAN, NAN, NAN},     {MF_VAR_MAX_T + 1, -1, NAN, NAN, NAN},
        {5, 1, NAN, NAN, 0.0},      {5, 2, NAN, NAN, -1.0},
        {5, 0, 1.0, NAN, NAN},      {5, 3, 0.0, NAN, NAN},
        {5, 4, NAN, -0.5, NAN},     {5, 0, NAN, 1000.0, NAN},
        {5, 2, NAN, NAN, INFINITY},
    };

    for (size_t r = 0; r < sizeof var_rows / sizeof var_rows[0]; r++) {
        v = good;
        v.T = var_rows[r].T;
        int at = var_rows[r].at;
        if (at >= 0) {
            v.beta[at] = isnan(var_rows[r].beta) ? v.beta[at] : var_rows[r].beta;
            v.tau[at] = isnan(var_rows[r].tau) ? v.tau[at] : var_rows[r].tau;
            v.sigma[at] = isnan(var_rows[r].sigma) ? v.sigma[at] : var_rows[r].sigma;
        }
        mf_diag d = {0};
        ck_assert_msg(mf_model_set_var(m, &v, MF_VAR_SCHED_CODE, &d) == MF_EINVAL, "row %zu", r);
        ck_assert(d.msg[0] != '\0');
        ck_assert_ptr_null(m->dxmi);
        ck_assert_uint_eq(m->n_meta, n_meta);
    }
    ck_assert_int_eq(mf_model_set_var(m, &good, (mf_var_sched_kind) 7, NULL), MF_EINVAL);

    mf_model *full = make_model();
    dxmi_fixture_attach(full);
    const mf_model_dxmi *f = full->dxmi;
    size_t eh[1] = {3};
    mf_reward_model *wrong_d = dxmi_fixture_net(3, eh, 1, 0.0f), *ridge = NULL;
    ck_assert_int_eq(mf_reward_new(MF_REWARD_RIDGE, 2, NULL, 0, &ridge), MF_OK);
    mf_reward_model *nan_net = NULL;
    ck_assert_int_eq(mf_reward_clone(f->energy, &nan_net), MF_OK);
    nan_net->params[2] = NAN;
    double q[MF_ENERGY_N_QUANTILES], q_down[MF_ENERGY_N_QUANTILES], q_nan[MF_ENERGY_N_QUANTILES];
    memcpy(q, f->energy_q, sizeof q);
    memcpy(q_down, q, sizeof q);
    memcpy(q_nan, q, sizeof q);
    q_down[40] = q_down[39] - 0.01;
    q_nan[100] = NAN;

    struct {
        const mf_reward_model *e, *v;
        size_t emb;
        const double *q;
    } e_rows[] = {
        {wrong_d, f->value, FIXTURE_EMB, q},
        {f->energy, wrong_d, FIXTURE_EMB, q},
        {f->energy, f->value, 6, q},
        {f->energy, f->value, 3, q},
        {ridge, f->value, FIXTURE_EMB, q},
        {nan_net, f->value, FIXTURE_EMB, q},
        {f->energy, f->value, FIXTURE_EMB, q_down},
        {f->energy, f->value, FIXTURE_EMB, q_nan},
        {NULL, f->value, FIXTURE_EMB, q},
    };

    for (size_t r = 0; r < sizeof e_rows / sizeof e_rows[0]; r++) {
        mf_diag d = {0};
        ck_assert_msg(mf_model_set_energy(m, e_rows[r].e, e_rows[r].v, e_rows[r].emb, e_rows[r].q,
                                          &d) == MF_EINVAL,
                      "row %zu", r);
        ck_assert(d.msg[0] != '\0');
        ck_assert_ptr_null(m->dxmi);
        ck_assert_uint_eq(m->n_meta, n_meta);
    }
    mf_reward_free(wrong_d);
    mf_reward_free(ridge);
    mf_reward_free(nan_net);
    mf_model_free(full);
    mf_model_free(m);
}

END_TEST

/* ---- quantiles and percentiles --------------------------------------------------- */

START_TEST(test_quantiles)
{
    /* 0, 1, .., 1000 in a scrambled order: quantile k is 10 k exactly. */
    double e[1001], q[MF_ENERGY_N_QUANTILES];
    for (size_t i = 0; i < 1001; i++) {
        e[i] = (double) ((i * 389) % 1001);
    }
    ck_assert_int_eq(mf_energy_quantiles(e, 1001, q), MF_OK);
    for (int k = 0; k < MF_ENERGY_N_QUANTILES; k++) {
        ck_assert_double_eq(q[k], 10.0 * k);
    }
    /* two values: numpy's linear rule interpolates between them */
    double two[2] = {3.0, 1.0};
    ck_assert_int_eq(mf_energy_quantiles(two, 2, q), MF_OK);
    ck_assert_double_eq_tol(q[25], 1.5, 1e-12);
    ck_assert_double_eq(q[0], 1.0);
    ck_assert_double_eq(q[100], 3.0);
    /* one value: every quantile */
    ck_assert_int_eq(mf_energy_quantiles(two, 1, q), MF_OK);
    ck_assert_double_eq(q[0], 3.0);
    ck_assert_double_eq(q[100], 3.0);
    ck_assert_int_eq(mf_energy_quantiles(two, 0, q), MF_EINVAL);
    two[1] = NAN;
    ck_assert_int_eq(mf_energy_quantiles(two, 2, q), MF_EINVAL);
}

END_TEST

START_TEST(test_percentile)
{
    double q[MF_ENERGY_N_QUANTILES];
    /* evenly spaced values 0, 0.001, .., 1: the quantiles are their 1 % steps, and the
     * percentile of every value is its rank: 100 i / 1000 */
    double e[1001];
    for (size_t i = 0; i < 1001; i++) {
        e[i] = (double) i / 1000.0;
    }
    ck_assert_int_eq(mf_energy_quantiles(e, 1001, q), MF_OK);
    for (size_t i = 0; i < 1001; i++) {
        ck_assert_double_eq_tol(mf_energy_percentile(q, e[i]), (double) i / 10.0, 1e-9);
    }
    ck_assert_double_eq(mf_energy_percentile(q, -5.0), 0.0);
    ck_assert_double_eq(mf_energy_percentile(q, 1.0001), 100.0);
    ck_assert_double_eq(mf_energy_percentile(q, INFINITY), 100.0);
    ck_assert_double_eq(mf_energy_percentile(q, -INFINITY), 0.0);
    ck_assert(isnan(mf_energy_percentile(q, NAN)));
    /* ties: the middle of the tied quantiles */
    for (int k = 0; k < MF_ENERGY_N_QUANTILES; k++) {
        q[k] = k < 10 ? k : (k <= 20 ? 10.0 : k - 10.0);
    }
    ck_assert_double_eq(mf_energy_percentile(q, 10.0), 15.0);
    ck_assert_double_eq_tol(mf_energy_percentile(q, 10.5), 20.5, 1e-12);
    for (int k = 0; k < MF_ENERGY_N_QUANTILES; k++) {
        q[k] = 2.0;
    }
    ck_assert_double_eq(mf_energy_percentile(q, 2.0), 50.0);
    ck_assert_double_eq(mf_energy_percentile(q, 1.9), 0.0);
    ck_assert_double_eq(mf_energy_percentile(q, 2.1), 100.0);
}

END_TEST

/* ---- scores ------------------------------------------------------------------------ */

/* An executor that runs the tasks backwards on the calling thread: order must not matter. */
static void run_backwards(void *exec, size_t n, void (*task)(void *ctx, size_t i), void *ctx)
{
    (void) exec;
    for (size_t i = n; i-- > 0;) {
        task(ctx, i);
    }
}

START_TEST(test_score)
{
    mf_model *m = make_model();
    ck_assert_int_eq(mf_model_set_normalisation(m, -0.25, 3.0), MF_OK);
    dxmi_fixture_attach(m);
    const mf_model_dxmi *dx = m->dxmi;

    enum {
        N = 700
    };

    float *x = malloc(N * 2 * sizeof(float)), *xm = malloc(N * 2 * sizeof(float));
    float e[N];
    for (size_t i = 0; i < 2 * N; i++) {
        x[i] = 4.0f * sinf(0.013f * (float) (i * i % 977));
    }
    memcpy(xm, x, N * 2 * sizeof(float));
    mf_model_from_data(m, xm, 2 * N);
    mf_reward_ws *ws = NULL;
    ck_assert_int_eq(mf_reward_ws_new(dx->energy, N, &ws), MF_OK);
    mf_reward_predict(dx->energy, ws, xm, N, e);
    mf_reward_ws_free(ws);
    /* quantiles of the first 300 energies, so that some of the others lie above q_99 */
    double ed[300], q[MF_ENERGY_N_QUANTILES];
    for (size_t i = 0; i < 300; i++) {
        ed[i] = e[i];
    }
    ck_assert_int_eq(mf_energy_quantiles(ed, 300, q), MF_OK);
    ck_assert_int_eq(mf_model_set_energy(m, dx->energy, dx->value, dx->value_emb, q, NULL), MF_OK);

    mf_energy_score *s1 = calloc(N, sizeof *s1), *s3 = calloc(N, sizeof *s3);
    ck_assert_int_eq(mf_model_score(m, x, N, NULL, NULL, 1, s1), MF_OK);
    ck_assert_int_eq(mf_model_score(m, x, N, run_backwards, NULL, 3, s3), MF_OK);
    size_t outliers = 0;
    for (size_t i = 0; i < N; i++) {
        ck_assert_double_eq(s1[i].energy, (double) e[i]);
        ck_assert_double_eq(s1[i].percentile, mf_energy_percentile(dx->energy_q, e[i]));
        ck_assert(s1[i].outlier == ((double) e[i] > dx->energy_q[MF_ENERGY_OUTLIER_PCT]));
        ck_assert_mem_eq(&s1[i], &s3[i], sizeof s1[i]);
        outliers += s1[i].outlier;
    }
    ck_assert_uint_gt(outliers, 0);
    ck_assert_uint_lt(outliers, N);
    /* more parts than rows */
    ck_assert_int_eq(mf_model_score(m, x, 2, NULL, NULL, 8, s3), MF_OK);
    ck_assert_mem_eq(s3, s1, 2 * sizeof *s1);

    mf_model *plain = make_model();
    ck_assert_int_eq(mf_model_score(plain, x, N, NULL, NULL, 1, s1), MF_EINVAL);
    ck_assert_int_eq(mf_model_score(m, x, 0, NULL, NULL, 1, s1), MF_EINVAL);
    ck_assert_int_eq(mf_model_score(m, x, N, NULL, NULL, 0, s1), MF_EINVAL);
    mf_model_free(plain);
    free(s1);
    free(s3);
    free(x);
    free(xm);
    mf_model_free(m);
}

END_TEST

static Suite *model_dxmi_suite(void)
{
    Suite *s = suite_create("model_dxmi");
    TCase *tc = tcase_create("file");
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_one_part);
    tcase_add_test(tc, test_built_chains);
    tcase_add_test(tc, test_managed_keys);
    tcase_add_test(tc, test_setter_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("scores");
    tcase_add_test(tc, test_quantiles);
    tcase_add_test(tc, test_percentile);
    tcase_add_test(tc, test_score);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(model_dxmi_suite)
