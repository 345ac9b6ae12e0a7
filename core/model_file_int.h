/* SPDX-License-Identifier: MIT */
/*
 * model_file_int.h - what model_file.c shares with model_dxmi.c (private to
 * core/): the metadata list, the strict scalar parsers, the tensor slots of
 * a file, and the hooks through which the loader, saver, clone and free of
 * model_file.c reach a model's DxMI parts.
 */
#ifndef MF_MODEL_FILE_INT_H
#define MF_MODEL_FILE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "mlp.h"
#include "model_file.h"
#include "reward.h"
#include "safetensors.h"
#include "var_sched.h"

#define MF__META_FIELD_PREFIX "__metadata__/"

/* ---- metadata --------------------------------------------------------------------- */

/** Adds or replaces key (val copied).  Errors: MF_ENOMEM. */
MF_MUST_CHECK mf_err mf__model_meta_put(mf_model *m, const char *key, const char *val);

/** Removes key if present (the order of the others kept). */
void mf__model_meta_remove(mf_model *m, const char *key);

/** rc with diag naming the metadata key as field ("__metadata__/key"); printf message. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
mf_err
mf__model_meta_fail(mf_diag *diag, mf_err rc, const char *key, const char *fmt, ...);

/** The value of key into *ret, or MF_EFORMAT "missing metadata key". */
MF_MUST_CHECK mf_err mf__model_require(const mf_model *m, const char *key, const char **ret,
                                       mf_diag *diag);

/** s as a decimal integer in [lo, hi]: digits only, no sign, no leading zeros. */
bool mf__model_parse_uint(const char *s, uint32_t lo, uint32_t hi, uint32_t *ret);

/** A finite number written as JSON writes numbers (what core/numfmt.h and "%.9g" produce). */
bool mf__model_parse_real(const char *s, double *ret);

/**
 * A list of widths "256,256" under key: 1..max_n entries in 1..max_w into out and *ret_n.
 * Errors: MF_EFORMAT naming the key.
 */
MF_MUST_CHECK mf_err mf__model_read_widths(const mf_model *m, const char *key, size_t max_n,
                                           uint32_t max_w, uint32_t *out, size_t *ret_n,
                                           mf_diag *diag);

/* ---- loading (model_load.c) ------------------------------------------------------- */

/**
 * The metadata of a parsed file into m (copied), read and checked, and the layouts of
 * every network it declares: m->net, m->reward and the DxMI parts get their shapes but
 * no parameters (params NULL), so nothing is allocated by the sizes a file declares
 * until its tensors are known to hold them.  Errors: MF_EFORMAT naming the key,
 * MF_ENOMEM.  On error m may be half-built (mf_model_free takes it).
 */
MF_MUST_CHECK mf_err mf__model_from_header(mf_model *m, const mf_safetensors *st, mf_diag *diag);

/** A heap network holding only cfg's layout (mf_mlp_layout).  Errors: MF_EINVAL, MF_ENOMEM. */
MF_MUST_CHECK mf_err mf__model_mlp_shell(const mf_mlp_config *cfg, mf_mlp **ret);

/** A heap reward-style network holding only its layout (mf_reward_layout).  Errors as it,
 * MF_ENOMEM. */
MF_MUST_CHECK mf_err mf__model_reward_shell(mf_reward_kind kind, size_t D, const size_t *hidden,
                                            size_t n_hidden, mf_reward_model **ret);

/* ---- tensors ---------------------------------------------------------------------- */

/* A tensor of the file. */
typedef struct mf__tensor_slot {
    char name[48];
    size_t n_dims;
    size_t shape[2];
    float *data; /* into a parameter block, or the caller's scratch; NULL: a layout */
} mf__tensor_slot;

/* The network's layers, the reward model's, the short chain's three, the energy's and
 * the value's. */
#define MF__MAX_SLOTS \
    (2 * MF_MLP_MAX_LAYERS + 2 * MF_REWARD_MAX_LAYERS + 3 + 4 * MF_REWARD_MAX_LAYERS)

/* Float copies of the short chain's tensors (var.beta, var.tau, var.sigma), for the
 * slots: loaded into, or saved from. */
typedef struct mf__var_scratch {
    float beta[MF_VAR_MAX_T], tau[MF_VAR_MAX_T], sigma[MF_VAR_MAX_T];
} mf__var_scratch;

/**
 * The tensors m is made of, in file order, into out (MF__MAX_SLOTS); returns their
 * number.  The short chain's slots point into scratch; the others into the networks'
 * parameter blocks, or NULL while a network is only a layout.
 */
size_t mf__model_slots(const mf_model *m, mf__tensor_slot *out, mf__var_scratch *scratch);

/* ---- the DxMI parts (model_dxmi.c) ------------------------------------------------ */

/** true for the metadata keys mf_model_set_var and mf_model_set_energy own. */
bool mf__dxmi_is_key(const char *key);

/**
 * Reads the DxMI metadata of a model being loaded (its net's layout exists) and allocates
 * m->dxmi with the layouts of the networks it gives (no parameters: the loader allocates
 * them once the tensors match); NULL when the file has none.
 * Errors: MF_EFORMAT naming the key, MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf__dxmi_read_meta(mf_model *m, mf_diag *diag);

/**
 * The DxMI tensors of m into out (file order: var.*, energy.*, value.*), returns their
 * number.  The var slots point into scratch, which gets the short chain's values first.
 */
size_t mf__dxmi_slots(const mf_model *m, mf__tensor_slot *out, mf__var_scratch *scratch);

/**
 * After the tensors were read into the slots: checks the short chain's values and
 * builds m->dxmi->var from scratch.  Errors: MF_EFORMAT naming the tensor.
 */
MF_MUST_CHECK mf_err mf__dxmi_finish_load(mf_model *m, const mf__var_scratch *scratch,
                                          mf_diag *diag);

/**
 * An unexpected tensor name of a DxMI prefix (var., energy., value.): MF_EFORMAT
 * saying which metadata is missing or how many layers there are; MF_OK for other names.
 */
MF_MUST_CHECK mf_err mf__dxmi_unexpected(const mf_model *m, const char *name, mf_diag *diag);

/** A deep copy of src into *ret (NULL for NULL).  Errors: MF_ENOMEM. */
MF_MUST_CHECK mf_err mf__dxmi_clone(const mf_model_dxmi *src, mf_model_dxmi **ret);

/** Frees the DxMI parts; accepts NULL. */
void mf__dxmi_free(mf_model_dxmi *dx);

/** true when every parameter of the DxMI networks is finite (NULL: true). */
bool mf__dxmi_finite(const mf_model_dxmi *dx);

#endif /* MF_MODEL_FILE_INT_H */
