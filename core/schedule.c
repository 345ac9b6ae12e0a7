/* SPDX-License-Identifier: MIT */
/*
 * schedule.c - parse a noise-schedule spec and tabulate beta and alpha_bar in
 * double precision.  Linear betas follow torch.linspace(beta_min, beta_max, T)
 * (beta_t = beta_min + (beta_max - beta_min) t/(T-1)); the cosine schedule is
 * Nichol & Dhariwal (2021), eq. 17, with beta clipped at 0.999.
 */
#include "schedule.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

/* Parses one ':'-terminated (or final) number of the spec; advances *p. */
static int parse_number(const char **p, double *ret)
{
    char *end;
    errno = 0;
    double v = strtod(*p, &end);
    if (end == *p || errno != 0 || !isfinite(v) || (*end != ':' && *end != '\0')) {
        return -1;
    }
    *p = (*end == ':') ? end + 1 : end;
    *ret = v;
    return 0;
}

static int parse_count(const char **p, size_t *ret)
{
    double v;
    const char *start = *p;
    if (parse_number(p, &v) != 0 || v != floor(v) || v < 2 || v > MF_SCHEDULE_MAX_T) {
        return -1;
    }
    /* Reject "1000.0" and "1e3": the integer T must be written as one. */
    for (const char *c = start; *c != ':' && *c != '\0'; c++) {
        if (*c < '0' || *c > '9') {
            return -1;
        }
    }
    *ret = (size_t) v;
    return 0;
}

static double cosine_f(double u, double T, double s)
{
    double c = cos((u / T + s) / (1.0 + s) * 1.5707963267948966);
    return c * c;
}

mf_err mf_schedule_init(mf_schedule *ret, const char *spec, mf_diag *diag)
{
    const char *field = "schedule";
    if (spec == NULL || strlen(spec) >= sizeof ret->spec) {
        return mf_diag_set(diag, MF_EFORMAT, field, "schedule spec missing or too long");
    }

    enum {
        LINEAR,
        COSINE
    } kind;

    const char *p;
    double a = 0, b = 0;
    size_t T = 0;
    if (strncmp(spec, "linear:", 7) == 0) {
        kind = LINEAR;
        p = spec + 7;
        if (parse_number(&p, &a) != 0 || parse_number(&p, &b) != 0 || parse_count(&p, &T) != 0 ||
            *p != '\0') {
            return mf_diag_set(diag, MF_EFORMAT, field,
                               "schedule '%s' is not linear:BETA_MIN:BETA_MAX:T", spec);
        }
        if (!(a > 0 && b >= a && b < 1)) {
            return mf_diag_set(diag, MF_ERANGE, field,
                               "linear schedule needs 0 < beta_min <= beta_max < 1");
        }
    } else if (strncmp(spec, "cosine:", 7) == 0) {
        kind = COSINE;
        p = spec + 7;
        if (parse_number(&p, &a) != 0 || parse_count(&p, &T) != 0 || *p != '\0') {
            return mf_diag_set(diag, MF_EFORMAT, field, "schedule '%s' is not cosine:S:T", spec);
        }
        if (!(a >= 0 && a <= 1)) {
            return mf_diag_set(diag, MF_ERANGE, field, "cosine schedule needs 0 <= s <= 1");
        }
    } else {
        return mf_diag_set(diag, MF_EFORMAT, field,
                           "unknown schedule '%.40s' (linear:... or cosine:...)", spec);
    }

    double *beta = mf_alloc_doubles(T);
    double *abar = mf_alloc_doubles(T);
    if (beta == NULL || abar == NULL) {
        mf_free_aligned(beta);
        mf_free_aligned(abar);
        return mf_diag_set(diag, MF_ENOMEM, field, "out of memory for the schedule");
    }
    double prod = 1.0;
    for (size_t t = 0; t < T; t++) {
        if (kind == LINEAR) {
            beta[t] = a + (b - a) * (double) t / (double) (T - 1);
        } else {
            double r =
                cosine_f((double) t + 1, (double) T, a) / cosine_f((double) t, (double) T, a);
            beta[t] = fmin(1.0 - r, 0.999);
        }
        prod *= 1.0 - beta[t];
        abar[t] = prod;
    }
    ret->T = T;
    ret->beta = beta;
    ret->alpha_bar = abar;
    snprintf(ret->spec, sizeof ret->spec, "%s", spec);
    return MF_OK;
}

void mf_schedule_deinit(mf_schedule *s)
{
    if (s == NULL) {
        return;
    }
    mf_free_aligned(s->beta);
    mf_free_aligned(s->alpha_bar);
    s->beta = NULL;
    s->alpha_bar = NULL;
    s->T = 0;
}

double mf_schedule_alpha_bar(const mf_schedule *s, long t)
{
    if (t < 0) {
        return 1.0;
    }
    return s->alpha_bar[(size_t) t < s->T ? (size_t) t : s->T - 1];
}

/* ---- continuous time (schedule.h) ---------------------------------------------------- */

/* B at knot j = 0..T: -log alpha_bar_{j-1}, 0 at j = 0. */
static double knot_b(const mf_schedule *s, size_t j)
{
    return j == 0 ? 0.0 : -log(s->alpha_bar[j - 1]);
}

/* The Hermite slope at knot j: central differences, one-sided at 0 and T. */
static double knot_slope(const mf_schedule *s, size_t j)
{
    double T = (double) s->T;
    if (j == 0) {
        return (knot_b(s, 1) - knot_b(s, 0)) * T;
    }
    if (j == s->T) {
        return (knot_b(s, s->T) - knot_b(s, s->T - 1)) * T;
    }
    return (knot_b(s, j + 1) - knot_b(s, j - 1)) * T / 2.0;
}

void mf_schedule_ct(const mf_schedule *s, double tau, double *ret_beta, double *ret_abar)
{
    double T = (double) s->T;
    tau = tau < 0 ? 0 : tau > 1 ? 1 : tau;
    double pos = tau * T;
    size_t j = (size_t) floor(pos);
    if (j >= s->T) {
        j = s->T - 1; /* tau = 1: the last interval's right end */
    }
    /* cubic Hermite on [j/T, (j+1)/T] in u = pos - j in [0, 1], interval length 1/T */
    double u = pos - (double) j, h = 1.0 / T;
    double p0 = knot_b(s, j), p1 = knot_b(s, j + 1);
    double m0 = knot_slope(s, j) * h, m1 = knot_slope(s, j + 1) * h; /* per unit u */
    double u2 = u * u, u3 = u2 * u;
    double B = (2 * u3 - 3 * u2 + 1) * p0 + (u3 - 2 * u2 + u) * m0 + (-2 * u3 + 3 * u2) * p1 +
               (u3 - u2) * m1;
    double dB = (6 * u2 - 6 * u) * p0 + (3 * u2 - 4 * u + 1) * m0 + (-6 * u2 + 6 * u) * p1 +
                (3 * u2 - 2 * u) * m1; /* dB/du */
    if (ret_beta != NULL) {
        *ret_beta = dB * T; /* du/dtau = T */
    }
    if (ret_abar != NULL) {
        *ret_abar = exp(-B);
    }
}
