/* SPDX-License-Identifier: MIT */
/*
 * reward.c - ridge and MLP reward models (see reward.h).
 *
 * The network's forward and backward passes are in reward_net.c.
 *
 * The ridge solve is in double: Xc^T Xc by dsyrk on the centred rows, the
 * penalty on the diagonal, then LAPACK's Cholesky solve dposv (the system is
 * symmetric positive definite when lambda > 0).
 */
#include "reward.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "mem.h"
#include "optim.h"
#include "rng.h"

/* LAPACK (Fortran calling convention, hidden string lengths last). */
void dposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *lda, double *b,
            const int *ldb, int *info, size_t uplo_len);

/* Stream tags under the seed. */
enum {
    TAG_SPLIT = 0x73706c,  /* "spl" */
    TAG_INIT = 0x696e69,   /* "ini" */
    TAG_BATCH = 0x626174,  /* "bat" */
    TAG_PSEUDO = 0x707364, /* "psd" */
};

const char *const mf_reward_kind_names[] = {"ridge", "mlp", NULL};

const char *mf_reward_kind_name(mf_reward_kind kind)
{
    return (unsigned) kind <= MF_REWARD_MLP ? mf_reward_kind_names[kind] : "unknown";
}

mf_err mf_reward_kind_lookup(const char *name, mf_reward_kind *ret)
{
    for (int k = MF_REWARD_RIDGE; k <= MF_REWARD_MLP; k++) {
        if (name != NULL && strcmp(name, mf_reward_kind_name((mf_reward_kind) k)) == 0) {
            *ret = (mf_reward_kind) k;
            return MF_OK;
        }
    }
    return MF_ENOTFOUND;
}

/* ---- layout and lifecycle --------------------------------------------------------- */

mf_err mf_reward_layout(mf_reward_kind kind, size_t D, const size_t *hidden, size_t n_hidden,
                        mf_reward_model *ret)
{
    bool shape_ok = kind == MF_REWARD_RIDGE ? n_hidden == 0
                                            : (kind == MF_REWARD_MLP && n_hidden >= 1 &&
                                               n_hidden <= MF_REWARD_MAX_HIDDEN && hidden != NULL);
    if (!shape_ok || D == 0 || D > MF_REWARD_MAX_WIDTH || ret == NULL) {
        return MF_EINVAL;
    }
    for (size_t i = 0; i < n_hidden; i++) {
        if (hidden[i] == 0 || hidden[i] > MF_REWARD_MAX_WIDTH) {
            return MF_EINVAL;
        }
    }
    mf_reward_model *r = ret;
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->D = D;
    r->n_hidden = n_hidden;
    r->n_layers = n_hidden + 1;
    size_t off = 0; /* widths <= 2^12 and <= 5 layers: no overflow */
    for (size_t i = 0; i < r->n_layers; i++) {
        if (i < n_hidden) {
            r->hidden[i] = hidden[i];
        }
        r->in_dim[i] = i == 0 ? D : hidden[i - 1];
        r->out_dim[i] = i == n_hidden ? 1 : hidden[i];
        r->w_off[i] = off;
        off += r->in_dim[i] * r->out_dim[i];
        r->b_off[i] = off;
        off += r->out_dim[i];
    }
    r->n_params = off;
    return MF_OK;
}

mf_err mf_reward_new(mf_reward_kind kind, size_t D, const size_t *hidden, size_t n_hidden,
                     mf_reward_model **ret)
{
    mf_reward_model shape;
    if (mf_reward_layout(kind, D, hidden, n_hidden, &shape) != MF_OK || ret == NULL) {
        return MF_EINVAL;
    }
    mf_reward_model *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return MF_ENOMEM;
    }
    *r = shape;
    if ((r->params = mf_alloc_floats(r->n_params)) == NULL) {
        free(r);
        return MF_ENOMEM;
    }
    *ret = r;
    return MF_OK;
}

