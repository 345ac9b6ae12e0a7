/* SPDX-License-Identifier: MIT */
/*
 * test_safetensors.c - core/safetensors.c: round trips, a table of malformed
 * files (each row checks the error code, that the message names the problem
 * and that message and field are valid UTF-8, since they end up in JSON error
 * bodies), and a deterministic mutation loop that must never crash.  The
 * header JSON is parsed by jansson; the rows pin the strict settings around
 * it (duplicate keys, "\u0000", trailing bytes, depth and value bounds,
 * integers only for shapes and offsets).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "safetensors.h"
#include "utf8.h"

/* ---- helpers ---------------------------------------------------------------------- */

static void put_le64(uint8_t *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t) (v >> (8 * i));
    }
}

/* 8-byte prefix claiming header_len, then the header text, then data_len bytes (0x11 ...). */
static uint8_t *make_file(uint64_t header_len, const char *header, size_t header_bytes,
                          size_t data_len, size_t *ret_len)
{
    size_t len = 8 + header_bytes + data_len;
    uint8_t *b = malloc(len);
    ck_assert_ptr_nonnull(b);
    put_le64(b, header_len);
    memcpy(b + 8, header, header_bytes);
    for (size_t i = 0; i < data_len; i++) {
        b[8 + header_bytes + i] = (uint8_t) (0x11 * (i + 1));
    }
    *ret_len = len;
    return b;
}

static uint8_t *make_file_from_header(const char *header, size_t data_len, size_t *ret_len)
{
    return make_file(strlen(header), header, strlen(header), data_len, ret_len);
}

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64*: deterministic and good enough to pick bytes. */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* ---- malformed-file table --------------------------------------------------------- */

typedef struct st_case st_case;

struct st_case {
    const char *name;
    uint8_t *(*build)(const st_case *c, size_t *ret_len); /* NULL: header + data_len */
    const char *header;
    size_t data_len;
    mf_err err;
    const char *msg_has; /* must occur in diag.msg */
    const char *field;   /* diag.field must equal this, when not NULL */
};

static uint8_t *build_short(const st_case *c, size_t *ret_len)
{
    (void) c;
    uint8_t *b = malloc(5);
    ck_assert_ptr_nonnull(b);
    memcpy(b, "\x02\0\0\0\0", 5);
    *ret_len = 5;
    return b;
}

static uint8_t *build_empty(const st_case *c, size_t *ret_len)
{
    (void) c;
    *ret_len = 0;
    return malloc(1);
}

static uint8_t *build_len_beyond(const st_case *c, size_t *ret_len)
{
    (void) c;
    return make_file(100, "{}        ", 10, 0, ret_len);
}

static uint8_t *build_len_zero(const st_case *c, size_t *ret_len)
{
    (void) c;
    return make_file(0, "{}", 2, 0, ret_len);
}

static uint8_t *build_len_one(const st_case *c, size_t *ret_len)
{
    (void) c;
    return make_file(1, "{}", 2, 0, ret_len);
}

static uint8_t *build_len_huge(const st_case *c, size_t *ret_len)
{
    (void) c;
    return make_file(UINT64_MAX, "{}", 2, 0, ret_len);
}

static uint8_t *build_len_over_limit(const st_case *c, size_t *ret_len)
{
    (void) c;
    return make_file((uint64_t) MF_SAFETENSORS_MAX_HEADER + 1, "{}", 2, 0, ret_len);
}

/* An embedded NUL after the object: not JSON whitespace. */
static uint8_t *build_nul_padding(const st_case *c, size_t *ret_len)
{
    (void) c;
    return make_file(4, "{}\0\0", 4, 0, ret_len);
}

/* {"__metadata__": [[[...]]]} with depth arrays; beyond jansson's own 2048 when depth is 5000. */
static uint8_t *build_nested(size_t depth, size_t *ret_len)
{
    char *h = malloc(2 * depth + 64);
    ck_assert_ptr_nonnull(h);
    size_t o = (size_t) sprintf(h, "{\"__metadata__\":");
    for (size_t i = 0; i < depth; i++) {
        h[o++] = '[';
    }
    for (size_t i = 0; i < depth; i++) {
        h[o++] = ']';
    }
    h[o++] = '}';
    h[o] = '\0';
    uint8_t *b = make_file_from_header(h, 0, ret_len);
    free(h);
    return b;
}

static uint8_t *build_deep(const st_case *c, size_t *ret_len)
{
    (void) c;
    return build_nested(1000, ret_len);
}

