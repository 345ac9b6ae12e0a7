/* SPDX-License-Identifier: MIT */
/*
 * request_json.c - decoding and validation of request bodies (see request_json.h).
 *
 * Order of checks, so that a client always gets the same error for the same
 * body: parse (syntax, duplicate keys, NUL bytes, UTF-8: jansson), the body is
 * an object, the nesting depth of the whole body, then per object: unknown
 * fields first (a misspelt required field is reported as the typo, not as
 * missing), then the fields in the order of the header, then the
 * combinations (422).
 *
 * Messages and pointers end up in a JSON error body, which jansson refuses to
 * build from invalid UTF-8: every truncation here stops at a character
 * boundary.
 */
#include "request_json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dataset.h"
#include "mlp.h"

#define SEED_MAX   (UINT64_C(1) << 53) /* the largest integer every JSON reader holds exactly */
#define WARMUP_MAX UINT64_C(1000000000)
#define ECHO_MAX   32 /* bytes of a client's string quoted back in a message */

#define ID_RULE "an id matching [a-z0-9][a-z0-9._-]{0,63}"
/* The job types this build runs, for messages. */
#define JOB_TYPES_OR  "\"sample\", \"train\" or \"finetune.smeme\""
#define JOB_TYPES_AND "\"sample\", \"train\" and \"finetune.smeme\""

/* Train defaults (request_json.h). */
static const uint32_t default_hidden[] = {256, 256, 256};
#define DEFAULT_EMB      64
#define DEFAULT_SCHEDULE "linear:0.0001:0.02:1000"
#define DEFAULT_STEPS    20000
#define DEFAULT_BATCH    512
#define DEFAULT_LR       1e-3
#define DEFAULT_LR_MIN   1e-5
#define DEFAULT_WARMUP   500
#define DEFAULT_EMA      0.999
#define DEFAULT_CLIP     1.0

/* finetune.smeme defaults and bounds (request_json.h; the defaults are
 * ALGORITHMS.md's "settings that work"). */
#define SMEME_K                2
#define SMEME_ALPHA            2.0
#define SMEME_ALPHA_MAX        100.0
#define SMEME_TAU_R            10
#define SMEME_TAU_R_MAX        999
#define SMEME_STEPS            100
#define SMEME_STEPS_MIN        2
#define SMEME_TRAJECTORIES     64
#define SMEME_TRAJECTORIES_MAX 1024
#define SMEME_BATCH            2048
#define SMEME_BATCH_MAX        16384
#define SMEME_LR               4e-4
#define SMEME_ROUNDS           200
#define SMEME_ROUNDS_MAX       100000
#define SMEME_INNER            2
#define SMEME_INNER_MAX        100
#define SMEME_CLIP_REWARD      2.5
#define SMEME_CLIP_GRAD        1.0
#define SMEME_CLIP_LOSS        0.0
#define SMEME_CLIP_MAX         1e6
#define SMEME_CLIP_LOSS_MAX    1e12
#define SMEME_METRIC_N         2000
#define SMEME_METRIC_N_MIN     100
#define CLIP_WHAT(max)         "a number between 0 and " max " (0 = no clipping)"

_Static_assert(sizeof default_hidden / sizeof default_hidden[0] <= MF_MLP_MAX_HIDDEN,
               "default hidden layers");
_Static_assert(sizeof((mf_train_req *) 0)->hidden / sizeof(uint32_t) >= MF_MLP_MAX_HIDDEN,
               "mf_train_req.hidden holds MF_MLP_MAX_HIDDEN layers");

/* The fields of each object, in the order they are checked and listed in messages. */
static const char *const sample_keys[] = {"model", "n",    "sampler", "steps",
                                          "eta",   "seed", "metrics", NULL};
/* A sample job's params: the same without "model" (the job names the model). */
static const char *const *const sample_param_keys = sample_keys + 1;
static const char *const train_keys[] = {"dataset", "hidden", "emb",        "schedule",  "steps",
                                         "batch",   "lr",     "lr_min",     "warmup",    "ema",
                                         "clip",    "seed",   "dequantise", "out_model", NULL};
static const char *const smeme_keys[] = {"K",
                                         "alpha",
                                         "tau_r",
                                         "steps",
                                         "trajectories",
                                         "batch",
                                         "lr",
                                         "rounds",
                                         "inner_steps",
                                         "clip_reward",
                                         "clip_grad",
                                         "clip_loss",
                                         "seed",
                                         "n_metric_samples",
                                         "out_model",
                                         NULL};
static const char *const job_keys[] = {"type", "model", "params", NULL};
/* Job types of the API that this build does not run (422 unsupported_type). */
static const char *const unsupported_types[] = {"finetune.reward", "finetune.dxmi", NULL};

/* ---- text helpers ---------------------------------------------------------------- */

/* Length of the UTF-8 sequence a lead byte starts (1 for anything else, so a
 * stray byte never stalls a loop; jansson has validated the text anyway). */
static size_t utf8_len(unsigned char c)
{
    if ((c & 0xE0) == 0xC0) {
        return 2;
    }
    if ((c & 0xF0) == 0xE0) {
        return 3;
    }
    if ((c & 0xF8) == 0xF0) {
        return 4;
    }
    return 1;
}

/* Cuts a trailing incomplete UTF-8 sequence (left by a truncating snprintf). */
static void utf8_trim(char *s)
{
    size_t n = strlen(s);
    size_t i = n;
    /* Back over at most 3 continuation bytes to the lead byte of the last character. */
    while (i > 0 && n - i < 3 && ((unsigned char) s[i - 1] & 0xC0) == 0x80) {
        i--;
    }
    if (i > 0 && i - 1 + utf8_len((unsigned char) s[i - 1]) > n) {
        s[i - 1] = '\0';
    }
}

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

