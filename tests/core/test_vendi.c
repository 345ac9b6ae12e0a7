/* SPDX-License-Identifier: MIT */
/*
 * test_vendi.c - Vendi score: the error table; exact cases (one point repeated,
 * far-apart points, clusters and orthogonal groups whose spectrum is their
 * sizes / N, two points); VS_2 against a plain double loop and VS_1 against a
 * Jacobi eigensolver written here; Renyi monotonicity VS_1 >= VS_2; cosine
 * invariances and zero rows; RBF close pairs far from the mean and extreme l;
 * the anchors of reference/other-seeds.md §4.5 with the closed-form population
 * values.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "dataset.h"
#include "rng.h"
#include "test_util.h"
#include "vendi.h"

#define SENTINEL (-12345.0)

/* Points of exact-case tables: at most 16 rows of at most 8 coordinates. */
#define MAX_ROWS 16
#define MAX_COLS 8

#define PI 3.14159265358979323846

/* The score, which must succeed and lie in [1, n] (up to round-off). */
static double vendi_ok(const float *x, size_t n, size_t D, mf_vendi_kernel kernel, double l,
                       int order)
{
    double r = SENTINEL;
    mf_err err = mf_vendi(x, n, D, kernel, l, order, &r);
    ck_assert_msg(err == MF_OK, "mf_vendi: %s", mf_err_name(err));
    ck_assert_msg(r >= 1.0 - 1e-9 && r <= (double) n * (1.0 + 1e-9), "VS = %.17g, n = %zu", r, n);
    return r;
}

/* n D-dimensional standard normal points of seed, times scale. */
static float *normal_cloud(uint64_t seed, size_t n, size_t D, double scale)
{
    float *p = malloc(n * D * sizeof(float));
    ck_assert_ptr_nonnull(p);
    mf_rng_normal(mf_rng_make(seed), 0, p, n * D);
    for (size_t i = 0; i < n * D; i++) {
        p[i] = (float) (scale * (double) p[i]);
    }
    return p;
}

/* K (n, n) of the kernel, in a plain double loop. */
static double *brute_kernel(const float *x, size_t n, size_t D, mf_vendi_kernel kernel, double l)
{
    double *K = malloc(n * n * sizeof(double));
    ck_assert_ptr_nonnull(K);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            double d2 = 0.0, xy = 0.0, xx = 0.0, yy = 0.0;
            for (size_t d = 0; d < D; d++) {
                double a = x[i * D + d], b = x[j * D + d];
                d2 += (a - b) * (a - b);
                xy += a * b;
                xx += a * a;
                yy += b * b;
            }
            K[i * n + j] = kernel == MF_VENDI_RBF ? exp(-d2 / (2.0 * l * l)) : xy / sqrt(xx * yy);
        }
    }
    return K;
}

