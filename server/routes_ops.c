/* SPDX-License-Identifier: MIT */
/* routes_ops.c - what operators and tools read: /healthz, /readyz, /openapi.yaml. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "api_json.h"
#include "http_req.h"
#include "log.h"
#include "routes.h"

enum MHD_Result mf_route_healthz(req *r)
{
    return mf_http_json(r, 200, mf_json_take_dump(mf_json_health("ok", NULL)));
}

enum MHD_Result mf_route_readyz(req *r)
{
    mf_server *s = r->srv;
    const char *why = NULL;
    if (!atomic_load(&s->ready)) {
        why = "loading";
    } else if (atomic_load(&s->quiescing) || mf_sched_draining(s->sched)) {
        why = "draining";
    } else if (mf_store_ping(s->store) != MF_OK) {
        why = "store unreachable";
    } else if (mf_store_writable(s->store) == MF_ENOSPC) {
        /* jobs wait until the store takes writes again (scheduler_store.c) */
        why = "job store: disk full";
    } else if (mf_store_writable(s->store) != MF_OK) {
        why = "job store: cannot write";
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
        return mf_http_error(r, "not_found", NULL, "no such resource: %s", r->path);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t) n + 1) : NULL;
    size_t got = buf != NULL ? fread(buf, 1, (size_t) n, f) : 0;
    fclose(f);
    if (buf == NULL || got != (size_t) n) {
        free(buf);
        mf_log(MF_LOG_ERROR, r->id, NULL, "cannot read %s", path); /* the path: for the log only */
        return mf_http_error(r, "internal", NULL, "cannot read the file served at %s", r->path);
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(got, buf, MHD_RESPMEM_MUST_FREE);
    r->resp_bytes = (long long) got;
    if (resp == NULL) {
        free(buf);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", type);
    return mf_http_queue(r, 200, resp);
}

enum MHD_Result mf_route_openapi(req *r)
{
    return serve_file(r, r->srv->cfg.openapi_path, "application/yaml");
}
