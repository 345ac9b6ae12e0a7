/* SPDX-License-Identifier: MIT */
/*
 * test_store.c - server/store.c and its SQLite backend: state names; insert and
 * get round trips (every field, NULL payloads, a 1 MB payload); a table of
 * invalid inserts; claim, progress, metrics and finish with their state rules;
 * gap-free event logs and events_after windows; listing with filters, paging
 * and its errors; queued ids; recovery after a restart; expiry; counts per
 * state; persistence across close and reopen; files that are not job stores
 * (garbage, a foreign SQLite schema, a newer schema, a damaged one, a missing
 * directory); and concurrency: four threads appending to one job's log, two
 * threads (one handle or two "replicas") racing to claim the same jobs, by id
 * or the oldest queued (claim_next).
 *
 * Databases are ":memory:" unless the test is about files; those live in a
 * fresh mkdtemp directory under /tmp that the test removes.
 *
 * With MF_TEST_PG_URI set (tests/pg/with_pg.sh) every test that is not about
 * SQLite files runs against that PostgreSQL database instead, wiped before
 * each test (test server-store-pg); the PostgreSQL-only tests are in
 * test_store_pg.c.
 */
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "pg_util.h"
#include "store.h"
#include "test_util.h"

#define MEM_URI "sqlite::memory:"

#define QUEUED_EV  "{\"state\":\"queued\"}"
#define SUCCESS_EV "{\"state\":\"succeeded\"}"
#define FAILED_EV  "{\"state\":\"failed\"}"
#define CANCEL_EV  "{\"state\":\"cancelled\"}"
#define ERR_JSON   "{\"code\":\"cancelled\",\"message\":\"by request\"}"

/* ---- helpers ------------------------------------------------------------------- */

static mf_store *open_uri(const char *uri)
{
    mf_store *s = NULL;
    mf_diag d = {0};
    mf_err err = mf_store_open(uri, &s, &d);
    ck_assert_msg(err == MF_OK, "open %s: %s: %s", uri, mf_err_name(err), d.msg);
    ck_assert_ptr_nonnull(s);
    return s;
}

/* The PostgreSQL database of the run, or NULL: SQLite. */
static const char *pg_uri;

static mf_store *open_mem(void)
{
    if (pg_uri != NULL) {
        pg_wipe(pg_uri);
        return open_uri(pg_uri);
    }
    return open_uri(MEM_URI);
}

static mf_job_rec make_rec(const char *id, const char *type, const char *model, const char *params,
                           double created_at)
{
    mf_job_rec r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "%s", id);
    snprintf(r.type, sizeof r.type, "%s", type);
    snprintf(r.model, sizeof r.model, "%s", model);
    r.params = (char *) params; /* insert only reads it */
    r.created_at = created_at;
    return r;
}

static void add_job(mf_store *s, const char *id, const char *type, const char *model,
                    double created_at)
{
    mf_job_rec r = make_rec(id, type, model, "{}", created_at);
    mf_err err = mf_store_job_insert(s, &r, QUEUED_EV);
    ck_assert_msg(err == MF_OK, "insert %s: %s", id, mf_err_name(err));
}

static mf_job_rec get_job(mf_store *s, const char *id)
{
    mf_job_rec r;
    mf_err err = mf_store_job_get(s, id, &r);
    ck_assert_msg(err == MF_OK, "get %s: %s", id, mf_err_name(err));
    return r;
}

static mf_job_state state_of(mf_store *s, const char *id)
{
    mf_job_rec r = get_job(s, id);
    mf_job_state st = r.state;
    mf_job_rec_done(&r);
    return st;
}

/* Two optional strings are equal (both NULL, or the same text). */
static void assert_same_str(const char *a, const char *b, const char *what)
{
    if (a == NULL || b == NULL) {
        ck_assert_msg(a == NULL && b == NULL, "%s: %s vs %s", what, a ? a : "NULL", b ? b : "NULL");
    } else {
        ck_assert_msg(strcmp(a, b) == 0, "%s: %s vs %s", what, a, b);
    }
}

static void assert_same_job(const mf_job_rec *a, const mf_job_rec *b)
{
    ck_assert_str_eq(a->id, b->id);
    ck_assert_str_eq(a->type, b->type);
    ck_assert_str_eq(a->model, b->model);
    ck_assert_int_eq(a->state, b->state);
    assert_same_str(a->params, b->params, "params");
    assert_same_str(a->result, b->result, "result");
    assert_same_str(a->error, b->error, "error");
    assert_same_str(a->metrics, b->metrics, "metrics");
    ck_assert_uint_eq(a->done, b->done);
    ck_assert_uint_eq(a->total, b->total);
    ck_assert(a->created_at == b->created_at);
    ck_assert(a->started_at == b->started_at);
    ck_assert(a->finished_at == b->finished_at);
    ck_assert_uint_eq(a->attempts, b->attempts);
    ck_assert_uint_eq(a->last_seq, b->last_seq);
}

/* All events of a job (there are fewer than 10000 in these tests). */
static mf_event_rec *all_events(mf_store *s, const char *id, size_t *ret_n)
{
    mf_event_rec *ev = NULL;
    size_t n = 0;
    mf_err err = mf_store_events_after(s, id, 0, 10000, &ev, &n);
    ck_assert_msg(err == MF_OK, "events of %s: %s", id, mf_err_name(err));
    *ret_n = n;
    return ev;
}

static void assert_event(const mf_event_rec *e, uint64_t seq, const char *name, const char *data)
{
    ck_assert_uint_eq(e->seq, seq);
    ck_assert_str_eq(e->name, name);
    ck_assert_ptr_nonnull(e->data);
    ck_assert_str_eq(e->data, data);
}

/* The ids of a listing, comma-separated, for one exact comparison. */
static void list_ids(mf_store *s, const mf_job_filter *f, char *out, size_t cap)
{
    mf_job_rec *jobs = NULL;
    size_t n = 99;
    mf_err err = mf_store_job_list(s, f, &jobs, &n);
    ck_assert_msg(err == MF_OK, "list: %s", mf_err_name(err));
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(out);
        snprintf(out + len, cap - len, "%s%s", i ? "," : "", jobs[i].id);
        mf_job_rec_done(&jobs[i]);
    }
    if (n == 0) {
        ck_assert_ptr_null(jobs);
    }
    free(jobs);
}

static void claim_ok(mf_store *s, const char *id, double now)
{
    mf_err err = mf_store_job_claim(s, id, now);
    ck_assert_msg(err == MF_OK, "claim %s: %s", id, mf_err_name(err));
}

/* A fresh directory under /tmp. */
static void make_tmpdir(char *dir, size_t cap)
{
    snprintf(dir, cap, "/tmp/mf_test_store_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* Removes dir and the files in it (the database, its -wal and -shm). */
static void remove_tmpdir(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        ck_assert_int_eq(unlink(p), 0);
    }
    closedir(d);
    ck_assert_int_eq(rmdir(dir), 0);
}

static bool file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* A fresh store that several handles can open: a file in a new directory (dir, path),
 * or the wiped PostgreSQL database (dir and path ""). */
static void fresh_uri(char *dir, size_t dir_cap, char *path, size_t path_cap, char *uri,
                      size_t uri_cap)
{
    if (pg_uri != NULL) {
        pg_wipe(pg_uri);
        dir[0] = path[0] = '\0';
        snprintf(uri, uri_cap, "%s", pg_uri);
        return;
    }
    make_tmpdir(dir, dir_cap);
    snprintf(path, path_cap, "%s/jobs.db", dir);
    snprintf(uri, uri_cap, "sqlite:%s", path);
}

static void fresh_done(const char *dir)
{
    if (dir[0] != '\0') {
        remove_tmpdir(dir);
    }
}

/* Raw SQLite access, to inspect or forge files behind the store's back. */
static sqlite3 *raw_open(const char *path)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    return db;
}

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = raw_open(path);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, msg ? msg : "?");
    sqlite3_free(msg);
    ck_assert_int_eq(sqlite3_close(db), SQLITE_OK);
}

/* First column of the first row of sql, as text into out. */
static void raw_text(const char *path, const char *sql, char *out, size_t cap)
{
    sqlite3 *db = raw_open(path);
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    const unsigned char *t = sqlite3_column_text(st, 0);
    snprintf(out, cap, "%s", t ? (const char *) t : "NULL");
    sqlite3_finalize(st);
    ck_assert_int_eq(sqlite3_close(db), SQLITE_OK);
}

static long long raw_int(const char *path, const char *sql)
{
    char buf[64];
    raw_text(path, sql, buf, sizeof buf);
    return strtoll(buf, NULL, 10);
}

/* raw_int on the store of fresh_uri: the file at path, or the PostgreSQL database. */
static long long db_int(const char *path, const char *sql)
{
    return pg_uri != NULL ? pg_raw_int(pg_uri, sql) : raw_int(path, sql);
}

/* ---- states and records -------------------------------------------------------- */

START_TEST(test_state_names)
{
    static const char *const names[] = {"queued", "running", "succeeded", "failed", "cancelled"};
    for (int i = 0; i < 5; i++) {
        ck_assert_str_eq(mf_job_state_name((mf_job_state) i), names[i]);
        mf_job_state s = (mf_job_state) 99;
        ck_assert_int_eq(mf_job_state_lookup(names[i], &s), MF_OK);
        ck_assert_int_eq(s, i);
        ck_assert(mf_job_state_final((mf_job_state) i) == (i >= 2));
    }
    ck_assert_ptr_null(mf_job_state_name((mf_job_state) 5));
    ck_assert_ptr_null(mf_job_state_name((mf_job_state) -1));
    ck_assert(!mf_job_state_final((mf_job_state) 5));
    ck_assert(!mf_job_state_final((mf_job_state) -1));
    static const char *const bad[] = {"", "QUEUED", "queue", "queued ", "done", "cancelled\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mf_job_state s = (mf_job_state) 99;
        ck_assert_int_eq(mf_job_state_lookup(bad[i], &s), MF_ENOTFOUND);
        ck_assert_int_eq(s, 99); /* written only on success */
    }
    mf_job_state s;
    ck_assert_int_eq(mf_job_state_lookup(NULL, &s), MF_EINVAL);
    ck_assert_int_eq(mf_job_state_lookup("queued", NULL), MF_EINVAL);
}

END_TEST

START_TEST(test_record_helpers)
{
    mf_job_rec_done(NULL);
    mf_event_recs_free(NULL, 0);
    mf_event_recs_free(NULL, 3);
    mf_job_rec r;
    memset(&r, 0, sizeof r);
    r.params = strdup("{}");
    r.result = strdup("{\"a\":1}");
    r.error = strdup("{}");
    r.metrics = strdup("{}");
    mf_job_rec_done(&r);
    ck_assert_ptr_null(r.params);
    ck_assert_ptr_null(r.result);
    ck_assert_ptr_null(r.error);
    ck_assert_ptr_null(r.metrics);
    mf_job_rec_done(&r); /* twice is harmless */
    mf_event_rec *ev = calloc(2, sizeof *ev);
    ck_assert_ptr_nonnull(ev);
    ev[0].data = strdup("{}");
    ev[1].data = NULL;
    mf_event_recs_free(ev, 2);
}

END_TEST

/* ---- insert and get ------------------------------------------------------------ */

