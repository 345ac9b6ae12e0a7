/* SPDX-License-Identifier: MIT */
/*
 * var_sched.c - the short "VAR" chain of DxMI (var_sched.h), as var_schedule()
 * of ../shared/bench/dxmi_torch/dxmi.py computes it.
 *
 * Two bisections, 200 halvings each, in double:
 *  1. x of beta~_i = b0 (1 + i x)^2 with prod_i (1 - beta~_i) against the
 *     parent's alpha_bar_{N-1}: f(x) = prod (1 - beta~_i) falls with x, so
 *     f(mid) > target moves lo up.  The code domain (0, 0.95/sqrt(b0)/T) does
 *     not reach the target for small T and ends at its edge, as the authors'
 *     code does; the matched domain ends where beta~_{T-1} = 1, so it brackets.
 *  2. tau_t with log alpha_bar(tau_t) = log a_cur, tau in (-1, N-1), clamped
 *     to [0, N-1].  Linear parent: beta_s = b0 + s d, so
 *     alpha_bar_tau = prod_{s<=tau} d (c - s) = d^(tau+1) Gamma(c+1)/Gamma(c-tau)
 *     with c = (1 - b0)/d, which lgamma extends to real tau (exact at the
 *     integers).  Any other parent: log alpha_bar linear between integers,
 *     log alpha_bar(-1) = 0.
 * beta~ and tau are rounded to float (what a model file stores) before
 * everything else is derived from them, by derive(), which
 * mf_var_sched_from shares: a sampler rebuilt from a file is the same.
 */
#include "var_sched.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#define BISECT_ITERS 200

const char *const mf_var_sched_kind_names[] = {"code", "matched", NULL};

const char *mf_var_sched_kind_name(mf_var_sched_kind kind)
{
    return (unsigned) kind <= MF_VAR_SCHED_MATCHED ? mf_var_sched_kind_names[kind] : "unknown";
}

mf_err mf_var_sched_kind_lookup(const char *name, mf_var_sched_kind *ret)
{
    for (int k = MF_VAR_SCHED_CODE; k <= MF_VAR_SCHED_MATCHED; k++) {
        if (name != NULL && strcmp(name, mf_var_sched_kind_names[k]) == 0) {
            *ret = (mf_var_sched_kind) k;
            return MF_OK;
        }
    }
    return MF_ENOTFOUND;
}

double mf_var_sched_alpha_bar(const mf_var_sched *v)
{
    double p = 1.0;
    for (size_t i = 0; i < v->T; i++) {
        p *= 1.0 - v->beta[i];
    }
    return p;
}

/* prod_i (1 - b0 (1 + i x)^2), i < T. */
static double short_prod(double b0, double x, size_t T)
{
    double p = 1.0;
    for (size_t i = 0; i < T; i++) {
        double u = 1.0 + (double) i * x;
        p *= 1.0 - b0 * u * u;
    }
    return p;
}

/* log alpha_bar of the parent at a real index tau in [-1, N-1] (see the top). */
typedef struct log_ab {
    const mf_schedule *s;
    bool linear;
    double log_d, c, lg_c1; /* linear: log d, c, lgamma(c + 1) */
} log_ab;

static double log_ab_at(const log_ab *l, double tau)
{
    if (l->linear) {
        return (tau + 1.0) * l->log_d + l->lg_c1 - lgamma(l->c - tau);
    }
    double f = floor(tau);
    long k = (long) f;
    double lo = k < 0 ? 0.0 : log(l->s->alpha_bar[k]);
    if (k + 1 >= (long) l->s->T) {
        return lo;
    }
    double hi = log(l->s->alpha_bar[k + 1]);
    return lo + (tau - f) * (hi - lo);
}

