/* SPDX-License-Identifier: MIT */
/*
 * safetensors.c - validating reader and writer of the safetensors container.
 *
 * Reading is three steps, each of which may reject the file:
 *   1. the 8-byte length prefix: 2 <= N <= min(100 MiB, len - 8);
 *   2. the header JSON (json_min: strict, duplicate keys rejected, depth and
 *      value count bounded), which must be an object whose members are
 *      "__metadata__" (string -> string) or tensor entries with exactly the
 *      fields dtype ("F32"), shape and data_offsets;
 *   3. the layout: every tensor's byte size 4 * prod(shape) is computed with
 *      overflow checks and must equal end - begin; sorted by offset, the
 *      tensors must tile [0, data_len) exactly, as the reference library
 *      requires (no overlap, no hole, nothing left over).
 * Names quoted in mf_diag go through mf_json_snippet (control characters
 * replaced, cut on a UTF-8 boundary) because they end up in JSON error
 * bodies and logs.
 *
 * Tensor data is raw little-endian f32; the host must be little-endian and
 * use IEEE-754 binary32 floats, which is checked at compile time, so data is
 * copied with memcpy (also safe for unaligned tensors).
 */
#include "safetensors.h"

#include <float.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_min.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#    error "safetensors.c assumes a little-endian host"
#endif
_Static_assert(sizeof(float) == 4 && FLT_MANT_DIG == 24, "F32 must be IEEE-754 binary32");

/* MF_EFORMAT with a message; field is the tensor name or a metadata path. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static mf_err
bad(mf_diag *diag, const char *field, const char *fmt, ...)
{
    if (diag != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(diag->msg, sizeof diag->msg, fmt, ap);
        va_end(ap);
        mf_json_snippet(diag->field, sizeof diag->field, field);
    }
    return MF_EFORMAT;
}

static uint64_t read_le64(const uint8_t *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | b[i];
    }
    return v;
}

static void write_le64(uint8_t *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t) (v >> (8 * i));
    }
}

/* "[2,3]" */
static void format_shape(char *out, size_t cap, const size_t *shape, size_t n_dims)
{
    size_t o = (size_t) snprintf(out, cap, "[");
    for (size_t i = 0; i < n_dims && o < cap; i++) {
        o += (size_t) snprintf(out + o, cap - o, i > 0 ? ",%zu" : "%zu", shape[i]);
    }
    if (o < cap) {
        snprintf(out + o, cap - o, "]");
    }
}

void mf_safetensors_free(mf_safetensors *st)
{
    if (st == NULL) {
        return;
    }
    for (size_t i = 0; st->tensors != NULL && i < st->n_tensors; i++) {
        free(st->tensors[i].name);
    }
    for (size_t i = 0; i < st->n_meta; i++) {
        free(st->meta_keys != NULL ? st->meta_keys[i] : NULL);
        free(st->meta_vals != NULL ? st->meta_vals[i] : NULL);
    }
    free(st->tensors);
    free(st->meta_keys);
    free(st->meta_vals);
    free(st);
}

/* A JSON value that must be a non-negative integer representable as size_t. */
static mf_err get_size(const mf_json *v, const char *tensor, const char *what, size_t index,
                       size_t *ret, mf_diag *diag)
{
    const char *problem = NULL;
    if (v->type != MF_JSON_NUMBER) {
        problem = "is not a number";
    } else if (!v->is_integer) {
        problem = "is not an integer";
    } else if (v->negative && (v->int_overflow || v->magnitude != 0)) {
        problem = "is negative";
    } else if (v->int_overflow || v->magnitude > SIZE_MAX) {
        problem = "is too large";
    }
    if (problem != NULL) {
        return bad(diag, tensor, "%s[%zu] %s", what, index, problem);
    }
    *ret = (size_t) v->magnitude;
    return MF_OK;
}

static mf_err parse_dtype(const mf_json *v, const char *name, mf_diag *diag)
{
    if (v->type != MF_JSON_STRING) {
        return bad(diag, name, "dtype is not a string");
    }
    if (strcmp(v->str, "F32") != 0) {
        char dt[40];
        mf_json_snippet(dt, sizeof dt, v->str);
        return bad(diag, name, "dtype %s not supported, only F32", dt);
    }
    return MF_OK;
}

