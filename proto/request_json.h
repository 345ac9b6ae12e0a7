/* SPDX-License-Identifier: MIT */
/*
 * request_json.h - decoding and validation of the request bodies of the HTTP
 * API (DESIGN.md, proto/openapi.yaml).  The only place their field names live.
 *
 * Every decoder trusts nothing: the body must be one JSON object (no
 * duplicate keys, depth at most MF_REQ_MAX_DEPTH), every field has the
 * right type and range, unknown fields are rejected, and on failure the
 * returned mf_req_error names the offending field as a JSON pointer
 * ("/params/steps", "/n", "" for the whole body) with a sentence a user can
 * act on.  What needs a model (steps <= the model's T, the compute budget)
 * is checked by the server, which knows the model; decoding knows the
 * static limits only (mf_req_limits).
 */
#ifndef MF_REQUEST_JSON_H
#define MF_REQUEST_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sampler.h"

#define MF_REQ_ID_MAX    64 /* ids: [a-z0-9][a-z0-9._-]{0,63} */
#define MF_REQ_MAX_DEPTH 8  /* nesting depth of a request body */

/** true when s is a valid id ([a-z0-9][a-z0-9._-]{0,63}; so never a path). */
bool mf_req_id_valid(const char *s);

/* The error of a rejected request. */
/* The HTTP status of a rejected request (DESIGN.md: 400 bad input, 422 valid
 * JSON but an impossible request). */
typedef enum mf_req_status {
    MF_REQ_OK = 0,
    MF_REQ_BAD = 400,        /* not JSON, not an object, too deep, duplicate key; a field
                                missing, mistyped, unknown or out of range */
    MF_REQ_IMPOSSIBLE = 422, /* every field fine alone, the combination impossible
                                (dequantise for a non-integer data set, an unsupported job type) */
    MF_REQ_INTERNAL = 500,   /* out of memory while decoding (code "internal"): not the
                                client's fault, so not a 400 */
} mf_req_status;

typedef struct mf_req_error {
    mf_req_status status;
    char code[32];      /* machine code: "bad_json", "missing_field", "wrong_type",
                           "out_of_range", "unknown_field", "bad_value", "unsupported_type",
                           "impossible", "internal" */
    char message[256];  /* one sentence, names the field and what is allowed */
    char field[128];    /* JSON pointer of the bad field; "" = the body itself */
} mf_req_error;

/* Static limits, from the daemon's configuration. */
typedef struct mf_req_limits {
    size_t max_n;         /* samples per request (default 10000) */
    size_t max_steps;     /* sampler steps (default 1000) */
    size_t max_train_steps; /* train job optimiser steps (default 200000) */
    size_t max_batch;     /* train job batch (default 4096) */
} mf_req_limits;

mf_req_limits mf_req_limits_default(void);

/*
 * POST /v1/samples body, and the params of a "sample" job (then without
 * "model", and the model comes from the job):
 *   model    string id (required for /v1/samples, forbidden inside params)
 *   n        integer 1..max_n (required)
 *   sampler  "ddpm" | "ddim" | "ode" (default "ddpm")
 *   steps    integer 1..max_steps (default 0 = the server picks: T for ddpm, 100 otherwise)
 *   eta      number 0..1 (default 0; only meaningful for ddim, allowed for any)
 *   seed     integer 0..2^53 (default: none given, the server draws one and reports it)
 *   metrics  boolean (default true): compute the sample metrics
 */
typedef struct mf_sample_req {
    char model[MF_REQ_ID_MAX + 1];
    size_t n;
    mf_sampler_kind sampler;
    size_t steps;     /* 0 = default */
    double eta;
    bool has_seed;
    uint64_t seed;
    bool metrics;
} mf_sample_req;

/**
 * Decodes a POST /v1/samples body (len bytes, need not be NUL-terminated).
 * Returns MF_REQ_OK and fills *ret, or the error status and fills *err
 * (*ret is then unspecified).
 */
mf_req_status mf_req_decode_samples(const char *body, size_t len, const mf_req_limits *lim,
                                    mf_sample_req *ret, mf_req_error *err);

/*
 * The params of a "train" job: a new model trained from a built-in data set.
 *   dataset   string, one of core/dataset.h's names (required)
 *   hidden    array of 1..MF_MLP_MAX_HIDDEN integers 1..MF_MLP_MAX_WIDTH (default [256,256,256])
 *   emb       even integer 2..MF_MLP_MAX_WIDTH (default 64)
 *   schedule  string, parsed by core (default "linear:0.0001:0.02:1000"; checked by the server)
 *   steps     integer 1..max_train_steps (default 20000)
 *   batch     integer 1..max_batch (default 512)
 *   lr        number in (0, 1] (default 1e-3)
 *   lr_min    number in [0, 1] (default 1e-5)
 *   warmup    integer 0..1e9 (default 500)
 *   ema       number in [0, 0.999999] (default 0.999)
 *   clip      number in [0, 1e9] (default 1)
 *   seed      integer 0..2^53 (default 0)
 *   dequantise boolean (default false; only for digits, else 422 "impossible" on /params/dequantise)
 *   out_model string id of the model to create (default: the server names it)
 */
