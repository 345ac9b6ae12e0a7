/* SPDX-License-Identifier: MIT */
/*
 * json_min.c - strict recursive-descent JSON reader in two passes, plus the
 * string escaper used to write safetensors headers.
 *
 * Pass 1 walks the input, validates every byte and counts the values and the
 * bytes of decoded strings (each string's decoded form, plus its NUL, is never
 * longer than its quoted source, so that count is at most the input size).
 * Pass 2 repeats the same walk with `build` set and fills one calloc'd array
 * of values, in document pre-order, and one block of string bytes.  Pointers
 * between values are therefore stable as soon as they are written.  Nothing
 * is allocated per value, and the recursion depth is bounded by max_depth.
 *
 * Duplicate keys are found after pass 2: the members of each object are
 * sorted by key (qsort over pointers, O(n log n), so a header with many keys
 * cannot make this quadratic) and neighbours compared.
 */
#include "json_min.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mf_json_doc {
    mf_json *values; /* n_values, pre-order; values[0] is the root */
    size_t n_values;
    char *strings; /* decoded strings and keys, each NUL-terminated */
};

typedef struct parser {
    const unsigned char *s;
    size_t len;
    size_t pos;
    size_t depth;
    size_t max_depth;
    size_t max_values;
    bool build;      /* pass 2: write values and strings */
    size_t n_values; /* values seen so far */
    size_t n_str;    /* string bytes emitted so far */
    mf_json *values; /* pass 2 only */
    char *strings;   /* pass 2 only */
    mf_json scratch; /* pass 1 writes its throw-away value fields here */
    mf_json_error *err;
} parser;

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static mf_err
fail(parser *p, mf_err rc, size_t offset, const char *fmt, ...)
{
    if (p->err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err->msg, sizeof p->err->msg, fmt, ap);
        va_end(ap);
        p->err->offset = offset;
        p->err->dup_key[0] = '\0';
    }
    return rc;
}

/* A character for a message: 'x' when printable ASCII, else its byte value. */
static void describe_byte(unsigned char c, char *out, size_t cap)
{
    if (c >= 0x20 && c < 0x7f) {
        snprintf(out, cap, "'%c'", c);
    } else {
        snprintf(out, cap, "byte 0x%02x", c);
    }
}

static mf_err fail_unexpected(parser *p, const char *expected)
{
    if (p->pos >= p->len) {
        return fail(p, MF_EFORMAT, p->pos, "unexpected end of input, expected %s", expected);
    }
    char what[16];
    describe_byte(p->s[p->pos], what, sizeof what);
    return fail(p, MF_EFORMAT, p->pos, "unexpected %s, expected %s", what, expected);
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            break;
        }
        p->pos++;
    }
}

/* Length of the well-formed UTF-8 sequence at s (avail bytes left), 0 if ill-formed. */
static size_t utf8_seq_len(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        return 1;
    }
    if (c < 0xc2) {
        return 0; /* continuation byte or overlong 2-byte lead */
    }
    if (c < 0xe0) {
        return (avail >= 2 && (s[1] & 0xc0) == 0x80) ? 2 : 0;
    }
    if (c < 0xf0) {
        unsigned char lo = c == 0xe0 ? 0xa0 : 0x80; /* no overlongs */
        unsigned char hi = c == 0xed ? 0x9f : 0xbf; /* no UTF-16 surrogates */
        return (avail >= 3 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80) ? 3 : 0;
    }
    if (c < 0xf5) {
        unsigned char lo = c == 0xf0 ? 0x90 : 0x80; /* no overlongs */
        unsigned char hi = c == 0xf4 ? 0x8f : 0xbf; /* nothing above U+10FFFF */
        return (avail >= 4 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
                (s[3] & 0xc0) == 0x80)
                   ? 4
                   : 0;
    }
    return 0;
}

bool mf_json_utf8_valid(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *) s;
    size_t i = 0;
    while (i < len) {
        size_t n = utf8_seq_len(u + i, len - i);
        if (n == 0) {
            return false;
        }
        i += n;
    }
    return true;
}

