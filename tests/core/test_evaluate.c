/* SPDX-License-Identifier: MIT */
/*
 * Tests of core/evaluate.c.
 *
 * Oracle: a model-space density N(0, diag(s2)) has the exact noise prediction
 * eps*(x, t)_d = m_d(t) x_d, m_d = sqrt(1 - ab) / (ab s2_d + 1 - ab), whose
 * divergence is sum_d m_d.  An executor that runs the ODE with eps* instead of
 * the model's network gives log-densities known in closed form: with the
 * model's normalisation x_data = offset + scale x_model, the data are
 * N(offset, scale^2 diag(s2)), so mf_eval_logp must return that density
 * (the -D log scale term is 2 log 3 = 2.2 nats below, far outside the
 * tolerance).  The rest: common random numbers, the data-set lookup, the
 * metrics' messages, the calling-thread executor.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "evaluate.h"
#include "mem.h"
#include "rng.h"
#include "test_util.h"

#define LOG_2PI 1.8378770664093454836
#define MAXD    64

/* ---- models ------------------------------------------------------------------------ */

static mf_model *new_model(size_t D, const char *dataset, double offset, double scale)
{
    mf_mlp_config cfg = {.data_dim = (uint32_t) D, .emb_dim = 8, .n_hidden = 2, .hidden = {16, 16}};
    mf_model *m = NULL;
    ck_assert_int_eq(mf_model_new(&cfg, "linear:0.0001:0.02:1000", &m, NULL), MF_OK);
    mf_mlp_init_params(m->net, 3);
    ck_assert_int_eq(mf_model_set_normalisation(m, offset, scale), MF_OK);
    if (dataset != NULL) {
        ck_assert_int_eq(mf_model_set_meta(m, "dataset", dataset, NULL), MF_OK);
    }
    return m;
}

/* ---- the Gaussian oracle as an executor ------------------------------------------------ */

typedef struct oracle {
    size_t D;
    double s2[MAXD];
    const mf_schedule *sched;
    size_t calls;
    double max_abs;  /* of the points handed to the ODE (model space) */
    size_t off_grid; /* of those, values x with 8 x + 8 not an integer (digits) */
} oracle;

static void oracle_init(oracle *g, size_t D, double first, double step)
{
    memset(g, 0, sizeof *g);
    g->D = D;
    for (size_t d = 0; d < D; d++) {
        g->s2[d] = first + step * (double) d;
    }
}

static void oracle_eval(void *ctx, const float *x, size_t n, float t, const float *probe,
                        float *eps, double *div)
{
    const oracle *g = ctx;
    double ab = g->sched->alpha_bar[(size_t) t], m[MAXD], tr = 0.0;
    for (size_t d = 0; d < g->D; d++) {
        m[d] = sqrt(1.0 - ab) / (ab * g->s2[d] + 1.0 - ab);
        tr += m[d];
    }
    for (size_t r = 0; r < n; r++) {
        double q = 0.0;
        for (size_t d = 0; d < g->D; d++) {
            eps[r * g->D + d] = (float) (m[d] * (double) x[r * g->D + d]);
            if (probe != NULL) {
                q += (double) probe[r * g->D + d] * (double) probe[r * g->D + d] * m[d];
            }
        }
        div[r] = probe != NULL ? q : tr;
    }
}

static mf_err oracle_ode_logp(void *ctx, const mf_mlp *net, const mf_schedule *s,
                              const mf_ode_lik_opts *o, bool sample, float *x, size_t n,
                              double *logp)
{
    oracle *g = ctx;
    ck_assert_uint_eq(net->cfg.data_dim, g->D);
    g->sched = s;
    g->calls++;
    if (!sample) {
        for (size_t j = 0; j < n * g->D; j++) {
            double v = fabs((double) x[j]), px = 8.0 * (double) x[j] + 8.0;
            g->max_abs = v > g->max_abs ? v : g->max_abs;
            g->off_grid += fabs(px - round(px)) > 1e-3;
        }
    }
    mf_eps_div_fn f = {oracle_eval, g};
    return sample ? mf_ode_sample_logp(s, f, o, x, n, g->D, logp)
                  : mf_ode_loglik(s, f, o, x, n, g->D, logp);
}

