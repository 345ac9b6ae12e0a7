/* SPDX-License-Identifier: MIT */
/*
 * api.h - what every command of the manifold client shares: the exit codes a
 * script can rely on, the client context, and requests to the daemon that
 * end in either a parsed JSON body or a reported failure.
 *
 * Commands return an mf_exit, the process's exit status, rather than an
 * mf_err: by the time a command returns, the failure has been told to the
 * user on stderr, and all that is left to decide is the status.  The exit
 * codes are generated from one table (MF_EXIT_MAP), which also writes their
 * description in `manifold --help`.
 */
#ifndef MF_API_H
#define MF_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "http_client.h"

#define MF_EXIT_MAP(XX)                                                                 \
    XX(OK, 0, "success")                                                                \
    XX(SERVER, 1,                                                                       \
       "the server answered an error (status and code printed) or an unusable "         \
       "response")                                                                      \
    XX(USAGE, 2, "usage error: unknown command or flag, missing or malformed argument") \
    XX(UNREACHABLE, 3,                                                                  \
       "cannot reach the server: refused, DNS, TLS, timeout, or a stream "              \
       "lost for good")                                                                 \
    XX(JOB, 4, "the watched job ended failed or cancelled")                             \
    XX(LOCAL, 5, "local error: cannot read or write a file or stdout, out of memory")

typedef enum mf_exit {
#define MF_EXIT_ENUM(name, value, text) MF_EXIT_##name = (value),
    MF_EXIT_MAP(MF_EXIT_ENUM)
#undef MF_EXIT_ENUM
} mf_exit;

/* Caps on buffered response bodies. */
#define MF_API_MAX_BODY    ((size_t) 64 << 20)  /* JSON answers */
#define MF_API_MAX_WEIGHTS ((size_t) 256 << 20) /* a model file, download or upload */

/* The state of one run of the client. */
typedef struct mf_client {
    mf_http *http;
    bool stderr_tty;     /* stderr is a terminal: progress redrawn in place */
    const char *url_arg; /* the --url given, for commands the client suggests; NULL: none */
} mf_client;

#if defined(__GNUC__)
#    define MF_API_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#    define MF_API_PRINTF(f, a)
#endif

/** Prints "manifold: " and the message on stderr; returns code (for `return mf_api_say(...)`). */
MF_API_PRINTF(2, 3) mf_exit mf_api_say(mf_exit code, const char *fmt, ...);

/**
 * Reports a failed mf_http_call (err != MF_OK) and returns its exit code:
 * MF_EIO -> UNREACHABLE with curl's message, MF_ERANGE -> SERVER (body too
 * large), MF_ENOMEM -> LOCAL.  what names the request ("GET /v1/models").
 */
mf_exit mf_api_transport_fail(const mf_client *c, mf_err err, const char *what);

/**
 * Reports a non-2xx answer: "manifold: <status> <code>: <message> [field <f>]"
 * from the daemon's {"error": {"code", "message", "field"}} body, or the
 * status and the start of the body when it is not such a body.  Returns
 * MF_EXIT_SERVER.
 */
mf_exit mf_api_status_fail(const mf_http_resp *r);

/** "manifold: malformed response from the server: <what>"; returns MF_EXIT_SERVER. */
mf_exit mf_api_malformed(const char *what);

/**
 * Performs q; a 2xx answer fills *ret_resp (release with mf_http_resp_done)
 * and returns MF_EXIT_OK.  Anything else is reported and its exit code
 * returned; nothing is then left to release.
 */
mf_exit mf_api_call(const mf_client *c, const mf_http_req *q, mf_http_resp *ret_resp);

/** Like mf_api_call, then parses the body, which must be a JSON object (*ret_json: new reference).
 */
mf_exit mf_api_call_json(const mf_client *c, const mf_http_req *q, mf_http_resp *ret_resp,
                         json_t **ret_json);

/**
 * method path with an optional JSON body; on a 2xx answer whose body is a
 * JSON object, fills *ret_resp (release with mf_http_resp_done) and *ret_json
 * (a new reference) and returns MF_EXIT_OK.  Anything else is reported and
 * its exit code returned; nothing is then left to release.
 */
mf_exit mf_api_json(const mf_client *c, const char *method, const char *path, const char *body,
                    mf_http_resp *ret_resp, json_t **ret_json);

/** mf_api_json's POST of body, a JSON value (borrowed), compact; LOCAL when out of memory. */
mf_exit mf_api_post_json(const mf_client *c, const char *path, const json_t *body,
                         mf_http_resp *ret_resp, json_t **ret_json);

/**
 * GETs path, which may not exist: a 404 answer sets *ret_json to NULL and is
 * not reported; a 2xx answer whose body is a JSON object sets it to that
 * object (a new reference).  Either way MF_EXIT_OK; anything else is reported
 * and its exit code returned, *ret_json NULL.
 */
mf_exit mf_api_find(const mf_client *c, const char *path, json_t **ret_json);

/**
 * Writes the raw body to stdout, with a final newline when it lacks one (the
 * --json outputs: the server's own bytes).  Returns MF_EXIT_OK or LOCAL.
 */
mf_exit mf_api_print_raw(const mf_http_resp *r);

/** The string member key of o, or NULL when absent or not a string. */
const char *mf_api_str(const json_t *o, const char *key);

/** Checks an id given on the command line (mf_req_id_valid); a usage error names it. */
mf_exit mf_api_check_id(const char *what, const char *id);

#endif /* MF_API_H */
