/* SPDX-License-Identifier: MIT */
/* smeme.c - the S-MEME outer loop around Adjoint Matching (smeme.h). */
#include "smeme.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

struct mf_smeme {
    mf_smeme_opts o;
    const mf_schedule *s;
    mf_mlp *ref;      /* pi_{k-1}, frozen during iteration k */
    mf_mlp *net;      /* trainable; pi_k once iteration k is done */
    mf_am *am;
    mf_mlp_ws *ws_r;  /* the reward's forward passes of ref */
    float *t_rows;
    size_t k, round;  /* iterations done, rounds done in the current one */
};

mf_smeme_opts mf_smeme_opts_default(void)
{
    mf_smeme_opts o = {.K = 2, .tau_r = 10, .rounds = 200, .am = mf_am_opts_default()};
    for (size_t k = 0; k < MF_SMEME_MAX_K; k++) {
        o.alpha[k] = 2.0;
    }
    o.am.clip_adjoint = 2.5;
    return o;
}

void mf_smeme_free(mf_smeme *sm)
{
    if (sm == NULL) {
        return;
    }
    mf_am_free(sm->am);
    mf_mlp_ws_free(sm->ws_r);
    mf_free_aligned(sm->t_rows);
    mf_mlp_free(sm->ref);
    mf_mlp_free(sm->net);
    free(sm);
}

mf_err mf_smeme_new(const mf_mlp *parent, const mf_schedule *s, const mf_smeme_opts *o,
                    mf_smeme **ret)
{
    if (parent == NULL || s == NULL || o == NULL || ret == NULL || o->K < 1 ||
        o->K > MF_SMEME_MAX_K || o->rounds == 0 || o->tau_r < 0 || (size_t) o->tau_r >= s->T) {
        return MF_EINVAL;
    }
    for (size_t k = 0; k < o->K; k++) {
        if (!(isfinite(o->alpha[k]) && o->alpha[k] > 1.0)) {
            return MF_EINVAL;
        }
    }
    mf_smeme *sm = calloc(1, sizeof *sm);
    if (sm == NULL) {
        return MF_ENOMEM;
    }
    sm->o = *o;
    sm->s = s;
    mf_err err = mf_mlp_clone(parent, &sm->ref);
    if (err == MF_OK) {
        err = mf_mlp_clone(parent, &sm->net);
    }
    if (err == MF_OK) {
        err = mf_am_new(sm->ref, sm->net, s, &o->am, &sm->am);
    }
    if (err == MF_OK) {
        err = mf_mlp_ws_new(sm->ref, o->am.trajectories, false, &sm->ws_r);
    }
    if (err == MF_OK) {
        sm->t_rows = mf_alloc_floats(o->am.trajectories);
        err = sm->t_rows == NULL ? MF_ENOMEM : MF_OK;
    }
    if (err != MF_OK) {
        mf_smeme_free(sm);
        return err;
    }
    *ret = sm;
    return MF_OK;
}

/* a_N = -eps_ref(x_N, tau_r) / (alpha_k sqrt(1 - alpha_bar(tau_r))) = s_ref(x_N, tau_r) / alpha_k. */
static mf_err entropy_reward(void *ctx, const float *x, size_t n, size_t D, float *a)
{
    mf_smeme *sm = ctx;
    for (size_t i = 0; i < n; i++) {
        sm->t_rows[i] = (float) sm->o.tau_r;
    }
    mf_mlp_forward(sm->ref, sm->ws_r, x, sm->t_rows, NULL, n, a);
    double ab = mf_schedule_alpha_bar(sm->s, sm->o.tau_r);
    float scale = (float) (-1.0 / (sm->o.alpha[sm->k] * sqrt(1.0 - ab)));
    for (size_t j = 0; j < n * D; j++) {
        a[j] *= scale;
    }
    return MF_OK;
}

mf_err mf_smeme_step(mf_smeme *sm, mf_am_round_stats *ret_stats)
{
    if (mf_smeme_done(sm)) {
        return MF_EINVAL;
    }
    if (sm->round == 0 && sm->k > 0) {
        /* iteration k+1: pi_k becomes the frozen reference; a fresh optimiser */
        memcpy(sm->ref->params, sm->net->params, sm->net->n_params * sizeof(float));
        mf_am_reset_optimizer(sm->am);
    }
    mf_err err = mf_am_round(sm->am, entropy_reward, sm, ret_stats);
    if (err != MF_OK) {
        return err;
    }
    if (++sm->round == sm->o.rounds) {
        sm->round = 0;
        sm->k++;
    }
    return MF_OK;
}

mf_err mf_smeme_restore(mf_smeme *sm, const float *params, size_t iterations_done)
{
    if (params == NULL || iterations_done >= sm->o.K) {
        return MF_EINVAL;
    }
    size_t n = sm->net->n_params;
    memcpy(sm->net->params, params, n * sizeof(float));
    memcpy(sm->ref->params, params, n * sizeof(float));
    mf_am_reset_optimizer(sm->am);
    mf_am_set_rounds(sm->am, (uint64_t) iterations_done * sm->o.rounds);
    sm->k = iterations_done;
    sm->round = 0;
    return MF_OK;
}

void mf_smeme_set_executor(mf_smeme *sm, mf_par_for_fn fn, void *exec, size_t threads)
{
    mf_am_set_executor(sm->am, fn, exec, threads);
}

size_t mf_smeme_iterations_done(const mf_smeme *sm)
{
    return sm->k;
}

size_t mf_smeme_round(const mf_smeme *sm)
{
    return sm->round;
}

bool mf_smeme_done(const mf_smeme *sm)
{
    return sm->k >= sm->o.K;
}

const mf_mlp *mf_smeme_model(const mf_smeme *sm)
{
    return sm->net;
}
