/* SPDX-License-Identifier: MIT */
/* json_util.h - small jansson helpers shared by the encoders of proto/. */
#ifndef MF_JSON_UTIL_H
#define MF_JSON_UTIL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/** A real, or null when not finite (JSON has no NaN or infinity). */
json_t *mf_json_num(double v);

/** A 64-bit count or seed: an integer up to 2^53 (exact in every JSON reader), else a decimal string. */
json_t *mf_json_u64(uint64_t v);

/** The object, or NULL (and o released) if any of its sets failed (failures != 0). */
json_t *mf_json_checked(json_t *o, int failures);

#endif /* MF_JSON_UTIL_H */
