/* SPDX-License-Identifier: MIT */
/*
 * json_util.h - small jansson helpers shared by the encoders of proto/, and
 * the wire conventions every encoder follows:
 *
 *   numbers     the shortest text that reads back as the same double
 *               (core/numfmt.h): 0.0004, not 0.00040000000000000002; a real
 *               always looks like one (100.0, 1e+16), an integer never does.
 *               Every JSON text the daemon writes goes through mf_json_dumps.
 *               A float32 value (a sample coordinate) goes in through
 *               mf_json_float and comes out as its float's shortest text.
 *   timestamps  RFC 3339 in UTC with milliseconds, "2026-11-22T12:00:00.000Z"
 *               (mf_json_time), null when there is none: a job's created_at,
 *               started_at, finished_at, a model's and a data set's created.
 */
#ifndef MF_JSON_UTIL_H
#define MF_JSON_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "numfmt.h"

/** A real, or null when not finite (JSON has no NaN or infinity). */
json_t *mf_json_num(double v);

/** A float32 value as a real written with the float's shortest text, or null when not finite. */
json_t *mf_json_float(float v);

/* Room for mf_json_real_text's text: a numfmt text and ".0". */
#define MF_JSON_REAL_CAP (MF_NUMFMT_CAP + 2)

/**
 * A finite v as the wire writes a real: its shortest round-trip text with
 * ".0" when it would otherwise read as an integer ("100.0", "-0.0", "1e+16").
 * Returns the length.
 */
size_t mf_json_real_text(char out[MF_JSON_REAL_CAP], double v);

/**
 * json_dumps(j, flags) with every real written as mf_json_real_text writes
 * it (the flags' JSON_REAL_PRECISION is ignored); integers, strings and
 * layout as jansson writes them.  malloc'd text, NULL when out of memory or
 * when jansson refuses j.
 */
char *mf_json_dumps(const json_t *j, size_t flags);

/* Room for mf_json_time's text: "2026-11-22T12:00:00.000Z" and its NUL. */
#define MF_JSON_TIME_CAP 32

/**
 * Unix time t (seconds, fractions kept to the millisecond, rounded down) as
 * RFC 3339 UTC text "YYYY-MM-DDTHH:MM:SS.sssZ" into out; false (out "") when t
 * is not finite, not > 0, or past year 9999.
 */
bool mf_json_time_text(char out[MF_JSON_TIME_CAP], double t);

/** mf_json_time_text as a JSON string, or null when there is no such time. */
json_t *mf_json_time(double t);

/**
 * Reads RFC 3339 text ("2026-11-22T12:00:00Z", with optional fractional
 * seconds, 'T' or 't' or ' ', and 'Z' or a +HH:MM / -HH:MM offset) as Unix
 * seconds into *ret; false for anything else (*ret unchanged).
 */
bool mf_json_time_parse(const char *s, double *ret);

/** A 64-bit count or seed: an integer up to 2^53 (exact in every JSON reader), else a decimal string. */
json_t *mf_json_u64(uint64_t v);

/** The object, or NULL (and o released) if any of its sets failed (failures != 0). */
json_t *mf_json_checked(json_t *o, int failures);

#endif /* MF_JSON_UTIL_H */