/* log N(x; offset, scale^2 diag(s2)) for a data-space point x. */
static double oracle_data_logpdf(const oracle *g, double offset, double scale, const float *x)
{
    double lp = 0.0;
    for (size_t d = 0; d < g->D; d++) {
        double var = scale * scale * g->s2[d], z = (double) x[d] - offset;
        lp -= 0.5 * (LOG_2PI + log(var) + z * z / var);
    }
    return lp;
}

/* n data-space points of N(offset, scale^2 diag(s2)). */
static float *oracle_data_points(const oracle *g, double offset, double scale, size_t n)
{
    float *x = mf_alloc_floats(n * g->D);
    ck_assert_ptr_nonnull(x);
    mf_rng_normal(mf_rng_make(21), 0, x, n * g->D);
    for (size_t r = 0; r < n; r++) {
        for (size_t d = 0; d < g->D; d++) {
            float *v = &x[r * g->D + d];
            *v = (float) (offset + scale * sqrt(g->s2[d]) * (double) *v);
        }
    }
    return x;
}

/* ---- log-densities in data space --------------------------------------------------------- */

START_TEST(test_logp_data_space)
{
    const double offset = 1.5, scale = 3.0;
    size_t n = 100;
    mf_model *m = new_model(2, NULL, offset, scale);
    oracle g;
    oracle_init(&g, 2, 0.25, 1.25); /* s2 = 0.25, 1.5 */
    mf_eval_exec ex = {.ode_logp = oracle_ode_logp, .ctx = &g};
    float *x = oracle_data_points(&g, offset, scale, n);
    float *keep = mf_alloc_floats(n * 2);
    double *lp = mf_alloc_doubles(n);
    ck_assert(keep != NULL && lp != NULL);
    memcpy(keep, x, n * 2 * sizeof(float));
    mf_ode_lik_opts o = {.steps = 500, .div = MF_DIV_EXACT, .seed = 4};
    ck_assert_int_eq(mf_eval_logp(&ex, m, &o, x, n, lp), MF_OK);
    ck_assert_uint_eq(g.calls, 1);
    ck_assert_int_eq(memcmp(keep, x, n * 2 * sizeof(float)), 0); /* x_data untouched */
    double sum = 0.0, sum_want = 0.0;
    for (size_t i = 0; i < n; i++) {
        double want = oracle_data_logpdf(&g, offset, scale, x + 2 * i);
        ck_assert_msg(fabs(lp[i] - want) < 0.01 * fmax(fabs(want), 1.0), "row %zu: %.5f vs %.5f", i,
                      lp[i], want);
        sum += lp[i];
        sum_want += want;
    }
    ck_assert_msg(fabs(sum - sum_want) / (double) n < 0.01, "mean %.5f vs %.5f", sum / (double) n,
                  sum_want / (double) n);

    /* The summary of the same points: -nll is their mean, to rounding. */
    mf_lik_stats st;
    ck_assert_int_eq(mf_eval_lik(&ex, m, &o, x, n, false, &st), MF_OK);
    ck_assert_double_eq_tol(st.nll, -sum / (double) n, 1e-12);
    ck_assert(!st.of_samples && !st.dequantised && isnan(st.bits_per_dim));
    ck_assert_uint_eq(st.n, n);
    ck_assert_uint_eq(st.dim, 2);
    ck_assert_uint_eq(st.steps, 500);
    mf_free_aligned(x);
    mf_free_aligned(keep);
    mf_free_aligned(lp);
    mf_model_free(m);
}

END_TEST

