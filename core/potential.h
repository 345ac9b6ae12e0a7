/* SPDX-License-Identifier: MIT */
/*
 * potential.h - potential networks: an MLP (mlp.h, out_dim 1, SiLU) whose scalar
 * output g(x, t) defines the log-density model of the HJB-regularised seed
 * (../shared/reference/other-seeds.md §3):
 *
 *   u(x, tau) = g(x, t) / sigma(tau),   sigma = sqrt(1 - abar(tau)),   t = T tau - 1,
 *   score = grad_x u = grad_x g / sigma,   eps = -sigma score = -grad_x g.
 *
 * Why the network gives sigma u and not u: eps is then -grad_x g, so the network's
 * output scale is that of an eps network at every t (u itself grows like 1/sigma near
 * t = 0), and DSM's target is the plain noise.  Every sampler takes eps from
 * mf_pot_eps_eval; the probability-flow likelihood needs div eps = -lap_x g.
 *
 * Derivatives, all exact (no stencil): the forward pass keeps every layer's
 * pre-activation z, phi(z), phi'(z) and phi''(z) (phi = SiLU, smooth, so the
 * Laplacian is not 0 almost everywhere as a ReLU network's would be).  A tangent pass
 * pushes a direction v (n, D) of the input through the network (zdot_0 = W_0x v,
 * zdot_i = W_i hdot_{i-1}, hdot_i = phi'(z_i) zdot_i), so gdot = v . grad_x g.  The
 * backward pass then differentiates, for each row r,
 *
 *   J_r = alpha_r g(x_r) + v_r . grad_x g(x_r)
 *
 * with respect to the parameters and to x_r: reverse mode over the tangent pass, with
 * two adjoints per layer (of h and of hdot):
 *
 *   a_i = P_i phi'(z_i)                         (adjoint of zdot_i)
 *   b_i = Q_i phi'(z_i) + P_i phi''(z_i) zdot_i (adjoint of z_i)
 *   dW_i += b_i^T h_{i-1} + a_i^T hdot_{i-1},  db_i += b_i,
 *   Q_{i-1} = b_i W_i,  P_{i-1} = a_i W_i,     at the top Q = alpha w, P = w,
 *   d x += b_0 W_0x.
 *
 * So d x is alpha grad g + H v (a Hessian-vector product: lap g = sum_i e_i^T H e_i),
 * and the parameter gradient of DSM through grad_x g (a second derivative in the
 * parameters, "double backprop") is one tangent and one backward pass, seeded with
 * v = dL/d(grad_x g).  Without a tangent (v NULL) it is the ordinary backward pass.
 *
 * Threading: like mlp.h, the network is read-only here; each thread its own workspace.
 */
#ifndef MF_POTENTIAL_H
#define MF_POTENTIAL_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "mlp.h"
#include "sampler.h"
#include "schedule.h"

typedef struct mf_pot_ws mf_pot_ws;

/** Is m a potential network (cfg.out_dim 1; an eps network of D = 1 is not)? */
bool mf_pot_is_potential(const mf_mlp *m);

/**
 * Scratch for up to max_rows rows of m (a potential network).  Errors: MF_EINVAL (not
 * a potential, max_rows 0), MF_ERANGE (sizes overflow), MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_pot_ws_new(const mf_mlp *m, size_t max_rows, mf_pot_ws **ret);
void mf_pot_ws_free(mf_pot_ws *ws);
size_t mf_pot_ws_max_rows(const mf_pot_ws *ws);

/**
 * g(x_r, t_r) of n rows: x (n, D), t (n) network time inputs (fractional allowed),
 * c (n, C) or NULL when C = 0; g (n) may be NULL.  Keeps what the passes below need.
 */
void mf_pot_forward(const mf_mlp *m, mf_pot_ws *ws, const float *x, const float *t, const float *c,
                    size_t n, float *g);

/** grad_x g (n, D) of the last forward's rows (one backward pass, no parameters). */
void mf_pot_grad_x(const mf_mlp *m, mf_pot_ws *ws, size_t n, float *grad);

/**
 * The tangent and backward passes of the header for the last forward's rows: adds
 * dJ/dtheta (J = sum_r alpha_r g_r + v_r . grad_x g_r) into d_params unless NULL and
 * dJ_r/dx_r into d_x (n, D) unless NULL.  alpha (n) NULL means 0; v (n, D) NULL means
 * no tangent (the ordinary backward of sum alpha g).
 */
void mf_pot_backward(const mf_mlp *m, mf_pot_ws *ws, size_t n, const float *alpha, const float *v,
                     float *d_params, float *d_x);

/**
 * lap_x g (n) of the last forward's rows, exactly: D Hessian-vector products
 * e_i^T H e_i.  Costs D tangent and backward passes.
 */
void mf_pot_laplacian(const mf_mlp *m, mf_pot_ws *ws, size_t n, float *lap);

/**
 * out (rows, D) = eps = -grad_x g of rows <= the workspace's rows at one t (t_rows: rows
 * floats of scratch), leaving ws with their forward pass (for mf_pot_backward and
 * mf_pot_laplacian).  One pass of mf_pot_eps_eval and of the likelihood's divergence.
 */
void mf_pot_eps_rows(const mf_mlp *m, mf_pot_ws *ws, const float *x, float t, const float *c,
                     size_t rows, float *t_rows, float *out);

/* The noise prediction of a potential network for the samplers (sampler.h mf_eps_fn). */
typedef struct mf_pot_eps_ctx {
    const mf_mlp *net;
    mf_pot_ws *ws;  /* at least as many rows as any call */
    const float *c; /* (rows, C) or NULL */
    float *t_rows;  /* max_rows floats of scratch */
} mf_pot_eps_ctx;

/** out (n, D) = eps(x, t) = -grad_x g(x, t), any n (in chunks of the ws's rows); ctx is an
 * mf_pot_eps_ctx. */
void mf_pot_eps_eval(void *ctx, const float *x, size_t n, float t, float *out);

/**
 * mf_sample with a potential network's eps (unconditional only).  Errors: MF_EINVAL (not
 * a potential, conditional, n 0), those of mf_sample, MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_pot_sample(const mf_mlp *net, const mf_schedule *s,
                                   const mf_sampler_opts *o, float *x, size_t n);

/** sigma(tau) = sqrt(1 - abar(tau)) of the continuous-time schedule (schedule.h). */
double mf_pot_sigma(const mf_schedule *s, double tau);

#endif /* MF_POTENTIAL_H */
