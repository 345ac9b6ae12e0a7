/* SPDX-License-Identifier: MIT */
/*
 * job_smeme.c - the finetune.smeme job: S-MEME (core/smeme.h) run in time
 * slices of whole Adjoint Matching rounds.
 *
 * Events: before the first round, the parent's metrics and samples
 * (iteration 0, the baseline every later iteration is compared with); a
 * progress event per round (at most every 0.5 s; done/total in rounds); after
 * each iteration k, its metrics (kNN entropy, 2-D histogram entropy, Vendi,
 * support fraction, SW2 and kNN KL to the parent's samples, mean log-density
 * under the parent) and its samples.  Every evaluation draws the same noise
 * (n_metric_samples rows of the job's own DDPM grid, seed fixed), so the
 * iterations are compared on common random numbers.
 *
 * Checkpoints: after iteration k < K the weights go to
 * <model store>/checkpoints/<job id>.safetensors (atomic write, metadata
 * smeme_iterations = k), before that iteration's evaluation.  A job re-run
 * after a crash resumes from it, with the noise an uninterrupted run would
 * have used, and evaluates only what its stored metrics (the last iteration
 * evaluated) do not cover, so no iteration's events appear twice.  A
 * cancelled job with finished iterations keeps them as its model.  The
 * checkpoint is removed when the job ends.
 *
 * The result is a new model in the registry: the parent's architecture,
 * schedule and normalisation, metadata parent = the parent's id, the job's
 * settings (smeme), the iterations done, provenance and creation time.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api_json.h"
#include "clock.h"
#include "likelihood.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "metrics_json.h"
#include "model_file.h"
#include "scheduler_impl.h"
#include "smeme.h"

#define LOGP_N_LOW_D  500 /* samples whose log-density under the parent is averaged, D <= 8 */
#define LOGP_N_HIGH_D 50  /* above: 64-D needs 64 VJPs per ODE step (exact divergence) */
#define LOGP_STEPS    100
#define EVAL_SEED_TAG 0x45564131u

typedef struct smeme_job {
    mf_smeme *sm;
    mf_smeme_opts o;
    size_t n_eval, D;
    float *x;           /* (n_eval, D) this evaluation's samples, data space */
    float *x0;          /* the parent's, data space: the metrics' reference */
    float *xm;          /* model space, for the log-densities */
    double *logp;
    size_t evaluated;   /* evaluations done: 0 = the parent's not yet */
    size_t saved;       /* iterations in the checkpoint */
    char *metrics;      /* the last metrics event's data (the job's metrics) */
    double last_loss;
    char ckpt[4200];
} smeme_job;

void smeme_job_free(job *j)
{
    smeme_job *sj = j->smeme;
    if (sj == NULL) {
        return;
    }
    mf_smeme_free(sj->sm);
    mf_free_aligned(sj->x);
    mf_free_aligned(sj->x0);
    mf_free_aligned(sj->xm);
    free(sj->logp);
    free(sj->metrics);
    free(sj);
    j->smeme = NULL;
}

/* The solver's settings from the request. */
static mf_smeme_opts opts_of(const mf_smeme_req *q)
{
    mf_smeme_opts o = mf_smeme_opts_default();
    o.K = q->K;
    for (size_t k = 0; k < q->K; k++) {
        o.alpha[k] = q->alpha[k];
    }
    o.tau_r = q->tau_r;
    o.rounds = q->rounds;
    o.am.steps = q->steps;
    o.am.trajectories = q->trajectories;
    o.am.batch = q->batch;
    o.am.inner_steps = q->inner_steps;
    o.am.lr = (float) q->lr;
    o.am.clip_grad = q->clip_grad;
    o.am.clip_adjoint = q->clip_reward;
    o.am.clip_loss = q->clip_loss;
    o.am.seed = q->seed;
    return o;
}

