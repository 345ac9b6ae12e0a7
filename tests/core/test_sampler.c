/* SPDX-License-Identifier: MIT */
/*
 * Tests of core/sampler.c with the analytic epsilon of Gaussian data
 * (ALGORITHMS.md): for x0 ~ N(0, s^2 I), x_t ~ N(0, (ab s^2 + 1 - ab) I) and
 *     eps*(x, t) = sqrt(1 - ab) x / (ab s^2 + 1 - ab).
 * Plugged in instead of a network, every sampler must return mean 0 and
 * variance s^2, up to a discretisation error that shrinks with the steps.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler.h"
#include "test_util.h"

#define S2 0.25 /* data variance s^2 */

typedef struct gauss_ctx {
    const mf_schedule *s;
    size_t D;
    size_t calls;
} gauss_ctx;

static void gauss_eps(void *ctx, const float *x, size_t n, float t, float *out)
{
    gauss_ctx *g = ctx;
    double ab = g->s->alpha_bar[(size_t) t];
    float k = (float) (sqrt(1.0 - ab) / (ab * S2 + 1.0 - ab));
    for (size_t j = 0; j < n * g->D; j++) {
        out[j] = k * x[j];
    }
    g->calls++;
}

static void moments(const float *x, size_t n, size_t D, double *mean, double *var)
{
    double m = 0, v = 0;
    for (size_t j = 0; j < n * D; j++) {
        m += x[j];
    }
    m /= (double) (n * D);
    for (size_t j = 0; j < n * D; j++) {
        v += (x[j] - m) * (x[j] - m);
    }
    *mean = m;
    *var = v / (double) (n * D - 1);
}

static mf_schedule sched;

static void setup(void)
{
    ck_assert_int_eq(mf_schedule_init(&sched, "linear:0.0001:0.02:1000", NULL), MF_OK);
}

static void teardown(void)
{
    mf_schedule_deinit(&sched);
}

static double run_var(mf_sampler_kind kind, size_t steps, float eta, size_t n, uint64_t seed,
                      double *ret_mean)
{
    size_t D = 2;
    float *x = malloc(n * D * sizeof(float));
    gauss_ctx g = {.s = &sched, .D = D};
    mf_eps_fn fn = {.eval = gauss_eps, .ctx = &g};
    mf_sampler_opts o = {.kind = kind, .steps = steps, .eta = eta, .seed = seed};
    ck_assert_int_eq(mf_sample(&sched, fn, &o, x, n, D), MF_OK);
    ck_assert_uint_eq(g.calls, mf_sampler_n_evals(&o));
    double mean, var;
    moments(x, n, D, &mean, &var);
    free(x);
    *ret_mean = mean;
    return var;
}

START_TEST(test_gaussian_oracle)
{
    /* n = 20000 rows x 2 dims: the sample variance has s.e. s^2 sqrt(2/40000) = 0.0018 and the
     * mean s.e. 0.0025; tolerances are 4-5 s.e. plus the discretisation allowance.  First-order
     * samplers on a strided grid shrink the variance (measured with this oracle: DDPM 0.150 at
     * 20 steps, 0.220 at 100, 0.243 at 500, 0.246 at 1000; DDIM eta=0 0.237 at 100, 0.244 at
     * 200), so they are held to 1 % here only at fine grids; the coarse grids are checked for
     * convergence in test_discretisation_error_shrinks. */
    static const struct {
        mf_sampler_kind kind;
        size_t steps;
        float eta;
        double tol;
    } rows[] = {
        {MF_SAMPLER_DDPM, 1000, 0, 0.010},   {MF_SAMPLER_DDPM, 500, 0, 0.012},
        {MF_SAMPLER_DDIM, 200, 0.0f, 0.010}, {MF_SAMPLER_DDIM, 200, 0.5f, 0.012},
        {MF_SAMPLER_ODE, 50, 0, 0.010},
    };

    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        double mean, var = run_var(rows[i].kind, rows[i].steps, rows[i].eta, 20000, 11, &mean);
        ck_assert_msg(fabs(var - S2) < rows[i].tol, "%s %zu steps eta %.1f: var %.4f",
                      mf_sampler_name(rows[i].kind), rows[i].steps, (double) rows[i].eta, var);
        ck_assert_msg(fabs(mean) < 0.012, "%s mean %.4f", mf_sampler_name(rows[i].kind), mean);
    }
}

