/* SPDX-License-Identifier: MIT */
/*
 * test_model_load.c - core/model_load.c: a model file's declared sizes are checked
 * before anything is allocated.  Each row builds a file whose metadata declares a
 * network (or a reward, energy or value network) far larger than its tensors, or a
 * consistent file over the parameter limit, loads it, and checks the refusal (code,
 * field, message) and that the peak RSS of the process grew by less than the network
 * would take: the 313-byte "amplifier" that declares eight layers of 8192 (470M
 * parameters, 1.9 GB) made the loader allocate and zero them before it looked at the
 * tensors.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <check.h>

#include "model_file.h"
#include "test_util.h"

#define MB            1024L /* ru_maxrss is in KiB */
#define HIDDEN_8X8192 "8192,8192,8192,8192,8192,8192,8192,8192"
#define WIDE_4        "4096,4096,4096,4096"

/* (8192 x 66 + 8192) + 7 x (8192 x 8192 + 8192) + (2 x 8192 + 2): D = 2, E = 64. */
#define AMPLIFIER_PARAMS 470384642
/* hidden 4096,4096 on D = 2, E = 64: (4096 x 66 + 4096) + (4096^2 + 4096) + (2 x 4096 + 2). */
#define WIDE_PARAMS 17063938

static long peak_rss_kib(void)
{
    struct rusage ru;
    ck_assert_int_eq(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_maxrss;
}

/* A growing header text. */
typedef struct text {
    char buf[8192];
    size_t len;
} text;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
put(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, sizeof t->buf - t->len, fmt, ap);
    va_end(ap);
    ck_assert(n >= 0 && (size_t) n < sizeof t->buf - t->len);
    t->len += (size_t) n;
}

/* "d0,d1" widths of a comma list into w; returns their number. */
static size_t widths(const char *list, size_t *w)
{
    size_t n = 0;
    for (const char *p = list; *p != '\0'; n++) {
        w[n] = strtoul(p, (char **) &p, 10);
        p += *p == ',';
    }
    return n;
}

/* A file case: the network's metadata plus extras, which tensors it holds, the limit. */
typedef struct load_case {
    const char *name;
    const char *hidden;       /* the network's hidden widths */
    const char *cond_dim;     /* "0" unless given */
    const char *const *extra; /* more metadata, key, value, ..., NULL */
    bool net_tensors;         /* every tensor of the network (zeros) */
    bool short_tensor;        /* layers.0.weight of shape [1, 1] only */
    size_t max_params;        /* 0: the default limit */
    mf_err expect;
    const char *field; /* of the refusal */
    const char *msg;   /* a part of its message */
} load_case;

/* The file of c: an 8-byte length, the header, zero data (calloc: pages never touched). */
static uint8_t *build(const load_case *c, size_t *ret_len)
{
    text h = {.len = 0};
    put(&h,
        "{\"__metadata__\":{\"format\":\"manifold.mlp-ddpm.v1\",\"data_dim\":\"2\","
        "\"cond_dim\":\"%s\",\"hidden\":\"%s\",\"activation\":\"silu\","
        "\"time_embedding\":\"sinusoidal:64\",\"prediction\":\"eps\","
        "\"schedule\":\"linear:0.0001:0.02:1000\",\"data_offset\":\"0\",\"data_scale\":\"1\"",
        c->cond_dim != NULL ? c->cond_dim : "0", c->hidden);
    for (size_t i = 0; c->extra != NULL && c->extra[i] != NULL; i += 2) {
        put(&h, ",\"%s\":\"%s\"", c->extra[i], c->extra[i + 1]);
    }
    put(&h, "}");
    size_t w[8], k = widths(c->hidden, w), off = 0;
    size_t in = 2 + 64 + (c->cond_dim != NULL ? strtoul(c->cond_dim, NULL, 10) : 0);
    for (size_t i = 0; c->net_tensors && i <= k; i++) {
        size_t out = i < k ? w[i] : 2, fan_in = i == 0 ? in : w[i - 1];
        put(&h,
            ",\"layers.%zu.weight\":{\"dtype\":\"F32\",\"shape\":[%zu,%zu],"
            "\"data_offsets\":[%zu,%zu]}",
            i, out, fan_in, off, off + 4 * out * fan_in);
        off += 4 * out * fan_in;
        put(&h,
            ",\"layers.%zu.bias\":{\"dtype\":\"F32\",\"shape\":[%zu],\"data_offsets\":[%zu,%zu]}",
            i, out, off, off + 4 * out);
        off += 4 * out;
    }
    if (c->short_tensor) {
        put(&h, ",\"layers.0.weight\":{\"dtype\":\"F32\",\"shape\":[1,1],\"data_offsets\":[0,4]}");
        off = 4;
    }
    put(&h, "}");
    size_t len = 8 + h.len + off;
    uint8_t *buf = calloc(1, len);
    ck_assert_ptr_nonnull(buf);
    for (int b = 0; b < 8; b++) {
        buf[b] = (uint8_t) ((uint64_t) h.len >> (8 * b));
    }
    memcpy(buf + 8, h.buf, h.len);
    *ret_len = len;
    return buf;
}

