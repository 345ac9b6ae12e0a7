/* SPDX-License-Identifier: MIT */
/*
 * manifoldd - the Manifold daemon: loads the models, opens the job store,
 * starts the scheduler and the HTTP server, and drains on SIGTERM/SIGINT.
 *
 * Every flag can also come from the environment (containers): --max-queue is
 * MANIFOLD_MAX_QUEUE, and so on; a flag on the command line wins.
 *
 * Cores: --workers x --threads never exceeds the cores (default: one worker
 * with a team of all cores; batching gives throughput, slicing gives
 * fairness), and OpenBLAS runs single-threaded inside each team thread.
 */
#include <ctype.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cpu.h"
#include "datasets.h"
#include "http.h"
#include "log.h"
#include "registry.h"
#include "scheduler.h"
#include "store.h"

typedef struct config {
    const char *listen, *models, *model_store, *store, *cors, *log_level, *openapi, *port_file;
    size_t threads, http_threads, max_body, max_upload, max_connections, max_model_bytes;
    size_t max_dataset_rows, max_dataset_cols;
    double drain_timeout, heartbeat;
} config;

/* Prepends "--name value" for every MANIFOLD_NAME variable to argv. */
static char **with_env(int argc, char **argv, const mf_opt *opts, size_t n, int *ret_argc)
{
    char **out = calloc((size_t) argc + 2 * n + 1, sizeof *out);
    if (out == NULL) {
        return NULL;
    }
    int k = 0;
    out[k++] = argv[0];
    for (size_t i = 0; i < n; i++) {
        char env[64] = "MANIFOLD_";
        size_t l = strlen(env);
        for (const char *p = opts[i].name; *p != '\0' && l + 1 < sizeof env; p++) {
            env[l++] = *p == '-' ? '_' : (char) toupper((unsigned char) *p);
        }
        env[l] = '\0';
        const char *v = getenv(env);
        if (v != NULL && opts[i].kind != MF_OPT_FLAG) {
            static char names[64][48];
            snprintf(names[i], sizeof names[i], "--%s", opts[i].name);
            out[k++] = names[i];
            out[k++] = (char *) v;
        }
    }
    for (int i = 1; i < argc; i++) {
        out[k++] = argv[i];
    }
    *ret_argc = k;
    return out;
}

static int parse_listen(const char *s, char host[64], uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || (size_t) (colon - s) >= 64) {
        return -1;
    }
    memcpy(host, s, (size_t) (colon - s));
    host[colon - s] = '\0';
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end != '\0' || p < 0 || p > 65535 || colon[1] == '\0') {
        return -1;
    }
    *port = (uint16_t) p;
    return 0;
}

/* The data sets, in <model store>/datasets, attached to the registry before the scheduler
 * starts (a job it recovers may train on one). */
static mf_err open_datasets(const config *c, mf_registry *reg, mf_datasets **ret)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/datasets", c->model_store);
    const mf_data_limits lim = {.max_rows = c->max_dataset_rows,
                                .max_cols = c->max_dataset_cols,
                                .max_bytes = c->max_upload};
    size_t loaded = 0, skipped = 0;
    mf_err err = mf_datasets_open(dir, &lim, ret, &loaded, &skipped);
    if (err != MF_OK) {
        mf_log(MF_LOG_ERROR, NULL, NULL, "cannot load the datasets: %s", mf_strerror(err));
        return err;
    }
    mf_registry_set_datasets(reg, *ret);
    mf_log(MF_LOG_INFO, NULL, NULL, "datasets: %zu loaded, %zu skipped", loaded, skipped);
    return MF_OK;
}

