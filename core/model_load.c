/* SPDX-License-Identifier: MIT */
/*
 * model_load.c - loading a model file without trusting the sizes it declares.
 *
 * A file's metadata declares its networks' widths and depths, and so how much memory
 * they take: a few hundred bytes of header can declare eight layers of 8192 (470
 * million parameters, 1.9 GB).  So the loader allocates nothing by those sizes until
 * the file is known to hold them:
 *
 *   1. safetensors.c parses the container: every tensor F32, its bytes inside the
 *      buffer, the tensors tiling the data region (no tensor larger than the file);
 *   2. model_file.c reads the metadata into layouts (mf_mlp_layout,
 *      mf_reward_layout): every network's shapes, no parameters;
 *   3. here, the parameters the layouts declare are summed with overflow checks and
 *      refused above the caller's limit (mf_model_limits.max_params), naming the
 *      metadata key of the largest network; then every tensor the layouts call for
 *      must be in the file with exactly its shape, and no other tensor may be;
 *   4. only then are the networks allocated (at most as many floats as the file's
 *      tensors hold, since each is one of them) and the tensors copied and checked
 *      finite.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "mem.h"
#include "model_dxmi.h"
#include "model_file.h"
#include "model_file_int.h"
#include "safetensors.h"
#include "utf8.h"

_Static_assert(MF_REWARD_NAME_CAP <= 48, "reward tensor names fit a slot");

mf_model_limits mf_model_limits_default(void)
{
    return (mf_model_limits){.max_params = MF_MODEL_MAX_PARAMS};
}

/* ---- layouts ------------------------------------------------------------------------ */

mf_err mf__model_mlp_shell(const mf_mlp_config *cfg, mf_mlp **ret)
{
    mf_mlp *net = calloc(1, sizeof *net);
    if (net == NULL) {
        return MF_ENOMEM;
    }
    mf_err rc = mf_mlp_layout(cfg, net);
    if (rc != MF_OK) {
        free(net);
        return rc;
    }
    *ret = net;
    return MF_OK;
}

mf_err mf__model_reward_shell(mf_reward_kind kind, size_t D, const size_t *hidden, size_t n_hidden,
                              mf_reward_model **ret)
{
    mf_reward_model *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return MF_ENOMEM;
    }
    mf_err rc = mf_reward_layout(kind, D, hidden, n_hidden, r);
    if (rc != MF_OK) {
        free(r);
        return rc;
    }
    *ret = r;
    return MF_OK;
}

/* A network holding its layout's parameters (zero), in place of the layout. */
static mf_err alloc_mlp(mf_mlp **net)
{
    mf_mlp *full = NULL;
    mf_err rc = mf_mlp_new(&(*net)->cfg, &full);
    if (rc == MF_OK) {
        mf_mlp_free(*net);
        *net = full;
    }
    return rc;
}

static mf_err alloc_reward(mf_reward_model **r)
{
    mf_reward_model *full = NULL;
    if (*r == NULL) {
        return MF_OK;
    }
    mf_err rc = mf_reward_new((*r)->kind, (*r)->D, (*r)->hidden, (*r)->n_hidden, &full);
    if (rc == MF_OK) {
        mf_reward_free(*r);
        *r = full;
    }
    return rc;
}

/* ---- tensors ------------------------------------------------------------------------ */

static void tensor_names(size_t layer, char *w, char *b, size_t cap)
{
    snprintf(w, cap, "layers.%zu.weight", layer);
    snprintf(b, cap, "layers.%zu.bias", layer);
}

size_t mf__model_slots(const mf_model *m, mf__tensor_slot *out, mf__var_scratch *scratch)
{
    const mf_mlp *net = m->net;
    const float *p = net->params; /* NULL while the network is a layout */
    size_t n = 0;
    for (size_t i = 0; i < net->n_layers; i++, n += 2) {
        tensor_names(i, out[n].name, out[n + 1].name, sizeof out[n].name);
        out[n].n_dims = 2;
        out[n].shape[0] = net->out_dim[i];
        out[n].shape[1] = net->in_dim[i];
        out[n].data = p != NULL ? net->params + net->w_off[i] : NULL;
        out[n + 1].n_dims = 1;
        out[n + 1].shape[0] = net->out_dim[i];
        out[n + 1].data = p != NULL ? net->params + net->b_off[i] : NULL;
    }
    const mf_reward_model *r = m->reward;
    for (size_t i = 0; r != NULL && i < r->n_layers; i++, n += 2) {
        mf_reward_tensor_names(r, i, out[n].name, out[n + 1].name);
        out[n].n_dims = mf_reward_weight_shape(r, i, out[n].shape);
        out[n].data = r->params != NULL ? r->params + r->w_off[i] : NULL;
        out[n + 1].n_dims = 1;
        out[n + 1].shape[0] = r->out_dim[i];
        out[n + 1].data = r->params != NULL ? r->params + r->b_off[i] : NULL;
    }
    return n + mf__dxmi_slots(m, out + n, scratch);
}

