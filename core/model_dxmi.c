/* SPDX-License-Identifier: MIT */
/*
 * model_dxmi.c - the DxMI parts of a model file (see model_dxmi.h): reading
 * and checking their metadata, their tensor slots for model_file.c's loader
 * and saver, the setters, and anomaly scores from the energy network.
 *
 * Invariant: m->dxmi is NULL or holds the sampler (has_var) or the energy
 * with its value network and quantiles (energy != NULL), or both, and the
 * managed metadata keys describe exactly that.  The in-memory values are
 * what a save and load give back: the setters round the short chain to
 * float and the quantiles through their "%.9g" text.
 */
#include "model_dxmi.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "model_file_int.h"
#include "utf8.h"

#define VAR_PREFIX "var:"

/* Metadata keys the setters own, in the order they are checked. */
static const char *const dxmi_keys[] = {"sampler",      "var_schedule", "energy_hidden",
                                        "value_hidden", "value_emb",    "energy_quantiles"};
static const char *const energy_keys[] = {"energy_hidden", "value_hidden", "value_emb",
                                          "energy_quantiles"};
#define N_ENERGY_KEYS (sizeof energy_keys / sizeof energy_keys[0])

bool mf__dxmi_is_key(const char *key)
{
    for (size_t i = 0; i < sizeof dxmi_keys / sizeof dxmi_keys[0]; i++) {
        if (strcmp(key, dxmi_keys[i]) == 0) {
            return true;
        }
    }
    return false;
}

const mf_model_dxmi *mf_model_get_dxmi(const mf_model *m)
{
    return m != NULL ? m->dxmi : NULL;
}

/* ---- lifecycle --------------------------------------------------------------------- */

void mf__dxmi_free(mf_model_dxmi *dx)
{
    if (dx == NULL) {
        return;
    }
    mf_reward_free(dx->energy);
    mf_reward_free(dx->value);
    free(dx);
}

mf_err mf__dxmi_clone(const mf_model_dxmi *src, mf_model_dxmi **ret)
{
    if (src == NULL) {
        *ret = NULL;
        return MF_OK;
    }
    mf_model_dxmi *c = malloc(sizeof *c);
    if (c == NULL) {
        return MF_ENOMEM;
    }
    *c = *src;
    c->energy = NULL;
    c->value = NULL;
    mf_err rc = src->energy != NULL ? mf_reward_clone(src->energy, &c->energy) : MF_OK;
    if (rc == MF_OK && src->value != NULL) {
        rc = mf_reward_clone(src->value, &c->value);
    }
    if (rc != MF_OK) {
        mf__dxmi_free(c);
        return rc;
    }
    *ret = c;
    return MF_OK;
}

bool mf__dxmi_finite(const mf_model_dxmi *dx)
{
    return dx == NULL ||
           ((dx->energy == NULL || mf_floats_finite(dx->energy->params, dx->energy->n_params)) &&
            (dx->value == NULL || mf_floats_finite(dx->value->params, dx->value->n_params)));
}

/* ---- metadata ---------------------------------------------------------------------- */

/* "%.9g,%.9g,..." of the quantiles (101 x at most 16 bytes + commas). */
#define QUANTILES_TEXT_CAP (MF_ENERGY_N_QUANTILES * 17)

static void quantiles_text(const double *q, char *out)
{
    size_t o = 0;
    for (size_t k = 0; k < MF_ENERGY_N_QUANTILES; k++) {
        o += (size_t) snprintf(out + o, QUANTILES_TEXT_CAP - o, k > 0 ? ",%.9g" : "%.9g", q[k]);
    }
}

