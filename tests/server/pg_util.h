/* SPDX-License-Identifier: MIT */
/*
 * pg_util.h - raw PostgreSQL access for the job store's tests: wiping the
 * test database between tests, inspecting or forging rows behind the store's
 * back.  The database is the one tests/pg/with_pg.sh started
 * (MF_TEST_PG_URI); the store itself is opened with the same URI.
 */
#ifndef MF_TEST_PG_UTIL_H
#define MF_TEST_PG_UTIL_H

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

static inline void pg_quiet(void *arg, const char *message)
{
    (void) arg;
    (void) message;
}

static inline PGconn *pg_raw_open(const char *uri)
{
    PGconn *c = PQconnectdb(uri);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
    PQsetNoticeProcessor(c, pg_quiet, NULL);
    return c;
}

/* Runs sql (no parameters; several statements allowed), which must succeed. */
static inline void pg_raw_exec(const char *uri, const char *sql)
{
    PGconn *c = pg_raw_open(uri);
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql,
                  PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

/* First column of the first row of sql as an integer. */
static inline long long pg_raw_int(const char *uri, const char *sql)
{
    PGconn *c = pg_raw_open(uri);
    PGresult *r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) >= 1, "%s: %s", sql,
                  PQerrorMessage(c));
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return v;
}

/* An empty database: the next open creates the schema. */
static inline void pg_wipe(const char *uri)
{
    pg_raw_exec(uri, "DROP TABLE IF EXISTS events, jobs, manifold_meta, quota_rate, quota_compute");
}

#endif /* MF_TEST_PG_UTIL_H */
