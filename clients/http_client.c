/* SPDX-License-Identifier: MIT */
/*
 * http_client.c - libcurl behind mf_http_call (see http_client.h).
 *
 * Each call uses a fresh easy handle: the client makes a handful of requests
 * per run, so connection reuse buys nothing, and a fresh handle cannot carry
 * an option over from the previous request (a stream's missing total timeout,
 * a DELETE verb).  Redirects are not followed: the API answers none, and a
 * load balancer's redirect is better reported than silently obeyed.
 */
#include "http_client.h"

#include <curl/curl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CONNECT_S 10.0
#define USER_AGENT    "manifold/" MF_CLIENT_VERSION

struct mf_http {
    char *base;
    char *token; /* API key sent as a bearer token, or NULL */
    double timeout_s;
    char errbuf[CURL_ERROR_SIZE];
};

/* One transfer's state, shared with the write callback. */
typedef struct xfer {
    CURL *curl;
    const mf_http_req *q;
    mf_http_resp *r;
    size_t cap;    /* allocated bytes of r->body */
    bool overflow; /* the body passed q->max_bytes */
    bool oom;
} xfer;

mf_err mf_http_new(const char *base_url, double timeout_s, mf_http **ret)
{
    if (base_url == NULL || base_url[0] == '\0' || !(timeout_s > 0) || !isfinite(timeout_s)) {
        return MF_EINVAL;
    }
    mf_http *h = calloc(1, sizeof *h);
    if (h == NULL) {
        return MF_ENOMEM;
    }
    h->base = strdup(base_url);
    if (h->base == NULL) {
        free(h);
        return MF_ENOMEM;
    }
    size_t n = strlen(h->base);
    while (n > 0 && h->base[n - 1] == '/') {
        h->base[--n] = '\0';
    }
    h->timeout_s = timeout_s;
    *ret = h;
    return MF_OK;
}

void mf_http_free(mf_http *h)
{
    if (h != NULL) {
        free(h->base);
        free(h->token);
        free(h);
    }
}

mf_err mf_http_set_token(mf_http *h, const char *token)
{
    free(h->token);
    h->token = NULL;
    if (token != NULL && token[0] != '\0' && (h->token = strdup(token)) == NULL) {
        return MF_ENOMEM;
    }
    return MF_OK;
}

const char *mf_http_base(const mf_http *h)
{
    return h->base;
}

const char *mf_http_errmsg(const mf_http *h)
{
    return h->errbuf;
}

