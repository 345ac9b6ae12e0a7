/* SPDX-License-Identifier: MIT */
/* steer.c - target, condition and guidance of a sampling request (see steer.h). */
#include "steer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

/* A 422 on prefix/key, for `return refuse(...)`. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static mf_err
refuse(mf_diag *d, const char *prefix, const char *key, const char *fmt, ...)
{
    char field[96];
    snprintf(field, sizeof field, "%s/%s", prefix, key);
    va_list ap;
    va_start(ap, fmt);
    mf_diag_setv(d, MF_ERANGE, "impossible", field, fmt, ap);
    va_end(ap);
    return MF_ERANGE;
}

/* A metadata number, or def when absent or not a number. */
static double meta_number(const mf_model *m, const char *key, double def)
{
    const char *v = mf_model_get_meta(m, key);
    char *end = NULL;
    double x = v != NULL ? strtod(v, &end) : def;
    return v != NULL && end != v && *end == '\0' && isfinite(x) ? x : def;
}

/* The guidance the model was trained for, when the request names none. */
static void default_guidance(mf_sample_req *req, const mf_model *m)
{
    mf_guide_mode mode = MF_GUIDE_COND;
    const char *g = mf_model_get_meta(m, "guidance");
    if (g == NULL || mf_guide_mode_lookup(g, &mode) != MF_OK) {
        mode = m->net->cfg.cond_dim == 0 ? MF_GUIDE_REWARD : MF_GUIDE_COND;
    }
    req->has_guidance = true;
    req->guidance = mode;
    req->guidance_w = meta_number(m, "guidance_w", 1.0);
}

mf_err mf_steer_resolve(mf_sample_req *req, const mf_model *m, const char *prefix, mf_diag *d)
{
    size_t C = m->net->cfg.cond_dim;
    bool steered = req->has_target || req->n_condition > 0 || req->has_guidance;
    if (C == 0) {
        if (!steered) {
            return MF_OK;
        }
        if (req->n_condition > 0) {
            return refuse(d, prefix, "condition",
                          "model %s is unconditional: it takes no condition", req->model);
        }
        if (m->reward == NULL) {
            return refuse(d, prefix, req->has_target ? "target" : "guidance",
                          "model %s is unconditional and carries no reward model: it takes no "
                          "target or guidance",
                          req->model);
        }
    } else {
        if (!req->has_target && req->n_condition == 0) {
            return refuse(d, prefix, "target",
                          "model %s is conditional: give \"target\" (the reward to steer to) or "
                          "\"condition\"",
                          req->model);
        }
        if (req->n_condition > 0 && req->n_condition != C) {
            return refuse(d, prefix, "condition", "model %s takes %zu condition values, not %zu",
                          req->model, C, req->n_condition);
        }
        if (req->has_target && !m->has_cond) {
            return refuse(d, prefix, "target",
                          "model %s does not say how a target becomes its condition: give "
                          "\"condition\"",
                          req->model);
        }
    }
    if (!req->has_guidance) {
        default_guidance(req, m);
    }
    switch (req->guidance) {
    case MF_GUIDE_COND:
        if (C == 0) {
            return refuse(d, prefix, "guidance/mode",
                          "model %s is unconditional: only reward guidance steers it", req->model);
        }
        break;
    case MF_GUIDE_CFG:
        if (C == 0 || !m->has_cond || m->cond.null_kind != MF_COND_NULL_INDICATOR ||
            !(meta_number(m, "p_uncond", 0.0) > 0.0)) {
            return refuse(d, prefix, "guidance/mode",
                          "model %s was not trained with label dropout (p_uncond): "
                          "classifier-free guidance needs it",
                          req->model);
        }
        break;
    case MF_GUIDE_REWARD:
        if (m->reward == NULL) {
            return refuse(d, prefix, "guidance/mode",
                          "model %s carries no reward model: reward guidance needs one",
                          req->model);
        }
        if (!req->has_target) {
            return refuse(d, prefix, "target", "reward guidance on model %s needs \"target\"",
                          req->model);
        }
        break;
    }
    return MF_OK;
}

size_t mf_steer_evals_per_step(const mf_sample_req *req)
{
    bool twice = req->has_guidance && req->guidance_w != 0.0 &&
                 (req->guidance == MF_GUIDE_CFG || req->guidance == MF_GUIDE_REWARD);
    return twice ? 2 : 1;
}

mf_err mf_steer_rows(const mf_sample_req *req, const mf_model *m, float **ret_cond,
                     float **ret_target)
{
    size_t n = req->n, C = m->net->cfg.cond_dim;
    float *cond = NULL, *target = NULL;
    mf_err err = MF_OK;
    if (C > 0) {
        float row[MF_SAMPLE_MAX_COND];
        if (req->n_condition > 0) {
            for (size_t k = 0; k < C; k++) {
                row[k] = (float) req->condition[k];
            }
        } else {
            err = mf_guide_fill_cond(m, &req->target, 1, row);
        }
        cond = err == MF_OK ? mf_alloc_floats(n * C) : NULL;
        for (size_t i = 0; cond != NULL && i < n; i++) {
            memcpy(cond + i * C, row, C * sizeof(float));
        }
        err = err != MF_OK ? err : (cond == NULL ? MF_ENOMEM : MF_OK);
    }
    if (err == MF_OK && req->has_guidance && req->guidance == MF_GUIDE_REWARD) {
        target = mf_alloc_floats(n);
        for (size_t i = 0; target != NULL && i < n; i++) {
            target[i] = (float) req->target;
        }
        err = target == NULL ? MF_ENOMEM : MF_OK;
    }
    if (err != MF_OK) {
        mf_free_aligned(cond);
        mf_free_aligned(target);
        return err;
    }
    *ret_cond = cond;
    *ret_target = target;
    return MF_OK;
}

mf_guide mf_steer_guide(const mf_sample_req *req, const mf_model *m, const float *cond,
                        const float *target)
{
    return (mf_guide){.mode = req->has_guidance ? req->guidance : MF_GUIDE_COND,
                      .w = (float) req->guidance_w,
                      .C = m->net->cfg.cond_dim,
                      .cond = cond,
                      .target = target,
                      .reward = m->reward,
                      .data_offset = m->data_offset,
                      .data_scale = m->data_scale};
}
