/* SPDX-License-Identifier: MIT */
/*
 * http_conn.c - connections as such: how long one may take to send its
 * headers, how a refused body is read before the answer, how libmicrohttpd's
 * messages reach the log, the open-files limit, and the health listener.
 *
 * Timeouts.  libmicrohttpd 0.9.75 keeps one inactivity timeout per
 * connection: the connection is closed when no byte has gone either way for
 * that long, and its clock stands still while the connection is suspended
 * (it restarts on resume).  The daemon sets it once, for every connection,
 * to --body-timeout: once a request's headers are in, a client that stops
 * sending its body, or stops reading our answer, is dropped after that long.
 * An event stream is suspended whenever it has nothing to send and resumed
 * to send an event or a heartbeat, so it never goes inactive in that sense
 * and is never timed out while its client reads, however quiet its job; a
 * client that stops reading it is dropped like any other.  The same holds
 * for a request waiting on a sampling call (suspended).
 *
 * The headers get a deadline instead (--header-timeout, shorter than the
 * body timeout, so it is what closes a connection before its headers): from
 * the accept, or from the end of the previous response on a keep-alive
 * connection, to the moment MHD hands us the whole headers.  The inactivity
 * timeout could not do it, even set short at the start and raised per
 * connection (MHD_set_connection_option) once the headers are in: a client
 * that sends one header byte every few seconds never goes inactive, and
 * holds its slot for as long as MHD's header buffer lasts.  So a guard
 * tracks every connection (MHD_OPTION_NOTIFY_CONNECTION) and, a few times
 * per header timeout, shuts down the socket of each one past its deadline;
 * MHD then reads end of file and closes it, freeing the slot.  The shutdown
 * happens under the guard's lock, and MHD closes a socket only after the
 * CLOSED notification, which takes that lock, so the guard never touches a
 * descriptor number that was reused by another connection.
 *
 * The per-address cap is MHD's own (MHD_OPTION_PER_IP_CONNECTION_LIMIT,
 * counted across the pool's threads): a connection over it is closed as it
 * is accepted.  At the total limit MHD stops accepting, so new connections
 * wait in the kernel's listen queue until the deadline or a finished
 * request frees a slot.
 */
#include "http_conn.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "routes.h"

/* ---- the header deadline ---------------------------------------------------------- */

typedef struct conn_rec conn_rec;

struct conn_rec {
    conn_rec *prev, *next;
    int fd;
    double deadline; /* monotonic s by which the headers must be in; 0: they are */
};

/*
 * A kind of MHD message (its format string), when it was last logged, and how
 * many of it were dropped since.  A slot is taken over when its message has
 * been quiet for LOG_QUIET_S.
 */
#define LOG_KINDS   8
#define LOG_QUIET_S 10.0

typedef struct log_kind {
    const char *fmt;
    double t;
    unsigned long dropped;
} log_kind;

struct mf_conns {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    bool stop;
    double header_s;
    conn_rec *head;
    log_kind kinds[LOG_KINDS]; /* mf_http_mhd_log's repeat filter */
};

/* Shuts down the sockets past their deadline; returns how many. */
static unsigned sweep(mf_conns *g)
{
    unsigned cut = 0;
    double now = mf_mono_s();
    pthread_mutex_lock(&g->lock);
    for (conn_rec *c = g->head; c != NULL; c = c->next) {
        if (c->deadline > 0 && now > c->deadline) {
            c->deadline = 0; /* once: MHD closes it at its next read */
            (void) shutdown(c->fd, SHUT_RDWR);
            cut++;
        }
    }
    pthread_mutex_unlock(&g->lock);
    return cut;
}

