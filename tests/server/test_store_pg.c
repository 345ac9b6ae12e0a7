/* SPDX-License-Identifier: MIT */
/*
 * test_store_pg.c - what only the PostgreSQL job store (server/store_pg*.c)
 * has; the store's common tests run on it too (test_store.c, test
 * server-store-pg).  Run under tests/pg/with_pg.sh: MF_TEST_PG_URI names
 * the database, MF_TEST_PG_CTL stops and starts its server.
 *
 * The URI forms (postgres://, postgresql://, the keyword form); schema
 * creation by two "replicas" at once; a schema version newer than this build
 * and another application's tables (MF_EFORMAT, left untouched); two handles
 * on one database (a job inserted through one is read through the other, a
 * claim is exclusive, the log goes on where the other left it, close and
 * reopen keep everything); the server stopped under an open store (calls
 * answer MF_EIO, then heal without reopening) and restarted (the next call
 * reconnects by itself); passwords never in a diag message or a redacted URI;
 * the watch (LISTEN/NOTIFY): another handle's events and model announcements
 * reach it, a rolled-back append does not, a restart of the server gives one
 * resync and then notes again, unwatch stops it; SQLite has nothing to watch;
 * the per-key limits shared by the replicas (a token bucket taken through two
 * handles, refilled by the time passed; a day's compute charged within its
 * limit only, a new day from 0; SQLite keeps none).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "pg_util.h"
#include "store.h"
#include "test_util.h"

#define QUEUED_EV "{\"state\":\"queued\"}"

static const char *pg_uri, *pg_dir, *pg_ctl;

static mf_store *open_ok(const char *uri)
{
    mf_store *s = NULL;
    mf_diag d = {0};
    mf_err err = mf_store_open(uri, &s, &d);
    ck_assert_msg(err == MF_OK, "open: %s: %s", mf_err_name(err), d.msg);
    return s;
}

static void add_job(mf_store *s, const char *id, double created_at)
{
    mf_job_rec r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "%s", id);
    snprintf(r.type, sizeof r.type, "train");
    r.params = "{\"steps\":3}";
    r.created_at = created_at;
    mf_err err = mf_store_job_insert(s, &r, QUEUED_EV);
    ck_assert_msg(err == MF_OK, "insert %s: %s", id, mf_err_name(err));
}

static void ctl(const char *action)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s %s", pg_ctl, action);
    ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
}

/* ---- URIs and schema ------------------------------------------------------------ */

START_TEST(test_uri_forms)
{
    pg_wipe(pg_uri);
    char uri[512];
    mf_store_close(open_ok(pg_uri)); /* postgres:///manifold?host=DIR&user=postgres */
    snprintf(uri, sizeof uri, "postgresql:///manifold?host=%s&user=postgres", pg_dir);
    mf_store *s = open_ok(uri);
    add_job(s, "a", 1);
    mf_store_close(s);
    snprintf(uri, sizeof uri, "postgres:host=%s dbname=manifold user=postgres", pg_dir);
    s = open_ok(uri);
    mf_job_rec r;
    ck_assert_int_eq(mf_store_job_get(s, "a", &r), MF_OK);
    ck_assert_str_eq(r.params, "{\"steps\":3}");
    mf_job_rec_done(&r);
    ck_assert_int_eq(mf_store_ping(s), MF_OK);
    ck_assert_int_eq(mf_store_probe(s), MF_OK);
    mf_store_close(s);
    ck_assert_int_eq(pg_raw_int(pg_uri, "SELECT value FROM manifold_meta"
                                        " WHERE key = 'schema_version'"),
                     3);
}

END_TEST

static void *open_close(void *arg)
{
    mf_diag d = {0};
    mf_store *s = NULL;
    mf_err *err = arg;
    *err = mf_store_open(pg_uri, &s, &d);
    mf_store_close(s);
    return NULL;
}

