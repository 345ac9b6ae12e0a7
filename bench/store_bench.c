/* SPDX-License-Identifier: MIT */
/*
 * store_bench.c - how fast the job store takes and gives back events (issue 17:
 * where a deployment of many replicas on one database meets its limit).
 *
 *     store_bench [--events N] URI        URI: sqlite:PATH or a postgres URI
 *
 * (a) one writer appends N events (each its own transaction, as the daemon's
 *     jobs do) to a running job: events/s, per-append p50/p99 in µs;
 * (b) two writer threads append N events each to two jobs: total events/s.
 *     SQLite: one shared handle (a store file is one daemon's, whose threads
 *     share it); PostgreSQL: one handle per thread, as two replicas would;
 * (c) the log of (a) read back with mf_store_events_after in pages of 32 (the
 *     SSE reader's page, EVENTS_PER_READ in server/stream.c): events/s.
 *
 * One JSON line per measurement on stdout.  Job ids carry the pid and the
 * time, so runs against one database never collide.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

#define READ_PAGE  32  /* EVENTS_PER_READ in server/stream.c */
#define DATA_BYTES 200 /* about a progress or metrics event's JSON */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

/* The q-quantile of sorted v[0..n), nearest rank. */
static double quantile(const double *v, size_t n, double q)
{
    size_t i = (size_t) (q * (double) n);
    return v[i < n ? i : n - 1];
}

static mf_store *open_store(const char *uri, const char *replica)
{
    mf_store *s = NULL;
    mf_diag d = {0};
    mf_err err = mf_store_open(uri, &s, &d);
    if (err != MF_OK) {
        fprintf(stderr, "store_bench: open: %s: %s\n", mf_err_name(err), d.msg);
        exit(1);
    }
    /* A long lease: a slow database must not have the job taken back mid-run. */
    if (mf_store_set_lease(s, replica, 3600) != MF_OK) {
        fprintf(stderr, "store_bench: set_lease failed\n");
        exit(1);
    }
    return s;
}

/* Inserts job id and claims it, so that it runs (events go to running jobs). */
static void running_job(mf_store *s, const char *id)
{
    mf_job_rec r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "%s", id);
    snprintf(r.type, sizeof r.type, "train");
    r.params = "{\"steps\":1000}";
    r.created_at = wall_s();
    mf_err err = mf_store_job_insert(s, &r, "{\"state\":\"queued\"}");
    if (err == MF_OK) {
        err = mf_store_job_claim(s, id, wall_s());
    }
    if (err != MF_OK) {
        fprintf(stderr, "store_bench: job %s: %s\n", id, mf_err_name(err));
        exit(1);
    }
}

typedef struct writer {
    mf_store *store;
    char job[MF_ID_MAX + 1];
    size_t n;
    double *lat_us; /* n: each append's time */
    int failed;
} writer;

static void *append_all(void *arg)
{
    writer *w = arg;
    char data[DATA_BYTES + 64];
    for (size_t i = 0; i < w->n; i++) {
        /* progress-like, padded to DATA_BYTES */
        int len =
            snprintf(data, sizeof data,
                     "{\"job\":\"%s\",\"done\":%zu,\"total\":%zu,\"phase\":\"training\",\"pad\":\"",
                     w->job, i + 1, w->n);
        while (len < DATA_BYTES - 2) {
            data[len++] = 'x';
        }
        memcpy(data + len, "\"}", 3);
        double t0 = now_s();
        mf_err err = mf_store_event_append(w->store, w->job, "progress", data, NULL);
        w->lat_us[i] = (now_s() - t0) * 1e6;
        if (err != MF_OK) {
            fprintf(stderr, "store_bench: append to %s: %s\n", w->job, mf_err_name(err));
            w->failed = 1;
            return NULL;
        }
    }
    return NULL;
}

/* Runs writers w[0..k) at once (k == 1: on this thread); their wall time. */
static double run_writers(writer *w, int k)
{
    pthread_t th[2];
    double t0 = now_s();
    if (k == 1) {
        append_all(&w[0]);
    } else {
        for (int i = 0; i < k; i++) {
            if (pthread_create(&th[i], NULL, append_all, &w[i]) != 0) {
                fprintf(stderr, "store_bench: pthread_create failed\n");
                exit(1);
            }
        }
        for (int i = 0; i < k; i++) {
            pthread_join(th[i], NULL);
        }
    }
    double t = now_s() - t0;
    for (int i = 0; i < k; i++) {
        if (w[i].failed) {
            exit(1);
        }
    }
    return t;
}