/* The ODE's own samples: -mean log p_data is the entropy of the data-space law. */
START_TEST(test_ode_entropy_data_space)
{
    const double offset = -0.5, scale = 3.0;
    mf_model *m = new_model(2, NULL, offset, scale);
    oracle g;
    oracle_init(&g, 2, 0.25, 1.25);
    mf_eval_exec ex = {.ode_logp = oracle_ode_logp, .ctx = &g};
    mf_ode_lik_opts o = {.steps = 200, .div = MF_DIV_EXACT, .seed = 8};
    mf_lik_stats st;
    ck_assert_int_eq(mf_eval_lik(&ex, m, &o, NULL, 400, false, &st), MF_OK);
    /* H = sum_d (1/2) log(2 pi e scale^2 s2_d); sd of the mean of 400 about 0.05 */
    double H = 0.0;
    for (size_t d = 0; d < 2; d++) {
        H += 0.5 * (LOG_2PI + 1.0 + log(scale * scale * g.s2[d]));
    }
    ck_assert_msg(fabs(st.nll - H) < 0.2, "%.4f vs %.4f", st.nll, H);
    ck_assert(st.of_samples);
    ck_assert_double_lt(st.nll_se, 0.1);
    mf_model_free(m);
}

END_TEST

/* The calling-thread executor (ex NULL) runs the model's own network. */
START_TEST(test_logp_calling_thread)
{
    const double offset = 0.25, scale = 2.0;
    size_t n = 12, D = 2;
    mf_model *m = new_model(D, NULL, offset, scale);
    float x[24], xm[24];
    mf_rng_normal(mf_rng_make(5), 0, x, n * D);
    memcpy(xm, x, sizeof x);
    mf_model_from_data(m, xm, n * D);
    mf_ode_lik_opts o = {.steps = 10, .div = MF_DIV_EXACT, .seed = 1};
    double lp[12], want[12];
    ck_assert_int_eq(mf_eval_logp(NULL, m, &o, x, n, lp), MF_OK);
    mf_mlp_div_ctx dc;
    ck_assert_int_eq(mf_mlp_div_ctx_init(&dc, m->net, n), MF_OK);
    ck_assert_int_eq(
        mf_ode_loglik(&m->sched, (mf_eps_div_fn){mf_mlp_eps_div_eval, &dc}, &o, xm, n, D, want),
        MF_OK);
    mf_mlp_div_ctx_deinit(&dc);
    for (size_t i = 0; i < n; i++) {
        ck_assert_double_eq_tol(lp[i], want[i] - (double) D * log(scale), 1e-12);
    }
    /* an empty executor is the calling thread too */
    mf_eval_exec none = {0};
    double again[12];
    ck_assert_int_eq(mf_eval_logp(&none, m, &o, x, n, again), MF_OK);
    ck_assert_int_eq(memcmp(lp, again, sizeof lp), 0);
    ck_assert_int_eq(mf_eval_logp(NULL, m, &o, x, 0, lp), MF_EINVAL);
    ck_assert_int_eq(mf_eval_logp(NULL, m, &o, NULL, n, lp), MF_EINVAL);
    mf_model_free(m);
}

END_TEST

/* Held-out digits: at most 297, dequantised, handed to the ODE in model space. */
START_TEST(test_heldout_digits)
{
    mf_model *m = new_model(64, "digits", 8.0, 8.0);
    oracle g;
    oracle_init(&g, 64, 0.1, 0.005);
    mf_eval_exec ex = {.ode_logp = oracle_ode_logp, .ctx = &g};
    mf_ode_lik_opts o = {.steps = 10, .div = MF_DIV_EXACT, .seed = 1000};
    mf_lik_stats st;
    ck_assert_int_eq(mf_eval_heldout_lik(&ex, m, &o, 1000, &st), MF_OK);
    ck_assert_uint_eq(st.n, MF_DATASET_DIGITS_N_HELDOUT);
    ck_assert(st.dequantised && !st.of_samples);
    ck_assert_double_eq_tol(st.bits_per_dim, st.nll / (64.0 * log(2.0)), 1e-12);
    ck_assert_double_le(g.max_abs, 1.0 + 0.5 / 8.0 + 1e-6); /* pixels 0..16 +- 1/2 -> model space */
    ck_assert_uint_gt(g.off_grid, MF_DATASET_DIGITS_N_HELDOUT * 64 / 2);
    mf_model_free(m);

    m = new_model(2, NULL, 0.0, 1.0); /* no data set */
    ck_assert_int_eq(mf_eval_heldout_lik(&ex, m, &o, 10, &st), MF_ENOTFOUND);
    mf_model_free(m);
}

