/* SPDX-License-Identifier: MIT */
/*
 * dxmi.c - a DxMI run (dxmi.h): the state, one iteration in the
 * order of reference/other-seeds.md §2.6 and ../shared/bench/dxmi_torch/
 * dxmi.py's train(), sampling and restoring.  The losses and gradients are
 * in dxmi_grad.c, the options in dxmi_opts.c.
 *
 * The rollout of iteration i is exactly mf_sample's MF_SAMPLER_VAR run with
 * the seed mf__dxmi_rollout_seed(i) (the same streams, coefficients and
 * float operations; in bf16 with o.rollout, the eps passes of bf16_net.h),
 * and it keeps each step's mean mu_t = xmult_t x_t +
 * cmult_t eps(x_t, tau_t): the TD steps draw their fresh x_{t+1} as
 * mu_t + sigma_t z' with new noise z', which is what re-running the sampler
 * at x_t gives, since neither the eps network nor sigma changes before the
 * sampler step.
 *
 * Allocation happens in mf_dxmi_new, mf_dxmi_set_executor (the per-thread
 * forward workspaces) and mf_dxmi_sample (mf_sample's scratch), never in
 * mf_dxmi_step.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bf16_net.h"
#include "dxmi_int.h"
#include "mem.h"
#include "rng.h"
#include "sampler.h"

/* Streams under the seed. */
enum {
    TAG_ENERGY = 0x64784d45,  /* "dxME": the energy's initialisation */
    TAG_VALUE = 0x64784d56,   /* "dxMV": the value's */
    TAG_ROLLOUT = 0x64785230, /* "dxR0": block i = iteration i's rollout seed */
    TAG_ITER = 0x64784954,    /* "dxIT": + i, iteration i's generator */
};

/* Streams under an iteration's generator. */
enum {
    TAG_TD = 0x100,   /* + t: the TD step's fresh x_{t+1} */
    TAG_PERM = 0x200, /* the buffer permutation */
    TAG_GEN = 0x300,  /* + m: the noise of sampler step m */
};

/* AVR's s2_t stays above this (pitfall 3: it spans 2 .. below 1e-4; a 0 would divide). */
#define S2_FLOOR 1e-12

/* ---- lifecycle ------------------------------------------------------------------- */

void mf_dxmi_free(mf_dxmi *dx)
{
    if (dx == NULL) {
        return;
    }
    float *bufs[] = {dx->emb, dx->g_eps, dx->m_eps, dx->v_eps, dx->g_e, dx->m_e, dx->v_e,
                     dx->g_v, dx->m_v,   dx->v_v,   dx->xs,    dx->mu,  dx->xe,  dx->fe,
                     dx->dfe, dx->vin,   dx->vin2,  dx->xn,    dx->z,   dx->fv,  dx->dfv,
                     dx->tgt, dx->ones,  dx->xb,    dx->tb,    dx->eo,  dx->g};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        mf_free_aligned(bufs[i]);
    }
    free(dx->sb);
    free(dx->perm);
    mf_mlp_ws_free(dx->ws_eps);
    for (size_t i = 0; i < MF_DXMI_MAX_THREADS; i++) {
        mf_mlp_ws_free(dx->ws_fwd[i]);
    }
    mf_reward_ws_free(dx->ws_e);
    mf_reward_ws_free(dx->ws_v);
    mf_mlp_free(dx->eps);
    mf_reward_free(dx->energy);
    mf_reward_free(dx->value);
    free(dx);
}

/* Zero moments and step counts of the four optimisers. */
static void reset_adam(mf_dxmi *dx)
{
    dx->adam_eps =
        (mf_adam){.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .m = dx->m_eps, .v = dx->v_eps};
    dx->adam_ls = dx->adam_eps;
    dx->adam_ls.m = dx->m_ls;
    dx->adam_ls.v = dx->v_ls;
    dx->adam_e = dx->adam_eps;
    dx->adam_e.m = dx->m_e;
    dx->adam_e.v = dx->v_e;
    dx->adam_v = dx->adam_eps;
    dx->adam_v.m = dx->m_v;
    dx->adam_v.v = dx->v_v;
    mf_adam_reset(&dx->adam_eps, dx->eps->n_params);
    mf_adam_reset(&dx->adam_ls, MF_VAR_MAX_T);
    mf_adam_reset(&dx->adam_e, dx->energy->n_params);
    mf_adam_reset(&dx->adam_v, dx->value->n_params);
}

