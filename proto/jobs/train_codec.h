/* SPDX-License-Identifier: MIT */
/*
 * train_codec.h - the params of a "train" job: a new model trained from a
 * built-in data set or an uploaded dataset.  Every field but dataset is
 * optional.  The defaults are core's (core/train_params.h), the ranges the
 * API's:
 *   dataset   string, one of core/dataset.h's names or the id of an uploaded
 *             dataset (required; kept as given: the daemon resolves an
 *             uploaded one when it prepares the job)
 *   hidden    array of 1..MF_MLP_MAX_HIDDEN integers 1..MF_MLP_MAX_WIDTH (default [256,256,256])
 *   emb       even integer 2..MF_MLP_MAX_WIDTH (default 64)
 *   schedule  string, built by core's parser at submit (default "linear:0.0001:0.02:1000")
 *   steps     integer 1..max_train_steps (default 20000, or the limit when lower)
 *   batch     integer 1..max_batch (default 512, or the limit when lower)
 * and together within the daemon's budgets (mf_train_check_budget): the network's
 * parameters, the run's memory and compute estimates.
 *   lr        number in (0, 1] (default 1e-3)
 *   lr_min    number in [0, 1] (default 1e-5)
 *   warmup    integer 0..1e9 (default 500)
 *   ema       number in [0, 0.999999] (default 0.999)
 *   clip      number in [0, 1e9] (default 1)
 *   seed      integer 0..2^53 (default 0)
 *   dequantise boolean (default false; only for digits, else 422 "impossible" on
 *             /params/dequantise)
 *   out_model string id of the model to create (default: the server names it)
 * A train job takes no "model": it makes one.
 */
#ifndef MF_TRAIN_CODEC_H
#define MF_TRAIN_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "job_codec.h"
#include "train_params.h"

/* The params: core's training parameters (their defaults are core's,
 * mf_train_params_default) and the model's name. */
typedef struct mf_train_req {
    mf_train_params p;                 /* data_offset and data_scale: the data set's own (NAN);
                                          table: NULL (the daemon sets it for an upload) */
    char dataset[MF_REQ_ID_MAX + 1];   /* the name as given */
    bool builtin;                      /* dataset is a built-in set (p.dataset); else an upload */
    char out_model[MF_REQ_ID_MAX + 1]; /* "" = default */
} mf_train_req;

extern const mf_job_codec mf_train_codec;

/**
 * The job's budget (job_budget.h) on D-dimensional data: the network's parameters
 * (/params/hidden), its training memory (/params/hidden, /params/batch) and compute
 * (/params/steps).  The codec checks it for a built-in data set; the daemon for an
 * upload, once it knows its columns.  Errors: MF_EINVAL, code impossible (422).
 */
MF_MUST_CHECK mf_err mf_train_check_budget(const mf_train_req *r, size_t D,
                                           const mf_req_limits *lim, double *ret_flops, mf_diag *d);

#endif /* MF_TRAIN_CODEC_H */
