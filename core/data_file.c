/* SPDX-License-Identifier: MIT */
/*
 * data_file.c - the entry points of data_file.h and what its parsers share:
 * the row collector, the line driver of the text formats, error messages
 * that name the line or byte.  The formats themselves: data_csv.c,
 * data_ndjson.c, data_npy.c.
 */
#include "data_file.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_file_int.h"
#include "fileio.h"
#include "utf8.h"

static const char *const format_names[] = {
    [MF_DATA_CSV] = "csv",
    [MF_DATA_NDJSON] = "ndjson",
    [MF_DATA_NPY] = "npy",
};

#define N_FORMATS (sizeof format_names / sizeof format_names[0])

const char *mf_data_format_name(mf_data_format f)
{
    return (unsigned) f < N_FORMATS ? format_names[f] : NULL;
}

mf_err mf_data_format_lookup(const char *name, mf_data_format *ret)
{
    if (name == NULL) {
        return MF_EINVAL;
    }
    for (size_t i = 0; i < N_FORMATS; i++) {
        if (strcmp(name, format_names[i]) == 0) {
            *ret = (mf_data_format) i;
            return MF_OK;
        }
    }
    return MF_ENOTFOUND;
}

/* ---- shared by the parsers ------------------------------------------------------------ */

mf_err mf__rows_push(mf__rows *b, const float *row, float label)
{
    if (b->n == b->cap) {
        size_t cap = b->cap == 0 ? 256 : 2 * b->cap, xn;
        if (cap < b->cap || mf_size_mul(cap, b->d, &xn) != MF_OK ||
            mf_size_mul(xn, sizeof(float), &xn) != MF_OK) {
            return MF_ERANGE;
        }
        float *x = realloc(b->x, xn);
        if (x == NULL) {
            return MF_ENOMEM;
        }
        b->x = x;
        float *y = realloc(b->y, cap * sizeof *y);
        if (y == NULL) {
            return MF_ENOMEM;
        }
        b->y = y;
        b->cap = cap;
    }
    memcpy(b->x + b->n * b->d, row, b->d * sizeof *row);
    b->y[b->n] = label;
    b->labelled |= !isnan(label);
    b->n++;
    return MF_OK;
}

mf_err mf__rows_finish(mf__rows *b, mf_table **ret)
{
    float *y = b->labelled ? b->y : NULL;
    if (!b->labelled) {
        free(b->y);
    }
    mf_err err = mf_table_new_take(b->n, b->d, b->x, y, ret);
    *b = (mf__rows){0};
    return err;
}

void mf__rows_free(mf__rows *b)
{
    free(b->x);
    free(b->y);
    *b = (mf__rows){0};
}

/* true when s[0..n) holds only spaces and tabs. */
static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t') {
            return false;
        }
    }
    return true;
}

mf_err mf__data_lines(const uint8_t *buf, size_t len, mf__line_fn fn, void *ctx, mf__rows *rows,
                      mf_table **ret, mf_diag *diag)
{
    static const char bom[] = "\xef\xbb\xbf";
    const char *p = (const char *) buf, *end = p + len;
    if (len >= 3 && memcmp(buf, bom, 3) == 0) {
        p += 3;
    }
    size_t line = 0;
    mf_err err = MF_OK;
    while (err == MF_OK && p < end) {
        const char *s = p, *nl = memchr(s, '\n', (size_t) (end - s));
        const char *e = nl != NULL ? nl : end;
        p = nl != NULL ? nl + 1 : end;
        if (e > s && e[-1] == '\r') {
            e--;
        }
        line++;
        if (!blank(s, (size_t) (e - s))) {
            err = fn(ctx, line, s, (size_t) (e - s));
        }
    }
    if (err == MF_OK && rows->n == 0) {
        err = mf__data_fail(diag, MF_EFORMAT, "line", line + 1, "no data rows");
    }
    if (err == MF_OK && (err = mf__rows_finish(rows, ret)) != MF_OK) {
        (void) mf_diag_set(diag, err, NULL, "cannot make the table: %s", mf_strerror(err));
    }
    mf__rows_free(rows);
    return err;
}

mf_err mf__data_fail(mf_diag *diag, mf_err err, const char *unit, size_t where, const char *fmt,
                     ...)
{
    if (diag != NULL) {
        char msg[sizeof diag->msg];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        mf_utf8_trim(msg);
        (void) mf_diag_set(diag, err, NULL, "%s %zu: %s", unit, where, msg);
        snprintf(diag->field, sizeof diag->field, "%s %zu", unit, where);
    }
    return err;
}

void mf__data_quote(char out[48], const char *s, size_t n)
{
    char tmp[40];
    size_t k = n < 32 ? n : 32;
    memcpy(tmp, s, k);
    tmp[k] = '\0';
    if (k < n) {
        memcpy(tmp + k, "...", 4); /* the snippet cuts at a character boundary before it */
    }
    mf_utf8_snippet(out, 48, tmp);
}

bool mf__data_float(double v, float *ret)
{
    float f = (float) v;
    if (!isfinite(f)) {
        return false;
    }
    *ret = f;
    return true;
}

/* ---- entry points --------------------------------------------------------------------- */

mf_err mf_data_parse(mf_data_format fmt, const uint8_t *buf, size_t len, const mf_data_limits *lim,
                     mf_table **ret, mf_diag *diag)
{
    if ((buf == NULL && len > 0) || lim == NULL || ret == NULL) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "invalid argument");
    }
    const char *unit = fmt == MF_DATA_NPY ? "byte" : "line";
    if (len > lim->max_bytes) {
        return mf__data_fail(diag, MF_ERANGE, unit, fmt == MF_DATA_NPY ? lim->max_bytes : 1,
                             "the data is %zu bytes, over the limit of %zu", len, lim->max_bytes);
    }
    if (len == 0) {
        return mf__data_fail(diag, MF_EFORMAT, unit, fmt == MF_DATA_NPY ? 0 : 1,
                             "the file is empty");
    }
    switch (fmt) {
    case MF_DATA_CSV:
        return mf__data_csv(buf, len, lim, ret, diag);
    case MF_DATA_NDJSON:
        return mf__data_ndjson(buf, len, lim, ret, diag);
    case MF_DATA_NPY:
        return mf__data_npy(buf, len, lim, false, ret, diag);
    }
    return mf_diag_set(diag, MF_EINVAL, NULL, "unknown data format %d", (int) fmt);
}

mf_err mf_data_save(const mf_table *t, const char *path, mf_diag *diag)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    mf_err err = mf_data_to_npy(t, &buf, &len);
    if (err != MF_OK) {
        return mf_diag_set(diag, err, NULL, "cannot serialise the data set: %s", mf_strerror(err));
    }
    err = mf_fileio_write_atomic(path, buf, len, diag);
    free(buf);
    return err;
}

mf_err mf_data_load(const char *path, const mf_data_limits *lim, mf_table **ret, mf_diag *diag)
{
    if (lim == NULL) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "invalid argument");
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    mf_err err = mf_fileio_read(path, lim->max_bytes, &buf, &len, diag);
    if (err == MF_OK) {
        err = len == 0 ? mf__data_fail(diag, MF_EFORMAT, "byte", 0, "the file is empty")
                       : mf__data_npy(buf, len, lim, true, ret, diag);
    }
    free(buf);
    return err;
}
