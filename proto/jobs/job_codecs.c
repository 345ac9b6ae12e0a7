/* SPDX-License-Identifier: MIT */
/*
 * job_codecs.c - the table of job codecs (job_codec.h): one line per job
 * type.  Test builds (MF_TEST_JOB_TYPES) add the test-only codecs of
 * tests/server/jobs/.
 */
#include <string.h>

#include "job_codec.h"

#define JOB_CODECS(X)  \
    X(mf_sample_codec) \
    X(mf_train_codec)  \
    X(mf_smeme_codec)  \
    X(mf_reward_codec) \
    X(mf_dxmi_codec)   \
    TEST_JOB_CODECS(X)

#ifdef MF_TEST_JOB_TYPES
#    define TEST_JOB_CODECS(X) X(mf_test_count_codec)
#else
#    define TEST_JOB_CODECS(X)
#endif

#define DECLARE(c) extern const mf_job_codec c;
#define ENTRY(c)   &c,
JOB_CODECS(DECLARE)
const mf_job_codec *const mf_job_codecs[] = {JOB_CODECS(ENTRY) NULL};

const mf_job_codec *mf_job_codec_lookup(const char *name)
{
    for (size_t i = 0; name != NULL && mf_job_codecs[i] != NULL; i++) {
        if (strcmp(name, mf_job_codecs[i]->name) == 0) {
            return mf_job_codecs[i];
        }
    }
    return NULL;
}
