/* SPDX-License-Identifier: MIT */
/*
 * bf16_bench - GEMM-only throughput of the layers of W1, W2 and W4 (issue 19's table):
 * OpenBLAS sgemm (float) against core/bf16_linear.c (oneDNN matmul, bf16 input and
 * output, float bias and SiLU fused), each on the calling thread alone, in one run.
 * Prints one JSON line per shape: GFLOP/s (2 M N K per call) of the best of `reps`
 * timed runs of `iters` calls each, and the ratio; and a line for bf16 on two threads,
 * oneDNN's own (an OpenMP team of two in each call) against the row team's (each of two
 * threads its half of the rows on its own one-thread layer: what sampling does).  Then
 * the bf16 GEMM-only time (gemm_only below) of mf_bench's sampling workloads (W1: D 2,
 * H 256, 4,096 rows, 100 DDIM steps; W2: D 64, H 512, 1,024 rows, 100 steps; W4: D 2,
 * H 256, 16 rows, 50 steps) on mf_bench's threads: the ceiling bench/RESULTS.md holds
 * mf_bench --precision bf16 to (which times the sampling itself, float and bf16).
 *
 *   bf16_bench [--reps N] [--iters N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "bf16_linear.h"
#include "bf16_net.h"
#include "cpu.h"
#include "mem.h"
#include "par.h"
#include "rng.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

/* Two threads on one layer's rows: a row team of two, each member its half of the rows
 * on its own one-thread layer (what sampling does). */
typedef struct halves {
    mf_bf16_linear *l[2];
    const mf_bf16 *x;
    mf_bf16 *y;
    size_t m, n, k;
    int iters;
    mf_err err[2];
} halves;

static void half_rows(void *ctx, size_t i)
{
    halves *h = ctx;
    size_t r0 = i * (h->m / 2), rows = i == 0 ? h->m / 2 : h->m - h->m / 2;
    for (int it = 0; it < h->iters && h->err[i] == MF_OK; it++) {
        h->err[i] = mf_bf16_linear_run(h->l[i], h->x + r0 * h->k, rows, h->y + r0 * h->n);
    }
}

/*
 * The GEMM-only time of a bf16 sampling workload (3 hidden layers of H): the layer calls
 * core/bf16_net.c makes and nothing else.  Per step, per pass of MF_BF16_SAMPLE_ROWS
 * rows, each member of a row team of `threads` on its share of the rows: up to 8-D the
 * float first layer as sgemm over K = D (the time projection hoisted), the two bf16
 * hidden layers (bias and SiLU fused, bf16 in, the second float out) and the float output
 * layer as sgemm; above 8-D all four layers in bf16 (layer 0 over K = D).  Not timed: the
 * embedding, converting float inputs to bf16, the float first layer's SiLU, the sampler's
 * update.
 */
typedef struct gemm_seq {
    size_t d, h, rows, steps, threads;
    const float *w;            /* (h, h) weights for every layer (their values: no matter) */
    mf_bf16_linear *l[2][4];   /* per member: the bf16 layers (NULL: float) */
    float *f_in[2], *f_out[2]; /* per member: float buffers (rows, max(d, h)) */
    mf_bf16 *b_in[2], *b_out[2];
    mf_err err[2];
} gemm_seq;

static void gemm_member(void *ctx, size_t m)
{
    gemm_seq *g = ctx;
    size_t r0 = m * g->rows / g->threads, r1 = (m + 1) * g->rows / g->threads;
    bool thin = g->d <= 8;
    for (size_t step = 0; step < g->steps; step++) {
        for (size_t p = r0; p < r1; p += MF_BF16_SAMPLE_ROWS) {
            size_t n = r1 - p < MF_BF16_SAMPLE_ROWS ? r1 - p : MF_BF16_SAMPLE_ROWS;
            int in = (int) g->d, h = (int) g->h;
            if (thin) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int) n, h, in, 1.0f,
                            g->f_in[m], in, g->w, in, 0.0f, g->f_out[m], h);
            }
            for (size_t i = thin ? 1 : 0; i < (thin ? 3u : 4u) && g->err[m] == MF_OK; i++) {
                void *y = i == 2 && thin ? (void *) g->f_out[m]
                          : i == 3       ? (void *) g->f_in[m]
                                         : (void *) g->b_out[m];
                g->err[m] = mf_bf16_linear_run(g->l[m][i], g->b_in[m], n, y);
            }
            if (thin) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int) n, in, h, 1.0f,
                            g->f_out[m], h, g->w, h, 0.0f, g->f_in[m], in);
            }
        }
    }
}

