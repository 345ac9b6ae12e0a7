/* SPDX-License-Identifier: MIT */
/*
 * test_data_file.c - data sets as files.  A table of malformed inputs per
 * format (each row: the input, the error, a substring of the message and the
 * line or byte it must name), good inputs with their values, the limits, the
 * stored form's round trip, and a fuzz-ish round of random truncations and
 * bit flips of good files that must never crash (run it under ASan) and
 * always answer a table or an error that names a line or byte.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "../server/test_files.h" /* write_all */
#include "data_file.h"
#include "rng.h"
#include "test_util.h"

static const mf_data_limits big = {.max_rows = 1000000, .max_cols = 1024, .max_bytes = 1 << 24};

/* ---- npy files built for the tests --------------------------------------------------------- */

/*
 * A .npy of version major with header dict (padded with spaces so the data
 * starts at byte 128, then '\n' unless no_newline) and n values of item bytes
 * (value k = k + 0.5, except value special_at = special), plus extra bytes
 * (negative: cut).  *len gets the length; malloc'd.
 */
typedef struct npy_spec {
    int major;
    const char *dict;
    bool no_newline;
    size_t item, n;
    size_t special_at;
    double special;
    long extra;
} npy_spec;

static uint8_t *npy_make(const npy_spec *s, size_t *len)
{
    size_t start = s->major == 1 ? 10 : 12, data = 128, total = data + s->n * s->item;
    uint8_t *b = calloc(total + 64, 1);
    ck_assert_ptr_nonnull(b);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (uint8_t) s->major;
    b[7] = 0;
    size_t hlen = data - start;
    for (size_t i = 0; i < start - 8; i++) {
        b[8 + i] = (uint8_t) (hlen >> (8 * i));
    }
    size_t dl = strlen(s->dict);
    ck_assert_uint_lt(dl, hlen);
    memcpy(b + start, s->dict, dl);
    memset(b + start + dl, ' ', hlen - dl);
    b[data - 1] = s->no_newline ? ' ' : '\n';
    for (size_t k = 0; k < s->n; k++) {
        double v = k == s->special_at ? s->special : (double) k + 0.5;
        if (s->item == 4) {
            float f = (float) v;
            memcpy(b + data + 4 * k, &f, 4); /* the tests run on little-endian hosts */
        } else {
            memcpy(b + data + 8 * k, &v, 8);
        }
    }
    *len = (size_t) ((long) total + s->extra);
    return b;
}

#define F4_2x3 "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
#define NONE   ((size_t) -1)

/* ---- the malformed table -----------------------------------------------------------------------
 */

typedef struct bad_case {
    const char *name;
    mf_data_format fmt;
    const char *in; /* text input (NULL: npy from spec) */
    size_t len;     /* 0: strlen(in) */
    npy_spec npy;
    mf_err err;
    const char *msg; /* a substring of the message */
    const char
        *field; /* "line 2", "byte 76", or "@token": the byte where token starts in the dict */
} bad_case;

#define CSV(n, i, e, m, f)                 \
    {                                      \
        n, MF_DATA_CSV, i, 0, {0}, e, m, f \
    }
#define NDJSON(n, i, e, m, f)                 \
    {                                         \
        n, MF_DATA_NDJSON, i, 0, {0}, e, m, f \
    }
#define NPY(n, e, m, f, ...)                                     \
    {                                                            \
        n, MF_DATA_NPY, NULL, 0, {.major = __VA_ARGS__}, e, m, f \
    }
#define RAW(n, i, l, e, m, f)              \
    {                                      \
        n, MF_DATA_NPY, i, l, {0}, e, m, f \
    }

