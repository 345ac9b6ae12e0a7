/* SPDX-License-Identifier: MIT */
/* err.c - names and messages of mf_err, generated from MF_ERR_MAP. */
#include "err.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

const char *mf_err_name(mf_err err)
{
    switch (err) {
    case MF_OK:
        return "MF_OK";
#define MF_ERR_NAME(name, value, text)                                                   \
    case MF_##name:                                                                      \
        return "MF_" #name;
        MF_ERR_MAP(MF_ERR_NAME)
#undef MF_ERR_NAME
    }
    return "MF_UNKNOWN";
}

const char *mf_strerror(mf_err err)
{
    switch (err) {
    case MF_OK:
        return "success";
#define MF_ERR_TEXT(name, value, text)                                                   \
    case MF_##name:                                                                      \
        return text;
        MF_ERR_MAP(MF_ERR_TEXT)
#undef MF_ERR_TEXT
    }
    return "unknown error";
}

mf_err mf_size_mul(size_t a, size_t b, size_t *ret)
{
    if (a != 0 && b > SIZE_MAX / a) {
        return MF_ERANGE;
    }
    *ret = a * b;
    return MF_OK;
}

mf_err mf_size_add(size_t a, size_t b, size_t *ret)
{
    if (b > SIZE_MAX - a) {
        return MF_ERANGE;
    }
    *ret = a + b;
    return MF_OK;
}

mf_err mf_diag_setv(mf_diag *diag, mf_err err, const char *code, const char *field,
                    const char *fmt, va_list ap)
{
    if (diag != NULL) {
        vsnprintf(diag->msg, sizeof diag->msg, fmt, ap);
        mf_utf8_trim(diag->msg);
        snprintf(diag->field, sizeof diag->field, "%s", field != NULL ? field : "");
        mf_utf8_trim(diag->field);
        snprintf(diag->code, sizeof diag->code, "%s", code != NULL ? code : "");
    }
    return err;
}

mf_err mf_diag_set(mf_diag *diag, mf_err err, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mf_diag_setv(diag, err, NULL, field, fmt, ap);
    va_end(ap);
    return err;
}

mf_err mf_diag_setc(mf_diag *diag, mf_err err, const char *code, const char *field,
                    const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mf_diag_setv(diag, err, code, field, fmt, ap);
    va_end(ap);
    return err;
}
