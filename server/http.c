/* SPDX-License-Identifier: MIT */
/*
 * http.c - the libmicrohttpd daemon, request bodies, routing and responses
 * (see http.h).  Routes live in routes_*.c, streams in stream.c.
 */
#include "http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api_json.h"
#include "clock.h"
#include "http_req.h"
#include "log.h"
#include "request_json.h"
#include "routes.h"
#include "stream.h"

/* ---- responses ------------------------------------------------------------------ */

enum MHD_Result mf_http_queue(req *r, unsigned status, struct MHD_Response *resp)
{
    if (resp == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(resp, "X-Request-Id", r->id);
    if (r->origin[0] != '\0') {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", r->origin);
        MHD_add_response_header(resp, "Vary", "Origin");
        MHD_add_response_header(resp, "Access-Control-Expose-Headers",
                                "Location, Retry-After, X-Request-Id");
    }
    if (r->location[0] != '\0') {
        MHD_add_response_header(resp, "Location", r->location);
    }
    r->status = (int) status;
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result mf_http_bad_method(req *r)
{
    return mf_http_error(r, 405, "method_not_allowed", NULL, "%s %s is not allowed", r->method,
                         r->path);
}

enum MHD_Result mf_http_json(req *r, unsigned status, char *body)
{
    if (body == NULL) {
        static const char oom[] =
            "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\",\"field\":null}}";
        body = strdup(oom);
        status = 500;
        if (body == NULL) {
            return MHD_NO;
        }
    }
    size_t n = strlen(body);
    /* MHD copies nothing with MUST_FREE: it frees body with free() when done. */
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(n, body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (status == 503 || status == 429) {
        char ra[16];
        snprintf(ra, sizeof ra, "%u", r->retry_after > 0 ? r->retry_after : 1u);
        MHD_add_response_header(resp, "Retry-After", ra);
    }
    if (status == 405) {
        MHD_add_response_header(resp, "Allow", "GET, POST, DELETE, OPTIONS");
    }
    return mf_http_queue(r, status, resp);
}

enum MHD_Result mf_http_error(req *r, unsigned status, const char *code, const char *field,
                              const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (status >= 500) {
        mf_log(MF_LOG_WARN, r->id, NULL, "%s %s -> %u %s: %s", r->method, r->path, status, code, msg);
    }
    return mf_http_json(r, status, mf_json_error_body(code, msg, field));
}

const char *mf_http_arg(req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

bool mf_http_content_type_is(req *r, const char *type, bool missing_ok)
{
    const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
    if (ct == NULL) {
        return missing_ok;
    }
    size_t n = strlen(type);
    if (strncasecmp(ct, type, n) != 0) {
        return false;
    }
    char next = ct[n]; /* the media type must end here: "application/jsonx" is not JSON */
    return next == '\0' || next == ';' || next == ' ' || next == '\t';
}

enum MHD_Result mf_http_need_json(req *r)
{
    return mf_http_error(r, 415, "unsupported_media_type", NULL,
                         "send the body as Content-Type: application/json (with curl: --json "
                         "'{...}' or -H 'Content-Type: application/json')");
}

/* ---- CORS --------------------------------------------------------------------------- */

/* Sets r->origin when the request's Origin is on the allow-list. */
static void cors_check(req *r)
{
    const char *origin = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Origin");
    const char *list = r->srv->cors;
    if (origin == NULL || list[0] == '\0' || strlen(origin) >= sizeof r->origin) {
        return;
    }
    size_t ol = strlen(origin);
    for (const char *p = list; *p != '\0';) {
        const char *e = strchr(p, ',');
        size_t n = e != NULL ? (size_t) (e - p) : strlen(p);
        if ((n == 1 && p[0] == '*') || (n == ol && strncmp(p, origin, n) == 0)) {
            memcpy(r->origin, origin, ol + 1);
            return;
        }
        p += n + (e != NULL);
    }
}

static enum MHD_Result preflight(req *r)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *) "", MHD_RESPMEM_PERSISTENT);
    if (resp == NULL) {
        return MHD_NO;
    }
    if (r->origin[0] != '\0') {
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
        MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                                "Content-Type, Authorization, Last-Event-ID, X-Request-Id");
        MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
    }
    return mf_http_queue(r, 204, resp);
}

/* ---- routing ---------------------------------------------------------------------- */

static enum MHD_Result health(req *r, bool readiness)
{
    mf_server *s = r->srv;
    if (!readiness) {
        return mf_http_json(r, 200, mf_json_take_dump(mf_json_health("ok", NULL)));
    }
    const char *why = NULL;
    if (!atomic_load(&s->ready)) {
        why = "loading";
    } else if (atomic_load(&s->quiescing) || mf_sched_draining(s->sched)) {
        why = "draining";
    } else if (mf_store_ping(s->store) != MF_OK) {
        why = "store unreachable";
    }
    if (why != NULL) {
        return mf_http_json(r, 503, mf_json_take_dump(mf_json_health("unavailable", why)));
    }
    return mf_http_json(r, 200, mf_json_take_dump(mf_json_health("ready", NULL)));
}

