/* SPDX-License-Identifier: MIT */
/*
 * cmd_steer.c - steer: reward-directed conditional diffusion, a
 * finetune.reward job, submitted and watched.
 *
 * MODEL_OR_DATASET is looked up as a data set first (GET /v1/datasets/ID),
 * then as a model (GET /v1/models/ID).  A data set is the job's unlabelled
 * data.  A model is its unconditional parent, the data being --dataset, else
 * a "dataset" given in --params or --param, else the one the model was
 * trained on.  A conditional model has been steered already: it is sampled
 * at a target, not steered again, and naming one is a usage error.  --parent
 * names the model to start from when the argument is a data set (needed for
 * a shipped model whose id is also a built-in data set's, such as ring).
 *
 * The params are built in layers, each set on top of the last: --params,
 * the --param entries, then the options.  --train-steps and --batch are set
 * inside the "train" object, --reward inside "reward_model", and --guidance,
 * --w and --p-uncond inside "guidance", keeping the other members an object
 * got from --param (train={"hidden":[128,128]}).  The options are checked for
 * type, and the names of modes for spelling, here; their ranges are the
 * server's to judge, as for sample (its 400 names the field).
 *
 * The job is watched as explore's is (watch.c, with view.c's lines: the
 * reward model, then a row per target); then the job's result names the
 * model it made.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "guidance.h"
#include "request_json.h"
#include "reward.h"
#include "sampler.h"

#define N_OPTS(a) (sizeof(a) / sizeof((a)[0]))
#define NO_SEED   UINT64_MAX /* no --seed: the server's default */
#define TARGET    0          /* the index of --target among the repeatable options */
#define PARAM     1          /* ... and of --param */

typedef struct steer_opts {
    const char *dataset, *parent, *labels, *reward, *guidance, *sampler, *out, *params_text;
    size_t n_labelled, train_steps, batch, n, steps; /* 0: not given */
    double label_noise, nu, w, p_uncond;             /* NAN: not given */
    uint64_t seed;                                   /* NO_SEED: not given */
    bool json;
} steer_opts;

/* A param an option sets: params[object][key], or params[key] when object is NULL. */
typedef struct setting {
    const char *object, *key;
    bool given;    /* the option was given ... */
    json_t *value; /* ... and its value, a new reference (NULL: out of memory) */
} setting;

static json_t *size_or_null(size_t v)
{
    return v > 0 ? json_integer((json_int_t) v) : NULL;
}

static json_t *num_or_null(double v)
{
    return isnan(v) ? NULL : json_real(v);
}

static json_t *str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : NULL;
}

static json_t *seed_or_null(uint64_t seed)
{
    if (seed == NO_SEED) {
        return NULL;
    }
    /* past json_int_t: a real, which the server refuses as out of range, naming it */
    return seed <= INT64_MAX ? json_integer((json_int_t) seed) : json_real((double) seed);
}

/* Sets s->value (taken) at its place in params; USAGE when --param made that place no object. */
static mf_exit set_one(json_t *params, const setting *s)
{
    json_t *o = params;
    if (s->object != NULL) {
        o = json_object_get(params, s->object);
        if (o == NULL) {
            o = json_object();
            if (json_object_set_new(params, s->object, o) != 0) {
                json_decref(s->value);
                return mf_api_say(MF_EXIT_LOCAL, "out of memory");
            }
        } else if (!json_is_object(o)) {
            json_decref(s->value);
            return mf_api_say(MF_EXIT_USAGE,
                              "\"%s\" from --param or --params is not an object, "
                              "so an option cannot set its \"%s\"",
                              s->object, s->key);
        }
    }
    if (json_object_set_new(o, s->key, s->value) != 0) {
        return mf_api_say(MF_EXIT_LOCAL, "out of memory");
    }
    return MF_EXIT_OK;
}

