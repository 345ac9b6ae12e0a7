/* SPDX-License-Identifier: MIT */
/*
 * train_params.h - the parameters of a training run on a built-in data set
 * or on a table (an uploaded data set, table.h), and the ONE mapping from
 * them to core's objects: the model (architecture,
 * schedule, initial weights, normalisation), the trainer's options, the
 * batch of each step and the metadata of the finished model.
 *
 * `manifold-train train` fills an mf_train_params from its flags (built-in
 * sets only), the daemon's train job from its request (a built-in set or an
 * uploaded table); both start from
 * mf_train_params_default, so the defaults live here and nowhere else.  A run:
 *
 *     mf_train_params_begin(&p, &model, &tr, &diag);
 *     for (size_t k = 0; k < p.steps; k++) {
 *         mf_train_params_batch(&p, model, k, x);     x: (p.batch, D)
 *         mf_trainer_step(tr, x, NULL, &loss, NULL);  or mf_par_train_step
 *     }
 *     mf_train_params_finish(&p, model, tr, provenance, time(NULL), &diag);
 *     mf_trainer_free(tr);                            then save or register model
 *
 * Threading: every function is reentrant and touches only its arguments.
 */
#ifndef MF_TRAIN_PARAMS_H
#define MF_TRAIN_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "dataset.h"
#include "err.h"
#include "mlp.h"
#include "model_file.h"
#include "table.h"
#include "train.h"

/*
 * Gradient shards of every training step (mf_train_opts.n_shards), capped at
 * the batch: a constant, not the thread count, so the arithmetic of a step is
 * the same whoever runs it.  server/par.c's mf_par_train_step hands the shards
 * to the team with mf_par_for, which claims them from a shared counter, so any
 * team size works with any S (S > team: a thread takes several shards in
 * turn; S < team: threads idle in the shard phase, most of a step).
 *
 * Measured with manifold-train train on this 2-core VM (OpenBLAS Haswell
 * kernels; shared with other jobs, so each run waited for an idle machine and
 * the table has the best of 5 interleaved runs; medians are within 6 %),
 * steps/s:
 *
 *                            S = 1    S = 2    S = 4    S = 8
 *   two_moons  --threads 1    281      268      263      258
 *   two_moons  --threads 2    293      438      450      419
 *   digits     --threads 1    136      121      117       97
 *   digits     --threads 2    148      220      204      172
 *
 * two_moons: hidden 256,256,256, batch 512, 600 steps; digits: the command of
 * models/README.md (hidden 512,512,512, batch 256, dequantised), 300 steps.
 * Two threads need S >= 2 (S = 1, the daemon's train job before this, runs
 * the shard phase on one thread: 1.5x slower); more shards than threads cost
 * smaller GEMMs (digits: -7 % at S = 4, -22 % at S = 8), as does S = 2 on
 * one thread (-5 %, -11 %).  S = 2 is the fastest on the 2-core machines
 * Manifold targets; a larger team leaves threads idle in the shard phase
 * (raise S with the cores, re-measuring).
 *
 * Results: the saved weights were byte-identical between --threads 1 and 2 at
 * every S (two_moons 2,000 steps, digits 1,000), and between every pair of S
 * too: OpenBLAS's sgemm gives each row the same sums whatever the number of
 * rows in the call, and the parameter gradients are one GEMM over the whole
 * batch whatever S.  The fixed S makes the independence from the thread count
 * hold by construction for the forward and backward of the rows (the same
 * calls on the same rows whoever runs them); the parameter-gradient phase is
 * still split by the team (mf_trainer_grad_part: one part per thread), and its
 * squared norms for the clip are added in another order for another team
 * size, a last-bit difference of the norm that changed no float clip factor in
 * any run measured.  The shipped models of models/ were trained with S = the
 * thread count (1 for the 2-D sets, 2 for digits): digits' command reproduces
 * models/digits.safetensors byte for byte with S = 2; two_moons' gives the
 * same weights with S = 2 as the tool with S = 1 did, both 3e-3 away from
 * models/two_moons.safetensors, which an older tool wrote (it has no
 * "dequantised" metadata).
 */