END_TEST

/*
 * The exact eps of N(0, s^2) data at a continuous DDPM index: the linear
 * parent's alpha_bar(tau) = d^(tau+1) Gamma(c+1)/Gamma(c-tau), d = (b1 - b0)/(N-1),
 * c = (1 - b0)/d (var_sched.c finds tau_t by inverting the same function).
 */
static double lin_alpha_bar(double tau)
{
    double b0 = 1e-4, d = (0.02 - 1e-4) / 999.0, c = (1.0 - b0) / d;
    return exp((tau + 1.0) * log(d) + lgamma(c + 1.0) - lgamma(c - tau));
}

static float gauss_k(float tau)
{
    double ab = lin_alpha_bar((double) tau);
    return (float) (sqrt(1.0 - ab) / (ab * S2 + 1.0 - ab));
}

static void gauss_eps_cont(void *ctx, const float *x, size_t n, float t, float *out)
{
    gauss_ctx *g = ctx;
    float k = gauss_k(t);
    for (size_t j = 0; j < n * g->D; j++) {
        out[j] = k * x[j];
    }
    g->calls++;
}

/*
 * The variance after the chain when x_0 has variance v0, for the exact eps:
 * every step is linear, x' = (xmult + cmult k_t) x + sigma_t z, so
 * v' = (xmult + cmult k_t)^2 v + sigma_t^2, in double with the float
 * coefficients the sampler uses.
 */
static double var_recursion(const mf_var_sched *v, double v0)
{
    double var = v0;
    for (size_t t = 0; t < v->T; t++) {
        double a = (double) (float) v->xmult[t] +
                   (double) (float) v->cmult[t] * (double) gauss_k((float) v->tau[t]);
        double sg = (double) (float) v->sigma[t];
        var = a * a * var + sg * sg;
    }
    return var;
}

/*
 * Oracle 1 of DxMI's sampler.  The sampled variance must be the exact
 * recursion's from x_0 ~ N(0, 1).  n = 20000 rows x 2 dims: the sample
 * variance has a relative s.e. of sqrt(2/40000) = 0.71 %, the mean an s.e.
 * of sqrt(v/40000); the tolerances are 5 s.e.  How far that lands from s^2
 * is printed, with the part due to the start: the code chain starts from
 * N(0, 1) at alpha_bar = prod (1 - beta~) = 0.22 (0.021 at T = 10), where the
 * marginal is ab s^2 + 1 - ab = 0.835 (0.984).  Measured (exact, / s^2): code
 * 0.495 at T = 5 (0.482 from the marginal), 0.614 at T = 10; matched 0.420
 * and 0.588: like every ancestral sampler on a coarse grid (DDPM at 20
 * strided steps: 0.60, above), the chain shrinks the variance, and the error
 * shrinks with T (test_var_converges).
 */
