/* SPDX-License-Identifier: MIT */
/*
 * store_sqlite.c - the SQLite backend of the job store (URI "sqlite:PATH").
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
 *
 * Sequence numbers: jobs.last_seq is the seq of the job's last event; an
 * append reads it, writes last_seq + 1 and inserts the event in one
 * transaction, so seqs are 1, 2, 3, ... without gaps under any concurrency.
 * (job_id, seq) is the events' primary key: a bug could not create a
 * duplicate silently.
 *
 * Listings carry the error payload (a short {"code","message"}) besides the
 * fixed fields, so a list of failed jobs can say why without a get per job;
 * params, result and metrics stay NULL.  A `before` cursor naming a job that
 * does not exist (or no longer does) is MF_ENOTFOUND rather than an empty
 * page, so a client cannot mistake an expired cursor for the end of the list.
 *
 * Integers: uint64 fields are stored as their int64 bit pattern (SQLite
 * integers are signed), so every value round-trips; only seq is compared in
 * SQL, and it stays far below 2^63.
 */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

#define APP_ID         1296452676 /* PRAGMA application_id of a job store: 'MFLD' */
#define SCHEMA_VERSION 1          /* PRAGMA user_version this build writes and reads */
#define BUSY_MS        5000       /* wait this long for another process's lock */

_Static_assert(APP_ID == 0x4D464C44, "APP_ID spells MFLD");

#define STR_(x) #x
#define STR(x)  STR_(x)

/*
 * Schema version 1.  Lengths are checked again on every read (a file may have
 * been edited by hand); the CHECKs keep other writers honest.  events has a
 * rowid although (job_id, seq) is its key: sample events are large, and
 * WITHOUT ROWID tables want small rows.
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
    " last_seq INTEGER NOT NULL DEFAULT 0);"
    /* listing, newest first, and its paging cursor */
    "CREATE INDEX jobs_by_created ON jobs (created_at, id);"
    /* queued ids in order, running jobs at recovery, counts per state */
    "CREATE INDEX jobs_by_state ON jobs (state, created_at, id);"
    "CREATE TABLE events ("
    " job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL CHECK (seq >= 1),"
    " name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 15),"
    " data TEXT NOT NULL,"
    " PRIMARY KEY (job_id, seq));"
    /* the marks identify() reads, in the same transaction as the tables */
    "PRAGMA application_id = " STR(APP_ID) "; PRAGMA user_version = " STR(SCHEMA_VERSION) ";";

/* The columns read_job() expects, in order; listings put NULL for the big payloads. */
#define JOB_COLS_FULL                                                                   \
    "id, type, model, state, params, result, error, metrics, done, total, created_at, " \
    "started_at, finished_at, attempts, last_seq"
#define JOB_COLS_LIST                                                            \
    "id, type, model, state, NULL, NULL, error, NULL, done, total, created_at, " \
    "started_at, finished_at, attempts, last_seq"
#define LIST_FILTER \
    "(?1 < 0 OR state = ?1) AND (?2 IS NULL OR model = ?2) AND (?3 IS NULL OR type = ?3)"

