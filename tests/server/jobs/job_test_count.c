/* SPDX-License-Identifier: MIT */
/*
 * job_test_count.c - the test-only "test.count" job type (see
 * test_count_codec.c): counts to n, one step at a time, in slices.
 *
 * Events: a progress event per step (at most every 0.5 s, and the last).
 * Result {"count": n}.  Fails with code test_failure at step fail_at.  A
 * cancelled job reports how far it counted.  Its private state holds a heap
 * buffer, so a sanitizer build sees deinit free it on every path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "job_codec.h"
#include "job_type.h"
#include "test_count_codec.h"

extern const mf_job_codec mf_test_count_codec;

typedef struct count_job {
    size_t count;
    size_t *trace; /* trace[i] = step i was taken: a buffer only deinit frees */
} count_job;

static mf_err prepare(mf_job *j, mf_diag *d)
{
    const mf_test_count_req *q = mf_job_params(j);
    if (q->fail_at > q->n) {
        return mf_diag_setc(d, MF_ERANGE, "impossible", "/params/fail_at",
                            "fail_at %zu is past the last step %zu", q->fail_at, q->n);
    }
    mf_job_progress(j, 0, q->n, NULL, false);
    return MF_OK;
}

static mf_job_step slice(mf_job *j, double deadline)
{
    count_job *c = mf_job_priv(j);
    const mf_test_count_req *q = mf_job_params(j);
    if (c->trace == NULL && (c->trace = calloc(q->n, sizeof *c->trace)) == NULL) {
        mf_job_fail(j, "internal", "cannot allocate the trace", MF_ENOMEM);
        return MF_JOB_DONE;
    }
    while (c->count < q->n) {
        if (mf_job_stop_requested(j)) {
            return MF_JOB_MORE;
        }
        if (q->step_ms > 0) {
            struct timespec ts = {.tv_sec = 0, .tv_nsec = (long) q->step_ms * 1000000L};
            nanosleep(&ts, NULL);
        }
        c->trace[c->count++] = 1;
        if (c->count == q->fail_at) {
            mf_job_fail(j, "test_failure", "the step it was told to fail at", MF_EINTERNAL);
            return MF_JOB_DONE;
        }
        mf_job_progress(j, c->count, q->n, "counting", c->count == q->n);
        if (mf_mono_s() > deadline && c->count < q->n) {
            return MF_JOB_MORE;
        }
    }
    char result[64];
    snprintf(result, sizeof result, "{\"count\":%zu}", c->count);
    mf_job_succeed(j, result);
    return MF_JOB_DONE;
}

static void cancel(mf_job *j)
{
    const count_job *c = mf_job_priv(j);
    const mf_test_count_req *q = mf_job_params(j);
    char msg[96];
    snprintf(msg, sizeof msg, "cancelled after %zu of %zu steps", c->count, q->n);
    mf_job_cancel(j, msg);
}

static void deinit(mf_job *j)
{
    count_job *c = mf_job_priv(j);
    if (c != NULL) {
        free(c->trace);
    }
}

const mf_job_type mf_job_type_test_count = {
    .codec = &mf_test_count_codec,
    .state_size = sizeof(count_job),
    .prepare = prepare,
    .slice = slice,
    .cancel = cancel,
    .deinit = deinit,
};
