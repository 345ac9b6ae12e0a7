/* SPDX-License-Identifier: MIT */
/*
 * dxmi.h - DxMI with DxDP: a few-step sampler fine-tuned by maximum-entropy
 * inverse RL against a jointly trained energy model (Yoon et al., NeurIPS
 * 2024; reference/other-seeds.md §2, the losses of §2.4 as the authors'
 * code implements them, the iteration of §2.6; settings and pitfalls from
 * dxmi-reference-run.md).
 *
 * Three networks, all on MODEL space (the parent's normalised space):
 *   the sampler  x_{t+1} = xmult_t x_t + cmult_t eps_theta(x_t, tau_t) + sigma_t z
 *                (var_sched.h), eps_theta a trainable copy of the parent,
 *                log sigma_t trainable for t < T-1;
 *   the energy   E(x), a scalar MLP (reward.h's mlp kind: D -> H.. -> 1, SiLU);
 *                low on data;
 *   the value    V(x, t), a scalar MLP on [x, emb(t)], emb the sinusoidal
 *                embedding of mlp.h of the integer generation step t
 *                (value_emb wide); cost-to-go, V(., T) = E.
 * Signs (pitfall 4): the sampler minimises E and V; entropy enters as
 * -tau_entropy log sigma_t.
 *
 * One iteration (mf_dxmi_step), B = batch, x+ the caller's data rows:
 *  1. rollout x_0 ~ N(0, I) -> x_T without gradients; x- = x_T;
 *  2. AVR: s2_t <- a s2_t + (1 - a) mean_{rows,dims} (x_{t+1} - x_t)^2
 *     (s2 starts at the short chain's beta~ reversed: s2_t = beta~_{T-1-t});
 *  3. EBM: L_E = mean E(x+) - mean E(x-) + gamma (mean E(x+)^2 + mean E(x-)^2),
 *     per-row upstream gradients (1 + 2 gamma E(x+))/B and (-1 + 2 gamma E(x-))/B;
 *     optional global-norm clip; Adam;
 *  4. value TD, t = T-1 down to 0, one Adam step each:
 *     x' = a fresh draw of x_{t+1} from the current sampler at x_t,
 *     c_t = |x' - x_t|^2 / (D 2 s2_t),
 *     target = [t = T-1 ? E(x') : V(x', t+1)] + tau_velocity c_t - tau_entropy log sigma_t,
 *     L_V(t) = mean (V(x_t, t) - target)^2;
 *  5. after `warmup` iterations, n_generator sampler steps, each on B buffer
 *     states (x_t, t) drawn without replacement from the rollout's T B states:
 *     x' = mu_theta(x_t, t) + sigma_t z (reparameterised),
 *     L = mean [ Vn(x') + tau_velocity c_t - tau_entropy log sigma_t ],
 *     Vn = E at t = T-1, V(., t+1) otherwise; hand gradients (x_t constant):
 *       g = grad_x Vn(x') + tau_velocity (x' - x_t) / (D s2_t),
 *       dL/dmu = g / B (then backward through eps_theta times cmult_t),
 *       dL/dlog sigma_t = sum over rows at t of (g . sigma_t z - tau_entropy) / B;
 *     one global-norm clip over the eps parameters and log sigma together
 *     (clip_sampler); Adam with lr_sampler on eps and lr_sigma on log sigma.
 * Each network has its own Adam (beta1 0.9, beta2 0.999, eps 1e-8).
 *
 * Randomness: iteration i draws everything (x_0, the rollout's, the TD's
 * and the sampler step's noise, the buffer permutation) from streams derived
 * from (seed, i), so a run split over restarts draws the same numbers; its
 * rollout is exactly mf_sample's MF_SAMPLER_VAR run with a seed derived from
 * (seed, i).  s2_t is kept above 1e-12.
 * Initialisation: E and V by PyTorch's nn.Linear rule from the seed.
 *
 * Threading: mf_dxmi_set_executor splits rows of every batch over threads;
 * results are identical for every thread count up to float summation order.
 */