/* Best seconds of `reps` GEMM-only runs of the workload (d, h, rows, steps, threads). */
static double gemm_only(mf_par *team, size_t d, size_t h, size_t rows, size_t steps, size_t threads,
                        int reps)
{
    size_t wide = d > h ? d : h, pass = MF_BF16_SAMPLE_ROWS;
    float *w = mf_alloc_floats(wide * wide);
    gemm_seq g = {.d = d, .h = h, .rows = rows, .steps = steps, .threads = threads, .w = w};
    bool ok = w != NULL;
    if (ok) {
        mf_rng_normal(mf_rng_make(7), 0, w, wide * wide);
        for (size_t i = 0; i < wide * wide; i++) {
            w[i] *= 0.05f;
        }
    }
    for (size_t m = 0; m < threads && ok; m++) {
        g.f_in[m] = mf_alloc_floats(pass * wide);
        g.f_out[m] = mf_alloc_floats(pass * wide);
        g.b_in[m] = (mf_bf16 *) mf_alloc_floats(pass * wide);
        g.b_out[m] = (mf_bf16 *) mf_alloc_floats(pass * wide);
        ok = g.f_in[m] != NULL && g.f_out[m] != NULL && g.b_in[m] != NULL && g.b_out[m] != NULL;
        for (size_t i = 0; i < pass * wide && ok; i++) {
            g.f_in[m][i] = 0.1f;
            g.b_in[m][i] = mf_bf16_from_float(0.1f);
        }
        for (size_t i = d <= 8 ? 1 : 0; i < (d <= 8 ? 3u : 4u) && ok; i++) {
            mf_bf16_linear_opts o = {.silu = i < 3, .f32_output = i == 3 || (d <= 8 && i == 2)};
            ok = mf_bf16_linear_new(w, wide, NULL, i == 3 ? d : h, i == 0 ? d : h, pass, &o,
                                    &g.l[m][i]) == MF_OK;
        }
    }
    double best = ok ? 1e30 : -1;
    for (int rep = 0; rep < reps && ok; rep++) {
        double t0 = now();
        mf_par_for(team, threads, gemm_member, &g);
        double t = now() - t0;
        best = t < best ? t : best;
        ok = g.err[0] == MF_OK && g.err[1] == MF_OK;
    }
    for (size_t m = 0; m < 2; m++) {
        for (size_t i = 0; i < 4; i++) {
            mf_bf16_linear_free(g.l[m][i]);
        }
        mf_free_aligned(g.f_in[m]);
        mf_free_aligned(g.f_out[m]);
        mf_free_aligned(g.b_in[m]);
        mf_free_aligned(g.b_out[m]);
    }
    mf_free_aligned(w);
    return ok ? best : -1;
}

/*
 * Best seconds of `iters` calls of the layer (n x k, silu, bf16 in and out) on m rows
 * with two threads: oneDNN's own (an OpenMP team of 2 in one call), or the row team.
 */
static double two_threads(mf_par *team, bool own, const float *w, const mf_bf16 *x, mf_bf16 *y,
                          size_t m, size_t n, size_t k, int reps, int iters)
{
    mf_bf16_linear_opts o = {.silu = true, .threads = own ? 2 : 0};
    halves h = {.x = x, .y = y, .m = m, .n = n, .k = k, .iters = iters};
    for (size_t i = 0; i < (own ? 1u : 2u); i++) {
        if (mf_bf16_linear_new(w, k, NULL, n, k, own ? m : m - m / 2, &o, &h.l[i]) != MF_OK) {
            return -1;
        }
    }
    double best = 1e30;
    for (int rep = 0; rep < reps; rep++) {
        double t0 = now();
        if (own) {
            for (int it = 0; it < iters && h.err[0] == MF_OK; it++) {
                h.err[0] = mf_bf16_linear_run(h.l[0], x, m, y);
            }
        } else {
            mf_par_for(team, 2, half_rows, &h);
        }
        double t = now() - t0;
        best = t < best ? t : best;
    }
    mf_bf16_linear_free(h.l[0]);
    mf_bf16_linear_free(h.l[1]);
    return h.err[0] == MF_OK && h.err[1] == MF_OK ? best : -1;
}

