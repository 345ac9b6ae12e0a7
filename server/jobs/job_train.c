/* SPDX-License-Identifier: MIT */
/*
 * job_train.c - the "train" job: a new model trained by denoising score
 * matching on a built-in data set or an uploaded one, in time slices of
 * optimiser steps.
 *
 * The params map to core's objects through core/train_params.h, the mapping
 * `manifold-train train` uses too (the same defaults, the same MF_TRAIN_SHARDS
 * gradient shards, so the same weights for the same params whatever the
 * thread count).  Events: progress (steps) at most every 0.5 s and at the
 * last step.  The result is a new model in the registry, named out_model or
 * "<dataset>-<job id>", holding the EMA weights; its "dataset" metadata names
 * the data set.
 *
 * An uploaded data set is looked up when the job is prepared (at submit, and
 * again at a restart) and held until the job is freed, so deleting it while
 * the job waits or runs takes its id away but not the job's rows.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_json.h"
#include "clock.h"
#include "datasets.h"
#include "eval_summary.h"
#include "finetune_kit.h"
#include "job_type.h"
#include "log.h"
#include "mem.h"
#include "train.h"
#include "train_codec.h"
#include "train_events.h"
#include "train_params.h"

typedef struct train_job {
    mf_reg_dataset *data; /* an uploaded data set, held; NULL for a built-in one */
    mf_model *model;      /* the model being trained; the registry's once published */
    mf_trainer *tr;
    float *batch;
    size_t step;
    double loss_avg;
    double held_loss; /* the last report's held-out DSM loss: the model's figure */
    /* held-out points in model space (built-in sets only) and a workspace to score them */
    float *held;
    size_t n_held;
    mf_mlp_ws *ws;
    mf_hjb_stats hjb; /* the regulariser since the last metrics event: sums of its steps */
    size_t hjb_steps; /* and their number */
} train_job;

#define TRAIN_REPORTS 20 /* metrics events per run: often enough for a loss curve */

/* The closing evaluation of a potential model (eval_summary.h): samples and held-out
 * points, DDPM grid, PF-ODE grid, seed (fixed: models compare point for point). */
#define EVAL_N         1000
#define EVAL_STEPS     1000
#define EVAL_ODE_STEPS 100
#define EVAL_SEED      1000

/* An uploaded data set, held for the job, becomes the params' table. */
static mf_err hold_dataset(mf_job *j, mf_diag *d)
{
    train_job *tj = mf_job_priv(j);
    mf_train_req *q = mf_job_params(j);
    mf_datasets *ds = mf_registry_datasets(mf_job_registry(j));
    tj->data = ds != NULL ? mf_datasets_get_for(ds, q->dataset, mf_job_owner(j)) : NULL;
    if (tj->data == NULL || tj->data->table == NULL) {
        return mf_diag_setc(d, MF_ENOTFOUND, "dataset_not_found", "/params/dataset",
                            "no dataset with id %s: a built-in name or the id of an upload "
                            "(GET /v1/datasets lists them)",
                            q->dataset);
    }
    q->p.table = tj->data->table;
    q->p.table_name = q->dataset;
    return MF_OK;
}

/* Its data set exists (and is held), an upload's columns keep it within the budgets (the
 * codec checked a built-in set's), and the model it will make: its out_model is not taken. */
static mf_err prepare(mf_job *j, mf_diag *d)
{
    const mf_train_req *q = mf_job_params(j);
    mf_err err = q->builtin ? MF_OK : hold_dataset(j, d);
    if (err == MF_OK) {
        /* again for a built-in set (its codec checked it): the estimate is the job's charge */
        size_t D = q->builtin ? mf_dataset_dim(q->p.dataset) : q->p.table->n_dims;
        err = mf_train_check_budget(q, D, mf_job_limits(j), mf_job_flops(j), d);
    }
    if (err == MF_OK && q->out_model[0] != '\0') {
        err = mf_job_reserve_model(j, q->out_model, "/params/out_model", d);
    }
    return err;
}

