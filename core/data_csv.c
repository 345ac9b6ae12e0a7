/* SPDX-License-Identifier: MIT */
/*
 * data_csv.c - the csv format of data_file.h.
 *
 * One pass over the lines.  The first non-blank line decides whether there
 * is a header (its first cell is not a number); the header, or that first
 * row, fixes the columns: a map from each cell position to an x index or to
 * the label.  Every later row must have that many cells.  Numbers are
 * checked against the grammar of data_file.h before strtod sees them (so
 * strtod's hex floats, "nan" and "infinity" never pass), copied into a
 * NUL-terminated scratch buffer, because the input need not end in a NUL.
 * strtod reads the C locale's decimal point; the daemon never sets another.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data_file_int.h"

#define COL_Y ((size_t) -1) /* the column of the labels in the column map */

typedef struct csv {
    const mf_data_limits *lim;
    mf_diag *diag;
    size_t line;
    size_t n_cells; /* cells per row */
    size_t *col;    /* (n_cells): x index of each cell, or COL_Y */
    bool has_y;
    float *row;    /* (D) */
    char *scratch; /* a cell as a C string */
    size_t scratch_cap;
    mf__rows rows;
} csv;

/* A cell of a line: s[0..n) with the spaces and tabs around it cut. */
typedef struct cell {
    const char *s;
    size_t n;
} cell;

