/* SPDX-License-Identifier: MIT */
/*
 * store_sqlite_jobs.c - the job operations of the SQLite job store: insert,
 * get, list, the queued ids, and the state changes of a job's life (claim,
 * progress, metrics, finish); also the job-row steps the event and
 * maintenance operations share (mf__sq_job_head_get, mf__sq_set_final).
 *
 * Claim, progress and metrics are single UPDATEs in autocommit mode, so the
 * check (the job and, for claim and progress, its state) and the change are
 * one atomic write.  When a claim or progress changed nothing, a second read
 * says why: MF_ENOTFOUND or MF_EBUSY; metrics, which takes any state, is
 * MF_ENOTFOUND.  Insert and finish also write an event, so they are
 * transactions.
 *
 * Listings carry the error payload (a short {"code","message"}) besides the
 * fixed fields, so a list of failed jobs can say why without a get per job;
 * params, result and metrics stay NULL.  A `before` cursor naming a job that
 * does not exist (or no longer does) is MF_ENOTFOUND rather than an empty
 * page, so a client cannot mistake an expired cursor for the end of the list.
 */
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_int.h"

/* ---- job rows -------------------------------------------------------------------- */

/* The current row of a MF__SQ_JOB_COLS_* query into *ret (owned strings). */
static mf_err read_job(sqlite3_stmt *st, mf_job_rec *ret)
{
    mf_job_rec r;
    memset(&r, 0, sizeof r);
    mf_err err = mf__sq_col_fixed(st, 0, r.id, sizeof r.id);
    if (err == MF_OK) {
        err = mf__sq_col_fixed(st, 1, r.type, sizeof r.type);
    }
    if (err == MF_OK) {
        err = mf__sq_col_fixed(st, 2, r.model, sizeof r.model);
    }
    if (err == MF_OK) {
        err = mf__sq_col_state(st, 3, &r.state);
    }
    if (err == MF_OK) {
        err = mf__sq_col_fixed(st, 15, r.owner, sizeof r.owner);
    }
    char **payload[] = {&r.params, &r.result, &r.error, &r.metrics};
    for (int k = 0; k < 4 && err == MF_OK; k++) {
        err = mf__sq_col_dup(st, 4 + k, payload[k]);
    }
    sqlite3_int64 attempts = sqlite3_column_int64(st, 13);
    if (err == MF_OK && (attempts < 0 || attempts > UINT32_MAX)) {
        err = MF_EFORMAT;
    }
    if (err != MF_OK) {
        mf_job_rec_done(&r);
        return err;
    }
    r.done = (uint64_t) sqlite3_column_int64(st, 8);
    r.total = (uint64_t) sqlite3_column_int64(st, 9);
    r.created_at = sqlite3_column_double(st, 10);
    r.started_at = sqlite3_column_double(st, 11);
    r.finished_at = sqlite3_column_double(st, 12);
    r.attempts = (uint32_t) attempts;
    r.last_seq = (uint64_t) sqlite3_column_int64(st, 14);
    *ret = r;
    return MF_OK;
}

/* read_job and mf_job_rec_done as mf__sq_rows callbacks. */
static mf_err read_job_row(sqlite3_stmt *st, void *elem)
{
    return read_job(st, elem); /* writes *elem only on success */
}

static void job_row_done(void *elem)
{
    mf_job_rec_done(elem);
}

static void free_jobs(mf_job_rec *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mf_job_rec_done(&jobs[i]);
    }
    free(jobs);
}

