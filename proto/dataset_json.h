/* SPDX-License-Identifier: MIT */
/*
 * dataset_json.h - the wire form of data sets (GET /v1/datasets,
 * GET /v1/datasets/{id}, the 201 of an upload).  Every function returns a
 * new reference, NULL when out of memory.
 */
#ifndef MF_DATASET_JSON_H
#define MF_DATASET_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "table.h"

/* What the server knows of a data set. */
typedef struct mf_dataset_view {
    const char *id;
    bool builtin;          /* generated in code: no table, protected */
    size_t dims;           /* D */
    const mf_table *table; /* an upload's rows (NULL for a built-in) */
    uint64_t bytes;        /* an upload's stored file */
    int64_t created;       /* Unix seconds the upload was stored; < 0: unknown */
} mf_dataset_view;

/*
 * {"id", "builtin", "protected" (= builtin), "dims", "rows", "labelled_rows",
 * "bytes", "created" (RFC 3339 UTC, json_util.h), and with stats "mean" and "std" (D
 * numbers each: the column means and population standard deviations)}.
 * A built-in has "rows", "labelled_rows", "bytes", "created", "mean" and
 * "std" null: its points are generated.
 */
json_t *mf_json_dataset(const mf_dataset_view *v, bool with_stats);

/**
 * The GET /v1/datasets/{id}/points body: {"dataset": id, "source": source
 * ("heldout": a built-in set's held-out points; "rows": rows of an upload),
 * "dims": D, "n": n, "points": [[x0, ..., x(D-1)], ...]}.
 */
json_t *mf_json_dataset_points(const char *id, const char *source, size_t D, const float *x,
                               size_t n);

/** The GET /v1/datasets body: {"datasets": [...]}, taking the array. */
json_t *mf_json_dataset_list(json_t *datasets);

#endif /* MF_DATASET_JSON_H */
