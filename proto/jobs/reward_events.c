/* SPDX-License-Identifier: MIT */
/* reward_events.c - the events and metrics of a finetune.reward job (reward_events.h). */
#include "reward_events.h"

#include <math.h>
#include <string.h>

#include "api_json.h"
#include "json_util.h"

/* {"job", "stage"}: the head of every event. */
static json_t *event(const char *job_id, const char *stage, int *f)
{
    json_t *o = json_object();
    *f = o == NULL;
    *f |= json_object_set_new(o, "job", json_string(job_id));
    *f |= json_object_set_new(o, "stage", json_string(stage));
    return o;
}

static json_t *size_json(size_t v)
{
    return json_integer((json_int_t) v);
}

json_t *mf_json_reward_fit_event(const char *job_id, const mf_reward_fit_view *v)
{
    int f;
    json_t *o = event(job_id, "reward_model", &f);
    const mf_rcgd_fit_stats *s = v->fit;
    json_t *rm =
        json_pack("{s:s, s:o, s:o, s:o, s:o}", "kind", v->kind, "train_mse",
                  mf_json_num(s->reward.train_mse), "val_r2", mf_json_num(s->reward.val_r2),
                  "n_train", size_json(s->reward.n_train), "n_val", size_json(s->reward.n_val));
    json_t *pl = json_pack("{s:o, s:o, s:o}", "mean", mf_json_num(s->label_mean), "std",
                           mf_json_num(s->label_std), "noise", mf_json_num(v->nu));
    json_t *rows = json_pack("{s:o, s:o, s:o, s:o}", "unlabelled", size_json(v->n_unl), "labelled",
                             size_json(v->n_lab), "heldout", size_json(v->n_held), "train",
                             size_json(s->n_rows));
    f |= json_object_set_new(o, "reward_model", rm);
    f |= json_object_set_new(o, "pseudo_labels", pl);
    f |= json_object_set_new(o, "rows", rows);
    f |= json_object_set_new(o, "knn_heldout", mf_json_num(s->knn_heldout));
    return mf_json_checked(o, f);
}

json_t *mf_json_reward_train_event(const char *job_id, size_t step, size_t steps, double loss)
{
    int f;
    json_t *o = event(job_id, "training", &f);
    f |= json_object_set_new(o, "step", size_json(step));
    f |= json_object_set_new(o, "steps", size_json(steps));
    f |= json_object_set_new(o, "loss", mf_json_num(loss));
    return mf_json_checked(o, f);
}

/* A number when the reward is known, else null. */
static json_t *known(bool has, double v)
{
    return has ? mf_json_num(v) : json_null();
}

json_t *mf_json_reward_target_metrics(const mf_rcgd_eval *e)
{
    bool t = e->has_truth;
    json_t *reward = json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "pred_mean", mf_json_num(e->pred_mean),
        "pred_std", mf_json_num(e->pred_std), "true_mean", known(t, e->true_mean), "true_std",
        known(t, e->true_std), "ideal", known(t, e->ideal), "ratio", known(t, e->ratio), "gap",
        known(t, e->a - e->true_mean), "overopt", known(t, e->overopt));
    json_t *support = e->has_off ? json_pack("{s:o, s:o}", "off_mean", mf_json_num(e->off_mean),
                                             "off_p90", mf_json_num(e->off_p90))
                                 : json_null();
    json_t *knn =
        e->has_knn ? json_pack("{s:o, s:o, s:o}", "dist", mf_json_num(e->knn_dist), "heldout_dist",
                               mf_json_num(e->knn_heldout), "k", size_json(e->knn_k))
                   : json_null();
    json_t *ent =
        json_pack("{s:o, s:o}", "value", mf_json_num(e->entropy), "k", size_json(e->knn_k));
    json_t *o = json_object();
    int f = o == NULL;
    f |= json_object_set_new(o, "n", size_json(e->n));
    f |= json_object_set_new(o, "target_z", mf_json_num(e->target_z));
    f |= json_object_set_new(o, "reward", reward);
    f |= json_object_set_new(o, "support", support);
    f |= json_object_set_new(o, "knn", knn);
    f |= json_object_set_new(o, "entropy_knn", ent);
    return mf_json_checked(o, f);
}

json_t *mf_json_reward_target_event(const char *job_id, size_t index, double target,
                                    json_t *metrics)
{
    int f;
    json_t *o = event(job_id, "target", &f);
    f |= metrics == NULL;
    f |= json_object_set_new(o, "index", size_json(index));
    f |= json_object_set_new(o, "target", mf_json_num(target));
    f |= json_object_set_new(o, "metrics", metrics);
    return mf_json_checked(o, f);
}

json_t *mf_json_reward_samples_event(const char *job_id, size_t index, double target,
                                     const float *x, size_t n, size_t D)
{
    json_t *o = mf_json_event_samples(job_id, 0, x, n, D);
    int f = o == NULL;
    f |= json_object_set_new(o, "stage", json_string("target"));
    f |= json_object_set_new(o, "index", size_json(index));
    f |= json_object_set_new(o, "target", mf_json_num(target));
    return mf_json_checked(o, f);
}

/* An event less "job" and "stage", or null. */
static json_t *body_of(const json_t *event)
{
    json_t *b = event != NULL ? json_deep_copy(event) : json_null();
    if (json_is_object(b)) {
        json_object_del(b, "job");
        json_object_del(b, "stage");
    }
    return b;
}

json_t *mf_json_reward_job_metrics(const json_t *fit_event, const json_t *train_event,
                                   json_t *const *target_events, size_t n_targets)
{
    json_t *o = json_object();
    json_t *fit = body_of(fit_event), *train = body_of(train_event);
    json_t *targets = json_array();
    int f = o == NULL || fit == NULL || train == NULL || targets == NULL;
    for (size_t i = 0; i < n_targets && !f; i++) {
        json_t *m = json_deep_copy(json_object_get(target_events[i], "metrics"));
        f |= m == NULL;
        f |= json_object_set(m, "target", json_object_get(target_events[i], "target"));
        f |= json_array_append_new(targets, m);
    }
    f |= json_object_set_new(o, "reward_model", fit);
    f |= json_object_set_new(o, "training", train);
    f |= json_object_set_new(o, "targets", targets);
    return mf_json_checked(o, f);
}

void mf_json_reward_replay_point(const char *metrics_json, bool *ret_fit, size_t *ret_step,
                                 size_t *ret_targets)
{
    json_t *m = metrics_json != NULL ? json_loads(metrics_json, 0, NULL) : NULL;
    json_t *train = json_object_get(m, "training");
    json_t *step = json_object_get(train, "step");
    json_t *targets = json_object_get(m, "targets");
    *ret_fit = json_is_object(json_object_get(m, "reward_model"));
    *ret_step = json_is_integer(step) && json_integer_value(step) > 0
                    ? (size_t) json_integer_value(step)
                    : 0;
    *ret_targets = json_is_array(targets) ? json_array_size(targets) : 0;
    json_decref(m);
}
