/* SPDX-License-Identifier: MIT */
/*
 * score_json.c - POST /v1/scores on the wire (see score_json.h).
 *
 * The points are checked row by row in order, and in a row the length before
 * the elements, so the first bad element of a body is the one reported.
 */
#include "score_json.h"

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_json.h"
#include "json_util.h"
#include "mem.h"
#include "req_decode.h"

#define NUMBER_RULE "a number within float32's range (|x| <= 3.4e38)"

/* "points": rows of one length D, numbers finite as float32. */
static mf_err decode_points(const json_t *v, const char *ptr, const mf_req_limits *lim,
                            void *params, mf_diag *d)
{
    mf_score_req *r = params;
    char what[160], rptr[64], eptr[96];
    snprintf(what, sizeof what, "an array of 1 to %zu points, each an array of numbers",
             lim->max_n);
    if (v == NULL) {
        return mf_req_fail_missing(d, ptr, what);
    }
    if (!json_is_array(v)) {
        return mf_req_fail_must(d, "wrong_type", ptr, what, v);
    }
    size_t n = json_array_size(v);
    if (n == 0 || n > lim->max_n) {
        return mf_req_fail_must(d, "out_of_range", ptr, what, v);
    }
    const json_t *first = json_array_get(v, 0);
    size_t D = json_is_array(first) ? json_array_size(first) : 0;
    float *x = NULL;
    for (size_t i = 0; i < n; i++) {
        const json_t *row = json_array_get(v, i);
        mf_req_ptr_index(rptr, sizeof rptr, ptr, i);
        mf_err err = MF_OK;
        if (!json_is_array(row)) {
            err = mf_req_fail_must(d, "wrong_type", rptr, "an array of numbers (a point)", row);
        } else if (json_array_size(row) == 0 || json_array_size(row) > MF_SCORE_MAX_DIM) {
            snprintf(what, sizeof what, "an array of 1 to %d numbers", MF_SCORE_MAX_DIM);
            err = mf_req_fail_must(d, "out_of_range", rptr, what, row);
        } else if (json_array_size(row) != D) {
            snprintf(what, sizeof what, "an array of %zu numbers, as long as the first point", D);
            err = mf_req_fail_must(d, "out_of_range", rptr, what, row);
        } else if (x == NULL && (x = mf_alloc_floats(n * D)) == NULL) {
            err = mf_req_fail_nomem(d);
        }
        for (size_t k = 0; err == MF_OK && k < D; k++) {
            double val = 0;
            mf_req_ptr_index(eptr, sizeof eptr, rptr, k);
            /* Finite as a float32 once rounded, not |x| <= FLT_MAX as a double: FLT_MAX
             * written with the 9 digits that give a float back (3.40282347e38, as
             * mf_req_scores_body writes it) is a little above it. */
            const json_t *e = json_array_get(row, k);
            err = mf_req_get_number(e, eptr, -DBL_MAX, DBL_MAX, false, NUMBER_RULE, &val, d);
            if (err == MF_OK && !isfinite((float) val)) {
                err = mf_req_fail_must(d, "out_of_range", eptr, NUMBER_RULE, e);
            }
            x[i * D + k] = (float) val;
        }
        if (err != MF_OK) {
            mf_free_aligned(x);
            return err;
        }
    }
    r->n = n;
    r->D = D;
    r->points = x;
    return MF_OK;
}

#define F(k) .key = #k, .offset = offsetof(mf_score_req, k)
static const mf_req_field fields[] = {
    {F(model), .type = MF_REQ_ID, .required = true, .what = MF_REQ_ID_RULE},
    {F(points), .type = MF_REQ_CUSTOM, .required = true, .decode = decode_points},
    {.key = NULL},
};
#undef F

mf_err mf_req_decode_scores(const char *body, size_t len, const mf_req_limits *lim,
                            mf_score_req *ret, mf_diag *d)
{
    mf_req_limits def = mf_req_limits_default();
    json_t *root = NULL;
    memset(ret, 0, sizeof *ret);
    mf_err err = mf_req_parse_object(body, len, "the body", "", &root, d);
    if (err != MF_OK) {
        return err;
    }
    mf_score_req r;
    memset(&r, 0, sizeof r);
    err = mf_req_decode_fields(fields, root, "", lim != NULL ? lim : &def, true, &r, d);
    json_decref(root);
    if (err != MF_OK) {
        mf_score_req_done(&r);
        return err;
    }
    *ret = r;
    return MF_OK;
}

