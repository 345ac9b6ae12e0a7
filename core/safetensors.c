/* SPDX-License-Identifier: MIT */
/*
 * safetensors.c - validating reader and writer of the safetensors container.
 *
 * Reading is three steps, each of which may reject the file:
 *   1. the 8-byte length prefix: 2 <= N <= min(100 MiB, len - 8);
 *   2. the header JSON, which must be an object whose members are
 *      "__metadata__" (string -> string) or tensor entries with exactly the
 *      fields dtype ("F32"), shape and data_offsets.  A cheap scan of the raw
 *      text first bounds the nesting depth and the number of values, so a
 *      100 MiB header of "[0,0,0,..." cannot make jansson allocate gigabytes;
 *      jansson then parses it strictly (duplicate keys, "\u0000", trailing
 *      bytes and invalid UTF-8 rejected);
 *   3. the layout: every tensor's byte size 4 * prod(shape) is computed with
 *      overflow checks and must equal end - begin; sorted by offset, the
 *      tensors must tile [0, data_len) exactly, as the reference library
 *      requires (no overlap, no hole, nothing left over).
 * Names and jansson error texts quoted in mf_diag go through mf_utf8_snippet
 * (control characters and invalid bytes replaced, cut on a UTF-8 boundary)
 * because they end up in JSON error bodies and logs.
 *
 * Writing builds the header with jansson too (compact, keys in insertion
 * order), so everything written here reads back with the same rules.
 *
 * Tensor data is raw little-endian f32; the host must be little-endian and
 * use IEEE-754 binary32 floats, which is checked at compile time, so data is
 * copied with memcpy (also safe for unaligned tensors).
 */
#include "safetensors.h"

#include <float.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "utf8.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#    error "safetensors.c assumes a little-endian host"
#endif
_Static_assert(sizeof(float) == 4 && FLT_MANT_DIG == 24, "F32 must be IEEE-754 binary32");
#if !JSON_INTEGER_IS_LONG_LONG
#    error "header integers need jansson's json_int_t to be long long (int64)"
#endif

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
        mf_utf8_snippet(diag->field, sizeof diag->field, field);
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

void mf_safetensors_format_shape(char *out, size_t cap, const size_t *shape, size_t n_dims)
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

/* True when x (>= 0) fits size_t; always so on 64-bit hosts, where json_int_t is no wider. */
static bool fits_size(json_int_t x)
{
#if SIZE_MAX < LLONG_MAX
    return (unsigned long long) x <= SIZE_MAX;
#else
    (void) x;
    return true;
#endif
}

/*
 * A JSON value that must be a non-negative integer representable as size_t.
 * jansson keeps the lexical distinction these checks rely on: "4" is an
 * integer, "4.0" and "4e0" are reals (not integers, even when whole), and an
 * integer beyond int64 fails the parse itself (see json_problem).
 */
static mf_err get_size(const json_t *v, const char *tensor, const char *what, size_t index,
                       size_t *ret, mf_diag *diag)
{
    const char *problem = NULL;
    json_int_t x = json_integer_value(v); /* 0 when v is not an integer */
    if (json_is_real(v)) {
        problem = "is not an integer";
    } else if (!json_is_integer(v)) {
        problem = "is not a number";
    } else if (x < 0) {
        problem = "is negative";
    } else if (!fits_size(x)) {
        problem = "is too large";
    }
    if (problem != NULL) {
        return bad(diag, tensor, "%s[%zu] %s", what, index, problem);
    }
    *ret = (size_t) x;
    return MF_OK;
}

static mf_err parse_dtype(const json_t *v, const char *name, mf_diag *diag)
{
    if (!json_is_string(v)) {
        return bad(diag, name, "dtype is not a string");
    }
    if (strcmp(json_string_value(v), "F32") != 0) {
        char dt[40];
        mf_utf8_snippet(dt, sizeof dt, json_string_value(v));
        return bad(diag, name, "dtype %s not supported, only F32", dt);
    }
    return MF_OK;
}

