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
 *
 * keep_iterations (smeme_codec.h): after iteration k < K, between its
 * checkpoint and its evaluation, its model is published as "<final
 * id>-it<k>" (provenance "..., iteration k of K"; parent the previous kept
 * model or the job's), and its metrics event names it; the final model's
 * parent is then the last kept one.  prepare reserves those ids with the
 * final one.  A job re-run after a crash finds the kept models it published
 * before (their provenance names it) and publishes them not again; a cancel
 * leaves them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_json.h"
#include "clock.h"
#include "evaluate.h"
#include "finetune_kit.h"
#include "job_type.h"
#include "likelihood.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "metrics_json.h"
#include "model_file.h"
#include "potential.h"
#include "smeme.h"
#include "smeme_codec.h"

/* the final model and the kept ones, each reserved */
_Static_assert(MF_SMEME_REQ_MAX_K <= MF_JOB_MAX_RESERVED, "a job reserves K ids at most");

#define LOGP_N_LOW_D  500 /* samples whose log-density under the parent is averaged, D <= 8 */
#define LOGP_N_HIGH_D 50  /* above: 64-D needs 64 VJPs per ODE step (exact divergence) */
#define LOGP_STEPS    100

typedef struct smeme_job {
    mf_smeme *sm;
    mf_smeme_opts o;
    size_t n_eval, D;
    float *x;         /* (n_eval, D) this evaluation's samples, data space */
    float *x0;        /* the parent's, data space: the metrics' reference */
    size_t evaluated; /* evaluations done: 0 = the parent's not yet */
    size_t saved;     /* iterations in the checkpoint */
    char *metrics;    /* the last metrics event's data (the job's metrics) */
    double last_loss;
    uint64_t rounds_done;
} smeme_job;

static void deinit(mf_job *j)
{
    smeme_job *sj = mf_job_priv(j);
    if (sj == NULL) {
        return;
    }
    mf_smeme_free(sj->sm);
    mf_free_aligned(sj->x);
    mf_free_aligned(sj->x0);
    free(sj->metrics);
}

