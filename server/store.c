/* SPDX-License-Identifier: MIT */
/*
 * store.c - the backend-independent half of the job store (see store.h):
 * state names, record helpers, the URI dispatch and the argument checks.
 *
 * Every public function checks its arguments here, once, before calling the
 * backend through its vtable (store_impl.h), so all backends reject the same
 * inputs with the same codes and a backend only implements storage.
 *
 * Choices store.h leaves open, identical for every backend:
 *  - ids given to mf_store_job_insert must match [a-z0-9][a-z0-9._-]{0,63};
 *    other functions accept any id string (an id that cannot exist is simply
 *    MF_ENOTFOUND);
 *  - r->type must be non-empty; r->params may be NULL; every other payload
 *    (event data, metrics, fail_error, ...) must not be NULL (MF_EINVAL);
 *  - event names are 1..15 bytes without control characters, so they fit
 *    mf_event_rec.name and can never break the framing of a text stream;
 *  - times must be finite, except that mf_store_expire accepts +-infinity
 *    (+infinity: every final job) but not NaN;
 *  - mf_store_job_finish wants exactly the payload of its state: a result for
 *    succeeded, an error for failed or cancelled, the other NULL;
 *  - an empty answer (list, queued ids, events) is *ret = NULL, *ret_n = 0.
 *
 * Whether writes go through (mf_store_writable) is kept here too, the same
 * for every backend: the last write that failed for a storage reason
 * (MF_ENOSPC, MF_EIO) marks the store, the next write that succeeds clears
 * it.  Errors that say nothing of the storage (a job already final, a bad
 * argument) leave the mark as it is.
 */
#include "store.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

struct mf_store {
    const mf_store_vtable *vt;
    void *b;                     /* the backend's handle */
    atomic_int write_err;        /* MF_OK, or the storage error of the last write */
    char replica[MF_ID_MAX + 1]; /* whose leases this handle takes (mf_store_set_lease) */
    double lease_s;
};

/* A write's outcome, noted for mf_store_writable; returns err. */
static mf_err wrote(mf_store *s, mf_err err)
{
    if (err == MF_OK || err == MF_ENOSPC || err == MF_EIO) {
        atomic_store(&s->write_err, (int) err);
    }
    return err;
}

/* ---- states and records --------------------------------------------------------- */

static const char *const state_names[] = {"queued", "running", "succeeded", "failed", "cancelled"};
#define N_STATES (sizeof state_names / sizeof state_names[0])

const char *mf_job_state_name(mf_job_state s)
{
    /* Compare as unsigned: a caller may hand us any int cast to the enum. */
    unsigned i = (unsigned) s;
    return i < N_STATES ? state_names[i] : NULL;
}

mf_err mf_job_state_lookup(const char *name, mf_job_state *ret)
{
    if (name == NULL || ret == NULL) {
        return MF_EINVAL;
    }
    for (size_t i = 0; i < N_STATES; i++) {
        if (strcmp(name, state_names[i]) == 0) {
            *ret = (mf_job_state) i;
            return MF_OK;
        }
    }
    return MF_ENOTFOUND;
}

bool mf_job_state_final(mf_job_state s)
{
    return s == MF_JOB_SUCCEEDED || s == MF_JOB_FAILED || s == MF_JOB_CANCELLED;
}

void mf_job_rec_done(mf_job_rec *r)
{
    if (r == NULL) {
        return;
    }
    free(r->params);
    free(r->result);
    free(r->error);
    free(r->metrics);
    r->params = r->result = r->error = r->metrics = NULL;
}

void mf_event_recs_free(mf_event_rec *events, size_t n)
{
    if (events == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        free(events[i].data);
    }
    free(events);
}

/* ---- argument checks ------------------------------------------------------------ */

static bool id_char(char c, bool first)
{
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
        return true;
    }
    return !first && (c == '.' || c == '_' || c == '-');
}

