/* SPDX-License-Identifier: MIT */
/*
 * http_status.h - the one place an error becomes an HTTP status and the
 * machine code of the error body (DESIGN.md: 400 bad input, 404, 409 state
 * conflict, 413, 415, 422 valid JSON but an impossible request, 503 not
 * ready, draining or queue full, 507 insufficient_storage: the job store or
 * the model store is full, 500 the server's fault).
 *
 * Error details travel as an mf_err with an mf_diag (core/err.h): the diag's
 * code, when set, says exactly what went wrong ("out_of_range",
 * "model_not_found"); else the mf_err's default code stands.  The status
 * follows from the code.  http.h's mf_http_fail answers a request with it.
 */
#ifndef MF_HTTP_STATUS_H
#define MF_HTTP_STATUS_H

#include "err.h"

/** The HTTP status of a machine code of the API (500 for a code it does not know). */
unsigned mf_http_code_status(const char *code);

/** The status of an error, and (*ret_code, may be NULL) its machine code. */
unsigned mf_http_status(mf_err err, const mf_diag *d, const char **ret_code);

#endif /* MF_HTTP_STATUS_H */
