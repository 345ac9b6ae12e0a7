/* SPDX-License-Identifier: MIT */
/*
 * sse.h - an incremental parser of Server-Sent Events (the WHATWG "event
 * stream interpretation"), as the daemon's GET /v1/jobs/{id}/events sends them.
 *
 * Bytes go in as they arrive, in chunks cut anywhere (inside a line, between
 * the CR and LF of a CRLF); complete events come out through a callback.
 * Lines end with LF, CRLF or CR.  A line starting with ':' is a comment (the
 * daemon's heartbeats): counted, never an event.  "data:" lines of one event
 * are joined with '\n'; "event:" names it ("message" when absent); "id:" sets
 * the last event id, which persists across events; "retry:" and unknown
 * fields are ignored; a blank line dispatches the event (none when it has no
 * data).  A UTF-8 byte order mark at the very start is skipped.
 *
 * Memory is bounded: a line longer than max_line bytes, or an event whose
 * data grows beyond max_data bytes, fails the parse with MF_ERANGE instead of
 * growing without limit.  Not thread-safe; one parser per stream.
 */
#ifndef MF_SSE_H
#define MF_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

typedef struct mf_sse mf_sse;

/* One dispatched event.  Every pointer is borrowed from the parser and valid
 * only during the callback; every string is NUL-terminated. */
typedef struct mf_sse_event {
    const char *type; /* the "event:" field, "message" when the event had none */
    const char *data; /* the data lines joined by '\n' (no trailing '\n') */
    size_t data_len;  /* strlen(data), unless the data holds NUL bytes */
    const char *id;   /* the last event id seen on this stream ("" for none) */
    bool id_set;      /* this event carried its own "id:" line */
} mf_sse_event;

/* Called once per complete event; a result other than MF_OK stops the parse
 * and mf_sse_feed returns it. */
typedef mf_err (*mf_sse_fn)(const mf_sse_event *ev, void *ctx);

/**
 * A parser that refuses lines over max_line bytes and event data over
 * max_data bytes (both > 0).  Returns NULL only when out of memory.
 */
mf_sse *mf_sse_new(size_t max_line, size_t max_data);

/** Frees p (NULL is fine). */
void mf_sse_free(mf_sse *p);

/**
 * Parses n more bytes of the stream, calling fn (with ctx) for each event they
 * complete.  Returns MF_OK; MF_ERANGE for an oversize line or event; MF_ENOMEM;
 * or the first non-OK result of fn.  After a failure the parser must be reset
 * before it is fed again.
 */
MF_MUST_CHECK mf_err mf_sse_feed(mf_sse *p, const char *buf, size_t n, mf_sse_fn fn, void *ctx);

/**
 * Forgets everything of the current stream (partial line, pending event, last
 * event id, comment count), ready for a new connection.  The caller keeps the
 * id to resume from: a new stream starts without one.
 */
void mf_sse_reset(mf_sse *p);

/** Comment lines (heartbeats) seen since the last reset. */
size_t mf_sse_comments(const mf_sse *p);

#endif /* MF_SSE_H */
