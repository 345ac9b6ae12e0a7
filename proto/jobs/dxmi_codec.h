/* SPDX-License-Identifier: MIT */
/*
 * dxmi_codec.h - the params of a "finetune.dxmi" job (ALGORITHMS.md,
 * finetune.dxmi; reference/other-seeds.md §2.9): distil the model into a
 * T-step sampler by maximum-entropy IRL against an energy model trained
 * with it (core/dxmi.h).  "model" (required) is the DDPM parent.  Every
 * param is optional; the defaults are core's (mf_dxmi_opts_default: the
 * reference run F with the authors' schedule), but those marked "by model"
 * the daemon fills in at submit from core's recipe for the data's dimension
 * (mf_dxmi_opts_for_dim: up to 8 dimensions / above).
 *   steps          T, 2..64 (by model: 5 / 10)
 *   schedule       "code" (the authors' bounded search, default) | "matched"
 *   tau_entropy    0..10 (by model: 0.1 / 0.01)   tau_velocity  0..10 (0.01)
 *   gamma          0..100 (1)        adavelreg     0..0.9999 (0.99)
 *   lr_sampler     0..1 (by model: 1e-5 / 5e-7)   lr_sigma  0..1 (1e-4)
 *   lr_energy      0..1 (by model: 1e-4 / 3e-4)   lr_value  0..1 (1e-3)
 *   clip_sampler   0..1e6, 0 = none (0.1)   clip_energy  0..1e6 (0)
 *   batch          1..min(65536, max_batch) (by model: 512 / 128)
 *   iters          1..max_train_steps (by model: 4000 / 1200)
 *   warmup         iterations of energy and value only, 0..1e6 (200)
 *   n_generator    sampler steps per iteration, 1..64, at most steps (1)
 *   energy_hidden, value_hidden   1..4 widths 1..1024 (each [128, 128])
 *   value_emb      even, 2..256 (16)
 *   eval_every     iterations between evaluations, 1..1e6 (500)
 *   n_eval         samples per evaluation seed, 100..max_n (1000)
 *   dataset        a built-in name or an uploaded id (default: the model's
 *                  "dataset" metadata)
 *   seed           0..2^53 (0)
 *   out_model      the id of the model to create (default: the server names it)
 */
#ifndef MF_DXMI_CODEC_H
#define MF_DXMI_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "dxmi.h"
#include "job_codec.h"
#include "req_limits.h"

typedef struct mf_dxmi_req {
    mf_dxmi_opts o; /* core's options; o.seed is the job's seed */
    size_t iters;
    size_t eval_every;
    size_t n_eval;
    char dataset[MF_REQ_ID_MAX + 1]; /* "" = the model's */
    char out_model[MF_REQ_ID_MAX + 1];
} mf_dxmi_req;

extern const mf_job_codec mf_dxmi_codec;

/**
 * The job's budget (job_budget.h), checked when the daemon has prepared the job (the
 * settings "by model" filled in) on a parent of configuration parent and n_rows training
 * rows: the model's parameters (the eps-network, /model, with the energy and value
 * networks, /params/energy_hidden and /params/value_hidden), the memory of the networks,
 * of a batch's rollout (/params/batch), of the rows (/params/dataset) and of the
 * evaluations (/params/n_eval), the compute of the iterations (/params/iters) and of
 * the evaluations.  Errors: MF_EINVAL, code impossible (422).
 */
MF_MUST_CHECK mf_err mf_dxmi_check_budget(const mf_dxmi_req *q, const mf_mlp_config *parent,
                                          size_t n_rows, const mf_req_limits *lim, double *ret_flops, mf_diag *d);

#endif /* MF_DXMI_CODEC_H */
