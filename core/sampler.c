/* SPDX-License-Identifier: MIT */
/*
 * sampler.c - DDPM / DDIM / probability-flow ODE samplers (see sampler.h).
 *
 * DDIM step from t to the next grid time t' (ab = alpha_bar_t, ap = alpha_bar_t',
 * ap = 1 after the last step):
 *     x0    = (x - sqrt(1 - ab) eps) / sqrt(ab)
 *     sigma = eta sqrt((1 - ap)/(1 - ab)) sqrt(1 - ab/ap)
 *     x'    = sqrt(ap) x0 + sqrt(1 - ap - sigma^2) eps + sigma z
 * With eta = 1, sigma^2 is the DDPM posterior variance of q(x_t' | x_t, x0),
 * so this is ancestral sampling on the grid.
 *
 * ODE: with sigma = sqrt((1 - ab)/ab) and y = x/sqrt(ab), the probability-flow
 * ODE of the VP process is dy/dsigma = eps(x, t); DDIM with eta = 0 is its
 * Euler method.  Heun: y' = y + h (e1 + e2)/2, with e2 = eps at the Euler
 * prediction, h = sigma' - sigma.
 *
 * VAR (var_sched.h): T steps of the short chain, eps at the continuous index
 * tau_t, the chain's current sigma_t (also on the last step: 0.001 there).
 * The coefficients are rounded to float once per step, as the strided
 * samplers round theirs, so DxMI's training rollout (dxmi.c), which draws its
 * noise from the same streams, computes the same numbers.
 */
#include "sampler.h"

#include <math.h>
#include <string.h>

#include "mem.h"
#include "rng.h"

const char *const mf_precision_names[] = {"f32", "bf16", NULL};

const char *const mf_sampler_names[] = {"ddpm", "ddim", "ode", "var", NULL};

const char *mf_sampler_name(mf_sampler_kind kind)
{
    return (unsigned) kind <= MF_SAMPLER_VAR ? mf_sampler_names[kind] : "unknown";
}

mf_err mf_sampler_lookup(const char *name, mf_sampler_kind *ret)
{
    static const mf_sampler_kind kinds[] = {MF_SAMPLER_DDPM, MF_SAMPLER_DDIM, MF_SAMPLER_ODE,
                                            MF_SAMPLER_VAR};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (name != NULL && strcmp(name, mf_sampler_name(kinds[i])) == 0) {
            *ret = kinds[i];
            return MF_OK;
        }
    }
    return MF_ENOTFOUND;
}

long mf_sampler_grid_t(size_t T, size_t S, size_t i)
{
    if (S <= 1) {
        return (long) T - 1;
    }
    /* Descending: i = 0 -> T-1, i = S-1 -> 0. */
    double v = (double) (S - 1 - i) * (double) (T - 1) / (double) (S - 1);
    return (long) floor(v + 0.5);
}

size_t mf_sampler_n_evals(const mf_sampler_opts *o)
{
    if (o->kind == MF_SAMPLER_ODE) {
        return o->steps == 0 ? 0 : 2 * o->steps - 1;
    }
    return o->steps;
}

static int cancelled(const mf_sampler_opts *o)
{
    return o->cancel != NULL && atomic_load(o->cancel) != 0;
}

static void report(const mf_sampler_opts *o, size_t done, size_t total)
{
    if (o->progress != NULL) {
        o->progress(o->progress_ctx, done, total);
    }
}

size_t mf_sampler_segs_slice(const mf_sampler_opts *o, size_t r0, size_t rows, mf_sample_seg *out)
{
    if (o->segs == NULL) {
        out[0] = (mf_sample_seg){.rows = rows, .seed = o->seed, .first_index = o->first_index + r0};
        return 1;
    }
    size_t m = 0, start = 0;
    for (size_t i = 0; i < o->n_segs && rows > 0; i++) {
        size_t end = start + o->segs[i].rows;
        if (end > r0) {
            size_t skip = r0 > start ? r0 - start : 0;
            size_t take = o->segs[i].rows - skip < rows ? o->segs[i].rows - skip : rows;
            out[m++] = (mf_sample_seg){.rows = take,
                                       .seed = o->segs[i].seed,
                                       .first_index = o->segs[i].first_index + skip};
            r0 += take;
            rows -= take;
        }
        start = end;
    }
    return m;
}

