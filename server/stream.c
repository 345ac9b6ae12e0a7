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
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_json.h"
#include "clock.h"
#include "http.h"
#include "log.h"

#define EVENTS_PER_READ 32

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
        if (strcmp(st->job, job_id) == 0) {
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
    int n = snprintf(head, sizeof head, "id: %llu\nevent: %s\ndata: ", (unsigned long long) seq,
                     name);
    /* data is compact JSON: no newlines, one data: line */
    return append(st, head, (size_t) n) && append(st, data, strlen(data)) && append(st, "\n\n", 2);
}

/* Reads the next events from the store into the buffer; returns how many. */
static size_t fill(stream *st)
{
    mf_event_rec *ev = NULL;
    size_t n = 0;
    if (mf_store_events_after(st->srv->store, st->job, st->last, EVENTS_PER_READ, &ev, &n) != MF_OK) {
        /* the job expired or the store failed: end the stream */
        st->final_sent = true;
        return 0;
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
        if (st->final_sent || st->ended) {
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
    } else {
        h->head = st->next;
    }
    if (st->next != NULL) {
        st->next->prev = st->prev;
    }
    pthread_mutex_unlock(&h->lock);
    free(st->buf);
    free(st);
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
        return mf_http_error(r, 404, "not_found", NULL, "no job with id %s", job_id);
    }
    if (err != MF_OK) {
        return mf_http_error(r, 500, "store", NULL, "the job store failed: %s", mf_strerror(err));
    }
    uint64_t after = 0;
    const char *lei = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Last-Event-ID");
    const char *arg = mf_http_arg(r, "after");
    const char *from = lei != NULL ? lei : arg;
    if (from != NULL) {
        char *end;
        unsigned long long v = strtoull(from, &end, 10);
        if (*from == '\0' || *end != '\0' || *from == '-') {
            return mf_http_error(r, 400, "bad_value", lei != NULL ? NULL : "after",
                                 "Last-Event-ID / after must be an event id (a non-negative "
                                 "integer), got '%.40s'",
                                 from);
        }
        after = v;
    }
    stream *st = calloc(1, sizeof *st);
    if (st == NULL) {
        return mf_http_error(r, 500, "internal", NULL, "out of memory");
    }
    st->srv = r->srv;
    st->conn = r->conn;
    snprintf(st->job, sizeof st->job, "%s", job_id);
    st->last = after;
    st->ndjson = wants_ndjson(r);
    st->last_write = mf_mono_s();
    hub *h = r->srv->hub;
    pthread_mutex_lock(&h->lock);
    st->next = h->head;
    if (h->head != NULL) {
        h->head->prev = st;
    }
    h->head = st;
    pthread_mutex_unlock(&h->lock);
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, reader, st, stream_free);
    if (resp == NULL) {
        stream_free(st);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", st->ndjson ? "application/x-ndjson"
                                                             : "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    return mf_http_queue(r, 200, resp);
}