int main(int argc, char **argv)
{
    size_t cores = (size_t) mf_cpu_count();
    config c = {.listen = "127.0.0.1:8080",
                .models = "models",
                .model_store = "var/models",
                .store = "sqlite:var/manifold.db",
                .cors = "",
                .log_level = "info",
                .threads = 0,
                .http_threads = 2,
                .max_body = 1 << 20,
                .max_upload = 64u << 20,
                .max_connections = 1024,
                .max_model_bytes = 64u << 20,
                .max_dataset_rows = 1000000,
                .max_dataset_cols = 1024,
                .drain_timeout = 20,
                .heartbeat = 15};
    /* the scheduler's own defaults; its flags write straight into sc */
    mf_sched_cfg sc = mf_sched_cfg_default();
    const mf_opt opts[] = {
        {"listen", MF_OPT_STR, &c.listen, 0, 0, "IPv4 address:port to serve (127.0.0.1:8080; port 0 = any free)"},
        {"models", MF_OPT_STR, &c.models, 0, 0, "directory of the shipped models, read-only and protected (models)"},
        {"model-store", MF_OPT_STR, &c.model_store, 0, 0, "directory for uploaded and trained models (var/models)"},
        {"store", MF_OPT_STR, &c.store, 0, 0, "job store URI (sqlite:var/manifold.db)"},
        {"workers", MF_OPT_SIZE, &sc.workers, 1, 64, "compute workers (1)"},
        {"threads", MF_OPT_SIZE, &c.threads, 0, 256, "threads per worker, 0 = cores / workers"},
        {"max-queue", MF_OPT_SIZE, &sc.max_queue, 1, 1e6, "queued jobs before 503 queue_full (256)"},
        {"max-pending", MF_OPT_SIZE, &sc.max_pending_samples, 1, 1e6, "waiting sampling and score requests before 503 (1024)"},
        {"max-running", MF_OPT_SIZE, &sc.max_running_jobs, 1, 1024, "jobs started at once (2)"},
        {"max-batch-rows", MF_OPT_SIZE, &sc.max_batch_rows, 1, 1e6, "rows of one batched sampler run, points of one score run (4096)"},
        {"max-body", MF_OPT_SIZE, &c.max_body, 64, 1e9, "JSON body limit in bytes (1 MiB)"},
        {"max-upload", MF_OPT_SIZE, &c.max_upload, 64, 1e10, "model and dataset upload limit in bytes (64 MiB)"},
        {"max-dataset-rows", MF_OPT_SIZE, &c.max_dataset_rows, 1, 4294967295.0, "rows of an uploaded dataset (1000000)"},
        {"max-dataset-cols", MF_OPT_SIZE, &c.max_dataset_cols, 1, 8192, "columns of an uploaded dataset, labels apart (1024)"},
        {"max-model-params", MF_OPT_SIZE, &sc.limits.max_model_params, 1, 4e9, "parameters of a model file or of a model a job makes (16000000)"},
        {"max-job-memory", MF_OPT_SIZE, &sc.limits.max_job_bytes, 1 << 20, 1e13, "a job's memory estimate in bytes, checked at submit (2 GiB)"},
        {"max-job-flops", MF_OPT_FLOAT, &sc.limits.max_job_flops, 1e6, 1e21, "a job's compute estimate in floating-point operations, checked at submit (1e16)"},
        {"max-connections", MF_OPT_SIZE, &c.max_connections, 1, 1e6, "open connections (1024)"},
        {"http-threads", MF_OPT_SIZE, &c.http_threads, 1, 64, "HTTP threads (2)"},
        {"cors", MF_OPT_STR, &c.cors, 0, 0, "allowed origins, comma separated; * = any (none)"},
        {"result-ttl", MF_OPT_FLOAT, &sc.result_ttl, 1, 1e9, "seconds finished jobs are kept (86400)"},
        {"drain-timeout", MF_OPT_FLOAT, &c.drain_timeout, 0, 3600, "seconds SIGTERM waits for running work (20)"},
        {"heartbeat", MF_OPT_FLOAT, &c.heartbeat, 0.1, 3600, "event-stream heartbeat period in seconds (15)"},
        {"slice", MF_OPT_FLOAT, &sc.slice_seconds, 0.001, 60, "seconds a job computes before yielding (0.2)"},
        {"log-level", MF_OPT_STR, &c.log_level, 0, 0, "debug, info, warn or error (info)"},
        {"openapi", MF_OPT_STR, &c.openapi, 0, 0, "file served at /openapi.yaml (proto/openapi.yaml if present)"},
        {"port-file", MF_OPT_STR, &c.port_file, 0, 0, "write the bound port to this file once serving"},
    };
    size_t n_opts = sizeof opts / sizeof opts[0];
    int eargc;
    char **eargv = with_env(argc, argv, opts, n_opts, &eargc);
    if (eargv == NULL) {
        return 1;
    }
    int rc = mf_cli_parse(eargc, eargv, 1, opts, n_opts, "manifoldd [options]");
    free(eargv);
    if (rc != 0) {
        return rc == 1 ? 0 : 2;
    }
    static const char *levels[] = {"debug", "info", "warn", "error"};
    int lv = -1;
    for (int i = 0; i < 4; i++) {
        lv = strcmp(c.log_level, levels[i]) == 0 ? i : lv;
    }
    char host[64];
    uint16_t port;
    if (lv < 0 || parse_listen(c.listen, host, &port) != 0) {
        fprintf(stderr, "error: bad --log-level '%s' or --listen '%s' (HOST:PORT)\n", c.log_level,
                c.listen);
        return 2;
    }
    mf_log_set_level((mf_log_level) lv);
    size_t threads = c.threads > 0 ? c.threads : (cores / sc.workers > 0 ? cores / sc.workers : 1);
    if (sc.workers * threads > cores) {
        mf_log(MF_LOG_WARN, NULL, NULL,
               "workers x threads = %zu exceeds the %zu cores: compute will contend",
               sc.workers * threads, cores);
    }
    sc.team = threads;
    mf_cpu_set_blas_threads(1);

    /* Signals are taken by sigwait in this thread; every thread started below inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    mf_store *store = NULL;
    mf_registry *reg = NULL;
    mf_datasets *datasets = NULL;
    mf_sched *sched = NULL;
    mf_server *srv = NULL;
    int status = 1;
    mf_diag d = {0};
    /* the default store lives in var/: create it */
    if (strncmp(c.store, "sqlite:var/", 11) == 0 || strncmp(c.model_store, "var/", 4) == 0) {
        (void) mkdir("var", 0755);
    }
    mf_err err = mf_store_open(c.store, &store, &d);
    if (err != MF_OK) {
        mf_log(MF_LOG_ERROR, NULL, NULL, "cannot open the job store %s: %s (%s)", c.store,
               mf_strerror(err), d.msg);
        goto out;
    }
    size_t loaded = 0, skipped = 0;
    const mf_model_limits model_limits = {.max_params = sc.limits.max_model_params};
    err = mf_registry_open(c.models[0] != '\0' ? c.models : NULL, c.model_store, c.max_model_bytes,
                           &model_limits, &reg, &loaded, &skipped);
    if (err != MF_OK) {
        mf_log(MF_LOG_ERROR, NULL, NULL, "cannot load the models: %s", mf_strerror(err));
        goto out;
    }
    mf_log(MF_LOG_INFO, NULL, NULL, "models: %zu loaded, %zu skipped", loaded, skipped);
    if (open_datasets(&c, reg, &datasets) != MF_OK) {
        goto out;
    }
    err = mf_sched_start(&sc, store, reg, &sched);
    if (err != MF_OK) {
        mf_log(MF_LOG_ERROR, NULL, NULL, "cannot start the scheduler: %s", mf_strerror(err));
        goto out;
    }
    const char *openapi = c.openapi;
    FILE *probe = openapi == NULL ? fopen("proto/openapi.yaml", "r") : NULL;
    if (probe != NULL) {
        fclose(probe);
        openapi = "proto/openapi.yaml";
    }
    mf_http_cfg hc = {.host = host,
                      .port = port,
                      .threads = c.http_threads,
                      .max_body = c.max_body,
                      .max_upload = c.max_upload,
                      .max_connections = c.max_connections,
                      .cors_origins = c.cors,
                      .heartbeat_s = c.heartbeat,
                      .openapi_path = openapi};
    uint16_t bound = 0;
    err = mf_server_start(&hc, store, reg, sched, &srv, &bound);
    if (err != MF_OK) {
        mf_sched_drain(sched, 0);
        goto out;
    }
    mf_server_set_ready(srv, true);
    mf_log(MF_LOG_INFO, NULL, NULL,
           "manifoldd serving on http://%s:%u (%zu worker(s) x %zu thread(s), store %s)", host,
           bound, sc.workers, threads, c.store);
    if (c.port_file != NULL) {
        FILE *pf = fopen(c.port_file, "w");
        if (pf != NULL) {
            fprintf(pf, "%u\n", bound);
            fclose(pf);
        }
    }
    int sig = 0;
    sigwait(&sigs, &sig);
    mf_log(MF_LOG_INFO, NULL, NULL, "signal %d: draining (up to %.0f s)", sig, c.drain_timeout);
    mf_server_quiesce(srv);
    bool in_time = mf_sched_drain(sched, c.drain_timeout);
    mf_log(in_time ? MF_LOG_INFO : MF_LOG_WARN, NULL, NULL,
           in_time ? "drained; stopping" : "drain timeout: unfinished jobs resume at the next start");
    status = 0;
out:
    mf_server_stop(srv);
    mf_sched_free(sched);
    mf_registry_free(reg);
    mf_datasets_free(datasets);
    mf_store_close(store);
    return status;
}
