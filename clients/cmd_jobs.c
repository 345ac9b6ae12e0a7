/* SPDX-License-Identifier: MIT */
/*
 * cmd_jobs.c - submit, job, jobs, cancel.
 *
 * submit prints the new job's id, alone on a line, as soon as the server
 * accepted it (flushed), so `id=$(manifold submit ...)` works and a --watch
 * that follows cannot hide it.  A --param value is JSON when it parses as
 * JSON (5, 1e-3, true, [64,64], "x") and a string otherwise (two_moons), so
 * the common cases need no shell quoting of JSON.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "commands.h"
#include "json_util.h"
#include "request_json.h"

#define N_OPTS(a) (sizeof(a) / sizeof((a)[0]))

/* KEY=VALUE -> params[KEY]; a usage error names a malformed one. */
static mf_exit add_param(json_t *params, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (eq == NULL || eq == kv) {
        return mf_api_say(MF_EXIT_USAGE, "--param takes KEY=VALUE, not '%s'", kv);
    }
    size_t klen = (size_t) (eq - kv);
    char *key = strndup(kv, klen);
    if (key == NULL) {
        return mf_api_say(MF_EXIT_LOCAL, "out of memory");
    }
    json_t *v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
    if (v == NULL) {
        v = json_string(eq + 1);
    }
    mf_exit code = MF_EXIT_OK;
    if (v == NULL) {
        code = mf_api_say(MF_EXIT_USAGE, "--param %s: the value is not valid UTF-8", key);
    } else if (json_object_set_new(params, key, v) != 0) {
        code = mf_api_say(MF_EXIT_USAGE, "--param: bad key '%s'", key);
    }
    free(key);
    return code;
}

mf_exit mf_cmd_job_params(const char *params_text, const char *const *kv, size_t n_kv, json_t **ret)
{
    json_t *params = NULL;
    if (params_text != NULL) {
        json_error_t e;
        params = json_loads(params_text, 0, &e);
        if (!json_is_object(params)) {
            json_decref(params);
            return mf_api_say(MF_EXIT_USAGE, "--params must be a JSON object (%s)",
                              params != NULL ? "got another value" : e.text);
        }
    } else if (n_kv > 0 && (params = json_object()) == NULL) {
        return mf_api_say(MF_EXIT_LOCAL, "out of memory");
    }
    for (size_t i = 0; i < n_kv; i++) {
        mf_exit code = add_param(params, kv[i]);
        if (code != MF_EXIT_OK) {
            json_decref(params);
            return code;
        }
    }
    *ret = params;
    return MF_EXIT_OK;
}

mf_exit mf_cmd_job_request(const char *type, const char *model, json_t *params, json_t **ret)
{
    json_t *o = json_object();
    int f = o == NULL;
    f |= json_object_set_new(o, "type", json_string(type));
    if (model != NULL) {
        f |= json_object_set_new(o, "model", json_string(model));
    }
    if (params != NULL) {
        f |= json_object_set_new(o, "params", params);
    }
    if (f != 0) {
        json_decref(o);
        return mf_api_say(MF_EXIT_USAGE, "bad job type '%s' (not UTF-8?)", type);
    }
    *ret = o;
    return MF_EXIT_OK;
}

static mf_exit submit_job(mf_client *c, const char *type, const char *model,
                          const char *params_text, const mf_args *a, const json_t *extra,
                          bool watch, bool json, char *ret_id);

mf_exit mf_cmd_submit(mf_client *c, int argc, char **argv, int first)
{
    const char *params_text = NULL, *param_listed = NULL;
    bool watch = false, json = false;
    /* mf_args_parse collects --param itself; the entry is here for --help. */
    const mf_opt opts[] = {
        {"param", MF_OPT_STR, &param_listed, 0, 0,
         "KEY=VALUE, repeatable: one job parameter; VALUE is JSON when it parses "
         "(5, 1e-3, true, [64,64]), else a string"},
        {"params", MF_OPT_STR, &params_text, 0, 0,
         "all parameters as one JSON object (--param entries are set on top)"},
        {"watch", MF_OPT_FLAG, &watch, 0, 0, "then follow the job as 'watch' does"},
        {"json", MF_OPT_FLAG, &json, 0, 0, "with --watch: the events as NDJSON on stdout"},
    };
    const mf_args_spec spec = {
        .usage = "manifold submit TYPE [MODEL] [options]\n"
                 "  submits a job (TYPE sample needs MODEL; train takes none) and prints "
                 "its id;\n  e.g. submit sample two_moons --param n=1000 --param sampler=ddim",
        .min_pos = 1,
        .max_pos = 2,
        .repeat = {"param"}};
    mf_args a;
    int st = mf_args_parse(argc, argv, first, opts, N_OPTS(opts), &spec, &a);
    if (st != 0) {
        return mf_cmd_args_exit(st);
    }
    const char *type = a.pos[0], *model = a.n_pos > 1 ? a.pos[1] : NULL;
    if (json && !watch) {
        mf_args_done(&a);
        return mf_api_say(MF_EXIT_USAGE, "--json goes with --watch (the id is printed either way)");
    }
    char id[MF_REQ_ID_MAX + 1];
    mf_exit code = submit_job(c, type, model, params_text, &a, NULL, watch, json, id);
    mf_args_done(&a);
    return code;
}