mf_err mf_reward_clone(const mf_reward_model *r, mf_reward_model **ret)
{
    if (r == NULL) {
        return MF_EINVAL;
    }
    mf_reward_model *c;
    mf_err err = mf_reward_new(r->kind, r->D, r->hidden, r->n_hidden, &c);
    if (err != MF_OK) {
        return err;
    }
    memcpy(c->params, r->params, r->n_params * sizeof(float));
    *ret = c;
    return MF_OK;
}

void mf_reward_free(mf_reward_model *r)
{
    if (r == NULL) {
        return;
    }
    mf_free_aligned(r->params);
    free(r);
}

void mf_reward_tensor_names_prefix(const mf_reward_model *r, const char *prefix, size_t layer,
                                   char *w_name, char *b_name)
{
    if (r->kind == MF_REWARD_RIDGE) {
        snprintf(w_name, MF_REWARD_NAME_CAP, "%s.weight", prefix);
        snprintf(b_name, MF_REWARD_NAME_CAP, "%s.bias", prefix);
        return;
    }
    snprintf(w_name, MF_REWARD_NAME_CAP, "%s.layers.%zu.weight", prefix, layer);
    snprintf(b_name, MF_REWARD_NAME_CAP, "%s.layers.%zu.bias", prefix, layer);
}

void mf_reward_tensor_names(const mf_reward_model *r, size_t layer, char *w_name, char *b_name)
{
    mf_reward_tensor_names_prefix(r, "reward", layer, w_name, b_name);
}

size_t mf_reward_weight_shape(const mf_reward_model *r, size_t layer, size_t shape[2])
{
    if (r->kind == MF_REWARD_RIDGE) {
        shape[0] = r->D;
        return 1;
    }
    shape[0] = r->out_dim[layer];
    shape[1] = r->in_dim[layer];
    return 2;
}

/* ---- options ---------------------------------------------------------------------- */

mf_reward_opts mf_reward_opts_default(void)
{
    return (mf_reward_opts){
        .kind = MF_REWARD_RIDGE,
        .lambda = 1e-3,
        .val_frac = 0.2,
        .hidden = {64, 64},
        .n_hidden = 2,
        .steps = 2000,
        .batch = 128,
        .lr = 3e-3,
        .seed = 0,
    };
}

mf_err mf_reward_opts_check(const mf_reward_opts *o, mf_diag *diag)
{
    if (o == NULL) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "no reward model options");
    }
    if (o->kind != MF_REWARD_RIDGE && o->kind != MF_REWARD_MLP) {
        return mf_diag_set(diag, MF_EINVAL, "kind", "reward model kind must be ridge or mlp");
    }
    if (!(isfinite(o->lambda) && o->lambda >= 0.0)) {
        return mf_diag_set(diag, MF_EINVAL, "lambda", "lambda must be a finite number >= 0");
    }
    if (!(o->val_frac >= 0.0 && o->val_frac <= 0.5)) {
        return mf_diag_set(diag, MF_EINVAL, "val_frac", "val_frac must be in [0, 0.5]");
    }
    if (o->kind == MF_REWARD_RIDGE) {
        return MF_OK;
    }
    if (o->n_hidden < 1 || o->n_hidden > MF_REWARD_MAX_HIDDEN) {
        return mf_diag_set(diag, MF_EINVAL, "hidden", "an mlp reward model has 1..%d hidden layers",
                           MF_REWARD_MAX_HIDDEN);
    }
    for (size_t i = 0; i < o->n_hidden; i++) {
        if (o->hidden[i] < 1 || o->hidden[i] > MF_REWARD_MAX_WIDTH) {
            return mf_diag_set(diag, MF_EINVAL, "hidden", "hidden widths must be in 1..%d",
                               MF_REWARD_MAX_WIDTH);
        }
    }
    if (o->steps < 1 || o->steps > 10000000) {
        return mf_diag_set(diag, MF_EINVAL, "steps", "steps must be in 1..10000000");
    }
    if (o->batch < 1) {
        return mf_diag_set(diag, MF_EINVAL, "batch", "batch must be >= 1");
    }
    if (!(o->lr > 0.0 && o->lr <= 1.0)) {
        return mf_diag_set(diag, MF_EINVAL, "lr", "lr must be in (0, 1]");
    }
    return MF_OK;
}

