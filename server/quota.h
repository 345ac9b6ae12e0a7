/* SPDX-License-Identifier: MIT */
/*
 * quota.h - per-key limits: a request rate (token bucket) and a daily compute
 * budget per key, and the count of refusals by reason that /metrics shows.
 * The limits on concurrent jobs and stored bytes are counted where the jobs
 * and files are (the job store, the registries) and only checked against
 * this configuration.
 *
 * Where the rate and the compute are counted: in memory, which is exact for
 * one daemon (SQLite); on a store several replicas share (PostgreSQL,
 * mf_quota_use_store), in the store, one statement per request, so a key's
 * limits hold across all the replicas rather than once per replica.  When
 * the store does not answer, a request is counted in memory instead (it
 * fails open to this replica's own limit, logged once per outage): a
 * database outage must not refuse every request.  Thread-safe.
 */
#ifndef MF_QUOTA_H
#define MF_QUOTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "store.h"

/* Why a request was refused before it ran, for /metrics. */
#define MF_REFUSAL_MAP(XX)                                                         \
    XX(UNAUTHORIZED, "unauthorized") /* no key, or an unknown one */               \
    XX(FORBIDDEN, "forbidden")       /* the key lacks the scope */                 \
    XX(BAD_HOST, "bad_host")         /* a Host not on the allow-list */            \
    XX(ORIGIN, "forbidden_origin")   /* a state-changing request from elsewhere */ \
    XX(RATE, "rate")                 /* over the key's request rate */             \
    XX(JOBS, "jobs")                 /* over the key's concurrent jobs */          \
    XX(COMPUTE, "compute")           /* over the key's daily compute */            \
    XX(STORAGE, "storage")           /* over the key's stored bytes */

typedef enum mf_refusal {
#define MF_REFUSAL_ENUM(name, text) MF_REFUSAL_##name,
    MF_REFUSAL_MAP(MF_REFUSAL_ENUM)
#undef MF_REFUSAL_ENUM
    MF_REFUSAL_COUNT
} mf_refusal;

/** The reason's label in /metrics. */
const char *mf_refusal_name(mf_refusal r);

typedef struct mf_quota_cfg {
    double rate;        /* requests per second per key; 0 = no limit */
    double burst;       /* the bucket's size: requests a key may make at once */
    size_t max_jobs;    /* queued + running jobs per key; 0 = no limit */
    double daily_flops; /* compute per key per UTC day; 0 = no limit */
    uint64_t max_bytes; /* models and datasets stored per key; 0 = no limit */
} mf_quota_cfg;

typedef struct mf_quota mf_quota;

/** Counters for n_keys keys (indices 0..n_keys-1).  Errors: MF_ENOMEM. */
MF_MUST_CHECK mf_err mf_quota_new(const mf_quota_cfg *cfg, size_t n_keys, mf_quota **ret);

/** Frees q; accepts NULL. */
void mf_quota_free(mf_quota *q);

/**
 * Counts the rate and the compute in store when several replicas share it
 * (mf_store_shared); else (SQLite, NULL) in memory, as without this call.
 * Call before q is used by other threads; store must outlive q.
 */
void mf_quota_use_store(mf_quota *q, mf_store *store);

/** The configuration given to new. */
const mf_quota_cfg *mf_quota_cfg_of(const mf_quota *q);

/**
 * Takes one request from the bucket of key (its index; name: its name, how
 * the store knows it) at monotonic time now (in memory; the store goes by
 * the wall clock, which the replicas share).  false: the bucket is empty;
 * *ret_retry_s is when the next token comes.
 */
bool mf_quota_take(mf_quota *q, size_t key, const char *name, double now, double *ret_retry_s);

/**
 * Charges flops of compute to the budget of key (name: as for take) of the
 * UTC day of wall time now.  false (nothing charged): the day's budget
 * would be exceeded; *ret_retry_s is the time to the next UTC day, *ret_used
 * what the key used today.
 */
bool mf_quota_charge(mf_quota *q, size_t key, const char *name, double flops, double now,
                     double *ret_retry_s, double *ret_used);

/** Counts a refusal. */
void mf_quota_refused(mf_quota *q, mf_refusal why);

/** The refusals counted for a reason. */
uint64_t mf_quota_refusals(const mf_quota *q, mf_refusal why);

#endif /* MF_QUOTA_H */
