/* SPDX-License-Identifier: MIT */
/*
 * cmd_datasets.c - `manifold dataset upload|list|show|delete`: the datasets
 * of the API (POST /v1/datasets?id=, GET /v1/datasets[/ID], DELETE).
 *
 * An upload's format is its file name's extension (.csv; .ndjson or .jsonl;
 * .npy) unless --format says it, and its id is the file's base name without
 * the extension unless --id says it; the format becomes the Content-Type the
 * daemon parses the body as.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "args.h"
#include "commands.h"
#include "request_json.h"

#define N_OPTS(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
    const char *name, *ext, *ext2, *content_type;
} formats[] = {
    {"csv", ".csv", NULL, "text/csv"},
    {"ndjson", ".ndjson", ".jsonl", "application/x-ndjson"},
    {"npy", ".npy", NULL, "application/octet-stream"},
};

#define N_FORMATS N_OPTS(formats)

/* true when name ends in ext (case-insensitively). */
static bool ends_with(const char *name, const char *ext)
{
    size_t n = strlen(name), e = ext != NULL ? strlen(ext) : 0;
    return ext != NULL && n > e && strcasecmp(name + n - e, ext) == 0;
}

/* The index of a format named name, or of file's extension (name NULL); -1 when none. */
static int format_index(const char *name, const char *file)
{
    for (size_t i = 0; i < N_FORMATS; i++) {
        bool by_ext = ends_with(file, formats[i].ext) || ends_with(file, formats[i].ext2);
        if (name != NULL ? strcmp(name, formats[i].name) == 0 : by_ext) {
            return (int) i;
        }
    }
    return -1;
}

/* The default id of file, its base name without the extension, into out; false when no id. */
static bool default_id(const char *file, char out[MF_REQ_ID_MAX + 1])
{
    const char *base = strrchr(file, '/');
    base = base != NULL ? base + 1 : file;
    const char *dot = strrchr(base, '.');
    size_t n = dot != NULL && dot > base ? (size_t) (dot - base) : strlen(base);
    if (n == 0 || n > MF_REQ_ID_MAX) {
        return false;
    }
    memcpy(out, base, n);
    out[n] = '\0';
    return mf_req_id_valid(out);
}

static mf_exit upload(mf_client *c, int argc, char **argv, int first)
{
    const char *id = NULL, *format = NULL;
    const mf_opt opts[] = {
        {"id", MF_OPT_STR, &id, 0, 0, "the dataset id (default: the file name without extension)"},
        {"format", MF_OPT_STR, &format, 0, 0,
         "csv, ndjson or npy (default: from the extension .csv, .ndjson or .jsonl, .npy)"},
    };
    const mf_args_spec spec = {.usage = "manifold dataset upload FILE [--id NAME] [--format F]\n"
                                        "  uploads a dataset (the server validates it); prints "
                                        "its id",
                               .min_pos = 1,
                               .max_pos = 1};
    mf_args a;
    int st = mf_args_parse(argc, argv, first, opts, N_OPTS(opts), &spec, &a);
    if (st != 0) {
        return mf_cmd_args_exit(st);
    }
    const char *file = a.pos[0];
    mf_args_done(&a);
    int f = format_index(format, file);
    if (f < 0) {
        return format != NULL
                   ? mf_api_say(MF_EXIT_USAGE, "--format must be csv, ndjson or npy, not '%s'",
                                format)
                   : mf_api_say(MF_EXIT_USAGE,
                                "cannot tell the format of %s from its extension: give --format "
                                "csv, ndjson or npy",
                                file);
    }
    char own[MF_REQ_ID_MAX + 1];
    if (id == NULL) {
        if (!default_id(file, own)) {
            return mf_api_say(MF_EXIT_USAGE,
                              "the file name of %s is no dataset id "
                              "([a-z0-9][a-z0-9._-]{0,63}): give --id NAME",
                              file);
        }
        id = own;
    }
    mf_exit code = mf_api_check_id("dataset id", id);
    if (code != MF_EXIT_OK) {
        return code;
    }
    char path[128];
    snprintf(path, sizeof path, "/v1/datasets?id=%s", id);
    return mf_cmd_post_file(c, path, formats[f].content_type, file);
}

