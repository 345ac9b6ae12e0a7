/* SPDX-License-Identifier: MIT */
/*
 * knn.c - k-th nearest-neighbour distances (see knn.h): a k-d tree for low
 * dimensions, blocked dgemm for high ones.
 */
#include "knn.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include <cblas.h>

#include "mem.h"

enum {
    LEAF_SIZE = 8
};

/* Query rows per dgemm block: the block's distance matrix stays near 4 MiB. */
#define GEMM_BLOCK_DOUBLES ((size_t) 1 << 19)

/* ---- the k best so far, sorted increasingly (k <= MF_KNN_MAX_K) ------------------------ */

typedef struct best_k {
    size_t k, n;
    double d2[MF_KNN_MAX_K];
    size_t idx[MF_KNN_MAX_K];
} best_k;

static void best_reset(best_k *b, size_t k)
{
    b->k = k;
    b->n = 0;
}

/* The bound a candidate must beat: the k-th squared distance, +inf until k are held. */
static inline double best_bound(const best_k *b)
{
    return b->n < b->k ? (double) INFINITY : b->d2[b->k - 1];
}

static inline void best_push(best_k *b, double d2, size_t idx)
{
    if (d2 >= best_bound(b)) {
        return;
    }
    size_t i = b->n < b->k ? b->n++ : b->k - 1;
    while (i > 0 && b->d2[i - 1] > d2) {
        b->d2[i] = b->d2[i - 1];
        b->idx[i] = b->idx[i - 1];
        i--;
    }
    b->d2[i] = d2;
    b->idx[i] = idx;
}

static double sq_dist(const double *a, const double *b, size_t D)
{
    double s = 0.0;
    for (size_t j = 0; j < D; j++) {
        double t = a[j] - b[j];
        s += t * t;
    }
    return s;
}

/* ---- k-d tree ------------------------------------------------------------------------- */

typedef struct kd_node {
    size_t lo, hi;      /* points [lo, hi) in tree order */
    int dim;            /* splitting coordinate, -1 for a leaf */
    double split;       /* left: coordinate < split (or equal, before mid); right: >= */
    size_t left, right; /* child node indices */
} kd_node;

typedef struct kd_tree {
    size_t D;
    double *pts;  /* (n, D) in tree order */
    size_t *orig; /* orig[i] = row of ref that tree point i came from */
    kd_node *nodes;
    size_t n_nodes;
} kd_tree;

static inline void swap_idx(size_t *a, size_t *b)
{
    size_t t = *a;
    *a = *b;
    *b = t;
}

/*
 * Reorders idx[0..n) so that idx[kth] holds the point whose coordinate dim is
 * the kth smallest, smaller ones before it, larger after.  Three-way
 * partitions, so runs of equal values (duplicated points) cost nothing extra.
 */
static void select_kth(size_t *idx, size_t n, size_t kth, const float *p, size_t D, size_t dim)
{
    size_t lo = 0, hi = n;
    while (hi - lo > 1) {
        double a = p[idx[lo] * D + dim], b = p[idx[lo + (hi - lo) / 2] * D + dim];
        double c = p[idx[hi - 1] * D + dim];
        double pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        size_t lt = lo, i = lo, gt = hi;
        while (i < gt) {
            double v = p[idx[i] * D + dim];
            if (v < pivot) {
                swap_idx(&idx[lt++], &idx[i++]);
            } else if (v > pivot) {
                swap_idx(&idx[i], &idx[--gt]);
            } else {
                i++;
            }
        }
        if (kth < lt) {
            hi = lt;
        } else if (kth >= gt) {
            lo = gt;
        } else {
            return;
        }
    }
}