/* clang-format off */
static const bad_case bad_cases[] = {
    /* csv */
    CSV("csv empty", "", MF_EFORMAT, "empty", "line 1"),
    CSV("csv blank lines only", "\n\n  \n", MF_EFORMAT, "no data rows", "line 4"),
    CSV("csv header only", "x0,x1\n", MF_EFORMAT, "no data rows", "line 2"),
    CSV("csv short row", "1,2\n3\n", MF_EFORMAT, "1 cells, expected 2", "line 2"),
    CSV("csv long row", "1,2\n3,4,5\n", MF_EFORMAT, "3 cells, expected 2", "line 2"),
    CSV("csv trailing comma", "x0,x1\n1,2\n3,4,\n", MF_EFORMAT, "3 cells", "line 3"),
    CSV("csv crlf ragged", "1,2\r\n3,4\r\n5,6,7\r\n", MF_EFORMAT, "3 cells", "line 3"),
    CSV("csv nan", "1,2\nnan,4\n", MF_EFORMAT, "not finite", "line 2"),
    CSV("csv NaN", "1,2\n3,NaN\n", MF_EFORMAT, "column 2: \"NaN\" is not finite", "line 2"),
    CSV("csv inf", "1,2\n3,inf\n", MF_EFORMAT, "not finite", "line 2"),
    CSV("csv -Infinity", "1,2\n3,-Infinity\n", MF_EFORMAT, "not finite", "line 2"),
    CSV("csv word", "1,2\n3,abc\n", MF_EFORMAT, "column 2: \"abc\" is not a number", "line 2"),
    CSV("csv hex", "1,2\n3,0x10\n", MF_EFORMAT, "not a number", "line 2"),
    CSV("csv two dots", "1,2\n1.2.3,4\n", MF_EFORMAT, "not a number", "line 2"),
    CSV("csv bare exponent", "1,2\n1e,4\n", MF_EFORMAT, "not a number", "line 2"),
    CSV("csv lone dot", "1,2\n.,4\n", MF_EFORMAT, "not a number", "line 2"),
    CSV("csv inner space", "1,2\n3,4 5\n", MF_EFORMAT, "not a number", "line 2"),
    CSV("csv quoted number", "1,2\n\"3\",4\n", MF_EFORMAT, "not a number", "line 2"),
    CSV("csv float overflow", "1,2\n3,1e39\n", MF_EFORMAT, "float32 range", "line 2"),
    CSV("csv double overflow", "1,2\n3,-1e999\n", MF_EFORMAT, "float32 range", "line 2"),
    CSV("csv empty cell", "1,2\n3,\n", MF_EFORMAT, "column 2: the cell is empty", "line 2"),
    CSV("csv empty x with header", "x0,x1,y\n1,,3\n", MF_EFORMAT, "empty", "line 2"),
    CSV("csv unknown name", "x0,x2\n1,2\n", MF_EFORMAT, "\"x2\" is no column name", "line 1"),
    CSV("csv leading zero name", "x0,x01\n1,2\n", MF_EFORMAT, "no column name", "line 1"),
    CSV("csv word header", "a,b\n1,2\n", MF_EFORMAT, "\"a\" is no column name", "line 1"),
    CSV("csv semicolons", "1;2\n3;4\n", MF_EFORMAT, "no column name", "line 1"),
    CSV("csv name twice", "x0,x0\n1,2\n", MF_EFORMAT, "\"x0\" appears twice", "line 1"),
    CSV("csv y twice", "x0,y,y\n1,2,3\n", MF_EFORMAT, "appears twice", "line 1"),
    CSV("csv only y", "y\n1\n", MF_EFORMAT, "no x column", "line 1"),
    CSV("csv label word", "x0,y\n1,abc\n", MF_EFORMAT, "column 2: \"abc\" is not a number", "line 2"),
    CSV("csv label nan", "x0,y\n1,2\n1,nan\n", MF_EFORMAT, "not finite", "line 3"),
    {"csv nul byte", MF_DATA_CSV, "1,2\n3,\0\n", 7, {0}, MF_EFORMAT, "not a number", "line 2"},
    {"csv invalid utf-8 quoted safely", MF_DATA_CSV, "1,2\n3,\xff\xfe\n", 0, {0}, MF_EFORMAT,
     "\"??\" is not a number", "line 2"},
    /* ndjson */
    NDJSON("ndjson empty", "", MF_EFORMAT, "empty", "line 1"),
    NDJSON("ndjson blank", "\n \n", MF_EFORMAT, "no data rows", "line 3"),
    NDJSON("ndjson short row", "[1,2]\n[3]\n", MF_EFORMAT, "1 values, expected 2", "line 2"),
    NDJSON("ndjson long row after blank", "[1,2]\n\n[1,2,3]\n", MF_EFORMAT, "3 values", "line 3"),
    NDJSON("ndjson string", "[1,2]\n[3,\"a\"]\n", MF_EFORMAT, "x[1] is not a number", "line 2"),
    NDJSON("ndjson bool", "[1,2]\n[true,2]\n", MF_EFORMAT, "x[0] is not a number", "line 2"),
    NDJSON("ndjson nested", "[[1],2]\n", MF_EFORMAT, "x[0] is not a number", "line 1"),
    NDJSON("ndjson NaN", "[1,2]\n[3,NaN]\n", MF_EFORMAT, "not a JSON array or object", "line 2"),
    NDJSON("ndjson float overflow", "[1,2]\n[3,1e39]\n", MF_EFORMAT, "x[1] is outside the float32",
           "line 2"),
    NDJSON("ndjson double overflow", "[1,2]\n[3,1e400]\n", MF_EFORMAT, "not a JSON", "line 2"),
    NDJSON("ndjson trailing text", "[1,2] x\n", MF_EFORMAT, "not a JSON", "line 1"),
    NDJSON("ndjson scalar", "1\n", MF_EFORMAT, "not a JSON array or object", "line 1"),
    NDJSON("ndjson two rows one line", "[1,2][3,4]\n", MF_EFORMAT, "not a JSON", "line 1"),
    NDJSON("ndjson empty row", "[]\n", MF_EFORMAT, "the row is empty", "line 1"),
    NDJSON("ndjson unknown member", "[1,2]\n{\"x\":[1,2],\"z\":1}\n", MF_EFORMAT,
           "unknown member \"z\"", "line 2"),
    NDJSON("ndjson no x", "{\"y\":1}\n", MF_EFORMAT, "no \"x\"", "line 1"),
    NDJSON("ndjson x not array", "{\"x\":5}\n", MF_EFORMAT, "\"x\" is not an array", "line 1"),
    NDJSON("ndjson y string", "{\"x\":[1,2],\"y\":\"a\"}\n", MF_EFORMAT, "y is not a number",
           "line 1"),
    NDJSON("ndjson y overflow", "{\"x\":[1],\"y\":1e39}\n", MF_EFORMAT, "y is outside", "line 1"),
    NDJSON("ndjson duplicate member", "{\"x\":[1],\"x\":[2]}\n", MF_EFORMAT, "not a JSON",
           "line 1"),
    NDJSON("ndjson unclosed", "[1,2]\n[3,4\n", MF_EFORMAT, "not a JSON", "line 2"),
    /* npy: the preamble */
    RAW("npy empty", "", 0, MF_EFORMAT, "empty", "byte 0"),
    RAW("npy zip", "PK\x03\x04....", 0, MF_EFORMAT, "not a .npy", "byte 0"),
    RAW("npy bad magic", "\x93NUMPZ\x01\x00\x10\x00", 10, MF_EFORMAT, "not a .npy", "byte 5"),
    RAW("npy short magic", "\x93NUM", 0, MF_EFORMAT, "not a .npy", "byte 4"),
    RAW("npy version 3", "\x93NUMPY\x03\x00\x10\x00\x00\x00", 12, MF_EFORMAT, "1.0 and 2.0",
        "byte 6"),
    RAW("npy version 1.1", "\x93NUMPY\x01\x01\x10\x00", 10, MF_EFORMAT, "1.0 and 2.0", "byte 7"),
    RAW("npy no header length", "\x93NUMPY\x02\x00\x10\x00", 10, MF_EFORMAT, "header length",
        "byte 10"),
    RAW("npy header length 0", "\x93NUMPY\x01\x00\x00\x00{}", 12, MF_EFORMAT, "header length 0",
        "byte 8"),
    RAW("npy header cut", "\x93NUMPY\x01\x00\xc8\x00{'descr'", 17, MF_EFORMAT,
        "ends inside the header (7 of 200", "byte 17"),
    RAW("npy huge header", "\x93NUMPY\x02\x00\x00\x00\x00\x10", 12, MF_EFORMAT, "header length",
        "byte 8"),
    /* npy: the header */
    NPY("npy int dtype", MF_EFORMAT, "'<i4'", "@'<i4'", 1,
        "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", false, 4, 6, NONE),
    NPY("npy half", MF_EFORMAT, "must be '<f4'", "@'<f2'", 1,
        "{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }", false, 2, 6, NONE),
    NPY("npy big-endian", MF_EFORMAT, "big-endian", "@'>f4'", 1,
        "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", false, 4, 6, NONE),
    NPY("npy fortran", MF_EFORMAT, "fortran_order True", "@True", 1,
        "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", false, 4, 6, NONE),
    NPY("npy fortran junk", MF_EFORMAT, "True or False", "@1}", 1,
        "{'descr': '<f4', 'shape': (2, 3), 'fortran_order': 1}", false, 4, 6, NONE),
    NPY("npy 1-D", MF_EFORMAT, "1 dimensions", "byte 10", 1,
        "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", false, 4, 6, NONE),
    NPY("npy 3-D", MF_EFORMAT, "3 dimensions", "byte 10", 1,
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3), }", false, 4, 6, NONE),
    NPY("npy no rows", MF_EFORMAT, "no rows", "byte 10", 1,
        "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", false, 4, 0, NONE),
    NPY("npy no columns", MF_EFORMAT, "too few columns", "byte 10", 1,
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 0), }", false, 4, 0, NONE),
    NPY("npy unknown key", MF_EFORMAT, "unknown key 'foo'", "@'foo'", 1,
        "{'descr': '<f4', 'foo': 1, 'fortran_order': False, 'shape': (2, 3), }", false, 4, 6,
        NONE),
    NPY("npy duplicate key", MF_EFORMAT, "appears twice", "@'descr': '<f8'", 1,
        "{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)}", false, 4, 6,
        NONE),
    NPY("npy no shape", MF_EFORMAT, "no 'shape'", "byte 127", 1,
        "{'descr': '<f4', 'fortran_order': False}", false, 4, 6, NONE),
    NPY("npy no newline", MF_EFORMAT, "newline", "byte 127", 1, F4_2x3, true, 4, 6, NONE),
    NPY("npy missing comma", MF_EFORMAT, "',' or '}'", "@'fortran", 1,
        "{'descr': '<f4' 'fortran_order': False, 'shape': (2, 3), }", false, 4, 6, NONE),
    NPY("npy shape not tuple", MF_EFORMAT, "tuple", "@[2", 1,
        "{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3], }", false, 4, 6, NONE),
    NPY("npy shape negative", MF_EFORMAT, "1 to 15 digits", "@-2", 1,
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }", false, 4, 6, NONE),
    NPY("npy shape huge", MF_EFORMAT, "1 to 15 digits", "@1234567890123456", 1,
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1234567890123456, 3), }", false, 4,
        6, NONE),
    NPY("npy text after dict", MF_EFORMAT, "after the dict", "@x", 1,
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } x", false, 4, 6, NONE),
    NPY("npy not a dict", MF_EFORMAT, "'{'", "byte 10", 1, "('descr', '<f4')", false, 4, 6,
        NONE),
    NPY("npy unterminated key", MF_EFORMAT, "unterminated", "@'descr", 1, "{'descr: 3}", false, 4,
        6, NONE),
    NPY("npy control byte", MF_EFORMAT, "control byte", "@\x01", 1,
        "{'descr': '<f4',\x01 'fortran_order': False, 'shape': (2, 3), }", false, 4, 6, NONE),
    NPY("npy not ascii", MF_EFORMAT, "not ASCII", "@\xc3", 1,
        "{'descr': '<f4', '\xc3\xa9': 1, 'fortran_order': False, 'shape': (2, 3), }", false, 4,
        6, NONE),
    /* npy: the data */
    NPY("npy truncated", MF_EFORMAT, "ends after 20 of the 24 bytes", "byte 148", 1, F4_2x3,
        false, 4, 6, NONE, 0, -4),
    NPY("npy truncated to the header", MF_EFORMAT, "ends after 0 of the 24", "byte 128", 1, F4_2x3,
        false, 4, 6, NONE, 0, -24),
    NPY("npy trailing bytes", MF_EFORMAT, "3 bytes after the data", "byte 152", 1, F4_2x3, false, 4,
        6, NONE, 0, 3),
    NPY("npy header lies (more rows)", MF_EFORMAT, "ends after 24 of the 32", "byte 152", 1,
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 2), }", false, 4, 6, NONE),
    NPY("npy header lies (f8 of f4 data)", MF_EFORMAT, "ends after 24 of the 48", "byte 152", 1,
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", false, 4, 6, NONE),
    NPY("npy NaN", MF_EFORMAT, "row 1, column 0: the value nan", "byte 140", 1, F4_2x3, false, 4, 6,
        3, NAN),
    NPY("npy inf f8", MF_EFORMAT, "row 0, column 1", "byte 136", 2,
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", false, 8, 6, 1, INFINITY),
    NPY("npy f8 over float", MF_EFORMAT, "not finite as a float32", "byte 128", 1,
        "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2)}", false, 8, 6, 0, 1e300),
};

/* clang-format on */

/* The byte offset a "@token" field means for case c. */
static size_t token_offset(const bad_case *c)
{
    const char *t = strstr(c->npy.dict, c->field + 1);
    ck_assert_msg(t != NULL, "%s: no %s in the dict", c->name, c->field);
    return (size_t) (c->npy.major == 1 ? 10 : 12) + (size_t) (t - c->npy.dict);
}

START_TEST(test_malformed)
{
    const bad_case *c = &bad_cases[_i];
    uint8_t *own = NULL;
    const uint8_t *in = (const uint8_t *) c->in;
    size_t len = c->len > 0 ? c->len : (c->in != NULL ? strlen(c->in) : 0);
    if (c->in == NULL) {
        own = npy_make(&c->npy, &len);
        in = own;
    }
    mf_table *t = (mf_table *) 1;
    mf_diag d = {0};
    mf_err err = mf_data_parse(c->fmt, in, len, &big, &t, &d);
    char want[64];
    if (c->field[0] == '@') {
        snprintf(want, sizeof want, "byte %zu", token_offset(c));
    } else {
        snprintf(want, sizeof want, "%s", c->field);
    }
    ck_assert_msg(err == c->err, "%s: %s, expected %s (%s)", c->name, mf_err_name(err),
                  mf_err_name(c->err), d.msg);
    ck_assert_msg(strstr(d.msg, c->msg) != NULL, "%s: message '%s' lacks '%s'", c->name, d.msg,
                  c->msg);
    ck_assert_msg(strcmp(d.field, want) == 0, "%s: field '%s', expected '%s' (%s)", c->name,
                  d.field, want, d.msg);
    ck_assert_msg(strncmp(d.msg, want, strlen(want)) == 0 && d.msg[strlen(want)] == ':',
                  "%s: the message '%s' does not start with '%s:'", c->name, d.msg, want);
    ck_assert_ptr_eq(t, (mf_table *) 1);
    free(own);
}

END_TEST

/* ---- limits -------------------------------------------------------------------------------- */

START_TEST(test_limits)
{
    const mf_data_limits lim = {.max_rows = 3, .max_cols = 2, .max_bytes = 64};

    static const struct {
        mf_data_format fmt;
        const char *in;
        const char *msg, *field;
    } cases[] = {
        {MF_DATA_CSV, "1,2\n3,4\n5,6\n7,8\n", "limit of 3", "line 4"},
        {MF_DATA_CSV, "\n1,2,3\n", "3 columns, over the limit of 2", "line 2"},
        {MF_DATA_CSV, "x0,x1,x2,y\n1,2,3,4\n", "3 columns", "line 1"},
        {MF_DATA_CSV, "x0,x1,y,y,y\n", "4 columns", "line 1"},
        {MF_DATA_CSV,
         "1,2\n1,2\n1,2\n1,2\n1,2\n1,2\n1,2\n1,2\n1,2\n1,2\n1,2\n1,2\n1,2\n1,2\n1,2\n1,2\n1",
         "65 bytes, over the limit of 64", "line 1"},
        {MF_DATA_NDJSON, "[1]\n[2]\n[3]\n[4]\n", "limit of 3", "line 4"},
        {MF_DATA_NDJSON, "[1,2,3]\n", "3 columns", "line 1"},
        {MF_DATA_NDJSON, "{\"x\":[1,2,3]}\n", "3 columns", "line 1"},
    };

    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        mf_table *t = NULL;
        mf_diag d = {0};
        mf_err err = mf_data_parse(cases[k].fmt, (const uint8_t *) cases[k].in, strlen(cases[k].in),
                                   &lim, &t, &d);
        ck_assert_msg(err == MF_ERANGE && strstr(d.msg, cases[k].msg) != NULL &&
                          strcmp(d.field, cases[k].field) == 0,
                      "limit case %zu: %s '%s' at '%s'", k, mf_err_name(err), d.msg, d.field);
    }

    /* npy: rows and columns from the shape, bytes from the length */
    static const struct {
        const char *dict;
        size_t n;
        const char *msg, *field;
    } npys[] = {
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4, 1), }", 4,
         "4 rows, over the limit of 3", "byte 10"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), }", 3,
         "3 columns, over the limit of 2", "byte 10"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", 6,
         "152 bytes, over the limit of 64", "byte 64"},
    };

    for (size_t k = 0; k < sizeof npys / sizeof npys[0]; k++) {
        size_t len;
        npy_spec s = {
            .major = 1, .dict = npys[k].dict, .item = 4, .n = npys[k].n, .special_at = NONE};
        uint8_t *b = npy_make(&s, &len);
        mf_data_limits l2 = lim;
        l2.max_bytes = k < 2 ? 1000 : 64;
        mf_table *t = NULL;
        mf_diag d = {0};
        mf_err err = mf_data_parse(MF_DATA_NPY, b, len, &l2, &t, &d);
        ck_assert_msg(err == MF_ERANGE && strstr(d.msg, npys[k].msg) != NULL &&
                          strcmp(d.field, npys[k].field) == 0,
                      "npy limit case %zu: %s '%s' at '%s'", k, mf_err_name(err), d.msg, d.field);
        free(b);
    }
    /* exactly at the limits is fine */
    mf_table *t = NULL;
    ck_assert_int_eq(
        mf_data_parse(MF_DATA_CSV, (const uint8_t *) "1,2\n3,4\n5,6\n", 12, &lim, &t, NULL), MF_OK);
    ck_assert_uint_eq(t->n_rows, 3);
    mf_table_free(t);
}

