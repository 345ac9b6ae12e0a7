/* SPDX-License-Identifier: MIT */
/*
 * scheduler.c - the scheduler (see scheduler.h).
 *
 * One mutex guards every queue and worker slot; the libuv loop thread does
 * the dispatching (on every uv_async wake-up and on a 1 s timer), HTTP threads
 * only append under the lock and wake it, workers only report back.  Store
 * writes (events, progress) happen on the worker that produces them; the
 * store serialises itself.
 */
#include "scheduler_impl.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "api_json.h"
#include "clock.h"
#include "dataset.h"
#include "log.h"
#include "mem.h"
#include "metrics_json.h"
#include "par.h"
#include "rng.h"
#include "sampler.h"
#include "train.h"

const double mf_sched_buckets[MF_SCHED_N_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                     0.1,   0.25,   0.5,   1.0,  5.0,   30.0};

#define SAMPLE_JOB_CHUNK   1024 /* rows per samples event of a sample job */
#define PROGRESS_EVERY_S   0.5  /* at most this often a progress event */
#define DEFAULT_STEPS_FAST 100  /* default steps of ddim and ode */

static void hist_add(mf_hist *h, double v)
{
    size_t b = 0;
    while (b < MF_SCHED_N_BUCKETS && v > mf_sched_buckets[b]) {
        b++;
    }
    h->counts[b]++;
    h->sum += v;
    h->count++;
}

mf_sched_cfg mf_sched_cfg_default(void)
{
    return (mf_sched_cfg){.workers = 1,
                          .team = 2,
                          .max_queue = 256,
                          .max_pending_samples = 1024,
                          .max_running_jobs = 2,
                          .max_batch_rows = 4096,
                          .slice_seconds = 0.2,
                          .max_attempts = 2,
                          .result_ttl = 24 * 3600.0,
                          .limits = mf_req_limits_default()};
}

/* A moving average over about the last 8 values (the first value starts it). */
static double moving_avg(double avg, double v)
{
    return avg <= 0.0 ? v : avg + (v - avg) / 8.0;
}

/* ---- events ---------------------------------------------------------------------- */

static void notify(mf_sched *s, const char *id)
{
    /* The hook is set once the HTTP server exists, while recovered jobs may already run. */
    uv_mutex_lock(&s->lock);
    void (*fn)(void *, const char *) = s->event_hook;
    void *ctx = s->event_ctx;
    uv_mutex_unlock(&s->lock);
    if (fn != NULL) {
        fn(ctx, id);
    }
}

/* Appends an event (data: a JSON value, taken) and wakes the streams. */
void sched_append_event(mf_sched *s, const char *id, const char *name, json_t *data)
{
    char *text = mf_json_take_dump(data);
    if (text == NULL) {
        mf_log(MF_LOG_ERROR, NULL, id, "out of memory for a %s event", name);
        return;
    }
    mf_err err = mf_store_event_append(s->store, id, name, text, NULL);
    free(text);
    if (err != MF_OK && err != MF_EBUSY) {
        mf_log(MF_LOG_ERROR, NULL, id, "cannot store a %s event: %s", name, mf_strerror(err));
    }
    notify(s, id);
}

/*
 * Moves job j to a final state, with the final status event carrying the job
 * object (with the result when it is small, e.g. the model a train job made;
 * a sample job's rows went out as samples events and GET .../result has them).
 */
void sched_finish_job(mf_sched *s, job *j, mf_job_state st, const char *result,
                      const char *error, const char *metrics)
{
    double t = mf_wall_s();
    mf_job_view v = {.id = j->id,
                     .type = mf_job_kind_name(j->req.kind),
                     .model = j->req.model,
                     .state = mf_job_state_name(st),
                     .params = j->req.params_json,
                     .result = result,
                     .error = error,
                     .metrics = metrics,
                     .done = j->done,
                     .total = j->total,
                     .created_at = j->created_at,
                     .started_at = j->started ? j->started_at : 0,
                     .finished_at = t,
                     .queue_position = -1};
    json_t *jo = mf_json_job(&v);
    char *ev = mf_json_take_dump(mf_json_event_status(j->id, mf_job_state_name(st), jo));
    json_decref(jo);
    if (j->started) {
        /* the last progress, so a cancelled job shows where it stopped */
        (void) !mf_store_job_progress(s->store, j->id, j->done, j->total);
    }
    mf_err err = mf_store_job_finish(s->store, j->id, st, result, error, ev != NULL ? ev : "{}", t);
    free(ev);
    if (err != MF_OK && err != MF_EBUSY) {
        mf_log(MF_LOG_ERROR, NULL, j->id, "cannot store the final state: %s", mf_strerror(err));
    }
    uv_mutex_lock(&s->lock);
    s->stats.jobs_finished[st]++;
    if (j->started) {
        hist_add(&s->stats.run_time, mf_mono_s() - j->queued_mono);
        s->job_s_avg = moving_avg(s->job_s_avg, mf_mono_s() - j->queued_mono);
    }
    uv_mutex_unlock(&s->lock);
    mf_log(MF_LOG_INFO, NULL, j->id, "job %s", mf_job_state_name(st));
    notify(s, j->id);
}

static void job_free(mf_sched *s, job *j)
{
    if (j == NULL) {
        return;
    }
    free(j->req.params_json);
    mf_registry_release(s->reg, j->model);
    mf_free_aligned(j->x);
    mf_trainer_free(j->tr);
    mf_model_free(j->tmodel);
    mf_free_aligned(j->batch);
    smeme_job_free(j);
    free(j);
}

/* ---- sampling calls ---------------------------------------------------------- */

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
    free(c);
}

static uint64_t fresh_seed(mf_sched *s)
{
    uint32_t b[4];
    uv_mutex_lock(&s->lock);
    mf_rng_block(s->id_rng, s->id_counter++, b);
    uv_mutex_unlock(&s->lock);
    return (((uint64_t) b[0] << 32) | b[1]) & ((UINT64_C(1) << 53) - 1);
}