static mf_err init(mf_job *j)
{
    train_job *tj = mf_job_priv(j);
    const mf_train_req *q = mf_job_params(j);
    mf_diag d = {0};
    mf_err err = mf_train_params_begin(&q->p, &tj->model, &tj->tr, &d);
    if (err != MF_OK) {
        return err;
    }
    tj->batch = mf_alloc_floats(q->p.batch * tj->model->net->cfg.data_dim);
    mf_job_progress(j, 0, q->p.steps, NULL, false);
    tj->loss_avg = NAN;
    tj->held_loss = NAN;
    tj->held = mf_train_params_heldout(&q->p, tj->model, &tj->n_held);
    if (tj->held != NULL && mf_mlp_ws_new(tj->model->net, 1024, false, &tj->ws) != MF_OK) {
        return MF_ENOMEM;
    }
    return tj->batch == NULL ? MF_ENOMEM : MF_OK;
}

/*
 * A metrics event at every TRAIN_REPORTS-th of the run and at its end: the
 * step, the training loss and, on a built-in set, the held-out DSM loss of the
 * EMA weights (fixed timesteps and noise, so successive figures compare).
 */
static void report(mf_job *j, train_job *tj, size_t steps)
{
    size_t every = steps / TRAIN_REPORTS > 0 ? steps / TRAIN_REPORTS : 1;
    if (tj->step % every != 0 && tj->step != steps) {
        return;
    }
    double held = NAN;
    if (tj->held != NULL) {
        held = mf_dsm_loss(mf_trainer_ema(tj->tr), tj->ws, &tj->model->sched, tj->held, NULL,
                           tj->n_held, MF_TRAIN_HELDOUT_SEED);
    }
    tj->held_loss = held;
    json_t *ev = mf_json_event_train_metrics(mf_job_id(j), tj->step, steps, tj->loss_avg, held);
    const mf_train_params *p = &((const mf_train_req *) mf_job_params(j))->p;
    if (ev != NULL && p->hjb.on) {
        mf_hjb_stats last, window = tj->hjb;
        double lambda;
        mf_trainer_hjb_last(tj->tr, &last, &lambda);
        window.loss /= tj->hjb_steps > 0 ? (double) tj->hjb_steps : 1.0; /* a mean per step */
        json_t *h = mf_json_hjb_stats(&window, lambda, p->hjb.t_min);
        if (h == NULL || json_object_set_new(ev, "hjb", h) != 0) {
            json_decref(ev);
            ev = NULL;
        }
        memset(&tj->hjb, 0, sizeof tj->hjb);
        tj->hjb_steps = 0;
    }
    if (ev == NULL) {
        return; /* out of memory: this report is lost, the run goes on */
    }
    char *text = mf_json_take_dump(json_incref(ev));
    if (text != NULL) {
        mf_job_metrics(j, text); /* the job's latest metrics: the last report */
    }
    free(text);
    mf_job_event(j, "metrics", ev);
}

/*
 * A potential model on a built-in set: the closing figures (samples' SW2 next to its
 * floor, kNN entropy next to the data's, held-out NLL, the residual; eval_summary.h)
 * as the result's "evaluation".  Seconds of work, so only for the architecture whose
 * study needs them (docs/hjb.md).  *ret NULL without; a failure is logged, not fatal.
 */
static mf_err evaluate(mf_job *j, json_t **ret)
{
    train_job *tj = mf_job_priv(j);
    const mf_train_req *q = mf_job_params(j);
    *ret = NULL;
    if (!q->builtin || q->p.architecture != MF_TRAIN_POTENTIAL) {
        return MF_OK;
    }
    mf_job_progress(j, tj->step, q->p.steps, "evaluation", true);
    /* evaluation samples in the daemon's default precision (--precision) */
    mf_eval_exec ex = mf_par_eval_exec(mf_job_team(j), mf_job_precision(j));
    mf_eval_summary s;
    mf_err err = mf_eval_summary_of(&ex, tj->model, q->p.dataset, EVAL_N, EVAL_STEPS,
                                    EVAL_ODE_STEPS, EVAL_SEED, mf_job_cancel_flag(j), &s);
    if (err == MF_ECANCELED) {
        return err;
    }
    if (err != MF_OK) {
        mf_log(MF_LOG_WARN, NULL, mf_job_id(j), "no closing evaluation: %s", mf_strerror(err));
        return MF_OK;
    }
    *ret = mf_json_eval_summary(&s);
    return MF_OK;
}

