/* SPDX-License-Identifier: MIT */
/*
 * cmd_models.c - models, model, weights, upload, delete, health, and what the
 * dataset commands (cmd_datasets.c) share with them: a list as a table, a
 * description, a file posted, a delete.
 *
 * A download is written to FILE.tmp-XXXXXX next to FILE, flushed to disk and
 * renamed over FILE only once the whole body has arrived with a 200: a reader
 * of FILE sees the old file or the complete new one, never a torn one, and
 * every failure (HTTP error, dropped connection, full disk) removes the
 * temporary file.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"

#define N_OPTS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- models, model -------------------------------------------------------------------- */

mf_exit mf_cmd_list(mf_client *c, const char *path, const char *key, const char *const *cols,
                    size_t n_cols, bool json)
{
    mf_http_resp r;
    json_t *j;
    mf_exit code = mf_api_json(c, "GET", path, NULL, &r, &j);
    if (code != MF_EXIT_OK) {
        return code;
    }
    const json_t *items = json_object_get(j, key);
    if (!json_is_array(items)) {
        code = mf_api_say(MF_EXIT_SERVER,
                          "malformed response from the server: GET %s: no \"%s\" array", path, key);
    } else if (json) {
        code = mf_api_print_raw(&r);
    } else {
        mf_out_table *t = mf_out_table_new(n_cols, cols);
        json_t **cells = calloc(n_cols, sizeof *cells);
        code = t == NULL || cells == NULL ? mf_api_say(MF_EXIT_LOCAL, "out of memory") : MF_EXIT_OK;
        for (size_t i = 0; code == MF_EXIT_OK && i < json_array_size(items); i++) {
            const json_t *m = json_array_get(items, i);
            for (size_t k = 0; k < n_cols; k++) {
                cells[k] = json_object_get(m, cols[k]);
            }
            if (!json_is_object(m)) {
                code = mf_api_say(MF_EXIT_SERVER,
                                  "malformed response from the server: GET %s: an item is not "
                                  "an object",
                                  path);
            } else if (mf_out_table_add_json(t, cells) != MF_OK) {
                code = mf_api_say(MF_EXIT_LOCAL, "out of memory");
            }
        }
        if (code == MF_EXIT_OK) {
            mf_out_table_print(t, stdout);
        }
        free(cells);
        mf_out_table_free(t);
    }
    json_decref(j);
    mf_http_resp_done(&r);
    return code;
}

mf_exit mf_cmd_models(mf_client *c, int argc, char **argv, int first)
{
    bool json = false;
    const mf_opt opts[] = {{"json", MF_OPT_FLAG, &json, 0, 0, "print the server's JSON body"}};
    const mf_args_spec spec = {
        .usage = "manifold models [--json]\n"
                 "  lists the models: id, dataset, data_dim, params, parent, protected"};
    mf_args a;
    int st = mf_args_parse(argc, argv, first, opts, N_OPTS(opts), &spec, &a);
    if (st != 0) {
        return mf_cmd_args_exit(st);
    }
    mf_args_done(&a);
    static const char *const cols[] = {"id",     "dataset", "data_dim",
                                       "params", "parent",  "protected"};
    return mf_cmd_list(c, "/v1/models", "models", cols, N_OPTS(cols), json);
}

mf_exit mf_cmd_describe(mf_client *c, const char *path, bool json)
{
    mf_http_resp r;
    json_t *j;
    mf_exit code = mf_api_json(c, "GET", path, NULL, &r, &j);
    if (code != MF_EXIT_OK) {
        return code;
    }
    if (json) {
        code = mf_api_print_raw(&r);
    } else if (mf_out_describe(stdout, j, "") != MF_OK) {
        code = mf_api_say(MF_EXIT_LOCAL, "out of memory");
    }
    json_decref(j);
    mf_http_resp_done(&r);
    return code;
}

