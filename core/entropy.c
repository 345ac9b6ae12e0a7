/* SPDX-License-Identifier: MIT */
/*
 * entropy.c - kNN entropy, kNN KL divergence and 2-D histogram entropy (see
 * entropy.h).  Sums in double.
 */
#include "entropy.h"

#include <math.h>
#include <stdlib.h>

#include "knn.h"
#include "mem.h"

#define EULER_GAMMA 0.57721566490153286061
#define PI          3.14159265358979323846

double mf_digamma_int(size_t n)
{
    if (n < 64) {
        double s = -EULER_GAMMA;
        for (size_t j = 1; j < n; j++) {
            s += 1.0 / (double) j;
        }
        return s;
    }
    /* Asymptotic series; at n >= 64 the first omitted term, 1/(240 n^8), is below 1e-16. */
    double x = (double) n, x2 = 1.0 / (x * x);
    return log(x) - 0.5 / x - x2 * (1.0 / 12 - x2 * (1.0 / 120 - x2 * (1.0 / 252)));
}

double mf_log_unit_ball(size_t D)
{
    double h = 0.5 * (double) D;
    return h * log(PI) - lgamma(h + 1.0);
}

/* MF_KNN_FLOOR_REL x RMS standard deviation of the rows of x and y (y may be NULL). */
static double distance_floor(const float *x, size_t n, const float *y, size_t m, size_t D)
{
    double var = 0.0;
    for (size_t j = 0; j < D; j++) {
        double s = 0.0, s2 = 0.0;
        for (size_t i = 0; i < n + m; i++) {
            double v = i < n ? x[i * D + j] : y[(i - n) * D + j];
            s += v;
            s2 += v * v;
        }
        double mean = s / (double) (n + m);
        double v = s2 / (double) (n + m) - mean * mean;
        var += v > 0.0 ? v : 0.0;
    }
    double rms = sqrt(var / (double) D);
    return MF_KNN_FLOOR_REL * (rms > 0.0 ? rms : 1.0);
}

/* sum_i log max(d_i, floor), counting the floored ones. */
static double sum_log_floored(const double *d, size_t n, double floor, size_t *n_zero)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double v = d[i];
        if (!(v > floor)) {
            v = floor;
            ++*n_zero;
        }
        s += log(v);
    }
    return s;
}

static bool knn_args_ok(const float *x, size_t n, size_t D, size_t k)
{
    return x != NULL && D > 0 && k > 0 && k <= MF_KNN_MAX_K && n > k;
}

/* The estimate from the k-th NN distances rho (n) of the n points, zeros floored at floor. */
static mf_knn_entropy entropy_from_rho(const double *rho, size_t n, size_t D, size_t k,
                                       double floor)
{
    size_t n_zero = 0;
    double slog = sum_log_floored(rho, n, floor, &n_zero);
    return (mf_knn_entropy){
        .entropy = mf_digamma_int(n) - mf_digamma_int(k) + mf_log_unit_ball(D) +
                   (double) D * slog / (double) n,
        .n = n,
        .dim = D,
        .k = k,
        .n_zero = n_zero,
    };
}

mf_err mf_entropy_knn(const float *x, size_t n, size_t D, size_t k, mf_knn_entropy *ret)
{
    if (ret == NULL || !knn_args_ok(x, n, D, k)) {
        return MF_EINVAL;
    }
    double *rho = mf_alloc_doubles(n);
    if (rho == NULL) {
        return MF_ENOMEM;
    }
    mf_err err = mf_knn_dist(x, n, x, n, D, k, true, rho);
    if (err == MF_OK) {
        *ret = entropy_from_rho(rho, n, D, k, distance_floor(x, n, NULL, 0, D));
    }
    mf_free_aligned(rho);
    return err;
}

/*
 * One direction, P = a (n), Q = b (m): rho = k-th NN distances within a (also
 * a's entropy, with a's own floor, when h is not NULL), nu = to b, and
 * (D/n) sum_i log(nu_i / rho_i) + log(m / (n - 1)) with the pooled floor.
 */
static mf_err kl_one_way(const float *a, size_t n, const float *b, size_t m, size_t D, size_t k,
                         double floor, double *rho, double *nu, double *ret, size_t *n_zero,
                         mf_knn_entropy *h)
{
    mf_err err = mf_knn_dist(a, n, a, n, D, k, true, rho);
    if (err == MF_OK) {
        err = mf_knn_dist(a, n, b, m, D, k, false, nu);
    }
    if (err != MF_OK) {
        return err;
    }
    double s = sum_log_floored(nu, n, floor, n_zero) - sum_log_floored(rho, n, floor, n_zero);
    *ret = (double) D * s / (double) n + log((double) m / (double) (n - 1));
    if (h != NULL) {
        *h = entropy_from_rho(rho, n, D, k, distance_floor(a, n, NULL, 0, D));
    }
    return MF_OK;
}