START_TEST(test_insert_get_round_trip)
{
    mf_store *s = open_mem();
    ck_assert_int_eq(mf_store_ping(s), MF_OK);
    mf_job_rec r =
        make_rec("job-1.a_b", "finetune.smeme", "two_moons", "{\"steps\":50}", 1700000000.125);
    /* fields other than id, type, model, params and created_at are ignored */
    r.state = MF_JOB_FAILED;
    r.result = (char *) "{\"x\":1}";
    r.error = (char *) "{}";
    r.metrics = (char *) "{}";
    r.done = 7;
    r.total = 9;
    r.started_at = 5;
    r.finished_at = 6;
    r.attempts = 3;
    r.last_seq = 42;
    ck_assert_int_eq(mf_store_job_insert(s, &r, QUEUED_EV), MF_OK);

    mf_job_rec g = get_job(s, "job-1.a_b");
    ck_assert_str_eq(g.id, "job-1.a_b");
    ck_assert_str_eq(g.type, "finetune.smeme");
    ck_assert_str_eq(g.model, "two_moons");
    ck_assert_int_eq(g.state, MF_JOB_QUEUED);
    ck_assert_str_eq(g.params, "{\"steps\":50}");
    ck_assert_ptr_null(g.result);
    ck_assert_ptr_null(g.error);
    ck_assert_ptr_null(g.metrics);
    ck_assert_uint_eq(g.done, 0);
    ck_assert_uint_eq(g.total, 0);
    ck_assert(g.created_at == 1700000000.125);
    ck_assert(g.started_at == 0.0);
    ck_assert(g.finished_at == 0.0);
    ck_assert_uint_eq(g.attempts, 0);
    ck_assert_uint_eq(g.last_seq, 1);
    mf_job_rec_done(&g);

    size_t n;
    mf_event_rec *ev = all_events(s, "job-1.a_b", &n);
    ck_assert_uint_eq(n, 1);
    assert_event(&ev[0], 1, "status", QUEUED_EV);
    mf_event_recs_free(ev, n);

    /* NULL params and no model; the longest id; the longest type */
    char long_id[MF_ID_MAX + 1];
    memset(long_id, 'z', MF_ID_MAX);
    long_id[MF_ID_MAX] = '\0';
    mf_job_rec r2 = make_rec(long_id, "0123456789012345678901234567890", "", NULL, -1.5);
    ck_assert_int_eq(mf_store_job_insert(s, &r2, "{}"), MF_OK);
    g = get_job(s, long_id);
    ck_assert_str_eq(g.id, long_id);
    ck_assert_str_eq(g.type, "0123456789012345678901234567890");
    ck_assert_str_eq(g.model, "");
    ck_assert_ptr_null(g.params);
    ck_assert(g.created_at == -1.5);
    mf_job_rec_done(&g);

    /* a large payload survives unchanged */
    size_t big_len = 1u << 20;
    char *big = malloc(big_len + 1);
    ck_assert_ptr_nonnull(big);
    for (size_t i = 0; i < big_len; i++) {
        big[i] = (char) ('a' + (char) (i % 26));
    }
    big[big_len] = '\0';
    mf_job_rec r3 = make_rec("big", "sample", "", big, 3);
    ck_assert_int_eq(mf_store_job_insert(s, &r3, big), MF_OK);
    g = get_job(s, "big");
    ck_assert_uint_eq(strlen(g.params), big_len);
    ck_assert(strcmp(g.params, big) == 0);
    mf_job_rec_done(&g);
    ev = all_events(s, "big", &n);
    ck_assert_uint_eq(n, 1);
    ck_assert(strcmp(ev[0].data, big) == 0);
    mf_event_recs_free(ev, n);
    free(big);

    uint64_t counts[5];
    ck_assert_int_eq(mf_store_count_states(s, counts), MF_OK);
    ck_assert_uint_eq(counts[MF_JOB_QUEUED], 3);
    mf_store_close(s);
}

END_TEST

START_TEST(test_duplicate_and_unknown)
{
    mf_store *s = open_mem();
    add_job(s, "dup", "sample", "m", 1);
    mf_job_rec r = make_rec("dup", "train", "other", "{\"second\":true}", 2);
    ck_assert_int_eq(mf_store_job_insert(s, &r, "{\"second\":true}"), MF_EBUSY);
    /* the first job is untouched and its log did not grow */
    mf_job_rec g = get_job(s, "dup");
    ck_assert_str_eq(g.type, "sample");
    ck_assert_str_eq(g.model, "m");
    ck_assert_str_eq(g.params, "{}");
    ck_assert(g.created_at == 1.0);
    ck_assert_uint_eq(g.last_seq, 1);
    mf_job_rec_done(&g);
    size_t n;
    mf_event_rec *ev = all_events(s, "dup", &n);
    ck_assert_uint_eq(n, 1);
    assert_event(&ev[0], 1, "status", QUEUED_EV);
    mf_event_recs_free(ev, n);

    /* unknown ids, including ones no insert could create: *ret is not written */
    static const char *const unknown[] = {"nope", "", "DUP", "dup ", "x'; DROP TABLE jobs; --"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        mf_job_rec sentinel;
        memset(&sentinel, 0x5a, sizeof sentinel);
        mf_job_rec out = sentinel;
        ck_assert_int_eq(mf_store_job_get(s, unknown[i], &out), MF_ENOTFOUND);
        ck_assert_int_eq(memcmp(&out, &sentinel, sizeof out), 0);
    }
    ck_assert_int_eq(state_of(s, "dup"), MF_JOB_QUEUED);
    mf_store_close(s);
}

END_TEST

/* Invalid inserts: each row spoils one field of a valid record. */
typedef enum bad_insert {
    BAD_ID_EMPTY,
    BAD_ID_UPPER,
    BAD_ID_DASH_FIRST,
    BAD_ID_DOT_FIRST,
    BAD_ID_SPACE,
    BAD_ID_SLASH,
    BAD_ID_QUOTE,
    BAD_ID_UNTERMINATED,
    BAD_TYPE_EMPTY,
    BAD_TYPE_UNTERMINATED,
    BAD_MODEL_UNTERMINATED,
    BAD_CREATED_NAN,
    BAD_CREATED_INF,
    BAD_EVENT_NULL,
    BAD_REC_NULL,
    BAD_STORE_NULL,
} bad_insert;

static const bad_insert bad_inserts[] = {
    BAD_ID_EMPTY,    BAD_ID_UPPER,          BAD_ID_DASH_FIRST,      BAD_ID_DOT_FIRST,
    BAD_ID_SPACE,    BAD_ID_SLASH,          BAD_ID_QUOTE,           BAD_ID_UNTERMINATED,
    BAD_TYPE_EMPTY,  BAD_TYPE_UNTERMINATED, BAD_MODEL_UNTERMINATED, BAD_CREATED_NAN,
    BAD_CREATED_INF, BAD_EVENT_NULL,        BAD_REC_NULL,           BAD_STORE_NULL,
};

START_TEST(test_insert_invalid)
{
    mf_store *s = open_mem();
    mf_job_rec r = make_rec("ok", "sample", "m", "{}", 1);
    const mf_job_rec *rp = &r;
    const char *ev = QUEUED_EV;
    mf_store *target = s;
    switch (bad_inserts[_i]) {
    case BAD_ID_EMPTY:
        r.id[0] = '\0';
        break;
    case BAD_ID_UPPER:
        snprintf(r.id, sizeof r.id, "Job1");
        break;
    case BAD_ID_DASH_FIRST:
        snprintf(r.id, sizeof r.id, "-job");
        break;
    case BAD_ID_DOT_FIRST:
        snprintf(r.id, sizeof r.id, ".job");
        break;
    case BAD_ID_SPACE:
        snprintf(r.id, sizeof r.id, "a b");
        break;
    case BAD_ID_SLASH:
        snprintf(r.id, sizeof r.id, "a/b");
        break;
    case BAD_ID_QUOTE:
        snprintf(r.id, sizeof r.id, "a'b");
        break;
    case BAD_ID_UNTERMINATED:
        memset(r.id, 'a', sizeof r.id); /* 65 id characters, no NUL */
        break;
    case BAD_TYPE_EMPTY:
        r.type[0] = '\0';
        break;
    case BAD_TYPE_UNTERMINATED:
        memset(r.type, 't', sizeof r.type);
        break;
    case BAD_MODEL_UNTERMINATED:
        memset(r.model, 'm', sizeof r.model);
        break;
    case BAD_CREATED_NAN:
        r.created_at = NAN;
        break;
    case BAD_CREATED_INF:
        r.created_at = INFINITY;
        break;
    case BAD_EVENT_NULL:
        ev = NULL;
        break;
    case BAD_REC_NULL:
        rp = NULL;
        break;
    case BAD_STORE_NULL:
        target = NULL;
        break;
    }
    ck_assert_int_eq(mf_store_job_insert(target, rp, ev), MF_EINVAL);
    uint64_t counts[5];
    ck_assert_int_eq(mf_store_count_states(s, counts), MF_OK);
    for (int i = 0; i < 5; i++) {
        ck_assert_uint_eq(counts[i], 0);
    }
    /* the unspoilt record goes in */
    mf_job_rec good = make_rec("ok", "sample", "m", "{}", 1);
    ck_assert_int_eq(mf_store_job_insert(s, &good, QUEUED_EV), MF_OK);
    mf_store_close(s);
}

END_TEST

/* ---- claim, progress, metrics, finish ------------------------------------------ */

START_TEST(test_claim)
{
    mf_store *s = open_mem();
    add_job(s, "a", "sample", "", 1);
    ck_assert_int_eq(mf_store_job_claim(s, "a", 10.5), MF_OK);
    mf_job_rec g = get_job(s, "a");
    ck_assert_int_eq(g.state, MF_JOB_RUNNING);
    ck_assert(g.started_at == 10.5);
    ck_assert_uint_eq(g.attempts, 1);
    ck_assert_uint_eq(g.last_seq, 1); /* claiming appends no event */
    mf_job_rec_done(&g);

    ck_assert_int_eq(mf_store_job_claim(s, "a", 11), MF_EBUSY);
    g = get_job(s, "a");
    ck_assert(g.started_at == 10.5);
    ck_assert_uint_eq(g.attempts, 1);
    mf_job_rec_done(&g);

    ck_assert_int_eq(mf_store_job_claim(s, "b", 11), MF_ENOTFOUND);
    ck_assert_int_eq(mf_store_job_claim(s, "a", NAN), MF_EINVAL);
    ck_assert_int_eq(mf_store_job_claim(s, NULL, 1), MF_EINVAL);
    ck_assert_int_eq(mf_store_job_claim(NULL, "a", 1), MF_EINVAL);

    /* cancelled while queued: no longer claimable */
    add_job(s, "c", "sample", "", 2);
    ck_assert_int_eq(mf_store_job_finish(s, "c", MF_JOB_CANCELLED, NULL, ERR_JSON, CANCEL_EV, 3),
                     MF_OK);
    ck_assert_int_eq(mf_store_job_claim(s, "c", 4), MF_EBUSY);
    g = get_job(s, "c");
    ck_assert_int_eq(g.state, MF_JOB_CANCELLED);
    ck_assert_uint_eq(g.attempts, 0);
    ck_assert(g.started_at == 0.0);
    mf_job_rec_done(&g);
    mf_store_close(s);
}

END_TEST

START_TEST(test_progress_and_metrics)
{
    mf_store *s = open_mem();
    add_job(s, "p", "train", "", 1);
    ck_assert_int_eq(mf_store_job_progress(s, "p", 1, 2), MF_EBUSY); /* queued: not running */
    ck_assert_int_eq(mf_store_job_progress(s, "q", 1, 2), MF_ENOTFOUND);
    claim_ok(s, "p", 2);
    ck_assert_int_eq(mf_store_job_progress(s, "p", 5, 10), MF_OK);
    mf_job_rec g = get_job(s, "p");
    ck_assert_uint_eq(g.done, 5);
    ck_assert_uint_eq(g.total, 10);
    ck_assert_uint_eq(g.last_seq, 1); /* progress appends no event */
    mf_job_rec_done(&g);
    /* every uint64 round-trips, even past int64 */
    ck_assert_int_eq(mf_store_job_progress(s, "p", UINT64_MAX, UINT64_MAX - 1), MF_OK);
    g = get_job(s, "p");
    ck_assert_uint_eq(g.done, UINT64_MAX);
    ck_assert_uint_eq(g.total, UINT64_MAX - 1);
    mf_job_rec_done(&g);

    ck_assert_int_eq(mf_store_job_metrics(s, "p", "{\"loss\":0.5}"), MF_OK);
    ck_assert_int_eq(mf_store_job_metrics(s, "p", "{\"loss\":0.25}"), MF_OK);
    g = get_job(s, "p");
    ck_assert_str_eq(g.metrics, "{\"loss\":0.25}");
    mf_job_rec_done(&g);
    ck_assert_int_eq(mf_store_job_metrics(s, "q", "{}"), MF_ENOTFOUND);
    ck_assert_int_eq(mf_store_job_metrics(s, "p", NULL), MF_EINVAL);
    ck_assert_int_eq(mf_store_job_metrics(s, NULL, "{}"), MF_EINVAL);
    ck_assert_int_eq(mf_store_job_progress(NULL, "p", 1, 1), MF_EINVAL);
    ck_assert_int_eq(mf_store_job_progress(s, NULL, 1, 1), MF_EINVAL);

    ck_assert_int_eq(mf_store_job_finish(s, "p", MF_JOB_SUCCEEDED, "{}", NULL, SUCCESS_EV, 3),
                     MF_OK);
    ck_assert_int_eq(mf_store_job_progress(s, "p", 6, 10), MF_EBUSY); /* final */
    /* metrics may still arrive after the end (a quality report): any state */
    ck_assert_int_eq(mf_store_job_metrics(s, "p", "{\"final\":1}"), MF_OK);
    g = get_job(s, "p");
    ck_assert_uint_eq(g.done, UINT64_MAX);
    ck_assert_str_eq(g.metrics, "{\"final\":1}");
    mf_job_rec_done(&g);
    mf_store_close(s);
}

