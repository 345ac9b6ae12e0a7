/* SPDX-License-Identifier: MIT */
/*
 * fileio.h - reading a whole file under a size limit, and replacing a file
 * atomically: the two file operations of the formats core owns (model files,
 * stored data sets).
 *
 * Threading: every function is reentrant and touches only its arguments (and
 * the file system).
 */
#ifndef MF_FILEIO_H
#define MF_FILEIO_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/**
 * Reads the whole file at path, at most max_bytes bytes.  *ret_buf is
 * malloc'd (free()); both outputs are written only on success.  Errors:
 * MF_EINVAL (NULL arguments), MF_EIO (open or read failure; diag has
 * strerror), MF_ERANGE (the file is larger than max_bytes), MF_ENOMEM.
 * diag->field names path.
 */
MF_MUST_CHECK mf_err mf_fileio_read(const char *path, size_t max_bytes, uint8_t **ret_buf,
                                    size_t *ret_len, mf_diag *diag);

/**
 * Replaces path with buf (len bytes) atomically: a hidden temporary file in
 * the same directory is written, fsync'd and renamed over path, then the
 * directory is fsync'd, so path holds either the old or the new content,
 * never a mix.  The file gets mode 0644.  Errors: MF_EINVAL (NULL arguments,
 * path names a directory), MF_EIO (diag has the failing step and strerror),
 * MF_ENOMEM; no temporary file is left behind on error.
 */
MF_MUST_CHECK mf_err mf_fileio_write_atomic(const char *path, const uint8_t *buf, size_t len,
                                            mf_diag *diag);

#endif /* MF_FILEIO_H */
