/* SPDX-License-Identifier: MIT */
/*
 * http.c - the libmicrohttpd daemon: request bodies, CORS, the headers every
 * response carries, and the generic answers (404, 405, OPTIONS, 413, 503 while
 * shutting down).  It knows no endpoint: the route table (routes.c) says which
 * handler answers a request line and how large a body it takes; handlers live
 * in routes_*.c, streams in stream.c.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api_json.h"
#include "auth.h"
#include "clock.h"
#include "http_conn.h"
#include "http_guard.h"
#include "http_req.h"
#include "http_spool.h"
#include "http_status.h"
#include "log.h"
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
    if (r->challenge) {
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"manifold\"");
    }
    if (r->close) {
        MHD_add_response_header(resp, "Connection", "close");
    }
    if (strcmp(r->method, "HEAD") == 0) {
        /*
         * A GET handler answers HEAD as it is: libmicrohttpd sends a HEAD
         * response's headers, Content-Length included, and never its body
         * (microhttpd.h).  Except that 0.9.75 still ends a chunked response
         * (unknown size: an event stream) with the last chunk "0\r\n\r\n",
         * bytes the client reads as the start of the next response.  The
         * HTTP/1.0-compatible mode uses no chunks and closes the connection
         * after the headers instead.
         */
        MHD_set_response_options(resp, MHD_RF_HTTP_1_0_COMPATIBLE_STRICT, MHD_RO_END);
    }
    r->status = (int) status;
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/*
 * The response of a JSON body (taken: freed with the response) with the JSON
 * headers; a NULL body becomes the out-of-memory 500 (*status too).  NULL when
 * MHD has no memory either.
 */
static struct MHD_Response *json_response(req *r, unsigned *status, char *body)
{
    if (body == NULL) {
        static const char oom[] =
            "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\",\"field\":null}}";
        body = strdup(oom);
        *status = 500;
        if (body == NULL) {
            return NULL;
        }
    }
    size_t n = strlen(body);
    r->resp_bytes = (long long) n;
    /* MHD copies nothing with MUST_FREE: it frees body with free() when done. */
    struct MHD_Response *resp = MHD_create_response_from_buffer(n, body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(body);
        return NULL;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    /* a 507 of the job store says when the daemon tries it again; an upload's says nothing */
    if (*status == 503 || *status == 429 || (*status == 507 && r->retry_after > 0)) {
        char ra[16];
        snprintf(ra, sizeof ra, "%u", r->retry_after > 0 ? r->retry_after : 1u);
        MHD_add_response_header(resp, "Retry-After", ra);
    }
    return resp;
}

enum MHD_Result mf_http_json(req *r, unsigned status, char *body)
{
    struct MHD_Response *resp = json_response(r, &status, body);
    return mf_http_queue(r, status, resp);
}

/* The error body with code's status (http_status.c's table: one place for them all). */
static enum MHD_Result error_body(req *r, const char *code, const char *field, const char *msg)
{
    unsigned status = mf_http_code_status(code);
    if (status >= 500) {
        mf_log(MF_LOG_WARN, r->id, NULL, "%s %s -> %u %s: %s", r->method, r->path, status, code,
               msg);
    }
    return mf_http_json(r, status, mf_json_error_body(code, msg, field));
}

enum MHD_Result mf_http_fail(req *r, mf_err err, const mf_diag *d)
{
    const char *code;
    (void) mf_http_status(err, d, &code);
    const char *field = d != NULL && d->field[0] != '\0' ? d->field : NULL;
    const char *msg = d != NULL && d->msg[0] != '\0' ? d->msg : mf_strerror(err);
    return error_body(r, code, field, msg);
}

enum MHD_Result mf_http_error(req *r, const char *code, const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return error_body(r, code, field, msg);
}

const char *mf_http_arg(req *r, const char *key)
{
    const char *v = NULL;
    size_t n = 0;
    if (MHD_lookup_connection_value_n(r->conn, MHD_GET_ARGUMENT_KIND, key, strlen(key), &v, &n) !=
            MHD_YES ||
        v == NULL) {
        return NULL;
    }
    /* %00 would cut the value short as a C string (?id=a%00b read as "a"); no
     * argument takes control characters, decoded or left escaped by the
     * decoder (http_guard.h: mf_guard_unescape keeps %00 as it is) */
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char) v[i] < 0x20 || v[i] == 0x7f || mf_guard_control_escape(v + i)) {
            return MF_HTTP_ARG_BAD;
        }
    }
    return v;
}

