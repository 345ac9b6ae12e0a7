/* SPDX-License-Identifier: MIT */
/*
 * vendi.c - Vendi score (definitions in vendi.h).
 *
 * Both kernels end in one symmetric s x s matrix S whose non-zero eigenvalues
 * are those of K (trace n): K itself (s = n), or for the cosine kernel with few
 * dimensions C = Phi^T Phi (s = m), Phi the (n, m) matrix of unit rows.  Only
 * the upper triangle of S in row-major order is filled (dsyrk's output), which
 * is the lower triangle of the same memory read column-major: LAPACK gets
 * uplo = 'L'.
 */
#include "vendi.h"

#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "mem.h"

/*
 * LAPACK's symmetric eigensolver (divide and conquer), exported by OpenBLAS.
 * gfortran passes the lengths of the CHARACTER arguments as hidden trailing
 * size_t arguments; they are passed here too (as LAPACKE does), since a callee
 * that tail-calls with them must find them on the stack.
 */
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info,
             size_t jobz_len, size_t uplo_len);

static const char *const kernel_names[] = {
    [MF_VENDI_RBF] = "rbf",
    [MF_VENDI_COSINE] = "cosine",
};

#define N_KERNELS (sizeof kernel_names / sizeof kernel_names[0])

const char *mf_vendi_kernel_name(mf_vendi_kernel kernel)
{
    if ((unsigned) kernel >= N_KERNELS) {
        return NULL;
    }
    return kernel_names[kernel];
}

mf_err mf_vendi_kernel_lookup(const char *name, mf_vendi_kernel *ret)
{
    if (name == NULL) {
        return MF_EINVAL;
    }
    for (size_t k = 0; k < N_KERNELS; k++) {
        if (strcmp(name, kernel_names[k]) == 0) {
            *ret = (mf_vendi_kernel) k;
            return MF_OK;
        }
    }
    return MF_ENOTFOUND;
}

/*
 * Pairs whose expanded d^2 = |x|^2 + |y|^2 - 2 x.y falls below this fraction of
 * |x|^2 + |y|^2 lost most of their digits to cancellation (the expansion's
 * error is ~D eps (|x|^2 + |y|^2)): they are recomputed directly.
 */
#define CLOSE_PAIR 1e-6

static double direct_d2(const double *a, const double *b, size_t D)
{
    double acc = 0.0;
    for (size_t d = 0; d < D; d++) {
        double t = a[d] - b[d];
        acc += t * t;
    }
    return acc;
}

/*
 * K (n, n), upper triangle: exp(-d2_ij / (2 l^2)) with d2 from the Gram matrix
 * of the centred points xc (n, D), which this fills from x.  mean: (D) scratch.
 */
static void rbf_matrix(const float *x, size_t n, size_t D, double l, double *xc, double *mean,
                       double *sq, double *K)
{
    for (size_t d = 0; d < D; d++) {
        mean[d] = 0.0;
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t d = 0; d < D; d++) {
            mean[d] += (double) x[i * D + d];
        }
    }
    for (size_t d = 0; d < D; d++) {
        mean[d] /= (double) n;
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t d = 0; d < D; d++) {
            xc[i * D + d] = (double) x[i * D + d] - mean[d];
        }
    }
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int) n, (int) D, 1.0, xc, (int) D, 0.0, K,
                (int) n);
    for (size_t i = 0; i < n; i++) {
        sq[i] = K[i * n + i];
    }
    /* l*l may overflow (h = 0: K = 1) or underflow (h = inf: K = 0 off coincident
     * points); d2 = 0 is tested first so inf * 0 never occurs. */
    double h = 0.5 / (l * l);
    for (size_t i = 0; i < n; i++) {
        double *row = K + i * n;
        row[i] = 1.0;
        for (size_t j = i + 1; j < n; j++) {
            double d2 = sq[i] + sq[j] - 2.0 * row[j];
            if (d2 <= CLOSE_PAIR * (sq[i] + sq[j])) {
                d2 = direct_d2(xc + i * D, xc + j * D, D);
            }
            row[j] = d2 > 0.0 ? exp(-d2 * h) : 1.0;
        }
    }
}

/*
 * phi (n, m): row i is x_i / |x_i|, or the unit vector e_D when x_i = 0 (m = D + 1
 * then, else m = D and no row is zero).
 */
static void unit_rows(const float *x, size_t n, size_t D, size_t m, double *phi)
{
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * D;
        double *p = phi + i * m;
        double norm2 = 0.0;
        for (size_t d = 0; d < D; d++) {
            norm2 += (double) xi[d] * (double) xi[d];
        }
        for (size_t d = D; d < m; d++) {
            p[d] = 0.0;
        }
        if (norm2 > 0.0) {
            double inv = 1.0 / sqrt(norm2);
            for (size_t d = 0; d < D; d++) {
                p[d] = (double) xi[d] * inv;
            }
        } else {
            for (size_t d = 0; d < D; d++) {
                p[d] = 0.0;
            }
            p[D] = 1.0;
        }
    }
}

