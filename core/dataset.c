/* SPDX-License-Identifier: MIT */
/*
 * dataset.c - the built-in data sets (formulas in dataset.h).
 *
 * Every generated point p reads one Philox block of uniforms (variates 4p..4p+3
 * of the U stream) and one to four blocks of normals (variates Kp..Kp+K-1 of the
 * N stream), so a point is a pure function of (stream, p) and any split of an
 * index range gives the same points.  U and N are different derived streams:
 * mf_rng_uniform and mf_rng_normal read the same words at the same offsets, and
 * sharing one stream would correlate a point's uniforms with its noise.
 *
 * Arithmetic is in double, rounded to float once per coordinate.
 */
#include "dataset.h"

#include <math.h>
#include <string.h>

#include "digits_data.h"

_Static_assert(MF_DATASET_DIGITS + 1 == MF_DATASET_COUNT, "MF_DATASET_COUNT is stale");
_Static_assert(MF__DIGITS_N == MF_DATASET_DIGITS_N, "digits table size");
_Static_assert(MF_DATASET_DIGITS_N_TRAIN + MF_DATASET_DIGITS_N_HELDOUT == MF_DATASET_DIGITS_N,
               "digits split sizes");

/* Stream tags (arbitrary distinct constants; part of the data definition). */
#define TAG_TRAIN   UINT64_C(0x747261696e)     /* "train" */
#define TAG_HELDOUT UINT64_C(0x68656c646f7574) /* "heldout" */
#define TAG_UNIFORM UINT64_C(0x55)             /* "U" */
#define TAG_NORMAL  UINT64_C(0x4e)             /* "N" */
#define TAG_BASIS   UINT64_C(0x6261736973)     /* "basis" */
#define TAG_BETA    UINT64_C(0x62657461)       /* "beta" */

#define PI 3.14159265358979323846

static const char *const dataset_names[MF_DATASET_COUNT] = {
    [MF_DATASET_GAUSSIAN] = "gaussian",
    [MF_DATASET_EIGHT_GAUSSIANS] = "eight_gaussians",
    [MF_DATASET_IMBALANCED_SQUARE] = "imbalanced_square",
    [MF_DATASET_TWO_MOONS] = "two_moons",
    [MF_DATASET_SWISS_ROLL] = "swiss_roll",
    [MF_DATASET_CHECKERBOARD] = "checkerboard",
    [MF_DATASET_PINWHEEL] = "pinwheel",
    [MF_DATASET_RING] = "ring",
    [MF_DATASET_LINEAR_SUBSPACE] = "linear_subspace",
    [MF_DATASET_DIGITS] = "digits",
};

static bool id_valid(mf_dataset_id id)
{
    return (unsigned) id < MF_DATASET_COUNT;
}

mf_err mf_dataset_lookup(const char *name, mf_dataset_id *ret)
{
    if (name == NULL) {
        return MF_EINVAL;
    }
    for (int i = 0; i < MF_DATASET_COUNT; i++) {
        if (strcmp(name, dataset_names[i]) == 0) {
            *ret = (mf_dataset_id) i;
            return MF_OK;
        }
    }
    return MF_ENOTFOUND;
}

const char *mf_dataset_name(mf_dataset_id id)
{
    return id_valid(id) ? dataset_names[id] : NULL;
}

size_t mf_dataset_dim(mf_dataset_id id)
{
    if (!id_valid(id)) {
        return 0;
    }
    if (id == MF_DATASET_LINEAR_SUBSPACE) {
        return MF_DATASET_SUBSPACE_D;
    }
    if (id == MF_DATASET_DIGITS) {
        return MF_DATASET_DIGITS_D;
    }
    return 2;
}

void mf_dataset_norm(mf_dataset_id id, float *ret_offset, float *ret_scale)
{
    bool digits = id == MF_DATASET_DIGITS;
    *ret_offset = digits ? 8.0f : 0.0f;
    *ret_scale = digits ? 8.0f : 1.0f;
}

/* ---- linear_subspace basis ------------------------------------------------------------ */

