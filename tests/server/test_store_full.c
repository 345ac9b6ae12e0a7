/* SPDX-License-Identifier: MIT */
/*
 * test_store_full.c - the SQLite job store on a disk that fills up: a real
 * 1 MiB tmpfs (test_tmpfs.h) filled by a file until ENOSPC.
 *
 * While the disk is full every kind of write fails with MF_ENOSPC (not
 * MF_EIO) and changes nothing, reads and ping still answer, and
 * mf_store_writable says MF_ENOSPC; errors that are not about the storage
 * (a job already final) leave that mark alone, and so do writes that write
 * nothing (an expiry or a recovery with nothing to do).  Once the filler is
 * gone the probe succeeds, the mark clears, and every write goes through
 * with event sequences that go on without a gap.
 */
#define _GNU_SOURCE /* unshare, mount: test_tmpfs.h */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "store.h"
#include "test_files.h"
#include "test_tmpfs.h"
#include "test_util.h"

#define FS_BYTES (1u << 20)

typedef struct env {
    char dir[64], uri[128], filler[128];
    mf_store *s;
} env;

static void env_open(env *e)
{
    memset(e, 0, sizeof *e);
    make_tmpdir(e->dir, sizeof e->dir, "/tmp/mf_test_store_full_XXXXXX");
    tmpfs_mount(e->dir, FS_BYTES);
    snprintf(e->uri, sizeof e->uri, "sqlite:%s/jobs.db", e->dir);
    snprintf(e->filler, sizeof e->filler, "%s/filler", e->dir);
    mf_diag d = {0};
    ck_assert_msg(mf_store_open(e->uri, &e->s, &d) == MF_OK, "%s", d.msg);
}

static void env_close(env *e)
{
    mf_store_close(e->s);
    tmpfs_unmount(e->dir);
    ck_assert_int_eq(rmdir(e->dir), 0);
}

static mf_err insert(env *e, const char *id)
{
    mf_job_rec r = {.state = MF_JOB_QUEUED, .params = "{\"n\":1}", .created_at = 1000.0};
    snprintf(r.id, sizeof r.id, "%s", id);
    snprintf(r.type, sizeof r.type, "sample");
    snprintf(r.model, sizeof r.model, "gaussian");
    return mf_store_job_insert(e->s, &r, "{\"state\":\"queued\"}");
}

static mf_job_rec get(env *e, const char *id)
{
    mf_job_rec r;
    memset(&r, 0, sizeof r);
    ck_assert_int_eq(mf_store_job_get(e->s, id, &r), MF_OK);
    return r;
}

static char *recover_event(void *ctx, const mf_job_rec *job)
{
    (void) ctx;
    char buf[64];
    snprintf(buf, sizeof buf, "{\"state\":\"%s\"}", mf_job_state_name(job->state));
    return strdup(buf);
}

/* Every event of id: seqs 1..n without a gap, n = last_seq; returns n. */
static size_t check_log(env *e, const char *id)
{
    mf_event_rec *ev = NULL;
    size_t n = 0;
    ck_assert_int_eq(mf_store_events_after(e->s, id, 0, 1000, &ev, &n), MF_OK);
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(ev[i].seq, i + 1);
    }
    mf_event_recs_free(ev, n);
    mf_job_rec r = get(e, id);
    ck_assert_uint_eq(r.last_seq, n);
    mf_job_rec_done(&r);
    return n;
}

/* The writes of a job's life, each failing on a full disk (and each a write once it is not). */
enum {
    W_INSERT,
    W_CLAIM,
    W_PROGRESS,
    W_METRICS,
    W_EVENT,
    W_FINISH,
    W_RECOVER,
    W_PROBE,
    W_N
};

static mf_err do_write(env *e, int w)
{
    size_t rq = 0, fl = 0;
    switch (w) {
    case W_INSERT:
        return insert(e, "job-new");
    case W_CLAIM:
        return mf_store_job_claim(e->s, "job-q", 2000.0);
    case W_PROGRESS:
        return mf_store_job_progress(e->s, "job-r", 5, 10);
    case W_METRICS:
        return mf_store_job_metrics(e->s, "job-r", "{\"sw2\":0.5}");
    case W_EVENT:
        return mf_store_event_append(e->s, "job-r", "progress", "{\"done\":5}", NULL);
    case W_FINISH:
        return mf_store_job_finish(e->s, "job-r", MF_JOB_SUCCEEDED, "{\"ok\":true}", NULL,
                                   "{\"state\":\"succeeded\"}", 3000.0);
    case W_RECOVER:
        return mf_store_recover(e->s, 5, recover_event, NULL, "{\"code\":\"x\"}", 3000.0, &rq, &fl);
    default:
        return mf_store_probe(e->s);
    }
}

