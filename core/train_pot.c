/* SPDX-License-Identifier: MIT */
/* train_pot.c - potential networks' training step by shards (train_pot.h). */
#include "train_pot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "optim.h"
#include "potential.h"

enum {
    STREAM_HJB = 13, /* under the run's root: the collocation draws of each step */
    MAX_SHARDS = 64,
    MAX_PARTS = 64,
};

typedef struct shard {
    size_t r0, r1, p0, p1; /* its rows and points */
    mf_pot_ws *ws;
    mf_hjb_net *hjb; /* NULL: no points */
    float *grad, *grad_hjb;
    float *xt, *eps, *out, *t; /* (rows, D), (rows, D), (rows, D), (rows) */
    float *xc;                 /* (points, D) */
    double *tau;               /* (points) */
    mf_hjb_stats st;
} shard;

struct mf__pot_train {
    size_t S, B, P, D, n_params;
    bool hjb;
    shard sh[MAX_SHARDS];
    float *grad_hjb; /* (n_params) the shards' sum */
    double sd[MAX_PARTS], shj[MAX_PARTS], dot[MAX_PARTS];
    double cap;
};

void mf__pot_train_free(mf__pot_train *pt)
{
    if (pt == NULL) {
        return;
    }
    for (size_t s = 0; s < pt->S; s++) {
        shard *h = &pt->sh[s];
        mf_pot_ws_free(h->ws);
        mf_hjb_net_free(h->hjb);
        mf_free_aligned(h->grad);
        mf_free_aligned(h->grad_hjb);
        mf_free_aligned(h->xt);
        mf_free_aligned(h->eps);
        mf_free_aligned(h->out);
        mf_free_aligned(h->t);
        mf_free_aligned(h->xc);
        free(h->tau);
    }
    mf_free_aligned(pt->grad_hjb);
    free(pt);
}

static mf_err shard_new(mf__pot_train *pt, const mf_mlp *net, const mf_hjb_opts *o, size_t s)
{
    shard *h = &pt->sh[s];
    h->r0 = s * pt->B / pt->S;
    h->r1 = (s + 1) * pt->B / pt->S;
    h->p0 = s * pt->P / pt->S;
    h->p1 = (s + 1) * pt->P / pt->S;
    size_t rows = h->r1 - h->r0, pts = h->p1 - h->p0, D = pt->D;
    mf_err err = mf_pot_ws_new(net, rows, &h->ws);
    if (err == MF_OK && pts > 0) {
        err = mf_hjb_net_new(net, o, pts, &h->hjb);
    }
    bool ok = err == MF_OK && (h->grad = mf_alloc_floats(pt->n_params)) != NULL &&
              (h->xt = mf_alloc_floats(rows * D)) != NULL &&
              (h->eps = mf_alloc_floats(rows * D)) != NULL &&
              (h->out = mf_alloc_floats(rows * D)) != NULL &&
              (h->t = mf_alloc_floats(rows)) != NULL;
    if (ok && pts > 0) {
        ok = (h->grad_hjb = mf_alloc_floats(pt->n_params)) != NULL &&
             (h->xc = mf_alloc_floats(pts * D)) != NULL &&
             (h->tau = malloc(pts * sizeof *h->tau)) != NULL;
    }
    return err != MF_OK ? err : ok ? MF_OK : MF_ENOMEM;
}

mf_err mf__pot_train_new(const mf_mlp *net, size_t B, size_t S, const mf_hjb_opts *o,
                         mf__pot_train **ret)
{
    if (S == 0 || S > MAX_SHARDS || S > B || !mf_pot_is_potential(net)) {
        return MF_EINVAL;
    }
    mf__pot_train *pt = calloc(1, sizeof *pt);
    if (pt == NULL) {
        return MF_ENOMEM;
    }
    pt->S = S;
    pt->B = B;
    pt->D = net->cfg.data_dim;
    pt->n_params = net->n_params;
    pt->hjb = o->on;
    if (o->on) {
        size_t P = (size_t) ceil(o->frac_points * (double) B);
        pt->P = P < 1 ? 1 : P > B ? B : P;
    }
    mf_err err = MF_OK;
    for (size_t s = 0; err == MF_OK && s < S; s++) {
        err = shard_new(pt, net, o, s);
    }
    if (err == MF_OK && o->on && (pt->grad_hjb = mf_alloc_floats(net->n_params)) == NULL) {
        err = MF_ENOMEM;
    }
    if (err != MF_OK) {
        mf__pot_train_free(pt);
        return err;
    }
    *ret = pt;
    return MF_OK;
}

