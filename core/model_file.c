/* SPDX-License-Identifier: MIT */
/*
 * model_file.c - the reference MLP in a safetensors file.
 *
 * Loading is safetensors validation (safetensors.c) followed by the model's
 * own rules: the metadata must describe a network mlp.h can build (every
 * integer parsed strictly: digits only, no sign, no leading zeros, within
 * MF_MLP_MAX_WIDTH / MF_MLP_MAX_HIDDEN), a schedule mf_schedule_init accepts
 * and finite normalisation constants; the tensors must be exactly the
 * layers.{i}.weight / layers.{i}.bias that layout gives, with the shapes it
 * gives, and every weight finite.  Parameters are then copied into the
 * network's single parameter block at w_off / b_off.
 *
 * Metadata is kept as an ordered list of owned strings.  Keys that describe
 * the network are fixed once the model exists; data_offset, data_scale and
 * schedule may change and keep their parsed forms (doubles, m->sched) in step.
 *
 * Saving serialises the model and replaces the file atomically
 * (fileio.h: temporary file, fsync, rename, fsync of the directory), so a
 * crash leaves either the old or the new file.
 */
#include "model_file.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fileio.h"
#include "safetensors.h"
#include "utf8.h"

#define META_FIELD_PREFIX "__metadata__/"

/* Keys that describe the network: required on load, immutable afterwards. */
static const char *const arch_keys[] = {"format",     "data_dim",       "cond_dim",  "hidden",
                                        "activation", "time_embedding", "prediction"};

