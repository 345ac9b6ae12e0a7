/* SPDX-License-Identifier: MIT */
/*
 * Tests of proto/request_json.c: a table of malformed bodies, each with the
 * exact status, code and JSON pointer it must get; the decoded values and
 * defaults of good bodies; the canonical params_json and its round trip
 * through mf_req_decode_job_params; ids; pointer escaping and truncation;
 * bodies that would blow a naive recursive parser.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dataset.h"
#include "dxmi_codec.h"
#include "http_status.h"
#include "job_codec.h"
#include "request_json.h"
#include "reward_codec.h"
#include "sample_codec.h"
#include "smeme_codec.h"
#include "test_util.h"
#include "train_codec.h"

/* The decoded params of a job request, as its codec's struct. */
#define P_SAMPLE(j) ((mf_sample_req *) (j).params)
#define P_TRAIN(j)  ((mf_train_req *) (j).params)
#define P_SMEME(j)  ((mf_smeme_req *) (j).params)

/*
 * The API's answer to a decode: 0 when it succeeded, else the HTTP status of
 * its error as the daemon maps it (server/http_status.c, linked in).  A
 * decoder fails with MF_EINVAL (the client's fault) or MF_ENOMEM, nothing else.
 */
static unsigned status_of(mf_err err, const mf_diag *d)
{
    if (err == MF_OK) {
        return 0;
    }
    ck_assert_msg(err == MF_EINVAL || err == MF_ENOMEM, "decode error %s", mf_err_name(err));
    return mf_http_status(err, d, NULL);
}

static unsigned decode_samples(const char *body, size_t len, const mf_req_limits *lim,
                               mf_sample_req *r, mf_diag *d)
{
    return status_of(mf_req_decode_samples(body, len, lim, r, d), d);
}

static unsigned decode_job(const char *body, size_t len, const mf_req_limits *lim, mf_job_req *j,
                           mf_diag *d)
{
    return status_of(mf_req_decode_job(body, len, lim, j, d), d);
}

static unsigned decode_job_params(const char *type, const char *model, const char *params,
                                  const mf_req_limits *lim, mf_job_req *j, mf_diag *d)
{
    return status_of(mf_req_decode_job_params(type, model, params, lim, j, d), d);
}

/* A 64-character id, the longest valid one; 61, 60 and 59 characters. */
#define ID64 "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz01"
#define ID61 "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxy"
#define ID60 "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwx"
#define ID59 "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvw"

typedef enum api {
    SAMPLES,
    JOB
} api;

typedef struct bad_case {
    api api;
    const char *body;
    size_t len; /* covers embedded NUL bytes */
    unsigned status;
    const char *code;
    const char *field;
} bad_case;

#define S(body, st, code, field)                         \
    {                                                    \
        SAMPLES, body, sizeof(body) - 1, st, code, field \
    }
#define J(body, st, code, field)                     \
    {                                                \
        JOB, body, sizeof(body) - 1, st, code, field \
    }
#define B400 400
#define B422 422

/* A sample body with one extra field (model and n valid). */
#define SF(fields) "{\"model\":\"m\",\"n\":1," fields "}"
/* A sample job with params. */
#define JS(params) "{\"type\":\"sample\",\"model\":\"m\",\"params\":{\"n\":1," params "}}"
/* A train job with params (dataset valid). */
#define JT(params) "{\"type\":\"train\",\"params\":{\"dataset\":\"two_moons\"," params "}}"
/* A finetune.smeme job of model "m" with params. */
#define JM(params) "{\"type\":\"finetune.smeme\",\"model\":\"m\",\"params\":{" params "}}"

