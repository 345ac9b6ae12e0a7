/* SPDX-License-Identifier: MIT */
/*
 * test_sched_full.c - the scheduler when the job store's disk fills up and is
 * freed again (server/scheduler_store.c), on a real 2 MiB tmpfs
 * (test_tmpfs.h), and the back-off it waits with (server/backoff.c).
 *
 * The back-off: 0.1 s doubling to 5 s, a failure during a wait changes
 * nothing, a success keeps the delay, a quiet spell starts it over.
 *
 * The scheduler, one worker, one job at a time, jobs of the test-only type
 * test.count whose steps take 0.51 s, so each step reports exactly one
 * progress event (job.c reports at most every 0.5 s) and the event log a job
 * must end with is known exactly:
 *  1. a queued job whose claim fails on the full disk stays queued (not lost,
 *     not failed), and nothing runs while the store cannot write;
 *  2. a running job whose reports fail waits with them; a submit is refused
 *     with MF_ENOSPC and code insufficient_storage (no path in the message);
 *     a queued job cancelled meanwhile is cancelled; sampling calls, which
 *     need no store, are still answered; the store is probed a bounded number
 *     of times;
 *  3. once the filler is deleted, without any restart, every job reaches its
 *     final state with every event in order: seqs 1..n, progress 1..N once
 *     each, nothing lost or doubled; the store is writable again and a new
 *     job runs.
 */
#define _GNU_SOURCE /* unshare, mount: test_tmpfs.h */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "backoff.h"
#include "log.h"
#include "registry.h"
#include "request_json.h"
#include "sample_batch.h"
#include "scheduler.h"
#include "store.h"
#include "test_files.h"
#include "test_jobs.h"
#include "test_tmpfs.h"
#include "test_util.h"
#include "test_wait.h"

/* ---- the back-off ------------------------------------------------------------------- */

START_TEST(test_backoff)
{
    mf_backoff b = mf_backoff_make(0.1, 5.0);
    ck_assert(!b.waiting && !mf_backoff_due(&b, 0.0));
    static const double want[] = {0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0};
    double t = 100.0;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        double until = mf_backoff_fail(&b, t);
        ck_assert_double_eq_tol(until - t, want[i], 1e-12);
        ck_assert(b.waiting && !mf_backoff_due(&b, t));
        /* a failure reported during the wait changes nothing */
        ck_assert_double_eq_tol(mf_backoff_fail(&b, t + want[i] / 2), until, 1e-12);
        ck_assert(mf_backoff_due(&b, until));
        t = until;
    }
    /* a success ends the wait and keeps the delay; a failure soon after goes on at the cap */
    mf_backoff_ok(&b);
    ck_assert(!b.waiting && !mf_backoff_due(&b, t + 100.0));
    ck_assert_double_eq_tol(mf_backoff_fail(&b, t + 1.0) - (t + 1.0), 5.0, 1e-12);
    /* after a quiet spell longer than twice the cap it starts over */
    mf_backoff_ok(&b);
    t += 1.0 + 10.5;
    ck_assert_double_eq_tol(mf_backoff_fail(&b, t) - t, 0.1, 1e-12);
}

END_TEST

/* ---- the scheduler on a disk that fills -------------------------------------------- */

#define STEP_MS  510 /* > the 0.5 s between progress events: one per step */
#define COUNT(n) "{\"type\":\"test.count\",\"params\":{\"n\":" #n ",\"step_ms\":510}}"
#define FS_BYTES (2u << 20)

typedef struct env {
    char root[64], shipped[128], models[128], disk[128], filler[160], uri[192];
    mf_store *store;
    mf_registry *reg;
    mf_sched *s;
} env;

static void env_start(env *e)
{
    memset(e, 0, sizeof *e);
    mf_log_set_level(MF_LOG_ERROR);
    make_tmpdir(e->root, sizeof e->root, "/tmp/mf_test_sched_full_XXXXXX");
    snprintf(e->shipped, sizeof e->shipped, "%s/shipped", e->root);
    snprintf(e->models, sizeof e->models, "%s/models", e->root);
    snprintf(e->disk, sizeof e->disk, "%s/disk", e->root);
    snprintf(e->filler, sizeof e->filler, "%s/filler", e->disk);
    snprintf(e->uri, sizeof e->uri, "sqlite:%s/jobs.db", e->disk);
    ck_assert_int_eq(mkdir(e->shipped, 0755), 0);
    ck_assert_int_eq(mkdir(e->disk, 0755), 0);
    tmpfs_mount(e->disk, FS_BYTES); /* before the scheduler starts a thread */
    char src[1024], dst[256];
    snprintf(src, sizeof src, "%s/../models/gaussian.safetensors", test_data());
    snprintf(dst, sizeof dst, "%s/gaussian.safetensors", e->shipped);
    copy_file(src, dst, SIZE_MAX);
    ck_assert_int_eq(mf_registry_open(e->shipped, e->models, 8u << 20, NULL, &e->reg, NULL, NULL), MF_OK);
    mf_diag d = {0};
    ck_assert_msg(mf_store_open(e->uri, &e->store, &d) == MF_OK, "%s", d.msg);
    mf_sched_cfg cfg = mf_sched_cfg_default();
    cfg.workers = 1;
    cfg.team = 1;
    cfg.max_running_jobs = 1;
    cfg.slice_seconds = 0.05;
    ck_assert_int_eq(mf_sched_start(&cfg, e->store, e->reg, &e->s), MF_OK);
}

