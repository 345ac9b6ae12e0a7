/* SPDX-License-Identifier: MIT */
/*
 * describe_jobs.c - prints every job type's params as the codecs see them, for
 * tests/check_api_docs.py: per type, whether it takes a model, each field's type,
 * range and enum (mf_req_describe on the codec's tables, with the default limits),
 * and the defaults (the canonical params JSON of a request that gives only the
 * required fields, at their minimum).
 *
 *   describe_jobs > jobs.json
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_codec.h"
#include "req_decode.h"

static const char *const model_names[] = {
    [MF_CODEC_NO_MODEL] = "forbidden",
    [MF_CODEC_MODEL] = "required",
    [MF_CODEC_MODEL_OPTIONAL] = "optional",
};

/* The smallest params a codec accepts: each required field at its minimum (an enum's
 * first value, "x" for an id); a nested object with required fields given with those
 * (so its other fields' defaults show). */
static json_t *minimal_params(json_t *fields)
{
    json_t *p = json_object();
    const char *key;
    json_t *f;
    json_object_foreach(fields, key, f)
    {
        json_t *sub = json_object_get(f, "properties");
        json_t *inner = sub != NULL ? minimal_params(sub) : NULL;
        if (inner != NULL && json_object_size(inner) > 0) {
            json_object_set_new(p, key, inner);
            continue;
        }
        json_decref(inner);
        if (!json_is_true(json_object_get(f, "required"))) {
            continue;
        }
        json_t *lo = json_object_get(f, "minimum");
        json_t *names = json_object_get(f, "enum");
        json_object_set_new(p, key,
                            lo != NULL      ? json_incref(lo)
                            : names != NULL ? json_incref(json_array_get(names, 0))
                                            : json_string("x"));
    }
    return p;
}

/* The canonical params with every default, as the job store would keep them. */
static json_t *defaults(const mf_job_codec *c, json_t *params, const mf_req_limits *lim)
{
    void *out = calloc(1, c->params_size);
    mf_diag d = {0};
    if (out == NULL || c->decode(params, "x", lim, out, &d) != MF_OK) {
        fprintf(stderr, "describe_jobs: %s: the minimal params fail: %s (%s)\n", c->name, d.msg,
                d.field);
        exit(1);
    }
    char *text = c->encode(out);
    json_t *o = text != NULL ? json_loads(text, 0, NULL) : NULL;
    free(text);
    free(out);
    return o;
}

int main(void)
{
    mf_req_limits lim = mf_req_limits_default();
    json_t *types = json_object();
    for (size_t i = 0; mf_job_codecs[i] != NULL; i++) {
        const mf_job_codec *c = mf_job_codecs[i];
        json_t *fields = c->tables != NULL ? mf_req_describe(c->tables, &lim) : NULL;
        if (fields == NULL) {
            fprintf(stderr, "describe_jobs: %s has no field tables\n", c->name);
            return 1;
        }
        json_t *params = minimal_params(fields);
        json_t *t = json_pack("{s:s, s:o, s:o}", "model", model_names[c->model], "fields", fields,
                              "defaults", defaults(c, params, &lim));
        json_decref(params);
        if (t == NULL) {
            return 1;
        }
        json_object_set_new(types, c->name, t);
    }
    json_t *limits =
        json_pack("{s:I, s:I, s:I, s:I}", "max_n", (json_int_t) lim.max_n, "max_steps",
                  (json_int_t) lim.max_steps, "max_train_steps", (json_int_t) lim.max_train_steps,
                  "max_batch", (json_int_t) lim.max_batch);
    json_t *all = json_pack("{s:o, s:o}", "limits", limits, "types", types);
    if (all == NULL || json_dumpf(all, stdout, JSON_INDENT(1) | JSON_SORT_KEYS) != 0) {
        return 1;
    }
    json_decref(all);
    return 0;
}
