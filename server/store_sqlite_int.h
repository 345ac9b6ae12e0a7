/* SPDX-License-Identifier: MIT */
/*
 * store_sqlite_int.h - what the files of the SQLite job store backend share;
 * nothing outside server/store_sqlite*.c includes this.
 *
 *   store_sqlite.c         open (identify, configure, schema), close, ping, the vtable
 *   store_sqlite_stmt.c    result codes, binders, row and column readers, transactions
 *   store_sqlite_jobs.c    insert, get, list, queued, claim, renew, progress, metrics,
 *                          finish
 *   store_sqlite_events.c  event_append, events_after, and the event rows the job
 *                          operations write beside their state changes
 *   store_sqlite_maint.c   recover, expire, count_states
 *
 * The locking and file-format design is described at the top of
 * store_sqlite.c.  In short: every operation holds the store's mutex for its
 * whole length.  One that must read or write several rows as one (insert,
 * list, finish, event_append, events_after, recover, expire) is a
 * transaction, and reads
 *
 *     mf_err err = mf__sq_begin(b, write);   (lock, BEGIN)
 *     if (err == MF_OK) { ...the work, each step only while err is MF_OK... }
 *     return mf__sq_end(b, err);             (COMMIT or ROLLBACK, unlock)
 *
 * The others are one autocommit statement (claim, progress and metrics are
 * conditional UPDATEs, followed by a read that says why when nothing changed)
 * between mf__sq_lock and mf__sq_unlock.  Every statement is reset before the
 * mutex is released.
 */
#ifndef MF_STORE_SQLITE_INT_H
#define MF_STORE_SQLITE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store_impl.h"

/* ---- statements ------------------------------------------------------------------ */

/* The columns read_job() (store_sqlite_jobs.c) expects, in order; listings put NULL for
 * the big payloads. */
#define MF__SQ_JOB_COLS_FULL                                                            \
    "id, type, model, state, params, result, error, metrics, done, total, created_at, " \
    "started_at, finished_at, attempts, last_seq, owner"
#define MF__SQ_JOB_COLS_LIST                                                     \
    "id, type, model, state, NULL, NULL, error, NULL, done, total, created_at, " \
    "started_at, finished_at, attempts, last_seq, owner"
/* an owner filter (?7) keeps that owner's jobs and those with none (mf_job_filter) */
#define MF__SQ_LIST_FILTER                                                                \
    "(?1 < 0 OR state = ?1) AND (?2 IS NULL OR model = ?2) AND (?3 IS NULL OR type = ?3)" \
    " AND (?7 IS NULL OR owner = ?7 OR owner = '')"

