/* SPDX-License-Identifier: MIT */
/*
 * test_fileio.c - whole-file reads under a limit and atomic replacement: the
 * content round-trips, a replace leaves one file with mode 0644 and no
 * temporary, and every documented error, MF_ENOSPC on a real full tmpfs
 * (test_tmpfs.h) included; and the removal of the temporaries a crash left,
 * which spares a live writer's.  (test_model_file.c exercises the same
 * functions through model files.)
 */
#define _GNU_SOURCE /* unshare, mount: test_tmpfs.h */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "../server/test_files.h" /* count_entries */
#include "../server/test_tmpfs.h"
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

/* A replace that does not fit: MF_ENOSPC, no temporary left, no directory in the message. */
START_TEST(test_disk_full)
{
    char dir[] = "/tmp/mf_fileio_full_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    tmpfs_mount(dir, 64 * 1024);
    char path[256], small[256];
    snprintf(path, sizeof path, "%s/big.bin", dir);
    snprintf(small, sizeof small, "%s/small.bin", dir);
    size_t n = 256 * 1024;
    uint8_t *buf = calloc(n, 1);
    ck_assert_ptr_nonnull(buf);
    mf_diag d = {0};
    ck_assert_int_eq(mf_fileio_write_atomic(path, buf, n, &d), MF_ENOSPC);
    ck_assert_msg(strchr(d.msg, '/') == NULL, "a path in \"%s\"", d.msg);
    ck_assert_ptr_nonnull(strstr(d.msg, "big.bin"));
    ck_assert_str_eq(d.field, path);
    ck_assert_uint_eq(count_entries(dir), 0);
    /* what fits still does */
    ck_assert_int_eq(mf_fileio_write_atomic(small, buf, 1000, &d), MF_OK);
    ck_assert_uint_eq(count_entries(dir), 1);
    free(buf);
    unlink(small);
    tmpfs_unmount(dir);
    ck_assert_int_eq(rmdir(dir), 0);
}

END_TEST

static void touch(const char *dir, const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "x", 1), 1);
    close(fd);
}

static bool exists(const char *dir, const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

START_TEST(test_remove_temps)
{
    static const struct {
        const char *name, *suffix;
        bool temp;
    } names[] = {
        {".a.bin.AbC123", ".bin", true},
        {".a.b.bin.zZ0099", ".bin", true},
        {".a.bin.AbC12", ".bin", false},
        {".a.bin.AbC1234", ".bin", false},
        {".a.bin.AbC-23", ".bin", false},
        {"a.bin.AbC123", ".bin", false},
        {".bin.AbC123", ".bin", false},
        {".a.txt.AbC123", ".bin", false},
        {".a.bin", ".bin", false},
        {"..bin.AbC123", ".bin", false},
        {".m.safetensors.q1W2e3", ".safetensors", true},
    };

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        ck_assert_msg(mf_fileio_is_temp(names[i].name, names[i].suffix) == names[i].temp, "%s",
                      names[i].name);
    }

    char dir[] = "/tmp/mf_fileio_temps_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    touch(dir, ".dead.bin.AbC123"); /* left by a crash */
    touch(dir, ".live.bin.xyz789"); /* a writer holds it */
    touch(dir, ".other.txt.AbC123");
    touch(dir, "real.bin");
    touch(dir, ".hidden");
    char p[512], sub[512];
    snprintf(sub, sizeof sub, "%s/.sub.bin.AbC123", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0); /* not a file */
    snprintf(p, sizeof p, "%s/.live.bin.xyz789", dir);
    int live = open(p, O_RDWR);
    ck_assert_int_ge(live, 0);
    ck_assert_int_eq(flock(live, LOCK_EX), 0);

    size_t removed = 99;
    mf_diag d = {0};
    ck_assert_int_eq(mf_fileio_remove_temps(dir, ".bin", &removed, &d), MF_OK);
    ck_assert_uint_eq(removed, 1);
    ck_assert(!exists(dir, ".dead.bin.AbC123"));
    ck_assert(exists(dir, ".live.bin.xyz789"));
    ck_assert(exists(dir, ".other.txt.AbC123") && exists(dir, "real.bin"));
    ck_assert(exists(dir, ".hidden") && exists(dir, ".sub.bin.AbC123"));
    /* the writer is gone: its file goes too */
    close(live);
    ck_assert_int_eq(mf_fileio_remove_temps(dir, ".bin", &removed, &d), MF_OK);
    ck_assert_uint_eq(removed, 1);
    ck_assert(!exists(dir, ".live.bin.xyz789"));

    snprintf(p, sizeof p, "%s/none", dir);
    ck_assert_int_eq(mf_fileio_remove_temps(p, ".bin", &removed, &d), MF_OK);
    ck_assert_uint_eq(removed, 0);
    snprintf(p, sizeof p, "%s/real.bin", dir);
    ck_assert_int_eq(mf_fileio_remove_temps(p, ".bin", &removed, &d), MF_EIO);
    ck_assert_int_eq(mf_fileio_remove_temps(NULL, ".bin", &removed, &d), MF_EINVAL);

    ck_assert_int_eq(rmdir(sub), 0);
    remove_tree(dir);
}

END_TEST

static Suite *fileio_suite(void)
{
    Suite *s = suite_create("fileio");
    TCase *tc = tcase_create("fileio");
    tcase_add_test(tc, test_round_trip_and_errors);
    tcase_add_test(tc, test_disk_full);
    tcase_add_test(tc, test_remove_temps);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(fileio_suite)
