/* SPDX-License-Identifier: MIT */
/*
 * score_json.h - the wire form of POST /v1/scores (anomaly scores from a DxMI
 * model's energy network, core/model_dxmi.h): the request's decoding and
 * encoding, and the response's encoding and decoding (the client reads it
 * back through here), so these field names live in this file only.
 *
 * Request {"model": id, "points": [[x_0, .., x_{D-1}], ...]}:
 *   model   an id (required)
 *   points  1..max_n rows (mf_req_limits.max_n: the n limit of /v1/samples),
 *           each an array of 1..MF_SCORE_MAX_DIM numbers, every row as long
 *           as the first, every number finite once rounded to a float32 (what
 *           rounds to +-FLT_MAX is in);
 *           data space (the server maps them to model space).
 * Errors (request_json.h's codes, 400): wrong_type on a non-array points or
 * row (/points, /points/3) or a non-number (/points/3/1); out_of_range on an
 * empty or too long points, an empty or too long row, a row of another
 * length than the first (/points/3), a number beyond float32 (/points/3/1).
 * Whether D is the model's is the server's to check (422 on /points/0).
 *
 * Response {"model", "n", "threshold", "outliers", "scores": [{"energy",
 * "percentile", "outlier"}, ...]}: one score per point in order; threshold
 * the energy of the model's 99 % quantile (a point above it is an outlier),
 * outliers their count; energy and percentile null when not finite.
 */
#ifndef MF_SCORE_JSON_H
#define MF_SCORE_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "err.h"
#include "model_dxmi.h"
#include "req_limits.h"

#define MF_SCORE_MAX_DIM MF_REWARD_MAX_WIDTH /* the widest energy network's input */

typedef struct mf_score_req {
    char model[MF_REQ_ID_MAX + 1];
    size_t n, D;
    float *points; /* (n, D), data space; malloc'd, freed by mf_score_req_done */
} mf_score_req;

/**
 * Decodes a POST /v1/scores body (len bytes).  On success *ret owns its
 * points; on failure *ret holds nothing and d says why.  Errors as
 * request_json.h.
 */
MF_MUST_CHECK mf_err mf_req_decode_scores(const char *body, size_t len, const mf_req_limits *lim,
                                          mf_score_req *ret, mf_diag *d);

/** Frees r's points and zeroes them; accepts a zeroed r. */
void mf_score_req_done(mf_score_req *r);

/** The request body for model and points x (n, D): malloc'd compact JSON, NULL when out of memory.
 */
char *mf_req_scores_body(const char *model, const float *x, size_t n, size_t D);

/* The answer to a score request. */
typedef struct mf_score_view {
    const char *model;
    size_t n;
    const mf_energy_score *scores; /* (n) */
    double threshold;              /* the model's 99 % quantile energy */
} mf_score_view;

/** The response object (see the top), or NULL when out of memory. */
json_t *mf_json_scores(const mf_score_view *v);

/* A response read back (the client's view). */
typedef struct mf_score_list {
    size_t n, outliers;
    double threshold;        /* NAN when null */
    mf_energy_score *scores; /* (n) malloc'd; NAN for null energy or percentile */
} mf_score_list;

/**
 * Reads a response object j into *ret (its scores malloc'd: mf_score_list_done).
 * Errors: MF_EFORMAT (a member missing or of the wrong type, n other than the
 * number of scores; d names it), MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_json_scores_parse(const json_t *j, mf_score_list *ret, mf_diag *d);

/** Frees what *l holds. */
void mf_score_list_done(mf_score_list *l);

#endif /* MF_SCORE_JSON_H */
