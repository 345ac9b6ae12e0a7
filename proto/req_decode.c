/* SPDX-License-Identifier: MIT */
/*
 * req_decode.c - parsing, typed field getters and field tables for the
 * request decoders (see req_decode.h).
 *
 * Order of checks, so that a client always gets the same error for the same
 * body: parse (syntax, duplicate keys, NUL bytes, UTF-8: jansson), the body is
 * an object, the nesting depth of the whole body, then per object: unknown
 * fields first, then the fields in table order, then (in the codecs) the
 * combinations.
 */
#include "req_decode.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "utf8.h"

#define ECHO_MAX 32 /* bytes of a client's string quoted back in a message */

/* ---- text helpers ---------------------------------------------------------------- */

/* Appends src[0..len) to dst (cap bytes, NUL-terminated) when it fits whole. */
static bool append(char *dst, size_t cap, const char *src, size_t len)
{
    size_t n = strlen(dst);
    if (n + len >= cap) {
        return false;
    }
    memcpy(dst + n, src, len);
    dst[n + len] = '\0';
    return true;
}

void mf_req_ptr_join(char *buf, size_t cap, const char *prefix, const char *key)
{
    buf[0] = '\0';
    if (!append(buf, cap, prefix, strlen(prefix)) || !append(buf, cap, "/", 1)) {
        return;
    }
    for (const char *p = key; *p != '\0';) {
        bool ok;
        size_t len = 1;
        if (*p == '~') {
            ok = append(buf, cap, "~0", 2);
        } else if (*p == '/') {
            ok = append(buf, cap, "~1", 2);
        } else {
            len = mf_utf8_len((unsigned char) *p);
            len = strnlen(p, len); /* never past the terminator */
            ok = append(buf, cap, p, len);
        }
        if (!ok) {
            return;
        }
        p += len;
    }
}

void mf_req_ptr_index(char *buf, size_t cap, const char *prefix, size_t i)
{
    snprintf(buf, cap, "%s/%zu", prefix, i);
    mf_utf8_trim(buf);
}

/* What the client sent, for "..., got X": the value itself when short. */
static void describe(const json_t *v, char *buf, size_t cap)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        snprintf(buf, cap, "an object");
        break;
    case JSON_ARRAY:
        snprintf(buf, cap, "an array of %zu elements", json_array_size(v));
        break;
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t n = 0;
        while (s[n] != '\0') {
            size_t len = strnlen(s + n, mf_utf8_len((unsigned char) s[n]));
            if (n + len > ECHO_MAX) {
                break;
            }
            n += len;
        }
        snprintf(buf, cap, "\"%.*s%s\"", (int) n, s, s[n] != '\0' ? "..." : "");
        break;
    }
    case JSON_INTEGER:
        snprintf(buf, cap, "%lld", (long long) json_integer_value(v));
        break;
    case JSON_REAL: {
        char text[MF_JSON_REAL_CAP]; /* reads back as the same double, and is not an integer */
        mf_json_real_text(text, json_real_value(v));
        snprintf(buf, cap, "%s", text);
        break;
    }
    case JSON_TRUE:
        snprintf(buf, cap, "true");
        break;
    case JSON_FALSE:
        snprintf(buf, cap, "false");
        break;
    case JSON_NULL:
        snprintf(buf, cap, "null");
        break;
    }
    mf_utf8_trim(buf);
}

void mf_req_join_names(char *buf, size_t cap, const char *const *names, bool quoted)
{
    buf[0] = '\0';
    for (size_t i = 0; names[i] != NULL; i++) {
        const char *q = quoted ? "\"" : "";
        if (!append(buf, cap, i > 0 ? ", " : "", i > 0 ? 2 : 0) ||
            !append(buf, cap, q, strlen(q)) || !append(buf, cap, names[i], strlen(names[i])) ||
            !append(buf, cap, q, strlen(q))) {
            return;
        }
    }
}

/* ---- errors ---------------------------------------------------------------------- */

mf_err mf_req_fail(mf_diag *d, const char *code, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mf_diag_setv(d, MF_EINVAL, code, field, fmt, ap);
    va_end(ap);
    return MF_EINVAL;
}