static bool is_arch_key(const char *key)
{
    for (size_t i = 0; i < sizeof arch_keys / sizeof arch_keys[0]; i++) {
        if (strcmp(key, arch_keys[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* MF_EFORMAT naming the metadata key as field ("__metadata__/key"). */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static mf_err
meta_fail(mf_diag *diag, mf_err rc, const char *key, const char *fmt, ...)
{
    if (diag != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(diag->msg, sizeof diag->msg, fmt, ap);
        va_end(ap);
        char k[96];
        mf_utf8_snippet(k, sizeof k, key);
        snprintf(diag->field, sizeof diag->field, META_FIELD_PREFIX "%s", k);
    }
    return rc;
}

/* ---- metadata list ---------------------------------------------------------------- */

static size_t meta_index(const mf_model *m, const char *key)
{
    for (size_t i = 0; i < m->n_meta; i++) {
        if (strcmp(m->meta_keys[i], key) == 0) {
            return i;
        }
    }
    return m->n_meta;
}

const char *mf_model_get_meta(const mf_model *m, const char *key)
{
    if (m == NULL || key == NULL) {
        return NULL;
    }
    size_t i = meta_index(m, key);
    return i < m->n_meta ? m->meta_vals[i] : NULL;
}

/* Adds or replaces key; takes ownership of val (freed on error). */
static mf_err meta_put_take(mf_model *m, const char *key, char *val)
{
    size_t i = meta_index(m, key);
    if (i < m->n_meta) {
        free(m->meta_vals[i]);
        m->meta_vals[i] = val;
        return MF_OK;
    }
    char *k = strdup(key);
    char **keys = k != NULL ? realloc(m->meta_keys, (m->n_meta + 1) * sizeof *keys) : NULL;
    if (keys != NULL) {
        m->meta_keys = keys;
    }
    char **vals = keys != NULL ? realloc(m->meta_vals, (m->n_meta + 1) * sizeof *vals) : NULL;
    if (vals == NULL) {
        free(k);
        free(val);
        return MF_ENOMEM;
    }
    m->meta_vals = vals;
    m->meta_keys[m->n_meta] = k;
    m->meta_vals[m->n_meta] = val;
    m->n_meta++;
    return MF_OK;
}

static mf_err meta_put(mf_model *m, const char *key, const char *val)
{
    char *v = strdup(val);
    if (v == NULL) {
        return MF_ENOMEM;
    }
    return meta_put_take(m, key, v);
}

/* ---- strict scalar parsing -------------------------------------------------------- */

typedef enum {
    NUM_OK,
    NUM_SYNTAX,
    NUM_RANGE
} num_status;

/* s[0..len) as a decimal integer in [lo, hi]: digits only, no sign, no leading zeros. */
static num_status parse_uint(const char *s, size_t len, uint32_t lo, uint32_t hi, uint32_t *ret)
{
    if (len == 0 || (len > 1 && s[0] == '0')) {
        return NUM_SYNTAX;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return NUM_SYNTAX;
        }
        if (v <= UINT32_MAX) {
            v = v * 10 + (uint64_t) (s[i] - '0');
        }
    }
    if (v < lo || v > hi) {
        return NUM_RANGE;
    }
    *ret = (uint32_t) v;
    return NUM_OK;
}

/* A finite number written as JSON writes numbers (what "%.17g" produces). */
static bool parse_real(const char *s, double *ret)
{
    const char *p = s;
    if (*p == '-') {
        p++;
    }
    if (*p < '0' || *p > '9') {
        return false;
    }
    while (*p >= '0' && *p <= '9') {
        p++;
    }
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9') {
            return false;
        }
        while (*p >= '0' && *p <= '9') {
            p++;
        }
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') {
            p++;
        }
        if (*p < '0' || *p > '9') {
            return false;
        }
        while (*p >= '0' && *p <= '9') {
            p++;
        }
    }
    if (*p != '\0') {
        return false;
    }
    double v = strtod(s, NULL); /* C locale; grammar checked above */
    if (!isfinite(v)) {
        return false;
    }
    *ret = v;
    return true;
}

/* ---- metadata -> configuration ---------------------------------------------------- */

static mf_err require(const mf_model *m, const char *key, const char **ret, mf_diag *diag)
{
    const char *v = mf_model_get_meta(m, key);
    if (v == NULL) {
        return meta_fail(diag, MF_EFORMAT, key, "missing metadata key \"%s\"", key);
    }
    *ret = v;
    return MF_OK;
}

static mf_err read_dim(const mf_model *m, const char *key, uint32_t lo, uint32_t *ret,
                       mf_diag *diag)
{
    const char *v = NULL;
    mf_err rc = require(m, key, &v, diag);
    if (rc != MF_OK) {
        return rc;
    }
    char shown[48];
    mf_utf8_snippet(shown, sizeof shown, v);
    switch (parse_uint(v, strlen(v), lo, MF_MLP_MAX_WIDTH, ret)) {
    case NUM_OK:
        return MF_OK;
    case NUM_SYNTAX:
        return meta_fail(diag, MF_EFORMAT, key, "%s \"%s\" is not a plain decimal integer", key,
                         shown);
    case NUM_RANGE:
        break;
    }
    return meta_fail(diag, MF_EFORMAT, key, "%s %s is out of range %u..%u", key, shown,
                     (unsigned) lo, (unsigned) MF_MLP_MAX_WIDTH);
}

/* "256,256,256" into cfg->hidden / n_hidden. */
static mf_err read_hidden(const mf_model *m, mf_mlp_config *cfg, mf_diag *diag)
{
    const char *v = NULL;
    mf_err rc = require(m, "hidden", &v, diag);
    if (rc != MF_OK) {
        return rc;
    }
    char shown[48];
    mf_utf8_snippet(shown, sizeof shown, v);
    uint32_t n = 0;
    const char *p = v;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t) (comma - p) : strlen(p);
        if (n == MF_MLP_MAX_HIDDEN) {
            return meta_fail(diag, MF_EFORMAT, "hidden", "hidden \"%s\" has more than %d layers",
                             shown, MF_MLP_MAX_HIDDEN);
        }
        if (len == 0) {
            return meta_fail(diag, MF_EFORMAT, "hidden", "hidden \"%s\" has an empty entry", shown);
        }
        num_status st = parse_uint(p, len, 1, MF_MLP_MAX_WIDTH, &cfg->hidden[n]);
        if (st != NUM_OK) {
            return meta_fail(
                diag, MF_EFORMAT, "hidden", "hidden \"%s\": entry %u %s", shown, (unsigned) n + 1,
                st == NUM_SYNTAX ? "is not a plain decimal integer" : "is out of range 1..8192");
        }
        n++;
        if (comma == NULL) {
            break;
        }
        p = comma + 1;
    }
    cfg->n_hidden = n;
    return MF_OK;
}

