/* SPDX-License-Identifier: MIT */
/*
 * http_admit.c - who may make a request: the Host and Origin checks
 * (http_guard.h), the API key and its scopes (auth.h), and what a key may see
 * and change once admitted (the owner of a job, model or dataset).
 *
 * Order, so that every refusal says the first thing wrong and costs nothing:
 * Host (421) -> Origin of a POST or DELETE (403) -> key (401) -> scope (403)
 * -> the key's request rate (429).
 * Probes (/healthz, /readyz) skip all of it; /metrics skips the key when
 * --metrics-scope is none.
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "clock.h"
#include "http_guard.h"
#include "http_req.h"
#include "routes.h"

/* 401 with the challenge every HTTP client understands (mf_http_queue adds it). */
static enum MHD_Result unauthorized(req *r, const char *msg)
{
    r->challenge = true;
    return mf_http_error(r, "unauthorized", NULL, "%s", msg);
}

/* The bearer token of the request, or NULL; *ret_n its length. */
static const char *bearer(req *r, size_t *ret_n)
{
    const char *v = NULL;
    size_t n = 0;
    if (MHD_lookup_connection_value_n(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION,
                                      strlen(MHD_HTTP_HEADER_AUTHORIZATION), &v, &n) != MHD_YES ||
        v == NULL || n < 7 || strncasecmp(v, "Bearer ", 7) != 0) {
        return NULL;
    }
    v += 7;
    n -= 7;
    while (n > 0 && *v == ' ') {
        v++;
        n--;
    }
    *ret_n = n;
    return v;
}

/* The scope the request's route needs: 0 for none. */
static unsigned route_scope(const req *r)
{
    if (r->route == NULL) {
        /* no route: the 404 or 405 says nothing a stranger should not know,
         * but a key is still asked for, so paths cannot be probed */
        return MF_SCOPE_READ;
    }
    if (r->route->scope == MF_ROUTE_SCOPE_METRICS) {
        return r->srv->cfg.metrics_scope;
    }
    return r->route->scope;
}

/* What is wrong with a request before its route runs, in the order it is checked. */
typedef enum verdict {
    ADMITTED,
    BAD_HOST,   /* 421 */
    BAD_ORIGIN, /* 403 */
    NO_KEY,     /* 401 */
    BAD_KEY,    /* 401 */
    NO_SCOPE,   /* 403 */
} verdict;

/* The verdict on r, with *ret_scope the scope it needs; sets r->key.  No side effect
 * besides (the key's token is hashed once per request: here). */
static verdict judge(req *r, unsigned *ret_scope)
{
    mf_server *s = r->srv;
    *ret_scope = 0;
    if (r->route != NULL && r->route->scope == MF_ROUTE_SCOPE_PROBE) {
        return ADMITTED;
    }
    const char *host = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Host");
    if (!mf_guard_host_ok(host, s->cfg.host, s->cfg.allowed_hosts)) {
        return BAD_HOST;
    }
    bool changes = strcmp(r->method, "POST") == 0 || strcmp(r->method, "DELETE") == 0;
    const char *origin = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Origin");
    if (changes && !mf_guard_origin_ok(origin, host, s->cors)) {
        return BAD_ORIGIN;
    }
    if (s->keys == NULL || strcmp(r->method, "OPTIONS") == 0) {
        return ADMITTED; /* no keys: the daemon is on loopback or told --insecure-open */
    }
    unsigned scope = *ret_scope = route_scope(r);
    if (scope == 0) {
        return ADMITTED;
    }
    size_t n = 0;
    const char *token = bearer(r, &n);
    if (token == NULL) {
        return NO_KEY;
    }
    r->key = mf_keys_find(s->keys, token, n);
    if (r->key == NULL) {
        return BAD_KEY;
    }
    return scope == MF_ROUTE_SCOPE_KEY || mf_key_has(r->key, scope) ? ADMITTED : NO_SCOPE;
}

bool mf_http_judge(req *r)
{
    r->verdict = (int) judge(r, &r->verdict_scope);
    return r->verdict == ADMITTED;
}