static const bad_case bad_cases[] = {
    /* ---- not a JSON object ---- */
    S("", B400, "bad_json", ""),
    S("   \n", B400, "bad_json", ""),
    S("null", B400, "bad_json", ""),
    S("[]", B400, "bad_json", ""),
    S("42", B400, "bad_json", ""),
    S("\"model\"", B400, "bad_json", ""),
    S("true", B400, "bad_json", ""),
    S("{\"model\":\"a\",\"n\":1", B400, "bad_json", ""),          /* truncated */
    S("{\"model\":\"a\",\"n\":", B400, "bad_json", ""),           /* truncated */
    S("{\"model\":\"a", B400, "bad_json", ""),                    /* truncated in a string */
    S("{\"model\":\"a\",\"n\":1} x", B400, "bad_json", ""),       /* trailing garbage */
    S("{\"model\":\"a\",\"n\":1}{}", B400, "bad_json", ""),       /* two values */
    S("{\"model\":\"a\",\"n\":1,\"n\":2}", B400, "bad_json", ""), /* duplicate key */
    S("{\"model\":\"a\",\"model\":\"a\",\"n\":1}", B400, "bad_json", ""),
    S("{\"model\":\"a\",\"n\":1,}", B400, "bad_json", ""), /* trailing comma */
    S("{'model':'a','n':1}", B400, "bad_json", ""),
    S("{model:\"a\",n:1}", B400, "bad_json", ""),
    S("{\"model\":\"a\",\"n\":1}\0", B400, "bad_json", ""),              /* NUL after the object */
    S("{\"model\":\"a\0b\",\"n\":1}", B400, "bad_json", ""),             /* raw NUL in a string */
    S("{\"model\":\"a\\u0000b\",\"n\":1}", B400, "bad_json", ""),        /* escaped NUL */
    S("{\"model\":\"a\",\"n\":1,\"a\\u0000\":1}", B400, "bad_json", ""), /* NUL in a key */
    S("\0{\"model\":\"a\",\"n\":1}", B400, "bad_json", ""),
    S("{\"model\":\"\xff\",\"n\":1}", B400, "bad_json", ""),         /* not UTF-8 */
    S("{\"model\":\"\xc3\",\"n\":1}", B400, "bad_json", ""),         /* truncated sequence */
    S("{\"model\":\"\xed\xa0\x80\",\"n\":1}", B400, "bad_json", ""), /* a surrogate */
    S("{\"model\":\"a\",\"n\":1,\"\xc3\x28\":1}", B400, "bad_json", ""),
    /* jansson's "near" text quotes a bad escape and the first byte of a character (fuzz_samples) */
    S("{\"model\":\"\\u000\xc7\x9a\",\"n\":1}", B400, "bad_json", ""),
    S("{\"model\":\"\\u00\xff\",\"n\":1}", B400, "bad_json", ""),
    S("{\"model\":\"a\",\"n\":1e400}", B400, "bad_json", ""), /* real overflow */
    S("{\"model\":\"a\",\"n\":99999999999999999999999}", B400, "bad_json", ""),
    S("{\"model\":\"a\",\"n\":-99999999999999999999999}", B400, "bad_json", ""),
    S("{\"model\":\"a\",\"n\":01}", B400, "bad_json", ""), /* leading zero */
    S("{\"model\":\"a\",\"n\":NaN}", B400, "bad_json", ""),
    S("{\"model\":\"a\",\"n\":Infinity}", B400, "bad_json", ""),
    /* ---- depth: checked on the whole body, before any field ---- */
    S("{\"x\":[[[[[[[[1]]]]]]]]}", B400, "bad_json", ""),      /* 9 levels, in an unknown field */
    S("{\"x\":[[[[[[[1]]]]]]]}", B400, "unknown_field", "/x"), /* 8 levels: depth passes */
    S("{\"model\":\"a\",\"n\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{}}}}}}}}}", B400,
      "bad_json", ""),
    S("{\"model\":\"a\",\"n\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":1}}}}}}}}", B400,
      "wrong_type", "/n"),
    /* ---- required fields, unknown fields ---- */
    S("{}", B400, "missing_field", "/model"),
    S("{\"n\":1}", B400, "missing_field", "/model"),
    S("{\"model\":\"a\"}", B400, "missing_field", "/n"),
    S("{\"modle\":\"a\",\"n\":1}", B400, "unknown_field", "/modle"), /* before "missing" */
    S(SF("\"x\":1"), B400, "unknown_field", "/x"),
    S(SF("\"params\":{}"), B400, "unknown_field", "/params"),
    S(SF("\"conditions\":[1]"), B400, "unknown_field", "/conditions"),
    /* ---- target, condition, guidance (conditional models) ---- */
    S(SF("\"target\":\"1\""), B400, "wrong_type", "/target"),
    S(SF("\"target\":1e7"), B400, "out_of_range", "/target"),
    S(SF("\"condition\":[]"), B400, "out_of_range", "/condition"),
    S(SF("\"condition\":1"), B400, "wrong_type", "/condition"),
    S(SF("\"condition\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]"), B400, "out_of_range", "/condition"),
    S(SF("\"condition\":[1,\"2\"]"), B400, "wrong_type", "/condition/1"),
    S(SF("\"condition\":[1,-2e6]"), B400, "out_of_range", "/condition/1"),
    S(SF("\"target\":1,\"condition\":[1]"), B422, "impossible", "/condition"),
    S(SF("\"guidance\":\"cfg\""), B400, "wrong_type", "/guidance"),
    S(SF("\"guidance\":{}"), B400, "missing_field", "/guidance/mode"),
    S(SF("\"guidance\":{\"mode\":\"cfgg\"}"), B400, "bad_value", "/guidance/mode"),
    S(SF("\"guidance\":{\"mode\":\"cfg\",\"w\":-1}"), B400, "out_of_range", "/guidance/w"),
    S(SF("\"guidance\":{\"mode\":\"cfg\",\"x\":1}"), B400, "unknown_field", "/guidance/x"),
    S(SF("\"guidance\":{\"mode\":\"reward\"},\"condition\":[1]"), B422, "impossible", "/target"),
    J(JS("\"target\":1,\"condition\":[1]"), B422, "impossible", "/params/condition"),
    S(SF("\"Model\":\"a\""), B400, "unknown_field", "/Model"),
    S(SF("\"a/b~c\":1"), B400, "unknown_field", "/a~1b~0c"),
    S(SF("\"\":1"), B400, "unknown_field", "/"),
    S(SF("\"~\":1"), B400, "unknown_field", "/~0"),
    /* ---- model ---- */
    S("{\"model\":5,\"n\":1}", B400, "wrong_type", "/model"),
    S("{\"model\":null,\"n\":1}", B400, "wrong_type", "/model"),
    S("{\"model\":[\"a\"],\"n\":1}", B400, "wrong_type", "/model"),
    S("{\"model\":\"\",\"n\":1}", B400, "bad_value", "/model"),
    S("{\"model\":\"../etc\",\"n\":1}", B400, "bad_value", "/model"),
    S("{\"model\":\"..\",\"n\":1}", B400, "bad_value", "/model"),
    S("{\"model\":\".\",\"n\":1}", B400, "bad_value", "/model"),
    S("{\"model\":\"A\",\"n\":1}", B400, "bad_value", "/model"),
    S("{\"model\":\"a/b\",\"n\":1}", B400, "bad_value", "/model"),
    S("{\"model\":\".a\",\"n\":1}", B400, "bad_value", "/model"),
    S("{\"model\":\"-a\",\"n\":1}", B400, "bad_value", "/model"),
    S("{\"model\":\"_a\",\"n\":1}", B400, "bad_value", "/model"),
    S("{\"model\":\"a b\",\"n\":1}", B400, "bad_value", "/model"),
    S("{\"model\":\"a\\\\b\",\"n\":1}", B400, "bad_value", "/model"),
    S("{\"model\":\"\xc3\xa9\",\"n\":1}", B400, "bad_value", "/model"),
    S("{\"model\":\"" ID64 "a\",\"n\":1}", B400, "bad_value", "/model"), /* 65 chars */
    S("{\"model\":\"A\",\"n\":0}", B400, "bad_value", "/model"), /* fields in header order */
    /* ---- n ---- */
    S("{\"model\":\"a\",\"n\":0}", B400, "out_of_range", "/n"),
    S("{\"model\":\"a\",\"n\":-1}", B400, "out_of_range", "/n"),
    S("{\"model\":\"a\",\"n\":10001}", B400, "out_of_range", "/n"),
    S("{\"model\":\"a\",\"n\":9223372036854775807}", B400, "out_of_range", "/n"),
    S("{\"model\":\"a\",\"n\":-9223372036854775808}", B400, "out_of_range", "/n"),
    S("{\"model\":\"a\",\"n\":5.0}", B400, "wrong_type", "/n"),
    S("{\"model\":\"a\",\"n\":1e3}", B400, "wrong_type", "/n"),
    S("{\"model\":\"a\",\"n\":1.5}", B400, "wrong_type", "/n"),
    S("{\"model\":\"a\",\"n\":\"5\"}", B400, "wrong_type", "/n"),
    S("{\"model\":\"a\",\"n\":true}", B400, "wrong_type", "/n"),
    S("{\"model\":\"a\",\"n\":null}", B400, "wrong_type", "/n"),
    S("{\"model\":\"a\",\"n\":[1]}", B400, "wrong_type", "/n"),
    S("{\"model\":\"a\",\"n\":{}}", B400, "wrong_type", "/n"),
    /* ---- sampler ---- */
    S(SF("\"sampler\":\"DDPM\""), B400, "bad_value", "/sampler"),
    S(SF("\"sampler\":\"euler\""), B400, "bad_value", "/sampler"),
    S(SF("\"sampler\":\"\""), B400, "bad_value", "/sampler"),
    S(SF("\"sampler\":1"), B400, "wrong_type", "/sampler"),
    S(SF("\"sampler\":null"), B400, "wrong_type", "/sampler"),
    /* ---- steps ---- */
    S(SF("\"steps\":0"), B400, "out_of_range", "/steps"),
    S(SF("\"steps\":-1"), B400, "out_of_range", "/steps"),
    S(SF("\"steps\":1001"), B400, "out_of_range", "/steps"),
    S(SF("\"steps\":1e400"), B400, "bad_json", ""),
    S(SF("\"steps\":5.0"), B400, "wrong_type", "/steps"),
    S(SF("\"steps\":\"5\""), B400, "wrong_type", "/steps"),
    S(SF("\"steps\":true"), B400, "wrong_type", "/steps"),
    S(SF("\"steps\":null"), B400, "wrong_type", "/steps"),
    /* ---- eta ---- */
    S(SF("\"eta\":-0.1"), B400, "out_of_range", "/eta"),
    S(SF("\"eta\":-1"), B400, "out_of_range", "/eta"),
    S(SF("\"eta\":1.0000001"), B400, "out_of_range", "/eta"),
    S(SF("\"eta\":2"), B400, "out_of_range", "/eta"),
    S(SF("\"eta\":1e400"), B400, "bad_json", ""),
    S(SF("\"eta\":-1e400"), B400, "bad_json", ""),
    S(SF("\"eta\":\"0.5\""), B400, "wrong_type", "/eta"),
    S(SF("\"eta\":true"), B400, "wrong_type", "/eta"),
    S(SF("\"eta\":null"), B400, "wrong_type", "/eta"),
    /* ---- seed ---- */
    S(SF("\"seed\":-1"), B400, "out_of_range", "/seed"),
    S(SF("\"seed\":9007199254740993"), B400, "out_of_range", "/seed"),
    S(SF("\"seed\":9223372036854775807"), B400, "out_of_range", "/seed"),
    S(SF("\"seed\":18446744073709551615"), B400, "bad_json", ""),
    S(SF("\"seed\":1e400"), B400, "bad_json", ""),
    S(SF("\"seed\":1.5"), B400, "wrong_type", "/seed"),
    S(SF("\"seed\":5.0"), B400, "wrong_type", "/seed"),
    S(SF("\"seed\":\"1\""), B400, "wrong_type", "/seed"),
    S(SF("\"seed\":true"), B400, "wrong_type", "/seed"),
    S(SF("\"seed\":null"), B400, "wrong_type", "/seed"),
    /* ---- metrics ---- */
    S(SF("\"metrics\":0"), B400, "wrong_type", "/metrics"),
    S(SF("\"metrics\":1"), B400, "wrong_type", "/metrics"),
    S(SF("\"metrics\":\"true\""), B400, "wrong_type", "/metrics"),
    S(SF("\"metrics\":null"), B400, "wrong_type", "/metrics"),

    /* ---- jobs: the envelope ---- */
    J("", B400, "bad_json", ""),
    J("[]", B400, "bad_json", ""),
    J("{\"type\":\"sample\"", B400, "bad_json", ""),
    J("{\"type\":\"sample\",\"type\":\"train\"}", B400, "bad_json", ""),
    J("{\"type\":\"train\",\"params\":{\"dataset\":\"ring\"}} x", B400, "bad_json", ""),
    J("{}", B400, "missing_field", "/type"),
    J("{\"type\":1}", B400, "wrong_type", "/type"),
    J("{\"type\":null}", B400, "wrong_type", "/type"),
    J("{\"type\":\"foo\"}", B400, "bad_value", "/type"),
    J("{\"type\":\"Sample\"}", B400, "bad_value", "/type"),
    J("{\"type\":\"finetune\"}", B400, "bad_value", "/type"),
    J("{\"type\":\"finetune.SMEME\"}", B400, "bad_value", "/type"),
    J("{\"type\":\"smeme\"}", B400, "bad_value", "/type"),
    /* every job type of the API runs in this build */
    J("{\"type\":\"finetune.dxmi\"}", B400, "missing_field", "/model"),
    J("{\"type\":\"finetune.dxmi\",\"model\":\"m\",\"params\":{\"steps\":1}}", B400, "out_of_range",
      "/params/steps"),
    J("{\"type\":\"finetune.reward\"}", B400, "missing_field", "/params"),
    J("{\"type\":\"finetune.reward\",\"params\":{}}", B400, "missing_field", "/params/dataset"),
    J("{\"type\":\"finetune.dxmi\",\"x\":1}", B400, "unknown_field", "/x"), /* 400 first */
    J("{\"type\":\"finetune.reward\",\"x\":1}", B400, "unknown_field", "/x"),
    J("{\"type\":\"finetune.smeme\",\"x\":1}", B400, "unknown_field", "/x"),
    J("{\"type\":\"sample\",\"model\":\"m\",\"params\":{\"n\":1},\"x\":1}", B400, "unknown_field",
      "/x"),
    J("{\"type\":\"sample\",\"model\":\"m\",\"params\":{\"n\":1},\"n\":1}", B400, "unknown_field",
      "/n"),
    J("{\"type\":\"sample\",\"model\":\"m\",\"params\":{\"n\":1,\"x\":[[[[[[[1]]]]]]]}}", B400,
      "bad_json", ""), /* 9 levels */
    /* ---- sample jobs ---- */
    J("{\"type\":\"sample\",\"params\":{\"n\":1}}", B400, "missing_field", "/model"),
    J("{\"type\":\"sample\",\"model\":\"../etc\",\"params\":{\"n\":1}}", B400, "bad_value",
      "/model"),
    J("{\"type\":\"sample\",\"model\":7,\"params\":{\"n\":1}}", B400, "wrong_type", "/model"),
    J("{\"type\":\"sample\",\"model\":\"m\"}", B400, "missing_field", "/params"),
    J("{\"type\":\"sample\",\"model\":\"m\",\"params\":[]}", B400, "wrong_type", "/params"),
    J("{\"type\":\"sample\",\"model\":\"m\",\"params\":null}", B400, "wrong_type", "/params"),
    J("{\"type\":\"sample\",\"model\":\"m\",\"params\":{}}", B400, "missing_field", "/params/n"),
    J(JS("\"model\":\"m\""), B400, "unknown_field", "/params/model"),
    J(JS("\"stpes\":5"), B400, "unknown_field", "/params/stpes"),
    J(JS("\"a~b\":5"), B400, "unknown_field", "/params/a~0b"),
    J("{\"type\":\"sample\",\"model\":\"m\",\"params\":{\"n\":0}}", B400, "out_of_range",
      "/params/n"),
    J("{\"type\":\"sample\",\"model\":\"m\",\"params\":{\"n\":10001}}", B400, "out_of_range",
      "/params/n"),
    J("{\"type\":\"sample\",\"model\":\"m\",\"params\":{\"n\":2.0}}", B400, "wrong_type",
      "/params/n"),
    J(JS("\"steps\":1001"), B400, "out_of_range", "/params/steps"),
    J(JS("\"sampler\":\"x\""), B400, "bad_value", "/params/sampler"),
    J(JS("\"eta\":2"), B400, "out_of_range", "/params/eta"),
    J(JS("\"seed\":-1"), B400, "out_of_range", "/params/seed"),
    J(JS("\"seed\":9007199254740993"), B400, "out_of_range", "/params/seed"),
    J(JS("\"metrics\":1"), B400, "wrong_type", "/params/metrics"),
    /* ---- train jobs ---- */
    J("{\"type\":\"train\",\"model\":\"m\",\"params\":{\"dataset\":\"ring\"}}", B400,
      "unknown_field", "/model"),
    J("{\"type\":\"train\",\"model\":\"m\"}", B400, "unknown_field", "/model"),
    J("{\"type\":\"train\"}", B400, "missing_field", "/params/dataset"),
    J("{\"type\":\"train\",\"params\":{}}", B400, "missing_field", "/params/dataset"),
    J("{\"type\":\"train\",\"params\":[]}", B400, "wrong_type", "/params"),
    J("{\"type\":\"train\",\"params\":\"x\"}", B400, "wrong_type", "/params"),
    J("{\"type\":\"train\",\"params\":{\"dataset\":\"../foo\"}}", B400, "bad_value",
      "/params/dataset"),
    J("{\"type\":\"train\",\"params\":{\"dataset\":\"\"}}", B400, "bad_value", "/params/dataset"),
    J("{\"type\":\"train\",\"params\":{\"dataset\":\"Digits\"}}", B400, "bad_value",
      "/params/dataset"),
    J("{\"type\":\"train\",\"params\":{\"dataset\":1}}", B400, "wrong_type", "/params/dataset"),
    J("{\"type\":\"train\",\"params\":{\"dataset\":null}}", B400, "wrong_type", "/params/dataset"),
    J("{\"type\":\"train\",\"params\":{\"datset\":\"ring\"}}", B400, "unknown_field",
      "/params/datset"),
    J(JT("\"model\":\"m\""), B400, "unknown_field", "/params/model"),
    J(JT("\"hidden\":[]"), B400, "out_of_range", "/params/hidden"),
    J(JT("\"hidden\":[0]"), B400, "out_of_range", "/params/hidden/0"),
    J(JT("\"hidden\":[1,2,3,4,5,6,7,8,9]"), B400, "out_of_range", "/params/hidden"),
    J(JT("\"hidden\":[8193]"), B400, "out_of_range", "/params/hidden/0"),
    J(JT("\"hidden\":[64,-1]"), B400, "out_of_range", "/params/hidden/1"),
    J(JT("\"hidden\":[64,1.5]"), B400, "wrong_type", "/params/hidden/1"),
    J(JT("\"hidden\":[64,64.0]"), B400, "wrong_type", "/params/hidden/1"),
    J(JT("\"hidden\":[64,\"a\"]"), B400, "wrong_type", "/params/hidden/1"),
    J(JT("\"hidden\":[64,[64]]"), B400, "wrong_type", "/params/hidden/1"),
    J(JT("\"hidden\":256"), B400, "wrong_type", "/params/hidden"),
    J(JT("\"hidden\":null"), B400, "wrong_type", "/params/hidden"),
    J(JT("\"hidden\":{\"0\":64}"), B400, "wrong_type", "/params/hidden"),
    J(JT("\"emb\":63"), B400, "bad_value", "/params/emb"),
    J(JT("\"emb\":0"), B400, "out_of_range", "/params/emb"),
    J(JT("\"emb\":1"), B400, "out_of_range", "/params/emb"),
    J(JT("\"emb\":8194"), B400, "out_of_range", "/params/emb"),
    J(JT("\"emb\":-2"), B400, "out_of_range", "/params/emb"),
    J(JT("\"emb\":64.0"), B400, "wrong_type", "/params/emb"),
    J(JT("\"schedule\":\"\""), B400, "bad_value", "/params/schedule"),
    J(JT("\"schedule\":\"" ID64 "\""), B400, "bad_value", "/params/schedule"),
    J(JT("\"schedule\":1"), B400, "wrong_type", "/params/schedule"),
    /* the schedule is built at submit: its syntax is a bad value, its range impossible */
    J(JT("\"schedule\":\"bogus\""), B400, "bad_value", "/params/schedule"),
    J(JT("\"schedule\":\"cosine:1000\""), B400, "bad_value", "/params/schedule"),
    J(JT("\"schedule\":\"linear:0.5:0.1:1000\""), B422, "impossible", "/params/schedule"),
    J(JT("\"schedule\":\"cosine:2:1000\""), B422, "impossible", "/params/schedule"),
    J("{\"type\":\"finetune.reward\",\"params\":{\"dataset\":\"ring\",\"train\":{\"schedule\":"
      "\"linear:0.5:0.1:1000\"}}}",
      B422, "impossible", "/params/train/schedule"),
    /* each field in range, the job over the budgets (test_job_budget.c has the numbers) */
    J(JT("\"hidden\":[8192,8192,8192,8192,8192,8192,8192,8192]"), B422, "impossible",
      "/params/hidden"),
    J(JT("\"hidden\":[2048,2048,2048],\"steps\":200000,\"batch\":4096"), B422, "impossible",
      "/params/steps"),
    J(JT("\"steps\":0"), B400, "out_of_range", "/params/steps"),
    J(JT("\"steps\":200001"), B400, "out_of_range", "/params/steps"),
    J(JT("\"steps\":-1"), B400, "out_of_range", "/params/steps"),
    J(JT("\"steps\":1e4"), B400, "wrong_type", "/params/steps"),
    J(JT("\"batch\":0"), B400, "out_of_range", "/params/batch"),
    J(JT("\"batch\":4097"), B400, "out_of_range", "/params/batch"),
    J(JT("\"batch\":\"512\""), B400, "wrong_type", "/params/batch"),
    J(JT("\"lr\":0"), B400, "out_of_range", "/params/lr"),
    J(JT("\"lr\":0.0"), B400, "out_of_range", "/params/lr"),
    J(JT("\"lr\":-0.001"), B400, "out_of_range", "/params/lr"),
    J(JT("\"lr\":1.5"), B400, "out_of_range", "/params/lr"),
    J(JT("\"lr\":\"0.1\""), B400, "wrong_type", "/params/lr"),
    J(JT("\"lr\":1e400"), B400, "bad_json", ""),
    J(JT("\"lr_min\":-0.1"), B400, "out_of_range", "/params/lr_min"),
    J(JT("\"lr_min\":1.1"), B400, "out_of_range", "/params/lr_min"),
    J(JT("\"lr_min\":null"), B400, "wrong_type", "/params/lr_min"),
    J(JT("\"warmup\":-1"), B400, "out_of_range", "/params/warmup"),
    J(JT("\"warmup\":1000000001"), B400, "out_of_range", "/params/warmup"),
    J(JT("\"warmup\":1.5"), B400, "wrong_type", "/params/warmup"),
    J(JT("\"ema\":1"), B400, "out_of_range", "/params/ema"),
    J(JT("\"ema\":0.9999991"), B400, "out_of_range", "/params/ema"),
    J(JT("\"ema\":-0.1"), B400, "out_of_range", "/params/ema"),
    J(JT("\"ema\":false"), B400, "wrong_type", "/params/ema"),
    J(JT("\"clip\":-1"), B400, "out_of_range", "/params/clip"),
    J(JT("\"clip\":1e10"), B400, "out_of_range", "/params/clip"),
    J(JT("\"clip\":[1]"), B400, "wrong_type", "/params/clip"),
    J(JT("\"seed\":-1"), B400, "out_of_range", "/params/seed"),
    J(JT("\"seed\":9007199254740993"), B400, "out_of_range", "/params/seed"),
    J(JT("\"seed\":0.5"), B400, "wrong_type", "/params/seed"),
    J(JT("\"dequantise\":1"), B400, "wrong_type", "/params/dequantise"),
    J(JT("\"dequantise\":\"true\""), B400, "wrong_type", "/params/dequantise"),
    J(JT("\"out_model\":\"A\""), B400, "bad_value", "/params/out_model"),
    J(JT("\"out_model\":\"\""), B400, "bad_value", "/params/out_model"),
    J(JT("\"out_model\":\"../x\""), B400, "bad_value", "/params/out_model"),
    J(JT("\"out_model\":5"), B400, "wrong_type", "/params/out_model"),
    J(JT("\"dequantise\":true"), B422, "impossible", "/params/dequantise"), /* two_moons */
    J("{\"type\":\"train\",\"params\":{\"dataset\":\"gaussian\",\"dequantise\":true}}", B422,
      "impossible", "/params/dequantise"),
    J("{\"type\":\"train\",\"params\":{\"dataset\":\"linear_subspace\",\"dequantise\":true}}", B422,
      "impossible", "/params/dequantise"),
    /* Every field is checked before the combination: the 400 wins. */
    J(JT("\"dequantise\":true,\"lr\":0"), B400, "out_of_range", "/params/lr"),
    J(JT("\"dequantise\":true,\"foo\":0"), B400, "unknown_field", "/params/foo"),
    /* ---- finetune.smeme jobs ---- */
    J("{\"type\":\"finetune.smeme\"}", B400, "missing_field", "/model"),
    J("{\"type\":\"finetune.smeme\",\"params\":{}}", B400, "missing_field", "/model"),
    J("{\"type\":\"finetune.smeme\",\"params\":{\"K\":0}}", B400, "missing_field", "/model"),
    J("{\"type\":\"finetune.smeme\",\"model\":\"../x\"}", B400, "bad_value", "/model"),
    J("{\"type\":\"finetune.smeme\",\"model\":\"A\"}", B400, "bad_value", "/model"),
    J("{\"type\":\"finetune.smeme\",\"model\":\"\"}", B400, "bad_value", "/model"),
    J("{\"type\":\"finetune.smeme\",\"model\":\"" ID64 "a\"}", B400, "bad_value", "/model"),
    J("{\"type\":\"finetune.smeme\",\"model\":5}", B400, "wrong_type", "/model"),
    J("{\"type\":\"finetune.smeme\",\"model\":null}", B400, "wrong_type", "/model"),
    J("{\"type\":\"finetune.smeme\",\"model\":\"m\",\"params\":[]}", B400, "wrong_type", "/params"),
    J("{\"type\":\"finetune.smeme\",\"model\":\"m\",\"params\":null}", B400, "wrong_type",
      "/params"),
    J("{\"type\":\"finetune.smeme\",\"model\":\"m\",\"params\":2}", B400, "wrong_type", "/params"),
    J(JM("\"foo\":1"), B400, "unknown_field", "/params/foo"),
    J(JM("\"k\":2"), B400, "unknown_field", "/params/k"), /* keys are case-sensitive */
    J(JM("\"dataset\":\"ring\""), B400, "unknown_field", "/params/dataset"),
    J(JM("\"model\":\"m\""), B400, "unknown_field", "/params/model"),
    J(JM("\"K\":0,\"foo\":1"), B400, "unknown_field", "/params/foo"), /* unknown first */
    J(JM("\"alpha\":[2,2,2],\"foo\":1"), B400, "unknown_field", "/params/foo"),
    /* K */
    J(JM("\"K\":0"), B400, "out_of_range", "/params/K"),
    J(JM("\"K\":17"), B400, "out_of_range", "/params/K"),
    J(JM("\"K\":-1"), B400, "out_of_range", "/params/K"),
    J(JM("\"K\":2.0"), B400, "wrong_type", "/params/K"),
    J(JM("\"K\":\"2\""), B400, "wrong_type", "/params/K"),
    J(JM("\"K\":null"), B400, "wrong_type", "/params/K"),
    J(JM("\"K\":17,\"alpha\":[2,2,2]"), B400, "out_of_range", "/params/K"), /* K first */
    J(JM("\"alpha\":0,\"K\":0"), B400, "out_of_range", "/params/K"),
    /* alpha */
    J(JM("\"alpha\":1"), B400, "out_of_range", "/params/alpha"),
    J(JM("\"alpha\":1.0"), B400, "out_of_range", "/params/alpha"),
    J(JM("\"alpha\":0.5"), B400, "out_of_range", "/params/alpha"),
    J(JM("\"alpha\":0"), B400, "out_of_range", "/params/alpha"),
    J(JM("\"alpha\":-2"), B400, "out_of_range", "/params/alpha"),
    J(JM("\"alpha\":100.00000000001"), B400, "out_of_range", "/params/alpha"),
    J(JM("\"alpha\":101"), B400, "out_of_range", "/params/alpha"),
    J(JM("\"alpha\":1e400"), B400, "bad_json", ""),
    J(JM("\"alpha\":\"2\""), B400, "wrong_type", "/params/alpha"),
    J(JM("\"alpha\":null"), B400, "wrong_type", "/params/alpha"),
    J(JM("\"alpha\":true"), B400, "wrong_type", "/params/alpha"),
    J(JM("\"alpha\":{\"0\":2}"), B400, "wrong_type", "/params/alpha"),
    J(JM("\"alpha\":[]"), B400, "out_of_range", "/params/alpha"),
    J(JM("\"K\":16,\"alpha\":[2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2]"), B400, "out_of_range",
      "/params/alpha"),
    J(JM("\"alpha\":[2,1]"), B400, "out_of_range", "/params/alpha/1"),
    J(JM("\"alpha\":[2,101]"), B400, "out_of_range", "/params/alpha/1"),
    J(JM("\"alpha\":[2,\"3\"]"), B400, "wrong_type", "/params/alpha/1"),
    J(JM("\"alpha\":[2,null]"), B400, "wrong_type", "/params/alpha/1"),
    J(JM("\"alpha\":[2,[3]]"), B400, "wrong_type", "/params/alpha/1"),
    J(JM("\"alpha\":[2,true]"), B400, "wrong_type", "/params/alpha/1"),
    J(JM("\"alpha\":[0.5,3]"), B400, "out_of_range", "/params/alpha/0"),
    J(JM("\"K\":4,\"alpha\":[2,3,4,1]"), B400, "out_of_range", "/params/alpha/3"),
    J(JM("\"alpha\":[2,3,4,1],\"K\":4"), B400, "out_of_range", "/params/alpha/3"),
    /* A list whose length is not K: each field fine alone, together impossible. */
    J(JM("\"alpha\":[2,2,2]"), B422, "impossible", "/params/alpha"), /* K defaults to 2 */
    J(JM("\"alpha\":[3]"), B422, "impossible", "/params/alpha"),
    J(JM("\"K\":3,\"alpha\":[2,2]"), B422, "impossible", "/params/alpha"),
    J(JM("\"alpha\":[2,2],\"K\":3"), B422, "impossible", "/params/alpha"),
    J(JM("\"K\":1,\"alpha\":[2,2]"), B422, "impossible", "/params/alpha"),
    J(JM("\"K\":2,\"alpha\":[2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2]"), B422, "impossible",
      "/params/alpha"),
    /* Every field is checked before the combination: the 400 wins. */
    J(JM("\"alpha\":[2,2,2],\"lr\":0"), B400, "out_of_range", "/params/lr"),
    J(JM("\"alpha\":[2,2,2],\"out_model\":\"A\""), B400, "bad_value", "/params/out_model"),
    /* tau_r */
    J(JM("\"tau_r\":-1"), B400, "out_of_range", "/params/tau_r"),
    J(JM("\"tau_r\":1000"), B400, "out_of_range", "/params/tau_r"),
    J(JM("\"tau_r\":10.0"), B400, "wrong_type", "/params/tau_r"),
    J(JM("\"tau_r\":\"10\""), B400, "wrong_type", "/params/tau_r"),
    /* steps */
    J(JM("\"steps\":1"), B400, "out_of_range", "/params/steps"),
    J(JM("\"steps\":0"), B400, "out_of_range", "/params/steps"),
    J(JM("\"steps\":-1"), B400, "out_of_range", "/params/steps"),
    J(JM("\"steps\":1001"), B400, "out_of_range", "/params/steps"),
    J(JM("\"steps\":100.0"), B400, "wrong_type", "/params/steps"),
    J(JM("\"steps\":null"), B400, "wrong_type", "/params/steps"),
    /* trajectories */
    J(JM("\"trajectories\":0"), B400, "out_of_range", "/params/trajectories"),
    J(JM("\"trajectories\":1025"), B400, "out_of_range", "/params/trajectories"),
    J(JM("\"trajectories\":6.4e1"), B400, "wrong_type", "/params/trajectories"),
    /* batch: its own bound, not the train limit max_batch (4096) */
    J(JM("\"batch\":0"), B400, "out_of_range", "/params/batch"),
    J(JM("\"batch\":16385"), B400, "out_of_range", "/params/batch"),
    J(JM("\"batch\":\"2048\""), B400, "wrong_type", "/params/batch"),
    /* lr */
    J(JM("\"lr\":0"), B400, "out_of_range", "/params/lr"),
    J(JM("\"lr\":0.0"), B400, "out_of_range", "/params/lr"),
    J(JM("\"lr\":-0.0004"), B400, "out_of_range", "/params/lr"),
    J(JM("\"lr\":1.0000001"), B400, "out_of_range", "/params/lr"),
    J(JM("\"lr\":2"), B400, "out_of_range", "/params/lr"),
    J(JM("\"lr\":\"4e-4\""), B400, "wrong_type", "/params/lr"),
    J(JM("\"lr\":null"), B400, "wrong_type", "/params/lr"),
    /* rounds */
    J(JM("\"rounds\":0"), B400, "out_of_range", "/params/rounds"),
    J(JM("\"rounds\":100001"), B400, "out_of_range", "/params/rounds"),
    J(JM("\"rounds\":200.5"), B400, "wrong_type", "/params/rounds"),
    /* inner_steps */
    J(JM("\"inner_steps\":0"), B400, "out_of_range", "/params/inner_steps"),
    J(JM("\"inner_steps\":101"), B400, "out_of_range", "/params/inner_steps"),
    J(JM("\"inner_steps\":false"), B400, "wrong_type", "/params/inner_steps"),
    /* clip_reward, clip_grad, clip_loss */
    J(JM("\"clip_reward\":-0.1"), B400, "out_of_range", "/params/clip_reward"),
    J(JM("\"clip_reward\":1000000.5"), B400, "out_of_range", "/params/clip_reward"),
    J(JM("\"clip_reward\":1e7"), B400, "out_of_range", "/params/clip_reward"),
    J(JM("\"clip_reward\":\"2.5\""), B400, "wrong_type", "/params/clip_reward"),
    J(JM("\"clip_grad\":-1"), B400, "out_of_range", "/params/clip_grad"),
    J(JM("\"clip_grad\":1000001"), B400, "out_of_range", "/params/clip_grad"),
    J(JM("\"clip_grad\":[1]"), B400, "wrong_type", "/params/clip_grad"),
    J(JM("\"clip_loss\":-1e-9"), B400, "out_of_range", "/params/clip_loss"),
    J(JM("\"clip_loss\":1.000001e12"), B400, "out_of_range", "/params/clip_loss"),
    J(JM("\"clip_loss\":true"), B400, "wrong_type", "/params/clip_loss"),
    /* seed */
    J(JM("\"seed\":-1"), B400, "out_of_range", "/params/seed"),
    J(JM("\"seed\":9007199254740993"), B400, "out_of_range", "/params/seed"),
    J(JM("\"seed\":1.5"), B400, "wrong_type", "/params/seed"),
    /* n_metric_samples */
    J(JM("\"n_metric_samples\":99"), B400, "out_of_range", "/params/n_metric_samples"),
    J(JM("\"n_metric_samples\":0"), B400, "out_of_range", "/params/n_metric_samples"),
    J(JM("\"n_metric_samples\":10001"), B400, "out_of_range", "/params/n_metric_samples"),
    J(JM("\"n_metric_samples\":2000.0"), B400, "wrong_type", "/params/n_metric_samples"),
    /* out_model */
    J(JM("\"out_model\":\"A\""), B400, "bad_value", "/params/out_model"),
    J(JM("\"out_model\":\"\""), B400, "bad_value", "/params/out_model"),
    J(JM("\"out_model\":\"../x\""), B400, "bad_value", "/params/out_model"),
    J(JM("\"out_model\":\"" ID64 "a\""), B400, "bad_value", "/params/out_model"),
    J(JM("\"out_model\":5"), B400, "wrong_type", "/params/out_model"),
    J(JM("\"out_model\":null"), B400, "wrong_type", "/params/out_model"),
    /* keep_iterations */
    J(JM("\"keep_iterations\":\"yes\""), B400, "wrong_type", "/params/keep_iterations"),
    J(JM("\"keep_iterations\":1"), B400, "wrong_type", "/params/keep_iterations"),
    J(JM("\"keep_iterations\":null"), B400, "wrong_type", "/params/keep_iterations"),
    /* with it, out_model "-it<K-1>" must be an id: 61 + "-it1" is 65 characters */
    J(JM("\"keep_iterations\":true,\"out_model\":\"" ID64 "\""), B422, "impossible",
      "/params/out_model"),
    J(JM("\"keep_iterations\":true,\"K\":2,\"out_model\":\"" ID61 "\""), B422, "impossible",
      "/params/out_model"),
    J(JM("\"keep_iterations\":true,\"K\":11,\"alpha\":2,\"out_model\":\"" ID60 "\""), B422,
      "impossible", "/params/out_model"),
};