/* A metadata value that must equal one fixed string. */
static mf_err read_fixed(const mf_model *m, const char *key, const char *want, mf_diag *diag)
{
    const char *v = NULL;
    mf_err rc = require(m, key, &v, diag);
    if (rc == MF_OK && strcmp(v, want) != 0) {
        char shown[48];
        mf_utf8_snippet(shown, sizeof shown, v);
        rc = meta_fail(diag, MF_EFORMAT, key, "unsupported %s \"%s\" (expected %s)", key, shown,
                       want);
    }
    return rc;
}

static mf_err read_time_embedding(const mf_model *m, uint32_t *ret, mf_diag *diag)
{
    const char *v = NULL, *key = "time_embedding", *prefix = "sinusoidal:";
    mf_err rc = require(m, key, &v, diag);
    if (rc != MF_OK) {
        return rc;
    }
    char shown[48];
    mf_utf8_snippet(shown, sizeof shown, v);
    if (strncmp(v, prefix, strlen(prefix)) != 0) {
        return meta_fail(diag, MF_EFORMAT, key,
                         "unsupported time_embedding \"%s\" (expected sinusoidal:E)", shown);
    }
    const char *e = v + strlen(prefix);
    if (parse_uint(e, strlen(e), 2, MF_MLP_MAX_WIDTH, ret) != NUM_OK || *ret % 2 != 0) {
        return meta_fail(diag, MF_EFORMAT, key,
                         "time_embedding \"%s\": E must be an even integer in 2..%d", shown,
                         MF_MLP_MAX_WIDTH);
    }
    return MF_OK;
}

static mf_err read_config(const mf_model *m, mf_mlp_config *cfg, mf_diag *diag)
{
    memset(cfg, 0, sizeof *cfg);
    mf_err rc = read_fixed(m, "format", MF_MODEL_FORMAT, diag);
    if (rc == MF_OK) {
        rc = read_dim(m, "data_dim", 1, &cfg->data_dim, diag);
    }
    if (rc == MF_OK) {
        rc = read_dim(m, "cond_dim", 0, &cfg->cond_dim, diag);
    }
    if (rc == MF_OK) {
        rc = read_hidden(m, cfg, diag);
    }
    if (rc == MF_OK) {
        rc = read_fixed(m, "activation", "silu", diag);
    }
    if (rc == MF_OK) {
        rc = read_time_embedding(m, &cfg->emb_dim, diag);
    }
    if (rc == MF_OK) {
        rc = read_fixed(m, "prediction", "eps", diag);
    }
    if (rc == MF_OK && mf_mlp_config_check(cfg) != MF_OK) {
        rc = meta_fail(diag, MF_EFORMAT, "hidden", "network configuration rejected by mlp");
    }
    return rc;
}

static mf_err read_schedule(mf_model *m, mf_diag *diag)
{
    const char *v = NULL;
    mf_err rc = require(m, "schedule", &v, diag);
    if (rc != MF_OK) {
        return rc;
    }
    mf_diag sd = {0};
    rc = mf_schedule_init(&m->sched, v, &sd);
    if (rc == MF_ENOMEM) {
        return mf_diag_set(diag, rc, NULL, "out of memory for the schedule");
    }
    if (rc != MF_OK) {
        return meta_fail(diag, MF_EFORMAT, "schedule", "bad schedule: %s", sd.msg);
    }
    return MF_OK;
}

