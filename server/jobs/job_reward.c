/* SPDX-License-Identifier: MIT */
/*
 * job_reward.c - the finetune.reward job: reward-directed conditional
 * diffusion (core/rcgd.h; ALGORITHMS.md `finetune.reward`) in time slices.
 *
 *   prepare   the data set (a built-in name or an upload, held while the job
 *             lives, like the train job's), the labels (an upload), the
 *             parent (optional, unconditional, of the data's dimension), the
 *             settings as core checks them, and the out_model;
 *   slice 1   the rows (core/rcgd_rows.h), the reward model's fit and the
 *             pseudo-labels: a metrics event "reward_model";
 *   slices    training steps on the job's team; progress (steps) and every
 *             TRAIN_EVENTS-th of the steps a metrics event "training" with
 *             the batch loss;
 *   then      the model is finished and, per target, sampled and measured:
 *             a metrics event "target" and a samples event each
 *             (proto/jobs/reward_events.h); the job's metrics gather them;
 *   last      the conditional model enters the registry; the result is
 *             {"model", "steps", "loss"}.
 *
 * Every per-target sample draws the same noise (seed fixed: common random
 * numbers), so targets differ by their condition only.  A job cancelled once
 * training is done keeps its model.  A job restarted after a crash runs again
 * from the start with the same seed (the same rows and steps), emitting only
 * the events its stored metrics do not already cover.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_json.h"
#include "clock.h"
#include "datasets.h"
#include "finetune_kit.h"
#include "job_type.h"
#include "log.h"
#include "mem.h"
#include "potential.h"
#include "rcgd.h"
#include "rcgd_rows.h"
#include "reward_codec.h"
#include "reward_events.h"
#include "schedule.h"

#define TRAIN_EVENTS 20 /* "training" events per run (at most) */

typedef struct reward_job {
    mf_reg_dataset *data;   /* an uploaded data set, held; NULL for a built-in one */
    mf_reg_dataset *labels; /* the labels' upload, held; NULL when synthetic */
    bool builtin;
    mf_dataset_id builtin_id;
    mf_rcgd *r;
    size_t n_unl, n_lab, n_held;
    double loss_avg;
    size_t target; /* targets evaluated */
    bool finished; /* the model is finished (mf_rcgd_finish) */
    json_t *fit_event;
    json_t *train_event; /* the last "training" event */
    json_t *target_events[MF_REWARD_REQ_MAX_TARGETS];
    /* a restarted job: what its earlier run already emitted */
    bool replay_fit;
    size_t replay_step, replay_targets;
    float *x; /* (n_per_target, D) one target's samples */
} reward_job;

static mf_datasets *datasets_of(mf_job *j)
{
    return mf_registry_datasets(mf_job_registry(j));
}

static void deinit(mf_job *j)
{
    reward_job *rj = mf_job_priv(j);
    if (rj == NULL) {
        return;
    }
    mf_rcgd_free(rj->r);
    mf_free_aligned(rj->x);
    json_decref(rj->fit_event);
    json_decref(rj->train_event);
    for (size_t i = 0; i < MF_REWARD_REQ_MAX_TARGETS; i++) {
        json_decref(rj->target_events[i]);
    }
    if (rj->data != NULL) {
        mf_datasets_release(datasets_of(j), rj->data);
    }
    if (rj->labels != NULL) {
        mf_datasets_release(datasets_of(j), rj->labels);
    }
}

/* An upload by id, held, or a 404 naming the field. */
static mf_err hold(mf_job *j, const char *id, const char *field, mf_reg_dataset **ret, mf_diag *d)
{
    mf_datasets *ds = datasets_of(j);
    mf_reg_dataset *e = ds != NULL ? mf_datasets_get_for(ds, id, mf_job_owner(j)) : NULL;
    if (e == NULL || e->table == NULL) {
        if (e != NULL) {
            mf_datasets_release(ds, e);
        }
        return mf_diag_setc(d, MF_ENOTFOUND, "dataset_not_found", field,
                            "no uploaded dataset with id %s%s (GET /v1/datasets lists them)", id,
                            e != NULL ? ": a built-in set has no labels" : "");
    }
    *ret = e;
    return MF_OK;
}