static const char *const reward_wide[] = {"reward_model", "mlp", "reward_hidden", WIDE_4, NULL};

/* The energy keys (the quantiles 0, 0.01, ..., 1: 101 non-decreasing numbers). */
static char quantiles[101 * 8];
static const char *energy_wide[] = {
    "energy_hidden", WIDE_4, "value_hidden", "8", "value_emb", "16", "energy_quantiles",
    quantiles,       NULL};
static const char *value_wide[] = {
    "energy_hidden", "8", "value_hidden", WIDE_4, "value_emb", "16", "energy_quantiles",
    quantiles,       NULL};

static const load_case cases[] = {
    /* 1. The amplifier: refused by its declared count, naming the key and the limit. */
    {"amplifier", HIDDEN_8X8192, .expect = MF_EFORMAT, .field = "__metadata__/hidden",
     .msg = "declares 470384642 parameters (hidden: 470384642), over the limit of 16000000"},
    /* 2. With no limit, by its tensors: missing, or short. */
    {"amplifier, no limit", HIDDEN_8X8192, .max_params = SIZE_MAX, .expect = MF_EFORMAT,
     .field = "layers.0.weight", .msg = "missing tensor layers.0.weight"},
    {"amplifier, short tensor, no limit", HIDDEN_8X8192, .short_tensor = true,
     .max_params = SIZE_MAX, .expect = MF_EFORMAT, .field = "layers.0.weight",
     .msg = "layers.0.weight has shape [1,1], expected [8192,66]"},
    /* 3. Condition inputs widen the first layer. */
    {"cond_dim 8192", "4096", "8192", .expect = MF_EFORMAT, .field = "__metadata__/hidden",
     .msg = "over the limit of 16000000"},
    /* 4. The extra networks: reward, energy, value; each named by its key, then by its
     * first missing tensor. */
    {"reward 4 x 4096", "16", .extra = reward_wide, .net_tensors = true, .expect = MF_EFORMAT,
     .field = "__metadata__/reward_hidden", .msg = "(reward_hidden: 50360321)"},
    {"reward 4 x 4096, no limit", "16", .extra = reward_wide, .net_tensors = true,
     .max_params = SIZE_MAX, .expect = MF_EFORMAT, .field = "reward.layers.0.weight",
     .msg = "missing tensor reward.layers.0.weight"},
    {"energy 4 x 4096", "16", .extra = energy_wide, .net_tensors = true, .expect = MF_EFORMAT,
     .field = "__metadata__/energy_hidden", .msg = "(energy_hidden: 50360321)"},
    {"energy 4 x 4096, no limit", "16", .extra = energy_wide, .net_tensors = true,
     .max_params = SIZE_MAX, .expect = MF_EFORMAT, .field = "energy.layers.0.weight",
     .msg = "missing tensor energy.layers.0.weight"},
    {"value 4 x 4096", "16", .extra = value_wide, .net_tensors = true, .expect = MF_EFORMAT,
     .field = "__metadata__/value_hidden", .msg = "(value_hidden: 50425857)"},
    /* 5. A consistent file, every tensor there, one parameter over the limit: refused
     * before its 68 MB are allocated; at the limit it loads. */
    {"consistent, over the limit", "4096,4096", .net_tensors = true, .max_params = WIDE_PARAMS - 1,
     .expect = MF_EFORMAT, .field = "__metadata__/hidden",
     .msg = "declares 17063938 parameters (hidden: 17063938), over the limit of 17063937"},
    {"consistent, over the default limit", "4096,4096", .net_tensors = true, .expect = MF_EFORMAT,
     .field = "__metadata__/hidden", .msg = "over the limit of 16000000"},
    {"consistent, at the limit", "4096,4096", .net_tensors = true, .max_params = WIDE_PARAMS,
     .expect = MF_OK},
};