mf_err mf_req_fail_nomem(mf_diag *d)
{
    (void) mf_req_fail(d, "internal", "",
                       "the server ran out of memory while decoding the request; try again later");
    return MF_ENOMEM;
}

mf_err mf_req_fail_must(mf_diag *d, const char *code, const char *ptr, const char *what,
                        const json_t *v)
{
    char got[64];
    describe(v, got, sizeof got);
    return mf_req_fail(d, code, ptr, "\"%s\" must be %s, got %s", ptr, what, got);
}

mf_err mf_req_fail_missing(mf_diag *d, const char *ptr, const char *what)
{
    return mf_req_fail(d, "missing_field", ptr, "missing required field \"%s\", %s", ptr, what);
}

/* ---- field getters ----------------------------------------------------------------- */

mf_err mf_req_get_uint(const json_t *v, const char *ptr, uint64_t lo, uint64_t hi, uint64_t *out,
                       mf_diag *d)
{
    char what[96];
    snprintf(what, sizeof what, "an integer between %llu and %llu", (unsigned long long) lo,
             (unsigned long long) hi);
    if (!json_is_integer(v)) {
        if (json_is_real(v)) {
            /* The value may well be integral: say why it is still refused. */
            strncat(what, " (without a fraction or exponent)", sizeof what - strlen(what) - 1);
        }
        return mf_req_fail_must(d, "wrong_type", ptr, what, v);
    }
    json_int_t x = json_integer_value(v);
    if (x < 0 || (uint64_t) x < lo || (uint64_t) x > hi) {
        return mf_req_fail_must(d, "out_of_range", ptr, what, v);
    }
    *out = (uint64_t) x;
    return MF_OK;
}

mf_err mf_req_get_size(const json_t *v, const char *ptr, uint64_t lo, uint64_t hi, size_t *out,
                       mf_diag *d)
{
    uint64_t x = 0;
    mf_err err = mf_req_get_uint(v, ptr, lo, hi, &x, d);
    if (err == MF_OK) {
        *out = (size_t) x;
    }
    return err;
}

mf_err mf_req_get_number(const json_t *v, const char *ptr, double lo, double hi, bool lo_open,
                         const char *what, double *out, mf_diag *d)
{
    if (!json_is_number(v)) {
        return mf_req_fail_must(d, "wrong_type", ptr, what, v);
    }
    double x = json_number_value(v);
    if (!isfinite(x) || x > hi || (lo_open ? x <= lo : x < lo)) {
        return mf_req_fail_must(d, "out_of_range", ptr, what, v);
    }
    *out = x;
    return MF_OK;
}

mf_err mf_req_get_bool(const json_t *v, const char *ptr, bool *out, mf_diag *d)
{
    if (!json_is_boolean(v)) {
        return mf_req_fail_must(d, "wrong_type", ptr, "true or false", v);
    }
    *out = json_is_true(v);
    return MF_OK;
}

mf_err mf_req_get_id(const json_t *v, const char *ptr, char *out, mf_diag *d)
{
    if (!json_is_string(v)) {
        return mf_req_fail_must(d, "wrong_type", ptr, MF_REQ_ID_RULE, v);
    }
    const char *s = json_string_value(v);
    if (!mf_req_id_valid(s)) {
        return mf_req_fail_must(d, "bad_value", ptr, MF_REQ_ID_RULE, v);
    }
    memcpy(out, s, strlen(s) + 1); /* at most MF_REQ_ID_MAX + 1 bytes: checked above */
    return MF_OK;
}

/* Fails with unknown_field on key (at prefix), listing the allowed names. */
static mf_err fail_unknown(mf_diag *d, const char *prefix, const char *key,
                           const char *const *known)
{
    char ptr[128], names[192];
    mf_req_ptr_join(ptr, sizeof ptr, prefix, key);
    mf_req_join_names(names, sizeof names, known, false);
    return mf_req_fail(d, "unknown_field", ptr, "unknown field \"%s\"; the allowed fields are %s",
                       ptr, names);
}