static mf_err parse_shape(const mf_json *v, mf_safetensors_tensor *t, mf_diag *diag)
{
    if (v->type != MF_JSON_ARRAY) {
        return bad(diag, t->name, "shape is not an array");
    }
    if (v->n_children > MF_SAFETENSORS_MAX_DIMS) {
        return bad(diag, t->name, "shape has %zu dimensions, at most %d supported", v->n_children,
                   MF_SAFETENSORS_MAX_DIMS);
    }
    size_t i = 0, n = 1;
    for (const mf_json *d = v->child; d != NULL; d = d->next, i++) {
        mf_err rc = get_size(d, t->name, "shape", i, &t->shape[i], diag);
        if (rc != MF_OK) {
            return rc;
        }
        if (mf_size_mul(n, t->shape[i], &n) != MF_OK) {
            return bad(diag, t->name, "shape product overflows");
        }
    }
    t->n_dims = i;
    t->n_elems = n;
    return MF_OK;
}

static mf_err parse_offsets(const mf_json *v, mf_safetensors_tensor *t, size_t data_len,
                            mf_diag *diag)
{
    if (v->type != MF_JSON_ARRAY || v->n_children != 2) {
        return bad(diag, t->name, "data_offsets is not an array of 2 integers");
    }
    size_t begin = 0, end = 0, n_bytes = 0;
    mf_err rc = get_size(v->child, t->name, "data_offsets", 0, &begin, diag);
    if (rc == MF_OK) {
        rc = get_size(v->child->next, t->name, "data_offsets", 1, &end, diag);
    }
    if (rc != MF_OK) {
        return rc;
    }
    if (begin > end) {
        return bad(diag, t->name, "data_offsets begin %zu > end %zu", begin, end);
    }
    if (end > data_len) {
        return bad(diag, t->name, "data_offsets end %zu is out of range (data region is %zu bytes)",
                   end, data_len);
    }
    if (mf_size_mul(t->n_elems, sizeof(float), &n_bytes) != MF_OK) {
        return bad(diag, t->name, "tensor byte size overflows");
    }
    if (end - begin != n_bytes) {
        char shape[96];
        format_shape(shape, sizeof shape, t->shape, t->n_dims);
        return bad(diag, t->name,
                   "size mismatch: data_offsets span %zu bytes, shape %s of F32 needs %zu",
                   end - begin, shape, n_bytes);
    }
    t->begin = begin;
    t->end = end;
    return MF_OK;
}

/* One "name": {"dtype", "shape", "data_offsets"} entry. */
static mf_err parse_tensor(const mf_json *v, mf_safetensors_tensor *t, size_t data_len,
                           mf_diag *diag)
{
    if (v->type != MF_JSON_OBJECT) {
        return bad(diag, t->name, "tensor entry is not an object");
    }
    const mf_json *dtype = NULL, *shape = NULL, *offsets = NULL;
    for (const mf_json *f = v->child; f != NULL; f = f->next) {
        if (strcmp(f->key, "dtype") == 0) {
            dtype = f;
        } else if (strcmp(f->key, "shape") == 0) {
            shape = f;
        } else if (strcmp(f->key, "data_offsets") == 0) {
            offsets = f;
        } else {
            char key[40];
            mf_json_snippet(key, sizeof key, f->key);
            return bad(diag, t->name, "unknown field \"%s\" in tensor entry", key);
        }
    }
    const char *missing = dtype == NULL     ? "dtype"
                          : shape == NULL   ? "shape"
                          : offsets == NULL ? "data_offsets"
                                            : NULL;
    if (missing != NULL) {
        return bad(diag, t->name, "tensor entry is missing \"%s\"", missing);
    }
    mf_err rc = parse_dtype(dtype, t->name, diag);
    if (rc == MF_OK) {
        rc = parse_shape(shape, t, diag);
    }
    if (rc == MF_OK) {
        rc = parse_offsets(offsets, t, data_len, diag);
    }
    return rc;
}

