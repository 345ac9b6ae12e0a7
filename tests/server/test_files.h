/* SPDX-License-Identifier: MIT */
/*
 * test_files.h - the file helpers the server/ tests share: the test data
 * directory, scratch directories under /tmp and their entries, whole-file
 * reads, writes and copies.  Failures are Check assertions.
 */
#ifndef MF_TEST_FILES_H
#define MF_TEST_FILES_H

#include <check.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* $MF_TEST_DATA (the tests/ directory), else "tests". */
static inline const char *test_data(void)
{
    const char *d = getenv("MF_TEST_DATA");
    return d != NULL ? d : "tests";
}

/* A fresh directory from a mkdtemp template such as "/tmp/mf_test_x_XXXXXX". */
static inline void make_tmpdir(char *dir, size_t cap, const char *template_)
{
    snprintf(dir, cap, "%s", template_);
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* Removes path: a file, or a directory and everything under it. */
static inline void remove_tree(const char *path)
{
    struct stat sb;
    ck_assert_int_eq(lstat(path, &sb), 0);
    if (!S_ISDIR(sb.st_mode)) {
        ck_assert_int_eq(unlink(path), 0);
        return;
    }
    DIR *d = opendir(path);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            char p[1024];
            int n = snprintf(p, sizeof p, "%s/%s", path, e->d_name);
            ck_assert(n > 0 && (size_t) n < sizeof p);
            remove_tree(p);
        }
    }
    closedir(d);
    ck_assert_int_eq(rmdir(path), 0);
}

/* The number of entries of dir besides "." and "..". */
static inline size_t count_entries(const char *dir)
{
    DIR *dp = opendir(dir);
    ck_assert_ptr_nonnull(dp);
    size_t n = 0;
    for (struct dirent *de = readdir(dp); de != NULL; de = readdir(dp)) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            n++;
        }
    }
    closedir(dp);
    return n;
}

/* The whole of path (malloc'd, with a NUL after its *ret_len bytes, so a text file can be
 * searched as a string). */
static inline uint8_t *read_all(const char *path, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    ck_assert_int_ge(len, 0);
    rewind(f);
    uint8_t *buf = malloc((size_t) len + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t) len, f), (size_t) len);
    fclose(f);
    buf[len] = 0;
    *ret_len = (size_t) len;
    return buf;
}

static inline void write_all(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

/* Copies the first `limit` bytes of src (all when limit is SIZE_MAX) to dst. */
static inline void copy_file(const char *src, const char *dst, size_t limit)
{
    size_t len;
    uint8_t *buf = read_all(src, &len);
    write_all(dst, buf, len < limit ? len : limit);
    free(buf);
}

#endif /* MF_TEST_FILES_H */