END_TEST

/* ---- good inputs ----------------------------------------------------------------------------- */

typedef struct good_case {
    const char *name;
    mf_data_format fmt;
    const char *in;
    npy_spec npy;
    size_t n, d;
    float x[8];
    float y[4]; /* NAN: unlabelled */
    size_t n_labelled;
} good_case;

#define U NAN
/* clang-format off */
static const good_case good_cases[] = {
    {"csv plain", MF_DATA_CSV, "1,2\n3,4\n", {0}, 2, 2, {1, 2, 3, 4}, {U, U}, 0},
    {"csv header, spaces, crlf, labels", MF_DATA_CSV, "x0, x1 ,y\r\n1,2,0\r\n 3 ,\t4, \r\n", {0},
     2, 2, {1, 2, 3, 4}, {0, U}, 1},
    {"csv header in another order", MF_DATA_CSV, "y,x1,x0\n5,1,2\n", {0}, 1, 2, {2, 1}, {5}, 1},
    {"csv bom, no final newline", MF_DATA_CSV, "\xef\xbb\xbfx0\n1\n2", {0}, 2, 1, {1, 2}, {U, U}, 0},
    {"csv blank lines", MF_DATA_CSV, "  \n1,2\n\n3,4\n  \n", {0}, 2, 2, {1, 2, 3, 4}, {U, U}, 0},
    {"csv number forms", MF_DATA_CSV, "-1.5e+2,+.5,7.,1E-1\n", {0}, 1, 4, {-150, 0.5f, 7, 0.1f},
     {U}, 0},
    {"csv tiny values round to 0", MF_DATA_CSV, "1e-50,-0\n", {0}, 1, 2, {0, 0}, {U}, 0},
    {"ndjson mixed forms", MF_DATA_NDJSON,
     "[1,2]\n{\"x\":[3,4],\"y\":1}\n{\"y\":null,\"x\":[5,6]}\n", {0}, 3, 2, {1, 2, 3, 4, 5, 6},
     {U, 1, U}, 1},
    {"ndjson bom, crlf, no final newline", MF_DATA_NDJSON, "\xef\xbb\xbf[1]\r\n\r\n[2.5e0]", {0},
     2, 1, {1, 2.5f}, {U, U}, 0},
    {"npy 1.0 f4", MF_DATA_NPY, NULL, {1, F4_2x3, false, 4, 6, NONE, 0, 0}, 2, 3,
     {0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f}, {U, U}, 0},
    {"npy 2.0 f8, keys reordered, no trailing comma", MF_DATA_NPY, NULL,
     {2, "{\"shape\": (3,2), \"fortran_order\": False, \"descr\": \"<f8\"}", false, 8, 6, NONE, 0,
      0},
     3, 2, {0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f}, {U, U, U}, 0},
};
/* clang-format on */
#undef U