/* The options' params on top of params. */
static mf_exit set_options(json_t *params, const steer_opts *o)
{
    setting set[] = {
        {NULL, "labels", o->labels != NULL, str_or_null(o->labels)},
        {NULL, "n_labelled", o->n_labelled > 0, size_or_null(o->n_labelled)},
        {NULL, "label_noise", !isnan(o->label_noise), num_or_null(o->label_noise)},
        {NULL, "pseudo_label_noise", !isnan(o->nu), num_or_null(o->nu)},
        {"reward_model", "kind", o->reward != NULL, str_or_null(o->reward)},
        {"guidance", "mode", o->guidance != NULL, str_or_null(o->guidance)},
        {"guidance", "w", !isnan(o->w), num_or_null(o->w)},
        {"guidance", "p_uncond", !isnan(o->p_uncond), num_or_null(o->p_uncond)},
        {"train", "steps", o->train_steps > 0, size_or_null(o->train_steps)},
        {"train", "batch", o->batch > 0, size_or_null(o->batch)},
        {NULL, "n_per_target", o->n > 0, size_or_null(o->n)},
        {NULL, "sampler", o->sampler != NULL, str_or_null(o->sampler)},
        {NULL, "steps", o->steps > 0, size_or_null(o->steps)},
        {NULL, "seed", o->seed != NO_SEED, seed_or_null(o->seed)},
        {NULL, "out_model", o->out != NULL, str_or_null(o->out)},
    };
    mf_exit code = MF_EXIT_OK;
    for (size_t i = 0; i < N_OPTS(set); i++) {
        /* the strings are checked names and ids: a NULL value is out of memory */
        if (code == MF_EXIT_OK && set[i].given && set[i].value == NULL) {
            code = mf_api_say(MF_EXIT_LOCAL, "out of memory");
        }
        if (code == MF_EXIT_OK && set[i].given) {
            code = set_one(params, &set[i]);
        } else {
            json_decref(set[i].value);
        }
    }
    return code;
}

/* params["targets"] from the --target values; USAGE when one is not a number, or none. */
static mf_exit set_targets(json_t *params, const char *const *texts, size_t n)
{
    if (n == 0) {
        return json_object_get(params, "targets") != NULL
                   ? MF_EXIT_OK
                   : mf_api_say(MF_EXIT_USAGE, "give the rewards to steer to: --target A "
                                               "(repeatable)");
    }
    json_t *targets = json_array();
    mf_exit code = targets != NULL ? MF_EXIT_OK : mf_api_say(MF_EXIT_LOCAL, "out of memory");
    for (size_t i = 0; i < n && code == MF_EXIT_OK; i++) {
        double a;
        if (!mf_args_number(texts[i], &a)) {
            code = mf_api_say(MF_EXIT_USAGE, "--target needs a number, got '%s'", texts[i]);
        } else if (json_array_append_new(targets, json_real(a)) != 0) {
            code = mf_api_say(MF_EXIT_LOCAL, "out of memory");
        }
    }
    if (code == MF_EXIT_OK && json_object_set(params, "targets", targets) != 0) {
        code = mf_api_say(MF_EXIT_LOCAL, "out of memory");
    }
    json_decref(targets);
    return code;
}

/* The names of modes and the ids among the options, before any request. */
static mf_exit check_names(const steer_opts *o)
{
    mf_reward_kind kind;
    mf_guide_mode mode;
    mf_sampler_kind sampler;
    if (o->reward != NULL && mf_reward_kind_lookup(o->reward, &kind) != MF_OK) {
        return mf_api_say(MF_EXIT_USAGE, "--reward is ridge or mlp, not '%s'", o->reward);
    }
    if (o->guidance != NULL && mf_guide_mode_lookup(o->guidance, &mode) != MF_OK) {
        return mf_api_say(MF_EXIT_USAGE, "--guidance is cond, cfg or reward, not '%s'",
                          o->guidance);
    }
    if (o->sampler != NULL && mf_sampler_lookup(o->sampler, &sampler) != MF_OK) {
        return mf_api_say(MF_EXIT_USAGE, "--sampler is ddpm, ddim or ode, not '%s'", o->sampler);
    }
    const char *ids[][2] = {{"data set id", o->dataset},
                            {"parent model id", o->parent},
                            {"labels id", o->labels},
                            {"model id (--out)", o->out}};
    for (size_t i = 0; i < N_OPTS(ids); i++) {
        mf_exit code = ids[i][1] != NULL ? mf_api_check_id(ids[i][0], ids[i][1]) : MF_EXIT_OK;
        if (code != MF_EXIT_OK) {
            return code;
        }
    }
    return MF_EXIT_OK;
}