mf_err mf__sq_job_head_get(mf__sq_store *b, const char *id, mf__sq_job_head *ret)
{
    sqlite3_stmt *st = b->st[MF__SQ_JOB_STATE];
    int rc = SQLITE_OK;
    mf__sq_bind_text(st, 1, id, &rc);
    bool row = false;
    mf_err err = mf__sq_query(st, rc, &row);
    mf__sq_job_head h = {MF_JOB_QUEUED, 0, 0, ""};
    if (err == MF_OK && !row) {
        err = MF_ENOTFOUND;
    }
    if (err == MF_OK) {
        err = mf__sq_col_state(st, 0, &h.state);
        h.last_seq = (uint64_t) sqlite3_column_int64(st, 1);
        h.created_at = sqlite3_column_double(st, 2);
        err = mf__sq_col_fixed(st, 3, h.lease_owner, sizeof h.lease_owner);
    }
    mf__sq_reset(st);
    if (err == MF_OK) {
        *ret = h;
    }
    return err;
}

/* After an UPDATE ... WHERE id AND state that changed nothing: why not. */
static mf_err why_unchanged(mf__sq_store *b, const char *id)
{
    mf__sq_job_head h;
    mf_err err = mf__sq_job_head_get(b, id, &h);
    return err == MF_OK ? MF_EBUSY : err;
}

mf_err mf__sq_set_final(mf__sq_store *b, const char *id, mf_job_state final, const char *result,
                        const char *error, double now, uint64_t seq)
{
    sqlite3_stmt *st = b->st[MF__SQ_JOB_FINISH];
    int rc = SQLITE_OK;
    mf__sq_bind_text(st, 1, id, &rc);
    mf__sq_bind_i64(st, 2, (int64_t) final, &rc);
    mf__sq_bind_text(st, 3, result, &rc);
    mf__sq_bind_text(st, 4, error, &rc);
    mf__sq_bind_double(st, 5, now, &rc);
    mf__sq_bind_u64(st, 6, seq, &rc);
    return mf__sq_run(st, rc);
}

/* ---- reads ------------------------------------------------------------------------- */

mf_err mf__sq_job_get(void *bp, const char *id, mf_job_rec *ret)
{
    mf__sq_store *b = bp;
    mf__sq_lock(b);
    mf_err err = mf__sq_job_read(b, id, ret);
    mf__sq_unlock(b);
    return err;
}

mf_err mf__sq_job_read(mf__sq_store *b, const char *id, mf_job_rec *ret)
{
    sqlite3_stmt *st = b->st[MF__SQ_JOB_GET];
    int rc = SQLITE_OK;
    mf__sq_bind_text(st, 1, id, &rc);
    bool row = false;
    mf_err err = mf__sq_query(st, rc, &row);
    if (err == MF_OK && !row) {
        err = MF_ENOTFOUND;
    }
    if (err == MF_OK) {
        err = read_job(st, ret); /* writes *ret only on success */
    }
    mf__sq_reset(st);
    return err;
}

/* One page of f's listing, below cursor when f->before is set. */
static mf_err list_page(mf__sq_store *b, const mf_job_filter *f, const mf__sq_job_head *cursor,
                        void **ret, size_t *ret_n)
{
    sqlite3_stmt *st = b->st[f->before != NULL ? MF__SQ_JOB_LIST_BEFORE : MF__SQ_JOB_LIST];
    int rc = SQLITE_OK;
    mf__sq_bind_i64(st, 1, f->state, &rc);
    mf__sq_bind_text(st, 2, f->model, &rc);
    mf__sq_bind_text(st, 3, f->type, &rc);
    if (f->before != NULL) {
        mf__sq_bind_double(st, 4, cursor->created_at, &rc);
        mf__sq_bind_text(st, 5, f->before, &rc);
    }
    mf__sq_bind_i64(st, 6, (int64_t) f->limit, &rc);
    mf__sq_bind_text(st, 7, f->owner, &rc);
    return mf__sq_rows(st, rc, sizeof(mf_job_rec), read_job_row, job_row_done, ret, ret_n);
}

