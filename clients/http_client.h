/* SPDX-License-Identifier: MIT */
/*
 * http_client.h - the one place the client calls libcurl: a request to the
 * daemon, its status and body, or the transport error in curl's words.
 *
 * Every request has limits: a connect timeout, then either a total timeout
 * (ordinary requests) or, for streams, a stall limit (no byte for timeout_s
 * seconds), since an event stream may rightly last for hours while the
 * daemon's heartbeats keep it alive.  Buffered bodies are capped (max_bytes)
 * instead of growing with whatever the server sends.  A body can instead go
 * to a sink as it arrives (file downloads, event streams); only 2xx bodies
 * do, so an error body is always buffered and can be reported.
 *
 * curl_global_init must have run (main does it).  Not thread-safe: one
 * mf_http per thread.
 */
#ifndef MF_HTTP_CLIENT_H
#define MF_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

typedef struct mf_http mf_http;

/* Receives n bytes of a 2xx body; a result other than MF_OK aborts the transfer. */
typedef mf_err (*mf_http_sink)(const char *buf, size_t n, void *ctx);

typedef struct mf_http_req {
    const char *method;       /* "GET", "POST" or "DELETE" */
    const char *path;         /* appended to the base URL: "/v1/models?x=y" (already escaped) */
    const char *accept;       /* Accept header; NULL: none */
    const char *content_type; /* of the body; NULL: none */
    const void *body;         /* POST body (borrowed); NULL: empty */
    size_t body_len;
    const char *last_event_id; /* Last-Event-ID header; NULL: none */
    size_t max_bytes;          /* cap on a buffered body */
    mf_http_sink sink;         /* NULL: buffer every body */
    void *sink_ctx;
    bool stream; /* stall limit instead of a total timeout */
} mf_http_req;

typedef struct mf_http_resp {
    long status; /* the HTTP status; 0 when no response arrived */
    char *body;  /* malloc'd, NUL-terminated (NULL when empty or sunk) */
    size_t len;
    mf_err sink_err; /* what the sink returned when it stopped the transfer */
} mf_http_resp;

/**
 * A client of the daemon at base_url ("http://host:port", a trailing '/' is
 * dropped).  timeout_s > 0: the total time of a request (connecting takes at
 * most min(timeout_s, 10 s)), or the stall limit of a stream.  Returns MF_OK,
 * MF_EINVAL (empty URL or bad timeout) or MF_ENOMEM; *ret only on success.
 */
MF_MUST_CHECK mf_err mf_http_new(const char *base_url, double timeout_s, mf_http **ret);

/** Sends token as "Authorization: Bearer" on every request (NULL or "": none). */
MF_MUST_CHECK mf_err mf_http_set_token(mf_http *h, const char *token);

/** Frees h (NULL is fine). */
void mf_http_free(mf_http *h);

/** The base URL, without a trailing '/'. */
const char *mf_http_base(const mf_http *h);

/** The message of the last transport failure (curl's error buffer); "" if none. */
const char *mf_http_errmsg(const mf_http *h);

/**
 * Performs q and fills *ret (which the caller releases with mf_http_resp_done,
 * whatever the result).  Returns:
 *   MF_OK        a whole response arrived: ret->status and, unless sunk, ret->body;
 *   MF_EIO       no response, or it broke off (refused, DNS, TLS, timeout, stall,
 *                connection closed early): the reason is in mf_http_errmsg;
 *   MF_ERANGE    the buffered body would exceed q->max_bytes;
 *   MF_ECANCELED the sink stopped the transfer: ret->sink_err says why;
 *   MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_http_call(mf_http *h, const mf_http_req *q, mf_http_resp *ret);

/** Frees the body; r stays valid (empty). */
void mf_http_resp_done(mf_http_resp *r);

/** s %-escaped for a query string value (malloc'd), or NULL when out of memory. */
char *mf_http_escape(const char *s);

#endif /* MF_HTTP_CLIENT_H */