void mf_json_snippet(char *out, size_t cap, const char *s)
{
    const unsigned char *u = (const unsigned char *) (s != NULL ? s : "");
    /* Sanitising keeps the length (one '?' per bad byte), so this is exact. */
    size_t len = strlen((const char *) u), i = 0, o = 0;
    bool fits = len < cap;
    size_t room = fits ? len : cap - 4; /* keep space for "..." and the NUL */
    while (i < len) {
        size_t n = utf8_seq_len(u + i, len - i);
        size_t w = n == 0 ? 1 : n;
        if (o + w > room) {
            break;
        }
        if (n == 0 || (n == 1 && (u[i] < 0x20 || u[i] == 0x7f))) {
            out[o] = '?';
        } else {
            memcpy(out + o, u + i, n);
        }
        o += w;
        i += w;
    }
    if (fits) {
        out[o] = '\0';
    } else {
        memcpy(out + o, "...", 4);
    }
}

static void emit(parser *p, unsigned char c)
{
    if (p->build) {
        p->strings[p->n_str] = (char) c;
    }
    p->n_str++;
}

static void emit_utf8(parser *p, uint32_t cp)
{
    if (cp < 0x80) {
        emit(p, (unsigned char) cp);
    } else if (cp < 0x800) {
        emit(p, (unsigned char) (0xc0 | (cp >> 6)));
        emit(p, (unsigned char) (0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        emit(p, (unsigned char) (0xe0 | (cp >> 12)));
        emit(p, (unsigned char) (0x80 | ((cp >> 6) & 0x3f)));
        emit(p, (unsigned char) (0x80 | (cp & 0x3f)));
    } else {
        emit(p, (unsigned char) (0xf0 | (cp >> 18)));
        emit(p, (unsigned char) (0x80 | ((cp >> 12) & 0x3f)));
        emit(p, (unsigned char) (0x80 | ((cp >> 6) & 0x3f)));
        emit(p, (unsigned char) (0x80 | (cp & 0x3f)));
    }
}

/* Four hex digits at s[at..at+4) into *ret; false when short or not hex. */
static bool read_hex4(const parser *p, size_t at, uint32_t *ret)
{
    if (at > p->len || p->len - at < 4) {
        return false;
    }
    uint32_t v = 0;
    for (size_t i = 0; i < 4; i++) {
        unsigned char c = p->s[at + i];
        uint32_t d;
        if (c >= '0' && c <= '9') {
            d = (uint32_t) (c - '0');
        } else if (c >= 'a' && c <= 'f') {
            d = (uint32_t) (c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            d = (uint32_t) (c - 'A' + 10);
        } else {
            return false;
        }
        v = v * 16 + d;
    }
    *ret = v;
    return true;
}

/*
 * \uXXXX at p->pos (the backslash), with a following low surrogate when the
 * first unit is a high one.  Emits the code point as UTF-8.
 */
static mf_err parse_unicode_escape(parser *p)
{
    size_t at = p->pos;
    uint32_t cp, lo;
    if (!read_hex4(p, at + 2, &cp)) {
        return fail(p, MF_EFORMAT, at, "invalid \\u escape: four hex digits expected");
    }
    p->pos += 6;
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (p->pos + 1 >= p->len || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' ||
            !read_hex4(p, p->pos + 2, &lo) || lo < 0xdc00 || lo > 0xdfff) {
            return fail(p, MF_EFORMAT, at, "unpaired UTF-16 high surrogate \\u%04X", cp);
        }
        p->pos += 6;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    } else if (cp >= 0xdc00 && cp <= 0xdfff) {
        return fail(p, MF_EFORMAT, at, "unpaired UTF-16 low surrogate \\u%04X", cp);
    } else if (cp == 0) {
        return fail(p, MF_EFORMAT, at, "\\u0000 is not allowed in strings");
    }
    emit_utf8(p, cp);
    return MF_OK;
}

/* The string literal at p->pos (a '"'); *ret is the decoded text in pass 2, NULL in pass 1. */
static mf_err parse_string(parser *p, const char **ret, size_t *ret_len)
{
    size_t start = p->pos, first = p->n_str;
    p->pos++;
    for (;;) {
        if (p->pos >= p->len) {
            return fail(p, MF_EFORMAT, start, "unterminated string");
        }
        unsigned char c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20) {
            return fail(p, MF_EFORMAT, p->pos, "unescaped control character 0x%02x in string", c);
        }
        if (c >= 0x80) {
            size_t n = utf8_seq_len(p->s + p->pos, p->len - p->pos);
            if (n == 0) {
                return fail(p, MF_EFORMAT, p->pos, "invalid UTF-8 in string");
            }
            for (size_t i = 0; i < n; i++) {
                emit(p, p->s[p->pos + i]);
            }
            p->pos += n;
            continue;
        }
        if (c != '\\') {
            emit(p, c);
            p->pos++;
            continue;
        }
        if (p->pos + 1 >= p->len) {
            return fail(p, MF_EFORMAT, start, "unterminated string");
        }
        unsigned char e = p->s[p->pos + 1];
        static const char from[] = "\"\\/bfnrt";
        static const char to[] = "\"\\/\b\f\n\r\t";
        const char *hit = e != 0 ? strchr(from, e) : NULL;
        if (hit != NULL) {
            emit(p, (unsigned char) to[hit - from]);
            p->pos += 2;
        } else if (e == 'u') {
            mf_err rc = parse_unicode_escape(p);
            if (rc != MF_OK) {
                return rc;
            }
        } else {
            char what[16];
            describe_byte(e, what, sizeof what);
            return fail(p, MF_EFORMAT, p->pos, "invalid escape of %s in string", what);
        }
    }
    emit(p, '\0');
    *ret = p->build ? p->strings + first : NULL;
    *ret_len = p->n_str - first - 1;
    return MF_OK;
}

static bool is_digit(const parser *p)
{
    return p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9';
}

/* The value of the number text s[start..end) as a double (pass 2). */
static mf_err number_value(parser *p, size_t start, size_t end, double *ret)
{
    char small[64];
    size_t n = end - start;
    char *buf = n < sizeof small ? small : malloc(n + 1);
    if (buf == NULL) {
        return fail(p, MF_ENOMEM, start, "out of memory");
    }
    memcpy(buf, p->s + start, n);
    buf[n] = '\0';
    /* The grammar was checked above; strtod (C locale) only converts. */
    *ret = strtod(buf, NULL);
    if (buf != small) {
        free(buf);
    }
    return MF_OK;
}

static mf_err parse_number(parser *p, mf_json *v)
{
    size_t start = p->pos;
    bool negative = false, overflow = false, integer = true;
    uint64_t mag = 0;
    if (p->s[p->pos] == '-') {
        negative = true;
        p->pos++;
    }
    if (!is_digit(p)) {
        return fail(p, MF_EFORMAT, start, "invalid number: digit expected");
    }
    if (p->s[p->pos] == '0') {
        p->pos++;
        if (is_digit(p)) {
            return fail(p, MF_EFORMAT, start, "invalid number: leading zeros are not allowed");
        }
    } else {
        while (is_digit(p)) {
            uint64_t d = (uint64_t) (p->s[p->pos] - '0');
            if (mag > (UINT64_MAX - d) / 10) {
                overflow = true;
            } else {
                mag = mag * 10 + d;
            }
            p->pos++;
        }
    }
    if (p->pos < p->len && p->s[p->pos] == '.') {
        integer = false;
        p->pos++;
        if (!is_digit(p)) {
            return fail(p, MF_EFORMAT, p->pos, "invalid number: digit expected after '.'");
        }
        while (is_digit(p)) {
            p->pos++;
        }
    }
    if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        integer = false;
        p->pos++;
        if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-')) {
            p->pos++;
        }
        if (!is_digit(p)) {
            return fail(p, MF_EFORMAT, p->pos, "invalid number: digit expected in exponent");
        }
        while (is_digit(p)) {
            p->pos++;
        }
    }
    v->type = MF_JSON_NUMBER;
    v->is_integer = integer;
    v->negative = negative;
    v->int_overflow = integer && overflow;
    v->magnitude = (integer && !overflow) ? mag : 0;
    if (p->build) {
        return number_value(p, start, p->pos, &v->num);
    }
    return MF_OK;
}

