/* SPDX-License-Identifier: MIT */
/*
 * numfmt.h - numbers as the shortest decimal text that reads back exactly.
 *
 * Every number the project writes as text (model metadata, the wire's JSON)
 * goes through here, so 4e-4 is written "0.0004", never
 * "0.00040000000000000002", and strtod (strtof for the float form) of the
 * text gives back the very same value.  Plain: digits, one '.', an exponent
 * "e-05" / "e+16" outside 1e-4 <= |v| < 1e16 (Python's repr and JavaScript
 * make the same choice); a whole number has no ".0" (JSON writers add it).
 * Reentrant; the C locale's '.' is assumed (the daemon never sets another).
 */
#ifndef MF_NUMFMT_H
#define MF_NUMFMT_H

#include <stddef.h>

/* Room for any text below with its NUL: "-2.2250738585072014e-308". */
#define MF_NUMFMT_CAP 32

/**
 * The shortest decimal of v that strtod reads back as v (at most 17
 * significant digits) into out; returns its length.  -0.0 is "-0";
 * non-finite values are "nan", "inf", "-inf".
 */
size_t mf_numfmt_double(char out[MF_NUMFMT_CAP], double v);

/** The same for a float: the shortest decimal strtof reads back as v (at most 9 digits). */
size_t mf_numfmt_float(char out[MF_NUMFMT_CAP], float v);

/**
 * The double nearest the shortest decimal of v, so a writer that prints
 * doubles with mf_numfmt_double prints v as mf_numfmt_float would ("0.1",
 * not "0.10000000149011612").  Non-finite values pass through.
 */
double mf_numfmt_float_value(float v);

#endif /* MF_NUMFMT_H */