/* Eigenvalues of the symmetric a (n, n) by cyclic Jacobi rotations; a is destroyed. */
static void jacobi_eigenvalues(double *a, size_t n, double *w)
{
    double off = 0.0;
    for (int sweep = 0; sweep < 50; sweep++) {
        off = 0.0;
        for (size_t p = 0; p < n; p++) {
            for (size_t q = p + 1; q < n; q++) {
                off += a[p * n + q] * a[p * n + q];
            }
        }
        if (off < 1e-30) {
            break;
        }
        for (size_t p = 0; p < n; p++) {
            for (size_t q = p + 1; q < n; q++) {
                double apq = a[p * n + q];
                if (fabs(apq) < 1e-300) {
                    continue;
                }
                double theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                double t = (theta >= 0.0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                for (size_t k = 0; k < n; k++) { /* A P */
                    double akp = a[k * n + p], akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for (size_t k = 0; k < n; k++) { /* P^T (A P) */
                    double apk = a[p * n + k], aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
            }
        }
    }
    ck_assert_msg(off < 1e-30, "Jacobi did not converge: off-diagonal %g", off);
    for (size_t i = 0; i < n; i++) {
        w[i] = a[i * n + i];
    }
}

/* VS_1 and VS_2 of the spectrum lambda = w / n. */
static void spectrum_scores(const double *w, size_t n, double *vs1, double *vs2)
{
    double H = 0.0, p2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        double lambda = w[i] / (double) n;
        if (lambda > 0.0) {
            H -= lambda * log(lambda);
        }
        p2 += lambda * lambda;
    }
    *vs1 = exp(H);
    *vs2 = 1.0 / p2;
}

/* ---- errors ---------------------------------------------------------------------------- */

static const float pts[6] = {0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f};
static const float pts_nan[4] = {0.0f, 1.0f, NAN, 3.0f};
static const float pts_inf[4] = {0.0f, -INFINITY, 2.0f, 3.0f};

static const struct error_case {
    const char *name;
    const float *x;
    size_t n, D;
    mf_vendi_kernel kernel;
    double l;
    int order;
    mf_err expect;
} error_cases[] = {
    {"n = 0", pts, 0, 2, MF_VENDI_RBF, 1.0, 2, MF_EINVAL},
    {"D = 0", pts, 3, 0, MF_VENDI_RBF, 1.0, 2, MF_EINVAL},
    {"x NULL", NULL, 3, 2, MF_VENDI_RBF, 1.0, 2, MF_EINVAL},
    {"order 0", pts, 3, 2, MF_VENDI_RBF, 1.0, 0, MF_EINVAL},
    {"order 3", pts, 3, 2, MF_VENDI_RBF, 1.0, 3, MF_EINVAL},
    {"order -1", pts, 3, 2, MF_VENDI_COSINE, 1.0, -1, MF_EINVAL},
    {"kernel 2", pts, 3, 2, (mf_vendi_kernel) 2, 1.0, 2, MF_EINVAL},
    {"kernel -1", pts, 3, 2, (mf_vendi_kernel) -1, 1.0, 2, MF_EINVAL},
    {"l = 0", pts, 3, 2, MF_VENDI_RBF, 0.0, 2, MF_EINVAL},
    {"l < 0", pts, 3, 2, MF_VENDI_RBF, -1.0, 1, MF_EINVAL},
    {"l NaN", pts, 3, 2, MF_VENDI_RBF, NAN, 2, MF_EINVAL},
    {"l inf", pts, 3, 2, MF_VENDI_RBF, INFINITY, 1, MF_EINVAL},
    {"NaN coordinate", pts_nan, 2, 2, MF_VENDI_RBF, 1.0, 2, MF_ERANGE},
    {"inf coordinate, cosine", pts_inf, 2, 2, MF_VENDI_COSINE, 1.0, 1, MF_ERANGE},
    {"n > max", pts, MF_VENDI_MAX_N + 1, 1, MF_VENDI_RBF, 1.0, 2, MF_ERANGE},
    {"D too large for BLAS", pts, 1, (size_t) 1 << 40, MF_VENDI_RBF, 1.0, 2, MF_ERANGE},
    {"ok, rbf q=1", pts, 3, 2, MF_VENDI_RBF, 1.0, 1, MF_OK},
    {"ok, cosine ignores l", pts, 3, 2, MF_VENDI_COSINE, NAN, 2, MF_OK},
    {"ok, one point", pts, 1, 6, MF_VENDI_RBF, 1.0, 1, MF_OK},
};

START_TEST(test_errors)
{
    const struct error_case *c = &error_cases[_i];
    double r = SENTINEL;
    mf_err err = mf_vendi(c->x, c->n, c->D, c->kernel, c->l, c->order, &r);
    ck_assert_msg(err == c->expect, "%s: got %s", c->name, mf_err_name(err));
    if (err != MF_OK) {
        ck_assert_msg(r == SENTINEL, "%s: ret written on failure", c->name);
    } else {
        ck_assert_msg(r >= 1.0 - 1e-12 && r <= (double) c->n + 1e-12, "%s: %g", c->name, r);
    }
}

END_TEST

START_TEST(test_kernel_names)
{
    mf_vendi_kernel k = (mf_vendi_kernel) 7;
    ck_assert_str_eq(mf_vendi_kernel_name(MF_VENDI_RBF), "rbf");
    ck_assert_str_eq(mf_vendi_kernel_name(MF_VENDI_COSINE), "cosine");
    ck_assert_ptr_null(mf_vendi_kernel_name((mf_vendi_kernel) 2));
    ck_assert_ptr_null(mf_vendi_kernel_name((mf_vendi_kernel) -1));
    ck_assert(mf_vendi_kernel_lookup("cosine", &k) == MF_OK);
    ck_assert_int_eq(k, MF_VENDI_COSINE);
    ck_assert(mf_vendi_kernel_lookup("rbf", &k) == MF_OK);
    ck_assert_int_eq(k, MF_VENDI_RBF);
    ck_assert(mf_vendi_kernel_lookup("RBF", &k) == MF_ENOTFOUND);
    ck_assert(mf_vendi_kernel_lookup("", &k) == MF_ENOTFOUND);
    ck_assert(mf_vendi_kernel_lookup(NULL, &k) == MF_EINVAL);
    ck_assert_int_eq(k, MF_VENDI_RBF);
}

END_TEST

/* ---- exact cases ----------------------------------------------------------------------- */

/* Rows of the exact cases have non-negative spectra given in closed form. */
static const struct exact_case {
    const char *name;
    mf_vendi_kernel kernel;
    double l;
    size_t n, D;
    float x[MAX_ROWS][MAX_COLS];
    double vs1, vs2;
} exact_cases[] = {
    /* All rows the same: K = all ones, lambda = (1, 0, ...). */
    {"one point x6, rbf",
     MF_VENDI_RBF,
     0.3,
     6,
     3,
     {{0.3f, -1.7f, 2.5f},
      {0.3f, -1.7f, 2.5f},
      {0.3f, -1.7f, 2.5f},
      {0.3f, -1.7f, 2.5f},
      {0.3f, -1.7f, 2.5f},
      {0.3f, -1.7f, 2.5f}},
     1.0,
     1.0},
    {"one direction x5 at different scales, cosine",
     MF_VENDI_COSINE,
     0.0,
     5,
     2,
     {{1.0f, 2.0f}, {0.5f, 1.0f}, {3.0f, 6.0f}, {1.0f, 2.0f}, {0.25f, 0.5f}},
     1.0,
     1.0},
    /* Clusters of identical points 100 l apart: block-diagonal all-ones blocks of
     * sizes c_j, lambda = c_j / n: VS_1 = exp(-sum p log p), VS_2 = 1 / sum p^2. */
    {"clusters 3+2+1, rbf",
     MF_VENDI_RBF,
     1.0,
     6,
     2,
     {{0, 0}, {0, 0}, {0, 0}, {100, 0}, {100, 0}, {0, -100}},
     2.749459273997205,   /* exp(-(1/2 ln 1/2 + 1/3 ln 1/3 + 1/6 ln 1/6)) */
     2.5714285714285714}, /* 1 / (1/4 + 1/9 + 1/36) = 18/7 */
    {"orthogonal groups 3+2+1 in 6-D (primal K), cosine",
     MF_VENDI_COSINE,
     0.0,
     6,
     6,
     {{1, 1, 0, 0, 0, 0},
      {2, 2, 0, 0, 0, 0},
      {0.5f, 0.5f, 0, 0, 0, 0},
      {1, -1, 3, 0, 0, 0},
      {2, -2, 6, 0, 0, 0},
      {0, 0, 0, 7, 0, -1}},
     2.749459273997205,
     2.5714285714285714},
    {"orthogonal groups 3+2+1 in 3-D (feature covariance), cosine",
     MF_VENDI_COSINE,
     0.0,
     6,
     3,
     {{1, 1, 0}, {3, 3, 0}, {0.5f, 0.5f, 0}, {1, -1, 3}, {2, -2, 6}, {-3, 3, 2}},
     2.749459273997205,
     2.5714285714285714},
    /* Zero rows are one point orthogonal to every direction: 4 zero rows + 4 rows
     * on one direction = two groups of 4 (feature covariance path, m = 3 < 8). */
    {"zero rows as one point, cosine",
     MF_VENDI_COSINE,
     0.0,
     8,
     2,
     {{0, 0}, {1, 1}, {0, 0}, {2, 2}, {0, 0}, {3, 3}, {0, 0}, {4, 4}},
     2.0,
     2.0},
    {"zero rows as one point, 8-D (primal K), cosine",
     MF_VENDI_COSINE,
     0.0,
     4,
     8,
     {{0, 0, 0, 0, 0, 0, 0, 0},
      {0, 0, 1, 0, 0, 0, 0, 0},
      {0, 0, 0, 0, 0, 0, 0, 0},
      {0, 0, 2, 0, 0, 0, 0, 0}},
     2.0,
     2.0},
    {"zero rows only, cosine", MF_VENDI_COSINE, 0.0, 3, 2, {{0, 0}, {0, 0}, {0, 0}}, 1.0, 1.0},
    /* x and -x: k = -1, K = v v^T with v = (1, -1): one non-zero eigenvalue. */
    {"opposite directions, cosine",
     MF_VENDI_COSINE,
     0.0,
     4,
     2,
     {{1, 2}, {-1, -2}, {2, 4}, {-3, -6}},
     1.0,
     1.0},
    /* Two points at distance d: K = [[1, a], [a, 1]], a = exp(-d^2 / (2 l^2)),
     * lambda = (1 +- a) / 2.  d = 1, l = 1: a = exp(-1/2). */
    {"two points, rbf",
     MF_VENDI_RBF,
     1.0,
     2,
     2,
     {{0.25f, 0.5f}, {0.25f, 1.5f}},
     1.641880543905009,   /* exp(-sum_+- (1 +- a)/2 ln((1 +- a)/2)) */
     1.4621171572600098}, /* 2 / (1 + a^2) */
    {"one point", MF_VENDI_RBF, 2.0, 1, 3, {{5, 6, 7}}, 1.0, 1.0},
};

START_TEST(test_exact)
{
    const struct exact_case *c = &exact_cases[_i];
    float x[MAX_ROWS * MAX_COLS];
    for (size_t i = 0; i < c->n; i++) {
        memcpy(x + i * c->D, c->x[i], c->D * sizeof(float));
    }
    double vs1 = vendi_ok(x, c->n, c->D, c->kernel, c->l, 1);
    double vs2 = vendi_ok(x, c->n, c->D, c->kernel, c->l, 2);
    ck_assert_msg(fabs(vs1 - c->vs1) < 1e-9 * c->vs1, "%s: VS_1 %.17g, expected %.17g", c->name,
                  vs1, c->vs1);
    ck_assert_msg(fabs(vs2 - c->vs2) < 1e-9 * c->vs2, "%s: VS_2 %.17g, expected %.17g", c->name,
                  vs2, c->vs2);
}

END_TEST

START_TEST(test_identical_many)
{
    /* 300 copies of one 5-D point: 1 for both kernels and orders. */
    enum {
        N = 300,
        D = 5
    };

    static const float p[D] = {3.25f, -0.001f, 17.0f, 1e-3f, -4.5f};
    float *x = malloc(N * D * sizeof(float));
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < N; i++) {
        memcpy(x + i * D, p, sizeof p);
    }
    for (int order = 1; order <= 2; order++) {
        ck_assert_double_eq_tol(vendi_ok(x, N, D, MF_VENDI_RBF, 0.5, order), 1.0, 1e-9);
        ck_assert_double_eq_tol(vendi_ok(x, N, D, MF_VENDI_COSINE, 0.0, order), 1.0, 1e-9);
    }
    free(x);
}

END_TEST

START_TEST(test_far_apart)
{
    /* A 12 x 10 grid of spacing 40 l (k <= exp(-800)): N = 120 for both orders. */
    enum {
        N = 120
    };

    float *x = malloc(2 * N * sizeof(float));
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < N; i++) {
        x[2 * i] = (float) (40.0 * (double) (i % 12) - 200.0);
        x[2 * i + 1] = (float) (40.0 * (double) (i / 12) + 3.0);
    }
    for (int order = 1; order <= 2; order++) {
        ck_assert_double_eq_tol(vendi_ok(x, N, 2, MF_VENDI_RBF, 1.0, order), (double) N, 1e-6);
    }
    /* At l = 40 the neighbours see each other (k = exp(-1/2)): about N / 3. */
    ck_assert(vendi_ok(x, N, 2, MF_VENDI_RBF, 40.0, 2) < 0.5 * N);
    free(x);

    /* The 64 unit vectors of R^64, cosine: mutually orthogonal, N = 64. */
    x = calloc(64 * 64, sizeof(float));
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < 64; i++) {
        x[i * 64 + i] = (float) (i + 1);
    }
    for (int order = 1; order <= 2; order++) {
        ck_assert_double_eq_tol(vendi_ok(x, 64, 64, MF_VENDI_COSINE, 0.0, order), 64.0, 1e-6);
    }
    free(x);
}