/*
 * extra (may be NULL): params a command's own options set, on top of --params and --param;
 * ret_id (MF_REQ_ID_MAX + 1 chars) gets the job's id.
 */
static mf_exit submit_job(mf_client *c, const char *type, const char *model,
                          const char *params_text, const mf_args *a, const json_t *extra,
                          bool watch, bool json, char *ret_id)
{
    json_t *params = NULL, *req = NULL;
    mf_exit code = model != NULL ? mf_api_check_id("model id", model) : MF_EXIT_OK;
    if (code == MF_EXIT_OK) {
        code = mf_cmd_job_params(params_text, a->repeated[0], a->n_repeated[0], &params);
    }
    if (code == MF_EXIT_OK && extra != NULL && json_object_size(extra) > 0) {
        params = params != NULL ? params : json_object();
        if (params == NULL || json_object_update(params, (json_t *) extra) != 0) {
            json_decref(params);
            return mf_api_say(MF_EXIT_LOCAL, "out of memory");
        }
    }
    if (code == MF_EXIT_OK) {
        code = mf_cmd_job_request(type, model, params, &req);
    }
    if (code != MF_EXIT_OK) {
        return code;
    }
    code = mf_cmd_post_job(c, req, watch, json, ret_id);
    json_decref(req);
    return code;
}

mf_exit mf_cmd_post_job(mf_client *c, const json_t *req, bool watch, bool json, char *ret_id)
{
    mf_http_resp r;
    json_t *j;
    mf_exit code = mf_api_post_json(c, "/v1/jobs", req, &r, &j);
    if (code != MF_EXIT_OK) {
        return code;
    }
    const char *got = mf_api_str(j, "id");
    if (!mf_req_id_valid(got)) {
        code = mf_api_malformed("POST /v1/jobs: no valid job \"id\" in the answer");
    } else {
        snprintf(ret_id, MF_REQ_ID_MAX + 1, "%s", got);
        printf("%s\n", ret_id);
        fflush(stdout);
    }
    json_decref(j);
    mf_http_resp_done(&r);
    if (code == MF_EXIT_OK && watch) {
        code = mf_watch_job(c, ret_id, json);
    }
    return code;
}

mf_exit mf_cmd_job_model(mf_client *c, const char *job, const char *type, char *ret_model)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%s/result", job);
    mf_http_resp r;
    json_t *j;
    mf_exit code = mf_api_json(c, "GET", path, NULL, &r, &j);
    if (code != MF_EXIT_OK) {
        return code;
    }
    const char *model = mf_api_str(j, "model");
    if (!mf_req_id_valid(model)) {
        char msg[128];
        snprintf(msg, sizeof msg, "the result of a %s job names no valid \"model\"", type);
        code = mf_api_malformed(msg);
    } else {
        snprintf(ret_model, MF_REQ_ID_MAX + 1, "%s", model);
    }
    json_decref(j);
    mf_http_resp_done(&r);
    return code;
}

/* s as one shell word: as it is when it has no character a shell treats specially. */
static void put_shell_word(FILE *f, const char *s)
{
    if (s[0] != '\0' && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "0123456789:/._-%+,=@") == strlen(s)) {
        fputs(s, f);
        return;
    }
    fputc('\'', f);
    for (const char *p = s; *p != '\0'; p++) {
        if (*p == '\'') {
            fputs("'\\''", f); /* close the quote, a quoted ', open it again */
        } else {
            fputc(*p, f);
        }
    }
    fputc('\'', f);
}

