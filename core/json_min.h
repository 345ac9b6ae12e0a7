/* SPDX-License-Identifier: MIT */
/*
 * json_min.h - a minimal, strict, allocation-bounded JSON reader and a tiny
 * writer helper, enough for safetensors headers.  core/ may not use jansson
 * (DESIGN.md: JSON lives in proto/), so the model-file code carries this.
 *
 * Reading: mf_json_parse() turns a byte buffer into a read-only tree.  It is
 * strict RFC 8259 plus three restrictions that make the result safe to use as
 * C strings and maps:
 *   - strings are valid UTF-8; escapes (\n, \uXXXX, surrogate pairs) are
 *     decoded to UTF-8; "\u0000" is rejected, so every string is a C string;
 *   - duplicate keys in one object are rejected;
 *   - the input size, the nesting depth and the number of values are limited.
 * The parser runs in two passes: the first validates and counts, the second
 * builds into exactly sized blocks, so the memory used is known (roughly
 * 100 bytes per value plus the input size) before anything is allocated.
 *
 * Writing: mf_json_buf is a growable byte buffer with helpers that append raw
 * text, unsigned integers and escaped string literals.
 *
 * Threading: every function is reentrant; a parsed document is immutable and
 * may be read by several threads.
 */
#ifndef MF_JSON_MIN_H
#define MF_JSON_MIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define MF_JSON_DEFAULT_MAX_BYTES  ((size_t) 16 << 20)
#define MF_JSON_DEFAULT_MAX_DEPTH  64
#define MF_JSON_DEFAULT_MAX_VALUES ((size_t) 1 << 20)
#define MF_JSON_MAX_DEPTH_CAP      512 /* larger max_depth values are clamped (stack use) */

typedef enum mf_json_type {
    MF_JSON_NULL,
    MF_JSON_FALSE,
    MF_JSON_TRUE,
    MF_JSON_NUMBER,
    MF_JSON_STRING,
    MF_JSON_ARRAY,
    MF_JSON_OBJECT,
} mf_json_type;

/*
 * One value of a parsed document.  Read-only; it lives as long as its
 * mf_json_doc.  Members of an object and elements of an array are linked
 * through `child` (first) and `next`, in document order.
 */
typedef struct mf_json mf_json;

struct mf_json {
    mf_json_type type;
    /* MF_JSON_NUMBER */
    bool is_integer;    /* written without fraction or exponent ("12", "-0") */
    bool negative;      /* written with a leading '-' */
    bool int_overflow;  /* is_integer, but |value| > UINT64_MAX */
    uint64_t magnitude; /* |value| when is_integer && !int_overflow */
    double num;         /* the value as a double (every number) */
    /* MF_JSON_STRING: decoded UTF-8, NUL-terminated, no interior NUL */
    const char *str;
    size_t str_len;
    /* MF_JSON_ARRAY, MF_JSON_OBJECT */
    size_t n_children;
    const mf_json *child;
    /* links */
    const mf_json *next; /* next element or member of the parent, or NULL */
    const char *key;     /* member name when the parent is an object, else NULL */
    size_t key_len;
    size_t key_offset; /* byte offset of the key's opening quote */
    size_t offset;     /* byte offset of the value's first character */
};

typedef struct mf_json_limits {
    size_t max_bytes;  /* longer input: MF_ERANGE */
    size_t max_depth;  /* arrays/objects nested deeper (root container = 1): MF_ERANGE */
    size_t max_values; /* more values in total: MF_ERANGE */
} mf_json_limits;

/* Where and why parsing failed. */
typedef struct mf_json_error {
    size_t offset;     /* byte offset of the offending character */
    char msg[128];     /* e.g. "invalid escape '\q' in string" */
    char dup_key[128]; /* the key, for a duplicate-key error; else empty */
} mf_json_error;

typedef struct mf_json_doc mf_json_doc;

/** The default limits (MF_JSON_DEFAULT_*). */
mf_json_limits mf_json_default_limits(void);

/**
 * Parses text[0..len) (need not be NUL-terminated) into a document.  limits
 * may be NULL (defaults).  Errors: MF_EINVAL (NULL text with len > 0, NULL
 * ret), MF_EFORMAT (syntax, invalid UTF-8, duplicate key), MF_ERANGE (a limit
 * exceeded), MF_ENOMEM.  On error *err (when not NULL) says where and why;
 * *ret is written only on success.  Free with mf_json_doc_free.
 */
MF_MUST_CHECK mf_err mf_json_parse(const char *text, size_t len, const mf_json_limits *limits,
                                   mf_json_doc **ret, mf_json_error *err);

/** Frees a document and every value in it; accepts NULL. */
void mf_json_doc_free(mf_json_doc *doc);

/** The root value of a document (never NULL for a parsed document). */
const mf_json *mf_json_doc_root(const mf_json_doc *doc);

/**
 * The member of obj named key (borrowed), or NULL when obj is NULL, not an
 * object, or has no such member.  Linear in the number of members.
 */
const mf_json *mf_json_object_get(const mf_json *obj, const char *key);

/** True when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF). */
bool mf_json_utf8_valid(const char *s, size_t len);

/**
 * Copies s (NUL-terminated; NULL reads as "") into out[cap] (cap >= 4) for
 * display in a message or diag field: invalid UTF-8 bytes and control
 * characters become '?', and a string that does not fit is cut on a
 * character boundary and ends in "...".  The result is always valid UTF-8.
 */
void mf_json_snippet(char *out, size_t cap, const char *s);

/* ---- writing -------------------------------------------------------------------- */

/* A growable output buffer.  Zero-initialise ({0}) before use; data is
 * NUL-terminated whenever len > 0. */
typedef struct mf_json_buf {
    char *data;
    size_t len;
    size_t cap;
} mf_json_buf;

/** Releases the buffer's memory and zeroes it; accepts NULL. */
void mf_json_buf_deinit(mf_json_buf *b);

/** Appends n raw bytes.  Errors: MF_ERANGE (size overflow), MF_ENOMEM. */
MF_MUST_CHECK mf_err mf_json_buf_add(mf_json_buf *b, const char *s, size_t n);

/** Appends a NUL-terminated raw string.  Errors as mf_json_buf_add. */
MF_MUST_CHECK mf_err mf_json_buf_add_cstr(mf_json_buf *b, const char *s);

/** Appends an unsigned integer in decimal.  Errors as mf_json_buf_add. */
MF_MUST_CHECK mf_err mf_json_buf_add_u64(mf_json_buf *b, uint64_t v);

/**
 * Appends s[0..n) as a quoted JSON string literal: '"' and '\' escaped,
 * control characters as \b \f \n \r \t or \u00XX, other bytes as they are.
 * Errors: MF_EINVAL (s is not valid UTF-8; nothing appended), MF_ERANGE,
 * MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_json_buf_add_string(mf_json_buf *b, const char *s, size_t n);

#endif /* MF_JSON_MIN_H */