static mf_err parse_literal(parser *p, mf_json *v, const char *word, mf_json_type type)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0) {
        return fail_unexpected(p, "a JSON value");
    }
    p->pos += n;
    v->type = type;
    return MF_OK;
}

static mf_err parse_value(parser *p, mf_json **ret);

/* Appends child to v's list of children. */
static void link_child(mf_json *v, mf_json **last, mf_json *child)
{
    if (*last == NULL) {
        v->child = child;
    } else {
        (*last)->next = child;
    }
    *last = child;
    v->n_children++;
}

static mf_err enter(parser *p)
{
    if (++p->depth > p->max_depth) {
        return fail(p, MF_ERANGE, p->pos, "nesting deeper than %zu levels", p->max_depth);
    }
    p->pos++; /* the '{' or '[' */
    skip_ws(p);
    return MF_OK;
}

static mf_err parse_array(parser *p, mf_json *v)
{
    mf_json *last = NULL;
    v->type = MF_JSON_ARRAY;
    mf_err rc = enter(p);
    if (rc != MF_OK) {
        return rc;
    }
    if (p->pos < p->len && p->s[p->pos] == ']') {
        p->pos++;
        p->depth--;
        return MF_OK;
    }
    for (;;) {
        mf_json *child;
        rc = parse_value(p, &child);
        if (rc != MF_OK) {
            return rc;
        }
        link_child(v, &last, child);
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
        } else if (p->pos < p->len && p->s[p->pos] == ']') {
            p->pos++;
            break;
        } else {
            return fail_unexpected(p, "',' or ']'");
        }
    }
    p->depth--;
    return MF_OK;
}