#ifndef MF_DXMI_H
#define MF_DXMI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "mlp.h"
#include "reward.h"
#include "sampler.h"
#include "schedule.h"
#include "train.h"
#include "var_sched.h"

#define MF_DXMI_MAX_HIDDEN MF_REWARD_MAX_HIDDEN

typedef struct mf_dxmi_opts {
    size_t T;                                 /* sampler steps (5), 2..MF_VAR_MAX_T */
    mf_var_sched_kind schedule;               /* (code) */
    double tau_entropy;                       /* tau1 (0.1), [0, 10] */
    double tau_velocity;                      /* tau2 (0.01), [0, 10] */
    double gamma;                             /* EBM energy-square penalty (1), [0, 100] */
    double adavelreg;                         /* AVR decay a (0.99), [0, 1) */
    double lr_sampler;                        /* eps-network Adam rate (1e-5), [0, 1] */
    double lr_sigma;                          /* log sigma Adam rate (1e-4), [0, 1] */
    double lr_energy;                         /* (1e-4), [0, 1] */
    double lr_value;                          /* (1e-3), [0, 1] */
    double clip_sampler;                      /* global norm, 0 = none (0.1), [0, 1e6] */
    double clip_energy;                       /* global norm, 0 = none (0), [0, 1e6] */
    size_t batch;                             /* B (512), 1..65536 */
    size_t warmup;                            /* iterations of EBM and V only (200) */
    size_t n_generator;                       /* sampler steps per iteration (1), 1..T */
    size_t energy_hidden[MF_DXMI_MAX_HIDDEN]; /* (128, 128) */
    size_t n_energy_hidden;                   /* (2), 1..MF_DXMI_MAX_HIDDEN */
    size_t value_hidden[MF_DXMI_MAX_HIDDEN];  /* (128, 128) */
    size_t n_value_hidden;                    /* (2) */
    size_t value_emb;                         /* width of V's time embedding (16), even, 2..256 */
    uint64_t seed;                            /* (0) */
    mf_precision rollout; /* the rollouts' forward passes: f32 (0), or bf16 where
                             mf_precision_effective allows (core/bf16_net.h, the layers made
                             from the sampler each iteration); its gradient steps stay float */
} mf_dxmi_opts;

/** The defaults above: dxmi-reference-run.md's run F (the authors' schedule). */
mf_dxmi_opts mf_dxmi_opts_default(void);

/*
 * The recipe for data of dimension D, and its iterations:
 *   D <= 8  the defaults (run F: T = 5), 4,000 iterations (oracle 3);
 *   above   T = 10, tau_entropy 0.01, lr_sampler 5e-7, lr_energy 3e-4,
 *           batch 128, 1,200 iterations: what oracle 6 found on digits
 *           (tests/core/test_dxmi_digits.c), where run F's lr_sampler 1e-5
 *           ruins the samples within 100 sampler steps and past about 1,500
 *           iterations the samples drift off the data again.
 */
mf_dxmi_opts mf_dxmi_opts_for_dim(size_t D);
size_t mf_dxmi_iters_for_dim(size_t D);

#define MF_DXMI_LOW_DIM 8 /* the largest D of the 2-D recipe */

/**
 * Checks every field against its range; on failure diag (may be NULL) names
 * the field in diag->field ("tau_entropy", "energy_hidden", ...).  Errors: MF_EINVAL.
 */
MF_MUST_CHECK mf_err mf_dxmi_opts_check(const mf_dxmi_opts *o, mf_diag *diag);

