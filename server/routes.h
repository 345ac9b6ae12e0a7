/* SPDX-License-Identifier: MIT */
/*
 * routes.h - the route table (routes.c) and the handlers it names.
 *
 * Every endpoint is one row of the table in routes.c: method, path pattern,
 * handler, and how large a body the request may carry.  http.c asks
 * mf_routes_find() which row a request line names when its headers arrive,
 * reads the body within that row's limit, then calls the row's handler.
 * Handlers live in routes_*.c (and /metrics in prom.c); each answers one
 * method on one pattern, reading the pattern's {id} from r->path_id.
 */
#ifndef MF_ROUTES_H
#define MF_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "http_req.h"

/** HTTP methods as bits, so that a path's methods are one unsigned. */
typedef enum mf_route_method {
    MF_ROUTE_GET = 1u << 0,
    MF_ROUTE_HEAD = 1u << 1, /* never in the table: every GET route answers HEAD too */
    MF_ROUTE_POST = 1u << 2,
    MF_ROUTE_DELETE = 1u << 3,
    MF_ROUTE_OPTIONS = 1u << 4, /* never in the table: http.c answers it on every path */
} mf_route_method;

/** How large a body a route takes. */
typedef enum mf_route_body {
    MF_ROUTE_NO_BODY,    /* none: any body byte is a 413 */
    MF_ROUTE_MAX_BODY,   /* up to cfg.max_body (--max-body) */
    MF_ROUTE_MAX_UPLOAD, /* up to cfg.max_upload (--max-upload) */
} mf_route_body;

/*
 * The scope column of a row: an mf_scope bit of auth.h (the key must hold
 * it), or one of these.
 */
#define MF_ROUTE_SCOPE_OPEN    0u        /* no key asked (the API description) */
#define MF_ROUTE_SCOPE_PROBE   (1u << 8) /* no key, no Host check: liveness and readiness probes */
#define MF_ROUTE_SCOPE_METRICS (1u << 9) /* the scope of --metrics-scope (open by default) */
#define MF_ROUTE_SCOPE_KEY     (1u << 10) /* any valid key; the handler asks the scope it needs */

/** One row of the route table. */
typedef struct mf_route {
    mf_route_method method; /* GET, POST or DELETE */
    const char *pattern;    /* "/v1/jobs/{id}/cancel": literal segments, at most one {id} */
    mf_http_handler handler;
    mf_route_body body;
    unsigned scope; /* what the request's API key must hold (see above); handlers ask more */
} mf_route;

/* The router's verdict on a request line (what mf_routes_find copies into a req). */
typedef struct mf_route_match {
    const mf_route *route; /* the row that answers, or NULL */
    unsigned path_methods; /* the bits of every method some row has for this path, HEAD with
                              GET; 0 when no pattern has the path */
    bool path_id_bad;      /* the {id} segment is no valid id (route is then NULL) */
    char path_id[128];     /* the {id} segment, "" for a pattern without one */
} mf_route_match;

/**
 * Matches method and path against the table into *m.  An {id} segment is
 * 1..127 bytes without '/'; empty segments, a trailing slash or a longer
 * segment match no pattern.  Pure (no HTTP, no server: the fuzzer calls it
 * on its own) and thread-safe (the table is constant).
 */
void mf_routes_match(const char *method, const char *path, mf_route_match *m);

/**
 * mf_routes_match of r->method and r->path, into r->route, r->path_methods,
 * r->path_id and r->path_id_bad.
 */
void mf_routes_find(req *r);

/**
 * Writes the methods of set as an Allow header value ("GET, HEAD, OPTIONS",
 * always in the order GET, HEAD, POST, DELETE, OPTIONS) to out[cap].
 */
void mf_routes_allow(unsigned set, char *out, size_t cap);

/* ---- handlers, one per row (routes_ops.c, prom.c, web.c, routes_models.c, routes_datasets.c,
 *      routes_jobs.c, routes_scores.c; tests/fuzz/fuzz_routes.c has a stub of each,
 *      so a new one needs its line there too) ---- */

enum MHD_Result mf_route_healthz(req *r);
enum MHD_Result mf_route_readyz(req *r);
enum MHD_Result mf_route_metrics(req *r);
enum MHD_Result mf_route_openapi(req *r);

/* the web page (web.c): GET / and the files under /web/ (one handler for its three rows) */
enum MHD_Result mf_route_web_index(req *r);
enum MHD_Result mf_route_web_file(req *r);

enum MHD_Result mf_route_models_list(req *r);
enum MHD_Result mf_route_models_upload(req *r);
enum MHD_Result mf_route_model_get(req *r);
enum MHD_Result mf_route_model_delete(req *r);
enum MHD_Result mf_route_model_weights(req *r);

enum MHD_Result mf_route_datasets_list(req *r);
enum MHD_Result mf_route_datasets_upload(req *r);
enum MHD_Result mf_route_dataset_get(req *r);
enum MHD_Result mf_route_dataset_delete(req *r);
enum MHD_Result mf_route_dataset_points(req *r);

enum MHD_Result mf_route_samples(req *r);
enum MHD_Result mf_route_scores(req *r);

enum MHD_Result mf_route_jobs_submit(req *r);
enum MHD_Result mf_route_jobs_list(req *r);
enum MHD_Result mf_route_job_get(req *r);
enum MHD_Result mf_route_job_cancel(req *r);
enum MHD_Result mf_route_job_events(req *r);
enum MHD_Result mf_route_job_result(req *r);

/**
 * A finished sampling call's result (SampleResult), without "samples" when
 * !with_samples (routes_jobs.c; the streamed call's final event uses it too).
 */
json_t *mf_sample_call_json(const mf_sample_call *c, bool with_samples);

#endif /* MF_ROUTES_H */