START_TEST(test_var_gaussian_oracle)
{
    enum {
        N = 20000,
        D = 2
    };

    float *x = malloc(N * D * sizeof(float));
    for (size_t T = 5; T <= 10; T += 5) {
        for (int kind = 0; kind <= 1; kind++) {
            const char *name = mf_var_sched_kind_name((mf_var_sched_kind) kind);
            mf_var_sched v;
            ck_assert_int_eq(mf_var_sched_init(&sched, T, (mf_var_sched_kind) kind, &v), MF_OK);
            double ab = mf_var_sched_alpha_bar(&v);
            double exact = var_recursion(&v, 1.0), marg = var_recursion(&v, ab * S2 + 1.0 - ab);
            gauss_ctx g = {.s = &sched, .D = D};
            mf_eps_fn fn = {.eval = gauss_eps_cont, .ctx = &g};
            mf_sampler_opts o = {.kind = MF_SAMPLER_VAR, .steps = T, .var = &v, .seed = 17};
            ck_assert_int_eq(mf_sample(NULL, fn, &o, x, N, D), MF_OK);
            ck_assert_uint_eq(g.calls, T);
            double mean, var;
            moments(x, N, D, &mean, &var);
            printf("var %s T=%zu: sampled variance %.4f, exact %.4f (%.3f s^2; from the "
                   "marginal at ab = %.3g: %.3f s^2), mean %.4f\n",
                   name, T, var, exact, exact / S2, ab, marg / S2, mean);
            ck_assert_msg(fabs(var / exact - 1.0) < 5.0 * sqrt(2.0 / (N * D)),
                          "%s T=%zu: var %.4f vs exact %.4f", name, T, var, exact);
            ck_assert_msg(fabs(mean) < 5.0 * sqrt(exact / (N * D)), "mean %.4f", mean);
        }
    }
    /* a trained sigma enters the noise, the mean keeps sigma0: 0.124 -> 0.226 */
    mf_var_sched v;
    ck_assert_int_eq(mf_var_sched_init(&sched, 5, MF_VAR_SCHED_CODE, &v), MF_OK);
    v.sigma[1] *= 1.8;
    gauss_ctx g = {.s = &sched, .D = D};
    mf_eps_fn fn = {.eval = gauss_eps_cont, .ctx = &g};
    mf_sampler_opts o = {.kind = MF_SAMPLER_VAR, .steps = 5, .var = &v, .seed = 18};
    ck_assert_int_eq(mf_sample(NULL, fn, &o, x, N, D), MF_OK);
    double mean, var, exact = var_recursion(&v, 1.0);
    moments(x, N, D, &mean, &var);
    printf("var code T=5, sigma_1 x 1.8: sampled variance %.4f, exact %.4f\n", var, exact);
    ck_assert_msg(fabs(var / exact - 1.0) < 5.0 * sqrt(2.0 / (N * D)), "%.4f vs %.4f", var, exact);
    free(x);
}

END_TEST

/* The chain's variance error shrinks with T, towards s^2 (0.884 s^2 at T = 64; the code
 * chain saturates below T = 5: 0.545 s^2 at T = 3, 0.495 at 5). */
START_TEST(test_var_converges)
{
    static const size_t Ts[] = {5, 10, 20, 40, 64};
    for (int kind = 0; kind <= 1; kind++) {
        double prev = INFINITY;
        for (size_t i = 0; i < sizeof Ts / sizeof Ts[0]; i++) {
            mf_var_sched v;
            ck_assert_int_eq(mf_var_sched_init(&sched, Ts[i], (mf_var_sched_kind) kind, &v), MF_OK);
            double err = fabs(var_recursion(&v, 1.0) / S2 - 1.0);
            ck_assert_msg(err < prev, "kind %d T=%zu: error %.4f !< %.4f", kind, Ts[i], err, prev);
            prev = err;
        }
        ck_assert_msg(prev < 0.13, "kind %d: error %.4f at T = 64", kind, prev);
    }
}

END_TEST

START_TEST(test_discretisation_error_shrinks)
{
    /* Deterministic samplers with the same initial noise: the variance error at
     * 10 steps is larger than at 100 steps, and at 100 it is below 1 %. */
    double m, e10, e100;
    e10 = fabs(run_var(MF_SAMPLER_DDIM, 10, 0.0f, 20000, 3, &m) - S2);
    e100 = fabs(run_var(MF_SAMPLER_DDIM, 100, 0.0f, 20000, 3, &m) - S2);
    ck_assert_msg(e100 < e10, "ddim: %g !< %g", e100, e10);
    double d20 = fabs(run_var(MF_SAMPLER_DDPM, 20, 0.0f, 20000, 3, &m) - S2);
    double d200 = fabs(run_var(MF_SAMPLER_DDPM, 200, 0.0f, 20000, 3, &m) - S2);
    ck_assert_msg(d200 < 0.5 * d20, "ddpm: %g !< %g / 2", d200, d20);
    double h5 = fabs(run_var(MF_SAMPLER_ODE, 5, 0.0f, 20000, 3, &m) - S2);
    double h50 = fabs(run_var(MF_SAMPLER_ODE, 50, 0.0f, 20000, 3, &m) - S2);
    ck_assert_msg(h50 < h5, "ode: %g !< %g", h50, h5);
    /* Heun is second order: at 10 steps it beats 10 DDIM (Euler) steps. */
    double h10 = fabs(run_var(MF_SAMPLER_ODE, 10, 0.0f, 20000, 3, &m) - S2);
    ck_assert_msg(h10 < e10, "heun %g !< euler %g", h10, e10);
}

