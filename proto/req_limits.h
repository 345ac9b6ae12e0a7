/* SPDX-License-Identifier: MIT */
/*
 * req_limits.h - what every request decoder and job codec of proto/ shares:
 * ids, and the static limits from the daemon's configuration.
 */
#ifndef MF_REQ_LIMITS_H
#define MF_REQ_LIMITS_H

#include <stdbool.h>
#include <stddef.h>

#define MF_REQ_ID_MAX    64 /* ids: [a-z0-9][a-z0-9._-]{0,63} */
#define MF_REQ_MAX_DEPTH 8  /* nesting depth of a request body */

/** true when s is a valid id ([a-z0-9][a-z0-9._-]{0,63}; so never a path). */
bool mf_req_id_valid(const char *s);

/*
 * Static limits, from the daemon's configuration.  The first four bound fields one by
 * one; the budgets bound what a job costs as a whole, estimated from the sizes of its
 * params and its model before it is queued (job_budget.h): a field may be in range and
 * the job still over a budget (a train job of hidden 8 x 8192 has 470M parameters).
 */
typedef struct mf_req_limits {
    size_t max_n;            /* samples per request (default 10000) */
    size_t max_steps;        /* sampler steps (default 1000) */
    size_t max_train_steps;  /* train job optimiser steps (default 200000) */
    size_t max_batch;        /* train job batch (default 4096) */
    size_t max_model_params; /* parameters of a model a job makes, all its networks
                                (default MF_MODEL_MAX_PARAMS, 16M: what the loader takes) */
    size_t max_job_bytes;    /* a job's peak memory estimate (default 2 GiB) */
    double max_job_flops;    /* a job's compute estimate, floating-point operations
                                (default 1e16: about a day of a 2-core machine) */
    int default_precision;   /* a sampling request's precision when it names none, and
                                the jobs' evaluation samples' (mf_precision, 0 = f32;
                                the daemon sets its --precision, bf16 by default) */
} mf_req_limits;

mf_req_limits mf_req_limits_default(void);

#endif /* MF_REQ_LIMITS_H */