/* Every buffer and workspace (sizes: B <= 2^16, D, E and widths <= 2^13: no overflow). */
static mf_err alloc_state(mf_dxmi *dx)
{
    size_t B = dx->B, D = dx->D, T = dx->T, BD = B * D;
    size_t ne = dx->energy->n_params, nv = dx->value->n_params, np = dx->eps->n_params;
    float **f[] = {&dx->g_eps, &dx->m_eps, &dx->v_eps, &dx->g_e, &dx->m_e, &dx->v_e, &dx->g_v,
                   &dx->m_v,   &dx->v_v,   &dx->xs,    &dx->mu,  &dx->xe,  &dx->fe,  &dx->dfe,
                   &dx->vin,   &dx->vin2,  &dx->xn,    &dx->z,   &dx->fv,  &dx->dfv, &dx->tgt,
                   &dx->ones,  &dx->xb,    &dx->tb,    &dx->eo,  &dx->g,   &dx->emb};
    size_t n[] = {np, np,           np,       ne,     ne,    ne,    nv,         nv,
                  nv, (T + 1) * BD, T * BD,   2 * BD, 2 * B, 2 * B, B * dx->DE, B * dx->DE,
                  BD, BD,           B,        B,      B,     B,     BD,         B,
                  BD, BD,           T * dx->E};
    for (size_t i = 0; i < sizeof n / sizeof n[0]; i++) {
        if ((*f[i] = mf_alloc_floats(n[i])) == NULL) {
            return MF_ENOMEM;
        }
    }
    dx->sb = malloc(B * sizeof *dx->sb);
    dx->perm = malloc(T * B * sizeof *dx->perm);
    if (dx->sb == NULL || dx->perm == NULL) {
        return MF_ENOMEM;
    }
    mf_err err = mf_mlp_ws_new_split(dx->eps, B, &dx->ws_eps);
    if (err == MF_OK) {
        err = mf_mlp_ws_new(dx->eps, B, false, &dx->ws_fwd[0]);
    }
    if (err == MF_OK) {
        err = mf_reward_ws_new(dx->energy, 2 * B, &dx->ws_e);
    }
    if (err == MF_OK) {
        err = mf_reward_ws_new(dx->value, B, &dx->ws_v);
    }
    return err;
}

mf_err mf_dxmi_new(const mf_mlp *parent, const mf_schedule *s, const mf_dxmi_opts *o, mf_dxmi **ret,
                   mf_diag *diag)
{
    mf_err err = mf_dxmi_opts_check(o, diag);
    if (err != MF_OK) {
        return err;
    }
    if (parent == NULL || s == NULL || ret == NULL) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "no parent model or schedule");
    }
    if (parent->cfg.cond_dim != 0) {
        return mf_diag_set(diag, MF_EINVAL, "model", "DxMI needs an unconditional parent");
    }
    size_t D = parent->cfg.data_dim;
    if (D + o->value_emb > MF_REWARD_MAX_WIDTH) {
        return mf_diag_set(diag, MF_EINVAL, "value_emb", "D + value_emb must be at most %d",
                           MF_REWARD_MAX_WIDTH);
    }
    mf_dxmi *dx = calloc(1, sizeof *dx);
    if (dx == NULL) {
        return mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
    }
    dx->o = *o;
    /* bf16 only where it runs (a bf16 CPU, an unconditional eps network) */
    dx->o.rollout = mf_precision_effective(parent, o->rollout, false, NULL);
    dx->D = D;
    dx->T = o->T;
    dx->B = o->batch;
    dx->E = o->value_emb;
    dx->DE = D + o->value_emb;
    dx->threads = 1;
    err = mf_var_sched_init(s, o->T, o->schedule, &dx->var);
    if (err != MF_OK) {
        mf_dxmi_free(dx);
        return mf_diag_set(diag, err, "schedule", "no %s short chain of %zu steps for '%s'",
                           mf_var_sched_kind_name(o->schedule), o->T, s->spec);
    }
    err = mf_mlp_clone(parent, &dx->eps);
    if (err == MF_OK) {
        err = mf_reward_new(MF_REWARD_MLP, D, o->energy_hidden, o->n_energy_hidden, &dx->energy);
    }
    if (err == MF_OK) {
        err = mf_reward_new(MF_REWARD_MLP, dx->DE, o->value_hidden, o->n_value_hidden, &dx->value);
    }
    if (err == MF_OK) {
        err = alloc_state(dx);
    }
    if (err != MF_OK) {
        mf_dxmi_free(dx);
        return mf_diag_set(diag, err, NULL, "cannot set up the DxMI run: %s", mf_strerror(err));
    }
    mf_reward_init_params(dx->energy, o->seed ^ TAG_ENERGY);
    mf_reward_init_params(dx->value, o->seed ^ TAG_VALUE);
    for (size_t t = 0; t < dx->T; t++) {
        mf_mlp_embed_width((uint32_t) dx->E, (float) t, dx->emb + t * dx->E);
        dx->log_sigma[t] = t + 1 < dx->T ? logf((float) dx->var.sigma0[t]) : 0.0f;
        dx->s2[t] = dx->var.beta[dx->T - 1 - t]; /* the short chain's betas, reversed */
    }
    mf__dxmi_sync_sigma(dx);
    for (size_t r = 0; r < dx->B; r++) {
        dx->ones[r] = 1.0f;
    }
    reset_adam(dx);
    *ret = dx;
    return MF_OK;
}

