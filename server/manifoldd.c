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
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "bf16_linear.h"
#include "cli.h"
#include "cpu.h"
#include "datasets.h"
#include "http.h"
#include "http_conn.h"
#include "log.h"
#include "registry.h"
#include "scheduler.h"
#include "store.h"

typedef struct config {
    const char *listen, *models, *model_store, *store, *cors, *log_level, *openapi, *port_file;
    const char *web_dir;
    const char *api_keys, *allowed_hosts, *metrics_scope, *precision;
    double key_rate, key_burst, key_daily_flops;
    size_t key_max_jobs, key_max_bytes;
    bool insecure_open;
    size_t threads, http_threads, max_body, max_upload, max_connections, max_model_bytes;
    size_t max_dataset_rows, max_dataset_cols;
    double drain_timeout, heartbeat;
    /* connections (http_conn.c) */
    const char *health_listen;
    size_t max_connections_per_ip;
    double header_timeout, body_timeout;
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
        static char names[64][48];
        if (v != NULL && opts[i].kind != MF_OPT_FLAG) {
            snprintf(names[i], sizeof names[i], "--%s", opts[i].name);
            out[k++] = names[i];
            out[k++] = (char *) v;
        } else if (v != NULL && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0)) {
            snprintf(names[i], sizeof names[i], "--%s", opts[i].name); /* a flag: =1 or =true */
            out[k++] = names[i];
        }
    }
    for (int i = 1; i < argc; i++) {
        out[k++] = argv[i];
    }
    *ret_argc = k;
    return out;
}

/*
 * HOST:PORT into host and port; NULL, or why it cannot be served.  localhost
 * is 127.0.0.1; other names and IPv6 are refused with the reason rather than
 * resolved (a name can stand for several addresses, and the daemon listens
 * on one).
 */
static const char *parse_listen(const char *s, char host[64], uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s || (size_t) (colon - s) >= 64) {
        return "it needs HOST:PORT, e.g. 127.0.0.1:8080";
    }
    if (s[0] == '[' || memchr(s, ':', (size_t) (colon - s)) != NULL) {
        return "IPv6 is not served yet: give an IPv4 address, e.g. 127.0.0.1:8080";
    }
    memcpy(host, s, (size_t) (colon - s));
    host[colon - s] = '\0';
    if (strcmp(host, "localhost") == 0) {
        strcpy(host, "127.0.0.1");
    }
    struct in_addr a;
    if (inet_pton(AF_INET, host, &a) != 1) {
        return "the host must be an IPv4 address (or localhost); names are not resolved";
    }
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end != '\0' || p < 0 || p > 65535 || colon[1] == '\0') {
        return "the port must be a number from 0 to 65535 (0: any free port)";
    }
    *port = (uint16_t) p;
    return NULL;
}

/*
 * Whether host:port can be bound now, tried before the models load so that a
 * taken port is reported at once; NULL, or why not.  (The daemon binds for
 * real later; another process may take the port meanwhile, and then that
 * bind says so.)
 */