typedef struct mf_train_req {
    char dataset[32];
    uint32_t hidden[8];
    size_t n_hidden;
    size_t emb;
    char schedule[64];
    size_t steps, batch, warmup;
    double lr, lr_min, ema, clip;
    uint64_t seed;
    bool dequantise;
    char out_model[MF_REQ_ID_MAX + 1]; /* "" = default */
} mf_train_req;

/*
 * The params of a "finetune.smeme" job (ALGORITHMS.md, finetune.smeme): K
 * iterations of mirror descent on the entropy of the job's model (the parent),
 * each an Adjoint Matching fine-tune against the reward r/alpha_k; the result
 * is a new model.  Every param is optional.  Decoded in this order, K before
 * alpha whatever the order of the keys.  alpha given as a list whose length is
 * not K (K given or the default 2) is 422 "impossible" on /params/alpha; a
 * list of 0 or more than MF_SMEME_REQ_MAX_K numbers is 400 out_of_range.  A
 * default above the server's limit gives way to the limit (steps,
 * n_metric_samples); a limit below a lower bound (max_steps < 2, max_n < 100)
 * makes every finetune.smeme job 422 "impossible" on that field.  After
 * decoding alpha[K..MF_SMEME_REQ_MAX_K) is 0, so two decodings of the same
 * params compare equal field by field.
 */
#define MF_SMEME_REQ_MAX_K 16
typedef struct mf_smeme_req {
    size_t K; /* iterations, 1..MF_SMEME_REQ_MAX_K (default 2) */
    /* "alpha": one number (used for every iteration) or a list of exactly K
     * numbers; each finite, > 1 and <= 100 (default 2) */
    double alpha[MF_SMEME_REQ_MAX_K];
    long tau_r;              /* reward timestep, 0..999 (default 10); the daemon checks it
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
} mf_smeme_req;

typedef enum mf_job_kind {
    MF_JOB_KIND_SAMPLE = 0,
    MF_JOB_KIND_TRAIN = 1,
    MF_JOB_KIND_FINETUNE_SMEME = 2,
} mf_job_kind;

/*
 * POST /v1/jobs body: {"type": "sample" | "train" | "finetune.smeme", "model": id,
 * "params": {...}}.  model is required for sample and finetune.smeme (the
 * parent), forbidden for train; params may be omitted when every param has a
 * default (never for sample: n is required).  Known types that this build does
 * not run yet ("finetune.reward", "finetune.dxmi") get 422 code
 * "unsupported_type" on /type; others "bad_value".
 */
typedef struct mf_job_req {
    mf_job_kind kind;
    char model[MF_REQ_ID_MAX + 1];
    union {
        mf_sample_req sample;
        mf_train_req train;
        mf_smeme_req smeme;
    } p;
    char *params_json; /* malloc'd canonical JSON of the decoded params with defaults filled in
                          (the job store keeps it); free() it */
} mf_job_req;

/* On failure ret->params_json is NULL (the rest of *ret unspecified), so a
 * caller may free() it either way. */
mf_req_status mf_req_decode_job(const char *body, size_t len, const mf_req_limits *lim,
                                mf_job_req *ret, mf_req_error *err);

/**
 * Re-decodes the params_json a job was stored with (after a restart).  Same
 * validation as mf_req_decode_job's params.
 */
mf_req_status mf_req_decode_job_params(mf_job_kind kind, const char *model,
                                       const char *params_json, const mf_req_limits *lim,
                                       mf_job_req *ret, mf_req_error *err);

/**
 * The canonical params JSON of a sample request (compact, sorted keys; steps
 * and seed only when set; no model): what mf_req_decode_job stores, and what
 * the server stores again once it has resolved steps and seed.  malloc'd, or
 * NULL when out of memory.
 */
char *mf_req_sample_params_json(const mf_sample_req *r);

/**
 * The canonical params JSON of a finetune.smeme request (compact, sorted keys,
 * every field, alpha always a list of K numbers, out_model only when set), for
 * a server that fills in out_model and stores the params again.  malloc'd, or
 * NULL when out of memory.
 */
char *mf_req_smeme_params_json(const mf_smeme_req *r);

/** "sample", "train", "finetune.smeme". */
const char *mf_job_kind_name(mf_job_kind k);

/** The kind named name (as mf_job_kind_name writes it, e.g. a stored job's
 * type); false for any other string or NULL. */
bool mf_job_kind_lookup(const char *name, mf_job_kind *ret);

#endif /* MF_REQUEST_JSON_H */
