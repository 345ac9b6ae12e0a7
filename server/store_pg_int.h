/* SPDX-License-Identifier: MIT */
/*
 * store_pg_int.h - what the files of the PostgreSQL job store backend share;
 * nothing outside server/store_pg*.c includes this.
 *
 *   store_pg.c        connect (URI, password file), schema and its versions,
 *                     close, ping, probe, the vtable
 *   store_pg_conn.c   the connection: SQLSTATEs as mf_err, statements with
 *                     parameters, reconnecting, the begin/end frame
 *   store_pg_jobs.c   insert, get, list, queued, claim, renew, progress, metrics, finish
 *   store_pg_maint.c  event_append, events_after, recover, expire, count_states
 *   store_pg_watch.c  the notes between replicas: LISTEN/NOTIFY on a connection of its own
 *   store_pg_quota.c  the per-key request rate and daily compute, shared by the replicas
 *
 * One connection per store, guarded by the store's mutex for the whole of
 * every operation; every operation is one transaction:
 *
 *     mf_err err = mf__pg_begin(b, read_only);   (lock, reconnect if needed, BEGIN)
 *     if (err == MF_OK) { ...the work, each step only while err is MF_OK... }
 *     return mf__pg_end(b, err);                 (COMMIT or ROLLBACK, unlock)
 *
 * Other stores (other replicas) on the same database coordinate through
 * PostgreSQL: a claim is one conditional UPDATE, an event append locks its
 * job's row (SELECT ... FOR UPDATE) before it takes the next seq.
 *
 * Every statement is sent with PQexecParams, client data only ever as
 * parameters (text format); numbers travel as decimal text.
 */
#ifndef MF_STORE_PG_INT_H
#define MF_STORE_PG_INT_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store_impl.h"

/* The columns mf__pg_read_job expects, in order; listings put NULL for the big payloads. */
#define MF__PG_JOB_COLS_FULL                                                            \
    "id, type, model, state, params, result, error, metrics, done, total, created_at, " \
    "started_at, finished_at, attempts, last_seq, owner"
#define MF__PG_JOB_COLS_LIST                                                     \
    "id, type, model, state, NULL, NULL, error, NULL, done, total, created_at, " \
    "started_at, finished_at, attempts, last_seq, owner"

/* The LISTEN/NOTIFY channel of the notes between replicas (store_pg_watch.c); a
 * payload is one letter, 'e' (an event) or 'm' (a model), and an id. */
#define MF__PG_CHANNEL "manifold"

typedef struct mf__pg_watch mf__pg_watch;

/* The backend handle: the `void *b` of store_impl.h. */
typedef struct mf__pg_store {
    pthread_mutex_t mu; /* held for the whole of every operation */
    PGconn *conn;
    char where[192];     /* "database D on host H port P": for messages, never a password */
    mf__pg_watch *watch; /* the LISTEN thread, or NULL */
} mf__pg_store;

/* A number as the decimal text of a parameter. */
typedef struct mf__pg_num {
    char s[40];
} mf__pg_num;

mf__pg_num mf__pg_i64(int64_t v);
/* uint64 fields are stored as their int64 bit pattern (bigint is signed). */
mf__pg_num mf__pg_u64(uint64_t v);
/* Exact (17 significant digits); infinities as PostgreSQL spells them. */
mf__pg_num mf__pg_dbl(double v);

/* ---- store_pg_conn.c ------------------------------------------------------------- */

/** A failed result as an mf_err: SQLSTATE 53100 (disk full) MF_ENOSPC, 23505 (unique)
 *  MF_EBUSY, class 22 (bad data) MF_EINVAL, 53200 MF_ENOMEM, everything else MF_EIO. */
MF_MUST_CHECK mf_err mf__pg_result_err(const PGresult *res);

/**
 * Runs sql with n text parameters (NULL: SQL NULL).  MF_OK when it succeeded;
 * then *ret (when ret is not NULL) is its result, for the caller to PQclear.
 * On failure *ret is NULL.
 */
MF_MUST_CHECK mf_err mf__pg_exec(mf__pg_store *b, const char *sql, int n, const char *const *params,
                                 PGresult **ret);