END_TEST

START_TEST(test_finish)
{
    mf_store *s = open_mem();
    add_job(s, "f", "sample", "m", 1);
    claim_ok(s, "f", 2);
    uint64_t seq = 0;
    ck_assert_int_eq(mf_store_event_append(s, "f", "progress", "{\"done\":1}", &seq), MF_OK);
    ck_assert_uint_eq(seq, 2);
    ck_assert_int_eq(
        mf_store_job_finish(s, "f", MF_JOB_SUCCEEDED, "{\"samples\":[]}", NULL, SUCCESS_EV, 20.25),
        MF_OK);
    mf_job_rec g = get_job(s, "f");
    ck_assert_int_eq(g.state, MF_JOB_SUCCEEDED);
    ck_assert_str_eq(g.result, "{\"samples\":[]}");
    ck_assert_ptr_null(g.error);
    ck_assert(g.finished_at == 20.25);
    ck_assert(g.started_at == 2.0);
    ck_assert_uint_eq(g.last_seq, 3);
    mf_job_rec_done(&g);
    size_t n;
    mf_event_rec *ev = all_events(s, "f", &n);
    ck_assert_uint_eq(n, 3);
    assert_event(&ev[0], 1, "status", QUEUED_EV);
    assert_event(&ev[1], 2, "progress", "{\"done\":1}");
    assert_event(&ev[2], 3, "status", SUCCESS_EV);
    mf_event_recs_free(ev, n);

    /* already final: nothing changes, the log is closed */
    ck_assert_int_eq(mf_store_job_finish(s, "f", MF_JOB_FAILED, NULL, ERR_JSON, FAILED_EV, 30),
                     MF_EBUSY);
    ck_assert_int_eq(
        mf_store_job_finish(s, "f", MF_JOB_SUCCEEDED, "{\"again\":1}", NULL, SUCCESS_EV, 30),
        MF_EBUSY);
    seq = 77;
    ck_assert_int_eq(mf_store_event_append(s, "f", "progress", "{}", &seq), MF_EBUSY);
    ck_assert_uint_eq(seq, 77);
    g = get_job(s, "f");
    ck_assert_int_eq(g.state, MF_JOB_SUCCEEDED);
    ck_assert_str_eq(g.result, "{\"samples\":[]}");
    ck_assert_ptr_null(g.error);
    ck_assert(g.finished_at == 20.25);
    ck_assert_uint_eq(g.last_seq, 3);
    mf_job_rec_done(&g);
    ev = all_events(s, "f", &n);
    ck_assert_uint_eq(n, 3);
    mf_event_recs_free(ev, n);

    /* failed from running, cancelled from queued */
    add_job(s, "g", "sample", "m", 1);
    claim_ok(s, "g", 2);
    ck_assert_int_eq(mf_store_job_finish(s, "g", MF_JOB_FAILED, NULL, ERR_JSON, FAILED_EV, 5),
                     MF_OK);
    g = get_job(s, "g");
    ck_assert_int_eq(g.state, MF_JOB_FAILED);
    ck_assert_ptr_null(g.result);
    ck_assert_str_eq(g.error, ERR_JSON);
    ck_assert_uint_eq(g.last_seq, 2);
    mf_job_rec_done(&g);
    add_job(s, "h", "sample", "m", 1);
    ck_assert_int_eq(mf_store_job_finish(s, "h", MF_JOB_CANCELLED, NULL, ERR_JSON, CANCEL_EV, 6),
                     MF_OK);
    g = get_job(s, "h");
    ck_assert_int_eq(g.state, MF_JOB_CANCELLED);
    ck_assert_str_eq(g.error, ERR_JSON);
    ck_assert(g.finished_at == 6.0);
    ck_assert(g.started_at == 0.0);
    mf_job_rec_done(&g);
    ev = all_events(s, "h", &n);
    ck_assert_uint_eq(n, 2);
    assert_event(&ev[1], 2, "status", CANCEL_EV);
    mf_event_recs_free(ev, n);

    /* invalid finishes leave a queued job queued */
    add_job(s, "i", "sample", "m", 1);
    ck_assert_int_eq(mf_store_job_finish(s, "i", MF_JOB_RUNNING, NULL, ERR_JSON, FAILED_EV, 1),
                     MF_EINVAL);
    ck_assert_int_eq(mf_store_job_finish(s, "i", MF_JOB_QUEUED, NULL, ERR_JSON, FAILED_EV, 1),
                     MF_EINVAL);
    ck_assert_int_eq(mf_store_job_finish(s, "i", (mf_job_state) 7, NULL, ERR_JSON, FAILED_EV, 1),
                     MF_EINVAL);
    ck_assert_int_eq(mf_store_job_finish(s, "i", MF_JOB_SUCCEEDED, NULL, NULL, SUCCESS_EV, 1),
                     MF_EINVAL);
    ck_assert_int_eq(mf_store_job_finish(s, "i", MF_JOB_SUCCEEDED, "{}", ERR_JSON, SUCCESS_EV, 1),
                     MF_EINVAL);
    ck_assert_int_eq(mf_store_job_finish(s, "i", MF_JOB_FAILED, NULL, NULL, FAILED_EV, 1),
                     MF_EINVAL);
    ck_assert_int_eq(mf_store_job_finish(s, "i", MF_JOB_FAILED, "{}", ERR_JSON, FAILED_EV, 1),
                     MF_EINVAL);
    ck_assert_int_eq(mf_store_job_finish(s, "i", MF_JOB_CANCELLED, NULL, ERR_JSON, NULL, 1),
                     MF_EINVAL);
    ck_assert_int_eq(mf_store_job_finish(s, "i", MF_JOB_CANCELLED, NULL, ERR_JSON, CANCEL_EV, NAN),
                     MF_EINVAL);
    ck_assert_int_eq(mf_store_job_finish(s, NULL, MF_JOB_CANCELLED, NULL, ERR_JSON, CANCEL_EV, 1),
                     MF_EINVAL);
    ck_assert_int_eq(mf_store_job_finish(s, "zz", MF_JOB_CANCELLED, NULL, ERR_JSON, CANCEL_EV, 1),
                     MF_ENOTFOUND);
    g = get_job(s, "i");
    ck_assert_int_eq(g.state, MF_JOB_QUEUED);
    ck_assert_uint_eq(g.last_seq, 1);
    ck_assert(g.finished_at == 0.0);
    mf_job_rec_done(&g);
    mf_store_close(s);
}

END_TEST

/* ---- events -------------------------------------------------------------------- */

