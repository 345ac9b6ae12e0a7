/* SPDX-License-Identifier: MIT */
/*
 * sw.c - sliced Wasserstein-2 (definitions in sw.h).
 *
 * Per direction: project both sets (double), sort, integrate the squared
 * difference of the two quantile functions.  Breakpoints i/n and j/m are
 * compared exactly in integers as i*m and j*n (units of 1/(n m)), so the
 * weights sum to exactly one and equal-size inputs reduce to the textbook
 * (1/n) sum (u_(i) - v_(i))^2.
 */
#include "sw.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "mem.h"
#include "rng.h"

#define TAG_DIRS UINT64_C(0x64697273) /* "dirs" */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

double mf_sw_w2sq_sorted(const double *u, size_t n, const double *v, size_t m)
{
    /* Position along (0, 1] in units of 1/(n m): u_i covers (i m, (i+1) m],
     * v_j covers (j n, (j+1) n]. */
    double inv_nm = 1.0 / ((double) n * (double) m);
    size_t i = 0, j = 0;
    uint64_t pos = 0;
    double acc = 0.0;
    while (i < n && j < m) {
        uint64_t end_u = (uint64_t) (i + 1) * m, end_v = (uint64_t) (j + 1) * n;
        uint64_t end = end_u < end_v ? end_u : end_v;
        double d = u[i] - v[j];
        acc += (double) (end - pos) * d * d;
        pos = end;
        if (end_u == end) {
            i++;
        }
        if (end_v == end) {
            j++;
        }
    }
    return acc * inv_nm;
}

/* theta (D) = direction l: normalised normal variates lD .. lD+D-1. */
static void direction(mf_rng r, size_t l, size_t D, float *tmp, double *theta)
{
    for (uint64_t attempt = 0;; attempt++) {
        mf_rng s = attempt == 0 ? r : mf_rng_derive(r, attempt);
        mf_rng_normal(s, (uint64_t) l * D, tmp, D);
        double norm2 = 0.0;
        for (size_t d = 0; d < D; d++) {
            norm2 += (double) tmp[d] * (double) tmp[d];
        }
        if (norm2 > 1e-30) { /* always, except with probability ~0 for tiny D */
            double inv = 1.0 / sqrt(norm2);
            for (size_t d = 0; d < D; d++) {
                theta[d] = (double) tmp[d] * inv;
            }
            return;
        }
    }
}

static void project(const float *x, size_t n, size_t D, const double *theta, double *out)
{
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * D;
        double acc = 0.0;
        for (size_t d = 0; d < D; d++) {
            acc += (double) xi[d] * theta[d];
        }
        out[i] = acc;
    }
}

mf_err mf_sw2(const float *x, size_t n, const float *y, size_t m, size_t D, size_t n_dirs,
              uint64_t seed, double *ret)
{
    size_t nx, ny, nm, total;
    if (x == NULL || y == NULL || n == 0 || m == 0 || D == 0 || n_dirs == 0) {
        return MF_EINVAL;
    }
    if (mf_size_mul(n, D, &nx) != MF_OK || mf_size_mul(m, D, &ny) != MF_OK ||
        mf_size_mul(n, m, &nm) != MF_OK || nm > UINT64_MAX / 2 ||
        mf_size_mul(n_dirs, D, &total) != MF_OK) {
        return MF_ERANGE;
    }
    if (!mf_floats_finite(x, nx) || !mf_floats_finite(y, ny)) {
        return MF_ERANGE;
    }
    /* One block: u (n), v (m), theta (D) in double, then tmp (D) floats. */
    size_t n_doubles = n + m + D;
    if (n_doubles < n || n_doubles > (SIZE_MAX - D * sizeof(float)) / sizeof(double)) {
        return MF_ERANGE;
    }
    double *u = malloc(n_doubles * sizeof(double) + D * sizeof(float));
    if (u == NULL) {
        return MF_ENOMEM;
    }
    double *v = u + n, *theta = v + m;
    float *tmp = (float *) (theta + D);

    mf_rng r = mf_rng_derive(mf_rng_make(seed), TAG_DIRS);
    double sum = 0.0;
    for (size_t l = 0; l < n_dirs; l++) {
        direction(r, l, D, tmp, theta);
        project(x, n, D, theta, u);
        project(y, m, D, theta, v);
        qsort(u, n, sizeof(double), cmp_double);
        qsort(v, m, sizeof(double), cmp_double);
        sum += mf_sw_w2sq_sorted(u, n, v, m);
    }
    free(u);
    *ret = sqrt(sum / (double) n_dirs);
    return MF_OK;
}