/** The settings every session needs (numbers that round-trip, UTF-8), after each connect. */
MF_MUST_CHECK mf_err mf__pg_session_setup(mf__pg_store *b);

/** Makes sure the connection is up, resetting it with a short bounded back-off: MF_EIO
 *  when the server cannot be reached.  The mutex is held. */
MF_MUST_CHECK mf_err mf__pg_connected(mf__pg_store *b);

/**
 * Starts an operation: takes the mutex, reconnects when the connection is
 * down and opens a transaction (READ ONLY REPEATABLE READ when read_only: one
 * snapshot for every statement).  A connection found dead by the BEGIN itself
 * (the server restarted since the last call) is reset and the BEGIN tried
 * once more: nothing was done yet.  Whatever it returns, the operation ends
 * with mf__pg_end(b, err).
 */
MF_MUST_CHECK mf_err mf__pg_begin(mf__pg_store *b, bool read_only);

/** Ends an operation: COMMIT when err is MF_OK (its failure is returned), else ROLLBACK;
 *  releases the mutex. */
MF_MUST_CHECK mf_err mf__pg_end(mf__pg_store *b, mf_err err);

/* Reads row i of res into elem (elem_bytes of an array).  On failure it leaves nothing in
 * elem for the caller to free. */
typedef mf_err (*mf__pg_row_fn)(const PGresult *res, int i, void *elem);
/* Frees what a successful mf__pg_row_fn put in elem (not elem itself). */
typedef void (*mf__pg_row_done_fn)(void *elem);

/**
 * Every row of res read by read_row into a malloc'd array of elem_bytes elements
 * (store_sqlite's mf__sq_rows for PostgreSQL).  *ret is NULL when there are no rows.
 * On failure the rows read so far are undone with row_done (may be NULL) and freed,
 * and *ret and *ret_n are left alone.
 */
MF_MUST_CHECK mf_err mf__pg_rows(const PGresult *res, size_t elem_bytes, mf__pg_row_fn read_row,
                                 mf__pg_row_done_fn row_done, void **ret, size_t *ret_n);

/* Column readers for row i of res; they distrust the data (another writer, a hand edit). */
MF_MUST_CHECK mf_err mf__pg_col_fixed(const PGresult *res, int i, int col, char *buf, size_t cap);
MF_MUST_CHECK mf_err mf__pg_col_dup(const PGresult *res, int i, int col, char **ret);
MF_MUST_CHECK mf_err mf__pg_col_i64(const PGresult *res, int i, int col, int64_t *ret);
MF_MUST_CHECK mf_err mf__pg_col_dbl(const PGresult *res, int i, int col, double *ret);
MF_MUST_CHECK mf_err mf__pg_col_state(const PGresult *res, int i, int col, mf_job_state *ret);

/* ---- store_pg_jobs.c: steps the other operations share --------------------------- */

typedef struct mf__pg_job_head {
    mf_job_state state;
    uint64_t last_seq;
    double created_at;
    char lease_owner[MF_ID_MAX + 1]; /* the replica holding a running job's lease */
} mf__pg_job_head;

/** State, last seq and creation time of job id (MF_ENOTFOUND when none); lock: FOR UPDATE
 *  of its row until the transaction ends. */
MF_MUST_CHECK mf_err mf__pg_job_head_get(mf__pg_store *b, const char *id, bool lock,
                                         mf__pg_job_head *ret);
/** Row i of a MF__PG_JOB_COLS_* result into *ret (owned strings; nothing on failure). */
MF_MUST_CHECK mf_err mf__pg_read_job(const PGresult *res, int i, mf_job_rec *ret);
/** Every row of a MF__PG_JOB_COLS_* result as a malloc'd array (NULL when none). */
MF_MUST_CHECK mf_err mf__pg_read_jobs(const PGresult *res, mf_job_rec **ret, size_t *ret_n);
/** The job read inside the current transaction. */
MF_MUST_CHECK mf_err mf__pg_job_read(mf__pg_store *b, const char *id, mf_job_rec *ret);
/** Final state, payloads, finished_at and last_seq of a job. */
MF_MUST_CHECK mf_err mf__pg_set_final(mf__pg_store *b, const char *id, mf_job_state final,
                                      const char *result, const char *error, double now,
                                      uint64_t seq);