typedef struct mf_dxmi_stats {
    size_t iter;                       /* iterations done, this one included */
    double pos_e, neg_e;               /* mean E(x+), mean E(x-) */
    double ebm_loss, ebm_reg;          /* L_E and its gamma term */
    double td_loss[MF_VAR_MAX_T];      /* L_V(t) by generation step t */
    double value_mean[MF_VAR_MAX_T];   /* mean V(x_t, t) */
    double running_cost[MF_VAR_MAX_T]; /* mean c_t of the rollout */
    double sigma[MF_VAR_MAX_T];        /* sigma_t after the step */
    double s2[MF_VAR_MAX_T];           /* s2_t after AVR */
    bool sampler_updated;              /* false during warm-up: the next three NAN */
    double sampler_loss;               /* L of the last sampler step */
    double sampler_value_term;         /* mean Vn(x') */
    double sampler_entropy_term;       /* mean log sigma_t over the states */
} mf_dxmi_stats;

typedef struct mf_dxmi mf_dxmi;

/**
 * A run fine-tuning a copy of `parent` (the caller keeps it) on schedule s.
 * Errors: MF_EINVAL (options, parent conditional), MF_ERANGE (the short
 * chain), MF_ENOMEM.  *ret only on success.
 */
MF_MUST_CHECK mf_err mf_dxmi_new(const mf_mlp *parent, const mf_schedule *s, const mf_dxmi_opts *o,
                                 mf_dxmi **ret, mf_diag *diag);
void mf_dxmi_free(mf_dxmi *dx);

/**
 * The executor of the following steps and samples (train.h's mf_par_for_fn)
 * and how many tasks to split them into (1..16; more are cut to 16; fn NULL:
 * 1, on the calling thread).  Allocates one forward workspace per thread.
 * Errors: MF_ENOMEM (the previous executor then stays).
 */
MF_MUST_CHECK mf_err mf_dxmi_set_executor(mf_dxmi *dx, mf_par_for_fn fn, void *exec,
                                          size_t threads);

/**
 * One iteration on x_pos (batch, D): data rows in model space, drawn by the
 * caller.  Errors: MF_ERANGE (a non-finite loss or parameter: the run
 * diverged; state is then unspecified, *ret not written), MF_EINVAL (NULL,
 * a non-finite x_pos).
 */
MF_MUST_CHECK mf_err mf_dxmi_step(mf_dxmi *dx, const float *x_pos, mf_dxmi_stats *ret);

/** Iterations done. */
size_t mf_dxmi_iters_done(const mf_dxmi *dx);

/** The current networks and short chain (borrowed; change with each step). */
const mf_mlp *mf_dxmi_eps(const mf_dxmi *dx);
const mf_var_sched *mf_dxmi_sched(const mf_dxmi *dx);
const mf_reward_model *mf_dxmi_energy(const mf_dxmi *dx);
const mf_reward_model *mf_dxmi_value(const mf_dxmi *dx);
/** s2_t (T values, borrowed). */
const double *mf_dxmi_s2(const mf_dxmi *dx);

/**
 * n samples of the current sampler into x (n, D), model space, as
 * mf_sample with MF_SAMPLER_VAR would draw them for (seed, first index 0).
 * Errors: MF_EINVAL (x NULL, n 0), MF_ENOMEM.
 */
MF_MUST_CHECK mf_err mf_dxmi_sample(mf_dxmi *dx, uint64_t seed, float *x, size_t n);

/**
 * Continues from a checkpoint after iters_done iterations: the eps
 * parameters (n_params of the parent), sigma (T), the energy's and value's
 * parameters and s2 (T).  Adam moments restart from zero (a checkpoint
 * does not hold them), so a resumed run is close to, not equal to, an
 * uninterrupted one.  Errors: MF_EINVAL (shapes, non-finite values).
 */
MF_MUST_CHECK mf_err mf_dxmi_restore(mf_dxmi *dx, size_t iters_done, const float *eps_params,
                                     const double *sigma, const mf_reward_model *energy,
                                     const mf_reward_model *value, const double *s2);

#endif /* MF_DXMI_H */
