/* SPDX-License-Identifier: MIT */
/*
 * stream.h - event streams (stream.c): a job's events as Server-Sent Events
 * or NDJSON, read from the job store and resumable with Last-Event-ID, and
 * the streamed answer of POST /v1/samples.  The hub keeps every open stream
 * so the scheduler's hooks can wake them.
 *
 * Threading: the hub functions and the hooks are thread-safe (one hub lock);
 * the request functions run on the request's MHD thread.
 */
#ifndef MF_STREAM_H
#define MF_STREAM_H

#include <stdbool.h>

#include "http_req.h"

/** Gives s its (empty) hub of streams.  Errors: MF_ENOMEM. */
MF_MUST_CHECK mf_err mf_stream_hub_new(mf_server *s);
/** Frees s's hub; no stream may be open. */
void mf_stream_hub_free(mf_server *s);
/** Scheduler event hook (server is the mf_server): wakes the streams of job_id (NULL: of
 *  every job, as after a store watch lost notes). */
void mf_stream_notify(void *server, const char *job_id);
/** Scheduler tick hook (server is the mf_server): wakes the streams whose heartbeat is due. */
void mf_stream_tick(void *server);
/** Ends every job stream after what it has (a sampling call's stream runs to its answer). */
void mf_stream_end_all(mf_server *s);

/** Answers r with the event stream of job_id, after Last-Event-ID or ?after= when given. */
enum MHD_Result mf_stream_job_events(req *r, const char *job_id);
/** true when a POST /v1/samples asks for a stream (Accept, or ?format=sse|ndjson). */
bool mf_stream_wanted(req *r);
/**
 * Queues c (one reference, taken) and answers with its event stream; on a
 * full queue or a drain, the 503 error instead.
 */
enum MHD_Result mf_stream_sample_call(req *r, mf_sample_call *c);

#endif /* MF_STREAM_H */
