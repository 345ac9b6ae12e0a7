/* SPDX-License-Identifier: MIT */
/*
 * data_npy.c - the npy format of data_file.h, read and (the stored form)
 * written.
 *
 * The header is a Python dict literal; this reads the subset NumPy writes
 * (numpy/lib/format.py): quoted string keys, string, boolean and tuple
 * values, spaces anywhere between tokens, an optional trailing comma, then
 * spaces and the final newline.  Every error names the absolute byte offset
 * of the token that is wrong.  Values are assembled from little-endian bytes
 * whatever the host's byte order.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_file_int.h"

#define MAGIC        "\x93NUMPY"
#define MAGIC_LEN    6
#define MAX_HEADER   65536 /* bytes of header text; NumPy writes under 200 */
#define HEADER_ALIGN 64    /* NumPy aligns the data to 64 bytes */

typedef struct npy {
    const uint8_t *buf;
    size_t len;
    size_t pos, end; /* header text being read: buf[pos..end) */
    mf_diag *diag;
    /* what the header says */
    size_t item; /* 4 or 8 */
    size_t shape[2];
    size_t n_dims; /* of shape; SIZE_MAX absent */
} npy;

static mf_err fail_at(npy *p, mf_err err, size_t at, const char *what)
{
    return mf__data_fail(p->diag, err, "byte", at, "%s", what);
}

static void skip_spaces(npy *p)
{
    while (p->pos < p->end && (p->buf[p->pos] == ' ' || p->buf[p->pos] == '\t')) {
        p->pos++;
    }
}

/* The character c, after spaces. */
static mf_err expect(npy *p, char c, const char *what)
{
    skip_spaces(p);
    if (p->pos >= p->end || p->buf[p->pos] != (uint8_t) c) {
        return fail_at(p, MF_EFORMAT, p->pos, what);
    }
    p->pos++;
    return MF_OK;
}

/* A quoted string ('...' or "..."), without escapes: *ret_s / *ret_n point into the header. */
static mf_err get_string(npy *p, const char **ret_s, size_t *ret_n)
{
    skip_spaces(p);
    size_t at = p->pos;
    if (at >= p->end || (p->buf[at] != '\'' && p->buf[at] != '"')) {
        return fail_at(p, MF_EFORMAT, at, "header: a quoted string was expected");
    }
    const uint8_t *close = memchr(p->buf + at + 1, p->buf[at], p->end - at - 1);
    if (close == NULL) {
        return fail_at(p, MF_EFORMAT, at, "header: unterminated string");
    }
    *ret_s = (const char *) p->buf + at + 1;
    *ret_n = (size_t) (close - (p->buf + at + 1));
    p->pos = (size_t) (close - p->buf) + 1;
    return MF_OK;
}

/* true when the header continues with the word w (then skipped). */
static bool take_word(npy *p, const char *w)
{
    skip_spaces(p);
    size_t n = strlen(w);
    if (p->end - p->pos >= n && memcmp(p->buf + p->pos, w, n) == 0) {
        p->pos += n;
        return true;
    }
    return false;
}

static mf_err get_descr(npy *p)
{
    skip_spaces(p);
    size_t at = p->pos, n;
    const char *s;
    mf_err err = get_string(p, &s, &n);
    if (err != MF_OK) {
        return err;
    }
    if (n == 3 && s[0] == '>' && s[1] == 'f') {
        return fail_at(p, MF_EFORMAT, at, "descr: big-endian data is not supported");
    }
    if (n == 3 && s[0] == '<' && s[1] == 'f' && (s[2] == '4' || s[2] == '8')) {
        p->item = s[2] == '4' ? 4 : 8;
        return MF_OK;
    }
    char q[48];
    mf__data_quote(q, s, n);
    return mf__data_fail(p->diag, MF_EFORMAT, "byte", at,
                         "descr '%s': the dtype must be '<f4' (float32) or '<f8' (float64)", q);
}

static mf_err get_fortran(npy *p)
{
    skip_spaces(p);
    size_t at = p->pos;
    if (take_word(p, "False")) {
        return MF_OK;
    }
    if (take_word(p, "True")) {
        return fail_at(p, MF_EFORMAT, at,
                       "fortran_order True: only C order (row-major) is supported");
    }
    return fail_at(p, MF_EFORMAT, at, "fortran_order must be True or False");
}