/*
 * Normal variates for every row of the run: segment g's rows take numbers
 * first_index_g D, ... of a stream of its own seed: MF_SAMPLER_STREAM_INIT for
 * the start (init), (STREAM_STEP, k) for the noise added at step k.
 */
static void draw_normal(const mf_sample_seg *segs, size_t n_segs, size_t D, bool init, uint64_t k,
                        float *out)
{
    for (size_t g = 0; g < n_segs; g++) {
        mf_rng root = mf_rng_make(segs[g].seed);
        mf_rng r = init ? mf_rng_derive(root, MF_SAMPLER_STREAM_INIT)
                        : mf_rng_derive(mf_rng_derive(root, MF_SAMPLER_STREAM_STEP), k);
        mf_rng_normal(r, segs[g].first_index * D, out, segs[g].rows * D);
        out += segs[g].rows * D;
    }
}

/* The run's rows and noise, shared by the step loops below. */
typedef struct run {
    const mf_sample_seg *segs;
    size_t n_segs, n, D, total;
    float *e1, *aux, *e2; /* eps; noise or Heun's x-prediction; Heun's second eps */
} run;

/* DDPM, DDIM and the ODE on the strided grid of the schedule. */
static mf_err grid_steps(const mf_schedule *s, mf_eps_fn eps, const mf_sampler_opts *o,
                         const run *r, float *x)
{
    size_t total = r->total;
    float *e1 = r->e1, *aux = r->aux, *e2 = r->e2;
    float eta = o->kind == MF_SAMPLER_DDPM ? 1.0f : (o->kind == MF_SAMPLER_DDIM ? o->eta : 0.0f);
    size_t n_evals = mf_sampler_n_evals(o), done = 0;
    for (size_t k = 0; k < o->steps; k++) {
        if (cancelled(o)) {
            return MF_ECANCELED;
        }
        long t = mf_sampler_grid_t(s->T, o->steps, k);
        long tp = k + 1 < o->steps ? mf_sampler_grid_t(s->T, o->steps, k + 1) : -1;
        double ab = mf_schedule_alpha_bar(s, t), ap = mf_schedule_alpha_bar(s, tp);
        eps.eval(eps.ctx, x, r->n, (float) t, e1);
        done++;
        if (o->kind != MF_SAMPLER_ODE || tp < 0) {
            double sig = 0.0;
            if (eta > 0.0f && tp >= 0) {
                sig = (double) eta * sqrt((1.0 - ap) / (1.0 - ab)) * sqrt(1.0 - ab / ap);
                draw_normal(r->segs, r->n_segs, r->D, false, (uint64_t) k, aux);
            }
            float c_x = (float) sqrt(ap / ab);
            float c_e =
                (float) (sqrt(fmax(1.0 - ap - sig * sig, 0.0)) - sqrt(ap / ab) * sqrt(1.0 - ab));
            float c_z = (float) sig;
            for (size_t j = 0; j < total; j++) {
                x[j] = c_x * x[j] + c_e * e1[j] + (c_z != 0.0f ? c_z * aux[j] : 0.0f);
            }
        } else {
            /* Heun in (sigma, y): x = sqrt(ab) y, y' = y + h e. */
            double sg = sqrt((1.0 - ab) / ab), sp = sqrt((1.0 - ap) / ap);
            float h = (float) (sp - sg), in_s = (float) (1.0 / sqrt(ab)), out_s = (float) sqrt(ap);
            for (size_t j = 0; j < total; j++) {
                aux[j] = out_s * (in_s * x[j] + h * e1[j]);
            }
            eps.eval(eps.ctx, aux, r->n, (float) tp, e2);
            done++;
            for (size_t j = 0; j < total; j++) {
                x[j] = out_s * (in_s * x[j] + 0.5f * h * (e1[j] + e2[j]));
            }
        }
        report(o, done, n_evals);
    }
    return MF_OK;
}

