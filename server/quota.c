/* SPDX-License-Identifier: MIT */
/*
 * quota.c - per-key token buckets and daily compute budgets (quota.h).
 *
 * Token bucket: a key holds up to burst tokens, refilled at rate per second;
 * each request takes one.  With t the time since the last request, the
 * bucket holds min(burst, tokens + rate * t); an empty one answers when the
 * next whole token arrives, (1 - tokens) / rate seconds from now, which is
 * the Retry-After a client gets.
 *
 * Daily compute: FLOPs charged per key within a UTC day (floor(now / 86400));
 * the first charge of a new day starts from zero.
 *
 * On a shared store both live there instead (store_pg_quota.c, the same
 * arithmetic in one statement).  A call the store fails is counted here in
 * memory, so an outage degrades to the per-replica limits of a lone daemon
 * instead of refusing (or crashing) every request; the outage is logged
 * when it starts and when it ends, not per request.
 */
#include "quota.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "clock.h"
#include "log.h"

#define STORE_RETRY_S 1.0 /* how often the store is asked again while it fails */

typedef struct key_state {
    double tokens, last; /* bucket: tokens at monotonic time last (last < 0: never used) */
    double used;         /* FLOPs charged on day */
    int64_t day;
} key_state;

struct mf_quota {
    mf_quota_cfg cfg;
    mf_store *store; /* shared: the counters live there; NULL: in keys[] */
    bool outage;     /* the store failed its last call: counting in memory (mu) */
    double retry_at; /* monotonic time the store is next asked during an outage (mu) */
    pthread_mutex_t mu;
    atomic_ullong refusals[MF_REFUSAL_COUNT];
    size_t n;
    key_state keys[];
};

static const char *const refusal_names[] = {
#define MF_REFUSAL_NAME(name, text) text,
    MF_REFUSAL_MAP(MF_REFUSAL_NAME)
#undef MF_REFUSAL_NAME
};

const char *mf_refusal_name(mf_refusal r)
{
    return r < MF_REFUSAL_COUNT ? refusal_names[r] : "?";
}

mf_err mf_quota_new(const mf_quota_cfg *cfg, size_t n_keys, mf_quota **ret)
{
    mf_quota *q = calloc(1, sizeof *q + n_keys * sizeof q->keys[0]);
    if (q == NULL || pthread_mutex_init(&q->mu, NULL) != 0) {
        free(q);
        return MF_ENOMEM;
    }
    q->cfg = *cfg;
    if (q->cfg.burst < 1) {
        q->cfg.burst = 1;
    }
    q->n = n_keys;
    for (size_t i = 0; i < n_keys; i++) {
        q->keys[i].last = -1;
        q->keys[i].day = -1;
    }
    for (int i = 0; i < MF_REFUSAL_COUNT; i++) {
        atomic_init(&q->refusals[i], 0);
    }
    *ret = q;
    return MF_OK;
}

void mf_quota_free(mf_quota *q)
{
    if (q != NULL) {
        pthread_mutex_destroy(&q->mu);
        free(q);
    }
}

void mf_quota_use_store(mf_quota *q, mf_store *store)
{
    q->store = mf_store_shared(store) ? store : NULL;
}

const mf_quota_cfg *mf_quota_cfg_of(const mf_quota *q)
{
    return &q->cfg;
}

/*
 * Whether to ask the store: it is shared and not known to be down.  During an
 * outage one request a second asks it again: a store that cannot connect
 * takes up to a reconnect's back-off to say so, which every request would
 * otherwise wait for.
 */
static bool ask_store(mf_quota *q)
{
    if (q->store == NULL) {
        return false;
    }
    pthread_mutex_lock(&q->mu);
    double now = mf_mono_s();
    bool ask = !q->outage || now >= q->retry_at;
    if (q->outage && ask) {
        q->retry_at = now + STORE_RETRY_S; /* this request probes; the others count here */
    }
    pthread_mutex_unlock(&q->mu);
    return ask;
}

/* Whether the store answered (err MF_OK); logs the start and the end of an outage once. */
static bool store_answered(mf_quota *q, mf_err err)
{
    if (err == MF_EINVAL) {
        return false; /* something the store cannot keep (no name, no finite cost): not an outage */
    }
    pthread_mutex_lock(&q->mu);
    bool was_out = q->outage;
    q->outage = err != MF_OK;
    if (err != MF_OK) {
        q->retry_at = mf_mono_s() + STORE_RETRY_S;
    }
    pthread_mutex_unlock(&q->mu);
    if (err != MF_OK && !was_out) {
        mf_log(MF_LOG_WARN, NULL, NULL,
               "the job store cannot count the per-key limits (%s): this replica counts them in "
               "memory, on its own, until it answers again",
               mf_strerror(err));
    } else if (err == MF_OK && was_out) {
        mf_log(MF_LOG_INFO, NULL, NULL, "the job store counts the per-key limits again");
    }
    return err == MF_OK;
}

bool mf_quota_take(mf_quota *q, size_t key, const char *name, double now, double *ret_retry_s)
{
    if (q == NULL || key >= q->n || !(q->cfg.rate > 0)) {
        return true;
    }
    bool ok = false;
    double retry = 0;
    if (ask_store(q) &&
        store_answered(q, mf_store_quota_take(q->store, name, q->cfg.rate, q->cfg.burst,
                                              mf_wall_s(), &ok, &retry))) {
        if (!ok && ret_retry_s != NULL) {
            *ret_retry_s = retry;
        }
        return ok;
    }
    pthread_mutex_lock(&q->mu);
    key_state *k = &q->keys[key];
    double tokens = k->last < 0
                        ? q->cfg.burst
                        : fmin(q->cfg.burst, k->tokens + q->cfg.rate * fmax(0, now - k->last));
    ok = tokens >= 1;
    k->tokens = ok ? tokens - 1 : tokens;
    k->last = now;
    pthread_mutex_unlock(&q->mu);
    if (!ok && ret_retry_s != NULL) {
        *ret_retry_s = (1 - tokens) / q->cfg.rate;
    }
    return ok;
}

bool mf_quota_charge(mf_quota *q, size_t key, const char *name, double flops, double now,
                     double *ret_retry_s, double *ret_used)
{
    if (q == NULL || key >= q->n || !(q->cfg.daily_flops > 0)) {
        return true;
    }
    int64_t day = (int64_t) floor(now / 86400.0);
    bool ok = false;
    double used = 0;
    if (!ask_store(q) ||
        !store_answered(
            q, mf_store_quota_charge(q->store, name, flops, q->cfg.daily_flops, day, &ok, &used))) {
        pthread_mutex_lock(&q->mu);
        key_state *k = &q->keys[key];
        if (k->day != day) {
            k->day = day;
            k->used = 0;
        }
        ok = k->used + flops <= q->cfg.daily_flops;
        if (ok) {
            k->used += flops;
        }
        used = k->used;
        pthread_mutex_unlock(&q->mu);
    }
    if (ret_used != NULL) {
        *ret_used = used;
    }
    if (!ok && ret_retry_s != NULL) {
        *ret_retry_s = (double) (day + 1) * 86400.0 - now;
    }
    return ok;
}

void mf_quota_refused(mf_quota *q, mf_refusal why)
{
    if (q != NULL && why < MF_REFUSAL_COUNT) {
        atomic_fetch_add(&q->refusals[why], 1);
    }
}

uint64_t mf_quota_refusals(const mf_quota *q, mf_refusal why)
{
    return q != NULL && why < MF_REFUSAL_COUNT ? atomic_load(&q->refusals[why]) : 0;
}