/* A (64, 16) row-major in double; see mf_dataset_linear_subspace_basis. */
static void subspace_basis(double A[MF_DATASET_SUBSPACE_D * MF_DATASET_SUBSPACE_K])
{
    enum {
        D = MF_DATASET_SUBSPACE_D,
        K = MF_DATASET_SUBSPACE_K
    };

    mf_rng r = mf_rng_derive(mf_rng_make(MF_DATASET_SUBSPACE_SEED), TAG_BASIS);
    float col[D];
    for (size_t j = 0; j < K; j++) {
        mf_rng_normal(r, (uint64_t) j * D, col, D);
        for (size_t i = 0; i < D; i++) {
            A[i * K + j] = (double) col[i];
        }
        /* Modified Gram-Schmidt against the previous columns, twice ("twice is
         * enough", Kahan/Parlett) so the columns are orthonormal to ~1e-16. */
        for (int pass = 0; pass < 2; pass++) {
            for (size_t c = 0; c < j; c++) {
                double dot = 0.0;
                for (size_t i = 0; i < D; i++) {
                    dot += A[i * K + c] * A[i * K + j];
                }
                for (size_t i = 0; i < D; i++) {
                    A[i * K + j] -= dot * A[i * K + c];
                }
            }
        }
        double norm2 = 0.0;
        for (size_t i = 0; i < D; i++) {
            norm2 += A[i * K + j] * A[i * K + j];
        }
        double inv = 1.0 / sqrt(norm2); /* a Gaussian 64-vector is never in a 15-D span */
        for (size_t i = 0; i < D; i++) {
            A[i * K + j] *= inv;
        }
    }
}

void mf_dataset_linear_subspace_basis(float *A_out)
{
    double A[MF_DATASET_SUBSPACE_D * MF_DATASET_SUBSPACE_K];
    subspace_basis(A);
    for (size_t i = 0; i < MF_DATASET_SUBSPACE_D * MF_DATASET_SUBSPACE_K; i++) {
        A_out[i] = (float) A[i];
    }
}

/* theta = A beta in double, beta the unit vector of mf_dataset_linear_subspace_theta. */
static void subspace_theta(const double *A, double theta[MF_DATASET_SUBSPACE_D])
{
    enum {
        D = MF_DATASET_SUBSPACE_D,
        K = MF_DATASET_SUBSPACE_K
    };

    float g[K];
    mf_rng_normal(mf_rng_derive(mf_rng_make(MF_DATASET_SUBSPACE_SEED), TAG_BETA), 0, g, K);
    double norm2 = 0.0;
    for (size_t j = 0; j < K; j++) {
        norm2 += (double) g[j] * (double) g[j];
    }
    double inv = 1.0 / sqrt(norm2); /* 16 Gaussians are never all zero */
    for (size_t i = 0; i < D; i++) {
        double acc = 0.0;
        for (size_t j = 0; j < K; j++) {
            acc += A[i * K + j] * (double) g[j] * inv;
        }
        theta[i] = acc;
    }
}

void mf_dataset_linear_subspace_theta(float *theta_out)
{
    double A[MF_DATASET_SUBSPACE_D * MF_DATASET_SUBSPACE_K], theta[MF_DATASET_SUBSPACE_D];
    subspace_basis(A);
    subspace_theta(A, theta);
    for (size_t i = 0; i < MF_DATASET_SUBSPACE_D; i++) {
        theta_out[i] = (float) theta[i];
    }
}

/*
 * |(I - A A^T) x| for one 64-D point: c = A^T x, then the residual x - A c.
 * Forming A A^T x through the 16 coefficients costs 2 D K instead of D^2.
 */
static double subspace_off(const double *A, const float *x)
{
    enum {
        D = MF_DATASET_SUBSPACE_D,
        K = MF_DATASET_SUBSPACE_K
    };

    double c[K] = {0};
    for (size_t i = 0; i < D; i++) {
        for (size_t j = 0; j < K; j++) {
            c[j] += A[i * K + j] * (double) x[i];
        }
    }
    double res2 = 0.0;
    for (size_t i = 0; i < D; i++) {
        double proj = 0.0;
        for (size_t j = 0; j < K; j++) {
            proj += A[i * K + j] * c[j];
        }
        double e = (double) x[i] - proj;
        res2 += e * e;
    }
    return sqrt(res2);
}

