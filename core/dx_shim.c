/* SPDX-License-Identifier: MIT */
/*
 * dx_shim.c - TEMPORARY: the few var_sched.h functions the model file needs,
 * until the dxcore branch (core/var_sched.c) is merged; then this file goes.
 */
#include <math.h>
#include <string.h>

#include "var_sched.h"

const char *const mf_var_sched_kind_names[] = {"code", "matched", NULL};

const char *mf_var_sched_kind_name(mf_var_sched_kind kind)
{
    return (unsigned) kind <= MF_VAR_SCHED_MATCHED ? mf_var_sched_kind_names[kind] : "unknown";
}

mf_err mf_var_sched_kind_lookup(const char *name, mf_var_sched_kind *ret)
{
    for (int i = 0; name != NULL && mf_var_sched_kind_names[i] != NULL; i++) {
        if (strcmp(name, mf_var_sched_kind_names[i]) == 0) {
            *ret = (mf_var_sched_kind) i;
            return MF_OK;
        }
    }
    return MF_ENOTFOUND;
}

mf_err mf_var_sched_from(size_t T, const float *beta, const float *tau, const float *sigma,
                         mf_var_sched *ret, mf_diag *diag)
{
    if (T < 2 || T > MF_VAR_MAX_T) {
        return mf_diag_set(diag, MF_EINVAL, "var.beta", "T out of range");
    }
    mf_var_sched v = {.T = T};
    double G[MF_VAR_MAX_T], g = 1.0;
    for (size_t i = 0; i < T; i++) {
        if (!(beta[i] > 0 && beta[i] < 1) || !(tau[i] >= 0) || !(sigma[i] > 0)) {
            return mf_diag_set(diag, MF_EINVAL, "var.beta", "bad value");
        }
        v.beta[i] = beta[i];
        g *= 1.0 - v.beta[i];
        G[i] = g;
    }
    for (size_t t = 0; t < T; t++) {
        double a_cur = G[T - 1 - t], a_next = t + 1 < T ? G[T - 2 - t] : 1.0;
        v.tau[t] = tau[t];
        v.xmult[t] = sqrt(a_next / a_cur);
        v.sigma0[t] =
            t + 1 < T ? sqrt((1 - a_next) / (1 - a_cur) * (1 - a_cur / a_next)) : MF_VAR_LAST_SIGMA;
        v.cmult[t] =
            sqrt(fmax(0.0, 1 - a_next - v.sigma0[t] * v.sigma0[t])) - sqrt(1 - a_cur) * v.xmult[t];
        v.sigma[t] = sigma[t];
    }
    *ret = v;
    return MF_OK;
}