/* Every statement, prepared once at open.  Parameters are always bound, never formatted. */
#define STMT_MAP(XX)                                                                              \
    XX(BEGIN_READ, "BEGIN")                                                                       \
    XX(BEGIN_WRITE, "BEGIN IMMEDIATE")                                                            \
    XX(COMMIT, "COMMIT")                                                                          \
    XX(ROLLBACK, "ROLLBACK")                                                                      \
    XX(PING, "SELECT 1")                                                                          \
    XX(JOB_INSERT, "INSERT INTO jobs (id, type, model, state, params, created_at, last_seq)"      \
                   " VALUES (?1, ?2, ?3, 0, ?4, ?5, 1)")                                          \
    XX(JOB_GET, "SELECT " JOB_COLS_FULL " FROM jobs WHERE id = ?1")                               \
    XX(JOB_STATE, "SELECT state, last_seq, created_at FROM jobs WHERE id = ?1")                   \
    XX(JOB_LIST, "SELECT " JOB_COLS_LIST " FROM jobs WHERE " LIST_FILTER                          \
                 " ORDER BY created_at DESC, id DESC LIMIT ?6")                                   \
    /* a row-value bound lets the planner range-scan jobs_by_created for deep pages */            \
    XX(JOB_LIST_BEFORE,                                                                           \
       "SELECT " JOB_COLS_LIST " FROM jobs WHERE " LIST_FILTER " AND (created_at, id) < (?4, ?5)" \
       " ORDER BY created_at DESC, id DESC LIMIT ?6")                                             \
    XX(JOBS_QUEUED, "SELECT id FROM jobs WHERE state = 0 ORDER BY created_at, id")                \
    XX(JOB_CLAIM, "UPDATE jobs SET state = 1, started_at = ?2, attempts = attempts + 1"           \
                  " WHERE id = ?1 AND state = 0")                                                 \
    XX(JOB_PROGRESS, "UPDATE jobs SET done = ?2, total = ?3 WHERE id = ?1 AND state = 1")         \
    XX(JOB_METRICS, "UPDATE jobs SET metrics = ?2 WHERE id = ?1")                                 \
    XX(JOB_FINISH, "UPDATE jobs SET state = ?2, result = ?3, error = ?4, finished_at = ?5,"       \
                   " last_seq = ?6 WHERE id = ?1")                                                \
    XX(JOB_REQUEUE, "UPDATE jobs SET state = 0, started_at = 0, last_seq = ?2 WHERE id = ?1")     \
    XX(JOB_SEQ, "UPDATE jobs SET last_seq = ?2 WHERE id = ?1")                                    \
    XX(JOBS_RUNNING, "SELECT id, attempts, last_seq FROM jobs WHERE state = 1"                    \
                     " ORDER BY created_at, id")                                                  \
    XX(EVENT_INSERT, "INSERT INTO events (job_id, seq, name, data) VALUES (?1, ?2, ?3, ?4)")      \
    XX(EVENTS_AFTER, "SELECT seq, name, data FROM events WHERE job_id = ?1 AND seq > ?2"          \
                     " ORDER BY seq LIMIT ?3")                                                    \
    /* explicit, not left to ON DELETE CASCADE: correct even with foreign keys off */             \
    XX(EXPIRE_EVENTS, "DELETE FROM events WHERE job_id IN"                                        \
                      " (SELECT id FROM jobs WHERE state >= 2 AND finished_at < ?1)")             \
    XX(EXPIRE_JOBS, "DELETE FROM jobs WHERE state >= 2 AND finished_at < ?1")                     \
    XX(COUNT_STATES, "SELECT state, count(*) FROM jobs GROUP BY state")

typedef enum stmt_id {
#define STMT_ENUM(name, sql) ST_##name,
    STMT_MAP(STMT_ENUM)
#undef STMT_ENUM
    N_STMTS
} stmt_id;

static const char *const stmt_sql[N_STMTS] = {
#define STMT_SQL(name, sql) [ST_##name] = sql,
    STMT_MAP(STMT_SQL)
#undef STMT_SQL
};

typedef struct sq_store {
    pthread_mutex_t mu; /* held for the whole of every call (see the top) */
    sqlite3 *db;
    sqlite3_stmt *st[N_STMTS];
} sq_store;

/* ---- result codes ------------------------------------------------------------ */

/* A failed SQLite call as an mf_err: storage trouble is MF_EIO. */
static mf_err sq_err(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return MF_OK;
    case SQLITE_NOMEM:
        return MF_ENOMEM;
    case SQLITE_TOOBIG:
        return MF_EINVAL; /* a payload over SQLite's length limit (1e9 bytes) */
    case SQLITE_MISUSE:
    case SQLITE_RANGE:
    case SQLITE_CONSTRAINT:
        return MF_EINTERNAL; /* store.c's checks and our invariants should prevent these */
    default:
        return MF_EIO; /* IOERR, FULL, BUSY past the timeout, CORRUPT, READONLY, ... */
    }
}

/* ---- statement helpers --------------------------------------------------------- */

/* Binders that do nothing once *rc holds an error, so a run of binds checks once. */
static void bind_text(sqlite3_stmt *st, int i, const char *s, int *rc)
{
    if (*rc == SQLITE_OK) {
        /* STATIC: every statement is reset before the caller's strings go away. */
        *rc = sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    }
}

