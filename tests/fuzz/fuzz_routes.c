/* SPDX-License-Identifier: MIT */
/*
 * fuzz_routes.c - libFuzzer target: the router, server/routes.c's
 * mf_routes_match over the daemon's own route table.
 *
 * The input is a request line "METHOD PATH": up to the first space the
 * method (any token: libmicrohttpd hands over what the client sent), the rest
 * the path, up to a NUL and cut to the 511 bytes req's path buffer holds (as
 * http.c's req_new copies it).
 *
 * routes.c is compiled into this target as it is, table and all.  Its
 * handlers are never called here, so the stubs at the end stand in for them:
 * a route added to the table needs its line there, or this target does not
 * link (the error names the handler).
 *
 * Invariants (routes.h): a route that answers has the request's method (GET
 * for HEAD) among the path's methods, and its pattern with the {id} segment
 * put back is the path; its {id} is a valid id; a bad id answers no route; a
 * path no pattern has has no methods; GET and HEAD come together; and a path
 * that has the request's method is always answered, unless its id is bad.
 */
#include <string.h>

#include "fuzz.h"
#include "req_limits.h"
#include "routes.h"

/* The route method bit a request method asks for (HEAD asks for GET), or 0. */
static unsigned wanted(const char *method)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"GET", MF_ROUTE_GET},
                 {"HEAD", MF_ROUTE_GET},
                 {"POST", MF_ROUTE_POST},
                 {"DELETE", MF_ROUTE_DELETE}};

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(method, names[i].name) == 0) {
            return names[i].bit;
        }
    }
    return 0;
}

/* true when pattern with its {id} replaced by id is path. */
static bool rebuilds(const char *pattern, const char *id, const char *path)
{
    const char *hole = strstr(pattern, "{id}");
    if (hole == NULL) {
        return strcmp(pattern, path) == 0;
    }
    size_t pre = (size_t) (hole - pattern), n = strlen(id);
    return strncmp(path, pattern, pre) == 0 && strncmp(path + pre, id, n) == 0 &&
           strcmp(path + pre + n, hole + 4) == 0;
}

static void check(const char *method, const char *path, const mf_route_match *m)
{
    unsigned want = wanted(method), all = m->path_methods;
    FUZZ_CHECK(((all & MF_ROUTE_GET) != 0) == ((all & MF_ROUTE_HEAD) != 0), "GET without HEAD");
    FUZZ_CHECK((all & MF_ROUTE_OPTIONS) == 0, "OPTIONS in the table");
    if (all == 0) {
        FUZZ_CHECK(m->route == NULL && !m->path_id_bad, "no path, but a route or bad id");
    }
    if (m->path_id_bad) {
        FUZZ_CHECK(m->route == NULL && all != 0, "a bad id answered");
        FUZZ_CHECK(m->path_id[0] != '\0' && !mf_req_id_valid(m->path_id), "id '%s' is not bad",
                   m->path_id);
    }
    if (m->route != NULL) {
        const mf_route *rt = m->route;
        FUZZ_CHECK(rt->method == want && (all & want) != 0, "%s answered by a %u route", method,
                   (unsigned) rt->method);
        FUZZ_CHECK(rebuilds(rt->pattern, m->path_id, path), "'%s' is not %s with id '%s'", path,
                   rt->pattern, m->path_id);
        bool has_id = strstr(rt->pattern, "{id}") != NULL;
        FUZZ_CHECK(has_id ? mf_req_id_valid(m->path_id) : m->path_id[0] == '\0', "id '%s' of %s",
                   m->path_id, rt->pattern);
        FUZZ_CHECK(rt->handler != NULL, "%s without a handler", rt->pattern);
    } else if (want != 0 && (all & want) != 0) {
        FUZZ_CHECK(m->path_id_bad, "%s %s has the method but no route", method, path);
    }
    char allow[64];
    mf_routes_allow(all, allow, sizeof allow);
    FUZZ_CHECK((all == 0) == (allow[0] == '\0'), "Allow '%s' for methods %u", allow, all);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = fuzz_cstring(data, size, 0);
    char *sp = strchr(line, ' ');
    const char *method = sp != NULL ? line : "GET";
    const char *rest = sp != NULL ? sp + 1 : line;
    if (sp != NULL) {
        *sp = '\0';
    }
    char path[512]; /* req's path */
    snprintf(path, sizeof path, "%s", rest);
    mf_route_match m;
    mf_routes_match(method, path, &m);
    check(method, path, &m);
    free(line);
    return 0;
}

/* ---- the handlers of the table, never called here ------------------------------------ */

#define STUB(handler)               \
    enum MHD_Result handler(req *r) \
    {                               \
        (void) r;                   \
        abort();                    \
    }

STUB(mf_route_healthz)
STUB(mf_route_readyz)
STUB(mf_route_metrics)
STUB(mf_route_openapi)
STUB(mf_route_web_index)
STUB(mf_route_web_file)
STUB(mf_route_models_list)
STUB(mf_route_models_upload)
STUB(mf_route_model_get)
STUB(mf_route_model_delete)
STUB(mf_route_model_weights)
STUB(mf_route_datasets_list)
STUB(mf_route_datasets_upload)
STUB(mf_route_dataset_get)
STUB(mf_route_dataset_delete)
STUB(mf_route_dataset_points)
STUB(mf_route_samples)
STUB(mf_route_scores)
STUB(mf_route_jobs_submit)
STUB(mf_route_jobs_list)
STUB(mf_route_job_get)
STUB(mf_route_job_cancel)
STUB(mf_route_job_events)
STUB(mf_route_job_result)
