/* SPDX-License-Identifier: MIT */
/*
 * store_pg_watch.c - the notes between replicas sharing one PostgreSQL job
 * store: LISTEN/NOTIFY (store.h: mf_store_watch, mf_store_announce_model).
 *
 * Why: a replica streaming a job that another replica runs learns of new
 * events only when it reads the store; without a note it would read on its
 * heartbeat tick (15 s), and a model uploaded elsewhere would be seen on the
 * next rescan of the model folder.  With a note, both take one round trip.
 *
 * Sending: every event row is inserted with RETURNING pg_notify(channel,
 * 'e' || job id) (mf__pg_put_event), and a model change is NOTIFY 'm' || id in
 * a transaction of its own.  PostgreSQL delivers a notification when its
 * transaction commits and drops it on rollback, so a replica woken by one
 * always finds the change it announces.
 *
 * Receiving: one thread with a connection of its own (the store's connection
 * runs operations under the store's mutex; LISTEN needs one that waits on its
 * socket).  It polls that socket and a pipe (how close stops it), reads the
 * notifications and calls the watcher's function.  When the connection is
 * lost (the server restarted) it connects again with a back-off of 0.1 s
 * doubling to 2 s, and after each (re)connection calls the function once with
 * MF_NOTE_RESYNC: what was sent meanwhile is lost, so the watcher looks again
 * at everything.  Its own notes come back to it too (harmless: a stream woken
 * for nothing reads no new event and waits again).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_pg_int.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define POLL_MS        1000 /* a wait on the socket ends this often (a lost socket is seen) */

struct mf__pg_watch {
    pthread_t thread;
    int stop_pipe[2]; /* close writes one byte to [1] */
    mf_store_watch_fn fn;
    void *ctx;
    char **keys, **vals; /* the store connection's settings (password included) */
    PGconn *conn;        /* the watch thread's */
};

static void free_settings(mf__pg_watch *w)
{
    for (size_t i = 0; w->keys != NULL && w->keys[i] != NULL; i++) {
        free(w->keys[i]);
        free(w->vals[i]);
    }
    free(w->keys);
    free(w->vals);
}

/* The settings of conn (host, port, user, password, ...) as NULL-ended key and value arrays. */
static mf_err copy_settings(mf__pg_watch *w, PGconn *conn)
{
    PQconninfoOption *opts = PQconninfo(conn);
    if (opts == NULL) {
        return MF_ENOMEM;
    }
    size_t n = 0;
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        n += o->val != NULL;
    }
    w->keys = calloc(n + 1, sizeof *w->keys);
    w->vals = calloc(n + 1, sizeof *w->vals);
    mf_err err = w->keys != NULL && w->vals != NULL ? MF_OK : MF_ENOMEM;
    size_t k = 0;
    for (PQconninfoOption *o = opts; err == MF_OK && o->keyword != NULL; o++) {
        if (o->val == NULL) {
            continue;
        }
        w->keys[k] = strdup(o->keyword);
        w->vals[k] = strdup(o->val);
        err = w->keys[k] != NULL && w->vals[k] != NULL ? MF_OK : MF_ENOMEM;
        if (w->keys[k] == NULL || w->vals[k] == NULL) {
            free(w->keys[k]);
            free(w->vals[k]);
            w->keys[k] = w->vals[k] = NULL;
        }
        k++;
    }
    PQconninfoFree(opts);
    return err;
}

static void quiet_notices(void *arg, const char *message)
{
    (void) arg;
    (void) message;
}

/* Waits up to ms for the stop byte: true when it came. */
static bool wait_stop(mf__pg_watch *w, int ms)
{
    struct pollfd p = {.fd = w->stop_pipe[0], .events = POLLIN};
    int rc;
    while ((rc = poll(&p, 1, ms)) < 0 && errno == EINTR) {
    }
    return rc > 0;
}

/* A new connection that listens: MF_OK, or MF_EIO with w->conn NULL. */
static mf_err listen_again(mf__pg_watch *w)
{
    PQfinish(w->conn);
    w->conn = PQconnectdbParams((const char *const *) w->keys, (const char *const *) w->vals, 0);
    if (w->conn != NULL && PQstatus(w->conn) == CONNECTION_OK) {
        /* "terminating connection due to administrator command" and the like: not ours to
         * print (the loss is seen and handled below) */
        PQsetNoticeProcessor(w->conn, quiet_notices, NULL);
        PGresult *res = PQexec(w->conn, "LISTEN " MF__PG_CHANNEL);
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        if (ok) {
            return MF_OK;
        }
    }
    PQfinish(w->conn);
    w->conn = NULL;
    return MF_EIO;
}

