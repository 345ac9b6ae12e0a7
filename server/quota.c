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
 */
#include "quota.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

typedef struct key_state {
    double tokens, last; /* bucket: tokens at monotonic time last (last < 0: never used) */
    double used;         /* FLOPs charged on day */
    int64_t day;
} key_state;

struct mf_quota {
    mf_quota_cfg cfg;
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

const mf_quota_cfg *mf_quota_cfg_of(const mf_quota *q)
{
    return &q->cfg;
}

bool mf_quota_take(mf_quota *q, size_t key, double now, double *ret_retry_s)
{
    if (q == NULL || key >= q->n || !(q->cfg.rate > 0)) {
        return true;
    }
    pthread_mutex_lock(&q->mu);
    key_state *k = &q->keys[key];
    double tokens = k->last < 0
                        ? q->cfg.burst
                        : fmin(q->cfg.burst, k->tokens + q->cfg.rate * fmax(0, now - k->last));
    bool ok = tokens >= 1;
    k->tokens = ok ? tokens - 1 : tokens;
    k->last = now;
    pthread_mutex_unlock(&q->mu);
    if (!ok && ret_retry_s != NULL) {
        *ret_retry_s = (1 - tokens) / q->cfg.rate;
    }
    return ok;
}

bool mf_quota_charge(mf_quota *q, size_t key, double flops, double now, double *ret_retry_s,
                     double *ret_used)
{
    if (q == NULL || key >= q->n || !(q->cfg.daily_flops > 0)) {
        return true;
    }
    int64_t day = (int64_t) floor(now / 86400.0);
    pthread_mutex_lock(&q->mu);
    key_state *k = &q->keys[key];
    if (k->day != day) {
        k->day = day;
        k->used = 0;
    }
    bool ok = k->used + flops <= q->cfg.daily_flops;
    if (ok) {
        k->used += flops;
    }
    double used = k->used;
    pthread_mutex_unlock(&q->mu);
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
