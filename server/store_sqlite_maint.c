/* SPDX-License-Identifier: MIT */
/*
 * store_sqlite_maint.c - the SQLite job store's housekeeping, the operations
 * that work on many jobs at once: recovery after a restart (running jobs back
 * to queued, or failed once out of attempts), expiry of old final jobs, and
 * the count per state behind the daemon's metrics.
 *
 * Recovery and expiry are each one write transaction, so a crash halfway
 * leaves every job as it was; recovery's status events go in with the state
 * changes they report.
 */
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_int.h"

typedef struct running_job {
    char id[MF_ID_MAX + 1];
    uint32_t attempts;
    uint64_t last_seq;
} running_job;

/* The current row of JOBS_RUNNING as an mf__sq_rows callback. */
static mf_err read_running_row(sqlite3_stmt *st, void *elem)
{
    running_job *j = elem;
    mf_err err = mf__sq_col_fixed(st, 0, j->id, sizeof j->id);
    sqlite3_int64 attempts = sqlite3_column_int64(st, 1);
    if (err == MF_OK && (attempts < 0 || attempts > UINT32_MAX)) {
        err = MF_EFORMAT;
    }
    if (err == MF_OK) {
        j->attempts = (uint32_t) attempts;
        j->last_seq = (uint64_t) sqlite3_column_int64(st, 2);
    }
    return err;
}

/* Requeues running job id (attempts left) or fails it, and appends its status event
 * (data) as seq. */
static mf_err recover_one(mf__sq_store *b, const char *id, uint64_t seq, bool requeue,
                          const char *data, const char *fail_error, double now)
{
    mf_err err;
    if (requeue) {
        sqlite3_stmt *st = b->st[MF__SQ_JOB_REQUEUE];
        int rc = SQLITE_OK;
        mf__sq_bind_text(st, 1, id, &rc);
        mf__sq_bind_u64(st, 2, seq, &rc);
        err = mf__sq_run(st, rc);
    } else {
        err = mf__sq_set_final(b, id, MF_JOB_FAILED, NULL, fail_error, now, seq);
    }
    if (err == MF_OK) {
        err = mf__sq_put_event(b, id, seq, "status", data);
    }
    return err;
}

mf_err mf__sq_recover(void *bp, double expired_before, const char *mine, uint32_t max_attempts,
                      mf_recover_event_fn event_data, void *ctx, const char *fail_error, double now,
                      char (**ret_ids)[MF_ID_MAX + 1], size_t *ret_requeued, size_t *ret_failed)
{
    mf__sq_store *b = bp;
    void *jobs = NULL;
    char(*ids)[MF_ID_MAX + 1] = NULL;
    size_t n = 0, requeued = 0, failed = 0;
    mf_err err = mf__sq_begin(b, true);
    if (err == MF_OK) {
        /* The running jobs chosen, read completely before any is changed: modifying rows
         * under a live cursor over the same index is legal in SQLite but hard to reason
         * about. */
        sqlite3_stmt *st = b->st[MF__SQ_JOBS_RUNNING];
        int rc = SQLITE_OK;
        mf__sq_bind_double(st, 1, expired_before, &rc);
        mf__sq_bind_text(st, 2, mine, &rc); /* NULL: matches no lease */
        err = mf__sq_rows(st, rc, sizeof(running_job), read_running_row, NULL, &jobs, &n);
    }
    if (err == MF_OK && n > 0 && (ids = calloc(n, sizeof *ids)) == NULL) {
        err = MF_ENOMEM;
    }
    const running_job *running = jobs;
    for (size_t i = 0; i < n && err == MF_OK; i++) {
        const running_job *j = &running[i];
        uint64_t seq = 0;
        err = mf__sq_next_seq(j->last_seq, &seq);
        if (err != MF_OK) {
            break;
        }
        bool requeue = j->attempts < max_attempts;
        /* the job as the recovery leaves it, for its status event */
        mf_job_rec rec;
        memset(&rec, 0, sizeof rec);
        err = mf__sq_job_read(b, j->id, &rec);
        if (err != MF_OK) {
            break;
        }
        rec.state = requeue ? MF_JOB_QUEUED : MF_JOB_FAILED;
        rec.started_at = requeue ? 0 : rec.started_at;
        rec.finished_at = requeue ? 0 : now;
        free(rec.error);
        rec.error = requeue || fail_error == NULL ? NULL : strdup(fail_error);
        rec.last_seq = seq;
        char *data = event_data(ctx, &rec);
        mf_job_rec_done(&rec);
        if (data == NULL) {
            err = MF_ENOMEM;
            break;
        }
        err = recover_one(b, j->id, seq, requeue, data, fail_error, now);
        free(data);
        if (requeue) {
            memcpy(ids[requeued], j->id, sizeof ids[requeued]);
            requeued++;
        } else {
            failed++;
        }
    }
    err = mf__sq_end(b, err);
    free(jobs);
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

mf_err mf__sq_expire(void *bp, double before, size_t *ret_n)
{
    mf__sq_store *b = bp;
    size_t n = 0;
    mf_err err = mf__sq_begin(b, true);
    if (err == MF_OK) {
        sqlite3_stmt *st = b->st[MF__SQ_EXPIRE_EVENTS];
        int rc = SQLITE_OK;
        mf__sq_bind_double(st, 1, before, &rc);
        err = mf__sq_run(st, rc);
    }
    if (err == MF_OK) {
        sqlite3_stmt *st = b->st[MF__SQ_EXPIRE_JOBS];
        int rc = SQLITE_OK;
        mf__sq_bind_double(st, 1, before, &rc);
        err = mf__sq_run(st, rc);
        /* counts the rows this DELETE removed itself, not cascaded ones */
        n = err == MF_OK ? (size_t) sqlite3_changes(b->db) : 0;
    }
    err = mf__sq_end(b, err);
    if (err == MF_OK) {
        *ret_n = n;
    }
    return err;
}

mf_err mf__sq_count_states(void *bp, const char *owner, uint64_t counts[5])
{
    mf__sq_store *b = bp;
    uint64_t c[5] = {0, 0, 0, 0, 0};
    mf__sq_lock(b);
    sqlite3_stmt *st = b->st[MF__SQ_COUNT_STATES];
    int rc = SQLITE_OK;
    mf__sq_bind_text(st, 1, owner, &rc);
    bool row = false;
    mf_err err = mf__sq_query(st, rc, &row);
    while (err == MF_OK && row) {
        mf_job_state s;
        err = mf__sq_col_state(st, 0, &s);
        if (err == MF_OK) {
            c[s] = (uint64_t) sqlite3_column_int64(st, 1);
            err = mf__sq_step(st, &row);
        }
    }
    mf__sq_reset(st);
    mf__sq_unlock(b);
    if (err == MF_OK) {
        memcpy(counts, c, sizeof c);
    }
    return err;
}