mf_err smeme_job_prepare(mf_sched *s, job *j, char *msg, size_t msg_len, char *field,
                         size_t field_len)
{
    const mf_smeme_req *q = &j->req.p.smeme;
    j->model = mf_registry_get(s->reg, j->req.model);
    if (j->model == NULL) {
        snprintf(field, field_len, "/model");
        snprintf(msg, msg_len, "no model with id %s", j->req.model);
        return MF_ENOTFOUND;
    }
    const mf_model *m = j->model->model;
    size_t T = m->sched.T;
    if (q->steps > T) {
        snprintf(field, field_len, "/params/steps");
        snprintf(msg, msg_len, "steps is %zu but model %s has only %zu timesteps", q->steps,
                 j->req.model, T);
        return MF_ERANGE;
    }
    if ((size_t) q->tau_r >= T) {
        snprintf(field, field_len, "/params/tau_r");
        snprintf(msg, msg_len, "tau_r must be below the model's %zu timesteps", T);
        return MF_ERANGE;
    }
    if (m->net->cfg.cond_dim != 0) {
        snprintf(field, field_len, "/model");
        snprintf(msg, msg_len, "model %s is conditional; finetune.smeme needs an unconditional one",
                 j->req.model);
        return MF_ERANGE;
    }
    j->total = (uint64_t) q->K * q->rounds;
    return MF_OK;
}

/* The checkpoint of job j: <store>/checkpoints/<id>.safetensors. */
static void ckpt_path(mf_sched *s, const job *j, smeme_job *sj)
{
    snprintf(sj->ckpt, sizeof sj->ckpt, "%s/checkpoints/%s.safetensors",
             mf_registry_store_dir(s->reg), j->id);
}

/*
 * A model file for the current weights: the parent's file (architecture,
 * schedule, normalisation, metadata) with the weights replaced and the
 * fine-tuning recorded.
 */
static mf_err make_model(const job *j, const smeme_job *sj, size_t iterations, mf_model **ret)
{
    mf_model *m = NULL;
    mf_err err = mf_model_clone(j->model->model, &m);
    if (err != MF_OK) {
        return err;
    }
    const mf_mlp *net = mf_smeme_model(sj->sm);
    memcpy(m->net->params, net->params, net->n_params * sizeof(float));
    char prov[160], it[32];
    snprintf(prov, sizeof prov, "manifoldd finetune.smeme job %s", j->id);
    snprintf(it, sizeof it, "%zu", iterations);
    mf_diag d = {{0}, {0}};
    err = mf_model_set_meta(m, "parent", j->req.model, &d);
    if (err == MF_OK) {
        err = mf_model_set_meta(m, "provenance", prov, &d);
    }
    if (err == MF_OK) {
        err = mf_model_set_meta(m, "smeme", j->req.params_json, &d);
    }
    if (err == MF_OK) {
        err = mf_model_set_meta(m, "smeme_iterations", it, &d);
    }
    if (err == MF_OK) {
        err = mf_model_set_created(m, time(NULL), &d);
    }
    if (err != MF_OK) {
        mf_model_free(m);
        return err;
    }
    *ret = m;
    return MF_OK;
}

static void save_checkpoint(mf_sched *s, job *j, smeme_job *sj, size_t k)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/checkpoints", mf_registry_store_dir(s->reg));
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        mf_log(MF_LOG_WARN, NULL, j->id, "cannot create %s: %s", dir, strerror(errno));
        return;
    }
    mf_model *m = NULL;
    mf_diag d = {{0}, {0}};
    mf_err err = make_model(j, sj, k, &m);
    if (err == MF_OK) {
        err = mf_model_save_file(m, sj->ckpt, &d);
    }
    mf_model_free(m);
    if (err != MF_OK) {
        mf_log(MF_LOG_WARN, NULL, j->id, "cannot save the checkpoint: %s", mf_strerror(err));
    }
}

/*
 * After a crash: the evaluations already in the job's log (its stored metrics
 * name the last iteration evaluated), and the checkpoint, if usable.
 */
