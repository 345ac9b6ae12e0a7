/* SPDX-License-Identifier: MIT */
/*
 * fileio.c - whole-file reads under a limit and atomic replacement (see
 * fileio.h).
 *
 * Messages leave the file's name to the caller, who prints the path (in
 * diag->field) once, in front: "models/x.safetensors: cannot open: No such
 * file or directory".  A write's name the file by its base name (below).
 *
 * Reading stats the file first, so a regular file larger than the limit is
 * refused before a byte is read, and then reads to EOF with one byte of
 * headroom, which catches a file that grew since the stat (or one whose size
 * stat does not know, a pipe).
 *
 * Replacing writes a temporary file next to the target, fsyncs it, renames it
 * over the target and fsyncs the directory (the usual atomic-replace recipe),
 * so a crash leaves either the old or the new file, and perhaps the
 * temporary, which mf_fileio_remove_temps takes away at the next start.
 */
#include "fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* strerror for diag messages; strerror_r (XSI form) because loads run on worker threads. */
typedef struct errno_text {
    char s[96];
} errno_text;

static errno_text errno_str(int e)
{
    errno_text t;
    if (strerror_r(e, t.s, sizeof t.s) != 0) {
        snprintf(t.s, sizeof t.s, "errno %d", e);
    }
    return t;
}

/* ---- read ------------------------------------------------------------------------- */

/* Reads the whole file behind fd, failing with MF_ERANGE past max_bytes. */
static mf_err read_all(int fd, const char *path, size_t max_bytes, uint8_t **ret_buf,
                       size_t *ret_len, mf_diag *diag)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        return mf_diag_set(diag, MF_EIO, path, "cannot stat: %s", errno_str(errno).s);
    }
    if (S_ISREG(sb.st_mode) && (uintmax_t) sb.st_size > max_bytes) {
        return mf_diag_set(diag, MF_ERANGE, path, "file is %jd bytes, more than the limit of %zu",
                           (intmax_t) sb.st_size, max_bytes);
    }
    size_t limit = max_bytes < SIZE_MAX ? max_bytes + 1 : max_bytes; /* +1 detects growth */
    size_t cap = S_ISREG(sb.st_mode) ? (size_t) sb.st_size + 1 : 65536, len = 0;
    cap = cap < limit ? cap : limit;
    uint8_t *buf = malloc(cap > 0 ? cap : 1);
    if (buf == NULL) {
        return mf_diag_set(diag, MF_ENOMEM, path, "out of memory reading the file");
    }
    for (;;) {
        if (len == cap) {
            if (cap >= limit) {
                break;
            }
            size_t grown = cap > limit / 2 ? limit : cap * 2;
            uint8_t *nb = realloc(buf, grown);
            if (nb == NULL) {
                free(buf);
                return mf_diag_set(diag, MF_ENOMEM, path, "out of memory reading the file");
            }
            buf = nb;
            cap = grown;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            int e = errno;
            free(buf);
            return mf_diag_set(diag, MF_EIO, path, "cannot read: %s", errno_str(e).s);
        }
        if (n == 0) {
            break;
        }
        len += (size_t) n;
    }
    if (len > max_bytes) {
        free(buf);
        return mf_diag_set(diag, MF_ERANGE, path, "file is more than the limit of %zu bytes",
                           max_bytes);
    }
    *ret_buf = buf;
    *ret_len = len;
    return MF_OK;
}

mf_err mf_fileio_read(const char *path, size_t max_bytes, uint8_t **ret_buf, size_t *ret_len,
                      mf_diag *diag)
{
    if (path == NULL || ret_buf == NULL || ret_len == NULL) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "invalid argument");
    }
    int fd;
    do {
        fd = open(path, O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        return mf_diag_set(diag, MF_EIO, path, "cannot open: %s", errno_str(errno).s);
    }
    mf_err rc = read_all(fd, path, max_bytes, ret_buf, ret_len, diag);
    close(fd);
    return rc;
}

/* ---- atomic replace ------------------------------------------------------------------ */

/* An errno of a failed write as an mf_err: a full disk or quota is MF_ENOSPC. */
static mf_err io_err(int e)
{
    return e == ENOSPC || e == EDQUOT ? MF_ENOSPC : MF_EIO;
}

/* Writes buf whole; on failure *ret_errno says why (a short write at the end is ENOSPC). */
static mf_err write_all(int fd, const uint8_t *buf, size_t len, int *ret_errno)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            *ret_errno = n == 0 ? ENOSPC : errno;
            return io_err(*ret_errno);
        }
        buf += n;
        len -= (size_t) n;
    }
    return MF_OK;
}

static mf_err fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return MF_EIO;
    }
    int r = fsync(fd);
    int e = errno;
    close(fd);
    /* Some file systems cannot fsync a directory; the rename itself succeeded. */
    if (r != 0 && e != EINVAL && e != ENOTSUP) {
        errno = e;
        return io_err(e);
    }
    return MF_OK;
}

