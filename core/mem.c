/* SPDX-License-Identifier: MIT */
/* mem.c - aligned, zeroed allocation with overflow checks. */
#include "mem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

static void *alloc_zeroed(size_t n, size_t elem)
{
    size_t bytes;
    if (mf_size_mul(n, elem, &bytes) != MF_OK) {
        return NULL;
    }
    /* Round up so the size is a multiple of the alignment (aligned_alloc's rule). */
    size_t rounded = (bytes + MF_ALIGN - 1) / MF_ALIGN * MF_ALIGN;
    if (rounded < bytes) {
        return NULL;
    }
    if (rounded == 0) {
        rounded = MF_ALIGN;
    }
    void *p = aligned_alloc(MF_ALIGN, rounded);
    if (p != NULL) {
        memset(p, 0, rounded);
    }
    return p;
}

float *mf_alloc_floats(size_t n_floats)
{
    return alloc_zeroed(n_floats, sizeof(float));
}

double *mf_alloc_doubles(size_t n_doubles)
{
    return alloc_zeroed(n_doubles, sizeof(double));
}

void mf_free_aligned(void *p)
{
    free(p);
}

bool mf_floats_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i])) {
            return false;
        }
    }
    return true;
}