END_TEST

/* ---- against brute force --------------------------------------------------------------- */

static const struct brute_case {
    const char *name;
    mf_vendi_kernel kernel;
    double l;
    size_t n, D;
    uint64_t seed;
} brute_cases[] = {
    {"rbf l=1.3, 50 x 5", MF_VENDI_RBF, 1.3, 50, 5, 101},
    {"rbf l=0.4, 40 x 2", MF_VENDI_RBF, 0.4, 40, 2, 102},
    {"rbf l=8, 45 x 64", MF_VENDI_RBF, 8.0, 45, 64, 103},
    {"cosine, 50 x 5 (feature covariance)", MF_VENDI_COSINE, 0.0, 50, 5, 104},
    {"cosine, 30 x 64 (primal K)", MF_VENDI_COSINE, 0.0, 30, 64, 105},
    {"cosine, 8 x 8 (n = m)", MF_VENDI_COSINE, 0.0, 8, 8, 106},
};

/* VS_2 = N^2 / sum K^2 in a double loop; VS_1 from Jacobi eigenvalues of K. */
START_TEST(test_brute_force)
{
    const struct brute_case *c = &brute_cases[_i];
    float *x = normal_cloud(c->seed, c->n, c->D, 1.0);
    if (c->kernel == MF_VENDI_COSINE) { /* off-centre: cosines of mixed sign, mostly > 0 */
        for (size_t i = 0; i < c->n * c->D; i += c->D) {
            x[i] += 1.5f;
        }
    }
    double *K = brute_kernel(x, c->n, c->D, c->kernel, c->l);
    double sum2 = 0.0;
    for (size_t i = 0; i < c->n * c->n; i++) {
        sum2 += K[i] * K[i];
    }
    double brute2 = (double) c->n * (double) c->n / sum2;

    double *w = malloc(c->n * sizeof(double));
    ck_assert_ptr_nonnull(w);
    jacobi_eigenvalues(K, c->n, w);
    double brute1, from_eig2;
    spectrum_scores(w, c->n, &brute1, &from_eig2);

    double vs1 = vendi_ok(x, c->n, c->D, c->kernel, c->l, 1);
    double vs2 = vendi_ok(x, c->n, c->D, c->kernel, c->l, 2);
    ck_assert_msg(fabs(vs2 - brute2) < 1e-9 * brute2, "%s: VS_2 %.15g, loop %.15g", c->name, vs2,
                  brute2);
    ck_assert_msg(fabs(from_eig2 - brute2) < 1e-9 * brute2, "%s: 1/sum lambda^2 %.15g, loop %.15g",
                  c->name, from_eig2, brute2);
    ck_assert_msg(fabs(vs1 - brute1) < 1e-9 * brute1, "%s: VS_1 %.15g, Jacobi %.15g", c->name, vs1,
                  brute1);
    /* A case that says something: not near 1 or n. */
    ck_assert_msg(vs2 > 1.5 && vs2 < 0.9 * (double) c->n, "%s: VS_2 %g is degenerate", c->name,
                  vs2);
    free(w);
    free(K);
    free(x);
}

