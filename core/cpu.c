/* SPDX-License-Identifier: MIT */
/* cpu.c - OpenBLAS kernel selection by re-exec, and thread-count helpers (see cpu.h). */
#include "cpu.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Declared by OpenBLAS's cblas.h on Debian; repeated here for other cblas.h flavours. */
char *openblas_get_corename(void);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int num_threads);

const char *mf_cpu_preferred_coretype(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
        return "SkylakeX";
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        return "Haswell";
    }
#endif
    return NULL;
}

void mf_cpu_ensure_blas_coretype(char **argv)
{
    const char *no = getenv("MF_NO_REEXEC");
    if (getenv("OPENBLAS_CORETYPE") != NULL || (no != NULL && strcmp(no, "1") == 0)) {
        return;
    }
    const char *core = mf_cpu_preferred_coretype();
    if (core == NULL || strcmp(mf_cpu_blas_corename(), core) == 0) {
        return;
    }
    if (setenv("OPENBLAS_CORETYPE", core, 1) != 0) {
        return;
    }
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc?): carry on with the kernels we have. */
    unsetenv("OPENBLAS_CORETYPE");
}

const char *mf_cpu_blas_corename(void)
{
    const char *name = openblas_get_corename();
    return name != NULL ? name : "unknown";
}

void mf_cpu_set_blas_threads(int n)
{
    openblas_set_num_threads(n < 1 ? 1 : n);
}

int mf_cpu_blas_threads(void)
{
    return openblas_get_num_threads();
}

int mf_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int) n;
}
