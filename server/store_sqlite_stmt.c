/* SPDX-License-Identifier: MIT */
/*
 * store_sqlite_stmt.c - the pieces every operation of the SQLite job store is
 * built from: SQLite result codes as mf_err, parameter binders, stepping,
 * reading all the rows of a query, column readers that distrust the file, and
 * the begin/end pair that frames a transaction (store_sqlite_int.h shows the
 * frame).
 *
 * Integers: uint64 fields are stored as their int64 bit pattern (SQLite
 * integers are signed), so every value round-trips; only seq is compared in
 * SQL, and it stays far below 2^63.
 *
 * Columns are checked on every read (a file may have been edited by hand): a
 * NULL or over-long fixed field, a state out of range, is MF_EFORMAT.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_int.h"

/* ---- result codes ------------------------------------------------------------ */

mf_err mf__sq_err(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return MF_OK;
    case SQLITE_NOMEM:
        return MF_ENOMEM;
    case SQLITE_FULL:
        return MF_ENOSPC; /* the disk (or the quota) is full: it heals when space is freed */
    case SQLITE_TOOBIG:
        return MF_EINVAL; /* a payload over SQLite's length limit (1e9 bytes) */
    case SQLITE_MISUSE:
    case SQLITE_RANGE:
    case SQLITE_CONSTRAINT:
        return MF_EINTERNAL; /* store.c's checks and our invariants should prevent these */
    default:
        return MF_EIO; /* IOERR, BUSY past the timeout, CORRUPT, READONLY, ... */
    }
}

/*
 * SQLite says FULL only when a write() ran out of space; an fsync, a
 * truncate or the growth of the WAL index that did says IOERR, with ENOSPC as
 * the connection's system errno: a full disk too.
 */
static int full_if_no_space(sqlite3 *db, int rc)
{
    if ((rc & 0xff) == SQLITE_IOERR) {
        int e = sqlite3_system_errno(db);
        if (e == ENOSPC || e == EDQUOT) {
            return SQLITE_FULL;
        }
    }
    return rc;
}

mf_err mf__sq_db_err(sqlite3 *db, int rc)
{
    return mf__sq_err(full_if_no_space(db, rc));
}

/* ---- statement helpers --------------------------------------------------------- */

void mf__sq_bind_text(sqlite3_stmt *st, int i, const char *s, int *rc)
{
    if (*rc == SQLITE_OK) {
        /* STATIC: every statement is reset before the caller's strings go away. */
        *rc = sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    }
}

void mf__sq_bind_i64(sqlite3_stmt *st, int i, int64_t v, int *rc)
{
    if (*rc == SQLITE_OK) {
        *rc = sqlite3_bind_int64(st, i, v);
    }
}

void mf__sq_bind_u64(sqlite3_stmt *st, int i, uint64_t v, int *rc)
{
    mf__sq_bind_i64(st, i, (int64_t) v, rc); /* the bit pattern: see the top */
}

void mf__sq_bind_double(sqlite3_stmt *st, int i, double v, int *rc)
{
    if (*rc == SQLITE_OK) {
        *rc = sqlite3_bind_double(st, i, v);
    }
}

void mf__sq_reset(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

int mf__sq_exec(sqlite3_stmt *st, int bind_rc)
{
    int rc = bind_rc == SQLITE_OK ? sqlite3_step(st) : bind_rc;
    rc = full_if_no_space(sqlite3_db_handle(st), rc);
    mf__sq_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

mf_err mf__sq_run(sqlite3_stmt *st, int bind_rc)
{
    return mf__sq_err(mf__sq_exec(st, bind_rc));
}

mf_err mf__sq_step(sqlite3_stmt *st, bool *ret_row)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        *ret_row = rc == SQLITE_ROW;
        return MF_OK;
    }
    return mf__sq_db_err(sqlite3_db_handle(st), rc);
}

mf_err mf__sq_query(sqlite3_stmt *st, int bind_rc, bool *ret_row)
{
    return bind_rc == SQLITE_OK ? mf__sq_step(st, ret_row) : mf__sq_err(bind_rc);
}

/* arr (of *cap elements of size elem) grown to hold at least n + 1, doubling from 16:
 * the new array, or NULL on failure with arr untouched and still the caller's. */
static void *grow(void *arr, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap) {
        return arr;
    }
    size_t want = *cap == 0 ? 16 : *cap * 2;
    size_t bytes;
    if (want < *cap || mf_size_mul(want, elem, &bytes) != MF_OK) {
        return NULL;
    }
    void *p = realloc(arr, bytes);
    if (p != NULL) {
        *cap = want;
    }
    return p;
}