mf_err mf_sched_resolve(const mf_sched *s, mf_sample_req *req, const mf_model *m,
                        const char *prefix, char *msg, size_t msg_len, char *field,
                        size_t field_len)
{
    size_t T = m->sched.T;
    if (m->net->cfg.cond_dim != 0) {
        snprintf(field, field_len, "%s/model", prefix);
        snprintf(msg, msg_len, "model %s is conditional; this build samples unconditional models only",
                 req->model);
        return MF_ERANGE;
    }
    if (req->steps == 0) {
        req->steps = req->sampler == MF_SAMPLER_DDPM ? T : (T < DEFAULT_STEPS_FAST ? T : DEFAULT_STEPS_FAST);
    }
    if (req->steps > T) {
        snprintf(field, field_len, "%s/steps", prefix);
        snprintf(msg, msg_len, "steps %zu exceeds the model's %zu diffusion steps", req->steps, T);
        return MF_ERANGE;
    }
    mf_sampler_opts o = {.kind = req->sampler, .steps = req->steps};
    /* budget: rows x network evaluations x 2 flops per parameter */
    double flops = (double) req->n * (double) mf_sampler_n_evals(&o) * 2.0 *
                   (double) m->net->n_params;
    double max_flops = s->cfg.limits.max_n * 1000.0 * 2.0 * 150000.0; /* W1-sized x 10 */
    if (flops > max_flops) {
        snprintf(field, field_len, "%s/n", prefix);
        snprintf(msg, msg_len,
                 "the request needs %.3g GFLOP, over the limit of %.3g GFLOP per request: "
                 "lower n or steps",
                 flops / 1e9, max_flops / 1e9);
        return MF_ERANGE;
    }
    if (!req->has_seed) {
        req->seed = fresh_seed((mf_sched *) s);
        req->has_seed = true;
    }
    return MF_OK;
}

mf_err mf_sched_sample(mf_sched *s, mf_sample_call *c)
{
    uv_mutex_lock(&s->lock);
    mf_err err = MF_OK;
    if (s->draining) {
        err = MF_ECANCELED;
    } else if (s->n_pending >= s->cfg.max_pending_samples) {
        err = MF_EBUSY;
    } else {
        atomic_fetch_add(&c->refs, 1);
        c->queued_at = mf_mono_s();
        c->next = NULL;
        if (s->pending_tail != NULL) {
            s->pending_tail->next = c;
        } else {
            s->pending = c;
        }
        s->pending_tail = c;
        s->n_pending++;
    }
    uv_mutex_unlock(&s->lock);
    if (err == MF_OK) {
        uv_async_send(&s->wake);
    }
    return err;
}

/* A batched run: its calls, and the stop flag the sampler polls every step. */
typedef struct batch_run {
    mf_sched *s;
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
    if (atomic_load(&b->s->abort_all) != 0) {
        return true;
    }
    for (mf_sample_call *c = b->head; c != NULL; c = c->next) {
        if (atomic_load(&c->cancel) == 0) {
            return false;
        }
    }
    return true;
}

static void batch_progress(void *ctx, size_t done, size_t total)
{
    batch_run *b = ctx;
    for (mf_sample_call *c = b->head; c != NULL; c = c->next) {
        if (c->progress != NULL) {
            c->progress(c, done, total);
        }
    }
    if (batch_should_stop(b)) {
        atomic_store(&b->stop, 1);
    }
}

/* Metrics of a call's samples (data space); skipped with a reason when too few. */
static void call_metrics(mf_sample_call *c, const mf_model *m)
{
    size_t D = m->net->cfg.data_dim;
    mf_metrics_opts mo;
    mf_metrics_opts_default(&mo, D);
    if (c->req.n <= mo.knn_k) {
        snprintf(c->metrics_skipped, sizeof c->metrics_skipped,
                 "metrics need more than %zu samples", mo.knn_k);
        return;
    }
    mf_dataset_id id = MF_DATASET_COUNT;
    const char *ds = mf_model_get_meta(m, "dataset");
    if (ds == NULL || mf_dataset_lookup(ds, &id) != MF_OK || mf_dataset_dim(id) != D) {
        id = MF_DATASET_COUNT;
    }
    mf_err err = mf_metrics_compute(&mo, id, c->x, c->req.n, D, NULL, 0, &c->metrics);
    if (err == MF_OK) {
        c->has_metrics = true;
    } else {
        snprintf(c->metrics_skipped, sizeof c->metrics_skipped, "metrics failed: %s",
                 mf_strerror(err));
    }
}

/* Runs a batch of compatible calls as one segmented sampler run. */
static void run_batch(worker *w, mf_sample_call *head)
{
    mf_sched *s = w->s;
    const mf_model *m = head->model->model;
    size_t D = m->net->cfg.data_dim, rows = 0, n_calls = 0;
    mf_sample_seg segs[MF_SAMPLER_MAX_SEGS];
    double t0 = mf_mono_s();
    for (mf_sample_call *c = head; c != NULL; c = c->next) {
        segs[n_calls++] = (mf_sample_seg){.rows = c->req.n, .seed = c->req.seed, .first_index = 0};
        rows += c->req.n;
        c->started_at = t0;
    }
    batch_run b = {.s = s, .head = head};
    atomic_init(&b.stop, batch_should_stop(&b) ? 1 : 0);
    float *x = mf_alloc_floats(rows * D);
    mf_err err = x == NULL ? MF_ENOMEM : MF_OK;
    if (err == MF_OK) {
        mf_sampler_opts o = {.kind = head->req.sampler,
                             .steps = head->req.steps,
                             .eta = (float) head->req.eta,
                             .segs = segs,
                             .n_segs = n_calls,
                             .cancel = &b.stop,
                             .progress = batch_progress,
                             .progress_ctx = &b};
        err = mf_par_sample(w->team, m->net, &m->sched, &o, x, rows);
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
                    call_metrics(c, m);
                }
            }
        }
        if (c->err != MF_OK) {
            snprintf(c->err_msg, sizeof c->err_msg, "sampling failed: %s", mf_strerror(c->err));
        }
        r += c->req.n;
        c->finished_at = mf_mono_s();
        uv_mutex_lock(&s->lock);
        hist_add(&s->stats.queue_wait, c->started_at - c->queued_at);
        hist_add(&s->stats.run_time, c->finished_at - c->queued_at);
        s->stats.samples_total += c->err == MF_OK ? c->req.n : 0;
        s->stats.sample_calls_total++;
        uv_mutex_unlock(&s->lock);
        c->next = NULL;
        c->done(c);
        mf_sample_call_release(c, s->reg);
        c = next;
    }
    mf_log(MF_LOG_DEBUG, NULL, NULL, "batch: %zu calls, %zu rows, %.1f ms", n_calls, rows,
           1e3 * (mf_mono_s() - t0));
    uv_mutex_lock(&s->lock);
    s->batch_s_avg = moving_avg(s->batch_s_avg, mf_mono_s() - t0);
    s->stats.batches_total++;
    s->stats.batched_calls_total += n_calls;
    uv_mutex_unlock(&s->lock);
    mf_free_aligned(x);
}