START_TEST(test_events)
{
    mf_store *s = open_mem();
    add_job(s, "e", "train", "", 1);
    for (uint64_t k = 2; k <= 10; k++) {
        char data[32];
        snprintf(data, sizeof data, "{\"k\":%llu}", (unsigned long long) k);
        uint64_t seq = 0;
        ck_assert_int_eq(mf_store_event_append(s, "e", k % 2 ? "metrics" : "progress", data, &seq),
                         MF_OK);
        ck_assert_uint_eq(seq, k);
    }
    size_t n;
    mf_event_rec *ev = all_events(s, "e", &n);
    ck_assert_uint_eq(n, 10);
    assert_event(&ev[0], 1, "status", QUEUED_EV);
    for (uint64_t k = 2; k <= 10; k++) {
        char data[32];
        snprintf(data, sizeof data, "{\"k\":%llu}", (unsigned long long) k);
        assert_event(&ev[k - 1], k, k % 2 ? "metrics" : "progress", data);
    }
    mf_event_recs_free(ev, n);

    /* windows: after = 4 starts at 5; max is respected */
    ev = NULL;
    ck_assert_int_eq(mf_store_events_after(s, "e", 4, 100, &ev, &n), MF_OK);
    ck_assert_uint_eq(n, 6);
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(ev[i].seq, 5 + i);
    }
    mf_event_recs_free(ev, n);
    ck_assert_int_eq(mf_store_events_after(s, "e", 4, 3, &ev, &n), MF_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(ev[0].seq, 5);
    ck_assert_uint_eq(ev[2].seq, 7);
    mf_event_recs_free(ev, n);
    ck_assert_int_eq(mf_store_events_after(s, "e", 9, 1, &ev, &n), MF_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(ev[0].seq, 10);
    mf_event_recs_free(ev, n);
    ck_assert_int_eq(mf_store_events_after(s, "e", 0, SIZE_MAX, &ev, &n), MF_OK);
    ck_assert_uint_eq(n, 10);
    mf_event_recs_free(ev, n);
    /* nothing after the last, or past every possible seq: empty, not an error */
    static const uint64_t past[] = {10, 11, (uint64_t) INT64_MAX, (uint64_t) INT64_MAX + 1,
                                    UINT64_MAX};
    mf_event_rec dummy;
    for (size_t i = 0; i < sizeof past / sizeof past[0]; i++) {
        ev = &dummy; /* any non-NULL value */
        n = 99;
        ck_assert_int_eq(mf_store_events_after(s, "e", past[i], 5, &ev, &n), MF_OK);
        ck_assert_uint_eq(n, 0);
        ck_assert_ptr_null(ev);
    }

    /* errors; the outputs are untouched */
    mf_event_rec *keep = &dummy;
    ev = keep;
    n = 42;
    ck_assert_int_eq(mf_store_events_after(s, "e", 0, 0, &ev, &n), MF_EINVAL);
    ck_assert_int_eq(mf_store_events_after(s, "nope", 0, 5, &ev, &n), MF_ENOTFOUND);
    ck_assert_int_eq(mf_store_events_after(s, NULL, 0, 5, &ev, &n), MF_EINVAL);
    ck_assert_int_eq(mf_store_events_after(s, "e", 0, 5, NULL, &n), MF_EINVAL);
    ck_assert_int_eq(mf_store_events_after(s, "e", 0, 5, &ev, NULL), MF_EINVAL);
    ck_assert_ptr_eq(ev, keep);
    ck_assert_uint_eq(n, 42);

    uint64_t seq = 1234;
    ck_assert_int_eq(mf_store_event_append(s, "nope", "progress", "{}", &seq), MF_ENOTFOUND);
    ck_assert_int_eq(mf_store_event_append(s, "e", "", "{}", &seq), MF_EINVAL);
    ck_assert_int_eq(mf_store_event_append(s, "e", "sixteen_chars_xx", "{}", &seq), MF_EINVAL);
    ck_assert_int_eq(mf_store_event_append(s, "e", "a\nb", "{}", &seq), MF_EINVAL);
    ck_assert_int_eq(mf_store_event_append(s, "e", NULL, "{}", &seq), MF_EINVAL);
    ck_assert_int_eq(mf_store_event_append(s, "e", "progress", NULL, &seq), MF_EINVAL);
    ck_assert_int_eq(mf_store_event_append(s, NULL, "progress", "{}", &seq), MF_EINVAL);
    ck_assert_uint_eq(seq, 1234);
    /* the longest name; ret_seq may be NULL */
    ck_assert_int_eq(mf_store_event_append(s, "e", "fifteen_chars_x", "{}", NULL), MF_OK);
    ck_assert_int_eq(mf_store_event_append(s, "e", "samples", "[]", &seq), MF_OK);
    ck_assert_uint_eq(seq, 12);
    ev = all_events(s, "e", &n);
    ck_assert_uint_eq(n, 12);
    assert_event(&ev[10], 11, "fifteen_chars_x", "{}");
    mf_event_recs_free(ev, n);
    mf_job_rec g = get_job(s, "e");
    ck_assert_uint_eq(g.last_seq, 12);
    mf_job_rec_done(&g);
    mf_store_close(s);
}

END_TEST

/* ---- listing ------------------------------------------------------------------- */

/*
 * job-00 .. job-09 created at 1000 + i: odd ones "train", even ones "sample";
 * model "moons" when i % 3 == 0, else "digits".  tie-a and tie-b share
 * created_at 1004.5 (sample, moons).  job-01 and job-03 running, job-05
 * succeeded, job-07 cancelled.
 */
static mf_store *listing_store(void)
{
    mf_store *s = open_mem();
    for (int i = 0; i < 10; i++) {
        char id[16];
        snprintf(id, sizeof id, "job-%02d", i);
        add_job(s, id, i % 2 ? "train" : "sample", i % 3 == 0 ? "moons" : "digits", 1000 + i);
    }
    add_job(s, "tie-b", "sample", "moons", 1004.5);
    add_job(s, "tie-a", "sample", "moons", 1004.5);
    claim_ok(s, "job-01", 2000);
    claim_ok(s, "job-03", 2000);
    claim_ok(s, "job-05", 2000);
    ck_assert_int_eq(mf_store_job_metrics(s, "job-05", "{\"m\":1}"), MF_OK);
    ck_assert_int_eq(
        mf_store_job_finish(s, "job-05", MF_JOB_SUCCEEDED, "{\"r\":1}", NULL, SUCCESS_EV, 2001),
        MF_OK);
    ck_assert_int_eq(
        mf_store_job_finish(s, "job-07", MF_JOB_CANCELLED, NULL, ERR_JSON, CANCEL_EV, 2001), MF_OK);
    return s;
}

START_TEST(test_list)
{
    mf_store *s = listing_store();
    char ids[512];
    mf_job_filter f = {.state = -1, .limit = 100};
    list_ids(s, &f, ids, sizeof ids);
    ck_assert_str_eq(ids, "job-09,job-08,job-07,job-06,job-05,tie-b,tie-a,job-04,job-03,job-02,"
                          "job-01,job-00");

    /* listed records: fixed fields and the error, no params, result or metrics */
    mf_job_rec *jobs = NULL;
    size_t n = 0;
    ck_assert_int_eq(mf_store_job_list(s, &f, &jobs, &n), MF_OK);
    ck_assert_uint_eq(n, 12);
    for (size_t i = 0; i < n; i++) {
        ck_assert_ptr_null(jobs[i].params);
        ck_assert_ptr_null(jobs[i].result);
        ck_assert_ptr_null(jobs[i].metrics);
    }
    ck_assert_str_eq(jobs[2].id, "job-07");
    ck_assert_int_eq(jobs[2].state, MF_JOB_CANCELLED);
    ck_assert_str_eq(jobs[2].error, ERR_JSON);
    ck_assert(jobs[2].finished_at == 2001.0);
    ck_assert_str_eq(jobs[4].id, "job-05");
    ck_assert_int_eq(jobs[4].state, MF_JOB_SUCCEEDED);
    ck_assert_ptr_null(jobs[4].error);
    ck_assert_str_eq(jobs[4].type, "train");
    ck_assert_str_eq(jobs[4].model, "digits");
    ck_assert_uint_eq(jobs[4].attempts, 1);
    ck_assert_uint_eq(jobs[4].last_seq, 2);
    ck_assert(jobs[4].created_at == 1005.0);
    ck_assert(jobs[4].started_at == 2000.0);
    for (size_t i = 0; i < n; i++) {
        mf_job_rec_done(&jobs[i]);
    }
    free(jobs);

    /* paging by `before`: strictly older in (created_at, id) order, ties included */
    f.limit = 5;
    list_ids(s, &f, ids, sizeof ids);
    ck_assert_str_eq(ids, "job-09,job-08,job-07,job-06,job-05");
    f.before = "job-05";
    list_ids(s, &f, ids, sizeof ids);
    ck_assert_str_eq(ids, "tie-b,tie-a,job-04,job-03,job-02");
    f.before = "tie-b";
    f.limit = 1;
    list_ids(s, &f, ids, sizeof ids);
    ck_assert_str_eq(ids, "tie-a");
    f.before = "job-02";
    f.limit = 5;
    list_ids(s, &f, ids, sizeof ids);
    ck_assert_str_eq(ids, "job-01,job-00");
    f.before = "job-00";
    list_ids(s, &f, ids, sizeof ids);
    ck_assert_str_eq(ids, "");

    /* filters, alone and together, with paging */
    mf_job_filter g = {.state = MF_JOB_RUNNING, .limit = 100};
    list_ids(s, &g, ids, sizeof ids);
    ck_assert_str_eq(ids, "job-03,job-01");
    g = (mf_job_filter){.state = MF_JOB_QUEUED, .limit = 100};
    list_ids(s, &g, ids, sizeof ids);
    ck_assert_str_eq(ids, "job-09,job-08,job-06,tie-b,tie-a,job-04,job-02,job-00");
    g = (mf_job_filter){.state = -1, .type = "train", .limit = 100};
    list_ids(s, &g, ids, sizeof ids);
    ck_assert_str_eq(ids, "job-09,job-07,job-05,job-03,job-01");
    g = (mf_job_filter){.state = -1, .model = "moons", .limit = 100};
    list_ids(s, &g, ids, sizeof ids);
    ck_assert_str_eq(ids, "job-09,job-06,tie-b,tie-a,job-03,job-00");
    g = (mf_job_filter){.state = -1, .model = "moons", .type = "sample", .limit = 100};
    list_ids(s, &g, ids, sizeof ids);
    ck_assert_str_eq(ids, "job-06,tie-b,tie-a,job-00");
    g = (mf_job_filter){.state = MF_JOB_QUEUED, .model = "moons", .before = "tie-b", .limit = 2};
    list_ids(s, &g, ids, sizeof ids);
    ck_assert_str_eq(ids, "tie-a,job-00");
    g = (mf_job_filter){.state = MF_JOB_FAILED, .limit = 100};
    list_ids(s, &g, ids, sizeof ids);
    ck_assert_str_eq(ids, "");
    g = (mf_job_filter){.state = -1, .model = "nope", .limit = 100};
    list_ids(s, &g, ids, sizeof ids);
    ck_assert_str_eq(ids, "");
    g = (mf_job_filter){.state = -1, .model = "digits", .limit = 1000};
    list_ids(s, &g, ids, sizeof ids);
    ck_assert_str_eq(ids, "job-08,job-07,job-05,job-04,job-02,job-01");
    mf_store_close(s);
}

END_TEST

/* Invalid filters: the outputs stay untouched. */
typedef struct list_case {
    mf_job_filter f;
    mf_err want;
} list_case;

static const list_case list_cases[] = {
    {{.state = -1, .limit = 0}, MF_EINVAL},
    {{.state = -1, .limit = 1001}, MF_EINVAL},
    {{.state = -1, .limit = SIZE_MAX}, MF_EINVAL},
    {{.state = 5, .limit = 10}, MF_EINVAL},
    {{.state = -2, .limit = 10}, MF_EINVAL},
    {{.state = -1, .before = "nope", .limit = 10}, MF_ENOTFOUND},
    {{.state = -1, .before = "", .limit = 10}, MF_ENOTFOUND},
};

START_TEST(test_list_errors)
{
    mf_store *s = listing_store();
    mf_job_rec dummy;
    mf_job_rec *keep = &dummy, *jobs = keep;
    size_t n = 42;
    ck_assert_int_eq(mf_store_job_list(s, &list_cases[_i].f, &jobs, &n), list_cases[_i].want);
    ck_assert_ptr_eq(jobs, keep);
    ck_assert_uint_eq(n, 42);
    mf_job_filter ok = {.state = -1, .limit = 10};
    ck_assert_int_eq(mf_store_job_list(s, NULL, &jobs, &n), MF_EINVAL);
    ck_assert_int_eq(mf_store_job_list(NULL, &ok, &jobs, &n), MF_EINVAL);
    ck_assert_int_eq(mf_store_job_list(s, &ok, NULL, &n), MF_EINVAL);
    ck_assert_int_eq(mf_store_job_list(s, &ok, &jobs, NULL), MF_EINVAL);
    ck_assert_ptr_eq(jobs, keep);
    mf_store_close(s);
}

END_TEST

START_TEST(test_jobs_queued)
{
    mf_store *s = open_mem();
    char(*ids)[MF_ID_MAX + 1] = NULL;
    size_t n = 99;
    ck_assert_int_eq(mf_store_jobs_queued(s, &ids, &n), MF_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(ids);

    add_job(s, "c", "sample", "", 30);
    add_job(s, "a", "sample", "", 10);
    add_job(s, "b2", "sample", "", 20);
    add_job(s, "b1", "sample", "", 20);
    add_job(s, "run", "sample", "", 5);
    add_job(s, "gone", "sample", "", 1);
    claim_ok(s, "run", 40);
    ck_assert_int_eq(
        mf_store_job_finish(s, "gone", MF_JOB_CANCELLED, NULL, ERR_JSON, CANCEL_EV, 40), MF_OK);
    ck_assert_int_eq(mf_store_jobs_queued(s, &ids, &n), MF_OK);
    ck_assert_uint_eq(n, 4);
    ck_assert_str_eq(ids[0], "a");
    ck_assert_str_eq(ids[1], "b1");
    ck_assert_str_eq(ids[2], "b2");
    ck_assert_str_eq(ids[3], "c");
    free(ids);

    ck_assert_int_eq(mf_store_jobs_queued(NULL, &ids, &n), MF_EINVAL);
    ck_assert_int_eq(mf_store_jobs_queued(s, NULL, &n), MF_EINVAL);
    ck_assert_int_eq(mf_store_jobs_queued(s, &ids, NULL), MF_EINVAL);
    mf_store_close(s);
}

END_TEST

/* ---- recovery, expiry, counts -------------------------------------------------- */

#define REQUEUE_EV "{\"state\":\"queued\",\"reason\":\"restart\"}"
#define FAIL_ERR   "{\"code\":\"interrupted\",\"message\":\"server restarted\"}"

/* Recovery events: REQUEUE_EV / FAILED_EV for every job (NULL once *ctx says "fail"). */
static char *fixed_events(void *ctx, const mf_job_rec *job)
{
    if (ctx != NULL && *(int *) ctx != 0) {
        return NULL;
    }
    /* the job as recovery leaves it: queued, or failed with the error and finish time */
    ck_assert(job->state == MF_JOB_QUEUED || job->state == MF_JOB_FAILED);
    ck_assert(job->state == MF_JOB_QUEUED ? job->error == NULL && job->finished_at == 0
                                          : job->error != NULL && job->finished_at > 0);
    return strdup(job->state == MF_JOB_QUEUED ? REQUEUE_EV : FAILED_EV);
}

START_TEST(test_recover)
{
    mf_store *s = open_mem();
    add_job(s, "a", "sample", "", 1); /* running, 1 attempt: back to the queue */
    add_job(s, "b", "sample", "", 2); /* running, 2 attempts: failed */
    add_job(s, "c", "sample", "", 3); /* queued: untouched */
    add_job(s, "d", "sample", "", 4); /* succeeded: untouched */
    claim_ok(s, "d", 5);
    ck_assert_int_eq(mf_store_job_finish(s, "d", MF_JOB_SUCCEEDED, "{}", NULL, SUCCESS_EV, 6),
                     MF_OK);
    claim_ok(s, "b", 7);
    size_t rq = 99, fl = 99;
    ck_assert_int_eq(mf_store_recover(s, 10, fixed_events, NULL, FAIL_ERR, 8, &rq, &fl), MF_OK);
    ck_assert_uint_eq(rq, 1);
    ck_assert_uint_eq(fl, 0);
    claim_ok(s, "b", 9);
    claim_ok(s, "a", 9);

    ck_assert_int_eq(mf_store_recover(s, 2, fixed_events, NULL, FAIL_ERR, 500, &rq, &fl), MF_OK);
    ck_assert_uint_eq(rq, 1);
    ck_assert_uint_eq(fl, 1);

    mf_job_rec g = get_job(s, "a");
    ck_assert_int_eq(g.state, MF_JOB_QUEUED);
    ck_assert_uint_eq(g.attempts, 1);
    ck_assert(g.started_at == 0.0);
    ck_assert(g.finished_at == 0.0);
    ck_assert_uint_eq(g.last_seq, 2);
    mf_job_rec_done(&g);
    size_t n;
    mf_event_rec *ev = all_events(s, "a", &n);
    ck_assert_uint_eq(n, 2);
    assert_event(&ev[1], 2, "status", REQUEUE_EV);
    mf_event_recs_free(ev, n);

    g = get_job(s, "b");
    ck_assert_int_eq(g.state, MF_JOB_FAILED);
    ck_assert_uint_eq(g.attempts, 2);
    ck_assert_str_eq(g.error, FAIL_ERR);
    ck_assert_ptr_null(g.result);
    ck_assert(g.finished_at == 500.0);
    ck_assert_uint_eq(g.last_seq, 3);
    mf_job_rec_done(&g);
    ev = all_events(s, "b", &n);
    ck_assert_uint_eq(n, 3);
    assert_event(&ev[1], 2, "status", REQUEUE_EV); /* the first recovery */
    assert_event(&ev[2], 3, "status", FAILED_EV);
    mf_event_recs_free(ev, n);
    ck_assert_int_eq(mf_store_event_append(s, "b", "progress", "{}", NULL), MF_EBUSY);

    g = get_job(s, "c");
    ck_assert_int_eq(g.state, MF_JOB_QUEUED);
    ck_assert_uint_eq(g.last_seq, 1);
    mf_job_rec_done(&g);
    g = get_job(s, "d");
    ck_assert_int_eq(g.state, MF_JOB_SUCCEEDED);
    ck_assert_uint_eq(g.last_seq, 2);
    ck_assert(g.finished_at == 6.0);
    mf_job_rec_done(&g);

    /* nothing running: nothing to do; the counts are optional */
    ck_assert_int_eq(mf_store_recover(s, 2, fixed_events, NULL, FAIL_ERR, 600, &rq, &fl), MF_OK);
    ck_assert_uint_eq(rq, 0);
    ck_assert_uint_eq(fl, 0);
    /* max_attempts 0: every running job fails */
    claim_ok(s, "c", 700);
    ck_assert_int_eq(mf_store_recover(s, 0, fixed_events, NULL, FAIL_ERR, 701, NULL, NULL), MF_OK);
    ck_assert_int_eq(state_of(s, "c"), MF_JOB_FAILED);
    /* no memory for an event: MF_ENOMEM, and the job stays as it was */
    add_job(s, "e", "sample", "", 702);
    claim_ok(s, "e", 703);
    int no_memory = 1;
    ck_assert_int_eq(mf_store_recover(s, 2, fixed_events, &no_memory, FAIL_ERR, 704, NULL, NULL),
                     MF_ENOMEM);
    ck_assert_int_eq(state_of(s, "e"), MF_JOB_RUNNING);

    rq = fl = 77;
    ck_assert_int_eq(mf_store_recover(s, 2, NULL, NULL, FAIL_ERR, 1, &rq, &fl), MF_EINVAL);
    ck_assert_int_eq(mf_store_recover(s, 2, fixed_events, NULL, NULL, 1, &rq, &fl), MF_EINVAL);
    ck_assert_int_eq(mf_store_recover(s, 2, fixed_events, NULL, FAIL_ERR, NAN, &rq, &fl),
                     MF_EINVAL);
    ck_assert_int_eq(mf_store_recover(NULL, 2, fixed_events, NULL, FAIL_ERR, 1, &rq, &fl),
                     MF_EINVAL);
    ck_assert_uint_eq(rq, 77);
    ck_assert_uint_eq(fl, 77);
    mf_store_close(s);
}

END_TEST

START_TEST(test_expire)
{
    char dir[64], path[128], uri[512];
    fresh_uri(dir, sizeof dir, path, sizeof path, uri, sizeof uri);
    mf_store *s = open_uri(uri);
    add_job(s, "f1", "sample", "", 1);
    add_job(s, "f2", "sample", "", 1);
    add_job(s, "f3", "sample", "", 1);
    add_job(s, "r", "sample", "", 1);
    add_job(s, "q", "sample", "", 1);
    claim_ok(s, "f1", 50);
    ck_assert_int_eq(mf_store_event_append(s, "f1", "progress", "{}", NULL), MF_OK);
    ck_assert_int_eq(mf_store_job_finish(s, "f1", MF_JOB_FAILED, NULL, ERR_JSON, FAILED_EV, 100),
                     MF_OK);
    ck_assert_int_eq(mf_store_job_finish(s, "f2", MF_JOB_CANCELLED, NULL, ERR_JSON, CANCEL_EV, 200),
                     MF_OK);
    claim_ok(s, "f3", 50);
    ck_assert_int_eq(mf_store_job_finish(s, "f3", MF_JOB_SUCCEEDED, "{}", NULL, SUCCESS_EV, 150),
                     MF_OK);
    claim_ok(s, "r", 50);

    size_t n = 99;
    ck_assert_int_eq(mf_store_expire(s, 100, &n), MF_OK); /* strictly before */
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(mf_store_expire(s, 150, &n), MF_OK);
    ck_assert_uint_eq(n, 1);
    mf_job_rec out;
    ck_assert_int_eq(mf_store_job_get(s, "f1", &out), MF_ENOTFOUND);
    mf_event_rec *ev = NULL;
    size_t ne = 0;
    ck_assert_int_eq(mf_store_events_after(s, "f1", 0, 10, &ev, &ne), MF_ENOTFOUND);
    uint64_t counts[5];
    ck_assert_int_eq(mf_store_count_states(s, counts), MF_OK);
    ck_assert_uint_eq(counts[MF_JOB_QUEUED], 1);
    ck_assert_uint_eq(counts[MF_JOB_RUNNING], 1);
    ck_assert_uint_eq(counts[MF_JOB_SUCCEEDED], 1);
    ck_assert_uint_eq(counts[MF_JOB_FAILED], 0);
    ck_assert_uint_eq(counts[MF_JOB_CANCELLED], 1);
    /* its events are gone: a new job of the same id starts a fresh log */
    add_job(s, "f1", "sample", "", 300);
    ev = all_events(s, "f1", &ne);
    ck_assert_uint_eq(ne, 1);
    assert_event(&ev[0], 1, "status", QUEUED_EV);
    mf_event_recs_free(ev, ne);

    ck_assert_int_eq(mf_store_expire(s, INFINITY, NULL), MF_OK); /* every final job */
    ck_assert_int_eq(mf_store_job_get(s, "f2", &out), MF_ENOTFOUND);
    ck_assert_int_eq(mf_store_job_get(s, "f3", &out), MF_ENOTFOUND);
    ck_assert_int_eq(state_of(s, "r"), MF_JOB_RUNNING);
    ck_assert_int_eq(state_of(s, "q"), MF_JOB_QUEUED);
    ck_assert_int_eq(state_of(s, "f1"), MF_JOB_QUEUED);
    n = 5;
    ck_assert_int_eq(mf_store_expire(s, NAN, &n), MF_EINVAL);
    ck_assert_int_eq(mf_store_expire(NULL, 1, &n), MF_EINVAL);
    ck_assert_uint_eq(n, 5);
    mf_store_close(s);

    /* on disk: exactly the events of the three live jobs, none orphaned */
    ck_assert_int_eq(db_int(path, "SELECT count(*) FROM events"), 3);
    ck_assert_int_eq(
        db_int(path, "SELECT count(*) FROM events WHERE job_id NOT IN (SELECT id FROM jobs)"), 0);
    fresh_done(dir);
}

END_TEST

START_TEST(test_count_states)
{
    mf_store *s = open_mem();
    uint64_t counts[5] = {9, 9, 9, 9, 9};
    ck_assert_int_eq(mf_store_count_states(s, counts), MF_OK);
    for (int i = 0; i < 5; i++) {
        ck_assert_uint_eq(counts[i], 0);
    }
    static const char *const ids[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
    for (size_t i = 0; i < 10; i++) {
        add_job(s, ids[i], "sample", "", (double) i);
    }
    for (size_t i = 0; i < 7; i++) {
        claim_ok(s, ids[i], 10);
    }
    ck_assert_int_eq(mf_store_job_finish(s, "a", MF_JOB_SUCCEEDED, "{}", NULL, SUCCESS_EV, 11),
                     MF_OK);
    ck_assert_int_eq(mf_store_job_finish(s, "b", MF_JOB_SUCCEEDED, "{}", NULL, SUCCESS_EV, 11),
                     MF_OK);
    ck_assert_int_eq(mf_store_job_finish(s, "c", MF_JOB_FAILED, NULL, ERR_JSON, FAILED_EV, 11),
                     MF_OK);
    ck_assert_int_eq(mf_store_job_finish(s, "j", MF_JOB_CANCELLED, NULL, ERR_JSON, CANCEL_EV, 11),
                     MF_OK);
    ck_assert_int_eq(mf_store_count_states(s, counts), MF_OK);
    ck_assert_uint_eq(counts[MF_JOB_QUEUED], 2);
    ck_assert_uint_eq(counts[MF_JOB_RUNNING], 4);
    ck_assert_uint_eq(counts[MF_JOB_SUCCEEDED], 2);
    ck_assert_uint_eq(counts[MF_JOB_FAILED], 1);
    ck_assert_uint_eq(counts[MF_JOB_CANCELLED], 1);
    ck_assert_int_eq(mf_store_count_states(s, NULL), MF_EINVAL);
    ck_assert_int_eq(mf_store_count_states(NULL, counts), MF_EINVAL);
    ck_assert_int_eq(mf_store_ping(NULL), MF_EINVAL);
    mf_store_close(s);
    mf_store_close(NULL);
}

END_TEST

/* ---- files --------------------------------------------------------------------- */

START_TEST(test_persistence)
{
    char dir[64], path[128], uri[160];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/jobs.db", dir);
    snprintf(uri, sizeof uri, "sqlite:%s", path);
    mf_store *s = open_uri(uri);
    ck_assert(file_exists(path));
    add_job(s, "one", "sample", "two_moons", 1.25);
    add_job(s, "two", "train", "", 2.5);
    add_job(s, "three", "sample", "digits", 3.75);
    claim_ok(s, "two", 4);
    ck_assert_int_eq(mf_store_job_progress(s, "two", 3, 8), MF_OK);
    ck_assert_int_eq(mf_store_job_metrics(s, "two", "{\"loss\":1.5}"), MF_OK);
    ck_assert_int_eq(mf_store_event_append(s, "two", "progress", "{\"done\":3}", NULL), MF_OK);
    ck_assert_int_eq(
        mf_store_job_finish(s, "three", MF_JOB_CANCELLED, NULL, ERR_JSON, CANCEL_EV, 5), MF_OK);
    static const char *const ids[] = {"one", "two", "three"};
    mf_job_rec before[3];
    for (int i = 0; i < 3; i++) {
        before[i] = get_job(s, ids[i]);
    }
    mf_store_close(s);

    /* a job store file: WAL, marked as ours, schema version 3 */
    char mode[32];
    raw_text(path, "PRAGMA journal_mode", mode, sizeof mode);
    ck_assert_str_eq(mode, "wal");
    ck_assert_int_eq(raw_int(path, "PRAGMA application_id"), 0x4D464C44);
    ck_assert_int_eq(raw_int(path, "PRAGMA user_version"), 3);

    s = open_uri(uri);
    for (int i = 0; i < 3; i++) {
        mf_job_rec after = get_job(s, ids[i]);
        assert_same_job(&before[i], &after);
        mf_job_rec_done(&after);
        mf_job_rec_done(&before[i]);
    }
    size_t n;
    mf_event_rec *ev = all_events(s, "two", &n);
    ck_assert_uint_eq(n, 2);
    assert_event(&ev[0], 1, "status", QUEUED_EV);
    assert_event(&ev[1], 2, "progress", "{\"done\":3}");
    mf_event_recs_free(ev, n);
    /* the log goes on where it stopped */
    uint64_t seq = 0;
    ck_assert_int_eq(mf_store_event_append(s, "two", "progress", "{\"done\":4}", &seq), MF_OK);
    ck_assert_uint_eq(seq, 3);

    /* a second handle on the same file (another replica) sees the same rows */
    mf_store *s2 = open_uri(uri);
    ck_assert_int_eq(mf_store_job_claim(s2, "two", 9), MF_EBUSY);
    ck_assert_int_eq(mf_store_job_claim(s2, "one", 9), MF_OK);
    ck_assert_int_eq(state_of(s, "one"), MF_JOB_RUNNING);
    ck_assert_int_eq(mf_store_event_append(s2, "two", "progress", "{}", &seq), MF_OK);
    ck_assert_uint_eq(seq, 4);
    mf_store_close(s2);
    mf_store_close(s);

    /* an empty file is a new database: it becomes a store */
    char empty[160], empty_uri[192];
    snprintf(empty, sizeof empty, "%s/empty.db", dir);
    FILE *fp = fopen(empty, "wb");
    ck_assert_ptr_nonnull(fp);
    fclose(fp);
    snprintf(empty_uri, sizeof empty_uri, "sqlite:%s", empty);
    s = open_uri(empty_uri);
    add_job(s, "x", "sample", "", 1);
    mf_store_close(s);
    ck_assert_int_eq(raw_int(empty, "SELECT count(*) FROM jobs"), 1);
    remove_tmpdir(dir);
}

END_TEST

/* Opens uri expecting failure `want` with a message containing `needle`; *ret untouched. */
static void open_fails(const char *uri, mf_err want, const char *needle)
{
    mf_store *keep = (mf_store *) &keep, *s = keep;
    mf_diag d = {0};
    mf_err err = mf_store_open(uri, &s, &d);
    ck_assert_msg(err == want, "open %s: %s, want %s (%s)", uri, mf_err_name(err),
                  mf_err_name(want), d.msg);
    ck_assert_ptr_eq(s, keep);
    ck_assert_msg(strstr(d.msg, needle) != NULL, "open %s: \"%s\" lacks \"%s\"", uri, d.msg,
                  needle);
}

START_TEST(test_open_errors)
{
    open_fails("mysql://user:secret@db/manifold", MF_EINVAL, "sqlite:PATH");
    mf_diag d = {0};
    mf_store *s = NULL;
    ck_assert_int_eq(mf_store_open("mysql://user:secret@db/manifold", &s, &d), MF_EINVAL);
    ck_assert_ptr_null(strstr(d.msg, "secret")); /* no credentials in logs */
    ck_assert_ptr_nonnull(strstr(d.msg, "mysql"));
    ck_assert_ptr_nonnull(strstr(d.msg, "postgres://"));
    open_fails("", MF_EINVAL, "sqlite:PATH");
    open_fails("jobs.db", MF_EINVAL, "sqlite:PATH");
    open_fails("SQLITE:jobs.db", MF_EINVAL, "sqlite:PATH");
    open_fails("sqlite", MF_EINVAL, "sqlite:PATH");
    open_fails("sqlite:", MF_EINVAL, "sqlite");
    ck_assert_int_eq(mf_store_open(NULL, &s, &d), MF_EINVAL);
    ck_assert_int_eq(mf_store_open(MEM_URI, NULL, &d), MF_EINVAL);
    /* a NULL diag is allowed */
    ck_assert_int_eq(mf_store_open("nope:x", &s, NULL), MF_EINVAL);

    char dir[64], path[160], uri[192];
    make_tmpdir(dir, sizeof dir);

    /* a directory that does not exist */
    snprintf(path, sizeof path, "%s/no/such/dir/jobs.db", dir);
    snprintf(uri, sizeof uri, "sqlite:%s", path);
    open_fails(uri, MF_EIO, path);
    ck_assert(!file_exists(path));
    /* a directory where the file should be */
    snprintf(uri, sizeof uri, "sqlite:%s", dir);
    open_fails(uri, MF_EIO, dir);

    /* not an SQLite file: refused and left exactly as it was */
    snprintf(path, sizeof path, "%s/garbage.db", dir);
    char garbage[8192];
    for (size_t i = 0; i < sizeof garbage; i++) {
        garbage[i] = "this is not a database\n"[i % 23];
    }
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(garbage, 1, sizeof garbage, fp), sizeof garbage);
    fclose(fp);
    snprintf(uri, sizeof uri, "sqlite:%s", path);
    open_fails(uri, MF_EFORMAT, "not an SQLite database");
    char back[sizeof garbage + 1];
    fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fread(back, 1, sizeof back, fp), sizeof garbage);
    fclose(fp);
    ck_assert_int_eq(memcmp(back, garbage, sizeof garbage), 0);

    /* an SQLite database of someone else: refused untouched (not even switched to WAL) */
    snprintf(path, sizeof path, "%s/foreign.db", dir);
    raw_exec(path, "CREATE TABLE foo (a INTEGER, b TEXT); INSERT INTO foo VALUES (1, 'x');");
    snprintf(uri, sizeof uri, "sqlite:%s", path);
    open_fails(uri, MF_EFORMAT, "not a Manifold job store");
    char mode[32];
    raw_text(path, "PRAGMA journal_mode", mode, sizeof mode);
    ck_assert_str_eq(mode, "delete");
    ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM sqlite_master"), 1);
    ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM foo"), 1);

    /* a job store of a newer schema version */
    snprintf(path, sizeof path, "%s/newer.db", dir);
    snprintf(uri, sizeof uri, "sqlite:%s", path);
    mf_store_close(open_uri(uri));
    raw_exec(path, "PRAGMA user_version = 4");
    open_fails(uri, MF_EFORMAT, "newer");

    /* marked as ours, but its tables are missing */
    snprintf(path, sizeof path, "%s/damaged.db", dir);
    raw_exec(path, "PRAGMA application_id = 1296452676; PRAGMA user_version = 3;"
                   "CREATE TABLE jobs (id TEXT);");
    snprintf(uri, sizeof uri, "sqlite:%s", path);
    open_fails(uri, MF_EFORMAT, "damaged");

    remove_tmpdir(dir);
}

END_TEST

/* A job store of schema version 1 (before jobs had owners) is migrated at
 * open: its jobs keep every field and belong to no one; new ones have owners. */
START_TEST(test_migrate_v1)
{
    char dir[64];
    make_tmpdir(dir, sizeof dir);
    char path[160], uri[170];
    snprintf(path, sizeof path, "%s/v1.db", dir);
    snprintf(uri, sizeof uri, "sqlite:%s", path);
    /* version 1's schema, as that build wrote it, with one finished job */
    raw_exec(path,
             "CREATE TABLE jobs (id TEXT NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),"
             " type TEXT NOT NULL CHECK (length(type) BETWEEN 1 AND 31),"
             " model TEXT NOT NULL CHECK (length(model) <= 64),"
             " state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 4),"
             " params TEXT, result TEXT, error TEXT, metrics TEXT,"
             " done INTEGER NOT NULL DEFAULT 0, total INTEGER NOT NULL DEFAULT 0,"
             " created_at REAL NOT NULL, started_at REAL NOT NULL DEFAULT 0,"
             " finished_at REAL NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
             " last_seq INTEGER NOT NULL DEFAULT 0);"
             "CREATE INDEX jobs_by_created ON jobs (created_at, id);"
             "CREATE INDEX jobs_by_state ON jobs (state, created_at, id);"
             "CREATE TABLE events (job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,"
             " seq INTEGER NOT NULL CHECK (seq >= 1),"
             " name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 15),"
             " data TEXT NOT NULL, PRIMARY KEY (job_id, seq));"
             "INSERT INTO jobs (id, type, model, state, params, result, done, total, created_at,"
             " finished_at, attempts, last_seq) VALUES ('old', 'sample', 'm', 2, '{\"n\":1}',"
             " '{\"ok\":1}', 3, 3, 10, 11, 1, 2);"
             "INSERT INTO events VALUES ('old', 1, 'status', '{}'), ('old', 2, 'status', '{}');"
             "PRAGMA application_id = 1296452676; PRAGMA user_version = 1;");
    mf_store *s = open_uri(uri);
    ck_assert_int_eq(raw_int(path, "PRAGMA user_version"), 3);
    mf_job_rec old = get_job(s, "old");
    ck_assert_str_eq(old.type, "sample");
    ck_assert_str_eq(old.model, "m");
    ck_assert_str_eq(old.owner, "");
    ck_assert_str_eq(old.params, "{\"n\":1}");
    ck_assert_str_eq(old.result, "{\"ok\":1}");
    ck_assert_int_eq(old.state, MF_JOB_SUCCEEDED);
    ck_assert_uint_eq(old.last_seq, 2);
    mf_job_rec_done(&old);
    mf_job_rec r = {.created_at = 20, .params = "{}"};
    snprintf(r.id, sizeof r.id, "new");
    snprintf(r.type, sizeof r.type, "train");
    snprintf(r.owner, sizeof r.owner, "alice");
    ck_assert_int_eq(mf_store_job_insert(s, &r, QUEUED_EV), MF_OK);
    mf_store_close(s);
    /* reopened (no migration left): the owner stayed, and the owner filter keeps
     * alice's jobs and those of no one */
    s = open_uri(uri);
    mf_job_rec got = get_job(s, "new");
    ck_assert_str_eq(got.owner, "alice");
    mf_job_rec_done(&got);
    mf_job_filter f = {.state = -1, .limit = 10, .owner = "bob"};
    mf_job_rec *recs = NULL;
    size_t n = 0;
    ck_assert_int_eq(mf_store_job_list(s, &f, &recs, &n), MF_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(recs[0].id, "old");
    mf_job_rec_done(&recs[0]);
    free(recs);
    f.owner = "alice";
    ck_assert_int_eq(mf_store_job_list(s, &f, &recs, &n), MF_OK);
    ck_assert_uint_eq(n, 2);
    for (size_t i = 0; i < n; i++) {
        mf_job_rec_done(&recs[i]);
    }
    free(recs);
    mf_store_close(s);
    remove_tmpdir(dir);
}

END_TEST

/* ---- concurrency --------------------------------------------------------------- */

enum {
    APPEND_THREADS = 4,
    APPENDS = 200,
    CLAIM_JOBS = 100,
};

typedef struct append_arg {
    mf_store *s;
    int t;
    uint64_t seqs[APPENDS];
    mf_err errs[APPENDS];
} append_arg;

static void *append_worker(void *p)
{
    append_arg *a = p;
    for (int i = 0; i < APPENDS; i++) {
        char data[48];
        snprintf(data, sizeof data, "{\"t\":%d,\"i\":%d}", a->t, i);
        a->errs[i] = mf_store_event_append(a->s, "hot", "progress", data, &a->seqs[i]);
    }
    return NULL;
}

/* _i = 0: the threads share one store handle; _i = 1: each has its own (four replicas
 * on one file, serialised by SQLite's locks and the busy timeout alone). */
START_TEST(test_concurrent_append)
{
    char dir[64], path[128], uri[512];
    fresh_uri(dir, sizeof dir, path, sizeof path, uri, sizeof uri);
    mf_store *s = open_uri(uri);
    add_job(s, "hot", "train", "", 1);
    claim_ok(s, "hot", 2);
    append_arg *args = calloc(APPEND_THREADS, sizeof *args);
    ck_assert_ptr_nonnull(args);
    pthread_t th[APPEND_THREADS];
    for (int t = 0; t < APPEND_THREADS; t++) {
        args[t].s = _i == 0 ? s : open_uri(uri);
    }
    for (int t = 0; t < APPEND_THREADS; t++) {
        args[t].t = t;
        ck_assert_int_eq(pthread_create(&th[t], NULL, append_worker, &args[t]), 0);
    }
    for (int t = 0; t < APPEND_THREADS; t++) {
        ck_assert_int_eq(pthread_join(th[t], NULL), 0);
    }

    /* seqs 2 .. 801 (1 is the queued event), each handed out exactly once */
    enum {
        TOTAL = APPEND_THREADS * APPENDS
    };

    int *seen = calloc(TOTAL + 2, sizeof *seen);
    ck_assert_ptr_nonnull(seen);
    for (int t = 0; t < APPEND_THREADS; t++) {
        for (int i = 0; i < APPENDS; i++) {
            ck_assert_msg(args[t].errs[i] == MF_OK, "thread %d append %d: %s", t, i,
                          mf_err_name(args[t].errs[i]));
            uint64_t q = args[t].seqs[i];
            ck_assert_uint_ge(q, 2);
            ck_assert_uint_le(q, TOTAL + 1);
            seen[q]++;
            if (i > 0) {
                ck_assert_uint_gt(q, args[t].seqs[i - 1]); /* a thread's events in its order */
            }
        }
    }
    for (int q = 2; q <= TOTAL + 1; q++) {
        ck_assert_int_eq(seen[q], 1);
    }
    /* the log agrees: 1 .. 801 without gaps, each event where its append said */
    size_t n;
    mf_event_rec *ev = all_events(s, "hot", &n);
    ck_assert_uint_eq(n, TOTAL + 1);
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(ev[i].seq, i + 1);
    }
    for (int t = 0; t < APPEND_THREADS; t++) {
        for (int i = 0; i < APPENDS; i++) {
            char data[48];
            snprintf(data, sizeof data, "{\"t\":%d,\"i\":%d}", t, i);
            ck_assert_str_eq(ev[args[t].seqs[i] - 1].data, data);
        }
    }
    mf_event_recs_free(ev, n);
    mf_job_rec g = get_job(s, "hot");
    ck_assert_uint_eq(g.last_seq, TOTAL + 1);
    mf_job_rec_done(&g);
    for (int t = 0; t < APPEND_THREADS; t++) {
        if (args[t].s != s) {
            mf_store_close(args[t].s);
        }
    }
    free(seen);
    free(args);
    mf_store_close(s);
    fresh_done(dir);
}

END_TEST

typedef struct claim_arg {
    mf_store *s;
    mf_err errs[CLAIM_JOBS];
} claim_arg;

static void *claim_worker(void *p)
{
    claim_arg *a = p;
    for (int i = 0; i < CLAIM_JOBS; i++) {
        char id[16];
        snprintf(id, sizeof id, "c%03d", i);
        a->errs[i] = mf_store_job_claim(a->s, id, 100 + i);
    }
    return NULL;
}

/* _i = 0: both threads share one store handle; _i = 1: each has its own (two replicas). */
START_TEST(test_concurrent_claim)
{
    char dir[64], path[128], uri[512];
    fresh_uri(dir, sizeof dir, path, sizeof path, uri, sizeof uri);
    mf_store *s = open_uri(uri);
    for (int i = 0; i < CLAIM_JOBS; i++) {
        char id[16];
        snprintf(id, sizeof id, "c%03d", i);
        add_job(s, id, "sample", "", i);
    }
    mf_store *other = _i == 0 ? s : open_uri(uri);
    claim_arg args[2] = {{.s = s}, {.s = other}};
    pthread_t th[2];
    for (int t = 0; t < 2; t++) {
        ck_assert_int_eq(pthread_create(&th[t], NULL, claim_worker, &args[t]), 0);
    }
    for (int t = 0; t < 2; t++) {
        ck_assert_int_eq(pthread_join(th[t], NULL), 0);
    }
    int wins[2] = {0, 0};
    for (int i = 0; i < CLAIM_JOBS; i++) {
        mf_err a = args[0].errs[i], b = args[1].errs[i];
        ck_assert_msg((a == MF_OK && b == MF_EBUSY) || (a == MF_EBUSY && b == MF_OK),
                      "job %d: %s and %s", i, mf_err_name(a), mf_err_name(b));
        wins[a == MF_OK ? 0 : 1]++;
        char id[16];
        snprintf(id, sizeof id, "c%03d", i);
        mf_job_rec g = get_job(s, id);
        ck_assert_int_eq(g.state, MF_JOB_RUNNING);
        ck_assert_uint_eq(g.attempts, 1);
        ck_assert(g.started_at == 100.0 + i);
        mf_job_rec_done(&g);
    }
    ck_assert_int_eq(wins[0] + wins[1], CLAIM_JOBS);
    uint64_t counts[5];
    ck_assert_int_eq(mf_store_count_states(s, counts), MF_OK);
    ck_assert_uint_eq(counts[MF_JOB_RUNNING], CLAIM_JOBS);
    ck_assert_uint_eq(counts[MF_JOB_QUEUED], 0);
    if (other != s) {
        mf_store_close(other);
    }
    mf_store_close(s);
    fresh_done(dir);
}

END_TEST

/* ---- leases (several replicas on one store) -------------------------------------- */

/* A handle on uri acting for replica `name`, leases of lease_s seconds. */
static mf_store *open_replica(const char *uri, const char *name, double lease_s)
{
    mf_store *s = open_uri(uri);
    ck_assert_int_eq(mf_store_set_lease(s, name, lease_s), MF_OK);
    return s;
}

/* ids[0..n) (malloc'd, NULL when none: freed here) as one comma-joined string. */
static void join_ids(char (*ids)[MF_ID_MAX + 1], size_t n, char *out, size_t cap)
{
    ck_assert(n == 0 ? ids == NULL : ids != NULL);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(out);
        snprintf(out + len, cap - len, "%s%s", i > 0 ? "," : "", ids[i]);
    }
    free(ids);
}