static mf_err read_normalisation(mf_model *m, mf_diag *diag)
{
    const char *keys[2] = {"data_offset", "data_scale"};
    double vals[2];
    for (size_t i = 0; i < 2; i++) {
        const char *v = NULL;
        mf_err rc = require(m, keys[i], &v, diag);
        if (rc != MF_OK) {
            return rc;
        }
        char shown[48];
        mf_utf8_snippet(shown, sizeof shown, v);
        if (!parse_real(v, &vals[i])) {
            return meta_fail(diag, MF_EFORMAT, keys[i], "%s \"%s\" is not a finite number", keys[i],
                             shown);
        }
    }
    if (!(vals[1] > 0)) {
        return meta_fail(diag, MF_EFORMAT, "data_scale", "data_scale %.17g must be > 0", vals[1]);
    }
    m->data_offset = vals[0];
    m->data_scale = vals[1];
    return MF_OK;
}

/* ---- tensors ---------------------------------------------------------------------- */

static void tensor_names(size_t layer, char *w, char *b, size_t cap)
{
    snprintf(w, cap, "layers.%zu.weight", layer);
    snprintf(b, cap, "layers.%zu.bias", layer);
}

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

/* Finds name, checks its shape, copies it to dst and checks every value is finite. */
static mf_err load_tensor(const mf_safetensors *st, const char *name, const size_t *shape,
                          size_t n_dims, float *dst, mf_diag *diag)
{
    const mf_safetensors_tensor *t = mf_safetensors_find(st, name);
    if (t == NULL) {
        return mf_diag_set(diag, MF_EFORMAT, name, "missing tensor %s", name);
    }
    if (t->n_dims != n_dims || memcmp(t->shape, shape, n_dims * sizeof *shape) != 0) {
        char got[96], want[64];
        format_shape(got, sizeof got, t->shape, t->n_dims);
        format_shape(want, sizeof want, shape, n_dims);
        return mf_diag_set(diag, MF_EFORMAT, name, "%s has shape %s, expected %s", name, got, want);
    }
    mf_safetensors_tensor_read(t, dst);
    for (size_t i = 0; i < t->n_elems; i++) {
        if (!isfinite(dst[i])) {
            return mf_diag_set(diag, MF_EFORMAT, name,
                               "%s has a non-finite value (%s) at index %zu", name,
                               isnan(dst[i]) ? "NaN" : "Inf", i);
        }
    }
    return MF_OK;
}

static mf_err load_tensors(mf_model *m, const mf_safetensors *st, mf_diag *diag)
{
    const mf_mlp *net = m->net;
    char w[48], b[48];
    for (size_t i = 0; i < net->n_layers; i++) {
        tensor_names(i, w, b, sizeof w);
        size_t w_shape[2] = {net->out_dim[i], net->in_dim[i]};
        mf_err rc = load_tensor(st, w, w_shape, 2, net->params + net->w_off[i], diag);
        if (rc == MF_OK) {
            rc = load_tensor(st, b, &net->out_dim[i], 1, net->params + net->b_off[i], diag);
        }
        if (rc != MF_OK) {
            return rc;
        }
    }
    /* Every expected tensor is there and names are unique: any more are extra. */
    for (size_t j = 0; j < st->n_tensors && st->n_tensors != 2 * net->n_layers; j++) {
        bool expected = false;
        for (size_t i = 0; i < net->n_layers && !expected; i++) {
            tensor_names(i, w, b, sizeof w);
            expected = strcmp(st->tensors[j].name, w) == 0 || strcmp(st->tensors[j].name, b) == 0;
        }
        if (!expected) {
            char shown[64];
            mf_utf8_snippet(shown, sizeof shown, st->tensors[j].name);
            return mf_diag_set(diag, MF_EFORMAT, st->tensors[j].name,
                               "unexpected tensor \"%s\" (the network has %zu layers)", shown,
                               net->n_layers);
        }
    }
    return MF_OK;
}