/* A non-negative integer of at most 15 digits. */
static mf_err get_size(npy *p, size_t *ret)
{
    skip_spaces(p);
    size_t at = p->pos, v = 0, k = 0;
    for (; p->pos < p->end && p->buf[p->pos] >= '0' && p->buf[p->pos] <= '9'; p->pos++, k++) {
        v = 10 * v + (size_t) (p->buf[p->pos] - '0');
    }
    if (k == 0 || k > 15) {
        return fail_at(p, MF_EFORMAT, at, "shape: a dimension must be a number of 1 to 15 digits");
    }
    *ret = v;
    return MF_OK;
}

/* (a, b, ...) with an optional trailing comma; remembers the first two. */
static mf_err get_shape(npy *p)
{
    mf_err err = expect(p, '(', "shape must be a tuple");
    p->n_dims = 0;
    while (err == MF_OK) {
        skip_spaces(p);
        if (p->pos < p->end && p->buf[p->pos] == ')') {
            p->pos++;
            return MF_OK;
        }
        size_t v = 0;
        err = get_size(p, &v);
        if (err == MF_OK) {
            if (p->n_dims < 2) {
                p->shape[p->n_dims] = v;
            }
            p->n_dims++;
            skip_spaces(p);
            if (p->pos < p->end && p->buf[p->pos] == ',') {
                p->pos++;
            } else if (p->pos >= p->end || p->buf[p->pos] != ')') {
                err = fail_at(p, MF_EFORMAT, p->pos, "shape: ',' or ')' was expected");
            }
        }
    }
    return err;
}

/* One "key: value" of the dict; *seen collects the keys (bits 1, 2, 4). */
static mf_err get_member(npy *p, unsigned *seen)
{
    skip_spaces(p);
    size_t at = p->pos, n;
    const char *k;
    mf_err err = get_string(p, &k, &n);
    if (err == MF_OK) {
        err = expect(p, ':', "header: ':' was expected after a key");
    }
    if (err != MF_OK) {
        return err;
    }
    static const char *const keys[] = {"descr", "fortran_order", "shape"};
    for (unsigned i = 0; i < 3; i++) {
        if (n == strlen(keys[i]) && memcmp(k, keys[i], n) == 0) {
            if (*seen & (1u << i)) {
                return fail_at(p, MF_EFORMAT, at, "header: a key appears twice");
            }
            *seen |= 1u << i;
            return i == 0 ? get_descr(p) : i == 1 ? get_fortran(p) : get_shape(p);
        }
    }
    char q[48];
    mf__data_quote(q, k, n);
    return mf__data_fail(p->diag, MF_EFORMAT, "byte", at,
                         "header: unknown key '%s' (descr, fortran_order, shape)", q);
}

/* The dict of buf[pos..end), which ends in '\n'. */
static mf_err parse_dict(npy *p)
{
    for (size_t i = p->pos; i < p->end; i++) {
        if (p->buf[i] < 0x20 && p->buf[i] != '\t' && !(p->buf[i] == '\n' && i + 1 == p->end)) {
            return fail_at(p, MF_EFORMAT, i, "header: a control byte in the header text");
        }
        if (p->buf[i] >= 0x7f) {
            return fail_at(p, MF_EFORMAT, i, "header: a byte that is not ASCII");
        }
    }
    if (p->buf[p->end - 1] != '\n') {
        return fail_at(p, MF_EFORMAT, p->end - 1, "header: it must end in a newline");
    }
    p->end--;
    unsigned seen = 0;
    mf_err err = expect(p, '{', "header: a dict '{' was expected");
    while (err == MF_OK) {
        skip_spaces(p);
        if (p->pos < p->end && p->buf[p->pos] == '}') {
            p->pos++;
            break;
        }
        err = get_member(p, &seen);
        if (err == MF_OK) {
            skip_spaces(p);
            if (p->pos < p->end && p->buf[p->pos] == ',') {
                p->pos++;
            } else if (p->pos >= p->end || p->buf[p->pos] != '}') {
                err = fail_at(p, MF_EFORMAT, p->pos, "header: ',' or '}' was expected");
            }
        }
    }
    skip_spaces(p);
    if (err == MF_OK && p->pos != p->end) {
        err = fail_at(p, MF_EFORMAT, p->pos, "header: text after the dict");
    }
    if (err == MF_OK && seen != 7u) {
        err = fail_at(p, MF_EFORMAT, p->end,
                      (seen & 1u) == 0   ? "header: no 'descr'"
                      : (seen & 2u) == 0 ? "header: no 'fortran_order'"
                                         : "header: no 'shape'");
    }
    return err;
}

