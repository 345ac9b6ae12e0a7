/* SPDX-License-Identifier: MIT */
/*
 * guidance.c - guided noise prediction (the modes and the reward-gradient
 * derivation are in guidance.h).
 *
 * A guided call evaluates the network once (COND, and w = 0 of the others),
 * twice (CFG: the condition, then the null condition) or once plus the reward
 * model's forward and backward (REWARD).  Every buffer is sized for max_rows
 * at init; an evaluation allocates nothing.
 */
#include "guidance.h"

#include <math.h>
#include <string.h>

#include "bf16_net.h"
#include "mem.h"
#include "potential.h"

#define WS_ROWS_MAX 256 /* rows per network workspace, as server/par.c's chunks */

const char *const mf_guide_mode_names[] = {"cond", "cfg", "reward", NULL};

const char *mf_guide_mode_name(mf_guide_mode mode)
{
    return (unsigned) mode <= MF_GUIDE_REWARD ? mf_guide_mode_names[mode] : "unknown";
}

mf_err mf_guide_mode_lookup(const char *name, mf_guide_mode *ret)
{
    for (int k = MF_GUIDE_COND; k <= MF_GUIDE_REWARD; k++) {
        if (name != NULL && strcmp(name, mf_guide_mode_name((mf_guide_mode) k)) == 0) {
            *ret = (mf_guide_mode) k;
            return MF_OK;
        }
    }
    return MF_ENOTFOUND;
}

mf_err mf_guide_check(const mf_guide *g, size_t D, size_t net_C)
{
    if (g == NULL || !isfinite(g->w) || g->C != net_C || (g->C > 0 && g->cond == NULL) ||
        !isfinite(g->data_offset) || !isfinite(g->data_scale) || !(g->data_scale > 0)) {
        return MF_EINVAL;
    }
    switch (g->mode) {
    case MF_GUIDE_COND:
        return MF_OK;
    case MF_GUIDE_CFG:
        return g->C > 0 ? MF_OK : MF_EINVAL;
    case MF_GUIDE_REWARD:
        return g->reward != NULL && g->reward->D == D && g->target != NULL ? MF_OK : MF_EINVAL;
    }
    return MF_EINVAL;
}

mf_err mf_guide_fill_cond(const mf_model *m, const double *a, size_t n, float *cond)
{
    if (m == NULL || !m->has_cond || (n > 0 && (a == NULL || cond == NULL))) {
        return MF_EINVAL;
    }
    size_t C = mf_model_cond_width(m->cond.null_kind);
    if (C != m->net->cfg.cond_dim) {
        return MF_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        cond[i * C] = (float) ((a[i] - m->cond.offset) / m->cond.scale);
        if (C == 2) {
            cond[i * C + 1] = 1.0f;
        }
    }
    return MF_OK;
}

void mf_guide_net_eval(void *ctx, const float *x, const float *c, size_t n, float t, float *out)
{
    mf_mlp_eps_ctx ec = *(const mf_mlp_eps_ctx *) ctx;
    ec.c = c;
    mf_mlp_eps_eval(&ec, x, n, t, out);
}

/* ---- the guided predictor ----------------------------------------------------------- */

void mf_guide_eps_deinit(mf_guide_eps_ctx *ctx)
{
    mf_reward_ws_free(ctx->rws);
    mf_free_aligned(ctx->c_null);
    mf_free_aligned(ctx->e_null);
    mf_free_aligned(ctx->xd);
    mf_free_aligned(ctx->grad);
    mf_free_aligned(ctx->f);
    memset(ctx, 0, sizeof *ctx);
}

mf_err mf_guide_eps_init(mf_guide_eps_ctx *ctx, mf_guide_net_fn net, const mf_guide *g,
                         const mf_schedule *s, size_t D, size_t max_rows)
{
    size_t nd, nc;
    if (max_rows == 0 || mf_guide_check(g, D, g != NULL ? g->C : 0) != MF_OK) {
        return MF_EINVAL;
    }
    if (mf_size_mul(max_rows, D, &nd) != MF_OK || mf_size_mul(max_rows, g->C, &nc) != MF_OK) {
        return MF_ERANGE;
    }
    *ctx = (mf_guide_eps_ctx){.net = net, .g = g, .s = s, .D = D, .max_rows = max_rows};
    bool ok = true;
    if (g->mode == MF_GUIDE_CFG) {
        ctx->c_null = mf_alloc_floats(nc); /* zeroed: the null condition */
        ctx->e_null = mf_alloc_floats(nd);
        ok = ctx->c_null != NULL && ctx->e_null != NULL;
    } else if (g->mode == MF_GUIDE_REWARD) {
        ctx->xd = mf_alloc_floats(nd);
        ctx->grad = mf_alloc_floats(nd);
        ctx->f = mf_alloc_floats(max_rows);
        ok = ctx->xd != NULL && ctx->grad != NULL && ctx->f != NULL &&
             mf_reward_ws_new(g->reward, max_rows < WS_ROWS_MAX ? max_rows : WS_ROWS_MAX,
                              &ctx->rws) == MF_OK;
    }
    if (!ok) {
        mf_guide_eps_deinit(ctx);
        return MF_ENOMEM;
    }
    return MF_OK;
}

