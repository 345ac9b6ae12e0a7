/* SPDX-License-Identifier: MIT */
/*
 * fuzz_data_file.c - libFuzzer target: the data set parsers of
 * core/data_file.h (the bodies of POST /v1/datasets).
 *
 * Every input goes through all three upload formats (csv, ndjson, npy) and
 * the stored form's reader (npy with the labels as the last column), so one
 * corpus serves them all: a text seed mutated into a binary one still
 * reaches the npy header parser.  The limits are small, so the "over the
 * limit" paths are reachable with short inputs.
 *
 * Invariants (data_file.h, table.h): a table has 1..max_rows rows and
 * 1..max_cols columns of finite values, labels finite or NaN, n_labelled of
 * them (y NULL when none), none from npy; its stored form reads back to the
 * same table.  An error carries a message, a field "line L" (text) or
 * "byte B" (npy), and the message starts with the field.
 */
#include <math.h>
#include <string.h>

#include "data_file.h"
#include "data_file_int.h"
#include "fuzz.h"
#include "table.h"

static const mf_data_limits limits = {.max_rows = 512, .max_cols = 32, .max_bytes = 1u << 20};

static void check_table(const mf_table *t, const mf_data_limits *lim, const char *what)
{
    FUZZ_CHECK(t->n_rows >= 1 && t->n_rows <= lim->max_rows, "%s: %zu rows", what, t->n_rows);
    FUZZ_CHECK(t->n_dims >= 1 && t->n_dims <= lim->max_cols, "%s: %zu columns", what, t->n_dims);
    for (size_t i = 0; i < t->n_rows * t->n_dims; i++) {
        FUZZ_CHECK(isfinite(t->x[i]), "%s: x[%zu] not finite", what, i);
    }
    size_t labelled = 0;
    for (size_t i = 0; t->y != NULL && i < t->n_rows; i++) {
        FUZZ_CHECK(!isinf(t->y[i]), "%s: label %zu infinite", what, i);
        labelled += !isnan(t->y[i]);
    }
    FUZZ_CHECK(labelled == t->n_labelled, "%s: %zu labels counted as %zu", what, labelled,
               t->n_labelled);
    FUZZ_CHECK((t->y == NULL) == (labelled == 0), "%s: y without labels", what);
}

/* The stored form of t reads back as t, bit for bit. */
static void check_stored(const mf_table *t)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    mf_err err = mf_data_to_npy(t, &buf, &len);
    if (err == MF_ENOMEM) {
        return;
    }
    FUZZ_CHECK(err == MF_OK, "stored form: %s", mf_err_name(err));
    mf_data_limits lim = {.max_rows = t->n_rows, .max_cols = t->n_dims, .max_bytes = len};
    mf_table *back = NULL;
    mf_diag d = {0};
    err = mf__data_npy(buf, len, &lim, true, &back, &d);
    free(buf);
    if (err == MF_ENOMEM) {
        return;
    }
    FUZZ_CHECK(err == MF_OK, "stored form read back: %s", d.msg);
    FUZZ_CHECK(back->n_rows == t->n_rows && back->n_dims == t->n_dims, "stored shape");
    FUZZ_CHECK(memcmp(back->x, t->x, t->n_rows * t->n_dims * sizeof *t->x) == 0, "stored x");
    FUZZ_CHECK((back->y == NULL) == (t->y == NULL), "stored labels");
    for (size_t i = 0; t->y != NULL && i < t->n_rows; i++) {
        FUZZ_CHECK(isnan(back->y[i]) ? isnan(t->y[i]) : back->y[i] == t->y[i], "stored y[%zu]", i);
    }
    mf_table_free(back);
}

static void check_error(mf_err err, const mf_diag *d, const char *unit, const char *what)
{
    fuzz_check_diag(err, d);
    if (err == MF_ENOMEM) {
        return;
    }
    FUZZ_CHECK(err == MF_EFORMAT || err == MF_ERANGE, "%s: %s", what, mf_err_name(err));
    size_t n = strlen(unit);
    FUZZ_CHECK(strncmp(d->field, unit, n) == 0 && d->field[n] == ' ', "%s: field '%s'", what,
               d->field);
    FUZZ_CHECK(strncmp(d->msg, d->field, strlen(d->field)) == 0,
               "%s: '%s' does not start with '%s'", what, d->msg, d->field);
}

static void parse(mf_data_format fmt, const uint8_t *data, size_t size)
{
    const char *what = mf_data_format_name(fmt);
    mf_table *t = NULL;
    mf_diag d = {0};
    mf_err err = mf_data_parse(fmt, data, size, &limits, &t, &d);
    if (err != MF_OK) {
        check_error(err, &d, fmt == MF_DATA_NPY ? "byte" : "line", what);
        return;
    }
    check_table(t, &limits, what);
    FUZZ_CHECK(fmt != MF_DATA_NPY || t->y == NULL, "npy with labels");
    check_stored(t);
    mf_table_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse(MF_DATA_CSV, data, size);
    parse(MF_DATA_NDJSON, data, size);
    parse(MF_DATA_NPY, data, size);
    /* the stored form (mf_data_load reads it from the daemon's own disk) */
    if (size > 0) {
        mf_table *t = NULL;
        mf_diag d = {0};
        mf_err err = mf__data_npy(data, size, &limits, true, &t, &d);
        if (err == MF_OK) {
            check_table(t, &limits, "stored");
            mf_table_free(t);
        } else {
            check_error(err, &d, "byte", "stored");
        }
    }
    return 0;
}
