/* SPDX-License-Identifier: MIT */
/* png.h - write an 8-bit grey-scale PNG with no compression library (stored deflate blocks). */
#ifndef MF_PNG_H
#define MF_PNG_H

#include <stddef.h>
#include <stdint.h>

/** Writes pixels (h rows of w bytes) to path; returns 0 or -1 (errno set). */
int mf_png_write_gray(const char *path, const uint8_t *pixels, size_t w, size_t h);

#endif /* MF_PNG_H */