/* The pipeline's options from the request (the parent and ids are set by the caller). */
static mf_rcgd_opts opts_of(const mf_reward_req *q)
{
    mf_rcgd_opts o = mf_rcgd_opts_default();
    o.reward = q->reward_model;
    o.reward.seed = q->seed;
    o.nu = q->pseudo_label_noise;
    o.guidance = q->guidance.mode;
    o.w = (float) q->guidance.w;
    o.p_uncond = q->guidance.p_uncond;
    o.train = q->train;
    o.train.seed = q->seed;
    o.sampler = q->sampler;
    o.sample_steps = q->steps;
    o.eta = (float) q->eta;
    return o;
}

/* core's field of an option ("train.lr", "nu") as the request's JSON pointer. */
static void pointer_of(const char *field, char *out, size_t cap)
{
    static const struct {
        const char *core, *api;
    } map[] = {
        {"nu", "pseudo_label_noise"},  {"w", "guidance/w"},       {"p_uncond", "guidance/p_uncond"},
        {"guidance", "guidance/mode"}, {"sample_steps", "steps"}, {"reward.", "reward_model/"},
        {"train.", "train/"},
    };

    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        size_t n = strlen(map[i].core);
        bool prefix = map[i].core[n - 1] == '.';
        if (prefix ? strncmp(field, map[i].core, n) == 0 : strcmp(field, map[i].core) == 0) {
            snprintf(out, cap, "/params/%s%s", map[i].api, prefix ? field + n : "");
            return;
        }
    }
    snprintf(out, cap, "/params/%s", field);
}

/* The data set and labels exist and fit together, the parent fits, core accepts the settings,
 * the budget holds. */
static mf_err prepare(mf_job *j, mf_diag *d)
{
    reward_job *rj = mf_job_priv(j);
    const mf_reward_req *q = mf_job_params(j);
    rj->builtin = mf_dataset_lookup(q->dataset, &rj->builtin_id) == MF_OK;
    mf_err err = rj->builtin ? MF_OK : hold(j, q->dataset, "/params/dataset", &rj->data, d);
    if (err == MF_OK && q->labels[0] != '\0') {
        err = hold(j, q->labels, "/params/labels", &rj->labels, d);
    }
    if (err != MF_OK) {
        return err;
    }
    size_t D = rj->builtin ? mf_dataset_dim(rj->builtin_id) : rj->data->table->n_dims;
    if (rj->labels != NULL && rj->labels->table->n_dims != D) {
        return mf_diag_setc(d, MF_ERANGE, "impossible", "/params/labels",
                            "dataset %s has %zu columns but the labels %s have %zu", q->dataset, D,
                            q->labels, rj->labels->table->n_dims);
    }
    double probe;
    if (rj->labels == NULL &&
        (rj->builtin ? mf_dataset_true_reward(rj->builtin_id, NULL, 0, &probe) != MF_OK
                     : rj->data->table->n_labelled == 0)) {
        return mf_diag_setc(d, MF_ERANGE, "impossible", "/params/labels",
                            "dataset %s has no labelled rows%s: give labels (the id of an "
                            "uploaded dataset with a y column)",
                            q->dataset, rj->builtin ? " and no known reward" : "");
    }
    const mf_model *parent = mf_job_model(j);
    if (parent != NULL && mf_pot_is_potential(parent->net)) {
        return mf_diag_setc(d, MF_ERANGE, "impossible", "/model",
                            "model %s is a potential network (prediction potential); "
                            "finetune.reward fine-tunes eps networks",
                            mf_job_model_id(j));
    }
    if (parent != NULL && parent->net->cfg.cond_dim != 0) {
        return mf_diag_setc(d, MF_ERANGE, "impossible", "/model",
                            "model %s is conditional; the parent of finetune.reward must be "
                            "unconditional",
                            mf_job_model_id(j));
    }
    if (parent != NULL && parent->net->cfg.data_dim != D) {
        return mf_diag_setc(d, MF_ERANGE, "impossible", "/model",
                            "model %s has dimension %zu but dataset %s has %zu", mf_job_model_id(j),
                            (size_t) parent->net->cfg.data_dim, q->dataset, D);
    }
    size_t T = parent != NULL ? parent->sched.T : 0;
    mf_rcgd_opts o = opts_of(q);
    mf_diag sub = {0};
    err = mf_rcgd_opts_check(&o, &sub);
    if (err == MF_OK && T == 0) {
        /* the new network's schedule (checked above): its timesteps bound the sampler's */
        mf_schedule s;
        err = mf_schedule_init(&s, o.train.schedule, &sub);
        T = err == MF_OK ? s.T : 0;
        mf_schedule_deinit(&s);
    }
    if (err != MF_OK) {
        char ptr[160];
        pointer_of(sub.field, ptr, sizeof ptr);
        return mf_diag_setc(d, MF_ERANGE, "bad_value", ptr, "%s", sub.msg);
    }
    if (q->steps > T) {
        return mf_diag_setc(d, MF_ERANGE, "impossible", "/params/steps",
                            "steps is %zu but the model has only %zu timesteps", q->steps, T);
    }
    /* the rows it will hold: a built-in set's drawn, an upload's own, and the labels */
    size_t n_rows =
        (rj->builtin ? q->n_unlabelled : rj->data->table->n_rows) +
        (rj->labels != NULL ? rj->labels->table->n_rows : (rj->builtin ? q->n_labelled : 0));
    err = mf_reward_check_budget(q, parent != NULL ? &parent->net->cfg : NULL, D, n_rows,
                                 mf_job_limits(j), mf_job_flops(j), d);
    if (err != MF_OK) {
        return err;
    }
    mf_job_progress(j, 0, q->train.steps, NULL, false);
    return q->out_model[0] != '\0' ? mf_job_reserve_model(j, q->out_model, "/params/out_model", d)
                                   : MF_OK;
}