static enum MHD_Result serve_file(req *r, const char *path, const char *type)
{
    FILE *f = path != NULL ? fopen(path, "rb") : NULL;
    if (f == NULL) {
        return mf_http_error(r, 404, "not_found", NULL, "no such resource: %s", r->path);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t) n + 1) : NULL;
    size_t got = buf != NULL ? fread(buf, 1, (size_t) n, f) : 0;
    fclose(f);
    if (buf == NULL || got != (size_t) n) {
        free(buf);
        return mf_http_error(r, 500, "internal", NULL, "cannot read %s", path);
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(got, buf, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(buf);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", type);
    return mf_http_queue(r, 200, resp);
}

/*
 * Splits "/v1/<coll>[/<id>[/<sub>]]".  Returns the number of segments after
 * /v1 (0 when the path is not under /v1), or -1 when too long or with empty
 * segments.
 */
static int split(const char *path, char coll[32], char id[128], char sub[32])
{
    coll[0] = id[0] = sub[0] = '\0';
    if (strncmp(path, "/v1/", 4) != 0) {
        return 0;
    }
    const char *p = path + 4;
    char *outs[3] = {coll, id, sub};
    size_t caps[3] = {32, 128, 32};
    int n = 0;
    while (*p != '\0') {
        if (n == 3) {
            return -1;
        }
        const char *e = strchr(p, '/');
        size_t len = e != NULL ? (size_t) (e - p) : strlen(p);
        if (len == 0 || len >= caps[n]) {
            return -1;
        }
        memcpy(outs[n], p, len);
        outs[n][len] = '\0';
        n++;
        p += len;
        if (*p == '/') {
            p++;
            if (*p == '\0') {
                return -1; /* trailing slash */
            }
        }
    }
    return n;
}

static enum MHD_Result route(req *r)
{
    const char *m = r->method;
    if (strcmp(m, "OPTIONS") == 0) {
        return preflight(r);
    }
    if (strcmp(r->path, "/healthz") == 0 || strcmp(r->path, "/readyz") == 0) {
        if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
            return mf_http_bad_method(r);
        }
        return health(r, r->path[1] == 'r');
    }
    if (strcmp(r->path, "/metrics") == 0) {
        if (strcmp(m, "GET") != 0) {
            return mf_http_bad_method(r);
        }
        return mf_route_metrics(r);
    }
    if (strcmp(r->path, "/openapi.yaml") == 0) {
        return serve_file(r, r->srv->cfg.openapi_path, "application/yaml");
    }
    char coll[32], id[128], sub[32];
    int n = split(r->path, coll, id, sub);
    if (n <= 0) {
        return mf_http_error(r, 404, "not_found", NULL, "no such resource: %s", r->path);
    }
    if (n >= 2 && !mf_req_id_valid(id)) {
        return mf_http_error(r, 404, "not_found", NULL,
                             "no such resource: ids match [a-z0-9][a-z0-9._-]{0,63}");
    }
    if (strcmp(coll, "models") == 0) {
        return mf_route_models(r, n >= 2 ? id : NULL, n >= 3 ? sub : NULL);
    }
    if (strcmp(coll, "samples") == 0 && n == 1) {
        if (strcmp(m, "POST") != 0) {
            return mf_http_bad_method(r);
        }
        return mf_route_samples(r);
    }
    if (strcmp(coll, "jobs") == 0) {
        return mf_route_jobs(r, n >= 2 ? id : NULL, n >= 3 ? sub : NULL);
    }
    return mf_http_error(r, 404, "not_found", NULL, "no such resource: %s", r->path);
}

/* ---- MHD callbacks ----------------------------------------------------------------- */

static bool body_allowed(const char *method)
{
    return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0;
}

