/* SPDX-License-Identifier: MIT */
/*
 * err.h - the one error vocabulary of Manifold.
 *
 * Every fallible function returns an mf_err: MF_OK (0) on success, a negative
 * code otherwise.  The codes, their names and their messages come from one
 * X-macro table (libuv's UV_ERRNO_MAP idea), so adding a code updates the
 * enum, mf_err_name() and mf_strerror() together.  The HTTP status a code
 * maps to is decided in exactly one place, in server/.
 *
 * MF_ENOSPC is storage that is full (ENOSPC or EDQUOT from the file system,
 * SQLITE_FULL from the job store), kept apart from MF_EIO because it is the
 * one storage failure that heals by itself when space is freed: callers
 * retry it and tell the client "insufficient storage", not "I/O error".
 */
#ifndef MF_ERR_H
#define MF_ERR_H

#include <stdarg.h>
#include <stddef.h>

#define MF_ERR_MAP(XX)                                                                   \
    XX(EINVAL, -1, "invalid argument")                                                   \
    XX(ENOMEM, -2, "out of memory")                                                      \
    XX(ERANGE, -3, "value out of range")                                                 \
    XX(ESHAPE, -4, "shape mismatch")                                                     \
    XX(EIO, -5, "input/output error")                                                    \
    XX(EFORMAT, -6, "malformed file or data")                                            \
    XX(EBUSY, -7, "resource busy")                                                       \
    XX(ECANCELED, -8, "operation canceled")                                              \
    XX(ENOTFOUND, -9, "not found")                                                       \
    XX(EINTERNAL, -10, "internal error")                                                 \
    XX(ENOSPC, -11, "no space left on the device (disk full)")

typedef enum mf_err {
    MF_OK = 0,
#define MF_ERR_ENUM(name, value, text) MF_##name = (value),
    MF_ERR_MAP(MF_ERR_ENUM)
#undef MF_ERR_ENUM
} mf_err;

#if defined(__GNUC__)
#    define MF_MUST_CHECK __attribute__((warn_unused_result))
#else
#    define MF_MUST_CHECK
#endif

/** Short symbolic name of a code ("MF_EINVAL"); "MF_UNKNOWN" for others. Never NULL. */
const char *mf_err_name(mf_err err);

/** Human-readable sentence fragment for a code ("invalid argument"). Never NULL. */
const char *mf_strerror(mf_err err);

/**
 * ret = a * b, or MF_ERANGE when the product overflows size_t.  Every product
 * of client-controlled sizes (batch x dims x hidden ...) goes through this.
 * ret is written only on success.
 */
MF_MUST_CHECK mf_err mf_size_mul(size_t a, size_t b, size_t *ret);

/** ret = a + b, or MF_ERANGE when the sum overflows size_t (sums of counts a file declares).
 * ret is written only on success. */
MF_MUST_CHECK mf_err mf_size_add(size_t a, size_t b, size_t *ret);

/*
 * mf_diag - the human-readable detail of a failure, carried by the caller's
 * object instead of a global (SQLite's errmsg idea).  It is the one way error
 * details travel, from core/ through proto/ to the HTTP answer: `field` names
 * what was wrong (a JSON pointer for requests, "/params/steps"; a tensor or
 * metadata key for model files, "layers.0.weight", "__metadata__/schedule"),
 * `msg` says it in a sentence, and `code`, when set, is the machine code of
 * the wire's error body ("out_of_range", "model_not_found"; proto/ and
 * server/ set it, core/ never does).  With the mf_err it travels with,
 * server/ turns it into an HTTP status and error body in one place.
 * Messages are always valid UTF-8: truncation stops at a character boundary.
 */
typedef struct mf_diag {
    char msg[256];
    char field[128];
    char code[32]; /* "" = the default code of the mf_err */
} mf_diag;

/**
 * Fills diag (when not NULL) with a printf-style message and a field (may be
 * NULL: empty), clears its code, and returns err, so callers can write
 * `return mf_diag_set(d, MF_EFORMAT, "layers.0.bias", "shape %zu", n);`.
 */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
mf_err mf_diag_set(mf_diag *diag, mf_err err, const char *field, const char *fmt, ...);

/** mf_diag_set with a machine code (NULL: none; proto/ and server/ set codes). */
#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
mf_err mf_diag_setc(mf_diag *diag, mf_err err, const char *code, const char *field,
                    const char *fmt, ...);

/** mf_diag_setc with a va_list. */
mf_err mf_diag_setv(mf_diag *diag, mf_err err, const char *code, const char *field,
                    const char *fmt, va_list ap);

#endif /* MF_ERR_H */