static mf_exit list(mf_client *c, int argc, char **argv, int first)
{
    bool json = false;
    const mf_opt opts[] = {{"json", MF_OPT_FLAG, &json, 0, 0, "print the server's JSON body"}};
    const mf_args_spec spec = {
        .usage = "manifold dataset list [--json]\n"
                 "  lists the datasets, built-in and uploaded: id, builtin, dims, rows, "
                 "labelled_rows, bytes, created"};
    mf_args a;
    int st = mf_args_parse(argc, argv, first, opts, N_OPTS(opts), &spec, &a);
    if (st != 0) {
        return mf_cmd_args_exit(st);
    }
    mf_args_done(&a);
    static const char *const cols[] = {"id",    "builtin", "dims", "rows", "labelled_rows",
                                       "bytes", "created"};
    return mf_cmd_list(c, "/v1/datasets", "datasets", cols, N_OPTS(cols), json);
}

/* show and delete: one id, then a GET or a DELETE of /v1/datasets/ID. */
static mf_exit by_id(mf_client *c, int argc, char **argv, int first, bool del)
{
    bool json = false;
    const mf_opt opts[] = {{"json", MF_OPT_FLAG, &json, 0, 0, "print the server's JSON body"}};
    const mf_args_spec spec = {
        .usage = del ? "manifold dataset delete ID\n"
                       "  deletes an uploaded dataset (built-in ones are protected)"
                     : "manifold dataset show ID [--json]\n"
                       "  describes a dataset: rows, dims, labelled rows, per-column mean and "
                       "std, bytes, created",
        .min_pos = 1,
        .max_pos = 1};
    const char *id;
    mf_exit code =
        mf_cmd_parse_id(argc, argv, first, opts, del ? 0 : N_OPTS(opts), &spec, "dataset id", &id);
    if (id == NULL) {
        return code;
    }
    char path[128];
    snprintf(path, sizeof path, "/v1/datasets/%s", id);
    return del ? mf_cmd_delete_at(c, path, id) : mf_cmd_describe(c, path, json);
}

static const char usage_text[] =
    "usage: manifold dataset SUBCOMMAND [ARGS]\n"
    "  upload FILE [--id NAME] [--format csv|ndjson|npy]   upload a dataset; prints its id\n"
    "  list [--json]                                       list the datasets\n"
    "  show ID [--json]                                    describe a dataset\n"
    "  delete ID                                           delete an uploaded dataset\n"
    "'manifold dataset SUBCOMMAND --help' lists a subcommand's options.\n";

mf_exit mf_cmd_dataset(mf_client *c, int argc, char **argv, int first)
{
    const char *sub = first < argc ? argv[first] : NULL;
    if (sub != NULL && (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)) {
        fputs(usage_text, stdout);
        return MF_EXIT_OK;
    }
    if (sub == NULL) {
        mf_api_say(MF_EXIT_USAGE, "missing SUBCOMMAND");
        fputs(usage_text, stderr);
        return MF_EXIT_USAGE;
    }
    if (strcmp(sub, "upload") == 0) {
        return upload(c, argc, argv, first + 1);
    }
    if (strcmp(sub, "list") == 0) {
        return list(c, argc, argv, first + 1);
    }
    if (strcmp(sub, "show") == 0 || strcmp(sub, "delete") == 0) {
        return by_id(c, argc, argv, first + 1, sub[0] == 'd');
    }
    return mf_api_say(MF_EXIT_USAGE, "unknown dataset subcommand '%s' (upload, list, show, delete)",
                      sub);
}
