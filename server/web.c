/* SPDX-License-Identifier: MIT */
/*
 * web.c - the web page: GET / (index.html) and GET /web/... (its style sheet,
 * scripts and icon), from the files compiled into the daemon (web_assets.h),
 * or, with --web-dir (development), from a folder.
 *
 * What keeps this safe:
 * - a file's path comes from the route table's patterns (/web/{id},
 *   /web/js/{id}, /web/js/views/{id}), whose {id} is a valid id
 *   ([a-z0-9][a-z0-9._-]{0,63}: no '/', never starting with '.'), so a
 *   request can never name anything outside the page's folders;
 * - embedded, only the table's files exist; from a folder, only files with a
 *   known extension are read;
 * - every answer says Content-Security-Policy (scripts, styles and requests
 *   to this origin only, no inline script, no framing), nosniff and no
 *   referrer.
 *
 * Caching: an embedded file carries a strong ETag (its SHA-256) and
 * Cache-Control: no-cache, so a browser asks each time and gets 304 Not
 * Modified while the daemon's build is the same.  Files from a folder are
 * no-store: an edit shows on the next reload.
 *
 * The routes need no API key (the page holds no data; the API calls it makes
 * ask for one).  The Host check of every request still applies.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_req.h"
#include "routes.h"
#include "web_assets.h"

/* The policy of every page response: nothing but this origin, no inline script. */
static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' blob:; connect-src 'self'; object-src 'none'; "
                          "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/* A page file larger than this is not served from a folder. */
#define WEB_FILE_MAX (4u << 20)

static const mf_web_file *embedded(const char *rel)
{
    size_t lo = 0, hi = mf_web_files_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(rel, mf_web_files[mid].path);
        if (c == 0) {
            return &mf_web_files[mid];
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return NULL;
}

/* The Content-Type of a file by its extension (as embed_files.py gives it), or NULL. */
static const char *type_of(const char *rel)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".json", "application/json; charset=utf-8"},
    };

    const char *dot = strrchr(rel, '.');
    for (size_t i = 0; dot != NULL && i < sizeof types / sizeof types[0]; i++) {
        if (strcmp(dot, types[i].ext) == 0) {
            return types[i].type;
        }
    }
    return NULL;
}

/* true when an If-None-Match value names etag ("*", or a list; weak or strong alike). */
static bool etag_matches(const char *inm, const char *etag)
{
    size_t n = strlen(etag);
    for (const char *p = inm; *p != '\0';) {
        p += strspn(p, " \t,");
        if (*p == '*') {
            return true;
        }
        if (strncmp(p, "W/", 2) == 0) {
            p += 2;
        }
        size_t len = strcspn(p, ",");
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) {
            len--;
        }
        if (len == n && strncmp(p, etag, n) == 0) {
            return true;
        }
        p += strcspn(p, ",");
    }
    return false;
}

/* Adds the headers of every page answer and queues it. */
static enum MHD_Result queue_page(req *r, unsigned status, struct MHD_Response *resp,
                                  const char *etag, bool cached)
{
    if (resp == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Security-Policy", csp);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Cache-Control", cached ? "no-cache" : "no-store");
    if (etag != NULL) {
        MHD_add_response_header(resp, "ETag", etag);
    }
    return mf_http_queue(r, status, resp);
}

/* The whole of a regular file of at most WEB_FILE_MAX bytes (malloc'd), or NULL. */
static unsigned char *read_file(const char *path, size_t *ret_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return NULL;
    }
    struct stat st;
    unsigned char *buf = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= (off_t) WEB_FILE_MAX) {
        size_t want = (size_t) st.st_size, got = 0;
        buf = malloc(want > 0 ? want : 1);
        while (buf != NULL && got < want) {
            ssize_t k = read(fd, buf + got, want - got);
            if (k <= 0) {
                free(buf);
                buf = NULL;
                break;
            }
            got += (size_t) k;
        }
        *ret_len = got;
    }
    close(fd);
    return buf;
}

static enum MHD_Result not_found(req *r)
{
    return mf_http_error(r, "not_found", NULL, "no such resource: %s", r->path);
}

/* Serves rel (a path under the page's folder, already known to be safe). */
static enum MHD_Result serve(req *r, const char *rel)
{
    const char *dir = r->srv->cfg.web_dir;
    if (dir != NULL && dir[0] != '\0') {
        const char *type = type_of(rel);
        char path[4096];
        size_t len = 0;
        int n = snprintf(path, sizeof path, "%s/%s", dir, rel);
        unsigned char *buf =
            type != NULL && n > 0 && (size_t) n < sizeof path ? read_file(path, &len) : NULL;
        if (buf == NULL) {
            return not_found(r);
        }
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
        if (resp == NULL) {
            free(buf);
            return MHD_NO;
        }
        r->resp_bytes = (long long) len;
        MHD_add_response_header(resp, "Content-Type", type);
        return queue_page(r, 200, resp, NULL, false);
    }
    const mf_web_file *f = embedded(rel);
    if (f == NULL) {
        return not_found(r);
    }
    const char *inm = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "If-None-Match");
    if (inm != NULL && etag_matches(inm, f->etag)) {
        r->resp_bytes = 0;
        return queue_page(r, 304,
                          MHD_create_response_from_buffer(0, (void *) "", MHD_RESPMEM_PERSISTENT),
                          f->etag, true);
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(f->len, (void *) f->bytes, MHD_RESPMEM_PERSISTENT);
    if (resp != NULL) {
        MHD_add_response_header(resp, "Content-Type", f->type);
    }
    r->resp_bytes = (long long) f->len;
    return queue_page(r, 200, resp, f->etag, true);
}

enum MHD_Result mf_route_web_index(req *r)
{
    return serve(r, "index.html");
}

enum MHD_Result mf_route_web_file(req *r)
{
    /* "/web/js/views/models.js" -> "js/views/models.js"; the route's pattern made it safe */
    return serve(r, r->path + strlen("/web/"));
}