START_TEST(test_declared_sizes)
{
    const load_case *c = &cases[_i];
    for (size_t k = 0, o = 0; k <= 100; k++) {
        o += (size_t) snprintf(quantiles + o, sizeof quantiles - o, k > 0 ? ",%zu" : "%zu", k);
    }
    size_t len = 0;
    uint8_t *buf = build(c, &len);
    mf_model_limits lim = mf_model_limits_default();
    lim.max_params = c->max_params != 0 ? c->max_params : lim.max_params;
    mf_model *m = NULL;
    mf_diag d = {0};
    long before = peak_rss_kib();
    mf_err rc = mf_model_load_buffer_limited(buf, len, &lim, &m, &d);
    long grown = peak_rss_kib() - before;
    ck_assert_msg(rc == c->expect, "%s: %s, expected %s (%s)", c->name, mf_err_name(rc),
                  mf_err_name(c->expect), d.msg);
    if (c->expect != MF_OK) {
        /* a refusal allocates nothing by the declared sizes: the smallest of them here
         * (the wide file, 68 MB) is more than twice this */
        ck_assert_msg(grown < 32 * MB, "%s: peak RSS grew by %ld KiB", c->name, grown);
        ck_assert_ptr_null(m);
        ck_assert_str_eq(d.field, c->field);
        ck_assert_msg(strstr(d.msg, c->msg) != NULL, "%s: \"%s\" lacks \"%s\"", c->name, d.msg,
                      c->msg);
    } else {
        ck_assert_uint_eq(m->net->n_params, WIDE_PARAMS);
        /* the file's floats, all of them: 8 + header + 4 x n_params bytes */
        ck_assert_uint_eq(len - 8 - (size_t) buf[0] - ((size_t) buf[1] << 8), 4 * WIDE_PARAMS);
    }
    mf_model_free(m);
    free(buf);
}

END_TEST

/* The 313-byte-style amplifier with the default limits, as the daemon's upload meets it:
 * under 400 bytes, refused, and the process's peak grows by less than 64 MB (it grew by
 * 1.9 GB when the network was allocated first). */
START_TEST(test_amplifier_small_file)
{
    const load_case *c = &cases[0];
    size_t len = 0;
    uint8_t *buf = build(c, &len);
    ck_assert_uint_lt(len, 400);
    mf_model *m = NULL;
    mf_diag d = {0};
    long before = peak_rss_kib();
    ck_assert_int_eq(mf_model_load_buffer(buf, len, &m, &d), MF_EFORMAT);
    ck_assert_int_lt(peak_rss_kib() - before, 64 * MB);
    ck_assert_str_eq(d.field, "__metadata__/hidden");
    free(buf);
}

END_TEST

static Suite *model_load_suite(void)
{
    Suite *s = suite_create("model_load");
    TCase *tc = tcase_create("declared_sizes");
    tcase_add_loop_test(tc, test_declared_sizes, 0, (int) (sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, test_amplifier_small_file);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(model_load_suite)