/* [a-z0-9][a-z0-9._-]{0,63}, NUL-terminated within buf[MF_ID_MAX + 1]. */
static bool id_ok(const char *id)
{
    for (size_t i = 0; i <= MF_ID_MAX; i++) {
        if (id[i] == '\0') {
            return i > 0;
        }
        if (!id_char(id[i], i == 0)) {
            return false;
        }
    }
    return false; /* no terminator within the array */
}

/* A fixed-size field of a caller's record: terminated inside its array. */
static bool terminated(const char *buf, size_t cap)
{
    return memchr(buf, '\0', cap) != NULL;
}

static bool event_name_ok(const char *name)
{
    size_t n = 0;
    for (; n < sizeof((mf_event_rec *) NULL)->name && name[n] != '\0'; n++) {
        unsigned char c = (unsigned char) name[n];
        if (c < 0x20 || c == 0x7f) {
            return false;
        }
    }
    return n > 0 && n < sizeof((mf_event_rec *) NULL)->name;
}

/* ---- open and close ------------------------------------------------------------- */

static const mf_store_vtable *const backends[] = {&mf_store_sqlite_vtable, &mf_store_pg_vtable};

#define SUPPORTED "supported: sqlite:PATH, postgres://..."

/* uri without "user:password@" after "scheme://", nor a query ("?password=..."): for logs. */
void mf_store_uri_redacted(const char *uri, char *out, size_t cap)
{
    if (cap == 0) {
        return;
    }
    const char *p = uri != NULL ? strstr(uri, "://") : NULL;
    if (uri == NULL || (p == NULL && strncmp(uri, "postgres", 8) == 0)) {
        snprintf(out, cap, "%s", uri == NULL ? "" : "(a connection string)");
        return;
    }
    if (p == NULL) {
        snprintf(out, cap, "%s", uri);
        return;
    }
    const char *host = p + 3;
    const char *end = host + strcspn(host, "/?#");
    const char *at = memchr(host, '@', (size_t) (end - host));
    const char *rest = at != NULL ? at + 1 : host;
    snprintf(out, cap, "%.*s%s%.*s", (int) (host - uri), uri, at != NULL ? "***@" : "",
             (int) strcspn(rest, "?#"), rest);
}

/* The backend of uri's scheme (or alias), with what its open gets; NULL when none. */
static const mf_store_vtable *backend_of(const char *uri, const char **ret_target)
{
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
        const char *names[] = {backends[i]->scheme, backends[i]->alias};
        for (size_t k = 0; k < 2; k++) {
            size_t n = names[k] != NULL ? strlen(names[k]) : 0;
            if (n > 0 && strncmp(uri, names[k], n) == 0 && uri[n] == ':') {
                *ret_target = uri + n + 1;
                return backends[i];
            }
        }
    }
    return NULL;
}

mf_err mf_store_open(const char *uri, mf_store **ret, mf_diag *diag)
{
    if (uri == NULL || ret == NULL) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "invalid argument");
    }
    const char *target = NULL;
    const mf_store_vtable *vt = backend_of(uri, &target);
    if (vt == NULL) {
        /* Quote the scheme only: the rest of a URI may carry a password. */
        const char *colon = strchr(uri, ':');
        if (colon == NULL) {
            return mf_diag_set(diag, MF_EINVAL, NULL,
                               "store URI \"%.40s\" has no scheme: " SUPPORTED, uri);
        }
        return mf_diag_set(diag, MF_EINVAL, NULL, "unknown store scheme \"%.*s\": " SUPPORTED,
                           (int) (colon - uri < 40 ? colon - uri : 40), uri);
    }
    if (target[0] == '\0') {
        return mf_diag_set(diag, MF_EINVAL, NULL, "store URI \"%s:\" names no database",
                           vt->scheme);
    }
    mf_store *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
    }
    mf_err rc = vt->open(vt->whole_uri ? uri : target, &s->b, diag);
    if (rc != MF_OK) {
        free(s);
        return rc;
    }
    s->vt = vt;
    s->lease_s = 30;
    atomic_init(&s->write_err, MF_OK);
    *ret = s;
    return MF_OK;
}

bool mf_store_shared(const mf_store *s)
{
    return s != NULL && s->vt->shared;
}

