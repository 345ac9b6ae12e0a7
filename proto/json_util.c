/* SPDX-License-Identifier: MIT */
/* json_util.c - see json_util.h. */
#include "json_util.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *mf_json_num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

json_t *mf_json_float(float v)
{
    return isfinite(v) ? json_real(mf_numfmt_float_value(v)) : json_null();
}

size_t mf_json_real_text(char out[MF_JSON_REAL_CAP], double v)
{
    size_t n = mf_numfmt_double(out, v);
    if (strpbrk(out, ".en") == NULL) { /* n: inf, nan (never on the wire) */
        memcpy(out + n, ".0", 3);
        n += 2;
    }
    return n;
}

/* out[*o..] = s[0..n), growing out (*cap) as needed; false when out of memory (out freed). */
static bool put(char **out, size_t *o, size_t *cap, const char *s, size_t n)
{
    if (*o + n + 1 > *cap) {
        size_t want = 2 * *cap + n + 1;
        char *grown = realloc(*out, want);
        if (grown == NULL) {
            free(*out);
            *out = NULL;
            return false;
        }
        *out = grown;
        *cap = want;
    }
    memcpy(*out + *o, s, n);
    *o += n;
    return true;
}

/*
 * jansson writes every real with "%.17g" (JSON_REAL_PRECISION fixes the
 * digits, it cannot pick the fewest), which reads back exactly but shows
 * 0.0004 as 0.00040000000000000002.  So the text is dumped exactly and each
 * number token outside a string that is a real (it has '.', 'e' or 'E';
 * jansson marks every real so) is read back and written again shortest.
 */
char *mf_json_dumps(const json_t *j, size_t flags)
{
    size_t precision = (size_t) JSON_REAL_PRECISION(31);
    char *in = json_dumps(j, (flags & ~precision) | JSON_REAL_PRECISION(17));
    if (in == NULL) {
        return NULL;
    }
    size_t len = strlen(in), cap = len + len / 8 + 16, o = 0;
    char *out = malloc(cap);
    bool in_string = false, ok = out != NULL;
    for (size_t i = 0; i < len && ok;) {
        char c = in[i];
        if (in_string || (c != '-' && (c < '0' || c > '9'))) {
            size_t n = in_string && c == '\\' ? 2 : 1; /* an escape and the byte it escapes */
            in_string = c == '"' ? !in_string : in_string;
            ok = put(&out, &o, &cap, in + i, n);
            i += n;
            continue;
        }
        size_t n = strspn(in + i, "0123456789+-.eE");
        if (strcspn(in + i, ".eE") < n) {
            char text[MF_JSON_REAL_CAP];
            size_t m = mf_json_real_text(text, strtod(in + i, NULL));
            ok = put(&out, &o, &cap, text, m);
        } else {
            ok = put(&out, &o, &cap, in + i, n);
        }
        i += n;
    }
    free(in);
    if (ok) {
        out[o] = '\0';
    }
    return out;
}

json_t *mf_json_u64(uint64_t v)
{
    if (v <= (UINT64_C(1) << 53)) {
        return json_integer((json_int_t) v);
    }
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return json_string(buf);
}

json_t *mf_json_checked(json_t *o, int failures)
{
    if (failures != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}
