/* SPDX-License-Identifier: MIT */
/*
 * http_spool.c - upload bodies (models, datasets) written to a temporary file
 * as they arrive, not held in memory: a thousand slow uploads of 64 MiB each
 * cost the daemon disk, not 64 GiB of heap.  Once the body is in, the file
 * is mapped read-only and handed to the route as r->body (file-backed pages
 * the kernel can drop and read again, not anonymous memory).
 *
 * The file is unlinked as soon as it is created, so no crash, kill -9 or
 * power loss can leave it behind: its space returns when the last descriptor
 * and mapping go.  Only the instant between mkstemp and unlink could leave a
 * name behind, ".upload.safetensors.XXXXXX", which the registry removes at
 * start with the other temporaries of the model store (mf_fileio_is_temp).
 */
#include "http_spool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return false;
        }
        p += w;
        n -= (size_t) w;
    }
    return true;
}

bool mf_spool_append(req *r, const char *data, size_t n)
{
    if (r->spool_err != 0) {
        return false;
    }
    if (r->spool_fd < 0) {
        char path[4200];
        snprintf(path, sizeof path, "%s/" MF_SPOOL_PREFIX "XXXXXX", r->srv->cfg.spool_dir);
        r->spool_fd = mkstemp(path);
        if (r->spool_fd < 0) {
            r->spool_err = errno;
            return false;
        }
        (void) unlink(path); /* anonymous from now on: nothing to clean after a crash */
    }
    if (!write_all(r->spool_fd, data, n)) {
        r->spool_err = errno != 0 ? errno : EIO;
        return false;
    }
    r->len += n;
    return true;
}

int mf_spool_finish(req *r)
{
    if (r->spool_err != 0) {
        return r->spool_err;
    }
    if (r->spool_fd < 0) {
        return 0; /* an empty body: r->body stays NULL, r->len 0 */
    }
    /* a NUL after the body, as the in-memory bodies have, mapped with it */
    if (!write_all(r->spool_fd, "", 1)) {
        return r->spool_err = errno != 0 ? errno : EIO;
    }
    void *m = mmap(NULL, r->len + 1, PROT_READ, MAP_PRIVATE, r->spool_fd, 0);
    if (m == MAP_FAILED) {
        return r->spool_err = errno;
    }
    close(r->spool_fd);
    r->spool_fd = -1;
    r->spool_map = m;
    r->body = m;
    return 0;
}

void mf_spool_release(req *r)
{
    if (r->spool_map != NULL) {
        munmap(r->spool_map, r->len + 1);
        r->spool_map = NULL;
        r->body = NULL;
    }
    if (r->spool_fd >= 0) {
        close(r->spool_fd);
        r->spool_fd = -1;
    }
}