/* The quantiles of text v (key names them) into q: 101 finite, non-decreasing numbers. */
static mf_err parse_quantiles(const char *key, const char *v, double *q, mf_err rc, mf_diag *diag)
{
    const char *p = v;
    for (size_t k = 0; k < MF_ENERGY_N_QUANTILES; k++) {
        size_t len = strcspn(p, ",");
        char item[40];
        if (len == 0 || len >= sizeof item) {
            return mf__model_meta_fail(diag, rc, key, "%s: entry %zu is %s", key, k + 1,
                                       len == 0 ? "empty or missing" : "not a finite number");
        }
        memcpy(item, p, len);
        item[len] = '\0';
        if (!mf__model_parse_real(item, &q[k])) {
            char shown[48];
            mf_utf8_snippet(shown, sizeof shown, item);
            return mf__model_meta_fail(diag, rc, key, "%s: entry %zu \"%s\" is not a finite number",
                                       key, k + 1, shown);
        }
        if (k > 0 && q[k] < q[k - 1]) {
            return mf__model_meta_fail(diag, rc, key,
                                       "%s: entry %zu (%.9g) is below entry %zu (%.9g); the "
                                       "quantiles must not decrease",
                                       key, k + 1, q[k], k, q[k - 1]);
        }
        p += len;
        if (*p == ',' && k + 1 == MF_ENERGY_N_QUANTILES) {
            return mf__model_meta_fail(diag, rc, key, "%s has more than %d entries", key,
                                       MF_ENERGY_N_QUANTILES);
        }
        p += *p == ',' ? 1 : 0;
    }
    return MF_OK;
}

/* "sampler" var:T and "var_schedule" into *ret_T and *ret_kind; *ret_T = 0 when absent. */
static mf_err read_var_meta(const mf_model *m, size_t *ret_T, mf_var_sched_kind *ret_kind,
                            mf_diag *diag)
{
    const char *v = mf_model_get_meta(m, "sampler"), *k = mf_model_get_meta(m, "var_schedule");
    *ret_T = 0;
    if (v == NULL) {
        return k == NULL ? MF_OK
                         : mf__model_meta_fail(diag, MF_EFORMAT, "var_schedule",
                                               "var_schedule without a sampler key (var:T)");
    }
    char shown[48];
    mf_utf8_snippet(shown, sizeof shown, v);
    uint32_t T = 0;
    if (strncmp(v, VAR_PREFIX, strlen(VAR_PREFIX)) != 0 ||
        !mf__model_parse_uint(v + strlen(VAR_PREFIX), 2, MF_VAR_MAX_T, &T)) {
        return mf__model_meta_fail(diag, MF_EFORMAT, "sampler",
                                   "unsupported sampler \"%s\" (expected var:T, T in 2..%d)", shown,
                                   MF_VAR_MAX_T);
    }
    mf_err rc = mf__model_require(m, "var_schedule", &k, diag);
    if (rc != MF_OK) {
        return rc;
    }
    if (mf_var_sched_kind_lookup(k, ret_kind) != MF_OK) {
        mf_utf8_snippet(shown, sizeof shown, k);
        return mf__model_meta_fail(diag, MF_EFORMAT, "var_schedule",
                                   "unsupported var_schedule \"%s\" (expected code or matched)",
                                   shown);
    }
    *ret_T = T;
    return MF_OK;
}

/* The layout of a scalar MLP of `key`'s widths on `in` inputs into *ret (no parameters
 * yet: the loader allocates them once the file's tensors match). */
static mf_err read_net(const mf_model *m, const char *key, size_t in, mf_reward_model **ret,
                       mf_diag *diag)
{
    uint32_t h32[MF_REWARD_MAX_HIDDEN];
    size_t hidden[MF_REWARD_MAX_HIDDEN], n = 0;
    mf_err rc =
        mf__model_read_widths(m, key, MF_REWARD_MAX_HIDDEN, MF_REWARD_MAX_WIDTH, h32, &n, diag);
    if (rc != MF_OK) {
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        hidden[i] = h32[i];
    }
    if (in > MF_REWARD_MAX_WIDTH) {
        return mf__model_meta_fail(diag, MF_EFORMAT, key,
                                   "%s: the network would take %zu inputs, over %d", key, in,
                                   MF_REWARD_MAX_WIDTH);
    }
    rc = mf__model_reward_shell(MF_REWARD_MLP, in, hidden, n, ret);
    return rc == MF_OK ? MF_OK : mf_diag_set(diag, rc, NULL, "out of memory for the %s", key);
}

