/* SPDX-License-Identifier: MIT */
/*
 * http_conn.h - what the HTTP server does about connections as such, apart
 * from the requests they carry: the header deadline, the lingering read of a
 * refused body, the log of libmicrohttpd's own messages, the open-files limit
 * and the health listener.  http.c calls these; route handlers never do.
 *
 * Threading: every function may be called from any MHD thread; the guard's
 * state is under its own lock.
 */
#ifndef MF_HTTP_CONN_H
#define MF_HTTP_CONN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "http_req.h"

/** The header deadline's bookkeeping: every open connection of the main listener. */
typedef struct mf_conns mf_conns;

/**
 * A guard that closes a connection which has not sent a request's whole
 * headers within header_s seconds of being accepted or of its previous
 * response (a thread checks a few times per header_s).  Errors: MF_ENOMEM,
 * MF_EIO (no thread).
 */
MF_MUST_CHECK mf_err mf_conns_new(double header_s, mf_conns **ret);

/** Stops the guard's thread and frees it; call after MHD_stop_daemon.  Accepts NULL. */
void mf_conns_free(mf_conns *g);

/** MHD_OPTION_NOTIFY_CONNECTION with the guard as cls: tracks each connection. */
void mf_conns_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                     enum MHD_ConnectionNotificationCode code);

/** A request's headers are in: conn's header deadline is off until the request ends. */
void mf_conns_headers_in(mf_conns *g, struct MHD_Connection *conn);

/** A request ended: conn waits for the next request's headers, under the deadline again. */
void mf_conns_request_done(mf_conns *g, struct MHD_Connection *conn);

/**
 * Whether to answer a body declared over r->limit at once, without reading
 * it: when the client waits for our word before sending it (Expect:
 * 100-continue), or when it is more than the lingering read would take.
 */
bool mf_http_refuse_unread(req *r, unsigned long long declared);

/**
 * The lingering read of a refused body: counts n more bytes dropped (the
 * first call also drops what r holds) and says whether to go on reading.
 * false once the body passed r->limit plus a few MiB, or the read has gone
 * on for longer than the client would sensibly need: the connection is then
 * closed without an answer.
 */
bool mf_http_drain(req *r, size_t n);

/** s seconds rounded up to whole seconds, at least 1: what MHD's timeouts take. */
unsigned mf_http_whole_s(double s);

/** MHD_OPTION_EXTERNAL_LOGGER: MHD's messages as log lines, a repeated message once per 10 s. */
void mf_http_mhd_log(void *cls, const char *fmt, va_list ap);

/**
 * Starts the health listener of s on host:port (s->cfg.health_host), which
 * answers GET /healthz and /readyz only, on a connection pool of its own; sets
 * s->health and *bound.  Errors: MF_EINVAL (address), MF_EIO (cannot listen).
 */
MF_MUST_CHECK mf_err mf_health_start(mf_server *s, uint16_t *bound);

/**
 * Raises the process's open-files limit to its hard limit, logging both, and
 * warns when it stays below what connections connections need.
 * Process-wide: call once, before the server starts.
 */
void mf_http_raise_nofile(size_t connections);

#endif /* MF_HTTP_CONN_H */
