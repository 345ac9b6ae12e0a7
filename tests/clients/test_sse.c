/* SPDX-License-Identifier: MIT */
/*
 * Tests of clients/sse.c, the Server-Sent Events parser of `manifold watch`:
 * a stream cut at every byte boundary (and fed a byte at a time) gives the
 * same events as fed whole; comments; multi-line data; LF, CRLF and CR line
 * ends, a CRLF split between chunks; id and event fields and the id that
 * persists; events without data; oversize lines and events refused; a
 * callback's error stopping the parse; reset for a new connection.
 */
#include <stdlib.h>
#include <string.h>

#include "sse.h"
#include "test_util.h"

#define MAX_EVENTS 16

typedef struct got_event {
    char *type, *data, *id;
    size_t data_len;
    bool id_set;
} got_event;

typedef struct got {
    got_event ev[MAX_EVENTS];
    size_t n;
    size_t stop_at; /* the callback fails on this event (1-based); 0: never */
} got;

static mf_err collect(const mf_sse_event *e, void *ctx)
{
    got *g = ctx;
    ck_assert_uint_lt(g->n, MAX_EVENTS);
    ck_assert_uint_eq(strlen(e->data), e->data_len);
    got_event *d = &g->ev[g->n++];
    d->type = strdup(e->type);
    d->data = strdup(e->data);
    d->id = strdup(e->id);
    d->data_len = e->data_len;
    d->id_set = e->id_set;
    return g->stop_at == g->n ? MF_ECANCELED : MF_OK;
}

static void got_free(got *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free(g->ev[i].type);
        free(g->ev[i].data);
        free(g->ev[i].id);
    }
    g->n = 0;
}

static void expect(const got *g, size_t i, const char *type, const char *data, const char *id,
                   bool id_set)
{
    ck_assert_uint_lt(i, g->n);
    ck_assert_str_eq(g->ev[i].type, type);
    ck_assert_str_eq(g->ev[i].data, data);
    ck_assert_str_eq(g->ev[i].id, id);
    ck_assert_int_eq(g->ev[i].id_set, id_set);
}

/* Feeds text whole into a fresh parser; returns the parse result. */
static mf_err parse_all(const char *text, size_t len, size_t max_line, size_t max_data, got *g,
                        size_t *ret_comments)
{
    mf_sse *p = mf_sse_new(max_line, max_data);
    ck_assert_ptr_nonnull(p);
    mf_err err = mf_sse_feed(p, text, len, collect, g);
    if (ret_comments != NULL) {
        *ret_comments = mf_sse_comments(p);
    }
    mf_sse_free(p);
    return err;
}

/* A stream with every feature: BOM, retry, comments, LF / CRLF / CR ends, multi-line data. */
static const char stream[] = "\xEF\xBB\xBF"
                             "retry: 2000\n"
                             "\n"
                             ": keep-alive\n"
                             "id: 1\n"
                             "event: status\n"
                             "data: {\"state\":\"queued\"}\n"
                             "\n"
                             "id: 2\r\n"
                             "event: progress\r\n"
                             "data: {\"done\":1,\r\n"
                             "data:  \"total\":2}\r\n"
                             "\r\n"
                             ": keep-alive\r"
                             "id: 3\r"
                             "data\r"
                             "\r"
                             "data: no id line\n"
                             "unknown: field\n"
                             "\n"
                             "id: 4\n"
                             "event: samples\n"
                             "data:x\n"
                             "\n"
                             "data: never dispatched: the stream ends inside the event\n";

static void expect_stream(const got *g)
{
    ck_assert_uint_eq(g->n, 5);
    expect(g, 0, "status", "{\"state\":\"queued\"}", "1", true);
    expect(g, 1, "progress", "{\"done\":1,\n \"total\":2}", "2", true);
    expect(g, 2, "message", "", "3", true);
    expect(g, 3, "message", "no id line", "3", false);
    expect(g, 4, "samples", "x", "4", true);
}

START_TEST(test_whole)
{
    got g = {0};
    size_t comments = 0;
    ck_assert_int_eq(parse_all(stream, sizeof stream - 1, 1024, 1024, &g, &comments), MF_OK);
    expect_stream(&g);
    ck_assert_uint_eq(comments, 2);
    got_free(&g);
}

END_TEST

