/* SPDX-License-Identifier: MIT */
/*
 * sample_codec.h - the params of a "sample" job: the fields of a POST
 * /v1/samples body without "model" (the job names it), decoded into an
 * mf_sample_req (request_json.h).  The field table is shared with
 * /v1/samples, so both read the same way.
 */
#ifndef MF_SAMPLE_CODEC_H
#define MF_SAMPLE_CODEC_H

#include <jansson.h>
#include <stdbool.h>

#include "job_codec.h"
#include "request_json.h"

extern const mf_job_codec mf_sample_codec;

/**
 * The fields of a sampling request in object o at pointer prefix: a
 * /v1/samples body (with_model) or a sample job's params (no "model").
 * Errors as request_json.h.
 */
MF_MUST_CHECK mf_err mf_req_decode_sample_fields(json_t *o, const char *prefix, bool with_model,
                                                 const mf_req_limits *lim, mf_sample_req *r,
                                                 mf_diag *d);

#endif /* MF_SAMPLE_CODEC_H */
