/* SPDX-License-Identifier: MIT */
/*
 * score_call.h - the anomaly-score calls of POST /v1/scores and how they are
 * batched (the scores of a DxMI model's energy network, core/model_dxmi.h).
 *
 * Like a sampling call (sample_batch.h), a score call waits in memory and is
 * answered on its own connection.  When a worker frees up, the scheduler
 * takes the first waiting call and every later one for the same model, up
 * to a number of points, and scores them as ONE run over the worker's team
 * (mf_model_score splits the rows; a point's score does not depend on the
 * batch it ran in).
 *
 * Threading: a queue is guarded by its owner's lock; a batch runs on one
 * worker with its team; a call's done callback runs on that worker.
 */
#ifndef MF_SCORE_CALL_H
#define MF_SCORE_CALL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "model_dxmi.h"
#include "par.h"
#include "registry.h"
#include "score_json.h"

typedef struct mf_score_call mf_score_call;

struct mf_score_call {
    /* in (set before it is queued) */
    mf_score_req req;               /* its points, owned (data space) */
    mf_reg_model *model;            /* a reference the call owns */
    void (*done)(mf_score_call *c); /* worker thread */
    void *ctx;                      /* the caller's, for done */
    /* out (valid in done) */
    mf_err err;
    mf_diag diag;            /* what went wrong, when err */
    mf_energy_score *scores; /* (req.n) */
    double queued_at, started_at, finished_at;
    /* private */
    atomic_int refs;
    mf_score_call *next;
};

/** A call with one reference for the caller (the queue takes its own). */
mf_score_call *mf_score_call_new(void);

/** Drops a reference; the last frees the points, the scores and the model reference. */
void mf_score_call_release(mf_score_call *c, mf_registry *reg);

/**
 * Checks a decoded request against its model: the model has an energy
 * network, and every point has the model's D numbers.  Errors: MF_ERANGE with
 * d (code "impossible", field "/model" or "/points/0").
 */
MF_MUST_CHECK mf_err mf_score_check(const mf_score_req *q, const mf_model *m, mf_diag *d);

/** The energy above which a point of model m is an outlier (its 99 % quantile). */
double mf_score_threshold(const mf_model *m);

/* Waiting calls, oldest first (the owner's lock guards it). */
typedef struct mf_score_queue {
    mf_score_call *head, *tail;
    size_t n;
} mf_score_queue;

/** Appends c (taking a reference). */
void mf_score_queue_push(mf_score_queue *q, mf_score_call *c);

/**
 * Takes the oldest call and every later one for its model, up to max_rows
 * points (the first is taken whatever its size), linked through next; the
 * others keep their order.  q not empty.
 */
mf_score_call *mf_score_queue_take(mf_score_queue *q, size_t max_rows);

/**
 * Scores the calls linked from head (one model) as one run on the team; each
 * call gets its scores (or its error), then its done callback, then loses the
 * batch's reference.
 */
void mf_score_batch_run(mf_par *team, mf_registry *reg, mf_score_call *head);

#endif /* MF_SCORE_CALL_H */
