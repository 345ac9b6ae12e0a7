/* SPDX-License-Identifier: MIT */
/*
 * test_jobs.h - reading a job back from the job store in the server/ tests
 * that run jobs: the record, its state, its progress.  A job that is not
 * there fails the test.
 */
#ifndef MF_TEST_JOBS_H
#define MF_TEST_JOBS_H

#include <string.h>

#include <check.h>

#include "store.h"

/* Job id's record (mf_job_rec_done it). */
static inline mf_job_rec store_job(mf_store *s, const char *id)
{
    mf_job_rec r;
    memset(&r, 0, sizeof r);
    mf_err err = mf_store_job_get(s, id, &r);
    ck_assert_msg(err == MF_OK, "get %s: %s", id, mf_err_name(err));
    return r;
}

static inline mf_job_state store_job_state(mf_store *s, const char *id)
{
    mf_job_rec r = store_job(s, id);
    mf_job_state st = r.state;
    mf_job_rec_done(&r);
    return st;
}

static inline uint64_t store_job_done(mf_store *s, const char *id)
{
    mf_job_rec r = store_job(s, id);
    uint64_t done = r.done;
    mf_job_rec_done(&r);
    return done;
}

#endif /* MF_TEST_JOBS_H */