/* ---- lifecycle -------------------------------------------------------------------- */

void mf_model_free(mf_model *m)
{
    if (m == NULL) {
        return;
    }
    mf_mlp_free(m->net);
    mf_schedule_deinit(&m->sched);
    for (size_t i = 0; i < m->n_meta; i++) {
        free(m->meta_keys[i]);
        free(m->meta_vals[i]);
    }
    free(m->meta_keys);
    free(m->meta_vals);
    free(m);
}

static mf_err put_arch_meta(mf_model *m, const mf_mlp_config *cfg)
{
    char dims[2][16], hidden[MF_MLP_MAX_HIDDEN * 12], emb[32];
    snprintf(dims[0], sizeof dims[0], "%u", (unsigned) cfg->data_dim);
    snprintf(dims[1], sizeof dims[1], "%u", (unsigned) cfg->cond_dim);
    snprintf(emb, sizeof emb, "sinusoidal:%u", (unsigned) cfg->emb_dim);
    size_t o = 0;
    for (uint32_t i = 0; i < cfg->n_hidden; i++) {
        o += (size_t) snprintf(hidden + o, sizeof hidden - o, i > 0 ? ",%u" : "%u",
                               (unsigned) cfg->hidden[i]);
    }
    const char *kv[][2] = {
        {"format", MF_MODEL_FORMAT}, {"data_dim", dims[0]},       {"cond_dim", dims[1]},
        {"hidden", hidden},          {"activation", "silu"},      {"time_embedding", emb},
        {"prediction", "eps"},       {"schedule", m->sched.spec}, {"data_offset", "0"},
        {"data_scale", "1"},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
        mf_err rc = meta_put(m, kv[i][0], kv[i][1]);
        if (rc != MF_OK) {
            return rc;
        }
    }
    return MF_OK;
}

mf_err mf_model_new(const mf_mlp_config *cfg, const char *schedule_spec, mf_model **ret,
                    mf_diag *diag)
{
    if (cfg == NULL || schedule_spec == NULL || ret == NULL) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "invalid argument");
    }
    if (mf_mlp_config_check(cfg) != MF_OK) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "invalid network configuration");
    }
    mf_model *m = calloc(1, sizeof *m);
    if (m == NULL) {
        return mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
    }
    mf_err rc = mf_schedule_init(&m->sched, schedule_spec, diag);
    if (rc != MF_OK) {
        goto fail;
    }
    rc = mf_mlp_new(cfg, &m->net);
    if (rc == MF_OK) {
        rc = put_arch_meta(m, cfg);
    }
    if (rc != MF_OK) {
        (void) mf_diag_set(diag, rc, NULL, "cannot create the model: %s", mf_strerror(rc));
        goto fail;
    }
    m->data_offset = 0.0;
    m->data_scale = 1.0;
    *ret = m;
    return MF_OK;
fail:
    mf_model_free(m);
    return rc;
}

mf_err mf_model_clone(const mf_model *m, mf_model **ret)
{
    if (m == NULL || m->net == NULL || ret == NULL) {
        return MF_EINVAL;
    }
    mf_model *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return MF_ENOMEM;
    }
    mf_err rc = mf_schedule_init(&c->sched, m->sched.spec, NULL);
    if (rc == MF_OK) {
        rc = mf_mlp_clone(m->net, &c->net);
    }
    for (size_t i = 0; i < m->n_meta && rc == MF_OK; i++) {
        rc = meta_put(c, m->meta_keys[i], m->meta_vals[i]);
    }
    if (rc != MF_OK) {
        mf_model_free(c);
        return rc;
    }
    c->data_offset = m->data_offset;
    c->data_scale = m->data_scale;
    *ret = c;
    return MF_OK;
}

