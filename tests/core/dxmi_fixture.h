/* SPDX-License-Identifier: MIT */
/*
 * dxmi_fixture.h - the DxMI parts test_model_file.c and test_model_dxmi.c put
 * on a small model: a 5-step short chain (quadratic beta~ as var_sched.h
 * makes them, the last sigma fixed), an energy network D -> 4 -> 1 and a
 * value network D + 4 -> 5 -> 3 -> 1 with nonzero weights, and quantiles
 * 0, 0.1, .., 10.
 */
#ifndef MF_TEST_DXMI_FIXTURE_H
#define MF_TEST_DXMI_FIXTURE_H

#include <math.h>

#include <check.h>

#include "model_dxmi.h"

#define FIXTURE_T        5
#define FIXTURE_EMB      4
#define FIXTURE_E_HIDDEN 4

/* The short chain: beta~_i = 1e-4 (1 + 20 i)^2, tau and sigma decreasing. */
static inline mf_var_sched dxmi_fixture_var(void)
{
    float beta[FIXTURE_T], tau[FIXTURE_T] = {800.0f, 420.5f, 180.25f, 40.0f, 2.5f},
                           sigma[FIXTURE_T] = {0.6f, 0.35f, 0.2f, 0.07f, (float) MF_VAR_LAST_SIGMA};
    for (int i = 0; i < FIXTURE_T; i++) {
        beta[i] = (float) (1e-4 * (1.0 + 20.0 * i) * (1.0 + 20.0 * i));
    }
    mf_var_sched v;
    mf_diag d = {0};
    ck_assert_msg(mf_var_sched_from(FIXTURE_T, beta, tau, sigma, &v, &d) == MF_OK, "%s", d.msg);
    return v;
}

/* A scalar MLP on `in` inputs with the widths given, weights a fixed pattern. */
static inline mf_reward_model *dxmi_fixture_net(size_t in, const size_t *hidden, size_t n_hidden,
                                                float phase)
{
    mf_reward_model *r = NULL;
    ck_assert_int_eq(mf_reward_new(MF_REWARD_MLP, in, hidden, n_hidden, &r), MF_OK);
    for (size_t i = 0; i < r->n_params; i++) {
        r->params[i] = 0.8f * sinf(0.7f * (float) i + phase);
    }
    return r;
}

/* Sets the short chain and the energy (with value and quantiles) on m. */
static inline void dxmi_fixture_attach(mf_model *m)
{
    size_t D = m->net->cfg.data_dim, eh[1] = {FIXTURE_E_HIDDEN}, vh[2] = {5, 3};
    mf_var_sched v = dxmi_fixture_var();
    mf_diag d = {0};
    ck_assert_msg(mf_model_set_var(m, &v, MF_VAR_SCHED_CODE, &d) == MF_OK, "%s", d.msg);
    mf_reward_model *e = dxmi_fixture_net(D, eh, 1, 0.3f);
    mf_reward_model *val = dxmi_fixture_net(D + FIXTURE_EMB, vh, 2, 1.1f);
    double q[MF_ENERGY_N_QUANTILES];
    for (int k = 0; k < MF_ENERGY_N_QUANTILES; k++) {
        q[k] = 0.1 * k;
    }
    ck_assert_msg(mf_model_set_energy(m, e, val, FIXTURE_EMB, q, &d) == MF_OK, "%s", d.msg);
    mf_reward_free(e);
    mf_reward_free(val);
}

#endif /* MF_TEST_DXMI_FIXTURE_H */