/* The energy keys: all or none; the networks allocated into dx. */
static mf_err read_energy_meta(const mf_model *m, mf_model_dxmi *dx, mf_diag *diag)
{
    size_t given = 0;
    for (size_t i = 0; i < N_ENERGY_KEYS; i++) {
        given += mf_model_get_meta(m, energy_keys[i]) != NULL;
    }
    const char *v = NULL;
    for (size_t i = 0; i < N_ENERGY_KEYS && given > 0; i++) {
        mf_err rc = mf__model_require(m, energy_keys[i], &v, diag);
        if (rc != MF_OK) {
            return rc;
        }
    }
    if (given == 0) {
        return MF_OK;
    }
    size_t D = m->net->cfg.data_dim;
    uint32_t emb = 0;
    v = mf_model_get_meta(m, "value_emb");
    if (!mf__model_parse_uint(v, 2, MF_VALUE_EMB_MAX, &emb) || emb % 2 != 0) {
        char shown[48];
        mf_utf8_snippet(shown, sizeof shown, v);
        return mf__model_meta_fail(diag, MF_EFORMAT, "value_emb",
                                   "value_emb \"%s\" must be an even integer in 2..%d", shown,
                                   MF_VALUE_EMB_MAX);
    }
    dx->value_emb = emb;
    mf_err rc = read_net(m, "energy_hidden", D, &dx->energy, diag);
    if (rc == MF_OK) {
        rc = read_net(m, "value_hidden", D + emb, &dx->value, diag);
    }
    if (rc == MF_OK) {
        rc = parse_quantiles("energy_quantiles", mf_model_get_meta(m, "energy_quantiles"),
                             dx->energy_q, MF_EFORMAT, diag);
    }
    return rc;
}

mf_err mf__dxmi_read_meta(mf_model *m, mf_diag *diag)
{
    size_t T = 0;
    mf_var_sched_kind kind = MF_VAR_SCHED_CODE;
    mf_err rc = read_var_meta(m, &T, &kind, diag);
    if (rc != MF_OK) {
        return rc;
    }
    mf_model_dxmi *dx = calloc(1, sizeof *dx);
    if (dx == NULL) {
        return mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
    }
    dx->has_var = T > 0;
    dx->var.T = T;
    dx->var_kind = kind;
    rc = read_energy_meta(m, dx, diag);
    if (rc != MF_OK || (!dx->has_var && dx->energy == NULL)) {
        mf__dxmi_free(dx);
        return rc;
    }
    m->dxmi = dx;
    return MF_OK;
}

/* ---- tensors ----------------------------------------------------------------------- */

static const char *const var_names[3] = {"var.beta", "var.tau", "var.sigma"};

/* The slots of a scalar MLP under prefix ("energy") into out; returns their number. */
static size_t net_slots(const mf_reward_model *r, const char *prefix, mf__tensor_slot *out)
{
    size_t n = 0;
    for (size_t i = 0; r != NULL && i < r->n_layers; i++, n += 2) {
        mf_reward_tensor_names_prefix(r, prefix, i, out[n].name, out[n + 1].name);
        out[n].n_dims = mf_reward_weight_shape(r, i, out[n].shape);
        out[n].data = r->params != NULL ? r->params + r->w_off[i] : NULL;
        out[n + 1].n_dims = 1;
        out[n + 1].shape[0] = r->out_dim[i];
        out[n + 1].data = r->params != NULL ? r->params + r->b_off[i] : NULL;
    }
    return n;
}

size_t mf__dxmi_slots(const mf_model *m, mf__tensor_slot *out, mf__var_scratch *scratch)
{
    const mf_model_dxmi *dx = m->dxmi;
    if (dx == NULL) {
        return 0;
    }
    size_t n = 0;
    if (dx->has_var) {
        float *data[3] = {scratch->beta, scratch->tau, scratch->sigma};
        for (size_t t = 0; t < dx->var.T; t++) {
            scratch->beta[t] = (float) dx->var.beta[t];
            scratch->tau[t] = (float) dx->var.tau[t];
            scratch->sigma[t] = (float) dx->var.sigma[t];
        }
        for (size_t k = 0; k < 3; k++, n++) {
            snprintf(out[n].name, sizeof out[n].name, "%s", var_names[k]);
            out[n].n_dims = 1;
            out[n].shape[0] = dx->var.T;
            out[n].data = data[k];
        }
    }
    n += net_slots(dx->energy, "energy", out + n);
    n += net_slots(dx->value, "value", out + n);
    return n;
}

