/* SPDX-License-Identifier: MIT */
/*
 * http_quota.c - the per-key limits a route checks before it queues work or
 * stores a file (the request rate is checked for every request in
 * http_admit.c): concurrent jobs, compute per day, bytes stored.  Each is a
 * 429 rate_limited with Retry-After and a message naming the limit.
 *
 * Admin keys are the operator's: these three limits do not apply to them
 * (the rate does).  Without keys there is nobody to count.
 */
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "clock.h"
#include "datasets.h"
#include "http_req.h"

/* The key these limits apply to, or NULL. */
static const mf_key *limited_key(const req *r)
{
    return r->key != NULL && (r->key->scopes & MF_SCOPE_ADMIN) == 0 ? r->key : NULL;
}

bool mf_http_job_slot(req *r, enum MHD_Result *ret)
{
    const mf_key *k = limited_key(r);
    size_t max = mf_quota_cfg_of(r->srv->quota)->max_jobs;
    if (k == NULL || max == 0) {
        return true;
    }
    uint64_t c[5];
    if (mf_store_count_owner(r->srv->store, k->name, c) != MF_OK) {
        *ret = mf_http_error(r, "store", NULL, "the job store failed");
        return false;
    }
    uint64_t active = c[MF_JOB_QUEUED] + c[MF_JOB_RUNNING];
    if (active < max) {
        return true;
    }
    *ret = mf_http_over_quota(r, MF_REFUSAL_JOBS, 5,
                              "the API key %s has %llu jobs queued or running; its limit is %zu",
                              k->name, (unsigned long long) active, max);
    return false;
}

bool mf_http_compute(req *r, double flops, enum MHD_Result *ret)
{
    const mf_key *k = limited_key(r);
    double retry = 0, used = 0;
    if (k == NULL ||
        mf_quota_charge(r->srv->quota, k->index, k->name, flops, mf_wall_s(), &retry, &used)) {
        return true;
    }
    *ret = mf_http_over_quota(r, MF_REFUSAL_COMPUTE, retry,
                              "the API key %s has used %.3g of its %.3g FLOPs today; this request "
                              "needs %.3g more (the budget renews at 00:00 UTC)",
                              k->name, used, mf_quota_cfg_of(r->srv->quota)->daily_flops, flops);
    return false;
}

/* Bytes of the models and data sets key owns. */
static uint64_t stored_bytes(req *r, const char *key)
{
    uint64_t total = 0;
    mf_reg_model **models = NULL;
    size_t n = 0;
    if (mf_registry_list(r->srv->reg, &models, &n) == MF_OK) {
        for (size_t i = 0; i < n; i++) {
            total += strcmp(models[i]->owner, key) == 0 ? models[i]->file_bytes : 0;
            mf_registry_release(r->srv->reg, models[i]);
        }
        free(models);
    }
    mf_datasets *ds = mf_registry_datasets(r->srv->reg);
    mf_reg_dataset **sets = NULL;
    if (ds != NULL && mf_datasets_list(ds, &sets, &n) == MF_OK) {
        for (size_t i = 0; i < n; i++) {
            total += strcmp(sets[i]->owner, key) == 0 ? sets[i]->file_bytes : 0;
            mf_datasets_release(ds, sets[i]);
        }
        free(sets);
    }
    return total;
}

bool mf_http_storage(req *r, uint64_t adding, enum MHD_Result *ret)
{
    const mf_key *k = limited_key(r);
    uint64_t max = mf_quota_cfg_of(r->srv->quota)->max_bytes;
    if (k == NULL || max == 0) {
        return true;
    }
    uint64_t have = stored_bytes(r, k->name);
    if (have + adding <= max) {
        return true;
    }
    *ret = mf_http_over_quota(r, MF_REFUSAL_STORAGE, 3600,
                              "the API key %s stores %llu bytes of models and datasets; with %llu "
                              "more it would pass its limit of %llu (delete some first)",
                              k->name, (unsigned long long) have, (unsigned long long) adding,
                              (unsigned long long) max);
    return false;
}
