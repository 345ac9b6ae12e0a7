/* SPDX-License-Identifier: MIT */
/*
 * steer.h - steering a sampling request on a conditional model (issue 12):
 * which of "target", "condition" and "guidance" a model takes, the guidance a
 * request gets when it names none, and the per-row condition and target
 * arrays the guided sampler reads (core/guidance.h).
 *
 * A reward-conditioned model (metadata condition = reward, core/model_file.h)
 * takes a target a, which its metadata turns into the condition input; any
 * conditional model takes the raw condition (cond_dim numbers).  Guidance:
 * cond (plain conditioning), cfg (needs the indicator null condition and a
 * model trained with label dropout, metadata p_uncond > 0), reward (needs the
 * model's reward model and a target; it also steers an unconditional model
 * that carries one).  A request without guidance gets the model's own (its
 * metadata guidance and guidance_w), else cond with w 1; the resolved
 * guidance is echoed in the response.
 */
#ifndef MF_STEER_H
#define MF_STEER_H

#include "err.h"
#include "guidance.h"
#include "model_file.h"
#include "sample_codec.h"

/**
 * Checks req's steering against model m and fills its guidance; errors are 422
 * (MF_ERANGE, code "impossible") on the field under prefix ("" or "/params").
 */
MF_MUST_CHECK mf_err mf_steer_resolve(mf_sample_req *req, const mf_model *m, const char *prefix,
                                      mf_diag *d);

/** Network evaluations per sampler step: 2 for cfg and reward guidance with w > 0, else 1. */
size_t mf_steer_evals_per_step(const mf_sample_req *req);

/**
 * The per-row arrays of a resolved request: *ret_cond (n, C) the condition of
 * each row (NULL for an unconditional model), *ret_target (n) the target of
 * each row (NULL unless reward guidance).  malloc'd (mf_free_aligned).
 * Errors: MF_ENOMEM, mf_guide_fill_cond's.  Written only on success.
 */
MF_MUST_CHECK mf_err mf_steer_rows(const mf_sample_req *req, const mf_model *m, float **ret_cond,
                                   float **ret_target);

/** The guide of rows with condition cond (rows, C) and target (rows), of m, for req's guidance. */
mf_guide mf_steer_guide(const mf_sample_req *req, const mf_model *m, const float *cond,
                        const float *target);

#endif /* MF_STEER_H */