static uint8_t *build_deeper_than_jansson(const st_case *c, size_t *ret_len)
{
    (void) c;
    return build_nested(5000, ret_len);
}

/* A raw NUL byte inside a metadata string (not an escape). */
static uint8_t *build_raw_nul(const st_case *c, size_t *ret_len)
{
    (void) c;
    static const char h[] = "{\"__metadata__\":{\"a\":\"x\0y\"}}";
    return make_file(sizeof h - 1, h, sizeof h - 1, 0, ret_len);
}

/* {"__metadata__": [0,0,...]}: n zeros, n + 2 JSON values in all. */
static uint8_t *build_zeros(size_t n, size_t *ret_len)
{
    char *h = malloc(2 * n + 64);
    ck_assert_ptr_nonnull(h);
    size_t o = (size_t) sprintf(h, "{\"__metadata__\":[");
    for (size_t i = 0; i < n; i++) {
        h[o++] = '0';
        h[o++] = ',';
    }
    h[o - 1] = ']';
    h[o++] = '}';
    h[o] = '\0';
    uint8_t *b = make_file_from_header(h, 0, ret_len);
    free(h);
    return b;
}

static uint8_t *build_many_values(const st_case *c, size_t *ret_len)
{
    (void) c;
    return build_zeros(MF_SAFETENSORS_MAX_VALUES - 1, ret_len);
}

/* Exactly MF_SAFETENSORS_MAX_VALUES values (empty containers not counted): within bounds. */
static uint8_t *build_values_at_limit(const st_case *c, size_t *ret_len)
{
    (void) c;
    return build_zeros(MF_SAFETENSORS_MAX_VALUES - 2, ret_len);
}

#define T4(name) "\"" name "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}"