/* ---- fitting ---------------------------------------------------------------------- */

/* A seeded permutation of 0..n-1 (Fisher-Yates, swaps from the top). */
static void permutation(uint64_t seed, size_t *perm, size_t n)
{
    mf_rng r = mf_rng_derive(mf_rng_make(seed), TAG_SPLIT);
    for (size_t i = 0; i < n; i++) {
        perm[i] = i;
    }
    for (size_t k = n; k-- > 1;) {
        size_t j = mf_rng_below(r, k, (uint32_t) (k + 1));
        size_t t = perm[k];
        perm[k] = perm[j];
        perm[j] = t;
    }
}

/* Means of the rows idx (n) of x (., D) and of y into mx (D), *my. */
static void means(const float *x, const float *y, const size_t *idx, size_t n, size_t D, double *mx,
                  double *my)
{
    memset(mx, 0, D * sizeof(double));
    *my = 0.0;
    for (size_t i = 0; i < n; i++) {
        for (size_t d = 0; d < D; d++) {
            mx[d] += (double) x[idx[i] * D + d];
        }
        *my += (double) y[idx[i]];
    }
    for (size_t d = 0; d < D; d++) {
        mx[d] /= (double) n;
    }
    *my /= (double) n;
}

static mf_err fit_ridge(const mf_reward_opts *o, const float *x, const float *y, const size_t *idx,
                        size_t n, mf_reward_model *r, mf_diag *diag)
{
    size_t D = r->D, nd;
    if (mf_size_mul(n, D, &nd) != MF_OK) {
        return mf_diag_set(diag, MF_ERANGE, NULL, "too many labelled rows");
    }
    double *X = mf_alloc_doubles(nd), *G = mf_alloc_doubles(D * D), *rhs = mf_alloc_doubles(D);
    double *yc = mf_alloc_doubles(n), *mx = mf_alloc_doubles(D), my = 0.0;
    mf_err err = MF_OK;
    if (X == NULL || G == NULL || rhs == NULL || yc == NULL || mx == NULL) {
        err = mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory for the ridge system");
        goto out;
    }
    means(x, y, idx, n, D, mx, &my);
    for (size_t i = 0; i < n; i++) {
        for (size_t d = 0; d < D; d++) {
            X[i * D + d] = (double) x[idx[i] * D + d] - mx[d];
        }
        yc[i] = (double) y[idx[i]] - my;
    }
    /* Lower triangle of G = Xc^T Xc (row-major), i.e. the upper one in LAPACK's column order. */
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, (int) D, (int) n, 1.0, X, (int) D, 0.0, G,
                (int) D);
    cblas_dgemv(CblasRowMajor, CblasTrans, (int) n, (int) D, 1.0, X, (int) D, yc, 1, 0.0, rhs, 1);
    for (size_t d = 0; d < D; d++) {
        G[d * D + d] += o->lambda;
    }
    int dn = (int) D, one = 1, info = 0;
    dposv_("U", &dn, &one, G, &dn, rhs, &dn, &info, 1);
    if (info != 0) {
        err = mf_diag_set(diag, MF_ERANGE, "lambda",
                          "the ridge system is not positive definite (lambda %g with %zu training "
                          "rows in %zu dimensions): raise lambda",
                          o->lambda, n, D);
        goto out;
    }
    double b = my;
    for (size_t d = 0; d < D; d++) {
        r->params[d] = (float) rhs[d];
        b -= rhs[d] * mx[d];
    }
    r->params[D] = (float) b;
out:
    mf_free_aligned(X);
    mf_free_aligned(G);
    mf_free_aligned(rhs);
    mf_free_aligned(yc);
    mf_free_aligned(mx);
    return err;
}