/* The p50/p99 of all the writers' append times. */
static void latency(const writer *w, int k, double *p50, double *p99)
{
    size_t n = 0;
    for (int i = 0; i < k; i++) {
        n += w[i].n;
    }
    double *all = malloc(n * sizeof *all);
    if (all == NULL) {
        exit(1);
    }
    size_t at = 0;
    for (int i = 0; i < k; i++) {
        memcpy(all + at, w[i].lat_us, w[i].n * sizeof *all);
        at += w[i].n;
    }
    qsort(all, n, sizeof *all, cmp_double);
    *p50 = quantile(all, n, 0.50);
    *p99 = quantile(all, n, 0.99);
    free(all);
}

static void print_append(const char *backend, const char *handles, const writer *w, int k, double t)
{
    double p50, p99;
    latency(w, k, &p50, &p99);
    size_t n = w[0].n * (size_t) k;
    printf("{\"test\":\"append\",\"backend\":\"%s\",\"writers\":%d,\"handles\":\"%s\","
           "\"events\":%zu,\"data_bytes\":%d,\"seconds\":%.4f,\"events_per_s\":%.1f,"
           "\"p50_us\":%.1f,\"p99_us\":%.1f}\n",
           backend, k, handles, n, DATA_BYTES, t, (double) n / t, p50, p99);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    size_t n = 5000;
    const char *uri = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--events") == 0 && i + 1 < argc) {
            n = strtoul(argv[++i], NULL, 10);
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: store_bench [--events N] URI\n");
            return 2;
        } else {
            uri = argv[i];
        }
    }
    if (uri == NULL || n == 0) {
        fprintf(stderr, "usage: store_bench [--events N] URI\n");
        return 2;
    }
    const char *backend = strncmp(uri, "sqlite:", 7) == 0 ? "sqlite" : "postgres";
    int shared = strcmp(backend, "sqlite") == 0;
    char tag[48];
    snprintf(tag, sizeof tag, "bench-%ld-%lld", (long) getpid(), (long long) wall_s());

    mf_store *s = open_store(uri, "bench-1");
    writer w[2];
    memset(w, 0, sizeof w);
    for (int i = 0; i < 2; i++) {
        w[i].n = n;
        w[i].lat_us = malloc(n * sizeof *w[i].lat_us);
        if (w[i].lat_us == NULL) {
            return 1;
        }
    }

    /* (a) one writer */
    w[0].store = s;
    snprintf(w[0].job, sizeof w[0].job, "%s-a", tag);
    running_job(s, w[0].job);
    print_append(backend, "one", w, 1, run_writers(w, 1));

    /* (b) two writers on two jobs */
    mf_store *second = shared ? s : open_store(uri, "bench-2");
    for (int i = 0; i < 2; i++) {
        w[i].store = i == 0 ? s : second;
        snprintf(w[i].job, sizeof w[i].job, "%s-b%d", tag, i + 1);
        running_job(w[i].store, w[i].job);
    }
    print_append(backend, shared ? "shared" : "per-thread", w, 2, run_writers(w, 2));

    /* (c) the log of (a) in pages, as a stream from its start reads it */
    char job_a[MF_ID_MAX + 1];
    snprintf(job_a, sizeof job_a, "%s-a", tag);
    uint64_t after = 0;
    size_t got = 0, pages = 0;
    double t0 = now_s();
    for (;;) {
        mf_event_rec *ev = NULL;
        size_t k = 0;
        mf_err err = mf_store_events_after(s, job_a, after, READ_PAGE, &ev, &k);
        if (err != MF_OK) {
            fprintf(stderr, "store_bench: events_after: %s\n", mf_err_name(err));
            return 1;
        }
        if (k == 0) {
            mf_event_recs_free(ev, k);
            break;
        }
        after = ev[k - 1].seq;
        got += k;
        pages++;
        mf_event_recs_free(ev, k);
    }
    double t = now_s() - t0;
    printf("{\"test\":\"read\",\"backend\":\"%s\",\"page\":%d,\"events\":%zu,\"pages\":%zu,"
           "\"seconds\":%.4f,\"events_per_s\":%.1f,\"page_us\":%.1f}\n",
           backend, READ_PAGE, got, pages, t, (double) got / t, t / (double) pages * 1e6);

    if (second != s) {
        mf_store_close(second);
    }
    mf_store_close(s);
    free(w[0].lat_us);
    free(w[1].lat_us);
    return 0;
}
