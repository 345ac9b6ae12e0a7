/* SPDX-License-Identifier: MIT */
/*
 * data_file_int.h - what the parsers of data_file.h share (data_file.c) and
 * the parsers themselves (data_csv.c, data_ndjson.c, data_npy.c).  Private to
 * those files.
 */
#ifndef MF_DATA_FILE_INT_H
#define MF_DATA_FILE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "data_file.h"

/* Rows collected by a text parser: x (n, d) and y (n, NAN = unlabelled) grow by doubling. */
typedef struct mf__rows {
    float *x, *y;
    size_t n, cap, d;
    bool labelled; /* some row has a label */
} mf__rows;

/** Appends a row of b->d values and its label (NAN: none).  Errors: MF_ENOMEM, MF_ERANGE. */
MF_MUST_CHECK mf_err mf__rows_push(mf__rows *b, const float *row, float label);

/**
 * The table of the rows (taken: *b is emptied whatever the outcome).  Errors:
 * those of mf_table_new_take.
 */
MF_MUST_CHECK mf_err mf__rows_finish(mf__rows *b, mf_table **ret);

/** Frees what b holds; b may be reused. */
void mf__rows_free(mf__rows *b);

/** Parses one non-blank line s[0..n) (without its ending) numbered line; ctx: the parser's. */
typedef mf_err (*mf__line_fn)(void *ctx, size_t line, const char *s, size_t n);

/**
 * The driver of the text formats: calls fn for every line that is not blank
 * (\n or \r\n endings, a leading UTF-8 byte-order mark skipped) until one
 * fails, then makes the table of rows (taken; no rows: MF_EFORMAT "no data
 * rows" at the line after the last).  Errors: fn's, those of
 * mf__rows_finish (diag filled).
 */
MF_MUST_CHECK mf_err mf__data_lines(const uint8_t *buf, size_t len, mf__line_fn fn, void *ctx,
                                    mf__rows *rows, mf_table **ret, mf_diag *diag);

/**
 * Fills diag with field "<unit> <where>" ("line 3", "byte 128") and a message
 * starting with the same words, then returns err.
 */
#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
mf_err
mf__data_fail(mf_diag *diag, mf_err err, const char *unit, size_t where, const char *fmt, ...);

/** s[0..n) quoted for a message: at most 32 bytes, invalid UTF-8 and controls as '?'. */
void mf__data_quote(char out[48], const char *s, size_t n);

/** v as a float, or false when it is not finite as one (NaN, infinity, overflow). */
bool mf__data_float(double v, float *ret);

/* The parsers, with mf_data_parse's contract (data_npy.c: labels_last reads the stored form). */
MF_MUST_CHECK mf_err mf__data_csv(const uint8_t *buf, size_t len, const mf_data_limits *lim,
                                  mf_table **ret, mf_diag *diag);
MF_MUST_CHECK mf_err mf__data_ndjson(const uint8_t *buf, size_t len, const mf_data_limits *lim,
                                     mf_table **ret, mf_diag *diag);
MF_MUST_CHECK mf_err mf__data_npy(const uint8_t *buf, size_t len, const mf_data_limits *lim,
                                  bool labels_last, mf_table **ret, mf_diag *diag);

#endif /* MF_DATA_FILE_INT_H */
