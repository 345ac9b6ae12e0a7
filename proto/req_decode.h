/* SPDX-License-Identifier: MIT */
/*
 * req_decode.h - the pieces every request decoder of proto/ is made of: the
 * one JSON parse (one object, no duplicate keys, bounded depth), typed field
 * getters that name the field by its JSON pointer, the unknown-field check,
 * and a table-driven decoder and encoder for flat parameter objects (the job
 * codecs of proto/jobs/).
 *
 * Errors: every function returns MF_OK, MF_EINVAL (the client's request is
 * wrong; d->code says how: "bad_json", "missing_field", "wrong_type",
 * "out_of_range", "unknown_field", "bad_value", "impossible",
 * "unsupported_type") or MF_ENOMEM (code "internal"), and fills the caller's
 * mf_diag: a sentence naming the field and what is allowed, and the field's
 * JSON pointer ("" = the body itself).  server/ maps code to HTTP status.
 * Every message is valid UTF-8 (jansson refuses to build an error body from
 * anything else), so a client's string is quoted back cut at a character
 * boundary.
 */
#ifndef MF_REQ_DECODE_H
#define MF_REQ_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"
#include "req_limits.h"

#define MF_REQ_SEED_MAX \
    (UINT64_C(1) << 53) /* the largest integer every JSON reader holds exactly */
#define MF_REQ_ID_RULE "an id matching [a-z0-9][a-z0-9._-]{0,63}"

/* ---- errors ------------------------------------------------------------------------ */

/** Fills d with code, field and message; returns MF_EINVAL, for `return mf_req_fail(...)`. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
mf_err
mf_req_fail(mf_diag *d, const char *code, const char *field, const char *fmt, ...);

/** Out of memory while decoding: MF_ENOMEM, code "internal" (not the client's fault). */
mf_err mf_req_fail_nomem(mf_diag *d);

/** `"ptr" must be WHAT, got X` with code: the sentence every field error uses. */
mf_err mf_req_fail_must(mf_diag *d, const char *code, const char *ptr, const char *what,
                        const json_t *v);

/** `missing required field "ptr", what`. */
mf_err mf_req_fail_missing(mf_diag *d, const char *ptr, const char *what);

/* ---- JSON pointers ------------------------------------------------------------------ */

/** buf = prefix "/" key, the key escaped per RFC 6901; cut at a whole character. */
void mf_req_ptr_join(char *buf, size_t cap, const char *prefix, const char *key);

/** buf = prefix "/" i. */
void mf_req_ptr_index(char *buf, size_t cap, const char *prefix, size_t i);

/** "a", "b", "c" (quoted when quoted) from a NULL-terminated list, cut to fit. */
void mf_req_join_names(char *buf, size_t cap, const char *const *names, bool quoted);

/* ---- parsing and fields ------------------------------------------------------------- */

/**
 * Parses text (len bytes, need not be NUL-terminated) as one JSON object:
 * no duplicate keys, no NUL in strings, nothing after the value, nesting at
 * most MF_REQ_MAX_DEPTH.  what names the text in messages ("the body"),
 * field is the pointer an error about the text as a whole carries.  *ret (a
 * new reference) is written only on success.
 */
MF_MUST_CHECK mf_err mf_req_parse_object(const char *text, size_t len, const char *what,
                                         const char *field, json_t **ret, mf_diag *d);

/** Fails with unknown_field on the first key of o not in known (NULL-terminated). */
MF_MUST_CHECK mf_err mf_req_check_keys(json_t *o, const char *prefix, const char *const *known,
                                       mf_diag *d);

/** An integer lo..hi; reals (5.0, 1e3) are the wrong type even when integral. */
MF_MUST_CHECK mf_err mf_req_get_uint(const json_t *v, const char *ptr, uint64_t lo, uint64_t hi,
                                     uint64_t *out, mf_diag *d);
MF_MUST_CHECK mf_err mf_req_get_size(const json_t *v, const char *ptr, uint64_t lo, uint64_t hi,
                                     size_t *out, mf_diag *d);

/** A number (integer or real) in [lo, hi], or (lo, hi] when lo_open; what: the allowed range in
 * words. */
MF_MUST_CHECK mf_err mf_req_get_number(const json_t *v, const char *ptr, double lo, double hi,
                                       bool lo_open, const char *what, double *out, mf_diag *d);

MF_MUST_CHECK mf_err mf_req_get_bool(const json_t *v, const char *ptr, bool *out, mf_diag *d);

/** An id copied into out (MF_REQ_ID_MAX + 1 bytes). */
MF_MUST_CHECK mf_err mf_req_get_id(const json_t *v, const char *ptr, char *out, mf_diag *d);

/* ---- field tables ------------------------------------------------------------------- */

typedef enum mf_req_type {
    MF_REQ_SIZE,   /* integer lo..hi into a size_t */
    MF_REQ_U64,    /* integer lo..hi into a uint64_t */
    MF_REQ_NUMBER, /* number in [lo, hi] ((lo, hi] when lo_open) into a double */
    MF_REQ_BOOL,   /* true or false into a bool */
    MF_REQ_ID,     /* an id into char[MF_REQ_ID_MAX + 1]; "" = not given (not encoded) */
    MF_REQ_ENUM,   /* one of names into an int-sized enum (its index); def: the default's index */
    MF_REQ_CUSTOM, /* the field's own decode and encode */
} mf_req_type;

