/* SPDX-License-Identifier: MIT */
/*
 * test_count_codec.c - the codec of "test.count", a job type that exists only
 * in test builds (MF_TEST_JOB_TYPES): it shows that a new job type is new
 * files plus one line in proto/jobs/job_codecs.c and one in
 * server/jobs/job_types.c, and gives the scheduler's tests a job whose every
 * step is known.  Params (all integers):
 *   n        steps to count, 1..1000000 (required)
 *   step_ms  milliseconds each step sleeps, 0..1000 (default 0)
 *   fail_at  the step at which the job fails, 0 = never, 0..1000000 (default 0)
 * It takes no model and makes none.
 */
#include <stddef.h>

#include "job_codec.h"
#include "req_decode.h"
#include "test_count_codec.h"

#define F(k) .key = #k, .offset = offsetof(mf_test_count_req, k)
static const mf_req_field fields[] = {
    {F(n), .type = MF_REQ_SIZE, .lo = 1, .hi = 1000000, .required = true},
    {F(step_ms), .type = MF_REQ_SIZE, .lo = 0, .hi = 1000},
    {F(fail_at), .type = MF_REQ_SIZE, .lo = 0, .hi = 1000000},
    {.key = NULL},
};
#undef F

static mf_err decode(json_t *params, const char *model, const mf_req_limits *lim, void *out,
                     mf_diag *d)
{
    (void) model;
    if (params == NULL) {
        return mf_req_fail_missing(d, "/params", "an object with at least \"n\"");
    }
    return mf_req_decode_fields(fields, params, "/params", lim, true, out, d);
}

static char *encode(const void *params)
{
    return mf_req_encode_fields(fields, params);
}

const mf_job_codec mf_test_count_codec = {
    .name = "test.count",
    .model = MF_CODEC_NO_MODEL,
    .model_hint = "test.count jobs take no model",
    .params_size = sizeof(mf_test_count_req),
    .decode = decode,
    .encode = encode,
};
