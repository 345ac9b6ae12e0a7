/* SPDX-License-Identifier: MIT */
/*
 * sample_codec.h - the params of a "sample" job: the fields of a POST
 * /v1/samples body without "model" (the job names it), decoded into an
 * mf_sample_req.  The field table is shared with POST /v1/samples
 * (request_json.c), so both read the same way.
 */
#ifndef MF_SAMPLE_CODEC_H
#define MF_SAMPLE_CODEC_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "guidance.h"
#include "job_codec.h"
#include "mlp.h"
#include "sampler.h"

/*
 * POST /v1/samples body, and the params of a "sample" job (then without
 * "model", and the model comes from the job):
 *   model    string id (required for /v1/samples, forbidden inside params)
 *   n        integer 1..max_n (required)
 *   sampler  "ddpm" | "ddim" | "ode" | "var" (default: the model's own, "var" for a DxMI
 *            model that carries a short chain and is not steered, else "ddpm"; the
 *            server resolves it; "var" only on such a model)
 *   steps    integer 1..max_steps (default 0 = the server picks: T for ddpm, the chain's
 *            T for var (no other value allowed), 100 otherwise)
 *   eta      number 0..1 (default 0; only meaningful for ddim, allowed for any)
 *   seed     integer 0..2^53 (default: none given, the server draws one and reports it)
 *   metrics  boolean (default true): compute the sample metrics
 *   precision "f32" | "bf16" (default: the daemon's --precision, bf16 unless set): the
 *            network's arithmetic; bf16 runs only where core allows it (a CPU with bf16
 *            instructions, an unconditional eps network, no guidance), else f32, and the
 *            result says so
 * and for a conditional model (a reward-conditioned one: finetune.reward), one of
 *   target    number, |a| <= 1e6: the reward to steer to; the model's metadata
 *             turns it into the network's condition input
 *   condition array of 1..MF_SAMPLE_MAX_COND numbers, |c| <= 1e6: the raw condition
 *             input (as many as the model's cond_dim; the server checks)
 * with, optionally,
 *   guidance  {"mode": "cond" | "cfg" | "reward", "w": number 0..1000 (default 1)}:
 *             plain conditioning (the default), classifier-free guidance (a model
 *             trained with label dropout), or reward-gradient guidance (a model
 *             that carries its reward model; needs "target")
 * target and condition together, or reward guidance without a target, are 422
 * "impossible"; what the model supports is the server's to check.
 */
#define MF_SAMPLE_MAX_COND 16

typedef struct mf_sample_req {
    char model[MF_REQ_ID_MAX + 1];
    size_t n;
    bool has_sampler; /* given (or resolved by the server); else the model's default */
    mf_sampler_kind sampler;
    size_t steps; /* 0 = default */
    double eta;
    bool has_seed;
    uint64_t seed;
    bool metrics;
    bool has_precision;     /* given (or resolved by the server: the daemon's default) */
    mf_precision precision; /* after resolving: what runs (mf_precision_effective) */
    mf_precision precision_asked; /* after resolving: what was asked */
    bool has_target;
    double target;
    size_t n_condition; /* 0: no "condition" */
    double condition[MF_SAMPLE_MAX_COND];
    bool has_guidance;
    mf_guide_mode guidance; /* core/guidance.h: cond, cfg, reward */
    double guidance_w;
} mf_sample_req;

extern const mf_job_codec mf_sample_codec;

/**
 * The fields of a sampling request in object o at pointer prefix: a
 * /v1/samples body (with_model) or a sample job's params (no "model").
 * Errors as request_json.h.
 */
MF_MUST_CHECK mf_err mf_req_decode_sample_fields(json_t *o, const char *prefix, bool with_model,
                                                 const mf_req_limits *lim, mf_sample_req *r,
                                                 mf_diag *d);

/**
 * The canonical params JSON of a sample request (compact, sorted keys; steps
 * and seed only when set; no model): what mf_req_decode_job stores, and what
 * the server stores again once it has resolved steps and seed.  malloc'd, or
 * NULL when out of memory.
 */
char *mf_req_sample_params_json(const mf_sample_req *r);

/**
 * A sample job's budget (job_budget.h) on a model of configuration cfg, run in chunks of
 * chunk_rows rows, each row taking evals network evaluations (steps, and two per step
 * with guidance): the samples' memory (/params/n), a chunk's activations (/model) and
 * the evaluations' compute (/params/n).  Errors: MF_EINVAL, code impossible (422).
 */
MF_MUST_CHECK mf_err mf_sample_check_budget(const mf_sample_req *q, const mf_mlp_config *cfg,
                                            double evals, size_t chunk_rows,
                                            const mf_req_limits *lim, double *ret_flops, mf_diag *d);

#endif /* MF_SAMPLE_CODEC_H */
