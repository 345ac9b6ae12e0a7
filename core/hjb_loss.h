/* SPDX-License-Identifier: MIT */
/*
 * hjb_loss.h - the HJB regulariser of potential networks (potential.h): the
 * residual R of hjb.h at collocation points, its loss and its parameter gradient
 * (../shared/reference/other-seeds.md §3.3-3.4).
 *
 * With u = g / sigma (potential.h), at a point (x, tau):
 *
 *   grad u  = grad_x g(x, tau) / sigma(tau)          exact, by the backward pass
 *   lap u   = sum_i [u(x + h e_i) - 2 u(x) + u(x - h e_i)] / h^2        (exact estimator)
 *           or   [u(x + h v) - 2 u(x) + u(x - h v)] / h^2, v Rademacher  (hutchinson)
 *   d_tau u = [u(x, tau + dt) - u(x, tau - dt)] / 2 dt
 *   R       = d_tau u - (beta/2) (D + x . grad u + lap u + |grad u|^2)
 *
 * Why this mix: the loss's parameter gradient must exist without autodiff.  R is an
 * explicit function of the stencil values u_k and of grad_x g at the point, so
 *   d(R^2)/dtheta = 2R [ sum_k (dR/du_k) du_k/dtheta + (dR/d grad g) . d grad g/dtheta ]
 * is ONE backward pass over all stencil rows, seeded with alpha_k = 2R dR/du_k / sigma_k,
 * plus the tangent pass of potential.c at the centre row with v = 2R dR/d(grad g).
 * The gradient is exact (not a stencil) because |grad u|^2 and x . grad u carry the
 * largest terms; the Laplacian is a stencil because its exact form (D Hessian-vector
 * products) would need third derivatives in the parameters.  Rows per point: 3 + 2D
 * (exact) or 3 + 2 probes (hutchinson: the D-independent choice above 8-D).  With two
 * probes the point's loss is R^(1) R^(2), an unbiased estimate of R^2 (the square of
 * one estimate is biased upward by its variance).
 *
 * Weighting (the reference run's lesson: unweighted R^2 is dominated by small tau, where
 * |grad u|^2 ~ D / sigma^2 blows up, and dwarfs the DSM loss): with `weight` the loss of
 * a point is multiplied by w(tau) = (sigma^2 / beta)^2, i.e. R is measured in units of
 * beta / sigma^2, the scale of its largest terms; every tau then counts alike.
 *
 * Stencil steps: the network is float, so a second difference has rounding error
 * ~ 6e-8 |u| / h^2: h = 1e-2 keeps it near 1e-3 |u| and the truncation (h^2/12) u''''
 * at 1e-5 (other-seeds.md §3.4); dt = 1e-3 in tau is one timestep of a 1000-step
 * schedule.
 */
#ifndef MF_HJB_LOSS_H
#define MF_HJB_LOSS_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "mlp.h"
#include "rng.h"
#include "schedule.h"

typedef enum mf_hjb_estimator {
    MF_HJB_AUTO = 0,      /* exact up to 8-D, hutchinson above */
    MF_HJB_EXACT = 1,     /* lap u along every axis: 2D rows */
    MF_HJB_HUTCHINSON = 2 /* along random sign vectors: 2 rows per probe */
} mf_hjb_estimator;

#define MF_HJB_BINS 5 /* residual reported in 5 equal bins of tau over [t_min, 1] */

typedef struct mf_hjb_opts {
    bool on;            /* false: no regulariser (the train job without `hjb`) */
    double lambda;      /* weight of the mean point loss once ramped in, >= 0 */
    double ramp;        /* lambda rises linearly from 0 over this fraction of the steps */
    double frac_points; /* collocation points per step = ceil(frac batch), (0, 1] */
    mf_hjb_estimator estimator;
    size_t probes; /* hutchinson: 1 or 2 */
    double h, dt;  /* stencil steps in x (model units) and in tau */
    double t_min;  /* tau ~ U[t_min, 1 - dt] */
    bool weight;   /* w(tau) = (sigma^2 / beta)^2 */
} mf_hjb_opts;