/*
 * buf = prefix "/" key, key escaped per RFC 6901 ("~" -> "~0", "/" -> "~1").
 * A key too long for buf is cut before the first escape or character that
 * does not fit whole.
 */
static void ptr_join(char *buf, size_t cap, const char *prefix, const char *key)
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
            len = utf8_len((unsigned char) *p);
            len = strnlen(p, len); /* never past the terminator */
            ok = append(buf, cap, p, len);
        }
        if (!ok) {
            return;
        }
        p += len;
    }
}

static void ptr_index(char *buf, size_t cap, const char *prefix, size_t i)
{
    snprintf(buf, cap, "%s/%zu", prefix, i);
    utf8_trim(buf);
}

/* A real written so that it reads back as the same double and shows it is not
 * an integer: the shortest "%.*g" that round-trips, with ".0" when bare. */
static void format_real(double v, char *buf, size_t cap)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) {
            break;
        }
    }
    if (strpbrk(buf, ".eEn") == NULL) { /* n: inf, nan (not produced by the parser) */
        size_t n = strlen(buf);
        if (n + 2 < cap) {
            memcpy(buf + n, ".0", 3);
        }
    }
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
            size_t len = strnlen(s + n, utf8_len((unsigned char) s[n]));
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
    case JSON_REAL:
        format_real(json_real_value(v), buf, cap);
        break;
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
    utf8_trim(buf);
}

/* "a", "b", "c" (quoted, or bare), from a NULL-terminated list. */
static void join_names(char *buf, size_t cap, const char *const *names, bool quoted)
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

/* The data set names, quoted: "gaussian", ..., "digits". */
static void dataset_list(char *buf, size_t cap)
{
    const char *names[MF_DATASET_COUNT + 1];
    for (int i = 0; i < MF_DATASET_COUNT; i++) {
        names[i] = mf_dataset_name((mf_dataset_id) i);
    }
    names[MF_DATASET_COUNT] = NULL;
    join_names(buf, cap, names, true);
}

/* ---- errors ---------------------------------------------------------------------- */

/* Fills *err (when not NULL) and returns status, for `return fail(...)`. */
#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
static mf_req_status
fail(mf_req_error *err, mf_req_status status, const char *code, const char *field, const char *fmt,
     ...)
{
    if (err == NULL) {
        return status;
    }
    memset(err, 0, sizeof *err);
    err->status = status;
    snprintf(err->code, sizeof err->code, "%s", code);
    snprintf(err->field, sizeof err->field, "%s", field);
    utf8_trim(err->field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    utf8_trim(err->message);
    return status;
}

static mf_req_status fail_nomem(mf_req_error *err)
{
    return fail(err, MF_REQ_INTERNAL, "internal", "",
                "the server ran out of memory while decoding the request; try again later");
}

/* A 400 `"ptr" must be WHAT, got X`: every field error reads the same way. */
static mf_req_status fail_must(mf_req_error *err, const char *code, const char *ptr,
                               const char *what, const json_t *v)
{
    char got[64];
    describe(v, got, sizeof got);
    return fail(err, MF_REQ_BAD, code, ptr, "\"%s\" must be %s, got %s", ptr, what, got);
}

/* ---- field decoders: each returns MF_REQ_OK and writes *out, or fills *err ------- */

/* An integer lo..hi; reals (5.0, 1e3) are the wrong type even when integral. */
static mf_req_status get_uint(const json_t *v, const char *ptr, uint64_t lo, uint64_t hi,
                              uint64_t *out, mf_req_error *err)
{
    char what[96];
    snprintf(what, sizeof what, "an integer between %llu and %llu", (unsigned long long) lo,
             (unsigned long long) hi);
    if (!json_is_integer(v)) {
        if (json_is_real(v)) {
            /* The value may well be integral: say why it is still refused. */
            strncat(what, " (without a fraction or exponent)", sizeof what - strlen(what) - 1);
        }
        return fail_must(err, "wrong_type", ptr, what, v);
    }
    json_int_t x = json_integer_value(v);
    if (x < 0 || (uint64_t) x < lo || (uint64_t) x > hi) {
        return fail_must(err, "out_of_range", ptr, what, v);
    }
    *out = (uint64_t) x;
    return MF_REQ_OK;
}

static mf_req_status get_size(const json_t *v, const char *ptr, uint64_t lo, uint64_t hi,
                              size_t *out, mf_req_error *err)
{
    uint64_t x = 0;
    mf_req_status st = get_uint(v, ptr, lo, hi, &x, err);
    if (st == MF_REQ_OK) {
        *out = (size_t) x;
    }
    return st;
}

/* A number (integer or real) in [lo, hi], or (lo, hi] when lo_open. */
static mf_req_status get_number(const json_t *v, const char *ptr, double lo, double hi,
                                bool lo_open, const char *what, double *out, mf_req_error *err)
{
    if (!json_is_number(v)) {
        return fail_must(err, "wrong_type", ptr, what, v);
    }
    double x = json_number_value(v);
    if (!isfinite(x) || x > hi || (lo_open ? x <= lo : x < lo)) {
        return fail_must(err, "out_of_range", ptr, what, v);
    }
    *out = x;
    return MF_REQ_OK;
}

static mf_req_status get_bool(const json_t *v, const char *ptr, bool *out, mf_req_error *err)
{
    if (!json_is_boolean(v)) {
        return fail_must(err, "wrong_type", ptr, "true or false", v);
    }
    *out = json_is_true(v);
    return MF_REQ_OK;
}

/* An id copied into out (MF_REQ_ID_MAX + 1 bytes). */
static mf_req_status get_id(const json_t *v, const char *ptr, char *out, mf_req_error *err)
{
    if (!json_is_string(v)) {
        return fail_must(err, "wrong_type", ptr, ID_RULE, v);
    }
    const char *s = json_string_value(v);
    if (!mf_req_id_valid(s)) {
        return fail_must(err, "bad_value", ptr, ID_RULE, v);
    }
    memcpy(out, s, strlen(s) + 1); /* at most MF_REQ_ID_MAX + 1 bytes: checked above */
    return MF_REQ_OK;
}

/* Fails with unknown_field on the first key of o not in known (NULL-terminated). */
static mf_req_status check_keys(json_t *o, const char *prefix, const char *const *known,
                                mf_req_error *err)
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
            char ptr[128], names[192];
            ptr_join(ptr, sizeof ptr, prefix, key);
            join_names(names, sizeof names, known, false);
            return fail(err, MF_REQ_BAD, "unknown_field", ptr,
                        "unknown field \"%s\"; the allowed fields are %s", ptr, names);
        }
    }
    return MF_REQ_OK;
}

