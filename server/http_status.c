/* SPDX-License-Identifier: MIT */
/* http_status.c - errors to HTTP statuses and codes (see http_status.h). */
#include "http_status.h"

#include <string.h>

/* Every machine code of the API and its status. */
static const struct {
    const char *code;
    unsigned status;
} codes[] = {
    {"bad_json", 400},
    {"missing_field", 400},
    {"wrong_type", 400},
    {"out_of_range", 400},
    {"unknown_field", 400},
    {"bad_value", 400},
    {"empty_body", 400},
    {"unauthorized", 401},
    {"forbidden", 403},
    {"forbidden_origin", 403},
    {"not_found", 404},
    {"model_not_found", 404},
    {"dataset_not_found", 404},
    {"method_not_allowed", 405},
    {"exists", 409},
    {"model_exists", 409},
    {"protected", 409},
    {"conflict", 409},
    {"no_result", 409},
    {"not_finished", 409},
    {"too_large", 413},
    {"unsupported_media_type", 415},
    {"bad_host", 421},
    {"impossible", 422},
    {"unsupported_type", 422},
    {"invalid_model", 422},
    {"invalid_dataset", 422},
    {"rate_limited", 429},
    {"queue_full", 503},
    {"insufficient_storage", 507},
    {"shutting_down", 503},
    {"internal", 500},
    {"insufficient_storage", 507},
    {"store", 500},
};

/* The code of an error whose diag names none. */
static const char *default_code(mf_err err)
{
    switch (err) {
    case MF_EINVAL:
        return "bad_value";
    case MF_ERANGE:
    case MF_ESHAPE:
        return "impossible";
    case MF_EFORMAT:
        return "invalid_model";
    case MF_ENOTFOUND:
        return "not_found";
    case MF_EBUSY:
        return "conflict";
    case MF_ECANCELED:
        return "shutting_down";
    case MF_EIO:
        return "store";
    case MF_ENOSPC:
        return "insufficient_storage";
    default:
        return "internal";
    }
}

unsigned mf_http_code_status(const char *code)
{
    for (size_t i = 0; code != NULL && i < sizeof codes / sizeof codes[0]; i++) {
        if (strcmp(code, codes[i].code) == 0) {
            return codes[i].status;
        }
    }
    return 500;
}

unsigned mf_http_status(mf_err err, const mf_diag *d, const char **ret_code)
{
    const char *code = d != NULL && d->code[0] != '\0' ? d->code : default_code(err);
    if (ret_code != NULL) {
        *ret_code = code;
    }
    return mf_http_code_status(code);
}
