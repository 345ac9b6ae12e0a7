/* SPDX-License-Identifier: MIT */
/* eval_report.c - metrics and likelihoods for manifold-train eval (see eval_report.h). */
#include "eval_report.h"

#include <stdlib.h>

#include "cli.h"
#include "evaluate.h"
#include "likelihood.h"
#include "mem.h"
#include "metrics_json.h"

static int fail(const char *what, mf_err err)
{
    mf_cli_error("%s: %s", what, mf_strerror(err));
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

/* The held-out NLL (of_samples false) or the ODE model's entropy, as a JSON member. */
static int likelihood(FILE *out, const mf_eval_exec *ex, const mf_model *m,
                      const eval_report_opts *o, bool of_samples)
{
    mf_ode_lik_opts lo = {.steps = o->ode_steps, .div = o->div, .seed = o->seed};
    if (lo.steps > m->sched.T) {
        lo.steps = m->sched.T;
    }
    mf_lik_stats st;
    mf_err err = of_samples ? mf_eval_lik(ex, m, &lo, NULL, o->ode_entropy_n, false, &st)
                            : mf_eval_heldout_lik(ex, m, &lo, o->nll_n, &st);
    if (err != MF_OK) {
        return fail("likelihood", err);
    }
    return print_member(out, of_samples ? "ode_entropy" : "likelihood", mf_json_lik_stats(&st));
}

int eval_report(FILE *out, const mf_eval_exec *ex, const mf_model *m, mf_dataset_id id,
                const float *x, size_t n, const eval_report_opts *o)
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
    mf_diag d = {0};
    mf_err err = mf_eval_metrics(m, &o->metrics, x, n, ref, n_ref, &met, &d);
    mf_free_aligned(ref);
    if (err != MF_OK) {
        mf_cli_error("metrics: %s", d.msg);
        return 1;
    }
    int rc = print_member(out, "metrics", mf_json_metrics(&met));
    if (rc == 0 && o->nll_n > 0) {
        rc = likelihood(out, ex, m, o, false);
    }
    if (rc == 0 && o->ode_entropy_n > 0) {
        rc = likelihood(out, ex, m, o, true);
    }
    return rc;
}
