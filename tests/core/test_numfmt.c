/* SPDX-License-Identifier: MIT */
/*
 * test_numfmt.c - core/numfmt.c: a table of doubles and floats with their
 * expected text (Python's repr for the doubles), and a bounded property run
 * over random bit patterns: the text reads back as the same value, bit for
 * bit, and has as few digits as the brute-force search from one digit.
 */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "numfmt.h"
#include "rng.h"
#include "test_util.h"

static const struct {
    double v;
    const char *text;
} doubles[] = {
    {0.0004, "0.0004"},
    {0.1, "0.1"},
    {0.3, "0.3"},
    {1e-300, "1e-300"},
    {5e-324, "5e-324"},
    {2.2250738585072014e-308, "2.2250738585072014e-308"},
    {1.7976931348623157e308, "1.7976931348623157e+308"},
    {-0.0, "-0"},
    {0.0, "0"},
    {2.0 / 3.0, "0.6666666666666666"},
    {100.0, "100"},
    {-2.5, "-2.5"},
    {1e15, "1000000000000000"},
    {1e16, "1e+16"},
    {1234567890123450.0, "1234567890123450"},
    {123456.789, "123456.789"},
    {0.0001, "0.0001"},
    {1.5e-5, "1.5e-05"},
    {0.1 + 0.2, "0.30000000000000004"},
    {4e-4 * 3.0, "0.0012000000000000001"},
    {9007199254740993.0, "9007199254740992"},
};

START_TEST(test_double_table)
{
    for (size_t i = 0; i < sizeof doubles / sizeof doubles[0]; i++) {
        char out[MF_NUMFMT_CAP];
        size_t n = mf_numfmt_double(out, doubles[i].v);
        ck_assert_msg(strcmp(out, doubles[i].text) == 0, "%.17g: got %s, expected %s", doubles[i].v,
                      out, doubles[i].text);
        ck_assert_uint_eq(n, strlen(out));
    }
    char out[MF_NUMFMT_CAP];
    mf_numfmt_double(out, NAN);
    ck_assert_str_eq(out, "nan");
    mf_numfmt_double(out, -INFINITY);
    ck_assert_str_eq(out, "-inf");
}

END_TEST

START_TEST(test_float_table)
{
    static const struct {
        float v;
        const char *text;
    } t[] = {
        {0.1f, "0.1"},
        {0.3f, "0.3"},
        {-1.5f, "-1.5"},
        {16777216.0f, "16777216"},
        {3.4028235e38f, "3.4028235e+38"},
        {1e-45f, "1e-45"},
        {1.17549435e-38f, "1.1754944e-38"},
        {1.0f / 3.0f, "0.33333334"},
    };

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char out[MF_NUMFMT_CAP];
        mf_numfmt_float(out, t[i].v);
        ck_assert_msg(strcmp(out, t[i].text) == 0, "%.9g: got %s, expected %s", (double) t[i].v,
                      out, t[i].text);
    }
    /* the double that prints as the float's shortest text */
    ck_assert(mf_numfmt_float_value(0.1f) == 0.1);
    ck_assert((float) mf_numfmt_float_value(0.1f) == 0.1f);
    char out[MF_NUMFMT_CAP];
    mf_numfmt_double(out, mf_numfmt_float_value(1.0f / 3.0f));
    ck_assert_str_eq(out, "0.33333334");
    ck_assert(isinf(mf_numfmt_float_value(INFINITY)));
}

END_TEST

/* 64 random bits, the i-th of r's stream (core/rng.h). */
static uint64_t random_bits(mf_rng r, uint64_t i)
{
    uint32_t w[4];
    mf_rng_block(r, i, w);
    return (uint64_t) w[0] << 32 | w[1];
}

/* Significant digits of a numfmt text (leading zeros of "0.000d" excluded). */
static int digits_of(const char *s)
{
    int n = 0;
    bool lead = true;
    for (; *s != '\0' && *s != 'e'; s++) {
        if (*s >= '0' && *s <= '9') {
            lead = lead && *s == '0';
            n += !lead;
        }
    }
    /* trailing zeros of a whole number are not significant */
    return n;
}

/* The fewest digits "%.*e" needs to read back as v, from one digit up. */
static int brute_digits(double v, bool as_float, int max)
{
    char buf[64];
    for (int p = 1; p < max; p++) {
        snprintf(buf, sizeof buf, "%.*e", p - 1, v);
        if (as_float ? strtof(buf, NULL) == (float) v : strtod(buf, NULL) == v) {
            return p;
        }
    }
    return max;
}

/* Digits of the text without the zeros a whole number pads with ("1200" has 2). */
static int sig_digits(const char *s)
{
    char m[MF_NUMFMT_CAP];
    size_t n = strcspn(s, "e");
    memcpy(m, s, n);
    m[n] = '\0';
    if (strchr(m, '.') == NULL) {
        while (n > 1 && m[n - 1] == '0') {
            m[--n] = '\0';
        }
    }
    return digits_of(m);
}

START_TEST(test_round_trip)
{
    mf_rng r = mf_rng_make(20261122);
    for (uint64_t i = 0; i < 100000; i++) {
        uint64_t bits = random_bits(r, i);
        double v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v)) {
            continue;
        }
        char out[MF_NUMFMT_CAP];
        mf_numfmt_double(out, v);
        double back = strtod(out, NULL);
        ck_assert_msg(memcmp(&back, &v, sizeof v) == 0, "%a: %s reads back as %a", v, out, back);
        if (v != 0.0) {
            ck_assert_msg(sig_digits(out) == brute_digits(v, false, 17), "%a: %s not shortest", v,
                          out);
        }
        uint32_t fbits = (uint32_t) bits;
        float f;
        memcpy(&f, &fbits, sizeof f);
        if (!isfinite(f)) {
            continue;
        }
        mf_numfmt_float(out, f);
        float fback = strtof(out, NULL);
        ck_assert_msg(memcmp(&fback, &f, sizeof f) == 0, "%a: %s reads back as %a", (double) f, out,
                      (double) fback);
        if (f != 0.0f) {
            ck_assert_msg(sig_digits(out) == brute_digits((double) f, true, 9),
                          "%a: %s not shortest", (double) f, out);
        }
        ck_assert((float) mf_numfmt_float_value(f) == f);
    }
    /* small integers and their tenths, the values parameters usually take */
    for (int i = -2000; i <= 2000; i++) {
        char out[MF_NUMFMT_CAP], expect[32];
        mf_numfmt_double(out, i / 10.0);
        snprintf(expect, sizeof expect, "%.1f", i / 10.0);
        if (i % 10 == 0) {
            snprintf(expect, sizeof expect, "%d", i / 10);
        }
        ck_assert_msg(strcmp(out, expect) == 0 || (i == 0 && strcmp(out, "0") == 0),
                      "%d/10: %s, expected %s", i, out, expect);
    }
}

END_TEST

static Suite *numfmt_suite(void)
{
    Suite *s = suite_create("numfmt");
    TCase *tc = tcase_create("numfmt");
    tcase_add_test(tc, test_double_table);
    tcase_add_test(tc, test_float_table);
    tcase_add_test(tc, test_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(numfmt_suite)
