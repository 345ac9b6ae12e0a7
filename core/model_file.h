/* SPDX-License-Identifier: MIT */
/*
 * model_file.h - the Manifold model file: a safetensors file holding the
 * reference MLP of DESIGN.md ("Models and files").
 *
 * Tensors: layers.{i}.weight [out, in] and layers.{i}.bias [out] for
 * i = 0 .. k, exactly those, F32.  Metadata (all strings):
 *   format          manifold.mlp-ddpm.v1
 *   data_dim        D                    cond_dim    C (0: unconditional)
 *   hidden          "256,256,256"        activation  silu
 *   time_embedding  sinusoidal:E         prediction  eps
 *   schedule        linear:0.0001:0.02:1000 (any mf_schedule_init spec)
 *   data_offset     finite number        data_scale  finite number > 0
 *   dataset, parent, created, provenance and any other key: optional, kept.
 *
 * Loading validates all of it (strict integers, widths and depth from mlp.h,
 * finite weights) and answers MF_EFORMAT with diag->msg naming the problem
 * and diag->field the tensor or "__metadata__/<key>".  Saving is atomic.
 *
 * Threading: an mf_model is a plain object; concurrent readers are fine,
 * writers (set_meta, set_normalisation, params) need exclusive access.
 */
#ifndef MF_MODEL_FILE_H
#define MF_MODEL_FILE_H

#include <stddef.h>
#include <time.h>
#include <stdint.h>

#include "err.h"
#include "mlp.h"
#include "schedule.h"

#define MF_MODEL_FORMAT "manifold.mlp-ddpm.v1"

typedef struct mf_model {
    mf_mlp *net;        /* owned */
    mf_schedule sched;  /* owned arrays; built from the "schedule" metadata */
    double data_offset; /* x_model = (x_data - data_offset) / data_scale */
    double data_scale;  /* > 0 */
    size_t n_meta;
    char **meta_keys; /* owned, n_meta each, in file order */
    char **meta_vals;
} mf_model;

/**
 * A new model with all parameters zero and the architecture metadata filled
 * in (format, data_dim, cond_dim, hidden, activation=silu,
 * time_embedding=sinusoidal:E, prediction=eps, schedule, data_offset=0,
 * data_scale=1).  Errors: MF_EINVAL (cfg fails mf_mlp_config_check, NULL
 * arguments), MF_EFORMAT / MF_ERANGE (schedule_spec rejected by
 * mf_schedule_init), MF_ENOMEM.  *ret is written only on success; free with
 * mf_model_free.
 */
MF_MUST_CHECK mf_err mf_model_new(const mf_mlp_config *cfg, const char *schedule_spec,
                                  mf_model **ret, mf_diag *diag);

/** Frees a model and everything it owns; accepts NULL and half-built models. */
void mf_model_free(mf_model *m);

/**
 * A deep copy (own parameter block, schedule and metadata), e.g. the start
 * of a fine-tune.  Errors: MF_EINVAL, MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_model_clone(const mf_model *m, mf_model **ret);

/** The metadata value of key (borrowed until the next set on m), or NULL. */
const char *mf_model_get_meta(const mf_model *m, const char *key);

/**
 * Sets (adds or replaces) a metadata entry; both strings are copied.  Keys
 * and values must be valid UTF-8 and the key non-empty.  Special keys:
 *   data_offset, data_scale  must parse as finite numbers (scale > 0); the
 *                            doubles in m follow;
 *   schedule                 must pass mf_schedule_init; m->sched is rebuilt;
 *   format, data_dim, cond_dim, hidden, activation, time_embedding,
 *   prediction               describe the network and cannot change: MF_EINVAL
 *                            unless the value equals the current one.
 * Errors: MF_EINVAL, MF_EFORMAT / MF_ERANGE (schedule), MF_ENOMEM; on error m
 * is unchanged.
 */
MF_MUST_CHECK mf_err mf_model_set_meta(mf_model *m, const char *key, const char *val,
                                       mf_diag *diag);

/**
 * Sets "created" to t as an ISO 8601 UTC time ("2026-11-22T12:00:00Z"), the
 * one format every model producer writes.  Errors: those of mf_model_set_meta.
 */
MF_MUST_CHECK mf_err mf_model_set_created(mf_model *m, time_t t, mf_diag *diag);

/**
 * Sets data_offset and data_scale, in m and in the metadata (written with
 * "%.17g", so they round-trip exactly).  Errors: MF_EINVAL (not finite, scale
 * <= 0), MF_ENOMEM; on error m is unchanged.
 */
MF_MUST_CHECK mf_err mf_model_set_normalisation(mf_model *m, double offset, double scale);

/** x (n values) from model space to data space: x_data = x * data_scale + data_offset. */
void mf_model_to_data(const mf_model *m, float *x, size_t n);

/** x (n values) from data space to model space: x_model = (x - data_offset) / data_scale. */
void mf_model_from_data(const mf_model *m, float *x, size_t n);

/**
 * Parses and validates a model file held in memory (nothing of buf is kept).
 * Errors: MF_EINVAL (NULL arguments), MF_EFORMAT (anything wrong with the
 * file, named in diag), MF_ENOMEM.  *ret is written only on success.
 */
MF_MUST_CHECK mf_err mf_model_load_buffer(const uint8_t *buf, size_t len, mf_model **ret,
                                          mf_diag *diag);

/**
 * Reads path (at most max_bytes bytes) and loads it as mf_model_load_buffer.
 * Errors: MF_EIO (open/read failure; diag has strerror), MF_ERANGE (file
 * larger than max_bytes), and those of mf_model_load_buffer.
 */
MF_MUST_CHECK mf_err mf_model_load_file(const char *path, size_t max_bytes, mf_model **ret,
                                        mf_diag *diag);

/**
 * Serialises m: tensors in layer order (layers.0.weight, layers.0.bias,
 * ...), metadata in m's order.  *ret_buf is malloc'd (free()); both outputs
 * are written only on success.  Errors: MF_EINVAL (NULL arguments, non-finite
 * parameters, metadata that is not valid UTF-8), MF_ERANGE, MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_model_to_buffer(const mf_model *m, uint8_t **ret_buf, size_t *ret_len);

/**
 * Writes m to path atomically: a temporary file in the same directory is
 * written, fsync'd and renamed over path, then the directory is fsync'd, so
 * path holds either the old or the new file, never a mix.  The file gets
 * mode 0644.  Errors: those of mf_model_to_buffer, MF_EIO (diag has the
 * failing step and strerror); no temporary file is left behind on error.
 */
MF_MUST_CHECK mf_err mf_model_save_file(const mf_model *m, const char *path, mf_diag *diag);

#endif /* MF_MODEL_FILE_H */