static mf_req_status fail_missing(mf_req_error *err, const char *ptr, const char *what)
{
    return fail(err, MF_REQ_BAD, "missing_field", ptr, "missing required field \"%s\", %s", ptr,
                what);
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

/*
 * Parses one JSON object.  what names the text in messages ("the body"), field
 * is the pointer errors about the text as a whole carry.  *ret (a new
 * reference) is written only on success.
 */
static mf_req_status parse_object(const char *text, size_t len, const char *what, const char *field,
                                  json_t **ret, mf_req_error *err)
{
    if (text == NULL || len == 0) {
        return fail(err, MF_REQ_BAD, "bad_json", field, "%s is empty; it must be a JSON object",
                    what);
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
            return fail_nomem(err);
        }
        return fail(err, MF_REQ_BAD, "bad_json", field,
                    "%s is not valid JSON: %s (line %d, column %d)", what, je.text, je.line,
                    je.column);
    }
    mf_req_status st = MF_REQ_OK;
    if (!json_is_object(root)) {
        char got[64];
        describe(root, got, sizeof got);
        st =
            fail(err, MF_REQ_BAD, "bad_json", field, "%s must be a JSON object, got %s", what, got);
    } else if (too_deep(root, 1)) {
        /* The whole text before any field: a deep value is refused wherever it sits. */
        st = fail(err, MF_REQ_BAD, "bad_json", field,
                  "%s nests objects and arrays deeper than %d levels", what, MF_REQ_MAX_DEPTH);
    }
    if (st != MF_REQ_OK) {
        json_decref(root);
        return st;
    }
    *ret = root;
    return MF_REQ_OK;
}

/* ---- sample ---------------------------------------------------------------------- */

/*
 * The fields of a /v1/samples body (with_model) or of a sample job's params
 * (prefix "/params", no model).  *r is filled as it goes.
 */
static mf_req_status decode_sample(json_t *o, const char *prefix, bool with_model,
                                   const mf_req_limits *lim, mf_sample_req *r, mf_req_error *err)
{
    char ptr[128], what[128];
    mf_req_status st;
    if (!with_model && json_object_get(o, "model") != NULL) {
        ptr_join(ptr, sizeof ptr, prefix, "model");
        return fail(err, MF_REQ_BAD, "unknown_field", ptr,
                    "unknown field \"%s\"; a sample job names its model in the top-level "
                    "\"model\"",
                    ptr);
    }
    st = check_keys(o, prefix, with_model ? sample_keys : sample_param_keys, err);
    if (st != MF_REQ_OK) {
        return st;
    }
    json_t *v;
    if (with_model) {
        ptr_join(ptr, sizeof ptr, prefix, "model");
        if ((v = json_object_get(o, "model")) == NULL) {
            return fail_missing(err, ptr, ID_RULE);
        }
        if ((st = get_id(v, ptr, r->model, err)) != MF_REQ_OK) {
            return st;
        }
    }

    ptr_join(ptr, sizeof ptr, prefix, "n");
    if ((v = json_object_get(o, "n")) == NULL) {
        snprintf(what, sizeof what, "an integer between 1 and %zu", lim->max_n);
        return fail_missing(err, ptr, what);
    }
    if ((st = get_size(v, ptr, 1, lim->max_n, &r->n, err)) != MF_REQ_OK) {
        return st;
    }

    r->sampler = MF_SAMPLER_DDPM;
    if ((v = json_object_get(o, "sampler")) != NULL) {
        ptr_join(ptr, sizeof ptr, prefix, "sampler");
        snprintf(what, sizeof what, "one of \"%s\", \"%s\", \"%s\"",
                 mf_sampler_name(MF_SAMPLER_DDPM), mf_sampler_name(MF_SAMPLER_DDIM),
                 mf_sampler_name(MF_SAMPLER_ODE));
        if (!json_is_string(v)) {
            return fail_must(err, "wrong_type", ptr, what, v);
        }
        if (mf_sampler_lookup(json_string_value(v), &r->sampler) != MF_OK) {
            return fail_must(err, "bad_value", ptr, what, v);
        }
    }

    r->steps = 0;
    if ((v = json_object_get(o, "steps")) != NULL) {
        ptr_join(ptr, sizeof ptr, prefix, "steps");
        if ((st = get_size(v, ptr, 1, lim->max_steps, &r->steps, err)) != MF_REQ_OK) {
            return st;
        }
    }

    r->eta = 0.0;
    if ((v = json_object_get(o, "eta")) != NULL) {
        ptr_join(ptr, sizeof ptr, prefix, "eta");
        st = get_number(v, ptr, 0.0, 1.0, false, "a number between 0 and 1", &r->eta, err);
        if (st != MF_REQ_OK) {
            return st;
        }
    }

    r->has_seed = false;
    r->seed = 0;
    if ((v = json_object_get(o, "seed")) != NULL) {
        ptr_join(ptr, sizeof ptr, prefix, "seed");
        if ((st = get_uint(v, ptr, 0, SEED_MAX, &r->seed, err)) != MF_REQ_OK) {
            return st;
        }
        r->has_seed = true;
    }

    r->metrics = true;
    if ((v = json_object_get(o, "metrics")) != NULL) {
        ptr_join(ptr, sizeof ptr, prefix, "metrics");
        if ((st = get_bool(v, ptr, &r->metrics, err)) != MF_REQ_OK) {
            return st;
        }
    }
    return MF_REQ_OK;
}