/* Reclaims expired leases at now: the ids requeued, as join_ids gives them. */
static void reclaim(mf_store *s, double now, char *out, size_t cap)
{
    char(*ids)[MF_ID_MAX + 1] = NULL;
    size_t n = 99, failed = 99;
    ck_assert_int_eq(
        mf_store_reclaim_expired(s, 3, fixed_events, NULL, FAIL_ERR, now, &ids, &n, &failed),
        MF_OK);
    ck_assert_uint_eq(failed, 0);
    join_ids(ids, n, out, cap);
}

/* Renews s's leases at now: the ids renewed, as reclaim() gives them. */
static void renew(mf_store *s, double now, char *out, size_t cap)
{
    char(*ids)[MF_ID_MAX + 1] = NULL;
    size_t n = 99;
    ck_assert_int_eq(mf_store_job_renew(s, now, &ids, &n), MF_OK);
    join_ids(ids, n, out, cap);
}

START_TEST(test_lease_arguments)
{
    mf_store *s = open_mem();
    char longname[MF_ID_MAX + 2];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ck_assert_int_eq(mf_store_set_lease(NULL, "a", 1), MF_EINVAL);
    ck_assert_int_eq(mf_store_set_lease(s, NULL, 1), MF_EINVAL);
    ck_assert_int_eq(mf_store_set_lease(s, "", 1), MF_EINVAL);
    ck_assert_int_eq(mf_store_set_lease(s, longname, 1), MF_EINVAL);
    ck_assert_int_eq(mf_store_set_lease(s, "a\nb", 1), MF_EINVAL);
    ck_assert_int_eq(mf_store_set_lease(s, "a", 0), MF_EINVAL);
    ck_assert_int_eq(mf_store_set_lease(s, "a", NAN), MF_EINVAL);
    ck_assert_int_eq(mf_store_set_lease(s, "a", INFINITY), MF_EINVAL);
    longname[MF_ID_MAX] = '\0';
    ck_assert_int_eq(mf_store_set_lease(s, longname, 0.5), MF_OK);
    ck_assert_int_eq(mf_store_job_renew(NULL, 1, NULL, NULL), MF_EINVAL);
    ck_assert_int_eq(mf_store_job_renew(s, NAN, NULL, NULL), MF_EINVAL);
    ck_assert_int_eq(mf_store_job_renew(s, 1, NULL, NULL), MF_OK);
    ck_assert_int_eq(mf_store_reclaim_expired(s, 2, NULL, NULL, FAIL_ERR, 1, NULL, NULL, NULL),
                     MF_EINVAL);
    ck_assert_int_eq(
        mf_store_reclaim_expired(s, 2, fixed_events, NULL, FAIL_ERR, 1, NULL, NULL, NULL), MF_OK);
    mf_store_close(s);
}

