/* SPDX-License-Identifier: MIT */
/*
 * bf16_linear.h - one linear layer, y = act(x W^T + b), in bfloat16 with float
 * accumulation: oneDNN's matmul with the bias and SiLU fused as post-ops.  oneDNN picks
 * the kernel: AMX tiles where the CPU has them (these machines: brg:avx512_core_amx_bf16,
 * measured 4.1x / 6.2x / 8.1x OpenBLAS sgemm on one thread for the W1 / W2 / W4 layer
 * shapes, bench/bf16_bench.c), AVX-512 BF16 dot products otherwise.  The building block
 * of bf16 sampling (issue 19); training stays float.
 *
 * bfloat16 keeps float's 8-bit exponent and 8 bits of significand (7 stored), so
 * rounding a value to bf16 errs by at most u = 2^-8 of it.  With x and W rounded and
 * the products summed in float:
 *     |y_bf16 - y| <= (2u + u^2) sum_i |x_i| |W_i| + (float summation, negligible)
 * before the activation (SiLU's slope is at most 1.1), plus u |y| when the output is
 * stored in bf16.  tests/core/test_bf16_linear.c holds every output to that bound.
 *
 * Weights are converted and reordered to oneDNN's blocked layout once, at creation
 * (mf_bf16_linear_new_like makes more layers over the same converted weights).
 * A layer runs on the calling thread alone (oneDNN's OpenMP team is held to one thread
 * for the call), so a row team can split rows as it does for float; the shape is fixed
 * at creation (max_rows rows), a call with fewer rows uses a primitive made for that
 * count on first use (the daemon's chunks take few distinct counts).
 *
 * Threading: a layer is used by one thread at a time (its scratch is its own).
 */
#ifndef MF_BF16_LINEAR_H
#define MF_BF16_LINEAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/** bf16 as stored: the high half of a float (round to nearest even when converting). */
typedef uint16_t mf_bf16;

/** The float's bf16, rounded to nearest even (NaN stays NaN). */
mf_bf16 mf_bf16_from_float(float f);
float mf_bf16_to_float(mf_bf16 h);

/**
 * Does this CPU run bf16 dot products natively (AVX-512 BF16)?  The environment variable
 * MF_NO_BF16 (any value) makes the answer no: every program then runs as on a CPU
 * without them (float where bf16 was asked, and says so).
 */
bool mf_bf16_supported(void);

/**
 * Makes one small layer and runs it, so that oneDNN's global state (its primitive
 * cache, its CPU dispatch, AMX permission) is set up by the calling thread: a program
 * whose threads then make layers concurrently calls this once first (the daemon at
 * start), as oneDNN initialises that state lazily.  Errors: those of the layer; MF_OK on
 * a CPU without bf16 (nothing to set up).
 */
MF_MUST_CHECK mf_err mf_bf16_warm_up(void);

/* The widest input mf_bf16_thin_in_silu takes. */
#define MF_BF16_THIN_MAX_D 8

/**
 * A float layer with a bf16 output, for a narrow input (d <= MF_BF16_THIN_MAX_D): out
 * (n, h) = bf16(silu(x (n, d) W^T + u)), W (h, d) given as its columns wt (d, h), u (h)
 * the bias.
 * The products and sums are float's; SiLU to about 6e-5 relative (exp by polynomial to
 * 3e-6, the reciprocal by rcp14 to 2^-14: far below the bf16 rounding that follows, 2^-8).
 * Only on a CPU with bf16 (mf_bf16_supported): elsewhere it faults.
 */
void mf_bf16_thin_in_silu(mf_bf16 *out, const float *x, size_t d, const float *wt, const float *u,
                          size_t n, size_t h);

typedef struct mf_bf16_linear mf_bf16_linear;

/*
 * How a layer's input and output are stored: its input is bf16 (rows, in) or float
 * (converted on entry); its output bf16 (the next layer's input) or float.
 */
typedef struct mf_bf16_linear_opts {
    bool silu;       /* y = silu(x W^T + b); else x W^T + b */
    bool f32_input;  /* x is float */
    bool f32_output; /* y is float */
    int threads;     /* oneDNN's OpenMP threads for a call; 0: the calling thread alone
                        (what sampling uses: bench/bf16_bench.c measures the two) */
} mf_bf16_linear_opts;

/**
 * A layer of out x in weights w (row-major, row stride ld_w >= in: a slice of a wider
 * matrix works) and bias b (out, NULL: none), for at most max_rows rows.  Errors:
 * MF_EINVAL (sizes 0), MF_EINTERNAL (oneDNN will not make the primitive),
 * MF_ENOMEM.  *ret only on success.
 */
MF_MUST_CHECK mf_err mf_bf16_linear_new(const float *w, size_t ld_w, const float *b, size_t out,
                                        size_t in, size_t max_rows, const mf_bf16_linear_opts *o,
                                        mf_bf16_linear **ret);
void mf_bf16_linear_free(mf_bf16_linear *l);

/**
 * A layer like proto (its shape, options, bias) for at most max_rows rows, over proto's
 * converted weights, which it reads and does not copy: nothing is converted or
 * reordered.  proto must outlive it and is only read (one proto can serve layers on
 * many threads, so long as no thread runs proto itself).  Errors: MF_EINVAL,
 * MF_EINTERNAL (oneDNN: also when max_rows' primitive wants another weight layout),
 * MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_bf16_linear_new_like(const mf_bf16_linear *proto, size_t max_rows,
                                             mf_bf16_linear **ret);

/** Replaces the bias (out floats): a per-call bias, e.g. layer 0's W_e emb(t) + b. */
void mf_bf16_linear_set_bias(mf_bf16_linear *l, const float *b);

/**
 * y (rows, out) = act(x (rows, in) W^T + b), rows <= max_rows, in the layouts of the
 * options.  Errors: MF_EINVAL (rows 0 or too many), MF_ENOMEM / MF_EINTERNAL (a new
 * row count's primitive).
 */
MF_MUST_CHECK mf_err mf_bf16_linear_run(mf_bf16_linear *l, const void *x, size_t rows, void *y);

#endif /* MF_BF16_LINEAR_H */
