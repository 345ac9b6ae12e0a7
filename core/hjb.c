/* SPDX-License-Identifier: MIT */
/*
 * hjb.c - the Fokker-Planck / HJB residual by central differences (hjb.h).
 */
#include "hjb.h"

#include <string.h>

double mf_hjb_residual(const mf_schedule *s, mf_potential_fn u, void *ctx, const double *x,
                       size_t D, double tau, double h, double dt, double *work, mf_hjb_parts *parts)
{
    double beta = 0;
    mf_schedule_ct(s, tau, &beta, NULL);
    double *xp = work; /* x moved along one axis at a time */
    memcpy(xp, x, D * sizeof *xp);
    double u0 = u(ctx, x, D, tau);
    double lap = 0, x_dot_grad = 0, grad_sq = 0;
    for (size_t i = 0; i < D; i++) {
        xp[i] = x[i] + h;
        double up = u(ctx, xp, D, tau);
        xp[i] = x[i] - h;
        double um = u(ctx, xp, D, tau);
        xp[i] = x[i];
        double g = (up - um) / (2 * h);
        lap += (up - 2 * u0 + um) / (h * h);
        x_dot_grad += x[i] * g;
        grad_sq += g * g;
    }
    double dtau = (u(ctx, x, D, tau + dt) - u(ctx, x, D, tau - dt)) / (2 * dt);
    if (parts != NULL) {
        *parts = (mf_hjb_parts){.u = u0,
                                .dtau = dtau,
                                .lap = lap,
                                .x_dot_grad = x_dot_grad,
                                .grad_sq = grad_sq,
                                .beta = beta};
    }
    return dtau - beta / 2 * ((double) D + x_dot_grad + lap + grad_sq);
}