END_TEST

/* Replica a claims a job (its lease set), renews it, dies; replica b's reclaim takes
 * only the expired lease, b claims and finishes the job, and a is fenced off. */
START_TEST(test_lease_takeover)
{
    char dir[64], path[160], uri[512];
    fresh_uri(dir, sizeof dir, path, sizeof path, uri, sizeof uri);
    mf_store *a = open_replica(uri, "host-a-1", 10);
    mf_store *b = open_replica(uri, "host-b-2", 10);
    char got[256];
    add_job(a, "j1", "train", "", 1);
    add_job(a, "j2", "train", "", 2);
    ck_assert_int_eq(mf_store_job_claim(a, "j1", 100), MF_OK); /* leased until 110 */
    ck_assert_int_eq(mf_store_job_claim(b, "j2", 100), MF_OK);
    reclaim(b, 105, got, sizeof got);
    ck_assert_str_eq(got, ""); /* nothing expired */
    renew(a, 108, got, sizeof got);
    ck_assert_str_eq(got, "j1"); /* until 118; b's j2 is not a's */
    renew(b, 112, got, sizeof got);
    ck_assert_str_eq(got, "j2"); /* until 122 */
    reclaim(b, 117, got, sizeof got);
    ck_assert_str_eq(got, "");
    /* a is gone: at 119 its lease has expired, b's has not */
    reclaim(b, 119, got, sizeof got);
    ck_assert_str_eq(got, "j1");
    ck_assert_int_eq(state_of(b, "j1"), MF_JOB_QUEUED);
    ck_assert_int_eq(state_of(b, "j2"), MF_JOB_RUNNING);
    ck_assert_int_eq(mf_store_job_claim(b, "j1", 119), MF_OK);
    mf_job_rec r = get_job(b, "j1");
    ck_assert_int_eq(r.state, MF_JOB_RUNNING);
    ck_assert_uint_eq(r.attempts, 2);
    ck_assert(r.started_at == 119);
    ck_assert_uint_eq(r.last_seq, 2); /* queued, then the reclaim's status event */
    mf_job_rec_done(&r);
    /* a comes back (it was only cut off): every report of j1 is refused */
    ck_assert_int_eq(mf_store_event_append(a, "j1", "progress", "{}", NULL), MF_EBUSY);
    ck_assert_int_eq(mf_store_job_progress(a, "j1", 5, 10), MF_EBUSY);
    ck_assert_int_eq(mf_store_job_finish(a, "j1", MF_JOB_SUCCEEDED, "{}", NULL, SUCCESS_EV, 120),
                     MF_EBUSY);
    ck_assert_int_eq(mf_store_job_finish(a, "j1", MF_JOB_FAILED, NULL, "{}", FAILED_EV, 120),
                     MF_EBUSY);
    renew(a, 120, got, sizeof got);
    ck_assert_str_eq(got, ""); /* how a learns that j1 was taken from it */
    /* b holds it: its reports go through, gap-free after the reclaim's event */
    uint64_t seq = 0;
    ck_assert_int_eq(mf_store_event_append(b, "j1", "progress", "{}", &seq), MF_OK);
    ck_assert_uint_eq(seq, 3);
    ck_assert_int_eq(mf_store_job_progress(b, "j1", 5, 10), MF_OK);
    ck_assert_int_eq(mf_store_job_finish(b, "j1", MF_JOB_SUCCEEDED, "{}", NULL, SUCCESS_EV, 121),
                     MF_OK);
    ck_assert_int_eq(state_of(a, "j1"), MF_JOB_SUCCEEDED);
    /* a cancel may come through any replica: not fenced */
    ck_assert_int_eq(mf_store_job_finish(a, "j2", MF_JOB_CANCELLED, NULL, ERR_JSON, CANCEL_EV, 122),
                     MF_OK);
    renew(b, 123, got, sizeof got);
    ck_assert_str_eq(got, "");
    mf_store_close(a);
    mf_store_close(b);
    fresh_done(dir);
}