static mf_err parse_metadata(const mf_json *v, mf_safetensors *st, mf_diag *diag)
{
    if (v->type != MF_JSON_OBJECT) {
        return bad(diag, "__metadata__", "__metadata__ is not an object");
    }
    st->meta_keys = calloc(v->n_children > 0 ? v->n_children : 1, sizeof *st->meta_keys);
    st->meta_vals = calloc(v->n_children > 0 ? v->n_children : 1, sizeof *st->meta_vals);
    if (st->meta_keys == NULL || st->meta_vals == NULL) {
        return mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
    }
    for (const mf_json *m = v->child; m != NULL; m = m->next) {
        if (m->type != MF_JSON_STRING) {
            char field[128], key[40];
            snprintf(field, sizeof field, "__metadata__/%s", m->key);
            mf_json_snippet(key, sizeof key, m->key);
            return bad(diag, field, "metadata value of \"%s\" is not a string", key);
        }
        size_t i = st->n_meta++;
        st->meta_keys[i] = strdup(m->key);
        st->meta_vals[i] = strdup(m->str);
        if (st->meta_keys[i] == NULL || st->meta_vals[i] == NULL) {
            return mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
        }
    }
    return MF_OK;
}

static int compare_ranges(const void *a, const void *b)
{
    const mf_safetensors_tensor *x = *(const mf_safetensors_tensor *const *) a;
    const mf_safetensors_tensor *y = *(const mf_safetensors_tensor *const *) b;
    if (x->begin != y->begin) {
        return x->begin < y->begin ? -1 : 1;
    }
    return x->end < y->end ? -1 : (x->end > y->end ? 1 : 0);
}

/* Sorted by offset, the tensors must tile [0, data_len) exactly. */
static mf_err check_layout(const mf_safetensors *st, mf_diag *diag)
{
    if (st->n_tensors == 0) {
        if (st->data_len != 0) {
            return bad(diag, "", "hole in the data region: %zu bytes but no tensors", st->data_len);
        }
        return MF_OK;
    }
    const mf_safetensors_tensor **order = malloc(st->n_tensors * sizeof *order);
    if (order == NULL) {
        return mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
    }
    for (size_t i = 0; i < st->n_tensors; i++) {
        order[i] = &st->tensors[i];
    }
    qsort(order, st->n_tensors, sizeof *order, compare_ranges);
    mf_err rc = MF_OK;
    size_t pos = 0;
    const mf_safetensors_tensor *prev = NULL;
    for (size_t i = 0; i < st->n_tensors && rc == MF_OK; i++) {
        const mf_safetensors_tensor *t = order[i];
        if (t->begin < pos) {
            char a[48], b[48];
            mf_json_snippet(a, sizeof a, t->name);
            mf_json_snippet(b, sizeof b, prev->name);
            rc = bad(diag, t->name, "tensor %s (bytes %zu..%zu) overlaps %s (bytes %zu..%zu)", a,
                     t->begin, t->end, b, prev->begin, prev->end);
        } else if (t->begin > pos) {
            char a[48];
            mf_json_snippet(a, sizeof a, t->name);
            rc = bad(diag, t->name, "hole in the data region: bytes %zu..%zu before %s are unused",
                     pos, t->begin, a);
        }
        pos = t->end;
        prev = t;
    }
    if (rc == MF_OK && pos != st->data_len) {
        rc = bad(diag, prev->name, "hole in the data region: %zu bytes after the last tensor",
                 st->data_len - pos);
    }
    free(order);
    return rc;
}

/* Step 1: the length prefix.  *ret_n is the header length. */
static mf_err check_prefix(const uint8_t *buf, size_t len, size_t *ret_n, mf_diag *diag)
{
    if (len < 8) {
        return bad(diag, "", "file is %zu bytes, shorter than the 8-byte header length", len);
    }
    uint64_t n = read_le64(buf);
    if (n < 2) {
        return bad(diag, "", "header length %llu is too small (at least 2)",
                   (unsigned long long) n);
    }
    if (n > MF_SAFETENSORS_MAX_HEADER) {
        return bad(diag, "", "header length %llu exceeds the limit of %zu bytes (100 MiB)",
                   (unsigned long long) n, MF_SAFETENSORS_MAX_HEADER);
    }
    if (n > len - 8) {
        return bad(diag, "", "header length %llu exceeds the %zu bytes after the length prefix",
                   (unsigned long long) n, len - 8);
    }
    *ret_n = (size_t) n;
    return MF_OK;
}

