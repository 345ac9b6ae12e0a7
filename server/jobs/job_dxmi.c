/* SPDX-License-Identifier: MIT */
/*
 * job_dxmi.c - the finetune.dxmi job: DxMI (core/dxmi.h; ALGORITHMS.md
 * `finetune.dxmi`) in time slices of whole iterations.
 *
 *   prepare   the parent (unconditional), the data (params.dataset, else
 *             the parent's "dataset": a built-in name or an upload, held
 *             while the job lives), the settings not given from core's
 *             recipe for the data's dimension (mf_dxmi_opts_for_dim: 5
 *             steps up to 8 dimensions, 10 above, ...), core's check of the
 *             settings, and the out_model;
 *   slice 1   the rows (training pool and held-out rows, core/rcgd_rows.h),
 *             the run, and the evaluation of the un-tuned T-step sampler:
 *             a metrics event for iteration 0 and its samples;
 *   slices    iterations on the job's team; progress per iteration; after
 *             every eval_every-th (and the last) a checkpoint, then a metrics
 *             event (proto/jobs/dxmi_events.h) and a samples event;
 *   last      the DxMI model (the fine-tuned eps-network, its short chain and
 *             sigma, the energy and value networks, the training data's
 *             energy quantiles: core/model_dxmi.h) enters the registry.
 *
 * Data batches: core/dxmi_eval.h's mf_dxmi_data_batch from the training
 * pool; a generated built-in set's pool is POOL_ROWS points of its training
 * stream (fresh enough for 2-D toys; the reference draws fresh points every
 * iteration).
 *
 * Checkpoints: the model file of the current state (metadata
 * dxmi_iterations and dxmi_s2 besides the DxMI parts), written before each
 * evaluation.  A job re-run after a crash resumes from it (Adam's moments
 * restart: core/dxmi.h) and emits only the evaluations its stored metrics
 * do not cover.  A cancelled job keeps what it has as its model once the
 * sampler has been updated (after the warm-up).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_json.h"
#include "clock.h"
#include "datasets.h"
#include "dxmi.h"
#include "dxmi_codec.h"
#include "dxmi_eval.h"
#include "dxmi_events.h"
#include "finetune_kit.h"
#include "job_type.h"
#include "log.h"
#include "mem.h"
#include "model_dxmi.h"
#include "numfmt.h"
#include "potential.h"
#include "rcgd_rows.h"

#define POOL_ROWS     65536 /* points of a generated set's training pool */
#define QUANTILE_ROWS 20000 /* training rows whose energies give the quantiles */
#define EVAL_SEED_TAG UINT64_C(0x64782d6576616c) /* "dx-eval" */

typedef struct dxmi_job {
    mf_reg_dataset *data; /* an uploaded data set, held; NULL for a built-in one */
    bool builtin;
    mf_dataset_id builtin_id;
    mf_rcgd_rows rows;
    mf_dxmi_data dd;
    mf_dxmi *dx;
    mf_dxmi_eval_opts eo;
    mf_dxmi_eval last_eval;
    mf_dxmi_stats last_stats;
    bool have_stats;
    float *batch;     /* (B, D) model space */
    float *samples;   /* (n_eval, D) data space */
    size_t evaluated; /* iterations evaluated: the next evaluation is due after more */
    bool evaluated_0;
} dxmi_job;

static mf_datasets *datasets_of(mf_job *j)
{
    return mf_registry_datasets(mf_job_registry(j));
}

static void deinit(mf_job *j)
{
    dxmi_job *xj = mf_job_priv(j);
    if (xj == NULL) {
        return;
    }
    mf_dxmi_free(xj->dx);
    mf_rcgd_rows_free(&xj->rows);
    mf_free_aligned(xj->batch);
    mf_free_aligned(xj->samples);
    if (xj->data != NULL) {
        mf_datasets_release(datasets_of(j), xj->data);
    }
}

/* The data set's name: the request's, else the parent's metadata ("" when neither). */
static const char *dataset_name(mf_job *j)
{
    const mf_dxmi_req *q = mf_job_params(j);
    const char *ds = mf_model_get_meta(mf_job_model(j), "dataset");
    return q->dataset[0] != '\0' ? q->dataset : (ds != NULL ? ds : "");
}

