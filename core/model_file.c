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
 * gives, and every weight finite.  Here the metadata becomes layouts
 * (mf__model_from_header); model_load.c checks them against the file and the
 * limits before it allocates anything, then copies the parameters into each
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

#include "bf16_net.h"
#include "fileio.h"
#include "guidance.h"
#include "mem.h"
#include "model_dxmi.h"
#include "model_file_int.h"
#include "numfmt.h"
#include "safetensors.h"
#include "utf8.h"

#define META_FIELD_PREFIX MF__META_FIELD_PREFIX

/* Keys that describe the network: required on load, immutable afterwards. */
static const char *const arch_keys[] = {"format",     "data_dim",       "cond_dim",  "hidden",
                                        "activation", "time_embedding", "prediction"};

/* Keys that describe the condition and the reward tensors: set by mf_model_set_cond and
 * mf_model_set_reward only. */
static const char *const managed_keys[] = {"condition", "cond_offset",  "cond_scale",
                                           "cond_null", "reward_model", "reward_hidden"};

static bool in_list(const char *key, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(key, list[i]) == 0) {
            return true;
        }
    }
    return false;
}

static bool is_arch_key(const char *key)
{
    return in_list(key, arch_keys, sizeof arch_keys / sizeof arch_keys[0]);
}

static bool is_managed_key(const char *key)
{
    return in_list(key, managed_keys, sizeof managed_keys / sizeof managed_keys[0]) ||
           mf__dxmi_is_key(key);
}

/* rc naming the metadata key as field ("__metadata__/key"). */
mf_err mf__model_meta_fail(mf_diag *diag, mf_err rc, const char *key, const char *fmt, ...)
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

mf_err mf__model_meta_put(mf_model *m, const char *key, const char *val)
{
    return meta_put(m, key, val);
}

void mf__model_meta_remove(mf_model *m, const char *key)
{
    size_t i = meta_index(m, key);
    if (i == m->n_meta) {
        return;
    }
    free(m->meta_keys[i]);
    free(m->meta_vals[i]);
    memmove(m->meta_keys + i, m->meta_keys + i + 1, (m->n_meta - i - 1) * sizeof *m->meta_keys);
    memmove(m->meta_vals + i, m->meta_vals + i + 1, (m->n_meta - i - 1) * sizeof *m->meta_vals);
    m->n_meta--;
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

/* A finite number written as JSON writes numbers (what core/numfmt.h produces). */
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

bool mf__model_parse_uint(const char *s, uint32_t lo, uint32_t hi, uint32_t *ret)
{
    return parse_uint(s, strlen(s), lo, hi, ret) == NUM_OK;
}

bool mf__model_parse_real(const char *s, double *ret)
{
    return parse_real(s, ret);
}

/* ---- metadata -> configuration ---------------------------------------------------- */

static mf_err require(const mf_model *m, const char *key, const char **ret, mf_diag *diag)
{
    const char *v = mf_model_get_meta(m, key);
    if (v == NULL) {
        return mf__model_meta_fail(diag, MF_EFORMAT, key, "missing metadata key \"%s\"", key);
    }
    *ret = v;
    return MF_OK;
}

mf_err mf__model_require(const mf_model *m, const char *key, const char **ret, mf_diag *diag)
{
    return require(m, key, ret, diag);
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
        return mf__model_meta_fail(diag, MF_EFORMAT, key,
                                   "%s \"%s\" is not a plain decimal integer", key, shown);
    case NUM_RANGE:
        break;
    }
    return mf__model_meta_fail(diag, MF_EFORMAT, key, "%s %s is out of range %u..%u", key, shown,
                               (unsigned) lo, (unsigned) MF_MLP_MAX_WIDTH);
}