/**
 * The defaults, off: lambda 0.01, ramp 0.3, frac 0.25, estimator auto (exact up to 8-D,
 * hutchinson with 2 probes above), h 1e-2, dt 1e-3, t_min 0.02, weighted.
 */
mf_hjb_opts mf_hjb_opts_default(void);

/* "auto", "exact", "hutchinson", NULL: by mf_hjb_estimator. */
extern const char *const mf_hjb_estimator_names[];

/** "auto", "exact", "hutchinson"; MF_ENOTFOUND for anything else. */
MF_MUST_CHECK mf_err mf_hjb_estimator_lookup(const char *name, mf_hjb_estimator *ret);
const char *mf_hjb_estimator_name(mf_hjb_estimator e);

/** Checks the ranges above; MF_EINVAL with the offending field's name in *field. */
MF_MUST_CHECK mf_err mf_hjb_opts_check(const mf_hjb_opts *o, const char **field);

/** lambda at step k of n (the ramp). */
double mf_hjb_lambda_at(const mf_hjb_opts *o, size_t k, size_t n);

/* Residual statistics of one evaluation. */
typedef struct mf_hjb_stats {
    double loss;   /* mean weighted point loss (before lambda) */
    double sq_sum; /* sum over points of R^2 (unweighted; probes' product) */
    size_t count;
    double bin_sq_sum[MF_HJB_BINS]; /* the same by tau bin */
    size_t bin_count[MF_HJB_BINS];
} mf_hjb_stats;

/** Adds b's sums into a (for a residual RMS over many evaluations). */
void mf_hjb_stats_add(mf_hjb_stats *a, const mf_hjb_stats *b);

/** sqrt(sum / count) of everything (bin < 0) or of one bin; NAN when it has no point. */
double mf_hjb_stats_rms(const mf_hjb_stats *st, int bin);

typedef struct mf_hjb_net mf_hjb_net;

/** The settings b runs with (the estimator resolved for its network). */
const mf_hjb_opts *mf_hjb_net_opts(const mf_hjb_net *b);

/** Workspace for up to max_points points of potential network m.  MF_EINVAL, MF_ENOMEM. */
MF_MUST_CHECK mf_err mf_hjb_net_new(const mf_mlp *m, const mf_hjb_opts *o, size_t max_points,
                                    mf_hjb_net **ret);
void mf_hjb_net_free(mf_hjb_net *b);

/**
 * The regulariser at P points x (P, D), tau (P) in [dt, 1 - dt]: fills *st (loss = the
 * mean weighted point loss) and adds scale * d loss / d theta into d_params unless
 * NULL.  Hutchinson's probes come from stream r.  P <= max_points.
 */
void mf_hjb_net_loss(const mf_mlp *m, const mf_schedule *s, mf_hjb_net *b, const float *x,
                     const double *tau, size_t P, mf_rng r, float scale, float *d_params,
                     mf_hjb_stats *st);

/**
 * Collocation points first .. first + n - 1: clean rows x0 (row p at x0 + p D) noised to
 * tau_p ~ U[t_min, 1 - dt] (variate p of stream rt) with the normal variates p D .. of
 * stream rn, by the continuous-time schedule: x (n, D), tau (n).  Training and
 * mf_hjb_residual_of draw their points this one way.
 */
void mf_hjb_collocate(const mf_schedule *s, const mf_hjb_opts *o, const float *x0, size_t D,
                      size_t first, size_t n, mf_rng rn, mf_rng rt, float *x, double *tau);

/**
 * The residual of a trained network on n clean points x0 (n, D, model space), each
 * noised to tau ~ U[t_min, 1 - dt] (o's steps, estimator and t_min; lambda unused):
 * the figure that says how well a model obeys the equation, comparable between models
 * because the points, times and probes come from seed alone.  *st gets the sums (its
 * loss: the mean weighted point loss).  Errors: MF_EINVAL (not a potential, n 0),
 * MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_hjb_residual_of(const mf_mlp *m, const mf_schedule *s, const mf_hjb_opts *o,
                                        const float *x0, size_t n, uint64_t seed, mf_hjb_stats *st);

#endif /* MF_HJB_LOSS_H */
