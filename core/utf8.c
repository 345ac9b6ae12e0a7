/* SPDX-License-Identifier: MIT */
/*
 * utf8.c - UTF-8 validation (RFC 3629's well-formed table) and the display
 * snippet of mf_diag fields.  Both walk the text one sequence at a time with
 * seq_len, which never reads past the bytes it is given.
 */
#include "utf8.h"

#include <string.h>

/* Length of the well-formed UTF-8 sequence at s (avail bytes left), 0 if ill-formed. */
static size_t seq_len(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        return 1;
    }
    if (c < 0xc2) {
        return 0; /* continuation byte or overlong 2-byte lead */
    }
    if (c < 0xe0) {
        return (avail >= 2 && (s[1] & 0xc0) == 0x80) ? 2 : 0;
    }
    if (c < 0xf0) {
        unsigned char lo = c == 0xe0 ? 0xa0 : 0x80; /* no overlongs */
        unsigned char hi = c == 0xed ? 0x9f : 0xbf; /* no UTF-16 surrogates */
        return (avail >= 3 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80) ? 3 : 0;
    }
    if (c < 0xf5) {
        unsigned char lo = c == 0xf0 ? 0x90 : 0x80; /* no overlongs */
        unsigned char hi = c == 0xf4 ? 0x8f : 0xbf; /* nothing above U+10FFFF */
        return (avail >= 4 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
                (s[3] & 0xc0) == 0x80)
                   ? 4
                   : 0;
    }
    return 0;
}

bool mf_utf8_valid(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *) s;
    size_t i = 0;
    while (i < len) {
        size_t n = seq_len(u + i, len - i);
        if (n == 0) {
            return false;
        }
        i += n;
    }
    return true;
}

void mf_utf8_snippet(char *out, size_t cap, const char *s)
{
    const unsigned char *u = (const unsigned char *) (s != NULL ? s : "");
    /* Sanitising keeps the length (one '?' per bad byte), so this is exact. */
    size_t len = strlen((const char *) u), i = 0, o = 0;
    bool fits = len < cap;
    size_t room = fits ? len : cap - 4; /* keep space for "..." and the NUL */
    while (i < len) {
        size_t n = seq_len(u + i, len - i);
        size_t w = n == 0 ? 1 : n;
        if (o + w > room) {
            break;
        }
        if (n == 0 || (n == 1 && (u[i] < 0x20 || u[i] == 0x7f))) {
            out[o] = '?';
        } else {
            memcpy(out + o, u + i, n);
        }
        o += w;
        i += w;
    }
    if (fits) {
        out[o] = '\0';
    } else {
        memcpy(out + o, "...", 4);
    }
}

size_t mf_utf8_repair(char *s)
{
    unsigned char *u = (unsigned char *) s;
    size_t len = strlen(s), i = 0, bad = 0;
    while (i < len) {
        size_t n = seq_len(u + i, len - i);
        if (n == 0) {
            u[i] = '?';
            bad++;
            n = 1;
        }
        i += n;
    }
    return bad;
}

size_t mf_utf8_len(unsigned char c)
{
    if ((c & 0xE0) == 0xC0) {
        return 2;
    }
    if ((c & 0xF0) == 0xE0) {
        return 3;
    }
    if ((c & 0xF8) == 0xF0) {
        return 4;
    }
    return 1;
}

void mf_utf8_trim(char *s)
{
    size_t n = strlen(s);
    size_t i = n;
    /* Back over at most 3 continuation bytes to the lead byte of the last character. */
    while (i > 0 && n - i < 3 && ((unsigned char) s[i - 1] & 0xC0) == 0x80) {
        i--;
    }
    if (i > 0 && i - 1 + mf_utf8_len((unsigned char) s[i - 1]) > n) {
        s[i - 1] = '\0';
    }
}
