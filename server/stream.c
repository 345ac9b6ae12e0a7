/* SPDX-License-Identifier: MIT */
/*
 * stream.c - job event streams: Server-Sent Events or NDJSON, read from the
 * job store, so a stream can start or resume (Last-Event-ID) at any event of
 * any job, after any restart, on any replica.
 *
 * A stream is an MHD callback response.  Its reader copies pending bytes; when
 * none are left it reads the next events from the store; when there are none
 * it suspends the connection.  The scheduler's event hook resumes the streams
 * of that job; the 1 s tick resumes streams whose heartbeat is due.  A wake
 * that arrives while the reader is running is remembered (st->wake), so no
 * event is ever waited for in vain.  The stream ends after the job's final
 * status event: every stream has a last event.
 *
 * A streamed POST /v1/samples (Accept: text/event-stream or
 * application/x-ndjson) is the same kind of stream with a sampling call as its
 * source instead of the store: the call's progress and done callbacks (worker
 * threads) record the state under the hub lock and wake the stream; the reader
 * turns it into events: status queued, status running, progress (coalesced: the reader writes
 * only the latest), samples in chunks of SAMPLE_CHUNK_ROWS rows, metrics, and
 * a final status with the request's settings or its error.  Such a stream
 * lives only on its connection (nothing is stored, so there is nothing to
 * resume: a client that needs resume submits a sample job); when the client
 * goes away the call is cancelled, and a batch whose calls were all cancelled
 * stops at the next step.
 */
#include "stream.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_json.h"
#include "clock.h"
#include "event_id.h"
#include "http_req.h"
#include "log.h"
#include "metrics_json.h"
#include "routes.h"

#define EVENTS_PER_READ   32
#define SAMPLE_CHUNK_ROWS 1024 /* rows per samples event (as a sample job's) */
#define PROGRESS_WAKE_S   0.1  /* a call's progress wakes its stream at most this often */

typedef struct stream stream;

struct stream {
    mf_server *srv;
    struct MHD_Connection *conn;
    char job[MF_ID_MAX + 1];
    uint64_t last; /* seq of the last event written */
    bool ndjson;
    char *buf;
    size_t len, off, cap;
    bool final_sent, ended, suspended, wake, opened;
    double last_write;
    stream *prev, *next;
    /* a streamed sampling call (NULL for a job's stream) */
    mf_sample_call *call;
    size_t call_done, call_total; /* hub lock: set by the worker (rows) */
    const char *call_phase;       /* hub lock: what runs (static text) */
    bool call_finished;           /* hub lock: the call's done callback ran */
    double call_woken;            /* hub lock: when progress last woke the stream */
    size_t progress_sent;         /* reader: last progress written */
    const char *phase_sent;       /* reader: its phase */
    size_t rows_sent;             /* reader: samples written */
    bool running_sent, metrics_sent;
};

typedef struct hub {
    pthread_mutex_t lock;
    stream *head;
} hub;

mf_err mf_stream_hub_new(mf_server *s)
{
    hub *h = calloc(1, sizeof *h);
    if (h == NULL) {
        return MF_ENOMEM;
    }
    pthread_mutex_init(&h->lock, NULL);
    s->hub = h;
    return MF_OK;
}

void mf_stream_hub_free(mf_server *s)
{
    hub *h = s->hub;
    if (h != NULL) {
        pthread_mutex_destroy(&h->lock);
        free(h);
        s->hub = NULL;
    }
}

/* Hub lock held: resumes a suspended stream, or remembers the wake. */
static void wake(stream *st)
{
    if (st->suspended) {
        st->suspended = false;
        MHD_resume_connection(st->conn);
    } else {
        st->wake = true;
    }
}

void mf_stream_notify(void *server, const char *job_id)
{
    mf_server *s = server;
    hub *h = s->hub;
    pthread_mutex_lock(&h->lock);
    for (stream *st = h->head; st != NULL; st = st->next) {
        if (st->call == NULL && (job_id == NULL || strcmp(st->job, job_id) == 0)) {
            wake(st);
        }
    }
    pthread_mutex_unlock(&h->lock);
}

void mf_stream_tick(void *server)
{
    mf_server *s = server;
    hub *h = s->hub;
    double t = mf_mono_s();
    pthread_mutex_lock(&h->lock);
    for (stream *st = h->head; st != NULL; st = st->next) {
        if (st->suspended && t - st->last_write >= s->cfg.heartbeat_s) {
            wake(st);
        }
    }
    pthread_mutex_unlock(&h->lock);
}

void mf_stream_end_all(mf_server *s)
{
    hub *h = s->hub;
    pthread_mutex_lock(&h->lock);
    for (stream *st = h->head; st != NULL; st = st->next) {
        st->ended = true;
        wake(st);
    }
    pthread_mutex_unlock(&h->lock);
}