static void *guard_main(void *arg)
{
    mf_conns *g = arg;
    /* A deadline is kept within a quarter of the timeout (at most 1 s late). */
    double period = g->header_s / 4 < 1 ? g->header_s / 4 : 1;
    pthread_mutex_lock(&g->lock);
    while (!g->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double t = (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec + period;
        ts.tv_sec = (time_t) t;
        ts.tv_nsec = (long) (1e9 * (t - (double) ts.tv_sec));
        pthread_cond_timedwait(&g->wake, &g->lock, &ts);
        if (g->stop) {
            break;
        }
        pthread_mutex_unlock(&g->lock);
        unsigned cut = sweep(g);
        if (cut > 0) {
            mf_log(MF_LOG_DEBUG, NULL, NULL,
                   "closed %u connection(s) past the %.1f s header timeout", cut, g->header_s);
        }
        pthread_mutex_lock(&g->lock);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

mf_err mf_conns_new(double header_s, mf_conns **ret)
{
    mf_conns *g = calloc(1, sizeof *g);
    if (g == NULL) {
        return MF_ENOMEM;
    }
    g->header_s = header_s;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&g->lock, NULL);
    if (pthread_create(&g->thread, NULL, guard_main, g) != 0) {
        pthread_cond_destroy(&g->wake);
        pthread_mutex_destroy(&g->lock);
        free(g);
        return MF_EIO;
    }
    *ret = g;
    return MF_OK;
}

void mf_conns_free(mf_conns *g)
{
    if (g == NULL) {
        return;
    }
    pthread_mutex_lock(&g->lock);
    g->stop = true;
    pthread_cond_signal(&g->wake);
    pthread_mutex_unlock(&g->lock);
    pthread_join(g->thread, NULL);
    /* MHD_stop_daemon closed every connection: the list is empty */
    pthread_cond_destroy(&g->wake);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

void mf_conns_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                     enum MHD_ConnectionNotificationCode code)
{
    mf_conns *g = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        conn_rec *c = ci != NULL ? calloc(1, sizeof *c) : NULL;
        if (c == NULL) {
            return; /* untracked: the inactivity timeout still applies */
        }
        c->fd = ci->connect_fd;
        c->deadline = mf_mono_s() + g->header_s;
        pthread_mutex_lock(&g->lock);
        c->next = g->head;
        if (g->head != NULL) {
            g->head->prev = c;
        }
        g->head = c;
        pthread_mutex_unlock(&g->lock);
        *socket_context = c;
        return;
    }
    conn_rec *c = *socket_context;
    if (c == NULL) {
        return;
    }
    pthread_mutex_lock(&g->lock);
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        g->head = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    pthread_mutex_unlock(&g->lock);
    free(c);
    *socket_context = NULL;
}

static void set_deadline(mf_conns *g, struct MHD_Connection *conn, double deadline)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn_rec *c = ci != NULL ? ci->socket_context : NULL;
    if (c != NULL) {
        pthread_mutex_lock(&g->lock);
        c->deadline = deadline;
        pthread_mutex_unlock(&g->lock);
    }
}

void mf_conns_headers_in(mf_conns *g, struct MHD_Connection *conn)
{
    set_deadline(g, conn, 0);
}

void mf_conns_request_done(mf_conns *g, struct MHD_Connection *conn)
{
    set_deadline(g, conn, mf_mono_s() + g->header_s);
}

/* ---- refused bodies ----------------------------------------------------------------- */

/*
 * A client that sends its whole body before it reads the answer (most
 * libraries without Expect: 100-continue, Python's http.client among them)
 * sees a reset instead of our 413 when we close with its bytes unread: the
 * kernel answers unread data at close with RST, which may overtake the 413.
 * So, as nginx's lingering close does, the body is read and dropped, up to
 * the route's limit plus DRAIN_BYTES and for at most DRAIN_S seconds from the
 * refusal (nginx's lingering_time), then answered with Connection: close.
 * MHD lets a response be queued only before the body or after all of it, so
 * past those bounds the connection is closed without an answer: a client
 * that sends that much past the limit is not waited for.
 */
#define DRAIN_BYTES ((size_t) 4 << 20)
#define DRAIN_S     30.0

bool mf_http_refuse_unread(req *r, unsigned long long declared)
{
    const char *expect = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Expect");
    bool waits = expect != NULL && strcasecmp(expect, "100-continue") == 0;
    return waits || declared > r->limit + DRAIN_BYTES;
}

bool mf_http_drain(req *r, size_t n)
{
    if (r->refused_at == 0) {
        /* the first byte past the limit, or of a body declared over it */
        r->too_big = true;
        r->refused_at = mf_mono_s();
        r->drained = r->len;
        free(r->body); /* what was kept is of no use now */
        r->body = NULL;
        r->len = r->cap = 0;
    }
    r->drained += n;
    if (r->drained > r->limit + DRAIN_BYTES || mf_mono_s() - r->refused_at > DRAIN_S) {
        mf_log(MF_LOG_DEBUG, r->id, NULL, "%s %s: closed after %zu bytes of a refused body",
               r->method, r->path, r->drained);
        return false;
    }
    return true;
}

unsigned mf_http_whole_s(double s)
{
    unsigned w = (unsigned) s;
    return w < s || w == 0 ? w + 1 : w;
}

/* ---- libmicrohttpd's messages --------------------------------------------------------- */