mf_exit mf_cmd_model(mf_client *c, int argc, char **argv, int first)
{
    bool json = false;
    const mf_opt opts[] = {{"json", MF_OPT_FLAG, &json, 0, 0, "print the server's JSON body"}};
    const mf_args_spec spec = {.usage = "manifold model ID [--json]\n"
                                        "  describes a model: architecture, dims, parameters, "
                                        "schedule, parent, provenance, metadata",
                               .min_pos = 1,
                               .max_pos = 1};
    const char *id;
    mf_exit code = mf_cmd_parse_id(argc, argv, first, opts, N_OPTS(opts), &spec, "model id", &id);
    if (id == NULL) {
        return code;
    }
    char path[128];
    snprintf(path, sizeof path, "/v1/models/%s", id);
    return mf_cmd_describe(c, path, json);
}

/* ---- weights ----------------------------------------------------------------------------- */

typedef struct download {
    int fd;
    size_t written;
    int err_no; /* errno of a failed write */
} download;

static mf_err write_body(const char *buf, size_t n, void *ctx)
{
    download *d = ctx;
    if (n > MF_API_MAX_WEIGHTS - d->written) {
        return MF_ERANGE;
    }
    while (n > 0) {
        ssize_t w = write(d->fd, buf, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            d->err_no = w < 0 ? errno : EIO;
            return MF_EIO;
        }
        buf += w;
        n -= (size_t) w;
        d->written += (size_t) w;
    }
    return MF_OK;
}

/* fsyncs the directory holding path, so the rename itself survives a crash (best effort). */
static void sync_dir(const char *path)
{
    char *copy = strdup(path);
    if (copy == NULL) {
        return;
    }
    int fd = open(dirname(copy), O_RDONLY);
    if (fd >= 0) {
        (void) fsync(fd);
        close(fd);
    }
    free(copy);
}

/* Downloads path into out through a temporary file; see the top of this file. */
static mf_exit download_to(mf_client *c, const char *path, const char *out)
{
    static const char suffix[] = ".tmp-XXXXXX";
    size_t n = strlen(out) + sizeof suffix;
    char *tmp = malloc(n);
    if (tmp == NULL) {
        return mf_api_say(MF_EXIT_LOCAL, "out of memory");
    }
    snprintf(tmp, n, "%s%s", out, suffix);
    download d = {.fd = mkstemp(tmp)};
    if (d.fd < 0) {
        mf_exit code = mf_api_say(MF_EXIT_LOCAL, "cannot create a temporary file beside %s: %s",
                                  out, strerror(errno));
        free(tmp);
        return code;
    }
    /* mkstemp makes the file 0600; give it the mode a plain create would have. */
    mode_t mask = umask(0);
    umask(mask);
    (void) fchmod(d.fd, 0666 & ~mask);
    mf_http_req q = {.method = "GET",
                     .path = path,
                     .accept = "application/octet-stream",
                     .max_bytes = MF_API_MAX_BODY,
                     .sink = write_body,
                     .sink_ctx = &d,
                     .stream = true};
    mf_http_resp r;
    mf_err err = mf_http_call(c->http, &q, &r);
    mf_exit code = MF_EXIT_OK;
    if (err == MF_ECANCELED && r.sink_err == MF_EIO) {
        code = mf_api_say(MF_EXIT_LOCAL, "cannot write %s: %s", out, strerror(d.err_no));
    } else if (err == MF_ECANCELED) {
        code = mf_api_say(MF_EXIT_SERVER, "GET %s: the file is larger than %zu MiB", path,
                          MF_API_MAX_WEIGHTS >> 20);
    } else if (err != MF_OK) {
        char what[160];
        snprintf(what, sizeof what, "GET %s", path);
        code = mf_api_transport_fail(c, err, what);
    } else if (r.status != 200) {
        code = mf_api_status_fail(&r);
    } else if (fsync(d.fd) != 0) {
        code = mf_api_say(MF_EXIT_LOCAL, "cannot write %s: %s", out, strerror(errno));
    }
    mf_http_resp_done(&r);
    int closed = close(d.fd);
    if (code == MF_EXIT_OK && closed != 0) {
        code = mf_api_say(MF_EXIT_LOCAL, "cannot write %s: %s", out, strerror(errno));
    }
    if (code == MF_EXIT_OK && rename(tmp, out) != 0) {
        code = mf_api_say(MF_EXIT_LOCAL, "cannot write %s (rename): %s", out, strerror(errno));
    }
    if (code != MF_EXIT_OK) {
        (void) unlink(tmp);
    } else {
        sync_dir(out);
        printf("%s: %zu bytes\n", out, d.written);
    }
    free(tmp);
    return code;
}