/*
 * The end of an exploration that succeeded: the model it made and the command that
 * samples it, with the --url given to this one.
 */
static mf_exit print_made_model(mf_client *c, const char *job)
{
    char model[MF_REQ_ID_MAX + 1];
    mf_exit code = mf_cmd_job_model(c, job, "finetune.smeme", model);
    if (code == MF_EXIT_OK) {
        printf("made model %s; sample it: manifold ", model);
        if (c->url_arg != NULL) {
            fputs("--url ", stdout);
            put_shell_word(stdout, c->url_arg);
            putchar(' ');
        }
        printf("sample %s -n 1000\n", model);
    }
    return code;
}

mf_exit mf_cmd_explore(mf_client *c, int argc, char **argv, int first)
{
    const char *params_text = NULL, *param_listed = NULL;
    bool json = false;
    const mf_opt opts[] = {
        {"param", MF_OPT_STR, &param_listed, 0, 0,
         "KEY=VALUE, repeatable: K, alpha, rounds, tau_r, steps, trajectories, batch, lr, "
         "inner_steps, clip_reward, clip_grad, clip_loss, seed, n_metric_samples, out_model"},
        {"params", MF_OPT_STR, &params_text, 0, 0,
         "all parameters as one JSON object (--param entries are set on top)"},
        {"json", MF_OPT_FLAG, &json, 0, 0, "the events as NDJSON on stdout"},
    };
    const mf_args_spec spec = {
        .usage = "manifold explore MODEL [options]\n"
                 "  maximum-entropy exploration (finetune.smeme) of MODEL: submits the job,\n"
                 "  prints its id, then a table with a row per iteration as they arrive\n"
                 "  (0: MODEL itself; the loss, entropies in nats, Vendi, support, distance\n"
                 "  to MODEL), the final state, and the model made with the command that\n"
                 "  samples it; e.g. explore imbalanced_square --param K=2",
        .min_pos = 1,
        .max_pos = 1,
        .repeat = {"param"}};
    mf_args a;
    int st = mf_args_parse(argc, argv, first, opts, N_OPTS(opts), &spec, &a);
    if (st != 0) {
        return mf_cmd_args_exit(st);
    }
    char job[MF_REQ_ID_MAX + 1];
    mf_exit code =
        submit_job(c, "finetune.smeme", a.pos[0], params_text, &a, NULL, true, json, job);
    mf_args_done(&a);
    return code == MF_EXIT_OK && !json ? print_made_model(c, job) : code;
}

/*
 * distill: finetune.dxmi, watched.  --steps and --iters are the two
 * parameters a user sets first; the rest go through --param.  The range
 * checks are the server's (its error names the field).
 */
mf_exit mf_cmd_distill(mf_client *c, int argc, char **argv, int first)
{
    const char *params_text = NULL, *param_listed = NULL;
    size_t steps = 0, iters = 0;
    bool json = false;
    const mf_opt opts[] = {
        {"steps", MF_OPT_SIZE, &steps, 1, 1e9,
         "sampler steps T of the distilled sampler (the server's default: 5 up to 8-D, 10 above)"},
        {"iters", MF_OPT_SIZE, &iters, 1, 1e9,
         "DxMI iterations (the server's default: 4000 up to 8-D, 1200 above)"},
        {"param", MF_OPT_STR, &param_listed, 0, 0,
         "KEY=VALUE, repeatable: schedule, tau_entropy, tau_velocity, gamma, adavelreg, "
         "lr_sampler, lr_sigma, lr_energy, lr_value, clip_sampler, clip_energy, batch, warmup, "
         "n_generator, energy_hidden, value_hidden, value_emb, eval_every, n_eval, dataset, "
         "seed, out_model"},
        {"params", MF_OPT_STR, &params_text, 0, 0,
         "all parameters as one JSON object (--param entries are set on top)"},
        {"json", MF_OPT_FLAG, &json, 0, 0, "the events as NDJSON on stdout"},
    };
    const mf_args_spec spec = {
        .usage = "manifold distill MODEL [options]\n"
                 "  distils MODEL into a few-step sampler with an energy model (finetune.dxmi):\n"
                 "  submits the job, prints its id, then one line per evaluation (SW2 beside its\n"
                 "  floor, energy AUC); the model it makes samples in --steps steps and scores\n"
                 "  points (manifold score); e.g. distill eight_gaussians --steps 5",
        .min_pos = 1,
        .max_pos = 1,
        .repeat = {"param"}};
    mf_args a;
    int st = mf_args_parse(argc, argv, first, opts, N_OPTS(opts), &spec, &a);
    if (st != 0) {
        return mf_cmd_args_exit(st);
    }
    json_t *extra = json_object();
    mf_exit code = extra != NULL ? MF_EXIT_OK : mf_api_say(MF_EXIT_LOCAL, "out of memory");
    if (code == MF_EXIT_OK &&
        ((steps > 0 && json_object_set_new(extra, "steps", json_integer((json_int_t) steps))) ||
         (iters > 0 && json_object_set_new(extra, "iters", json_integer((json_int_t) iters))))) {
        code = mf_api_say(MF_EXIT_LOCAL, "out of memory");
    }
    char id[MF_REQ_ID_MAX + 1];
    if (code == MF_EXIT_OK) {
        code = submit_job(c, "finetune.dxmi", a.pos[0], params_text, &a, extra, true, json, id);
    }
    json_decref(extra);
    mf_args_done(&a);
    return code;
}

