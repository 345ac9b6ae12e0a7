/* SPDX-License-Identifier: MIT */
/* sample_batch.c - sampling calls, their batching key, queue and batched run (see sample_batch.h).
 */
#include "sample_batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_json.h"
#include "bf16_net.h"
#include "clock.h"
#include "evaluate.h"
#include "log.h"
#include "mem.h"
#include "model_dxmi.h"
#include "sampler.h"
#include "steer.h"

#define DEFAULT_STEPS_FAST 100 /* default steps of ddim and ode */

mf_sample_call *mf_sample_call_new(void)
{
    mf_sample_call *c = calloc(1, sizeof *c);
    if (c != NULL) {
        atomic_init(&c->refs, 1);
        atomic_init(&c->cancel, 0);
    }
    return c;
}

void mf_sample_call_release(mf_sample_call *c, mf_registry *reg)
{
    if (c == NULL || atomic_fetch_sub(&c->refs, 1) != 1) {
        return;
    }
    mf_registry_release(reg, c->model);
    mf_free_aligned(c->x);
    mf_free_aligned(c->cond);
    mf_free_aligned(c->target);
    free(c);
}

mf_sampler_opts mf_sample_opts(const mf_sample_req *req, const mf_model *m)
{
    const mf_model_dxmi *dx = mf_model_get_dxmi(m);
    bool var = req->sampler == MF_SAMPLER_VAR && dx != NULL && dx->has_var;
    return (mf_sampler_opts){.kind = req->sampler,
                             .precision = req->precision,
                             .bf16 = m->bf16,
                             .steps = req->steps,
                             .eta = (float) req->eta,
                             .var = var ? &dx->var : NULL};
}

/* The sampler of req on m: the model's own when none is given; var only where it exists,
 * unsteered, with the chain's steps. */
static mf_err resolve_sampler(mf_sample_req *req, const mf_model *m, const char *prefix, mf_diag *d)
{
    const mf_model_dxmi *dx = mf_model_get_dxmi(m);
    bool has_var = dx != NULL && dx->has_var;
    bool steered =
        req->has_target || req->n_condition > 0 || req->has_guidance || m->net->cfg.cond_dim > 0;
    char field[64];
    if (!req->has_sampler) {
        req->sampler = has_var && !steered ? MF_SAMPLER_VAR : MF_SAMPLER_DDPM;
        req->has_sampler = true;
    }
    if (req->sampler != MF_SAMPLER_VAR) {
        return MF_OK;
    }
    snprintf(field, sizeof field, "%s/sampler", prefix);
    if (!has_var) {
        return mf_diag_setc(d, MF_ERANGE, "impossible", field,
                            "model %s has no few-step sampler: \"var\" samples a finetune.dxmi "
                            "result (use ddpm, ddim or ode)",
                            req->model);
    }
    if (steered) {
        return mf_diag_setc(d, MF_ERANGE, "impossible", field,
                            "the var sampler takes no condition, target or guidance");
    }
    if (req->steps == 0) {
        req->steps = dx->var.T;
    } else if (req->steps != dx->var.T) {
        snprintf(field, sizeof field, "%s/steps", prefix);
        return mf_diag_setc(d, MF_ERANGE, "impossible", field,
                            "the var sampler of model %s takes exactly its %zu steps, not %zu "
                            "(name another \"sampler\" for other steps)",
                            req->model, dx->var.T, req->steps);
    }
    return MF_OK;
}