END_TEST

/* ---- properties ------------------------------------------------------------------------ */

static const struct renyi_case {
    mf_vendi_kernel kernel;
    double l;
    size_t n, D;
    double scale;
} renyi_cases[] = {
    {MF_VENDI_RBF, 1.0, 200, 2, 1.0},     {MF_VENDI_RBF, 0.5, 300, 2, 1.0},
    {MF_VENDI_RBF, 0.1, 150, 3, 1.0},     {MF_VENDI_RBF, 5.0, 250, 8, 1.0},
    {MF_VENDI_RBF, 2.0, 120, 64, 0.3},    {MF_VENDI_COSINE, 0.0, 200, 3, 1.0},
    {MF_VENDI_COSINE, 0.0, 100, 64, 1.0}, {MF_VENDI_COSINE, 0.0, 64, 100, 1.0},
};

START_TEST(test_renyi_order)
{
    const struct renyi_case *c = &renyi_cases[_i];
    for (uint64_t seed = 1; seed <= 3; seed++) {
        float *x = normal_cloud(1000 * (uint64_t) _i + seed, c->n, c->D, c->scale);
        double vs1 = vendi_ok(x, c->n, c->D, c->kernel, c->l, 1);
        double vs2 = vendi_ok(x, c->n, c->D, c->kernel, c->l, 2);
        ck_assert_msg(vs1 >= vs2 * (1.0 - 1e-12), "case %d seed %d: VS_1 %.15g < VS_2 %.15g", _i,
                      (int) seed, vs1, vs2);
        free(x);
    }
}