void mf_reward_init_params(mf_reward_model *r, uint64_t seed)
{
    mf_rng root = mf_rng_derive(mf_rng_make(seed), TAG_INIT);
    for (size_t i = 0; i < r->n_layers; i++) {
        float bound = 1.0f / sqrtf((float) r->in_dim[i]);
        size_t n = r->in_dim[i] * r->out_dim[i] + r->out_dim[i]; /* weight then bias */
        float *p = r->params + r->w_off[i];
        mf_rng_uniform(mf_rng_derive(root, i), 0, p, n);
        for (size_t j = 0; j < n; j++) {
            p[j] = (2.0f * p[j] - 1.0f) * bound;
        }
    }
}

/* Per-feature mean and std of the rows idx of x, and of y (std 1 where constant). */
static void standardisation(const float *x, const float *y, const size_t *idx, size_t n, size_t D,
                            double *mx, double *sx, double *my, double *sy)
{
    means(x, y, idx, n, D, mx, my);
    memset(sx, 0, D * sizeof(double));
    double vy = 0.0;
    for (size_t i = 0; i < n; i++) {
        for (size_t d = 0; d < D; d++) {
            double e = (double) x[idx[i] * D + d] - mx[d];
            sx[d] += e * e;
        }
        vy += ((double) y[idx[i]] - *my) * ((double) y[idx[i]] - *my);
    }
    for (size_t d = 0; d < D; d++) {
        sx[d] = sqrt(sx[d] / (double) n);
        sx[d] = sx[d] > 1e-8 ? sx[d] : 1.0; /* a constant pixel: any scale is exact */
    }
    *sy = sqrt(vy / (double) n);
    *sy = *sy > 1e-12 ? *sy : 1.0;
}

/*
 * Folds the standardisation into the network: with z = (x - mu) / s,
 * W_0 z + b_0 = (W_0 diag(1/s)) x + (b_0 - W_0 diag(1/s) mu), and the output
 * y = s_y f + mu_y scales the last layer.  The hidden layers are unchanged.
 */
static void fold_standardisation(mf_reward_model *r, const double *mx, const double *sx, double my,
                                 double sy)
{
    size_t D = r->D, h = r->out_dim[0];
    float *w = r->params + r->w_off[0], *b = r->params + r->b_off[0];
    for (size_t o = 0; o < h; o++) {
        double shift = 0.0;
        for (size_t d = 0; d < D; d++) {
            double wd = (double) w[o * D + d] / sx[d];
            w[o * D + d] = (float) wd;
            shift += wd * mx[d];
        }
        b[o] = (float) ((double) b[o] - shift);
    }
    size_t k = r->n_hidden, in = r->in_dim[k];
    float *wk = r->params + r->w_off[k];
    for (size_t j = 0; j < in; j++) {
        wk[j] = (float) ((double) wk[j] * sy);
    }
    r->params[r->b_off[k]] = (float) ((double) r->params[r->b_off[k]] * sy + my);
}