/* The short chain's values, as the loader and mf_model_set_var accept them; rc names the
 * tensor. */
static mf_err check_var(size_t T, const float *beta, const float *tau, const float *sigma,
                        size_t n_steps, mf_err rc, mf_diag *diag)
{
    for (size_t t = 0; t < T; t++) {
        if (!(beta[t] > 0.0f && beta[t] < 1.0f)) {
            return mf_diag_set(diag, rc, "var.beta", "var.beta[%zu] = %g is not in (0, 1)", t,
                               (double) beta[t]);
        }
        if (!(tau[t] >= 0.0f && (double) tau[t] <= (double) (n_steps - 1))) {
            return mf_diag_set(diag, rc, "var.tau",
                               "var.tau[%zu] = %g is not a timestep of the schedule (0..%zu)", t,
                               (double) tau[t], n_steps - 1);
        }
        if (!(sigma[t] > 0.0f) || !isfinite(sigma[t])) {
            return mf_diag_set(diag, rc, "var.sigma",
                               "var.sigma[%zu] = %g is not a finite number > 0", t,
                               (double) sigma[t]);
        }
    }
    return MF_OK;
}

/* The short chain from float values checked by check_var into *ret. */
static mf_err build_var(size_t T, const float *beta, const float *tau, const float *sigma,
                        mf_var_sched *ret, mf_err rc, mf_diag *diag)
{
    mf_diag d = {0};
    mf_err err = mf_var_sched_from(T, beta, tau, sigma, ret, &d);
    if (err != MF_OK) {
        return mf_diag_set(diag, rc, d.field[0] != '\0' ? d.field : "var.beta",
                           "the short chain is rejected: %s", d.msg);
    }
    return MF_OK;
}

mf_err mf__dxmi_finish_load(mf_model *m, const mf__var_scratch *s, mf_diag *diag)
{
    mf_model_dxmi *dx = m->dxmi;
    if (dx == NULL || !dx->has_var) {
        return MF_OK;
    }
    size_t T = dx->var.T;
    mf_err rc = check_var(T, s->beta, s->tau, s->sigma, m->sched.T, MF_EFORMAT, diag);
    return rc != MF_OK ? rc : build_var(T, s->beta, s->tau, s->sigma, &dx->var, MF_EFORMAT, diag);
}

mf_err mf__dxmi_unexpected(const mf_model *m, const char *name, mf_diag *diag)
{
    const mf_model_dxmi *dx = m->dxmi;
    bool var = strncmp(name, "var.", 4) == 0;
    bool net = strncmp(name, "energy.", 7) == 0 || strncmp(name, "value.", 6) == 0;
    if (!var && !net) {
        return MF_OK;
    }
    char shown[64];
    mf_utf8_snippet(shown, sizeof shown, name);
    if (var) {
        return dx != NULL && dx->has_var
                   ? mf_diag_set(diag, MF_EFORMAT, name,
                                 "unexpected tensor \"%s\" (the short chain is var.beta, var.tau "
                                 "and var.sigma)",
                                 shown)
                   : mf_diag_set(diag, MF_EFORMAT, name,
                                 "unexpected tensor \"%s\" (no sampler metadata)", shown);
    }
    if (dx == NULL || dx->energy == NULL) {
        return mf_diag_set(diag, MF_EFORMAT, name,
                           "unexpected tensor \"%s\" (no energy_hidden metadata)", shown);
    }
    return mf_diag_set(diag, MF_EFORMAT, name,
                       "unexpected tensor \"%s\" (the energy network has %zu layers, the value "
                       "network %zu)",
                       shown, dx->energy->n_layers, dx->value->n_layers);
}

/* ---- setters ----------------------------------------------------------------------- */

