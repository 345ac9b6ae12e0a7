/* SPDX-License-Identifier: MIT */
/* score_call.c - score calls, their queue and batched run (see score_call.h). */
#include "score_call.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "mem.h"

mf_score_call *mf_score_call_new(void)
{
    mf_score_call *c = calloc(1, sizeof *c);
    if (c != NULL) {
        atomic_init(&c->refs, 1);
    }
    return c;
}

void mf_score_call_release(mf_score_call *c, mf_registry *reg)
{
    if (c == NULL || atomic_fetch_sub(&c->refs, 1) != 1) {
        return;
    }
    mf_registry_release(reg, c->model);
    mf_score_req_done(&c->req);
    free(c->scores);
    free(c);
}

mf_err mf_score_check(const mf_score_req *q, const mf_model *m, mf_diag *d)
{
    const mf_model_dxmi *dx = mf_model_get_dxmi(m);
    if (dx == NULL || dx->energy == NULL) {
        return mf_diag_setc(d, MF_ERANGE, "impossible", "/model",
                            "model %s has no energy network: anomaly scores need a DxMI model "
                            "(a finetune.dxmi result)",
                            q->model);
    }
    size_t D = m->net->cfg.data_dim;
    if (q->D != D) {
        return mf_diag_setc(d, MF_ERANGE, "impossible", "/points/0",
                            "model %s takes points of %zu numbers, not %zu", q->model, D, q->D);
    }
    return MF_OK;
}

double mf_score_threshold(const mf_model *m)
{
    return m->dxmi->energy_q[MF_ENERGY_OUTLIER_PCT];
}

void mf_score_queue_push(mf_score_queue *q, mf_score_call *c)
{
    atomic_fetch_add(&c->refs, 1);
    c->next = NULL;
    if (q->tail != NULL) {
        q->tail->next = c;
    } else {
        q->head = c;
    }
    q->tail = c;
    q->n++;
}

mf_score_call *mf_score_queue_take(mf_score_queue *q, size_t max_rows)
{
    mf_score_call *head = q->head, **link = &head->next;
    q->head = head->next;
    head->next = NULL;
    size_t rows = head->req.n, n = 1;
    mf_score_call **pp = &q->head;
    while (*pp != NULL) {
        mf_score_call *c = *pp;
        if (c->model == head->model && rows + c->req.n <= max_rows) {
            *pp = c->next;
            c->next = NULL;
            *link = c;
            link = &c->next;
            rows += c->req.n;
            n++;
        } else {
            pp = &c->next;
        }
    }
    q->tail = NULL;
    for (mf_score_call *c = q->head; c != NULL; c = c->next) {
        q->tail = c;
    }
    q->n -= n;
    return head;
}

/* The points of every call of a batch, one after the other (the only call's own when one). */
static const float *gather_points(const mf_score_call *head, size_t rows, float **ret_owned)
{
    *ret_owned = NULL;
    if (head->next == NULL) {
        return head->req.points;
    }
    size_t D = head->req.D, r = 0;
    float *x = mf_alloc_floats(rows * D);
    for (const mf_score_call *c = head; x != NULL && c != NULL; c = c->next) {
        memcpy(x + r * D, c->req.points, c->req.n * D * sizeof(float));
        r += c->req.n;
    }
    *ret_owned = x;
    return x;
}

void mf_score_batch_run(mf_par *team, mf_registry *reg, mf_score_call *head)
{
    const mf_model *m = head->model->model;
    size_t rows = 0, n_calls = 0;
    double t0 = mf_mono_s();
    for (mf_score_call *c = head; c != NULL; c = c->next) {
        rows += c->req.n;
        n_calls++;
        c->started_at = t0;
    }
    float *owned = NULL;
    const float *x = gather_points(head, rows, &owned);
    mf_energy_score *out = x != NULL ? calloc(rows, sizeof *out) : NULL;
    mf_err err = out == NULL
                     ? MF_ENOMEM
                     : mf_model_score(m, x, rows, mf_par_for_exec, team, mf_par_size(team), out);
    size_t r = 0;
    mf_score_call *c = head;
    while (c != NULL) {
        mf_score_call *next = c->next;
        c->err = err;
        if (err == MF_OK) {
            c->scores = malloc(c->req.n * sizeof *c->scores);
            c->err = c->scores == NULL ? MF_ENOMEM : MF_OK;
        }
        if (c->err == MF_OK) {
            memcpy(c->scores, out + r, c->req.n * sizeof *c->scores);
        } else {
            (void) mf_diag_setc(&c->diag, c->err, "internal", NULL, "scoring failed: %s",
                                mf_strerror(c->err));
        }
        r += c->req.n;
        c->finished_at = mf_mono_s();
        c->next = NULL;
        c->done(c);
        mf_score_call_release(c, reg);
        c = next;
    }
    mf_log(MF_LOG_DEBUG, NULL, NULL, "score batch: %zu calls, %zu points, %.1f ms", n_calls, rows,
           1e3 * (mf_mono_s() - t0));
    free(out);
    mf_free_aligned(owned);
}