void mf_http_resp_done(mf_http_resp *r)
{
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

char *mf_http_escape(const char *s)
{
    /* Since curl 7.82 the handle argument is unused. */
    char *e = curl_easy_escape(NULL, s, 0);
    if (e == NULL) {
        return NULL;
    }
    char *out = strdup(e);
    curl_free(e);
    return out;
}

/* Buffers n more body bytes, within the cap. */
static bool buffer(xfer *x, const char *p, size_t n)
{
    mf_http_resp *r = x->r;
    if (n > x->q->max_bytes || r->len > x->q->max_bytes - n) {
        x->overflow = true;
        return false;
    }
    if (r->len + n + 1 > x->cap) {
        size_t cap = x->cap == 0 ? 4096 : x->cap;
        while (cap < r->len + n + 1) {
            cap *= 2;
        }
        char *b = realloc(r->body, cap);
        if (b == NULL) {
            x->oom = true;
            return false;
        }
        r->body = b;
        x->cap = cap;
    }
    memcpy(r->body + r->len, p, n);
    r->len += n;
    r->body[r->len] = '\0';
    return true;
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    long status = 0;
    (void) curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
    x->r->status = status;
    if (x->q->sink != NULL && status >= 200 && status < 300) {
        mf_err err = x->q->sink(p, n, x->q->sink_ctx);
        if (err != MF_OK) {
            x->r->sink_err = err;
            return 0; /* curl stops with CURLE_WRITE_ERROR */
        }
        return n;
    }
    return buffer(x, p, n) ? n : 0;
}

/* Appends "Name: value" to the list; false when out of memory. */
static bool add_header(struct curl_slist **list, const char *name, const char *value)
{
    if (value == NULL) {
        return true;
    }
    char line[512];
    int len = snprintf(line, sizeof line, "%s: %s", name, value);
    if (len < 0 || (size_t) len >= sizeof line) {
        return false;
    }
    struct curl_slist *l = curl_slist_append(*list, line);
    if (l == NULL) {
        return false;
    }
    *list = l;
    return true;
}

static char *make_url(const mf_http *h, const char *path)
{
    size_t n = strlen(h->base) + strlen(path) + 1;
    char *url = malloc(n);
    if (url != NULL) {
        snprintf(url, n, "%s%s", h->base, path);
    }
    return url;
}

/* Sets the options of one transfer; false when curl refused one (out of memory). */
static bool set_options(CURL *c, mf_http *h, const mf_http_req *q, const char *url,
                        struct curl_slist *headers, xfer *x)
{
    long timeout_ms = (long) ceil(h->timeout_s * 1000.0);
    long connect_ms = (long) ceil(fmin(h->timeout_s, MAX_CONNECT_S) * 1000.0);
    CURLcode e = CURLE_OK;
    e |= curl_easy_setopt(c, CURLOPT_URL, url);
    e |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
    e |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    e |= curl_easy_setopt(c, CURLOPT_USERAGENT, USER_AGENT);
    if (h->token != NULL) {
        /* libcurl sends "Authorization: Bearer <token>" and keeps it out of its verbose log */
        e |= curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
        e |= curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, h->token);
    }
#if LIBCURL_VERSION_NUM >= 0x075500
    e |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    e |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    if (q->stream) {
        /* At least a byte per timeout_s: heartbeats keep a healthy stream above it. */
        e |= curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        e |= curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (timeout_ms + 999) / 1000);
    } else {
        e |= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    }
    e |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    e |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    e |= curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    if (strcmp(q->method, "POST") == 0) {
        e |= curl_easy_setopt(c, CURLOPT_POST, 1L);
        e |= curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) q->body_len);
        e |= curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body != NULL ? q->body : "");
    } else if (strcmp(q->method, "GET") != 0) {
        e |= curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
    }
    return e == CURLE_OK;
}

mf_err mf_http_call(mf_http *h, const mf_http_req *q, mf_http_resp *ret)
{
    memset(ret, 0, sizeof *ret);
    h->errbuf[0] = '\0';
    xfer x = {.q = q, .r = ret};
    struct curl_slist *headers = NULL;
    char *url = make_url(h, q->path);
    x.curl = curl_easy_init();
    mf_err err = MF_ENOMEM;
    if (url == NULL || x.curl == NULL || !add_header(&headers, "Accept", q->accept) ||
        !add_header(&headers, "Content-Type", q->content_type) ||
        !add_header(&headers, "Last-Event-ID", q->last_event_id) ||
        !set_options(x.curl, h, q, url, headers, &x)) {
        goto done;
    }
    CURLcode rc = curl_easy_perform(x.curl);
    long status = 0;
    (void) curl_easy_getinfo(x.curl, CURLINFO_RESPONSE_CODE, &status);
    ret->status = status;
    if (rc == CURLE_OK) {
        err = MF_OK;
    } else if (x.overflow) {
        err = MF_ERANGE;
    } else if (x.oom) {
        err = MF_ENOMEM;
    } else if (ret->sink_err != MF_OK) {
        err = MF_ECANCELED;
    } else {
        if (h->errbuf[0] == '\0') {
            snprintf(h->errbuf, sizeof h->errbuf, "%s", curl_easy_strerror(rc));
        }
        err = MF_EIO;
    }
done:
    curl_easy_cleanup(x.curl);
    curl_slist_free_all(headers);
    free(url);
    return err;
}
