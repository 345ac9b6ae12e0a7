/* SPDX-License-Identifier: MIT */
/*
 * store_pg_jobs.c - the job operations of the PostgreSQL job store: insert,
 * get, list, the queued ids, and the state changes of a job's life (claim,
 * progress, metrics, finish); also the job-row steps the event and
 * maintenance operations share.
 *
 * Claim and progress are one conditional UPDATE (WHERE id AND state): under
 * READ COMMITTED a second replica's UPDATE of the same row waits for the
 * first to commit and then re-checks the state, so two replicas can never
 * both start one job.  When nothing changed, a read in the same transaction
 * says why (MF_ENOTFOUND or MF_EBUSY).  Finish locks the job's row (FOR
 * UPDATE) before it takes the next seq, so its final event and a concurrent
 * append never share a seq.  Semantics as store_sqlite_jobs.c.
 */
#include <stdlib.h>
#include <string.h>

#include "store_pg_int.h"

/* ---- job rows -------------------------------------------------------------------- */

mf_err mf__pg_read_job(const PGresult *res, int i, mf_job_rec *ret)
{
    mf_job_rec r;
    memset(&r, 0, sizeof r);
    mf_err err = mf__pg_col_fixed(res, i, 0, r.id, sizeof r.id);
    if (err == MF_OK) {
        err = mf__pg_col_fixed(res, i, 1, r.type, sizeof r.type);
    }
    if (err == MF_OK) {
        err = mf__pg_col_fixed(res, i, 2, r.model, sizeof r.model);
    }
    if (err == MF_OK) {
        err = mf__pg_col_state(res, i, 3, &r.state);
    }
    if (err == MF_OK) {
        err = mf__pg_col_fixed(res, i, 15, r.owner, sizeof r.owner);
    }
    char **payload[] = {&r.params, &r.result, &r.error, &r.metrics};
    for (int k = 0; k < 4 && err == MF_OK; k++) {
        err = mf__pg_col_dup(res, i, 4 + k, payload[k]);
    }
    int64_t done = 0, total = 0, attempts = 0, last_seq = 0;
    if (err == MF_OK) {
        err = mf__pg_col_i64(res, i, 8, &done);
    }
    if (err == MF_OK) {
        err = mf__pg_col_i64(res, i, 9, &total);
    }
    double *times[] = {&r.created_at, &r.started_at, &r.finished_at};
    for (int k = 0; k < 3 && err == MF_OK; k++) {
        err = mf__pg_col_dbl(res, i, 10 + k, times[k]);
    }
    if (err == MF_OK) {
        err = mf__pg_col_i64(res, i, 13, &attempts);
    }
    if (err == MF_OK) {
        err = mf__pg_col_i64(res, i, 14, &last_seq);
    }
    if (err == MF_OK && (attempts < 0 || attempts > UINT32_MAX || last_seq < 0)) {
        err = MF_EFORMAT;
    }
    if (err != MF_OK) {
        mf_job_rec_done(&r);
        return err;
    }
    r.done = (uint64_t) done;
    r.total = (uint64_t) total;
    r.attempts = (uint32_t) attempts;
    r.last_seq = (uint64_t) last_seq;
    *ret = r;
    return MF_OK;
}

static void free_jobs(mf_job_rec *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mf_job_rec_done(&jobs[i]);
    }
    free(jobs);
}

/* mf__pg_read_job and mf_job_rec_done as mf__pg_rows callbacks. */
static mf_err job_row(const PGresult *res, int i, void *elem)
{
    return mf__pg_read_job(res, i, elem);
}

static void job_row_done(void *elem)
{
    mf_job_rec_done(elem);
}

/* Every row of a MF__PG_JOB_COLS_* result as a malloc'd array (NULL when none). */
mf_err mf__pg_read_jobs(const PGresult *res, mf_job_rec **ret, size_t *ret_n)
{
    return mf__pg_rows(res, sizeof(mf_job_rec), job_row, job_row_done, (void **) ret, ret_n);
}

