/* SPDX-License-Identifier: MIT */
/*
 * store_sqlite.c - the SQLite backend of the job store (URI "sqlite:PATH"):
 * opening a store file (telling ours from a foreign one, configuring it,
 * giving a new one the schema), closing it, ping, and the vtable that
 * store.c calls.  The operations live beside it (store_sqlite_int.h lists
 * the files).
 *
 * One connection per store, guarded by our own mutex held for the whole of
 * each call: SQLite's FULLMUTEX serialises single API calls, not the several
 * statements of a transaction, and a prepared statement is one cursor that
 * two threads must never step at once.  Several stores (several processes,
 * or replicas sharing a file) coordinate through SQLite's file locks: every
 * write is either one autocommit statement or a BEGIN IMMEDIATE transaction,
 * which takes the write lock up front, so a writer never holds a stale WAL
 * snapshot (SQLITE_BUSY_SNAPSHOT) and the busy timeout covers every wait.
 *
 * Files: WAL with synchronous=NORMAL (a committed transaction survives a
 * process crash; an OS crash may lose the last ones, never corrupt the file),
 * foreign keys on.  A store file is marked by PRAGMA application_id 'MFLD'
 * and versioned by PRAGMA user_version; both live in the database header,
 * are written in the transaction that creates the schema and are checked
 * before anything is written, so a foreign database is refused untouched
 * (not even switched to WAL).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_int.h"

#define APP_ID         1296452676 /* PRAGMA application_id of a job store: 'MFLD' */
#define SCHEMA_VERSION 3          /* PRAGMA user_version this build writes and reads */
#define BUSY_MS        5000       /* wait this long for another process's lock */

_Static_assert(APP_ID == 0x4D464C44, "APP_ID spells MFLD");

#define STR_(x) #x
#define STR(x)  STR_(x)

/*
 * Schema version 3 (version 1 had no owner, version 2 no lease; the migrations add them).  Lengths
 * are checked again on every read (a file may have been edited by hand); the CHECKs keep other
 * writers honest.  events has a rowid although (job_id, seq) is its key: sample events are large,
 * and WITHOUT ROWID tables want small rows.
 */
static const char schema_sql[] =
    "CREATE TABLE jobs ("
    " id TEXT NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),"
    " type TEXT NOT NULL CHECK (length(type) BETWEEN 1 AND 31),"
    " model TEXT NOT NULL CHECK (length(model) <= 64),"
    " state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 4),"
    " params TEXT, result TEXT, error TEXT, metrics TEXT,"
    " done INTEGER NOT NULL DEFAULT 0,"
    " total INTEGER NOT NULL DEFAULT 0,"
    " created_at REAL NOT NULL,"
    " started_at REAL NOT NULL DEFAULT 0,"
    " finished_at REAL NOT NULL DEFAULT 0,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " last_seq INTEGER NOT NULL DEFAULT 0,"
    " owner TEXT NOT NULL DEFAULT '' CHECK (length(owner) <= 64),"
    " lease_owner TEXT NOT NULL DEFAULT '',"
    " lease_until REAL NOT NULL DEFAULT 0);"
    /* listing, newest first, and its paging cursor */
    "CREATE INDEX jobs_by_created ON jobs (created_at, id);"
    /* queued ids in order, running jobs at recovery, counts per state */
    "CREATE INDEX jobs_by_state ON jobs (state, created_at, id);"
    /* a key's jobs by state (its limit on concurrent jobs) */
    "CREATE INDEX jobs_by_owner ON jobs (owner, state);"
    /* running jobs whose lease expired (mf_store_reclaim_expired) */
    "CREATE INDEX jobs_by_lease ON jobs (state, lease_until);"
    "CREATE TABLE events ("
    " job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL CHECK (seq >= 1),"
    " name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 15),"
    " data TEXT NOT NULL,"
    " PRIMARY KEY (job_id, seq));"
    /* the marks identify() reads, in the same transaction as the tables */
    "PRAGMA application_id = " STR(APP_ID) "; PRAGMA user_version = " STR(SCHEMA_VERSION) ";";

