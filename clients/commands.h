/* SPDX-License-Identifier: MIT */
/*
 * commands.h - the commands of the manifold client.  Each takes the client,
 * and argv with its own arguments starting at argv[first]; each parses them
 * (mf_args_parse), makes its requests, prints, and returns the exit status.
 */
#ifndef MF_COMMANDS_H
#define MF_COMMANDS_H

#include <jansson.h>

#include "api.h"
#include "args.h"
#include "output.h"

typedef mf_exit mf_cmd_fn(mf_client *c, int argc, char **argv, int first);

/* cmd_models.c: models, model files, readiness */
mf_cmd_fn mf_cmd_models, mf_cmd_model, mf_cmd_weights, mf_cmd_upload, mf_cmd_delete, mf_cmd_health;
/* cmd_datasets.c: dataset upload|list|show|delete */
mf_cmd_fn mf_cmd_dataset;
/* cmd_sample.c: synchronous sampling and job results */
mf_cmd_fn mf_cmd_sample, mf_cmd_result;
/* cmd_jobs.c: submit, inspect, cancel */
mf_cmd_fn mf_cmd_submit, mf_cmd_explore, mf_cmd_distill, mf_cmd_job, mf_cmd_jobs, mf_cmd_cancel;
/* cmd_steer.c: reward-directed diffusion (finetune.reward), watched */
mf_cmd_fn mf_cmd_steer;
/* cmd_score.c: anomaly scores of a CSV's points (POST /v1/scores) */
mf_cmd_fn mf_cmd_score;
/* watch.c: follow a job's event stream */
mf_cmd_fn mf_cmd_watch;

/**
 * Follows job's events to its final state (watch.c): a progress bar on stderr
 * and metrics on stdout, or with json every event as an NDJSON line on
 * stdout.  Returns OK when the job succeeded, JOB when it failed or was
 * cancelled, or the exit code of what went wrong with the stream.
 */
mf_exit mf_watch_job(mf_client *c, const char *job, bool json);

/**
 * Prints a sample result (POST /v1/samples, or a sample job's result) whose
 * body r was parsed into j: the samples on stdout in fmt, and in table format
 * a summary and the metrics on stderr (stdout stays data only).
 */
mf_exit mf_cmd_print_samples(const mf_http_resp *r, const json_t *j, mf_out_format fmt);

/** GETs path and prints the object as key: value lines, or its raw body with json. */
mf_exit mf_cmd_describe(mf_client *c, const char *path, bool json);

/**
 * GETs path, whose object holds the array key, and prints its items as a
 * table of the columns cols (the members of those names), or the raw body
 * with json (cmd_models.c).
 */
mf_exit mf_cmd_list(mf_client *c, const char *path, const char *key, const char *const *cols,
                    size_t n_cols, bool json);

/**
 * POSTs the whole of file (at most MF_API_MAX_WEIGHTS bytes) to path as
 * content_type and prints the "id" of the answer (cmd_models.c).  Exit codes
 * as mf_api_call_json's; LOCAL when file cannot be read.
 */
mf_exit mf_cmd_post_file(mf_client *c, const char *path, const char *content_type,
                         const char *file);

/** DELETEs path and prints "deleted ID" (cmd_models.c). */
mf_exit mf_cmd_delete_at(mf_client *c, const char *path, const char *id);

/**
 * The params object of a job (cmd_jobs.c): params_text (--params, a JSON
 * object; may be NULL), then the n_kv --param KEY=VALUE entries kv set on top,
 * VALUE being JSON when it parses and a string otherwise.  *ret is a new
 * object, or NULL when neither was given.  USAGE names a malformed entry.
 */
mf_exit mf_cmd_job_params(const char *params_text, const char *const *kv, size_t n_kv,
                          json_t **ret);

/**
 * The POST /v1/jobs body {"type", "model" (when not NULL), "params" (when not
 * NULL; taken, even on failure)}: *ret a new object (cmd_jobs.c).
 */
mf_exit mf_cmd_job_request(const char *type, const char *model, json_t *params, json_t **ret);

/**
 * POSTs the job request req (borrowed), prints the new job's id alone on a
 * line of stdout (flushed) and copies it to ret_id (MF_REQ_ID_MAX + 1 chars);
 * with watch, then follows the job (mf_watch_job).  The exit code of the
 * first thing that failed (cmd_jobs.c).
 */
mf_exit mf_cmd_post_job(mf_client *c, const json_t *req, bool watch, bool json, char *ret_id);

/**
 * The model a finished job made: GETs the job's result and copies its
 * "model" (a valid id) to ret_model (MF_REQ_ID_MAX + 1 chars).  type names
 * the job's type in the message of a result without one (cmd_jobs.c).
 */
mf_exit mf_cmd_job_model(mf_client *c, const char *job, const char *type, char *ret_model);

/** The mf_args_parse status as an exit code: 1 (help shown) -> OK, 2 -> USAGE. */
static inline mf_exit mf_cmd_args_exit(int status)
{
    return status == 1 ? MF_EXIT_OK : MF_EXIT_USAGE;
}

/**
 * Parses the arguments of a command whose first positional argument is an id
 * (spec: at least one): *ret_id gets it (it points into argv) when it is a
 * valid id; else *ret_id is NULL and the result is the status to exit with
 * (OK after --help, USAGE).  `what` names the id in messages ("job id").
 */
mf_exit mf_cmd_parse_id(int argc, char **argv, int first, const mf_opt *opts, size_t n_opts,
                        const mf_args_spec *spec, const char *what, const char **ret_id);

#endif /* MF_COMMANDS_H */
