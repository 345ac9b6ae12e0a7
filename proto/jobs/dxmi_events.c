/* SPDX-License-Identifier: MIT */
/* dxmi_events.c - the events and result of a finetune.dxmi job (dxmi_events.h). */
#include "dxmi_events.h"

#include <math.h>
#include <stdlib.h>

#include "api_json.h"
#include "json_util.h"

static json_t *size_json(size_t v)
{
    return json_integer((json_int_t) v);
}

/* [v_0, .., v_{n-1}] */
static json_t *series(const double *v, size_t n)
{
    json_t *a = json_array();
    int f = a == NULL;
    for (size_t i = 0; i < n && !f; i++) {
        f |= json_array_append_new(a, mf_json_num(v[i]));
    }
    return mf_json_checked(a, f);
}

static json_t *eval_json(const mf_dxmi_eval *ev, const mf_dxmi_eval_opts *eo)
{
    json_t *modes = ev->has_modes
                        ? json_pack("{s:o, s:o, s:o}", "covered", size_json(ev->modes.covered),
                                    "hq_frac", mf_json_num(ev->modes.hq_frac), "entropy_ratio",
                                    mf_json_num(ev->modes.entropy_ratio))
                        : json_null();
    json_t *knn = json_pack("{s:o, s:i}", "value", mf_json_num(ev->knn), "k", MF_DXMI_EVAL_KNN_K);
    double ratio = ev->sw2_floor > 0 ? ev->sw2 / ev->sw2_floor : (double) NAN;
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "n", size_json(eo->n),
                     "seeds", size_json(eo->n_seeds), "sw2", mf_json_num(ev->sw2), "sw2_floor",
                     mf_json_num(ev->sw2_floor), "sw2_ratio", mf_json_num(ratio), "sw2_seeds",
                     series(ev->sw2_seed, eo->n_seeds), "energy_auc", mf_json_num(ev->auc),
                     "entropy_knn", knn, "modes", modes);
}

json_t *mf_json_dxmi_metrics(const char *job_id, size_t iteration, size_t iterations,
                             const mf_dxmi_stats *st, const mf_var_sched *v, const mf_dxmi_eval *ev,
                             const mf_dxmi_eval_opts *eo)
{
    size_t T = v->T;
    json_t *o = json_object();
    int f = o == NULL;
    f |= json_object_set_new(o, "job", json_string(job_id));
    f |= json_object_set_new(o, "iteration", size_json(iteration));
    f |= json_object_set_new(o, "iterations", size_json(iterations));
    if (st != NULL) {
        f |= json_object_set_new(
            o, "ebm",
            json_pack("{s:o, s:o, s:o, s:o, s:o}", "pos_e", mf_json_num(st->pos_e), "neg_e",
                      mf_json_num(st->neg_e), "cd_gap", mf_json_num(st->pos_e - st->neg_e), "loss",
                      mf_json_num(st->ebm_loss), "reg", mf_json_num(st->ebm_reg)));
        f |= json_object_set_new(o, "value",
                                 json_pack("{s:o, s:o}", "td_loss", series(st->td_loss, T), "mean",
                                           series(st->value_mean, T)));
        f |= json_object_set_new(o, "cost_running", series(st->running_cost, T));
        f |= json_object_set_new(o, "sigma", series(st->sigma, T));
        f |= json_object_set_new(o, "s2", series(st->s2, T));
        f |= json_object_set_new(
            o, "sampler",
            st->sampler_updated
                ? json_pack("{s:o, s:o, s:o}", "loss", mf_json_num(st->sampler_loss), "value_term",
                            mf_json_num(st->sampler_value_term), "entropy_term",
                            mf_json_num(st->sampler_entropy_term))
                : json_null());
    } else {
        f |= json_object_set_new(o, "ebm", json_null());
        f |= json_object_set_new(o, "value", json_null());
        f |= json_object_set_new(o, "cost_running", json_null());
        f |= json_object_set_new(o, "sigma", series(v->sigma, T));
        f |= json_object_set_new(o, "s2", json_null());
        f |= json_object_set_new(o, "sampler", json_null());
    }
    f |= json_object_set_new(o, "eval", eval_json(ev, eo));
    return mf_json_checked(o, f);
}

char *mf_json_dxmi_result(const char *model, size_t iterations, size_t steps,
                          const mf_dxmi_eval *ev)
{
    json_t *o =
        json_pack("{s:s, s:o, s:o, s:o, s:o, s:o}", "model", model, "iterations",
                  size_json(iterations), "steps", size_json(steps), "sw2", mf_json_num(ev->sw2),
                  "sw2_floor", mf_json_num(ev->sw2_floor), "energy_auc", mf_json_num(ev->auc));
    return mf_json_take_dump(o);
}