static size_t kd_build(kd_tree *t, size_t *idx, const float *p, size_t lo, size_t hi)
{
    size_t D = t->D, node = t->n_nodes++;
    kd_node *nd = &t->nodes[node];
    nd->lo = lo;
    nd->hi = hi;
    nd->dim = -1;
    if (hi - lo <= LEAF_SIZE) {
        return node;
    }
    /* Split the widest coordinate at its median. */
    size_t best_dim = 0;
    double best_w = -1.0;
    for (size_t j = 0; j < D; j++) {
        double mn = INFINITY, mx = -INFINITY;
        for (size_t i = lo; i < hi; i++) {
            double v = p[idx[i] * D + j];
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
        }
        if (mx - mn > best_w) {
            best_w = mx - mn;
            best_dim = j;
        }
    }
    if (best_w <= 0.0) {
        return node; /* all points equal: one leaf, however many */
    }
    size_t mid = lo + (hi - lo) / 2;
    select_kth(idx + lo, hi - lo, mid - lo, p, D, best_dim);
    double split = p[idx[mid] * D + best_dim];
    size_t left = kd_build(t, idx, p, lo, mid);
    size_t right = kd_build(t, idx, p, mid, hi);
    nd->dim = (int) best_dim;
    nd->split = split;
    nd->left = left;
    nd->right = right;
    return node;
}

static void kd_free(kd_tree *t)
{
    mf_free_aligned(t->pts);
    free(t->orig);
    free(t->nodes);
}

static mf_err kd_new(const float *ref, size_t nr, size_t D, kd_tree *t)
{
    size_t n_pts;
    if (mf_size_mul(nr, D, &n_pts) != MF_OK) {
        return MF_ERANGE;
    }
    /* An internal node splits a range of more than LEAF_SIZE points into halves
     * of at least LEAF_SIZE / 2, so there are at most 2 nr / LEAF_SIZE leaves
     * (or one), and fewer nodes than twice that. */
    size_t max_nodes = 4 * (nr / LEAF_SIZE) + 2;
    t->D = D;
    t->n_nodes = 0;
    t->pts = mf_alloc_doubles(n_pts);
    t->orig = malloc(nr * sizeof *t->orig);
    t->nodes = malloc(max_nodes * sizeof *t->nodes);
    if (t->pts == NULL || t->orig == NULL || t->nodes == NULL) {
        kd_free(t);
        return MF_ENOMEM;
    }
    for (size_t i = 0; i < nr; i++) {
        t->orig[i] = i;
    }
    kd_build(t, t->orig, ref, 0, nr);
    for (size_t i = 0; i < nr; i++) {
        for (size_t j = 0; j < D; j++) {
            t->pts[i * D + j] = ref[t->orig[i] * D + j];
        }
    }
    return MF_OK;
}

/* skip: the ref row excluded (the query itself), or SIZE_MAX. */
static void kd_search(const kd_tree *t, size_t node, const double *q, size_t skip, best_k *b)
{
    const kd_node *nd = &t->nodes[node];
    if (nd->dim < 0) {
        for (size_t i = nd->lo; i < nd->hi; i++) {
            if (t->orig[i] != skip) {
                best_push(b, sq_dist(q, t->pts + i * t->D, t->D), t->orig[i]);
            }
        }
        return;
    }
    double diff = q[nd->dim] - nd->split;
    size_t near = diff < 0.0 ? nd->left : nd->right, far = diff < 0.0 ? nd->right : nd->left;
    kd_search(t, near, q, skip, b);
    if (diff * diff <= best_bound(b)) {
        kd_search(t, far, q, skip, b);
    }
}

static mf_err knn_tree(const float *q, size_t nq, const float *ref, size_t nr, size_t D, size_t k,
                       bool self, double *ret)
{
    kd_tree t;
    mf_err err = kd_new(ref, nr, D, &t);
    if (err != MF_OK) {
        return err;
    }
    best_k b;
    double qd[MF_KNN_TREE_MAX_DIM];
    for (size_t i = 0; i < nq; i++) {
        for (size_t j = 0; j < D; j++) {
            qd[j] = q[i * D + j];
        }
        best_reset(&b, k);
        kd_search(&t, 0, qd, self ? i : SIZE_MAX, &b);
        ret[i] = sqrt(b.d2[k - 1]);
    }
    kd_free(&t);
    return MF_OK;
}

