/* SPDX-License-Identifier: MIT */
/*
 * test_utf8.c - core/utf8.c: the well-formedness table of RFC 3629 (overlongs,
 * surrogates, > U+10FFFF, truncation) and the display snippet used for
 * mf_diag fields (replacement of bad bytes, cutting on a character boundary).
 */
#include <string.h>

#include <check.h>

#include "test_util.h"
#include "utf8.h"

START_TEST(test_valid)
{
    ck_assert(mf_utf8_valid("", 0));
    ck_assert(mf_utf8_valid(NULL, 0));
    ck_assert(mf_utf8_valid("a\xc3\xa9\xef\xbf\xbf\xf4\x8f\xbf\xbf", 10));
    ck_assert(!mf_utf8_valid("\xc1\xbf", 2));            /* overlong 2-byte */
    ck_assert(!mf_utf8_valid("\xc0\x80", 2));            /* overlong NUL */
    ck_assert(!mf_utf8_valid("\xe0\x9f\xbf", 3));        /* overlong 3-byte */
    ck_assert(!mf_utf8_valid("\xed\xa0\x80", 3));        /* encoded surrogate */
    ck_assert(!mf_utf8_valid("\xf0\x8f\xbf\xbf", 4));    /* overlong 4-byte */
    ck_assert(!mf_utf8_valid("\xf4\x90\x80\x80", 4));    /* above U+10FFFF */
    ck_assert(!mf_utf8_valid("\xf5\x80\x80\x80", 4));    /* lead byte out of range */
    ck_assert(!mf_utf8_valid("\xc3", 1));                /* truncated */
    ck_assert(!mf_utf8_valid("\xe2\x82", 2));            /* truncated */
    ck_assert(!mf_utf8_valid("\x80", 1));                /* lone continuation */
    ck_assert(mf_utf8_valid("\xe2\x82\xac\xe2\x82", 3)); /* only len bytes are read */
}

END_TEST

START_TEST(test_repair)
{
    /* each byte of an ill-formed sequence becomes '?'; good text, controls included, stays */
    char a[] = "ok \xff near '\xc3' \xe2\x82 \xe2\x82\xac \xed\xa0\x80 \x01";
    size_t len = strlen(a);
    ck_assert_uint_eq(mf_utf8_repair(a), 7);
    ck_assert_str_eq(a, "ok ? near '?' ?? \xe2\x82\xac ??? \x01");
    ck_assert_uint_eq(strlen(a), len);
    ck_assert(mf_utf8_valid(a, len));
    char b[] = "caf\xc3\xa9";
    ck_assert_uint_eq(mf_utf8_repair(b), 0);
    ck_assert_str_eq(b, "caf\xc3\xa9");
}

END_TEST

START_TEST(test_snippet)
{
    char out[8];
    mf_utf8_snippet(out, sizeof out, "abcdefg");
    ck_assert_str_eq(out, "abcdefg");
    mf_utf8_snippet(out, sizeof out, "abcdefgh");
    ck_assert_str_eq(out, "abcd...");
    mf_utf8_snippet(out, sizeof out, "a\x01\xff");
    ck_assert_str_eq(out, "a??");
    mf_utf8_snippet(out, sizeof out, "a\x7f");
    ck_assert_str_eq(out, "a?");
    mf_utf8_snippet(out, sizeof out, "ab\xe2\x82\xac\xe2\x82\xac");
    ck_assert_str_eq(out, "ab...");
    ck_assert(mf_utf8_valid(out, strlen(out)));
    mf_utf8_snippet(out, sizeof out, "\xe2\x82\xac\xe2\x82");
    ck_assert_str_eq(out, "\xe2\x82\xac??");
    mf_utf8_snippet(out, sizeof out, NULL);
    ck_assert_str_eq(out, "");
}

END_TEST

static Suite *utf8_suite(void)
{
    Suite *s = suite_create("utf8");
    TCase *tc = tcase_create("utf8");
    tcase_add_test(tc, test_valid);
    tcase_add_test(tc, test_snippet);
    tcase_add_test(tc, test_repair);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(utf8_suite)