/* ---- metadata setters ------------------------------------------------------------- */

static mf_err set_schedule(mf_model *m, const char *val, mf_diag *diag)
{
    mf_schedule s = {0};
    mf_err rc = mf_schedule_init(&s, val, diag);
    if (rc != MF_OK) {
        return rc;
    }
    rc = meta_put(m, "schedule", val);
    if (rc != MF_OK) {
        mf_schedule_deinit(&s);
        return mf_diag_set(diag, rc, NULL, "out of memory");
    }
    mf_schedule_deinit(&m->sched);
    m->sched = s;
    return MF_OK;
}

mf_err mf_model_set_created(mf_model *m, time_t t, mf_diag *diag)
{
    char created[32];
    struct tm tm_utc;
    if (gmtime_r(&t, &tm_utc) == NULL ||
        strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm_utc) == 0) {
        return mf_diag_set(diag, MF_EINVAL, "created", "the time cannot be formatted");
    }
    return mf_model_set_meta(m, "created", created, diag);
}

mf_err mf_model_set_meta(mf_model *m, const char *key, const char *val, mf_diag *diag)
{
    if (m == NULL || key == NULL || val == NULL || key[0] == '\0' ||
        !mf_utf8_valid(key, strlen(key)) || !mf_utf8_valid(val, strlen(val))) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "metadata key and value must be UTF-8 strings");
    }
    if (is_arch_key(key)) {
        const char *cur = mf_model_get_meta(m, key);
        if (cur != NULL && strcmp(cur, val) == 0) {
            return MF_OK;
        }
        return meta_fail(diag, MF_EINVAL, key, "%s describes the network and cannot change", key);
    }
    if (strcmp(key, "schedule") == 0) {
        return set_schedule(m, val, diag);
    }
    bool is_offset = strcmp(key, "data_offset") == 0, is_scale = strcmp(key, "data_scale") == 0;
    double v = 0;
    if ((is_offset || is_scale) && (!parse_real(val, &v) || (is_scale && !(v > 0)))) {
        return meta_fail(diag, MF_EINVAL, key, "%s must be a finite number%s", key,
                         is_scale ? " > 0" : "");
    }
    mf_err rc = meta_put(m, key, val);
    if (rc != MF_OK) {
        return mf_diag_set(diag, rc, NULL, "out of memory");
    }
    if (is_offset) {
        m->data_offset = v;
    } else if (is_scale) {
        m->data_scale = v;
    }
    return MF_OK;
}

mf_err mf_model_set_normalisation(mf_model *m, double offset, double scale)
{
    if (m == NULL || !isfinite(offset) || !isfinite(scale) || !(scale > 0)) {
        return MF_EINVAL;
    }
    char text[2][32];
    snprintf(text[0], sizeof text[0], "%.17g", offset);
    snprintf(text[1], sizeof text[1], "%.17g", scale);
    char *v0 = strdup(text[0]), *v1 = strdup(text[1]);
    if (v0 == NULL || v1 == NULL) {
        free(v0);
        free(v1);
        return MF_ENOMEM;
    }
    /* Both keys exist in every model made here, so these replace and cannot fail. */
    mf_err rc = meta_put_take(m, "data_offset", v0);
    if (rc != MF_OK) {
        free(v1);
        return rc;
    }
    rc = meta_put_take(m, "data_scale", v1);
    if (rc != MF_OK) {
        return rc;
    }
    m->data_offset = offset;
    m->data_scale = scale;
    return MF_OK;
}

/* ---- load ------------------------------------------------------------------------- */

