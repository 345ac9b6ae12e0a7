/* SPDX-License-Identifier: MIT */
/*
 * store_pg_maint.c - the event logs of the PostgreSQL job store (append,
 * read after a seq, the steps shared with insert and finish) and its
 * housekeeping: recovery after a restart, expiry, counts per state.
 *
 * Sequence numbers: jobs.last_seq is the seq of the job's last event.  An
 * append locks the job's row (SELECT ... FOR UPDATE), writes last_seq + 1
 * and inserts the event in one transaction; a concurrent append from another
 * connection (another replica) waits for the lock and then reads the new
 * last_seq, so seqs are 1, 2, 3, ... without gaps.  (job_id, seq) is the
 * events' primary key.  Semantics as store_sqlite_events.c and
 * store_sqlite_maint.c.
 */
#include <stdlib.h>
#include <string.h>

#include "store_pg_int.h"

/* ---- events ---------------------------------------------------------------------- */

mf_err mf__pg_log_next_seq(mf__pg_store *b, const char *id, const char *me, uint64_t *ret)
{
    mf__pg_job_head h;
    mf_err err = mf__pg_job_head_get(b, id, true, &h);
    if (err == MF_OK && mf_job_state_final(h.state)) {
        err = MF_EBUSY; /* the final event closed the log */
    }
    if (err == MF_OK && me != NULL && h.state == MF_JOB_RUNNING && strcmp(h.lease_owner, me) != 0) {
        err = MF_EBUSY; /* another replica holds its lease (fencing) */
    }
    if (err == MF_OK && h.last_seq >= (uint64_t) INT64_MAX) {
        err = MF_ERANGE;
    }
    if (err == MF_OK) {
        *ret = h.last_seq + 1;
    }
    return err;
}

mf_err mf__pg_put_event(mf__pg_store *b, const char *id, uint64_t seq, const char *name,
                        const char *data)
{
    mf__pg_num sq = mf__pg_u64(seq);
    const char *p[] = {id, sq.s, name, data};
    /* the note to every watch (store_pg_watch.c) leaves with the COMMIT that shows the row */
    return mf__pg_exec(
        b,
        "INSERT INTO events (job_id, seq, name, data) VALUES ($1, $2::bigint, $3, $4)"
        " RETURNING pg_notify('" MF__PG_CHANNEL "', 'e' || $1)",
        4, p, NULL);
}

/* jobs.last_seq = seq, in the transaction that inserts event seq. */
static mf_err set_seq(mf__pg_store *b, const char *id, uint64_t seq)
{
    mf__pg_num sq = mf__pg_u64(seq);
    const char *p[] = {id, sq.s};
    return mf__pg_exec(b, "UPDATE jobs SET last_seq = $2::bigint WHERE id = $1", 2, p, NULL);
}

mf_err mf__pg_event_append(void *bp, const char *id, const char *me, const char *name,
                           const char *data, uint64_t *ret_seq)
{
    mf__pg_store *b = bp;
    uint64_t seq = 0;
    mf_err err = mf__pg_begin(b, false);
    if (err == MF_OK) {
        err = mf__pg_log_next_seq(b, id, me, &seq);
    }
    if (err == MF_OK) {
        err = set_seq(b, id, seq);
    }
    if (err == MF_OK) {
        err = mf__pg_put_event(b, id, seq, name, data);
    }
    err = mf__pg_end(b, err);
    if (err == MF_OK) {
        *ret_seq = seq;
    }
    return err;
}

/* Row i of an events query (seq, name, data) as an mf__pg_rows callback. */
static mf_err event_row(const PGresult *res, int i, void *elem)
{
    mf_event_rec *ev = elem;
    int64_t seq = 0;
    mf_err err = mf__pg_col_i64(res, i, 0, &seq);
    if (err == MF_OK) {
        err = mf__pg_col_fixed(res, i, 1, ev->name, sizeof ev->name);
    }
    if (err == MF_OK) {
        err = mf__pg_col_dup(res, i, 2, &ev->data);
    }
    if (err == MF_OK && ev->data == NULL) {
        err = MF_EFORMAT; /* NOT NULL in the schema */
    }
    if (err != MF_OK) {
        free(ev->data);
        ev->data = NULL;
        return err;
    }
    ev->seq = (uint64_t) seq;
    return MF_OK;
}