/* Magic, version and header length; *ret_data gets the offset of the data. */
static mf_err parse_preamble(npy *p, size_t *ret_data)
{
    for (size_t i = 0; i < MAGIC_LEN; i++) {
        if (i >= p->len || p->buf[i] != (uint8_t) MAGIC[i]) {
            return fail_at(p, MF_EFORMAT, i, "not a .npy file (it starts with \\x93NUMPY)");
        }
    }
    if (p->len < 8 || (p->buf[6] != 1 && p->buf[6] != 2)) {
        return fail_at(p, MF_EFORMAT, 6, "version: only .npy 1.0 and 2.0 are supported");
    }
    if (p->buf[7] != 0) {
        return fail_at(p, MF_EFORMAT, 7, "version: only .npy 1.0 and 2.0 are supported");
    }
    size_t width = p->buf[6] == 1 ? 2 : 4, start = 8 + width, hlen = 0;
    if (p->len < start) {
        return fail_at(p, MF_EFORMAT, p->len, "the file ends inside the header length");
    }
    for (size_t i = 0; i < width; i++) {
        hlen |= (size_t) p->buf[8 + i] << (8 * i);
    }
    if (hlen == 0 || hlen > MAX_HEADER) {
        return mf__data_fail(p->diag, MF_EFORMAT, "byte", 8,
                             "header length %zu: it must be 1 to %d bytes", hlen, MAX_HEADER);
    }
    if (hlen > p->len - start) {
        return mf__data_fail(p->diag, MF_EFORMAT, "byte", p->len,
                             "the file ends inside the header (%zu of %zu bytes)", p->len - start,
                             hlen);
    }
    p->pos = start;
    p->end = start + hlen;
    *ret_data = start + hlen;
    return MF_OK;
}

/* Little-endian value k of the data at data, as a double. */
static double value_at(const npy *p, size_t data, size_t k)
{
    const uint8_t *b = p->buf + data + k * p->item;
    uint64_t u = 0;
    for (size_t i = 0; i < p->item; i++) {
        u |= (uint64_t) b[i] << (8 * i);
    }
    if (p->item == 4) {
        uint32_t u32 = (uint32_t) u;
        float f;
        memcpy(&f, &u32, sizeof f);
        return (double) f;
    }
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* The shape against the limits (labels_last: one more column, the labels). */
static mf_err check_shape(npy *p, const mf_data_limits *lim, bool labels_last, size_t at)
{
    if (p->n_dims != 2) {
        return mf__data_fail(p->diag, MF_EFORMAT, "byte", at,
                             "shape has %zu dimensions: a data set is 2-D (rows, columns)",
                             p->n_dims);
    }
    size_t n = p->shape[0], d = p->shape[1], min_d = labels_last ? 2 : 1;
    if (n == 0 || d < min_d) {
        return mf__data_fail(p->diag, MF_EFORMAT, "byte", at,
                             "shape (%zu, %zu): no rows or too few columns", n, d);
    }
    if (n > lim->max_rows) {
        return mf__data_fail(p->diag, MF_ERANGE, "byte", at, "%zu rows, over the limit of %zu", n,
                             lim->max_rows);
    }
    if (d - labels_last > lim->max_cols) {
        return mf__data_fail(p->diag, MF_ERANGE, "byte", at, "%zu columns, over the limit of %zu",
                             d - labels_last, lim->max_cols);
    }
    return MF_OK;
}

/* The values of the data at data into x (N, Dx) and y (labels_last). */
static mf_err read_values(npy *p, size_t data, bool labels_last, float *x, float *y)
{
    size_t n = p->shape[0], d = p->shape[1], dx = d - labels_last;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++) {
            size_t k = i * d + j;
            double v = value_at(p, data, k);
            float f = NAN;
            bool label = j == dx;
            if (!(label && isnan(v)) && !mf__data_float(v, &f)) {
                return mf__data_fail(p->diag, MF_EFORMAT, "byte", data + k * p->item,
                                     "row %zu, column %zu: the value %g is not finite as a "
                                     "float32",
                                     i, j, v);
            }
            if (label) {
                y[i] = f;
            } else {
                x[i * dx + j] = f;
            }
        }
    }
    return MF_OK;
}