static mf_err parse_object(parser *p, mf_json *v)
{
    mf_json *last = NULL;
    v->type = MF_JSON_OBJECT;
    mf_err rc = enter(p);
    if (rc != MF_OK) {
        return rc;
    }
    if (p->pos < p->len && p->s[p->pos] == '}') {
        p->pos++;
        p->depth--;
        return MF_OK;
    }
    for (;;) {
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != '"') {
            return fail_unexpected(p, "a string key");
        }
        const char *key;
        size_t key_len, key_offset = p->pos;
        rc = parse_string(p, &key, &key_len);
        if (rc != MF_OK) {
            return rc;
        }
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != ':') {
            return fail_unexpected(p, "':' after the key");
        }
        p->pos++;
        mf_json *child;
        rc = parse_value(p, &child);
        if (rc != MF_OK) {
            return rc;
        }
        child->key = key;
        child->key_len = key_len;
        child->key_offset = key_offset;
        link_child(v, &last, child);
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
        } else if (p->pos < p->len && p->s[p->pos] == '}') {
            p->pos++;
            break;
        } else {
            return fail_unexpected(p, "',' or '}'");
        }
    }
    p->depth--;
    return MF_OK;
}

static mf_err parse_value(parser *p, mf_json **ret)
{
    skip_ws(p);
    if (p->pos >= p->len) {
        return fail_unexpected(p, "a JSON value");
    }
    if (p->n_values >= p->max_values) {
        return fail(p, MF_ERANGE, p->pos, "more than %zu JSON values", p->max_values);
    }
    mf_json *v = p->build ? &p->values[p->n_values] : &p->scratch;
    p->n_values++;
    if (!p->build) {
        memset(v, 0, sizeof *v);
    }
    v->offset = p->pos;
    *ret = v;
    switch (p->s[p->pos]) {
    case '{':
        return parse_object(p, v);
    case '[':
        return parse_array(p, v);
    case '"':
        v->type = MF_JSON_STRING;
        return parse_string(p, &v->str, &v->str_len);
    case 't':
        return parse_literal(p, v, "true", MF_JSON_TRUE);
    case 'f':
        return parse_literal(p, v, "false", MF_JSON_FALSE);
    case 'n':
        return parse_literal(p, v, "null", MF_JSON_NULL);
    default:
        if (p->s[p->pos] == '-' || (p->s[p->pos] >= '0' && p->s[p->pos] <= '9')) {
            return parse_number(p, v);
        }
        return fail_unexpected(p, "a JSON value");
    }
}