END_TEST

START_TEST(test_split_invariance)
{
    /* The same seed gives the same samples whatever the batch split. */
    size_t D = 2;
    float whole[20], part[20];
    gauss_ctx g = {.s = &sched, .D = D};
    mf_eps_fn fn = {.eval = gauss_eps, .ctx = &g};
    mf_var_sched v;
    ck_assert_int_eq(mf_var_sched_init(&sched, 20, MF_VAR_SCHED_CODE, &v), MF_OK);
    for (int kind = 0; kind <= MF_SAMPLER_VAR; kind++) {
        mf_sampler_opts o = {
            .kind = (mf_sampler_kind) kind, .steps = 20, .eta = 0.3f, .seed = 9, .var = &v};
        ck_assert_int_eq(mf_sample(&sched, fn, &o, whole, 10, D), MF_OK);
        ck_assert_int_eq(mf_sample(&sched, fn, &o, part, 4, D), MF_OK);
        o.first_index = 4;
        ck_assert_int_eq(mf_sample(&sched, fn, &o, part + 8, 6, D), MF_OK);
        ck_assert_mem_eq(whole, part, sizeof whole);
        o.first_index = 0;
        o.seed = 10;
        ck_assert_int_eq(mf_sample(&sched, fn, &o, part, 10, D), MF_OK);
        ck_assert(memcmp(whole, part, sizeof whole) != 0);
    }
}

END_TEST

/*
 * Segments: three requests (seeds 5, 6, 7; the last at first index 3) batched
 * into one run give exactly the rows of three separate runs; slicing a
 * segmented run into chunks gives the same rows again.
 */
START_TEST(test_segments)
{
    enum {
        D = 2,
        N = 9
    };

    gauss_ctx g = {.s = &sched, .D = D};
    mf_eps_fn fn = {.eval = gauss_eps, .ctx = &g};
    const mf_sample_seg segs[3] = {{.rows = 2, .seed = 5, .first_index = 0},
                                   {.rows = 4, .seed = 6, .first_index = 0},
                                   {.rows = 3, .seed = 7, .first_index = 3}};
    mf_var_sched v;
    ck_assert_int_eq(mf_var_sched_init(&sched, 15, MF_VAR_SCHED_MATCHED, &v), MF_OK);
    for (int kind = 0; kind <= MF_SAMPLER_VAR; kind++) {
        float batched[N * D], alone[N * D], chunked[N * D];
        mf_sampler_opts o = {.kind = (mf_sampler_kind) kind,
                             .steps = 15,
                             .eta = 0.5f,
                             .segs = segs,
                             .n_segs = 3,
                             .var = &v};
        ck_assert_int_eq(mf_sample(&sched, fn, &o, batched, N, D), MF_OK);
        size_t r = 0;
        for (size_t k = 0; k < 3; k++) {
            mf_sampler_opts a = {.kind = o.kind,
                                 .steps = 15,
                                 .eta = 0.5f,
                                 .seed = segs[k].seed,
                                 .first_index = segs[k].first_index,
                                 .var = &v};
            ck_assert_int_eq(mf_sample(&sched, fn, &a, alone + r * D, segs[k].rows, D), MF_OK);
            r += segs[k].rows;
        }
        ck_assert_mem_eq(batched, alone, sizeof batched);
        /* chunks [0, 1), [1, 5), [5, 9): cut inside the first and second segments */
        const size_t cuts[4] = {0, 1, 5, 9};
        for (size_t c = 0; c < 3; c++) {
            mf_sample_seg part[MF_SAMPLER_MAX_SEGS];
            mf_sampler_opts co = o;
            co.n_segs = mf_sampler_segs_slice(&o, cuts[c], cuts[c + 1] - cuts[c], part);
            co.segs = part;
            ck_assert_int_eq(
                mf_sample(&sched, fn, &co, chunked + cuts[c] * D, cuts[c + 1] - cuts[c], D), MF_OK);
        }
        ck_assert_mem_eq(batched, chunked, sizeof batched);
    }

    mf_sample_seg part[MF_SAMPLER_MAX_SEGS];
    mf_sampler_opts o = {.kind = MF_SAMPLER_DDIM, .steps = 5, .segs = segs, .n_segs = 3};
    ck_assert_uint_eq(mf_sampler_segs_slice(&o, 1, 5, part), 2);
    ck_assert_uint_eq(part[0].rows, 1);
    ck_assert_uint_eq(part[0].first_index, 1);
    ck_assert_uint_eq(part[1].rows, 4);
    ck_assert_uint_eq(part[1].seed, 6);
    ck_assert_uint_eq(mf_sampler_segs_slice(&o, 7, 2, part), 1);
    ck_assert_uint_eq(part[0].first_index, 4); /* 3 + (7 - 6) */
    ck_assert_uint_eq(part[0].rows, 2);
    mf_sampler_opts plain = {.seed = 4, .first_index = 10};
    ck_assert_uint_eq(mf_sampler_segs_slice(&plain, 3, 2, part), 1);
    ck_assert_uint_eq(part[0].first_index, 13);
    ck_assert_uint_eq(part[0].seed, 4);

    float x[N * D];
    ck_assert_int_eq(mf_sample(&sched, fn, &o, x, N - 1, D), MF_EINVAL); /* rows sum to 9 */
    o.n_segs = 0;
    ck_assert_int_eq(mf_sample(&sched, fn, &o, x, N, D), MF_EINVAL);
    o.n_segs = MF_SAMPLER_MAX_SEGS + 1;
    ck_assert_int_eq(mf_sample(&sched, fn, &o, x, N, D), MF_EINVAL);
}