static void env_stop(env *e)
{
    ck_assert(mf_sched_drain(e->s, 30.0));
    mf_sched_free(e->s);
    mf_registry_free(e->reg);
    mf_store_close(e->store);
    tmpfs_unmount(e->disk);
    remove_tree(e->root);
}

static mf_err submit(env *e, const char *body, char id[MF_ID_MAX + 1], mf_diag *d)
{
    mf_job_req q;
    mf_req_limits lim = mf_req_limits_default();
    ck_assert_msg(mf_req_decode_job(body, strlen(body), &lim, &q, d) == MF_OK, "%s", d->msg);
    long pos = -1;
    return mf_sched_submit(e->s, &q, id, &pos, d);
}

static void submit_ok(env *e, const char *body, char id[MF_ID_MAX + 1])
{
    mf_diag d = {0};
    mf_err err = submit(e, body, id, &d);
    ck_assert_msg(err == MF_OK, "submit: %s: %s", mf_err_name(err), d.msg);
}

static mf_sched_stats stats(env *e)
{
    mf_sched_stats st;
    mf_sched_get_stats(e->s, &st);
    return st;
}

/*
 * id's event log as "status:queued,status:running,p1,p2,...,status:succeeded" (pK: a
 * progress event with done K), checking seqs 1..n without gaps and last_seq = n.
 */
static void event_log(env *e, const char *id, char *out, size_t cap)
{
    mf_event_rec *ev = NULL;
    size_t n = 0;
    ck_assert_int_eq(mf_store_events_after(e->store, id, 0, 10000, &ev, &n), MF_OK);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(ev[i].seq, i + 1);
        json_t *j = json_loads(ev[i].data, 0, NULL);
        ck_assert_ptr_nonnull(j);
        size_t l = strlen(out);
        if (strcmp(ev[i].name, "status") == 0) {
            snprintf(out + l, cap - l, "%sstatus:%s", i ? "," : "",
                     json_string_value(json_object_get(j, "state")));
        } else {
            snprintf(out + l, cap - l, "%sp%lld", i ? "," : "",
                     (long long) json_integer_value(json_object_get(j, "done")));
        }
        json_decref(j);
    }
    mf_event_recs_free(ev, n);
    mf_job_rec r = store_job(e->store, id);
    ck_assert_uint_eq(r.last_seq, n);
    mf_job_rec_done(&r);
}

/* A sampling call (needs no store) whose done callback can hold the only worker. */
typedef struct gate {
    atomic_int closed, entered, done;
} gate;

static void gate_done(mf_sample_call *c)
{
    gate *g = c->ctx;
    atomic_store(&g->entered, 1);
    for (int i = 0; atomic_load(&g->closed) != 0 && i < WAIT_TRIES; i++) {
        sleep_ms(10);
    }
    atomic_store(&g->done, 1);
}

static mf_sample_call *sample_call(env *e, gate *g, bool closed)
{
    atomic_init(&g->closed, closed ? 1 : 0);
    atomic_init(&g->entered, 0);
    atomic_init(&g->done, 0);
    mf_sample_call *c = mf_sample_call_new();
    ck_assert_ptr_nonnull(c);
    c->model = mf_registry_get(e->reg, "gaussian");
    ck_assert_ptr_nonnull(c->model);
    snprintf(c->req.model, sizeof c->req.model, "gaussian");
    c->req.n = 4;
    c->req.sampler = MF_SAMPLER_DDIM;
    c->req.has_sampler = true;
    c->req.steps = 4;
    c->req.has_seed = true;
    c->req.seed = 3;
    mf_diag d = {0};
    ck_assert_int_eq(mf_sched_resolve(e->s, &c->req, c->model->model, "", &d), MF_OK);
    c->done = gate_done;
    c->ctx = g;
    ck_assert_int_eq(mf_sched_sample(e->s, c, &d), MF_OK);
    return c;
}