/* The T steps of DxMI's short chain. */
static mf_err var_steps(mf_eps_fn eps, const mf_sampler_opts *o, const run *r, float *x)
{
    const mf_var_sched *v = o->var;
    for (size_t t = 0; t < v->T; t++) {
        if (cancelled(o)) {
            return MF_ECANCELED;
        }
        eps.eval(eps.ctx, x, r->n, (float) v->tau[t], r->e1);
        draw_normal(r->segs, r->n_segs, r->D, false, (uint64_t) t, r->aux);
        float c_x = (float) v->xmult[t], c_e = (float) v->cmult[t], c_z = (float) v->sigma[t];
        for (size_t j = 0; j < r->total; j++) {
            x[j] = c_x * x[j] + c_e * r->e1[j] + c_z * r->aux[j];
        }
        report(o, t + 1, v->T);
    }
    return MF_OK;
}

/* The options that do not depend on the rows. */
static bool opts_ok(const mf_schedule *s, const mf_sampler_opts *o)
{
    if (o->kind == MF_SAMPLER_VAR) {
        return o->var != NULL && o->var->T >= 1 && o->var->T <= MF_VAR_MAX_T &&
               o->steps == o->var->T;
    }
    return (unsigned) o->kind < MF_SAMPLER_VAR && s != NULL && o->steps >= 1 && o->steps <= s->T &&
           o->eta >= 0.0f && o->eta <= 1.0f;
}

mf_err mf_sample(const mf_schedule *s, mf_eps_fn eps, const mf_sampler_opts *o, float *x, size_t n,
                 size_t D)
{
    if (!opts_ok(s, o) || n == 0 || D == 0) {
        return MF_EINVAL;
    }
    run r = {.segs = o->segs, .n_segs = o->n_segs, .n = n, .D = D};
    mf_sample_seg one;
    if (r.segs == NULL) {
        one = (mf_sample_seg){.rows = n, .seed = o->seed, .first_index = o->first_index};
        r.segs = &one;
        r.n_segs = 1;
    } else {
        size_t sum = 0;
        for (size_t g = 0; g < r.n_segs && r.n_segs <= MF_SAMPLER_MAX_SEGS; g++) {
            sum += r.segs[g].rows;
        }
        if (r.n_segs == 0 || r.n_segs > MF_SAMPLER_MAX_SEGS || sum != n) {
            return MF_EINVAL;
        }
    }
    if (mf_size_mul(n, D, &r.total) != MF_OK) {
        return MF_ERANGE;
    }
    r.e1 = mf_alloc_floats(r.total);
    r.aux = mf_alloc_floats(r.total);
    r.e2 = o->kind == MF_SAMPLER_ODE ? mf_alloc_floats(r.total) : NULL;
    mf_err err = MF_ENOMEM;
    if (r.e1 != NULL && r.aux != NULL && (o->kind != MF_SAMPLER_ODE || r.e2 != NULL)) {
        draw_normal(r.segs, r.n_segs, D, true, 0, x);
        err = o->kind == MF_SAMPLER_VAR ? var_steps(eps, o, &r, x) : grid_steps(s, eps, o, &r, x);
    }
    mf_free_aligned(r.e1);
    mf_free_aligned(r.aux);
    mf_free_aligned(r.e2);
    return err;
}

void mf_mlp_eps_eval(void *ctx, const float *x, size_t n, float t, float *out)
{
    const mf_mlp_eps_ctx *c = ctx;
    size_t D = c->net->cfg.data_dim, C = c->net->cfg.cond_dim;
    size_t chunk = mf_mlp_ws_max_batch(c->ws);
    for (size_t r = 0; r < n; r += chunk) {
        size_t m = n - r < chunk ? n - r : chunk;
        mf_mlp_forward_shared_t(c->net, c->ws, x + r * D, t, c->c != NULL ? c->c + r * C : NULL, m,
                                out + r * D);
    }
}
