/* SPDX-License-Identifier: MIT */
/*
 * kernels.c - see kernels.h.
 *
 * exp: x = n ln2 + r with n = round(x / ln2), |r| <= ln2/2, ln2 split in a
 * high part exact in float and a low correction (Cody-Waite), exp(r) by a
 * degree-6 Taylor/minimax polynomial (error < 2e-7 relative on that range),
 * then scaled by 2^n built in the exponent bits.  Inputs are clamped to
 * [-87.3, 88.3] so 2^n stays a normal float; silu only needs exp(-z) and
 * sigmoid(z) = 1/(1 + exp(-z)) saturates cleanly at both ends.
 * No branches in the loops, so GCC vectorises them at -O3.
 */
#include "kernels.h"

#include "simd_int.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float exp_poly(float x)
{
    x = x < -87.3f ? -87.3f : x;
    x = x > 88.3f ? 88.3f : x;
    /* round to nearest by the 1.5 * 2^23 trick (exact for |v| < 2^22); floorf would be a
     * library call that keeps the loops from vectorising */
    float nf = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - nf * 0.693145751953125f; /* ln2 high part, exact product */
    r = r - nf * 1.428606765330187e-06f;   /* ln2 low part */
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = ((int32_t) nf + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

float mf_k_expf(float x)
{
    return exp_poly(x);
}

float mf_k_silu_ref(float x)
{
    return x / (1.0f + expf(-x));
}

MF_CLONES
void mf_k_bias_silu(float *z, float *sig, const float *bias, size_t n, size_t h)
{
    for (size_t r = 0; r < n; r++) {
        float *zr = z + r * h;
        if (sig != NULL) {
            float *sr = sig + r * h;
            for (size_t j = 0; j < h; j++) {
                float v = zr[j] + bias[j];
                float s = 1.0f / (1.0f + exp_poly(-v));
                sr[j] = s;
                zr[j] = v * s;
            }
        } else {
            for (size_t j = 0; j < h; j++) {
                float v = zr[j] + bias[j];
                zr[j] = v / (1.0f + exp_poly(-v));
            }
        }
    }
}

MF_CLONES
void mf_k_thin_in_silu(float *out, float *sig, const float *x, size_t d, const float *w,
                       size_t ld_w, const float *u, size_t n, size_t h)
{
    /* out[r, j] = silu(u[j] + sum_k x[r, k] w[j, k]); the weight columns are
     * gathered once per call as d contiguous vectors so the inner loop streams. */
    float wt[8][1024];
    size_t h_blk = h < 1024 ? h : 1024;
    for (size_t j0 = 0; j0 < h; j0 += h_blk) {
        size_t hb = (h - j0) < h_blk ? (h - j0) : h_blk;
        for (size_t k = 0; k < d; k++) {
            for (size_t j = 0; j < hb; j++) {
                wt[k][j] = w[(j0 + j) * ld_w + k];
            }
        }
        for (size_t r = 0; r < n; r++) {
            float *o = out + r * h + j0;
            const float *xr = x + r * d;
            const float *ub = u + j0;
            for (size_t j = 0; j < hb; j++) {
                o[j] = ub[j];
            }
            for (size_t k = 0; k < d; k++) {
                float xk = xr[k];
                for (size_t j = 0; j < hb; j++) {
                    o[j] += xk * wt[k][j];
                }
            }
            if (sig != NULL) {
                float *s = sig + r * h + j0;
                for (size_t j = 0; j < hb; j++) {
                    float sv = 1.0f / (1.0f + exp_poly(-o[j]));
                    s[j] = sv;
                    o[j] *= sv;
                }
            } else {
                for (size_t j = 0; j < hb; j++) {
                    o[j] = o[j] / (1.0f + exp_poly(-o[j]));
                }
            }
        }
    }
}

MF_CLONES
void mf_k_thin_out(float *y, const float *a, const float *w, const float *b, size_t n, size_t h,
                   size_t o)
{
    /* Sixteen independent partial sums per dot product: the compiler keeps them
     * in one vector register without reassociating a float reduction. */
    for (size_t r = 0; r < n; r++) {
        const float *ar = a + r * h;
        for (size_t q = 0; q < o; q++) {
            const float *wq = w + q * h;
            float acc[16] = {0};
            size_t j = 0;
            for (; j + 16 <= h; j += 16) {
                for (size_t l = 0; l < 16; l++) {
                    acc[l] += ar[j + l] * wq[j + l];
                }
            }
            float s = 0.0f;
            for (; j < h; j++) {
                s += ar[j] * wq[j];
            }
            for (size_t l = 0; l < 16; l++) {
                s += acc[l];
            }
            y[r * o + q] = s + (b != NULL ? b[q] : 0.0f);
        }
    }
}

MF_CLONES
void mf_k_silu_backward(float *d_z, const float *d_a, const float *a, const float *sig, size_t n,
                        size_t h)
{
    size_t total = n * h;
    for (size_t i = 0; i < total; i++) {
        float s = sig[i];
        d_z[i] = d_a[i] * (s + a[i] * (1.0f - s));
    }
}

/* GCC vector extension: 16 floats; may alias float arrays, unaligned loads allowed. */
typedef float v16 __attribute__((vector_size(64), aligned(4), may_alias));

MF_CLONES
void mf_k_small_silu(float *y, const float *a, const float *wt, const float *b, size_t n,
                     size_t h, size_t o)
{
    for (size_t ob = 0; ob < o; ob += 64) {
        v16 bias[4];
        for (int j = 0; j < 4; j++) {
            bias[j] = *(const v16 *) (b + ob + 16 * (size_t) j);
        }
        size_t r = 0;
        for (; r + 4 <= n; r += 4) {
            v16 acc[4][4];
            for (int i = 0; i < 4; i++) {
                for (int j = 0; j < 4; j++) {
                    acc[i][j] = bias[j];
                }
            }
            const float *a0 = a + r * h;
            for (size_t k = 0; k < h; k++) {
                const float *wk = wt + k * o + ob;
                v16 w0 = *(const v16 *) wk, w1 = *(const v16 *) (wk + 16);
                v16 w2 = *(const v16 *) (wk + 32), w3 = *(const v16 *) (wk + 48);
                for (int i = 0; i < 4; i++) {
                    float s = a0[(size_t) i * h + k];
                    acc[i][0] += s * w0;
                    acc[i][1] += s * w1;
                    acc[i][2] += s * w2;
                    acc[i][3] += s * w3;
                }
            }
            for (int i = 0; i < 4; i++) {
                for (int j = 0; j < 4; j++) {
                    *(v16 *) (y + (r + (size_t) i) * o + ob + 16 * (size_t) j) = acc[i][j];
                }
            }
        }
        for (; r < n; r++) { /* the last 1-3 rows */
            v16 acc[4] = {bias[0], bias[1], bias[2], bias[3]};
            const float *ar = a + r * h;
            for (size_t k = 0; k < h; k++) {
                const float *wk = wt + k * o + ob;
                float s = ar[k];
                acc[0] += s * *(const v16 *) wk;
                acc[1] += s * *(const v16 *) (wk + 16);
                acc[2] += s * *(const v16 *) (wk + 32);
                acc[3] += s * *(const v16 *) (wk + 48);
            }
            for (int j = 0; j < 4; j++) {
                *(v16 *) (y + r * o + ob + 16 * (size_t) j) = acc[j];
            }
        }
    }
    /* SiLU over the (L1-resident) result, one vectorised pass. */
    size_t total = n * o;
    for (size_t i = 0; i < total; i++) {
        y[i] = y[i] / (1.0f + exp_poly(-y[i]));
    }
}

int mf_k_small_gemm_profitable(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#else
    return 0;
#endif
}
