/* SPDX-License-Identifier: MIT */
/*
 * test_safetensors.c - core/safetensors.c and the JSON reader under it
 * (core/json_min.c): round trips, a table of malformed files (each row checks
 * the error code and that the message names the problem), JSON edge cases,
 * and a deterministic mutation loop that must never crash.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "json_min.h"
#include "safetensors.h"

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

static uint8_t *build_deep(const st_case *c, size_t *ret_len)
{
    (void) c;
    size_t depth = 1000;
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

static uint8_t *build_many_values(const st_case *c, size_t *ret_len)
{
    (void) c;
    size_t n = MF_SAFETENSORS_MAX_VALUES + 1;
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
     .msg_has = "unterminated string"},
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
     .msg_has = "expected a string key"},
    {.name = "single quotes",
     .header = "{'a':1}",
     .err = MF_EFORMAT,
     .msg_has = "expected a string key"},
    {.name = "invalid UTF-8 key",
     .header = "{\"\xff\":1}",
     .err = MF_EFORMAT,
     .msg_has = "invalid UTF-8"},
    {.name = "lone surrogate key",
     .header = "{\"\\ud800\":1}",
     .err = MF_EFORMAT,
     .msg_has = "surrogate"},
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
     .msg_has = "shape[0] is too large"},
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
     .msg_has = "out of range"},
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
    {.name = "too many JSON values",
     .build = build_many_values,
     .err = MF_EFORMAT,
     .msg_has = "JSON values"},
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

/* ---- JSON reader ------------------------------------------------------------------ */

static mf_json_doc *parse_ok(const char *text)
{
    mf_json_doc *doc = NULL;
    mf_json_error err = {0};
    mf_err rc = mf_json_parse(text, strlen(text), NULL, &doc, &err);
    ck_assert_msg(rc == MF_OK, "\"%s\": %s at %zu", text, err.msg, err.offset);
    return doc;
}

typedef struct json_bad {
    const char *text;
    mf_err err;
    size_t offset;
    const char *msg_has;
} json_bad;

static const json_bad json_bad_cases[] = {
    {"", MF_EFORMAT, 0, "end of input"},
    {"   ", MF_EFORMAT, 3, "end of input"},
    {"{\"a\":1,}", MF_EFORMAT, 7, "string key"},
    {"[1,2", MF_EFORMAT, 4, "end of input"},
    {"[1 2]", MF_EFORMAT, 3, "',' or ']'"},
    {"{\"a\" 1}", MF_EFORMAT, 5, "':'"},
    {"\"abc", MF_EFORMAT, 0, "unterminated string"},
    {"01", MF_EFORMAT, 0, "leading zeros"},
    {"-", MF_EFORMAT, 0, "digit expected"},
    {"1.", MF_EFORMAT, 2, "after '.'"},
    {".5", MF_EFORMAT, 0, "unexpected '.'"},
    {"1e", MF_EFORMAT, 2, "exponent"},
    {"+1", MF_EFORMAT, 0, "unexpected '+'"},
    {"0x10", MF_EFORMAT, 1, "trailing"},
    {"NaN", MF_EFORMAT, 0, "unexpected 'N'"},
    {"tru", MF_EFORMAT, 0, "a JSON value"},
    {"nul", MF_EFORMAT, 0, "a JSON value"},
    {"[true false]", MF_EFORMAT, 6, "',' or ']'"},
    {"\"\\x\"", MF_EFORMAT, 1, "invalid escape"},
    {"\"\\u12\"", MF_EFORMAT, 1, "four hex digits"},
    {"\"\\u12G4\"", MF_EFORMAT, 1, "four hex digits"},
    {"\"\\ud800\"", MF_EFORMAT, 1, "high surrogate"},
    {"\"\\ud800\\u0041\"", MF_EFORMAT, 1, "high surrogate"},
    {"\"\\udc00\"", MF_EFORMAT, 1, "low surrogate"},
    {"\"ab\\u0000\"", MF_EFORMAT, 3, "\\u0000"},
    {"\"a\nb\"", MF_EFORMAT, 2, "control character"},
    {"\"\xc0\x80\"", MF_EFORMAT, 1, "invalid UTF-8"},         /* overlong NUL */
    {"\"\xed\xa0\x80\"", MF_EFORMAT, 1, "invalid UTF-8"},     /* encoded surrogate */
    {"\"\xf4\x90\x80\x80\"", MF_EFORMAT, 1, "invalid UTF-8"}, /* > U+10FFFF */
    {"\"\xe2\x82\"", MF_EFORMAT, 1, "invalid UTF-8"},         /* truncated sequence */
    {"\"\x80\"", MF_EFORMAT, 1, "invalid UTF-8"},             /* lone continuation */
    {"{\"a\":1,\"b\":{\"x\":1,\"x\":2},\"a\":3}", MF_EFORMAT, 18, "duplicate key \"x\""},
    {"[1]]", MF_EFORMAT, 3, "trailing"},
    {"{}\x01", MF_EFORMAT, 2, "byte 0x01"},
};