static bool append(stream *st, const char *text, size_t n)
{
    if (st->len + n > st->cap) {
        size_t cap = st->cap == 0 ? 8192 : st->cap;
        while (cap < st->len + n) {
            cap *= 2;
        }
        char *b = realloc(st->buf, cap);
        if (b == NULL) {
            return false;
        }
        st->buf = b;
        st->cap = cap;
    }
    memcpy(st->buf + st->len, text, n);
    st->len += n;
    return true;
}

/* Formats one event into the buffer. */
static bool put_event(stream *st, uint64_t seq, const char *name, const char *data)
{
    if (st->ndjson) {
        char *line = mf_json_ndjson_line(seq, name, data);
        bool ok = line != NULL && append(st, line, strlen(line));
        free(line);
        return ok;
    }
    char head[96];
    int n =
        snprintf(head, sizeof head, "id: %llu\nevent: %s\ndata: ", (unsigned long long) seq, name);
    /* data is compact JSON: no newlines, one data: line */
    return append(st, head, (size_t) n) && append(st, data, strlen(data)) && append(st, "\n\n", 2);
}

/* true when the job is final (or gone: nothing more will come). */
static bool job_final(stream *st)
{
    mf_job_rec rec;
    memset(&rec, 0, sizeof rec);
    bool final =
        mf_store_job_get(st->srv->store, st->job, &rec) != MF_OK || mf_job_state_final(rec.state);
    mf_job_rec_done(&rec);
    return final;
}

/* Reads the next events from the store into the buffer; returns how many. */
static size_t fill_job(stream *st)
{
    mf_event_rec *ev = NULL;
    size_t n = 0;
    if (mf_store_events_after(st->srv->store, st->job, st->last, EVENTS_PER_READ, &ev, &n) !=
        MF_OK) {
        /* the job expired or the store failed: end the stream */
        st->final_sent = true;
        return 0;
    }
    if (n == 0 && job_final(st)) {
        /* A resume at or past a finished job's final event has nothing to wait
         * for.  Read once more: the final event (stored with the final state)
         * may have landed between the first read and the state. */
        mf_event_recs_free(ev, n);
        ev = NULL;
        if (mf_store_events_after(st->srv->store, st->job, st->last, EVENTS_PER_READ, &ev, &n) !=
                MF_OK ||
            n == 0) {
            mf_event_recs_free(ev, n);
            st->final_sent = true;
            return 0;
        }
    }
    size_t i = 0;
    for (; i < n; i++) {
        if (!put_event(st, ev[i].seq, ev[i].name, ev[i].data)) {
            break;
        }
        st->last = ev[i].seq;
        if (mf_json_event_is_final(ev[i].name, ev[i].data)) {
            st->final_sent = true;
            i++;
            break;
        }
    }
    mf_event_recs_free(ev, n);
    return i;
}

/* Formats one event of a call's stream (the next sequence id); takes j. */
static bool put_call_event(stream *st, const char *name, json_t *j)
{
    char *data = mf_json_take_dump(j);
    bool ok = data != NULL && put_event(st, st->last + 1, name, data);
    free(data);
    if (ok) {
        st->last++;
    }
    return ok;
}

/* The final status of a call's stream: the settings and metrics, or the error. */
static bool put_call_final(stream *st)
{
    mf_sample_call *c = st->call;
    json_t *j;
    if (c->err == MF_OK) {
        j = mf_json_event_sample_status("succeeded", mf_sample_call_json(c, false), NULL, NULL);
    } else if (c->err == MF_ECANCELED) {
        j = mf_json_event_sample_status("cancelled", NULL, "shutting_down",
                                        "the server stopped the request while shutting down");
    } else {
        j = mf_json_event_sample_status(
            "failed", NULL, c->diag.code[0] != '\0' ? c->diag.code : "internal", c->diag.msg);
    }
    st->final_sent = true;
    return put_call_event(st, "status", j);
}

/*
 * The next events of a call's stream from what its callbacks recorded: the
 * opening status, the latest progress, then (once done) one samples chunk,
 * the metrics, the final status.  Returns how many were written.
 */