END_TEST

START_TEST(test_cosine_two_directions)
{
    /* N/2 copies of each of two orthogonal directions, at random positive
     * scales: lambda = (1/2, 1/2), VS = 2.  Interleaved rows, 3-D and 200-D. */
    static const size_t dims[] = {3, 200};
    for (size_t t = 0; t < 2; t++) {
        const size_t N = 100, D = dims[t];
        float *x = calloc(N * D, sizeof(float));
        ck_assert_ptr_nonnull(x);
        for (size_t i = 0; i < N; i++) {
            float c = (float) (0.01 + 10.0 * mf_rng_uniform_f64(mf_rng_make(5), i));
            if (i % 2 == 0) { /* (1, 2, 0, ...) */
                x[i * D] = c;
                x[i * D + 1] = 2.0f * c;
            } else { /* (-2, 1, 5, ...) */
                x[i * D] = -2.0f * c;
                x[i * D + 1] = c;
                x[i * D + 2] = 5.0f * c;
            }
        }
        for (int order = 1; order <= 2; order++) {
            double vs = vendi_ok(x, N, D, MF_VENDI_COSINE, 0.0, order);
            ck_assert_msg(fabs(vs - 2.0) < 1e-9, "D = %zu, q = %d: %.15g", D, order, vs);
        }
        free(x);
    }
}

