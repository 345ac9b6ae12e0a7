/* SPDX-License-Identifier: MIT */
/*
 * http_req.h - what a route handler sees: the per-request state (req), the
 * server it runs in (mf_server), and the response helpers.  http.c implements
 * the helpers and owns the rest of HTTP (MHD, bodies, CORS, the headers every
 * response carries); route files (routes_*.c, prom.c) and stream.c include
 * this header and never http.h, and this header includes no route header, so
 * there is no include cycle between the HTTP layer and its routes.
 *
 * Threading: MHD calls a connection's handler from one of its threads at a
 * time; a req belongs to its connection and is never shared, except for the
 * fields marked atomic.
 */
#ifndef MF_HTTP_REQ_H
#define MF_HTTP_REQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "registry.h"
#include "scheduler.h"
#include "store.h"

typedef struct mf_http_cfg {
    const char *host;  /* "127.0.0.1" */
    uint16_t port;     /* 0 = ephemeral */
    size_t threads;    /* MHD thread pool */
    size_t max_body;   /* JSON bodies (bytes) */
    size_t max_upload; /* model uploads (bytes) */
    size_t max_connections;
    const char *cors_origins; /* comma-separated allow-list, "*" = any, NULL/"" = none */
    double heartbeat_s;       /* stream heartbeat period */
    const char *openapi_path; /* file served at /openapi.yaml, or NULL */
} mf_http_cfg;

typedef struct mf_server mf_server;
typedef struct req req;
struct mf_route;

/**
 * A route handler, or the resume step of a suspended request: answers r (or
 * returns MHD_YES to answer later) and returns MHD's result.
 */
typedef enum MHD_Result (*mf_http_handler)(req *r);

struct req {
    mf_server *srv;
    struct MHD_Connection *conn;
    char id[48];      /* X-Request-Id */
    char origin[256]; /* allowed Origin to echo, or "" */
    const char *method;
    char path[512];
    /* The router's verdict (routes.h: mf_routes_find), made when the headers arrive. */
    const struct mf_route *route; /* the route that answers, or NULL */
    unsigned path_methods;        /* this path's methods (MF_ROUTE_* bits); 0: no such path */
    bool path_id_bad;             /* the path's {id} segment is no valid id */
    char path_id[128];            /* the path's {id} segment, or "" */
    char *body;
    size_t len, cap, limit;
    bool too_big;
    bool started; /* the handler ran once with the whole body */
    /*
     * A handler that suspends the connection sets resume: once MHD resumes it,
     * http.c calls resume (not the route again) until it queues the answer.
     * cleanup, when set, runs once as the request ends, however it ends.
     */
    mf_http_handler resume;
    void (*cleanup)(req *r);
    /* the suspended call of POST /v1/samples (routes_jobs.c) or /v1/scores (routes_scores.c) */
    mf_sample_call *call;
    mf_score_call *score;
    atomic_int call_done;
    double t0;
    int status;
    unsigned retry_after; /* Retry-After of a 503/429 (seconds; 0: 1) or a 507 (0: none) */
    char location[160];   /* Location header of the response, or "" */
};

struct mf_server {
    mf_http_cfg cfg;
    char cors[1024];
    mf_store *store;
    mf_registry *reg;
    mf_sched *sched;
    struct MHD_Daemon *mhd;
    atomic_bool ready;
    atomic_bool quiescing;
    atomic_ullong req_counter;
    atomic_ullong responses[6]; /* by status class 1xx..5xx (index 1..5) */
    atomic_ullong requests_total;
    void *hub; /* stream.c */
};

/** Queues a JSON response (body taken: freed here).  Returns MHD's result. */
enum MHD_Result mf_http_json(req *r, unsigned status, char *body);
/** Queues the error body of a failed call: status and code from err and d (http_status.h). */
enum MHD_Result mf_http_fail(req *r, mf_err err, const mf_diag *d);
/**
 * Queues the error body of DESIGN.md with machine code (its status from the
 * one table of http_status.c), field (a JSON pointer or argument name, or
 * NULL) and a printf-style message.
 */
enum MHD_Result mf_http_error(req *r, const char *code, const char *field, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/**
 * Adds the headers every response carries (request id, CORS, Location when
 * set), queues resp with status, and lets go of resp.  NULL resp: MHD_NO.
 */
enum MHD_Result mf_http_queue(req *r, unsigned status, struct MHD_Response *resp);
/**
 * true when the request's media type (Content-Type before any ';') is type,
 * case-insensitively; a request without Content-Type gives missing_ok.
 */
bool mf_http_content_type_is(req *r, const char *type, bool missing_ok);
/**
 * 415 unsupported_media_type for a JSON route sent another type.  Being
 * strict keeps browsers honest: a cross-site page can POST text/plain or a
 * form without a CORS preflight, but not application/json.
 */
enum MHD_Result mf_http_need_json(req *r);
/**
 * Answers a write to store ("model store", "dataset store") that failed with
 * err: 507 insufficient_storage when the disk is full (MF_ENOSPC), else 500
 * store, saying that what ("model m1") was not stored.  d's message, which
 * names files and directories, goes to the log only: no path reaches a client.
 */
enum MHD_Result mf_http_store_fail(req *r, const char *store, const char *what, mf_err err,
                                   const mf_diag *d);
/*
 * The value of a query argument, or NULL.  A value holding a control
 * character (%00 included, which would cut it short) is MF_HTTP_ARG_BAD, a
 * string no argument accepts, so the caller's check answers 400.
 */
#define MF_HTTP_ARG_BAD "\x7f"
const char *mf_http_arg(req *r, const char *key);

#endif /* MF_HTTP_REQ_H */