mf_err mf_dxmi_set_executor(mf_dxmi *dx, mf_par_for_fn fn, void *exec, size_t threads)
{
    size_t n = fn == NULL || threads < 1 ? 1 : threads;
    n = n < MF_DXMI_MAX_THREADS ? n : MF_DXMI_MAX_THREADS;
    if (n != dx->threads) {
        mf_mlp_ws *ws[MF_DXMI_MAX_THREADS] = {NULL};
        size_t rows = (dx->B + n - 1) / n;
        for (size_t i = 0; i < n; i++) {
            if (mf_mlp_ws_new(dx->eps, rows, false, &ws[i]) != MF_OK) {
                for (size_t j = 0; j <= i; j++) {
                    mf_mlp_ws_free(ws[j]);
                }
                return MF_ENOMEM;
            }
        }
        for (size_t i = 0; i < MF_DXMI_MAX_THREADS; i++) {
            mf_mlp_ws_free(dx->ws_fwd[i]);
            dx->ws_fwd[i] = ws[i];
        }
    }
    dx->par_for = fn;
    dx->exec = exec;
    dx->threads = n;
    return MF_OK;
}

void mf__dxmi_run(const mf_dxmi *dx, size_t n, void (*task)(void *ctx, size_t i), void *ctx)
{
    if (dx->par_for != NULL && n > 1) {
        dx->par_for(dx->exec, n, task, ctx);
    } else {
        for (size_t i = 0; i < n; i++) {
            task(ctx, i);
        }
    }
}

size_t mf__dxmi_chunks(const mf_dxmi *dx, size_t n)
{
    return dx->threads < n ? dx->threads : n;
}

void mf__dxmi_sync_sigma(mf_dxmi *dx)
{
    for (size_t t = 0; t + 1 < dx->T; t++) {
        dx->var.sigma[t] = (double) expf(dx->log_sigma[t]);
    }
}

uint64_t mf__dxmi_rollout_seed(const mf_dxmi *dx, size_t iter)
{
    uint32_t w[4];
    mf_rng_block(mf_rng_derive(mf_rng_make(dx->o.seed), TAG_ROLLOUT), iter, w);
    return (uint64_t) w[1] << 32 | w[0];
}

/* ---- one iteration --------------------------------------------------------------- */

typedef struct rollout {
    mf_dxmi *dx;
    uint64_t seed;
    size_t chunks;
    double dsq[MF_DXMI_MAX_THREADS][MF_VAR_MAX_T]; /* sum (x_{t+1} - x_t)^2 by chunk */
} rollout;

/*
 * All T steps of chunk c's rows, with mf_sample's noise and arithmetic (sampler.c); in
 * bf16 (o.rollout) through layers made from the sampler as this iteration finds it (a
 * step whose bf16 pass fails runs in float).
 */
