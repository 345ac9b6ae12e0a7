/* SPDX-License-Identifier: MIT */
/*
 * smeme_codec.h - the params of a "finetune.smeme" job (ALGORITHMS.md,
 * finetune.smeme): K iterations of mirror descent on the entropy of the job's
 * model (the parent), each an Adjoint Matching fine-tune against the reward
 * r/alpha_k; the result is a new model.  Every param is optional.  Decoded
 * in this order, K before alpha whatever the order of the keys.  alpha given
 * as a list whose length is not K (K given or the default 2) is 422
 * "impossible" on /params/alpha; a list of 0 or more than MF_SMEME_REQ_MAX_K
 * numbers is 400 out_of_range.  A default above the server's limit gives way
 * to the limit (steps, n_metric_samples); a limit below a lower bound
 * (max_steps < 2, max_n < 100) makes every finetune.smeme job 422
 * "impossible" on that field.  After decoding alpha[K..MF_SMEME_REQ_MAX_K)
 * is 0, so two decodings of the same params compare equal field by field.
 */
#ifndef MF_SMEME_CODEC_H
#define MF_SMEME_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "job_codec.h"
#include "mlp.h"

#define MF_SMEME_REQ_MAX_K 16

typedef struct mf_smeme_req {
    size_t K; /* iterations, 1..MF_SMEME_REQ_MAX_K (default 2) */
    /* "alpha": one number (used for every iteration) or a list of exactly K
     * numbers; each finite, > 1 and <= 100 (default 2) */
    double alpha[MF_SMEME_REQ_MAX_K];
    size_t tau_r;            /* reward timestep, 0..999 (default 10); the daemon checks it
                                against the model's T */
    size_t steps;            /* grid steps N of the memoryless sampler, 2..lim->max_steps
                                (default 100, capped at lim->max_steps) */
    size_t trajectories;     /* m per round, 1..1024 (default 64) */
    size_t batch;            /* B pairs per Adam step, 1..16384 (default 2048) */
    double lr;               /* (0, 1] (default 4e-4) */
    size_t rounds;           /* Adjoint Matching rounds per iteration, 1..100000 (default 200) */
    size_t inner_steps;      /* Adam steps per round, 1..100 (default 2) */
    double clip_reward;      /* norm clip of the terminal adjoint, 0 = none, 0..1e6 (default 2.5) */
    double clip_grad;        /* gradient-norm clip, 0 = none, 0..1e6 (default 1) */
    double clip_loss;        /* per-pair loss clip, 0 = none, 0..1e12 (default 0) */
    uint64_t seed;           /* 0..2^53 (default 0) */
    size_t n_metric_samples; /* samples drawn after each iteration for its metrics,
                                100..lim->max_n (default 2000, capped at lim->max_n) */
    char out_model[MF_REQ_ID_MAX + 1]; /* "" = the daemon names it */
    /* keep_iterations (default false): also publish the model of every
     * iteration k = 1 .. K-1 as "<final id>-it<k>" (MF_SMEME_KEPT_SUFFIX), the
     * final id being out_model or the one the daemon chose; the final model is
     * iteration K's, as without it (no "-it<K>" copy), so a job keeps K models
     * in all.  Parents chain: it1's is the job's model, it<k>'s is it<k-1>, the
     * final's it<K-1>.  Each has the final model's metadata (smeme settings,
     * smeme_iterations = k, provenance naming the job and the iteration, the
     * job's owner); each iteration's metrics event names it ("model").  A
     * cancelled job keeps what it published.  With out_model given, an id
     * longer than an id allows once suffixed is 422 "impossible" on
     * /params/out_model. */
    bool keep_iterations;
} mf_smeme_req;

/* What the id of a kept iteration's model adds to the final model's: "-it<k>". */
#define MF_SMEME_KEPT_SUFFIX "-it"

extern const mf_job_codec mf_smeme_codec;

/**
 * The characters the kept models' ids add to the final id at most: those of
 * "-it<K-1>" when q keeps its iterations and K > 1, else 0.
 */
size_t mf_smeme_kept_room(const mf_smeme_req *q);

/**
 * The id of the model kept after iteration k of the job whose final model is
 * final_id, "<final_id>-it<k>", into out; false (out "") when longer than an
 * id allows.
 */
bool mf_smeme_kept_id(const char *final_id, size_t k, char out[MF_REQ_ID_MAX + 1]);

/**
 * The job's budget (job_budget.h) on a parent of configuration parent, checked when the
 * daemon prepares the job: the model's parameters (/model), the memory of the networks
 * and Adam (/model), of each round's trajectories (/params/trajectories), of a batch
 * (/params/batch) and of the evaluations (/params/n_metric_samples), the compute of the
 * rounds (/params/rounds) and evaluations.  Errors: MF_EINVAL, code impossible (422).
 */
MF_MUST_CHECK mf_err mf_smeme_check_budget(const mf_smeme_req *q, const mf_mlp_config *parent,
                                           const mf_req_limits *lim, double *ret_flops, mf_diag *d);

#endif /* MF_SMEME_CODEC_H */