/* The DDPM index whose alpha_bar is a (bisection as dxmi.py, clamped to [0, N-1]). */
static double tau_of(const log_ab *l, double a)
{
    double target = log(a), lo = -1.0, hi = (double) l->s->T - 1.0;
    for (int it = 0; it < BISECT_ITERS; it++) {
        double mid = 0.5 * (lo + hi);
        if (log_ab_at(l, mid) > target) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return fmin(fmax(0.5 * (lo + hi), 0.0), (double) l->s->T - 1.0);
}

/*
 * xmult, cmult and sigma0 from beta~ and tau (already float-rounded): with
 * G_k = prod_{j<=k} (1 - beta~_j), step t runs from a_cur = G[T-1-t] to
 * a_next = G[T-2-t] (1 after the last), the mean being the DDIM/DDPM step
 * with the posterior std s0 (0 in the mean of the last step).
 */
static void derive(mf_var_sched *v)
{
    double G[MF_VAR_MAX_T], p = 1.0;
    size_t T = v->T;
    for (size_t i = 0; i < T; i++) {
        p *= 1.0 - v->beta[i];
        G[i] = p;
    }
    for (size_t t = 0; t < T; t++) {
        double a_cur = G[T - 1 - t], a_next = t + 1 < T ? G[T - 2 - t] : 1.0;
        double s = t + 1 < T ? sqrt((1.0 - a_next) / (1.0 - a_cur) * (1.0 - a_cur / a_next)) : 0.0;
        v->xmult[t] = sqrt(a_next / a_cur);
        v->cmult[t] = sqrt(fmax(0.0, 1.0 - a_next - s * s)) - sqrt(1.0 - a_cur) * v->xmult[t];
        v->sigma0[t] = t + 1 < T ? s : MF_VAR_LAST_SIGMA;
    }
}

mf_err mf_var_sched_init(const mf_schedule *s, size_t T, mf_var_sched_kind kind, mf_var_sched *ret)
{
    if (s == NULL || ret == NULL || T < 2 || T > MF_VAR_MAX_T || s->T < 2 ||
        (kind != MF_VAR_SCHED_CODE && kind != MF_VAR_SCHED_MATCHED)) {
        return MF_EINVAL;
    }
    size_t N = s->T;
    double b0 = s->beta[0], b1 = s->beta[N - 1], target = s->alpha_bar[N - 1];
    double lo = 0.0, hi = kind == MF_VAR_SCHED_MATCHED
                              ? (1.0 / sqrt(b0) - 1.0) / (double) (T - 1) * (1.0 - 1e-12)
                              : 0.95 / sqrt(b0) / (double) T;
    /* The matched search must bracket the target; the code one saturates by design. */
    if (!(short_prod(b0, lo, T) > target) ||
        (kind == MF_VAR_SCHED_MATCHED && !(short_prod(b0, hi, T) <= target))) {
        return MF_ERANGE;
    }
    for (int it = 0; it < BISECT_ITERS; it++) {
        double mid = 0.5 * (lo + hi);
        if (short_prod(b0, mid, T) > target) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    double x = 0.5 * (lo + hi);
    mf_var_sched v = {.T = T};
    for (size_t i = 0; i < T; i++) {
        double u = 1.0 + (double) i * x;
        v.beta[i] = (double) (float) (b0 * u * u);
        if (!(v.beta[i] > 0.0 && v.beta[i] < 1.0)) {
            return MF_ERANGE;
        }
    }
    double d = (b1 - b0) / (double) (N - 1);
    log_ab l = {.s = s, .linear = strncmp(s->spec, "linear:", 7) == 0 && d > 0.0};
    if (l.linear) {
        l.log_d = log(d);
        l.c = (1.0 - b0) / d;
        l.lg_c1 = lgamma(l.c + 1.0);
    }
    double G = 1.0;
    for (size_t i = 0; i < T; i++) { /* generation step T-1-i starts from G_i */
        G *= 1.0 - v.beta[i];
        v.tau[T - 1 - i] = (double) (float) tau_of(&l, G);
    }
    derive(&v);
    memcpy(v.sigma, v.sigma0, sizeof v.sigma);
    *ret = v;
    return MF_OK;
}

mf_err mf_var_sched_from(size_t T, const float *beta, const float *tau, const float *sigma,
                         mf_var_sched *ret, mf_diag *diag)
{
    if (T < 2 || T > MF_VAR_MAX_T) {
        return mf_diag_set(diag, MF_EINVAL, "var.beta", "a short chain has 2..%d steps, not %zu",
                           MF_VAR_MAX_T, T);
    }
    if (beta == NULL || tau == NULL || sigma == NULL || ret == NULL) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "no short chain");
    }
    mf_var_sched v = {.T = T};
    for (size_t i = 0; i < T; i++) {
        if (!(beta[i] > 0.0f && beta[i] < 1.0f)) {
            return mf_diag_set(diag, MF_ERANGE, "var.beta", "var.beta[%zu] must be in (0, 1)", i);
        }
        if (!(isfinite(tau[i]) && tau[i] >= 0.0f)) {
            return mf_diag_set(diag, MF_ERANGE, "var.tau", "var.tau[%zu] must be finite and >= 0",
                               i);
        }
        if (!(isfinite(sigma[i]) && sigma[i] > 0.0f)) {
            return mf_diag_set(diag, MF_ERANGE, "var.sigma",
                               "var.sigma[%zu] must be finite and > 0", i);
        }
        v.beta[i] = (double) beta[i];
        v.tau[i] = (double) tau[i];
        v.sigma[i] = (double) sigma[i];
    }
    derive(&v);
    *ret = v;
    return MF_OK;
}