/* The SQL of every statement (store_sqlite_int.h), indexed by mf__sq_stmt. */
static const char *const stmt_sql[MF__SQ_N_STMTS] = {
#define STMT_SQL(name, sql) [MF__SQ_##name] = sql,
    MF__SQ_STMT_MAP(STMT_SQL)
#undef STMT_SQL
};

/* ---- open and close ------------------------------------------------------------ */

/* strerror for diag messages; strerror_r (XSI form) because stores open on any thread. */
typedef struct errno_text {
    char s[96];
} errno_text;

static errno_text errno_str(int e)
{
    errno_text t;
    if (e == 0 || strerror_r(e, t.s, sizeof t.s) != 0) {
        snprintf(t.s, sizeof t.s, "errno %d", e);
    }
    return t;
}

/* An SQLite failure while opening path, as an mf_err with its diag. */
static mf_err open_fail(sqlite3 *db, int rc, const char *path, mf_diag *diag)
{
    const char *msg = db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_NOMEM:
        return mf_diag_set(diag, MF_ENOMEM, path, "out of memory opening %s", path);
    case SQLITE_FULL:
        return mf_diag_set(diag, MF_ENOSPC, path, "cannot write the job store %s: %s", path, msg);
    case SQLITE_NOTADB:
        return mf_diag_set(diag, MF_EFORMAT, path, "%s is not an SQLite database", path);
    case SQLITE_CORRUPT:
        return mf_diag_set(diag, MF_EFORMAT, path, "%s is a damaged SQLite database: %s", path,
                           msg);
    default: {
        int e = db != NULL ? sqlite3_system_errno(db) : 0;
        if (e != 0) {
            return mf_diag_set(diag, MF_EIO, path, "cannot open the job store %s: %s (%s)", path,
                               msg, errno_str(e).s);
        }
        return mf_diag_set(diag, MF_EIO, path, "cannot open the job store %s: %s", path, msg);
    }
    }
}

/* One integer from a constant single-row query (pragmas, counts). */
static int query_int(sqlite3 *db, const char *sql, sqlite3_int64 *ret)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *ret = sqlite3_column_int64(st, 0);
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            rc = SQLITE_ERROR; /* these queries always answer one row */
        }
    }
    sqlite3_finalize(st);
    return rc;
}

typedef enum file_kind {
    FILE_EMPTY, /* a new file (or ":memory:"): gets the schema */
    FILE_OLD,   /* a job store of an older schema version: migrated */
    FILE_OURS,  /* a job store of SCHEMA_VERSION */
} file_kind;

/* From each older version to the next; [v] upgrades version v + 1 to v + 2. */
static const char *const migrations[SCHEMA_VERSION - 1] = {
    /* 1 -> 2: jobs belong to the API key that submitted them; older ones to none */
    "ALTER TABLE jobs ADD COLUMN owner TEXT NOT NULL DEFAULT '' CHECK (length(owner) <= 64);"
    "CREATE INDEX jobs_by_owner ON jobs (owner, state);"
    "PRAGMA user_version = 2;",
    /* 2 -> 3: running jobs hold a lease; a running job of version 2 holds an expired one */
    "ALTER TABLE jobs ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE jobs ADD COLUMN lease_until REAL NOT NULL DEFAULT 0;"
    "CREATE INDEX jobs_by_lease ON jobs (state, lease_until);"
    "PRAGMA user_version = 3;",
};