#define N_BAD ((int) (sizeof bad_cases / sizeof bad_cases[0]))

/* true when s is valid UTF-8 (jansson validates what it stores). */
static bool utf8_ok(const char *s)
{
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}

/* Runs one body through its decoder; returns the status, fills *err. */
static unsigned run(api a, const char *body, size_t len, const mf_req_limits *lim, mf_diag *err)
{
    if (a == SAMPLES) {
        mf_sample_req r;
        return decode_samples(body, len, lim, &r, err);
    }
    mf_job_req j;
    j.params_json = (char *) "not a heap pointer"; /* must come back NULL on failure */
    unsigned st = decode_job(body, len, lim, &j, err);
    if (st != 0) {
        ck_assert_ptr_null(j.params_json);
    }
    mf_job_req_done(&j);
    return st;
}

static void assert_error(const mf_diag *e, unsigned st, const char *code, const char *field)
{
    ck_assert_uint_eq(mf_http_status(MF_EINVAL, e, NULL), st);
    ck_assert_str_eq(e->code, code);
    ck_assert_str_eq(e->field, field);
    /* One sentence naming the field, fit for a JSON error body. */
    ck_assert_uint_gt(strlen(e->msg), 10);
    ck_assert(utf8_ok(e->msg));
    ck_assert_ptr_null(strchr(e->msg, '\n'));
    if (field[0] != '\0') {
        ck_assert_msg(strstr(e->msg, field) != NULL, "message \"%s\" does not name %s", e->msg,
                      field);
    }
}

START_TEST(test_bad_body)
{
    const bad_case *c = &bad_cases[_i];
    mf_req_limits lim = mf_req_limits_default();
    mf_diag err;
    memset(&err, 0x55, sizeof err);
    unsigned st = run(c->api, c->body, c->len, &lim, &err);
    ck_assert_msg(st == c->status, "case %d (%s): status %d, want %d (%s %s: %s)", _i, c->body,
                  (int) st, (int) c->status, err.code, err.field, err.msg);
    ck_assert_msg(strcmp(err.code, c->code) == 0 && strcmp(err.field, c->field) == 0,
                  "case %d (%s): got %s at \"%s\" (%s), want %s at \"%s\"", _i, c->body, err.code,
                  err.field, err.msg, c->code, c->field);
    assert_error(&err, c->status, c->code, c->field);
}

END_TEST

/* ---- messages ------------------------------------------------------------------------ */

static mf_diag decode_err(api a, const char *body)
{
    mf_req_limits lim = mf_req_limits_default();
    mf_diag err;
    ck_assert_int_ne(run(a, body, strlen(body), &lim, &err), 0);
    return err;
}