/* Every statement, prepared once at open.  Parameters are always bound, never formatted. */
#define MF__SQ_STMT_MAP(XX)                                                                   \
    XX(BEGIN_READ, "BEGIN")                                                                   \
    XX(BEGIN_WRITE, "BEGIN IMMEDIATE")                                                        \
    XX(COMMIT, "COMMIT")                                                                      \
    XX(ROLLBACK, "ROLLBACK")                                                                  \
    XX(PING, "SELECT 1")                                                                      \
    XX(JOB_INSERT, "INSERT INTO jobs (id, type, model, state, params, created_at, last_seq,"  \
                   " owner) VALUES (?1, ?2, ?3, 0, ?4, ?5, 1, ?6)")                           \
    XX(JOB_GET, "SELECT " MF__SQ_JOB_COLS_FULL " FROM jobs WHERE id = ?1")                    \
    XX(JOB_STATE, "SELECT state, last_seq, created_at, lease_owner FROM jobs WHERE id = ?1")  \
    XX(JOB_LIST, "SELECT " MF__SQ_JOB_COLS_LIST " FROM jobs WHERE " MF__SQ_LIST_FILTER        \
                 " ORDER BY created_at DESC, id DESC LIMIT ?6")                               \
    /* a row-value bound lets the planner range-scan jobs_by_created for deep pages */        \
    XX(JOB_LIST_BEFORE, "SELECT " MF__SQ_JOB_COLS_LIST " FROM jobs WHERE " MF__SQ_LIST_FILTER \
                        " AND (created_at, id) < (?4, ?5)"                                    \
                        " ORDER BY created_at DESC, id DESC LIMIT ?6")                        \
    XX(JOBS_QUEUED, "SELECT id FROM jobs WHERE state = 0 ORDER BY created_at, id")            \
    XX(JOB_CLAIM, "UPDATE jobs SET state = 1, started_at = ?2, attempts = attempts + 1,"      \
                  " lease_owner = ?3, lease_until = ?4 WHERE id = ?1 AND state = 0")          \
    /* one statement, so atomic against another process on the same file */                   \
    XX(JOB_CLAIM_NEXT, "UPDATE jobs SET state = 1, started_at = ?1, attempts = attempts + 1," \
                       " lease_owner = ?2, lease_until = ?3 WHERE id = (SELECT id FROM jobs"  \
                       " WHERE state = 0 ORDER BY created_at, id LIMIT 1) AND state = 0"      \
                       " RETURNING id")                                                       \
    XX(JOB_RENEW, "UPDATE jobs SET lease_until = ?2 WHERE state = 1 AND lease_owner = ?1"     \
                  " RETURNING id")                                                            \
    XX(JOB_PROGRESS, "UPDATE jobs SET done = ?2, total = ?3"                                  \
                     " WHERE id = ?1 AND state = 1 AND lease_owner = ?4")                     \
    XX(JOB_METRICS, "UPDATE jobs SET metrics = ?2 WHERE id = ?1")                             \
    XX(JOB_FINISH, "UPDATE jobs SET state = ?2, result = ?3, error = ?4, finished_at = ?5,"   \
                   " last_seq = ?6 WHERE id = ?1")                                            \
    XX(JOB_REQUEUE, "UPDATE jobs SET state = 0, started_at = 0, last_seq = ?2,"               \
                    " lease_owner = '', lease_until = 0 WHERE id = ?1")                       \
    XX(JOB_SEQ, "UPDATE jobs SET last_seq = ?2 WHERE id = ?1")                                \
    XX(JOBS_RUNNING, "SELECT id, attempts, last_seq FROM jobs WHERE state = 1"                \
                     " AND (lease_until < ?1 OR lease_owner = ?2) ORDER BY created_at, id")   \
    XX(EVENT_INSERT, "INSERT INTO events (job_id, seq, name, data) VALUES (?1, ?2, ?3, ?4)")  \
    XX(EVENTS_AFTER, "SELECT seq, name, data FROM events WHERE job_id = ?1 AND seq > ?2"      \
                     " ORDER BY seq LIMIT ?3")                                                \
    /* explicit, not left to ON DELETE CASCADE: correct even with foreign keys off */         \
    XX(EXPIRE_EVENTS, "DELETE FROM events WHERE job_id IN"                                    \
                      " (SELECT id FROM jobs WHERE state >= 2 AND finished_at < ?1)")         \
    XX(EXPIRE_JOBS, "DELETE FROM jobs WHERE state >= 2 AND finished_at < ?1")                 \
    XX(COUNT_STATES, "SELECT state, count(*) FROM jobs WHERE ?1 IS NULL OR owner = ?1"        \
                     " GROUP BY state")

typedef enum mf__sq_stmt {
#define MF__SQ_STMT_ENUM(name, sql) MF__SQ_##name,
    MF__SQ_STMT_MAP(MF__SQ_STMT_ENUM)
#undef MF__SQ_STMT_ENUM
    MF__SQ_N_STMTS
} mf__sq_stmt;

/* The backend handle: the `void *b` of store_impl.h. */
typedef struct mf__sq_store {
    pthread_mutex_t mu; /* held for the whole of every call (see store_sqlite.c) */
    sqlite3 *db;
    sqlite3_stmt *st[MF__SQ_N_STMTS];
} mf__sq_store;

/* ---- store_sqlite_stmt.c: statements, rows, columns, transactions ------------------ */

/** A failed SQLite call as an mf_err: a full disk is MF_ENOSPC, other storage trouble MF_EIO. */
MF_MUST_CHECK mf_err mf__sq_err(int rc);
/** mf__sq_err, also reading an I/O error of db whose errno is ENOSPC as MF_ENOSPC. */
MF_MUST_CHECK mf_err mf__sq_db_err(sqlite3 *db, int rc);