mf_exit mf_cmd_weights(mf_client *c, int argc, char **argv, int first)
{
    const char *out = NULL;
    const mf_opt opts[] = {{"out", MF_OPT_STR, &out, 0, 0,
                            "the file to write (-o; required); written whole or not at all"}};
    const mf_args_spec spec = {.usage = "manifold weights ID -o FILE\n"
                                        "  downloads a model's safetensors file",
                               .min_pos = 1,
                               .max_pos = 1};
    const char *id;
    mf_exit code = mf_cmd_parse_id(argc, argv, first, opts, N_OPTS(opts), &spec, "model id", &id);
    if (id == NULL) {
        return code;
    }
    if (out == NULL || out[0] == '\0') {
        return mf_api_say(MF_EXIT_USAGE, "weights needs -o FILE (see --help)");
    }
    char path[128];
    snprintf(path, sizeof path, "/v1/models/%s/weights", id);
    return download_to(c, path, out);
}

/* ---- upload, delete ------------------------------------------------------------------------ */

/* Reads a whole file of at most max bytes; *ret malloc'd. */
static mf_exit read_file(const char *name, size_t max, char **ret, size_t *ret_len)
{
    FILE *f = fopen(name, "rb");
    if (f == NULL) {
        return mf_api_say(MF_EXIT_LOCAL, "cannot open %s: %s", name, strerror(errno));
    }
    struct stat sb;
    char *buf = NULL;
    mf_exit code = MF_EXIT_OK;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        code = mf_api_say(MF_EXIT_LOCAL, "%s is not a regular file", name);
    } else if ((unsigned long long) sb.st_size > max) {
        code = mf_api_say(MF_EXIT_LOCAL, "%s is larger than %zu MiB", name, max >> 20);
    } else if ((buf = malloc((size_t) sb.st_size + 1)) == NULL) {
        code = mf_api_say(MF_EXIT_LOCAL, "out of memory");
    } else if (fread(buf, 1, (size_t) sb.st_size, f) != (size_t) sb.st_size || ferror(f)) {
        code = mf_api_say(MF_EXIT_LOCAL, "cannot read %s", name);
    }
    fclose(f);
    if (code != MF_EXIT_OK) {
        free(buf);
        return code;
    }
    *ret = buf;
    *ret_len = (size_t) sb.st_size;
    return MF_EXIT_OK;
}

mf_exit mf_cmd_post_file(mf_client *c, const char *path, const char *content_type, const char *file)
{
    char *body = NULL;
    size_t len = 0;
    mf_exit code = read_file(file, MF_API_MAX_WEIGHTS, &body, &len);
    if (code != MF_EXIT_OK) {
        return code;
    }
    mf_http_req q = {.method = "POST",
                     .path = path,
                     .accept = "application/json",
                     .content_type = content_type,
                     .body = body,
                     .body_len = len,
                     .max_bytes = MF_API_MAX_BODY};
    mf_http_resp r;
    json_t *j;
    code = mf_api_call_json(c, &q, &r, &j);
    free(body);
    if (code != MF_EXIT_OK) {
        return code;
    }
    const char *got = mf_api_str(j, "id");
    if (got == NULL) {
        code = mf_api_say(MF_EXIT_SERVER,
                          "malformed response from the server: POST %s: no \"id\" in the answer",
                          path);
    } else {
        mf_out_clean(stdout, got, 64);
        putchar('\n');
    }
    json_decref(j);
    mf_http_resp_done(&r);
    return code;
}

