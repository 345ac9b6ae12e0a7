/* SPDX-License-Identifier: MIT */
/*
 * scheduler_store.c - the scheduler when the job store cannot write (its
 * disk is full, or it fails): no job is lost or left stuck, and none runs
 * until the store takes writes again.
 *
 * A write that fails for a storage reason (MF_ENOSPC, MF_EIO), a job's report
 * or a claim or a submit, starts a wait (backoff.h: 0.1 s doubling to 5 s).
 * While it lasts the workers keep answering sampling and score calls, which
 * need no store, but get no job slice: a queued job would fail to be claimed,
 * and a running one could only pile up reports in memory.  A job whose
 * reports the store did not take waits in s->stalled with them (job_impl.h:
 * mf_job_unstored).  When a try is due, the loop thread probes the store
 * (mf_store_probe: one small write); when it succeeds the wait ends, and the
 * stalled jobs go first: each flushes what it kept, in order, then goes on.
 * A job whose claim failed is back at the head of the queue and is claimed
 * again.  If a flush or a claim fails once more, the wait starts again with
 * the next delay.
 *
 * So the loops are bounded: one probe per delay (at most every 5 s while the
 * disk stays full), one slice's reports held per job.  /readyz reads the
 * store's own mark (mf_store_writable) and says "job store: disk full" while
 * writes fail.  A daemon stopped while jobs still hold reports loses those
 * reports, not the jobs: the store has them running, and the next start runs
 * them again, as after a crash.
 */
#include <math.h>

#include "clock.h"
#include "log.h"
#include "scheduler_int.h"

#define RETRY_MIN_S 0.1 /* the first retry */
#define RETRY_MAX_S 5.0 /* the longest wait between two */

static bool storage_trouble(mf_err err)
{
    return err == MF_ENOSPC || err == MF_EIO;
}

void mf__sched_store_failed(mf_sched *s, mf_err err)
{
    if (!storage_trouble(err)) {
        return;
    }
    uv_mutex_lock(&s->lock);
    bool began = !s->store_wait.waiting;
    double now = mf_mono_s();
    double until = mf_backoff_fail(&s->store_wait, now);
    if (began) {
        s->store_since = now;
    }
    uv_mutex_unlock(&s->lock);
    if (began) {
        mf_log(MF_LOG_WARN, NULL, NULL,
               "the job store cannot write (%s): jobs wait; trying again in %.1f s",
               mf_strerror(err), until - now);
    }
    uv_async_send(&s->wake); /* the loop arms the retry timer */
}

bool mf__sched_store_waiting(const mf_sched *s)
{
    return s->store_wait.waiting;
}

void mf__sched_stall(mf_sched *s, mf_job *j)
{
    mf__sched_list_push(&s->stalled, j);
}

static void on_retry(uv_timer_t *t)
{
    mf_sched *s = t->data;
    uv_async_send(&s->wake); /* on_wake tries and dispatches */
}

void mf__sched_store_retry(mf_sched *s)
{
    uv_mutex_lock(&s->lock);
    bool due = mf_backoff_due(&s->store_wait, mf_mono_s()) && !s->stopping;
    uv_mutex_unlock(&s->lock);
    if (due) {
        /* Not under the lock: a write may wait for another process's (SQLite's busy timeout). */
        mf_err err = mf_store_probe(s->store);
        double now = mf_mono_s(), since = 0.0;
        size_t stalled = 0, queued = 0;
        uv_mutex_lock(&s->lock);
        s->stats.store_retries_total++;
        if (err == MF_OK) {
            mf_backoff_ok(&s->store_wait);
            stalled = s->stalled.n;
            queued = s->queued.n;
            since = s->store_since;
        } else {
            (void) mf_backoff_fail(&s->store_wait, now);
        }
        uv_mutex_unlock(&s->lock);
        if (err == MF_OK) {
            mf_log(MF_LOG_INFO, NULL, NULL,
                   "the job store writes again after %.1f s: %zu jobs resume, %zu queued",
                   now - since, stalled, queued);
        }
    }
    uv_mutex_lock(&s->lock);
    bool waiting = s->store_wait.waiting && !s->stopping;
    double left = s->store_wait.until - mf_mono_s();
    uv_mutex_unlock(&s->lock);
    if (waiting) {
        uv_timer_start(&s->retry, on_retry, left > 0.0 ? (uint64_t) ceil(left * 1000.0) : 0, 0);
    }
}

void mf__sched_store_init(mf_sched *s)
{
    s->store_wait = mf_backoff_make(RETRY_MIN_S, RETRY_MAX_S);
}

unsigned mf_sched_store_retry_after(mf_sched *s)
{
    uv_mutex_lock(&s->lock);
    double left = s->store_wait.waiting ? s->store_wait.until - mf_mono_s() : 0.0;
    uv_mutex_unlock(&s->lock);
    return left < 1.0 ? 1u : (unsigned) ceil(left);
}
