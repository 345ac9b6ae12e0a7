/* SPDX-License-Identifier: MIT */
/*
 * Tests of proto/score_json.c: a table of malformed POST /v1/scores bodies,
 * each with the status, code and JSON pointer of its first bad element; the
 * decoded points of good bodies (exact float32, any row length, the n
 * limit); the client's request body read back exactly; the response written
 * and read back (null for a non-finite energy), and malformed responses
 * refused.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http_status.h"
#include "score_json.h"
#include "test_util.h"

/* The API's answer to a decode: 0 on success, else the HTTP status of its error. */
static unsigned decode(const char *body, const mf_req_limits *lim, mf_score_req *r, mf_diag *d)
{
    mf_err err = mf_req_decode_scores(body, strlen(body), lim, r, d);
    if (err == MF_OK) {
        return 0;
    }
    ck_assert_msg(err == MF_EINVAL, "decode error %s", mf_err_name(err));
    ck_assert_ptr_null(r->points);
    return mf_http_status(err, d, NULL);
}

static const struct {
    const char *body, *code, *field;
} bad[] = {
    {"", "bad_json", ""},
    {"[]", "bad_json", ""},
    {"{}", "missing_field", "/model"},
    {"{\"points\": [[1]]}", "missing_field", "/model"},
    {"{\"model\": \"Bad\", \"points\": [[1]]}", "bad_value", "/model"},
    {"{\"model\": \"m\"}", "missing_field", "/points"},
    {"{\"model\": \"m\", \"points\": [[1]], \"n\": 1}", "unknown_field", "/n"},
    {"{\"model\": \"m\", \"points\": {}}", "wrong_type", "/points"},
    {"{\"model\": \"m\", \"points\": []}", "out_of_range", "/points"},
    {"{\"model\": \"m\", \"points\": [1, 2]}", "wrong_type", "/points/0"},
    {"{\"model\": \"m\", \"points\": [[]]}", "out_of_range", "/points/0"},
    {"{\"model\": \"m\", \"points\": [[1, 2], [3]]}", "out_of_range", "/points/1"},
    {"{\"model\": \"m\", \"points\": [[1, 2], [3, 4, 5]]}", "out_of_range", "/points/1"},
    {"{\"model\": \"m\", \"points\": [[1, 2], \"3,4\"]}", "wrong_type", "/points/1"},
    {"{\"model\": \"m\", \"points\": [[1, 2], [3, \"x\"]]}", "wrong_type", "/points/1/1"},
    {"{\"model\": \"m\", \"points\": [[1,2],[3,4],[5,6],[7,null]]}", "wrong_type", "/points/3/1"},
    {"{\"model\": \"m\", \"points\": [[true, 2]]}", "wrong_type", "/points/0/0"},
    {"{\"model\": \"m\", \"points\": [[1, 2], [3, 4e39]]}", "out_of_range", "/points/1/1"},
    {"{\"model\": \"m\", \"points\": [[-4e38]]}", "out_of_range", "/points/0/0"},
    /* just above FLT_MAX and half its ulp: a float32 rounds it to infinity */
    {"{\"model\": \"m\", \"points\": [[3.4028236e38]]}", "out_of_range", "/points/0/0"},
    {"{\"model\": \"m\", \"points\": [[1, [2]]]}", "wrong_type", "/points/0/1"},
    {"{\"model\": \"m\", \"points\": [[1], [2], [3], [4], [5], [6]]}", "out_of_range", "/points"},
};

START_TEST(test_bad_body)
{
    mf_req_limits lim = mf_req_limits_default();
    lim.max_n = 5;
    mf_score_req r;
    mf_diag d = {0};
    unsigned st = decode(bad[_i].body, &lim, &r, &d);
    ck_assert_msg(st == 400, "%s: status %u", bad[_i].body, st);
    ck_assert_msg(strcmp(d.code, bad[_i].code) == 0 && strcmp(d.field, bad[_i].field) == 0,
                  "%s: %s at \"%s\" (%s)", bad[_i].body, d.code, d.field, d.msg);
    if (d.field[0] != '\0' && strcmp(d.code, "missing_field") != 0) {
        ck_assert_msg(strstr(d.msg, d.field) != NULL, "the message names %s: %s", d.field, d.msg);
    }
}

