/* SPDX-License-Identifier: MIT */
/*
 * fuzz_event_id.c - libFuzzer target: the resume point of a job's event
 * stream, server/event_id.c's mf_event_id_parse (the Last-Event-ID header or
 * ?after=), given the input up to its first NUL as libmicrohttpd gives a
 * header value.
 *
 * Invariants (event_id.h): a refusal leaves the result untouched; what is
 * accepted ends in a digit and does not start with '-'; an id written as plain
 * digits that fits 64 bits is always accepted, as its value.
 */
#include <string.h>

#include "event_id.h"
#include "fuzz.h"

/* s as plain decimal digits that fit 64 bits: true and *ret; else false. */
static bool plain_digits(const char *s, uint64_t *ret)
{
    uint64_t v = 0;
    if (*s == '\0') {
        return false;
    }
    for (; *s != '\0'; s++) {
        unsigned dgt = (unsigned) (*s - '0');
        if (dgt > 9 || v > (UINT64_MAX - dgt) / 10) {
            return false;
        }
        v = v * 10 + dgt;
    }
    *ret = v;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstring(data, size, 0);
    const uint64_t untouched = UINT64_C(0x5eed5eed5eed5eed);
    uint64_t v = untouched, want;
    bool ok = mf_event_id_parse(s, &v);
    size_t n = strlen(s);
    if (!ok) {
        FUZZ_CHECK(v == untouched, "a refused '%s' wrote %llu", s, (unsigned long long) v);
    } else {
        FUZZ_CHECK(n > 0 && s[0] != '-' && s[n - 1] >= '0' && s[n - 1] <= '9', "accepted '%s'", s);
    }
    if (plain_digits(s, &want)) {
        FUZZ_CHECK(ok && v == want, "'%s' read as %llu", s, (unsigned long long) v);
    }
    free(s);
    return 0;
}
