/* SPDX-License-Identifier: MIT */
/* output.c - tables, descriptions and samples on stdout (see output.h). */
#include "output.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "numfmt.h"

#define DESCRIBE_MAX_DEPTH 8  /* deeper objects are printed as JSON */
#define SAMPLE_TABLE_WIDTH 12 /* characters per column of a samples table */

struct mf_out_table {
    size_t n_cols, n_rows, cap_rows; /* rows include the header */
    char **cells;                    /* n_rows * n_cols, row-major */
};

mf_err mf_out_format_lookup(const char *name, mf_out_format *ret)
{
    static const char *const names[] = {"table", "csv", "json"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i]) == 0) {
            *ret = (mf_out_format) i;
            return MF_OK;
        }
    }
    return MF_EINVAL;
}

void mf_out_clean(FILE *f, const char *s, size_t max)
{
    for (size_t i = 0; i < max && s[i] != '\0'; i++) {
        unsigned char c = (unsigned char) s[i];
        fputc(c < 0x20 || c == 0x7f ? '?' : c, f);
    }
}

static bool is_scalar(const json_t *v)
{
    return !json_is_object(v) && !json_is_array(v);
}

/* Writes one scalar's text (strings raw: the caller cleans when printing). */
static void put_scalar(FILE *f, const json_t *v)
{
    if (v == NULL) { /* a member the server left out */
        fputs("-", f);
        return;
    }
    switch (json_typeof(v)) {
    case JSON_STRING:
        fputs(json_string_value(v), f);
        break;
    case JSON_INTEGER:
        fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL: { /* as the server wrote it: the shortest text that reads back */
        char text[MF_NUMFMT_CAP];
        mf_numfmt_double(text, json_real_value(v));
        fputs(text, f);
        break;
    }
    case JSON_TRUE:
        fputs("true", f);
        break;
    case JSON_FALSE:
        fputs("false", f);
        break;
    default:
        fputs("-", f);
        break;
    }
}

char *mf_out_text(const json_t *v)
{
    if (json_is_object(v) || json_is_array(v)) {
        bool flat = json_is_array(v);
        for (size_t i = 0; flat && i < json_array_size(v); i++) {
            flat = is_scalar(json_array_get(v, i));
        }
        if (!flat) {
            return mf_json_dumps(v, JSON_COMPACT);
        }
    }
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL) {
        return NULL;
    }
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i > 0) {
                fputc(',', f);
            }
            put_scalar(f, json_array_get(v, i));
        }
    } else {
        put_scalar(f, v);
    }
    if (ferror(f)) {
        fclose(f);
        free(text);
        return NULL;
    }
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* ---- tables ------------------------------------------------------------------------ */

mf_out_table *mf_out_table_new(size_t n_cols, const char *const *header)
{
    mf_out_table *t = calloc(1, sizeof *t);
    if (t == NULL) {
        return NULL;
    }
    t->n_cols = n_cols;
    t->cap_rows = 16;
    t->cells = calloc(t->cap_rows * n_cols, sizeof *t->cells);
    if (t->cells == NULL) {
        free(t);
        return NULL;
    }
    t->n_rows = 1;
    for (size_t k = 0; k < n_cols; k++) {
        t->cells[k] = strdup(header[k]);
        if (t->cells[k] == NULL) {
            mf_out_table_free(t);
            return NULL;
        }
    }
    return t;
}

void mf_out_table_free(mf_out_table *t)
{
    if (t == NULL) {
        return;
    }
    for (size_t i = 0; i < t->n_rows * t->n_cols; i++) {
        free(t->cells[i]);
    }
    free(t->cells);
    free(t);
}

mf_err mf_out_table_add_json(mf_out_table *t, json_t *const *cells)
{
    if (t->n_rows == t->cap_rows) {
        size_t cap = t->cap_rows * 2;
        char **c = realloc(t->cells, cap * t->n_cols * sizeof *c);
        if (c == NULL) {
            return MF_ENOMEM;
        }
        t->cells = c;
        t->cap_rows = cap;
    }
    char **row = t->cells + t->n_rows * t->n_cols;
    for (size_t k = 0; k < t->n_cols; k++) {
        row[k] = mf_out_text(cells[k]);
        if (row[k] == NULL) {
            for (size_t j = 0; j < k; j++) {
                free(row[j]);
            }
            return MF_ENOMEM;
        }
    }
    t->n_rows++;
    return MF_OK;
}

static bool looks_numeric(const char *s)
{
    if (strcmp(s, "-") == 0) {
        return true;
    }
    char *end;
    (void) strtod(s, &end);
    return end != s && *end == '\0';
}

