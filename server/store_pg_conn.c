/* SPDX-License-Identifier: MIT */
/*
 * store_pg_conn.c - the pieces every operation of the PostgreSQL job store is
 * built from: SQLSTATEs as mf_err, a statement with text parameters, numbers
 * as parameter text, column readers, and the connection's life: the
 * begin/end frame of an operation, which reconnects a connection that died.
 *
 * Connection loss: a call that finds the connection down resets it (PQreset)
 * up to RESET_TRIES times with a short back-off and answers MF_EIO when the
 * server still cannot be reached; the next call tries again, so the store
 * heals by itself once the server is back (the scheduler's own back-off and
 * /readyz, through mf_store_ping, see MF_EIO meanwhile).  A connection that
 * dies in the middle of an operation fails that operation with MF_EIO: it is
 * never replayed, since a lost COMMIT may or may not have happened.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_pg_int.h"

#define RESET_TRIES 3

/* Milliseconds to wait before each reset try. */
static const long reset_delay_ms[RESET_TRIES] = {0, 100, 400};

/* ---- numbers as parameters ----------------------------------------------------- */

mf__pg_num mf__pg_i64(int64_t v)
{
    mf__pg_num n;
    snprintf(n.s, sizeof n.s, "%" PRId64, v);
    return n;
}

mf__pg_num mf__pg_u64(uint64_t v)
{
    return mf__pg_i64((int64_t) v);
}

mf__pg_num mf__pg_dbl(double v)
{
    mf__pg_num n;
    if (isinf(v)) {
        snprintf(n.s, sizeof n.s, "%s", v > 0 ? "Infinity" : "-Infinity");
    } else {
        snprintf(n.s, sizeof n.s, "%.17g", v);
    }
    return n;
}

/* ---- results ---------------------------------------------------------------------- */

mf_err mf__pg_result_err(const PGresult *res)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state == NULL) {
        return MF_EIO; /* no answer at all: the connection is gone */
    }
    if (strcmp(state, "53100") == 0) {
        return MF_ENOSPC; /* disk_full: heals when the server has space again */
    }
    if (strcmp(state, "53200") == 0) {
        return MF_ENOMEM;
    }
    if (strcmp(state, "23505") == 0) {
        return MF_EBUSY; /* unique_violation */
    }
    if (strncmp(state, "22", 2) == 0) {
        return MF_EINVAL; /* data exception: text that is not valid UTF-8, ... */
    }
    return MF_EIO;
}

mf_err mf__pg_exec(mf__pg_store *b, const char *sql, int n, const char *const *params,
                   PGresult **ret)
{
    if (ret != NULL) {
        *ret = NULL;
    }
    PGresult *res = PQexecParams(b->conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        mf_err err = PQstatus(b->conn) == CONNECTION_BAD ? MF_EIO : mf__pg_result_err(res);
        PQclear(res);
        return err;
    }
    if (ret != NULL) {
        *ret = res;
    } else {
        PQclear(res);
    }
    return MF_OK;
}

/* ---- the connection ----------------------------------------------------------------- */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

mf_err mf__pg_session_setup(mf__pg_store *b)
{
    /* 17 significant digits before PostgreSQL 12 (shortest exact after): times round-trip */
    PGresult *res = PQexec(b->conn, "SET extra_float_digits = 3; SET client_encoding = 'UTF8'");
    mf_err err = PQresultStatus(res) == PGRES_COMMAND_OK ? MF_OK : mf__pg_result_err(res);
    PQclear(res);
    return err;
}

mf_err mf__pg_connected(mf__pg_store *b)
{
    if (PQstatus(b->conn) == CONNECTION_OK) {
        return MF_OK;
    }
    for (int i = 0; i < RESET_TRIES; i++) {
        sleep_ms(reset_delay_ms[i]);
        PQreset(b->conn);
        if (PQstatus(b->conn) == CONNECTION_OK && mf__pg_session_setup(b) == MF_OK) {
            return MF_OK;
        }
    }
    return MF_EIO;
}

