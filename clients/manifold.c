/* SPDX-License-Identifier: MIT */
/*
 * manifold - the command-line client of manifoldd's HTTP API.
 *
 *   manifold [--url URL] [--timeout SECONDS] COMMAND [ARGS]
 *
 * main() parses the global options, finds the command in the table below and
 * runs it; every command returns its exit status (api.h, MF_EXIT_MAP), which
 * is the contract with scripts: 0 only on success, and one number per kind
 * of failure.  Output meant for programs (tables, CSV, JSON, ids) goes to
 * stdout; progress, summaries and errors go to stderr.
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "commands.h"

#define DEFAULT_URL     "http://127.0.0.1:8080"
#define DEFAULT_TIMEOUT 60.0

typedef struct command {
    const char *name;
    mf_cmd_fn *run;
    const char *args;
    const char *summary;
} command;

static const command commands[] = {
    {"models", mf_cmd_models, "[--json]", "list the models"},
    {"model", mf_cmd_model, "ID [--json]", "describe a model"},
    {"sample", mf_cmd_sample, "MODEL [-n N] [--sampler S] [--seed S] [--target A] [--format F] ...",
     "draw samples (table, csv or json)"},
    {"submit", mf_cmd_submit, "TYPE [MODEL] [--param K=V ...] [--params JSON] [--watch]",
     "submit a job; prints its id"},
    {"explore", mf_cmd_explore, "MODEL [--param K=V ...] [--json]",
     "maximum-entropy exploration of a model (finetune.smeme), watched"},
    {"distill", mf_cmd_distill, "MODEL [--steps T] [--iters N] [--param K=V ...] [--json]",
     "a few-step sampler and an energy model from a model (finetune.dxmi), watched"},
    {"steer", mf_cmd_steer, "MODEL_OR_DATASET --target A [--target B ...] [options]",
     "reward-directed diffusion (finetune.reward), watched; names the model it made"},
    {"score", mf_cmd_score, "MODEL FILE.csv [--json]",
     "anomaly scores of a CSV's points under a DxMI model's energy (table of row, energy, "
     "percentile, outlier)"},
    {"watch", mf_cmd_watch, "JOB [--json]", "follow a job's events with a progress bar"},
    {"job", mf_cmd_job, "ID [--json]", "describe a job"},
    {"jobs", mf_cmd_jobs, "[--state S] [--model M] [--json]", "list jobs, newest first"},
    {"cancel", mf_cmd_cancel, "JOB", "cancel a queued or running job"},
    {"result", mf_cmd_result, "JOB [--format F]", "a finished job's result"},
    {"weights", mf_cmd_weights, "ID -o FILE", "download a model's safetensors file"},
    {"upload", mf_cmd_upload, "ID FILE", "upload a safetensors model"},
    {"delete", mf_cmd_delete, "ID", "delete an uploaded or trained model"},
    {"dataset", mf_cmd_dataset, "upload FILE [--id NAME] [--format F] | list | show ID | delete ID",
     "upload, list, describe or delete datasets"},
    {"health", mf_cmd_health, "", "exit status 0 when the server is ready"},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

mf_exit mf_cmd_parse_id(int argc, char **argv, int first, const mf_opt *opts, size_t n_opts,
                        const mf_args_spec *spec, const char *what, const char **ret_id)
{
    *ret_id = NULL;
    mf_args a;
    int st = mf_args_parse(argc, argv, first, opts, n_opts, spec, &a);
    if (st != 0) {
        return mf_cmd_args_exit(st);
    }
    const char *id = a.pos[0]; /* borrowed from argv: outlives a */
    mf_args_done(&a);
    mf_exit code = mf_api_check_id(what, id);
    if (code == MF_EXIT_OK) {
        *ret_id = id;
    }
    return code;
}

static void usage(FILE *f)
{
    fputs("usage: manifold [--url URL] [--timeout SECONDS] COMMAND [ARGS]\n\ncommands:\n", f);
    for (size_t i = 0; i < N_COMMANDS; i++) {
        fprintf(f, "  %s %s\n      %s\n", commands[i].name, commands[i].args, commands[i].summary);
    }
    fputs("  help [COMMAND]\n      this text, or a command's options\n", f);
    fputs("\noptions:\n"
          "  --url URL          the daemon (default: $MANIFOLD_URL, else " DEFAULT_URL ")\n"
          "  --timeout SECONDS  the limit of one request; for watch and weights, of a\n"
          "                     silence (the daemon's heartbeats come every 15 s) (60)\n"
          "  --version          the client's version\n"
          "\nenvironment:\n"
          "  MANIFOLD_URL       the daemon, as --url\n"
          "  MANIFOLD_API_KEY   the API key (token) sent to a daemon that asks for keys\n"
          "\nexit status:\n",
          f);
#define MF_EXIT_HELP(name, value, text) fprintf(f, "  %d  %s\n", value, text);
    MF_EXIT_MAP(MF_EXIT_HELP)
#undef MF_EXIT_HELP
    fputs("\n'manifold COMMAND --help' lists a command's options.\n", f);
}

