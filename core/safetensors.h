/* SPDX-License-Identifier: MIT */
/*
 * safetensors.h - read and write the safetensors container, F32 only.
 *
 * Layout (https://github.com/huggingface/safetensors):
 *   u64 little-endian N | N bytes of UTF-8 JSON header | data region
 * The header is an object: an optional "__metadata__" object of string ->
 * string, and one entry per tensor,
 *   "name": {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]}
 * with offsets relative to the start of the data region.  Tensors must not
 * overlap and must tile the data region exactly (no holes, nothing after the
 * last one).
 *
 * The reader trusts nothing: every length, offset, shape and dtype is checked
 * (with overflow-checked products; shape entries and offsets are JSON
 * integers up to 2^63 - 1, so "4.0", "1e3" and "-1" are rejected, and the
 * JSON itself must be strict: no duplicate keys, no "\u0000", nothing after
 * the object, nesting at most MF_SAFETENSORS_MAX_DEPTH deep, at most
 * MF_SAFETENSORS_MAX_VALUES values).  Any violation is MF_EFORMAT with a
 * message naming the problem and diag->field naming the tensor
 * ("layers.0.weight") or metadata key ("__metadata__/schedule").  The data of
 * a parsed file is not copied: tensors point into the caller's buffer.
 *
 * Threading: reentrant; a parsed mf_safetensors is immutable.
 */
#ifndef MF_SAFETENSORS_H
#define MF_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define MF_SAFETENSORS_MAX_HEADER ((size_t) 100 << 20) /* 100 MiB, as the reference library */
#define MF_SAFETENSORS_MAX_DIMS   8
/* JSON nesting of a header: top object -> tensor entry or __metadata__ -> array. */
#define MF_SAFETENSORS_MAX_DEPTH  3
#define MF_SAFETENSORS_MAX_VALUES ((size_t) 1 << 18) /* JSON values in a header */

/* One tensor of a parsed file. */
typedef struct mf_safetensors_tensor {
    char *name;                            /* owned by the mf_safetensors */
    size_t n_dims;                         /* 0 for a scalar */
    size_t shape[MF_SAFETENSORS_MAX_DIMS]; /* d0 .. d(n_dims-1) */
    size_t n_elems;                        /* product of shape (1 for a scalar) */
    size_t begin, end;                     /* byte range in the data region */
    const uint8_t *data;                   /* &region[begin]: borrowed, maybe unaligned */
} mf_safetensors_tensor;

/* A parsed file.  Transparent and read-only. */
typedef struct mf_safetensors {
    size_t n_tensors;
    mf_safetensors_tensor *tensors; /* in header order */
    size_t n_meta;
    char **meta_keys; /* in header order, owned */
    char **meta_vals;
    const uint8_t *data; /* the data region in the caller's buffer (borrowed) */
    size_t data_len;
} mf_safetensors;

/**
 * Parses and validates buf[0..len).  The result borrows buf for tensor data:
 * buf must outlive it.  Errors: MF_EINVAL (NULL buf with len > 0, NULL ret),
 * MF_EFORMAT (anything wrong with the file; diag says what and where),
 * MF_ENOMEM.  *ret is written only on success; free with mf_safetensors_free.
 */
MF_MUST_CHECK mf_err mf_safetensors_parse(const uint8_t *buf, size_t len, mf_safetensors **ret,
                                          mf_diag *diag);

/** Frees a parsed file (not the buffer it borrows); accepts NULL. */
void mf_safetensors_free(mf_safetensors *st);

/** The tensor called name (borrowed), or NULL.  Linear in the number of tensors. */
const mf_safetensors_tensor *mf_safetensors_find(const mf_safetensors *st, const char *name);

/** The metadata value of key (borrowed), or NULL. */
const char *mf_safetensors_get_meta(const mf_safetensors *st, const char *key);

/** A shape as "[2,3]" into out (cap bytes, cut to fit), for messages. */
void mf_safetensors_format_shape(char *out, size_t cap, const size_t *shape, size_t n_dims);

/** Copies the tensor's n_elems little-endian f32 values into out (n_elems floats). */
void mf_safetensors_tensor_read(const mf_safetensors_tensor *t, float *out);

/* A tensor to write: borrowed for the duration of mf_safetensors_write. */
typedef struct mf_safetensors_entry {
    const char *name; /* UTF-8, unique, not "__metadata__" */
    size_t n_dims;
    size_t shape[MF_SAFETENSORS_MAX_DIMS];
    const float *data; /* product of shape floats; may be NULL when that is 0 */
} mf_safetensors_entry;

/**
 * Serialises tensors (data in the given order) and metadata into a new
 * buffer: the header is compact JSON, "__metadata__" first (omitted when
 * n_meta is 0), padded with spaces to a multiple of 8 bytes as the Python
 * library does.  meta_keys/meta_vals: n_meta UTF-8 strings each.
 * *ret_buf is malloc'd (free()); *ret_buf and *ret_len are written only on
 * success.  Errors: MF_EINVAL (NULL pointers, bad or duplicate names, invalid
 * UTF-8, too many dims), MF_ERANGE (sizes overflow, or a dimension or offset
 * above 2^63 - 1, which the reader would reject), MF_ENOMEM; diag may be NULL.
 */
MF_MUST_CHECK mf_err mf_safetensors_write(const mf_safetensors_entry *tensors, size_t n_tensors,
                                          const char *const *meta_keys,
                                          const char *const *meta_vals, size_t n_meta,
                                          uint8_t **ret_buf, size_t *ret_len, mf_diag *diag);

#endif /* MF_SAFETENSORS_H */