bool mf_http_content_type_is(req *r, const char *type)
{
    const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
    if (ct == NULL) {
        return false;
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
    return mf_http_error(r, "unsupported_media_type", NULL,
                         "send the body as Content-Type: application/json (with curl: --json "
                         "'{...}' or -H 'Content-Type: application/json')");
}

enum MHD_Result mf_http_store_fail(req *r, const char *store, const char *what, mf_err err,
                                   const mf_diag *d)
{
    /* d names files and directories: the log's business, never the client's */
    mf_log(MF_LOG_ERROR, r->id, NULL, "cannot store %s: %s (%s)", what,
           d != NULL && d->msg[0] != '\0' ? d->msg : mf_strerror(err),
           d != NULL && d->field[0] != '\0' ? d->field : "-");
    if (err == MF_ENOSPC) {
        return mf_http_error(r, "insufficient_storage", NULL,
                             "the %s is full: %s was not stored; retry once space is freed", store,
                             what);
    }
    return mf_http_error(r, "store", NULL, "the %s failed: %s was not stored (%s)", store, what,
                         mf_strerror(err));
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

/*
 * OPTIONS on any path: 204 with Allow (the path's methods; only OPTIONS for a
 * path no route has) and, for an allowed Origin, the CORS preflight headers.
 */
static enum MHD_Result preflight(req *r)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, (void *) "", MHD_RESPMEM_PERSISTENT);
    if (resp == NULL) {
        return MHD_NO;
    }
    char allow[64];
    mf_routes_allow(r->path_methods | MF_ROUTE_OPTIONS, allow, sizeof allow);
    MHD_add_response_header(resp, "Allow", allow);
    if (r->origin[0] != '\0') {
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", allow);
        MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                                "Content-Type, Authorization, Last-Event-ID, X-Request-Id");
        MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
    }
    return mf_http_queue(r, 204, resp);
}

/* ---- routing ---------------------------------------------------------------------- */

/* 405 method_not_allowed, with Allow: the methods of this path. */
static enum MHD_Result method_not_allowed(req *r)
{
    char allow[64], msg[sizeof r->path + 64];
    mf_routes_allow(r->path_methods | MF_ROUTE_OPTIONS, allow, sizeof allow);
    snprintf(msg, sizeof msg, "%s %s is not allowed", r->method, r->path);
    unsigned status = 405;
    struct MHD_Response *resp =
        json_response(r, &status, mf_json_error_body("method_not_allowed", msg, NULL));
    if (resp != NULL && status == 405) {
        MHD_add_response_header(resp, "Allow", allow);
    }
    return mf_http_queue(r, status, resp);
}

/* Answers a request whose whole body is in: its route's handler, or the generic answer. */
static enum MHD_Result dispatch(req *r)
{
    enum MHD_Result refused;
    if (!mf_http_admit(r, &refused)) {
        return refused;
    }
    if (strcmp(r->method, "OPTIONS") == 0) {
        return preflight(r);
    }
    if (r->path_id_bad) {
        return mf_http_error(r, "not_found", NULL,
                             "no such resource: ids match [a-z0-9][a-z0-9._-]{0,63}");
    }
    if (r->route != NULL) {
        return r->route->handler(r);
    }
    if (r->path_methods != 0) {
        return method_not_allowed(r);
    }
    return mf_http_error(r, "not_found", NULL, "no such resource: %s", r->path);
}

/*
 * The body a request may carry: its route's limit.  A request no route answers
 * may carry up to max_body, read and dropped: its answer is the 404 or 405.
 */
static size_t body_limit(const mf_server *s, const mf_route *route)
{
    if (route == NULL) {
        return s->cfg.max_body;
    }
    switch (route->body) {
    case MF_ROUTE_MAX_BODY:
        return s->cfg.max_body;
    case MF_ROUTE_MAX_UPLOAD:
        return s->cfg.max_upload;
    case MF_ROUTE_NO_BODY:
        break;
    }
    return 0;
}

