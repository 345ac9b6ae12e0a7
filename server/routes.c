/* SPDX-License-Identifier: MIT */
/*
 * routes.c - the route table: every endpoint of the daemon, one row each.
 *
 * To follow an endpoint, find its row below; the handler named there decodes
 * the request (proto/), hands the work to the scheduler or reads the store,
 * and encodes the answer (proto/).  http.c knows no endpoint: it matches the
 * request line here when the headers arrive (the row decides how large a body
 * it reads), then calls the row's handler with the whole body.
 *
 * What the rows do not say, because it holds for every row:
 * - HEAD is answered on every GET route by the GET handler (libmicrohttpd
 *   sends a HEAD response's headers and drops its body);
 * - OPTIONS (CORS preflight) is answered by http.c on every path;
 * - a path no pattern has is a 404, a pattern's {id} that is no valid id
 *   ([a-z0-9][a-z0-9._-]{0,63}) a 404, and a method the path lacks a 405 whose
 *   Allow header lists the path's methods.
 *
 * The last column is the scope the request's API key must hold (auth.h) when
 * keys are configured: probes need none, /metrics what --metrics-scope says.
 * POST /v1/jobs and cancel ask only for a valid key here: their handlers ask
 * sample for a sample job and finetune for the others, once they know the
 * job's type.
 *
 * No two patterns may match the same path (a literal segment never sits where
 * another pattern has {id}), so the order of the rows does not matter.
 */
#include "routes.h"

#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "request_json.h"

/* A table reads best in columns. */
/* clang-format off */
static const mf_route routes[] = {
    /* operations: routes_ops.c, prom.c */
    {MF_ROUTE_GET,    "/healthz",                mf_route_healthz,       MF_ROUTE_NO_BODY,     MF_ROUTE_SCOPE_PROBE},
    {MF_ROUTE_GET,    "/readyz",                 mf_route_readyz,        MF_ROUTE_NO_BODY,     MF_ROUTE_SCOPE_PROBE},
    {MF_ROUTE_GET,    "/metrics",                mf_route_metrics,       MF_ROUTE_NO_BODY,     MF_ROUTE_SCOPE_METRICS},
    {MF_ROUTE_GET,    "/openapi.yaml",           mf_route_openapi,       MF_ROUTE_NO_BODY,     MF_ROUTE_SCOPE_OPEN},
    /* the web page: web.c (its files: clients/web/, compiled in) */
    {MF_ROUTE_GET,    "/",                       mf_route_web_index,     MF_ROUTE_NO_BODY,     MF_ROUTE_SCOPE_OPEN},
    {MF_ROUTE_GET,    "/web/{id}",               mf_route_web_file,      MF_ROUTE_NO_BODY,     MF_ROUTE_SCOPE_OPEN},
    {MF_ROUTE_GET,    "/web/js/{id}",            mf_route_web_file,      MF_ROUTE_NO_BODY,     MF_ROUTE_SCOPE_OPEN},
    {MF_ROUTE_GET,    "/web/js/views/{id}",      mf_route_web_file,      MF_ROUTE_NO_BODY,     MF_ROUTE_SCOPE_OPEN},
    /* models: routes_models.c */
    {MF_ROUTE_GET,    "/v1/models",              mf_route_models_list,   MF_ROUTE_NO_BODY,     MF_SCOPE_READ},
    {MF_ROUTE_POST,   "/v1/models",              mf_route_models_upload, MF_ROUTE_MAX_UPLOAD,  MF_SCOPE_FINETUNE},
    {MF_ROUTE_GET,    "/v1/models/{id}",         mf_route_model_get,     MF_ROUTE_NO_BODY,     MF_SCOPE_READ},
    {MF_ROUTE_DELETE, "/v1/models/{id}",         mf_route_model_delete,  MF_ROUTE_NO_BODY,     MF_SCOPE_FINETUNE},
    {MF_ROUTE_GET,    "/v1/models/{id}/weights", mf_route_model_weights, MF_ROUTE_NO_BODY,     MF_SCOPE_READ},
    /* datasets: routes_datasets.c */
    {MF_ROUTE_GET,    "/v1/datasets",            mf_route_datasets_list,   MF_ROUTE_NO_BODY,     MF_SCOPE_READ},
    {MF_ROUTE_POST,   "/v1/datasets",            mf_route_datasets_upload, MF_ROUTE_MAX_UPLOAD,  MF_SCOPE_FINETUNE},
    {MF_ROUTE_GET,    "/v1/datasets/{id}",       mf_route_dataset_get,     MF_ROUTE_NO_BODY,     MF_SCOPE_READ},
    {MF_ROUTE_DELETE, "/v1/datasets/{id}",       mf_route_dataset_delete,  MF_ROUTE_NO_BODY,     MF_SCOPE_FINETUNE},
    {MF_ROUTE_GET,    "/v1/datasets/{id}/points", mf_route_dataset_points, MF_ROUTE_NO_BODY,     MF_SCOPE_READ},
    /* sampling and jobs: routes_jobs.c (events: stream.c) */
    {MF_ROUTE_POST,   "/v1/samples",             mf_route_samples,       MF_ROUTE_MAX_BODY,    MF_SCOPE_SAMPLE},
    /* anomaly scores: routes_scores.c */
    {MF_ROUTE_POST,   "/v1/scores",              mf_route_scores,        MF_ROUTE_MAX_BODY,    MF_SCOPE_SAMPLE},
    {MF_ROUTE_GET,    "/v1/jobs",                mf_route_jobs_list,     MF_ROUTE_NO_BODY,     MF_SCOPE_READ},
    {MF_ROUTE_POST,   "/v1/jobs",                mf_route_jobs_submit,   MF_ROUTE_MAX_BODY,    MF_ROUTE_SCOPE_KEY},
    {MF_ROUTE_GET,    "/v1/jobs/{id}",           mf_route_job_get,       MF_ROUTE_NO_BODY,     MF_SCOPE_READ},
    /* cancel reads no body, but takes (and ignores) one, as a POST may carry "{}" */
    {MF_ROUTE_POST,   "/v1/jobs/{id}/cancel",    mf_route_job_cancel,    MF_ROUTE_MAX_BODY,    MF_ROUTE_SCOPE_KEY},
    {MF_ROUTE_GET,    "/v1/jobs/{id}/events",    mf_route_job_events,    MF_ROUTE_NO_BODY,     MF_SCOPE_READ},
    {MF_ROUTE_GET,    "/v1/jobs/{id}/result",    mf_route_job_result,    MF_ROUTE_NO_BODY,     MF_SCOPE_READ},
};