mf_err mf__pg_begin(mf__pg_store *b, bool read_only)
{
    const char *sql =
        read_only ? "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY" : "BEGIN READ WRITE";
    pthread_mutex_lock(&b->mu);
    mf_err err = mf__pg_connected(b);
    if (err == MF_OK && PQtransactionStatus(b->conn) != PQTRANS_IDLE) {
        PQclear(PQexec(b->conn, "ROLLBACK")); /* left open by a ROLLBACK that failed */
    }
    if (err == MF_OK) {
        err = mf__pg_exec(b, sql, 0, NULL, NULL);
    }
    if (err != MF_OK && PQstatus(b->conn) == CONNECTION_BAD) {
        /* an idle connection whose server went away is only found out now */
        err = mf__pg_connected(b);
        if (err == MF_OK) {
            err = mf__pg_exec(b, sql, 0, NULL, NULL);
        }
    }
    return err;
}

mf_err mf__pg_end(mf__pg_store *b, mf_err err)
{
    if (PQtransactionStatus(b->conn) != PQTRANS_IDLE && PQstatus(b->conn) == CONNECTION_OK) {
        if (err == MF_OK) {
            err = mf__pg_exec(b, "COMMIT", 0, NULL, NULL);
        }
        if (err != MF_OK) {
            /* failing too leaves the connection bad, or aborted: the next BEGIN says so */
            PQclear(PQexec(b->conn, "ROLLBACK"));
        }
    } else if (err == MF_OK) {
        err = MF_EIO; /* the transaction was lost with the connection */
    }
    pthread_mutex_unlock(&b->mu);
    return err;
}

/* ---- columns ---------------------------------------------------------------------- */

mf_err mf__pg_col_fixed(const PGresult *res, int i, int col, char *buf, size_t cap)
{
    if (PQgetisnull(res, i, col)) {
        return MF_EFORMAT;
    }
    size_t len = (size_t) PQgetlength(res, i, col);
    if (len >= cap) {
        return MF_EFORMAT;
    }
    memcpy(buf, PQgetvalue(res, i, col), len);
    buf[len] = '\0';
    return MF_OK;
}

mf_err mf__pg_col_dup(const PGresult *res, int i, int col, char **ret)
{
    if (PQgetisnull(res, i, col)) {
        *ret = NULL;
        return MF_OK;
    }
    size_t len = (size_t) PQgetlength(res, i, col);
    char *s = malloc(len + 1);
    if (s == NULL) {
        return MF_ENOMEM;
    }
    memcpy(s, PQgetvalue(res, i, col), len);
    s[len] = '\0';
    *ret = s;
    return MF_OK;
}

mf_err mf__pg_col_i64(const PGresult *res, int i, int col, int64_t *ret)
{
    if (PQgetisnull(res, i, col)) {
        return MF_EFORMAT;
    }
    const char *s = PQgetvalue(res, i, col);
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') {
        return MF_EFORMAT;
    }
    *ret = (int64_t) v;
    return MF_OK;
}

mf_err mf__pg_col_dbl(const PGresult *res, int i, int col, double *ret)
{
    if (PQgetisnull(res, i, col)) {
        return MF_EFORMAT;
    }
    const char *s = PQgetvalue(res, i, col);
    char *end = NULL;
    double v = strtod(s, &end); /* "Infinity" and "-Infinity" included */
    if (end == s || *end != '\0') {
        return MF_EFORMAT;
    }
    *ret = v;
    return MF_OK;
}

mf_err mf__pg_col_state(const PGresult *res, int i, int col, mf_job_state *ret)
{
    int64_t v = 0;
    mf_err err = mf__pg_col_i64(res, i, col, &v);
    if (err == MF_OK && (v < MF_JOB_QUEUED || v > MF_JOB_CANCELLED)) {
        err = MF_EFORMAT;
    }
    if (err == MF_OK) {
        *ret = (mf_job_state) v;
    }
    return err;
}

/* ---- rows ---------------------------------------------------------------------------- */

mf_err mf__pg_rows(const PGresult *res, size_t elem_bytes, mf__pg_row_fn read_row,
                   mf__pg_row_done_fn row_done, void **ret, size_t *ret_n)
{
    size_t n = (size_t) PQntuples(res);
    if (n == 0) {
        *ret = NULL;
        *ret_n = 0;
        return MF_OK;
    }
    char *rows = calloc(n, elem_bytes);
    if (rows == NULL) {
        return MF_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        mf_err err = read_row(res, (int) i, rows + i * elem_bytes);
        if (err != MF_OK) {
            for (size_t k = 0; row_done != NULL && k < i; k++) {
                row_done(rows + k * elem_bytes);
            }
            free(rows);
            return err;
        }
    }
    *ret = rows;
    *ret_n = n;
    return MF_OK;
}