void mf_guide_eps_eval(void *vctx, const float *x, size_t n, float t, float *out)
{
    mf_guide_eps_ctx *ctx = vctx;
    const mf_guide *g = ctx->g;
    size_t D = ctx->D, nd = n * D;
    ctx->net.eval(ctx->net.ctx, x, g->C > 0 ? g->cond : NULL, n, t, out);
    if (g->w == 0.0f || g->mode == MF_GUIDE_COND) {
        return;
    }
    if (g->mode == MF_GUIDE_CFG) {
        ctx->net.eval(ctx->net.ctx, x, ctx->c_null, n, t, ctx->e_null);
        float wc = 1.0f + g->w, wn = g->w;
        for (size_t j = 0; j < nd; j++) {
            out[j] = wc * out[j] - wn * ctx->e_null[j];
        }
        return;
    }
    /* REWARD: eps += sqrt(1 - ab) w scale (f(x_d) - a) grad f(x_d) (guidance.h). */
    for (size_t j = 0; j < nd; j++) {
        ctx->xd[j] = (float) (g->data_offset + g->data_scale * (double) x[j]);
    }
    mf_reward_grad(g->reward, ctx->rws, ctx->xd, n, ctx->f, ctx->grad);
    double ab = mf_schedule_alpha_bar(ctx->s, (long) t);
    double k = sqrt(1.0 - ab) * (double) g->w * g->data_scale;
    for (size_t i = 0; i < n; i++) {
        float ki = (float) (k * ((double) ctx->f[i] - (double) g->target[i]));
        for (size_t d = 0; d < D; d++) {
            out[i * D + d] += ki * ctx->grad[i * D + d];
        }
    }
}

/* ---- sampling ----------------------------------------------------------------------- */

mf_err mf_guide_sample(const mf_mlp *net, const mf_schedule *s, const mf_sampler_opts *o,
                       const mf_guide *g, float *x, size_t n)
{
    size_t D = net->cfg.data_dim, C = net->cfg.cond_dim;
    if (n == 0 || (g == NULL && C > 0) || (g != NULL && mf_guide_check(g, D, C) != MF_OK)) {
        return MF_EINVAL;
    }
    if (mf_pot_is_potential(net)) { /* eps = -grad_x g; guidance needs an eps network */
        return g == NULL ? mf_pot_sample(net, s, o, x, n) : MF_EINVAL;
    }
    if (mf_precision_effective(net, o->precision, g != NULL, NULL) == MF_PRECISION_BF16) {
        return mf_bf16_sample(net, s, o, x, n);
    }
    mf_mlp_ws *ws = NULL;
    /* The weights cannot change during the call, so a frozen workspace is safe. */
    mf_err err = mf_mlp_ws_new_frozen(net, n < WS_ROWS_MAX ? n : WS_ROWS_MAX, &ws);
    if (err != MF_OK) {
        return err;
    }
    mf_mlp_eps_ctx ec = {.net = net, .ws = ws, .c = NULL};
    if (g == NULL) {
        err = mf_sample(s, (mf_eps_fn){.eval = mf_mlp_eps_eval, .ctx = &ec}, o, x, n, D);
        mf_mlp_ws_free(ws);
        return err;
    }
    mf_guide_eps_ctx gc;
    mf_guide_net_fn nf = {.eval = mf_guide_net_eval, .ctx = &ec};
    err = mf_guide_eps_init(&gc, nf, g, s, D, n);
    if (err == MF_OK) {
        err = mf_sample(s, (mf_eps_fn){.eval = mf_guide_eps_eval, .ctx = &gc}, o, x, n, D);
        mf_guide_eps_deinit(&gc);
    }
    mf_mlp_ws_free(ws);
    return err;
}

mf_err mf_guide_exec_sample(const mf_guide_exec *ex, const mf_mlp *net, const mf_schedule *s,
                            const mf_sampler_opts *o, const mf_guide *g, float *x, size_t n)
{
    if (ex != NULL && ex->sample != NULL) {
        return ex->sample(ex->ctx, net, s, o, g, x, n);
    }
    return mf_guide_sample(net, s, o, g, x, n);
}