void mf_store_close(mf_store *s)
{
    if (s == NULL) {
        return;
    }
    s->vt->close(s->b);
    free(s);
}

mf_err mf_store_watch(mf_store *s, mf_store_watch_fn fn, void *ctx)
{
    if (s == NULL || fn == NULL) {
        return MF_EINVAL;
    }
    return s->vt->watch != NULL ? s->vt->watch(s->b, fn, ctx) : MF_OK;
}

void mf_store_unwatch(mf_store *s)
{
    if (s != NULL && s->vt->unwatch != NULL) {
        s->vt->unwatch(s->b);
    }
}

mf_err mf_store_announce_model(mf_store *s, const char *id)
{
    if (s == NULL || !id_ok(id)) {
        return MF_EINVAL;
    }
    return s->vt->announce_model != NULL ? s->vt->announce_model(s->b, id) : MF_OK;
}

mf_err mf_store_ping(mf_store *s)
{
    if (s == NULL) {
        return MF_EINVAL;
    }
    return s->vt->ping(s->b);
}

mf_err mf_store_probe(mf_store *s)
{
    if (s == NULL) {
        return MF_EINVAL;
    }
    return wrote(s, s->vt->probe(s->b));
}

mf_err mf_store_writable(mf_store *s)
{
    return s == NULL ? MF_EINVAL : (mf_err) atomic_load(&s->write_err);
}

/* ---- jobs ----------------------------------------------------------------------- */

mf_err mf_store_job_insert(mf_store *s, const mf_job_rec *r, const char *first_event_data)
{
    if (s == NULL || r == NULL || first_event_data == NULL || !id_ok(r->id) ||
        !terminated(r->type, sizeof r->type) || r->type[0] == '\0' ||
        !terminated(r->model, sizeof r->model) || !isfinite(r->created_at)) {
        return MF_EINVAL;
    }
    return wrote(s, s->vt->job_insert(s->b, r, first_event_data));
}

mf_err mf_store_job_get(mf_store *s, const char *id, mf_job_rec *ret)
{
    if (s == NULL || id == NULL || ret == NULL) {
        return MF_EINVAL;
    }
    return s->vt->job_get(s->b, id, ret);
}

mf_err mf_store_job_list(mf_store *s, const mf_job_filter *f, mf_job_rec **ret, size_t *ret_n)
{
    if (s == NULL || f == NULL || ret == NULL || ret_n == NULL || f->state < -1 ||
        f->state >= (int) N_STATES || f->limit < 1 || f->limit > 1000) {
        return MF_EINVAL;
    }
    return s->vt->job_list(s->b, f, ret, ret_n);
}

mf_err mf_store_jobs_queued(mf_store *s, char (**ret)[MF_ID_MAX + 1], size_t *ret_n)
{
    if (s == NULL || ret == NULL || ret_n == NULL) {
        return MF_EINVAL;
    }
    return s->vt->jobs_queued(s->b, ret, ret_n);
}

mf_err mf_store_set_lease(mf_store *s, const char *replica, double lease_s)
{
    size_t n = replica != NULL ? strlen(replica) : 0;
    if (s == NULL || n == 0 || n > MF_ID_MAX || !isfinite(lease_s) || lease_s <= 0) {
        return MF_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char) replica[i] < 0x20 || replica[i] == 0x7f) {
            return MF_EINVAL;
        }
    }
    memcpy(s->replica, replica, n + 1);
    s->lease_s = lease_s;
    return MF_OK;
}

mf_err mf_store_job_claim(mf_store *s, const char *id, double now)
{
    if (s == NULL || id == NULL || !isfinite(now)) {
        return MF_EINVAL;
    }
    return wrote(s, s->vt->job_claim(s->b, id, now, s->replica, now + s->lease_s));
}

mf_err mf_store_job_claim_next(mf_store *s, double now, char ret_id[MF_ID_MAX + 1])
{
    if (s == NULL || ret_id == NULL || !isfinite(now)) {
        return MF_EINVAL;
    }
    ret_id[0] = '\0';
    return wrote(s, s->vt->job_claim_next(s->b, now, s->replica, now + s->lease_s, ret_id));
}