mf_err mf_sample_resolve(mf_sample_req *req, const mf_model *m, const mf_req_limits *lim,
                         uint64_t seed_if_none, const char *prefix, mf_diag *d)
{
    size_t T = m->sched.T;
    char field[64];
    mf_err err = mf_steer_resolve(req, m, prefix, d);
    if (err == MF_OK) {
        err = resolve_sampler(req, m, prefix, d);
    }
    if (err != MF_OK) {
        return err;
    }
    if (req->steps == 0) {
        req->steps =
            req->sampler == MF_SAMPLER_DDPM ? T : (T < DEFAULT_STEPS_FAST ? T : DEFAULT_STEPS_FAST);
    }
    if (req->steps > T) {
        snprintf(field, sizeof field, "%s/steps", prefix);
        return mf_diag_setc(d, MF_ERANGE, "impossible", field,
                            "steps %zu exceeds the model's %zu diffusion steps", req->steps, T);
    }
    mf_sampler_opts o = mf_sample_opts(req, m);
    /* budget: rows x network evaluations (two per step with guidance) x 2 flops per parameter */
    double flops = (double) req->n * (double) mf_sampler_n_evals(&o) *
                   (double) mf_steer_evals_per_step(req) * 2.0 * (double) m->net->n_params;
    double max_flops = (double) lim->max_n * 1000.0 * 2.0 * 150000.0; /* W1-sized x 10 */
    if (flops > max_flops) {
        snprintf(field, sizeof field, "%s/n", prefix);
        return mf_diag_setc(d, MF_ERANGE, "impossible", field,
                            "the request needs %.3g GFLOP, over the limit of %.3g GFLOP per "
                            "request: lower n or steps",
                            flops / 1e9, max_flops / 1e9);
    }
    if (!req->has_seed) {
        req->seed = seed_if_none;
        req->has_seed = true;
    }
    /* the precision asked (or the daemon's default), and what core will run */
    if (!req->has_precision) {
        req->precision = (mf_precision) lim->default_precision;
        req->has_precision = true;
    }
    bool steered =
        req->has_target || req->n_condition > 0 || req->has_guidance || m->net->cfg.cond_dim > 0;
    req->precision_asked = req->precision;
    req->precision = mf_precision_effective(m->net, req->precision, steered, NULL);
    return MF_OK;
}

/* ---- batching --------------------------------------------------------------------- */

mf_err mf_sample_call_rows(mf_sample_call *c)
{
    return mf_steer_rows(&c->req, c->model->model, &c->cond, &c->target);
}

mf_sample_key mf_sample_call_key(const mf_sample_call *c)
{
    /* The condition and the target are row inputs: calls with different ones batch
     * together; the guidance is one for the whole run. */
    return (mf_sample_key){.model = c->model,
                           .sampler = c->req.sampler,
                           .steps = c->req.steps,
                           .eta = c->req.eta,
                           .precision = c->req.precision,
                           .guidance = c->req.has_guidance ? c->req.guidance : MF_GUIDE_COND,
                           .w = c->req.has_guidance ? c->req.guidance_w : 0.0};
}

bool mf_sample_key_equal(const mf_sample_key *a, const mf_sample_key *b)
{
    return a->model == b->model && a->sampler == b->sampler && a->steps == b->steps &&
           a->eta == b->eta && a->precision == b->precision && a->guidance == b->guidance &&
           a->w == b->w;
}

/*
 * The finish tag slot of client id: its own, else a free one, else the one
 * with the smallest finish tag (a client whose calls all ran has F <= V and
 * is the same as a new one, so forgetting it changes nothing).
 */
static double *client_finish(mf_sample_queue *q, const char *id)
{
    size_t victim = 0;
    for (size_t i = 0; i < q->n_clients; i++) {
        if (strcmp(q->clients[i].id, id) == 0) {
            return &q->clients[i].finish;
        }
        victim = q->clients[i].finish < q->clients[victim].finish ? i : victim;
    }
    size_t k = q->n_clients < MF_SAMPLE_FAIR_CLIENTS ? q->n_clients++ : victim;
    snprintf(q->clients[k].id, sizeof q->clients[k].id, "%s", id);
    q->clients[k].finish = q->vtime;
    return &q->clients[k].finish;
}