bool mf_http_admit(req *r, enum MHD_Result *ret)
{
    mf_server *s = r->srv;
    switch ((verdict) r->verdict) {
    case BAD_HOST:
        mf_quota_refused(s->quota, MF_REFUSAL_BAD_HOST);
        *ret = mf_http_error(r, "bad_host", NULL,
                             "this server does not answer to the Host in the request; its "
                             "operator lists the names it answers to with --allowed-hosts");
        return false;
    case BAD_ORIGIN:
        mf_quota_refused(s->quota, MF_REFUSAL_ORIGIN);
        *ret = mf_http_error(r, "forbidden_origin", NULL,
                             "requests that change state are not taken from this Origin; its "
                             "operator lists the origins it trusts with --cors");
        return false;
    case NO_KEY:
        mf_quota_refused(s->quota, MF_REFUSAL_UNAUTHORIZED);
        *ret = unauthorized(r, "this server needs an API key: send Authorization: Bearer <token>");
        return false;
    case BAD_KEY:
        mf_quota_refused(s->quota, MF_REFUSAL_UNAUTHORIZED);
        *ret = unauthorized(r, "the API key is not valid");
        return false;
    case NO_SCOPE:
        *ret = mf_http_need_scope(r, r->verdict_scope);
        return false;
    case ADMITTED:
        break;
    }
    double retry = 0;
    if (r->key != NULL &&
        !mf_quota_take(s->quota, r->key->index, r->key->name, mf_mono_s(), &retry)) {
        *ret = mf_http_over_quota(r, MF_REFUSAL_RATE, retry,
                                  "the API key %s is over its rate of %g requests per second",
                                  r->key->name, mf_quota_cfg_of(s->quota)->rate);
        return false;
    }
    return true;
}

enum MHD_Result mf_http_over_quota(req *r, mf_refusal why, double retry_s, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mf_quota_refused(r->srv->quota, why);
    double up = ceil(retry_s);
    r->retry_after = up < 1 ? 1u : up > 86400 ? 86400u : (unsigned) up;
    return mf_http_error(r, "rate_limited", NULL, "%s", msg);
}

enum MHD_Result mf_http_need_scope(req *r, unsigned scope)
{
    mf_quota_refused(r->srv->quota, MF_REFUSAL_FORBIDDEN);
    return mf_http_error(r, "forbidden", NULL, "the API key %s lacks the %s scope", r->key->name,
                         mf_scope_name(scope));
}

bool mf_req_has(const req *r, unsigned scope)
{
    return r->srv->keys == NULL || mf_key_has(r->key, scope);
}

const char *mf_req_owner(const req *r)
{
    return r->key != NULL ? r->key->name : "";
}

bool mf_req_may_see(const req *r, const char *owner)
{
    return r->key == NULL || owner == NULL || owner[0] == '\0' ||
           (r->key->scopes & MF_SCOPE_ADMIN) != 0 || strcmp(owner, r->key->name) == 0;
}

void mf_req_client(const req *r, char *out, size_t cap)
{
    if (r->key != NULL) {
        snprintf(out, cap, "key:%s", r->key->name);
        return;
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char host[64] = "?";
    if (ci != NULL && ci->client_addr != NULL && ci->client_addr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *) (const void *) ci->client_addr;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    }
    snprintf(out, cap, "addr:%s", host);
}

mf_reg_model *mf_req_model(const req *r, const char *id)
{
    mf_reg_model *e = mf_registry_get(r->srv->reg, id);
    if (e != NULL && !mf_req_may_see(r, e->owner)) {
        mf_registry_release(r->srv->reg, e);
        e = NULL;
    }
    return e;
}

bool mf_req_may_change(const req *r, const char *owner)
{
    if (r->key == NULL || (r->key->scopes & MF_SCOPE_ADMIN) != 0) {
        return true;
    }
    return owner != NULL && owner[0] != '\0' && strcmp(owner, r->key->name) == 0;
}