static void event_row_done(void *elem)
{
    mf_event_rec *ev = elem;
    free(ev->data);
}

/* Every row of an events query as a malloc'd array (NULL when none). */
static mf_err read_events(const PGresult *res, mf_event_rec **ret, size_t *ret_n)
{
    return mf__pg_rows(res, sizeof(mf_event_rec), event_row, event_row_done, (void **) ret, ret_n);
}

mf_err mf__pg_events_after(void *bp, const char *id, uint64_t after, size_t max, mf_event_rec **ret,
                           size_t *ret_n)
{
    mf__pg_store *b = bp;
    mf_event_rec *ev = NULL;
    size_t n = 0;
    /* One snapshot, so "no such job" and "no events yet" cannot be confused. */
    mf__pg_job_head h;
    mf_err err = mf__pg_begin(b, true);
    if (err == MF_OK) {
        err = mf__pg_job_head_get(b, id, false, &h);
    }
    if (err == MF_OK) {
        /* seqs are below 2^63: a larger `after` or `max` means "none left" or "no limit" */
        mf__pg_num a = mf__pg_i64(after > (uint64_t) INT64_MAX ? INT64_MAX : (int64_t) after);
        mf__pg_num m = mf__pg_i64(max > (uint64_t) INT64_MAX ? INT64_MAX : (int64_t) max);
        const char *p[] = {id, a.s, m.s};
        PGresult *res = NULL;
        err = mf__pg_exec(b,
                          "SELECT seq, name, data FROM events WHERE job_id = $1"
                          " AND seq > $2::bigint ORDER BY seq LIMIT $3::bigint",
                          3, p, &res);
        if (err == MF_OK) {
            err = read_events(res, &ev, &n);
        }
        PQclear(res);
    }
    err = mf__pg_end(b, err);
    if (err != MF_OK) {
        mf_event_recs_free(ev, n);
        return err;
    }
    *ret = ev;
    *ret_n = n;
    return MF_OK;
}

/* ---- recovery ---------------------------------------------------------------------- */

/* Requeues running job j (attempts left) or fails it, with its status event as seq. */
static mf_err recover_one(mf__pg_store *b, const char *id, uint64_t seq, bool requeue,
                          const char *data, const char *fail_error, double now)
{
    mf_err err;
    if (requeue) {
        mf__pg_num sq = mf__pg_u64(seq);
        const char *p[] = {id, sq.s};
        err = mf__pg_exec(b,
                          "UPDATE jobs SET state = 0, started_at = 0, last_seq = $2::bigint,"
                          " lease_owner = '', lease_until = 0 WHERE id = $1",
                          2, p, NULL);
    } else {
        err = mf__pg_set_final(b, id, MF_JOB_FAILED, NULL, fail_error, now, seq);
    }
    if (err == MF_OK) {
        err = mf__pg_put_event(b, id, seq, "status", data);
    }
    return err;
}

/* Recovers running job rec (read and row-locked in this transaction). */
static mf_err recover_job(mf__pg_store *b, mf_job_rec *rec, uint32_t max_attempts,
                          mf_recover_event_fn event_data, void *ctx, const char *fail_error,
                          double now, bool *ret_requeued)
{
    if (rec->last_seq >= (uint64_t) INT64_MAX) {
        return MF_ERANGE;
    }
    uint64_t seq = rec->last_seq + 1;
    bool requeue = rec->attempts < max_attempts;
    char id[MF_ID_MAX + 1];
    memcpy(id, rec->id, sizeof id);
    /* the job as the recovery leaves it, for its status event */
    rec->state = requeue ? MF_JOB_QUEUED : MF_JOB_FAILED;
    rec->started_at = requeue ? 0 : rec->started_at;
    rec->finished_at = requeue ? 0 : now;
    free(rec->error);
    rec->error = requeue ? NULL : strdup(fail_error);
    rec->last_seq = seq;
    char *data = event_data(ctx, rec);
    if (data == NULL) {
        return MF_ENOMEM;
    }
    mf_err err = recover_one(b, id, seq, requeue, data, fail_error, now);
    free(data);
    *ret_requeued = requeue;
    return err;
}