/* Mini-batch Adam on the squared error of standardised rows (see reward.h). */
static mf_err fit_mlp(const mf_reward_opts *o, const float *x, const float *y, const size_t *idx,
                      size_t n, mf_reward_model *r, mf_diag *diag)
{
    size_t D = r->D, B = o->batch < n ? o->batch : n;
    double *mx = mf_alloc_doubles(D), *sx = mf_alloc_doubles(D), my = 0.0, sy = 1.0;
    float *grad = mf_alloc_floats(r->n_params), *m = mf_alloc_floats(r->n_params);
    float *v = mf_alloc_floats(r->n_params), *xb = mf_alloc_floats(B * D);
    float *yb = mf_alloc_floats(B), *f = mf_alloc_floats(B);
    mf_reward_ws *ws = NULL;
    mf_err err = MF_OK;
    if (mx == NULL || sx == NULL || grad == NULL || m == NULL || v == NULL || xb == NULL ||
        yb == NULL || f == NULL || mf_reward_ws_new(r, B, &ws) != MF_OK) {
        err = mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory for the reward network");
        goto out;
    }
    standardisation(x, y, idx, n, D, mx, sx, &my, &sy);
    mf_reward_init_params(r, o->seed);
    mf_adam adam = {.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .m = m, .v = v};
    mf_rng rb = mf_rng_derive(mf_rng_make(o->seed), TAG_BATCH);
    for (size_t step = 0; step < o->steps; step++) {
        for (size_t j = 0; j < B; j++) {
            size_t row = idx[mf_rng_below(rb, (uint64_t) step * B + j, (uint32_t) n)];
            for (size_t d = 0; d < D; d++) {
                xb[j * D + d] = (float) (((double) x[row * D + d] - mx[d]) / sx[d]);
            }
            yb[j] = (float) (((double) y[row] - my) / sy);
        }
        mf_reward_forward(r, ws, xb, B, f);
        for (size_t j = 0; j < B; j++) { /* dL/df of L = mean (f - y)^2 */
            f[j] = 2.0f * (f[j] - yb[j]) / (float) B;
        }
        memset(grad, 0, r->n_params * sizeof(float));
        mf_reward_backward(r, ws, xb, f, B, grad, NULL, 0);
        float lr = mf_lr_at(MF_LR_COSINE, (float) o->lr, (float) o->lr * 0.01f, 0, step, o->steps);
        mf_adam_step(&adam, r->params, grad, r->n_params, lr);
    }
    if (!mf_floats_finite(r->params, r->n_params)) {
        err = mf_diag_set(diag, MF_ERANGE, "lr", "the reward network diverged: lower lr");
        goto out;
    }
    fold_standardisation(r, mx, sx, my, sy);
out:
    mf_reward_ws_free(ws);
    mf_free_aligned(mx);
    mf_free_aligned(sx);
    mf_free_aligned(grad);
    mf_free_aligned(m);
    mf_free_aligned(v);
    mf_free_aligned(xb);
    mf_free_aligned(yb);
    mf_free_aligned(f);
    return err;
}

/* Mean squared error and R^2 of the rows idx (n) under r, in double. */
static mf_err score(const mf_reward_model *r, const float *x, const float *y, const size_t *idx,
                    size_t n, double *ret_mse, double *ret_r2)
{
    size_t D = r->D, chunk = 256;
    float *xb = mf_alloc_floats(chunk * D), *f = mf_alloc_floats(chunk);
    mf_reward_ws *ws = NULL;
    if (xb == NULL || f == NULL || mf_reward_ws_new(r, chunk, &ws) != MF_OK) {
        mf_free_aligned(xb);
        mf_free_aligned(f);
        return MF_ENOMEM;
    }
    double sse = 0.0, sy = 0.0, syy = 0.0;
    for (size_t r0 = 0; r0 < n; r0 += chunk) {
        size_t m = n - r0 < chunk ? n - r0 : chunk;
        for (size_t j = 0; j < m; j++) {
            memcpy(xb + j * D, x + idx[r0 + j] * D, D * sizeof(float));
        }
        mf_reward_predict(r, ws, xb, m, f);
        for (size_t j = 0; j < m; j++) {
            double yj = (double) y[idx[r0 + j]], e = (double) f[j] - yj;
            sse += e * e;
            sy += yj;
            syy += yj * yj;
        }
    }
    double sst = syy - sy * sy / (double) n;
    *ret_mse = sse / (double) n;
    /* Constant labels leave only rounding in sst: no R^2 then. */
    *ret_r2 = n >= 2 && sst > 1e-12 * syy ? 1.0 - sse / sst : (double) NAN;
    mf_reward_ws_free(ws);
    mf_free_aligned(xb);
    mf_free_aligned(f);
    return MF_OK;
}