mf_err mf_req_check_keys(json_t *o, const char *prefix, const char *const *known, mf_diag *d)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        bool found = false;
        for (size_t i = 0; known[i] != NULL && !found; i++) {
            found = strcmp(key, known[i]) == 0;
        }
        if (!found) {
            return fail_unknown(d, prefix, key, known);
        }
    }
    return MF_OK;
}

/* ---- parsing --------------------------------------------------------------------- */

/* true when container v, at nesting depth `depth`, or anything inside it lies
 * deeper than MF_REQ_MAX_DEPTH.  Stops at the first container too deep, so the
 * recursion never goes past MF_REQ_MAX_DEPTH + 1 frames whatever the body. */
static bool too_deep(json_t *v, int depth)
{
    if (!json_is_object(v) && !json_is_array(v)) {
        return false;
    }
    if (depth > MF_REQ_MAX_DEPTH) {
        return true;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if (too_deep(e, depth + 1)) {
                return true;
            }
        }
        return false;
    }
    const char *key;
    json_t *e;
    json_object_foreach(v, key, e)
    {
        if (too_deep(e, depth + 1)) {
            return true;
        }
    }
    return false;
}

mf_err mf_req_parse_object(const char *text, size_t len, const char *what, const char *field,
                           json_t **ret, mf_diag *d)
{
    if (text == NULL || len == 0) {
        return mf_req_fail(d, "bad_json", field, "%s is empty; it must be a JSON object", what);
    }
    json_error_t je;
    memset(&je, 0, sizeof je);
    /* Not JSON_DISABLE_EOF_CHECK: trailing bytes after the value are an error.  Not
     * JSON_ALLOW_NUL: no string may hold a NUL.  JSON_DECODE_ANY only so that "42" or
     * "null" get the clearer "must be an object" below. */
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (root == NULL) {
        /* No text: jansson failed setting up its lexer, before reading a byte,
         * which only an allocation failure does. */
        if (json_error_code(&je) == json_error_out_of_memory || je.text[0] == '\0') {
            return mf_req_fail_nomem(d);
        }
        /* jansson's "near '...'" quotes the body's bytes as they are, maybe cut inside a
         * character ("\u00" and the first byte of "\xc7\x9a"): made valid UTF-8 here, as
         * this file's messages promise. */
        mf_utf8_repair(je.text);
        return mf_req_fail(d, "bad_json", field, "%s is not valid JSON: %s (line %d, column %d)",
                           what, je.text, je.line, je.column);
    }
    mf_err err = MF_OK;
    if (!json_is_object(root)) {
        char got[64];
        describe(root, got, sizeof got);
        err = mf_req_fail(d, "bad_json", field, "%s must be a JSON object, got %s", what, got);
    } else if (too_deep(root, 1)) {
        /* The whole text before any field: a deep value is refused wherever it sits. */
        err = mf_req_fail(d, "bad_json", field, "%s nests objects and arrays deeper than %d levels",
                          what, MF_REQ_MAX_DEPTH);
    }
    if (err != MF_OK) {
        json_decref(root);
        return err;
    }
    *ret = root;
    return MF_OK;
}

/* ---- field tables ------------------------------------------------------------------ */

/* A field with both (finetune.dxmi's batch: core's own cap and the operator's) takes
 * the smaller, so raising the limit never opens a range the job cannot run. */
static double capped(double limit, double hi)
{
    return hi > 0.0 && hi < limit ? hi : limit;
}

double mf_req_limit_value(const mf_req_limits *lim, mf_req_limit limit, double hi)
{
    switch (limit) {
    case MF_REQ_LIM_NONE:
        return hi;
    case MF_REQ_LIM_N:
        return capped((double) lim->max_n, hi);
    case MF_REQ_LIM_STEPS:
        return capped((double) lim->max_steps, hi);
    case MF_REQ_LIM_TRAIN_STEPS:
        return capped((double) lim->max_train_steps, hi);
    case MF_REQ_LIM_BATCH:
        return capped((double) lim->max_batch, hi);
    }
    return hi;
}

#define AT(params, f, type) ((type *) (void *) ((char *) (params) + (f)->offset))
#define AT_C(params, f, type) \
    ((const type *) (const void *) ((const char *) (params) + (f)->offset))
#define MAX_FIELDS 32

