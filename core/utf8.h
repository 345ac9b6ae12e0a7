/* SPDX-License-Identifier: MIT */
/*
 * utf8.h - UTF-8 checks for text that leaves core/: metadata written into
 * model files, and names quoted in mf_diag messages, which end up in JSON
 * error bodies and logs and must therefore be valid UTF-8.
 *
 * Threading: every function is reentrant.
 */
#ifndef MF_UTF8_H
#define MF_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/**
 * True when s[0..len) is well-formed UTF-8: no overlong forms, no UTF-16
 * surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequence.
 * This is the set of strings jansson accepts.  s may be NULL when len is 0.
 */
bool mf_utf8_valid(const char *s, size_t len);

/**
 * Copies s (NUL-terminated; NULL reads as "") into out[cap] (cap >= 4) for
 * display in a message or diag field: invalid UTF-8 bytes and control
 * characters become '?', and a string that does not fit is cut on a
 * character boundary and ends in "...".  The result is always valid UTF-8.
 */
void mf_utf8_snippet(char *out, size_t cap, const char *s);

/**
 * Makes s (NUL-terminated) valid UTF-8 in place: each byte of an ill-formed
 * sequence becomes '?' (so the length stays), well-formed text, control
 * characters included, is left alone.  Returns the number of bytes replaced.
 */
size_t mf_utf8_repair(char *s);

/** Cuts a trailing incomplete UTF-8 sequence off s (left by a truncating snprintf). */
void mf_utf8_trim(char *s);

/** Length of the UTF-8 sequence lead byte c starts (1 for any other byte, so a loop never stalls).
 */
size_t mf_utf8_len(unsigned char c);

#endif /* MF_UTF8_H */
