/* SPDX-License-Identifier: MIT */
/*
 * digits_data.h - private: the raw UCI 8x8 digits table, generated into
 * digits_data.c by tools/gen_digits_data.py.  Use the mf_dataset_digits_*
 * functions of dataset.h instead; this header exists for dataset.c and tests.
 */
#ifndef MF_DIGITS_DATA_H
#define MF_DIGITS_DATA_H

#include <stdint.h>

#define MF__DIGITS_N      1797 /* images */
#define MF__DIGITS_PIXELS 64   /* 8x8, row-major, values 0..16 */
#define MF__DIGITS_ROW    65   /* 64 pixels, then the label 0..9 */

/** Row i: image i of sklearn's digits.csv.gz, pixels then label.  Read-only. */
extern const uint8_t mf__digits_data[MF__DIGITS_N][MF__DIGITS_ROW];

#endif /* MF_DIGITS_DATA_H */
