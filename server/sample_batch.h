/* SPDX-License-Identifier: MIT */
/*
 * sample_batch.h - the sampling calls of POST /v1/samples and how they are
 * batched.
 *
 * A call waits in memory (not in the job store: it is answered on its own
 * connection).  When a worker frees up, the scheduler takes the waiting call
 * that is next by fair queueing (below) and every other one with the same
 * batching key (model, sampler, steps, eta, guidance), up to a number of
 * rows, and runs them as ONE segmented
 * sampler run (core/sampler.h: each call keeps its own seed, so its samples
 * are exactly those of a run alone); a conditional model's condition and
 * target are per row, so calls at different targets share a run.
 *
 * Fairness (start-time fair queueing, Goyal et al. 1996): each call has a
 * client (its API key, or without keys its peer address) and a cost (rows x
 * steps x network weights).  On arrival it gets the start tag
 * S = max(V, F_client) and moves its client's finish tag to F = S + cost; V
 * is the start tag of the call taken last.  The call with the smallest S runs
 * next.  A client's calls keep their order, and a small call of one client
 * waits behind at most the one call running and one call of each other
 * client, however many large calls those clients queued: four requests at
 * the compute limit no longer hold up a 3 ms one for all four run times.
 *
 * Threading: a queue is guarded by its owner's lock; a batch runs on one
 * worker with its team; a call's progress and done callbacks run on that
 * worker.
 */
#ifndef MF_SAMPLE_BATCH_H
#define MF_SAMPLE_BATCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "guidance.h"
#include "metrics.h"
#include "par.h"
#include "registry.h"
#include "request_json.h"

typedef struct mf_sample_call mf_sample_call;

struct mf_sample_call {
    /* in (set before it is queued) */
    mf_sample_req req;   /* steps and seed resolved (mf_sample_resolve) */
    mf_reg_model *model; /* a reference the call owns */
    float *cond;         /* (n, C) the condition of each row (mf_sample_call_rows), or NULL */
    float *target;       /* (n) the target of each row (reward guidance), or NULL */
    /* worker thread, may be NULL: done of total rows (the call's n) in phase (static text,
     * MF_PHASE_SAMPLING or MF_PHASE_METRICS of api_json.h) */
    void (*progress)(mf_sample_call *c, size_t done, size_t total, const char *phase);
    void (*done)(mf_sample_call *c); /* worker thread */
    void *ctx, *ctx2;  /* the caller's, for the callbacks */
    char client[80];   /* who asked (fair queueing): an API key's name or a peer address */
    atomic_int cancel; /* the client went away: a batch whose calls all have it stops */
    /* out (valid in done) */
    mf_err err;
    mf_diag diag; /* what went wrong, when err */
    float *x;     /* (n, D) in data space */
    bool has_metrics;
    mf_metrics metrics;
    char metrics_skipped[256]; /* why there are no metrics (an mf_diag message) */
    double queued_at, started_at, finished_at;
    /* private */
    atomic_int refs;
    double start_tag; /* fair queueing (above) */
    mf_sample_call *next;
};

/** A call with one reference for the caller (the queue takes its own). */
mf_sample_call *mf_sample_call_new(void);

/** Drops a reference; the last frees x and the model reference. */
void mf_sample_call_release(mf_sample_call *c, mf_registry *reg);

/**
 * Checks req against model m (steps <= T, the compute budget of lim, the
 * steering the model takes, the var sampler only on a model with a short
 * chain and with exactly its T steps) and fills the defaults: no sampler ->
 * var for a DxMI model with a short chain (core/model_dxmi.h) when nothing
 * steers the request, else ddpm; steps 0 -> T for ddpm, the chain's T for
 * var, 100 (or T) otherwise; no seed -> seed_if_none.  Errors: MF_ERANGE with
 * d (code "impossible", field under prefix, e.g. "" or "/params").
 */
MF_MUST_CHECK mf_err mf_sample_resolve(mf_sample_req *req, const mf_model *m,
                                       const mf_req_limits *lim, uint64_t seed_if_none,
                                       const char *prefix, mf_diag *d);

/**
 * The sampler options of a resolved request on model m: kind, steps, eta and,
 * for var, m's short chain (borrowed from m).  The caller adds seeds,
 * segments, cancel and progress.
 */
mf_sampler_opts mf_sample_opts(const mf_sample_req *req, const mf_model *m);

/**
 * Fills c->cond and c->target from c's resolved request and model (steer.h):
 * set req and model first.  Errors: MF_ENOMEM, mf_guide_fill_cond's.
 */
MF_MUST_CHECK mf_err mf_sample_call_rows(mf_sample_call *c);

/**
 * What makes calls batchable: one network, one step grid, one eta, one
 * precision, one guidance.  The condition and the target are row inputs, so calls with
 * different targets run in one batch.
 */
typedef struct mf_sample_key {
    const mf_reg_model *model;
    mf_sampler_kind sampler;
    size_t steps;
    double eta;
    mf_precision precision; /* float and bf16 calls never share a run */
    mf_guide_mode guidance;
    double w;
} mf_sample_key;

mf_sample_key mf_sample_call_key(const mf_sample_call *c);
bool mf_sample_key_equal(const mf_sample_key *a, const mf_sample_key *b);

/* Waiting calls, oldest first (the owner's lock guards it). */
#define MF_SAMPLE_FAIR_CLIENTS 64 /* clients whose finish tags are kept */

typedef struct mf_sample_queue {
    mf_sample_call *head, *tail;
    size_t n;
    double vtime; /* V: the start tag of the call taken last */
    struct {
        char id[80]; /* as mf_sample_call.client */
        double finish; /* F of the client's last call */
    } clients[MF_SAMPLE_FAIR_CLIENTS];
    size_t n_clients;
} mf_sample_queue;

/** Appends c (taking a reference) with its start tag. */
void mf_sample_queue_push(mf_sample_queue *q, mf_sample_call *c);

/**
 * Takes the call with the smallest start tag (the oldest among equals) and
 * every other one with its key, up to max_rows rows and MF_SAMPLER_MAX_SEGS
 * calls, linked through next; the others keep their order.  q not empty.
 */
mf_sample_call *mf_sample_queue_take(mf_sample_queue *q, size_t max_rows);

/* What a batch needs from its runner. */
typedef struct mf_sample_batch_env {
    mf_par *team;
    mf_registry *reg;
    const atomic_int *abort_all; /* the daemon stops and cannot wait: stop at the next step */
    /* called for each call with its result, before its done callback (statistics) */
    void (*account)(void *ctx, const mf_sample_call *c);
    void *ctx;
} mf_sample_batch_env;

/**
 * Runs the calls linked from head as one segmented sampler run on the team;
 * each call gets its rows in data space and its metrics (or its error), then
 * its done callback, then loses the batch's reference.
 */
void mf_sample_batch_run(const mf_sample_batch_env *env, mf_sample_call *head);

#endif /* MF_SAMPLE_BATCH_H */