void mf_sample_queue_push(mf_sample_queue *q, mf_sample_call *c)
{
    double *finish = client_finish(q, c->client);
    double cost = (double) c->req.n * (double) (c->req.steps > 0 ? c->req.steps : 1) *
                  (double) (c->model != NULL ? c->model->model->net->n_params : 1);
    c->start_tag = *finish > q->vtime ? *finish : q->vtime;
    *finish = c->start_tag + cost;
    atomic_fetch_add(&c->refs, 1);
    c->next = NULL;
    if (q->tail != NULL) {
        q->tail->next = c;
    } else {
        q->head = c;
    }
    q->tail = c;
    q->n++;
}

mf_sample_call *mf_sample_queue_take(mf_sample_queue *q, size_t max_rows)
{
    /* the next call by fair queueing; the first of equal tags, so FIFO among equals */
    mf_sample_call **first = &q->head;
    for (mf_sample_call **pp = &q->head; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->start_tag < (*first)->start_tag) {
            first = pp;
        }
    }
    mf_sample_call *head = *first, **link = &head->next;
    *first = head->next;
    head->next = NULL;
    q->vtime = head->start_tag;
    mf_sample_key key = mf_sample_call_key(head);
    size_t rows = head->req.n, n = 1;
    mf_sample_call **pp = &q->head;
    while (*pp != NULL && n < MF_SAMPLER_MAX_SEGS) {
        mf_sample_call *c = *pp;
        mf_sample_key ck = mf_sample_call_key(c);
        if (mf_sample_key_equal(&key, &ck) && rows + c->req.n <= max_rows) {
            *pp = c->next;
            c->next = NULL;
            *link = c;
            link = &c->next;
            rows += c->req.n;
            n++;
        } else {
            pp = &c->next;
        }
    }
    /* the calls left behind keep their order; find the new tail */
    q->tail = NULL;
    for (mf_sample_call *c = q->head; c != NULL; c = c->next) {
        q->tail = c;
    }
    q->n -= n;
    return head;
}

/* ---- running --------------------------------------------------------------------- */

/* A batched run: its calls, and the stop flag the sampler polls every step. */
typedef struct batch_run {
    const mf_sample_batch_env *env;
    mf_sample_call *head;
    atomic_int stop;
} batch_run;

/*
 * Stop when draining ran out of time (abort_all) or when every call of the
 * batch was cancelled (their clients went away): nobody wants the rows.  One
 * cancelled call among live ones cannot stop its segment alone, so it runs on.
 */
static bool batch_should_stop(batch_run *b)
{
    if (atomic_load(b->env->abort_all) != 0) {
        return true;
    }
    for (mf_sample_call *c = b->head; c != NULL; c = c->next) {
        if (atomic_load(&c->cancel) == 0) {
            return false;
        }
    }
    return true;
}

/* The sampler's network evaluations (done of total, the same for every row of the batch)
 * as each call's rows: its n times the share of the steps run. */
static void batch_progress(void *ctx, size_t done, size_t total)
{
    batch_run *b = ctx;
    for (mf_sample_call *c = b->head; c != NULL; c = c->next) {
        if (c->progress != NULL) {
            size_t rows = total > 0 ? c->req.n * done / total : 0;
            c->progress(c, rows, c->req.n, MF_PHASE_SAMPLING);
        }
    }
    if (batch_should_stop(b)) {
        atomic_store(&b->stop, 1);
    }
}

/* The metrics of a call's samples against its model's data set, or why there are none. */
static void call_metrics(mf_sample_call *c, const mf_model *m)
{
    mf_diag d = {0};
    if (mf_eval_metrics(m, NULL, c->x, c->req.n, NULL, 0, &c->metrics, &d) == MF_OK) {
        c->has_metrics = true;
    } else {
        snprintf(c->metrics_skipped, sizeof c->metrics_skipped, "%s", d.msg);
    }
}

/* The condition and target rows of every call of a batch, one after the other (NULL when
 * its model takes none). */