/* 413 too_large; declared is the Content-Length of a body refused before it is read, or NULL. */
static enum MHD_Result too_large(req *r, const char *declared)
{
    r->close = true; /* the client sent more than we took: we owe it no more of our time */
    if (r->limit == 0) {
        return mf_http_error(r, "too_large", NULL, "%s %s takes no body", r->method, r->path);
    }
    if (declared != NULL) {
        return mf_http_error(r, "too_large", NULL, "the body has %s bytes, over the limit of %zu",
                             declared, r->limit);
    }
    return mf_http_error(r, "too_large", NULL, "the body is over the limit of %zu bytes", r->limit);
}

/* ---- MHD callbacks ----------------------------------------------------------------- */

static req *req_new(mf_server *s, struct MHD_Connection *conn, const char *url, const char *method)
{
    req *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return NULL;
    }
    r->srv = s;
    r->conn = conn;
    r->spool_fd = -1;
    r->resp_bytes = -1;
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
    mf_routes_find(r);
    r->limit = body_limit(s, r->route);
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
        mf_conns_headers_in(s->conns, conn);
        r->refused = !mf_http_judge(r); /* its answer comes once the body is in */
        /* A declared oversize body: refused now, or read and dropped first (http_conn.c). */
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        unsigned long long declared = cl != NULL ? strtoull(cl, NULL, 10) : 0;
        if (declared > r->limit) {
            r->too_big = true;
            if (mf_http_refuse_unread(r, declared)) {
                r->started = true;
                return too_large(r, cl);
            }
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
        if (r->too_big || r->len + n > r->limit) {
            /* MHD_NO closes the connection: the body went past what we read of a refused one */
            return mf_http_drain(r, n) ? MHD_YES : MHD_NO;
        }
        if (r->refused) {
            r->len += n; /* counted against the limit, dropped: a refused body costs nothing */
            return MHD_YES;
        }
        if (r->route != NULL && r->route->body == MF_ROUTE_MAX_UPLOAD) {
            (void) mf_spool_append(r, upload_data, n); /* a failure is answered once it is all in */
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
    if (r->resume != NULL) {
        /* a suspended request, resumed: its handler said what answers it now */
        return r->resume(r);
    }
    if (r->started) {
        return MHD_YES;
    }
    r->started = true;
    if (r->too_big) {
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        return too_large(r, cl != NULL && strtoull(cl, NULL, 10) > r->limit ? cl : NULL);
    }
    if (atomic_load(&s->quiescing)) {
        return mf_http_error(r, "shutting_down", NULL, "the server is shutting down");
    }
    int e = mf_spool_finish(r);
    if (e != 0) {
        /* the upload's id (?id=), so the client knows what was lost; never a path */
        const char *id = mf_http_arg(r, "id");
        id = id != NULL && mf_req_id_valid(id) ? id : "the body";
        mf_log(MF_LOG_WARN, r->id, NULL, "cannot spool the upload of %s: %s", id, strerror(e));
        return e == ENOSPC || e == EDQUOT
                   ? mf_http_error(r, "insufficient_storage", NULL,
                                   "the server's disk is full: %s cannot be received", id)
                   : mf_http_error(r, "internal", NULL, "%s cannot be received: %s", id,
                                   strerror(e));
    }
    return dispatch(r);
}

/* MHD's decoding of %XX in paths and query arguments, minus control characters. */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void) cls;
    (void) conn;
    return mf_guard_unescape(s);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    mf_server *s = cls;
    mf_conns_request_done(s->conns, conn);
    req *r = *con_cls;
    if (r == NULL) {
        return;
    }
    int cls_i = r->status / 100;
    if (cls_i >= 1 && cls_i <= 5) {
        atomic_fetch_add(&s->responses[cls_i], 1);
    }
    /* the access line: one per request, at the default level; a stream's size is not known */
    char bytes[32] = "-";
    if (r->resp_bytes >= 0) {
        snprintf(bytes, sizeof bytes, "%lld", r->resp_bytes);
    }
    mf_log(MF_LOG_INFO, r->id, NULL, "%s %s %d %s B %.1f ms%s", r->method, r->path, r->status,
           bytes, 1e3 * (mf_mono_s() - r->t0),
           toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection ended early)");
    if (r->cleanup != NULL) {
        r->cleanup(r);
    }
    if (r->spool_map != NULL || r->spool_fd >= 0) {
        mf_spool_release(r); /* body was the mapping */
    } else {
        free(r->body);
    }
    free(r);
    *con_cls = NULL;
}

