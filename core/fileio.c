/* SPDX-License-Identifier: MIT */
/*
 * fileio.c - whole-file reads under a limit and atomic replacement (see
 * fileio.h).
 *
 * Reading stats the file first, so a regular file larger than the limit is
 * refused before a byte is read, and then reads to EOF with one byte of
 * headroom, which catches a file that grew since the stat (or one whose size
 * stat does not know, a pipe).
 *
 * Replacing writes a temporary file next to the target, fsyncs it, renames it
 * over the target and fsyncs the directory (the usual atomic-replace recipe),
 * so a crash leaves either the old or the new file.
 */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
        return mf_diag_set(diag, MF_EIO, path, "cannot stat %s: %s", path, errno_str(errno).s);
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
        return mf_diag_set(diag, MF_ENOMEM, path, "out of memory reading %s", path);
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
                return mf_diag_set(diag, MF_ENOMEM, path, "out of memory reading %s", path);
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
            return mf_diag_set(diag, MF_EIO, path, "cannot read %s: %s", path, errno_str(e).s);
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
        return mf_diag_set(diag, MF_EIO, path, "cannot open %s: %s", path, errno_str(errno).s);
    }
    mf_err rc = read_all(fd, path, max_bytes, ret_buf, ret_len, diag);
    close(fd);
    return rc;
}

/* ---- atomic replace ------------------------------------------------------------------ */

static mf_err write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return MF_EIO;
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
        return MF_EIO;
    }
    return MF_OK;
}

mf_err mf_fileio_write_atomic(const char *path, const uint8_t *buf, size_t len, mf_diag *diag)
{
    if (path == NULL || (buf == NULL && len > 0)) {
        return mf_diag_set(diag, MF_EINVAL, NULL, "invalid argument");
    }
    const char *slash = strrchr(path, '/');
    const char *base = slash != NULL ? slash + 1 : path;
    if (base[0] == '\0') {
        return mf_diag_set(diag, MF_EINVAL, path, "path %s names a directory", path);
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
        rc = mf_diag_set(diag, MF_EIO, path, "cannot create a temporary file in %s: %s", dir,
                         errno_str(errno).s);
        goto done;
    }
    tmp_exists = true;
    const char *step = NULL;
    int saved_errno = 0;
    if (fchmod(fd, 0644) != 0) {
        step = "chmod";
    } else if (write_all(fd, buf, len) != MF_OK) {
        step = "write";
    } else if (fsync(fd) != 0) {
        step = "fsync";
    }
    saved_errno = errno;
    if (close(fd) != 0 && step == NULL) {
        step = "close";
        saved_errno = errno;
    }
    fd = -1;
    if (step == NULL && rename(tmp, path) != 0) {
        step = "rename";
        saved_errno = errno;
    }
    if (step != NULL) {
        rc = mf_diag_set(diag, MF_EIO, path, "cannot save %s (%s): %s", path, step,
                         errno_str(saved_errno).s);
        goto done;
    }
    tmp_exists = false;
    if (fsync_dir(dir) != MF_OK) {
        rc = mf_diag_set(diag, MF_EIO, path, "cannot fsync directory %s: %s", dir,
                         errno_str(errno).s);
    }
done:
    if (fd >= 0) {
        close(fd);
    }
    if (tmp_exists) {
        unlink(tmp);
    }
    free(dir);
    free(tmp);
    return rc;
}