START_TEST(test_json_bad)
{
    const json_bad *c = &json_bad_cases[_i];
    mf_json_doc *doc = (mf_json_doc *) 0x1;
    mf_json_error err = {0};
    mf_err rc = mf_json_parse(c->text, strlen(c->text), NULL, &doc, &err);
    ck_assert_msg(rc == c->err, "row %d: got %s", _i, mf_err_name(rc));
    ck_assert_msg(err.offset == c->offset, "row %d: offset %zu, want %zu (%s)", _i, err.offset,
                  c->offset, err.msg);
    ck_assert_msg(strstr(err.msg, c->msg_has) != NULL, "row %d: \"%s\" lacks \"%s\"", _i, err.msg,
                  c->msg_has);
    ck_assert_ptr_eq(doc, (mf_json_doc *) 0x1);
}

END_TEST

START_TEST(test_json_values)
{
    mf_json_doc *doc = parse_ok(" {\"n\": [0, -0, 123, 18446744073709551615, 18446744073709551616,"
                                " -7, 1.5, 2e3, -1E-2], \"s\": \"\\\"\\\\\\/\\b\\f\\n\\r\\t\","
                                " \"u\": \"\\u00e9\\u20AC\\ud83d\\ude00\", \"t\": true,"
                                " \"f\": false, \"z\": null, \"e\": {}, \"a\": []}\r\n");
    const mf_json *root = mf_json_doc_root(doc);
    ck_assert_int_eq(root->type, MF_JSON_OBJECT);
    ck_assert_uint_eq(root->n_children, 8);

    const mf_json *n = mf_json_object_get(root, "n")->child;
    ck_assert(n->is_integer && !n->negative && n->magnitude == 0);
    n = n->next;
    ck_assert(n->is_integer && n->negative && n->magnitude == 0);
    n = n->next;
    ck_assert(n->is_integer && n->magnitude == 123);
    ck_assert_double_eq(n->num, 123.0);
    n = n->next;
    ck_assert(n->is_integer && !n->int_overflow && n->magnitude == UINT64_MAX);
    n = n->next;
    ck_assert(n->is_integer && n->int_overflow);
    n = n->next;
    ck_assert(n->is_integer && n->negative && n->magnitude == 7);
    n = n->next;
    ck_assert(!n->is_integer);
    ck_assert_double_eq(n->num, 1.5);
    n = n->next;
    ck_assert(!n->is_integer);
    ck_assert_double_eq(n->num, 2000.0);
    n = n->next;
    ck_assert_double_eq_tol(n->num, -0.01, 1e-15);
    ck_assert_ptr_null(n->next);

    const mf_json *s = mf_json_object_get(root, "s");
    ck_assert_str_eq(s->str, "\"\\/\b\f\n\r\t");
    ck_assert_uint_eq(s->str_len, 8);
    ck_assert_str_eq(mf_json_object_get(root, "u")->str, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    ck_assert_int_eq(mf_json_object_get(root, "t")->type, MF_JSON_TRUE);
    ck_assert_int_eq(mf_json_object_get(root, "f")->type, MF_JSON_FALSE);
    ck_assert_int_eq(mf_json_object_get(root, "z")->type, MF_JSON_NULL);
    ck_assert_uint_eq(mf_json_object_get(root, "e")->n_children, 0);
    ck_assert_int_eq(mf_json_object_get(root, "a")->type, MF_JSON_ARRAY);
    ck_assert_ptr_null(mf_json_object_get(root, "missing"));
    ck_assert_ptr_null(mf_json_object_get(s, "x"));
    ck_assert_uint_eq(s->key_offset, 86);
    ck_assert_str_eq(s->key, "s");
    mf_json_doc_free(doc);

    doc = parse_ok("\"\\u0041\"");
    ck_assert_str_eq(mf_json_doc_root(doc)->str, "A");
    mf_json_doc_free(doc);
    mf_json_doc_free(NULL);
}

END_TEST

START_TEST(test_json_limits)
{
    mf_json_limits lim = {.max_bytes = 64, .max_depth = 3, .max_values = 5};
    mf_json_doc *doc = NULL;
    mf_json_error err = {0};
    ck_assert_int_eq(mf_json_parse("[[[1]]]", 7, &lim, &doc, &err), MF_OK);
    mf_json_doc_free(doc);
    ck_assert_int_eq(mf_json_parse("[[[[1]]]]", 9, &lim, &doc, &err), MF_ERANGE);
    ck_assert_uint_eq(err.offset, 3);
    ck_assert_ptr_nonnull(strstr(err.msg, "nesting deeper than 3"));
    ck_assert_int_eq(mf_json_parse("[1,2,3,4]", 9, &lim, &doc, &err), MF_OK);
    mf_json_doc_free(doc);
    ck_assert_int_eq(mf_json_parse("[1,2,3,4,5]", 11, &lim, &doc, &err), MF_ERANGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "more than 5 JSON values"));
    char big[65];
    memset(big, ' ', sizeof big);
    big[0] = '1';
    ck_assert_int_eq(mf_json_parse(big, sizeof big, &lim, &doc, &err), MF_ERANGE);
    ck_assert_int_eq(mf_json_parse(NULL, 1, &lim, &doc, &err), MF_EINVAL);
    ck_assert_int_eq(mf_json_parse("1", 1, &lim, NULL, &err), MF_EINVAL);

    /* Default depth: 64 nested arrays parse, 65 do not, and 100k never touch the stack. */
    size_t n = 100000;
    char *deep = malloc(2 * n);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    ck_assert_int_eq(mf_json_parse(deep + n - 64, 128, NULL, &doc, &err), MF_OK);
    mf_json_doc_free(doc);
    ck_assert_int_eq(mf_json_parse(deep + n - 65, 130, NULL, &doc, &err), MF_ERANGE);
    ck_assert_int_eq(mf_json_parse(deep, 2 * n, NULL, &doc, &err), MF_ERANGE);
    free(deep);

    /* Text need not be NUL-terminated: only len bytes are read. */
    ck_assert_int_eq(mf_json_parse("[1]garbage", 3, NULL, &doc, NULL), MF_OK);
    mf_json_doc_free(doc);
}

