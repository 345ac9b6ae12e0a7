/* SPDX-License-Identifier: MIT */
/*
 * http_guard.c - what a request must show before any route sees it, against
 * attacks carried by a browser: DNS rebinding (a Host the daemon does not
 * answer to), cross-site requests that change state (a foreign Origin on a
 * POST or DELETE), and control characters smuggled into the path as %XX.
 *
 * Why each check:
 * - A page at http://evil.example whose name an attacker re-points to
 *   127.0.0.1 reaches a loopback daemon with the browser's blessing; its
 *   requests say "Host: evil.example".  Only names on the allow-list are
 *   answered (default: the listen address, localhost, 127.0.0.1, [::1]).
 *   Probes (/healthz, /readyz) are exempt: a Kubernetes kubelet sends the
 *   pod's IP, which no configuration knows in advance, and they reveal nothing.
 * - A cross-site "simple" POST (text/plain, a form) needs no CORS preflight,
 *   so the browser sends it and only hides the answer.  Routes require their
 *   media type (http.c's mf_http_content_type_is), and every POST or DELETE
 *   whose Origin is neither the daemon's own nor on the CORS allow-list is
 *   refused before it runs.  Browsers send Origin on every cross-origin POST.
 * - libmicrohttpd decodes %XX in the path before the handler sees it; %00
 *   would end the C string early (GET /v1/models/m%00x read as /v1/models/m)
 *   and other control characters would reach logs.  The decoder below leaves
 *   such escapes as they are, so the path keeps its '%', which no id matches.
 */
#include "http_guard.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* true when [s, s+n) equals the NUL-terminated word w, case-insensitively (host names) */
static bool span_is(const char *s, size_t n, const char *w)
{
    return strlen(w) == n && strncasecmp(s, w, n) == 0;
}

/* The host part of a Host value: "name:port" -> "name", "[::1]:80" -> "[::1]". */
static size_t host_part(const char *host)
{
    if (host[0] == '[') {
        const char *e = strchr(host, ']');
        return e != NULL ? (size_t) (e - host) + 1 : strlen(host);
    }
    const char *colon = strchr(host, ':');
    return colon != NULL ? (size_t) (colon - host) : strlen(host);
}

/* true when the comma-separated list holds the span (or "*"). */
static bool list_has(const char *list, const char *s, size_t n)
{
    for (const char *p = list; p != NULL && *p != '\0';) {
        const char *e = strchr(p, ',');
        size_t len = e != NULL ? (size_t) (e - p) : strlen(p);
        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) {
            len--;
        }
        if ((len == 1 && p[0] == '*') || (len == n && strncasecmp(p, s, n) == 0)) {
            return true;
        }
        if (e == NULL) {
            break;
        }
        p = e + 1;
    }
    return false;
}

bool mf_guard_host_ok(const char *host, const char *listen_host, const char *allowed)
{
    if (host == NULL) {
        /* HTTP/1.0 without Host: no browser sends that, so no rebinding rides on it */
        return true;
    }
    size_t n = host_part(host);
    if (n == 0) {
        return false;
    }
    if (span_is(host, n, "localhost") || span_is(host, n, "127.0.0.1") ||
        span_is(host, n, "[::1]")) {
        return true;
    }
    /* "0.0.0.0" is no name a client uses: listening on every address, the
     * operator lists the public names with --allowed-hosts */
    if (listen_host != NULL && strcmp(listen_host, "0.0.0.0") != 0 &&
        span_is(host, n, listen_host)) {
        return true;
    }
    return list_has(allowed, host, n);
}

bool mf_guard_origin_ok(const char *origin, const char *host, const char *cors)
{
    if (origin == NULL) {
        return true; /* not a browser's cross-origin request (curl, the CLI, services) */
    }
    if (list_has(cors, origin, strlen(origin))) {
        return true;
    }
    /* same origin: the page the daemon serves, http(s)://<Host> */
    const char *rest = NULL;
    if (strncasecmp(origin, "http://", 7) == 0) {
        rest = origin + 7;
    } else if (strncasecmp(origin, "https://", 8) == 0) {
        rest = origin + 8;
    }
    return rest != NULL && host != NULL && strcasecmp(rest, host) == 0;
}

/* The value of hex digit c, or -1. */
static int hex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* The byte of the escape %XX at p, or -1 when p holds none. */
static int escape_at(const char *p)
{
    int hi = p[0] == '%' ? hex(p[1]) : -1;
    int lo = hi >= 0 ? hex(p[2]) : -1;
    return hi >= 0 && lo >= 0 ? hi * 16 + lo : -1;
}

bool mf_guard_control_escape(const char *s)
{
    int c = escape_at(s);
    return (c >= 0 && c < 0x20) || c == 0x7f;
}

size_t mf_guard_unescape(char *s)
{
    char *w = s;
    for (const char *p = s; *p != '\0';) {
        int c = escape_at(p);
        if (c >= 0x20 && c != 0x7f) {
            *w++ = (char) c;
            p += 3;
        } else {
            /* a plain byte, a malformed escape, or a control character kept escaped */
            *w++ = *p++;
        }
    }
    *w = '\0';
    return (size_t) (w - s);
}
