/* SPDX-License-Identifier: MIT */
/* mem.h - aligned allocation for parameter blocks and activations, and array checks. */
#ifndef MF_MEM_H
#define MF_MEM_H

#include <stdbool.h>
#include <stddef.h>

#define MF_ALIGN 64

/**
 * n_floats floats, 64-byte aligned, zeroed; NULL on OOM or when the byte
 * count overflows.  Free with mf_free_aligned (accepts NULL).
 */
float *mf_alloc_floats(size_t n_floats);
void mf_free_aligned(void *p);

/** Same for doubles. */
double *mf_alloc_doubles(size_t n_doubles);

/** True when every one of the n floats is finite (no NaN, no infinity). */
bool mf_floats_finite(const float *x, size_t n);

#endif /* MF_MEM_H */
