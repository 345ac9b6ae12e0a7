/* SPDX-License-Identifier: MIT */
/*
 * kernels.h - the element-wise and thin-matrix kernels around the GEMMs of the
 * MLP: fused bias + SiLU, the SiLU derivative, and dense layers whose output or
 * input width is tiny (D = 2 in the toy models), where a BLAS call costs more
 * than the arithmetic.  Each has an AVX-512 / AVX2 / generic clone picked at
 * load time (GCC target_clones), so one binary runs everywhere and uses the
 * widest vectors the CPU has.
 *
 * All matrices are row-major.  Shapes: n rows, h columns.
 */
#ifndef MF_KERNELS_H
#define MF_KERNELS_H

#include <stddef.h>

/**
 * z (n, h) holds x W^T; in place: z <- silu(z + bias[j] (+ row_add[r, j])).
 * bias (h) is added to every row; row_add (n, h) may be NULL.  When sig is not
 * NULL it receives sigmoid(z + bias) (n, h), which the backward pass needs:
 * silu'(z) = s + a (1 - s) with a = silu(z), s = sigmoid(z).
 */
void mf_k_bias_silu(float *z, float *sig, const float *bias, size_t n, size_t h);

/**
 * First layer with a shared timestep: out (n, h) = silu(x (n, d) Wx^T + u),
 * Wx the first d columns of W (h, ld_w), u (h) the per-call constant part.
 * For small d only (d <= 8); larger d goes through sgemm.
 */
void mf_k_thin_in_silu(float *out, float *sig, const float *x, size_t d, const float *w,
                       size_t ld_w, const float *u, size_t n, size_t h);

/**
 * Dense layer with a narrow output: y (n, o) = a (n, h) W^T + b, W (o, h), o small.
 * beta 0 overwrites y, beta 1 accumulates (bias then skipped when b is NULL).
 */
void mf_k_thin_out(float *y, const float *a, const float *w, const float *b, size_t n, size_t h,
                   size_t o);

/** d_z (n, h) = d_a (n, h) * (s + a (1 - s)) element-wise, in place on d_a allowed. */
void mf_k_silu_backward(float *d_z, const float *d_a, const float *a, const float *sig, size_t n,
                        size_t h);

/** silu(x) with libm expf: the scalar reference the kernel tests compare against. */
float mf_k_silu_ref(float x);

/** Vectorisable exp for float, max relative error about 2e-7 on [-87, 88]. */
float mf_k_expf(float x);

#endif /* MF_KERNELS_H */

/**
 * Small-batch dense layer with fused bias and SiLU, for n up to a few dozen
 * rows where OpenBLAS's packing overhead dominates:
 *   y (n, o) = silu(a (n, h) wt (h, o) + b)
 * with the weights pre-transposed (wt = W^T, row-major (h, o)).  Needs
 * o % 64 == 0 (callers fall back to sgemm otherwise).  Register-blocked
 * 4 rows x 64 outputs, broadcast-multiply-add over h: no horizontal sums.
 */
void mf_k_small_silu(float *y, const float *a, const float *wt, const float *b, size_t n,
                     size_t h, size_t o);

/** True when this CPU runs the AVX-512 clones, where mf_k_small_silu beats sgemm. */
int mf_k_small_gemm_profitable(void);