int main(int argc, char **argv)
{
    mf_cpu_ensure_blas_coretype(argv);
    mf_cpu_set_blas_threads(1);
    int reps = 5, iters = 50;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--reps") == 0) {
            reps = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--iters") == 0) {
            iters = atoi(argv[i + 1]);
        }
    }

    mf_par *team = NULL;
    if (mf_par_new(2, &team) != MF_OK) {
        return 1;
    }

    const struct {
        const char *name;
        size_t m, n, k;
    } shapes[] = {
        {"W1 layer", 4096, 256, 256}, {"W2 layer", 1024, 512, 512}, {"W4 layer", 16, 256, 256}};

    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t M = shapes[s].m, N = shapes[s].n, K = shapes[s].k;
        float *a = mf_alloc_floats(M * K), *w = mf_alloc_floats(N * K), *b = mf_alloc_floats(N),
              *c = mf_alloc_floats(M * N);
        mf_bf16 *ab = (mf_bf16 *) mf_alloc_floats(M * K), *cb = (mf_bf16 *) mf_alloc_floats(M * N);
        mf_rng r = mf_rng_make(s);
        mf_rng_normal(r, 0, a, M * K);
        mf_rng_normal(r, M * K, w, N * K);
        memset(b, 0, N * sizeof(float));
        for (size_t i = 0; i < M * K; i++) {
            ab[i] = mf_bf16_from_float(a[i]);
        }
        mf_bf16_linear_opts o = {.silu = true, .f32_input = false, .f32_output = false};
        mf_bf16_linear *l = NULL;
        if (mf_bf16_linear_new(w, K, b, N, K, M, &o, &l) != MF_OK) {
            fprintf(stderr, "bf16_bench: cannot make the %s layer\n", shapes[s].name);
            return 1;
        }
        double best_f = 1e30, best_b = 1e30, flops = 2.0 * (double) M * N * K * iters;
        for (int rep = 0; rep < reps; rep++) {
            double t0 = now();
            for (int it = 0; it < iters; it++) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int) M, (int) N, (int) K,
                            1.0f, a, (int) K, w, (int) K, 0.0f, c, (int) N);
            }
            double t1 = now();
            for (int it = 0; it < iters; it++) {
                if (mf_bf16_linear_run(l, ab, M, cb) != MF_OK) {
                    return 1;
                }
            }
            double t2 = now();
            best_f = t1 - t0 < best_f ? t1 - t0 : best_f;
            best_b = t2 - t1 < best_b ? t2 - t1 : best_b;
        }
        printf("{\"shape\":\"%s\",\"m\":%zu,\"n\":%zu,\"k\":%zu,\"threads\":1,"
               "\"f32_gflops\":%.1f,\"bf16_gflops\":%.1f,\"ratio\":%.2f,\"bf16_native\":%s}\n",
               shapes[s].name, M, N, K, flops / best_f * 1e-9, flops / best_b * 1e-9,
               best_f / best_b, mf_bf16_supported() ? "true" : "false");
        /* two threads: oneDNN's OpenMP team in one call, or our row team's halves */
        double own = two_threads(team, true, w, ab, cb, M, N, K, reps, iters);
        double rows = two_threads(team, false, w, ab, cb, M, N, K, reps, iters);
        if (own < 0 || rows < 0) {
            fprintf(stderr, "bf16_bench: the two-thread runs of %s failed\n", shapes[s].name);
            return 1;
        }
        printf("{\"shape\":\"%s\",\"m\":%zu,\"n\":%zu,\"k\":%zu,\"threads\":2,"
               "\"bf16_gflops_onednn_threads\":%.1f,\"bf16_gflops_row_team\":%.1f,"
               "\"row_team_vs_onednn\":%.2f}\n",
               shapes[s].name, M, N, K, flops / own * 1e-9, flops / rows * 1e-9, own / rows);
        mf_bf16_linear_free(l);
        mf_free_aligned(a);
        mf_free_aligned(w);
        mf_free_aligned(b);
        mf_free_aligned(c);
        mf_free_aligned(ab);
        mf_free_aligned(cb);
    }

    /* each workload's GEMM-only time on mf_bench's threads (W4: one; W1, W2: the 2-thread
     * team); the sampling itself, float and bf16, is mf_bench --precision's */
    const struct {
        const char *name;
        size_t d, h, rows, steps;
    } work[] = {{"W1", 2, 256, 4096, 100}, {"W2", 64, 512, 1024, 100}, {"W4", 2, 256, 16, 50}};

    for (size_t w = 0; w < sizeof work / sizeof work[0]; w++) {
        size_t n = work[w].rows, threads = n >= 256 ? 2 : 1;
        double g = gemm_only(team, work[w].d, work[w].h, n, work[w].steps, threads, reps);
        if (g < 0) {
            fprintf(stderr, "bf16_bench: the GEMM-only run of %s failed\n", work[w].name);
            return 1;
        }
        printf("{\"workload\":\"%s\",\"rows\":%zu,\"steps\":%zu,\"threads\":%zu,"
               "\"bf16_gemm_only_s\":%.6f}\n",
               work[w].name, n, work[w].steps, threads, g);
    }
    mf_par_free(team);
    return 0;
}