/* core's field name of an option as the request's JSON pointer. */
static void pointer_of(const char *field, char *out, size_t cap)
{
    snprintf(out, cap, "/params/%s", strcmp(field, "T") == 0 ? "steps" : field);
}

static mf_err prepare(mf_job *j, mf_diag *d)
{
    dxmi_job *xj = mf_job_priv(j);
    mf_dxmi_req *q = mf_job_params(j);
    const mf_model *m = mf_job_model(j);
    size_t D = m->net->cfg.data_dim;
    if (mf_pot_is_potential(m->net)) {
        return mf_diag_setc(d, MF_ERANGE, "impossible", "/model",
                            "model %s is a potential network (prediction potential); finetune.dxmi "
                            "fine-tunes eps networks",
                            mf_job_model_id(j));
    }
    if (m->net->cfg.cond_dim != 0) {
        return mf_diag_setc(d, MF_ERANGE, "impossible", "/model",
                            "model %s is conditional; finetune.dxmi distils an unconditional one",
                            mf_job_model_id(j));
    }
    const char *ds = dataset_name(j);
    const char *field = q->dataset[0] != '\0' ? "/params/dataset" : "/model";
    if (ds[0] == '\0') {
        return mf_diag_setc(d, MF_ERANGE, "impossible", "/params/dataset",
                            "model %s names no dataset; give params.dataset (a built-in set or "
                            "an uploaded id)",
                            mf_job_model_id(j));
    }
    xj->builtin = mf_dataset_lookup(ds, &xj->builtin_id) == MF_OK;
    if (!xj->builtin) {
        mf_datasets *reg = datasets_of(j);
        xj->data = reg != NULL ? mf_datasets_get_for(reg, ds, mf_job_owner(j)) : NULL;
        if (xj->data == NULL || xj->data->table == NULL) {
            return mf_diag_setc(d, MF_ENOTFOUND, "dataset_not_found", field,
                                "no dataset with id %s (GET /v1/datasets lists them)", ds);
        }
    }
    size_t dD = xj->builtin ? mf_dataset_dim(xj->builtin_id) : xj->data->table->n_dims;
    if (dD != D) {
        return mf_diag_setc(d, MF_ERANGE, "impossible", field,
                            "model %s has dimension %zu but dataset %s has %zu", mf_job_model_id(j),
                            D, ds, dD);
    }
    /* the settings not given: the recipe for the data's dimension (core/dxmi.h) */
    mf_dxmi_opts rec = mf_dxmi_opts_for_dim(D);
    size_t max_batch = mf_job_limits(j)->max_batch, max_iters = mf_job_limits(j)->max_train_steps;
    q->o.T = q->o.T != 0 ? q->o.T : rec.T;
    q->o.tau_entropy = q->o.tau_entropy >= 0 ? q->o.tau_entropy : rec.tau_entropy;
    q->o.lr_sampler = q->o.lr_sampler >= 0 ? q->o.lr_sampler : rec.lr_sampler;
    q->o.lr_energy = q->o.lr_energy >= 0 ? q->o.lr_energy : rec.lr_energy;
    q->o.batch = q->o.batch != 0 ? q->o.batch : (rec.batch < max_batch ? rec.batch : max_batch);
    if (q->iters == 0) {
        size_t it = mf_dxmi_iters_for_dim(D);
        q->iters = it < max_iters ? it : max_iters;
    }
    if (q->o.n_generator > q->o.T) {
        return mf_diag_setc(d, MF_ERANGE, "impossible", "/params/n_generator",
                            "n_generator is %zu but there are only %zu sampler steps",
                            q->o.n_generator, q->o.T);
    }
    mf_diag sub = {0};
    if (mf_dxmi_opts_check(&q->o, &sub) != MF_OK) {
        char ptr[160];
        pointer_of(sub.field, ptr, sizeof ptr);
        return mf_diag_setc(d, MF_ERANGE, "bad_value", ptr, "%s", sub.msg);
    }
    size_t n_rows = xj->builtin ? POOL_ROWS : xj->data->table->n_rows;
    mf_err err =
        mf_dxmi_check_budget(q, &m->net->cfg, n_rows, mf_job_limits(j), mf_job_flops(j), d);
    if (err != MF_OK) {
        return err;
    }
    mf_var_sched v;
    if (mf_var_sched_init(&m->sched, q->o.T, q->o.schedule, &v) != MF_OK) {
        return mf_diag_setc(d, MF_ERANGE, "impossible", "/params/schedule",
                            "no %s short chain of %zu steps reaches the end of model %s's "
                            "schedule %s",
                            mf_var_sched_kind_name(q->o.schedule), q->o.T, mf_job_model_id(j),
                            m->sched.spec);
    }
    mf_job_progress(j, 0, q->iters, NULL, false);
    return q->out_model[0] != '\0' ? mf_job_reserve_model(j, q->out_model, "/params/out_model", d)
                                   : MF_OK;
}