static void resume(mf_sched *s, job *j, smeme_job *sj)
{
    mf_job_rec rec;
    memset(&rec, 0, sizeof rec);
    if (mf_store_job_get(s->store, j->id, &rec) == MF_OK && rec.metrics != NULL) {
        long it = mf_json_metrics_iteration(rec.metrics);
        if (it >= 0) {
            sj->evaluated = (size_t) it + 1;
            sj->metrics = strdup(rec.metrics);
        }
    }
    mf_job_rec_done(&rec);
    mf_model *m = NULL;
    mf_diag d = {{0}, {0}};
    if (access(sj->ckpt, F_OK) != 0 || mf_model_load_file(sj->ckpt, 1u << 30, &m, &d) != MF_OK) {
        return;
    }
    const char *it = mf_model_get_meta(m, "smeme_iterations");
    char *end = NULL;
    unsigned long k = it != NULL ? strtoul(it, &end, 10) : 0;
    const mf_mlp *cur = mf_smeme_model(sj->sm);
    if (it != NULL && end != it && *end == '\0' && m->net->n_params == cur->n_params &&
        mf_smeme_restore(sj->sm, m->net->params, k) == MF_OK) {
        j->done = (uint64_t) k * sj->o.rounds;
        sj->saved = k;
        mf_log(MF_LOG_INFO, NULL, j->id, "resumed from the checkpoint after iteration %lu", k);
    }
    mf_model_free(m);
}

static mf_err init(mf_sched *s, mf_par *team, job *j)
{
    const mf_smeme_req *q = &j->req.p.smeme;
    const mf_model *parent = j->model->model;
    smeme_job *sj = calloc(1, sizeof *sj);
    if (sj == NULL) {
        return MF_ENOMEM;
    }
    j->smeme = sj;
    sj->o = opts_of(q);
    sj->D = parent->net->cfg.data_dim;
    sj->n_eval = q->n_metric_samples;
    sj->last_loss = NAN;
    size_t nd = sj->n_eval * sj->D;
    sj->x = mf_alloc_floats(nd);
    sj->x0 = mf_alloc_floats(nd);
    sj->xm = mf_alloc_floats(nd);
    sj->logp = malloc(sj->n_eval * sizeof *sj->logp);
    if (sj->x == NULL || sj->x0 == NULL || sj->xm == NULL || sj->logp == NULL) {
        return MF_ENOMEM;
    }
    mf_err err = mf_smeme_new(parent->net, &parent->sched, &sj->o, &sj->sm);
    if (err != MF_OK) {
        return err;
    }
    j->total = (uint64_t) q->K * q->rounds;
    ckpt_path(s, j, sj);
    resume(s, j, sj);
    /* The parent's samples: the reference of every evaluation (also after a resume). */
    mf_sampler_opts so = {.kind = MF_SAMPLER_DDPM,
                          .steps = q->steps,
                          .seed = q->seed ^ EVAL_SEED_TAG,
                          .cancel = &j->cancel};
    err = mf_par_sample(team, parent->net, &parent->sched, &so, sj->x0, sj->n_eval);
    if (err == MF_OK) {
        mf_model_to_data(parent, sj->x0, nd);
    }
    return err;
}

/*
 * Evaluates the current model (iteration k; 0 = the parent): samples,
 * metrics against the parent's samples, log-density under the parent; emits
 * the metrics and samples events.
 */
