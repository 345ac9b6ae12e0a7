/* SPDX-License-Identifier: MIT */
/*
 * cpu.h - process-wide OpenBLAS set-up, done once at the top of main().
 *
 * Debian's OpenBLAS 0.3.21 does not recognise recent AVX-512 CPUs and falls
 * back to its SSE3 kernels, 4-5x slower.  The kernel family is chosen from
 * OPENBLAS_CORETYPE when the library is loaded, i.e. before main() runs, so
 * the only fix that needs nothing from the user is to set the variable and
 * re-execute the program once.  See bench/README.md.
 */
#ifndef MF_CPU_H
#define MF_CPU_H

/**
 * If OPENBLAS_CORETYPE is unset and this CPU has AVX-512 (SkylakeX kernels) or
 * AVX2+FMA (Haswell kernels), sets it and re-executes /proc/self/exe with the
 * same argv.  Returns when there is nothing to do, when the variable was set
 * by the user, or when the re-exec fails (the program then runs, slower).
 * MF_NO_REEXEC=1 in the environment disables it.
 */
void mf_cpu_ensure_blas_coretype(char **argv);

/** The OpenBLAS kernel family in use ("SkylakeX", "Haswell", "Prescott", ...). */
const char *mf_cpu_blas_corename(void);

/** The coretype this CPU should use, or NULL when OpenBLAS's own detection is fine. */
const char *mf_cpu_preferred_coretype(void);

/** Sets the process-wide OpenBLAS thread count (>= 1). */
void mf_cpu_set_blas_threads(int n);

/** Current OpenBLAS thread count. */
int mf_cpu_blas_threads(void);

/** Number of online CPUs (>= 1). */
int mf_cpu_count(void);

#endif /* MF_CPU_H */
