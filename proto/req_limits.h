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

/* Static limits, from the daemon's configuration. */
typedef struct mf_req_limits {
    size_t max_n;           /* samples per request (default 10000) */
    size_t max_steps;       /* sampler steps (default 1000) */
    size_t max_train_steps; /* train job optimiser steps (default 200000) */
    size_t max_batch;       /* train job batch (default 4096) */
} mf_req_limits;

mf_req_limits mf_req_limits_default(void);

#endif /* MF_REQ_LIMITS_H */
