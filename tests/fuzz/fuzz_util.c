/* SPDX-License-Identifier: MIT */
/* fuzz_util.c - the checks every fuzz target shares (see fuzz.h). */
#include <string.h>

#include "fuzz.h"
#include "http_status.h"
#include "req_decode.h"
#include "utf8.h"

char *fuzz_cstring(const uint8_t *data, size_t size, size_t cap)
{
    const uint8_t *nul = memchr(data, '\0', size);
    size_t n = nul != NULL ? (size_t) (nul - data) : size;
    if (cap > 0 && n > cap - 1) {
        n = cap - 1;
    }
    char *s = malloc(n + 1);
    if (s == NULL) {
        abort();
    }
    memcpy(s, data, n);
    s[n] = '\0';
    return s;
}

/* s is NUL-terminated within cap bytes and valid UTF-8. */
static bool text_ok(const char *s, size_t cap)
{
    const char *nul = memchr(s, '\0', cap);
    return nul != NULL && mf_utf8_valid(s, (size_t) (nul - s));
}

void fuzz_check_diag(mf_err err, const mf_diag *d)
{
    FUZZ_CHECK(err < MF_OK && strcmp(mf_err_name(err), "MF_UNKNOWN") != 0, "error %d", (int) err);
    FUZZ_CHECK(text_ok(d->msg, sizeof d->msg), "message not UTF-8 or not terminated");
    FUZZ_CHECK(text_ok(d->field, sizeof d->field), "field not UTF-8 or not terminated");
    FUZZ_CHECK(text_ok(d->code, sizeof d->code), "code not UTF-8 or not terminated");
    FUZZ_CHECK(d->msg[0] != '\0', "%s without a message (field '%s')", mf_err_name(err), d->field);
}

void fuzz_check_req_error(mf_err err, const mf_diag *d)
{
    static const char *const codes[] = {"bad_json",     "missing_field",    "wrong_type",
                                        "out_of_range", "unknown_field",    "bad_value",
                                        "impossible",   "unsupported_type", NULL};
    fuzz_check_diag(err, d);
    FUZZ_CHECK(err == MF_EINVAL || err == MF_ENOMEM, "%s: %s", mf_err_name(err), d->msg);
    FUZZ_CHECK(d->field[0] == '\0' || d->field[0] == '/', "field '%s' is no JSON pointer",
               d->field);
    const char *code = NULL;
    unsigned status = mf_http_status(err, d, &code);
    if (err == MF_ENOMEM) {
        FUZZ_CHECK(status == 500 && strcmp(code, "internal") == 0, "out of memory as %s", code);
        return;
    }
    bool known = false;
    for (size_t i = 0; codes[i] != NULL; i++) {
        known |= strcmp(code, codes[i]) == 0;
    }
    FUZZ_CHECK(known, "code '%s' is no decoder code (%s)", code, d->msg);
    FUZZ_CHECK(status == 400 || status == 422, "code '%s' answers %u", code, status);
}

void fuzz_check_sample_req(const mf_sample_req *r, const mf_req_limits *lim)
{
    FUZZ_CHECK(mf_req_id_valid(r->model), "model '%s'", r->model);
    FUZZ_CHECK(r->n >= 1 && r->n <= lim->max_n, "n %zu", r->n);
    FUZZ_CHECK(r->steps <= lim->max_steps, "steps %zu", r->steps);
    FUZZ_CHECK(r->eta >= 0 && r->eta <= 1, "eta %g", r->eta);
    FUZZ_CHECK(!r->has_seed || r->seed <= MF_REQ_SEED_MAX, "seed %llu",
               (unsigned long long) r->seed);
    FUZZ_CHECK(!r->has_sampler || mf_sampler_name(r->sampler) != NULL, "sampler %d",
               (int) r->sampler);
    FUZZ_CHECK(!r->has_target || (r->target >= -1e6 && r->target <= 1e6), "target %g", r->target);
    FUZZ_CHECK(r->n_condition <= MF_SAMPLE_MAX_COND, "%zu conditions", r->n_condition);
    for (size_t i = 0; i < r->n_condition; i++) {
        FUZZ_CHECK(r->condition[i] >= -1e6 && r->condition[i] <= 1e6, "condition %g",
                   r->condition[i]);
    }
    FUZZ_CHECK(!(r->has_target && r->n_condition > 0), "target and condition");
    if (r->has_guidance) {
        FUZZ_CHECK(r->guidance_w >= 0 && r->guidance_w <= 1000, "guidance w %g", r->guidance_w);
        FUZZ_CHECK(r->guidance != MF_GUIDE_REWARD || r->has_target, "reward guidance, no target");
    }
}

void fuzz_check_job_round_trip(const mf_job_req *j, const mf_req_limits *lim)
{
    FUZZ_CHECK(j->codec != NULL && j->params != NULL && j->params_json != NULL, "a job half made");
    mf_job_req again;
    mf_diag d = {0};
    mf_err err =
        mf_req_decode_job_params(j->codec->name, j->model, j->params_json, lim, &again, &d);
    if (err == MF_ENOMEM) {
        return;
    }
    FUZZ_CHECK(err == MF_OK, "%s params %s do not decode again: %s (%s)", j->codec->name,
               j->params_json, d.msg, d.field);
    FUZZ_CHECK(strcmp(again.params_json, j->params_json) == 0, "%s params %s came back as %s",
               j->codec->name, j->params_json, again.params_json);
    mf_job_req_done(&again);
}