/* What the database is, read from its header only: nothing is written here. */
static mf_err identify(sqlite3 *db, const char *path, file_kind *ret, mf_diag *diag)
{
    sqlite3_int64 app_id = 0, version = 0, n_objects = 0;
    int rc = query_int(db, "PRAGMA application_id", &app_id);
    if (rc == SQLITE_OK) {
        rc = query_int(db, "PRAGMA user_version", &version);
    }
    if (rc == SQLITE_OK) {
        rc = query_int(db, "SELECT count(*) FROM sqlite_master", &n_objects);
    }
    if (rc != SQLITE_OK) {
        return open_fail(db, rc, path, diag);
    }
    if (app_id == 0 && version == 0 && n_objects == 0) {
        *ret = FILE_EMPTY;
        return MF_OK;
    }
    if (app_id != APP_ID) {
        return mf_diag_set(diag, MF_EFORMAT, path,
                           "%s is an SQLite database but not a Manifold job store", path);
    }
    if (version > SCHEMA_VERSION) {
        return mf_diag_set(diag, MF_EFORMAT, path,
                           "job store %s has schema version %lld, newer than the %d this "
                           "build knows: use a newer Manifold",
                           path, (long long) version, SCHEMA_VERSION);
    }
    if (version < 1) {
        return mf_diag_set(diag, MF_EFORMAT, path,
                           "job store %s has no valid schema version (%lld)", path,
                           (long long) version);
    }
    *ret = version < SCHEMA_VERSION ? FILE_OLD : FILE_OURS;
    return MF_OK;
}

static mf_err configure(sqlite3 *db, const char *path, mf_diag *diag)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return open_fail(db, rc, path, diag);
    }
    /* "memory" for ":memory:", which has no WAL and needs none. */
    const unsigned char *mode = sqlite3_column_text(st, 0);
    bool ok = mode != NULL && (strcmp((const char *) mode, "wal") == 0 ||
                               strcmp((const char *) mode, "memory") == 0);
    mf_err err = ok ? MF_OK
                    : mf_diag_set(diag, MF_EIO, path,
                                  "cannot put the job store %s in WAL mode (journal mode is %s)",
                                  path, mode != NULL ? (const char *) mode : "unknown");
    sqlite3_finalize(st);
    if (err != MF_OK) {
        return err;
    }
    rc = sqlite3_exec(db, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;", NULL, NULL,
                      NULL);
    return rc == SQLITE_OK ? MF_OK : open_fail(db, rc, path, diag);
}

/* Gives an empty database the schema, or an older one the migrations it
 * lacks.  Another process may be doing the same right now: the check is
 * repeated under the write lock. */
static mf_err create_schema(sqlite3 *db, const char *path, mf_diag *diag)
{
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        return open_fail(db, rc, path, diag);
    }
    file_kind kind;
    mf_err err = identify(db, path, &kind, diag);
    if (err == MF_OK && kind == FILE_EMPTY) {
        rc = sqlite3_exec(db, schema_sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            err = open_fail(db, rc, path, diag);
        }
    }
    sqlite3_int64 version = SCHEMA_VERSION;
    if (err == MF_OK && kind == FILE_OLD) {
        rc = query_int(db, "PRAGMA user_version", &version);
        err = rc == SQLITE_OK ? MF_OK : open_fail(db, rc, path, diag);
    }
    for (; err == MF_OK && version < SCHEMA_VERSION; version++) {
        rc = sqlite3_exec(db, migrations[version - 1], NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            err = open_fail(db, rc, path, diag);
        }
    }
    if (err == MF_OK) {
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            err = open_fail(db, rc, path, diag);
        }
    }
    if (err != MF_OK && !sqlite3_get_autocommit(db)) {
        (void) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    return err;
}

static mf_err prepare_all(mf__sq_store *b, const char *path, mf_diag *diag)
{
    for (int i = 0; i < MF__SQ_N_STMTS; i++) {
        int rc =
            sqlite3_prepare_v3(b->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &b->st[i], NULL);
        if (rc == SQLITE_NOMEM) {
            return mf_diag_set(diag, MF_ENOMEM, path, "out of memory opening %s", path);
        }
        if (rc != SQLITE_OK) {
            /* Marked as ours but missing a table or column: edited by hand. */
            return mf_diag_set(diag, MF_EFORMAT, path, "job store %s is damaged: %s", path,
                               sqlite3_errmsg(b->db));
        }
    }
    return MF_OK;
}