START_TEST(test_messages)
{
    mf_diag e = decode_err(SAMPLES, "{\"model\":\"a\",\"n\":0}");
    ck_assert_str_eq(e.msg, "\"/n\" must be an integer between 1 and 10000, got 0");
    e = decode_err(SAMPLES, "{\"model\":\"a\",\"n\":5.0}");
    ck_assert_str_eq(e.msg, "\"/n\" must be an integer between 1 and 10000 (without a "
                            "fraction or exponent), got 5.0");
    e = decode_err(SAMPLES, "{\"model\":\"a\",\"n\":1e3}");
    ck_assert_ptr_nonnull(strstr(e.msg, "got 1000.0"));
    e = decode_err(SAMPLES, "{\"model\":\"a\",\"n\":0.1}");
    ck_assert_ptr_nonnull(strstr(e.msg, "got 0.1"));
    e = decode_err(SAMPLES, "{\"model\":\"a\",\"n\":\"5\"}");
    ck_assert_ptr_nonnull(strstr(e.msg, "got \"5\""));
    e = decode_err(SAMPLES, "{\"model\":\"a\",\"n\":null}");
    ck_assert_ptr_nonnull(strstr(e.msg, "got null"));
    e = decode_err(SAMPLES, "{\"model\":\"a\",\"n\":1,\"seed\":9007199254740993}");
    ck_assert_str_eq(e.msg, "\"/seed\" must be an integer between 0 and 9007199254740992, "
                            "got 9007199254740993");
    e = decode_err(SAMPLES, "{\"model\":\"a\",\"n\":1,\"sampler\":\"euler\"}");
    ck_assert_str_eq(e.msg, "\"/sampler\" must be one of \"ddpm\", \"ddim\", \"ode\", \"var\", got "
                            "\"euler\"");
    e = decode_err(SAMPLES, "{\"model\":\"A\",\"n\":1}");
    ck_assert_str_eq(e.msg,
                     "\"/model\" must be an id matching [a-z0-9][a-z0-9._-]{0,63}, got \"A\"");
    e = decode_err(SAMPLES, "{\"model\":\"a\",\"n\":1,\"eta\":2}");
    ck_assert_str_eq(e.msg, "\"/eta\" must be a number between 0 and 1, got 2");
    e = decode_err(SAMPLES, "{\"model\":\"a\",\"n\":1,\"metrics\":1}");
    ck_assert_str_eq(e.msg, "\"/metrics\" must be true or false, got 1");
    e = decode_err(SAMPLES, "{\"model\":\"a\"}");
    ck_assert_str_eq(e.msg, "missing required field \"/n\", an integer between 1 and 10000");
    e = decode_err(SAMPLES, "[]");
    ck_assert_str_eq(e.msg, "the body must be a JSON object, got an array of 0 elements");
    e = decode_err(SAMPLES, "");
    ck_assert_str_eq(e.msg, "the body is empty; it must be a JSON object");
    e = decode_err(SAMPLES, "{\"x\":[[[[[[[[1]]]]]]]]}");
    ck_assert_str_eq(e.msg, "the body nests objects and arrays deeper than 8 levels");
    /* jansson's own text, with the position. */
    e = decode_err(SAMPLES, "{\"model\":\"a\",\"n\":99999999999999999999999}");
    ck_assert_ptr_nonnull(strstr(e.msg, "the body is not valid JSON: too big integer"));
    ck_assert_ptr_nonnull(strstr(e.msg, "(line 1, column"));
    e = decode_err(SAMPLES, "{\"model\":\"a\",\"n\":1,\"n\":2}");
    ck_assert_ptr_nonnull(strstr(e.msg, "duplicate"));
    /* A long string is echoed only in part. */
    e = decode_err(SAMPLES, "{\"model\":\"" ID64 "a\",\"n\":1}");
    ck_assert_ptr_nonnull(strstr(e.msg, "got \"abcdefghijklmnopqrstuvwxyz012345...\""));

    e = decode_err(JOB, "{\"type\":\"sample\",\"model\":\"m\",\"params\":{\"n\":1,\"stpes\":5}}");
    ck_assert_str_eq(e.msg, "unknown field \"/params/stpes\"; the allowed fields are n, "
                            "sampler, steps, eta, seed, metrics, precision, target, condition, guidance");
    e = decode_err(JOB, "{\"type\":\"train\",\"model\":\"m\"}");
    ck_assert_ptr_nonnull(strstr(e.msg, "params.out_model"));
    e = decode_err(JOB, "{\"type\":\"foo\"}");
    ck_assert_str_eq(e.msg, "\"/type\" must be \"sample\", \"train\", \"finetune.smeme\", "
                            "\"finetune.reward\" or \"finetune.dxmi\", got \"foo\"");
    e = decode_err(JOB, "{}");
    ck_assert_str_eq(e.msg, "missing required field \"/type\", \"sample\", \"train\", "
                            "\"finetune.smeme\", \"finetune.reward\" or \"finetune.dxmi\"");
    e = decode_err(JOB, "{\"type\":\"train\",\"params\":{\"dataset\":\"Foo\"}}");
    for (int i = 0; i < MF_DATASET_COUNT; i++) {
        ck_assert_ptr_nonnull(strstr(e.msg, mf_dataset_name((mf_dataset_id) i)));
    }
    ck_assert_ptr_nonnull(strstr(e.msg, "or the id of an uploaded dataset"));
    ck_assert_ptr_nonnull(strstr(e.msg, "got \"Foo\"")); /* not truncated */
    e = decode_err(JOB, "{\"type\":\"train\",\"params\":{\"dataset\":\"two_moons\","
                        "\"dequantise\":true}}");
    ck_assert_str_eq(e.msg, "\"/params/dequantise\" can be true only for the "
                            "integer-valued data set \"digits\", not \"two_moons\"");
    e = decode_err(JOB, "{\"type\":\"train\",\"params\":{\"dataset\":\"ring\",\"emb\":63}}");
    ck_assert_str_eq(e.msg, "\"/params/emb\" must be an even integer between 2 and 8192, "
                            "got 63");
}

END_TEST

/* A long key full of escapes and multi-byte characters: the pointer is cut at a
 * character boundary and stays valid UTF-8 (the error body is JSON). */
START_TEST(test_long_unknown_key)
{
    char body[1024];
    strcpy(body, "{\"type\":\"sample\",\"model\":\"m\",\"params\":{\"n\":1,\"");
    for (int i = 0; i < 60; i++) {
        strcat(body, i % 3 == 0 ? "~" : i % 3 == 1 ? "\xc3\xa9" : "\xe2\x82\xac"); /* é, € */
    }
    strcat(body, "\":1}}");
    mf_diag e = decode_err(JOB, body);
    ck_assert_str_eq(e.code, "unknown_field");
    ck_assert_uint_lt(strlen(e.field), sizeof e.field);
    ck_assert_uint_gt(strlen(e.field), 100);
    ck_assert(strncmp(e.field, "/params/~0\xc3\xa9\xe2\x82\xac~0", 16) == 0);
    ck_assert(utf8_ok(e.field));
    ck_assert(utf8_ok(e.msg));
    /* Never half an escape: the field ends after a whole character. */
    ck_assert_int_ne(e.field[strlen(e.field) - 1], '~');

    /* A key of 1,000 'x' */
    char big[1100];
    strcpy(big, "{\"");
    memset(big + 2, 'x', 1000);
    strcpy(big + 1002, "\":1}");
    e = decode_err(SAMPLES, big);
    ck_assert_str_eq(e.code, "unknown_field");
    ck_assert_uint_eq(strlen(e.field), sizeof e.field - 1);
    ck_assert(utf8_ok(e.msg));
}

END_TEST

/* ---- hostile nesting ----------------------------------------------------------------- */

START_TEST(test_deep_nesting)
{
    const size_t n = 100000;
    char *body = malloc(2 * n + 16);
    ck_assert_ptr_nonnull(body);
    memset(body, '[', n);
    mf_req_limits lim = mf_req_limits_default();
    mf_diag err;
    /* 100,000 '[': jansson stops at its own depth limit. */
    ck_assert_int_eq(run(SAMPLES, body, n, &lim, &err), 400);
    assert_error(&err, 400, "bad_json", "");
    ck_assert_int_eq(run(JOB, body, n, &lim, &err), 400);
    assert_error(&err, 400, "bad_json", "");
    /* The same, balanced, inside an object. */
    size_t k = 0;
    memcpy(body, "{\"x\":", 5);
    k = 5;
    memset(body + k, '[', n);
    k += n;
    memset(body + k, ']', n);
    k += n;
    body[k++] = '}';
    ck_assert_int_eq(run(SAMPLES, body, k, &lim, &err), 400);
    assert_error(&err, 400, "bad_json", "");
    /* 1,000 levels: within jansson's limit, refused by ours (without deep recursion). */
    k = 5;
    memset(body + k, '[', 1000);
    k += 1000;
    memset(body + k, ']', 1000);
    k += 1000;
    body[k++] = '}';
    ck_assert_int_eq(run(SAMPLES, body, k, &lim, &err), 400);
    assert_error(&err, 400, "bad_json", "");
    ck_assert_ptr_nonnull(strstr(err.msg, "deeper than 8"));
    /* Nested objects, 100,000 deep. */
    k = 0;
    for (size_t i = 0; i < 20000; i++) {
        memcpy(body + k, "{\"a\":", 5);
        k += 5;
    }
    ck_assert_int_eq(run(JOB, body, k, &lim, &err), 400);
    assert_error(&err, 400, "bad_json", "");
    free(body);
}

END_TEST

/* ---- good bodies --------------------------------------------------------------------- */

static mf_sample_req samples_ok(const char *body, const mf_req_limits *lim)
{
    mf_sample_req r;
    mf_diag err;
    unsigned st = decode_samples(body, strlen(body), lim, &r, &err);
    ck_assert_msg(st == 0, "%s: %s %s %s", body, err.code, err.field, err.msg);
    return r;
}

START_TEST(test_samples_defaults)
{
    mf_req_limits lim = mf_req_limits_default();
    mf_sample_req r = samples_ok("{\"model\":\"eight_gaussians\",\"n\":1}", &lim);
    ck_assert_str_eq(r.model, "eight_gaussians");
    ck_assert_uint_eq(r.n, 1);
    ck_assert_int_eq(r.sampler, MF_SAMPLER_DDPM);
    ck_assert(!r.has_sampler); /* the server picks the model's own */
    ck_assert_uint_eq(r.steps, 0);
    ck_assert(r.eta == 0.0);
    ck_assert(!r.has_seed);
    ck_assert(r.metrics);
    r = samples_ok("{\"model\":\"m\",\"n\":1,\"sampler\":\"var\",\"steps\":5}", &lim);
    ck_assert(r.has_sampler && r.sampler == MF_SAMPLER_VAR && r.steps == 5);
    /* Whitespace around the object, keys in any order; NULL limits = the defaults. */
    r = samples_ok(" \r\n\t{ \"n\" : 10000 , \"model\" : \"m\" } \n", NULL);
    ck_assert_str_eq(r.model, "m");
    ck_assert_uint_eq(r.n, 10000);
}

END_TEST

START_TEST(test_samples_all_fields)
{
    mf_req_limits lim = mf_req_limits_default();
    mf_sample_req r = samples_ok("{\"model\":\"" ID64 "\",\"n\":10000,\"sampler\":\"ddim\","
                                 "\"steps\":1000,\"eta\":0.25,\"seed\":9007199254740992,"
                                 "\"metrics\":false}",
                                 &lim);
    ck_assert_str_eq(r.model, ID64);
    ck_assert_uint_eq(r.n, 10000);
    ck_assert_int_eq(r.sampler, MF_SAMPLER_DDIM);
    ck_assert_uint_eq(r.steps, 1000);
    ck_assert(r.eta == 0.25);
    ck_assert(r.has_seed);
    ck_assert_uint_eq(r.seed, UINT64_C(9007199254740992));
    ck_assert(!r.metrics);

    r = samples_ok("{\"model\":\"a.b_c-d\",\"n\":1,\"sampler\":\"ode\",\"steps\":1,\"eta\":1,"
                   "\"seed\":0,\"metrics\":true}",
                   &lim);
    ck_assert_str_eq(r.model, "a.b_c-d");
    ck_assert_int_eq(r.sampler, MF_SAMPLER_ODE);
    ck_assert_uint_eq(r.steps, 1);
    ck_assert(r.eta == 1.0);
    ck_assert(r.has_seed);
    ck_assert_uint_eq(r.seed, 0);
    ck_assert(r.metrics);

    r = samples_ok("{\"model\":\"0\",\"n\":7,\"sampler\":\"ddpm\",\"eta\":1.0}", &lim);
    ck_assert_int_eq(r.sampler, MF_SAMPLER_DDPM);
    ck_assert(r.eta == 1.0);
    r = samples_ok("{\"model\":\"0\",\"n\":7,\"eta\":0.0}", &lim);
    ck_assert(r.eta == 0.0);
    r = samples_ok("{\"model\":\"0\",\"n\":7,\"eta\":1e-1}", &lim);
    ck_assert(r.eta == 0.1);
}

END_TEST

START_TEST(test_samples_limits)
{
    mf_req_limits lim = mf_req_limits_default();
    lim.max_n = 5;
    lim.max_steps = 50;
    lim.max_train_steps = 10;
    lim.max_batch = 8;
    mf_sample_req r = samples_ok("{\"model\":\"m\",\"n\":5,\"steps\":50}", &lim);
    ck_assert_uint_eq(r.n, 5);
    ck_assert_uint_eq(r.steps, 50);
    mf_diag err;
    const char *b = "{\"model\":\"m\",\"n\":6}";
    ck_assert_int_eq(decode_samples(b, strlen(b), &lim, &r, &err), 400);
    assert_error(&err, 400, "out_of_range", "/n");
    ck_assert_str_eq(err.msg, "\"/n\" must be an integer between 1 and 5, got 6");
    b = "{\"model\":\"m\",\"n\":1,\"steps\":51}";
    ck_assert_int_eq(decode_samples(b, strlen(b), &lim, &r, &err), 400);
    assert_error(&err, 400, "out_of_range", "/steps");
    /* Not NUL-terminated: only len bytes are read. */
    const char buf[] = "{\"model\":\"m\",\"n\":3}garbage";
    ck_assert_int_eq(decode_samples(buf, 19, &lim, &r, &err), 0);
    ck_assert_uint_eq(r.n, 3);
    /* *ret untouched on failure. */
    r.n = 77;
    ck_assert_int_eq(decode_samples(buf, 20, &lim, &r, &err), 400);
    ck_assert_uint_eq(r.n, 77);
    /* NULL body */
    ck_assert_int_eq(decode_samples(NULL, 0, &lim, &r, &err), 400);
    assert_error(&err, 400, "bad_json", "");
    /* Train defaults give way to smaller limits. */
    mf_job_req j;
    b = "{\"type\":\"train\",\"params\":{\"dataset\":\"ring\"}}";
    ck_assert_int_eq(decode_job(b, strlen(b), &lim, &j, &err), 0);
    ck_assert_uint_eq(P_TRAIN(j)->p.steps, 10);
    ck_assert_uint_eq(P_TRAIN(j)->p.batch, 8);
    mf_job_req_done(&j);
}

END_TEST

