/* SPDX-License-Identifier: MIT */
/* req_limits.c - ids and the default request limits (see req_limits.h). */
#include "req_limits.h"

#include "model_file.h"

bool mf_req_id_valid(const char *s)
{
    if (s == NULL) {
        return false;
    }
    size_t i = 0;
    for (; s[i] != '\0'; i++) {
        if (i == MF_REQ_ID_MAX) {
            return false;
        }
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        /* '.', '_' and '-' never first: no id is ".", "..", a hidden file or an option. */
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) {
            return false;
        }
    }
    return i > 0;
}

mf_req_limits mf_req_limits_default(void)
{
    return (mf_req_limits){.max_n = 10000,
                           .max_steps = 1000,
                           .max_train_steps = 200000,
                           .max_batch = 4096,
                           .max_model_params = MF_MODEL_MAX_PARAMS,
                           .max_job_bytes = (size_t) 2 << 30,
                           .max_job_flops = 1e16};
}
