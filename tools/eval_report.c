/* SPDX-License-Identifier: MIT */
/* eval_report.c - metrics and likelihoods for manifold-train eval (see eval_report.h). */
#include "eval_report.h"

#include <stdlib.h>

#include "likelihood.h"
#include "mem.h"
#include "metrics_json.h"
#include "rng.h"

enum {
    STREAM_DEQUANT = 7
};

static int fail(const char *what, mf_err err)
{
    fprintf(stderr, "error: %s: %s\n", what, mf_strerror(err));
    return 1;
}

static int print_member(FILE *out, const char *name, json_t *j)
{
    if (j == NULL) {
        return fail(name, MF_ENOMEM);
    }
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(j);
    if (s == NULL) {
        return fail(name, MF_ENOMEM);
    }
    fprintf(out, ",\"%s\":%s", name, s);
    free(s);
    return 0;
}

/* Held-out points in model space; digits dequantised: pixel k -> k + u - 1/2. */
static float *heldout_model_space(const mf_model *m, mf_dataset_id id, size_t n, uint64_t seed,
                                  bool *dequantised)
{
    size_t D = m->net->cfg.data_dim;
    float *h = mf_alloc_floats(n * D);
    if (h == NULL || mf_dataset_heldout(id, h, n) != MF_OK) {
        mf_free_aligned(h);
        return NULL;
    }
    *dequantised = id == MF_DATASET_DIGITS;
    if (*dequantised) {
        mf_dataset_dequantise(mf_rng_derive(mf_rng_make(seed), STREAM_DEQUANT), 0, h, n * D);
    }
    mf_model_from_data(m, h, n * D);
    return h;
}

static int likelihood(FILE *out, mf_par *team, const mf_model *m, mf_dataset_id id,
                      const eval_report_opts *o, bool of_samples)
{
    size_t D = m->net->cfg.data_dim, n = of_samples ? o->ode_entropy_n : o->nll_n;
    if (!of_samples && id == MF_DATASET_DIGITS && n > MF_DATASET_DIGITS_N_HELDOUT) {
        n = MF_DATASET_DIGITS_N_HELDOUT;
    }
    mf_ode_lik_opts lo = {.steps = o->ode_steps, .div = o->div, .seed = o->seed};
    if (lo.steps > m->sched.T) {
        lo.steps = m->sched.T;
    }
    bool deq = false;
    float *x = of_samples ? mf_alloc_floats(n * D) : heldout_model_space(m, id, n, o->seed, &deq);
    double *lp = mf_alloc_doubles(n);
    int rc = 0;
    if (x == NULL || lp == NULL) {
        rc = fail("likelihood", MF_ENOMEM);
    } else {
        mf_err err = mf_par_ode_logp(team, m->net, &m->sched, &lo, of_samples, x, n, lp);
        if (err != MF_OK) {
            rc = fail("likelihood", err);
        } else {
            mf_lik_stats st;
            mf_lik_summarise(lp, n, D, m->data_scale, &lo, of_samples, deq, &st);
            rc = print_member(out, of_samples ? "ode_entropy" : "likelihood",
                              mf_json_lik_stats(&st));
        }
    }
    mf_free_aligned(x);
    mf_free_aligned(lp);
    return rc;
}

int eval_report(FILE *out, mf_par *team, const mf_model *m, mf_dataset_id id, const float *x,
                size_t n, const eval_report_opts *o)
{
    size_t D = m->net->cfg.data_dim;
    size_t n_ref = id == MF_DATASET_DIGITS && n > MF_DATASET_DIGITS_N_HELDOUT
                       ? MF_DATASET_DIGITS_N_HELDOUT
                       : n;
    float *ref = mf_alloc_floats(n_ref * D);
    if (ref == NULL || mf_dataset_heldout(id, ref, n_ref) != MF_OK) {
        mf_free_aligned(ref);
        return fail("held-out data", MF_ENOMEM);
    }
    mf_metrics met;
    mf_err err = mf_metrics_compute(&o->metrics, id, x, n, D, ref, n_ref, &met);
    mf_free_aligned(ref);
    if (err != MF_OK) {
        return fail("metrics", err);
    }
    int rc = print_member(out, "metrics", mf_json_metrics(&met));
    if (rc == 0 && o->nll_n > 0) {
        rc = likelihood(out, team, m, id, o, false);
    }
    if (rc == 0 && o->ode_entropy_n > 0) {
        rc = likelihood(out, team, m, id, o, true);
    }
    return rc;
}