/* m->dxmi, allocated when NULL (*fresh tells); NULL when out of memory. */
static mf_model_dxmi *dxmi_of(mf_model *m, bool *fresh)
{
    *fresh = m->dxmi == NULL;
    if (m->dxmi == NULL) {
        m->dxmi = calloc(1, sizeof *m->dxmi);
    }
    return m->dxmi;
}

/* Undoes dxmi_of's allocation after a failure. */
static void dxmi_drop_fresh(mf_model *m, bool fresh)
{
    if (fresh) {
        mf__dxmi_free(m->dxmi);
        m->dxmi = NULL;
    }
}

mf_err mf_model_set_var(mf_model *m, const mf_var_sched *v, mf_var_sched_kind kind, mf_diag *diag)
{
    if (m == NULL || v == NULL || v->T < 2 || v->T > MF_VAR_MAX_T) {
        return mf_diag_set(diag, MF_EINVAL, "sampler", "the short chain needs 2..%d steps",
                           MF_VAR_MAX_T);
    }
    const char *kind_name = mf_var_sched_kind_name(kind);
    if (strcmp(kind_name, "unknown") == 0) {
        return mf_diag_set(diag, MF_EINVAL, "var_schedule", "unknown short-chain kind");
    }
    float beta[MF_VAR_MAX_T], tau[MF_VAR_MAX_T], sigma[MF_VAR_MAX_T];
    for (size_t t = 0; t < v->T; t++) {
        beta[t] = (float) v->beta[t];
        tau[t] = (float) v->tau[t];
        sigma[t] = (float) v->sigma[t];
    }
    mf_var_sched var;
    mf_err rc = check_var(v->T, beta, tau, sigma, m->sched.T, MF_EINVAL, diag);
    if (rc == MF_OK) {
        rc = build_var(v->T, beta, tau, sigma, &var, MF_EINVAL, diag);
    }
    if (rc != MF_OK) {
        return rc;
    }
    char text[32];
    snprintf(text, sizeof text, VAR_PREFIX "%zu", v->T);
    bool fresh;
    mf_model_dxmi *dx = dxmi_of(m, &fresh);
    /* var_schedule first: without "sampler" the loader refuses it, so an out-of-memory
     * failure between the two leaves a file that says what went wrong, not a half sampler. */
    rc = dx == NULL ? MF_ENOMEM : mf__model_meta_put(m, "var_schedule", kind_name);
    if (rc == MF_OK) {
        rc = mf__model_meta_put(m, "sampler", text);
    }
    if (rc != MF_OK) {
        dxmi_drop_fresh(m, fresh);
        return mf_diag_set(diag, rc, NULL, "out of memory");
    }
    dx->has_var = true;
    dx->var = var;
    dx->var_kind = kind;
    return MF_OK;
}

/* The energy's and the value's shapes against m's D and value_emb. */
static mf_err check_nets(const mf_model *m, const mf_reward_model *energy,
                         const mf_reward_model *value, size_t value_emb, mf_diag *diag)
{
    size_t D = m->net->cfg.data_dim;
    if (energy == NULL || value == NULL || energy->kind != MF_REWARD_MLP ||
        value->kind != MF_REWARD_MLP) {
        return mf_diag_set(diag, MF_EINVAL, "energy_hidden",
                           "the energy and value networks must be scalar MLPs");
    }
    if (value_emb < 2 || value_emb > MF_VALUE_EMB_MAX || value_emb % 2 != 0) {
        return mf_diag_set(diag, MF_EINVAL, "value_emb", "value_emb must be even in 2..%d",
                           MF_VALUE_EMB_MAX);
    }
    if (energy->D != D || value->D != D + value_emb) {
        return mf_diag_set(diag, MF_EINVAL, "energy_hidden",
                           "the energy takes D = %zu inputs and the value D + value_emb = %zu, "
                           "not %zu and %zu",
                           D, D + value_emb, energy->D, value->D);
    }
    if (!mf_floats_finite(energy->params, energy->n_params) ||
        !mf_floats_finite(value->params, value->n_params)) {
        return mf_diag_set(diag, MF_EINVAL, "energy_hidden",
                           "the energy and value networks must be finite");
    }
    return MF_OK;
}