/* Step 2a: the header text as a JSON object. */
static mf_err parse_header_json(const uint8_t *buf, size_t n, mf_json_doc **ret, mf_diag *diag)
{
    mf_json_limits lim = {
        .max_bytes = MF_SAFETENSORS_MAX_HEADER,
        .max_depth = MF_SAFETENSORS_MAX_DEPTH,
        .max_values = MF_SAFETENSORS_MAX_VALUES,
    };
    mf_json_error jerr = {0};
    mf_json_doc *doc = NULL;
    mf_err rc = mf_json_parse((const char *) buf + 8, n, &lim, &doc, &jerr);
    if (rc == MF_ENOMEM) {
        return mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory parsing the header");
    }
    if (rc != MF_OK && jerr.dup_key[0] != '\0') {
        char key[48];
        mf_json_snippet(key, sizeof key, jerr.dup_key);
        return bad(diag, jerr.dup_key, "duplicate key \"%s\" in the header (file byte %zu)", key,
                   jerr.offset + 8);
    }
    if (rc != MF_OK) {
        return bad(diag, "", "header is not valid JSON: %s (file byte %zu)", jerr.msg,
                   jerr.offset + 8);
    }
    if (mf_json_doc_root(doc)->type != MF_JSON_OBJECT) {
        mf_json_doc_free(doc);
        return bad(diag, "", "header is not a JSON object");
    }
    *ret = doc;
    return MF_OK;
}

mf_err mf_safetensors_parse(const uint8_t *buf, size_t len, mf_safetensors **ret, mf_diag *diag)
{
    if (ret == NULL || (buf == NULL && len > 0)) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "invalid argument");
    }
    size_t n = 0;
    mf_json_doc *doc = NULL;
    mf_err rc = check_prefix(buf, len, &n, diag);
    if (rc == MF_OK) {
        rc = parse_header_json(buf, n, &doc, diag);
    }
    if (rc != MF_OK) {
        return rc;
    }
    const mf_json *root = mf_json_doc_root(doc);
    mf_safetensors *st = calloc(1, sizeof *st);
    if (st == NULL) {
        rc = mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
        goto done;
    }
    st->data = buf + 8 + n;
    st->data_len = len - 8 - n;
    st->tensors = calloc(root->n_children > 0 ? root->n_children : 1, sizeof *st->tensors);
    if (st->tensors == NULL) {
        rc = mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
        goto done;
    }
    for (const mf_json *m = root->child; m != NULL && rc == MF_OK; m = m->next) {
        if (strcmp(m->key, "__metadata__") == 0) {
            rc = parse_metadata(m, st, diag);
            continue;
        }
        mf_safetensors_tensor *t = &st->tensors[st->n_tensors++];
        t->name = strdup(m->key);
        if (t->name == NULL) {
            rc = mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
            break;
        }
        rc = parse_tensor(m, t, st->data_len, diag);
        t->data = st->data + t->begin;
    }
    if (rc == MF_OK) {
        rc = check_layout(st, diag);
    }
done:
    mf_json_doc_free(doc);
    if (rc != MF_OK) {
        mf_safetensors_free(st);
        return rc;
    }
    *ret = st;
    return MF_OK;
}

const mf_safetensors_tensor *mf_safetensors_find(const mf_safetensors *st, const char *name)
{
    for (size_t i = 0; i < st->n_tensors; i++) {
        if (strcmp(st->tensors[i].name, name) == 0) {
            return &st->tensors[i];
        }
    }
    return NULL;
}

const char *mf_safetensors_get_meta(const mf_safetensors *st, const char *key)
{
    for (size_t i = 0; i < st->n_meta; i++) {
        if (strcmp(st->meta_keys[i], key) == 0) {
            return st->meta_vals[i];
        }
    }
    return NULL;
}

void mf_safetensors_tensor_read(const mf_safetensors_tensor *t, float *out)
{
    if (t->end > t->begin) {
        memcpy(out, t->data, t->end - t->begin);
    }
}

/* ---- writing -------------------------------------------------------------------- */

static int compare_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* The first name that appears twice in names[0..n) (sorted copy), or NULL. */
static mf_err find_duplicate(const char *const *names, size_t n, const char **ret_dup)
{
    *ret_dup = NULL;
    if (n < 2) {
        return MF_OK;
    }
    const char **sorted = malloc(n * sizeof *sorted);
    if (sorted == NULL) {
        return MF_ENOMEM;
    }
    memcpy(sorted, names, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, compare_cstr);
    for (size_t i = 1; i < n && *ret_dup == NULL; i++) {
        if (strcmp(sorted[i - 1], sorted[i]) == 0) {
            *ret_dup = sorted[i];
        }
    }
    free(sorted);
    return MF_OK;
}