/*
 * What other replicas did, from the store's watch thread (store.h: mf_store_watch):
 * an event of a job some stream here may follow, a model uploaded or deleted
 * (the model folder is rescanned now rather than in up to MF_STORE_RESCAN_MS),
 * or notes lost while the watch was cut off (everything is looked at again).
 */
static void on_store_note(void *ctx, mf_store_note note, const char *id)
{
    mf_server *s = ctx;
    switch (note) {
    case MF_NOTE_EVENT:
        mf_stream_notify(s, id);
        break;
    case MF_NOTE_MODEL:
        mf_registry_poke(s->reg);
        break;
    case MF_NOTE_RESYNC:
        mf_stream_notify(s, NULL);
        mf_registry_poke(s->reg);
        break;
    }
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
    s->keys = cfg->keys;
    if (mf_quota_new(&cfg->quota, mf_keys_count(cfg->keys), &s->quota) != MF_OK) {
        free(s);
        return MF_ENOMEM;
    }
    mf_quota_use_store(s->quota, store); /* replicas on one database share the limits */
    atomic_init(&s->ready, false);
    atomic_init(&s->quiescing, false);
    if (mf_stream_hub_new(s) != MF_OK) {
        mf_quota_free(s->quota);
        free(s);
        return MF_ENOMEM;
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(cfg->port)};
    if (inet_pton(AF_INET, cfg->host, &addr.sin_addr) != 1) {
        mf_log(MF_LOG_ERROR, NULL, NULL, "bad listen address %s (an IPv4 address is needed)",
               cfg->host);
        mf_server_stop(s);
        return MF_EINVAL;
    }
    mf_err err = mf_conns_new(cfg->header_timeout_s, &s->conns);
    if (err != MF_OK) {
        mf_server_stop(s);
        return err;
    }
    /*
     * Connections (http_conn.c says why): the per-address cap, the header
     * deadline (the guard, told of every connection), and one inactivity
     * timeout, the body timeout, which stands still while a stream or a
     * sampling call is suspended.  The logger goes first, as MHD asks.
     */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    s->mhd = MHD_start_daemon(
        flags, cfg->port, NULL, NULL, handle, s, MHD_OPTION_EXTERNAL_LOGGER, mf_http_mhd_log,
        s->conns, MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned) cfg->threads, MHD_OPTION_CONNECTION_LIMIT, (unsigned) cfg->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned) cfg->max_connections_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, mf_http_whole_s(cfg->body_timeout_s),
        MHD_OPTION_NOTIFY_CONNECTION, mf_conns_notify, s->conns, MHD_OPTION_NOTIFY_COMPLETED,
        completed, s, MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_END);
    if (s->mhd == NULL) {
        mf_log(MF_LOG_ERROR, NULL, NULL, "cannot listen on %s:%u", cfg->host, cfg->port);
        mf_server_stop(s);
        return MF_EIO;
    }
    uint16_t health_port = 0;
    if (cfg->health_host != NULL && (err = mf_health_start(s, &health_port)) != MF_OK) {
        mf_server_stop(s);
        return err;
    }
    if (s->health != NULL) {
        mf_log(MF_LOG_INFO, NULL, NULL, "health probes on http://%s:%u/healthz", cfg->health_host,
               health_port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    *ret_port = info != NULL ? info->port : cfg->port;
    mf_sched_set_event_hook(sched, mf_stream_notify, s);
    mf_sched_set_tick_hook(sched, mf_stream_tick, s);
    if ((err = mf_store_watch(store, on_store_note, s)) != MF_OK) {
        mf_log(MF_LOG_ERROR, NULL, NULL, "cannot watch the job store: %s", mf_strerror(err));
        mf_server_stop(s);
        return err;
    }
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
    mf_store_unwatch(s->store); /* its thread calls on_store_note with s */
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
    if (s->health != NULL) {
        MHD_stop_daemon(s->health);
    }
    if (s->mhd != NULL) {
        MHD_stop_daemon(s->mhd);
    }
    mf_conns_free(s->conns);
    mf_stream_hub_free(s);
    mf_quota_free(s->quota);
    free(s);
}

uint16_t mf_server_health_port(const mf_server *s)
{
    const union MHD_DaemonInfo *info =
        s->health != NULL ? MHD_get_daemon_info(s->health, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    return info != NULL ? info->port : 0;
}