/* A list of widths "256,256,256" under key: 1..max_n entries in 1..max_w into out, *ret_n. */
mf_err mf__model_read_widths(const mf_model *m, const char *key, size_t max_n, uint32_t max_w,
                             uint32_t *out, size_t *ret_n, mf_diag *diag)
{
    const char *v = NULL;
    mf_err rc = require(m, key, &v, diag);
    if (rc != MF_OK) {
        return rc;
    }
    char shown[48];
    mf_utf8_snippet(shown, sizeof shown, v);
    size_t n = 0;
    const char *p = v;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t) (comma - p) : strlen(p);
        if (n == max_n) {
            return mf__model_meta_fail(diag, MF_EFORMAT, key, "%s \"%s\" has more than %zu layers",
                                       key, shown, max_n);
        }
        if (len == 0) {
            return mf__model_meta_fail(diag, MF_EFORMAT, key, "%s \"%s\" has an empty entry", key,
                                       shown);
        }
        num_status st = parse_uint(p, len, 1, max_w, &out[n]);
        if (st == NUM_SYNTAX) {
            return mf__model_meta_fail(diag, MF_EFORMAT, key,
                                       "%s \"%s\": entry %zu is not a plain decimal integer", key,
                                       shown, n + 1);
        }
        if (st == NUM_RANGE) {
            return mf__model_meta_fail(diag, MF_EFORMAT, key,
                                       "%s \"%s\": entry %zu is out of range 1..%u", key, shown,
                                       n + 1, (unsigned) max_w);
        }
        n++;
        if (comma == NULL) {
            break;
        }
        p = comma + 1;
    }
    *ret_n = n;
    return MF_OK;
}

static mf_err read_hidden(const mf_model *m, mf_mlp_config *cfg, mf_diag *diag)
{
    size_t n = 0;
    mf_err rc = mf__model_read_widths(m, "hidden", MF_MLP_MAX_HIDDEN, MF_MLP_MAX_WIDTH, cfg->hidden,
                                      &n, diag);
    cfg->n_hidden = (uint32_t) n;
    return rc;
}

/* A metadata value that must equal one fixed string. */
static mf_err read_fixed(const mf_model *m, const char *key, const char *want, mf_diag *diag)
{
    const char *v = NULL;
    mf_err rc = require(m, key, &v, diag);
    if (rc == MF_OK && strcmp(v, want) != 0) {
        char shown[48];
        mf_utf8_snippet(shown, sizeof shown, v);
        rc = mf__model_meta_fail(diag, MF_EFORMAT, key, "unsupported %s \"%s\" (expected %s)", key,
                                 shown, want);
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
        return mf__model_meta_fail(diag, MF_EFORMAT, key,
                                   "unsupported time_embedding \"%s\" (expected sinusoidal:E)",
                                   shown);
    }
    const char *e = v + strlen(prefix);
    if (parse_uint(e, strlen(e), 2, MF_MLP_MAX_WIDTH, ret) != NUM_OK || *ret % 2 != 0) {
        return mf__model_meta_fail(diag, MF_EFORMAT, key,
                                   "time_embedding \"%s\": E must be an even integer in 2..%d",
                                   shown, MF_MLP_MAX_WIDTH);
    }
    return MF_OK;
}

/* "eps" (out_dim 0: the network predicts the noise) or "potential" (out_dim 1: a scalar
 * g with eps = -grad_x g, potential.h). */
static mf_err read_prediction(const mf_model *m, uint32_t *ret, mf_diag *diag)
{
    const char *v = NULL;
    mf_err rc = require(m, "prediction", &v, diag);
    if (rc == MF_OK && strcmp(v, "eps") != 0 && strcmp(v, "potential") != 0) {
        char shown[48];
        mf_utf8_snippet(shown, sizeof shown, v);
        rc =
            mf__model_meta_fail(diag, MF_EFORMAT, "prediction",
                                "unsupported prediction \"%s\" (expected eps or potential)", shown);
    }
    if (rc == MF_OK) {
        *ret = strcmp(v, "potential") == 0 ? 1 : 0;
    }
    return rc;
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
        rc = read_prediction(m, &cfg->out_dim, diag);
    }
    if (rc == MF_OK && cfg->out_dim == 1 && cfg->cond_dim != 0) {
        rc = mf__model_meta_fail(diag, MF_EFORMAT, "prediction",
                                 "a potential network must be unconditional (cond_dim 0)");
    }
    if (rc == MF_OK && mf_mlp_config_check(cfg) != MF_OK) {
        rc = mf__model_meta_fail(diag, MF_EFORMAT, "hidden",
                                 "network configuration rejected by mlp");
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
        return mf__model_meta_fail(diag, MF_EFORMAT, "schedule", "bad schedule: %s", sd.msg);
    }
    return MF_OK;
}

