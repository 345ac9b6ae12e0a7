/* SPDX-License-Identifier: MIT */
/* Tests of core/err.c: the generated names and messages, overflow-checked products, diag. */
#include "err.h"

#include "test_util.h"

#include <stdint.h>
#include <string.h>

START_TEST(test_names_and_messages)
{
    ck_assert_str_eq(mf_err_name(MF_OK), "MF_OK");
    ck_assert_str_eq(mf_err_name(MF_EINVAL), "MF_EINVAL");
    ck_assert_str_eq(mf_err_name(MF_EINTERNAL), "MF_EINTERNAL");
    ck_assert_str_eq(mf_err_name((mf_err) -999), "MF_UNKNOWN");
    ck_assert_str_eq(mf_strerror(MF_ENOMEM), "out of memory");
    ck_assert_str_eq(mf_err_name(MF_ENOSPC), "MF_ENOSPC");
    ck_assert_ptr_nonnull(strstr(mf_strerror(MF_ENOSPC), "disk full"));
    ck_assert_str_eq(mf_strerror((mf_err) 42), "unknown error");
    /* Every code in the table has a distinct name. */
    const mf_err all[] = {MF_EINVAL, MF_ENOMEM, MF_ERANGE, MF_ESHAPE, MF_EIO,
                          MF_EFORMAT, MF_EBUSY, MF_ECANCELED, MF_ENOTFOUND, MF_EINTERNAL,
                          MF_ENOSPC};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        ck_assert_int_lt(all[i], 0);
        for (size_t j = i + 1; j < sizeof all / sizeof all[0]; j++) {
            ck_assert_str_ne(mf_err_name(all[i]), mf_err_name(all[j]));
        }
    }
}
END_TEST

START_TEST(test_size_mul)
{
    size_t r = 7;
    ck_assert_int_eq(mf_size_mul(3, 4, &r), MF_OK);
    ck_assert_uint_eq(r, 12);
    ck_assert_int_eq(mf_size_mul(0, SIZE_MAX, &r), MF_OK);
    ck_assert_uint_eq(r, 0);
    r = 5;
    ck_assert_int_eq(mf_size_mul(SIZE_MAX / 2 + 1, 2, &r), MF_ERANGE);
    ck_assert_uint_eq(r, 5); /* untouched on failure */
}
END_TEST

START_TEST(test_size_add)
{
    size_t r = 7;
    ck_assert_int_eq(mf_size_add(3, 4, &r), MF_OK);
    ck_assert_uint_eq(r, 7);
    ck_assert_int_eq(mf_size_add(SIZE_MAX - 1, 1, &r), MF_OK);
    ck_assert_uint_eq(r, SIZE_MAX);
    r = 5;
    ck_assert_int_eq(mf_size_add(SIZE_MAX, 1, &r), MF_ERANGE);
    ck_assert_int_eq(mf_size_add(SIZE_MAX / 2 + 1, SIZE_MAX / 2 + 1, &r), MF_ERANGE);
    ck_assert_uint_eq(r, 5); /* untouched on failure */
}
END_TEST

START_TEST(test_diag)
{
    mf_diag d;
    ck_assert_int_eq(mf_diag_set(&d, MF_EFORMAT, "layers.0.bias", "bad %d", 3), MF_EFORMAT);
    ck_assert_str_eq(d.msg, "bad 3");
    ck_assert_str_eq(d.field, "layers.0.bias");
    ck_assert_int_eq(mf_diag_set(NULL, MF_EIO, NULL, "x"), MF_EIO);
    ck_assert_int_eq(mf_diag_set(&d, MF_EIO, NULL, "y"), MF_EIO);
    ck_assert_str_eq(d.field, "");
}
END_TEST

static Suite *err_suite(void)
{
    Suite *s = suite_create("err");
    TCase *tc = tcase_create("codes");
    tcase_add_test(tc, test_names_and_messages);
    tcase_add_test(tc, test_size_mul);
    tcase_add_test(tc, test_size_add);
    tcase_add_test(tc, test_diag);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(err_suite)