static void sq_close(void *bp)
{
    mf__sq_store *b = bp;
    for (int i = 0; i < MF__SQ_N_STMTS; i++) {
        sqlite3_finalize(b->st[i]); /* accepts NULL */
    }
    /* Every statement is finalized, so this closes now (and checkpoints the WAL). */
    sqlite3_close_v2(b->db);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

static mf_err sq_open(const char *path, void **ret, mf_diag *diag)
{
    if (sqlite3_threadsafe() == 0) {
        return mf_diag_set(diag, MF_EINTERNAL, NULL, "libsqlite3 is built without threads");
    }
    mf__sq_store *b = calloc(1, sizeof *b);
    if (b == NULL) {
        return mf_diag_set(diag, MF_ENOMEM, path, "out of memory");
    }
    if (pthread_mutex_init(&b->mu, NULL) != 0) {
        free(b);
        return mf_diag_set(diag, MF_ENOMEM, path, "cannot create a mutex");
    }
    mf_err err = MF_OK;
    int rc = sqlite3_open_v2(
        path, &b->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc != SQLITE_OK) {
        err = open_fail(b->db, rc, path, diag);
        goto fail;
    }
    sqlite3_extended_result_codes(b->db, 1);
    rc = sqlite3_busy_timeout(b->db, BUSY_MS);
    if (rc != SQLITE_OK) {
        err = open_fail(b->db, rc, path, diag);
        goto fail;
    }
    /* SQLite falls back to read-only when the file is not writable; a store must write. */
    if (sqlite3_db_readonly(b->db, "main") == 1) {
        err = mf_diag_set(diag, MF_EIO, path, "job store %s is not writable", path);
        goto fail;
    }
    file_kind kind;
    err = identify(b->db, path, &kind, diag);
    if (err != MF_OK) {
        goto fail;
    }
    err = configure(b->db, path, diag);
    if (err == MF_OK && kind != FILE_OURS) {
        err = create_schema(b->db, path, diag);
    }
    if (err == MF_OK) {
        err = prepare_all(b, path, diag);
    }
    if (err != MF_OK) {
        goto fail;
    }
    *ret = b;
    return MF_OK;
fail:
    sq_close(b);
    return err;
}

/* ---- ping, probe and the vtable ------------------------------------------------------------ */

static mf_err sq_ping(void *bp)
{
    mf__sq_store *b = bp;
    mf__sq_lock(b);
    sqlite3_stmt *st = b->st[MF__SQ_PING];
    bool row = false;
    mf_err err = mf__sq_query(st, SQLITE_OK, &row);
    if (err == MF_OK && (!row || sqlite3_column_int(st, 0) != 1)) {
        err = MF_EIO;
    }
    mf__sq_reset(st);
    mf__sq_unlock(b);
    return err;
}

/*
 * The smallest write that still needs space on the disk: the schema version
 * written again as it is.  SQLite rewrites page 1 for it, one WAL frame, so
 * it fails while the disk is full and succeeds once a page is free.
 */
static mf_err sq_probe(void *bp)
{
    mf__sq_store *b = bp;
    mf__sq_lock(b);
    int rc = sqlite3_exec(b->db, "PRAGMA user_version = " STR(SCHEMA_VERSION), NULL, NULL, NULL);
    mf_err err = mf__sq_db_err(b->db, rc);
    mf__sq_unlock(b);
    return err;
}

const mf_store_vtable mf_store_sqlite_vtable = {
    .scheme = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .ping = sq_ping,
    .probe = sq_probe,
    .job_insert = mf__sq_job_insert,
    .job_get = mf__sq_job_get,
    .job_list = mf__sq_job_list,
    .jobs_queued = mf__sq_jobs_queued,
    .job_claim = mf__sq_job_claim,
    .job_claim_next = mf__sq_job_claim_next,
    .job_renew = mf__sq_job_renew,
    .job_progress = mf__sq_job_progress,
    .job_metrics = mf__sq_job_metrics,
    .job_finish = mf__sq_job_finish,
    .event_append = mf__sq_event_append,
    .events_after = mf__sq_events_after,
    .recover = mf__sq_recover,
    .expire = mf__sq_expire,
    .count_states = mf__sq_count_states,
};