mf_err mf_model_load_buffer(const uint8_t *buf, size_t len, mf_model **ret, mf_diag *diag)
{
    if (ret == NULL || (buf == NULL && len > 0)) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "invalid argument");
    }
    mf_safetensors *st = NULL;
    mf_err rc = mf_safetensors_parse(buf, len, &st, diag);
    if (rc != MF_OK) {
        return rc;
    }
    mf_mlp_config cfg;
    mf_model *m = calloc(1, sizeof *m);
    if (m == NULL) {
        rc = mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < st->n_meta && rc == MF_OK; i++) {
        rc = meta_put(m, st->meta_keys[i], st->meta_vals[i]);
    }
    if (rc != MF_OK) {
        rc = mf_diag_set(diag, rc, NULL, "out of memory");
        goto done;
    }
    rc = read_config(m, &cfg, diag);
    if (rc == MF_OK) {
        rc = read_schedule(m, diag);
    }
    if (rc == MF_OK) {
        rc = read_normalisation(m, diag);
    }
    if (rc != MF_OK) {
        goto done;
    }
    rc = mf_mlp_new(&cfg, &m->net);
    if (rc != MF_OK) {
        rc = mf_diag_set(diag, rc, NULL, "cannot allocate the network: %s", mf_strerror(rc));
        goto done;
    }
    rc = load_tensors(m, st, diag);
done:
    mf_safetensors_free(st);
    if (rc != MF_OK) {
        mf_model_free(m);
        return rc;
    }
    *ret = m;
    return MF_OK;
}

mf_err mf_model_load_file(const char *path, size_t max_bytes, mf_model **ret, mf_diag *diag)
{
    if (path == NULL || ret == NULL) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "invalid argument");
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    mf_err rc = mf_fileio_read(path, max_bytes, &buf, &len, diag);
    if (rc == MF_OK) {
        rc = mf_model_load_buffer(buf, len, ret, diag);
    }
    free(buf);
    return rc;
}

/* ---- save ------------------------------------------------------------------------- */

mf_err mf_model_to_buffer(const mf_model *m, uint8_t **ret_buf, size_t *ret_len)
{
    if (m == NULL || m->net == NULL || ret_buf == NULL || ret_len == NULL) {
        return MF_EINVAL;
    }
    const mf_mlp *net = m->net;
    for (size_t i = 0; i < net->n_params; i++) {
        if (!isfinite(net->params[i])) {
            return MF_EINVAL; /* the loader would refuse the file */
        }
    }
    mf_safetensors_entry e[2 * MF_MLP_MAX_LAYERS];
    char names[2 * MF_MLP_MAX_LAYERS][48];
    for (size_t i = 0; i < net->n_layers; i++) {
        tensor_names(i, names[2 * i], names[2 * i + 1], sizeof names[0]);
        e[2 * i] = (mf_safetensors_entry){
            .name = names[2 * i],
            .n_dims = 2,
            .shape = {net->out_dim[i], net->in_dim[i]},
            .data = net->params + net->w_off[i],
        };
        e[2 * i + 1] = (mf_safetensors_entry){
            .name = names[2 * i + 1],
            .n_dims = 1,
            .shape = {net->out_dim[i]},
            .data = net->params + net->b_off[i],
        };
    }
    return mf_safetensors_write(e, 2 * net->n_layers, (const char *const *) m->meta_keys,
                                (const char *const *) m->meta_vals, m->n_meta, ret_buf, ret_len,
                                NULL);
}

mf_err mf_model_save_file(const mf_model *m, const char *path, mf_diag *diag)
{
    if (m == NULL || path == NULL) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "invalid argument");
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    mf_err rc = mf_model_to_buffer(m, &buf, &len);
    if (rc != MF_OK) {
        return mf_diag_set(diag, rc, NULL, "cannot serialise the model: %s", mf_strerror(rc));
    }
    rc = mf_fileio_write_atomic(path, buf, len, diag);
    free(buf);
    return rc;
}

void mf_model_to_data(const mf_model *m, float *x, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        x[j] = (float) ((double) x[j] * m->data_scale + m->data_offset);
    }
}

void mf_model_from_data(const mf_model *m, float *x, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        x[j] = (float) (((double) x[j] - m->data_offset) / m->data_scale);
    }
}
