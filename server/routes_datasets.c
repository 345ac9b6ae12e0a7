/* SPDX-License-Identifier: MIT */
/*
 * routes_datasets.c - /v1/datasets: upload, list, describe, delete.
 *
 * An upload's format is its Content-Type: text/csv, application/x-ndjson or
 * application/octet-stream (.npy); core/data_file.h parses it under the
 * daemon's limits, datasets.h stores it.  A malformed file is 422
 * invalid_dataset and a file over a limit 413 too_large, both with the line
 * or byte core names, as the error's field and at the start of its message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_json.h"
#include "dataset_json.h"
#include "datasets.h"
#include "http_req.h"
#include "log.h"
#include "request_json.h"
#include "routes.h"

/* The media type of each format an upload may have. */
static const struct {
    const char *type;
    mf_data_format fmt;
} media[] = {
    {"text/csv", MF_DATA_CSV},
    {"application/x-ndjson", MF_DATA_NDJSON},
    {"application/octet-stream", MF_DATA_NPY},
};

static mf_datasets *datasets_of(req *r)
{
    return mf_registry_datasets(r->srv->reg);
}

/* The data set of id as r's key may see it (referenced), or NULL. */
static mf_reg_dataset *visible(req *r, mf_datasets *ds, const char *id)
{
    mf_reg_dataset *e = ds != NULL ? mf_datasets_get(ds, id) : NULL;
    if (e != NULL && !mf_req_may_see(r, e->owner)) {
        mf_datasets_release(ds, e);
        e = NULL;
    }
    return e;
}

static json_t *dataset_json(const mf_reg_dataset *e, bool with_stats)
{
    mf_dataset_view v = {
        .id = e->id,
        .builtin = e->builtin,
        .dims = e->builtin ? mf_dataset_dim(e->builtin_id) : e->table->n_dims,
        .table = e->table,
        .bytes = e->file_bytes,
        .created = e->created,
    };
    return mf_json_dataset(&v, with_stats);
}

enum MHD_Result mf_route_datasets_list(req *r)
{
    mf_datasets *ds = datasets_of(r);
    mf_reg_dataset **items = NULL;
    size_t n = 0;
    if (ds == NULL || mf_datasets_list(ds, &items, &n) != MF_OK) {
        return mf_http_error(r, "internal", NULL, "out of memory");
    }
    json_t *a = json_array();
    int f = a == NULL;
    for (size_t i = 0; i < n; i++) {
        if (!f && mf_req_may_see(r, items[i]->owner)) {
            f |= json_array_append_new(a, dataset_json(items[i], false));
        }
        mf_datasets_release(ds, items[i]);
    }
    free(items);
    if (f) {
        json_decref(a);
        return mf_http_error(r, "internal", NULL, "out of memory");
    }
    return mf_http_json(r, 200, mf_json_take_dump(mf_json_dataset_list(a)));
}

enum MHD_Result mf_route_dataset_get(req *r)
{
    mf_datasets *ds = datasets_of(r);
    mf_reg_dataset *e = visible(r, ds, r->path_id);
    if (e == NULL) {
        return mf_http_error(r, "not_found", NULL, "no dataset with id %s", r->path_id);
    }
    char *body = mf_json_take_dump(dataset_json(e, true));
    mf_datasets_release(ds, e);
    return mf_http_json(r, 200, body);
}

/*
 * The n points GET /v1/datasets/{id}/points answers with, into a new (n, D) array: a
 * built-in set's first n held-out points (digits has 297), an upload's rows spread evenly
 * over the table (row floor(i N / n)), so a preview sees all of it.  *ret_n: the count.
 */
static float *points_of(const mf_reg_dataset *e, size_t n, size_t D, size_t *ret_n)
{
    if (e->builtin && e->builtin_id == MF_DATASET_DIGITS && n > MF_DATASET_DIGITS_N_HELDOUT) {
        n = MF_DATASET_DIGITS_N_HELDOUT;
    }
    if (!e->builtin && n > e->table->n_rows) {
        n = e->table->n_rows;
    }
    float *x = malloc(n * D * sizeof *x);
    if (x == NULL) {
        return NULL;
    }
    if (e->builtin) {
        if (mf_dataset_heldout(e->builtin_id, x, n) != MF_OK) {
            free(x);
            return NULL;
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            size_t row = (size_t) ((uint64_t) i * e->table->n_rows / n);
            memcpy(x + i * D, e->table->x + row * D, D * sizeof *x);
        }
    }
    *ret_n = n;
    return x;
}

enum MHD_Result mf_route_dataset_points(req *r)
{
    size_t max_n = mf_sched_limits(r->srv->sched)->max_n, want = 1000 < max_n ? 1000 : max_n;
    const char *arg = mf_http_arg(r, "n");
    if (arg != NULL) {
        char *end;
        long v = strtol(arg, &end, 10);
        if (*arg == '\0' || *end != '\0' || v < 1 || (unsigned long) v > max_n) {
            return mf_http_error(r, "out_of_range", "n", "n must be an integer between 1 and %zu",
                                 max_n);
        }
        want = (size_t) v;
    }
    mf_datasets *ds = datasets_of(r);
    mf_reg_dataset *e = visible(r, ds, r->path_id);
    if (e == NULL) {
        return mf_http_error(r, "not_found", NULL, "no dataset with id %s", r->path_id);
    }
    size_t D = e->builtin ? mf_dataset_dim(e->builtin_id) : e->table->n_dims, n = 0;
    float *x = points_of(e, want, D, &n);
    char *body = x != NULL ? mf_json_take_dump(mf_json_dataset_points(
                                 e->id, e->builtin ? "heldout" : "rows", D, x, n))
                           : NULL;
    mf_datasets_release(ds, e);
    free(x);
    return mf_http_json(r, 200, body); /* NULL: the out-of-memory 500 */
}