/* ---- job slices ------------------------------------------------------------- */

void sched_progress_event(mf_sched *s, job *j, const char *phase, bool force)
{
    double t = mf_mono_s();
    if (!force && t - j->last_progress < PROGRESS_EVERY_S) {
        return;
    }
    j->last_progress = t;
    mf_err pe = mf_store_job_progress(s->store, j->id, j->done, j->total);
    if (pe != MF_OK && pe != MF_EBUSY) {
        mf_log(MF_LOG_WARN, NULL, j->id, "cannot store the progress: %s", mf_strerror(pe));
    }
    sched_append_event(s, j->id, "progress", mf_json_event_progress(j->id, j->done, j->total, phase));
}

/* Fails job j: message = what ": " strerror(err). */
void sched_fail_job(mf_sched *s, job *j, const char *code, const char *what, mf_err err)
{
    char msg[256];
    snprintf(msg, sizeof msg, "%s: %s", what, mf_strerror(err));
    char *e = mf_json_job_error(code, msg);
    sched_finish_job(s, j, MF_JOB_FAILED, NULL, e, NULL);
    free(e);
}

void sched_cancel_job(mf_sched *s, job *j, const char *metrics, const char *message)
{
    char *e = mf_json_job_error("cancelled", message != NULL ? message : "cancelled by request");
    sched_finish_job(s, j, MF_JOB_CANCELLED, NULL, e, metrics);
    free(e);
}

/* One slice of a sample job: chunks of rows until the deadline.  true: more to do. */
static bool slice_sample(worker *w, job *j, double deadline)
{
    mf_sched *s = w->s;
    const mf_sample_req *q = &j->req.p.sample;
    const mf_model *m = j->model->model;
    size_t D = m->net->cfg.data_dim;
    if (j->x == NULL) {
        j->x = mf_alloc_floats(q->n * D);
        j->total = q->n;
        if (j->x == NULL) {
            sched_fail_job(s, j, "internal", "cannot allocate the samples", MF_ENOMEM);
            return false;
        }
    }
    while (j->next_row < q->n) {
        size_t r0 = j->next_row, rows = q->n - r0 < SAMPLE_JOB_CHUNK ? q->n - r0 : SAMPLE_JOB_CHUNK;
        mf_sampler_opts o = {.kind = q->sampler,
                             .steps = q->steps,
                             .eta = (float) q->eta,
                             .seed = q->seed,
                             .first_index = r0,
                             .cancel = &j->cancel};
        mf_err err = mf_par_sample(w->team, m->net, &m->sched, &o, j->x + r0 * D, rows);
        if (err == MF_ECANCELED || atomic_load(&j->cancel) != 0) {
            sched_cancel_job(s, j, NULL, NULL);
            return false;
        }
        if (err != MF_OK) {
            sched_fail_job(s, j, "internal", "sampling failed", err);
            return false;
        }
        mf_model_to_data(m, j->x + r0 * D, rows * D);
        j->next_row += rows;
        j->done = j->next_row;
        sched_append_event(s, j->id, "samples", mf_json_event_samples(j->id, r0, j->x + r0 * D, rows, D));
        sched_progress_event(s, j, "sampling", true);
        if (mf_mono_s() > deadline && j->next_row < q->n) {
            return true;
        }
    }
    mf_sample_call c = {.req = *q, .x = j->x};
    json_t *mj = NULL;
    if (q->metrics) {
        call_metrics(&c, m);
        if (c.has_metrics) {
            mj = mf_json_metrics(&c.metrics);
            sched_append_event(s, j->id, "metrics", json_incref(mj));
        }
    }
    mf_sample_view v = {.model = j->req.model,
                        .sampler = mf_sampler_name(q->sampler),
                        .n = q->n,
                        .steps = q->steps,
                        .eta = q->eta,
                        .seed = q->seed,
                        .x = j->x,
                        .D = D,
                        .metrics = mj,
                        .metrics_skipped = c.metrics_skipped[0] != '\0' ? c.metrics_skipped : NULL};
    char *result = mf_json_take_dump(mf_json_sample_result(&v));
    char *metrics = mj != NULL ? mf_json_take_dump(json_incref(mj)) : NULL;
    json_decref(mj);
    if (metrics != NULL) {
        mf_err me = mf_store_job_metrics(s->store, j->id, metrics);
        if (me != MF_OK) {
            mf_log(MF_LOG_WARN, NULL, j->id, "cannot store the metrics: %s", mf_strerror(me));
        }
    }
    uv_mutex_lock(&s->lock);
    s->stats.samples_total += q->n;
    uv_mutex_unlock(&s->lock);
    if (result == NULL) {
        sched_fail_job(s, j, "internal", "cannot encode the result", MF_ENOMEM);
    } else {
        sched_finish_job(s, j, MF_JOB_SUCCEEDED, result, NULL, metrics);
    }
    free(result);
    free(metrics);
    return false;
}