void mf_score_req_done(mf_score_req *r)
{
    if (r != NULL) {
        mf_free_aligned(r->points);
        r->points = NULL;
        r->n = 0;
    }
}

char *mf_req_scores_body(const char *model, const float *x, size_t n, size_t D)
{
    json_t *o = json_object();
    int f = o == NULL;
    f |= json_object_set_new(o, "model", json_string(model));
    f |= json_object_set_new(o, "points", mf_json_samples(x, n, D));
    return mf_json_take_dump(mf_json_checked(o, f));
}

/* ---- the response ------------------------------------------------------------------ */

json_t *mf_json_scores(const mf_score_view *v)
{
    json_t *o = json_object(), *a = json_array();
    int f = o == NULL || a == NULL;
    size_t outliers = 0;
    for (size_t i = 0; i < v->n && !f; i++) {
        const mf_energy_score *s = &v->scores[i];
        json_t *e = json_object();
        f |= e == NULL;
        f |= json_object_set_new(e, "energy", mf_json_num(s->energy));
        f |= json_object_set_new(e, "percentile", mf_json_num(s->percentile));
        f |= json_object_set_new(e, "outlier", json_boolean(s->outlier));
        f |= json_array_append_new(a, e);
        outliers += s->outlier;
    }
    f |= json_object_set_new(o, "model", json_string(v->model));
    f |= json_object_set_new(o, "n", json_integer((json_int_t) v->n));
    f |= json_object_set_new(o, "threshold", mf_json_num(v->threshold));
    f |= json_object_set_new(o, "outliers", json_integer((json_int_t) outliers));
    f |= json_object_set_new(o, "scores", a);
    return mf_json_checked(o, f);
}

/* A number member, or NAN for null; false when missing or of another type. */
static bool get_num(const json_t *o, const char *key, double *ret)
{
    const json_t *v = json_object_get(o, key);
    *ret = json_is_number(v) ? json_number_value(v) : (double) NAN;
    return json_is_number(v) || json_is_null(v);
}

/* A count member: an integer >= 0. */
static bool get_count(const json_t *o, const char *key, size_t *ret)
{
    const json_t *v = json_object_get(o, key);
    bool ok = json_is_integer(v) && json_integer_value(v) >= 0;
    *ret = ok ? (size_t) json_integer_value(v) : 0;
    return ok;
}

mf_err mf_json_scores_parse(const json_t *j, mf_score_list *ret, mf_diag *d)
{
    memset(ret, 0, sizeof *ret);
    const json_t *a = json_object_get(j, "scores");
    mf_score_list l = {0};
    if (!json_is_array(a) || !get_count(j, "n", &l.n) || !get_count(j, "outliers", &l.outliers) ||
        !get_num(j, "threshold", &l.threshold) || l.n != json_array_size(a)) {
        return mf_diag_set(d, MF_EFORMAT, NULL,
                           "not {\"n\", \"threshold\", \"outliers\", \"scores\": [n scores]}");
    }
    l.scores = calloc(l.n > 0 ? l.n : 1, sizeof *l.scores);
    if (l.scores == NULL) {
        return mf_diag_set(d, MF_ENOMEM, NULL, "out of memory");
    }
    for (size_t i = 0; i < l.n; i++) {
        const json_t *s = json_array_get(a, i), *out = json_object_get(s, "outlier");
        mf_energy_score *e = &l.scores[i];
        if (!get_num(s, "energy", &e->energy) || !get_num(s, "percentile", &e->percentile) ||
            !json_is_boolean(out)) {
            mf_score_list_done(&l);
            return mf_diag_set(d, MF_EFORMAT, NULL,
                               "score %zu is not {\"energy\", \"percentile\", \"outlier\"}", i);
        }
        e->outlier = json_is_true(out);
    }
    *ret = l;
    return MF_OK;
}

void mf_score_list_done(mf_score_list *l)
{
    if (l != NULL) {
        free(l->scores);
        l->scores = NULL;
        l->n = 0;
    }
}
