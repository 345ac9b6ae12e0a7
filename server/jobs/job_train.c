/* SPDX-License-Identifier: MIT */
/*
 * job_train.c - the "train" job: a new model trained by denoising score
 * matching on a built-in data set, in time slices of optimiser steps.
 *
 * Events: progress (steps) at most every 0.5 s and at the last step.  The
 * result is a new model in the registry, named out_model or
 * "<dataset>-<job id>", holding the EMA weights.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_json.h"
#include "clock.h"
#include "dataset.h"
#include "finetune_kit.h"
#include "job_type.h"
#include "mem.h"
#include "train.h"
#include "train_codec.h"

typedef struct train_job {
    mf_model *model; /* the model being trained; the registry's once published */
    mf_trainer *tr;
    float *batch;
    size_t step;
    double loss_avg;
    float off, sc;
    mf_dataset_id ds;
} train_job;

/* The model it will make: its out_model is not taken. */
static mf_err prepare(mf_job *j, mf_diag *d)
{
    const mf_train_req *q = mf_job_params(j);
    return q->out_model[0] != '\0' ? mf_job_reserve_model(j, q->out_model, "/params/out_model", d)
                                   : MF_OK;
}

static mf_err init(mf_job *j)
{
    train_job *tj = mf_job_priv(j);
    const mf_train_req *q = mf_job_params(j);
    if (mf_dataset_lookup(q->dataset, &tj->ds) != MF_OK) {
        return MF_EINVAL;
    }
    mf_mlp_config cfg = {.data_dim = (uint32_t) mf_dataset_dim(tj->ds),
                         .emb_dim = (uint32_t) q->emb,
                         .n_hidden = (uint32_t) q->n_hidden};
    memcpy(cfg.hidden, q->hidden, q->n_hidden * sizeof cfg.hidden[0]);
    mf_diag d = {0};
    mf_err err = mf_model_new(&cfg, q->schedule, &tj->model, &d);
    if (err != MF_OK) {
        return err;
    }
    mf_mlp_init_params(tj->model->net, q->seed);
    mf_train_opts to = mf_train_opts_default();
    to.batch = q->batch;
    to.n_steps = q->steps;
    to.lr = (float) q->lr;
    to.lr_min = (float) q->lr_min;
    to.warmup = q->warmup;
    to.ema_decay = (float) q->ema;
    to.clip_grad = q->clip;
    to.seed = q->seed;
    err = mf_trainer_new(tj->model->net, &tj->model->sched, &to, &tj->tr);
    if (err != MF_OK) {
        return err;
    }
    mf_dataset_norm(tj->ds, &tj->off, &tj->sc);
    tj->batch = mf_alloc_floats(q->batch * cfg.data_dim);
    mf_job_progress(j, 0, q->steps, NULL, false);
    tj->loss_avg = NAN;
    return tj->batch == NULL ? MF_ENOMEM : MF_OK;
}

/* Saves the trained model (EMA weights) to the registry; *result gets the job's result. */
static mf_err save(mf_job *j, char **result)
{
    train_job *tj = mf_job_priv(j);
    const mf_train_req *q = mf_job_params(j);
    mf_model *m = tj->model;
    memcpy(m->net->params, mf_trainer_ema(tj->tr)->params, m->net->n_params * sizeof(float));
    char out[MF_REQ_ID_MAX + 1];
    mf_ft_model_name(j, q->out_model, q->dataset, NULL, out);
    mf_diag d = {0};
    mf_err err = mf_model_set_normalisation(m, tj->off, tj->sc);
    if (err == MF_OK) {
        err = mf_model_set_meta(m, "dataset", q->dataset, &d);
    }
    if (err == MF_OK) {
        err = mf_model_set_meta(m, "dequantised", q->dequantise ? "true" : "false", &d);
    }
    if (err == MF_OK) {
        err = mf_ft_publish(j, m, out, "", &d);
    }
    if (err != MF_OK) {
        return err;
    }
    tj->model = NULL; /* the registry has it */
    *result = mf_json_train_result(out, tj->step, tj->loss_avg);
    return *result != NULL ? MF_OK : MF_ENOMEM;
}

static mf_job_step slice(mf_job *j, double deadline)
{
    train_job *tj = mf_job_priv(j);
    const mf_train_req *q = mf_job_params(j);
    if (tj->tr == NULL) {
        mf_err err = init(j);
        if (err != MF_OK) {
            mf_job_fail(j, "bad_params", "cannot set up training", err);
            return MF_JOB_DONE;
        }
    }
    while (tj->step < q->steps) {
        if (mf_job_stop_requested(j)) {
            return MF_JOB_MORE;
        }
        if (mf_dataset_train_batch(tj->ds, q->seed, tj->step, q->batch, q->dequantise, tj->off,
                                   tj->sc, tj->batch) != MF_OK) {
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
        tj->step++;
        mf_job_progress(j, tj->step, q->steps, "training", tj->step == q->steps);
        if (mf_mono_s() > deadline && tj->step < q->steps) {
            return MF_JOB_MORE;
        }
    }
    char *result = NULL;
    mf_err err = save(j, &result);
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