static const st_case st_cases[] = {
    {.name = "empty file", .build = build_empty, .err = MF_EFORMAT, .msg_has = "shorter than"},
    {.name = "5-byte file", .build = build_short, .err = MF_EFORMAT, .msg_has = "shorter than"},
    {.name = "header length beyond file",
     .build = build_len_beyond,
     .err = MF_EFORMAT,
     .msg_has = "after the length prefix"},
    {.name = "header length 0", .build = build_len_zero, .err = MF_EFORMAT, .msg_has = "too small"},
    {.name = "header length 1", .build = build_len_one, .err = MF_EFORMAT, .msg_has = "too small"},
    {.name = "header length 2^64-1",
     .build = build_len_huge,
     .err = MF_EFORMAT,
     .msg_has = "100 MiB"},
    {.name = "header length 100 MiB + 1",
     .build = build_len_over_limit,
     .err = MF_EFORMAT,
     .msg_has = "100 MiB"},
    {.name = "header not JSON",
     .header = "hello!!!",
     .err = MF_EFORMAT,
     .msg_has = "not valid JSON"},
    {.name = "header with BOM",
     .header = "\xef\xbb\xbf{}",
     .err = MF_EFORMAT,
     .msg_has = "not valid JSON"},
    {.name = "header is an array",
     .header = "[1,2]",
     .err = MF_EFORMAT,
     .msg_has = "not a JSON object"},
    {.name = "header is a string",
     .header = "\"{}\"",
     .err = MF_EFORMAT,
     .msg_has = "not a JSON object"},
    {.name = "truncated JSON",
     .header = "{\"a\":{\"dtype\":\"F32\"",
     .err = MF_EFORMAT,
     .msg_has = "unexpected end of input"},
    {.name = "truncated string",
     .header = "{\"a\":{\"dtype\":\"F3",
     .err = MF_EFORMAT,
     .msg_has = "unexpected end of input"},
    {.name = "trailing garbage",
     .header = "{} x",
     .err = MF_EFORMAT,
     .msg_has = "trailing characters"},
    {.name = "second object",
     .header = "{}{}",
     .err = MF_EFORMAT,
     .msg_has = "trailing characters"},
    {.name = "NUL padding",
     .build = build_nul_padding,
     .err = MF_EFORMAT,
     .msg_has = "trailing characters"},
    {.name = "trailing comma",
     .header = "{\"__metadata__\":{\"a\":\"b\",}}",
     .err = MF_EFORMAT,
     .msg_has = "string or '}' expected"},
    {.name = "single quotes",
     .header = "{'a':1}",
     .err = MF_EFORMAT,
     .msg_has = "string or '}' expected"},
    {.name = "invalid UTF-8 key",
     .header = "{\"\xff\":1}",
     .err = MF_EFORMAT,
     .msg_has = "invalid UTF-8"},
    {.name = "lone surrogate key",
     .header = "{\"\\ud800\":1}",
     .err = MF_EFORMAT,
     .msg_has = "invalid Unicode"},
    {.name = "control character",
     .header = "{\"a\tb\":1}",
     .err = MF_EFORMAT,
     .msg_has = "control character"},
    {.name = "NUL escape",
     .header = "{\"__metadata__\":{\"a\":\"x\\u0000\"}}",
     .err = MF_EFORMAT,
     .msg_has = "\\u0000"},
    {.name = "metadata not an object",
     .header = "{\"__metadata__\":\"x\"}",
     .err = MF_EFORMAT,
     .msg_has = "__metadata__ is not an object",
     .field = "__metadata__"},
    {.name = "metadata value number",
     .header = "{\"__metadata__\":{\"a\":\"b\",\"n\":1}}",
     .err = MF_EFORMAT,
     .msg_has = "metadata value of \"n\" is not a string",
     .field = "__metadata__/n"},
    {.name = "metadata value object",
     .header = "{\"__metadata__\":{\"o\":{}}}",
     .err = MF_EFORMAT,
     .msg_has = "not a string",
     .field = "__metadata__/o"},
    {.name = "metadata value null",
     .header = "{\"__metadata__\":{\"z\":null}}",
     .err = MF_EFORMAT,
     .msg_has = "not a string",
     .field = "__metadata__/z"},
    {.name = "duplicate metadata key",
     .header = "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}",
     .err = MF_EFORMAT,
     .msg_has = "duplicate key \"k\"",
     .field = "k"},
    {.name = "duplicate __metadata__",
     .header = "{\"__metadata__\":{},\"__metadata__\":{}}",
     .err = MF_EFORMAT,
     .msg_has = "duplicate key \"__metadata__\""},
    {.name = "tensor not an object",
     .header = "{\"t\":[1]}",
     .err = MF_EFORMAT,
     .msg_has = "tensor entry is not an object",
     .field = "t"},
    {.name = "missing dtype",
     .header = "{\"t\":{\"shape\":[1],\"data_offsets\":[0,4]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "missing \"dtype\"",
     .field = "t"},
    {.name = "missing shape",
     .header = "{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "missing \"shape\"",
     .field = "t"},
    {.name = "missing data_offsets",
     .header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "missing \"data_offsets\"",
     .field = "t"},
    {.name = "unknown tensor field",
     .header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "unknown field \"extra\"",
     .field = "t"},
    {.name = "duplicate tensor field",
     .header = "{\"t\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "duplicate key \"dtype\""},
    {.name = "duplicate tensor",
     .header = "{" T4("a") "," T4("a") "}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "duplicate key \"a\"",
     .field = "a"},
    {.name = "dtype F16",
     .header = "{\"t\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "dtype F16 not supported, only F32",
     .field = "t"},
    {.name = "dtype I64",
     .header = "{\"t\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}",
     .data_len = 8,
     .err = MF_EFORMAT,
     .msg_has = "dtype I64 not supported, only F32"},
    {.name = "dtype BF16",
     .header = "{\"t\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "dtype BF16 not supported"},
    {.name = "dtype garbage",
     .header = "{\"t\":{\"dtype\":\"Zq\\u0001\",\"shape\":[1],\"data_offsets\":[0,4]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "dtype Zq? not supported"},
    {.name = "dtype lower case",
     .header = "{\"t\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "dtype f32 not supported"},
    {.name = "dtype not a string",
     .header = "{\"t\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "dtype is not a string"},
    {.name = "negative shape",
     .header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "shape[0] is negative",
     .field = "t"},
    {.name = "fractional shape",
     .header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[2,1.5],\"data_offsets\":[0,4]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "shape[1] is not an integer"},
    {.name = "exponent shape",
     .header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[1e0],\"data_offsets\":[0,4]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "shape[0] is not an integer"},
    {.name = "string shape entry",
     .header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "shape[0] is not a number"},
    {.name = "shape not an array",
     .header = "{\"t\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "shape is not an array"},
    {.name = "shape too many dims",
     .header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "at most 8"},
    {.name = "shape entry beyond u64",
     .header =
         "{\"t\":{\"dtype\":\"F32\",\"shape\":[18446744073709551616],\"data_offsets\":[0,4]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "number too large"},
    {.name = "shape product overflow",
     .header =
         "{\"t\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,2],\"data_offsets\":[0,4]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "shape product overflows",
     .field = "t"},
    {.name = "byte size overflow",
     .header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,4]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "byte size overflows"},
    {.name = "offsets end out of range",
     .header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "out of range",
     .field = "t"},
    {.name = "offsets huge",
     .header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[18446744073709551612,"
               "18446744073709551615]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "number too large"},
    {.name = "offsets begin > end",
     .header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "begin 4 > end 0"},
    {.name = "offsets negative",
     .header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "data_offsets[0] is negative"},
    {.name = "offsets fractional",
     .header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.0]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "data_offsets[1] is not an integer"},
    {.name = "offsets one entry",
     .header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "array of 2"},
    {.name = "offsets three entries",
     .header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}",
     .data_len = 8,
     .err = MF_EFORMAT,
     .msg_has = "array of 2"},
    {.name = "size mismatch",
     .header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}",
     .data_len = 12,
     .err = MF_EFORMAT,
     .msg_has = "size mismatch",
     .field = "t"},
    {.name = "overlapping tensors",
     .header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
     .data_len = 12,
     .err = MF_EFORMAT,
     .msg_has = "overlaps",
     .field = "b"},
    {.name = "same range twice",
     .header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
     .data_len = 8,
     .err = MF_EFORMAT,
     .msg_has = "overlaps"},
    {.name = "empty tensor inside another",
     .header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}",
     .data_len = 8,
     .err = MF_EFORMAT,
     .msg_has = "overlaps",
     .field = "e"},
    {.name = "hole between tensors",
     .header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
     .data_len = 12,
     .err = MF_EFORMAT,
     .msg_has = "hole",
     .field = "b"},
    {.name = "hole at the start",
     .header = "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
     .data_len = 8,
     .err = MF_EFORMAT,
     .msg_has = "hole"},
    {.name = "hole at the end",
     .header = "{" T4("a") "}",
     .data_len = 8,
     .err = MF_EFORMAT,
     .msg_has = "after the last tensor"},
    {.name = "data but no tensors",
     .header = "{}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "no tensors"},
    {.name = "deep nesting", .build = build_deep, .err = MF_EFORMAT, .msg_has = "nesting deeper"},
    {.name = "nesting beyond jansson's limit",
     .build = build_deeper_than_jansson,
     .err = MF_EFORMAT,
     .msg_has = "nesting deeper than 3"},
    {.name = "shape nested one level too deep",
     .header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[[1]],\"data_offsets\":[0,4]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "nesting deeper than 3"},
    {.name = "metadata value nested too deep",
     .header = "{\"__metadata__\":{\"a\":[{}]}}",
     .err = MF_EFORMAT,
     .msg_has = "nesting deeper than 3"},
    {.name = "brackets inside strings do not count",
     .header = "{\"__metadata__\":{\"[[[{{{\":\"]]]\\\"[[[[\",\"n\":1}}",
     .err = MF_EFORMAT,
     .msg_has = "metadata value of \"n\" is not a string"},
    {.name = "NUL escape in a metadata key",
     .header = "{\"__metadata__\":{\"a\\u0000b\":\"x\"}}",
     .err = MF_EFORMAT,
     .msg_has = "\\u0000"},
    {.name = "NUL escape in a tensor name",
     .header = "{\"t\\u0000\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "\\u0000"},
    {.name = "raw NUL in a string",
     .build = build_raw_nul,
     .err = MF_EFORMAT,
     .msg_has = "control character"},
    {.name = "control character quoted by the parser",
     .header = "{\"a\":\x01}",
     .err = MF_EFORMAT,
     .msg_has = "near '?'"},
    {.name = "trailing bytes after a valid header",
     .header = "{" T4("a") "}]",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "trailing characters"},
    {.name = "duplicate long tensor name",
     .header = "{" T4("a.rather.long.name.weight") "," T4("a.rather.long.name.weight") "}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "duplicate key \"a.rather.long.name.weight\"",
     .field = "a.rather.long.name.weight"},
    {.name = "duplicate key spelt differently",
     .header = "{\"__metadata__\":{\"q\\\"\\\\\":\"1\",\"\\u0071\\\"\\u005c\":\"2\"}}",
     .err = MF_EFORMAT,
     .msg_has = "duplicate key \"q\"\\\"",
     .field = "q\"\\"},
    {.name = "huge integer in a shape",
     .header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[123456789012345678901234567890],"
               "\"data_offsets\":[0,4]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "number too large"},
    {.name = "huge negative integer in a shape",
     .header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[-99999999999999999999],"
               "\"data_offsets\":[0,4]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "number too large"},
    {.name = "offset just above int64",
     .header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,"
               "9223372036854775808]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "number too large"},
    {.name = "real overflow in a shape",
     .header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[1e400],\"data_offsets\":[0,4]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "number too large"},
    {.name = "whole real shape",
     .header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "shape[0] is not an integer",
     .field = "t"},
    {.name = "exponent offset",
     .header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4e0]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "data_offsets[1] is not an integer"},
    {.name = "shape 1e3",
     .header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[1e3],\"data_offsets\":[0,4000]}}",
     .data_len = 4000,
     .err = MF_EFORMAT,
     .msg_has = "shape[0] is not an integer"},
    {.name = "leading zero in a shape",
     .header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "not valid JSON"},
    {.name = "NaN in a shape",
     .header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[NaN],\"data_offsets\":[0,4]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "not valid JSON"},
    {.name = "shape boolean",
     .header = "{\"t\":{\"dtype\":\"F32\",\"shape\":[true],\"data_offsets\":[0,4]}}",
     .data_len = 4,
     .err = MF_EFORMAT,
     .msg_has = "shape[0] is not a number"},
    {.name = "too many JSON values",
     .build = build_many_values,
     .err = MF_EFORMAT,
     .msg_has = "more than 262144 JSON values"},
    {.name = "JSON values at the limit",
     .build = build_values_at_limit,
     .err = MF_EFORMAT,
     .msg_has = "__metadata__ is not an object"},
};

START_TEST(test_malformed)
{
    const st_case *c = &st_cases[_i];
    size_t len = 0;
    uint8_t *buf =
        c->build != NULL ? c->build(c, &len) : make_file_from_header(c->header, c->data_len, &len);
    mf_safetensors sentinel;
    mf_safetensors *st = &sentinel;
    mf_diag d = {0};
    mf_err rc = mf_safetensors_parse(buf, len, &st, &d);
    ck_assert_msg(rc == c->err, "%s: got %s (\"%s\"), want %s", c->name, mf_err_name(rc), d.msg,
                  mf_err_name(c->err));
    ck_assert_msg(strstr(d.msg, c->msg_has) != NULL, "%s: message \"%s\" lacks \"%s\"", c->name,
                  d.msg, c->msg_has);
    if (c->field != NULL) {
        ck_assert_msg(strcmp(d.field, c->field) == 0, "%s: field \"%s\", want \"%s\"", c->name,
                      d.field, c->field);
    }
    ck_assert_msg(mf_utf8_valid(d.msg, strlen(d.msg)) && mf_utf8_valid(d.field, strlen(d.field)),
                  "%s: message or field is not valid UTF-8", c->name);
    ck_assert_msg(st == &sentinel, "%s: ret written on error", c->name);
    free(buf);
}

END_TEST

/* ---- valid files ------------------------------------------------------------------ */

START_TEST(test_minimal)
{
    size_t len;
    uint8_t *buf = make_file_from_header("{}", 0, &len);
    mf_safetensors *st = NULL;
    ck_assert_int_eq(mf_safetensors_parse(buf, len, &st, NULL), MF_OK);
    ck_assert_uint_eq(st->n_tensors, 0);
    ck_assert_uint_eq(st->n_meta, 0);
    ck_assert_uint_eq(st->data_len, 0);
    mf_safetensors_free(st);
    free(buf);
}

END_TEST

START_TEST(test_valid_layouts)
{
    /* Header order differs from data order; a scalar, an empty tensor, padding spaces. */
    const char *h =
        " { \"__metadata__\" : {\"k\\u00e9\":\"a\\\"b\\\\\\n\\ud83d\\ude00\", \"x\":\"\"},"
        "\"s\":{\"shape\":[],\"dtype\":\"F32\",\"data_offsets\":[8,12]},\n"
        "\"e\":{\"dtype\":\"F32\",\"shape\":[3,0],\"data_offsets\":[8,8]},"
        "\"m\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]}}   ";
    size_t len;
    uint8_t *buf = make_file_from_header(h, 12, &len);
    float vals[3] = {1.5f, -2.25f, 1e-30f};
    memcpy(buf + len - 12, vals, sizeof vals);
    mf_safetensors *st = NULL;
    mf_diag d = {0};
    ck_assert_msg(mf_safetensors_parse(buf, len, &st, &d) == MF_OK, "%s", d.msg);
    ck_assert_uint_eq(st->n_tensors, 3);
    ck_assert_uint_eq(st->n_meta, 2);
    ck_assert_str_eq(st->meta_keys[0], "k\xc3\xa9");
    ck_assert_str_eq(st->meta_vals[0], "a\"b\\\n\xf0\x9f\x98\x80");
    ck_assert_str_eq(mf_safetensors_get_meta(st, "x"), "");
    ck_assert_ptr_null(mf_safetensors_get_meta(st, "y"));

    const mf_safetensors_tensor *s = mf_safetensors_find(st, "s");
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(s->n_dims, 0);
    ck_assert_uint_eq(s->n_elems, 1);
    float one;
    mf_safetensors_tensor_read(s, &one);
    ck_assert(one == 1e-30f);

    const mf_safetensors_tensor *e = mf_safetensors_find(st, "e");
    ck_assert_uint_eq(e->n_dims, 2);
    ck_assert_uint_eq(e->n_elems, 0);

    const mf_safetensors_tensor *m = mf_safetensors_find(st, "m");
    float two[2];
    mf_safetensors_tensor_read(m, two);
    ck_assert(two[0] == 1.5f);
    ck_assert(two[1] == -2.25f);
    ck_assert_str_eq(st->tensors[0].name, "s"); /* header order kept */
    ck_assert_ptr_null(mf_safetensors_find(st, "zz"));
    mf_safetensors_free(st);
    free(buf);
}

END_TEST

START_TEST(test_bad_arguments)
{
    mf_safetensors *st = NULL;
    ck_assert_int_eq(mf_safetensors_parse(NULL, 10, &st, NULL), MF_EINVAL);
    uint8_t b[16] = {0};
    ck_assert_int_eq(mf_safetensors_parse(b, sizeof b, NULL, NULL), MF_EINVAL);
    mf_safetensors_free(NULL);
}

END_TEST

/* ---- writer ----------------------------------------------------------------------- */

START_TEST(test_write_round_trip)
{
    float a[6], b[3], c[1] = {42.0f};
    for (int i = 0; i < 6; i++) {
        a[i] = sinf((float) i) * 1e3f;
    }
    b[0] = -0.0f;
    b[1] = 1e-45f; /* subnormal */
    b[2] = 3.4e38f;
    const mf_safetensors_entry e[] = {
        {.name = "layers.0.weight", .n_dims = 2, .shape = {2, 3}, .data = a},
        {.name = "bias \"quoted\"\n\xe2\x82\xac", .n_dims = 1, .shape = {3}, .data = b},
        {.name = "scalar", .n_dims = 0, .data = c},
        {.name = "empty", .n_dims = 2, .shape = {0, 5}, .data = NULL},
    };
    const char *keys[] = {"format", "ctl\x01", "\\"};
    const char *vals[] = {"manifold.mlp-ddpm.v1", "tab\there", "\xf0\x9f\x98\x80 \"x\""};
    uint8_t *buf = NULL;
    size_t len = 0;
    mf_diag d = {0};
    ck_assert_msg(mf_safetensors_write(e, 4, keys, vals, 3, &buf, &len, &d) == MF_OK, "%s", d.msg);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) {
        n = (n << 8) | buf[i];
    }
    ck_assert_uint_eq(n % 8, 0);
    ck_assert_uint_eq(len, 8 + n + sizeof a + sizeof b + sizeof c);
    ck_assert_int_eq(buf[8], '{');
    ck_assert_ptr_null(memchr(buf + 8, '\n', n)); /* compact, control chars escaped */

    mf_safetensors *st = NULL;
    ck_assert_msg(mf_safetensors_parse(buf, len, &st, &d) == MF_OK, "%s", d.msg);
    ck_assert_uint_eq(st->n_tensors, 4);
    ck_assert_uint_eq(st->n_meta, 3);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_str_eq(st->meta_keys[i], keys[i]);
        ck_assert_str_eq(st->meta_vals[i], vals[i]);
    }
    for (size_t i = 0; i < 4; i++) {
        const mf_safetensors_tensor *t = &st->tensors[i];
        ck_assert_str_eq(t->name, e[i].name); /* written in the given order */
        ck_assert_uint_eq(t->n_dims, e[i].n_dims);
        for (size_t k = 0; k < t->n_dims; k++) {
            ck_assert_uint_eq(t->shape[k], e[i].shape[k]);
        }
        if (t->n_elems > 0) {
            ck_assert_int_eq(memcmp(t->data, e[i].data, t->n_elems * sizeof(float)), 0);
        }
    }
    mf_safetensors_free(st);
    free(buf);
}

END_TEST

/* The byte layout Python's safetensors writes for save_file({"a": zeros(2)}, {"format": "pt"}). */
START_TEST(test_python_layout)
{
    const char *h = "{\"__metadata__\":{\"format\":\"pt\"},"
                    "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    size_t hl = strlen(h), padded = (hl + 7) / 8 * 8;
    char *hp = malloc(padded + 1);
    memset(hp, ' ', padded);
    memcpy(hp, h, hl);
    hp[padded] = '\0';
    size_t len;
    uint8_t *want = make_file_from_header(hp, 8, &len);
    memset(want + 8 + padded, 0, 8);

    float zeros[2] = {0.0f, 0.0f};
    const mf_safetensors_entry e = {.name = "a", .n_dims = 1, .shape = {2}, .data = zeros};
    const char *k = "format", *v = "pt";
    uint8_t *got = NULL;
    size_t got_len = 0;
    ck_assert_int_eq(mf_safetensors_write(&e, 1, &k, &v, 1, &got, &got_len, NULL), MF_OK);
    ck_assert_uint_eq(got_len, len);
    ck_assert_int_eq(memcmp(got, want, len), 0);

    mf_safetensors *st = NULL;
    ck_assert_int_eq(mf_safetensors_parse(want, len, &st, NULL), MF_OK);
    ck_assert_str_eq(mf_safetensors_get_meta(st, "format"), "pt");
    mf_safetensors_free(st);
    free(got);
    free(want);
    free(hp);
}

END_TEST

START_TEST(test_write_errors)
{
    float x[2] = {1, 2};
    uint8_t *buf = (uint8_t *) 0x1;
    size_t len = 7;
    mf_diag d = {0};
    mf_safetensors_entry dup[2] = {
        {.name = "w", .n_dims = 1, .shape = {2}, .data = x},
        {.name = "w", .n_dims = 1, .shape = {2}, .data = x},
    };
    ck_assert_int_eq(mf_safetensors_write(dup, 2, NULL, NULL, 0, &buf, &len, &d), MF_EINVAL);
    ck_assert_ptr_nonnull(strstr(d.msg, "duplicate"));
    ck_assert_str_eq(d.field, "w");

    mf_safetensors_entry meta_name = {.name = "__metadata__", .n_dims = 1, .shape = {2}, .data = x};
    ck_assert_int_eq(mf_safetensors_write(&meta_name, 1, NULL, NULL, 0, &buf, &len, &d), MF_EINVAL);

    mf_safetensors_entry bad_utf8 = {.name = "w\xc0\x80", .n_dims = 1, .shape = {2}, .data = x};
    ck_assert_int_eq(mf_safetensors_write(&bad_utf8, 1, NULL, NULL, 0, &buf, &len, &d), MF_EINVAL);
    ck_assert_ptr_nonnull(strstr(d.msg, "UTF-8"));

    mf_safetensors_entry overflow = {
        .name = "w", .n_dims = 2, .shape = {SIZE_MAX / 2, 3}, .data = x};
    ck_assert_int_eq(mf_safetensors_write(&overflow, 1, NULL, NULL, 0, &buf, &len, &d), MF_ERANGE);

    /* No elements, but a dimension the reader (int64 integers) could not take back. */
    mf_safetensors_entry huge_dim = {.name = "w", .n_dims = 2, .shape = {0, SIZE_MAX}, .data = x};
    ck_assert_int_eq(mf_safetensors_write(&huge_dim, 1, NULL, NULL, 0, &buf, &len, &d), MF_ERANGE);
    ck_assert_ptr_nonnull(strstr(d.msg, "2^63 - 1"));
    huge_dim.shape[1] = (size_t) INT64_MAX;
    ck_assert_int_eq(mf_safetensors_write(&huge_dim, 1, NULL, NULL, 0, &buf, &len, &d), MF_OK);
    mf_safetensors *st = NULL;
    ck_assert_msg(mf_safetensors_parse(buf, len, &st, &d) == MF_OK, "%s", d.msg);
    ck_assert_uint_eq(st->tensors[0].shape[1], (size_t) INT64_MAX);
    mf_safetensors_free(st);
    free(buf);
    buf = (uint8_t *) 0x1;
    len = 7;

    mf_safetensors_entry no_data = {.name = "w", .n_dims = 1, .shape = {2}, .data = NULL};
    ck_assert_int_eq(mf_safetensors_write(&no_data, 1, NULL, NULL, 0, &buf, &len, &d), MF_EINVAL);

    const char *keys[] = {"a", "a"}, *vals[] = {"1", "2"};
    mf_safetensors_entry ok = {.name = "w", .n_dims = 1, .shape = {2}, .data = x};
    ck_assert_int_eq(mf_safetensors_write(&ok, 1, keys, vals, 2, &buf, &len, &d), MF_EINVAL);
    ck_assert_ptr_nonnull(strstr(d.msg, "duplicate metadata key"));

    const char *bad_val[] = {"\xff"};
    ck_assert_int_eq(mf_safetensors_write(&ok, 1, keys, bad_val, 1, &buf, &len, &d), MF_EINVAL);
    ck_assert_int_eq(mf_safetensors_write(&ok, 1, NULL, NULL, 0, NULL, &len, &d), MF_EINVAL);

    /* Outputs untouched on every error. */
    ck_assert_ptr_eq(buf, (uint8_t *) 0x1);
    ck_assert_uint_eq(len, 7);

    /* No tensors and no metadata: "{}" padded to 8. */
    ck_assert_int_eq(mf_safetensors_write(NULL, 0, NULL, NULL, 0, &buf, &len, &d), MF_OK);
    ck_assert_uint_eq(len, 16);
    ck_assert_int_eq(memcmp(buf + 8, "{}      ", 8), 0);
    free(buf);
}

END_TEST

/* ---- mutation loop ---------------------------------------------------------------- */

START_TEST(test_mutations_never_crash)
{
    float w[12];
    for (int i = 0; i < 12; i++) {
        w[i] = (float) i * 0.25f;
    }
    const mf_safetensors_entry e[] = {
        {.name = "a", .n_dims = 2, .shape = {2, 3}, .data = w},
        {.name = "b", .n_dims = 1, .shape = {6}, .data = w + 6},
    };
    const char *k[] = {"format", "note"}, *v[] = {"x", "caf\xc3\xa9 \\ \"q\""};
    uint8_t *orig = NULL;
    size_t orig_len = 0;
    ck_assert_int_eq(mf_safetensors_write(e, 2, k, v, 2, &orig, &orig_len, NULL), MF_OK);
    uint64_t seed = 0x5eed5afe7e115ull;
    size_t n_ok = 0, n_err = 0;
    for (int iter = 0; iter < 20000; iter++) {
        uint64_t r = rng_next(&seed);
        size_t len = orig_len;
        uint8_t *buf = malloc(orig_len);
        memcpy(buf, orig, orig_len);
        switch (r % 4) {
        case 0: /* a byte of the header */
            buf[8 + (r >> 8) % (orig_len - 8 - sizeof w)] = (uint8_t) (r >> 40);
            break;
        case 1: /* any byte */
            buf[(r >> 8) % orig_len] = (uint8_t) (r >> 40);
            break;
        case 2: /* truncation */
            len = (r >> 8) % orig_len;
            break;
        default: /* a structural character swapped for another */
            buf[8 + (r >> 8) % (orig_len - 8 - sizeof w)] =
                (uint8_t) "{}[],:\"\\0-e. "[(r >> 40) % 13];
            break;
        }
        uint8_t *exact = malloc(len > 0 ? len : 1); /* exact size: ASan sees any over-read */
        memcpy(exact, buf, len);
        mf_safetensors *st = NULL;
        mf_diag d = {0};
        mf_err rc = mf_safetensors_parse(exact, len, &st, &d);
        if (rc == MF_OK) {
            n_ok++;
            mf_safetensors_free(st);
        } else {
            ck_assert_int_eq(rc, MF_EFORMAT);
            ck_assert(d.msg[0] != '\0');
            ck_assert(mf_utf8_valid(d.msg, strlen(d.msg)));
            ck_assert(mf_utf8_valid(d.field, strlen(d.field)));
            n_err++;
        }
        free(exact);
        free(buf);
    }
    ck_assert_uint_gt(n_ok, 100);
    ck_assert_uint_gt(n_err, 1000);
    free(orig);
}

END_TEST

static Suite *safetensors_suite(void)
{
    Suite *s = suite_create("safetensors");

    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_minimal);
    tcase_add_test(tc, test_valid_layouts);
    tcase_add_test(tc, test_bad_arguments);
    tcase_add_loop_test(tc, test_malformed, 0, (int) (sizeof st_cases / sizeof st_cases[0]));
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    tc = tcase_create("write");
    tcase_add_test(tc, test_write_round_trip);
    tcase_add_test(tc, test_python_layout);
    tcase_add_test(tc, test_write_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("fuzz");
    tcase_add_test(tc, test_mutations_never_crash);
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(safetensors_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