static void bind_i64(sqlite3_stmt *st, int i, int64_t v, int *rc)
{
    if (*rc == SQLITE_OK) {
        *rc = sqlite3_bind_int64(st, i, v);
    }
}

static void bind_u64(sqlite3_stmt *st, int i, uint64_t v, int *rc)
{
    bind_i64(st, i, (int64_t) v, rc); /* the bit pattern: see the top */
}

static void bind_double(sqlite3_stmt *st, int i, double v, int *rc)
{
    if (*rc == SQLITE_OK) {
        *rc = sqlite3_bind_double(st, i, v);
    }
}

/* Readies st for its next use; bindings are cleared so no stale pointer stays bound. */
static void reset(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Runs a statement without result rows whose binds returned bind_rc, then resets it. */
static int exec_st(sqlite3_stmt *st, int bind_rc)
{
    int rc = bind_rc == SQLITE_OK ? sqlite3_step(st) : bind_rc;
    reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* Steps a query: MF_OK with *ret_row telling whether a row is there to read. */
static mf_err step_row(sqlite3_stmt *st, bool *ret_row)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        *ret_row = rc == SQLITE_ROW;
        return MF_OK;
    }
    return sq_err(rc);
}

/* First step of a query whose binds returned bind_rc. */
static mf_err query(sqlite3_stmt *st, int bind_rc, bool *ret_row)
{
    return bind_rc == SQLITE_OK ? step_row(st, ret_row) : sq_err(bind_rc);
}

static mf_err begin(sq_store *b, bool write)
{
    return sq_err(exec_st(b->st[write ? ST_BEGIN_WRITE : ST_BEGIN_READ], SQLITE_OK));
}

static mf_err commit(sq_store *b)
{
    return sq_err(exec_st(b->st[ST_COMMIT], SQLITE_OK));
}

/* Ends a failed call: rolls back when a transaction is still open.  SQLite may
 * already have rolled back by itself (IOERR, FULL, NOMEM); then there is none. */
static void rollback(sq_store *b)
{
    if (!sqlite3_get_autocommit(b->db)) {
        (void) exec_st(b->st[ST_ROLLBACK], SQLITE_OK);
    }
}

static void lock(sq_store *b)
{
    (void) pthread_mutex_lock(&b->mu);
}

