/* SPDX-License-Identifier: MIT */
/*
 * cmd_sample.c - sample (POST /v1/samples) and result (GET /v1/jobs/{id}/result).
 *
 * The request body is built by proto/ (mf_req_sample_params_json, the same
 * canonical form the server stores for a sample job), so the client never
 * spells a sampling field name itself.  The options are checked for type
 * here; their ranges are the server's to judge (its 400 names the field),
 * and so is what a model accepts (--target and --condition are for a
 * conditional model, a finetune.reward one: the server's 422 says so).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "request_json.h"

#define N_OPTS(a) (sizeof(a) / sizeof((a)[0]))
#define NO_SEED   UINT64_MAX /* no --seed: the server draws one (and reports it) */

/* The settings of a sample result, on one line of stderr. */
static void print_summary(const json_t *j, size_t n_rows)
{
    static const char *const keys[] = {"model", "sampler", "steps",     "eta",
                                       "seed",  "target",  "condition", "guidance"};
    fprintf(stderr, "%zu samples", n_rows);
    for (size_t k = 0; k < N_OPTS(keys); k++) {
        const json_t *v = json_object_get(j, keys[k]);
        char *text = v != NULL ? mf_out_text(v) : NULL;
        if (text != NULL) {
            fprintf(stderr, ", %s ", keys[k]);
            mf_out_clean(stderr, text, 80);
        }
        free(text);
    }
    fputc('\n', stderr);
}

mf_exit mf_cmd_print_samples(const mf_http_resp *r, const json_t *j, mf_out_format fmt)
{
    const json_t *samples = json_object_get(j, "samples");
    size_t dim = 0;
    if (mf_out_samples_check(samples, &dim) != MF_OK) {
        return mf_api_malformed("\"samples\" is not an array of rows of numbers of one length");
    }
    if (fmt == MF_OUT_JSON) {
        return mf_api_print_raw(r);
    }
    if (fmt == MF_OUT_TABLE) {
        print_summary(j, json_array_size(samples));
    }
    mf_out_samples(stdout, samples, dim, fmt);
    if (fmt != MF_OUT_TABLE) {
        return MF_EXIT_OK;
    }
    const json_t *metrics = json_object_get(j, "metrics");
    const char *skipped = mf_api_str(j, "metrics_skipped");
    if (json_is_object(metrics)) {
        fflush(stdout); /* the table, then its metrics, when both go to one terminal */
        fputs("metrics:\n", stderr);
        if (mf_out_describe(stderr, metrics, "  ") != MF_OK) {
            return mf_api_say(MF_EXIT_LOCAL, "out of memory");
        }
    } else if (skipped != NULL) {
        fputs("metrics skipped: ", stderr);
        mf_out_clean(stderr, skipped, 200);
        fputc('\n', stderr);
    }
    return MF_EXIT_OK;
}

static mf_exit parse_format(const char *name, mf_out_format *ret)
{
    if (mf_out_format_lookup(name, ret) != MF_OK) {
        return mf_api_say(MF_EXIT_USAGE, "--format is table, csv or json, not '%s'", name);
    }
    return MF_EXIT_OK;
}