mf_err mf__pg_recover(void *bp, double expired_before, const char *mine, uint32_t max_attempts,
                      mf_recover_event_fn event_data, void *ctx, const char *fail_error, double now,
                      char (**ret_ids)[MF_ID_MAX + 1], size_t *ret_requeued, size_t *ret_failed)
{
    mf__pg_store *b = bp;
    size_t requeued = 0, failed = 0;
    mf_job_rec *jobs = NULL;
    char(*ids)[MF_ID_MAX + 1] = NULL;
    size_t n = 0;
    PGresult *res = NULL;
    mf_err err = mf__pg_begin(b, false);
    if (err == MF_OK) {
        /* the running jobs chosen, locked until the recovery commits; those another
         * replica's recovery (or their owner) has locked are its business */
        mf__pg_num t = mf__pg_dbl(expired_before);
        const char *p[] = {t.s, mine};
        err = mf__pg_exec(b,
                          "SELECT " MF__PG_JOB_COLS_FULL " FROM jobs WHERE state = 1"
                          " AND (lease_until < $1::float8 OR lease_owner = $2)"
                          " ORDER BY created_at, id FOR UPDATE SKIP LOCKED",
                          2, p, &res);
    }
    if (err == MF_OK) {
        err = mf__pg_read_jobs(res, &jobs, &n);
    }
    if (err == MF_OK && n > 0 && (ids = calloc(n, sizeof *ids)) == NULL) {
        err = MF_ENOMEM;
    }
    PQclear(res);
    for (size_t i = 0; i < n && err == MF_OK; i++) {
        bool requeue = false;
        memcpy(ids[requeued], jobs[i].id, sizeof ids[requeued]); /* kept when requeued */
        err = recover_job(b, &jobs[i], max_attempts, event_data, ctx, fail_error, now, &requeue);
        requeued += err == MF_OK && requeue;
        failed += err == MF_OK && !requeue;
    }
    for (size_t i = 0; i < n; i++) {
        mf_job_rec_done(&jobs[i]);
    }
    free(jobs);
    err = mf__pg_end(b, err);
    if (err == MF_OK) {
        *ret_ids = requeued > 0 ? ids : NULL;
        *ret_requeued = requeued;
        *ret_failed = failed;
    }
    if (err != MF_OK || requeued == 0) {
        free(ids);
    }
    return err;
}

/* ---- expiry and counts ------------------------------------------------------------- */

mf_err mf__pg_expire(void *bp, double before, size_t *ret_n)
{
    mf__pg_store *b = bp;
    mf__pg_num t = mf__pg_dbl(before);
    const char *p[] = {t.s};
    size_t n = 0;
    mf_err err = mf__pg_begin(b, false);
    if (err == MF_OK) {
        /* explicit, not left to ON DELETE CASCADE, as in the SQLite store */
        err = mf__pg_exec(b,
                          "DELETE FROM events WHERE job_id IN"
                          " (SELECT id FROM jobs WHERE state >= 2 AND finished_at < $1::float8)",
                          1, p, NULL);
    }
    if (err == MF_OK) {
        PGresult *res = NULL;
        err = mf__pg_exec(b, "DELETE FROM jobs WHERE state >= 2 AND finished_at < $1::float8", 1, p,
                          &res);
        n = err == MF_OK ? (size_t) strtoul(PQcmdTuples(res), NULL, 10) : 0;
        PQclear(res);
    }
    err = mf__pg_end(b, err);
    if (err == MF_OK) {
        *ret_n = n;
    }
    return err;
}

mf_err mf__pg_count_states(void *bp, const char *owner, uint64_t counts[5])
{
    mf__pg_store *b = bp;
    uint64_t c[5] = {0, 0, 0, 0, 0};
    const char *p[] = {owner};
    PGresult *res = NULL;
    mf_err err = mf__pg_begin(b, true);
    if (err == MF_OK) {
        err = mf__pg_exec(b,
                          "SELECT state, count(*) FROM jobs WHERE $1::text IS NULL OR owner = $1"
                          " GROUP BY state",
                          1, p, &res);
    }
    for (int i = 0; err == MF_OK && i < PQntuples(res); i++) {
        mf_job_state s;
        int64_t k = 0;
        err = mf__pg_col_state(res, i, 0, &s);
        if (err == MF_OK) {
            err = mf__pg_col_i64(res, i, 1, &k);
        }
        if (err == MF_OK) {
            c[s] = (uint64_t) k;
        }
    }
    PQclear(res);
    err = mf__pg_end(b, err);
    if (err == MF_OK) {
        memcpy(counts, c, sizeof c);
    }
    return err;
}