mf_err mf__pg_job_head_get(mf__pg_store *b, const char *id, bool lock, mf__pg_job_head *ret)
{
    const char *p[] = {id};
    PGresult *res = NULL;
    mf_err err = mf__pg_exec(b,
                             lock ? "SELECT state, last_seq, created_at, lease_owner FROM jobs"
                                    " WHERE id = $1 FOR UPDATE"
                                  : "SELECT state, last_seq, created_at, lease_owner FROM jobs"
                                    " WHERE id = $1",
                             1, p, &res);
    mf__pg_job_head h = {MF_JOB_QUEUED, 0, 0, ""};
    int64_t seq = 0;
    if (err == MF_OK && PQntuples(res) == 0) {
        err = MF_ENOTFOUND;
    }
    if (err == MF_OK) {
        err = mf__pg_col_state(res, 0, 0, &h.state);
    }
    if (err == MF_OK) {
        err = mf__pg_col_i64(res, 0, 1, &seq);
    }
    if (err == MF_OK) {
        err = mf__pg_col_dbl(res, 0, 2, &h.created_at);
    }
    if (err == MF_OK) {
        err = mf__pg_col_fixed(res, 0, 3, h.lease_owner, sizeof h.lease_owner);
    }
    PQclear(res);
    if (err == MF_OK && seq < 0) {
        err = MF_EFORMAT;
    }
    if (err == MF_OK) {
        h.last_seq = (uint64_t) seq;
        *ret = h;
    }
    return err;
}

mf_err mf__pg_job_read(mf__pg_store *b, const char *id, mf_job_rec *ret)
{
    const char *p[] = {id};
    PGresult *res = NULL;
    mf_err err =
        mf__pg_exec(b, "SELECT " MF__PG_JOB_COLS_FULL " FROM jobs WHERE id = $1", 1, p, &res);
    if (err == MF_OK && PQntuples(res) == 0) {
        err = MF_ENOTFOUND;
    }
    if (err == MF_OK) {
        err = mf__pg_read_job(res, 0, ret);
    }
    PQclear(res);
    return err;
}

mf_err mf__pg_set_final(mf__pg_store *b, const char *id, mf_job_state final, const char *result,
                        const char *error, double now, uint64_t seq)
{
    mf__pg_num st = mf__pg_i64(final), t = mf__pg_dbl(now), sq = mf__pg_u64(seq);
    const char *p[] = {id, st.s, result, error, t.s, sq.s};
    return mf__pg_exec(b,
                       "UPDATE jobs SET state = $2::smallint, result = $3, error = $4,"
                       " finished_at = $5::float8, last_seq = $6::bigint WHERE id = $1",
                       6, p, NULL);
}

/* After an UPDATE ... WHERE id AND state that changed nothing: why not. */
static mf_err why_unchanged(mf__pg_store *b, const char *id)
{
    mf__pg_job_head h;
    mf_err err = mf__pg_job_head_get(b, id, false, &h);
    return err == MF_OK ? MF_EBUSY : err;
}

/* Runs an UPDATE with parameters; *ret_n gets the number of rows it changed. */
static mf_err update(mf__pg_store *b, const char *sql, int n, const char *const *p, long *ret_n)
{
    PGresult *res = NULL;
    mf_err err = mf__pg_exec(b, sql, n, p, &res);
    if (err == MF_OK) {
        *ret_n = strtol(PQcmdTuples(res), NULL, 10);
    }
    PQclear(res);
    return err;
}

/* ---- reads ------------------------------------------------------------------------- */

mf_err mf__pg_job_get(void *bp, const char *id, mf_job_rec *ret)
{
    mf__pg_store *b = bp;
    mf_job_rec r;
    mf_err err = mf__pg_begin(b, true);
    if (err == MF_OK) {
        err = mf__pg_job_read(b, id, &r);
        if (err == MF_OK) {
            err = mf__pg_end(b, MF_OK);
            if (err == MF_OK) {
                *ret = r;
            } else {
                mf_job_rec_done(&r);
            }
            return err;
        }
    }
    return mf__pg_end(b, err);
}