/* ---- events ------------------------------------------------------------------------- */

/* The job's metrics: the fit, the last training event and the targets so far. */
static void store_metrics(mf_job *j, reward_job *rj)
{
    json_t *m =
        mf_json_reward_job_metrics(rj->fit_event, rj->train_event, rj->target_events, rj->target);
    char *text = m != NULL ? mf_json_dumps(m, MF_JSON_DUMP_FLAGS) : NULL;
    if (text != NULL) {
        mf_job_metrics(j, text);
    }
    free(text);
    json_decref(m);
}

/*
 * A restarted job: its stored metrics (updated with every event) say whether the
 * fit, which training step and which targets were emitted, so none is emitted
 * again (the run repeats them exactly: same seed).
 */
static void replay_point(mf_job *j, reward_job *rj)
{
    char *stored = mf_job_stored_metrics(j);
    mf_json_reward_replay_point(stored, &rj->replay_fit, &rj->replay_step, &rj->replay_targets);
    free(stored);
}

/* ---- stages ------------------------------------------------------------------------- */

/* The rows, the pipeline, the fit and its event. */
static mf_err init(mf_job *j, mf_diag *d)
{
    reward_job *rj = mf_job_priv(j);
    const mf_reward_req *q = mf_job_params(j);
    replay_point(j, rj);
    mf_rcgd_source src = {
        .builtin = rj->builtin,
        .id = rj->builtin_id,
        .table = rj->data != NULL ? rj->data->table : NULL,
        .n_unl = q->n_unlabelled,
        .labels = rj->labels != NULL ? rj->labels->table : NULL,
        .n_lab = q->n_labelled,
        .label_noise = q->label_noise,
        .seed = q->seed,
    };
    mf_rcgd_rows rows = {0};
    mf_err err = mf_rcgd_rows_gather(&src, &rows, d);
    if (err != MF_OK) {
        return err;
    }
    rj->n_unl = rows.n_unl;
    rj->n_lab = rows.n_lab;
    rj->n_held = rows.n_held;
    mf_rcgd_opts o = opts_of(q);
    o.parent = mf_job_model(j);
    o.parent_id = o.parent != NULL ? mf_job_model_id(j) : NULL;
    o.dataset = q->dataset;
    o.label_dataset = q->labels[0] != '\0' ? q->labels : NULL;
    mf_rcgd_data data = mf_rcgd_rows_data(&rows);
    err = mf_rcgd_new(&o, &data, &rj->r, d);
    mf_rcgd_rows_free(&rows);
    mf_rcgd_fit_stats fs;
    if (err == MF_OK) {
        mf_job_progress(j, 0, q->train.steps, "reward model", true);
        err = mf_rcgd_fit(rj->r, &fs, d);
    }
    rj->x = err == MF_OK ? mf_alloc_floats(q->n_per_target * data.D) : NULL;
    if (err != MF_OK || rj->x == NULL) {
        return err != MF_OK ? err : MF_ENOMEM;
    }
    mf_reward_fit_view v = {.kind = mf_reward_kind_name(q->reward_model.kind),
                            .fit = &fs,
                            .nu = q->pseudo_label_noise,
                            .n_unl = rj->n_unl,
                            .n_lab = rj->n_lab,
                            .n_held = rj->n_held};
    rj->fit_event = mf_json_reward_fit_event(mf_job_id(j), &v);
    if (rj->fit_event == NULL) {
        return MF_ENOMEM;
    }
    mf_log(MF_LOG_INFO, NULL, mf_job_id(j),
           "reward model: train MSE %.4g, held-out R^2 %.4f; pseudo-labels mean %.4g std %.4g",
           fs.reward.train_mse, fs.reward.val_r2, fs.label_mean, fs.label_std);
    if (!rj->replay_fit) {
        mf_job_event(j, "metrics", json_incref(rj->fit_event));
        store_metrics(j, rj);
    }
    return MF_OK;
}