void mf_http_mhd_log(void *cls, const char *fmt, va_list ap)
{
    mf_conns *g = cls;
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) {
        msg[--n] = '\0';
    }
    /*
     * MHD writes a line per refused or broken connection; a flood of them must
     * not flood the log too: a kind of message is logged at most once per
     * LOG_QUIET_S, with the count of those dropped in between.
     */
    double now = mf_mono_s();
    log_kind *k = NULL, *oldest = &g->kinds[0];
    pthread_mutex_lock(&g->lock);
    for (size_t i = 0; i < LOG_KINDS && k == NULL; i++) {
        k = g->kinds[i].fmt == fmt ? &g->kinds[i] : NULL;
        oldest = g->kinds[i].t < oldest->t ? &g->kinds[i] : oldest;
    }
    if (k == NULL && now - oldest->t >= LOG_QUIET_S) {
        k = oldest; /* a new kind takes a quiet slot; none quiet: logged untracked */
        *k = (log_kind){.fmt = fmt, .t = -LOG_QUIET_S};
    }
    if (k != NULL && now - k->t < LOG_QUIET_S) {
        k->dropped++;
        pthread_mutex_unlock(&g->lock);
        return;
    }
    unsigned long dropped = 0;
    if (k != NULL) {
        dropped = k->dropped;
        k->dropped = 0;
        k->t = now;
    }
    pthread_mutex_unlock(&g->lock);
    if (dropped > 0) {
        mf_log(MF_LOG_WARN, NULL, NULL, "libmicrohttpd: %s (and %lu more like it since the last)",
               msg, dropped);
    } else {
        mf_log(MF_LOG_WARN, NULL, NULL, "libmicrohttpd: %s", msg);
    }
}

/* ---- open files ------------------------------------------------------------------------- */

/* Descriptors besides the connections: listeners, epoll sets, the store, model files. */
#define FD_RESERVE 64

void mf_http_raise_nofile(size_t connections)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return;
    }
    rlim_t was = rl.rlim_cur;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            rl.rlim_cur = was;
        }
    }
    mf_log(MF_LOG_INFO, NULL, NULL, "open files limit %llu (was %llu)",
           (unsigned long long) rl.rlim_cur, (unsigned long long) was);
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < connections + FD_RESERVE) {
        mf_log(MF_LOG_WARN, NULL, NULL,
               "the open files limit %llu is below --max-connections %zu + %d: connections "
               "past it wait in the listen queue",
               (unsigned long long) rl.rlim_cur, connections, FD_RESERVE);
    }
}

/* ---- the health listener ----------------------------------------------------------------- */

/*
 * /healthz must answer when the main pool is full, and no slot of that pool
 * can be kept for probes: MHD counts a connection when it accepts it, before
 * a byte of the request line is read, so it cannot tell a probe from the
 * idle connections that fill the pool.  The probes get a listener of their
 * own instead (--health-listen), a second MHD daemon with one thread and a
 * small pool, meant for the orchestrator's network only.  It answers on the
 * first callback (no body is read) and closes: probes open a connection per
 * probe.  Its inactivity timeout is the header timeout.
 */
#define HEALTH_CONNECTIONS 32

static enum MHD_Result health_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                     const char *method, const char *version,
                                     const char *upload_data, size_t *upload_data_size,
                                     void **con_cls)
{
    (void) version;
    (void) upload_data;
    (void) upload_data_size;
    (void) con_cls;
    mf_server *s = cls;
    req r;
    memset(&r, 0, sizeof r);
    r.srv = s;
    r.conn = conn;
    r.method = method;
    snprintf(r.path, sizeof r.path, "%s", url);
    unsigned long long k = atomic_fetch_add(&s->req_counter, 1);
    snprintf(r.id, sizeof r.id, "health-%llx-%llx", (unsigned long long) time(NULL), k);
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (get && strcmp(url, "/healthz") == 0) {
        return mf_route_healthz(&r);
    }
    if (get && strcmp(url, "/readyz") == 0) {
        return mf_route_readyz(&r);
    }
    return mf_http_error(&r, "not_found", NULL, "this port answers GET /healthz and /readyz only");
}

mf_err mf_health_start(mf_server *s, uint16_t *bound)
{
    const mf_http_cfg *cfg = &s->cfg;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(cfg->health_port)};
    if (inet_pton(AF_INET, cfg->health_host, &addr.sin_addr) != 1) {
        mf_log(MF_LOG_ERROR, NULL, NULL, "bad health listen address %s (an IPv4 address is needed)",
               cfg->health_host);
        return MF_EINVAL;
    }
    unsigned timeout = mf_http_whole_s(cfg->header_timeout_s);
    s->health = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, cfg->health_port, NULL,
        NULL, health_handle, s, MHD_OPTION_EXTERNAL_LOGGER, mf_http_mhd_log, s->conns,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned) HEALTH_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT, timeout, MHD_OPTION_END);
    if (s->health == NULL) {
        mf_log(MF_LOG_ERROR, NULL, NULL, "cannot listen on %s:%u (health)", cfg->health_host,
               cfg->health_port);
        return MF_EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->health, MHD_DAEMON_INFO_BIND_PORT);
    *bound = info != NULL ? info->port : cfg->health_port;
    return MF_OK;
}