mf_exit mf_cmd_job(mf_client *c, int argc, char **argv, int first)
{
    bool json = false;
    const mf_opt opts[] = {{"json", MF_OPT_FLAG, &json, 0, 0, "print the server's JSON body"}};
    const mf_args_spec spec = {.usage = "manifold job ID [--json]\n"
                                        "  one job: state, progress, queue position, metrics, "
                                        "error",
                               .min_pos = 1,
                               .max_pos = 1};
    const char *id;
    mf_exit code = mf_cmd_parse_id(argc, argv, first, opts, N_OPTS(opts), &spec, "job id", &id);
    if (id == NULL) {
        return code;
    }
    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%s", id);
    return mf_cmd_describe(c, path, json);
}

/* Appends "&name=escaped value" (or "?..." first) to the query; false when out of memory. */
static bool add_query(char *q, size_t cap, const char *name, const char *value)
{
    if (value == NULL) {
        return true;
    }
    char *e = mf_http_escape(value);
    if (e == NULL) {
        return false;
    }
    size_t len = strlen(q);
    int n = snprintf(q + len, cap - len, "%c%s=%s", strchr(q, '?') ? '&' : '?', name, e);
    free(e);
    return n >= 0 && (size_t) n < cap - len;
}

/* The cells of one job row: id, type, model, state, progress, created. */
static mf_err add_job_row(mf_out_table *t, const json_t *job)
{
    const json_t *prog = json_object_get(job, "progress");
    const json_t *done = json_object_get(prog, "done"), *total = json_object_get(prog, "total");
    char progress[64] = "-", created[32] = "-";
    if (json_is_integer(done) && json_is_integer(total)) {
        snprintf(progress, sizeof progress, "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
                 json_integer_value(done), json_integer_value(total));
    }
    /* the wire's RFC 3339 time, shown to the second */
    struct tm tm;
    double at = 0;
    time_t secs = mf_json_time_parse(json_string_value(json_object_get(job, "created_at")), &at)
                      ? (time_t) at
                      : 0;
    if (secs > 0 && gmtime_r(&secs, &tm) != NULL) {
        strftime(created, sizeof created, "%Y-%m-%d %H:%M:%SZ", &tm);
    }
    json_t *cells[6] = {json_object_get(job, "id"),    json_object_get(job, "type"),
                        json_object_get(job, "model"), json_object_get(job, "state"),
                        json_string(progress),         json_string(created)};
    mf_err err = cells[4] != NULL && cells[5] != NULL ? mf_out_table_add_json(t, cells) : MF_ENOMEM;
    json_decref(cells[4]);
    json_decref(cells[5]);
    return err;
}