static mf_err gather_rows(const mf_sample_call *head, size_t rows, float **ret_cond,
                          float **ret_target)
{
    size_t C = head->model->model->net->cfg.cond_dim, r = 0;
    float *cond = head->cond != NULL ? mf_alloc_floats(rows * C) : NULL;
    float *target = head->target != NULL ? mf_alloc_floats(rows) : NULL;
    if ((head->cond != NULL && cond == NULL) || (head->target != NULL && target == NULL)) {
        mf_free_aligned(cond);
        mf_free_aligned(target);
        return MF_ENOMEM;
    }
    for (const mf_sample_call *c = head; c != NULL; c = c->next) {
        if (cond != NULL) {
            memcpy(cond + r * C, c->cond, c->req.n * C * sizeof(float));
        }
        if (target != NULL) {
            memcpy(target + r, c->target, c->req.n * sizeof(float));
        }
        r += c->req.n;
    }
    *ret_cond = cond;
    *ret_target = target;
    return MF_OK;
}

void mf_sample_batch_run(const mf_sample_batch_env *env, mf_sample_call *head)
{
    const mf_model *m = head->model->model;
    size_t D = m->net->cfg.data_dim, rows = 0, n_calls = 0;
    mf_sample_seg segs[MF_SAMPLER_MAX_SEGS];
    double t0 = mf_mono_s();
    for (mf_sample_call *c = head; c != NULL; c = c->next) {
        segs[n_calls++] = (mf_sample_seg){.rows = c->req.n, .seed = c->req.seed, .first_index = 0};
        rows += c->req.n;
        c->started_at = t0;
    }
    batch_run b = {.env = env, .head = head};
    atomic_init(&b.stop, batch_should_stop(&b) ? 1 : 0);
    float *x = mf_alloc_floats(rows * D), *cond = NULL, *target = NULL;
    mf_err err = x == NULL ? MF_ENOMEM : gather_rows(head, rows, &cond, &target);
    if (err == MF_OK) {
        mf_guide g = mf_steer_guide(&head->req, m, cond, target);
        mf_sampler_opts o = mf_sample_opts(&head->req, m);
        o.segs = segs;
        o.n_segs = n_calls;
        o.cancel = &b.stop;
        o.progress = batch_progress;
        o.progress_ctx = &b;
        bool guided = cond != NULL || target != NULL;
        err = mf_par_sample_guided(env->team, m->net, &m->sched, &o, guided ? &g : NULL, x, rows);
    }
    size_t r = 0;
    mf_sample_call *c = head;
    while (c != NULL) {
        mf_sample_call *next = c->next;
        c->err = err;
        if (err == MF_OK) {
            c->x = mf_alloc_floats(c->req.n * D);
            if (c->x == NULL) {
                c->err = MF_ENOMEM;
            } else {
                memcpy(c->x, x + r * D, c->req.n * D * sizeof(float));
                mf_model_to_data(m, c->x, c->req.n * D);
                if (c->req.metrics) {
                    if (c->progress != NULL) {
                        c->progress(c, c->req.n, c->req.n, MF_PHASE_METRICS);
                    }
                    call_metrics(c, m);
                }
            }
        }
        if (c->err != MF_OK) {
            (void) mf_diag_setc(&c->diag, c->err, "internal", NULL, "sampling failed: %s",
                                mf_strerror(c->err));
        }
        r += c->req.n;
        c->finished_at = mf_mono_s();
        env->account(env->ctx, c);
        c->next = NULL;
        c->done(c);
        mf_sample_call_release(c, env->reg);
        c = next;
    }
    mf_log(MF_LOG_DEBUG, NULL, NULL, "batch: %zu calls, %zu rows, %.1f ms", n_calls, rows,
           1e3 * (mf_mono_s() - t0));
    mf_free_aligned(x);
    mf_free_aligned(cond);
    mf_free_aligned(target);
}