void mf_dataset_linear_subspace_off(const float *x, size_t n, double *ret)
{
    double A[MF_DATASET_SUBSPACE_D * MF_DATASET_SUBSPACE_K];
    subspace_basis(A);
    for (size_t p = 0; p < n; p++) {
        ret[p] = subspace_off(A, x + p * MF_DATASET_SUBSPACE_D);
    }
}

mf_err mf_dataset_off_support(mf_dataset_id id, const float *x, size_t n, double *ret)
{
    if (!id_valid(id) || ((x == NULL || ret == NULL) && n > 0)) {
        return MF_EINVAL;
    }
    if (id == MF_DATASET_LINEAR_SUBSPACE) {
        mf_dataset_linear_subspace_off(x, n, ret);
        return MF_OK;
    }
    if (id == MF_DATASET_RING) {
        for (size_t p = 0; p < n; p++) {
            ret[p] = fabs(hypot((double) x[2 * p], (double) x[2 * p + 1]) - 2.0);
        }
        return MF_OK;
    }
    return MF_ENOTFOUND;
}

mf_err mf_dataset_true_reward(mf_dataset_id id, const float *x, size_t n, double *ret)
{
    if (!id_valid(id) || ((x == NULL || ret == NULL) && n > 0)) {
        return MF_EINVAL;
    }
    if (id == MF_DATASET_LINEAR_SUBSPACE) {
        double A[MF_DATASET_SUBSPACE_D * MF_DATASET_SUBSPACE_K], theta[MF_DATASET_SUBSPACE_D];
        subspace_basis(A);
        subspace_theta(A, theta);
        for (size_t p = 0; p < n; p++) {
            double acc = 0.0;
            for (size_t i = 0; i < MF_DATASET_SUBSPACE_D; i++) {
                acc += theta[i] * (double) x[p * MF_DATASET_SUBSPACE_D + i];
            }
            ret[p] = acc;
        }
        return MF_OK;
    }
    if (id == MF_DATASET_RING) {
        for (size_t p = 0; p < n; p++) {
            ret[p] = (double) x[2 * p];
        }
        return MF_OK;
    }
    return MF_ENOTFOUND;
}

/* ---- digits split --------------------------------------------------------------------- */

/* heldout_mask[i] = 1 when image i is in the held-out split (see dataset.h). */
static void digits_split(uint8_t heldout_mask[MF_DATASET_DIGITS_N])
{
    uint16_t perm[MF_DATASET_DIGITS_N];
    mf_rng r = mf_rng_make(MF_DATASET_DIGITS_SPLIT_SEED);
    for (size_t i = 0; i < MF_DATASET_DIGITS_N; i++) {
        perm[i] = (uint16_t) i;
    }
    for (uint32_t k = MF_DATASET_DIGITS_N - 1; k >= 1; k--) {
        uint32_t j = mf_rng_below(r, k, k + 1);
        uint16_t t = perm[k];
        perm[k] = perm[j];
        perm[j] = t;
    }
    memset(heldout_mask, 0, MF_DATASET_DIGITS_N);
    for (size_t i = 0; i < MF_DATASET_DIGITS_N_HELDOUT; i++) {
        heldout_mask[perm[i]] = 1;
    }
}

/* The original indices of a split, increasing; returns the count. */
static size_t digits_split_indices(bool heldout, uint16_t idx[MF_DATASET_DIGITS_N])
{
    uint8_t mask[MF_DATASET_DIGITS_N];
    digits_split(mask);
    size_t n = 0;
    for (size_t i = 0; i < MF_DATASET_DIGITS_N; i++) {
        if ((mask[i] != 0) == heldout) {
            idx[n++] = (uint16_t) i;
        }
    }
    return n;
}

size_t mf_dataset_digits_count(bool heldout)
{
    return heldout ? MF_DATASET_DIGITS_N_HELDOUT : MF_DATASET_DIGITS_N_TRAIN;
}

static void digits_copy_row(size_t image, float *out)
{
    for (size_t d = 0; d < MF__DIGITS_PIXELS; d++) {
        out[d] = (float) mf__digits_data[image][d];
    }
}