/* ---- the model file ----------------------------------------------------------------- */

/* The DxMI model of the current state: the parent's file with the DxMI parts. */
static mf_err make_model(mf_job *j, dxmi_job *xj, bool with_quantiles, mf_model **ret)
{
    mf_dxmi *dx = xj->dx;
    const mf_dxmi_req *q = mf_job_params(j);
    double quant[MF_ENERGY_N_QUANTILES];
    mf_err err = MF_OK;
    if (with_quantiles) {
        /* the training data's energies: the reference of every anomaly score */
        size_t n = xj->dd.n_train < QUANTILE_ROWS ? xj->dd.n_train : QUANTILE_ROWS;
        double *e = malloc(n * sizeof *e);
        err = e != NULL ? mf_dxmi_energies(mf_dxmi_energy(dx), &xj->dd, xj->dd.train, n, e)
                        : MF_ENOMEM;
        if (err == MF_OK) {
            err = mf_energy_quantiles(e, n, quant);
        }
        free(e);
    } else {
        for (size_t i = 0; i < MF_ENERGY_N_QUANTILES; i++) {
            quant[i] = 0; /* a checkpoint's: never scored */
        }
    }
    mf_model *m = NULL;
    if (err == MF_OK) {
        err = mf_model_derive(mf_job_model(j), &m);
    }
    if (err != MF_OK) {
        return err;
    }
    const mf_mlp *net = mf_dxmi_eps(dx);
    memcpy(m->net->params, net->params, net->n_params * sizeof(float));
    mf_diag d = {0};
    char it[32], s2[MF_VAR_MAX_T * MF_NUMFMT_CAP] = "";
    snprintf(it, sizeof it, "%zu", mf_dxmi_iters_done(dx));
    const double *s2v = mf_dxmi_s2(dx);
    for (size_t t = 0, o = 0; t < q->o.T; t++) {
        char num[MF_NUMFMT_CAP]; /* shortest round-trip: a resume restores s2 exactly */
        mf_numfmt_double(num, s2v[t]);
        o += (size_t) snprintf(s2 + o, sizeof s2 - o, "%s%s", t > 0 ? "," : "", num);
    }
    err = mf_model_set_var(m, mf_dxmi_sched(dx), q->o.schedule, &d);
    if (err == MF_OK) {
        err = mf_model_set_energy(m, mf_dxmi_energy(dx), mf_dxmi_value(dx), q->o.value_emb, quant,
                                  &d);
    }
    if (err == MF_OK) {
        err = mf_model_set_meta(m, "dxmi", mf_job_params_json(j), &d);
    }
    if (err == MF_OK) {
        err = mf_model_set_meta(m, "dxmi_iterations", it, &d);
    }
    if (err == MF_OK) {
        err = mf_model_set_meta(m, "dxmi_s2", s2, &d);
    }
    if (err != MF_OK) {
        mf_log(MF_LOG_WARN, NULL, mf_job_id(j), "cannot make the DxMI model: %s",
               d.msg[0] != '\0' ? d.msg : mf_strerror(err));
        mf_model_free(m);
        return err;
    }
    *ret = m;
    return MF_OK;
}