/* An unconditional model as the parent: params' dataset from --dataset, params or the model. */
static mf_exit use_model(const json_t *model, const char *id, const char *dataset_opt,
                         json_t *params)
{
    json_int_t cond_dim = json_integer_value(json_object_get(model, "cond_dim"));
    if (cond_dim > 0) {
        return mf_api_say(MF_EXIT_USAGE,
                          "model %s is conditional (cond_dim %lld): it is steered already; "
                          "sample it with 'manifold sample %s --target A'",
                          id, (long long) cond_dim, id);
    }
    const char *ds = dataset_opt;
    if (ds == NULL && json_is_string(json_object_get(params, "dataset"))) {
        return MF_EXIT_OK; /* --param dataset=... */
    }
    ds = ds != NULL ? ds : mf_api_str(model, "dataset");
    if (ds == NULL) {
        return mf_api_say(MF_EXIT_USAGE, "model %s names no data set: give --dataset ID", id);
    }
    if (json_object_set_new(params, "dataset", json_string(ds)) != 0) {
        return mf_api_say(MF_EXIT_LOCAL, "out of memory");
    }
    return MF_EXIT_OK;
}

/*
 * What arg is: a data set (params' dataset; *ret_model false) or an
 * unconditional model (the parent; *ret_model true).
 */
static mf_exit resolve(mf_client *c, const char *arg, const char *dataset_opt, json_t *params,
                       bool *ret_model)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/datasets/%s", arg);
    json_t *found;
    mf_exit code = mf_api_find(c, path, &found);
    if (code != MF_EXIT_OK) {
        return code;
    }
    *ret_model = found == NULL;
    if (found != NULL) {
        json_decref(found);
        if (dataset_opt != NULL) {
            return mf_api_say(MF_EXIT_USAGE,
                              "%s is a data set; --dataset goes with a MODEL to start from", arg);
        }
        return json_object_set_new(params, "dataset", json_string(arg)) == 0
                   ? MF_EXIT_OK
                   : mf_api_say(MF_EXIT_LOCAL, "out of memory");
    }
    snprintf(path, sizeof path, "/v1/models/%s", arg);
    code = mf_api_find(c, path, &found);
    if (code == MF_EXIT_OK && found == NULL) {
        code = mf_api_say(MF_EXIT_SERVER,
                          "no data set or model '%s' (GET /v1/datasets/%s and GET /v1/models/%s "
                          "both answered 404)",
                          arg, arg, arg);
    } else if (code == MF_EXIT_OK) {
        code = use_model(found, arg, dataset_opt, params);
    }
    json_decref(found);
    return code;
}

/* The end of a steer that succeeded: "model: ID" from the job's result. */
static mf_exit print_model(mf_client *c, const char *job)
{
    char model[MF_REQ_ID_MAX + 1];
    mf_exit code = mf_cmd_job_model(c, job, "finetune.reward", model);
    if (code == MF_EXIT_OK) {
        printf("model: %s\n", model);
    }
    return code;
}

/* Builds the request of arg and the options, submits it and watches the job. */
static mf_exit steer(mf_client *c, const char *arg, const steer_opts *o, const mf_args *a)
{
    json_t *params = NULL, *req = NULL;
    mf_exit code = mf_api_check_id("model or data set id", arg);
    if (code == MF_EXIT_OK) {
        code = check_names(o);
    }
    if (code == MF_EXIT_OK) {
        code = mf_cmd_job_params(o->params_text, a->repeated[PARAM], a->n_repeated[PARAM], &params);
    }
    if (code == MF_EXIT_OK && params == NULL && (params = json_object()) == NULL) {
        code = mf_api_say(MF_EXIT_LOCAL, "out of memory");
    }
    if (code == MF_EXIT_OK) {
        code = set_options(params, o);
    }
    if (code == MF_EXIT_OK) {
        code = set_targets(params, a->repeated[TARGET], a->n_repeated[TARGET]);
    }
    bool with_model = false;
    if (code == MF_EXIT_OK) {
        code = resolve(c, arg, o->dataset, params, &with_model);
    }
    if (code != MF_EXIT_OK) {
        json_decref(params);
        return code;
    }
    if (with_model && o->parent != NULL) {
        json_decref(params);
        return mf_api_say(MF_EXIT_USAGE,
                          "%s is a model; --parent goes with a DATASET (one parent at most)", arg);
    }
    code = mf_cmd_job_request("finetune.reward", with_model ? arg : o->parent, params, &req);
    char job[MF_REQ_ID_MAX + 1];
    if (code == MF_EXIT_OK) {
        code = mf_cmd_post_job(c, req, true, o->json, job);
    }
    json_decref(req);
    return code == MF_EXIT_OK && !o->json ? print_model(c, job) : code;
}

