/* SPDX-License-Identifier: MIT */
/*
 * http.h - manifoldd's HTTP server (libmicrohttpd): start, readiness, drain,
 * stop.  This is all main() needs; what route handlers see of a request and
 * of the server is in http_req.h, the endpoints are in the route table
 * (routes.h, routes.c).
 *
 * MHD runs its own thread pool and calls handle() per request; handlers never
 * compute: they validate (proto/), hand work to the scheduler and suspend the
 * connection, which the scheduler's done callback resumes.  Job event streams
 * (stream.c) suspend between events and are resumed by the scheduler's event
 * hook or by the heartbeat tick.
 */
#ifndef MF_HTTP_H
#define MF_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http_req.h"

/** Starts listening; *ret_port gets the bound port.  Errors: MF_EIO (bind), MF_ENOMEM. */
MF_MUST_CHECK mf_err mf_server_start(const mf_http_cfg *cfg, mf_store *store, mf_registry *reg,
                                     mf_sched *sched, mf_server **ret, uint16_t *ret_port);

/** The bound port of the health listener (cfg.health_host), or 0 when there is none. */
uint16_t mf_server_health_port(const mf_server *s);


/** Marks the server ready (/readyz 200) or not. */
void mf_server_set_ready(mf_server *s, bool ready);

/** Ends every event stream (they send what is left and close) and stops taking requests. */
void mf_server_quiesce(mf_server *s);

/** Stops the daemon and frees the server; accepts NULL. */
void mf_server_stop(mf_server *s);

#endif /* MF_HTTP_H */