static mf_err evaluate(mf_sched *s, mf_par *team, job *j, size_t k)
{
    smeme_job *sj = j->smeme;
    const mf_smeme_req *q = &j->req.p.smeme;
    const mf_model *parent = j->model->model;
    size_t n = sj->n_eval, D = sj->D, nd = n * D;
    const mf_mlp *net = k == 0 ? parent->net : mf_smeme_model(sj->sm);
    mf_err err = MF_OK;
    if (k == 0) {
        memcpy(sj->x, sj->x0, nd * sizeof(float));
    } else {
        mf_sampler_opts so = {.kind = MF_SAMPLER_DDPM,
                              .steps = q->steps,
                              .seed = q->seed ^ EVAL_SEED_TAG,
                              .cancel = &j->cancel};
        err = mf_par_sample(team, net, &parent->sched, &so, sj->x, n);
        if (err != MF_OK) {
            return err;
        }
        mf_model_to_data(parent, sj->x, nd);
    }
    mf_metrics_opts mo;
    mf_metrics_opts_default(&mo, D);
    mf_dataset_id id = MF_DATASET_COUNT;
    const char *ds = mf_model_get_meta(parent, "dataset");
    if (ds == NULL || mf_dataset_lookup(ds, &id) != MF_OK || mf_dataset_dim(id) != D) {
        id = MF_DATASET_COUNT;
    }
    mf_metrics met;
    err = mf_metrics_compute(&mo, id, sj->x, n, D, k == 0 ? NULL : sj->x0, k == 0 ? 0 : n, &met);
    if (err != MF_OK) {
        return err;
    }
    /* mean log-density under the parent, in data space: log p_data = log p_model - D log scale */
    size_t n_lp = D <= MF_DIV_EXACT_MAX_DIM ? LOGP_N_LOW_D : LOGP_N_HIGH_D;
    n_lp = n_lp < n ? n_lp : n;
    memcpy(sj->xm, sj->x, n_lp * D * sizeof(float));
    mf_model_from_data(parent, sj->xm, n_lp * D);
    mf_ode_lik_opts lo = {.steps = LOGP_STEPS < parent->sched.T ? LOGP_STEPS : parent->sched.T,
                          .div = MF_DIV_EXACT,
                          .seed = q->seed,
                          .cancel = &j->cancel};
    err = mf_par_ode_logp(team, parent->net, &parent->sched, &lo, false, sj->xm, n_lp, sj->logp);
    if (err != MF_OK) {
        return err;
    }
    double mean = 0.0;
    for (size_t i = 0; i < n_lp; i++) {
        mean += sj->logp[i];
    }
    mean = mean / (double) n_lp - (double) D * log(parent->data_scale);
    json_t *ev = mf_json_event_iteration_metrics(j->id, k, k > 0 ? sj->o.alpha[k - 1] : (double) NAN,
                                                 sj->last_loss, mf_json_metrics(&met), mean, n_lp);
    char *text = ev != NULL ? json_dumps(ev, MF_JSON_DUMP_FLAGS) : NULL;
    if (text != NULL) {
        free(sj->metrics);
        sj->metrics = text;
        (void) !mf_store_job_metrics(s->store, j->id, text);
    }
    sched_append_event(s, j->id, "metrics", ev);
    sched_append_event(s, j->id, "samples", mf_json_event_iteration_samples(j->id, k, sj->x, n, D));
    mf_log(MF_LOG_INFO, NULL, j->id, "iteration %zu: kNN entropy %.4g, Vendi %.4g", k,
           met.knn.entropy, met.vendi.q2);
    return MF_OK;
}

/* Adds the model of the finished iterations to the registry; *ret_id gets its id. */
static mf_err publish(mf_sched *s, job *j, size_t iterations, char ret_id[MF_ID_MAX + 1])
{
    const mf_smeme_req *q = &j->req.p.smeme;
    char out[2 * MF_ID_MAX + 16];
    if (q->out_model[0] != '\0') {
        snprintf(out, sizeof out, "%s", q->out_model);
    } else {
        /* "<parent>-smeme-<job hex>", or "smeme-<job id>" when that is too long */
        int n = snprintf(out, sizeof out, "%s-smeme-%s", j->req.model, j->id + 4);
        if (n < 0 || n > MF_ID_MAX) {
            snprintf(out, sizeof out, "smeme-%s", j->id);
        }
    }
    mf_model *m = NULL;
    mf_diag d = {{0}, {0}};
    mf_err err = make_model(j, j->smeme, iterations, &m);
    if (err == MF_OK) {
        err = mf_registry_add(s->reg, out, m, &d);
    }
    if (err != MF_OK) {
        mf_model_free(m);
        return err;
    }
    memcpy(ret_id, out, strlen(out) + 1); /* a valid id: at most MF_ID_MAX characters */
    return MF_OK;
}