static void unlock(sq_store *b)
{
    (void) pthread_mutex_unlock(&b->mu);
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

/* Column i into buf[cap]: MF_EFORMAT when NULL or too long (a hand-edited file). */
static mf_err col_fixed(sqlite3_stmt *st, int i, char *buf, size_t cap)
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

/* Column i as an owned string, or NULL for SQL NULL. */
static mf_err col_dup(sqlite3_stmt *st, int i, char **ret)
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

static mf_err col_state(sqlite3_stmt *st, int i, mf_job_state *ret)
{
    sqlite3_int64 v = sqlite3_column_int64(st, i);
    if (v < MF_JOB_QUEUED || v > MF_JOB_CANCELLED) {
        return MF_EFORMAT;
    }
    *ret = (mf_job_state) v;
    return MF_OK;
}

/* The current row of a JOB_COLS_* query into *ret (owned strings). */
static mf_err read_job(sqlite3_stmt *st, mf_job_rec *ret)
{
    mf_job_rec r;
    memset(&r, 0, sizeof r);
    mf_err err = col_fixed(st, 0, r.id, sizeof r.id);
    if (err == MF_OK) {
        err = col_fixed(st, 1, r.type, sizeof r.type);
    }
    if (err == MF_OK) {
        err = col_fixed(st, 2, r.model, sizeof r.model);
    }
    if (err == MF_OK) {
        err = col_state(st, 3, &r.state);
    }
    char **payload[] = {&r.params, &r.result, &r.error, &r.metrics};
    for (int k = 0; k < 4 && err == MF_OK; k++) {
        err = col_dup(st, 4 + k, payload[k]);
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

/* ---- shared steps ---------------------------------------------------------------- */

typedef struct job_head {
    mf_job_state state;
    uint64_t last_seq;
    double created_at;
} job_head;

/* State, last seq and creation time of job id: MF_ENOTFOUND when there is none. */
static mf_err job_head_get(sq_store *b, const char *id, job_head *ret)
{
    sqlite3_stmt *st = b->st[ST_JOB_STATE];
    int rc = SQLITE_OK;
    bind_text(st, 1, id, &rc);
    bool row = false;
    mf_err err = query(st, rc, &row);
    job_head h = {MF_JOB_QUEUED, 0, 0};
    if (err == MF_OK && !row) {
        err = MF_ENOTFOUND;
    }
    if (err == MF_OK) {
        err = col_state(st, 0, &h.state);
        h.last_seq = (uint64_t) sqlite3_column_int64(st, 1);
        h.created_at = sqlite3_column_double(st, 2);
    }
    reset(st);
    if (err == MF_OK) {
        *ret = h;
    }
    return err;
}

/* After an UPDATE ... WHERE id AND state that changed nothing: why not. */
static mf_err why_unchanged(sq_store *b, const char *id)
{
    job_head h;
    mf_err err = job_head_get(b, id, &h);
    return err == MF_OK ? MF_EBUSY : err;
}

/* The seq after h's last event; MF_ERANGE at the (unreachable) end of int64. */
static mf_err next_seq(const job_head *h, uint64_t *ret)
{
    if (h->last_seq >= (uint64_t) INT64_MAX) {
        return MF_ERANGE;
    }
    *ret = h->last_seq + 1;
    return MF_OK;
}

/* Inserts one event row; the caller keeps jobs.last_seq in step in the same transaction. */
static mf_err put_event(sq_store *b, const char *id, uint64_t seq, const char *name,
                        const char *data)
{
    sqlite3_stmt *st = b->st[ST_EVENT_INSERT];
    int rc = SQLITE_OK;
    bind_text(st, 1, id, &rc);
    bind_u64(st, 2, seq, &rc);
    bind_text(st, 3, name, &rc);
    bind_text(st, 4, data, &rc);
    return sq_err(exec_st(st, rc));
}

/* Final state, payloads, finished_at and last_seq of a job (its final event: put_event). */
static mf_err set_final(sq_store *b, const char *id, mf_job_state final, const char *result,
                        const char *error, double now, uint64_t seq)
{
    sqlite3_stmt *st = b->st[ST_JOB_FINISH];
    int rc = SQLITE_OK;
    bind_text(st, 1, id, &rc);
    bind_i64(st, 2, (int64_t) final, &rc);
    bind_text(st, 3, result, &rc);
    bind_text(st, 4, error, &rc);
    bind_double(st, 5, now, &rc);
    bind_u64(st, 6, seq, &rc);
    return sq_err(exec_st(st, rc));
}

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
    FILE_OURS,  /* a job store of SCHEMA_VERSION */
} file_kind;

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
    *ret = FILE_OURS;
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

/* Gives an empty database the schema.  Another process may be doing the same
 * right now: the check is repeated under the write lock. */
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

static mf_err prepare_all(sq_store *b, const char *path, mf_diag *diag)
{
    for (int i = 0; i < N_STMTS; i++) {
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
    sq_store *b = bp;
    for (int i = 0; i < N_STMTS; i++) {
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
    sq_store *b = calloc(1, sizeof *b);
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
    if (err == MF_OK && kind == FILE_EMPTY) {
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

/* ---- jobs ------------------------------------------------------------------------ */

static mf_err sq_ping(void *bp)
{
    sq_store *b = bp;
    lock(b);
    sqlite3_stmt *st = b->st[ST_PING];
    bool row = false;
    mf_err err = query(st, SQLITE_OK, &row);
    if (err == MF_OK && (!row || sqlite3_column_int(st, 0) != 1)) {
        err = MF_EIO;
    }
    reset(st);
    unlock(b);
    return err;
}

static mf_err sq_job_insert(void *bp, const mf_job_rec *r, const char *first_event_data)
{
    sq_store *b = bp;
    lock(b);
    mf_err err = begin(b, true);
    if (err != MF_OK) {
        goto done;
    }
    sqlite3_stmt *st = b->st[ST_JOB_INSERT];
    int rc = SQLITE_OK;
    bind_text(st, 1, r->id, &rc);
    bind_text(st, 2, r->type, &rc);
    bind_text(st, 3, r->model, &rc);
    bind_text(st, 4, r->params, &rc);
    bind_double(st, 5, r->created_at, &rc);
    rc = exec_st(st, rc);
    err = rc == SQLITE_CONSTRAINT_PRIMARYKEY ? MF_EBUSY : sq_err(rc);
    if (err == MF_OK) {
        err = put_event(b, r->id, 1, "status", first_event_data);
    }
    if (err == MF_OK) {
        err = commit(b);
    }
done:
    if (err != MF_OK) {
        rollback(b);
    }
    unlock(b);
    return err;
}

static mf_err sq_job_get(void *bp, const char *id, mf_job_rec *ret)
{
    sq_store *b = bp;
    lock(b);
    sqlite3_stmt *st = b->st[ST_JOB_GET];
    int rc = SQLITE_OK;
    bind_text(st, 1, id, &rc);
    bool row = false;
    mf_err err = query(st, rc, &row);
    if (err == MF_OK && !row) {
        err = MF_ENOTFOUND;
    }
    if (err == MF_OK) {
        err = read_job(st, ret); /* writes *ret only on success */
    }
    reset(st);
    unlock(b);
    return err;
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

static void free_jobs(mf_job_rec *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mf_job_rec_done(&jobs[i]);
    }
    free(jobs);
}

static mf_err sq_job_list(void *bp, const mf_job_filter *f, mf_job_rec **ret, size_t *ret_n)
{
    sq_store *b = bp;
    mf_job_rec *jobs = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *st = b->st[f->before != NULL ? ST_JOB_LIST_BEFORE : ST_JOB_LIST];
    lock(b);
    /* One read transaction: the cursor's row and the page come from one snapshot. */
    mf_err err = begin(b, false);
    job_head cursor = {MF_JOB_QUEUED, 0, 0};
    if (err == MF_OK && f->before != NULL) {
        err = job_head_get(b, f->before, &cursor);
    }
    if (err != MF_OK) {
        goto done;
    }
    int rc = SQLITE_OK;
    bind_i64(st, 1, f->state, &rc);
    bind_text(st, 2, f->model, &rc);
    bind_text(st, 3, f->type, &rc);
    if (f->before != NULL) {
        bind_double(st, 4, cursor.created_at, &rc);
        bind_text(st, 5, f->before, &rc);
    }
    bind_i64(st, 6, (int64_t) f->limit, &rc);
    bool row = false;
    err = query(st, rc, &row);
    while (err == MF_OK && row) {
        void *grown = grow(jobs, n, &cap, sizeof *jobs);
        err = grown != NULL ? MF_OK : MF_ENOMEM;
        if (err == MF_OK) {
            jobs = grown;
            err = read_job(st, &jobs[n]);
        }
        if (err == MF_OK) {
            n++;
            err = step_row(st, &row);
        }
    }
    reset(st);
    if (err == MF_OK) {
        err = commit(b);
    }
done:
    if (err != MF_OK) {
        rollback(b);
    }
    unlock(b);
    if (err != MF_OK) {
        free_jobs(jobs, n);
        return err;
    }
    if (n == 0) {
        free(jobs);
        jobs = NULL;
    }
    *ret = jobs;
    *ret_n = n;
    return MF_OK;
}

static mf_err sq_jobs_queued(void *bp, char (**ret)[MF_ID_MAX + 1], size_t *ret_n)
{
    sq_store *b = bp;
    char(*ids)[MF_ID_MAX + 1] = NULL;
    size_t n = 0, cap = 0;
    lock(b);
    sqlite3_stmt *st = b->st[ST_JOBS_QUEUED];
    bool row = false;
    mf_err err = query(st, SQLITE_OK, &row);
    while (err == MF_OK && row) {
        void *grown = grow(ids, n, &cap, sizeof *ids);
        err = grown != NULL ? MF_OK : MF_ENOMEM;
        if (err == MF_OK) {
            ids = grown;
            err = col_fixed(st, 0, ids[n], sizeof ids[n]);
        }
        if (err == MF_OK) {
            n++;
            err = step_row(st, &row);
        }
    }
    reset(st);
    unlock(b);
    if (err != MF_OK) {
        free(ids);
        return err;
    }
    if (n == 0) {
        free(ids);
        ids = NULL;
    }
    *ret = ids;
    *ret_n = n;
    return MF_OK;
}

static mf_err sq_job_claim(void *bp, const char *id, double now)
{
    sq_store *b = bp;
    lock(b);
    /* One conditional UPDATE: the check and the change are a single atomic write, even
     * against another process on the same file. */
    sqlite3_stmt *st = b->st[ST_JOB_CLAIM];
    int rc = SQLITE_OK;
    bind_text(st, 1, id, &rc);
    bind_double(st, 2, now, &rc);
    mf_err err = sq_err(exec_st(st, rc));
    if (err == MF_OK && sqlite3_changes(b->db) == 0) {
        err = why_unchanged(b, id);
    }
    unlock(b);
    return err;
}

static mf_err sq_job_progress(void *bp, const char *id, uint64_t done, uint64_t total)
{
    sq_store *b = bp;
    lock(b);
    sqlite3_stmt *st = b->st[ST_JOB_PROGRESS];
    int rc = SQLITE_OK;
    bind_text(st, 1, id, &rc);
    bind_u64(st, 2, done, &rc);
    bind_u64(st, 3, total, &rc);
    mf_err err = sq_err(exec_st(st, rc));
    if (err == MF_OK && sqlite3_changes(b->db) == 0) {
        err = why_unchanged(b, id); /* not running: queued, or final (cancelled meanwhile) */
    }
    unlock(b);
    return err;
}

static mf_err sq_job_metrics(void *bp, const char *id, const char *metrics)
{
    sq_store *b = bp;
    lock(b);
    sqlite3_stmt *st = b->st[ST_JOB_METRICS];
    int rc = SQLITE_OK;
    bind_text(st, 1, id, &rc);
    bind_text(st, 2, metrics, &rc);
    mf_err err = sq_err(exec_st(st, rc));
    if (err == MF_OK && sqlite3_changes(b->db) == 0) {
        err = MF_ENOTFOUND;
    }
    unlock(b);
    return err;
}

static mf_err sq_job_finish(void *bp, const char *id, mf_job_state final, const char *result,
                            const char *error, const char *final_event_data, double now)
{
    sq_store *b = bp;
    lock(b);
    job_head h;
    uint64_t seq = 0;
    mf_err err = begin(b, true);
    if (err == MF_OK) {
        err = job_head_get(b, id, &h);
    }
    if (err == MF_OK && mf_job_state_final(h.state)) {
        err = MF_EBUSY;
    }
    if (err == MF_OK) {
        err = next_seq(&h, &seq);
    }
    if (err == MF_OK) {
        err = set_final(b, id, final, result, error, now, seq);
    }
    if (err == MF_OK) {
        err = put_event(b, id, seq, "status", final_event_data);
    }
    if (err == MF_OK) {
        err = commit(b);
    }
    if (err != MF_OK) {
        rollback(b);
    }
    unlock(b);
    return err;
}

/* ---- events ---------------------------------------------------------------------- */

static mf_err sq_event_append(void *bp, const char *id, const char *name, const char *data,
                              uint64_t *ret_seq)
{
    sq_store *b = bp;
    lock(b);
    job_head h;
    uint64_t seq = 0;
    mf_err err = begin(b, true);
    if (err == MF_OK) {
        err = job_head_get(b, id, &h);
    }
    if (err == MF_OK && mf_job_state_final(h.state)) {
        err = MF_EBUSY; /* the final event closed the log */
    }
    if (err == MF_OK) {
        err = next_seq(&h, &seq);
    }
    if (err == MF_OK) {
        sqlite3_stmt *st = b->st[ST_JOB_SEQ];
        int rc = SQLITE_OK;
        bind_text(st, 1, id, &rc);
        bind_u64(st, 2, seq, &rc);
        err = sq_err(exec_st(st, rc));
    }
    if (err == MF_OK) {
        err = put_event(b, id, seq, name, data);
    }
    if (err == MF_OK) {
        err = commit(b);
    }
    if (err != MF_OK) {
        rollback(b);
    }
    unlock(b);
    if (err == MF_OK) {
        *ret_seq = seq;
    }
    return err;
}

static mf_err sq_events_after(void *bp, const char *id, uint64_t after, size_t max,
                              mf_event_rec **ret, size_t *ret_n)
{
    sq_store *b = bp;
    mf_event_rec *ev = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *st = b->st[ST_EVENTS_AFTER];
    lock(b);
    /* One read transaction, so "no such job" and "no events yet" cannot be confused. */
    job_head h;
    mf_err err = begin(b, false);
    if (err == MF_OK) {
        err = job_head_get(b, id, &h);
    }
    if (err != MF_OK) {
        goto done;
    }
    int rc = SQLITE_OK;
    bind_text(st, 1, id, &rc);
    /* seqs are below 2^63: a larger `after` or `max` means "none left" or "no limit" */
    bind_i64(st, 2, after > (uint64_t) INT64_MAX ? INT64_MAX : (int64_t) after, &rc);
    bind_i64(st, 3, max > (uint64_t) INT64_MAX ? INT64_MAX : (int64_t) max, &rc);
    bool row = false;
    err = query(st, rc, &row);
    while (err == MF_OK && row) {
        void *grown = grow(ev, n, &cap, sizeof *ev);
        err = grown != NULL ? MF_OK : MF_ENOMEM;
        if (err == MF_OK) {
            ev = grown;
            ev[n].seq = (uint64_t) sqlite3_column_int64(st, 0);
            ev[n].data = NULL;
            err = col_fixed(st, 1, ev[n].name, sizeof ev[n].name);
        }
        if (err == MF_OK) {
            err = col_dup(st, 2, &ev[n].data);
        }
        if (err == MF_OK && ev[n].data == NULL) {
            err = MF_EFORMAT; /* NOT NULL in the schema */
        }
        if (err == MF_OK) {
            n++;
            err = step_row(st, &row);
        }
    }
    reset(st);
    if (err == MF_OK) {
        err = commit(b);
    }
done:
    if (err != MF_OK) {
        rollback(b);
    }
    unlock(b);
    if (err != MF_OK) {
        mf_event_recs_free(ev, n);
        return err;
    }
    if (n == 0) {
        free(ev);
        ev = NULL;
    }
    *ret = ev;
    *ret_n = n;
    return MF_OK;
}

/* ---- maintenance ----------------------------------------------------------------- */

typedef struct running_job {
    char id[MF_ID_MAX + 1];
    uint32_t attempts;
    uint64_t last_seq;
} running_job;

/* Every running job, read completely before any is changed: modifying rows under a
 * live cursor over the same index is legal in SQLite but hard to reason about. */
static mf_err list_running(sq_store *b, running_job **ret, size_t *ret_n)
{
    running_job *jobs = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *st = b->st[ST_JOBS_RUNNING];
    bool row = false;
    mf_err err = query(st, SQLITE_OK, &row);
    while (err == MF_OK && row) {
        void *grown = grow(jobs, n, &cap, sizeof *jobs);
        err = grown != NULL ? MF_OK : MF_ENOMEM;
        if (err == MF_OK) {
            jobs = grown;
            err = col_fixed(st, 0, jobs[n].id, sizeof jobs[n].id);
        }
        sqlite3_int64 attempts = sqlite3_column_int64(st, 1);
        if (err == MF_OK && (attempts < 0 || attempts > UINT32_MAX)) {
            err = MF_EFORMAT;
        }
        if (err == MF_OK) {
            jobs[n].attempts = (uint32_t) attempts;
            jobs[n].last_seq = (uint64_t) sqlite3_column_int64(st, 2);
            n++;
            err = step_row(st, &row);
        }
    }
    reset(st);
    if (err != MF_OK) {
        free(jobs);
        return err;
    }
    *ret = jobs;
    *ret_n = n;
    return MF_OK;
}

static mf_err sq_recover(void *bp, uint32_t max_attempts, mf_recover_event_fn event_data,
                         void *ctx, const char *fail_error, double now, size_t *ret_requeued,
                         size_t *ret_failed)
{
    sq_store *b = bp;
    running_job *jobs = NULL;
    size_t n = 0, requeued = 0, failed = 0;
    lock(b);
    mf_err err = begin(b, true);
    if (err == MF_OK) {
        err = list_running(b, &jobs, &n);
    }
    for (size_t i = 0; i < n && err == MF_OK; i++) {
        const running_job *j = &jobs[i];
        job_head h = {MF_JOB_RUNNING, j->last_seq, 0};
        uint64_t seq = 0;
        err = next_seq(&h, &seq);
        if (err != MF_OK) {
            break;
        }
        bool requeue = j->attempts < max_attempts;
        char *data = event_data(ctx, j->id, requeue ? "queued" : "failed");
        if (data == NULL) {
            err = MF_ENOMEM;
            break;
        }
        if (requeue) {
            sqlite3_stmt *st = b->st[ST_JOB_REQUEUE];
            int rc = SQLITE_OK;
            bind_text(st, 1, j->id, &rc);
            bind_u64(st, 2, seq, &rc);
            err = sq_err(exec_st(st, rc));
            requeued++;
        } else {
            err = set_final(b, j->id, MF_JOB_FAILED, NULL, fail_error, now, seq);
            failed++;
        }
        if (err == MF_OK) {
            err = put_event(b, j->id, seq, "status", data);
        }
        free(data);
    }
    if (err == MF_OK) {
        err = commit(b);
    }
    if (err != MF_OK) {
        rollback(b);
    }
    unlock(b);
    free(jobs);
    if (err == MF_OK) {
        *ret_requeued = requeued;
        *ret_failed = failed;
    }
    return err;
}

static mf_err sq_expire(void *bp, double before, size_t *ret_n)
{
    sq_store *b = bp;
    size_t n = 0;
    lock(b);
    mf_err err = begin(b, true);
    if (err == MF_OK) {
        sqlite3_stmt *st = b->st[ST_EXPIRE_EVENTS];
        int rc = SQLITE_OK;
        bind_double(st, 1, before, &rc);
        err = sq_err(exec_st(st, rc));
    }
    if (err == MF_OK) {
        sqlite3_stmt *st = b->st[ST_EXPIRE_JOBS];
        int rc = SQLITE_OK;
        bind_double(st, 1, before, &rc);
        err = sq_err(exec_st(st, rc));
        /* counts the rows this DELETE removed itself, not cascaded ones */
        n = err == MF_OK ? (size_t) sqlite3_changes(b->db) : 0;
    }
    if (err == MF_OK) {
        err = commit(b);
    }
    if (err != MF_OK) {
        rollback(b);
    }
    unlock(b);
    if (err == MF_OK) {
        *ret_n = n;
    }
    return err;
}

static mf_err sq_count_states(void *bp, uint64_t counts[5])
{
    sq_store *b = bp;
    uint64_t c[5] = {0, 0, 0, 0, 0};
    lock(b);
    sqlite3_stmt *st = b->st[ST_COUNT_STATES];
    bool row = false;
    mf_err err = query(st, SQLITE_OK, &row);
    while (err == MF_OK && row) {
        mf_job_state s;
        err = col_state(st, 0, &s);
        if (err == MF_OK) {
            c[s] = (uint64_t) sqlite3_column_int64(st, 1);
            err = step_row(st, &row);
        }
    }
    reset(st);
    unlock(b);
    if (err == MF_OK) {
        memcpy(counts, c, sizeof c);
    }
    return err;
}

const mf_store_vtable mf_store_sqlite_vtable = {
    .scheme = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .ping = sq_ping,
    .job_insert = sq_job_insert,
    .job_get = sq_job_get,
    .job_list = sq_job_list,
    .jobs_queued = sq_jobs_queued,
    .job_claim = sq_job_claim,
    .job_progress = sq_job_progress,
    .job_metrics = sq_job_metrics,
    .job_finish = sq_job_finish,
    .event_append = sq_event_append,
    .events_after = sq_events_after,
    .recover = sq_recover,
    .expire = sq_expire,
    .count_states = sq_count_states,
};