END_TEST

static void count_progress(void *ctx, size_t done, size_t total)
{
    size_t *seen = ctx;
    ck_assert_uint_le(done, total);
    seen[0]++;
    seen[1] = done;
    seen[2] = total;
}

static atomic_int cancel_flag;

static void cancel_after_3(void *ctx, size_t done, size_t total)
{
    (void) ctx;
    (void) total;
    if (done == 3) {
        atomic_store(&cancel_flag, 1);
    }
}

START_TEST(test_progress_cancel_and_errors)
{
    float x[8];
    gauss_ctx g = {.s = &sched, .D = 2};
    mf_eps_fn fn = {.eval = gauss_eps, .ctx = &g};
    size_t seen[3] = {0};
    mf_sampler_opts o = {.kind = MF_SAMPLER_ODE,
                         .steps = 7,
                         .seed = 1,
                         .progress = count_progress,
                         .progress_ctx = seen};
    ck_assert_int_eq(mf_sample(&sched, fn, &o, x, 4, 2), MF_OK);
    ck_assert_uint_eq(seen[0], 7);
    ck_assert_uint_eq(seen[1], 13);
    ck_assert_uint_eq(seen[2], 13);

    atomic_store(&cancel_flag, 0);
    g.calls = 0;
    mf_sampler_opts c = {.kind = MF_SAMPLER_DDIM,
                         .steps = 10,
                         .seed = 1,
                         .cancel = &cancel_flag,
                         .progress = cancel_after_3};
    ck_assert_int_eq(mf_sample(&sched, fn, &c, x, 4, 2), MF_ECANCELED);
    ck_assert_uint_eq(g.calls, 3);

    mf_sampler_opts bad = {.kind = MF_SAMPLER_DDIM, .steps = 0};
    ck_assert_int_eq(mf_sample(&sched, fn, &bad, x, 4, 2), MF_EINVAL);
    bad.steps = 1001;
    ck_assert_int_eq(mf_sample(&sched, fn, &bad, x, 4, 2), MF_EINVAL);
    bad.steps = 10;
    bad.eta = 1.5f;
    ck_assert_int_eq(mf_sample(&sched, fn, &bad, x, 4, 2), MF_EINVAL);
    bad.eta = NAN;
    ck_assert_int_eq(mf_sample(&sched, fn, &bad, x, 4, 2), MF_EINVAL);
    bad.eta = 0.0f;
    ck_assert_int_eq(mf_sample(NULL, fn, &bad, x, 4, 2), MF_EINVAL); /* a grid needs s */
    bad.kind = (mf_sampler_kind) 4;
    ck_assert_int_eq(mf_sample(&sched, fn, &bad, x, 4, 2), MF_EINVAL);

    /* VAR: the chain, steps = its T; progress per step; cancel between steps */
    mf_var_sched v;
    ck_assert_int_eq(mf_var_sched_init(&sched, 5, MF_VAR_SCHED_CODE, &v), MF_OK);
    mf_sampler_opts vo = {.kind = MF_SAMPLER_VAR,
                          .steps = 5,
                          .seed = 1,
                          .var = &v,
                          .eta = 7.0f, /* ignored */
                          .progress = count_progress,
                          .progress_ctx = seen};
    seen[0] = 0;
    ck_assert_int_eq(mf_sample(NULL, fn, &vo, x, 4, 2), MF_OK);
    ck_assert_uint_eq(mf_sampler_n_evals(&vo), 5);
    ck_assert_uint_eq(seen[0], 5);
    ck_assert_uint_eq(seen[1], 5);
    ck_assert_uint_eq(seen[2], 5);
    atomic_store(&cancel_flag, 0);
    g.calls = 0;
    vo.cancel = &cancel_flag;
    vo.progress = cancel_after_3;
    ck_assert_int_eq(mf_sample(NULL, fn, &vo, x, 4, 2), MF_ECANCELED);
    ck_assert_uint_eq(g.calls, 3);
    vo.cancel = NULL;
    vo.steps = 4;
    ck_assert_int_eq(mf_sample(&sched, fn, &vo, x, 4, 2), MF_EINVAL);
    vo.steps = 5;
    vo.var = NULL;
    ck_assert_int_eq(mf_sample(&sched, fn, &vo, x, 4, 2), MF_EINVAL);
}