/* Training steps until the deadline; true when they are all done. */
static bool train(mf_job *j, reward_job *rj, double deadline, mf_err *ret_err)
{
    size_t total = mf_rcgd_steps_total(rj->r);
    size_t every = total / TRAIN_EVENTS > 0 ? total / TRAIN_EVENTS : 1;
    while (mf_rcgd_steps_done(rj->r) < total) {
        if (mf_job_stop_requested(j) || mf_mono_s() > deadline) {
            return false;
        }
        double loss;
        mf_err err = mf_rcgd_step(rj->r, &loss);
        if (err != MF_OK || !isfinite(loss)) {
            *ret_err = err != MF_OK ? err : MF_ERANGE;
            return false;
        }
        rj->loss_avg = isnan(rj->loss_avg) ? loss : 0.98 * rj->loss_avg + 0.02 * loss;
        size_t k = mf_rcgd_steps_done(rj->r);
        mf_job_progress(j, k, total, "training", k == total);
        if ((k % every == 0 || k == total) && k > rj->replay_step) {
            json_decref(rj->train_event);
            rj->train_event = mf_json_reward_train_event(mf_job_id(j), k, total, loss);
            mf_job_event(j, "metrics", json_incref(rj->train_event));
            store_metrics(j, rj);
        }
    }
    return true;
}

/* Target k: samples, their statistics, the two events. */
static mf_err evaluate(mf_job *j, reward_job *rj, size_t k)
{
    const mf_reward_req *q = mf_job_params(j);
    double a = q->targets[k];
    size_t n = q->n_per_target, D = mf_rcgd_model(rj->r)->net->cfg.data_dim;
    mf_guide_exec ex = mf_par_guide_exec(mf_job_team(j));
    mf_rcgd_eval ev;
    mf_err err = mf_rcgd_evaluate(rj->r, &ex, a, n, q->seed, mf_job_cancel_flag(j), rj->x, &ev);
    if (err != MF_OK) {
        return err;
    }
    json_t *e = mf_json_reward_target_event(mf_job_id(j), k, a, mf_json_reward_target_metrics(&ev));
    if (e == NULL) {
        return MF_ENOMEM;
    }
    rj->target_events[k] = e;
    rj->target = k + 1;
    mf_job_count_samples(j, n);
    if (k >= rj->replay_targets) {
        mf_job_event(j, "metrics", json_incref(e));
        mf_job_event(j, "samples", mf_json_reward_samples_event(mf_job_id(j), k, a, rj->x, n, D));
        store_metrics(j, rj);
    }
    mf_log(MF_LOG_INFO, NULL, mf_job_id(j),
           "target %g: predicted reward %.4g, true %.4g (ideal %.4g), kNN entropy %.4g", a,
           ev.pred_mean, ev.true_mean, ev.ideal, ev.entropy);
    return MF_OK;
}

/* The finished model, a copy with the job's params, into the registry; ret_id its id. */
static mf_err publish(mf_job *j, reward_job *rj, char ret_id[MF_REQ_ID_MAX + 1])
{
    const mf_reward_req *q = mf_job_params(j);
    mf_ft_model_name(j, q->out_model, q->dataset, "reward", 0, ret_id);
    mf_model *m = NULL;
    mf_diag d = {0};
    mf_err err = mf_model_clone(mf_rcgd_model(rj->r), &m);
    if (err == MF_OK) {
        err = mf_model_set_meta(m, "finetune_reward", mf_job_params_json(j), &d);
    }
    if (err == MF_OK) {
        err = mf_ft_publish(j, m, ret_id, mf_job_model(j) != NULL ? mf_job_model_id(j) : "", NULL,
                            &d);
    }
    if (err != MF_OK) {
        mf_model_free(m);
        mf_log(MF_LOG_WARN, NULL, mf_job_id(j), "cannot publish model %s: %s", ret_id,
               d.msg[0] != '\0' ? d.msg : mf_strerror(err));
    }
    return err;
}