/* One notification's payload to the watcher: 'e' or 'm', then an id. */
static void deliver(mf__pg_watch *w, const char *payload)
{
    size_t len = strlen(payload);
    if (len < 2 || len > MF_ID_MAX + 1) {
        return; /* not one of ours */
    }
    if (payload[0] == 'e') {
        w->fn(w->ctx, MF_NOTE_EVENT, payload + 1);
    } else if (payload[0] == 'm') {
        w->fn(w->ctx, MF_NOTE_MODEL, payload + 1);
    }
}

static void *watch_main(void *arg)
{
    mf__pg_watch *w = arg;
    int backoff_ms = 0;
    for (;;) {
        if (w->conn == NULL) {
            if (backoff_ms > 0 && wait_stop(w, backoff_ms)) {
                break;
            }
            if (listen_again(w) != MF_OK) {
                backoff_ms = backoff_ms == 0 ? BACKOFF_MIN_MS : backoff_ms * 2;
                backoff_ms = backoff_ms < BACKOFF_MAX_MS ? backoff_ms : BACKOFF_MAX_MS;
                continue;
            }
            backoff_ms = 0;
            w->fn(w->ctx, MF_NOTE_RESYNC, ""); /* notes sent while away are lost */
        }
        /* libpq may hold notes it read with an earlier result (LISTEN's): deliver them
         * before waiting on the socket, which has nothing more to say about them */
        PGnotify *n;
        while ((n = PQnotifies(w->conn)) != NULL) {
            deliver(w, n->extra);
            PQfreemem(n);
        }
        struct pollfd p[2] = {{.fd = w->stop_pipe[0], .events = POLLIN},
                              {.fd = PQsocket(w->conn), .events = POLLIN}};
        int rc = poll(p, 2, POLL_MS);
        if (rc < 0 && errno != EINTR) {
            break;
        }
        if (p[0].revents != 0) {
            break;
        }
        if (rc > 0 && (!PQconsumeInput(w->conn) || PQstatus(w->conn) != CONNECTION_OK)) {
            PQfinish(w->conn); /* the server went away: connect again, then resync */
            w->conn = NULL;
            backoff_ms = BACKOFF_MIN_MS;
            continue;
        }
        while ((n = PQnotifies(w->conn)) != NULL) {
            deliver(w, n->extra);
            PQfreemem(n);
        }
    }
    return NULL;
}

mf_err mf__pg_watch_start(void *bp, mf_store_watch_fn fn, void *ctx)
{
    mf__pg_store *b = bp;
    if (b->watch != NULL) {
        return MF_EBUSY;
    }
    mf__pg_watch *w = calloc(1, sizeof *w);
    if (w == NULL) {
        return MF_ENOMEM;
    }
    w->fn = fn;
    w->ctx = ctx;
    w->stop_pipe[0] = w->stop_pipe[1] = -1;
    pthread_mutex_lock(&b->mu);
    mf_err err = copy_settings(w, b->conn);
    pthread_mutex_unlock(&b->mu);
    if (err == MF_OK && pipe(w->stop_pipe) != 0) {
        err = MF_ENOMEM;
    }
    /* the first LISTEN here, so that a note sent once this returns is not missed */
    if (err == MF_OK && listen_again(w) != MF_OK) {
        w->conn = NULL; /* the thread keeps trying */
    }
    if (err == MF_OK && pthread_create(&w->thread, NULL, watch_main, w) != 0) {
        err = MF_ENOMEM;
    }
    if (err != MF_OK) {
        PQfinish(w->conn);
        for (int i = 0; i < 2; i++) {
            if (w->stop_pipe[i] >= 0) {
                close(w->stop_pipe[i]);
            }
        }
        free_settings(w);
        free(w);
        return err;
    }
    b->watch = w;
    return MF_OK;
}

void mf__pg_watch_stop(void *bp)
{
    mf__pg_store *b = bp;
    mf__pg_watch *w = b->watch;
    if (w == NULL) {
        return;
    }
    ssize_t wr;
    while ((wr = write(w->stop_pipe[1], "x", 1)) < 0 && errno == EINTR) {
    }
    pthread_join(w->thread, NULL);
    PQfinish(w->conn);
    close(w->stop_pipe[0]);
    close(w->stop_pipe[1]);
    free_settings(w);
    free(w);
    b->watch = NULL;
}

mf_err mf__pg_announce_model(void *bp, const char *id)
{
    mf__pg_store *b = bp;
    mf_err err = mf__pg_begin(b, false);
    if (err == MF_OK) {
        const char *p[] = {id};
        err = mf__pg_exec(b, "SELECT pg_notify('" MF__PG_CHANNEL "', 'm' || $1)", 1, p, NULL);
    }
    return mf__pg_end(b, err);
}