void mf_dataset_digits_rows(bool heldout, float *out, uint8_t *labels_or_null)
{
    uint16_t idx[MF_DATASET_DIGITS_N];
    size_t n = digits_split_indices(heldout, idx);
    for (size_t r = 0; r < n; r++) {
        digits_copy_row(idx[r], out + r * MF_DATASET_DIGITS_D);
        if (labels_or_null != NULL) {
            labels_or_null[r] = mf__digits_data[idx[r]][MF__DIGITS_PIXELS];
        }
    }
}

void mf_dataset_digits_indices(bool heldout, size_t *out)
{
    uint16_t idx[MF_DATASET_DIGITS_N];
    size_t n = digits_split_indices(heldout, idx);
    for (size_t r = 0; r < n; r++) {
        out[r] = idx[r];
    }
}

/* ---- generated points ----------------------------------------------------------------- */

/* One 2-D point from four uniforms u and four normals g. */
static void point_2d(mf_dataset_id id, const float u4[4], const float g4[4], float out[2])
{
    double u[4], g[4], x = 0.0, y = 0.0;
    for (int k = 0; k < 4; k++) {
        u[k] = (double) u4[k];
        g[k] = (double) g4[k];
    }
    switch (id) {
    case MF_DATASET_GAUSSIAN:
        x = MF_DATASET_GAUSSIAN_STD * g[0];
        y = MF_DATASET_GAUSSIAN_STD * g[1];
        break;
    case MF_DATASET_EIGHT_GAUSSIANS: {
        /* DxMI/MPDR: centres 4 (cos 45°j, sin 45°j), noise 0.5, all divided by 1.414. */
        double a = (PI / 4.0) * floor(8.0 * u[0]);
        x = (MF_DATASET_EIGHT_RADIUS * cos(a) + MF_DATASET_EIGHT_NOISE * g[0]) /
            MF_DATASET_EIGHT_DIV;
        y = (MF_DATASET_EIGHT_RADIUS * sin(a) + MF_DATASET_EIGHT_NOISE * g[1]) /
            MF_DATASET_EIGHT_DIV;
        break;
    }
    case MF_DATASET_IMBALANCED_SQUARE:
        if (u[0] < 0.8) {
            x = -0.25 + 0.5 * u[2];
            y = -0.25 + 0.5 * u[3];
        } else {
            /* The frame [-1,1]^2 minus [-0.25,0.25]^2 (area 3.75) as four rectangles:
             * top [-1,1]x[0.25,1] and bottom [-1,1]x[-1,-0.25] (area 1.5 each), left
             * [-1,-0.25]x[-0.25,0.25] and right [0.25,1]x[-0.25,0.25] (0.375 each). */
            double v = 3.75 * u[1];
            if (v < 1.5) {
                x = -1.0 + 2.0 * u[2];
                y = 0.25 + 0.75 * u[3];
            } else if (v < 3.0) {
                x = -1.0 + 2.0 * u[2];
                y = -1.0 + 0.75 * u[3];
            } else if (v < 3.375) {
                x = -1.0 + 0.75 * u[2];
                y = -0.25 + 0.5 * u[3];
            } else {
                x = 0.25 + 0.75 * u[2];
                y = -0.25 + 0.5 * u[3];
            }
        }
        break;
    case MF_DATASET_TWO_MOONS: {
        double a = PI * u[1], px, py;
        if (u[0] < 0.5) {
            px = cos(a);
            py = sin(a);
        } else {
            px = 1.0 - cos(a);
            py = 0.5 - sin(a);
        }
        x = 1.25 * (px + 0.05 * g[0] - 0.5);
        y = 1.25 * (py + 0.05 * g[1] - 0.25);
        break;
    }
    case MF_DATASET_SWISS_ROLL: {
        double t = 1.5 * PI * (1.0 + 2.0 * u[0]);
        x = (t * cos(t) + 0.5 * g[0]) / 7.0;
        y = (t * sin(t) + 0.5 * g[1]) / 7.0;
        break;
    }
    case MF_DATASET_CHECKERBOARD: {
        x = 4.0 * u[0] - 2.0;
        double column = floor(x); /* -2, -1, 0 or 1 */
        double parity = column - 2.0 * floor(column / 2.0);
        y = u[1] - (u[2] < 0.5 ? 2.0 : 0.0) + parity;
        break;
    }
    case MF_DATASET_PINWHEEL: {
        double k = floor(5.0 * u[0]);
        double f1 = 1.0 + 0.3 * g[0], f2 = 0.1 * g[1];
        double a = 2.0 * PI * k / 5.0 + 0.25 * exp(f1);
        x = f1 * cos(a) + f2 * sin(a);
        y = -f1 * sin(a) + f2 * cos(a);
        break;
    }
    case MF_DATASET_RING: {
        double phi = 2.0 * PI * u[0];
        x = 2.0 * cos(phi) + 0.02 * g[0];
        y = 2.0 * sin(phi) + 0.02 * g[1];
        break;
    }
    case MF_DATASET_LINEAR_SUBSPACE:
    case MF_DATASET_DIGITS:
        break; /* not 2-D: handled by the caller */
    }
    out[0] = (float) x;
    out[1] = (float) y;
}

