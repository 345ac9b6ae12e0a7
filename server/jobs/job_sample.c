/* SPDX-License-Identifier: MIT */
/*
 * job_sample.c - the "sample" job: a sampling request run as a job, for
 * requests too big to wait on (or a client that wants to resume its stream).
 *
 * Events: samples in chunks of SAMPLE_JOB_CHUNK rows as they are made (each
 * with its offset), a progress event after each chunk (rows done of n, phase
 * "sampling"), then, when asked for, progress n of n in phase "metrics" and
 * the metrics of the whole set.  The result is the sample result of POST /v1/samples.  Rows
 * are drawn chunk by chunk with the same noise as one run over all rows, so
 * the samples do not depend on how the job was sliced.
 */
#include <stdlib.h>

#include "api_json.h"
#include "clock.h"
#include "evaluate.h"
#include "job_type.h"
#include "mem.h"
#include "metrics_json.h"
#include "sample_batch.h"
#include "sample_codec.h"
#include "sampler.h"
#include "steer.h"

#define SAMPLE_JOB_CHUNK 1024 /* rows per samples event */

typedef struct sample_job {
    float *x;        /* (n, D), data space */
    float *cond;     /* (n, C) each row's condition (conditional models), or NULL */
    float *target;   /* (n) each row's target (reward guidance), or NULL */
    size_t next_row; /* rows done */
} sample_job;

/* The model's limits and defaults, as for POST /v1/samples (under /params), and the
 * job's budget. */
static mf_err prepare(mf_job *j, mf_diag *d)
{
    mf_sample_req *q = mf_job_params(j);
    const mf_model *m = mf_job_model(j);
    uint64_t seed = q->has_seed ? q->seed : mf_job_random_seed(j);
    mf_err err = mf_sample_resolve(q, m, mf_job_limits(j), seed, "/params", d);
    if (err != MF_OK) {
        return err;
    }
    mf_sampler_opts o = mf_sample_opts(q, m);
    double evals = (double) mf_sampler_n_evals(&o) * (double) mf_steer_evals_per_step(q);
    return mf_sample_check_budget(q, &m->net->cfg, evals, SAMPLE_JOB_CHUNK, mf_job_limits(j),
                                  mf_job_flops(j), d);
}

/* All rows are made: the metrics, then the result. */
static mf_job_step finish(mf_job *j)
{
    sample_job *sj = mf_job_priv(j);
    const mf_sample_req *q = mf_job_params(j);
    const mf_model *m = mf_job_model(j);
    json_t *mj = NULL;
    mf_diag skipped = {0}; /* why there are no metrics */
    if (q->metrics) {
        mf_job_progress(j, q->n, q->n, MF_PHASE_METRICS, true);
        mf_metrics met;
        if (mf_eval_metrics(m, NULL, sj->x, q->n, NULL, 0, &met, &skipped) == MF_OK) {
            mj = mf_json_metrics(&met);
            mf_job_event(j, "metrics", json_incref(mj));
        }
    }
    mf_sample_view v = {.req = q,
                        .x = sj->x,
                        .D = m->net->cfg.data_dim,
                        .metrics = mj,
                        .metrics_skipped = skipped.msg[0] != '\0' ? skipped.msg : NULL};
    char *result = mf_json_take_dump(mf_json_sample_result(&v));
    char *metrics = mj != NULL ? mf_json_take_dump(json_incref(mj)) : NULL;
    json_decref(mj);
    if (metrics != NULL) {
        mf_job_metrics(j, metrics);
    }
    mf_job_count_samples(j, q->n);
    if (result == NULL) {
        mf_job_fail(j, "internal", "cannot encode the result", MF_ENOMEM);
    } else {
        mf_job_succeed(j, result);
    }
    free(result);
    free(metrics);
    return MF_JOB_DONE;
}

/* Chunks of rows until the deadline. */
static mf_job_step slice(mf_job *j, double deadline)
{
    sample_job *sj = mf_job_priv(j);
    const mf_sample_req *q = mf_job_params(j);
    const mf_model *m = mf_job_model(j);
    size_t D = m->net->cfg.data_dim;
    if (sj->x == NULL) {
        mf_job_progress(j, 0, q->n, NULL, false);
        sj->x = mf_alloc_floats(q->n * D);
        mf_err err = sj->x == NULL ? MF_ENOMEM : mf_steer_rows(q, m, &sj->cond, &sj->target);
        if (err != MF_OK) {
            mf_job_fail(j, "internal", "cannot allocate the samples", err);
            return MF_JOB_DONE;
        }
    }
    while (sj->next_row < q->n) {
        size_t r0 = sj->next_row,
               rows = q->n - r0 < SAMPLE_JOB_CHUNK ? q->n - r0 : SAMPLE_JOB_CHUNK;
        mf_sampler_opts o = mf_sample_opts(q, m);
        o.seed = q->seed;
        o.first_index = r0;
        o.cancel = mf_job_cancel_flag(j);
        size_t C = m->net->cfg.cond_dim;
        mf_guide g = mf_steer_guide(q, m, sj->cond != NULL ? sj->cond + r0 * C : NULL,
                                    sj->target != NULL ? sj->target + r0 : NULL);
        bool guided = sj->cond != NULL || sj->target != NULL;
        mf_err err = mf_par_sample_guided(mf_job_team(j), m->net, &m->sched, &o, guided ? &g : NULL,
                                          sj->x + r0 * D, rows);
        if (err == MF_ECANCELED || mf_job_stop_requested(j)) {
            return MF_JOB_MORE; /* the scheduler cancels it */
        }
        if (err != MF_OK) {
            mf_job_fail(j, "internal", "sampling failed", err);
            return MF_JOB_DONE;
        }
        mf_model_to_data(m, sj->x + r0 * D, rows * D);
        sj->next_row += rows;
        mf_job_event(j, "samples",
                     mf_json_event_samples(mf_job_id(j), r0, sj->x + r0 * D, rows, D));
        mf_job_progress(j, sj->next_row, q->n, MF_PHASE_SAMPLING, true);
        if (mf_mono_s() > deadline && sj->next_row < q->n) {
            return MF_JOB_MORE;
        }
    }
    return finish(j);
}

static void deinit(mf_job *j)
{
    sample_job *sj = mf_job_priv(j);
    if (sj != NULL) {
        mf_free_aligned(sj->x);
        mf_free_aligned(sj->cond);
        mf_free_aligned(sj->target);
    }
}

const mf_job_type mf_job_type_sample = {
    .codec = &mf_sample_codec,
    .state_size = sizeof(sample_job),
    .prepare = prepare,
    .slice = slice,
    .cancel = NULL,
    .deinit = deinit,
};