/* Replicas starting together: the advisory lock lets one create the schema. */
START_TEST(test_schema_race)
{
    enum {
        N = 4
    };

    for (int round = 0; round < 3; round++) {
        pg_wipe(pg_uri);
        pthread_t th[N];
        mf_err errs[N];
        for (int t = 0; t < N; t++) {
            ck_assert_int_eq(pthread_create(&th[t], NULL, open_close, &errs[t]), 0);
        }
        for (int t = 0; t < N; t++) {
            ck_assert_int_eq(pthread_join(th[t], NULL), 0);
            ck_assert_msg(errs[t] == MF_OK, "opener %d: %s", t, mf_err_name(errs[t]));
        }
        ck_assert_int_eq(pg_raw_int(pg_uri, "SELECT count(*) FROM manifold_meta"), 1);
    }
}

END_TEST

static void open_fails(const char *uri, mf_err want, const char *needle)
{
    mf_store *s = NULL;
    mf_diag d = {0};
    mf_err err = mf_store_open(uri, &s, &d);
    ck_assert_msg(err == want, "open: %s, want %s (%s)", mf_err_name(err), mf_err_name(want),
                  d.msg);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(d.msg, needle) != NULL, "\"%s\" lacks \"%s\"", d.msg, needle);
}

START_TEST(test_newer_and_foreign)
{
    pg_wipe(pg_uri);
    mf_store_close(open_ok(pg_uri));
    pg_raw_exec(pg_uri, "UPDATE manifold_meta SET value = 7 WHERE key = 'schema_version'");
    open_fails(pg_uri, MF_EFORMAT, "schema version 7, newer");
    pg_raw_exec(pg_uri, "DELETE FROM manifold_meta");
    open_fails(pg_uri, MF_EFORMAT, "no valid schema version");

    /* another application's "jobs": refused and left as it was */
    pg_wipe(pg_uri);
    pg_raw_exec(pg_uri, "CREATE TABLE jobs (x int); INSERT INTO jobs VALUES (42)");
    open_fails(pg_uri, MF_EFORMAT, "not a Manifold job store");
    ck_assert_int_eq(pg_raw_int(pg_uri, "SELECT x FROM jobs"), 42);
    ck_assert_int_eq(pg_raw_int(pg_uri, "SELECT count(*) FROM pg_tables"
                                        " WHERE tablename = 'manifold_meta'"),
                     0);
    pg_raw_exec(pg_uri, "DROP TABLE jobs");
}

END_TEST

/* ---- two replicas on one database -------------------------------------------------- */

START_TEST(test_two_handles)
{
    pg_wipe(pg_uri);
    mf_store *a = open_ok(pg_uri), *b = open_ok(pg_uri);
    add_job(a, "j1", 1.5);
    add_job(b, "j2", 2.25);
    mf_job_rec r;
    ck_assert_int_eq(mf_store_job_get(b, "j1", &r), MF_OK); /* written by a, read by b */
    ck_assert(r.created_at == 1.5);
    ck_assert_uint_eq(r.last_seq, 1);
    mf_job_rec_done(&r);
    ck_assert_int_eq(mf_store_job_insert(b, &(mf_job_rec){.id = "j1", .type = "t"}, QUEUED_EV),
                     MF_EBUSY);

    ck_assert_int_eq(mf_store_job_claim(a, "j1", 3), MF_OK);
    ck_assert_int_eq(mf_store_job_claim(b, "j1", 3), MF_EBUSY); /* claimed by the other */
    uint64_t seq = 0;
    ck_assert_int_eq(mf_store_event_append(a, "j1", "progress", "{\"i\":1}", &seq), MF_OK);
    ck_assert_uint_eq(seq, 2);
    ck_assert_int_eq(mf_store_event_append(b, "j1", "progress", "{\"i\":2}", &seq), MF_OK);
    ck_assert_uint_eq(seq, 3);
    ck_assert_int_eq(mf_store_job_finish(b, "j1", MF_JOB_SUCCEEDED, "{}", NULL, "{}", 4), MF_OK);
    ck_assert_int_eq(mf_store_event_append(a, "j1", "progress", "{}", &seq), MF_EBUSY);
    ck_assert_int_eq(mf_store_job_finish(a, "j1", MF_JOB_FAILED, NULL, "{}", "{}", 5), MF_EBUSY);

    /* closed and opened again: all there */
    mf_store_close(a);
    mf_store_close(b);
    a = open_ok(pg_uri);
    mf_event_rec *ev = NULL;
    size_t n = 0;
    ck_assert_int_eq(mf_store_events_after(a, "j1", 0, 100, &ev, &n), MF_OK);
    ck_assert_uint_eq(n, 4);
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(ev[i].seq, i + 1);
    }
    ck_assert_str_eq(ev[2].data, "{\"i\":2}");
    mf_event_recs_free(ev, n);
    uint64_t counts[5];
    ck_assert_int_eq(mf_store_count_states(a, counts), MF_OK);
    ck_assert_uint_eq(counts[MF_JOB_QUEUED], 1);
    ck_assert_uint_eq(counts[MF_JOB_SUCCEEDED], 1);
    mf_store_close(a);
}