static const command *find(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(name, commands[i].name) == 0) {
            return &commands[i];
        }
    }
    return NULL;
}

/* The global options before COMMAND; *ret_next = the index of COMMAND. */
static mf_exit parse_globals(int argc, char **argv, const char **url, double *timeout,
                             int *ret_next)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            *ret_next = -1;
            return MF_EXIT_OK;
        }
        if (strcmp(a, "--version") == 0) {
            printf("manifold %s\n", MF_CLIENT_VERSION);
            *ret_next = -1;
            return MF_EXIT_OK;
        }
        bool is_url = strcmp(a, "--url") == 0, is_timeout = strcmp(a, "--timeout") == 0;
        if (!is_url && !is_timeout) {
            return mf_api_say(MF_EXIT_USAGE, "unknown option '%s' (see --help)", a);
        }
        if (i + 1 >= argc) {
            return mf_api_say(MF_EXIT_USAGE, "option '%s' needs a value", a);
        }
        const char *v = argv[++i];
        if (is_url) {
            *url = v;
            continue;
        }
        char *end;
        double t = strtod(v, &end);
        if (end == v || *end != '\0' || !(t > 0 && t <= 86400)) {
            return mf_api_say(MF_EXIT_USAGE, "--timeout needs seconds in (0, 86400], got '%s'", v);
        }
        *timeout = t;
    }
    if (i >= argc) {
        mf_api_say(MF_EXIT_USAGE, "missing COMMAND");
        usage(stderr);
        return MF_EXIT_USAGE;
    }
    *ret_next = i;
    return MF_EXIT_OK;
}

/* Runs argv[i] (a command name, or help [COMMAND]). */
static mf_exit dispatch(mf_client *c, int argc, char **argv, int i)
{
    if (strcmp(argv[i], "help") == 0) {
        if (i + 1 >= argc || strcmp(argv[i + 1], "--help") == 0 || strcmp(argv[i + 1], "-h") == 0) {
            usage(stdout);
            return MF_EXIT_OK;
        }
        const command *cmd = find(argv[i + 1]);
        if (cmd == NULL) {
            return mf_api_say(MF_EXIT_USAGE, "no command '%s' (see --help)", argv[i + 1]);
        }
        char help[] = "--help";
        char *args[] = {argv[i + 1], help, NULL};
        return cmd->run(c, 2, args, 1);
    }
    const command *cmd = find(argv[i]);
    if (cmd == NULL) {
        return mf_api_say(MF_EXIT_USAGE, "unknown command '%s' (see --help)", argv[i]);
    }
    return cmd->run(c, argc, argv, i + 1);
}

int main(int argc, char **argv)
{
    mf_cli_set_prog("manifold");
    const char *url = getenv("MANIFOLD_URL");
    if (url == NULL || url[0] == '\0') {
        url = DEFAULT_URL;
    }
    const char *url_default = url; /* what a command without --url reaches */
    double timeout = DEFAULT_TIMEOUT;
    int next = 0;
    mf_exit code = parse_globals(argc, argv, &url, &timeout, &next);
    if (code != MF_EXIT_OK || next < 0) {
        return (int) code;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        return (int) mf_api_say(MF_EXIT_LOCAL, "cannot initialise libcurl");
    }
    mf_client c = {.stderr_tty = isatty(STDERR_FILENO) == 1,
                   .url_arg = url != url_default ? url : NULL};
    mf_err err = mf_http_new(url, timeout, &c.http);
    if (err == MF_OK) {
        /* from the environment only: a token on the command line shows in ps */
        err = mf_http_set_token(c.http, getenv("MANIFOLD_API_KEY"));
    }
    if (err != MF_OK) {
        code = err == MF_EINVAL ? mf_api_say(MF_EXIT_USAGE, "--url must not be empty")
                                : mf_api_say(MF_EXIT_LOCAL, "out of memory");
    } else {
        code = dispatch(&c, argc, argv, next);
    }
    mf_http_free(c.http);
    curl_global_cleanup();
    /* Output that never reached its file (a full disk, a closed pipe) is a failure too. */
    if ((fflush(stdout) != 0 || ferror(stdout)) && code == MF_EXIT_OK) {
        code = mf_api_say(MF_EXIT_LOCAL, "cannot write to stdout");
    }
    return (int) code;
}