END_TEST

/* A row longer than the widest energy network's input. */
START_TEST(test_row_too_long)
{
    size_t cap = 32 + 2 * (MF_SCORE_MAX_DIM + 1);
    char *body = malloc(cap);
    size_t o = (size_t) snprintf(body, cap, "{\"model\": \"m\", \"points\": [[0");
    for (int k = 0; k < MF_SCORE_MAX_DIM; k++) {
        o += (size_t) snprintf(body + o, cap - o, ",0");
    }
    snprintf(body + o, cap - o, "]]}");
    mf_score_req r;
    mf_diag d = {0};
    ck_assert_uint_eq(decode(body, NULL, &r, &d), 400);
    ck_assert_str_eq(d.field, "/points/0");
    ck_assert_str_eq(d.code, "out_of_range");
    free(body);
}

END_TEST

START_TEST(test_good_body)
{
    mf_score_req r;
    mf_diag d = {0};
    ck_assert_uint_eq(decode("{\"points\": [[1, -2.5, 3e-3], [0.1, 1e30, -7]], \"model\": "
                             "\"eight_gaussians-dxmi\"}",
                             NULL, &r, &d),
                      0);
    ck_assert_str_eq(r.model, "eight_gaussians-dxmi");
    ck_assert_uint_eq(r.n, 2);
    ck_assert_uint_eq(r.D, 3);
    const float want[6] = {1.0f, -2.5f, 3e-3f, 0.1f, 1e30f, -7.0f};
    ck_assert_mem_eq(r.points, want, sizeof want);
    mf_score_req_done(&r);
    ck_assert_ptr_null(r.points);
    mf_score_req_done(&r); /* twice is fine */

    /* exactly max_n points */
    mf_req_limits lim = mf_req_limits_default();
    lim.max_n = 3;
    ck_assert_uint_eq(decode("{\"model\": \"m\", \"points\": [[1], [2], [3]]}", &lim, &r, &d), 0);
    ck_assert_uint_eq(r.n, 3);
    mf_score_req_done(&r);
}

END_TEST

/* What `manifold score` sends reads back as the same floats, bit for bit. */
START_TEST(test_body_round_trip)
{
    enum {
        N = 50,
        D = 3
    };

    float x[N * D];
    for (size_t i = 0; i < N * D; i++) {
        x[i] = (float) (sin(1.7 * (double) i) * pow(10.0, (double) (i % 13) - 6.0));
    }
    x[4] = 3.4e38f;
    x[5] = -1.17549435e-38f;
    x[6] = FLT_MAX; /* written 3.40282347e38, above FLT_MAX as a double (fuzz_scores) */
    x[7] = -FLT_MAX;
    char *body = mf_req_scores_body("m-1", x, N, D);
    ck_assert_ptr_nonnull(body);
    mf_score_req r;
    mf_diag d = {0};
    ck_assert_msg(decode(body, NULL, &r, &d) == 0, "%s", d.msg);
    ck_assert_uint_eq(r.n, N);
    ck_assert_uint_eq(r.D, D);
    ck_assert_mem_eq(r.points, x, sizeof x);
    mf_score_req_done(&r);
    free(body);
}

END_TEST

