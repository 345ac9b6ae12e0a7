/* SPDX-License-Identifier: MIT */
/*
 * store_pg.c - the PostgreSQL backend of the job store (URIs
 * "postgres://..." and "postgresql://...", given whole to libpq, or
 * "postgres:KEYWORD=VALUE ..." in libpq's keyword form): connecting, giving a
 * database the schema or migrating it, closing, ping, probe, and the vtable
 * that store.c calls.  The operations live beside it (store_pg_int.h lists
 * the files).
 *
 * Passwords: libpq's own PGPASSWORD and PGPASSFILE (~/.pgpass) work as
 * usual; MANIFOLD_STORE_PASSWORD_FILE names a file whose first line is the
 * password (a mounted Secret).  A password in the URI works too but is best
 * avoided.  No message this backend makes quotes the URI: it names the
 * database by libpq's own database, host and port.
 *
 * Schema: the table manifold_meta holds schema_version.  open() creates or
 * migrates the schema in one transaction under a transaction-level advisory
 * lock, so replicas starting together do not race: the second waits for the
 * first and then finds the schema current.  A database whose schema version
 * is newer than this build's is MF_EFORMAT (an older replica during a rolling
 * upgrade refuses to start rather than write rows it does not understand); a
 * database with a "jobs" or "events" table but no manifold_meta is another
 * application's, also MF_EFORMAT, and is left untouched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_int.h"

#define SCHEMA_VERSION  3          /* manifold_meta.schema_version this build writes and reads */
#define LOCK_KEY        1296452676 /* pg_advisory_xact_lock key of schema changes: 'MFLD' */
#define CONNECT_TIMEOUT "5"        /* seconds; a URI's connect_timeout overrides it */
#define PASSWORD_MAX    1024

/*
 * steps[v] takes schema version v to v + 1; version 0 is an empty database.
 * Like the SQLite schema (store_sqlite.c) with PostgreSQL's types: ids sort
 * bytewise (COLLATE "C"), as SQLite sorts them, so listings page the same way.
 */
static const char *const steps[SCHEMA_VERSION] = {
    "CREATE TABLE manifold_meta (key text PRIMARY KEY, value bigint NOT NULL);"
    "INSERT INTO manifold_meta VALUES ('schema_version', 0);"
    "CREATE TABLE jobs ("
    " id text COLLATE \"C\" NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),"
    " type text NOT NULL CHECK (length(type) BETWEEN 1 AND 31),"
    " model text NOT NULL CHECK (length(model) <= 64),"
    " state smallint NOT NULL CHECK (state BETWEEN 0 AND 4),"
    " params text, result text, error text, metrics text,"
    " done bigint NOT NULL DEFAULT 0,"
    " total bigint NOT NULL DEFAULT 0,"
    " created_at double precision NOT NULL,"
    " started_at double precision NOT NULL DEFAULT 0,"
    " finished_at double precision NOT NULL DEFAULT 0,"
    " attempts bigint NOT NULL DEFAULT 0,"
    " last_seq bigint NOT NULL DEFAULT 0,"
    " owner text NOT NULL DEFAULT '' CHECK (length(owner) <= 64));"
    "CREATE INDEX jobs_by_created ON jobs (created_at, id);"
    "CREATE INDEX jobs_by_state ON jobs (state, created_at, id);"
    "CREATE INDEX jobs_by_owner ON jobs (owner, state);"
    "CREATE TABLE events ("
    " job_id text COLLATE \"C\" NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,"
    " seq bigint NOT NULL CHECK (seq >= 1),"
    " name text NOT NULL CHECK (length(name) BETWEEN 1 AND 15),"
    " data text NOT NULL,"
    " PRIMARY KEY (job_id, seq));",
    /* 1 -> 2: running jobs hold a lease; a running job of version 1 holds an expired one */
    "ALTER TABLE jobs ADD COLUMN lease_owner text NOT NULL DEFAULT '',"
    " ADD COLUMN lease_until double precision NOT NULL DEFAULT 0;"
    "CREATE INDEX jobs_by_lease ON jobs (state, lease_until);",
    /* 2 -> 3: the per-key limits every replica shares (store_pg_quota.c); one row per key,
     * the compute of its latest day only */
    "CREATE TABLE quota_rate ("
    " key_name text COLLATE \"C\" NOT NULL PRIMARY KEY CHECK (length(key_name) BETWEEN 1 AND 64),"
    " tokens double precision NOT NULL,"
    " updated double precision NOT NULL,"
    " granted boolean NOT NULL);"
    "CREATE TABLE quota_compute ("
    " key_name text COLLATE \"C\" NOT NULL PRIMARY KEY CHECK (length(key_name) BETWEEN 1 AND 64),"
    " day bigint NOT NULL,"
    " used double precision NOT NULL);",
};

/* ---- connecting ------------------------------------------------------------------ */