static const char *probe_bind(const char *host, uint16_t port, char *why, size_t cap)
{
    if (port == 0) {
        return NULL;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    (void) inet_pton(AF_INET, host, &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return NULL; /* nothing learnt: the real bind will say */
    }
    int one = 1;
    (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); /* as libmicrohttpd */
    int rc = bind(fd, (struct sockaddr *) &sa, sizeof sa), e = errno;
    close(fd);
    if (rc == 0) {
        return NULL;
    }
    if (e == EADDRINUSE) {
        snprintf(why, cap, "port %u is taken (is another manifoldd running? --listen picks another)",
                 port);
    } else if (e == EADDRNOTAVAIL) {
        snprintf(why, cap, "%s is not an address of this machine", host);
    } else if (e == EACCES) {
        snprintf(why, cap, "port %u needs privileges; use one above 1023", port);
    } else {
        snprintf(why, cap, "%s", strerror(e));
    }
    return why;
}

/*
 * The API keys: the file of --api-keys (MANIFOLD_API_KEYS), else the lines of
 * MANIFOLD_API_KEYS_TEXT (a container's secret as a variable), else none.
 * The variable is cleared once read, so no child process inherits tokens.
 */
static int load_keys(const config *c, mf_keys **ret)
{
    const char *text = getenv("MANIFOLD_API_KEYS_TEXT");
    mf_diag d = {0};
    mf_err err = MF_OK;
    if (c->api_keys != NULL && c->api_keys[0] != '\0') {
        err = mf_keys_load(c->api_keys, ret, &d);
    } else if (text != NULL && text[0] != '\0') {
        err = mf_keys_parse(text, strlen(text), ret, &d);
    }
    (void) unsetenv("MANIFOLD_API_KEYS_TEXT");
    if (err != MF_OK) {
        mf_cli_error("API keys from %s: %s",
                     c->api_keys != NULL && c->api_keys[0] != '\0' ? c->api_keys
                                                                   : "MANIFOLD_API_KEYS_TEXT",
                     d.msg[0] != '\0' ? d.msg : mf_strerror(err));
        return -1;
    }
    return 0;
}

/* The scope of --metrics-scope: 0 for none (open), or an mf_scope bit; -1 when unknown. */
static int metrics_scope(const char *s)
{
    static const unsigned bits[] = {0, MF_SCOPE_READ, MF_SCOPE_ADMIN};
    static const char *names[] = {"none", "read", "admin"};
    for (int i = 0; i < 3; i++) {
        if (strcmp(s, names[i]) == 0) {
            return (int) bits[i];
        }
    }
    return -1;
}

/* The registry's change hook: a model this replica added or deleted is announced to the
 * others (a shared store's watches), which rescan the model folder at once. */
static void announce_model(void *ctx, const char *id)
{
    mf_err err = mf_store_announce_model(ctx, id);
    if (err != MF_OK) {
        mf_log(MF_LOG_WARN, NULL, NULL,
               "cannot announce model %s to the other replicas (they see it on their next "
               "rescan): %s",
               id, mf_strerror(err));
    }
}

/* This process as a replica of a shared job store: host-pid-start time, never reused, so
 * a job it leaves running is taken over by lease expiry alone. */
static mf_err set_replica(mf_store *store, double lease_s)
{
    char host[41] = "";
    if (gethostname(host, sizeof host) != 0) {
        snprintf(host, sizeof host, "host");
    }
    host[sizeof host - 1] = '\0';
    char name[MF_ID_MAX + 1];
    snprintf(name, sizeof name, "%s-%ld-%lld", host, (long) getpid(), (long long) time(NULL));
    mf_err err = mf_store_set_lease(store, name, lease_s);
    if (err == MF_OK && mf_store_shared(store)) {
        mf_log(MF_LOG_INFO, NULL, NULL, "replica %s, job leases of %g s", name, lease_s);
    }
    return err;
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
    mf_cli_set_prog("manifoldd");
    size_t cores = (size_t) mf_cpu_count();
    config c = {.listen = "127.0.0.1:8080",
                .models = "models",
                .model_store = "var/models",
                .store = "sqlite:var/manifold.db",
                .cors = "",
                .allowed_hosts = "",
                .metrics_scope = "none",
                .key_rate = 50,
                .key_burst = 100,
                .key_max_jobs = 16,
                .log_level = "info",
                .precision = "bf16",
                .threads = 0,
                .http_threads = 2,
                .max_body = 1 << 20,
                .max_upload = 64u << 20,
                .max_connections = 1024,
                .max_model_bytes = 64u << 20,
                .max_dataset_rows = 1000000,
                .max_dataset_cols = 1024,
                .drain_timeout = 20,
                .heartbeat = 15,
                .health_listen = "",
                /* a quarter of the pool: no one address takes the daemon, while a client's
                 * burst of concurrent requests (batched together) still gets in */
                .max_connections_per_ip = 256,
                .header_timeout = 10,
                .body_timeout = 60};
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
        {"max-connections-per-ip", MF_OPT_SIZE, &c.max_connections_per_ip, 0, 1e6, "open connections from one client address, 0 = no cap (256; behind a load balancer raise it or use 0)"},
        {"header-timeout", MF_OPT_FLOAT, &c.header_timeout, 0.1, 3600, "seconds a connection has to send a request's whole headers, from its accept or its previous response (10)"},
        {"body-timeout", MF_OPT_FLOAT, &c.body_timeout, 1, 86400, "seconds without a byte either way, once the headers are in: slow bodies and readers; never while a stream waits for events (60)"},
        {"health-listen", MF_OPT_STR, &c.health_listen, 0, 0, "IPv4 address:port of a listener answering /healthz and /readyz only, with its own connections (none)"},
        {"http-threads", MF_OPT_SIZE, &c.http_threads, 1, 64, "HTTP threads (2)"},
        {"cors", MF_OPT_STR, &c.cors, 0, 0, "allowed origins, comma separated; * = any (none)"},
        {"api-keys", MF_OPT_STR, &c.api_keys, 0, 0, "file of API keys, one 'NAME SCOPES TOKEN' per line (none: loopback only)"},
        {"insecure-open", MF_OPT_FLAG, &c.insecure_open, 0, 0, "serve a non-loopback address without API keys"},
        {"allowed-hosts", MF_OPT_STR, &c.allowed_hosts, 0, 0, "Host names answered besides localhost, 127.0.0.1 and the listen address; * = any"},
        {"metrics-scope", MF_OPT_STR, &c.metrics_scope, 0, 0, "the scope /metrics needs with keys: none, read or admin (none)"},
        {"key-rate", MF_OPT_FLOAT, &c.key_rate, 0, 1e6, "requests per second per API key, 0 = no limit (50)"},
        {"key-burst", MF_OPT_FLOAT, &c.key_burst, 1, 1e6, "requests an API key may make at once (100)"},
        {"key-max-jobs", MF_OPT_SIZE, &c.key_max_jobs, 0, 1e6, "queued + running jobs per API key, 0 = no limit (16)"},
        {"key-daily-flops", MF_OPT_FLOAT, &c.key_daily_flops, 0, 1e30, "FLOPs per API key per UTC day (sampling and jobs), 0 = no limit (0)"},
        {"key-max-bytes", MF_OPT_SIZE, &c.key_max_bytes, 0, 1e15, "bytes of models and datasets per API key, 0 = no limit (0)"},
        {"result-ttl", MF_OPT_FLOAT, &sc.result_ttl, 1, 1e9, "seconds finished jobs are kept (86400)"},
        {"job-lease", MF_OPT_FLOAT, &sc.job_lease_s, 0.3, 3600, "seconds a replica holds a running job without renewing it; then another replica takes it over (PostgreSQL store; 30)"},
        {"drain-timeout", MF_OPT_FLOAT, &c.drain_timeout, 0, 3600, "seconds SIGTERM waits for running work (20)"},
        {"heartbeat", MF_OPT_FLOAT, &c.heartbeat, 0.1, 3600, "event-stream heartbeat period in seconds (15)"},
        {"slice", MF_OPT_FLOAT, &sc.slice_seconds, 0.001, 60, "seconds a job computes before yielding (0.2)"},
        {"log-level", MF_OPT_STR, &c.log_level, 0, 0, "debug, info, warn or error (info)"},
        {"precision", MF_OPT_STR, &c.precision, 0, 0, "sampling requests' arithmetic when they name none: f32 or bf16 (bf16: float where it cannot run)"},
        {"openapi", MF_OPT_STR, &c.openapi, 0, 0, "file served at /openapi.yaml (proto/openapi.yaml if present)"},
        {"web-dir", MF_OPT_STR, &c.web_dir, 0, 0, "serve the web page's files from this folder, e.g. clients/web, instead of the copy built in (development)"},
        {"port-file", MF_OPT_STR, &c.port_file, 0, 0, "write the bound port to this file once serving (the health port on a second line)"},
    };
    size_t n_opts = sizeof opts / sizeof opts[0];
    int eargc;
    char **eargv = with_env(argc, argv, opts, n_opts, &eargc);
    if (eargv == NULL) {
        mf_cli_error("out of memory");
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
    char host[64], health_host[64], why[160];
    uint16_t port, health_port = 0;
    if (lv < 0) {
        mf_cli_error("bad --log-level '%s' (debug, info, warn or error)", c.log_level);
        return 2;
    }
    sc.limits.default_precision = -1;
    for (int i = 0; mf_precision_names[i] != NULL; i++) {
        sc.limits.default_precision =
            strcmp(c.precision, mf_precision_names[i]) == 0 ? i : sc.limits.default_precision;
    }
    if (sc.limits.default_precision < 0) {
        mf_cli_error("bad --precision '%s' (f32 or bf16)", c.precision);
        return 2;
    }
    const char *bad = parse_listen(c.listen, host, &port);
    if (bad == NULL) {
        bad = probe_bind(host, port, why, sizeof why);
    }
    if (bad != NULL) {
        mf_cli_error("cannot listen on '%s': %s", c.listen, bad);
        return 2;
    }
    if (c.health_listen[0] != '\0' &&
        ((bad = parse_listen(c.health_listen, health_host, &health_port)) != NULL ||
         (bad = probe_bind(health_host, health_port, why, sizeof why)) != NULL)) {
        mf_cli_error("cannot listen on --health-listen '%s': %s", c.health_listen, bad);
        return 2;
    }
    mf_log_set_level((mf_log_level) lv);
    int mscope = metrics_scope(c.metrics_scope);
    if (mscope < 0) {
        mf_cli_error("bad --metrics-scope '%s' (none, read or admin)", c.metrics_scope);
        return 2;
    }
    if (c.web_dir != NULL && c.web_dir[0] != '\0') {
        char index[4096];
        struct stat st;
        snprintf(index, sizeof index, "%s/index.html", c.web_dir);
        if (stat(index, &st) != 0 || !S_ISREG(st.st_mode)) {
            mf_cli_error("--web-dir '%s' has no index.html (clients/web has)", c.web_dir);
            return 2;
        }
    }
    mf_keys *keys = NULL;
    if (load_keys(&c, &keys) != 0) {
        return 2;
    }
    /* Without keys anyone who reaches the port owns the daemon: only this machine may. */
    if (keys == NULL && strncmp(host, "127.", 4) != 0 && !c.insecure_open) {
        mf_cli_error("--listen %s is not a loopback address and no API keys are configured: "
                     "anyone who reaches it could upload, delete and run anything.  Give keys with "
                     "--api-keys FILE (or MANIFOLD_API_KEYS_TEXT), or say --insecure-open (behind "
                     "a proxy that authenticates)",
                     c.listen);
        return 2;
    }
    if (keys == NULL && strncmp(host, "127.", 4) != 0) {
        mf_log(MF_LOG_WARN, NULL, NULL,
               "serving %s without API keys (--insecure-open): whoever reaches it may do anything",
               c.listen);
    }
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
        /* the store's message names its file (and quotes no more of a URI than its scheme) */
        if (d.msg[0] != '\0') {
            mf_log(MF_LOG_ERROR, NULL, NULL, "%s", d.msg);
        } else {
            mf_log(MF_LOG_ERROR, NULL, NULL, "cannot open the job store: %s", mf_strerror(err));
        }
        goto out;
    }
    err = set_replica(store, sc.job_lease_s);
    if (err != MF_OK) {
        mf_log(MF_LOG_ERROR, NULL, NULL, "cannot name this replica: %s", mf_strerror(err));
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
    mf_registry_set_change_hook(reg, announce_model, store);
    /* replicas share the store directory: see what the others add and delete within a second */
    err = mf_registry_watch(reg, MF_STORE_RESCAN_MS);
    if (err != MF_OK) {
        mf_log(MF_LOG_ERROR, NULL, NULL, "cannot watch the model store: %s", mf_strerror(err));
        goto out;
    }
    /* oneDNN sets its global state up lazily: once here, before the worker threads */
    if (mf_bf16_warm_up() != MF_OK) {
        mf_log(MF_LOG_WARN, NULL, NULL, "bf16 layers cannot be made here: bf16 requests will fail");
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
                      .max_connections_per_ip = c.max_connections_per_ip,
                      .header_timeout_s = c.header_timeout,
                      .body_timeout_s = c.body_timeout,
                      .health_host = c.health_listen[0] != '\0' ? health_host : NULL,
                      .health_port = health_port,
                      .cors_origins = c.cors,
                      .heartbeat_s = c.heartbeat,
                      .openapi_path = openapi,
                      .web_dir = c.web_dir,
                      .spool_dir = c.model_store,
                      .allowed_hosts = c.allowed_hosts,
                      .keys = keys,
                      .metrics_scope = (unsigned) mscope,
                      .quota = {.rate = c.key_rate,
                                .burst = c.key_burst,
                                .max_jobs = c.key_max_jobs,
                                .daily_flops = c.key_daily_flops,
                                .max_bytes = c.key_max_bytes}};
    uint16_t bound = 0;
    mf_http_raise_nofile(c.max_connections);
    err = mf_server_start(&hc, store, reg, sched, &srv, &bound);
    if (err != MF_OK) {
        mf_sched_drain(sched, 0);
        goto out;
    }
    mf_server_set_ready(srv, true);
    char store_shown[256]; /* never a password */
    mf_store_uri_redacted(c.store, store_shown, sizeof store_shown);
    mf_log(MF_LOG_INFO, NULL, NULL,
           "manifoldd serving on http://%s:%u (%zu worker(s) x %zu thread(s), store %s, %s)", host,
           bound, sc.workers, threads, store_shown,
           keys != NULL ? "API keys on" : "no API keys: open to whoever reaches the address");
    if (keys != NULL) {
        mf_log(MF_LOG_INFO, NULL, NULL, "API keys: %zu", mf_keys_count(keys));
    }
    if (c.port_file != NULL) {
        FILE *pf = fopen(c.port_file, "w");
        if (pf != NULL) {
            fprintf(pf, "%u\n", bound);
            if (mf_server_health_port(srv) != 0) {
                fprintf(pf, "%u\n", mf_server_health_port(srv));
            }
            fclose(pf);
        }
    }
    int sig = 0;
    sigwait(&sigs, &sig);
    mf_log(MF_LOG_INFO, NULL, NULL, "signal %d: draining (up to %.0f s)", sig, c.drain_timeout);
    mf_server_quiesce(srv);
    bool in_time = mf_sched_drain(sched, c.drain_timeout);
    mf_log(in_time ? MF_LOG_INFO : MF_LOG_WARN, NULL, NULL,
           in_time                  ? "drained; stopping"
           : mf_store_shared(store) ? "drain timeout: unfinished jobs go on on the other replicas"
                                    : "drain timeout: unfinished jobs resume at the next start");
    status = 0;
out:
    mf_server_stop(srv);
    mf_sched_free(sched);
    mf_registry_free(reg);
    mf_datasets_free(datasets);
    mf_store_close(store);
    mf_keys_free(keys);
    return status;
}