/* ---- ids ----------------------------------------------------------------------------- */

START_TEST(test_id_valid)
{
    ck_assert(!mf_req_id_valid(NULL));
    ck_assert(!mf_req_id_valid(""));
    ck_assert(!mf_req_id_valid("."));
    ck_assert(!mf_req_id_valid(".."));
    ck_assert(!mf_req_id_valid("../etc"));
    ck_assert(!mf_req_id_valid("a/b"));
    ck_assert(!mf_req_id_valid("/a"));
    ck_assert(!mf_req_id_valid("a/"));
    ck_assert(!mf_req_id_valid(".a"));
    ck_assert(!mf_req_id_valid("-a"));
    ck_assert(!mf_req_id_valid("_a"));
    ck_assert(!mf_req_id_valid("A"));
    ck_assert(!mf_req_id_valid("aB"));
    ck_assert(!mf_req_id_valid("a b"));
    ck_assert(!mf_req_id_valid("a\n"));
    ck_assert(!mf_req_id_valid("a\\b"));
    ck_assert(!mf_req_id_valid("a:b"));
    ck_assert(!mf_req_id_valid("\xc3\xa9"));
    ck_assert(!mf_req_id_valid(ID64 "a"));
    ck_assert(mf_req_id_valid(ID64));
    ck_assert(mf_req_id_valid("a"));
    ck_assert(mf_req_id_valid("0"));
    ck_assert(mf_req_id_valid("a..b")); /* no '/', so still not a path */
    ck_assert(mf_req_id_valid("a."));
    ck_assert(mf_req_id_valid("two_moons-ft.3"));
    ck_assert_uint_eq(strlen(ID64), MF_REQ_ID_MAX);
}

END_TEST

/* server/http_status.c: the one table from machine codes to statuses, and an error's default code.
 */
START_TEST(test_http_status)
{
    static const struct {
        const char *code;
        unsigned status;
    } codes[] = {{"bad_json", 400},
                 {"out_of_range", 400},
                 {"model_not_found", 404},
                 {"not_found", 404},
                 {"method_not_allowed", 405},
                 {"model_exists", 409},
                 {"protected", 409},
                 {"too_large", 413},
                 {"unsupported_media_type", 415},
                 {"impossible", 422},
                 {"unsupported_type", 422},
                 {"invalid_model", 422},
                 {"queue_full", 503},
                 {"shutting_down", 503},
                 {"internal", 500},
                 {"insufficient_storage", 507},
                 {"no_such_code", 500}};

    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        ck_assert_uint_eq(mf_http_code_status(codes[i].code), codes[i].status);
        mf_diag d = {0};
        snprintf(d.code, sizeof d.code, "%s", codes[i].code);
        const char *code = NULL;
        ck_assert_uint_eq(mf_http_status(MF_EINTERNAL, &d, &code), codes[i].status);
        ck_assert_str_eq(code, codes[i].code);
    }
    /* no code in the diag: the error's own */
    const char *code = NULL;
    mf_diag none = {0};
    ck_assert_uint_eq(mf_http_status(MF_ENOTFOUND, &none, &code), 404);
    ck_assert_str_eq(code, "not_found");
    ck_assert_uint_eq(mf_http_status(MF_ERANGE, NULL, &code), 422);
    ck_assert_str_eq(code, "impossible");
    ck_assert_uint_eq(mf_http_status(MF_ECANCELED, NULL, &code), 503);
    ck_assert_uint_eq(mf_http_status(MF_ENOMEM, NULL, &code), 500);
    ck_assert_str_eq(code, "internal");
    /* a full disk is "cannot store", not the server's fault nor an I/O error */
    ck_assert_uint_eq(mf_http_status(MF_ENOSPC, NULL, &code), 507);
    ck_assert_str_eq(code, "insufficient_storage");
    ck_assert_uint_eq(mf_http_status(MF_EIO, NULL, &code), 500);
    ck_assert_str_eq(code, "store");
}

END_TEST

START_TEST(test_names_and_limits)
{
    /* The codec table names every job type this build runs, once. */
    ck_assert_ptr_eq(mf_job_codec_lookup("sample"), &mf_sample_codec);
    ck_assert_ptr_eq(mf_job_codec_lookup("train"), &mf_train_codec);
    ck_assert_ptr_eq(mf_job_codec_lookup("finetune.smeme"), &mf_smeme_codec);
    ck_assert_str_eq(mf_sample_codec.name, "sample");
    ck_assert_str_eq(mf_train_codec.name, "train");
    ck_assert_str_eq(mf_smeme_codec.name, "finetune.smeme");
    ck_assert(mf_sample_codec.model == MF_CODEC_MODEL &&
              mf_train_codec.model == MF_CODEC_NO_MODEL && mf_smeme_codec.model == MF_CODEC_MODEL);
    ck_assert_ptr_eq(mf_job_codec_lookup("finetune.reward"), &mf_reward_codec);
    ck_assert(mf_reward_codec.model == MF_CODEC_MODEL_OPTIONAL);
    ck_assert_ptr_eq(mf_job_codec_lookup("finetune.dxmi"), &mf_dxmi_codec);
    ck_assert_ptr_null(mf_job_codec_lookup("Train"));
    ck_assert_ptr_null(mf_job_codec_lookup(""));
    ck_assert_ptr_null(mf_job_codec_lookup("unknown"));
    ck_assert_ptr_null(mf_job_codec_lookup(NULL));
    size_t n = 0;
    for (; mf_job_codecs[n] != NULL; n++) {
        ck_assert_ptr_eq(mf_job_codec_lookup(mf_job_codecs[n]->name), mf_job_codecs[n]);
    }
    ck_assert_uint_ge(n, 3);
    mf_req_limits lim = mf_req_limits_default();
    ck_assert_uint_eq(lim.max_n, 10000);
    ck_assert_uint_eq(lim.max_steps, 1000);
    ck_assert_uint_eq(lim.max_train_steps, 200000);
    ck_assert_uint_eq(lim.max_batch, 4096);
}

END_TEST

/* ---- jobs and the params_json round trip --------------------------------------------- */

static mf_job_req job_ok_within(const char *body, const mf_req_limits *lim)
{
    mf_job_req j;
    mf_diag err;
    unsigned st = decode_job(body, strlen(body), lim, &j, &err);
    ck_assert_msg(st == 0, "%s: %s %s %s", body, err.code, err.field, err.msg);
    ck_assert_ptr_nonnull(j.params_json);
    return j;
}

static mf_job_req job_ok(const char *body)
{
    mf_req_limits lim = mf_req_limits_default();
    return job_ok_within(body, &lim);
}

static void assert_same_sample(const mf_sample_req *a, const mf_sample_req *b)
{
    ck_assert_str_eq(a->model, b->model);
    ck_assert_uint_eq(a->n, b->n);
    ck_assert_int_eq(a->sampler, b->sampler);
    ck_assert_uint_eq(a->steps, b->steps);
    ck_assert(a->eta == b->eta);
    ck_assert_int_eq(a->has_seed, b->has_seed);
    ck_assert_uint_eq(a->seed, b->seed);
    ck_assert_int_eq(a->metrics, b->metrics);
    ck_assert_int_eq(a->has_target, b->has_target);
    ck_assert(a->target == b->target);
    ck_assert_uint_eq(a->n_condition, b->n_condition);
    for (size_t i = 0; i < a->n_condition; i++) {
        ck_assert(a->condition[i] == b->condition[i]);
    }
    ck_assert_int_eq(a->has_guidance, b->has_guidance);
    ck_assert_int_eq(a->guidance, b->guidance);
    ck_assert(a->guidance_w == b->guidance_w);
}

static void assert_same_train(const mf_train_req *a, const mf_train_req *b)
{
    ck_assert_int_eq(a->p.dataset, b->p.dataset);
    ck_assert_str_eq(a->dataset, b->dataset);
    ck_assert_int_eq(a->builtin, b->builtin);
    ck_assert_uint_eq(a->p.n_hidden, b->p.n_hidden);
    for (size_t i = 0; i < a->p.n_hidden; i++) {
        ck_assert_uint_eq(a->p.hidden[i], b->p.hidden[i]);
    }
    ck_assert_uint_eq(a->p.emb, b->p.emb);
    ck_assert_str_eq(a->p.schedule, b->p.schedule);
    ck_assert_uint_eq(a->p.steps, b->p.steps);
    ck_assert_uint_eq(a->p.batch, b->p.batch);
    ck_assert_uint_eq(a->p.warmup, b->p.warmup);
    ck_assert(a->p.lr == b->p.lr);
    ck_assert(a->p.lr_min == b->p.lr_min);
    ck_assert(a->p.ema == b->p.ema);
    ck_assert(a->p.clip == b->p.clip);
    ck_assert_uint_eq(a->p.seed, b->p.seed);
    ck_assert_int_eq(a->p.dequantise, b->p.dequantise);
    ck_assert_str_eq(a->out_model, b->out_model);
}

static void assert_same_smeme(const mf_smeme_req *a, const mf_smeme_req *b)
{
    ck_assert_uint_eq(a->K, b->K);
    /* All of alpha, the unused tail (0) too. */
    for (size_t i = 0; i < MF_SMEME_REQ_MAX_K; i++) {
        ck_assert_msg(a->alpha[i] == b->alpha[i], "alpha[%zu]: %.17g vs %.17g", i, a->alpha[i],
                      b->alpha[i]);
    }
    ck_assert_int_eq(a->tau_r, b->tau_r);
    ck_assert_uint_eq(a->steps, b->steps);
    ck_assert_uint_eq(a->trajectories, b->trajectories);
    ck_assert_uint_eq(a->batch, b->batch);
    ck_assert(a->lr == b->lr);
    ck_assert_uint_eq(a->rounds, b->rounds);
    ck_assert_uint_eq(a->inner_steps, b->inner_steps);
    ck_assert(a->clip_reward == b->clip_reward);
    ck_assert(a->clip_grad == b->clip_grad);
    ck_assert(a->clip_loss == b->clip_loss);
    ck_assert_uint_eq(a->seed, b->seed);
    ck_assert_uint_eq(a->n_metric_samples, b->n_metric_samples);
    ck_assert_str_eq(a->out_model, b->out_model);
    ck_assert(a->keep_iterations == b->keep_iterations);
}

/* decode -> params_json -> mf_req_decode_job_params (with limits lim, NULL =
 * the defaults) gives the same request and text. */
static void assert_round_trip_lim(const mf_job_req *j, const mf_req_limits *lim)
{
    mf_job_req k;
    mf_diag err;
    unsigned st = decode_job_params(j->codec->name, j->model, j->params_json, lim, &k, &err);
    ck_assert_msg(st == 0, "%s: %s %s %s", j->params_json, err.code, err.field, err.msg);
    ck_assert_ptr_eq(k.codec, j->codec);
    ck_assert_str_eq(k.model, j->model);
    if (strcmp(j->codec->name, "sample") == 0) {
        assert_same_sample(P_SAMPLE(k), P_SAMPLE(*j));
    } else if (strcmp(j->codec->name, "train") == 0) {
        assert_same_train(P_TRAIN(k), P_TRAIN(*j));
    } else {
        ck_assert_str_eq(j->codec->name, "finetune.smeme");
        assert_same_smeme(P_SMEME(k), P_SMEME(*j));
        /* The public serialiser writes the same text. */
        char *again = mf_smeme_codec.encode(P_SMEME(k));
        ck_assert_ptr_nonnull(again);
        ck_assert_str_eq(again, j->params_json);
        free(again);
    }
    ck_assert_str_eq(k.params_json, j->params_json);
    mf_job_req_done(&k);
}

static void assert_round_trip(const mf_job_req *j)
{
    mf_req_limits lim = mf_req_limits_default();
    assert_round_trip_lim(j, &lim);
}

START_TEST(test_job_sample)
{
    mf_job_req j = job_ok("{\"type\":\"sample\",\"model\":\"ring\",\"params\":{\"n\":3}}");
    ck_assert_str_eq(j.codec->name, "sample");
    ck_assert_str_eq(j.model, "ring");
    ck_assert_str_eq((*P_SAMPLE(j)).model, "ring");
    ck_assert_uint_eq((*P_SAMPLE(j)).n, 3);
    ck_assert_int_eq((*P_SAMPLE(j)).sampler, MF_SAMPLER_DDPM);
    ck_assert_uint_eq((*P_SAMPLE(j)).steps, 0);
    ck_assert((*P_SAMPLE(j)).eta == 0.0);
    ck_assert(!(*P_SAMPLE(j)).has_seed);
    ck_assert((*P_SAMPLE(j)).metrics);
    /* No sampler, seed or steps when none given (the server stores them once it has
     * picked them); metrics always. */
    ck_assert_str_eq(j.params_json, "{\"eta\":0.0,\"metrics\":true,\"n\":3}");
    assert_round_trip(&j);
    mf_job_req_done(&j);

    j = job_ok(
        "{\"params\":{\"metrics\":false,\"seed\":9007199254740992,\"eta\":0.3,"
        "\"steps\":250,\"sampler\":\"ddim\",\"n\":10000},\"model\":\"m\",\"type\":\"sample\"}");
    ck_assert_uint_eq((*P_SAMPLE(j)).n, 10000);
    ck_assert_int_eq((*P_SAMPLE(j)).sampler, MF_SAMPLER_DDIM);
    ck_assert_uint_eq((*P_SAMPLE(j)).steps, 250);
    ck_assert((*P_SAMPLE(j)).eta == 0.3);
    ck_assert((*P_SAMPLE(j)).has_seed);
    ck_assert_uint_eq((*P_SAMPLE(j)).seed, UINT64_C(9007199254740992));
    ck_assert(!(*P_SAMPLE(j)).metrics);
    ck_assert_str_eq(j.params_json, "{\"eta\":0.3,\"metrics\":false,\"n\":10000,"
                                    "\"sampler\":\"ddim\",\"seed\":9007199254740992,"
                                    "\"steps\":250}");
    assert_round_trip(&j);
    mf_job_req_done(&j);

    /* a conditional model's: target and guidance, or the raw condition */
    j = job_ok("{\"type\":\"sample\",\"model\":\"m\",\"params\":{\"n\":2,\"target\":1.5,"
               "\"guidance\":{\"mode\":\"cfg\",\"w\":2}}}");
    ck_assert((*P_SAMPLE(j)).has_target && (*P_SAMPLE(j)).target == 1.5);
    ck_assert((*P_SAMPLE(j)).has_guidance && (*P_SAMPLE(j)).guidance == MF_GUIDE_CFG);
    ck_assert((*P_SAMPLE(j)).guidance_w == 2.0);
    ck_assert_uint_eq((*P_SAMPLE(j)).n_condition, 0);
    ck_assert_str_eq(j.params_json, "{\"eta\":0.0,\"guidance\":{\"mode\":\"cfg\",\"w\":2.0},"
                                    "\"metrics\":true,\"n\":2,\"target\":1.5}");
    assert_round_trip(&j);
    mf_job_req_done(&j);
    j = job_ok("{\"type\":\"sample\",\"model\":\"m\",\"params\":{\"n\":2,\"condition\":[0.5,1],"
               "\"guidance\":{\"mode\":\"cond\"}}}");
    ck_assert_uint_eq((*P_SAMPLE(j)).n_condition, 2);
    ck_assert((*P_SAMPLE(j)).condition[1] == 1.0 && (*P_SAMPLE(j)).guidance_w == 1.0);
    ck_assert_str_eq(j.params_json, "{\"condition\":[0.5,1.0],\"eta\":0.0,\"guidance\":{\"mode\":"
                                    "\"cond\",\"w\":1.0},\"metrics\":true,\"n\":2}");
    assert_round_trip(&j);
    mf_job_req_done(&j);

    j = job_ok("{\"type\":\"sample\",\"model\":\"m\",\"params\":{\"n\":1,\"seed\":0,"
               "\"sampler\":\"ode\",\"eta\":1}}");
    ck_assert_str_eq(j.params_json, "{\"eta\":1.0,\"metrics\":true,\"n\":1,\"sampler\":\"ode\","
                                    "\"seed\":0}");
    assert_round_trip(&j);
    mf_job_req_done(&j);
}