START_TEST(test_good)
{
    const good_case *c = &good_cases[_i];
    uint8_t *own = NULL;
    const uint8_t *in = (const uint8_t *) c->in;
    size_t len = c->in != NULL ? strlen(c->in) : 0;
    if (c->in == NULL) {
        own = npy_make(&c->npy, &len);
        in = own;
    }
    mf_table *t = NULL;
    mf_diag d = {0};
    mf_err err = mf_data_parse(c->fmt, in, len, &big, &t, &d);
    ck_assert_msg(err == MF_OK, "%s: %s %s", c->name, mf_err_name(err), d.msg);
    ck_assert_uint_eq(t->n_rows, c->n);
    ck_assert_uint_eq(t->n_dims, c->d);
    ck_assert_uint_eq(t->n_labelled, c->n_labelled);
    for (size_t k = 0; k < c->n * c->d; k++) {
        ck_assert_msg(t->x[k] == c->x[k], "%s: x[%zu] = %g, expected %g", c->name, k, t->x[k],
                      c->x[k]);
    }
    ck_assert((t->y != NULL) == (c->n_labelled > 0));
    for (size_t i = 0; t->y != NULL && i < c->n; i++) {
        ck_assert(isnan(c->y[i]) ? isnan(t->y[i]) : t->y[i] == c->y[i]);
    }
    mf_table_free(t);
    free(own);
}