END_TEST

START_TEST(test_grid_and_names)
{
    ck_assert_int_eq(mf_sampler_grid_t(1000, 100, 0), 999);
    ck_assert_int_eq(mf_sampler_grid_t(1000, 100, 99), 0);
    ck_assert_int_eq(mf_sampler_grid_t(1000, 1000, 1), 998);
    ck_assert_int_eq(mf_sampler_grid_t(1000, 1, 0), 999);
    for (size_t i = 1; i < 100; i++) {
        ck_assert_int_lt(mf_sampler_grid_t(1000, 100, i), mf_sampler_grid_t(1000, 100, i - 1));
    }
    mf_sampler_kind k;
    ck_assert_int_eq(mf_sampler_lookup("ode", &k), MF_OK);
    ck_assert_int_eq(k, MF_SAMPLER_ODE);
    ck_assert_int_eq(mf_sampler_lookup("var", &k), MF_OK);
    ck_assert_int_eq(k, MF_SAMPLER_VAR);
    ck_assert_str_eq(mf_sampler_name(MF_SAMPLER_VAR), "var");
    ck_assert_str_eq(mf_sampler_name((mf_sampler_kind) 4), "unknown");
    ck_assert_ptr_null(mf_sampler_names[4]);
    ck_assert_int_eq(mf_sampler_lookup("euler", &k), MF_ENOTFOUND);
    ck_assert_int_eq(mf_sampler_lookup(NULL, &k), MF_ENOTFOUND);
}

END_TEST

static Suite *sampler_suite(void)
{
    Suite *s = suite_create("sampler");
    TCase *tc = tcase_create("oracle");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_gaussian_oracle);
    tcase_add_test(tc, test_var_gaussian_oracle);
    tcase_add_test(tc, test_var_converges);
    tcase_add_test(tc, test_discretisation_error_shrinks);
    tcase_add_test(tc, test_split_invariance);
    tcase_add_test(tc, test_segments);
    tcase_add_test(tc, test_progress_cancel_and_errors);
    tcase_add_test(tc, test_grid_and_names);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(sampler_suite)