static size_t fill_call(stream *st)
{
    hub *h = st->srv->hub;
    pthread_mutex_lock(&h->lock);
    size_t done = st->call_done, total = st->call_total;
    const char *phase = st->call_phase;
    bool finished = st->call_finished;
    pthread_mutex_unlock(&h->lock);
    mf_sample_call *c = st->call;
    size_t n = 0;
    if (st->last == 0) {
        n += put_call_event(st, "status", mf_json_event_status(NULL, "queued", NULL));
    }
    if (total > 0 && !st->running_sent) {
        st->running_sent = true;
        n += put_call_event(st, "status", mf_json_event_status(NULL, "running", NULL));
    }
    if (total > 0 && (done != st->progress_sent || strcmp(phase, st->phase_sent) != 0)) {
        st->progress_sent = done;
        st->phase_sent = phase;
        n += put_call_event(st, "progress", mf_json_event_progress(NULL, done, total, phase));
    }
    if (!finished || n > 0) {
        return n;
    }
    if (c->err == MF_OK && st->rows_sent < c->req.n) {
        size_t D = c->model->model->net->cfg.data_dim, off = st->rows_sent;
        size_t rows = c->req.n - off < SAMPLE_CHUNK_ROWS ? c->req.n - off : SAMPLE_CHUNK_ROWS;
        st->rows_sent += rows;
        return put_call_event(st, "samples",
                              mf_json_event_samples(NULL, off, c->x + off * D, rows, D));
    }
    if (c->err == MF_OK && c->has_metrics && !st->metrics_sent) {
        st->metrics_sent = true;
        return put_call_event(st, "metrics", mf_json_metrics(&c->metrics));
    }
    return put_call_final(st);
}

static size_t fill(stream *st)
{
    return st->call != NULL ? fill_call(st) : fill_job(st);
}

