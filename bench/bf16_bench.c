/* SPDX-License-Identifier: MIT */
/*
 * bf16_bench - GEMM-only throughput of the layers of W1, W2 and W4 (issue 19's table):
 * OpenBLAS sgemm (float) against core/bf16_linear.c (oneDNN matmul, bf16 input and
 * output, float bias and SiLU fused), each on the calling thread alone, in one run.
 * Prints one JSON line per shape: GFLOP/s (2 M N K per call) of the best of `reps`
 * timed runs of `iters` calls each, and the ratio.  Then the sampling workloads of
 * mf_bench (W1: D 2, H 256, 4,096 rows, 100 DDIM steps; W2: D 64, H 512, 1,024 rows,
 * 100 steps; W4: D 2, H 256, 16 rows, 50 steps) on one thread, float (mlp.c's sampling
 * path) against bf16 (core/bf16_net.c), a network of random weights of the shape, the
 * best of `reps` runs: samples/s and the ratio; and the same on the daemon's 2-thread
 * row team (server/par.c, each member on one thread), as mf_bench runs W1 and W2.
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
#include "sampler.h"
#include "schedule.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
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
        mf_bf16_linear_free(l);
        mf_free_aligned(a);
        mf_free_aligned(w);
        mf_free_aligned(b);
        mf_free_aligned(c);
        mf_free_aligned(ab);
        mf_free_aligned(cb);
    }

    const struct {
        const char *name;
        uint32_t d, h;
        size_t rows, steps;
    } work[] = {{"W1", 2, 256, 4096, 100}, {"W2", 64, 512, 1024, 100}, {"W4", 2, 256, 16, 50}};

    mf_schedule sched = {0};
    if (mf_schedule_init(&sched, "linear:0.0001:0.02:1000", NULL) != MF_OK) {
        return 1;
    }
    for (size_t w = 0; w < sizeof work / sizeof work[0]; w++) {
        mf_mlp_config cfg = {.data_dim = work[w].d,
                             .emb_dim = 64,
                             .n_hidden = 3,
                             .hidden = {work[w].h, work[w].h, work[w].h}};
        mf_mlp *net = NULL;
        if (mf_mlp_new(&cfg, &net) != MF_OK) {
            return 1;
        }
        mf_mlp_init_params(net, 1);
        size_t n = work[w].rows;
        float *x = mf_alloc_floats(n * work[w].d);
        mf_sampler_opts o = {.kind = MF_SAMPLER_DDIM, .steps = work[w].steps, .seed = 1};
        double best_f = 1e30, best_b = 1e30;
        for (int rep = 0; rep < reps; rep++) {
            mf_mlp_ws *ws = NULL;
            double t0 = now();
            if (mf_mlp_ws_new_frozen(net, n < 256 ? n : 256, &ws) != MF_OK) {
                return 1;
            }
            mf_mlp_eps_ctx ec = {.net = net, .ws = ws, .c = NULL};
            if (mf_sample(&sched, (mf_eps_fn){.eval = mf_mlp_eps_eval, .ctx = &ec}, &o, x, n,
                          work[w].d) != MF_OK) {
                return 1;
            }
            mf_mlp_ws_free(ws);
            double t1 = now();
            if (mf_bf16_sample(net, &sched, &o, x, n) != MF_OK) {
                return 1;
            }
            double t2 = now();
            best_f = t1 - t0 < best_f ? t1 - t0 : best_f;
            best_b = t2 - t1 < best_b ? t2 - t1 : best_b;
        }
        printf("{\"workload\":\"%s\",\"rows\":%zu,\"steps\":%zu,\"threads\":1,"
               "\"f32_samples_per_s\":%.0f,\"bf16_samples_per_s\":%.0f,\"ratio\":%.2f}\n",
               work[w].name, n, work[w].steps, (double) n / best_f, (double) n / best_b,
               best_f / best_b);
        if (n >= 256) { /* the row team: W1 and W2 */
            mf_par *team = NULL;
            if (mf_par_new(2, &team) != MF_OK) {
                return 1;
            }
            double tf = 1e30, tb = 1e30;
            for (int rep = 0; rep < reps; rep++) {
                mf_sampler_opts of = o, ob = o;
                ob.precision = MF_PRECISION_BF16;
                double t0 = now();
                if (mf_par_sample(team, net, &sched, &of, x, n) != MF_OK) {
                    return 1;
                }
                double t1 = now();
                if (mf_par_sample(team, net, &sched, &ob, x, n) != MF_OK) {
                    return 1;
                }
                double t2 = now();
                tf = t1 - t0 < tf ? t1 - t0 : tf;
                tb = t2 - t1 < tb ? t2 - t1 : tb;
            }
            printf("{\"workload\":\"%s\",\"rows\":%zu,\"steps\":%zu,\"threads\":2,"
                   "\"f32_samples_per_s\":%.0f,\"bf16_samples_per_s\":%.0f,\"ratio\":%.2f}\n",
                   work[w].name, n, work[w].steps, (double) n / tf, (double) n / tb, tf / tb);
            mf_par_free(team);
        }
        mf_free_aligned(x);
        mf_mlp_free(net);
    }
    mf_schedule_deinit(&sched);
    return 0;
}