START_TEST(test_disk_full_then_freed)
{
    env e;
    env_start(&e);
    char a[MF_ID_MAX + 1], b[MF_ID_MAX + 1], c[MF_ID_MAX + 1], id[MF_ID_MAX + 1], log[512];

    /* 1. the worker held by a call, job a queued, the disk filled: a's claim fails */
    gate g;
    mf_sample_call *held = sample_call(&e, &g, true);
    WAIT_UNTIL(atomic_load(&g.entered) != 0);
    submit_ok(&e, COUNT(5), a);
    ck_assert_uint_gt(tmpfs_fill(e.filler), 0);
    atomic_store(&g.closed, 0);
    WAIT_UNTIL(stats(&e).store_waiting);
    ck_assert_int_eq(mf_store_writable(e.store), MF_ENOSPC);
    sleep_ms(300);
    ck_assert_int_eq(store_job_state(e.store, a), MF_JOB_QUEUED);
    ck_assert_int_eq(mf_sched_queue_position(e.s, a), 0); /* still first in line */
    ck_assert_uint_eq(stats(&e).running, 0);
    mf_sample_call_release(held, e.reg);

    /* 2. space, a runs; full again while it runs: it waits with what it reported */
    ck_assert_int_eq(unlink(e.filler), 0);
    WAIT_UNTIL(store_job_done(e.store, a) >= 2);
    submit_ok(&e, COUNT(2), c); /* queued behind a */
    ck_assert_uint_gt(tmpfs_fill(e.filler), 0);
    WAIT_UNTIL(stats(&e).store_waiting && stats(&e).unstored == 1);
    uint64_t stored_done = store_job_done(e.store, a), retries0 = stats(&e).store_retries_total;
    mf_diag d = {0};
    ck_assert_int_eq(submit(&e, COUNT(1), b, &d), MF_ENOSPC);
    ck_assert_str_eq(d.code, "insufficient_storage");
    ck_assert_msg(strchr(d.msg, '/') == NULL, "%s", d.msg);
    ck_assert_uint_ge(mf_sched_store_retry_after(e.s), 1);
    ck_assert_uint_le(mf_sched_store_retry_after(e.s), 5);
    ck_assert_int_eq(mf_sched_cancel(e.s, c), MF_OK); /* cancelled now, stored later */
    gate g2;
    mf_sample_call *call = sample_call(&e, &g2, false);
    WAIT_UNTIL(atomic_load(&g2.done) != 0);
    ck_assert_int_eq(call->err, MF_OK);
    mf_sample_call_release(call, e.reg);
    sleep_ms(2500);
    /* nothing moved in the store, a is neither lost nor failed, c not yet cancelled there */
    ck_assert_int_eq(store_job_state(e.store, a), MF_JOB_RUNNING);
    ck_assert_uint_eq(store_job_done(e.store, a), stored_done);
    ck_assert_int_eq(store_job_state(e.store, c), MF_JOB_QUEUED);
    ck_assert_int_eq(mf_store_writable(e.store), MF_ENOSPC);
    /* about 0.1 + 0.2 + 0.4 + 0.8 + 1.6 s of waits fit in 2.5 s: a handful of probes */
    uint64_t probes = stats(&e).store_retries_total - retries0;
    ck_assert_msg(probes >= 2 && probes <= 8, "%llu probes in 2.5 s", (unsigned long long) probes);

    /* 3. space again: everything goes on, without a restart */
    ck_assert_int_eq(unlink(e.filler), 0);
    WAIT_UNTIL(store_job_state(e.store, a) == MF_JOB_SUCCEEDED);
    event_log(&e, a, log, sizeof log);
    ck_assert_str_eq(log, "status:queued,status:running,p1,p2,p3,p4,p5,status:succeeded");
    mf_job_rec r = store_job(e.store, a);
    ck_assert_uint_eq(r.done, 5);
    ck_assert_uint_eq(r.attempts, 1);
    ck_assert_str_eq(r.result, "{\"count\":5}");
    mf_job_rec_done(&r);
    WAIT_UNTIL(store_job_state(e.store, c) == MF_JOB_CANCELLED);
    event_log(&e, c, log, sizeof log);
    ck_assert_str_eq(log, "status:queued,status:cancelled");
    WAIT_UNTIL(!stats(&e).store_waiting && stats(&e).unstored == 0);
    ck_assert_int_eq(mf_store_writable(e.store), MF_OK);
    submit_ok(&e, COUNT(1), id);
    WAIT_UNTIL(store_job_state(e.store, id) == MF_JOB_SUCCEEDED);
    event_log(&e, id, log, sizeof log);
    ck_assert_str_eq(log, "status:queued,status:running,p1,status:succeeded");
    env_stop(&e);
}

END_TEST

static Suite *sched_full_suite(void)
{
    Suite *s = suite_create("sched_full");
    TCase *tc = tcase_create("backoff");
    tcase_add_test(tc, test_backoff);
    suite_add_tcase(s, tc);
    tc = tcase_create("disk_full");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_disk_full_then_freed);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(sched_full_suite)
