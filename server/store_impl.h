/* SPDX-License-Identifier: MIT */
/*
 * store_impl.h - the private seam between store.c and the store backends.
 * Nothing outside server/store*.c includes this.
 *
 * store.c owns everything that does not depend on the database: parsing the
 * URI, checking every argument (NULL pointers, id syntax, finite times, limit
 * ranges, which payload goes with which final state) and the mf_store handle
 * itself.  A backend therefore receives only arguments that already satisfy
 * store.h, and its job is the storage semantics: transactions, atomic claims,
 * gap-free event sequences.  PostgreSQL (store_pg*.c) is one more vtable here and
 * one more scheme in store.c; no caller changes.
 *
 * Each backend function has the contract of the store.h function of the same
 * name, with `b` the backend's own handle (returned by open) in place of the
 * mf_store.  A backend serialises its own access: store.c takes no lock.
 * A backend answers MF_ENOSPC when its storage is full, MF_EIO for other
 * storage trouble: store.c keeps from them whether writes go through.
 */
#ifndef MF_STORE_IMPL_H
#define MF_STORE_IMPL_H

#include "store.h"

typedef struct mf_store_vtable {
    const char *scheme; /* "sqlite": the URI prefix before ':' */
    const char *alias;  /* another name of the scheme ("postgresql"), or NULL */
    bool whole_uri;     /* open gets the whole URI (libpq parses it), not the target */
    bool shared;        /* several daemons share it: recovery at start goes by lease */
    /* target: the URI after "scheme:", non-empty (or the whole URI: whole_uri). */
    mf_err (*open)(const char *target, void **ret, mf_diag *diag);
    void (*close)(void *b); /* b is never NULL */
    mf_err (*ping)(void *b);
    mf_err (*probe)(void *b);
    mf_err (*job_insert)(void *b, const mf_job_rec *r, const char *first_event_data);
    mf_err (*job_get)(void *b, const char *id, mf_job_rec *ret);
    mf_err (*job_list)(void *b, const mf_job_filter *f, mf_job_rec **ret, size_t *ret_n);
    mf_err (*jobs_queued)(void *b, char (**ret)[MF_ID_MAX + 1], size_t *ret_n);
    /* me: the handle's replica (mf_store_set_lease); lease_until = now + its lease */
    mf_err (*job_claim)(void *b, const char *id, double now, const char *me, double lease_until);
    /* the oldest queued job claimed as job_claim claims it; MF_ENOTFOUND: none queued */
    mf_err (*job_claim_next)(void *b, double now, const char *me, double lease_until,
                             char ret_id[MF_ID_MAX + 1]);
    /* the ids renewed into *ret (never NULL here) */
    mf_err (*job_renew)(void *b, const char *me, double lease_until, char (**ret)[MF_ID_MAX + 1],
                        size_t *ret_n);
    /* fenced: a running job whose lease another replica holds is MF_EBUSY */
    mf_err (*job_progress)(void *b, const char *id, const char *me, uint64_t done, uint64_t total);
    mf_err (*job_metrics)(void *b, const char *id, const char *metrics);
    /* me NULL: not fenced (a cancel) */
    mf_err (*job_finish)(void *b, const char *id, const char *me, mf_job_state final,
                         const char *result, const char *error, const char *final_event_data,
                         double now);
    /* ret_seq is never NULL here (store.c passes a local). */
    mf_err (*event_append)(void *b, const char *id, const char *me, const char *name,
                           const char *data, uint64_t *ret_seq);
    mf_err (*events_after)(void *b, const char *id, uint64_t after, size_t max, mf_event_rec **ret,
                           size_t *ret_n);
    /* The running jobs with lease_until < expired_before (+infinity: all) or whose lease
     * mine (NULL: none) holds.  The requeued ids go to *ret_ids (n = *ret_requeued);
     * ret_ids, ret_requeued and ret_failed are never NULL here. */
    mf_err (*recover)(void *b, double expired_before, const char *mine, uint32_t max_attempts,
                      mf_recover_event_fn event_data, void *ctx, const char *fail_error, double now,
                      char (**ret_ids)[MF_ID_MAX + 1], size_t *ret_requeued, size_t *ret_failed);
    /* ret_n is never NULL here. */
    mf_err (*expire)(void *b, double before, size_t *ret_n);
    mf_err (*count_states)(void *b, const char *owner, uint64_t counts[5]);
    /* NULL when the backend has nothing to watch (store.c answers MF_OK); fn is not NULL */
    mf_err (*watch)(void *b, mf_store_watch_fn fn, void *ctx);
    void (*unwatch)(void *b); /* NULL as watch */
    /* NULL as watch; id is a valid id */
    mf_err (*announce_model)(void *b, const char *id);
    /* The per-key limits (store.h: mf_store_quota_take, _charge); NULL when the backend
     * keeps none (store.c answers MF_ENOTFOUND).  key_name is 1..64 bytes, the numbers
     * finite and in range, the ret pointers not NULL. */
    mf_err (*quota_take)(void *b, const char *key_name, double rate, double burst, double now,
                         bool *ret_ok, double *ret_retry_s);
    mf_err (*quota_charge)(void *b, const char *key_name, double flops, double limit, int64_t day,
                           bool *ret_ok, double *ret_used);
} mf_store_vtable;

/* store_sqlite.c */
extern const mf_store_vtable mf_store_sqlite_vtable;
/* store_pg.c */
extern const mf_store_vtable mf_store_pg_vtable;

#endif /* MF_STORE_IMPL_H */