mf_err mf__pg_job_list(void *bp, const mf_job_filter *f, mf_job_rec **ret, size_t *ret_n)
{
    mf__pg_store *b = bp;
    mf_job_rec *jobs = NULL;
    size_t n = 0;
    /* One snapshot: the cursor's row and the page agree. */
    mf_err err = mf__pg_begin(b, true);
    mf__pg_job_head cursor = {MF_JOB_QUEUED, 0, 0, ""};
    if (err == MF_OK && f->before != NULL) {
        err = mf__pg_job_head_get(b, f->before, false, &cursor);
    }
    if (err == MF_OK) {
        mf__pg_num st = mf__pg_i64(f->state), at = mf__pg_dbl(cursor.created_at),
                   lim = mf__pg_i64((int64_t) f->limit);
        const char *p[] = {st.s, f->model, f->type, at.s, f->before, lim.s, f->owner};
        PGresult *res = NULL;
        /* $4 and $5 are NULL-safe: no cursor is (created_at, id) < (NULL, NULL) skipped */
        err = mf__pg_exec(b,
                          "SELECT " MF__PG_JOB_COLS_LIST " FROM jobs"
                          " WHERE ($1::int < 0 OR state = $1::int)"
                          " AND ($2::text IS NULL OR model = $2::text)"
                          " AND ($3::text IS NULL OR type = $3::text)"
                          " AND ($7::text IS NULL OR owner = $7::text OR owner = '')"
                          " AND ($5::text IS NULL OR (created_at, id) < ($4::float8, $5::text))"
                          " ORDER BY created_at DESC, id DESC LIMIT $6::bigint",
                          7, p, &res);
        if (err == MF_OK) {
            err = mf__pg_read_jobs(res, &jobs, &n);
        }
        PQclear(res);
    }
    err = mf__pg_end(b, err);
    if (err != MF_OK) {
        free_jobs(jobs, n);
        return err;
    }
    *ret = jobs;
    *ret_n = n;
    return MF_OK;
}

/* Column 0 of row i as an id: an mf__pg_rows callback. */
static mf_err id_row(const PGresult *res, int i, void *elem)
{
    return mf__pg_col_fixed(res, i, 0, elem, MF_ID_MAX + 1);
}

/* The ids of a one-column result (ended with the transaction by the caller's mf__pg_end). */
static mf_err ids_end(mf__pg_store *b, mf_err err, PGresult *res, char (**ret)[MF_ID_MAX + 1],
                      size_t *ret_n)
{
    void *ids = NULL;
    size_t n = 0;
    if (err == MF_OK) {
        err = mf__pg_rows(res, MF_ID_MAX + 1, id_row, NULL, &ids, &n);
    }
    PQclear(res);
    err = mf__pg_end(b, err);
    if (err != MF_OK) {
        free(ids);
        return err;
    }
    *ret = ids;
    *ret_n = n;
    return MF_OK;
}

mf_err mf__pg_jobs_queued(void *bp, char (**ret)[MF_ID_MAX + 1], size_t *ret_n)
{
    mf__pg_store *b = bp;
    PGresult *res = NULL;
    mf_err err = mf__pg_begin(b, true);
    if (err == MF_OK) {
        err = mf__pg_exec(b, "SELECT id FROM jobs WHERE state = 0 ORDER BY created_at, id", 0, NULL,
                          &res);
    }
    return ids_end(b, err, res, ret, ret_n);
}

mf_err mf__pg_job_renew(void *bp, const char *me, double lease_until, char (**ret)[MF_ID_MAX + 1],
                        size_t *ret_n)
{
    mf__pg_store *b = bp;
    PGresult *res = NULL;
    mf_err err = mf__pg_begin(b, false);
    if (err == MF_OK) {
        mf__pg_num t = mf__pg_dbl(lease_until);
        const char *p[] = {me, t.s};
        err = mf__pg_exec(b,
                          "UPDATE jobs SET lease_until = $2::float8"
                          " WHERE state = 1 AND lease_owner = $1 RETURNING id",
                          2, p, &res);
    }
    return ids_end(b, err, res, ret, ret_n);
}

/* ---- writes ------------------------------------------------------------------------ */

mf_err mf__pg_job_insert(void *bp, const mf_job_rec *r, const char *first_event_data)
{
    mf__pg_store *b = bp;
    mf_err err = mf__pg_begin(b, false);
    if (err == MF_OK) {
        mf__pg_num at = mf__pg_dbl(r->created_at);
        const char *p[] = {r->id, r->type, r->model, r->params, at.s, r->owner};
        long n = 0;
        /* ON CONFLICT: an existing id is an answer (MF_EBUSY), not an error in the server log */
        err = update(b,
                     "INSERT INTO jobs (id, type, model, state, params, created_at, last_seq,"
                     " owner) VALUES ($1, $2, $3, 0, $4, $5::float8, 1, $6)"
                     " ON CONFLICT (id) DO NOTHING",
                     6, p, &n);
        if (err == MF_OK && n == 0) {
            err = MF_EBUSY;
        }
    }
    if (err == MF_OK) {
        err = mf__pg_put_event(b, r->id, 1, "status", first_event_data);
    }
    return mf__pg_end(b, err);
}