static void rollout_task(void *ctx, size_t c)
{
    rollout *p = ctx;
    mf_dxmi *dx = p->dx;
    size_t B = dx->B, D = dx->D, BD = B * D, r0, r1;
    mf__dxmi_span(B, p->chunks, c, &r0, &r1);
    size_t n = r1 - r0;
    mf_rng root = mf_rng_make(p->seed);
    mf_rng steps = mf_rng_derive(root, MF_SAMPLER_STREAM_STEP);
    mf_rng_normal(mf_rng_derive(root, MF_SAMPLER_STREAM_INIT), r0 * D, dx->xs + r0 * D, n * D);
    const mf_var_sched *v = &dx->var;
    float *e = dx->eo + r0 * D;
    mf_bf16_net *b = NULL;
    if (dx->o.rollout == MF_PRECISION_BF16 && mf_bf16_net_new(dx->eps, n, &b) != MF_OK) {
        b = NULL;
    }
    for (size_t t = 0; t < dx->T; t++) {
        const float *x = dx->xs + t * BD + r0 * D;
        float *xn = dx->xs + (t + 1) * BD + r0 * D, *mu = dx->mu + t * BD + r0 * D;
        if (b == NULL || mf_bf16_net_forward_shared_t(b, x, (float) v->tau[t], n, e) != MF_OK) {
            mf_mlp_forward_shared_t(dx->eps, dx->ws_fwd[c], x, (float) v->tau[t], NULL, n, e);
        }
        mf_rng_normal(mf_rng_derive(steps, t), r0 * D, xn, n * D);
        float cx = (float) v->xmult[t], ce = (float) v->cmult[t], cz = (float) v->sigma[t];
        double sq = 0.0;
        for (size_t j = 0; j < n * D; j++) {
            mu[j] = cx * x[j] + ce * e[j];
            xn[j] = mu[j] + cz * xn[j];
            double u = (double) xn[j] - (double) x[j];
            sq += u * u;
        }
        p->dsq[c][t] = sq;
    }
    mf_bf16_net_free(b);
}

/*
 * The rows of sampler step m: the states perm[m B .. (m + 1) B) of the rollout's
 * T B (state k = step k / B, row k % B), those with t < T-1 first (V's rows,
 * then E's), each group in permutation order; the noise by position.
 */
static void gather(mf_dxmi *dx, size_t m, mf_rng r)
{
    size_t B = dx->B, D = dx->D, T = dx->T, pos = 0;
    const size_t *idx = dx->perm + m * B;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t j = 0; j < B; j++) {
            size_t t = idx[j] / B, row = idx[j] % B;
            if ((t + 1 < T) != (pass == 0)) {
                continue;
            }
            memcpy(dx->xb + pos * D, dx->xs + (t * B + row) * D, D * sizeof(float));
            dx->sb[pos] = t;
            dx->tb[pos] = (float) dx->var.tau[t];
            pos++;
        }
        if (pass == 0) {
            dx->nv = pos;
        }
    }
    mf_rng_normal(mf_rng_derive(r, TAG_GEN + m), 0, dx->z, B * D);
}

/* Scales g (n) by max / norm when max > 0 and the norm exceeds it (clip_grad_norm_). */
static void clip(float *g, size_t n, double norm, double max)
{
    if (max > 0.0 && norm > max) {
        mf_scale(g, n, (float) (max / norm));
    }
}

/* n_generator sampler steps on the rollout's states (after the warm-up); false: a NaN loss. */
static bool sampler_steps(mf_dxmi *dx, mf_rng r, mf_dxmi_stats *st)
{
    size_t TB = dx->T * dx->B, n_rows = dx->o.n_generator * dx->B;
    mf_rng rp = mf_rng_derive(r, TAG_PERM);
    for (size_t k = 0; k < TB; k++) {
        dx->perm[k] = k;
    }
    for (size_t j = 0; j < n_rows; j++) { /* the first n_rows of a Fisher-Yates shuffle */
        size_t k = j + mf_rng_below(rp, j, (uint32_t) (TB - j)), tmp = dx->perm[j];
        dx->perm[j] = dx->perm[k];
        dx->perm[k] = tmp;
    }
    for (size_t m = 0; m < dx->o.n_generator; m++) {
        gather(dx, m, r);
        mf__dxmi_gen gs;
        st->sampler_loss = mf__dxmi_sampler_grad(dx, &gs);
        st->sampler_value_term = gs.value_term;
        st->sampler_entropy_term = gs.entropy_term;
        st->sampler_updated = true;
        if (!isfinite(st->sampler_loss)) {
            return false;
        }
        /* one norm over the eps parameters and log sigma together */
        double norm = sqrt(gs.sumsq);
        clip(dx->g_eps, dx->eps->n_params, norm, dx->o.clip_sampler);
        clip(dx->g_ls, dx->T, norm, dx->o.clip_sampler);
        mf_adam_step(&dx->adam_eps, dx->eps->params, dx->g_eps, dx->eps->n_params,
                     (float) dx->o.lr_sampler);
        mf_adam_step(&dx->adam_ls, dx->log_sigma, dx->g_ls, dx->T - 1, (float) dx->o.lr_sigma);
        mf__dxmi_sync_sigma(dx);
    }
    return true;
}

