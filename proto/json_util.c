/* SPDX-License-Identifier: MIT */
/* json_util.c - see json_util.h. */
#include "json_util.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

bool mf_json_time_text(char out[MF_JSON_TIME_CAP], double t)
{
    out[0] = '\0';
    if (!isfinite(t) || t <= 0 || t >= 253402300800.0) { /* 10000-01-01 */
        return false;
    }
    double whole = floor(t);
    unsigned ms = (unsigned) ((t - whole) * 1000.0); /* rounded down */
    ms = ms > 999 ? 999 : ms;
    time_t secs = (time_t) whole;
    struct tm tm_utc;
    char day[20];
    if (gmtime_r(&secs, &tm_utc) == NULL ||
        strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm_utc) == 0) {
        return false;
    }
    snprintf(out, MF_JSON_TIME_CAP, "%s.%03uZ", day, ms);
    return true;
}

json_t *mf_json_time(double t)
{
    char text[MF_JSON_TIME_CAP];
    return mf_json_time_text(text, t) ? json_string(text) : json_null();
}

/* n decimal digits at s as *ret; false unless all n are digits. */
static bool digits(const char *s, int n, int *ret)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = 10 * v + (s[i] - '0');
    }
    *ret = v;
    return true;
}

/* Days from 1970-01-01 to y-m-d, proleptic Gregorian (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int64_t) era * 146097 + doe - 719468;
}

bool mf_json_time_parse(const char *s, double *ret)
{
    static const int month_days[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec;
    if (s == NULL || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || strchr("Tt ", s[10]) == NULL || s[10] == '\0' ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &sec)) {
        return false;
    }
    bool leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    if (mo < 1 || mo > 12 || d < 1 || d > month_days[mo - 1] || (mo == 2 && d == 29 && !leap) ||
        h > 23 || mi > 59 || sec > 60) {
        return false;
    }
    const char *p = s + 19;
    double frac = 0, scale = 0.1;
    if (*p == '.') {
        if (p[1] < '0' || p[1] > '9') {
            return false;
        }
        for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10) {
            frac += (*p - '0') * scale;
        }
    }
    int offset = 0, oh, om;
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        offset = 0;
    } else if ((*p == '+' || *p == '-') && digits(p + 1, 2, &oh) && p[3] == ':' &&
               digits(p + 4, 2, &om) && p[6] == '\0' && oh <= 23 && om <= 59) {
        offset = (*p == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    } else {
        return false;
    }
    int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
    *ret = (double) t + frac;
    return true;
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