#define MF_TRAIN_SHARDS 2

/* The network a run trains. */
typedef enum mf_train_arch {
    MF_TRAIN_EPS = 0,       /* out_dim D: eps(x, t) */
    MF_TRAIN_POTENTIAL = 1, /* out_dim 1: g(x, t), eps = -grad_x g */
} mf_train_arch;

/* "eps", "potential", NULL. */
extern const char *const mf_train_arch_names[];

/*
 * A training run.  Ranges are what mf_train_params_check accepts; the
 * defaults are mf_train_params_default's.
 */
typedef struct mf_train_params {
    mf_dataset_id dataset;              /* a built-in data set (MF_DATASET_GAUSSIAN: a valid
                                           placeholder; both front ends require one); unused
                                           with a table */
    const mf_table *table;              /* NULL: the built-in set; else the rows to train on
                                           (borrowed for the whole run): D is its columns, the
                                           batches its rows (mf_table_train_batch) (NULL) */
    const char *table_name;             /* with a table: the "dataset" metadata of the model,
                                           non-empty UTF-8 (borrowed) (NULL) */
    uint32_t hidden[MF_MLP_MAX_HIDDEN]; /* hidden widths, 1..MF_MLP_MAX_WIDTH (256,256,256) */
    size_t n_hidden;                    /* 1..MF_MLP_MAX_HIDDEN (3) */
    size_t emb;                         /* time-embedding width E, even, 2..MF_MLP_MAX_WIDTH (64) */
    char schedule[64];                  /* noise schedule, mf_schedule_init's syntax
                                           ("linear:0.0001:0.02:1000") */
    size_t steps;                       /* optimiser steps, >= 1 (20000) */
    size_t batch;                       /* rows per step, >= 1 (512) */
    size_t warmup;                      /* linear warm-up steps, any (500) */
    double lr;                          /* peak learning rate, (0, 1] (1e-3) */
    double lr_min;                      /* final learning rate of the cosine decay, [0, 1] (1e-5) */
    double ema;                         /* EMA decay of the saved weights, [0, 0.999999],
                                           0 = off: the last weights (0.999) */
    double clip;                        /* gradient-norm clip, [0, 1e9], 0 = off (1) */
    uint64_t seed;                      /* initialisation, data and noise, any (0) */
    bool dequantise;                    /* train on pixels + U(-1/2, 1/2), so the model's
                                           likelihood bounds bits/dim; digits only (false) */
    double data_offset;                 /* x_model = (x - offset) / scale, finite; NAN = the
                                           data set's own (mf_dataset_norm, mf_table_norm)
                                           (NAN) */
    double data_scale;                  /* finite, > 0; NAN = the data set's own (NAN) */
    size_t n_train;                     /* 0: fresh points every step (the generated sets'
                                           stream); N: a fixed training set of the stream's
                                           first N points, each batch drawn from them with
                                           replacement (generated sets only; 0..1e9) (0) */
    mf_train_arch architecture;         /* eps: the network predicts the noise; potential: a
                                           scalar whose gradient is the score (potential.h)
                                           (eps) */
    mf_hjb_opts hjb;                    /* the HJB regulariser, potential only (off;
                                           mf_hjb_opts_default's settings) */
} mf_train_params;

/**
 * The defaults: gaussian (no table), hidden 256,256,256, E 64, linear:0.0001:0.02:1000,
 * 20,000 steps of batch 512, lr 1e-3 with 500 warm-up steps and cosine decay to
 * 1e-5, EMA 0.999, clip 1, seed 0, no dequantisation, the data set's own
 * normalisation.  (Adam's betas and epsilon are mf_train_opts_default's.)
 */
void mf_train_params_default(mf_train_params *p);