/* "one of "a", "b", "c"": an enum's values in words. */
static void enum_what(char *buf, size_t cap, const char *const *names)
{
    char list[160];
    mf_req_join_names(list, sizeof list, names, true);
    snprintf(buf, cap, "one of %s", list);
}

/* A string among names: *out = its index. */
static mf_err get_enum(const json_t *v, const char *ptr, const char *const *names, int *out,
                       mf_diag *d)
{
    for (int i = 0; json_is_string(v) && names[i] != NULL; i++) {
        if (strcmp(json_string_value(v), names[i]) == 0) {
            *out = i;
            return MF_OK;
        }
    }
    char what[192];
    enum_what(what, sizeof what, names);
    return mf_req_fail_must(d, json_is_string(v) ? "bad_value" : "wrong_type", ptr, what, v);
}

/* "an integer between lo and hi", the range of a field in words. */
static void int_range(char *buf, size_t cap, uint64_t lo, uint64_t hi)
{
    snprintf(buf, cap, "an integer between %llu and %llu", (unsigned long long) lo,
             (unsigned long long) hi);
}

/* A field not given: required, or its default. */
static mf_err absent(const mf_req_field *f, const char *ptr, const mf_req_limits *lim,
                     bool with_defaults, void *params, mf_diag *d)
{
    if (f->type == MF_REQ_CUSTOM) {
        /* the field's own default, or its own "missing" message */
        return with_defaults || f->required ? f->decode(NULL, ptr, lim, params, d) : MF_OK;
    }
    double hi = mf_req_limit_value(lim, f->limit, f->hi);
    if (f->required) {
        char what[192];
        if (f->type == MF_REQ_SIZE || f->type == MF_REQ_U64) {
            int_range(what, sizeof what, (uint64_t) f->lo, (uint64_t) hi);
        } else if (f->type == MF_REQ_ENUM) {
            enum_what(what, sizeof what, f->names);
        } else {
            snprintf(what, sizeof what, "%s", f->what != NULL ? f->what : "a value");
        }
        return mf_req_fail_missing(d, ptr, what);
    }
    if (f->has_given) {
        *(bool *) (void *) ((char *) params + f->given_offset) = false;
    }
    if (!with_defaults) {
        return MF_OK;
    }
    /* A default above the operator's limit gives way to the limit: the client
     * asked for no particular value. */
    double def = f->limit != MF_REQ_LIM_NONE && f->def > hi ? hi : f->def;
    switch (f->type) {
    case MF_REQ_SIZE:
        *AT(params, f, size_t) = (size_t) def;
        break;
    case MF_REQ_U64:
        *AT(params, f, uint64_t) = (uint64_t) def;
        break;
    case MF_REQ_NUMBER:
        *AT(params, f, double) = def;
        break;
    case MF_REQ_BOOL:
        *AT(params, f, bool) = def != 0.0;
        break;
    case MF_REQ_ID:
        AT(params, f, char)[0] = '\0';
        break;
    case MF_REQ_ENUM:
        *AT(params, f, int) = (int) def;
        break;
    case MF_REQ_CUSTOM: /* handled above */
        break;
    }
    return MF_OK;
}

/* A field given as v. */
static mf_err present(const mf_req_field *f, const json_t *v, const char *ptr,
                      const mf_req_limits *lim, void *params, mf_diag *d)
{
    double hi = mf_req_limit_value(lim, f->limit, f->hi);
    mf_err err = MF_OK;
    switch (f->type) {
    case MF_REQ_SIZE:
        err = mf_req_get_size(v, ptr, (uint64_t) f->lo, (uint64_t) hi, AT(params, f, size_t), d);
        break;
    case MF_REQ_U64:
        err = mf_req_get_uint(v, ptr, (uint64_t) f->lo, (uint64_t) hi, AT(params, f, uint64_t), d);
        break;
    case MF_REQ_NUMBER:
        err = mf_req_get_number(v, ptr, f->lo, hi, f->lo_open, f->what, AT(params, f, double), d);
        break;
    case MF_REQ_BOOL:
        err = mf_req_get_bool(v, ptr, AT(params, f, bool), d);
        break;
    case MF_REQ_ID:
        err = mf_req_get_id(v, ptr, AT(params, f, char), d);
        break;
    case MF_REQ_ENUM:
        err = get_enum(v, ptr, f->names, AT(params, f, int), d);
        break;
    case MF_REQ_CUSTOM:
        err = f->decode(v, ptr, lim, params, d);
        break;
    }
    if (err == MF_OK && f->has_given) {
        *(bool *) (void *) ((char *) params + f->given_offset) = true;
    }
    return err;
}