/* Two chunks, cut at every byte: the same events (including the CRLF cut between its bytes). */
START_TEST(test_every_split)
{
    size_t n = sizeof stream - 1;
    for (size_t cut = 0; cut <= n; cut++) {
        got g = {0};
        mf_sse *p = mf_sse_new(1024, 1024);
        ck_assert_ptr_nonnull(p);
        ck_assert_int_eq(mf_sse_feed(p, stream, cut, collect, &g), MF_OK);
        ck_assert_int_eq(mf_sse_feed(p, stream + cut, n - cut, collect, &g), MF_OK);
        ck_assert_uint_eq(mf_sse_comments(p), 2);
        expect_stream(&g);
        mf_sse_free(p);
        got_free(&g);
    }
}

END_TEST

START_TEST(test_byte_at_a_time)
{
    got g = {0};
    mf_sse *p = mf_sse_new(1024, 1024);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < sizeof stream - 1; i++) {
        ck_assert_int_eq(mf_sse_feed(p, stream + i, 1, collect, &g), MF_OK);
    }
    expect_stream(&g);
    mf_sse_free(p);
    got_free(&g);
}

END_TEST

/* A table of small streams and the events each must give. */
typedef struct sse_case {
    const char *name, *text;
    size_t n;
    const char *type[2], *data[2], *id[2];
} sse_case;

static const sse_case cases[] = {
    {"LF", "event: a\ndata: b\n\n", 1, {"a"}, {"b"}, {""}},
    {"CRLF", "id: 7\r\nevent: a\r\ndata: b\r\n\r\n", 1, {"a"}, {"b"}, {"7"}},
    {"CR", "id: 7\revent: a\rdata: b\r\r", 1, {"a"}, {"b"}, {"7"}},
    {"multi-line data",
     "data: one\ndata: two\ndata\ndata: three\n\n",
     1,
     {"message"},
     {"one\ntwo\n\nthree"},
     {""}},
    {"one space stripped",
     "data:  two spaces\ndata:none\n\n",
     1,
     {"message"},
     {" two spaces\nnone"},
     {""}},
    {"colon in value", "data: a: b\n\n", 1, {"message"}, {"a: b"}, {""}},
    {"comments only", ": one\n:two\n\n:\n\n", 0, {0}, {0}, {0}},
    {"no data, no event; type reset", "event: x\n\ndata: y\n\n", 1, {"message"}, {"y"}, {""}},
    {"id persists, last wins",
     "id: 1\nid: 2\ndata: a\n\ndata: b\n\n",
     2,
     {"message", "message"},
     {"a", "b"},
     {"2", "2"}},
    {"id without data still counts", "id: 5\n\ndata: a\n\n", 1, {"message"}, {"a"}, {"5"}},
    {"empty id clears it",
     "id: 5\ndata: a\n\nid\ndata: b\n\n",
     2,
     {"message", "message"},
     {"a", "b"},
     {"5", ""}},
    {"BOM only at the start",
     "data: a\n\n\xEF\xBB\xBF"
     "data: b\n\n",
     1,
     {"message"},
     {"a"},
     {""}},
    {"field names are exact",
     "Data: a\ndata : b\ndatas: c\nevent: e\ndata: d\n\n",
     1,
     {"e"},
     {"d"},
     {""}},
    {"blank line of CRLF after LF", "data: a\n\r\n", 1, {"message"}, {"a"}, {""}},
};

#define N_CASES (sizeof cases / sizeof cases[0])

START_TEST(test_cases)
{
    const sse_case *c = &cases[_i];
    got g = {0};
    ck_assert_msg(parse_all(c->text, strlen(c->text), 256, 256, &g, NULL) == MF_OK, "%s", c->name);
    ck_assert_msg(g.n == c->n, "%s: %zu events, want %zu", c->name, g.n, c->n);
    for (size_t i = 0; i < c->n; i++) {
        ck_assert_msg(strcmp(g.ev[i].type, c->type[i]) == 0, "%s: type '%s'", c->name,
                      g.ev[i].type);
        ck_assert_msg(strcmp(g.ev[i].data, c->data[i]) == 0, "%s: data '%s'", c->name,
                      g.ev[i].data);
        ck_assert_msg(strcmp(g.ev[i].id, c->id[i]) == 0, "%s: id '%s'", c->name, g.ev[i].id);
    }
    got_free(&g);
}

END_TEST

START_TEST(test_id_with_nul_ignored)
{
    static const char text[] = "id: 3\ndata: a\n\nid: 4\0x\ndata: b\n\n";
    got g = {0};
    ck_assert_int_eq(parse_all(text, sizeof text - 1, 256, 256, &g, NULL), MF_OK);
    ck_assert_uint_eq(g.n, 2);
    expect(&g, 1, "message", "b", "3", false);
    got_free(&g);
}

END_TEST

