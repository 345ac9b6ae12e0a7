/* SPDX-License-Identifier: MIT */
/*
 * prom.c - GET /metrics in the Prometheus text format (version 0.0.4):
 * requests by status class, queue depth, jobs by state, samples generated,
 * batching, worker utilisation, models held, and histograms of queue wait and
 * run time (the signals an autoscaler wants; counters alone never scale down).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_req.h"
#include "routes.h"

typedef struct buf {
    char *p;
    size_t len, cap;
    bool oom;
} buf;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
put(buf *b, const char *fmt, ...)
{
    for (int attempt = 0; attempt < 2 && !b->oom; attempt++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if ((size_t) n < b->cap - b->len) {
            b->len += (size_t) n;
            return;
        }
        size_t cap = 2 * b->cap + (size_t) n;
        char *q = realloc(b->p, cap);
        if (q == NULL) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
}

static void histogram(buf *b, const char *name, const char *help, const mf_hist *h)
{
    put(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (size_t i = 0; i < MF_SCHED_N_BUCKETS; i++) {
        cum += h->counts[i];
        put(b, "%s_bucket{le=\"%g\"} %llu\n", name, mf_sched_buckets[i], (unsigned long long) cum);
    }
    cum += h->counts[MF_SCHED_N_BUCKETS];
    put(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
        (unsigned long long) cum, name, h->sum, name, (unsigned long long) h->count);
}

enum MHD_Result mf_route_metrics(req *r)
{
    mf_server *s = r->srv;
    mf_sched_stats st;
    mf_sched_get_stats(s->sched, &st);
    uint64_t counts[5] = {0};
    bool have_counts = mf_store_count_states(s->store, counts) == MF_OK;
    size_t n_models;
    uint64_t param_bytes;
    mf_registry_stats(s->reg, &n_models, &param_bytes);

    buf b = {.p = malloc(8192), .cap = 8192};
    b.oom = b.p == NULL;
    put(&b, "# HELP manifold_http_requests_total HTTP requests answered, by status class.\n"
            "# TYPE manifold_http_requests_total counter\n");
    for (int c = 1; c <= 5; c++) {
        put(&b, "manifold_http_requests_total{code=\"%dxx\"} %llu\n", c,
            (unsigned long long) atomic_load(&s->responses[c]));
    }
    put(&b, "# HELP manifold_refusals_total Requests refused before they ran, by reason "
            "(keys, scopes, guards, per-key limits).\n"
            "# TYPE manifold_refusals_total counter\n");
    for (int why = 0; why < MF_REFUSAL_COUNT; why++) {
        put(&b, "manifold_refusals_total{reason=\"%s\"} %llu\n", mf_refusal_name((mf_refusal) why),
            (unsigned long long) mf_quota_refusals(s->quota, (mf_refusal) why));
    }
    put(&b,
        "# HELP manifold_queue_depth Work waiting: queued jobs, sampling and score requests.\n"
        "# TYPE manifold_queue_depth gauge\n"
        "manifold_queue_depth{kind=\"jobs\"} %zu\nmanifold_queue_depth{kind=\"samples\"} %zu\n"
        "manifold_queue_depth{kind=\"scores\"} %zu\n",
        st.queued, st.pending_samples, st.pending_scores);
    put(&b, "# HELP manifold_jobs Jobs in the store, by state.\n# TYPE manifold_jobs gauge\n");
    static const char *names[5] = {"queued", "running", "succeeded", "failed", "cancelled"};
    for (int i = 0; i < 5 && have_counts; i++) {
        put(&b, "manifold_jobs{state=\"%s\"} %llu\n", names[i], (unsigned long long) counts[i]);
    }
    put(&b, "# HELP manifold_jobs_finished_total Jobs finished by this process, by state.\n"
            "# TYPE manifold_jobs_finished_total counter\n");
    for (int i = 2; i < 5; i++) {
        put(&b, "manifold_jobs_finished_total{state=\"%s\"} %llu\n", names[i],
            (unsigned long long) st.jobs_finished[i]);
    }
    put(&b,
        "# HELP manifold_samples_total Samples generated.\n# TYPE manifold_samples_total counter\n"
        "manifold_samples_total %llu\n"
        "# HELP manifold_sample_requests_total Sampling requests answered.\n"
        "# TYPE manifold_sample_requests_total counter\nmanifold_sample_requests_total %llu\n"
        "# HELP manifold_batches_total Batched sampler runs (one forward pass per step for all "
        "their requests).\n# TYPE manifold_batches_total counter\nmanifold_batches_total %llu\n",
        (unsigned long long) st.samples_total, (unsigned long long) st.sample_calls_total,
        (unsigned long long) st.batches_total);
    put(&b,
        "# HELP manifold_points_scored_total Points given anomaly scores.\n"
        "# TYPE manifold_points_scored_total counter\nmanifold_points_scored_total %llu\n"
        "# HELP manifold_score_requests_total Score requests answered.\n"
        "# TYPE manifold_score_requests_total counter\nmanifold_score_requests_total %llu\n",
        (unsigned long long) st.points_scored_total, (unsigned long long) st.score_calls_total);
    put(&b,
        "# HELP manifold_workers Compute workers.\n# TYPE manifold_workers gauge\n"
        "manifold_workers %zu\n"
        "# HELP manifold_workers_busy Workers computing now.\n# TYPE manifold_workers_busy gauge\n"
        "manifold_workers_busy %zu\n"
        "# HELP manifold_worker_busy_seconds_total Worker time spent computing.\n"
        "# TYPE manifold_worker_busy_seconds_total counter\nmanifold_worker_busy_seconds_total "
        "%.3f\n",
        st.workers, st.busy_workers, st.busy_seconds);
    put(&b,
        "# HELP manifold_job_store_writable 1 while the job store takes writes, 0 while jobs "
        "wait for it (disk full).\n# TYPE manifold_job_store_writable gauge\n"
        "manifold_job_store_writable %d\n"
        "# HELP manifold_jobs_unstored Jobs holding reports the job store has not taken yet.\n"
        "# TYPE manifold_jobs_unstored gauge\nmanifold_jobs_unstored %zu\n"
        "# HELP manifold_job_store_retries_total Probes of a job store that could not write.\n"
        "# TYPE manifold_job_store_retries_total counter\nmanifold_job_store_retries_total %llu\n",
        mf_store_writable(s->store) == MF_OK && !st.store_waiting, st.unstored,
        (unsigned long long) st.store_retries_total);
    put(&b,
        "# HELP manifold_models Models held in memory.\n# TYPE manifold_models gauge\n"
        "manifold_models %zu\n# HELP manifold_model_parameter_bytes Bytes of model parameters "
        "held.\n# TYPE manifold_model_parameter_bytes gauge\nmanifold_model_parameter_bytes %llu\n",
        n_models, (unsigned long long) param_bytes);
    histogram(&b, "manifold_queue_wait_seconds", "Time from submission to the start of compute.",
              &st.queue_wait);
    histogram(&b, "manifold_run_seconds", "Time from submission to the end of compute.",
              &st.run_time);
    if (b.oom) {
        free(b.p);
        return mf_http_error(r, "internal", NULL, "out of memory");
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(b.len, b.p, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(b.p);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    return mf_http_queue(r, 200, resp);
}
