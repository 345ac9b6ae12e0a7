/* SPDX-License-Identifier: MIT */
/* metrics_json.c - JSON encoding of metric reports (see metrics_json.h). */
#include "metrics_json.h"

#include "json_util.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>

static json_t *uint_(size_t v)
{
    return json_integer((json_int_t) v);
}

static json_t *knn_entropy(const mf_knn_entropy *e)
{
    json_t *o = json_object();
    int f = o == NULL;
    f |= json_object_set_new(o, "value", mf_json_num(e->entropy));
    f |= json_object_set_new(o, "k", uint_(e->k));
    f |= json_object_set_new(o, "n", uint_(e->n));
    f |= json_object_set_new(o, "duplicates", uint_(e->n_zero));
    return mf_json_checked(o, f);
}

static json_t *hist_entropy(const mf_hist_entropy *h)
{
    json_t *o = json_object();
    int f = o == NULL;
    f |= json_object_set_new(o, "value", mf_json_num(h->entropy));
    f |= json_object_set_new(o, "miller_madow", mf_json_num(h->entropy_mm));
    f |= json_object_set_new(o, "outside_frac", mf_json_num(h->outside_frac));
    f |= json_object_set_new(o, "bins", uint_(h->bins));
    f |= json_object_set_new(o, "lo", mf_json_num(h->lo));
    f |= json_object_set_new(o, "hi", mf_json_num(h->hi));
    f |= json_object_set_new(o, "n", uint_(h->n));
    f |= json_object_set_new(o, "n_inside", uint_(h->n_in));
    f |= json_object_set_new(o, "occupied", uint_(h->occupied));
    return mf_json_checked(o, f);
}

static int add_knn(json_t *root, const mf_metrics *m)
{
    json_t *e = knn_entropy(&m->knn);
    int f = e == NULL;
    if (e != NULL && m->has_ref) {
        f |= json_object_set_new(e, "reference", knn_entropy(&m->knn_ref));
    }
    f |= json_object_set_new(root, "entropy_knn", e);
    if (!m->has_ref) {
        return f;
    }
    json_t *kl = json_object();
    f |= kl == NULL;
    f |= json_object_set_new(kl, "model_to_reference", mf_json_num(m->kl.kl_pq));
    f |= json_object_set_new(kl, "reference_to_model", mf_json_num(m->kl.kl_qp));
    f |= json_object_set_new(kl, "k", uint_(m->kl.k));
    f |= json_object_set_new(kl, "n", uint_(m->kl.n));
    f |= json_object_set_new(kl, "m", uint_(m->kl.m));
    f |= json_object_set_new(root, "kl_knn", kl);
    json_t *sw = json_object();
    f |= sw == NULL;
    f |= json_object_set_new(sw, "value", mf_json_num(m->sw2));
    f |= json_object_set_new(sw, "n", uint_(m->n));
    f |= json_object_set_new(sw, "m", uint_(m->n_ref));
    f |= json_object_set_new(sw, "directions", uint_(m->sw_dirs));
    f |= json_object_set_new(sw, "seed", mf_json_u64(m->sw_seed));
    f |= json_object_set_new(root, "sw2", sw);
    return f;
}

static int add_vendi(json_t *root, const mf_metrics *m)
{
    const mf_vendi_stats *v = &m->vendi;
    json_t *o = json_object();
    int f = o == NULL;
    f |= json_object_set_new(o, "q2", mf_json_num(v->q2));
    f |= json_object_set_new(o, "q1", mf_json_num(v->q1));
    f |= json_object_set_new(o, "kernel", json_string(mf_vendi_kernel_name(v->kernel)));
    if (v->kernel == MF_VENDI_RBF) {
        f |= json_object_set_new(o, "length_scale", mf_json_num(v->length_scale));
    } else {
        f |= json_object_set_new(o, "centred", json_boolean(v->centred));
    }
    f |= json_object_set_new(o, "n", uint_(v->n));
    if (m->has_ref) {
        f |= json_object_set_new(o, "reference_q2", mf_json_num(v->ref_q2));
        f |= json_object_set_new(o, "reference_q1", mf_json_num(v->ref_q1));
    }
    f |= json_object_set_new(root, "vendi", o);
    return f;
}

static int add_validity(json_t *root, const mf_metrics *m)
{
    int f = 0;
    if (m->has_support) {
        json_t *o = json_object();
        f |= o == NULL;
        f |= json_object_set_new(o, "inside", mf_json_num(m->inside));
        f |= json_object_set_new(o, "inside_margin", mf_json_num(m->inside_margin));
        f |= json_object_set_new(o, "margin", mf_json_num(m->margin));
        f |= json_object_set_new(root, "support", o);
    }
    if (m->has_modes) {
        json_t *o = json_object(), *fr = json_array();
        f |= o == NULL || fr == NULL;
        for (size_t j = 0; j < MF_EIGHT_MODES; j++) {
            f |= json_array_append_new(fr, mf_json_num(m->modes.frac[j]));
        }
        f |= json_object_set_new(o, "covered", uint_(m->modes.covered));
        f |= json_object_set_new(o, "of", uint_(MF_EIGHT_MODES));
        f |= json_object_set_new(o, "hq_frac", mf_json_num(m->modes.hq_frac));
        f |= json_object_set_new(o, "entropy_ratio", mf_json_num(m->modes.entropy_ratio));
        f |= json_object_set_new(o, "fractions", fr);
        f |= json_object_set_new(root, "modes", o);
    }
    if (m->has_nn) {
        json_t *o = json_object();
        f |= o == NULL;
        f |= json_object_set_new(o, "samples", mf_json_num(m->nn_train));
        f |= json_object_set_new(o, "reference", mf_json_num(m->nn_train_ref));
        f |= json_object_set_new(root, "nn_train", o);
    }
    return f;
}

json_t *mf_json_metrics(const mf_metrics *m)
{
    json_t *root = json_object();
    int f = root == NULL;
    f |= json_object_set_new(root, "n", uint_(m->n));
    f |= json_object_set_new(root, "dim", uint_(m->dim));
    f |= add_knn(root, m);
    f |= add_vendi(root, m);
    if (m->has_hist) {
        json_t *h = hist_entropy(&m->hist);
        f |= h == NULL;
        if (h != NULL && m->has_ref) {
            f |= json_object_set_new(h, "reference", hist_entropy(&m->hist_ref));
        }
        f |= json_object_set_new(root, "entropy_hist", h);
    }
    f |= add_validity(root, m);
    return mf_json_checked(root, f);
}

json_t *mf_json_lik_stats(const mf_lik_stats *s)
{
    json_t *o = json_object();
    int f = o == NULL;
    f |= json_object_set_new(o, "nll", mf_json_num(s->nll));
    f |= json_object_set_new(o, "nll_se", mf_json_num(s->nll_se));
    if (s->dequantised) {
        f |= json_object_set_new(o, "bits_per_dim", mf_json_num(s->bits_per_dim));
    }
    f |= json_object_set_new(o, "n", uint_(s->n));
    f |= json_object_set_new(o, "dim", uint_(s->dim));
    f |= json_object_set_new(o, "steps", uint_(s->steps));
    f |= json_object_set_new(o, "divergence", json_string(mf_div_name(s->div)));
    f |= json_object_set_new(o, "seed", mf_json_u64(s->seed));
    f |= json_object_set_new(o, "of", json_string(s->of_samples ? "samples" : "data"));
    f |= json_object_set_new(o, "dequantised", json_boolean(s->dequantised));
    return mf_json_checked(o, f);
}