/* Parses "a,b,c" into T doubles; true when exactly T finite positive numbers. */
static bool parse_s2(const char *s, size_t T, double *out)
{
    for (size_t t = 0; s != NULL && t < T; t++) {
        char *end = NULL;
        out[t] = strtod(s, &end);
        if (end == s || !isfinite(out[t]) || out[t] <= 0 || *end != (t + 1 < T ? ',' : '\0')) {
            return false;
        }
        s = end + (t + 1 < T);
    }
    return s != NULL;
}

/* After a crash: the checkpoint, if usable, and the evaluations already emitted. */
static void resume(mf_job *j, dxmi_job *xj)
{
    const mf_dxmi_req *q = mf_job_params(j);
    char *stored = mf_job_stored_metrics(j);
    long it = mf_json_metrics_iteration(stored);
    free(stored);
    /* the last evaluation emitted (a checkpoint precedes its iteration's evaluation,
     * so an iteration checkpointed but not yet evaluated is evaluated now) */
    xj->evaluated = it > 0 ? (size_t) it : 0;
    xj->evaluated_0 = it >= 0;
    mf_model *m = NULL;
    if (mf_ft_checkpoint_load(j, 1u << 30, &m) != MF_OK) {
        return;
    }
    const mf_model_dxmi *x = mf_model_get_dxmi(m);
    const char *its = mf_model_get_meta(m, "dxmi_iterations");
    char *end = NULL;
    unsigned long k = its != NULL ? strtoul(its, &end, 10) : 0;
    double s2[MF_VAR_MAX_T];
    if (x != NULL && x->has_var && x->energy != NULL && x->var.T == q->o.T && its != NULL &&
        end != its && *end == '\0' && k <= q->iters &&
        parse_s2(mf_model_get_meta(m, "dxmi_s2"), q->o.T, s2) &&
        m->net->n_params == mf_dxmi_eps(xj->dx)->n_params &&
        mf_dxmi_restore(xj->dx, k, m->net->params, x->var.sigma, x->energy, x->value, s2) ==
            MF_OK) {
        mf_log(MF_LOG_INFO, NULL, mf_job_id(j), "resumed from the checkpoint after iteration %lu",
               k);
        xj->evaluated_0 = true; /* the checkpoint comes after iteration 0's evaluation */
    }
    mf_model_free(m);
}

/* ---- stages ------------------------------------------------------------------------- */

static mf_err init(mf_job *j, mf_diag *d)
{
    dxmi_job *xj = mf_job_priv(j);
    const mf_dxmi_req *q = mf_job_params(j);
    const mf_model *parent = mf_job_model(j);
    mf_rcgd_source src = {
        .builtin = xj->builtin,
        .id = xj->builtin_id,
        .table = xj->data != NULL ? xj->data->table : NULL,
        .n_unl = POOL_ROWS,
        .seed = q->o.seed,
        .no_labels = true,
    };
    mf_err err = mf_rcgd_rows_gather(&src, &xj->rows, d);
    if (err != MF_OK) {
        return err;
    }
    if (xj->rows.n_held == 0) {
        return mf_diag_set(d, MF_EINVAL, "dataset",
                           "the dataset has too few rows to hold some out for the evaluation");
    }
    size_t D = xj->rows.D;
    xj->dd = (mf_dxmi_data){
        .D = D,
        .train = xj->rows.x_unl,
        .n_train = xj->rows.n_unl,
        .held = xj->rows.x_held,
        .n_held = xj->rows.n_held,
        .offset = parent->data_offset,
        .scale = parent->data_scale,
        .eight_gaussians = xj->builtin && xj->builtin_id == MF_DATASET_EIGHT_GAUSSIANS,
    };
    xj->eo = mf_dxmi_eval_opts_default(q->o.seed ^ EVAL_SEED_TAG);
    xj->eo.n = q->n_eval;
    xj->batch = mf_alloc_floats(q->o.batch * D);
    xj->samples = mf_alloc_floats(q->n_eval * D);
    if (xj->batch == NULL || xj->samples == NULL) {
        return MF_ENOMEM;
    }
    /* the rollouts' forward passes in the daemon's precision (bf16 by default: the DxMI
     * oracles hold with it, tests/core/test_dxmi_oracle.c; iterations 1.3x faster) */
    mf_dxmi_opts o = q->o;
    o.rollout = mf_job_precision(j);
    err = mf_dxmi_new(parent->net, &parent->sched, &o, &xj->dx, d);
    if (err == MF_OK) {
        resume(j, xj);
    }
    return err;
}