mf_err mf_knn_entropies_kl(const float *x, size_t n, const float *y, size_t m, size_t D, size_t k,
                           mf_knn_entropy *hx, mf_knn_entropy *hy, mf_knn_kl *ret)
{
    if (ret == NULL || !knn_args_ok(x, n, D, k) || !knn_args_ok(y, m, D, k)) {
        return MF_EINVAL;
    }
    size_t nd, md;
    /* The floor pass reads every coordinate: reject non-finite ones first. */
    if (mf_size_mul(n, D, &nd) != MF_OK || mf_size_mul(m, D, &md) != MF_OK ||
        !mf_floats_finite(x, nd) || !mf_floats_finite(y, md)) {
        return MF_ERANGE;
    }
    size_t big = n > m ? n : m;
    double *rho = mf_alloc_doubles(big), *nu = mf_alloc_doubles(big);
    mf_err err = MF_ENOMEM;
    double pq = 0.0, qp = 0.0;
    size_t n_zero = 0;
    mf_knn_entropy ex, ey;
    if (rho != NULL && nu != NULL) {
        double floor = distance_floor(x, n, y, m, D);
        err = kl_one_way(x, n, y, m, D, k, floor, rho, nu, &pq, &n_zero, &ex);
        if (err == MF_OK) {
            err = kl_one_way(y, m, x, n, D, k, floor, rho, nu, &qp, &n_zero, &ey);
        }
    }
    if (err == MF_OK) {
        *ret = (mf_knn_kl){
            .kl_pq = pq, .kl_qp = qp, .n = n, .m = m, .dim = D, .k = k, .n_zero = n_zero};
        if (hx != NULL) {
            *hx = ex;
        }
        if (hy != NULL) {
            *hy = ey;
        }
    }
    mf_free_aligned(rho);
    mf_free_aligned(nu);
    return err;
}

mf_err mf_kl_knn(const float *x, size_t n, const float *y, size_t m, size_t D, size_t k,
                 mf_knn_kl *ret)
{
    return mf_knn_entropies_kl(x, n, y, m, D, k, NULL, NULL, ret);
}

mf_err mf_entropy_hist2d(const float *x, size_t n, double lo, double hi, size_t bins,
                         mf_hist_entropy *ret)
{
    if (x == NULL || ret == NULL || n == 0 || bins == 0 || bins > 4096 || !isfinite(lo) ||
        !isfinite(hi) || !(lo < hi)) {
        return MF_EINVAL;
    }
    size_t n2;
    if (mf_size_mul(n, 2, &n2) != MF_OK || !mf_floats_finite(x, n2)) {
        return MF_ERANGE;
    }
    size_t *count = calloc(bins * bins, sizeof *count);
    if (count == NULL) {
        return MF_ENOMEM;
    }
    double w = (hi - lo) / (double) bins;
    size_t n_in = 0;
    for (size_t i = 0; i < n; i++) {
        double u = x[2 * i], v = x[2 * i + 1];
        if (u < lo || u > hi || v < lo || v > hi) {
            continue;
        }
        size_t bu = (size_t) ((u - lo) / w), bv = (size_t) ((v - lo) / w);
        bu = bu < bins ? bu : bins - 1;
        bv = bv < bins ? bv : bins - 1;
        count[bu * bins + bv]++;
        n_in++;
    }
    double h = 0.0;
    size_t occupied = 0;
    for (size_t j = 0; j < bins * bins; j++) {
        if (count[j] > 0) {
            double p = (double) count[j] / (double) n_in;
            h -= p * log(p);
            occupied++;
        }
    }
    free(count);
    h += 2.0 * log(w);
    *ret = (mf_hist_entropy){
        .entropy = n_in > 0 ? h : (double) NAN,
        .entropy_mm = n_in > 0 ? h + (double) (occupied - 1) / (2.0 * (double) n_in) : (double) NAN,
        .outside_frac = 1.0 - (double) n_in / (double) n,
        .n = n,
        .n_in = n_in,
        .bins = bins,
        .occupied = occupied,
        .lo = lo,
        .hi = hi,
    };
    return MF_OK;
}
