/* SPDX-License-Identifier: MIT */
/*
 * api.c - requests that end in a JSON object or a reported failure, and the
 * wording of failures (see api.h).
 *
 * Nothing the server sends is trusted to be well formed: a body that is not
 * JSON, an error body without its fields, a string with terminal escape
 * sequences in it, all are reported as text the user can read, with exit
 * status 1, never a crash.
 */
#include "api.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "output.h"
#include "request_json.h"

#define SHOWN_BODY 200 /* bytes of an unexpected body worth showing */

mf_exit mf_api_say(mf_exit code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mf_cli_verror(fmt, ap);
    va_end(ap);
    return code;
}

mf_exit mf_api_transport_fail(const mf_client *c, mf_err err, const char *what)
{
    switch (err) {
    case MF_EIO:
        return mf_api_say(MF_EXIT_UNREACHABLE, "%s at %s: %s", what, mf_http_base(c->http),
                          mf_http_errmsg(c->http));
    case MF_ERANGE:
        return mf_api_say(MF_EXIT_SERVER, "%s: the response is larger than the client accepts",
                          what);
    case MF_ENOMEM:
        return mf_api_say(MF_EXIT_LOCAL, "%s: out of memory", what);
    default:
        return mf_api_say(MF_EXIT_SERVER, "%s: %s", what, mf_strerror(err));
    }
}

mf_exit mf_api_status_fail(const mf_http_resp *r)
{
    json_t *j = r->body != NULL ? json_loadb(r->body, r->len, 0, NULL) : NULL;
    json_t *e = json_object_get(j, "error");
    const char *code = mf_api_str(e, "code"), *msg = mf_api_str(e, "message");
    const char *field = mf_api_str(e, "field");
    mf_cli_error_begin();
    fprintf(stderr, "%ld ", r->status);
    if (code != NULL && msg != NULL) {
        mf_out_clean(stderr, code, 64);
        fputs(": ", stderr);
        mf_out_clean(stderr, msg, 1000);
        if (field != NULL && field[0] != '\0') {
            fputs(" [field ", stderr);
            mf_out_clean(stderr, field, 200);
            fputc(']', stderr);
        }
    } else if (r->len == 0) {
        fputs("(an empty body, not an API error)", stderr);
    } else {
        fputs("(not an API error body): ", stderr);
        mf_out_clean(stderr, r->body, SHOWN_BODY);
    }
    if (r->status == 401) {
        fputs(" (the client sends the key in $MANIFOLD_API_KEY)", stderr);
    }
    fputc('\n', stderr);
    json_decref(j);
    return MF_EXIT_SERVER;
}

mf_exit mf_api_malformed(const char *what)
{
    return mf_api_say(MF_EXIT_SERVER, "malformed response from the server: %s", what);
}

/* "GET /v1/models" for messages. */
static void describe_req(const mf_http_req *q, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s %s", q->method, q->path);
}

/* mf_api_call, except that an answer of status quiet (0: none) is returned, unreported. */
static mf_exit call(const mf_client *c, const mf_http_req *q, long quiet, mf_http_resp *ret_resp)
{
    char what[320];
    describe_req(q, what, sizeof what);
    mf_http_resp r;
    mf_err err = mf_http_call(c->http, q, &r);
    if (err != MF_OK) {
        mf_http_resp_done(&r);
        return mf_api_transport_fail(c, err, what);
    }
    if ((r.status < 200 || r.status > 299) && r.status != quiet) {
        mf_exit code = mf_api_status_fail(&r);
        mf_http_resp_done(&r);
        return code;
    }
    *ret_resp = r;
    return MF_EXIT_OK;
}

mf_exit mf_api_call(const mf_client *c, const mf_http_req *q, mf_http_resp *ret_resp)
{
    return call(c, q, 0, ret_resp);
}

/* r's body as a JSON object into *ret_json; else reported, and r released. */
static mf_exit parse_object(const mf_http_req *q, mf_http_resp *r, json_t **ret_json)
{
    json_error_t jerr;
    json_t *j = r->body != NULL ? json_loadb(r->body, r->len, 0, &jerr) : NULL;
    if (!json_is_object(j)) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s %s: %s", q->method, q->path,
                 r->body == NULL ? "empty body"
                 : j == NULL     ? jerr.text
                                 : "the body is not a JSON object");
        json_decref(j);
        mf_http_resp_done(r);
        return mf_api_malformed(msg);
    }
    *ret_json = j;
    return MF_EXIT_OK;
}

mf_exit mf_api_call_json(const mf_client *c, const mf_http_req *q, mf_http_resp *ret_resp,
                         json_t **ret_json)
{
    mf_http_resp r;
    mf_exit code = mf_api_call(c, q, &r);
    if (code == MF_EXIT_OK) {
        code = parse_object(q, &r, ret_json);
    }
    if (code == MF_EXIT_OK) {
        *ret_resp = r;
    }
    return code;
}

static mf_http_req json_req(const char *method, const char *path, const char *body)
{
    return (mf_http_req){.method = method,
                         .path = path,
                         .accept = "application/json",
                         .content_type = body != NULL ? "application/json" : NULL,
                         .body = body,
                         .body_len = body != NULL ? strlen(body) : 0,
                         .max_bytes = MF_API_MAX_BODY};
}

mf_exit mf_api_json(const mf_client *c, const char *method, const char *path, const char *body,
                    mf_http_resp *ret_resp, json_t **ret_json)
{
    mf_http_req q = json_req(method, path, body);
    return mf_api_call_json(c, &q, ret_resp, ret_json);
}

mf_exit mf_api_post_json(const mf_client *c, const char *path, const json_t *body,
                         mf_http_resp *ret_resp, json_t **ret_json)
{
    char *text = json_dumps(body, JSON_COMPACT);
    if (text == NULL) {
        return mf_api_say(MF_EXIT_LOCAL, "out of memory");
    }
    mf_exit code = mf_api_json(c, "POST", path, text, ret_resp, ret_json);
    free(text);
    return code;
}

mf_exit mf_api_find(const mf_client *c, const char *path, json_t **ret_json)
{
    mf_http_req q = json_req("GET", path, NULL);
    mf_http_resp r;
    *ret_json = NULL;
    mf_exit code = call(c, &q, 404, &r);
    if (code != MF_EXIT_OK) {
        return code;
    }
    if (r.status != 404) {
        code = parse_object(&q, &r, ret_json);
    }
    if (code == MF_EXIT_OK) {
        mf_http_resp_done(&r);
    }
    return code;
}

mf_exit mf_api_print_raw(const mf_http_resp *r)
{
    if (r->len > 0 && fwrite(r->body, 1, r->len, stdout) != r->len) {
        return mf_api_say(MF_EXIT_LOCAL, "cannot write to stdout");
    }
    if ((r->len == 0 || r->body[r->len - 1] != '\n') && fputc('\n', stdout) == EOF) {
        return mf_api_say(MF_EXIT_LOCAL, "cannot write to stdout");
    }
    return MF_EXIT_OK;
}

const char *mf_api_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

mf_exit mf_api_check_id(const char *what, const char *id)
{
    if (mf_req_id_valid(id)) {
        return MF_EXIT_OK;
    }
    mf_cli_error_begin();
    fprintf(stderr, "bad %s '", what);
    mf_out_clean(stderr, id, 80);
    fputs("': ids are 1 to 64 of a-z 0-9 . _ -, starting with a letter or digit\n", stderr);
    return MF_EXIT_USAGE;
}