mf_err mf__sq_job_list(void *bp, const mf_job_filter *f, mf_job_rec **ret, size_t *ret_n)
{
    mf__sq_store *b = bp;
    void *jobs = NULL;
    size_t n = 0;
    /* One read transaction: the cursor's row and the page come from one snapshot. */
    mf_err err = mf__sq_begin(b, false);
    mf__sq_job_head cursor = {MF_JOB_QUEUED, 0, 0, ""};
    if (err == MF_OK && f->before != NULL) {
        err = mf__sq_job_head_get(b, f->before, &cursor);
    }
    if (err == MF_OK) {
        err = list_page(b, f, &cursor, &jobs, &n);
    }
    err = mf__sq_end(b, err);
    if (err != MF_OK) {
        free_jobs(jobs, n); /* the page read before a failed COMMIT */
        return err;
    }
    *ret = jobs;
    *ret_n = n;
    return MF_OK;
}

/* One queued id as an mf__sq_rows callback. */
static mf_err read_id_row(sqlite3_stmt *st, void *elem)
{
    return mf__sq_col_fixed(st, 0, elem, MF_ID_MAX + 1);
}

mf_err mf__sq_jobs_queued(void *bp, char (**ret)[MF_ID_MAX + 1], size_t *ret_n)
{
    mf__sq_store *b = bp;
    void *ids = NULL;
    size_t n = 0;
    mf__sq_lock(b);
    mf_err err = mf__sq_rows(b->st[MF__SQ_JOBS_QUEUED], SQLITE_OK, MF_ID_MAX + 1, read_id_row, NULL,
                             &ids, &n);
    mf__sq_unlock(b);
    if (err == MF_OK) {
        *ret = ids;
        *ret_n = n;
    }
    return err;
}

/* ---- writes ------------------------------------------------------------------------ */

mf_err mf__sq_job_insert(void *bp, const mf_job_rec *r, const char *first_event_data)
{
    mf__sq_store *b = bp;
    mf_err err = mf__sq_begin(b, true);
    if (err == MF_OK) {
        sqlite3_stmt *st = b->st[MF__SQ_JOB_INSERT];
        int rc = SQLITE_OK;
        mf__sq_bind_text(st, 1, r->id, &rc);
        mf__sq_bind_text(st, 2, r->type, &rc);
        mf__sq_bind_text(st, 3, r->model, &rc);
        mf__sq_bind_text(st, 4, r->params, &rc);
        mf__sq_bind_double(st, 5, r->created_at, &rc);
        mf__sq_bind_text(st, 6, r->owner, &rc);
        rc = mf__sq_exec(st, rc);
        err = rc == SQLITE_CONSTRAINT_PRIMARYKEY ? MF_EBUSY : mf__sq_err(rc);
    }
    if (err == MF_OK) {
        err = mf__sq_put_event(b, r->id, 1, "status", first_event_data);
    }
    return mf__sq_end(b, err);
}

mf_err mf__sq_job_claim(void *bp, const char *id, double now, const char *me, double lease_until)
{
    mf__sq_store *b = bp;
    mf__sq_lock(b);
    /* One conditional UPDATE: the check and the change are a single atomic write, even
     * against another process on the same file. */
    sqlite3_stmt *st = b->st[MF__SQ_JOB_CLAIM];
    int rc = SQLITE_OK;
    mf__sq_bind_text(st, 1, id, &rc);
    mf__sq_bind_double(st, 2, now, &rc);
    mf__sq_bind_text(st, 3, me, &rc);
    mf__sq_bind_double(st, 4, lease_until, &rc);
    mf_err err = mf__sq_run(st, rc);
    if (err == MF_OK && sqlite3_changes(b->db) == 0) {
        err = why_unchanged(b, id);
    }
    mf__sq_unlock(b);
    return err;
}