mf_err mf_reward_fit(const mf_reward_opts *o, const float *x, const float *y, size_t n, size_t D,
                     mf_reward_model **ret, mf_reward_stats *ret_stats, mf_diag *diag)
{
    mf_err err = mf_reward_opts_check(o, diag);
    if (err != MF_OK) {
        return err;
    }
    if (x == NULL || y == NULL || ret == NULL || D == 0 || D > MF_REWARD_MAX_WIDTH ||
        n > UINT32_MAX) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "invalid labelled data");
    }
    size_t n_val = (size_t) floor(o->val_frac * (double) n), n_train = n - n_val, nd;
    if (n_train < 2) {
        return mf_diag_set(diag, MF_EINVAL, "labels",
                           "a reward model needs at least 2 training "
                           "rows (%zu labelled, %zu held out)",
                           n, n_val);
    }
    if (mf_size_mul(n, D, &nd) != MF_OK) {
        return mf_diag_set(diag, MF_ERANGE, NULL, "too many labelled rows");
    }
    if (!mf_floats_finite(x, nd) || !mf_floats_finite(y, n)) {
        return mf_diag_set(diag, MF_ERANGE, "labels", "labelled data must be finite");
    }
    size_t *perm = malloc(n * sizeof *perm);
    mf_reward_model *r = NULL;
    if (perm == NULL) {
        return mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
    }
    err = mf_reward_new(o->kind, D, o->hidden, o->kind == MF_REWARD_MLP ? o->n_hidden : 0, &r);
    if (err != MF_OK) {
        (void) mf_diag_set(diag, err, NULL, "cannot create the reward model: %s", mf_strerror(err));
        goto fail;
    }
    permutation(o->seed, perm, n);
    const size_t *train = perm + n_val;
    err = o->kind == MF_REWARD_RIDGE ? fit_ridge(o, x, y, train, n_train, r, diag)
                                     : fit_mlp(o, x, y, train, n_train, r, diag);
    mf_reward_stats st = {.n_train = n_train, .n_val = n_val, .val_r2 = NAN};
    double mse_val = 0.0, r2_train = 0.0;
    if (err == MF_OK) {
        err = score(r, x, y, train, n_train, &st.train_mse, &r2_train);
    }
    if (err == MF_OK && n_val > 0) {
        err = score(r, x, y, perm, n_val, &mse_val, &st.val_r2);
    }
    if (err != MF_OK) {
        goto fail;
    }
    free(perm);
    *ret = r;
    if (ret_stats != NULL) {
        *ret_stats = st;
    }
    return MF_OK;
fail:
    if (err == MF_ENOMEM) {
        (void) mf_diag_set(diag, err, NULL, "out of memory");
    }
    free(perm);
    mf_reward_free(r);
    return err;
}

mf_err mf_reward_pseudo_labels(const mf_reward_model *r, const float *x, size_t n, double nu,
                               uint64_t seed, float *y)
{
    if (r == NULL || (n > 0 && (x == NULL || y == NULL)) || !(isfinite(nu) && nu >= 0.0)) {
        return MF_EINVAL;
    }
    size_t chunk = 1024;
    mf_reward_ws *ws = NULL;
    float *xi = mf_alloc_floats(chunk);
    if (xi == NULL || mf_reward_ws_new(r, chunk, &ws) != MF_OK) {
        mf_free_aligned(xi);
        return MF_ENOMEM;
    }
    mf_rng rn = mf_rng_derive(mf_rng_make(seed), TAG_PSEUDO);
    for (size_t r0 = 0; r0 < n; r0 += chunk) {
        size_t m = n - r0 < chunk ? n - r0 : chunk;
        mf_reward_predict(r, ws, x + r0 * r->D, m, y + r0);
        mf_rng_normal(rn, r0, xi, m);
        for (size_t j = 0; j < m; j++) {
            y[r0 + j] = (float) ((double) y[r0 + j] + nu * (double) xi[j]);
        }
    }
    mf_reward_ws_free(ws);
    mf_free_aligned(xi);
    return MF_OK;
}