/* Checks the entries and computes the byte size of each tensor (sizes[n]) and the total. */
static mf_err check_entries(const mf_safetensors_entry *tensors, size_t n, size_t *sizes,
                            size_t *ret_total, mf_diag *diag)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const mf_safetensors_entry *e = &tensors[i];
        if (e->name == NULL || strcmp(e->name, "__metadata__") == 0 ||
            e->n_dims > MF_SAFETENSORS_MAX_DIMS) {
            return mf_diag_set(diag, MF_EINVAL, e->name, "tensor %zu: bad name or too many dims",
                               i);
        }
        size_t n_elems = 1;
        for (size_t d = 0; d < e->n_dims; d++) {
            if (mf_size_mul(n_elems, e->shape[d], &n_elems) != MF_OK) {
                return mf_diag_set(diag, MF_ERANGE, e->name, "shape product overflows");
            }
        }
        if (mf_size_mul(n_elems, sizeof(float), &sizes[i]) != MF_OK ||
            total > SIZE_MAX - sizes[i]) {
            return mf_diag_set(diag, MF_ERANGE, e->name, "tensor sizes overflow");
        }
        if (sizes[i] > 0 && e->data == NULL) {
            return mf_diag_set(diag, MF_EINVAL, e->name, "tensor data is NULL");
        }
        total += sizes[i];
    }
    *ret_total = total;
    return MF_OK;
}

static mf_err add_tensor_json(mf_json_buf *h, const mf_safetensors_entry *e, size_t begin,
                              size_t end)
{
    mf_err rc = mf_json_buf_add_string(h, e->name, strlen(e->name));
    if (rc == MF_OK) {
        rc = mf_json_buf_add_cstr(h, ":{\"dtype\":\"F32\",\"shape\":[");
    }
    for (size_t d = 0; d < e->n_dims && rc == MF_OK; d++) {
        if (d > 0) {
            rc = mf_json_buf_add(h, ",", 1);
        }
        if (rc == MF_OK) {
            rc = mf_json_buf_add_u64(h, e->shape[d]);
        }
    }
    if (rc == MF_OK) {
        rc = mf_json_buf_add_cstr(h, "],\"data_offsets\":[");
    }
    if (rc == MF_OK) {
        rc = mf_json_buf_add_u64(h, begin);
    }
    if (rc == MF_OK) {
        rc = mf_json_buf_add(h, ",", 1);
    }
    if (rc == MF_OK) {
        rc = mf_json_buf_add_u64(h, end);
    }
    if (rc == MF_OK) {
        rc = mf_json_buf_add(h, "]}", 2);
    }
    return rc;
}

static mf_err build_header(const mf_safetensors_entry *tensors, size_t n_tensors,
                           const size_t *sizes, const char *const *meta_keys,
                           const char *const *meta_vals, size_t n_meta, mf_json_buf *h,
                           mf_diag *diag)
{
    mf_err rc = mf_json_buf_add(h, "{", 1);
    if (rc == MF_OK && n_meta > 0) {
        rc = mf_json_buf_add_cstr(h, "\"__metadata__\":{");
        for (size_t i = 0; i < n_meta && rc == MF_OK; i++) {
            if (meta_keys[i] == NULL || meta_vals[i] == NULL) {
                return mf_diag_set(diag, MF_EINVAL, NULL, "metadata entry %zu is NULL", i);
            }
            rc = i > 0 ? mf_json_buf_add(h, ",", 1) : MF_OK;
            if (rc == MF_OK) {
                rc = mf_json_buf_add_string(h, meta_keys[i], strlen(meta_keys[i]));
            }
            if (rc == MF_OK) {
                rc = mf_json_buf_add(h, ":", 1);
            }
            if (rc == MF_OK) {
                rc = mf_json_buf_add_string(h, meta_vals[i], strlen(meta_vals[i]));
            }
            if (rc == MF_EINVAL) {
                return mf_diag_set(diag, MF_EINVAL, meta_keys[i], "metadata is not valid UTF-8");
            }
        }
        if (rc == MF_OK) {
            rc = mf_json_buf_add(h, "}", 1);
        }
    }
    size_t offset = 0;
    for (size_t i = 0; i < n_tensors && rc == MF_OK; i++) {
        if (n_meta > 0 || i > 0) {
            rc = mf_json_buf_add(h, ",", 1);
        }
        if (rc == MF_OK) {
            rc = add_tensor_json(h, &tensors[i], offset, offset + sizes[i]);
        }
        if (rc == MF_EINVAL) {
            return mf_diag_set(diag, MF_EINVAL, NULL, "tensor name %zu is not valid UTF-8", i);
        }
        offset += sizes[i];
    }
    if (rc == MF_OK) {
        rc = mf_json_buf_add(h, "}", 1);
    }
    /* Pad with spaces so the data region starts 8-byte aligned (Python does the same). */
    while (rc == MF_OK && h->len % 8 != 0) {
        rc = mf_json_buf_add(h, " ", 1);
    }
    if (rc == MF_OK && h->len > MF_SAFETENSORS_MAX_HEADER) {
        rc = MF_ERANGE;
    }
    if (rc != MF_OK) {
        return mf_diag_set(diag, rc, NULL, "cannot build the header: %s", mf_strerror(rc));
    }
    return MF_OK;
}