END_TEST

START_TEST(test_job_train_defaults)
{
    mf_job_req j = job_ok("{\"type\":\"train\",\"params\":{\"dataset\":\"two_moons\"}}");
    ck_assert_str_eq(j.codec->name, "train");
    ck_assert_str_eq(j.model, "");
    const mf_train_req *t = P_TRAIN(j);
    ck_assert_str_eq(mf_dataset_name(t->p.dataset), "two_moons");
    ck_assert_str_eq(t->dataset, "two_moons");
    ck_assert(t->builtin && t->p.table == NULL);
    ck_assert_uint_eq(t->p.n_hidden, 3);
    ck_assert_uint_eq(t->p.hidden[0], 256);
    ck_assert_uint_eq(t->p.hidden[1], 256);
    ck_assert_uint_eq(t->p.hidden[2], 256);
    ck_assert_uint_eq(t->p.emb, 64);
    ck_assert_str_eq(t->p.schedule, "linear:0.0001:0.02:1000");
    ck_assert_uint_eq(t->p.steps, 20000);
    ck_assert_uint_eq(t->p.batch, 512);
    ck_assert(t->p.lr == 1e-3);
    ck_assert(t->p.lr_min == 1e-5);
    ck_assert_uint_eq(t->p.warmup, 500);
    ck_assert(t->p.ema == 0.999);
    ck_assert(t->p.clip == 1.0);
    ck_assert_uint_eq(t->p.seed, 0);
    ck_assert(!t->p.dequantise);
    ck_assert_str_eq(t->out_model, "");
    ck_assert_int_eq(t->p.architecture, MF_TRAIN_EPS);
    ck_assert(!t->p.hjb.on); /* no "hjb": no regulariser, and none in the canonical JSON */
    ck_assert_str_eq(
        j.params_json,
        "{\"architecture\":\"eps\",\"batch\":512,\"clip\":1.0,\"dataset\":\"two_moons\","
        "\"dequantise\":false,"
        "\"ema\":0.999,\"emb\":64,\"hidden\":[256,256,256],\"lr\":0.001,"
        "\"lr_min\":1e-05,\"schedule\":\"linear:0.0001:0.02:1000\","
        "\"seed\":0,\"steps\":20000,\"warmup\":500}");
    assert_round_trip(&j);
    mf_job_req_done(&j);
}

END_TEST

/* A potential with "hjb": {} is the regulariser at core's defaults, and its canonical JSON
 * (what a restart decodes again) lists every setting and gives back the same params. */
START_TEST(test_job_train_potential_hjb)
{
    mf_job_req j = job_ok("{\"type\":\"train\",\"params\":{\"dataset\":\"two_moons\","
                          "\"architecture\":\"potential\",\"hjb\":{}}}");
    const mf_train_req *t = P_TRAIN(j);
    mf_hjb_opts d = mf_hjb_opts_default();
    ck_assert_int_eq(t->p.architecture, MF_TRAIN_POTENTIAL);
    ck_assert(t->p.hjb.on);
    ck_assert(t->p.hjb.lambda == d.lambda && t->p.hjb.ramp == d.ramp && t->p.hjb.h == d.h &&
              t->p.hjb.dt == d.dt && t->p.hjb.t_min == d.t_min && t->p.hjb.weight &&
              t->p.hjb.estimator == MF_HJB_AUTO && t->p.hjb.probes == 2);
    ck_assert_ptr_nonnull(strstr(j.params_json, "\"hjb\":{\"dt\":0.001,\"estimator\":\"auto\","));
    assert_round_trip(&j);
    mf_job_req_done(&j);
    j = job_ok("{\"type\":\"train\",\"params\":{\"dataset\":\"two_moons\",\"architecture\":"
               "\"potential\",\"hjb\":{\"lambda\":1,\"estimator\":\"hutchinson\",\"probes\":1,"
               "\"weight\":false}}}");
    t = P_TRAIN(j);
    ck_assert(t->p.hjb.lambda == 1.0 && t->p.hjb.estimator == MF_HJB_HUTCHINSON &&
              t->p.hjb.probes == 1 && !t->p.hjb.weight && t->p.hjb.ramp == d.ramp);
    assert_round_trip(&j);
    mf_job_req_done(&j);
}

END_TEST

/* Any other id names an uploaded dataset: kept as given, looked up by the daemon. */
START_TEST(test_job_train_uploaded_dataset)
{
    mf_job_req j = job_ok("{\"type\":\"train\",\"params\":{\"dataset\":\"my-ring.v2\"}}");
    const mf_train_req *t = P_TRAIN(j);
    ck_assert_str_eq(t->dataset, "my-ring.v2");
    ck_assert(!t->builtin && t->p.table == NULL);
    ck_assert_ptr_nonnull(strstr(j.params_json, "\"dataset\":\"my-ring.v2\""));
    assert_round_trip(&j);
    mf_job_req_done(&j);
    mf_diag e = decode_err(JOB, "{\"type\":\"train\",\"params\":{\"dataset\":\"mine\","
                                "\"dequantise\":true}}");
    ck_assert_str_eq(e.code, "impossible");
    ck_assert_ptr_nonnull(strstr(e.msg, "not \"mine\""));
}

END_TEST

START_TEST(test_job_train_all_fields)
{
    /* Every field at its bound: together far over the default budgets (test_job_budget.c
     * checks those), so they are opened here. */
    mf_req_limits lim = mf_req_limits_default();
    lim.max_model_params = SIZE_MAX;
    lim.max_job_bytes = SIZE_MAX;
    lim.max_job_flops = 1e300;
    mf_job_req j = job_ok_within(
        "{\"type\":\"train\",\"params\":{\"dataset\":\"digits\",\"hidden\":[8192,1,8192,1,8192,"
        "1,8192,3],\"emb\":8192,\"schedule\":\"cosine:0.008:1000\",\"steps\":200000,\"batch\":4096,"
        "\"lr\":1,\"lr_min\":0,\"warmup\":1000000000,\"ema\":0.999999,\"clip\":1e9,"
        "\"seed\":9007199254740992,\"dequantise\":true,\"out_model\":\"" ID64 "\"}}",
        &lim);
    const mf_train_req *t = P_TRAIN(j);
    ck_assert_str_eq(mf_dataset_name(t->p.dataset), "digits");
    ck_assert_uint_eq(t->p.n_hidden, 8);
    ck_assert_uint_eq(t->p.hidden[0], 8192);
    ck_assert_uint_eq(t->p.hidden[1], 1);
    ck_assert_uint_eq(t->p.hidden[7], 3);
    ck_assert_uint_eq(t->p.emb, 8192);
    ck_assert_str_eq(t->p.schedule, "cosine:0.008:1000");
    ck_assert_uint_eq(t->p.steps, 200000);
    ck_assert_uint_eq(t->p.batch, 4096);
    ck_assert(t->p.lr == 1.0);
    ck_assert(t->p.lr_min == 0.0);
    ck_assert_uint_eq(t->p.warmup, 1000000000);
    ck_assert(t->p.ema == 0.999999);
    ck_assert(t->p.clip == 1e9);
    ck_assert_uint_eq(t->p.seed, UINT64_C(9007199254740992));
    ck_assert(t->p.dequantise);
    ck_assert_str_eq(t->out_model, ID64);
    ck_assert_ptr_nonnull(strstr(j.params_json, "\"out_model\":\"" ID64 "\""));
    ck_assert_ptr_nonnull(strstr(j.params_json, "\"hidden\":[8192,1,8192,1,8192,1,8192,3]"));
    ck_assert_ptr_nonnull(strstr(j.params_json, "\"seed\":9007199254740992"));
    assert_round_trip_lim(&j, &lim);
    mf_job_req_done(&j);
}

END_TEST

START_TEST(test_job_train_bounds)
{
    /* ID64 is 64 bytes: one too long for a schedule; 63 fit (a schedule core builds). */
    mf_job_req j = job_ok("{\"type\":\"train\",\"params\":{\"out_model\":\"x\",\"clip\":0,"
                          "\"ema\":0,\"warmup\":0,\"lr\":1e-300,\"batch\":1,\"steps\":1,"
                          "\"emb\":2,\"hidden\":[1],\"dataset\":\"linear_subspace\",\"schedule\":"
                          "\"linear:0.00010000000000000000000000000000000000000000:0.02:1000\"}}");
    const mf_train_req *t = P_TRAIN(j);
    ck_assert_str_eq(mf_dataset_name(t->p.dataset), "linear_subspace");
    ck_assert_uint_eq(t->p.n_hidden, 1);
    ck_assert_uint_eq(t->p.hidden[0], 1);
    ck_assert_uint_eq(t->p.emb, 2);
    ck_assert_uint_eq(strlen(t->p.schedule), 63);
    ck_assert_uint_eq(t->p.steps, 1);
    ck_assert_uint_eq(t->p.batch, 1);
    ck_assert(t->p.lr == 1e-300);
    ck_assert_uint_eq(t->p.warmup, 0);
    ck_assert(t->p.ema == 0.0);
    ck_assert(t->p.clip == 0.0);
    ck_assert_str_eq(t->out_model, "x");
    assert_round_trip(&j);
    mf_job_req_done(&j);

    /* Every data set is accepted; dequantise false is fine for any. */
    for (int i = 0; i < MF_DATASET_COUNT; i++) {
        char body[160];
        snprintf(body, sizeof body,
                 "{\"type\":\"train\",\"params\":{\"dataset\":\"%s\",\"dequantise\":false}}",
                 mf_dataset_name((mf_dataset_id) i));
        j = job_ok(body);
        ck_assert_int_eq(P_TRAIN(j)->p.dataset, (mf_dataset_id) i);
        assert_round_trip(&j);
        mf_job_req_done(&j);
    }
}

END_TEST