/* ---- blocked dgemm -------------------------------------------------------------------- */

static mf_err knn_gemm(const float *q, size_t nq, const float *ref, size_t nr, size_t D, size_t k,
                       bool self, double *ret)
{
    size_t nqd, nrd;
    if (mf_size_mul(nq, D, &nqd) != MF_OK || mf_size_mul(nr, D, &nrd) != MF_OK) {
        return MF_ERANGE;
    }
    size_t block = GEMM_BLOCK_DOUBLES / nr;
    block = block < 1 ? 1 : (block > 256 ? 256 : block);
    block = block > nq ? nq : block;
    double *qd = mf_alloc_doubles(nqd), *rd = mf_alloc_doubles(nrd);
    double *rn = mf_alloc_doubles(nr), *g = mf_alloc_doubles(block * nr);
    mf_err err = MF_OK;
    if (qd == NULL || rd == NULL || rn == NULL || g == NULL) {
        err = MF_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < nqd; i++) {
        qd[i] = q[i];
    }
    for (size_t i = 0; i < nrd; i++) {
        rd[i] = ref[i];
    }
    for (size_t j = 0; j < nr; j++) {
        double s = 0.0;
        for (size_t c = 0; c < D; c++) {
            s += rd[j * D + c] * rd[j * D + c];
        }
        rn[j] = s;
    }
    best_k b;
    for (size_t b0 = 0; b0 < nq; b0 += block) {
        size_t rows = nq - b0 < block ? nq - b0 : block;
        /* g = -2 Q_block R^T; then |q|^2 + |r|^2 added below. */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int) rows, (int) nr, (int) D, -2.0,
                    qd + b0 * D, (int) D, rd, (int) D, 0.0, g, (int) nr);
        for (size_t r = 0; r < rows; r++) {
            size_t i = b0 + r;
            const double *qi = qd + i * D;
            double qn = 0.0;
            for (size_t c = 0; c < D; c++) {
                qn += qi[c] * qi[c];
            }
            const double *gr = g + r * nr;
            best_reset(&b, k);
            for (size_t j = 0; j < nr; j++) {
                if (self && j == i) {
                    continue;
                }
                double d2 = qn + rn[j] + gr[j];
                best_push(&b, d2 > 0.0 ? d2 : 0.0, j);
            }
            /* The k candidates again, directly: exact zeros for duplicates. */
            double worst = 0.0;
            for (size_t c = 0; c < k; c++) {
                double d2 = sq_dist(qi, rd + b.idx[c] * D, D);
                worst = d2 > worst ? d2 : worst;
            }
            ret[i] = sqrt(worst);
        }
    }
out:
    mf_free_aligned(qd);
    mf_free_aligned(rd);
    mf_free_aligned(rn);
    mf_free_aligned(g);
    return err;
}

/* ---- entry ---------------------------------------------------------------------------- */

mf_err mf_knn_dist(const float *q, size_t nq, const float *ref, size_t nr, size_t D, size_t k,
                   bool self, double *ret)
{
    if (q == NULL || ref == NULL || ret == NULL || nq == 0 || nr == 0 || D == 0 || k == 0 ||
        k > MF_KNN_MAX_K || (self && (q != ref || nq != nr)) || k > nr - (self ? 1 : 0)) {
        return MF_EINVAL;
    }
    size_t nqd, nrd;
    if (mf_size_mul(nq, D, &nqd) != MF_OK || mf_size_mul(nr, D, &nrd) != MF_OK ||
        nr > (size_t) INT32_MAX || nq > (size_t) INT32_MAX || D > (size_t) INT32_MAX) {
        return MF_ERANGE;
    }
    if (!mf_floats_finite(q, nqd) || (!self && !mf_floats_finite(ref, nrd))) {
        return MF_ERANGE;
    }
    if (D <= MF_KNN_TREE_MAX_DIM) {
        return knn_tree(q, nq, ref, nr, D, k, self, ret);
    }
    return knn_gemm(q, nq, ref, nr, D, k, self, ret);
}
