/* SPDX-License-Identifier: MIT */
/*
 * job_types.c - the table of job types this daemon runs (job_type.h): one
 * line per type.  Test builds (MF_TEST_JOB_TYPES) add the test-only types of
 * tests/server/jobs/.
 */
#include <string.h>

#include "job_type.h"

#define JOB_TYPES(X)      \
    X(mf_job_type_sample) \
    X(mf_job_type_train)  \
    X(mf_job_type_smeme)  \
    X(mf_job_type_reward) \
    X(mf_job_type_dxmi)   \
    TEST_JOB_TYPES(X)

#ifdef MF_TEST_JOB_TYPES
#    define TEST_JOB_TYPES(X) X(mf_job_type_test_count)
#else
#    define TEST_JOB_TYPES(X)
#endif

#define DECLARE(t) extern const mf_job_type t;
#define ENTRY(t)   &t,
JOB_TYPES(DECLARE)
const mf_job_type *const mf_job_types[] = {JOB_TYPES(ENTRY) NULL};

const mf_job_type *mf_job_type_lookup(const char *name)
{
    for (size_t i = 0; name != NULL && mf_job_types[i] != NULL; i++) {
        if (strcmp(name, mf_job_types[i]->codec->name) == 0) {
            return mf_job_types[i];
        }
    }
    return NULL;
}
