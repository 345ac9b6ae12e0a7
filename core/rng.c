/* SPDX-License-Identifier: MIT */
/*
 * rng.c - Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as
 * 1, 2, 3", SC 2011).  Counter = (index lo, index hi, stream lo, stream hi),
 * key = seed.  Ten rounds pass the authors' BigCrush runs; the known-answer
 * vectors from the Random123 distribution are checked in tests/core/test_rng.c.
 *
 * Normal variates: block b yields four uniforms; lanes (0,1) and (2,3) are two
 * Box-Muller pairs, so normal number e lives in block e/4, lane e%4, and any
 * sub-range of a stream can be produced on its own.
 */
#include "rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static void philox4x32_10(const uint32_t ctr_in[4], uint64_t key64, uint32_t out[4])
{
    uint32_t c0 = ctr_in[0], c1 = ctr_in[1], c2 = ctr_in[2], c3 = ctr_in[3];
    uint32_t k0 = (uint32_t) key64, k1 = (uint32_t) (key64 >> 32);
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t) PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t) PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t) (p0 >> 32), lo0 = (uint32_t) p0;
        uint32_t hi1 = (uint32_t) (p1 >> 32), lo1 = (uint32_t) p1;
        uint32_t n0 = hi1 ^ c1 ^ k0;
        uint32_t n2 = hi0 ^ c3 ^ k1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* splitmix64 finaliser: a bijective mixer for deriving stream ids. */
static uint64_t mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

mf_rng mf_rng_make(uint64_t seed)
{
    mf_rng r = {.seed = seed, .stream = 0};
    return r;
}

mf_rng mf_rng_derive(mf_rng r, uint64_t tag)
{
    mf_rng d = {.seed = r.seed, .stream = mix64(r.stream ^ mix64(tag))};
    return d;
}

void mf_rng_block(mf_rng r, uint64_t block, uint32_t out[4])
{
    uint32_t ctr[4] = {(uint32_t) block, (uint32_t) (block >> 32), (uint32_t) r.stream,
                       (uint32_t) (r.stream >> 32)};
    philox4x32_10(ctr, r.seed, out);
}

/* (w + 0.5) / 2^32: strictly inside (0, 1), so log() below never sees 0. */
static double open_unit(uint32_t w)
{
    return ((double) w + 0.5) * (1.0 / 4294967296.0);
}

void mf_rng_uniform(mf_rng r, uint64_t offset, float *out, size_t n)
{
    uint32_t w[4];
    uint64_t cached = UINT64_MAX;
    for (size_t j = 0; j < n; j++) {
        uint64_t e = offset + j;
        if (e / 4 != cached) {
            cached = e / 4;
            mf_rng_block(r, cached, w);
        }
        out[j] = (float) (w[e % 4] >> 8) * (1.0f / 16777216.0f);
    }
}

void mf_rng_normal(mf_rng r, uint64_t offset, float *out, size_t n)
{
    uint32_t w[4];
    double z[4];
    uint64_t cached = UINT64_MAX;
    for (size_t j = 0; j < n; j++) {
        uint64_t e = offset + j;
        if (e / 4 != cached) {
            cached = e / 4;
            mf_rng_block(r, cached, w);
            for (int p = 0; p < 4; p += 2) {
                double rad = sqrt(-2.0 * log(open_unit(w[p])));
                double ang = 6.283185307179586 * open_unit(w[p + 1]);
                z[p] = rad * cos(ang);
                z[p + 1] = rad * sin(ang);
            }
        }
        out[j] = (float) z[e % 4];
    }
}

double mf_rng_uniform_f64(mf_rng r, uint64_t index)
{
    uint32_t w[4];
    mf_rng_block(r, index, w);
    uint64_t bits = ((uint64_t) w[0] << 21) ^ (uint64_t) (w[1] >> 11);
    return (double) (bits & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}

uint32_t mf_rng_below(mf_rng r, uint64_t index, uint32_t bound)
{
    /* Lemire's multiply-shift with rejection; successive retries use lanes of the block. */
    uint32_t w[4];
    mf_rng_block(r, index, w);
    uint32_t threshold = (uint32_t) (-bound) % bound;
    for (uint64_t attempt = 0;; attempt++) {
        for (int lane = 0; lane < 4; lane++) {
            uint64_t m = (uint64_t) w[lane] * bound;
            if ((uint32_t) m >= threshold) {
                return (uint32_t) (m >> 32);
            }
        }
        mf_rng_block(mf_rng_derive(r, attempt + 1), index, w);
    }
}
