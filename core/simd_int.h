/* SPDX-License-Identifier: MIT */
/*
 * simd_int.h - private to core/: MF_CLONES marks a hot loop function for GCC's
 * function multi-versioning.  The compiler emits an AVX-512 (x86-64-v4), an
 * AVX2+FMA (x86-64-v3) and a baseline version, and the dynamic loader picks
 * one for the running CPU, so one binary is both portable and fast.
 * Files whose functions carry it are built with -mprefer-vector-width=512
 * (core/meson.build), or the AVX-512 clone would use 256-bit vectors.
 */
#ifndef MF_SIMD_INT_H
#define MF_SIMD_INT_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(MF_NO_CLONES)
#    define MF_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#    define MF_CLONES
#endif

#endif /* MF_SIMD_INT_H */
