/* SPDX-License-Identifier: MIT */
/*
 * data_file.h - data sets as files: the three upload formats, parsed into a
 * table (table.h), and the one stored form.
 *
 * The formats (every value must be finite as a float32; a value that
 * overflows float is refused like NaN and infinity):
 *
 *   csv     Text, UTF-8 (a leading byte-order mark is skipped).  Lines end in
 *           \n or \r\n (the last may end without); lines holding only spaces
 *           and tabs are skipped.  Cells are separated by commas, with optional
 *           spaces or tabs around each.  The first line is a header when its
 *           first cell is not a number: its cells name the columns, x0 ..
 *           x{D-1} once each and optionally y once, in any order.  Without a
 *           header every column is an x column, in order, and no row has a
 *           label.  A number is [+-] digits [. digits] or [+-] . digits, with
 *           an optional exponent e[+-]digits (no hex, no nan, no inf).  An
 *           empty y cell leaves its row unlabelled; every x cell holds a
 *           number.  Every row has as many cells as the first.
 *   ndjson  One JSON value per line (blank lines skipped): either an array of
 *           D numbers, or an object {"x": [D numbers], "y": number or null}
 *           ("y" optional, no other member).  D is the first row's; the two
 *           forms may be mixed.  A row without "y" (or an array) is
 *           unlabelled.
 *   npy     NumPy's .npy, version 1.0 or 2.0: the magic "\x93NUMPY", the
 *           version, the header length (2 or 4 bytes, little-endian), the
 *           header (a Python dict literal with exactly the keys 'descr',
 *           'fortran_order' and 'shape', ending in a newline), then the data.
 *           descr '<f4' or '<f8' (little-endian float32 or float64),
 *           fortran_order False, shape (N, D) with N, D >= 1, and exactly
 *           N x D values of data after the header.  No labels.
 *
 * Errors name where the file is wrong: diag->field is "line L" (csv, ndjson;
 * 1-based, counting every line, blank and header ones too) or "byte B" (npy;
 * the 0-based offset of the first wrong byte, or of the end of the file when
 * the data is short), and diag->msg starts with the same words.  An empty file
 * is "line 1" / "byte 0".
 *
 * The stored form (mf_data_save, mf_data_load): .npy version 1.0, '<f4',
 * shape (N, D + 1): the x columns, then the labels as the last column, NaN for
 * an unlabelled row (every row NaN when the table has no labels), so the file
 * is a plain array numpy.load reads.
 *
 * Thread-safety: every function is reentrant and touches only its arguments.
 */
#ifndef MF_DATA_FILE_H
#define MF_DATA_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "table.h"

typedef enum mf_data_format {
    MF_DATA_CSV,
    MF_DATA_NDJSON,
    MF_DATA_NPY,
} mf_data_format;

/* What a file may hold; the caller (the daemon's flags) sets them. */
typedef struct mf_data_limits {
    size_t max_rows;  /* N, at most MF_TABLE_MAX_ROWS */
    size_t max_cols;  /* D (the label column not counted) */
    size_t max_bytes; /* the file's length */
} mf_data_limits;

/** "csv", "ndjson" or "npy"; NULL for another value. */
const char *mf_data_format_name(mf_data_format f);

/** The format of a name (as mf_data_format_name gives).  Errors: MF_EINVAL (NULL), MF_ENOTFOUND. */
MF_MUST_CHECK mf_err mf_data_format_lookup(const char *name, mf_data_format *ret);

/**
 * Parses buf (len bytes, nothing of it kept) in format fmt into a new table.
 * Errors, with diag's field and message naming the line or byte:
 * MF_EFORMAT (anything malformed: syntax, NaN or infinity, ragged rows, a
 * wrong dtype or order, truncated or extra data, an empty file or no rows),
 * MF_ERANGE (over a limit: bytes, rows or columns), MF_EINVAL (NULL
 * arguments, an unknown format), MF_ENOMEM.  *ret is written only on success.
 */
MF_MUST_CHECK mf_err mf_data_parse(mf_data_format fmt, const uint8_t *buf, size_t len,
                                   const mf_data_limits *lim, mf_table **ret, mf_diag *diag);

/**
 * The stored form of t (see the top of this file) in a new buffer (*ret_buf
 * malloc'd; both outputs written only on success).  Errors: MF_EINVAL (NULL
 * arguments), MF_ERANGE (the size overflows), MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_data_to_npy(const mf_table *t, uint8_t **ret_buf, size_t *ret_len);

/**
 * Writes the stored form of t to path atomically (fileio.h).  Errors: those
 * of mf_data_to_npy and mf_fileio_write_atomic (diag).
 */
MF_MUST_CHECK mf_err mf_data_save(const mf_table *t, const char *path, mf_diag *diag);

/**
 * Reads a stored data set (at most lim->max_bytes bytes, lim->max_rows rows
 * and lim->max_cols columns besides the labels).  Errors: those of
 * mf_fileio_read and mf_data_parse's npy, MF_EFORMAT (fewer than 2 columns).
 */
MF_MUST_CHECK mf_err mf_data_load(const char *path, const mf_data_limits *lim, mf_table **ret,
                                  mf_diag *diag);

#endif /* MF_DATA_FILE_H */