/*
 * The parameters m's layouts declare, summed with overflow checks, against lim: over it,
 * MF_EFORMAT naming the metadata key of the largest network.  (Each network's own count
 * cannot overflow: mlp.h and reward.h bound its widths and depth.)
 */
static mf_err check_declared(const mf_model *m, const mf_model_limits *lim, mf_diag *diag)
{
    const mf_model_dxmi *dx = m->dxmi;

    struct {
        const char *key;
        size_t n;
    } nets[] = {
        {"hidden", m->net->n_params},
        {"reward_hidden", m->reward != NULL ? m->reward->n_params : 0},
        {"energy_hidden", dx != NULL && dx->energy != NULL ? dx->energy->n_params : 0},
        {"value_hidden", dx != NULL && dx->value != NULL ? dx->value->n_params : 0},
        {"sampler", dx != NULL && dx->has_var ? 3 * dx->var.T : 0},
    };

    if (m->reward != NULL && m->reward->kind == MF_REWARD_RIDGE) {
        nets[1].key = "reward_model";
    }
    size_t total = 0, big = 0;
    bool overflow = false;
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) {
        overflow = overflow || mf_size_add(total, nets[i].n, &total) != MF_OK;
        big = nets[i].n > nets[big].n ? i : big;
    }
    if (!overflow && total <= lim->max_params) {
        return MF_OK;
    }
    if (overflow) {
        return mf__model_meta_fail(diag, MF_EFORMAT, nets[big].key,
                                   "the metadata declares more parameters than a size holds, "
                                   "over the limit of %zu parameters",
                                   lim->max_params);
    }
    return mf__model_meta_fail(diag, MF_EFORMAT, nets[big].key,
                               "the metadata declares %zu parameters (%s: %zu), over the limit "
                               "of %zu parameters",
                               total, nets[big].key, nets[big].n, lim->max_params);
}

/* The first tensor of the file that is none of the n slots: MF_EFORMAT saying why. */
static mf_err check_extra(const mf_model *m, const mf_safetensors *st, const mf__tensor_slot *slots,
                          size_t n, mf_diag *diag)
{
    /* Every expected tensor is there and names are unique: any more are extra. */
    for (size_t j = 0; j < st->n_tensors && st->n_tensors != n; j++) {
        const char *name = st->tensors[j].name;
        bool expected = false;
        for (size_t i = 0; i < n && !expected; i++) {
            expected = strcmp(name, slots[i].name) == 0;
        }
        if (expected) {
            continue;
        }
        mf_err rc = mf__dxmi_unexpected(m, name, diag);
        if (rc != MF_OK) {
            return rc;
        }
        char shown[64];
        mf_utf8_snippet(shown, sizeof shown, name);
        if (strncmp(name, "reward.", 7) == 0 && m->reward == NULL) {
            return mf_diag_set(diag, MF_EFORMAT, name,
                               "unexpected tensor \"%s\" (no reward_model metadata)", shown);
        }
        if (strncmp(name, "reward.", 7) == 0) {
            return mf_diag_set(diag, MF_EFORMAT, name,
                               "unexpected tensor \"%s\" (the %s reward model has %zu layers)",
                               shown, mf_reward_kind_name(m->reward->kind), m->reward->n_layers);
        }
        return mf_diag_set(diag, MF_EFORMAT, name,
                           "unexpected tensor \"%s\" (the network has %zu layers)", shown,
                           m->net->n_layers);
    }
    return MF_OK;
}

/* Every tensor the layouts call for is in the file with its shape, and no other is. */
static mf_err check_tensors(const mf_model *m, const mf_safetensors *st, mf_diag *diag)
{
    mf__tensor_slot slots[MF__MAX_SLOTS];
    mf__var_scratch scratch;
    size_t n = mf__model_slots(m, slots, &scratch);
    for (size_t i = 0; i < n; i++) {
        const char *name = slots[i].name;
        const mf_safetensors_tensor *t = mf_safetensors_find(st, name);
        if (t == NULL) {
            return mf_diag_set(diag, MF_EFORMAT, name, "missing tensor %s", name);
        }
        if (t->n_dims != slots[i].n_dims ||
            memcmp(t->shape, slots[i].shape, t->n_dims * sizeof *t->shape) != 0) {
            char got[96], want[64];
            mf_safetensors_format_shape(got, sizeof got, t->shape, t->n_dims);
            mf_safetensors_format_shape(want, sizeof want, slots[i].shape, slots[i].n_dims);
            return mf_diag_set(diag, MF_EFORMAT, name, "%s has shape %s, expected %s", name, got,
                               want);
        }
    }
    return check_extra(m, st, slots, n, diag);
}