START_TEST(test_job_params_errors)
{
    mf_req_limits lim = mf_req_limits_default();
    mf_job_req j;
    mf_diag err;
    const char *ok_sample = "{\"n\":1}";
    const char *ok_train = "{\"dataset\":\"ring\"}";
    const char *ok_smeme = "{\"K\":3,\"alpha\":[2,3,4]}";

    ck_assert_int_eq(decode_job_params("sample", "m", ok_sample, &lim, &j, &err), 0);
    ck_assert_str_eq(j.model, "m");
    ck_assert_str_eq((*P_SAMPLE(j)).model, "m");
    mf_job_req_done(&j);
    ck_assert_int_eq(decode_job_params("train", NULL, ok_train, &lim, &j, &err), 0);
    mf_job_req_done(&j);
    ck_assert_int_eq(decode_job_params("train", "", ok_train, NULL, &j, &err), 0);
    mf_job_req_done(&j);
    ck_assert_int_eq(decode_job_params("finetune.smeme", "m", ok_smeme, &lim, &j, &err), 0);
    ck_assert_str_eq(j.model, "m");
    ck_assert_uint_eq((*P_SMEME(j)).K, 3);
    ck_assert((*P_SMEME(j)).alpha[2] == 4.0);
    mf_job_req_done(&j);

    static const struct {
        const char *kind;
        const char *model, *params, *code, *field;
    } cases[] = {
        {"sample", NULL, "{\"n\":1}", "bad_value", "/model"},
        {"sample", "../x", "{\"n\":1}", "bad_value", "/model"},
        {"train", "m", "{\"dataset\":\"ring\"}", "unknown_field", "/model"},
        {"bogus", "m", "{\"n\":1}", "bad_value", "/type"},
        {"sample", "m", NULL, "bad_json", "/params"},
        {"sample", "m", "", "bad_json", "/params"},
        {"sample", "m", "{", "bad_json", "/params"},
        {"sample", "m", "[1]", "bad_json", "/params"},
        {"sample", "m", "{\"n\":1} x", "bad_json", "/params"},
        {"sample", "m", "{\"n\":0}", "out_of_range", "/params/n"},
        {"sample", "m", "{}", "missing_field", "/params/n"},
        {"sample", "m", "{\"n\":1,\"model\":\"m\"}", "unknown_field", "/params/model"},
        {"sample", "m", "{\"n\":1,\"x\":[[[[[[[[1]]]]]]]]}", "bad_json", "/params"},
        {"train", NULL, "{}", "missing_field", "/params/dataset"},
        {"train", NULL, "{\"dataset\":\"ring\",\"dequantise\":true}", "impossible",
         "/params/dequantise"},
        {"finetune.smeme", NULL, "{}", "bad_value", "/model"},
        {"finetune.smeme", "", "{}", "bad_value", "/model"},
        {"finetune.smeme", "../x", "{}", "bad_value", "/model"},
        {"finetune.smeme", "m", NULL, "bad_json", "/params"},
        {"finetune.smeme", "m", "[]", "bad_json", "/params"},
        {"finetune.smeme", "m", "{\"K\":0}", "out_of_range", "/params/K"},
        {"finetune.smeme", "m", "{\"alpha\":[2]}", "impossible", "/params/alpha"},
        {"finetune.smeme", "m", "{\"alpha\":[2,2,2],\"K\":2}", "impossible", "/params/alpha"},
        {"finetune.smeme", "m", "{\"alpha\":[2,0]}", "out_of_range", "/params/alpha/1"},
        {"finetune.smeme", "m", "{\"n\":1}", "unknown_field", "/params/n"},
        {"finetune.smeme", "m", "{\"model\":\"m\"}", "unknown_field", "/params/model"},
        {"finetune.dxmi", "m", "{\"tau_entropy\":-1}", "out_of_range", "/params/tau_entropy"},
        {"finetune.dxmi", "m", "{\"steps\":3,\"n_generator\":4}", "impossible",
         "/params/n_generator"},
        {"finetune.dxmi", "m", "{\"value_emb\":3}", "out_of_range", "/params/value_emb"},
        {"finetune.dxmi", "m", "{\"energy_hidden\":[]}", "out_of_range", "/params/energy_hidden"},
        {"finetune.dxmi", "m", "{\"schedule\":\"exact\"}", "bad_value", "/params/schedule"},
        {"finetune.dxmi", "m", "{\"model\":\"m\"}", "unknown_field", "/params/model"},
        {"finetune.reward", "m", "{}", "missing_field", "/params/dataset"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        j.params_json = (char *) "not a heap pointer";
        unsigned st =
            decode_job_params(cases[i].kind, cases[i].model, cases[i].params, &lim, &j, &err);
        ck_assert_msg(st != 0, "case %zu", i);
        ck_assert_ptr_null(j.params_json);
        ck_assert_msg(strcmp(err.code, cases[i].code) == 0 &&
                          strcmp(err.field, cases[i].field) == 0,
                      "case %zu: got %s at %s (%s)", i, err.code, err.field, err.msg);
        assert_error(&err, strcmp(err.code, "impossible") == 0 ? 422 : 400, cases[i].code,
                     cases[i].field);
    }
}

END_TEST

/* ---- finetune.smeme jobs ------------------------------------------------------------- */

/* The canonical params of a finetune.smeme job with every default. */
#define SMEME_DEFAULTS_JSON                                                            \
    "{\"K\":2,\"alpha\":[2.0,2.0],\"batch\":2048,\"clip_grad\":1.0,\"clip_loss\":0.0," \
    "\"clip_reward\":2.5,\"inner_steps\":2,\"keep_iterations\":false,\"lr\":0.0004,"   \
    "\"n_metric_samples\":2000,\"rounds\":200,\"seed\":0,\"steps\":100,\"tau_r\":10,"  \
    "\"trajectories\":64}"

static void assert_smeme_defaults(const mf_job_req *j)
{
    ck_assert_str_eq(j->codec->name, "finetune.smeme");
    const mf_smeme_req *m = P_SMEME(*j);
    ck_assert_uint_eq(m->K, 2);
    ck_assert(m->alpha[0] == 2.0);
    ck_assert(m->alpha[1] == 2.0);
    for (size_t i = 2; i < MF_SMEME_REQ_MAX_K; i++) {
        ck_assert(m->alpha[i] == 0.0);
    }
    ck_assert_int_eq(m->tau_r, 10);
    ck_assert_uint_eq(m->steps, 100);
    ck_assert_uint_eq(m->trajectories, 64);
    ck_assert_uint_eq(m->batch, 2048);
    ck_assert(m->lr == 4e-4);
    ck_assert_uint_eq(m->rounds, 200);
    ck_assert_uint_eq(m->inner_steps, 2);
    ck_assert(m->clip_reward == 2.5);
    ck_assert(m->clip_grad == 1.0);
    ck_assert(m->clip_loss == 0.0);
    ck_assert_uint_eq(m->seed, 0);
    ck_assert_uint_eq(m->n_metric_samples, 2000);
    ck_assert_str_eq(m->out_model, "");
    ck_assert(!m->keep_iterations);
    ck_assert_str_eq(j->params_json, SMEME_DEFAULTS_JSON);
}

START_TEST(test_job_smeme_defaults)
{
    /* params omitted, empty, and every default spelt out: the same request. */
    static const char *const bodies[] = {
        "{\"type\":\"finetune.smeme\",\"model\":\"gaussian\"}",
        "{\"model\":\"gaussian\",\"params\":{},\"type\":\"finetune.smeme\"}",
        "{\"type\":\"finetune.smeme\",\"model\":\"gaussian\",\"params\":{\"K\":2,\"alpha\":2,"
        "\"tau_r\":10,\"steps\":100,\"trajectories\":64,\"batch\":2048,\"lr\":4e-4,"
        "\"rounds\":200,\"inner_steps\":2,\"clip_reward\":2.5,\"clip_grad\":1,\"clip_loss\":0,"
        "\"seed\":0,\"n_metric_samples\":2000,\"keep_iterations\":false}}",
        "{\"type\":\"finetune.smeme\",\"model\":\"gaussian\",\"params\":{\"alpha\":[2.0,2.0]}}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        mf_job_req j = job_ok(bodies[i]);
        ck_assert_str_eq(j.model, "gaussian");
        assert_smeme_defaults(&j);
        assert_round_trip(&j);
        mf_job_req_done(&j);
    }

    /* The params the store keeps decode to the defaults again; so do none at all. */
    mf_job_req j;
    mf_diag err;
    ck_assert_int_eq(decode_job_params("finetune.smeme", "gaussian", "{}", NULL, &j, &err), 0);
    ck_assert_str_eq(j.model, "gaussian");
    assert_smeme_defaults(&j);
    mf_job_req_done(&j);
    ck_assert_int_eq(
        decode_job_params("finetune.smeme", "gaussian", SMEME_DEFAULTS_JSON, NULL, &j, &err), 0);
    assert_smeme_defaults(&j);
    mf_job_req_done(&j);
}

END_TEST

START_TEST(test_job_smeme_all_fields)
{
    /* Every field, keys in no particular order, alpha before K. */
    mf_job_req j = job_ok(
        "{\"type\":\"finetune.smeme\",\"model\":\"imbalanced_square\",\"params\":{"
        "\"out_model\":\"" ID64 "\",\"alpha\":[1.5,2,100],\"n_metric_samples\":10000,"
        "\"seed\":9007199254740992,\"clip_loss\":1e12,\"clip_grad\":1e6,\"clip_reward\":0,"
        "\"inner_steps\":100,\"rounds\":100000,\"lr\":1,\"batch\":16384,\"trajectories\":1024,"
        "\"steps\":1000,\"tau_r\":999,\"K\":3}}");
    ck_assert_str_eq(j.codec->name, "finetune.smeme");
    ck_assert_str_eq(j.model, "imbalanced_square");
    const mf_smeme_req *m = P_SMEME(j);
    ck_assert_uint_eq(m->K, 3);
    ck_assert(m->alpha[0] == 1.5);
    ck_assert(m->alpha[1] == 2.0);
    ck_assert(m->alpha[2] == 100.0);
    ck_assert(m->alpha[3] == 0.0);
    ck_assert_int_eq(m->tau_r, 999);
    ck_assert_uint_eq(m->steps, 1000);
    ck_assert_uint_eq(m->trajectories, 1024);
    ck_assert_uint_eq(m->batch, 16384);
    ck_assert(m->lr == 1.0);
    ck_assert_uint_eq(m->rounds, 100000);
    ck_assert_uint_eq(m->inner_steps, 100);
    ck_assert(m->clip_reward == 0.0);
    ck_assert(m->clip_grad == 1e6);
    ck_assert(m->clip_loss == 1e12);
    ck_assert_uint_eq(m->seed, UINT64_C(9007199254740992));
    ck_assert_uint_eq(m->n_metric_samples, 10000);
    ck_assert_str_eq(m->out_model, ID64);
    ck_assert_str_eq(j.params_json,
                     "{\"K\":3,\"alpha\":[1.5,2.0,100.0],\"batch\":16384,\"clip_grad\":1000000.0,"
                     "\"clip_loss\":1000000000000.0,\"clip_reward\":0.0,\"inner_steps\":100,"
                     "\"keep_iterations\":false,\"lr\":1.0,\"n_metric_samples\":10000,"
                     "\"out_model\":\"" ID64 "\","
                     "\"rounds\":100000,\"seed\":9007199254740992,\"steps\":1000,\"tau_r\":999,"
                     "\"trajectories\":1024}");
    assert_round_trip(&j);
    mf_job_req_done(&j);

    /* The lower bounds. */
    j = job_ok("{\"type\":\"finetune.smeme\",\"model\":\"m\",\"params\":{\"K\":1,"
               "\"alpha\":1.0000000001,\"tau_r\":0,\"steps\":2,\"trajectories\":1,\"batch\":1,"
               "\"lr\":1e-300,\"rounds\":1,\"inner_steps\":1,\"clip_reward\":0,\"clip_grad\":0,"
               "\"clip_loss\":0,\"seed\":0,\"n_metric_samples\":100,\"out_model\":\"x\"}}");
    m = P_SMEME(j);
    ck_assert_uint_eq(m->K, 1);
    ck_assert(m->alpha[0] == 1.0000000001);
    ck_assert(m->alpha[1] == 0.0);
    ck_assert_int_eq(m->tau_r, 0);
    ck_assert_uint_eq(m->steps, 2);
    ck_assert_uint_eq(m->trajectories, 1);
    ck_assert_uint_eq(m->batch, 1);
    ck_assert(m->lr == 1e-300);
    ck_assert_uint_eq(m->rounds, 1);
    ck_assert_uint_eq(m->inner_steps, 1);
    ck_assert(m->clip_reward == 0.0);
    ck_assert(m->clip_grad == 0.0);
    ck_assert(m->clip_loss == 0.0);
    ck_assert_uint_eq(m->seed, 0);
    ck_assert_uint_eq(m->n_metric_samples, 100);
    ck_assert_str_eq(m->out_model, "x");
    ck_assert_ptr_nonnull(strstr(j.params_json, "\"alpha\":[1.0000000001]"));
    ck_assert_ptr_nonnull(strstr(j.params_json, "\"out_model\":\"x\""));
    assert_round_trip(&j);
    mf_job_req_done(&j);
}

END_TEST

START_TEST(test_job_smeme_alpha)
{
    /* One number: every iteration, whether K comes before or after it. */
    static const char *const five[] = {
        "{\"type\":\"finetune.smeme\",\"model\":\"m\",\"params\":{\"K\":5,\"alpha\":3.5}}",
        "{\"type\":\"finetune.smeme\",\"model\":\"m\",\"params\":{\"alpha\":3.5,\"K\":5}}",
        "{\"type\":\"finetune.smeme\",\"model\":\"m\",\"params\":{\"K\":5,"
        "\"alpha\":[3.5,3.5,3.5,3.5,3.5]}}",
        "{\"type\":\"finetune.smeme\",\"model\":\"m\",\"params\":{\"alpha\":[3.5,3.5,3.5,3.5,3.5],"
        "\"K\":5}}",
    };
    for (size_t i = 0; i < sizeof five / sizeof five[0]; i++) {
        mf_job_req j = job_ok(five[i]);
        ck_assert_uint_eq((*P_SMEME(j)).K, 5);
        for (size_t k = 0; k < MF_SMEME_REQ_MAX_K; k++) {
            ck_assert((*P_SMEME(j)).alpha[k] == (k < 5 ? 3.5 : 0.0));
        }
        /* Stored as the list, whichever form came in. */
        ck_assert_ptr_nonnull(strstr(j.params_json, "\"K\":5,\"alpha\":[3.5,3.5,3.5,3.5,3.5],"));
        assert_round_trip(&j);
        mf_job_req_done(&j);
    }

    /* One number with K omitted: the default K = 2. */
    mf_job_req j =
        job_ok("{\"type\":\"finetune.smeme\",\"model\":\"m\",\"params\":{\"alpha\":1.25}}");
    ck_assert_uint_eq((*P_SMEME(j)).K, 2);
    ck_assert((*P_SMEME(j)).alpha[0] == 1.25);
    ck_assert((*P_SMEME(j)).alpha[1] == 1.25);
    ck_assert((*P_SMEME(j)).alpha[2] == 0.0);
    ck_assert_ptr_nonnull(strstr(j.params_json, "\"alpha\":[1.25,1.25]"));
    assert_round_trip(&j);
    mf_job_req_done(&j);

    /* K = 3 with a list of 3, one per iteration, in order; integers are numbers too. */
    j = job_ok("{\"type\":\"finetune.smeme\",\"model\":\"m\",\"params\":{\"K\":3,"
               "\"alpha\":[2,4.5,1.1]}}");
    ck_assert_uint_eq((*P_SMEME(j)).K, 3);
    ck_assert((*P_SMEME(j)).alpha[0] == 2.0);
    ck_assert((*P_SMEME(j)).alpha[1] == 4.5);
    ck_assert((*P_SMEME(j)).alpha[2] == 1.1);
    ck_assert((*P_SMEME(j)).alpha[3] == 0.0);
    ck_assert_ptr_nonnull(strstr(j.params_json, "\"alpha\":[2.0,4.5,1.1]"));
    assert_round_trip(&j);
    mf_job_req_done(&j);

    /* K omitted and a list of 2 (the default K). */
    j = job_ok("{\"type\":\"finetune.smeme\",\"model\":\"m\",\"params\":{\"alpha\":[3,1.5]}}");
    ck_assert_uint_eq((*P_SMEME(j)).K, 2);
    ck_assert((*P_SMEME(j)).alpha[0] == 3.0);
    ck_assert((*P_SMEME(j)).alpha[1] == 1.5);
    assert_round_trip(&j);
    mf_job_req_done(&j);

    /* The longest: K = MF_SMEME_REQ_MAX_K, a different alpha each. */
    j = job_ok("{\"type\":\"finetune.smeme\",\"model\":\"m\",\"params\":{\"K\":16,\"alpha\":"
               "[2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]}}");
    ck_assert_uint_eq((*P_SMEME(j)).K, MF_SMEME_REQ_MAX_K);
    for (size_t k = 0; k < MF_SMEME_REQ_MAX_K; k++) {
        ck_assert((*P_SMEME(j)).alpha[k] == (double) (k + 2));
    }
    assert_round_trip(&j);
    mf_job_req_done(&j);

    /* K = 16 with one number. */
    j = job_ok("{\"type\":\"finetune.smeme\",\"model\":\"m\",\"params\":{\"K\":16,\"alpha\":100}}");
    for (size_t k = 0; k < MF_SMEME_REQ_MAX_K; k++) {
        ck_assert((*P_SMEME(j)).alpha[k] == 100.0);
    }
    assert_round_trip(&j);
    mf_job_req_done(&j);
}

END_TEST

START_TEST(test_job_smeme_limits)
{
    /* Smaller operator limits: the defaults of steps and n_metric_samples give
     * way to them, and values above them are out of range. */
    mf_req_limits lim = mf_req_limits_default();
    lim.max_n = 500;
    lim.max_steps = 50;
    lim.max_train_steps = 10;
    lim.max_batch = 8;
    mf_job_req j;
    mf_diag err;
    const char *b = "{\"type\":\"finetune.smeme\",\"model\":\"m\"}";
    ck_assert_int_eq(decode_job(b, strlen(b), &lim, &j, &err), 0);
    ck_assert_uint_eq((*P_SMEME(j)).steps, 50);
    ck_assert_uint_eq((*P_SMEME(j)).n_metric_samples, 500);
    ck_assert_uint_eq((*P_SMEME(j)).batch, 2048); /* max_batch is the train jobs' limit */
    ck_assert_ptr_nonnull(strstr(j.params_json, "\"n_metric_samples\":500,"));
    ck_assert_ptr_nonnull(strstr(j.params_json, "\"steps\":50,"));
    assert_round_trip_lim(&j, &lim);
    mf_job_req_done(&j);

    b = "{\"type\":\"finetune.smeme\",\"model\":\"m\",\"params\":{\"steps\":50,"
        "\"n_metric_samples\":500}}";
    ck_assert_int_eq(decode_job(b, strlen(b), &lim, &j, &err), 0);
    ck_assert_uint_eq((*P_SMEME(j)).steps, 50);
    ck_assert_uint_eq((*P_SMEME(j)).n_metric_samples, 500);
    mf_job_req_done(&j);

    /* Under the default limits a default stays the default, below the limit. */
    mf_req_limits big = {.max_n = 3000, .max_steps = 2000, .max_train_steps = 1, .max_batch = 1};
    b = "{\"type\":\"finetune.smeme\",\"model\":\"m\"}";
    ck_assert_int_eq(decode_job(b, strlen(b), &big, &j, &err), 0);
    ck_assert_uint_eq((*P_SMEME(j)).steps, 100);
    ck_assert_uint_eq((*P_SMEME(j)).n_metric_samples, 2000);
    mf_job_req_done(&j);

    static const struct {
        const char *params, *field, *message;
    } over[] = {
        {"{\"steps\":51}", "/params/steps",
         "\"/params/steps\" must be an integer between 2 and 50, got 51"},
        {"{\"n_metric_samples\":501}", "/params/n_metric_samples",
         "\"/params/n_metric_samples\" must be an integer between 100 and 500, got 501"},
    };

    for (size_t i = 0; i < sizeof over / sizeof over[0]; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"type\":\"finetune.smeme\",\"model\":\"m\",\"params\":%s}",
                 over[i].params);
        j.params_json = (char *) "not a heap pointer";
        ck_assert_int_eq(decode_job(body, strlen(body), &lim, &j, &err), 400);
        ck_assert_ptr_null(j.params_json);
        assert_error(&err, 400, "out_of_range", over[i].field);
        ck_assert_str_eq(err.msg, over[i].message);
        /* The same through the job store's path. */
        ck_assert_int_eq(decode_job_params("finetune.smeme", "m", over[i].params, &lim, &j, &err),
                         400);
        assert_error(&err, 400, "out_of_range", over[i].field);
    }

    /* Limits under the smallest value finetune.smeme accepts: no body can pass,
     * said on the field whatever the body holds. */
    mf_req_limits tiny_n = {.max_n = 99, .max_steps = 1000, .max_train_steps = 1, .max_batch = 1};
    mf_req_limits tiny_steps = {
        .max_n = 10000, .max_steps = 1, .max_train_steps = 1, .max_batch = 1};
    b = "{\"type\":\"finetune.smeme\",\"model\":\"m\",\"params\":{\"K\":3}}";
    ck_assert_int_eq(decode_job(b, strlen(b), &tiny_n, &j, &err), 422);
    assert_error(&err, 422, "impossible", "/params/n_metric_samples");
    ck_assert_str_eq(err.msg, "\"/params/n_metric_samples\" cannot be met: this server allows "
                              "at most 99 samples and finetune.smeme needs at least 100");
    ck_assert_int_eq(decode_job(b, strlen(b), &tiny_steps, &j, &err), 422);
    assert_error(&err, 422, "impossible", "/params/steps");
    b = "{\"type\":\"finetune.smeme\",\"model\":\"m\"}";
    ck_assert_int_eq(decode_job(b, strlen(b), &tiny_steps, &j, &err), 422);
    assert_error(&err, 422, "impossible", "/params/steps");
    /* ... but an unknown field is still the 400 it always is. */
    b = "{\"type\":\"finetune.smeme\",\"model\":\"m\",\"params\":{\"x\":1}}";
    ck_assert_int_eq(decode_job(b, strlen(b), &tiny_steps, &j, &err), 400);
    assert_error(&err, 400, "unknown_field", "/params/x");
}