END_TEST

START_TEST(test_formats)
{
    mf_data_format f = MF_DATA_CSV;
    ck_assert_int_eq(mf_data_format_lookup("ndjson", &f), MF_OK);
    ck_assert_int_eq(f, MF_DATA_NDJSON);
    ck_assert_int_eq(mf_data_format_lookup("npy", &f), MF_OK);
    ck_assert_int_eq(f, MF_DATA_NPY);
    ck_assert_int_eq(mf_data_format_lookup("CSV", &f), MF_ENOTFOUND);
    ck_assert_int_eq(mf_data_format_lookup(NULL, &f), MF_EINVAL);
    ck_assert_str_eq(mf_data_format_name(MF_DATA_CSV), "csv");
    ck_assert_ptr_null(mf_data_format_name((mf_data_format) 7));
    mf_table *t = NULL;
    ck_assert_int_eq(mf_data_parse((mf_data_format) 7, (const uint8_t *) "1", 1, &big, &t, NULL),
                     MF_EINVAL);
    ck_assert_int_eq(mf_data_parse(MF_DATA_CSV, NULL, 1, &big, &t, NULL), MF_EINVAL);
    ck_assert_int_eq(mf_data_parse(MF_DATA_CSV, (const uint8_t *) "1", 1, NULL, &t, NULL),
                     MF_EINVAL);
}