static cell trim(const char *s, size_t n)
{
    while (n > 0 && (s[0] == ' ' || s[0] == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) {
        n--;
    }
    return (cell){s, n};
}

/* The next cell of the line at *s (n left), advancing past its comma; false at the end. */
static bool next_cell(const char **s, size_t *n, bool *done, cell *ret)
{
    if (*done) {
        return false;
    }
    const char *comma = memchr(*s, ',', *n);
    size_t k = comma != NULL ? (size_t) (comma - *s) : *n;
    *ret = trim(*s, k);
    *done = comma == NULL;
    *s += k + (comma != NULL);
    *n -= k + (comma != NULL);
    return true;
}

static size_t count_cells(const char *s, size_t n)
{
    size_t k = 1;
    for (const char *p = s; (p = memchr(p, ',', n - (size_t) (p - s))) != NULL; p++) {
        k++;
    }
    return k;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* [+-] digits [. digits] | [+-] . digits, then [eE [+-] digits]: the whole cell. */
static bool number_syntax(const char *s, size_t n)
{
    size_t i = 0, digits = 0;
    i += i < n && (s[i] == '+' || s[i] == '-');
    for (; i < n && is_digit(s[i]); i++) {
        digits++;
    }
    if (i < n && s[i] == '.') {
        for (i++; i < n && is_digit(s[i]); i++) {
            digits++;
        }
    }
    if (digits == 0) {
        return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        i += i < n && (s[i] == '+' || s[i] == '-');
        size_t exp_digits = 0;
        for (; i < n && is_digit(s[i]); i++) {
            exp_digits++;
        }
        if (exp_digits == 0) {
            return false;
        }
    }
    return i == n;
}

/* "nan", "inf", "infinity" (any case, optional sign): a number that is not finite. */
static bool nonfinite_word(const char *s, size_t n)
{
    if (n > 0 && (s[0] == '+' || s[0] == '-')) {
        s++;
        n--;
    }
    return (n == 3 && (strncasecmp(s, "nan", 3) == 0 || strncasecmp(s, "inf", 3) == 0)) ||
           (n == 8 && strncasecmp(s, "infinity", 8) == 0);
}

/* The value of cell c at column k (1-based) into *ret; a message naming the line otherwise. */
static mf_err parse_number(csv *p, cell c, size_t k, float *ret)
{
    char q[48];
    if (c.n == 0) {
        return mf__data_fail(p->diag, MF_EFORMAT, "line", p->line, "column %zu: the cell is empty",
                             k);
    }
    mf__data_quote(q, c.s, c.n);
    if (nonfinite_word(c.s, c.n)) {
        return mf__data_fail(p->diag, MF_EFORMAT, "line", p->line,
                             "column %zu: \"%s\" is not finite", k, q);
    }
    if (!number_syntax(c.s, c.n)) {
        return mf__data_fail(p->diag, MF_EFORMAT, "line", p->line,
                             "column %zu: \"%s\" is not a number", k, q);
    }
    if (c.n + 1 > p->scratch_cap) {
        char *s = realloc(p->scratch, c.n + 1);
        if (s == NULL) {
            return mf_diag_set(p->diag, MF_ENOMEM, NULL, "out of memory");
        }
        p->scratch = s;
        p->scratch_cap = c.n + 1;
    }
    memcpy(p->scratch, c.s, c.n);
    p->scratch[c.n] = '\0';
    if (!mf__data_float(strtod(p->scratch, NULL), ret)) {
        return mf__data_fail(p->diag, MF_EFORMAT, "line", p->line,
                             "column %zu: \"%s\" is outside the float32 range", k, q);
    }
    return MF_OK;
}

/* The x index of a header name "x<j>" (j without leading zeros), or false. */
static bool x_index(cell c, size_t *ret)
{
    if (c.n < 2 || c.n > 12 || c.s[0] != 'x' || (c.s[1] == '0' && c.n > 2)) {
        return false;
    }
    size_t j = 0;
    for (size_t i = 1; i < c.n; i++) {
        if (!is_digit(c.s[i])) {
            return false;
        }
        j = 10 * j + (size_t) (c.s[i] - '0');
    }
    *ret = j;
    return true;
}

/* Sets the columns (n cells, has_y) and their buffers, within the limit of columns. */
static mf_err set_columns(csv *p, size_t n_cells, bool has_y)
{
    size_t d = n_cells - has_y;
    if (d > p->lim->max_cols) {
        return mf__data_fail(p->diag, MF_ERANGE, "line", p->line,
                             "%zu columns, over the limit of %zu", d, p->lim->max_cols);
    }
    if (d == 0) {
        return mf__data_fail(p->diag, MF_EFORMAT, "line", p->line, "no x column");
    }
    p->n_cells = n_cells;
    p->has_y = has_y;
    p->rows.d = d;
    p->col = malloc(n_cells * sizeof *p->col);
    p->row = malloc(d * sizeof *p->row);
    if (p->col == NULL || p->row == NULL) {
        return mf_diag_set(p->diag, MF_ENOMEM, NULL, "out of memory");
    }
    for (size_t k = 0; k < n_cells; k++) {
        p->col[k] = k; /* no header: x0, x1, ... in order */
    }
    return MF_OK;
}

/* The header line s[0..n): x0..x{D-1} once each and y at most once, in any order. */
static mf_err parse_header(csv *p, const char *s, size_t n)
{
    size_t n_cells = count_cells(s, n);
    bool has_y = false, done = false;
    const char *t = s;
    size_t left = n;
    cell c;
    while (next_cell(&t, &left, &done, &c)) {
        has_y |= c.n == 1 && c.s[0] == 'y';
    }
    mf_err err = set_columns(p, n_cells, has_y);
    size_t d = p->rows.d;
    bool *seen = err == MF_OK ? calloc(d + 1, sizeof *seen) : NULL;
    if (err == MF_OK && seen == NULL) {
        err = mf_diag_set(p->diag, MF_ENOMEM, NULL, "out of memory");
    }
    t = s;
    left = n;
    done = false;
    for (size_t k = 0; err == MF_OK && next_cell(&t, &left, &done, &c); k++) {
        char q[48];
        mf__data_quote(q, c.s, c.n);
        size_t j = d;
        if ((c.n != 1 || c.s[0] != 'y') && (!x_index(c, &j) || j >= d)) {
            err = mf__data_fail(p->diag, MF_EFORMAT, "line", p->line,
                                "column %zu: \"%s\" is no column name of this header (x0 .. "
                                "x%zu, and y for the labels)",
                                k + 1, q, d - 1);
        } else if (seen[j]) {
            err = mf__data_fail(p->diag, MF_EFORMAT, "line", p->line,
                                "column %zu: \"%s\" appears twice", k + 1, q);
        } else {
            seen[j] = true;
            p->col[k] = j == d ? COL_Y : j;
        }
    }
    free(seen);
    return err;
}

/* A data line s[0..n): a cell per column, a label cell may be empty. */
static mf_err parse_row(csv *p, const char *s, size_t n)
{
    size_t n_cells = count_cells(s, n);
    if (n_cells != p->n_cells) {
        return mf__data_fail(p->diag, MF_EFORMAT, "line", p->line, "%zu cells, expected %zu",
                             n_cells, p->n_cells);
    }
    if (p->rows.n == p->lim->max_rows) {
        return mf__data_fail(p->diag, MF_ERANGE, "line", p->line, "more rows than the limit of %zu",
                             p->lim->max_rows);
    }
    float label = NAN;
    bool done = false;
    cell c;
    mf_err err = MF_OK;
    for (size_t k = 0; err == MF_OK && next_cell(&s, &n, &done, &c); k++) {
        if (p->col[k] != COL_Y) {
            err = parse_number(p, c, k + 1, &p->row[p->col[k]]);
        } else if (c.n > 0) {
            err = parse_number(p, c, k + 1, &label);
        }
    }
    if (err == MF_OK) {
        err = mf__rows_push(&p->rows, p->row, label);
        if (err != MF_OK) {
            return mf__data_fail(p->diag, err, "line", p->line, "cannot hold the rows: %s",
                                 mf_strerror(err));
        }
    }
    return err;
}

/* A non-blank line: the first is the header or the first row and sets the columns. */
static mf_err parse_line(void *ctx, size_t line, const char *s, size_t n)
{
    csv *p = ctx;
    p->line = line;
    if (p->col != NULL) {
        return parse_row(p, s, n);
    }
    const char *comma = memchr(s, ',', n);
    cell c0 = trim(s, comma != NULL ? (size_t) (comma - s) : n);
    if (!number_syntax(c0.s, c0.n) && !nonfinite_word(c0.s, c0.n)) {
        return parse_header(p, s, n);
    }
    mf_err err = set_columns(p, count_cells(s, n), false);
    return err == MF_OK ? parse_row(p, s, n) : err;
}

mf_err mf__data_csv(const uint8_t *buf, size_t len, const mf_data_limits *lim, mf_table **ret,
                    mf_diag *diag)
{
    csv p = {.lim = lim, .diag = diag};
    mf_err err = mf__data_lines(buf, len, parse_line, &p, &p.rows, ret, diag);
    free(p.col);
    free(p.row);
    free(p.scratch);
    return err;
}