/* The networks' parameter blocks, in place of their layouts. */
static mf_err alloc_networks(mf_model *m, mf_diag *diag)
{
    mf_err rc = alloc_mlp(&m->net);
    if (rc == MF_OK) {
        rc = alloc_reward(&m->reward);
    }
    if (rc == MF_OK && m->dxmi != NULL) {
        rc = alloc_reward(&m->dxmi->energy);
    }
    if (rc == MF_OK && m->dxmi != NULL) {
        rc = alloc_reward(&m->dxmi->value);
    }
    return rc == MF_OK
               ? MF_OK
               : mf_diag_set(diag, rc, NULL, "cannot allocate the networks: %s", mf_strerror(rc));
}

/* Copies the tensors (checked by check_tensors) into the networks; every value finite. */
static mf_err copy_tensors(mf_model *m, const mf_safetensors *st, mf_diag *diag)
{
    mf__tensor_slot slots[MF__MAX_SLOTS];
    mf__var_scratch scratch;
    size_t n = mf__model_slots(m, slots, &scratch);
    for (size_t i = 0; i < n; i++) {
        const mf_safetensors_tensor *t = mf_safetensors_find(st, slots[i].name);
        float *dst = slots[i].data;
        mf_safetensors_tensor_read(t, dst);
        for (size_t k = 0; k < t->n_elems; k++) {
            if (!isfinite(dst[k])) {
                return mf_diag_set(diag, MF_EFORMAT, slots[i].name,
                                   "%s has a non-finite value (%s) at index %zu", slots[i].name,
                                   isnan(dst[k]) ? "NaN" : "Inf", k);
            }
        }
    }
    return mf__dxmi_finish_load(m, &scratch, diag);
}

/* ---- load --------------------------------------------------------------------------- */

mf_err mf_model_load_buffer_limited(const uint8_t *buf, size_t len, const mf_model_limits *lim,
                                    mf_model **ret, mf_diag *diag)
{
    if (ret == NULL || (buf == NULL && len > 0)) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "invalid argument");
    }
    mf_model_limits def = mf_model_limits_default();
    lim = lim != NULL ? lim : &def;
    mf_safetensors *st = NULL;
    mf_err rc = mf_safetensors_parse(buf, len, &st, diag);
    if (rc != MF_OK) {
        return rc;
    }
    mf_model *m = calloc(1, sizeof *m);
    if (m == NULL) {
        rc = mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
    }
    if (rc == MF_OK) {
        rc = mf__model_from_header(m, st, diag);
    }
    if (rc == MF_OK) {
        rc = check_declared(m, lim, diag);
    }
    if (rc == MF_OK) {
        rc = check_tensors(m, st, diag);
    }
    if (rc == MF_OK) {
        rc = alloc_networks(m, diag);
    }
    if (rc == MF_OK) {
        rc = copy_tensors(m, st, diag);
    }
    mf_safetensors_free(st);
    if (rc != MF_OK) {
        mf_model_free(m);
        return rc;
    }
    *ret = m;
    return MF_OK;
}

mf_err mf_model_load_buffer(const uint8_t *buf, size_t len, mf_model **ret, mf_diag *diag)
{
    return mf_model_load_buffer_limited(buf, len, NULL, ret, diag);
}

mf_err mf_model_load_file_limited(const char *path, size_t max_bytes, const mf_model_limits *lim,
                                  mf_model **ret, mf_diag *diag)
{
    if (path == NULL || ret == NULL) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "invalid argument");
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    mf_err rc = mf_fileio_read(path, max_bytes, &buf, &len, diag);
    if (rc == MF_OK) {
        rc = mf_model_load_buffer_limited(buf, len, lim, ret, diag);
    }
    free(buf);
    return rc;
}

mf_err mf_model_load_file(const char *path, size_t max_bytes, mf_model **ret, mf_diag *diag)
{
    return mf_model_load_file_limited(path, max_bytes, NULL, ret, diag);
}
