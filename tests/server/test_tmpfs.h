/* SPDX-License-Identifier: MIT */
/*
 * test_tmpfs.h - a small tmpfs of the test's own, to fill up: disk-full tests
 * need a file system that really runs out of space, not a simulation.
 *
 * The test moves into a private mount namespace first (as root:
 * unshare(CLONE_NEWNS); otherwise a user namespace of its own, in which it
 * may mount), so the mount is seen by this process and the threads it starts
 * afterwards only, and vanishes with it however the test ends.  Namespaces
 * belong to threads: call tmpfs_mount before the test starts any thread.
 * When neither way works the test fails and says why; it never skips.
 *
 * unshare() and mount() need _GNU_SOURCE, defined before the first include.
 */
#ifndef MF_TEST_TMPFS_H
#define MF_TEST_TMPFS_H

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <check.h>

static inline void tmpfs_write_proc(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
    ck_assert_msg(write(fd, text, strlen(text)) == (ssize_t) strlen(text), "write %s: %s", path,
                  strerror(errno));
    close(fd);
}

/* Mounts a tmpfs of `bytes` on the existing directory dir, in a mount namespace of our own. */
static inline void tmpfs_mount(const char *dir, size_t bytes)
{
    if (geteuid() == 0) {
        ck_assert_msg(unshare(CLONE_NEWNS) == 0, "unshare(CLONE_NEWNS) as root: %s",
                      strerror(errno));
    } else {
        uid_t uid = getuid();
        gid_t gid = getgid();
        ck_assert_msg(unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0,
                      "not root, and no user namespace to mount a tmpfs in (%s): run the "
                      "disk-full tests as root or allow unprivileged user namespaces",
                      strerror(errno));
        char map[64];
        tmpfs_write_proc("/proc/self/setgroups", "deny");
        snprintf(map, sizeof map, "0 %u 1", (unsigned) uid);
        tmpfs_write_proc("/proc/self/uid_map", map);
        snprintf(map, sizeof map, "0 %u 1", (unsigned) gid);
        tmpfs_write_proc("/proc/self/gid_map", map);
    }
    /* Nothing mounted here may propagate back to the namespace we came from. */
    ck_assert_msg(mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0,
                  "making the mounts private: %s", strerror(errno));
    char opts[64];
    snprintf(opts, sizeof opts, "size=%zu", bytes);
    ck_assert_msg(mount("tmpfs", dir, "tmpfs", 0, opts) == 0, "mount -t tmpfs -o %s %s: %s", opts,
                  dir, strerror(errno));
}

/* Unmounts it again (the namespace would drop it anyway; the directory can then go). */
static inline void tmpfs_unmount(const char *dir)
{
    ck_assert_msg(umount2(dir, MNT_DETACH) == 0, "umount %s: %s", dir, strerror(errno));
}

/* Writes path until the file system is full (ENOSPC); returns the bytes written. */
static inline size_t tmpfs_fill(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
    static const char chunk[4096];
    size_t total = 0;
    /* bounded: a tmpfs of a test is at most some MiB */
    for (size_t i = 0; i < (1u << 20); i++) {
        ssize_t n = write(fd, chunk, sizeof chunk);
        if (n < 0) {
            ck_assert_msg(errno == ENOSPC, "filling %s: %s", path, strerror(errno));
            break;
        }
        total += (size_t) n;
    }
    /* a last partial page, when there is one */
    for (size_t i = 0; i < sizeof chunk && write(fd, chunk, 1) == 1; i++) {
        total++;
    }
    close(fd);
    return total;
}

#endif /* MF_TEST_TMPFS_H */
