/* SPDX-License-Identifier: MIT */
/*
 * Tests of core/kernels.c against plain double-precision loops: the
 * vectorised exp, fused bias+SiLU (with and without the saved sigmoid), the
 * SiLU derivative (also against a central difference), the thin first and last
 * layers and the small-batch GEMM, on odd sizes that leave vector remainders.
 */
#include "kernels.h"

#include "rng.h"
#include "test_util.h"

#include <math.h>
#include <stdlib.h>

static double silu(double z)
{
    return z / (1.0 + exp(-z));
}

static float *randn(size_t n, uint64_t seed, float scale)
{
    float *x = malloc(n * sizeof(float));
    mf_rng_normal(mf_rng_make(seed), 0, x, n);
    for (size_t i = 0; i < n; i++) {
        x[i] *= scale;
    }
    return x;
}

START_TEST(test_expf_accuracy)
{
    double worst = 0;
    for (double x = -87.0; x <= 88.0; x += 0.0137) {
        double e = exp((double) (float) x), got = mf_k_expf((float) x);
        worst = fmax(worst, fabs(got - e) / e);
    }
    ck_assert_msg(worst < 3e-7, "max relative error %g", worst);
    ck_assert(mf_k_expf(0.0f) == 1.0f);
    ck_assert(mf_k_expf(-1000.0f) >= 0.0f && mf_k_expf(-1000.0f) < 1e-37f); /* clamped, finite */
    ck_assert(isfinite(mf_k_expf(1000.0f)));
    ck_assert_double_eq_tol(mf_k_silu_ref(1.5f), silu(1.5), 1e-6);
}
END_TEST

START_TEST(test_bias_silu_and_backward)
{
    enum { N = 7, H = 37 };
    float *z = randn(N * H, 1, 4.0f), *b = randn(H, 2, 1.0f), *sig = malloc(N * H * sizeof(float));
    float *z2 = malloc(N * H * sizeof(float)), *da = randn(N * H, 3, 1.0f);
    float *dz = malloc(N * H * sizeof(float));
    for (size_t i = 0; i < N * H; i++) {
        z2[i] = z[i];
    }
    float *pre = malloc(N * H * sizeof(float));
    for (size_t r = 0; r < N; r++) {
        for (size_t j = 0; j < H; j++) {
            pre[r * H + j] = z[r * H + j] + b[j];
        }
    }
    mf_k_bias_silu(z, sig, b, N, H);
    mf_k_bias_silu(z2, NULL, b, N, H);
    for (size_t i = 0; i < N * H; i++) {
        double v = pre[i];
        ck_assert_double_eq_tol(z[i], silu(v), 1e-6 * (1 + fabs(v)));
        ck_assert_double_eq_tol(z2[i], silu(v), 1e-6 * (1 + fabs(v)));
        ck_assert_double_eq_tol(sig[i], 1.0 / (1.0 + exp(-v)), 1e-6);
    }
    mf_k_silu_backward(dz, da, z, sig, N, H);
    for (size_t i = 0; i < N * H; i++) {
        double v = pre[i], h = 1e-4;
        double d = (silu(v + h) - silu(v - h)) / (2 * h);
        ck_assert_double_eq_tol(dz[i], da[i] * d, 1e-5 * (1 + fabs(da[i] * d)));
    }
    free(z);
    free(z2);
    free(b);
    free(sig);
    free(da);
    free(dz);
    free(pre);
}
END_TEST

START_TEST(test_thin_layers)
{
    enum { N = 9, H = 45, LD = 11 };
    for (size_t d = 1; d <= 8; d += 3) {
        float *x = randn(N * d, 4, 1.0f), *w = randn(H * LD, 5, 0.5f), *u = randn(H, 6, 0.3f);
        float *out = malloc(N * H * sizeof(float)), *sig = malloc(N * H * sizeof(float));
        mf_k_thin_in_silu(out, sig, x, d, w, LD, u, N, H);
        for (size_t r = 0; r < N; r++) {
            for (size_t j = 0; j < H; j++) {
                double z = u[j];
                for (size_t k = 0; k < d; k++) {
                    z += (double) x[r * d + k] * w[j * LD + k];
                }
                ck_assert_double_eq_tol(out[r * H + j], silu(z), 1e-5 * (1 + fabs(z)));
                ck_assert_double_eq_tol(sig[r * H + j], 1 / (1 + exp(-z)), 1e-6);
            }
        }
        /* thin output: y (N, d) = out (N, H) w2 (d, H)^T + b */
        float *w2 = randn(d * H, 7, 0.5f), *b2 = randn(d, 8, 1.0f), *y = malloc(N * d * sizeof(float));
        mf_k_thin_out(y, out, w2, b2, N, H, d);
        for (size_t r = 0; r < N; r++) {
            for (size_t q = 0; q < d; q++) {
                double s = b2[q];
                for (size_t j = 0; j < H; j++) {
                    s += (double) out[r * H + j] * w2[q * H + j];
                }
                ck_assert_double_eq_tol(y[r * d + q], s, 1e-5 * (1 + fabs(s)));
            }
        }
        free(x);
        free(w);
        free(u);
        free(out);
        free(sig);
        free(w2);
        free(b2);
        free(y);
    }
}
END_TEST

START_TEST(test_small_gemm)
{
    enum { H = 29, O = 128 };
    float *wt = randn(H * O, 9, 0.4f), *b = randn(O, 10, 0.5f);
    for (size_t n = 1; n <= 11; n += 2) { /* full 4-row blocks and 1-3 row tails */
        float *a = randn(n * H, 11 + n, 1.0f), *y = malloc(n * O * sizeof(float));
        mf_k_small_silu(y, a, wt, b, n, H, O);
        for (size_t r = 0; r < n; r++) {
            for (size_t o = 0; o < O; o++) {
                double z = b[o];
                for (size_t k = 0; k < H; k++) {
                    z += (double) a[r * H + k] * wt[k * O + o];
                }
                ck_assert_msg(fabs(y[r * O + o] - silu(z)) <= 1e-5 * (1 + fabs(z)),
                              "n %zu (%zu, %zu): %g vs %g", n, r, o, y[r * O + o], silu(z));
            }
        }
        free(a);
        free(y);
    }
    free(wt);
    free(b);
}
END_TEST

static Suite *kernels_suite(void)
{
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("kernels");
    tcase_add_test(tc, test_expf_accuracy);
    tcase_add_test(tc, test_bias_silu_and_backward);
    tcase_add_test(tc, test_thin_layers);
    tcase_add_test(tc, test_small_gemm);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(kernels_suite)