/*
 * Points first .. first + n - 1 of the base stream into out (n, D).  The caller
 * has validated id, out and the ranges.
 */
static void generate(mf_dataset_id id, mf_rng base, uint64_t first, float *out, size_t n)
{
    mf_rng ru = mf_rng_derive(base, TAG_UNIFORM);
    mf_rng rn = mf_rng_derive(base, TAG_NORMAL);
    if (id == MF_DATASET_LINEAR_SUBSPACE) {
        enum {
            D = MF_DATASET_SUBSPACE_D,
            K = MF_DATASET_SUBSPACE_K
        };

        double A[D * K];
        subspace_basis(A);
        for (size_t p = 0; p < n; p++) {
            float z[K];
            mf_rng_normal(rn, (first + p) * K, z, K);
            for (size_t i = 0; i < D; i++) {
                double acc = 0.0;
                for (size_t j = 0; j < K; j++) {
                    acc += A[i * K + j] * (double) z[j];
                }
                out[p * D + i] = (float) acc;
            }
        }
        return;
    }
    if (id == MF_DATASET_DIGITS) {
        uint16_t train[MF_DATASET_DIGITS_N];
        size_t n_train = digits_split_indices(false, train);
        for (size_t p = 0; p < n; p++) {
            uint32_t r = mf_rng_below(ru, first + p, (uint32_t) n_train);
            digits_copy_row(train[r], out + p * MF_DATASET_DIGITS_D);
        }
        return;
    }
    for (size_t p = 0; p < n; p++) {
        float u[4], g[4];
        mf_rng_uniform(ru, (first + p) * 4, u, 4);
        mf_rng_normal(rn, (first + p) * 4, g, 4);
        point_2d(id, u, g, out + 2 * p);
    }
}

/* Common argument checks of sample/heldout. */
static mf_err check_out(mf_dataset_id id, const float *out, size_t n)
{
    size_t total;
    if (!id_valid(id) || (out == NULL && n > 0)) {
        return MF_EINVAL;
    }
    return mf_size_mul(n, mf_dataset_dim(id), &total);
}

mf_err mf_dataset_sample(mf_dataset_id id, mf_rng rng, uint64_t first_index, float *out, size_t n)
{
    mf_err err = check_out(id, out, n);
    if (err != MF_OK) {
        return err;
    }
    /* Variate offsets reach 16 (first_index + n): keep them below 2^64. */
    if (first_index > UINT64_MAX / 16 || (uint64_t) n > UINT64_MAX / 16 - first_index) {
        return MF_ERANGE;
    }
    if (n == 0) {
        return MF_OK;
    }
    generate(id, mf_rng_derive(rng, TAG_TRAIN), first_index, out, n);
    return MF_OK;
}

void mf_dataset_dequantise(mf_rng rng, uint64_t offset, float *x, size_t n)
{
    float u[256];
    for (size_t j0 = 0; j0 < n; j0 += 256) {
        size_t m = n - j0 < 256 ? n - j0 : 256;
        mf_rng_uniform(rng, offset + j0, u, m);
        for (size_t j = 0; j < m; j++) {
            x[j0 + j] += u[j] - 0.5f;
        }
    }
}