static mf_err train_init(job *j)
{
    const mf_train_req *q = &j->req.p.train;
    if (mf_dataset_lookup(q->dataset, &j->ds) != MF_OK) {
        return MF_EINVAL;
    }
    mf_mlp_config cfg = {.data_dim = (uint32_t) mf_dataset_dim(j->ds),
                         .emb_dim = (uint32_t) q->emb,
                         .n_hidden = (uint32_t) q->n_hidden};
    memcpy(cfg.hidden, q->hidden, q->n_hidden * sizeof cfg.hidden[0]);
    mf_diag d = {{0}, {0}};
    mf_err err = mf_model_new(&cfg, q->schedule, &j->tmodel, &d);
    if (err != MF_OK) {
        return err;
    }
    mf_mlp_init_params(j->tmodel->net, q->seed);
    mf_train_opts to = mf_train_opts_default();
    to.batch = q->batch;
    to.n_steps = q->steps;
    to.lr = (float) q->lr;
    to.lr_min = (float) q->lr_min;
    to.warmup = q->warmup;
    to.ema_decay = (float) q->ema;
    to.clip_grad = q->clip;
    to.seed = q->seed;
    err = mf_trainer_new(j->tmodel->net, &j->tmodel->sched, &to, &j->tr);
    if (err != MF_OK) {
        return err;
    }
    mf_dataset_norm(j->ds, &j->off, &j->sc);
    j->batch = mf_alloc_floats(q->batch * cfg.data_dim);
    j->total = q->steps;
    j->loss_avg = NAN;
    return j->batch == NULL ? MF_ENOMEM : MF_OK;
}

/* Saves the trained model (EMA weights) to the registry; writes its id into result. */
static mf_err train_save(mf_sched *s, job *j, char **result)
{
    const mf_train_req *q = &j->req.p.train;
    mf_model *m = j->tmodel;
    memcpy(m->net->params, mf_trainer_ema(j->tr)->params, m->net->n_params * sizeof(float));
    char out[2 * MF_ID_MAX], prov[160];
    if (q->out_model[0] != '\0') {
        snprintf(out, sizeof out, "%s", q->out_model);
    } else {
        /* "<dataset>-<job id>" (ids are at most 64 characters: else the job id alone) */
        int n = snprintf(out, sizeof out, "%s-%s", q->dataset, j->id);
        if (n < 0 || n > MF_ID_MAX) {
            snprintf(out, sizeof out, "%s", j->id);
        }
    }
    snprintf(prov, sizeof prov, "manifoldd train job %s", j->id);
    mf_diag d = {{0}, {0}};
    mf_err err = mf_model_set_normalisation(m, j->off, j->sc);
    if (err == MF_OK) {
        err = mf_model_set_meta(m, "dataset", q->dataset, &d);
    }
    if (err == MF_OK) {
        err = mf_model_set_meta(m, "parent", "", &d);
    }
    if (err == MF_OK) {
        err = mf_model_set_created(m, time(NULL), &d);
    }
    if (err == MF_OK) {
        err = mf_model_set_meta(m, "provenance", prov, &d);
    }
    if (err == MF_OK) {
        err = mf_model_set_meta(m, "dequantised", q->dequantise ? "true" : "false", &d);
    }
    if (err == MF_OK) {
        err = mf_registry_add(s->reg, out, m, &d);
    }
    if (err != MF_OK) {
        return err;
    }
    j->tmodel = NULL; /* the registry has it */
    *result = mf_json_train_result(out, j->step, j->loss_avg);
    return *result != NULL ? MF_OK : MF_ENOMEM;
}

static bool slice_train(worker *w, job *j, double deadline)
{
    mf_sched *s = w->s;
    const mf_train_req *q = &j->req.p.train;
    if (j->tr == NULL) {
        mf_err err = train_init(j);
        if (err != MF_OK) {
            sched_fail_job(s, j, "bad_params", "cannot set up training", err);
            return false;
        }
    }
    while (j->step < q->steps) {
        if (atomic_load(&j->cancel) != 0 || atomic_load(&s->abort_all) != 0) {
            sched_cancel_job(s, j, NULL, NULL);
            return false;
        }
        if (mf_dataset_train_batch(j->ds, q->seed, j->step, q->batch, q->dequantise, j->off, j->sc,
                                   j->batch) != MF_OK) {
            sched_fail_job(s, j, "internal", "data generation failed", MF_EINTERNAL);
            return false;
        }
        double loss;
        mf_par_train_step(w->team, j->tr, j->batch, NULL, &loss, NULL);
        if (!isfinite(loss)) {
            sched_fail_job(s, j, "diverged", "the loss is not finite; lower lr", MF_ERANGE);
            return false;
        }
        j->loss_avg = isnan(j->loss_avg) ? loss : 0.98 * j->loss_avg + 0.02 * loss;
        j->step++;
        j->done = j->step;
        sched_progress_event(s, j, "training", j->step == q->steps);
        if (mf_mono_s() > deadline && j->step < q->steps) {
            return true;
        }
    }
    char *result = NULL;
    mf_err err = train_save(s, j, &result);
    if (err != MF_OK) {
        sched_fail_job(s, j, "save_failed", "cannot save the trained model", err);
    } else {
        sched_finish_job(s, j, MF_JOB_SUCCEEDED, result, NULL, NULL);
    }
    free(result);
    return false;
}