/* The solver's settings from the request. */
static mf_smeme_opts opts_of(const mf_smeme_req *q)
{
    mf_smeme_opts o = mf_smeme_opts_default();
    o.K = q->K;
    for (size_t k = 0; k < q->K; k++) {
        o.alpha[k] = q->alpha[k];
    }
    o.tau_r = (long) q->tau_r;
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

/* The id of the job's final model: out_model, or one the daemon picks, with room for the
 * suffix of the kept models' ids. */
static void final_id(mf_job *j, char out[MF_REQ_ID_MAX + 1])
{
    const mf_smeme_req *q = mf_job_params(j);
    mf_ft_model_name(j, q->out_model, mf_job_model_id(j), "smeme", mf_smeme_kept_room(q), out);
}

/* The id of the model kept after iteration k (it fits: the codec checked out_model's length,
 * and a picked final id leaves the room). */
static void kept_id(mf_job *j, size_t k, char out[MF_REQ_ID_MAX + 1])
{
    char fin[MF_REQ_ID_MAX + 1];
    final_id(j, fin);
    (void) mf_smeme_kept_id(fin, k, out);
}

/* The parent of the model of k iterations: the model kept after k - 1, else the job's. */
static void parent_of(mf_job *j, size_t k, char out[MF_REQ_ID_MAX + 1])
{
    const mf_smeme_req *q = mf_job_params(j);
    if (q->keep_iterations && k > 1) {
        kept_id(j, k - 1, out);
    } else {
        snprintf(out, MF_REQ_ID_MAX + 1, "%s", mf_job_model_id(j));
    }
}

/* The out_model and the kept models' ids not taken, reserved; a kept model this job published
 * before a restart is its own. */
static mf_err reserve(mf_job *j, mf_diag *d)
{
    const mf_smeme_req *q = mf_job_params(j);
    mf_err err = MF_OK;
    if (q->out_model[0] != '\0') {
        err = mf_job_reserve_model(j, q->out_model, "/params/out_model", d);
    }
    const char *field = q->out_model[0] != '\0' ? "/params/out_model" : "/params/keep_iterations";
    for (size_t k = 1; err == MF_OK && q->keep_iterations && k < q->K; k++) {
        char id[MF_REQ_ID_MAX + 1];
        kept_id(j, k, id);
        if (!mf_job_made_model(j, id)) {
            err = mf_job_reserve_model(j, id, field, d);
        }
    }
    return err;
}

/* The parent's limits (its timesteps, no condition input), the budget, and the ids of the
 * models it makes not taken. */
static mf_err prepare(mf_job *j, mf_diag *d)
{
    const mf_smeme_req *q = mf_job_params(j);
    const mf_model *m = mf_job_model(j);
    size_t T = m->sched.T;
    if (q->steps > T) {
        return mf_diag_setc(d, MF_ERANGE, "impossible", "/params/steps",
                            "steps is %zu but model %s has only %zu timesteps", q->steps,
                            mf_job_model_id(j), T);
    }
    if (q->tau_r >= T) {
        return mf_diag_setc(d, MF_ERANGE, "impossible", "/params/tau_r",
                            "tau_r must be below the model's %zu timesteps", T);
    }
    if (mf_pot_is_potential(m->net)) {
        return mf_diag_setc(
            d, MF_ERANGE, "impossible", "/model",
            "model %s is a potential network (prediction potential); finetune.smeme "
            "fine-tunes eps networks",
            mf_job_model_id(j));
    }
    if (m->net->cfg.cond_dim != 0) {
        return mf_diag_setc(d, MF_ERANGE, "impossible", "/model",
                            "model %s is conditional; finetune.smeme needs an unconditional one",
                            mf_job_model_id(j));
    }
    mf_err err = mf_smeme_check_budget(q, &m->net->cfg, mf_job_limits(j), mf_job_flops(j), d);
    if (err != MF_OK) {
        return err;
    }
    mf_job_progress(j, 0, (uint64_t) q->K * q->rounds, NULL, false);
    return reserve(j, d);
}

/*
 * A model file for the current weights: the parent's file (architecture,
 * schedule, normalisation, metadata) with the weights replaced and the
 * fine-tuning recorded (the lineage is mf_ft_publish's).
 */
static mf_err make_model(mf_job *j, const smeme_job *sj, size_t iterations, mf_model **ret)
{
    mf_model *m = NULL;
    mf_err err = mf_model_derive(mf_job_model(j), &m);
    if (err != MF_OK) {
        return err;
    }
    const mf_mlp *net = mf_smeme_model(sj->sm);
    memcpy(m->net->params, net->params, net->n_params * sizeof(float));
    char it[32];
    snprintf(it, sizeof it, "%zu", iterations);
    mf_diag d = {0};
    err = mf_model_set_meta(m, "smeme", mf_job_params_json(j), &d);
    if (err == MF_OK) {
        err = mf_model_set_meta(m, "smeme_iterations", it, &d);
    }
    if (err != MF_OK) {
        mf_model_free(m);
        return err;
    }
    *ret = m;
    return MF_OK;
}

/* The checkpoint after iteration k (its metadata says k). */
static void save_checkpoint(mf_job *j, smeme_job *sj, size_t k)
{
    mf_model *m = NULL;
    if (make_model(j, sj, k, &m) == MF_OK) {
        (void) mf_ft_checkpoint_save(j, m);
    }
    mf_model_free(m);
}

/*
 * After a crash: the evaluations already in the job's log (its stored metrics
 * name the last iteration evaluated), and the checkpoint, if usable.
 */
static void resume(mf_job *j, smeme_job *sj)
{
    char *stored = mf_job_stored_metrics(j);
    long it = mf_json_metrics_iteration(stored);
    if (it >= 0) {
        sj->evaluated = (size_t) it + 1;
        sj->metrics = stored;
        stored = NULL;
    }
    free(stored);
    mf_model *m = NULL;
    if (mf_ft_checkpoint_load(j, 1u << 30, &m) != MF_OK) {
        return;
    }
    const char *its = mf_model_get_meta(m, "smeme_iterations");
    char *end = NULL;
    unsigned long k = its != NULL ? strtoul(its, &end, 10) : 0;
    const mf_mlp *cur = mf_smeme_model(sj->sm);
    if (its != NULL && end != its && *end == '\0' && m->net->n_params == cur->n_params &&
        mf_smeme_restore(sj->sm, m->net->params, k) == MF_OK) {
        sj->rounds_done = (uint64_t) k * sj->o.rounds;
        sj->saved = k;
        mf_log(MF_LOG_INFO, NULL, mf_job_id(j), "resumed from the checkpoint after iteration %lu",
               k);
    }
    mf_model_free(m);
}

static mf_err init(mf_job *j)
{
    const mf_smeme_req *q = mf_job_params(j);
    const mf_model *parent = mf_job_model(j);
    smeme_job *sj = mf_job_priv(j);
    sj->o = opts_of(q);
    /* the trajectories' forward passes in the daemon's precision (bf16 by default: the
     * S-MEME oracles hold with it, tests/core/test_smeme.c; rounds 1.27x faster) */
    sj->o.am.rollout = mf_job_precision(j);
    sj->D = parent->net->cfg.data_dim;
    sj->n_eval = q->n_metric_samples;
    sj->last_loss = NAN;
    size_t nd = sj->n_eval * sj->D;
    sj->x = mf_alloc_floats(nd);
    sj->x0 = mf_alloc_floats(nd);
    if (sj->x == NULL || sj->x0 == NULL) {
        return MF_ENOMEM;
    }
    mf_err err = mf_smeme_new(parent->net, &parent->sched, &sj->o, &sj->sm);
    if (err != MF_OK) {
        return err;
    }
    resume(j, sj);
    /* The parent's samples: the reference of every evaluation (also after a resume). */
    /* evaluation samples in the daemon's default precision (--precision) */
    mf_eval_exec ex = mf_par_eval_exec(mf_job_team(j), mf_job_precision(j));
    return mf_eval_crn_sample(&ex, parent, parent->net, q->steps, q->seed, mf_job_cancel_flag(j),
                              sj->x0, sj->n_eval);
}

/*
 * Evaluates the current model (iteration k; 0 = the parent): samples,
 * metrics against the parent's samples, log-density under the parent; emits
 * the metrics (naming kept, the model kept for it, when not NULL) and samples
 * events.
 */
static mf_err evaluate(mf_job *j, size_t k, const char *kept)
{
    smeme_job *sj = mf_job_priv(j);
    const mf_smeme_req *q = mf_job_params(j);
    const mf_model *parent = mf_job_model(j);
    /* evaluation samples in the daemon's default precision (--precision) */
    mf_eval_exec ex = mf_par_eval_exec(mf_job_team(j), mf_job_precision(j));
    size_t n = sj->n_eval, D = sj->D;
    mf_err err = MF_OK;
    if (k == 0) {
        memcpy(sj->x, sj->x0, n * D * sizeof(float));
    } else {
        /* the same noise as the parent's samples: common random numbers */
        err = mf_eval_crn_sample(&ex, parent, mf_smeme_model(sj->sm), q->steps, q->seed,
                                 mf_job_cancel_flag(j), sj->x, n);
        if (err != MF_OK) {
            return err;
        }
    }
    mf_metrics met;
    mf_diag d = {0};
    err = mf_eval_metrics(parent, NULL, sj->x, n, k == 0 ? NULL : sj->x0, k == 0 ? 0 : n, &met, &d);
    if (err != MF_OK) {
        return err;
    }
    /* the mean log-density under the parent, data space (exact divergence) */
    size_t n_lp = D <= MF_DIV_EXACT_MAX_DIM ? LOGP_N_LOW_D : LOGP_N_HIGH_D;
    n_lp = n_lp < n ? n_lp : n;
    mf_ode_lik_opts lo = {.steps = LOGP_STEPS < parent->sched.T ? LOGP_STEPS : parent->sched.T,
                          .div = MF_DIV_EXACT,
                          .seed = q->seed,
                          .cancel = mf_job_cancel_flag(j)};
    mf_lik_stats lik;
    err = mf_eval_lik(&ex, parent, &lo, sj->x, n_lp, false, &lik);
    if (err != MF_OK) {
        return err;
    }
    double mean = -lik.nll;
    json_t *ev =
        mf_json_event_iteration_metrics(mf_job_id(j), k, k > 0 ? sj->o.alpha[k - 1] : (double) NAN,
                                        sj->last_loss, mf_json_metrics(&met), mean, n_lp, kept);
    char *text = ev != NULL ? mf_json_dumps(ev, MF_JSON_DUMP_FLAGS) : NULL;
    /* The events first, then the metrics that say they were emitted: a crash
     * between the two repeats this evaluation after the restart rather than
     * losing it. */
    mf_job_event(j, "metrics", ev);
    mf_job_event(j, "samples", mf_json_event_iteration_samples(mf_job_id(j), k, sj->x, n, D));
    if (text != NULL) {
        free(sj->metrics);
        sj->metrics = text;
        mf_job_metrics(j, text);
    }
    mf_log(MF_LOG_INFO, NULL, mf_job_id(j), "iteration %zu: kNN entropy %.4g, Vendi %.4g", k,
           met.knn.entropy, met.vendi.q2);
    return MF_OK;
}

/* Adds the model of the finished iterations to the registry as id (provenance detail: NULL
 * for none). */
static mf_err publish_as(mf_job *j, size_t iterations, const char *id, const char *detail)
{
    char parent[MF_REQ_ID_MAX + 1];
    parent_of(j, iterations, parent);
    mf_model *m = NULL;
    mf_diag d = {0};
    mf_err err = make_model(j, mf_job_priv(j), iterations, &m);
    if (err == MF_OK) {
        err = mf_ft_publish(j, m, id, parent, detail, &d);
    }
    if (err != MF_OK) {
        mf_model_free(m);
    }
    return err;
}

/* The job's model, of the finished iterations; ret_id gets its id. */
static mf_err publish(mf_job *j, size_t iterations, char ret_id[MF_REQ_ID_MAX + 1])
{
    final_id(j, ret_id);
    return publish_as(j, iterations, ret_id, NULL);
}

/* keep_iterations: the model of iteration k (< K) as its kept id, unless this job published it
 * before a restart. */
static mf_err keep(mf_job *j, size_t k, char id[MF_REQ_ID_MAX + 1])
{
    const mf_smeme_req *q = mf_job_params(j);
    kept_id(j, k, id);
    if (mf_job_made_model(j, id)) {
        return MF_OK;
    }
    char detail[64];
    snprintf(detail, sizeof detail, "iteration %zu of %zu", k, q->K);
    mf_err err = publish_as(j, k, id, detail);
    if (err == MF_OK) {
        mf_log(MF_LOG_INFO, NULL, mf_job_id(j), "iteration %zu kept as model %s", k, id);
    }
    return err;
}

/* A cancelled job: finished iterations become its model. */
static void cancel(mf_job *j)
{
    smeme_job *sj = mf_job_priv(j);
    const mf_smeme_req *q = mf_job_params(j);
    size_t k = sj->sm != NULL ? mf_smeme_iterations_done(sj->sm) : 0;
    char msg[256] = "cancelled by request", id[MF_REQ_ID_MAX + 1];
    if (k > 0 && publish(j, k, id) == MF_OK) {
        snprintf(msg, sizeof msg,
                 "cancelled by request after %zu of %zu iterations; model %s holds them", k, q->K,
                 id);
    }
    mf_ft_checkpoint_remove(j);
    mf_job_cancel(j, msg);
}

/* Every iteration is done and evaluated: the model, then the result. */
static mf_job_step finish(mf_job *j)
{
    smeme_job *sj = mf_job_priv(j);
    const mf_smeme_req *q = mf_job_params(j);
    char id[MF_REQ_ID_MAX + 1];
    mf_err err = publish(j, q->K, id);
    mf_ft_checkpoint_remove(j);
    if (err != MF_OK) {
        mf_job_fail(j, "save_failed", "cannot save the fine-tuned model", err);
        return MF_JOB_DONE;
    }
    char *result = mf_json_train_result(id, sj->rounds_done, sj->last_loss, NULL);
    if (result == NULL) {
        mf_job_fail(j, "internal", "cannot encode the result", MF_ENOMEM);
    } else {
        mf_job_succeed(j, result);
    }
    free(result);
    return MF_JOB_DONE;
}

static mf_job_step slice(mf_job *j, double deadline)
{
    smeme_job *sj = mf_job_priv(j);
    const mf_smeme_req *q = mf_job_params(j);
    if (sj->sm == NULL) {
        mf_err err = init(j);
        if (err == MF_ECANCELED) {
            return MF_JOB_MORE; /* the scheduler cancels it */
        }
        if (err != MF_OK) {
            mf_job_fail(j, "internal", "cannot set up the fine-tuning", err);
            return MF_JOB_DONE;
        }
        mf_job_progress(j, sj->rounds_done, (uint64_t) q->K * q->rounds, NULL, false);
    }
    /* this slice's worker: its team runs the rounds' rows */
    mf_par *team = mf_job_team(j);
    mf_smeme_set_executor(sj->sm, mf_par_for_exec, team, mf_par_size(team));
    for (;;) {
        if (mf_job_stop_requested(j)) {
            return MF_JOB_MORE;
        }
        size_t k = mf_smeme_iterations_done(sj->sm);
        if (sj->evaluated <= k) {
            /* the parent (k = 0) or a finished iteration is not evaluated yet */
            if (k > sj->saved && k < q->K) {
                save_checkpoint(j, sj, k);
                sj->saved = k;
            }
            char kept[MF_REQ_ID_MAX + 1] = "";
            mf_err err = q->keep_iterations && k >= 1 && k < q->K ? keep(j, k, kept) : MF_OK;
            if (err != MF_OK) {
                char what[64];
                snprintf(what, sizeof what, "cannot save the model of iteration %zu", k);
                mf_ft_checkpoint_remove(j);
                mf_job_fail(j, "save_failed", what, err);
                return MF_JOB_DONE;
            }
            err = evaluate(j, k, kept[0] != '\0' ? kept : NULL);
            if (err == MF_ECANCELED) {
                return MF_JOB_MORE;
            }
            if (err != MF_OK) {
                mf_job_fail(j, "internal", "cannot evaluate the iteration", err);
                return MF_JOB_DONE;
            }
            sj->evaluated = k + 1;
        } else if (mf_smeme_done(sj->sm)) {
            return finish(j);
        } else {
            mf_am_round_stats st;
            size_t it = mf_smeme_iterations_done(sj->sm) + 1; /* the iteration this round is in */
            mf_err err = mf_smeme_step(sj->sm, &st);
            if (err != MF_OK || !isfinite(st.loss)) {
                mf_job_fail(j, "diverged", "the Adjoint Matching loss is not finite; lower lr",
                            err != MF_OK ? err : MF_ERANGE);
                return MF_JOB_DONE;
            }
            sj->last_loss = st.loss;
            sj->rounds_done++;
            char phase[48];
            snprintf(phase, sizeof phase, "iteration %zu of %zu", it, q->K);
            mf_job_progress(j, sj->rounds_done, (uint64_t) q->K * q->rounds, phase,
                            mf_smeme_round(sj->sm) == 0);
        }
        if (mf_mono_s() > deadline) {
            return MF_JOB_MORE;
        }
    }
}

const mf_job_type mf_job_type_smeme = {
    .codec = &mf_smeme_codec,
    .state_size = sizeof(smeme_job),
    .prepare = prepare,
    .slice = slice,
    .cancel = cancel,
    .deinit = deinit,
};
