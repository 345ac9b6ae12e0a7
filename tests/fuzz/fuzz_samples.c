/* SPDX-License-Identifier: MIT */
/*
 * fuzz_samples.c - libFuzzer target: the POST /v1/samples body,
 * proto/request_json.c's mf_req_decode_samples (with req_decode.c and the
 * sample codec's fields under it), at the daemon's default limits.
 *
 * Invariants: a decoded request is within sample_codec.h's limits, and its
 * params JSON (what a sample job stores) decodes again to the same request;
 * an error is request_json.h's (a decoder code, 400 or 422, a message, a
 * JSON pointer).
 */
#include <string.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const mf_req_limits lim = mf_req_limits_default();
    mf_sample_req r;
    mf_diag d = {0};
    mf_err err = mf_req_decode_samples((const char *) data, size, &lim, &r, &d);
    if (err != MF_OK) {
        fuzz_check_req_error(err, &d);
        return 0;
    }
    fuzz_check_sample_req(&r, &lim);
    /* the same request as a sample job's params */
    mf_job_req j = {.codec = &mf_sample_codec, .params = &r};
    memcpy(j.model, r.model, sizeof j.model);
    j.params_json = mf_req_sample_params_json(&r);
    if (j.params_json != NULL) {
        fuzz_check_job_round_trip(&j, &lim);
        free(j.params_json);
    }
    return 0;
}