/* A slice of job j; true when it wants another. */
static bool run_slice(worker *w, job *j)
{
    mf_sched *s = w->s;
    if (!j->started) {
        double t = mf_wall_s();
        mf_err err = mf_store_job_claim(s->store, j->id, t);
        if (err != MF_OK) {
            /* cancelled while queued (or claimed elsewhere): nothing to run */
            return false;
        }
        j->started = true;
        j->started_at = t;
        uv_mutex_lock(&s->lock);
        hist_add(&s->stats.queue_wait, mf_mono_s() - j->queued_mono);
        uv_mutex_unlock(&s->lock);
        sched_append_event(s, j->id, "status", mf_json_event_status(j->id, "running", NULL));
        mf_log(MF_LOG_INFO, NULL, j->id, "job running");
    }
    if (atomic_load(&j->cancel) != 0) {
        sched_cancel_job(s, j, NULL, NULL);
        return false;
    }
    double deadline = mf_mono_s() + s->cfg.slice_seconds;
    switch (j->req.kind) {
    case MF_JOB_KIND_SAMPLE:
        return slice_sample(w, j, deadline);
    case MF_JOB_KIND_TRAIN:
        return slice_train(w, j, deadline);
    case MF_JOB_KIND_FINETUNE_SMEME:
        return smeme_job_slice(s, w->team, j, deadline);
    }
    return false;
}

/* ---- workers and dispatch ---------------------------------------------------------- */

static void worker_main(void *arg)
{
    worker *w = arg;
    mf_sched *s = w->s;
    uv_mutex_lock(&s->lock);
    for (;;) {
        while (w->task == TASK_NONE && !s->stopping) {
            uv_cond_wait(&s->work_cv, &s->lock);
        }
        if (w->task == TASK_NONE && s->stopping) {
            break;
        }
        task_kind k = w->task;
        uv_mutex_unlock(&s->lock);
        double t0 = mf_mono_s();
        bool more = false;
        if (k == TASK_BATCH) {
            run_batch(w, w->batch);
        } else {
            more = run_slice(w, w->job);
        }
        double busy = mf_mono_s() - t0;
        uv_mutex_lock(&s->lock);
        s->stats.busy_seconds += busy;
        if (k == TASK_SLICE) {
            job *j = w->job;
            if (more) {
                j->next = NULL;
                if (s->paused_tail != NULL) {
                    s->paused_tail->next = j;
                } else {
                    s->paused = j;
                }
                s->paused_tail = j;
            } else {
                s->n_started -= j->started ? 1 : 0;
                uv_mutex_unlock(&s->lock);
                job_free(s, j);
                uv_mutex_lock(&s->lock);
            }
        }
        w->task = TASK_NONE;
        w->batch = NULL;
        w->job = NULL;
        uv_cond_broadcast(&s->idle_cv);
        uv_async_send(&s->wake);
    }
    uv_mutex_unlock(&s->lock);
}