/* ids for a caller that may not want them (ret NULL): freed here. */
static void give_ids(char (*ids)[MF_ID_MAX + 1], char (**ret)[MF_ID_MAX + 1])
{
    if (ret != NULL) {
        *ret = ids;
    } else {
        free(ids);
    }
}

mf_err mf_store_job_renew(mf_store *s, double now, char (**ret)[MF_ID_MAX + 1], size_t *ret_n)
{
    if (s == NULL || !isfinite(now)) {
        return MF_EINVAL;
    }
    char(*ids)[MF_ID_MAX + 1] = NULL;
    size_t n = 0;
    mf_err err = s->vt->job_renew(s->b, s->replica, now + s->lease_s, &ids, &n);
    if (err != MF_OK || n > 0) {
        (void) wrote(s, err); /* a renewal of nothing wrote nothing */
    }
    if (err != MF_OK) {
        return err;
    }
    give_ids(ids, ret);
    if (ret_n != NULL) {
        *ret_n = n;
    }
    return MF_OK;
}

mf_err mf_store_job_progress(mf_store *s, const char *id, uint64_t done, uint64_t total)
{
    if (s == NULL || id == NULL) {
        return MF_EINVAL;
    }
    return wrote(s, s->vt->job_progress(s->b, id, s->replica, done, total));
}

mf_err mf_store_job_metrics(mf_store *s, const char *id, const char *metrics)
{
    if (s == NULL || id == NULL || metrics == NULL) {
        return MF_EINVAL;
    }
    return wrote(s, s->vt->job_metrics(s->b, id, metrics));
}

mf_err mf_store_job_finish(mf_store *s, const char *id, mf_job_state final, const char *result,
                           const char *error, const char *final_event_data, double now)
{
    if (s == NULL || id == NULL || final_event_data == NULL || !isfinite(now) ||
        !mf_job_state_final(final)) {
        return MF_EINVAL;
    }
    bool ok = final == MF_JOB_SUCCEEDED ? result != NULL && error == NULL
                                        : result == NULL && error != NULL;
    if (!ok) {
        return MF_EINVAL;
    }
    /* a cancel may come through any replica: it is not fenced by the lease */
    const char *me = final == MF_JOB_CANCELLED ? NULL : s->replica;
    return wrote(s, s->vt->job_finish(s->b, id, me, final, result, error, final_event_data, now));
}

/* ---- events --------------------------------------------------------------------- */

mf_err mf_store_event_append(mf_store *s, const char *id, const char *name, const char *data,
                             uint64_t *ret_seq)
{
    if (s == NULL || id == NULL || name == NULL || data == NULL || !event_name_ok(name)) {
        return MF_EINVAL;
    }
    uint64_t seq = 0;
    mf_err rc = wrote(s, s->vt->event_append(s->b, id, s->replica, name, data, &seq));
    if (rc == MF_OK && ret_seq != NULL) {
        *ret_seq = seq;
    }
    return rc;
}

mf_err mf_store_events_after(mf_store *s, const char *id, uint64_t after, size_t max,
                             mf_event_rec **ret, size_t *ret_n)
{
    if (s == NULL || id == NULL || max < 1 || ret == NULL || ret_n == NULL) {
        return MF_EINVAL;
    }
    return s->vt->events_after(s->b, id, after, max, ret, ret_n);
}

/* ---- maintenance ---------------------------------------------------------------- */

/* The recovery of the running jobs recover selects (store_impl.h). */
static mf_err recover(mf_store *s, double expired_before, const char *mine, uint32_t max_attempts,
                      mf_recover_event_fn event_data, void *ctx, const char *fail_error, double now,
                      char (**ret)[MF_ID_MAX + 1], size_t *ret_requeued, size_t *ret_failed)
{
    if (s == NULL || event_data == NULL || fail_error == NULL || !isfinite(now)) {
        return MF_EINVAL;
    }
    char(*ids)[MF_ID_MAX + 1] = NULL;
    size_t requeued = 0, failed = 0;
    mf_err rc = s->vt->recover(s->b, expired_before, mine, max_attempts, event_data, ctx,
                               fail_error, now, &ids, &requeued, &failed);
    if (rc != MF_OK || requeued + failed > 0) {
        (void) wrote(s, rc); /* a recovery that changed nothing wrote nothing */
    }
    if (rc != MF_OK) {
        return rc;
    }
    give_ids(ids, ret);
    if (ret_requeued != NULL) {
        *ret_requeued = requeued;
    }
    if (ret_failed != NULL) {
        *ret_failed = failed;
    }
    return MF_OK;
}

