/* SPDX-License-Identifier: MIT */
/*
 * store_sqlite_events.c - the event logs of the SQLite job store: appending
 * an event, reading the events after a seq, and the two steps every
 * operation that writes an event shares (the next seq, the event row).
 *
 * Sequence numbers: jobs.last_seq is the seq of the job's last event; an
 * append reads it, writes last_seq + 1 and inserts the event in one
 * transaction, so seqs are 1, 2, 3, ... without gaps under any concurrency.
 * (job_id, seq) is the events' primary key: a bug could not create a
 * duplicate silently.  Insert, finish and recover write their status events
 * the same way, in their own transactions.
 */
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_int.h"

mf_err mf__sq_next_seq(uint64_t last_seq, uint64_t *ret)
{
    if (last_seq >= (uint64_t) INT64_MAX) {
        return MF_ERANGE;
    }
    *ret = last_seq + 1;
    return MF_OK;
}

mf_err mf__sq_log_next_seq(mf__sq_store *b, const char *id, const char *me, uint64_t *ret)
{
    mf__sq_job_head h;
    mf_err err = mf__sq_job_head_get(b, id, &h);
    if (err == MF_OK && mf_job_state_final(h.state)) {
        err = MF_EBUSY; /* the final event closed the log */
    }
    if (err == MF_OK && me != NULL && h.state == MF_JOB_RUNNING && strcmp(h.lease_owner, me) != 0) {
        err = MF_EBUSY; /* another replica holds its lease (fencing) */
    }
    if (err == MF_OK) {
        err = mf__sq_next_seq(h.last_seq, ret);
    }
    return err;
}

mf_err mf__sq_put_event(mf__sq_store *b, const char *id, uint64_t seq, const char *name,
                        const char *data)
{
    sqlite3_stmt *st = b->st[MF__SQ_EVENT_INSERT];
    int rc = SQLITE_OK;
    mf__sq_bind_text(st, 1, id, &rc);
    mf__sq_bind_u64(st, 2, seq, &rc);
    mf__sq_bind_text(st, 3, name, &rc);
    mf__sq_bind_text(st, 4, data, &rc);
    return mf__sq_run(st, rc);
}

mf_err mf__sq_event_append(void *bp, const char *id, const char *me, const char *name,
                           const char *data, uint64_t *ret_seq)
{
    mf__sq_store *b = bp;
    uint64_t seq = 0;
    mf_err err = mf__sq_begin(b, true);
    if (err == MF_OK) {
        err = mf__sq_log_next_seq(b, id, me, &seq);
    }
    if (err == MF_OK) {
        sqlite3_stmt *st = b->st[MF__SQ_JOB_SEQ];
        int rc = SQLITE_OK;
        mf__sq_bind_text(st, 1, id, &rc);
        mf__sq_bind_u64(st, 2, seq, &rc);
        err = mf__sq_run(st, rc);
    }
    if (err == MF_OK) {
        err = mf__sq_put_event(b, id, seq, name, data);
    }
    err = mf__sq_end(b, err);
    if (err == MF_OK) {
        *ret_seq = seq;
    }
    return err;
}

/* The current row of EVENTS_AFTER as an mf__sq_rows callback. */
static mf_err read_event_row(sqlite3_stmt *st, void *elem)
{
    mf_event_rec *ev = elem;
    ev->seq = (uint64_t) sqlite3_column_int64(st, 0);
    ev->data = NULL;
    mf_err err = mf__sq_col_fixed(st, 1, ev->name, sizeof ev->name);
    if (err == MF_OK) {
        err = mf__sq_col_dup(st, 2, &ev->data);
    }
    if (err == MF_OK && ev->data == NULL) {
        err = MF_EFORMAT; /* NOT NULL in the schema */
    }
    return err; /* on failure ev->data is NULL: nothing to free */
}

static void event_row_done(void *elem)
{
    mf_event_rec *ev = elem;
    free(ev->data);
}

mf_err mf__sq_events_after(void *bp, const char *id, uint64_t after, size_t max, mf_event_rec **ret,
                           size_t *ret_n)
{
    mf__sq_store *b = bp;
    void *ev = NULL;
    size_t n = 0;
    /* One read transaction, so "no such job" and "no events yet" cannot be confused. */
    mf__sq_job_head h;
    mf_err err = mf__sq_begin(b, false);
    if (err == MF_OK) {
        err = mf__sq_job_head_get(b, id, &h);
    }
    if (err == MF_OK) {
        sqlite3_stmt *st = b->st[MF__SQ_EVENTS_AFTER];
        int rc = SQLITE_OK;
        mf__sq_bind_text(st, 1, id, &rc);
        /* seqs are below 2^63: a larger `after` or `max` means "none left" or "no limit" */
        mf__sq_bind_i64(st, 2, after > (uint64_t) INT64_MAX ? INT64_MAX : (int64_t) after, &rc);
        mf__sq_bind_i64(st, 3, max > (uint64_t) INT64_MAX ? INT64_MAX : (int64_t) max, &rc);
        err = mf__sq_rows(st, rc, sizeof(mf_event_rec), read_event_row, event_row_done, &ev, &n);
    }
    err = mf__sq_end(b, err);
    if (err != MF_OK) {
        mf_event_recs_free(ev, n); /* the events read before a failed COMMIT */
        return err;
    }
    *ret = ev;
    *ret_n = n;
    return MF_OK;
}
