/* SPDX-License-Identifier: MIT */
/*
 * fuzz.h - what the libFuzzer targets of tests/fuzz share.
 *
 * A target is one file with LLVMFuzzerTestOneInput: it feeds its input to one
 * parser and checks, where it is cheap, the contract the parser's header
 * states (a success gives values within the documented limits, an error
 * carries a message).  A broken invariant aborts with the rule that broke, so
 * libFuzzer keeps the input as a crash, the same as a sanitizer report.
 *
 * Inputs are used as libFuzzer hands them (exactly size bytes, not
 * NUL-terminated), so a parser that reads past its length is an ASan report;
 * a target that needs a C string copies the input up to its first NUL, as
 * the HTTP layer would hand it over.
 */
#ifndef MF_FUZZ_H
#define MF_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "request_json.h"
#include "sample_codec.h"

/* libFuzzer's entry point (declared for -Wmissing-prototypes). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with the condition and a printf-style explanation when cond is false. */
#define FUZZ_CHECK(cond, ...)                                                                    \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf(stderr, "fuzz: invariant broken at %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                                        \
            fputc('\n', stderr);                                                                 \
            abort();                                                                             \
        }                                                                                        \
    } while (0)

/**
 * The input up to its first NUL as a malloc'd C string of at most cap - 1
 * bytes (the copy a fixed buffer of cap bytes would hold; cap 0: no cut).
 * Aborts when out of memory (never the parser's fault).
 */
char *fuzz_cstring(const uint8_t *data, size_t size, size_t cap);

/**
 * What every error of every parser must satisfy (err.h): err is one of the
 * codes of the table, diag's msg is not empty, and msg, field and code are
 * NUL-terminated valid UTF-8 (an error body is built from them).
 */
void fuzz_check_diag(mf_err err, const mf_diag *d);

/**
 * A request decoder's error (request_json.h): MF_EINVAL with one of the
 * decoder codes, answered 400 or 422, and a field that is a JSON pointer
 * ("" or starting with '/'); or MF_ENOMEM with code "internal".
 */
void fuzz_check_req_error(mf_err err, const mf_diag *d);

/**
 * A decoded sampling request (a /v1/samples body, or a sample job's params,
 * which carry the job's model) within sample_codec.h's limits under lim.
 */
void fuzz_check_sample_req(const mf_sample_req *r, const mf_req_limits *lim);

/**
 * A decoded job (job_codec.h): its canonical params JSON decodes again, as a
 * restarted daemon decodes the job store's copy, and encodes to the same
 * JSON.  (The structs are not compared byte for byte: a codec that assigns a
 * struct, as finetune.dxmi's core defaults, copies its padding as it is.)
 */
void fuzz_check_job_round_trip(const mf_job_req *j, const mf_req_limits *lim);

#endif /* MF_FUZZ_H */
