/* SPDX-License-Identifier: MIT */
/*
 * rng.h - seeded, counter-based random numbers (Philox4x32-10).
 *
 * A variate is a pure function of (seed, stream, index): there is no hidden
 * state that advances as numbers are drawn.  A sampler that needs the noise of
 * sample i, dimension d at step k asks for index i*D + d of the stream derived
 * for step k, so the same seed gives the same samples whatever the batch split
 * or the number of threads.  Thread-safety: every function is reentrant; an
 * mf_rng is a small value and may be shared read-only.
 */
#ifndef MF_RNG_H
#define MF_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct mf_rng {
    uint64_t seed;   /* Philox key */
    uint64_t stream; /* high half of the Philox counter */
} mf_rng;

/** The generator for a seed, stream 0. */
mf_rng mf_rng_make(uint64_t seed);

/**
 * An independent sub-stream named by tag (e.g. a purpose constant plus a step
 * number).  Deriving is a hash, so derive(derive(r, a), b) and
 * derive(derive(r, b), a) are different streams.
 */
mf_rng mf_rng_derive(mf_rng r, uint64_t tag);

/** Four raw 32-bit words of block number `block` of the stream. */
void mf_rng_block(mf_rng r, uint64_t block, uint32_t out[4]);

/** out[j] = uniform variate number (offset + j) in [0, 1), 24-bit resolution. */
void mf_rng_uniform(mf_rng r, uint64_t offset, float *out, size_t n);

/** out[j] = standard normal variate number (offset + j) (Box-Muller on 32-bit uniforms). */
void mf_rng_normal(mf_rng r, uint64_t offset, float *out, size_t n);

/** Uniform double in [0, 1) with 53-bit resolution: variate number `index`. */
double mf_rng_uniform_f64(mf_rng r, uint64_t index);

/** Uniform integer in [0, bound) (bound >= 1), variate number `index`; Lemire's method. */
uint32_t mf_rng_below(mf_rng r, uint64_t index, uint32_t bound);

#endif /* MF_RNG_H */