typedef enum {
    ANY_REAL,
    NONNEG_REAL, /* >= 0 */
    POS_REAL,    /* > 0 */
    UNIT_REAL,   /* in [0, 1) */
} real_range;

/* A finite number in range as a metadata value (key names it in the message). */
static mf_err check_real(const char *key, const char *v, real_range range, double *ret, mf_err rc,
                         mf_diag *diag)
{
    char shown[48];
    mf_utf8_snippet(shown, sizeof shown, v);
    double x = 0.0;
    if (!parse_real(v, &x)) {
        return mf__model_meta_fail(diag, rc, key, "%s \"%s\" is not a finite number", key, shown);
    }
    static const char *const want[] = {"", ">= 0", "> 0", "in [0, 1)"};
    bool ok = range == ANY_REAL || (range == NONNEG_REAL && x >= 0) ||
              (range == POS_REAL && x > 0) || (range == UNIT_REAL && x >= 0 && x < 1);
    if (!ok) {
        return mf__model_meta_fail(diag, rc, key, "%s %s must be %s", key, shown, want[range]);
    }
    *ret = x;
    return MF_OK;
}

static mf_err read_real(const mf_model *m, const char *key, real_range range, double *ret,
                        mf_diag *diag)
{
    const char *v = NULL;
    mf_err rc = require(m, key, &v, diag);
    return rc != MF_OK ? rc : check_real(key, v, range, ret, MF_EFORMAT, diag);
}

static mf_err read_normalisation(mf_model *m, mf_diag *diag)
{
    double offset = 0.0, scale = 1.0;
    mf_err rc = read_real(m, "data_offset", ANY_REAL, &offset, diag);
    if (rc == MF_OK) {
        rc = read_real(m, "data_scale", POS_REAL, &scale, diag);
    }
    if (rc == MF_OK) {
        m->data_offset = offset;
        m->data_scale = scale;
    }
    return rc;
}

/* ---- reward-conditioned models ----------------------------------------------------- */

size_t mf_model_cond_width(mf_cond_null kind)
{
    return kind == MF_COND_NULL_INDICATOR ? 2 : 1;
}

const char *mf_model_cond_null_name(mf_cond_null kind)
{
    return kind == MF_COND_NULL_INDICATOR ? "indicator" : "none";
}

/*
 * The optional keys of a reward-conditioned model that carry a value the daemon uses
 * (defaults for sampling): checked by the loader and by mf_model_set_meta alike, so
 * that a model that was set up can always be saved and loaded again.  Other keys: OK.
 */
static mf_err check_cond_extra(const char *key, const char *v, mf_err rc, mf_diag *diag)
{
    double x = 0.0;
    if (strcmp(key, "pseudo_label_noise") == 0) {
        return check_real(key, v, NONNEG_REAL, &x, rc, diag);
    }
    if (strcmp(key, "guidance_w") == 0) {
        return check_real(key, v, ANY_REAL, &x, rc, diag);
    }
    if (strcmp(key, "p_uncond") == 0) {
        return check_real(key, v, UNIT_REAL, &x, rc, diag);
    }
    mf_guide_mode mode;
    if (strcmp(key, "guidance") == 0 && mf_guide_mode_lookup(v, &mode) != MF_OK) {
        char shown[48];
        mf_utf8_snippet(shown, sizeof shown, v);
        return mf__model_meta_fail(diag, rc, key,
                                   "unsupported guidance \"%s\" (expected cond, cfg or "
                                   "reward)",
                                   shown);
    }
    return MF_OK;
}