END_TEST

START_TEST(test_json_escaper)
{
    char all[128];
    for (int i = 1; i < 128; i++) {
        all[i - 1] = (char) i;
    }
    all[127] = '\0';
    const char *inputs[] = {"", "plain", "q\"b\\s/", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", all};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        mf_json_buf b = {0};
        ck_assert_int_eq(mf_json_buf_add_string(&b, inputs[i], strlen(inputs[i])), MF_OK);
        for (size_t k = 0; k < b.len; k++) {
            ck_assert_int_ge((unsigned char) b.data[k], 0x20); /* no raw control chars */
        }
        mf_json_doc *doc = parse_ok(b.data);
        ck_assert_str_eq(mf_json_doc_root(doc)->str, inputs[i]);
        mf_json_doc_free(doc);
        mf_json_buf_deinit(&b);
    }
    mf_json_buf b = {0};
    ck_assert_int_eq(mf_json_buf_add_cstr(&b, "x"), MF_OK);
    ck_assert_int_eq(mf_json_buf_add_string(&b, "\xff", 1), MF_EINVAL);
    ck_assert_uint_eq(b.len, 1); /* nothing appended */
    ck_assert_int_eq(mf_json_buf_add_u64(&b, UINT64_MAX), MF_OK);
    ck_assert_str_eq(b.data, "x18446744073709551615");
    ck_assert_int_eq(mf_json_buf_add_string(&b, "\n\x1f", 2), MF_OK);
    ck_assert_str_eq(b.data, "x18446744073709551615\"\\n\\u001f\"");
    mf_json_buf_deinit(&b);
    mf_json_buf_deinit(&b);
    mf_json_buf_deinit(NULL);
}

