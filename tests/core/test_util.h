/* SPDX-License-Identifier: MIT */
/* test_util.h - the one main() every Check executable shares. */
#ifndef MF_TEST_UTIL_H
#define MF_TEST_UTIL_H

#include <check.h>
#include <stdlib.h>

/* Runs one suite; exit status 0 only when every test passed. */
#define MF_TEST_MAIN(make_suite)                                                         \
    int main(void)                                                                       \
    {                                                                                    \
        SRunner *sr = srunner_create(make_suite());                                      \
        srunner_run_all(sr, CK_NORMAL);                                                  \
        int failed = srunner_ntests_failed(sr);                                          \
        srunner_free(sr);                                                                \
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;                                \
    }

#endif
