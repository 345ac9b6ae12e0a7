/* SPDX-License-Identifier: MIT */
/* optim.c - Adam, gradient clipping, EMA and learning-rate schedules (see optim.h). */
#include "optim.h"

#include "simd_int.h"

#include <math.h>
#include <string.h>

MF_CLONES
void mf_adam_step_range(const mf_adam *a, float *params, const float *grad, size_t i0, size_t i1,
                        float lr, uint64_t t)
{
    float b1 = a->beta1, b2 = a->beta2;
    /* Fold the bias corrections into the step size and epsilon, as PyTorch does:
     * p -= (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps). */
    double bc1 = 1.0 - pow((double) b1, (double) t);
    double bc2 = 1.0 - pow((double) b2, (double) t);
    float step = (float) ((double) lr / bc1);
    float inv_sqrt_bc2 = (float) (1.0 / sqrt(bc2));
    float *m = a->m, *v = a->v;
    for (size_t i = i0; i < i1; i++) {
        float g = grad[i];
        m[i] = b1 * m[i] + (1.0f - b1) * g;
        v[i] = b2 * v[i] + (1.0f - b2) * g * g;
        params[i] -= step * m[i] / (sqrtf(v[i]) * inv_sqrt_bc2 + a->eps);
    }
}

void mf_adam_step(mf_adam *a, float *params, const float *grad, size_t n, float lr)
{
    a->t++;
    mf_adam_step_range(a, params, grad, 0, n, lr, a->t);
}

void mf_adam_reset(mf_adam *a, size_t n)
{
    memset(a->m, 0, n * sizeof(float));
    memset(a->v, 0, n * sizeof(float));
    a->t = 0;
}

MF_CLONES
double mf_sumsq(const float *x, size_t n)
{
    /* Sixteen partial sums: vectorisable without reassociating one reduction. */
    double acc[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        for (size_t l = 0; l < 16; l++) {
            acc[l] += (double) x[i + l] * (double) x[i + l];
        }
    }
    double ss = 0.0;
    for (; i < n; i++) {
        ss += (double) x[i] * (double) x[i];
    }
    for (size_t l = 0; l < 16; l++) {
        ss += acc[l];
    }
    return ss;
}

MF_CLONES
void mf_scale(float *x, size_t n, float s)
{
    for (size_t i = 0; i < n; i++) {
        x[i] *= s;
    }
}

double mf_clip_grad_norm(float *grad, size_t n, double max_norm)
{
    double norm = sqrt(mf_sumsq(grad, n));
    if (max_norm > 0.0 && norm > max_norm) {
        mf_scale(grad, n, (float) (max_norm / (norm + 1e-6)));
    }
    return norm;
}

MF_CLONES
void mf_ema_update(float *ema, const float *params, size_t n, float decay)
{
    float keep = decay, take = 1.0f - decay;
    for (size_t i = 0; i < n; i++) {
        ema[i] = keep * ema[i] + take * params[i];
    }
}

float mf_lr_at(mf_lr_sched kind, float lr_max, float lr_min, size_t warmup, size_t step,
               size_t n_steps)
{
    if (kind == MF_LR_CONSTANT) {
        return lr_max;
    }
    if (step < warmup) {
        return lr_max * (float) (step + 1) / (float) warmup;
    }
    double span = n_steps > warmup ? (double) (n_steps - warmup) : 1.0;
    double p = (double) (step - warmup) / span;
    p = p > 1.0 ? 1.0 : p;
    return lr_min + (lr_max - lr_min) * (float) (0.5 * (1.0 + cos(3.141592653589793 * p)));
}
