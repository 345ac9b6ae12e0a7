/* SPDX-License-Identifier: MIT */
/*
 * dxmi_opts.c - the options of a DxMI run (dxmi.h): the defaults, which are
 * dxmi-reference-run.md's run F (the authors' code schedule, tau_entropy 0.1,
 * lr_sampler 1e-5, lr_energy 1e-4, ...), and the range of every field.
 */
#include <stdbool.h>

#include "dxmi.h"

mf_dxmi_opts mf_dxmi_opts_default(void)
{
    return (mf_dxmi_opts){
        .T = 5,
        .schedule = MF_VAR_SCHED_CODE,
        .tau_entropy = 0.1,
        .tau_velocity = 0.01,
        .gamma = 1.0,
        .adavelreg = 0.99,
        .lr_sampler = 1e-5,
        .lr_sigma = 1e-4,
        .lr_energy = 1e-4,
        .lr_value = 1e-3,
        .clip_sampler = 0.1,
        .clip_energy = 0.0,
        .batch = 512,
        .warmup = 200,
        .n_generator = 1,
        .energy_hidden = {128, 128},
        .n_energy_hidden = 2,
        .value_hidden = {128, 128},
        .n_value_hidden = 2,
        .value_emb = 16,
        .seed = 0,
    };
}

mf_dxmi_opts mf_dxmi_opts_for_dim(size_t D)
{
    mf_dxmi_opts o = mf_dxmi_opts_default();
    if (D > MF_DXMI_LOW_DIM) {
        o.T = 10;
        o.tau_entropy = 0.01;
        o.lr_sampler = 5e-7;
        o.lr_energy = 3e-4;
        o.batch = 128;
    }
    return o;
}

size_t mf_dxmi_iters_for_dim(size_t D)
{
    return D > MF_DXMI_LOW_DIM ? 1200 : 4000;
}

static bool widths_ok(const size_t *h, size_t n)
{
    if (n < 1 || n > MF_DXMI_MAX_HIDDEN) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (h[i] < 1 || h[i] > MF_REWARD_MAX_WIDTH) {
            return false;
        }
    }
    return true;
}

mf_err mf_dxmi_opts_check(const mf_dxmi_opts *o, mf_diag *diag)
{
    if (o == NULL) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "no DxMI options");
    }

    const struct {
        bool ok;
        const char *field, *msg;
    } rules[] = {
        {o->T >= 2 && o->T <= MF_VAR_MAX_T, "T", "T must be in 2..64"},
        {o->schedule == MF_VAR_SCHED_CODE || o->schedule == MF_VAR_SCHED_MATCHED, "schedule",
         "schedule must be code or matched"},
        {o->tau_entropy >= 0.0 && o->tau_entropy <= 10.0, "tau_entropy",
         "tau_entropy must be in [0, 10]"},
        {o->tau_velocity >= 0.0 && o->tau_velocity <= 10.0, "tau_velocity",
         "tau_velocity must be in [0, 10]"},
        {o->gamma >= 0.0 && o->gamma <= 100.0, "gamma", "gamma must be in [0, 100]"},
        {o->adavelreg >= 0.0 && o->adavelreg < 1.0, "adavelreg", "adavelreg must be in [0, 1)"},
        {o->lr_sampler >= 0.0 && o->lr_sampler <= 1.0, "lr_sampler",
         "lr_sampler must be in [0, 1]"},
        {o->lr_sigma >= 0.0 && o->lr_sigma <= 1.0, "lr_sigma", "lr_sigma must be in [0, 1]"},
        {o->lr_energy >= 0.0 && o->lr_energy <= 1.0, "lr_energy", "lr_energy must be in [0, 1]"},
        {o->lr_value >= 0.0 && o->lr_value <= 1.0, "lr_value", "lr_value must be in [0, 1]"},
        {o->clip_sampler >= 0.0 && o->clip_sampler <= 1e6, "clip_sampler",
         "clip_sampler must be in [0, 1e6]"},
        {o->clip_energy >= 0.0 && o->clip_energy <= 1e6, "clip_energy",
         "clip_energy must be in [0, 1e6]"},
        {o->batch >= 1 && o->batch <= 65536, "batch", "batch must be in 1..65536"},
        {o->n_generator >= 1 && o->n_generator <= o->T, "n_generator",
         "n_generator must be in 1..T"},
        {widths_ok(o->energy_hidden, o->n_energy_hidden), "energy_hidden",
         "energy_hidden must be 1..4 widths in 1..4096"},
        {widths_ok(o->value_hidden, o->n_value_hidden), "value_hidden",
         "value_hidden must be 1..4 widths in 1..4096"},
        {o->value_emb >= 2 && o->value_emb <= 256 && o->value_emb % 2 == 0, "value_emb",
         "value_emb must be even, in 2..256"},
    };

    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        if (!rules[i].ok) {
            return mf_diag_set(diag, MF_EINVAL, rules[i].field, "%s", rules[i].msg);
        }
    }
    return MF_OK;
}