static void quiet_notices(void *arg, const char *message)
{
    (void) arg;
    (void) message; /* "relation exists, skipping" and the like: nothing for our log */
}

/* The first line of MANIFOLD_STORE_PASSWORD_FILE into pw (pw[0] = 0 when unset). */
static mf_err read_password_file(char *pw, size_t cap, mf_diag *diag)
{
    pw[0] = '\0';
    const char *path = getenv("MANIFOLD_STORE_PASSWORD_FILE");
    if (path == NULL || path[0] == '\0') {
        return MF_OK;
    }
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        return mf_diag_set(diag, MF_EIO, NULL,
                           "cannot read MANIFOLD_STORE_PASSWORD_FILE %s: cannot open it", path);
    }
    bool ok = fgets(pw, (int) cap, fp) != NULL;
    fclose(fp);
    if (!ok) {
        pw[0] = '\0';
        return mf_diag_set(diag, MF_EIO, NULL, "MANIFOLD_STORE_PASSWORD_FILE %s is empty", path);
    }
    pw[strcspn(pw, "\r\n")] = '\0';
    return MF_OK;
}

/* What libpq is given: a URI whole, or the keyword form after "postgres:". */
static const char *conninfo_of(const char *uri)
{
    if (strncmp(uri, "postgres://", 11) == 0 || strncmp(uri, "postgresql://", 13) == 0) {
        return uri;
    }
    return strchr(uri, ':') + 1; /* store.c matched "postgres:" or "postgresql:" */
}

static void describe(mf__pg_store *b)
{
    const char *db = PQdb(b->conn), *host = PQhost(b->conn), *port = PQport(b->conn);
    snprintf(b->where, sizeof b->where, "database \"%s\" on %s port %s", db ? db : "?",
             host && host[0] ? host : "localhost", port && port[0] ? port : "5432");
}

/* libpq's message without its trailing newline. */
static const char *conn_msg(const mf__pg_store *b, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", PQerrorMessage(b->conn));
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) {
        buf[--n] = '\0';
    }
    return buf;
}

/* ---- the schema ------------------------------------------------------------------ */

/* The schema version of the database in the current transaction: 0 when empty. */
static mf_err read_version(mf__pg_store *b, int64_t *ret, mf_diag *diag)
{
    PGresult *res = NULL;
    mf_err err =
        mf__pg_exec(b,
                    "SELECT to_regclass('manifold_meta') IS NOT NULL,"
                    " to_regclass('jobs') IS NOT NULL OR to_regclass('events') IS NOT NULL",
                    0, NULL, &res);
    if (err != MF_OK) {
        return mf_diag_set(diag, err, NULL, "cannot read the job store's schema in %s", b->where);
    }
    bool meta = PQgetvalue(res, 0, 0)[0] == 't', tables = PQgetvalue(res, 0, 1)[0] == 't';
    PQclear(res);
    if (!meta) {
        *ret = 0;
        return tables ? mf_diag_set(diag, MF_EFORMAT, NULL,
                                    "%s has tables named jobs or events but is not a Manifold "
                                    "job store",
                                    b->where)
                      : MF_OK;
    }
    err = mf__pg_exec(b, "SELECT value FROM manifold_meta WHERE key = 'schema_version'", 0, NULL,
                      &res);
    if (err == MF_OK && (PQntuples(res) != 1 || mf__pg_col_i64(res, 0, 0, ret) != MF_OK)) {
        err = MF_EFORMAT;
    }
    PQclear(res);
    if (err != MF_OK) {
        return mf_diag_set(diag, err, NULL, "the job store in %s has no valid schema version",
                           b->where);
    }
    return MF_OK;
}

/* Creates or migrates the schema, under the advisory lock, in one transaction. */
static mf_err ensure_schema(mf__pg_store *b, mf_diag *diag)
{
    mf_err err = mf__pg_begin(b, false);
    if (err == MF_OK) {
        mf__pg_num k = mf__pg_i64(LOCK_KEY);
        const char *key[] = {k.s};
        err = mf__pg_exec(b, "SELECT pg_advisory_xact_lock($1::bigint)", 1, key, NULL);
        if (err != MF_OK) {
            err =
                mf_diag_set(diag, err, NULL, "cannot lock the job store's schema in %s", b->where);
        }
    }
    int64_t version = 0;
    if (err == MF_OK) {
        err = read_version(b, &version, diag);
    }
    if (err == MF_OK && (version > SCHEMA_VERSION || version < 0)) {
        err = mf_diag_set(diag, MF_EFORMAT, NULL,
                          "the job store in %s has schema version %lld, newer than the %d this "
                          "build knows: use a newer Manifold",
                          b->where, (long long) version, SCHEMA_VERSION);
    }
    for (; err == MF_OK && version < SCHEMA_VERSION; version++) {
        PGresult *res = PQexec(b->conn, steps[version]);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            char msg[160];
            err = mf_diag_set(diag, mf__pg_result_err(res), NULL,
                              "cannot create the job store's schema in %s: %s", b->where,
                              conn_msg(b, msg, sizeof msg));
        }
        PQclear(res);
    }
    if (err == MF_OK) {
        mf__pg_num v = mf__pg_i64(SCHEMA_VERSION);
        const char *p[] = {v.s};
        err = mf__pg_exec(b,
                          "UPDATE manifold_meta SET value = $1::bigint"
                          " WHERE key = 'schema_version' AND value < $1::bigint",
                          1, p, NULL);
    }
    return mf__pg_end(b, err);
}

