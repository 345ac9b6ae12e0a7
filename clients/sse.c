/* SPDX-License-Identifier: MIT */
/*
 * sse.c - the Server-Sent Events parser (see sse.h).
 *
 * The parser is a line splitter feeding a field interpreter.  Bytes are
 * appended to the current line until a CR or LF ends it; a CR sets `cr`, so
 * an LF that follows it, possibly in the next chunk, is swallowed: CRLF is one
 * line end however the chunks are cut.  Buffers grow by doubling, and every
 * append is checked against its cap before anything is allocated, so a hostile
 * or broken server costs at most max_line + max_data bytes.  Every buffer
 * keeps a NUL after its last byte, which lets events hand out plain strings.
 */
#include "sse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct sbuf {
    char *p;
    size_t len, cap; /* cap includes the byte for the terminating NUL */
} sbuf;

struct mf_sse {
    size_t max_line, max_data;
    sbuf line;    /* the line being read */
    sbuf data;    /* the pending event's data, each line followed by '\n' */
    sbuf type;    /* the pending event's "event:" value */
    sbuf id;      /* the last event id */
    bool id_set;  /* an "id:" line since the last blank line */
    bool cr;      /* the last byte was a CR */
    bool started; /* the first line was seen (the BOM can only precede it) */
    size_t comments;
};

/* Appends n bytes, failing with MF_ERANGE when b would exceed max bytes. */
static mf_err sbuf_append(sbuf *b, const char *s, size_t n, size_t max)
{
    if (n > max || b->len > max - n) {
        return MF_ERANGE;
    }
    size_t need = b->len + n + 1;
    if (need > b->cap) {
        size_t cap = b->cap == 0 ? 256 : b->cap;
        while (cap < need) {
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        }
        char *q = realloc(b->p, cap);
        if (q == NULL) {
            return MF_ENOMEM;
        }
        b->p = q;
        b->cap = cap;
    }
    if (n > 0) {
        memcpy(b->p + b->len, s, n);
    }
    b->len += n;
    b->p[b->len] = '\0';
    return MF_OK;
}

static void sbuf_clear(sbuf *b)
{
    b->len = 0;
    if (b->p != NULL) {
        b->p[0] = '\0';
    }
}

mf_sse *mf_sse_new(size_t max_line, size_t max_data)
{
    mf_sse *p = calloc(1, sizeof *p);
    if (p == NULL) {
        return NULL;
    }
    p->max_line = max_line;
    p->max_data = max_data;
    return p;
}

void mf_sse_free(mf_sse *p)
{
    if (p == NULL) {
        return;
    }
    free(p->line.p);
    free(p->data.p);
    free(p->type.p);
    free(p->id.p);
    free(p);
}

void mf_sse_reset(mf_sse *p)
{
    sbuf_clear(&p->line);
    sbuf_clear(&p->data);
    sbuf_clear(&p->type);
    sbuf_clear(&p->id);
    p->id_set = false;
    p->cr = false;
    p->started = false;
    p->comments = 0;
}

size_t mf_sse_comments(const mf_sse *p)
{
    return p->comments;
}

/* A blank line: hands the pending event to fn, if it has data, and clears it. */
static mf_err dispatch(mf_sse *p, mf_sse_fn fn, void *ctx)
{
    if (p->data.len == 0) {
        /* No data: nothing to dispatch (the spec's rule); the id, if any, stays. */
        sbuf_clear(&p->type);
        p->id_set = false;
        return MF_OK;
    }
    p->data.len--; /* the '\n' after the last data line */
    p->data.p[p->data.len] = '\0';
    mf_sse_event ev = {.type = p->type.len > 0 ? p->type.p : "message",
                       .data = p->data.p,
                       .data_len = p->data.len,
                       .id = p->id.len > 0 ? p->id.p : "",
                       .id_set = p->id_set};
    mf_err err = fn(&ev, ctx);
    sbuf_clear(&p->data);
    sbuf_clear(&p->type);
    p->id_set = false;
    return err;
}

static bool field_is(const char *f, size_t flen, const char *name)
{
    return flen == strlen(name) && memcmp(f, name, flen) == 0;
}

/* Interprets one complete line (without its end). */
static mf_err process_line(mf_sse *p, mf_sse_fn fn, void *ctx)
{
    const char *s = p->line.p != NULL ? p->line.p : "";
    size_t len = p->line.len;
    if (!p->started) {
        p->started = true;
        if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
            s += 3;
            len -= 3;
        }
    }
    if (len == 0) {
        return dispatch(p, fn, ctx);
    }
    if (s[0] == ':') {
        p->comments++;
        return MF_OK;
    }
    const char *colon = memchr(s, ':', len);
    size_t flen = colon != NULL ? (size_t) (colon - s) : len;
    const char *v = colon != NULL ? colon + 1 : s + len;
    size_t vlen = (size_t) (s + len - v);
    if (vlen > 0 && v[0] == ' ') {
        v++;
        vlen--;
    }
    if (field_is(s, flen, "data")) {
        mf_err err = sbuf_append(&p->data, v, vlen, p->max_data);
        return err != MF_OK ? err : sbuf_append(&p->data, "\n", 1, p->max_data);
    }
    if (field_is(s, flen, "event")) {
        sbuf_clear(&p->type);
        return sbuf_append(&p->type, v, vlen, p->max_line);
    }
    if (field_is(s, flen, "id")) {
        if (memchr(v, '\0', vlen) != NULL) {
            return MF_OK; /* the spec ignores ids holding NUL */
        }
        sbuf_clear(&p->id);
        p->id_set = true;
        return sbuf_append(&p->id, v, vlen, p->max_line);
    }
    return MF_OK; /* "retry" and unknown fields */
}

mf_err mf_sse_feed(mf_sse *p, const char *buf, size_t n, mf_sse_fn fn, void *ctx)
{
    size_t i = 0;
    while (i < n) {
        if (p->cr) {
            p->cr = false;
            if (buf[i] == '\n') {
                i++;
                continue;
            }
        }
        size_t j = i;
        while (j < n && buf[j] != '\n' && buf[j] != '\r') {
            j++;
        }
        mf_err err = sbuf_append(&p->line, buf + i, j - i, p->max_line);
        if (err != MF_OK || j == n) {
            return err; /* the line continues in the next chunk */
        }
        p->cr = buf[j] == '\r';
        err = process_line(p, fn, ctx);
        sbuf_clear(&p->line);
        if (err != MF_OK) {
            return err;
        }
        i = j + 1;
    }
    return MF_OK;
}