END_TEST

/* ---- the stored form ---------------------------------------------------------------------- */

START_TEST(test_stored_round_trip)
{
    static const char csv[] = "x0,x1,y\n1,2,7\n3,4,\n-5,6.25,-1\n";
    mf_table *t = NULL, *back = NULL;
    mf_diag d = {0};
    ck_assert_int_eq(mf_data_parse(MF_DATA_CSV, (const uint8_t *) csv, strlen(csv), &big, &t, &d),
                     MF_OK);
    uint8_t *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(mf_data_to_npy(t, &buf, &len), MF_OK);
    ck_assert_uint_eq(len, 128 + 3 * 3 * 4); /* the data starts at byte 128 */
    static const char head[] =
        "\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, 'shape': (3, 3), }";
    ck_assert_mem_eq(buf, head, sizeof head - 1);
    ck_assert_int_eq(buf[127], '\n');
    /* as an upload it is a 3-column table; as the stored form, 2 columns and labels */
    ck_assert_int_eq(mf_data_parse(MF_DATA_NPY, buf, len, &big, &back, &d), MF_EFORMAT);
    ck_assert_ptr_nonnull(strstr(d.msg, "row 1, column 2"));
    free(buf);

    char dir[] = "/tmp/mf_data_file_XXXXXX", path[256];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/set.npy", dir);
    ck_assert_msg(mf_data_save(t, path, &d) == MF_OK, "%s", d.msg);
    ck_assert_msg(mf_data_load(path, &big, &back, &d) == MF_OK, "%s", d.msg);
    ck_assert_uint_eq(back->n_rows, 3);
    ck_assert_uint_eq(back->n_dims, 2);
    ck_assert_uint_eq(back->n_labelled, 2);
    ck_assert_mem_eq(back->x, t->x, 6 * sizeof(float));
    ck_assert(back->y[0] == 7.0f && isnan(back->y[1]) && back->y[2] == -1.0f);
    for (size_t j = 0; j < 2; j++) {
        ck_assert_double_eq(back->mean[j], t->mean[j]);
        ck_assert_double_eq(back->std[j], t->std[j]);
    }
    mf_table_free(back);
    /* without labels: a NaN column, read back as no labels */
    mf_table *nol = NULL;
    ck_assert_int_eq(mf_data_parse(MF_DATA_CSV, (const uint8_t *) "1\n2\n", 4, &big, &nol, &d),
                     MF_OK);
    ck_assert_int_eq(mf_data_save(nol, path, &d), MF_OK);
    ck_assert_int_eq(mf_data_load(path, &big, &back, &d), MF_OK);
    ck_assert(back->n_dims == 1 && back->y == NULL && back->x[1] == 2.0f);
    mf_table_free(back);
    /* limits apply to the columns besides the labels; a file of one column is refused */
    mf_data_limits one = big;
    one.max_cols = 1;
    ck_assert_int_eq(mf_data_load(path, &one, &back, &d), MF_OK);
    mf_table_free(back);
    one.max_bytes = 10;
    ck_assert_int_eq(mf_data_load(path, &one, &back, &d), MF_ERANGE);
    size_t l1;
    npy_spec s = {.major = 1,
                  .dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1)}",
                  .item = 4,
                  .n = 2,
                  .special_at = NONE};
    uint8_t *b1 = npy_make(&s, &l1);
    write_all(path, b1, l1);
    ck_assert_int_eq(mf_data_load(path, &big, &back, &d), MF_EFORMAT);
    ck_assert_ptr_nonnull(strstr(d.msg, "too few columns"));
    free(b1);
    /* an infinite label is refused even in the stored form */
    s = (npy_spec){.major = 1,
                   .dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2)}",
                   .item = 4,
                   .n = 2,
                   .special_at = 1,
                   .special = INFINITY};
    b1 = npy_make(&s, &l1);
    write_all(path, b1, l1);
    ck_assert_int_eq(mf_data_load(path, &big, &back, &d), MF_EFORMAT);
    ck_assert_str_eq(d.field, "byte 132");
    free(b1);
    unlink(path);
    ck_assert_int_eq(mf_data_load(path, &big, &back, &d), MF_EIO);
    ck_assert_int_eq(rmdir(dir), 0);
    mf_table_free(nol);
    mf_table_free(t);
}

