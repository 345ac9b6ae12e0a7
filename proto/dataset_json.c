/* SPDX-License-Identifier: MIT */
/* dataset_json.c - data sets on the wire (see dataset_json.h). */
#include "dataset_json.h"

#include "api_json.h"
#include "json_util.h"

/* n doubles as a JSON array (each null when not finite), or NULL. */
static json_t *numbers(const double *v, size_t n)
{
    json_t *a = json_array();
    int f = a == NULL;
    for (size_t i = 0; i < n && !f; i++) {
        f |= json_array_append_new(a, mf_json_num(v[i]));
    }
    if (f) {
        json_decref(a);
        return NULL;
    }
    return a;
}

json_t *mf_json_dataset(const mf_dataset_view *v, bool with_stats)
{
    const mf_table *t = v->table;
    json_t *o = json_object();
    int f = o == NULL;
    f |= json_object_set_new(o, "id", json_string(v->id));
    f |= json_object_set_new(o, "builtin", json_boolean(v->builtin));
    f |= json_object_set_new(o, "protected", json_boolean(v->builtin));
    f |= json_object_set_new(o, "dims", json_integer((json_int_t) v->dims));
    f |= json_object_set_new(o, "rows", t != NULL ? mf_json_u64(t->n_rows) : json_null());
    f |= json_object_set_new(o, "labelled_rows",
                             t != NULL ? mf_json_u64(t->n_labelled) : json_null());
    f |= json_object_set_new(o, "bytes", t != NULL ? mf_json_u64(v->bytes) : json_null());
    f |= json_object_set_new(o, "created",
                             t != NULL ? mf_json_time((double) v->created) : json_null());
    if (with_stats) {
        json_t *mean = t != NULL ? numbers(t->mean, t->n_dims) : json_null();
        json_t *std = t != NULL ? numbers(t->std, t->n_dims) : json_null();
        f |= mean == NULL || std == NULL;
        f |= json_object_set_new(o, "mean", mean);
        f |= json_object_set_new(o, "std", std);
    }
    return mf_json_checked(o, f);
}

json_t *mf_json_dataset_list(json_t *datasets)
{
    json_t *o = json_object();
    int f = o == NULL || datasets == NULL;
    f |= json_object_set_new(o, "datasets", datasets);
    return mf_json_checked(o, f);
}

json_t *mf_json_dataset_points(const char *id, const char *source, size_t D, const float *x,
                               size_t n)
{
    json_t *o = json_object();
    json_t *points = mf_json_samples(x, n, D);
    int f = o == NULL || points == NULL;
    f |= json_object_set_new(o, "dataset", json_string(id));
    f |= json_object_set_new(o, "source", json_string(source));
    f |= json_object_set_new(o, "dims", json_integer((json_int_t) D));
    f |= json_object_set_new(o, "n", json_integer((json_int_t) n));
    f |= json_object_set_new(o, "points", points);
    return mf_json_checked(o, f);
}