mf_exit mf_cmd_upload(mf_client *c, int argc, char **argv, int first)
{
    const mf_args_spec spec = {.usage = "manifold upload ID FILE\n"
                                        "  uploads a safetensors model as ID (the server "
                                        "validates it); prints the id",
                               .min_pos = 2,
                               .max_pos = 2};
    mf_args a;
    int st = mf_args_parse(argc, argv, first, NULL, 0, &spec, &a);
    if (st != 0) {
        return mf_cmd_args_exit(st);
    }
    const char *id = a.pos[0], *file = a.pos[1];
    mf_args_done(&a);
    mf_exit code = mf_api_check_id("model id", id);
    if (code != MF_EXIT_OK) {
        return code;
    }
    char path[128];
    snprintf(path, sizeof path, "/v1/models?id=%s", id);
    return mf_cmd_post_file(c, path, "application/octet-stream", file);
}

mf_exit mf_cmd_delete_at(mf_client *c, const char *path, const char *id)
{
    mf_http_req q = {.method = "DELETE",
                     .path = path,
                     .accept = "application/json",
                     .max_bytes = MF_API_MAX_BODY};
    mf_http_resp r;
    mf_exit code = mf_api_call(c, &q, &r);
    if (code == MF_EXIT_OK) {
        mf_http_resp_done(&r);
        printf("deleted %s\n", id);
    }
    return code;
}

mf_exit mf_cmd_delete(mf_client *c, int argc, char **argv, int first)
{
    const mf_args_spec spec = {.usage = "manifold delete ID\n"
                                        "  deletes an uploaded or trained model (shipped "
                                        "models are protected)",
                               .min_pos = 1,
                               .max_pos = 1};
    const char *id;
    mf_exit code = mf_cmd_parse_id(argc, argv, first, NULL, 0, &spec, "model id", &id);
    if (id == NULL) {
        return code;
    }
    char path[128];
    snprintf(path, sizeof path, "/v1/models/%s", id);
    return mf_cmd_delete_at(c, path, id);
}

/* ---- health --------------------------------------------------------------------------------- */

mf_exit mf_cmd_health(mf_client *c, int argc, char **argv, int first)
{
    const mf_args_spec spec = {.usage = "manifold health\n"
                                        "  asks GET /readyz; exit status 0 when the server is "
                                        "ready, 1 when it answers not ready"};
    mf_args a;
    int st = mf_args_parse(argc, argv, first, NULL, 0, &spec, &a);
    if (st != 0) {
        return mf_cmd_args_exit(st);
    }
    mf_args_done(&a);
    mf_http_req q = {.method = "GET",
                     .path = "/readyz",
                     .accept = "application/json",
                     .max_bytes = MF_API_MAX_BODY};
    mf_http_resp r;
    mf_err err = mf_http_call(c->http, &q, &r);
    mf_exit code;
    if (err != MF_OK) {
        code = mf_api_transport_fail(c, err, "GET /readyz");
    } else if (r.status == 200) {
        puts("ready");
        code = MF_EXIT_OK;
    } else if (r.status == 503) {
        /* {"status": "unavailable", "reason": ...}: not an error body */
        json_t *j = r.body != NULL ? json_loadb(r.body, r.len, 0, NULL) : NULL;
        const char *why = mf_api_str(j, "reason");
        mf_cli_error_begin();
        fputs("not ready: ", stderr);
        mf_out_clean(stderr, why != NULL ? why : "503 without a reason", 200);
        fputc('\n', stderr);
        json_decref(j);
        code = MF_EXIT_SERVER;
    } else {
        code = mf_api_status_fail(&r);
    }
    mf_http_resp_done(&r);
    return code;
}
