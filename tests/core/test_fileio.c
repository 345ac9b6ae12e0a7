/* SPDX-License-Identifier: MIT */
/*
 * test_fileio.c - whole-file reads under a limit and atomic replacement: the
 * content round-trips, a replace leaves one file with mode 0644 and no
 * temporary, and every documented error.  (test_model_file.c exercises the
 * same functions through model files.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "../server/test_files.h" /* count_entries */
#include "fileio.h"
#include "test_util.h"

START_TEST(test_round_trip_and_errors)
{
    char dir[] = "/tmp/mf_fileio_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256], nodir[256], slash[256];
    snprintf(path, sizeof path, "%s/f.bin", dir);
    snprintf(nodir, sizeof nodir, "%s/no/such/f.bin", dir);
    snprintf(slash, sizeof slash, "%s/", dir);
    mf_diag d = {0};
    static const uint8_t a[] = "first content", b[] = "second";

    ck_assert_int_eq(mf_fileio_write_atomic(path, a, sizeof a, &d), MF_OK);
    ck_assert_int_eq(mf_fileio_write_atomic(path, b, sizeof b, &d), MF_OK);
    ck_assert_uint_eq(count_entries(dir), 1);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0644);
    uint8_t *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(mf_fileio_read(path, sizeof b, &buf, &len, &d), MF_OK);
    ck_assert_uint_eq(len, sizeof b);
    ck_assert_mem_eq(buf, b, sizeof b);
    free(buf);

    buf = (uint8_t *) 1;
    ck_assert_int_eq(mf_fileio_read(path, sizeof b - 1, &buf, &len, &d), MF_ERANGE);
    ck_assert_ptr_nonnull(strstr(d.msg, "limit"));
    ck_assert_str_eq(d.field, path);
    ck_assert_int_eq(mf_fileio_read(nodir, 100, &buf, &len, &d), MF_EIO);
    ck_assert_int_eq(mf_fileio_read(dir, 100, &buf, &len, &d), MF_EIO);
    ck_assert_int_eq(mf_fileio_read(NULL, 100, &buf, &len, &d), MF_EINVAL);
    ck_assert_ptr_eq(buf, (uint8_t *) 1);

    ck_assert_int_eq(mf_fileio_write_atomic(nodir, a, sizeof a, &d), MF_EIO);
    ck_assert_ptr_nonnull(strstr(d.msg, "No such file"));
    ck_assert_int_eq(mf_fileio_write_atomic(slash, a, sizeof a, &d), MF_EINVAL);
    ck_assert_int_eq(mf_fileio_write_atomic(path, NULL, 3, &d), MF_EINVAL);
    ck_assert_uint_eq(count_entries(dir), 1);

    /* an empty file is a file */
    ck_assert_int_eq(mf_fileio_write_atomic(path, NULL, 0, &d), MF_OK);
    ck_assert_int_eq(mf_fileio_read(path, 0, &buf, &len, &d), MF_OK);
    ck_assert_uint_eq(len, 0);
    free(buf);

    unlink(path);
    ck_assert_int_eq(rmdir(dir), 0);
}

END_TEST

static Suite *fileio_suite(void)
{
    Suite *s = suite_create("fileio");
    TCase *tc = tcase_create("fileio");
    tcase_add_test(tc, test_round_trip_and_errors);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(fileio_suite)
