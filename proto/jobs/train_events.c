/* SPDX-License-Identifier: MIT */
/* train_events.c - the HJB and evaluation parts of a "train" job's JSON (train_events.h). */
#include "train_events.h"

#include <math.h>

#include "json_util.h"
#include "likelihood.h"

json_t *mf_json_hjb_stats(const mf_hjb_stats *st, double lambda, double t_min)
{
    json_t *o = json_object(), *bins = json_array(), *edges = json_array();
    int f = o == NULL || bins == NULL || edges == NULL;
    for (int b = 0; b < MF_HJB_BINS && !f; b++) {
        f |= json_array_append_new(bins, mf_json_num(mf_hjb_stats_rms(st, b)));
    }
    for (int b = 0; b <= MF_HJB_BINS && !f; b++) {
        f |= json_array_append_new(edges, mf_json_num(t_min + (1.0 - t_min) * b / MF_HJB_BINS));
    }
    if (!isnan(lambda)) {
        f |= json_object_set_new(o, "lambda", mf_json_num(lambda));
    }
    f |= json_object_set_new(o, "loss", mf_json_num(st->count > 0 ? st->loss : (double) NAN));
    f |= json_object_set_new(o, "residual_rms", mf_json_num(mf_hjb_stats_rms(st, -1)));
    f |= json_object_set_new(o, "residual_rms_bins", bins);
    f |= json_object_set_new(o, "bins_tau", edges);
    f |= json_object_set_new(o, "points", mf_json_u64(st->count));
    return mf_json_checked(o, f);
}

json_t *mf_json_eval_summary(const mf_eval_summary *s)
{
    json_t *o = json_object(), *knn = json_object();
    int f = o == NULL || knn == NULL;
    f |= json_object_set_new(knn, "value", mf_json_num(s->entropy_knn));
    f |= json_object_set_new(knn, "data", mf_json_num(s->entropy_knn_data));
    f |= json_object_set_new(knn, "k", mf_json_u64(MF_EVAL_SUMMARY_KNN_K));
    f |= json_object_set_new(o, "n", mf_json_u64(s->n));
    f |= json_object_set_new(o, "sampler", json_string("ddpm"));
    f |= json_object_set_new(o, "steps", mf_json_u64(s->steps));
    f |= json_object_set_new(o, "ode_steps", mf_json_u64(s->ode_steps));
    f |= json_object_set_new(o, "seed", mf_json_u64(s->seed));
    f |= json_object_set_new(o, "sw2", mf_json_num(s->sw2));
    f |= json_object_set_new(o, "sw2_floor", mf_json_num(s->sw2_floor));
    f |= json_object_set_new(o, "entropy_knn", knn);
    f |= json_object_set_new(o, "nll", mf_json_num(s->lik.nll));
    f |= json_object_set_new(o, "nll_se", mf_json_num(s->lik.nll_se));
    f |= json_object_set_new(o, "divergence", json_string(mf_div_name(s->lik.div)));
    if (s->has_hjb) {
        json_t *h = mf_json_hjb_stats(&s->hjb, (double) NAN, mf_hjb_opts_default().t_min);
        f |= h == NULL || json_object_set_new(o, "hjb", h);
    }
    return mf_json_checked(o, f);
}
