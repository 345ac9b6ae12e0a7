/* SPDX-License-Identifier: MIT */
/* png.h - write an 8-bit grey-scale PNG with no compression library (stored deflate blocks). */
#ifndef MF_PNG_H
#define MF_PNG_H

#include <stddef.h>
#include <stdint.h>

/** Writes pixels (h rows of w bytes) to path; returns 0 or -1 (errno set). */
int mf_png_write_gray(const char *path, const uint8_t *pixels, size_t w, size_t h);

/**
 * Writes n 8x8 digit images x (n, 64), pixel values 0..16 (clamped), as a grid of 10
 * columns to path: each image scaled x4 in a cell with a 1-pixel white border, values
 * mapped to 255..0 (ink dark).  Returns 0 or -1 (errno set).
 */
int mf_png_write_digits(const char *path, const float *x, size_t n);

#endif /* MF_PNG_H */