mf_exit mf_cmd_jobs(mf_client *c, int argc, char **argv, int first)
{
    const char *state = NULL, *model = NULL, *type = NULL, *before = NULL;
    size_t limit = 0;
    bool json = false;
    const mf_opt opts[] = {
        {"state", MF_OPT_STR, &state, 0, 0, "queued, running, succeeded, failed or cancelled"},
        {"model", MF_OPT_STR, &model, 0, 0, "only jobs of this model"},
        {"type", MF_OPT_STR, &type, 0, 0, "only jobs of this type (sample, train)"},
        {"limit", MF_OPT_SIZE, &limit, 1, 1000, "at most this many (the server's default: 100)"},
        {"before", MF_OPT_STR, &before, 0, 0, "the page after this job id (paging)"},
        {"json", MF_OPT_FLAG, &json, 0, 0, "print the server's JSON body"},
    };
    const mf_args_spec spec = {.usage = "manifold jobs [options]\n  lists jobs, newest first"};
    mf_args a;
    int st = mf_args_parse(argc, argv, first, opts, N_OPTS(opts), &spec, &a);
    if (st != 0) {
        return mf_cmd_args_exit(st);
    }
    mf_args_done(&a);
    mf_exit code = model != NULL ? mf_api_check_id("model id", model) : MF_EXIT_OK;
    if (code == MF_EXIT_OK && before != NULL) {
        code = mf_api_check_id("job id", before);
    }
    if (code != MF_EXIT_OK) {
        return code;
    }
    char limit_text[32], path[512] = "/v1/jobs";
    snprintf(limit_text, sizeof limit_text, "%zu", limit);
    if (!add_query(path, sizeof path, "state", state) ||
        !add_query(path, sizeof path, "model", model) ||
        !add_query(path, sizeof path, "type", type) ||
        !add_query(path, sizeof path, "limit", limit > 0 ? limit_text : NULL) ||
        !add_query(path, sizeof path, "before", before)) {
        return mf_api_say(MF_EXIT_USAGE, "the filters are too long");
    }
    mf_http_resp r;
    json_t *j;
    code = mf_api_json(c, "GET", path, NULL, &r, &j);
    if (code != MF_EXIT_OK) {
        return code;
    }
    const json_t *jobs = json_object_get(j, "jobs");
    static const char *const cols[] = {"id", "type", "model", "state", "progress", "created"};
    mf_out_table *t = NULL;
    if (!json_is_array(jobs)) {
        code = mf_api_malformed("GET /v1/jobs: no \"jobs\" array");
    } else if (json) {
        code = mf_api_print_raw(&r);
    } else if ((t = mf_out_table_new(N_OPTS(cols), cols)) == NULL) {
        code = mf_api_say(MF_EXIT_LOCAL, "out of memory");
    } else {
        for (size_t i = 0; code == MF_EXIT_OK && i < json_array_size(jobs); i++) {
            const json_t *job = json_array_get(jobs, i);
            if (!json_is_object(job)) {
                code = mf_api_malformed("GET /v1/jobs: a job is not an object");
            } else if (add_job_row(t, job) != MF_OK) {
                code = mf_api_say(MF_EXIT_LOCAL, "out of memory");
            }
        }
        if (code == MF_EXIT_OK) {
            mf_out_table_print(t, stdout);
            const char *next = mf_api_str(j, "next_before");
            if (next != NULL) {
                fputs("more: manifold jobs --before ", stderr);
                mf_out_clean(stderr, next, 64);
                fputc('\n', stderr);
            }
        }
    }
    mf_out_table_free(t);
    json_decref(j);
    mf_http_resp_done(&r);
    return code;
}

mf_exit mf_cmd_cancel(mf_client *c, int argc, char **argv, int first)
{
    const mf_args_spec spec = {.usage = "manifold cancel JOB\n"
                                        "  cancels a job: a queued one at once, a running one "
                                        "at its next step;\n  prints the job id and its state",
                               .min_pos = 1,
                               .max_pos = 1};
    const char *id;
    mf_exit code = mf_cmd_parse_id(argc, argv, first, NULL, 0, &spec, "job id", &id);
    if (id == NULL) {
        return code;
    }
    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%s/cancel", id);
    mf_http_resp r;
    json_t *j;
    code = mf_api_json(c, "POST", path, NULL, &r, &j);
    if (code != MF_EXIT_OK) {
        return code;
    }
    const char *state = mf_api_str(j, "state");
    if (state == NULL) {
        code = mf_api_malformed("POST .../cancel: no job \"state\" in the answer");
    } else {
        printf("%s ", id);
        mf_out_clean(stdout, state, 32);
        putchar('\n');
        if (strcmp(state, "running") == 0) {
            fprintf(stderr, "manifold: %s stops at its next step ('manifold watch %s')\n", id, id);
        }
    }
    json_decref(j);
    mf_http_resp_done(&r);
    return code;
}