/* Binders that do nothing once *rc holds an error, so a run of binds checks once.
 * Text is bound SQLITE_STATIC: every statement is reset before the caller's strings go. */
void mf__sq_bind_text(sqlite3_stmt *st, int i, const char *s, int *rc);
void mf__sq_bind_i64(sqlite3_stmt *st, int i, int64_t v, int *rc);
void mf__sq_bind_u64(sqlite3_stmt *st, int i, uint64_t v, int *rc);
void mf__sq_bind_double(sqlite3_stmt *st, int i, double v, int *rc);

/** Readies st for its next use; bindings are cleared so no stale pointer stays bound. */
void mf__sq_reset(sqlite3_stmt *st);
/** Runs a statement without result rows whose binds returned bind_rc, then resets it. */
int mf__sq_exec(sqlite3_stmt *st, int bind_rc);
/** mf__sq_exec as an mf_err. */
MF_MUST_CHECK mf_err mf__sq_run(sqlite3_stmt *st, int bind_rc);
/** Steps a query: MF_OK with *ret_row telling whether a row is there to read. */
MF_MUST_CHECK mf_err mf__sq_step(sqlite3_stmt *st, bool *ret_row);
/** First step of a query whose binds returned bind_rc. */
MF_MUST_CHECK mf_err mf__sq_query(sqlite3_stmt *st, int bind_rc, bool *ret_row);

/* Reads the current row of st into elem (elem_bytes of an array).  On failure it
 * leaves nothing in elem for the caller to free. */
typedef mf_err (*mf__sq_row_fn)(sqlite3_stmt *st, void *elem);
/* Frees what a successful mf__sq_row_fn put in elem (not elem itself). */
typedef void (*mf__sq_row_done_fn)(void *elem);

/**
 * Every row of query st (its binds returned bind_rc) read by read_row into a
 * malloc'd array of elem_bytes elements; st is reset.  *ret is NULL when there
 * are no rows.  On failure the rows read so far are undone with row_done (may
 * be NULL) and freed, and *ret and *ret_n are left alone.
 */
MF_MUST_CHECK mf_err mf__sq_rows(sqlite3_stmt *st, int bind_rc, size_t elem_bytes,
                                 mf__sq_row_fn read_row, mf__sq_row_done_fn row_done, void **ret,
                                 size_t *ret_n);

/** Column i into buf[cap]: MF_EFORMAT when NULL or too long (a hand-edited file). */
MF_MUST_CHECK mf_err mf__sq_col_fixed(sqlite3_stmt *st, int i, char *buf, size_t cap);
/** Column i as an owned string, or NULL for SQL NULL. */
MF_MUST_CHECK mf_err mf__sq_col_dup(sqlite3_stmt *st, int i, char **ret);
/** Column i as a job state: MF_EFORMAT when out of range. */
MF_MUST_CHECK mf_err mf__sq_col_state(sqlite3_stmt *st, int i, mf_job_state *ret);

void mf__sq_lock(mf__sq_store *b);
void mf__sq_unlock(mf__sq_store *b);

/**
 * Starts an operation: takes the mutex and opens a transaction, BEGIN
 * IMMEDIATE when write (the write lock up front), else BEGIN (one read
 * snapshot for every statement of the operation).  Whatever it returns, the
 * operation ends with mf__sq_end(b, err).
 */
MF_MUST_CHECK mf_err mf__sq_begin(mf__sq_store *b, bool write);

/**
 * Ends an operation started by mf__sq_begin: commits when err is MF_OK, else
 * rolls back what is still open; then releases the mutex.  Returns err, or the
 * COMMIT's error (after rolling back) when that fails.
 */
MF_MUST_CHECK mf_err mf__sq_end(mf__sq_store *b, mf_err err);

/* ---- store_sqlite_jobs.c: steps the other operations share -------------------------- */

typedef struct mf__sq_job_head {
    mf_job_state state;
    uint64_t last_seq;
    double created_at;
    char lease_owner[MF_ID_MAX + 1]; /* the replica holding a running job's lease */
} mf__sq_job_head;

/** State, last seq and creation time of job id: MF_ENOTFOUND when there is none. */
MF_MUST_CHECK mf_err mf__sq_job_head_get(mf__sq_store *b, const char *id, mf__sq_job_head *ret);

