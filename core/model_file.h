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
 *   time_embedding  sinusoidal:E         prediction  eps | potential
 *   schedule        linear:0.0001:0.02:1000 (any mf_schedule_init spec)
 *   data_offset     finite number        data_scale  finite number > 0
 *   dataset, parent, created, provenance and any other key: optional, kept.
 * prediction eps: the last layer is [D, H_k] and predicts the noise; potential: it is
 * [1, H_k], a scalar g with eps = -grad_x g (core/potential.h).
 *
 * Reward-conditioned models (core/guidance.h, core/rcgd.h) add, validated when
 * present:
 *   condition       reward: the model is conditioned on a target reward a,
 *                   c_0 = (a - cond_offset) / cond_scale; then required:
 *   cond_offset     finite number        cond_scale  finite number > 0
 *   cond_null       indicator: C = 2, condition [c_0, 1], null condition [0, 0]
 *                   (classifier-free guidance); none: C = 1, condition [c_0]
 *   pseudo_label_noise  nu >= 0 (optional)   guidance  cond | cfg | reward
 *   guidance_w      finite (optional)        p_uncond  in [0, 1) (optional)
 * and a reward model f(x) on DATA space (core/reward.h), described by
 *   reward_model    ridge | mlp          reward_hidden  "64,64" (mlp only)
 * with its tensors, validated like the network's: ridge reward.weight [D] and
 * reward.bias [1]; mlp reward.layers.{i}.weight [out, in] and
 * reward.layers.{i}.bias [out], the last layer's out = 1.  condition, cond_*,
 * reward_model and reward_hidden are set through mf_model_set_cond and
 * mf_model_set_reward only, so metadata and tensors cannot disagree;
 * mf_model_set_meta checks the optional keys as the loader does.
 *
 * A DxMI result (core/model_dxmi.h) adds its few-step sampler (var.* tensors,
 * metadata sampler and var_schedule) and its energy and value networks
 * (energy.* and value.* tensors, metadata energy_hidden, value_hidden,
 * value_emb and energy_quantiles), validated the same way and set through
 * mf_model_set_var and mf_model_set_energy only.
 *
 * Loading validates all of it (strict integers, widths and depth from mlp.h,
 * every declared size against the file's tensors and mf_model_limits before
 * anything is allocated, finite weights) and answers MF_EFORMAT with
 * diag->msg naming the problem and diag->field the tensor or
 * "__metadata__/<key>".  Saving is atomic.
 *
 * Threading: an mf_model is a plain object; concurrent readers are fine,
 * writers (set_meta, set_normalisation, params) need exclusive access.
 */
#ifndef MF_MODEL_FILE_H
#define MF_MODEL_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"
#include "mlp.h"
#include "reward.h"
#include "schedule.h"

#define MF_MODEL_FORMAT "manifold.mlp-ddpm.v1"

/* How the null condition of classifier-free guidance is written (metadata cond_null). */
typedef enum mf_cond_null {
    MF_COND_NULL_NONE = 0,      /* "none": C = 1, no null condition */
    MF_COND_NULL_INDICATOR = 1, /* "indicator": C = 2, [c_0, 1]; null [0, 0] */
} mf_cond_null;

/* How a target reward becomes a reward-conditioned model's condition. */
typedef struct mf_model_cond {
    double offset; /* c_0 = (a - offset) / scale */
    double scale;  /* > 0 */
    mf_cond_null null_kind;
} mf_model_cond;

/* The DxMI parts of a model (model_dxmi.h). */
typedef struct mf_model_dxmi mf_model_dxmi;

typedef struct mf_model {
    mf_mlp *net;        /* owned */
    mf_schedule sched;  /* owned arrays; built from the "schedule" metadata */
    double data_offset; /* x_model = (x_data - data_offset) / data_scale */
    double data_scale;  /* > 0 */
    bool has_cond;      /* metadata condition = reward: cond is valid */
    mf_model_cond cond;
    mf_reward_model *reward;  /* owned; NULL when the file has none */
    mf_model_dxmi *dxmi;      /* owned; NULL when the file has no DxMI parts */
    struct mf_bf16_net *bf16; /* owned; NULL: none made.  net's bf16 layers, made once
                                 (mf_model_make_bf16) for a model that no longer changes */
    size_t n_meta;
    char **meta_keys; /* owned, n_meta each, in file order */
    char **meta_vals;
} mf_model;