mf_err mf__sq_job_claim_next(void *bp, double now, const char *me, double lease_until,
                             char ret_id[MF_ID_MAX + 1])
{
    mf__sq_store *b = bp;
    char(*ids)[MF_ID_MAX + 1] = NULL;
    size_t n = 0;
    mf_err err = mf__sq_begin(b, true);
    if (err == MF_OK) {
        sqlite3_stmt *st = b->st[MF__SQ_JOB_CLAIM_NEXT];
        int rc = SQLITE_OK;
        mf__sq_bind_double(st, 1, now, &rc);
        mf__sq_bind_text(st, 2, me, &rc);
        mf__sq_bind_double(st, 3, lease_until, &rc);
        err = mf__sq_rows(st, rc, MF_ID_MAX + 1, read_id_row, NULL, (void **) &ids, &n);
    }
    err = mf__sq_end(b, err);
    if (err == MF_OK && n == 0) {
        err = MF_ENOTFOUND;
    }
    if (err == MF_OK) {
        memcpy(ret_id, ids[0], MF_ID_MAX + 1);
    }
    free(ids);
    return err;
}

mf_err mf__sq_job_renew(void *bp, const char *me, double lease_until, char (**ret)[MF_ID_MAX + 1],
                        size_t *ret_n)
{
    mf__sq_store *b = bp;
    mf_err err = mf__sq_begin(b, true);
    if (err == MF_OK) {
        sqlite3_stmt *st = b->st[MF__SQ_JOB_RENEW];
        int rc = SQLITE_OK;
        mf__sq_bind_text(st, 1, me, &rc);
        mf__sq_bind_double(st, 2, lease_until, &rc);
        err = mf__sq_rows(st, rc, MF_ID_MAX + 1, read_id_row, NULL, (void **) ret, ret_n);
    }
    err = mf__sq_end(b, err);
    if (err != MF_OK) {
        free(*ret); /* renewed rows read before a COMMIT that failed */
        *ret = NULL;
        *ret_n = 0;
    }
    return err;
}

mf_err mf__sq_job_progress(void *bp, const char *id, const char *me, uint64_t done, uint64_t total)
{
    mf__sq_store *b = bp;
    mf__sq_lock(b);
    sqlite3_stmt *st = b->st[MF__SQ_JOB_PROGRESS];
    int rc = SQLITE_OK;
    mf__sq_bind_text(st, 1, id, &rc);
    mf__sq_bind_u64(st, 2, done, &rc);
    mf__sq_bind_u64(st, 3, total, &rc);
    mf__sq_bind_text(st, 4, me, &rc);
    mf_err err = mf__sq_run(st, rc);
    if (err == MF_OK && sqlite3_changes(b->db) == 0) {
        /* not running (queued, or final: cancelled meanwhile), or another replica's lease */
        err = why_unchanged(b, id);
    }
    mf__sq_unlock(b);
    return err;
}

mf_err mf__sq_job_metrics(void *bp, const char *id, const char *metrics)
{
    mf__sq_store *b = bp;
    mf__sq_lock(b);
    sqlite3_stmt *st = b->st[MF__SQ_JOB_METRICS];
    int rc = SQLITE_OK;
    mf__sq_bind_text(st, 1, id, &rc);
    mf__sq_bind_text(st, 2, metrics, &rc);
    mf_err err = mf__sq_run(st, rc);
    if (err == MF_OK && sqlite3_changes(b->db) == 0) {
        err = MF_ENOTFOUND;
    }
    mf__sq_unlock(b);
    return err;
}

mf_err mf__sq_job_finish(void *bp, const char *id, const char *me, mf_job_state final,
                         const char *result, const char *error, const char *final_event_data,
                         double now)
{
    mf__sq_store *b = bp;
    uint64_t seq = 0;
    mf_err err = mf__sq_begin(b, true);
    if (err == MF_OK) {
        err = mf__sq_log_next_seq(b, id, me, &seq); /* MF_EBUSY: final, or not our lease */
    }
    if (err == MF_OK) {
        err = mf__sq_set_final(b, id, final, result, error, now, seq);
    }
    if (err == MF_OK) {
        err = mf__sq_put_event(b, id, seq, "status", final_event_data);
    }
    return mf__sq_end(b, err);
}