/* Evaluates the current state (iteration it): the metrics and samples events. */
static mf_err evaluate(mf_job *j, dxmi_job *xj, size_t it)
{
    const mf_dxmi_req *q = mf_job_params(j);
    mf_err err = mf_dxmi_evaluate(xj->dx, &xj->dd, &xj->eo, xj->samples, &xj->last_eval);
    if (err != MF_OK) {
        return err;
    }
    json_t *ev =
        mf_json_dxmi_metrics(mf_job_id(j), it, q->iters, xj->have_stats ? &xj->last_stats : NULL,
                             mf_dxmi_sched(xj->dx), &xj->last_eval, &xj->eo);
    char *text = ev != NULL ? mf_json_dumps(ev, MF_JSON_DUMP_FLAGS) : NULL;
    /* the events first, then the metrics that say they were emitted (a crash
     * between the two repeats this evaluation rather than losing it) */
    mf_job_event(j, "metrics", ev);
    mf_job_event(
        j, "samples",
        mf_json_event_iteration_samples(mf_job_id(j), it, xj->samples, q->n_eval, xj->dd.D));
    if (text != NULL) {
        mf_job_metrics(j, text);
    }
    free(text);
    mf_job_count_samples(j, (uint64_t) q->n_eval * xj->eo.n_seeds);
    const mf_dxmi_eval *e = &xj->last_eval;
    mf_log(MF_LOG_INFO, NULL, mf_job_id(j),
           "iteration %zu: SW2 %.4g (floor %.4g, %.2fx), energy AUC %.3f, kNN entropy %.4g", it,
           e->sw2, e->sw2_floor, e->sw2 / e->sw2_floor, e->auc, e->knn);
    return MF_OK;
}

/* The model into the registry as ret_id. */
static mf_err publish(mf_job *j, dxmi_job *xj, char ret_id[MF_REQ_ID_MAX + 1])
{
    const mf_dxmi_req *q = mf_job_params(j);
    mf_ft_model_name(j, q->out_model, mf_job_model_id(j), "dxmi", 0, ret_id);
    mf_model *m = NULL;
    mf_diag d = {0};
    mf_err err = make_model(j, xj, true, &m);
    if (err == MF_OK) {
        err = mf_ft_publish(j, m, ret_id, mf_job_model_id(j), NULL, &d);
    }
    if (err != MF_OK) {
        mf_model_free(m);
        mf_log(MF_LOG_WARN, NULL, mf_job_id(j), "cannot publish model %s: %s", ret_id,
               d.msg[0] != '\0' ? d.msg : mf_strerror(err));
    }
    return err;
}

/* A cancelled job keeps its sampler once the warm-up is over. */
static void cancel(mf_job *j)
{
    dxmi_job *xj = mf_job_priv(j);
    const mf_dxmi_req *q = mf_job_params(j);
    char msg[256] = "cancelled by request", id[MF_REQ_ID_MAX + 1];
    size_t k = xj->dx != NULL ? mf_dxmi_iters_done(xj->dx) : 0;
    if (k > q->o.warmup && publish(j, xj, id) == MF_OK) {
        snprintf(msg, sizeof msg,
                 "cancelled by request after %zu of %zu iterations; model %s holds them", k,
                 q->iters, id);
    }
    mf_ft_checkpoint_remove(j);
    mf_job_cancel(j, msg);
}

static mf_job_step fail(mf_job *j, const char *code, const char *what, mf_err err, const mf_diag *d)
{
    char buf[400];
    snprintf(buf, sizeof buf, "%s%s%s", what, d != NULL && d->msg[0] != '\0' ? ": " : "",
             d != NULL ? d->msg : "");
    mf_ft_checkpoint_remove(j);
    mf_job_fail(j, code, buf, err);
    return MF_JOB_DONE;
}