/* Checks pointers and that tensor names and metadata keys are unique. */
static mf_err check_names(const mf_safetensors_entry *tensors, size_t n_tensors,
                          const char *const *meta_keys, size_t n_meta, mf_diag *diag)
{
    const char **names = malloc((n_tensors > 0 ? n_tensors : 1) * sizeof *names);
    if (names == NULL) {
        return mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
    }
    for (size_t i = 0; i < n_tensors; i++) {
        names[i] = tensors[i].name != NULL ? tensors[i].name : "";
    }
    const char *dup = NULL, *dup_meta = NULL;
    mf_err rc = find_duplicate(names, n_tensors, &dup);
    free(names);
    for (size_t i = 0; i < n_meta && rc == MF_OK; i++) {
        if (meta_keys[i] == NULL) {
            return mf_diag_set(diag, MF_EINVAL, NULL, "metadata key %zu is NULL", i);
        }
    }
    if (rc == MF_OK && dup == NULL) {
        rc = find_duplicate(meta_keys, n_meta, &dup_meta);
    }
    if (rc != MF_OK) {
        return mf_diag_set(diag, rc, NULL, "out of memory");
    }
    if (dup != NULL || dup_meta != NULL) {
        return mf_diag_set(diag, MF_EINVAL, dup != NULL ? dup : dup_meta, "duplicate %s",
                           dup != NULL ? "tensor name" : "metadata key");
    }
    return MF_OK;
}

mf_err mf_safetensors_write(const mf_safetensors_entry *tensors, size_t n_tensors,
                            const char *const *meta_keys, const char *const *meta_vals,
                            size_t n_meta, uint8_t **ret_buf, size_t *ret_len, mf_diag *diag)
{
    if (ret_buf == NULL || ret_len == NULL || (n_tensors > 0 && tensors == NULL) ||
        (n_meta > 0 && (meta_keys == NULL || meta_vals == NULL)) ||
        n_tensors > SIZE_MAX / sizeof(size_t)) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "invalid argument");
    }
    mf_json_buf h = {0};
    uint8_t *buf = NULL;
    size_t total_data = 0;
    size_t *sizes = malloc((n_tensors > 0 ? n_tensors : 1) * sizeof *sizes);
    if (sizes == NULL) {
        return mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
    }
    mf_err rc = check_names(tensors, n_tensors, meta_keys, n_meta, diag);
    if (rc == MF_OK) {
        rc = check_entries(tensors, n_tensors, sizes, &total_data, diag);
    }
    if (rc == MF_OK) {
        rc = build_header(tensors, n_tensors, sizes, meta_keys, meta_vals, n_meta, &h, diag);
    }
    if (rc != MF_OK) {
        goto done;
    }
    if (total_data > SIZE_MAX - 8 - h.len) {
        rc = mf_diag_set(diag, MF_ERANGE, NULL, "file size overflows");
        goto done;
    }
    size_t len = 8 + h.len + total_data;
    buf = malloc(len);
    if (buf == NULL) {
        rc = mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory for %zu bytes", len);
        goto done;
    }
    write_le64(buf, h.len);
    memcpy(buf + 8, h.data, h.len);
    size_t at = 8 + h.len;
    for (size_t i = 0; i < n_tensors; i++) {
        if (sizes[i] > 0) {
            memcpy(buf + at, tensors[i].data, sizes[i]); /* host is little-endian */
        }
        at += sizes[i];
    }
    *ret_buf = buf;
    *ret_len = len;
    buf = NULL;
done:
    free(buf);
    free(sizes);
    mf_json_buf_deinit(&h);
    return rc;
}