START_TEST(test_oversize_line)
{
    /* max_line 16: a 16-byte line passes, a 17-byte one fails, also when it comes in pieces */
    got g = {0};
    ck_assert_int_eq(parse_all("data: 0123456789\n\n", 18, 16, 1024, &g, NULL), MF_OK);
    ck_assert_uint_eq(g.n, 1);
    got_free(&g);
    ck_assert_int_eq(parse_all("data: 0123456789a\n\n", 19, 16, 1024, &g, NULL), MF_ERANGE);
    ck_assert_int_eq(parse_all(": a comment that is too long\n", 29, 16, 1024, &g, NULL),
                     MF_ERANGE);
    ck_assert_uint_eq(g.n, 0);
    mf_sse *p = mf_sse_new(16, 1024);
    ck_assert_ptr_nonnull(p);
    mf_err err = MF_OK;
    for (int i = 0; i < 100 && err == MF_OK; i++) {
        err = mf_sse_feed(p, "xx", 2, collect, &g); /* a line that never ends */
    }
    ck_assert_int_eq(err, MF_ERANGE);
    mf_sse_free(p);
}

END_TEST

START_TEST(test_oversize_event)
{
    /* max_data 8 bytes of data, each line counting its '\n': "abc\n" + "defg\n" = 9 */
    got g = {0};
    ck_assert_int_eq(parse_all("data: abc\ndata: def\n\n", 21, 256, 8, &g, NULL), MF_OK);
    ck_assert_uint_eq(g.n, 1);
    got_free(&g);
    ck_assert_int_eq(parse_all("data: abc\ndata: defg\n\n", 22, 256, 8, &g, NULL), MF_ERANGE);
    ck_assert_uint_eq(g.n, 0);
}

END_TEST

START_TEST(test_large_event_in_chunks)
{
    size_t n = 200000;
    char *text = malloc(n + 16);
    ck_assert_ptr_nonnull(text);
    memcpy(text, "data: ", 6);
    memset(text + 6, 'x', n);
    memcpy(text + 6 + n, "\n\n", 2);
    got g = {0};
    mf_sse *p = mf_sse_new(n + 6, n + 1);
    ck_assert_ptr_nonnull(p);
    for (size_t off = 0; off < n + 8; off += 1000) {
        size_t len = n + 8 - off < 1000 ? n + 8 - off : 1000;
        ck_assert_int_eq(mf_sse_feed(p, text + off, len, collect, &g), MF_OK);
    }
    ck_assert_uint_eq(g.n, 1);
    ck_assert_uint_eq(g.ev[0].data_len, n);
    mf_sse_free(p);
    got_free(&g);
    free(text);
}

END_TEST

START_TEST(test_callback_error_and_reset)
{
    static const char text[] = "id: 1\ndata: a\n\nid: 2\ndata: b\n\nid: 3\ndata: c\n\n";
    got g = {.stop_at = 1};
    mf_sse *p = mf_sse_new(256, 256);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(mf_sse_feed(p, text, sizeof text - 1, collect, &g), MF_ECANCELED);
    ck_assert_uint_eq(g.n, 1);
    /* a new connection: a partial line and the old id are forgotten */
    mf_sse_reset(p);
    ck_assert_int_eq(mf_sse_feed(p, "data: half a li", 15, collect, &g), MF_OK);
    mf_sse_reset(p);
    g.stop_at = 0;
    ck_assert_int_eq(mf_sse_feed(p, "data: b\n\n", 9, collect, &g), MF_OK);
    ck_assert_uint_eq(g.n, 2);
    expect(&g, 1, "message", "b", "", false);
    ck_assert_uint_eq(mf_sse_comments(p), 0);
    mf_sse_free(p);
    got_free(&g);
}

END_TEST

static Suite *sse_suite(void)
{
    Suite *s = suite_create("sse");
    TCase *tc = tcase_create("chunks");
    tcase_add_test(tc, test_whole);
    tcase_add_test(tc, test_every_split);
    tcase_add_test(tc, test_byte_at_a_time);
    tcase_add_test(tc, test_large_event_in_chunks);
    suite_add_tcase(s, tc);
    tc = tcase_create("fields");
    tcase_add_loop_test(tc, test_cases, 0, N_CASES);
    tcase_add_test(tc, test_id_with_nul_ignored);
    suite_add_tcase(s, tc);
    tc = tcase_create("limits");
    tcase_add_test(tc, test_oversize_line);
    tcase_add_test(tc, test_oversize_event);
    tcase_add_test(tc, test_callback_error_and_reset);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(sse_suite)
