/* SPDX-License-Identifier: MIT */
/*
 * routes.h - the route handlers (routes_*.c, prom.c), called by http.c's
 * router, and what they share with stream.c.
 */
#ifndef MF_ROUTES_H
#define MF_ROUTES_H

#include <stdbool.h>

#include "http_req.h"

/* routes: each returns MHD's result; id is the path's id segment or NULL, sub the one after it */
enum MHD_Result mf_route_models(req *r, const char *id, const char *sub);
enum MHD_Result mf_route_samples(req *r);
enum MHD_Result mf_route_jobs(req *r, const char *id, const char *sub);
enum MHD_Result mf_route_metrics(req *r);

/**
 * A finished sampling call's result (SampleResult), without "samples" when
 * !with_samples (routes_jobs.c; the streamed call's final event uses it too).
 */
json_t *mf_sample_call_json(const mf_sample_call *c, bool with_samples);

#endif /* MF_ROUTES_H */
