/* SPDX-License-Identifier: MIT */
/*
 * dxmi_int.h - DxMI's run state, shared by dxmi.c (lifecycle, the iteration,
 * sampling) and dxmi_grad.c (the three losses and their hand gradients), and
 * used by tests/core/test_dxmi_grad.c to check those gradients against
 * finite differences.  Private to core/ and its tests.
 *
 * Every batch has B rows; the executor splits them into at most `threads`
 * contiguous chunks (mf__dxmi_span), and the parameter gradients into as many
 * parts by output rows, so results do not depend on the thread count except
 * through float summation order.
 */
#ifndef MF_DXMI_INT_H
#define MF_DXMI_INT_H

#include "dxmi.h"
#include "optim.h"

#define MF_DXMI_MAX_THREADS 16

struct mf_dxmi {
    mf_dxmi_opts o;
    size_t D, T, B, E, DE; /* data width, steps, batch, V's embedding, D + E */
    size_t iters;
    mf_mlp *eps;                   /* the trainable copy of the parent */
    mf_var_sched var;              /* sigma[t] = exp(log_sigma[t]) for t < T-1 */
    float log_sigma[MF_VAR_MAX_T]; /* trainable for t < T-1 */
    double s2[MF_VAR_MAX_T];       /* AVR's s2_t */
    mf_reward_model *energy, *value;
    float *emb; /* (T, E) V's embedding of the generation steps 0..T-1 */
    /* gradients and Adam moments, by network; log sigma's in place */
    float *g_eps, *m_eps, *v_eps, *g_e, *m_e, *v_e, *g_v, *m_v, *v_v;
    float g_ls[MF_VAR_MAX_T], m_ls[MF_VAR_MAX_T], v_ls[MF_VAR_MAX_T];
    mf_adam adam_eps, adam_ls, adam_e, adam_v;
    /* the rollout: states x_0..x_T (T+1, B, D) and means mu_0..mu_{T-1} (T, B, D) */
    float *xs, *mu;
    /* batches */
    float *xe, *fe, *dfe;         /* EBM: [x+; x-] (2B, D), E (2B), dL/dE (2B) */
    float *vin, *vin2;            /* V's inputs [x, emb(t)] (B, D + E) */
    float *xn, *z;                /* next states / x', noise (B, D) */
    float *fv, *dfv, *tgt, *ones; /* (B) */
    float *xb, *tb, *eo, *g;      /* sampler rows: x_t (B, D), tau (B), eps (B, D), g (B, D) */
    size_t *sb;                   /* sampler rows' steps (B): those < T-1 first */
    size_t nv;                    /* how many rows have t < T-1 (V rows; the rest use E) */
    size_t *perm;                 /* (T B) buffer-state permutation */
    /* workspaces */
    mf_mlp_ws *ws_eps;                      /* split, B rows: the sampler step */
    mf_mlp_ws *ws_fwd[MF_DXMI_MAX_THREADS]; /* forward-only, one per thread: rollouts */
    mf_reward_ws *ws_e, *ws_v;              /* 2B and B rows */
    mf_par_for_fn par_for;
    void *exec;
    size_t threads;
};

/* task(ctx, i) for i < n on the executor, or on this thread. */
void mf__dxmi_run(const mf_dxmi *dx, size_t n, void (*task)(void *ctx, size_t i), void *ctx);

/* The number of chunks for n rows (one per thread, none empty). */
size_t mf__dxmi_chunks(const mf_dxmi *dx, size_t n);

/* Rows [*r0, *r1) of chunk c of `chunks` over n rows. */
static inline void mf__dxmi_span(size_t n, size_t chunks, size_t c, size_t *r0, size_t *r1)
{
    *r0 = c * n / chunks;
    *r1 = (c + 1) * n / chunks;
}

/* sigma_t = exp(log sigma_t) for t < T-1. */
void mf__dxmi_sync_sigma(mf_dxmi *dx);

typedef struct mf__dxmi_ebm {
    double pos_e, neg_e, reg; /* mean E(x+), mean E(x-), the gamma term */
    double sumsq;             /* squared norm of the gradient */
} mf__dxmi_ebm;

/**
 * L_E of x_pos and x_neg (B rows each) and its gradient w.r.t. the energy's
 * parameters into g_e (overwritten).  Returns L_E.
 */
double mf__dxmi_ebm_grad(mf_dxmi *dx, const float *x_pos, const float *x_neg, mf__dxmi_ebm *ret);

/**
 * The TD targets y of step t into tgt (B): x_t (B, D) the states, x_next
 * (B, D) their fresh next states.
 */
void mf__dxmi_td_target(mf_dxmi *dx, size_t t, const float *x_t, const float *x_next);

/**
 * L_V(t) of the states x_t (B, D) against the targets in tgt (held fixed)
 * and its gradient w.r.t. the value's parameters into g_v (overwritten).
 * Returns L_V(t); *ret_vmean (may be NULL) = mean V(x_t, t).
 */
double mf__dxmi_td_grad(mf_dxmi *dx, size_t t, const float *x_t, double *ret_vmean);

/** mf__dxmi_td_target then mf__dxmi_td_grad, in one pass over the rows (one barrier less). */
double mf__dxmi_td_step_grad(mf_dxmi *dx, size_t t, const float *x_t, const float *x_next,
                             double *ret_vmean);

typedef struct mf__dxmi_gen {
    double value_term, entropy_term; /* mean Vn(x'), mean log sigma_t */
    double sumsq;                    /* squared norm of the eps and log sigma gradients */
} mf__dxmi_gen;

/**
 * The sampler loss of the B buffer rows in xb (states), sb (steps, the nv
 * rows with t < T-1 first) and tb (their tau), with the noise z, and its
 * gradient w.r.t. the eps network's parameters into g_eps and w.r.t. log
 * sigma_t into g_ls (t < T-1; 0 at T-1), both overwritten.  Returns L.
 */
double mf__dxmi_sampler_grad(mf_dxmi *dx, mf__dxmi_gen *ret);

/** The seed of iteration iter's rollout: it is mf_sample's (MF_SAMPLER_VAR) with this seed. */
uint64_t mf__dxmi_rollout_seed(const mf_dxmi *dx, size_t iter);

#endif /* MF_DXMI_INT_H */