static bool finite_state(const mf_dxmi *dx)
{
    return mf_floats_finite(dx->eps->params, dx->eps->n_params) &&
           mf_floats_finite(dx->energy->params, dx->energy->n_params) &&
           mf_floats_finite(dx->value->params, dx->value->n_params) &&
           mf_floats_finite(dx->log_sigma, dx->T);
}

/*
 * A non-finite loss ends the iteration at once (MF_ERANGE) before its update:
 * NaN must not reach the networks' kernels (kernels.c's exp is not defined
 * for it).
 */
mf_err mf_dxmi_step(mf_dxmi *dx, const float *x_pos, mf_dxmi_stats *ret)
{
    if (dx == NULL || x_pos == NULL || !mf_floats_finite(x_pos, dx->B * dx->D)) {
        return MF_EINVAL;
    }
    size_t B = dx->B, D = dx->D, T = dx->T, BD = B * D, it = dx->iters;
    mf_rng r = mf_rng_derive(mf_rng_derive(mf_rng_make(dx->o.seed), TAG_ITER), it);
    mf_dxmi_stats st = {.iter = it + 1,
                        .sampler_updated = false,
                        .sampler_loss = NAN,
                        .sampler_value_term = NAN,
                        .sampler_entropy_term = NAN};
    /* 1-2. rollout and AVR */
    rollout ro = {
        .dx = dx, .seed = mf__dxmi_rollout_seed(dx, it), .chunks = mf__dxmi_chunks(dx, B)};
    mf__dxmi_run(dx, ro.chunks, rollout_task, &ro);
    double a = dx->o.adavelreg;
    for (size_t t = 0; t < T; t++) {
        double sq = 0.0;
        for (size_t c = 0; c < ro.chunks; c++) {
            sq += ro.dsq[c][t];
        }
        double d = sq / (double) BD;
        dx->s2[t] = fmax(a * dx->s2[t] + (1.0 - a) * d, S2_FLOOR);
        st.running_cost[t] = d / (2.0 * dx->s2[t]);
    }
    /* 3. EBM on x+ and x- = x_T */
    mf__dxmi_ebm eb;
    st.ebm_loss = mf__dxmi_ebm_grad(dx, x_pos, dx->xs + T * BD, &eb);
    st.pos_e = eb.pos_e;
    st.neg_e = eb.neg_e;
    st.ebm_reg = eb.reg;
    if (!isfinite(st.ebm_loss)) {
        return MF_ERANGE;
    }
    clip(dx->g_e, dx->energy->n_params, sqrt(eb.sumsq), dx->o.clip_energy);
    mf_adam_step(&dx->adam_e, dx->energy->params, dx->g_e, dx->energy->n_params,
                 (float) dx->o.lr_energy);
    /* 4. TD, t = T-1 .. 0, each with a fresh x_{t+1} = mu_t + sigma_t z' */
    for (size_t t = T; t-- > 0;) {
        const float *mu = dx->mu + t * BD;
        float cz = (float) dx->var.sigma[t];
        mf_rng_normal(mf_rng_derive(r, TAG_TD + t), 0, dx->z, BD);
        for (size_t j = 0; j < BD; j++) {
            dx->xn[j] = mu[j] + cz * dx->z[j];
        }
        st.td_loss[t] = mf__dxmi_td_step_grad(dx, t, dx->xs + t * BD, dx->xn, &st.value_mean[t]);
        if (!isfinite(st.td_loss[t])) {
            return MF_ERANGE;
        }
        mf_adam_step(&dx->adam_v, dx->value->params, dx->g_v, dx->value->n_params,
                     (float) dx->o.lr_value);
    }
    /* 5. the sampler, after the warm-up */
    if (it + 1 > dx->o.warmup && !sampler_steps(dx, r, &st)) {
        return MF_ERANGE;
    }
    for (size_t t = 0; t < T; t++) {
        st.sigma[t] = dx->var.sigma[t];
        st.s2[t] = dx->s2[t];
    }
    dx->iters++;
    if (ret != NULL) {
        *ret = st;
    }
    return finite_state(dx) ? MF_OK : MF_ERANGE;
}