/* Takes from pending the first call and every compatible one.  Lock held. */
static mf_sample_call *take_batch(mf_sched *s)
{
    mf_sample_call *head = s->pending, **link = &head->next;
    s->pending = head->next;
    head->next = NULL;
    size_t rows = head->req.n, n = 1;
    mf_sample_call **pp = &s->pending;
    while (*pp != NULL && n < MF_SAMPLER_MAX_SEGS) {
        mf_sample_call *c = *pp;
        bool same = c->model == head->model && c->req.sampler == head->req.sampler &&
                    c->req.steps == head->req.steps && c->req.eta == head->req.eta;
        if (same && rows + c->req.n <= s->cfg.max_batch_rows) {
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
    /* the calls left behind keep their order; find pending's new tail */
    s->pending_tail = NULL;
    for (mf_sample_call *c = s->pending; c != NULL; c = c->next) {
        s->pending_tail = c;
    }
    s->n_pending -= n;
    return head;
}

/* Lock held: gives every idle worker a task. */
static void dispatch(mf_sched *s)
{
    bool assigned = false;
    for (size_t i = 0; i < s->n_workers; i++) {
        worker *w = &s->workers[i];
        if (w->task != TASK_NONE) {
            continue;
        }
        if (s->pending != NULL) {
            w->batch = take_batch(s);
            w->task = TASK_BATCH;
            assigned = true;
        } else if (s->paused != NULL && !s->draining) {
            job *j = s->paused;
            s->paused = j->next;
            if (s->paused == NULL) {
                s->paused_tail = NULL;
            }
            w->job = j;
            w->task = TASK_SLICE;
            assigned = true;
        } else if (s->queued != NULL && !s->draining && s->n_started < s->cfg.max_running_jobs) {
            job *j = s->queued;
            s->queued = j->next;
            if (s->queued == NULL) {
                s->queued_tail = NULL;
            }
            s->n_queued--;
            s->n_started++;
            w->job = j;
            w->task = TASK_SLICE;
            assigned = true;
        }
    }
    if (assigned) {
        uv_cond_broadcast(&s->work_cv);
    }
}

static void on_wake(uv_async_t *a)
{
    mf_sched *s = a->data;
    uv_mutex_lock(&s->lock);
    if (s->stopping) {
        uv_mutex_unlock(&s->lock);
        uv_close((uv_handle_t *) &s->wake, NULL);
        uv_close((uv_handle_t *) &s->tick, NULL);
        return;
    }
    dispatch(s);
    uv_mutex_unlock(&s->lock);
}

static void on_tick(uv_timer_t *t)
{
    mf_sched *s = t->data;
    uv_mutex_lock(&s->lock);
    dispatch(s);
    uv_mutex_unlock(&s->lock);
    double now = mf_wall_s();
    if (now - s->last_expire > 60.0) {
        s->last_expire = now;
        size_t n = 0;
        if (mf_store_expire(s->store, now - s->cfg.result_ttl, &n) == MF_OK && n > 0) {
            mf_log(MF_LOG_INFO, NULL, NULL, "expired %zu finished jobs", n);
        }
    }
    uv_mutex_lock(&s->lock);
    void (*fn)(void *) = s->tick_hook;
    void *ctx = s->tick_ctx;
    uv_mutex_unlock(&s->lock);
    if (fn != NULL) {
        fn(ctx);
    }
}

static void loop_main(void *arg)
{
    mf_sched *s = arg;
    uv_run(&s->loop, UV_RUN_DEFAULT);
}

/* ---- jobs: submit, cancel, recovery ------------------------------------------------ */

static void make_job_id(mf_sched *s, char out[MF_ID_MAX + 1])
{
    uint32_t b[4];
    uv_mutex_lock(&s->lock);
    mf_rng_block(s->id_rng, s->id_counter++, b);
    uv_mutex_unlock(&s->lock);
    snprintf(out, MF_ID_MAX + 1, "job-%08x%08x", b[0], b[1]);
}

/* Checks a decoded job against the models; fills sample defaults.  Takes the model ref. */
static mf_err job_prepare(mf_sched *s, job *j, char *msg, size_t msg_len, char *field,
                          size_t field_len)
{
    if (j->req.kind == MF_JOB_KIND_TRAIN) {
        return MF_OK;
    }
    if (j->req.kind == MF_JOB_KIND_FINETUNE_SMEME) {
        return smeme_job_prepare(s, j, msg, msg_len, field, field_len);
    }
    j->model = mf_registry_get(s->reg, j->req.model);
    if (j->model == NULL) {
        snprintf(field, field_len, "/model");
        snprintf(msg, msg_len, "no model with id %s", j->req.model);
        return MF_ENOTFOUND;
    }
    snprintf(j->req.p.sample.model, sizeof j->req.p.sample.model, "%s", j->req.model);
    return mf_sched_resolve(s, &j->req.p.sample, j->model->model, "/params", msg, msg_len, field,
                            field_len);
}

static void enqueue(mf_sched *s, job *j)
{
    j->queued_mono = mf_mono_s();
    j->next = NULL;
    if (s->queued_tail != NULL) {
        s->queued_tail->next = j;
    } else {
        s->queued = j;
    }
    s->queued_tail = j;
    s->n_queued++;
}

mf_err mf_sched_submit(mf_sched *s, mf_job_req *req, char ret_id[MF_ID_MAX + 1], long *ret_pos,
                       char *msg, size_t msg_len, char *field, size_t field_len)
{
    uv_mutex_lock(&s->lock);
    bool full = s->n_queued >= s->cfg.max_queue, draining = s->draining;
    uv_mutex_unlock(&s->lock);
    if (draining) {
        return MF_ECANCELED;
    }
    if (full) {
        return MF_EBUSY;
    }
    job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        return MF_ENOMEM;
    }
    atomic_init(&j->cancel, 0);
    j->req = *req;
    j->req.params_json = NULL;
    mf_err err = job_prepare(s, j, msg, msg_len, field, field_len);
    if (err != MF_OK) {
        job_free(s, j);
        return err;
    }
    /* sample jobs store their params again with the resolved steps and seed */
    j->req.params_json = j->req.kind == MF_JOB_KIND_SAMPLE ? mf_req_sample_params_json(&j->req.p.sample)
                                                           : req->params_json;
    if (j->req.params_json == NULL) {
        job_free(s, j);
        return MF_ENOMEM;
    }
    make_job_id(s, j->id);
    j->created_at = mf_wall_s();
    mf_job_rec r = {.state = MF_JOB_QUEUED, .params = j->req.params_json, .created_at = j->created_at};
    memcpy(r.id, j->id, sizeof r.id);
    snprintf(r.type, sizeof r.type, "%s", mf_job_kind_name(j->req.kind));
    snprintf(r.model, sizeof r.model, "%s", j->req.model);
    char *ev = mf_json_take_dump(mf_json_event_status(j->id, "queued", NULL));
    err = ev == NULL ? MF_ENOMEM : mf_store_job_insert(s->store, &r, ev);
    free(ev);
    if (err != MF_OK) {
        if (j->req.params_json == req->params_json) {
            j->req.params_json = NULL; /* not taken on failure */
        }
        job_free(s, j);
        return err == MF_EBUSY ? MF_EIO : err;
    }
    if (j->req.params_json != req->params_json) {
        free(req->params_json);
    }
    req->params_json = NULL;
    uv_mutex_lock(&s->lock);
    long pos = (long) s->n_queued;
    enqueue(s, j);
    uv_mutex_unlock(&s->lock);
    uv_async_send(&s->wake);
    memcpy(ret_id, j->id, MF_ID_MAX + 1);
    *ret_pos = pos;
    mf_log(MF_LOG_INFO, NULL, ret_id, "job queued: %s", mf_job_kind_name(req->kind));
    return MF_OK;
}

static job *find_in(job *head, const char *id, job **prev)
{
    *prev = NULL;
    for (job *j = head; j != NULL; j = j->next) {
        if (strcmp(j->id, id) == 0) {
            return j;
        }
        *prev = j;
    }
    return NULL;
}

bool mf_sched_cancel_requested(mf_sched *s, const char *id)
{
    bool asked = false;
    uv_mutex_lock(&s->lock);
    for (job *p = s->paused; p != NULL && !asked; p = p->next) {
        asked = strcmp(p->id, id) == 0 && atomic_load(&p->cancel) != 0;
    }
    for (size_t i = 0; i < s->n_workers && !asked; i++) {
        job *wj = s->workers[i].job;
        asked = s->workers[i].task == TASK_SLICE && wj != NULL && strcmp(wj->id, id) == 0 &&
                atomic_load(&wj->cancel) != 0;
    }
    uv_mutex_unlock(&s->lock);
    return asked;
}

mf_err mf_sched_cancel(mf_sched *s, const char *id)
{
    uv_mutex_lock(&s->lock);
    job *prev, *j = find_in(s->queued, id, &prev);
    if (j != NULL) {
        /* queued: out of the queue now, finished here */
        if (prev != NULL) {
            prev->next = j->next;
        } else {
            s->queued = j->next;
        }
        if (s->queued_tail == j) {
            s->queued_tail = prev;
        }
        s->n_queued--;
        uv_mutex_unlock(&s->lock);
        sched_cancel_job(s, j, NULL, NULL);
        job_free(s, j);
        return MF_OK;
    }
    bool found = false;
    for (job *p = s->paused; p != NULL; p = p->next) {
        if (strcmp(p->id, id) == 0) {
            atomic_store(&p->cancel, 1);
            found = true;
        }
    }
    for (size_t i = 0; i < s->n_workers; i++) {
        job *wj = s->workers[i].job;
        if (s->workers[i].task == TASK_SLICE && wj != NULL && strcmp(wj->id, id) == 0) {
            atomic_store(&wj->cancel, 1);
            found = true;
        }
    }
    uv_mutex_unlock(&s->lock);
    if (found) {
        uv_async_send(&s->wake);
        return MF_OK;
    }
    mf_job_rec r;
    memset(&r, 0, sizeof r);
    mf_err err = mf_store_job_get(s->store, id, &r);
    if (err == MF_OK && !mf_job_state_final(r.state)) {
        /* In the store but not here: another replica owns it, or a restart is
         * re-queueing it.  Finish it as cancelled in the store. */
        char *e = mf_json_job_error("cancelled", "cancelled by request");
        char *ev = mf_json_take_dump(mf_json_event_status(id, "cancelled", NULL));
        mf_err fe = mf_store_job_finish(s->store, id, MF_JOB_CANCELLED, NULL, e,
                                        ev != NULL ? ev : "{}", mf_wall_s());
        if (fe != MF_OK && fe != MF_EBUSY) {
            mf_log(MF_LOG_ERROR, NULL, id, "cannot cancel in the store: %s", mf_strerror(fe));
        }
        free(e);
        free(ev);
        notify(s, id);
    }
    mf_job_rec_done(&r);
    return err;
}

long mf_sched_queue_position(mf_sched *s, const char *id)
{
    uv_mutex_lock(&s->lock);
    long pos = 0, found = -1;
    for (job *j = s->queued; j != NULL; j = j->next, pos++) {
        if (strcmp(j->id, id) == 0) {
            found = pos;
            break;
        }
    }
    uv_mutex_unlock(&s->lock);
    return found;
}

/* The status event a recovery appends to a job (mf_recover_event_fn). */
static char *recover_event(void *ctx, const char *job_id, const char *state)
{
    (void) ctx;
    return mf_json_take_dump(mf_json_event_status(job_id, state, NULL));
}

/* Jobs left by the previous process: running ones recovered, queued ones re-queued. */
static mf_err recover(mf_sched *s)
{
    char *fail_err = mf_json_job_error("server_restart",
                                "the server stopped while the job ran, too many times");
    size_t rq = 0, fl = 0;
    mf_err err = fail_err == NULL ? MF_ENOMEM
                                  : mf_store_recover(s->store, s->cfg.max_attempts, recover_event,
                                                     NULL, fail_err, mf_wall_s(), &rq, &fl);
    free(fail_err);
    if (err != MF_OK) {
        return err;
    }
    if (rq + fl > 0) {
        mf_log(MF_LOG_WARN, NULL, NULL, "restart: %zu interrupted jobs re-queued, %zu failed", rq,
               fl);
    }
    char (*ids)[MF_ID_MAX + 1] = NULL;
    size_t n = 0;
    err = mf_store_jobs_queued(s->store, &ids, &n);
    if (err != MF_OK) {
        return err;
    }
    for (size_t i = 0; i < n; i++) {
        mf_job_rec r;
        memset(&r, 0, sizeof r);
        if (mf_store_job_get(s->store, ids[i], &r) != MF_OK) {
            continue;
        }
        job *j = calloc(1, sizeof *j);
        mf_job_kind kind = MF_JOB_KIND_SAMPLE;
        (void) !mf_job_kind_lookup(r.type, &kind); /* an unknown type fails to decode below */
        mf_req_error re;
        char msg[512] = "", field[128] = "";
        bool ok = j != NULL && mf_req_decode_job_params(kind, r.model, r.params != NULL ? r.params : "{}",
                                                        &s->cfg.limits, &j->req, &re) == MF_REQ_OK;
        if (j != NULL) {
            atomic_init(&j->cancel, 0);
            memcpy(j->id, r.id, sizeof j->id);
            j->created_at = r.created_at;
        }
        if (ok && job_prepare(s, j, msg, sizeof msg, field, sizeof field) != MF_OK) {
            ok = false;
        }
        if (!ok && j != NULL) {
            if (msg[0] == '\0') {
                snprintf(msg, sizeof msg, "its stored parameters no longer validate: %s",
                         re.message);
            }
            char *e = mf_json_job_error("invalid_after_restart", msg);
            sched_finish_job(s, j, MF_JOB_FAILED, NULL, e, NULL);
            free(e);
            job_free(s, j);
        } else if (ok) {
            uv_mutex_lock(&s->lock);
            enqueue(s, j);
            uv_mutex_unlock(&s->lock);
        }
        mf_job_rec_done(&r);
    }
    free(ids);
    return MF_OK;
}

/* ---- life ------------------------------------------------------------------------- */

static uint64_t urandom_seed(void)
{
    uint64_t v = 0;
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd >= 0) {
        if (read(fd, &v, sizeof v) != (ssize_t) sizeof v) {
            v = 0;
        }
        close(fd);
    }
    return v ^ (uint64_t) time(NULL) ^ ((uint64_t) getpid() << 32);
}