void mf_out_table_print(const mf_out_table *t, FILE *f)
{
    size_t *width = calloc(t->n_cols, sizeof *width);
    bool *right = calloc(t->n_cols, sizeof *right);
    if (width == NULL || right == NULL) {
        /* Out of memory for two small arrays: print unaligned rather than nothing. */
        free(width);
        free(right);
        for (size_t i = 0; i < t->n_rows; i++) {
            for (size_t k = 0; k < t->n_cols; k++) {
                fputs(k > 0 ? "  " : "", f);
                mf_out_clean(f, t->cells[i * t->n_cols + k], SIZE_MAX);
            }
            fputc('\n', f);
        }
        return;
    }
    for (size_t k = 0; k < t->n_cols; k++) {
        right[k] = t->n_rows > 1;
        for (size_t i = 0; i < t->n_rows; i++) {
            const char *c = t->cells[i * t->n_cols + k];
            width[k] = strlen(c) > width[k] ? strlen(c) : width[k];
            right[k] = right[k] && (i == 0 || looks_numeric(c));
        }
    }
    for (size_t i = 0; i < t->n_rows; i++) {
        for (size_t k = 0; k < t->n_cols; k++) {
            const char *c = t->cells[i * t->n_cols + k];
            size_t pad = width[k] - strlen(c);
            bool last = k + 1 == t->n_cols;
            fputs(k > 0 ? "  " : "", f);
            for (size_t p = 0; right[k] && p < pad; p++) {
                fputc(' ', f);
            }
            mf_out_clean(f, c, SIZE_MAX);
            for (size_t p = 0; !right[k] && !last && p < pad; p++) {
                fputc(' ', f);
            }
        }
        fputc('\n', f);
    }
    free(width);
    free(right);
}

/* ---- descriptions ------------------------------------------------------------------ */

static mf_err describe(FILE *f, const json_t *o, const char *indent, const char *prefix, int depth)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *) o, key, v)
    {
        size_t n = strlen(prefix) + strlen(key) + 2;
        char *path = malloc(n);
        if (path == NULL) {
            return MF_ENOMEM;
        }
        snprintf(path, n, "%s%s", prefix, key);
        mf_err err = MF_OK;
        if (json_is_object(v) && json_object_size(v) > 0 && depth < DESCRIBE_MAX_DEPTH) {
            strcat(path, ".");
            err = describe(f, v, indent, path, depth + 1);
        } else {
            char *text = mf_out_text(v);
            if (text == NULL) {
                err = MF_ENOMEM;
            } else {
                fputs(indent, f);
                mf_out_clean(f, path, SIZE_MAX);
                fputs(": ", f);
                mf_out_clean(f, text, SIZE_MAX);
                fputc('\n', f);
                free(text);
            }
        }
        free(path);
        if (err != MF_OK) {
            return err;
        }
    }
    return MF_OK;
}

mf_err mf_out_describe(FILE *f, const json_t *o, const char *indent)
{
    return describe(f, o, indent, "", 0);
}

/* ---- samples ----------------------------------------------------------------------- */

mf_err mf_out_samples_check(const json_t *samples, size_t *ret_dim)
{
    if (!json_is_array(samples)) {
        return MF_EFORMAT;
    }
    size_t dim = 0;
    for (size_t i = 0; i < json_array_size(samples); i++) {
        const json_t *row = json_array_get(samples, i);
        if (!json_is_array(row) || (i > 0 && json_array_size(row) != dim)) {
            return MF_EFORMAT;
        }
        dim = json_array_size(row);
        for (size_t d = 0; d < dim; d++) {
            const json_t *x = json_array_get(row, d);
            if (!json_is_number(x) && !json_is_null(x)) {
                return MF_EFORMAT;
            }
        }
    }
    *ret_dim = dim;
    return MF_OK;
}

void mf_out_samples(FILE *f, const json_t *samples, size_t dim, mf_out_format fmt)
{
    bool csv = fmt == MF_OUT_CSV;
    for (size_t d = 0; d < dim; d++) {
        char name[32];
        snprintf(name, sizeof name, "x%zu", d);
        if (csv) {
            fprintf(f, "%s%s", d > 0 ? "," : "", name);
        } else {
            fprintf(f, "%s%*s", d > 0 ? " " : "", SAMPLE_TABLE_WIDTH, name);
        }
    }
    fputc('\n', f);
    for (size_t i = 0; i < json_array_size(samples); i++) {
        const json_t *row = json_array_get(samples, i);
        for (size_t d = 0; d < dim; d++) {
            const json_t *x = json_array_get(row, d);
            double v = json_is_number(x) ? json_number_value(x) : (double) NAN;
            if (csv) {
                char text[MF_NUMFMT_CAP];
                mf_numfmt_double(text, v);
                fprintf(f, "%s%s", d > 0 ? "," : "", text);
            } else {
                fprintf(f, "%s%*.6g", d > 0 ? " " : "", SAMPLE_TABLE_WIDTH, v);
            }
        }
        fputc('\n', f);
    }
}