/* ---- train ----------------------------------------------------------------------- */

static mf_req_status decode_hidden(const json_t *v, mf_train_req *r, mf_req_error *err)
{
    static const char ptr[] = "/params/hidden";
    char what[128];
    snprintf(what, sizeof what, "an array of 1 to %d integers between 1 and %d", MF_MLP_MAX_HIDDEN,
             MF_MLP_MAX_WIDTH);
    if (!json_is_array(v)) {
        return fail_must(err, "wrong_type", ptr, what, v);
    }
    size_t k = json_array_size(v);
    if (k == 0 || k > MF_MLP_MAX_HIDDEN) {
        return fail_must(err, "out_of_range", ptr, what, v);
    }
    for (size_t i = 0; i < k; i++) {
        char eptr[128];
        uint64_t h;
        ptr_index(eptr, sizeof eptr, ptr, i);
        mf_req_status st = get_uint(json_array_get(v, i), eptr, 1, MF_MLP_MAX_WIDTH, &h, err);
        if (st != MF_REQ_OK) {
            return st;
        }
        r->hidden[i] = (uint32_t) h;
    }
    r->n_hidden = k;
    return MF_REQ_OK;
}

/* The params of a train job; o NULL = params omitted (then only the required
 * dataset is missing).  *r is filled as it goes. */
static mf_req_status decode_train(json_t *o, const mf_req_limits *lim, mf_train_req *r,
                                  mf_req_error *err)
{
    char what[192], names[160];
    dataset_list(names, sizeof names);
    snprintf(what, sizeof what, "one of %s", names);
    if (o == NULL) {
        /* No params, so no dataset: the same error as "params": {}. */
        return fail_missing(err, "/params/dataset", what);
    }
    mf_req_status st;
    if ((st = check_keys(o, "/params", train_keys, err)) != MF_REQ_OK) {
        return st;
    }

    json_t *v;
    mf_dataset_id ds = MF_DATASET_GAUSSIAN;
    if ((v = json_object_get(o, "dataset")) == NULL) {
        return fail_missing(err, "/params/dataset", what);
    }
    if (!json_is_string(v)) {
        return fail_must(err, "wrong_type", "/params/dataset", what, v);
    }
    if (mf_dataset_lookup(json_string_value(v), &ds) != MF_OK) {
        return fail_must(err, "bad_value", "/params/dataset", what, v);
    }
    snprintf(r->dataset, sizeof r->dataset, "%s", mf_dataset_name(ds));

    memcpy(r->hidden, default_hidden, sizeof default_hidden);
    r->n_hidden = sizeof default_hidden / sizeof default_hidden[0];
    if ((v = json_object_get(o, "hidden")) != NULL &&
        (st = decode_hidden(v, r, err)) != MF_REQ_OK) {
        return st;
    }

    r->emb = DEFAULT_EMB;
    if ((v = json_object_get(o, "emb")) != NULL) {
        if ((st = get_size(v, "/params/emb", 2, MF_MLP_MAX_WIDTH, &r->emb, err)) != MF_REQ_OK) {
            return st;
        }
        if (r->emb % 2 != 0) {
            /* In range but odd: the embedding is sin and cos halves. */
            snprintf(what, sizeof what, "an even integer between 2 and %d", MF_MLP_MAX_WIDTH);
            return fail_must(err, "bad_value", "/params/emb", what, v);
        }
    }

    snprintf(r->schedule, sizeof r->schedule, "%s", DEFAULT_SCHEDULE);
    if ((v = json_object_get(o, "schedule")) != NULL) {
        snprintf(what, sizeof what,
                 "a schedule string of 1 to %zu bytes such as \"" DEFAULT_SCHEDULE "\"",
                 sizeof r->schedule - 1);
        if (!json_is_string(v)) {
            return fail_must(err, "wrong_type", "/params/schedule", what, v);
        }
        size_t n = json_string_length(v);
        if (n == 0 || n >= sizeof r->schedule) {
            return fail_must(err, "bad_value", "/params/schedule", what, v);
        }
        memcpy(r->schedule, json_string_value(v), n + 1);
    }

    /* A default above the operator's limit gives way to the limit: the client
     * asked for no particular value. */
    r->steps = DEFAULT_STEPS < lim->max_train_steps ? DEFAULT_STEPS : lim->max_train_steps;
    if ((v = json_object_get(o, "steps")) != NULL &&
        (st = get_size(v, "/params/steps", 1, lim->max_train_steps, &r->steps, err)) != MF_REQ_OK) {
        return st;
    }
    r->batch = DEFAULT_BATCH < lim->max_batch ? DEFAULT_BATCH : lim->max_batch;
    if ((v = json_object_get(o, "batch")) != NULL &&
        (st = get_size(v, "/params/batch", 1, lim->max_batch, &r->batch, err)) != MF_REQ_OK) {
        return st;
    }

    r->lr = DEFAULT_LR;
    if ((v = json_object_get(o, "lr")) != NULL &&
        (st = get_number(v, "/params/lr", 0.0, 1.0, true, "a number greater than 0 and at most 1",
                         &r->lr, err)) != MF_REQ_OK) {
        return st;
    }
    r->lr_min = DEFAULT_LR_MIN;
    if ((v = json_object_get(o, "lr_min")) != NULL &&
        (st = get_number(v, "/params/lr_min", 0.0, 1.0, false, "a number between 0 and 1",
                         &r->lr_min, err)) != MF_REQ_OK) {
        return st;
    }
    r->warmup = DEFAULT_WARMUP;
    if ((v = json_object_get(o, "warmup")) != NULL &&
        (st = get_size(v, "/params/warmup", 0, WARMUP_MAX, &r->warmup, err)) != MF_REQ_OK) {
        return st;
    }
    r->ema = DEFAULT_EMA;
    if ((v = json_object_get(o, "ema")) != NULL &&
        (st = get_number(v, "/params/ema", 0.0, 0.999999, false, "a number between 0 and 0.999999",
                         &r->ema, err)) != MF_REQ_OK) {
        return st;
    }
    r->clip = DEFAULT_CLIP;
    if ((v = json_object_get(o, "clip")) != NULL &&
        (st = get_number(v, "/params/clip", 0.0, 1e9, false, "a number between 0 and 1000000000",
                         &r->clip, err)) != MF_REQ_OK) {
        return st;
    }
    r->seed = 0;
    if ((v = json_object_get(o, "seed")) != NULL &&
        (st = get_uint(v, "/params/seed", 0, SEED_MAX, &r->seed, err)) != MF_REQ_OK) {
        return st;
    }
    r->dequantise = false;
    if ((v = json_object_get(o, "dequantise")) != NULL &&
        (st = get_bool(v, "/params/dequantise", &r->dequantise, err)) != MF_REQ_OK) {
        return st;
    }
    r->out_model[0] = '\0';
    if ((v = json_object_get(o, "out_model")) != NULL &&
        (st = get_id(v, "/params/out_model", r->out_model, err)) != MF_REQ_OK) {
        return st;
    }

    /* Every field is fine alone; now the combinations. */
    if (r->dequantise && ds != MF_DATASET_DIGITS) {
        return fail(err, MF_REQ_IMPOSSIBLE, "impossible", "/params/dequantise",
                    "\"/params/dequantise\" can be true only for the integer-valued data set "
                    "\"%s\", not \"%s\"",
                    mf_dataset_name(MF_DATASET_DIGITS), r->dataset);
    }
    return MF_REQ_OK;
}