static mf_err parse_shape(const json_t *v, mf_safetensors_tensor *t, mf_diag *diag)
{
    if (!json_is_array(v)) {
        return bad(diag, t->name, "shape is not an array");
    }
    size_t n_dims = json_array_size(v), n = 1;
    if (n_dims > MF_SAFETENSORS_MAX_DIMS) {
        return bad(diag, t->name, "shape has %zu dimensions, at most %d supported", n_dims,
                   MF_SAFETENSORS_MAX_DIMS);
    }
    for (size_t i = 0; i < n_dims; i++) {
        mf_err rc = get_size(json_array_get(v, i), t->name, "shape", i, &t->shape[i], diag);
        if (rc != MF_OK) {
            return rc;
        }
        if (mf_size_mul(n, t->shape[i], &n) != MF_OK) {
            return bad(diag, t->name, "shape product overflows");
        }
    }
    t->n_dims = n_dims;
    t->n_elems = n;
    return MF_OK;
}

static mf_err parse_offsets(const json_t *v, mf_safetensors_tensor *t, size_t data_len,
                            mf_diag *diag)
{
    if (!json_is_array(v) || json_array_size(v) != 2) {
        return bad(diag, t->name, "data_offsets is not an array of 2 integers");
    }
    size_t begin = 0, end = 0, n_bytes = 0;
    mf_err rc = get_size(json_array_get(v, 0), t->name, "data_offsets", 0, &begin, diag);
    if (rc == MF_OK) {
        rc = get_size(json_array_get(v, 1), t->name, "data_offsets", 1, &end, diag);
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
        mf_safetensors_format_shape(shape, sizeof shape, t->shape, t->n_dims);
        return bad(diag, t->name,
                   "size mismatch: data_offsets span %zu bytes, shape %s of F32 needs %zu",
                   end - begin, shape, n_bytes);
    }
    t->begin = begin;
    t->end = end;
    return MF_OK;
}