static mf_err parse_document(parser *p)
{
    mf_json *root;
    p->pos = 0;
    p->depth = 0;
    p->n_values = 0;
    p->n_str = 0;
    mf_err rc = parse_value(p, &root);
    if (rc != MF_OK) {
        return rc;
    }
    skip_ws(p);
    if (p->pos != p->len) {
        char what[16];
        describe_byte(p->s[p->pos], what, sizeof what);
        return fail(p, MF_EFORMAT, p->pos, "trailing characters after the JSON value (%s)", what);
    }
    return MF_OK;
}

static int compare_keys(const void *a, const void *b)
{
    const mf_json *x = *(const mf_json *const *) a;
    const mf_json *y = *(const mf_json *const *) b;
    int c = strcmp(x->key, y->key);
    if (c != 0) {
        return c;
    }
    return x->key_offset < y->key_offset ? -1 : (x->key_offset > y->key_offset ? 1 : 0);
}

/* Finds the duplicate key that appears first in the text, over every object. */
static mf_err check_duplicates(parser *p)
{
    size_t widest = 0;
    for (size_t i = 0; i < p->n_values; i++) {
        if (p->values[i].type == MF_JSON_OBJECT && p->values[i].n_children > widest) {
            widest = p->values[i].n_children;
        }
    }
    if (widest < 2) {
        return MF_OK;
    }
    const mf_json **members = malloc(widest * sizeof *members);
    if (members == NULL) {
        return fail(p, MF_ENOMEM, 0, "out of memory");
    }
    const mf_json *dup = NULL;
    for (size_t i = 0; i < p->n_values; i++) {
        const mf_json *obj = &p->values[i];
        if (obj->type != MF_JSON_OBJECT || obj->n_children < 2) {
            continue;
        }
        size_t n = 0;
        for (const mf_json *m = obj->child; m != NULL; m = m->next) {
            members[n++] = m;
        }
        qsort(members, n, sizeof *members, compare_keys);
        for (size_t j = 1; j < n; j++) {
            if (strcmp(members[j - 1]->key, members[j]->key) == 0 &&
                (dup == NULL || members[j]->key_offset < dup->key_offset)) {
                dup = members[j];
            }
        }
    }
    free(members);
    if (dup == NULL) {
        return MF_OK;
    }
    mf_err rc = fail(p, MF_EFORMAT, dup->key_offset, "duplicate key \"%.80s\"", dup->key);
    if (p->err != NULL) {
        snprintf(p->err->dup_key, sizeof p->err->dup_key, "%s", dup->key);
    }
    return rc;
}

mf_json_limits mf_json_default_limits(void)
{
    mf_json_limits lim = {
        .max_bytes = MF_JSON_DEFAULT_MAX_BYTES,
        .max_depth = MF_JSON_DEFAULT_MAX_DEPTH,
        .max_values = MF_JSON_DEFAULT_MAX_VALUES,
    };
    return lim;
}