/* ---- finetune.smeme -------------------------------------------------------------- */

/* An optional integer param: *out = def when o (NULL = no params) lacks it. */
static mf_req_status opt_size(json_t *o, const char *key, uint64_t lo, uint64_t hi, size_t def,
                              size_t *out, mf_req_error *err)
{
    json_t *v = o != NULL ? json_object_get(o, key) : NULL;
    *out = def;
    if (v == NULL) {
        return MF_REQ_OK;
    }
    char ptr[64];
    ptr_join(ptr, sizeof ptr, "/params", key);
    return get_size(v, ptr, lo, hi, out, err);
}

/* An optional number param, as get_number; *out = def when absent. */
static mf_req_status opt_number(json_t *o, const char *key, double lo, double hi, bool lo_open,
                                const char *what, double def, double *out, mf_req_error *err)
{
    json_t *v = o != NULL ? json_object_get(o, key) : NULL;
    *out = def;
    if (v == NULL) {
        return MF_REQ_OK;
    }
    char ptr[64];
    ptr_join(ptr, sizeof ptr, "/params", key);
    return get_number(v, ptr, lo, hi, lo_open, what, out, err);
}

/* alpha: one number for every iteration, or a list of 1..MF_SMEME_REQ_MAX_K
 * numbers (*n_alpha of them; whether that is K is checked with the combinations). */
static mf_req_status decode_alpha(const json_t *v, mf_smeme_req *r, size_t *n_alpha,
                                  mf_req_error *err)
{
    static const char ptr[] = "/params/alpha";
    static const char one[] = "a number greater than 1 and at most 100";
    char what[160];
    snprintf(what, sizeof what, "%s, or an array of K (%zu) such numbers", one, r->K);
    if (json_is_number(v)) {
        double a = 0.0;
        mf_req_status st = get_number(v, ptr, 1.0, SMEME_ALPHA_MAX, true, what, &a, err);
        if (st != MF_REQ_OK) {
            return st;
        }
        for (size_t i = 0; i < r->K; i++) {
            r->alpha[i] = a;
        }
        *n_alpha = r->K;
        return MF_REQ_OK;
    }
    if (!json_is_array(v)) {
        return fail_must(err, "wrong_type", ptr, what, v);
    }
    size_t k = json_array_size(v);
    if (k == 0 || k > MF_SMEME_REQ_MAX_K) {
        /* No K allows it: wrong alone, so a 400 and not the 422 of a mismatch. */
        return fail_must(err, "out_of_range", ptr, what, v);
    }
    for (size_t i = 0; i < k; i++) {
        char eptr[128];
        ptr_index(eptr, sizeof eptr, ptr, i);
        mf_req_status st = get_number(json_array_get(v, i), eptr, 1.0, SMEME_ALPHA_MAX, true, one,
                                      &r->alpha[i], err);
        if (st != MF_REQ_OK) {
            return st;
        }
    }
    *n_alpha = k;
    return MF_REQ_OK;
}

/* A server limit under the smallest value finetune.smeme accepts: no request can pass. */
static mf_req_status fail_limit(mf_req_error *err, const char *ptr, const char *limit, size_t have,
                                size_t need)
{
    return fail(err, MF_REQ_IMPOSSIBLE, "impossible", ptr,
                "\"%s\" cannot be met: this server allows at most %zu %s and finetune.smeme "
                "needs at least %zu",
                ptr, have, limit, need);
}

/* The params of a finetune.smeme job; o NULL = params omitted (every default).
 * *r is filled as it goes. */