static ssize_t reader(void *cls, uint64_t pos, char *out, size_t max)
{
    (void) pos;
    stream *st = cls;
    hub *h = st->srv->hub;
    pthread_mutex_lock(&h->lock);
    for (;;) {
        if (st->off < st->len) {
            size_t n = st->len - st->off < max ? st->len - st->off : max;
            memcpy(out, st->buf + st->off, n);
            st->off += n;
            st->last_write = mf_mono_s();
            pthread_mutex_unlock(&h->lock);
            return (ssize_t) n;
        }
        st->off = st->len = 0;
        if (!st->opened) {
            st->opened = true;
            if (!st->ndjson) {
                append(st, "retry: 2000\n\n", 13);
                continue;
            }
        }
        /* A call's stream is not cut short by a drain: its call is answered. */
        if (st->final_sent || (st->ended && st->call == NULL)) {
            pthread_mutex_unlock(&h->lock);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        st->wake = false;
        pthread_mutex_unlock(&h->lock);
        size_t got = fill(st);
        pthread_mutex_lock(&h->lock);
        if (got > 0 || st->final_sent) {
            continue;
        }
        if (st->wake) {
            continue; /* an event arrived while we read */
        }
        if (mf_mono_s() - st->last_write >= st->srv->cfg.heartbeat_s) {
            if (st->ndjson) {
                append(st, "{\"event\":\"heartbeat\"}\n", 22);
            } else {
                append(st, ": keep-alive\n\n", 14);
            }
            continue;
        }
        st->suspended = true;
        MHD_suspend_connection(st->conn);
        pthread_mutex_unlock(&h->lock);
        return 0;
    }
}

static void stream_free(void *cls)
{
    stream *st = cls;
    hub *h = st->srv->hub;
    pthread_mutex_lock(&h->lock);
    if (st->prev != NULL) {
        st->prev->next = st->next;
    } else if (h->head == st) {
        h->head = st->next;
    }
    if (st->next != NULL) {
        st->next->prev = st->prev;
    }
    mf_sample_call *c = st->call;
    if (c != NULL) {
        c->ctx2 = NULL; /* the callbacks find no stream from now on */
        if (!st->call_finished) {
            atomic_store(&c->cancel, 1); /* the client went away */
        }
    }
    pthread_mutex_unlock(&h->lock);
    if (c != NULL) {
        mf_sample_call_release(c, st->srv->reg);
    }
    free(st->buf);
    free(st);
}

/*
 * A new stream of r's connection, linked into the hub: of job_id's events
 * after the event after, or ("", 0) of a sampling call.  Everything the hub's
 * walkers read (the job id) is set before the stream is linked: from then on
 * a worker's event hook may look at it.
 */
static stream *stream_new(req *r, bool ndjson, const char *job_id, uint64_t after)
{
    stream *st = calloc(1, sizeof *st);
    if (st == NULL) {
        return NULL;
    }
    snprintf(st->job, sizeof st->job, "%s", job_id);
    st->last = after;
    st->srv = r->srv;
    st->conn = r->conn;
    st->ndjson = ndjson;
    st->last_write = mf_mono_s();
    st->progress_sent = (size_t) -1;
    st->call_phase = st->phase_sent = MF_PHASE_SAMPLING;
    hub *h = r->srv->hub;
    pthread_mutex_lock(&h->lock);
    st->next = h->head;
    if (h->head != NULL) {
        h->head->prev = st;
    }
    h->head = st;
    pthread_mutex_unlock(&h->lock);
    return st;
}

/* The response that reads st (st is freed with it), with the streaming headers. */
static struct MHD_Response *stream_response(stream *st)
{
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, reader, st, stream_free);
    if (resp == NULL) {
        stream_free(st);
        return NULL;
    }
    MHD_add_response_header(resp, "Content-Type",
                            st->ndjson ? "application/x-ndjson"
                                       : "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    return resp;
}

/* "text/event-stream" (default) or NDJSON when asked (Accept or ?format=ndjson). */
static bool wants_ndjson(req *r)
{
    const char *fmt = mf_http_arg(r, "format");
    if (fmt != NULL) {
        return strcmp(fmt, "ndjson") == 0;
    }
    const char *accept = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Accept");
    return accept != NULL && strstr(accept, "application/x-ndjson") != NULL &&
           strstr(accept, "text/event-stream") == NULL;
}

enum MHD_Result mf_stream_job_events(req *r, const char *job_id)
{
    mf_event_rec *ev = NULL;
    size_t n = 0;
    mf_err err = mf_store_events_after(r->srv->store, job_id, 0, 1, &ev, &n);
    mf_event_recs_free(ev, n);
    if (err == MF_ENOTFOUND) {
        return mf_http_error(r, "not_found", NULL, "no job with id %s", job_id);
    }
    if (err != MF_OK) {
        return mf_http_error(r, "store", NULL, "the job store failed: %s", mf_strerror(err));
    }
    uint64_t after = 0;
    const char *lei = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Last-Event-ID");
    const char *arg = mf_http_arg(r, "after");
    const char *from = lei != NULL ? lei : arg;
    if (from != NULL && !mf_event_id_parse(from, &after)) {
        return mf_http_error(r, "bad_value", lei != NULL ? NULL : "after",
                             "Last-Event-ID / after must be an event id (a non-negative "
                             "integer), got '%.40s'",
                             from);
    }
    stream *st = stream_new(r, wants_ndjson(r), job_id, after);
    if (st == NULL) {
        return mf_http_error(r, "internal", NULL, "out of memory");
    }
    return mf_http_queue(r, 200, stream_response(st));
}

/* ---- streamed POST /v1/samples --------------------------------------------------------- */

static void call_progress(mf_sample_call *c, size_t done, size_t total, const char *phase)
{
    mf_server *s = c->ctx;
    hub *h = s->hub;
    pthread_mutex_lock(&h->lock);
    stream *st = c->ctx2;
    if (st != NULL) {
        bool new_phase = strcmp(phase, st->call_phase) != 0;
        st->call_done = done;
        st->call_total = total;
        st->call_phase = phase;
        double t = mf_mono_s();
        if (done == total || new_phase || t - st->call_woken >= PROGRESS_WAKE_S) {
            st->call_woken = t;
            wake(st);
        }
    }
    pthread_mutex_unlock(&h->lock);
}

static void call_finished(mf_sample_call *c)
{
    mf_server *s = c->ctx;
    hub *h = s->hub;
    pthread_mutex_lock(&h->lock);
    stream *st = c->ctx2;
    if (st != NULL) {
        st->call_finished = true;
        wake(st);
    }
    pthread_mutex_unlock(&h->lock);
}

bool mf_stream_wanted(req *r)
{
    const char *fmt = mf_http_arg(r, "format");
    if (fmt != NULL) {
        return strcmp(fmt, "sse") == 0 || strcmp(fmt, "ndjson") == 0;
    }
    const char *accept = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Accept");
    return accept != NULL && (strstr(accept, "text/event-stream") != NULL ||
                              strstr(accept, "application/x-ndjson") != NULL);
}

enum MHD_Result mf_stream_sample_call(req *r, mf_sample_call *c)
{
    stream *st = stream_new(r, wants_ndjson(r), "", 0);
    if (st == NULL) {
        mf_sample_call_release(c, r->srv->reg);
        return mf_http_error(r, "internal", NULL, "out of memory");
    }
    st->call = c; /* the stream owns the caller's reference from here */
    c->progress = call_progress;
    c->done = call_finished;
    c->ctx = r->srv;
    c->ctx2 = st;
    struct MHD_Response *resp = stream_response(st);
    if (resp == NULL) {
        return mf_http_error(r, "internal", NULL, "out of memory");
    }
    mf_diag d = {0};
    mf_err err = mf_sched_sample(r->srv->sched, c, &d);
    if (err != MF_OK) {
        MHD_destroy_response(resp); /* frees the stream and its reference */
        if (err == MF_EBUSY) {
            r->retry_after = mf_sched_retry_after(r->srv->sched, false);
        }
        return mf_http_fail(r, err, &d);
    }
    return mf_http_queue(r, 200, resp);
}