END_TEST

/* ---- the server goes away --------------------------------------------------------- */

START_TEST(test_server_stops)
{
    pg_wipe(pg_uri);
    mf_store *s = open_ok(pg_uri);
    add_job(s, "x", 1);
    ck_assert_int_eq(mf_store_writable(s), MF_OK);

    ctl("stop");
    mf_job_rec r;
    ck_assert_int_eq(mf_store_ping(s), MF_EIO);
    ck_assert_int_eq(mf_store_job_get(s, "x", &r), MF_EIO);
    ck_assert_int_eq(mf_store_job_claim(s, "x", 2), MF_EIO);
    ck_assert_int_eq(mf_store_writable(s), MF_EIO);
    ck_assert_int_eq(mf_store_probe(s), MF_EIO);

    ctl("start"); /* the same store heals: no reopen */
    ck_assert_int_eq(mf_store_ping(s), MF_OK);
    ck_assert_int_eq(mf_store_job_claim(s, "x", 2), MF_OK);
    ck_assert_int_eq(mf_store_writable(s), MF_OK);

    /* restarted between two calls: the next call reconnects by itself */
    ctl("restart");
    uint64_t seq = 0;
    ck_assert_int_eq(mf_store_event_append(s, "x", "progress", "{}", &seq), MF_OK);
    ck_assert_uint_eq(seq, 2);
    ctl("restart");
    ck_assert_int_eq(mf_store_job_get(s, "x", &r), MF_OK);
    ck_assert_int_eq(r.state, MF_JOB_RUNNING);
    ck_assert_uint_eq(r.last_seq, 2);
    mf_job_rec_done(&r);
    mf_store_close(s);
}

END_TEST

/* ---- the watch: notes between replicas ----------------------------------------------- */

#define MAX_NOTES 64

typedef struct notes {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t n;
    mf_store_note note[MAX_NOTES];
    char id[MAX_NOTES][MF_ID_MAX + 1];
} notes;

static void on_note(void *ctx, mf_store_note note, const char *id)
{
    notes *ns = ctx;
    pthread_mutex_lock(&ns->mu);
    if (ns->n < MAX_NOTES) {
        ns->note[ns->n] = note;
        snprintf(ns->id[ns->n], sizeof ns->id[0], "%s", id);
        ns->n++;
    }
    pthread_cond_broadcast(&ns->cv);
    pthread_mutex_unlock(&ns->mu);
}

/* Whether a note (note, id) was recorded, waiting up to 10 s for it. */
static bool got(notes *ns, mf_store_note note, const char *id)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    bool found = false;
    pthread_mutex_lock(&ns->mu);
    for (;;) {
        for (size_t i = 0; i < ns->n && !found; i++) {
            found = ns->note[i] == note && strcmp(ns->id[i], id) == 0;
        }
        if (found || pthread_cond_timedwait(&ns->cv, &ns->mu, &until) != 0) {
            break;
        }
    }
    pthread_mutex_unlock(&ns->mu);
    return found;
}

