/* SPDX-License-Identifier: MIT */
/*
 * watch.c - follows a job's event stream (GET /v1/jobs/{id}/events, SSE) to
 * its final status event.
 *
 * Exactly-once across reconnections: the daemon numbers a job's events
 * 1, 2, 3 ... and resumes after the number sent as Last-Event-ID.  The
 * watcher remembers the highest id it has handled, resumes from it, and also
 * skips any event at or below it, so an event is neither lost nor shown twice
 * even if a proxy replays part of a stream.
 *
 * Reconnection is bounded: after a drop (connection reset, stall past the
 * --timeout, the stream ending before the final event, a 5xx or 429) it waits
 * 0.5, 1, 2, 4, 8 s and gives up after MAX_RETRIES attempts in a row that
 * brought no new event.  A first connection that never reached the server
 * is not retried: that is a wrong URL or a daemon that is down, said at once.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api_json.h"
#include "args.h"
#include "bar.h"
#include "commands.h"
#include "request_json.h"
#include "sse.h"
#include "view.h"

#define MAX_RETRIES   5
#define FIRST_DELAY_S 0.5
#define MAX_EVENT     MF_API_MAX_BODY /* a line, or an event's data */
#define WHY_MAX       320             /* the reason of a reconnection */

typedef struct watch {
    mf_client *c;
    const char *job;
    bool json;
    mf_sse *sse;
    mf_bar bar;
    mf_view view;     /* the lines of explore's and steer's metrics events */
    uint64_t last_id; /* the highest event id handled */
    size_t n_new;     /* events handled on the current connection */
    bool final;       /* the final status event was handled */
    char state[32];
    json_t *error; /* the final job object's "error", or NULL */
    uint64_t rows; /* sample rows seen in samples events */
    mf_exit fail;  /* set when an event cannot be handled: stop */
} watch;

static mf_err bad_event(watch *w, const char *type, const char *what)
{
    char msg[160];
    snprintf(msg, sizeof msg, "a %.32s event of job %s: %s", type, w->job, what);
    mf_bar_end(&w->bar);
    w->fail = mf_api_malformed(msg);
    return MF_EFORMAT;
}

/* An unsigned decimal event id, or false. */
static bool parse_id(const char *s, uint64_t *ret)
{
    if (*s < '0' || *s > '9') {
        return false;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        return false;
    }
    *ret = (uint64_t) v;
    return true;
}

static bool is_final_state(const char *s)
{
    return strcmp(s, "succeeded") == 0 || strcmp(s, "failed") == 0 || strcmp(s, "cancelled") == 0;
}

static mf_err on_status(watch *w, const json_t *data)
{
    const char *state = mf_api_str(data, "state");
    if (state == NULL) {
        return bad_event(w, "status", "no \"state\"");
    }
    snprintf(w->state, sizeof w->state, "%s", state);
    if (is_final_state(state)) {
        w->final = true;
        json_t *err = json_object_get(json_object_get(data, "job_object"), "error");
        w->error = json_is_object(err) ? json_incref(err) : NULL;
    } else if (!w->json) {
        char line[160];
        snprintf(line, sizeof line, "%s: %.32s", w->job, state);
        mf_bar_note(&w->bar, line);
    }
    return MF_OK;
}

static mf_err on_progress(watch *w, const json_t *data)
{
    const json_t *done = json_object_get(data, "done"), *total = json_object_get(data, "total");
    if (!json_is_integer(done) || !json_is_integer(total) || json_integer_value(done) < 0 ||
        json_integer_value(total) < 0) {
        return bad_event(w, "progress", "\"done\" and \"total\" are not counts");
    }
    if (!w->json) {
        mf_bar_update(&w->bar, (uint64_t) json_integer_value(done),
                      (uint64_t) json_integer_value(total),
                      mf_view_phase(&w->view, mf_api_str(data, "phase")));
    }
    return MF_OK;
}

static mf_err on_metrics(watch *w, const json_t *data)
{
    if (w->json) {
        return MF_OK;
    }
    /* Results, so stdout (the bar is only on stderr), as soon as they come. */
    mf_bar_clear(&w->bar);
    if (mf_view_metrics(&w->view, stdout, data)) {
        return MF_OK;
    }
    fputs("metrics:\n", stdout);
    if (mf_out_describe(stdout, data, "  ") != MF_OK) {
        w->fail = mf_api_say(MF_EXIT_LOCAL, "out of memory");
        return MF_ENOMEM;
    }
    fflush(stdout);
    return MF_OK;
}