/**
 * A new model with all parameters zero and the architecture metadata filled
 * in (format, data_dim, cond_dim, hidden, activation=silu,
 * time_embedding=sinusoidal:E, prediction=eps (potential for cfg out_dim 1), schedule,
 * data_offset=0, data_scale=1).  Errors: MF_EINVAL (cfg fails mf_mlp_config_check, NULL arguments),
 * MF_EFORMAT / MF_ERANGE (schedule_spec rejected by mf_schedule_init), MF_ENOMEM.  *ret is written
 * only on success; free with mf_model_free.
 */
MF_MUST_CHECK mf_err mf_model_new(const mf_mlp_config *cfg, const char *schedule_spec,
                                  mf_model **ret, mf_diag *diag);

/**
 * Converts m's network to bf16 layers once (bf16_net.h), kept in m->bf16, which every
 * bf16 sampling call then uses through its options (mf_sampler_opts.bf16) instead of
 * converting the weights itself: for a model whose weights no longer change (the
 * daemon's registered models), before it is shared between threads.  Nothing is made
 * where bf16 sampling cannot run (mf_precision_effective: another CPU, a conditional
 * network, a potential).  Errors: those of mf_bf16_net_new (m stays usable in f32, and
 * in bf16 converted per call).
 */
MF_MUST_CHECK mf_err mf_model_make_bf16(mf_model *m);

/** Frees a model and everything it owns; accepts NULL and half-built models. */
void mf_model_free(mf_model *m);

/**
 * A deep copy (own parameter block, schedule and metadata), e.g. a
 * checkpoint.  Errors: MF_EINVAL, MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_model_clone(const mf_model *m, mf_model **ret);

/* The figure a training run measures of its model: its held-out DSM loss. */
#define MF_MODEL_HELDOUT_LOSS_KEY "heldout_dsm_loss"

/**
 * The start of a fine-tuned child of parent: mf_model_clone without the
 * parent's own figures and fine-tuning records, which would read as the
 * child's (heldout_dsm_loss; smeme, smeme_iterations; dxmi, dxmi_iterations,
 * dxmi_s2; finetune_reward).  What the child needs to run (architecture,
 * schedule, normalisation, dataset, condition, reward and DxMI parts) is
 * kept; the parent's figures stay with the parent (the child's "parent"
 * link).  Errors: MF_EINVAL, MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_model_derive(const mf_model *parent, mf_model **ret);

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
 * Sets data_offset and data_scale, in m and in the metadata (written as the
 * shortest text that round-trips exactly, core/numfmt.h).  Errors: MF_EINVAL (not finite, scale
 * <= 0), MF_ENOMEM; on error m is unchanged.
 */
MF_MUST_CHECK mf_err mf_model_set_normalisation(mf_model *m, double offset, double scale);

/** The condition width C of a null-condition convention: 1 (none) or 2 (indicator). */
size_t mf_model_cond_width(mf_cond_null kind);

/** "none", "indicator". */
const char *mf_model_cond_null_name(mf_cond_null kind);

/**
 * Makes m a reward-conditioned model with condition c: sets has_cond, cond and the
 * metadata condition, cond_offset, cond_scale (shortest round-trip text) and cond_null.  Errors:
 * MF_EINVAL (offset or scale not finite, scale <= 0, an unknown null_kind, or a width
 * other than m's cond_dim; named in diag; m unchanged), MF_ENOMEM (some cond_* keys may
 * be written, but not "condition": m is still unconditioned, in memory and in a file).
 */
MF_MUST_CHECK mf_err mf_model_set_cond(mf_model *m, const mf_model_cond *c, mf_diag *diag);