mf_exit mf_cmd_steer(mf_client *c, int argc, char **argv, int first)
{
    steer_opts o = {.label_noise = NAN, .nu = NAN, .w = NAN, .p_uncond = NAN, .seed = NO_SEED};
    const char *listed = NULL; /* mf_args_parse collects --target and --param; here for --help */
    const mf_opt opts[] = {
        {"target", MF_OPT_STR, &listed, 0, 0,
         "A, repeatable (at least one): a reward to steer to, |A| <= 1e6, at most 32"},
        {"dataset", MF_OPT_STR, &o.dataset, 0, 0,
         "with a MODEL: the data set (default: the one the model was trained on)"},
        {"parent", MF_OPT_STR, &o.parent, 0, 0,
         "with a DATASET: an unconditional model to start from (default: a new network)"},
        {"labels", MF_OPT_STR, &o.labels, 0, 0,
         "an uploaded data set whose y column labels the data (default: the data's own "
         "labels, else a built-in set's known reward)"},
        {"n-labelled", MF_OPT_SIZE, &o.n_labelled, 1, 1e9,
         "synthetic labels: how many, 10..1000000 (1000)"},
        {"label-noise", MF_OPT_FLOAT, &o.label_noise, -1e300, 1e300,
         "synthetic labels: their noise std, 0..10 (0.1)"},
        {"nu", MF_OPT_FLOAT, &o.nu, -1e300, 1e300, "pseudo-label noise nu, 0..100 (0.3)"},
        {"reward", MF_OPT_STR, &o.reward, 0, 0, "the reward model: ridge (default) or mlp"},
        {"guidance", MF_OPT_STR, &o.guidance, 0, 0,
         "cond (default), cfg (classifier-free, trained with label dropout) or reward"},
        {"w", MF_OPT_FLOAT, &o.w, -1e300, 1e300, "the guidance weight, 0..1000 (1)"},
        {"p-uncond", MF_OPT_FLOAT, &o.p_uncond, -1e300, 1e300,
         "label dropout in training, 0..0.9 (0.1 with cfg, else 0)"},
        {"train-steps", MF_OPT_SIZE, &o.train_steps, 1, 1e9,
         "training steps (20000, capped by the server), set in the train object"},
        {"batch", MF_OPT_SIZE, &o.batch, 1, 1e9,
         "training batch (256, capped by the server), set in the train object"},
        {"n", MF_OPT_SIZE, &o.n, 1, 1e9,
         "samples at each target (-n), 10..the server's max (1000)"},
        {"sampler", MF_OPT_STR, &o.sampler, 0, 0, "of the samples: ddpm (default), ddim or ode"},
        {"steps", MF_OPT_SIZE, &o.steps, 1, 1e9, "sampler steps, 1..the server's max (200)"},
        {"seed", MF_OPT_U64, &o.seed, 0, 0, "labels, training and samples, 0..2^53 (0)"},
        {"out", MF_OPT_STR, &o.out, 0, 0,
         "the id of the model to make (-o; default <dataset>-reward-<job>)"},
        {"param", MF_OPT_STR, &listed, 0, 0,
         "KEY=VALUE, repeatable: any other param (n_unlabelled, reward_model, train, eta); "
         "VALUE is JSON when it parses, else a string"},
        {"params", MF_OPT_STR, &o.params_text, 0, 0,
         "all parameters as one JSON object (--param entries, then the options, set on top)"},
        {"json", MF_OPT_FLAG, &o.json, 0, 0, "the events as NDJSON on stdout (after the job id)"},
    };
    const mf_args_spec spec = {
        .usage = "manifold steer MODEL_OR_DATASET --target A [--target B ...] [options]\n"
                 "  reward-directed diffusion (finetune.reward): fits a reward model on labelled\n"
                 "  points, trains a model conditioned on the reward and samples it at each\n"
                 "  target; prints the job id, the reward model, a row per target (the achieved\n"
                 "  reward's mean and std, the ideal a/(1+nu^2), their ratio, the predicted\n"
                 "  reward, the distance to the data, the kNN entropy) and 'model: ID', to\n"
                 "  sample with 'manifold sample ID --target A'.  MODEL_OR_DATASET: a data set,\n"
                 "  or an unconditional model to start from (its data: --dataset, else its own)",
        .min_pos = 1,
        .max_pos = 1,
        .repeat = {"target", "param"}};
    mf_args a;
    int st = mf_args_parse(argc, argv, first, opts, N_OPTS(opts), &spec, &a);
    if (st != 0) {
        return mf_cmd_args_exit(st);
    }
    mf_exit code = steer(c, a.pos[0], &o, &a);
    mf_args_done(&a);
    return code;
}