static mf_req_status decode_smeme(json_t *o, const mf_req_limits *lim, mf_smeme_req *r,
                                  mf_req_error *err)
{
    mf_req_status st;
    json_t *v;
    memset(r, 0, sizeof *r); /* alpha[K..] stays 0: equal params, equal structs */
    if (o != NULL) {
        if (json_object_get(o, "model") != NULL) {
            return fail(err, MF_REQ_BAD, "unknown_field", "/params/model",
                        "unknown field \"/params/model\"; a finetune.smeme job names the model "
                        "it starts from in the top-level \"model\" and the new one with "
                        "\"params.out_model\"");
        }
        if ((st = check_keys(o, "/params", smeme_keys, err)) != MF_REQ_OK) {
            return st;
        }
    }
    /* The server's limits before the body: when they leave no valid value, no
     * body can help. */
    if (lim->max_steps < SMEME_STEPS_MIN) {
        return fail_limit(err, "/params/steps", "sampler steps", lim->max_steps, SMEME_STEPS_MIN);
    }
    if (lim->max_n < SMEME_METRIC_N_MIN) {
        return fail_limit(err, "/params/n_metric_samples", "samples", lim->max_n,
                          SMEME_METRIC_N_MIN);
    }

    if ((st = opt_size(o, "K", 1, MF_SMEME_REQ_MAX_K, SMEME_K, &r->K, err)) != MF_REQ_OK) {
        return st;
    }
    bool k_given = o != NULL && json_object_get(o, "K") != NULL;

    size_t n_alpha = r->K;
    for (size_t i = 0; i < r->K; i++) {
        r->alpha[i] = SMEME_ALPHA;
    }
    if (o != NULL && (v = json_object_get(o, "alpha")) != NULL &&
        (st = decode_alpha(v, r, &n_alpha, err)) != MF_REQ_OK) {
        return st;
    }

    r->tau_r = SMEME_TAU_R;
    if (o != NULL && (v = json_object_get(o, "tau_r")) != NULL) {
        size_t tau = 0;
        if ((st = get_size(v, "/params/tau_r", 0, SMEME_TAU_R_MAX, &tau, err)) != MF_REQ_OK) {
            return st;
        }
        r->tau_r = (long) tau;
    }

    /* Defaults above the operator's limits give way to them, as for train jobs. */
    size_t def = SMEME_STEPS < lim->max_steps ? SMEME_STEPS : lim->max_steps;
    if ((st = opt_size(o, "steps", SMEME_STEPS_MIN, lim->max_steps, def, &r->steps, err)) !=
        MF_REQ_OK) {
        return st;
    }
    if ((st = opt_size(o, "trajectories", 1, SMEME_TRAJECTORIES_MAX, SMEME_TRAJECTORIES,
                       &r->trajectories, err)) != MF_REQ_OK) {
        return st;
    }
    if ((st = opt_size(o, "batch", 1, SMEME_BATCH_MAX, SMEME_BATCH, &r->batch, err)) != MF_REQ_OK) {
        return st;
    }
    if ((st = opt_number(o, "lr", 0.0, 1.0, true, "a number greater than 0 and at most 1", SMEME_LR,
                         &r->lr, err)) != MF_REQ_OK) {
        return st;
    }
    if ((st = opt_size(o, "rounds", 1, SMEME_ROUNDS_MAX, SMEME_ROUNDS, &r->rounds, err)) !=
        MF_REQ_OK) {
        return st;
    }
    if ((st = opt_size(o, "inner_steps", 1, SMEME_INNER_MAX, SMEME_INNER, &r->inner_steps, err)) !=
        MF_REQ_OK) {
        return st;
    }
    if ((st = opt_number(o, "clip_reward", 0.0, SMEME_CLIP_MAX, false, CLIP_WHAT("1000000"),
                         SMEME_CLIP_REWARD, &r->clip_reward, err)) != MF_REQ_OK) {
        return st;
    }
    if ((st = opt_number(o, "clip_grad", 0.0, SMEME_CLIP_MAX, false, CLIP_WHAT("1000000"),
                         SMEME_CLIP_GRAD, &r->clip_grad, err)) != MF_REQ_OK) {
        return st;
    }
    if ((st = opt_number(o, "clip_loss", 0.0, SMEME_CLIP_LOSS_MAX, false,
                         CLIP_WHAT("1000000000000"), SMEME_CLIP_LOSS, &r->clip_loss, err)) !=
        MF_REQ_OK) {
        return st;
    }
    r->seed = 0;
    if (o != NULL && (v = json_object_get(o, "seed")) != NULL &&
        (st = get_uint(v, "/params/seed", 0, SEED_MAX, &r->seed, err)) != MF_REQ_OK) {
        return st;
    }
    def = SMEME_METRIC_N < lim->max_n ? SMEME_METRIC_N : lim->max_n;
    if ((st = opt_size(o, "n_metric_samples", SMEME_METRIC_N_MIN, lim->max_n, def,
                       &r->n_metric_samples, err)) != MF_REQ_OK) {
        return st;
    }
    r->out_model[0] = '\0';
    if (o != NULL && (v = json_object_get(o, "out_model")) != NULL &&
        (st = get_id(v, "/params/out_model", r->out_model, err)) != MF_REQ_OK) {
        return st;
    }

    /* Every field is fine alone; now the combinations. */
    if (n_alpha != r->K) {
        return fail(err, MF_REQ_IMPOSSIBLE, "impossible", "/params/alpha",
                    "\"/params/alpha\" lists %zu numbers but \"/params/K\" is %zu%s; give one "
                    "alpha per iteration, or a single number for all of them",
                    n_alpha, r->K, k_given ? "" : " (the default)");
    }
    return MF_REQ_OK;
}

/* ---- canonical params ------------------------------------------------------------ */

/* Dumps o (stolen) as compact JSON with sorted keys; NULL if failures or out of memory. */
static char *dump(json_t *o, int failures)
{
    char *s = failures == 0 ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    return s;
}