/* A server limit (mf_req_limits) that is a field's upper bound instead of hi. */
typedef enum mf_req_limit {
    MF_REQ_LIM_NONE = 0,
    MF_REQ_LIM_N,           /* max_n */
    MF_REQ_LIM_STEPS,       /* max_steps */
    MF_REQ_LIM_TRAIN_STEPS, /* max_train_steps */
    MF_REQ_LIM_BATCH,       /* max_batch */
} mf_req_limit;

typedef struct mf_req_field mf_req_field;

struct mf_req_field {
    const char *key;
    mf_req_type type;
    size_t offset;            /* of the value in the params struct */
    double lo, hi;            /* the range */
    mf_req_limit limit;       /* a server limit that bounds it (with hi, when hi > 0; caps def) */
    bool lo_open;             /* NUMBER: lo itself not allowed */
    const char *what;         /* NUMBER: the allowed values in words, for messages */
    const char *const *names; /* ENUM: the values, NULL-terminated */
    double def;               /* the default of a field not given (capped at the limit) */
    bool required;            /* missing is an error */
    bool omit_zero;           /* encode: left out when 0 ("the server picks") */
    bool has_given;           /* given_offset names a bool set when the field is given */
    size_t given_offset;      /* (and encode leaves the field out when it is not) */
    /* MF_REQ_CUSTOM: decode v at ptr into params (v NULL: the field is absent, so
     * set its default or fail as missing; called when decoding with defaults or
     * when required); encode it into o under key (0 = ok). */
    mf_err (*decode)(const json_t *v, const char *ptr, const mf_req_limits *lim, void *params,
                     mf_diag *d);
    int (*encode)(json_t *o, const char *key, const void *params);
    /* MF_REQ_CUSTOM of a nested object: its fields, for mf_req_describe (the custom
     * decode does the decoding). */
    const mf_req_field *sub;
};

/** The value of limit in lim, or hi when it is smaller (hi when MF_REQ_LIM_NONE). */
double mf_req_limit_value(const mf_req_limits *lim, mf_req_limit limit, double hi);

/**
 * Decodes the fields of o (NULL = no object given: every field absent) at
 * pointer prefix into params, in table order (a table ends with key NULL):
 * first unknown keys (a misspelt required field is reported as the typo,
 * not as missing), then each field; absent fields get their default when
 * with_defaults, else keep what params holds.  Errors as above.
 */
MF_MUST_CHECK mf_err mf_req_decode_fields(const mf_req_field *table, json_t *o, const char *prefix,
                                          const mf_req_limits *lim, bool with_defaults,
                                          void *params, mf_diag *d);

/** Fails with unknown_field on the first key of o (not NULL) that is not in table. */
MF_MUST_CHECK mf_err mf_req_check_fields(const mf_req_field *table, json_t *o, const char *prefix,
                                         mf_diag *d);

/**
 * The same for an object whose fields n tables describe together (a codec
 * that shares a group of fields with another, each table with its own base
 * struct): the allowed fields are those of every table, in order.
 */
MF_MUST_CHECK mf_err mf_req_check_tables(const mf_req_field *const *tables, size_t n, json_t *o,
                                         const char *prefix, mf_diag *d);

/** mf_req_decode_fields without the unknown-field check (done for several tables at once). */
MF_MUST_CHECK mf_err mf_req_decode_table(const mf_req_field *table, json_t *o, const char *prefix,
                                         const mf_req_limits *lim, bool with_defaults, void *params,
                                         mf_diag *d);

/** Sets the fields of params by table into object o (as mf_req_encode_fields); 0 = ok. */
int mf_req_encode_into(json_t *o, const mf_req_field *table, const void *params);

/**
 * The canonical JSON of params by table: compact, keys sorted, every field
 * (but an empty id, a zero omit_zero field, a not-given has_given field).
 * malloc'd; NULL when out of memory.
 */
char *mf_req_encode_fields(const mf_req_field *table, const void *params);

/**
 * What tables (NULL-terminated, read together) accept, as a JSON object keyed by field:
 * {"type": integer|number|boolean|string|custom, "minimum", "maximum" (the limit's value
 * in lim when a server limit bounds it, named by "limit": max_n, max_steps,
 * max_train_steps or max_batch), "exclusiveMinimum": true, "enum": [...], "required":
 * true, "properties": {...} (a nested object's fields)}.  The documentation tests compare
 * it with proto/openapi.yaml; NULL when out of memory.
 */
json_t *mf_req_describe(const mf_req_field *const *tables, const mf_req_limits *lim);

/** Dumps o (stolen) as compact JSON with sorted keys; NULL if failures or out of memory. */
char *mf_req_dump_sorted(json_t *o, int failures);

#endif /* MF_REQ_DECODE_H */