/* clang-format on */

static const struct {
    mf_route_method bit;
    const char *name;
} methods[] = {
    {MF_ROUTE_GET, "GET"},       {MF_ROUTE_HEAD, "HEAD"},       {MF_ROUTE_POST, "POST"},
    {MF_ROUTE_DELETE, "DELETE"}, {MF_ROUTE_OPTIONS, "OPTIONS"},
};

/* The bit of an HTTP method name, or 0 for a method no route has. */
static unsigned method_bit(const char *method)
{
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (strcmp(method, methods[i].name) == 0) {
            return methods[i].bit;
        }
    }
    return 0;
}

void mf_routes_allow(unsigned set, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if ((set & methods[i].bit) != 0 && len < cap) {
            int n = snprintf(out + len, cap - len, "%s%s", len > 0 ? ", " : "", methods[i].name);
            len += n > 0 ? (size_t) n : 0;
        }
    }
}

/* true when path has pattern's shape; its {id} segment, if any, is copied to id[cap]. */
static bool shape_matches(const char *pattern, const char *path, char *id, size_t cap)
{
    const char *p = pattern, *s = path;
    while (*p != '\0') {
        if (strncmp(p, "{id}", 4) == 0) {
            size_t n = strcspn(s, "/");
            if (n == 0 || n >= cap) {
                return false;
            }
            memcpy(id, s, n);
            id[n] = '\0';
            p += 4;
            s += n;
        } else if (*p != *s) {
            return false;
        } else {
            p++;
            s++;
        }
    }
    return *s == '\0';
}

void mf_routes_match(const char *method, const char *path, mf_route_match *m)
{
    unsigned want = method_bit(method);
    /* HEAD is GET without the body: libmicrohttpd drops the body of a HEAD response. */
    if (want == MF_ROUTE_HEAD) {
        want = MF_ROUTE_GET;
    }
    m->route = NULL;
    m->path_methods = 0;
    m->path_id_bad = false;
    m->path_id[0] = '\0';
    bool has_id = false;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const mf_route *rt = &routes[i];
        char id[sizeof m->path_id] = "";
        if (!shape_matches(rt->pattern, path, id, sizeof id)) {
            continue;
        }
        if (strstr(rt->pattern, "{id}") != NULL) {
            has_id = true;
            memcpy(m->path_id, id, sizeof id);
        }
        m->path_methods |= rt->method | (rt->method == MF_ROUTE_GET ? MF_ROUTE_HEAD : 0u);
        if (rt->method == want) {
            m->route = rt;
        }
    }
    if (has_id && !mf_req_id_valid(m->path_id)) {
        m->path_id_bad = true;
        m->route = NULL;
    }
}

_Static_assert(sizeof((req *) 0)->path_id == sizeof((mf_route_match *) 0)->path_id,
               "the {id} segment fits the req as the match");

void mf_routes_find(req *r)
{
    mf_route_match m;
    mf_routes_match(r->method, r->path, &m);
    r->route = m.route;
    r->path_methods = m.path_methods;
    r->path_id_bad = m.path_id_bad;
    memcpy(r->path_id, m.path_id, sizeof r->path_id);
}