mf_err mf__sq_rows(sqlite3_stmt *st, int bind_rc, size_t elem_bytes, mf__sq_row_fn read_row,
                   mf__sq_row_done_fn row_done, void **ret, size_t *ret_n)
{
    unsigned char *arr = NULL; /* n * elem_bytes cannot overflow: grow() checked cap's */
    size_t n = 0, cap = 0;
    bool row = false;
    mf_err err = mf__sq_query(st, bind_rc, &row);
    while (err == MF_OK && row) {
        void *grown = grow(arr, n, &cap, elem_bytes);
        err = grown != NULL ? MF_OK : MF_ENOMEM;
        if (err == MF_OK) {
            arr = grown;
            err = read_row(st, arr + n * elem_bytes);
        }
        if (err == MF_OK) {
            n++;
            err = mf__sq_step(st, &row);
        }
    }
    mf__sq_reset(st);
    if (err != MF_OK) {
        for (size_t i = 0; i < n && row_done != NULL; i++) {
            row_done(arr + i * elem_bytes);
        }
        free(arr);
        return err;
    }
    *ret = arr; /* NULL when there was no row: grow() never ran */
    *ret_n = n;
    return MF_OK;
}

/* ---- column readers ------------------------------------------------------------ */

/* Text of column i (not SQL NULL): "" for an empty value, NULL only when out of memory. */
static const char *col_text(sqlite3_stmt *st, int i, size_t *ret_len)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    *ret_len = (size_t) sqlite3_column_bytes(st, i);
    if (t == NULL && sqlite3_errcode(sqlite3_db_handle(st)) != SQLITE_NOMEM) {
        /* SQLite may answer NULL for a zero-length value */
        *ret_len = 0;
        return "";
    }
    return (const char *) t;
}

mf_err mf__sq_col_fixed(sqlite3_stmt *st, int i, char *buf, size_t cap)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) {
        return MF_EFORMAT;
    }
    size_t n;
    const char *t = col_text(st, i, &n);
    if (t == NULL) {
        return MF_ENOMEM;
    }
    if (n >= cap || memchr(t, '\0', n) != NULL) {
        return MF_EFORMAT;
    }
    memcpy(buf, t, n);
    buf[n] = '\0';
    return MF_OK;
}

mf_err mf__sq_col_dup(sqlite3_stmt *st, int i, char **ret)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) {
        *ret = NULL;
        return MF_OK;
    }
    size_t n;
    const char *t = col_text(st, i, &n);
    if (t == NULL) {
        return MF_ENOMEM;
    }
    char *s = malloc(n + 1);
    if (s == NULL) {
        return MF_ENOMEM;
    }
    memcpy(s, t, n);
    s[n] = '\0';
    *ret = s;
    return MF_OK;
}

mf_err mf__sq_col_state(sqlite3_stmt *st, int i, mf_job_state *ret)
{
    sqlite3_int64 v = sqlite3_column_int64(st, i);
    if (v < MF_JOB_QUEUED || v > MF_JOB_CANCELLED) {
        return MF_EFORMAT;
    }
    *ret = (mf_job_state) v;
    return MF_OK;
}

/* ---- locking and transactions ------------------------------------------------------ */

void mf__sq_lock(mf__sq_store *b)
{
    (void) pthread_mutex_lock(&b->mu);
}

void mf__sq_unlock(mf__sq_store *b)
{
    (void) pthread_mutex_unlock(&b->mu);
}

mf_err mf__sq_begin(mf__sq_store *b, bool write)
{
    mf__sq_lock(b);
    return mf__sq_run(b->st[write ? MF__SQ_BEGIN_WRITE : MF__SQ_BEGIN_READ], SQLITE_OK);
}

mf_err mf__sq_end(mf__sq_store *b, mf_err err)
{
    if (err == MF_OK) {
        err = mf__sq_run(b->st[MF__SQ_COMMIT], SQLITE_OK);
    }
    /* A failed call rolls back when a transaction is still open.  SQLite may already
     * have rolled back by itself (IOERR, FULL, NOMEM, a failed BEGIN); then there is none. */
    if (err != MF_OK && !sqlite3_get_autocommit(b->db)) {
        (void) mf__sq_exec(b->st[MF__SQ_ROLLBACK], SQLITE_OK);
    }
    mf__sq_unlock(b);
    return err;
}
