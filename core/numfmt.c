/* SPDX-License-Identifier: MIT */
/*
 * numfmt.c - shortest round-trip decimals (see numfmt.h).
 *
 * The search: a decimal of at most DBL_DIG = 15 significant digits survives
 * decimal -> double -> 15 digits unchanged (C11 5.2.4.2.2), so when v has a
 * representation of k <= 15 digits, "%.14e" of v is that one padded with
 * zeros; if "%.14e" does not read back, none shorter does, and 16 then 17
 * digits are tried (17 always reads back).  The same holds for floats with
 * FLT_DIG = 6 and at most 9 digits.  Subnormals carry fewer significant bits,
 * so there the search starts from one digit.  At most three snprintf/strtod
 * pairs per number outside the subnormals.
 */
#include "numfmt.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "%.*e" of v at prec significant digits into buf; true when it reads back as v. */
static bool round_trips(char *buf, double v, int prec, bool as_float)
{
    snprintf(buf, MF_NUMFMT_CAP, "%.*e", prec - 1, v);
    return as_float ? strtof(buf, NULL) == (float) v : strtod(buf, NULL) == v;
}

/*
 * Lays out the digits dig[0..k) (no trailing zeros) with decimal exponent e
 * (v = d0.d1d2... x 10^e) as plain or exponent text; returns the length.
 */
static size_t layout(char *out, bool neg, const char *dig, size_t k, int e)
{
    size_t o = 0;
    if (neg) {
        out[o++] = '-';
    }
    if (e >= -4 && e < 16) {
        if (e < 0) {
            out[o++] = '0';
            out[o++] = '.';
            for (int z = -1; z > e; z--) {
                out[o++] = '0';
            }
            memcpy(out + o, dig, k);
            o += k;
        } else {
            for (size_t i = 0; i <= (size_t) e; i++) {
                out[o++] = i < k ? dig[i] : '0';
            }
            if (k > (size_t) e + 1) {
                out[o++] = '.';
                memcpy(out + o, dig + e + 1, k - (size_t) e - 1);
                o += k - (size_t) e - 1;
            }
        }
        out[o] = '\0';
        return o;
    }
    out[o++] = dig[0];
    if (k > 1) {
        out[o++] = '.';
        memcpy(out + o, dig + 1, k - 1);
        o += k - 1;
    }
    int n = snprintf(out + o, MF_NUMFMT_CAP - o, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    return o + (size_t) n;
}

/* The shortest of lo..hi significant digits that reads back, laid out. */
static size_t shortest(char out[MF_NUMFMT_CAP], double v, int lo, int hi, bool as_float)
{
    const char *fixed = NULL;
    if (isnan(v)) {
        fixed = "nan";
    } else if (isinf(v)) {
        fixed = v < 0 ? "-inf" : "inf";
    } else if (v == 0.0) {
        fixed = signbit(v) ? "-0" : "0";
    }
    if (fixed != NULL) {
        return (size_t) snprintf(out, MF_NUMFMT_CAP, "%s", fixed);
    }
    char buf[MF_NUMFMT_CAP];
    int prec = lo;
    while (prec < hi && !round_trips(buf, v, prec, as_float)) {
        prec++;
    }
    if (prec == hi) {
        (void) round_trips(buf, v, prec, as_float);
    }
    /* buf: [-]d[.ddd]e(+|-)XX */
    const char *p = buf + (buf[0] == '-');
    char dig[MF_NUMFMT_CAP];
    size_t k = 0;
    for (; *p != 'e'; p++) {
        if (*p != '.') {
            dig[k++] = *p;
        }
    }
    int e = (int) strtol(p + 1, NULL, 10);
    while (k > 1 && dig[k - 1] == '0') {
        k--;
    }
    return layout(out, v < 0, dig, k, e);
}

size_t mf_numfmt_double(char out[MF_NUMFMT_CAP], double v)
{
    bool sub = fabs(v) < DBL_MIN;
    return shortest(out, v, sub ? 1 : DBL_DIG, DBL_DECIMAL_DIG, false);
}

size_t mf_numfmt_float(char out[MF_NUMFMT_CAP], float v)
{
    bool sub = fabsf(v) < FLT_MIN;
    return shortest(out, (double) v, sub ? 1 : FLT_DIG, FLT_DECIMAL_DIG, true);
}

double mf_numfmt_float_value(float v)
{
    if (!isfinite(v)) {
        return (double) v;
    }
    char buf[MF_NUMFMT_CAP];
    mf_numfmt_float(buf, v);
    return strtod(buf, NULL);
}
