/* SPDX-License-Identifier: MIT */
/*
 * smeme_bench - seconds per Adjoint Matching round and per S-MEME job in C,
 * with the settings of ../shared/bench/smeme_torch/smeme.py (run C of
 * ../shared/reference/smeme-reference-run.md: N 100, m 64, B 2048, 2 Adam
 * steps, lr 4e-4, clip_grad 1, |a_N| <= 2.5, tau_r 10, alpha 2), so that
 * bench/smeme.sh can put both side by side.
 *
 * The job is timed as smeme.py times it: from after the parent's evaluation
 * to the end, K iterations of `rounds` rounds, each followed by an
 * evaluation of n_eval samples (100-step DDPM, the 20-bin histogram entropy
 * on [-1, 1]^2 and the inside fraction).  Rows run on a thread team
 * (server/par.h) of --threads threads, as in the daemon.
 *
 * usage: smeme_bench --model FILE [--threads N] [--K K] [--rounds R] [--neval N]
 *                    [--round-reps R] [--rollout f32|bf16]
 * --rollout: the trajectories' forward passes (mf_am_opts.rollout; f32 by default).
 * Prints one JSON line.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu.h"
#include "entropy.h"
#include "mem.h"
#include "model_file.h"
#include "par.h"
#include "sampler.h"
#include "smeme.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

/* n samples of net (100-step DDPM), their 20-bin entropy on [-1,1]^2 and inside fraction. */
static int evaluate(mf_par *team, const mf_model *m, const mf_mlp *net, float *x, size_t n,
                    double *ret_h, double *ret_inside)
{
    mf_sampler_opts o = {.kind = MF_SAMPLER_DDPM, .steps = 100, .seed = 1000};
    if (mf_par_sample(team, net, &m->sched, &o, x, n) != MF_OK) {
        return -1;
    }
    mf_model_to_data(m, x, n * 2);
    mf_hist_entropy he;
    if (mf_entropy_hist2d(x, n, -1.0, 1.0, 20, &he) != MF_OK) {
        return -1;
    }
    *ret_h = he.entropy;
    *ret_inside = 1.0 - he.outside_frac;
    return 0;
}

int main(int argc, char **argv)
{
    const char *model = NULL;
    size_t threads = 2, K = 2, rounds = 200, n_eval = 20000, reps = 20;
    mf_precision rollout = MF_PRECISION_F32;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--model") == 0) {
            model = argv[i + 1];
        } else if (strcmp(argv[i], "--threads") == 0) {
            threads = strtoul(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--K") == 0) {
            K = strtoul(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--rounds") == 0) {
            rounds = strtoul(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--neval") == 0) {
            n_eval = strtoul(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--round-reps") == 0) {
            reps = strtoul(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--rollout") == 0) {
            rollout = strcmp(argv[i + 1], "bf16") == 0 ? MF_PRECISION_BF16 : MF_PRECISION_F32;
        } else {
            fprintf(stderr, "smeme_bench: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (model == NULL || threads < 1 || K < 1 || K > MF_SMEME_MAX_K || rounds < 1 || reps < 1 ||
        n_eval < 10) {
        fprintf(stderr, "usage: smeme_bench --model FILE [--threads N] [--K K] [--rounds R] "
                        "[--neval N] [--round-reps R] [--rollout f32|bf16]\n");
        return 2;
    }
    mf_cpu_ensure_blas_coretype(argv);
    mf_cpu_set_blas_threads(1); /* the team splits rows; OpenBLAS runs single-threaded */
    mf_model *m = NULL;
    mf_diag d = {0};
    mf_par *team = NULL;
    if (mf_model_load_file(model, 1u << 28, &m, &d) != MF_OK || m->net->cfg.data_dim != 2 ||
        mf_par_new(threads, &team) != MF_OK) {
        fprintf(stderr, "smeme_bench: cannot load %s (a 2-D model) or start %zu threads\n", model,
                threads);
        return 1;
    }
    mf_smeme_opts o = mf_smeme_opts_default();
    o.K = K;
    o.rounds = rounds;
    o.am.rollout = rollout;
    float *x = mf_alloc_floats(n_eval * 2);
    mf_smeme *sm = NULL;
    if (x == NULL || mf_smeme_new(m->net, &m->sched, &o, &sm) != MF_OK) {
        return 1;
    }
    mf_smeme_set_executor(sm, mf_par_for_exec, team, threads);

    /* one round: the best of reps timed rounds after 3 warm-up ones, on a scratch run */
    mf_smeme *scratch = NULL;
    mf_smeme_opts so = o;
    so.K = 1;
    so.rounds = reps + 4; /* never runs out */
    if (mf_smeme_new(m->net, &m->sched, &so, &scratch) != MF_OK) {
        return 1;
    }
    mf_smeme_set_executor(scratch, mf_par_for_exec, team, threads);
    double best = INFINITY, sum = 0.0;
    for (size_t r = 0; r < reps + 3; r++) {
        double t0 = now_s();
        if (mf_smeme_step(scratch, NULL) != MF_OK) {
            return 1;
        }
        double t = now_s() - t0;
        if (r >= 3) {
            best = fmin(best, t);
            sum += t;
        }
    }
    mf_smeme_free(scratch);

    double h[MF_SMEME_MAX_K + 1], inside[MF_SMEME_MAX_K + 1], it_s[MF_SMEME_MAX_K];
    if (evaluate(team, m, m->net, x, n_eval, &h[0], &inside[0]) != 0) {
        return 1;
    }
    double job0 = now_s();
    for (size_t k = 1; k <= K; k++) {
        double t0 = now_s();
        while (mf_smeme_iterations_done(sm) < k) {
            if (mf_smeme_step(sm, NULL) != MF_OK) {
                return 1;
            }
        }
        it_s[k - 1] = now_s() - t0;
        if (evaluate(team, m, mf_smeme_model(sm), x, n_eval, &h[k], &inside[k]) != 0) {
            return 1;
        }
    }
    double job_s = now_s() - job0;
    printf("{\"impl\": \"manifold-c\", \"threads\": %zu, \"K\": %zu, \"rounds\": %zu, "
           "\"round_s_best\": %.5f, \"round_s_mean\": %.5f, \"job_s\": %.2f, \"iteration_s\": [",
           threads, K, rounds, best, sum / (double) reps, job_s);
    for (size_t k = 0; k < K; k++) {
        printf("%s%.2f", k ? ", " : "", it_s[k]);
    }
    printf("], \"H_hist20\": [");
    for (size_t k = 0; k <= K; k++) {
        printf("%s%.4f", k ? ", " : "", h[k]);
    }
    printf("], \"inside\": [");
    for (size_t k = 0; k <= K; k++) {
        printf("%s%.4f", k ? ", " : "", inside[k]);
    }
    printf("], \"n_eval\": %zu, \"rollout\": \"%s\"}\n", n_eval, mf_precision_names[rollout]);
    mf_smeme_free(sm);
    mf_free_aligned(x);
    mf_par_free(team);
    mf_model_free(m);
    return 0;
}
