/* SPDX-License-Identifier: MIT */
/*
 * fileio.h - reading a whole file under a size limit, replacing a file
 * atomically, and removing the temporaries of replacements a crash cut
 * short: the file operations of the formats core owns (model files, stored
 * data sets).
 *
 * Threading: every function is reentrant and touches only its arguments (and
 * the file system).
 */
#ifndef MF_FILEIO_H
#define MF_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/**
 * Reads the whole file at path, at most max_bytes bytes.  *ret_buf is
 * malloc'd (free()); both outputs are written only on success.  Errors:
 * MF_EINVAL (NULL arguments), MF_EIO (open or read failure; diag has
 * strerror), MF_ERANGE (the file is larger than max_bytes), MF_ENOMEM.
 * diag->field names path and the message does not ("cannot open: No such
 * file or directory"): the caller names the file once, as for the errors
 * of a parser of its bytes.
 */
MF_MUST_CHECK mf_err mf_fileio_read(const char *path, size_t max_bytes, uint8_t **ret_buf,
                                    size_t *ret_len, mf_diag *diag);

/**
 * Replaces path with buf (len bytes) atomically: a hidden temporary file in
 * the same directory, ".<name>.XXXXXX" for path ".../<name>", is written,
 * fsync'd and renamed over path, then the directory is fsync'd, so path holds
 * either the old or the new content, never a mix.  The temporary is locked
 * (flock) while it is written, so mf_fileio_remove_temps leaves it alone.
 * The file gets mode 0644.  Errors: MF_EINVAL (NULL arguments, path names a
 * directory), MF_ENOSPC (the file system is full, or the quota reached),
 * MF_EIO (another failure), MF_ENOMEM; diag has the failing step and
 * strerror, names the file by its base name only (diag->field has path), and
 * no temporary file is left behind on error.
 */
MF_MUST_CHECK mf_err mf_fileio_write_atomic(const char *path, const uint8_t *buf, size_t len,
                                            mf_diag *diag);

/**
 * true when a directory entry's name is a temporary file of
 * mf_fileio_write_atomic for a target whose name ends in suffix
 * (".<name><suffix>.XXXXXX", <name> not empty).
 */
bool mf_fileio_is_temp(const char *name, const char *suffix);

/**
 * Removes from dir the temporary files (mf_fileio_is_temp with suffix) that a
 * process left when it died while writing; one that a live writer holds
 * locked stays (a daemon starting beside another on a shared directory does
 * not take its file away; only the instant between a writer's mkstemp and
 * its flock is unprotected).  *ret_removed counts them; a missing dir has
 * none.  Errors: MF_EINVAL, MF_EIO (dir cannot be read; diag).
 */
MF_MUST_CHECK mf_err mf_fileio_remove_temps(const char *dir, const char *suffix,
                                            size_t *ret_removed, mf_diag *diag);

#endif /* MF_FILEIO_H */