/* Finishes the run once the steps are done (idempotent). */
static mf_err finish_training(mf_job *j, reward_job *rj)
{
    if (rj->finished || mf_rcgd_steps_done(rj->r) < mf_rcgd_steps_total(rj->r)) {
        return MF_OK;
    }
    char prov[160];
    snprintf(prov, sizeof prov, "manifoldd finetune.reward job %s", mf_job_id(j));
    mf_diag d = {0};
    mf_err err = mf_rcgd_finish(rj->r, prov, time(NULL), &d);
    rj->finished = err == MF_OK;
    return err;
}

/* A cancelled job keeps its model once training is done. */
static void cancel(mf_job *j)
{
    reward_job *rj = mf_job_priv(j);
    char msg[256] = "cancelled by request", id[MF_REQ_ID_MAX + 1];
    if (rj->r != NULL && mf_rcgd_steps_done(rj->r) == mf_rcgd_steps_total(rj->r) &&
        finish_training(j, rj) == MF_OK && publish(j, rj, id) == MF_OK) {
        snprintf(msg, sizeof msg, "cancelled by request after training; model %s holds it", id);
    }
    mf_job_cancel(j, msg);
}

static mf_job_step fail(mf_job *j, const char *code, const char *what, mf_err err, const mf_diag *d)
{
    char buf[400];
    snprintf(buf, sizeof buf, "%s%s%s", what, d != NULL && d->msg[0] != '\0' ? ": " : "",
             d != NULL ? d->msg : "");
    mf_job_fail(j, code, buf, err);
    return MF_JOB_DONE;
}

static mf_job_step slice(mf_job *j, double deadline)
{
    reward_job *rj = mf_job_priv(j);
    const mf_reward_req *q = mf_job_params(j);
    if (rj->r == NULL) {
        rj->loss_avg = NAN;
        mf_diag d = {0};
        mf_err err = init(j, &d);
        if (err != MF_OK) {
            return fail(j, err == MF_ENOMEM ? "internal" : "bad_data",
                        "cannot fit the reward model", err, &d);
        }
    }
    mf_par *team = mf_job_team(j);
    mf_rcgd_set_executor(rj->r, mf_par_for_exec, team, mf_par_size(team));
    mf_err err = MF_OK;
    if (!train(j, rj, deadline, &err)) {
        return err == MF_OK
                   ? MF_JOB_MORE
                   : fail(j, "diverged", "the training loss is not finite; lower lr", err, NULL);
    }
    err = finish_training(j, rj);
    if (err != MF_OK) {
        return fail(j, "internal", "cannot finish the model", err, NULL);
    }
    while (rj->target < q->n_targets) {
        if (mf_job_stop_requested(j) || mf_mono_s() > deadline) {
            return MF_JOB_MORE; /* a target takes seconds: start it in a fresh slice */
        }
        char phase[64];
        snprintf(phase, sizeof phase, "target %zu of %zu", rj->target + 1, q->n_targets);
        mf_job_progress(j, q->train.steps, q->train.steps, phase, true);
        err = evaluate(j, rj, rj->target);
        if (err == MF_ECANCELED) {
            return MF_JOB_MORE; /* the scheduler cancels it */
        }
        if (err != MF_OK) {
            return fail(j, "internal", "cannot sample the target", err, NULL);
        }
    }
    char id[MF_REQ_ID_MAX + 1];
    err = publish(j, rj, id);
    if (err != MF_OK) {
        return fail(j, "save_failed", "cannot save the conditional model", err, NULL);
    }
    char *result = mf_json_train_result(id, mf_rcgd_steps_done(rj->r), rj->loss_avg, NULL);
    if (result == NULL) {
        return fail(j, "internal", "cannot encode the result", MF_ENOMEM, NULL);
    }
    mf_job_succeed(j, result);
    free(result);
    return MF_JOB_DONE;
}

const mf_job_type mf_job_type_reward = {
    .codec = &mf_reward_codec,
    .state_size = sizeof(reward_job),
    .prepare = prepare,
    .slice = slice,
    .cancel = cancel,
    .deinit = deinit,
};