char *mf_req_sample_params_json(const mf_sample_req *r)
{
    json_t *o = json_object();
    int f = o == NULL;
    f |= json_object_set_new(o, "n", json_integer((json_int_t) r->n));
    f |= json_object_set_new(o, "sampler", json_string(mf_sampler_name(r->sampler)));
    /* steps 0 ("the server picks") and no seed ("the server draws one") are left
     * out: neither is a value the decoder would accept back. */
    if (r->steps != 0) {
        f |= json_object_set_new(o, "steps", json_integer((json_int_t) r->steps));
    }
    f |= json_object_set_new(o, "eta", json_real(r->eta));
    if (r->has_seed) {
        f |= json_object_set_new(o, "seed", json_integer((json_int_t) r->seed));
    }
    f |= json_object_set_new(o, "metrics", json_boolean(r->metrics));
    return dump(o, f);
}

static char *train_params_json(const mf_train_req *r)
{
    json_t *o = json_object(), *h = json_array();
    int f = o == NULL || h == NULL;
    for (size_t i = 0; i < r->n_hidden; i++) {
        f |= json_array_append_new(h, json_integer((json_int_t) r->hidden[i]));
    }
    f |= json_object_set_new(o, "dataset", json_string(r->dataset));
    f |= json_object_set_new(o, "hidden", h);
    f |= json_object_set_new(o, "emb", json_integer((json_int_t) r->emb));
    f |= json_object_set_new(o, "schedule", json_string(r->schedule));
    f |= json_object_set_new(o, "steps", json_integer((json_int_t) r->steps));
    f |= json_object_set_new(o, "batch", json_integer((json_int_t) r->batch));
    f |= json_object_set_new(o, "lr", json_real(r->lr));
    f |= json_object_set_new(o, "lr_min", json_real(r->lr_min));
    f |= json_object_set_new(o, "warmup", json_integer((json_int_t) r->warmup));
    f |= json_object_set_new(o, "ema", json_real(r->ema));
    f |= json_object_set_new(o, "clip", json_real(r->clip));
    f |= json_object_set_new(o, "seed", json_integer((json_int_t) r->seed));
    f |= json_object_set_new(o, "dequantise", json_boolean(r->dequantise));
    /* No out_model: "" (the server names it) is not an id. */
    if (r->out_model[0] != '\0') {
        f |= json_object_set_new(o, "out_model", json_string(r->out_model));
    }
    return dump(o, f);
}

char *mf_req_smeme_params_json(const mf_smeme_req *r)
{
    json_t *o = json_object(), *a = json_array();
    int f = o == NULL || a == NULL;
    for (size_t i = 0; i < r->K && i < MF_SMEME_REQ_MAX_K; i++) {
        f |= json_array_append_new(a, json_real(r->alpha[i]));
    }
    f |= json_object_set_new(o, "K", json_integer((json_int_t) r->K));
    /* Always the list: one form to read back, whichever the client sent. */
    f |= json_object_set_new(o, "alpha", a);
    f |= json_object_set_new(o, "tau_r", json_integer((json_int_t) r->tau_r));
    f |= json_object_set_new(o, "steps", json_integer((json_int_t) r->steps));
    f |= json_object_set_new(o, "trajectories", json_integer((json_int_t) r->trajectories));
    f |= json_object_set_new(o, "batch", json_integer((json_int_t) r->batch));
    f |= json_object_set_new(o, "lr", json_real(r->lr));
    f |= json_object_set_new(o, "rounds", json_integer((json_int_t) r->rounds));
    f |= json_object_set_new(o, "inner_steps", json_integer((json_int_t) r->inner_steps));
    f |= json_object_set_new(o, "clip_reward", json_real(r->clip_reward));
    f |= json_object_set_new(o, "clip_grad", json_real(r->clip_grad));
    f |= json_object_set_new(o, "clip_loss", json_real(r->clip_loss));
    f |= json_object_set_new(o, "seed", json_integer((json_int_t) r->seed));
    f |= json_object_set_new(o, "n_metric_samples", json_integer((json_int_t) r->n_metric_samples));
    /* No out_model: "" (the server names it) is not an id. */
    if (r->out_model[0] != '\0') {
        f |= json_object_set_new(o, "out_model", json_string(r->out_model));
    }
    return dump(o, f);
}

/* Decodes the params of a job of kind k into j (model already set); the common
 * tail of mf_req_decode_job and mf_req_decode_job_params. */
static mf_req_status decode_params(mf_job_kind k, json_t *params, const mf_req_limits *lim,
                                   mf_job_req *j, mf_req_error *err)
{
    mf_req_status st;
    if (params != NULL && !json_is_object(params)) {
        char what[64];
        snprintf(what, sizeof what, "an object of %s job params", mf_job_kind_name(k));
        return fail_must(err, "wrong_type", "/params", what, params);
    }
    if (k == MF_JOB_KIND_SAMPLE) {
        if (params == NULL) {
            return fail_missing(err, "/params", "an object with at least \"n\"");
        }
        st = decode_sample(params, "/params", false, lim, &j->p.sample, err);
        if (st != MF_REQ_OK) {
            return st;
        }
        /* The sample request of a job carries the job's model, so the server can
         * run it like a /v1/samples request. */
        memcpy(j->p.sample.model, j->model, sizeof j->model);
        j->params_json = mf_req_sample_params_json(&j->p.sample);
    } else if (k == MF_JOB_KIND_TRAIN) {
        if ((st = decode_train(params, lim, &j->p.train, err)) != MF_REQ_OK) {
            return st;
        }
        j->params_json = train_params_json(&j->p.train);
    } else {
        if ((st = decode_smeme(params, lim, &j->p.smeme, err)) != MF_REQ_OK) {
            return st;
        }
        j->params_json = mf_req_smeme_params_json(&j->p.smeme);
    }
    return j->params_json == NULL ? fail_nomem(err) : MF_REQ_OK;
}

/* ---- public ---------------------------------------------------------------------- */

bool mf_req_id_valid(const char *s)
{
    if (s == NULL) {
        return false;
    }
    size_t i = 0;
    for (; s[i] != '\0'; i++) {
        if (i == MF_REQ_ID_MAX) {
            return false;
        }
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        /* '.', '_' and '-' never first: no id is ".", "..", a hidden file or an option. */
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) {
            return false;
        }
    }
    return i > 0;
}

