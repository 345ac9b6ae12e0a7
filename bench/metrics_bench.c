/* SPDX-License-Identifier: MIT */
/*
 * metrics_bench.c - timings of the sample metrics (core/entropy.h, vendi.h,
 * likelihood.h) at the sizes the issue names: kNN entropy of 10,000 2-D
 * points (k-d tree) and of 2,000 64-D points (dgemm), with a brute-force
 * O(N^2) loop beside each for scale; Vendi, histogram entropy, SW2, and the
 * PF-ODE likelihood of an MLP.  One thread (OPENBLAS_NUM_THREADS=1 is set
 * by the caller or forced here).  Prints a Markdown table; best of R runs.
 *
 * usage: metrics_bench [--repeats R]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu.h"
#include "dataset.h"
#include "entropy.h"
#include "knn.h"
#include "likelihood.h"
#include "mem.h"
#include "mlp.h"
#include "rng.h"
#include "schedule.h"
#include "sw.h"
#include "vendi.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

static volatile double sink;

/* Brute-force k-th NN distances in double, no tree, no GEMM: the O(N^2 D) baseline. */
static void brute_knn(const float *x, size_t n, size_t D, size_t k, double *out)
{
    double best[16];
    for (size_t i = 0; i < n; i++) {
        size_t c = 0;
        for (size_t j = 0; j < n; j++) {
            if (j == i) {
                continue;
            }
            double s = 0.0;
            for (size_t d = 0; d < D; d++) {
                double v = (double) x[i * D + d] - (double) x[j * D + d];
                s += v * v;
            }
            if (c < k) {
                best[c++] = s;
            } else if (s < best[k - 1]) {
                best[k - 1] = s;
            } else {
                continue;
            }
            for (size_t a = c - 1; a > 0 && best[a - 1] > best[a]; a--) {
                double t = best[a];
                best[a] = best[a - 1];
                best[a - 1] = t;
            }
        }
        out[i] = sqrt(best[k - 1]);
    }
}

typedef struct job {
    const char *name;
    const float *x;
    size_t n, D;
    int kind; /* 0 knn entropy, 1 brute knn, 2 vendi q2, 3 vendi q1, 4 hist, 5 sw2, 6 ode */
    mf_vendi_kernel kernel;
} job;

static const mf_mlp *g_net;
static const mf_schedule *g_sched;

static double run_once(const job *j)
{
    double t0 = now(), v = 0.0;
    switch (j->kind) {
    case 0: {
        mf_knn_entropy e;
        if (mf_entropy_knn(j->x, j->n, j->D, 5, &e) != MF_OK) {
            abort();
        }
        v = e.entropy;
        break;
    }
    case 1: {
        double *d = malloc(j->n * sizeof(double));
        brute_knn(j->x, j->n, j->D, 5, d);
        v = d[0];
        free(d);
        break;
    }
    case 2:
    case 3:
        if (mf_vendi(j->x, j->n, j->D, j->kernel, 1.0, j->kind == 2 ? 2 : 1, &v) != MF_OK) {
            abort();
        }
        break;
    case 4: {
        mf_hist_entropy h;
        if (mf_entropy_hist2d(j->x, j->n, -4.0, 4.0, 32, &h) != MF_OK) {
            abort();
        }
        v = h.entropy;
        break;
    }
    case 5:
        if (mf_sw2(j->x, j->n / 2, j->x + j->n / 2 * j->D, j->n / 2, j->D, MF_SW_DEFAULT_DIRS,
                   MF_SW_DEFAULT_SEED, &v) != MF_OK) {
            abort();
        }
        break;
    case 6: {
        mf_mlp_div_ctx c;
        double *lp = malloc(j->n * sizeof(double));
        mf_ode_lik_opts o = {.steps = 100, .div = MF_DIV_AUTO, .seed = 1};
        if (lp == NULL || mf_mlp_div_ctx_init(&c, g_net, 256) != MF_OK ||
            mf_ode_loglik(g_sched, (mf_eps_div_fn){mf_mlp_eps_div_eval, &c}, &o, j->x, j->n, j->D,
                          lp) != MF_OK) {
            abort();
        }
        v = lp[0];
        mf_mlp_div_ctx_deinit(&c);
        free(lp);
        break;
    }
    default:
        abort();
    }
    sink = v;
    return now() - t0;
}

int main(int argc, char **argv)
{
    mf_cpu_ensure_blas_coretype(argv);
    mf_cpu_set_blas_threads(1);
    size_t repeats = 3;
    if (argc == 3 && strcmp(argv[1], "--repeats") == 0) {
        repeats = (size_t) strtoul(argv[2], NULL, 10);
    }
    size_t n2 = 10000, n64 = 2000;
    float *x2 = mf_alloc_floats(n2 * 2), *x64 = mf_alloc_floats(n64 * 64);
    if (x2 == NULL || x64 == NULL ||
        mf_dataset_sample(MF_DATASET_EIGHT_GAUSSIANS, mf_rng_make(1), 0, x2, n2) != MF_OK) {
        return 1;
    }
    mf_rng_normal(mf_rng_make(2), 0, x64, n64 * 64);
    /* The PF-ODE run: a 2-D net of the shipped toy size (256 x 3), random weights. */
    mf_mlp_config cfg = {.data_dim = 2, .emb_dim = 64, .n_hidden = 3, .hidden = {256, 256, 256}};
    mf_mlp *net = NULL;
    mf_schedule sched;
    if (mf_mlp_new(&cfg, &net) != MF_OK ||
        mf_schedule_init(&sched, "linear:0.0001:0.02:1000", NULL) != MF_OK) {
        return 1;
    }
    mf_mlp_init_params(net, 1);
    g_net = net;
    g_sched = &sched;
    const job jobs[] = {
        {"kNN entropy, k-d tree (k = 5)", x2, n2, 2, 0, 0},
        {"kNN entropy, brute force O(N^2) (k = 5)", x2, n2, 2, 1, 0},
        {"kNN entropy, blocked dgemm (k = 5)", x64, n64, 64, 0, 0},
        {"kNN entropy, brute force O(N^2) (k = 5)", x64, n64, 64, 1, 0},
        {"histogram entropy, 32 x 32 bins", x2, n2, 2, 4, 0},
        {"SW2, 5,000 vs 5,000, 500 directions", x2, n2, 2, 5, 0},
        {"Vendi q = 2, RBF l = 1", x2, 2000, 2, 2, MF_VENDI_RBF},
        {"Vendi q = 2, RBF l = 1", x64, n64, 64, 2, MF_VENDI_RBF},
        {"Vendi q = 1, RBF l = 1 (dsyevd)", x64, n64, 64, 3, MF_VENDI_RBF},
        {"Vendi q = 2, cosine", x64, n64, 64, 2, MF_VENDI_COSINE},
        {"PF-ODE log-likelihood, 256x3 MLP, 100 Heun steps, exact div", x2, 1000, 2, 6, 0},
    };
    printf("| metric | N | D | best of %zu, 1 thread |\n|---|---|---|---|\n", repeats);
    for (size_t i = 0; i < sizeof jobs / sizeof jobs[0]; i++) {
        double best = INFINITY;
        for (size_t r = 0; r < repeats; r++) {
            double t = run_once(&jobs[i]);
            best = t < best ? t : best;
        }
        printf("| %s | %zu | %zu | %.1f ms |\n", jobs[i].name, jobs[i].n, jobs[i].D, 1e3 * best);
        fflush(stdout);
    }
    mf_mlp_free(net);
    mf_schedule_deinit(&sched);
    mf_free_aligned(x2);
    mf_free_aligned(x64);
    return 0;
}
