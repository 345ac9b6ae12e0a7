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

#include "quota.h"
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
    size_t max_connections_per_ip; /* 0: no cap */
    double header_timeout_s;       /* whole headers within this of the accept or last response */
    double body_timeout_s;         /* inactivity once the headers are in (whole seconds) */
    const char *health_host;       /* the health listener (http_conn.c), or NULL: none */
    uint16_t health_port;
    const char *cors_origins; /* comma-separated allow-list, "*" = any, NULL/"" = none */
    double heartbeat_s;       /* stream heartbeat period */
    const char *openapi_path; /* file served at /openapi.yaml, or NULL */
    const char *web_dir;      /* the web page's files from this folder (web.c), or NULL: built in */
    const char *spool_dir;    /* upload bodies are spooled here (http_spool.c) */
    const char *allowed_hosts; /* more Host names answered, comma-separated, "*" = any */
    const struct mf_keys *keys; /* API keys, or NULL: no keys asked (loopback or --insecure-open) */
    unsigned metrics_scope;     /* the scope /metrics needs (auth.h), 0 = open */
    mf_quota_cfg quota;         /* per-key limits (quota.h) */
} mf_http_cfg;

typedef struct mf_server mf_server;
typedef struct req req;
struct mf_key;
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
    const struct mf_key *key;     /* the request's API key (http_admit.c), or NULL: none needed */
    char *body;
    size_t len, cap, limit;
    bool too_big;
    bool refused;           /* mf_http_judge said no: the body is read and dropped */
    int verdict;            /* mf_http_judge's, kept for mf_http_admit (http_admit.c) */
    unsigned verdict_scope; /* the scope the route needs, for a refusal's message */
    bool started; /* the handler ran once with the whole body */
    /* an upload's body, spooled to an unlinked file and then mapped as body (http_spool.c) */
    int spool_fd;      /* -1: none */
    void *spool_map;   /* the mapping body points into, or NULL */
    int spool_err;     /* errno of a failed spool write, or 0 */
    /* a body refused as too large is read and dropped first (http_conn.c: mf_http_drain) */
    size_t drained;
    double refused_at;
    bool close; /* the response says Connection: close */
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
    long long resp_bytes; /* the response body's size for the access log; -1: unknown (streams) */
    unsigned retry_after; /* Retry-After of a 503/429 (seconds; 0: 1) or a 507 (0: none) */
    char location[160];   /* Location header of the response, or "" */
    bool challenge;       /* the response carries WWW-Authenticate (a 401 of http_admit.c) */
};

struct mf_server {
    mf_http_cfg cfg;
    char cors[1024];
    const struct mf_keys *keys; /* cfg.keys */
    mf_quota *quota;            /* per-key counters, refusals by reason */
    mf_store *store;
    mf_registry *reg;
    mf_sched *sched;
    struct MHD_Daemon *mhd;
    atomic_bool ready;
    atomic_bool quiescing;
    atomic_ullong req_counter;
    atomic_ullong responses[6]; /* by status class 1xx..5xx (index 1..5) */
    atomic_ullong requests_total;
    void *hub;                 /* stream.c */
    struct mf_conns *conns;    /* the header deadline (http_conn.c) */
    struct MHD_Daemon *health; /* the health listener, or NULL */
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
 * case-insensitively.  A request without Content-Type is none: a cross-site
 * page can send a body without one and no CORS preflight, so routes that take
 * a body insist on their type.
 */
bool mf_http_content_type_is(req *r, const char *type);
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

/* ---- who may make a request (http_admit.c) ---- */

/**
 * Judges r on its headers, once, when they arrive: the checks every request
 * passes before its route (Host, Origin, API key, the route's scope), with no
 * side effect but r->key and the verdict kept on r.  true: admitted.  A
 * request that will be refused has its body read and dropped, never spooled
 * or kept (http.c), and hears why once it is in (mf_http_admit).
 */
bool mf_http_judge(req *r);
/**
 * Answers the verdict of mf_http_judge once the body is in, and takes the
 * request from its key's rate.  true: admitted; false: refused, and *ret is
 * the queued answer.
 */
bool mf_http_admit(req *r, enum MHD_Result *ret);
/** true when the request may use scope: no keys configured, or its key holds it. */
bool mf_req_has(const req *r, unsigned scope);
/**
 * 429 for a key over one of its limits: why (counted for /metrics), code,
 * Retry-After retry_s, and a message.
 */
enum MHD_Result mf_http_over_quota(req *r, mf_refusal why, double retry_s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/*
 * Per-key limits a route checks before it queues work or stores a file
 * (http_quota.c): true when within them, else false with the 429 queued in
 * *ret.  A free job slot (queued + running jobs under the limit); flops of
 * compute charged to today's budget; adding more bytes stored.
 */
bool mf_http_job_slot(req *r, enum MHD_Result *ret);
bool mf_http_compute(req *r, double flops, enum MHD_Result *ret);
bool mf_http_storage(req *r, uint64_t adding, enum MHD_Result *ret);
/** 403 forbidden naming the scope the request's key lacks. */
enum MHD_Result mf_http_need_scope(req *r, unsigned scope);
/** The owner of what the request makes: its key's name, "" without keys. */
const char *mf_req_owner(const req *r);
/**
 * Whether the request may see (read) or change (cancel, delete) a resource of
 * owner: without keys, everything; an admin key, everything; another key,
 * its own, and only sees what has no owner (shipped models, resources made
 * before keys were configured).  Callers answer 404 for what a key may not
 * see, so ids of other keys' resources are not revealed.
 */
bool mf_req_may_see(const req *r, const char *owner);
bool mf_req_may_change(const req *r, const char *owner);
/** Who makes the request, for fair queueing: its key's name, else its peer's address. */
void mf_req_client(const req *r, char *out, size_t cap);
/** The model id as the request's key may see it (referenced: release it), or NULL. */
mf_reg_model *mf_req_model(const req *r, const char *id);

#endif /* MF_HTTP_REQ_H */