END_TEST

/* A fresh store (dir[64], path[160], uri[512]) where replica host-a-1 (leases of 10 s)
 * claimed job j1 at t. */
static mf_store *one_running(char *dir, char *path, char *uri, double t)
{
    fresh_uri(dir, 64, path, 160, uri, 512);
    mf_store *a = open_replica(uri, "host-a-1", 10);
    add_job(a, "j1", "train", "", 1);
    ck_assert_int_eq(mf_store_job_claim(a, "j1", t), MF_OK);
    return a;
}

/* Recovery at start: SQLite takes every running job (one daemon per file); PostgreSQL
 * only expired leases and those of the replica starting (another replica's live job
 * stays its). */
START_TEST(test_lease_recover_at_start)
{
    char dir[64], path[160], uri[512];
    mf_store *a = one_running(dir, path, uri, 200); /* leased until 210 */
    mf_store *c = open_replica(uri, "host-c-3", 10);
    size_t rq = 99, fl = 99;
    ck_assert_int_eq(mf_store_recover(c, 3, fixed_events, NULL, FAIL_ERR, 201, &rq, &fl), MF_OK);
    ck_assert_uint_eq(fl, 0);
    if (pg_uri == NULL) {
        ck_assert_uint_eq(rq, 1);
        ck_assert_int_eq(state_of(c, "j1"), MF_JOB_QUEUED);
    } else {
        ck_assert_uint_eq(rq, 0);
        ck_assert_int_eq(state_of(c, "j1"), MF_JOB_RUNNING);
        /* a replica restarted under the same name takes its own jobs back at once */
        mf_store *a2 = open_replica(uri, "host-a-1", 10);
        ck_assert_int_eq(mf_store_recover(a2, 3, fixed_events, NULL, FAIL_ERR, 201, &rq, &fl),
                         MF_OK);
        ck_assert_uint_eq(rq, 1);
        ck_assert_int_eq(state_of(c, "j1"), MF_JOB_QUEUED);
        mf_store_close(a2);
    }
    mf_store_close(c);
    mf_store_close(a);
    fresh_done(dir);
}