static bool has_zero_row(const float *x, size_t n, size_t D)
{
    for (size_t i = 0; i < n; i++) {
        size_t d = 0;
        while (d < D && x[i * D + d] == 0.0f) {
            d++;
        }
        if (d == D) {
            return true;
        }
    }
    return false;
}

/* ||S||_F^2 from the upper triangle of the symmetric S (s, s). */
static double frobenius2(const double *S, size_t s)
{
    double diag = 0.0, off = 0.0;
    for (size_t i = 0; i < s; i++) {
        const double *row = S + i * s;
        diag += row[i] * row[i];
        double acc = 0.0;
        for (size_t j = i + 1; j < s; j++) {
            acc += row[j] * row[j];
        }
        off += acc;
    }
    return diag + 2.0 * off;
}

/*
 * exp(-sum lambda log lambda), lambda = eigenvalues of S / n.  S (s, s) is
 * destroyed; w: (s) scratch.
 */
static mf_err entropy_score(double *S, size_t s, size_t n, double *w, double *ret)
{
    const int si = (int) s;
    int lwork = -1, liwork = -1, info = 0, iwork_query = 0;
    double work_query = 0.0;
    dsyevd_("N", "L", &si, S, &si, w, &work_query, &lwork, &iwork_query, &liwork, &info, 1, 1);
    if (info != 0 || !(work_query >= 1.0 && work_query < (double) INT_MAX) || iwork_query < 1) {
        return MF_EINTERNAL;
    }
    lwork = (int) work_query;
    liwork = iwork_query;
    double *work = mf_alloc_doubles((size_t) lwork);
    int *iwork = malloc((size_t) liwork * sizeof(int));
    if (work == NULL || iwork == NULL) {
        mf_free_aligned(work);
        free(iwork);
        return MF_ENOMEM;
    }
    dsyevd_("N", "L", &si, S, &si, w, work, &lwork, iwork, &liwork, &info, 1, 1);
    mf_free_aligned(work);
    free(iwork);
    if (info != 0) {
        return MF_EINTERNAL;
    }
    double inv_n = 1.0 / (double) n, H = 0.0;
    for (size_t i = 0; i < s; i++) {
        double lambda = w[i] * inv_n;
        if (lambda > 0.0) { /* round-off negatives count as 0; 0 log 0 = 0 */
            H -= lambda * log(lambda);
        }
    }
    *ret = exp(H);
    return MF_OK;
}

mf_err mf_vendi(const float *x, size_t n, size_t D, mf_vendi_kernel kernel, double length_scale,
                int order, double *ret)
{
    size_t nD;
    if (x == NULL || n == 0 || D == 0 || (unsigned) kernel >= N_KERNELS ||
        (order != 1 && order != 2)) {
        return MF_EINVAL;
    }
    if (kernel == MF_VENDI_RBF && !(isfinite(length_scale) && length_scale > 0.0)) {
        return MF_EINVAL;
    }
    if (n > MF_VENDI_MAX_N || D >= (size_t) INT_MAX || mf_size_mul(n, D, &nD) != MF_OK) {
        return MF_ERANGE;
    }
    if (!mf_floats_finite(x, nD)) {
        return MF_ERANGE;
    }

    /* m: columns of the feature / point matrix; s: side of the matrix S. */
    size_t m = D, s = n;
    if (kernel == MF_VENDI_COSINE) {
        m = has_zero_row(x, n, D) ? D + 1 : D;
        s = m < n ? m : n;
    }
    /* One block: S (s, s), points (n, m), then n + D doubles of scratch.  s <= n <=
     * MF_VENDI_MAX_N, so only n m can overflow. */
    size_t nm, total;
    if (mf_size_mul(n, m, &nm) != MF_OK || nm > SIZE_MAX - s * s - n - D) {
        return MF_ERANGE;
    }
    total = s * s + nm + n + D;
    double *S = mf_alloc_doubles(total);
    if (S == NULL) {
        return MF_ENOMEM;
    }
    double *pts = S + s * s, *vec = pts + nm, *mean = vec + n;

    if (kernel == MF_VENDI_RBF) {
        rbf_matrix(x, n, D, length_scale, pts, mean, vec, S);
    } else {
        unit_rows(x, n, D, m, pts);
        if (m < n) { /* C = Phi^T Phi (s = m) */
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int) m, (int) n, 1.0, pts, (int) m,
                        0.0, S, (int) m);
        } else { /* K = Phi Phi^T (s = n), entries pinned to their exact range */
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int) n, (int) m, 1.0, pts,
                        (int) m, 0.0, S, (int) n);
            for (size_t i = 0; i < n; i++) {
                double *row = S + i * n;
                row[i] = 1.0;
                for (size_t j = i + 1; j < n; j++) {
                    row[j] = fmin(1.0, fmax(-1.0, row[j]));
                }
            }
        }
    }

    mf_err err = MF_OK;
    double score = 0.0;
    if (order == 2) {
        score = (double) n * (double) n / frobenius2(S, s);
    } else {
        err = entropy_score(S, s, n, vec, &score);
    }
    mf_free_aligned(S);
    if (err == MF_OK) {
        *ret = score;
    }
    return err;
}