END_TEST

START_TEST(test_job_smeme_messages)
{
    mf_diag e = decode_err(JOB, JM("\"alpha\":[2,2,2]"));
    ck_assert_str_eq(e.msg, "\"/params/alpha\" lists 3 numbers but \"/params/K\" is 2 (the "
                            "default); give one alpha per iteration, or a single number for "
                            "all of them");
    e = decode_err(JOB, JM("\"alpha\":[2,2],\"K\":3"));
    ck_assert_str_eq(e.msg, "\"/params/alpha\" lists 2 numbers but \"/params/K\" is 3; give "
                            "one alpha per iteration, or a single number for all of them");
    e = decode_err(JOB, JM("\"alpha\":1"));
    ck_assert_str_eq(e.msg, "\"/params/alpha\" must be a number greater than 1 and at most "
                            "100, or an array of K (2) such numbers, got 1");
    e = decode_err(JOB, JM("\"K\":4,\"alpha\":\"2\""));
    ck_assert_str_eq(e.msg, "\"/params/alpha\" must be a number greater than 1 and at most "
                            "100, or an array of K (4) such numbers, got \"2\"");
    e = decode_err(JOB, JM("\"alpha\":[2,\"x\"]"));
    ck_assert_str_eq(e.msg,
                     "\"/params/alpha/1\" must be a number greater than 1 and at most 100, got "
                     "\"x\"");
    e = decode_err(JOB, JM("\"foo\":1"));
    ck_assert_str_eq(e.msg, "unknown field \"/params/foo\"; the allowed fields are K, alpha, "
                            "tau_r, steps, trajectories, batch, lr, rounds, inner_steps, "
                            "clip_reward, clip_grad, clip_loss, seed, n_metric_samples, "
                            "out_model, keep_iterations");
    e = decode_err(JOB, JM("\"keep_iterations\":true,\"out_model\":\"" ID61 "\""));
    ck_assert_str_eq(e.msg, "\"/params/out_model\" has 61 characters, too many with "
                            "\"/params/keep_iterations\": the model kept after iteration 1 is "
                            "called out_model + \"-it1\" and an id has at most 64 characters; "
                            "give an out_model of at most 60");
    e = decode_err(JOB, JM("\"model\":\"m\""));
    ck_assert_ptr_nonnull(strstr(e.msg, "top-level \"model\""));
    e = decode_err(JOB, JM("\"clip_loss\":-1"));
    ck_assert_str_eq(e.msg, "\"/params/clip_loss\" must be a number between 0 and "
                            "1000000000000 (0 = no clipping), got -1");
    e = decode_err(JOB, JM("\"lr\":0"));
    ck_assert_str_eq(e.msg, "\"/params/lr\" must be a number greater than 0 and at most 1, got 0");
    e = decode_err(JOB, JM("\"tau_r\":1000"));
    ck_assert_str_eq(e.msg, "\"/params/tau_r\" must be an integer between 0 and 999, got 1000");
    e = decode_err(JOB, "{\"type\":\"finetune.smeme\",\"model\":\"m\",\"params\":[]}");
    ck_assert_str_eq(e.msg, "\"/params\" must be an object of finetune.smeme job params, got "
                            "an array of 0 elements");
    e = decode_err(JOB, "{\"type\":\"finetune.smeme\"}");
    ck_assert_str_eq(e.msg,
                     "missing required field \"/model\", an id matching [a-z0-9][a-z0-9._-]{0,63}");
}

END_TEST

/* keep_iterations: a boolean, false by default (encoded); the kept models' ids "<out>-it<k>"
 * must be ids, so out_model leaves room for the longest suffix, "-it<K-1>". */
START_TEST(test_job_smeme_keep_iterations)
{
    mf_job_req j = job_ok(JM("\"keep_iterations\":true,\"out_model\":\"e\""));
    ck_assert(P_SMEME(j)->keep_iterations);
    ck_assert_ptr_nonnull(strstr(j.params_json, "\"keep_iterations\":true,"));
    ck_assert_uint_eq(mf_smeme_kept_room(P_SMEME(j)), 4); /* "-it1" */
    assert_round_trip(&j);
    mf_job_req_done(&j);
    j = job_ok(JM("\"keep_iterations\":false,\"K\":3"));
    ck_assert(!P_SMEME(j)->keep_iterations);
    ck_assert_ptr_nonnull(strstr(j.params_json, "\"keep_iterations\":false,"));
    ck_assert_uint_eq(mf_smeme_kept_room(P_SMEME(j)), 0);
    mf_job_req_done(&j);
    /* the longest out_models that fit: 60 + "-it1", 59 + "-it10"; K = 1 keeps none */
    static const char *const fit[] = {
        JM("\"keep_iterations\":true,\"out_model\":\"" ID60 "\""),
        JM("\"keep_iterations\":true,\"K\":11,\"alpha\":2,\"out_model\":\"" ID59 "\""),
        JM("\"keep_iterations\":true,\"K\":1,\"out_model\":\"" ID64 "\""),
        JM("\"keep_iterations\":false,\"out_model\":\"" ID64 "\""),
        JM("\"keep_iterations\":true"), /* the daemon picks an id with the room */
    };
    for (size_t i = 0; i < sizeof fit / sizeof fit[0]; i++) {
        j = job_ok(fit[i]);
        assert_round_trip(&j);
        mf_job_req_done(&j);
    }
    /* the kept ids */
    char id[MF_REQ_ID_MAX + 1];
    ck_assert(mf_smeme_kept_id("g-x", 12, id));
    ck_assert_str_eq(id, "g-x-it12");
    ck_assert(mf_smeme_kept_id(ID60, 1, id));
    ck_assert_str_eq(id, ID60 "-it1");
    ck_assert(!mf_smeme_kept_id(ID61, 1, id));
    ck_assert_str_eq(id, "");
}

END_TEST

/* ---- out of memory ------------------------------------------------------------------- */

static long alloc_budget;

static void *budget_malloc(size_t n)
{
    return alloc_budget-- > 0 ? malloc(n) : NULL;
}

/* Every allocation jansson makes fails in turn: the decoders answer 500
 * "internal" (or, while parsing, whatever jansson makes of it), never crash
 * and leak nothing (the sanitizer and valgrind runs check that); once enough
 * memory is there, the answer is the normal one. */
START_TEST(test_out_of_memory)
{
    static const char *const bodies[] = {
        "{\"type\":\"sample\",\"model\":\"m\",\"params\":{\"n\":3,\"seed\":4,\"steps\":9}}",
        "{\"type\":\"train\",\"params\":{\"dataset\":\"digits\",\"hidden\":[8,8],"
        "\"dequantise\":true,\"out_model\":\"x\"}}",
        "{\"type\":\"train\",\"params\":{\"dataset\":\"ring\",\"lr\":0}}",
        "{\"type\":\"train\"}",
        "{\"type\":\"finetune.smeme\",\"model\":\"m\",\"params\":{\"K\":3,\"alpha\":[2,3,4],"
        "\"out_model\":\"x\",\"lr\":0.001}}",
        "{\"type\":\"finetune.smeme\",\"model\":\"m\"}",
        "{\"type\":\"finetune.smeme\",\"model\":\"m\",\"params\":{\"alpha\":[2,2,2]}}",
    };
    mf_req_limits lim = mf_req_limits_default();
    json_set_alloc_funcs(budget_malloc, free);
    for (size_t b = 0; b < sizeof bodies / sizeof bodies[0]; b++) {
        mf_diag ok_err;
        mf_job_req ok;
        alloc_budget = 1000000;
        unsigned want = decode_job(bodies[b], strlen(bodies[b]), &lim, &ok, &ok_err);
        bool reached = false;
        size_t n_internal = 0;
        for (long k = 0; k < 1000 && !reached; k++) {
            mf_job_req j;
            mf_diag err;
            alloc_budget = k;
            unsigned st = decode_job(bodies[b], strlen(bodies[b]), &lim, &j, &err);
            alloc_budget = 1000000; /* for the checks below */
            if (st == 500) {
                ck_assert_ptr_null(j.params_json);
                assert_error(&err, 500, "internal", "");
                n_internal++;
                continue;
            }
            /* jansson's lexer reports some failed allocations as a syntax error
             * (a token it could not store is an invalid token), which the
             * decoder cannot tell apart: a 400 on the body as a whole. */
            if (st == 400 && strcmp(err.code, "bad_json") == 0 &&
                !(want == 400 && strcmp(ok_err.code, "bad_json") == 0)) {
                ck_assert_ptr_null(j.params_json);
                assert_error(&err, 400, "bad_json", "");
                continue;
            }
            /* Enough memory: the same answer as without a limit. */
            reached = true;
            ck_assert_msg(st == want, "body %zu budget %ld: %d %s %s %s", b, k, (int) st, err.code,
                          err.field, err.msg);
            if (st == 0) {
                ck_assert_str_eq(j.params_json, ok.params_json);
                assert_round_trip(&j);
                mf_job_req_done(&j);
            } else {
                ck_assert_str_eq(err.code, ok_err.code);
                ck_assert_str_eq(err.field, ok_err.field);
            }
        }
        ck_assert(reached);
        ck_assert_uint_gt(n_internal, 0);
        if (want == 0) {
            mf_job_req_done(&ok);
        }
    }
    json_set_alloc_funcs(malloc, free);
}

END_TEST

static Suite *request_json_suite(void)
{
    Suite *s = suite_create("request_json");
    TCase *tc = tcase_create("malformed");
    tcase_add_loop_test(tc, test_bad_body, 0, N_BAD);
    tcase_add_test(tc, test_messages);
    tcase_add_test(tc, test_long_unknown_key);
    tcase_add_test(tc, test_deep_nesting);
    suite_add_tcase(s, tc);
    tc = tcase_create("decoded");
    tcase_add_test(tc, test_samples_defaults);
    tcase_add_test(tc, test_samples_all_fields);
    tcase_add_test(tc, test_samples_limits);
    tcase_add_test(tc, test_id_valid);
    tcase_add_test(tc, test_names_and_limits);
    tcase_add_test(tc, test_http_status);
    tcase_add_test(tc, test_job_sample);
    tcase_add_test(tc, test_job_train_defaults);
    tcase_add_test(tc, test_job_train_potential_hjb);
    tcase_add_test(tc, test_job_train_uploaded_dataset);
    tcase_add_test(tc, test_job_train_all_fields);
    tcase_add_test(tc, test_job_train_bounds);
    tcase_add_test(tc, test_job_smeme_defaults);
    tcase_add_test(tc, test_job_smeme_all_fields);
    tcase_add_test(tc, test_job_smeme_alpha);
    tcase_add_test(tc, test_job_smeme_limits);
    tcase_add_test(tc, test_job_smeme_messages);
    tcase_add_test(tc, test_job_smeme_keep_iterations);
    tcase_add_test(tc, test_job_params_errors);
    tcase_add_test(tc, test_out_of_memory);
    suite_add_tcase(s, tc);
    return s;
}

MF_TEST_MAIN(request_json_suite)