/* The regulariser at shard h's points: the clean rows x0[p] noised to tau ~ U[t_min, 1 - dt]. */
static void shard_hjb(mf__pot_train *pt, shard *h, const mf_mlp *net, const mf_schedule *sch,
                      mf_rng root, size_t step, double lambda, const float *x0, size_t s)
{
    const mf_hjb_opts *o = mf_hjb_net_opts(h->hjb);
    size_t D = pt->D, n = h->p1 - h->p0;
    mf_rng rh = mf_rng_derive(mf_rng_derive(root, STREAM_HJB), step);
    mf_hjb_collocate(sch, o, x0, D, h->p0, n, mf_rng_derive(rh, 1), mf_rng_derive(rh, 2), h->xc,
                     h->tau);
    bool grad = lambda > 0;
    memset(h->grad_hjb, 0, pt->n_params * sizeof(float)); /* lambda 0: it adds nothing */
    mf_hjb_net_loss(net, sch, h->hjb, h->xc, h->tau, n, mf_rng_derive(mf_rng_derive(rh, 3), s),
                    (float) lambda, grad ? h->grad_hjb : NULL, &h->st);
    /* the point loss is a mean over the shard's points; the step's is over all P */
    double w = (double) n / (double) pt->P;
    h->st.loss *= w;
    if (grad) {
        mf_scale(h->grad_hjb, pt->n_params, (float) w);
    }
}

double mf__pot_train_shard(mf__pot_train *pt, const mf_mlp *net, const mf_schedule *sch,
                           uint64_t seed, size_t step, double lambda, const float *x0,
                           const float *c, size_t s)
{
    shard *h = &pt->sh[s];
    size_t D = pt->D, C = net->cfg.cond_dim, n = h->r1 - h->r0;
    mf_rng root = mf_rng_make(seed);
    mf__train_noisy(sch, root, step, h->r0, x0 + h->r0 * D, n, D, h->t, h->eps, h->xt);
    mf_pot_forward(net, h->ws, h->xt, h->t, c != NULL ? c + h->r0 * C : NULL, n, NULL);
    mf_pot_grad_x(net, h->ws, n, h->out);
    double loss = 0.0;
    float g = 2.0f / (float) (pt->B * D); /* d/d grad g of mean (eps_hat - eps)^2 */
    for (size_t j = 0; j < n * D; j++) {
        float diff = -h->out[j] - h->eps[j];
        loss += (double) diff * (double) diff;
        h->out[j] = -g * diff;
    }
    memset(h->grad, 0, pt->n_params * sizeof(float));
    mf_pot_backward(net, h->ws, n, NULL, h->out, h->grad, NULL);
    memset(&h->st, 0, sizeof h->st);
    if (h->hjb != NULL) {
        shard_hjb(pt, h, net, sch, root, step, lambda, x0, s);
    }
    return loss;
}

void mf__pot_train_reduce(mf__pot_train *pt, size_t p, size_t n_parts, size_t i0, size_t i1,
                          float *grad)
{
    (void) n_parts;
    double sd = 0, shj = 0, dot = 0;
    bool hjb = pt->grad_hjb != NULL;
    for (size_t i = i0; i < i1; i++) {
        float a = 0.0f, b = 0.0f;
        for (size_t s = 0; s < pt->S; s++) {
            a += pt->sh[s].grad[i];
            if (pt->sh[s].hjb != NULL) {
                b += pt->sh[s].grad_hjb[i];
            }
        }
        grad[i] = a;
        if (hjb) {
            pt->grad_hjb[i] = b;
        }
        sd += (double) a * (double) a;
        shj += (double) b * (double) b;
        dot += (double) a * (double) b;
    }
    pt->sd[p] = sd;
    pt->shj[p] = shj;
    pt->dot[p] = dot;
}

double mf__pot_train_combine_norm(mf__pot_train *pt, size_t n_parts)
{
    double sd = 0, shj = 0, dot = 0;
    for (size_t p = 0; p < n_parts; p++) {
        sd += pt->sd[p];
        shj += pt->shj[p];
        dot += pt->dot[p];
    }
    pt->cap = shj > sd && shj > 0 ? sqrt(sd / shj) : 1.0;
    if (!pt->hjb) {
        pt->cap = 0.0;
        return sd;
    }
    return sd + 2.0 * pt->cap * dot + pt->cap * pt->cap * shj;
}

void mf__pot_train_combine(const mf__pot_train *pt, size_t i0, size_t i1, float *grad)
{
    if (!pt->hjb || pt->cap == 0.0) {
        return;
    }
    float c = (float) pt->cap;
    for (size_t i = i0; i < i1; i++) {
        grad[i] += c * pt->grad_hjb[i];
    }
}

void mf__pot_train_stats(const mf__pot_train *pt, mf_hjb_stats *st, double *cap)
{
    memset(st, 0, sizeof *st);
    for (size_t s = 0; s < pt->S; s++) {
        mf_hjb_stats_add(st, &pt->sh[s].st);
    }
    *cap = pt->cap;
}