START_TEST(test_response)
{
    mf_energy_score s[3] = {{.energy = -1.25, .percentile = 12.5, .outlier = false},
                            {.energy = 7.0, .percentile = 100.0, .outlier = true},
                            {.energy = NAN, .percentile = NAN, .outlier = true}};
    mf_score_view v = {.model = "m", .n = 3, .scores = s, .threshold = 4.5};
    json_t *j = mf_json_scores(&v);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "model")), "m");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "outliers")), 2);
    ck_assert(
        json_is_null(json_object_get(json_array_get(json_object_get(j, "scores"), 2), "energy")));
    char *text = json_dumps(j, JSON_COMPACT);
    ck_assert_str_eq(text, "{\"model\":\"m\",\"n\":3,\"threshold\":4.5,\"outliers\":2,"
                           "\"scores\":[{\"energy\":-1.25,\"percentile\":12.5,\"outlier\":false},"
                           "{\"energy\":7.0,\"percentile\":100.0,\"outlier\":true},"
                           "{\"energy\":null,\"percentile\":null,\"outlier\":true}]}");
    free(text);
    mf_score_list l;
    mf_diag d = {0};
    ck_assert_int_eq(mf_json_scores_parse(j, &l, &d), MF_OK);
    ck_assert_uint_eq(l.n, 3);
    ck_assert_uint_eq(l.outliers, 2);
    ck_assert_double_eq(l.threshold, 4.5);
    ck_assert_double_eq(l.scores[0].energy, -1.25);
    ck_assert_double_eq(l.scores[1].percentile, 100.0);
    ck_assert(l.scores[1].outlier && !l.scores[0].outlier);
    ck_assert(isnan(l.scores[2].energy) && isnan(l.scores[2].percentile));
    mf_score_list_done(&l);
    json_decref(j);
}

END_TEST

/* Responses the client must refuse rather than misread. */
START_TEST(test_response_malformed)
{
    static const char *const bodies[] = {
        "{}",
        "{\"n\": 1, \"threshold\": 1, \"outliers\": 0}",
        "{\"n\": 2, \"threshold\": 1, \"outliers\": 0, \"scores\": [{\"energy\": 1, "
        "\"percentile\": 2, \"outlier\": false}]}",
        "{\"n\": 1, \"threshold\": \"1\", \"outliers\": 0, \"scores\": [{\"energy\": 1, "
        "\"percentile\": 2, \"outlier\": false}]}",
        "{\"n\": 1, \"threshold\": 1, \"outliers\": -1, \"scores\": [{\"energy\": 1, "
        "\"percentile\": 2, \"outlier\": false}]}",
        "{\"n\": 1, \"threshold\": 1, \"outliers\": 0, \"scores\": [{\"energy\": \"1\", "
        "\"percentile\": 2, \"outlier\": false}]}",
        "{\"n\": 1, \"threshold\": 1, \"outliers\": 0, \"scores\": [{\"energy\": 1, "
        "\"percentile\": 2, \"outlier\": 0}]}",
        "{\"n\": 1, \"threshold\": 1, \"outliers\": 0, \"scores\": [{\"energy\": 1, "
        "\"outlier\": true}]}",
        "{\"n\": 1, \"threshold\": 1, \"outliers\": 0, \"scores\": [7]}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        json_t *j = json_loads(bodies[i], 0, NULL);
        ck_assert_ptr_nonnull(j);
        mf_score_list l;
        mf_diag d = {0};
        ck_assert_msg(mf_json_scores_parse(j, &l, &d) == MF_EFORMAT, "%s", bodies[i]);
        ck_assert_ptr_null(l.scores);
        ck_assert(d.msg[0] != '\0');
        json_decref(j);
    }
}

END_TEST

static Suite *score_json_suite(void)
{
    Suite *s = suite_create("score_json");
    TCase *tc = tcase_create("request");
    tcase_add_loop_test(tc, test_bad_body, 0, (int) (sizeof bad / sizeof bad[0]));
    tcase_add_test(tc, test_row_too_long);
    tcase_add_test(tc, test_good_body);
    tcase_add_test(tc, test_body_round_trip);
    suite_add_tcase(s, tc);
    tc = tcase_create("response");
    tcase_add_test(tc, test_response);
    tcase_add_test(tc, test_response_malformed);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(score_json_suite)