static size_t count_of(notes *ns, mf_store_note note, const char *id)
{
    size_t k = 0;
    pthread_mutex_lock(&ns->mu);
    for (size_t i = 0; i < ns->n; i++) {
        k += ns->note[i] == note && strcmp(ns->id[i], id) == 0;
    }
    pthread_mutex_unlock(&ns->mu);
    return k;
}

START_TEST(test_watch)
{
    pg_wipe(pg_uri);
    static notes ns = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    mf_store *a = open_ok(pg_uri), *b = open_ok(pg_uri);
    ck_assert_int_eq(mf_store_watch(a, on_note, &ns), MF_OK);
    ck_assert_int_eq(mf_store_watch(a, on_note, &ns), MF_EBUSY); /* one per store */

    add_job(b, "w1", 1); /* its first event, by the other handle */
    ck_assert(got(&ns, MF_NOTE_EVENT, "w1"));
    ck_assert_int_eq(mf_store_job_claim(b, "w1", 2), MF_OK);
    ck_assert_int_eq(mf_store_event_append(b, "w1", "progress", "{}", NULL), MF_OK);
    ck_assert_int_eq(mf_store_announce_model(b, "m1"), MF_OK);
    ck_assert(got(&ns, MF_NOTE_MODEL, "m1"));
    ck_assert_int_eq(count_of(&ns, MF_NOTE_EVENT, "w1"), 2); /* the notes of each commit */
    ck_assert_int_eq(mf_store_announce_model(b, "Not an id!"), MF_EINVAL);

    /* an append refused (the log is closed) rolls back: no note for it */
    add_job(b, "w2", 3);
    ck_assert(got(&ns, MF_NOTE_EVENT, "w2"));
    ck_assert_int_eq(mf_store_job_finish(b, "w2", MF_JOB_CANCELLED, NULL, "{}", "{}", 4), MF_OK);
    ck_assert_int_eq(mf_store_event_append(b, "w2", "progress", "{}", NULL), MF_EBUSY);
    ck_assert_int_eq(mf_store_announce_model(b, "m2"), MF_OK); /* a marker after it */
    ck_assert(got(&ns, MF_NOTE_MODEL, "m2"));
    ck_assert_int_eq(count_of(&ns, MF_NOTE_EVENT, "w2"), 2); /* queued, cancelled: no third */

    /* the server restarts: the watch connects again, says resync, and hears again */
    ctl("restart");
    ck_assert(got(&ns, MF_NOTE_RESYNC, ""));
    ck_assert_int_eq(mf_store_event_append(b, "w1", "progress", "{}", NULL), MF_OK);
    ck_assert_int_eq(mf_store_announce_model(b, "m3"), MF_OK);
    ck_assert(got(&ns, MF_NOTE_MODEL, "m3"));
    ck_assert_int_eq(count_of(&ns, MF_NOTE_EVENT, "w1"), 3);

    /* unwatched: nothing more arrives (while a watch of another handle hears it) */
    static notes ns2 = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    mf_store_unwatch(a);
    ck_assert_int_eq(mf_store_watch(b, on_note, &ns2), MF_OK);
    ck_assert_int_eq(mf_store_announce_model(b, "m4"), MF_OK);
    ck_assert(got(&ns2, MF_NOTE_MODEL, "m4"));
    ck_assert_int_eq(count_of(&ns, MF_NOTE_MODEL, "m4"), 0);
    mf_store_close(a);
    mf_store_close(b);

    /* SQLite: one daemon's file, nothing to watch or announce */
    mf_store *q = open_ok("sqlite::memory:");
    ck_assert_int_eq(mf_store_watch(q, on_note, &ns), MF_OK);
    ck_assert_int_eq(mf_store_announce_model(q, "m5"), MF_OK);
    mf_store_unwatch(q);
    mf_store_close(q);
}

END_TEST

/* ---- passwords ---------------------------------------------------------------------- */