/* ---- open and close ---------------------------------------------------------------- */

static void pg_close(void *bp)
{
    mf__pg_store *b = bp;
    mf__pg_watch_stop(b);
    PQfinish(b->conn); /* accepts NULL */
    pthread_mutex_destroy(&b->mu);
    free(b);
}

static mf_err pg_open(const char *uri, void **ret, mf_diag *diag)
{
    mf__pg_store *b = calloc(1, sizeof *b);
    if (b == NULL) {
        return mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
    }
    if (pthread_mutex_init(&b->mu, NULL) != 0) {
        free(b);
        return mf_diag_set(diag, MF_ENOMEM, NULL, "cannot create a mutex");
    }
    char pw[PASSWORD_MAX];
    mf_err err = read_password_file(pw, sizeof pw, diag);
    if (err != MF_OK) {
        pthread_mutex_destroy(&b->mu);
        free(b);
        return err;
    }
    /* Ours first: what the URI says comes later and wins (expand_dbname). */
    const char *const keys[] = {"connect_timeout", "application_name", "password", "dbname", NULL};
    const char *const vals[] = {CONNECT_TIMEOUT, "manifoldd", pw, conninfo_of(uri), NULL};
    b->conn = PQconnectdbParams(keys, vals, 1);
    memset(pw, 0, sizeof pw);
    if (b->conn == NULL) {
        pg_close(b);
        return mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
    }
    PQsetNoticeProcessor(b->conn, quiet_notices, NULL);
    describe(b);
    char msg[160];
    if (PQstatus(b->conn) != CONNECTION_OK) {
        err = mf_diag_set(diag, MF_EIO, NULL, "cannot connect to the job store, %s: %s", b->where,
                          conn_msg(b, msg, sizeof msg));
    }
    if (err == MF_OK && mf__pg_session_setup(b) != MF_OK) {
        err = mf_diag_set(diag, MF_EIO, NULL, "cannot set up the session with %s: %s", b->where,
                          conn_msg(b, msg, sizeof msg));
    }
    if (err == MF_OK) {
        err = ensure_schema(b, diag);
    }
    if (err != MF_OK) {
        pg_close(b);
        return err;
    }
    *ret = b;
    return MF_OK;
}

/* ---- ping, probe and the vtable ---------------------------------------------------- */

static mf_err pg_ping(void *bp)
{
    mf__pg_store *b = bp;
    mf_err err = mf__pg_begin(b, true);
    if (err == MF_OK) {
        err = mf__pg_exec(b, "SELECT 1", 0, NULL, NULL);
    }
    return mf__pg_end(b, err);
}

/* The smallest write: the schema version written again as it is. */
static mf_err pg_probe(void *bp)
{
    mf__pg_store *b = bp;
    mf_err err = mf__pg_begin(b, false);
    if (err == MF_OK) {
        err = mf__pg_exec(b, "UPDATE manifold_meta SET value = value WHERE key = 'schema_version'",
                          0, NULL, NULL);
    }
    return mf__pg_end(b, err);
}

const mf_store_vtable mf_store_pg_vtable = {
    .scheme = "postgres",
    .alias = "postgresql",
    .whole_uri = true,
    .shared = true,
    .open = pg_open,
    .close = pg_close,
    .ping = pg_ping,
    .probe = pg_probe,
    .job_insert = mf__pg_job_insert,
    .job_get = mf__pg_job_get,
    .job_list = mf__pg_job_list,
    .jobs_queued = mf__pg_jobs_queued,
    .job_claim = mf__pg_job_claim,
    .job_claim_next = mf__pg_job_claim_next,
    .job_renew = mf__pg_job_renew,
    .job_progress = mf__pg_job_progress,
    .job_metrics = mf__pg_job_metrics,
    .job_finish = mf__pg_job_finish,
    .event_append = mf__pg_event_append,
    .events_after = mf__pg_events_after,
    .recover = mf__pg_recover,
    .expire = mf__pg_expire,
    .count_states = mf__pg_count_states,
    .watch = mf__pg_watch_start,
    .unwatch = mf__pg_watch_stop,
    .announce_model = mf__pg_announce_model,
    .quota_take = mf__pg_quota_take,
    .quota_charge = mf__pg_quota_charge,
};