START_TEST(test_full_then_freed)
{
    env e;
    env_open(&e);
    /* job-q queued, job-r running with an event, job-f final */
    ck_assert_int_eq(insert(&e, "job-q"), MF_OK);
    ck_assert_int_eq(insert(&e, "job-r"), MF_OK);
    ck_assert_int_eq(insert(&e, "job-f"), MF_OK);
    ck_assert_int_eq(mf_store_job_claim(e.s, "job-r", 1500.0), MF_OK);
    ck_assert_int_eq(mf_store_event_append(e.s, "job-r", "status", "{}", NULL), MF_OK);
    ck_assert_int_eq(mf_store_job_finish(e.s, "job-f", MF_JOB_FAILED, NULL, "{\"code\":\"x\"}",
                                         "{\"state\":\"failed\"}", 1500.0),
                     MF_OK);
    ck_assert_int_eq(mf_store_writable(e.s), MF_OK);
    uint64_t before[5], now[5];
    ck_assert_int_eq(mf_store_count_states(e.s, before), MF_OK);

    size_t filled = tmpfs_fill(e.filler);
    ck_assert_uint_gt(filled, 0);
    for (int w = 0; w < W_N; w++) {
        mf_err err = do_write(&e, w);
        ck_assert_msg(err == MF_ENOSPC, "write %d on a full disk: %s", w, mf_err_name(err));
        ck_assert_int_eq(mf_store_writable(e.s), MF_ENOSPC);
    }
    /* nothing changed; reads and ping answer */
    ck_assert_int_eq(mf_store_ping(e.s), MF_OK);
    ck_assert_int_eq(mf_store_count_states(e.s, now), MF_OK);
    ck_assert_mem_eq(before, now, sizeof now);
    mf_job_rec r = get(&e, "job-r");
    ck_assert_int_eq(r.state, MF_JOB_RUNNING);
    ck_assert_uint_eq(r.done, 0);
    ck_assert_ptr_null(r.metrics);
    mf_job_rec_done(&r);
    ck_assert_uint_eq(check_log(&e, "job-r"), 2);
    mf_job_rec q;
    memset(&q, 0, sizeof q);
    ck_assert_int_eq(mf_store_job_get(e.s, "job-new", &q), MF_ENOTFOUND);
    /* not about the storage: the mark stays */
    ck_assert_int_eq(mf_store_event_append(e.s, "job-f", "progress", "{}", NULL), MF_EBUSY);
    ck_assert_int_eq(mf_store_job_claim(e.s, "job-none", 1.0), MF_ENOTFOUND);
    ck_assert_int_eq(mf_store_writable(e.s), MF_ENOSPC);
    /* writes that write nothing prove nothing */
    size_t n = 9;
    ck_assert_int_eq(mf_store_expire(e.s, 0.0, &n), MF_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(mf_store_writable(e.s), MF_ENOSPC);

    /* space again */
    ck_assert_int_eq(unlink(e.filler), 0);
    ck_assert_int_eq(mf_store_probe(e.s), MF_OK);
    ck_assert_int_eq(mf_store_writable(e.s), MF_OK);
    for (int w = 0; w < W_N; w++) {
        mf_err err = do_write(&e, w);
        ck_assert_msg(err == MF_OK, "write %d with space: %s", w, mf_err_name(err));
    }
    ck_assert_int_eq(mf_store_writable(e.s), MF_OK);
    /* job-r: queued, status, progress, succeeded: no seq lost to the failed writes */
    ck_assert_uint_eq(check_log(&e, "job-r"), 4);
    ck_assert_uint_eq(check_log(&e, "job-new"), 1);
    r = get(&e, "job-r");
    ck_assert_int_eq(r.state, MF_JOB_SUCCEEDED);
    ck_assert_uint_eq(r.done, 5);
    ck_assert_str_eq(r.metrics, "{\"sw2\":0.5}");
    mf_job_rec_done(&r);
    /* and an error that is not about the storage does not mark a healthy store either */
    ck_assert_int_eq(mf_store_event_append(e.s, "job-f", "progress", "{}", NULL), MF_EBUSY);
    ck_assert_int_eq(mf_store_writable(e.s), MF_OK);
    env_close(&e);
}

END_TEST

/* A full disk again and again, a write per round: the store never wedges. */
START_TEST(test_fill_free_rounds)
{
    env e;
    env_open(&e);
    ck_assert_int_eq(insert(&e, "job-r"), MF_OK);
    ck_assert_int_eq(mf_store_job_claim(e.s, "job-r", 1500.0), MF_OK);
    size_t stored = 1;
    for (int round = 0; round < 5; round++) {
        (void) tmpfs_fill(e.filler);
        char data[2048];
        memset(data, 'x', sizeof data - 3);
        data[0] = '"';
        data[sizeof data - 3] = '"';
        data[sizeof data - 2] = '\0';
        ck_assert_int_eq(mf_store_event_append(e.s, "job-r", "samples", data, NULL), MF_ENOSPC);
        ck_assert_int_eq(unlink(e.filler), 0);
        uint64_t seq = 0;
        ck_assert_int_eq(mf_store_event_append(e.s, "job-r", "samples", data, &seq), MF_OK);
        ck_assert_uint_eq(seq, ++stored);
    }
    ck_assert_uint_eq(check_log(&e, "job-r"), stored);
    env_close(&e);
}

END_TEST

static Suite *store_full_suite(void)
{
    Suite *s = suite_create("store_full");
    TCase *tc = tcase_create("disk_full");
    tcase_add_test(tc, test_full_then_freed);
    tcase_add_test(tc, test_fill_free_rounds);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(store_full_suite)