mf_err mf_req_check_tables(const mf_req_field *const *tables, size_t n_tables, json_t *o,
                           const char *prefix, mf_diag *d)
{
    const char *names[MAX_FIELDS + 1];
    size_t n = 0;
    for (size_t t = 0; t < n_tables; t++) {
        for (const mf_req_field *f = tables[t]; f->key != NULL && n < MAX_FIELDS; f++) {
            names[n++] = f->key;
        }
    }
    names[n] = NULL;
    return mf_req_check_keys(o, prefix, names, d);
}

mf_err mf_req_check_fields(const mf_req_field *table, json_t *o, const char *prefix, mf_diag *d)
{
    return mf_req_check_tables(&table, 1, o, prefix, d);
}

mf_err mf_req_decode_fields(const mf_req_field *table, json_t *o, const char *prefix,
                            const mf_req_limits *lim, bool with_defaults, void *params, mf_diag *d)
{
    mf_err err;
    if (o != NULL && (err = mf_req_check_fields(table, o, prefix, d)) != MF_OK) {
        return err;
    }
    return mf_req_decode_table(table, o, prefix, lim, with_defaults, params, d);
}

mf_err mf_req_decode_table(const mf_req_field *table, json_t *o, const char *prefix,
                           const mf_req_limits *lim, bool with_defaults, void *params, mf_diag *d)
{
    mf_err err;
    for (const mf_req_field *f = table; f->key != NULL; f++) {
        json_t *v = o != NULL ? json_object_get(o, f->key) : NULL;
        char ptr[128];
        mf_req_ptr_join(ptr, sizeof ptr, prefix, f->key);
        err = v != NULL ? present(f, v, ptr, lim, params, d)
                        : absent(f, ptr, lim, with_defaults, params, d);
        if (err != MF_OK) {
            return err;
        }
    }
    return MF_OK;
}

char *mf_req_dump_sorted(json_t *o, int failures)
{
    char *s = failures == 0 && o != NULL ? mf_json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    return s;
}

char *mf_req_encode_fields(const mf_req_field *table, const void *params)
{
    json_t *o = json_object();
    int fail = o == NULL || mf_req_encode_into(o, table, params);
    return mf_req_dump_sorted(o, fail);
}

int mf_req_encode_into(json_t *o, const mf_req_field *table, const void *params)
{
    int fail = 0;
    for (const mf_req_field *f = table; f->key != NULL && !fail; f++) {
        if (f->has_given &&
            !*(const bool *) (const void *) ((const char *) params + f->given_offset)) {
            continue;
        }
        json_t *v = NULL;
        switch (f->type) {
        case MF_REQ_SIZE:
            if (f->omit_zero && *AT_C(params, f, size_t) == 0) {
                continue;
            }
            v = json_integer((json_int_t) *AT_C(params, f, size_t));
            break;
        case MF_REQ_U64:
            v = json_integer((json_int_t) *AT_C(params, f, uint64_t));
            break;
        case MF_REQ_NUMBER:
            v = json_real(*AT_C(params, f, double));
            break;
        case MF_REQ_BOOL:
            v = json_boolean(*AT_C(params, f, bool));
            break;
        case MF_REQ_ENUM:
            v = json_string(f->names[*AT_C(params, f, int)]);
            break;
        case MF_REQ_ID:
            /* "" (the server names it) is not an id: left out. */
            if (AT_C(params, f, char)[0] == '\0') {
                continue;
            }
            v = json_string(AT_C(params, f, char));
            break;
        case MF_REQ_CUSTOM:
            fail |= f->encode(o, f->key, params);
            continue;
        }
        fail |= json_object_set_new(o, f->key, v);
    }
    return fail;
}
