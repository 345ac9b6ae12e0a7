/* SPDX-License-Identifier: MIT */
/*
 * shipped_model.h - for the fine-tuning tests: a shipped model from
 * models/ ($MF_TEST_DATA/../models) and the moments of a 2-D model's samples.
 */
#ifndef MF_TEST_SHIPPED_MODEL_H
#define MF_TEST_SHIPPED_MODEL_H

#include "model_file.h"
#include "sampler.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

static inline mf_model *load_shipped(const char *name)
{
    const char *dir = getenv("MF_TEST_DATA");
    char path[4096];
    snprintf(path, sizeof path, "%s/../models/%s.safetensors", dir != NULL ? dir : "tests", name);
    mf_model *m = NULL;
    mf_diag d = {0};
    ck_assert_int_eq(mf_model_load_file(path, 1u << 26, &m, &d), MF_OK);
    return m;
}

/* Mean and per-dimension variance of n samples (kind, steps, seed) of a 2-D net, model space. */
static inline void sample_moments(const mf_mlp *net, const mf_schedule *s, mf_sampler_kind kind,
                                  size_t steps, size_t n, uint64_t seed, double mean[2],
                                  double var[2])
{
    float *x = malloc(n * 2 * sizeof *x);
    mf_mlp_ws *ws = NULL;
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(mf_mlp_ws_new(net, n, false, &ws), MF_OK);
    mf_mlp_eps_ctx ec = {.net = net, .ws = ws, .c = NULL};
    mf_eps_fn fn = {.eval = mf_mlp_eps_eval, .ctx = &ec};
    mf_sampler_opts o = {.kind = kind, .steps = steps, .seed = seed};
    ck_assert_int_eq(mf_sample(s, fn, &o, x, n, 2), MF_OK);
    for (size_t d = 0; d < 2; d++) {
        double m = 0.0, v = 0.0;
        for (size_t i = 0; i < n; i++) {
            m += x[i * 2 + d];
        }
        m /= (double) n;
        for (size_t i = 0; i < n; i++) {
            v += (x[i * 2 + d] - m) * (x[i * 2 + d] - m);
        }
        mean[d] = m;
        var[d] = v / (double) (n - 1);
    }
    mf_mlp_ws_free(ws);
    free(x);
}

#endif
