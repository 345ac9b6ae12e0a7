/* SPDX-License-Identifier: MIT */
/*
 * schedule.h - DDPM noise schedules.
 *
 * Spec strings (model metadata "schedule"):
 *   linear:BETA_MIN:BETA_MAX:T   beta_t linear from BETA_MIN to BETA_MAX, t = 0..T-1
 *   cosine:S:T                   f(u) = cos^2((u/T + s)/(1 + s) * pi/2),
 *                                beta_t = min(1 - f(t+1)/f(t), 0.999)
 * alpha_bar_t = prod_{s<=t} (1 - beta_s), kept in double.
 */
#ifndef MF_SCHEDULE_H
#define MF_SCHEDULE_H

#include "err.h"

#include <stddef.h>

#define MF_SCHEDULE_MAX_T 100000

typedef struct mf_schedule {
    size_t T;
    double *beta;      /* (T), owned */
    double *alpha_bar; /* (T), owned */
    char spec[96];     /* canonical spec string */
} mf_schedule;

/**
 * Parses and builds a schedule.  Errors: MF_EFORMAT (syntax, named in diag),
 * MF_ERANGE (T or betas out of range), MF_ENOMEM.  *ret is written only on success.
 */
MF_MUST_CHECK mf_err mf_schedule_init(mf_schedule *ret, const char *spec, mf_diag *diag);

/** Releases the arrays; accepts a zeroed struct. */
void mf_schedule_deinit(mf_schedule *s);

/** alpha_bar at timestep t; 1.0 for t < 0 (the "step after the last" of DDIM). */
double mf_schedule_alpha_bar(const mf_schedule *s, long t);

#endif /* MF_SCHEDULE_H */
