/* SPDX-License-Identifier: MIT */
/*
 * http.h - the HTTP side of manifoldd (libmicrohttpd): the daemon, per-request
 * state, routing, responses, and what the route handlers share.
 *
 * MHD runs its own thread pool and calls handle() per request; handlers never
 * compute: they validate (proto/), hand work to the scheduler and suspend the
 * connection, which the scheduler's done callback resumes.  Job event streams
 * (stream.c) suspend between events and are resumed by the scheduler's event
 * hook or by the heartbeat tick.
 */
#ifndef MF_HTTP_H
#define MF_HTTP_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry.h"
#include "scheduler.h"
#include "store.h"

typedef struct mf_http_cfg {
    const char *host;        /* "127.0.0.1" */
    uint16_t port;           /* 0 = ephemeral */
    size_t threads;          /* MHD thread pool */
    size_t max_body;         /* JSON bodies (bytes) */
    size_t max_upload;       /* model uploads (bytes) */
    size_t max_connections;
    const char *cors_origins; /* comma-separated allow-list, "*" = any, NULL/"" = none */
    double heartbeat_s;      /* stream heartbeat period */
    const char *openapi_path; /* file served at /openapi.yaml, or NULL */
} mf_http_cfg;

typedef struct mf_server mf_server;

/** Starts listening; *ret_port gets the bound port.  Errors: MF_EIO (bind), MF_ENOMEM. */
MF_MUST_CHECK mf_err mf_server_start(const mf_http_cfg *cfg, mf_store *store, mf_registry *reg,
                                     mf_sched *sched, mf_server **ret, uint16_t *ret_port);

/** Marks the server ready (/readyz 200) or not. */
void mf_server_set_ready(mf_server *s, bool ready);

/** Ends every event stream (they send what is left and close) and stops taking requests. */
void mf_server_quiesce(mf_server *s);

/** Stops the daemon and frees the server; accepts NULL. */
void mf_server_stop(mf_server *s);

/* ---- shared by the route files ---------------------------------------------------- */

typedef struct stream stream;

typedef struct req {
    mf_server *srv;
    struct MHD_Connection *conn;
    char id[48];     /* X-Request-Id */
    char origin[256]; /* allowed Origin to echo, or "" */
    const char *method;
    char path[512];
    char *body;
    size_t len, cap, limit;
    bool too_big;
    bool started;     /* the handler ran once with the whole body */
    /* a suspended sampling call */
    mf_sample_call *call;
    atomic_int call_done;
    double t0;
    int status;
    unsigned retry_after; /* Retry-After of a 503/429 (seconds; 0: 1) */
    char location[160]; /* Location header of the response, or "" */
} req;

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
    void *hub;                  /* stream.c */
};

/** Queues a JSON response (body taken: freed here).  Returns MHD's result. */
enum MHD_Result mf_http_json(req *r, unsigned status, char *body);
/** Queues the error body of a failed call: status and code from err and d (http_status.h). */
enum MHD_Result mf_http_fail(req *r, mf_err err, const mf_diag *d);
/** Queues the error body of DESIGN.md. */
enum MHD_Result mf_http_error(req *r, unsigned status, const char *code, const char *field,
                              const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
/**
 * Adds the headers every response carries (request id, CORS, Location when
 * set), queues resp with status, and lets go of resp.  NULL resp: MHD_NO.
 */
enum MHD_Result mf_http_queue(req *r, unsigned status, struct MHD_Response *resp);
/** 405 method_not_allowed for this request's method and path. */
enum MHD_Result mf_http_bad_method(req *r);
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
/** The value of a query argument, or NULL. */
const char *mf_http_arg(req *r, const char *key);

/* routes: each returns MHD's result; path_id is the id segment or NULL */
enum MHD_Result mf_route_models(req *r, const char *id, const char *sub);
enum MHD_Result mf_route_samples(req *r);
enum MHD_Result mf_route_jobs(req *r, const char *id, const char *sub);
enum MHD_Result mf_route_metrics(req *r);

/** A finished sampling call's result (SampleResult), without "samples" when !with_samples. */
json_t *mf_sample_call_json(const mf_sample_call *c, bool with_samples);

/* streams (stream.c) */
mf_err mf_stream_hub_new(mf_server *s);
void mf_stream_hub_free(mf_server *s);
void mf_stream_notify(void *server, const char *job_id);
void mf_stream_tick(void *server);
void mf_stream_end_all(mf_server *s);
enum MHD_Result mf_stream_job_events(req *r, const char *job_id);
/** true when a POST /v1/samples asks for a stream (Accept, or ?format=sse|ndjson). */
bool mf_stream_wanted(req *r);
/**
 * Queues c (one reference, taken) and answers with its event stream; on a
 * full queue or a drain, the 503 error instead.
 */
enum MHD_Result mf_stream_sample_call(req *r, mf_sample_call *c);

#endif /* MF_HTTP_H */