static mf_err read_cond(mf_model *m, mf_diag *diag)
{
    for (size_t i = 0; i < m->n_meta; i++) {
        mf_err rc = check_cond_extra(m->meta_keys[i], m->meta_vals[i], MF_EFORMAT, diag);
        if (rc != MF_OK) {
            return rc;
        }
    }
    const char *v = mf_model_get_meta(m, "condition"), *null_name = NULL;
    if (v == NULL) {
        return MF_OK;
    }
    char shown[48];
    mf_utf8_snippet(shown, sizeof shown, v);
    if (strcmp(v, "reward") != 0) {
        return mf__model_meta_fail(diag, MF_EFORMAT, "condition",
                                   "unsupported condition \"%s\" (expected reward)", shown);
    }
    mf_model_cond c = {0};
    mf_err rc = require(m, "cond_null", &null_name, diag);
    if (rc != MF_OK) {
        return rc;
    }
    mf_utf8_snippet(shown, sizeof shown, null_name);
    if (strcmp(null_name, "indicator") != 0 && strcmp(null_name, "none") != 0) {
        return mf__model_meta_fail(diag, MF_EFORMAT, "cond_null",
                                   "unsupported cond_null \"%s\" (expected indicator or none)",
                                   shown);
    }
    c.null_kind = strcmp(null_name, "indicator") == 0 ? MF_COND_NULL_INDICATOR : MF_COND_NULL_NONE;
    if (mf_model_cond_width(c.null_kind) != m->net->cfg.cond_dim) {
        return mf__model_meta_fail(
            diag, MF_EFORMAT, "cond_null", "cond_null %s needs cond_dim %zu, not %u", null_name,
            mf_model_cond_width(c.null_kind), (unsigned) m->net->cfg.cond_dim);
    }
    rc = read_real(m, "cond_offset", ANY_REAL, &c.offset, diag);
    if (rc == MF_OK) {
        rc = read_real(m, "cond_scale", POS_REAL, &c.scale, diag);
    }
    const char *g = mf_model_get_meta(m, "guidance");
    if (rc == MF_OK && g != NULL && strcmp(g, "cfg") == 0 &&
        c.null_kind != MF_COND_NULL_INDICATOR) {
        rc = mf__model_meta_fail(diag, MF_EFORMAT, "guidance",
                                 "guidance cfg needs cond_null indicator");
    }
    if (rc == MF_OK) {
        m->has_cond = true;
        m->cond = c;
    }
    return rc;
}

/* The reward model the metadata describes: its layout only (the loader allocates it once
 * the file's tensors match). */
static mf_err read_reward_meta(mf_model *m, mf_diag *diag)
{
    const char *v = mf_model_get_meta(m, "reward_model");
    if (v == NULL) {
        return MF_OK;
    }
    mf_reward_kind kind;
    if (mf_reward_kind_lookup(v, &kind) != MF_OK) {
        char shown[48];
        mf_utf8_snippet(shown, sizeof shown, v);
        return mf__model_meta_fail(diag, MF_EFORMAT, "reward_model",
                                   "unsupported reward_model \"%s\" (expected ridge or mlp)",
                                   shown);
    }
    uint32_t h32[MF_REWARD_MAX_HIDDEN];
    size_t hidden[MF_REWARD_MAX_HIDDEN], n = 0, D = m->net->cfg.data_dim;
    if (kind == MF_REWARD_MLP) {
        mf_err rc = mf__model_read_widths(m, "reward_hidden", MF_REWARD_MAX_HIDDEN,
                                          MF_REWARD_MAX_WIDTH, h32, &n, diag);
        if (rc != MF_OK) {
            return rc;
        }
    }
    for (size_t i = 0; i < n; i++) {
        hidden[i] = h32[i];
    }
    if (D > MF_REWARD_MAX_WIDTH) {
        return mf__model_meta_fail(diag, MF_EFORMAT, "reward_model",
                                   "a reward model takes at most %d inputs, not data_dim %zu",
                                   MF_REWARD_MAX_WIDTH, D);
    }
    mf_err rc = mf__model_reward_shell(kind, D, hidden, n, &m->reward);
    return rc == MF_OK ? MF_OK : mf_diag_set(diag, rc, NULL, "out of memory for the reward model");
}