mf_err mf_sched_start(const mf_sched_cfg *cfg, mf_store *store, mf_registry *reg, mf_sched **ret)
{
    if (cfg->workers == 0 || cfg->workers > 64 || cfg->team == 0) {
        return MF_EINVAL;
    }
    mf_sched *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return MF_ENOMEM;
    }
    s->cfg = *cfg;
    s->store = store;
    s->reg = reg;
    s->id_rng = mf_rng_make(urandom_seed());
    s->last_expire = 0;
    atomic_init(&s->abort_all, 0);
    uv_mutex_init(&s->lock);
    uv_cond_init(&s->work_cv);
    uv_cond_init(&s->idle_cv);
    s->workers = calloc(cfg->workers, sizeof *s->workers);
    s->n_workers = cfg->workers;
    mf_err err = s->workers == NULL ? MF_ENOMEM : recover(s);
    for (size_t i = 0; i < s->n_workers && err == MF_OK; i++) {
        s->workers[i].s = s;
        err = mf_par_new(cfg->team, &s->workers[i].team);
    }
    if (err != MF_OK) {
        for (size_t i = 0; s->workers != NULL && i < s->n_workers; i++) {
            mf_par_free(s->workers[i].team);
        }
        for (job *j = s->queued; j != NULL;) {
            job *n = j->next;
            job_free(s, j);
            j = n;
        }
        free(s->workers);
        free(s);
        return err;
    }
    uv_loop_init(&s->loop);
    uv_async_init(&s->loop, &s->wake, on_wake);
    s->wake.data = s;
    uv_timer_init(&s->loop, &s->tick);
    s->tick.data = s;
    uv_timer_start(&s->tick, on_tick, 1000, 1000);
    for (size_t i = 0; i < s->n_workers; i++) {
        uv_thread_create(&s->workers[i].thread, worker_main, &s->workers[i]);
    }
    uv_thread_create(&s->loop_thread, loop_main, s);
    uv_async_send(&s->wake);
    *ret = s;
    return MF_OK;
}

