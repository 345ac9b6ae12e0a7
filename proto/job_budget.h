/* SPDX-License-Identifier: MIT */
/*
 * job_budget.h - what a job will cost, known before it is queued: the parameters of the
 * model it makes, its peak memory and its compute, estimated from the sizes of its params
 * and of its model, and checked against the daemon's budgets (mf_req_limits:
 * max_model_params, max_job_bytes, max_job_flops).
 *
 * The estimates are arithmetic on sizes, not numerics of a model: each job type's cost
 * (a function next to its codec, proto/jobs/) adds up the buffers its core objects
 * allocate, part by part, and the floating-point operations of its loops, counting a
 * network's forward pass as 2 operations per parameter and row and a training step
 * (forward, backward to inputs and to parameters) as 6.  They are meant to be right to
 * within a small factor, in doubles (no overflow: every size is bounded by the codecs'
 * ranges).  Each part names the param that drives it, as a JSON pointer, so a refusal
 * names the field a client can lower: the largest part of the estimate that is over.
 *
 * Refusals are 422 "impossible" (the request is valid alone and impossible for this
 * server), e.g.
 *   "/params/hidden": a network of 8 x 8192 on 66 inputs has 470M parameters; the
 *   budget is 16M
 */
#ifndef MF_JOB_BUDGET_H
#define MF_JOB_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "mlp.h"
#include "req_limits.h"

#define MF_BUDGET_MAX_PARTS 8
#define MF_BUDGET_FIELD_CAP 64

/* One part of a job's memory or compute, and the field that drives it. */
typedef struct mf_budget_part {
    char field[MF_BUDGET_FIELD_CAP]; /* JSON pointer ("/params/batch") */
    const char *what;                /* what it is, for messages ("a batch's activations") */
    double value;                    /* bytes, or floating-point operations */
} mf_budget_part;

/* A job's cost. */
typedef struct mf_job_cost {
    double params;                          /* of the model the job makes, all its networks */
    char params_field[MF_BUDGET_FIELD_CAP]; /* the field that sets them ("/model": the parent) */
    char params_what[96];                   /* "a network of 8 x 8192 on 66 inputs" */
    size_t n_mem, n_flops;
    mf_budget_part mem[MF_BUDGET_MAX_PARTS];
    mf_budget_part flops[MF_BUDGET_MAX_PARTS];
} mf_job_cost;

/* A network's shape as the estimates see it: the reference MLP, or a scalar network
 * (reward, energy, value: out 1). */
typedef struct mf_budget_net {
    size_t in, out, n_hidden;
    size_t hidden[MF_MLP_MAX_HIDDEN];
} mf_budget_net;

/** The reference MLP on D data, E embedding and C condition inputs (n widths). */
mf_budget_net mf_budget_mlp(size_t D, size_t E, size_t C, const uint32_t *hidden, size_t n);

/** The same from a model's configuration. */
mf_budget_net mf_budget_mlp_of(const mf_mlp_config *cfg);

/** A scalar network (reward model, DxMI energy or value) on in inputs (n <= 4 widths). */
mf_budget_net mf_budget_scalar(size_t in, const size_t *hidden, size_t n);

/** Parameters: every layer's weights and biases. */
double mf_budget_params(const mf_budget_net *n);

/**
 * Floats a workspace holds per batch row: inputs, activations and output; with backward,
 * the sigmoids, the two largest-layer gradient buffers and every layer's output gradient
 * (core/mlp.c's mf_mlp_ws_new_split).
 */
double mf_budget_row_floats(const mf_budget_net *n, bool backward);

/** "a network of 8 x 8192 on 66 inputs" or "a network of 256, 512 on 66 inputs" into buf. */
void mf_budget_describe(const mf_budget_net *n, char *buf, size_t cap);

/** Sets the cost's model: its parameters, the field that sets them, and its description. */
void mf_cost_model(mf_job_cost *c, double params, const char *field, const mf_budget_net *shown);

/** Adds a part of memory (bytes) driven by field. */
void mf_cost_mem(mf_job_cost *c, const char *field, const char *what, double bytes);

/** Adds a part of compute (floating-point operations) driven by field. */
void mf_cost_flops(mf_job_cost *c, const char *field, const char *what, double flops);

/** The sum of n parts. */
double mf_cost_total(const mf_budget_part *parts, size_t n);

/**
 * Checks c against lim: the model's parameters, then the memory, then the compute.
 * *ret_flops (may be NULL) gets the compute estimate whatever the verdict (a key's
 * daily budget is charged with it).  Errors: MF_EINVAL with code "impossible" (422),
 * the field of the model or of the largest part, and a message with the estimate and
 * the budget.  The job types' mf_*_check_budget pass ret_flops through.
 */
MF_MUST_CHECK mf_err mf_job_cost_check(const mf_job_cost *c, const mf_req_limits *lim,
                                       double *ret_flops, mf_diag *d);

#endif /* MF_JOB_BUDGET_H */