/**
 * Attaches a copy of the reward model r (its input width must be m's D) and sets the
 * metadata reward_model and, for an mlp, reward_hidden.  Errors: MF_EINVAL (NULL, other
 * D, non-finite parameters), MF_ENOMEM; on error m keeps its reward model (reward_hidden
 * may already be written, which only an mlp reward model reads).
 */
MF_MUST_CHECK mf_err mf_model_set_reward(mf_model *m, const mf_reward_model *r, mf_diag *diag);

/**
 * A new model whose network is parent's with cond_dim C condition inputs added
 * (mf_mlp_new_cond_from: zero weights, so it computes exactly parent's eps for every
 * condition), with parent's schedule, normalisation and "dataset" (other metadata is
 * the caller's to set: parent id, created, provenance).  Errors: MF_EINVAL (parent
 * NULL or conditional, C 0 or too wide), MF_ENOMEM.  *ret only on success.
 */
MF_MUST_CHECK mf_err mf_model_new_cond_from(const mf_model *parent, uint32_t cond_dim,
                                            mf_model **ret, mf_diag *diag);

/** x (n values) from model space to data space: x_data = x * data_scale + data_offset. */
void mf_model_to_data(const mf_model *m, float *x, size_t n);

/** x (n values) from data space to model space: x_model = (x - data_offset) / data_scale. */
void mf_model_from_data(const mf_model *m, float *x, size_t n);

/*
 * What a model file may make the loader allocate.  The loader reads every size the file
 * declares (the network's widths and depth, the reward, energy and value networks', the
 * short chain's steps) into layouts, sums their parameters with overflow checks against
 * max_params, and checks that every tensor they call for is in the file with exactly its
 * shape, all before it allocates a network (model_load.c).  So a file never makes it
 * allocate more floats than its own tensors hold, nor more than max_params.  Widths and
 * depths are bounded further by mlp.h and reward.h (MF_MLP_MAX_WIDTH, ...).
 */
typedef struct mf_model_limits {
    size_t max_params; /* parameters of all the file's networks together (MF_MODEL_MAX_PARAMS) */
} mf_model_limits;

/* 16 million parameters: 64 MB of float32 weights, which fits the daemon's default 64 MiB
 * upload, and 25 times the largest shipped model (digits: 624,192). */
#define MF_MODEL_MAX_PARAMS 16000000

/** The default limits: max_params MF_MODEL_MAX_PARAMS. */
mf_model_limits mf_model_limits_default(void);

/**
 * Parses and validates a model file held in memory (nothing of buf is kept),
 * within lim (NULL: mf_model_limits_default).  Nothing is allocated by a size
 * the file declares before the checks of mf_model_limits pass.
 * Errors: MF_EINVAL (NULL arguments), MF_EFORMAT (anything wrong with the
 * file, or over lim, named in diag: the tensor, or the metadata key of the
 * largest network with the limit in the message), MF_ENOMEM.  *ret is
 * written only on success.
 */
MF_MUST_CHECK mf_err mf_model_load_buffer_limited(const uint8_t *buf, size_t len,
                                                  const mf_model_limits *lim, mf_model **ret,
                                                  mf_diag *diag);

/** mf_model_load_buffer_limited with the default limits. */
MF_MUST_CHECK mf_err mf_model_load_buffer(const uint8_t *buf, size_t len, mf_model **ret,
                                          mf_diag *diag);

/**
 * Reads path (at most max_bytes bytes) and loads it as mf_model_load_buffer_limited.
 * Errors: MF_EIO (open/read failure; diag has strerror), MF_ERANGE (file
 * larger than max_bytes), and those of mf_model_load_buffer_limited.
 */
MF_MUST_CHECK mf_err mf_model_load_file_limited(const char *path, size_t max_bytes,
                                                const mf_model_limits *lim, mf_model **ret,
                                                mf_diag *diag);

/** mf_model_load_file_limited with the default limits. */
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