/* --json: the event as the daemon's own NDJSON line (proto/), flushed. */
static mf_err print_ndjson(watch *w, uint64_t id, const mf_sse_event *ev)
{
    char *line = mf_json_ndjson_line(id, ev->type, ev->data);
    if (line == NULL) {
        w->fail = mf_api_say(MF_EXIT_LOCAL, "out of memory");
        return MF_ENOMEM;
    }
    bool ok = fputs(line, stdout) != EOF && fflush(stdout) == 0;
    free(line);
    if (!ok) {
        w->fail = mf_api_say(MF_EXIT_LOCAL, "cannot write to stdout");
        return MF_EIO;
    }
    return MF_OK;
}

static mf_err on_event(const mf_sse_event *ev, void *ctx)
{
    watch *w = ctx;
    uint64_t id = w->last_id;
    if (w->final) {
        return MF_OK; /* nothing follows the final event */
    }
    if (ev->id_set && !parse_id(ev->id, &id)) {
        return bad_event(w, ev->type, "its id is not a number");
    }
    if (ev->id_set && id <= w->last_id) {
        return MF_OK; /* seen before this reconnection */
    }
    json_t *data = json_loadb(ev->data, ev->data_len, 0, NULL);
    if (!json_is_object(data)) {
        json_decref(data);
        return bad_event(w, ev->type, "its data is not a JSON object");
    }
    w->last_id = id;
    w->n_new++;
    mf_err err = w->json ? print_ndjson(w, id, ev) : MF_OK;
    if (err == MF_OK && strcmp(ev->type, "status") == 0) {
        err = on_status(w, data);
    } else if (err == MF_OK && strcmp(ev->type, "progress") == 0) {
        err = on_progress(w, data);
    } else if (err == MF_OK && strcmp(ev->type, "metrics") == 0) {
        err = on_metrics(w, data);
    } else if (err == MF_OK && strcmp(ev->type, "samples") == 0 &&
               json_object_get(data, "iteration") == NULL &&
               json_object_get(data, "stage") == NULL) {
        /* a sample job's rows (an exploration's per-iteration samples and a steer's
         * per-target ones are not their result) */
        w->rows += json_array_size(json_object_get(data, "samples"));
    }
    /* other event types: a newer daemon's; skipped */
    json_decref(data);
    return err;
}

static mf_err on_bytes(const char *buf, size_t n, void *ctx)
{
    watch *w = ctx;
    return mf_sse_feed(w->sse, buf, n, on_event, w);
}