/* Ends a cancelled job; finished iterations become its model. */
static void cancel(mf_sched *s, job *j)
{
    smeme_job *sj = j->smeme;
    size_t k = sj != NULL && sj->sm != NULL ? mf_smeme_iterations_done(sj->sm) : 0;
    char msg[256] = "cancelled by request", id[MF_ID_MAX + 1];
    if (k > 0 && publish(s, j, k, id) == MF_OK) {
        snprintf(msg, sizeof msg, "cancelled by request after %zu of %zu iterations; model %s holds them",
                 k, j->req.p.smeme.K, id);
    }
    if (sj != NULL) {
        (void) unlink(sj->ckpt);
    }
    sched_cancel_job(s, j, sj != NULL ? sj->metrics : NULL, msg);
}

bool smeme_job_slice(mf_sched *s, mf_par *team, job *j, double deadline)
{
    if (j->smeme == NULL) {
        mf_err err = init(s, team, j);
        if (err != MF_OK) {
            if (err == MF_ECANCELED) {
                cancel(s, j);
            } else {
                sched_fail_job(s, j, "internal", "cannot set up the fine-tuning", err);
            }
            return false;
        }
    }
    smeme_job *sj = j->smeme;
    const mf_smeme_req *q = &j->req.p.smeme;
    /* this slice's worker: its team runs the rounds' rows */
    mf_smeme_set_executor(sj->sm, mf_par_for_exec, team, mf_par_size(team));
    for (;;) {
        if (atomic_load(&j->cancel) != 0 || atomic_load(&s->abort_all) != 0) {
            cancel(s, j);
            return false;
        }
        size_t k = mf_smeme_iterations_done(sj->sm);
        if (sj->evaluated <= k) {
            /* the parent (k = 0) or a finished iteration is not evaluated yet */
            if (k > sj->saved && k < q->K) {
                save_checkpoint(s, j, sj, k);
                sj->saved = k;
            }
            mf_err err = evaluate(s, team, j, k);
            if (err == MF_ECANCELED) {
                cancel(s, j);
                return false;
            }
            if (err != MF_OK) {
                sched_fail_job(s, j, "internal", "cannot evaluate the iteration", err);
                return false;
            }
            sj->evaluated = k + 1;
        } else if (mf_smeme_done(sj->sm)) {
            break;
        } else {
            mf_am_round_stats st;
            size_t it = mf_smeme_iterations_done(sj->sm) + 1; /* the iteration this round is in */
            mf_err err = mf_smeme_step(sj->sm, &st);
            if (err != MF_OK || !isfinite(st.loss)) {
                sched_fail_job(s, j, "diverged", "the Adjoint Matching loss is not finite; lower lr",
                               err != MF_OK ? err : MF_ERANGE);
                return false;
            }
            sj->last_loss = st.loss;
            j->done++;
            char phase[48];
            snprintf(phase, sizeof phase, "iteration %zu of %zu", it, q->K);
            sched_progress_event(s, j, phase, mf_smeme_round(sj->sm) == 0);
        }
        if (mf_mono_s() > deadline) {
            return true;
        }
    }
    char id[MF_ID_MAX + 1];
    mf_err err = publish(s, j, q->K, id);
    (void) unlink(sj->ckpt);
    if (err != MF_OK) {
        sched_fail_job(s, j, "save_failed", "cannot save the fine-tuned model", err);
        return false;
    }
    char *result = mf_json_train_result(id, j->done, sj->last_loss);
    if (result == NULL) {
        sched_fail_job(s, j, "internal", "cannot encode the result", MF_ENOMEM);
    } else {
        sched_finish_job(s, j, MF_JOB_SUCCEEDED, result, NULL, sj->metrics);
    }
    free(result);
    return false;
}