mf_err mf__data_npy(const uint8_t *buf, size_t len, const mf_data_limits *lim, bool labels_last,
                    mf_table **ret, mf_diag *diag)
{
    npy p = {.buf = buf, .len = len, .diag = diag};
    size_t data = 0, nd, bytes;
    mf_err err = parse_preamble(&p, &data);
    size_t header = p.pos;
    if (err == MF_OK) {
        err = parse_dict(&p);
    }
    if (err == MF_OK) {
        err = check_shape(&p, lim, labels_last, header);
    }
    if (err != MF_OK) {
        return err;
    }
    if (mf_size_mul(p.shape[0], p.shape[1], &nd) != MF_OK ||
        mf_size_mul(nd, p.item, &bytes) != MF_OK) {
        return fail_at(&p, MF_ERANGE, header, "shape: the data size overflows");
    }
    if (len - data < bytes) {
        return mf__data_fail(diag, MF_EFORMAT, "byte", len,
                             "the data ends after %zu of the %zu bytes the shape needs", len - data,
                             bytes);
    }
    if (len - data > bytes) {
        return mf__data_fail(diag, MF_EFORMAT, "byte", data + bytes,
                             "%zu bytes after the data the shape describes", len - data - bytes);
    }
    size_t dx = p.shape[1] - labels_last;
    float *x = malloc(p.shape[0] * dx * sizeof *x);
    float *y = labels_last ? malloc(p.shape[0] * sizeof *y) : NULL;
    if (x == NULL || (labels_last && y == NULL)) {
        free(x);
        free(y);
        return mf_diag_set(diag, MF_ENOMEM, NULL, "out of memory");
    }
    err = read_values(&p, data, labels_last, x, y);
    if (err != MF_OK) {
        free(x);
        free(y);
        return err;
    }
    err = mf_table_new_take(p.shape[0], dx, x, y, ret);
    if (err != MF_OK) {
        return mf_diag_set(diag, err, NULL, "cannot make the table: %s", mf_strerror(err));
    }
    return MF_OK;
}

/* ---- the stored form ------------------------------------------------------------------- */

static void put_f32(uint8_t *b, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    for (size_t i = 0; i < 4; i++) {
        b[i] = (uint8_t) (u >> (8 * i));
    }
}

mf_err mf_data_to_npy(const mf_table *t, uint8_t **ret_buf, size_t *ret_len)
{
    if (t == NULL || ret_buf == NULL || ret_len == NULL) {
        return MF_EINVAL;
    }
    size_t d = t->n_dims + 1, nd, bytes, total;
    char dict[160];
    int k =
        snprintf(dict, sizeof dict,
                 "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }", t->n_rows, d);
    if (k < 0 || (size_t) k >= sizeof dict) {
        return MF_ERANGE;
    }
    /* preamble (10 bytes) + dict + spaces + '\n', a multiple of HEADER_ALIGN */
    size_t hlen = (10 + (size_t) k + 1 + HEADER_ALIGN - 1) / HEADER_ALIGN * HEADER_ALIGN - 10;
    if (mf_size_mul(t->n_rows, d, &nd) != MF_OK || mf_size_mul(nd, 4, &bytes) != MF_OK ||
        bytes > SIZE_MAX - 10 - hlen) {
        return MF_ERANGE;
    }
    total = 10 + hlen + bytes;
    uint8_t *b = malloc(total);
    if (b == NULL) {
        return MF_ENOMEM;
    }
    memcpy(b, MAGIC, MAGIC_LEN);
    b[6] = 1;
    b[7] = 0;
    b[8] = (uint8_t) (hlen & 0xff);
    b[9] = (uint8_t) (hlen >> 8);
    memcpy(b + 10, dict, (size_t) k);
    memset(b + 10 + (size_t) k, ' ', hlen - (size_t) k - 1);
    b[10 + hlen - 1] = '\n';
    uint8_t *o = b + 10 + hlen;
    for (size_t i = 0; i < t->n_rows; i++) {
        for (size_t j = 0; j < t->n_dims; j++, o += 4) {
            put_f32(o, t->x[i * t->n_dims + j]);
        }
        put_f32(o, t->y != NULL ? t->y[i] : NAN);
        o += 4;
    }
    *ret_buf = b;
    *ret_len = total;
    return MF_OK;
}