/* Publishes the trained model (EMA weights); *result gets the job's result. */
static mf_err save(mf_job *j, char **result)
{
    train_job *tj = mf_job_priv(j);
    const mf_train_req *q = mf_job_params(j);
    char out[MF_REQ_ID_MAX + 1], prov[160];
    mf_ft_model_name(j, q->out_model, q->dataset, NULL, 0, out);
    (void) mf_job_provenance(j, prov, sizeof prov);
    mf_diag d = {0};
    json_t *eval = NULL;
    mf_err err =
        mf_train_params_finish(&q->p, tj->model, tj->tr, tj->held_loss, prov, time(NULL), &d);
    if (err == MF_OK) {
        err = evaluate(j, &eval);
    }
    if (err == MF_OK) {
        err = mf_ft_publish(j, tj->model, out, "", NULL, &d);
    }
    if (err != MF_OK) {
        json_decref(eval);
        return err;
    }
    tj->model = NULL; /* the registry has it */
    *result = mf_json_train_result(out, tj->step, tj->loss_avg, eval);
    return *result != NULL ? MF_OK : MF_ENOMEM;
}

static mf_job_step slice(mf_job *j, double deadline)
{
    train_job *tj = mf_job_priv(j);
    const mf_train_params *p = &((const mf_train_req *) mf_job_params(j))->p;
    if (tj->tr == NULL) {
        mf_err err = init(j);
        if (err != MF_OK) {
            mf_job_fail(j, "bad_params", "cannot set up training", err);
            return MF_JOB_DONE;
        }
    }
    while (tj->step < p->steps) {
        if (mf_job_stop_requested(j)) {
            return MF_JOB_MORE;
        }
        if (mf_train_params_batch(p, tj->model, tj->step, tj->batch) != MF_OK) {
            mf_job_fail(j, "internal", "data generation failed", MF_EINTERNAL);
            return MF_JOB_DONE;
        }
        double loss;
        mf_par_train_step(mf_job_team(j), tj->tr, tj->batch, NULL, &loss, NULL);
        if (!isfinite(loss)) {
            mf_job_fail(j, "diverged", "the loss is not finite; lower lr", MF_ERANGE);
            return MF_JOB_DONE;
        }
        tj->loss_avg = isnan(tj->loss_avg) ? loss : 0.98 * tj->loss_avg + 0.02 * loss;
        if (p->hjb.on) {
            mf_hjb_stats st;
            double lambda;
            mf_trainer_hjb_last(tj->tr, &st, &lambda);
            mf_hjb_stats_add(&tj->hjb, &st);
            tj->hjb_steps++;
        }
        tj->step++;
        mf_job_progress(j, tj->step, p->steps, "training", tj->step == p->steps);
        report(j, tj, p->steps);
        if (mf_mono_s() > deadline && tj->step < p->steps) {
            return MF_JOB_MORE;
        }
    }
    char *result = NULL;
    mf_err err = save(j, &result);
    if (err == MF_ECANCELED) {
        return MF_JOB_MORE; /* cancelled during the evaluation: the scheduler cancels it */
    }
    if (err != MF_OK) {
        mf_job_fail(j, "save_failed", "cannot save the trained model", err);
    } else {
        mf_job_succeed(j, result);
    }
    free(result);
    return MF_JOB_DONE;
}

static void deinit(mf_job *j)
{
    train_job *tj = mf_job_priv(j);
    if (tj != NULL) {
        mf_trainer_free(tj->tr);
        mf_model_free(tj->model);
        mf_free_aligned(tj->batch);
        mf_free_aligned(tj->held);
        mf_mlp_ws_free(tj->ws);
        if (tj->data != NULL) {
            mf_datasets_release(mf_registry_datasets(mf_job_registry(j)), tj->data);
        }
    }
}

const mf_job_type mf_job_type_train = {
    .codec = &mf_train_codec,
    .state_size = sizeof(train_job),
    .prepare = prepare,
    .slice = slice,
    .cancel = NULL,
    .deinit = deinit,
};