mf_err mf_json_parse(const char *text, size_t len, const mf_json_limits *limits, mf_json_doc **ret,
                     mf_json_error *err)
{
    mf_json_limits lim = limits != NULL ? *limits : mf_json_default_limits();
    parser p = {
        .s = (const unsigned char *) text,
        .len = len,
        .max_depth = lim.max_depth < MF_JSON_MAX_DEPTH_CAP ? lim.max_depth : MF_JSON_MAX_DEPTH_CAP,
        .max_values = lim.max_values,
        .err = err,
    };
    if (ret == NULL || (text == NULL && len > 0)) {
        return fail(&p, MF_EINVAL, 0, "invalid argument");
    }
    if (len > lim.max_bytes) {
        return fail(&p, MF_ERANGE, lim.max_bytes, "input of %zu bytes exceeds the limit of %zu",
                    len, lim.max_bytes);
    }
    mf_err rc = parse_document(&p); /* pass 1: validate and count */
    if (rc != MF_OK) {
        return rc;
    }
    mf_json_doc *doc = calloc(1, sizeof *doc);
    if (doc == NULL) {
        return fail(&p, MF_ENOMEM, 0, "out of memory");
    }
    doc->n_values = p.n_values;
    doc->values = calloc(p.n_values, sizeof *doc->values);
    doc->strings = malloc(p.n_str > 0 ? p.n_str : 1);
    if (doc->values == NULL || doc->strings == NULL) {
        rc = fail(&p, MF_ENOMEM, 0, "out of memory");
        goto fail;
    }
    p.build = true;
    p.values = doc->values;
    p.strings = doc->strings;
    rc = parse_document(&p); /* pass 2: same walk, now writing */
    if (rc != MF_OK) {
        goto fail;
    }
    rc = check_duplicates(&p);
    if (rc != MF_OK) {
        goto fail;
    }
    *ret = doc;
    return MF_OK;
fail:
    mf_json_doc_free(doc);
    return rc;
}

void mf_json_doc_free(mf_json_doc *doc)
{
    if (doc == NULL) {
        return;
    }
    free(doc->values);
    free(doc->strings);
    free(doc);
}

const mf_json *mf_json_doc_root(const mf_json_doc *doc)
{
    return &doc->values[0];
}

const mf_json *mf_json_object_get(const mf_json *obj, const char *key)
{
    if (obj == NULL || obj->type != MF_JSON_OBJECT || key == NULL) {
        return NULL;
    }
    for (const mf_json *m = obj->child; m != NULL; m = m->next) {
        if (strcmp(m->key, key) == 0) {
            return m;
        }
    }
    return NULL;
}

/* ---- writing -------------------------------------------------------------------- */

void mf_json_buf_deinit(mf_json_buf *b)
{
    if (b == NULL) {
        return;
    }
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

mf_err mf_json_buf_add(mf_json_buf *b, const char *s, size_t n)
{
    if (n == 0) {
        return MF_OK;
    }
    if (b->len > SIZE_MAX - 1 - n) {
        return MF_ERANGE;
    }
    size_t need = b->len + n + 1;
    if (need > b->cap) {
        size_t cap = b->cap < 64 ? 64 : b->cap;
        while (cap < need) {
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        }
        char *grown = realloc(b->data, cap);
        if (grown == NULL) {
            return MF_ENOMEM;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return MF_OK;
}

mf_err mf_json_buf_add_cstr(mf_json_buf *b, const char *s)
{
    return mf_json_buf_add(b, s, strlen(s));
}

mf_err mf_json_buf_add_u64(mf_json_buf *b, uint64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long) v);
    return mf_json_buf_add(b, tmp, (size_t) n);
}

mf_err mf_json_buf_add_string(mf_json_buf *b, const char *s, size_t n)
{
    if (!mf_json_utf8_valid(s, n)) {
        return MF_EINVAL;
    }
    size_t old_len = b->len;
    mf_err rc = mf_json_buf_add(b, "\"", 1);
    size_t run = 0; /* start of the pending run of bytes that need no escape */
    for (size_t i = 0; i < n && rc == MF_OK; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        rc = mf_json_buf_add(b, s + run, i - run);
        run = i + 1;
        char esc[8];
        const char *named = c == '"'    ? "\\\""
                            : c == '\\' ? "\\\\"
                            : c == '\b' ? "\\b"
                            : c == '\f' ? "\\f"
                            : c == '\n' ? "\\n"
                            : c == '\r' ? "\\r"
                            : c == '\t' ? "\\t"
                                        : NULL;
        if (named == NULL) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            named = esc;
        }
        if (rc == MF_OK) {
            rc = mf_json_buf_add_cstr(b, named);
        }
    }
    if (rc == MF_OK) {
        rc = mf_json_buf_add(b, s + run, n - run);
    }
    if (rc == MF_OK) {
        rc = mf_json_buf_add(b, "\"", 1);
    }
    if (rc != MF_OK && b->data != NULL) {
        b->len = old_len; /* all or nothing */
        b->data[old_len] = '\0';
    }
    return rc;
}