enum MHD_Result mf_route_dataset_delete(req *r)
{
    const char *id = r->path_id;
    mf_datasets *ds = datasets_of(r);
    mf_reg_dataset *e = visible(r, ds, id);
    if (e == NULL) {
        return mf_http_error(r, "not_found", NULL, "no dataset with id %s", id);
    }
    bool may = e->builtin || mf_req_may_change(r, e->owner);
    mf_datasets_release(ds, e);
    if (!may) {
        return mf_http_error(r, "forbidden", NULL,
                             "dataset %s belongs to no API key: only an admin key deletes it", id);
    }
    mf_err err = mf_datasets_delete(ds, id);
    if (err == MF_ENOTFOUND) {
        return mf_http_error(r, "not_found", NULL, "no dataset with id %s", id);
    }
    if (err == MF_EBUSY) {
        return mf_http_error(r, "protected", NULL, "dataset %s is built in and cannot be deleted",
                             id);
    }
    if (err != MF_OK) {
        return mf_http_error(r, "store", NULL, "cannot delete dataset %s", id);
    }
    mf_log(MF_LOG_INFO, r->id, NULL, "dataset %s deleted", id);
    return mf_http_queue(r, 204,
                         MHD_create_response_from_buffer(0, (void *) "", MHD_RESPMEM_PERSISTENT));
}

/* The format of the request's Content-Type; false (and a 415 to send) for another. */
static bool format_of(req *r, mf_data_format *ret)
{
    for (size_t i = 0; i < sizeof media / sizeof media[0]; i++) {
        if (mf_http_content_type_is(r, media[i].type)) {
            *ret = media[i].fmt;
            return true;
        }
    }
    return false;
}

/* The answer to a body core would not take: 413 over a limit, 422 malformed. */
static enum MHD_Result refuse(req *r, mf_data_format fmt, mf_err err, const mf_diag *d)
{
    const char *field = d->field[0] != '\0' ? d->field : NULL;
    if (err == MF_ENOMEM) {
        return mf_http_error(r, "internal", NULL, "out of memory");
    }
    if (err == MF_ERANGE) {
        return mf_http_error(r, "too_large", field, "%s", d->msg);
    }
    return mf_http_error(r, "invalid_dataset", field, "%s (not a valid %s dataset)", d->msg,
                         mf_data_format_name(fmt));
}

enum MHD_Result mf_route_datasets_upload(req *r)
{
    const char *id = mf_http_arg(r, "id");
    if (id == NULL) {
        return mf_http_error(r, "missing_field", "id",
                             "upload needs the dataset id as a query argument: "
                             "POST /v1/datasets?id=NAME");
    }
    if (!mf_req_id_valid(id)) {
        return mf_http_error(r, "bad_value", "id",
                             "the dataset id must match [a-z0-9][a-z0-9._-]{0,63}");
    }
    mf_dataset_id builtin;
    if (mf_dataset_lookup(id, &builtin) == MF_OK) {
        return mf_http_error(r, "protected", "id",
                             "%s is a built-in dataset; upload under another id", id);
    }
    mf_data_format fmt;
    if (!format_of(r, &fmt)) {
        const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
        return mf_http_error(r, "unsupported_media_type", NULL,
                             "send the dataset as text/csv, application/x-ndjson or "
                             "application/octet-stream (.npy), not %.60s",
                             ct != NULL ? ct : "a body without Content-Type");
    }
    mf_datasets *ds = datasets_of(r);
    if (ds == NULL) {
        return mf_http_error(r, "internal", NULL, "this daemon has no dataset store");
    }
    enum MHD_Result refused;
    if (!mf_http_storage(r, r->len, &refused)) { /* the upload's size: the stored file's bound */
        return refused;
    }
    mf_table *t = NULL;
    mf_diag d = {0};
    mf_err err =
        mf_data_parse(fmt, (const uint8_t *) r->body, r->len, mf_datasets_limits(ds), &t, &d);
    if (err != MF_OK) {
        return refuse(r, fmt, err, &d);
    }
    err = mf_datasets_add(ds, id, t, mf_req_owner(r), &d);
    if (err != MF_OK) {
        mf_table_free(t);
        if (err == MF_EBUSY) {
            return mf_http_error(r, "exists", "id", "a dataset with id %s exists already", id);
        }
        char what[96];
        snprintf(what, sizeof what, "dataset %s", id);
        return mf_http_store_fail(r, "dataset store", what, err, &d);
    }
    mf_log(MF_LOG_INFO, r->id, NULL, "dataset %s uploaded (%s, %zu bytes)", id,
           mf_data_format_name(fmt), r->len);
    mf_reg_dataset *e = mf_datasets_get(ds, id);
    if (e == NULL) {
        return mf_http_error(r, "conflict", "id", "dataset %s was deleted meanwhile", id);
    }
    snprintf(r->location, sizeof r->location, "/v1/datasets/%s", id);
    char *body = mf_json_take_dump(dataset_json(e, true));
    mf_datasets_release(ds, e);
    return mf_http_json(r, 201, body);
}