/* ---- sampling, accessors, restoring ---------------------------------------------- */

typedef struct sample_job {
    mf_dxmi *dx;
    uint64_t seed;
    float *x;
    size_t n, chunks;
    mf_err err[MF_DXMI_MAX_THREADS];
} sample_job;

static void sample_task(void *ctx, size_t c)
{
    sample_job *p = ctx;
    mf_dxmi *dx = p->dx;
    size_t r0, r1;
    mf__dxmi_span(p->n, p->chunks, c, &r0, &r1);
    mf_mlp_eps_ctx ec = {.net = dx->eps, .ws = dx->ws_fwd[c], .c = NULL};
    mf_eps_fn fn = {.eval = mf_mlp_eps_eval, .ctx = &ec};
    mf_sampler_opts o = {.kind = MF_SAMPLER_VAR,
                         .steps = dx->T,
                         .var = &dx->var,
                         .seed = p->seed,
                         .first_index = r0};
    p->err[c] = mf_sample(NULL, fn, &o, p->x + r0 * dx->D, r1 - r0, dx->D);
}

mf_err mf_dxmi_sample(mf_dxmi *dx, uint64_t seed, float *x, size_t n)
{
    if (dx == NULL || x == NULL || n == 0) {
        return MF_EINVAL;
    }
    sample_job p = {.dx = dx, .seed = seed, .x = x, .n = n, .chunks = mf__dxmi_chunks(dx, n)};
    mf__dxmi_run(dx, p.chunks, sample_task, &p);
    for (size_t c = 0; c < p.chunks; c++) {
        if (p.err[c] != MF_OK) {
            return p.err[c];
        }
    }
    return MF_OK;
}

size_t mf_dxmi_iters_done(const mf_dxmi *dx)
{
    return dx->iters;
}

const mf_mlp *mf_dxmi_eps(const mf_dxmi *dx)
{
    return dx->eps;
}

const mf_var_sched *mf_dxmi_sched(const mf_dxmi *dx)
{
    return &dx->var;
}

const mf_reward_model *mf_dxmi_energy(const mf_dxmi *dx)
{
    return dx->energy;
}

const mf_reward_model *mf_dxmi_value(const mf_dxmi *dx)
{
    return dx->value;
}

const double *mf_dxmi_s2(const mf_dxmi *dx)
{
    return dx->s2;
}

/* A checkpoint's network has this run's shape and finite parameters. */
static bool same_net(const mf_reward_model *a, const mf_reward_model *b)
{
    if (a == NULL || a->kind != b->kind || a->D != b->D || a->n_hidden != b->n_hidden) {
        return false;
    }
    for (size_t i = 0; i < a->n_hidden; i++) {
        if (a->hidden[i] != b->hidden[i]) {
            return false;
        }
    }
    return mf_floats_finite(a->params, a->n_params);
}

mf_err mf_dxmi_restore(mf_dxmi *dx, size_t iters_done, const float *eps_params, const double *sigma,
                       const mf_reward_model *energy, const mf_reward_model *value,
                       const double *s2)
{
    if (dx == NULL || eps_params == NULL || sigma == NULL || s2 == NULL ||
        !mf_floats_finite(eps_params, dx->eps->n_params) || !same_net(energy, dx->energy) ||
        !same_net(value, dx->value)) {
        return MF_EINVAL;
    }
    for (size_t t = 0; t < dx->T; t++) {
        if (!(isfinite(sigma[t]) && sigma[t] > 0.0 && isfinite(s2[t]) && s2[t] > 0.0)) {
            return MF_EINVAL;
        }
    }
    memcpy(dx->eps->params, eps_params, dx->eps->n_params * sizeof(float));
    memcpy(dx->energy->params, energy->params, energy->n_params * sizeof(float));
    memcpy(dx->value->params, value->params, value->n_params * sizeof(float));
    for (size_t t = 0; t < dx->T; t++) {
        dx->var.sigma[t] = sigma[t];
        dx->log_sigma[t] = t + 1 < dx->T ? logf((float) sigma[t]) : 0.0f;
        dx->s2[t] = s2[t];
    }
    dx->iters = iters_done;
    reset_adam(dx);
    return MF_OK;
}
