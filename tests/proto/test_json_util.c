/* SPDX-License-Identifier: MIT */
/*
 * test_json_util.c - proto/json_util.c: the wire's numbers (every real in
 * its shortest round-trip text, still a real; integers and strings as
 * jansson writes them) over a table and a bounded run of random doubles, and
 * its times (RFC 3339 UTC with milliseconds; what the reader takes).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "json_util.h"
#include "rng.h"
#include "test_util.h"

/* The text of {"v": v} as the wire writes it (the caller frees). */
static char *dump_one(json_t *v)
{
    json_t *o = json_object();
    ck_assert_int_eq(json_object_set_new(o, "v", v), 0);
    char *s = mf_json_dumps(o, JSON_COMPACT);
    json_decref(o);
    ck_assert_ptr_nonnull(s);
    return s;
}

START_TEST(test_reals)
{
    static const struct {
        double v;
        const char *text;
    } t[] = {
        {0.0004, "{\"v\":0.0004}"},
        {0.1, "{\"v\":0.1}"},
        {1e-300, "{\"v\":1e-300}"},
        {5e-324, "{\"v\":5e-324}"},
        {1.7976931348623157e308, "{\"v\":1.7976931348623157e+308}"},
        {-0.0, "{\"v\":-0.0}"},
        {2.0 / 3.0, "{\"v\":0.6666666666666666}"},
        {100.0, "{\"v\":100.0}"},
        {1e16, "{\"v\":1e+16}"},
        {-1.5e-7, "{\"v\":-1.5e-07}"},
    };

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char *s = dump_one(json_real(t[i].v));
        ck_assert_msg(strcmp(s, t[i].text) == 0, "%.17g: %s, expected %s", t[i].v, s, t[i].text);
        /* still a real, and the same one */
        json_t *back = json_loads(s, 0, NULL);
        json_t *v = json_object_get(back, "v");
        ck_assert_msg(json_is_real(v), "%s reads back as an integer", s);
        double got = json_real_value(v);
        ck_assert(memcmp(&got, &t[i].v, sizeof got) == 0);
        json_decref(back);
        free(s);
    }
}

END_TEST

START_TEST(test_other_tokens)
{
    /* integers, strings that look like numbers, escapes, nesting and floats */
    json_t *o = json_pack("{s:I, s:I, s:s, s:s, s:[f, {s:f}], s:o, s:o, s:b}", "a",
                          (json_int_t) 12345678901234, "b", (json_int_t) -7, "c",
                          "0.10000000000000001 \"x\" 1e5", "d", "\\\"2.5000000000000001", "e", 0.3,
                          "f", 0.0001, "g", mf_json_float(0.1f), "h", mf_json_float(NAN), "i", 1);
    ck_assert_ptr_nonnull(o);
    char *s = mf_json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(3));
    ck_assert_str_eq(s, "{\"a\":12345678901234,\"b\":-7,"
                        "\"c\":\"0.10000000000000001 \\\"x\\\" 1e5\","
                        "\"d\":\"\\\\\\\"2.5000000000000001\",\"e\":[0.3,{\"f\":0.0001}],"
                        "\"g\":0.1,\"h\":null,\"i\":true}");
    free(s);
    /* indented output keeps jansson's layout */
    s = mf_json_dumps(o, JSON_INDENT(1) | JSON_SORT_KEYS);
    ck_assert_ptr_nonnull(strstr(s, "\n \"e\": [\n  0.3,\n"));
    free(s);
    json_decref(o);
    /* the text of an error message's "got X" */
    char text[MF_JSON_REAL_CAP];
    ck_assert_uint_eq(mf_json_real_text(text, 1e3), 6);
    ck_assert_str_eq(text, "1000.0");
}

END_TEST

/* 64 random bits, the i-th of r's stream (core/rng.h). */
static uint64_t random_bits(mf_rng r, uint64_t i)
{
    uint32_t w[4];
    mf_rng_block(r, i, w);
    return (uint64_t) w[0] << 32 | w[1];
}