/** Final state, payloads, finished_at and last_seq of a job (its final event: mf__sq_put_event). */
MF_MUST_CHECK mf_err mf__sq_set_final(mf__sq_store *b, const char *id, mf_job_state final,
                                      const char *result, const char *error, double now,
                                      uint64_t seq);

/* ---- store_sqlite_events.c: steps the other operations share ------------------------ */

/** The seq after last_seq; MF_ERANGE at the (unreachable) end of int64. */
MF_MUST_CHECK mf_err mf__sq_next_seq(uint64_t last_seq, uint64_t *ret);

/**
 * The seq of job id's next event, while its log is open: MF_ENOTFOUND (no such
 * job), MF_EBUSY (the job is final: its final event closed the log; or it runs
 * under another replica's lease than me, when me is not NULL), MF_ERANGE.
 */
MF_MUST_CHECK mf_err mf__sq_log_next_seq(mf__sq_store *b, const char *id, const char *me,
                                         uint64_t *ret);

/** Inserts one event row; the caller keeps jobs.last_seq in step in the same transaction. */
MF_MUST_CHECK mf_err mf__sq_put_event(mf__sq_store *b, const char *id, uint64_t seq,
                                      const char *name, const char *data);

/* ---- the operations: the store_impl.h contracts, b an mf__sq_store ------------------ */

/* store_sqlite_jobs.c */
MF_MUST_CHECK mf_err mf__sq_job_insert(void *b, const mf_job_rec *r, const char *first_event_data);
MF_MUST_CHECK mf_err mf__sq_job_get(void *b, const char *id, mf_job_rec *ret);
/* mf__sq_job_get with the lock held (inside a transaction). */
MF_MUST_CHECK mf_err mf__sq_job_read(mf__sq_store *b, const char *id, mf_job_rec *ret);
MF_MUST_CHECK mf_err mf__sq_job_list(void *b, const mf_job_filter *f, mf_job_rec **ret,
                                     size_t *ret_n);
MF_MUST_CHECK mf_err mf__sq_jobs_queued(void *b, char (**ret)[MF_ID_MAX + 1], size_t *ret_n);
MF_MUST_CHECK mf_err mf__sq_job_claim(void *b, const char *id, double now, const char *me,
                                      double lease_until);
MF_MUST_CHECK mf_err mf__sq_job_claim_next(void *b, double now, const char *me, double lease_until,
                                           char ret_id[MF_ID_MAX + 1]);
MF_MUST_CHECK mf_err mf__sq_job_renew(void *b, const char *me, double lease_until,
                                      char (**ret)[MF_ID_MAX + 1], size_t *ret_n);
MF_MUST_CHECK mf_err mf__sq_job_progress(void *b, const char *id, const char *me, uint64_t done,
                                         uint64_t total);
MF_MUST_CHECK mf_err mf__sq_job_metrics(void *b, const char *id, const char *metrics);
MF_MUST_CHECK mf_err mf__sq_job_finish(void *b, const char *id, const char *me, mf_job_state final,
                                       const char *result, const char *error,
                                       const char *final_event_data, double now);

/* store_sqlite_events.c */
MF_MUST_CHECK mf_err mf__sq_event_append(void *b, const char *id, const char *me, const char *name,
                                         const char *data, uint64_t *ret_seq);
MF_MUST_CHECK mf_err mf__sq_events_after(void *b, const char *id, uint64_t after, size_t max,
                                         mf_event_rec **ret, size_t *ret_n);

/* store_sqlite_maint.c */
MF_MUST_CHECK mf_err mf__sq_recover(void *b, double expired_before, const char *mine,
                                    uint32_t max_attempts, mf_recover_event_fn event_data,
                                    void *ctx, const char *fail_error, double now,
                                    char (**ret_ids)[MF_ID_MAX + 1], size_t *ret_requeued,
                                    size_t *ret_failed);
MF_MUST_CHECK mf_err mf__sq_expire(void *b, double before, size_t *ret_n);
MF_MUST_CHECK mf_err mf__sq_count_states(void *b, const char *owner, uint64_t counts[5]);

#endif /* MF_STORE_SQLITE_INT_H */