/* The POST /v1/samples body: proto's canonical sample params plus the model (a new object). */
static json_t *sample_body(const char *model, const mf_sample_req *q)
{
    char *params = mf_req_sample_params_json(q);
    json_t *o = params != NULL ? json_loads(params, 0, NULL) : NULL;
    free(params);
    if (o == NULL || json_object_set_new(o, "model", json_string(model)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* "C1,C2,..." -> q->condition; a usage error names what is wrong. */
static mf_exit parse_condition(const char *list, mf_sample_req *q)
{
    const char *p = list;
    for (size_t k = 0; k <= MF_SAMPLE_MAX_COND; k++) {
        size_t len = strcspn(p, ",");
        char item[64];
        if (k == MF_SAMPLE_MAX_COND || len == 0 || len >= sizeof item) {
            return mf_api_say(MF_EXIT_USAGE,
                              "--condition takes 1 to %d numbers C1,C2,..., not '%s'",
                              MF_SAMPLE_MAX_COND, list);
        }
        memcpy(item, p, len);
        item[len] = '\0';
        if (!mf_args_number(item, &q->condition[k])) {
            return mf_api_say(MF_EXIT_USAGE, "--condition: '%s' is not a number", item);
        }
        q->n_condition = k + 1;
        if (p[len] == '\0') {
            break;
        }
        p += len + 1;
    }
    return MF_EXIT_OK;
}

/* What steers a conditional model: --target, --condition, --guidance and --w. */
typedef struct steering {
    double target, w; /* NAN: not given */
    const char *condition, *guidance;
} steering;

static mf_exit set_steering(const steering *s, mf_sample_req *q)
{
    q->has_target = !isnan(s->target);
    q->target = q->has_target ? s->target : 0;
    mf_exit code = s->condition != NULL ? parse_condition(s->condition, q) : MF_EXIT_OK;
    if (code != MF_EXIT_OK) {
        return code;
    }
    if (s->guidance == NULL) {
        return isnan(s->w) ? MF_EXIT_OK
                           : mf_api_say(MF_EXIT_USAGE, "--w goes with --guidance cfg or reward");
    }
    if (mf_guide_mode_lookup(s->guidance, &q->guidance) != MF_OK) {
        return mf_api_say(MF_EXIT_USAGE, "--guidance is cond, cfg or reward, not '%s'",
                          s->guidance);
    }
    q->has_guidance = true;
    q->guidance_w = isnan(s->w) ? 1.0 : s->w; /* the server's default */
    return MF_EXIT_OK;
}

/* POSTs the sample request q for model and prints the answer in format. */
static mf_exit post_sample(mf_client *c, const char *model, const mf_sample_req *q,
                           mf_out_format fmt)
{
    json_t *body = sample_body(model, q);
    if (body == NULL) {
        return mf_api_say(MF_EXIT_LOCAL, "out of memory");
    }
    mf_http_resp r;
    json_t *j;
    mf_exit code = mf_api_post_json(c, "/v1/samples", body, &r, &j);
    json_decref(body);
    if (code != MF_EXIT_OK) {
        return code;
    }
    code = mf_cmd_print_samples(&r, j, fmt);
    json_decref(j);
    mf_http_resp_done(&r);
    return code;
}

mf_exit mf_cmd_sample(mf_client *c, int argc, char **argv, int first)
{
    size_t n = 16, steps = 0;
    double eta = 0;
    uint64_t seed = NO_SEED;
    bool no_metrics = false;
    const char *sampler = NULL, *format = "table";
    steering st = {.target = NAN, .w = NAN};
    const mf_opt opts[] = {
        {"n", MF_OPT_SIZE, &n, 1, 1e9, "number of samples (-n; 16)"},
        {"sampler", MF_OPT_STR, &sampler, 0, 0,
         "ddpm, ddim, ode or var (the model's own: var for a DxMI model, else ddpm)"},
        {"steps", MF_OPT_SIZE, &steps, 1, 1e9,
         "sampler steps (the server's default: T for ddpm, the chain's for var, 100 otherwise)"},
        {"eta", MF_OPT_FLOAT, &eta, -1e300, 1e300, "DDIM noise, 0 = deterministic (0)"},
        {"seed", MF_OPT_U64, &seed, 0, 0, "random seed (the server draws one and reports it)"},
        {"no-metrics", MF_OPT_FLAG, &no_metrics, 0, 0, "skip the sample metrics"},
        {"format", MF_OPT_STR, &format, 0, 0,
         "table (metrics on stderr), csv (header x0,x1,...) or json (the server's body)"},
        {"target", MF_OPT_FLOAT, &st.target, -1e300, 1e300,
         "the reward to steer a conditional model (finetune.reward) to, |value| <= 1e6"},
        {"condition", MF_OPT_STR, &st.condition, 0, 0,
         "C1,C2,...: a conditional model's raw condition input (cond_dim numbers), not with "
         "--target"},
        {"guidance", MF_OPT_STR, &st.guidance, 0, 0,
         "cond (the default), cfg (classifier-free: a model trained with label dropout) or "
         "reward (reward-gradient: needs --target)"},
        {"w", MF_OPT_FLOAT, &st.w, -1e300, 1e300, "with --guidance: its weight, 0..1000 (1)"},
    };
    const mf_args_spec spec = {.usage = "manifold sample MODEL [options]\n"
                                        "  draws samples from MODEL (POST /v1/samples); a "
                                        "conditional model at --target A",
                               .min_pos = 1,
                               .max_pos = 1};
    const char *model;
    mf_exit code =
        mf_cmd_parse_id(argc, argv, first, opts, N_OPTS(opts), &spec, "model id", &model);
    if (model == NULL) {
        return code;
    }
    mf_out_format fmt;
    mf_sample_req q = {.n = n, .steps = steps, .eta = eta, .metrics = !no_metrics};
    code = parse_format(format, &fmt);
    q.has_sampler = sampler != NULL;
    if (code == MF_EXIT_OK && q.has_sampler && mf_sampler_lookup(sampler, &q.sampler) != MF_OK) {
        code = mf_api_say(MF_EXIT_USAGE, "--sampler is ddpm, ddim, ode or var, not '%s'", sampler);
    }
    if (code == MF_EXIT_OK) {
        code = set_steering(&st, &q);
    }
    if (code != MF_EXIT_OK) {
        return code;
    }
    q.has_seed = seed != NO_SEED;
    q.seed = q.has_seed ? seed : 0;
    return post_sample(c, model, &q, fmt);
}

/* A CSV cell: quoted when it holds a comma, quote or line break. */
static void put_csv(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        mf_out_clean(f, s, SIZE_MAX);
        return;
    }
    fputc('"', f);
    for (; *s != '\0'; s++) {
        if (*s == '"') {
            fputc('"', f);
        }
        fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
    }
    fputc('"', f);
}

/* A result without samples (a train job's {"model", "steps", "loss"}). */
static mf_exit print_other(const mf_http_resp *r, const json_t *j, mf_out_format fmt)
{
    if (fmt == MF_OUT_JSON) {
        return mf_api_print_raw(r);
    }
    if (fmt == MF_OUT_TABLE) {
        return mf_out_describe(stdout, j, "") == MF_OK ? MF_EXIT_OK
                                                       : mf_api_say(MF_EXIT_LOCAL, "out of memory");
    }
    for (int row = 0; row < 2; row++) {
        const char *key;
        json_t *v;
        bool first_cell = true;
        json_object_foreach((json_t *) j, key, v)
        {
            char *text = row == 0 ? strdup(key) : mf_out_text(v);
            if (text == NULL) {
                return mf_api_say(MF_EXIT_LOCAL, "out of memory");
            }
            fputs(first_cell ? "" : ",", stdout);
            put_csv(stdout, text);
            free(text);
            first_cell = false;
        }
        putchar('\n');
    }
    return MF_EXIT_OK;
}

mf_exit mf_cmd_result(mf_client *c, int argc, char **argv, int first)
{
    const char *format = "table";
    const mf_opt opts[] = {
        {"format", MF_OPT_STR, &format, 0, 0,
         "table, csv or json (the server's body); samples print as in 'sample'"},
    };
    const mf_args_spec spec = {.usage = "manifold result JOB [--format table|csv|json]\n"
                                        "  a finished job's result (samples, or the model a "
                                        "train job made)",
                               .min_pos = 1,
                               .max_pos = 1};
    const char *job;
    mf_exit code = mf_cmd_parse_id(argc, argv, first, opts, N_OPTS(opts), &spec, "job id", &job);
    if (job == NULL) {
        return code;
    }
    mf_out_format fmt;
    code = parse_format(format, &fmt);
    if (code != MF_EXIT_OK) {
        return code;
    }
    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%s/result", job);
    mf_http_resp r;
    json_t *j;
    code = mf_api_json(c, "GET", path, NULL, &r, &j);
    if (code != MF_EXIT_OK) {
        return code;
    }
    code = json_object_get(j, "samples") != NULL ? mf_cmd_print_samples(&r, j, fmt)
                                                 : print_other(&r, j, fmt);
    json_decref(j);
    mf_http_resp_done(&r);
    return code;
}