START_TEST(test_random_round_trip)
{
    mf_rng r = mf_rng_make(15);
    uint64_t k = 0;
    json_t *a = json_array();
    double want[4096];
    size_t n = 0;
    while (n < sizeof want / sizeof want[0]) {
        uint64_t bits = random_bits(r, k++);
        double v;
        memcpy(&v, &bits, sizeof v);
        if (isfinite(v)) {
            want[n++] = v;
            ck_assert_int_eq(json_array_append_new(a, json_real(v)), 0);
        }
    }
    char *s = mf_json_dumps(a, JSON_COMPACT);
    json_decref(a);
    json_t *back = json_loads(s, 0, NULL);
    ck_assert_uint_eq(json_array_size(back), n);
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(back, i);
        ck_assert(json_is_real(v));
        double got = json_real_value(v);
        ck_assert_msg(memcmp(&got, &want[i], sizeof got) == 0, "%a read back as %a", want[i], got);
    }
    json_decref(back);
    free(s);
}

END_TEST

START_TEST(test_time_text)
{
    char out[MF_JSON_TIME_CAP];
    ck_assert(mf_json_time_text(out, 1700000000.125));
    ck_assert_str_eq(out, "2023-11-14T22:13:20.125Z");
    ck_assert(mf_json_time_text(out, 1700000000.9999));
    ck_assert_str_eq(out, "2023-11-14T22:13:20.999Z"); /* rounded down, never .1000 */
    ck_assert(mf_json_time_text(out, 951782400.0));
    ck_assert_str_eq(out, "2000-02-29T00:00:00.000Z");
    ck_assert(!mf_json_time_text(out, 0));
    ck_assert_str_eq(out, "");
    ck_assert(!mf_json_time_text(out, -5));
    ck_assert(!mf_json_time_text(out, NAN));
    ck_assert(!mf_json_time_text(out, 1e12)); /* past 9999 */
    json_t *j = mf_json_time(0);
    ck_assert(json_is_null(j));
    json_decref(j);
    j = mf_json_time(1.5);
    ck_assert_str_eq(json_string_value(j), "1970-01-01T00:00:01.500Z");
    json_decref(j);
}

END_TEST

START_TEST(test_time_parse)
{
    static const struct {
        const char *text;
        double t; /* < 0: refused */
    } t[] = {
        {"2023-11-14T22:13:20Z", 1700000000.0},
        {"2023-11-14T22:13:20.125Z", 1700000000.125},
        {"2023-11-14t22:13:20z", 1700000000.0},
        {"2023-11-14 22:13:20Z", 1700000000.0},
        {"2023-11-14T23:43:20+01:30", 1700000000.0},
        {"2023-11-14T20:13:20-02:00", 1700000000.0},
        {"1970-01-01T00:00:00Z", 0.0},
        {"2024-02-29T00:00:00Z", 1709164800.0},
        {"2000-03-01T00:00:00Z", 951868800.0},
        {"2023-02-29T00:00:00Z", -1},
        {"1900-02-29T00:00:00Z", -1},
        {"2023-13-01T00:00:00Z", -1},
        {"2023-11-31T00:00:00Z", -1},
        {"2023-11-14T24:00:00Z", -1},
        {"2023-11-14T22:13:20", -1},
        {"2023-11-14T22:13:20.Z", -1},
        {"2023-11-14T22:13:20Z ", -1},
        {"2023-11-14T22:13:20+0100", -1},
        {"2023-11-14", -1},
        {"", -1},
        {"yesterday", -1},
    };

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        double got = -7;
        bool ok = mf_json_time_parse(t[i].text, &got);
        ck_assert_msg(ok == (t[i].t >= 0), "%s: %s", t[i].text, ok ? "read" : "refused");
        ck_assert_msg(got == (ok ? t[i].t : -7), "%s: %.17g", t[i].text, got);
    }
    ck_assert(!mf_json_time_parse(NULL, &(double){0}));
    /* what mf_json_time_text writes reads back (to the millisecond) */
    for (double s = 1.0; s < 2.5e11; s = s * 1.7 + 0.001) {
        char out[MF_JSON_TIME_CAP];
        double back = -1;
        ck_assert(mf_json_time_text(out, s));
        ck_assert(mf_json_time_parse(out, &back));
        ck_assert_msg(fabs(back - s) < 1e-3 + 1e-9 * s, "%.17g -> %s -> %.17g", s, out, back);
    }
}

END_TEST

static Suite *json_util_suite(void)
{
    Suite *s = suite_create("json_util");
    TCase *tc = tcase_create("numbers");
    tcase_add_test(tc, test_reals);
    tcase_add_test(tc, test_other_tokens);
    tcase_add_test(tc, test_random_round_trip);
    suite_add_tcase(s, tc);
    tc = tcase_create("times");
    tcase_add_test(tc, test_time_text);
    tcase_add_test(tc, test_time_parse);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(json_util_suite)