END_TEST

/* ---- fuzz-ish ------------------------------------------------------------------------------- */

/* One mutation of in: a truncation, 1-4 bit flips, or a byte set to one of the format's own. */
static size_t mutate(const uint8_t *in, size_t len, uint8_t *out, mf_rng r, uint64_t k)
{
    memcpy(out, in, len);
    uint32_t kind = mf_rng_below(r, 8 * k, 3);
    if (kind == 0) {
        return mf_rng_below(r, 8 * k + 1, (uint32_t) len + 1);
    }
    uint32_t flips = 1 + mf_rng_below(r, 8 * k + 1, 4);
    for (uint32_t f = 0; f < flips; f++) {
        uint32_t at = mf_rng_below(r, 8 * k + 2 + f, (uint32_t) len);
        if (kind == 1) {
            out[at] ^= (uint8_t) (1u << mf_rng_below(r, 8 * k + 6 + f % 2, 8));
        } else {
            static const char special[] = ",\n\r\"[]{}:.-e0 \x93\xff\x00";
            out[at] = (uint8_t) special[mf_rng_below(r, 8 * k + 6 + f % 2, sizeof special)];
        }
    }
    return len;
}

START_TEST(test_fuzz)
{
    static const char *const texts[] = {
        "x0,x1,y\n1.5,-2e3,1\n3,4,\n5,6,0\n",
        "1,2,3\r\n4,5,6\r\n",
        "[1.5,2]\n{\"x\":[3,4],\"y\":1}\n{\"x\":[5,6],\"y\":null}\n",
    };
    static const mf_data_format fmts[] = {MF_DATA_CSV, MF_DATA_CSV, MF_DATA_NDJSON,
                                          MF_DATA_NPY, MF_DATA_NPY, MF_DATA_NPY};
    const mf_data_limits lim = {.max_rows = 100, .max_cols = 16, .max_bytes = 4096};
    size_t n_ok = 0, n_err = 0;
    for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++) {
        uint8_t *in;
        size_t len;
        if (f < 3) {
            len = strlen(texts[f]);
            in = malloc(len);
            ck_assert_ptr_nonnull(in);
            memcpy(in, texts[f], len);
        } else if (f < 5) {
            npy_spec s = {.major = (int) f - 2,
                          .dict = f == 3
                                      ? F4_2x3
                                      : "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2)}",
                          .item = f == 3 ? 4 : 8,
                          .n = 6,
                          .special_at = NONE};
            in = npy_make(&s, &len);
        } else {
            mf_table *t = NULL;
            ck_assert_int_eq(mf_data_parse(MF_DATA_CSV, (const uint8_t *) texts[0],
                                           strlen(texts[0]), &lim, &t, NULL),
                             MF_OK);
            ck_assert_int_eq(mf_data_to_npy(t, &in, &len), MF_OK);
            mf_table_free(t);
        }
        uint8_t *out = malloc(len);
        ck_assert_ptr_nonnull(out);
        mf_rng r = mf_rng_make(1000 + f);
        for (uint64_t k = 0; k < 3000; k++) {
            size_t n = mutate(in, len, out, r, k);
            /* exact-size copies, so ASan sees any read past the end */
            uint8_t *exact = malloc(n > 0 ? n : 1);
            ck_assert_ptr_nonnull(exact);
            memcpy(exact, out, n);
            mf_table *t = NULL;
            mf_diag d = {0};
            mf_err err = mf_data_parse(fmts[f], exact, n, &lim, &t, &d);
            if (err == MF_OK) {
                n_ok++;
                ck_assert(t->n_rows >= 1 && t->n_dims >= 1);
                for (size_t i = 0; i < t->n_rows * t->n_dims; i++) {
                    ck_assert(isfinite(t->x[i]));
                }
                mf_table_free(t);
            } else {
                n_err++;
                ck_assert_msg(err == MF_EFORMAT || err == MF_ERANGE, "format %zu case %llu: %s", f,
                              (unsigned long long) k, mf_err_name(err));
                ck_assert_msg(strncmp(d.field, "line ", 5) == 0 ||
                                  strncmp(d.field, "byte ", 5) == 0,
                              "format %zu case %llu: field '%s' (%s)", f, (unsigned long long) k,
                              d.field, d.msg);
            }
            free(exact);
        }
        free(out);
        free(in);
    }
    ck_assert(n_ok > 100 && n_err > 1000);
}

END_TEST

static Suite *data_file_suite(void)
{
    Suite *s = suite_create("data_file");
    TCase *tc = tcase_create("malformed");
    tcase_add_loop_test(tc, test_malformed, 0, (int) (sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_test(tc, test_limits);
    suite_add_tcase(s, tc);
    tc = tcase_create("good");
    tcase_add_loop_test(tc, test_good, 0, (int) (sizeof good_cases / sizeof good_cases[0]));
    tcase_add_test(tc, test_formats);
    tcase_add_test(tc, test_stored_round_trip);
    suite_add_tcase(s, tc);
    tc = tcase_create("fuzz");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_fuzz);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(data_file_suite)