/* "H1,H2,..." of r's hidden widths into out[cap]. */
static void widths_text(const mf_reward_model *r, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < r->n_hidden; i++) {
        o += (size_t) snprintf(out + o, cap - o, i > 0 ? ",%zu" : "%zu", r->hidden[i]);
    }
}

mf_err mf_model_set_energy(mf_model *m, const mf_reward_model *energy, const mf_reward_model *value,
                           size_t value_emb, const double *quantiles, mf_diag *diag)
{
    if (m == NULL || quantiles == NULL) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "invalid argument");
    }
    mf_err rc = check_nets(m, energy, value, value_emb, diag);
    if (rc != MF_OK) {
        return rc;
    }
    for (size_t k = 0; k < MF_ENERGY_N_QUANTILES; k++) {
        if (!isfinite(quantiles[k]) || (k > 0 && quantiles[k] < quantiles[k - 1])) {
            return mf_diag_set(diag, MF_EINVAL, "energy_quantiles",
                               "quantile %zu is not finite or below the one before", k);
        }
    }
    char q_text[QUANTILES_TEXT_CAP], e_text[MF_REWARD_MAX_HIDDEN * 12],
        v_text[MF_REWARD_MAX_HIDDEN * 12], emb_text[16];
    quantiles_text(quantiles, q_text);
    widths_text(energy, e_text, sizeof e_text);
    widths_text(value, v_text, sizeof v_text);
    snprintf(emb_text, sizeof emb_text, "%zu", value_emb);
    double q[MF_ENERGY_N_QUANTILES];
    /* "%.9g" can make two close quantiles cross only if they were not sorted: cannot fail. */
    rc = parse_quantiles("energy_quantiles", q_text, q, MF_EINVAL, diag);
    mf_reward_model *e = NULL, *v = NULL;
    if (rc == MF_OK) {
        rc = mf_reward_clone(energy, &e);
    }
    if (rc == MF_OK) {
        rc = mf_reward_clone(value, &v);
    }
    bool fresh = false;
    mf_model_dxmi *dx = rc == MF_OK ? dxmi_of(m, &fresh) : NULL;
    rc = rc == MF_OK && dx == NULL ? MF_ENOMEM : rc;
    const char *keys[] = {"energy_hidden", "value_hidden", "value_emb", "energy_quantiles"};
    const char *vals[] = {e_text, v_text, emb_text, q_text};
    for (size_t i = 0; i < N_ENERGY_KEYS && rc == MF_OK; i++) {
        rc = mf__model_meta_put(m, keys[i], vals[i]);
    }
    if (rc != MF_OK) {
        mf_reward_free(e);
        mf_reward_free(v);
        dxmi_drop_fresh(m, fresh);
        return rc == MF_EINVAL ? rc : mf_diag_set(diag, rc, NULL, "out of memory");
    }
    mf_reward_free(dx->energy);
    mf_reward_free(dx->value);
    dx->energy = e;
    dx->value = v;
    dx->value_emb = value_emb;
    memcpy(dx->energy_q, q, sizeof q);
    return MF_OK;
}

/* ---- quantiles and percentiles ----------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

mf_err mf_energy_quantiles(const double *e, size_t n, double *q)
{
    if (e == NULL || q == NULL || n == 0) {
        return MF_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(e[i])) {
            return MF_EINVAL;
        }
    }
    double *s = malloc(n * sizeof *s);
    if (s == NULL) {
        return MF_ENOMEM;
    }
    memcpy(s, e, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    /* numpy's "linear": position p = k/100 (n - 1), between order statistics. */
    for (size_t k = 0; k < MF_ENERGY_N_QUANTILES; k++) {
        double p =
            (double) k * (double) (n - 1) / (MF_ENERGY_N_QUANTILES - 1); /* exact when whole */
        size_t i = (size_t) floor(p);
        double frac = p - (double) i;
        q[k] = i + 1 < n ? s[i] + frac * (s[i + 1] - s[i]) : s[n - 1];
    }
    /* Rounding in the interpolation must not make them decrease. */
    for (size_t k = 1; k < MF_ENERGY_N_QUANTILES; k++) {
        q[k] = q[k] < q[k - 1] ? q[k - 1] : q[k];
    }
    free(s);
    return MF_OK;
}