END_TEST

/* ---- common random numbers --------------------------------------------------------------- */

START_TEST(test_crn_sample)
{
    size_t n = 20, D = 2, steps = 10;
    mf_model *m = new_model(D, NULL, 1.0, 2.0);
    float a[40], b[40], c[40], ref[40];
    ck_assert_int_eq(mf_eval_crn_sample(NULL, m, m->net, steps, 5, NULL, a, n), MF_OK);
    ck_assert_int_eq(mf_eval_crn_sample(NULL, m, m->net, steps, 5, NULL, b, n), MF_OK);
    ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
    ck_assert_int_eq(mf_eval_crn_sample(NULL, m, m->net, steps, 6, NULL, c, n), MF_OK);
    size_t same = 0;
    for (size_t j = 0; j < n * D; j++) {
        same += a[j] == c[j];
    }
    ck_assert_uint_eq(same, 0);

    /* DDPM on the tagged seed, mapped to data space */
    mf_mlp_ws *ws = NULL;
    ck_assert_int_eq(mf_mlp_ws_new_frozen(m->net, n, &ws), MF_OK);
    mf_mlp_eps_ctx ec = {.net = m->net, .ws = ws};
    mf_sampler_opts so = {.kind = MF_SAMPLER_DDPM, .steps = steps, .seed = 5 ^ MF_EVAL_SEED_TAG};
    ck_assert_int_eq(mf_sample(&m->sched, (mf_eps_fn){mf_mlp_eps_eval, &ec}, &so, ref, n, D),
                     MF_OK);
    mf_mlp_ws_free(ws);
    mf_model_to_data(m, ref, n * D);
    ck_assert_int_eq(memcmp(a, ref, sizeof a), 0);

    /* another network of the same architecture (a fine-tuned copy) on the same noise */
    mf_mlp *net2 = NULL;
    ck_assert_int_eq(mf_mlp_clone(m->net, &net2), MF_OK);
    mf_mlp_init_params(net2, 99);
    ck_assert_int_eq(mf_eval_crn_sample(NULL, m, net2, steps, 5, NULL, c, n), MF_OK);
    ck_assert_int_ne(memcmp(a, c, sizeof a), 0);
    mf_mlp_free(net2);

    atomic_int stop;
    atomic_init(&stop, 1);
    ck_assert_int_eq(mf_eval_crn_sample(NULL, m, m->net, steps, 5, &stop, c, n), MF_ECANCELED);
    ck_assert_int_eq(mf_eval_crn_sample(NULL, m, m->net, 0, 5, NULL, c, n), MF_EINVAL);
    ck_assert_int_eq(mf_eval_crn_sample(NULL, m, m->net, 1001, 5, NULL, c, n), MF_EINVAL);
    ck_assert_int_eq(mf_eval_crn_sample(NULL, m, m->net, steps, 5, NULL, c, 0), MF_EINVAL);
    mf_model *other = new_model(3, NULL, 0.0, 1.0);
    ck_assert_int_eq(mf_eval_crn_sample(NULL, m, other->net, steps, 5, NULL, c, n), MF_EINVAL);
    mf_model_free(other);
    mf_model_free(m);
}

END_TEST

/* ---- data set and metrics ------------------------------------------------------------------ */