mf_err mf__pg_job_claim(void *bp, const char *id, double now, const char *me, double lease_until)
{
    mf__pg_store *b = bp;
    mf_err err = mf__pg_begin(b, false);
    if (err == MF_OK) {
        mf__pg_num t = mf__pg_dbl(now), u = mf__pg_dbl(lease_until);
        const char *p[] = {id, t.s, me, u.s};
        long n = 0;
        err = update(b,
                     "UPDATE jobs SET state = 1, started_at = $2::float8, attempts = attempts + 1,"
                     " lease_owner = $3, lease_until = $4::float8 WHERE id = $1 AND state = 0",
                     4, p, &n);
        if (err == MF_OK && n == 0) {
            err = why_unchanged(b, id);
        }
    }
    return mf__pg_end(b, err);
}

mf_err mf__pg_job_claim_next(void *bp, double now, const char *me, double lease_until,
                             char ret_id[MF_ID_MAX + 1])
{
    mf__pg_store *b = bp;
    PGresult *res = NULL;
    mf_err err = mf__pg_begin(b, false);
    if (err == MF_OK) {
        mf__pg_num t = mf__pg_dbl(now), u = mf__pg_dbl(lease_until);
        const char *p[] = {t.s, me, u.s};
        /* SKIP LOCKED: a job another replica is claiming right now is passed over, not waited
         * for; the outer state = 0 holds should the row have changed in between. */
        err = mf__pg_exec(b,
                          "UPDATE jobs SET state = 1, started_at = $1::float8,"
                          " attempts = attempts + 1, lease_owner = $2, lease_until = $3::float8"
                          " WHERE id = (SELECT id FROM jobs WHERE state = 0"
                          " ORDER BY created_at, id FOR UPDATE SKIP LOCKED LIMIT 1)"
                          " AND state = 0 RETURNING id",
                          3, p, &res);
    }
    if (err == MF_OK) {
        err =
            PQntuples(res) == 0 ? MF_ENOTFOUND : mf__pg_col_fixed(res, 0, 0, ret_id, MF_ID_MAX + 1);
    }
    PQclear(res);
    return mf__pg_end(b, err);
}

mf_err mf__pg_job_progress(void *bp, const char *id, const char *me, uint64_t done, uint64_t total)
{
    mf__pg_store *b = bp;
    mf_err err = mf__pg_begin(b, false);
    if (err == MF_OK) {
        mf__pg_num d = mf__pg_u64(done), t = mf__pg_u64(total);
        const char *p[] = {id, d.s, t.s, me};
        long n = 0;
        err = update(b,
                     "UPDATE jobs SET done = $2::bigint, total = $3::bigint"
                     " WHERE id = $1 AND state = 1 AND lease_owner = $4",
                     4, p, &n);
        if (err == MF_OK && n == 0) {
            /* not running (queued, or final: cancelled meanwhile), or another replica's lease */
            err = why_unchanged(b, id);
        }
    }
    return mf__pg_end(b, err);
}

mf_err mf__pg_job_metrics(void *bp, const char *id, const char *metrics)
{
    mf__pg_store *b = bp;
    mf_err err = mf__pg_begin(b, false);
    if (err == MF_OK) {
        const char *p[] = {id, metrics};
        long n = 0;
        err = update(b, "UPDATE jobs SET metrics = $2 WHERE id = $1", 2, p, &n);
        if (err == MF_OK && n == 0) {
            err = MF_ENOTFOUND;
        }
    }
    return mf__pg_end(b, err);
}

mf_err mf__pg_job_finish(void *bp, const char *id, const char *me, mf_job_state final,
                         const char *result, const char *error, const char *final_event_data,
                         double now)
{
    mf__pg_store *b = bp;
    uint64_t seq = 0;
    mf_err err = mf__pg_begin(b, false);
    if (err == MF_OK) {
        err = mf__pg_log_next_seq(b, id, me, &seq); /* row locked; MF_EBUSY: final, not ours */
    }
    if (err == MF_OK) {
        err = mf__pg_set_final(b, id, final, result, error, now, seq);
    }
    if (err == MF_OK) {
        err = mf__pg_put_event(b, id, seq, "status", final_event_data);
    }
    return mf__pg_end(b, err);
}