END_TEST

START_TEST(test_cosine_row_scaling)
{
    /* Scaling each row by a factor in [1e-3, 1e3] changes no direction. */
    static const size_t dims[] = {8, 300}; /* feature covariance, then primal K */
    for (size_t t = 0; t < 2; t++) {
        const size_t N = 200, D = dims[t];
        float *x = normal_cloud(77 + t, N, D, 1.0), *y = malloc(N * D * sizeof(float));
        ck_assert_ptr_nonnull(y);
        for (size_t i = 0; i < N; i++) {
            double c = pow(10.0, 6.0 * mf_rng_uniform_f64(mf_rng_make(78), i) - 3.0);
            for (size_t d = 0; d < D; d++) {
                y[i * D + d] = (float) (c * (double) x[i * D + d]);
            }
        }
        for (int order = 1; order <= 2; order++) {
            double a = vendi_ok(x, N, D, MF_VENDI_COSINE, 0.0, order);
            double b = vendi_ok(y, N, D, MF_VENDI_COSINE, 0.0, order);
            /* The scaled floats round once (6e-8 relative per coordinate). */
            ck_assert_msg(fabs(a - b) < 1e-6 * a, "D = %zu, q = %d: %.15g vs %.15g", D, order, a,
                          b);
            ck_assert(a > 2.0);
        }
        free(y);
        free(x);
    }
}

END_TEST