START_TEST(test_dataset_lookup)
{
    mf_dataset_id id = MF_DATASET_COUNT;
    mf_model *m = new_model(2, "eight_gaussians", 0.0, 1.0);
    ck_assert_int_eq(mf_eval_dataset(m, &id), MF_OK);
    ck_assert_int_eq(id, MF_DATASET_EIGHT_GAUSSIANS);
    id = MF_DATASET_COUNT;
    ck_assert_int_eq(mf_model_set_meta(m, "dataset", "digits", NULL), MF_OK); /* 64-D */
    ck_assert_int_eq(mf_eval_dataset(m, &id), MF_ENOTFOUND);
    ck_assert_int_eq(mf_model_set_meta(m, "dataset", "moons", NULL), MF_OK);
    ck_assert_int_eq(mf_eval_dataset(m, &id), MF_ENOTFOUND);
    ck_assert_int_eq(id, MF_DATASET_COUNT);
    ck_assert_int_eq(mf_eval_dataset(m, NULL), MF_EINVAL);
    mf_model_free(m);
    m = new_model(2, NULL, 0.0, 1.0);
    ck_assert_int_eq(mf_eval_dataset(m, &id), MF_ENOTFOUND);
    mf_model_free(m);
    m = new_model(64, "digits", 8.0, 8.0);
    ck_assert_int_eq(mf_eval_dataset(m, &id), MF_OK);
    ck_assert_int_eq(id, MF_DATASET_DIGITS);
    mf_model_free(m);
}

END_TEST

START_TEST(test_metrics)
{
    size_t n = 200;
    mf_model *m = new_model(2, "eight_gaussians", 0.0, 1.0);
    float *x = mf_alloc_floats(n * 2), *ref = mf_alloc_floats(n * 2);
    ck_assert(x != NULL && ref != NULL);
    ck_assert_int_eq(mf_dataset_sample(MF_DATASET_EIGHT_GAUSSIANS, mf_rng_make(1), 0, x, n), MF_OK);
    ck_assert_int_eq(mf_dataset_heldout(MF_DATASET_EIGHT_GAUSSIANS, ref, n), MF_OK);
    mf_metrics met;
    mf_diag d = {0};
    ck_assert_int_eq(mf_eval_metrics(m, NULL, x, n, NULL, 0, &met, &d), MF_OK);
    ck_assert(met.has_modes && !met.has_ref); /* the data set's statistics, no twins */
    ck_assert_uint_eq(met.modes.covered, 8);
    ck_assert_int_eq(mf_eval_metrics(m, NULL, x, n, ref, n, &met, &d), MF_OK);
    ck_assert(met.has_ref && met.n_ref == n);

    /* a model without a data set gets the set-independent metrics only */
    ck_assert_int_eq(mf_model_set_meta(m, "dataset", "none", NULL), MF_OK);
    ck_assert_int_eq(mf_eval_metrics(m, NULL, x, n, NULL, 0, &met, &d), MF_OK);
    ck_assert(!met.has_modes && met.has_hist);

    /* too few samples for the kNN estimator: the message the daemon shows */
    ck_assert_int_eq(mf_eval_metrics(m, NULL, x, 5, NULL, 0, &met, &d), MF_EINVAL);
    ck_assert_str_eq(d.msg, "metrics need more than 5 samples");
    mf_metrics_opts o;
    mf_metrics_opts_default(&o, 2);
    o.knn_k = 3;
    ck_assert_int_eq(mf_eval_metrics(m, &o, x, 3, NULL, 0, &met, &d), MF_EINVAL);
    ck_assert_str_eq(d.msg, "metrics need more than 3 samples");
    ck_assert_int_eq(mf_eval_metrics(m, &o, x, 4, NULL, 0, &met, &d), MF_OK);

    /* other failures */
    x[7] = NAN;
    ck_assert_int_eq(mf_eval_metrics(m, NULL, x, n, NULL, 0, &met, &d), MF_ERANGE);
    ck_assert_str_eq(d.msg, "metrics failed: value out of range");
    mf_free_aligned(x);
    mf_free_aligned(ref);
    mf_model_free(m);
}

END_TEST

static Suite *evaluate_suite(void)
{
    Suite *s = suite_create("evaluate");
    TCase *tc = tcase_create("evaluate");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_logp_data_space);
    tcase_add_test(tc, test_ode_entropy_data_space);
    tcase_add_test(tc, test_logp_calling_thread);
    tcase_add_test(tc, test_heldout_digits);
    tcase_add_test(tc, test_crn_sample);
    tcase_add_test(tc, test_dataset_lookup);
    tcase_add_test(tc, test_metrics);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(evaluate_suite)
