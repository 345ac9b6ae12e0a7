/* SPDX-License-Identifier: MIT */
/*
 * scheduler_lease.c - job leases, when several replicas share the job store
 * (mf_store_shared: PostgreSQL).  Every job this replica claims holds a lease
 * of cfg.job_lease_s seconds (store.h: mf_store_set_lease, set by the daemon
 * at start).  Two timers of the scheduler's loop:
 *
 *  - renew, every third of a lease: one statement renews the leases of every
 *    job this replica runs; a started job missing from the answer was taken
 *    over by another replica (its lease expired: this replica was cut off
 *    from the database for longer than a lease) and is said once in the log;
 *    what it still reports is refused by the store (fencing), its new owner's
 *    run is the job's;
 *  - reclaim, every half lease: running jobs whose lease expired (their
 *    replica died) go back to the queue, or fail once out of attempts, and
 *    the ones queued again are queued here too, as at a restart: this replica
 *    claims and runs them (a fine-tuning job from its checkpoint).  A job it
 *    finds that it still runs itself (its own lease expired: the database was
 *    out of reach for longer than a lease) it claims again and lets go on,
 *    rather than run it twice.
 *
 * So a job whose replica dies is running again elsewhere within about a lease
 * and a half.
 *
 * The queue is shared too: a job is queued in the store, and the replica that
 * stored it keeps it in its own queue only as a cache (it claims it by id
 * before it runs it, mf_store_job_claim, and drops it when that answers
 * MF_EBUSY: cancelled, or taken by another replica).  A third timer, take,
 * every 0.5 s and at once when a running slot frees: while the replica has
 * room for a running job that its own queue does not fill (max_running_jobs,
 * not draining, the store writing), it claims the oldest queued job of the
 * store (mf_store_job_claim_next), whichever replica stored it, and starts it.
 * So an idle replica runs the jobs a busy one received, and a job queued on a
 * replica that died runs within half a second elsewhere.
 *
 * An SQLite file is one daemon's: no timer runs, and recovery at start
 * (mf_store_recover) takes every job left running, as it always did.
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "scheduler_int.h"

#define DEFAULT_LEASE_S 30.0
#define TAKE_MS         500 /* how often an idle replica looks at a shared store's queue */

static double lease_s(const mf_sched *s)
{
    return s->cfg.job_lease_s > 0 ? s->cfg.job_lease_s : DEFAULT_LEASE_S;
}

static bool renewed(char (*ids)[MF_ID_MAX + 1], size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ids[i], id) == 0) {
            return true;
        }
    }
    return false;
}

/* Lock held: j, started here before the renewal at t, is no longer ours when ids lack it. */
static void check_lost(mf_job *j, double t, char (*ids)[MF_ID_MAX + 1], size_t n)
{
    if (!j->started || j->finished || j->lease_lost || j->started_at >= t ||
        renewed(ids, n, j->id)) {
        return;
    }
    j->lease_lost = true;
    mf_log(MF_LOG_WARN, NULL, j->id,
           "job taken over by another replica (its lease expired); what it reports here is "
           "refused");
}

static void on_renew(uv_timer_t *t)
{
    mf_sched *s = t->data;
    double now = mf_wall_s();
    char(*ids)[MF_ID_MAX + 1] = NULL;
    size_t n = 0;
    mf_err err = mf_store_job_renew(s->store, now, &ids, &n);
    if (err != MF_OK) {
        mf_log(MF_LOG_WARN, NULL, NULL, "cannot renew the job leases: %s", mf_strerror(err));
        return;
    }
    /* Jobs between two slices only: a worker's job is its own until the slice ends (and
     * a job computes for a slice at a time, so it is here again soon). */
    uv_mutex_lock(&s->lock);
    const job_list *lists[] = {&s->paused, &s->stalled};
    for (size_t k = 0; k < 2; k++) {
        for (mf_job *j = lists[k]->head; j != NULL; j = j->next) {
            check_lost(j, now, ids, n);
        }
    }
    uv_mutex_unlock(&s->lock);
    free(ids);
}

static void on_reclaim(uv_timer_t *t)
{
    mf_sched *s = t->data;
    mf_err err = mf__sched_reclaim(s);
    if (err != MF_OK) {
        mf_log(MF_LOG_WARN, NULL, NULL, "cannot reclaim expired job leases: %s", mf_strerror(err));
        return;
    }
    uv_async_send(&s->wake); /* what it queued here runs */
}

/* Loop thread: while this replica has room for another running job that its own queue does
 * not fill, claims the oldest queued job of the store, whichever replica stored it. */
static void take_queued(mf_sched *s)
{
    for (;;) {
        uv_mutex_lock(&s->lock);
        s->take_now = false;
        bool room = !s->draining && !s->stopping && !mf__sched_store_waiting(s) &&
                    s->n_started + s->queued.n < s->cfg.max_running_jobs;
        uv_mutex_unlock(&s->lock);
        if (!room) {
            return;
        }
        char id[MF_ID_MAX + 1];
        double t = mf_wall_s();
        uv_mutex_lock(&s->claim_lock);
        mf_err err = mf_store_job_claim_next(s->store, t, id);
        bool on_worker = err == MF_OK && mf__sched_adopt_local(s, id);
        uv_mutex_unlock(&s->claim_lock);
        if (err != MF_OK) {
            if (err != MF_ENOTFOUND) {
                mf__sched_store_failed(s, err);
            }
            return;
        }
        if (!on_worker) {
            mf__sched_adopt(s, id, t);
        }
        uv_async_send(&s->wake); /* it runs */
    }
}

static void on_take(uv_timer_t *t)
{
    take_queued(t->data);
}

void mf__sched_take_if_due(mf_sched *s)
{
    uv_mutex_lock(&s->lock);
    bool due = s->take_now && mf_store_shared(s->store);
    uv_mutex_unlock(&s->lock);
    if (due) {
        take_queued(s);
    }
}

void mf__sched_lease_start(mf_sched *s)
{
    uv_timer_init(&s->loop, &s->renew);
    uv_timer_init(&s->loop, &s->reclaim);
    uv_timer_init(&s->loop, &s->take);
    s->renew.data = s->reclaim.data = s->take.data = s;
    if (!mf_store_shared(s->store)) {
        return;
    }
    uv_timer_start(&s->take, on_take, 0, TAKE_MS);
    uint64_t renew_ms = (uint64_t) (lease_s(s) * 1000.0 / 3.0);
    uint64_t reclaim_ms = (uint64_t) (lease_s(s) * 1000.0 / 2.0);
    renew_ms = renew_ms > 0 ? renew_ms : 1;
    reclaim_ms = reclaim_ms > 0 ? reclaim_ms : 1;
    uv_timer_start(&s->renew, on_renew, renew_ms, renew_ms);
    uv_timer_start(&s->reclaim, on_reclaim, reclaim_ms, reclaim_ms);
}

void mf__sched_lease_close(mf_sched *s)
{
    uv_close((uv_handle_t *) &s->renew, NULL);
    uv_close((uv_handle_t *) &s->reclaim, NULL);
    uv_close((uv_handle_t *) &s->take, NULL);
}