mf_err mf__model_from_header(mf_model *m, const mf_safetensors *st, mf_diag *diag)
{
    mf_err rc = MF_OK;
    for (size_t i = 0; i < st->n_meta && rc == MF_OK; i++) {
        rc = meta_put(m, st->meta_keys[i], st->meta_vals[i]);
    }
    if (rc != MF_OK) {
        return mf_diag_set(diag, rc, NULL, "out of memory");
    }
    mf_mlp_config cfg;
    rc = read_config(m, &cfg, diag);
    if (rc == MF_OK) {
        rc = read_schedule(m, diag);
    }
    if (rc == MF_OK) {
        rc = read_normalisation(m, diag);
    }
    if (rc == MF_OK) {
        rc = mf__model_mlp_shell(&cfg, &m->net);
        if (rc != MF_OK) {
            return mf_diag_set(diag, rc, NULL, "out of memory for the network");
        }
    }
    if (rc == MF_OK) {
        rc = read_cond(m, diag);
    }
    if (rc == MF_OK) {
        rc = read_reward_meta(m, diag);
    }
    return rc == MF_OK ? mf__dxmi_read_meta(m, diag) : rc;
}

/* ---- lifecycle -------------------------------------------------------------------- */

void mf_model_free(mf_model *m)
{
    if (m == NULL) {
        return;
    }
    mf_bf16_net_free(m->bf16);
    mf_mlp_free(m->net);
    mf_reward_free(m->reward);
    mf__dxmi_free(m->dxmi);
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
        {"format", MF_MODEL_FORMAT},
        {"data_dim", dims[0]},
        {"cond_dim", dims[1]},
        {"hidden", hidden},
        {"activation", "silu"},
        {"time_embedding", emb},
        {"prediction", cfg->out_dim == 1 ? "potential" : "eps"},
        {"schedule", m->sched.spec},
        {"data_offset", "0"},
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

mf_err mf_model_make_bf16(mf_model *m)
{
    if (m == NULL) {
        return MF_EINVAL;
    }
    if (m->bf16 != NULL ||
        mf_precision_effective(m->net, MF_PRECISION_BF16, false, NULL) != MF_PRECISION_BF16) {
        return MF_OK;
    }
    mf_bf16_net *b = NULL;
    mf_err err = mf_bf16_net_new(m->net, MF_BF16_SAMPLE_ROWS, &b);
    if (err == MF_OK) {
        err = mf_bf16_net_tabulate(b, m->sched.T); /* the sampler's t: integers below T */
    }
    if (err != MF_OK) {
        mf_bf16_net_free(b);
        return err;
    }
    m->bf16 = b;
    return MF_OK;
}

/* A copy to change: its network's bf16 layers (m->bf16) are not copied. */
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
    if (rc == MF_OK && m->reward != NULL) {
        rc = mf_reward_clone(m->reward, &c->reward);
    }
    if (rc == MF_OK) {
        rc = mf__dxmi_clone(m->dxmi, &c->dxmi);
    }
    if (rc != MF_OK) {
        mf_model_free(c);
        return rc;
    }
    c->data_offset = m->data_offset;
    c->data_scale = m->data_scale;
    c->has_cond = m->has_cond;
    c->cond = m->cond;
    *ret = c;
    return MF_OK;
}