/** The seq of job id's next event while its log is open (row locked): MF_ENOTFOUND,
 *  MF_EBUSY (final; or running under another lease than me's, when me is not NULL),
 *  MF_ERANGE. */
MF_MUST_CHECK mf_err mf__pg_log_next_seq(mf__pg_store *b, const char *id, const char *me,
                                         uint64_t *ret);
/** Inserts one event row; the caller keeps jobs.last_seq in step in the same transaction. */
MF_MUST_CHECK mf_err mf__pg_put_event(mf__pg_store *b, const char *id, uint64_t seq,
                                      const char *name, const char *data);

/* ---- the operations: the store_impl.h contracts, b an mf__pg_store --------------- */

/* store_pg_jobs.c */
MF_MUST_CHECK mf_err mf__pg_job_insert(void *b, const mf_job_rec *r, const char *first_event_data);
MF_MUST_CHECK mf_err mf__pg_job_get(void *b, const char *id, mf_job_rec *ret);
MF_MUST_CHECK mf_err mf__pg_job_list(void *b, const mf_job_filter *f, mf_job_rec **ret,
                                     size_t *ret_n);
MF_MUST_CHECK mf_err mf__pg_jobs_queued(void *b, char (**ret)[MF_ID_MAX + 1], size_t *ret_n);
MF_MUST_CHECK mf_err mf__pg_job_claim(void *b, const char *id, double now, const char *me,
                                      double lease_until);
MF_MUST_CHECK mf_err mf__pg_job_claim_next(void *b, double now, const char *me, double lease_until,
                                           char ret_id[MF_ID_MAX + 1]);
MF_MUST_CHECK mf_err mf__pg_job_renew(void *b, const char *me, double lease_until,
                                      char (**ret)[MF_ID_MAX + 1], size_t *ret_n);
MF_MUST_CHECK mf_err mf__pg_job_progress(void *b, const char *id, const char *me, uint64_t done,
                                         uint64_t total);
MF_MUST_CHECK mf_err mf__pg_job_metrics(void *b, const char *id, const char *metrics);
MF_MUST_CHECK mf_err mf__pg_job_finish(void *b, const char *id, const char *me, mf_job_state final,
                                       const char *result, const char *error,
                                       const char *final_event_data, double now);

/* store_pg_watch.c */
MF_MUST_CHECK mf_err mf__pg_watch_start(void *b, mf_store_watch_fn fn, void *ctx);
MF_MUST_CHECK mf_err mf__pg_announce_model(void *b, const char *id);
/** Stops the watch thread, if any, and closes its connection (unwatch; close too). */
void mf__pg_watch_stop(void *b);

/* store_pg_maint.c */
MF_MUST_CHECK mf_err mf__pg_event_append(void *b, const char *id, const char *me, const char *name,
                                         const char *data, uint64_t *ret_seq);
MF_MUST_CHECK mf_err mf__pg_events_after(void *b, const char *id, uint64_t after, size_t max,
                                         mf_event_rec **ret, size_t *ret_n);
MF_MUST_CHECK mf_err mf__pg_recover(void *b, double expired_before, const char *mine,
                                    uint32_t max_attempts, mf_recover_event_fn event_data,
                                    void *ctx, const char *fail_error, double now,
                                    char (**ret_ids)[MF_ID_MAX + 1], size_t *ret_requeued,
                                    size_t *ret_failed);
MF_MUST_CHECK mf_err mf__pg_expire(void *b, double before, size_t *ret_n);
MF_MUST_CHECK mf_err mf__pg_count_states(void *b, const char *owner, uint64_t counts[5]);

/* store_pg_quota.c */
MF_MUST_CHECK mf_err mf__pg_quota_take(void *b, const char *key_name, double rate, double burst,
                                       double now, bool *ret_ok, double *ret_retry_s);
MF_MUST_CHECK mf_err mf__pg_quota_charge(void *b, const char *key_name, double flops, double limit,
                                         int64_t day, bool *ret_ok, double *ret_used);

#endif /* MF_STORE_PG_INT_H */