START_TEST(test_rbf_close_pairs)
{
    /* Two clusters at first coordinate -+4096 (K = 0 between them), spread 1e-3 =
     * l on the second, so |x - mean|^2 ~ 1.7e7 while d^2 ~ 1e-6: the expanded
     * d^2 would be off by ~1e-9 absolute (~0.4 %); then the same points with the
     * first coordinate shifted by 2^20 (exact in float).  Against the direct loop. */
    enum {
        N = 100
    };

    float *x = normal_cloud(9, N, 2, 1e-3), *y = malloc(2 * N * sizeof(float));
    ck_assert_ptr_nonnull(y);
    for (size_t i = 0; i < N; i++) {
        x[2 * i] = i % 2 == 0 ? -4096.0f : 4096.0f;
        y[2 * i] = x[2 * i] + 1048576.0f;
        y[2 * i + 1] = x[2 * i + 1];
        ck_assert_double_eq((double) y[2 * i] - (double) x[2 * i], 1048576.0);
    }
    double *K = brute_kernel(x, N, 2, MF_VENDI_RBF, 1e-3), *w = malloc(N * sizeof(double));
    ck_assert_ptr_nonnull(w);
    double sum2 = 0.0;
    for (size_t i = 0; i < N * N; i++) {
        sum2 += K[i] * K[i];
    }
    jacobi_eigenvalues(K, N, w);
    double brute[3], unused;
    spectrum_scores(w, N, &brute[1], &unused);
    brute[2] = (double) N * (double) N / sum2;
    ck_assert_msg(brute[2] > 3.0 && brute[2] < 10.0, "VS_2 %g: degenerate case", brute[2]);
    for (int order = 1; order <= 2; order++) {
        double a = vendi_ok(x, N, 2, MF_VENDI_RBF, 1e-3, order);
        double b = vendi_ok(y, N, 2, MF_VENDI_RBF, 1e-3, order);
        ck_assert_msg(fabs(a - brute[order]) < 1e-9 * a, "q = %d: %.17g, loop %.17g", order, a,
                      brute[order]);
        ck_assert_msg(fabs(b - brute[order]) < 1e-9 * a, "q = %d, shifted: %.17g, loop %.17g",
                      order, b, brute[order]);
    }
    free(w);
    free(K);
    free(y);
    free(x);
}

END_TEST

START_TEST(test_extreme_length_scales)
{
    /* 50 distinct points, each twice.  l -> 0: each pair alone (lambda = 2/100,
     * VS = 50, the copies at d^2 = 0 still k = 1); l -> inf: one point (1).  l*l
     * underflows / overflows in double here. */
    enum {
        N = 50
    };

    float *x = normal_cloud(3, 2 * N, 2, 1.0);
    memcpy(x + 2 * N, x, 2 * N * sizeof(float));
    for (int order = 1; order <= 2; order++) {
        ck_assert_double_eq_tol(vendi_ok(x, 2 * N, 2, MF_VENDI_RBF, 1e-200, order), N, 1e-9);
        ck_assert_double_eq_tol(vendi_ok(x, 2 * N, 2, MF_VENDI_RBF, 1e200, order), 1.0, 1e-9);
    }
    free(x);
}

END_TEST

/* ---- anchors (VS_2, RBF, N = 1000) ----------------------------------------------------- */

/*
 * Population value of VS_2 for an equal-weight mixture of Gaussians N(c_a, s^2 I_2):
 * with z = x - y ~ N(c_a - c_b, 2 s^2 I_2), E[k(x,y)^2] = E exp(-|z|^2 / l^2)
 * = (1 + 4 s^2 / l^2)^-1 exp(-|c_a - c_b|^2 / (l^2 + 4 s^2)), and for N points
 * N^2 / E[sum K^2] = 1 / (1/N + (1 - 1/N) E[k^2]).  The 8 Gaussians' centres are
 * 2.829 (cos 45°a, sin 45°a), s = 0.354 (0.5 / 1.414).
 */
static double mixture_vs2(size_t modes, double radius, double s, double l, size_t n)
{
    double l2 = l * l, s2 = s * s, ek2 = 0.0;
    for (size_t a = 0; a < modes; a++) {
        for (size_t b = 0; b < modes; b++) {
            double ang = 2.0 * PI * (double) ((a + modes - b) % modes) / (double) modes;
            double chord2 = 2.0 * radius * radius * (1.0 - cos(ang));
            ek2 += exp(-chord2 / (l2 + 4.0 * s2)) / (1.0 + 4.0 * s2 / l2);
        }
    }
    ek2 /= (double) (modes * modes);
    return 1.0 / (1.0 / (double) n + (1.0 - 1.0 / (double) n) * ek2);
}