mf_err mf_dataset_train_batch(mf_dataset_id id, uint64_t seed, uint64_t step, size_t batch,
                              bool dequantise, float offset, float scale, float *out)
{
    mf_rng data = mf_rng_derive(mf_rng_make(seed), 0x64617461 /* "data" */);
    mf_err err = mf_dataset_sample(id, data, step * batch, out, batch);
    if (err != MF_OK) {
        return err;
    }
    size_t n = batch * mf_dataset_dim(id);
    if (dequantise) {
        mf_dataset_dequantise(mf_rng_derive(data, 0x6471 /* "dq" */), step * n, out, n);
    }
    for (size_t j = 0; j < n; j++) {
        out[j] = (out[j] - offset) / scale;
    }
    return MF_OK;
}

mf_err mf_dataset_heldout(mf_dataset_id id, float *out, size_t n)
{
    mf_err err = check_out(id, out, n);
    if (err != MF_OK) {
        return err;
    }
    if (id == MF_DATASET_DIGITS) {
        if (n > MF_DATASET_DIGITS_N_HELDOUT) {
            return MF_ERANGE;
        }
        uint16_t idx[MF_DATASET_DIGITS_N];
        (void) digits_split_indices(true, idx);
        for (size_t r = 0; r < n; r++) {
            digits_copy_row(idx[r], out + r * MF_DATASET_DIGITS_D);
        }
        return MF_OK;
    }
    if ((uint64_t) n > UINT64_MAX / 16) {
        return MF_ERANGE;
    }
    if (n > 0) {
        mf_rng base = mf_rng_derive(mf_rng_make(MF_DATASET_HELDOUT_SEED), TAG_HELDOUT);
        generate(id, base, 0, out, n);
    }
    return MF_OK;
}

/* ---- support -------------------------------------------------------------------------- */

/* Distance from v to the interval [lo, hi]. */
static double dist_interval(double v, double lo, double hi)
{
    return v < lo ? lo - v : (v > hi ? v - hi : 0.0);
}

static bool in_checkerboard(const float *x, double margin)
{
    /* The squares [a, a+1] x [b, b+1], a, b in {-2,-1,0,1}, a + b even. */
    for (int a = -2; a <= 1; a++) {
        for (int b = -2; b <= 1; b++) {
            if (((a + b) % 2) != 0) {
                continue;
            }
            if (dist_interval((double) x[0], a, a + 1) <= margin &&
                dist_interval((double) x[1], b, b + 1) <= margin) {
                return true;
            }
        }
    }
    return false;
}

mf_err mf_dataset_count_in_support(mf_dataset_id id, const float *x, size_t n, double margin,
                                   size_t *ret_count)
{
    if (!id_valid(id) || (x == NULL && n > 0) || !(margin >= 0.0)) {
        return MF_EINVAL;
    }
    size_t count = 0;
    switch (id) {
    case MF_DATASET_IMBALANCED_SQUARE:
        for (size_t p = 0; p < n; p++) {
            const float *xp = x + 2 * p;
            if (fabs((double) xp[0]) <= 1.0 + margin && fabs((double) xp[1]) <= 1.0 + margin) {
                count++;
            }
        }
        break;
    case MF_DATASET_CHECKERBOARD:
        for (size_t p = 0; p < n; p++) {
            count += in_checkerboard(x + 2 * p, margin) ? 1 : 0;
        }
        break;
    case MF_DATASET_RING:
        for (size_t p = 0; p < n; p++) {
            double r = hypot((double) x[2 * p], (double) x[2 * p + 1]);
            count += fabs(r - 2.0) <= margin ? 1 : 0;
        }
        break;
    case MF_DATASET_LINEAR_SUBSPACE: {
        double A[MF_DATASET_SUBSPACE_D * MF_DATASET_SUBSPACE_K];
        subspace_basis(A);
        for (size_t p = 0; p < n; p++) {
            count += subspace_off(A, x + p * MF_DATASET_SUBSPACE_D) <= margin ? 1 : 0;
        }
        break;
    }
    case MF_DATASET_GAUSSIAN:
    case MF_DATASET_EIGHT_GAUSSIANS:
    case MF_DATASET_TWO_MOONS:
    case MF_DATASET_SWISS_ROLL:
    case MF_DATASET_PINWHEEL:
    case MF_DATASET_DIGITS:
        return MF_ENOTFOUND;
    }
    *ret_count = count;
    return MF_OK;
}