static bool all_idle(mf_sched *s)
{
    for (size_t i = 0; i < s->n_workers; i++) {
        if (s->workers[i].task != TASK_NONE) {
            return false;
        }
    }
    return true;
}

bool mf_sched_drain(mf_sched *s, double timeout)
{
    double t_end = mf_mono_s() + timeout;
    bool in_time = true;
    uv_mutex_lock(&s->lock);
    s->draining = true;
    while (s->pending != NULL || !all_idle(s)) {
        double left = t_end - mf_mono_s();
        if (left <= 0) {
            in_time = false;
            atomic_store(&s->abort_all, 1);
            /* cancelled work returns within a step */
            while (!all_idle(s)) {
                uv_cond_timedwait(&s->idle_cv, &s->lock, 100000000);
            }
            break;
        }
        uv_async_send(&s->wake);
        uv_cond_timedwait(&s->idle_cv, &s->lock, (uint64_t) (fmin(left, 0.1) * 1e9));
    }
    s->stopping = true;
    uv_cond_broadcast(&s->work_cv);
    uv_mutex_unlock(&s->lock);
    for (size_t i = 0; i < s->n_workers; i++) {
        uv_thread_join(&s->workers[i].thread);
    }
    uv_async_send(&s->wake);
    uv_thread_join(&s->loop_thread);
    return in_time;
}

void mf_sched_free(mf_sched *s)
{
    if (s == NULL) {
        return;
    }
    uv_run(&s->loop, UV_RUN_NOWAIT); /* close callbacks */
    (void) uv_loop_close(&s->loop);
    /* Started jobs left paused stay "running" in the store and are re-run at the next start. */
    job *lists[2] = {s->queued, s->paused};
    for (int l = 0; l < 2; l++) {
        for (job *j = lists[l]; j != NULL;) {
            job *n = j->next;
            job_free(s, j);
            j = n;
        }
    }
    for (mf_sample_call *c = s->pending; c != NULL;) {
        mf_sample_call *n = c->next;
        c->err = MF_ECANCELED;
        snprintf(c->err_msg, sizeof c->err_msg, "the server is shutting down");
        c->done(c);
        mf_sample_call_release(c, s->reg);
        c = n;
    }
    for (size_t i = 0; i < s->n_workers; i++) {
        mf_par_free(s->workers[i].team);
    }
    free(s->workers);
    uv_mutex_destroy(&s->lock);
    uv_cond_destroy(&s->work_cv);
    uv_cond_destroy(&s->idle_cv);
    free(s);
}

bool mf_sched_draining(mf_sched *s)
{
    uv_mutex_lock(&s->lock);
    bool d = s->draining;
    uv_mutex_unlock(&s->lock);
    return d;
}

void mf_sched_set_event_hook(mf_sched *s, void (*fn)(void *ctx, const char *job_id), void *ctx)
{
    uv_mutex_lock(&s->lock);
    s->event_hook = fn;
    s->event_ctx = ctx;
    uv_mutex_unlock(&s->lock);
}

void mf_sched_set_tick_hook(mf_sched *s, void (*fn)(void *ctx), void *ctx)
{
    uv_mutex_lock(&s->lock);
    s->tick_hook = fn;
    s->tick_ctx = ctx;
    uv_mutex_unlock(&s->lock);
}

unsigned mf_sched_retry_after(mf_sched *s, bool for_job)
{
    uv_mutex_lock(&s->lock);
    double t;
    if (for_job) {
        /* the jobs ahead, max_running_jobs at a time */
        t = s->job_s_avg * (double) s->n_queued / (double) s->cfg.max_running_jobs;
    } else {
        /* the batched runs the waiting calls make, spread over the workers */
        double runs = 1.0 + (double) s->n_pending / (double) MF_SAMPLER_MAX_SEGS;
        t = s->batch_s_avg * runs / (double) s->n_workers;
    }
    uv_mutex_unlock(&s->lock);
    return t < 1.0 ? 1u : (t > 60.0 ? 60u : (unsigned) ceil(t));
}

void mf_sched_get_stats(mf_sched *s, mf_sched_stats *ret)
{
    uv_mutex_lock(&s->lock);
    *ret = s->stats;
    ret->queued = s->n_queued;
    ret->running = s->n_started;
    ret->pending_samples = s->n_pending;
    ret->workers = s->n_workers;
    ret->busy_workers = 0;
    for (size_t i = 0; i < s->n_workers; i++) {
        ret->busy_workers += s->workers[i].task != TASK_NONE;
    }
    uv_mutex_unlock(&s->lock);
}
