/* SPDX-License-Identifier: MIT */
/*
 * data_ndjson.c - the ndjson format of data_file.h: one JSON row per line,
 * parsed with jansson (this file owns the format; tests/check_layering.sh
 * lets it include jansson.h).
 *
 * Each line is parsed on its own (json_loadb on the line's bytes), so an
 * error names its line, and a line that is not an array or object, holds
 * duplicate members or nests anything inside a row is refused there.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "data_file_int.h"
#include "utf8.h"

typedef struct ndjson {
    const mf_data_limits *lim;
    mf_diag *diag;
    size_t line;
    float *row; /* (D) once the first row set D */
    mf__rows rows;
} ndjson;

/* The number v, x[i] (or y when i is SIZE_MAX), into *ret, finite as a float. */
static mf_err get_number(ndjson *p, const json_t *v, size_t i, float *ret)
{
    char what[32] = "y";
    if (i != SIZE_MAX) {
        snprintf(what, sizeof what, "x[%zu]", i);
    }
    if (!json_is_number(v)) {
        return mf__data_fail(p->diag, MF_EFORMAT, "line", p->line, "%s is not a number", what);
    }
    if (!mf__data_float(json_number_value(v), ret)) {
        return mf__data_fail(p->diag, MF_EFORMAT, "line", p->line,
                             "%s is outside the float32 range", what);
    }
    return MF_OK;
}

/* The x values of a row (a JSON array), the first row setting D. */
static mf_err get_x(ndjson *p, const json_t *a)
{
    if (!json_is_array(a)) {
        return mf__data_fail(p->diag, MF_EFORMAT, "line", p->line, "\"x\" is not an array");
    }
    size_t n = json_array_size(a);
    if (p->row == NULL) {
        if (n == 0) {
            return mf__data_fail(p->diag, MF_EFORMAT, "line", p->line, "the row is empty");
        }
        if (n > p->lim->max_cols) {
            return mf__data_fail(p->diag, MF_ERANGE, "line", p->line,
                                 "%zu columns, over the limit of %zu", n, p->lim->max_cols);
        }
        p->rows.d = n;
        if ((p->row = malloc(n * sizeof *p->row)) == NULL) {
            return mf_diag_set(p->diag, MF_ENOMEM, NULL, "out of memory");
        }
    }
    if (n != p->rows.d) {
        return mf__data_fail(p->diag, MF_EFORMAT, "line", p->line, "%zu values, expected %zu", n,
                             p->rows.d);
    }
    for (size_t i = 0; i < n; i++) {
        mf_err err = get_number(p, json_array_get(a, i), i, &p->row[i]);
        if (err != MF_OK) {
            return err;
        }
    }
    return MF_OK;
}

/* A row: an array of x values, or {"x": [...], "y": number or null}. */
static mf_err parse_row(ndjson *p, const json_t *v)
{
    if (p->rows.n == p->lim->max_rows) {
        return mf__data_fail(p->diag, MF_ERANGE, "line", p->line, "more rows than the limit of %zu",
                             p->lim->max_rows);
    }
    float label = NAN;
    mf_err err;
    if (json_is_array(v)) {
        err = get_x(p, v);
    } else {
        const char *key;
        json_t *m;
        json_object_foreach((json_t *) v, key, m)
        {
            if (strcmp(key, "x") != 0 && strcmp(key, "y") != 0) {
                char q[48];
                mf__data_quote(q, key, strlen(key));
                return mf__data_fail(p->diag, MF_EFORMAT, "line", p->line,
                                     "unknown member \"%s\" (a row is {\"x\": [...], \"y\": n})",
                                     q);
            }
        }
        const json_t *x = json_object_get(v, "x"), *y = json_object_get(v, "y");
        if (x == NULL) {
            return mf__data_fail(p->diag, MF_EFORMAT, "line", p->line, "the row has no \"x\"");
        }
        err = get_x(p, x);
        if (err == MF_OK && y != NULL && !json_is_null(y)) {
            err = get_number(p, y, SIZE_MAX, &label);
        }
    }
    if (err == MF_OK && (err = mf__rows_push(&p->rows, p->row, label)) != MF_OK) {
        return mf__data_fail(p->diag, err, "line", p->line, "cannot hold the rows: %s",
                             mf_strerror(err));
    }
    return err;
}

/* A non-blank line: one JSON row. */
static mf_err parse_line(void *ctx, size_t line, const char *s, size_t n)
{
    ndjson *p = ctx;
    p->line = line;
    json_error_t je;
    json_t *v = json_loadb(s, n, JSON_REJECT_DUPLICATES, &je);
    if (v == NULL) {
        char why[96]; /* jansson quotes the input: make it fit for a message */
        mf_utf8_snippet(why, sizeof why, je.text);
        return mf__data_fail(p->diag, MF_EFORMAT, "line", line, "not a JSON array or object: %s",
                             why);
    }
    mf_err err = parse_row(p, v);
    json_decref(v);
    return err;
}

mf_err mf__data_ndjson(const uint8_t *buf, size_t len, const mf_data_limits *lim, mf_table **ret,
                       mf_diag *diag)
{
    ndjson p = {.lim = lim, .diag = diag};
    mf_err err = mf__data_lines(buf, len, parse_line, &p, &p.rows, ret, diag);
    free(p.row);
    return err;
}