mf_err mf_model_derive(const mf_model *parent, mf_model **ret)
{
    static const char *const parent_only[] = {
        MF_MODEL_HELDOUT_LOSS_KEY, "smeme",   "smeme_iterations", "dxmi",
        "dxmi_iterations",         "dxmi_s2", "finetune_reward"};
    mf_model *c = NULL;
    mf_err rc = mf_model_clone(parent, &c);
    if (rc != MF_OK) {
        return rc;
    }
    for (size_t i = 0; i < sizeof parent_only / sizeof parent_only[0]; i++) {
        mf__model_meta_remove(c, parent_only[i]);
    }
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
    if (is_arch_key(key) || is_managed_key(key)) {
        const char *cur = mf_model_get_meta(m, key);
        if (cur != NULL && strcmp(cur, val) == 0) {
            return MF_OK;
        }
        if (is_arch_key(key)) {
            return mf__model_meta_fail(diag, MF_EINVAL, key,
                                       "%s describes the network and cannot change", key);
        }
        return mf__dxmi_is_key(key)
                   ? mf__model_meta_fail(diag, MF_EINVAL, key,
                                         "%s is set with the few-step sampler or the energy model",
                                         key)
                   : mf__model_meta_fail(diag, MF_EINVAL, key,
                                         "%s is set with the condition or the reward model", key);
    }
    mf_err extra = check_cond_extra(key, val, MF_EINVAL, diag);
    if (extra != MF_OK) {
        return extra;
    }
    if (strcmp(key, "guidance") == 0 && strcmp(val, "cfg") == 0 && m->has_cond &&
        m->cond.null_kind != MF_COND_NULL_INDICATOR) {
        return mf__model_meta_fail(diag, MF_EINVAL, key, "guidance cfg needs cond_null indicator");
    }
    if (strcmp(key, "schedule") == 0) {
        return set_schedule(m, val, diag);
    }
    bool is_offset = strcmp(key, "data_offset") == 0, is_scale = strcmp(key, "data_scale") == 0;
    double v = 0;
    if ((is_offset || is_scale) && (!parse_real(val, &v) || (is_scale && !(v > 0)))) {
        return mf__model_meta_fail(diag, MF_EINVAL, key, "%s must be a finite number%s", key,
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
    char text[2][MF_NUMFMT_CAP];
    mf_numfmt_double(text[0], offset);
    mf_numfmt_double(text[1], scale);
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

/* ---- conditions, reward models, conditional children ------------------------------- */

/* The shortest round-trip text of v (core/numfmt.h) as a new string (NULL on OOM). */
static char *real_text(double v)
{
    char text[MF_NUMFMT_CAP];
    mf_numfmt_double(text, v);
    return strdup(text);
}

mf_err mf_model_set_cond(mf_model *m, const mf_model_cond *c, mf_diag *diag)
{
    if (m == NULL || c == NULL || !isfinite(c->offset) || !isfinite(c->scale) || !(c->scale > 0)) {
        return mf_diag_set(diag, MF_EINVAL, "cond_scale",
                           "the condition needs a finite offset and a finite scale > 0");
    }
    if (c->null_kind != MF_COND_NULL_NONE && c->null_kind != MF_COND_NULL_INDICATOR) {
        return mf_diag_set(diag, MF_EINVAL, "cond_null", "unknown null-condition convention");
    }
    if (mf_model_cond_width(c->null_kind) != m->net->cfg.cond_dim) {
        return mf_diag_set(diag, MF_EINVAL, "cond_null", "cond_null %s needs cond_dim %zu, not %u",
                           mf_model_cond_null_name(c->null_kind), mf_model_cond_width(c->null_kind),
                           (unsigned) m->net->cfg.cond_dim);
    }
    /* "condition" last: keys cond_* without it mean nothing to the loader, so an
     * out-of-memory failure half way leaves a model that still loads as before. */
    const char *keys[4] = {"cond_offset", "cond_scale", "cond_null", "condition"};
    char *vals[4] = {real_text(c->offset), real_text(c->scale),
                     strdup(mf_model_cond_null_name(c->null_kind)), strdup("reward")};
    mf_err rc = MF_OK;
    for (size_t i = 0; i < 4; i++) {
        if (rc == MF_OK && vals[i] != NULL) {
            rc = meta_put_take(m, keys[i], vals[i]); /* takes vals[i], even on error */
        } else {
            rc = MF_ENOMEM;
            free(vals[i]);
        }
    }
    if (rc != MF_OK) {
        return mf_diag_set(diag, rc, NULL, "out of memory");
    }
    m->has_cond = true;
    m->cond = *c;
    return MF_OK;
}

mf_err mf_model_set_reward(mf_model *m, const mf_reward_model *r, mf_diag *diag)
{
    if (m == NULL || r == NULL || r->D != m->net->cfg.data_dim) {
        return mf_diag_set(diag, MF_EINVAL, "reward_model",
                           "the reward model must take the model's data_dim inputs");
    }
    if (!mf_floats_finite(r->params, r->n_params)) {
        return mf_diag_set(diag, MF_EINVAL, "reward_model", "the reward model is not finite");
    }
    char hidden[MF_REWARD_MAX_HIDDEN * 12] = "";
    size_t o = 0;
    for (size_t i = 0; i < r->n_hidden; i++) {
        o += (size_t) snprintf(hidden + o, sizeof hidden - o, i > 0 ? ",%zu" : "%zu", r->hidden[i]);
    }
    mf_reward_model *copy = NULL;
    mf_err rc = mf_reward_clone(r, &copy);
    if (rc == MF_OK && r->kind == MF_REWARD_MLP) {
        rc = meta_put(m, "reward_hidden", hidden);
    }
    if (rc == MF_OK) {
        rc = meta_put(m, "reward_model", mf_reward_kind_name(r->kind));
    }
    if (rc != MF_OK) {
        mf_reward_free(copy);
        return mf_diag_set(diag, rc, NULL, "out of memory");
    }
    if (r->kind == MF_REWARD_RIDGE) {
        mf__model_meta_remove(m, "reward_hidden");
    }
    mf_reward_free(m->reward);
    m->reward = copy;
    return MF_OK;
}

mf_err mf_model_new_cond_from(const mf_model *parent, uint32_t cond_dim, mf_model **ret,
                              mf_diag *diag)
{
    if (parent == NULL || parent->net == NULL || ret == NULL || parent->net->cfg.cond_dim != 0 ||
        cond_dim == 0 || cond_dim > MF_MLP_MAX_WIDTH) {
        return mf_diag_set(diag, MF_EINVAL, NULL,
                           "a conditional model grows from an unconditional parent");
    }
    mf_mlp_config cfg = parent->net->cfg;
    cfg.cond_dim = cond_dim;
    mf_model *m = NULL;
    mf_err rc = mf_model_new(&cfg, parent->sched.spec, &m, diag);
    if (rc != MF_OK) {
        return rc;
    }
    mf_mlp *net = NULL;
    rc = mf_mlp_new_cond_from(parent->net, cond_dim, &net);
    if (rc == MF_OK) {
        mf_mlp_free(m->net);
        m->net = net;
        rc = mf_model_set_normalisation(m, parent->data_offset, parent->data_scale);
    }
    const char *dataset = mf_model_get_meta(parent, "dataset");
    if (rc == MF_OK && dataset != NULL) {
        rc = meta_put(m, "dataset", dataset);
    }
    if (rc != MF_OK) {
        mf_model_free(m);
        return mf_diag_set(diag, rc, NULL, "cannot create the conditional model: %s",
                           mf_strerror(rc));
    }
    *ret = m;
    return MF_OK;
}

/* ---- save ------------------------------------------------------------------------- */

mf_err mf_model_to_buffer(const mf_model *m, uint8_t **ret_buf, size_t *ret_len)
{
    if (m == NULL || m->net == NULL || ret_buf == NULL || ret_len == NULL) {
        return MF_EINVAL;
    }
    /* The loader would refuse a non-finite weight. */
    if (!mf_floats_finite(m->net->params, m->net->n_params) ||
        (m->reward != NULL && !mf_floats_finite(m->reward->params, m->reward->n_params)) ||
        !mf__dxmi_finite(m->dxmi)) {
        return MF_EINVAL;
    }
    mf__tensor_slot slots[MF__MAX_SLOTS];
    mf__var_scratch scratch;
    mf_safetensors_entry e[MF__MAX_SLOTS];
    size_t n = mf__model_slots(m, slots, &scratch);
    for (size_t i = 0; i < n; i++) {
        e[i] = (mf_safetensors_entry){
            .name = slots[i].name,
            .n_dims = slots[i].n_dims,
            .shape = {slots[i].shape[0], slots[i].shape[1]},
            .data = slots[i].data,
        };
    }
    return mf_safetensors_write(e, n, (const char *const *) m->meta_keys,
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