mf_req_limits mf_req_limits_default(void)
{
    return (mf_req_limits){
        .max_n = 10000, .max_steps = 1000, .max_train_steps = 200000, .max_batch = 4096};
}

const char *mf_job_kind_name(mf_job_kind k)
{
    switch (k) {
    case MF_JOB_KIND_SAMPLE:
        return "sample";
    case MF_JOB_KIND_TRAIN:
        return "train";
    case MF_JOB_KIND_FINETUNE_SMEME:
        return "finetune.smeme";
    }
    return "unknown";
}

bool mf_job_kind_lookup(const char *name, mf_job_kind *ret)
{
    static const mf_job_kind kinds[] = {MF_JOB_KIND_SAMPLE, MF_JOB_KIND_TRAIN,
                                        MF_JOB_KIND_FINETUNE_SMEME};
    for (size_t i = 0; name != NULL && i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(name, mf_job_kind_name(kinds[i])) == 0) {
            *ret = kinds[i];
            return true;
        }
    }
    return false;
}

mf_req_status mf_req_decode_samples(const char *body, size_t len, const mf_req_limits *lim,
                                    mf_sample_req *ret, mf_req_error *err)
{
    mf_req_limits def = mf_req_limits_default();
    json_t *root = NULL;
    mf_req_status st = parse_object(body, len, "the body", "", &root, err);
    if (st != MF_REQ_OK) {
        return st;
    }
    mf_sample_req r;
    memset(&r, 0, sizeof r);
    st = decode_sample(root, "", true, lim != NULL ? lim : &def, &r, err);
    json_decref(root);
    if (st == MF_REQ_OK) {
        *ret = r;
    }
    return st;
}

mf_req_status mf_req_decode_job(const char *body, size_t len, const mf_req_limits *lim,
                                mf_job_req *ret, mf_req_error *err)
{
    mf_req_limits def = mf_req_limits_default();
    json_t *root = NULL, *v;
    mf_job_req j;
    memset(&j, 0, sizeof j);
    ret->params_json = NULL;
    mf_req_status st = parse_object(body, len, "the body", "", &root, err);
    if (st != MF_REQ_OK) {
        return st;
    }
    if ((st = check_keys(root, "", job_keys, err)) != MF_REQ_OK) {
        goto out;
    }

    if ((v = json_object_get(root, "type")) == NULL) {
        st = fail_missing(err, "/type", JOB_TYPES_OR);
        goto out;
    }
    const char *type = json_is_string(v) ? json_string_value(v) : NULL;
    if (!mf_job_kind_lookup(type, &j.kind)) {
        for (size_t i = 0; type != NULL && unsupported_types[i] != NULL; i++) {
            if (strcmp(type, unsupported_types[i]) == 0) {
                st = fail(
                    err, MF_REQ_IMPOSSIBLE, "unsupported_type", "/type",
                    "\"/type\" \"%s\" is not available in this build, which runs " JOB_TYPES_AND
                    " jobs",
                    type);
                goto out;
            }
        }
        st = fail_must(err, type == NULL ? "wrong_type" : "bad_value", "/type", JOB_TYPES_OR, v);
        goto out;
    }

    v = json_object_get(root, "model");
    if (j.kind == MF_JOB_KIND_TRAIN) {
        if (v != NULL) {
            st = fail(err, MF_REQ_BAD, "unknown_field", "/model",
                      "unknown field \"/model\"; train jobs create a model and name it with "
                      "\"params.out_model\"");
            goto out;
        }
    } else {
        if (v == NULL) {
            st = fail_missing(err, "/model", ID_RULE);
            goto out;
        }
        if ((st = get_id(v, "/model", j.model, err)) != MF_REQ_OK) {
            goto out;
        }
    }
    st = decode_params(j.kind, json_object_get(root, "params"), lim != NULL ? lim : &def, &j, err);
out:
    json_decref(root);
    if (st != MF_REQ_OK) {
        free(j.params_json);
        return st;
    }
    *ret = j;
    return MF_REQ_OK;
}

mf_req_status mf_req_decode_job_params(mf_job_kind kind, const char *model, const char *params_json,
                                       const mf_req_limits *lim, mf_job_req *ret, mf_req_error *err)
{
    mf_req_limits def = mf_req_limits_default();
    json_t *params = NULL;
    mf_job_req j;
    memset(&j, 0, sizeof j);
    ret->params_json = NULL;
    j.kind = kind;
    if (kind == MF_JOB_KIND_SAMPLE || kind == MF_JOB_KIND_FINETUNE_SMEME) {
        if (!mf_req_id_valid(model)) {
            return fail(err, MF_REQ_BAD, "bad_value", "/model", "\"/model\" must be " ID_RULE);
        }
        memcpy(j.model, model, strlen(model) + 1);
    } else if (kind == MF_JOB_KIND_TRAIN) {
        /* As in mf_req_decode_job: a train job has no model, its params name the output. */
        if (model != NULL && model[0] != '\0') {
            return fail(err, MF_REQ_BAD, "unknown_field", "/model",
                        "unknown field \"/model\"; train jobs create a model and name it with "
                        "\"params.out_model\"");
        }
    } else {
        return fail(err, MF_REQ_BAD, "bad_value", "/type", "\"/type\" must be " JOB_TYPES_OR);
    }
    mf_req_status st = parse_object(params_json, params_json != NULL ? strlen(params_json) : 0,
                                    "\"/params\"", "/params", &params, err);
    if (st != MF_REQ_OK) {
        return st;
    }
    st = decode_params(kind, params, lim != NULL ? lim : &def, &j, err);
    json_decref(params);
    if (st != MF_REQ_OK) {
        free(j.params_json);
        return st;
    }
    *ret = j;
    return MF_REQ_OK;
}
