/* SPDX-License-Identifier: MIT */
/*
 * request_json.h - decoding and validation of the request bodies of the HTTP
 * API (DESIGN.md, proto/openapi.yaml).  The only place their field names live.
 *
 * Every decoder trusts nothing: the body must be one JSON object (no
 * duplicate keys, depth at most MF_REQ_MAX_DEPTH), every field has the
 * right type and range, unknown fields are rejected, and on failure the
 * caller's mf_diag names the offending field as a JSON pointer
 * ("/params/steps", "/n", "" for the whole body), says what is wrong in a
 * sentence a user can act on, and carries the machine code (server/ turns
 * the code into an HTTP status).  What needs a model (steps <= the model's T, the compute
 * budget) is checked by the server, which knows the model; decoding knows the
 * static limits only (mf_req_limits).
 *
 * This file holds the envelopes: POST /v1/samples and POST /v1/jobs.  The
 * params of each job type are decoded by that type's codec (proto/jobs/).
 *
 * Errors of every decoder: MF_EINVAL (the request is wrong; d->code is one of
 * "bad_json", "missing_field", "wrong_type", "out_of_range", "unknown_field",
 * "bad_value" (400 in the API) or "impossible", "unsupported_type" (422)),
 * MF_ENOMEM (code "internal").
 */
#ifndef MF_REQUEST_JSON_H
#define MF_REQUEST_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "req_limits.h"
#include "sample_codec.h"

/**
 * Decodes a POST /v1/samples body (len bytes, need not be NUL-terminated).
 * Returns MF_OK and fills *ret, or an error and fills *d (*ret is then
 * unspecified).
 */
MF_MUST_CHECK mf_err mf_req_decode_samples(const char *body, size_t len, const mf_req_limits *lim,
                                           mf_sample_req *ret, mf_diag *d);

/*
 * POST /v1/jobs body: {"type": a codec's name, "model": id, "params": {...}}.
 * model is required when the type takes a model (the one it samples or
 * fine-tunes), forbidden otherwise; params may be omitted when every param
 * has a default.  A job type of the API that this build does not run (none
 * today: request_json.c's api_types) gets "unsupported_type" (422) on /type;
 * an unknown one "bad_value".
 */
typedef struct mf_job_req {
    const mf_job_codec *codec;
    char model[MF_REQ_ID_MAX + 1]; /* "" for a type without a model */
    char owner[MF_REQ_ID_MAX + 1]; /* not decoded: the server sets the API key's name ("" none) */
    void *params;      /* malloc'd, codec->params_size bytes: the decoded params, defaults filled */
    char *params_json; /* malloc'd canonical JSON of params (what the job store keeps) */
} mf_job_req;

/** Frees what *r holds (params, params_json) and NULLs it; accepts a zeroed or NULL r. */
void mf_job_req_done(mf_job_req *r);

/** Decodes a POST /v1/jobs body.  On failure *ret holds nothing (mf_job_req_done is a no-op). */
MF_MUST_CHECK mf_err mf_req_decode_job(const char *body, size_t len, const mf_req_limits *lim,
                                       mf_job_req *ret, mf_diag *d);

/**
 * Re-decodes the params_json a job of type `type` was stored with (after a
 * restart), with the same validation as mf_req_decode_job's params.
 */
MF_MUST_CHECK mf_err mf_req_decode_job_params(const char *type, const char *model,
                                              const char *params_json, const mf_req_limits *lim,
                                              mf_job_req *ret, mf_diag *d);

#endif /* MF_REQUEST_JSON_H */