static mf_job_step finish(mf_job *j, dxmi_job *xj)
{
    const mf_dxmi_req *q = mf_job_params(j);
    char id[MF_REQ_ID_MAX + 1];
    mf_err err = publish(j, xj, id);
    mf_ft_checkpoint_remove(j);
    if (err != MF_OK) {
        return fail(j, "save_failed", "cannot save the DxMI model", err, NULL);
    }
    char *result = mf_json_dxmi_result(id, mf_dxmi_iters_done(xj->dx), q->o.T, &xj->last_eval);
    if (result == NULL) {
        return fail(j, "internal", "cannot encode the result", MF_ENOMEM, NULL);
    }
    mf_job_succeed(j, result);
    free(result);
    return MF_JOB_DONE;
}

/* Checkpoint (unless it is the end) and evaluation after iteration k when one is due. */
static mf_err maybe_evaluate(mf_job *j, dxmi_job *xj, size_t k)
{
    const mf_dxmi_req *q = mf_job_params(j);
    if (k <= xj->evaluated || (k % q->eval_every != 0 && k != q->iters)) {
        return MF_OK;
    }
    if (k < q->iters) {
        mf_model *m = NULL;
        if (make_model(j, xj, false, &m) == MF_OK) {
            (void) mf_ft_checkpoint_save(j, m);
        }
        mf_model_free(m);
    }
    mf_err err = evaluate(j, xj, k);
    if (err == MF_OK) {
        xj->evaluated = k;
    }
    return err;
}

static mf_job_step slice(mf_job *j, double deadline)
{
    dxmi_job *xj = mf_job_priv(j);
    const mf_dxmi_req *q = mf_job_params(j);
    mf_par *team = mf_job_team(j);
    if (xj->dx == NULL) {
        mf_diag d = {0};
        mf_err err = init(j, &d);
        if (err != MF_OK) {
            return fail(j, err == MF_ENOMEM ? "internal" : "bad_data",
                        "cannot set up the distillation", err, &d);
        }
    }
    if (mf_dxmi_set_executor(xj->dx, mf_par_for_exec, team, mf_par_size(team)) != MF_OK) {
        return fail(j, "internal", "cannot set up the team's workspaces", MF_ENOMEM, NULL);
    }
    if (!xj->evaluated_0) {
        mf_job_progress(j, 0, q->iters, "un-tuned sampler", true);
        mf_err err = evaluate(j, xj, 0);
        if (err != MF_OK) {
            return fail(j, "internal", "cannot evaluate the un-tuned sampler", err, NULL);
        }
        xj->evaluated_0 = true;
    }
    for (;;) {
        size_t k = mf_dxmi_iters_done(xj->dx);
        mf_err err = maybe_evaluate(j, xj, k);
        if (err == MF_ERANGE) {
            return fail(j, "diverged", "the sampler's samples are not finite; lower lr_sampler",
                        err, NULL);
        }
        if (err != MF_OK) {
            return fail(j, "internal", "cannot evaluate the iteration", err, NULL);
        }
        if (k >= q->iters) {
            return finish(j, xj);
        }
        if (mf_job_stop_requested(j) || mf_mono_s() > deadline) {
            return MF_JOB_MORE;
        }
        mf_dxmi_data_batch(&xj->dd, q->o.seed, k, q->o.batch, xj->batch);
        err = mf_dxmi_step(xj->dx, xj->batch, &xj->last_stats);
        if (err != MF_OK) {
            return fail(j, "diverged", "a DxMI loss is not finite; lower the learning rates", err,
                        NULL);
        }
        xj->have_stats = true;
        char phase[48];
        snprintf(phase, sizeof phase, "%s %zu of %zu", k < q->o.warmup ? "warm-up" : "iteration",
                 k + 1, q->iters);
        mf_job_progress(j, k + 1, q->iters, phase, k + 1 == q->iters);
    }
}

const mf_job_type mf_job_type_dxmi = {
    .codec = &mf_dxmi_codec,
    .state_size = sizeof(dxmi_job),
    .prepare = prepare,
    .slice = slice,
    .cancel = cancel,
    .deinit = deinit,
};