static req *req_new(mf_server *s, struct MHD_Connection *conn, const char *url,
                    const char *method)
{
    req *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return NULL;
    }
    r->srv = s;
    r->conn = conn;
    r->method = method;
    r->t0 = mf_mono_s();
    snprintf(r->path, sizeof r->path, "%s", url);
    const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    bool ok = rid != NULL && strlen(rid) > 0 && strlen(rid) < sizeof r->id;
    for (const char *p = rid; ok && *p != '\0'; p++) {
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             *p == '-' || *p == '_' || *p == '.';
    }
    if (ok) {
        memcpy(r->id, rid, strlen(rid) + 1);
    } else {
        unsigned long long k = atomic_fetch_add(&s->req_counter, 1);
        snprintf(r->id, sizeof r->id, "req-%llx-%llx", (unsigned long long) time(NULL), k);
    }
    bool upload = strcmp(method, "POST") == 0 && strcmp(r->path, "/v1/models") == 0;
    r->limit = upload ? s->cfg.max_upload : s->cfg.max_body;
    atomic_init(&r->call_done, 0);
    cors_check(r);
    return r;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    (void) version;
    mf_server *s = cls;
    req *r = *con_cls;
    if (r == NULL) {
        r = req_new(s, conn, url, method);
        if (r == NULL) {
            return MHD_NO;
        }
        *con_cls = r;
        atomic_fetch_add(&s->requests_total, 1);
        /* Refuse a declared oversize body before reading it. */
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl != NULL && strtoull(cl, NULL, 10) > r->limit) {
            r->too_big = true;
            r->started = true;
            return mf_http_error(r, 413, "too_large", NULL,
                                 "the body has %s bytes, over the limit of %zu", cl, r->limit);
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (r->started) {
            *upload_data_size = 0; /* already answered (413): drop the rest */
            return MHD_YES;
        }
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (!body_allowed(method) || r->too_big || r->len + n > r->limit) {
            r->too_big = true;
            return MHD_YES;
        }
        if (r->len + n + 1 > r->cap) {
            size_t cap = r->cap == 0 ? 4096 : r->cap;
            while (cap < r->len + n + 1) {
                cap *= 2;
            }
            char *b = realloc(r->body, cap);
            if (b == NULL) {
                r->too_big = true;
                return MHD_YES;
            }
            r->body = b;
            r->cap = cap;
        }
        memcpy(r->body + r->len, upload_data, n);
        r->len += n;
        r->body[r->len] = '\0';
        return MHD_YES;
    }
    if (r->call != NULL) {
        /* resumed by the scheduler: the sampling call is done */
        return mf_route_samples(r);
    }
    if (r->started) {
        return MHD_YES;
    }
    r->started = true;
    if (r->too_big) {
        return mf_http_error(r, 413, "too_large", NULL, "the body is over the limit of %zu bytes",
                             r->limit);
    }
    if (atomic_load(&s->quiescing)) {
        return mf_http_error(r, 503, "shutting_down", NULL, "the server is shutting down");
    }
    return route(r);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void) conn;
    (void) toe;
    mf_server *s = cls;
    req *r = *con_cls;
    if (r == NULL) {
        return;
    }
    int cls_i = r->status / 100;
    if (cls_i >= 1 && cls_i <= 5) {
        atomic_fetch_add(&s->responses[cls_i], 1);
    }
    mf_log(MF_LOG_DEBUG, r->id, NULL, "%s %s %d %.1f ms", r->method, r->path, r->status,
           1e3 * (mf_mono_s() - r->t0));
    if (r->call != NULL) {
        mf_sample_call_release(r->call, s->reg);
    }
    free(r->body);
    free(r);
    *con_cls = NULL;
}

mf_err mf_server_start(const mf_http_cfg *cfg, mf_store *store, mf_registry *reg, mf_sched *sched,
                       mf_server **ret, uint16_t *ret_port)
{
    mf_server *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return MF_ENOMEM;
    }
    s->cfg = *cfg;
    snprintf(s->cors, sizeof s->cors, "%s", cfg->cors_origins != NULL ? cfg->cors_origins : "");
    s->store = store;
    s->reg = reg;
    s->sched = sched;
    atomic_init(&s->ready, false);
    atomic_init(&s->quiescing, false);
    if (mf_stream_hub_new(s) != MF_OK) {
        free(s);
        return MF_ENOMEM;
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(cfg->port)};
    if (inet_pton(AF_INET, cfg->host, &addr.sin_addr) != 1) {
        mf_log(MF_LOG_ERROR, NULL, NULL, "bad listen address %s (an IPv4 address is needed)",
               cfg->host);
        mf_stream_hub_free(s);
        free(s);
        return MF_EINVAL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    s->mhd = MHD_start_daemon(flags, cfg->port, NULL, NULL, handle, s,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
                              MHD_OPTION_THREAD_POOL_SIZE, (unsigned) cfg->threads,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned) cfg->max_connections,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 120,
                              MHD_OPTION_NOTIFY_COMPLETED, completed, s,
                              MHD_OPTION_END);
    if (s->mhd == NULL) {
        mf_log(MF_LOG_ERROR, NULL, NULL, "cannot listen on %s:%u", cfg->host, cfg->port);
        mf_stream_hub_free(s);
        free(s);
        return MF_EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    *ret_port = info != NULL ? info->port : cfg->port;
    mf_sched_set_event_hook(sched, mf_stream_notify, s);
    mf_sched_set_tick_hook(sched, mf_stream_tick, s);
    *ret = s;
    return MF_OK;
}

void mf_server_set_ready(mf_server *s, bool ready)
{
    atomic_store(&s->ready, ready);
}

void mf_server_quiesce(mf_server *s)
{
    atomic_store(&s->quiescing, true);
    mf_stream_end_all(s);
}

void mf_server_stop(mf_server *s)
{
    if (s == NULL) {
        return;
    }
    mf_stream_end_all(s);
    /* Let answers already queued (a drained sampling call, a stream's last
     * event) reach their clients: up to 3 s while connections remain. */
    for (int i = 0; i < 150; i++) {
        const union MHD_DaemonInfo *info =
            MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (info == NULL || info->num_connections == 0) {
            break;
        }
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 20000000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(s->mhd);
    mf_stream_hub_free(s);
    free(s);
}