/*
 * The temporary file is locked (flock) from just after its creation until
 * after the rename, so mf_fileio_remove_temps can tell a live writer's file
 * from one a dead process left.  Messages name the file by its base name
 * (diag->field has the whole path): they may end up in front of a client.
 */
mf_err mf_fileio_write_atomic(const char *path, const uint8_t *buf, size_t len, mf_diag *diag)
{
    if (path == NULL || (buf == NULL && len > 0)) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "invalid argument");
    }
    const char *slash = strrchr(path, '/');
    const char *base = slash != NULL ? slash + 1 : path;
    if (base[0] == '\0') {
        return mf_diag_set(diag, MF_EINVAL, path, "the path names a directory");
    }
    size_t dir_len = slash == NULL ? 1 : (slash == path ? 1 : (size_t) (slash - path));
    size_t tmp_cap = strlen(path) + 16;
    char *dir = malloc(dir_len + 1), *tmp = malloc(tmp_cap);
    int fd = -1;
    bool tmp_exists = false;
    mf_err rc = MF_OK;
    if (dir == NULL || tmp == NULL) {
        rc = mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
        goto done;
    }
    memcpy(dir, slash == NULL ? "." : path, dir_len);
    dir[dir_len] = '\0';
    /* Same directory as the target, so rename() is atomic; hidden, so no one lists it. */
    snprintf(tmp, tmp_cap, "%.*s.%s.XXXXXX", (int) (base - path), path, base);
    fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        rc = mf_diag_set(diag, io_err(e), path, "cannot create a temporary file beside %s: %s",
                         base, errno_str(e).s);
        goto done;
    }
    tmp_exists = true;
    (void) flock(fd, LOCK_EX); /* best effort: unlocked temporaries are only kept, never lost */
    const char *step = NULL;
    int saved_errno = 0;
    if (fchmod(fd, 0644) != 0) {
        step = "chmod";
        saved_errno = errno;
    } else if (write_all(fd, buf, len, &saved_errno) != MF_OK) {
        step = "write";
    } else if (fsync(fd) != 0) {
        step = "fsync";
        saved_errno = errno;
    } else if (rename(tmp, path) != 0) {
        step = "rename";
        saved_errno = errno;
    }
    if (step != NULL) {
        rc = mf_diag_set(diag, io_err(saved_errno), path, "cannot save %s (%s): %s", base, step,
                         errno_str(saved_errno).s);
        goto done;
    }
    tmp_exists = false;
    if (fsync_dir(dir) != MF_OK) {
        int e = errno;
        rc = mf_diag_set(diag, io_err(e), path, "cannot fsync the directory of %s: %s", base,
                         errno_str(e).s);
    }
done:
    if (tmp_exists) {
        unlink(tmp); /* before the close: the lock covers it to the end */
    }
    if (fd >= 0) {
        close(fd); /* after fsync, a close error cannot lose data any more */
    }
    free(dir);
    free(tmp);
    return rc;
}

/* ---- temporaries a crash left ---------------------------------------------------------- */

bool mf_fileio_is_temp(const char *name, const char *suffix)
{
    size_t n = strlen(name), sl = strlen(suffix);
    const size_t rand_len = 6; /* mkstemp's XXXXXX: letters and digits */
    /* "." <base, ending in suffix, not empty> "." XXXXXX */
    if (name[0] != '.' || n < 1 + sl + 1 + 1 + rand_len || name[n - rand_len - 1] != '.') {
        return false;
    }
    for (size_t i = n - rand_len; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
            return false;
        }
    }
    size_t base_end = n - rand_len - 1;
    return base_end - 1 > sl && memcmp(name + base_end - sl, suffix, sl) == 0;
}

/* Unlinks dir's entry name when it is a regular file no writer holds locked. */
static bool remove_if_unlocked(int dfd, const char *name)
{
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    struct stat sb;
    bool gone = false;
    /* A lock we get means its writer is gone; EWOULDBLOCK means it still writes, and any
     * other failure (no locks on this file system) keeps the file too, to be safe. */
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && flock(fd, LOCK_EX | LOCK_NB) == 0) {
        gone = unlinkat(dfd, name, 0) == 0;
    }
    close(fd);
    return gone;
}

mf_err mf_fileio_remove_temps(const char *dir, const char *suffix, size_t *ret_removed,
                              mf_diag *diag)
{
    if (dir == NULL || suffix == NULL || ret_removed == NULL) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "invalid argument");
    }
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (errno == ENOENT) {
            *ret_removed = 0;
            return MF_OK;
        }
        return mf_diag_set(diag, MF_EIO, dir, "cannot read the directory: %s", errno_str(errno).s);
    }
    size_t removed = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (mf_fileio_is_temp(de->d_name, suffix) && remove_if_unlocked(dirfd(d), de->d_name)) {
            removed++;
        }
    }
    closedir(d);
    *ret_removed = removed;
    return MF_OK;
}