/**
 * Checks every field against the ranges above and the combinations: the
 * network configuration (mf_mlp_config_check), the schedule parses,
 * dequantise only for digits (never with a table), a table has a name and
 * at most MF_MLP_MAX_WIDTH columns, batch x D does not overflow.  On failure diag
 * (may be NULL) gets a message naming the field and, in diag->field, the
 * field's name as in the struct ("hidden", "emb", "lr_min", ...; the caller
 * maps it to its own spelling: a flag, a JSON pointer).
 * Errors: MF_EINVAL (a field out of range, p NULL), MF_EFORMAT / MF_ERANGE (the
 * schedule, from mf_schedule_init), MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_train_params_check(const mf_train_params *p, mf_diag *diag);

/**
 * The start of a run: a new model (D from the data set or the table, C = 0,
 * the hidden widths, E and schedule of p; weights from
 * mf_mlp_init_params(seed); the normalisation of p or the data set's or
 * table's, rounded to float as the batches use it) and its trainer (mf_train_opts_default with p's
 * batch, steps, lr, lr_min, warmup, ema, clip and seed, and MF_TRAIN_SHARDS shards, at most batch).
 * The trainer borrows *ret_model's network: free the trainer first. Errors: those of
 * mf_train_params_check (p is checked first), MF_ENOMEM; outputs are written only on success.
 */
MF_MUST_CHECK mf_err mf_train_params_begin(const mf_train_params *p, mf_model **ret_model,
                                           mf_trainer **ret_tr, mf_diag *diag);

/**
 * The trainer's options for p, the one mapping begin uses: mf_train_opts_default with
 * p's batch, steps, lr, lr_min, warmup, ema, clip and seed, and MF_TRAIN_SHARDS
 * shards (at most batch).  For runs that build their own model from these settings
 * (core/rcgd.h).
 */
mf_train_opts mf_train_params_trainer_opts(const mf_train_params *p);

/**
 * The clean batch of step `step` in model space: mf_dataset_train_batch with
 * p's data set, seed, batch and dequantise, or mf_table_train_batch with p's
 * table, seed and batch, and m's normalisation.  x: (p->batch, D).  Errors:
 * those of mf_dataset_train_batch or mf_table_train_batch.
 */
MF_MUST_CHECK mf_err mf_train_params_batch(const mf_train_params *p, const mf_model *m, size_t step,
                                           float *x);

/**
 * The held-out points of p's built-in data set in m's model space, for the
 * held-out DSM loss (mf_dsm_loss): the digits' held-out images, else
 * MF_TRAIN_HELDOUT_N points of the set's held-out stream.  *ret_n gets
 * their count.  NULL for a table (an upload has no held-out split) or when
 * out of memory; free with mf_free_aligned.
 */
#define MF_TRAIN_HELDOUT_N 4096
float *mf_train_params_heldout(const mf_train_params *p, const mf_model *m, size_t *ret_n);

/* The seed of the held-out DSM loss's timesteps and noise (mf_dsm_loss): fixed, so the
 * figures of every run and every report compare. */
#define MF_TRAIN_HELDOUT_SEED 12345

/**
 * The end of a run: copies the trainer's EMA weights (the live ones without
 * EMA) into m and sets the metadata every trained model carries besides the
 * architecture and the normalisation (both set by begin): dataset (its
 * name, or table_name), parent "", dequantised ("true" or "false"), created (ISO 8601 of
 * `created`), provenance (copied) and, when heldout_loss is finite, the model's
 * figure heldout_dsm_loss (its held-out DSM loss at the end, to 6 significant
 * digits; mf_model_derive leaves it out of a fine-tuned child).  tr must not
 * step again (its network is m's).  Errors: MF_EINVAL (provenance NULL or
 * not UTF-8, named in diag), MF_ENOMEM; on error m's weights may already be
 * the EMA's.
 */
MF_MUST_CHECK mf_err mf_train_params_finish(const mf_train_params *p, mf_model *m,
                                            const mf_trainer *tr, double heldout_loss,
                                            const char *provenance, time_t created, mf_diag *diag);

#endif /* MF_TRAIN_PARAMS_H */