/* One "name": {"dtype", "shape", "data_offsets"} entry. */
static mf_err parse_tensor(json_t *v, mf_safetensors_tensor *t, size_t data_len, mf_diag *diag)
{
    if (!json_is_object(v)) {
        return bad(diag, t->name, "tensor entry is not an object");
    }
    const json_t *dtype = NULL, *shape = NULL, *offsets = NULL;
    const char *key;
    json_t *f;
    json_object_foreach(v, key, f)
    {
        if (strcmp(key, "dtype") == 0) {
            dtype = f;
        } else if (strcmp(key, "shape") == 0) {
            shape = f;
        } else if (strcmp(key, "data_offsets") == 0) {
            offsets = f;
        } else {
            char shown[40];
            mf_utf8_snippet(shown, sizeof shown, key);
            return bad(diag, t->name, "unknown field \"%s\" in tensor entry", shown);
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

/* Keys and values are C strings: jansson rejected "\u0000" and invalid UTF-8 while parsing. */
static mf_err parse_metadata(json_t *v, mf_safetensors *st, mf_diag *diag)
{
    if (!json_is_object(v)) {
        return bad(diag, "__metadata__", "__metadata__ is not an object");
    }
    size_t n = json_object_size(v);
    st->meta_keys = calloc(n > 0 ? n : 1, sizeof *st->meta_keys);
    st->meta_vals = calloc(n > 0 ? n : 1, sizeof *st->meta_vals);
    if (st->meta_keys == NULL || st->meta_vals == NULL) {
        return mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
    }
    const char *key;
    json_t *m;
    json_object_foreach(v, key, m)
    {
        if (!json_is_string(m)) {
            char field[128], shown[40];
            snprintf(field, sizeof field, "__metadata__/%s", key);
            mf_utf8_snippet(shown, sizeof shown, key);
            return bad(diag, field, "metadata value of \"%s\" is not a string", shown);
        }
        size_t i = st->n_meta++;
        st->meta_keys[i] = strdup(key);
        st->meta_vals[i] = strdup(json_string_value(m));
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
            mf_utf8_snippet(a, sizeof a, t->name);
            mf_utf8_snippet(b, sizeof b, prev->name);
            rc = bad(diag, t->name, "tensor %s (bytes %zu..%zu) overlaps %s (bytes %zu..%zu)", a,
                     t->begin, t->end, b, prev->begin, prev->end);
        } else if (t->begin > pos) {
            char a[48];
            mf_utf8_snippet(a, sizeof a, t->name);
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

/*
 * Step 2a: bounds on the raw header text, checked before jansson allocates
 * anything.  jansson builds a tree node per value (an empty object costs a
 * hash table of ~200 bytes), so without this a 100 MiB header of "{},{},..."
 * would cost gigabytes.  Outside strings every value is the root, follows a
 * ',' or is the first in its container, so 1 + #',' + #(non-empty containers)
 * is the number of values (exact for valid JSON; jansson rejects the rest).
 * The same walk bounds the nesting depth at MF_SAFETENSORS_MAX_DEPTH (3: top
 * object -> tensor entry or __metadata__ -> shape / data_offsets array).
 * jansson would stop at its own JSON_PARSER_MAX_DEPTH (2048), so its
 * recursion could not exhaust the stack anyway, but nothing legitimate nests
 * deeper than 3.  The walk does not validate: jansson does that next.
 */
static mf_err check_header_bounds(const uint8_t *h, size_t n, mf_diag *diag)
{
    size_t depth = 0, n_values = 1;
    bool in_string = false, opened = false; /* opened: the last token was '[' or '{' */
    for (size_t i = 0; i < n; i++) {
        uint8_t c = h[i];
        if (in_string) {
            if (c == '\\') {
                i++; /* the escaped byte cannot end the string */
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            continue;
        }
        if (opened && c != ']' && c != '}') {
            n_values++; /* the first value (or member) of the container just opened */
        }
        opened = false;
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > MF_SAFETENSORS_MAX_DEPTH) {
                return bad(diag, "",
                           "header nesting deeper than %d levels at file byte %zu (a safetensors "
                           "header is an object of objects of arrays)",
                           MF_SAFETENSORS_MAX_DEPTH, i + 8);
            }
            opened = true;
        } else if (c == ']' || c == '}') {
            depth -= depth > 0;
        } else if (c == ',') {
            n_values++;
        }
        if (n_values > MF_SAFETENSORS_MAX_VALUES) {
            return bad(diag, "", "header has more than %zu JSON values (file byte %zu)",
                       MF_SAFETENSORS_MAX_VALUES, i + 8);
        }
    }
    return MF_OK;
}

/* What a jansson error code means for a header, as the lead of the message. */
static const char *json_problem(enum json_error_code code)
{
    switch (code) {
    case json_error_premature_end_of_input:
        return "header is not valid JSON: unexpected end of input";
    case json_error_end_of_input_expected:
        return "header is not valid JSON: trailing characters after the top-level value";
    case json_error_invalid_utf8:
        return "header is not valid JSON: invalid UTF-8";
    case json_error_null_character:
    case json_error_null_byte_in_key:
        return "header has a NUL character (\\u0000) in a string";
    case json_error_numeric_overflow:
        /* Integers go through strtoll: above 2^63 - 1 is beyond any real file size. */
        return "header has a number too large (integers at most 2^63 - 1)";
    case json_error_stack_overflow: /* not reached: check_header_bounds caps depth at 3 */
        return "header nesting too deep";
    default:
        return "header is not valid JSON";
    }
}

/*
 * jansson reports a duplicate key with the stream just past the key's closing
 * quote (text[end - 1]) and quotes it only when short, so the key is found in
 * the text: its opening quote is the first '"' before that is not escaped,
 * i.e. not preceded by an odd run of backslashes (the literal is valid JSON,
 * so no unescaped quote lies inside it).  The literal is decoded with jansson.
 */
static mf_err duplicate_key(const char *text, size_t n, size_t end, mf_diag *diag)
{
    json_t *key = NULL;
    size_t i = end > 0 && end <= n ? end - 1 : 0;
    if (i > 0 && text[i] == '"') {
        while (i-- > 0) {
            if (text[i] != '"') {
                continue;
            }
            size_t run = 0;
            while (run < i && text[i - 1 - run] == '\\') {
                run++;
            }
            if (run % 2 == 0) {
                key = json_loadb(text + i, end - i, JSON_DECODE_ANY, NULL);
                break;
            }
        }
    }
    mf_err rc;
    if (json_is_string(key)) {
        char shown[48];
        mf_utf8_snippet(shown, sizeof shown, json_string_value(key));
        rc = bad(diag, json_string_value(key), "duplicate key \"%s\" in the header (file byte %zu)",
                 shown, i + 8);
    } else {
        rc = bad(diag, "", "duplicate key in the header (before file byte %zu)", end + 8);
    }
    json_decref(key);
    return rc;
}

/* Step 2b: the header text as a JSON object.  *ret is the root (json_decref it). */
static mf_err parse_header_json(const uint8_t *buf, size_t n, json_t **ret, mf_diag *diag)
{
    const char *text = (const char *) buf + 8;
    mf_err rc = check_header_bounds(buf + 8, n, diag);
    if (rc != MF_OK) {
        return rc;
    }
    /*
     * Strict: duplicate keys rejected, no JSON_ALLOW_NUL (every string is a C
     * string), and no JSON_DISABLE_EOF_CHECK (trailing bytes, even NUL
     * padding, rejected).  JSON_DECODE_ANY only so that a scalar header gets
     * the clearer "not a JSON object" below.
     */
    json_error_t jerr;
    memset(&jerr, 0, sizeof jerr);
    json_t *root = json_loadb(text, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (root == NULL) {
        size_t at = jerr.position > 0 ? (size_t) jerr.position : 0;
        enum json_error_code code = json_error_code(&jerr);
        if (jerr.text[0] == '\0' || code == json_error_out_of_memory) {
            /* jansson's allocation failures leave the error empty. */
            return mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory parsing the header");
        }
        if (code == json_error_duplicate_key) {
            return duplicate_key(text, n, at, diag);
        }
        /* jansson's text may quote the input ("near '...'"): only valid UTF-8 leaves here. */
        char detail[96];
        mf_utf8_snippet(detail, sizeof detail, jerr.text);
        return bad(diag, "", "%s: %s (stopped at file byte %zu)", json_problem(code), detail,
                   at + 8);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return bad(diag, "", "header is not a JSON object");
    }
    *ret = root;
    return MF_OK;
}

mf_err mf_safetensors_parse(const uint8_t *buf, size_t len, mf_safetensors **ret, mf_diag *diag)
{
    if (ret == NULL || (buf == NULL && len > 0)) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "invalid argument");
    }
    size_t n = 0;
    json_t *root = NULL;
    mf_err rc = check_prefix(buf, len, &n, diag);
    if (rc == MF_OK) {
        rc = parse_header_json(buf, n, &root, diag);
    }
    if (rc != MF_OK) {
        return rc;
    }
    size_t n_members = json_object_size(root);
    mf_safetensors *st = calloc(1, sizeof *st);
    if (st == NULL) {
        rc = mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
        goto done;
    }
    st->data = buf + 8 + n;
    st->data_len = len - 8 - n;
    st->tensors = calloc(n_members > 0 ? n_members : 1, sizeof *st->tensors);
    if (st->tensors == NULL) {
        rc = mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
        goto done;
    }
    /* Members come in header order: jansson objects keep insertion order. */
    const char *key;
    json_t *m;
    json_object_foreach(root, key, m)
    {
        if (strcmp(key, "__metadata__") == 0) {
            rc = parse_metadata(m, st, diag);
        } else {
            mf_safetensors_tensor *t = &st->tensors[st->n_tensors++];
            t->name = strdup(key);
            rc = t->name != NULL ? parse_tensor(m, t, st->data_len, diag)
                                 : mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
            t->data = st->data + t->begin;
        }
        if (rc != MF_OK) {
            break;
        }
    }
    if (rc == MF_OK) {
        rc = check_layout(st, diag);
    }
done:
    json_decref(root);
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

/*
 * The reader takes integers through jansson's json_int_t (int64), so nothing
 * larger is written: a file this writer makes always reads back.
 */
static bool fits_json_int(size_t x)
{
    return (unsigned long long) x <= (unsigned long long) LLONG_MAX;
}

/* Checks the entries and computes the byte size of each tensor (sizes[n]) and the total. */
static mf_err check_entries(const mf_safetensors_entry *tensors, size_t n, size_t *sizes,
                            size_t *ret_total, mf_diag *diag)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const mf_safetensors_entry *e = &tensors[i];
        if (e->name == NULL || strcmp(e->name, "__metadata__") == 0) {
            return mf_diag_set(diag, MF_EINVAL, NULL, "tensor %zu: name is NULL or __metadata__",
                               i);
        }
        if (!mf_utf8_valid(e->name, strlen(e->name))) {
            return mf_diag_set(diag, MF_EINVAL, NULL, "tensor name %zu is not valid UTF-8", i);
        }
        if (e->n_dims > MF_SAFETENSORS_MAX_DIMS) {
            return mf_diag_set(diag, MF_EINVAL, e->name, "%zu dimensions, at most %d supported",
                               e->n_dims, MF_SAFETENSORS_MAX_DIMS);
        }
        size_t n_elems = 1;
        for (size_t d = 0; d < e->n_dims; d++) {
            if (mf_size_mul(n_elems, e->shape[d], &n_elems) != MF_OK) {
                return mf_diag_set(diag, MF_ERANGE, e->name, "shape product overflows");
            }
            if (!fits_json_int(e->shape[d])) {
                return mf_diag_set(diag, MF_ERANGE, e->name,
                                   "dimension %zu is %zu, more than a header integer can hold "
                                   "(2^63 - 1)",
                                   d, e->shape[d]);
            }
        }
        if (mf_size_mul(n_elems, sizeof(float), &sizes[i]) != MF_OK ||
            total > SIZE_MAX - sizes[i] || !fits_json_int(total + sizes[i])) {
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

/*
 * {"dtype":"F32","shape":[...],"data_offsets":[begin,end]}, or NULL when out
 * of memory.  The arrays are added with json_object_set (t takes its own
 * reference) and released here, so every path frees them the same way.
 */
static json_t *tensor_json(const mf_safetensors_entry *e, size_t begin, size_t end)
{
    json_t *t = json_object(), *shape = json_array(), *offsets = json_array();
    bool ok = t != NULL && shape != NULL && offsets != NULL;
    for (size_t d = 0; d < e->n_dims && ok; d++) {
        ok = json_array_append_new(shape, json_integer((json_int_t) e->shape[d])) == 0;
    }
    ok = ok && json_array_append_new(offsets, json_integer((json_int_t) begin)) == 0 &&
         json_array_append_new(offsets, json_integer((json_int_t) end)) == 0 &&
         json_object_set_new(t, "dtype", json_string("F32")) == 0 &&
         json_object_set(t, "shape", shape) == 0 &&
         json_object_set(t, "data_offsets", offsets) == 0;
    json_decref(shape);
    json_decref(offsets);
    if (!ok) {
        json_decref(t);
        return NULL;
    }
    return t;
}

/* "__metadata__":{...}, added to root; MF_EINVAL for a NULL or non-UTF-8 entry. */
static mf_err add_metadata(json_t *root, const char *const *meta_keys, const char *const *meta_vals,
                           size_t n_meta, mf_diag *diag)
{
    json_t *meta = json_object();
    /* root owns meta from here on (set_new), also on failure; meta stays borrowed. */
    if (json_object_set_new(root, "__metadata__", meta) != 0) {
        return mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
    }
    for (size_t i = 0; i < n_meta; i++) {
        if (meta_vals[i] == NULL) {
            return mf_diag_set(diag, MF_EINVAL, NULL, "metadata entry %zu is NULL", i);
        }
        bool key_ok = mf_utf8_valid(meta_keys[i], strlen(meta_keys[i]));
        if (!key_ok || !mf_utf8_valid(meta_vals[i], strlen(meta_vals[i]))) {
            return mf_diag_set(diag, MF_EINVAL, key_ok ? meta_keys[i] : NULL,
                               "metadata entry %zu is not valid UTF-8", i);
        }
        if (json_object_set_new(meta, meta_keys[i], json_string(meta_vals[i])) != 0) {
            return mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
        }
    }
    return MF_OK;
}

/*
 * The header text: compact JSON, "__metadata__" first (when n_meta > 0), then
 * the tensors in the given order with consecutive offsets.  jansson objects
 * keep insertion order and JSON_COMPACT writes no spaces: the layout Python's
 * safetensors writes, and byte for byte what the earlier hand-written writer
 * produced, so saved models keep their bytes.  The one difference: control
 * characters other than \b \f \n \r \t are escaped with upper-case hex
 * ("\u001F", where Python writes "\u001f"); both read back the same.  Names
 * and metadata are checked (unique, UTF-8) before, so the only failure left
 * is out of memory.  *ret_text is malloc'd, *ret_len its strlen.
 */
static mf_err build_header(const mf_safetensors_entry *tensors, size_t n_tensors,
                           const size_t *sizes, const char *const *meta_keys,
                           const char *const *meta_vals, size_t n_meta, char **ret_text,
                           size_t *ret_len, mf_diag *diag)
{
    mf_err rc = MF_OK;
    json_t *root = json_object();
    if (root == NULL) {
        return mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
    }
    if (n_meta > 0) {
        rc = add_metadata(root, meta_keys, meta_vals, n_meta, diag);
    }
    size_t offset = 0;
    for (size_t i = 0; i < n_tensors && rc == MF_OK; i++) {
        json_t *t = tensor_json(&tensors[i], offset, offset + sizes[i]);
        if (json_object_set_new(root, tensors[i].name, t) != 0) {
            rc = mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
        }
        offset += sizes[i];
    }
    char *text = rc == MF_OK ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (rc != MF_OK) {
        return rc;
    }
    if (text == NULL) {
        return mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
    }
    size_t len = strlen(text);
    if (len > MF_SAFETENSORS_MAX_HEADER - 8) {
        free(text);
        return mf_diag_set(diag, MF_ERANGE, NULL, "the header would exceed %zu bytes",
                           MF_SAFETENSORS_MAX_HEADER);
    }
    *ret_text = text;
    *ret_len = len;
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
    char *header = NULL;
    size_t header_len = 0;
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
        rc = build_header(tensors, n_tensors, sizes, meta_keys, meta_vals, n_meta, &header,
                          &header_len, diag);
    }
    if (rc != MF_OK) {
        goto done;
    }
    /* Pad with spaces so the data region starts 8-byte aligned (Python does the same). */
    size_t padded = (header_len + 7) / 8 * 8;
    if (total_data > SIZE_MAX - 8 - padded) {
        rc = mf_diag_set(diag, MF_ERANGE, NULL, "file size overflows");
        goto done;
    }
    size_t len = 8 + padded + total_data;
    buf = malloc(len);
    if (buf == NULL) {
        rc = mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory for %zu bytes", len);
        goto done;
    }
    write_le64(buf, padded);
    memcpy(buf + 8, header, header_len);
    memset(buf + 8 + header_len, ' ', padded - header_len);
    size_t at = 8 + padded;
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
    free(header);
    return rc;
}