END_TEST

/* A store of the version before leases (SQLite 2, PostgreSQL 1) is migrated at open
 * (PostgreSQL on to 3); a job it left running holds an expired lease, so any replica
 * reclaims it. */
START_TEST(test_lease_migrate)
{
    char dir[64], path[160], uri[512];
    mf_store *s = one_running(dir, path, uri, 5);
    mf_store_close(s);
    /* back to the previous version, as that build wrote it */
    if (pg_uri == NULL) {
        raw_exec(path, "DROP INDEX jobs_by_lease; ALTER TABLE jobs DROP COLUMN lease_owner;"
                       " ALTER TABLE jobs DROP COLUMN lease_until; PRAGMA user_version = 2;");
    } else {
        /* version 1 had neither leases nor the per-key limits of version 3 */
        pg_raw_exec(pg_uri, "DROP INDEX jobs_by_lease; ALTER TABLE jobs DROP COLUMN lease_owner,"
                            " DROP COLUMN lease_until; DROP TABLE quota_rate, quota_compute;"
                            " UPDATE manifold_meta SET value = 1 WHERE key = 'schema_version'");
    }
    s = open_replica(uri, "host-b-2", 10);
    if (pg_uri == NULL) {
        ck_assert_int_eq(raw_int(path, "PRAGMA user_version"), 3);
    } else {
        ck_assert_int_eq(pg_raw_int(pg_uri, "SELECT value FROM manifold_meta"
                                            " WHERE key = 'schema_version'"),
                         3);
    }
    mf_job_rec r = get_job(s, "j1");
    ck_assert_int_eq(r.state, MF_JOB_RUNNING);
    ck_assert_uint_eq(r.attempts, 1);
    mf_job_rec_done(&r);
    char got[256];
    reclaim(s, 6, got, sizeof got);
    ck_assert_str_eq(got, "j1");
    ck_assert_int_eq(mf_store_job_claim(s, "j1", 7), MF_OK);
    renew(s, 8, got, sizeof got);
    ck_assert_str_eq(got, "j1");
    mf_store_close(s);
    fresh_done(dir);
}

END_TEST

/* claim_next takes the oldest queued job (created_at, then id), skipping running and final
 * ones, with the claim's lease; none left: MF_ENOTFOUND and "". */
START_TEST(test_claim_next)
{
    char dir[64], path[160], uri[512];
    fresh_uri(dir, sizeof dir, path, sizeof path, uri, sizeof uri);
    mf_store *s = open_replica(uri, "host-a-1", 10);
    char id[MF_ID_MAX + 1] = "x";
    ck_assert_int_eq(mf_store_job_claim_next(s, 1, id), MF_ENOTFOUND);
    ck_assert_str_eq(id, "");
    ck_assert_int_eq(mf_store_job_claim_next(NULL, 1, id), MF_EINVAL);
    ck_assert_int_eq(mf_store_job_claim_next(s, NAN, id), MF_EINVAL);
    ck_assert_int_eq(mf_store_job_claim_next(s, 1, NULL), MF_EINVAL);
    add_job(s, "late", "sample", "", 30);
    add_job(s, "b", "sample", "", 20);
    add_job(s, "a", "sample", "", 20); /* same time as b: the id decides */
    add_job(s, "run", "sample", "", 5);
    add_job(s, "done", "sample", "", 6);
    claim_ok(s, "run", 7);
    ck_assert_int_eq(mf_store_job_finish(s, "done", MF_JOB_CANCELLED, NULL,
                                         "{\"code\":\"cancelled\",\"message\":\"x\"}", "{}", 8),
                     MF_OK);
    ck_assert_int_eq(mf_store_job_claim_next(s, 40, id), MF_OK);
    ck_assert_str_eq(id, "a");
    mf_job_rec g = get_job(s, "a");
    ck_assert_int_eq(g.state, MF_JOB_RUNNING);
    ck_assert(g.started_at == 40.0);
    ck_assert_uint_eq(g.attempts, 1);
    ck_assert_uint_eq(g.last_seq, 1); /* no event, as a claim */
    mf_job_rec_done(&g);
    ck_assert_int_eq(mf_store_job_claim(s, "a", 41), MF_EBUSY);
    ck_assert_int_eq(mf_store_job_claim_next(s, 41, id), MF_OK);
    ck_assert_str_eq(id, "b");
    ck_assert_int_eq(mf_store_job_claim_next(s, 42, id), MF_OK);
    ck_assert_str_eq(id, "late");
    ck_assert_int_eq(mf_store_job_claim_next(s, 43, id), MF_ENOTFOUND);
    ck_assert_str_eq(id, "");
    size_t n = 0; /* the claims hold this replica's leases */
    ck_assert_int_eq(mf_store_job_renew(s, 44, NULL, &n), MF_OK);
    ck_assert_uint_eq(n, 4);
    mf_store_close(s);
    fresh_done(dir);
}

END_TEST

typedef struct claim_next_arg {
    mf_store *s;
    char got[CLAIM_JOBS][MF_ID_MAX + 1];
    int n;
    mf_err last; /* what ended the loop: MF_ENOTFOUND */
} claim_next_arg;

static void *claim_next_worker(void *p)
{
    claim_next_arg *a = p;
    char id[MF_ID_MAX + 1];
    mf_err err;
    while ((err = mf_store_job_claim_next(a->s, 100, id)) == MF_OK && a->n < CLAIM_JOBS) {
        memcpy(a->got[a->n++], id, sizeof id);
    }
    a->last = err; /* no assertion off the test's thread */
    return NULL;
}

/* Two replicas (two handles) take jobs with claim_next at once: each job is claimed exactly
 * once, each replica's in order of age. */
START_TEST(test_concurrent_claim_next)
{
    char dir[64], path[128], uri[512];
    fresh_uri(dir, sizeof dir, path, sizeof path, uri, sizeof uri);
    mf_store *s = open_replica(uri, "host-a-1", 10);
    mf_store *other = open_replica(uri, "host-b-2", 10);
    for (int i = 0; i < CLAIM_JOBS; i++) {
        char id[16];
        snprintf(id, sizeof id, "c%03d", i);
        add_job(s, id, "sample", "", i);
    }
    claim_next_arg *args = calloc(2, sizeof *args);
    ck_assert_ptr_nonnull(args);
    args[0].s = s;
    args[1].s = other;
    pthread_t th[2];
    for (int t = 0; t < 2; t++) {
        ck_assert_int_eq(pthread_create(&th[t], NULL, claim_next_worker, &args[t]), 0);
    }
    for (int t = 0; t < 2; t++) {
        ck_assert_int_eq(pthread_join(th[t], NULL), 0);
    }
    int seen[CLAIM_JOBS] = {0};
    for (int t = 0; t < 2; t++) {
        ck_assert_int_eq(args[t].last, MF_ENOTFOUND);
        for (int k = 0; k < args[t].n; k++) {
            int i = atoi(args[t].got[k] + 1);
            ck_assert(i >= 0 && i < CLAIM_JOBS);
            seen[i]++;
            if (k > 0) {
                ck_assert_int_lt(strcmp(args[t].got[k - 1], args[t].got[k]), 0);
            }
        }
    }
    for (int i = 0; i < CLAIM_JOBS; i++) {
        ck_assert_msg(seen[i] == 1, "job %d claimed %d times", i, seen[i]);
    }
    uint64_t counts[5];
    ck_assert_int_eq(mf_store_count_states(s, counts), MF_OK);
    ck_assert_uint_eq(counts[MF_JOB_RUNNING], CLAIM_JOBS);
    ck_assert_uint_eq(counts[MF_JOB_QUEUED], 0);
    free(args);
    mf_store_close(other);
    mf_store_close(s);
    fresh_done(dir);
}

END_TEST

static Suite *store_suite(void)
{
    pg_uri = getenv("MF_TEST_PG_URI");
    if (pg_uri != NULL && pg_uri[0] == '\0') {
        pg_uri = NULL;
    }
    Suite *s = suite_create(pg_uri != NULL ? "store-pg" : "store");

    TCase *tc = tcase_create("records");
    tcase_add_test(tc, test_state_names);
    if (pg_uri == NULL) {
        tcase_add_test(tc, test_migrate_v1); /* an SQLite file of version 1 */
    }
    tcase_add_test(tc, test_record_helpers);
    tcase_add_test(tc, test_insert_get_round_trip);
    tcase_add_test(tc, test_duplicate_and_unknown);
    tcase_add_loop_test(tc, test_insert_invalid, 0,
                        (int) (sizeof bad_inserts / sizeof bad_inserts[0]));
    suite_add_tcase(s, tc);

    tc = tcase_create("lifecycle");
    tcase_add_test(tc, test_claim);
    tcase_add_test(tc, test_progress_and_metrics);
    tcase_add_test(tc, test_finish);
    tcase_add_test(tc, test_events);
    tcase_add_test(tc, test_recover);
    tcase_add_test(tc, test_expire);
    tcase_add_test(tc, test_count_states);
    suite_add_tcase(s, tc);

    tc = tcase_create("leases");
    tcase_add_test(tc, test_lease_arguments);
    tcase_add_test(tc, test_lease_takeover);
    tcase_add_test(tc, test_lease_recover_at_start);
    tcase_add_test(tc, test_lease_migrate);
    tcase_add_test(tc, test_claim_next);
    tcase_add_test(tc, test_concurrent_claim_next);
    suite_add_tcase(s, tc);

    tc = tcase_create("listing");
    tcase_add_test(tc, test_list);
    tcase_add_loop_test(tc, test_list_errors, 0, (int) (sizeof list_cases / sizeof list_cases[0]));
    tcase_add_test(tc, test_jobs_queued);
    suite_add_tcase(s, tc);

    if (pg_uri == NULL) { /* SQLite files; test_store_pg.c has their PostgreSQL kin */
        tc = tcase_create("files");
        tcase_add_test(tc, test_persistence);
        tcase_add_test(tc, test_open_errors);
        suite_add_tcase(s, tc);
    }

    tc = tcase_create("concurrency");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_concurrent_append, 0, 2);
    tcase_add_loop_test(tc, test_concurrent_claim, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(store_suite)
