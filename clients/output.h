/* SPDX-License-Identifier: MIT */
/*
 * output.h - how the client prints what the server sent: aligned tables,
 * "key: value" descriptions, and samples as a table, CSV or JSON.
 *
 * Text from the server is printed through mf_out_clean, which replaces
 * control characters, so a model's provenance or an error message cannot move
 * the cursor or recolour the user's terminal.  Numbers keep the precision the
 * server wrote (9 significant digits, enough for every float32) in CSV;
 * tables round to 6 for the eye.
 */
#ifndef MF_OUTPUT_H
#define MF_OUTPUT_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "err.h"

typedef enum mf_out_format {
    MF_OUT_TABLE,
    MF_OUT_CSV,
    MF_OUT_JSON,
} mf_out_format;

/** "table", "csv", "json" -> *ret; MF_EINVAL for anything else. */
MF_MUST_CHECK mf_err mf_out_format_lookup(const char *name, mf_out_format *ret);

/** Writes at most max bytes of s, control characters (and DEL) as '?'. */
void mf_out_clean(FILE *f, const char *s, size_t max);

/**
 * The text of a JSON value for a table cell or a description: strings as they
 * are, integers in full, reals with %.9g, null as "-", booleans, arrays of
 * scalars joined by ',' and anything else as compact JSON.  malloc'd; NULL
 * when out of memory.
 */
char *mf_out_text(const json_t *v);

/* A table: a header row, then rows, printed with every column as wide as its
 * widest cell (numbers right-aligned).  Cells are copied. */
typedef struct mf_out_table mf_out_table;

/** A table with n_cols columns named by header (n_cols strings); NULL when out of memory. */
mf_out_table *mf_out_table_new(size_t n_cols, const char *const *header);

/** Adds a row of n_cols JSON values, converted with mf_out_text. */
MF_MUST_CHECK mf_err mf_out_table_add_json(mf_out_table *t, json_t *const *cells);

/** Prints the table to f. */
void mf_out_table_print(const mf_out_table *t, FILE *f);

/** Frees t (NULL is fine). */
void mf_out_table_free(mf_out_table *t);

/**
 * "key: value" lines for each member of object o, nested objects flattened
 * into "outer.inner" keys, each line starting with indent.  MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_out_describe(FILE *f, const json_t *o, const char *indent);

/**
 * Checks that samples is an array of rows, each an array of the same number
 * of numbers (null stands for a non-finite value); *ret_dim = that number (0
 * for no rows).  MF_EFORMAT otherwise.
 */
MF_MUST_CHECK mf_err mf_out_samples_check(const json_t *samples, size_t *ret_dim);

/**
 * Prints checked samples: MF_OUT_CSV a header x0,x1,... then one row per
 * sample (%.9g, null as nan); MF_OUT_TABLE the same as aligned columns (%.6g).
 * (MF_OUT_JSON is the server's body itself; callers print that.)
 */
void mf_out_samples(FILE *f, const json_t *samples, size_t dim, mf_out_format fmt);

#endif /* MF_OUTPUT_H */