START_TEST(test_password_never_shown)
{
    char uri[512];
    mf_diag d = {0};
    mf_store *s = NULL;
    /* a database that does not exist: the open fails with libpq's message */
    snprintf(uri, sizeof uri, "postgres://postgres:Sekrit42@/nosuchdb?host=%s", pg_dir);
    ck_assert_int_eq(mf_store_open(uri, &s, &d), MF_EIO);
    ck_assert_ptr_nonnull(strstr(d.msg, "nosuchdb"));
    ck_assert_msg(strstr(d.msg, "Sekrit42") == NULL, "%s", d.msg);
    snprintf(uri, sizeof uri, "postgres:host=%s dbname=nosuchdb password=Sekrit42", pg_dir);
    ck_assert_int_eq(mf_store_open(uri, &s, &d), MF_EIO);
    ck_assert_msg(strstr(d.msg, "Sekrit42") == NULL, "%s", d.msg);

    /* MANIFOLD_STORE_PASSWORD_FILE: read (trust auth ignores it), never quoted */
    char pw[600];
    snprintf(pw, sizeof pw, "%s/pw", pg_dir);
    FILE *fp = fopen(pw, "w");
    ck_assert_ptr_nonnull(fp);
    fputs("FileSekrit\n", fp);
    fclose(fp);
    setenv("MANIFOLD_STORE_PASSWORD_FILE", pw, 1);
    mf_store_close(open_ok(pg_uri));
    snprintf(uri, sizeof uri, "postgres:///nosuchdb?host=%s", pg_dir);
    ck_assert_int_eq(mf_store_open(uri, &s, &d), MF_EIO);
    ck_assert_msg(strstr(d.msg, "FileSekrit") == NULL, "%s", d.msg);
    unlink(pw);
    ck_assert_int_eq(mf_store_open(pg_uri, &s, &d), MF_EIO); /* named, but missing */
    ck_assert_ptr_nonnull(strstr(d.msg, "MANIFOLD_STORE_PASSWORD_FILE"));
    unsetenv("MANIFOLD_STORE_PASSWORD_FILE");

    /* what the daemon logs */
    static const char *const cases[][2] = {
        {"postgres://u:Sekrit42@db.example:5433/jobs?sslmode=require",
         "postgres://***@db.example:5433/jobs"},
        {"postgresql://db/jobs?password=Sekrit42", "postgresql://db/jobs"},
        {"postgres:host=db password=Sekrit42", "(a connection string)"},
        {"sqlite:var/manifold.db", "sqlite:var/manifold.db"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[256];
        mf_store_uri_redacted(cases[i][0], out, sizeof out);
        ck_assert_str_eq(out, cases[i][1]);
    }
}

END_TEST

/* ---- per-key limits shared by the replicas ---------------------------------------- */

/* One take through s at time now: whether it got a token; *retry the wait when not. */
static bool take(mf_store *s, const char *key, double now, double *retry)
{
    bool ok = false;
    *retry = -1;
    mf_err err = mf_store_quota_take(s, key, 0.5, 3, now, &ok, retry);
    ck_assert_msg(err == MF_OK, "take: %s", mf_err_name(err));
    return ok;
}

/* One charge through s: whether it went through; *used the day's total. */
static bool charge(mf_store *s, const char *key, double flops, int64_t day, double *used)
{
    bool ok = false;
    mf_err err = mf_store_quota_charge(s, key, flops, 100, day, &ok, used);
    ck_assert_msg(err == MF_OK, "charge: %s", mf_err_name(err));
    return ok;
}

START_TEST(test_quota)
{
    pg_wipe(pg_uri);
    mf_store *a = open_ok(pg_uri), *b = open_ok(pg_uri);
    double retry = 0, t0 = 1.8e9;

    /* rate 0.5/s, burst 3: two replicas share one bucket of 3 */
    ck_assert(take(a, "alice", t0, &retry));
    ck_assert(take(b, "alice", t0, &retry));
    ck_assert(take(a, "alice", t0, &retry));
    ck_assert(!take(b, "alice", t0, &retry));
    ck_assert_double_eq_tol(retry, 2.0, 1e-9); /* one token at 0.5/s */
    ck_assert(!take(a, "alice", t0 + 1, &retry));
    ck_assert_double_eq_tol(retry, 1.0, 1e-9); /* half of it came meanwhile */
    ck_assert(take(b, "bob", t0, &retry));     /* another key, another bucket */
    ck_assert(take(b, "alice", t0 + 2, &retry));
    ck_assert(!take(a, "alice", t0 + 2, &retry));
    /* a long pause refills it to the burst, not beyond */
    for (int i = 0; i < 3; i++) {
        ck_assert(take(i % 2 ? a : b, "alice", t0 + 100, &retry));
    }
    ck_assert(!take(a, "alice", t0 + 100, &retry));
    /* a replica whose clock lags takes nothing back: no refill from going backwards */
    ck_assert(!take(b, "alice", t0 + 50, &retry));
    ck_assert_double_eq_tol(retry, 2.0, 1e-9);

    /* compute: limit 100 per day, across both handles */
    double used = -1;
    int64_t day = 20000;
    ck_assert(charge(a, "alice", 60, day, &used));
    ck_assert_double_eq(used, 60);
    ck_assert(charge(b, "alice", 40, day, &used));
    ck_assert_double_eq(used, 100);
    ck_assert(!charge(a, "alice", 1, day, &used)); /* over: refused, nothing charged */
    ck_assert_double_eq(used, 100);
    ck_assert(charge(b, "alice", 0, day, &used));
    ck_assert_double_eq(used, 100);
    ck_assert(!charge(b, "bob", 101, day, &used)); /* over by itself, a key never seen */
    ck_assert_double_eq(used, 0);
    ck_assert(charge(b, "bob", 100, day, &used));
    ck_assert(charge(a, "alice", 30, day + 1, &used)); /* a new day starts from 0 */
    ck_assert_double_eq(used, 30);
    ck_assert(!charge(b, "alice", 80, day, &used)); /* a lagging clock counts today's */
    ck_assert_double_eq(used, 30);
    ck_assert_int_eq(pg_raw_int(pg_uri, "SELECT count(*) FROM quota_compute"), 2);

    /* what the store checks; SQLite keeps no limits */
    bool ok = false;
    ck_assert_int_eq(mf_store_quota_take(a, "", 1, 1, t0, &ok, &retry), MF_EINVAL);
    ck_assert_int_eq(mf_store_quota_take(a, "k", 0, 1, t0, &ok, &retry), MF_EINVAL);
    ck_assert_int_eq(mf_store_quota_take(a, "k", 1, 0.5, t0, &ok, &retry), MF_EINVAL);
    ck_assert_int_eq(mf_store_quota_charge(a, "k", -1, 1, day, &ok, &used), MF_EINVAL);
    ck_assert_int_eq(mf_store_quota_charge(a, "k", 1, 0, day, &ok, &used), MF_EINVAL);
    mf_store *sq = open_ok("sqlite::memory:");
    ck_assert_int_eq(mf_store_quota_take(sq, "k", 1, 1, t0, &ok, &retry), MF_ENOTFOUND);
    ck_assert_int_eq(mf_store_quota_charge(sq, "k", 1, 1, day, &ok, &used), MF_ENOTFOUND);
    mf_store_close(sq);
    mf_store_close(a);
    mf_store_close(b);
}

END_TEST

static Suite *store_pg_suite(void)
{
    pg_uri = getenv("MF_TEST_PG_URI");
    pg_dir = getenv("MF_TEST_PG_DIR");
    pg_ctl = getenv("MF_TEST_PG_CTL");
    if (pg_uri == NULL || pg_dir == NULL || pg_ctl == NULL) {
        fprintf(stderr, "test_store_pg: run under tests/pg/with_pg.sh\n");
        exit(77); /* skipped */
    }
    Suite *s = suite_create("store_pg");
    TCase *tc = tcase_create("pg");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_uri_forms);
    tcase_add_test(tc, test_schema_race);
    tcase_add_test(tc, test_newer_and_foreign);
    tcase_add_test(tc, test_two_handles);
    tcase_add_test(tc, test_server_stops);
    tcase_add_test(tc, test_password_never_shown);
    tcase_add_test(tc, test_watch);
    tcase_add_test(tc, test_quota);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(store_pg_suite)
