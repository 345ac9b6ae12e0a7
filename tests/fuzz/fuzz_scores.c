/* SPDX-License-Identifier: MIT */
/*
 * fuzz_scores.c - libFuzzer target: the POST /v1/scores body,
 * proto/score_json.c's mf_req_decode_scores, at the daemon's default limits.
 *
 * Invariants (score_json.h): a decoded request has a valid model id,
 * 1..max_n rows of 1..MF_SCORE_MAX_DIM finite float32 values, and the body
 * the client would send for it (mf_req_scores_body) decodes to the same
 * request, bit for bit; an error is request_json.h's.
 */
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "score_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const mf_req_limits lim = mf_req_limits_default();
    mf_score_req r;
    mf_diag d = {0};
    mf_err err = mf_req_decode_scores((const char *) data, size, &lim, &r, &d);
    if (err != MF_OK) {
        fuzz_check_req_error(err, &d);
        return 0;
    }
    FUZZ_CHECK(mf_req_id_valid(r.model), "model '%s'", r.model);
    FUZZ_CHECK(r.n >= 1 && r.n <= lim.max_n, "n %zu", r.n);
    FUZZ_CHECK(r.D >= 1 && r.D <= MF_SCORE_MAX_DIM, "D %zu", r.D);
    for (size_t i = 0; i < r.n * r.D; i++) {
        FUZZ_CHECK(isfinite(r.points[i]), "point value %zu not finite", i);
    }
    char *body = mf_req_scores_body(r.model, r.points, r.n, r.D);
    if (body != NULL) {
        mf_score_req again;
        err = mf_req_decode_scores(body, strlen(body), &lim, &again, &d);
        FUZZ_CHECK(err == MF_OK || err == MF_ENOMEM, "the client's body %.200s: %s", body, d.msg);
        if (err == MF_OK) {
            FUZZ_CHECK(strcmp(again.model, r.model) == 0 && again.n == r.n && again.D == r.D,
                       "the client's body %.200s reads back otherwise", body);
            FUZZ_CHECK(memcmp(again.points, r.points, r.n * r.D * sizeof *r.points) == 0,
                       "the client's body %.200s has other points", body);
            mf_score_req_done(&again);
        }
        free(body);
    }
    mf_score_req_done(&r);
    return 0;
}