mf_err mf_store_recover(mf_store *s, uint32_t max_attempts, mf_recover_event_fn event_data,
                        void *ctx, const char *fail_error, double now, size_t *ret_requeued,
                        size_t *ret_failed)
{
    /* a store one daemon owns: whatever runs was left by its previous process */
    bool shared = s != NULL && s->vt->shared;
    return recover(s, shared ? now : (double) INFINITY, shared ? s->replica : NULL, max_attempts,
                   event_data, ctx, fail_error, now, NULL, ret_requeued, ret_failed);
}

mf_err mf_store_reclaim_expired(mf_store *s, uint32_t max_attempts, mf_recover_event_fn event_data,
                                void *ctx, const char *fail_error, double now,
                                char (**ret)[MF_ID_MAX + 1], size_t *ret_n, size_t *ret_failed)
{
    return recover(s, now, NULL, max_attempts, event_data, ctx, fail_error, now, ret, ret_n,
                   ret_failed);
}

mf_err mf_store_expire(mf_store *s, double before, size_t *ret_n)
{
    if (s == NULL || isnan(before)) {
        return MF_EINVAL;
    }
    size_t n = 0;
    mf_err rc = s->vt->expire(s->b, before, &n);
    if (rc != MF_OK || n > 0) {
        (void) wrote(s, rc); /* an expiry that deleted nothing wrote nothing */
    }
    if (rc == MF_OK && ret_n != NULL) {
        *ret_n = n;
    }
    return rc;
}

mf_err mf_store_count_states(mf_store *s, uint64_t counts[5])
{
    if (s == NULL || counts == NULL) {
        return MF_EINVAL;
    }
    return s->vt->count_states(s->b, NULL, counts);
}

mf_err mf_store_count_owner(mf_store *s, const char *owner, uint64_t counts[5])
{
    if (s == NULL || owner == NULL || counts == NULL) {
        return MF_EINVAL;
    }
    return s->vt->count_states(s->b, owner, counts);
}

/* ---- per-key limits ------------------------------------------------------------- */

/* An API key's name as the store keeps it: 1..64 bytes (auth.h). */
static bool key_name_ok(const char *name)
{
    return name != NULL && name[0] != '\0' && strnlen(name, MF_ID_MAX + 1) <= MF_ID_MAX;
}

mf_err mf_store_quota_take(mf_store *s, const char *key_name, double rate, double burst, double now,
                           bool *ret_ok, double *ret_retry_s)
{
    if (s == NULL || !key_name_ok(key_name) || !isfinite(rate) || rate <= 0 || !isfinite(burst) ||
        burst < 1 || !isfinite(now) || ret_ok == NULL || ret_retry_s == NULL) {
        return MF_EINVAL;
    }
    if (s->vt->quota_take == NULL) {
        return MF_ENOTFOUND;
    }
    return s->vt->quota_take(s->b, key_name, rate, burst, now, ret_ok, ret_retry_s);
}

mf_err mf_store_quota_charge(mf_store *s, const char *key_name, double flops, double limit,
                             int64_t day, bool *ret_ok, double *ret_used)
{
    if (s == NULL || !key_name_ok(key_name) || !isfinite(flops) || flops < 0 || !isfinite(limit) ||
        limit <= 0 || day < 0 || ret_ok == NULL || ret_used == NULL) {
        return MF_EINVAL;
    }
    if (s->vt->quota_charge == NULL) {
        return MF_ENOTFOUND;
    }
    return s->vt->quota_charge(s->b, key_name, flops, limit, day, ret_ok, ret_used);
}