END_TEST

START_TEST(test_json_utf8_and_snippet)
{
    ck_assert(mf_json_utf8_valid("", 0));
    ck_assert(mf_json_utf8_valid("a\xc3\xa9\xef\xbf\xbf\xf4\x8f\xbf\xbf", 10));
    ck_assert(!mf_json_utf8_valid("\xc1\xbf", 2));
    ck_assert(!mf_json_utf8_valid("\xe0\x9f\xbf", 3));
    ck_assert(!mf_json_utf8_valid("\xf0\x8f\xbf\xbf", 4));
    ck_assert(!mf_json_utf8_valid("\xf5\x80\x80\x80", 4));
    ck_assert(!mf_json_utf8_valid("\xc3", 1));

    char out[8];
    mf_json_snippet(out, sizeof out, "abcdefg");
    ck_assert_str_eq(out, "abcdefg");
    mf_json_snippet(out, sizeof out, "abcdefgh");
    ck_assert_str_eq(out, "abcd...");
    mf_json_snippet(out, sizeof out, "a\x01\xff");
    ck_assert_str_eq(out, "a??");
    mf_json_snippet(out, sizeof out, "ab\xe2\x82\xac\xe2\x82\xac");
    ck_assert_str_eq(out, "ab...");
    ck_assert(mf_json_utf8_valid(out, strlen(out)));
    mf_json_snippet(out, sizeof out, NULL);
    ck_assert_str_eq(out, "");
}

END_TEST

START_TEST(test_json_mutations_never_crash)
{
    const char *base = "{\"a\":[1,-2.5e3,\"x\\u00e9\\ud83d\\ude00\",true,false,null],"
                       "\"b\":{\"c\":{},\"d\":[]},\"e\":\"\\\"\\\\\\n\"}";
    size_t len = strlen(base);
    uint64_t seed = 42;
    for (int iter = 0; iter < 20000; iter++) {
        uint64_t r = rng_next(&seed);
        char *t = malloc(len);
        memcpy(t, base, len);
        size_t n = len;
        if (r % 3 == 0) {
            n = (r >> 8) % len;
        } else {
            t[(r >> 8) % len] = (char) (r >> 40);
        }
        char *exact = malloc(n > 0 ? n : 1);
        memcpy(exact, t, n);
        mf_json_doc *doc = NULL;
        mf_json_error err = {0};
        mf_err rc = mf_json_parse(exact, n, NULL, &doc, &err);
        if (rc == MF_OK) {
            mf_json_doc_free(doc);
        } else {
            ck_assert_int_eq(rc, MF_EFORMAT);
            ck_assert_uint_le(err.offset, n);
        }
        free(exact);
        free(t);
    }
}

END_TEST

static Suite *safetensors_suite(void)
{
    Suite *s = suite_create("safetensors");

    TCase *tc = tcase_create("json");
    tcase_add_loop_test(tc, test_json_bad, 0,
                        (int) (sizeof json_bad_cases / sizeof json_bad_cases[0]));
    tcase_add_test(tc, test_json_values);
    tcase_add_test(tc, test_json_limits);
    tcase_add_test(tc, test_json_escaper);
    tcase_add_test(tc, test_json_utf8_and_snippet);
    tcase_add_test(tc, test_json_mutations_never_crash);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    tc = tcase_create("parse");
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