static void sleep_s(double s)
{
    struct timespec ts = {.tv_sec = (time_t) s,
                          .tv_nsec = (long) ((s - (double) (time_t) s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* The code of an error body ("queue_full"), for the retry message; "" when none. */
static void error_code(const mf_http_resp *r, char *buf, size_t cap)
{
    json_t *j = r->body != NULL ? json_loadb(r->body, r->len, 0, NULL) : NULL;
    const char *code = mf_api_str(json_object_get(j, "error"), "code");
    snprintf(buf, cap, "%.40s", code != NULL ? code : "");
    json_decref(j);
}

/*
 * One connection.  Returns MF_EXIT_OK when the stream should be resumed (the
 * reason in why, with *ret_server telling whether the server answered an
 * error) or when the final event arrived; any other code ends the watch.
 */
static mf_exit connect_once(watch *w, bool first, char *why, size_t cap, bool *ret_server)
{
    char path[128], what[160], lei[32];
    snprintf(path, sizeof path, "/v1/jobs/%s/events", w->job);
    snprintf(what, sizeof what, "GET %s", path);
    snprintf(lei, sizeof lei, "%" PRIu64, w->last_id);
    mf_http_req q = {.method = "GET",
                     .path = path,
                     .accept = "text/event-stream",
                     .last_event_id = w->last_id > 0 ? lei : NULL,
                     .max_bytes = MF_API_MAX_BODY,
                     .sink = on_bytes,
                     .sink_ctx = w,
                     .stream = true};
    mf_sse_reset(w->sse);
    w->n_new = 0;
    mf_http_resp r;
    mf_err err = mf_http_call(w->c->http, &q, &r);
    mf_exit code = MF_EXIT_OK;
    *ret_server = false;
    if (w->fail != MF_EXIT_OK) {
        code = w->fail;
    } else if (w->final) {
        code = MF_EXIT_OK;
    } else if (err == MF_OK && r.status >= 200 && r.status <= 299) {
        snprintf(why, cap, "the stream ended before the job's final event");
    } else if (err == MF_OK && (r.status >= 500 || r.status == 429)) {
        char ecode[48];
        error_code(&r, ecode, sizeof ecode);
        snprintf(why, cap, "the server answered %ld %s", r.status, ecode);
        *ret_server = true;
    } else if (err == MF_OK) {
        mf_bar_end(&w->bar);
        code = mf_api_status_fail(&r); /* 404 and the like: resuming cannot help */
    } else if (err == MF_EIO && !(first && r.status == 0)) {
        snprintf(why, cap, "%s", mf_http_errmsg(w->c->http));
    } else if (err == MF_ECANCELED && r.sink_err == MF_ERANGE) {
        mf_bar_end(&w->bar);
        code = mf_api_say(MF_EXIT_SERVER, "an event of job %s is larger than %zu MiB", w->job,
                          (size_t) MAX_EVENT >> 20);
    } else {
        mf_bar_end(&w->bar);
        code = mf_api_transport_fail(w->c, err == MF_ECANCELED ? r.sink_err : err, what);
    }
    mf_http_resp_done(&r);
    return code;
}

/* The end: the final state on stdout (or not, with --json) and the exit code. */
static mf_exit finish(watch *w)
{
    mf_bar_end(&w->bar);
    bool ok = strcmp(w->state, "succeeded") == 0;
    if (!w->json) {
        if (w->rows > 0) {
            fprintf(stderr, "%s: %" PRIu64 " sample rows ('manifold result %s' prints them)\n",
                    w->job, w->rows, w->job);
        } else if (ok) {
            fprintf(stderr, "%s: 'manifold result %s' shows the result\n", w->job, w->job);
        }
        printf("%s %s\n", w->job, w->state);
    }
    if (ok) {
        return MF_EXIT_OK;
    }
    const char *code = mf_api_str(w->error, "code"), *msg = mf_api_str(w->error, "message");
    mf_cli_error_begin();
    fprintf(stderr, "job %s %s: ", w->job, w->state);
    mf_out_clean(stderr, code != NULL ? code : "no error code", 64);
    fputs(": ", stderr);
    mf_out_clean(stderr, msg != NULL ? msg : "no message", 1000);
    fputc('\n', stderr);
    return MF_EXIT_JOB;
}

mf_exit mf_watch_job(mf_client *c, const char *job, bool json)
{
    watch w = {.c = c, .job = job, .json = json, .sse = mf_sse_new(MAX_EVENT, MAX_EVENT)};
    if (w.sse == NULL) {
        return mf_api_say(MF_EXIT_LOCAL, "out of memory");
    }
    mf_bar_init(&w.bar, stderr, c->stderr_tty, job);
    mf_exit code = MF_EXIT_OK;
    int retries = 0;
    double delay = FIRST_DELAY_S;
    for (bool first = true;; first = false) {
        char why[WHY_MAX];
        bool server = false;
        code = connect_once(&w, first, why, sizeof why, &server);
        if (code != MF_EXIT_OK || w.final) {
            break;
        }
        if (w.n_new > 0) {
            retries = 0;
            delay = FIRST_DELAY_S;
        }
        if (++retries > MAX_RETRIES) {
            mf_bar_end(&w.bar);
            code = mf_api_say(server ? MF_EXIT_SERVER : MF_EXIT_UNREACHABLE,
                              "giving up on the events of job %s after %d retries: %s", job,
                              MAX_RETRIES, why);
            break;
        }
        char note[WHY_MAX + 128];
        snprintf(note, sizeof note,
                 "%s: %s; resuming after event %" PRIu64 " in %.1f s (retry %d of %d)",
                 mf_cli_prog(), why, w.last_id, delay, retries, MAX_RETRIES);
        mf_bar_note(&w.bar, note);
        sleep_s(delay);
        delay *= 2;
    }
    if (code == MF_EXIT_OK) {
        code = finish(&w);
    }
    json_decref(w.error);
    mf_sse_free(w.sse);
    return code;
}

mf_exit mf_cmd_watch(mf_client *c, int argc, char **argv, int first)
{
    bool json = false;
    const mf_opt opts[] = {
        {"json", MF_OPT_FLAG, &json, 0, 0,
         "each event as one NDJSON line {\"id\",\"event\",\"data\"} on stdout, no bar"}};
    const mf_args_spec spec = {
        .usage = "manifold watch JOB [--json]\n"
                 "  follows a job to its end: a progress bar on stderr, metrics as they\n"
                 "  arrive, the final state on stdout; reconnects (Last-Event-ID) when the\n"
                 "  stream drops; exit status 4 when the job failed or was cancelled",
        .min_pos = 1,
        .max_pos = 1};
    const char *job;
    mf_exit code = mf_cmd_parse_id(argc, argv, first, opts, sizeof opts / sizeof opts[0], &spec,
                                   "job id", &job);
    return job == NULL ? code : mf_watch_job(c, job, json);
}