START_TEST(test_anchors)
{
    enum {
        N = 1000
    };

    const double R = 4.0 / 1.414, s = 0.5 / 1.414;
    mf_dataset_id id;
    ck_assert(mf_dataset_lookup("eight_gaussians", &id) == MF_OK);
    float *eight = malloc(2 * N * sizeof(float));
    ck_assert_ptr_nonnull(eight);
    ck_assert(mf_dataset_sample(id, mf_rng_make(1), 0, eight, N) == MF_OK);
    /* One mode: N(c, 0.354^2 I_2) around the centre of mode 0. */
    float *single = normal_cloud(2, N, 2, s);
    for (size_t i = 0; i < N; i++) {
        single[2 * i] += (float) R;
    }
    float *std_normal = normal_cloud(3, N, 2, 1.0);

    static const struct {
        const char *name;
        double l, anchor, anchor_tol;
        size_t modes;
        double radius, s;
    } cases[] = {
        {"eight_gaussians l=1", 1.0, 10.9, 1.0, 8, 4.0 / 1.414, 0.5 / 1.414},
        {"eight_gaussians l=0.5", 0.5, 23.5, 2.0, 8, 4.0 / 1.414, 0.5 / 1.414},
        {"single mode l=1", 1.0, 1.50, 0.2, 1, 0.0, 0.5 / 1.414},
        {"single mode l=0.5", 0.5, 2.96, 0.3, 1, 0.0, 0.5 / 1.414},
        {"N(0,I) l=1", 1.0, 5.08, 0.508, 1, 0.0, 1.0},
        {"N(0,I) l=0.5", 0.5, 17.0, 1.7, 1, 0.0, 1.0},
    };

    const float *data[] = {eight, eight, single, single, std_normal, std_normal};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        double vs = vendi_ok(data[k], N, 2, MF_VENDI_RBF, cases[k].l, 2);
        double pop = mixture_vs2(cases[k].modes, cases[k].radius, cases[k].s, cases[k].l, N);
        ck_assert_msg(fabs(vs - cases[k].anchor) <= cases[k].anchor_tol,
                      "%s: VS_2 %.4f, anchor %.2f", cases[k].name, vs, cases[k].anchor);
        /* Sampling noise of a 1000-point estimate is a few per cent. */
        ck_assert_msg(fabs(vs - pop) < 0.05 * pop, "%s: VS_2 %.4f, population value %.4f",
                      cases[k].name, vs, pop);
    }
    free(std_normal);
    free(single);
    free(eight);
}

END_TEST

static Suite *vendi_suite(void)
{
    Suite *s = suite_create("vendi");
    TCase *tc = tcase_create("errors");
    tcase_add_loop_test(tc, test_errors, 0, (int) (sizeof error_cases / sizeof error_cases[0]));
    tcase_add_test(tc, test_kernel_names);
    suite_add_tcase(s, tc);

    tc = tcase_create("exact");
    tcase_add_loop_test(tc, test_exact, 0, (int) (sizeof exact_cases / sizeof exact_cases[0]));
    tcase_add_test(tc, test_identical_many);
    tcase_add_test(tc, test_far_apart);
    suite_add_tcase(s, tc);

    tc = tcase_create("brute_force");
    tcase_add_loop_test(tc, test_brute_force, 0,
                        (int) (sizeof brute_cases / sizeof brute_cases[0]));
    suite_add_tcase(s, tc);

    tc = tcase_create("properties");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_renyi_order, 0,
                        (int) (sizeof renyi_cases / sizeof renyi_cases[0]));
    tcase_add_test(tc, test_cosine_two_directions);
    tcase_add_test(tc, test_cosine_row_scaling);
    tcase_add_test(tc, test_rbf_close_pairs);
    tcase_add_test(tc, test_extreme_length_scales);
    suite_add_tcase(s, tc);

    tc = tcase_create("anchors");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_anchors);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(vendi_suite)