double mf_energy_percentile(const double *q, double e)
{
    if (isnan(e)) {
        return NAN;
    }
    const size_t K = MF_ENERGY_N_QUANTILES;
    size_t below = 0, at_most = 0; /* quantiles < e, <= e */
    while (below < K && q[below] < e) {
        below++;
    }
    at_most = below;
    while (at_most < K && q[at_most] <= e) {
        at_most++;
    }
    double k;
    if (at_most > below) { /* e equals q[below] .. q[at_most - 1]: the middle of the tie */
        k = 0.5 * (double) (below + at_most - 1);
    } else if (below == 0) {
        k = 0.0;
    } else if (below == K) {
        k = (double) (K - 1);
    } else { /* q[below - 1] < e < q[below] */
        double lo = q[below - 1], hi = q[below];
        k = (double) (below - 1) + (e - lo) / (hi - lo);
    }
    return 100.0 * k / (double) (K - 1);
}

/* ---- scores ------------------------------------------------------------------------ */

#define SCORE_CHUNK 256 /* rows per forward pass */

typedef struct score_task {
    const mf_model *m;
    const float *x;
    size_t n, parts;
    mf_energy_score *out;
    mf_reward_ws **ws; /* one per part */
    float *scratch;    /* parts x (SCORE_CHUNK x D + SCORE_CHUNK) */
} score_task;

static void score_part(void *ctx, size_t part)
{
    score_task *s = ctx;
    const mf_model_dxmi *dx = s->m->dxmi;
    size_t D = dx->energy->D, per = (s->n + s->parts - 1) / s->parts;
    size_t r0 = part * per, r1 = r0 + per < s->n ? r0 + per : s->n;
    float *xm = s->scratch + part * SCORE_CHUNK * (D + 1), *e = xm + SCORE_CHUNK * D;
    const double *q = dx->energy_q;
    for (size_t a = r0; a < r1; a += SCORE_CHUNK) {
        size_t rows = r1 - a < SCORE_CHUNK ? r1 - a : SCORE_CHUNK;
        memcpy(xm, s->x + a * D, rows * D * sizeof(float));
        mf_model_from_data(s->m, xm, rows * D);
        mf_reward_predict(dx->energy, s->ws[part], xm, rows, e);
        for (size_t i = 0; i < rows; i++) {
            double en = (double) e[i];
            s->out[a + i] = (mf_energy_score){.energy = en,
                                              .percentile = mf_energy_percentile(q, en),
                                              .outlier = !(en <= q[MF_ENERGY_OUTLIER_PCT])};
        }
    }
}

mf_err mf_model_score(const mf_model *m, const float *x, size_t n, mf_par_for_fn fn, void *exec,
                      size_t parts, mf_energy_score *out)
{
    if (m == NULL || m->dxmi == NULL || m->dxmi->energy == NULL || x == NULL || out == NULL ||
        n == 0 || parts == 0) {
        return MF_EINVAL;
    }
    parts = parts > n ? n : parts;
    size_t D = m->dxmi->energy->D;
    score_task s = {.m = m, .x = x, .n = n, .parts = parts, .out = out};
    s.ws = calloc(parts, sizeof *s.ws);
    s.scratch = mf_alloc_floats(parts * SCORE_CHUNK * (D + 1));
    mf_err rc = s.ws == NULL || s.scratch == NULL ? MF_ENOMEM : MF_OK;
    for (size_t i = 0; i < parts && rc == MF_OK; i++) {
        rc = mf_reward_ws_new(m->dxmi->energy, SCORE_CHUNK, &s.ws[i]);
    }
    if (rc == MF_OK && fn != NULL) {
        fn(exec, parts, score_part, &s);
    }
    for (size_t i = 0; rc == MF_OK && fn == NULL && i < parts; i++) {
        score_part(&s, i);
    }
    for (size_t i = 0; s.ws != NULL && i < parts; i++) {
        mf_reward_ws_free(s.ws[i]);
    }
    free(s.ws);
    mf_free_aligned(s.scratch);
    return rc;
}
